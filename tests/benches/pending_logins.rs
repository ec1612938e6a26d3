//! Pending logins at scale: how much a login waiting for the citizen's
//! approval costs the store and the gateway, and how cheaply its waiting page
//! is answered (the year-end tax rush is hundreds of thousands of people
//! looking at "approve in your app" at once).
//!
//! A real `redis-server` (nothing persisted) is the store, login records
//! written compact (`compact_logins = true`), the gateway (release
//! binary) runs on core 0, the simulator (which never approves within the
//! bench), Redis and the driver on core 1. The bench:
//!
//! 1. starts `PENDING` logins (default 100,000) as browsers do (authorize,
//!    chooser, identity form, start), a fresh browser each, and keeps each
//!    one's status URL and cookies;
//! 2. reads Redis's `used_memory` and key count and the gateway's RSS before
//!    and after: bytes per pending login (goal ≤ 1 KB) and RSS growth;
//! 3. has `wrk` poll the status of `HOT` of them (default 1,000) in turn for
//!    `DURATION` seconds, each request with its own login's cookies, as their
//!    waiting pages do: the gateway's CPU per poll (goal: ≥ 20,000 polls/s per
//!    core), and the upstream status polls it made meanwhile (its own
//!    provider-call counter), which must stay within one per login per
//!    interval (1 s) however many polls the browsers send;
//! 4. checks every login is still pending at the end.
//!
//! Measurement only: it fails when a request fails or coalescing is broken,
//! never because it is slow. Figures also go to `target/bench/pending_logins.json`.
//!
//! Environment: `PENDING` (default 100000), `HOT` (default 1000), `DURATION`
//! (seconds, default 10), `CONNECTIONS` (default 16), `CONCURRENCY` (logins
//! started at once, default 32), `MUNJIGI_BIN`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::bench::*;
use munjigi_e2e::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Store bytes per pending login, at most.
const GOAL_BYTES: f64 = 1024.0;
/// Status polls per second per gateway core, at least.
const GOAL_POLLS: f64 = 20_000.0;
/// The gateway's upstream poll interval (`login::flow::POLL_INTERVAL`).
const POLL_INTERVAL_S: f64 = 1.0;
/// Distinct citizens the logins are spread over (the simulator makes each a
/// certificate once).
const PEOPLE: usize = 500;

/// Cycles through the hot logins' status URLs, each with its own cookies, and
/// counts every answer's status and state.
const WRK_SCRIPT: &str = r#"
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  paths, cookies = {}, {}
  for line in io.lines(args[1]) do
    local p, c = line:match("^([^\t]+)\t(.*)$")
    table.insert(paths, p)
    table.insert(cookies, c)
  end
  i = 0
  mj_ok, mj_other, mj_pending = 0, 0, 0
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["Cookie"] = cookies[i] })
end
function response(status, headers, body)
  if status == 200 then mj_ok = mj_ok + 1 else mj_other = mj_other + 1 end
  if body and string.find(body, '"state":"pending"', 1, true) then
    mj_pending = mj_pending + 1
  end
end
function done(summary, latency, requests)
  local ok, other, pending = 0, 0, 0
  for _, t in ipairs(threads) do
    ok = ok + t:get("mj_ok")
    other = other + t:get("mj_other")
    pending = pending + t:get("mj_pending")
  end
  io.write(string.format("mj-statuses: ok=%d other=%d pending=%d\n", ok, other, pending))
end
"#;

fn counts(w: &Wrk) -> (u64, u64, u64) {
    let line = w
        .output
        .lines()
        .find_map(|l| l.trim().strip_prefix("mj-statuses:"))
        .unwrap_or_else(|| panic!("no counts from the wrk script:\n{}", w.output));
    let get = |k: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("no `{k}` in `{line}`"))
    };
    (get("ok"), get("other"), get("pending"))
}

/// One pending login: its status path and the browser's cookies.
struct Waiting {
    status_path: String,
    cookies: String,
}

/// Starts one login as a fresh browser and leaves it waiting.
async fn start_one(gw: &str, i: usize) -> Waiting {
    let authorize = format!(
        "{gw}/authorize?response_type=code&client_id=town&scope=openid\
         &redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&state=s{i}&nonce=n{i}"
    );
    let mut b = Browser::new(None);
    let (chooser, chooser_url) = b.follow(&authorize).await;
    assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
    let phone = format!("010{:08}", 30_000_000 + i % PEOPLE);
    let who = Citizen {
        name: HONG.name,
        birthdate: HONG.birthdate,
        phone: &phone,
    };
    let wait_url = pick_and_submit(&mut b, &chooser_url, &who).await;
    let base = wait_url.trim_end_matches("/wait");
    let path = base
        .strip_prefix(gw)
        .unwrap_or(base)
        .trim_start_matches('/')
        .to_owned();
    Waiting {
        status_path: format!("/{path}/status?wait=0"),
        cookies: b.cookie_header_value(),
    }
}

fn info_field(port: u16, section: &str, field: &str) -> f64 {
    let text = redis_cli(port, &["INFO", section]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
}

fn rss_kib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// The gateway's upstream status polls so far (its provider-call histogram).
fn upstream_polls(rt: &tokio::runtime::Runtime, admin: &str) -> f64 {
    let page = rt.block_on(Browser::new(None).get(&format!("{admin}/metrics")));
    assert_eq!(page.status, 200, "{admin}/metrics: {}", page.body);
    let body = page.body;
    let sum: f64 = body
        .lines()
        .filter(|l| l.starts_with("munjigi_provider_call_duration_seconds_count{"))
        .filter(|l| l.contains("call=\"status\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(
        body.contains("munjigi_provider_call_duration_seconds"),
        "no provider-call metric at {admin}/metrics"
    );
    sum
}

fn main() {
    let Start {
        secs,
        connections,
        tck,
        rt,
        dir,
    } = start("bench-pending", "the gateway", 16);
    let pending = env_usize("PENDING", 100_000).max(1);
    let hot = env_usize("HOT", 1000).clamp(1, pending);
    let concurrency = env_usize("CONCURRENCY", 32).max(1);
    pin(std::process::id(), LOAD_CORE);

    let redis = start_redis();
    let (sim, sim_url) = start_simulator(
        dir.path(),
        &SimOpts {
            approve_after_ms: 24 * 3600 * 1000,
            people: Vec::new(),
        },
    );
    let admin = format!("http://127.0.0.1:{}", free_port());
    let gw = on_core(SUT_CORE, || {
        start_gateway(
            dir.path(),
            &sim_url,
            &GatewayOpts {
                site_redirect: "http://127.0.0.1:9/cb".to_owned(),
                login_ttl_secs: 3600,
                provider_ttl_secs: Some(900),
                extra: format!(
                    "\n[store]\nkind = \"redis\"\ncompact_logins = true\nurl = {{ value = \"redis://127.0.0.1:{}\" }}\n\
                     \n[admin]\nlisten = \"{}\"\n",
                    redis.port,
                    admin.trim_start_matches("http://")
                ),
                ..GatewayOpts::default()
            },
        )
    });
    let gw_pid = gw.proc.pid();
    pin(gw_pid, SUT_CORE);
    println!("binary:        {}", munjigi_bin().display());
    println!(
        "gateway:       {} (pid {gw_pid}) on core {SUT_CORE}, Redis store",
        gw.url
    );
    println!(
        "pending:       {pending} logins over {PEOPLE} people, {concurrency} started at once; \
         then {hot} of them polled"
    );

    // A first login, so Redis and the gateway hold what any login leaves
    // behind (connections, caches) before the baseline.
    let first = rt.block_on(start_one(&gw.url, 0));
    std::thread::sleep(Duration::from_millis(500));
    gw.proc.drain();
    let mem0 = info_field(redis.port, "memory", "used_memory");
    let keys0 = redis_cli(redis.port, &["DBSIZE"]).parse::<f64>().unwrap();
    let rss0 = rss_kib(gw_pid);

    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(1));
    let kept: Arc<Mutex<Vec<Waiting>>> = Arc::new(Mutex::new(vec![first]));
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let next = next.clone();
            let kept = kept.clone();
            let gw = gw.url.clone();
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= pending {
                        return;
                    }
                    let w = start_one(&gw, i).await;
                    kept.lock().unwrap().push(w);
                    if i.is_multiple_of(10_000) {
                        println!("  {i} started");
                    }
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap_or_else(|e| panic!("a start task failed: {e}"));
        }
    });
    let start_s = started.elapsed().as_secs_f64();
    let waiting = std::mem::take(&mut *kept.lock().unwrap());
    assert_eq!(waiting.len(), pending);
    std::thread::sleep(Duration::from_millis(500));
    let start_lines = gw.proc.drain();
    let mem1 = info_field(redis.port, "memory", "used_memory");
    let keys1 = redis_cli(redis.port, &["DBSIZE"]).parse::<f64>().unwrap();
    let rss1 = rss_kib(gw_pid);
    let bytes_per_login = (mem1 - mem0) / (pending - 1).max(1) as f64;
    // What one login leaves in Redis, key by key (`MEMORY USAGE` counts the
    // key, its value and Redis's own overhead).
    let id = waiting[0]
        .status_path
        .trim_start_matches('/')
        .split('/')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let mut breakdown = Vec::new();
    for key in redis_cli(redis.port, &["--scan", "--pattern", &format!("*{id}*")]).lines() {
        let kind = redis_cli(redis.port, &["TYPE", key]);
        let usage = redis_cli(redis.port, &["MEMORY", "USAGE", key]);
        let len = if kind == "string" {
            redis_cli(redis.port, &["STRLEN", key])
        } else {
            String::new()
        };
        breakdown.push(serde_json::json!({"key": key.replace(&id, "ID"), "type": kind, "memory_usage": usage.parse::<u64>().ok(), "strlen": len.parse::<u64>().ok()}));
    }
    let set_members = redis_cli(redis.port, &["ZCARD", "mj:pending"]);
    let keys_per_login = (keys1 - keys0) / (pending - 1).max(1) as f64;
    let rss_growth_mb = (rss1 - rss0) / 1024.0;

    // The hot set, polled in turn by wrk with each login's own cookies.
    let list = dir.path().join("hot.tsv");
    std::fs::write(
        &list,
        waiting
            .iter()
            .take(hot)
            .map(|w| format!("{}\t{}\n", w.status_path, w.cookies))
            .collect::<String>(),
    )
    .unwrap();
    let script = dir.path().join("poll.lua");
    std::fs::write(&script, WRK_SCRIPT).unwrap();
    let (script, list) = (
        script.to_str().unwrap().to_owned(),
        list.to_str().unwrap().to_owned(),
    );
    let args = ["-s", script.as_str(), gw.url.as_str(), list.as_str()];
    let warm = wrk_args(WARMUP_SECS, connections, &args);
    let (ok, other, _) = counts(&warm);
    assert!(other == 0 && ok > 0, "warm-up polls: {}", warm.output);
    std::thread::sleep(Duration::from_millis(300));
    gw.proc.drain();

    let up0 = upstream_polls(&rt, &admin);
    let c0 = cpu_ticks(gw_pid);
    let r0 = cpu_ticks(sim.pid());
    let s0 = sched_ns(gw_pid);
    let j0 = cpu_jiffies();
    let t0 = Instant::now();
    let w = wrk_args(secs, connections, &args);
    let wall_s = t0.elapsed().as_secs_f64();
    let c1 = cpu_ticks(gw_pid);
    let r1 = cpu_ticks(sim.pid());
    let s1 = sched_ns(gw_pid);
    let j1 = cpu_jiffies();
    std::thread::sleep(Duration::from_millis(300));
    let up1 = upstream_polls(&rt, &admin);
    let (ok, other, still) = counts(&w);
    assert!(
        other == 0 && ok == w.requests && still == w.requests,
        "of {} polls {ok} were 200 and {still} said pending ({other} other):\n{}",
        w.requests,
        w.output
    );
    let poll_lines = gw.proc.drain();
    let upstream = up1 - up0;
    // Each hot login may be polled upstream once per interval, plus the
    // interval the run started in.
    let upstream_max = hot as f64 * ((wall_s + 0.6) / POLL_INTERVAL_S).ceil();
    assert!(
        upstream <= upstream_max,
        "{upstream} upstream polls for {hot} logins in {wall_s:.1} s: more than one per login \
         per interval ({upstream_max})"
    );
    let cpu_us = (c1 - c0) as f64 * 1e6 / tck as f64 / w.requests.max(1) as f64;
    let sched_us = match (s0, s1) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1000.0 / w.requests.max(1) as f64),
        _ => None,
    };
    let polls_per_core = 1e6 / cpu_us.max(f64::MIN_POSITIVE);
    let sim_us = (r1 - r0) as f64 * 1e6 / tck as f64 / upstream.max(1.0);

    // Every login is still waiting: nothing was lost or ended by the polls.
    let keys2 = redis_cli(redis.port, &["DBSIZE"]).parse::<f64>().unwrap();

    println!();
    println!("== pending_logins: {pending} logins waiting at once, Redis store");
    println!(
        "started in:                {start_s:.1} s ({:.0} logins/s; {:.1} log lines per start)",
        pending as f64 / start_s,
        start_lines.len() as f64 / pending as f64
    );
    println!(
        "Redis per pending login:   {bytes_per_login:.0} bytes (used_memory {:.1} → {:.1} MB), \
         {keys_per_login:.2} keys; goal ≤ {GOAL_BYTES:.0}: {}",
        mem0 / 1e6,
        mem1 / 1e6,
        met(bytes_per_login <= GOAL_BYTES)
    );
    for b in &breakdown {
        println!(
            "  {:<36} {:<7} {} bytes in Redis{}",
            b["key"].as_str().unwrap_or(""),
            b["type"].as_str().unwrap_or(""),
            b["memory_usage"],
            b["strlen"]
                .as_u64()
                .map_or(String::new(), |l| format!(" (value {l} bytes)"))
        );
    }
    println!("  pending set members:      {set_members}");
    println!(
        "gateway RSS:               {:.1} → {:.1} MB ({rss_growth_mb:+.1} MB, {:.0} bytes per login)",
        rss0 / 1024.0,
        rss1 / 1024.0,
        (rss1 - rss0) * 1024.0 / pending as f64
    );
    println!(
        "status polls:              {} in {wall_s:.1} s over {hot} logins ({:.0}/s, p50 {:.3} ms, \
         p99 {:.3} ms), {connections} connections",
        w.requests, w.rps, w.p50_ms, w.p99_ms
    );
    println!(
        "gateway CPU per poll:      {cpu_us:.1} µs{} → {polls_per_core:.0} polls/s per core; \
         goal ≥ {GOAL_POLLS:.0}: {}",
        sched_us.map_or(String::new(), |v| format!(" (sched {v:.1} µs)")),
        met(polls_per_core >= GOAL_POLLS)
    );
    println!(
        "upstream status polls:     {upstream:.0} for {} browser polls ({:.2} per login per \
         second; at most {upstream_max:.0}); simulator {sim_us:.0} µs each",
        w.requests,
        upstream / hot as f64 / wall_s
    );
    let busy = busy_pct(&j0, &j1);
    println!(
        "cores busy while polling:  {}",
        busy.iter()
            .enumerate()
            .map(|(i, b)| format!("cpu{i} {b:.0}%"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "gateway log lines while polling: {} ({:.3} per poll)",
        poll_lines.len(),
        poll_lines.len() as f64 / w.requests.max(1) as f64
    );
    assert!(
        keys2 >= keys1 - hot as f64,
        "logins vanished from Redis while polled: {keys1} keys → {keys2}"
    );

    write_figures(
        "pending_logins",
        &serde_json::json!({
            "bench": "pending_logins",
            "logins": pending,
            "people": PEOPLE,
            "start_s": start_s,
            "redis_used_memory_before": mem0,
            "redis_used_memory_after": mem1,
            "redis_bytes_per_login": bytes_per_login,
            "redis_keys_per_login": keys_per_login,
            "redis_keys_of_one_login": breakdown,
            "goal_bytes_per_login": GOAL_BYTES,
            "rss_before_kib": rss0,
            "rss_after_kib": rss1,
            "rss_growth_mb": rss_growth_mb,
            "polled_logins": hot,
            "polls": w.requests,
            "polls_per_s": w.rps,
            "poll_p50_ms": w.p50_ms,
            "poll_p99_ms": w.p99_ms,
            "connections": connections,
            "duration_s": wall_s,
            "cpu_us_per_poll": cpu_us,
            "sched_us_per_poll": sched_us,
            "polls_per_s_per_core": polls_per_core,
            "goal_polls_per_s_per_core": GOAL_POLLS,
            "upstream_polls": upstream,
            "upstream_polls_max": upstream_max,
            "core_busy_pct": busy,
        }),
    );
    drop(gw);
    drop(sim);
    drop(redis);
}
