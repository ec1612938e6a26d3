//! Proxy sessions: an opaque ticket in a cookie on the route's host, the
//! session in the store under the ticket's digest, and a one-second
//! in-process copy in front of it.
//!
//! The one-second copy bounds how long a logout on another replica takes to
//! reach this one (as for the gateway's own session). The idle clock is
//! written back at most once per [`touch_interval`], not per request, and with
//! a compare-and-swap, so a request racing a logout cannot bring the session
//! back. Each session is listed under the single sign-on it came from
//! ([`crate::sso`]), whose logout ends it.

use crate::app::App;
use crate::random;
use crate::store::keys::Family;
use crate::store::StoreError;
use crate::txn::Outcome;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

pub const COOKIE: &str = "mj_px";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProxySession {
    pub outcome: Outcome,
    /// The gateway SSO session it came from (logged, never a secret).
    pub sid: String,
    pub created_at: u64,
    pub last_seen: u64,
}

/// A loaded session and the exact bytes it is stored as.
#[derive(Debug)]
pub struct Loaded {
    /// The store key (the ticket's digest); also names it in caches.
    pub key: Arc<str>,
    pub session: ProxySession,
    raw: Vec<u8>,
}

pub fn key(ticket: &str) -> String {
    Family::ProxySession.key(&random::digest(ticket))
}

/// How often the idle clock is written back: a tenth of the idle timeout,
/// between 1 s and 60 s.
pub fn touch_interval(idle: Duration) -> u64 {
    (idle.as_secs() / 10).clamp(1, 60)
}

/// Keyed by the ticket itself (this process holds it for the request anyway),
/// so a cache hit costs no hashing. A logout knows only store keys, so the
/// cache can be invalidated by a predicate on [`Loaded::key`].
pub fn l1_cache() -> moka::sync::Cache<String, Arc<Loaded>> {
    moka::sync::Cache::builder()
        .max_capacity(200_000)
        .time_to_live(crate::login::session::L1_TTL)
        .support_invalidation_closures()
        .build()
}

fn ttl(app: &App, s: &ProxySession, now: u64) -> Duration {
    let p = &app.config.proxy;
    let idle_end = s.last_seen + p.session_idle.as_secs();
    let abs_end = s.created_at + p.session_max.as_secs();
    Duration::from_secs(idle_end.min(abs_end).saturating_sub(now).max(1))
}

fn live(app: &App, s: &ProxySession, now: u64) -> bool {
    let p = &app.config.proxy;
    now < s.created_at + p.session_max.as_secs() && now < s.last_seen + p.session_idle.as_secs()
}

/// Creates a session; returns the cookie ticket.
pub async fn create(
    app: &App,
    outcome: Outcome,
    sid: &str,
) -> Result<String, crate::rescue::GatewayError> {
    let ticket = random::token(32)?;
    let now = app.clock.now();
    let s = ProxySession {
        outcome,
        sid: sid.to_owned(),
        created_at: now,
        last_seen: now,
    };
    let raw = serde_json::to_vec(&s).map_err(crate::rescue::GatewayError::encode)?;
    let k = key(&ticket);
    app.store.put(&k, raw, ttl(app, &s, now)).await?;
    // Listed under its single sign-on, so that session's logout ends it too
    // (for its whole possible life: the idle clock never outruns the maximum).
    let held = crate::sso::Held::ProxySession;
    match crate::sso::attach(app, sid, held, &k, app.config.proxy.session_max).await? {
        crate::sso::Attached::Yes => Ok(ticket),
        crate::sso::Attached::Ended => Err(crate::rescue::GatewayError::ProxyLink(
            "the single sign-on this login came from has ended",
        )),
    }
}

/// The live session for `ticket`, if any; refreshes the idle clock now and then.
pub async fn load(app: &App, ticket: &str) -> Result<Option<Arc<Loaded>>, StoreError> {
    if ticket.len() != 43 {
        return Ok(None);
    }
    let now = app.clock.now();
    let loaded = match app.proxy.sessions.get(ticket) {
        Some(l) => l,
        None => {
            let k = key(ticket);
            let Some(raw) = app.store.get(&k).await? else {
                return Ok(None);
            };
            let Ok(session) = serde_json::from_slice::<ProxySession>(&raw) else {
                return Ok(None);
            };
            let l = Arc::new(Loaded {
                key: k.into(),
                session,
                raw,
            });
            app.proxy.sessions.insert(ticket.to_owned(), l.clone());
            l
        }
    };
    if !live(app, &loaded.session, now) {
        return Ok(None);
    }
    if now.saturating_sub(loaded.session.last_seen) >= touch_interval(app.config.proxy.session_idle)
    {
        return touch(app, ticket, &loaded, now).await;
    }
    Ok(Some(loaded))
}

async fn touch(
    app: &App,
    ticket: &str,
    l: &Loaded,
    now: u64,
) -> Result<Option<Arc<Loaded>>, StoreError> {
    let mut s = l.session.clone();
    s.last_seen = now;
    let Ok(raw) = serde_json::to_vec(&s) else {
        return Ok(None);
    };
    if app
        .store
        .swap(&l.key, &l.raw, raw.clone(), ttl(app, &s, now))
        .await?
    {
        let fresh = Arc::new(Loaded {
            key: l.key.clone(),
            session: s,
            raw,
        });
        app.proxy.sessions.insert(ticket.to_owned(), fresh.clone());
        return Ok(Some(fresh));
    }
    // Changed or gone elsewhere (another replica touched it, or a logout):
    // believe the store.
    app.proxy.sessions.invalidate(ticket);
    let Some(raw) = app.store.get(&l.key).await? else {
        return Ok(None);
    };
    let Ok(session) = serde_json::from_slice::<ProxySession>(&raw) else {
        return Ok(None);
    };
    if !live(app, &session, now) {
        return Ok(None);
    }
    let fresh = Arc::new(Loaded {
        key: l.key.clone(),
        session,
        raw,
    });
    app.proxy.sessions.insert(ticket.to_owned(), fresh.clone());
    Ok(Some(fresh))
}

pub async fn end(app: &App, ticket: &str) -> Result<(), StoreError> {
    app.proxy.sessions.invalidate(ticket);
    app.store.delete(&key(ticket)).await
}
