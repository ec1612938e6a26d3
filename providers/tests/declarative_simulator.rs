//! The declarative adapter (family D) against the simulator's banks over real
//! HTTP on loopback, in two dialects described only by data: "kb" (HMAC auth,
//! encrypted fields, numeric states, flat JSON, DER) and "shinhan" (bearer token,
//! plain fields, string states in a `data.*` envelope, BER). Success, rejection,
//! a tampered result, a wrong signer, an unknown person, bad credentials, a
//! foreign root, a description mistake reported with its field name, and
//! answers refused for their shape (a key twice, an invisible character in
//! the name, a number for a string, a sealed field moved or replayed).

// Test helpers outside `#[test]` functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use munjigi_providers::cms::TrustAnchors;
use munjigi_providers::declarative::{DeclarativeAdapter, DeclarativeSecrets, Description};
use munjigi_providers::{
    BirthDate, Challenge, Citizen, Level, Name, Pending, Phone, Provider, ProviderError,
    ProviderId, SignerCn, Status,
};
use munjigi_sim::simulator::{
    BankDialect, Scenario, SimBank, SimBankAuth, SimBankBearer, SimBankHmac, SimConfig, SimPerson,
    SimRp, Simulator, UnknownPeople,
};
use serde_json::json;

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

const SHINHAN_ID: &str = "munjigi-test";
const SHINHAN_SECRET: &str = "shinhan-client-secret-0123";

struct Sim {
    sim: Arc<Simulator>,
    base: String,
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

async fn start_sim() -> Sim {
    let cfg = SimConfig {
        pki_dir: std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("declarative-sim-pki"),
        approve_after_ms: 300,
        relying_parties: vec![SimRp {
            link_id: "MUNJIGI_TEST".into(),
            secret_key: b64(&[0x5a; 32]),
            client_code: "023040000001".into(),
        }],
        people: vec![
            person("010-3333-0002", Scenario::Reject),
            person("010-3333-0004", Scenario::TamperContent),
            person("010-3333-0005", Scenario::WrongPerson),
            person("010-3333-0006", Scenario::BadSignature),
            person("010-3333-0008", Scenario::Unknown),
            person("010-3333-0011", Scenario::DuplicateKeys),
            person("010-3333-0012", Scenario::InvisibleName),
            person("010-3333-0013", Scenario::NumberField),
            person("010-3333-0014", Scenario::SwappedField),
            person("010-3333-0015", Scenario::ReplayedField),
        ],
        unknown_people: UnknownPeople::Approve,
        banks: vec![
            SimBank {
                name: "kb".into(),
                label: Some("KB Test".into()),
                dialect: BankDialect::FlatEncrypted,
                auth: SimBankAuth::Hmac(SimBankHmac {
                    header: "x-kb-signature".into(),
                    date_header: "x-kb-date".into(),
                    key: b64(b"kb-hmac-key-for-tests"),
                }),
                field_key: Some(b64(&[0x11; 32])),
                signer_cn: SignerCn::Exact,
            },
            SimBank {
                name: "shinhan".into(),
                label: Some("Shinhan Test".into()),
                dialect: BankDialect::Enveloped,
                auth: SimBankAuth::Bearer(SimBankBearer {
                    client_id: SHINHAN_ID.into(),
                    client_secret: SHINHAN_SECRET.into(),
                    token_ttl_secs: 3600,
                }),
                field_key: None,
                signer_cn: SignerCn::Exact,
            },
            // Shinhan's dialect, but certificates in the accredited form
            // (`홍길동()0011…`).
            SimBank {
                name: "hana".into(),
                label: Some("Hana Test".into()),
                dialect: BankDialect::Enveloped,
                auth: SimBankAuth::Bearer(SimBankBearer {
                    client_id: SHINHAN_ID.into(),
                    client_secret: SHINHAN_SECRET.into(),
                    token_ttl_secs: 3600,
                }),
                field_key: None,
                signer_cn: SignerCn::NameParenDigits,
            },
        ],
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
    Sim { sim, base, task }
}

/// KB's dialect, described.
fn kb_description(base: &str) -> serde_json::Value {
    json!({
        "base_url": format!("{base}/bank/kb"),
        "timeout_ms": 5000,
        "auth": { "scheme": "hmac", "header": "x-kb-signature", "date_header": "x-kb-date",
                  "key": "hmac_key", "signed": ["method", "path", "date", "body_sha256"] },
        "encryption": { "key": "field_key" },
        "start": {
            "method": "POST", "path": "/v1/auth/requests",
            "request": [
                { "from": "name", "to": "userNm", "encrypted": true },
                { "from": "birthdate", "to": "birthDt", "encrypted": true },
                { "from": "phone", "to": "telNo", "encrypted": true },
                { "from": "nonce", "to": "signTarget" },
                { "from": "ttl_secs", "to": "expiresIn" },
                { "from": "title", "to": "title" }
            ],
            "handle": "txId", "app_scheme": "appLink"
        },
        "status": {
            "method": "GET", "path": "/v1/auth/requests/{handle}", "state": "stateCd",
            "states": { "0": "pending", "1": "viewed", "2": "completed", "3": "rejected", "4": "expired" }
        },
        "result": {
            "method": "POST", "path": "/v1/auth/requests/{handle}/result",
            "signed_data": "signedData", "ci": "ci", "name": "userNm", "birthdate": "birthDt",
            "phone": "telNo", "gender": "genderCd",
            "encrypted": ["ci", "name", "birthdate", "phone"]
        },
        "errors": {
            "code": "errCd", "message": "errMsg",
            "codes": { "K0401": "unauthorized", "K1001": "unknown_person", "K1002": "person_mismatch",
                       "K1003": "account_unusable", "K2002": "not_ready", "K2003": "already_used" }
        }
    })
}

/// Shinhan's dialect, described.
fn shinhan_description(base: &str) -> serde_json::Value {
    json!({
        "base_url": format!("{base}/bank/shinhan"),
        "timeout_ms": 5000,
        "auth": { "scheme": "bearer", "token_path": "/oauth/token", "client_id": SHINHAN_ID,
                  "client_secret": "client_secret", "token": "access_token", "expires_in": "expires_in" },
        "start": {
            "method": "POST", "path": "/api/v2/identity",
            "request": [
                { "from": "name", "to": "name" },
                { "from": "birthdate_iso", "to": "birthday" },
                { "from": "phone_e164", "to": "mobileNo" },
                { "from": "nonce", "to": "challenge" },
                { "from": "ttl_secs", "to": "expiresInSec" },
                { "from": "title", "to": "displayTitle" }
            ],
            "handle": "data.transactionId", "app_scheme": "data.deeplink"
        },
        "status": {
            "method": "GET", "path": "/api/v2/identity/{handle}", "state": "data.status",
            "states": { "REQUESTED": "pending", "OPENED": "viewed", "SIGNED": "completed",
                        "DECLINED": "rejected", "TIMEOUT": "expired" }
        },
        "result": {
            "method": "POST", "path": "/api/v2/identity/{handle}/result",
            "signed_data": "data.signature", "ci": "data.person.ci", "name": "data.person.name",
            "birthdate": "data.person.birthday", "phone": "data.person.mobileNo",
            "gender": "data.person.gender"
        },
        "errors": {
            "code": "error.code", "message": "error.message",
            "codes": { "UNAUTHORIZED": "unauthorized", "USER_NOT_FOUND": "unknown_person",
                       "USER_MISMATCH": "person_mismatch", "USER_SUSPENDED": "account_unusable",
                       "TX_NOT_SIGNED": "not_ready", "TX_ALREADY_READ": "already_used" }
        }
    })
}

fn description(v: serde_json::Value) -> Description {
    serde_json::from_value(v).unwrap()
}

fn kb(sim: &Sim, hmac_key: &[u8]) -> DeclarativeAdapter {
    let mut s = DeclarativeSecrets::new();
    s.insert("hmac_key", b64(hmac_key).into_bytes());
    s.insert("field_key", b64(&[0x11; 32]).into_bytes());
    DeclarativeAdapter::new(
        ProviderId::new("kb"),
        Level::Substantial,
        description(kb_description(&sim.base)),
        &s,
        TrustAnchors::from_pem(&sim.sim.bank_root_pem("kb").unwrap()).unwrap(),
        None,
    )
    .unwrap()
}

fn shinhan(sim: &Sim, secret: &str) -> DeclarativeAdapter {
    let mut s = DeclarativeSecrets::new();
    s.insert("client_secret", secret.as_bytes().to_vec());
    DeclarativeAdapter::new(
        ProviderId::new("shinhan"),
        Level::Substantial,
        description(shinhan_description(&sim.base)),
        &s,
        TrustAnchors::from_pem(&sim.sim.bank_root_pem("shinhan").unwrap()).unwrap(),
        None,
    )
    .unwrap()
}

fn citizen(phone: &str) -> Citizen {
    Citizen {
        name: Name::parse("홍길동").unwrap(),
        birthdate: BirthDate::parse("1990-01-31").unwrap(),
        phone: Phone::parse(phone).unwrap(),
    }
}

fn challenge() -> Challenge {
    let mut raw = [0u8; 16];
    openssl::rand::rand_bytes(&mut raw).unwrap();
    Challenge {
        nonce: hex::encode(raw),
        title: "문지기 로그인".into(),
        ttl_secs: 60,
        reach: Default::default(),
    }
}

async fn poll_until(a: &DeclarativeAdapter, p: &Pending, done: impl Fn(Status) -> bool) -> Status {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = a.status(p).await.unwrap();
        if done(s) {
            return s;
        }
        assert!(Instant::now() < deadline, "status stuck at {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The simulator's CI derivation: one person, one CI, whichever provider.
fn expected_ci(name: &str, birth: &str, phone_national: &str) -> String {
    use openssl::{hash::MessageDigest, pkey::PKey, sign::Signer};
    let key = PKey::hmac(b"munjigi-simulator-ci-key-v1").unwrap();
    let mut s = Signer::new(MessageDigest::sha512(), &key).unwrap();
    s.update(format!("{name}|{birth}|{phone_national}").as_bytes())
        .unwrap();
    b64(&s.sign_to_vec().unwrap())
}

async fn success(a: &DeclarativeAdapter, issuer: &str) {
    let who = citizen("010-3333-0001");
    let ask = challenge();
    let p = a.start(&who, &ask).await.unwrap();
    assert_eq!(p.expires_at, p.started_at + 60);
    assert!(p.app_scheme.is_some());
    let early = a.verify(&who, &ask, &p).await.unwrap_err();
    assert!(matches!(early, ProviderError::NotReady), "{early:?}");
    poll_until(a, &p, |s| s == Status::Completed).await;
    let v = a.verify(&who, &ask, &p).await.unwrap();
    assert!(v.person.is(&who));
    assert_eq!(
        v.person.ci.expose(),
        expected_ci("홍길동", "19900131", "01033330001")
    );
    assert!(v.person.gender.is_some());
    assert!(
        cms(&v.evidence).signer_issuer.contains(issuer),
        "{}",
        cms(&v.evidence).signer_issuer
    );
    let again = a.verify(&who, &ask, &p).await.unwrap_err();
    assert!(matches!(again, ProviderError::AlreadyUsed), "{again:?}");
}

async fn misbehaviour(a: &DeclarativeAdapter) {
    // The citizen declines.
    let who = citizen("010-3333-0002");
    let p = a.start(&who, &challenge()).await.unwrap();
    let s = poll_until(a, &p, |s| !matches!(s, Status::Pending { .. })).await;
    assert_eq!(s, Status::Rejected);

    // A result over other content.
    let who = citizen("010-3333-0004");
    let ask = challenge();
    let p = a.start(&who, &ask).await.unwrap();
    poll_until(a, &p, |s| s == Status::Completed).await;
    let e = a.verify(&who, &ask, &p).await.unwrap_err();
    assert!(matches!(e, ProviderError::BadSignature(_)), "{e:?}");

    // A broken signature.
    let who = citizen("010-3333-0006");
    let ask = challenge();
    let p = a.start(&who, &ask).await.unwrap();
    poll_until(a, &p, |s| s == Status::Completed).await;
    let e = a.verify(&who, &ask, &p).await.unwrap_err();
    assert!(matches!(e, ProviderError::BadSignature(_)), "{e:?}");

    // The result names someone else.
    let who = citizen("010-3333-0005");
    let ask = challenge();
    let p = a.start(&who, &ask).await.unwrap();
    poll_until(a, &p, |s| s == Status::Completed).await;
    let e = a.verify(&who, &ask, &p).await.unwrap_err();
    assert!(matches!(e, ProviderError::WrongSigner), "{e:?}");

    // Nobody the bank knows.
    let e = a
        .start(&citizen("010-3333-0008"), &challenge())
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::UnknownPerson), "{e:?}");
}

#[tokio::test]
async fn kb_dialect_hmac_and_encrypted_fields() {
    let sim = start_sim().await;
    let a = kb(&sim, b"kb-hmac-key-for-tests");
    success(&a, "KB Test").await;
    misbehaviour(&a).await;

    let wrong = kb(&sim, b"not-the-kb-hmac-key");
    let e = wrong
        .start(&citizen("010-3333-0001"), &challenge())
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::Unauthorized { ref code } if code == "K0401"),
        "{e:?}"
    );
}

#[tokio::test]
async fn shinhan_dialect_bearer_and_envelope() {
    let sim = start_sim().await;
    let a = shinhan(&sim, SHINHAN_SECRET);
    success(&a, "Shinhan Test").await;
    misbehaviour(&a).await;

    let wrong = shinhan(&sim, "wrong-secret");
    let e = wrong
        .start(&citizen("010-3333-0001"), &challenge())
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::Unauthorized { .. }), "{e:?}");
}

#[tokio::test]
async fn a_result_from_another_banks_root_is_refused() {
    let sim = start_sim().await;
    // KB's adapter trusting Shinhan's root: the chain check must fail.
    let mut s = DeclarativeSecrets::new();
    s.insert("hmac_key", b64(b"kb-hmac-key-for-tests").into_bytes());
    s.insert("field_key", b64(&[0x11; 32]).into_bytes());
    let a = DeclarativeAdapter::new(
        ProviderId::new("kb"),
        Level::Substantial,
        description(kb_description(&sim.base)),
        &s,
        TrustAnchors::from_pem(&sim.sim.bank_root_pem("shinhan").unwrap()).unwrap(),
        None,
    )
    .unwrap();
    let who = citizen("010-3333-0001");
    let ask = challenge();
    let p = a.start(&who, &ask).await.unwrap();
    poll_until(&a, &p, |s| s == Status::Completed).await;
    let e = a.verify(&who, &ask, &p).await.unwrap_err();
    assert!(matches!(e, ProviderError::BadSignature(_)), "{e:?}");
}

#[test]
fn description_mistakes_are_reported_with_the_field_name() {
    let mut s = DeclarativeSecrets::new();
    s.insert("hmac_key", b64(b"k").into_bytes());
    s.insert("field_key", b64(&[0x11; 32]).into_bytes());
    let build = |v: serde_json::Value| {
        let pki = munjigi_sim::testpki::ProviderPki::generate("KB").unwrap();
        DeclarativeAdapter::new(
            ProviderId::new("kb"),
            Level::Substantial,
            description(v),
            &s,
            TrustAnchors::from_pem(&pki.root_pem().unwrap()).unwrap(),
            None,
        )
        .unwrap_err()
        .to_string()
    };

    let mut v = kb_description("http://127.0.0.1:1");
    v["status"]["states"] = json!({ "0": "pending", "2": "failed" });
    let e = build(v);
    assert!(
        e.contains("status.states") && e.contains("completed"),
        "{e}"
    );

    let mut v = kb_description("http://127.0.0.1:1");
    v["result"]["path"] = json!("/v1/auth/requests/{tx}/result");
    let e = build(v);
    assert!(e.contains("result.path") && e.contains("{tx}"), "{e}");

    let mut v = kb_description("http://127.0.0.1:1");
    v["start"]["handle"] = json!("data..txId");
    let e = build(v);
    assert!(e.contains("start.handle"), "{e}");

    let mut v = kb_description("http://127.0.0.1:1");
    v["encryption"] = serde_json::Value::Null;
    let e = build(v);
    assert!(e.contains("start.request[0].encrypted"), "{e}");

    // Unknown keys are refused when the description is read.
    let mut v = kb_description("http://127.0.0.1:1");
    v["result"]["colour"] = json!("x");
    assert!(serde_json::from_value::<Description>(v).is_err());
    let mut v = kb_description("http://127.0.0.1:1");
    v["auth"]["extra"] = json!("x");
    assert!(serde_json::from_value::<Description>(v).is_err());
}

/// An adapter for the bank `bank` in Shinhan's dialect whose description says
/// `signer_cn` (absent: the default).
fn enveloped(sim: &Sim, bank: &str, signer_cn: Option<&str>) -> DeclarativeAdapter {
    let mut d = shinhan_description(&sim.base);
    d["base_url"] = json!(format!("{}/bank/{bank}", sim.base));
    if let Some(f) = signer_cn {
        d["result"]["signer_cn"] = json!(f);
    }
    let mut s = DeclarativeSecrets::new();
    s.insert("client_secret", SHINHAN_SECRET.as_bytes().to_vec());
    DeclarativeAdapter::new(
        ProviderId::new(bank),
        Level::Substantial,
        description(d),
        &s,
        TrustAnchors::from_pem(&sim.sim.bank_root_pem(bank).unwrap()).unwrap(),
        None,
    )
    .unwrap()
}

/// Verifies a fresh request by `phone` through `a`.
async fn verified(a: &DeclarativeAdapter, phone: &str) -> Result<SignerCn, ProviderError> {
    let who = citizen(phone);
    let ask = challenge();
    let p = a.start(&who, &ask).await.unwrap();
    poll_until(a, &p, |s| s == Status::Completed).await;
    a.verify(&who, &ask, &p)
        .await
        .map(|v| cms(&v.evidence).signer_cn)
}

#[tokio::test]
async fn the_signer_cn_is_matched_exactly_in_the_descriptions_format() {
    let sim = start_sim().await;
    // Hana's CA writes `홍길동()<digits>`: described so, it verifies, and the
    // evidence says which rule held.
    let hana = enveloped(&sim, "hana", Some("name_paren_digits"));
    assert_eq!(
        verified(&hana, "010-3333-0001").await.unwrap(),
        SignerCn::NameParenDigits
    );
    // Someone else's name with the same suffix: refused.
    let e = verified(&hana, "010-3333-0005").await.unwrap_err();
    assert!(matches!(e, ProviderError::WrongSigner), "{e:?}");
    // Described with the default (exact), the same certificates are refused:
    // `홍길동()…` begins with the name but is not the name.
    let exact = enveloped(&sim, "hana", None);
    let e = verified(&exact, "010-3333-0001").await.unwrap_err();
    assert!(matches!(e, ProviderError::WrongSigner), "{e:?}");
    // And a bank whose CN is the bare name fails a description expecting the suffix.
    let shinhan = enveloped(&sim, "shinhan", Some("name_paren_digits"));
    let e = verified(&shinhan, "010-3333-0001").await.unwrap_err();
    assert!(matches!(e, ProviderError::WrongSigner), "{e:?}");
    assert_eq!(
        verified(&enveloped(&sim, "shinhan", None), "010-3333-0001")
            .await
            .unwrap(),
        SignerCn::Exact
    );
    // An unknown format is a description error, not a silent default.
    let mut d = shinhan_description(&sim.base);
    d["result"]["signer_cn"] = json!("prefix");
    assert!(serde_json::from_value::<Description>(d).is_err());
}

/// The CMS evidence (every family's results are CMS today).
fn cms(e: &munjigi_providers::Evidence) -> &munjigi_providers::CmsEvidence {
    let munjigi_providers::Evidence::Cms(c) = e else {
        panic!("a CMS evidence")
    };
    c
}

/// Verifies a fresh request by `phone` through `a`; the refusal's message.
async fn refused(a: &DeclarativeAdapter, phone: &str) -> String {
    match verified(a, phone).await {
        Err(ProviderError::Protocol(m)) => m,
        other => panic!("{phone}: {other:?}"),
    }
}

/// Issue 18 point 5, over HTTP from the simulator's banks: an answer whose
/// object names a key twice (the genuine value last, so a reader keeping the
/// last would log the citizen in), a name with U+202E after it, a birth date
/// sent as a number, and (where fields are encrypted) a sealed field moved to
/// another field or copied from another request are each refused as a
/// protocol error saying why, never as a person mismatch or a success.
#[tokio::test]
async fn answers_are_refused_for_their_shape() {
    let sim = start_sim().await;
    let kb = kb(&sim, b"kb-hmac-key-for-tests");
    let shinhan = shinhan(&sim, SHINHAN_SECRET);
    for a in [&kb, &shinhan] {
        let m = refused(a, "010-3333-0011").await;
        assert!(m.contains("names a key twice"), "{m}");
        let m = refused(a, "010-3333-0012").await;
        assert!(m.contains("result name is malformed"), "{m}");
        let m = refused(a, "010-3333-0013").await;
        assert!(m.contains("Birthdate is not a JSON string"), "{m}");
        // Nothing personal in the reason.
        assert!(!m.contains("1990") && !m.contains("홍길동"), "{m}");
    }
    let m = refused(&kb, "010-3333-0014").await;
    assert!(
        m.contains("Name does not decrypt for this request and field"),
        "{m}"
    );
    let m = refused(&kb, "010-3333-0015").await;
    assert!(
        m.contains("Ci does not decrypt for this request and field"),
        "{m}"
    );
    // Shinhan sends plain fields: the last two answer as approved there.
    for phone in ["010-3333-0014", "010-3333-0015"] {
        verified(&shinhan, phone).await.unwrap();
    }
}
