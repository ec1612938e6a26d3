//! Validation of `[saml]` and `[sites.X.saml]`.
//!
//! An SP is registered from its own metadata file, read and checked here so a
//! bad file stops the config (and a reload) with its path and the reason,
//! rather than surfacing as a refused login later.

use super::{check_url, read_file, Report};
use crate::config::model::{SamlSettings, SamlSite};
use crate::config::raw::{RawSaml, RawSiteSaml};
use crate::saml::profile::AttributeProfile;
use crate::saml::sp::ServiceProvider;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;

pub(super) fn settings(
    r: &mut Report<'_>,
    public_url: &str,
    raw: Option<Spanned<RawSaml>>,
) -> SamlSettings {
    let mut out = SamlSettings {
        entity_id: format!("{public_url}/saml/metadata"),
        assertion_lifetime: Duration::from_secs(300),
    };
    let Some(raw) = raw else { return out };
    let raw = raw.into_inner();
    if let Some(e) = raw.entity_id {
        if e.get_ref().is_empty() || e.get_ref().len() > 1024 {
            r.at(e.span(), "saml.entity_id must be 1 to 1024 characters");
        } else {
            out.entity_id = e.into_inner();
        }
    }
    if let Some(l) = raw.assertion_lifetime_secs {
        if (30..=3600).contains(l.get_ref()) {
            out.assertion_lifetime = Duration::from_secs(*l.get_ref());
        } else {
            r.at(
                l.span(),
                "saml.assertion_lifetime_secs must be between 30 and 3600",
            );
        }
    }
    out
}

pub(super) fn site(
    r: &mut Report<'_>,
    base: &Path,
    id: &str,
    raw: Option<RawSiteSaml>,
    sps: &mut HashMap<String, String>,
) -> Option<SamlSite> {
    let raw = raw?;
    let bytes = read_file(
        r,
        base,
        raw.metadata.span(),
        raw.metadata.get_ref(),
        "SP metadata",
    )?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) => {
            r.at(
                raw.metadata.span(),
                format!("sites.{id}.saml.metadata is not UTF-8"),
            );
            return None;
        }
    };
    let sp = match ServiceProvider::from_metadata(&text) {
        Ok(sp) => sp,
        Err(e) => {
            r.at(
                raw.metadata.span(),
                format!("sites.{id}.saml.metadata: {e}"),
            );
            return None;
        }
    };
    let slo_urls = sp
        .slo
        .iter()
        .flat_map(|s| std::iter::once(&s.url).chain(s.response_url.as_ref()));
    for url in sp.acs.iter().map(|a| &a.url).chain(slo_urls) {
        if let Err(e) = check_url(url) {
            r.at(
                raw.metadata.span(),
                format!("sites.{id}.saml.metadata: {e}"),
            );
        }
    }
    if sps.insert(sp.entity_id.clone(), id.to_owned()).is_some() {
        r.at(
            raw.metadata.span(),
            format!("SP entityID `{}` is registered by two sites", sp.entity_id),
        );
    }
    let needs_keys = sp.authn_requests_signed || raw.require_signed_requests;
    if needs_keys && sp.signing_keys.is_empty() {
        r.at(
            raw.metadata.span(),
            format!("sites.{id}.saml: signed requests are required but the metadata has no signing certificate"),
        );
    }
    let scope = match raw.scope {
        None => "openid profile".to_owned(),
        Some(s) => match munjigi_policy::Scopes::parse(&format!("openid {}", s.get_ref())) {
            Ok(parsed) => parsed.as_str(),
            Err(e) => {
                r.at(s.span(), format!("sites.{id}.saml.scope: {e}"));
                return None;
            }
        },
    };
    let encrypt_assertions = match raw.encrypt_assertions {
        Some(true) if sp.encryption_key.is_none() => {
            r.at(
                raw.metadata.span(),
                format!("sites.{id}.saml.encrypt_assertions needs an encryption certificate in the metadata"),
            );
            false
        }
        Some(v) => v,
        None => sp.encryption_key.is_some(),
    };
    let attribute_profile = match &raw.attribute_profile {
        None => AttributeProfile::default(),
        Some(p) => match AttributeProfile::parse(p.get_ref()) {
            Some(profile) => profile,
            None => {
                r.at(
                    p.span(),
                    format!(
                        "sites.{id}.saml.attribute_profile: unknown profile `{}`; use \"munjigi\" (the default), \"oid\" or \"basic\"",
                        p.get_ref().escape_debug()
                    ),
                );
                AttributeProfile::default()
            }
        },
    };
    Some(SamlSite {
        sp: Arc::new(sp),
        sign_response: raw.sign_response,
        require_signed_requests: raw.require_signed_requests,
        idp_initiated: raw.idp_initiated,
        scope,
        encrypt_assertions,
        allow_sha1_digest: raw.allow_sha1_digest,
        attribute_profile,
    })
}
