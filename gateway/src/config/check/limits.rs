//! Validation of `[limits]` and `[sites.X.limits]`: abuse limits written as
//! `"N/window"` (`"5/10m"`, `"20/1d"`), every one of a list holding.

use super::{Range, Report};
use crate::config::raw::RawLimits;
use munjigi_policy::limits::{self, Limit, Limits};
use toml::Spanned;

/// `"5/10m"` → 5 per 600 s. Units: s, m, h, d.
fn parse(v: &str) -> Option<Limit> {
    let (n, w) = v.trim().split_once('/')?;
    let max: u32 = n.trim().parse().ok()?;
    let w = w.trim();
    let split = w.find(|c: char| !c.is_ascii_digit())?;
    let (count, unit) = w.split_at(split);
    let count: u64 = if count.is_empty() {
        1
    } else {
        count.parse().ok()?
    };
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return None,
    };
    let secs = count.checked_mul(unit)?;
    ((1..=1_000_000).contains(&max) && (1..=7 * 86_400).contains(&secs))
        .then_some(Limit::new(max, secs))
}

fn list(
    r: &mut Report<'_>,
    at: &str,
    name: &str,
    v: Option<&Spanned<Vec<Spanned<String>>>>,
    default: &[Limit],
) -> Vec<Limit> {
    let Some(v) = v else {
        return default.to_vec();
    };
    let mut out = Vec::new();
    for item in v.get_ref() {
        match parse(item.get_ref()) {
            Some(l) => out.push(l),
            None => r.at(
                item.span(),
                format!(
                    "{at}.{name}: `{}` must be `N/window` such as \"5/10m\" (N from 1 to 1000000; window in s, m, h or d, at most 7 days)",
                    item.get_ref()
                ),
            ),
        }
    }
    for (i, l) in out.iter().enumerate() {
        if out.iter().take(i).any(|o| o.window == l.window) {
            r.at(
                v.span(),
                format!(
                    "{at}.{name}: two limits with the same window ({}s); keep the stricter one",
                    l.window.as_secs()
                ),
            );
            break;
        }
    }
    if out.is_empty() && v.get_ref().is_empty() {
        let span: Range<usize> = v.span();
        r.at(
            span,
            format!("{at}.{name}: give at least one limit, or leave the key out for the default"),
        );
    }
    out
}

/// `[limits.providers]`: each provider's rate, for providers that exist.
pub fn providers(
    r: &mut Report<'_>,
    raw: Option<&RawLimits>,
    known: &[&str],
) -> std::collections::HashMap<String, Vec<Limit>> {
    let mut out = std::collections::HashMap::new();
    let Some(raw) = raw else {
        return out;
    };
    for (id, v) in &raw.providers {
        if !known.contains(&id.as_str()) {
            r.at(
                v.span(),
                format!("limits.providers.{id}: no provider `{id}` is defined under [providers]"),
            );
            continue;
        }
        let rules = list(r, "limits.providers", id, Some(v), &[]);
        out.insert(id.clone(), rules);
    }
    out
}

/// The limits of `raw` over `base` (each key absent keeps `base`'s).
/// For a site (`site`), pushes per person may only be tightened: they are
/// counted across sites.
pub fn build(
    r: &mut Report<'_>,
    at: &str,
    raw: Option<&RawLimits>,
    base: &Limits,
    site: bool,
) -> Limits {
    let Some(raw) = raw else {
        return base.clone();
    };
    Limits {
        person: if site {
            limits::tightest(
                &base.person,
                &list(
                    r,
                    at,
                    "pushes_per_person",
                    raw.pushes_per_person.as_ref(),
                    &[],
                ),
            )
        } else {
            list(
                r,
                at,
                "pushes_per_person",
                raw.pushes_per_person.as_ref(),
                &base.person,
            )
        },
        client_starts: list(
            r,
            at,
            "starts_per_client",
            raw.starts_per_client.as_ref(),
            &base.client_starts,
        ),
        client_submissions: list(
            r,
            at,
            "submissions_per_client",
            raw.submissions_per_client.as_ref(),
            &base.client_submissions,
        ),
        site_starts: list(
            r,
            at,
            "starts_per_site",
            raw.starts_per_site.as_ref(),
            &base.site_starts,
        ),
        ciba_person: list(
            r,
            at,
            "ciba_pushes_per_person",
            raw.ciba_pushes_per_person.as_ref(),
            &base.ciba_person,
        ),
        ciba_misses: list(
            r,
            at,
            "ciba_misses_per_site",
            raw.ciba_misses_per_site.as_ref(),
            &base.ciba_misses,
        ),
        // Typed before any site is known: the deployment's alone.
        device_codes_per_client: deployment_only(
            r,
            at,
            "device_codes_per_client",
            raw.device_codes_per_client.as_ref(),
            &base.device_codes_per_client,
            site,
        ),
        device_codes: deployment_only(
            r,
            at,
            "device_codes",
            raw.device_codes.as_ref(),
            &base.device_codes,
            site,
        ),
    }
}

fn deployment_only(
    r: &mut Report<'_>,
    at: &str,
    name: &str,
    v: Option<&Spanned<Vec<Spanned<String>>>>,
    base: &[Limit],
    site: bool,
) -> Vec<Limit> {
    match (site, v) {
        (true, Some(v)) => {
            r.at(
                v.span(),
                format!("{at}.{name}: set it under [limits]: a user code is typed before its site is known"),
            );
            base.to_vec()
        }
        _ => list(r, at, name, v, base),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_n_per_window() {
        assert_eq!(parse("5/10m"), Some(Limit::new(5, 600)));
        assert_eq!(parse("20/1d"), Some(Limit::new(20, 86_400)));
        assert_eq!(parse(" 200 / s "), Some(Limit::new(200, 1)));
        assert_eq!(parse("30/1h"), Some(Limit::new(30, 3_600)));
        for bad in [
            "", "5", "5/", "/10m", "0/1m", "5/0m", "5/10x", "-1/1m", "5/8d", "5/m10",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
