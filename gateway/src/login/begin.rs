//! The start of every login, whichever front asked: the abuse limits, a
//! short-lived transaction bound to this browser, and the way to the chooser.

use super::{Front, LoginRequest};
use crate::app::App;
use crate::random;
use crate::rescue::{Ctx, GatewayError};
use crate::txn::{LoginTxn, PolicySnapshot, State, FORMAT};
use crate::web::{respond, Response};

/// The browser-binding cookie: a login can only be driven by the browser that began it.
pub const BROWSER_COOKIE: &str = "mj_b";

/// How long a login lives before the citizen asks for a push (chooser and
/// identity form): an anonymous start costs a record this long at most.
pub const CHOOSING_TTL_SECS: u64 = 180;

/// Starts a login transaction answering `front`, bound to this browser (the
/// browser cookie is set when missing); returns the way to the chooser and
/// the transaction's id.
pub async fn begin(
    app: &App,
    headers: &http::HeaderMap,
    front: Front,
    request: LoginRequest,
    policy: PolicySnapshot,
    ctx: &mut Ctx,
) -> Result<(Response, String), GatewayError> {
    crate::limits::start(app, &request.site_id, ctx.client).await?;
    let (browser_secret, new_cookie) = match app.cookies.get(headers, BROWSER_COOKIE) {
        Some(v) if v.len() == 43 => (v.to_owned(), false),
        _ => (random::token(32)?, true),
    };
    let now = app.clock.now();
    let txn = LoginTxn {
        v: FORMAT,
        id: random::token(16)?,
        rev: 0,
        created_at: now,
        // Anonymous until a push is asked for: a short life, extended to
        // the login's full one when the citizen submits the identity form.
        expires_at: now + app.config.login_ttl.as_secs().min(CHOOSING_TTL_SECS),
        browser: random::digest(&browser_secret),
        csrf: random::token(24)?,
        front,
        request,
        policy,
        state: State::Choosing,
        attempt: None,
        attempts: 0,
        failure: None,
        outcome: None,
    };
    app.txns.create(&txn).await?;
    ctx.set_txn(&txn.id);
    tracing::info!(txn = %txn.id, front = txn.front.kind(), client = %txn.front.party(), acr = txn.request.required_level.short(), "login started");
    let mut resp = respond::redirect(&format!("/login/{}", txn.id));
    if new_cookie {
        resp = respond::with_cookie(
            resp,
            &app.cookies.set(BROWSER_COOKIE, &browser_secret, None),
        );
    }
    Ok((resp, txn.id))
}

/// Starts a login that no browser drives (CIBA): no cookie, no client
/// address to count (the caller is an authenticated site, limited by the
/// caller), bound to a browser secret that is drawn and forgotten, so no
/// `/login/{id}` page can ever act on it. It lives the login's full life.
pub async fn begin_backchannel(
    app: &App,
    front: Front,
    request: LoginRequest,
    policy: PolicySnapshot,
) -> Result<LoginTxn, GatewayError> {
    let now = app.clock.now();
    let txn = LoginTxn {
        v: FORMAT,
        id: random::token(16)?,
        rev: 0,
        created_at: now,
        expires_at: now + app.config.login_ttl.as_secs(),
        browser: random::digest(&random::token(32)?),
        csrf: random::token(24)?,
        front,
        request,
        policy,
        state: State::Choosing,
        attempt: None,
        attempts: 0,
        failure: None,
        outcome: None,
    };
    app.txns.create(&txn).await?;
    tracing::info!(txn = %txn.id, front = txn.front.kind(), client = %txn.front.party(), acr = txn.request.required_level.short(), "login started");
    Ok(txn)
}

/// Whether this request comes from the browser that began `txn`.
pub fn same_browser(app: &App, headers: &http::HeaderMap, txn: &LoginTxn) -> bool {
    let Some(v) = app.cookies.get(headers, BROWSER_COOKIE) else {
        return false;
    };
    let given = random::digest(v);
    given.len() == txn.browser.len()
        && bool::from(subtle::ConstantTimeEq::ct_eq(
            given.as_bytes(),
            txn.browser.as_bytes(),
        ))
}
