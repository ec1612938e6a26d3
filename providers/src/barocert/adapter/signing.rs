//! The barocert adapter as a [`DocumentSigner`]: the broker's `Sign` (one
//! document) and `MultiSign` (several) APIs, on the identity API's machinery
//! (session token, `x-bc-auth` HMAC, AES-GCM fields, one refusal table).
//!
//! The gateway always asks for `tokenType: "HASH"` with `token` = base64 of the
//! document's SHA-256 (encrypted like every personal field). The request decides
//! the API: one document → `Sign`, several → `MultiSign`; more than the
//! product's [`BarocertProduct::max_documents`] is refused here, before any HTTP,
//! so status and verify of a request always take the same path as its start.
//! Every returned CMS is verified completely against its own document in the
//! product's [`SignedForm`] (Kakao, PASS, Toss: attached content == the digest;
//! Naver: detached, `messageDigest` == the digest), and every signer certificate
//! must name the person asked: one bad element fails the whole result with that
//! element's reason.
//!
//! Not here: the wire shapes (`wire.rs`) or the product rules (`mod.rs`), which
//! the module docs of [`crate::barocert`] explain with what is modelled.

use base64::Engine as _;
use http::Method;
use tracing::info;

use super::{crypto, encrypt, local_bad_request, now_secs, BarocertAdapter};
use crate::adapter::{Pending, Status};
use crate::barocert::wire::{
    IdentityReceipt, IdentityResult, MultiSignRequest, MultiSignResult, MultiSignToken, Receiver,
    SignRequest,
};
use crate::barocert::{ApiKind, BarocertProduct, MultiTokenTitle, TokenType};
use crate::cms;
use crate::error::ProviderError;
use crate::person::Citizen;
use crate::signing::{
    Document, DocumentSigner, SignRequest as Ask, SignedDocument, SignedForm, SignedResult,
};

/// The code of a request refused locally for carrying too many documents.
pub const TOO_MANY_DOCUMENTS: &str = "too_many_documents";

fn hash_token(doc: &Document) -> String {
    base64::engine::general_purpose::STANDARD.encode(doc.sha256)
}

impl BarocertAdapter {
    /// The API a request takes: `Sign` for one document, `MultiSign` for more;
    /// none or more than the product allows is refused before any HTTP.
    fn sign_kind(&self, ask: &Ask) -> Result<ApiKind, ProviderError> {
        let n = ask.documents.len();
        let max = self.product.max_documents();
        if n == 0 {
            return Err(local_bad_request("a signing request needs a document"));
        }
        if n > max {
            return Err(ProviderError::BadRequest {
                code: TOO_MANY_DOCUMENTS.into(),
                message: format!(
                    "{} signs at most {max} document(s) per request, asked {n}",
                    self.product.name()
                ),
            });
        }
        Ok(if n == 1 {
            ApiKind::Sign
        } else {
            ApiKind::MultiSign
        })
    }

    /// A title as the broker takes it: trimmed, cut to the product's length,
    /// non-empty, no control characters.
    fn title(&self, raw: &str, what: &str) -> Result<String, ProviderError> {
        let t: String = raw
            .trim()
            .chars()
            .take(self.product.max_title_chars())
            .collect();
        if t.is_empty() || t.chars().any(char::is_control) {
            return Err(local_bad_request(&format!("{what} must be non-empty text")));
        }
        Ok(t)
    }

    fn sign_body(&self, who: &Citizen, ask: &Ask, ttl: u32) -> Result<Vec<u8>, ProviderError> {
        let key = self.secret.key();
        let p = self.product;
        let doc = ask
            .documents
            .first()
            .ok_or_else(|| local_bad_request("a signing request needs a document"))?;
        let title = self.title(&ask.title, "request title")?;
        let doc_title = self.title(&doc.title, "document title")?;
        let message = p.sign_takes_message();
        let pass = p == BarocertProduct::Pass;
        let req = SignRequest {
            receiver_hp: encrypt(key, &who.phone.national())?,
            receiver_name: encrypt(key, who.name.expose())?,
            receiver_birthday: encrypt(key, &who.birthdate.yyyymmdd())?,
            req_title: title,
            req_message: message.then(|| encrypt(key, &doc_title)).transpose()?,
            call_center_num: if message {
                self.call_center_num.clone()
            } else {
                None
            },
            expire_in: ttl,
            token: encrypt(key, &hash_token(doc))?,
            token_type: TokenType::Hash.wire().into(),
            user_agreement_yn: pass.then_some(true),
            receiver_info_yn: pass.then_some(true),
            return_url: None,
            app_use_yn: false,
        };
        serde_json::to_vec(&req).map_err(|e| ProviderError::Config(format!("sign request: {e}")))
    }

    fn multi_sign_body(
        &self,
        who: &Citizen,
        ask: &Ask,
        ttl: u32,
    ) -> Result<Vec<u8>, ProviderError> {
        let key = self.secret.key();
        let p = self.product;
        let title = self.title(&ask.title, "request title")?;
        let per_token_type = p.multi_token_type_per_token();
        let tokens = ask
            .documents
            .iter()
            .map(|doc| {
                let doc_title = self.title(&doc.title, "document title")?;
                let (sign_title, req_title) = match p.multi_token_title() {
                    MultiTokenTitle::SignTitle => (Some(doc_title), None),
                    MultiTokenTitle::ReqTitle => (None, Some(doc_title)),
                    MultiTokenTitle::None => (None, None),
                };
                Ok(MultiSignToken {
                    sign_title,
                    req_title,
                    token_type: per_token_type.then(|| TokenType::Hash.wire().into()),
                    token: encrypt(key, &hash_token(doc))?,
                })
            })
            .collect::<Result<Vec<_>, ProviderError>>()?;
        let message = p.multi_takes_message();
        let req = MultiSignRequest {
            receiver_hp: encrypt(key, &who.phone.national())?,
            receiver_name: encrypt(key, who.name.expose())?,
            receiver_birthday: encrypt(key, &who.birthdate.yyyymmdd())?,
            req_title: p.multi_takes_title().then(|| title.clone()),
            req_message: message.then(|| encrypt(key, &title)).transpose()?,
            call_center_num: if message {
                self.call_center_num.clone()
            } else {
                None
            },
            expire_in: ttl,
            token_type: (!per_token_type).then(|| TokenType::Hash.wire().into()),
            tokens,
            return_url: None,
            app_use_yn: false,
        };
        serde_json::to_vec(&req)
            .map_err(|e| ProviderError::Config(format!("multi-sign request: {e}")))
    }

    /// Checks every element against its document, then the person, and builds
    /// the result in document order.
    fn signed_result(
        &self,
        who: &Citizen,
        ask: &Ask,
        pending: &Pending,
        receiver: &Receiver,
        elements: &[String],
    ) -> Result<SignedResult, ProviderError> {
        if elements.len() != ask.documents.len() {
            return Err(ProviderError::Protocol(format!(
                "{} signed elements for {} documents",
                elements.len(),
                ask.documents.len()
            )));
        }
        let form = self.product.signed_form();
        let rules = self.rules();
        let mut checked = Vec::with_capacity(elements.len());
        for (i, (b64, doc)) in elements.iter().zip(&ask.documents).enumerate() {
            let content = match form {
                SignedForm::Digest => cms::Content::Attached(&doc.sha256),
                SignedForm::DetachedDigest => cms::Content::DetachedSha256(&doc.sha256),
            };
            let result = crate::binding::SignedResult::cms_base64(b64, "signedData")?;
            checked.push(rules.signature(result, content, pending, Some(i))?);
        }
        // Sign results carry the receiver's phone for every product.
        let person = self.person_from(receiver, who, true)?;
        let evidence = rules.signer(&person, who, checked, pending)?;
        info!(
            provider = %self.id,
            receipt = %pending.handle,
            documents = evidence.len(),
            "barocert signing verified"
        );
        Ok(SignedResult {
            person,
            documents: evidence
                .into_iter()
                .map(|evidence| SignedDocument { form, evidence })
                .collect(),
            amr: self.amr(),
        })
    }
}

#[async_trait::async_trait]
impl DocumentSigner for BarocertAdapter {
    fn max_documents(&self) -> usize {
        self.product.max_documents()
    }

    async fn start_sign(&self, who: &Citizen, ask: &Ask) -> Result<Pending, ProviderError> {
        let started_at = now_secs();
        let kind = self.sign_kind(ask)?;
        let ttl = self.effective_ttl(ask.ttl_secs);
        let body = match kind {
            ApiKind::MultiSign => self.multi_sign_body(who, ask, ttl)?,
            ApiKind::Sign | ApiKind::Identity => self.sign_body(who, ask, ttl)?,
        };
        let path = format!(
            "/{}/{}/{}",
            self.product.path_segment(),
            kind.segment(),
            self.client_code
        );
        let resp = self
            .call("sign-request", Method::POST, &path, &body)
            .await?;
        let receipt: IdentityReceipt = resp.json()?;
        if !crypto::is_digits(&receipt.receipt_id, 32) {
            return Err(ProviderError::Protocol("receiptID is not 32 digits".into()));
        }
        info!(
            provider = %self.id,
            receipt = %receipt.receipt_id,
            api = kind.segment(),
            documents = ask.documents.len(),
            ttl_secs = ttl,
            "barocert signing requested"
        );
        Ok(Pending {
            handle: receipt.receipt_id,
            started_at,
            expires_at: started_at + u64::from(ttl),
            app_scheme: receipt.scheme.filter(|s| !s.trim().is_empty()),
            market_url: None,
            qr: None,
        })
    }

    async fn sign_status(&self, ask: &Ask, pending: &Pending) -> Result<Status, ProviderError> {
        let kind = self.sign_kind(ask)?;
        self.receipt_status(kind, pending).await
    }

    async fn verify_sign(
        &self,
        who: &Citizen,
        ask: &Ask,
        pending: &Pending,
    ) -> Result<SignedResult, ProviderError> {
        let kind = self.sign_kind(ask)?;
        let resp = self.fetch_result(kind, who, pending).await?;
        if kind == ApiKind::MultiSign {
            let r: MultiSignResult = resp.json()?;
            self.check_receipt(&r.receipt_id, r.state, pending)?;
            self.signed_result(who, ask, pending, &r.receiver, &r.multi_signed_data)
        } else {
            let r: IdentityResult = resp.json()?;
            self.check_receipt(&r.receipt_id, r.state, pending)?;
            let one = [r.signed_data.clone()];
            self.signed_result(who, ask, pending, &r.receiver, &one)
        }
    }
}
