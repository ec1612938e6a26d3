//! Sealing the signing receipt: the gateway's half of `munjigi-receipt`.
//!
//! The schema ([`Receipt`]) and its offline verifier live in `munjigi-receipt`
//! so that what is written here is read back by the very same type. Here: the
//! receipt is filled from the stored request and the provider's result and
//! sealed with the gateway's receipt key (ES256, `typ` [`TYP`]), never the ID
//! token key ([`crate::keys`] says why).

use super::record::SignatureRecord;
use crate::app::App;
use crate::rescue::GatewayError;
use crate::txn::Outcome;
use base64::Engine as _;
use munjigi_providers::Evidence;
pub use munjigi_receipt::{Document as ReceiptDocument, Receipt, Signer, TYP};

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
        .map(|(meta, signed)| {
            // A receipt carries the CMS itself: a format without one would
            // need its own receipt document first.
            let Evidence::Cms(evidence) = &signed.evidence else {
                return Err(GatewayError::invariant(
                    "a signed document without a CMS signature",
                ));
            };
            Ok(ReceiptDocument {
                title: meta.title.clone(),
                media_type: meta.media_type.clone(),
                digest_alg: "SHA-256".into(),
                digest: meta.sha256.clone(),
                form: ReceiptDocument::form_name(signed.form).into(),
                cms: base64::engine::general_purpose::STANDARD.encode(&evidence.signed_data),
                signing_time: evidence.signing_time,
                signer_cert_issuer: evidence.signer_issuer.clone(),
                signer_cert_serial: evidence.signer_serial.clone(),
                signer_cn: evidence.signer_cn,
            })
        })
        .collect::<Result<Vec<_>, GatewayError>>()?;
    let receipt = Receipt {
        iss: app.config.issuer().to_owned(),
        aud: record.client_id.clone(),
        iat: app.clock.now(),
        jti: record.id.clone(),
        title: record.title.clone(),
        signer: Signer {
            sub: sub.to_owned(),
            name: outcome.person.name.expose().to_owned(),
            provider: outcome.provider.as_str().to_owned(),
            acr: outcome.level.acr().to_owned(),
        },
        documents,
    };
    app.keys
        .seal_receipt(TYP, &receipt)
        .map_err(GatewayError::keys)
}
