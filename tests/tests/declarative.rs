//! Providers added by config alone (family D) end to end: a citizen logs in to an
//! Authlib site through `kb` (HMAC, encrypted fields) and through `shinhan`
//! (bearer token, `data` envelope), both `type = "declarative"` with no Rust of
//! their own, and gets the same pairwise `sub` as through `kakao`, because the CI
//! is the person's whichever provider vouched for them.

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

fn world() -> World {
    let dir = TempDir::new("declarative");
    let (sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let (port, redirect) = site_port_and_redirect();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect,
            ..GatewayOpts::default()
        },
    );
    let site = start_site(port, &gw.url, "client_secret_basic", None);
    World {
        _dir: dir,
        _sim: sim,
        gw,
        site,
    }
}

/// A whole login through `provider`; returns the site's JSON.
async fn login(w: &World, provider: &str, who: &Citizen<'_>) -> serde_json::Value {
    let mut b = Browser::new(None);
    let (chooser, chooser_url) = b.follow(&format!("{}/login", w.site.url)).await;
    assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
    assert!(
        chooser.body.contains("KB국민인증서") && chooser.body.contains("신한인증서"),
        "chooser lists the declarative providers"
    );
    let wait_url = pick_provider_and_submit(&mut b, &chooser_url, provider, who).await;
    let base = wait_url.trim_end_matches("/wait").to_owned();
    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "completed", "{provider}: {done}");
    let (page, _) = b
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, 200, "{provider} site callback: {}", page.body);
    page.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_through_kb_and_shinhan_gives_the_same_sub_as_through_kakao() {
    let w = world();

    let kakao = login(&w, "kakao", &HONG).await;
    let sub = kakao["id_token_claims"]["sub"].as_str().unwrap().to_owned();

    for provider in ["kb", "shinhan"] {
        let r = login(&w, provider, &HONG).await;
        let c = &r["id_token_claims"];
        assert_eq!(c["provider"], provider);
        assert_eq!(c["iss"], w.gw.url.as_str());
        assert_eq!(c["aud"], "town");
        assert_eq!(c["name"], "홍길동");
        assert_eq!(c["birthdate"], "1990-01-31");
        assert_eq!(c["phone_number"], "+821012345678");
        assert_eq!(c["acr"], "urn:munjigi:acr:substantial");
        assert!(c.get("ci").is_none(), "no CI without scope and entitlement");
        assert_eq!(
            c["sub"],
            sub.as_str(),
            "{provider}: one person, one sub, whichever provider"
        );
        assert_eq!(r["userinfo"]["sub"], sub.as_str());
    }

    let logs = w.gw.proc.drain().join("\n");
    assert!(
        logs.contains("declarative identity verified"),
        "the declarative adapter ran"
    );
    assert!(
        !logs.contains("홍길동")
            && !logs.contains("1012345678")
            && !logs.contains(SHINHAN_SECRET)
            && !logs.contains(KB_HMAC_KEY),
        "no personal data or secrets in gateway logs"
    );
}
