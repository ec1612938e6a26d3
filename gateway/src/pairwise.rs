//! Pairwise subjects: the same citizen gets the same `sub` on one site whichever
//! provider they used, and two sites cannot correlate their `sub`s.
//!
//! `sub = base64url(HMAC-SHA256(key, "munjigi-sub-v1" ‖ 0 ‖ site ‖ 0 ‖ CI))`. The CI
//! is the same for a person at every provider, which gives the provider
//! independence; the site id and the deployment key give the unlinkability.
//! Changing the key or a site id changes every `sub` of that site.

use base64::Engine as _;
use munjigi_providers::Ci;

#[derive(Debug, thiserror::Error)]
#[error("pairwise subject derivation failed")]
pub struct PairwiseError;

/// HMAC-SHA256 (RFC 2104) over the concatenation of `parts`, written out on
/// the SHA-256 primitive: OpenSSL 3's generic MAC interface looks the
/// algorithm up again on every call, which cost more than the hashing.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let hashed;
    let key = if key.len() > 64 {
        hashed = openssl::sha::sha256(key);
        hashed.as_slice()
    } else {
        key
    };
    let mut block = [0u8; 64];
    for (b, k) in block.iter_mut().zip(key) {
        *b = *k;
    }
    let mut inner = openssl::sha::Sha256::new();
    inner.update(&block.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = openssl::sha::Sha256::new();
    outer.update(&block.map(|b| b ^ 0x5c));
    outer.update(&inner.finish());
    outer.finish()
}

pub fn subject(key: &[u8], site: &str, ci: &Ci) -> Result<String, PairwiseError> {
    let mac = hmac_sha256(
        key,
        &[
            b"munjigi-sub-v1",
            b"\0",
            site.as_bytes(),
            b"\0",
            ci.expose().as_bytes(),
        ],
    );
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci(c: char) -> Ci {
        Ci::parse(&base64::engine::general_purpose::STANDARD.encode([c as u8; 64])).unwrap()
    }

    #[test]
    fn stable_per_site_and_unlinkable_across_sites() {
        let key = [7u8; 32];
        let a = subject(&key, "town", &ci('A')).unwrap();
        assert_eq!(a, subject(&key, "town", &ci('A')).unwrap());
        assert_ne!(a, subject(&key, "tax", &ci('A')).unwrap());
        assert_ne!(a, subject(&key, "town", &ci('B')).unwrap());
        assert_ne!(a, subject(&[8u8; 32], "town", &ci('A')).unwrap());
        assert_eq!(a.len(), 43);
    }

    #[test]
    fn the_hmac_is_openssls_hmac() {
        use openssl::{hash::MessageDigest, pkey::PKey, sign::Signer};
        for key in [vec![7u8; 32], vec![9u8; 64], vec![3u8; 100], vec![1u8]] {
            let pkey = PKey::hmac(&key).unwrap();
            let mut s = Signer::new(MessageDigest::sha256(), &pkey).unwrap();
            s.update(b"ab\0cd").unwrap();
            let want = s.sign_to_vec().unwrap();
            assert_eq!(hmac_sha256(&key, &[b"ab", b"\0", b"cd"]).to_vec(), want);
        }
    }
}
