//! Revocation: the signer certificate against the provider's CRL, from a
//! file, from bytes, or fetched from a URL (the simulator's) and kept fresh.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use munjigi_providers::cms::{
    parse_crls, verify, CmsError, Content, CrlPolicy, CrlRefresh, Encoding, Expect, TrustAnchors,
};
use munjigi_sim::cms::sign;
use munjigi_sim::testpki::{ProviderPki, Subscriber};
use openssl::x509::X509Crl;

const NONCE: &[u8] = b"mj-login-revocation-test-nonce";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap())
        .unwrap()
}

fn expect() -> Expect<'static> {
    let n = u64::try_from(now()).unwrap();
    Expect {
        content: Content::Attached(NONCE),
        not_before: n - 60,
        not_after: n + 60,
        skew_secs: 5,
    }
}

fn signed(pki: &ProviderPki, who: &Subscriber) -> Vec<u8> {
    sign(NONCE, who, &[pki.ca().clone()], Encoding::DerAttached).unwrap()
}

fn anchors(pki: &ProviderPki) -> TrustAnchors {
    TrustAnchors::from_pem(&pki.root_pem().unwrap()).unwrap()
}

#[test]
fn revoked_signer_is_refused_others_pass() {
    let pki = ProviderPki::generate("Delta").unwrap();
    let alice = pki.issue_subscriber("Kim", "D1", None).unwrap();
    let bob = pki.issue_subscriber("Lee", "D2", None).unwrap();
    pki.revoke(alice.cert.serial_number()).unwrap();
    for required in [false, true] {
        let a =
            anchors(&pki).with_crl(CrlPolicy::from_pem(&pki.crl_pem().unwrap(), required).unwrap());
        assert_eq!(
            verify(&signed(&pki, &alice), &expect(), &a).unwrap_err(),
            CmsError::Revoked
        );
        verify(&signed(&pki, &bob), &expect(), &a).unwrap();
    }
    // Without a CRL policy, nothing is checked.
    verify(&signed(&pki, &alice), &expect(), &anchors(&pki)).unwrap();
    assert_eq!(CmsError::Revoked.code(), "revoked");
}

#[test]
fn required_crl_missing_stale_or_foreign_is_refused() {
    let pki = ProviderPki::generate("Epsilon").unwrap();
    let other = ProviderPki::generate("Zeta").unwrap();
    let alice = pki.issue_subscriber("Kim", "E1", None).unwrap();
    let cms = signed(&pki, &alice);
    let missing = std::env::temp_dir().join("munjigi-no-such-crl.pem");
    let stale = pki
        .crl_pem_with_times(now() - 3 * 86_400, now() - 86_400)
        .unwrap();
    let foreign = other.crl_pem().unwrap();

    let required = anchors(&pki).with_crl(CrlPolicy::from_file(&missing, true));
    assert_eq!(
        verify(&cms, &expect(), &required).unwrap_err(),
        CmsError::CrlUnavailable
    );
    let optional = anchors(&pki).with_crl(CrlPolicy::from_file(&missing, false));
    verify(&cms, &expect(), &optional).unwrap();

    for (crl, what) in [(&stale, "stale"), (&foreign, "foreign")] {
        let a = anchors(&pki).with_crl(CrlPolicy::from_pem(crl, true).unwrap());
        assert_eq!(
            verify(&cms, &expect(), &a).unwrap_err(),
            CmsError::CrlUnavailable,
            "{what}"
        );
        let a = anchors(&pki).with_crl(CrlPolicy::from_pem(crl, false).unwrap());
        verify(&cms, &expect(), &a).unwrap();
    }
    // A stale CRL listing the serial still refuses it.
    pki.revoke(alice.cert.serial_number()).unwrap();
    let stale = pki
        .crl_pem_with_times(now() - 3 * 86_400, now() - 86_400)
        .unwrap();
    let a = anchors(&pki).with_crl(CrlPolicy::from_pem(&stale, false).unwrap());
    assert_eq!(verify(&cms, &expect(), &a).unwrap_err(), CmsError::Revoked);
}

#[test]
fn crl_file_is_reread_when_it_changes() {
    let pki = ProviderPki::generate("Eta").unwrap();
    let alice = pki.issue_subscriber("Kim", "H1", None).unwrap();
    let cms = signed(&pki, &alice);
    let dir = std::env::temp_dir().join(format!("munjigi-crlpol-{}-{}", std::process::id(), now()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("crl.pem");
    pki.write_crl(&path).unwrap();
    let a = anchors(&pki).with_crl(CrlPolicy::from_file(&path, true));
    verify(&cms, &expect(), &a).unwrap();
    pki.revoke(alice.cert.serial_number()).unwrap();
    pki.write_crl(&path).unwrap();
    assert_eq!(verify(&cms, &expect(), &a).unwrap_err(), CmsError::Revoked);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Polls `verify` until it gives `want` (the background fetch is
/// asynchronous), for at most five seconds.
async fn until(cms: &[u8], a: &TrustAnchors, want: Result<(), CmsError>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let got = verify(cms, &expect(), a).map(|_| ());
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "got {got:?}, want {want:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn crl_from_a_url_is_fetched_kept_and_refetched() {
    use munjigi_providers::barocert::BarocertProduct;
    use munjigi_sim::simulator::{SimConfig, SimRp, Simulator};
    let cfg = SimConfig {
        pki_dir: std::env::temp_dir().join(format!("munjigi-sim-crl-url-{}", std::process::id())),
        relying_parties: vec![SimRp {
            link_id: "UNIT".into(),
            secret_key: "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=".into(),
            client_code: "023040000001".into(),
        }],
        ..SimConfig::default()
    };
    let sim = Simulator::new(cfg).unwrap();
    let sim = std::sync::Arc::new(sim);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/pki/kakao/crl", listener.local_addr().unwrap());
    let server = tokio::spawn(std::sync::Arc::clone(&sim).serve(listener));
    let pki = sim.pki(BarocertProduct::Kakao).unwrap();
    let alice = pki.issue_subscriber("Kim", "U1", None).unwrap();
    let bob = pki.issue_subscriber("Lee", "U2", None).unwrap();
    pki.revoke(alice.cert.serial_number()).unwrap();
    let http = || {
        munjigi_providers::http_client::HttpClient::new(None, std::time::Duration::from_secs(2))
            .unwrap()
            .allow_plain_http(true)
    };
    let fast = CrlRefresh {
        max_interval: std::time::Duration::from_millis(300),
        retry_after: std::time::Duration::from_millis(100),
    };

    // A revoked signer is refused once the CRL from the URL is held.
    let a = anchors(pki).with_crl(CrlPolicy::from_url("kakao", &url, http(), fast, true));
    until(&signed(pki, &alice), &a, Err(CmsError::Revoked)).await;
    verify(&signed(pki, &bob), &expect(), &a).unwrap();

    // The URL fails: the last good CRL stays in use (before nextUpdate).
    sim.set_crl_available("kakao", false);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    verify(&signed(pki, &bob), &expect(), &a).unwrap();

    // Required, and the URL has never answered: results are refused.
    let b = anchors(pki).with_crl(CrlPolicy::from_url("kakao", &url, http(), fast, true));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        verify(&signed(pki, &bob), &expect(), &b).unwrap_err(),
        CmsError::CrlUnavailable
    );
    // Not required: accepted unchecked.
    let c = anchors(pki).with_crl(CrlPolicy::from_url("kakao", &url, http(), fast, false));
    verify(&signed(pki, &bob), &expect(), &c).unwrap();

    // The URL recovers: the next retry fetches it, and results pass again;
    // a newly revoked serial shows at the next refresh.
    sim.set_crl_available("kakao", true);
    until(&signed(pki, &bob), &b, Ok(())).await;
    pki.revoke(bob.cert.serial_number()).unwrap();
    until(&signed(pki, &bob), &b, Err(CmsError::Revoked)).await;
    server.abort();
}

#[test]
fn parse_crls_takes_bundles_and_der_and_refuses_garbage() {
    let a = ProviderPki::generate("Theta").unwrap();
    let b = ProviderPki::generate("Iota").unwrap();
    let mut both = a.crl_pem().unwrap();
    both.extend(b.crl_pem().unwrap());
    assert_eq!(parse_crls(&both).map(|c| c.len()).ok(), Some(2));
    let der = X509Crl::from_pem(&a.crl_pem().unwrap())
        .unwrap()
        .to_der()
        .unwrap();
    assert_eq!(parse_crls(&der).map(|c| c.len()).ok(), Some(1));
    for bad in [
        &b""[..],
        b"nothing",
        b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
    ] {
        assert_eq!(parse_crls(bad).err(), Some(CmsError::BadCrl));
    }
}
