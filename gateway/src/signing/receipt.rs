//! The signing receipt: what was signed, by whom, when, with the provider's own
//! CMS signatures, sealed by the gateway's key.
//!
//! The receipt is a compact JWS (ES256, `typ` `munjigi-receipt+jwt`) verifiable
//! against `/jwks`, and each CMS inside verifies on its own against the
//! provider's roots, so a site can prove a signature years later without the
//! gateway. The signer is named by the site's pairwise `sub`, the name the
//! provider vouched for, the provider and the level reached; never the CI.

use super::record::SignatureRecord;
use crate::app::App;
use crate::config::model::IdTokenAlg;
use crate::rescue::GatewayError;
use crate::txn::Outcome;
use base64::Engine as _;
use munjigi_providers::signing::SignedForm;
use serde::Serialize;

pub const TYP: &str = "munjigi-receipt+jwt";

#[derive(Debug, Serialize)]
pub struct ReceiptDocument<'a> {
    pub title: &'a str,
    pub media_type: &'a str,
    pub digest_alg: &'static str,
    /// SHA-256 of the document, hex.
    pub digest: &'a str,
    /// `digest`: the CMS content is the 32 digest bytes; `detached_digest`: the
    /// CMS is detached and verifies over the document itself.
    pub form: SignedForm,
    /// The provider's CMS SignedData, standard base64.
    pub cms: String,
    pub signing_time: u64,
    pub signer_cert_issuer: &'a str,
    pub signer_cert_serial: &'a str,
    /// How the signer certificate's CN names the signer (the provider
    /// family's format), for the verifier to apply the adapter's rule.
    pub signer_cn: munjigi_providers::SignerCn,
}

#[derive(Debug, Serialize)]
pub struct Signer<'a> {
    pub sub: &'a str,
    pub name: &'a str,
    pub provider: &'a str,
    pub acr: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Receipt<'a> {
    pub iss: &'a str,
    pub aud: &'a str,
    pub iat: u64,
    pub jti: &'a str,
    pub title: &'a str,
    pub signer: Signer<'a>,
    pub documents: Vec<ReceiptDocument<'a>>,
}

/// Builds and signs the receipt; `sub` is the site's pairwise subject.
pub fn seal(
    app: &App,
    record: &SignatureRecord,
    outcome: &Outcome,
    sub: &str,
) -> Result<String, GatewayError> {
    if outcome.signed.len() != record.documents.len() {
        return Err(GatewayError::invariant(
            "signed documents do not match the request",
        ));
    }
    let documents = record
        .documents
        .iter()
        .zip(&outcome.signed)
        .map(|(meta, signed)| ReceiptDocument {
            title: &meta.title,
            media_type: &meta.media_type,
            digest_alg: "SHA-256",
            digest: &meta.sha256,
            form: signed.form,
            cms: base64::engine::general_purpose::STANDARD.encode(&signed.evidence.signed_data),
            signing_time: signed.evidence.signing_time,
            signer_cert_issuer: &signed.evidence.signer_issuer,
            signer_cert_serial: &signed.evidence.signer_serial,
            signer_cn: signed.evidence.signer_cn,
        })
        .collect();
    let receipt = Receipt {
        iss: app.config.issuer(),
        aud: &record.client_id,
        iat: app.clock.now(),
        jti: &record.id,
        title: &record.title,
        signer: Signer {
            sub,
            name: outcome.person.name.expose(),
            provider: outcome.provider.as_str(),
            acr: outcome.level.acr(),
        },
        documents,
    };
    app.keys
        .sign(IdTokenAlg::Es256, TYP, &receipt)
        .map_err(GatewayError::keys)
}
