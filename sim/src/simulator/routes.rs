//! The simulated broker's HTTP surface: routing, the broker's access checks in
//! the order it applies them, and the four endpoints (token, request, status,
//! verify) for Kakao, Naver, PASS and Toss plus `GET /health`. Status and verify
//! serve the identity and the signing APIs alike (the signing requests are
//! parsed in `sign.rs`). Each product's
//! own rules come from [`BarocertProduct`]: which request fields it takes, what
//! its app signs, its state codes, its verify path, body, deadline and whether
//! the result is one-shot, and what its result carries.
//!
//! Every refusal is a [`BrokerCode`] answered as `{"code", "message"}` with the
//! code's HTTP status. Logs carry receipt ids, scenarios and codes; never names,
//! phone numbers, tokens or keys.
//!
//! Not here: state rules ([`super::state`]), people and signing ([`super::people`]).

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use tracing::{debug, info};

use super::people::{SignJob, Subject};
use super::state::{Phase, Receipt, SimToken, TokenInfo};
use super::{Rp, Scenario, Simulator};
use crate::simulator::wire::barocert::{
    ErrorBody, IdentityReceipt, IdentityRequest, IdentityResult, IdentityStatus,
    IdentityVerifyRequest, MultiSignResult, Receiver, TokenRequest, TokenResponse,
};
use munjigi_providers::barocert::codes::BrokerCode;
use munjigi_providers::barocert::{crypto, ApiKind, BarocertProduct, NonceRule, TokenType};
use munjigi_providers::person::{BirthDate, Gender, Name, Phone};

/// Largest request body the simulator reads.
const MAX_BODY: usize = 64 * 1024;

type Reply = Response<Full<Bytes>>;

fn json_reply<T: serde::Serialize>(status: StatusCode, v: &T) -> Reply {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=utf8"),
    );
    r
}

pub(crate) fn refuse(code: BrokerCode) -> Reply {
    json_reply(
        StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
        &ErrorBody {
            code: code.code(),
            message: code.message().to_owned(),
        },
    )
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// The app-to-app URL a product returns when `appUseYN` is set.
fn app_scheme(product: BarocertProduct, receipt_id: &str) -> String {
    match product {
        BarocertProduct::Kakao => format!("kakaotalk://kakaopay/cert/sign?tx_id={receipt_id}"),
        BarocertProduct::Naver => format!("naversearchapp://cert/identity?receiptID={receipt_id}"),
        BarocertProduct::Pass => format!("passcert://identity?receiptID={receipt_id}"),
        BarocertProduct::Toss => format!("supertoss://cert/identity?receiptID={receipt_id}"),
    }
}

impl Simulator {
    pub(crate) async fn handle(&self, req: http::Request<Incoming>) -> Reply {
        if !req
            .uri()
            .path()
            .starts_with(super::misbehave::CONTROL_PREFIX)
        {
            self.control
                .note_trace(req.method(), req.uri().path(), req.headers());
        }
        // A provider-wide outage acts before anything else, starts included.
        if let Some(r) = self.outage(req.uri().path()).await {
            return r;
        }
        // Kakao direct (family C) has its own surface under its own prefix.
        if req.uri().path().starts_with(super::kakao_direct::PREFIX) {
            return self.kakao_direct_handle(req).await;
        }
        // Banks described by config (family D), under `/bank/{name}/`.
        if req.uri().path().starts_with(super::bank::PREFIX) {
            return self.bank_handle(req).await;
        }
        // Toss direct (family B) likewise, under its own prefix.
        if req.uri().path().starts_with(super::toss_direct::PREFIX) {
            return self.toss_direct_handle(req).await;
        }
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return refuse(BrokerCode::BadBody),
        };
        let path = parts.uri.path().to_owned();
        if path.starts_with(super::app::PREFIX) {
            let query = parts.uri.query().unwrap_or_default();
            return self.app_handle(&parts.method, &path, query, &body);
        }
        if path == super::mobile_id::PUSH_PATH && parts.method == Method::POST {
            return json_reply(StatusCode::OK, &self.mobile_id_push(&body));
        }
        // The control API (`misbehave.rs`), and the provider's own misbehaviour
        // on status and verify calls (maintenance, 5xx, slow, hung).
        if let Some(name) = path.strip_prefix(super::misbehave::STATUS_LIST_PREFIX) {
            return match self.control.status_list(name) {
                Some(t) if parts.method == Method::GET => Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/statuslist+jwt")
                    .body(Full::new(Bytes::from(t)))
                    .unwrap_or_default(),
                _ => json_reply(
                    StatusCode::NOT_FOUND,
                    &serde_json::json!({"error": "not_found"}),
                ),
            };
        }
        if path.starts_with(super::misbehave::CRL_PREFIX) {
            return self.serve_crl(&parts.method, &path);
        }
        if path.starts_with(super::misbehave::CONTROL_PREFIX) {
            return self.control(&parts.method, &path, &parts.headers, &body);
        }
        if let Some(r) = self.service_misbehaviour(&parts.method, &path).await {
            return r;
        }
        let signed_uri = parts
            .uri
            .path_and_query()
            .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
        let result = self.route(&parts.method, &path, &signed_uri, &parts.headers, &body);
        match result {
            Ok(r) => r,
            Err(code) => {
                debug!(method = %parts.method, path = %path, code = code.code(), "simulator refused");
                refuse(code)
            }
        }
    }

    fn route(
        &self,
        method: &Method,
        path: &str,
        signed_uri: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Reply, BrokerCode> {
        if path == "/health" && *method == Method::GET {
            return Ok(json_reply(
                StatusCode::OK,
                &serde_json::json!({"status": "ok"}),
            ));
        }
        if path == format!("/{}/Token", crypto::SERVICE_ID) && *method == Method::POST {
            return self.issue_token(headers, body);
        }
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (product, kind, client_code, receipt, verify_form) = match segs.as_slice() {
            [p, k, cc] => (*p, *k, *cc, None, false),
            [p, k, "Verify", cc, rid] => (*p, *k, *cc, Some(*rid), true),
            [p, k, cc, rid] => (*p, *k, *cc, Some(*rid), false),
            _ => return Err(BrokerCode::NoSuchRoute),
        };
        let product = BarocertProduct::from_path_segment(product).ok_or(BrokerCode::NoSuchRoute)?;
        let kind = ApiKind::from_segment(kind)
            .filter(|k| product.offers(*k))
            .ok_or(BrokerCode::NoSuchRoute)?;
        let authorize = || {
            self.authorize(
                method,
                headers,
                signed_uri,
                body,
                product,
                kind,
                client_code,
            )
        };
        match (method.clone(), receipt) {
            (Method::POST, None) => {
                let rp = authorize()?;
                match kind {
                    ApiKind::Identity => self.create(&rp, product, body),
                    ApiKind::Sign => self.create_sign(&rp, product, body),
                    ApiKind::MultiSign => self.create_multi_sign(&rp, product, body),
                }
            }
            (Method::GET, Some(rid)) if !verify_form => {
                let rp = authorize()?;
                self.status(&rp, product, kind, rid)
            }
            // Each product verifies on its own path form only.
            (Method::POST, Some(rid))
                if product.api_verify_path(kind, client_code, rid) == path =>
            {
                let rp = authorize()?;
                self.verify(&rp, product, kind, rid, body)
            }
            _ => Err(BrokerCode::NoSuchRoute),
        }
    }

    fn clock_ok(&self, date: &str) -> bool {
        let Some(t) = crypto::parse_rfc3339(date) else {
            return false;
        };
        crypto::now_secs().abs_diff(t) <= self.max_clock_skew_secs
    }

    fn rp_by_link(&self, link_id: &str) -> Option<&Rp> {
        self.rps.iter().find(|r| r.link_id == link_id)
    }

    /// `POST /BAROCERT/Token`: Linkhub's token service.
    fn issue_token(&self, headers: &HeaderMap, body: &[u8]) -> Result<Reply, BrokerCode> {
        let auth = header(headers, "authorization").ok_or(BrokerCode::TokenRequest)?;
        let mut parts = auth.split(' ').filter(|s| !s.is_empty());
        let (Some("LINKHUB"), Some(link_id), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(BrokerCode::TokenRequest);
        };
        let rp = self.rp_by_link(link_id).ok_or(BrokerCode::UnknownLinkId)?;
        let version = header(headers, "x-lh-version").ok_or(BrokerCode::TokenRequest)?;
        if version != crypto::AUTH_VERSION {
            return Err(BrokerCode::TokenRequest);
        }
        let date = header(headers, "x-lh-date").ok_or(BrokerCode::TokenClock)?;
        if !self.clock_ok(date) {
            return Err(BrokerCode::TokenClock);
        }
        let forwarded = header(headers, "x-lh-forwarded");
        let uri = format!("/{}/Token", crypto::SERVICE_ID);
        let target = crypto::token_sign_target(body, date, forwarded, version, &uri)
            .map_err(|_| BrokerCode::Internal)?;
        if !crypto::hmac_sha256_matches(&rp.key, target.as_bytes(), sig) {
            return Err(BrokerCode::TokenSignature);
        }
        let req: TokenRequest =
            serde_json::from_slice(body).map_err(|_| BrokerCode::TokenRequest)?;
        if !req.scope.iter().any(|s| s == "partner") {
            return Err(BrokerCode::TokenRequest);
        }
        let raw: [u8; 32] = crypto::random_bytes().map_err(|_| BrokerCode::Internal)?;
        let token = hex::encode(raw);
        let now_ms = crypto::now_ms();
        let expires_secs = crypto::now_secs().saturating_add(self.token_ttl_secs);
        {
            let mut st = self.state.lock().map_err(|_| BrokerCode::Internal)?;
            st.prune(now_ms);
            st.tokens.insert(
                token.clone(),
                TokenInfo {
                    link_id: rp.link_id.clone(),
                    scopes: req.scope.clone(),
                    expires_at_ms: expires_secs.saturating_mul(1000),
                },
            );
        }
        info!(link_id = %rp.link_id, ttl_secs = self.token_ttl_secs, "simulator issued a session token");
        Ok(json_reply(
            StatusCode::OK,
            &TokenResponse {
                session_token: token,
                service_id: crypto::SERVICE_ID.into(),
                link_id: rp.link_id.clone(),
                usercode: String::new(),
                ipaddress: String::new(),
                expiration: crypto::rfc3339_millis(expires_secs),
                scope: req.scope,
            },
        ))
    }

    /// The broker's access checks for an API call, in its order.
    #[allow(clippy::too_many_arguments)]
    fn authorize(
        &self,
        method: &Method,
        headers: &HeaderMap,
        signed_uri: &str,
        body: &[u8],
        product: BarocertProduct,
        kind: ApiKind,
        client_code: &str,
    ) -> Result<Rp, BrokerCode> {
        let bearer = header(headers, "authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(BrokerCode::SessionMissing)?;
        let (link_id, scope_ok) = {
            let st = self.state.lock().map_err(|_| BrokerCode::Internal)?;
            let info = st
                .tokens
                .get(bearer)
                .filter(|t| t.expires_at_ms > crypto::now_ms())
                .ok_or(BrokerCode::SessionInvalid)?;
            (
                info.link_id.clone(),
                info.scopes.iter().any(|s| s == product.scope(kind)),
            )
        };
        if !scope_ok {
            return Err(BrokerCode::ScopeDenied);
        }
        let rp = self
            .rp_by_link(&link_id)
            .ok_or(BrokerCode::SessionInvalid)?
            .clone();
        if header(headers, "x-bc-version") != Some(crypto::API_VERSION) {
            return Err(BrokerCode::BadVersion);
        }
        if *method == Method::POST {
            if header(headers, "x-bc-encryptionmode") != Some(crypto::ENCRYPTION_MODE) {
                return Err(BrokerCode::BadVersion);
            }
            let date = header(headers, "x-bc-date").ok_or(BrokerCode::ClockSkew)?;
            if !self.clock_ok(date) {
                return Err(BrokerCode::ClockSkew);
            }
            let given = header(headers, "x-bc-auth").ok_or(BrokerCode::BadHmac)?;
            let target = crypto::api_sign_target(body, date, signed_uri)
                .map_err(|_| BrokerCode::Internal)?;
            if !crypto::hmac_sha256_matches(&rp.key, target.as_bytes(), given) {
                return Err(BrokerCode::BadHmac);
            }
        }
        if !crypto::is_digits(client_code, 12) {
            return Err(BrokerCode::MalformedClient);
        }
        if rp.client_code != client_code {
            return Err(BrokerCode::UnknownClient);
        }
        Ok(rp)
    }

    /// The receiver fields every request carries, decrypted and checked.
    pub(crate) fn receiver(
        &self,
        rp: &Rp,
        hp: &str,
        name: &str,
        birthday: &str,
    ) -> Result<(Phone, Name, BirthDate), BrokerCode> {
        let dec =
            |f: &str| crypto::decrypt_field(&rp.key, f).map_err(|_| BrokerCode::Undecryptable);
        let hp = dec(hp)?;
        if !(crypto::is_digits(&hp, 10) || crypto::is_digits(&hp, 11)) {
            return Err(BrokerCode::BadPhone);
        }
        let phone = Phone::parse(&hp).map_err(|_| BrokerCode::BadPhone)?;
        let name = Name::parse(&dec(name)?).map_err(|_| BrokerCode::BadName)?;
        let bd = dec(birthday)?;
        if !crypto::is_digits(&bd, 8) {
            return Err(BrokerCode::BadBirthday);
        }
        let birthdate = BirthDate::parse(&bd).map_err(|_| BrokerCode::BadBirthday)?;
        Ok((phone, name, birthdate))
    }

    /// `POST /{P}/Identity/{clientCode}`: 본인인증 요청.
    fn create(&self, rp: &Rp, product: BarocertProduct, body: &[u8]) -> Result<Reply, BrokerCode> {
        let req: IdentityRequest = serde_json::from_slice(body).map_err(|_| BrokerCode::BadBody)?;
        let dec =
            |f: &str| crypto::decrypt_field(&rp.key, f).map_err(|_| BrokerCode::Undecryptable);
        let (phone, name, birthdate) = self.receiver(
            rp,
            &req.receiver_hp,
            &req.receiver_name,
            &req.receiver_birthday,
        )?;
        // Fields the product does not take are refused as a malformed body.
        let pass = product == BarocertProduct::Pass;
        if (!product.takes_title() && req.req_title.is_some())
            || (!product.requires_call_center() && req.call_center_num.is_some())
            || (!pass && (req.user_agreement_yn.is_some() || req.receiver_info_yn.is_some()))
        {
            return Err(BrokerCode::BadBody);
        }
        let title = match &req.req_title {
            Some(t) => t.trim().to_owned(),
            None => String::new(),
        };
        if product.takes_title() {
            let title_len = title.chars().count();
            if title_len == 0 || title_len > product.max_title_chars() {
                return Err(BrokerCode::BadTitle);
            }
        }
        if product.requires_call_center() {
            require_call_center(req.call_center_num.as_deref())?;
        }
        let market_url = check_app_to_app(product, &req)?;
        check_expire_in(product, req.expire_in)?;
        let token = match (product.nonce_rule(), &req.token) {
            (NonceRule::Required { max_chars }, Some(t)) => {
                let token = dec(t)?;
                let n = token.chars().count();
                if n == 0 || n > max_chars {
                    return Err(BrokerCode::BadToken);
                }
                Some(token)
            }
            (NonceRule::Required { .. }, None) => return Err(BrokerCode::BadToken),
            (NonceRule::Absent, None) => None,
            (NonceRule::Absent, Some(_)) => return Err(BrokerCode::BadToken),
        };
        self.open_receipt(
            rp,
            NewReceipt {
                product,
                kind: ApiKind::Identity,
                who: (phone, name, birthdate),
                title,
                expire_in: req.expire_in,
                tokens: token.map(|t| {
                    vec![SimToken {
                        token_type: TokenType::Text,
                        content: t.into_bytes(),
                    }]
                }),
                receiver_info: !pass || req.receiver_info_yn == Some(true),
                return_url: req.return_url,
                app_use: req.app_use_yn,
                market_url,
            },
        )
    }

    /// Resolves the person and stores a new receipt; answers its receiptID.
    pub(crate) fn open_receipt(&self, rp: &Rp, new: NewReceipt) -> Result<Reply, BrokerCode> {
        let (phone, name, birthdate) = &new.who;
        let (asked, scenario) = self.resolve(phone, name, birthdate)?;
        let result_subject = self.result_subject(&asked, scenario);
        let now_ms = crypto::now_ms();
        let mut st = self.state.lock().map_err(|_| BrokerCode::Internal)?;
        st.prune(now_ms);
        let receipt_id = loop {
            let id = new_receipt_id(now_ms)?;
            if !st.receipts.contains_key(&id) {
                break id;
            }
        };
        let scheme = new.app_use.then(|| app_scheme(new.product, &receipt_id));
        let documents = new.tokens.as_ref().map_or(0, Vec::len);
        st.receipts.insert(
            receipt_id.clone(),
            Receipt {
                product: new.product,
                kind: new.kind,
                client_code: rp.client_code.clone(),
                scenario,
                asked,
                result_subject,
                // Naver's app signs content Naver defines: modelled as the receiptID.
                tokens: new.tokens.unwrap_or_else(|| {
                    vec![SimToken {
                        token_type: TokenType::Text,
                        content: receipt_id.clone().into_bytes(),
                    }]
                }),
                receiver_info: new.receiver_info,
                title: new.title,
                expire_in: new.expire_in,
                requested_at_ms: now_ms,
                return_url: new.return_url,
                app_use: new.app_use,
                app_acted_at_ms: None,
                scheme: scheme.clone(),
                signed: None,
                verified_at_ms: None,
            },
        );
        drop(st);
        info!(
            receipt = %receipt_id,
            product = new.product.name(),
            api = new.kind.segment(),
            documents,
            scenario = ?scenario,
            expire_in = new.expire_in,
            "simulator accepted a request"
        );
        Ok(json_reply(
            StatusCode::OK,
            &IdentityReceipt {
                receipt_id,
                scheme,
                market_url: new.market_url,
            },
        ))
    }

    /// Signs the result if the citizen has approved by `now_ms` and it is not
    /// signed yet (outside the state lock: signing may issue a certificate).
    fn ensure_signed(&self, rid: &str, now_ms: u64) -> Result<(), BrokerCode> {
        let job = {
            let st = self.state.lock().map_err(|_| BrokerCode::Internal)?;
            let Some(r) = st.receipts.get(rid) else {
                return Ok(());
            };
            if r.signed.is_some()
                || !matches!(
                    r.phase(now_ms, self.approve_after_ms),
                    Phase::Completed { .. }
                )
            {
                return Ok(());
            }
            SignJob {
                product: r.product,
                kind: r.kind,
                scenario: r.scenario,
                subject: r.result_subject.clone(),
                tokens: r.tokens.clone(),
                requested_at_secs: r.requested_at_ms / 1000,
            }
        };
        let signed = self.sign_result(&job)?;
        let mut st = self.state.lock().map_err(|_| BrokerCode::Internal)?;
        if let Some(r) = st.receipts.get_mut(rid) {
            if r.signed.is_none() {
                r.signed = Some(signed);
            }
        }
        Ok(())
    }

    /// `GET /{P}/{Identity|Sign|MultiSign}/{clientCode}/{receiptID}`: 상태확인.
    fn status(
        &self,
        rp: &Rp,
        product: BarocertProduct,
        kind: ApiKind,
        rid: &str,
    ) -> Result<Reply, BrokerCode> {
        if !crypto::is_digits(rid, 32) {
            return Err(BrokerCode::MalformedReceipt);
        }
        let now_ms = crypto::now_ms();
        self.ensure_signed(rid, now_ms)?;
        let st = self.state.lock().map_err(|_| BrokerCode::Internal)?;
        let r = st
            .receipts
            .get(rid)
            .filter(|r| r.client_code == rp.client_code && r.product == product && r.kind == kind)
            .ok_or(BrokerCode::UnknownReceipt)?;
        let phase = r.phase(now_ms, self.approve_after_ms);
        let dt = |ms: u64| crypto::kst_compact(ms / 1000);
        let complete_dt = match phase {
            Phase::Completed { at_ms, .. } | Phase::Rejected { at_ms, .. } => Some(dt(at_ms)),
            _ => None,
        };
        let reply = IdentityStatus {
            receipt_id: rid.to_owned(),
            client_code: r.client_code.clone(),
            state: phase.state_code(product),
            expire_in: r.expire_in,
            call_center_name: Some("문지기 시뮬레이터".into()),
            call_center_num: Some("1600-0000".into()),
            req_title: Some(r.title.clone()).filter(|t| !t.is_empty()),
            auth_category: Some("M".into()),
            return_url: r.return_url.clone(),
            request_dt: Some(dt(r.requested_at_ms)),
            view_dt: phase.viewed_at_ms().map(dt),
            complete_dt,
            expire_dt: Some(dt(r.expires_at_ms())),
            verify_dt: r.verified_at_ms.map(dt),
            scheme: r.scheme.clone(),
            app_use_yn: r.app_use,
        };
        drop(st);
        Ok(json_reply(StatusCode::OK, &reply))
    }

    /// The verify call (검증), on the product's path: once (but PASS), before the
    /// product's deadline, with PASS's body repeating the receiver.
    fn verify(
        &self,
        rp: &Rp,
        product: BarocertProduct,
        kind: ApiKind,
        rid: &str,
        body: &[u8],
    ) -> Result<Reply, BrokerCode> {
        if !crypto::is_digits(rid, 32) {
            return Err(BrokerCode::MalformedReceipt);
        }
        // Only PASS's verify carries a body: the receiver, encrypted.
        let repeated = if product.verify_repeats_person() {
            let v: IdentityVerifyRequest =
                serde_json::from_slice(body).map_err(|_| BrokerCode::BadBody)?;
            let dec =
                |f: &str| crypto::decrypt_field(&rp.key, f).map_err(|_| BrokerCode::Undecryptable);
            let phone = Phone::parse(&dec(&v.receiver_hp)?).map_err(|_| BrokerCode::BadPhone)?;
            let name = Name::parse(&dec(&v.receiver_name)?).map_err(|_| BrokerCode::BadName)?;
            Some((phone, name))
        } else if body.is_empty() {
            None
        } else {
            return Err(BrokerCode::BadBody);
        };
        let now_ms = crypto::now_ms();
        self.ensure_signed(rid, now_ms)?;
        let mut st = self.state.lock().map_err(|_| BrokerCode::Internal)?;
        let r = st
            .receipts
            .get_mut(rid)
            .filter(|r| r.client_code == rp.client_code && r.product == product && r.kind == kind)
            .ok_or(BrokerCode::UnknownReceipt)?;
        if let Some((phone, name)) = &repeated {
            if !(phone.same_as(&r.asked.phone) && name.same_as(&r.asked.name)) {
                return Err(BrokerCode::PersonMismatch);
            }
        }
        let completed_at = match r.phase(now_ms, self.approve_after_ms) {
            Phase::Waiting { .. } => return Err(BrokerCode::NotCompleted),
            Phase::Expired { .. } => return Err(BrokerCode::ReceiptExpired),
            Phase::Rejected { .. } => return Err(BrokerCode::ReceiptRejected),
            Phase::Completed { at_ms, .. } => at_ms,
        };
        if product.verify_once() && r.verified_at_ms.is_some() {
            return Err(BrokerCode::AlreadyVerified);
        }
        let refused_from = product.verify_deadline().refused_from_ms(
            r.requested_at_ms,
            r.expires_at_ms(),
            completed_at,
        );
        if refused_from.is_some_and(|t| now_ms >= t) {
            return Err(BrokerCode::VerifyTooLate);
        }
        let genuine = r.signed.clone().ok_or(BrokerCode::Internal)?;
        r.verified_at_ms = Some(now_ms);
        let subject = r.result_subject.clone();
        let scenario = r.scenario;
        let info = r.receiver_info;
        let replay_key = (product, kind, r.asked.phone.national());
        // A replaying provider hands out the person's previous genuine result.
        let signed = if scenario == Scenario::ReplayedResult {
            st.replays
                .insert(replay_key, genuine.clone())
                .unwrap_or(genuine)
        } else {
            genuine
        };
        drop(st);
        info!(
            receipt = %rid,
            product = product.name(),
            api = kind.segment(),
            scenario = ?scenario,
            "simulator delivered a result"
        );
        let b64 = |d: &Vec<u8>| base64::engine::general_purpose::STANDARD.encode(d);
        let p = receiver(&subject, product, kind, info, scenario)?;
        if kind == ApiKind::MultiSign {
            return Ok(json_reply(
                StatusCode::OK,
                &MultiSignResult {
                    receipt_id: rid.to_owned(),
                    state: 1,
                    receiver: p,
                    multi_signed_data: signed.elements.iter().map(b64).collect(),
                },
            ));
        }
        let signed_data = signed
            .elements
            .first()
            .map(b64)
            .ok_or(BrokerCode::Internal)?;
        Ok(json_reply(
            StatusCode::OK,
            &IdentityResult {
                receipt_id: rid.to_owned(),
                state: 1,
                receiver: p,
                signed_data,
            },
        ))
    }
}

/// The person fields of a verify answer, per product and API.
fn receiver(
    subject: &Subject,
    product: BarocertProduct,
    kind: ApiKind,
    info: bool,
    scenario: Scenario,
) -> Result<Receiver, BrokerCode> {
    let birth = subject.birthdate;
    // PASS's identity result omits the phone; every sign result carries it.
    let hp = kind != ApiKind::Identity || product.result_has_phone();
    Ok(Receiver {
        receiver_name: info.then(|| subject.answered_name(scenario)),
        receiver_year: info.then(|| format!("{:04}", birth.year())),
        receiver_day: info.then(|| birth.mmdd()),
        receiver_hp: hp.then(|| subject.phone.national()),
        receiver_gender: info.then(|| {
            match subject.gender {
                Gender::Male => "MALE",
                Gender::Female => "FEMALE",
            }
            .into()
        }),
        receiver_foreign: info.then(|| "N".into()),
        receiver_telco_type: matches!(product, BarocertProduct::Kakao | BarocertProduct::Pass)
            .then(|| "SKT".into()),
        receiver_email: (product == BarocertProduct::Naver)
            .then(|| subject.email())
            .transpose()?,
        ci: subject.ci()?,
    })
}

/// A request to store: what [`Simulator::open_receipt`] needs.
pub(crate) struct NewReceipt {
    pub product: BarocertProduct,
    pub kind: ApiKind,
    pub who: (Phone, Name, BirthDate),
    pub title: String,
    pub expire_in: u32,
    /// `None`: the app signs the receiptID (a Naver identity request).
    pub tokens: Option<Vec<SimToken>>,
    pub receiver_info: bool,
    pub return_url: Option<String>,
    pub app_use: bool,
    /// Answered with an app-to-app request where the product gives one.
    pub market_url: Option<String>,
}

/// Checks an identity request's app-to-app fields by the product's rules
/// ([`BarocertProduct::app_rule`]) and answers the app's store page where the
/// product gives one (Naver, PASS). Push requests carry none of them.
pub(crate) fn check_app_to_app(
    product: BarocertProduct,
    req: &IdentityRequest,
) -> Result<Option<String>, BrokerCode> {
    if !req.app_use_yn {
        return if req.device_os_type.is_some()
            || req.telco_type.is_some()
            || req.return_url.is_some()
        {
            Err(BrokerCode::BadAppToApp)
        } else {
            Ok(None)
        };
    }
    let rule = product.app_rule();
    let os = match (req.device_os_type.as_deref(), rule.needs_os) {
        (Some(os @ ("ANDROID" | "IOS")), true) => Some(os),
        (None, false) => None,
        _ => return Err(BrokerCode::BadAppToApp),
    };
    let telco = match (req.telco_type.as_deref(), rule.needs_carrier) {
        (Some(t @ ("SKT" | "KT" | "LGU")), true) => Some(t),
        (None, false) => None,
        _ => return Err(BrokerCode::BadAppToApp),
    };
    if let Some(url) = &req.return_url {
        let web = url.starts_with("https://") || url.starts_with("http://");
        // Naver takes an app scheme only; PASS takes no return at all.
        if (web && !rule.web_return) || product == BarocertProduct::Pass || url.len() > 500 {
            return Err(BrokerCode::BadAppToApp);
        }
    }
    let app = match (product, telco) {
        (BarocertProduct::Naver, _) => "com.nhn.android.search",
        (BarocertProduct::Pass, Some("KT")) => "com.kt.ktauth",
        (BarocertProduct::Pass, Some("LGU")) => "com.lguplus.smartotp",
        (BarocertProduct::Pass, _) => "com.sktelecom.tauth",
        (BarocertProduct::Kakao | BarocertProduct::Toss, _) => return Ok(None),
    };
    Ok(Some(match os {
        Some("IOS") => format!("https://apps.apple.com/kr/app/{app}"),
        _ => format!("https://play.google.com/store/apps/details?id={app}"),
    }))
}

pub(crate) fn check_expire_in(product: BarocertProduct, expire_in: u32) -> Result<(), BrokerCode> {
    if expire_in == 0 || expire_in > product.max_ttl_secs() {
        return Err(BrokerCode::BadExpireIn);
    }
    Ok(())
}

pub(crate) fn require_call_center(n: Option<&str>) -> Result<(), BrokerCode> {
    if n.is_none_or(|n| n.trim().is_empty()) {
        return Err(BrokerCode::BadCallCenter);
    }
    Ok(())
}

/// A 32-digit receipt id: `yyMMdd` (KST) + 26 random digits.
fn new_receipt_id(now_ms: u64) -> Result<String, BrokerCode> {
    let date = crypto::kst_compact(now_ms / 1000);
    let mut id: String = date.get(2..8).unwrap_or("000000").to_owned();
    while id.len() < 32 {
        let bytes: [u8; 32] = crypto::random_bytes().map_err(|_| BrokerCode::Internal)?;
        for b in bytes {
            // Rejection sampling keeps the digits uniform.
            if b < 250 && id.len() < 32 {
                id.push(char::from(b'0' + b % 10));
            }
        }
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_exist_per_product_and_api() {
        let (sim, _) = super::super::test_simulator("routes-unit");
        let refused = |method: Method, path: &str| {
            sim.route(&method, path, path, &HeaderMap::new(), b"").err()
        };
        // PASS has no multi-sign; unknown APIs do not exist; both before any
        // access check.
        for path in [
            "/PASS/MultiSign/023040000001",
            "/KAKAO/Bogus/023040000001",
            "/TOSS/MultiSign/Verify/023040000001",
        ] {
            assert_eq!(
                refused(Method::POST, path),
                Some(BrokerCode::NoSuchRoute),
                "{path}"
            );
        }
        // The others exist and ask for a session first.
        for path in [
            "/KAKAO/MultiSign/023040000001",
            "/NAVER/Sign/023040000001",
            "/PASS/Sign/023040000001",
            "/TOSS/MultiSign/Verify/023040000001/00000000000000000000000000000000",
        ] {
            assert_eq!(
                refused(Method::POST, path),
                Some(BrokerCode::SessionMissing),
                "{path}"
            );
        }
        // Kakao verifies on the receipt path, not Toss's `/Verify/` form.
        assert_eq!(
            refused(
                Method::POST,
                "/KAKAO/Sign/Verify/023040000001/00000000000000000000000000000000"
            ),
            Some(BrokerCode::NoSuchRoute)
        );
    }

    #[test]
    fn receipt_ids_are_32_digits() {
        let a = new_receipt_id(1_706_677_567_000).unwrap();
        let b = new_receipt_id(1_706_677_567_000).unwrap();
        assert!(crypto::is_digits(&a, 32), "{a}");
        assert!(a.starts_with("240131"));
        assert_ne!(a, b);
    }

    #[test]
    fn app_to_app_requests_follow_each_products_rules() {
        use BarocertProduct::{Kakao, Naver, Pass, Toss};
        let req = |extra: serde_json::Value| {
            let mut v = serde_json::json!({
                "receiverHP": "x", "receiverName": "x", "receiverBirthday": "x", "expireIn": 60,
            });
            if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
                o.extend(e.clone());
            }
            serde_json::from_value::<IdentityRequest>(v).unwrap()
        };
        let check = |p, extra| check_app_to_app(p, &req(extra));
        let bad = Err(BrokerCode::BadAppToApp);
        // A push carries none of the app-to-app fields.
        assert_eq!(check(Kakao, serde_json::json!({})), Ok(None));
        assert_eq!(check(Pass, serde_json::json!({"telcoType": "SKT"})), bad);
        assert_eq!(
            check(Kakao, serde_json::json!({"returnURL": "https://x"})),
            bad
        );
        // Kakao and Toss: a web return, no OS.
        for p in [Kakao, Toss] {
            assert_eq!(
                check(
                    p,
                    serde_json::json!({"appUseYN": true, "returnURL": "https://gw/wait"})
                ),
                Ok(None)
            );
            assert_eq!(
                check(
                    p,
                    serde_json::json!({"appUseYN": true, "deviceOSType": "IOS"})
                ),
                bad
            );
        }
        // Naver: the OS, and an app scheme only as the return.
        assert_eq!(check(Naver, serde_json::json!({"appUseYN": true})), bad);
        assert_eq!(
            check(
                Naver,
                serde_json::json!({"appUseYN": true, "deviceOSType": "ios"})
            ),
            bad
        );
        assert_eq!(
            check(
                Naver,
                serde_json::json!({"appUseYN": true, "deviceOSType": "ANDROID", "returnURL": "https://gw/wait"})
            ),
            bad
        );
        assert!(matches!(
            check(Naver, serde_json::json!({"appUseYN": true, "deviceOSType": "IOS", "returnURL": "myapp://back"})),
            Ok(Some(u)) if u.starts_with("https://apps.apple.com/")
        ));
        // PASS: the OS and the carrier, and no return at all.
        assert_eq!(
            check(
                Pass,
                serde_json::json!({"appUseYN": true, "deviceOSType": "ANDROID"})
            ),
            bad
        );
        assert_eq!(
            check(
                Pass,
                serde_json::json!({"appUseYN": true, "deviceOSType": "ANDROID", "telcoType": "SKM"})
            ),
            bad
        );
        assert_eq!(
            check(
                Pass,
                serde_json::json!({"appUseYN": true, "deviceOSType": "ANDROID", "telcoType": "KT", "returnURL": "a://b"})
            ),
            bad
        );
        assert!(matches!(
            check(Pass, serde_json::json!({"appUseYN": true, "deviceOSType": "ANDROID", "telcoType": "LGU"})),
            Ok(Some(u)) if u.contains("play.google.com")
        ));
    }
}
