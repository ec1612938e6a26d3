//! The operator's metrics: after real logins through the real binary (one
//! approved, one the citizen rejects in the app), the admin listener's
//! `/metrics` is valid Prometheus text (`promtool check metrics`, Debian's
//! `prometheus` package, installed by `./deploy/test`), the counters moved as
//! the run implies, nothing personal is in it, and the public port does not
//! serve it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;
use std::io::Write as _;
use std::process::{Command, Stdio};

/// The value of the sample written exactly as `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn promtool_check(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package, installed by ./deploy/test)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// Site login → chooser → form → push → the app's answer. An approved login
/// continues to the site; otherwise the citizen takes the failure page's way
/// back to the site. Returns the state and the page the browser lands on.
async fn login(b: &mut Browser, site: &Site, who: &Citizen<'_>) -> (serde_json::Value, Page) {
    let (chooser, chooser_url) = b.follow(&format!("{}/login", site.url)).await;
    assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
    let wait_url = pick_and_submit(b, &chooser_url, who).await;
    let base = wait_url.trim_end_matches("/wait").to_owned();
    let done = wait_done(b, &base).await;
    let next = match done["state"].as_str() {
        Some("completed") => absolute(&base, done["next"].as_str().unwrap()),
        _ => format!("{base}/abort"),
    };
    let (page, _) = b.follow(&next).await;
    (done, page)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_after_logins_is_valid_and_counts_what_happened() {
    let dir = TempDir::new("metrics");
    // The simulator's default people: this phone rejects in the app.
    let refuser = Citizen {
        name: "김철수",
        birthdate: "1985-05-05",
        phone: "010-0000-0001",
    };
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let (site_port, redirect) = site_port_and_redirect();
    let admin_port = free_port();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect,
            extra: format!("\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\n"),
            ..GatewayOpts::default()
        },
    );
    let site = start_site(site_port, &gw.url, "client_secret_basic", None);
    let metrics_url = format!("http://127.0.0.1:{admin_port}/metrics");

    // Before any login: served, valid, nothing counted yet.
    let mut scraper = Browser::new(None);
    let before = scraper.get(&metrics_url).await;
    assert_eq!(before.status, 200, "{}", before.body);
    assert_eq!(
        before.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let (ok, said) = promtool_check(&before.body);
    assert!(ok, "promtool: {said}\n{}", before.body);

    // One login approved, one rejected in the app.
    let mut b = Browser::new(None);
    let (done, page) = login(&mut b, &site, &HONG).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(page.status, 200, "site callback: {}", page.body);
    // The same browser again: answered from its single sign-on session.
    let (again, _) = b.follow(&format!("{}/login", site.url)).await;
    assert_eq!(again.status, 200, "site callback: {}", again.body);
    let mut b2 = Browser::new(None);
    let (done, back) = login(&mut b2, &site, &refuser).await;
    assert_eq!(done["state"], "rejected", "{done}");
    assert!(
        back.body.contains("access_denied"),
        "the site heard: {}",
        back.body
    );

    // A login left waiting in the app is pending, store-wide, until it ends.
    let mut b3 = Browser::new(None);
    let (_, chooser_url) = b3.follow(&format!("{}/login", site.url)).await;
    let waiting = Citizen {
        name: "이영희",
        birthdate: "1992-02-02",
        phone: "010-0000-0002",
    };
    let wait_url = pick_and_submit(&mut b3, &chooser_url, &waiting).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = scraper.get(&metrics_url).await.body;
        if sample(&now, "munjigi_logins_pending") == Some(1.0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pending never 1:\n{now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The citizen gives up: no longer pending. A forged form is refused and
    // counted under its code, site and front.
    let base = absolute(&chooser_url, wait_url.trim_end_matches("/wait"));
    let wait_page = b3.get(&absolute(&base, &wait_url)).await;
    let csrf = wait_page.input_value("csrf").unwrap();
    let forged = b3
        .post(&format!("{base}/cancel"), &[("csrf", "forged")])
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let cancelled = b3.post(&format!("{base}/cancel"), &[("csrf", &csrf)]).await;
    assert_eq!(cancelled.status, 303, "{}", cancelled.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = scraper.get(&metrics_url).await.body;
        if sample(&now, "munjigi_logins_pending") == Some(0.0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pending never 0:\n{now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let after = scraper.get(&metrics_url).await;
    assert_eq!(after.status, 200);
    let text = &after.body;
    let (ok, said) = promtool_check(text);
    assert!(ok, "promtool: {said}\n{text}");
    for (series, want) in [
        (
            "munjigi_provider_requests_started_total{provider=\"kakao\"}",
            3.0,
        ),
        (
            "munjigi_provider_requests_ended_total{provider=\"kakao\",outcome=\"cancelled\",reason=\"none\"}",
            1.0,
        ),
        (
            "munjigi_provider_approval_seconds_count{provider=\"kakao\"}",
            1.0,
        ),
        (
            "munjigi_refusals_total{site=\"town\",front=\"oidc\",code=\"MJ-T03\"}",
            1.0,
        ),
        ("munjigi_provider_circuit_state{provider=\"kakao\"}", 0.0),
        (
            "munjigi_provider_requests_ended_total{provider=\"kakao\",outcome=\"approved\",reason=\"none\"}",
            1.0,
        ),
        (
            "munjigi_provider_requests_ended_total{provider=\"kakao\",outcome=\"rejected\",reason=\"rejected\"}",
            1.0,
        ),
        (
            "munjigi_provider_call_duration_seconds_count{provider=\"kakao\",call=\"start\"}",
            3.0,
        ),
        (
            "munjigi_provider_call_duration_seconds_count{provider=\"kakao\",call=\"verify\"}",
            1.0,
        ),
        (
            "munjigi_logins_total{site=\"town\",front=\"oidc\",outcome=\"completed\"}",
            1.0,
        ),
        (
            "munjigi_logins_total{site=\"town\",front=\"oidc\",outcome=\"returned\"}",
            1.0,
        ),
        (
            "munjigi_logins_total{site=\"town\",front=\"oidc\",outcome=\"session\"}",
            1.0,
        ),
    ] {
        assert_eq!(sample(text, series), Some(want), "{series} in:\n{text}");
    }
    // Read at scrape time, from the store and the key files.
    for series in [
        "munjigi_store_operation_duration_seconds_count{op=\"get\"}",
        "munjigi_store_operation_duration_seconds_count{op=\"swap\"}",
        "munjigi_store_operation_duration_seconds_count{op=\"tracked\"}",
    ] {
        assert!(
            sample(text, series).unwrap_or(0.0) >= 1.0,
            "{series} in:\n{text}"
        );
    }
    assert!(
        !text.contains("munjigi_store_errors_total{"),
        "no store errors:\n{text}"
    );
    for key in ["es256", "rs256"] {
        let age = sample(text, &format!("munjigi_key_age_seconds{{key=\"{key}\"}}"));
        assert!(
            age.is_some_and(|a| (0.0..3600.0).contains(&a)),
            "{key}: {age:?}"
        );
    }
    let polls = sample(
        text,
        "munjigi_provider_call_duration_seconds_count{provider=\"kakao\",call=\"status\"}",
    )
    .unwrap_or(0.0);
    assert!(polls >= 2.0, "at least one status read per login:\n{text}");

    // Nothing personal, in any spelling.
    for who in [&HONG, &refuser] {
        let digits: String = who.phone.chars().filter(char::is_ascii_digit).collect();
        let birth: String = who.birthdate.chars().filter(char::is_ascii_digit).collect();
        for needle in [who.name, who.phone, &digits, who.birthdate, &birth] {
            assert!(!text.contains(needle), "{needle:?} in the metrics");
        }
    }

    // The public port does not serve them; the admin port serves nothing else.
    let public = scraper.get(&format!("{}/metrics", gw.url)).await;
    assert_eq!(public.status, 404, "{}", public.body);
    let other = scraper
        .get(&format!("http://127.0.0.1:{admin_port}/login"))
        .await;
    assert_eq!(other.status, 404);
}
