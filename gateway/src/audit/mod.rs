//! One tamper-evident audit log for logins, signatures, reloads, keys and
//! abuse limits.
//!
//! The metrics say how many; this says which, and must still say it after
//! someone with access to the file has tried to edit history. So each
//! process appends its own hash chain ([`chain`]: every record names the
//! hash of the one before), and periodically seals the chain's head with the
//! gateway's published signing key into the store and the file
//! ([`checkpoint`]). `munjigi audit verify` ([`verify`]) recomputes every
//! chain and finds a changed, removed, reordered or cut record, and says
//! where.
//!
//! One writer per process ([`writer`], a thread fed by a channel), living in
//! the process [`crate::runtime::Runtime`]: a reload keeps the chain going.
//! What each event holds and who waits for it is in [`events`]: signing is
//! fail-closed (no receipt without its record on disk); a login follows
//! `[audit] on_failure`. Nothing personal or secret is ever recorded.
//!
//! A refused request costs an attacker nothing, so a record each would let
//! them fill the audit disk: `limit.tripped` (and `ciba.refused`) are
//! aggregated here, at most one record per (kind, site) (per client, site and
//! reason) per [`LIMIT_EVERY`], each carrying the refusals
//! since the key's last record. The tally is in-process (each writer
//! records its own replica's refusals); what is pending is recorded once
//! [`LIMIT_EVERY`] has passed since the key's last record, by the next
//! refusal or else by the checkpointer's housekeeping (every few seconds),
//! and all of it at a graceful shutdown, so a burst that stops is still
//! counted. A crash loses at most one minute's tally.
//!
//! Not here: shipping the log anywhere, or rotating it (rename the file;
//! the writer notices and continues the chain in a new one).

pub mod chain;
pub mod checkpoint;
pub mod events;
pub mod verify;
mod writer;

pub use events::{
    ciba_ended, ciba_refused, ciba_requested, config_reloaded, device_ended, device_requested,
    limit_tripped, login_completed, login_failed, login_returned, login_started, refuses_logins,
    signature_failed, signature_requested, signer_changed, signer_confirmed,
    verified_login_completed, Event, Via,
};

use crate::clock::Clock;
use crate::config::model::AuditSettings;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{mpsc, oneshot};

/// Records queued before a hook that does not wait starts dropping them
/// (and logging `MJ-A02`): far more than a burst of logins queues while one
/// batch is synced.
const QUEUE: usize = 65_536;

/// Shortest time between two `limit.tripped` records of one (kind, site).
pub const LIMIT_EVERY: u64 = 60;

#[derive(Debug, thiserror::Error)]
#[error("audit log `{path}` could not be written: {reason}")]
pub struct AuditError {
    pub path: String,
    pub reason: String,
}

/// This process's audit log, or none (no `[audit]` and no signing).
#[derive(Clone, Default)]
pub struct Audit {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    tx: mpsc::Sender<writer::Msg>,
    writer: String,
    settings: AuditSettings,
    clock: Arc<dyn Clock>,
    /// The `kid`s last recorded, to tell a rotation from a reload.
    keys: Mutex<Option<Vec<String>>>,
    /// The head the last checkpoint covered, and whether the store's
    /// index of writers has this one.
    sealed: tokio::sync::Mutex<(u64, bool)>,
    /// Whether the writer is down (its last batch failed).
    health: Arc<writer::Health>,
    /// Refusals not yet recorded, by what is tallied.
    limits: Mutex<HashMap<Tallied, Tally>>,
}

/// What refusals are counted under: one record per key per [`LIMIT_EVERY`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Tallied {
    /// `limit.tripped` (kind, site).
    Limit(&'static str, String),
    /// `ciba.refused` (client, site, the error answered, why).
    CibaRefused {
        client: String,
        site: String,
        reason: &'static str,
        detail: &'static str,
    },
}

impl Tallied {
    fn event(&self, count: u64) -> Event {
        match self {
            Tallied::Limit(kind, site) => Event::LimitTripped {
                kind,
                site: site.clone(),
                count,
            },
            Tallied::CibaRefused {
                client,
                site,
                reason,
                detail,
            } => Event::CibaRefused {
                client: client.clone(),
                site: site.clone(),
                reason,
                detail,
                count,
            },
        }
    }
}

/// One (kind, site)'s refusals: when its last record was written, and how
/// many came since.
#[derive(Debug, Default)]
struct Tally {
    last: Option<u64>,
    pending: u64,
}

/// This process's writer id: host, start time and 64 random bits, stable
/// for the life of the process and unlike any other process's.
fn writer_id(clock: &dyn Clock) -> Result<String, String> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let mut host: String = host
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect();
    if host.is_empty() {
        host.push_str("munjigi");
    }
    let random = crate::random::bytes::<8>().map_err(|e| e.to_string())?;
    Ok(format!("{host}-{}-{}", clock.now(), hex::encode(random)))
}

impl Audit {
    /// No audit log: every hook does nothing.
    pub fn off() -> Self {
        Self::default()
    }

    /// Starts this process's writer on `settings.path`. The file is opened at
    /// the first record, so an unwritable path is a failing record (and a
    /// refused login or signature), not a gateway that will not start.
    pub fn open(settings: &AuditSettings, clock: Arc<dyn Clock>) -> Result<Self, String> {
        let writer = writer_id(clock.as_ref())?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let health = Arc::new(writer::Health::default());
        writer::spawn(
            settings.path.clone(),
            writer.clone(),
            clock.clone(),
            health.clone(),
            rx,
        )
        .map_err(|e| format!("audit: cannot start the writer thread: {e}"))?;
        tracing::info!(writer = %writer, path = %settings.path.display(), "audit log writer started");
        Ok(Self {
            inner: Some(Arc::new(Inner {
                tx,
                writer,
                settings: settings.clone(),
                clock,
                keys: Mutex::new(None),
                sealed: tokio::sync::Mutex::new((0, false)),
                health,
                limits: Mutex::new(HashMap::new()),
            })),
        })
    }

    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// The writer's last batch failed and none has been written since
    /// (under `on_failure = "refuse"`, no login can complete here).
    pub fn is_down(&self) -> bool {
        self.inner.as_deref().is_some_and(|i| i.health.is_down())
    }

    /// While the writer is down, has it try a write (`audit.resumed`) so it
    /// can come back without traffic.
    pub fn probe(&self) {
        if let Some(inner) = self.inner.as_deref().filter(|i| i.health.is_down()) {
            // A full queue will be written (or fail) anyway.
            let _ = inner.tx.try_send(writer::Msg::Probe);
        }
    }

    /// An abuse limit refused a request: recorded now if the (kind, site)
    /// has no record in the last [`LIMIT_EVERY`] seconds, else counted
    /// towards its next one.
    pub fn limit_tripped(&self, kind: &'static str, site: &str) {
        self.tally(Tallied::Limit(kind, site.to_owned()));
    }

    /// An authenticated client's CIBA request refused: tallied as
    /// `limit.tripped` is (a client sending refused requests could
    /// otherwise fill the audit log), one record per (client, site, reason,
    /// detail) per [`LIMIT_EVERY`] with the count.
    pub fn ciba_refused(
        &self,
        client: &str,
        site: &str,
        reason: &'static str,
        detail: &'static str,
    ) {
        self.tally(Tallied::CibaRefused {
            client: client.to_owned(),
            site: site.to_owned(),
            reason,
            detail,
        });
    }

    fn tally(&self, key: Tallied) {
        let Some(inner) = self.inner.as_deref() else {
            return;
        };
        let now = inner.clock.now();
        let mut tallies = inner.limits.lock().unwrap_or_else(PoisonError::into_inner);
        let t = tallies.entry(key.clone()).or_default();
        t.pending = t.pending.saturating_add(1);
        if t.last.is_some_and(|l| now.saturating_sub(l) < LIMIT_EVERY) {
            return;
        }
        let count = std::mem::take(&mut t.pending);
        t.last = Some(now);
        drop(tallies);
        self.record(key.event(count));
    }

    /// Records the pending refusals of every (kind, site) quiet for
    /// [`LIMIT_EVERY`], or of all of them (`all`, at shutdown); forgets the
    /// keys with nothing pending that have been quiet that long.
    pub fn flush_limits(&self, all: bool) {
        let Some(inner) = self.inner.as_deref() else {
            return;
        };
        let now = inner.clock.now();
        let mut due = Vec::new();
        let mut tallies = inner.limits.lock().unwrap_or_else(PoisonError::into_inner);
        tallies.retain(|key, t| {
            let quiet = t.last.is_none_or(|l| now.saturating_sub(l) >= LIMIT_EVERY);
            if t.pending > 0 && (all || quiet) {
                due.push(key.event(std::mem::take(&mut t.pending)));
                t.last = Some(now);
                return true;
            }
            t.pending > 0 || !quiet
        });
        drop(tallies);
        for e in due {
            self.record(e);
        }
    }

    /// This process's writer id.
    pub fn writer(&self) -> Option<&str> {
        self.inner.as_deref().map(|i| i.writer.as_str())
    }

    pub fn settings(&self) -> Option<&AuditSettings> {
        self.inner.as_deref().map(|i| &i.settings)
    }

    fn error(&self, reason: impl Into<String>) -> AuditError {
        AuditError {
            path: self
                .settings()
                .map(|s| s.path.display().to_string())
                .unwrap_or_default(),
            reason: reason.into(),
        }
    }

    fn message(
        &self,
        event: &Event,
        done: Option<oneshot::Sender<Result<chain::Head, String>>>,
    ) -> Result<writer::Msg, AuditError> {
        let inner = self
            .inner
            .as_deref()
            .ok_or_else(|| self.error("no audit log"))?;
        let (name, fields) = event.split().map_err(|e| self.error(e))?;
        Ok(writer::Msg::Record {
            time: inner.clock.now(),
            name,
            fields,
            done,
        })
    }

    /// Queues `event` without waiting (a failure is the writer's to log).
    pub fn record(&self, event: Event) {
        let Some(inner) = self.inner.as_deref() else {
            return;
        };
        let sent = self
            .message(&event, None)
            .map_err(|e| e.to_string())
            .and_then(|m| inner.tx.try_send(m).map_err(|e| e.to_string()));
        if let Err(e) = sent {
            tracing::error!(code = "MJ-A02", error = %e, "audit record not queued");
        }
    }

    /// Writes `event` and returns once it is synced to disk.
    pub async fn record_durable(&self, event: Event) -> Result<(), AuditError> {
        self.write_durable(event).await.map(|_| ())
    }

    /// [`Audit::record_durable`], telling the head the record made.
    async fn write_durable(&self, event: Event) -> Result<chain::Head, AuditError> {
        let inner = self
            .inner
            .as_deref()
            .ok_or_else(|| self.error("no audit log"))?;
        let (done, written) = oneshot::channel();
        let m = self.message(&event, Some(done))?;
        inner
            .tx
            .send(m)
            .await
            .map_err(|_| self.error("the writer has stopped"))?;
        written
            .await
            .map_err(|_| self.error("the writer has stopped"))?
            .map_err(|reason| self.error(reason))
    }

    /// Syncs what is written and returns the chain's head.
    async fn head(&self) -> Result<chain::Head, AuditError> {
        let inner = self
            .inner
            .as_deref()
            .ok_or_else(|| self.error("no audit log"))?;
        let (done, answer) = oneshot::channel();
        inner
            .tx
            .send(writer::Msg::Head { done })
            .await
            .map_err(|_| self.error("the writer has stopped"))?;
        answer
            .await
            .map_err(|_| self.error("the writer has stopped"))?
            .map_err(|reason| self.error(reason))
    }

    /// Records the signing keys of a new snapshot: `keys.loaded` at start,
    /// `keys.rotated` when a reload changed them.
    pub fn keys(&self, keys: &crate::keys::SigningKeys) {
        let Some(inner) = self.inner.as_deref() else {
            return;
        };
        use crate::config::model::IdTokenAlg;
        let current: Vec<String> = [IdTokenAlg::Es256, IdTokenAlg::Rs256]
            .iter()
            .filter_map(|a| keys.public_jwk(*a).key_id().map(str::to_owned))
            .collect();
        let published: Vec<String> = serde_json::from_slice::<serde_json::Value>(&keys.jwks())
            .ok()
            .and_then(|j| {
                j.get("keys").and_then(|k| k.as_array()).map(|ks| {
                    ks.iter()
                        .filter_map(|k| k.get("kid").and_then(|v| v.as_str()).map(str::to_owned))
                        .collect()
                })
            })
            .unwrap_or_default();
        let mut all = current.clone();
        all.extend(published.iter().cloned());
        let mut seen = inner.keys.lock().unwrap_or_else(PoisonError::into_inner);
        let event = match seen.as_ref() {
            None => Event::KeysLoaded { current, published },
            Some(before) if *before != all => Event::KeysRotated {
                before: before.clone(),
                current,
                published,
            },
            Some(_) => return,
        };
        *seen = Some(all);
        drop(seen);
        self.record(event);
    }
}

/// Refuses a reload that moves the audit log: a process writes one chain
/// to one place (`on_failure` may change).
pub fn reload_check(
    old: &crate::config::Config,
    new: &crate::config::Config,
) -> Result<(), String> {
    let place = |c: &crate::config::Config| {
        c.audit
            .as_ref()
            .map(|a| (a.path.clone(), a.checkpoint_every))
    };
    if place(old) != place(new) {
        return Err(
            "audit.path, audit.checkpoint_secs and turning the audit log on or off need a restart"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
