//! Why policy refused: one enum for the whole crate, each variant with a stable code.
//!
//! Says what happened, never how it is shown: the gateway maps each variant to an
//! OIDC/SAML error for the site and a page for the citizen. Carries no personal data.
//! Codes use the `MJ-Y` family ("policY"; `MJ-P` belongs to providers).

use munjigi_model::Level;

/// A request or a result that the site's policy does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The provider is not in the site's allow list.
    #[error("provider not allowed for this site")]
    ProviderNotAllowed,
    /// The provider's result (or the provider itself) is below the level required.
    #[error("assurance level too low: required {}, achieved {}", required.short(), achieved.short())]
    LevelTooLow { required: Level, achieved: Level },
    /// An OpenID Connect request without the `openid` scope.
    #[error("the openid scope is required")]
    NoOpenidScope,
}

impl Denied {
    /// Stable code operators can grep for; also shown to the citizen.
    pub fn code(&self) -> &'static str {
        match self {
            Denied::ProviderNotAllowed => "MJ-Y01",
            Denied::LevelTooLow { .. } => "MJ-Y02",
            Denied::NoOpenidScope => "MJ-Y03",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_stable() {
        let all = [
            Denied::ProviderNotAllowed,
            Denied::LevelTooLow {
                required: Level::High,
                achieved: Level::Low,
            },
            Denied::NoOpenidScope,
        ];
        let codes: Vec<&str> = all.iter().map(Denied::code).collect();
        assert_eq!(codes, ["MJ-Y01", "MJ-Y02", "MJ-Y03"]);
    }

    #[test]
    fn level_message_names_both_levels() {
        let d = Denied::LevelTooLow {
            required: Level::High,
            achieved: Level::Substantial,
        };
        assert_eq!(
            d.to_string(),
            "assurance level too low: required high, achieved substantial"
        );
    }
}
