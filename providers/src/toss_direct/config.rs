//! A `type = "toss_direct"` provider section: as written, its rules, and the
//! adapter it builds.
//!
//! Why here and not in the gateway: what a Toss-direct section may say (the
//! client credentials' shape, the session key, the ttl range, endpoints
//! without a query) is Toss's, and changes with the adapter; keeping it beside
//! the adapter makes the family one folder. The gateway keeps what every family
//! shares (secret references, files, positions, CRL), reached through [`Check`].
//!
//! Not here: reaching Toss (the adapter does, at start) or checking the client
//! credentials against Toss (only a token request can).

use super::session::TossPublicKey;
use super::{
    visible_ascii, TossDirectAdapter, TossDirectClientSecret, TossDirectConfig, MAX_TTL_SECS,
};
use crate::config::{check_times, signer_rules, Check, Checked, Material};
use crate::Provider;
use serde::Deserialize;
use std::sync::Arc;

/// Toss's own certificate API (cert.toss.im), OAuth2 client credentials.
/// `S` is the gateway's secret reference.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de>"))]
pub struct RawTossDirect<S> {
    pub name_ko: String,
    pub name_en: String,
    /// A PNG or SVG file shown beside the name on the chooser (read by
    /// the gateway, which serves it; a text badge without it).
    pub logo: Option<String>,
    /// `low`, `substantial` or `high`.
    pub level: String,
    /// Base URL of the API (`https://cert.toss.im`); may carry a path prefix.
    pub endpoint: String,
    /// The OAuth2 token endpoint (`https://oauth2.cert.toss.im/token`).
    pub token_endpoint: String,
    pub client_id: String,
    pub client_secret: S,
    /// PEM file with Toss's RSA public key that session keys are wrapped with.
    pub session_public_key: String,
    /// PEM file with Toss's own root(s) for its signed results.
    pub roots: String,
    /// PEM file with the CA for the provider's TLS server (https endpoints).
    pub tls_ca: Option<String>,
    pub ttl_secs: Option<u32>,
    pub timeout_ms: Option<u64>,
    /// The provider's CRL: a file (PEM or DER, re-read when it changes) or an
    /// `https://` URL (`http://` only on loopback), fetched in the background.
    pub crl: Option<String>,
    /// Refuse results when no current CRL is held (default true with `crl`).
    pub crl_required: Option<bool>,
    /// certificatePolicies OIDs; the signer's certificate must name one of them.
    pub required_policies: Option<Vec<String>>,
    /// extendedKeyUsage OIDs; the signer's certificate must name one of them.
    pub required_eku: Option<Vec<String>>,
    /// PEM file of the CA certificate(s) that alone may issue the signer's.
    pub issuing_ca: Option<String>,
    /// SHA-256 fingerprints of the CA certificate(s) that alone may issue the signer's.
    pub issuing_ca_sha256: Option<Vec<String>>,
}

/// The family's part of a checked section.
#[derive(Debug)]
pub struct Settings<S> {
    pub config: TossDirectConfig,
    /// The OAuth2 client secret (checked: visible ASCII, no spaces).
    pub client_secret: S,
    /// Toss's RSA public key (PEM) for session keys (checked: it parses).
    pub session_public_key_pem: Vec<u8>,
}

/// Checks one section, reporting every problem; `None` when it cannot become
/// a provider.
pub fn check<C: Check>(
    t: RawTossDirect<C::SecretRef>,
    c: &mut C,
) -> Option<Checked<Settings<C::Secret>, C::Crl>> {
    let id = c.id().to_owned();
    let lvl = c.level(&t.level);
    for (what, url) in [
        ("endpoint", &t.endpoint),
        ("token_endpoint", &t.token_endpoint),
    ] {
        c.url(what, url);
        if url.contains('?') {
            c.problem(format!("providers.{id}.{what} must not have a query"));
        }
    }
    if !visible_ascii(t.client_id.trim(), 256) {
        c.problem(format!(
            "providers.{id}.client_id must be 1 to 256 visible ASCII characters"
        ));
    }
    let client_secret = c.secret("client_secret", &t.client_secret).and_then(|s| {
        let usable = std::str::from_utf8(s.as_ref())
            .ok()
            .is_some_and(|v| TossDirectClientSecret::new(v).is_ok());
        if !usable {
            c.problem(format!(
                "providers.{id}.client_secret must be visible ASCII, no spaces"
            ));
        }
        usable.then_some(s)
    });
    let session_public_key_pem = c
        .file("session_public_key", &t.session_public_key)
        .and_then(|pem| match TossPublicKey::from_pem(&pem) {
            Ok(_) => Some(pem),
            Err(e) => {
                c.problem(format!(
                    "providers.{id}.session_public_key `{}`: {e}",
                    t.session_public_key
                ));
                None
            }
        });
    let roots_pem = c.roots(&t.roots);
    let tls_ca_pem = t.tls_ca.as_deref().and_then(|f| c.file("tls_ca", f));
    check_times(c, t.ttl_secs, MAX_TTL_SECS, t.timeout_ms);
    let crl = c.crl(t.crl.as_deref(), t.crl_required);
    let signer = signer_rules(
        c,
        &t.required_policies,
        &t.required_eku,
        &t.issuing_ca,
        &t.issuing_ca_sha256,
    );
    let (level, client_secret, session_public_key_pem, roots_pem, crl, signer) = (
        lvl?,
        client_secret?,
        session_public_key_pem?,
        roots_pem?,
        crl?,
        signer?,
    );
    Some(Checked {
        name_ko: t.name_ko,
        name_en: t.name_en,
        level,
        roots_pem,
        tls_ca_pem,
        crl,
        signer,
        settings: Settings {
            config: TossDirectConfig {
                endpoint: t.endpoint,
                token_endpoint: t.token_endpoint,
                client_id: t.client_id.trim().to_owned(),
                ttl_secs: t.ttl_secs,
                timeout_ms: t.timeout_ms,
                allow_plain_http: false,
            },
            client_secret,
            session_public_key_pem,
        },
    })
}

/// The adapter for checked settings. The secret is parsed before `material`
/// is asked for, so a bad secret is the error reported even when the trust is
/// bad too.
pub fn build<S: AsRef<[u8]>>(
    s: &Settings<S>,
    material: impl FnOnce() -> Result<Material, String>,
) -> Result<Arc<dyn Provider>, String> {
    let secret = std::str::from_utf8(s.client_secret.as_ref())
        .map_err(|_| "client_secret is not text".to_owned())
        .and_then(|v| TossDirectClientSecret::new(v).map_err(|e| e.to_string()))?;
    let m = material()?;
    let adapter = TossDirectAdapter::new(
        m.id,
        m.level,
        s.config.clone(),
        secret,
        &s.session_public_key_pem,
        m.anchors,
        m.tls_ca_pem,
    )
    .map_err(|e| e.to_string())?;
    Ok(Arc::new(adapter))
}
