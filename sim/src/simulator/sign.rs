//! The simulated broker's document-signing requests (전자서명 요청): `POST
//! /{P}/Sign/{clientCode}` (one document) and `POST /{P}/MultiSign/{clientCode}`
//! (several), parsed as strictly as the identity request: each product's own
//! fields and no others ([`munjigi_providers::barocert`] lists them), titles, `expireIn`,
//! token types and tokens, and the document count. A `HASH` token must be
//! base64 of a SHA-256 digest (32 bytes); a `TEXT` token up to
//! [`MAX_TEXT_TOKEN_CHARS`]. The accepted request becomes a receipt like an
//! identity request's; status, verify and signing are shared (`routes.rs`,
//! `people.rs`).
//!
//! Not here: HTTP routing and access checks (`routes.rs`).

use base64::Engine as _;

use super::routes::{check_expire_in, require_call_center, NewReceipt};
use super::state::SimToken;
use super::{Rp, Simulator};
use crate::simulator::wire::barocert::{MultiSignRequest, SignRequest};
use munjigi_providers::barocert::codes::BrokerCode;
use munjigi_providers::barocert::{crypto, ApiKind, BarocertProduct, MultiTokenTitle, TokenType};

/// Longest `TEXT` token, characters (modelled).
pub(crate) const MAX_TEXT_TOKEN_CHARS: usize = 2800;

type Reply = http::Response<http_body_util::Full<bytes::Bytes>>;

fn check_title(product: BarocertProduct, t: Option<&str>) -> Result<String, BrokerCode> {
    let t = t.map(str::trim).unwrap_or_default();
    let n = t.chars().count();
    if n == 0 || n > product.max_title_chars() {
        return Err(BrokerCode::BadTitle);
    }
    Ok(t.to_owned())
}

/// A decrypted token of `token_type`, as the app will sign it.
fn token(rp: &Rp, token_type: Option<&str>, encrypted: &str) -> Result<SimToken, BrokerCode> {
    let token_type = token_type
        .and_then(TokenType::from_wire)
        .ok_or(BrokerCode::BadToken)?;
    let plain = crypto::decrypt_field(&rp.key, encrypted).map_err(|_| BrokerCode::Undecryptable)?;
    let content = match token_type {
        TokenType::Text => {
            let n = plain.chars().count();
            if n == 0 || n > MAX_TEXT_TOKEN_CHARS {
                return Err(BrokerCode::BadToken);
            }
            plain.into_bytes()
        }
        TokenType::Hash => base64::engine::general_purpose::STANDARD
            .decode(plain.trim())
            .ok()
            .filter(|d| d.len() == 32)
            .ok_or(BrokerCode::BadToken)?,
    };
    Ok(SimToken {
        token_type,
        content,
    })
}

impl Simulator {
    /// `POST /{P}/Sign/{clientCode}`: one document.
    pub(crate) fn create_sign(
        &self,
        rp: &Rp,
        product: BarocertProduct,
        body: &[u8],
    ) -> Result<Reply, BrokerCode> {
        let req: SignRequest = serde_json::from_slice(body).map_err(|_| BrokerCode::BadBody)?;
        let who = self.receiver(
            rp,
            &req.receiver_hp,
            &req.receiver_name,
            &req.receiver_birthday,
        )?;
        let pass = product == BarocertProduct::Pass;
        let message = product.sign_takes_message();
        if (!message && (req.req_message.is_some() || req.call_center_num.is_some()))
            || (!pass && (req.user_agreement_yn.is_some() || req.receiver_info_yn.is_some()))
        {
            return Err(BrokerCode::BadBody);
        }
        let title = check_title(product, Some(&req.req_title))?;
        if message {
            let m = req.req_message.as_deref().ok_or(BrokerCode::BadTitle)?;
            let m = crypto::decrypt_field(&rp.key, m).map_err(|_| BrokerCode::Undecryptable)?;
            if m.trim().is_empty() {
                return Err(BrokerCode::BadTitle);
            }
            require_call_center(req.call_center_num.as_deref())?;
        }
        check_expire_in(product, req.expire_in)?;
        let token = token(rp, Some(&req.token_type), &req.token)?;
        self.open_receipt(
            rp,
            NewReceipt {
                product,
                kind: ApiKind::Sign,
                who,
                title,
                expire_in: req.expire_in,
                tokens: Some(vec![token]),
                receiver_info: !pass || req.receiver_info_yn == Some(true),
                return_url: req.return_url,
                app_use: req.app_use_yn,
                market_url: None,
            },
        )
    }

    /// `POST /{P}/MultiSign/{clientCode}`: several documents (not PASS: the
    /// route does not exist for it).
    pub(crate) fn create_multi_sign(
        &self,
        rp: &Rp,
        product: BarocertProduct,
        body: &[u8],
    ) -> Result<Reply, BrokerCode> {
        let req: MultiSignRequest =
            serde_json::from_slice(body).map_err(|_| BrokerCode::BadBody)?;
        let who = self.receiver(
            rp,
            &req.receiver_hp,
            &req.receiver_name,
            &req.receiver_birthday,
        )?;
        let message = product.multi_takes_message();
        let per_token_type = product.multi_token_type_per_token();
        if (!product.multi_takes_title() && req.req_title.is_some())
            || (!message && (req.req_message.is_some() || req.call_center_num.is_some()))
            || (per_token_type && req.token_type.is_some())
        {
            return Err(BrokerCode::BadBody);
        }
        let title = if product.multi_takes_title() {
            check_title(product, req.req_title.as_deref())?
        } else {
            String::new()
        };
        if message {
            let m = req.req_message.as_deref().ok_or(BrokerCode::BadTitle)?;
            let m = crypto::decrypt_field(&rp.key, m).map_err(|_| BrokerCode::Undecryptable)?;
            if m.trim().is_empty() {
                return Err(BrokerCode::BadTitle);
            }
            require_call_center(req.call_center_num.as_deref())?;
        }
        check_expire_in(product, req.expire_in)?;
        if req.tokens.is_empty() || req.tokens.len() > product.max_documents() {
            return Err(BrokerCode::BadTokenCount);
        }
        let tokens = req
            .tokens
            .iter()
            .map(|t| {
                let (wanted, unwanted) = match product.multi_token_title() {
                    MultiTokenTitle::SignTitle => (Some(&t.sign_title), Some(&t.req_title)),
                    MultiTokenTitle::ReqTitle => (Some(&t.req_title), Some(&t.sign_title)),
                    MultiTokenTitle::None => (None, None),
                };
                let stray_title = match product.multi_token_title() {
                    MultiTokenTitle::None => t.sign_title.is_some() || t.req_title.is_some(),
                    _ => unwanted.is_some_and(Option::is_some),
                };
                if stray_title || (!per_token_type && t.token_type.is_some()) {
                    return Err(BrokerCode::BadBody);
                }
                if let Some(wanted) = wanted {
                    check_title(product, wanted.as_deref())?;
                }
                let token_type = if per_token_type {
                    t.token_type.as_deref()
                } else {
                    req.token_type.as_deref()
                };
                token(rp, token_type, &t.token)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.open_receipt(
            rp,
            NewReceipt {
                product,
                kind: ApiKind::MultiSign,
                who,
                title,
                expire_in: req.expire_in,
                tokens: Some(tokens),
                receiver_info: true,
                return_url: req.return_url,
                app_use: req.app_use_yn,
                market_url: None,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_simulator;
    use super::*;
    use crate::simulator::wire::barocert::MultiSignToken;

    fn enc(rp: &Rp, s: &str) -> String {
        crypto::encrypt_field(&rp.key, s).unwrap()
    }

    fn hash(rp: &Rp) -> String {
        enc(
            rp,
            &base64::engine::general_purpose::STANDARD.encode(openssl::sha::sha256(b"doc")),
        )
    }

    fn sign_req(rp: &Rp, product: BarocertProduct) -> SignRequest {
        let message = product.sign_takes_message();
        let pass = product == BarocertProduct::Pass;
        SignRequest {
            receiver_hp: enc(rp, "01012345678"),
            receiver_name: enc(rp, "홍길동"),
            receiver_birthday: enc(rp, "19900131"),
            req_title: "전자서명".into(),
            req_message: message.then(|| enc(rp, "계약서")),
            call_center_num: message.then(|| "1600-0000".into()),
            expire_in: product.max_ttl_secs(),
            token: hash(rp),
            token_type: "HASH".into(),
            user_agreement_yn: pass.then_some(true),
            receiver_info_yn: pass.then_some(true),
            return_url: None,
            app_use_yn: false,
        }
    }

    fn multi_req(rp: &Rp, product: BarocertProduct, n: usize) -> MultiSignRequest {
        let per = product.multi_token_type_per_token();
        let title = product.multi_token_title();
        MultiSignRequest {
            receiver_hp: enc(rp, "01012345678"),
            receiver_name: enc(rp, "홍길동"),
            receiver_birthday: enc(rp, "19900131"),
            req_title: product.multi_takes_title().then(|| "전자서명".into()),
            req_message: product.multi_takes_message().then(|| enc(rp, "계약서")),
            call_center_num: product.multi_takes_message().then(|| "1600-0000".into()),
            expire_in: 300,
            token_type: (!per).then(|| "HASH".into()),
            tokens: (0..n)
                .map(|_| MultiSignToken {
                    sign_title: (title == MultiTokenTitle::SignTitle).then(|| "문서".into()),
                    req_title: (title == MultiTokenTitle::ReqTitle).then(|| "문서".into()),
                    token_type: per.then(|| "HASH".into()),
                    token: hash(rp),
                })
                .collect(),
            return_url: None,
            app_use_yn: false,
        }
    }

    fn body<T: serde::Serialize>(v: &T) -> Vec<u8> {
        serde_json::to_vec(v).unwrap()
    }

    #[test]
    fn sign_requests_are_checked_per_product() {
        let (sim, rp) = test_simulator("sign-unit");
        let code = |r: Result<Reply, BrokerCode>| r.err();
        for p in BarocertProduct::ALL {
            assert_eq!(
                code(sim.create_sign(&rp, p, &body(&sign_req(&rp, p)))),
                None,
                "{p:?}"
            );
            let mut r = sign_req(&rp, p);
            r.expire_in = p.max_ttl_secs() + 1;
            assert_eq!(
                code(sim.create_sign(&rp, p, &body(&r))),
                Some(BrokerCode::BadExpireIn)
            );
            let mut r = sign_req(&rp, p);
            r.token_type = "PDF".into();
            assert_eq!(
                code(sim.create_sign(&rp, p, &body(&r))),
                Some(BrokerCode::BadToken)
            );
            // A HASH token is base64 of 32 bytes.
            let mut r = sign_req(&rp, p);
            r.token = enc(&rp, "not a digest");
            assert_eq!(
                code(sim.create_sign(&rp, p, &body(&r))),
                Some(BrokerCode::BadToken)
            );
            let mut r = sign_req(&rp, p);
            r.req_title = " ".into();
            assert_eq!(
                code(sim.create_sign(&rp, p, &body(&r))),
                Some(BrokerCode::BadTitle)
            );
            // A field the product does not take, or a missing one it requires.
            let mut r = sign_req(&rp, p);
            if p.sign_takes_message() {
                r.call_center_num = None;
                assert_eq!(
                    code(sim.create_sign(&rp, p, &body(&r))),
                    Some(BrokerCode::BadCallCenter)
                );
            } else {
                r.req_message = Some(enc(&rp, "x"));
                assert_eq!(
                    code(sim.create_sign(&rp, p, &body(&r))),
                    Some(BrokerCode::BadBody)
                );
            }
        }
    }

    #[test]
    fn multi_sign_requests_are_checked_per_product() {
        let (sim, rp) = test_simulator("multi-unit");
        let code = |r: Result<Reply, BrokerCode>| r.err();
        for p in [
            BarocertProduct::Kakao,
            BarocertProduct::Naver,
            BarocertProduct::Toss,
        ] {
            let max = p.max_documents();
            assert_eq!(
                code(sim.create_multi_sign(&rp, p, &body(&multi_req(&rp, p, max)))),
                None,
                "{p:?}"
            );
            for n in [0, max + 1] {
                assert_eq!(
                    code(sim.create_multi_sign(&rp, p, &body(&multi_req(&rp, p, n)))),
                    Some(BrokerCode::BadTokenCount),
                    "{p:?} {n}"
                );
            }
            // The token type where the product does not take it.
            let mut r = multi_req(&rp, p, 2);
            if p.multi_token_type_per_token() {
                r.token_type = Some("HASH".into());
            } else if let Some(t) = r.tokens.first_mut() {
                t.token_type = Some("HASH".into());
            }
            assert_eq!(
                code(sim.create_multi_sign(&rp, p, &body(&r))),
                Some(BrokerCode::BadBody),
                "{p:?}"
            );
            // A per-document title field of another product.
            let mut r = multi_req(&rp, p, 2);
            if let Some(t) = r.tokens.first_mut() {
                if t.sign_title.is_some() {
                    t.req_title = Some("x".into());
                } else {
                    t.sign_title = Some("x".into());
                }
            }
            assert_eq!(
                code(sim.create_multi_sign(&rp, p, &body(&r))),
                Some(BrokerCode::BadBody),
                "{p:?}"
            );
        }
        // Kakao's one tokenType is required.
        let mut r = multi_req(&rp, BarocertProduct::Kakao, 2);
        r.token_type = None;
        assert_eq!(
            code(sim.create_multi_sign(&rp, BarocertProduct::Kakao, &body(&r))),
            Some(BrokerCode::BadToken)
        );
    }
}
