//! `/.well-known/openid-configuration`: computed once per config snapshot.

use crate::config::Config;
use bytes::Bytes;

pub fn document(config: &Config) -> Bytes {
    let iss = config.issuer();
    let acr: Vec<&str> = munjigi_providers::Level::ALL
        .iter()
        .map(|l| l.acr())
        .collect();
    let doc = serde_json::json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "jwks_uri": format!("{iss}/jwks"),
        "end_session_endpoint": format!("{iss}/logout"),
        // Back- and Front-Channel Logout 1.0: clients register their URIs in
        // config; the logout token and the frame's query always carry `sid`.
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": true,
        "frontchannel_logout_session_supported": true,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        // RFC 8628: clients with `device_grant = true` only.
        "device_authorization_endpoint": format!("{iss}/device_authorization"),
        "grant_types_supported": ["authorization_code", super::device::GRANT_TYPE, super::ciba::GRANT_TYPE],
        // CIBA: clients with `ciba = true` only; no push mode, no signed
        // requests (so no signing algorithms listed), no user_code.
        "backchannel_authentication_endpoint": format!("{iss}/bc-authorize"),
        "backchannel_token_delivery_modes_supported": ["poll", "ping"],
        "backchannel_user_code_parameter_supported": false,
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "phone", "ci"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
            "name", "birthdate", "gender", "phone_number", "phone_number_verified", "ci", "provider"],
        "acr_values_supported": acr,
        "prompt_values_supported": ["none", "login"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "ui_locales_supported": ["ko", "en"],
    });
    Bytes::from(doc.to_string())
}
