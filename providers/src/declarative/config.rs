//! A `type = "declarative"` provider section (family D: a provider described
//! entirely in config): as written, its rules, and the adapter it builds.
//!
//! Why here and not in the gateway: the section is mostly the family's
//! [`Description`], whose rules (and the field names its problems carry, such
//! as `providers.kb.api.status.states`) are this family's; keeping the section
//! beside the adapter makes the family one folder. The gateway keeps what every
//! family shares (secret references, files, positions, CRL), reached through
//! [`Check`].
//!
//! Not here: reaching the provider (the adapter does, at start) or checking the
//! secrets against it (only a call can).

use super::{DeclarativeAdapter, DeclarativeSecrets, Description};
use crate::cms::TrustAnchors;
use crate::config::{signer_rules, Check, Checked, Material};
use crate::{Provider, ProviderId};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A provider described in config: its API in `[providers.<id>.api]`, the
/// secrets that description names beside it. `S` is the gateway's secret
/// reference.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de>"))]
pub struct RawDeclarative<S> {
    pub name_ko: String,
    pub name_en: String,
    /// A PNG or SVG file shown beside the name on the chooser (read by
    /// the gateway, which serves it; a text badge without it).
    pub logo: Option<String>,
    /// `low`, `substantial` or `high`.
    pub level: String,
    /// PEM file with this provider's own root(s) for its signed results.
    pub roots: String,
    /// PEM file with the CA for the provider's TLS server (https base URLs).
    pub tls_ca: Option<String>,
    /// The secrets the description names (`hmac_key = { env = "…" }`).
    #[serde(default)]
    pub secrets: BTreeMap<String, S>,
    /// The provider's API, described.
    pub api: Description,
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
    pub description: Box<Description>,
    /// The secrets the description names, by name.
    pub secrets: Vec<(String, S)>,
}

/// Checks one section, reporting every problem; `None` when it cannot become
/// a provider. The secrets' formats (base64 keys, AES key length) and the URL
/// rules are the adapter's: when everything else holds, the adapter is built
/// once (without the CRL) to report them now rather than at start.
pub fn check<C: Check>(
    d: RawDeclarative<C::SecretRef>,
    c: &mut C,
) -> Option<Checked<Settings<C::Secret>, C::Crl>> {
    let id = c.id().to_owned();
    let lvl = c.level(&d.level);
    // `base_url` is checked by the description's own rules (the one URL
    // rule, honouring allow_plain_http), reported as `api.base_url` below.
    if d.api.allow_plain_http {
        c.plain_http("api.allow_plain_http");
    }
    let problems = d.api.validate(&|n| d.secrets.contains_key(n));
    for p in &problems {
        c.problem(format!("providers.{id}.api.{}: {}", p.field, p.message));
    }
    let mut secrets = Vec::new();
    let mut all_secrets = true;
    for (name, s) in &d.secrets {
        match c.secret(&format!("secrets.{name}"), s) {
            Some(v) => secrets.push((name.clone(), v)),
            None => all_secrets = false,
        }
    }
    let roots_pem = c.roots(&d.roots);
    let anchors = roots_pem
        .as_deref()
        .and_then(|pem| TrustAnchors::from_pem(pem).ok());
    let tls_ca_pem = d.tls_ca.as_deref().and_then(|f| c.file("tls_ca", f));
    let crl = c.crl(d.crl.as_deref(), d.crl_required);
    let signer = signer_rules(
        c,
        &d.required_policies,
        &d.required_eku,
        &d.issuing_ca,
        &d.issuing_ca_sha256,
    );
    let level = lvl?;
    let roots_pem = roots_pem?;
    let crl = crl?;
    let signer = signer?;
    if !problems.is_empty() || !all_secrets {
        return None;
    }
    let settings = Settings {
        description: Box::new(d.api),
        secrets,
    };
    if let Some(anchors) = anchors {
        let trial = build(&settings, || {
            Ok(Material {
                id: ProviderId::new(id.clone()),
                level,
                anchors,
                tls_ca_pem: tls_ca_pem.clone(),
            })
        });
        if let Err(e) = trial {
            c.problem(format!("providers.{id}: {e}"));
            return None;
        }
    }
    Some(Checked {
        name_ko: d.name_ko,
        name_en: d.name_en,
        level,
        roots_pem,
        tls_ca_pem,
        crl,
        signer,
        settings,
    })
}

/// The adapter for checked settings.
pub fn build<S: AsRef<[u8]>>(
    s: &Settings<S>,
    material: impl FnOnce() -> Result<Material, String>,
) -> Result<Arc<dyn Provider>, String> {
    let mut named = DeclarativeSecrets::new();
    for (name, v) in &s.secrets {
        named.insert(name.clone(), v.as_ref().to_vec());
    }
    let m = material()?;
    let adapter = DeclarativeAdapter::new(
        m.id,
        m.level,
        (*s.description).clone(),
        &named,
        m.anchors,
        m.tls_ca_pem,
    )
    .map_err(|e| e.to_string())?;
    Ok(Arc::new(adapter))
}
