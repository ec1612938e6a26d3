//! Gateway CPU per completed OIDC login, provider wait excluded; with
//! `COMPARE=1`, against node oidc-provider doing the same protocol work in the
//! same run (the goal, README "Performance": at least 10× less CPU per login).
//!
//! Starts the real simulator (approving at once) and the real gateway as
//! processes, then plays whole logins over HTTP: the harness `Browser` is the
//! citizen (authorize, chooser, identify form, start, status, continue) and a
//! plain HTTP client is the site (token with `client_secret_basic`, userinfo with
//! the bearer token). The gateway's CPU time is read from `/proc/<pid>/stat`
//! before and after the measured logins (after an uncounted warm-up).
//!
//! The gateway is started on core 0 and the driver and the simulator run on
//! core 1. Besides CPU, the bench counts what a login costs in requests
//! (browser and site), store operations and provider calls (the gateway's own
//! counters, from its admin listener) and log lines.
//!
//! The peer (`COMPARE=1`): oidc-provider (`tests/peers/oidc-provider`) on core 0
//! too, driven by the same closed-loop client with a fresh browser per login,
//! the same site back channel (token with `client_secret_basic` and PKCE, ES256
//! ID token checked for nonce and audience, userinfo) and the same counting.
//! What differs is the front channel: the peer logs in and consents in one
//! interaction request (5 requests per login), while the gateway's citizen
//! picks a provider, fills the identity form and waits, and the gateway
//! verifies the provider's CMS-signed result (8 requests, plus 3 calls to the
//! provider). `ROUNDS` rounds (default 3 then, else 1) alternate the two.
//!
//! Latency under load: then logins arrive open-loop (a new one every 1/rate
//! seconds, however many are under way) at 50% and then 90% of the capacity
//! the rounds measured (1 / CPU per login, one core), and each request's time
//! as the client sees it is reported per step, p50 and p99. The provider
//! answers at once, so the times are the gateway's own, plus loopback.
//!
//! Measurement only: nothing here asserts on speed, only that every login works.
//!
//! Environment: `LOGINS` (per round, default 1000), `CONCURRENCY` (default 8),
//! `WARMUP` (default 20), `PEER_WARMUP` (default 2000: node's JIT),
//! `LATENCY_SECS` (default 10; 0 skips the latency phases), `COMPARE`,
//! `ROUNDS`, `MUNJIGI_BIN` (the binary; the release build via `deploy/bench`).

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
use munjigi_e2e::bench::*;
use munjigi_e2e::peers::start_oidc_provider;
use munjigi_e2e::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The goal against the peer: at least this many times less CPU per login.
const PEER_GOAL: f64 = 10.0;
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

/// One whole login, site and browser; returns how many `/status` calls it
/// took and the requests sent (browser and site).
async fn login(
    gw: &str,
    site: &SiteClient,
    i: usize,
    people: usize,
    steps: &mut Steps,
) -> (usize, usize) {
    // Site: state, nonce and a PKCE verifier (S256).
    let (authorize, state, nonce, verifier) = authorize_request(gw, "/authorize");

    // Browser: a fresh one per login, so no gateway session answers it.
    let mut b = Browser::new(None);
    let t = Instant::now();
    let first = b.get(&authorize).await;
    steps.push(("authorize", t.elapsed()));
    assert_eq!(first.status, 303, "authorize: {}", first.body);
    let t = Instant::now();
    let (chooser, chooser_url) = b.follow(first.location.as_deref().unwrap()).await;
    steps.push(("chooser", t.elapsed()));
    assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
    assert!(chooser_url.contains("/login/"), "chooser at {chooser_url}");
    let phone = phone_for(i, people);
    let who = Citizen {
        name: HONG.name,
        birthdate: HONG.birthdate,
        phone: &phone,
    };
    let login_base = chooser_url.split('?').next().unwrap().to_owned();
    let t = Instant::now();
    let form = b
        .get(&format!("{login_base}/identify?provider=kakao"))
        .await;
    steps.push(("identify form", t.elapsed()));
    assert_eq!(form.status, 200, "identify page: {}", form.body);
    let t = Instant::now();
    let started = post_identity(&mut b, &login_base, &form, "kakao", &who, &[]).await;
    steps.push(("start (provider call)", t.elapsed()));
    assert_eq!(started.status, 303, "start: {}", started.body);
    let wait_url = started.location.unwrap();
    let base = wait_url.trim_end_matches("/wait").to_owned();

    // Status until completed: the first call normally does the one upstream poll
    // and sees the approval; if the poll claim was taken, `wait=5` long-polls.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut polls = 0;
    loop {
        polls += 1;
        let t = Instant::now();
        let s = b.get(&format!("{base}/status?wait=5")).await;
        steps.push(("status (provider poll)", t.elapsed()));
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
    let t = Instant::now();
    let p = b.get(&format!("{base}/continue")).await;
    steps.push(("continue (result, CMS)", t.elapsed()));
    assert_eq!(p.status, 303, "continue: {}", p.body);
    let loc = p.location.expect("continue redirects to the site");
    assert!(loc.starts_with(REDIRECT), "redirect to {loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some(state.as_str()));
    let code = query_param(&loc, "code").unwrap_or_else(|| panic!("no code in {loc}"));

    site_token_and_userinfo(site, gw, "/userinfo", &code, &verifier, &nonce, steps).await;
    (polls, b.requests + 2)
}

/// Each request of a login and how long it took, as the client saw it.
type Steps = Vec<(&'static str, Duration)>;

/// The site's back channel after the redirect: the token request
/// (`client_secret_basic`, the PKCE verifier), the ID token's nonce and
/// audience, then userinfo with the access token. The same for the gateway
/// and the peer, but for the userinfo path.
async fn site_token_and_userinfo(
    site: &SiteClient,
    op: &str,
    userinfo_path: &str,
    code: &str,
    verifier: &str,
    nonce: &str,
    steps: &mut Steps,
) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        enc("town"),
        enc(CLIENT_SECRET)
    ));
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code_verifier", verifier)
        .finish();
    let req = http::Request::post(format!("{op}/token"))
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form)))
        .unwrap();
    let t = Instant::now();
    let (status, body) = site_call(site, req).await;
    steps.push(("token", t.elapsed()));
    assert_eq!(status, 200, "token: {body}");
    let tokens: serde_json::Value = serde_json::from_str(&body).unwrap();
    let at = tokens["access_token"].as_str().expect("access_token");
    let claims = jwt_claims(tokens["id_token"].as_str().expect("id_token"));
    assert_eq!(claims["nonce"], nonce);
    assert_eq!(claims["aud"], "town");

    let req = http::Request::get(format!("{op}{userinfo_path}"))
        .header("authorization", format!("Bearer {at}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let t = Instant::now();
    let (status, body) = site_call(site, req).await;
    steps.push(("userinfo", t.elapsed()));
    assert_eq!(status, 200, "userinfo: {body}");
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["sub"], claims["sub"]);
}

/// The site's authorization request with fresh state, nonce and PKCE:
/// (URL, state, nonce, verifier).
fn authorize_request(op: &str, path: &str) -> (String, String, String, String) {
    let state = random_b64url(16);
    let nonce = random_b64url(16);
    let verifier = random_b64url(32);
    let challenge = b64url(&openssl::sha::sha256(verifier.as_bytes()));
    let url = format!(
        "{op}{path}?response_type=code&client_id=town&scope=openid&redirect_uri={}\
         &state={state}&nonce={nonce}&code_challenge={challenge}&code_challenge_method=S256",
        enc(REDIRECT)
    );
    (url, state, nonce, verifier)
}

/// One whole login at the peer, node oidc-provider: authorize, the interaction
/// that logs in and consents at once, the resumed authorization (the code),
/// then the same back channel as the gateway's site. Returns the requests sent.
async fn peer_login(op: &str, site: &SiteClient) -> usize {
    let (authorize, state, nonce, verifier) = authorize_request(op, "/auth");
    let mut b = Browser::new(None);
    let mut url = authorize;
    for expect in ["/interaction/", "/auth/", REDIRECT] {
        let p = b.get(&url).await;
        assert_eq!(p.status, 303, "peer at {url}: {}", p.body);
        url = p.location.expect("a redirect");
        assert!(
            url.contains(expect),
            "peer: expected {expect}, went to {url}"
        );
    }
    assert_eq!(query_param(&url, "state").as_deref(), Some(state.as_str()));
    let code = query_param(&url, "code").unwrap_or_else(|| panic!("no code in {url}"));
    site_token_and_userinfo(site, op, "/me", &code, &verifier, &nonce, &mut Vec::new()).await;
    b.requests + 2
}

/// Who is logged in with: the gateway (with `people` citizens) or the peer.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Gateway,
    Peer,
}

/// What a batch of logins sent: `/status` calls and requests in all.
#[derive(Default, Clone, Copy)]
struct Sent {
    polls: usize,
    requests: usize,
}

/// Logins `from..to` on `concurrency` tasks, closed loop (each task starts
/// its next login when the last one ends).
async fn run(
    side: Side,
    url: &str,
    site: &SiteClient,
    (from, to): (usize, usize),
    concurrency: usize,
    people: usize,
) -> Sent {
    let next = Arc::new(AtomicUsize::new(from));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let next = next.clone();
        let url = url.to_owned();
        let site = site.clone();
        tasks.spawn(async move {
            let mut sent = Sent::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= to {
                    return sent;
                }
                match side {
                    Side::Gateway => {
                        let (polls, requests) =
                            login(&url, &site, i, people, &mut Vec::new()).await;
                        sent.polls += polls;
                        sent.requests += requests;
                    }
                    Side::Peer => sent.requests += peer_login(&url, &site).await,
                }
            }
        });
    }
    let mut sent = Sent::default();
    while let Some(r) = tasks.join_next().await {
        let r = r.unwrap_or_else(|e| panic!("a login task failed: {e}"));
        sent.polls += r.polls;
        sent.requests += r.requests;
    }
    sent
}

/// (utime, stime) of a process, in clock ticks (`/proc/<pid>/stat` fields 14, 15).
fn user_sys_ticks(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &s[s.rfind(')').unwrap() + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    (f[11].parse().unwrap(), f[12].parse().unwrap())
}

/// The sums of the gateway's counters and histogram counts named `name`
/// (every label set) on its admin listener's `/metrics`.
async fn metric_sum(site: &SiteClient, admin: &str, name: &str) -> f64 {
    let req = http::Request::get(format!("{admin}/metrics"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, body) = site_call(site, req).await;
    assert_eq!(status, 200, "metrics: {body}");
    body.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// One measured batch of logins on one side.
#[derive(Clone)]
struct Round {
    logins: usize,
    user_ms: f64,
    sys_ms: f64,
    sched_us: Option<f64>,
    wall_s: f64,
    sent: Sent,
    log_lines: usize,
    odd: Vec<String>,
    /// Gateway only: store operations and provider calls (from its metrics).
    store_ops: Option<f64>,
    provider_calls: Option<f64>,
}

impl Round {
    fn us_per_login(&self) -> f64 {
        (self.user_ms + self.sys_ms) * 1000.0 / self.logins.max(1) as f64
    }
}

/// A server whose CPU per login is measured.
struct Server<'a> {
    side: Side,
    url: String,
    pid: u32,
    proc: &'a Proc,
    /// The gateway's admin listener (for its store and provider counters).
    admin: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn measure(
    rt: &tokio::runtime::Runtime,
    server: &Server<'_>,
    site: &SiteClient,
    range: (usize, usize),
    concurrency: usize,
    people: usize,
    tck: u64,
) -> Round {
    server.proc.drain();
    let counters = |rt: &tokio::runtime::Runtime| {
        server.admin.as_ref().map(|admin| {
            rt.block_on(async {
                (
                    metric_sum(
                        site,
                        admin,
                        "munjigi_store_operation_duration_seconds_count",
                    )
                    .await,
                    metric_sum(site, admin, "munjigi_provider_call_duration_seconds_count").await,
                )
            })
        })
    };
    let k0 = counters(rt);
    let t0 = user_sys_ticks(server.pid);
    let n0 = sched_ns(server.pid);
    let start = Instant::now();
    let sent = rt.block_on(run(
        server.side,
        &server.url,
        site,
        range,
        concurrency,
        people,
    ));
    let wall_s = start.elapsed().as_secs_f64();
    let t1 = user_sys_ticks(server.pid);
    let n1 = sched_ns(server.pid);
    let k1 = counters(rt);
    let lines = server.proc.drain();
    let ms_per_tick = 1000.0 / tck as f64;
    let logins = range.1 - range.0;
    Round {
        logins,
        user_ms: (t1.0 - t0.0) as f64 * ms_per_tick,
        sys_ms: (t1.1 - t0.1) as f64 * ms_per_tick,
        sched_us: match (n0, n1) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1000.0 / logins as f64),
            _ => None,
        },
        wall_s,
        sent,
        log_lines: lines.len(),
        odd: lines
            .into_iter()
            .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("server_error"))
            .collect(),
        store_ops: k0.zip(k1).map(|(a, b)| b.0 - a.0),
        provider_calls: k0.zip(k1).map(|(a, b)| b.1 - a.1),
    }
}

/// The round with the median CPU per login.
fn median(rounds: &[Round]) -> &Round {
    let mut sorted: Vec<&Round> = rounds.iter().collect();
    sorted.sort_by(|a, b| a.us_per_login().total_cmp(&b.us_per_login()));
    sorted[sorted.len() / 2]
}

/// One open-loop phase: logins started at `rate` per second for `secs`,
/// whatever the earlier ones are doing (as citizens arrive), each step timed.
struct Latency {
    rate: f64,
    logins: usize,
    /// Gateway CPU over the phase's wall time: how busy its core was.
    busy: f64,
    /// (step, p50, p99, count), in the order the steps come.
    steps: Vec<(&'static str, Duration, Duration, usize)>,
}

#[allow(clippy::too_many_arguments)]
fn open_loop(
    rt: &tokio::runtime::Runtime,
    gw: &str,
    gw_pid: u32,
    site: &SiteClient,
    rate: f64,
    secs: f64,
    first: usize,
    people: usize,
    tck: u64,
) -> Latency {
    let c0 = cpu_ticks(gw_pid);
    let t0 = Instant::now();
    let all: Steps = rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.1)));
        let n = (rate * secs).round() as usize;
        for i in 0..n {
            tick.tick().await;
            let (gw, site) = (gw.to_owned(), site.clone());
            tasks.spawn(async move {
                let mut steps = Vec::new();
                login(&gw, &site, first + i, people, &mut steps).await;
                steps
            });
        }
        let mut all = Vec::new();
        while let Some(r) = tasks.join_next().await {
            all.extend(r.unwrap_or_else(|e| panic!("a login task failed: {e}")));
        }
        all
    });
    let wall = t0.elapsed().as_secs_f64();
    let cpu_s = (cpu_ticks(gw_pid) - c0) as f64 / tck as f64;
    let mut order: Vec<&'static str> = Vec::new();
    for (name, _) in &all {
        if !order.contains(name) {
            order.push(name);
        }
    }
    let steps = order
        .into_iter()
        .map(|name| {
            let mut v: Vec<Duration> = all
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, d)| *d)
                .collect();
            v.sort();
            let at = |q: usize| v[(v.len() * q / 100).min(v.len() - 1)];
            (name, at(50), at(99), v.len())
        })
        .collect();
    Latency {
        rate,
        logins: (rate * secs).round() as usize,
        busy: cpu_s / wall,
        steps,
    }
}

fn print_round(label: &str, r: &Round, tck: u64) {
    let n = r.logins.max(1) as f64;
    println!(
        "{label:<15} {:>7.1} µs/login (±{:.1}; user {:.0} ms, system {:.0} ms){}  \
         {:.1} logins/s  {:.1} requests/login{}",
        r.us_per_login(),
        1e6 / tck as f64 / n,
        r.user_ms,
        r.sys_ms,
        r.sched_us
            .map_or(String::new(), |v| format!(", sched {v:.1} µs")),
        n / r.wall_s,
        r.sent.requests as f64 / n,
        if r.sent.polls > 0 {
            format!(" ({:.2} status calls)", r.sent.polls as f64 / n)
        } else {
            String::new()
        },
    );
}

fn main() {
    let logins = env_usize("LOGINS", 1000);
    let concurrency = env_usize("CONCURRENCY", 8);
    let warmup = env_usize("WARMUP", 20);
    let compare = std::env::var_os("COMPARE").is_some();
    let rounds = env_usize("ROUNDS", if compare { 3 } else { 1 }).max(1);
    let people = warmup.max(concurrency).max(1);
    let tck = clk_tck();
    // The driver (and the simulator, which it starts) on one core, the
    // servers measured on the other, as in the other benches.
    require_tool("taskset");
    require_two_cores("the OpenID Providers");
    pin(std::process::id(), LOAD_CORE);
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
    let admin = format!("http://127.0.0.1:{}", free_port());
    let gw = on_core(SUT_CORE, || {
        start_gateway(
            dir.path(),
            &sim_url,
            &GatewayOpts {
                site_redirect: REDIRECT.to_owned(),
                extra: format!(
                    "\n[admin]\nlisten = \"{}\"\n",
                    admin.trim_start_matches("http://")
                ),
                ..GatewayOpts::default()
            },
        )
    });
    let peer = compare.then(|| {
        on_core(SUT_CORE, || {
            start_oidc_provider("town", CLIENT_SECRET, REDIRECT)
        })
    });
    let gw_pid = gw.proc.pid();
    println!("binary:      {}", munjigi_bin().display());
    println!("gateway:     {} (pid {gw_pid}) on core {SUT_CORE}", gw.url);
    if let Some((p, url)) = &peer {
        println!(
            "peer:        node oidc-provider 9.13 at {url} (pid {}) on core {SUT_CORE}",
            p.pid()
        );
    }
    println!(
        "logins:      {logins} measured per round after {warmup} warm-up, {rounds} round(s), \
         concurrency {concurrency}, {people} people; driver and simulator on core {LOAD_CORE}"
    );

    let site: SiteClient = Client::builder(TokioExecutor::new()).build_http();
    let gateway = Server {
        side: Side::Gateway,
        url: gw.url.clone(),
        pid: gw_pid,
        proc: &gw.proc,
        admin: Some(admin),
    };
    let peer_server = peer.as_ref().map(|(p, url)| Server {
        side: Side::Peer,
        url: url.clone(),
        pid: p.pid(),
        proc: p,
        admin: None,
    });
    rt.block_on(async {
        run(
            Side::Gateway,
            &gw.url,
            &site,
            (0, warmup),
            concurrency,
            people,
        )
        .await;
        // Node compiles its hot code as it runs: the peer warms up longer, so
        // its rounds measure the compiled code (its first rounds cost more).
        if let Some(p) = &peer_server {
            let peer_warmup = env_usize("PEER_WARMUP", 2000);
            run(
                Side::Peer,
                &p.url,
                &site,
                (0, peer_warmup),
                concurrency,
                people,
            )
            .await;
        }
    });
    let warm_lines = gw.proc.drain().len();

    // What the gateway burns doing nothing, to tell per-login work from background.
    let idle_secs = 2.0;
    let i0 = sched_ns(gw_pid);
    std::thread::sleep(Duration::from_secs_f64(idle_secs));
    let i1 = sched_ns(gw_pid);
    let s0 = user_sys_ticks(sim.pid());

    // Rounds alternate the peer and the gateway, so a change in the machine's
    // speed during the bench falls on both.
    let mut gw_rounds = Vec::new();
    let mut peer_rounds = Vec::new();
    for round in 0..rounds {
        let from = warmup + round * logins;
        let range = (from, from + logins);
        if let Some(p) = &peer_server {
            let r = measure(&rt, p, &site, range, concurrency, people, tck);
            print_round(&format!("round {} peer", round + 1), &r, tck);
            peer_rounds.push(r);
        }
        let r = measure(&rt, &gateway, &site, range, concurrency, people, tck);
        print_round(&format!("round {} gateway", round + 1), &r, tck);
        gw_rounds.push(r);
    }
    let s1 = user_sys_ticks(sim.pid());

    let g = median(&gw_rounds);
    let n = g.logins.max(1) as f64;
    let us_per_login = g.us_per_login();
    println!();
    println!("== login_cpu: completed OIDC logins, simulator approving at once");
    println!(
        "gateway:                   {us_per_login:.1} µs CPU per login (the median of {rounds} \
         round(s) of {logins}; resolution ±{:.1} µs)",
        1e6 / tck as f64 / n
    );
    if let Some(v) = g.sched_us {
        println!("  cross-check (sched):     {v:.1} µs per login");
    }
    if let (Some(a), Some(b)) = (i0, i1) {
        let idle_us_per_s = b.saturating_sub(a) as f64 / 1000.0 / idle_secs;
        println!(
            "  of which idle:           {:.1} µs per login ({idle_us_per_s:.0} µs/s at rest)",
            idle_us_per_s * g.wall_s / n
        );
    }
    println!(
        "  implied capacity:        {:.0} logins/s per gateway core",
        1e6 / us_per_login.max(f64::MIN_POSITIVE)
    );
    println!(
        "  requests per login:      {:.2} (browser and site; {:.2} status calls)",
        g.sent.requests as f64 / n,
        g.sent.polls as f64 / n
    );
    if let (Some(ops), Some(calls)) = (g.store_ops, g.provider_calls) {
        println!(
            "  store operations:        {:.2} per login (memory store; each is one round trip \
             on Redis)",
            ops / n
        );
        println!("  provider calls:          {:.2} per login", calls / n);
    }
    println!(
        "  log lines:               {:.1} per login ({warm_lines} in warm-up)",
        g.log_lines as f64 / n
    );
    println!(
        "simulator CPU per login:   {:.1} µs (not counted)",
        ((s1.0 + s1.1) - (s0.0 + s0.1)) as f64 * 1e6 / tck as f64 / (n * rounds as f64)
    );
    // Latency under load: open-loop arrivals at 50% and 90% of the capacity
    // just measured (one core's worth of CPU per login).
    let latency_secs = env_usize("LATENCY_SECS", 10) as f64;
    let capacity = 1e6 / us_per_login.max(f64::MIN_POSITIVE);
    let mut latency = Vec::new();
    if latency_secs > 0.0 {
        let mut first = warmup + rounds * logins;
        for share in [0.5, 0.9] {
            let l = open_loop(
                &rt,
                &gw.url,
                gw_pid,
                &site,
                capacity * share,
                latency_secs,
                first,
                people,
                tck,
            );
            first += l.logins;
            println!(
                "latency at {:.0}% of capacity: {:.0} logins/s for {latency_secs:.0} s, gateway core \
                 {:.0}% busy",
                share * 100.0,
                l.rate,
                l.busy * 100.0
            );
            for (name, p50, p99, n) in &l.steps {
                println!(
                    "  {name:<24} p50 {:>7.2} ms   p99 {:>7.2} ms   ({n})",
                    p50.as_secs_f64() * 1000.0,
                    p99.as_secs_f64() * 1000.0
                );
            }
            latency.push((share, l));
        }
    }
    let odd: Vec<&String> = gw_rounds
        .iter()
        .chain(&peer_rounds)
        .flat_map(|r| &r.odd)
        .collect();
    if !odd.is_empty() {
        println!("warnings/errors:           {}", odd.len());
        for l in odd.iter().take(5) {
            println!("  {l}");
        }
    }
    let peer_json = (!peer_rounds.is_empty()).then(|| {
        let p = median(&peer_rounds);
        let ratio = p.us_per_login() / us_per_login;
        let ratios: Vec<f64> = peer_rounds
            .iter()
            .zip(&gw_rounds)
            .map(|(p, g)| p.us_per_login() / g.us_per_login())
            .collect();
        println!(
            "peer (oidc-provider):      {:.1} µs CPU per login, {:.2} requests per login",
            p.us_per_login(),
            p.sent.requests as f64 / p.logins.max(1) as f64
        );
        println!(
            "vs the peer:               the gateway uses {ratio:.2}× less CPU per login \
             (rounds: {}; goal ≥ {PEER_GOAL:.0}×: {})",
            ratios
                .iter()
                .map(|r| format!("{r:.2}×"))
                .collect::<Vec<_>>()
                .join(", "),
            met(ratio >= PEER_GOAL)
        );
        serde_json::json!({
            "name": "oidc-provider",
            "what": "node oidc-provider 9.13.3, in-memory adapter, ES256 ID tokens, one \
                     interaction request that logs in and consents (authorize, interaction, \
                     resume, token, userinfo)",
            "cpu_us_per_login": p.us_per_login(),
            "spread": spread_json(&peer_rounds.iter().map(Round::us_per_login).collect::<Vec<_>>()),
            "requests_per_login": p.sent.requests as f64 / p.logins.max(1) as f64,
            "logins_per_s": p.logins as f64 / p.wall_s,
            "peer_over_gateway": ratio,
            "peer_over_gateway_rounds": ratios,
            "goal": PEER_GOAL,
            "goal_met": ratio >= PEER_GOAL,
        })
    });
    let report = serde_json::json!({
        "bench": "login_cpu",
        "logins_per_round": logins,
        "rounds": rounds,
        "concurrency": concurrency,
        "clk_tck": tck,
        "gateway": {
            "cpu_us_per_login": us_per_login,
            "spread": spread_json(&gw_rounds.iter().map(Round::us_per_login).collect::<Vec<_>>()),
            "sched_us_per_login": g.sched_us,
            "logins_per_s": n / g.wall_s,
            "requests_per_login": g.sent.requests as f64 / n,
            "status_calls_per_login": g.sent.polls as f64 / n,
            "store_operations_per_login": g.store_ops.map(|v| v / n),
            "provider_calls_per_login": g.provider_calls.map(|v| v / n),
            "log_lines_per_login": g.log_lines as f64 / n,
        },
        "peer": peer_json,
        "latency": latency.iter().map(|(share, l)| serde_json::json!({
            "share_of_capacity": share,
            "logins_per_s": l.rate,
            "logins": l.logins,
            "gateway_core_busy": l.busy,
            "steps": l.steps.iter().map(|(name, p50, p99, n)| serde_json::json!({
                "step": name,
                "p50_ms": p50.as_secs_f64() * 1000.0,
                "p99_ms": p99.as_secs_f64() * 1000.0,
                "count": n,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    write_figures("login_cpu", &report);
    drop(gw);
    drop(sim);
}
