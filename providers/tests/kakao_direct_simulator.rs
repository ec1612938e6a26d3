//! The Kakao-direct adapter against the simulator's `/kakao-direct` API over real
//! HTTP on loopback: the happy path, the one-shot signed value, E0001 retries,
//! and each refusal or misbehaviour the adapter must catch.

// Test helpers outside `#[test]` functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::HeaderMap;
use munjigi_providers::cms::{CmsError, TrustAnchors};
use munjigi_providers::http_client::HttpClient;
use munjigi_providers::kakao_direct::{KakaoDirectAdapter, KakaoDirectApiKey, KakaoDirectConfig};
use munjigi_providers::{
    BirthDate, Challenge, Citizen, Level, Name, Pending, Phone, Provider, ProviderError,
    ProviderId, Status,
};
use munjigi_sim::simulator::{
    Scenario, SimApiKey, SimConfig, SimPerson, SimRp, Simulator, UnknownPeople,
};

const API_KEY: &str = "0123456789abcdef0123456789abcdef";

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
    let mut registered = person("010-2222-0001", Scenario::Approve);
    registered.name = Some(Name::parse("홍길동").unwrap());
    registered.birthdate = Some(BirthDate::parse("1990-01-31").unwrap());
    let cfg = SimConfig {
        pki_dir: std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("kakao-direct-sim-pki"),
        approve_after_ms,
        relying_parties: vec![SimRp {
            link_id: "MUNJIGI_TEST".into(),
            secret_key: base64::engine::general_purpose::STANDARD.encode([0x5a; 32]),
            client_code: "023040000001".into(),
        }],
        people: vec![
            registered,
            person("010-2222-0002", Scenario::Reject),
            person("010-2222-0003", Scenario::Flaky),
            person("010-2222-0004", Scenario::TamperContent),
            person("010-2222-0005", Scenario::WrongPerson),
            person("010-2222-0006", Scenario::BadSignature),
            person("010-2222-0007", Scenario::WrongChain),
            person("010-2222-0008", Scenario::Unknown),
            person("010-2222-0009", Scenario::Dormant),
            person("010-2222-0010", Scenario::Viewed),
            person("010-2222-0011", Scenario::InvisibleName),
        ],
        unknown_people: UnknownPeople::Approve,
        kakao_direct_keys: vec![SimApiKey::new(API_KEY), SimApiKey::new("other-rp-key")],
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

fn adapter_with(sim: &Sim, key: &str) -> KakaoDirectAdapter {
    let cfg = KakaoDirectConfig {
        endpoint: format!("{}/kakao-direct", sim.base),
        product_code: None,
        ttl_secs: None,
        timeout_ms: Some(5_000),
        allow_plain_http: false,
    };
    KakaoDirectAdapter::new(
        ProviderId::new("kakao-direct"),
        Level::Substantial,
        cfg,
        KakaoDirectApiKey::new(key).unwrap(),
        TrustAnchors::from_pem(&sim.sim.kakao_direct_root_pem()).unwrap(),
        None,
    )
    .unwrap()
    .with_first_backoff(Duration::from_millis(20))
}

fn adapter(sim: &Sim) -> KakaoDirectAdapter {
    adapter_with(sim, API_KEY)
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
    a: &KakaoDirectAdapter,
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

async fn completed(a: &KakaoDirectAdapter, phone: &str) -> (Citizen, Challenge, Pending) {
    let who = citizen(phone);
    let ask = challenge(60);
    let p = a.start(&who, &ask).await.unwrap();
    poll_until(a, &p, Duration::from_secs(10), |s| s == Status::Completed).await;
    (who, ask, p)
}

#[tokio::test]
async fn approve_then_the_signed_value_is_delivered_once() {
    let sim = start_sim(300).await;
    let a = adapter(&sim);
    let who = citizen("010-2222-0001");
    let ask = challenge(60);
    let p = a.start(&who, &ask).await.unwrap();
    assert_eq!(p.expires_at, p.started_at + 60);
    assert!(p.app_scheme.is_none());

    // Before the citizen acts there is nothing to verify.
    let early = a.verify(&who, &ask, &p).await.unwrap_err();
    assert!(
        matches!(early, ProviderError::BadRequest { ref code, .. } if code == "E1001"),
        "{early:?}"
    );
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
        expected_ci("홍길동", "19900131", "01022220001"),
        "the same CI as through the broker"
    );
    assert!(v.person.gender.is_some());
    assert_eq!(v.amr, vec!["pin".to_owned()]);
    assert!(cms(&v.evidence).signer_issuer.contains("KakaoCert"));

    // Deleted after delivery: a second verify fails.
    let again = a.verify(&who, &ask, &p).await.unwrap_err();
    assert!(matches!(again, ProviderError::AlreadyUsed), "{again:?}");
}

#[tokio::test]
async fn e0001_is_retried_on_status_and_verify() {
    let sim = start_sim(200).await;
    let a = adapter(&sim);

    // The simulator really misbehaves: a bare status call gets E0001 on HTTP 400.
    let who = citizen("010-2222-0003");
    let ask = challenge(60);
    let p = a.start(&who, &ask).await.unwrap();
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        format!("KakaoAK {API_KEY}").parse().unwrap(),
    );
    let raw = HttpClient::new(None, Duration::from_secs(5))
        .unwrap()
        .allow_plain_http(true)
        .get(
            &format!(
                "{}/kakao-direct/sign/v2/status/K1100?tx_id={}",
                sim.base, p.handle
            ),
            h,
        )
        .await
        .unwrap();
    assert_eq!(raw.status, 400);
    let body: serde_json::Value = serde_json::from_slice(&raw.body).unwrap();
    assert_eq!(body["error_code"], "E0001");

    // Its first verify also answers E0001: the adapter retries and succeeds.
    poll_until(&a, &p, Duration::from_secs(10), |s| s == Status::Completed).await;
    let v = a.verify(&who, &ask, &p).await.unwrap();
    assert!(v.person.is(&who));

    // A fresh flaky request: the adapter's first status call meets E0001 and retries.
    let p2 = a.start(&who, &challenge(60)).await.unwrap();
    let s = a.status(&p2).await.unwrap();
    assert!(matches!(s, Status::Pending { .. }), "{s:?}");
}

#[tokio::test]
async fn refusals_map_to_neutral_errors() {
    let sim = start_sim(200).await;
    let a = adapter(&sim);
    let ask = challenge(60);
    for (phone, want) in [
        ("010-2222-0008", "unknown_person"),
        ("010-2222-0009", "account_unusable"),
    ] {
        let e = a.start(&citizen(phone), &ask).await.unwrap_err();
        assert_eq!(e.code(), want, "{phone}: {e:?}");
    }
    // Registered under another name: E2002.
    let mut other = citizen("010-2222-0001");
    other.name = Name::parse("김철수").unwrap();
    let e = a.start(&other, &ask).await.unwrap_err();
    assert!(matches!(e, ProviderError::PersonMismatch), "{e:?}");

    // A key the simulator does not know: E1004 → Unauthorized.
    let bad = adapter_with(&sim, "not-a-configured-key");
    let e = bad
        .start(&citizen("010-2222-0001"), &ask)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::Unauthorized { ref code } if code == "E1004"),
        "{e:?}"
    );

    // Another RP's key does not see this RP's transactions (E2003).
    let p = a.start(&citizen("010-2222-0001"), &ask).await.unwrap();
    let e = adapter_with(&sim, "other-rp-key")
        .status(&p)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::BadRequest { ref code, .. } if code == "E2003"),
        "{e:?}"
    );

    // Reject shows as a status.
    let p = a.start(&citizen("010-2222-0002"), &ask).await.unwrap();
    poll_until(&a, &p, Duration::from_secs(10), |s| s == Status::Rejected).await;
}

#[tokio::test]
async fn the_adapter_catches_every_bad_result() {
    let sim = start_sim(200).await;
    let a = adapter(&sim);

    let (who, ask, p) = completed(&a, "010-2222-0004").await;
    match a.verify(&who, &ask, &p).await {
        Err(ProviderError::BadSignature(CmsError::ContentMismatch)) => {}
        other => panic!("tamper_content: {other:?}"),
    }

    let (who, ask, p) = completed(&a, "010-2222-0006").await;
    let e = a.verify(&who, &ask, &p).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::BadSignature(_)),
        "bad_signature: {e:?}"
    );

    let (who, ask, p) = completed(&a, "010-2222-0007").await;
    let e = a.verify(&who, &ask, &p).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::BadSignature(_)),
        "wrong_chain: {e:?}"
    );

    let (who, ask, p) = completed(&a, "010-2222-0005").await;
    let e = a.verify(&who, &ask, &p).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::WrongSigner),
        "wrong_person: {e:?}"
    );

    // A name with U+202E after it (every family parses names with
    // Name::parse: NFC, nothing invisible): refused as malformed, though the
    // signature and its certificate are the person's.
    let (who, ask, p) = completed(&a, "010-2222-0011").await;
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
        .start(&citizen("010-2222-0010"), &challenge(2))
        .await
        .unwrap();
    let s = poll_until(&a, &p, Duration::from_secs(10), |s| s == Status::Expired).await;
    assert_eq!(s, Status::Expired);
}

#[test]
fn sim_config_without_kakao_direct_keys_still_loads() {
    let cfg: SimConfig = toml_like(
        r#"{"pki_dir": "x", "relying_parties": [{"link_id": "L", "secret_key": "k", "client_code": "023040000001"}]}"#,
    );
    assert!(cfg.kakao_direct_keys.is_empty());
    assert!(format!("{:?}", SimApiKey::new("secret-key")).contains(".."));
}

fn toml_like(json: &str) -> SimConfig {
    serde_json::from_str(json).unwrap()
}

/// The CMS evidence (every family's results are CMS today).
fn cms(e: &munjigi_providers::Evidence) -> &munjigi_providers::CmsEvidence {
    let munjigi_providers::Evidence::Cms(c) = e else {
        panic!("a CMS evidence")
    };
    c
}
