//! What went wrong with a provider, said once, in provider-neutral words.
//!
//! Every adapter maps its provider's codes onto these variants at its edge; the
//! gateway decides how each looks to a citizen, a site and an operator. Variants
//! carry ids and codes, never personal data.

use crate::cms::CmsError;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The citizen declined in the app.
    #[error("the citizen rejected the request in the provider's app")]
    Rejected,
    /// Nobody acted before the request's time ran out.
    #[error("the request expired before the citizen approved it")]
    Expired,
    /// The provider knows no such person (or no such account).
    #[error("the provider has no account for this person")]
    UnknownPerson,
    /// Name, birth date or phone do not match the provider's account.
    #[error("the personal data does not match the provider's account")]
    PersonMismatch,
    /// Account dormant, withdrawn or locked at the provider.
    #[error("the account at the provider is dormant or withdrawn")]
    AccountUnusable,
    /// The result was already fetched once (providers deliver it once).
    #[error("the provider's result was already used")]
    AlreadyUsed,
    /// Asked for the result before the citizen finished.
    #[error("the provider has no result yet")]
    NotReady,
    /// The result may no longer be fetched (too late after completion or expiry).
    #[error("the provider's result can no longer be fetched")]
    TooLate,
    /// The provider is down, in maintenance, or answered 5xx; `retryable` says
    /// whether trying again soon may help.
    #[error("the provider is unavailable ({code})")]
    Unavailable { code: String, retryable: bool },
    /// The provider refused our credentials (token, key, HMAC, clock).
    #[error("the provider refused the gateway's credentials ({code})")]
    Unauthorized { code: String },
    /// The provider refused the request as malformed (a bug or misconfiguration on our side).
    #[error("the provider refused the request ({code}): {message}")]
    BadRequest { code: String, message: String },
    /// The provider answered something that does not follow its API.
    #[error("the provider's answer does not follow its API: {0}")]
    Protocol(String),
    /// The signed result failed verification.
    #[error("the provider's signed result failed verification: {0}")]
    BadSignature(#[from] CmsError),
    /// A wallet's presentation failed verification (the reason names the
    /// check, never the content).
    #[error("the presentation failed verification: {0}")]
    BadPresentation(&'static str),
    /// The signed result is valid but not by the person who was asked.
    #[error("the signer is not the person who was asked")]
    WrongSigner,
    /// Network failure or timeout talking to the provider.
    #[error("could not reach the provider: {0}")]
    Transport(String),
    /// The adapter is misconfigured (bad key material, bad URL).
    #[error("provider adapter misconfigured: {0}")]
    Config(String),
}

impl ProviderError {
    /// A stable, greppable reason code for logs and error pages.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::UnknownPerson => "unknown_person",
            Self::PersonMismatch => "person_mismatch",
            Self::AccountUnusable => "account_unusable",
            Self::AlreadyUsed => "already_used",
            Self::NotReady => "not_ready",
            Self::TooLate => "too_late",
            Self::Unavailable { .. } => "unavailable",
            Self::Unauthorized { .. } => "unauthorized",
            Self::BadRequest { .. } => "bad_request",
            Self::Protocol(_) => "protocol",
            Self::BadSignature(_) => "bad_signature",
            Self::BadPresentation(_) => "bad_presentation",
            Self::WrongSigner => "wrong_signer",
            Self::Transport(_) => "transport",
            Self::Config(_) => "config",
        }
    }
}
