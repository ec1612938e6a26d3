//! The adapter contract every provider family implements.
//!
//! Small on purpose: start a request, read its status, fetch-and-verify its result
//! once. Abilities only some families have (signing documents, multi-sign) are
//! separate traits ([`crate::signing::DocumentSigner`]), never `unimplemented!()`. Adapters hold no per-login state:
//! everything needed to continue a login is in [`Pending`], which the gateway keeps
//! in its store, so any replica can continue any login.

use crate::assertion::{Evidence, Level, ProviderId};
use crate::error::ProviderError;
use crate::person::{Citizen, Person};
use serde::{Deserialize, Serialize};

/// What the citizen is asked to sign.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Challenge {
    /// For login: a fresh random nonce the provider's app signs; the CMS content
    /// must equal it exactly.
    pub nonce: String,
    /// Title shown in the citizen's app.
    pub title: String,
    /// How long the citizen has, in seconds (the adapter clamps to the provider's max).
    pub ttl_secs: u32,
}

/// A started request: all an adapter needs to poll and verify later, on any replica.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    /// The provider's id for the request (barocert `receiptID`, Toss `txId` …).
    pub handle: String,
    /// Unix seconds when the gateway started the request.
    pub started_at: u64,
    /// Unix seconds when the provider will consider it expired.
    pub expires_at: u64,
    /// An app-to-app URL scheme the provider returned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_scheme: Option<String>,
    /// Text the waiting page shows as a QR code for the citizen's app to
    /// scan (a wallet's request), if the family offers one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr: Option<String>,
}

/// The provider's view of a started request, mapped to one normalised state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the citizen; `viewed` once they opened it in the app.
    Pending {
        viewed: bool,
    },
    /// Signed in the app; the result is ready to be fetched (once).
    Completed,
    Expired,
    Rejected,
    Failed,
}

/// A result that passed every check: the person is who the provider vouches for,
/// and the evidence is kept with the transaction.
#[derive(Debug, Clone)]
pub struct Verified {
    pub person: Person,
    pub evidence: Evidence,
    /// Authentication methods, OIDC `amr` values (`hwk`, `pin`, `mfa` …).
    pub amr: Vec<String>,
}

#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    fn id(&self) -> &ProviderId;

    /// The assurance level this provider's result achieves.
    fn level(&self) -> Level;

    /// Whether the citizen's app shows a login request's `Challenge::title`
    /// (up to 40 characters), so that text the citizen can compare with the
    /// waiting page (a short code) reaches them. False where the provider's
    /// API takes no free text for a login.
    fn shows_title(&self) -> bool {
        false
    }

    /// Ask the provider to push a request to the citizen's app.
    async fn start(&self, who: &Citizen, ask: &Challenge) -> Result<Pending, ProviderError>;

    /// Read the request's status. Cheap; the gateway coalesces calls per login.
    async fn status(&self, pending: &Pending) -> Result<Status, ProviderError>;

    /// Fetch the signed result (once: providers deliver it once) and verify it
    /// completely: signature, chain to this provider's roots, content == the
    /// challenge, signing time inside the request window, signer == `who`.
    async fn verify(
        &self,
        who: &Citizen,
        ask: &Challenge,
        pending: &Pending,
    ) -> Result<Verified, ProviderError>;

    /// Document signing, for providers that can (see [`crate::signing`]).
    fn signer(&self) -> Option<&dyn crate::signing::DocumentSigner> {
        None
    }

    /// For families whose result arrives by a call to the gateway (see
    /// [`crate::callback`]).
    fn callbacks(&self) -> Option<&dyn crate::callback::Callbacks> {
        None
    }
}
