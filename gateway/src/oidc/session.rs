//! The gateway's own single sign-on session, so a citizen who logged in a moment
//! ago is not sent to their phone again by the next site (unless it asks with
//! `prompt=login` or a `max_age` that has passed, or needs a higher level).
//!
//! The cookie holds a random ticket; the store holds its digest → the outcome.

use crate::app::App;
use crate::random;
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
    format!("sess:{}", random::digest(ticket))
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
        expires_at: random::now() + ttl.as_secs(),
    };
    let bytes = serde_json::to_vec(&session)
        .map_err(|e| crate::rescue::GatewayError::Internal(e.to_string()))?;
    app.store.put(&key(&ticket), bytes, ttl).await?;
    Ok((ticket, session))
}

pub async fn load(app: &App, ticket: &str) -> Result<Option<Session>, StoreError> {
    if ticket.len() != 43 {
        return Ok(None);
    }
    let Some(raw) = app.store.get(&key(ticket)).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice::<Session>(&raw)
        .ok()
        .filter(|s| s.expires_at > random::now()))
}

pub async fn end(app: &App, ticket: &str) -> Result<(), StoreError> {
    app.store.delete(&key(ticket)).await
}

pub fn cookie_max_age(app: &App) -> Duration {
    app.config.session_ttl
}
