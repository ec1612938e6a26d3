//! What lives as long as the process, across configuration reloads: the
//! store connection, the clock, the in-process session caches and the
//! upstream connection pools and the metrics registry, and the SAML metadata
//! fetched from URLs (`crate::saml::remote_metadata`).
//!
//! A reload swaps the [`crate::app::App`] snapshot whole (sites, adapters,
//! keys, metadata, routes) but builds it on the same `Runtime`, so it does
//! not drop every pooled upstream connection, empty the caches in front of
//! the store, or reconnect to Redis. What a config *produces* belongs to the
//! snapshot; what merely *serves* it belongs here.

use crate::clock::{Clock, SystemClock};
use crate::config::model::StoreSettings;
use crate::proxy::pool::Pool;
use crate::proxy::route::{Route, Upstream};
use crate::store::memory::MemoryStore;
use crate::store::Store;
use crate::txn::TxnRepo;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

/// Everything a pool's connections depend on: a route whose upstream is
/// unchanged by a reload keeps its pool (and its warm connections).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    route: String,
    https: bool,
    authority: String,
    ca_pem: Option<Vec<u8>>,
    connect_timeout: Duration,
}

impl PoolKey {
    fn of(route: &Route, up: &Upstream) -> Self {
        Self {
            route: route.id.clone(),
            https: up.https,
            authority: up.authority.as_str().to_owned(),
            ca_pem: up.ca_pem.clone(),
            connect_timeout: route.connect_timeout,
        }
    }
}

pub struct Runtime {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub txns: TxnRepo,
    /// In-process L1 for gateway session reads (see `login::session::L1_TTL`).
    pub sessions: moka::sync::Cache<String, Arc<crate::login::session::Session>>,
    /// In-process L1 for proxy session reads.
    pub proxy_sessions: moka::sync::Cache<String, Arc<crate::proxy::session::Loaded>>,
    /// Every series the admin listener exposes: a reload keeps them counting.
    pub metrics: crate::metrics::Metrics,
    /// Each provider's circuit: a reload keeps what it has seen.
    pub circuits: crate::circuit::Circuits,
    /// This process's audit chain: a reload keeps writing it.
    pub audit: crate::audit::Audit,
    /// What each provider's CRLs have said (the newest per issuer): a reload
    /// keeps it, so a CRL source going back to an older CRL is refused
    /// across reloads too. In-process: each replica remembers on its own.
    crls: Mutex<HashMap<String, Arc<munjigi_providers::cms::CrlMemory>>>,
    /// Pools held by the snapshots in use; a pool lives as long as one of
    /// them routes to it.
    pools: Mutex<HashMap<PoolKey, Weak<Pool>>>,
    /// SAML metadata URLs being fetched: a reload keeps each copy in use.
    pub metadata_feeds: crate::saml::remote_metadata::Feeds,
}

impl Runtime {
    /// The CRL memory of `provider`, the same for every config snapshot.
    pub fn crl_memory(&self, provider: &str) -> Arc<munjigi_providers::cms::CrlMemory> {
        let mut crls = self.crls.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(crls.entry(provider.to_owned()).or_default())
    }

    /// A runtime on `store`, telling time by `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Arc<Self> {
        Self::with_audit(store, clock, crate::audit::Audit::off())
    }

    /// [`Runtime::new`] writing `audit` (login records as plain JSON, which
    /// every replica reads; [`Runtime::start`] follows the store settings).
    pub fn with_audit(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        audit: crate::audit::Audit,
    ) -> Arc<Self> {
        Self::build(store, clock, audit, false)
    }

    fn build(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        audit: crate::audit::Audit,
        compact_logins: bool,
    ) -> Arc<Self> {
        let metrics = crate::metrics::Metrics::new();
        let store: Arc<dyn Store> = Arc::new(crate::store::measured::Measured::new(
            store,
            metrics.store(),
        ));
        Arc::new(Self {
            txns: TxnRepo::new(store.clone(), clock.clone()).compact(compact_logins),
            store,
            clock,
            sessions: crate::login::session::l1_cache(),
            proxy_sessions: crate::proxy::session::l1_cache(),
            metrics,
            circuits: crate::circuit::Circuits::new(),
            audit,
            crls: Mutex::new(HashMap::new()),
            pools: Mutex::new(HashMap::new()),
            metadata_feeds: crate::saml::remote_metadata::Feeds::default(),
        })
    }

    /// Connects the configured store (must run inside a Tokio runtime: the
    /// memory store starts its sweeper) on the system clock, and starts the
    /// audit writer when there is an audit log.
    pub async fn start(
        settings: &StoreSettings,
        audit: Option<&crate::config::model::AuditSettings>,
    ) -> Result<Arc<Self>, String> {
        let store: Arc<dyn Store> = match settings {
            StoreSettings::Memory { max_entries } => {
                let s = MemoryStore::new(*max_entries);
                s.spawn_sweeper(Duration::from_secs(10));
                s
            }
            StoreSettings::Redis {
                url,
                timeout,
                cluster,
                ..
            } => {
                use crate::store::redis::RedisStore;
                let url = std::str::from_utf8(url.expose())
                    .map_err(|_| "store.url is not UTF-8".to_owned())?;
                let store = if *cluster {
                    RedisStore::connect_cluster(url, *timeout).await
                } else {
                    RedisStore::connect(url, *timeout).await
                };
                Arc::new(store.map_err(|e| e.to_string())?)
            }
        };
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let audit = match audit {
            Some(a) => crate::audit::Audit::open(a, clock.clone())?,
            None => crate::audit::Audit::off(),
        };
        Ok(Self::build(store, clock, audit, settings.compact_logins()))
    }

    /// The pool for `route`'s upstream: the one already serving it when its
    /// upstream is unchanged, else a new one.
    pub fn pool_for(&self, route: &Route, up: &Upstream) -> Result<Arc<Pool>, String> {
        let key = PoolKey::of(route, up);
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = pools.get(&key).and_then(Weak::upgrade) {
            return Ok(pool);
        }
        let pool = Pool::for_route(route, up)?;
        // Pools of routes no snapshot uses any more are forgotten here.
        pools.retain(|_, p| p.strong_count() > 0);
        pools.insert(key, Arc::downgrade(&pool));
        Ok(pool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::App;
    use crate::clock::ManualClock;

    fn config(
        dir: &std::path::Path,
        second_upstream: &str,
        site_name: &str,
    ) -> Arc<crate::config::Config> {
        let text = format!(
            r#"
[server]
public_url = "http://127.0.0.1:8080"
listen = "127.0.0.1:8080"

[secrets]
pairwise_key = {{ value = "0123456789abcdef0123456789abcdef" }}

[keys]
dir = "{keys}"
generate_missing = true

[policies.standard]
min_level = "substantial"

[sites.town]
name = "{site_name}"
policy = "standard"
[sites.town.oidc]
client_id = "town"
client_secret = {{ value = "town-secret-0123456789" }}
redirect_uris = ["https://town.example/cb"]

[routes.kept]
site = "town"
prefix = "/kept/"
upstream = "http://127.0.0.1:9"

[routes.moved]
site = "town"
prefix = "/moved/"
upstream = "{second_upstream}"
"#,
            keys = dir.join("keys").display(),
        );
        Arc::new(crate::config::check::parse(&dir.join("munjigi.toml"), &text).unwrap())
    }

    fn pool<'a>(app: &'a App, route: &str) -> &'a Arc<Pool> {
        let r = app.config.routes.iter().find(|r| r.id == route).unwrap();
        app.proxy.pools[r.index].as_ref().unwrap()
    }

    #[tokio::test]
    async fn a_reload_keeps_the_store_the_clock_the_caches_and_unchanged_pools() {
        let dir = std::env::temp_dir().join(format!("munjigi-runtime-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = MemoryStore::new(1000);
        let clock = Arc::new(ManualClock::at(1_800_000_000));
        let runtime = Runtime::new(store, clock.clone());
        let before =
            App::assemble(config(&dir, "http://127.0.0.1:10", "구청"), runtime.clone()).unwrap();
        before
            .store
            .put("k", b"v".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        before.runtime.proxy_sessions.invalidate_all();

        let after = App::assemble(
            config(&dir, "http://127.0.0.1:11", "새 구청"),
            runtime.clone(),
        )
        .unwrap();
        assert_eq!(
            after.config.sites["town"].name, "새 구청",
            "the snapshot is new"
        );
        assert!(
            Arc::ptr_eq(&before.store, &after.store),
            "one store connection"
        );
        assert_eq!(
            after.store.get("k").await.unwrap().as_deref(),
            Some(&b"v"[..])
        );
        assert!(
            Arc::ptr_eq(pool(&before, "kept"), pool(&after, "kept")),
            "an unchanged upstream keeps its pool"
        );
        assert!(
            !Arc::ptr_eq(pool(&before, "moved"), pool(&after, "moved")),
            "a changed upstream gets a new one"
        );
        // The caches in front of the store are the runtime's, not the snapshot's.
        use munjigi_providers::{BirthDate, Ci, Evidence, Level, Name, Person, Phone, ProviderId};
        let person = Person {
            name: Name::parse("홍길동").unwrap(),
            birthdate: BirthDate::parse("1990-01-31").unwrap(),
            phone: Phone::parse("010-1234-5678").unwrap(),
            gender: None,
            ci: Ci::parse(&"A".repeat(88)).unwrap(),
        };
        let session = Arc::new(crate::login::session::Session {
            sid: "s".into(),
            outcome: crate::txn::Outcome {
                provider: ProviderId::new("kakao"),
                person: crate::txn::StoredPerson::from_person(&person),
                level: Level::Substantial,
                amr: vec![],
                auth_time: 1,
                evidence: Evidence::Cms(munjigi_providers::CmsEvidence {
                    signed_data: vec![],
                    signing_time: 1,
                    signer_issuer: String::new(),
                    signer_serial: String::new(),
                    signer_cn: Default::default(),
                }),
                signed: vec![],
            },
            expires_at: 1,
        });
        before.sessions.insert("t".into(), session);
        assert!(after.sessions.get("t").is_some());
        // And so is the clock.
        clock.advance(5);
        assert_eq!(
            (before.clock.now(), after.clock.now()),
            (1_800_000_005, 1_800_000_005)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
