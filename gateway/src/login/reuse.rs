//! Single sign-on, decided once for every front: a session of this browser
//! answers a new login without a push when it is fresh enough for the
//! request's `max_age`, at least at the level asked, and from a provider the
//! site (as it is now) allows. A front only says whether reuse is forbidden
//! (`prompt=login`, `ForceAuthn`) and answers the way it always does.

use super::{provider_fits, session, LoginRequest};
use crate::app::App;
use crate::rescue::GatewayError;
use crate::txn::PolicySnapshot;

/// This browser's gateway session, if it may answer `request`.
pub async fn reusable(
    app: &App,
    headers: &http::HeaderMap,
    request: &LoginRequest,
    policy: &PolicySnapshot,
) -> Result<Option<session::Session>, GatewayError> {
    let Some(ticket) = app.cookies.get(headers, session::COOKIE) else {
        return Ok(None);
    };
    let Some(s) = session::load(app, ticket).await? else {
        return Ok(None);
    };
    let age = app.clock.now().saturating_sub(s.outcome.auth_time);
    // max_age=0 means "authenticate now", like prompt=login.
    let fresh = request.max_age.is_none_or(|m| m > 0 && age <= m);
    let fits = fresh
        && s.outcome.level >= request.required_level
        && provider_fits(app, policy, request.required_level, &s.outcome.provider);
    Ok(fits.then_some(s))
}
