//! Validation of `[signers]` and `[signers.providers.X]`: what a person
//! signing with another certificate than last time means (`crate::signers`).
//!
//! A typo must not silently keep the lenient default where an operator asked
//! for refusals, so an unknown value or provider is an error, not ignored.

use super::Report;
use crate::config::model::{OnSignerChange, SignerSettings};
use crate::config::raw::RawSigners;
use std::collections::HashSet;
use std::time::Duration;
use toml::Spanned;

/// Shortest and longest memory, days: a certificate lives up to three years;
/// beyond about two renewals, remembering proves nothing more.
const REMEMBER_DAYS: std::ops::RangeInclusive<u64> = 1..=1_200;

fn on_change(r: &mut Report<'_>, at: &str, v: &Spanned<String>) -> Option<OnSignerChange> {
    match v.get_ref().as_str() {
        "log" => Some(OnSignerChange::Log),
        "refuse" => Some(OnSignerChange::Refuse),
        other => {
            r.at(
                v.span(),
                format!("{at} `{other}` must be \"log\" or \"refuse\""),
            );
            None
        }
    }
}

/// `[signers]`, checked; the defaults without it. `can_confirm`: an admin
/// listener with a token exists, so a refused change can be confirmed.
pub fn settings(
    r: &mut Report<'_>,
    raw: Option<Spanned<RawSigners>>,
    known: &HashSet<String>,
    can_confirm: bool,
) -> SignerSettings {
    let mut out = SignerSettings::default();
    let Some(raw) = raw else {
        return out;
    };
    let span = raw.span();
    let raw = raw.into_inner();
    if let Some(v) = raw.on_change.as_ref() {
        if let Some(c) = on_change(r, "signers.on_change", v) {
            out.on_change = c;
        }
    }
    if let Some(v) = raw.remember_days.as_ref() {
        if REMEMBER_DAYS.contains(v.get_ref()) {
            out.remember = Duration::from_secs(v.get_ref() * 86_400);
        } else {
            r.at(
                v.span(),
                format!(
                    "signers.remember_days must be between {} and {}",
                    REMEMBER_DAYS.start(),
                    REMEMBER_DAYS.end()
                ),
            );
        }
    }
    for (id, p) in raw.providers {
        let span = p.span();
        let at = format!("signers.providers.{id}");
        if !known.contains(&id) {
            r.at(span, format!("{at}: no provider `{id}` is configured"));
            continue;
        }
        if let Some(c) = on_change(r, &format!("{at}.on_change"), &p.get_ref().on_change) {
            out.providers.insert(id, c);
        }
    }
    // Refusing without a way to confirm would lock out everyone who renews a
    // certificate until the memory expires.
    let refuses = out.on_change == OnSignerChange::Refuse
        || out.providers.values().any(|c| *c == OnSignerChange::Refuse);
    if refuses && !can_confirm {
        r.at(
            span,
            "signers: on_change = \"refuse\" needs [admin] listen and token, where an operator confirms a person's new certificate",
        );
    }
    out
}
