//! The presentation's envelope: the wallet encrypts the VP to the SP's
//! RSA-2048 key (the profile's `publicKey`), as `vp.data`:
//! hex( u16be L ‖ RSA ciphertext of L bytes ‖ AES-256-CBC ciphertext ).
//!
//! Established from the reference SP's test material: L is 256 (RSA-2048),
//! and the AES part is exactly the PKCS#7-padded plaintext's length, so
//! neither IV nor tag travels beside it. Not established (the reference
//! library is obfuscated): the RSA padding and what the RSA block holds.
//! Strict reading taken here, and by our simulator's wallet: RSA-OAEP with
//! SHA-256 (MGF1-SHA-256), the block holding the AES key (32 bytes) then the
//! IV (16). PKCS#1 v1.5 is not accepted: anyone can post ciphertexts to
//! `/mip/vp`, and v1.5 decryption without implicit rejection (OpenSSL
//! before 3.2, as on Debian 12) is a padding oracle. Every failure reads the
//! same ([`SealError::Unreadable`]), whatever step failed.

use openssl::pkey::{PKey, Private};
use openssl::rsa::Padding;
use openssl::symm::{decrypt, Cipher};

/// The largest `vp.data` accepted, in hex characters (a presentation of a
/// few credentials is a few kilobytes).
pub const MAX_HEX_LEN: usize = 256 * 1024;
const RSA_LEN: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Too large, not hex, the wrong shape, or it does not decrypt.
    #[error("the presentation cannot be decrypted")]
    Unreadable,
}

/// Any failure, whichever: the one answer.
fn u<E>(_: E) -> SealError {
    SealError::Unreadable
}

/// The VP's JSON bytes from `vp.data`, with the SP's RSA key.
pub fn open(key: &PKey<Private>, hex_data: &str) -> Result<Vec<u8>, SealError> {
    if hex_data.len() > MAX_HEX_LEN {
        return Err(SealError::Unreadable);
    }
    let raw = hex::decode(hex_data).map_err(u)?;
    let (len, rest) = raw.split_first_chunk::<2>().ok_or(SealError::Unreadable)?;
    if usize::from(u16::from_be_bytes(*len)) != RSA_LEN {
        return Err(SealError::Unreadable);
    }
    let (block, body) = rest
        .split_at_checked(RSA_LEN)
        .ok_or(SealError::Unreadable)?;
    if body.is_empty() || body.len() % 16 != 0 {
        return Err(SealError::Unreadable);
    }
    let mut dec = openssl::pkey_ctx::PkeyCtx::new(key).map_err(u)?;
    dec.decrypt_init().map_err(u)?;
    dec.set_rsa_padding(Padding::PKCS1_OAEP).map_err(u)?;
    dec.set_rsa_oaep_md(openssl::md::Md::sha256()).map_err(u)?;
    dec.set_rsa_mgf1_md(openssl::md::Md::sha256()).map_err(u)?;
    let mut secret = Vec::new();
    dec.decrypt_to_vec(block, &mut secret).map_err(u)?;
    let (aes_key, iv) = secret
        .split_first_chunk::<32>()
        .ok_or(SealError::Unreadable)?;
    let iv: &[u8; 16] = iv.try_into().map_err(u)?;
    decrypt(Cipher::aes_256_cbc(), aes_key, Some(iv), body).map_err(u)
}

/// Seals `plaintext` to `key` as a wallet does (our simulator's wallet and
/// tests; the gateway never seals).
pub fn seal<T: openssl::pkey::HasPublic>(
    key: &PKey<T>,
    plaintext: &[u8],
) -> Result<String, SealError> {
    let mut secret = [0u8; 48];
    openssl::rand::rand_bytes(&mut secret).map_err(u)?;
    let (aes_key, iv) = secret.split_at(32);
    let body =
        openssl::symm::encrypt(Cipher::aes_256_cbc(), aes_key, Some(iv), plaintext).map_err(u)?;
    let mut enc = openssl::pkey_ctx::PkeyCtx::new(key).map_err(u)?;
    enc.encrypt_init().map_err(u)?;
    enc.set_rsa_padding(Padding::PKCS1_OAEP).map_err(u)?;
    enc.set_rsa_oaep_md(openssl::md::Md::sha256()).map_err(u)?;
    enc.set_rsa_mgf1_md(openssl::md::Md::sha256()).map_err(u)?;
    let mut block = Vec::new();
    enc.encrypt_to_vec(&secret, &mut block).map_err(u)?;
    if block.len() != RSA_LEN {
        return Err(SealError::Unreadable);
    }
    let mut out = Vec::with_capacity(2 + RSA_LEN + body.len());
    out.extend_from_slice(&u16::try_from(RSA_LEN).map_err(u)?.to_be_bytes());
    out.extend_from_slice(&block);
    out.extend_from_slice(&body);
    Ok(hex::encode(out))
}

/// The SP's RSA public key as the profile carries it: base58 of its DER
/// SubjectPublicKeyInfo.
pub fn public_key_base58(key: &PKey<Private>) -> Result<String, SealError> {
    let der = key.public_key_to_der().map_err(|_| SealError::Unreadable)?;
    Ok(bs58::encode(der).into_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa() -> PKey<Private> {
        PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap()
    }

    #[test]
    fn a_sealed_presentation_opens_with_the_sp_key_only() {
        let sp = rsa();
        let vp = br#"{"type":["VerifiablePresentation"]}"#;
        let sealed = seal(&sp, vp).unwrap();
        assert_eq!(&sealed[..4], "0100");
        assert_eq!(open(&sp, &sealed).unwrap(), vp);
        assert_eq!(open(&rsa(), &sealed), Err(SealError::Unreadable));
        let b58 = public_key_base58(&sp).unwrap();
        let der = bs58::decode(b58).into_vec().unwrap();
        let public = PKey::public_key_from_der(&der).unwrap();
        assert_eq!(open(&sp, &seal(&public, vp).unwrap()).unwrap(), vp);
    }

    #[test]
    fn every_damage_reads_the_same() {
        let sp = rsa();
        let sealed = seal(&sp, b"{}").unwrap();
        let mut flipped = sealed.clone().into_bytes();
        flipped[10] = if flipped[10] == b'a' { b'b' } else { b'a' };
        let cut = &sealed[..sealed.len() - 32];
        let mut body_flip = sealed.clone().into_bytes();
        let last = body_flip.len() - 1;
        body_flip[last] = if body_flip[last] == b'0' { b'1' } else { b'0' };
        for bad in [
            String::from_utf8(flipped).unwrap(),
            cut.to_owned(),
            String::from_utf8(body_flip).unwrap(),
            format!("0080{}", &sealed[4..]),
            "zz".repeat(200),
            String::new(),
            "0".repeat(MAX_HEX_LEN + 2),
        ] {
            assert_eq!(
                open(&sp, &bad),
                Err(SealError::Unreadable),
                "{}",
                &bad[..bad.len().min(12)]
            );
        }
    }
}
