//! One check that a provider's signed result belongs to this request and to
//! the person asked, whatever format the provider signs in.
//!
//! A result proves a login (or a signature) only if three things hold: what
//! was signed is exactly what the gateway asked for (the nonce, or a
//! document's digest); it was signed while the request was open; and the
//! certificate that signed it is the person the provider names, who is the
//! person asked. Every family used to write these steps itself, four copies
//! that could drift. Here a family only says how to read its answer (which
//! format, which content it asked for, how its CA writes a name into a CN)
//! and this module decides, the same way for all.
//!
//! [`SignedResult`] is the provider's signature as it came, one variant per
//! format: CMS SignedData today. A family that signs a JWS or presents a
//! verifiable credential adds a variant with its own signature check and an
//! [`Evidence`] variant to keep; the window and the signer rules stay here.
//!
//! A result of several elements (one per document) is one signer's: every
//! element must be signed by the same certificate, not merely by certificates
//! that carry the same name.
//!
//! Not here: fetching the result and reading the person out of the provider's
//! answer (the family's adapter and wire types), chain and revocation (the
//! format's own check, [`crate::cms`]). Logs name the provider, the request
//! and the check that failed; never the person or the certificate's name.

use crate::adapter::Pending;
use crate::assertion::{CmsEvidence, Evidence, ProviderId};
use crate::cms::{self, TrustAnchors};
use crate::error::ProviderError;
use crate::person::{Citizen, Person};
use crate::signer_cn::SignerCn;
use base64::Engine as _;
use tracing::warn;

/// How far a signing time may lie outside the request window: the clocks of
/// the provider's app, its servers and ours differ a little.
pub const SIGNING_SKEW_SECS: u64 = 60;

/// A provider's signature over what it was asked, as the provider sent it.
pub enum SignedResult {
    /// CMS SignedData, DER or BER.
    Cms(Vec<u8>),
}

impl SignedResult {
    /// A CMS the provider sent base64-encoded in the answer's `field`.
    pub fn cms_base64(b64: &str, field: &str) -> Result<Self, ProviderError> {
        base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map(Self::Cms)
            .map_err(|_| ProviderError::Protocol(format!("{field} is not base64")))
    }
}

/// What one provider's results are held to: its trust anchors and the way its
/// CA writes the signer's name.
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    pub provider: &'a ProviderId,
    pub anchors: &'a TrustAnchors,
    pub cn: SignerCn,
}

/// A result whose signature, content and signing time passed; its signer is
/// not yet tied to a person ([`Rules::signer`] does that).
pub struct Signed {
    evidence: Evidence,
    /// The name the signer's certificate states (personal data: never logged).
    signer_name: String,
}

impl std::fmt::Debug for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signed")
            .field("signing_time", &self.evidence.signing_time())
            .field("signer_name", &"..")
            .finish()
    }
}

impl Rules<'_> {
    /// Checks a result's signature (and the signer's chain and revocation at
    /// the signing time), that it signs exactly `content`, and that it was
    /// signed inside the request's window. `element` names the document of a
    /// multi-document result in the log.
    pub fn signature(
        &self,
        result: SignedResult,
        content: cms::Content<'_>,
        pending: &Pending,
        element: Option<usize>,
    ) -> Result<Signed, ProviderError> {
        match result {
            SignedResult::Cms(signed_data) => {
                let checked = cms::verify(
                    &signed_data,
                    &cms::Expect {
                        content,
                        not_before: pending.started_at,
                        not_after: pending.expires_at,
                        skew_secs: SIGNING_SKEW_SECS,
                    },
                    self.anchors,
                )
                .map_err(|e| {
                    warn!(provider = %self.provider, request = %pending.handle, element, error = %e, "provider result failed CMS verification");
                    ProviderError::BadSignature(e)
                })?;
                Ok(Signed {
                    evidence: Evidence::Cms(CmsEvidence {
                        signed_data,
                        signing_time: checked.signing_time,
                        signer_issuer: checked.signer_issuer,
                        signer_serial: checked.signer_serial,
                        signer_cn: self.cn,
                    }),
                    signer_name: checked.signer_common_name,
                })
            }
        }
    }

    /// Binds checked results to a person: `person` (what the provider's answer
    /// names) must be the citizen asked, every result's certificate must name
    /// exactly that person in this family's format, and all results must be
    /// signed with one certificate. Only then is there evidence to keep: it is
    /// the only way to get it out of a [`Signed`].
    pub fn signer(
        &self,
        person: &Person,
        who: &Citizen,
        signed: Vec<Signed>,
        pending: &Pending,
    ) -> Result<Vec<Evidence>, ProviderError> {
        let Some(first) = signed.first() else {
            return Err(ProviderError::Protocol("no signed result".into()));
        };
        let refuse = |why: &'static str| {
            warn!(provider = %self.provider, request = %pending.handle, why, "provider result names another person");
            Err(ProviderError::WrongSigner)
        };
        if !person.is(who) {
            return refuse("the answer names another person than the one asked");
        }
        if !signed
            .iter()
            .all(|s| self.cn.names(&person.name, &s.signer_name))
        {
            return refuse("the certificate names another person than the answer");
        }
        if !signed
            .iter()
            .all(|s| s.evidence.same_signer(&first.evidence))
        {
            return refuse("the elements are signed with different certificates");
        }
        Ok(signed.into_iter().map(|s| s.evidence).collect())
    }

    /// The usual case, one result: [`Self::signature`] then [`Self::signer`].
    pub fn bind_one(
        &self,
        signed: Signed,
        person: &Person,
        who: &Citizen,
        pending: &Pending,
    ) -> Result<Evidence, ProviderError> {
        self.signer(person, who, vec![signed], pending)?
            .pop()
            .ok_or_else(|| ProviderError::Protocol("no signed result".into()))
    }
}
