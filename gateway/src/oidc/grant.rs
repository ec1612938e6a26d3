//! Authorization codes and access tokens: issued once, redeemed once.
//!
//! The store keeps only digests of codes and tokens, so a store dump does not
//! hand out logins. Claims are released (by the site's policy) when the code is
//! issued, so the token endpoint only signs what was already decided.

use crate::app::App;
use crate::rescue::GatewayError;
use crate::txn::{AuthRequest, Outcome, PolicySnapshot};
use crate::web::params::append_query;
use crate::{pairwise, random};
use munjigi_policy::{Claims, Scopes};
use munjigi_providers::{Assertion, ProviderId};
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
    format!("code:{}", random::digest(code))
}
pub fn used_code_key(code: &str) -> String {
    format!("code-used:{}", random::digest(code))
}
pub fn access_key(token: &str) -> String {
    format!("at:{}", random::digest(token))
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
    req: &AuthRequest,
    policy: &PolicySnapshot,
    outcome: &Outcome,
    sid: &str,
) -> Result<String, GatewayError> {
    let claims = match release(app, txn_id, req, policy, outcome)? {
        Ok(c) => c,
        Err(denied) => {
            tracing::warn!(txn = txn_id, client = %req.client_id, code = denied.code(), "claim release refused");
            return Ok(error_redirect(
                app,
                &req.redirect_uri,
                "access_denied",
                "the login does not meet the site's policy",
                req.state.as_deref(),
            ));
        }
    };
    let scopes = Scopes::parse(&req.scope).map_err(|e| GatewayError::BadRequest(e.to_string()))?;
    let code = random::token(32)?;
    let record = CodeRecord {
        client_id: req.client_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        nonce: req.nonce.clone(),
        code_challenge: req.code_challenge.clone(),
        scope: scopes.as_str(),
        claims,
        sid: sid.to_owned(),
    };
    let bytes = serde_json::to_vec(&record).map_err(|e| GatewayError::Internal(e.to_string()))?;
    app.store
        .put(
            &code_key(&code),
            bytes,
            Duration::from_secs(super::CODE_TTL_SECS),
        )
        .await?;
    tracing::info!(txn = txn_id, client = %req.client_id, provider = %outcome.provider, acr = outcome.level.short(), "authorization code issued");
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = &req.state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", app.config.issuer()));
    Ok(append_query(&req.redirect_uri, &pairs))
}

/// The claims the site's policy releases for this outcome (OIDC and SAML
/// share it): the normalised assertion, the pairwise `sub`, the policy check.
pub fn release(
    app: &App,
    txn_id: &str,
    req: &AuthRequest,
    policy: &PolicySnapshot,
    outcome: &Outcome,
) -> Result<Result<Claims, munjigi_policy::Denied>, GatewayError> {
    let scopes = Scopes::parse(&req.scope).map_err(|e| GatewayError::BadRequest(e.to_string()))?;
    let assertion = Assertion {
        txn: txn_id.to_owned(),
        provider: outcome.provider.clone(),
        person: outcome.person.person(),
        level: outcome.level,
        amr: outcome.amr.clone(),
        auth_time: outcome.auth_time,
        evidence: outcome.evidence.clone(),
    };
    let sub = pairwise::subject(
        app.config.pairwise_key.expose(),
        &req.site_id,
        &assertion.person.ci,
    )
    .map_err(|e| GatewayError::Internal(e.to_string()))?;
    Ok(munjigi_policy::release(
        &policy.to_policy(),
        &assertion,
        req.required_level,
        &scopes,
        sub,
    ))
}

/// Whether `provider` may serve this login (the site's snapshot and the level).
pub fn provider_fits(
    app: &App,
    policy: &PolicySnapshot,
    required: munjigi_providers::Level,
    id: &ProviderId,
) -> bool {
    app.config.provider(id.as_str()).is_some_and(|p| {
        munjigi_policy::provider_allowed(&policy.to_policy(), id, p.level, required)
    })
}
