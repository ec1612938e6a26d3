//! The barocert adapter: the gateway's side of the broker's identity API.
//!
//! `start` encrypts who and what (the fields each product takes), `status` maps
//! the broker's state codes (PASS's 5 "unprocessed" is pending), `verify`
//! fetches the result (PASS: repeating the receiver, encrypted) and believes it
//! only after the CMS (DER, or Naver's BER) verifies against this provider's
//! roots over exactly the content this login expects — the nonce that was sent,
//! or for Naver the `receiptID` (the weaker binding the module docs of
//! [`super`] explain) — inside the request window, and the person it names is
//! the citizen who was asked. The broker's own deadlines (Kakao 10 minutes,
//! Naver expiry, PASS end of day) come back as [`ProviderError::TooLate`]. The
//! session token is cached (one fetch at a time) until shortly before it
//! expires and fetched again once if the broker refuses it.
//!
//! Document signing (`Sign`, `MultiSign`) is in `signing.rs`, on the same
//! status, verify and CMS helpers.
//!
//! Not here: per-login state (all of it is in [`Pending`]), retries beyond the one
//! token refresh (the gateway decides).

mod signing;

pub use signing::TOO_MANY_DOCUMENTS;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method};
use tracing::{debug, info, warn};

use super::codes::{map_refusal, BrokerCode};
use super::crypto::{self, now_secs};
use super::wire::{
    ErrorBody, IdentityReceipt, IdentityRequest, IdentityResult, IdentityStatus,
    IdentityVerifyRequest, Receiver,
};
use super::wire::{TokenRequest, TokenResponse};
use super::{ApiKind, BarocertConfig, BarocertProduct, BarocertSecret, NonceRule};
use crate::adapter::{Challenge, Pending, Provider, Status, Verified};
use crate::assertion::{Level, ProviderId};
use crate::binding::{Rules, SignedResult};
use crate::cms::{self, TrustAnchors};
use crate::error::ProviderError;
use crate::http_client::{header, HttpClient, HttpResponse};
use crate::person::{BirthDate, Ci, Citizen, Gender, Name, Person, Phone};

/// The SDKs' default HTTP timeout.
const DEFAULT_TIMEOUT_MS: u64 = 15_000;
/// Renew the session token this long before it expires.
const TOKEN_MARGIN_SECS: u64 = 60;

/// A session token from the token service. No `Debug`: it is a bearer secret.
struct Session {
    token: String,
    refresh_at: u64,
}

/// A barocert product as a [`Provider`].
pub struct BarocertAdapter {
    id: ProviderId,
    product: BarocertProduct,
    level: Level,
    api_base: String,
    auth_base: String,
    link_id: String,
    client_code: String,
    call_center_num: Option<String>,
    ttl_cap: u32,
    secret: BarocertSecret,
    anchors: TrustAnchors,
    http: HttpClient,
    session: tokio::sync::Mutex<Option<Session>>,
}

impl std::fmt::Debug for BarocertAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BarocertAdapter")
            .field("id", &self.id)
            .field("product", &self.product)
            .field("level", &self.level)
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

/// A refusal from the broker, before it becomes a [`ProviderError`].
struct Refusal {
    status: u16,
    code: Option<i64>,
    message: String,
}

impl Refusal {
    fn from_response(resp: &HttpResponse) -> Self {
        match serde_json::from_slice::<ErrorBody>(&resp.body) {
            Ok(b) => Self {
                status: resp.status.as_u16(),
                code: Some(b.code),
                message: b.message,
            },
            Err(_) => Self {
                status: resp.status.as_u16(),
                code: None,
                message: String::new(),
            },
        }
    }

    fn session_refresh_helps(&self) -> bool {
        match self.code.and_then(BrokerCode::from_code) {
            Some(c) => c.session_refresh_helps(),
            None => self.status == 401,
        }
    }

    fn into_error(self) -> ProviderError {
        map_refusal(self.status, self.code, &self.message)
    }
}

fn local_bad_request(message: &str) -> ProviderError {
    ProviderError::BadRequest {
        code: "local".into(),
        message: message.into(),
    }
}

/// Validates a base URL (scheme and authority only: the API signs absolute
/// paths) and says whether it is plain http.
fn base_url(raw: &str, what: &str, allow_plain: bool) -> Result<(String, bool), ProviderError> {
    crate::http_client::endpoint(raw, &format!("barocert {what}"), allow_plain, false)
}

fn encrypt(key: &[u8; 32], plain: &str) -> Result<String, ProviderError> {
    crypto::encrypt_field(key, plain)
        .map_err(|e| ProviderError::Config(format!("encrypting a field failed: {e}")))
}

impl BarocertAdapter {
    /// Builds the adapter. Fails on a malformed client code, a missing or
    /// malformed call-center number where the product requires one, a bad URL or
    /// an unusable TLS bundle.
    pub fn new(
        id: ProviderId,
        product: BarocertProduct,
        level: Level,
        cfg: BarocertConfig,
        secret: BarocertSecret,
        anchors: TrustAnchors,
        tls_ca_pem: Option<Vec<u8>>,
    ) -> Result<Self, ProviderError> {
        if !crypto::is_digits(&cfg.client_code, 12) {
            return Err(ProviderError::Config(
                "barocert client_code must be 12 digits".into(),
            ));
        }
        if cfg.link_id.trim().is_empty()
            || cfg
                .link_id
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ProviderError::Config(
                "barocert link_id must be non-empty without spaces".into(),
            ));
        }
        let call_center_num = cfg
            .call_center_num
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        if let Some(n) = &call_center_num {
            if n.len() > 20 || !n.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                return Err(ProviderError::Config(
                    "barocert call_center_num must be digits and `-` (e.g. 1600-0000)".into(),
                ));
            }
        } else if product.requires_call_center() {
            return Err(ProviderError::Config(format!(
                "barocert product {} requires call_center_num (the number shown in the app)",
                product.name()
            )));
        }
        let (api_base, api_plain) = base_url(&cfg.endpoint, "endpoint", cfg.allow_plain_http)?;
        let (auth_base, auth_plain) =
            base_url(&cfg.auth_endpoint, "auth_endpoint", cfg.allow_plain_http)?;
        let timeout = Duration::from_millis(cfg.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS));
        let http = HttpClient::new(tls_ca_pem.as_deref(), timeout)?
            .allow_plain_http(api_plain || auth_plain);
        let ttl_cap = cfg
            .ttl_secs
            .unwrap_or(product.max_ttl_secs())
            .clamp(1, product.max_ttl_secs());
        Ok(Self {
            id,
            product,
            level,
            api_base,
            auth_base,
            link_id: cfg.link_id,
            client_code: cfg.client_code,
            call_center_num,
            ttl_cap,
            secret,
            anchors,
            http,
            session: tokio::sync::Mutex::new(None),
        })
    }

    pub fn product(&self) -> BarocertProduct {
        self.product
    }

    /// The request lifetime the adapter will ask for, given the gateway's wish.
    pub fn effective_ttl(&self, asked: u32) -> u32 {
        asked.clamp(1, self.ttl_cap)
    }

    fn check_nonce(&self, nonce: &str) -> Result<(), ProviderError> {
        match self.product.nonce_rule() {
            NonceRule::Required { max_chars } => {
                let n = nonce.chars().count();
                if n == 0 || n > max_chars || nonce.chars().any(char::is_control) {
                    return Err(local_bad_request(&format!(
                        "{} requires a nonce of 1 to {max_chars} characters",
                        self.product.name()
                    )));
                }
                Ok(())
            }
            NonceRule::Absent => Ok(()),
        }
    }

    fn check_handle(&self, handle: &str) -> Result<(), ProviderError> {
        if crypto::is_digits(handle, 32) {
            Ok(())
        } else {
            Err(local_bad_request("barocert receiptID must be 32 digits"))
        }
    }

    /// The cached session token, or a fresh one.
    async fn session_token(&self) -> Result<String, ProviderError> {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_ref() {
            if now_secs() < s.refresh_at {
                return Ok(s.token.clone());
            }
        }
        let fresh = self.fetch_token().await?;
        let token = fresh.token.clone();
        *guard = Some(fresh);
        Ok(token)
    }

    /// A token other than `stale` (unless another task already replaced it).
    async fn replace_token(&self, stale: &str) -> Result<String, ProviderError> {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_ref() {
            if s.token != stale && now_secs() < s.refresh_at {
                return Ok(s.token.clone());
            }
        }
        *guard = None;
        let fresh = self.fetch_token().await?;
        let token = fresh.token.clone();
        *guard = Some(fresh);
        Ok(token)
    }

    async fn fetch_token(&self) -> Result<Session, ProviderError> {
        let started = Instant::now();
        let uri = format!("/{}/Token", crypto::SERVICE_ID);
        let body = serde_json::to_vec(&TokenRequest {
            access_id: String::new(),
            scope: self
                .product
                .scopes()
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        })
        .map_err(|e| ProviderError::Config(format!("token request: {e}")))?;
        let date = crypto::rfc3339(now_secs());
        let target = crypto::token_sign_target(&body, &date, None, crypto::AUTH_VERSION, &uri)
            .and_then(|t| crypto::hmac_sha256_b64(self.secret.key(), t.as_bytes()))
            .map_err(|e| ProviderError::Config(format!("signing the token request: {e}")))?;
        let mut headers = HeaderMap::new();
        for (k, v) in [
            header("x-lh-date", &date)?,
            header("x-lh-version", crypto::AUTH_VERSION)?,
            header(
                "authorization",
                &format!("LINKHUB {} {}", self.link_id, target),
            )?,
            header("content-type", "application/json; charset=utf-8")?,
        ] {
            headers.insert(k, v);
        }
        let resp = self
            .http
            .post(
                &format!("{}{}", self.auth_base, uri),
                headers,
                Bytes::from(body),
            )
            .await?;
        if resp.status != http::StatusCode::OK {
            let refusal = Refusal::from_response(&resp);
            warn!(
                provider = %self.id,
                status = refusal.status,
                code = refusal.code,
                "barocert token service refused"
            );
            return Err(refusal.into_error());
        }
        let t: TokenResponse = resp.json()?;
        if t.session_token.is_empty() {
            return Err(ProviderError::Protocol(
                "token service answered without session_token".into(),
            ));
        }
        let expires = crypto::parse_rfc3339(&t.expiration).ok_or_else(|| {
            ProviderError::Protocol("token service expiration is not RFC 3339 UTC".into())
        })?;
        let now = now_secs();
        if expires <= now {
            return Err(ProviderError::Protocol(
                "token service issued an already expired token".into(),
            ));
        }
        let margin = TOKEN_MARGIN_SECS.min((expires - now) / 2);
        debug!(
            provider = %self.id,
            lifetime_secs = expires - now,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "barocert session token issued"
        );
        Ok(Session {
            token: t.session_token,
            refresh_at: expires - margin,
        })
    }

    /// One API call with `token`; `Ok(Err(_))` is a refusal from the broker.
    async fn call_once(
        &self,
        method: &Method,
        path: &str,
        body: &[u8],
        token: &str,
    ) -> Result<Result<HttpResponse, Refusal>, ProviderError> {
        let url = format!("{}{}", self.api_base, path);
        let mut headers = HeaderMap::new();
        for (k, v) in [
            header("authorization", &format!("Bearer {token}"))?,
            header("x-bc-version", crypto::API_VERSION)?,
        ] {
            headers.insert(k, v);
        }
        let resp = if *method == Method::POST {
            let date = crypto::rfc3339(now_secs());
            let auth = crypto::api_sign_target(body, &date, path)
                .and_then(|t| crypto::hmac_sha256_b64(self.secret.key(), t.as_bytes()))
                .map_err(|e| ProviderError::Config(format!("signing the request: {e}")))?;
            for (k, v) in [
                header("x-bc-date", &date)?,
                header("x-bc-auth", &auth)?,
                header("x-bc-encryptionmode", crypto::ENCRYPTION_MODE)?,
                header("content-type", "application/json; charset=utf8")?,
            ] {
                headers.insert(k, v);
            }
            self.http
                .post(&url, headers, Bytes::copy_from_slice(body))
                .await?
        } else {
            self.http.get(&url, headers).await?
        };
        if resp.status == http::StatusCode::OK {
            Ok(Ok(resp))
        } else {
            Ok(Err(Refusal::from_response(&resp)))
        }
    }

    /// An API call, with one session-token refresh if the broker refuses the token.
    async fn call(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: &[u8],
    ) -> Result<HttpResponse, ProviderError> {
        let started = Instant::now();
        let token = self.session_token().await?;
        let mut outcome = self.call_once(&method, path, body, &token).await?;
        if let Err(r) = &outcome {
            if r.session_refresh_helps() {
                debug!(provider = %self.id, op, code = r.code, "barocert session refused; renewing once");
                let token = self.replace_token(&token).await?;
                outcome = self.call_once(&method, path, body, &token).await?;
            }
        }
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(resp) => Ok(resp),
            Err(r) => {
                let (status, code) = (r.status, r.code);
                let err = r.into_error();
                info!(
                    provider = %self.id,
                    op,
                    status,
                    code,
                    reason = err.code(),
                    elapsed_ms,
                    "barocert refused"
                );
                Err(err)
            }
        }
    }

    /// The status of a receipt of `kind` (`GET /{P}/{kind}/{cc}/{rid}`).
    async fn receipt_status(
        &self,
        kind: ApiKind,
        pending: &Pending,
    ) -> Result<Status, ProviderError> {
        self.check_handle(&pending.handle)?;
        let path = format!(
            "/{}/{}/{}/{}",
            self.product.path_segment(),
            kind.segment(),
            self.client_code,
            pending.handle
        );
        let resp = self.call("status", Method::GET, &path, &[]).await?;
        let s: IdentityStatus = resp.json()?;
        if s.receipt_id != pending.handle {
            return Err(ProviderError::Protocol(
                "status is for another receiptID".into(),
            ));
        }
        if !self.product.knows_state(s.state) {
            return Err(ProviderError::Protocol(format!(
                "unknown state {} for {}",
                s.state,
                self.product.name()
            )));
        }
        let viewed = s.view_dt.as_deref().is_some_and(|v| !v.trim().is_empty());
        let status = match s.state {
            0 | 5 => Status::Pending { viewed },
            1 => Status::Completed,
            2 => Status::Expired,
            3 => Status::Rejected,
            _ => Status::Failed,
        };
        debug!(provider = %self.id, receipt = %pending.handle, api = kind.segment(), state = s.state, "barocert status");
        Ok(status)
    }

    /// The verify call for a receipt of `kind` (PASS: repeating the receiver,
    /// encrypted).
    async fn fetch_result(
        &self,
        kind: ApiKind,
        who: &Citizen,
        pending: &Pending,
    ) -> Result<HttpResponse, ProviderError> {
        self.check_handle(&pending.handle)?;
        let path = self
            .product
            .api_verify_path(kind, &self.client_code, &pending.handle);
        let body = if self.product.verify_repeats_person() {
            let key = self.secret.key();
            serde_json::to_vec(&IdentityVerifyRequest {
                receiver_hp: encrypt(key, &who.phone.national())?,
                receiver_name: encrypt(key, who.name.expose())?,
            })
            .map_err(|e| ProviderError::Config(format!("verify request: {e}")))?
        } else {
            Vec::new()
        };
        self.call("verify", Method::POST, &path, &body).await
    }

    /// A verify answer must be for this receipt and completed.
    fn check_receipt(
        &self,
        receipt_id: &str,
        state: i64,
        pending: &Pending,
    ) -> Result<(), ProviderError> {
        if receipt_id != pending.handle {
            return Err(ProviderError::Protocol(
                "result is for another receiptID".into(),
            ));
        }
        if state != 1 {
            return Err(ProviderError::Protocol(format!(
                "result with state {state} instead of 1"
            )));
        }
        Ok(())
    }

    /// Decodes one base64 `signedData` and verifies it completely against
    /// `content`, this provider's roots and the request window. `element` names
    /// the document in logs (multi-sign).
    /// What this product's results are held to (see [`crate::binding`]).
    fn rules(&self) -> Rules<'_> {
        Rules {
            provider: &self.id,
            anchors: &self.anchors,
            cn: self.product.signer_cn(),
        }
    }

    fn amr(&self) -> Vec<String> {
        self.product.amr().iter().map(|s| (*s).to_owned()).collect()
    }

    /// What the CMS content must equal: the nonce the app was asked to sign, or
    /// for a product that takes none (Naver) the `receiptID` of this request.
    fn expected_content<'a>(&self, ask: &'a Challenge, pending: &'a Pending) -> &'a [u8] {
        match self.product.nonce_rule() {
            NonceRule::Required { .. } => ask.nonce.as_bytes(),
            NonceRule::Absent => pending.handle.as_bytes(),
        }
    }

    /// The person the result names. A product whose result omits the phone
    /// (PASS) had the broker check the phone the verify body repeated: the
    /// asked phone is taken.
    fn person_from(
        &self,
        r: &Receiver,
        who: &Citizen,
        phone_in_result: bool,
    ) -> Result<Person, ProviderError> {
        let field = |v: &Option<String>, what: &str| -> Result<String, ProviderError> {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| ProviderError::Protocol(format!("result has no {what}")))
        };
        let bad = |what: &str| ProviderError::Protocol(format!("result {what} is malformed"));
        let name = Name::parse(&field(&r.receiver_name, "receiverName")?)
            .map_err(|_| bad("receiverName"))?;
        let year = field(&r.receiver_year, "receiverYear")?;
        let day = field(&r.receiver_day, "receiverDay")?;
        if !crypto::is_digits(&year, 4) || !crypto::is_digits(&day, 4) {
            return Err(bad("receiverYear/receiverDay"));
        }
        let birthdate = BirthDate::parse(&format!("{year}{day}"))
            .map_err(|_| bad("receiverYear/receiverDay"))?;
        let phone = if phone_in_result {
            Phone::parse(&field(&r.receiver_hp, "receiverHP")?).map_err(|_| bad("receiverHP"))?
        } else {
            who.phone.clone()
        };
        let ci = Ci::parse(&r.ci).map_err(|_| bad("ci"))?;
        let gender = r
            .receiver_gender
            .as_deref()
            .and_then(|g| Gender::parse(g).ok());
        Ok(Person {
            name,
            birthdate,
            phone,
            gender,
            ci,
        })
    }
}

impl BarocertAdapter {
    /// Turns a push request into the product's app-to-app request when the
    /// citizen's browser is on their phone ([`Reach::App`]), by the product's
    /// rules: the OS and carrier where required, the waiting page as the
    /// return only where the app may open a web page.
    fn app_to_app_request(
        &self,
        mut req: IdentityRequest,
        reach: &crate::adapter::Reach,
    ) -> Result<IdentityRequest, ProviderError> {
        let crate::adapter::Reach::App(app) = reach else {
            return Ok(req);
        };
        let rule = self.product.app_rule();
        req.app_use_yn = true;
        if rule.needs_os {
            req.device_os_type = Some(app.os.wire().to_owned());
        }
        if rule.needs_carrier {
            let carrier = app
                .carrier
                .ok_or_else(|| local_bad_request("app-to-app needs the carrier"))?;
            req.telco_type = Some(carrier.wire().to_owned());
        }
        if rule.web_return {
            req.return_url = Some(app.return_url.clone());
        }
        Ok(req)
    }
}

#[async_trait::async_trait]
impl Provider for BarocertAdapter {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    fn level(&self) -> Level {
        self.level
    }

    fn shows_title(&self) -> bool {
        self.product.takes_title()
    }

    fn app_to_app(&self) -> Option<crate::adapter::AppToAppSupport> {
        let rule = self.product.app_rule();
        Some(crate::adapter::AppToAppSupport {
            needs_carrier: rule.needs_carrier,
            returns_to_browser: rule.web_return,
        })
    }

    fn signer(&self) -> Option<&dyn crate::signing::DocumentSigner> {
        Some(self)
    }

    async fn start(&self, who: &Citizen, ask: &Challenge) -> Result<Pending, ProviderError> {
        let started_at = now_secs();
        self.check_nonce(&ask.nonce)?;
        let title: String = ask
            .title
            .trim()
            .chars()
            .take(self.product.max_title_chars())
            .collect();
        if title.is_empty() || title.chars().any(char::is_control) {
            return Err(local_bad_request("request title must be non-empty text"));
        }
        let ttl = self.effective_ttl(ask.ttl_secs);
        let key = self.secret.key();
        let p = self.product;
        let token = match p.nonce_rule() {
            NonceRule::Required { .. } => Some(encrypt(key, &ask.nonce)?),
            NonceRule::Absent => None,
        };
        let pass = p == BarocertProduct::Pass;
        let req = IdentityRequest {
            receiver_hp: encrypt(key, &who.phone.national())?,
            receiver_name: encrypt(key, who.name.expose())?,
            receiver_birthday: encrypt(key, &who.birthdate.yyyymmdd())?,
            req_title: p.takes_title().then_some(title),
            call_center_num: if p.requires_call_center() {
                self.call_center_num.clone()
            } else {
                None
            },
            expire_in: ttl,
            token,
            // PASS: as the SDK examples; receiverInfoYN makes the result carry
            // the personal data the adapter checks.
            user_agreement_yn: pass.then_some(true),
            receiver_info_yn: pass.then_some(true),
            return_url: None,
            app_use_yn: false,
            device_os_type: None,
            telco_type: None,
        };
        let req = self.app_to_app_request(req, &ask.reach)?;
        let body = serde_json::to_vec(&req)
            .map_err(|e| ProviderError::Config(format!("identity request: {e}")))?;
        let path = format!(
            "/{}/Identity/{}",
            self.product.path_segment(),
            self.client_code
        );
        let resp = self.call("request", Method::POST, &path, &body).await?;
        let receipt: IdentityReceipt = resp.json()?;
        if !crypto::is_digits(&receipt.receipt_id, 32) {
            return Err(ProviderError::Protocol("receiptID is not 32 digits".into()));
        }
        let app = req.app_use_yn;
        let app_scheme = receipt.scheme.filter(|s| !s.trim().is_empty());
        if app
            && !app_scheme
                .as_deref()
                .is_some_and(crate::adapter::app_link_is_safe)
        {
            return Err(ProviderError::Protocol(
                "app-to-app request answered without a usable scheme".into(),
            ));
        }
        info!(
            provider = %self.id,
            receipt = %receipt.receipt_id,
            ttl_secs = ttl,
            app_to_app = app,
            "barocert identity requested"
        );
        Ok(Pending {
            handle: receipt.receipt_id,
            started_at,
            expires_at: started_at + u64::from(ttl),
            app_scheme: app_scheme.filter(|_| app),
            market_url: receipt
                .market_url
                .filter(|u| app && crate::adapter::market_link_is_safe(u)),
            qr: None,
        })
    }

    async fn status(&self, pending: &Pending) -> Result<Status, ProviderError> {
        self.receipt_status(ApiKind::Identity, pending).await
    }

    async fn verify(
        &self,
        who: &Citizen,
        ask: &Challenge,
        pending: &Pending,
    ) -> Result<Verified, ProviderError> {
        let resp = self.fetch_result(ApiKind::Identity, who, pending).await?;
        let r: IdentityResult = resp.json()?;
        self.check_receipt(&r.receipt_id, r.state, pending)?;
        let rules = self.rules();
        let signed = rules.signature(
            SignedResult::cms_base64(&r.signed_data, "signedData")?,
            cms::Content::Attached(self.expected_content(ask, pending)),
            pending,
            None,
        )?;
        let person = self.person_from(&r.receiver, who, self.product.result_has_phone())?;
        let evidence = rules.bind_one(signed, &person, who, pending)?;
        info!(provider = %self.id, receipt = %pending.handle, "barocert identity verified");
        Ok(Verified {
            person,
            evidence,
            amr: self.amr(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            base_url("https://barocert.linkhub.co.kr", "e", false).unwrap(),
            ("https://barocert.linkhub.co.kr".into(), false)
        );
        assert_eq!(
            base_url("http://127.0.0.1:8080/", "e", false).unwrap(),
            ("http://127.0.0.1:8080".into(), true)
        );
        assert!(base_url("http://[::1]:80", "e", false).is_ok());
        assert!(base_url("http://localhost:80", "e", false).is_ok());
        assert!(base_url("http://sim.internal", "e", false).is_err());
        assert!(base_url("http://sim.internal", "e", true).is_ok());
        assert!(base_url("https://b/api", "e", false).is_err());
        assert!(base_url("https://b/?x=1", "e", false).is_err());
        assert!(base_url("ftp://b", "e", false).is_err());
        assert!(base_url("/relative", "e", false).is_err());
    }

    #[test]
    fn every_product_cn_is_exactly_the_name() {
        let n = Name::parse("홍길동").unwrap();
        for p in BarocertProduct::ALL {
            let cn = p.signer_cn();
            assert!(cn.names(&n, "홍길동"), "{p:?}");
            for bad in [
                "홍 길동()0012",
                "홍길동()0012",
                "홍길동2",
                "홍길동 김철수",
                "",
                "김철수",
            ] {
                assert!(!cn.names(&n, bad), "{p:?} {bad:?}");
            }
        }
    }
}
