//! Family B: Toss's own certificate API (토스 인증서, `cert.toss.im`), reached
//! directly rather than through a broker.
//!
//! The RP holds OAuth2 client credentials and fetches a bearer token (`scope=ca`,
//! 3,600 s) from Toss's token endpoint; the adapter caches it and, when an API
//! call answers 401, fetches a new one and repeats the call once. Personal data
//! travels encrypted under a per-request session ([`session`]): a fresh AES-256
//! key and 96-bit IV, sent to Toss wrapped with RSA-OAEP under Toss's public key
//! (`sessionKey`), and each personal field as `version$uuid$b64(AES-GCM(ct‖tag))$`
//! with the key bytes as AAD. A login is three calls under
//! `/api/v2/sign/user/auth/`: `request` (who, the nonce to sign → `txId`),
//! `status` (`REQUESTED`, `IN_PROGRESS`, `COMPLETED`, `EXPIRED`) and `result`
//! (the CMS `signature` and encrypted `personalData`, under the session key sent
//! with that call; Toss serves a result at most twice, the adapter reads it once).
//! Every answer is the envelope `{resultType: SUCCESS|FAIL, success | error}`;
//! refusals carry an `errorCode` ([`codes`]).
//!
//! What the encryption is worth: nothing beyond TLS. The format (the SDK's)
//! encrypts every field of one call under the session's one key and one IV,
//! and the key travels with the call (wrapped for Toss). AES-GCM with a
//! repeated key and IV leaks the XOR of the fields' plaintexts to anyone who
//! sees them, and lets anyone who knows one field's plaintext forge the
//! others' tags; so the fields are neither confidential nor bound to each
//! other against whoever reads or rewrites the traffic. We follow the format
//! because Toss speaks only it (a fresh session per call, so no key or IV is
//! ever reused across calls), and we trust the channel exactly as far as the
//! TLS to Toss goes: what makes a result believed is the CMS signature over
//! the nonce by a certificate chaining to Toss's root, for the person asked,
//! checked as for every family; the session-encrypted person fields are
//! read, then held to that person. And because a body's encryption is no
//! protection, no request or response body is ever logged, at any level: the
//! adapter logs ids, status, codes and durations; Toss's error `reason` text
//! is dropped ([`codes::map_refusal`]); the HTTP client logs nothing of a
//! body (tested at trace level in `tests/toss_direct_logs.rs`).
//!
//! Public record vs reading: the session key and field formats (version, uuid,
//! `AES_GCM$key$iv`, RSA-OAEP with SHA-1/MGF1, AES-GCM with a 128-bit tag and the
//! key as AAD, standard base64), the request fields `requestType`
//! (`USER_PERSONAL`), `triggerType`, `sessionKey`, `userName`, `userPhone`,
//! `userBirthday`, the result request `{sessionKey, txId}`, the result fields
//! `signature` and `personalData.ci`, the envelope and the paths are from
//! `toss/toss-cert-java-sdk` and its example; the token grant, scope and lifetime,
//! the status values and read-twice rule from the public description of the API.
//! Our reading (not found published): the nonce field `signData`, the lifetime
//! field `expireSeconds` (capped at the broker's Toss limit, 1,800 s), the other
//! `personalData` names, and the `errorCode` values.
//!
//! App-to-app is `triggerType = APP_SCHEME`: the answer's `androidAppUri` or
//! `iosAppUri` (by the phone's OS), else `appScheme`, opens the Toss app;
//! there is no return address.
//!
//! Not here: document signing, AES-CBC sessions (only for
//! JDK < 1.8 in the SDK), Toss's certificate-validate call (the gateway checks
//! the chain itself), per-login state (all in [`Pending`]).
//!
//! [`Pending`]: crate::adapter::Pending

pub mod codes;
pub mod config;
pub mod session;
pub(crate) mod wire;

mod adapter;

pub use adapter::TossDirectAdapter;
pub use codes::TossCode;
pub use session::TossSession;

use serde::Deserialize;

use crate::error::ProviderError;

/// Longest request lifetime, seconds (the broker's Toss limit).
pub const MAX_TTL_SECS: u32 = 1800;
/// Longest login nonce, characters (the broker's Toss limit).
pub const MAX_SIGN_DATA_CHARS: usize = 50;
/// OAuth2 scope of the certificate API.
pub const TOKEN_SCOPE: &str = "ca";

/// An RP's Toss-direct settings, from the gateway's TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TossDirectConfig {
    /// Base URL of the API (`https://cert.toss.im`); may carry a path prefix
    /// (the simulator serves under `/toss-direct`).
    pub endpoint: String,
    /// The OAuth2 token endpoint (`https://oauth2.cert.toss.im/token`).
    pub token_endpoint: String,
    /// The RP's OAuth2 client id.
    pub client_id: String,
    /// Cap on the request lifetime, seconds (further capped by [`MAX_TTL_SECS`]).
    #[serde(default)]
    pub ttl_secs: Option<u32>,
    /// Per-request HTTP deadline, milliseconds (default 15,000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Allow `http://` endpoints that are not loopback.
    #[serde(default)]
    pub allow_plain_http: bool,
}

/// The RP's OAuth2 client secret. No `Display`, `Serialize` or `PartialEq`;
/// `Debug` is redacted. It travels only in the token request's body.
#[derive(Clone)]
pub struct TossDirectClientSecret(String);

impl std::fmt::Debug for TossDirectClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TossDirectClientSecret(..)")
    }
}

impl TossDirectClientSecret {
    /// A client secret: 1 to 256 visible ASCII characters.
    pub fn new(raw: &str) -> Result<Self, ProviderError> {
        let k = raw.trim();
        if !visible_ascii(k, 256) {
            return Err(ProviderError::Config(
                "toss_direct client_secret must be 1 to 256 visible ASCII characters".into(),
            ));
        }
        Ok(Self(k.to_owned()))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

/// Whether `s` is 1 to `max` visible ASCII characters (ids, secrets).
pub fn visible_ascii(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether `s` can be a txId we send back: 1 to 64 ASCII letters, digits, `-`
/// or `_` (a UUID in practice; this keeps it safe to echo).
pub fn valid_tx_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `application/x-www-form-urlencoded` for one value (RFC 3986 unreserved kept).
pub(crate) fn form_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes one `application/x-www-form-urlencoded` value; `None` if malformed.
pub fn form_decode(v: &str) -> Option<String> {
    let mut out = Vec::with_capacity(v.len());
    let mut bytes = v.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let h = [bytes.next()?, bytes.next()?];
                let s = std::str::from_utf8(&h).ok()?;
                out.push(u8::from_str_radix(s, 16).ok()?);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_secret_is_redacted() {
        let s = TossDirectClientSecret::new(" s3cr3t ").unwrap();
        assert_eq!(s.expose(), "s3cr3t");
        assert_eq!(format!("{s:?}"), "TossDirectClientSecret(..)");
        assert!(TossDirectClientSecret::new("").is_err());
        assert!(TossDirectClientSecret::new("a b").is_err());
    }

    #[test]
    fn form_values_round_trip() {
        for v in ["abc", "a b+c/d=e&f", "토스", "%zz"] {
            assert_eq!(form_decode(&form_encode(v)).as_deref(), Some(v));
        }
        assert_eq!(form_decode("%4"), None);
        assert!(valid_tx_id("0b1c2d3e-aaaa-4bbb-8ccc-123456789abc"));
        assert!(!valid_tx_id("a/b"));
    }

    #[test]
    fn config_rejects_unknown_keys() {
        let ok = serde_json::json!({
            "endpoint": "https://cert.toss.im",
            "token_endpoint": "https://oauth2.cert.toss.im/token",
            "client_id": "test_a8e2",
        });
        assert!(serde_json::from_value::<TossDirectConfig>(ok.clone()).is_ok());
        let mut bad = ok;
        if let Some(o) = bad.as_object_mut() {
            o.insert("client_secret".into(), "x".into());
        }
        assert!(serde_json::from_value::<TossDirectConfig>(bad).is_err());
    }
}
