//! What the load benches (`benches/proxy_overhead.rs`, `benches/saml_response.rs`)
//! share: knobs from the environment, pinning processes and threads to cores
//! with `taskset`, CPU time from `/proc`, and running `wrk` and reading what it
//! printed. Linux only, as the benches are.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Core of the system under test; the load generator gets the other.
pub const SUT_CORE: u32 = 0;
pub const LOAD_CORE: u32 = 1;
/// The uncounted `wrk` run before each measured one.
pub const WARMUP_SECS: u64 = 2;

/// A numeric knob from the environment, or `default` when unset.
/// What every load bench starts with: its knobs (`DURATION`, `CONNECTIONS`),
/// `wrk` and `taskset`, two cores, a runtime for the harness, a folder.
pub struct Start {
    pub secs: u64,
    pub connections: usize,
    pub tck: u64,
    pub rt: tokio::runtime::Runtime,
    pub dir: crate::TempDir,
}

pub fn start(tag: &str, under_test: &str, default_connections: usize) -> Start {
    let secs = env_usize("DURATION", 10) as u64;
    let connections = env_usize("CONNECTIONS", default_connections);
    for t in ["wrk", "taskset"] {
        require_tool(t);
    }
    require_two_cores(under_test);
    Start {
        secs,
        connections,
        tck: clk_tck(),
        rt: tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap(),
        dir: crate::TempDir::new(tag),
    }
}

pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got `{v}`")),
        Err(_) => default,
    }
}

/// Fails unless `name` is on the PATH.
pub fn require_tool(name: &str) {
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

/// Fails unless this machine has the two cores the pinning needs.
pub fn require_two_cores(what: &str) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(
        cores >= 2,
        "the bench pins {what} and the load generator to two different cores; this machine has {cores}"
    );
}

/// (utime, stime) of a process, all threads, in clock ticks (`/proc/<pid>/stat`
/// fields 14, 15).
pub fn cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &s[s.rfind(')').unwrap() + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// Sum of [`cpu_ticks`] over `pids`.
pub fn cpu_ticks_of(pids: &[u32]) -> u64 {
    pids.iter().map(|p| cpu_ticks(*p)).sum()
}

/// The scheduler's run time of every live thread of `pid`, in ns
/// (`se.sum_exec_runtime` in `/proc/<pid>/task/*/sched`), a finer cross-check.
pub fn sched_ns(pid: u32) -> Option<u64> {
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

/// Sum of [`sched_ns`] over `pids`.
pub fn sched_ns_of(pids: &[u32]) -> Option<u64> {
    pids.iter().map(|p| sched_ns(*p)).sum()
}

/// CPU time of the calling thread so far, in ns (`/proc/thread-self/schedstat`).
pub fn thread_cpu_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    s.split_whitespace().next().unwrap().parse().unwrap()
}

/// Busy and total jiffies of each CPU (`/proc/stat` `cpuN` lines).
pub fn cpu_jiffies() -> Vec<(u64, u64)> {
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
pub fn busy_pct(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .map(|((b0, t0), (b1, t1))| {
            let t = t1.saturating_sub(*t0).max(1) as f64;
            b1.saturating_sub(*b0) as f64 * 100.0 / t
        })
        .collect()
}

/// Samples the machine for one second before the runs and prints how busy
/// each core was (other processes skew the figures); returns the shares.
pub fn background_busy() -> Vec<f64> {
    let j0 = cpu_jiffies();
    std::thread::sleep(Duration::from_secs(1));
    let busy = busy_pct(&j0, &cpu_jiffies());
    println!(
        "background:    {} busy before the runs (other processes share these cores)",
        busy.iter()
            .enumerate()
            .map(|(i, b)| format!("cpu{i} {b:.0}%"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    busy
}

/// Clock ticks per second (`getconf CLK_TCK`), for [`cpu_ticks`].
pub fn clk_tck() -> u64 {
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
pub fn children(pid: u32) -> Vec<u32> {
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

/// Pins every thread of `pid` to `core`.
pub fn pin(pid: u32, core: u32) {
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

/// The number of threads of `pid` now.
pub fn thread_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0)
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

/// Runs `f` with this process's main thread pinned to `core`, then restores
/// the main thread's affinity. Call it from the main thread: what `f` runs
/// there stays on `core`, and what it starts (a child process) begins on that
/// core alone and sizes itself for one core (the gateway's runtime starts one
/// worker thread, as it would under `taskset -c 0 munjigi serve`).
pub fn on_core<T>(core: u32, f: impl FnOnce() -> T) -> T {
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
    let out = f();
    set(&before);
    out
}

/// What one wrk run reported.
#[derive(Debug, Default, Clone)]
pub struct Wrk {
    pub requests: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub non_2xx_3xx: u64,
    pub socket_errors: String,
    pub output: String,
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

/// Reads wrk's `--latency` report.
pub fn parse_wrk(out: &str) -> Wrk {
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

/// One `wrk -t1 --latency` run on [`LOAD_CORE`] against `url`, sending
/// `header` (`Name: value`) with every request; `args` go before the URL
/// (e.g. `-s script.lua`).
pub fn wrk(url: &str, secs: u64, connections: usize, header: &str, args: &[&str]) -> Wrk {
    let mut all = vec!["-H", header];
    all.extend_from_slice(args);
    all.push(url);
    wrk_args(secs, connections, &all)
}

/// One `wrk -t1 --latency` run on [`LOAD_CORE`] with `args` as they are: the
/// options, the URL, then what the script's `init` gets.
pub fn wrk_args(secs: u64, connections: usize, args: &[&str]) -> Wrk {
    let out = Command::new("taskset")
        .args(["-c", &LOAD_CORE.to_string(), "wrk", "-t1"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"))
        .arg("--latency")
        .args(args)
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

/// A measure's rounds, in order, with their median, minimum and maximum.
pub fn spread_json(rounds: &[f64]) -> serde_json::Value {
    let mut sorted = rounds.to_vec();
    sorted.sort_by(f64::total_cmp);
    serde_json::json!({
        "rounds": rounds,
        "median": sorted.get(sorted.len() / 2),
        "min": sorted.first(),
        "max": sorted.last(),
    })
}

pub fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "not met"
    }
}

/// Writes a bench's figures to `target/bench/NAME.json` (under
/// `CARGO_TARGET_DIR` when set) and prints where.
pub fn write_figures(name: &str, report: &serde_json::Value) -> PathBuf {
    // Cargo runs benches in the package folder: a relative target dir is the root's.
    let out_dir = crate::repo_root()
        .join(std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into()))
        .join("bench");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join(format!("{name}.json"));
    std::fs::write(&out, serde_json::to_string_pretty(report).unwrap() + "\n").unwrap();
    println!("figures:       {}", out.display());
    out
}
