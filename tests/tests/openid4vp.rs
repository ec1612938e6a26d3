//! OpenID4VP 1.0 end to end: the gateway is the verifier
//! (`x509_san_dns:`, request by reference, DCQL, `direct_post.jwt` and
//! `direct_post`); the wallet is `tests/wallet/oid4vp_wallet.py`, which
//! reads the `openid4vp://` link from the waiting page's QR code (decoded
//! from its SVG, as a camera would), checks the request as a strict wallet
//! does (the chain to the verifier CA, the DNS name, `typ`, the echoed
//! `wallet_nonce`), and presents an SD-JWT VC issued by the independent
//! `sd-jwt` library under a test issuer CA. The credential's Token Status
//! List is published at the simulator, signed by the same issuer.
//!
//! A citizen logs in to an Authlib site with the same `sub` as through
//! Kakao and without the phone number (a wallet does not prove it); every
//! misbehaviour ends in its state, page and `check=` log line; the wallet
//! endpoints refuse what is out of step.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::vc_pki::{b64, pki, pki_with, Leaf, Pki};
use munjigi_e2e::*;
use std::io::Write as _;

const VCT: &str = "https://credentials.example.go.kr/identity";
const ISS: &str = "https://issuer.example.go.kr";
const LISTED: &[&str] = &["디지털 지갑"];

/// The verifier's and the issuers' PKI, kept beside the gateway's config.
struct Keys {
    _dir: TempDir,
    verifier: Pki,
    issuer: Pki,
    /// Trusted by nobody.
    rogue: Pki,
}

fn pem(x: &openssl::x509::X509) -> String {
    String::from_utf8(x.to_pem().unwrap()).unwrap()
}

fn keys() -> Keys {
    let dir = TempDir::new("oid4vp-keys");
    // The gateway's public host in the suite is 127.0.0.1.
    let verifier = pki_with("Test Verifier CA", "https://127.0.0.1", Leaf::DnsOnly);
    let issuer = pki("Test Issuer CA", ISS);
    let rogue = pki("Rogue Issuer CA", ISS);
    let mut chain = pem(&verifier.leaf);
    chain.push_str(&pem(&verifier.ca));
    std::fs::write(dir.path().join("verifier.pem"), chain).unwrap();
    std::fs::write(
        dir.path().join("verifier-key.pem"),
        verifier.leaf_key.private_key_to_pem_pkcs8().unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("issuer-ca.pem"), pem(&issuer.ca)).unwrap();
    Keys {
        _dir: dir,
        verifier,
        issuer,
        rogue,
    }
}

fn toml(k: &Keys, mode: &str) -> String {
    let d = k._dir.path().display();
    format!(
        r#"
[providers.wallet]
type = "openid4vp"
name_ko = "디지털 지갑"
name_en = "Digital wallet"
level = "high"
certificate = "{d}/verifier.pem"
key = {{ file = "{d}/verifier-key.pem" }}
credentials = [{{ vct = "{VCT}", anchors = "{d}/issuer-ca.pem" }}]
response_mode = "{mode}"
ttl_secs = 120
"#
    )
}

fn world(tag: &str, k: &Keys, mode: &str) -> World {
    let extra = toml(k, mode);
    world_with_sim(tag, |_| extra)
}

/// The status list URI of `name` at the simulator.
fn status_uri(w: &World, name: &str) -> String {
    format!("{}/status-lists/{name}", w.sim_url)
}

/// Runs the Python wallet with `req`; its JSON answer.
fn run_wallet(req: &serde_json::Value) -> serde_json::Value {
    wallet_script("oid4vp_wallet.py", req)
}

/// Publishes the issuer's status list (`values` per index) as `name`.
fn publish_status(w: &World, issuer: &Pki, name: &str, values: &[u8]) {
    let token = run_wallet(&serde_json::json!({
        "status_list": {"bits": 1, "values": values, "uri": status_uri(w, name)},
        "issuer_key": String::from_utf8(issuer.leaf_key.private_key_to_pem_pkcs8().unwrap()).unwrap(),
        "x5c": [b64(&issuer.leaf.to_der().unwrap())],
    }));
    let body = serde_json::json!({"name": name, "token": token["status_token"]});
    assert_eq!(
        sim_control(&w.sim_url, "status-list", &body.to_string()),
        200
    );
}

/// What the wallet is asked to do for `who`.
fn wallet_req(
    k: &Keys,
    issuer: &Pki,
    link: &str,
    who: &Citizen<'_>,
    status: Option<(u64, String)>,
    misbehave: &str,
) -> serde_json::Value {
    let ci = munjigi_sim::simulator::ci_of(who.name, who.birthdate, who.phone).unwrap();
    serde_json::json!({
        "link": link,
        "verifier_ca": pem(&k.verifier.ca),
        "issuer_key": String::from_utf8(issuer.leaf_key.private_key_to_pem_pkcs8().unwrap()).unwrap(),
        "x5c": [b64(&issuer.leaf.to_der().unwrap())],
        "iss": ISS,
        "vct": if misbehave == "wrong_type" { "https://credentials.example.go.kr/other" } else { VCT },
        "person": {"name": who.name, "birthdate": who.birthdate, "ci": ci},
        "status": status.map(|(idx, uri)| serde_json::json!({"idx": idx, "uri": uri})),
        "misbehave": misbehave,
    })
}

/// Starts a login through the wallet: the browser, the login's base URL and
/// the link its waiting page's QR code carries.
async fn start(w: &World, who: &Citizen<'_>) -> (Browser, String, String) {
    let mut b = Browser::new(None);
    let (chooser, chooser_url) = b.follow(&format!("{}/login", w.site.url)).await;
    assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
    for name in LISTED {
        assert!(chooser.body.contains(name), "chooser lists {name}");
    }
    let wait_url = pick_provider_and_submit(&mut b, &chooser_url, "wallet", who).await;
    let wait_url = absolute(&chooser_url, &wait_url);
    let base = wait_url.trim_end_matches("/wait").to_owned();
    let page = b.get(&wait_url).await;
    assert_eq!(page.status, 200, "waiting page: {}", page.body);
    let svg_start = page.body.find("<svg").expect("an inline SVG QR code");
    let svg_end = page.body[svg_start..].find("</svg>").unwrap() + svg_start + 6;
    let link = read_qr_svg(&page.body[svg_start..svg_end]);
    // A wallet on this phone opens the same request from a button.
    let open = format!(
        "id=\"mj-wallet-open\" href=\"{}\"",
        link.replace('&', "&#38;")
    );
    assert!(page.body.contains(&open), "{open}\n{}", page.body);
    (b, base, link)
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
async fn a_citizen_logs_in_with_a_wallet_by_direct_post_jwt_with_the_same_sub_as_through_kakao() {
    let k = keys();
    let w = world("oid4vp-login", &k, "direct_post.jwt");
    publish_status(&w, &k.issuer, "main", &[0, 0, 0, 0]);
    let (mut b, base, link) = start(&w, &HONG).await;
    assert!(link.starts_with("openid4vp://?client_id=x509_san_dns%3A127.0.0.1&request_uri="));
    let s = b.get(&format!("{base}/status?wait=0")).await.json();
    assert_eq!(s["state"], "pending", "{s}");

    let out = run_wallet(&wallet_req(
        &k,
        &k.issuer,
        &link,
        &HONG,
        Some((2, status_uri(&w, "main"))),
        "none",
    ));
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(
        out["body"],
        serde_json::json!({}),
        "no redirect: cross-device"
    );
    // The request asked for exactly the claims a login needs, encrypted.
    let req = &out["request"];
    assert_eq!(req["response_mode"], "direct_post.jwt");
    let paths: Vec<String> = req["dcql_query"]["credentials"][0]["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"][0].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(paths, ["name", "birthdate", "ci"]);
    assert_eq!(
        req["dcql_query"]["credentials"][0]["meta"]["vct_values"],
        serde_json::json!([VCT])
    );

    let done = wait_done(&mut b, &base).await;
    let site = finish(&mut b, &base, &done).await;
    let c = &site["id_token_claims"];
    assert_eq!(c["provider"], "wallet");
    assert_eq!(c["name"], "홍길동");
    assert_eq!(c["birthdate"], "1990-01-31");
    assert_eq!(c["acr"], "urn:munjigi:acr:high");
    assert!(
        c.get("phone_number").is_none(),
        "a wallet does not prove the number: {c}"
    );
    assert!(
        c.get("nationality").is_none(),
        "a claim not asked is not released"
    );
    let amr: Vec<&str> = c["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(amr.contains(&"openid4vp"), "{amr:?}");
    let sub = c["sub"].as_str().unwrap().to_owned();
    let kakao = login_via(&w, "kakao", &["카카오"], &HONG).await;
    assert_eq!(
        kakao["id_token_claims"]["sub"],
        sub.as_str(),
        "one person, one sub, whichever way they proved it"
    );

    // The same presentation, replayed into a new login: another nonce.
    let (mut b, base, link) = start(&w, &HONG).await;
    let mut req = wallet_req(&k, &k.issuer, &link, &HONG, None, "none");
    req["replay"] = out["presentation"].clone();
    let again = run_wallet(&req);
    assert_eq!(again["status"], 400, "{again}");
    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let page = b.get(&format!("{base}/continue")).await;
    assert!(page.body.contains("MJ-P16"), "{}", page.body);

    let logs = w.gw.proc.drain().join("\n");
    assert!(logs.contains("OpenID4VP presentation accepted"), "{logs}");
    assert!(
        logs.contains("OpenID4VP wallet fetched the request"),
        "{logs}"
    );
    assert!(
        logs.contains("check=\"nonce\"") || logs.contains("check=nonce"),
        "{logs}"
    );
    assert!(
        !logs.contains("홍길동") && !logs.contains("1012345678") && !logs.contains("19900131"),
        "no personal data in the gateway's logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_direct_post_works_and_an_encrypted_one_is_refused_unless_asked() {
    let k = keys();
    let w = world("oid4vp-plain", &k, "direct_post");
    publish_status(&w, &k.issuer, "main", &[0]);
    let who = Citizen {
        phone: "010-3333-4444",
        ..HONG
    };
    let (mut b, base, link) = start(&w, &who).await;
    let out = run_wallet(&wallet_req(
        &k,
        &k.issuer,
        &link,
        &who,
        Some((0, status_uri(&w, "main"))),
        "none",
    ));
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(out["request"]["response_mode"], "direct_post");
    assert!(out["request"]["client_metadata"].get("jwks").is_none());
    let done = wait_done(&mut b, &base).await;
    let site = finish(&mut b, &base, &done).await;
    assert_eq!(site["id_token_claims"]["name"], "홍길동");
}

/// One misbehaviour: what the wallet does, what its post gets, what the
/// login ends in, and the page and `check=` after it.
struct Case {
    misbehave: &'static str,
    phone: &'static str,
    post: u16,
    state: &'static str,
    page: &'static str,
    check: Option<&'static str>,
    /// Status list index (index 1 is revoked), or no status at all.
    status: Option<u64>,
    rogue: bool,
}

const fn case(misbehave: &'static str, phone: &'static str, check: &'static str) -> Case {
    Case {
        misbehave,
        phone,
        post: 400,
        state: "completed",
        page: "MJ-P16",
        check: Some(check),
        status: Some(0),
        rogue: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_misbehaviour_of_the_wallet_ends_the_login_as_it_should() {
    let k = keys();
    let w = world("oid4vp-bad", &k, "direct_post.jwt");
    publish_status(&w, &k.issuer, "main", &[0, 1]);
    let cases = [
        Case {
            post: 200,
            state: "rejected",
            page: "MJ-P01",
            check: None,
            ..case("refuse", "010-6000-0001", "")
        },
        case("wrong_nonce", "010-6000-0002", "nonce"),
        case("wrong_aud", "010-6000-0003", "audience"),
        case("expired", "010-6000-0004", "time"),
        Case {
            status: Some(1),
            ..case("none", "010-6000-0005", "revoked")
        },
        case("tampered_disclosure", "010-6000-0006", "disclosure"),
        case("tampered_payload", "010-6000-0007", "issuer_signature"),
        case("withheld_claim", "010-6000-0008", "claims"),
        Case {
            rogue: true,
            ..case("none", "010-6000-0009", "issuer")
        },
        case("wrong_type", "010-6000-0010", "credential_type"),
        Case {
            status: None,
            ..case("none", "010-6000-0011", "status_missing")
        },
        case("dropped_disclosure", "010-6000-0012", "sd_hash"),
        case("no_key_binding", "010-6000-0013", "key_binding"),
        // The state inside the encryption is another login's.
        case("wrong_state", "010-6000-0014", "state"),
        Case {
            post: 200,
            state: "rejected",
            page: "MJ-P01",
            check: None,
            ..case("refuse_encrypted", "010-6000-0015", "")
        },
    ];
    let runs = cases.iter().map(|c| {
        let (w, k) = (&w, &k);
        async move {
            let who = Citizen {
                phone: c.phone,
                ..HONG
            };
            let (mut b, base, link) = start(w, &who).await;
            let issuer = if c.rogue { &k.rogue } else { &k.issuer };
            let status = c.status.map(|i| (i, status_uri(w, "main")));
            let out = tokio::task::spawn_blocking({
                let req = wallet_req(k, issuer, &link, &who, status, c.misbehave);
                move || run_wallet(&req)
            })
            .await
            .unwrap();
            let done = wait_done(&mut b, &base).await;
            let page = b.get(&format!("{base}/continue")).await;
            let shown = page.body.contains(c.page);
            (out["status"] != c.post || done["state"] != c.state || page.status != 200 || !shown)
                .then(|| {
                    format!(
                        "{}: post {}, state {done}, page {} {}",
                        c.misbehave,
                        out["status"],
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
                c.misbehave
            );
        }
    }
    assert!(
        logs.contains("OpenID4VP wallet ended the request"),
        "{logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallet_endpoints_refuse_what_is_out_of_step() {
    let k = keys();
    let w = world("oid4vp-steps", &k, "direct_post.jwt");
    publish_status(&w, &k.issuer, "main", &[0]);
    let gw = w.gw.url.clone();
    // Unknown and malformed ids, wrong methods, unknown paths.
    let client = reqwest_like(&gw);
    assert_eq!(
        client("GET", &format!("/oid4vp/request/{}", "0".repeat(32)), "").0,
        404
    );
    // An encoded slash is refused where paths are made canonical (400), a
    // traversal never reaches another file.
    for odd in [
        "/oid4vp/request/..%2F..%2Fx",
        "/oid4vp/request/../../x",
        "/oid4vp/request/ABC",
    ] {
        let (s, body) = client("GET", odd, "");
        assert!(s == 400 || s == 404, "{odd}: {s} {body}");
    }
    assert_eq!(
        client(
            "POST",
            &format!("/oid4vp/response/{}", "0".repeat(32)),
            "vp_token=x"
        )
        .0,
        404
    );
    assert_eq!(
        client("GET", &format!("/oid4vp/response/{}", "0".repeat(32)), "").0,
        405
    );
    assert_eq!(
        client("PUT", &format!("/oid4vp/request/{}", "0".repeat(32)), "").0,
        405
    );
    assert_eq!(client("GET", "/oid4vp/other", "").0, 404);

    let who = Citizen {
        phone: "010-7000-0001",
        ..HONG
    };
    // A response before the request was fetched is out of step.
    let (mut b, base, link) = start(&w, &who).await;
    let id = link
        .rsplit("request%2F")
        .next()
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let (s, body) = client(
        "POST",
        &format!("/oid4vp/response/{id}"),
        "vp_token=%7B%7D&state=x",
    );
    assert_eq!(s, 400, "{body}");
    // A wallet may fetch the request three times in all (a retry after a
    // lost answer), then it is refused.
    let out = run_wallet(&wallet_req(&k, &k.issuer, &link, &who, None, "fetch_again"));
    assert_eq!(out["statuses"], serde_json::json!([200, 200, 400]), "{out}");
    assert_eq!(out["body"]["error"], "invalid_request_uri", "{out}");
    // Envelope errors (a plain vp_token where encryption was asked, a JWE
    // for another key, a wrong state on an error) are refused and the
    // login waits on.
    for (form, why) in [
        ("vp_token=%7B%7D&state=x", "the response must be encrypted"),
        (
            "response=e30.x.y.z.w",
            "not encrypted to this request's key",
        ),
        ("error=access_denied&state=wrong", "state"),
        ("vp_token=a&vp_token=b", "the body is not a form"),
    ] {
        let (s, body) = client("POST", &format!("/oid4vp/response/{id}"), form);
        assert_eq!(s, 400, "{form}: {body}");
        assert!(body.contains(why), "{form}: {body}");
    }
    // Whoever saw the QR code knows the login's id, not the key's `kid`
    // (only the request carries it): a JWE naming the id is refused before
    // anything is opened, and the login waits on.
    let header = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        format!(r#"{{"alg":"ECDH-ES","enc":"A128GCM","kid":"{id}"}}"#),
    );
    let (s, body) = client(
        "POST",
        &format!("/oid4vp/response/{id}"),
        &format!("response={header}..AAAAAAAAAAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAA"),
    );
    assert_eq!(s, 400, "{body}");
    assert!(
        body.contains("not encrypted to this request's key"),
        "{body}"
    );
    let st = b.get(&format!("{base}/status?wait=0")).await.json();
    assert_eq!(st["state"], "pending", "{st}");
    // An oversized body never reaches the family.
    let big = format!("response={}", "a".repeat(300 * 1024));
    assert_eq!(
        client("POST", &format!("/oid4vp/response/{id}"), &big).0,
        413
    );
    // The wallet's error with this login's state ends it (as rejected).
    let (s, _) = client(
        "POST",
        &format!("/oid4vp/response/{id}"),
        "error=access_denied&state=",
    );
    assert_eq!(s, 400, "an empty state is no state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulators_wallet_logs_in_as_in_the_demo_and_misbehaves_on_demand() {
    // The demo's wallet: the simulator's, with its own issuer and verifier
    // certificate (the independent wallet above is what checks the verifier;
    // this checks the demo works).
    let w = world_with_sim("oid4vp-sim", |_| openid4vp_toml());
    let cases = [
        ("none", "010-8000-0001", "completed", None),
        ("reject", "010-8000-0002", "rejected", Some("MJ-P01")),
        ("revoked", "010-8000-0003", "completed", Some("MJ-P16")),
        ("wrong_person", "010-8000-0004", "completed", Some("MJ-P06")),
        (
            "tamper_content",
            "010-8000-0005",
            "completed",
            Some("MJ-P16"),
        ),
    ];
    for (scenario, phone, _, _) in cases.iter().skip(1) {
        sim_set_scenario(&w.sim_url, phone, scenario);
    }
    for (scenario, phone, state, page) in cases {
        let who = Citizen { phone, ..HONG };
        let (mut b, base, link) = start(&w, &who).await;
        let scan = serde_json::json!({
            "phone": who.phone, "name": who.name, "birthdate": who.birthdate, "qr": link,
        });
        assert_eq!(
            sim_control(&w.sim_url, "wallet-scan", &scan.to_string()),
            200
        );
        let done = wait_done(&mut b, &base).await;
        assert_eq!(done["state"], state, "{scenario}: {done}");
        match page {
            None => {
                let site = finish(&mut b, &base, &done).await;
                assert_eq!(site["id_token_claims"]["name"], "홍길동", "{site}");
                assert_eq!(site["id_token_claims"]["provider"], "wallet");
            }
            Some(code) => {
                let p = b.get(&format!("{base}/continue")).await;
                assert!(p.body.contains(code), "{scenario}: {}", p.body);
            }
        }
    }
    let logs = w.gw.proc.drain().join("\n");
    for check in ["revoked", "nonce"] {
        assert!(
            logs.contains(&format!("check=\"{check}\"")),
            "check={check}\n{logs}"
        );
    }
}

/// A raw HTTP/1.1 client for the gateway (a wallet is no browser): call it
/// with a method, a path and a form body; status and body.
fn reqwest_like(gw: &str) -> impl Fn(&str, &str, &str) -> (u16, String) + '_ {
    move |method, path, body| {
        use std::io::Read as _;
        let host = gw.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(host).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        let _ = s.write_all(body.as_bytes());
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
}
