//! The barocert broker's request cryptography, shared by the adapter and the
//! simulator so both sides compute the same bytes.
//!
//! - Token service (Linkhub auth): `Authorization: LINKHUB {linkID} {sig}` where
//!   `sig = b64(HMAC-SHA256(secret, "POST\n" + b64(SHA-256(body)) + "\n" + date
//!   + "\n" + [forwarded + "\n"] + version + "\n" + "/BAROCERT/Token"))`.
//! - API POST (`x-bc-version: 2.1`): `x-bc-auth = b64(HMAC-SHA256(secret, "POST\n"
//!   + [b64(SHA-256(body)) + "\n" when there is a body] + date + "\n" + uri + "\n"))`.
//! - Personal fields: `b64(iv[12] ‖ AES-256-GCM(secret, plaintext) ‖ tag[16])`.
//! - Dates: RFC 3339 UTC on the wire (`x-bc-date`, `x-lh-date`, token expiry);
//!   barocert's `yyyyMMddHHmmss` in KST for the status timestamps.
//!
//! Not here: HTTP, JSON shapes, or which header carries what (see the adapter and
//! the simulator). Nothing here logs.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};
use subtle::ConstantTimeEq;

/// The API version the adapter speaks and the simulator requires (`x-bc-version`).
pub const API_VERSION: &str = "2.1";
/// The token service's version (`x-lh-version`).
pub const AUTH_VERSION: &str = "2.0";
/// The token service's service id, path `/{SERVICE_ID}/Token`.
pub const SERVICE_ID: &str = "BAROCERT";
/// The only encryption mode the adapter sends and the simulator accepts.
pub const ENCRYPTION_MODE: &str = "GCM";

const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Something the cryptography refused; carries no key or plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("openssl failed")]
    Openssl,
    #[error("field is not base64")]
    Base64,
    #[error("field is too short for iv and tag")]
    Short,
    #[error("field failed authenticated decryption")]
    Decrypt,
    #[error("field is not UTF-8")]
    Utf8,
}

impl From<openssl::error::ErrorStack> for CryptoError {
    fn from(_: openssl::error::ErrorStack) -> Self {
        Self::Openssl
    }
}

pub fn sha256_b64(data: &[u8]) -> Result<String, CryptoError> {
    let d = openssl::hash::hash(MessageDigest::sha256(), data)?;
    Ok(B64.encode(d))
}

pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
    Ok(crate::hmac::sha256(key, &[msg]).to_vec())
}

pub fn hmac_sha256_b64(key: &[u8], msg: &[u8]) -> Result<String, CryptoError> {
    Ok(B64.encode(hmac_sha256(key, msg)?))
}

pub fn hmac_sha512(key: &[u8], msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let pkey = PKey::hmac(key)?;
    let mut s = Signer::new(MessageDigest::sha512(), &pkey)?;
    s.update(msg)?;
    Ok(s.sign_to_vec()?)
}

/// Whether `given_b64` is the HMAC-SHA256 of `msg` under `key`, in constant time.
pub fn hmac_sha256_matches(key: &[u8], msg: &[u8], given_b64: &str) -> bool {
    let Ok(given) = B64.decode(given_b64.trim()) else {
        return false;
    };
    let Ok(want) = hmac_sha256(key, msg) else {
        return false;
    };
    want.len() == given.len() && bool::from(want.ct_eq(&given))
}

/// The string an API POST's `x-bc-auth` signs (API version 2.1). The body digest
/// line is present only when there is a body, as the SDKs do.
pub fn api_sign_target(body: &[u8], date: &str, uri: &str) -> Result<String, CryptoError> {
    let mut t = String::from("POST\n");
    if !body.is_empty() {
        t.push_str(&sha256_b64(body)?);
        t.push('\n');
    }
    t.push_str(date);
    t.push('\n');
    t.push_str(uri);
    t.push('\n');
    Ok(t)
}

/// The string a token request's `Authorization: LINKHUB` signature signs.
pub fn token_sign_target(
    body: &[u8],
    date: &str,
    forwarded: Option<&str>,
    version: &str,
    uri: &str,
) -> Result<String, CryptoError> {
    let mut t = String::from("POST\n");
    t.push_str(&sha256_b64(body)?);
    t.push('\n');
    t.push_str(date);
    t.push('\n');
    if let Some(f) = forwarded {
        t.push_str(f);
        t.push('\n');
    }
    t.push_str(version);
    t.push('\n');
    t.push_str(uri);
    Ok(t)
}

/// Encrypts one personal field: `b64(iv ‖ ciphertext ‖ tag)` under AES-256-GCM
/// (barocert's format: no associated data).
pub fn encrypt_field(key: &[u8; 32], plaintext: &str) -> Result<String, CryptoError> {
    encrypt_field_bound(key, plaintext, &[])
}

/// [`encrypt_field`] with associated data `aad`: the tag then also covers
/// `aad`, so the field opens only where the reader gives the same `aad`
/// (the declarative family binds each field to its request and its name).
pub fn encrypt_field_bound(
    key: &[u8; 32],
    plaintext: &str,
    aad: &[u8],
) -> Result<String, CryptoError> {
    let mut iv = [0u8; IV_LEN];
    openssl::rand::rand_bytes(&mut iv)?;
    let mut tag = [0u8; TAG_LEN];
    let ct = encrypt_aead(
        Cipher::aes_256_gcm(),
        key,
        Some(&iv),
        aad,
        plaintext.as_bytes(),
        &mut tag,
    )?;
    let mut out = Vec::with_capacity(IV_LEN + ct.len() + TAG_LEN);
    out.extend_from_slice(&iv);
    out.extend_from_slice(&ct);
    out.extend_from_slice(&tag);
    Ok(B64.encode(out))
}

/// Decrypts a field made by [`encrypt_field`]; any tampering fails the tag check.
pub fn decrypt_field(key: &[u8; 32], field_b64: &str) -> Result<String, CryptoError> {
    decrypt_field_bound(key, field_b64, &[])
}

/// Decrypts a field made by [`encrypt_field_bound`] with the same `aad`; a
/// field made for other associated data fails the tag check as tampering does.
pub fn decrypt_field_bound(
    key: &[u8; 32],
    field_b64: &str,
    aad: &[u8],
) -> Result<String, CryptoError> {
    let raw = B64
        .decode(field_b64.trim())
        .map_err(|_| CryptoError::Base64)?;
    if raw.len() < IV_LEN + TAG_LEN {
        return Err(CryptoError::Short);
    }
    let (iv, rest) = raw.split_at(IV_LEN);
    let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
    let pt = decrypt_aead(Cipher::aes_256_gcm(), key, Some(iv), aad, ct, tag)
        .map_err(|_| CryptoError::Decrypt)?;
    String::from_utf8(pt).map_err(|_| CryptoError::Utf8)
}

/// Fresh random bytes.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut b = [0u8; N];
    openssl::rand::rand_bytes(&mut b)?;
    Ok(b)
}

/// Current Unix time in milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Current Unix time in seconds.
pub fn now_secs() -> u64 {
    now_ms() / 1000
}

/// `2024-01-31T05:06:07Z` (RFC 3339, UTC), as `x-bc-date` carries it.
pub fn rfc3339(unix_secs: u64) -> String {
    let t = i64::try_from(unix_secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `2024-01-31T05:06:07.000Z`, the token service's expiry form.
pub fn rfc3339_millis(unix_secs: u64) -> String {
    let s = rfc3339(unix_secs);
    match s.strip_suffix('Z') {
        Some(head) => format!("{head}.000Z"),
        None => s,
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (UTC only) to Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let s = s.trim();
    let body = s.strip_suffix('Z').or_else(|| s.strip_suffix('z'))?;
    let (main, frac) = match body.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (body, None),
    };
    if frac.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let b = main.as_bytes();
    if b.len() != 19
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't'))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = main.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
    let day = u8::try_from(num(8..10)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let tod = time::Time::from_hms(
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(14..16)?).ok()?,
        u8::try_from(num(17..19)?).ok()?,
    )
    .ok()?;
    let ts = time::PrimitiveDateTime::new(date, tod)
        .assume_utc()
        .unix_timestamp();
    u64::try_from(ts).ok()
}

/// `yyyyMMddHHmmss` in KST (UTC+9), barocert's form for requestDT, viewDT, ….
pub fn kst_compact(unix_secs: u64) -> String {
    let t = i64::try_from(unix_secs)
        .ok()
        .and_then(|s| s.checked_add(9 * 3600))
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `s` is exactly `n` ASCII digits.
pub fn is_digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?").unwrap();
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let b64 = hmac_sha256_b64(b"Jefe", b"what do ya want for nothing?").unwrap();
        assert!(hmac_sha256_matches(
            b"Jefe",
            b"what do ya want for nothing?",
            &b64
        ));
        assert!(!hmac_sha256_matches(
            b"Jefe",
            b"what do ya want for nothing!",
            &b64
        ));
        assert!(!hmac_sha256_matches(
            b"Jeff",
            b"what do ya want for nothing?",
            &b64
        ));
        assert!(!hmac_sha256_matches(b"Jefe", b"x", "not base64!"));
        assert!(!hmac_sha256_matches(b"Jefe", b"x", "AAAA"));
    }

    #[test]
    fn sign_targets_follow_the_sdks() {
        let body = br#"{"a":1}"#;
        let digest = sha256_b64(body).unwrap();
        assert_eq!(
            api_sign_target(body, "2024-01-31T05:06:07Z", "/KAKAO/Identity/023040000001").unwrap(),
            format!("POST\n{digest}\n2024-01-31T05:06:07Z\n/KAKAO/Identity/023040000001\n")
        );
        // No body (verify): no digest line.
        assert_eq!(api_sign_target(b"", "D", "/U").unwrap(), "POST\nD\n/U\n");
        assert_eq!(
            token_sign_target(body, "D", None, "2.0", "/BAROCERT/Token").unwrap(),
            format!("POST\n{digest}\nD\n2.0\n/BAROCERT/Token")
        );
        assert_eq!(
            token_sign_target(body, "D", Some("*"), "2.0", "/BAROCERT/Token").unwrap(),
            format!("POST\n{digest}\nD\n*\n2.0\n/BAROCERT/Token")
        );
    }

    #[test]
    fn aes_gcm_round_trip_and_tamper() {
        let key = [7u8; 32];
        let enc = encrypt_field(&key, "홍길동").unwrap();
        let raw = B64.decode(&enc).unwrap();
        assert_eq!(raw.len(), 12 + "홍길동".len() + 16);
        assert_eq!(decrypt_field(&key, &enc).unwrap(), "홍길동");
        // Fresh IV each time.
        assert_ne!(enc, encrypt_field(&key, "홍길동").unwrap());
        // Wrong key, flipped byte, truncation, junk.
        assert_eq!(decrypt_field(&[8u8; 32], &enc), Err(CryptoError::Decrypt));
        let mut bad = raw.clone();
        if let Some(b) = bad.get_mut(13) {
            *b ^= 1;
        }
        assert_eq!(
            decrypt_field(&key, &B64.encode(&bad)),
            Err(CryptoError::Decrypt)
        );
        assert_eq!(
            decrypt_field(&key, &B64.encode([0u8; 20])),
            Err(CryptoError::Short)
        );
        assert_eq!(decrypt_field(&key, "***"), Err(CryptoError::Base64));
        // Bound to associated data: opens only with the same.
        let bound = encrypt_field_bound(&key, "홍길동", b"tx1\nuserNm").unwrap();
        assert_eq!(
            decrypt_field_bound(&key, &bound, b"tx1\nuserNm").unwrap(),
            "홍길동"
        );
        for other in [&b"tx2\nuserNm"[..], b"tx1\ntelNo", b""] {
            assert_eq!(
                decrypt_field_bound(&key, &bound, other),
                Err(CryptoError::Decrypt)
            );
        }
        assert_eq!(decrypt_field(&key, &bound), Err(CryptoError::Decrypt));
        // Empty plaintext is still authenticated.
        let e = encrypt_field(&key, "").unwrap();
        assert_eq!(decrypt_field(&key, &e).unwrap(), "");
    }

    #[test]
    fn dates_round_trip() {
        let t = 1_706_677_567; // 2024-01-31T05:06:07Z
        assert_eq!(rfc3339(t), "2024-01-31T05:06:07Z");
        assert_eq!(rfc3339_millis(t), "2024-01-31T05:06:07.000Z");
        assert_eq!(parse_rfc3339("2024-01-31T05:06:07Z"), Some(t));
        assert_eq!(parse_rfc3339("2024-01-31T05:06:07.123Z"), Some(t));
        assert_eq!(kst_compact(t), "20240131140607");
        for bad in [
            "",
            "2024-01-31 05:06:07Z",
            "2024-01-31T05:06:07",
            "2024-01-31T05:06:07+09:00",
            "2024-02-30T05:06:07Z",
            "2024-01-31T05:06:07.Z",
            "+024-01-31T05:06:07Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
