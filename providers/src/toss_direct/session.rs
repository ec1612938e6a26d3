//! Toss's session encryption for personal data, in the shape of
//! `toss/toss-cert-java-sdk` (AES-GCM sessions).
//!
//! A session is a fresh AES-256 key and a 96-bit IV with an id (a random UUID).
//! Toss learns it from the `sessionKey` sent with the call:
//! `version$uuid$b64(RSA-OAEP("AES_GCM$" + b64 key + "$" + b64 iv))`, OAEP with
//! SHA-1 and MGF1-SHA-1 under Toss's RSA public key. A personal field is
//! `version$uuid$b64(ciphertext ‖ tag)$`: AES-256-GCM, 128-bit tag, the key bytes
//! as AAD, and an empty integrity part (the SDK's HMAC is for CBC sessions only).
//! Decryption checks the version and id first, then the tag.
//!
//! As in the SDK, every field of one call is encrypted under the session's one
//! key and IV, so a session must serve one call only: the adapter makes a new
//! one per call. Even so the fields of one call share a GCM keystream and
//! authentication key, so this encryption gives them no confidentiality or
//! integrity beyond the TLS they travel in (see the family's docs); nothing
//! decrypted here is believed until the signed result vouches for it, and
//! no session key, field or body is ever logged. Base64 is standard with
//! padding.
//!
//! Not here: AES-CBC sessions, or keeping sessions (they die with the call).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use openssl::pkey::{Private, Public};
use openssl::rsa::{Padding, Rsa};
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};

use crate::error::ProviderError;

/// The session format version we send: `v1_` and the SDK release whose format
/// this follows.
pub const SESSION_VERSION: &str = "v1_0.0.8";
const ALGORITHM: &str = "AES_GCM";
const KEY_LEN: usize = 32;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Smallest RSA modulus accepted for Toss's key, bits.
const MIN_RSA_BITS: u32 = 2048;

/// Why a session key or field was refused; carries no part of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("not in the version$id$data form")]
    Format,
    #[error("version or session id differs from the session's")]
    OtherSession,
    #[error("not base64")]
    Base64,
    #[error("does not decrypt")]
    Decrypt,
    #[error("not UTF-8 text")]
    Utf8,
    #[error("crypto library failure")]
    Crypto,
}

/// Toss's RSA public key, to which sessions are sent.
#[derive(Clone)]
pub struct TossPublicKey(Rsa<Public>);

impl std::fmt::Debug for TossPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TossPublicKey")
            .field(&format_args!("RSA-{}", self.0.size() * 8))
            .finish()
    }
}

impl TossPublicKey {
    /// Parses a PEM `PUBLIC KEY` (SubjectPublicKeyInfo, what the SDK embeds as
    /// base64) or `RSA PUBLIC KEY`; at least 2,048 bits.
    pub fn from_pem(pem: &[u8]) -> Result<Self, ProviderError> {
        let rsa = Rsa::public_key_from_pem(pem)
            .or_else(|_| Rsa::public_key_from_pem_pkcs1(pem))
            .map_err(|_| {
                ProviderError::Config("toss_direct session public key is not an RSA PEM key".into())
            })?;
        if rsa.size() * 8 < MIN_RSA_BITS {
            return Err(ProviderError::Config(format!(
                "toss_direct session public key must have at least {MIN_RSA_BITS} bits"
            )));
        }
        Ok(Self(rsa))
    }
}

/// One session: key, IV and id. `Debug` shows the id only.
pub struct TossSession {
    version: String,
    id: String,
    key: [u8; KEY_LEN],
    iv: [u8; IV_LEN],
    /// The `sessionKey` to send (empty for a session opened on Toss's side).
    session_key: String,
}

impl std::fmt::Debug for TossSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TossSession")
            .field("version", &self.version)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn random<const N: usize>() -> Result<[u8; N], ProviderError> {
    let mut b = [0u8; N];
    openssl::rand::rand_bytes(&mut b)
        .map_err(|_| ProviderError::Config("no randomness for a toss_direct session".into()))?;
    Ok(b)
}

/// A random (version 4) UUID in its usual text form.
pub fn uuid_v4() -> Result<String, ProviderError> {
    let mut b: [u8; 16] = random()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        h.get(0..8).unwrap_or_default(),
        h.get(8..12).unwrap_or_default(),
        h.get(12..16).unwrap_or_default(),
        h.get(16..20).unwrap_or_default(),
        h.get(20..32).unwrap_or_default()
    ))
}

impl TossSession {
    /// A fresh session for one call, with its `sessionKey` wrapped for `toss`.
    pub fn generate(toss: &TossPublicKey) -> Result<Self, ProviderError> {
        let key: [u8; KEY_LEN] = random()?;
        let iv: [u8; IV_LEN] = random()?;
        let id = uuid_v4()?;
        let inner = format!("{ALGORITHM}${}${}", B64.encode(key), B64.encode(iv));
        let mut wrapped = vec![0u8; toss.0.size() as usize];
        let n = toss
            .0
            .public_encrypt(inner.as_bytes(), &mut wrapped, Padding::PKCS1_OAEP)
            .map_err(|_| ProviderError::Config("RSA-OAEP of the session key failed".into()))?;
        wrapped.truncate(n);
        let session_key = format!("{SESSION_VERSION}${id}${}", B64.encode(&wrapped));
        Ok(Self {
            version: SESSION_VERSION.to_owned(),
            id,
            key,
            iv,
            session_key,
        })
    }

    /// Toss's side: opens a `sessionKey` with the private key. Any version
    /// starting `v1_` is accepted; the inner algorithm must be `AES_GCM` with a
    /// 256-bit key and 96-bit IV.
    pub fn open(private: &Rsa<Private>, session_key: &str) -> Result<Self, SessionError> {
        let mut parts = session_key.split('$');
        let (Some(version), Some(id), Some(wrapped), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SessionError::Format);
        };
        if !version.starts_with("v1_") || id.is_empty() || id.len() > 64 {
            return Err(SessionError::Format);
        }
        let wrapped = B64.decode(wrapped).map_err(|_| SessionError::Base64)?;
        let mut inner = vec![0u8; private.size() as usize];
        let n = private
            .private_decrypt(&wrapped, &mut inner, Padding::PKCS1_OAEP)
            .map_err(|_| SessionError::Decrypt)?;
        inner.truncate(n);
        let inner = String::from_utf8(inner).map_err(|_| SessionError::Utf8)?;
        let mut f = inner.split('$');
        let (Some(ALGORITHM), Some(key), Some(iv), None) = (f.next(), f.next(), f.next(), f.next())
        else {
            return Err(SessionError::Format);
        };
        let key: [u8; KEY_LEN] = B64
            .decode(key)
            .map_err(|_| SessionError::Base64)?
            .try_into()
            .map_err(|_| SessionError::Format)?;
        let iv: [u8; IV_LEN] = B64
            .decode(iv)
            .map_err(|_| SessionError::Base64)?
            .try_into()
            .map_err(|_| SessionError::Format)?;
        Ok(Self {
            version: version.to_owned(),
            id: id.to_owned(),
            key,
            iv,
            session_key: String::new(),
        })
    }

    /// The `sessionKey` to send with the call.
    pub fn session_key(&self) -> &str {
        &self.session_key
    }

    /// The session id (a UUID).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The format version (`v1_…`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Encrypts one personal field: `version$id$b64(ct ‖ tag)$`.
    pub fn encrypt(&self, plain: &str) -> Result<String, SessionError> {
        let mut tag = [0u8; TAG_LEN];
        let mut ct = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(&self.iv),
            &self.key,
            plain.as_bytes(),
            &mut tag,
        )
        .map_err(|_| SessionError::Crypto)?;
        ct.extend_from_slice(&tag);
        Ok(format!("{}${}${}$", self.version, self.id, B64.encode(ct)))
    }

    /// Decrypts a field of this session; a field of another session or with a
    /// bad tag is refused.
    pub fn decrypt(&self, field: &str) -> Result<String, SessionError> {
        let mut parts = field.split('$');
        let (Some(version), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SessionError::Format);
        };
        // GCM fields carry an empty integrity part, or none.
        match (parts.next(), parts.next()) {
            (None | Some(""), None) => {}
            _ => return Err(SessionError::Format),
        }
        if version != self.version || id != self.id {
            return Err(SessionError::OtherSession);
        }
        let raw = B64.decode(data).map_err(|_| SessionError::Base64)?;
        if raw.len() < TAG_LEN {
            return Err(SessionError::Decrypt);
        }
        let (ct, tag) = raw.split_at(raw.len() - TAG_LEN);
        let pt = decrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(&self.iv),
            &self.key,
            ct,
            tag,
        )
        .map_err(|_| SessionError::Decrypt)?;
        String::from_utf8(pt).map_err(|_| SessionError::Utf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Rsa<Private>, TossPublicKey) {
        let rsa = Rsa::generate(2048).unwrap();
        let pem = rsa.public_key_to_pem().unwrap();
        (rsa, TossPublicKey::from_pem(&pem).unwrap())
    }

    #[test]
    fn session_key_opens_and_fields_round_trip() {
        let (private, public) = pair();
        let s = TossSession::generate(&public).unwrap();
        let parts: Vec<&str> = s.session_key().split('$').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], SESSION_VERSION);
        assert_eq!(parts[1].len(), 36);
        assert_eq!(parts[1].as_bytes()[14], b'4');

        let field = s.encrypt("홍길동").unwrap();
        assert!(field.starts_with(&format!("{SESSION_VERSION}${}$", s.id())));
        assert!(field.ends_with('$'));

        let opened = TossSession::open(&private, s.session_key()).unwrap();
        assert_eq!(opened.decrypt(&field).unwrap(), "홍길동");
        // Toss's answer under the same session decrypts on our side.
        let back = opened.encrypt("01012345678").unwrap();
        assert_eq!(s.decrypt(&back).unwrap(), "01012345678");
        // Without the trailing empty part, as the SDK's split reads it.
        assert_eq!(
            s.decrypt(back.trim_end_matches('$')).unwrap(),
            "01012345678"
        );
    }

    #[test]
    fn foreign_or_tampered_fields_are_refused() {
        let (private, public) = pair();
        let a = TossSession::generate(&public).unwrap();
        let b = TossSession::generate(&public).unwrap();
        let f = b.encrypt("x").unwrap();
        assert_eq!(a.decrypt(&f).unwrap_err(), SessionError::OtherSession);
        let mut parts: Vec<String> = a
            .encrypt("secret")
            .unwrap()
            .split('$')
            .map(str::to_owned)
            .collect();
        let mut raw = B64.decode(&parts[2]).unwrap();
        raw[0] ^= 1;
        parts[2] = B64.encode(raw);
        assert_eq!(
            a.decrypt(&parts.join("$")).unwrap_err(),
            SessionError::Decrypt
        );
        assert_eq!(a.decrypt("nonsense").unwrap_err(), SessionError::Format);

        // A session key for another public key does not open.
        let (_, other) = pair();
        let s = TossSession::generate(&other).unwrap();
        assert_eq!(
            TossSession::open(&private, s.session_key()).unwrap_err(),
            SessionError::Decrypt
        );
        assert!(TossSession::open(&private, "v1_x$id").is_err());
    }

    #[test]
    fn small_keys_are_refused() {
        let rsa = Rsa::generate(1024).unwrap();
        assert!(TossPublicKey::from_pem(&rsa.public_key_to_pem().unwrap()).is_err());
        assert!(TossPublicKey::from_pem(b"nope").is_err());
    }
}
