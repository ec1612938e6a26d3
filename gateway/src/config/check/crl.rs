//! Validation of a provider's `crl` / `crl_required` keys: where its published
//! CRL is mirrored, and whether a login must be refused without a current one.
//!
//! The file may not exist yet when the config is checked (a CRL mirror, or the
//! simulator, writes it later), so only a file that exists is parsed here; the
//! adapter re-reads it whenever it changes.
//!
//! Not here: fetching CRLs over HTTP (not supported) or checking signatures
//! (the CRL's issuer is known only per result).

use super::{Range, Report};
use crate::config::model::CrlSettings;
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
                format!("providers.{id}: crl_required = true needs crl (the CRL file)"),
            );
            return None;
        }
        return Some(None);
    };
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
        path,
        required: required.unwrap_or(false),
    }))
}
