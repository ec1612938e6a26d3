//! Anything a wallet (or anyone) can post as an OpenID4VP presentation,
//! through the SD-JWT VC verifier (`munjigi_providers::openid4vp`): a
//! presentation of any shape is refused (random input never carries a
//! signature that verifies) without a panic; compact JWS parts, JWKs and
//! Token Status Lists of any shape are read or refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use munjigi_providers::openid4vp::{jose, sd_jwt, status_list};
use openssl::x509::store::X509StoreBuilder;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let store = X509StoreBuilder::new().unwrap().build();
    let types = vec![("https://credentials.example/identity".to_owned(), store)];
    let r = sd_jwt::verify(
        text,
        &sd_jwt::Policy {
            types: &types,
            nonce: "n",
            audience: "x509_san_dns:login.example",
            now: 1_800_000_000,
            legacy_typ: true,
        },
    );
    assert!(r.is_err(), "nothing random is trusted");
    if let Some(jws) = jose::split(text) {
        let _ = jose::p256_jwk(&jws.header);
        let _ = jose::x5c(&jws.header);
    }
    for bits in [1u8, 2, 4, 8] {
        let _ = status_list::status_at(text, bits, u64::from(data.len() as u32));
    }
    let _ = status_list::check(text, "https://s.example/1", 0, "https://i.example", &types[0].1, 1_800_000_000);
});
