//! Validation of `[saml]` and `[sites.X.saml]`.
//!
//! An SP is registered from its own metadata file, read and checked here so a
//! bad file stops the config (and a reload) with its path and the reason,
//! rather than surfacing as a refused login later. Or from a URL
//! (`metadata_url`, often a federation's aggregate), which is never fetched
//! here: a start or a reload must not fail because a federation's server is
//! down. Only what can be known now is checked: the URL by the config's one
//! URL rule, `metadata_signer` a readable certificate, `entity_id` present,
//! and one signer per URL (it is fetched once for every site naming it).

use super::{check_url, read_file, Report};
use crate::config::model::{MetadataUrl, SamlSettings, SamlSite, SpMetadata};
use crate::config::raw::{RawSaml, RawSiteSaml};
use crate::saml::dsig::SigAlg;
use crate::saml::profile::AttributeProfile;
use crate::saml::sp::ServiceProvider;
use std::collections::HashMap;
use std::ops::Range;
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

/// The sites that fetch each `metadata_url` so far, and the signer it was
/// given: one URL is fetched once, so it has one signer.
pub(super) type MetadataUrls = HashMap<String, (samael::crypto::CertificateDer, String)>;

pub(super) fn site(
    r: &mut Report<'_>,
    base: &Path,
    id: &str,
    span: Range<usize>,
    raw: Option<RawSiteSaml>,
    sps: &mut HashMap<String, String>,
    urls: &mut MetadataUrls,
) -> Option<SamlSite> {
    let raw = raw?;
    let scope = match &raw.scope {
        None => "openid profile".to_owned(),
        Some(s) => match munjigi_policy::Scopes::parse(&format!("openid {}", s.get_ref())) {
            Ok(parsed) => parsed.as_str(),
            Err(e) => {
                r.at(s.span(), format!("sites.{id}.saml.scope: {e}"));
                return None;
            }
        },
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
    let signature_algorithm = match &raw.signature_algorithm {
        None => SigAlg::default(),
        Some(a) => SigAlg::parse(a.get_ref()).unwrap_or_else(|| {
            r.at(
                a.span(),
                format!(
                    "sites.{id}.saml.signature_algorithm: unknown algorithm `{}`; use \"rsa-sha256\" (the default) or \"ecdsa-sha256\"",
                    a.get_ref().escape_debug()
                ),
            );
            SigAlg::default()
        }),
    };
    let mut site = SamlSite {
        metadata: SpMetadata::Url(MetadataUrl {
            url: String::new(),
            signer: Vec::new().into(),
            entity_id: String::new(),
        }),
        sign_response: raw.sign_response,
        require_signed_requests: raw.require_signed_requests,
        idp_initiated: raw.idp_initiated,
        scope,
        encrypt_assertions: raw.encrypt_assertions,
        allow_sha1_digest: raw.allow_sha1_digest,
        attribute_profile,
        signature_algorithm,
    };
    let (entity_id, at) = match (&raw.metadata, &raw.metadata_url) {
        (Some(file), None) => {
            for (key, given) in [
                ("metadata_signer", &raw.metadata_signer),
                ("entity_id", &raw.entity_id),
            ] {
                if let Some(k) = given {
                    r.at(
                        k.span(),
                        format!("sites.{id}.saml.{key} goes with metadata_url (a metadata file names its entityID and is not signed)"),
                    );
                }
            }
            let sp = from_file(r, base, id, file)?;
            if let Some(why) = site.unfit(&sp) {
                r.at(file.span(), format!("sites.{id}.saml: {why}"));
            }
            site.encrypt_assertions = Some(
                site.encrypt_assertions
                    .unwrap_or(sp.encryption_key.is_some()),
            );
            let entity_id = sp.entity_id.clone();
            site.metadata = SpMetadata::File(Arc::new(sp));
            (entity_id, file.span())
        }
        (None, Some(url)) => {
            let remote = from_url(r, base, id, url, &raw, urls)?;
            let entity_id = remote.entity_id.clone();
            site.metadata = SpMetadata::Url(remote);
            (entity_id, url.span())
        }
        (Some(file), Some(_)) => {
            r.at(
                file.span(),
                format!("sites.{id}.saml: metadata (a file) and metadata_url exclude each other"),
            );
            return None;
        }
        (None, None) => {
            r.at(
                span,
                format!("sites.{id}.saml needs metadata (the SP's metadata file) or metadata_url"),
            );
            return None;
        }
    };
    if sps.insert(entity_id.clone(), id.to_owned()).is_some() {
        r.at(
            at,
            format!("SP entityID `{entity_id}` is registered by two sites"),
        );
    }
    Some(site)
}

/// An SP's own metadata file, read and checked now.
fn from_file(
    r: &mut Report<'_>,
    base: &Path,
    id: &str,
    file: &Spanned<String>,
) -> Option<ServiceProvider> {
    let bytes = read_file(r, base, file.span(), file.get_ref(), "SP metadata")?;
    let Ok(text) = String::from_utf8(bytes) else {
        r.at(
            file.span(),
            format!("sites.{id}.saml.metadata is not UTF-8"),
        );
        return None;
    };
    let sp = match ServiceProvider::from_metadata(&text) {
        Ok(sp) => sp,
        Err(e) => {
            r.at(file.span(), format!("sites.{id}.saml.metadata: {e}"));
            return None;
        }
    };
    let slo_urls = sp
        .slo
        .iter()
        .flat_map(|s| std::iter::once(&s.url).chain(s.response_url.as_ref()));
    for url in sp.acs.iter().map(|a| &a.url).chain(slo_urls) {
        if let Err(e) = check_url(url) {
            r.at(file.span(), format!("sites.{id}.saml.metadata: {e}"));
        }
    }
    Some(sp)
}

/// `metadata_url` with its `metadata_signer` and `entity_id`. Nothing is
/// fetched here: a URL that is down must not stop a start or a reload.
fn from_url(
    r: &mut Report<'_>,
    base: &Path,
    id: &str,
    url: &Spanned<String>,
    raw: &RawSiteSaml,
    urls: &mut MetadataUrls,
) -> Option<MetadataUrl> {
    let mut ok = true;
    if let Err(e) = check_url(url.get_ref()) {
        r.at(url.span(), format!("sites.{id}.saml.metadata_url: {e}"));
        ok = false;
    }
    let signer = match &raw.metadata_signer {
        None => {
            r.at(
                url.span(),
                format!("sites.{id}.saml.metadata_url needs metadata_signer: the PEM certificate of the key that signs what the URL serves (the federation's metadata signing certificate)"),
            );
            None
        }
        Some(file) => signer(r, base, id, file),
    };
    let entity_id = match &raw.entity_id {
        None => {
            r.at(
                url.span(),
                format!("sites.{id}.saml.metadata_url needs entity_id: the entityID of the SP's EntityDescriptor in what the URL serves"),
            );
            None
        }
        Some(e)
            if e.get_ref().is_empty()
                || e.get_ref().len() > 1024
                || e.get_ref().chars().any(char::is_control) =>
        {
            r.at(
                e.span(),
                format!("sites.{id}.saml.entity_id must be 1 to 1024 characters, none of them a control character"),
            );
            None
        }
        Some(e) => Some(e.get_ref().clone()),
    };
    let (signer, entity_id) = (signer?, entity_id?);
    if !ok {
        return None;
    }
    match urls.get(url.get_ref()) {
        Some((other, first)) if *other != signer => {
            r.at(
                raw.metadata_signer.as_ref().map_or(url.span(), Spanned::span),
                format!("sites.{id}.saml.metadata_signer differs from sites.{first}'s for the same metadata_url (the URL is fetched once: give both sites the same certificate)"),
            );
            return None;
        }
        Some(_) => {}
        None => {
            urls.insert(url.get_ref().clone(), (signer.clone(), id.to_owned()));
        }
    }
    Some(MetadataUrl {
        url: url.get_ref().clone(),
        signer,
        entity_id,
    })
}

/// `metadata_signer`: one PEM certificate, readable now. Its dates are not
/// checked: a federation's signing certificate only carries a pinned key.
fn signer(
    r: &mut Report<'_>,
    base: &Path,
    id: &str,
    file: &Spanned<String>,
) -> Option<samael::crypto::CertificateDer> {
    let what = format!("sites.{id}.saml.metadata_signer");
    let bytes = read_file(r, base, file.span(), file.get_ref(), &what)?;
    let certs = openssl::x509::X509::stack_from_pem(&bytes).unwrap_or_default();
    let der = match certs.as_slice() {
        [one] => one.to_der().ok(),
        _ => None,
    };
    let usable = der.as_ref().is_some_and(|_| {
        certs
            .first()
            .and_then(|c| c.public_key().ok())
            .is_some_and(|k| k.rsa().is_ok() || k.ec_key().is_ok())
    });
    match der {
        Some(der) if usable => Some(der.into()),
        _ => {
            r.at(
                file.span(),
                format!("sites.{id}.saml.metadata_signer `{}` must hold exactly one PEM certificate with an RSA or EC key", file.get_ref()),
            );
            None
        }
    }
}
