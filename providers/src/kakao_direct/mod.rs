//! Family C: Kakao's own certification API (카카오톡 인증 서비스, K1100 본인인증),
//! reached directly at `cert-sign.kakao.com` rather than through a broker.
//!
//! The RP authenticates every call with its REST API key in a header
//! (server-to-server only). A login is five calls: prepare (`POST
//! /sign/v2/prepare/{product}` with who and what to sign → `tx_id`), request (push
//! to KakaoTalk), status (poll), verify (→ the signed value, which Kakao deletes
//! once delivered) and signer info (→ name, birthday, phone, CI over the
//! authenticated channel). Refusals carry E-codes ([`codes`]); E0001 is an
//! internal error on HTTP 400 that Kakao documents as "retry", so the adapter
//! retries it a bounded number of times with backoff.
//!
//! Public record vs reading: the host, the prepare path with its product code,
//! the five steps, `tx_id`, `identify_items` (`CI`), `sign_data`, the
//! `requested_at` / `request_expired_at` / `signed_at` names, the one-shot signed
//! value and the E-code table with HTTP statuses are from Kakao's developer
//! documentation and SDK reference. Our reading (not found published): the paths
//! of the later steps (`/sign/v2/{request,status,verify,signer}/{product}`), the
//! header form `Authorization: KakaoAK {key}` (Kakao's REST convention), the
//! status values, JSON field names of signer info and of the error body
//! (`error_code`, `error_message`), and that a second verify answers E2003.
//!
//! Not here: the dealer-key (`Target-Authorization`) variant for resellers,
//! document signing (K3500), withdrawal consent (K3100), the standard window
//! (K1400) or CI-addressed requests; per-login state (all in [`Pending`]).
//!
//! [`Pending`]: crate::adapter::Pending

pub mod codes;
pub mod config;
pub(crate) mod wire;

mod adapter;

pub use adapter::KakaoDirectAdapter;
pub use codes::KakaoCode;

use serde::Deserialize;

use crate::error::ProviderError;

/// Kakao's product code for identity verification (본인인증).
pub const DEFAULT_PRODUCT_CODE: &str = "K1100";
/// Longest request lifetime the adapter asks for, seconds. Kakao's direct API
/// limit is not in the public record; the broker's Kakao limit is used.
pub const MAX_TTL_SECS: u32 = 1000;
/// Longest `sign_data` for a login nonce, characters (the broker's Kakao limit).
pub const MAX_SIGN_DATA_CHARS: usize = 40;
/// Longest request title, characters.
pub const MAX_TITLE_CHARS: usize = 40;

/// An RP's Kakao-direct settings, from the gateway's TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KakaoDirectConfig {
    /// Base URL of the API (`https://cert-sign.kakao.com`); may carry a path
    /// prefix (the simulator serves under `/kakao-direct`).
    pub endpoint: String,
    /// Product code (`K1100`; test products end in `T` on the CBT host).
    #[serde(default)]
    pub product_code: Option<String>,
    /// Cap on the request lifetime, seconds (further capped by [`MAX_TTL_SECS`]).
    #[serde(default)]
    pub ttl_secs: Option<u32>,
    /// Per-request HTTP deadline, milliseconds (default 15,000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Allow `http://` endpoints that are not loopback. Loopback `http://` (a
    /// simulator on the same host) is always allowed.
    #[serde(default)]
    pub allow_plain_http: bool,
}

/// The RP's REST API key. No `Display`, `Serialize` or `PartialEq`; `Debug` is
/// redacted. It travels only in the `Authorization` header.
#[derive(Clone)]
pub struct KakaoDirectApiKey(String);

impl std::fmt::Debug for KakaoDirectApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KakaoDirectApiKey(..)")
    }
}

impl KakaoDirectApiKey {
    /// A REST API key: 1 to 256 visible ASCII characters, no spaces (it goes
    /// into a header as is).
    pub fn new(raw: &str) -> Result<Self, ProviderError> {
        let k = raw.trim();
        if k.is_empty() || k.len() > 256 || !k.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ProviderError::Config(
                "kakao_direct api_key must be 1 to 256 visible ASCII characters".into(),
            ));
        }
        Ok(Self(k.to_owned()))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

/// Whether `s` is a product code: an upper-case letter and 4 digits, optionally `T`.
pub fn valid_product_code(s: &str) -> bool {
    let b = s.as_bytes();
    let core = match b {
        [rest @ .., b'T'] if rest.len() == 5 => rest,
        _ => b,
    };
    matches!(core, [l, d @ ..] if l.is_ascii_uppercase() && d.len() == 4 && d.iter().all(u8::is_ascii_digit))
}

/// Whether `s` can be a tx_id we send back to Kakao: 1 to 64 ASCII letters,
/// digits, `-` or `_` (the format is not published; this keeps it URL-safe).
pub fn valid_tx_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_is_redacted_and_header_safe() {
        let k = KakaoDirectApiKey::new(" 0123abcd ").unwrap();
        assert_eq!(k.expose(), "0123abcd");
        assert_eq!(format!("{k:?}"), "KakaoDirectApiKey(..)");
        assert!(KakaoDirectApiKey::new("").is_err());
        assert!(KakaoDirectApiKey::new("a b").is_err());
        assert!(KakaoDirectApiKey::new("키").is_err());
    }

    #[test]
    fn product_codes_and_tx_ids() {
        assert!(valid_product_code("K1100"));
        assert!(valid_product_code("K1110T"));
        assert!(!valid_product_code("k1100"));
        assert!(!valid_product_code("K11000"));
        assert!(!valid_product_code("K11"));
        assert!(valid_tx_id("a1b2-c3_d4"));
        assert!(!valid_tx_id(""));
        assert!(!valid_tx_id("a/b"));
        assert!(!valid_tx_id(&"a".repeat(65)));
    }

    #[test]
    fn config_rejects_unknown_keys() {
        let ok = serde_json::json!({ "endpoint": "https://cert-sign.kakao.com" });
        assert!(serde_json::from_value::<KakaoDirectConfig>(ok.clone()).is_ok());
        let mut bad = ok;
        if let Some(o) = bad.as_object_mut() {
            o.insert("api_key".into(), "x".into());
        }
        assert!(serde_json::from_value::<KakaoDirectConfig>(bad).is_err());
    }
}
