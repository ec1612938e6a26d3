//! Validation of a provider's `crl` / `crl_required` keys (every provider
//! family): where its published CRL comes from, and whether a login must be
//! refused without a current one.
//!
//! Revocation is on unless an operator says otherwise: with `crl`,
//! `crl_required` defaults to true (a result is refused while no current CRL
//! covers each certificate of its chain). Outside the demo (a config without
//! `[demo]`) a provider without `crl` is an error: a national login that never
//! learns of a revoked certificate would keep logging its thief in. An operator
//! who means it writes `crl_required = false` (the gateway logs a warning for
//! that provider at every start and reload). The demo may leave `crl` out.
//!
//! `crl` is a URL when it has a scheme (`…://`), checked by the config's one
//! URL rule as every provider endpoint is (https, or plain http only on
//! loopback; see `munjigi_providers::url_rule`), fetched by the adapter
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
    demo: bool,
) -> Option<Option<CrlSettings>> {
    let Some(rel) = crl else {
        match required {
            Some(true) => {
                r.at(
                    span,
                    format!("providers.{id}: crl_required = true needs crl (the CRL file or URL)"),
                );
                return None;
            }
            None if !demo => {
                r.at(
                    span,
                    format!(
                        "providers.{id}: no crl: outside the demo every provider needs its CRL \
                         (crl = \"FILE\" or \"https://URL\"); write crl_required = false to run \
                         it without revocation checks"
                    ),
                );
                return None;
            }
            _ => return Some(None),
        }
    };
    let required = required.unwrap_or(true);
    // Anything with a scheme is a URL, checked by the config's one URL rule
    // (the same as every provider endpoint): `ftp://…` or `HTTP://…` is
    // refused, not read as a file name.
    if rel.contains("://") {
        if let Err(e) = super::check_url(rel) {
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
