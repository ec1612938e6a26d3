//! A site's access rules: which providers it accepts and what assurance it needs.
//!
//! Used twice per login: on the chooser, to offer only the providers that can
//! satisfy the request, and again at claim release, so a provider the citizen
//! reached some other way is still refused. Knows nothing of how the policy was
//! configured (the gateway's config) or of the providers' health.

use munjigi_model::{Level, ProviderId};

/// One site's policy, as snapshotted into a login when it starts.
#[derive(Debug, Clone)]
pub struct SitePolicy {
    /// Providers the site accepts; empty means every provider the gateway has.
    pub allowed_providers: Vec<ProviderId>,
    /// The lowest assurance the site ever accepts, whatever the request asks.
    pub min_level: Level,
    /// Whether the site may receive the CI (연계정보) when it asks for scope `ci`.
    pub ci_entitled: bool,
}

impl SitePolicy {
    /// Whether the provider is in the allow list (an empty list allows all).
    pub fn lists(&self, provider: &ProviderId) -> bool {
        self.allowed_providers.is_empty() || self.allowed_providers.contains(provider)
    }
}

/// Whether a provider may be offered for this request: it is in the site's allow
/// list (or the list is empty) and its level reaches `required`.
///
/// `required` is normally [`required_level`]'s answer; the site's `min_level` is
/// applied again here, so a caller that passes a lower level cannot weaken it.
pub fn provider_allowed(
    site: &SitePolicy,
    provider: &ProviderId,
    provider_level: Level,
    required: Level,
) -> bool {
    site.lists(provider) && provider_level >= required.max(site.min_level)
}

/// The level a login must reach, from the site's minimum and the request's
/// `acr_values`.
///
/// OIDC `acr_values` is a space-separated list of acceptable values in order of
/// preference; any of them satisfies the request, so the weakest known one is what
/// is required. Values are `acr` URIs or short names ([`Level::from_acr`]); unknown
/// values are ignored. The result is never below the site's `min_level`; with no
/// known value it is the site's `min_level`.
pub fn required_level(site: &SitePolicy, acr_values: Option<&str>) -> Level {
    let asked = acr_values
        .unwrap_or_default()
        .split_ascii_whitespace()
        .filter_map(Level::from_acr)
        .min();
    asked.map_or(site.min_level, |l| l.max(site.min_level))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(allowed: &[&str], min_level: Level) -> SitePolicy {
        SitePolicy {
            allowed_providers: allowed.iter().map(|p| ProviderId::new(*p)).collect(),
            min_level,
            ci_entitled: false,
        }
    }

    #[test]
    fn empty_allow_list_allows_every_provider() {
        let s = site(&[], Level::Low);
        for p in ["kakao", "naver", "pass", "toss", "anything"] {
            assert!(provider_allowed(
                &s,
                &ProviderId::new(p),
                Level::Substantial,
                Level::Low
            ));
        }
    }

    #[test]
    fn allow_list_restricts_providers() {
        let s = site(&["kakao", "naver"], Level::Low);
        assert!(provider_allowed(
            &s,
            &ProviderId::new("kakao"),
            Level::High,
            Level::Low
        ));
        assert!(provider_allowed(
            &s,
            &ProviderId::new("naver"),
            Level::High,
            Level::Low
        ));
        assert!(!provider_allowed(
            &s,
            &ProviderId::new("toss"),
            Level::High,
            Level::Low
        ));
        // Ids are exact: no case folding, no prefixes.
        assert!(!provider_allowed(
            &s,
            &ProviderId::new("Kakao"),
            Level::High,
            Level::Low
        ));
        assert!(!provider_allowed(
            &s,
            &ProviderId::new("kaka"),
            Level::High,
            Level::Low
        ));
    }

    #[test]
    fn provider_level_must_reach_required() {
        let s = site(&[], Level::Low);
        let p = ProviderId::new("kakao");
        assert!(provider_allowed(
            &s,
            &p,
            Level::Substantial,
            Level::Substantial
        ));
        assert!(provider_allowed(&s, &p, Level::High, Level::Substantial));
        assert!(!provider_allowed(&s, &p, Level::Low, Level::Substantial));
        assert!(!provider_allowed(&s, &p, Level::Substantial, Level::High));
    }

    #[test]
    fn provider_allowed_never_goes_below_site_minimum() {
        let s = site(&[], Level::High);
        let p = ProviderId::new("kakao");
        assert!(!provider_allowed(&s, &p, Level::Substantial, Level::Low));
        assert!(provider_allowed(&s, &p, Level::High, Level::Low));
    }

    #[test]
    fn required_level_defaults_to_site_minimum() {
        let s = site(&[], Level::Substantial);
        assert_eq!(required_level(&s, None), Level::Substantial);
        assert_eq!(required_level(&s, Some("")), Level::Substantial);
        assert_eq!(required_level(&s, Some("   ")), Level::Substantial);
    }

    #[test]
    fn required_level_takes_lowest_known_value() {
        let s = site(&[], Level::Low);
        let both = format!("{} {}", Level::High.acr(), Level::Substantial.acr());
        assert_eq!(required_level(&s, Some(&both)), Level::Substantial);
        assert_eq!(required_level(&s, Some(Level::High.acr())), Level::High);
        assert_eq!(required_level(&s, Some("high")), Level::High);
        assert_eq!(required_level(&s, Some("high  low")), Level::Low);
    }

    #[test]
    fn required_level_ignores_unknown_values() {
        let s = site(&[], Level::Low);
        let mixed = format!("urn:other:loa:1 {} 0", Level::High.acr());
        assert_eq!(required_level(&s, Some(&mixed)), Level::High);
        assert_eq!(
            required_level(&s, Some("urn:other:loa:1 2 HIGH")),
            Level::Low
        );
    }

    #[test]
    fn required_level_never_below_site_minimum() {
        let s = site(&[], Level::High);
        assert_eq!(required_level(&s, Some(Level::Low.acr())), Level::High);
        let s = site(&[], Level::Substantial);
        assert_eq!(required_level(&s, Some("low high")), Level::Substantial);
    }
}
