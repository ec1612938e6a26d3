//! Revocation: every certificate of the chain against its issuer's CRL, from
//! a file, from bytes, or fetched from a URL (the simulator's) and kept fresh;
//! CRLs that must not be believed (older than one seen, partitions that do not
//! cover the certificate, deltas, unknown critical extensions); revocation
//! dates against the signing time for long-term checks.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod both_paths;
use both_paths::verify;
use munjigi_providers::cms::{
    parse_crls, CmsError, Content, CrlMemory, CrlPolicy, CrlRefresh, Encoding, Expect, TrustAnchors,
};
use munjigi_sim::cms::sign;
use munjigi_sim::testpki::{CrlNumber, CrlSpec, Idp, ProviderPki, Subscriber};
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
    // Each PKI's bundle holds its CA's CRL and its root's.
    let mut both = a.crl_pem().unwrap();
    both.extend(b.crl_pem().unwrap());
    assert_eq!(parse_crls(&both).map(|c| c.len()).ok(), Some(4));
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

/// The CA's CRL as `spec` says, with the root's ordinary CRL beside it (so the
/// CA above the signer has its CRL too).
fn bundle(pki: &ProviderPki, spec: &CrlSpec) -> Vec<u8> {
    let mut pem = pki.crl_pem_with(spec).unwrap();
    pem.extend(
        pki.crl_pem_with(&CrlSpec {
            by_root: true,
            ..CrlSpec::default()
        })
        .unwrap(),
    );
    pem
}

fn temp_dir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("munjigi-{what}-{}-{}", std::process::id(), now()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A source that goes back to an older CRL (a stale mirror, a replayed
/// download) does not un-revoke a serial: by cRLNumber, or by thisUpdate when
/// the CRLs carry no number; and the memory outlives the policy when shared
/// (a config reload), while a fresh one (a restart) starts over.
#[test]
fn an_older_crl_after_a_newer_one_is_refused() {
    let pki = ProviderPki::generate("Rollback").unwrap();
    let alice = pki.issue_subscriber("Kim", "R1", None).unwrap();
    let cms = signed(&pki, &alice);
    // Before the revocation: number 9, thisUpdate two hours ago.
    let older = |number| {
        bundle(
            &pki,
            &CrlSpec {
                number,
                this_update: Some(now() - 7200),
                ..CrlSpec::default()
            },
        )
    };
    let old_numbered = older(CrlNumber::Is(9));
    let old_plain = older(CrlNumber::Absent);
    pki.revoke(alice.cert.serial_number()).unwrap();
    let newer = |number| {
        bundle(
            &pki,
            &CrlSpec {
                number,
                ..CrlSpec::default()
            },
        )
    };
    let dir = temp_dir("crl-rollback");
    for (new, old, what) in [
        (newer(CrlNumber::Is(10)), &old_numbered, "cRLNumber"),
        (newer(CrlNumber::Absent), &old_plain, "thisUpdate"),
    ] {
        let path = dir.join(format!("{what}.pem"));
        std::fs::write(&path, old).unwrap();
        let memory = CrlMemory::new();
        let a = anchors(&pki).with_crl(
            CrlPolicy::from_file(&path, false)
                .named("rollback")
                .remembering(memory.clone()),
        );
        // The older CRL alone: not revoked yet.
        verify(&cms, &expect(), &a).unwrap();
        std::fs::write(&path, &new).unwrap();
        assert_eq!(
            verify(&cms, &expect(), &a).unwrap_err(),
            CmsError::Revoked,
            "{what}"
        );
        // Back to the older file (another size, so it is re-read): still revoked.
        std::fs::write(&path, old).unwrap();
        assert_eq!(
            verify(&cms, &expect(), &a).unwrap_err(),
            CmsError::Revoked,
            "{what}"
        );
        // A reload's new policy with the same memory: still revoked.
        let reloaded =
            anchors(&pki).with_crl(CrlPolicy::from_file(&path, false).remembering(memory.clone()));
        assert_eq!(
            verify(&cms, &expect(), &reloaded).unwrap_err(),
            CmsError::Revoked,
            "{what}"
        );
        // Without that memory (a restart) the older CRL is all there is.
        let restarted = anchors(&pki).with_crl(CrlPolicy::from_file(&path, false));
        verify(&cms, &expect(), &restarted).unwrap();
    }
    // Both in one bundle: the newer wins, in either order.
    for pem in [
        [newer(CrlNumber::Is(12)), old_numbered.clone()].concat(),
        [old_numbered.clone(), newer(CrlNumber::Is(12))].concat(),
    ] {
        let a = anchors(&pki).with_crl(CrlPolicy::from_pem(&pem, true).unwrap());
        assert_eq!(verify(&cms, &expect(), &a).unwrap_err(), CmsError::Revoked);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A CRL with an issuingDistributionPoint is used only when it provably
/// covers the certificate; otherwise it is no CRL for it: a partition that
/// omits the revoked serial un-revokes nothing, and with `crl_required` the
/// result is refused for want of a CRL.
#[test]
fn a_partitioned_crl_that_does_not_cover_the_certificate_is_no_crl() {
    let pki = ProviderPki::generate("Partition").unwrap();
    let alice = pki.issue_subscriber("Kim", "P1", None).unwrap();
    let cms = signed(&pki, &alice);
    pki.revoke(alice.cert.serial_number()).unwrap();
    // Partitions that omit alice's serial and do not cover her certificate.
    for idp in [
        Idp::SomeReasons,
        Idp::Indirect,
        Idp::CaCertsOnly,
        Idp::Named("http://127.0.0.1/crl/another-partition.crl".into()),
    ] {
        let pem = bundle(
            &pki,
            &CrlSpec {
                idp: Some(idp.clone()),
                empty: true,
                ..CrlSpec::default()
            },
        );
        let a = anchors(&pki).with_crl(CrlPolicy::from_pem(&pem, true).unwrap());
        assert_eq!(
            verify(&cms, &expect(), &a).unwrap_err(),
            CmsError::CrlUnavailable,
            "{idp:?}"
        );
        let a = anchors(&pki).with_crl(CrlPolicy::from_pem(&pem, false).unwrap());
        verify(&cms, &expect(), &a).unwrap();
    }
    // Partitions that do cover it are used: the serial they list refuses.
    for idp in [Idp::UserCertsOnly, Idp::Named(pki.crl_url())] {
        let pem = bundle(
            &pki,
            &CrlSpec {
                idp: Some(idp.clone()),
                ..CrlSpec::default()
            },
        );
        let a = anchors(&pki).with_crl(CrlPolicy::from_pem(&pem, true).unwrap());
        assert_eq!(
            verify(&cms, &expect(), &a).unwrap_err(),
            CmsError::Revoked,
            "{idp:?}"
        );
    }
    // The root's CRL for user certificates only does not cover the CA.
    let bob = pki.issue_subscriber("Lee", "P2", None).unwrap();
    let mut pem = pki.crl_pem_with(&CrlSpec::default()).unwrap();
    pem.extend(
        pki.crl_pem_with(&CrlSpec {
            by_root: true,
            idp: Some(Idp::UserCertsOnly),
            ..CrlSpec::default()
        })
        .unwrap(),
    );
    let a = anchors(&pki).with_crl(CrlPolicy::from_pem(&pem, true).unwrap());
    assert_eq!(
        verify(&signed(&pki, &bob), &expect(), &a).unwrap_err(),
        CmsError::CrlUnavailable
    );
}

/// A delta CRL lists only changes since its base; it is not a complete CRL
/// and is never used: alone it is no CRL, and beside the complete CRL it
/// un-revokes nothing. A CRL with a critical extension nobody knows is not
/// used either.
#[test]
fn delta_and_unknown_critical_crls_are_not_used() {
    let pki = ProviderPki::generate("Delta CRL").unwrap();
    let alice = pki.issue_subscriber("Kim", "DL1", None).unwrap();
    let bob = pki.issue_subscriber("Lee", "DL2", None).unwrap();
    let delta = bundle(
        &pki,
        &CrlSpec {
            delta_of: Some(1),
            ..CrlSpec::default()
        },
    );
    let unknown = bundle(
        &pki,
        &CrlSpec {
            unknown_critical: true,
            ..CrlSpec::default()
        },
    );
    for (pem, what) in [(&delta, "delta"), (&unknown, "unknown critical")] {
        let a = anchors(&pki).with_crl(CrlPolicy::from_pem(pem, true).unwrap());
        assert_eq!(
            verify(&signed(&pki, &bob), &expect(), &a).unwrap_err(),
            CmsError::CrlUnavailable,
            "{what}"
        );
    }
    // The complete CRL lists alice; a newer delta that does not is ignored.
    pki.revoke(alice.cert.serial_number()).unwrap();
    let mut pem = bundle(
        &pki,
        &CrlSpec {
            number: CrlNumber::Is(5),
            ..CrlSpec::default()
        },
    );
    pem.extend(
        pki.crl_pem_with(&CrlSpec {
            number: CrlNumber::Is(6),
            delta_of: Some(5),
            empty: true,
            ..CrlSpec::default()
        })
        .unwrap(),
    );
    let a = anchors(&pki).with_crl(CrlPolicy::from_pem(&pem, true).unwrap());
    assert_eq!(
        verify(&signed(&pki, &alice), &expect(), &a).unwrap_err(),
        CmsError::Revoked
    );
    verify(&signed(&pki, &bob), &expect(), &a).unwrap();
}

/// The CA above the signer is checked against the root's CRL: revoked, the
/// result is refused whatever `crl_required` says; with `crl_required`, the
/// root's CRL must be there too (required holds at every level).
#[test]
fn a_revoked_intermediate_refuses_the_result() {
    let pki = ProviderPki::generate("Intermediate").unwrap();
    let alice = pki.issue_subscriber("Kim", "I1", None).unwrap();
    let cms = signed(&pki, &alice);
    let ca_only = pki.crl_pem_with(&CrlSpec::default()).unwrap();
    let a = anchors(&pki).with_crl(CrlPolicy::from_pem(&ca_only, true).unwrap());
    assert_eq!(
        verify(&cms, &expect(), &a).unwrap_err(),
        CmsError::CrlUnavailable
    );
    let a = anchors(&pki).with_crl(CrlPolicy::from_pem(&pki.crl_pem().unwrap(), true).unwrap());
    verify(&cms, &expect(), &a).unwrap();

    pki.revoke_ca_at(now()).unwrap();
    for required in [true, false] {
        let a =
            anchors(&pki).with_crl(CrlPolicy::from_pem(&pki.crl_pem().unwrap(), required).unwrap());
        assert_eq!(
            verify(&cms, &expect(), &a).unwrap_err(),
            CmsError::CaRevoked
        );
    }
    assert_eq!(CmsError::CaRevoked.code(), "ca_revoked");
}

/// Long-term validity (`verify-receipt`): a serial revoked after the
/// signature was made does not fail it; revoked before (or at) the signing
/// time, it does. The login path refuses any listed serial.
#[test]
fn long_term_checks_compare_the_revocation_date_with_the_signing_time() {
    let pki = ProviderPki::generate("Long term").unwrap();
    let alice = pki.issue_subscriber("Kim", "L1", None).unwrap();
    let bob = pki.issue_subscriber("Lee", "L2", None).unwrap();
    let (a_cms, b_cms) = (signed(&pki, &alice), signed(&pki, &bob));
    let signed_at = now();
    pki.revoke_at(alice.cert.serial_number(), signed_at + 120)
        .unwrap();
    pki.revoke_at(bob.cert.serial_number(), signed_at - 120)
        .unwrap();
    let crl = pki.crl_pem().unwrap();
    let login = anchors(&pki).with_crl(CrlPolicy::from_pem(&crl, false).unwrap());
    let receipt = anchors(&pki).with_crl(CrlPolicy::from_pem(&crl, false).unwrap().long_term());
    for cms in [&a_cms, &b_cms] {
        assert_eq!(
            verify(cms, &expect(), &login).unwrap_err(),
            CmsError::Revoked
        );
    }
    verify(&a_cms, &expect(), &receipt).unwrap();
    assert_eq!(
        verify(&b_cms, &expect(), &receipt).unwrap_err(),
        CmsError::Revoked
    );
    // The same for the CA above them.
    let other = ProviderPki::generate("Long term CA").unwrap();
    let carol = other.issue_subscriber("Park", "L3", None).unwrap();
    let c_cms = signed(&other, &carol);
    other.revoke_ca_at(now() + 120).unwrap();
    let crl = other.crl_pem().unwrap();
    let receipt = anchors(&other).with_crl(CrlPolicy::from_pem(&crl, false).unwrap().long_term());
    verify(&c_cms, &expect(), &receipt).unwrap();
    let login = anchors(&other).with_crl(CrlPolicy::from_pem(&crl, false).unwrap());
    assert_eq!(
        verify(&c_cms, &expect(), &login).unwrap_err(),
        CmsError::CaRevoked
    );
}

/// A URL that served a newer CRL once and then an older one again, with no
/// verification in between (a quiet night): the newer one is still held
/// beside the older and wins at the next check, so the serial stays revoked.
#[tokio::test]
async fn a_newer_crl_seen_only_by_the_fetcher_still_wins() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let pki = ProviderPki::generate("Quiet").unwrap();
    let alice = pki.issue_subscriber("Kim", "Q1", None).unwrap();
    let old = bundle(
        &pki,
        &CrlSpec {
            number: CrlNumber::Is(9),
            this_update: Some(now() - 7200),
            ..CrlSpec::default()
        },
    );
    pki.revoke(alice.cert.serial_number()).unwrap();
    let new = bundle(
        &pki,
        &CrlSpec {
            number: CrlNumber::Is(10),
            ..CrlSpec::default()
        },
    );
    // The first fetch gets the newer CRL; every later one the older.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/crl", listener.local_addr().unwrap());
    let served = std::sync::Arc::new(AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&served);
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf).await;
            let body = if count.fetch_add(1, Ordering::SeqCst) == 0 {
                new.clone()
            } else {
                old.clone()
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/pkix-crl\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(&body).await;
        }
    });
    let http =
        munjigi_providers::http_client::HttpClient::new(None, std::time::Duration::from_secs(2))
            .unwrap()
            .allow_plain_http(true);
    let fast = CrlRefresh {
        max_interval: std::time::Duration::from_millis(150),
        retry_after: std::time::Duration::from_millis(50),
    };
    let a = anchors(&pki).with_crl(
        CrlPolicy::from_url("quiet", &url, http, fast, true).remembering(CrlMemory::new()),
    );
    // No verification until the older CRL has been served (at least twice).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while served.load(Ordering::SeqCst) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the fetcher never refetched"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        verify(&signed(&pki, &alice), &expect(), &a).unwrap_err(),
        CmsError::Revoked
    );
    server.abort();
}
