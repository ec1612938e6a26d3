//! Token Status List (draft-ietf-oauth-status-list-20, pinned): is the
//! credential at index `idx` of the list at `uri` still valid?
//!
//! A Status List Token is a JWT of `typ` `statuslist+jwt` whose `sub` is the
//! list's URI, signed (strict reading) by the credential's issuer itself: an
//! `x5c` leaf naming its `iss`, under the same anchors; without `exp` it may
//! be a day old at most. It carries `status_list`
//! `{bits, lst}`: `lst` is base64url of the zlib-compressed bytes, each
//! index `bits` wide, packed from the least significant bit of each byte.
//! 0 is VALID; anything else (INVALID, SUSPENDED, application values) is
//! refused. An index past the list's end is refused. Fetching and caching
//! the token are the caller's; this reads one.

use super::jose;
use openssl::x509::store::X509Store;
use serde_json::Value;
use std::io::Read as _;

/// The largest list accepted once decompressed (8 M one-bit entries).
pub const MAX_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    #[error("the status list token is not acceptable: {0}")]
    Token(&'static str),
    #[error("the status list does not read: {0}")]
    List(&'static str),
    #[error("the credential's index is past the list's end")]
    Index,
    #[error("the credential is not valid (status {0})")]
    NotValid(u8),
}

/// The status at `idx` in a list of `bits`-wide entries (`lst` as in the
/// token).
pub fn status_at(lst: &str, bits: u8, idx: u64) -> Result<u8, StatusError> {
    if !matches!(bits, 1 | 2 | 4 | 8) {
        return Err(StatusError::List("bits is not 1, 2, 4 or 8"));
    }
    let compressed = jose::b64url(lst).ok_or(StatusError::List("lst is not base64url"))?;
    let mut bytes = Vec::new();
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| StatusError::List("lst is not zlib"))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_BYTES {
        return Err(StatusError::List("the list is too large"));
    }
    let bit = idx.checked_mul(u64::from(bits)).ok_or(StatusError::Index)?;
    let byte = usize::try_from(bit / 8).map_err(|_| StatusError::Index)?;
    let b = *bytes.get(byte).ok_or(StatusError::Index)?;
    let shift = u32::try_from(bit % 8).map_err(|_| StatusError::Index)?;
    let mask = u8::try_from((1u16 << bits) - 1).unwrap_or(u8::MAX);
    Ok((b >> shift) & mask)
}

/// How old a status list token without `exp` may be.
pub const MAX_AGE_SECS: u64 = 24 * 3600;

/// Checks a Status List Token for `uri`, signed by the credential's own
/// issuer `iss` (its leaf names it, under the same anchors), and returns the
/// status at `idx`, refusing anything but VALID.
pub fn check(
    token: &str,
    uri: &str,
    idx: u64,
    iss: &str,
    anchors: &X509Store,
    now: u64,
) -> Result<(), StatusError> {
    let jws = jose::split(token).ok_or(StatusError::Token("not a JWS"))?;
    let text = |k: &str| jws.header.get(k).and_then(Value::as_str);
    if text("typ") != Some("statuslist+jwt") || text("alg") != Some("ES256") {
        return Err(StatusError::Token("typ or alg"));
    }
    if jws.header.contains_key("crit") {
        return Err(StatusError::Token("a critical header we do not know"));
    }
    let chain = jose::x5c(&jws.header).ok_or(StatusError::Token("no x5c"))?;
    let leaf = chain.first().ok_or(StatusError::Token("no x5c"))?;
    let key = jose::leaf_key(leaf).ok_or(StatusError::Token("the leaf's key"))?;
    if !jose::chains_to(&chain, anchors)
        || !jose::leaf_names(leaf, iss)
        || !jose::es256_ok(jws.signing_input, &jws.signature, &key)
    {
        return Err(StatusError::Token("not signed by a trusted key"));
    }
    let p = &jws.payload;
    if p.get("sub").and_then(Value::as_str) != Some(uri) {
        return Err(StatusError::Token("sub is not the list's uri"));
    }
    let iat = p
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or(StatusError::Token("no iat"))?;
    if iat > now.saturating_add(super::sd_jwt::SKEW_SECS) {
        return Err(StatusError::Token("issued in the future"));
    }
    match p.get("exp") {
        Some(exp) => {
            let exp = exp.as_u64().ok_or(StatusError::Token("exp"))?;
            if exp <= now {
                return Err(StatusError::Token("expired"));
            }
        }
        // No end given: an old list says nothing about today.
        None if iat.saturating_add(MAX_AGE_SECS) < now => {
            return Err(StatusError::Token("too old"));
        }
        None => {}
    }
    let list = p
        .get("status_list")
        .and_then(Value::as_object)
        .ok_or(StatusError::Token("no status_list"))?;
    let bits = list
        .get("bits")
        .and_then(Value::as_u64)
        .and_then(|b| u8::try_from(b).ok())
        .ok_or(StatusError::List("bits"))?;
    let lst = list
        .get("lst")
        .and_then(Value::as_str)
        .ok_or(StatusError::List("lst"))?;
    match status_at(lst, bits, idx)? {
        0 => Ok(()),
        s => Err(StatusError::NotValid(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drafts_test_vectors_read_least_significant_bit_first() {
        // draft-20's examples: bits 1 → b9 a3; bits 2 → c9 44 f9.
        let one: Vec<u8> = (0..16)
            .map(|i| status_at("eNrbuRgAAhcBXQ", 1, i).unwrap())
            .collect();
        assert_eq!(one, [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]);
        let two: Vec<u8> = (0..12)
            .map(|i| status_at("eNo76fITAAPfAgc", 2, i).unwrap())
            .collect();
        assert_eq!(two, [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]);
        assert_eq!(status_at("eNrbuRgAAhcBXQ", 1, 16), Err(StatusError::Index));
        assert_eq!(
            status_at("eNrbuRgAAhcBXQ", 1, u64::MAX),
            Err(StatusError::Index)
        );
        assert!(status_at("eNrbuRgAAhcBXQ", 3, 0).is_err());
        assert!(status_at("not zlib", 1, 0).is_err());
        assert!(status_at("eNrbuRgAAhcBXQ==", 1, 0).is_err());
    }

    #[test]
    fn a_list_that_inflates_too_far_is_refused() {
        use std::io::Write as _;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&vec![0u8; usize::try_from(MAX_BYTES + 10).unwrap()])
            .unwrap();
        let lst = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            z.finish().unwrap(),
        );
        assert_eq!(
            status_at(&lst, 1, 0),
            Err(StatusError::List("the list is too large"))
        );
    }
}
