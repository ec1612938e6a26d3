//! A whole Toss-direct login logged at TRACE, against the simulator over real
//! HTTP on loopback: no part of any request or response body is in the log.
//!
//! Its own test binary on purpose: the capture is a subscriber for this
//! thread, and tracing decides once per call site whether anyone listens, so a
//! call site first reached by a test on another thread at the same moment
//! could be missed; alone in its process, nothing races it.

// Test helpers outside `#[test]` functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use munjigi_providers::cms::TrustAnchors;
use munjigi_providers::toss_direct::{TossDirectAdapter, TossDirectClientSecret, TossDirectConfig};
use munjigi_providers::{
    BirthDate, Challenge, Citizen, Level, Name, Phone, Provider, ProviderId, Status,
};
use munjigi_sim::simulator::{
    Scenario, SimConfig, SimPerson, SimRp, SimTossClient, Simulator, UnknownPeople,
};

const CLIENT_ID: &str = "test_munjigi_client";
const CLIENT_SECRET: &str = "test-secret-0123456789abcdef";

/// A log writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Issue 18 point 8: Toss direct's format reuses one AES-GCM key and IV for
/// every field of a call, so its encryption gives no integrity beyond TLS and
/// its bodies must never reach a log. A whole login (token, request, status
/// polls, result) with every event at TRACE, the adapter's, the HTTP
/// client's and any dependency's that logs through `tracing`: nothing of any
/// body is in the log (no field name of the wire format, no session key or
/// sealed field, no nonce, no signature, no token or secret, nothing
/// personal). The simulator's own lines are left out (it is the provider).
/// A current-thread runtime, so the simulator's and hyper's tasks log to
/// this thread's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn a_whole_login_logged_at_trace_holds_no_body() {
    let out = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(out.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let cfg = SimConfig {
        pki_dir: std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("toss-direct-logs-pki"),
        approve_after_ms: 200,
        relying_parties: vec![SimRp {
            link_id: "MUNJIGI_TEST".into(),
            secret_key: base64::engine::general_purpose::STANDARD.encode([0x5a; 32]),
            client_code: "023040000001".into(),
        }],
        people: vec![SimPerson {
            phone: Phone::parse("010-3333-0001").unwrap(),
            name: None,
            birthdate: None,
            gender: None,
            scenario: Scenario::Approve,
        }],
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
    let a = TossDirectAdapter::new(
        ProviderId::new("toss-direct"),
        Level::Substantial,
        TossDirectConfig {
            endpoint: format!("{base}/toss-direct"),
            token_endpoint: format!("{base}/toss-direct/token"),
            client_id: CLIENT_ID.into(),
            ttl_secs: None,
            timeout_ms: Some(5_000),
            allow_plain_http: false,
        },
        TossDirectClientSecret::new(CLIENT_SECRET).unwrap(),
        &sim.toss_direct_public_key_pem(),
        TrustAnchors::from_pem(&sim.toss_direct_root_pem()).unwrap(),
        None,
    )
    .unwrap();
    let who = Citizen {
        name: Name::parse("홍길동").unwrap(),
        birthdate: BirthDate::parse("1990-01-31").unwrap(),
        phone: Phone::parse("010-3333-0001").unwrap(),
    };
    let mut raw = [0u8; 16];
    openssl::rand::rand_bytes(&mut raw).unwrap();
    let ask = Challenge {
        nonce: hex::encode(raw),
        title: "문지기 로그인".into(),
        ttl_secs: 60,
        reach: Default::default(),
    };
    let p = a.start(&who, &ask).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.status(&p).await.unwrap() != Status::Completed {
        assert!(Instant::now() < deadline, "never completed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let v = a.verify(&who, &ask, &p).await.unwrap();
    task.abort();
    let ci = v.person.ci.expose().to_owned();

    let log = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let ours: Vec<&str> = log.lines().filter(|l| !l.contains("munjigi_sim")).collect();
    assert!(
        ours.iter()
            .any(|l| l.contains("toss_direct identity verified")),
        "the capture saw the adapter: {log}"
    );
    assert!(
        ours.iter().any(|l| l.contains("toss_direct status")),
        "debug lines are captured too: {log}"
    );
    let joined = ours.join("\n");
    for never in [
        // The wire format's field names and values.
        "sessionKey",
        "userName",
        "userPhone",
        "userBirthday",
        "signData",
        "personalData",
        "resultType",
        "\"signature\"",
        "access_token",
        "grant_type",
        munjigi_providers::toss_direct::session::SESSION_VERSION,
        "AES_GCM",
        ask.nonce.as_str(),
        CLIENT_SECRET,
        // The person.
        "홍길동",
        "01033330001",
        "3333",
        "19900131",
        "1990-01-31",
        ci.as_str(),
    ] {
        assert!(
            !joined.contains(never),
            "`{never}` is in the log:\n{joined}"
        );
    }
}
