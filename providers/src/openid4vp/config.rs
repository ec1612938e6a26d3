//! A `type = "openid4vp"` provider section: the verifier's certificate and
//! key, the credential types accepted with each one's trust anchors, the
//! claims asked for, and the adapter it builds.
//!
//! The client identifier is `x509_san_dns:` and the gateway's public host:
//! the certificate must name that host as a DNS SAN (checked when the
//! gateway builds the provider, at start and on reload, where the public
//! URL is known: a wallet never meets a request it must refuse), and the
//! request's `response_uri` is on the same host (OpenID4VP §5.9.3). The
//! per-login response keys are derived from the verifier's key: a new key
//! makes the responses to requests signed with the old one unreadable.

use super::adapter::{ClaimPaths, Oid4vpAdapter, Oid4vpConfig, MAX_TTL_SECS};
use super::request::Verifier;
use crate::callback::Inbox;
use crate::config::{check_times, Check, Checked};
use crate::{Level, Provider, ProviderId};
use openssl::ec::EcKey;
use openssl::pkey::Private;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::X509;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCredential {
    /// The SD-JWT VC type (`vct`) accepted.
    pub vct: String,
    /// PEM file of the CAs its issuers' certificates chain to.
    pub anchors: String,
}

/// Where the claims a login needs are in the credential: object keys from
/// the top (a DCQL claims path).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClaims {
    pub name: Vec<String>,
    pub birthdate: Vec<String>,
    pub ci: Vec<String>,
}

/// The verifier's section as written. `S` is the gateway's secret reference.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de>"))]
pub struct RawOpenId4Vp<S> {
    pub name_ko: String,
    pub name_en: String,
    /// A PNG or SVG file shown beside the name on the chooser (read by
    /// the gateway, which serves it; a text badge without it).
    pub logo: Option<String>,
    pub level: String,
    /// PEM file: the request-signing certificate, then its chain.
    pub certificate: String,
    /// PEM of its P-256 private key.
    pub key: S,
    pub credentials: Vec<RawCredential>,
    /// Default: `name`, `birthdate` and `ci` at the top.
    pub claims: Option<RawClaims>,
    /// `direct_post.jwt` (the default: the response encrypted to a key of
    /// this login) or `direct_post`.
    pub response_mode: Option<String>,
    /// Refuse a credential without a `status` (default true).
    pub require_status: Option<bool>,
    /// PEM file with the CA of the status list servers' TLS.
    pub tls_ca: Option<String>,
    pub ttl_secs: Option<u32>,
    pub timeout_ms: Option<u64>,
}

/// The family's part of a checked section.
#[derive(Debug)]
pub struct Settings<S> {
    pub certificate: Vec<u8>,
    pub key: S,
    pub credentials: Vec<(String, Vec<u8>)>,
    pub claims: ClaimPaths,
    pub encrypted: bool,
    pub require_status: bool,
    pub ttl_secs: Option<u32>,
    pub timeout_ms: Option<u64>,
}

fn chain(pem: &[u8]) -> Result<Vec<X509>, String> {
    let c = X509::stack_from_pem(pem).map_err(|_| "is not PEM certificates".to_owned())?;
    if c.is_empty() {
        return Err("holds no certificate".into());
    }
    Ok(c)
}

fn key(pem: &[u8]) -> Result<EcKey<Private>, String> {
    let k =
        EcKey::private_key_from_pem(pem).map_err(|_| "is not a PEM EC private key".to_owned())?;
    if k.group().curve_name() != Some(openssl::nid::Nid::X9_62_PRIME256V1) {
        return Err("is not a P-256 key (ES256 is the one algorithm offered)".into());
    }
    Ok(k)
}

/// The public host of `public_url`: what the certificate must name.
pub fn host_of(public_url: &str) -> Option<String> {
    url::Url::parse(public_url)
        .ok()?
        .host_str()
        .map(str::to_owned)
}

fn names_host(leaf: &X509, host: &str) -> bool {
    leaf.subject_alt_names().is_some_and(|names| {
        names
            .iter()
            .any(|n| n.dnsname().is_some_and(|d| d.eq_ignore_ascii_case(host)))
    })
}

fn anchors(pem: &[u8]) -> Result<X509Store, String> {
    let certs = chain(pem)?;
    let mut b = X509StoreBuilder::new().map_err(|e| e.to_string())?;
    for c in certs {
        b.add_cert(c).map_err(|e| e.to_string())?;
    }
    Ok(b.build())
}

/// Checks that a DCQL path is a few plain keys.
fn path_ok(p: &[String]) -> bool {
    !p.is_empty()
        && p.len() <= 4
        && p.iter().all(|k| {
            !k.is_empty()
                && k.len() <= 64
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        })
}

/// Checks one section, reporting every problem; `None` when it cannot become
/// a provider.
pub fn check<C: Check>(
    t: RawOpenId4Vp<C::SecretRef>,
    c: &mut C,
) -> Option<Checked<Settings<C::Secret>, C::Crl>> {
    let id = c.id().to_owned();
    let lvl = c.level(&t.level);
    let mut ok = true;
    let mut bad = |c: &mut C, m: String| {
        c.problem(format!("providers.{id}.{m}"));
        ok = false;
    };
    let encrypted = match t.response_mode.as_deref() {
        None | Some("direct_post.jwt") => true,
        Some("direct_post") => false,
        Some(other) => {
            bad(
                c,
                format!("response_mode `{other}` is not `direct_post.jwt` or `direct_post`"),
            );
            true
        }
    };
    let certificate = c
        .file("certificate", &t.certificate)
        .and_then(|pem| match chain(&pem) {
            Ok(_) => Some(pem),
            Err(e) => {
                bad(c, format!("certificate `{}` {e}", t.certificate));
                None
            }
        });
    let key_ok = c.secret("key", &t.key).and_then(|s| match key(s.as_ref()) {
        Ok(_) => Some(s),
        Err(e) => {
            bad(c, format!("key {e}"));
            None
        }
    });
    if let (Some(pem), Some(k)) = (&certificate, &key_ok) {
        let leaf_matches = chain(pem).ok().and_then(|ch| {
            let leaf_key = ch.first()?.public_key().ok()?.ec_key().ok()?;
            let ours = key(k.as_ref()).ok()?;
            let mut ctx = openssl::bn::BigNumContext::new().ok()?;
            leaf_key
                .public_key()
                .eq(ours.group(), ours.public_key(), &mut ctx)
                .ok()
        });
        if leaf_matches != Some(true) {
            bad(
                c,
                "key is not the key of the certificate's first (leaf) certificate".into(),
            );
        }
    }
    if t.credentials.is_empty() {
        bad(
            c,
            "credentials must list the types accepted ({ vct, anchors })".into(),
        );
    }
    let mut credentials = Vec::new();
    for (i, k) in t.credentials.iter().enumerate() {
        if t.credentials.iter().take(i).any(|o| o.vct == k.vct) {
            bad(
                c,
                format!("credentials[{i}].vct `{}` is listed twice", k.vct),
            );
        }
        if k.vct.is_empty() || k.vct.len() > 256 || k.vct.chars().any(char::is_control) {
            bad(
                c,
                format!("credentials[{i}].vct must be 1 to 256 characters"),
            );
        }
        if let Some(pem) = c.file(&format!("credentials[{i}].anchors"), &k.anchors) {
            match anchors(&pem) {
                Ok(_) => credentials.push((k.vct.clone(), pem)),
                Err(e) => bad(c, format!("credentials[{i}].anchors `{}` {e}", k.anchors)),
            }
        }
    }
    let claims = match t.claims {
        None => ClaimPaths::default(),
        Some(r) => ClaimPaths {
            name: r.name,
            birthdate: r.birthdate,
            ci: r.ci,
        },
    };
    for (field, p) in [
        ("name", &claims.name),
        ("birthdate", &claims.birthdate),
        ("ci", &claims.ci),
    ] {
        if !path_ok(p) {
            bad(
                c,
                format!("claims.{field} must be 1 to 4 keys of letters, digits, `_`, `-` or `.`"),
            );
        }
    }
    let tls_ca_pem = t.tls_ca.as_deref().and_then(|f| c.file("tls_ca", f));
    check_times(c, t.ttl_secs, MAX_TTL_SECS, t.timeout_ms);
    let (level, certificate, key) = (lvl?, certificate?, key_ok?);
    if !ok {
        return None;
    }
    Some(Checked {
        name_ko: t.name_ko,
        name_en: t.name_en,
        level,
        roots_pem: Vec::new(),
        tls_ca_pem,
        crl: None,
        signer: crate::cms::SignerRules::default(),
        settings: Settings {
            certificate,
            key,
            credentials,
            claims,
            encrypted,
            require_status: t.require_status.unwrap_or(true),
            ttl_secs: t.ttl_secs,
            timeout_ms: t.timeout_ms,
        },
    })
}

/// What the gateway gives this family's builder beyond its settings.
pub struct Wiring {
    pub id: ProviderId,
    pub level: Level,
    /// The gateway's public URL (the wallet calls `{url}/oid4vp/...`).
    pub public_url: String,
    pub inbox: Arc<dyn Inbox>,
    pub tls_ca_pem: Option<Vec<u8>>,
    /// The demo's config may fetch status lists over plain http.
    pub allow_plain_http: bool,
}

/// The adapter for checked settings.
pub fn build<S: AsRef<[u8]>>(s: &Settings<S>, w: Wiring) -> Result<Arc<dyn Provider>, String> {
    let host = host_of(&w.public_url).ok_or("the public URL has no host")?;
    let certs = chain(&s.certificate).map_err(|e| format!("certificate {e}"))?;
    let leaf = certs.first().ok_or("certificate holds no certificate")?;
    if !names_host(leaf, &host) {
        return Err(format!(
            "certificate does not name the gateway's host `{host}` as a DNS name (the client identifier is x509_san_dns:{host})"
        ));
    }
    let secret = key(s.key.as_ref()).map_err(|e| format!("key {e}"))?;
    let mut types = Vec::new();
    for (vct, pem) in &s.credentials {
        types.push((
            vct.clone(),
            anchors(pem).map_err(|e| format!("anchors of {vct}: {e}"))?,
        ));
    }
    let config = Oid4vpConfig {
        verifier: Verifier {
            host,
            chain: certs,
            key: secret,
        },
        public_url: w.public_url.trim_end_matches('/').to_owned(),
        types,
        claims: s.claims.clone(),
        encrypted: s.encrypted,
        require_status: s.require_status,
        ttl_secs: s.ttl_secs,
        timeout_ms: s.timeout_ms,
        allow_plain_http: w.allow_plain_http,
    };
    let adapter = Oid4vpAdapter::new(w.id, w.level, config, w.inbox, w.tls_ca_pem.as_deref())
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(adapter))
}
