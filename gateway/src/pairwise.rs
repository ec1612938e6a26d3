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

pub fn subject(key: &[u8], site: &str, ci: &Ci) -> Result<String, PairwiseError> {
    let mac = munjigi_providers::hmac::sha256(
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
}
