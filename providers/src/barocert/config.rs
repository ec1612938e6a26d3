//! A `type = "barocert"` provider section (the broker for Kakao, Naver, PASS
//! and Toss certificates): as written, its rules, and the adapter it builds.
//!
//! Why here and not in the gateway: which products exist and which of them
//! need a call-centre number is the broker's, and changes with the product
//! table and the adapter beside this file; keeping it here makes the family one
//! folder. The gateway keeps what every family shares (secret references,
//! files, positions, CRL), reached through [`Check`].

use super::{BarocertAdapter, BarocertConfig, BarocertProduct, BarocertSecret};
use crate::config::{signer_rules, Check, Checked, Material};
use crate::Provider;
use serde::Deserialize;
use std::sync::Arc;

/// One barocert product as an RP's client. `S` is the gateway's secret
/// reference.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de>"))]
pub struct RawBarocert<S> {
    /// `kakao`, `naver`, `pass` or `toss`.
    pub product: String,
    pub name_ko: String,
    pub name_en: String,
    /// A PNG or SVG file shown beside the name on the chooser (read by
    /// the gateway, which serves it; a text badge without it).
    pub logo: Option<String>,
    /// `low`, `substantial` or `high`.
    pub level: String,
    pub endpoint: String,
    pub auth_endpoint: String,
    pub link_id: String,
    pub client_code: String,
    pub secret_key: S,
    /// PEM file with this provider's own root(s) for its signed results.
    pub roots: String,
    /// PEM file with the CA for the provider's TLS server (https endpoints).
    pub tls_ca: Option<String>,
    pub ttl_secs: Option<u32>,
    pub timeout_ms: Option<u64>,
    /// The RP's customer-service number shown in the app (Naver and PASS require it).
    pub call_center_num: Option<String>,
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
    pub product: BarocertProduct,
    pub config: BarocertConfig,
    /// The RP's secret key (base64; parsed when the adapter is built).
    pub secret_key: S,
}

/// Checks one section, reporting every problem; `None` when it cannot become
/// a provider.
pub fn check<C: Check>(
    b: RawBarocert<C::SecretRef>,
    c: &mut C,
) -> Option<Checked<Settings<C::Secret>, C::Crl>> {
    let id = c.id().to_owned();
    let product = match b.product.as_str() {
        "kakao" => Some(BarocertProduct::Kakao),
        "naver" => Some(BarocertProduct::Naver),
        "pass" => Some(BarocertProduct::Pass),
        "toss" => Some(BarocertProduct::Toss),
        other => {
            c.problem(format!("providers.{id}: barocert product `{other}` is unknown; use `kakao`, `naver`, `pass` or `toss`"));
            None
        }
    };
    if product.is_some_and(|p| p.requires_call_center())
        && b.call_center_num
            .as_deref()
            .is_none_or(|n| n.trim().is_empty())
    {
        c.problem(format!("providers.{id}: product `{}` requires call_center_num (your customer-service number, shown in the app)", b.product));
    }
    let lvl = c.level(&b.level);
    for (u, what) in [
        (&b.endpoint, "endpoint"),
        (&b.auth_endpoint, "auth_endpoint"),
    ] {
        c.url(what, u);
    }
    let secret = c.secret("secret_key", &b.secret_key);
    let roots_pem = c.roots(&b.roots);
    let tls_ca_pem = b.tls_ca.as_deref().and_then(|f| c.file("tls_ca", f));
    let crl = c.crl(b.crl.as_deref(), b.crl_required);
    let signer = signer_rules(
        c,
        &b.required_policies,
        &b.required_eku,
        &b.issuing_ca,
        &b.issuing_ca_sha256,
    );
    let (Some(product), Some(level), Some(secret_key), Some(roots_pem), Some(crl), Some(signer)) =
        (product, lvl, secret, roots_pem, crl, signer)
    else {
        return None;
    };
    Some(Checked {
        name_ko: b.name_ko,
        name_en: b.name_en,
        level,
        roots_pem,
        tls_ca_pem,
        crl,
        signer,
        settings: Settings {
            product,
            config: BarocertConfig {
                endpoint: b.endpoint,
                auth_endpoint: b.auth_endpoint,
                link_id: b.link_id,
                client_code: b.client_code,
                ttl_secs: b.ttl_secs,
                call_center_num: b.call_center_num,
                timeout_ms: b.timeout_ms,
                allow_plain_http: false,
            },
            secret_key,
        },
    })
}

/// The adapter for checked settings. The secret key is parsed before
/// `material` is asked for, so a bad key is the error reported even when the
/// trust is bad too.
pub fn build<S: AsRef<[u8]>>(
    s: &Settings<S>,
    material: impl FnOnce() -> Result<Material, String>,
) -> Result<Arc<dyn Provider>, String> {
    let secret = std::str::from_utf8(s.secret_key.as_ref())
        .map_err(|_| "secret_key is not base64 text".to_owned())
        .and_then(|v| BarocertSecret::from_base64(v).map_err(|e| e.to_string()))?;
    let m = material()?;
    let adapter = BarocertAdapter::new(
        m.id,
        s.product,
        m.level,
        s.config.clone(),
        secret,
        m.anchors,
        m.tls_ca_pem,
    )
    .map_err(|e| e.to_string())?;
    Ok(Arc::new(adapter))
}
