//! Document signing end to end: a site asks over the API with its OIDC client
//! credentials, the citizen picks a provider that can sign that many
//! documents, reviews them, approves in the (simulated) app, and the site
//! fetches a receipt sealed by the gateway whose CMS signatures cover exactly
//! the documents' digests. And the ways it must fail: another site's id, a
//! wrong signer (by `sub`, or by name + birth date + phone), a cancelled
//! request, an approval after the request expired, one bad element of a
//! multi-sign, a replayed approval, an audit log that cannot be written.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use munjigi_e2e::*;

const OTHER_SECRET: &str = "other-site-secret-0123456789";

struct World {
    dir: TempDir,
    _sim: Proc,
    sim_url: String,
    gw: Gateway,
    redirect: String,
}

fn world(tag: &str, audit_log: &str) -> World {
    world_with(tag, audit_log, &SimOpts::default())
}

fn world_with(tag: &str, audit_log: &str, sim: &SimOpts) -> World {
    let dir = TempDir::new(tag);
    let (sim, sim_url) = start_simulator(dir.path(), sim);
    let redirect = "http://127.0.0.1:9/signed".to_owned();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect.clone(),
            extra: format!(
                "\n[sites.other]\nname = \"다른 기관\"\npolicy = \"standard\"\n\
                 [sites.other.oidc]\nclient_id = \"other\"\nclient_secret = {{ value = \"{OTHER_SECRET}\" }}\n\
                 redirect_uris = [\"http://127.0.0.1:9/other\"]\n\
                 \n[signing]\naudit_log = \"{audit_log}\"\n"
            ),
            ..GatewayOpts::default()
        },
    );
    World {
        dir,
        _sim: sim,
        sim_url,
        gw,
        redirect,
    }
}

/// The site's side: JSON over HTTP with Basic client authentication.
async fn api(
    method: &str,
    url: &str,
    client: (&str, &str),
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    site_api(method, url, &basic_auth(client.0, client.1), body.as_ref()).await
}

const TOWN: (&str, &str) = ("town", CLIENT_SECRET);

fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn sha_hex(s: &[u8]) -> String {
    sha256_hex(s)
}

/// Creates a request for `docs` (title, content) and returns (id, url).
async fn ask(w: &World, docs: &[(&str, &[u8])], extra: serde_json::Value) -> (String, String) {
    let mut body = serde_json::json!({
        "title": "전입 신고",
        "documents": docs.iter().map(|(t, c)| serde_json::json!({
            "title": t, "content": b64(c), "media_type": "text/plain"
        })).collect::<Vec<_>>(),
        "redirect_uri": w.redirect,
        "state": "st-1",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, j) = api(
        "POST",
        &format!("{}/api/v1/signatures", w.gw.url),
        TOWN,
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{j}");
    (
        j["id"].as_str().unwrap().to_owned(),
        j["url"].as_str().unwrap().to_owned(),
    )
}

/// The citizen: from the request URL through the provider to the site.
/// Returns the chooser's providers and the final Location.
async fn approve(b: &mut Browser, url: &str, provider: &str) -> (Vec<String>, String) {
    approve_as(b, url, provider, &HONG).await
}

/// [`approve`] by `who`.
async fn approve_as(
    b: &mut Browser,
    url: &str,
    provider: &str,
    who: &Citizen<'_>,
) -> (Vec<String>, String) {
    let (chooser, chooser_url) = b.follow(url).await;
    assert_eq!(chooser.status, 200, "{}", chooser.body);
    let offered: Vec<String> = chooser
        .body
        .split("data-provider=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect();
    let wait = pick_provider_and_submit(b, &chooser_url, provider, who).await;
    let base = wait.trim_end_matches("/wait").to_owned();
    let done = wait_done(b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let back = b
        .get(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
    (offered, back.location.unwrap())
}

async fn status_of(w: &World, id: &str) -> serde_json::Value {
    let (status, j) = api(
        "GET",
        &format!("{}/api/v1/signatures/{id}", w.gw.url),
        TOWN,
        None,
    )
    .await;
    assert_eq!(status, 200, "{j}");
    j
}

async fn jwks(w: &World) -> serde_json::Value {
    let mut b = Browser::new(None);
    b.get(&format!("{}/jwks", w.gw.url)).await.json()
}

/// The CMS content (attached) after a signature check against the signer's
/// own certificate (the chain was the gateway's job, checked in the providers' tests).
fn cms_content(cms_b64: &str) -> Vec<u8> {
    use openssl::cms::{CMSOptions, CmsContentInfo};
    let der = base64::engine::general_purpose::STANDARD
        .decode(cms_b64)
        .unwrap();
    let mut cms = CmsContentInfo::from_der(&der).unwrap();
    let store = openssl::x509::store::X509StoreBuilder::new()
        .unwrap()
        .build();
    let mut out = Vec::new();
    cms.verify(
        None,
        Some(&store),
        None,
        Some(&mut out),
        CMSOptions::NO_SIGNER_CERT_VERIFY,
    )
    .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_gets_one_document_signed_and_a_verifiable_receipt() {
    let w = world("sign-one", "audit.log");
    let doc: &[u8] = "전입신고서: 홍길동, 2026-11-23".as_bytes();
    let (id, url) = ask(&w, &[("전입신고서", doc)], serde_json::json!({})).await;
    assert_eq!(status_of(&w, &id).await["status"], "pending");

    let mut b = Browser::new(None);
    // The review: title and fingerprint on the identity form.
    let (chooser, chooser_url) = b.follow(&url).await;
    let form = b
        .get(&format!(
            "{}/identify?provider=kakao",
            chooser_url.split('?').next().unwrap()
        ))
        .await;
    assert!(form.body.contains("전입신고서"), "{}", form.body);
    assert!(form.body.contains(&sha_hex(doc)), "the digest is shown");
    assert!(chooser.body.contains("data-provider=\"kakao\""));
    // Said as what it is: signing, not logging in.
    assert!(chooser.body.contains("전자서명"), "{}", chooser.body);
    assert!(form.body.contains("인증서로 서명") && !form.body.contains("인증서로 로그인"));
    // Only providers that can sign: no login-only family is offered.
    for login_only in ["kakao-direct", "toss-direct", "kb", "shinhan"] {
        assert!(
            !chooser
                .body
                .contains(&format!("data-provider=\"{login_only}\"")),
            "{login_only} offered"
        );
    }
    let (_, back) = approve(&mut b, &url, "kakao").await;
    assert_eq!(back, format!("{}?id={id}&state=st-1", w.redirect));

    let j = status_of(&w, &id).await;
    assert_eq!(j["status"], "completed", "{j}");
    let receipt = j["receipt"].as_str().unwrap().to_owned();
    let (header, _, _, _) = jwt_parts(&receipt);
    assert_eq!(header["typ"], "munjigi-receipt+jwt");
    let c = verify_es256(&receipt, &jwks(&w).await);
    assert_eq!(c["aud"], "town");
    assert_eq!(c["jti"], id.as_str());
    assert_eq!(c["iss"], w.gw.url.as_str());
    assert_eq!(c["signer"]["provider"], "kakao");
    assert_eq!(c["signer"]["name"], "홍길동");
    assert_eq!(c["signer"]["sub"].as_str().unwrap().len(), 43);
    let d = &c["documents"][0];
    assert_eq!(d["digest"], sha_hex(doc).as_str());
    assert_eq!(d["digest_alg"], "SHA-256");
    assert_eq!(d["form"], "digest");
    assert_eq!(
        cms_content(d["cms"].as_str().unwrap()),
        openssl::sha::sha256(doc).to_vec()
    );
    assert!(d["signer_cert_serial"].as_str().unwrap().len() > 4);

    // Fetched again: the same receipt. Signed again: never.
    assert_eq!(status_of(&w, &id).await["receipt"], receipt.as_str());
    let again = b.get(&url).await;
    assert!(
        again.status >= 400,
        "a finished request cannot be signed again: {}",
        again.status
    );
    // Another site: as if it did not exist.
    let (status, _) = api(
        "GET",
        &format!("{}/api/v1/signatures/{id}", w.gw.url),
        ("other", OTHER_SECRET),
        None,
    )
    .await;
    assert_eq!(status, 404);
    // The audit log has the event, with every field the signing log always
    // wrote (it is now one record of the hash-chained audit log), digests
    // and no personal data.
    let audit = std::fs::read_to_string(w.dir.path().join("audit.log")).unwrap();
    let completed: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "signature.completed")
        .collect();
    assert_eq!(completed.len(), 1, "{audit}");
    let line = &completed[0];
    assert_eq!(line["request"], id.as_str());
    assert_eq!(line["client"], "town");
    assert_eq!(line["provider"], "kakao");
    assert_eq!(line["acr"], "urn:munjigi:acr:substantial");
    assert!(line["txn"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(line["sub"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(line["ts"].as_u64().is_some());
    assert_eq!(line["documents"][0], sha_hex(doc).as_str());
    assert_eq!(line["receipt_sha256"], sha_hex(receipt.as_bytes()).as_str());
    for field in ["seq", "writer", "time", "prev", "hash"] {
        assert!(line.get(field).is_some(), "{field} in {line}");
    }
    assert!(!audit.contains("홍길동") && !audit.contains("1234-5678"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_documents_are_signed_in_order_and_the_chooser_fits_the_count() {
    let w = world("sign-many", "audit.log");
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
    let (id, url) = ask(&w, &refs, serde_json::json!({})).await;
    let mut b = Browser::new(None);
    let (offered, _) = approve(&mut b, &url, "naver").await;
    assert!(
        offered.contains(&"kakao".to_owned()) && !offered.contains(&"pass".to_owned()),
        "{offered:?}"
    );
    let j = status_of(&w, &id).await;
    assert_eq!(j["status"], "completed", "{j}");
    let c = verify_es256(j["receipt"].as_str().unwrap(), &jwks(&w).await);
    for (i, (_, content)) in docs.iter().enumerate() {
        let d = &c["documents"][i];
        assert_eq!(
            d["digest"],
            sha_hex(content).as_str(),
            "document {i} in order"
        );
        // Naver: detached, the messageDigest is the document's own digest.
        assert_eq!(d["form"], "detached_digest");
    }

    // 30 documents: only Naver (up to 50) can sign them.
    let docs: Vec<(String, Vec<u8>)> = (0..30)
        .map(|i| (format!("d{i}"), vec![i as u8; 10]))
        .collect();
    let refs: Vec<(&str, &[u8])> = docs
        .iter()
        .map(|(t, c)| (t.as_str(), c.as_slice()))
        .collect();
    let (_, url) = ask(&w, &refs, serde_json::json!({})).await;
    let mut b = Browser::new(None);
    let (chooser, _) = b.follow(&url).await;
    let offered: Vec<&str> = chooser
        .body
        .split("data-provider=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert_eq!(offered, vec!["naver"], "{}", chooser.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_signer_cancel_and_bad_requests_fail_as_they_say() {
    let w = world("sign-fail", "audit.log");
    // A signer binding to someone else.
    let (id, url) = ask(
        &w,
        &[("a", b"a")],
        serde_json::json!({"signer": {"sub": "x".repeat(43)}}),
    )
    .await;
    let mut b = Browser::new(None);
    let (_, back) = approve(&mut b, &url, "kakao").await;
    assert!(back.contains(&format!("id={id}")));
    let j = status_of(&w, &id).await;
    assert_eq!(j["status"], "failed");
    assert_eq!(j["failure"], "wrong_signer");
    assert!(j.get("receipt").is_none());

    // The citizen goes back to the site without signing.
    let (id, url) = ask(&w, &[("b", b"b")], serde_json::json!({})).await;
    let mut b = Browser::new(None);
    let (_, chooser_url) = b.follow(&url).await;
    let abort = b
        .get(&format!("{}/abort", chooser_url.split('?').next().unwrap()))
        .await;
    assert_eq!(abort.status, 303);
    assert_eq!(
        abort.location.unwrap(),
        format!("{}?id={id}&state=st-1", w.redirect)
    );
    assert_eq!(status_of(&w, &id).await["failure"], "cancelled");

    // The API refuses what it cannot honour, with a reason.
    let post = |body: serde_json::Value, client: (&'static str, &'static str)| {
        let url = format!("{}/api/v1/signatures", w.gw.url);
        async move { api("POST", &url, client, Some(body)).await }
    };
    let doc = serde_json::json!([{"title": "t", "content": b64(b"x")}]);
    let (s, j) = post(
        serde_json::json!({"documents": doc, "redirect_uri": "http://127.0.0.1:9/evil"}),
        TOWN,
    )
    .await;
    assert_eq!(
        (s, j["error"].as_str()),
        (400, Some("invalid_request")),
        "{j}"
    );
    let (s, _) = post(
        serde_json::json!({"documents": doc, "redirect_uri": w.redirect}),
        ("town", "wrong-secret-000000000"),
    )
    .await;
    assert_eq!(s, 401);
    let both = serde_json::json!([{"title": "t", "content": b64(b"x"), "sha256": "00".repeat(32)}]);
    let (s, j) = post(
        serde_json::json!({"documents": both, "redirect_uri": w.redirect}),
        TOWN,
    )
    .await;
    assert_eq!(s, 400, "{j}");
    let many: Vec<_> = (0..51)
        .map(|i| serde_json::json!({"title": format!("{i}"), "sha256": "ab".repeat(32)}))
        .collect();
    let (s, j) = post(
        serde_json::json!({"documents": many, "redirect_uri": w.redirect}),
        TOWN,
    )
    .await;
    assert_eq!(s, 400, "{j}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_receipt_without_the_audit_event() {
    // The audit log path is a directory: every append fails.
    let w = world("sign-audit", ".");
    let (id, url) = ask(&w, &[("a", b"a")], serde_json::json!({})).await;
    let mut b = Browser::new(None);
    let (_, back) = approve(&mut b, &url, "kakao").await;
    assert!(back.contains(&format!("id={id}")));
    let j = status_of(&w, &id).await;
    assert_eq!(j["status"], "failed", "{j}");
    assert_eq!(j["failure"], "audit_unavailable");
    assert!(
        j.get("receipt").is_none(),
        "no receipt without the audit event"
    );
    let logs = w.gw.proc.drain().join("\n");
    assert!(logs.contains("MJ-G01"), "{logs}");
}

/// Whether the audit log has a `signature.completed` record for request `id`.
fn audited_as_signed(w: &World, id: &str) -> bool {
    let audit = std::fs::read_to_string(w.dir.path().join("audit.log")).unwrap_or_default();
    audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .any(|e| e["event"] == "signature.completed" && e["request"] == id)
}

/// Another citizen, unknown to the simulator (who approves whoever asks).
const KIM: Citizen<'static> = Citizen {
    name: "김철수",
    birthdate: "1985-05-05",
    phone: "010-2222-3333",
};

/// The citizen approves in the app, but the result does not pass: from the
/// request URL to the login base, provider done, not yet continued.
async fn approved_upstream(b: &mut Browser, url: &str, who: &Citizen<'_>) -> String {
    let (chooser, chooser_url) = b.follow(url).await;
    assert_eq!(chooser.status, 200, "{}", chooser.body);
    let wait = pick_provider_and_submit(b, &chooser_url, "kakao", who).await;
    let base = wait.trim_end_matches("/wait").to_owned();
    let done = wait_done(b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    base
}

/// The citizen sees the verification-failed page, no way to the site but
/// their own click; the request stays pending until they go back, and then
/// fails with the provider's reason and no receipt.
async fn refused_then_back_to_site(w: &World, b: &mut Browser, base: &str, id: &str) {
    let page = b.get(&format!("{base}/continue")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.location.is_none(), "no redirect to the site");
    assert!(page.body.contains("MJ-P07"), "{}", page.body);
    let j = status_of(w, id).await;
    assert_eq!(j["status"], "pending", "retry or another provider: {j}");
    assert!(j.get("receipt").is_none());
    let back = b.get(&format!("{base}/abort")).await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert_eq!(
        back.location.unwrap(),
        format!("{}?id={id}&state=st-1", w.redirect)
    );
    let j = status_of(w, id).await;
    assert_eq!(j["status"], "failed", "{j}");
    assert_eq!(j["failure"], "bad_signature", "{j}");
    assert!(j.get("receipt").is_none(), "{j}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_after_the_request_expired_gets_no_receipt() {
    // The citizen approves 11 s after asking; the site gave them 10 s.
    let w = world_with(
        "sign-expired",
        "audit.log",
        &SimOpts {
            approve_after_ms: 11_000,
            people: Vec::new(),
        },
    );
    let (s, j) = api(
        "POST",
        &format!("{}/api/v1/signatures", w.gw.url),
        TOWN,
        Some(serde_json::json!({
            "documents": [{"title": "t", "content": b64(b"x")}],
            "redirect_uri": w.redirect, "expires_in": 9,
        })),
    )
    .await;
    assert_eq!(s, 400, "10 s at least: {j}");
    let (id, url) = ask(&w, &[("a", b"a")], serde_json::json!({"expires_in": 10})).await;
    let mut b = Browser::new(None);
    let (_, back) = approve(&mut b, &url, "kakao").await;
    assert_eq!(back, format!("{}?id={id}&state=st-1", w.redirect));
    let j = status_of(&w, &id).await;
    assert_eq!(j["status"], "expired", "{j}");
    assert_eq!(j["failure"], "expired", "{j}");
    assert!(j.get("receipt").is_none(), "{j}");
    // Nothing was audited as signed; the link is dead.
    assert!(
        !audited_as_signed(&w, &id),
        "no signature.completed for {id}"
    );
    let again = b.get(&url).await;
    assert!(again.status >= 400, "{}", again.status);

    // Never started: expired all the same.
    let (id, _) = ask(&w, &[("b", b"b")], serde_json::json!({"expires_in": 10})).await;
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    let j = status_of(&w, &id).await;
    assert_eq!(
        (j["status"].as_str(), j["failure"].as_str()),
        (Some("expired"), Some("expired")),
        "{j}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_element_of_a_multi_sign_fails_the_whole_request() {
    let w = world("sign-multi-bad", "audit.log");
    let who = Citizen {
        phone: "010-0000-0051",
        ..HONG
    };
    sim_set_scenario(&w.sim_url, who.phone, "multi_one_bad");
    let (id, url) = ask(
        &w,
        &[("첫째", b"one"), ("둘째", b"two"), ("셋째", b"three")],
        serde_json::json!({}),
    )
    .await;
    let mut b = Browser::new(None);
    let base = approved_upstream(&mut b, &url, &who).await;
    refused_then_back_to_site(&w, &mut b, &base, &id).await;
    let logs = w.gw.proc.drain().join("\n");
    assert!(logs.contains("provider result refused"), "{logs}");
    assert!(
        !audited_as_signed(&w, &id),
        "no signature.completed for {id}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_approval_signs_nothing() {
    let w = world("sign-replay", "audit.log");
    let who = Citizen {
        phone: "010-0000-0052",
        ..HONG
    };
    sim_set_scenario(&w.sim_url, who.phone, "replayed_result");
    // The first signature is genuine (the provider keeps it to replay).
    let (first, url) = ask(&w, &[("a", b"first document")], serde_json::json!({})).await;
    let mut b = Browser::new(None);
    approve_as(&mut b, &url, "kakao", &who).await;
    assert_eq!(status_of(&w, &first).await["status"], "completed");
    // The second gets the first's result back: it covers another document.
    let (id, url) = ask(&w, &[("b", b"second document")], serde_json::json!({})).await;
    let mut b = Browser::new(None);
    let base = approved_upstream(&mut b, &url, &who).await;
    refused_then_back_to_site(&w, &mut b, &base, &id).await;
    let logs = w.gw.proc.drain().join("\n");
    assert!(logs.contains("check=\"content_mismatch\""), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signer_named_by_name_birthdate_and_phone_must_be_that_person() {
    let w = world("sign-binding", "audit.log");
    let hong = serde_json::json!({"signer": {
        "name": HONG.name, "birthdate": HONG.birthdate, "phone": HONG.phone
    }});
    // The right person: the form comes prefilled, and the receipt is released.
    let (id, url) = ask(&w, &[("a", b"a")], hong.clone()).await;
    let mut b = Browser::new(None);
    let (_, chooser_url) = b.follow(&url).await;
    let form = b
        .get(&format!(
            "{}/identify?provider=kakao",
            chooser_url.split('?').next().unwrap()
        ))
        .await;
    assert_eq!(form.input_value("name").as_deref(), Some(HONG.name));
    assert_eq!(
        form.input_value("birthdate").as_deref(),
        Some(HONG.birthdate)
    );
    assert_eq!(form.input_value("phone").as_deref(), Some("01012345678"));
    approve(&mut b, &url, "kakao").await;
    let j = status_of(&w, &id).await;
    assert_eq!(j["status"], "completed", "{j}");
    let c = verify_es256(j["receipt"].as_str().unwrap(), &jwks(&w).await);
    assert_eq!(c["signer"]["name"], HONG.name);
    // The binding is never echoed to the site (it knows it already).
    assert!(!j.to_string().contains(HONG.phone));

    // Someone else signs in their own name: refused, no receipt.
    let (id, url) = ask(&w, &[("b", b"b")], hong.clone()).await;
    let mut b = Browser::new(None);
    let (_, back) = approve_as(&mut b, &url, "kakao", &KIM).await;
    assert_eq!(back, format!("{}?id={id}&state=st-1", w.redirect));
    let j = status_of(&w, &id).await;
    assert_eq!(j["status"], "failed", "{j}");
    assert_eq!(j["failure"], "wrong_signer", "{j}");
    assert!(j.get("receipt").is_none());
    let logs = w.gw.proc.drain().join("\n");
    assert!(logs.contains("MJ-G02"), "{logs}");
    assert!(!logs.contains("김철수") && !logs.contains("2222-3333"));

    // A partial or malformed binding is refused up front.
    for signer in [
        serde_json::json!({"name": HONG.name, "phone": HONG.phone}),
        serde_json::json!({"name": HONG.name, "birthdate": "1990-13-45", "phone": HONG.phone}),
        serde_json::json!({}),
    ] {
        let (s, j) = api(
            "POST",
            &format!("{}/api/v1/signatures", w.gw.url),
            TOWN,
            Some(serde_json::json!({
                "documents": [{"title": "t", "content": b64(b"x")}],
                "redirect_uri": w.redirect, "signer": signer,
            })),
        )
        .await;
        assert_eq!(s, 400, "{signer}: {j}");
    }
}
