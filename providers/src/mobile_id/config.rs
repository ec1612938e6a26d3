//! A `type = "mobile_id"` provider section: the SP's registration as
//! written, its rules, and the adapter it builds.
//!
//! The registration is what the mobile ID platform gave the SP: its DID and
//! the DID's secp256k1 key (`sp_key`), the service codes, the push server's
//! `mscode`; beside it the RSA key presentations are sealed to (`seal_key`),
//! what is accepted (issuer DIDs, credential types) and the trust list the
//! DIDs and statuses are read from ([`super::trust`]). Without `push_url`
//! the family offers the QR code only.

use super::adapter::{MobileIdAdapter, MobileIdConfig, MAX_TTL_SECS};
use super::profile::Sp;
use super::trust::TrustFile;
use crate::callback::Inbox;
use crate::config::{check_times, Check, Checked};
use crate::{Level, Provider, ProviderId};
use openssl::ec::EcKey;
use openssl::pkey::{PKey, Private};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCredential {
    /// The credential type (`assertion.code`), as the platform names it.
    pub code: String,
    /// Its name, shown in the wallet.
    pub name: String,
}

/// The SP's registration at the mobile ID platform. `S` is the gateway's
/// secret reference.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de>"))]
pub struct RawMobileId<S> {
    pub name_ko: String,
    pub name_en: String,
    /// A PNG or SVG file shown beside the name on the chooser (read by
    /// the gateway, which serves it; a text badge without it).
    pub logo: Option<String>,
    /// `high` for a driving licence or resident ID.
    pub level: String,
    /// The push server (`https://psh.mobileid.go.kr:8443/api/sendVPAPI.do`).
    pub push_url: Option<String>,
    /// The SP's code at the push server (required with `push_url`).
    pub mscode: Option<String>,
    /// The SP's DID and the id of its signing key in the DID document.
    pub sp_did: String,
    pub sp_key_id: String,
    /// PEM of the SP's secp256k1 DID key.
    pub sp_key: S,
    /// PEM of the RSA-2048 key presentations are sealed to.
    pub seal_key: S,
    /// The service's name and the SP's name, shown in the wallet.
    pub service_name: String,
    pub sp_name: String,
    pub sp_code: String,
    pub svc_code: String,
    /// Issuer DIDs whose credentials are accepted.
    pub issuers: Vec<String>,
    /// Credential types accepted.
    pub credentials: Vec<RawCredential>,
    /// JSON file of DID documents and credential statuses.
    pub trust_list: String,
    /// PEM file with the CA of the push server's TLS.
    pub tls_ca: Option<String>,
    pub ttl_secs: Option<u32>,
    pub timeout_ms: Option<u64>,
}

/// The family's part of a checked section.
#[derive(Debug)]
pub struct Settings<S> {
    pub push_url: Option<String>,
    pub mscode: String,
    pub sp_did: String,
    pub sp_key_id: String,
    pub sp_key: S,
    pub seal_key: S,
    pub service_name: String,
    pub sp_name: String,
    pub sp_code: String,
    pub svc_code: String,
    pub issuers: Vec<String>,
    pub credentials: Vec<(String, String)>,
    pub trust_list: PathBuf,
    pub ttl_secs: Option<u32>,
    pub timeout_ms: Option<u64>,
}

fn did(v: &str) -> bool {
    v.starts_with("did:")
        && v.len() <= 200
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":._-".contains(&b))
}

fn code(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// A name the signed profile can carry: no control characters and none of
/// the characters whose signed form is undefined ([`super::canon`]).
fn shown(v: &str) -> bool {
    !v.trim().is_empty()
        && v.chars().count() <= 64
        && !v.chars().any(|c| c.is_control() || "<>&='".contains(c))
}

fn sp_key(pem: &[u8]) -> Result<EcKey<Private>, String> {
    let k =
        EcKey::private_key_from_pem(pem).map_err(|_| "is not a PEM EC private key".to_owned())?;
    if k.group().curve_name() != Some(openssl::nid::Nid::SECP256K1) {
        return Err("is not a secp256k1 key".into());
    }
    Ok(k)
}

fn seal_key(pem: &[u8]) -> Result<PKey<Private>, String> {
    let k = PKey::private_key_from_pem(pem).map_err(|_| "is not a PEM private key".to_owned())?;
    match k.rsa() {
        Ok(r) if r.size() == 256 => Ok(k),
        _ => Err("is not an RSA-2048 key".into()),
    }
}

/// Checks one section, reporting every problem; `None` when it cannot become
/// a provider.
pub fn check<C: Check>(
    t: RawMobileId<C::SecretRef>,
    c: &mut C,
) -> Option<Checked<Settings<C::Secret>, C::Crl>> {
    let id = c.id().to_owned();
    let lvl = c.level(&t.level);
    let mut ok = true;
    let mut bad = |c: &mut C, m: String| {
        c.problem(format!("providers.{id}.{m}"));
        ok = false;
    };
    match (&t.push_url, &t.mscode) {
        (Some(u), Some(m)) => {
            c.url("push_url", u);
            if u.contains('?') {
                bad(c, "push_url must not have a query".into());
            }
            if !code(m) {
                bad(
                    c,
                    "mscode must be 1 to 64 letters, digits, `.`, `_` or `-`".into(),
                );
            }
        }
        (Some(_), None) => bad(c, "mscode is required with push_url".into()),
        (None, Some(_)) => bad(
            c,
            "mscode without push_url has no use; add push_url or remove it".into(),
        ),
        (None, None) => {}
    }
    if !did(&t.sp_did) {
        bad(c, "sp_did must be a DID (`did:…`)".into());
    }
    for (field, v) in [
        ("sp_key_id", &t.sp_key_id),
        ("sp_code", &t.sp_code),
        ("svc_code", &t.svc_code),
    ] {
        if !code(v) {
            bad(
                c,
                format!("{field} must be 1 to 64 letters, digits, `.`, `_` or `-`"),
            );
        }
    }
    for (field, v) in [("service_name", &t.service_name), ("sp_name", &t.sp_name)] {
        if !shown(v) {
            bad(
                c,
                format!("{field} must be 1 to 64 characters without controls or <>&='"),
            );
        }
    }
    if t.issuers.is_empty() || !t.issuers.iter().all(|i| did(i)) {
        bad(
            c,
            "issuers must list the issuer DIDs accepted (`did:…`)".into(),
        );
    }
    if t.credentials.is_empty()
        || !t
            .credentials
            .iter()
            .all(|k| code(&k.code) && shown(&k.name))
    {
        bad(
            c,
            "credentials must list the credential types accepted ({ code, name })".into(),
        );
    }
    let sp = c
        .secret("sp_key", &t.sp_key)
        .and_then(|s| match sp_key(s.as_ref()) {
            Ok(_) => Some(s),
            Err(e) => {
                bad(c, format!("sp_key {e}"));
                None
            }
        });
    let seal = c
        .secret("seal_key", &t.seal_key)
        .and_then(|s| match seal_key(s.as_ref()) {
            Ok(_) => Some(s),
            Err(e) => {
                bad(c, format!("seal_key {e}"));
                None
            }
        });
    let trust_list = c.path(&t.trust_list);
    let list_ok = c
        .file("trust_list", &t.trust_list)
        .map(|bytes| match super::trust::List::parse(&bytes) {
            Ok(_) => true,
            Err(e) => {
                bad(c, format!("trust_list `{}`: {e}", t.trust_list));
                false
            }
        });
    let tls_ca_pem = t.tls_ca.as_deref().and_then(|f| c.file("tls_ca", f));
    check_times(c, t.ttl_secs, MAX_TTL_SECS, t.timeout_ms);
    let (level, sp_key, seal_key, list_ok) = (lvl?, sp?, seal?, list_ok?);
    if !ok || !list_ok {
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
            push_url: t.push_url,
            mscode: t.mscode.unwrap_or_default(),
            sp_did: t.sp_did,
            sp_key_id: t.sp_key_id,
            sp_key,
            seal_key,
            service_name: t.service_name,
            sp_name: t.sp_name,
            sp_code: t.sp_code,
            svc_code: t.svc_code,
            issuers: t.issuers,
            credentials: t
                .credentials
                .into_iter()
                .map(|k| (k.code, k.name))
                .collect(),
            trust_list,
            ttl_secs: t.ttl_secs,
            timeout_ms: t.timeout_ms,
        },
    })
}

/// What the gateway gives this family's builder beyond its settings.
pub struct Wiring {
    pub id: ProviderId,
    pub level: Level,
    /// The gateway's public URL (the wallet calls `{host}/mip/...`).
    pub host: String,
    pub inbox: Arc<dyn Inbox>,
    pub tls_ca_pem: Option<Vec<u8>>,
    /// The demo's config may push over plain http.
    pub allow_plain_http: bool,
}

/// The adapter for checked settings.
pub fn build<S: AsRef<[u8]>>(s: &Settings<S>, w: Wiring) -> Result<Arc<dyn Provider>, String> {
    let sign_key = sp_key(s.sp_key.as_ref()).map_err(|e| format!("sp_key {e}"))?;
    let seal_key = seal_key(s.seal_key.as_ref()).map_err(|e| format!("seal_key {e}"))?;
    let trust = TrustFile::open(s.trust_list.clone())
        .map_err(|e| format!("trust_list `{}`: {e}", s.trust_list.display()))?;
    let config = MobileIdConfig {
        sp: Sp {
            did: s.sp_did.clone(),
            key_id: s.sp_key_id.clone(),
            sign_key,
            seal_key,
            name: s.service_name.clone(),
            sp_name: s.sp_name.clone(),
            sp_code: s.sp_code.clone(),
            svc_code: s.svc_code.clone(),
            issuers: s.issuers.clone(),
            credentials: s.credentials.clone(),
        },
        push_url: s.push_url.clone(),
        mscode: s.mscode.clone(),
        host: w.host,
        ttl_secs: s.ttl_secs,
        timeout_ms: s.timeout_ms,
        allow_plain_http: w.allow_plain_http,
    };
    let adapter = MobileIdAdapter::new(w.id, w.level, config, trust, w.inbox, w.tls_ca_pem)
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(adapter))
}
