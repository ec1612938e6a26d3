//! The OpenID Connect provider sites integrate with.
//!
//! Authorization code flow (no implicit, no hybrid): PKCE S256, exact
//! redirect URI matching, one-time codes of 60 seconds, `iss` in the authorization
//! response (RFC 9207), `client_secret_basic`, `client_secret_post` and
//! `private_key_jwt`, userinfo,
//! RP-initiated logout, and for sites that are allowed them the Device
//! Authorization Grant (RFC 8628) and CIBA (backchannel logins of a named
//! citizen). What a login proves comes from [`crate::txn`]; this
//! module only speaks the protocol.

pub mod authorize;
pub mod ciba;
pub mod client_assertion;
pub mod device;
pub mod device_page;
pub mod discovery;
pub mod grant;
pub mod login_hint;
pub mod logout;
pub mod token;
pub mod userinfo;

/// Authorization codes live this long (RFC 6749 recommends at most 10 minutes).
pub const CODE_TTL_SECS: u64 = 60;
/// Access tokens (for userinfo) and ID tokens live this long.
pub const TOKEN_TTL_SECS: u64 = 600;

/// The OIDC end of a login: how the authorization response is built.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OidcReturn {
    pub client_id: String,
    /// Exactly as registered for the client (checked before the login began).
    pub redirect_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// PKCE S256 challenge, checked when the code is redeemed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
}
