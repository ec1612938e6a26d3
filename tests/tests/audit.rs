//! The audit log end to end: two replicas on one Redis, each writing its
//! own hash chain, real OIDC logins (one whose steps hop to the second
//! replica) and a signing; graceful stops; `munjigi audit verify` over both
//! chains with the store's checkpoints says whole, then finds each kind of
//! tampering and says where, a made-up writer appended to a file and a
//! checkpoint of another issuer included. And a login whose record cannot
//! be written: refused under `on_failure = "refuse"` (and `/readyz` 503
//! until the file can be written again, with no traffic needed), let
//! through under `"log"`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use munjigi_e2e::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn verify(files: &[&Path], args: &[&str]) -> Run {
    let out = Command::new(munjigi_bin())
        .args(["audit", "verify"])
        .args(files)
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A replica of `config` on its own port writing its own audit file.
fn replica_with_own_log(config: &Path, name: &str) -> (Proc, String) {
    let port = free_port();
    let text = std::fs::read_to_string(config).unwrap();
    let listen = text
        .lines()
        .find(|l| l.starts_with("listen = "))
        .unwrap()
        .to_owned();
    let text = text
        .replace(&listen, &format!("listen = \"127.0.0.1:{port}\""))
        .replace(
            "path = \"audit-a.log\"",
            &format!("path = \"audit-{name}.log\""),
        );
    let file = config.with_file_name(format!("gateway-{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let mut cmd = Command::new(munjigi_bin());
    cmd.arg("serve").arg("--config").arg(&file);
    let (p, _) = Proc::start("replica", cmd, "munjigi listening on");
    (p, format!("http://127.0.0.1:{port}"))
}

fn on(url: &str, host: &str) -> String {
    let at = url.find("/login/").unwrap();
    format!("{host}{}", &url[at..])
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn events(path: &Path) -> Vec<serde_json::Value> {
    lines(path)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// `n` records of a writer no gateway ran, hashed as the gateway would.
fn made_up_chain(writer: &str, n: u64) -> Vec<String> {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut prev = hex(&openssl::sha::sha256(
        format!("munjigi-audit-genesis:{writer}").as_bytes(),
    ));
    let mut out = Vec::new();
    for seq in 1..=n {
        let body = format!(
            "{{\"seq\":{seq},\"writer\":\"{writer}\",\"time\":1800000000,\"event\":\"login.started\",\
             \"txn\":\"t{seq}\",\"site\":\"town\",\"prev\":\"{prev}\"}}"
        );
        let hash = hex(&openssl::sha::sha256(body.as_bytes()));
        out.push(format!(
            "{},\"hash\":\"{hash}\"}}",
            body.strip_suffix('}').unwrap()
        ));
        prev = hash;
    }
    out
}

fn stop(p: &mut Proc) {
    p.terminate();
    let status = p.wait_exit(Duration::from_secs(40)).expect("stopped");
    assert!(status.success(), "a graceful stop exits 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_chains_verify_and_every_tampering_is_placed() {
    let dir = TempDir::new("audit-e2e");
    let redis = start_redis();
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let (site_port, redirect) = site_port_and_redirect();
    let mut a = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect.clone(),
            extra: format!(
                "\n[store]\nkind = \"redis\"\nurl = {{ value = \"redis://127.0.0.1:{}\" }}\n\
                 \n[audit]\npath = \"audit-a.log\"\ncheckpoint_secs = 1\n\
                 \n[signing]\n",
                redis.port
            ),
            ..GatewayOpts::default()
        },
    );
    let (mut b, b_url) = replica_with_own_log(&a.config, "b");
    let site = start_site(site_port, &a.url, "client_secret_basic", None);

    // A login entirely on A, through the site.
    let mut br = Browser::new(None);
    let (chooser, chooser_url) = br.follow(&format!("{}/login", site.url)).await;
    assert_eq!(chooser.status, 200);
    let wait = pick_and_submit(&mut br, &chooser_url, &HONG).await;
    let base = wait.trim_end_matches("/wait").to_owned();
    let done = wait_done(&mut br, &base).await;
    assert_eq!(done["state"], "completed");
    let (page, _) = br
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);

    // A second login begun on A, pushed and completed on B.
    let mut br2 = Browser::new(None);
    let p = br2.get(&format!("{}/login", site.url)).await;
    let p = br2.get(&p.location.unwrap()).await;
    assert_eq!(p.status, 303);
    let login = p.location.unwrap();
    let chooser_b = on(&login, &b_url);
    let wait = pick_and_submit(&mut br2, &chooser_b, &HONG).await;
    let base_b = absolute(&chooser_b, wait.trim_end_matches("/wait"));
    let done = wait_done(&mut br2, &base_b).await;
    assert_eq!(done["state"], "completed");
    let cont = br2
        .get(&absolute(&base_b, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(cont.status, 303, "B answers with a code: {}", cont.body);

    // A signing on A.
    let auth = basic_auth("town", CLIENT_SECRET);
    let doc = base64::engine::general_purpose::STANDARD.encode(b"audit me");
    let (status, j) = site_api(
        "POST",
        &format!("{}/api/v1/signatures", a.url),
        &auth,
        Some(&serde_json::json!({
            "title": "전입 신고",
            "documents": [{"title": "a", "content": doc, "media_type": "text/plain"}],
            "redirect_uri": redirect,
        })),
    )
    .await;
    assert_eq!(status, 201, "{j}");
    let mut br3 = Browser::new(None);
    let (_, chooser_url) = br3.follow(j["url"].as_str().unwrap()).await;
    let wait = pick_and_submit(&mut br3, &chooser_url, &HONG).await;
    let base = wait.trim_end_matches("/wait").to_owned();
    let done = wait_done(&mut br3, &base).await;
    let back = br3
        .get(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(back.status, 303, "{}", back.body);

    let jwks = {
        let mut c = Browser::new(None);
        c.get(&format!("{}/jwks", a.url)).await.body
    };
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, &jwks).unwrap();
    stop(&mut b);
    stop(&mut a.proc);

    let log_a = dir.path().join("audit-a.log");
    let log_b = dir.path().join("audit-b.log");
    let ev_a = events(&log_a);
    let ev_b = events(&log_b);
    let names = |ev: &[serde_json::Value]| -> Vec<String> {
        ev.iter()
            .map(|e| e["event"].as_str().unwrap().to_owned())
            .collect()
    };
    let (na, nb) = (names(&ev_a), names(&ev_b));
    for want in [
        "keys.loaded",
        "login.started",
        "login.completed",
        "signature.requested",
        "signature.completed",
        "audit.checkpoint",
    ] {
        assert!(na.contains(&want.to_owned()), "A has {want}: {na:?}");
    }
    for want in ["login.started", "login.completed", "audit.checkpoint"] {
        assert!(nb.contains(&want.to_owned()), "B has {want}: {nb:?}");
    }
    assert_eq!(
        na.last().unwrap(),
        "audit.checkpoint",
        "the last record is the shutdown's"
    );
    assert_ne!(ev_a[0]["writer"], ev_b[0]["writer"], "a chain each");
    let completed = ev_a
        .iter()
        .find(|e| e["event"] == "login.completed")
        .unwrap();
    assert_eq!(completed["site"], "town");
    assert_eq!(completed["front"], "oidc");
    assert_eq!(completed["provider"], "kakao");
    assert_eq!(completed["via"], "provider");
    // Nothing personal, in any spelling.
    for log in [&log_a, &log_b] {
        let text = std::fs::read_to_string(log).unwrap();
        for personal in [
            HONG.name,
            HONG.phone,
            "01012345678",
            "+821012345678",
            "1012345678",
            HONG.birthdate,
            "19900131",
        ] {
            assert!(!text.contains(personal), "{personal} in {}", log.display());
        }
    }

    let store = format!("redis://127.0.0.1:{}", redis.port);
    let jwks_arg = jwks_file.to_str().unwrap();
    let good = verify(&[&log_a, &log_b], &["--jwks", jwks_arg, "--store", &store]);
    assert_eq!(good.code, 0, "{}\n{}", good.stdout, good.stderr);
    assert_eq!(good.stdout.matches("writer ").count(), 2, "{}", good.stdout);
    assert!(good.stdout.contains("checkpoint at seq"), "{}", good.stdout);
    // Every checkpoint names one issuer, printed; asked for, it is required.
    let issuer = good
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("checkpoints issued by "))
        .and_then(|l| l.split(' ').next())
        .expect("the issuer is printed")
        .to_owned();
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
    let asked = verify(
        &[&log_a, &log_b],
        &["--jwks", jwks_arg, "--store", &store, "--issuer", &issuer],
    );
    assert_eq!(asked.code, 0, "{}\n{}", asked.stdout, asked.stderr);
    let other = verify(
        &[&log_a, &log_b],
        &[
            "--jwks",
            jwks_arg,
            "--store",
            &store,
            "--issuer",
            "https://gw.example",
        ],
    );
    assert_eq!(other.code, 1, "{}", other.stdout);
    assert!(
        other
            .stderr
            .contains(&format!("issued by {issuer}, not https://gw.example")),
        "{}",
        other.stderr
    );
    // Without B's file, the store knows B wrote.
    let alone = verify(&[&log_a], &["--jwks", jwks_arg, "--store", &store]);
    assert_eq!(alone.code, 1, "{}", alone.stdout);
    assert!(
        alone.stderr.contains("its file is missing"),
        "{}",
        alone.stderr
    );
    // Usage: no --jwks.
    assert_eq!(verify(&[&log_a], &[]).code, 2);

    // Each tampering on a copy of A's chain, found with its place.
    let original = lines(&log_a);
    let copy = dir.path().join("audit-a-copy.log");
    let name = "audit-a-copy.log";
    let line_of = |event: &str| {
        original
            .iter()
            .position(|l| l.contains(&format!("\"event\":\"{event}\"")))
            .unwrap()
    };
    let completed_at = line_of("login.completed");
    let mut cases: Vec<(&str, Vec<String>, String)> = Vec::new();
    let mut changed = original.clone();
    changed[completed_at] =
        changed[completed_at].replace("\"provider\":\"kakao\"", "\"provider\":\"naver\"");
    cases.push((
        "changed",
        changed,
        format!("{name}:{}: writer", completed_at + 1),
    ));
    let mut removed = original.clone();
    removed.remove(completed_at);
    cases.push((
        "removed",
        removed,
        format!("seq {} is missing (removed before ", completed_at + 1),
    ));
    let mut swapped = original.clone();
    swapped.swap(1, 2);
    cases.push(("swapped", swapped, format!("{name}:3: writer")));
    cases.push((
        "cut",
        original[..2].to_vec(),
        "truncated: the chain ends at seq 2".to_owned(),
    ));
    let mut added = original.clone();
    added.extend(made_up_chain("gw-z-1800000000-0123456789abcdef", 3));
    cases.push((
        "added",
        added,
        format!("{name}:{} with no checkpoint", original.len() + 1),
    ));
    for (what, text, place) in cases {
        write_lines(&copy, &text);
        let r = verify(&[&copy, &log_b], &["--jwks", jwks_arg, "--store", &store]);
        assert_eq!(r.code, 1, "{what}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(&place),
            "{what}: `{place}` in\n{}",
            r.stderr
        );
        if what == "removed" {
            let at = format!("{name}:{})", completed_at + 1);
            assert!(r.stderr.contains(&at), "{what}: `{at}` in\n{}", r.stderr);
        }
    }
    // A forged checkpoint: one the file's writer never signed.
    let cp = ev_a
        .iter()
        .rev()
        .find(|e| e["event"] == "audit.checkpoint")
        .unwrap();
    let jws = cp["jws"].as_str().unwrap();
    let parts: Vec<&str> = jws.split('.').collect();
    let mut sig = parts[2].as_bytes().to_vec();
    sig[5] = if sig[5] == b'A' { b'B' } else { b'A' };
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        String::from_utf8(sig).unwrap()
    );
    let cps = dir.path().join("checkpoints.txt");
    std::fs::write(&cps, format!("{forged}\n")).unwrap();
    let r = verify(
        &[&log_a, &log_b],
        &["--jwks", jwks_arg, "--checkpoints", cps.to_str().unwrap()],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("checkpoints.txt:1: checkpoint of writer ?: the signature does not verify"),
        "{}",
        r.stderr
    );
}

/// A login through a gateway whose audit file has become a folder; then
/// `/readyz`.
async fn login_with_unwritable_log(on_failure: &str) -> (Page, u16, Gateway, TempDir) {
    let dir = TempDir::new(&format!("audit-{on_failure}"));
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let (site_port, redirect) = site_port_and_redirect();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect,
            extra: format!("\n[audit]\npath = \"blocked.log\"\non_failure = \"{on_failure}\"\n"),
            ..GatewayOpts::default()
        },
    );
    // Started with its file written (keys.loaded), then a folder where the
    // file was: nothing more can be appended.
    let file = dir.path().join("blocked.log");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&file).map_or(0, |m| m.len()) == 0 {
        assert!(std::time::Instant::now() < deadline, "keys.loaded written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let site = start_site(site_port, &gw.url, "client_secret_basic", None);
    let mut br = Browser::new(None);
    assert_eq!(br.get(&format!("{}/readyz", gw.url)).await.status, 200);
    let (chooser, chooser_url) = br.follow(&format!("{}/login", site.url)).await;
    assert_eq!(chooser.status, 200);
    let wait = pick_and_submit(&mut br, &chooser_url, &HONG).await;
    let base = wait.trim_end_matches("/wait").to_owned();
    let done = wait_done(&mut br, &base).await;
    assert_eq!(done["state"], "completed");
    let (page, _) = br
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    let ready = br.get(&format!("{}/readyz", gw.url)).await.status;
    (page, ready, gw, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_audit_log_refuses_a_login_unless_told_to_log() {
    let (refused, ready, gw, dir) = login_with_unwritable_log("refuse").await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.body.contains("MJ-A01"), "{}", refused.body);
    assert_eq!(
        ready, 503,
        "every login here is refused: out of the balancer"
    );
    let mut b = Browser::new(None);
    let r = b.get(&format!("{}/readyz", gw.url)).await;
    assert_eq!((r.status, r.body.as_str()), (503, "audit log unwritable\n"));
    // The file can be written again: ready again with no request but /readyz.
    std::fs::remove_dir(dir.path().join("blocked.log")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while b.get(&format!("{}/readyz", gw.url)).await.status != 200 {
        assert!(std::time::Instant::now() < deadline, "not ready again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ev = events(&dir.path().join("blocked.log"));
    assert_eq!(ev[0]["event"], "audit.resumed", "{ev:#?}");
    assert!(
        ev[0]["unwritten"].as_u64().unwrap() >= 2,
        "the login's records: {ev:#?}"
    );
    let logs = gw.proc.drain();
    assert!(logs.iter().any(|l| l.contains("MJ-A01")), "{logs:#?}");
    let count = |s: &str| logs.iter().filter(|l| l.contains(s)).count();
    assert_eq!(count("MJ-A04"), 1, "one line going down: {logs:#?}");
    assert_eq!(
        count("audit log writable again"),
        1,
        "one coming up: {logs:#?}"
    );

    let (through, ready, gw, _dir) = login_with_unwritable_log("log").await;
    assert_eq!(
        through.status, 200,
        "the site got its login: {}",
        through.body
    );
    assert_eq!(ready, 200, "logins go through: stays in the balancer");
    let logs = gw.proc.drain();
    assert!(logs.iter().any(|l| l.contains("MJ-A02")), "{logs:#?}");
}
