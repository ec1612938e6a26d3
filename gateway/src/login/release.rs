//! What a login may use and what it gives a site: which providers fit a
//! login (the site's policy as it was when the login began, and the level),
//! and which claims a finished login releases. Every front decides both here,
//! so a SAML SP and an OIDC client of one site see the same rules.

use super::LoginRequest;
use crate::app::App;
use crate::pairwise;
use crate::rescue::GatewayError;
use crate::txn::{Outcome, PolicySnapshot};
use munjigi_policy::{Claims, Scopes};
use munjigi_providers::{Assertion, Level, ProviderId};

/// The claims the site's policy releases for this outcome: the normalised
/// assertion, the pairwise `sub`, the policy check.
pub fn release(
    app: &App,
    txn_id: &str,
    request: &LoginRequest,
    policy: &PolicySnapshot,
    outcome: &Outcome,
) -> Result<Result<Claims, munjigi_policy::Denied>, GatewayError> {
    let scopes =
        Scopes::parse(&request.scope).map_err(|e| GatewayError::BadRequest(e.to_string()))?;
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
        &request.site_id,
        &assertion.person.ci,
    )
    .map_err(GatewayError::keys)?;
    Ok(munjigi_policy::release(
        &policy.to_policy(),
        &assertion,
        request.required_level,
        &scopes,
        sub,
    ))
}

/// Whether `provider` may serve this login (the site's snapshot and the level).
pub fn provider_fits(app: &App, policy: &PolicySnapshot, required: Level, id: &ProviderId) -> bool {
    app.config.provider(id.as_str()).is_some_and(|p| {
        munjigi_policy::provider_allowed(&policy.to_policy(), id, p.level, required)
    })
}

/// Whether any configured provider may serve a login at `required`.
pub fn any_provider_fits(app: &App, policy: &PolicySnapshot, required: Level) -> bool {
    app.config
        .providers
        .iter()
        .any(|p| provider_fits(app, policy, required, &p.id))
}
