//! Validation of the whole config, reporting every error with `file:line:column`.
//!
//! `munjigi check FILE` prints these; `serve` refuses to start with any. Each error
//! names what is wrong and, where we can tell, how to fix it.

use super::model::*;
use super::raw::*;
use munjigi_policy::SitePolicy;
use munjigi_providers::{Level, ProviderId};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// One problem in the config file.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// Every problem found, in file order.
#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for e in &self.0 {
            writeln!(f, "{e}")?;
        }
        write!(f, "{} error(s)", self.0.len())
    }
}

impl std::error::Error for ConfigErrors {}

struct Report<'a> {
    file: &'a Path,
    text: &'a str,
    errors: Vec<(usize, ConfigError)>,
}

impl<'a> Report<'a> {
    fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        let offset = span.start.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        self.errors.push((
            offset,
            ConfigError {
                file: self.file.to_path_buf(),
                line,
                column,
                message: message.into(),
            },
        ));
    }
    fn finish(mut self) -> ConfigErrors {
        self.errors.sort_by_key(|(o, _)| *o);
        ConfigErrors(self.errors.into_iter().map(|(_, e)| e).collect())
    }
}

/// Reads, parses and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read the config file: {e}"),
        }])
    })?;
    parse(path, &text)
}

/// Parses and validates config text (`path` is used for messages and relative paths).
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
    let mut r = Report {
        file: path,
        text,
        errors: Vec::new(),
    };
    let raw: RawConfig = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            r.at(e.span().unwrap_or(0..0), e.message().trim().to_owned());
            return Err(r.finish());
        }
    };
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let built = build(&mut r, &base, raw);
    match built {
        Some(c) if r.errors.is_empty() => Ok(c),
        _ => Err(r.finish()),
    }
}

fn level(r: &mut Report<'_>, span: Range<usize>, v: &str) -> Option<Level> {
    let l = Level::from_acr(v);
    if l.is_none() {
        r.at(
            span,
            format!("unknown assurance level `{v}`; use `low`, `substantial` or `high`"),
        );
    }
    l
}

fn read_file(
    r: &mut Report<'_>,
    base: &Path,
    span: Range<usize>,
    rel: &str,
    what: &str,
) -> Option<Vec<u8>> {
    let p = base.join(rel);
    match std::fs::read(&p) {
        Ok(v) => Some(v),
        Err(e) => {
            r.at(span, format!("cannot read {what} `{}`: {e}", p.display()));
            None
        }
    }
}

/// `sites.<id>.oidc.token_endpoint_auth_method` against the secret and the
/// JWK Set; the registered keys for `private_key_jwt`.
fn client_auth(
    r: &mut Report<'_>,
    base: &Path,
    id: &str,
    o: &RawOidcClient,
) -> Option<crate::oidc::client_assertion::ClientKeys> {
    let method = o
        .token_endpoint_auth_method
        .as_ref()
        .map(|m| (m.span(), m.get_ref().as_str()));
    match method {
        Some((span, "private_key_jwt")) => {
            if let Some(sr) = &o.client_secret {
                r.at(
                    sr.span(),
                    format!(
                        "sites.{id}.oidc: a private_key_jwt client has no client_secret; remove it"
                    ),
                );
            }
            let Some(j) = &o.jwks else {
                r.at(
                    span,
                    format!("sites.{id}.oidc: private_key_jwt needs `jwks`, a file with the site's public JWK Set"),
                );
                return None;
            };
            let bytes = read_file(r, base, j.span(), j.get_ref(), "the JWK Set")?;
            match crate::oidc::client_assertion::ClientKeys::parse(&bytes) {
                Ok(k) => Some(k),
                Err(e) => {
                    r.at(j.span(), format!("sites.{id}.oidc.jwks: {e}"));
                    None
                }
            }
        }
        other => {
            if let Some(j) = &o.jwks {
                r.at(
                    j.span(),
                    format!("sites.{id}.oidc.jwks is only for token_endpoint_auth_method = \"private_key_jwt\""),
                );
            }
            match other {
                None
                | Some((_, "client_secret_basic" | "client_secret_post"))
                    if o.client_secret.is_some() => {}
                None | Some((_, "none")) if o.client_secret.is_none() => {}
                None => {}
                Some((_, "client_secret_basic" | "client_secret_post")) => r.at(
                    o.client_id.span(),
                    format!("sites.{id}.oidc: client_secret_basic and client_secret_post need a client_secret"),
                ),
                Some((span, "none")) => r.at(
                    span,
                    format!("sites.{id}.oidc: a public client (none) has no client_secret"),
                ),
                Some((span, m)) => r.at(
                    span,
                    format!("token_endpoint_auth_method `{m}` is not supported; use client_secret_basic, client_secret_post, private_key_jwt or none"),
                ),
            }
            None
        }
    }
}

/// The one check for a URL the config names (redirect and post-logout URIs,
/// SAML ACS/SLO endpoints from SP metadata, webhooks, provider endpoints, CRL
/// URLs, the OTLP endpoint): the config's one rule,
/// [`munjigi_providers::url_rule`] — `https://`, or `http://` only when the
/// host a browser's parser reads is loopback (an IP literal or `localhost`);
/// no userinfo, no fragment, and the host written in the canonical form that
/// parser decided, so no other parser can read another host. The URL is kept
/// as written.
fn check_url(v: &str) -> Result<(), String> {
    munjigi_providers::url_rule::check(v, munjigi_providers::url_rule::PlainHttp::LoopbackOnly)
        .map(|_| ())
}

/// The whole config, one section at a time (each function below checks one
/// and reports every problem in it); `None` when any error was reported.
fn build(r: &mut Report<'_>, base: &Path, raw: RawConfig) -> Option<Config> {
    let server = raw.server.into_inner();
    let ServerPart {
        public_url,
        listen,
        tls,
        login_ttl,
        session_ttl,
    } = server_part(r, base, &server);

    let store = store(r, base, raw.store);

    let pairwise_key = pairwise_key(r, base, raw.secrets);

    let keys = keys(base, raw.keys);

    // The demo's config is the one with a `[demo]` section: its providers may
    // leave `crl` out (crl.rs) and ask for plain http to any host.
    let providers = providers(r, base, raw.providers, raw.demo.is_some());
    let provider_ids: HashSet<String> =
        providers.iter().map(|p| p.id.as_str().to_owned()).collect();

    let policies = policies(r, raw.policies, &provider_ids);

    let deployment_limits = limits::build(
        r,
        "limits",
        raw.limits.as_ref().map(Spanned::get_ref),
        &munjigi_policy::limits::Limits::default(),
        false,
    );

    let provider_limits = {
        let known: Vec<&str> = providers.iter().map(|p| p.id.as_str()).collect();
        limits::providers(r, raw.limits.as_ref().map(Spanned::get_ref), &known)
    };

    let mut saml_sps = HashMap::new();
    let mut clients = HashMap::new();
    let sites = sites(
        r,
        base,
        raw.sites,
        &policies,
        &deployment_limits,
        &mut clients,
        &mut saml_sps,
    );

    let demo = demo(r, raw.demo, &sites);

    let trusted_proxies =
        routes::trusted(r, &server.trusted_proxies, server.allow_any_trusted_proxy);
    let proxy = routes::settings(r, raw.proxy);
    let routes = routes::build(r, base, &public_url, &sites, raw.routes);
    let from_signing = raw.signing.as_ref().map(|s| audit::FromSigning {
        span: s.span(),
        audit_log: s.get_ref().audit_log.clone(),
    });
    let audit = audit::settings(r, base, raw.audit, from_signing);
    let signing = signing(r, raw.signing);

    let saml_settings = saml::settings(r, &public_url, raw.saml);
    let (admin_listen, admin_token) = admin_listen(r, base, raw.admin, listen);
    let health = health::settings(r, raw.health, &provider_ids);
    let otlp_endpoint = telemetry::otlp_endpoint(r, raw.tracing);
    let signers = signers::settings(
        r,
        raw.signers,
        &provider_ids,
        admin_listen.is_some() && admin_token.is_some(),
    );
    let chooser_random = match raw
        .chooser
        .as_ref()
        .and_then(|c| c.get_ref().order.as_ref())
    {
        None => false,
        Some(o) => match o.get_ref().as_str() {
            "config" => false,
            "random" => true,
            other => {
                r.at(
                    o.span(),
                    format!("chooser.order `{other}` is not `config` or `random`"),
                );
                false
            }
        },
    };
    Some(Config {
        source: r.file.to_path_buf(),
        public_url,
        listen: listen?,
        admin_listen,
        admin_token,
        tls,
        login_ttl,
        session_ttl,
        store,
        pairwise_key: pairwise_key?,
        keys,
        providers,
        sites,
        clients,
        demo,
        trusted_proxies,
        proxy,
        routes,
        signing,
        audit,
        saml: saml_settings,
        saml_sps,
        limits: deployment_limits,
        provider_limits,
        health,
        otlp_endpoint,
        signers,
        chooser_random,
    })
}

/// `[admin] listen`: an address of its own, never the public listener's
/// (what it serves is for the operator only).
fn admin_listen(
    r: &mut Report<'_>,
    base: &Path,
    admin: Option<Spanned<RawAdmin>>,
    public: Option<std::net::SocketAddr>,
) -> (Option<std::net::SocketAddr>, Option<super::secret::Secret>) {
    let Some(admin) = admin else {
        return (None, None);
    };
    let admin = admin.into_inner();
    let token = admin
        .token
        .as_ref()
        .and_then(|t| match t.get_ref().resolve(base) {
            Ok(s) if s.expose().len() >= 32 => Some(s),
            Ok(_) => {
                r.at(
                    t.span(),
                    "admin.token must be at least 32 bytes (e.g. `openssl rand -base64 48`)",
                );
                None
            }
            Err(e) => {
                r.at(t.span(), format!("admin.token: {e}"));
                None
            }
        });
    let written = admin.listen.get_ref();
    let Ok(addr) = written.parse::<std::net::SocketAddr>() else {
        r.at(
            admin.listen.span(),
            format!("admin.listen `{written}` is not an address such as 127.0.0.1:9090"),
        );
        return (None, token);
    };
    if public.is_some_and(|p| p.port() == addr.port() && p.port() != 0) {
        r.at(
            admin.listen.span(),
            format!("admin.listen `{written}` must not share server.listen's port: the admin listener is never public"),
        );
        return (None, token);
    }
    (Some(addr), token)
}

/// `[server]`'s values, checked.
struct ServerPart {
    public_url: String,
    listen: Option<std::net::SocketAddr>,
    tls: Option<TlsFiles>,
    login_ttl: Duration,
    session_ttl: Duration,
}

fn server_part(r: &mut Report<'_>, base: &Path, server: &RawServer) -> ServerPart {
    let public_url = server.public_url.get_ref().trim_end_matches('/').to_owned();
    if let Err(e) = check_url(&public_url) {
        r.at(server.public_url.span(), format!("server.public_url: {e}"));
    }
    if public_url.contains('?') {
        r.at(
            server.public_url.span(),
            "server.public_url must not have a query",
        );
    }
    let listen = match server.listen.get_ref().parse() {
        Ok(a) => Some(a),
        Err(_) => {
            r.at(
                server.listen.span(),
                format!(
                    "server.listen `{}` is not an address such as 127.0.0.1:8080",
                    server.listen.get_ref()
                ),
            );
            None
        }
    };
    let tls = server.tls.as_ref().map(|t| {
        for (s, what) in [
            (&t.cert_chain, "certificate chain"),
            (&t.key, "private key"),
        ] {
            if !base.join(s.get_ref()).is_file() {
                r.at(
                    s.span(),
                    format!("TLS {what} file `{}` not found", s.get_ref()),
                );
            }
        }
        TlsFiles {
            cert_chain: base.join(t.cert_chain.get_ref()),
            key: base.join(t.key.get_ref()),
        }
    });
    if tls.is_some() && !public_url.starts_with("https://") {
        r.at(
            server.public_url.span(),
            "server.public_url should be https:// when server.tls is set",
        );
    }
    let secs = |r: &mut Report<'_>,
                v: &Option<Spanned<u64>>,
                default: u64,
                lo: u64,
                hi: u64,
                name: &str| {
        match v {
            None => Duration::from_secs(default),
            Some(s) => {
                let n = *s.get_ref();
                if !(lo..=hi).contains(&n) {
                    r.at(
                        s.span(),
                        format!("{name} must be between {lo} and {hi} seconds"),
                    );
                }
                Duration::from_secs(n.clamp(lo, hi))
            }
        }
    };
    let login_ttl = secs(
        r,
        &server.login_ttl_secs,
        600,
        60,
        3600,
        "server.login_ttl_secs",
    );
    let session_ttl = secs(
        r,
        &server.session_ttl_secs,
        3600,
        60,
        86_400,
        "server.session_ttl_secs",
    );
    ServerPart {
        public_url,
        listen,
        tls,
        login_ttl,
        session_ttl,
    }
}

/// `[store]`: memory unless a Redis URL is given.
fn store(r: &mut Report<'_>, base: &Path, raw: Option<Spanned<RawStore>>) -> StoreSettings {
    let memory = StoreSettings::Memory {
        max_entries: 1_000_000,
    };
    match raw {
        None => memory,
        Some(st) => {
            let span = st.span();
            match st.into_inner() {
                RawStore::Memory(m) => StoreSettings::Memory {
                    max_entries: m.max_entries.unwrap_or(1_000_000),
                },
                RawStore::Redis(rs) => match rs.url.resolve(base) {
                    Ok(url)
                        if url.expose().starts_with(b"redis://")
                            || url.expose().starts_with(b"rediss://") =>
                    {
                        StoreSettings::Redis {
                            url,
                            timeout: Duration::from_millis(
                                rs.timeout_ms.unwrap_or(2000).clamp(50, 30_000),
                            ),
                            cluster: rs.cluster,
                            compact_logins: rs.compact_logins,
                        }
                    }
                    Ok(_) => {
                        r.at(span, "store.url must start with redis:// or rediss://");
                        memory
                    }
                    Err(e) => {
                        r.at(span, format!("store.url: {e}"));
                        memory
                    }
                },
            }
        }
    }
}

/// `[secrets] pairwise_key`: at least 32 bytes.
fn pairwise_key(
    r: &mut Report<'_>,
    base: &Path,
    secrets: Spanned<RawSecrets>,
) -> Option<super::secret::Secret> {
    let secrets_span = secrets.span();
    match secrets.get_ref().pairwise_key.resolve(base) {
        Ok(s) if s.expose().len() >= 32 => Some(s),
        Ok(_) => {
            r.at(
                secrets_span.clone(),
                "secrets.pairwise_key must be at least 32 bytes (e.g. `openssl rand -base64 48`)",
            );
            None
        }
        Err(e) => {
            r.at(secrets_span, format!("secrets.pairwise_key: {e}"));
            None
        }
    }
}

/// `[keys]`: the signing keys' folder.
fn keys(base: &Path, raw: Option<Spanned<RawKeys>>) -> KeySettings {
    match raw {
        Some(k) => {
            let k = k.into_inner();
            KeySettings {
                dir: base.join(k.dir.get_ref()),
                generate_missing: k.generate_missing,
            }
        }
        None => KeySettings {
            dir: base.join("keys"),
            generate_missing: false,
        },
    }
}

/// `[providers.*]`, each checked by its family's rules (see [`provider`]).
fn providers(
    r: &mut Report<'_>,
    base: &Path,
    raw: indexmap::IndexMap<String, Spanned<RawProvider>>,
    demo: bool,
) -> Vec<ProviderConfig> {
    let mut providers = Vec::new();
    let mut seen_wallets: Vec<&'static str> = Vec::new();
    for (id, p) in raw {
        let span = p.span();
        if !valid_id(&id) {
            r.at(
                span.clone(),
                format!("provider id `{id}` must be lower-case letters, digits, `-` or `_`"),
            );
        }
        // A wallet calls /mip/… or /oid4vp/… on the gateway's origin: one
        // registration of each kind there.
        let wallet = match p.get_ref() {
            RawProvider::MobileId(_) => Some(("mobile_id", "/mip/…")),
            RawProvider::OpenId4Vp(_) => Some(("openid4vp", "/oid4vp/…")),
            _ => None,
        };
        if let Some((kind, paths)) = wallet {
            if seen_wallets.contains(&kind) {
                r.at(
                    span.clone(),
                    format!(
                        "providers.{id}: only one `{kind}` provider per gateway (the wallet calls {paths} on its origin, which is one verifier registration)"
                    ),
                );
                continue;
            }
            seen_wallets.push(kind);
        }
        if let Some(p) = provider::build(r, base, &id, span, p.into_inner(), demo) {
            providers.push(p);
        }
    }
    providers
}

/// `[policies.*]`, naming only configured providers.
fn policies(
    r: &mut Report<'_>,
    raw: BTreeMap<String, Spanned<RawPolicy>>,
    provider_ids: &HashSet<String>,
) -> HashMap<String, SitePolicy> {
    let mut policies: HashMap<String, SitePolicy> = HashMap::new();
    for (id, p) in raw {
        let p = p.into_inner();
        let mut allowed = Vec::new();
        for pid in p.providers.unwrap_or_default() {
            if !provider_ids.contains(pid.get_ref()) {
                r.at(
                    pid.span(),
                    format!(
                        "policies.{id}: no provider `{}` is configured",
                        pid.get_ref()
                    ),
                );
            }
            allowed.push(ProviderId::new(pid.into_inner()));
        }
        let min_level = match &p.min_level {
            Some(l) => level(r, l.span(), l.get_ref()).unwrap_or(Level::Substantial),
            None => Level::Substantial,
        };
        policies.insert(
            id,
            SitePolicy {
                allowed_providers: allowed,
                min_level,
                ci_entitled: p.ci,
            },
        );
    }
    policies
}

/// `[signing]`: the bounds of a signature request (its audit log: [`audit`]).
fn signing(r: &mut Report<'_>, raw: Option<Spanned<RawSigning>>) -> Option<SigningSettings> {
    raw.map(|s| {
        let s = s.into_inner();
        let mut bounded = |v: &Option<Spanned<u64>>, default: u64, hi: u64, name: &str| match v {
            None => default,
            Some(x) if (1..=hi).contains(x.get_ref()) => *x.get_ref(),
            Some(x) => {
                r.at(
                    x.span(),
                    format!("signing.{name} must be between 1 and {hi}"),
                );
                default
            }
        };
        let max_document_bytes = bounded(
            &s.max_document_bytes,
            1 << 20,
            16 << 20,
            "max_document_bytes",
        );
        let max_documents = bounded(&s.max_documents, 50, 100, "max_documents");
        let retention_days = bounded(&s.retention_days, 30, 3650, "retention_days");
        SigningSettings {
            max_document_bytes: usize::try_from(max_document_bytes).unwrap_or(1 << 20),
            max_documents: usize::try_from(max_documents).unwrap_or(50),
            retention: Duration::from_secs(retention_days * 86_400),
        }
    })
}

/// `[demo]`: the demo site must be able to log in with a secret.
fn demo(
    r: &mut Report<'_>,
    raw: Option<Spanned<RawDemo>>,
    sites: &BTreeMap<String, Site>,
) -> Option<DemoSettings> {
    raw.map(|d| {
        let d = d.into_inner();
        let ok = sites
            .get(d.site.get_ref())
            .is_some_and(|s| s.oidc.as_ref().is_some_and(|o| o.secret.is_some()));
        if !ok {
            r.at(
                d.site.span(),
                format!(
                    "demo.site `{}` must name a site with an OIDC client that has a client_secret",
                    d.site.get_ref()
                ),
            );
        }
        DemoSettings {
            site: d.site.into_inner(),
        }
    })
}

/// `[sites.*]`: each site's policy, OIDC client, SAML SP, limits and webhook.
fn sites(
    r: &mut Report<'_>,
    base: &Path,
    raw: BTreeMap<String, Spanned<RawSite>>,
    policies: &HashMap<String, SitePolicy>,
    deployment_limits: &munjigi_policy::limits::Limits,
    clients: &mut HashMap<String, String>,
    saml_sps: &mut HashMap<String, String>,
) -> BTreeMap<String, Site> {
    let mut sites = BTreeMap::new();
    let mut metadata_urls = saml::MetadataUrls::new();
    for (id, s) in raw {
        let span = s.span();
        let s = s.into_inner();
        if !valid_id(&id) {
            r.at(
                span.clone(),
                format!("site id `{id}` must be lower-case letters, digits, `-` or `_`"),
            );
        }
        let policy = match policies.get(s.policy.get_ref()) {
            Some(p) => p.clone(),
            None => {
                r.at(
                    s.policy.span(),
                    format!(
                        "sites.{id}: no policy `{}` is defined under [policies]",
                        s.policy.get_ref()
                    ),
                );
                continue;
            }
        };
        let oidc = s.oidc.map(|o| oidc_client(r, base, &id, o, clients));
        sites.insert(
            id.clone(),
            Site {
                id: id.clone(),
                name_en: s.name_en.unwrap_or_else(|| s.name.clone()),
                name: s.name,
                policy,
                oidc,
                limits: limits::build(
                    r,
                    &format!("sites.{id}.limits"),
                    s.limits.as_ref(),
                    deployment_limits,
                    true,
                ),
                webhook_url: webhook::site_url(r, &id, s.signing),
                saml: saml::site(
                    r,
                    base,
                    &id,
                    span.clone(),
                    s.saml,
                    saml_sps,
                    &mut metadata_urls,
                ),
            },
        );
    }
    sites
}

/// `[sites.X.oidc]`: a client of one site; its id unique across sites.
fn oidc_client(
    r: &mut Report<'_>,
    base: &Path,
    id: &str,
    o: RawOidcClient,
    clients: &mut HashMap<String, String>,
) -> OidcClient {
    if clients
        .insert(o.client_id.get_ref().clone(), id.to_owned())
        .is_some()
    {
        r.at(
            o.client_id.span(),
            format!("client_id `{}` is used by two sites", o.client_id.get_ref()),
        );
    }
    let secret = match &o.client_secret {
        None => None,
        Some(sr) => match sr.get_ref().resolve(base) {
            Ok(s) if s.expose().len() >= 16 => Some(s),
            Ok(_) => {
                r.at(
                    sr.span(),
                    format!("sites.{id}.oidc.client_secret must be at least 16 bytes"),
                );
                None
            }
            Err(e) => {
                r.at(sr.span(), format!("sites.{id}.oidc.client_secret: {e}"));
                None
            }
        },
    };
    if o.redirect_uris.get_ref().is_empty() {
        r.at(
            o.redirect_uris.span(),
            format!("sites.{id}.oidc.redirect_uris needs at least one URI"),
        );
    }
    for u in o
        .redirect_uris
        .get_ref()
        .iter()
        .chain(&o.post_logout_redirect_uris)
    {
        if let Err(e) = check_url(u.get_ref()) {
            r.at(u.span(), format!("sites.{id}.oidc: {e}"));
        }
    }
    let alg = match o
        .id_token_alg
        .as_ref()
        .map(|a| (a.span(), a.get_ref().as_str()))
    {
        None | Some((_, "ES256")) => IdTokenAlg::Es256,
        Some((_, "RS256")) => IdTokenAlg::Rs256,
        Some((span, other)) => {
            r.at(
                span,
                format!("id_token_alg `{other}` is not supported; use `ES256` or `RS256`"),
            );
            IdTokenAlg::Es256
        }
    };
    let assertion_keys = client_auth(r, base, id, &o);
    let (backchannel_logout_uri, frontchannel_logout_uri) = logout::uris(r, id, &o);
    let device = device::grant(r, id, &o);
    let ciba = ciba::grant(r, base, id, &o, assertion_keys.as_ref());
    OidcClient {
        client_id: o.client_id.into_inner(),
        secret,
        redirect_uris: o
            .redirect_uris
            .into_inner()
            .into_iter()
            .map(Spanned::into_inner)
            .collect(),
        post_logout_redirect_uris: o
            .post_logout_redirect_uris
            .into_iter()
            .map(Spanned::into_inner)
            .collect(),
        id_token_alg: alg,
        assertion_keys,
        backchannel_logout_uri,
        frontchannel_logout_uri,
        device,
        ciba,
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

mod audit;
mod ciba;
mod crl;
#[cfg(test)]
mod declarative;
mod device;
mod health;
#[cfg(test)]
mod kakao_direct;
mod limits;
mod logout;
#[cfg(test)]
mod mobile_id;
mod openid4vp;
mod provider;
mod routes;
mod saml;
mod signers;
mod telemetry;
#[cfg(test)]
mod toss_direct;
mod webhook;

#[cfg(test)]
mod tests;
