//! The mobile ID (모바일 신분증) end to end: the gateway is the SP, the
//! simulator is the push server and the citizen's wallet app, which calls
//! the gateway back at `/mip/profile`, `/mip/vp` and `/mip/error` over real
//! HTTP with real secp256k1/P-256 signatures and an RSA-sealed presentation.
//! A citizen logs in to an Authlib site by push, and by scanning the waiting
//! page's QR code (read back from the page's SVG as a wallet's camera
//! would); every misbehaviour of the wallet ends in its state, page and log
//! line; the wallet endpoints refuse what is out of step.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;
use std::time::Duration;

const LISTED: &[&str] = &["모바일 신분증"];

/// A world whose gateway has a mobile ID provider (with the push server,
/// or QR only).
fn world(tag: &str, push: bool) -> World {
    world_with_sim(tag, |sim_url| mobile_id_toml(sim_url, push))
}

/// Starts a login through the mobile ID and returns the browser, the
/// login's base URL and the waiting page.
async fn start(w: &World, who: &Citizen<'_>) -> (Browser, String, Page) {
    let mut b = Browser::new(None);
    let (chooser, chooser_url) = b.follow(&format!("{}/login", w.site.url)).await;
    assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
    for name in LISTED {
        assert!(chooser.body.contains(name), "chooser lists {name}");
    }
    let wait_url = pick_provider_and_submit(&mut b, &chooser_url, "mobile-id", who).await;
    let wait_url = absolute(&chooser_url, &wait_url);
    let base = wait_url.trim_end_matches("/wait").to_owned();
    let page = b.get(&wait_url).await;
    assert_eq!(page.status, 200, "waiting page: {}", page.body);
    (b, base, page)
}

async fn finish(b: &mut Browser, base: &str, done: &serde_json::Value) -> serde_json::Value {
    assert_eq!(done["state"], "completed", "{done}");
    let (page, _) = b
        .follow(&absolute(base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, 200, "site callback: {}", page.body);
    page.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_logs_in_with_the_mobile_id_by_push_with_the_same_sub_as_through_kakao() {
    let w = world("mobile-id-push", true);
    let (mut b, base, waiting) = start(&w, &HONG).await;
    // With the push server, only the wallet on the phone typed may present:
    // no QR code for another wallet to scan.
    assert!(!waiting.body.contains("mj-wallet-qr"), "{}", waiting.body);
    let done = wait_done(&mut b, &base).await;
    let site = finish(&mut b, &base, &done).await;
    let c = &site["id_token_claims"];
    assert_eq!(c["provider"], "mobile-id");
    assert_eq!(c["name"], "홍길동");
    assert_eq!(c["birthdate"], "1990-01-31");
    assert_eq!(c["acr"], "urn:munjigi:acr:high");
    // The push server delivered to that number's holder: it is proven.
    assert_eq!(c["phone_number"], "+821012345678");
    assert_eq!(c["phone_number_verified"], true);
    let amr: Vec<&str> = c["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(amr.contains(&"mobile_id"), "{amr:?}");
    let sub = c["sub"].as_str().unwrap().to_owned();

    let kakao = login_via(&w, "kakao", &["카카오"], &HONG).await;
    assert_eq!(
        kakao["id_token_claims"]["sub"],
        sub.as_str(),
        "one person, one sub, whichever way they proved it"
    );
    let logs = w.gw.proc.drain().join("\n");
    assert!(logs.contains("mobile ID presentation verified"), "{logs}");
    assert!(logs.contains("mobile ID wallet fetched the profile"));
    assert!(
        !logs.contains("홍길동") && !logs.contains("1012345678") && !logs.contains("19900131"),
        "no personal data in the gateway's logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_logs_in_by_scanning_the_waiting_pages_qr_code() {
    // No push server: the QR code is the only way to the wallet.
    let w = world("mobile-id-qr", false);
    let who = Citizen {
        phone: "010-2222-3333",
        ..HONG
    };
    let (mut b, base, waiting) = start(&w, &who).await;
    let svg_start = waiting.body.find("<svg").expect("an inline SVG QR code");
    let svg_end = waiting.body[svg_start..].find("</svg>").unwrap() + svg_start + 6;
    let text = read_qr_svg(&waiting.body[svg_start..svg_end]);
    // What the wallet scans: the M200, pointing back at this gateway.
    let m200: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &text).unwrap(),
    )
    .unwrap();
    assert_eq!(m200["cmd"], "200");
    assert_eq!(m200["mode"], "direct");
    assert_eq!(m200["host"], w.gw.url.as_str());
    assert!(m200.get("profile").is_none(), "no profile in a QR code");
    // Nobody scanned: still waiting.
    let s = b.get(&format!("{base}/status?wait=0")).await.json();
    assert_eq!(s["state"], "pending", "{s}");
    let scan = serde_json::json!({
        "phone": who.phone, "name": who.name, "birthdate": who.birthdate, "qr": text,
    });
    assert_eq!(
        sim_control(&w.sim_url, "wallet-scan", &scan.to_string()),
        200
    );
    let done = wait_done(&mut b, &base).await;
    let site = finish(&mut b, &base, &done).await;
    let c = &site["id_token_claims"];
    assert_eq!(c["provider"], "mobile-id");
    assert_eq!(c["name"], "홍길동");
    // Whoever scanned proved a name and a birth date, not the number typed:
    // it is not released, verified or not.
    assert!(c.get("phone_number").is_none(), "{c}");
    assert!(c.get("phone_number_verified").is_none(), "{c}");
    assert!(site["userinfo"].get("phone_number").is_none(), "{site}");
}

/// One misbehaviour: the scenario, what the status ends in, and the page
/// code and log line (`check=`) after it.
struct Case {
    scenario: &'static str,
    phone: &'static str,
    state: &'static str,
    page: &'static str,
    check: Option<&'static str>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_misbehaviour_of_the_wallet_ends_the_login_as_it_should() {
    let w = world("mobile-id-bad", true);
    let cases = [
        Case {
            scenario: "reject",
            phone: "010-5000-0001",
            state: "rejected",
            page: "MJ-P01",
            check: None,
        },
        Case {
            scenario: "tamper_content",
            phone: "010-5000-0002",
            state: "completed",
            page: "MJ-P16",
            check: Some("nonce"),
        },
        Case {
            scenario: "wrong_person",
            phone: "010-5000-0003",
            state: "completed",
            page: "MJ-P06",
            check: None,
        },
        Case {
            scenario: "bad_signature",
            phone: "010-5000-0004",
            state: "completed",
            page: "MJ-P16",
            check: Some("issuer_signature"),
        },
        Case {
            scenario: "wrong_chain",
            phone: "010-5000-0005",
            state: "completed",
            page: "MJ-P16",
            check: Some("issuer"),
        },
        Case {
            scenario: "revoked",
            phone: "010-5000-0006",
            state: "completed",
            page: "MJ-P16",
            check: Some("revoked"),
        },
        Case {
            scenario: "expired_cert",
            phone: "010-5000-0007",
            state: "completed",
            page: "MJ-P16",
            check: Some("time"),
        },
        Case {
            scenario: "withheld_claim",
            phone: "010-5000-0008",
            state: "completed",
            page: "MJ-P16",
            check: Some("claims"),
        },
        Case {
            scenario: "wrong_credential_type",
            phone: "010-5000-0009",
            state: "completed",
            page: "MJ-P16",
            check: Some("credential_type"),
        },
        Case {
            scenario: "wrong_audience",
            phone: "010-5000-0010",
            state: "completed",
            page: "MJ-P16",
            check: Some("unreadable"),
        },
    ];
    for c in &cases {
        sim_set_scenario(&w.sim_url, c.phone, c.scenario);
    }
    let runs = cases.iter().map(|c| {
        let site = w.site.url.clone();
        async move {
            let who = Citizen {
                phone: c.phone,
                ..HONG
            };
            let mut b = Browser::new(None);
            let (_, chooser_url) = b.follow(&format!("{site}/login")).await;
            let wait = pick_provider_and_submit(&mut b, &chooser_url, "mobile-id", &who).await;
            let base = absolute(&chooser_url, &wait)
                .trim_end_matches("/wait")
                .to_owned();
            let done = wait_done(&mut b, &base).await;
            let page = b.get(&format!("{base}/continue")).await;
            let shown = page.body.contains(c.page);
            (done["state"] != c.state || page.status != 200 || !shown).then(|| {
                format!(
                    "{}: state {done}, page {} {}",
                    c.scenario,
                    page.status,
                    if shown {
                        "as expected"
                    } else {
                        "without the expected code"
                    }
                )
            })
        }
    });
    let wrong: Vec<String> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();
    let logs = w.gw.proc.drain().join("\n");
    assert!(wrong.is_empty(), "{}\n{logs}", wrong.join("\n"));
    for c in &cases {
        if let Some(check) = c.check {
            assert!(
                logs.contains(&format!("check=\"{check}\""))
                    || logs.contains(&format!("check={check} ")),
                "{}: no log line naming check={check}\n{logs}",
                c.scenario
            );
        }
    }
    assert!(
        logs.contains("mobile ID wallet ended the request"),
        "{logs}"
    );
    assert!(logs.contains("wrong_signer"), "{logs}");

    // An unknown person: the push server finds no one, the start fails.
    let unknown = Citizen {
        phone: "010-5000-0011",
        ..HONG
    };
    sim_set_scenario(&w.sim_url, unknown.phone, "unknown");
    let mut b = Browser::new(None);
    let (_, chooser_url) = b.follow(&format!("{}/login", w.site.url)).await;
    let base = chooser_url.split('?').next().unwrap().to_owned();
    let form = b.get(&format!("{base}/identify?provider=mobile-id")).await;
    let csrf = form.input_value("csrf").unwrap();
    let r = b
        .post(
            &format!("{base}/start"),
            &[
                ("csrf", &csrf),
                ("provider", "mobile-id"),
                ("name", unknown.name),
                ("birthdate", unknown.birthdate),
                ("phone", unknown.phone),
                ("consent", "yes"),
            ],
        )
        .await;
    // The citizen may correct what they typed: the form again, every field
    // flagged (which one did not match is not said).
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("mj-error-summary"), "{}", r.body);
    let logs = w.gw.proc.drain().join("\n");
    assert!(
        logs.contains("provider refused to start") && logs.contains("unknown_person"),
        "{logs}"
    );

    // A replayed presentation: the person's first login is good, the wallet
    // then presents that same presentation again, which names the first
    // login's nonce.
    let replay = Citizen {
        phone: "010-5000-0012",
        ..HONG
    };
    sim_set_scenario(&w.sim_url, replay.phone, "replayed_result");
    let (mut b, base, _) = start(&w, &replay).await;
    let done = wait_done(&mut b, &base).await;
    finish(&mut b, &base, &done).await;
    let (mut b, base, _) = start(&w, &replay).await;
    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let page = b.get(&format!("{base}/continue")).await;
    assert!(page.body.contains("MJ-P16"), "{}", page.body);
    let logs = w.gw.proc.drain().join("\n");
    assert!(
        logs.contains("check=\"nonce\"") || logs.contains("check=nonce"),
        "{logs}"
    );
}

/// A raw HTTP/1.1 request to the gateway (a wallet is no browser): status
/// and body.
fn raw(gw: &str, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let host = gw.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // A refusal may come before the whole body is sent.
    let _ = s
        .write_all(head.as_bytes())
        .and_then(|()| s.write_all(body));
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

/// `POST` to a `/mip/` endpoint: the status, the answer's `result` and,
/// when refused, the M900's `errcode`.
fn mip(gw: &str, path: &str, body: &[u8]) -> (u16, bool, Option<u64>) {
    let (status, text) = raw(gw, "POST", &format!("/mip/{path}"), body);
    if status != 200 {
        return (status, false, None);
    }
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let code = v["data"].as_str().map(|d| {
        let m: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, d).unwrap(),
        )
        .unwrap();
        m["errcode"].as_u64().unwrap_or(0)
    });
    (status, v["result"] == true, code)
}

fn envelope(v: serde_json::Value) -> Vec<u8> {
    let data = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        v.to_string(),
    );
    serde_json::json!({ "data": data }).to_string().into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallet_endpoints_refuse_what_is_out_of_step() {
    let w = world("mobile-id-edge", false);
    let gw = w.gw.url.as_str();
    let head = |cmd: &str, t: &str| serde_json::json!({"type": "mip", "version": "1.0.0", "cmd": cmd, "trxcode": t});
    // Unknown, malformed, wrong method, too large.
    let mut ask = head("310", &"AB".repeat(16));
    ask["request"] = "profile".into();
    assert_eq!(
        mip(gw, "profile", &envelope(ask.clone())),
        (200, false, Some(10104))
    );
    assert_eq!(mip(gw, "profile", b"not json"), (200, false, Some(10001)));
    assert_eq!(mip(gw, "nothing", b"{}").0, 404);
    assert_eq!(mip(gw, "profile", &vec![b' '; 600 * 1024]).0, 413);
    assert_eq!(raw(gw, "GET", "/mip/profile", b"").0, 405);

    // A live login: its trxcode from the QR code.
    let (mut b, base, waiting) = start(&w, &HONG).await;
    let s = waiting.body.find("<svg").unwrap();
    let e = waiting.body[s..].find("</svg>").unwrap() + s + 6;
    let text = read_qr_svg(&waiting.body[s..e]);
    let m200: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &text).unwrap(),
    )
    .unwrap();
    let t = m200["trxcode"].as_str().unwrap().to_owned();
    // A presentation before the profile: out of sequence.
    let mut vp = head("400", &t);
    vp["request"] = "presentation".into();
    vp["vp"] = serde_json::json!({"presentType": 1, "encryptType": 2, "keyType": 2,
        "type": "VERIFY", "nonce": "00", "data": "00"});
    assert_eq!(
        mip(gw, "vp", &envelope(vp.clone())),
        (200, false, Some(10201))
    );
    // The profile, twice: the same signed bytes (signed once).
    let mut ask = head("310", &t);
    ask["request"] = "profile".into();
    let p1 = raw(gw, "POST", "/mip/profile", &envelope(ask.clone()));
    let p2 = raw(gw, "POST", "/mip/profile", &envelope(ask));
    assert!(p1.1.contains("\"result\":true"), "{p1:?}");
    assert_eq!(p1.1, p2.1, "the profile is signed once and served again");
    // The waiting page learns the wallet opened it (at the next provider poll).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = b.get(&format!("{base}/status?wait=2")).await.json();
        if s["state"] == "viewed" {
            break;
        }
        assert_eq!(s["state"], "pending", "{s}");
        assert!(std::time::Instant::now() < deadline, "never viewed: {s}");
    }
    let b64 = |t: &str| {
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, t).unwrap()
    };
    let answer: serde_json::Value = serde_json::from_str(&p1.1).unwrap();
    let inner: serde_json::Value =
        serde_json::from_slice(&b64(answer["data"].as_str().unwrap())).unwrap();
    let profile: serde_json::Value =
        serde_json::from_slice(&b64(inner["profile"].as_str().unwrap())).unwrap();
    let nonce = profile["profile"]["nonce"].as_str().unwrap().to_owned();
    assert_eq!(nonce.len(), 64);
    assert_eq!(
        profile["profile"]["filter"]["requiredPrivacyList"],
        serde_json::json!(["name", "birth"])
    );
    // A wrong envelope (nonce, kinds) is refused without ending the login:
    // whoever saw the QR code cannot end it that way.
    assert_eq!(
        mip(gw, "vp", &envelope(vp.clone())),
        (200, false, Some(10111))
    );
    let mut kinds = vp.clone();
    kinds["vp"]["nonce"] = nonce.clone().into();
    kinds["vp"]["keyType"] = 0.into();
    assert_eq!(mip(gw, "vp", &envelope(kinds)), (200, false, Some(10108)));
    let s = b.get(&format!("{base}/status?wait=0")).await.json();
    assert_eq!(s["state"], "viewed", "{s}");
    // A presentation the gateway cannot open ends the login (once).
    vp["vp"]["nonce"] = nonce.into();
    assert_eq!(
        mip(gw, "vp", &envelope(vp.clone())),
        (200, false, Some(10100))
    );
    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "completed");
    let page = b.get(&format!("{base}/continue")).await;
    assert!(page.body.contains("MJ-P16"), "{}", page.body);
    // Anything after that is out of sequence.
    assert_eq!(mip(gw, "vp", &envelope(vp)), (200, false, Some(10201)));
    let mut err = head("900", &t);
    err["errcode"] = 20901.into();
    err["errmsg"] = "x".into();
    assert_eq!(mip(gw, "error", &envelope(err)), (200, false, Some(10201)));
    tokio::time::sleep(Duration::from_millis(10)).await;
}
