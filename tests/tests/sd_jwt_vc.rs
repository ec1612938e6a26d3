//! The gateway's SD-JWT VC verifier (`munjigi_providers::openid4vp`) against
//! credentials and presentations made by an independent implementation: the
//! `sd-jwt` Python library (OpenWallet Foundation, PyPI 0.10.4) with
//! jwcrypto, as issuer and wallet (`tests/wallet/sd_jwt_wallet.py`), under a
//! test CA made here. A good presentation gives its disclosed claims and
//! nothing else; each misbehaviour is refused for its own reason; a Token
//! Status List (signed with jwcrypto; its bits packed by the script, so
//! the draft's own test vectors in `status_list`'s unit tests are what hold
//! the bit order) decides revocation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::vc_pki::{b64, pki, pki_with, store, Leaf, Pki};
use munjigi_e2e::*;
use munjigi_providers::openid4vp::sd_jwt::{self, Policy, SdJwtError};
use munjigi_providers::openid4vp::status_list::{self, StatusError};
use openssl::x509::store::X509Store;

const VCT: &str = "https://credentials.example.go.kr/identity";
const ISS: &str = "https://issuer.example.go.kr";
const AUD: &str = "x509_san_dns:login.example.go.kr";
const NONCE: &str = "n-0S6_WzA2Mj-hM2Kr5T1a";

/// Asks the Python issuer and wallet for a presentation.
fn wallet(p: &Pki, misbehave: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut req = serde_json::json!({
        "issuer_key": String::from_utf8(p.leaf_key.private_key_to_pem_pkcs8().unwrap()).unwrap(),
        "x5c": [b64(&p.leaf.to_der().unwrap()), b64(&p.ca.to_der().unwrap())],
        "iss": ISS,
        "vct": VCT,
        "claims": {
            "name": "홍길동", "birthdate": "1990-01-31", "ihidnum": "900131-1234567",
            "address": {"locality": "서울특별시"}, "nationalities": ["KR", "US"],
        },
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
    wallet_script("sd_jwt_wallet.py", &req)
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
    // A structured claim and array elements, each disclosed on its own
    // (among the library's decoy digests): the element not disclosed is gone.
    assert_eq!(
        presented.claims["address"],
        serde_json::json!({"locality": "서울특별시"})
    );
    assert_eq!(presented.claims["nationalities"], serde_json::json!(["KR"]));
    assert_eq!(presented.holder.len(), 43, "a SHA-256 JWK thumbprint");
    assert_eq!(presented.status, None);
}

/// Whether a refusal is the one a misbehaviour must get.
type Expect = fn(&SdJwtError) -> bool;

#[test]
fn each_misbehaviour_is_refused_for_its_reason() {
    let p = pki("Test Issuer CA", ISS);
    let types = vec![(VCT.to_owned(), store(&p.ca))];
    let cases: [(&str, Expect); 12] = [
        ("wrong_nonce", |e| {
            *e == SdJwtError::Binding("another request's nonce")
        }),
        ("wrong_aud", |e| {
            *e == SdJwtError::Binding("made for another verifier")
        }),
        ("other_holder_key", |e| {
            *e == SdJwtError::Binding("the holder's signature does not verify")
        }),
        ("no_key_binding", |e| *e == SdJwtError::Binding("no KB-JWT")),
        ("dropped_disclosure", |e| {
            *e == SdJwtError::Binding("sd_hash is not of this presentation")
        }),
        ("stale_kb", |e| {
            *e == SdJwtError::Binding("made outside this request's time")
        }),
        ("kb_typ", |e| {
            *e == SdJwtError::Binding("the KB-JWT's typ or alg")
        }),
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
    // An issuer certificate that names only the host (any path, any
    // tenant, a TLS certificate), or is a CA itself; the anchor signing
    // directly.
    for (what, leaf) in [("dns only", Leaf::DnsOnly), ("a CA", Leaf::Ca)] {
        let odd = pki_with("Test Issuer CA", ISS, leaf);
        let types = vec![(VCT.to_owned(), store(&odd.ca))];
        let made = wallet(&odd, "none", serde_json::json!({}));
        assert_eq!(
            verify(made["presentation"].as_str().unwrap(), &types, false),
            Err(SdJwtError::Issuer),
            "{what}"
        );
    }
    let anchor_signs = Pki {
        leaf: p.ca.clone(),
        ca: p.ca.clone(),
        leaf_key: p.leaf_key.clone(),
    };
    let made = wallet(&anchor_signs, "none", serde_json::json!({}));
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
            status_list::check(token, uri, idx, ISS, &anchors, now()),
            want,
            "index {idx}"
        );
        // The token is for its own list only, and past its end nothing is valid.
        assert!(status_list::check(
            token,
            "https://issuer.example.go.kr/status/2",
            idx,
            ISS,
            &anchors,
            now()
        )
        .is_err());
        assert_eq!(
            status_list::check(token, uri, 10_000, ISS, &anchors, now()),
            Err(StatusError::Index)
        );
        // A token from an untrusted signer, or from another issuer under the
        // same anchors, decides nothing.
        let stranger = store(&pki("Unknown CA", ISS).ca);
        assert!(matches!(
            status_list::check(token, uri, idx, ISS, &stranger, now()),
            Err(StatusError::Token(_))
        ));
        assert!(matches!(
            status_list::check(
                token,
                uri,
                idx,
                "https://other.example.go.kr",
                &anchors,
                now()
            ),
            Err(StatusError::Token(_))
        ));
    }
    // Without `exp`, a day-old list is too old to say anything.
    let values: Vec<u8> = vec![0; 8];
    for (age, fresh) in [(60u64, true), (90_000, false)] {
        let made = wallet(
            &p,
            "none",
            serde_json::json!({
                "status": {"idx": 1, "uri": uri},
                "status_list": {"bits": 1, "values": values, "uri": uri, "no_exp": true, "age": age},
            }),
        );
        let token = made["status_token"].as_str().unwrap();
        assert_eq!(
            status_list::check(token, uri, 1, ISS, &anchors, now()).is_ok(),
            fresh,
            "a list {age} s old without exp"
        );
    }
}
