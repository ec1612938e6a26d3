//! SAML responses per second per core: the gateway as a SAML 2.0 IdP answering
//! IdP-initiated SSO from an existing gateway session, where all the work is
//! the response itself (release the claims, build the XML, sign it with
//! RSA-SHA256, base64 it, render the auto-POST page). The goals (README
//! "Performance"): gateway CPU per response at most 1.05× the RSA-2048
//! signatures it carries, as openssl makes them in-process with the key loaded
//! once; with ECDSA, at least 20× less CPU than SimpleSAMLphp's RSA response
//! measured in the same run (`COMPARE=1`, below).
//!
//! One run, one machine, two cores:
//!
//! - core 0: the gateway (release binary, every thread, started on that core
//!   so its runtime sizes itself for one core, as under `taskset -c 0 munjigi
//!   serve`);
//! - core 1: the load generator `wrk` (one thread), then the in-process RSA
//!   reference.
//!
//! The gateway runs with the harness's simulator and two SAML SPs registered
//! from metadata files the bench writes (one HTTP-POST ACS, no keys), both
//! allowing IdP-initiated SSO: `https://bench-sp.example/metadata` with
//! `sign_response = true` (the Assertion and the Response signed: two
//! signatures) and `https://bench-sp-1sig.example/metadata` without (the
//! Assertion only: one). The bench logs in once as a browser, starting from
//! `/saml/init` without a session (to the chooser, Kakao, the post-back form),
//! and keeps the `mj_sid` cookie; then `GET /saml/init?sp=…` with that cookie
//! alone answers at once with a freshly signed response, which `wrk` replays.
//!
//! Each configuration has an uncounted 2 s warm-up, then one measured run; CPU
//! comes from `/proc/<pid>/stat` (utime + stime, all threads) before and after.
//! A wrk script counts the status of every response and whether its page
//! holds a `SAMLResponse`; any other answer (a 303 to the login would mean the
//! session was not used; wrk counts a 3xx as a success) fails the run, as does
//! a count of "SAML response issued" log lines short of wrk's count.
//!
//! A third SP, `https://bench-sp-ecdsa.example/metadata`, takes ECDSA
//! (`signature_algorithm = "ecdsa-sha256"`, both signatures with the P-256
//! key): its cost is reported against the RSA signatures an RSA response
//! carries, with no budget of its own.
//!
//! With `COMPARE=1` (`./deploy/bench compare`), SimpleSAMLphp ([`SimpleSamlPhp`])
//! answers the same IdP-initiated SSO from its session on the same core, with
//! the same RSA key, both signatures and the same attributes, driven by the
//! same wrk and script; `ROUNDS` (default 3 then, else 1) rounds alternate
//! the peer and the gateway's SPs, each target's median round is reported, and
//! the ratios round by round. Apache's parent and its fixed prefork children
//! are counted (a child that came or went during a run fails the bench).
//!
//! Measurement only: nothing here asserts on speed, only that every response
//! is a signed SAML response. The figures also go to
//! `target/bench/saml_response.json`.
//!
//! Environment: `DURATION` (seconds, default 10), `CONNECTIONS` (default 8),
//! `COMPARE`, `ROUNDS`,
//! `MUNJIGI_BIN` (the binary; the release build via `deploy/bench`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use munjigi_e2e::bench::*;
use munjigi_e2e::peers::SimpleSamlPhp;
use munjigi_e2e::saml::auto_post_form;
use munjigi_e2e::*;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::{Signer, Verifier};
use std::path::Path;
use std::time::{Duration, Instant};

/// Gateway CPU per response, as a multiple of the RSA signatures it carries.
const BUDGET_RATIO: f64 = 1.05;
/// The goal against the peer: CPU per ECDSA response at least this many times
/// below SimpleSAMLphp's RSA one.
const ECDSA_GOAL: f64 = 20.0;
/// Where the (unreachable) SP's ACS is: the bench never posts there.
const ACS: &str = "http://127.0.0.1:9/acs";
/// How long the in-process RSA reference signs, at least.
const RSA_SECS: u64 = 2;

/// A SAML SP registered for the bench, one per configuration measured.
struct Config {
    /// Label in the report.
    name: &'static str,
    site: &'static str,
    entity_id: &'static str,
    sign_response: bool,
    /// Signatures per response.
    signatures: u32,
    /// `signature_algorithm` of the site.
    alg: &'static str,
}

/// The peer (`COMPARE=1`): SimpleSAMLphp signing the Response and the
/// Assertion with RSA-SHA256 and the gateway's own RSA-2048 key, for an SP of
/// its own that takes IdP-initiated SSO.
const PEER: Config = Config {
    name: "SimpleSAMLphp",
    site: "",
    entity_id: "https://bench-ssp-sp.example/metadata",
    sign_response: true,
    signatures: 2,
    alg: "rsa-sha256",
};

const CONFIGS: [Config; 3] = [
    Config {
        name: "2 signatures",
        site: "bench",
        entity_id: "https://bench-sp.example/metadata",
        sign_response: true,
        signatures: 2,
        alg: "rsa-sha256",
    },
    Config {
        name: "1 signature",
        site: "bench1",
        entity_id: "https://bench-sp-1sig.example/metadata",
        sign_response: false,
        signatures: 1,
        alg: "rsa-sha256",
    },
    Config {
        name: "2 ECDSA sigs",
        site: "benchec",
        entity_id: "https://bench-sp-ecdsa.example/metadata",
        sign_response: true,
        signatures: 2,
        alg: "ecdsa-sha256",
    },
];

/// Counts, per wrk thread, every response's status and whether the page holds
/// the SAML form field, and prints the sums when the run ends.
const WRK_SCRIPT: &str = r#"
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  mj_ok, mj_other, mj_saml = 0, 0, 0
end
function response(status, headers, body)
  if status == 200 then mj_ok = mj_ok + 1 else mj_other = mj_other + 1 end
  if body and string.find(body, 'name="SAMLResponse"', 1, true) then
    mj_saml = mj_saml + 1
  end
end
function done(summary, latency, requests)
  local ok, other, saml = 0, 0, 0
  for _, t in ipairs(threads) do
    ok = ok + t:get("mj_ok")
    other = other + t:get("mj_other")
    saml = saml + t:get("mj_saml")
  end
  io.write(string.format("mj-statuses: ok=%d other=%d saml=%d\n", ok, other, saml))
end
"#;

/// What the wrk script counted: 200s, anything else, pages with a SAMLResponse.
fn script_counts(w: &Wrk) -> (u64, u64, u64) {
    let line = w
        .output
        .lines()
        .find_map(|l| l.trim().strip_prefix("mj-statuses:"))
        .unwrap_or_else(|| panic!("no status counts from the wrk script:\n{}", w.output));
    let get = |k: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("no `{k}` in `{line}`"))
    };
    (get("ok"), get("other"), get("saml"))
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn metadata(entity_id: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{ACS}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#
    )
}

/// The sites to append to the gateway's config, their metadata written to `dir`.
fn sites_toml(dir: &Path) -> String {
    let mut out = String::new();
    for c in &CONFIGS {
        let file = dir.join(format!("{}-metadata.xml", c.site));
        std::fs::write(&file, metadata(c.entity_id)).unwrap();
        out.push_str(&format!(
            "\n[sites.{site}]\nname = \"벤치\"\npolicy = \"standard\"\n\n\
             [sites.{site}.saml]\nmetadata = \"{}\"\nidp_initiated = true\n\
             sign_response = {}\nscope = \"profile phone\"\nsignature_algorithm = \"{}\"\n",
            file.display(),
            c.sign_response,
            c.alg,
            site = c.site,
        ));
    }
    out
}

/// One response page checked: a 200 auto-POST form to the ACS whose
/// `SAMLResponse` is a successful Response with `signatures` signatures.
/// Returns the page's size in bytes and the decoded XML's.
fn check_page(c: &Config, page: &Page) -> (usize, usize) {
    assert_eq!(page.status, 200, "{}: /saml/init answered {page:?}", c.name);
    let (action, fields) = auto_post_form(page);
    assert_eq!(action, ACS, "{}: the form posts to the ACS", c.name);
    let value = fields
        .iter()
        .find(|(k, _)| k == "SAMLResponse")
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("{}: no SAMLResponse in: {}", c.name, page.body));
    let xml = base64::engine::general_purpose::STANDARD
        .decode(value)
        .unwrap();
    let xml = String::from_utf8(xml).unwrap();
    assert!(
        xml.contains("urn:oasis:names:tc:SAML:2.0:status:Success"),
        "{}: not a successful response: {xml}",
        c.name
    );
    // Each signature has an opening and a closing SignatureValue tag.
    let signatures = xml.matches("SignatureValue").count() / 2;
    assert_eq!(
        signatures, c.signatures as usize,
        "{}: signatures in the response: {xml}",
        c.name
    );
    assert_eq!(
        xml.matches(&format!("xmldsig-more#{}", c.alg)).count(),
        c.signatures as usize,
        "{}: signed with {}: {xml}",
        c.name,
        c.alg
    );
    (page.body.len(), xml.len())
}

/// The cost of one RSA-2048 PKCS#1 v1.5 SHA-256 signature over a small buffer,
/// the key loaded once: (CPU ms of this thread, wall ms, signatures made).
fn rsa_reference(key: &PKey<Private>) -> (f64, f64, u64) {
    let msg = [0x5a_u8; 64];
    let sign = || {
        let mut s = Signer::new(MessageDigest::sha256(), key).unwrap();
        s.update(&msg).unwrap();
        s.sign_to_vec().unwrap()
    };
    let sig = sign();
    let mut v = Verifier::new(MessageDigest::sha256(), key).unwrap();
    v.update(&msg).unwrap();
    assert!(v.verify(&sig).unwrap(), "the reference signature verifies");
    for _ in 0..20 {
        sign();
    }
    let (c0, w0) = (thread_cpu_ns(), Instant::now());
    let mut n = 0u64;
    while n < 100 || w0.elapsed() < Duration::from_secs(RSA_SECS) {
        sign();
        n += 1;
    }
    let wall = w0.elapsed().as_secs_f64() * 1000.0;
    let cpu = (thread_cpu_ns() - c0) as f64 / 1e6;
    (cpu / n as f64, wall / n as f64, n)
}

/// The gateway's own SAML key when it is where the harness's config puts it,
/// else a fresh RSA-2048 key (the cost is the same for any such key).
fn reference_key(dir: &Path) -> (PKey<Private>, &'static str) {
    match std::fs::read(dir.join("keys/saml.pem")) {
        Ok(pem) => (
            PKey::private_key_from_pem(&pem).unwrap(),
            "the gateway's saml.pem",
        ),
        Err(_) => (
            PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap(),
            "a fresh key",
        ),
    }
}

/// One configuration measured.
#[derive(Clone)]
struct Run {
    wrk: Wrk,
    cpu_ms: f64,
    sched_ms: Option<f64>,
    issued: usize,
    busy: Vec<f64>,
    wall_s: f64,
}

impl Run {
    fn ms_per_response(&self) -> f64 {
        self.cpu_ms / self.wrk.requests.max(1) as f64
    }
    fn sched_ms_per_response(&self) -> Option<f64> {
        self.sched_ms.map(|ms| ms / self.wrk.requests.max(1) as f64)
    }
}

/// Fails loudly unless every response of the run was a 200 with a SAMLResponse.
fn check_all_ok(name: &str, what: &str, w: &Wrk) {
    assert!(w.requests > 0, "{name} {what}: no responses:\n{}", w.output);
    assert_eq!(
        w.non_2xx_3xx, 0,
        "{name} {what}: {} of {} responses were neither 2xx nor 3xx:\n{}",
        w.non_2xx_3xx, w.requests, w.output
    );
    let (ok, other, saml) = script_counts(w);
    assert!(
        other == 0 && ok == w.requests && saml == w.requests,
        "{name} {what}: of {} responses {ok} were 200 and {saml} held a SAMLResponse \
         ({other} other statuses: a 303 to the login means the session was not used):\n{}",
        w.requests,
        w.output
    );
}

/// What is measured in one run: a gateway SP or the peer.
struct Target<'a> {
    name: &'a str,
    url: String,
    /// The `Cookie` header wrk sends.
    header: String,
    /// Every process whose CPU a response costs, read before and after.
    pids: Box<dyn Fn() -> Vec<u32> + 'a>,
    /// The server's own log lines (or entries) that say a response was issued,
    /// counted since the last call: checked against wrk's count.
    issued_since: Box<dyn FnMut() -> (usize, Vec<String>) + 'a>,
}

fn measure(t: &mut Target<'_>, script: &str, secs: u64, connections: usize, tck: u64) -> Run {
    println!(
        "== {}: {WARMUP_SECS} s warm-up, then {secs} s measured ({})",
        t.name, t.url
    );
    let args = ["-s", script];
    let warm = wrk(&t.url, WARMUP_SECS, connections, &t.header, &args);
    check_all_ok(t.name, "warm-up", &warm);
    std::thread::sleep(Duration::from_millis(300));
    (t.issued_since)();

    let pids = (t.pids)();
    let j0 = cpu_jiffies();
    let c0 = cpu_ticks_of(&pids);
    let s0 = sched_ns_of(&pids);
    let start = Instant::now();
    let w = wrk(&t.url, secs, connections, &t.header, &args);
    let wall_s = start.elapsed().as_secs_f64();
    let after = (t.pids)();
    assert_eq!(
        pids, after,
        "{}: its processes changed during the run (CPU of ended ones is lost)",
        t.name
    );
    let c1 = cpu_ticks_of(&pids);
    let s1 = sched_ns_of(&pids);
    let j1 = cpu_jiffies();
    check_all_ok(t.name, "measured run", &w);
    // Let the last log lines of the run arrive.
    std::thread::sleep(Duration::from_millis(300));
    let (issued, odd) = (t.issued_since)();
    // Responses still in flight when wrk stops are issued uncounted.
    let slack = 2 * connections + 2;
    assert!(
        issued as u64 >= w.requests && issued as u64 <= w.requests + slack as u64,
        "{}: wrk counted {} responses but the server logged {issued} issued:\n{}",
        t.name,
        w.requests,
        w.output
    );
    if !odd.is_empty() {
        println!("{} warnings/errors during the run: {}", t.name, odd.len());
        for l in odd.iter().take(5) {
            println!("  {l}");
        }
    }
    Run {
        cpu_ms: (c1 - c0) as f64 * 1000.0 / tck as f64,
        sched_ms: match (s0, s1) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1e6),
            _ => None,
        },
        issued,
        busy: busy_pct(&j0, &j1),
        wall_s,
        wrk: w,
    }
}

fn main() {
    let Start {
        secs,
        connections,
        tck,
        rt,
        dir,
    } = start("bench-saml", "the gateway", 8);
    let script = dir.path().join("count.lua");
    std::fs::write(&script, WRK_SCRIPT).unwrap();
    let script = script.to_str().unwrap().to_owned();

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
                extra: sites_toml(dir.path()),
                ..GatewayOpts::default()
            },
        )
    });
    let gw_pid = gw.proc.pid();
    let init_url = |c: &Config| format!("{}/saml/init?sp={}", gw.url, enc(c.entity_id));

    // One login as a browser, from IdP-initiated SSO without a session; then
    // the session cookie alone must answer each SP at once.
    let (sid, sizes) = rt.block_on(async {
        let mut b = Browser::new(None);
        let first = b.get(&init_url(&CONFIGS[0])).await;
        assert_eq!(first.status, 303, "/saml/init without a session: {first:?}");
        let (chooser, chooser_url) = b.follow(first.location.as_deref().unwrap()).await;
        assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
        assert!(
            chooser_url.starts_with(&format!("{}/login/", gw.url)),
            "chooser at the gateway: {chooser_url}"
        );
        let wait_url = pick_and_submit(&mut b, &chooser_url, &HONG).await;
        let base = wait_url.trim_end_matches("/wait").to_owned();
        let done = wait_done(&mut b, &absolute(&gw.url, &base)).await;
        assert_eq!(done["state"], "completed", "{done}");
        let (post_back, _) = b
            .follow(&absolute(&gw.url, done["next"].as_str().unwrap()))
            .await;
        check_page(&CONFIGS[0], &post_back);
        let sid = b.cookie("mj_sid").expect("mj_sid after the login").clone();

        let mut only = Browser::new(None);
        only.set_cookie("mj_sid", &sid);
        let mut sizes = Vec::new();
        for c in &CONFIGS {
            let page = only.get(&init_url(c)).await;
            sizes.push(check_page(c, &page));
        }
        (sid, sizes)
    });
    let login_lines = gw.proc.drain().len();

    // The peer, on the same core as the gateway, with the same RSA key; its
    // first answer logs in (the static source), and its cookies are replayed.
    let compare = std::env::var_os("COMPARE").is_some();
    let rounds = env_usize("ROUNDS", if compare { 3 } else { 1 }).max(1);
    let peer = compare.then(|| {
        let keys = dir.path().join("keys");
        let ssp = on_core(SUT_CORE, || {
            SimpleSamlPhp::start(
                dir.path(),
                &keys.join("saml.pem"),
                &keys.join("saml.crt"),
                PEER.entity_id,
                ACS,
                connections,
            )
        });
        rt.block_on(async {
            let mut b = Browser::new(None);
            let opcache = b.get(&format!("{}/opcache.php", ssp.url)).await;
            assert_eq!(opcache.body, "on", "opcache in Apache's PHP: {opcache:?}");
            let page = b.get(&ssp.sso_url(PEER.entity_id)).await;
            let (size, xml) = check_page(&PEER, &page);
            let again = b.get(&ssp.sso_url(PEER.entity_id)).await;
            check_page(&PEER, &again);
            println!(
                "peer:          SimpleSAMLphp (Debian, Apache prefork + mod_php, opcache on) at {}, \
                 {connections} workers on core {SUT_CORE}: page {size} B, SAMLResponse XML {xml} B",
                ssp.url
            );
            let header = format!("Cookie: {}", b.cookie_header_value());
            (ssp, header)
        })
    });

    // The system under test on its core, every thread (it started there; this
    // also covers threads its runtime may have made since).
    pin(gw_pid, SUT_CORE);
    let threads = thread_count(gw_pid);

    println!("binary:        {}", munjigi_bin().display());
    println!(
        "gateway:       {} (pid {gw_pid}, {threads} threads) on core {SUT_CORE}",
        gw.url
    );
    for (c, (page, xml)) in CONFIGS.iter().zip(&sizes) {
        println!(
            "SP:            {} ({}): page {page} B, SAMLResponse XML {xml} B",
            c.entity_id, c.name
        );
    }
    println!(
        "load:          wrk -t1 -c{connections} -d{secs}s --latency on core {LOAD_CORE}, \
         Cookie: mj_sid ({} chars)",
        sid.len()
    );
    let idle_busy = background_busy();
    println!();

    let header = format!("Cookie: mj_sid={sid}");
    let mut targets: Vec<Target<'_>> = Vec::new();
    if let Some((ssp, ssp_header)) = &peer {
        let mut offset = ssp.log().len();
        targets.push(Target {
            name: PEER.name,
            url: ssp.sso_url(PEER.entity_id),
            header: ssp_header.clone(),
            pids: Box::new(move || ssp.pids()),
            issued_since: Box::new(move || {
                let log = ssp.log();
                let new = log.get(offset..).unwrap_or_default().to_owned();
                offset = log.len();
                let issued = new
                    .lines()
                    .filter(|l| l.contains(" STAT ") && l.contains(" saml20-idp-SSO "))
                    .count();
                let odd = new
                    .lines()
                    .filter(|l| l.contains(" ERROR ") || l.contains(" WARNING "))
                    .map(str::to_owned)
                    .collect();
                (issued, odd)
            }),
        });
    }
    for c in &CONFIGS {
        let gw = &gw;
        targets.push(Target {
            name: c.name,
            url: init_url(c),
            header: header.clone(),
            pids: Box::new(move || vec![gw.proc.pid()]),
            issued_since: Box::new(move || {
                let lines = gw.proc.drain();
                let issued = lines
                    .iter()
                    .filter(|l| l.contains("SAML response issued"))
                    .count();
                let odd = lines
                    .into_iter()
                    .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                    .collect();
                (issued, odd)
            }),
        });
    }
    // Rounds alternate the peer and the gateway's SPs, so a change in the
    // machine's speed during the bench falls on all of them.
    let mut by_target: Vec<Vec<Run>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        if rounds > 1 {
            println!("-- round {} of {rounds}", round + 1);
        }
        for (t, runs) in targets.iter_mut().zip(&mut by_target) {
            runs.push(measure(t, &script, secs, connections, tck));
        }
    }
    drop(targets);
    // Each target's median round (by CPU per response) is reported in full;
    // the rounds stay in their order for the round-by-round ratios.
    let mut medians: Vec<Run> = by_target
        .iter()
        .map(|runs| {
            let mut sorted: Vec<&Run> = runs.iter().collect();
            sorted.sort_by(|a, b| a.ms_per_response().total_cmp(&b.ms_per_response()));
            sorted[sorted.len() / 2].clone()
        })
        .collect();
    let spread = |runs: &[Run]| -> serde_json::Value {
        let v: Vec<f64> = runs.iter().map(Run::ms_per_response).collect();
        spread_json(&v)
    };
    let peer_run = peer
        .as_ref()
        .map(|_| (medians.remove(0), spread(&by_target.remove(0))));
    let runs = medians;

    println!("== RSA reference on core {LOAD_CORE}: {RSA_SECS} s of signatures in-process");
    let (key, key_from) = reference_key(dir.path());
    let (rsa_ms, rsa_wall_ms, rsa_n) = on_core(LOAD_CORE, || rsa_reference(&key));

    println!();
    println!(
        "== saml_response: IdP-initiated SSO answered from the session, {secs} s, \
         {connections} connections"
    );
    println!(
        "{:<13} {:>12} {:>10} {:>10} {:>10} {:>14} {:>11} {:>16}",
        "",
        "responses/s",
        "p50",
        "p99",
        "responses",
        "CPU ms/resp.",
        "(sched ms)",
        "core0/core1 busy"
    );
    let rows = peer_run
        .iter()
        .map(|(r, _)| (&PEER, r))
        .chain(CONFIGS.iter().zip(&runs));
    for (c, r) in rows {
        println!(
            "{:<13} {:>12.0} {:>7.3} ms {:>7.3} ms {:>10} {:>14.3} {:>11} {:>16}",
            c.name,
            r.wrk.rps,
            r.wrk.p50_ms,
            r.wrk.p99_ms,
            r.wrk.requests,
            r.ms_per_response(),
            r.sched_ms_per_response()
                .map_or("-".to_owned(), |v| format!("{v:.3}")),
            format!(
                "{:.0}% / {:.0}%",
                r.busy.first().copied().unwrap_or(0.0),
                r.busy.get(1).copied().unwrap_or(0.0)
            ),
        );
    }
    println!(
        "CPU resolution: ±{:.3} ms/response at {tck} Hz ({} of the 2-signature runs)",
        1000.0 / tck as f64 / runs[0].wrk.requests.max(1) as f64,
        runs[0].wrk.requests
    );
    println!(
        "RSA-2048 PKCS#1 SHA-256 signature, openssl in-process, key loaded once \
         ({key_from}): {rsa_ms:.3} ms CPU ({rsa_wall_ms:.3} ms wall; {rsa_n} signatures)"
    );
    if rounds > 1 {
        println!("(each row: the median of {rounds} rounds by CPU per response)");
    }
    println!();
    let mut configs_json = Vec::new();
    for (c, r) in CONFIGS.iter().zip(&runs) {
        let ms = r.ms_per_response();
        let ratio = ms / (rsa_ms * f64::from(c.signatures));
        let per_core = 1000.0 / ms;
        let rsa = c.alg == "rsa-sha256";
        if rsa {
            println!(
                "{:<13} CPU per response = {ms:.3} ms = {ratio:.2}× the {} RSA signature{} it \
                 carries (budget ≤ {BUDGET_RATIO}×): {}; {per_core:.0} responses/s per core",
                format!("{}:", c.name),
                c.signatures,
                if c.signatures == 1 { "" } else { "s" },
                met(ratio <= BUDGET_RATIO),
            );
        } else {
            println!(
                "{:<13} CPU per response = {ms:.3} ms = {ratio:.2}× the {} RSA signatures an \
                 RSA response carries; {per_core:.0} responses/s per core",
                format!("{}:", c.name),
                c.signatures,
            );
        }
        configs_json.push(serde_json::json!({
            "name": c.name,
            "sp": c.entity_id,
            "sign_response": c.sign_response,
            "signatures": c.signatures,
            "signature_algorithm": c.alg,
            "responses_per_s": r.wrk.rps,
            "p50_ms": r.wrk.p50_ms,
            "p99_ms": r.wrk.p99_ms,
            "responses": r.wrk.requests,
            "issued_logged": r.issued,
            "wall_s": r.wall_s,
            "cpu_ms": r.cpu_ms,
            "cpu_ms_per_response": ms,
            "sched_ms_per_response": r.sched_ms_per_response(),
            "responses_per_s_per_core": per_core,
            "ratio_to_rsa_signatures": ratio,
            "budget_met": !rsa || ratio <= BUDGET_RATIO,
            "core_busy_pct": r.busy,
            "socket_errors": r.wrk.socket_errors,
            "spread": spread(&by_target[configs_json.len()]),
        }));
    }
    // The peer against the gateway's RSA (same signatures) and ECDSA responses,
    // round by round and on the medians.
    let peer_json = peer_run.as_ref().map(|(p, p_spread)| {
        let per_round = |i: usize| -> Vec<f64> {
            let peer_rounds = p_spread["rounds"].as_array().unwrap().iter();
            let gw_rounds = by_target[i].iter().map(Run::ms_per_response);
            peer_rounds
                .zip(gw_rounds)
                .map(|(a, b)| a.as_f64().unwrap() / b)
                .collect()
        };
        let ms = p.ms_per_response();
        let vs_rsa = ms / runs[0].ms_per_response();
        let vs_ecdsa = ms / runs[2].ms_per_response();
        println!(
            "SimpleSAMLphp: CPU per response = {ms:.3} ms = {:.2}× the 2 RSA signatures it carries; \
             {:.0} responses/s per core",
            ms / (2.0 * rsa_ms),
            1000.0 / ms
        );
        println!(
            "vs the peer:   gateway RSA (2 signatures) {vs_rsa:.1}× less CPU; gateway ECDSA \
             {vs_ecdsa:.1}× less CPU (goal ≥ {ECDSA_GOAL:.0}×: {})",
            met(vs_ecdsa >= ECDSA_GOAL)
        );
        serde_json::json!({
            "name": PEER.name,
            "what": "SimpleSAMLphp (Debian package), Apache prefork + mod_php 8.2 with opcache, \
                     exampleauth:StaticSource, IdP-initiated SSO from its session, \
                     Response and Assertion signed RSA-SHA256 with the gateway's RSA-2048 key",
            "responses_per_s": p.wrk.rps,
            "p50_ms": p.wrk.p50_ms,
            "p99_ms": p.wrk.p99_ms,
            "responses": p.wrk.requests,
            "issued_logged": p.issued,
            "cpu_ms_per_response": ms,
            "sched_ms_per_response": p.sched_ms_per_response(),
            "ratio_to_rsa_signatures": ms / (2.0 * rsa_ms),
            "core_busy_pct": p.busy,
            "spread": p_spread,
            "peer_over_gateway_rsa": vs_rsa,
            "peer_over_gateway_rsa_rounds": per_round(0),
            "peer_over_gateway_ecdsa": vs_ecdsa,
            "peer_over_gateway_ecdsa_rounds": per_round(2),
            "ecdsa_goal": ECDSA_GOAL,
            "ecdsa_goal_met": vs_ecdsa >= ECDSA_GOAL,
        })
    });
    for (c, r) in CONFIGS.iter().zip(&runs) {
        if !r.wrk.socket_errors.is_empty() {
            println!("{} socket errors: {}", c.name, r.wrk.socket_errors);
        }
    }
    println!("gateway log lines at login: {login_lines}");

    let report = serde_json::json!({
        "bench": "saml_response",
        "duration_s": secs,
        "connections": connections,
        "clk_tck": tck,
        "background_busy_pct": idle_busy,
        "rsa_reference": {
            "what": "RSA-2048 PKCS#1 v1.5 SHA-256 over 64 bytes, openssl, key loaded once",
            "key": key_from,
            "cpu_ms_per_signature": rsa_ms,
            "wall_ms_per_signature": rsa_wall_ms,
            "signatures": rsa_n,
        },
        "rounds": rounds,
        "configs": configs_json,
        "peer": peer_json,
        "budget_ratio_max": BUDGET_RATIO,
    });
    write_figures("saml_response", &report);

    drop(gw);
    drop(sim);
}
