//! Why a provider attempt ended, and how that looks to every audience.
//!
//! A [`Failure`] is what a login keeps when an attempt did not end verified: the
//! live [`ProviderError`] becomes one here, and so do expiry, rejection and a
//! provider removed by a reload. It is stored with the login (as the same short
//! strings `ProviderError::code` gives, so records of older replicas still
//! read) and never as free text.
//!
//! [`Failure::looks`] is the one table from a failure to the citizen's page
//! (status, problem, log level, `MJ-P..` code), the site's OAuth error, the
//! SAML status answered to an SP and the signing API's `failure` reason.
//! Everything else in [`crate::rescue`] turns requests' errors into responses;
//! a provider failure there goes through this table, live or stored.
//!
//! Not here: HTTP, the store, or what the login does next.

use crate::pages::Problem;
use crate::rescue::{LogLevel, Rescue};
use crate::saml::error::status as saml_status;
use http::StatusCode;
use munjigi_providers::ProviderError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a provider attempt ended without a verified result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    Rejected,
    Expired,
    UnknownPerson,
    PersonMismatch,
    AccountUnusable,
    AlreadyUsed,
    NotReady,
    TooLate,
    Unavailable,
    Unauthorized,
    BadRequest,
    Protocol,
    BadSignature,
    /// A wallet's presentation failed verification.
    BadPresentation,
    WrongSigner,
    Transport,
    Config,
    /// The login's provider was removed from the configuration by a reload.
    ProviderRemoved,
    /// The person signed with another certificate than the one last seen at
    /// that provider, and the operator refuses that until confirmed.
    SignerChanged,
}

impl Failure {
    /// Every failure, for tests and the README check.
    pub const ALL: [Failure; 19] = [
        Failure::Rejected,
        Failure::Expired,
        Failure::UnknownPerson,
        Failure::PersonMismatch,
        Failure::AccountUnusable,
        Failure::AlreadyUsed,
        Failure::NotReady,
        Failure::TooLate,
        Failure::Unavailable,
        Failure::Unauthorized,
        Failure::BadRequest,
        Failure::Protocol,
        Failure::BadSignature,
        Failure::BadPresentation,
        Failure::WrongSigner,
        Failure::Transport,
        Failure::Config,
        Failure::ProviderRemoved,
        Failure::SignerChanged,
    ];

    /// The stored and reported reason (`ProviderError::code` for the ones a
    /// provider error gives): logs, the stored login, the signing API.
    pub fn code(self) -> &'static str {
        match self {
            Failure::Rejected => "rejected",
            Failure::Expired => "expired",
            Failure::UnknownPerson => "unknown_person",
            Failure::PersonMismatch => "person_mismatch",
            Failure::AccountUnusable => "account_unusable",
            Failure::AlreadyUsed => "already_used",
            Failure::NotReady => "not_ready",
            Failure::TooLate => "too_late",
            Failure::Unavailable => "unavailable",
            Failure::Unauthorized => "unauthorized",
            Failure::BadRequest => "bad_request",
            Failure::Protocol => "protocol",
            Failure::BadSignature => "bad_signature",
            Failure::BadPresentation => "bad_presentation",
            Failure::WrongSigner => "wrong_signer",
            Failure::Transport => "transport",
            Failure::Config => "config",
            Failure::ProviderRemoved => "provider_removed",
            Failure::SignerChanged => "signer_changed",
        }
    }

    /// Reads a stored reason. One this binary does not know (written by a
    /// newer replica, or damaged) is a protocol failure: the login still ends
    /// failed with a page, rather than as an unreadable record.
    pub fn from_code(code: &str) -> Failure {
        Failure::ALL
            .into_iter()
            .find(|f| f.code() == code)
            .unwrap_or(Failure::Protocol)
    }

    /// How a login that ended in `state` failed, if it did: rejection and
    /// expiry are their own states; a failed login says why (a protocol failure
    /// when it somehow does not).
    pub fn of_ended(state: crate::txn::State, failure: Option<Failure>) -> Option<Failure> {
        use crate::txn::State;
        match state {
            State::Rejected => Some(Failure::Rejected),
            State::Expired => Some(Failure::Expired),
            State::Failed => Some(failure.unwrap_or(Failure::Protocol)),
            _ => None,
        }
    }

    /// The one table: how this failure looks to the citizen, the site (OAuth
    /// and SAML), the signing API and the operator.
    #[rustfmt::skip]
    pub fn looks(self) -> Looks {
        use Failure as F;
        use LogLevel::*;
        use StatusCode as S;
        // The citizen's side: declined, too slow, not the right person or data.
        const DENIED: &str = "access_denied";
        // The provider's side, out of the citizen's hands: retrying may help.
        const DOWN: &str = "temporarily_unavailable";
        // Ours or the provider's API broke: an operator must look.
        const BROKEN: &str = "server_error";
        // Whether a provider knows a person, or their details, is not the
        // site's to learn from a login the citizen abandoned.
        const NOT_COMPLETED: &str = "the login was not completed";
        match self {
            F::Rejected => row(S::OK, Problem::Rejected, Info, "MJ-P01", DENIED, "the citizen rejected the request"),
            F::Expired => row(S::OK, Problem::Expired, Info, "MJ-P02", DENIED, "the request expired before the citizen approved it"),
            F::UnknownPerson => row(S::OK, Problem::PersonUnknown, Info, "MJ-P03", DENIED, NOT_COMPLETED),
            F::PersonMismatch => row(S::OK, Problem::PersonUnknown, Info, "MJ-P04", DENIED, NOT_COMPLETED),
            F::AccountUnusable => row(S::OK, Problem::PersonUnknown, Info, "MJ-P05", DENIED, NOT_COMPLETED),
            F::WrongSigner => row(S::OK, Problem::WrongPerson, Warn, "MJ-P06", DENIED, "someone other than the person asked approved"),
            F::BadSignature => row(S::OK, Problem::VerificationFailed, Error, "MJ-P07", DENIED, "the provider's result failed verification"),
            F::BadPresentation => row(S::OK, Problem::VerificationFailed, Warn, "MJ-P16", DENIED, "the wallet's presentation failed verification"),
            F::AlreadyUsed | F::TooLate | F::NotReady => row(S::OK, Problem::VerificationFailed, Warn, "MJ-P08", DENIED, "the provider's result could not be fetched"),
            F::Unavailable | F::Transport => row(S::SERVICE_UNAVAILABLE, Problem::ProviderUnavailable, Warn, "MJ-P09", DOWN, "the provider is unavailable"),
            F::Unauthorized | F::BadRequest | F::Config => row(S::SERVICE_UNAVAILABLE, Problem::ProviderUnavailable, Error, "MJ-P10", BROKEN, "the provider refused the gateway's request"),
            F::Protocol => row(S::BAD_GATEWAY, Problem::ProviderUnavailable, Error, "MJ-P11", BROKEN, "the provider's answer did not follow its API"),
            F::ProviderRemoved => row(S::SERVICE_UNAVAILABLE, Problem::ProviderUnavailable, Warn, "MJ-P12", DOWN, "the provider is no longer offered"),
            F::SignerChanged => row(S::OK, Problem::SignerChanged, Warn, "MJ-P15", DENIED, "the signer's certificate is not the one last seen for this person"),
        }
        .api(self.code())
    }
}

/// One failure as every audience sees it (a row of [`Failure::looks`]).
#[derive(Debug, Clone, Copy)]
pub struct Looks {
    /// The citizen's page and the operator's log line. `page.status` answers
    /// a request that failed live; a login's outcome page, shown when the
    /// login has ended, is a normal page (200) with the same code.
    pub page: Rescue,
    /// RFC 6749 `error` and `error_description` for the site.
    pub oauth: (&'static str, &'static str),
    /// Top- and second-level SAML status for the SP.
    pub saml: (&'static str, Option<&'static str>),
    /// The signing API's `failure` reason.
    pub api: &'static str,
}

impl Looks {
    fn api(mut self, reason: &'static str) -> Looks {
        self.api = reason;
        self
    }
}

const fn row(
    status: StatusCode,
    problem: Problem,
    level: LogLevel,
    code: &'static str,
    error: &'static str,
    description: &'static str,
) -> Looks {
    Looks {
        page: Rescue {
            status,
            problem,
            level,
            code,
        },
        oauth: (error, description),
        // Whatever the reason, the IdP could not authenticate the principal.
        saml: (saml_status::RESPONDER, Some(saml_status::AUTHN_FAILED)),
        api: "",
    }
}

impl From<&ProviderError> for Failure {
    fn from(e: &ProviderError) -> Failure {
        use ProviderError as P;
        match e {
            P::Rejected => Failure::Rejected,
            P::Expired => Failure::Expired,
            P::UnknownPerson => Failure::UnknownPerson,
            P::PersonMismatch => Failure::PersonMismatch,
            P::AccountUnusable => Failure::AccountUnusable,
            P::AlreadyUsed => Failure::AlreadyUsed,
            P::NotReady => Failure::NotReady,
            P::TooLate => Failure::TooLate,
            P::Unavailable { .. } => Failure::Unavailable,
            P::Unauthorized { .. } => Failure::Unauthorized,
            P::BadRequest { .. } => Failure::BadRequest,
            P::Protocol(_) => Failure::Protocol,
            P::BadSignature(_) => Failure::BadSignature,
            P::BadPresentation(_) => Failure::BadPresentation,
            P::WrongSigner => Failure::WrongSigner,
            P::Transport(_) => Failure::Transport,
            P::Config(_) => Failure::Config,
        }
    }
}

impl Serialize for Failure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Failure {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Failure, D::Error> {
        let code = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Failure::from_code(&code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use munjigi_providers::cms::CmsError;

    /// One of each `ProviderError` variant (a new variant fails to compile in
    /// `From` above, then belongs here).
    fn every_provider_error() -> Vec<ProviderError> {
        vec![
            ProviderError::Rejected,
            ProviderError::Expired,
            ProviderError::UnknownPerson,
            ProviderError::PersonMismatch,
            ProviderError::AccountUnusable,
            ProviderError::AlreadyUsed,
            ProviderError::NotReady,
            ProviderError::TooLate,
            ProviderError::Unavailable {
                code: "x".into(),
                retryable: true,
            },
            ProviderError::Unauthorized { code: "x".into() },
            ProviderError::BadRequest {
                code: "x".into(),
                message: "m".into(),
            },
            ProviderError::Protocol("p".into()),
            ProviderError::BadSignature(CmsError::NotSignedData),
            ProviderError::BadPresentation("nonce"),
            ProviderError::WrongSigner,
            ProviderError::Transport("t".into()),
            ProviderError::Config("c".into()),
        ]
    }

    #[test]
    fn the_live_error_and_the_stored_reason_look_the_same() {
        for e in every_provider_error() {
            let live = crate::rescue::provider_rescue(&e);
            // What the login stores, written and read back as a record would be.
            let stored: Failure =
                serde_json::from_str(&serde_json::to_string(&e.code()).unwrap()).unwrap();
            let page = stored.looks().page;
            assert_eq!(live.code, page.code, "{e:?}");
            assert_eq!(live.problem, page.problem, "{e:?}");
            assert_eq!(live.status, page.status, "{e:?}");
            assert_eq!(Failure::from(&e).code(), e.code(), "{e:?}");
        }
    }

    #[test]
    fn a_protocol_failure_is_mj_p11_live_and_stored() {
        let stored = Failure::from_code("protocol");
        assert_eq!(stored.looks().page.code, "MJ-P11");
        let live = crate::rescue::provider_rescue(&ProviderError::Protocol("x".into()));
        assert_eq!(live.code, "MJ-P11");
    }

    #[test]
    fn every_failure_round_trips_as_its_code() {
        for f in Failure::ALL {
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.code()));
            assert_eq!(serde_json::from_str::<Failure>(&json).unwrap(), f);
            assert_eq!(f.looks().api, f.code());
            assert!(f.looks().page.code.starts_with("MJ-P"), "{f:?}");
        }
    }

    #[test]
    fn an_unknown_stored_reason_reads_as_a_protocol_failure() {
        let f: Failure = serde_json::from_str("\"a_reason_from_the_future\"").unwrap();
        assert_eq!(f, Failure::Protocol);
        assert!(serde_json::from_str::<Failure>("17").is_err());
    }

    /// A login written by an older replica (the reason as a plain string)
    /// reads on this one, and one with a reason this replica never heard of
    /// still reads, as a protocol failure.
    #[test]
    fn a_login_record_of_an_older_replica_reads() {
        #[derive(serde::Deserialize)]
        struct Record {
            failure: Option<Failure>,
        }
        let old: Record = serde_json::from_str(r#"{"failure":"bad_signature"}"#).unwrap();
        assert_eq!(old.failure, Some(Failure::BadSignature));
        let old: Record = serde_json::from_str(r#"{"failure":"provider_removed"}"#).unwrap();
        assert_eq!(old.failure, Some(Failure::ProviderRemoved));
        let none: Record = serde_json::from_str(r#"{"failure":null}"#).unwrap();
        assert_eq!(none.failure, None);
        let odd: Record = serde_json::from_str(r#"{"failure":"quantum"}"#).unwrap();
        assert_eq!(odd.failure, Some(Failure::Protocol));
    }
}
