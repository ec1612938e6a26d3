//! A registered SP, read from its own metadata file.
//!
//! Everything the IdP trusts about an SP comes from here and nowhere else:
//! where responses may go (ACS endpoints, matched exactly), which keys sign its
//! requests (never a KeyInfo inside a message), the key its assertions are
//! encrypted to, and whether it signs its requests. An operator registers an
//! SP by dropping its metadata file into the config, as with Shibboleth or
//! SimpleSAMLphp.

use super::binding::{BINDING_POST, BINDING_REDIRECT};
use samael::crypto::CertificateDer;
use samael::metadata::{EntityDescriptor, KeyDescriptor};

#[derive(Debug, Clone)]
pub struct Acs {
    pub index: usize,
    pub url: String,
    pub is_default: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct Slo {
    pub binding: &'static str,
    pub url: String,
    pub response_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ServiceProvider {
    pub entity_id: String,
    /// HTTP-POST ACS endpoints only (the Web SSO profile forbids Redirect for
    /// responses; Artifact is not offered).
    pub acs: Vec<Acs>,
    pub slo: Vec<Slo>,
    pub signing_keys: Vec<CertificateDer>,
    pub encryption_key: Option<CertificateDer>,
    pub authn_requests_signed: bool,
    pub want_assertions_signed: bool,
}

impl ServiceProvider {
    /// Parses SP metadata (an `EntityDescriptor` with one `SPSSODescriptor`).
    pub fn from_metadata(xml: &str) -> Result<Self, String> {
        if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
            return Err("metadata must not contain a DTD".into());
        }
        let ed: EntityDescriptor = xml.parse().map_err(|e| format!("not SAML metadata: {e}"))?;
        let entity_id = ed
            .entity_id
            .clone()
            .filter(|e| !e.is_empty())
            .ok_or("metadata has no entityID")?;
        let sp = match ed.sp_sso_descriptors.as_deref() {
            Some([one]) => one,
            Some([]) | None => return Err("metadata has no SPSSODescriptor".into()),
            Some(_) => return Err("metadata has more than one SPSSODescriptor".into()),
        };
        let acs: Vec<Acs> = sp
            .assertion_consumer_services
            .iter()
            .filter(|e| e.binding == BINDING_POST)
            .map(|e| Acs {
                index: e.index,
                url: e.location.clone(),
                is_default: e.is_default,
            })
            .collect();
        if acs.is_empty() {
            return Err(
                "metadata has no AssertionConsumerService with the HTTP-POST binding".into(),
            );
        }
        for a in &acs {
            check_endpoint(&a.url)?;
        }
        let mut indexes: Vec<usize> = acs.iter().map(|a| a.index).collect();
        indexes.sort_unstable();
        if indexes.windows(2).any(|w| matches!(w, [a, b] if a == b)) {
            return Err("two AssertionConsumerService endpoints share an index".into());
        }
        let mut slo = Vec::new();
        for e in sp.single_logout_services.iter().flatten() {
            let binding = match e.binding.as_str() {
                BINDING_REDIRECT => BINDING_REDIRECT,
                BINDING_POST => BINDING_POST,
                _ => continue,
            };
            check_endpoint(&e.location)?;
            if let Some(r) = &e.response_location {
                check_endpoint(r)?;
            }
            slo.push(Slo {
                binding,
                url: e.location.clone(),
                response_url: e.response_location.clone(),
            });
        }
        let keys = sp.key_descriptors.as_deref().unwrap_or_default();
        let signing_keys = certs(keys, "signing")?;
        // Assertions are encrypted with RSA-OAEP: only an RSA key will do. A
        // KeyDescriptor without `use` that holds an EC key signs only.
        let encryption_key = certs(keys, "encryption")?.into_iter().find(|c| {
            openssl::x509::X509::from_der(c.der_data())
                .and_then(|x| x.public_key())
                .is_ok_and(|k| k.rsa().is_ok())
        });
        let explicit = keys
            .iter()
            .any(|k| k.key_use.as_deref() == Some("encryption"));
        if explicit && encryption_key.is_none() {
            return Err("the encryption certificate must hold an RSA key (RSA-OAEP)".into());
        }
        Ok(Self {
            entity_id,
            acs,
            slo,
            signing_keys,
            encryption_key,
            authn_requests_signed: sp.authn_requests_signed.unwrap_or(false),
            want_assertions_signed: sp.want_assertions_signed.unwrap_or(false),
        })
    }

    /// The default ACS (SAML metadata §2.2.3): `isDefault="true"`, else the
    /// first not marked false, else the first.
    pub fn default_acs(&self) -> Option<&Acs> {
        self.acs
            .iter()
            .find(|a| a.is_default == Some(true))
            .or_else(|| self.acs.iter().find(|a| a.is_default.is_none()))
            .or_else(|| self.acs.first())
    }

    pub fn acs_by_index(&self, index: usize) -> Option<&Acs> {
        self.acs.iter().find(|a| a.index == index)
    }

    /// Exact, case-sensitive match: no prefix, no normalisation.
    pub fn acs_by_url(&self, url: &str) -> Option<&Acs> {
        self.acs.iter().find(|a| a.url == url)
    }

    /// Where a LogoutResponse or LogoutRequest goes, preferring `binding`.
    pub fn slo_endpoint(&self, binding: &str) -> Option<&Slo> {
        self.slo
            .iter()
            .find(|s| s.binding == binding)
            .or_else(|| self.slo.first())
    }
}

/// The config's one URL rule ([`munjigi_providers::url_rule`]): https, or
/// http on a loopback host as a browser's parser reads it (never on the
/// text: `http://127.0.0.1:1@evil.example/acs` is evil.example); no userinfo,
/// a canonical host, no fragment. The browser is sent to this URL.
fn check_endpoint(url: &str) -> Result<(), String> {
    munjigi_providers::url_rule::check(url, munjigi_providers::url_rule::PlainHttp::LoopbackOnly)
        .map(|_| ())
        .map_err(|e| format!("endpoint {e}"))
}

#[cfg(test)]
#[test]
fn sp_endpoints_are_https_or_loopback_by_the_parsed_host() {
    for ok in [
        "https://sp.example/acs",
        "http://127.0.0.1:8000/acs",
        "http://[::1]/acs",
        "http://localhost/acs",
    ] {
        assert!(check_endpoint(ok).is_ok(), "{ok}");
    }
    for bad in [
        "http://127.0.0.1:1@evil.example/acs",
        "http://[::1]@evil.example/acs",
        "http://localhost.evil.example/acs",
        "http://127.0.0.1.evil.example/acs",
        "https://user:pw@sp.example/acs",
        "http://sp.example/acs",
        "javascript:alert(1)",
    ] {
        assert!(check_endpoint(bad).is_err(), "{bad}");
    }
}

/// Certificates for `usage`; a KeyDescriptor without `use` serves both.
fn certs(keys: &[KeyDescriptor], usage: &str) -> Result<Vec<CertificateDer>, String> {
    let mut out = Vec::new();
    for k in keys {
        if k.key_use.as_deref().is_some_and(|u| u != usage) {
            continue;
        }
        for c in k.key_info.x509_data.iter().flat_map(|d| &d.certificates) {
            let der = samael::crypto::decode_x509_cert(c)
                .map_err(|_| format!("a {usage} certificate is not base64"))?;
            openssl::x509::X509::from_der(der.der_data())
                .map_err(|e| format!("a {usage} certificate is not X.509: {e}"))?;
            out.push(der);
        }
    }
    Ok(out)
}
