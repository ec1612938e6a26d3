//! The audit log end to end: two replicas on one Redis, each writing its
//! own hash chain, real OIDC logins (one whose steps hop to the second
//! replica) and a signing; graceful stops; `munjigi audit verify` over both
//! chains with the store's checkpoints says whole, then finds each kind of
//! tampering and says where. And a login whose record cannot be written:
//! refused under `on_failure = "refuse"`, let through under `"log"`.

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

async fn login_with_unwritable_log(on_failure: &str) -> (Page, Vec<String>) {
    let dir = TempDir::new(&format!("audit-{on_failure}"));
    // A folder where the file should be: nothing can be appended.
    std::fs::create_dir_all(dir.path().join("blocked.log")).unwrap();
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
    let site = start_site(site_port, &gw.url, "client_secret_basic", None);
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
    let logs = gw.proc.drain();
    (page, logs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_audit_log_refuses_a_login_unless_told_to_log() {
    let (refused, logs) = login_with_unwritable_log("refuse").await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.body.contains("MJ-A01"), "{}", refused.body);
    assert!(logs.iter().any(|l| l.contains("MJ-A01")), "{logs:#?}");

    let (through, logs) = login_with_unwritable_log("log").await;
    assert_eq!(
        through.status, 200,
        "the site got its login: {}",
        through.body
    );
    assert!(logs.iter().any(|l| l.contains("MJ-A02")), "{logs:#?}");
}
