//! The barocert adapter against the simulated broker over real HTTP on loopback:
//! the happy path and each misbehaviour the adapter must catch, for Kakao in
//! depth and for every product (Kakao, Naver, PASS, Toss) scenario by scenario,
//! plus each product's own rules (Naver's BER and verify-after-expiry, PASS's
//! day boundary and verify body, Toss's limits).

// Test helpers outside `#[test]` functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::HeaderMap;
use munjigi_providers::barocert::{
    BarocertAdapter, BarocertConfig, BarocertProduct, BarocertSecret,
};
use munjigi_providers::cms::{CmsError, TrustAnchors};
use munjigi_providers::http_client::HttpClient;
use munjigi_providers::{
    BirthDate, Challenge, Citizen, Level, Name, Pending, Phone, Provider, ProviderError,
    ProviderId, Status,
};
use munjigi_sim::simulator::{Scenario, SimConfig, SimPerson, SimRp, Simulator, UnknownPeople};

const CLIENT_CODE: &str = "023040000001";
const LINK_ID: &str = "MUNJIGI_TEST";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn secret_b64() -> String {
    b64(&[0x5a; 32])
}

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
    let mut registered = person("010-1111-0001", Scenario::Approve);
    registered.name = Some(Name::parse("홍길동").unwrap());
    registered.birthdate = Some(BirthDate::parse("1990-01-31").unwrap());
    let cfg = SimConfig {
        pki_dir: std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("barocert-sim-pki"),
        approve_after_ms,
        relying_parties: vec![SimRp {
            link_id: LINK_ID.into(),
            secret_key: secret_b64(),
            client_code: CLIENT_CODE.into(),
        }],
        people: vec![
            registered,
            person("010-1111-0002", Scenario::Reject),
            person("010-1111-0003", Scenario::Never),
            person("010-1111-0004", Scenario::TamperContent),
            person("010-1111-0005", Scenario::WrongPerson),
            person("010-1111-0006", Scenario::BadSignature),
            person("010-1111-0007", Scenario::WrongChain),
            person("010-1111-0008", Scenario::Unknown),
            person("010-1111-0009", Scenario::Dormant),
            person("010-1111-0010", Scenario::Viewed),
            person("010-1111-0011", Scenario::InvisibleName),
        ],
        unknown_people: UnknownPeople::Approve,
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

fn config(sim: &Sim) -> BarocertConfig {
    BarocertConfig {
        endpoint: sim.base.clone(),
        auth_endpoint: sim.base.clone(),
        link_id: LINK_ID.into(),
        client_code: CLIENT_CODE.into(),
        ttl_secs: None,
        call_center_num: Some("1600-0000".into()),
        timeout_ms: Some(5_000),
        allow_plain_http: false,
    }
}

fn product_adapter(sim: &Sim, product: BarocertProduct) -> BarocertAdapter {
    BarocertAdapter::new(
        ProviderId::new(product.name()),
        product,
        Level::Substantial,
        config(sim),
        BarocertSecret::from_base64(&secret_b64()).unwrap(),
        TrustAnchors::from_pem(&sim.sim.root_pem(product)).unwrap(),
        None,
    )
    .unwrap()
}

fn adapter_with(sim: &Sim, secret: &str) -> BarocertAdapter {
    BarocertAdapter::new(
        ProviderId::new("kakao"),
        BarocertProduct::Kakao,
        Level::Substantial,
        config(sim),
        BarocertSecret::from_base64(secret).unwrap(),
        TrustAnchors::from_pem(&sim.sim.root_pem(BarocertProduct::Kakao)).unwrap(),
        None,
    )
    .unwrap()
}

fn adapter(sim: &Sim) -> BarocertAdapter {
    adapter_with(sim, &secret_b64())
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

/// Polls status until `done` holds, failing after `within`.
async fn poll_until(
    a: &BarocertAdapter,
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

fn expected_ci(name: &str, birth: &str, phone_national: &str) -> String {
    use openssl::{hash::MessageDigest, pkey::PKey, sign::Signer};
    let key = PKey::hmac(b"munjigi-simulator-ci-key-v1").unwrap();
    let mut s = Signer::new(MessageDigest::sha512(), &key).unwrap();
    s.update(format!("{name}|{birth}|{phone_national}").as_bytes())
        .unwrap();
    b64(&s.sign_to_vec().unwrap())
}

#[tokio::test]
async fn approve_verify_once() {
    let sim = start_sim(300).await;
    let a = adapter(&sim);
    let who = citizen("010-1111-0001");
    let ask = challenge(60);

    let p = a.start(&who, &ask).await.unwrap();
    assert_eq!(p.handle.len(), 32);
    assert!(p.handle.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(p.expires_at, p.started_at + 60);
    assert!(p.app_scheme.is_none());

    // Verify before completion: the broker has nothing yet.
    match a.verify(&who, &ask, &p).await {
        Err(ProviderError::NotReady) => {}
        other => panic!("expected NotReady, got {other:?}"),
    }

    let s = poll_until(&a, &p, Duration::from_secs(10), |s| s == Status::Completed).await;
    assert_eq!(s, Status::Completed);

    let v = a.verify(&who, &ask, &p).await.unwrap();
    assert!(v.person.is(&who));
    assert_eq!(
        v.person.ci.expose(),
        expected_ci("홍길동", "19900131", "01011110001")
    );
    assert_eq!(v.person.ci.expose().len(), 88);
    assert!(v.person.gender.is_some());
    assert_eq!(v.amr, vec!["pin".to_owned()]);
    assert!(!cms(&v.evidence).signed_data.is_empty());
    assert!(cms(&v.evidence).signing_time >= p.started_at.saturating_sub(60));
    assert!(cms(&v.evidence).signing_time <= p.expires_at + 60);
    assert!(cms(&v.evidence).signer_issuer.contains("Kakao"));
    assert!(!cms(&v.evidence).signer_serial.is_empty());

    // One-shot.
    match a.verify(&who, &ask, &p).await {
        Err(ProviderError::AlreadyUsed) => {}
        other => panic!("expected AlreadyUsed, got {other:?}"),
    }
}

#[tokio::test]
async fn unlisted_people_approve_with_their_own_ci() {
    let sim = start_sim(100).await;
    let a = adapter(&sim);
    let who = Citizen {
        name: Name::parse("김 영희").unwrap(),
        birthdate: BirthDate::parse("1985-12-01").unwrap(),
        phone: Phone::parse("+82 10 9999 0000").unwrap(),
    };
    let ask = challenge(30);
    let p = a.start(&who, &ask).await.unwrap();
    poll_until(&a, &p, Duration::from_secs(10), |s| s == Status::Completed).await;
    let v = a.verify(&who, &ask, &p).await.unwrap();
    assert_eq!(
        v.person.ci.expose(),
        expected_ci("김영희", "19851201", "01099990000")
    );
}

#[tokio::test]
async fn reject_is_reported() {
    let sim = start_sim(100).await;
    let a = adapter(&sim);
    let who = citizen("010-1111-0002");
    let ask = challenge(30);
    let p = a.start(&who, &ask).await.unwrap();
    let s = poll_until(&a, &p, Duration::from_secs(10), |s| {
        !matches!(s, Status::Pending { .. })
    })
    .await;
    assert_eq!(s, Status::Rejected);
    assert!(matches!(
        a.verify(&who, &ask, &p).await,
        Err(ProviderError::Rejected)
    ));
}

#[tokio::test]
async fn never_expires_at_ttl_and_viewed_shows_as_viewed() {
    let sim = start_sim(100).await;
    let a = adapter(&sim);

    let who = citizen("010-1111-0010");
    let ask = challenge(1);
    let viewed = a.start(&who, &ask).await.unwrap();
    let s = poll_until(&a, &viewed, Duration::from_secs(5), |s| {
        s != Status::Pending { viewed: false }
    })
    .await;
    assert_eq!(s, Status::Pending { viewed: true });

    let who = citizen("010-1111-0003");
    let p = a.start(&who, &ask).await.unwrap();
    assert_eq!(
        a.status(&p).await.unwrap(),
        Status::Pending { viewed: false }
    );
    let s = poll_until(&a, &p, Duration::from_secs(5), |s| {
        !matches!(s, Status::Pending { .. })
    })
    .await;
    assert_eq!(s, Status::Expired);
    assert!(matches!(
        a.verify(&who, &ask, &p).await,
        Err(ProviderError::Expired)
    ));
    let s = poll_until(&a, &viewed, Duration::from_secs(5), |s| {
        !matches!(s, Status::Pending { .. })
    })
    .await;
    assert_eq!(s, Status::Expired);
}

async fn completed_then_verify(
    a: &BarocertAdapter,
    phone: &str,
) -> Result<munjigi_providers::Verified, ProviderError> {
    let who = citizen(phone);
    let ask = challenge(30);
    let p = a.start(&who, &ask).await.unwrap();
    poll_until(a, &p, Duration::from_secs(10), |s| s == Status::Completed).await;
    a.verify(&who, &ask, &p).await
}

#[tokio::test]
async fn misbehaving_results_are_refused() {
    let sim = start_sim(100).await;
    let a = adapter(&sim);

    match completed_then_verify(&a, "010-1111-0004").await {
        Err(ProviderError::BadSignature(CmsError::ContentMismatch)) => {}
        other => panic!("tampered content: {other:?}"),
    }
    match completed_then_verify(&a, "010-1111-0005").await {
        Err(ProviderError::WrongSigner) => {}
        other => panic!("wrong person: {other:?}"),
    }
    match completed_then_verify(&a, "010-1111-0006").await {
        Err(ProviderError::BadSignature(CmsError::Signature)) => {}
        other => panic!("bad signature: {other:?}"),
    }
    match completed_then_verify(&a, "010-1111-0007").await {
        Err(ProviderError::BadSignature(CmsError::Chain(_))) => {}
        other => panic!("wrong chain: {other:?}"),
    }
    // A name with U+202E after it (every family parses names with
    // Name::parse: NFC, nothing invisible): refused as malformed, though the
    // signature and its certificate are the person's.
    match completed_then_verify(&a, "010-1111-0011").await {
        Err(ProviderError::Protocol(m)) if m.contains("name") || m.contains("Name") => {}
        other => panic!("invisible name: {other:?}"),
    }
}

#[tokio::test]
async fn refusals_at_request_time() {
    let sim = start_sim(100).await;
    let a = adapter(&sim);
    let ask = challenge(30);

    assert!(matches!(
        a.start(&citizen("010-1111-0008"), &ask).await,
        Err(ProviderError::UnknownPerson)
    ));
    assert!(matches!(
        a.start(&citizen("010-1111-0009"), &ask).await,
        Err(ProviderError::AccountUnusable)
    ));
    // Registered with another name.
    let mut who = citizen("010-1111-0001");
    who.name = Name::parse("홍길순").unwrap();
    assert!(matches!(
        a.start(&who, &ask).await,
        Err(ProviderError::PersonMismatch)
    ));

    // Kakao signs at most 40 characters: refused before sending.
    let long = Challenge {
        nonce: "x".repeat(41),
        ..challenge(30)
    };
    assert!(matches!(
        a.start(&citizen("010-1111-0001"), &long).await,
        Err(ProviderError::BadRequest { .. })
    ));
    // A handle that is not a receipt id is refused locally.
    let bogus = Pending {
        handle: "1234".into(),
        started_at: 0,
        expires_at: 0,
        app_scheme: None,
        market_url: None,
        qr: None,
    };
    assert!(matches!(
        a.status(&bogus).await,
        Err(ProviderError::BadRequest { .. })
    ));
    // A well-formed id the broker does not know.
    let unknown = Pending {
        handle: "0".repeat(32),
        ..bogus
    };
    assert!(matches!(
        a.status(&unknown).await,
        Err(ProviderError::BadRequest { ref code, .. }) if code == "-14000001"
    ));
}

#[tokio::test]
async fn wrong_secret_is_unauthorized() {
    let sim = start_sim(100).await;
    let a = adapter_with(&sim, &b64(&[0x11; 32]));
    match a.start(&citizen("010-1111-0001"), &challenge(30)).await {
        Err(ProviderError::Unauthorized { code }) => assert_eq!(code, "-10000032"),
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn session_token_is_renewed_once_when_refused() {
    let sim = start_sim(100).await;
    let a = adapter(&sim);
    let who = citizen("010-1111-0001");
    let ask = challenge(30);
    let p = a.start(&who, &ask).await.unwrap();
    sim.sim.expire_session_tokens();
    // The cached token is now unknown to the broker; the adapter renews it.
    poll_until(&a, &p, Duration::from_secs(10), |s| s == Status::Completed).await;
    sim.sim.expire_session_tokens();
    a.verify(&who, &ask, &p).await.unwrap();
}

#[tokio::test]
async fn broker_is_strict_on_the_wire() {
    let sim = start_sim(100).await;
    let http = HttpClient::new(None, Duration::from_secs(5))
        .unwrap()
        .allow_plain_http(true);

    let health = http
        .get(&format!("{}/health", sim.base), HeaderMap::new())
        .await
        .unwrap();
    assert_eq!(health.status, 200);

    let code = |r: &munjigi_providers::http_client::HttpResponse| -> i64 {
        serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["code"]
            .as_i64()
            .unwrap()
    };
    let status_url = format!(
        "{}/KAKAO/Identity/{CLIENT_CODE}/{}",
        sim.base,
        "1".repeat(32)
    );

    // No token.
    let r = http.get(&status_url, HeaderMap::new()).await.unwrap();
    assert_eq!((r.status.as_u16(), code(&r)), (401, -11_000_001));

    // A token the broker never issued.
    let mut h = HeaderMap::new();
    h.insert("authorization", "Bearer 00".parse().unwrap());
    h.insert("x-bc-version", "2.1".parse().unwrap());
    let r = http.get(&status_url, h).await.unwrap();
    assert_eq!((r.status.as_u16(), code(&r)), (401, -11_000_002));

    // Token request signed with a stale clock.
    let body = br#"{"access_id":"","scope":["partner","401"]}"#;
    let stale = "2020-01-01T00:00:00Z";
    let mut h = HeaderMap::new();
    h.insert("x-lh-date", stale.parse().unwrap());
    h.insert("x-lh-version", "2.0".parse().unwrap());
    h.insert(
        "authorization",
        format!("LINKHUB {LINK_ID} AAAA").parse().unwrap(),
    );
    let r = http
        .post(
            &format!("{}/BAROCERT/Token", sim.base),
            h,
            bytes::Bytes::from_static(body),
        )
        .await
        .unwrap();
    assert_eq!((r.status.as_u16(), code(&r)), (401, -10_000_036));

    // Routes that do not exist: no GET on the request path, no verify on the
    // other product's path form, no unknown product.
    for (method, path) in [
        (http::Method::GET, format!("/NAVER/Identity/{CLIENT_CODE}")),
        (
            http::Method::POST,
            format!("/TOSS/Identity/{CLIENT_CODE}/{}", "1".repeat(32)),
        ),
        (
            http::Method::POST,
            format!("/KAKAO/Identity/Verify/{CLIENT_CODE}/{}", "1".repeat(32)),
        ),
        (
            http::Method::GET,
            format!("/SAMSUNG/Identity/{CLIENT_CODE}"),
        ),
    ] {
        let r = if method == http::Method::GET {
            http.get(&format!("{}{path}", sim.base), HeaderMap::new())
                .await
                .unwrap()
        } else {
            http.post(
                &format!("{}{path}", sim.base),
                HeaderMap::new(),
                bytes::Bytes::new(),
            )
            .await
            .unwrap()
        };
        assert_eq!((r.status.as_u16(), code(&r)), (404, -11_000_009), "{path}");
    }
    let r = http
        .get(
            &format!("{}/NAVER/Identity/{CLIENT_CODE}", sim.base),
            HeaderMap::new(),
        )
        .await
        .unwrap();
    assert_eq!((r.status.as_u16(), code(&r)), (404, -11_000_009));
}

/// Every scenario, through every product: the same outcome the Kakao tests
/// above check in depth.
#[tokio::test]
async fn every_scenario_works_for_every_product() {
    let sim = start_sim(100).await;
    for product in BarocertProduct::ALL {
        let a = product_adapter(&sim, product);
        let name = product.name();

        // Approve: verified, CI the person's own whatever the product.
        let who = citizen("010-1111-0001");
        let ask = challenge(30);
        let p = a.start(&who, &ask).await.unwrap();
        assert!(matches!(
            a.verify(&who, &ask, &p).await,
            Err(ProviderError::NotReady)
        ));
        poll_until(&a, &p, Duration::from_secs(10), |s| s == Status::Completed).await;
        let v = a.verify(&who, &ask, &p).await.unwrap();
        assert!(v.person.is(&who), "{name}");
        assert_eq!(
            v.person.ci.expose(),
            expected_ci("홍길동", "19900131", "01011110001"),
            "{name}: the CI does not depend on the product"
        );
        assert!(
            cms(&v.evidence)
                .signer_issuer
                .contains(product.display_name()),
            "{name}: its own PKI"
        );
        // Naver sends BER indefinite-length CMS (0x30 0x80), the others DER.
        let indefinite = cms(&v.evidence).signed_data.get(..2) == Some(&[0x30, 0x80][..]);
        assert_eq!(indefinite, product == BarocertProduct::Naver, "{name}");
        match a.verify(&who, &ask, &p).await {
            Err(ProviderError::AlreadyUsed) if product.verify_once() => {}
            // PASS hands the result out again until the end of the day.
            Ok(again) if !product.verify_once() => assert!(again.person.is(&who)),
            other => panic!("{name}: second verify: {other:?}"),
        }

        // Reject.
        let who = citizen("010-1111-0002");
        let p = a.start(&who, &ask).await.unwrap();
        let s = poll_until(&a, &p, Duration::from_secs(10), |s| {
            !matches!(s, Status::Pending { .. })
        })
        .await;
        assert_eq!(s, Status::Rejected, "{name}");
        assert!(matches!(
            a.verify(&who, &ask, &p).await,
            Err(ProviderError::Rejected)
        ));

        // Never and viewed: pending (viewed or not), then expired at ttl.
        let short = challenge(1);
        let viewed = a.start(&citizen("010-1111-0010"), &short).await.unwrap();
        let never_who = citizen("010-1111-0003");
        let never = a.start(&never_who, &short).await.unwrap();
        assert_eq!(
            a.status(&never).await.unwrap(),
            Status::Pending { viewed: false },
            "{name}"
        );
        let s = poll_until(&a, &viewed, Duration::from_secs(5), |s| {
            s != Status::Pending { viewed: false }
        })
        .await;
        assert_eq!(s, Status::Pending { viewed: true }, "{name}");
        for p in [&never, &viewed] {
            let s = poll_until(&a, p, Duration::from_secs(5), |s| {
                !matches!(s, Status::Pending { .. })
            })
            .await;
            assert_eq!(s, Status::Expired, "{name}");
        }
        assert!(matches!(
            a.verify(&never_who, &short, &never).await,
            Err(ProviderError::Expired)
        ));

        // Misbehaving results.
        match completed_then_verify(&a, "010-1111-0004").await {
            Err(ProviderError::BadSignature(CmsError::ContentMismatch)) => {}
            other => panic!("{name} tampered content: {other:?}"),
        }
        match completed_then_verify(&a, "010-1111-0005").await {
            Err(ProviderError::WrongSigner) => {}
            other => panic!("{name} wrong person: {other:?}"),
        }
        match completed_then_verify(&a, "010-1111-0006").await {
            Err(ProviderError::BadSignature(CmsError::Signature)) => {}
            other => panic!("{name} bad signature: {other:?}"),
        }
        match completed_then_verify(&a, "010-1111-0007").await {
            Err(ProviderError::BadSignature(CmsError::Chain(_))) => {}
            other => panic!("{name} wrong chain: {other:?}"),
        }

        // Refused at request time.
        assert!(matches!(
            a.start(&citizen("010-1111-0008"), &ask).await,
            Err(ProviderError::UnknownPerson)
        ));
        assert!(matches!(
            a.start(&citizen("010-1111-0009"), &ask).await,
            Err(ProviderError::AccountUnusable)
        ));
    }
}

#[tokio::test]
async fn product_limits() {
    let sim = start_sim(100).await;
    // Toss signs up to 50 characters, Kakao and PASS 40; Naver takes no token,
    // so any nonce is fine (it is not sent).
    let who = citizen("010-1111-0001");
    let nonce = |n: usize| Challenge {
        nonce: "x".repeat(n),
        ..challenge(30)
    };
    let toss = product_adapter(&sim, BarocertProduct::Toss);
    toss.start(&who, &nonce(50)).await.unwrap();
    assert!(matches!(
        toss.start(&who, &nonce(51)).await,
        Err(ProviderError::BadRequest { .. })
    ));
    let pass = product_adapter(&sim, BarocertProduct::Pass);
    assert!(matches!(
        pass.start(&who, &nonce(41)).await,
        Err(ProviderError::BadRequest { .. })
    ));
    let naver = product_adapter(&sim, BarocertProduct::Naver);
    naver.start(&who, &nonce(60)).await.unwrap();

    // ttl caps: Toss 1,800 s, the others 1,000 s.
    assert_eq!(toss.effective_ttl(5000), 1800);
    assert_eq!(naver.effective_ttl(5000), 1000);
    assert_eq!(pass.effective_ttl(5000), 1000);

    // Naver and PASS show the RP's call-center number: required by config.
    for product in [BarocertProduct::Naver, BarocertProduct::Pass] {
        let cfg = BarocertConfig {
            call_center_num: None,
            ..config(&sim)
        };
        let r = BarocertAdapter::new(
            ProviderId::new(product.name()),
            product,
            Level::Substantial,
            cfg,
            BarocertSecret::from_base64(&secret_b64()).unwrap(),
            TrustAnchors::from_pem(&sim.sim.root_pem(product)).unwrap(),
            None,
        );
        assert!(matches!(r, Err(ProviderError::Config(_))), "{product:?}");
    }

    // A product's result does not verify under another product's root.
    let kakao_root = TrustAnchors::from_pem(&sim.sim.root_pem(BarocertProduct::Kakao)).unwrap();
    let toss_with_kakao_root = BarocertAdapter::new(
        ProviderId::new("toss"),
        BarocertProduct::Toss,
        Level::Substantial,
        config(&sim),
        BarocertSecret::from_base64(&secret_b64()).unwrap(),
        kakao_root,
        None,
    )
    .unwrap();
    match completed_then_verify(&toss_with_kakao_root, "010-1111-0001").await {
        Err(ProviderError::BadSignature(CmsError::Chain(_))) => {}
        other => panic!("toss under kakao's root: {other:?}"),
    }
}

#[tokio::test]
async fn naver_verify_after_expiry_is_too_late() {
    let sim = start_sim(100).await;
    let a = product_adapter(&sim, BarocertProduct::Naver);
    let who = citizen("010-1111-0001");
    let ask = challenge(30);
    let p = a.start(&who, &ask).await.unwrap();
    poll_until(&a, &p, Duration::from_secs(10), |s| s == Status::Completed).await;
    // Completed, not fetched, and the request's 30 s run out.
    sim.sim.age_receipts(Duration::from_secs(31));
    assert_eq!(a.status(&p).await.unwrap(), Status::Completed);
    match a.verify(&who, &ask, &p).await {
        Err(ProviderError::TooLate) => {}
        other => panic!("expected TooLate, got {other:?}"),
    }
}

#[tokio::test]
async fn pass_verify_ends_at_the_kst_day_boundary_and_repeats_the_person() {
    let sim = start_sim(100).await;
    let a = product_adapter(&sim, BarocertProduct::Pass);
    let who = citizen("010-1111-0001");
    let ask = challenge(30);

    // Unopened PASS requests are state 5 (unprocessed): pending for the gateway.
    let never = a.start(&citizen("010-1111-0003"), &ask).await.unwrap();
    assert_eq!(
        a.status(&never).await.unwrap(),
        Status::Pending { viewed: false }
    );

    // The verify body must name the person asked.
    let p = a.start(&who, &ask).await.unwrap();
    poll_until(&a, &p, Duration::from_secs(10), |s| s == Status::Completed).await;
    let mut other = who.clone();
    other.name = Name::parse("홍길순").unwrap();
    assert!(matches!(
        a.verify(&other, &ask, &p).await,
        Err(ProviderError::PersonMismatch)
    ));
    a.verify(&who, &ask, &p).await.unwrap();

    // A request made yesterday (KST) cannot be verified today.
    let p = a.start(&who, &ask).await.unwrap();
    poll_until(&a, &p, Duration::from_secs(10), |s| s == Status::Completed).await;
    sim.sim.age_receipts(Duration::from_secs(24 * 3600));
    match a.verify(&who, &ask, &p).await {
        Err(ProviderError::TooLate) => {}
        other => panic!("expected TooLate, got {other:?}"),
    }
}

/// The CMS evidence (every family's results are CMS today).
fn cms(e: &munjigi_providers::Evidence) -> &munjigi_providers::CmsEvidence {
    let munjigi_providers::Evidence::Cms(c) = e else {
        panic!("a CMS evidence")
    };
    c
}
