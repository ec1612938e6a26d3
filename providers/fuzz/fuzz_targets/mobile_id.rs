//! Anything a wallet (or anyone) can post to `/mip/vp`, through the mobile
//! ID readers (`munjigi_providers::mobile_id`): the call is read as each
//! endpoint's message or refused with its code, the envelope is opened with
//! the SP's key or refused, a presentation of any shape is checked or
//! refused, signatures and base64 are parsed or refused, a trust list is
//! read or refused, and nothing panics. The input is used three ways: as the hex envelope, as the
//! presentation JSON, and as signature and base64 text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use munjigi_providers::mobile_id::sig::{self, Compact, Curve};
use munjigi_providers::mobile_id::{b64, msg, seal, trust, vp};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private, Public};
use std::sync::OnceLock;

fn sp_key() -> &'static PKey<Private> {
    static KEY: OnceLock<PKey<Private>> = OnceLock::new();
    KEY.get_or_init(|| PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap())
}

fn any_key() -> &'static EcKey<Private> {
    static KEY: OnceLock<EcKey<Private>> = OnceLock::new();
    KEY.get_or_init(|| {
        EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap()
    })
}

/// Knows every DID and key id as one key, and every credential as active:
/// the checks after the signatures are reached only by signatures that
/// verify, which random input does not make; the shape checks before them
/// are what is fuzzed.
struct Everyone;

impl vp::Resolver for Everyone {
    fn key(&self, _did: &str, _key_id: &str) -> Option<(Curve, EcKey<Public>)> {
        let b58 = sig::public_key_base58(Curve::R1, any_key()).ok()?;
        Some((Curve::R1, sig::public_key(Curve::R1, &b58).ok()?))
    }
    fn active(&self, _vc_id: &str) -> Option<bool> {
        Some(true)
    }
}

fuzz_target!(|data: &[u8]| {
    // As a wallet's call to each endpoint.
    let _ = msg::read::<msg::M310>(data, "310");
    let _ = msg::read::<msg::M400>(data, "400");
    let _ = msg::read::<msg::M900>(data, "900");
    // As the operator's trust list (DID documents and statuses).
    let _ = trust::List::parse(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(opened) = seal::open(sp_key(), text) {
        // Only a real seal opens: random hex never passes OAEP.
        assert!(!opened.is_empty() || text.is_empty());
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        let issuers = vec!["did:kr:mobileid:issuer".to_owned()];
        let codes = vec!["mdriverlic".to_owned()];
        let nonce = "ab".repeat(32);
        let _ = vp::check(
            &v,
            &vp::Expected {
                nonce: &nonce,
                issuers: &issuers,
                codes: &codes,
                claims: &["name", "birth"],
                since: 0,
                now: 1_800_000_000,
            },
            &Everyone,
        );
    }
    let _ = Compact::from_base58(text);
    let _ = Compact::from_eosio(text, Curve::K1);
    let _ = Compact::from_eosio(text, Curve::R1);
    let _ = sig::public_key(Curve::K1, text);
    if let Some(bytes) = b64::decode(text) {
        // What reads back encodes to the same text (without padding).
        assert_eq!(b64::encode(&bytes), text.trim_end_matches('='));
    }
});
