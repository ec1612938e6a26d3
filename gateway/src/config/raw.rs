//! The config file as written: serde structs, unknown keys refused everywhere.
//!
//! Nothing here is validated beyond types; [`super::check`] turns this into the
//! [`super::model::Config`] the server runs on.

use super::secret::SecretRef;
use indexmap::IndexMap;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub server: Spanned<RawServer>,
    #[serde(default)]
    pub store: Option<Spanned<RawStore>>,
    pub secrets: Spanned<RawSecrets>,
    #[serde(default)]
    pub keys: Option<Spanned<RawKeys>>,
    #[serde(default)]
    /// In file order: the chooser offers providers in the order they are written.
    pub providers: IndexMap<String, Spanned<RawProvider>>,
    #[serde(default)]
    pub policies: BTreeMap<String, Spanned<RawPolicy>>,
    #[serde(default)]
    pub sites: BTreeMap<String, Spanned<RawSite>>,
    #[serde(default)]
    pub demo: Option<Spanned<RawDemo>>,
    /// Settings shared by every proxy route.
    #[serde(default)]
    pub proxy: Option<Spanned<RawProxy>>,
    /// Identity-aware reverse-proxy and forward-auth routes, by id.
    #[serde(default)]
    pub routes: IndexMap<String, Spanned<RawRoute>>,
    /// Document signing for sites (off without it).
    #[serde(default)]
    pub signing: Option<Spanned<RawSigning>>,
    /// The SAML IdP's own settings (defaults without it).
    #[serde(default)]
    pub saml: Option<Spanned<RawSaml>>,
    /// Abuse limits for the whole deployment (defaults without it).
    #[serde(default)]
    pub limits: Option<Spanned<RawLimits>>,
    /// The operator's listener (`/metrics`); none without it.
    #[serde(default)]
    pub admin: Option<Spanned<RawAdmin>>,
    /// Provider circuits and operators' overrides (defaults without it).
    #[serde(default)]
    pub health: Option<Spanned<RawHealth>>,
    /// The tamper-evident audit log (off without it, unless signing names one).
    #[serde(default)]
    pub audit: Option<Spanned<RawAudit>>,
    /// Trace export (OTLP); none without it.
    #[serde(default)]
    pub tracing: Option<Spanned<RawTracing>>,
    /// What a person's new signer certificate means (log it by default).
    #[serde(default)]
    pub signers: Option<Spanned<RawSigners>>,
    /// How the chooser orders the providers (config order without it).
    #[serde(default)]
    pub chooser: Option<Spanned<RawChooser>>,
}

/// `[chooser]`: the order of the providers on the chooser page.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChooser {
    /// `"config"` (default: the order of `[providers]`) or `"random"` (a
    /// neutral order per login, no provider favoured by the platform).
    pub order: Option<Spanned<String>>,
}

/// `[signers]`: what happens when a person signs with another certificate
/// at a provider than the one the gateway last saw them sign with.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSigners {
    /// `"log"` (default) or `"refuse"` (until an operator confirms it).
    pub on_change: Option<Spanned<String>>,
    /// How long a person's certificate is remembered, days (default 400).
    pub remember_days: Option<Spanned<u64>>,
    /// One provider's own `on_change`.
    #[serde(default)]
    pub providers: BTreeMap<String, Spanned<RawProviderSigners>>,
}

/// `[signers.providers.X]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProviderSigners {
    pub on_change: Spanned<String>,
}

/// The audit log: where this replica's chain is written, what a login does
/// when its record cannot be written, how often the chain's head is sealed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// The file this replica appends to (relative to the config file).
    pub path: Spanned<String>,
    /// `"refuse"` (default): a login whose record cannot be written does not
    /// complete; `"log"`: log an error and go on. Signing always refuses.
    pub on_failure: Option<Spanned<String>>,
    /// Seconds between signed checkpoints of the chain's head (default 60).
    pub checkpoint_secs: Option<Spanned<u64>>,
}

/// When a provider's circuit opens (`crate::circuit`), for every provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    pub window_secs: Option<Spanned<u64>>,
    pub min_calls: Option<Spanned<u64>>,
    pub failure_ratio: Option<Spanned<f64>>,
    pub slow_call_ms: Option<Spanned<u64>>,
    pub open_secs: Option<Spanned<u64>>,
    pub probes: Option<Spanned<u64>>,
    /// One provider's own thresholds, or an operator's decision about it.
    #[serde(default)]
    pub providers: BTreeMap<String, Spanned<RawProviderHealth>>,
}

/// `[health.providers.X]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProviderHealth {
    /// `"off"` (never offered) or `"on"` (offered whatever its circuit says).
    pub force: Option<Spanned<String>>,
    /// What the chooser says about a provider forced off.
    pub reason_ko: Option<Spanned<String>>,
    pub reason_en: Option<Spanned<String>>,
    pub min_calls: Option<Spanned<u64>>,
    pub failure_ratio: Option<Spanned<f64>>,
    pub slow_call_ms: Option<Spanned<u64>>,
}

/// `[tracing]`: where spans go. Logs and `traceparent` need no config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTracing {
    /// OTLP/HTTP traces endpoint, e.g. `http://127.0.0.1:4318/v1/traces`.
    pub otlp_endpoint: Option<Spanned<String>>,
}

/// The admin listener: what only an operator (and their Prometheus) reaches.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// Address to listen on, e.g. `127.0.0.1:9090`; never the public port.
    pub listen: Spanned<String>,
    /// The bearer token an operator's write (`POST /admin/…`) must carry;
    /// without it the admin listener is read-only.
    pub token: Option<Spanned<SecretRef>>,
}

/// Abuse limits, each a list of `"N/window"` that must all hold; a key left
/// out keeps the default (deployment) or the deployment's value (site).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Pushes to one phone number, across sites, providers and replicas.
    pub pushes_per_person: Option<Spanned<Vec<Spanned<String>>>>,
    /// Login starts from one client address (IPv6 by /64).
    pub starts_per_client: Option<Spanned<Vec<Spanned<String>>>>,
    /// Identity-form submissions from one client address.
    pub submissions_per_client: Option<Spanned<Vec<Spanned<String>>>>,
    /// Device user codes typed at `/device` from one client address.
    pub device_codes_per_client: Option<Spanned<Vec<Spanned<String>>>>,
    /// Device user codes typed at `/device`, from every client together.
    pub device_codes: Option<Spanned<Vec<Spanned<String>>>>,
    /// CIBA pushes to one person asked by one site (tighter than
    /// `pushes_per_person`: the citizen did not start them).
    pub ciba_pushes_per_person: Option<Spanned<Vec<Spanned<String>>>>,
    /// CIBA requests of one site that named a person the provider does not
    /// know (guessing who holds which certificate).
    pub ciba_misses_per_site: Option<Spanned<Vec<Spanned<String>>>>,
    /// Login starts for one site (the site's own share of provider quota).
    pub starts_per_site: Option<Spanned<Vec<Spanned<String>>>>,
    /// Requests to each provider, by provider id (its contract's rate;
    /// deployment level only).
    #[serde(default)]
    pub providers: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSaml {
    /// Default: `{public_url}/saml/metadata`.
    pub entity_id: Option<Spanned<String>>,
    /// Lifetime of an assertion's SubjectConfirmationData and Conditions,
    /// seconds (default 300).
    pub assertion_lifetime_secs: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSigning {
    /// The audit log by its older name: `[audit] path` when `[audit]` is
    /// absent. Signing needs an audit log, by either name.
    pub audit_log: Option<Spanned<String>>,
    /// Largest document sent as content, bytes (default 1 MiB).
    pub max_document_bytes: Option<Spanned<u64>>,
    /// Most documents in one request (default 50).
    pub max_documents: Option<Spanned<u64>>,
    /// How long a site can fetch a finished request's receipt, days (default 30).
    pub retention_days: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// The public base URL; also the OIDC issuer.
    pub public_url: Spanned<String>,
    pub listen: Spanned<String>,
    pub tls: Option<RawTls>,
    /// How long a citizen has to finish a login, seconds (default 600).
    pub login_ttl_secs: Option<Spanned<u64>>,
    /// How long the gateway's own single-sign-on session lasts, seconds (default 3600).
    pub session_ttl_secs: Option<Spanned<u64>>,
    /// Peers (addresses or CIDR blocks) whose `X-Forwarded-*` headers are
    /// believed and who may call the forward-auth endpoint. Default: none.
    #[serde(default)]
    pub trusted_proxies: Vec<Spanned<String>>,
    /// Lets `trusted_proxies` hold a block as wide as the internet (`0.0.0.0/0`,
    /// `::/0`): every client could then claim any address. Default false.
    #[serde(default)]
    pub allow_any_trusted_proxy: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert_chain: Spanned<String>,
    pub key: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum RawStore {
    Memory(RawMemoryStore),
    Redis(RawRedisStore),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRedisStore {
    /// `redis://[:password@]host:port/db` (a secret: it may carry a password).
    pub url: SecretRef,
    /// How long to wait for Redis before failing a request (default 2,000 ms).
    pub timeout_ms: Option<u64>,
    /// `url` is one node of a Redis Cluster (slots are discovered from it).
    #[serde(default)]
    pub cluster: bool,
    /// Store login records compact (`txn/compact.rs`); only once every
    /// replica reads them.
    #[serde(default)]
    pub compact_logins: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMemoryStore {
    /// Upper bound on entries, to keep a flood from exhausting memory (default 1,000,000).
    pub max_entries: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecrets {
    /// Key of the pairwise subject derivation; changing it changes every `sub`.
    pub pairwise_key: SecretRef,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeys {
    /// Folder with `es256.pem` (and `rs256.pem`), PKCS#8 PEM private keys.
    pub dir: Spanned<String>,
    /// Create missing key files on start (demo); off in production.
    #[serde(default)]
    pub generate_missing: bool,
}

/// A provider section, by its `type`. Each family's section (its keys, and
/// `deny_unknown_fields`) is written in its folder of `munjigi_providers`; the
/// gateway supplies only what a secret reference is.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum RawProvider {
    Barocert(munjigi_providers::barocert::config::RawBarocert<SecretRef>),
    #[serde(rename = "kakao_direct")]
    KakaoDirect(munjigi_providers::kakao_direct::config::RawKakaoDirect<SecretRef>),
    #[serde(rename = "toss_direct")]
    TossDirect(munjigi_providers::toss_direct::config::RawTossDirect<SecretRef>),
    #[serde(rename = "mobile_id")]
    MobileId(munjigi_providers::mobile_id::config::RawMobileId<SecretRef>),
    #[serde(rename = "openid4vp")]
    OpenId4Vp(munjigi_providers::openid4vp::config::RawOpenId4Vp<SecretRef>),
    #[serde(rename = "declarative")]
    Declarative(Box<munjigi_providers::declarative::config::RawDeclarative<SecretRef>>),
}

impl RawProvider {
    /// The section's `logo` file, whichever the family.
    pub fn logo(&self) -> Option<&str> {
        match self {
            Self::Barocert(s) => s.logo.as_deref(),
            Self::KakaoDirect(s) => s.logo.as_deref(),
            Self::TossDirect(s) => s.logo.as_deref(),
            Self::MobileId(s) => s.logo.as_deref(),
            Self::OpenId4Vp(s) => s.logo.as_deref(),
            Self::Declarative(s) => s.logo.as_deref(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Provider ids offered to citizens; absent = every configured provider.
    pub providers: Option<Vec<Spanned<String>>>,
    /// Minimum assurance level: `low`, `substantial` or `high`.
    pub min_level: Option<Spanned<String>>,
    /// Whether sites under this policy may receive the CI (with the `ci` scope).
    #[serde(default)]
    pub ci: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    pub name: String,
    pub name_en: Option<String>,
    pub policy: Spanned<String>,
    pub oidc: Option<RawOidcClient>,
    /// The site's document-signing settings (`[sites.X.signing]`).
    pub signing: Option<RawSiteSigning>,
    /// The site as a SAML SP (`[sites.X.saml]`).
    pub saml: Option<RawSiteSaml>,
    /// Overrides of the deployment's `[limits]` for this site.
    pub limits: Option<RawLimits>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSiteSaml {
    /// The SP's metadata file: entityID, ACS endpoints, keys. This or
    /// `metadata_url`.
    pub metadata: Option<Spanned<String>>,
    /// Where the SP's metadata (or a federation's aggregate holding it) is
    /// fetched from and refreshed; with `metadata_signer` and `entity_id`.
    pub metadata_url: Option<Spanned<String>>,
    /// The PEM certificate whose key must have signed what `metadata_url`
    /// serves (at the document's root).
    pub metadata_signer: Option<Spanned<String>>,
    /// The entityID of the site's EntityDescriptor in what `metadata_url`
    /// serves.
    pub entity_id: Option<Spanned<String>>,
    /// Sign the Response as well as the Assertion (default false).
    #[serde(default)]
    pub sign_response: bool,
    /// Refuse unsigned AuthnRequests even if the metadata does not say
    /// `AuthnRequestsSigned` (default false).
    #[serde(default)]
    pub require_signed_requests: bool,
    /// Allow IdP-initiated SSO to this SP (default false).
    #[serde(default)]
    pub idp_initiated: bool,
    /// Claims released as attributes, as OIDC scopes (default "openid profile").
    pub scope: Option<Spanned<String>>,
    /// Encrypt assertions to the metadata's encryption key (default: when
    /// the metadata has one).
    pub encrypt_assertions: Option<bool>,
    /// Accept SHA-1 as the *digest* of this SP's signed requests (never as
    /// the signature algorithm, never in what the gateway signs); for SPs
    /// whose library still digests with SHA-1 (default false).
    #[serde(default)]
    pub allow_sha1_digest: bool,
    /// The attribute names this SP expects: "munjigi" (default), "oid" or
    /// "basic" (the README's table).
    pub attribute_profile: Option<Spanned<String>>,
    /// What the IdP signs with for this SP: "rsa-sha256" (default) or
    /// "ecdsa-sha256" (the P-256 key `saml-ec.pem`).
    pub signature_algorithm: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSiteSigning {
    /// Where a signed notification is POSTed when a signature request ends.
    pub webhook_url: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOidcClient {
    pub client_id: Spanned<String>,
    /// Absent = a public client, which must use PKCE.
    pub client_secret: Option<Spanned<SecretRef>>,
    pub redirect_uris: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<Spanned<String>>,
    /// `ES256` (default) or `RS256`.
    pub id_token_alg: Option<Spanned<String>>,
    /// `client_secret_basic`/`client_secret_post` (with a secret), `none`, or
    /// `private_key_jwt` (with `jwks`, no secret).
    pub token_endpoint_auth_method: Option<Spanned<String>>,
    /// For `private_key_jwt`: a file with the site's public JWK Set.
    pub jwks: Option<Spanned<String>>,
    /// Back-Channel Logout 1.0: where the gateway POSTs a logout token when
    /// a single sign-on the client took part in ends.
    pub backchannel_logout_uri: Option<Spanned<String>>,
    /// Accepted for registrations copied from elsewhere: the logout token
    /// always carries `sid`.
    pub backchannel_logout_session_required: Option<bool>,
    /// Front-Channel Logout 1.0: loaded in a frame of the final logout page,
    /// with `iss` and `sid`. Same scheme, host and port as a redirect URI.
    pub frontchannel_logout_uri: Option<Spanned<String>>,
    /// Accepted for registrations copied from elsewhere: `iss` and `sid` are
    /// always added.
    pub frontchannel_logout_session_required: Option<bool>,
    /// RFC 8628 Device Authorization Grant: the client may start logins at
    /// `/device_authorization` that the citizen finishes on another device.
    /// Default false: a code typed on a phone is a weaker link between the
    /// citizen and the site than a browser redirect.
    #[serde(default)]
    pub device_grant: bool,
    /// How long a device code and its user code live, seconds (default 600,
    /// 10 to 1800).
    pub device_code_ttl_secs: Option<Spanned<u64>>,
    /// OpenID Connect CIBA: the client may ask at `/bc-authorize` for a
    /// named citizen to approve a login on their phone (call centres, back
    /// offices). Default false: a push the citizen did not start is stronger
    /// medicine than a browser login.
    #[serde(default)]
    pub ciba: bool,
    /// `poll` (default) or `ping`.
    pub backchannel_token_delivery_mode: Option<Spanned<String>>,
    /// Ping mode: where the gateway POSTs `{"auth_req_id": ...}` when a
    /// request ends.
    pub backchannel_client_notification_endpoint: Option<Spanned<String>>,
    /// A CIBA request's life when the client asks for none, seconds
    /// (default 120, 30 to 300).
    pub ciba_expiry_secs: Option<Spanned<u64>>,
    /// For a client with a secret: a file with the public JWK Set that signs
    /// its `login_hint_token`s (a `private_key_jwt` client uses its `jwks`).
    pub login_hint_jwks: Option<Spanned<String>>,
    /// Also accept an unsigned `login_hint` (JSON of the same claims).
    #[serde(default)]
    pub ciba_unsigned_hints: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDemo {
    /// The site (and its OIDC client) the demo site at `/demo` logs in as.
    pub site: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProxy {
    /// A proxy session unused for this long ends, seconds (default 1,800).
    pub session_idle_secs: Option<Spanned<u64>>,
    /// A proxy session ends this long after the login however busy, seconds (default 43,200).
    pub session_max_secs: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// The site whose policy applies (and whose pairwise `sub` is sent).
    pub site: Spanned<String>,
    /// Exact `Host` this route answers (with the port when not 80/443);
    /// absent: the gateway's own host.
    pub host: Option<Spanned<String>>,
    /// `http` or `https`: how citizens reach `host` (default: as `server.public_url`).
    pub scheme: Option<Spanned<String>>,
    /// Path prefix (default `/`).
    pub prefix: Option<Spanned<String>>,
    /// Where requests go (`http://` or `https://` authority, optional base path);
    /// absent: a forward-auth-only route (a front proxy forwards by itself).
    pub upstream: Option<Spanned<String>>,
    /// PEM file with the CA(s) for an https upstream (default: the system roots).
    pub upstream_ca: Option<Spanned<String>>,
    /// Path prefixes served without a login.
    #[serde(default)]
    pub public_paths: Vec<Spanned<String>>,
    /// Assurance level required here, when stricter than the site's policy.
    pub min_level: Option<Spanned<String>>,
    /// Send the client's `Host` upstream (default false: the upstream's authority).
    #[serde(default)]
    pub preserve_host: bool,
    /// Remove the prefix from the path sent upstream (default false).
    #[serde(default)]
    pub strip_prefix: bool,
    /// Match the prefix and public paths ignoring ASCII case, for upstreams
    /// that serve `/App/` and `/app/` alike (default false: exact case).
    #[serde(default)]
    pub case_insensitive: bool,
    /// Accept paths with empty segments (`//`) on this route (default false:
    /// refused with 400, since upstreams disagree on merging them).
    #[serde(default)]
    pub allow_empty_segments: bool,
    pub connect_timeout_ms: Option<Spanned<u64>>,
    /// Longest wait for the upstream's response headers (default 60,000 ms).
    pub read_timeout_ms: Option<Spanned<u64>>,
    /// Identity header names by field (`subject`, `name`, `birthdate`, `phone`,
    /// `gender`, `provider`, `level`, `auth_time`); default subject, name,
    /// provider and level as `X-Munjigi-*`.
    pub headers: Option<Spanned<IndexMap<String, Spanned<String>>>>,
    /// The signed JWT header's name (default `X-Munjigi-Assertion`).
    pub jwt_header: Option<Spanned<String>>,
}
