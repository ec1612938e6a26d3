//! `/saml/metadata`: what an SP operator loads to trust this IdP.
//!
//! Built once per config snapshot. During a key rotation the next certificate
//! is listed next to the current one, so SPs that refresh metadata trust both
//! before the switch.

use super::binding::{BINDING_POST, BINDING_REDIRECT};
use super::keys::SamlKeys;
use super::response::{NAMEID_PERSISTENT, NAMEID_TRANSIENT};
use crate::config::model::SamlSettings;
use samael::key_info::{KeyInfo, X509Data};
use samael::metadata::{Endpoint, EntityDescriptor, IdpSsoDescriptor, KeyDescriptor};
use samael::traits::ToXml;

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

/// The IdP metadata document.
pub fn document(
    public_url: &str,
    settings: &SamlSettings,
    keys: &SamlKeys,
) -> Result<String, String> {
    let sso = format!("{public_url}/saml/sso");
    let slo = format!("{public_url}/saml/slo");
    let mut key_descriptors = vec![signing_key(&keys.cert)];
    if let Some(next) = &keys.next_cert {
        key_descriptors.push(signing_key(next));
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
    let ed = EntityDescriptor {
        entity_id: Some(settings.entity_id.clone()),
        idp_sso_descriptors: Some(vec![idp]),
        ..EntityDescriptor::default()
    };
    let xml = ed.to_string().map_err(|e| format!("IdP metadata: {e}"))?;
    Ok(schema_order(&xml))
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
