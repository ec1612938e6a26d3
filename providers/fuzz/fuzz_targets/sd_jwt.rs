//! Anything a wallet (or anyone) can post as an OpenID4VP presentation,
//! through the SD-JWT VC verifier (`munjigi_providers::openid4vp`), never a
//! panic, two ways:
//!
//! - the input as a whole presentation, JWS, JWK or Token Status List: read
//!   or refused (random input never carries a signature that verifies);
//! - the input's first line as the issuer's payload (a JSON object, with
//!   `iss`, `vct`, `exp` and `cnf` set to a trusted issuer's and holder's)
//!   and its other lines as disclosures, signed here by a test issuer under
//!   a trusted test CA and bound by the holder's KB-JWT: so the disclosure
//!   walk, the digest rules and the key binding are what is fuzzed, past the
//!   signatures that random input cannot make;
//! - the input as a `direct_post.jwt` response (a compact JWE, refused: no
//!   random input carries a GCM tag that verifies) and as a `vp_token`; and
//!   as the plaintext of a JWE sealed here to a login's key, which must
//!   open to exactly the input.
#![no_main]

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use munjigi_providers::openid4vp::{dcql, jose, jwe, sd_jwt, status_list};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::{X509Name, X509};
use serde_json::{json, Value};
use std::sync::OnceLock;

const ISS: &str = "https://issuer.fuzz.example";
const VCT: &str = "https://credentials.example/identity";

struct World {
    types: Vec<(String, X509Store)>,
    x5c: Vec<String>,
    issuer: EcKey<Private>,
    holder: EcKey<Private>,
    holder_jwk: Value,
}

fn key() -> EcKey<Private> {
    EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap()
}

fn cert(cn: &str, key: &EcKey<Private>, signer: Option<(&X509, &EcKey<Private>)>) -> X509 {
    let mut n = X509Name::builder().unwrap();
    n.append_entry_by_text("CN", cn).unwrap();
    let n = n.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap()).unwrap();
    b.set_subject_name(&n).unwrap();
    b.set_pubkey(&PKey::from_ec_key(key.clone()).unwrap()).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(3650).unwrap()).unwrap();
    match signer {
        None => {
            b.set_issuer_name(&n).unwrap();
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap()).unwrap();
            b.sign(&PKey::from_ec_key(key.clone()).unwrap(), MessageDigest::sha256()).unwrap();
        }
        Some((ca, ca_key)) => {
            b.set_issuer_name(ca.subject_name()).unwrap();
            let san = SubjectAlternativeName::new()
                .uri(ISS)
                .build(&b.x509v3_context(Some(ca), None))
                .unwrap();
            b.append_extension(san).unwrap();
            b.sign(&PKey::from_ec_key(ca_key.clone()).unwrap(), MessageDigest::sha256()).unwrap();
        }
    }
    b.build()
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let ca_key = key();
        let ca = cert("Fuzz CA", &ca_key, None);
        let issuer = key();
        let leaf = cert("Fuzz issuer", &issuer, Some((&ca, &ca_key)));
        let mut s = X509StoreBuilder::new().unwrap();
        s.add_cert(ca.clone()).unwrap();
        let holder = key();
        let mut ctx = openssl::bn::BigNumContext::new().unwrap();
        let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
        holder
            .public_key()
            .affine_coordinates(holder.group(), &mut x, &mut y, &mut ctx)
            .unwrap();
        let holder_jwk = json!({
            "kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(x.to_vec_padded(32).unwrap()),
            "y": URL_SAFE_NO_PAD.encode(y.to_vec_padded(32).unwrap()),
        });
        World {
            types: vec![(VCT.to_owned(), s.build())],
            x5c: vec![STANDARD.encode(leaf.to_der().unwrap()), STANDARD.encode(ca.to_der().unwrap())],
            issuer,
            holder,
            holder_jwk,
        }
    })
}

fn jws(header: &Value, payload: &Value, key: &EcKey<Private>) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let sig = EcdsaSig::sign(&openssl::sha::sha256(input.as_bytes()), key).unwrap();
    let mut raw = sig.r().to_vec_padded(32).unwrap();
    raw.extend(sig.s().to_vec_padded(32).unwrap());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw))
}

fuzz_target!(|data: &[u8]| {
    // As a sealed response: random input never opens; the input sealed to
    // this login's key opens to itself.
    static LOGIN: OnceLock<(EcKey<Private>, Value)> = OnceLock::new();
    let (login_key, login_jwk) = LOGIN.get_or_init(|| {
        let k = jwe::response_key(b"fuzz-secret", "fuzzlogin").unwrap();
        let j = jwe::public_jwk(&k, "fuzzlogin").unwrap();
        (k, j)
    });
    if data.len() <= jwe::MAX_LEN / 2 {
        let sealed = jwe::seal(login_jwk, "A128GCM", data).unwrap();
        assert_eq!(jwe::kid(&sealed).as_deref(), Some("fuzzlogin"));
        assert_eq!(jwe::open(&sealed, login_key, "fuzzlogin").unwrap(), data);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let w = world();
    let policy = |now| sd_jwt::Policy {
        types: &w.types,
        nonce: "n-fuzz",
        audience: "x509_san_dns:login.example",
        now,
        legacy_typ: true,
    };
    let now = 1_800_000_000;

    // As it came.
    assert!(jwe::open(text, login_key, "fuzzlogin").is_err(), "no random tag verifies");
    let _ = jwe::kid(text);
    let _ = dcql::presentation(text);
    assert!(sd_jwt::verify(text, &policy(now)).is_err(), "nothing random is trusted");
    if let Some(j) = jose::split(text) {
        let _ = jose::p256_jwk(&j.header);
        let _ = jose::x5c(&j.header);
    }
    for bits in [1u8, 2, 4, 8] {
        let _ = status_list::status_at(text, bits, u64::from(data.len() as u32));
    }
    let _ = status_list::check(text, "https://s.example/1", 0, ISS, &w.types[0].1, now);

    // As a payload and disclosures, signed by a trusted issuer and bound.
    let mut lines = text.lines();
    let Some(Ok(Value::Object(mut payload))) = lines.next().map(serde_json::from_str::<Value>) else {
        return;
    };
    payload.insert("iss".into(), ISS.into());
    payload.insert("vct".into(), VCT.into());
    payload.insert("exp".into(), json!(now + 3600));
    payload.insert("cnf".into(), json!({"jwk": w.holder_jwk}));
    let header = json!({"alg": "ES256", "typ": "dc+sd-jwt", "x5c": w.x5c});
    let mut signed = jws(&header, &Value::Object(payload), &w.issuer);
    signed.push('~');
    for d in lines.take(32) {
        let d = d.trim();
        if !d.is_empty() && !d.contains('~') {
            signed.push_str(&URL_SAFE_NO_PAD.encode(d));
            signed.push('~');
        }
    }
    let kb = jws(
        &json!({"alg": "ES256", "typ": "kb+jwt"}),
        &json!({"nonce": "n-fuzz", "aud": "x509_san_dns:login.example", "iat": now,
                "sd_hash": URL_SAFE_NO_PAD.encode(openssl::sha::sha256(signed.as_bytes()))}),
        &w.holder,
    );
    let presentation = format!("{signed}{kb}");
    if let Ok(p) = sd_jwt::verify(&presentation, &policy(now)) {
        // Whatever was disclosed, the trusted frame stays as the issuer set it.
        assert_eq!(p.iss, ISS);
        assert_eq!(p.vct, VCT);
        assert!(p.claims.get("_sd").is_none() && p.claims.get("_sd_alg").is_none());
    }
});
