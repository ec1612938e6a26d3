//! The identity-aware proxy against nginx `proxy_pass` (issue 7, "Benchmark";
//! the budget in ARCHITECTURE.md "Budgets": ≥ 0.8× nginx's throughput, < 1 ms
//! added p99, ≤ 12.5 µs of gateway CPU per authenticated request).
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
//! Environment: `DURATION` (seconds, default 10), `CONNECTIONS` (default 32),
//! `MUNJIGI_BIN` (the binary; the release build via `deploy/bench`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::nginx::{start_nginx, Nginx};
use munjigi_e2e::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Gateway throughput at least this share of nginx's.
const TARGET_RATIO: f64 = 0.8;
/// Added p99 latency below this, in milliseconds.
const TARGET_ADDED_P99_MS: f64 = 1.0;
/// Gateway CPU per authenticated proxied request, in microseconds.
const BUDGET_US: f64 = 12.5;
/// Size of the static file the upstream serves.
const FILE_BYTES: usize = 1024;
const WARMUP_SECS: u64 = 2;
/// Core of the system under test; the load generator and upstream get the other.
const SUT_CORE: u32 = 0;
const LOAD_CORE: u32 = 1;

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got `{v}`")),
        Err(_) => default,
    }
}

fn require_tool(name: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "`{name}` missing: ./deploy/bench installs it (deploy/lib/prereqs.sh)"
    );
}

/// The static file: printable, deterministic, newline-terminated.
fn file_body() -> String {
    let mut s: String = (0..FILE_BYTES - 1)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    s.push('\n');
    s
}

/// (utime, stime) of a process, all threads, in clock ticks (`/proc/<pid>/stat`
/// fields 14, 15).
fn cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &s[s.rfind(')').unwrap() + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// Sum of [`cpu_ticks`] over `pids`.
fn cpu_ticks_of(pids: &[u32]) -> u64 {
    pids.iter().map(|p| cpu_ticks(*p)).sum()
}

/// The scheduler's run time of every live thread of `pid`, in ns
/// (`se.sum_exec_runtime` in `/proc/<pid>/task/*/sched`), a finer cross-check.
fn sched_ns(pid: u32) -> Option<u64> {
    let mut total = 0u64;
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let t = t.ok()?;
        let Ok(s) = std::fs::read_to_string(t.path().join("sched")) else {
            continue; // the thread ended meanwhile
        };
        let line = s.lines().find(|l| l.starts_with("se.sum_exec_runtime"))?;
        let ms: f64 = line.split(':').nth(1)?.trim().parse().ok()?;
        total += (ms * 1e6) as u64;
    }
    Some(total)
}

fn sched_ns_of(pids: &[u32]) -> Option<u64> {
    pids.iter().map(|p| sched_ns(*p)).sum()
}

/// Busy and total jiffies of each CPU (`/proc/stat` `cpuN` lines).
fn cpu_jiffies() -> Vec<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/stat").unwrap();
    s.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            let v: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .map(|x| x.parse().unwrap())
                .collect();
            // user nice system idle iowait irq softirq steal (guest is in user).
            let total: u64 = v.iter().take(8).sum();
            let idle = v[3] + v.get(4).copied().unwrap_or(0);
            (total - idle, total)
        })
        .collect()
}

/// Per-CPU busy share between two [`cpu_jiffies`] samples, in percent.
fn busy_pct(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .map(|((b0, t0), (b1, t1))| {
            let t = t1.saturating_sub(*t0).max(1) as f64;
            b1.saturating_sub(*b0) as f64 * 100.0 / t
        })
        .collect()
}

fn clk_tck() -> u64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().ok();
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

/// The live children of `pid` (by the parent field of every `/proc/*/stat`).
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(s) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let Some(rest) = s.rfind(')').map(|i| &s[i + 1..]) else {
            continue;
        };
        if rest.split_whitespace().nth(1) == Some(pid.to_string().as_str()) {
            out.push(p);
        }
    }
    out.sort_unstable();
    out
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

/// Pins every thread of `pid` to `core`.
fn pin(pid: u32, core: u32) {
    let out = Command::new("taskset")
        .args(["-a", "-p", "-c", &core.to_string(), &pid.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "taskset -a -p -c {core} {pid}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The affinity list of one thread (`taskset -c -p`), e.g. `0,1` or `0-1`.
fn affinity(tid: u32) -> String {
    let out = Command::new("taskset")
        .args(["-c", "-p", &tid.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "taskset -c -p {tid}: {text}");
    text.rsplit(':').next().unwrap().trim().to_owned()
}

/// Runs `start` with this process's main thread (which spawns the children)
/// pinned to `core`, so what it starts begins on that core alone and sizes
/// itself for one core (the gateway's runtime starts one worker thread, as it
/// would under `taskset -c 0 munjigi serve`); then restores the main thread.
fn started_on_core<T>(core: u32, start: impl FnOnce() -> T) -> T {
    let me = std::process::id();
    let before = affinity(me);
    let set = |list: &str| {
        let ok = Command::new("taskset")
            .args(["-p", "-c", list, &me.to_string()])
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "taskset -p -c {list} {me}");
    };
    set(&core.to_string());
    let out = start();
    set(&before);
    out
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

/// What one wrk run reported.
#[derive(Debug, Default, Clone)]
struct Wrk {
    requests: u64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx_3xx: u64,
    socket_errors: String,
    output: String,
}

/// A wrk duration (`812.00us`, `1.23ms`, `2.00s`, `1.00m`) in milliseconds.
fn wrk_ms(v: &str) -> f64 {
    let (num, mult) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = v.strip_suffix('h') {
        (n, 3_600_000.0)
    } else {
        panic!("unknown wrk time unit in `{v}`")
    };
    num.parse::<f64>()
        .unwrap_or_else(|_| panic!("not a wrk time: `{v}`"))
        * mult
}

fn parse_wrk(out: &str) -> Wrk {
    let mut w = Wrk {
        output: out.to_owned(),
        ..Wrk::default()
    };
    let mut in_dist = false;
    let (mut saw_rps, mut saw_p50, mut saw_p99, mut saw_n) = (false, false, false, false);
    for line in out.lines() {
        let t = line.trim();
        if t.starts_with("Latency Distribution") {
            in_dist = true;
            continue;
        }
        if in_dist {
            let mut it = t.split_whitespace();
            match (it.next(), it.next()) {
                (Some("50%"), Some(v)) => {
                    w.p50_ms = wrk_ms(v);
                    saw_p50 = true;
                }
                (Some("99%"), Some(v)) => {
                    w.p99_ms = wrk_ms(v);
                    saw_p99 = true;
                }
                (Some(p), Some(_)) if p.ends_with('%') => {}
                _ => in_dist = false,
            }
        }
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            w.rps = v.trim().parse().unwrap();
            saw_rps = true;
        } else if let Some(v) = t.strip_prefix("Non-2xx or 3xx responses:") {
            w.non_2xx_3xx = v.trim().parse().unwrap();
        } else if let Some(v) = t.strip_prefix("Socket errors:") {
            w.socket_errors = v.trim().to_owned();
        } else if let Some((n, _)) = t.split_once(" requests in ") {
            w.requests = n.trim().parse().unwrap();
            saw_n = true;
        }
    }
    assert!(
        saw_rps && saw_p50 && saw_p99 && saw_n,
        "cannot read wrk's output:\n{out}"
    );
    w
}

/// One wrk run on the load core against `url`, with the session cookie.
fn wrk(url: &str, secs: u64, connections: usize, cookie: &str) -> Wrk {
    let out = Command::new("taskset")
        .args(["-c", &LOAD_CORE.to_string(), "wrk", "-t1"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"))
        .arg("--latency")
        .arg("-H")
        .arg(format!("Cookie: mj_px={cookie}"))
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("cannot run wrk: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "wrk failed ({}): {text}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    parse_wrk(&text)
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
    let warm = wrk(url, WARMUP_SECS, connections, cookie);
    check_all_ok(name, "warm-up", &warm, None);
    std::thread::sleep(Duration::from_millis(300));

    let (ac0, up0) = upstream_counts(upstream_port);
    let j0 = cpu_jiffies();
    let c0 = cpu_ticks_of(pids);
    let s0 = sched_ns_of(pids);
    let start = Instant::now();
    let w = wrk(url, secs, connections, cookie);
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

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "not met"
    }
}

fn write_upstream_root(root: &Path) -> String {
    let body = file_body();
    std::fs::create_dir_all(root.join("bench")).unwrap();
    std::fs::write(root.join("bench/small.txt"), &body).unwrap();
    body
}

fn main() {
    let secs = env_usize("DURATION", 10) as u64;
    let connections = env_usize("CONNECTIONS", 32);
    for t in ["wrk", "taskset"] {
        require_tool(t);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(
        cores >= 2,
        "the bench pins the proxy and the load generator to two different cores; this machine has {cores}"
    );
    let tck = clk_tck();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = TempDir::new("bench-proxy");

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
    let gw = started_on_core(SUT_CORE, || {
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
    let threads = std::fs::read_dir(format!("/proc/{gw_pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0);

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
    let j0 = cpu_jiffies();
    std::thread::sleep(Duration::from_secs(1));
    let idle_busy = busy_pct(&j0, &cpu_jiffies());
    println!(
        "background:    {} busy before the runs (other processes share these cores)",
        idle_busy
            .iter()
            .enumerate()
            .map(|(i, b)| format!("cpu{i} {b:.0}%"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();

    let g = measure(
        "gateway",
        &gw_file,
        &[gw_pid],
        secs,
        connections,
        &cookie,
        up_port,
        tck,
    );
    let gw_lines = gw.proc.drain();
    let n = measure(
        "nginx",
        &ngx_file,
        &ngx_workers,
        secs,
        connections,
        &cookie,
        up_port,
        tck,
    );
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
         {connections} connections"
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
    for s in [&g, &n] {
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
    println!(
        "gateway CPU per request:            {gw_us:.2} µs   budget ≤ {BUDGET_US} µs: {} \
         ({:.2}× nginx's {:.2} µs)",
        met(gw_us <= BUDGET_US),
        gw_us / n.us_per_request(),
        n.us_per_request()
    );
    println!(
        "upstream connections opened during the measured runs: gateway {}, nginx {} \
         (connection reuse; stub_status)",
        g.upstream_connections, n.upstream_connections
    );
    for s in [&g, &n] {
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
        "gateway": side(&g),
        "nginx": side(&n),
        "ratio": ratio,
        "added_p99_ms": added_p99,
        "targets": {
            "ratio_min": TARGET_RATIO,
            "ratio_met": ratio >= TARGET_RATIO,
            "added_p99_ms_max": TARGET_ADDED_P99_MS,
            "added_p99_met": added_p99 < TARGET_ADDED_P99_MS,
            "cpu_us_per_request_max": BUDGET_US,
            "cpu_met": gw_us <= BUDGET_US,
        },
    });
    // Cargo runs benches in the package folder: a relative target dir is the root's.
    let out_dir = repo_root()
        .join(std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into()))
        .join("bench");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("proxy_overhead.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap() + "\n").unwrap();
    println!("figures:       {}", out.display());

    drop(gw);
    drop(sim);
    drop(proxy);
    drop(upstream);
}
