//! The append-only audit log of signing events.
//!
//! A receipt says "this citizen signed this document"; the audit log is the
//! operator's independent record of every such statement. It is written —
//! and synced to disk — before a receipt is released, and a signing whose
//! event cannot be written ends without a receipt (fail-closed). One JSON
//! object per line; the file is opened in append mode per event, so an
//! operator's log rotation (rename, then a new file) needs no signal.
//! Entries carry ids, digests, the pairwise subject and the provider, never a
//! name, phone, birth date or CI.

use serde::Serialize;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
#[error("audit log `{path}` could not be written: {reason}")]
pub struct AuditError {
    pub path: String,
    pub reason: String,
}

#[derive(Clone)]
pub struct AuditLog {
    path: Arc<PathBuf>,
    /// One writer at a time in this process, so lines never interleave.
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl AuditLog {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path: Arc::new(path),
            lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Appends `event` as one line and syncs it to disk.
    pub async fn append<E: Serialize>(&self, event: &E) -> Result<(), AuditError> {
        let fail = |reason: String| AuditError {
            path: self.path.display().to_string(),
            reason,
        };
        let mut line = serde_json::to_vec(event).map_err(|e| fail(e.to_string()))?;
        line.push(b'\n');
        let _guard = self.lock.lock().await;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&*path)?;
            f.write_all(&line)?;
            f.sync_data()
        })
        .await
        .map_err(|e| fail(e.to_string()))?
        .map_err(|e| fail(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn appends_lines_and_fails_closed() {
        let dir = std::env::temp_dir().join(format!("munjigi-audit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let log = AuditLog::new(dir.join("audit.log"));
        log.append(&serde_json::json!({"n": 1})).await.unwrap();
        log.append(&serde_json::json!({"n": 2})).await.unwrap();
        let text = std::fs::read_to_string(dir.join("audit.log")).unwrap();
        assert_eq!(text, "{\"n\":1}\n{\"n\":2}\n");
        // A directory where the file should be: the write fails, loudly.
        let bad = AuditLog::new(dir.clone());
        assert!(bad.append(&serde_json::json!({"n": 3})).await.is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
