//! Unguessable identifiers: transaction ids, codes, tokens, CSRF tokens, nonces.
//!
//! All come straight from the kernel's CSPRNG (`getrandom(2)`), 128 bits or
//! more, base64url. (OpenSSL 3's RAND_bytes takes global locks and a DRBG
//! lookup per call: several times the cost, for no stronger output.)

use base64::Engine as _;

#[derive(Debug, thiserror::Error)]
#[error("the system random generator failed")]
pub struct RandomError;

/// `bytes` random bytes as unpadded base64url.
pub fn token(bytes: usize) -> Result<String, RandomError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|_| RandomError)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// `N` random bytes, raw (for short codes drawn from them).
pub fn bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|_| RandomError)?;
    Ok(buf)
}

/// A request id for logs: unique per process run, cheap, not secret (a random
/// per-process prefix and a counter), so the proxy's hot path draws no randomness.
pub fn request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PREFIX: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| token(4).unwrap_or_else(|_| "0000".into()));
    format!("{prefix}{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// SHA-256 of a secret as base64url: what the store keeps instead of the secret.
pub fn digest(secret: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(openssl::sha::sha256(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_distinct_and_sized() {
        let a = super::token(16).unwrap();
        assert_eq!(a.len(), 22);
        assert_ne!(a, super::token(16).unwrap());
    }

    #[test]
    fn request_ids_are_distinct() {
        let a = super::request_id();
        assert_ne!(a, super::request_id());
        assert!(a.len() >= 7);
    }
}
