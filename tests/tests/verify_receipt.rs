//! `munjigi verify-receipt` end to end: a real receipt from the signing API
//! (one Kakao document; three Naver documents, detached), verified offline by
//! the binary against the gateway's `/jwks` and the simulator's provider
//! roots; and the ways it must refuse: one byte changed, another gateway's
//! keys, another provider's roots, no `--jwks`.
//!
//! A CMS tampered inside a receipt cannot be re-sealed without the gateway's
//! key, so here it fails at the JWS; the CMS check itself is covered by the
//! unit tests in `cli/src/verify_receipt.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use munjigi_e2e::*;
use std::path::Path;

struct World {
    dir: TempDir,
    sim_url: String,
    _sim: Proc,
    gw: Gateway,
    redirect: String,
}

fn world(tag: &str) -> World {
    let dir = TempDir::new(tag);
    let (sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let redirect = "http://127.0.0.1:9/signed".to_owned();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect.clone(),
            extra: "\n[signing]\naudit_log = \"audit.log\"\n".into(),
            ..GatewayOpts::default()
        },
    );
    World {
        dir,
        sim_url,
        _sim: sim,
        gw,
        redirect,
    }
}

/// The site's side: JSON over HTTP with Basic client authentication.
async fn api(method: &str, url: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    site_api(
        method,
        url,
        &basic_auth("town", CLIENT_SECRET),
        body.as_ref(),
    )
    .await
}

fn sha_hex(s: &[u8]) -> String {
    sha256_hex(s)
}

/// Asks for `docs` (title, content) to be signed, has HONG approve with
/// `provider`, and returns the API's final JSON answer (with `receipt`).
async fn signed(w: &World, docs: &[(&str, &[u8])], provider: &str) -> serde_json::Value {
    let body = serde_json::json!({
        "title": "전입 신고",
        "documents": docs.iter().map(|(t, c)| serde_json::json!({
            "title": t,
            "content": base64::engine::general_purpose::STANDARD.encode(c),
            "media_type": "text/plain"
        })).collect::<Vec<_>>(),
        "redirect_uri": w.redirect,
        "state": "st-1",
    });
    let (status, j) = api(
        "POST",
        &format!("{}/api/v1/signatures", w.gw.url),
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{j}");
    let id = j["id"].as_str().unwrap().to_owned();
    let url = j["url"].as_str().unwrap().to_owned();

    let mut b = Browser::new(None);
    let (chooser, chooser_url) = b.follow(&url).await;
    assert_eq!(chooser.status, 200, "{}", chooser.body);
    let wait = pick_provider_and_submit(&mut b, &chooser_url, provider, &HONG).await;
    let base = wait.trim_end_matches("/wait").to_owned();
    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let back = b
        .get(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(back.status, 303, "{}", back.body);

    let (status, j) = api("GET", &format!("{}/api/v1/signatures/{id}", w.gw.url), None).await;
    assert_eq!(status, 200, "{j}");
    assert_eq!(j["status"], "completed", "{j}");
    j
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `munjigi verify-receipt FILE ARGS…`, shown to the site `town` (whose
/// receipts these are) unless ARGS name another `--aud`.
fn verify(file: &Path, args: &[&str]) -> Run {
    let mut cmd = std::process::Command::new(munjigi_bin());
    cmd.arg("verify-receipt").arg(file).args(args);
    if !args.contains(&"--aud") {
        cmd.args(["--aud", "town"]);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn b64url() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// The receipt with its payload rewritten by `change` (the signature kept).
fn repayload(receipt: &str, change: impl FnOnce(&mut Vec<u8>)) -> String {
    let parts: Vec<&str> = receipt.split('.').collect();
    let mut payload = b64url().decode(parts[1]).unwrap();
    change(&mut payload);
    format!("{}.{}.{}", parts[0], b64url().encode(&payload), parts[2])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_kakao_document_verifies_and_one_changed_byte_does_not() {
    let w = world("verify-one");
    let doc: &[u8] = "전입신고서: 홍길동, 2026-11-23".as_bytes();
    let answer = signed(&w, &[("전입신고서", doc)], "kakao").await;
    let receipt = answer["receipt"].as_str().unwrap().to_owned();
    let dir = w.dir.path();
    let jwks = format!("{}/jwks", w.gw.url);
    let pki = dir.join("pki").display().to_string();
    let iss = w.gw.url.clone();
    let good = [
        "--jwks",
        jwks.as_str(),
        "--roots",
        pki.as_str(),
        "--iss",
        iss.as_str(),
    ];

    // The API's JSON answer as saved by the site.
    let json_file = dir.join("answer.json");
    std::fs::write(&json_file, answer.to_string()).unwrap();
    let r = verify(&json_file, &good);
    assert_eq!(r.code, 0, "{r}");
    println!("{}", r.stdout);
    for want in [
        "receipt: valid",
        "전입신고서",
        "text/plain",
        &sha_hex(doc),
        "signed by: 홍길동",
        "provider: kakao",
        "level: substantial",
        &format!("sealed by: {}", w.gw.url),
        "revocation: not checked",
    ] {
        assert!(r.stdout.contains(want), "{want} missing:\n{r}");
    }
    // The bare JWS in a file, a saved JWKS, and the gateway's config as the
    // source of the roots (Kakao's CRL applied).
    let jws_file = dir.join("receipt.jws");
    std::fs::write(&jws_file, format!("{receipt}\n")).unwrap();
    let mut b = Browser::new(None);
    let jwks_file = dir.join("jwks.json");
    std::fs::write(&jwks_file, b.get(&jwks).await.body).unwrap();
    let config = w.gw.config.display().to_string();
    let r = verify(
        &jws_file,
        &[
            "--jwks",
            &jwks_file.display().to_string(),
            "--config",
            &config,
        ],
    );
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout.contains("revocation: checked against the CRL"),
        "{r}"
    );

    // One byte of the payload changed (a letter of `aud`).
    let changed = repayload(&receipt, |p| {
        let at = p.windows(5).position(|x| x == b"\"aud\"").unwrap() + 8;
        p[at] ^= 0x01;
    });
    std::fs::write(&jws_file, &changed).unwrap();
    let r = verify(&jws_file, &good);
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr
            .contains("receipt: the JWS signature does not verify with key"),
        "{r}"
    );
    // One character of the compact form changed, in the payload part.
    let mut bytes = receipt.clone().into_bytes();
    let at = receipt.find('.').unwrap() + 10;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&jws_file, &bytes).unwrap();
    let r = verify(&jws_file, &good);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.starts_with("receipt: "), "{r}");
    // One byte inside the CMS, the payload rebuilt: the seal no longer holds
    // (re-sealing needs the gateway's key).
    let tampered = repayload(&receipt, |p| {
        let mut claims: serde_json::Value = serde_json::from_slice(p).unwrap();
        let cms = claims["documents"][0]["cms"].as_str().unwrap();
        let mut der = base64::engine::general_purpose::STANDARD
            .decode(cms)
            .unwrap();
        let mid = der.len() / 2;
        der[mid] ^= 0x01;
        claims["documents"][0]["cms"] = base64::engine::general_purpose::STANDARD
            .encode(&der)
            .into();
        *p = serde_json::to_vec(&claims).unwrap();
    });
    std::fs::write(&jws_file, &tampered).unwrap();
    let r = verify(&jws_file, &good);
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr.contains("the JWS signature does not verify"),
        "{r}"
    );

    // Another gateway's keys.
    let other_dir = TempDir::new("verify-other-gw");
    // Same simulator and provider roots; its own keys.
    std::os::unix::fs::symlink(dir.join("pki"), other_dir.path().join("pki")).unwrap();
    let other = start_gateway(
        other_dir.path(),
        &w.sim_url,
        &GatewayOpts {
            site_redirect: w.redirect.clone(),
            ..GatewayOpts::default()
        },
    );
    let r = verify(
        &json_file,
        &[
            "--jwks",
            &format!("{}/jwks", other.url),
            "--roots",
            &pki,
            "--iss",
            &iss,
        ],
    );
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("has no key"), "{r}");

    // Another provider's roots given as Kakao's.
    let naver = format!("kakao={}", dir.join("pki/naver").display());
    let r = verify(
        &json_file,
        &["--jwks", &jwks, "--roots", &naver, "--iss", &iss],
    );
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr
            .contains("document 1: signer certificate does not chain to the trust anchors"),
        "{r}"
    );
    // Naver's roots only: no roots for Kakao at all, nothing pooled.
    let only_naver = format!("naver={}", dir.join("pki/naver").display());
    let r = verify(
        &json_file,
        &["--jwks", &jwks, "--roots", &only_naver, "--iss", &iss],
    );
    assert_eq!(r.code, 2, "{r}");
    assert!(
        r.stderr
            .contains("no roots for the receipt's provider `kakao`"),
        "{r}"
    );

    // A genuine receipt shown at another site, or as another gateway's.
    let r = verify(&json_file, &[&good[..], &["--aud", "city"]].concat());
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr
            .contains("a receipt of the site `town`, not of `city`"),
        "{r}"
    );
    let r = verify(
        &json_file,
        &[
            "--jwks",
            &jwks,
            "--roots",
            &pki,
            "--iss",
            "https://gw.example",
        ],
    );
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains("not the expected"), "{r}");
    // Without --iss (and no --config to give it), or without --aud: usage.
    let r = verify(&json_file, &["--jwks", &jwks, "--roots", &pki]);
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("--iss"), "{r}");
    let out = std::process::Command::new(munjigi_bin())
        .arg("verify-receipt")
        .arg(&json_file)
        .args(good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--aud"));

    // Sealed with the receipt key, which the JWKS publishes for receipts only.
    let keys: serde_json::Value =
        serde_json::from_slice(std::fs::read(&jwks_file).unwrap().as_slice()).unwrap();
    let kid = |jws: &str| -> String {
        let header = jws.split('.').next().unwrap();
        let h: serde_json::Value =
            serde_json::from_slice(&b64url().decode(header).unwrap()).unwrap();
        h["kid"].as_str().unwrap().to_owned()
    };
    let sealing = &keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid(&receipt).as_str())
        .unwrap()["use"];
    assert_eq!(sealing, "munjigi-receipt", "{keys}");
    assert_eq!(
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["use"] == "sig")
            .count(),
        2,
        "{keys}"
    );

    // Usage: no --jwks (never a key from the receipt), no roots, both roots.
    let r = verify(&json_file, &["--roots", &pki]);
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("--jwks"), "{r}");
    let r = verify(&json_file, &["--jwks", &jwks]);
    assert_eq!(r.code, 2, "{r}");
    let r = verify(
        &json_file,
        &["--jwks", &jwks, "--roots", &pki, "--config", &config],
    );
    assert_eq!(r.code, 2, "{r}");
    let r = verify(&dir.join("absent.json"), &good);
    assert_eq!(r.code, 2, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_detached_naver_documents_verify_each_one_named() {
    let w = world("verify-many");
    let docs: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| {
            (
                format!("문서 {i}"),
                format!("document number {i}").into_bytes(),
            )
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = docs
        .iter()
        .map(|(t, c)| (t.as_str(), c.as_slice()))
        .collect();
    let answer = signed(&w, &refs, "naver").await;
    let dir = w.dir.path();
    let file = dir.join("answer.json");
    std::fs::write(&file, answer.to_string()).unwrap();
    let jwks = format!("{}/jwks", w.gw.url);
    let pki = dir.join("pki").display().to_string();

    let r = verify(
        &file,
        &["--jwks", &jwks, "--roots", &pki, "--iss", &w.gw.url],
    );
    assert_eq!(r.code, 0, "{r}");
    println!("{}", r.stdout);
    assert!(r.stdout.contains("documents: 3"), "{r}");
    assert!(r.stdout.contains("provider: naver"), "{r}");
    for (i, (title, content)) in docs.iter().enumerate() {
        assert!(
            r.stdout.contains(&format!("document {}: {title}", i + 1)),
            "{r}"
        );
        assert!(r.stdout.contains(&sha_hex(content)), "{r}");
    }
    assert_eq!(r.stdout.matches("form: detached_digest").count(), 3, "{r}");

    // The gateway's config: Naver's roots, no CRL configured.
    let config = w.gw.config.display().to_string();
    let r = verify(&file, &["--jwks", &jwks, "--config", &config]);
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout
            .contains("revocation: not checked (provider `naver` has no crl"),
        "{r}"
    );

    // Kakao's roots only: every document fails, each named.
    let kakao = format!("naver={}", dir.join("pki/kakao").display());
    let r = verify(
        &file,
        &["--jwks", &jwks, "--roots", &kakao, "--iss", &w.gw.url],
    );
    assert_eq!(r.code, 1, "{r}");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{r}");
    for (i, line) in lines.iter().enumerate() {
        assert!(
            line.starts_with(&format!(
                "document {}: signer certificate does not chain",
                i + 1
            )),
            "{r}"
        );
    }
}
