//! `/saml/metadata`: what an SP operator loads to trust this IdP.
//!
//! Signed (enveloped, with the IdP key) and dated: `validUntil` a week ahead
//! and `cacheDuration` six hours, so an SP or a federation aggregator that
//! refreshes it can tell it is ours and current. Rebuilt and re-signed at
//! most once an hour per replica (one RSA signature), never per request: the
//! endpoint is public. During a key rotation the next certificate is listed
//! next to the current one, so SPs that refresh metadata trust both before
//! the switch. It also names what the IdP releases (`saml:Attribute`) and
//! the scope of its scoped attributes (`shibmd:Scope`, which Shibboleth
//! checks a `pairwise-id` against). Being one document for all SPs, it lists
//! the default attribute profile's names, not each site's.

use super::binding::{BINDING_POST, BINDING_REDIRECT};
use super::keys::SamlKeys;
use super::profile::{AttributeProfile, NAMEFORMAT_URI};
use super::response::{NAMEID_PERSISTENT, NAMEID_TRANSIENT};
use crate::config::model::SamlSettings;
use samael::key_info::{KeyInfo, X509Data};
use samael::metadata::{Endpoint, EntityDescriptor, IdpSsoDescriptor, KeyDescriptor};
use samael::traits::ToXml;
use std::sync::Mutex;

/// How long a signed document is valid (`validUntil`).
const VALID_FOR_SECS: u64 = 7 * 86_400;
/// How long an SP may keep it before asking again (`cacheDuration`).
const CACHE_DURATION: &str = "PT6H";
/// How often a replica re-signs it.
const REBUILD_AFTER_SECS: u64 = 3_600;
const NS_SHIBMD: &str = "urn:mace:shibboleth:metadata:1.0";
const NS_MDATTR_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// The signed document, and when it was made (Unix seconds).
#[derive(Default)]
pub struct Cached(Mutex<Option<(u64, bytes::Bytes)>>);

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cached")
    }
}

impl Cached {
    /// The document signed at most an hour ago, re-signed when older; if
    /// that fails, the last one (logged), which stays valid for a week.
    pub fn current(&self, app: &crate::app::App) -> Option<bytes::Bytes> {
        let now = app.clock.now();
        let mut held = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, doc)) = held.as_ref() {
            if now.saturating_sub(*at) < REBUILD_AFTER_SECS {
                return Some(doc.clone());
            }
        }
        match document(
            &app.config.public_url,
            &app.config.saml,
            &app.saml_keys,
            now,
        ) {
            Ok(doc) => {
                let doc = bytes::Bytes::from(doc);
                *held = Some((now, doc.clone()));
                Some(doc)
            }
            Err(e) => {
                tracing::error!(error = %e, "SAML metadata could not be signed; serving the last one");
                held.as_ref().map(|(_, d)| d.clone())
            }
        }
    }
}

fn endpoint(binding: &str, location: &str) -> Endpoint {
    Endpoint {
        binding: binding.to_owned(),
        location: location.to_owned(),
        response_location: None,
    }
}

fn signing_key(cert: &samael::crypto::CertificateDer) -> KeyDescriptor {
    KeyDescriptor {
        key_use: Some("signing".into()),
        key_info: KeyInfo {
            id: None,
            x509_data: Some(X509Data {
                certificates: vec![
                    samael::crypto::mime_encode_x509_cert(cert).replace(['\r', '\n'], "")
                ],
            }),
        },
        encryption_methods: None,
    }
}

/// The IdP metadata document, signed, valid from `now` (Unix seconds).
pub fn document(
    public_url: &str,
    settings: &SamlSettings,
    keys: &SamlKeys,
    now: u64,
) -> Result<String, String> {
    let sso = format!("{public_url}/saml/sso");
    let slo = format!("{public_url}/saml/slo");
    let mut key_descriptors = vec![signing_key(&keys.cert)];
    if let Some(next) = &keys.next_cert {
        key_descriptors.push(signing_key(next));
    }
    // The P-256 key of the SPs that take ECDSA-SHA256 signatures.
    if let Some(ec) = &keys.ec {
        key_descriptors.push(signing_key(&ec.cert));
    }
    let idp = IdpSsoDescriptor {
        id: None,
        valid_until: None,
        cache_duration: None,
        protocol_support_enumeration: Some("urn:oasis:names:tc:SAML:2.0:protocol".into()),
        error_url: None,
        signature: None,
        key_descriptors,
        organization: None,
        contact_people: Vec::new(),
        artifact_resolution_service: Vec::new(),
        single_logout_services: vec![
            endpoint(BINDING_REDIRECT, &slo),
            endpoint(BINDING_POST, &slo),
        ],
        manage_name_id_services: Vec::new(),
        name_id_formats: vec![NAMEID_PERSISTENT.into(), NAMEID_TRANSIENT.into()],
        want_authn_requests_signed: None,
        single_sign_on_services: vec![
            endpoint(BINDING_REDIRECT, &sso),
            endpoint(BINDING_POST, &sso),
        ],
        name_id_mapping_services: Vec::new(),
        assertion_id_request_services: Vec::new(),
        attribute_profiles: Vec::new(),
        attributes: Vec::new(),
    };
    let until = i64::try_from(now.saturating_add(VALID_FOR_SECS))
        .ok()
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .ok_or("IdP metadata: validUntil out of range")?;
    let id = format!("_md{now}");
    let ed = EntityDescriptor {
        entity_id: Some(settings.entity_id.clone()),
        id: Some(id.clone()),
        valid_until: Some(until),
        cache_duration: Some(CACHE_DURATION.into()),
        idp_sso_descriptors: Some(vec![idp]),
        ..EntityDescriptor::default()
    };
    let xml = ed.to_string().map_err(|e| format!("IdP metadata: {e}"))?;
    // samael leaves the root's ID out; the signature's Reference needs it.
    let xml = if xml.contains(&format!("ID=\"{id}\"")) {
        xml
    } else {
        xml.replacen(
            "<md:EntityDescriptor ",
            &format!("<md:EntityDescriptor ID=\"{id}\" "),
            1,
        )
    };
    let xml = released(&schema_order(&xml), &super::response::scope(public_url))?;
    keys.signer
        .sign_before(&xml, &id, "<md:IDPSSODescriptor")
        .map_err(|e| format!("IdP metadata signature: {e}"))
}

/// Adds to the IDPSSODescriptor, in the schema's places, the scope of the
/// scoped attributes (its `Extensions`, first) and the attributes released
/// (`saml:Attribute`, last).
fn released(xml: &str, scope: &str) -> Result<String, String> {
    let open = xml
        .find("<md:IDPSSODescriptor")
        .and_then(|at| Some(at + xml.get(at..)?.find('>')? + 1))
        .ok_or("IdP metadata: no IDPSSODescriptor")?;
    let close = xml
        .rfind("</md:IDPSSODescriptor>")
        .ok_or("IdP metadata: no IDPSSODescriptor end")?;
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let extensions = format!(
        r#"<md:Extensions><shibmd:Scope xmlns:shibmd="{NS_SHIBMD}" regexp="false">{}</shibmd:Scope></md:Extensions>"#,
        esc(scope)
    );
    let mut attributes = String::new();
    // One document for every SP: the default profile's names (an SP on
    // another profile finds its names in the README's table).
    let all = AttributeProfile::Munjigi
        .namings()
        .map(|n| (n.name, n.name_format, n.friendly_name))
        .chain([(super::response::PAIRWISE_ID, NAMEFORMAT_URI, "pairwise-id")]);
    for (name, format, friendly) in all {
        attributes.push_str(&format!(
            r#"<saml:Attribute xmlns:saml="{NS_MDATTR_ASSERTION}" Name="{}" NameFormat="{}" FriendlyName="{}"></saml:Attribute>"#,
            esc(name),
            esc(format),
            esc(friendly)
        ));
    }
    let (head, rest) = xml.split_at(open);
    let (body, tail) = rest.split_at(close - open);
    Ok(format!("{head}{extensions}{body}{attributes}{tail}"))
}

/// samael writes `NameIDFormat` after `SingleSignOnService`; the metadata
/// schema wants it before. Strict SPs (and xmlsec's schema-aware peers)
/// refuse the other order, so the formats are moved in front.
fn schema_order(xml: &str) -> String {
    let formats: String = xml
        .match_indices("<md:NameIDFormat>")
        .filter_map(|(at, _)| {
            let rest = xml.get(at..)?;
            let end = rest.find("</md:NameIDFormat>")? + "</md:NameIDFormat>".len();
            rest.get(..end)
        })
        .collect();
    let without = xml.replace(&formats, "");
    match without.find("<md:SingleSignOnService") {
        Some(at) => {
            let mut out = without;
            out.insert_str(at, &formats);
            out
        }
        None => xml.to_owned(),
    }
}
