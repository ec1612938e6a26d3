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
//! The file is reopened when it is renamed or removed under us (an
//! operator's rotation): the chain simply continues in the new file.

use super::chain::{Chain, Head};
use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use tokio::sync::{mpsc, oneshot};

/// Most records written in one batch.
const MAX_BATCH: usize = 1024;

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

impl Sink {
    fn file(&mut self) -> std::io::Result<&mut File> {
        let on_disk = std::fs::metadata(&self.path)
            .ok()
            .and_then(|m| identity(&m));
        let current = self.open.as_ref().and_then(|(_, id)| *id);
        if self.open.is_none() || on_disk.is_none() || on_disk != current {
            if let Some((old, _)) = self.open.take() {
                // Whatever went to the rotated file is made durable there.
                let _ = old.sync_data();
            }
            let created = on_disk.is_none();
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
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
    fn write(&mut self, buf: &[u8], sync: bool) -> std::io::Result<()> {
        let f = self.file()?;
        let before = f.metadata()?.len();
        let written = f
            .write_all(buf)
            .and_then(|()| if sync { f.sync_data() } else { Ok(()) });
        if written.is_err() {
            let _ = f.set_len(before);
            self.open = None;
        }
        written
    }
}

/// Starts the writer thread for `writer`'s chain in `path`.
pub fn spawn(
    path: PathBuf,
    writer: String,
    mut rx: mpsc::Receiver<Msg>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("munjigi-audit".into())
        .spawn(move || {
            let mut chain = Chain::new(&writer);
            let mut sink = Sink { path, open: None };
            while let Some(first) = rx.blocking_recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(m) => batch.push(m),
                        Err(_) => break,
                    }
                }
                write_batch(&mut chain, &mut sink, batch);
            }
        })
}

fn write_batch(chain: &mut Chain, sink: &mut Sink, batch: Vec<Msg>) {
    let mut buf = Vec::with_capacity(batch.len() * 320);
    let mut head = chain.head().clone();
    let mut records = Vec::new();
    let mut heads = Vec::new();
    let mut sync = false;
    for m in batch {
        match m {
            Msg::Record {
                time,
                name,
                fields,
                done,
            } => match chain.line(&head, time, &name, &fields) {
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
        }
    }
    let result = if buf.is_empty() && !sync {
        Ok(())
    } else {
        sink.write(&buf, sync)
    };
    match result {
        Ok(()) => {
            chain.advance(head.clone());
            for (d, made) in records.into_iter().flatten() {
                let _ = d.send(Ok(made));
            }
            for d in heads {
                let _ = d.send(Ok(head.clone()));
            }
        }
        Err(e) => {
            let reason = format!("`{}`: {e}", sink.path.display());
            tracing::error!(code = "MJ-A02", records = records.len(), error = %reason, "audit records not written");
            for (d, _) in records.into_iter().flatten() {
                let _ = d.send(Err(reason.clone()));
            }
            for d in heads {
                let _ = d.send(Err(reason.clone()));
            }
        }
    }
}
