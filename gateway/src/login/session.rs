//! The gateway's own single sign-on session, so a citizen who logged in a moment
//! ago is not sent to their phone again by the next site (unless it asks with
//! `prompt=login` or a `max_age` that has passed, or needs a higher level).
//!
//! The cookie holds a random ticket; the store holds its digest → the outcome.
//! The session is listed in its own [`crate::sso`] index, so ending it (here,
//! or by `sid` from elsewhere) also ends what it handed out.

use crate::app::App;
use crate::random;
use crate::store::keys::Family;
use crate::store::StoreError;
use crate::txn::Outcome;
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub const COOKIE: &str = "mj_sid";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Public session id (`sid` claim); not the cookie value.
    pub sid: String,
    pub outcome: Outcome,
    pub expires_at: u64,
}

fn key(ticket: &str) -> String {
    Family::Session.key(&random::digest(ticket))
}

/// Creates a session; returns the cookie ticket and the session.
pub async fn create(
    app: &App,
    outcome: Outcome,
) -> Result<(String, Session), crate::rescue::GatewayError> {
    let ticket = random::token(32)?;
    let ttl = app.config.session_ttl;
    let session = Session {
        sid: random::token(16)?,
        outcome,
        expires_at: app.clock.now() + ttl.as_secs(),
    };
    let bytes = serde_json::to_vec(&session).map_err(crate::rescue::GatewayError::encode)?;
    let k = key(&ticket);
    app.store.put(&k, bytes, ttl).await?;
    // A fresh sid has no tombstone, so this cannot answer `Ended`.
    let _ = crate::sso::attach(app, &session.sid, crate::sso::Held::Session, &k, ttl).await?;
    Ok((ticket, session))
}

/// How long a replica may answer from its in-process copy of a session: a
/// logout on another replica is effective everywhere within this time.
pub const L1_TTL: Duration = Duration::from_secs(1);

/// The in-process L1 in front of the store for session reads (moka, bounded).
pub fn l1_cache() -> moka::sync::Cache<String, std::sync::Arc<Session>> {
    moka::sync::Cache::builder()
        .max_capacity(100_000)
        .time_to_live(L1_TTL)
        .build()
}

pub async fn load(app: &App, ticket: &str) -> Result<Option<Session>, StoreError> {
    if ticket.len() != 43 {
        return Ok(None);
    }
    let k = key(ticket);
    if let Some(s) = app.sessions.get(&k) {
        return Ok(Some((*s).clone()).filter(|s| s.expires_at > app.clock.now()));
    }
    let Some(raw) = app.store.get(&k).await? else {
        return Ok(None);
    };
    let session = serde_json::from_slice::<Session>(&raw)
        .ok()
        .filter(|s| s.expires_at > app.clock.now());
    if let Some(s) = &session {
        app.sessions.insert(k, std::sync::Arc::new(s.clone()));
    }
    Ok(session)
}

/// Ends the browser's single sign-on: this session and everything it handed
/// out ([`crate::sso::end_everything`]). Returns the session's `sid` and
/// what ended (whom to tell: [`crate::logout`]), if there was a session.
pub async fn end(
    app: &App,
    ticket: &str,
) -> Result<Option<(String, crate::sso::Ended)>, StoreError> {
    let ended = match load(app, ticket).await? {
        Some(s) => Some((
            s.sid.clone(),
            crate::sso::end_everything(app, &s.sid).await?,
        )),
        None => None,
    };
    let k = key(ticket);
    app.sessions.invalidate(&k);
    app.store.delete(&k).await?;
    Ok(ended)
}

/// The logout confirmation's CSRF token for the browser holding `ticket`:
/// HMAC-SHA256 keyed by the ticket (a secret only that browser's cookie
/// holds), so it is bound to this browser and this session and needs no
/// storage. The store keeps only SHA-256 of the ticket, from which it cannot
/// be made.
pub fn logout_csrf(ticket: &str) -> String {
    use base64::Engine as _;
    let mac = munjigi_providers::hmac::sha256(ticket.as_bytes(), &[b"munjigi-logout-v1"]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
}

/// Whether `given` is the logout CSRF token for `ticket` (constant time).
pub fn logout_csrf_matches(ticket: &str, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    let want = logout_csrf(ticket);
    want.len() == given.len() && bool::from(want.as_bytes().ct_eq(given.as_bytes()))
}

pub fn cookie_max_age(app: &App) -> Duration {
    app.config.session_ttl
}
