//! A citizen logs in to a site over OpenID Connect through the simulated Kakao
//! push: the site is Authlib (Python), the gateway and the simulator are the real
//! binary, the test plays the browser. Negative cases check the exact error.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;

struct World {
    _dir: TempDir,
    _sim: Proc,
    gw: Gateway,
    site: Site,
}

async fn world(opts: GatewayOpts, auth_method: &str, sim: SimOpts) -> World {
    let dir = TempDir::new("oidc");
    let (sim_proc, sim_url) = start_simulator(dir.path(), &sim);
    let (port, redirect) = site_port_and_redirect();
    let ca = opts.tls.as_ref().map(|_| dir.path().join("ca.pem"));
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect,
            ..opts
        },
    );
    let site = start_site(port, &gw.url, auth_method, ca.as_deref());
    World {
        _dir: dir,
        _sim: sim_proc,
        gw,
        site,
    }
}

/// Site login → chooser → form → push → approval → back at the site; returns the site's JSON.
async fn login(b: &mut Browser, w: &World, who: &Citizen<'_>, query: &str) -> serde_json::Value {
    let (chooser, chooser_url) = b.follow(&format!("{}/login{query}", w.site.url)).await;
    assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
    assert!(chooser.body.contains("카카오"), "chooser lists Kakao");
    let wait_url = pick_and_submit(b, &chooser_url, who).await;
    let base = wait_url.trim_end_matches("/wait").to_owned();
    let waiting = b.get(&wait_url).await;
    assert_eq!(waiting.status, 200);
    let done = wait_done(b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (page, _) = b
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, 200, "site callback: {}", page.body);
    page.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_through_kakao_gives_the_site_a_validated_id_token_and_userinfo() {
    let w = world(
        GatewayOpts::default(),
        "client_secret_basic",
        SimOpts::default(),
    )
    .await;
    let mut b = Browser::new(None);
    let r = login(&mut b, &w, &HONG, "").await;
    let c = &r["id_token_claims"];
    assert_eq!(r["id_token_alg"], "ES256");
    assert_eq!(c["iss"], w.gw.url.as_str());
    assert_eq!(c["aud"], "town");
    assert_eq!(c["name"], "홍길동");
    assert_eq!(c["birthdate"], "1990-01-31");
    assert_eq!(c["phone_number"], "+821012345678");
    assert_eq!(c["acr"], "urn:munjigi:acr:substantial");
    assert_eq!(c["provider"], "kakao");
    assert!(c["amr"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(c["auth_time"].as_u64().is_some());
    assert!(c.get("ci").is_none(), "no CI without scope and entitlement");
    let sub = c["sub"].as_str().unwrap().to_owned();
    assert_eq!(sub.len(), 43);
    assert_eq!(r["userinfo"]["sub"], sub.as_str());
    assert_eq!(r["userinfo"]["name"], "홍길동");

    // The code was one-time: replaying it is refused and revokes the access token.
    let replay = b.get(&format!("{}/replay", w.site.url)).await.json();
    assert_eq!(replay["status"], 400, "{replay}");
    assert_eq!(replay["body"]["error"], "invalid_grant");
    let mut other = Browser::new(None);
    let at = r["access_token"].as_str().unwrap();
    let ui = other
        .request(
            http::Method::POST,
            &format!("{}/userinfo", w.gw.url),
            Some(&[("access_token", at)]),
        )
        .await;
    assert_eq!(ui.status, 401, "access token revoked after the replay");
    let logs = w.gw.proc.drain().join("\n");
    assert!(logs.contains("MJ-O01"), "replay logged");
    assert!(
        !logs.contains("홍길동") && !logs.contains("1012345678"),
        "no personal data in logs"
    );

    // The gateway session answers the next login at once; prompt=login forces the chooser.
    let (p, _) = b.follow(&format!("{}/login", w.site.url)).await;
    let again = p.json();
    assert_eq!(
        again["id_token_claims"]["sub"],
        sub.as_str(),
        "same person, same site, same sub"
    );
    let (p, url) = b
        .follow(&format!("{}/login?prompt=login", w.site.url))
        .await;
    assert_eq!(p.status, 200);
    assert!(
        url.contains("/login/"),
        "prompt=login shows the chooser again: {url}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_with_client_secret_post_and_the_same_sub_from_a_new_browser() {
    let opts = GatewayOpts {
        site_alg: "RS256",
        ..GatewayOpts::default()
    };
    let w = world(opts, "client_secret_post", SimOpts::default()).await;
    let mut b = Browser::new(None);
    let first = login(&mut b, &w, &HONG, "").await;
    assert_eq!(first["id_token_alg"], "RS256");
    let mut b2 = Browser::new(None);
    let second = login(&mut b2, &w, &HONG, "").await;
    assert_eq!(
        first["id_token_claims"]["sub"],
        second["id_token_claims"]["sub"]
    );
    let other = Citizen {
        name: "김철수",
        birthdate: "1985-05-05",
        phone: "010-9999-8888",
    };
    let mut b3 = Browser::new(None);
    let third = login(&mut b3, &w, &other, "").await;
    assert_ne!(
        first["id_token_claims"]["sub"],
        third["id_token_claims"]["sub"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_client_with_pkce_logs_in_over_https() {
    let dir = TempDir::new("tls");
    let (chain, key, ca) = tls_files(dir.path());
    let opts = GatewayOpts {
        tls: Some((chain, key)),
        public_client: true,
        ..GatewayOpts::default()
    };
    let w = {
        let (sim_proc, sim_url) = start_simulator(dir.path(), &SimOpts::default());
        let (port, redirect) = site_port_and_redirect();
        let gw = start_gateway(
            dir.path(),
            &sim_url,
            &GatewayOpts {
                site_redirect: redirect,
                ..opts
            },
        );
        let site = start_site(port, &gw.url, "none", Some(&ca));
        World {
            _dir: TempDir::new("unused"),
            _sim: sim_proc,
            gw,
            site,
        }
    };
    assert!(w.gw.url.starts_with("https://"));
    let mut b = Browser::new(Some(&std::fs::read(&ca).unwrap()));
    let r = login(&mut b, &w, &HONG, "").await;
    assert_eq!(r["id_token_claims"]["name"], "홍길동");
    assert!(
        b.cookie("__Host-mj_b").is_some(),
        "https cookies use the __Host- prefix"
    );
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_errors_never_redirect_to_an_unregistered_uri() {
    let w = world(
        GatewayOpts::default(),
        "client_secret_basic",
        SimOpts::default(),
    )
    .await;
    let mut b = Browser::new(None);
    let gw = &w.gw.url;
    let good = form_urlencoded::byte_serialize(w.site.redirect_uri.as_bytes()).collect::<String>();
    // Unregistered redirect_uri: a page, no redirect.
    let p = b.get(&format!("{gw}/authorize?client_id=town&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fevil.example%2Fcb")).await;
    assert_eq!(p.status, 400);
    assert!(p.location.is_none());
    assert!(p.body.contains("MJ-R06"));
    // A prefix of the registered URI is not a match either.
    let prefix = good.trim_end_matches("callback");
    let p = b
        .get(&format!(
            "{gw}/authorize?client_id=town&response_type=code&scope=openid&redirect_uri={prefix}"
        ))
        .await;
    assert_eq!(p.status, 400);
    // Unknown client: a page.
    let p = b
        .get(&format!(
            "{gw}/authorize?client_id=nobody&response_type=code&scope=openid&redirect_uri={good}"
        ))
        .await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("MJ-R05"));
    // Repeated parameter: a page.
    let p = b
        .get(&format!(
            "{gw}/authorize?client_id=town&client_id=town&redirect_uri={good}"
        ))
        .await;
    assert_eq!(p.status, 400);
    // Valid client + URI: errors go back to the site with iss and state.
    let p = b.get(&format!("{gw}/authorize?client_id=town&response_type=token&scope=openid&state=s1&redirect_uri={good}")).await;
    assert_eq!(p.status, 303);
    let loc = p.location.unwrap();
    assert!(
        loc.starts_with(&w.site.redirect_uri)
            && loc.contains("error=unsupported_response_type")
            && loc.contains("state=s1")
            && loc.contains("iss="),
        "{loc}"
    );
    let p = b
        .get(&format!(
            "{gw}/authorize?client_id=town&response_type=code&scope=profile&redirect_uri={good}"
        ))
        .await;
    assert!(p.location.unwrap().contains("error=invalid_scope"));
    let p = b.get(&format!("{gw}/authorize?client_id=town&response_type=code&scope=openid&code_challenge=abc&code_challenge_method=plain&redirect_uri={good}")).await;
    assert!(p.location.unwrap().contains("error=invalid_request"));
    let p = b.get(&format!("{gw}/authorize?client_id=town&response_type=code&scope=openid&prompt=none&redirect_uri={good}")).await;
    assert!(p.location.unwrap().contains("error=login_required"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pkce_verifier_is_refused() {
    let w = world(
        GatewayOpts::default(),
        "client_secret_basic",
        SimOpts::default(),
    )
    .await;
    let mut b = Browser::new(None);
    let (_, chooser_url) = b.follow(&format!("{}/login", w.site.url)).await;
    let wait_url = pick_and_submit(&mut b, &chooser_url, &HONG).await;
    let base = wait_url.trim_end_matches("/wait").to_owned();
    let done = wait_done(&mut b, &base).await;
    // Stop before the site: take the code from the redirect ourselves.
    let p = b
        .get(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    let loc = p.location.unwrap();
    assert!(loc.starts_with(&w.site.redirect_uri), "{loc}");
    let code = loc
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let verifier = "x".repeat(64);
    let mut api = Browser::new(None);
    let r = api
        .post(
            &format!("{}/token", w.gw.url),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &w.site.redirect_uri),
                ("code_verifier", &verifier),
                ("client_id", "town"),
                ("client_secret", CLIENT_SECRET),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"], "invalid_grant");
    // Wrong client secret: 401 invalid_client.
    let r = api
        .post(
            &format!("{}/token", w.gw.url),
            &[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("redirect_uri", &w.site.redirect_uri),
                ("client_id", "town"),
                ("client_secret", "wrong-secret-wrong-secret"),
            ],
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_client");
}

/// Runs a login for `phone` until it leaves pending; returns (browser, login base, status JSON).
async fn until_outcome(w: &World, phone: &'static str) -> (Browser, String, serde_json::Value) {
    let mut b = Browser::new(None);
    let (_, chooser_url) = b.follow(&format!("{}/login", w.site.url)).await;
    let who = Citizen { phone, ..HONG };
    let wait_url = pick_and_submit(&mut b, &chooser_url, &who).await;
    let base = wait_url.trim_end_matches("/wait").to_owned();
    let done = wait_done(&mut b, &base).await;
    (b, base, done)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_in_the_app_offers_ways_on_and_back_to_the_site_is_access_denied() {
    let w = world(
        GatewayOpts::default(),
        "client_secret_basic",
        SimOpts::default(),
    )
    .await;
    let (mut b, base, done) = until_outcome(&w, "010-0000-0001").await;
    assert_eq!(done["state"], "rejected");
    let page = b.get(&format!("{base}/wait")).await;
    assert!(page.body.contains("MJ-P01"), "{}", page.body);
    assert!(page
        .body
        .contains(&format!("{}/abort", base.trim_start_matches(&w.gw.url))));
    let (back, _) = b.follow(&format!("{base}/abort")).await;
    assert_eq!(back.json()["error"], "access_denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_cms_and_the_wrong_person_fail_verification() {
    let w = world(
        GatewayOpts::default(),
        "client_secret_basic",
        SimOpts::default(),
    )
    .await;
    for (phone, code) in [
        ("010-0000-0003", "MJ-P07"),
        ("010-0000-0004", "MJ-P06"),
        ("010-0000-0005", "MJ-P07"),
    ] {
        let (mut b, base, done) = until_outcome(&w, phone).await;
        assert_eq!(done["state"], "completed", "{phone}");
        let p = b.get(&format!("{base}/continue")).await;
        assert_eq!(p.status, 200, "{phone}: no code is issued");
        assert!(p.body.contains(code), "{phone}: expected {code}");
        // A second attempt to continue does not verify again.
        let p = b.get(&format!("{base}/continue")).await;
        assert!(p.body.contains(code));
        // Back at the site, it hears why (the failure table's OAuth column).
        let (back, _) = b.follow(&format!("{base}/abort")).await;
        assert_eq!(back.json()["error"], "access_denied", "{phone}");
        let why = back.json()["error_description"].to_string();
        assert!(
            why.contains("verification") || why.contains("someone other"),
            "{phone}: {why}"
        );
    }
    let logs = w.gw.proc.drain().join("\n");
    assert!(
        logs.contains("content_mismatch")
            || logs.contains("ContentMismatch")
            || logs.contains("content"),
        "reason logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_nobody_approves_expires() {
    let opts = GatewayOpts {
        provider_ttl_secs: Some(3),
        ..GatewayOpts::default()
    };
    let w = world(opts, "client_secret_basic", SimOpts::default()).await;
    let (mut b, base, done) = until_outcome(&w, "010-0000-0002").await;
    assert_eq!(done["state"], "expired", "{done}");
    let page = b.get(&format!("{base}/wait")).await;
    assert!(page.body.contains("MJ-P02"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_is_bound_to_its_browser_and_forms_need_the_csrf_token() {
    let w = world(
        GatewayOpts::default(),
        "client_secret_basic",
        SimOpts::default(),
    )
    .await;
    let mut b = Browser::new(None);
    let (_, chooser_url) = b.follow(&format!("{}/login", w.site.url)).await;
    let base = chooser_url.split('?').next().unwrap().to_owned();
    let mut thief = Browser::new(None);
    let p = thief.get(&base).await;
    assert_eq!(p.status, 403);
    assert!(p.body.contains("MJ-T02"));
    let p = b
        .post(
            &format!("{base}/start"),
            &[
                ("csrf", "forged"),
                ("provider", "kakao"),
                ("name", "홍길동"),
                ("birthdate", "1990-01-31"),
                ("phone", "01012345678"),
                ("consent", "yes"),
            ],
        )
        .await;
    assert_eq!(p.status, 403);
    assert!(p.body.contains("MJ-T03"));
    // Bad fields: the form again, 422, values kept, no push sent.
    let form = b.get(&format!("{base}/identify?provider=kakao")).await;
    let csrf = form.input_value("csrf").unwrap();
    let p = b
        .post(
            &format!("{base}/start"),
            &[
                ("csrf", &csrf),
                ("provider", "kakao"),
                ("name", "홍길동"),
                ("birthdate", "1990-02-30"),
                ("phone", "12345"),
                ("consent", "yes"),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert_eq!(p.input_value("name").as_deref(), Some("홍길동"));
    assert!(p.body.contains("aria-invalid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_initiated_logout_ends_the_gateway_session_and_returns_only_to_registered_uris() {
    let w = world(
        GatewayOpts::default(),
        "client_secret_basic",
        SimOpts::default(),
    )
    .await;
    let mut b = Browser::new(None);
    let r = login(&mut b, &w, &HONG, "").await;
    let hint = r["id_token"].as_str().unwrap().to_owned();
    assert!(b.cookie("mj_sid").is_some());
    // max_age=0 asks for a fresh authentication: the chooser, not the session.
    let (_, url) = b.follow(&format!("{}/login?max_age=0", w.site.url)).await;
    assert!(url.contains("/login/"), "{url}");
    let gw = &w.gw.url;
    let bye = format!("{}/bye", w.site.redirect_uri);
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    // Not registered: refused with a page, the session stays.
    let p = b
        .get(&format!(
            "{gw}/logout?client_id=town&post_logout_redirect_uri={}",
            enc("https://evil.example/")
        ))
        .await;
    assert_eq!(p.status, 400);
    assert!(b.cookie("mj_sid").is_some());
    // With this session's ID token as the hint: no question asked (without
    // one, see tests/tests/logout.rs).
    let p = b
        .get(&format!(
            "{gw}/logout?id_token_hint={hint}&client_id=town&state=st&post_logout_redirect_uri={}",
            enc(&bye)
        ))
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(
        p.location.as_deref(),
        Some(format!("{bye}?state=st").as_str())
    );
    assert!(b.cookie("mj_sid").is_none(), "session cookie cleared");
    // The next login needs the phone again.
    let (_, url) = b.follow(&format!("{}/login", w.site.url)).await;
    assert!(url.contains("/login/"), "{url}");
    // Without a redirect: a page in the citizen's language.
    let p = b.get(&format!("{gw}/logout")).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("lang=\"ko\""));
}
