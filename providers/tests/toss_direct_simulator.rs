//! The Toss-direct adapter against the simulator's `/toss-direct` API over real
//! HTTP on loopback: the happy path, token caching and re-issue on 401, the
//! read-at-most-twice result, session encryption refusals, and each bad result
//! the adapter must catch (the logs of a login: `toss_direct_logs.rs`).

// Test helpers outside `#[test]` functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use munjigi_providers::cms::{CmsError, TrustAnchors};
use munjigi_providers::http_client::HttpClient;
use munjigi_providers::toss_direct::codes::map_refusal;
use munjigi_providers::toss_direct::session::TossPublicKey;
use munjigi_providers::toss_direct::{
    TossDirectAdapter, TossDirectClientSecret, TossDirectConfig, TossSession,
};
use munjigi_providers::{
    BirthDate, Challenge, Citizen, Level, Name, Pending, Phone, Provider, ProviderError,
    ProviderId, Status,
};
use munjigi_sim::simulator::{
    Scenario, SimConfig, SimPerson, SimRp, SimTossClient, Simulator, UnknownPeople,
};

const CLIENT_ID: &str = "test_munjigi_client";
const CLIENT_SECRET: &str = "test-secret-0123456789abcdef";

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

async fn start_sim(approve_after_ms: u64) -> Sim {
    let mut registered = person("010-3333-0001", Scenario::Approve);
    registered.name = Some(Name::parse("홍길동").unwrap());
    registered.birthdate = Some(BirthDate::parse("1990-01-31").unwrap());
    let cfg = SimConfig {
        pki_dir: std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("toss-direct-sim-pki"),
        approve_after_ms,
        relying_parties: vec![SimRp {
            link_id: "MUNJIGI_TEST".into(),
            secret_key: base64::engine::general_purpose::STANDARD.encode([0x5a; 32]),
            client_code: "023040000001".into(),
        }],
        people: vec![
            registered,
            person("010-3333-0002", Scenario::Reject),
            person("010-3333-0004", Scenario::TamperContent),
            person("010-3333-0005", Scenario::WrongPerson),
            person("010-3333-0006", Scenario::BadSignature),
            person("010-3333-0007", Scenario::WrongChain),
            person("010-3333-0008", Scenario::Unknown),
            person("010-3333-0009", Scenario::Dormant),
            person("010-3333-0010", Scenario::Viewed),
            person("010-3333-0011", Scenario::InvisibleName),
        ],
        unknown_people: UnknownPeople::Approve,
        toss_direct_clients: vec![SimTossClient {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
        }],
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

fn adapter_with(sim: &Sim, secret: &str, public_pem: &[u8]) -> TossDirectAdapter {
    let cfg = TossDirectConfig {
        endpoint: format!("{}/toss-direct", sim.base),
        token_endpoint: format!("{}/toss-direct/token", sim.base),
        client_id: CLIENT_ID.into(),
        ttl_secs: None,
        timeout_ms: Some(5_000),
        allow_plain_http: false,
    };
    TossDirectAdapter::new(
        ProviderId::new("toss-direct"),
        Level::Substantial,
        cfg,
        TossDirectClientSecret::new(secret).unwrap(),
        public_pem,
        TrustAnchors::from_pem(&sim.sim.toss_direct_root_pem()).unwrap(),
        None,
    )
    .unwrap()
}

fn adapter(sim: &Sim) -> TossDirectAdapter {
    adapter_with(sim, CLIENT_SECRET, &sim.sim.toss_direct_public_key_pem())
}

fn citizen(phone: &str) -> Citizen {
    Citizen {
        name: Name::parse("홍길동").unwrap(),
        birthdate: BirthDate::parse("1990-01-31").unwrap(),
        phone: Phone::parse(phone).unwrap(),
    }
}

fn challenge(ttl_secs: u32) -> Challenge {
    let mut raw = [0u8; 16];
    openssl::rand::rand_bytes(&mut raw).unwrap();
    Challenge {
        nonce: hex::encode(raw),
        title: "문지기 로그인".into(),
        ttl_secs,
        reach: Default::default(),
    }
}

async fn poll_until(
    a: &TossDirectAdapter,
    p: &Pending,
    within: Duration,
    done: impl Fn(Status) -> bool,
) -> Status {
    let deadline = Instant::now() + within;
    loop {
        let s = a.status(p).await.unwrap();
        if done(s) {
            return s;
        }
        assert!(Instant::now() < deadline, "status stuck at {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The simulator's CI derivation, as for the broker: one person, one CI.
fn expected_ci(name: &str, birth: &str, phone_national: &str) -> String {
    use openssl::{hash::MessageDigest, pkey::PKey, sign::Signer};
    let key = PKey::hmac(b"munjigi-simulator-ci-key-v1").unwrap();
    let mut s = Signer::new(MessageDigest::sha512(), &key).unwrap();
    s.update(format!("{name}|{birth}|{phone_national}").as_bytes())
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(s.sign_to_vec().unwrap())
}

async fn completed(a: &TossDirectAdapter, phone: &str) -> (Citizen, Challenge, Pending) {
    let who = citizen(phone);
    let ask = challenge(60);
    let p = a.start(&who, &ask).await.unwrap();
    poll_until(a, &p, Duration::from_secs(10), |s| s == Status::Completed).await;
    (who, ask, p)
}

#[tokio::test]
async fn approve_then_the_result_is_read_at_most_twice() {
    let sim = start_sim(300).await;
    let a = adapter(&sim);
    let who = citizen("010-3333-0001");
    let ask = challenge(60);
    let p = a.start(&who, &ask).await.unwrap();
    assert_eq!(p.expires_at, p.started_at + 60);

    // Before the citizen acts there is nothing to read.
    let early = a.verify(&who, &ask, &p).await.unwrap_err();
    assert!(matches!(early, ProviderError::NotReady), "{early:?}");
    let viewed = poll_until(&a, &p, Duration::from_secs(10), |s| {
        matches!(s, Status::Pending { viewed: true } | Status::Completed)
    })
    .await;
    assert_ne!(viewed, Status::Pending { viewed: false });
    poll_until(&a, &p, Duration::from_secs(10), |s| s == Status::Completed).await;

    let v = a.verify(&who, &ask, &p).await.unwrap();
    assert!(v.person.is(&who));
    assert_eq!(
        v.person.ci.expose(),
        expected_ci("홍길동", "19900131", "01033330001"),
        "the same CI as through the other providers"
    );
    assert!(v.person.gender.is_some());
    assert!(cms(&v.evidence).signer_issuer.contains("TossCert"));
    // One token served every call.
    assert_eq!(a.tokens_fetched(), 1);
    assert_eq!(sim.sim.toss_direct_tokens_issued(), 1);

    // Toss serves a result twice; the third read is refused.
    assert!(a.verify(&who, &ask, &p).await.is_ok(), "second read");
    let third = a.verify(&who, &ask, &p).await.unwrap_err();
    assert!(matches!(third, ProviderError::AlreadyUsed), "{third:?}");
}

#[tokio::test]
async fn an_expired_token_is_reissued_once() {
    let sim = start_sim(200).await;
    let a = adapter(&sim);
    let who = citizen("010-3333-0001");
    let ask = challenge(60);
    let p = a.start(&who, &ask).await.unwrap();
    assert_eq!(sim.sim.toss_direct_tokens_issued(), 1);

    sim.sim.expire_toss_direct_tokens();
    poll_until(&a, &p, Duration::from_secs(10), |s| s == Status::Completed).await;
    assert_eq!(a.tokens_fetched(), 2, "a new token after the 401");
    assert_eq!(sim.sim.toss_direct_tokens_issued(), 2);

    sim.sim.expire_toss_direct_tokens();
    assert!(a.verify(&who, &ask, &p).await.is_ok());
    assert_eq!(sim.sim.toss_direct_tokens_issued(), 3);
}

#[tokio::test]
async fn refusals_map_to_neutral_errors() {
    let sim = start_sim(200).await;

    let bad = adapter_with(
        &sim,
        "not-the-secret",
        &sim.sim.toss_direct_public_key_pem(),
    );
    let e = bad
        .start(&citizen("010-3333-0001"), &challenge(60))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::Unauthorized { ref code } if code == "invalid_client"),
        "{e:?}"
    );

    // A session key wrapped for another public key does not open at Toss.
    let other = openssl::rsa::Rsa::generate(2048).unwrap();
    let wrong_key = adapter_with(&sim, CLIENT_SECRET, &other.public_key_to_pem().unwrap());
    let e = wrong_key
        .start(&citizen("010-3333-0001"), &challenge(60))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::BadRequest { ref code, .. } if code == "INVALID_SESSION_KEY"),
        "{e:?}"
    );

    let a = adapter(&sim);
    let e = a
        .start(&citizen("010-3333-0008"), &challenge(60))
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::UnknownPerson), "{e:?}");
    let e = a
        .start(&citizen("010-3333-0009"), &challenge(60))
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::AccountUnusable), "{e:?}");
    let mut wrong_name = citizen("010-3333-0001");
    wrong_name.name = Name::parse("김철수").unwrap();
    let e = a.start(&wrong_name, &challenge(60)).await.unwrap_err();
    assert!(matches!(e, ProviderError::PersonMismatch), "{e:?}");

    // A nonce longer than Toss takes never leaves the gateway.
    let mut long = challenge(60);
    long.nonce = "n".repeat(51);
    let e = a.start(&citizen("010-3333-0001"), &long).await.unwrap_err();
    assert!(matches!(e, ProviderError::BadRequest { ref code, .. } if code == "local"));

    // A rejection shows as expired (Toss publishes no rejected state).
    let p = a
        .start(&citizen("010-3333-0002"), &challenge(60))
        .await
        .unwrap();
    poll_until(&a, &p, Duration::from_secs(10), |s| s == Status::Expired).await;
}

/// A raw call with a personal field that does not decrypt under its session:
/// the simulator answers with Toss's FAIL envelope, which maps to a refusal
/// carrying the errorCode.
#[tokio::test]
async fn a_field_that_does_not_decrypt_is_refused_with_the_envelope() {
    let sim = start_sim(200).await;
    let http = HttpClient::new(None, Duration::from_secs(5))
        .unwrap()
        .allow_plain_http(true);
    let mut h = HeaderMap::new();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let token = http
        .send(
            Method::POST,
            &format!("{}/toss-direct/token", sim.base),
            h,
            Bytes::from(format!(
                "grant_type=client_credentials&scope=ca&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
            )),
        )
        .await
        .unwrap();
    assert_eq!(token.status, 200);
    let token: serde_json::Value = token.json().unwrap();
    assert_eq!(token["expires_in"], 3600);
    let bearer = token["access_token"].as_str().unwrap().to_owned();

    let key = TossPublicKey::from_pem(&sim.sim.toss_direct_public_key_pem()).unwrap();
    let s = TossSession::generate(&key).unwrap();
    let stranger = TossSession::generate(&key).unwrap();
    let call = |fields: [String; 3]| {
        let http = http.clone();
        let bearer = bearer.clone();
        let url = format!("{}/toss-direct/api/v2/sign/user/auth/request", sim.base);
        let body = serde_json::json!({
            "requestType": "USER_PERSONAL",
            "triggerType": "PUSH",
            "sessionKey": s.session_key(),
            "userName": fields[0],
            "userPhone": fields[1],
            "userBirthday": fields[2],
            "signData": "nonce-0123",
            "expireSeconds": 60,
        });
        async move {
            let mut h = HeaderMap::new();
            h.insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {bearer}")).unwrap(),
            );
            http.post_json(&url, h, &body).await.unwrap()
        }
    };
    let good = |v: &str| s.encrypt(v).unwrap();

    // The control: all fields of this session → a txId.
    let ok = call([good("홍길동"), good("01033330001"), good("19900131")]).await;
    assert_eq!(ok.status, 200);
    let ok: serde_json::Value = ok.json().unwrap();
    assert_eq!(ok["resultType"], "SUCCESS");
    assert!(ok["success"]["txId"].as_str().is_some());

    // A field of another session, and one whose tag was broken.
    let foreign = stranger.encrypt("01033330001").unwrap();
    let mut parts: Vec<String> = good("19900131").split('$').map(str::to_owned).collect();
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(&parts[2])
        .unwrap();
    raw[0] ^= 1;
    parts[2] = base64::engine::general_purpose::STANDARD.encode(raw);
    let broken = parts.join("$");
    for fields in [
        [good("홍길동"), foreign, good("19900131")],
        [good("홍길동"), good("01033330001"), broken],
    ] {
        let r = call(fields).await;
        assert_eq!(r.status, 400);
        let v: serde_json::Value = r.json().unwrap();
        assert_eq!(v["resultType"], "FAIL");
        assert!(v.get("success").is_none());
        let code = v["error"]["errorCode"].as_str().unwrap();
        assert_eq!(code, "DECRYPTION_FAILED");
        let e = map_refusal(400, Some(code));
        assert!(
            matches!(e, ProviderError::BadRequest { ref code, .. } if code == "DECRYPTION_FAILED"),
            "{e:?}"
        );
    }

    // No token: 401 in the envelope.
    let r = http
        .post_json(
            &format!("{}/toss-direct/api/v2/sign/user/auth/status", sim.base),
            HeaderMap::new(),
            &serde_json::json!({"txId": "x"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    let v: serde_json::Value = r.json().unwrap();
    assert_eq!(v["error"]["errorCode"], "INVALID_TOKEN");
}

#[tokio::test]
async fn the_adapter_catches_every_bad_result() {
    let sim = start_sim(200).await;
    let a = adapter(&sim);

    let (who, ask, p) = completed(&a, "010-3333-0004").await;
    match a.verify(&who, &ask, &p).await {
        Err(ProviderError::BadSignature(CmsError::ContentMismatch)) => {}
        other => panic!("tamper_content: {other:?}"),
    }

    let (who, ask, p) = completed(&a, "010-3333-0006").await;
    let e = a.verify(&who, &ask, &p).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::BadSignature(_)),
        "bad_signature: {e:?}"
    );

    let (who, ask, p) = completed(&a, "010-3333-0007").await;
    let e = a.verify(&who, &ask, &p).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::BadSignature(_)),
        "wrong_chain: {e:?}"
    );

    let (who, ask, p) = completed(&a, "010-3333-0005").await;
    let e = a.verify(&who, &ask, &p).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::WrongSigner),
        "wrong_person: {e:?}"
    );

    // A name with U+202E after it (every family parses names with
    // Name::parse: NFC, nothing invisible): refused as malformed, though the
    // signature and its certificate are the person's.
    let (who, ask, p) = completed(&a, "010-3333-0011").await;
    let e = a.verify(&who, &ask, &p).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Protocol(ref m) if m.contains("name")),
        "invisible_name: {e:?}"
    );
}

#[tokio::test]
async fn never_finishing_expires_at_the_ttl() {
    let sim = start_sim(200).await;
    let a = adapter(&sim);
    let p = a
        .start(&citizen("010-3333-0010"), &challenge(2))
        .await
        .unwrap();
    let s = poll_until(&a, &p, Duration::from_secs(10), |s| s == Status::Expired).await;
    assert_eq!(s, Status::Expired);
    let e = a
        .verify(&citizen("010-3333-0010"), &challenge(2), &p)
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::Expired), "{e:?}");
}

#[test]
fn sim_config_without_toss_direct_clients_still_loads() {
    let cfg: SimConfig = serde_json::from_str(
        r#"{"pki_dir": "x", "relying_parties": [{"link_id": "L", "secret_key": "k", "client_code": "023040000001"}]}"#,
    )
    .unwrap();
    assert!(cfg.toss_direct_clients.is_empty());
    let c = SimTossClient {
        client_id: "id".into(),
        client_secret: "very-secret".into(),
    };
    assert!(!format!("{c:?}").contains("very-secret"));
}

/// The CMS evidence (every family's results are CMS today).
fn cms(e: &munjigi_providers::Evidence) -> &munjigi_providers::CmsEvidence {
    let munjigi_providers::Evidence::Cms(c) = e else {
        panic!("a CMS evidence")
    };
    c
}
