//! The identity-aware proxy against nginx `proxy_pass`, measured in the same
//! run. The goals (README "Performance"): throughput at least nginx's, CPU
//! per authenticated request at most 0.9× nginx's, and under 1 ms added p99.
//!
//! One run, one machine, two cores:
//!
//! - core 1: the upstream, a real nginx (1 worker) serving a 1 KiB static file
//!   under `/bench/`, and the load generator `wrk` (one thread);
//! - core 0: the system under test, either the gateway (release binary, every
//!   thread, started on that core so its runtime sizes itself for one core, as
//!   under `taskset -c 0 munjigi serve`) with a route `/bench/` to that
//!   upstream, or a second nginx (1 worker) with `proxy_pass` to it through a
//!   keep-alive `upstream {}`.
//!
//! The gateway runs with the harness's simulator; the bench logs in once
//! through the proxy as a browser would ([`proxy_login`]) and replays the
//! `mj_px` cookie from `wrk`. The nginx proxy gets the same cookie header, so
//! both see requests of the same size. Each side has an uncounted 2 s warm-up,
//! then one measured run; CPU comes from `/proc/<pid>/stat` (utime + stime,
//! all threads) before and after, for the gateway and for the nginx worker.
//! Every measured request must be a 2xx that reached the upstream (its
//! `stub_status` count), else the bench fails: a 303 to the login would mean
//! the cookie did not work, and wrk counts a 3xx as a success.
//!
//! Measurement only: nothing here asserts on speed, only that the proxying
//! works. The figures also go to `target/bench/proxy_overhead.json`.
//!
//! The two sides run in `ROUNDS` alternating rounds (default 3); the round
//! with the median throughput ratio is reported in full, every round's ratio
//! is listed (the cores are shared with whatever else the machine runs).
//!
//! Environment: `DURATION` (seconds, default 10), `CONNECTIONS` (default 32),
//! `ROUNDS` (default 3),
//! `MUNJIGI_BIN` (the binary; the release build via `deploy/bench`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::bench::*;
use munjigi_e2e::nginx::{start_nginx, Nginx};
use munjigi_e2e::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// Gateway throughput at least this share of nginx's.
const TARGET_RATIO: f64 = 1.0;
/// Added p99 latency below this, in milliseconds.
const TARGET_ADDED_P99_MS: f64 = 1.0;
/// Gateway CPU per authenticated proxied request against the nginx proxy
/// measured in the same run (both include the kernel's loopback TCP work).
const BUDGET_VS_NGINX: f64 = 0.9;
/// Size of the static file the upstream serves.
const FILE_BYTES: usize = 1024;

/// The static file: printable, deterministic, newline-terminated.
fn file_body() -> String {
    let mut s: String = (0..FILE_BYTES - 1)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    s.push('\n');
    s
}

/// The master pid of an nginx (from its pid file) and its worker pids.
fn nginx_pids(n: &Nginx) -> (u32, Vec<u32>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let master = std::fs::read_to_string(n.dir.join("nginx.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        if let Some(m) = master {
            let workers = children(m);
            if !workers.is_empty() {
                return (m, workers);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no nginx worker under {}: {}",
            n.dir.display(),
            n.error_log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pin_nginx(n: &Nginx, core: u32) -> Vec<u32> {
    let (master, workers) = nginx_pids(n);
    pin(master, core);
    for w in &workers {
        pin(*w, core);
    }
    workers
}

/// Connections accepted and requests served by an nginx so far (its
/// `stub_status` at `/stub`).
fn upstream_counts(port: u16) -> (u64, u64) {
    let text = String::from_utf8_lossy(&raw_get(port, "/stub")).into_owned();
    // "Active connections: 1 \nserver accepts handled requests\n 5 5 9 \n..."
    let line = text
        .lines()
        .skip_while(|l| !l.contains("accepts handled requests"))
        .nth(1)
        .unwrap_or_else(|| panic!("not a stub_status page: {text}"));
    let n: Vec<u64> = line
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    (n[0], n[2])
}

/// A plain HTTP/1.0 GET over a socket (no curl needed); the whole answer.
fn raw_get(port: u16, path: &str) -> Vec<u8> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

/// A measured side: the wrk figures and the CPU the system under test used.
struct Side {
    name: &'static str,
    wrk: Wrk,
    cpu_ms: f64,
    sched_ms: Option<f64>,
    upstream_requests: u64,
    upstream_connections: u64,
    busy: Vec<f64>,
    wall_s: f64,
}

impl Side {
    fn us_per_request(&self) -> f64 {
        self.cpu_ms * 1000.0 / self.wrk.requests.max(1) as f64
    }
    fn sched_us_per_request(&self) -> Option<f64> {
        self.sched_ms
            .map(|ms| ms * 1000.0 / self.wrk.requests.max(1) as f64)
    }
}

/// Warm-up, then the measured run, for one system under test whose CPU is
/// the sum over `pids`.
#[allow(clippy::too_many_arguments)]
fn measure(
    name: &'static str,
    url: &str,
    pids: &[u32],
    secs: u64,
    connections: usize,
    cookie: &str,
    upstream_port: u16,
    tck: u64,
) -> Side {
    println!("== {name}: {WARMUP_SECS} s warm-up, then {secs} s measured ({url})");
    let header = format!("Cookie: mj_px={cookie}");
    let warm = wrk(url, WARMUP_SECS, connections, &header, &[]);
    check_all_ok(name, "warm-up", &warm, None);
    std::thread::sleep(Duration::from_millis(300));

    let (ac0, up0) = upstream_counts(upstream_port);
    let j0 = cpu_jiffies();
    let c0 = cpu_ticks_of(pids);
    let s0 = sched_ns_of(pids);
    let start = Instant::now();
    let w = wrk(url, secs, connections, &header, &[]);
    let wall_s = start.elapsed().as_secs_f64();
    let c1 = cpu_ticks_of(pids);
    let s1 = sched_ns_of(pids);
    let j1 = cpu_jiffies();
    // Minus the stub_status request itself.
    let (ac1, up1) = upstream_counts(upstream_port);
    let up = up1.saturating_sub(up0 + 1);
    let conns = ac1.saturating_sub(ac0 + 1);
    check_all_ok(name, "measured run", &w, Some((up, connections)));
    Side {
        name,
        cpu_ms: (c1 - c0) as f64 * 1000.0 / tck as f64,
        sched_ms: match (s0, s1) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1e6),
            _ => None,
        },
        upstream_requests: up,
        upstream_connections: conns,
        busy: busy_pct(&j0, &j1),
        wall_s,
        wrk: w,
    }
}

/// Fails loudly unless every response was a 2xx and (measured run) every
/// counted request reached the upstream.
fn check_all_ok(name: &str, what: &str, w: &Wrk, upstream: Option<(u64, usize)>) {
    assert!(w.requests > 0, "{name} {what}: no requests:\n{}", w.output);
    assert_eq!(
        w.non_2xx_3xx, 0,
        "{name} {what}: {} of {} responses were neither 2xx nor 3xx:\n{}",
        w.non_2xx_3xx, w.requests, w.output
    );
    if let Some((up, connections)) = upstream {
        // Requests still in flight when wrk stops reach the upstream uncounted.
        let slack = 2 * connections as u64 + 2;
        assert!(
            up >= w.requests && up <= w.requests + slack,
            "{name} {what}: wrk counted {} responses but the upstream served {up}: \
             responses that did not come from the upstream (a 303 to the login?):\n{}",
            w.requests,
            w.output
        );
    }
}

fn write_upstream_root(root: &Path) -> String {
    let body = file_body();
    std::fs::create_dir_all(root.join("bench")).unwrap();
    std::fs::write(root.join("bench/small.txt"), &body).unwrap();
    body
}

fn main() {
    let Start {
        secs,
        connections,
        tck,
        rt,
        dir,
    } = start("bench-proxy", "the proxy", 32);

    // Keep-alive connections are never closed by request count on either side
    // (nginx's default, 1000, would make the nginx proxy reconnect its clients).
    let keepalive = "keepalive_requests 10000000; keepalive_timeout 300s;";

    // The upstream: one nginx worker serving a 1 KiB file, on the load core.
    let www = dir.path().join("www");
    let body = write_upstream_root(&www);
    let up_port = free_port();
    let upstream = start_nginx(
        &dir.path().join("upstream"),
        up_port,
        &format!(
            "server {{\n listen 127.0.0.1:{up_port};\n access_log off;\n {keepalive}\n \
             location /bench/ {{ root {}; }}\n location = /stub {{ stub_status; }}\n}}\n",
            www.display()
        ),
    );
    let up_workers = pin_nginx(&upstream, LOAD_CORE);

    // The nginx proxy: proxy_pass through a keep-alive upstream block.
    let ngx_port = free_port();
    let proxy = start_nginx(
        &dir.path().join("proxy"),
        ngx_port,
        &format!(
            "upstream bench_upstream {{\n server 127.0.0.1:{up_port};\n keepalive 64;\n \
             keepalive_requests 10000000;\n}}\n\
             server {{\n listen 127.0.0.1:{ngx_port};\n access_log off;\n {keepalive}\n \
             location /bench/ {{\n  proxy_pass http://bench_upstream;\n  \
             proxy_http_version 1.1;\n  proxy_set_header Connection \"\";\n }}\n}}\n"
        ),
    );
    let ngx_workers = pin_nginx(&proxy, SUT_CORE);

    // The gateway, with a route /bench/ to the same upstream.
    let (sim, sim_url) = start_simulator(
        dir.path(),
        &SimOpts {
            approve_after_ms: 0,
            people: Vec::new(),
        },
    );
    let gw = on_core(SUT_CORE, || {
        start_gateway(
            dir.path(),
            &sim_url,
            &GatewayOpts {
                site_redirect: "http://127.0.0.1:9/callback".into(),
                extra: format!(
                    "\n[routes.bench]\nsite = \"town\"\nprefix = \"/bench/\"\n\
                     upstream = \"http://127.0.0.1:{up_port}\"\n"
                ),
                ..GatewayOpts::default()
            },
        )
    });
    let gw_pid = gw.proc.pid();
    let gw_file = format!("{}/bench/small.txt", gw.url);
    let ngx_file = format!("http://127.0.0.1:{ngx_port}/bench/small.txt");

    // One login through the proxy, as a browser; then the cookie alone must do.
    let cookie = rt.block_on(async {
        let mut b = Browser::new(None);
        let page = proxy_login(&mut b, &gw.url, &gw_file).await;
        assert_eq!(page.status, 200, "after the login: {page:?}");
        assert_eq!(page.body, body, "the file through the gateway");
        let cookie = b.cookie("mj_px").expect("mj_px after the login").clone();

        let mut only = Browser::new(None);
        only.set_cookie("mj_px", &cookie);
        let p = only.get(&gw_file).await;
        assert_eq!(p.status, 200, "the cookie alone, via the gateway: {p:?}");
        assert_eq!(p.body, body, "the file through the gateway");
        let p = only.get(&ngx_file).await;
        assert_eq!(p.status, 200, "via the nginx proxy: {p:?}");
        assert_eq!(p.body, body, "the file through nginx");
        cookie
    });
    let login_lines = gw.proc.drain().len();

    // The system under test on its core, every thread (it started there; this
    // also covers threads its runtime may have made since).
    pin(gw_pid, SUT_CORE);
    let threads = thread_count(gw_pid);

    println!("binary:        {}", munjigi_bin().display());
    println!(
        "gateway:       {} (pid {gw_pid}, {threads} threads) on core {SUT_CORE}",
        gw.url
    );
    println!(
        "nginx proxy:   http://127.0.0.1:{ngx_port} (workers {ngx_workers:?}) on core {SUT_CORE}"
    );
    println!(
        "upstream:      http://127.0.0.1:{up_port} (nginx, workers {up_workers:?}), {FILE_BYTES} B \
         file; wrk on core {LOAD_CORE}"
    );
    println!(
        "load:          wrk -t1 -c{connections} -d{secs}s --latency, Cookie: mj_px (ticket {} chars)",
        cookie.len()
    );

    // Background load on the machine, for reading the figures.
    let idle_busy = background_busy();
    println!();

    // Rounds alternate which side goes first, so drift on the shared machine
    // falls on both; the round with the median ratio is reported in full.
    let rounds = env_usize("ROUNDS", 3).max(1);
    let run = |name: &'static str| {
        let (url, pids) = if name == "gateway" {
            (&gw_file, vec![gw_pid])
        } else {
            (&ngx_file, ngx_workers.clone())
        };
        measure(name, url, &pids, secs, connections, &cookie, up_port, tck)
    };
    let mut pairs: Vec<(Side, Side)> = Vec::with_capacity(rounds);
    for r in 0..rounds {
        let (g, n) = if r % 2 == 0 {
            let g = run("gateway");
            (g, run("nginx"))
        } else {
            let n = run("nginx");
            (run("gateway"), n)
        };
        println!(
            "round {}: gateway {:.0}/s {:.2} µs, nginx {:.0}/s {:.2} µs, ratio {:.2}×",
            r + 1,
            g.wrk.rps,
            g.us_per_request(),
            n.wrk.rps,
            n.us_per_request(),
            g.wrk.rps / n.wrk.rps
        );
        pairs.push((g, n));
    }
    let gw_lines = gw.proc.drain();
    let round_ratios: Vec<f64> = pairs.iter().map(|(g, n)| g.wrk.rps / n.wrk.rps).collect();
    let round_cpu_ratios: Vec<f64> = pairs
        .iter()
        .map(|(g, n)| g.us_per_request() / n.us_per_request())
        .collect();
    let gw_cpu = spread_json(
        &pairs
            .iter()
            .map(|(g, _)| g.us_per_request())
            .collect::<Vec<_>>(),
    );
    let ngx_cpu = spread_json(
        &pairs
            .iter()
            .map(|(_, n)| n.us_per_request())
            .collect::<Vec<_>>(),
    );
    pairs.sort_by(|a, b| (a.0.wrk.rps / a.1.wrk.rps).total_cmp(&(b.0.wrk.rps / b.1.wrk.rps)));
    let (g, n) = &pairs[pairs.len() / 2];
    let ngx_errors: Vec<String> = proxy
        .error_log()
        .lines()
        .filter(|l| l.contains("[error]") || l.contains("[crit]") || l.contains("[alert]"))
        .map(str::to_owned)
        .collect();

    let ratio = g.wrk.rps / n.wrk.rps;
    let added_p99 = g.wrk.p99_ms - n.wrk.p99_ms;
    let gw_us = g.us_per_request();
    let ms_per_tick = 1000.0 / tck as f64;

    println!();
    println!(
        "== proxy_overhead: authenticated GETs of a {FILE_BYTES} B static file, {secs} s, \
         {connections} connections; the median of {rounds} rounds"
    );
    println!(
        "{:<9} {:>12} {:>10} {:>10} {:>10} {:>15} {:>13} {:>16}",
        "",
        "requests/s",
        "p50",
        "p99",
        "requests",
        "CPU µs/request",
        "(sched µs)",
        "core0/core1 busy"
    );
    for s in [g, n] {
        println!(
            "{:<9} {:>12.0} {:>7.3} ms {:>7.3} ms {:>10} {:>15.2} {:>13} {:>16}",
            s.name,
            s.wrk.rps,
            s.wrk.p50_ms,
            s.wrk.p99_ms,
            s.wrk.requests,
            s.us_per_request(),
            s.sched_us_per_request()
                .map_or("-".to_owned(), |v| format!("{v:.2}")),
            format!(
                "{:.0}% / {:.0}%",
                s.busy.first().copied().unwrap_or(0.0),
                s.busy.get(1).copied().unwrap_or(0.0)
            ),
        );
    }
    println!(
        "CPU resolution: ±{:.2} µs/request (gateway), ±{:.2} (nginx) at {tck} Hz",
        ms_per_tick * 1000.0 / g.wrk.requests.max(1) as f64,
        ms_per_tick * 1000.0 / n.wrk.requests.max(1) as f64
    );
    println!();
    println!(
        "throughput ratio (gateway / nginx): {ratio:.2}×   target ≥ {TARGET_RATIO}×: {}",
        met(ratio >= TARGET_RATIO)
    );
    println!(
        "added p99 (gateway − nginx):        {added_p99:.3} ms   target < {TARGET_ADDED_P99_MS} ms: {}",
        met(added_p99 < TARGET_ADDED_P99_MS)
    );
    let vs_nginx = gw_us / n.us_per_request();
    println!("gateway CPU per request:            {gw_us:.2} µs");
    println!(
        "  against this run's nginx:         {vs_nginx:.2}× its {:.2} µs   budget ≤ {BUDGET_VS_NGINX}×: {}",
        n.us_per_request(),
        met(vs_nginx <= BUDGET_VS_NGINX),
    );
    println!(
        "upstream connections opened during the measured runs: gateway {}, nginx {} \
         (connection reuse; stub_status)",
        g.upstream_connections, n.upstream_connections
    );
    for s in [g, n] {
        if !s.wrk.socket_errors.is_empty() {
            println!("{} socket errors: {}", s.name, s.wrk.socket_errors);
        }
    }
    let odd: Vec<&String> = gw_lines
        .iter()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    println!(
        "gateway log lines during its runs: {} ({} warnings/errors; {login_lines} at login)",
        gw_lines.len(),
        odd.len()
    );
    for l in odd.iter().take(5) {
        println!("  {l}");
    }
    if !ngx_errors.is_empty() {
        println!("nginx proxy errors: {}", ngx_errors.len());
        for l in ngx_errors.iter().take(5) {
            println!("  {l}");
        }
    }

    let side = |s: &Side| {
        serde_json::json!({
            "requests_per_s": s.wrk.rps,
            "p50_ms": s.wrk.p50_ms,
            "p99_ms": s.wrk.p99_ms,
            "requests": s.wrk.requests,
            "upstream_requests": s.upstream_requests,
            "upstream_connections_opened": s.upstream_connections,
            "wall_s": s.wall_s,
            "cpu_ms": s.cpu_ms,
            "cpu_us_per_request": s.us_per_request(),
            "sched_us_per_request": s.sched_us_per_request(),
            "core_busy_pct": s.busy,
            "socket_errors": s.wrk.socket_errors,
        })
    };
    let report = serde_json::json!({
        "bench": "proxy_overhead",
        "duration_s": secs,
        "connections": connections,
        "file_bytes": FILE_BYTES,
        "clk_tck": tck,
        "background_busy_pct": idle_busy,
        "gateway": side(g),
        "nginx": side(n),
        "rounds": rounds,
        "round_ratios": round_ratios,
        "round_cpu_ratios": round_cpu_ratios,
        "gateway_cpu_us_per_request": gw_cpu,
        "nginx_cpu_us_per_request": ngx_cpu,
        "ratio": ratio,
        "added_p99_ms": added_p99,
        "targets": {
            "ratio_min": TARGET_RATIO,
            "ratio_met": ratio >= TARGET_RATIO,
            "added_p99_ms_max": TARGET_ADDED_P99_MS,
            "added_p99_met": added_p99 < TARGET_ADDED_P99_MS,
            "cpu_vs_nginx_max": BUDGET_VS_NGINX,
            "cpu_vs_nginx": vs_nginx,
            "cpu_vs_nginx_met": vs_nginx <= BUDGET_VS_NGINX,
        },
    });
    write_figures("proxy_overhead", &report);

    drop(gw);
    drop(sim);
    drop(proxy);
    drop(upstream);
}
