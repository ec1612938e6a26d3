//! Signing documents with the citizen's own certificate: the ability some
//! provider families have beyond logging in.
//!
//! A separate trait (never a stub on [`crate::Provider`]): a provider that can
//! sign returns its [`DocumentSigner`] from [`crate::Provider::signer`]. The
//! gateway keeps all per-request state; a signer holds none, so any replica can
//! continue any signing request.
//!
//! What the app signs is always derived from the document's SHA-256, so a
//! receipt can be checked against the document years later:
//! - [`SignedForm::Digest`]: the CMS content (attached) is exactly the 32
//!   digest bytes;
//! - [`SignedForm::DetachedDigest`]: the CMS carries no content and its
//!   `messageDigest` attribute equals the document's SHA-256, so the CMS
//!   verifies as a detached signature over the original document itself.
//!
//! A multi-document request is all or nothing: one element that fails any check
//! fails the whole result.

use crate::adapter::{Pending, Status};
use crate::assertion::Evidence;
use crate::error::ProviderError;
use crate::person::{Citizen, Person};
use serde::{Deserialize, Serialize};

/// How one signed document's CMS relates to the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignedForm {
    /// Attached content == the document's SHA-256 (32 bytes).
    Digest,
    /// Detached; `messageDigest` == the document's SHA-256.
    DetachedDigest,
}

/// One document as the provider is asked to sign it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Document {
    /// Shown in the citizen's app.
    pub title: String,
    /// SHA-256 of the document.
    #[serde(with = "hex_digest")]
    pub sha256: [u8; 32],
}

/// What the citizen is asked to sign.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignRequest {
    /// Shown in the citizen's app (the request as a whole).
    pub title: String,
    /// In order; the result keeps this order.
    pub documents: Vec<Document>,
    /// How long the citizen has, in seconds (clamped to the provider's max).
    pub ttl_secs: u32,
}

/// One document's proof.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedDocument {
    pub form: SignedForm,
    pub evidence: Evidence,
}

/// A signing result that passed every check, in the request's document order.
#[derive(Debug, Clone)]
pub struct SignedResult {
    pub person: Person,
    pub documents: Vec<SignedDocument>,
    pub amr: Vec<String>,
}

#[async_trait::async_trait]
pub trait DocumentSigner: Send + Sync {
    /// Most documents one request may carry (1: single-document signing only).
    fn max_documents(&self) -> usize;

    /// Ask the provider to push the signing request to the citizen's app.
    async fn start_sign(&self, who: &Citizen, ask: &SignRequest) -> Result<Pending, ProviderError>;

    /// The request's status (the request decides single vs multi-document paths).
    async fn sign_status(
        &self,
        ask: &SignRequest,
        pending: &Pending,
    ) -> Result<Status, ProviderError>;

    /// Fetch the result (once) and verify every document completely: each CMS
    /// against its document's digest in the provider's [`SignedForm`], chain to
    /// this provider's roots, validity and revocation at signingTime, signingTime
    /// inside the request window, signer == `who`. One bad element fails all.
    async fn verify_sign(
        &self,
        who: &Citizen,
        ask: &SignRequest,
        pending: &Pending,
    ) -> Result<SignedResult, ProviderError>;
}

mod hex_digest {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let v = hex::decode(s).map_err(serde::de::Error::custom)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom("a SHA-256 digest is 32 bytes"))
    }
}
