//! Authorization codes and access tokens: issued once, redeemed once.
//!
//! The store keeps only digests of codes and tokens, so a store dump does not
//! hand out logins. Claims are released (by the site's policy) when the code is
//! issued, so the token endpoint only signs what was already decided.

use super::OidcReturn;
use crate::app::App;
use crate::login::LoginRequest;
use crate::random;
use crate::rescue::GatewayError;
use crate::store::keys::Family;
use crate::txn::{Outcome, PolicySnapshot};
use crate::web::params::append_query;
use munjigi_policy::{Claims, Scopes};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRecord {
    pub client_id: String,
    pub redirect_uri: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub scope: String,
    pub claims: Claims,
    pub sid: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessRecord {
    pub client_id: String,
    pub scope: String,
    pub claims: Claims,
}

/// After a code is redeemed: remembers which access token it produced, so a
/// replay of the code can revoke it (RFC 6749 §4.1.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UsedCode {
    pub client_id: String,
    pub access_token_key: String,
}

pub fn code_key(code: &str) -> String {
    Family::Code.key(&random::digest(code))
}
pub fn used_code_key(code: &str) -> String {
    Family::UsedCode.key(&random::digest(code))
}
pub fn access_key(token: &str) -> String {
    Family::AccessToken.key(&random::digest(token))
}

/// The redirect back to the site with an error (RFC 6749 §4.1.2.1, RFC 9207 `iss`).
pub fn error_redirect(
    app: &App,
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
) -> String {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", app.config.issuer()));
    append_query(redirect_uri, &pairs)
}

/// Releases claims by the site's policy, stores a one-time code and returns the
/// redirect URL that carries it to the site.
pub async fn issue_code(
    app: &App,
    txn_id: &str,
    ret: &OidcReturn,
    req: &LoginRequest,
    policy: &PolicySnapshot,
    outcome: &Outcome,
    sid: &str,
) -> Result<String, GatewayError> {
    let claims = match crate::login::release(app, txn_id, req, policy, outcome)? {
        Ok(c) => c,
        Err(denied) => {
            tracing::warn!(txn = txn_id, client = %ret.client_id, code = denied.code(), "claim release refused");
            return Ok(error_redirect(
                app,
                &ret.redirect_uri,
                "access_denied",
                "the login does not meet the site's policy",
                ret.state.as_deref(),
            ));
        }
    };
    let scopes = Scopes::parse(&req.scope).map_err(|e| GatewayError::BadRequest(e.to_string()))?;
    let code = random::token(32)?;
    let record = CodeRecord {
        client_id: ret.client_id.clone(),
        redirect_uri: ret.redirect_uri.clone(),
        nonce: ret.nonce.clone(),
        code_challenge: ret.code_challenge.clone(),
        scope: scopes.as_str(),
        claims,
        sid: sid.to_owned(),
    };
    let bytes = serde_json::to_vec(&record).map_err(GatewayError::encode)?;
    app.store
        .put(
            &code_key(&code),
            bytes,
            Duration::from_secs(super::CODE_TTL_SECS),
        )
        .await?;
    tracing::info!(txn = txn_id, client = %ret.client_id, provider = %outcome.provider, acr = outcome.level.short(), "authorization code issued");
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = &ret.state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", app.config.issuer()));
    Ok(append_query(&ret.redirect_uri, &pairs))
}
