//! The provider's own misbehaviour (revoked and expired signer certificates, a
//! signingTime outside the window, maintenance, HTTP 500, slow and hung status,
//! bad input: garbage, gzip, truncated, huge and wrongly typed bodies) and the
//! simulator's control API, against the barocert adapter over real HTTP.

// Test helpers outside `#[test]` functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use munjigi_providers::barocert::{
    BarocertAdapter, BarocertConfig, BarocertProduct, BarocertSecret,
};
use munjigi_providers::cms::{CmsError, CrlPolicy, TrustAnchors};
use munjigi_providers::http_client::HttpClient;
use munjigi_providers::{
    BirthDate, Challenge, Citizen, Level, Name, Pending, Phone, Provider, ProviderError,
    ProviderId, Status,
};
use munjigi_sim::simulator::{Scenario, SimConfig, SimPerson, SimRp, Simulator, UnknownPeople};

const CLIENT_CODE: &str = "023040000001";
const LINK_ID: &str = "MUNJIGI_TEST";
const CONTROL_TOKEN: &str = "control-token-for-tests";

fn secret_b64() -> String {
    base64::engine::general_purpose::STANDARD.encode([0x5a; 32])
}

struct Sim {
    base: String,
    pki_dir: PathBuf,
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

async fn start_sim(tag: &str, control_token: Option<&str>) -> Sim {
    // Each test its own PKI directory: CRLs are rewritten per simulator.
    let pki_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sim-misbehaviour-{tag}-{}", std::process::id()));
    let cfg = SimConfig {
        pki_dir: pki_dir.clone(),
        approve_after_ms: 100,
        relying_parties: vec![SimRp {
            link_id: LINK_ID.into(),
            secret_key: secret_b64(),
            client_code: CLIENT_CODE.into(),
        }],
        people: vec![
            person("010-2222-0001", Scenario::Revoked),
            person("010-2222-0002", Scenario::ExpiredCert),
            person("010-2222-0003", Scenario::SigningTimeOutside),
            person("010-2222-0004", Scenario::Maintenance),
            person("010-2222-0005", Scenario::ServerError),
            person("010-2222-0006", Scenario::Slow),
            person("010-2222-0007", Scenario::Hung),
            person("010-2222-0008", Scenario::Garbage),
            person("010-2222-0009", Scenario::Gzip),
            person("010-2222-0010", Scenario::Truncated),
            person("010-2222-0011", Scenario::Huge),
            person("010-2222-0012", Scenario::WrongTypes),
        ],
        unknown_people: UnknownPeople::Approve,
        slow_ms: 700,
        control_token: control_token.map(str::to_owned),
        ..SimConfig::default()
    };
    let sim = Arc::new(Simulator::new(cfg).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = sim.serve(listener).await;
    });
    Sim {
        base,
        pki_dir,
        task,
    }
}

/// A Kakao adapter that requires a current CRL from the simulator's file.
fn adapter(sim: &Sim, timeout_ms: u64) -> BarocertAdapter {
    let root = std::fs::read(sim.pki_dir.join("kakao/root.pem")).unwrap();
    let anchors = TrustAnchors::from_pem(&root)
        .unwrap()
        .with_crl(CrlPolicy::from_file(
            sim.pki_dir.join("kakao/crl.pem"),
            true,
        ));
    BarocertAdapter::new(
        ProviderId::new("kakao"),
        BarocertProduct::Kakao,
        Level::Substantial,
        BarocertConfig {
            endpoint: sim.base.clone(),
            auth_endpoint: sim.base.clone(),
            link_id: LINK_ID.into(),
            client_code: CLIENT_CODE.into(),
            ttl_secs: None,
            call_center_num: None,
            timeout_ms: Some(timeout_ms),
            allow_plain_http: false,
        },
        BarocertSecret::from_base64(&secret_b64()).unwrap(),
        anchors,
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
        ttl_secs: 30,
        reach: Default::default(),
    }
}

async fn until_completed(a: &BarocertAdapter, p: &Pending) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if a.status(p).await.unwrap() == Status::Completed {
            return;
        }
        assert!(Instant::now() < deadline, "never completed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn login(
    a: &BarocertAdapter,
    phone: &str,
) -> Result<munjigi_providers::Verified, ProviderError> {
    let who = citizen(phone);
    let ask = challenge();
    let p = a.start(&who, &ask).await.unwrap();
    until_completed(a, &p).await;
    a.verify(&who, &ask, &p).await
}

#[tokio::test]
async fn signer_misbehaviour_is_refused_with_the_failed_check() {
    let sim = start_sim("signer", None).await;
    let a = adapter(&sim, 5_000);
    // An honest result passes the required CRL check.
    login(&a, "010-2222-0099").await.unwrap();
    match login(&a, "010-2222-0001").await {
        Err(ProviderError::BadSignature(CmsError::Revoked)) => {}
        other => panic!("revoked: {other:?}"),
    }
    // The revocation is of that one certificate: the person's next honest
    // result (another number, same name) still verifies.
    login(&a, "010-2222-0098").await.unwrap();
    match login(&a, "010-2222-0002").await {
        Err(ProviderError::BadSignature(CmsError::CertNotValidAtSigningTime)) => {}
        other => panic!("expired cert: {other:?}"),
    }
    match login(&a, "010-2222-0003").await {
        Err(ProviderError::BadSignature(CmsError::SigningTimeOutsideWindow)) => {}
        other => panic!("signing time: {other:?}"),
    }
}

#[tokio::test]
async fn required_crl_missing_refuses_every_result() {
    let sim = start_sim("nocrl", None).await;
    let a = adapter(&sim, 5_000);
    std::fs::remove_file(sim.pki_dir.join("kakao/crl.pem")).unwrap();
    match login(&a, "010-2222-0099").await {
        Err(ProviderError::BadSignature(CmsError::CrlUnavailable)) => {}
        other => panic!("no CRL: {other:?}"),
    }
}

#[tokio::test]
async fn service_misbehaviour_on_status() {
    let sim = start_sim("service", None).await;
    let a = adapter(&sim, 1_500);
    let who = |phone| citizen(phone);
    let ask = challenge();

    let p = a.start(&who("010-2222-0004"), &ask).await.unwrap();
    match a.status(&p).await {
        Err(ProviderError::Unavailable {
            retryable: true, ..
        }) => {}
        other => panic!("maintenance: {other:?}"),
    }
    let p = a.start(&who("010-2222-0005"), &ask).await.unwrap();
    match a.status(&p).await {
        Err(ProviderError::Unavailable {
            code,
            retryable: true,
        }) => assert_eq!(code, "http-500"),
        other => panic!("server error: {other:?}"),
    }
    let p = a.start(&who("010-2222-0006"), &ask).await.unwrap();
    let t = Instant::now();
    a.status(&p).await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(700),
        "slow answered early"
    );

    let p = a.start(&who("010-2222-0007"), &ask).await.unwrap();
    let t = Instant::now();
    match a.status(&p).await {
        Err(ProviderError::Transport(_)) => {}
        other => panic!("hung: {other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(5));
}

/// The status call's error for a person whose receipts misbehave.
async fn status_error(tag: &str, phone: &str) -> ProviderError {
    let sim = start_sim(tag, None).await;
    let a = adapter(&sim, 5_000);
    let p = a.start(&citizen(phone), &challenge()).await.unwrap();
    match a.status(&p).await {
        Err(e) => e,
        Ok(s) => panic!("{tag}: status answered {s:?}"),
    }
}

#[tokio::test]
async fn garbage_status_is_a_protocol_error() {
    match status_error("garbage", "010-2222-0008").await {
        ProviderError::Protocol(m) => assert!(m.contains("syntax"), "{m}"),
        other => panic!("garbage: {other:?}"),
    }
}

#[tokio::test]
async fn gzip_status_is_refused_as_a_protocol_error() {
    match status_error("gzip", "010-2222-0009").await {
        ProviderError::Protocol(m) => assert!(m.contains("Content-Encoding"), "{m}"),
        other => panic!("gzip: {other:?}"),
    }
}

#[tokio::test]
async fn truncated_status_is_a_protocol_error() {
    match status_error("truncated", "010-2222-0010").await {
        ProviderError::Protocol(m) => assert!(m.contains("truncated"), "{m}"),
        other => panic!("truncated: {other:?}"),
    }
}

#[tokio::test]
async fn huge_status_hits_the_size_cap() {
    match status_error("huge", "010-2222-0011").await {
        ProviderError::Protocol(m) => assert!(m.contains("larger than"), "{m}"),
        other => panic!("huge: {other:?}"),
    }
}

#[tokio::test]
async fn wrongly_typed_status_is_a_protocol_error() {
    match status_error("wrong-types", "010-2222-0012").await {
        ProviderError::Protocol(m) => assert!(m.contains("unexpected shape"), "{m}"),
        other => panic!("wrong types: {other:?}"),
    }
}

#[tokio::test]
async fn control_api_changes_people_and_is_protected() {
    let off = start_sim("control-off", None).await;
    let http = HttpClient::new(None, Duration::from_secs(5))
        .unwrap()
        .allow_plain_http(true);
    let health = |base: &str| format!("{base}/_control/health");
    let r = http
        .get(&health(&off.base), HeaderMap::new())
        .await
        .unwrap();
    assert_eq!(r.status.as_u16(), 404, "disabled without a control token");

    let sim = start_sim("control-on", Some(CONTROL_TOKEN)).await;
    let auth = |token: &str| {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h
    };
    let r = http
        .get(&health(&sim.base), HeaderMap::new())
        .await
        .unwrap();
    assert_eq!(r.status.as_u16(), 401);
    let r = http.get(&health(&sim.base), auth("wrong")).await.unwrap();
    assert_eq!(r.status.as_u16(), 401);
    let r = http
        .get(&health(&sim.base), auth(CONTROL_TOKEN))
        .await
        .unwrap();
    assert_eq!(r.status.as_u16(), 200);

    let a = adapter(&sim, 5_000);
    let phone = "010-2222-0050";
    login(&a, phone).await.unwrap();
    let set = |scenario: &'static str| {
        let http = &http;
        let url = format!("{}/_control/people", sim.base);
        let headers = auth(CONTROL_TOKEN);
        async move {
            http.post_json(
                &url,
                headers,
                &serde_json::json!({"phone": phone, "scenario": scenario}),
            )
            .await
            .unwrap()
        }
    };
    assert_eq!(set("reject").await.status.as_u16(), 200);
    let p = a.start(&citizen(phone), &challenge()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match a.status(&p).await.unwrap() {
            Status::Rejected => break,
            s => assert!(Instant::now() < deadline, "stuck at {s:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(set("revoked").await.status.as_u16(), 200);
    match login(&a, phone).await {
        Err(ProviderError::BadSignature(CmsError::Revoked)) => {}
        other => panic!("revoked through control: {other:?}"),
    }
    assert_eq!(set("no_such_scenario").await.status.as_u16(), 400);

    // Tokens forgotten: the adapter renews its session and carries on.
    assert_eq!(set("approve").await.status.as_u16(), 200);
    let r = http
        .post(
            &format!("{}/_control/expire-tokens", sim.base),
            auth(CONTROL_TOKEN),
            bytes::Bytes::new(),
        )
        .await
        .unwrap();
    assert_eq!(r.status.as_u16(), 200);
    login(&a, phone).await.unwrap();
}
