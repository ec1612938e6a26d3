//! Validation of `[health]` and `[health.providers.X]`: the thresholds of the
//! provider circuits (`crate::circuit`) and the operator's overrides.
//!
//! Bounds keep a typo from disabling the circuit (a ratio above 1 never opens
//! it) or from making it flap (a one-second window on a one-call minimum).
//! A reason is shown to citizens on the chooser, so it is short plain text.

use super::Report;
use crate::circuit::{Force, Thresholds};
use crate::config::model::{HealthSettings, ProviderHealth};
use crate::config::raw::RawHealth;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use toml::Spanned;

/// The longest reason the chooser shows for a provider forced off.
const REASON_MAX_CHARS: usize = 80;

fn bounded(
    r: &mut Report<'_>,
    at: &str,
    v: &Option<Spanned<u64>>,
    lo: u64,
    hi: u64,
) -> Option<u64> {
    let v = v.as_ref()?;
    if (lo..=hi).contains(v.get_ref()) {
        Some(*v.get_ref())
    } else {
        r.at(v.span(), format!("{at} must be between {lo} and {hi}"));
        None
    }
}

fn ratio(r: &mut Report<'_>, at: &str, v: &Option<Spanned<f64>>) -> Option<f64> {
    let v = v.as_ref()?;
    let x = *v.get_ref();
    if x > 0.0 && x <= 1.0 {
        Some(x)
    } else {
        r.at(
            v.span(),
            format!("{at} must be above 0 and at most 1 (the share of failed calls that opens the circuit)"),
        );
        None
    }
}

fn to_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn reason(r: &mut Report<'_>, at: &str, v: &Option<Spanned<String>>) -> String {
    let Some(v) = v else {
        return String::new();
    };
    let text = v.get_ref().trim();
    if text.is_empty()
        || text.chars().count() > REASON_MAX_CHARS
        || text.chars().any(char::is_control)
    {
        r.at(
            v.span(),
            format!("{at} must be one line of 1 to {REASON_MAX_CHARS} characters (citizens read it on the chooser)"),
        );
        return String::new();
    }
    text.to_owned()
}

/// `[health]`, checked; the defaults without it.
pub fn settings(
    r: &mut Report<'_>,
    raw: Option<Spanned<RawHealth>>,
    known: &HashSet<String>,
) -> HealthSettings {
    let Some(raw) = raw else {
        return HealthSettings::default();
    };
    let raw = raw.into_inner();
    let base = Thresholds::default();
    let mut defaults = base;
    if let Some(v) = bounded(r, "health.window_secs", &raw.window_secs, 5, 3_600) {
        defaults.window = Duration::from_secs(v);
    }
    if let Some(v) = bounded(r, "health.min_calls", &raw.min_calls, 1, 100_000) {
        defaults.min_calls = to_u32(v);
    }
    if let Some(v) = ratio(r, "health.failure_ratio", &raw.failure_ratio) {
        defaults.failure_ratio = v;
    }
    if let Some(v) = bounded(r, "health.slow_call_ms", &raw.slow_call_ms, 100, 600_000) {
        defaults.slow_call = Duration::from_millis(v);
    }
    if let Some(v) = bounded(r, "health.open_secs", &raw.open_secs, 1, 3_600) {
        defaults.open_for = Duration::from_secs(v);
    }
    if let Some(v) = bounded(r, "health.probes", &raw.probes, 1, 100) {
        defaults.probes = to_u32(v);
    }
    let mut providers = HashMap::new();
    for (id, p) in raw.providers {
        let span = p.span();
        let p = p.into_inner();
        let at = format!("health.providers.{id}");
        if !known.contains(&id) {
            r.at(span, format!("{at}: no provider `{id}` is configured"));
            continue;
        }
        let mut t = defaults;
        if let Some(v) = bounded(r, &format!("{at}.min_calls"), &p.min_calls, 1, 100_000) {
            t.min_calls = to_u32(v);
        }
        if let Some(v) = ratio(r, &format!("{at}.failure_ratio"), &p.failure_ratio) {
            t.failure_ratio = v;
        }
        if let Some(v) = bounded(
            r,
            &format!("{at}.slow_call_ms"),
            &p.slow_call_ms,
            100,
            600_000,
        ) {
            t.slow_call = Duration::from_millis(v);
        }
        let force = match p.force.as_ref().map(|f| (f.get_ref().as_str(), f.span())) {
            None => None,
            Some(("off", _)) => Some(Force::Off),
            Some(("on", _)) => Some(Force::On),
            Some((other, span)) => {
                r.at(
                    span,
                    format!("{at}.force `{other}` must be \"off\" or \"on\""),
                );
                None
            }
        };
        let reason_ko = reason(r, &format!("{at}.reason_ko"), &p.reason_ko);
        let reason_en = reason(r, &format!("{at}.reason_en"), &p.reason_en);
        if force != Some(Force::Off) {
            if let Some(v) = p.reason_ko.as_ref().or(p.reason_en.as_ref()) {
                r.at(
                    v.span(),
                    format!(
                        "{at}: a reason is shown only for a provider forced off (force = \"off\")"
                    ),
                );
            }
        }
        providers.insert(
            id,
            ProviderHealth {
                thresholds: t,
                force,
                reason_ko,
                reason_en,
            },
        );
    }
    HealthSettings {
        defaults,
        providers,
    }
}
