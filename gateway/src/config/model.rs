//! The validated configuration snapshot the server runs on.
//!
//! Built only by [`super::check::load`]; immutable once built. Handlers receive an
//! `Arc<Config>`; a login keeps the policy snapshot it started with.

use super::secret::Secret;
use munjigi_policy::SitePolicy;
use munjigi_providers::{Level, ProviderId};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug)]
pub struct Config {
    pub source: PathBuf,
    /// Public base URL without a trailing slash; the OIDC issuer.
    pub public_url: String,
    pub listen: SocketAddr,
    /// The admin listener (`[admin] listen`): metrics for the operator.
    pub admin_listen: Option<SocketAddr>,
    /// `[admin] token`: what an operator's write on the admin listener must
    /// carry (`Authorization: Bearer …`); none: the listener is read-only.
    pub admin_token: Option<Secret>,
    pub tls: Option<TlsFiles>,
    pub login_ttl: Duration,
    pub session_ttl: Duration,
    pub store: StoreSettings,
    pub pairwise_key: Secret,
    pub keys: KeySettings,
    /// In config order: the chooser shows them in this order.
    pub providers: Vec<ProviderConfig>,
    pub sites: BTreeMap<String, Site>,
    /// OIDC client id → site id.
    pub clients: HashMap<String, String>,
    pub demo: Option<DemoSettings>,
    /// Peers whose forwarding headers are believed (none by default).
    pub trusted_proxies: TrustedProxies,
    pub proxy: ProxySettings,
    /// Proxy and forward-auth routes, in file order.
    pub routes: Vec<std::sync::Arc<Route>>,
    /// Document signing; None = the signing API answers 503.
    pub signing: Option<SigningSettings>,
    /// The audit log (`[audit]`, or `[signing] audit_log`); None = off.
    pub audit: Option<AuditSettings>,
    pub saml: SamlSettings,
    /// SAML SP entityID → site id.
    pub saml_sps: HashMap<String, String>,
    /// The deployment's abuse limits (each site has its effective copy).
    pub limits: munjigi_policy::limits::Limits,
    /// Each provider's request rate, by provider id (none: unlimited).
    pub provider_limits: HashMap<String, Vec<munjigi_policy::limits::Limit>>,
    /// Provider circuits and operators' overrides (`[health]`).
    pub health: HealthSettings,
    /// `[tracing] otlp_endpoint`: where spans are exported (OTLP/HTTP JSON).
    pub otlp_endpoint: Option<String>,
    /// `[signers]`: a person's new signer certificate, logged or refused.
    pub signers: SignerSettings,
    /// `[chooser] order = "random"`: a neutral order per login.
    pub chooser_random: bool,
}

/// What a person signing with a new certificate at a provider means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnSignerChange {
    /// Allowed (certificates are renewed), logged and counted.
    #[default]
    Log,
    /// Refused until an operator confirms the new certificate.
    Refuse,
}

/// `[signers]`, checked.
#[derive(Debug, Clone)]
pub struct SignerSettings {
    pub on_change: OnSignerChange,
    /// By provider id: only providers with a `[signers.providers.X]` section.
    pub providers: HashMap<String, OnSignerChange>,
    /// How long a person's last certificate is remembered per provider.
    pub remember: std::time::Duration,
}

impl Default for SignerSettings {
    fn default() -> Self {
        Self {
            on_change: OnSignerChange::Log,
            providers: HashMap::new(),
            remember: std::time::Duration::from_secs(400 * 86_400),
        }
    }
}

impl SignerSettings {
    /// What a new certificate at `provider` means.
    pub fn on_change(&self, provider: &str) -> OnSignerChange {
        self.providers
            .get(provider)
            .copied()
            .unwrap_or(self.on_change)
    }
}

/// `[health]`: when each provider's circuit opens, and what operators decided.
#[derive(Debug, Default)]
pub struct HealthSettings {
    pub defaults: crate::circuit::Thresholds,
    /// By provider id: only providers with a `[health.providers.X]` section.
    pub providers: HashMap<String, ProviderHealth>,
}

#[derive(Debug)]
pub struct ProviderHealth {
    pub thresholds: crate::circuit::Thresholds,
    pub force: Option<crate::circuit::Force>,
    /// Shown on the chooser for a provider forced off (empty: the standard text).
    pub reason_ko: String,
    pub reason_en: String,
}

impl HealthSettings {
    /// `provider`'s thresholds and the operator's decision about it.
    pub fn of(&self, provider: &str) -> (&crate::circuit::Thresholds, Option<&ProviderHealth>) {
        match self.providers.get(provider) {
            Some(p) => (&p.thresholds, Some(p)),
            None => (&self.defaults, None),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SamlSettings {
    pub entity_id: String,
    pub assertion_lifetime: Duration,
}

/// A site's SAML SP registration.
#[derive(Debug, Clone)]
pub struct SamlSite {
    /// Where the SP's metadata comes from (read it with
    /// `crate::saml::remote_metadata::service_provider`).
    pub metadata: SpMetadata,
    pub sign_response: bool,
    pub require_signed_requests: bool,
    pub idp_initiated: bool,
    pub scope: String,
    /// None: when the metadata has an encryption certificate.
    pub encrypt_assertions: Option<bool>,
    /// SHA-1 digests accepted in this SP's signed requests.
    pub allow_sha1_digest: bool,
    /// The names its attributes are sent under.
    pub attribute_profile: crate::saml::profile::AttributeProfile,
    /// What the IdP signs this SP's responses and assertions with.
    pub signature_algorithm: crate::saml::dsig::SigAlg,
}

/// Where an SP's metadata comes from.
#[derive(Debug, Clone)]
pub enum SpMetadata {
    /// A file, read and checked with the config.
    File(std::sync::Arc<crate::saml::sp::ServiceProvider>),
    /// A URL, fetched and refreshed by the runtime (the copy in use is not
    /// part of the config: a reload keeps it).
    Url(MetadataUrl),
}

/// `metadata_url` with what its document must be signed by, and the entity
/// the site is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataUrl {
    pub url: String,
    /// The `metadata_signer` certificate (DER).
    pub signer: samael::crypto::CertificateDer,
    pub entity_id: String,
}

impl SamlSite {
    /// Why `sp`'s metadata cannot serve this site's settings, if it cannot:
    /// signed requests without a signing certificate, or encryption asked
    /// for without an encryption certificate.
    pub fn unfit(&self, sp: &crate::saml::sp::ServiceProvider) -> Option<&'static str> {
        if (sp.authn_requests_signed || self.require_signed_requests) && sp.signing_keys.is_empty()
        {
            return Some(
                "signed requests are required but the metadata has no signing certificate",
            );
        }
        if self.encrypt_assertions == Some(true) && sp.encryption_key.is_none() {
            return Some(
                "encrypt_assertions = true needs an encryption certificate in the metadata",
            );
        }
        None
    }
}

#[derive(Debug, Clone)]
pub struct SigningSettings {
    pub max_document_bytes: usize,
    pub max_documents: usize,
    pub retention: Duration,
}

/// The audit log's settings (`[audit]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    /// The file this process appends its chain to.
    pub path: PathBuf,
    /// What a login does when its record cannot be written.
    pub on_failure: OnFailure,
    /// How often the chain's head is signed and stored.
    pub checkpoint_every: Duration,
}

/// What a login does when its audit record cannot be written (signing
/// always refuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// The login does not complete (`MJ-A01`).
    Refuse,
    /// An error is logged (`MJ-A02`) and the login goes on.
    Log,
}

impl Config {
    /// Cookies get `Secure` and the `__Host-` prefix when the public URL is https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
    pub fn issuer(&self) -> &str {
        &self.public_url
    }
    pub fn client(&self, client_id: &str) -> Option<(&Site, &OidcClient)> {
        let site = self.sites.get(self.clients.get(client_id)?)?;
        Some((site, site.oidc.as_ref()?))
    }
    /// The site and SP registration of a SAML entityID.
    pub fn saml_sp(&self, entity_id: &str) -> Option<(&Site, &SamlSite)> {
        let site = self.sites.get(self.saml_sps.get(entity_id)?)?;
        Some((site, site.saml.as_ref()?))
    }
    pub fn provider(&self, id: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.id.as_str() == id)
    }
}

pub use crate::proxy::route::{IdentityField, Route, Upstream};
pub use crate::proxy::trust::TrustedProxies;

#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub session_idle: Duration,
    pub session_max: Duration,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert_chain: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub enum StoreSettings {
    Memory {
        max_entries: usize,
    },
    Redis {
        url: Secret,
        timeout: Duration,
        cluster: bool,
        /// Login records written compact (every replica reads them).
        compact_logins: bool,
    },
}

impl StoreSettings {
    /// Whether login records are written compact: always in memory (one
    /// process reads them), in Redis when the operator says every replica
    /// can read them.
    pub fn compact_logins(&self) -> bool {
        match self {
            Self::Memory { .. } => true,
            Self::Redis { compact_logins, .. } => *compact_logins,
        }
    }
}

#[derive(Debug, Clone)]
pub struct KeySettings {
    pub dir: PathBuf,
    pub generate_missing: bool,
}

#[derive(Debug)]
pub struct ProviderConfig {
    pub id: ProviderId,
    pub name_ko: String,
    pub name_en: String,
    /// Its badge on the chooser (`logo`), checked to be a small PNG or SVG.
    pub logo: Option<Logo>,
    pub level: Level,
    /// What its signer certificates must be besides chaining to its roots
    /// (`required_policies`, `required_eku`, `issuing_ca`, `issuing_ca_sha256`).
    pub signer: munjigi_providers::cms::SignerRules,
    pub family: ProviderFamily,
}

/// A provider's logo as the gateway serves it.
#[derive(Debug, Clone)]
pub struct Logo {
    pub bytes: std::sync::Arc<[u8]>,
    pub content_type: &'static str,
}

/// A provider's family and what it was configured with. The family's own
/// settings are its `config::Settings` in `munjigi_providers`; what every
/// family has (roots, TLS CA, CRL) is beside them, for `verify-receipt`.
#[derive(Debug)]
pub enum ProviderFamily {
    Barocert {
        settings: munjigi_providers::barocert::config::Settings<Secret>,
        roots_pem: Vec<u8>,
        tls_ca_pem: Option<Vec<u8>>,
        /// The provider's CRL, if configured.
        crl: Option<CrlSettings>,
    },
    KakaoDirect {
        settings: munjigi_providers::kakao_direct::config::Settings<Secret>,
        roots_pem: Vec<u8>,
        tls_ca_pem: Option<Vec<u8>>,
        crl: Option<CrlSettings>,
    },
    TossDirect {
        settings: munjigi_providers::toss_direct::config::Settings<Secret>,
        roots_pem: Vec<u8>,
        tls_ca_pem: Option<Vec<u8>>,
        crl: Option<CrlSettings>,
    },
    /// The mobile ID: the gateway is the SP, the wallet calls back.
    MobileId {
        settings: munjigi_providers::mobile_id::config::Settings<Secret>,
        /// Always empty: a presentation chains to no X.509 root.
        roots_pem: Vec<u8>,
        tls_ca_pem: Option<Vec<u8>>,
        crl: Option<CrlSettings>,
    },
    /// OpenID4VP: the gateway is the verifier, the wallet posts back.
    OpenId4Vp {
        settings: munjigi_providers::openid4vp::config::Settings<Secret>,
        /// Always empty: trust anchors are per credential type.
        roots_pem: Vec<u8>,
        tls_ca_pem: Option<Vec<u8>>,
        crl: Option<CrlSettings>,
    },
    /// A provider described in config (family D).
    Declarative {
        settings: munjigi_providers::declarative::config::Settings<Secret>,
        roots_pem: Vec<u8>,
        tls_ca_pem: Option<Vec<u8>>,
        crl: Option<CrlSettings>,
    },
}

impl ProviderFamily {
    /// What every family has: its roots, TLS CA and CRL.
    pub fn trust(&self) -> (&[u8], Option<&[u8]>, Option<&CrlSettings>) {
        match self {
            Self::Barocert {
                roots_pem,
                tls_ca_pem,
                crl,
                ..
            }
            | Self::KakaoDirect {
                roots_pem,
                tls_ca_pem,
                crl,
                ..
            }
            | Self::TossDirect {
                roots_pem,
                tls_ca_pem,
                crl,
                ..
            }
            | Self::Declarative {
                roots_pem,
                tls_ca_pem,
                crl,
                ..
            }
            | Self::MobileId {
                roots_pem,
                tls_ca_pem,
                crl,
                ..
            }
            | Self::OpenId4Vp {
                roots_pem,
                tls_ca_pem,
                crl,
                ..
            } => (roots_pem, tls_ca_pem.as_deref(), crl.as_ref()),
        }
    }
}

/// A provider's CRL: where it comes from and whether a result is refused
/// without a current CRL.
#[derive(Debug, Clone)]
pub struct CrlSettings {
    pub source: CrlSource,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrlSource {
    /// A file, resolved against the config's directory; re-read when it changes.
    File(PathBuf),
    /// An http(s) URL, fetched with the provider's `tls_ca` in the background.
    Url(String),
}

#[derive(Debug, Clone)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub name_en: String,
    pub policy: SitePolicy,
    pub oidc: Option<OidcClient>,
    /// Receives a signed notification when a signature request ends.
    pub webhook_url: Option<String>,
    pub saml: Option<SamlSite>,
    /// The deployment's limits with this site's overrides.
    pub limits: munjigi_policy::limits::Limits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTokenAlg {
    Es256,
    Rs256,
}

#[derive(Debug, Clone)]
pub struct OidcClient {
    pub client_id: String,
    /// None: a public client (PKCE required).
    pub secret: Option<Secret>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub id_token_alg: IdTokenAlg,
    /// `private_key_jwt`: the site's registered public keys (then `secret` is None).
    pub assertion_keys: Option<crate::oidc::client_assertion::ClientKeys>,
    /// Back-Channel Logout 1.0: the gateway POSTs a logout token here.
    pub backchannel_logout_uri: Option<String>,
    /// Front-Channel Logout 1.0: loaded in a frame of the logout page.
    pub frontchannel_logout_uri: Option<String>,
    /// The Device Authorization Grant (RFC 8628), when allowed.
    pub device: Option<DeviceGrant>,
    /// Client-Initiated Backchannel Authentication, when allowed.
    pub ciba: Option<CibaGrant>,
}

/// `ciba = true` on a client, checked.
#[derive(Debug, Clone)]
pub struct CibaGrant {
    pub delivery: CibaDelivery,
    /// The keys that sign the client's `login_hint_token`s (None: unsigned
    /// hints only).
    pub hint_keys: Option<crate::oidc::client_assertion::ClientKeys>,
    /// Whether an unsigned `login_hint` is accepted.
    pub unsigned_hints: bool,
    /// A request's life when the client asks for none.
    pub expiry: Duration,
}

/// How a client learns that a CIBA request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CibaDelivery {
    /// The client polls `/token`.
    Poll,
    /// The gateway POSTs to this endpoint, then the client calls `/token`.
    Ping { endpoint: String },
}

/// `device_grant = true` on a client, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceGrant {
    /// How long a device code and its user code live.
    pub ttl: Duration,
}

impl OidcClient {
    /// No client authentication at all (PKCE required).
    pub fn is_public(&self) -> bool {
        self.secret.is_none() && self.assertion_keys.is_none()
    }
    /// Exact, case-sensitive string match: no prefix, no normalisation.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }
    pub fn has_post_logout_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }
}

#[derive(Debug, Clone)]
pub struct DemoSettings {
    pub site: String,
}
