//! The gateway's SD-JWT VC verifier (`munjigi_providers::openid4vp`) against
//! credentials and presentations made by an independent implementation: the
//! `sd-jwt` Python library (OpenWallet Foundation, PyPI 0.10.4) with
//! jwcrypto, as issuer and wallet (`tests/wallet/sd_jwt_wallet.py`), under a
//! test CA made here. A good presentation gives its disclosed claims and
//! nothing else; each misbehaviour is refused for its own reason; a Token
//! Status List made by the same library decides revocation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;
use munjigi_providers::openid4vp::sd_jwt::{self, Policy, SdJwtError};
use munjigi_providers::openid4vp::status_list::{self, StatusError};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectAlternativeName};
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::{X509Name, X509};
use std::io::Write as _;
use std::process::{Command, Stdio};

const VCT: &str = "https://credentials.example.go.kr/identity";
const ISS: &str = "https://issuer.example.go.kr";
const AUD: &str = "x509_san_dns:login.example.go.kr";
const NONCE: &str = "n-0S6_WzA2Mj-hM2Kr5T1a";

fn key() -> PKey<Private> {
    let g = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&g).unwrap()).unwrap()
}

fn name(cn: &str) -> X509Name {
    let mut n = X509Name::builder().unwrap();
    n.append_entry_by_text("CN", cn).unwrap();
    n.build()
}

/// A test CA and an issuer certificate under it naming `iss`.
struct Pki {
    ca: X509,
    leaf: X509,
    leaf_key: PKey<Private>,
}

fn pki(cn: &str, iss: &str) -> Pki {
    let ca_key = key();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name(cn)).unwrap();
    b.set_issuer_name(&name(cn)).unwrap();
    b.set_pubkey(&ca_key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .unwrap(),
    )
    .unwrap();
    b.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let ca = b.build();

    let leaf_key = key();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(2).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name("issuer")).unwrap();
    b.set_issuer_name(ca.subject_name()).unwrap();
    b.set_pubkey(&leaf_key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .uri(iss)
        .build(&b.x509v3_context(Some(&ca), None))
        .unwrap();
    b.append_extension(san).unwrap();
    b.sign(&ca_key, MessageDigest::sha256()).unwrap();
    Pki {
        ca,
        leaf: b.build(),
        leaf_key,
    }
}

fn store(ca: &X509) -> X509Store {
    let mut s = X509StoreBuilder::new().unwrap();
    s.add_cert(ca.clone()).unwrap();
    s.build()
}

fn b64(der: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der)
}

/// Asks the Python issuer and wallet for a presentation.
fn wallet(p: &Pki, misbehave: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut req = serde_json::json!({
        "issuer_key": String::from_utf8(p.leaf_key.private_key_to_pem_pkcs8().unwrap()).unwrap(),
        "x5c": [b64(&p.leaf.to_der().unwrap()), b64(&p.ca.to_der().unwrap())],
        "iss": ISS,
        "vct": VCT,
        "claims": {"name": "홍길동", "birthdate": "1990-01-31", "ihidnum": "900131-1234567"},
        "sd": ["name", "birthdate", "ihidnum"],
        "disclose": ["name", "birthdate"],
        "nonce": NONCE,
        "aud": AUD,
        "misbehave": misbehave,
    });
    if let (Some(r), Some(e)) = (req.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            r.insert(k.clone(), v.clone());
        }
    }
    let mut child = Command::new(python())
        .arg(repo_root().join("tests/wallet/sd_jwt_wallet.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(req.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Python wallet failed ({misbehave}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn verify(
    presentation: &str,
    types: &[(String, X509Store)],
    legacy: bool,
) -> Result<sd_jwt::Presented, SdJwtError> {
    sd_jwt::verify(
        presentation,
        &Policy {
            types,
            nonce: NONCE,
            audience: AUD,
            now: now(),
            legacy_typ: legacy,
        },
    )
}

#[test]
fn a_presentation_from_an_independent_wallet_gives_only_what_was_disclosed() {
    let p = pki("Test Issuer CA", ISS);
    let types = vec![(VCT.to_owned(), store(&p.ca))];
    let good = wallet(&p, "none", serde_json::json!({}));
    let presented = verify(good["presentation"].as_str().unwrap(), &types, false).unwrap();
    assert_eq!(presented.vct, VCT);
    assert_eq!(presented.iss, ISS);
    assert_eq!(presented.claims["name"], "홍길동");
    assert_eq!(presented.claims["birthdate"], "1990-01-31");
    assert!(
        presented.claims.get("ihidnum").is_none(),
        "a claim not disclosed stays hidden"
    );
    assert!(presented.claims.get("_sd").is_none() && presented.claims.get("_sd_alg").is_none());
    assert_eq!(presented.holder.len(), 43, "a SHA-256 JWK thumbprint");
    assert_eq!(presented.status, None);
}

/// Whether a refusal is the one a misbehaviour must get.
type Expect = fn(&SdJwtError) -> bool;

#[test]
fn each_misbehaviour_is_refused_for_its_reason() {
    let p = pki("Test Issuer CA", ISS);
    let types = vec![(VCT.to_owned(), store(&p.ca))];
    let cases: [(&str, Expect); 9] = [
        ("wrong_nonce", |e| matches!(e, SdJwtError::Binding(_))),
        ("wrong_aud", |e| matches!(e, SdJwtError::Binding(_))),
        ("other_holder_key", |e| matches!(e, SdJwtError::Binding(_))),
        ("no_key_binding", |e| matches!(e, SdJwtError::Binding(_))),
        ("expired", |e| matches!(e, SdJwtError::Time(_))),
        ("tampered_disclosure", |e| {
            matches!(e, SdJwtError::Disclosure(_))
        }),
        ("tampered_payload", |e| {
            matches!(e, SdJwtError::IssuerSignature)
        }),
        ("extra_disclosure", |e| {
            matches!(e, SdJwtError::Disclosure(_))
        }),
        ("legacy_typ", |e| matches!(e, SdJwtError::Shape(_))),
    ];
    for (bad, expected) in cases {
        let made = wallet(&p, bad, serde_json::json!({}));
        let e = verify(made["presentation"].as_str().unwrap(), &types, false).expect_err(bad);
        assert!(expected(&e), "{bad}: {e:?}");
    }
    // The pre-2024 typ only where allowed.
    let legacy = wallet(&p, "legacy_typ", serde_json::json!({}));
    assert!(verify(legacy["presentation"].as_str().unwrap(), &types, true).is_ok());

    // Replayed: a good presentation for this request, checked for another.
    let good = wallet(&p, "none", serde_json::json!({}));
    let e = sd_jwt::verify(
        good["presentation"].as_str().unwrap(),
        &Policy {
            types: &types,
            nonce: "the-next-request-nonce",
            audience: AUD,
            now: now(),
            legacy_typ: false,
        },
    )
    .unwrap_err();
    assert!(matches!(e, SdJwtError::Binding(_)), "{e:?}");

    // An issuer under another CA; a type not accepted; an issuer
    // certificate naming someone else.
    let stranger = pki("Unknown CA", ISS);
    let made = wallet(&stranger, "none", serde_json::json!({}));
    assert_eq!(
        verify(made["presentation"].as_str().unwrap(), &types, false),
        Err(SdJwtError::Issuer)
    );
    let made = wallet(
        &p,
        "none",
        serde_json::json!({"vct": "https://other.example/type"}),
    );
    assert_eq!(
        verify(made["presentation"].as_str().unwrap(), &types, false),
        Err(SdJwtError::Type)
    );
    let made = wallet(
        &p,
        "none",
        serde_json::json!({"iss": "https://impostor.example"}),
    );
    assert_eq!(
        verify(made["presentation"].as_str().unwrap(), &types, false),
        Err(SdJwtError::Issuer)
    );
}

#[test]
fn a_status_list_from_the_issuer_decides_revocation() {
    let p = pki("Test Issuer CA", ISS);
    let uri = "https://issuer.example.go.kr/status/1";
    let anchors = store(&p.ca);
    // Index 3 revoked (1), index 5 suspended (2), the rest valid.
    let values: Vec<u8> = (0..40)
        .map(|i| match i {
            3 => 1,
            5 => 2,
            _ => 0,
        })
        .collect();
    for (idx, want) in [
        (0u64, Ok(())),
        (3, Err(StatusError::NotValid(1))),
        (5, Err(StatusError::NotValid(2))),
        (39, Ok(())),
    ] {
        let made = wallet(
            &p,
            "none",
            serde_json::json!({
                "status": {"idx": idx, "uri": uri},
                "status_list": {"bits": 2, "values": values, "uri": uri},
            }),
        );
        let types = vec![(VCT.to_owned(), store(&p.ca))];
        let presented = verify(made["presentation"].as_str().unwrap(), &types, false).unwrap();
        assert_eq!(presented.status, Some((idx, uri.to_owned())));
        let token = made["status_token"].as_str().unwrap();
        assert_eq!(
            status_list::check(token, uri, idx, &anchors, now()),
            want,
            "index {idx}"
        );
        // The token is for its own list only, and past its end nothing is valid.
        assert!(status_list::check(
            token,
            "https://issuer.example.go.kr/status/2",
            idx,
            &anchors,
            now()
        )
        .is_err());
        assert_eq!(
            status_list::check(token, uri, 10_000, &anchors, now()),
            Err(StatusError::Index)
        );
        // A token from an untrusted signer decides nothing.
        let stranger = store(&pki("Unknown CA", ISS).ca);
        assert!(matches!(
            status_list::check(token, uri, idx, &stranger, now()),
            Err(StatusError::Token(_))
        ));
    }
}
