//! One configuration snapshot of the running gateway: the validated config
//! and what it produces (signing keys, provider adapters, SAML metadata,
//! proxy routes), on the process's [`Runtime`] (store, clock, caches, pools).
//!
//! Built at start and again on every reload, on the same runtime; handlers
//! get an `Arc<App>`. Nothing here is mutable per request: state that changes
//! lives in the store.

use crate::clock::Clock;
use crate::config::model::{CrlSettings, CrlSource, ProviderFamily};
use crate::config::Config;
use crate::keys::SigningKeys;
use crate::runtime::Runtime;
use crate::store::Store;
use crate::txn::TxnRepo;
use crate::web::cookies::CookieJar;
use munjigi_providers::cms::{CrlMemory, CrlPolicy, CrlRefresh, TrustAnchors};
use munjigi_providers::config::Material;
use munjigi_providers::http_client::HttpClient;
use munjigi_providers::Provider;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub struct App {
    pub config: Arc<Config>,
    /// What outlives this snapshot; `store`, `txns`, `clock` and `sessions`
    /// below are handles onto it.
    pub runtime: Arc<Runtime>,
    pub store: Arc<dyn Store>,
    pub txns: TxnRepo,
    pub clock: Arc<dyn Clock>,
    pub keys: SigningKeys,
    pub providers: HashMap<String, Arc<dyn Provider>>,
    pub cookies: CookieJar,
    /// Precomputed `/.well-known/openid-configuration`.
    pub discovery: bytes::Bytes,
    /// In-process L1 for session reads (see `login::session::L1_TTL`).
    pub sessions: moka::sync::Cache<String, Arc<crate::login::session::Session>>,
    /// Proxy sessions, identities and upstream clients.
    pub proxy: crate::proxy::Runtime,
    /// The SAML IdP key and certificate(s).
    pub saml_keys: crate::saml::keys::SamlKeys,
    /// Precomputed `/saml/metadata`.
    /// The signed IdP metadata, re-signed hourly.
    pub saml_metadata: crate::saml::metadata::Cached,
    /// The metadata fetcher of each site with `metadata_url` (the runtime's:
    /// a reload keeps them).
    pub saml_feeds: crate::saml::remote_metadata::SiteFeeds,
}

/// How long one CRL download may take.
const CRL_FETCH_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest CRL accepted from a URL (large CAs publish CRLs of several MiB).
const CRL_MAX_BYTES: usize = 32 * 1024 * 1024;

/// Adds the provider's revocation policy to its trust anchors: a CRL file
/// (re-read when it changes) or a URL fetched in the background with the
/// provider's TLS trust (see `munjigi_providers::cms::CrlPolicy::from_url`),
/// remembering in `memory` (the runtime's, so a reload keeps it). A provider
/// run without revocation, or without refusing when no CRL is held, is
/// logged at every start and reload.
fn with_crl(
    anchors: TrustAnchors,
    provider: &str,
    crl: Option<&CrlSettings>,
    tls_ca_pem: Option<&[u8]>,
    memory: Arc<CrlMemory>,
) -> Result<TrustAnchors, String> {
    let Some(c) = crl else {
        tracing::warn!(
            provider,
            "no crl configured: revoked certificates of this provider are not refused"
        );
        return Ok(anchors);
    };
    if !c.required {
        tracing::warn!(
            provider,
            "crl_required = false: results are accepted unchecked while no current CRL is held"
        );
    }
    let policy = match &c.source {
        CrlSource::File(path) => CrlPolicy::from_file(path, c.required).named(provider),
        CrlSource::Url(url) => {
            // The config allows plain http only to loopback.
            let http = HttpClient::new(tls_ca_pem, CRL_FETCH_TIMEOUT)
                .map_err(|e| format!("crl: {e}"))?
                .allow_plain_http(url.starts_with("http://"))
                .with_max_response_bytes(CRL_MAX_BYTES);
            CrlPolicy::from_url(provider, url, http, CrlRefresh::default(), c.required)
        }
    };
    Ok(anchors.with_crl(policy.remembering(memory)))
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
    #[error("store: {0}")]
    Store(String),
    #[error("provider `{id}`: {reason}")]
    Provider { id: String, reason: String },
    #[error("{0}")]
    Proxy(String),
    #[error("{0}")]
    Saml(String),
}

impl App {
    /// Starts the runtime (the configured store, the system clock) and builds
    /// everything the config describes on it. Must run inside a Tokio runtime.
    pub async fn build(config: Config) -> Result<Arc<App>, StartError> {
        let runtime = Runtime::start(&config.store, config.audit.as_ref())
            .await
            .map_err(StartError::Store)?;
        Self::assemble(Arc::new(config), runtime)
    }

    /// Builds an `App` for `config` on an existing runtime: a reload keeps the
    /// store (and so every login under way), the caches and the pools of
    /// unchanged upstreams, and swaps everything else.
    pub fn assemble(config: Arc<Config>, runtime: Arc<Runtime>) -> Result<Arc<App>, StartError> {
        let keys = SigningKeys::load(&config.keys, config.signing.is_some())?;
        runtime.audit.keys(&keys);
        let mut providers: HashMap<String, Arc<dyn Provider>> = HashMap::new();
        for p in &config.providers {
            let fail = |reason: String| StartError::Provider {
                id: p.id.to_string(),
                reason,
            };
            // What every family shares, built once and only when the family
            // asks (after reading its own secrets, so their errors come first).
            let material = || {
                let (roots_pem, tls_ca_pem, crl) = p.family.trust();
                let anchors = TrustAnchors::from_pem(roots_pem)
                    .map_err(|e| e.to_string())?
                    .with_signer_rules(p.signer.clone());
                let memory = runtime.crl_memory(p.id.as_str());
                Ok(Material {
                    id: p.id.clone(),
                    level: p.level,
                    anchors: with_crl(anchors, p.id.as_str(), crl, tls_ca_pem, memory)?,
                    tls_ca_pem: tls_ca_pem.map(<[u8]>::to_vec),
                })
            };
            let adapter = match &p.family {
                ProviderFamily::Barocert { settings, .. } => {
                    munjigi_providers::barocert::config::build(settings, material)
                }
                ProviderFamily::KakaoDirect { settings, .. } => {
                    munjigi_providers::kakao_direct::config::build(settings, material)
                }
                ProviderFamily::TossDirect { settings, .. } => {
                    munjigi_providers::toss_direct::config::build(settings, material)
                }
                ProviderFamily::Declarative { settings, .. } => {
                    munjigi_providers::declarative::config::build(settings, material)
                }
                ProviderFamily::MobileId {
                    settings,
                    tls_ca_pem,
                    ..
                } => munjigi_providers::mobile_id::config::build(
                    settings,
                    munjigi_providers::mobile_id::config::Wiring {
                        id: p.id.clone(),
                        level: p.level,
                        host: config.public_url.clone(),
                        inbox: Arc::new(crate::callbacks::StoreInbox(runtime.store.clone())),
                        tls_ca_pem: tls_ca_pem.clone(),
                        allow_plain_http: config.demo.is_some(),
                    },
                ),
                ProviderFamily::OpenId4Vp {
                    settings,
                    tls_ca_pem,
                    ..
                } => munjigi_providers::openid4vp::config::build(
                    settings,
                    munjigi_providers::openid4vp::config::Wiring {
                        id: p.id.clone(),
                        level: p.level,
                        public_url: config.public_url.clone(),
                        inbox: Arc::new(crate::callbacks::StoreInbox(runtime.store.clone())),
                        tls_ca_pem: tls_ca_pem.clone(),
                        allow_plain_http: config.demo.is_some(),
                    },
                ),
            }
            .map_err(fail)?;
            providers.insert(p.id.to_string(), adapter);
        }
        let discovery = crate::oidc::discovery::document(&config);
        let saml_host = config
            .public_url
            .split("://")
            .nth(1)
            .unwrap_or("munjigi")
            .to_owned();
        let want_ec = config.sites.values().any(|s| {
            s.saml
                .as_ref()
                .is_some_and(|x| x.signature_algorithm == crate::saml::dsig::SigAlg::EcdsaSha256)
        });
        let saml_keys = crate::saml::keys::SamlKeys::load(
            &config.keys.dir,
            config.keys.generate_missing,
            &saml_host,
            want_ec,
        )
        .map_err(StartError::Saml)?;
        // Signed once at start, so a key that cannot sign stops the start.
        crate::saml::metadata::document(
            &config.public_url,
            &config.saml,
            &saml_keys,
            runtime.clock.now(),
        )
        .map_err(StartError::Saml)?;
        let saml_metadata = crate::saml::metadata::Cached::default();
        let proxy = crate::proxy::Runtime::build(&config, &runtime).map_err(StartError::Proxy)?;
        // Last: nothing after it fails, so a snapshot that is never swapped in
        // does not hand the fetchers its sites.
        let saml_feeds = crate::saml::remote_metadata::attach(&config, &runtime);
        Ok(Arc::new(App {
            txns: runtime.txns.clone(),
            store: runtime.store.clone(),
            clock: runtime.clock.clone(),
            sessions: runtime.sessions.clone(),
            cookies: CookieJar {
                secure: config.secure_cookies(),
            },
            config,
            runtime,
            keys,
            providers,
            discovery,
            proxy,
            saml_keys,
            saml_metadata,
            saml_feeds,
        }))
    }
}
