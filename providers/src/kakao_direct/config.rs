//! A `type = "kakao_direct"` provider section: as written, its rules, and the
//! adapter it builds.
//!
//! Why here and not in the gateway: what a Kakao-direct section may say (the
//! API key's shape, the ttl range, an endpoint without a query) is Kakao's, and
//! changes with the adapter; keeping it beside the adapter makes the family one
//! folder. The gateway keeps what every family shares (secret references,
//! files, positions, CRL), reached through [`Check`].
//!
//! Not here: reaching Kakao (the adapter does, at start) or checking the API
//! key against Kakao (only a call can).

use super::{KakaoDirectAdapter, KakaoDirectApiKey, KakaoDirectConfig, MAX_TTL_SECS};
use crate::config::{check_times, signer_rules, Check, Checked, Material};
use crate::Provider;
use serde::Deserialize;
use std::sync::Arc;

/// Kakao's own certification API (cert-sign.kakao.com), REST API key auth.
/// `S` is the gateway's secret reference.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de>"))]
pub struct RawKakaoDirect<S> {
    pub name_ko: String,
    pub name_en: String,
    /// A PNG or SVG file shown beside the name on the chooser (read by
    /// the gateway, which serves it; a text badge without it).
    pub logo: Option<String>,
    /// `low`, `substantial` or `high`.
    pub level: String,
    /// Base URL (`https://cert-sign.kakao.com`); may carry a path prefix.
    pub endpoint: String,
    /// The RP app's REST API key.
    pub api_key: S,
    /// PEM file with Kakao's own root(s) for its signed results.
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
    pub config: KakaoDirectConfig,
    /// The REST API key (checked: visible ASCII, no spaces).
    pub api_key: S,
}

/// Checks one section, reporting every problem; `None` when it cannot become
/// a provider.
pub fn check<C: Check>(
    k: RawKakaoDirect<C::SecretRef>,
    c: &mut C,
) -> Option<Checked<Settings<C::Secret>, C::Crl>> {
    let id = c.id().to_owned();
    let lvl = c.level(&k.level);
    c.url("endpoint", &k.endpoint);
    if k.endpoint.contains('?') {
        c.problem(format!("providers.{id}.endpoint must not have a query"));
    }
    let api_key = c.secret("api_key", &k.api_key).and_then(|s| {
        let usable = std::str::from_utf8(s.as_ref())
            .ok()
            .is_some_and(|v| KakaoDirectApiKey::new(v).is_ok());
        if !usable {
            c.problem(format!(
                "providers.{id}.api_key must be the app's REST API key: visible ASCII, no spaces"
            ));
        }
        usable.then_some(s)
    });
    let roots_pem = c.roots(&k.roots);
    let tls_ca_pem = k.tls_ca.as_deref().and_then(|f| c.file("tls_ca", f));
    check_times(c, k.ttl_secs, MAX_TTL_SECS, k.timeout_ms);
    let crl = c.crl(k.crl.as_deref(), k.crl_required);
    let signer = signer_rules(
        c,
        &k.required_policies,
        &k.required_eku,
        &k.issuing_ca,
        &k.issuing_ca_sha256,
    );
    let (level, api_key, roots_pem, crl, signer) = (lvl?, api_key?, roots_pem?, crl?, signer?);
    Some(Checked {
        name_ko: k.name_ko,
        name_en: k.name_en,
        level,
        roots_pem,
        tls_ca_pem,
        crl,
        signer,
        settings: Settings {
            config: KakaoDirectConfig {
                endpoint: k.endpoint,
                product_code: None,
                ttl_secs: k.ttl_secs,
                timeout_ms: k.timeout_ms,
                allow_plain_http: false,
            },
            api_key,
        },
    })
}

/// The adapter for checked settings. The key is parsed before `material` is
/// asked for, so a bad key is the error reported even when the trust is bad too.
pub fn build<S: AsRef<[u8]>>(
    s: &Settings<S>,
    material: impl FnOnce() -> Result<Material, String>,
) -> Result<Arc<dyn Provider>, String> {
    let key = std::str::from_utf8(s.api_key.as_ref())
        .map_err(|_| "api_key is not text".to_owned())
        .and_then(|k| KakaoDirectApiKey::new(k).map_err(|e| e.to_string()))?;
    let m = material()?;
    let adapter = KakaoDirectAdapter::new(
        m.id,
        m.level,
        s.config.clone(),
        key,
        m.anchors,
        m.tls_ca_pem,
    )
    .map_err(|e| e.to_string())?;
    Ok(Arc::new(adapter))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Level;

    /// A gateway stand-in: secrets are their own value, files do not exist
    /// except `root.pem`, every problem is kept.
    struct Fake(Vec<String>);

    impl Check for Fake {
        type SecretRef = String;
        type Secret = String;
        type Crl = ();
        fn id(&self) -> &str {
            "kd"
        }
        fn problem(&mut self, message: String) {
            self.0.push(message);
        }
        fn level(&mut self, written: &str) -> Option<Level> {
            Level::from_acr(written)
        }
        fn url(&mut self, _field: &str, _url: &str) {}
        fn plain_http(&mut self, field: &str) {
            self.0.push(format!("not the demo: {field}"));
        }
        fn secret(&mut self, _field: &str, secret: &String) -> Option<String> {
            Some(secret.clone())
        }
        fn file(&mut self, field: &str, _rel: &str) -> Option<Vec<u8>> {
            self.0.push(format!("no {field}"));
            None
        }
        fn roots(&mut self, _rel: &str) -> Option<Vec<u8>> {
            Some(b"roots".to_vec())
        }
        fn crl(&mut self, _crl: Option<&str>, _required: Option<bool>) -> Option<Option<()>> {
            Some(None)
        }
    }

    fn section(extra: serde_json::Value) -> Result<RawKakaoDirect<String>, serde_json::Error> {
        let mut v = serde_json::json!({
            "name_ko": "카카오", "name_en": "Kakao", "level": "substantial",
            "endpoint": "https://cert-sign.kakao.com", "api_key": "0123abcd",
            "roots": "root.pem",
        });
        if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            m.extend(e.clone());
        }
        serde_json::from_value(v)
    }

    #[test]
    fn the_family_rules_need_no_gateway() {
        let mut c = Fake(Vec::new());
        let ok = section(serde_json::json!({ "ttl_secs": 300 })).unwrap();
        let checked = check(ok, &mut c).unwrap();
        assert!(c.0.is_empty(), "{:?}", c.0);
        assert_eq!(checked.settings.config.ttl_secs, Some(300));
        assert_eq!(checked.level, Level::Substantial);

        let bad = section(serde_json::json!({
            "api_key": "has space", "ttl_secs": 5000, "timeout_ms": 0,
            "endpoint": "https://cert-sign.kakao.com/?x=1",
        }))
        .unwrap();
        assert!(check(bad, &mut c).is_none());
        assert_eq!(
            c.0,
            [
                "providers.kd.endpoint must not have a query",
                "providers.kd.api_key must be the app's REST API key: visible ASCII, no spaces",
                "providers.kd.ttl_secs must be between 1 and 1000",
                "providers.kd.timeout_ms must be above zero",
            ]
        );

        let e = section(serde_json::json!({ "colour": "x" })).unwrap_err();
        assert!(e.to_string().contains("unknown field `colour`"), "{e}");
    }
}
