//! Base64 as the mobile-ID interface uses it: RFC 4648 URL-safe, everywhere.
//!
//! The specification first required padding on the push message and later
//! dropped the rule; the reference SP sends none. Strict reading: what we
//! send carries no padding except the push message (whose receiver, in
//! Java, accepts both), and what we read may omit padding but, when present,
//! it must be correct; the standard alphabet's `+` and `/` are refused (a
//! message in the other alphabet is not one of this interface's).

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;

/// URL-safe, no padding.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// URL-safe with padding (the push message only).
pub fn encode_padded(bytes: &[u8]) -> String {
    URL_SAFE.encode(bytes)
}

/// URL-safe, padding optional (correct if present); None for anything else.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    // With padding, exactly the canonical padding; without, none at all.
    let engine = if text.ends_with('=') {
        URL_SAFE
    } else {
        URL_SAFE_NO_PAD
    };
    engine.decode(text.as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_safe_with_or_without_padding_and_nothing_else() {
        let bytes = [0xfb_u8, 0xff, 0x01, 0x02];
        assert_eq!(encode(&bytes), "-_8BAg");
        assert_eq!(encode_padded(&bytes), "-_8BAg==");
        assert_eq!(decode("-_8BAg").as_deref(), Some(&bytes[..]));
        assert_eq!(decode("-_8BAg==").as_deref(), Some(&bytes[..]));
        for bad in ["+/8BAg==", "-_8BAg=", "-_8BAg===", "-_8B Ag", "-_8BAh"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
