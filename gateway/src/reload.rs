//! Configuration reload without a restart: SIGHUP, or the file changing on disk.
//!
//! The new file is validated in full first; a bad one is refused with its
//! `file:line` errors in the log while the old snapshot keeps serving. A good one
//! becomes a new [`App`] on the same [`crate::runtime::Runtime`] (store, caches,
//! pools of unchanged upstreams), swapped in whole: requests already
//! running finish on the snapshot they started with, and every login keeps the
//! policy snapshot it began with (it is stored with the login). Changing the
//! store itself needs a restart and is refused.

use crate::app::App;
use crate::config;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// The snapshot the server is running now.
pub struct Live {
    current: RwLock<Arc<App>>,
    /// Set when the replica stops accepting: `/readyz` turns false.
    pub draining: std::sync::atomic::AtomicBool,
}

impl Live {
    pub fn new(app: Arc<App>) -> Arc<Self> {
        Arc::new(Self {
            current: RwLock::new(app),
            draining: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The current snapshot (a cheap `Arc` clone; never held across an await).
    pub fn app(&self) -> Arc<App> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn swap(&self, app: Arc<App>) {
        match self.current.write() {
            Ok(mut g) => *g = app,
            Err(poisoned) => *poisoned.into_inner() = app,
        }
    }
}

fn store_kind(c: &config::Config) -> String {
    match &c.store {
        config::model::StoreSettings::Memory { .. } => "memory".into(),
        // The URL is a secret: compare its digest, never log it.
        config::model::StoreSettings::Redis {
            url,
            cluster,
            compact_logins,
            ..
        } => {
            format!(
                "redis:{cluster}:{compact_logins}:{}",
                hex::encode(openssl::sha::sha256(url.expose()))
            )
        }
    }
}

/// Validates `path` and, if good, swaps it in. Returns what happened, for the log.
pub fn reload(live: &Live, path: &Path) -> Result<(), String> {
    let old = live.app();
    let cfg = config::load(path).map_err(|e| e.to_string())?;
    if store_kind(&cfg) != store_kind(&old.config) {
        return Err("the [store] section changed; that needs a restart".into());
    }
    if cfg.listen != old.config.listen || cfg.public_url != old.config.public_url {
        return Err("server.listen and server.public_url need a restart".into());
    }
    // Never report a listener moved (say, off a public address) that is not.
    if cfg.admin_listen != old.config.admin_listen {
        return Err("admin.listen needs a restart".into());
    }
    crate::audit::reload_check(&old.config, &cfg)?;
    // The exporter is made once, at start.
    if cfg.otlp_endpoint != old.config.otlp_endpoint {
        return Err("tracing.otlp_endpoint needs a restart".into());
    }
    let app = App::assemble(Arc::new(cfg), old.runtime.clone()).map_err(|e| e.to_string())?;
    live.swap(app);
    Ok(())
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn reload_logged(live: &Live, path: &Path, why: &str) {
    let result = reload(live, path);
    live.app().runtime.metrics.reload(result.is_ok());
    crate::audit::config_reloaded(&live.app(), result.is_ok(), why);
    match result {
        Ok(()) => {
            let app = live.app();
            tracing::info!(
                why,
                providers = app.config.providers.len(),
                sites = app.config.sites.len(),
                "configuration reloaded"
            );
        }
        Err(errors) => {
            for line in errors.lines() {
                tracing::error!(
                    code = "MJ-C01",
                    why,
                    error = line,
                    "configuration refused; the previous one keeps serving"
                );
            }
        }
    }
}

/// Watches for SIGHUP and for changes of the file (polled every `every`).
pub fn spawn_watchers(live: Arc<Live>, path: PathBuf, every: Duration) {
    #[cfg(unix)]
    {
        let live = live.clone();
        let path = path.clone();
        tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                tracing::warn!("cannot listen for SIGHUP; reload by editing the file");
                return;
            };
            while hup.recv().await.is_some() {
                reload_logged(&live, &path, "sighup");
            }
        });
    }
    tokio::spawn(async move {
        let mut seen = mtime(&path);
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let now = mtime(&path);
            if now.is_some() && now != seen {
                seen = now;
                reload_logged(&live, &path, "file changed");
            }
        }
    });
}
