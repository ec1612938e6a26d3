//! Checkpoints: the chain's head, signed with the gateway's published key,
//! kept where the file's editor cannot reach it.
//!
//! A hash chain alone proves only that the file is self-consistent: someone
//! who can write the file can cut its tail, or rewrite it from any point and
//! recompute every hash after. A checkpoint pins `{writer, seq, head, time}`
//! with an ES256 JWS (`typ` [`TYP`], the key the receipts use, so
//! `munjigi audit verify` checks it against `/jwks`), written to the store
//! under `audit:cp:<writer>` for [`KEEP`] (400 days: longer than a year of
//! audits, and a Redis key per writer, not per record) and appended to the
//! file as an `audit.checkpoint` record. A chain whose head is older than
//! its writer's stored checkpoint was cut; a chain whose record at the
//! checkpoint's `seq` has another hash was rewritten. What was written after
//! the last checkpoint is protected by the chain alone: `checkpoint_secs`
//! bounds that window.
//!
//! Each writer checkpoints every `checkpoint_secs` when its chain moved, and
//! once more at a graceful shutdown. The store also keeps one index,
//! `audit:writers` (writer → time of its first checkpoint, entries older than
//! [`KEEP`] dropped), so a writer whose whole file went missing is noticed.

use super::{Audit, AuditError, Event};
use crate::app::App;
use crate::config::model::IdTokenAlg;
use crate::reload::Live;
use crate::store::keys::Family;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The JWS `typ` of a checkpoint.
pub const TYP: &str = "munjigi-audit-checkpoint+jwt";
/// How long a checkpoint (and the index) stays in the store.
pub const KEEP: Duration = Duration::from_secs(400 * 86_400);
/// Longest a shutdown waits for its final checkpoint.
const AT_SHUTDOWN: Duration = Duration::from_secs(10);
/// How often the housekeeping runs: a writer that is down tries a write
/// (so `/readyz` recovers within this), and limit tallies that are due are
/// recorded.
pub const HOUSEKEEPING: Duration = Duration::from_secs(5);

/// What a checkpoint signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The gateway (its public URL, the issuer).
    pub iss: String,
    pub writer: String,
    /// The last record covered and its hash.
    pub seq: u64,
    pub head: String,
    /// Unix seconds.
    pub time: u64,
}

/// The store key of `writer`'s latest checkpoint.
pub fn key(writer: &str) -> String {
    Family::AuditCheckpoint.key(writer)
}

/// Signs the chain's head, stores it and appends it to the file. Returns the
/// claims, or None when there was nothing new to seal (`always` = false)
/// or no audit log. A store that does not answer is logged (`MJ-A03`); the
/// checkpoint still goes to the file.
pub async fn seal(app: &App, always: bool) -> Result<Option<Claims>, AuditError> {
    let audit: &Audit = &app.runtime.audit;
    let Some(inner) = audit.inner.as_deref() else {
        return Ok(None);
    };
    let mut sealed = inner.sealed.lock().await;
    let head = audit.head().await?;
    if head.seq == 0 || (!always && head.seq <= sealed.0) {
        return Ok(None);
    }
    let claims = Claims {
        iss: app.config.issuer().to_owned(),
        writer: inner.writer.clone(),
        seq: head.seq,
        head: head.hash.clone(),
        time: inner.clock.now(),
    };
    let jws = app
        .keys
        .sign(IdTokenAlg::Es256, TYP, &claims)
        .map_err(|e| audit.error(format!("signing the checkpoint: {e}")))?;
    let stored = match store(app.store.as_ref(), &claims, &jws, !sealed.1).await {
        Ok(()) => {
            sealed.1 = true;
            true
        }
        Err(e) => {
            tracing::error!(code = "MJ-A03", writer = %claims.writer, seq = claims.seq, error = %e, "audit checkpoint not stored; it is in the file only");
            false
        }
    };
    let written = audit
        .write_durable(Event::Checkpoint {
            covers_seq: claims.seq,
            covers_hash: claims.head.clone(),
            stored,
            jws,
        })
        .await?;
    sealed.0 = written.seq;
    tracing::info!(writer = %claims.writer, seq = claims.seq, stored, "audit checkpoint");
    Ok(Some(claims))
}

async fn store(store: &dyn Store, claims: &Claims, jws: &str, index: bool) -> Result<(), String> {
    store
        .put(&key(&claims.writer), jws.as_bytes().to_vec(), KEEP)
        .await
        .map_err(|e| e.to_string())?;
    if index {
        add_to_index(store, &claims.writer, claims.time).await?;
    }
    Ok(())
}

/// Adds `writer` to `audit:writers` (compare-and-swap; entries older than
/// [`KEEP`] are dropped on the way).
async fn add_to_index(store: &dyn Store, writer: &str, now: u64) -> Result<(), String> {
    let key = Family::AuditWriters.prefix();
    for _ in 0..8 {
        let old = store.get(key).await.map_err(|e| e.to_string())?;
        let mut index: BTreeMap<String, u64> = old
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        index.retain(|_, t| now.saturating_sub(*t) < KEEP.as_secs());
        index.insert(writer.to_owned(), now);
        let new = serde_json::to_vec(&index).map_err(|e| e.to_string())?;
        let done = match &old {
            None => store.put_new(key, new, KEEP).await,
            Some(old) => store.swap(key, old, new, KEEP).await,
        }
        .map_err(|e| e.to_string())?;
        if done {
            return Ok(());
        }
    }
    Err("the index of audit writers kept changing".into())
}

/// Every stored checkpoint: the index's writers and each one's latest JWS.
pub async fn from_store(store: &dyn Store) -> Result<Vec<(String, Option<String>)>, String> {
    let index: BTreeMap<String, u64> = match store
        .get(Family::AuditWriters.prefix())
        .await
        .map_err(|e| e.to_string())?
    {
        Some(b) => serde_json::from_slice(&b).map_err(|e| format!("audit:writers: {e}"))?,
        None => BTreeMap::new(),
    };
    let mut out = Vec::new();
    for writer in index.into_keys() {
        let jws = store
            .get(&key(&writer))
            .await
            .map_err(|e| e.to_string())?
            .and_then(|b| String::from_utf8(b).ok());
        out.push((writer, jws));
    }
    Ok(out)
}

/// Checks a checkpoint JWS against a JWKS (ES256, `typ` [`TYP`], the key
/// named by `kid`); its claims, or why not.
pub fn open(jws: &str, jwks: &serde_json::Value) -> Result<Claims, String> {
    let header = josekit::jwt::decode_header(jws).map_err(|_| "not a compact JWS".to_owned())?;
    let h = |n: &str| header.claim(n).and_then(|v| v.as_str());
    if h("alg") != Some("ES256") {
        return Err("not ES256".into());
    }
    if h("typ") != Some(TYP) {
        return Err(format!("`typ` is not {TYP}"));
    }
    let kid = h("kid").ok_or("no `kid`")?;
    let (jwk, key) = munjigi_receipt::verify::key_for(jwks, kid)?;
    if key != munjigi_receipt::verify::SealKey::IdToken {
        return Err(format!(
            "key `{kid}` is the receipt key: checkpoints are signed with the ID token key"
        ));
    }
    let verifier = josekit::jws::ES256
        .verifier_from_jwk(&jwk)
        .map_err(|e| format!("key `{kid}`: {e}"))?;
    let (payload, _) = josekit::jws::deserialize_compact(jws, &verifier)
        .map_err(|_| format!("the signature does not verify with key `{kid}`"))?;
    serde_json::from_slice(&payload).map_err(|e| format!("not a checkpoint ({e})"))
}

/// Checkpoints every `checkpoint_secs` while the process runs (the current
/// snapshot's key and store at each tick), and every [`HOUSEKEEPING`]
/// probes a writer that is down and records the limit tallies that are due.
pub fn spawn(live: Arc<Live>) {
    let Some(every) = live
        .app()
        .runtime
        .audit
        .settings()
        .map(|s| s.checkpoint_every)
    else {
        return;
    };
    let house = live.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HOUSEKEEPING);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let audit = &house.app().runtime.audit;
            audit.probe();
            audit.flush_limits(false);
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let app = live.app();
            app.runtime.audit.flush_limits(false);
            if let Err(e) = seal(&app, false).await {
                tracing::error!(code = "MJ-A03", error = %e, "audit checkpoint failed");
            }
        }
    });
}

/// The last checkpoint, at a graceful shutdown (bounded, so a store that
/// does not answer cannot hold the process).
pub async fn at_shutdown(live: &Live) {
    let app = live.app();
    if !app.runtime.audit.is_on() {
        return;
    }
    // Every refusal counted so far is in the chain the last checkpoint seals.
    app.runtime.audit.flush_limits(true);
    match tokio::time::timeout(AT_SHUTDOWN, seal(&app, true)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(code = "MJ-A03", error = %e, "final audit checkpoint failed"),
        Err(_) => tracing::error!(code = "MJ-A03", "final audit checkpoint timed out"),
    }
}
