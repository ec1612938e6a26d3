//! SP metadata from a URL (`[sites.X.saml] metadata_url`): fetched in the
//! background, refreshed on its `cacheDuration`, the last good copy kept.
//!
//! Why a fetcher per URL, shared by every site that names it: a federation
//! aggregate (eduGAIN, KAFE) is one large document holding thousands of SPs,
//! and ten sites in it must not mean ten downloads and ten signature checks.
//! Why it lives on the process [`crate::runtime::Runtime`] and not in the
//! config snapshot: a reload that keeps the URL (and its signer) keeps the
//! copy in use, and does not fetch again; a reload that adds a site to a URL
//! already fetched wakes the fetcher at once. The fetcher holds its feed
//! weakly (as the CRL fetcher does): when no snapshot uses a URL any more,
//! it stops.
//!
//! Nothing is fetched on a request's path: a request reads the copy in
//! memory (a lock and an `Arc` clone). Until a site's first copy arrived, or
//! once that copy is past its `validUntil`, its SAML requests are refused
//! with `MJ-M39` (a page, 503), never held waiting. A start or a reload never
//! waits for a URL either.
//!
//! When: at once, then after the shortest `cacheDuration` that applies to
//! the document or the site's entity, [`DEFAULT_REFRESH`] when there is
//! none, bounded to [`MIN_REFRESH`]..[`MAX_REFRESH`], and no later than three
//! quarters of the way to the earliest `validUntil`. After a failure (no
//! answer, a refused document) again after [`RETRY_FIRST`], doubling up to
//! [`RETRY_MAX`]. A failed refresh keeps the last good copy of every site
//! and logs one warning naming the sites, the URL and the reason; a good
//! document whose entity for one site is refused keeps that site's last copy
//! only. Never the document's contents in a log or a metric.
//!
//! The download is conditional (`If-None-Match`, `If-Modified-Since`) when
//! the server gave validators and the last document served every site: a
//! `304 Not Modified` counts as `unchanged`.
//!
//! Every replica fetches on its own: N replicas make N downloads per
//! refresh, and may use different copies for up to one refresh interval.

use super::aggregate::{self, EntityRefusal};
use super::sp::ServiceProvider;
use crate::clock::Clock;
use crate::config::model::{MetadataUrl, SamlSite, SpMetadata};
use crate::config::Config;
use crate::metrics::{MetadataMetrics, Refreshed};
use munjigi_providers::http_client::HttpClient;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::Notify;

/// Shortest wait between two fetches of one URL, whatever `cacheDuration`
/// says (as Shibboleth's `minRefreshDelay`).
pub const MIN_REFRESH: Duration = Duration::from_secs(30);
/// Longest wait between two fetches of one URL.
pub const MAX_REFRESH: Duration = Duration::from_secs(6 * 3600);
/// The wait when nothing gives a `cacheDuration`.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(3600);
/// The first wait after a failed fetch; doubled per failure in a row.
pub const RETRY_FIRST: Duration = Duration::from_secs(10);
pub const RETRY_MAX: Duration = Duration::from_secs(600);
/// Largest document accepted (eduGAIN's aggregate is some tens of MiB).
pub const MAX_BYTES: usize = 128 * 1024 * 1024;
/// Longest one download may take, connection to last byte.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a site's copy cannot be used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// No copy has been fetched yet.
    NotYet,
    /// The copy is past its `validUntil` and no newer one came.
    Expired,
    /// The copy does not fit the site's settings (signed requests without a
    /// signing certificate, encryption without an encryption certificate).
    Unfit,
}

impl Unavailable {
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotYet => "not fetched yet",
            Self::Expired => "the copy held is past its validUntil",
            Self::Unfit => "the copy held does not fit the site's settings",
        }
    }
}

/// The copy of one entity in use.
#[derive(Debug, Clone)]
pub struct Held {
    pub sp: Arc<ServiceProvider>,
    pub valid_until: Option<i64>,
    /// When the document it came from was last downloaded, or confirmed
    /// unchanged by a `304` (Unix seconds).
    pub fetched_at: u64,
    /// Its canonical bytes' digest: an unchanged entity is not "updated".
    digest: [u8; 32],
}

/// A site that reads an entity of the feed's document.
#[derive(Debug, Clone)]
struct Want {
    site: String,
    entity_id: String,
    /// The site's settings its copy must fit.
    saml: SamlSite,
}

/// One URL and its signer: the fetcher's state, shared with every snapshot
/// that uses it.
pub struct Feed {
    url: String,
    signer: samael::crypto::CertificateDer,
    /// What the newest snapshot asked for.
    wants: Mutex<Vec<Want>>,
    /// By entityID.
    held: Mutex<HashMap<String, Held>>,
    wake: Arc<Notify>,
    clock: Arc<dyn Clock>,
    metrics: MetadataMetrics,
    http: Option<HttpClient>,
    /// What the last good document was served with, for a conditional GET.
    last: Mutex<Option<LastGood>>,
    /// The root `validUntil` of the newest document taken into use: a
    /// document whose own is earlier is an older one served again (a
    /// rollback to old keys or endpoints), refused.
    newest_until: Mutex<Option<i64>>,
}

/// The last good document's validators (`ETag`, `Last-Modified`) and the
/// dates its refresh is timed by: a `304 Not Modified` is that document again.
#[derive(Debug, Clone, Default)]
struct LastGood {
    etag: Option<http::HeaderValue>,
    last_modified: Option<http::HeaderValue>,
    cache: Option<Duration>,
    until: Option<i64>,
    /// Every site of the feed took its entity from that document.
    complete: bool,
}

/// A download: the document, or the server saying the last one is current.
enum Fetched {
    Document(Vec<u8>, LastGood),
    NotModified(LastGood),
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        // The fetcher, asleep, wakes to find the feed gone and ends.
        self.wake.notify_one();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Feed {
    /// The copy of `entity_id` in use, if any (whatever its dates).
    pub fn held(&self, entity_id: &str) -> Option<Held> {
        lock(&self.held).get(entity_id).cloned()
    }

    /// The copy of `entity_id` usable at `now` (Unix seconds).
    pub fn current(&self, entity_id: &str, now: u64) -> Result<Held, Unavailable> {
        let held = self.held(entity_id).ok_or(Unavailable::NotYet)?;
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        if held.valid_until.is_some_and(|u| u <= now) {
            return Err(Unavailable::Expired);
        }
        Ok(held)
    }

    fn sites(wants: &[Want]) -> String {
        let mut sites: Vec<&str> = wants.iter().map(|w| w.site.as_str()).collect();
        sites.sort_unstable();
        sites.join(",")
    }

    /// Fetches, verifies and selects once; the wait until the next refresh
    /// on success, `Err` after a failure (logged and counted).
    async fn refresh(&self) -> Result<Duration, ()> {
        let wants = lock(&self.wants).clone();
        if wants.is_empty() {
            return Ok(MAX_REFRESH);
        }
        let sites = Self::sites(&wants);
        let holding = !lock(&self.held).is_empty();
        let count = |result: Refreshed| {
            for w in &wants {
                self.metrics.refreshed(&w.site, result);
            }
        };
        // Conditional only when every site's entity is held: a site without
        // a copy needs the document itself.
        let conditional = {
            let held = lock(&self.held);
            let every = wants.iter().all(|w| held.contains_key(&w.entity_id));
            lock(&self.last).clone().filter(|l| every && l.complete)
        };
        let (bytes, mut validators) = match self.fetch(conditional).await {
            Ok(Fetched::Document(b, validators)) => (b, validators),
            Ok(Fetched::NotModified(last)) => {
                let confirmed = self.clock.now();
                let now = i64::try_from(confirmed).unwrap_or(i64::MAX);
                if last.until.is_some_and(|u| u <= now) {
                    // "Not modified" renews nothing past its validUntil: the
                    // federation stopped re-signing, and that is news.
                    *lock(&self.last) = None;
                    tracing::warn!(sites = %sites, url = %self.url, reason = "not modified, and past its validUntil", keeping_last_good = holding, "SAML metadata refused");
                    count(Refreshed::document_refused);
                    return Err(());
                }
                tracing::debug!(sites = %sites, url = %self.url, "SAML metadata not modified");
                count(Refreshed::unchanged);
                for h in lock(&self.held).values_mut() {
                    h.fetched_at = confirmed;
                }
                return Ok(next_refresh(last.cache, last.until, now));
            }
            Err(e) => {
                tracing::warn!(sites = %sites, url = %self.url, error = %e, keeping_last_good = holding, "SAML metadata fetch failed");
                count(Refreshed::fetch_failed);
                return Err(());
            }
        };
        let fetched_at = self.clock.now();
        let now = i64::try_from(fetched_at).unwrap_or(i64::MAX);
        let signer = self.signer.clone();
        let ids: Vec<String> = wants.iter().map(|w| w.entity_id.clone()).collect();
        // Parsing and verifying tens of MiB is CPU and memory: off the
        // reactor, and one document at a time in the whole process (each
        // builds whole trees of what it read).
        static ONE_AT_A_TIME: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
        let Ok(permit) = ONE_AT_A_TIME.acquire().await else {
            return Err(());
        };
        let read = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            aggregate::read(bytes, &signer, &ids, now)
        })
        .await;
        let doc = match read {
            Ok(Ok(doc)) => doc,
            Ok(Err(refusal)) => {
                *lock(&self.last) = None;
                tracing::warn!(sites = %sites, url = %self.url, reason = %refusal, keeping_last_good = holding, "SAML metadata refused");
                count(Refreshed::document_refused);
                return Err(());
            }
            Err(e) => {
                *lock(&self.last) = None;
                tracing::error!(sites = %sites, url = %self.url, error = %e, "SAML metadata check did not finish");
                count(Refreshed::document_refused);
                return Err(());
            }
        };
        let newest = *lock(&self.newest_until);
        if let (Some(held), Some(new)) = (newest, doc.valid_until) {
            if new < held {
                *lock(&self.last) = None;
                tracing::warn!(sites = %sites, url = %self.url, reason = "an older document than the one in use (an earlier validUntil)", keeping_last_good = holding, "SAML metadata refused");
                count(Refreshed::document_refused);
                return Err(());
            }
        }
        if doc.valid_until.is_some() {
            *lock(&self.newest_until) = doc.valid_until;
        }
        let mut cache = doc.cache_duration;
        let mut until = doc.valid_until;
        let mut complete = true;
        for w in &wants {
            let selected = doc
                .entities
                .get(&w.entity_id)
                .cloned()
                .unwrap_or(Err(EntityRefusal::Missing));
            // The federation itself (a verified document) says the entity is
            // gone or expired: its old copy is not kept (a deregistration
            // takes effect); other refusals keep the last good copy.
            if matches!(
                selected,
                Err(EntityRefusal::Missing | EntityRefusal::Expired(_))
            ) && lock(&self.held).remove(&w.entity_id).is_some()
            {
                tracing::warn!(site = %w.site, entity_id = %w.entity_id, url = %self.url, "SAML metadata: the signed document no longer lists the site's entity as valid; its copy is dropped");
            }
            match self.accept(w, selected, fetched_at) {
                Ok((result, selected_cache, selected_until)) => {
                    self.metrics.refreshed(&w.site, result);
                    cache = shortest(cache, selected_cache);
                    until = shortest(until, selected_until);
                }
                Err(reason) => {
                    complete = false;
                    let kept = lock(&self.held).contains_key(&w.entity_id);
                    tracing::warn!(site = %w.site, entity_id = %w.entity_id, url = %self.url, reason = %reason, keeping_last_good = kept, "SAML metadata: the site's entity refused");
                    self.metrics.refreshed(&w.site, Refreshed::entity_refused);
                }
            }
        }
        // Entities no site reads any more are forgotten.
        lock(&self.held).retain(|id, _| wants.iter().any(|w| w.entity_id == *id));
        validators.cache = cache;
        validators.until = until;
        validators.complete = complete;
        *lock(&self.last) = Some(validators);
        Ok(next_refresh(cache, until, now))
    }

    /// Takes one entity's new copy into use, or says why not.
    fn accept(
        &self,
        w: &Want,
        selected: Result<aggregate::Selected, EntityRefusal>,
        fetched_at: u64,
    ) -> Result<(Refreshed, Option<Duration>, Option<i64>), String> {
        let selected = selected.map_err(|e| e.to_string())?;
        let sp = ServiceProvider::from_metadata(&selected.xml)?;
        if let Some(why) = w.saml.unfit(&sp) {
            return Err(why.to_owned());
        }
        let digest = openssl::sha::sha256(selected.xml.as_bytes());
        let mut held = lock(&self.held);
        let result = match held.get(&w.entity_id) {
            Some(h) if h.digest == digest => Refreshed::unchanged,
            Some(_) => {
                tracing::info!(site = %w.site, entity_id = %w.entity_id, url = %self.url, "SAML metadata updated from its URL");
                Refreshed::updated
            }
            None => {
                tracing::info!(site = %w.site, entity_id = %w.entity_id, url = %self.url, "SAML metadata fetched from its URL");
                Refreshed::updated
            }
        };
        held.insert(
            w.entity_id.clone(),
            Held {
                sp: Arc::new(sp),
                valid_until: selected.valid_until,
                fetched_at,
                digest,
            },
        );
        Ok((result, selected.cache_duration, selected.valid_until))
    }

    async fn fetch(&self, conditional: Option<LastGood>) -> Result<Fetched, String> {
        let http = self
            .http
            .as_ref()
            .ok_or("no HTTP client (no system CA certificates for https)")?;
        let mut headers = http::HeaderMap::new();
        if let Some(last) = &conditional {
            if let Some(etag) = &last.etag {
                headers.insert(http::header::IF_NONE_MATCH, etag.clone());
            }
            if let Some(at) = &last.last_modified {
                headers.insert(http::header::IF_MODIFIED_SINCE, at.clone());
            }
        }
        let resp = http
            .get(&self.url, headers)
            .await
            .map_err(|e| e.to_string())?;
        match (resp.status, conditional) {
            (http::StatusCode::OK, _) => Ok(Fetched::Document(
                resp.body.to_vec(),
                LastGood {
                    etag: resp.headers.get(http::header::ETAG).cloned(),
                    last_modified: resp.headers.get(http::header::LAST_MODIFIED).cloned(),
                    ..LastGood::default()
                },
            )),
            (http::StatusCode::NOT_MODIFIED, Some(last)) => Ok(Fetched::NotModified(last)),
            (status, _) => Err(format!("HTTP {}", status.as_u16())),
        }
    }
}

fn shortest<T: Ord + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The wait after a good document: its `cacheDuration` (or the default),
/// bounded, and at most three quarters of the time left to `valid_until`.
pub fn next_refresh(cache: Option<Duration>, valid_until: Option<i64>, now: i64) -> Duration {
    let mut wait = cache.unwrap_or(DEFAULT_REFRESH);
    if let Some(u) = valid_until {
        let left = u64::try_from(u.saturating_sub(now)).unwrap_or(0);
        wait = wait.min(Duration::from_secs(left / 4 * 3));
    }
    wait.clamp(MIN_REFRESH, MAX_REFRESH)
}

/// The wait after `failures` failed refreshes in a row (at least one).
fn retry_after(failures: u32) -> Duration {
    RETRY_FIRST
        .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(16)))
        .min(RETRY_MAX)
}

/// The fetcher of one feed: refresh, then sleep until the next is due or a
/// snapshot wakes it; ends when the feed is gone.
async fn keep_fresh(feed: Weak<Feed>, wake: Arc<Notify>) {
    let mut failures = 0u32;
    loop {
        let Some(f) = feed.upgrade() else {
            return;
        };
        let wait = match f.refresh().await {
            Ok(wait) => {
                failures = 0;
                wait
            }
            Err(()) => {
                failures = failures.saturating_add(1);
                retry_after(failures)
            }
        };
        drop(f);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = wake.notified() => {}
        }
    }
}

/// A feed's identity: its URL and its signer's DER.
type FeedKey = (String, Vec<u8>);

/// Every feed a snapshot uses, by URL and signer: on the runtime, so a
/// reload finds the one already fetching.
#[derive(Default)]
pub struct Feeds(Mutex<HashMap<FeedKey, Weak<Feed>>>);

impl Feeds {
    /// The feed of `m`: the one already serving this URL with this signer,
    /// else a new one whose fetcher starts now (on the current Tokio runtime;
    /// outside one nothing is fetched, logged).
    fn get(&self, m: &MetadataUrl, clock: &Arc<dyn Clock>, metrics: &MetadataMetrics) -> Arc<Feed> {
        let key = (m.url.clone(), m.signer.der_data().to_vec());
        let mut feeds = lock(&self.0);
        if let Some(feed) = feeds.get(&key).and_then(Weak::upgrade) {
            return feed;
        }
        let roots = munjigi_receipt::verify::system_roots_pem().ok();
        let http = match HttpClient::new(roots.as_deref(), FETCH_TIMEOUT) {
            // The config allows plain http only to loopback.
            Ok(c) => Some(
                c.allow_plain_http(m.url.starts_with("http://"))
                    .with_max_response_bytes(MAX_BYTES),
            ),
            Err(e) => {
                tracing::error!(url = %m.url, error = %e, "SAML metadata: no HTTP client");
                None
            }
        };
        let wake = Arc::new(Notify::new());
        let feed = Arc::new(Feed {
            url: m.url.clone(),
            signer: m.signer.clone(),
            wants: Mutex::new(Vec::new()),
            held: Mutex::new(HashMap::new()),
            wake: wake.clone(),
            clock: clock.clone(),
            metrics: metrics.clone(),
            http,
            last: Mutex::new(None),
            newest_until: Mutex::new(None),
        });
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(keep_fresh(Arc::downgrade(&feed), wake));
            }
            Err(_) => {
                tracing::warn!(url = %m.url, "no async runtime: the SAML metadata URL will not be fetched");
            }
        }
        feeds.retain(|_, f| f.strong_count() > 0);
        feeds.insert(key, Arc::downgrade(&feed));
        feed
    }
}

/// The feeds of one snapshot, by site id.
pub type SiteFeeds = HashMap<String, Arc<Feed>>;

/// Hands each feed the sites of `config` that read it (replacing what the
/// previous snapshot asked for) and wakes a feed at once when a site's
/// entity has no copy yet.
pub fn attach(config: &Config, runtime: &crate::runtime::Runtime) -> SiteFeeds {
    let metrics = runtime.metrics.saml_metadata();
    let mut by_feed: BTreeMap<FeedKey, (Arc<Feed>, Vec<Want>)> = BTreeMap::new();
    let mut out = SiteFeeds::new();
    for site in config.sites.values() {
        let Some(saml) = &site.saml else { continue };
        let SpMetadata::Url(m) = &saml.metadata else {
            continue;
        };
        let feed = runtime.metadata_feeds.get(m, &runtime.clock, &metrics);
        out.insert(site.id.clone(), feed.clone());
        by_feed
            .entry((m.url.clone(), m.signer.der_data().to_vec()))
            .or_insert_with(|| (feed, Vec::new()))
            .1
            .push(Want {
                site: site.id.clone(),
                entity_id: m.entity_id.clone(),
                saml: saml.clone(),
            });
    }
    for (feed, wants) in by_feed.into_values() {
        let missing = {
            let held = lock(&feed.held);
            wants.iter().any(|w| !held.contains_key(&w.entity_id))
        };
        *lock(&feed.wants) = wants;
        if missing {
            feed.wake.notify_one();
        }
    }
    out
}

/// The SP's metadata for `site_id`'s `saml` settings as it stands now: the
/// file read with the config, or the copy fetched from its URL.
pub fn service_provider(
    app: &crate::app::App,
    site_id: &str,
    saml: &SamlSite,
) -> Result<Arc<ServiceProvider>, Unavailable> {
    match &saml.metadata {
        SpMetadata::File(sp) => Ok(sp.clone()),
        SpMetadata::Url(m) => {
            let feed = app.saml_feeds.get(site_id).ok_or(Unavailable::NotYet)?;
            let held = feed.current(&m.entity_id, app.clock.now())?;
            if saml.unfit(&held.sp).is_some() {
                return Err(Unavailable::Unfit);
            }
            Ok(held.sp)
        }
    }
}

/// Sets each metadata_url site's age gauge (at scrape time).
pub fn report_ages(app: &crate::app::App) {
    let metrics = app.runtime.metrics.saml_metadata();
    let now = app.clock.now();
    for (site, feed) in &app.saml_feeds {
        let entity = app
            .config
            .sites
            .get(site)
            .and_then(|s| s.saml.as_ref())
            .and_then(|s| match &s.metadata {
                SpMetadata::Url(m) => Some(m.entity_id.as_str()),
                SpMetadata::File(_) => None,
            });
        if let Some(held) = entity.and_then(|e| feed.held(e)) {
            metrics.age(
                site,
                Duration::from_secs(now.saturating_sub(held.fetched_at)),
            );
        }
    }
}

#[cfg(test)]
#[path = "remote_metadata_tests.rs"]
mod tests;
