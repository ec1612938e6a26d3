//! The whole barocert family end to end: one citizen logs in to an Authlib site
//! through each of Kakao, Naver, PASS and Toss (simulated, each with its own
//! root; Naver's result is BER indefinite-length CMS, the others DER). Every
//! login yields an ID token naming its provider, and the same person gets the
//! same pairwise `sub` through all four, because the CI is the person's alone.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn barocert_family_one_person_logs_in_through_each_product_with_one_sub() {
    let dir = TempDir::new("barocert-family");
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
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

    let mut subs = Vec::new();
    for (provider, label) in [
        ("kakao", "카카오"),
        ("naver", "네이버"),
        ("pass", "PASS"),
        ("toss", "토스"),
    ] {
        // A fresh browser each time: no gateway session answers for the provider.
        let mut b = Browser::new(None);
        let (chooser, chooser_url) = b.follow(&format!("{}/login", site.url)).await;
        assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
        assert!(chooser.body.contains(label), "chooser lists {provider}");
        let wait_url = pick_provider_and_submit(&mut b, &chooser_url, provider, &HONG).await;
        let base = wait_url.trim_end_matches("/wait").to_owned();
        let done = wait_done(&mut b, &base).await;
        assert_eq!(done["state"], "completed", "{provider}: {done}");
        let (page, _) = b
            .follow(&absolute(&base, done["next"].as_str().unwrap()))
            .await;
        assert_eq!(page.status, 200, "{provider} site callback: {}", page.body);
        let r = page.json();
        let c = &r["id_token_claims"];
        assert_eq!(c["provider"], provider);
        assert_eq!(c["name"], "홍길동", "{provider}");
        assert_eq!(c["birthdate"], "1990-01-31", "{provider}");
        assert_eq!(c["phone_number"], "+821012345678", "{provider}");
        assert_eq!(c["acr"], "urn:munjigi:acr:substantial", "{provider}");
        let sub = c["sub"].as_str().unwrap().to_owned();
        assert_eq!(r["userinfo"]["sub"], sub.as_str(), "{provider}");
        subs.push((provider, sub));
    }
    let (_, first) = &subs[0];
    for (provider, sub) in &subs {
        assert_eq!(sub, first, "{provider} gives the same person the same sub");
    }

    let logs = gw.proc.drain().join("\n");
    assert!(
        !logs.contains("홍길동") && !logs.contains("1012345678"),
        "no personal data in logs"
    );
}
