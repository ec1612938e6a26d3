//! `[audit]`, and `[signing] audit_log`, its older name: one audit log per
//! process, so signing and logins write one chain.
//!
//! The older key keeps working when `[audit]` is absent; both naming
//! different files is refused rather than guessed (which file would an
//! operator verify?). Signing without an audit log is refused: a receipt is
//! released only after its event is written.

use super::{RawAudit, Report};
use crate::config::model::{AuditSettings, OnFailure};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// Seconds between checkpoints when `checkpoint_secs` is not given.
pub const DEFAULT_CHECKPOINT_SECS: u64 = 60;
/// Longest `checkpoint_secs`: a day (the window a cut tail can hide in).
const MAX_CHECKPOINT_SECS: u64 = 86_400;

/// What `[signing]` says about the audit log: its span (for "signing needs
/// an audit log") and its `audit_log`, if written.
pub struct FromSigning {
    pub span: Range<usize>,
    pub audit_log: Option<Spanned<String>>,
}

pub fn settings(
    r: &mut Report<'_>,
    base: &Path,
    raw: Option<Spanned<RawAudit>>,
    signing: Option<FromSigning>,
) -> Option<AuditSettings> {
    let alias = signing.as_ref().and_then(|s| s.audit_log.as_ref());
    let Some(raw) = raw else {
        return match (alias, &signing) {
            (Some(path), _) => Some(AuditSettings {
                path: base.join(path.get_ref()),
                on_failure: OnFailure::Refuse,
                checkpoint_every: Duration::from_secs(DEFAULT_CHECKPOINT_SECS),
            }),
            (None, Some(s)) => {
                r.at(
                    s.span.clone(),
                    "signing needs an audit log: add an [audit] section with `path` \
                     (receipts are released only after their event is written)",
                );
                None
            }
            (None, None) => None,
        };
    };
    let a = raw.into_inner();
    let path = base.join(a.path.get_ref());
    if a.path.get_ref().trim().is_empty() {
        r.at(a.path.span(), "audit.path must name a file");
    }
    if let Some(old) = alias {
        if base.join(old.get_ref()) != path {
            r.at(
                old.span(),
                format!(
                    "signing.audit_log `{}` differs from audit.path `{}`: there is one audit log; \
                     remove signing.audit_log",
                    old.get_ref(),
                    a.path.get_ref()
                ),
            );
        }
    }
    let on_failure = match a.on_failure.as_ref().map(|v| (v.get_ref().as_str(), v)) {
        None | Some(("refuse", _)) => OnFailure::Refuse,
        Some(("log", _)) => OnFailure::Log,
        Some((other, v)) => {
            r.at(
                v.span(),
                format!("audit.on_failure `{other}` must be \"refuse\" or \"log\""),
            );
            OnFailure::Refuse
        }
    };
    let checkpoint_secs = match &a.checkpoint_secs {
        None => DEFAULT_CHECKPOINT_SECS,
        Some(v) if (1..=MAX_CHECKPOINT_SECS).contains(v.get_ref()) => *v.get_ref(),
        Some(v) => {
            r.at(
                v.span(),
                format!("audit.checkpoint_secs must be between 1 and {MAX_CHECKPOINT_SECS}"),
            );
            DEFAULT_CHECKPOINT_SECS
        }
    };
    Some(AuditSettings {
        path,
        on_failure,
        checkpoint_every: Duration::from_secs(checkpoint_secs),
    })
}
