//! The two ends of a login that a front sees: it finished (a verified outcome,
//! or a gateway session that answers for one), or the citizen went back to
//! the site without it. Each ends once: the request that claims the
//! transaction (on whichever replica) answers (a signature claims after
//! reading its request, in [`crate::signing`]); the answer depends on the
//! front, and only here is the front matched.

use super::{session, Front, LoginRequest};
use crate::app::App;
use crate::metrics::Left;
use crate::rescue::{Ctx, GatewayError};
use crate::txn::{LoginTxn, Outcome, PolicySnapshot};
use crate::web::{respond, Response};

/// Answers `front` with a finished login: an authorization code, a SAML
/// Response, a proxy hand-over. `sid` is the gateway session it belongs to.
/// Not for signing (a signature is never answered from a session).
#[allow(clippy::too_many_arguments)]
pub async fn answer(
    app: &App,
    txn_id: &str,
    front: &Front,
    request: &LoginRequest,
    policy: &PolicySnapshot,
    outcome: &Outcome,
    sid: &str,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    match front {
        Front::Oidc(o) => {
            let url = crate::oidc::grant::issue_code(app, txn_id, o, request, policy, outcome, sid)
                .await?;
            Ok(respond::redirect(&url))
        }
        Front::Saml(ret) => {
            crate::saml::sso::complete(app, txn_id, ret, request, policy, outcome, sid, ctx).await
        }
        Front::Proxy(px) => {
            let url = crate::proxy::entry::handoff(app, px, outcome, sid).await?;
            Ok(respond::redirect(&url))
        }
        Front::Signing(_) => Err(GatewayError::invariant(
            "a signature cannot be answered from a session",
        )),
        Front::Ciba(_) => Err(GatewayError::invariant(
            "a CIBA login is never answered from a browser",
        )),
        Front::Device(d) => {
            let settled =
                crate::oidc::device::approve(app, txn_id, d, request, policy, outcome, sid).await?;
            crate::oidc::device_page::finished(app, ctx, settled)
        }
    }
}

/// A verified login: claim it, then answer its front. A twin request that
/// loses the claim goes back to the waiting page (which finds the login gone
/// or, for signing, waits for the winner).
pub async fn complete(app: &App, txn: LoginTxn, ctx: &Ctx) -> Result<Response, GatewayError> {
    let Some(outcome) = txn.outcome.clone() else {
        return Err(GatewayError::invariant("verified login without an outcome"));
    };
    if let Front::Signing(spec) = &txn.front {
        // Signing claims after reading its request ([`crate::signing::finish`]).
        return crate::signing::finish(app, &txn, spec, &outcome).await;
    }
    // One login, one answer: only the request that removed the transaction
    // goes on; a racing twin finds it gone.
    if !app.txns.claim(&txn.id).await? {
        return Ok(respond::redirect(&format!("/login/{}/wait", txn.id)));
    }
    crate::audit::verified_login_completed(app, &txn, &outcome).await?;
    let (ticket, sess) = session::create(app, outcome.clone()).await?;
    let cookie = app.cookies.set(
        session::COOKIE,
        &ticket,
        Some(session::cookie_max_age(app).as_secs()),
    );
    let resp = answer(
        app,
        &txn.id,
        &txn.front,
        &txn.request,
        &txn.policy,
        &outcome,
        &sess.sid,
        ctx,
    )
    .await?;
    app.runtime
        .metrics
        .login(&txn.request.site_id, txn.front.kind(), Left::completed);
    Ok(respond::with_cookie(resp, &cookie))
}

/// Back to the site without logging in (or signing). Nothing is issued on
/// this way out, so a twin that loses the claim answers as the winner does
/// (a double click lands where the first would have); a signature request
/// is ended by its claimer only ([`crate::signing::declined`]).
pub async fn back_to_site(app: &App, txn: LoginTxn, ctx: &Ctx) -> Result<Response, GatewayError> {
    tracing::info!(txn = %txn.id, front = txn.front.kind(), client = %txn.front.party(), "citizen returned to the site without finishing");
    // Counted by the request that claims it (a signature: when its request
    // fails, in `signing`), so a double click counts once.
    if !matches!(txn.front, Front::Signing(_)) && app.txns.claim(&txn.id).await? {
        app.runtime
            .metrics
            .login(&txn.request.site_id, txn.front.kind(), Left::returned);
        crate::audit::login_returned(app, &txn);
    }
    // After a failed attempt the site hears why, from the one table.
    let failed = crate::failure::Failure::of_ended(txn.state, txn.failure);
    let cancelled = ("access_denied", "the citizen cancelled the login");
    let (error, description) = failed.map_or(cancelled, |f| f.looks().oauth);
    match &txn.front {
        Front::Oidc(o) => Ok(respond::redirect(&crate::oidc::grant::error_redirect(
            app,
            &o.redirect_uri,
            error,
            description,
            o.state.as_deref(),
        ))),
        Front::Saml(ret) => crate::saml::sso::answer(
            app,
            &ret.sp,
            ret,
            &failed.map_or(
                crate::saml::error::Refusal::Cancelled,
                crate::saml::error::Refusal::Failed,
            ),
            ctx,
        ),
        Front::Proxy(px) => {
            // A proxied site has no error endpoint: back to where the citizen
            // was going; a protected page there offers the login again.
            let back = app
                .config
                .routes
                .iter()
                .find(|r| r.id == px.route)
                .map_or_else(|| "/".to_owned(), |r| format!("{}{}", r.origin, r.prefix));
            Ok(respond::redirect(&back))
        }
        Front::Signing(spec) => crate::signing::declined(app, &txn, spec).await,
        // No browser holds a CIBA login's secret: nobody can reach this.
        Front::Ciba(_) => Err(GatewayError::invariant(
            "a CIBA login has no browser to go back from",
        )),
        Front::Device(d) => {
            crate::oidc::device::deny(app, &d.device).await?;
            crate::oidc::device_page::declined(app, ctx)
        }
    }
}
