//! HMAC-SHA256 (RFC 2104) written out on the SHA-256 primitive.
//!
//! OpenSSL 3's generic MAC interface (`PKey::hmac` + `Signer`) looks the
//! algorithm up again on every call, which cost more than the hashing itself
//! on paths that run per login (pairwise subjects, provider request
//! signatures). The output is OpenSSL's HMAC, byte for byte (tested).

/// HMAC-SHA256 under `key` over the concatenation of `parts`.
pub fn sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
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

#[cfg(test)]
mod tests {
    #[test]
    fn is_openssls_hmac() {
        use openssl::{hash::MessageDigest, pkey::PKey, sign::Signer};
        for key in [vec![7u8; 32], vec![9u8; 64], vec![3u8; 100], vec![1u8]] {
            let pkey = PKey::hmac(&key).unwrap();
            let mut s = Signer::new(MessageDigest::sha256(), &pkey).unwrap();
            s.update(b"ab\0cd").unwrap();
            let want = s.sign_to_vec().unwrap();
            assert_eq!(super::sha256(&key, &[b"ab", b"\0", b"cd"]).to_vec(), want);
            assert_eq!(super::sha256(&key, &[b"ab\0cd"]).to_vec(), want);
        }
        // OpenSSL refuses an empty key; the known answer for "" over "".
        assert_eq!(
            hex::encode(super::sha256(b"", &[])),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"
        );
    }
}
