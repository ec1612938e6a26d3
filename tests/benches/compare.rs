//! The side-by-side report of `./deploy/bench compare`: reads what the
//! scenario benches just wrote with `COMPARE=1` (`target/bench/login_cpu.json`,
//! `saml_response.json`, `proxy_overhead.json`, and `pending_logins.json` when
//! present; the login bench's latency phases when it ran them), prints the ratios to each peer as the headline, and writes
//! `bench/results/latest.json` and `latest.md` with the machine, the date and
//! the commit, and the same table into the README's Performance section
//! (between its `<!-- bench:latest -->` markers). Measures nothing itself, so it can never disagree with them;
//! fails when a scenario's figures, or its peer's, are missing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::repo_root;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;

fn figures_dir() -> PathBuf {
    repo_root()
        .join(std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into()))
        .join("bench")
}

fn read(name: &str) -> Option<Value> {
    let path = figures_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn need(name: &str) -> Value {
    read(name).unwrap_or_else(|| {
        panic!(
            "{}/{name}.json missing: run its bench with COMPARE=1 first (./deploy/bench compare)",
            figures_dir().display()
        )
    })
}

fn num(v: &Value, path: &[&str]) -> f64 {
    let mut at = v;
    for p in path {
        at = &at[*p];
    }
    at.as_f64()
        .unwrap_or_else(|| panic!("no number at {} in the figures", path.join(".")))
}

/// `median (min–max)` of a spread written by `bench::spread_json`.
fn spread(v: &Value, scale: f64, digits: usize) -> String {
    let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN) * scale;
    format!(
        "{:.d$} ({:.d$}–{:.d$})",
        f("median"),
        f("min"),
        f("max"),
        d = digits
    )
}

fn rounds(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_f64)
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn sh(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .current_dir(repo_root())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_default();
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    json!({
        "cpu": model,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "memory_gib": (mem_kib as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "kernel": sh("uname", &["-r"]),
        "os": std::fs::read_to_string("/etc/debian_version").map(|v| format!("Debian {}", v.trim())).unwrap_or_default(),
    })
}

/// One row of the headline table.
struct Row {
    scenario: &'static str,
    peer: String,
    peer_cpu: String,
    gateway_cpu: String,
    headline: String,
    per_round: String,
    goal: String,
    met: bool,
    json: Value,
}

fn main() {
    let login = need("login_cpu");
    let saml = need("saml_response");
    let proxy = need("proxy_overhead");
    let pending = read("pending_logins");
    let mut rows = Vec::new();

    // OIDC: CPU per completed login.
    let lp = &login["peer"];
    assert!(
        lp.is_object(),
        "login_cpu.json has no peer: run it with COMPARE=1"
    );
    let ratio = num(lp, &["peer_over_gateway"]);
    let goal = num(lp, &["goal"]);
    rows.push(Row {
        scenario: "OIDC login, CPU per login",
        peer: "node oidc-provider 9.13 (5 requests, no provider)".into(),
        peer_cpu: format!("{} µs", spread(&lp["spread"], 1.0, 0)),
        gateway_cpu: format!(
            "{} µs ({:.0} requests, CMS verified)",
            spread(&login["gateway"]["spread"], 1.0, 0),
            num(&login, &["gateway", "requests_per_login"])
        ),
        headline: format!("{ratio:.1}× less CPU"),
        per_round: rounds(&lp["peer_over_gateway_rounds"]),
        goal: format!("≥ {goal:.0}× less"),
        met: ratio >= goal,
        json: json!({
            "peer": lp,
            "gateway": login["gateway"],
            "ratio_peer_over_gateway": ratio,
            "goal_min": goal,
        }),
    });

    // SAML: CPU per IdP-initiated response from a session.
    let sp = &saml["peer"];
    assert!(
        sp.is_object(),
        "saml_response.json has no peer: run it with COMPARE=1"
    );
    let configs = saml["configs"].as_array().expect("saml configs");
    let rsa = &configs[0];
    let ecdsa = configs
        .iter()
        .find(|c| c["signature_algorithm"] == "ecdsa-sha256")
        .expect("an ECDSA config");
    let floor = num(rsa, &["ratio_to_rsa_signatures"]);
    let floor_goal = num(&saml, &["budget_ratio_max"]);
    let vs_rsa = num(sp, &["peer_over_gateway_rsa"]);
    rows.push(Row {
        scenario: "SAML response, 2 RSA-2048 signatures",
        peer: "SimpleSAMLphp 1.19, Apache mod_php, opcache".into(),
        peer_cpu: format!("{} ms", spread(&sp["spread"], 1.0, 3)),
        gateway_cpu: format!(
            "{} ms ({floor:.2}× its RSA signatures)",
            spread(&rsa["spread"], 1.0, 3)
        ),
        headline: format!("{vs_rsa:.1}× less CPU"),
        per_round: rounds(&sp["peer_over_gateway_rsa_rounds"]),
        goal: format!("≤ {floor_goal}× the RSA floor"),
        met: floor <= floor_goal,
        json: json!({
            "peer": sp,
            "gateway": rsa,
            "ratio_peer_over_gateway": vs_rsa,
            "ratio_to_rsa_floor": floor,
            "goal_max_ratio_to_rsa_floor": floor_goal,
            "rsa_reference": saml["rsa_reference"],
        }),
    });
    let vs_ec = num(sp, &["peer_over_gateway_ecdsa"]);
    let ec_goal = num(sp, &["ecdsa_goal"]);
    rows.push(Row {
        scenario: "SAML response, gateway signing ECDSA P-256",
        peer: "SimpleSAMLphp, RSA (it has no ECDSA)".into(),
        peer_cpu: format!("{} ms", spread(&sp["spread"], 1.0, 3)),
        gateway_cpu: format!("{} ms", spread(&ecdsa["spread"], 1.0, 3)),
        headline: format!("{vs_ec:.1}× less CPU"),
        per_round: rounds(&sp["peer_over_gateway_ecdsa_rounds"]),
        goal: format!("≥ {ec_goal:.0}× less"),
        met: vs_ec >= ec_goal,
        json: json!({
            "peer": sp,
            "gateway": ecdsa,
            "ratio_peer_over_gateway": vs_ec,
            "goal_min": ec_goal,
        }),
    });

    // Proxy: CPU per authenticated proxied GET, and throughput.
    let cpu_ratio = num(&proxy, &["targets", "cpu_vs_nginx"]);
    let cpu_goal = num(&proxy, &["targets", "cpu_vs_nginx_max"]);
    let tput = num(&proxy, &["ratio"]);
    let tput_goal = num(&proxy, &["targets", "ratio_min"]);
    rows.push(Row {
        scenario: "Proxied GET of 1 KiB, CPU per request",
        peer: "nginx 1.22 proxy_pass, keep-alive upstream".into(),
        peer_cpu: format!("{} µs", spread(&proxy["nginx_cpu_us_per_request"], 1.0, 1)),
        gateway_cpu: format!(
            "{} µs ({tput:.2}× nginx's requests/s)",
            spread(&proxy["gateway_cpu_us_per_request"], 1.0, 1)
        ),
        headline: format!("{cpu_ratio:.2}× nginx's CPU"),
        per_round: rounds(&proxy["round_cpu_ratios"]),
        goal: format!("≤ {cpu_goal}× its CPU, ≥ {tput_goal}× its requests/s"),
        met: cpu_ratio <= cpu_goal && tput >= tput_goal,
        json: json!({
            "gateway": proxy["gateway"],
            "nginx": proxy["nginx"],
            "ratio_cpu_gateway_over_nginx": cpu_ratio,
            "ratio_throughput_gateway_over_nginx": tput,
            "round_cpu_ratios": proxy["round_cpu_ratios"],
            "round_throughput_ratios": proxy["round_ratios"],
            "added_p99_ms": proxy["added_p99_ms"],
            "goal_max_cpu_ratio": cpu_goal,
            "goal_min_throughput_ratio": tput_goal,
        }),
    });

    let date = sh("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let commit = sh("git", &["rev-parse", "--short", "HEAD"]);
    // The report's own outputs do not count as changes.
    let dirty = !sh(
        "git",
        &[
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":!README.md",
            ":!bench/results",
        ],
    )
    .is_empty();
    let commit = if dirty {
        format!("{commit} (with uncommitted changes)")
    } else {
        commit
    };
    let machine = machine();

    let mut md = String::new();
    md.push_str("| Scenario | Peer | Peer CPU per op | Munjigi CPU per op | Munjigi vs peer | Rounds | Goal | Met |\n");
    md.push_str("|---|---|---|---|---|---|---|---|\n");
    for r in &rows {
        md.push_str(&format!(
            "| {} | {} | {} | {} | **{}** | {} | {} | {} |\n",
            r.scenario,
            r.peer,
            r.peer_cpu,
            r.gateway_cpu,
            r.headline,
            r.per_round,
            r.goal,
            if r.met { "yes" } else { "no" }
        ));
    }
    md.push_str(
        "\nCPU per operation of the server alone (`/proc/<pid>/stat`, every thread and \
         child), the median of the rounds with the minimum and maximum in brackets. \
         Servers on core 0, the load generators and the provider simulator on core 1. \
         Rounds: the peer's figure over Munjigi's, round by round (for the proxy: \
         Munjigi's over nginx's).\n",
    );
    if let Some(phases) = login["latency"].as_array().filter(|a| !a.is_empty()) {
        md.push_str(
            "\nLatency of the gateway's login steps under load (open-loop arrivals, the provider \
             answering at once; client-side time per request, p50 / p99 in ms):\n\n| Step |",
        );
        for ph in phases {
            md.push_str(&format!(
                " {:.0}% of capacity ({:.0} logins/s, core {:.0}% busy) |",
                num(ph, &["share_of_capacity"]) * 100.0,
                num(ph, &["logins_per_s"]),
                num(ph, &["gateway_core_busy"]) * 100.0
            ));
        }
        md.push_str("\n|---|");
        md.push_str(&"---|".repeat(phases.len()));
        md.push('\n');
        let names: Vec<&str> = phases[0]["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|st| st["step"].as_str())
            .collect();
        for name in names {
            md.push_str(&format!("| {name} |"));
            for ph in phases {
                let st = ph["steps"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|st| st["step"] == name);
                match st {
                    Some(st) => md.push_str(&format!(
                        " {:.2} / {:.2} |",
                        num(st, &["p50_ms"]),
                        num(st, &["p99_ms"])
                    )),
                    None => md.push_str(" – |"),
                }
            }
            md.push('\n');
        }
    }
    if let Some(p) = &pending {
        md.push_str(&format!(
            "\nPending logins at scale (`./deploy/bench pending`): {} logins pending at once in \
             Redis, {:.0} bytes each (goal ≤ {:.0}); gateway RSS {:+.1} MB in all; status polls \
             cost {:.1} µs of gateway CPU each, {:.0} per second per core (goal ≥ {:.0}); \
             {:.0} browser polls of {} of them in {:.1} s made {:.0} upstream polls (at most one \
             per login per second: {:.0}).\n",
            p["logins"],
            num(p, &["redis_bytes_per_login"]),
            num(p, &["goal_bytes_per_login"]),
            num(p, &["rss_growth_mb"]),
            num(p, &["cpu_us_per_poll"]),
            num(p, &["polls_per_s_per_core"]),
            num(p, &["goal_polls_per_s_per_core"]),
            num(p, &["polls"]),
            p["polled_logins"],
            num(p, &["duration_s"]),
            num(p, &["upstream_polls"]),
            num(p, &["upstream_polls_max"]),
        ));
    }
    md.push_str(&format!(
        "\nMachine: {}, {} cores, {} GiB, {}, kernel {}. Date: {date}. Commit: {commit}. \
         Command: `./deploy/bench compare`.\n",
        machine["cpu"].as_str().unwrap_or("?"),
        machine["cores"],
        machine["memory_gib"],
        machine["os"].as_str().unwrap_or("?"),
        machine["kernel"].as_str().unwrap_or("?"),
    ));

    let report = json!({
        "date": date,
        "commit": commit,
        "command": "./deploy/bench compare",
        "machine": machine,
        "scenarios": rows.iter().map(|r| json!({
            "scenario": r.scenario,
            "peer": r.peer,
            "headline": r.headline,
            "goal": r.goal,
            "met": r.met,
            "figures": r.json,
        })).collect::<Vec<_>>(),
        "pending_logins": pending,
    });
    let out = repo_root().join("bench/results");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("latest.json"),
        serde_json::to_string_pretty(&report).unwrap() + "\n",
    )
    .unwrap();
    std::fs::write(out.join("latest.md"), &md).unwrap();
    let readme = repo_root().join("README.md");
    let text = std::fs::read_to_string(&readme).unwrap();
    let (open, close) = ("<!-- bench:latest -->\n", "<!-- /bench:latest -->");
    let (Some(a), Some(b)) = (text.find(open), text.find(close)) else {
        panic!("README.md has no {open:?} … {close:?} markers");
    };
    assert!(a < b, "README.md's bench markers are out of order");
    let updated = format!("{}{open}{md}{}", &text[..a], &text[b..]);
    std::fs::write(&readme, updated).unwrap();

    println!();
    println!("== compare: Munjigi against its peers, same machine, same run");
    for r in &rows {
        println!(
            "{:<44} {:>18}  (goal {}: {}; rounds {})",
            r.scenario,
            r.headline,
            r.goal,
            if r.met { "met" } else { "not met" },
            r.per_round
        );
    }
    println!();
    print!("{md}");
    println!(
        "written:       {}/latest.json, latest.md, and README.md's Performance table",
        out.display()
    );
}
