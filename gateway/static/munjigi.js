/* Munjigi waiting page: follows a login's status while the citizen approves in
   their certificate app. Everything it needs is in data- attributes of
   #mj-waiting (URLs and texts), so the page has no inline script and one CSP.
   The page works without this file: it then refreshes itself (noscript) and has a
   visible "continue" link.

   Status endpoint: GET data-status-url answers
     {"state": "pending"|"viewed"|"completed"|"expired"|"rejected"|"failed"
               |"provider_down",
      "expires_in": seconds, "next": url or null}
   ("provider_down": the provider stopped answering since the page was
   drawn: the page shows its way to another provider in place, no reload,
   and later polls say with down=1 that it does, so they are held as usual;
   a replica that still sees the provider well never takes the notice back).
   and holds the request up to ~20 s while nothing changes (long poll). */
(function () {
  'use strict';

  var root = document.getElementById('mj-waiting');
  var statusEl = document.getElementById('mj-status');
  var clockEl = document.getElementById('mj-countdown');
  if (!root || !statusEl || !window.XMLHttpRequest) { return; }

  var statusUrl = root.getAttribute('data-status-url');
  var downShown = false;
  function showDown() {
    if (downShown) { return; }
    downShown = true;
    statusUrl += (statusUrl.indexOf('?') < 0 ? '?' : '&') + 'down=1';
    var notice = document.getElementById('mj-down');
    if (notice) { notice.hidden = false; }
  }
  if (root.getAttribute('data-provider-down') === '1') { showDown(); }
  var refreshUrl = root.getAttribute('data-refresh-url');
  var continueUrl = root.getAttribute('data-continue-url');
  var deadline = Date.now() + seconds(root.getAttribute('data-expires-in')) * 1000;

  var MIN_GAP_MS = 1500;       /* at least this between two polls that answered at once */
  var MAX_BACKOFF_MS = 30000;  /* longest wait after repeated network errors */
  var REQUEST_TIMEOUT_MS = 35000;

  var failures = 0;
  var timer = null;
  var inFlight = false;
  var current = null;
  var finished = false;
  var shownKey = 'pending';    /* the server-rendered text */
  var warned = false;

  function seconds(v) {
    var n = parseInt(v, 10);
    return isNaN(n) || n < 0 ? 0 : n;
  }

  function text(key) {
    return root.getAttribute('data-text-' + key) || '';
  }

  /* Changes the live region only when the message changes, so a screen reader
     hears each status once. */
  function say(key) {
    if (key === shownKey) { return; }
    var t = text(key);
    if (!t) { return; }
    shownKey = key;
    statusEl.textContent = t;
  }

  function pad(n) { return n < 10 ? '0' + n : String(n); }

  function tick() {
    var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    if (clockEl) { clockEl.textContent = pad(Math.floor(left / 60)) + ':' + pad(left % 60); }
    if (finished) { return; }
    if (left === 0) {
      say('expired');
    } else if (left <= 60 && !warned) {
      warned = true;
      say('minute');
    }
  }

  /* Only http(s) URLs are followed; anything else falls back to the given URL. */
  function safe(url, fallback) {
    if (typeof url !== 'string' || url === '') { return fallback; }
    var a = document.createElement('a');
    a.href = url;
    return (a.protocol === 'https:' || a.protocol === 'http:') ? a.href : fallback;
  }

  function go(url) {
    finished = true;
    if (timer !== null) { clearTimeout(timer); timer = null; }
    window.location.assign(url);
  }

  function schedule(ms) {
    if (finished) { return; }
    if (timer !== null) { clearTimeout(timer); }
    timer = setTimeout(function () { timer = null; poll(); }, ms);
  }

  function failed() {
    failures += 1;
    if (failures >= 2) { say('retrying'); }
    var base = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, failures - 1));
    schedule(base / 2 + Math.random() * base / 2);
  }

  function handle(body, tookMs) {
    if (typeof body.expires_in === 'number' && body.expires_in >= 0) {
      deadline = Date.now() + body.expires_in * 1000;
      tick();
    }
    switch (body.state) {
      case 'pending':
      case 'viewed':
        failures = 0;
        if (body.state === 'viewed') {
          say('viewed');
        } else if (shownKey === 'retrying') {
          say('pending');
        }
        /* A long poll that came back at once (nothing held) must not become a busy loop. */
        schedule(tookMs < MIN_GAP_MS ? MIN_GAP_MS : 0);
        return;
      case 'completed':
        say('done');
        go(safe(body.next, continueUrl));
        return;
      case 'provider_down':
        failures = 0;
        showDown();
        say('down');
        schedule(tookMs < MIN_GAP_MS ? MIN_GAP_MS : 0);
        return;
      case 'expired':
      case 'rejected':
      case 'failed':
        say('ended');
        go(safe(body.next, refreshUrl));
        return;
      default:
        failed();
    }
  }

  function poll() {
    if (finished || inFlight) { return; }
    inFlight = true;
    var started = Date.now();
    var xhr = new XMLHttpRequest();
    current = xhr;
    xhr.open('GET', statusUrl, true);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.timeout = REQUEST_TIMEOUT_MS;
    /* Only the latest request speaks: one aborted on the citizen's return
       must not clear the flag of its successor or schedule a second poll. */
    xhr.onload = function () {
      if (xhr !== current) { return; }
      inFlight = false;
      if (xhr.status === 200) {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (body && typeof body.state === 'string') {
          handle(body, Date.now() - started);
          return;
        }
        failed();
      } else if (xhr.status >= 400 && xhr.status < 500 && xhr.status !== 408 && xhr.status !== 429) {
        /* The login is gone or refused: let the server show the right page. */
        go(refreshUrl);
      } else {
        failed();
      }
    };
    xhr.onerror = function () { if (xhr === current) { inFlight = false; failed(); } };
    xhr.ontimeout = function () { if (xhr === current) { inFlight = false; failed(); } };
    xhr.onabort = function () { if (xhr === current) { inFlight = false; } };
    xhr.send();
  }

  /* The citizen often switches to the certificate app on the same phone; when
     they come back, check at once instead of waiting out a backoff. */
  function back() {
    tick();
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    /* A long poll held while the page was hidden may have been frozen with
       it (a phone suspends background tabs): ask afresh. */
    if (inFlight && current) {
      var stale = current;
      current = null;
      stale.abort();
    }
    inFlight = false;
    poll();
  }
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) { back(); }
  });
  /* Back from the app by the browser's back button: a page restored from the
     back-forward cache runs on where it stopped. */
  window.addEventListener('pageshow', function (e) {
    if (e.persisted) { back(); }
  });

  tick();
  setInterval(tick, 1000);
  poll();
}());

/* The demo site's "sign a document" form (#mj-demo-sign): reads a chosen file
   into the hidden file_b64/file_name/file_type fields, so the form stays
   application/x-www-form-urlencoded. Without this script the form signs the
   typed text only. */
(function () {
  'use strict';

  var form = document.getElementById('mj-demo-sign');
  var input = document.getElementById('file');
  var b64 = document.getElementById('file_b64');
  var name = document.getElementById('file_name');
  var type = document.getElementById('file_type');
  var error = document.getElementById('file-error');
  if (!form || !input || !b64 || !name || !type || !window.FileReader) { return; }
  var max = parseInt(form.getAttribute('data-max-bytes'), 10) || 0;

  function clear() {
    b64.value = '';
    name.value = '';
    type.value = '';
  }

  function problem(text) {
    if (!error) { return; }
    error.textContent = text;
    error.hidden = !text;
  }

  input.addEventListener('change', function () {
    clear();
    problem('');
    var file = input.files && input.files[0];
    if (!file) { return; }
    if (max && file.size > max) {
      problem(form.getAttribute('data-text-too-large') || '');
      input.value = '';
      return;
    }
    var reader = new FileReader();
    reader.onload = function () {
      /* "data:<type>;base64,<data>": keep the data. */
      var url = String(reader.result || '');
      var comma = url.indexOf(',');
      b64.value = comma < 0 ? '' : url.slice(comma + 1);
      name.value = file.name || '';
      type.value = file.type || '';
    };
    reader.readAsDataURL(file);
  });
}());

/* SAML HTTP-POST binding: the page holding a signed message for a site
   (#mj-autopost) submits itself; without script the citizen presses the
   visible Continue button. */
(function () {
  'use strict';
  var form = document.getElementById('mj-autopost');
  if (form) { form.submit(); }
}());

/* After a logout (#mj-logout[data-auto]): once the front-channel logout
   frames have loaded (or after 5 s), go on to the site that asked, as its
   link or form says. Without script, or when a site did not confirm, the
   citizen follows the visible button. */
(function () {
  'use strict';
  var root = document.getElementById('mj-logout');
  var next = document.getElementById('mj-logout-next');
  if (!root || !next || root.getAttribute('data-auto') !== '1') { return; }
  var frames = document.querySelectorAll('iframe.mj-logout-frame');
  var left = frames.length;
  var gone = false;
  function go() {
    if (gone) { return; }
    gone = true;
    if (next.tagName === 'FORM') { next.submit(); } else { window.location.assign(next.href); }
  }
  function loaded() { left -= 1; if (left <= 0) { go(); } }
  for (var i = 0; i < frames.length; i += 1) { frames[i].addEventListener('load', loaded); }
  if (left === 0) { go(); }
  window.setTimeout(go, 5000);
}());

/* The demo's call-centre and kiosk pages: ask the demo site (which polls the
   gateway's /token for itself) whether the login ended, then show the page
   again. Without JavaScript the page refreshes itself every five seconds. */
(function () {
  'use strict';
  var root = document.getElementById('mj-demo-away');
  if (!root) { return; }
  var statusUrl = root.getAttribute('data-status-url');
  var refreshUrl = root.getAttribute('data-refresh-url');
  var target;
  try { target = new URL(refreshUrl, window.location.href); } catch (e) { return; }
  if (!statusUrl || target.origin !== window.location.origin) { return; }
  function poll() {
    var xhr = new XMLHttpRequest();
    xhr.open('GET', statusUrl);
    xhr.timeout = 10000;
    xhr.onload = function () {
      var done = false;
      try { done = JSON.parse(xhr.responseText).done === true; } catch (e) { done = false; }
      if (done) { window.location.replace(target.href); } else { setTimeout(poll, 3000); }
    };
    xhr.onerror = function () { setTimeout(poll, 5000); };
    xhr.ontimeout = xhr.onerror;
    xhr.send();
  }
  setTimeout(poll, 3000);
}());

/* The chooser's filter box (more than eight providers): shown only when this
   script runs, it hides the providers whose names (Korean and English, in
   data-names) do not contain what was typed, and says how many are left in a
   polite live region. Without the script the whole list stays. */
(function () {
  'use strict';
  var box = document.getElementById('mj-filter-box');
  var input = document.getElementById('mj-filter');
  var count = document.getElementById('mj-filter-count');
  var list = document.getElementById('mj-provider-list');
  if (!box || !input || !count || !list) { return; }
  var items = list.querySelectorAll('li[data-names]');
  var template = input.getAttribute('data-text-count') || '{n}';
  box.hidden = false;
  function apply() {
    var q = input.value.trim().toLowerCase();
    var shown = 0;
    for (var i = 0; i < items.length; i++) {
      var names = (items[i].getAttribute('data-names') || '').toLowerCase();
      var match = q === '' || names.indexOf(q) !== -1;
      items[i].hidden = !match;
      if (match) { shown++; }
    }
    count.textContent = q === '' ? '' : template.replace('{n}', String(shown));
  }
  input.addEventListener('input', apply);
}());
