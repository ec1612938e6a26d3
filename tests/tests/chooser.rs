//! The chooser on a returning device: the provider it logged in with last
//! stands first as "continue with …" (a cookie with the provider's id only),
//! the citizen can make the device forget it; and with `[chooser] order =
//! "random"` the order is drawn per login, stable while the citizen stays.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;

/// The providers' ids in the order the chooser lists them.
fn listed(chooser: &str) -> Vec<String> {
    chooser
        .split("data-provider=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// One whole login through `provider` in browser `b`.
async fn login_in(b: &mut Browser, w: &World, provider: &str) -> serde_json::Value {
    let (_, chooser_url) = b.follow(&format!("{}/login", w.site.url)).await;
    let wait = pick_provider_and_submit(b, &chooser_url, provider, &HONG).await;
    let base = absolute(&chooser_url, &wait)
        .trim_end_matches("/wait")
        .to_owned();
    let done = wait_done(b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (page, _) = b
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_used_last_on_this_device_comes_first_until_forgotten() {
    let w = world("chooser-last");
    let mut b = Browser::new(None);
    let (first, _) = b.follow(&format!("{}/login", w.site.url)).await;
    assert!(
        !first.body.contains("id=\"mj-last\""),
        "a new device remembers nothing"
    );
    let configured = listed(&first.body);
    let naver = configured.iter().position(|p| p == "naver").unwrap();
    assert!(
        naver > 0,
        "naver is not first in the config: {configured:?}"
    );

    login_in(&mut b, &w, "naver").await;
    assert_eq!(b.cookie("mj_last").map(String::as_str), Some("naver"));
    // The next visit, after the gateway session ended (only the device's
    // choice is left: a session would log straight in).
    let kept = b.cookie("mj_last").cloned().unwrap();
    b.forget_cookies();
    b.set_cookie("mj_last", &kept);
    let (again, chooser_url) = b.follow(&format!("{}/login", w.site.url)).await;
    assert!(again.body.contains("id=\"mj-last\""), "{}", again.body);
    assert!(again.body.contains("네이버로 계속하기"), "{}", again.body);
    let now = listed(&again.body);
    assert_eq!(now[0], "naver", "{now:?}");
    assert_eq!(
        now.iter().filter(|p| *p == "naver").count(),
        1,
        "listed once"
    );
    let rest: Vec<&String> = now.iter().skip(1).collect();
    let others: Vec<&String> = configured.iter().filter(|p| *p != "naver").collect();
    assert_eq!(rest, others, "the others keep the configured order");

    // Another device (another browser) knows nothing of it.
    let mut other = Browser::new(None);
    let (fresh, _) = other.follow(&format!("{}/login", w.site.url)).await;
    assert!(!fresh.body.contains("id=\"mj-last\""));

    // Forgetting: a form with the login's CSRF token.
    let csrf = again.input_value("csrf").expect("the forget form's csrf");
    let base = chooser_url.split('?').next().unwrap().to_owned();
    let r = b
        .post(&format!("{base}/forget-last"), &[("csrf", "wrong")])
        .await;
    assert_ne!(r.status, 303, "no forgetting without the token");
    let r = b
        .post(&format!("{base}/forget-last"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let back = b.get(&base).await;
    assert!(!back.body.contains("id=\"mj-last\""), "{}", back.body);
    assert_eq!(listed(&back.body), configured);
    let logs = w.gw.proc.drain().join("\n");
    assert!(!logs.contains("홍길동"), "no personal data in the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_random_order_is_drawn_per_login_and_kept_while_the_citizen_stays() {
    let w = world_with("chooser-random", "[chooser]\norder = \"random\"\n");
    let mut orders = std::collections::HashSet::new();
    let mut firsts = std::collections::HashSet::new();
    for _ in 0..12 {
        let mut b = Browser::new(None);
        let (page, chooser_url) = b.follow(&format!("{}/login", w.site.url)).await;
        let order = listed(&page.body);
        assert!(order.len() >= 4, "{order:?}");
        // The same login's chooser again: the same order.
        let again = b.get(chooser_url.split('?').next().unwrap()).await;
        assert_eq!(listed(&again.body), order);
        firsts.insert(order[0].clone());
        orders.insert(order);
    }
    assert!(orders.len() >= 6, "{orders:?}");
    assert!(firsts.len() >= 3, "no provider is always first: {firsts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_providers_logo_is_a_badge_served_as_an_image_that_runs_nothing() {
    let dir = TempDir::new("chooser-logo");
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let logo = repo_root().join("deploy/demo/logos/kakao.svg");
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: "http://127.0.0.1:9/cb".into(),
            kakao_direct_extra: format!("logo = \"{}\"", logo.display()),
            ..GatewayOpts::default()
        },
    );
    let mut b = Browser::new(None);
    let r = b
        .get(&format!("{}/static/munjigi/logos/kakao-direct", gw.url))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, std::fs::read_to_string(&logo).unwrap());
    let header = |k: &str| {
        r.headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "image/svg+xml");
    let csp = header("content-security-policy");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("sandbox"),
        "{csp}"
    );
    assert_eq!(header("x-content-type-options"), "nosniff");
    // A provider without a logo, or none at all: nothing.
    for none in ["kakao", "nope", "../gateway.toml"] {
        let r = b
            .get(&format!("{}/static/munjigi/logos/{none}", gw.url))
            .await;
        assert_eq!(r.status, 404, "{none}");
    }
}
