//! Configuration reload without a restart: a good file is swapped in (a provider
//! added appears in the chooser, a removed one fails its pending login with a
//! clear page), a bad file is refused with file:line errors while the old
//! configuration keeps serving.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn hup(p: &Proc) {
    assert!(Command::new("kill")
        .arg("-HUP")
        .arg(p.pid().to_string())
        .status()
        .unwrap()
        .success());
}

/// Waits until the gateway logged a line containing `what`; returns the lines seen.
async fn until_logged(p: &Proc, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    while !seen.contains(what) {
        assert!(
            Instant::now() < deadline,
            "gateway never logged {what:?}; saw:\n{seen}"
        );
        seen.push_str(&p.drain().join("\n"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen
}

/// Waits until a new login's chooser does (or does not) offer `provider`: the
/// reload is asynchronous, and log lines of earlier reloads may still be queued.
async fn until_offered(site: &Site, provider: &str, offered: bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (p, _) = chooser(&mut Browser::new(None), site).await;
        if p.body.contains(&format!("data-provider=\"{provider}\"")) == offered {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{provider} offered != {offered} after the reload"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn chooser(b: &mut Browser, site: &Site) -> (Page, String) {
    b.forget_cookies();
    b.follow(&format!("{}/login", site.url)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_and_file_changes_reload_the_config_and_a_bad_file_is_refused() {
    let dir = TempDir::new("reload");
    let (_sim, sim_url) = start_simulator(
        dir.path(),
        &SimOpts {
            approve_after_ms: 60_000,
            ..SimOpts::default()
        },
    );
    let (port, redirect) = site_port_and_redirect();
    let first = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect,
            ..GatewayOpts::default()
        },
    );
    let original = std::fs::read_to_string(&first.config).unwrap();
    drop(first);
    // Only Kakao at first.
    let only_kakao = original.replace(
        "[policies.standard]\n",
        "[policies.standard]\nproviders = [\"kakao\"]\n",
    );
    let file = dir.path().join("gateway.toml");
    std::fs::write(&file, &only_kakao).unwrap();
    let mut cmd = Command::new(munjigi_bin());
    cmd.arg("serve").arg("--config").arg(&file);
    let (gw, line) = Proc::start("gateway", cmd, "munjigi listening on");
    let url = line.split(" as ").nth(1).unwrap().trim().to_owned();
    let site = start_site(port, &url, "client_secret_basic", None);
    let mut b = Browser::new(None);
    let (page, _) = chooser(&mut b, &site).await;
    assert!(
        page.body.contains("data-provider=\"kakao\"")
            && !page.body.contains("data-provider=\"naver\"")
    );

    // A login pending with Naver is about to lose its provider; start it under a
    // config that has Naver.
    std::fs::write(&file, &original).unwrap();
    hup(&gw);
    until_logged(&gw, "configuration reloaded").await;
    let (page, chooser_url) = chooser(&mut b, &site).await;
    assert!(
        page.body.contains("data-provider=\"naver\""),
        "a provider added appears without a restart"
    );
    let wait_url = pick_provider_and_submit(&mut b, &chooser_url, "naver", &HONG).await;
    let base = wait_url.trim_end_matches("/wait").to_owned();

    // A login that began under the wider policy keeps it after a narrower one is
    // loaded; a login begun afterwards gets the new one.
    let mut early = Browser::new(None);
    let (_, early_chooser) = early.follow(&format!("{}/login", site.url)).await;
    std::fs::write(&file, &only_kakao).unwrap();
    hup(&gw);
    until_logged(&gw, "configuration reloaded").await;
    until_offered(&site, "naver", false).await; // new logins get the new policy
    let p = early.get(&early_chooser).await;
    assert!(
        p.body.contains("data-provider=\"naver\""),
        "the login keeps its policy snapshot"
    );
    std::fs::write(&file, &original).unwrap();
    hup(&gw);
    until_offered(&site, "naver", true).await;

    // A bad file is refused with its position; the old config keeps serving.
    std::fs::write(
        &file,
        original.replace(
            "[policies.standard]\n",
            "[policies.standard]\nproviders = [\"nope\"]\n",
        ),
    )
    .unwrap();
    hup(&gw);
    let logs = until_logged(&gw, "configuration refused").await;
    assert!(
        logs.contains("gateway.toml:") && logs.contains("no provider `nope`"),
        "{logs}"
    );
    assert_eq!(
        b.get(&wait_url).await.status,
        200,
        "still serving the previous config"
    );

    // Naver removed by editing the file (no signal): its pending login fails clearly.
    let mut without_naver = only_kakao.clone();
    let start = without_naver.find("[providers.naver]").unwrap();
    let end = without_naver[start + 1..]
        .find("\n[")
        .map_or(without_naver.len(), |i| start + 1 + i + 1);
    without_naver.replace_range(start..end, "");
    std::fs::write(&file, &without_naver).unwrap();
    until_logged(&gw, "configuration reloaded").await;
    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "failed", "{done}");
    let page = b.get(&format!("{base}/wait")).await;
    assert!(page.body.contains("MJ-P12"), "{}", page.body);
    let (page, _) = chooser(&mut b, &site).await;
    assert!(!page.body.contains("data-provider=\"naver\""));
}
