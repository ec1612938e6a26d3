//! Validation of a provider's `crl` / `crl_required` keys (every provider
//! family): where its published CRL comes from, and whether a login must be
//! refused without a current one.
//!
//! `crl` is a URL when it starts with `https://` or `http://` (plain http only
//! on loopback, as for every other URL in the config), fetched by the adapter
//! in the background; otherwise a file, resolved against the config's folder.
//! The file may not exist yet when the config is checked (a CRL mirror, or the
//! simulator, writes it later), so only a file that exists is parsed here; the
//! adapter re-reads it whenever it changes. A URL is not fetched here.
//!
//! Not here: fetching, caching or checking signatures (the CRL's issuer is
//! known only per result): see `munjigi_providers::cms::revocation`.

use super::{Range, Report};
use crate::config::model::{CrlSettings, CrlSource};
use std::path::Path;

/// `None` when the keys are inconsistent (reported); `Some(None)` when no CRL is
/// configured.
pub(super) fn build(
    r: &mut Report<'_>,
    base: &Path,
    id: &str,
    span: Range<usize>,
    crl: Option<&str>,
    required: Option<bool>,
) -> Option<Option<CrlSettings>> {
    let Some(rel) = crl else {
        if required == Some(true) {
            r.at(
                span,
                format!("providers.{id}: crl_required = true needs crl (the CRL file or URL)"),
            );
            return None;
        }
        return Some(None);
    };
    let required = required.unwrap_or(false);
    if rel.starts_with("https://") || rel.starts_with("http://") {
        if let Err(e) = super::check_url(rel, false) {
            r.at(span, format!("providers.{id}.crl: {e}"));
            return None;
        }
        return Some(Some(CrlSettings {
            source: CrlSource::Url(rel.to_owned()),
            required,
        }));
    }
    let path = base.join(rel);
    if path.exists() {
        match std::fs::read(&path) {
            Ok(bytes) => {
                if let Err(e) = munjigi_providers::cms::parse_crls(&bytes) {
                    r.at(span, format!("providers.{id}.crl `{rel}`: {e}"));
                    return None;
                }
            }
            Err(e) => {
                r.at(
                    span,
                    format!("cannot read providers.{id}.crl `{}`: {e}", path.display()),
                );
                return None;
            }
        }
    }
    Some(Some(CrlSettings {
        source: CrlSource::File(path),
        required,
    }))
}
