//! Many replicas on one real Redis: consecutive requests of one login go to
//! different gateway processes, and the login completes exactly once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;
use std::process::Command;

/// Another replica with the same config (same issuer, keys, Redis), its own port.
fn replica(config: &std::path::Path, name: &str, public: &str) -> (Proc, String) {
    let text = std::fs::read_to_string(config).unwrap();
    assert!(text.contains(&format!("public_url = \"{public}\"")));
    start_replica(config, name)
}

fn on(url: &str, host: &str) -> String {
    let path_at = url
        .find("/login/")
        .or_else(|| url.find("/authorize"))
        .unwrap();
    format!("{host}{}", &url[path_at..])
}

/// The `[store]` section of one Redis on `port`.
fn single_redis(port: u16) -> String {
    format!("\n[store]\nkind = \"redis\"\nurl = {{ value = \"redis://127.0.0.1:{port}\" }}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_login_hops_across_three_replicas_sharing_redis() {
    let redis = start_redis();
    let redis_port = redis.port;
    hop_across_replicas(&single_redis(redis_port), Some(redis_port), false).await;
}

/// Replica B writes login records compact (`compact_logins = true`), A and C
/// plain, as while an operator turns compact records on one replica at a
/// time: each reads what the others wrote, and B's record is compact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_login_hops_between_compact_and_plain_replicas() {
    let redis = start_redis();
    let redis_port = redis.port;
    hop_across_replicas(&single_redis(redis_port), Some(redis_port), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_login_hops_across_three_replicas_on_a_redis_cluster() {
    let cluster = start_cluster();
    let port = cluster.seed;
    hop_across_replicas(&format!(
        "\n[store]\nkind = \"redis\"\ncluster = true\nurl = {{ value = \"redis://127.0.0.1:{port}\" }}\n"
    ), None, false)
    .await;
}

/// `measure`: the port of a single Redis, to report bytes per pending login.
/// `compact_b`: replica B writes login records compact.
async fn hop_across_replicas(store: &str, measure: Option<u16>, compact_b: bool) {
    let dir = TempDir::new("replicas");
    // With B compact, the provider waits long enough for the record B wrote
    // to be read before anyone writes it again.
    let sim = if compact_b {
        SimOpts {
            approve_after_ms: 3000,
            ..SimOpts::default()
        }
    } else {
        SimOpts::default()
    };
    let (_sim, sim_url) = start_simulator(dir.path(), &sim);
    let (site_port, redirect) = site_port_and_redirect();
    let store = store.to_owned();
    let a = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect,
            extra: store,
            ..GatewayOpts::default()
        },
    );
    let (_b, b_url) = if compact_b {
        let text = std::fs::read_to_string(&a.config).unwrap();
        assert!(text.contains("kind = \"redis\"\n"));
        let compact = a.config.with_file_name("gateway-compact.toml");
        let text = text.replace(
            "kind = \"redis\"\n",
            "kind = \"redis\"\ncompact_logins = true\n",
        );
        std::fs::write(&compact, text).unwrap();
        replica(&compact, "b", &a.url)
    } else {
        replica(&a.config, "b", &a.url)
    };
    let (_c, c_url) = replica(&a.config, "c", &a.url);
    let site = start_site(site_port, &a.url, "client_secret_basic", None);

    let mut br = Browser::new(None);
    // The site sends the browser to A (the public URL): A creates the login in Redis.
    let p = br.get(&format!("{}/login", site.url)).await;
    let authorize = p.location.unwrap();
    let p = br.get(&authorize).await;
    assert_eq!(p.status, 303);
    let login = p.location.unwrap();
    let base_path = &login[login.find("/login/").unwrap()..];
    // Chooser on B, form on C, push started on B.
    let chooser = br.get(&on(&login, &b_url)).await;
    assert_eq!(chooser.status, 200, "B serves A's login");
    let form = br
        .get(&format!("{c_url}{base_path}/identify?provider=kakao"))
        .await;
    assert_eq!(form.status, 200, "C serves it too");
    let csrf = form.input_value("csrf").unwrap();
    let r = br
        .post(
            &format!("{b_url}{base_path}/start"),
            &[
                ("csrf", &csrf),
                ("provider", "kakao"),
                ("name", HONG.name),
                ("birthdate", HONG.birthdate),
                ("phone", HONG.phone),
                ("consent", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    if let Some(port) = measure {
        // What a pending login costs in Redis: 2 KB at most as plain JSON;
        // compact, its record leaves room within 1 KB for its entry in the
        // pending set (`./deploy/bench pending` measures the whole).
        let id = base_path.trim_start_matches("/login/");
        let raw = Command::new("redis-cli")
            .args([
                "-p",
                &port.to_string(),
                "--no-raw",
                "GET",
                &format!("mj:{{{id}}}:txn"),
            ])
            .output()
            .unwrap();
        let raw = String::from_utf8_lossy(&raw.stdout);
        // B started the push, so B wrote the record last.
        assert_eq!(raw.starts_with("\"\\x00MJ\\x01"), compact_b, "{raw}");
        let out = Command::new("redis-cli")
            .args([
                "-p",
                &port.to_string(),
                "MEMORY",
                "USAGE",
                &format!("mj:{{{id}}}:txn"),
            ])
            .output()
            .unwrap();
        let bytes: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let len = Command::new("redis-cli")
            .args([
                "-p",
                &port.to_string(),
                "STRLEN",
                &format!("mj:{{{id}}}:txn"),
            ])
            .output()
            .unwrap();
        let len: usize = String::from_utf8_lossy(&len.stdout).trim().parse().unwrap();
        eprintln!(
            "pending login in Redis: {len} bytes, {bytes} with the key (MEMORY USAGE), compact: {compact_b}"
        );
        if compact_b {
            // The allocator's size classes move MEMORY USAGE in steps.
            assert!(len < 700 && bytes < 1024, "{len} / {bytes} bytes");
        } else {
            assert!(bytes < 2048, "{bytes} bytes");
        }
    }
    // Status on C, then on A.
    let done = wait_done(&mut br, &format!("{c_url}{base_path}")).await;
    assert_eq!(done["state"], "completed");
    // Continue on A and B at once: exactly one code is issued.
    let on_a = format!("{}{base_path}/continue", a.url);
    let on_b = format!("{b_url}{base_path}/continue");
    let mut b2 = Browser::new(None);
    b2.set_cookie("mj_b", &br.cookie("mj_b").unwrap().clone());
    let (ra, rb) = tokio::join!(br.get(&on_a), b2.get(&on_b));
    let codes = [&ra, &rb]
        .iter()
        .filter(|p| p.location.as_deref().is_some_and(|l| l.contains("code=")))
        .count();
    assert_eq!(
        codes, 1,
        "one login, one code: A {} {:?} / B {} {:?}",
        ra.status, ra.location, rb.status, rb.location
    );
    let winner = if ra.location.as_deref().is_some_and(|l| l.contains("code=")) {
        ra
    } else {
        rb
    };
    // The site redeems the code at A (token) and reads userinfo.
    let (page, _) = br.follow(&winner.location.unwrap()).await;
    let j = page.json();
    assert_eq!(j["id_token_claims"]["name"], "홍길동", "{j}");
    // Replay of the code via the site fails on every replica (the code is gone from Redis).
    let replay = br.get(&format!("{}/replay", site.url)).await.json();
    assert_eq!(replay["body"]["error"], "invalid_grant");
}

/// One login driven by hand (the test is both browser and site), spread over replicas.
struct Login {
    browser: Browser,
    path: String,
    verifier: String,
}

fn pkce() -> (String, String) {
    use base64::Engine as _;
    let mut raw = [0u8; 32];
    openssl::rand::rand_bytes(&mut raw).unwrap();
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(openssl::sha::sha256(verifier.as_bytes()));
    (verifier, challenge)
}

/// Sends to the first replica that is up (what a load balancer does).
async fn get_any(b: &mut Browser, replicas: &[String], path: &str) -> Page {
    for r in replicas {
        if std::net::TcpStream::connect(r.trim_start_matches("http://")).is_ok() {
            return b.get(&format!("{r}{path}")).await;
        }
    }
    panic!("no replica up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_during_200_pending_logins_loses_none_and_doubles_none() {
    const LOGINS: usize = 200;
    let dir = TempDir::new("restart");
    let redis = start_redis();
    let redis_port = redis.port;
    let (_sim, sim_url) = start_simulator(
        dir.path(),
        &SimOpts {
            approve_after_ms: 4000,
            people: vec![],
        },
    );
    let redirect = "http://127.0.0.1:9/cb".to_owned();
    let store = single_redis(redis_port);
    let a = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect.clone(),
            extra: store,
            ..GatewayOpts::default()
        },
    );
    let (mut b_proc, b_url) = replica(&a.config, "b", &a.url);
    let (_c, c_url) = replica(&a.config, "c", &a.url);
    let replicas = [a.url.clone(), b_url.clone(), c_url.clone()];
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();

    // Start 200 logins, each step on the next replica round-robin, until pending.
    let mut logins = Vec::new();
    for i in 0..LOGINS {
        let mut b = Browser::new(None);
        let at = |k: usize| replicas[(i + k) % 3].clone();
        let (verifier, challenge) = pkce();
        let p = b
            .get(&format!("{}/authorize?response_type=code&client_id=town&scope=openid&state=s{i}&nonce=n{i}&code_challenge={challenge}&code_challenge_method=S256&redirect_uri={}", at(0), enc(&redirect)))
            .await;
        let loc = p
            .location
            .unwrap_or_else(|| panic!("authorize: {} {}", p.status, p.body));
        let path = loc[loc.find("/login/").unwrap()..].to_owned();
        let form = b
            .get(&format!("{}{path}/identify?provider=kakao", at(1)))
            .await;
        let csrf = form.input_value("csrf").unwrap();
        let phone = format!("010-{:04}-{:04}", 2000 + i / 10000, i % 10000);
        let r = b
            .post(
                &format!("{}{path}/start", at(2)),
                &[
                    ("csrf", &csrf),
                    ("provider", "kakao"),
                    ("name", "홍길동"),
                    ("birthdate", "1990-01-31"),
                    ("phone", &phone),
                    ("consent", "yes"),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "start {i}: {}", r.body);
        logins.push(Login {
            browser: b,
            path,
            verifier,
        });
    }
    let started = logins.len();

    // Long polls in flight on B when it is told to stop: they must still be answered.
    let mut in_flight = Vec::new();
    for l in logins.iter().take(5) {
        let mut b = Browser::new(None);
        b.set_cookie("mj_b", l.browser.cookie("mj_b").unwrap());
        let url = format!("{b_url}{}/status?wait=15", l.path);
        in_flight.push(tokio::spawn(async move { b.get(&url).await.status }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    b_proc.terminate();
    let exit = tokio::task::spawn_blocking(move || {
        let s = b_proc.wait_exit(std::time::Duration::from_secs(40));
        (s, b_proc)
    })
    .await
    .unwrap();
    assert!(
        exit.0.is_some_and(|s| s.success()),
        "replica B exits 0 after draining: {:?}",
        exit.0
    );
    for h in in_flight {
        assert_eq!(
            h.await.unwrap(),
            200,
            "in-flight long poll on B answered during the drain"
        );
    }

    // Finish every login through whatever replica is up, 20 at a time.
    let replicas = std::sync::Arc::new(replicas);
    let redirect = std::sync::Arc::new(redirect);
    let mut outcomes = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, l) in logins.into_iter().enumerate() {
        if tasks.len() >= 20 {
            outcomes.push(tasks.join_next().await.unwrap().unwrap());
        }
        tasks.spawn(finish(i, l, replicas.clone(), redirect.clone()));
    }
    while let Some(o) = tasks.join_next().await {
        outcomes.push(o.unwrap());
    }
    let completed = outcomes
        .iter()
        .filter(|o| **o == Outcome::Completed)
        .count();
    let doubled = outcomes.iter().filter(|o| **o == Outcome::Doubled).count();
    let lost = outcomes.iter().filter(|o| **o == Outcome::Lost).count();
    eprintln!(
        "rolling restart: started {started}, completed {completed}, lost {lost}, doubled {doubled}"
    );
    assert_eq!((completed, lost, doubled), (LOGINS, 0, 0));
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Completed,
    Doubled,
    Lost,
}

async fn finish(
    i: usize,
    mut l: Login,
    replicas: std::sync::Arc<[String; 3]>,
    redirect: std::sync::Arc<String>,
) -> Outcome {
    let order: Vec<String> = (0..3).map(|k| replicas[(i + k) % 3].clone()).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let state = loop {
        let s = get_any(&mut l.browser, &order, &format!("{}/status?wait=5", l.path))
            .await
            .json();
        let st = s["state"].as_str().unwrap().to_owned();
        if st != "pending" && st != "viewed" || std::time::Instant::now() > deadline {
            break st;
        }
    };
    if state != "completed" {
        return Outcome::Lost;
    }
    let first = get_any(&mut l.browser, &order, &format!("{}/continue", l.path)).await;
    let second = get_any(&mut l.browser, &order, &format!("{}/continue", l.path)).await;
    let code_of = |p: &Page| {
        p.location
            .as_deref()
            .filter(|u| u.contains("code="))
            .map(|u| {
                u.split("code=")
                    .nth(1)
                    .unwrap()
                    .split('&')
                    .next()
                    .unwrap()
                    .to_owned()
            })
    };
    let codes: Vec<String> = [code_of(&first), code_of(&second)]
        .into_iter()
        .flatten()
        .collect();
    if codes.len() > 1 {
        return Outcome::Doubled;
    }
    let Some(code) = codes.first() else {
        return Outcome::Lost;
    };
    let t = l
        .browser
        .post(
            &format!("{}/token", replicas[0]),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &redirect),
                ("code_verifier", &l.verifier),
                ("client_id", "town"),
                ("client_secret", CLIENT_SECRET),
            ],
        )
        .await;
    if t.status == 200 {
        Outcome::Completed
    } else {
        Outcome::Lost
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_is_a_retry_page_and_logins_resume_without_a_restart() {
    let dir = TempDir::new("outage");
    let port = free_port();
    let data = dir.path().join("redis-data");
    std::fs::create_dir_all(&data).unwrap();
    let redis = |data: &std::path::Path| {
        let args = [
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
        ];
        let mut args: Vec<&std::ffi::OsStr> = args.map(std::ffi::OsStr::new).to_vec();
        args.push(data.as_os_str());
        start_redis_on(port, &args)
    };
    let first = redis(&data);
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let (site_port, redirect) = site_port_and_redirect();
    let store = format!("\n[store]\nkind = \"redis\"\nurl = {{ value = \"redis://127.0.0.1:{port}\" }}\ntimeout_ms = 500\n");
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect,
            extra: store,
            ..GatewayOpts::default()
        },
    );
    let site = start_site(site_port, &gw.url, "client_secret_basic", None);
    // One citizen completes a login before the outage (their session must survive it).
    let mut done_before = Browser::new(None);
    let (_, url) = done_before.follow(&format!("{}/login", site.url)).await;
    let w = pick_and_submit(&mut done_before, &url, &HONG).await;
    let wbase = w.trim_end_matches("/wait").to_owned();
    let d = wait_done(&mut done_before, &wbase).await;
    let (p, _) = done_before
        .follow(&absolute(&wbase, d["next"].as_str().unwrap()))
        .await;
    assert_eq!(p.status, 200);
    // Another is in the middle of one.
    let mut b = Browser::new(None);
    let (chooser, chooser_url) = b.follow(&format!("{}/login", site.url)).await;
    assert_eq!(chooser.status, 200);
    assert_eq!(b.get(&format!("{}/readyz", gw.url)).await.status, 200);

    drop(first); // Redis goes away mid-login.
    let p = b.get(&chooser_url).await;
    assert_eq!(p.status, 503, "{}", p.body);
    assert!(p.body.contains("MJ-S01"));
    assert!(
        p.body.contains(&format!(
            "href=\"{}\"",
            chooser_url.trim_start_matches(&gw.url)
        )),
        "the page offers to retry the same step: {}",
        p.body
    );
    assert_eq!(b.get(&format!("{}/readyz", gw.url)).await.status, 503);
    let mut api = Browser::new(None);
    let t = api
        .post(
            &format!("{}/token", gw.url),
            &[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("redirect_uri", &site.redirect_uri),
                ("client_id", "town"),
                ("client_secret", CLIENT_SECRET),
            ],
        )
        .await;
    assert_eq!(
        (t.status, t.json()["error"].as_str()),
        (503, Some("temporarily_unavailable")),
        "sites get a typed error"
    );

    let _second = redis(&data); // Back, with its append-only file: the login is still there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while b.get(&format!("{}/readyz", gw.url)).await.status != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "gateway did not recover"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let wait_url = pick_and_submit(&mut b, &chooser_url, &HONG).await;
    let base = wait_url.trim_end_matches("/wait").to_owned();
    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "completed");
    let (page, _) = b
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(page.json()["id_token_claims"]["name"], "홍길동");
    // The session completed before the outage survived it (append-only file):
    // the next login is answered without a new push.
    let (p, url) = done_before.follow(&format!("{}/login", site.url)).await;
    assert!(
        !url.contains("/login/"),
        "answered from the surviving session, not the chooser: {url}"
    );
    assert_eq!(p.json()["id_token_claims"]["name"], "홍길동");
    let logs = gw.proc.drain().join("\n");
    assert!(!logs.contains("panicked"), "no panic during the outage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_replica_is_effective_on_every_replica_within_a_second() {
    let dir = TempDir::new("logout-replicas");
    let redis = start_redis();
    let redis_port = redis.port;
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let (site_port, redirect) = site_port_and_redirect();
    let store = single_redis(redis_port);
    let a = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect,
            extra: store,
            ..GatewayOpts::default()
        },
    );
    let (_b, b_url) = replica(&a.config, "b", &a.url);
    let site = start_site(site_port, &a.url, "client_secret_basic", None);
    let mut br = Browser::new(None);
    // Log in through A.
    let (_, chooser_url) = br.follow(&format!("{}/login", site.url)).await;
    let wait_url = pick_and_submit(&mut br, &chooser_url, &HONG).await;
    let base = wait_url.trim_end_matches("/wait").to_owned();
    let done = wait_done(&mut br, &base).await;
    let (page, _) = br
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, 200);
    // B answers the next login from the shared session (and caches it for ≤ 1 s).
    let authorize_on_b = |loc: String| on(&loc, &b_url);
    let loc = br
        .get(&format!("{}/login", site.url))
        .await
        .location
        .unwrap();
    let p = br.get(&authorize_on_b(loc)).await;
    assert!(
        p.location.as_deref().is_some_and(|l| l.contains("code=")),
        "single sign-on through B: {:?}",
        p.location
    );
    // Log out on A (confirmed by the citizen); after the L1 bound, B must not
    // find the session any more.
    let ask = br.get(&format!("{}/logout", a.url)).await;
    let csrf = ask.input_value("csrf").unwrap();
    let out = br
        .post(&format!("{}/logout", a.url), &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let loc = br
        .get(&format!("{}/login", site.url))
        .await
        .location
        .unwrap();
    let p = br.get(&authorize_on_b(loc)).await;
    let l = p.location.unwrap();
    assert!(
        l.contains("/login/") && !l.contains("code="),
        "after logout B asks for a new login: {l}"
    );
}
