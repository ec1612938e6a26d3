//! Gateway CPU per completed OIDC login (the budget in ARCHITECTURE.md "Budgets":
//! ≤ 0.18 ms per login, provider wait excluded).
//!
//! Starts the real simulator (approving at once) and the real gateway as
//! processes, then plays whole logins over HTTP: the harness `Browser` is the
//! citizen (authorize, chooser, identify form, start, status, continue) and a
//! plain HTTP client is the site (token with `client_secret_basic`, userinfo with
//! the bearer token). The gateway's CPU time is read from `/proc/<pid>/stat`
//! before and after the measured logins (after an uncounted warm-up).
//!
//! Measurement only: nothing here asserts on speed, only that every login works.
//!
//! Environment: `LOGINS` (default 1000), `CONCURRENCY` (default 8), `WARMUP`
//! (default 20), `MUNJIGI_BIN` (the binary; the release build via `deploy/bench`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use munjigi_e2e::bench::env_usize;
use munjigi_e2e::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The budget: gateway CPU per completed login, in microseconds.
const BUDGET_US: f64 = 180.0;
/// The registered redirect URI: never followed, the code is read from the Location.
const REDIRECT: &str = "http://127.0.0.1:9/cb";

type SiteClient = Client<HttpConnector, Full<Bytes>>;

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn random_b64url(n: usize) -> String {
    let mut buf = vec![0u8; n];
    openssl::rand::rand_bytes(&mut buf).unwrap();
    b64url(&buf)
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// One back-channel request of the site; returns status and body.
async fn site_call(client: &SiteClient, req: http::Request<Full<Bytes>>) -> (u16, String) {
    let uri = req.uri().to_string();
    let resp = tokio::time::timeout(Duration::from_secs(40), client.request(req))
        .await
        .unwrap_or_else(|_| panic!("timeout: {uri}"))
        .unwrap_or_else(|e| panic!("request to {uri} failed: {e:?}"));
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The claims of a JWT, unverified (the gateway's signature is not the point here).
fn jwt_claims(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has three parts");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&raw).unwrap()
}

/// The person of login `i`, one of `people`: the simulator approves unknown
/// people but issues each new one a certificate (an RSA key generation, about a
/// quarter second of its CPU), so the people are met first in the warm-up and
/// then come back, each time with a fresh browser (no gateway session).
fn phone_for(i: usize, people: usize) -> String {
    format!("010{:08}", 20_000_000 + i % people.max(1))
}

/// One whole login, site and browser; returns how many `/status` calls it took.
async fn login(gw: &str, site: &SiteClient, i: usize, people: usize) -> usize {
    // Site: state, nonce and a PKCE verifier (S256).
    let state = random_b64url(16);
    let nonce = random_b64url(16);
    let verifier = random_b64url(32);
    let challenge = b64url(&openssl::sha::sha256(verifier.as_bytes()));
    let authorize = format!(
        "{gw}/authorize?response_type=code&client_id=town&scope=openid&redirect_uri={}\
         &state={state}&nonce={nonce}&code_challenge={challenge}&code_challenge_method=S256",
        enc(REDIRECT)
    );

    // Browser: a fresh one per login, so no gateway session answers it.
    let mut b = Browser::new(None);
    let (chooser, chooser_url) = b.follow(&authorize).await;
    assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
    assert!(chooser_url.contains("/login/"), "chooser at {chooser_url}");
    let phone = phone_for(i, people);
    let who = Citizen {
        name: HONG.name,
        birthdate: HONG.birthdate,
        phone: &phone,
    };
    let wait_url = pick_and_submit(&mut b, &chooser_url, &who).await;
    let base = wait_url.trim_end_matches("/wait").to_owned();

    // Status until completed: the first call normally does the one upstream poll
    // and sees the approval; if the poll claim was taken, `wait=5` long-polls.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut polls = 0;
    loop {
        polls += 1;
        let s = b.get(&format!("{base}/status?wait=5")).await;
        assert_eq!(s.status, 200, "status: {}", s.body);
        let j = s.json();
        match j["state"].as_str() {
            Some("completed") => break,
            Some("pending" | "viewed") => {}
            _ => panic!("login {i} did not complete: {j}"),
        }
        assert!(Instant::now() < deadline, "login {i} still pending");
    }

    // Continue: verify the provider's result and get the code in the Location.
    let p = b.get(&format!("{base}/continue")).await;
    assert_eq!(p.status, 303, "continue: {}", p.body);
    let loc = p.location.expect("continue redirects to the site");
    assert!(loc.starts_with(REDIRECT), "redirect to {loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some(state.as_str()));
    let code = query_param(&loc, "code").unwrap_or_else(|| panic!("no code in {loc}"));

    // Site: the token request (client_secret_basic) ...
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        enc("town"),
        enc(CLIENT_SECRET)
    ));
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code_verifier", &verifier)
        .finish();
    let req = http::Request::post(format!("{gw}/token"))
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form)))
        .unwrap();
    let (status, body) = site_call(site, req).await;
    assert_eq!(status, 200, "token: {body}");
    let tokens: serde_json::Value = serde_json::from_str(&body).unwrap();
    let at = tokens["access_token"].as_str().expect("access_token");
    let claims = jwt_claims(tokens["id_token"].as_str().expect("id_token"));
    assert_eq!(claims["nonce"], nonce.as_str());
    assert_eq!(claims["aud"], "town");

    // ... and userinfo with the bearer token.
    let req = http::Request::get(format!("{gw}/userinfo"))
        .header("authorization", format!("Bearer {at}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, body) = site_call(site, req).await;
    assert_eq!(status, 200, "userinfo: {body}");
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["sub"], claims["sub"]);
    polls
}

/// Logins `from..to` on `concurrency` tasks; returns the total `/status` calls.
async fn run(
    gw: &str,
    site: &SiteClient,
    (from, to): (usize, usize),
    concurrency: usize,
    people: usize,
) -> usize {
    let next = Arc::new(AtomicUsize::new(from));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let next = next.clone();
        let gw = gw.to_owned();
        let site = site.clone();
        tasks.spawn(async move {
            let mut polls = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= to {
                    return polls;
                }
                polls += login(&gw, &site, i, people).await;
            }
        });
    }
    let mut polls = 0;
    while let Some(r) = tasks.join_next().await {
        polls += r.unwrap_or_else(|e| panic!("a login task failed: {e}"));
    }
    polls
}

/// (utime, stime) of a process, in clock ticks (`/proc/<pid>/stat` fields 14, 15).
fn cpu_ticks(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &s[s.rfind(')').unwrap() + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    (f[11].parse().unwrap(), f[12].parse().unwrap())
}

/// A finer cross-check: the scheduler's run time of every live thread, in ns
/// (`se.sum_exec_runtime` in `/proc/<pid>/task/*/sched`, when the kernel has it).
fn sched_ns(pid: u32) -> Option<(u64, Vec<String>)> {
    let mut total = 0u64;
    let mut tids = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let t = t.ok()?;
        let Ok(s) = std::fs::read_to_string(t.path().join("sched")) else {
            continue; // the thread ended meanwhile
        };
        let line = s.lines().find(|l| l.starts_with("se.sum_exec_runtime"))?;
        let ms: f64 = line.split(':').nth(1)?.trim().parse().ok()?;
        total += (ms * 1e6) as u64;
        tids.push(t.file_name().to_string_lossy().into_owned());
    }
    tids.sort();
    Some((total, tids))
}

fn clk_tck() -> u64 {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok();
    match out
        .as_ref()
        .and_then(|o| std::str::from_utf8(&o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
    {
        Some(t) => t,
        None => {
            eprintln!("`getconf CLK_TCK` failed; assuming 100");
            100
        }
    }
}

fn main() {
    let logins = env_usize("LOGINS", 1000);
    let concurrency = env_usize("CONCURRENCY", 8);
    let warmup = env_usize("WARMUP", 20);
    let people = warmup.max(concurrency).max(1);
    let tck = clk_tck();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let dir = TempDir::new("bench");
    let sim_opts = SimOpts {
        approve_after_ms: 0,
        people: Vec::new(),
    };
    let (sim, sim_url) = start_simulator(dir.path(), &sim_opts);
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: REDIRECT.to_owned(),
            ..GatewayOpts::default()
        },
    );
    let gw_pid = gw.proc.pid();
    println!("binary:      {}", munjigi_bin().display());
    println!("gateway:     {} (pid {gw_pid})", gw.url);
    println!(
        "logins:      {logins} measured after {warmup} warm-up, concurrency {concurrency}, \
         {people} people"
    );

    let site: SiteClient = Client::builder(TokioExecutor::new()).build_http();
    rt.block_on(async {
        run(&gw.url, &site, (0, warmup), concurrency, people).await;
    });
    let warm_lines = gw.proc.drain().len();

    // What the gateway burns doing nothing, to tell per-login work from background.
    let idle_secs = 2.0;
    let i0 = sched_ns(gw_pid);
    std::thread::sleep(Duration::from_secs_f64(idle_secs));
    let i1 = sched_ns(gw_pid);

    let t0 = cpu_ticks(gw_pid);
    let s0 = cpu_ticks(sim.pid());
    let n0 = sched_ns(gw_pid);
    let start = Instant::now();
    let polls = rt.block_on(run(
        &gw.url,
        &site,
        (warmup, warmup + logins),
        concurrency,
        people,
    ));
    let wall = start.elapsed();
    let t1 = cpu_ticks(gw_pid);
    let s1 = cpu_ticks(sim.pid());
    let n1 = sched_ns(gw_pid);

    let lines = gw.proc.drain();
    let odd: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();

    let ms_per_tick = 1000.0 / tck as f64;
    let (user, sys) = (t1.0 - t0.0, t1.1 - t0.1);
    let ticks = user + sys;
    let gw_ms = ticks as f64 * ms_per_tick;
    let sim_ms = ((s1.0 + s1.1) - (s0.0 + s0.1)) as f64 * ms_per_tick;
    let n = logins.max(1) as f64;
    let us_per_login = gw_ms * 1000.0 / n;
    let wall_s = wall.as_secs_f64();

    println!();
    println!("== login_cpu: completed OIDC logins, simulator approving at once");
    println!("logins:                    {logins}");
    println!("concurrency:               {concurrency}");
    println!("wall time:                 {wall_s:.3} s");
    println!("logins/s:                  {:.1}", n / wall_s);
    println!(
        "status calls:              {polls} ({:.2} per login)",
        polls as f64 / n
    );
    println!(
        "gateway CPU total:         {gw_ms:.1} ms ({ticks} ticks at {tck} Hz, ±{ms_per_tick:.0} ms; \
         user {:.0} ms, system {:.0} ms)",
        user as f64 * ms_per_tick,
        sys as f64 * ms_per_tick
    );
    println!(
        "gateway CPU per login:     {us_per_login:.1} µs (resolution ±{:.1} µs)",
        ms_per_tick * 1000.0 / n
    );
    if let (Some((a, ta)), Some((b, tb))) = (&n0, &n1) {
        let same = if ta == tb {
            String::new()
        } else {
            format!(
                " (threads changed: {} → {}, may miss ended threads)",
                ta.len(),
                tb.len()
            )
        };
        println!(
            "  cross-check (sched):     {:.1} µs per login{same}",
            b.saturating_sub(*a) as f64 / 1000.0 / n
        );
    }
    if let (Some((a, _)), Some((b, _))) = (&i0, &i1) {
        let idle_us_per_s = b.saturating_sub(*a) as f64 / 1000.0 / idle_secs;
        println!(
            "  of which idle:           {:.1} µs per login ({idle_us_per_s:.0} µs/s at rest)",
            idle_us_per_s * wall_s / n
        );
    }
    println!(
        "budget:                    ≤ {BUDGET_US:.0} µs per login: {} ({:.2}× the budget)",
        if us_per_login <= BUDGET_US {
            "within"
        } else {
            "OVER"
        },
        us_per_login / BUDGET_US
    );
    println!(
        "  implied capacity:        {:.0} logins/s per gateway core",
        if us_per_login > 0.0 {
            1e6 / us_per_login
        } else {
            f64::INFINITY
        }
    );
    println!(
        "simulator CPU per login:   {:.1} µs (not counted)",
        sim_ms * 1000.0 / n
    );
    println!(
        "gateway log lines:         {:.1} per login ({warm_lines} in warm-up)",
        lines.len() as f64 / n
    );
    if !odd.is_empty() {
        println!("gateway warnings/errors:   {}", odd.len());
        for l in odd.iter().take(5) {
            println!("  {l}");
        }
    }
    drop(gw);
    drop(sim);
}
