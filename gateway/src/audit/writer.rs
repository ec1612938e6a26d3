//! The one writer of a process's chain: a thread that owns the file.
//!
//! Records arrive over a channel, in the order their hooks ran, and are
//! written in batches: whatever queued while the last batch was being
//! written goes out in one `write` and, when anyone in it waits (a login
//! under `refuse`, a signature, a checkpoint), one `fdatasync` (group
//! commit). A waiter is answered only after its batch is synced, so "the
//! record is on disk before the login completes" costs one sync per batch,
//! not per login. A thread, not a task: the writes and syncs block.
//!
//! A batch that fails (disk full, the path a directory, a sync error) is cut
//! back off the file and the chain does not move, so the next record
//! continues from the last one written and no half line is left behind.
//! Cutting back is only safe if no one else appended meanwhile, and
//! processes may share a file (replicas given one path): so each batch is
//! written, synced and, if need be, cut back under an exclusive `flock` on
//! the file, and the length it cuts back to is read under that lock. Another
//! writer's records are never cut; writers sharing a file take turns per
//! batch (waiting at most [`LOCK_WAIT`], then the batch fails rather than
//! hang a login). The file is created `0600` and never through a symbolic
//! link (`O_NOFOLLOW`), so whoever can plant a link in its folder cannot
//! make the gateway append elsewhere.
//!
//! After a failed batch the writer is *down* ([`Health`]): `/readyz`
//! answers 503 under `on_failure = "refuse"`, since every login on this
//! replica is refused until a write succeeds. It comes back up with the
//! next batch that is written and synced, which starts with an
//! `audit.resumed` record saying since when and how many records were not
//! written. So that it can come back without traffic (a replica taken out
//! of the balancer gets none), the checkpointer sends a [`Msg::Probe`]
//! every few seconds while it is down: that batch is the `audit.resumed`
//! record alone, a real write and sync, not a check that could pass on a
//! full disk.
//!
//! The file is reopened when it is renamed or removed under us (an
//! operator's rotation): the chain simply continues in the new file.

use super::chain::{Chain, Head};
use super::Event;
use crate::clock::Clock;
use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most records written in one batch.
const MAX_BATCH: usize = 1024;
/// Longest a batch waits for another process's batch to release the file.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// What a hook or the checkpointer asks of the writer.
pub enum Msg {
    /// Append a record; `done` (if any) hears once it is synced, with the
    /// head the record made.
    Record {
        time: u64,
        name: String,
        fields: serde_json::Map<String, serde_json::Value>,
        done: Option<oneshot::Sender<Result<Head, String>>>,
    },
    /// Sync what is written and tell the head (for a checkpoint).
    Head {
        done: oneshot::Sender<Result<Head, String>>,
    },
    /// While down, try to write (the `audit.resumed` record); else nothing.
    Probe,
}

/// Whether the last batch failed, shared with readiness.
#[derive(Debug, Default)]
pub struct Health {
    down: AtomicBool,
}

impl Health {
    /// The last write failed and none has succeeded since.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }
}

/// The open file, and which file it is (to notice a rotation).
struct Sink {
    path: PathBuf,
    open: Option<(File, Option<(u64, u64)>)>,
}

#[cfg(unix)]
fn identity(m: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// Opens `path` to append: created `0600`, never through a symbolic link.
#[cfg(unix)]
fn open_append(path: &std::path::Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                std::io::Error::other(
                    "it is a symbolic link; the audit file is never opened through one",
                )
            } else {
                e
            }
        })
}

#[cfg(not(unix))]
fn open_append(path: &std::path::Path) -> std::io::Result<File> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(std::io::Error::other(
            "it is a symbolic link; the audit file is never opened through one",
        ));
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

impl Sink {
    fn file(&mut self) -> std::io::Result<&mut File> {
        let on_disk = std::fs::symlink_metadata(&self.path)
            .ok()
            .and_then(|m| identity(&m));
        let current = self.open.as_ref().and_then(|(_, id)| *id);
        if self.open.is_none() || on_disk.is_none() || on_disk != current {
            if let Some((old, _)) = self.open.take() {
                // Whatever went to the rotated file is made durable there.
                let _ = old.sync_data();
            }
            let created = on_disk.is_none();
            let f = open_append(&self.path)?;
            if !f.metadata()?.is_file() {
                return Err(std::io::Error::other("not a regular file"));
            }
            if created {
                // The new name itself must survive a crash.
                if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    let _ = File::open(dir).and_then(|d| d.sync_all());
                }
            }
            let id = f.metadata().ok().and_then(|m| identity(&m));
            self.open = Some((f, id));
        }
        match &mut self.open {
            Some((f, _)) => Ok(f),
            None => Err(std::io::Error::other("audit file not open")),
        }
    }

    /// Appends `buf` (and syncs when `sync`); on failure, cuts it back off.
    /// All under the file's lock, so no one else appends meanwhile.
    fn write(&mut self, buf: &[u8], sync: bool) -> std::io::Result<()> {
        let f = self.file()?;
        lock(f)?;
        let written = f.metadata().map(|m| m.len()).and_then(|before| {
            let written = f
                .write_all(buf)
                .and_then(|()| if sync { f.sync_data() } else { Ok(()) });
            if written.is_err() {
                let _ = f.set_len(before);
            }
            written
        });
        // Closing the file (below, on failure) would release it too.
        let _ = f.unlock();
        if written.is_err() {
            self.open = None;
        }
        written
    }
}

/// Takes the file's exclusive lock, waiting up to [`LOCK_WAIT`] for a
/// process that shares it to finish its batch.
fn lock(f: &File) -> std::io::Result<()> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(std::io::Error::other(format!(
                    "another process held the file's lock for {} s",
                    LOCK_WAIT.as_secs()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// Since when the writer is down, and how many records it could not write.
struct Down {
    since: u64,
    unwritten: u64,
}

/// The writer thread's state.
struct Writer {
    chain: Chain,
    sink: Sink,
    clock: Arc<dyn Clock>,
    health: Arc<Health>,
    down: Option<Down>,
}

/// Starts the writer thread for `writer`'s chain in `path`.
pub fn spawn(
    path: PathBuf,
    writer: String,
    clock: Arc<dyn Clock>,
    health: Arc<Health>,
    mut rx: mpsc::Receiver<Msg>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("munjigi-audit".into())
        .spawn(move || {
            let mut w = Writer {
                chain: Chain::new(&writer),
                sink: Sink { path, open: None },
                clock,
                health,
                down: None,
            };
            while let Some(first) = rx.blocking_recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(m) => batch.push(m),
                        Err(_) => break,
                    }
                }
                w.write_batch(batch);
            }
        })
}

impl Writer {
    fn write_batch(&mut self, batch: Vec<Msg>) {
        let mut buf = Vec::with_capacity(batch.len() * 320);
        let mut head = self.chain.head().clone();
        let mut records = Vec::new();
        let mut heads = Vec::new();
        let mut sync = false;
        if let Some(down) = &self.down {
            // The first record written again says what was not.
            let resumed = Event::Resumed {
                since: down.since,
                unwritten: down.unwritten,
            };
            let line = resumed.split().and_then(|(name, fields)| {
                self.chain.line(&head, self.clock.now(), &name, &fields)
            });
            match line {
                Ok((line, next)) => {
                    buf.extend_from_slice(&line);
                    head = next;
                    sync = true;
                }
                Err(e) => {
                    tracing::error!(code = "MJ-A02", error = %e, "audit.resumed not written");
                }
            }
        }
        for m in batch {
            match m {
                Msg::Record {
                    time,
                    name,
                    fields,
                    done,
                } => match self.chain.line(&head, time, &name, &fields) {
                    Ok((line, next)) => {
                        buf.extend_from_slice(&line);
                        sync |= done.is_some();
                        records.push(done.map(|d| (d, next.clone())));
                        head = next;
                    }
                    Err(e) => {
                        tracing::error!(code = "MJ-A02", event = %name, error = %e, "audit record not written");
                        if let Some(d) = done {
                            let _ = d.send(Err(e));
                        }
                    }
                },
                Msg::Head { done } => {
                    sync = true;
                    heads.push(done);
                }
                Msg::Probe => {}
            }
        }
        let result = if buf.is_empty() && !sync {
            Ok(())
        } else {
            self.sink.write(&buf, sync)
        };
        match result {
            Ok(()) => {
                self.chain.advance(head.clone());
                if let Some(down) = self.down.take() {
                    self.health.down.store(false, Ordering::Relaxed);
                    tracing::info!(
                        since = down.since,
                        unwritten = down.unwritten,
                        path = %self.sink.path.display(),
                        "audit log writable again (audit.resumed written); ready again"
                    );
                }
                for (d, made) in records.into_iter().flatten() {
                    let _ = d.send(Ok(made));
                }
                for d in heads {
                    let _ = d.send(Ok(head.clone()));
                }
            }
            Err(e) => {
                let reason = format!("`{}`: {e}", self.sink.path.display());
                tracing::error!(code = "MJ-A02", records = records.len(), error = %reason, "audit records not written");
                let lost = u64::try_from(records.len()).unwrap_or(u64::MAX);
                match &mut self.down {
                    Some(down) => down.unwritten = down.unwritten.saturating_add(lost),
                    None => {
                        self.down = Some(Down {
                            since: self.clock.now(),
                            unwritten: lost,
                        });
                        self.health.down.store(true, Ordering::Relaxed);
                        tracing::error!(
                            code = "MJ-A04",
                            error = %reason,
                            "audit log unwritable: retried every few seconds; under on_failure = \"refuse\" logins are refused and /readyz answers 503 until a write succeeds"
                        );
                    }
                }
                for (d, _) in records.into_iter().flatten() {
                    let _ = d.send(Err(reason.clone()));
                }
                for d in heads {
                    let _ = d.send(Err(reason.clone()));
                }
            }
        }
    }
}
