//! The alert rules and the dashboard in `deploy/observability/` watch series
//! the gateway really exposes. A rule over a misspelt or renamed series never
//! fires and a panel over one stays empty, and neither says so: Prometheus
//! and Grafana accept any name. So the names come from the binary itself: a
//! real gateway (Redis store, a proxy route, tight abuse limits) is driven
//! through the events that make each family appear (prometheus-client writes
//! a family only once it has a sample), and its `/metrics` is scraped.
//! `promtool check rules` checks the rules' syntax; the names in every rule
//! expression, every panel target and every template variable are then looked
//! up in the scrape.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::upstream::start_upstream;
use munjigi_e2e::*;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

/// Series Prometheus makes itself for every scrape target.
const PROMETHEUS_OWN: &[&str] = &["up"];

/// PromQL words that are not series names: aggregations, keywords, and the
/// names of functions written with a space before their parenthesis.
const PROMQL_WORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "atan2",
    "inf",
    "nan",
];

/// Words after which a parenthesised list holds label names, not series.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The series names a PromQL expression selects. Label matchers (`{…}`),
/// ranges (`[…]`), strings, numbers and durations, function calls, keywords
/// and label lists (`by (…)`) are skipped; every other identifier is a name.
fn series_in(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let mut last_word = String::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                while i < chars.len() && chars[i] != close {
                    if chars[i] == '"' {
                        i += 1;
                        while i < chars.len() && chars[i] != '"' {
                            if chars[i] == '\\' {
                                i += 1;
                            }
                            i += 1;
                        }
                    }
                    i += 1;
                }
                i += 1;
            }
            '(' if LABEL_LISTS.contains(&last_word.as_str()) => {
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
                i += 1;
                last_word.clear();
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            c if c.is_ascii_digit() || c == '.' => {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' || c == '$' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | ':' | '$'))
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                let call = chars.get(j) == Some(&'(');
                let keyword = PROMQL_WORDS.contains(&word.to_ascii_lowercase().as_str());
                if !call && !keyword && !word.starts_with('$') {
                    names.insert(word.clone());
                }
                last_word = word.to_ascii_lowercase();
                continue;
            }
            _ => i += 1,
        }
        if !c.is_whitespace() && c != '(' {
            last_word.clear();
        }
    }
    names
}

#[test]
fn the_series_reader_finds_names_and_only_names() {
    let e = r#"histogram_quantile(0.95, sum by (provider, le) (rate(a_bucket{provider=~"$provider",x="b c"}[$__rate_interval])))
        / on (provider) group_left (site) max without(instance) (b_total offset 1h) > 5 * 86400 and c_gauge unless up{job="munjigi"} == bool 0"#;
    let want: BTreeSet<String> = ["a_bucket", "b_total", "c_gauge", "up"]
        .map(String::from)
        .into();
    assert_eq!(series_in(e), want);
    // A misspelt name is still a name: the lookup below catches it.
    assert_eq!(
        series_in("rate(munjgi_logins_total[5m])"),
        ["munjgi_logins_total".to_owned()].into()
    );
}

/// The rules' expressions with the alert names.
fn rules() -> Vec<(String, String)> {
    let path = repo_root().join("deploy/observability/alerts.yaml");
    let doc: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut out = Vec::new();
    for group in doc["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            let name = rule["alert"].as_str().expect("alerting rules only");
            let expr = rule["expr"].as_str().expect("expr").to_owned();
            let severity = rule["labels"]["severity"].as_str();
            assert!(
                matches!(severity, Some("critical" | "warning" | "info")),
                "{name}: severity label {severity:?}"
            );
            for key in ["summary", "description", "runbook"] {
                let v = rule["annotations"][key].as_str().unwrap_or("");
                assert!(v.trim().len() > 10, "{name}: annotation {key} missing");
            }
            out.push((name.to_owned(), expr));
        }
    }
    out
}

/// Every panel target's expression, and the template variables' queries.
fn dashboard() -> (Vec<(String, String)>, Vec<String>) {
    let path = repo_root().join("deploy/observability/dashboard.json");
    let d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let schema = d["schemaVersion"].as_u64().expect("schemaVersion");
    assert!((36..=41).contains(&schema), "schemaVersion {schema}");
    let vars = d["templating"]["list"].as_array().expect("templating");
    let var = |n: &str| {
        vars.iter()
            .find(|v| v["name"] == n)
            .unwrap_or_else(|| panic!("template variable {n}"))
    };
    assert_eq!(var("datasource")["type"], "datasource");
    assert_eq!(var("datasource")["query"], "prometheus");
    let mut queries = Vec::new();
    for n in ["provider", "site"] {
        let q = var(n)["query"]["query"].as_str().expect("query").to_owned();
        assert!(q.starts_with("label_values("), "{n}: {q}");
        assert!(
            q.ends_with(&format!(", {n})")),
            "{n} values of label {n}: {q}"
        );
        queries.push(q);
    }
    let mut exprs = Vec::new();
    let mut stack: Vec<&serde_json::Value> =
        d["panels"].as_array().expect("panels").iter().collect();
    while let Some(p) = stack.pop() {
        if let Some(inner) = p["panels"].as_array() {
            stack.extend(inner);
        }
        if p["type"] == "row" {
            continue;
        }
        let title = p["title"].as_str().expect("title").to_owned();
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{title}");
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no target");
        for t in targets {
            let e = t["expr"].as_str().expect("expr");
            exprs.push((title.clone(), e.to_owned()));
        }
    }
    (exprs, queries)
}

#[test]
fn promtool_accepts_the_rules() {
    let path = repo_root().join("deploy/observability/alerts.yaml");
    let out = Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&path)
        .output()
        .expect("promtool (Debian's prometheus package, installed by ./deploy/test)");
    assert!(
        out.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(rules().len() >= 10, "the rules file has its alerts");
}

/// Series name → the label names its samples carry, from the exposition.
fn exposed(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let end = line.find(['{', ' ']).unwrap_or(line.len());
        let labels = out.entry(line[..end].to_owned()).or_default();
        if line[end..].starts_with('{') {
            let body = &line[end + 1..line.rfind('}').unwrap()];
            // Label values never hold `="` in this exposition (closed lists and ids).
            for part in body.split("\",") {
                if let Some((k, _)) = part.split_once("=\"") {
                    labels.insert(k.to_owned());
                }
            }
        }
    }
    out
}

/// A self-signed certificate file, as a federation's metadata signer.
fn federation_signer(dir: &std::path::Path) -> std::path::PathBuf {
    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let mut b = openssl::x509::X509::builder().unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    b.sign(&key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    let path = dir.join("federation-signer.pem");
    std::fs::write(&path, b.build().to_pem().unwrap()).unwrap();
    path
}

/// The families `gateway/src/metrics.rs` registers (for the failure message
/// only: the truth is the scrape).
fn registered_in_source() -> Vec<String> {
    let src = std::fs::read_to_string(repo_root().join("gateway/src/metrics.rs")).unwrap();
    src.split(".register(")
        .skip(1)
        .filter_map(|rest| rest.split('"').nth(1).map(str::to_owned))
        .collect()
}

/// A citizen's push attempt that may be refused: chooser → form → start,
/// whatever the gateway answers. Returns the answer's status, the browser and
/// the login's base URL.
async fn attempt(site: &Site, phone: &str) -> (u16, Browser, String) {
    let mut b = Browser::new(None);
    let (chooser, chooser_url) = b.follow(&format!("{}/login", site.url)).await;
    assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
    let base = chooser_url.split('?').next().unwrap().to_owned();
    let form = b.get(&format!("{base}/identify?provider=kakao")).await;
    let csrf = form.input_value("csrf").expect("csrf input");
    let r = b
        .post(
            &format!("{base}/start"),
            &[
                ("csrf", &csrf),
                ("provider", "kakao"),
                ("name", HONG.name),
                ("birthdate", HONG.birthdate),
                ("phone", phone),
                ("consent", "yes"),
            ],
        )
        .await;
    (r.status, b, base)
}

/// Drives a gateway through the events behind every family and returns its
/// exposition.
async fn scrape_after_every_kind_of_event() -> String {
    let dir = TempDir::new("observability");
    let mut people = SimOpts::default().people;
    people.push(Person {
        phone: "010-0000-0009",
        scenario: "maintenance",
    });
    let (_sim, sim_url) = start_simulator(
        dir.path(),
        &SimOpts {
            people,
            ..SimOpts::default()
        },
    );
    let redis = start_redis();
    let upstream = start_upstream().await;
    let closed = free_port();
    let (site_port, redirect) = site_port_and_redirect();
    let admin_port = free_port();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect,
            // One push per person: a second one is an abuse-limit refusal.
            limits: SUITE_LIMITS.replace("100000/10m", "1/10m"),
            extra: format!(
                r#"
[admin]
listen = "127.0.0.1:{admin_port}"

[store]
kind = "redis"
url = {{ value = "redis://127.0.0.1:{redis}" }}
timeout_ms = 500

[routes.open]
site = "town"
prefix = "/open/"
upstream = "{up}"
public_paths = ["/open/"]

[routes.down]
site = "town"
prefix = "/down/"
upstream = "http://127.0.0.1:{closed}"
public_paths = ["/down/"]
connect_timeout_ms = 1000

# A SAML SP whose metadata URL does not answer: its refreshes fail.
[sites.library]
name = "도서관"
policy = "standard"
[sites.library.saml]
metadata_url = "http://127.0.0.1:{closed}/federation.xml"
metadata_signer = "{signer}"
entity_id = "https://library.example/sp"
"#,
                redis = redis.port,
                up = upstream.url,
                signer = federation_signer(dir.path()).display(),
            ),
            ..GatewayOpts::default()
        },
    );
    let site = start_site(site_port, &gw.url, "client_secret_basic", None);
    let metrics_url = format!("http://127.0.0.1:{admin_port}/metrics");
    let mut scraper = Browser::new(None);

    // An approved login (starts, outcomes, call latencies, the approval time,
    // logins per site, pending logins, store operations) and the same browser
    // again (single sign-on).
    let mut b = Browser::new(None);
    let (chooser, chooser_url) = b.follow(&format!("{}/login", site.url)).await;
    assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
    let wait_url = pick_and_submit(&mut b, &chooser_url, &HONG).await;
    let base = wait_url.trim_end_matches("/wait").to_owned();
    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (page, _) = b
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, 200, "site callback: {}", page.body);

    // A provider in maintenance (call errors, a refusal page); the same
    // person's second push (an abuse-limit refusal).
    let (started, mut b, base) = attempt(&site, "010-0000-0009").await;
    assert_eq!(started, 303, "the push went out");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !scraper
        .get(&metrics_url)
        .await
        .body
        .contains("munjigi_provider_call_errors_total{")
    {
        assert!(Instant::now() < deadline, "no call error counted");
        b.get(&format!("{base}/status?wait=1")).await;
    }
    let (second, _, _) = attempt(&site, HONG.phone).await;
    assert_ne!(second, 303, "the second push to one person is refused");

    // The proxy: a live upstream and one nobody listens on.
    let ok = scraper.get(&format!("{}/open/x", gw.url)).await;
    assert_eq!(ok.status, 200, "proxied: {}", ok.body);
    let down = scraper.get(&format!("{}/down/x", gw.url)).await;
    assert!(down.status >= 500, "upstream down: {}", down.status);

    // A reload refused: the file broken, SIGHUP, then put back.
    let good = std::fs::read_to_string(&gw.config).unwrap();
    std::fs::write(&gw.config, format!("{good}\n[nonsense]\n")).unwrap();
    let hup = Command::new("kill")
        .arg("-HUP")
        .arg(gw.proc.pid().to_string())
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !scraper
        .get(&metrics_url)
        .await
        .body
        .contains("munjigi_config_reloads_total{")
    {
        assert!(Instant::now() < deadline, "no reload counted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::fs::write(&gw.config, good).unwrap();

    // The store gone: store errors, and the citizen's "try again" refusal.
    drop(redis);
    let mut b = Browser::new(None);
    let _ = b.follow(&format!("{}/login", site.url)).await;
    let ready = scraper.get(&format!("{}/readyz", gw.url)).await;
    assert_eq!(ready.status, 503, "not ready without the store");

    let scrape = scraper.get(&metrics_url).await;
    assert_eq!(scrape.status, 200);
    scrape.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_and_dashboard_use_only_series_the_gateway_exposes() {
    let text = scrape_after_every_kind_of_event().await;
    let exposed = exposed(&text);
    let registered = registered_in_source();

    let mut used: Vec<(String, String)> = Vec::new();
    for (alert, expr) in rules() {
        for s in series_in(&expr) {
            used.push((format!("alert {alert}"), s));
        }
    }
    let (panels, vars) = dashboard();
    assert!(panels.len() >= 15, "the dashboard has its panels");
    for (title, expr) in panels {
        for s in series_in(&expr) {
            used.push((format!("panel {title:?}"), s));
        }
    }

    let mut missing = Vec::new();
    for (where_, name) in &used {
        if exposed.contains_key(name) || PROMETHEUS_OWN.contains(&name.as_str()) {
            continue;
        }
        let family = name
            .trim_end_matches("_total")
            .trim_end_matches("_bucket")
            .trim_end_matches("_count")
            .trim_end_matches("_sum");
        let why = if registered.iter().any(|r| r == name || r == family) {
            "registered in gateway/src/metrics.rs but not produced by this test's traffic"
        } else {
            "not registered by the gateway"
        };
        missing.push(format!("{where_}: {name} ({why})"));
    }
    // Template variables: the series exists and carries the label.
    for q in vars {
        let inner = q.trim_start_matches("label_values(").trim_end_matches(')');
        let (series, label) = inner.split_once(", ").unwrap();
        match exposed.get(series) {
            Some(labels) if labels.contains(label) => {}
            Some(labels) => missing.push(format!("{q}: {series} has labels {labels:?}")),
            None => missing.push(format!("{q}: {series} not exposed")),
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "series used but not exposed:\n{}\n\nexposed: {:?}",
        missing.join("\n"),
        exposed.keys().collect::<Vec<_>>()
    );
}
