//! The signing receipt: what was signed, by whom, when, with the provider's own
//! CMS signatures, sealed by the gateway's key.
//!
//! The receipt is a compact JWS (ES256, `typ` [`TYP`]) verifiable against the
//! gateway's `/jwks`, and each CMS inside verifies on its own against the
//! provider's roots, so a site can prove a signature years later without the
//! gateway. The signer is named by the site's pairwise `sub`, the name the
//! provider vouched for, the provider and the level reached; never the CI.
//!
//! A crate of its own (kanidm's `proto` habit) so that the schema is one type,
//! [`Receipt`]: the gateway serialises it when it seals a receipt and the
//! offline verifier ([`verify`], behind `munjigi verify-receipt`) deserialises
//! the very same type, so writer and reader cannot drift apart.
//!
//! Not here: sealing (the gateway holds the keys and decides when a request is
//! complete) and choosing trust anchors from a gateway config (the gateway's
//! config types stay in the gateway).

pub mod verify;

use munjigi_providers::signing::SignedForm;
use munjigi_providers::SignerCn;
use serde::{Deserialize, Serialize};

/// The JWS `typ` of a receipt.
pub const TYP: &str = "munjigi-receipt+jwt";

/// The JWK `use` of the key receipts are sealed with, in the gateway's JWKS
/// (not `sig`: the ID token key never seals receipts, and OIDC libraries skip
/// a key of another `use`).
pub const KEY_USE: &str = "munjigi-receipt";

/// A receipt's claims, in the order they are written.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Receipt {
    /// The gateway's issuer URL.
    pub iss: String,
    /// The site (OIDC client id) the request came from.
    pub aud: String,
    /// When the receipt was sealed, Unix seconds.
    pub iat: u64,
    /// The signing request's id.
    pub jti: String,
    #[serde(default)]
    pub title: String,
    pub signer: Signer,
    pub documents: Vec<Document>,
}

/// Who signed: never the CI.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Signer {
    /// The site's pairwise subject.
    pub sub: String,
    /// The name the provider vouched for.
    pub name: String,
    pub provider: String,
    /// The level reached, as its `acr` URI.
    pub acr: String,
}

/// One signed document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Document {
    pub title: String,
    pub media_type: String,
    /// Always `SHA-256` when written; anything else is refused when read.
    pub digest_alg: String,
    /// SHA-256 of the document, hex.
    pub digest: String,
    /// `digest`: the CMS content is the 32 digest bytes; `detached_digest`: the
    /// CMS is detached and verifies over the document itself
    /// ([`Document::form_name`] writes it). Kept as text so a receipt with
    /// another form still opens and fails on that document alone.
    pub form: String,
    /// The provider's CMS SignedData, standard base64.
    pub cms: String,
    pub signing_time: u64,
    pub signer_cert_issuer: String,
    pub signer_cert_serial: String,
    /// How the signer certificate's CN names the signer (the provider
    /// family's format), for the verifier to apply the adapter's rule.
    /// Receipts from before it was written are all `exact`.
    #[serde(default)]
    pub signer_cn: SignerCn,
}

impl Document {
    /// The `form` text of `form`.
    pub fn form_name(form: SignedForm) -> &'static str {
        match form {
            SignedForm::Digest => "digest",
            SignedForm::DetachedDigest => "detached_digest",
        }
    }

    /// The form `form` names, if it is one.
    pub fn signed_form(&self) -> Option<SignedForm> {
        match self.form.as_str() {
            "digest" => Some(SignedForm::Digest),
            "detached_digest" => Some(SignedForm::DetachedDigest),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt() -> Receipt {
        Receipt {
            iss: "https://gw.example".into(),
            aud: "town".into(),
            iat: 1_800_000_000,
            jti: "req-1".into(),
            title: "전입 신고".into(),
            signer: Signer {
                sub: "s".repeat(43),
                name: "홍길동".into(),
                provider: "kakao".into(),
                acr: "urn:munjigi:acr:substantial".into(),
            },
            documents: vec![Document {
                title: "전입신고서".into(),
                media_type: "application/pdf".into(),
                digest_alg: "SHA-256".into(),
                digest: "ab".repeat(32),
                form: Document::form_name(SignedForm::DetachedDigest).into(),
                cms: "MIIB".into(),
                signing_time: 1_800_000_000,
                signer_cert_issuer: "CN=Test CA".into(),
                signer_cert_serial: "01AB".into(),
                signer_cn: SignerCn::NameParenDigits,
            }],
        }
    }

    /// What the gateway writes is what the verifier reads, field for field and
    /// in the order the receipt has always been written.
    #[test]
    fn written_and_read_by_the_same_type() {
        let json = serde_json::to_string(&receipt()).unwrap();
        let back: Receipt = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        let order = [
            "\"iss\"",
            "\"aud\"",
            "\"iat\"",
            "\"jti\"",
            "\"title\"",
            "\"signer\"",
            "\"documents\"",
        ];
        let at: Vec<usize> = order.iter().map(|k| json.find(k).unwrap()).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{json}");
        assert_eq!(
            back.documents[0].signed_form(),
            Some(SignedForm::DetachedDigest)
        );
        assert!(json.contains("\"signer_cn\":\"name_paren_digits\""));
    }

    /// Receipts sealed before `title` and `signer_cn` were written still read.
    #[test]
    fn older_receipts_still_read() {
        let mut v = serde_json::to_value(receipt()).unwrap();
        v.as_object_mut().unwrap().remove("title");
        v["documents"][0]
            .as_object_mut()
            .unwrap()
            .remove("signer_cn");
        let r: Receipt = serde_json::from_value(v).unwrap();
        assert_eq!(r.title, "");
        assert_eq!(r.documents[0].signer_cn, SignerCn::Exact);
    }

    /// The form names are the ones `SignedForm` serialises to.
    #[test]
    fn form_names_match_the_signed_form() {
        for f in [SignedForm::Digest, SignedForm::DetachedDigest] {
            let json = serde_json::to_value(f).unwrap_or_default();
            assert_eq!(json.as_str(), Some(Document::form_name(f)));
        }
    }
}
