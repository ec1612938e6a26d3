//! Document signing through the barocert adapter against the simulated broker,
//! over real HTTP on loopback: `Sign` and `MultiSign` for Kakao, Naver, PASS and
//! Toss, each product's signed form (Naver: BER, detached, messageDigest = the
//! document's SHA-256), the document limits (refused before any HTTP), and the
//! misbehaviour the adapter must catch in every element (`multi_one_bad`,
//! `replayed_result` for logins and signatures, the wrong person, tampered
//! digests, bad signatures, foreign chains, revoked or expired certificates,
//! signingTime outside the window).

// Test helpers outside `#[test]` functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use munjigi_providers::barocert::{
    BarocertAdapter, BarocertConfig, BarocertProduct, BarocertSecret, TOO_MANY_DOCUMENTS,
};
use munjigi_providers::cms::{self, CmsError, CrlPolicy, TrustAnchors};
use munjigi_providers::signing::{Document, DocumentSigner, SignRequest, SignedForm};
use munjigi_providers::{
    BirthDate, Challenge, Citizen, Level, Name, Pending, Phone, Provider, ProviderError,
    ProviderId, Status,
};
use munjigi_sim::simulator::{Scenario, SimConfig, SimPerson, SimRp, Simulator, UnknownPeople};

const CLIENT_CODE: &str = "023040000001";
const LINK_ID: &str = "MUNJIGI_SIGN_TEST";
const CONTROL_TOKEN: &str = "sign-test-control";

const APPROVE: &str = "010-3333-0001";
const MULTI_ONE_BAD: &str = "010-3333-0002";
const REPLAYED: &str = "010-3333-0003";
const WRONG_PERSON: &str = "010-3333-0004";
const TAMPER: &str = "010-3333-0005";
const BAD_SIGNATURE: &str = "010-3333-0006";
const WRONG_CHAIN: &str = "010-3333-0007";
const EXPIRED_CERT: &str = "010-3333-0008";
const SIGNING_TIME: &str = "010-3333-0009";
const REJECT: &str = "010-3333-0010";
const MAINTENANCE: &str = "010-3333-0011";
const REVOKED: &str = "010-3333-0012";

fn secret_b64() -> String {
    base64::engine::general_purpose::STANDARD.encode([0x6b; 32])
}

struct Sim {
    sim: Arc<Simulator>,
    base: String,
    pki_dir: std::path::PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn person(phone: &str, scenario: Scenario) -> SimPerson {
    SimPerson {
        phone: Phone::parse(phone).unwrap(),
        name: None,
        birthdate: None,
        gender: None,
        scenario,
    }
}

async fn start_sim(tag: &str) -> Sim {
    let pki_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("barocert-signing-{tag}-{}", std::process::id()));
    let cfg = SimConfig {
        pki_dir: pki_dir.clone(),
        approve_after_ms: 100,
        relying_parties: vec![SimRp {
            link_id: LINK_ID.into(),
            secret_key: secret_b64(),
            client_code: CLIENT_CODE.into(),
        }],
        people: vec![
            person(APPROVE, Scenario::Approve),
            person(MULTI_ONE_BAD, Scenario::MultiOneBad),
            person(REPLAYED, Scenario::ReplayedResult),
            person(WRONG_PERSON, Scenario::WrongPerson),
            person(TAMPER, Scenario::TamperContent),
            person(BAD_SIGNATURE, Scenario::BadSignature),
            person(WRONG_CHAIN, Scenario::WrongChain),
            person(EXPIRED_CERT, Scenario::ExpiredCert),
            person(SIGNING_TIME, Scenario::SigningTimeOutside),
            person(REJECT, Scenario::Reject),
            person(MAINTENANCE, Scenario::Maintenance),
            person(REVOKED, Scenario::Revoked),
        ],
        unknown_people: UnknownPeople::Refuse,
        control_token: Some(CONTROL_TOKEN.into()),
        ..SimConfig::default()
    };
    let sim = Arc::new(Simulator::new(cfg).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn({
        let sim = Arc::clone(&sim);
        async move {
            let _ = sim.serve(listener).await;
        }
    });
    Sim {
        sim,
        base,
        pki_dir,
        task,
    }
}

fn config(endpoint: &str) -> BarocertConfig {
    BarocertConfig {
        endpoint: endpoint.into(),
        auth_endpoint: endpoint.into(),
        link_id: LINK_ID.into(),
        client_code: CLIENT_CODE.into(),
        ttl_secs: None,
        call_center_num: Some("1600-0000".into()),
        timeout_ms: Some(5_000),
        allow_plain_http: false,
    }
}

fn adapter_at(endpoint: &str, product: BarocertProduct, anchors: TrustAnchors) -> BarocertAdapter {
    BarocertAdapter::new(
        ProviderId::new(product.name()),
        product,
        Level::Substantial,
        config(endpoint),
        BarocertSecret::from_base64(&secret_b64()).unwrap(),
        anchors,
        None,
    )
    .unwrap()
}

/// The product's adapter, trusting its root and requiring its current CRL.
fn adapter(sim: &Sim, product: BarocertProduct) -> BarocertAdapter {
    let anchors = TrustAnchors::from_pem(&sim.sim.root_pem(product))
        .unwrap()
        .with_crl(CrlPolicy::from_file(
            sim.pki_dir.join(product.name()).join("crl.pem"),
            true,
        ));
    adapter_at(&sim.base, product, anchors)
}

fn citizen(phone: &str) -> Citizen {
    Citizen {
        name: Name::parse("홍길동").unwrap(),
        birthdate: BirthDate::parse("1990-01-31").unwrap(),
        phone: Phone::parse(phone).unwrap(),
    }
}

/// A fresh document (random bytes) and its request entry.
fn document(i: usize) -> (Vec<u8>, Document) {
    let mut raw = vec![0u8; 64];
    openssl::rand::rand_bytes(&mut raw).unwrap();
    let doc = Document {
        title: format!("계약서 {}", i + 1),
        sha256: openssl::sha::sha256(&raw),
    };
    (raw, doc)
}

fn request(n: usize) -> (Vec<Vec<u8>>, SignRequest) {
    let (raws, documents) = (0..n).map(document).unzip();
    (
        raws,
        SignRequest {
            title: "문지기 전자서명".into(),
            documents,
            ttl_secs: 60,
        },
    )
}

fn signer(a: &BarocertAdapter) -> &dyn DocumentSigner {
    a.signer().unwrap()
}

async fn until_done(s: &dyn DocumentSigner, ask: &SignRequest, p: &Pending) -> Status {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let st = s.sign_status(ask, p).await.unwrap();
        if !matches!(st, Status::Pending { .. }) {
            return st;
        }
        assert!(Instant::now() < deadline, "signing stuck at {st:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Start, wait for completion, verify.
async fn sign(
    a: &BarocertAdapter,
    phone: &str,
    ask: &SignRequest,
) -> Result<munjigi_providers::signing::SignedResult, ProviderError> {
    let s = signer(a);
    let who = citizen(phone);
    let p = s.start_sign(&who, ask).await?;
    assert_eq!(until_done(s, ask, &p).await, Status::Completed);
    s.verify_sign(&who, ask, &p).await
}

/// Each element of a verified result is a CMS over its own document in the
/// product's form: attached content == the digest, or (Naver) BER detached that
/// verifies as a signature over the original document.
fn assert_element(
    sim: &Sim,
    product: BarocertProduct,
    signed_data: &[u8],
    raw: &[u8],
    doc: &Document,
) {
    let anchors = TrustAnchors::from_pem(&sim.sim.root_pem(product)).unwrap();
    let expect = |content| cms::Expect {
        content,
        not_before: 0,
        not_after: u64::MAX / 2,
        skew_secs: 0,
    };
    match product.signed_form() {
        SignedForm::Digest => {
            assert_ne!(signed_data.get(1), Some(&0x80), "DER");
            cms::verify(
                signed_data,
                &expect(cms::Content::Attached(&doc.sha256)),
                &anchors,
            )
            .unwrap();
        }
        SignedForm::DetachedDigest => {
            assert_eq!(signed_data.get(..2), Some(&[0x30, 0x80][..]), "BER");
            cms::verify(signed_data, &expect(cms::Content::Detached(raw)), &anchors).unwrap();
            cms::verify(
                signed_data,
                &expect(cms::Content::DetachedSha256(&doc.sha256)),
                &anchors,
            )
            .unwrap();
        }
    }
}

#[tokio::test]
async fn single_document_sign_verifies_for_every_product() {
    let sim = start_sim("single").await;
    for product in BarocertProduct::ALL {
        let a = adapter(&sim, product);
        let s = signer(&a);
        let name = product.name();
        assert_eq!(s.max_documents(), product.max_documents(), "{name}");
        let who = citizen(APPROVE);
        let (raws, ask) = request(1);
        let p = s.start_sign(&who, &ask).await.unwrap();
        assert_eq!(p.handle.len(), 32);
        // Not ready yet, then completed.
        assert!(
            matches!(
                s.verify_sign(&who, &ask, &p).await,
                Err(ProviderError::NotReady)
            ),
            "{name}"
        );
        assert_eq!(until_done(s, &ask, &p).await, Status::Completed, "{name}");
        let r = s.verify_sign(&who, &ask, &p).await.unwrap();
        assert!(r.person.is(&who), "{name}");
        assert_eq!(r.amr, vec!["pin".to_owned()]);
        assert_eq!(r.documents.len(), 1);
        let d = &r.documents[0];
        assert_eq!(d.form, product.signed_form(), "{name}");
        assert!(cms(&d.evidence)
            .signer_issuer
            .contains(product.display_name()));
        assert_element(
            &sim,
            product,
            &cms(&d.evidence).signed_data,
            &raws[0],
            &ask.documents[0],
        );
        // Verify once (PASS: again until the end of the day).
        match s.verify_sign(&who, &ask, &p).await {
            Err(ProviderError::AlreadyUsed) if product.verify_once() => {}
            Ok(again) if !product.verify_once() => assert!(again.person.is(&who)),
            other => panic!("{name}: second verify: {other:?}"),
        }
        // A signing receipt is not an identity receipt.
        assert!(
            matches!(a.status(&p).await, Err(ProviderError::BadRequest { ref code, .. }) if code == "-14000001"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn multi_sign_verifies_every_document_in_order() {
    let sim = start_sim("multi").await;
    for product in [
        BarocertProduct::Kakao,
        BarocertProduct::Naver,
        BarocertProduct::Toss,
    ] {
        let a = adapter(&sim, product);
        let (raws, ask) = request(3);
        let r = sign(&a, APPROVE, &ask).await.unwrap();
        assert_eq!(r.documents.len(), 3, "{product:?}");
        for (i, d) in r.documents.iter().enumerate() {
            assert_eq!(d.form, product.signed_form());
            assert_element(
                &sim,
                product,
                &cms(&d.evidence).signed_data,
                &raws[i],
                &ask.documents[i],
            );
        }
        // The order is the request's: element 0 is not document 1's.
        let anchors = TrustAnchors::from_pem(&sim.sim.root_pem(product)).unwrap();
        let swapped = cms::Expect {
            content: match product.signed_form() {
                SignedForm::Digest => cms::Content::Attached(&ask.documents[1].sha256),
                SignedForm::DetachedDigest => {
                    cms::Content::DetachedSha256(&ask.documents[1].sha256)
                }
            },
            not_before: 0,
            not_after: u64::MAX / 2,
            skew_secs: 0,
        };
        assert_eq!(
            cms::verify(
                &cms(&r.documents[0].evidence).signed_data,
                &swapped,
                &anchors
            )
            .unwrap_err(),
            CmsError::ContentMismatch
        );
        // A multi-sign receipt is polled on its own path only: asked as a
        // single-document request it is unknown.
        let s = signer(&a);
        let who = citizen(APPROVE);
        let p = s.start_sign(&who, &ask).await.unwrap();
        let (_, one) = request(1);
        assert!(matches!(
            s.sign_status(&one, &p).await,
            Err(ProviderError::BadRequest { ref code, .. }) if code == "-14000001"
        ));
    }
    // At the limit: Kakao signs 20 documents in one request.
    let a = adapter(&sim, BarocertProduct::Kakao);
    let (_, ask) = request(20);
    assert_eq!(sign(&a, APPROVE, &ask).await.unwrap().documents.len(), 20);
}

#[tokio::test]
async fn too_many_documents_are_refused_before_any_http() {
    let sim = start_sim("limits").await;
    // Nothing listens on port 9: any HTTP call would be a transport error.
    for (product, over) in [
        (BarocertProduct::Kakao, 21),
        (BarocertProduct::Naver, 51),
        (BarocertProduct::Toss, 21),
        (BarocertProduct::Pass, 2),
    ] {
        let anchors = TrustAnchors::from_pem(&sim.sim.root_pem(product)).unwrap();
        let a = adapter_at("http://127.0.0.1:9", product, anchors);
        let s = signer(&a);
        assert_eq!(s.max_documents(), over - 1, "{product:?}");
        let (_, ask) = request(over);
        let who = citizen(APPROVE);
        let fake = Pending {
            handle: "0".repeat(32),
            started_at: 0,
            expires_at: 1,
            app_scheme: None,
            market_url: None,
            qr: None,
        };
        for e in [
            s.start_sign(&who, &ask).await.unwrap_err(),
            s.sign_status(&ask, &fake).await.unwrap_err(),
            s.verify_sign(&who, &ask, &fake).await.unwrap_err(),
        ] {
            assert!(
                matches!(e, ProviderError::BadRequest { ref code, .. } if code == TOO_MANY_DOCUMENTS),
                "{product:?}: {e:?}"
            );
        }
        // No documents at all is refused locally too.
        let (_, mut empty) = request(1);
        empty.documents.clear();
        assert!(matches!(
            s.start_sign(&who, &empty).await,
            Err(ProviderError::BadRequest { ref code, .. }) if code == "local"
        ));
    }
    assert_eq!(BarocertProduct::Pass.max_documents(), 1);
}

#[tokio::test]
async fn ttl_is_clamped_to_the_product_maximum() {
    let sim = start_sim("ttl").await;
    for product in [BarocertProduct::Kakao, BarocertProduct::Toss] {
        let a = adapter(&sim, product);
        let (_, mut ask) = request(2);
        ask.ttl_secs = 99_999;
        let p = signer(&a)
            .start_sign(&citizen(APPROVE), &ask)
            .await
            .unwrap();
        assert_eq!(
            p.expires_at - p.started_at,
            u64::from(product.max_ttl_secs())
        );
    }
}

#[tokio::test]
async fn multi_one_bad_fails_the_whole_result() {
    let sim = start_sim("one-bad").await;
    for product in [
        BarocertProduct::Kakao,
        BarocertProduct::Naver,
        BarocertProduct::Toss,
    ] {
        let a = adapter(&sim, product);
        let (_, ask) = request(4);
        match sign(&a, MULTI_ONE_BAD, &ask).await {
            Err(ProviderError::BadSignature(CmsError::ContentMismatch)) => {}
            other => panic!("{product:?}: {:?}", other.map(|r| r.documents.len())),
        }
        // A single document is not a multi-sign: it verifies.
        let (_, one) = request(1);
        sign(&a, MULTI_ONE_BAD, &one).await.unwrap();
    }
}

#[tokio::test]
async fn replayed_result_fails_for_login_and_for_sign() {
    let sim = start_sim("replay").await;
    for product in BarocertProduct::ALL {
        let a = adapter(&sim, product);
        let name = product.name();
        let who = citizen(REPLAYED);

        // Login: the first result is genuine, the second replays the first.
        let mut logins = Vec::new();
        for i in 0..2 {
            let mut raw = [0u8; 12];
            openssl::rand::rand_bytes(&mut raw).unwrap();
            let ask = Challenge {
                nonce: hex::encode(raw),
                title: "문지기 로그인".into(),
                ttl_secs: 30,
                reach: Default::default(),
            };
            let p = a.start(&who, &ask).await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while a.status(&p).await.unwrap() != Status::Completed {
                assert!(Instant::now() < deadline, "{name} login {i} stuck");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            logins.push(a.verify(&who, &ask, &p).await);
        }
        assert!(logins[0].is_ok(), "{name}: {:?}", logins[0].as_ref().err());
        assert!(
            matches!(
                logins[1],
                Err(ProviderError::BadSignature(CmsError::ContentMismatch))
            ),
            "{name} login: {:?}",
            logins[1].as_ref().err()
        );

        // Signing: the second request (other documents) gets the first's.
        let (_, first) = request(1);
        sign(&a, REPLAYED, &first).await.unwrap();
        let (_, second) = request(1);
        match sign(&a, REPLAYED, &second).await {
            Err(ProviderError::BadSignature(CmsError::ContentMismatch)) => {}
            other => panic!("{name} sign: {:?}", other.map(|r| r.documents.len())),
        }
    }
}

#[tokio::test]
async fn wrong_person_fails_signing() {
    let sim = start_sim("wrong-person").await;
    for product in BarocertProduct::ALL {
        let a = adapter(&sim, product);
        let n = if product == BarocertProduct::Pass {
            1
        } else {
            2
        };
        let (_, ask) = request(n);
        assert!(
            matches!(
                sign(&a, WRONG_PERSON, &ask).await,
                Err(ProviderError::WrongSigner)
            ),
            "{product:?}"
        );
    }
}

/// Every signer misbehaviour is caught in signing results too, with the check
/// that failed; for Naver that includes a tampered detached digest.
#[tokio::test]
async fn misbehaving_signatures_are_refused() {
    let sim = start_sim("misbehave").await;
    for product in BarocertProduct::ALL {
        let a = adapter(&sim, product);
        let n = if product == BarocertProduct::Pass {
            1
        } else {
            3
        };
        let (_, ask) = request(n);
        let bad = |r: Result<_, ProviderError>| match r {
            Err(ProviderError::BadSignature(e)) => e,
            Err(e) => panic!("{product:?}: {e:?}"),
            Ok(_) => panic!("{product:?}: a misbehaving result verified"),
        };
        assert_eq!(
            bad(sign(&a, TAMPER, &ask).await),
            CmsError::ContentMismatch,
            "{product:?}: tampered digest"
        );
        assert_eq!(
            bad(sign(&a, BAD_SIGNATURE, &ask).await),
            CmsError::Signature,
            "{product:?}"
        );
        assert!(matches!(
            bad(sign(&a, WRONG_CHAIN, &ask).await),
            CmsError::Chain(_)
        ));
        assert_eq!(
            bad(sign(&a, EXPIRED_CERT, &ask).await),
            CmsError::CertNotValidAtSigningTime
        );
        assert_eq!(
            bad(sign(&a, SIGNING_TIME, &ask).await),
            CmsError::SigningTimeOutsideWindow
        );
        assert_eq!(bad(sign(&a, REVOKED, &ask).await), CmsError::Revoked);

        // The citizen declines; the broker is in maintenance.
        let s = signer(&a);
        let who = citizen(REJECT);
        let p = s.start_sign(&who, &ask).await.unwrap();
        assert_eq!(until_done(s, &ask, &p).await, Status::Rejected);
        assert!(matches!(
            s.verify_sign(&who, &ask, &p).await,
            Err(ProviderError::Rejected)
        ));
        let p = s.start_sign(&citizen(MAINTENANCE), &ask).await.unwrap();
        assert!(matches!(
            s.sign_status(&ask, &p).await,
            Err(ProviderError::Unavailable { .. })
        ));
        // Someone the provider does not know.
        assert!(matches!(
            s.start_sign(&citizen("010-3333-0999"), &ask).await,
            Err(ProviderError::UnknownPerson)
        ));
    }
}

/// The two scenarios made for signing are set at run time like the others.
#[tokio::test]
async fn control_api_sets_the_signing_scenarios() {
    let sim = start_sim("control").await;
    let http = munjigi_providers::http_client::HttpClient::new(None, Duration::from_secs(5))
        .unwrap()
        .allow_plain_http(true);
    let set = |phone: &'static str, scenario: &'static str| {
        let http = &http;
        let url = format!("{}/_control/people", sim.base);
        async move {
            let mut h = http::HeaderMap::new();
            h.insert(
                "authorization",
                format!("Bearer {CONTROL_TOKEN}").parse().unwrap(),
            );
            let body = serde_json::json!({"phone": phone, "scenario": scenario}).to_string();
            http.post(&url, h, bytes::Bytes::from(body))
                .await
                .unwrap()
                .status
        }
    };
    assert_eq!(set("010-3333-0101", "multi_one_bad").await, 200);
    assert_eq!(set("010-3333-0102", "replayed_result").await, 200);
    assert_eq!(set("010-3333-0103", "no_such_scenario").await, 400);

    let a = adapter(&sim, BarocertProduct::Naver);
    let (_, ask) = request(2);
    assert!(matches!(
        sign(&a, "010-3333-0101", &ask).await,
        Err(ProviderError::BadSignature(CmsError::ContentMismatch))
    ));
    sign(&a, "010-3333-0102", &ask).await.unwrap();
    let (_, again) = request(2);
    assert!(matches!(
        sign(&a, "010-3333-0102", &again).await,
        Err(ProviderError::BadSignature(CmsError::ContentMismatch))
    ));
}

/// The CMS evidence (every family's results are CMS today).
fn cms(e: &munjigi_providers::Evidence) -> &munjigi_providers::CmsEvidence {
    let munjigi_providers::Evidence::Cms(c) = e else {
        panic!("a CMS evidence")
    };
    c
}
