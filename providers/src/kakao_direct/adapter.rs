//! The Kakao-direct adapter: the gateway's side of Kakao's certification API.
//!
//! `start` prepares (who, the nonce to sign, ttl) and pushes the request;
//! `status` maps Kakao's status; `verify` fetches the one-shot signed value,
//! believes it only after the CMS verifies against this provider's roots over
//! exactly the nonce that was sent, inside the request window, then fetches the
//! signer info and checks it names the citizen who was asked (and the
//! certificate's CN agrees).
//!
//! Every call carries the REST API key. A refusal with E0001 (HTTP 400, "retry")
//! is retried up to [`MAX_ATTEMPTS`] times in all with doubling backoff; when a
//! retried push answers E2004 ("sent twice") the earlier attempt landed, which is
//! success. Nothing else is retried here (the gateway decides).
//!
//! Not here: per-login state (all of it is in [`Pending`]), caching, or trusting
//! the CI beyond the authenticated channel it came over.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method};
use tracing::{debug, info};

use super::codes::{map_refusal, KakaoCode};
use super::wire::{
    ErrorBody, PrepareRequest, PrepareResponse, SignRequest, SignerInfoResponse, StatusResponse,
    TxRequest, TxStatus, VerifyResponse,
};
use super::{
    valid_product_code, valid_tx_id, KakaoDirectApiKey, KakaoDirectConfig, DEFAULT_PRODUCT_CODE,
    MAX_SIGN_DATA_CHARS, MAX_TITLE_CHARS, MAX_TTL_SECS,
};
use crate::adapter::{Challenge, Pending, Provider, Status, Verified};
use crate::assertion::{Level, ProviderId};
use crate::binding::{Rules, SignedResult};
use crate::cms::{self, TrustAnchors};
use crate::error::ProviderError;
use crate::http_client::{header, HttpClient, HttpResponse};
use crate::person::{BirthDate, Ci, Citizen, Gender, Name, Person, Phone};
use crate::signer_cn::SignerCn;

/// How Kakao writes the signer's CN: the name alone (the subject carries
/// Kakao's UID as `serialNumber`).
const SIGNER_CN: SignerCn = SignerCn::Exact;

/// Attempts in all for a call refused with E0001.
pub const MAX_ATTEMPTS: u32 = 3;
/// Wait before the first retry; doubled for each next one.
const FIRST_BACKOFF: Duration = Duration::from_millis(150);
const DEFAULT_TIMEOUT_MS: u64 = 15_000;

/// Kakao's own certification API as a [`Provider`].
pub struct KakaoDirectAdapter {
    id: ProviderId,
    level: Level,
    base: String,
    product: String,
    ttl_cap: u32,
    key: KakaoDirectApiKey,
    anchors: TrustAnchors,
    http: HttpClient,
    first_backoff: Duration,
}

impl std::fmt::Debug for KakaoDirectAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KakaoDirectAdapter")
            .field("id", &self.id)
            .field("level", &self.level)
            .field("base", &self.base)
            .field("product", &self.product)
            .finish_non_exhaustive()
    }
}

/// A refusal from Kakao, before it becomes a [`ProviderError`].
struct Refusal {
    status: u16,
    code: Option<String>,
    message: String,
    /// How many attempts were made (more than one after E0001 retries).
    attempts: u32,
}

impl Refusal {
    fn from_response(resp: &HttpResponse, attempts: u32) -> Self {
        let body = serde_json::from_slice::<ErrorBody>(&resp.body).ok();
        Self {
            status: resp.status.as_u16(),
            code: body.as_ref().map(|b| b.error_code.clone()),
            message: body.map(|b| b.error_message).unwrap_or_default(),
            attempts,
        }
    }

    fn kakao_code(&self) -> Option<KakaoCode> {
        self.code.as_deref().and_then(KakaoCode::from_code)
    }

    fn into_error(self) -> ProviderError {
        map_refusal(self.status, self.code.as_deref(), &self.message)
    }
}

fn local_bad_request(message: &str) -> ProviderError {
    ProviderError::BadRequest {
        code: "local".into(),
        message: message.into(),
    }
}

/// Validates the base URL (scheme, host, optional path prefix; no query) and
/// says whether it is plain http.
fn base_url(raw: &str, allow_plain: bool) -> Result<(String, bool), ProviderError> {
    crate::http_client::endpoint(raw, "kakao_direct endpoint", allow_plain, true)
}

fn to_json<T: serde::Serialize>(v: &T, what: &str) -> Result<Vec<u8>, ProviderError> {
    serde_json::to_vec(v).map_err(|e| ProviderError::Config(format!("{what}: {e}")))
}

impl KakaoDirectAdapter {
    /// Builds the adapter. Fails on a bad product code, URL or TLS bundle.
    pub fn new(
        id: ProviderId,
        level: Level,
        cfg: KakaoDirectConfig,
        key: KakaoDirectApiKey,
        anchors: TrustAnchors,
        tls_ca_pem: Option<Vec<u8>>,
    ) -> Result<Self, ProviderError> {
        let product = cfg
            .product_code
            .unwrap_or_else(|| DEFAULT_PRODUCT_CODE.to_owned());
        if !valid_product_code(&product) {
            return Err(ProviderError::Config(
                "kakao_direct product_code must look like K1100".into(),
            ));
        }
        let (base, plain) = base_url(&cfg.endpoint, cfg.allow_plain_http)?;
        let timeout = Duration::from_millis(cfg.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS));
        let http = HttpClient::new(tls_ca_pem.as_deref(), timeout)?.allow_plain_http(plain);
        let ttl_cap = cfg.ttl_secs.unwrap_or(MAX_TTL_SECS).clamp(1, MAX_TTL_SECS);
        Ok(Self {
            id,
            level,
            base,
            product,
            ttl_cap,
            key,
            anchors,
            http,
            first_backoff: FIRST_BACKOFF,
        })
    }

    /// Changes the wait before the first E0001 retry (tests use a short one).
    pub fn with_first_backoff(mut self, d: Duration) -> Self {
        self.first_backoff = d;
        self
    }

    /// The request lifetime the adapter will ask for, given the gateway's wish.
    pub fn effective_ttl(&self, asked: u32) -> u32 {
        asked.clamp(1, self.ttl_cap)
    }

    fn url(&self, step: &str) -> String {
        format!("{}/sign/v2/{step}/{}", self.base, self.product)
    }

    /// One call; `Ok(Err(_))` is a refusal from Kakao. E0001 is retried with
    /// backoff up to [`MAX_ATTEMPTS`] in all.
    async fn call(
        &self,
        op: &'static str,
        method: Method,
        url: &str,
        body: Option<&[u8]>,
    ) -> Result<Result<HttpResponse, Refusal>, ProviderError> {
        let started = Instant::now();
        let mut backoff = self.first_backoff;
        let mut attempt = 1;
        loop {
            let mut headers = HeaderMap::new();
            let (k, v) = header("authorization", &format!("KakaoAK {}", self.key.expose()))?;
            headers.insert(k, v);
            let resp = match body {
                Some(b) => {
                    let (k, v) = header("content-type", "application/json;charset=UTF-8")?;
                    headers.insert(k, v);
                    self.http
                        .send(method.clone(), url, headers, Bytes::copy_from_slice(b))
                        .await?
                }
                None => {
                    self.http
                        .send(method.clone(), url, headers, Bytes::new())
                        .await?
                }
            };
            if resp.status == http::StatusCode::OK {
                return Ok(Ok(resp));
            }
            let refusal = Refusal::from_response(&resp, attempt);
            let retry = refusal.kakao_code().is_some_and(KakaoCode::retry_helps);
            if retry && attempt < MAX_ATTEMPTS {
                debug!(
                    provider = %self.id,
                    op,
                    attempt,
                    backoff_ms = backoff.as_millis() as u64,
                    "kakao_direct internal error (E0001); retrying"
                );
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2);
                attempt += 1;
                continue;
            }
            info!(
                provider = %self.id,
                op,
                status = refusal.status,
                code = refusal.code.as_deref().unwrap_or("-"),
                attempts = attempt,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "kakao_direct refused"
            );
            return Ok(Err(refusal));
        }
    }

    fn person_from(&self, r: &SignerInfoResponse) -> Result<Person, ProviderError> {
        let field = |v: &Option<String>, what: &str| -> Result<String, ProviderError> {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| ProviderError::Protocol(format!("signer info has no {what}")))
        };
        let bad = |what: &str| ProviderError::Protocol(format!("signer info {what} is malformed"));
        let name = Name::parse(&field(&r.name, "name")?).map_err(|_| bad("name"))?;
        let birthday = field(&r.birthday, "birthday")?;
        if birthday.len() != 8 || !birthday.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("birthday"));
        }
        let birthdate = BirthDate::parse(&birthday).map_err(|_| bad("birthday"))?;
        let phone = Phone::parse(&field(&r.phone_number, "phone_number")?)
            .map_err(|_| bad("phone_number"))?;
        let ci = Ci::parse(&field(&r.ci, "ci")?).map_err(|_| bad("ci"))?;
        let gender = r.gender.as_deref().and_then(|g| Gender::parse(g).ok());
        Ok(Person {
            name,
            birthdate,
            phone,
            gender,
            ci,
        })
    }

    fn check_handle(handle: &str) -> Result<(), ProviderError> {
        if valid_tx_id(handle) {
            Ok(())
        } else {
            Err(local_bad_request("kakao_direct tx_id is malformed"))
        }
    }
}

#[async_trait::async_trait]
impl Provider for KakaoDirectAdapter {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    fn level(&self) -> Level {
        self.level
    }

    fn shows_title(&self) -> bool {
        true
    }

    async fn start(&self, who: &Citizen, ask: &Challenge) -> Result<Pending, ProviderError> {
        let started_at = crate::barocert::crypto::now_secs();
        let n = ask.nonce.chars().count();
        if n == 0 || n > MAX_SIGN_DATA_CHARS || ask.nonce.chars().any(char::is_control) {
            return Err(local_bad_request(&format!(
                "kakao_direct requires a nonce of 1 to {MAX_SIGN_DATA_CHARS} characters"
            )));
        }
        let title: String = ask.title.trim().chars().take(MAX_TITLE_CHARS).collect();
        if title.is_empty() || title.chars().any(char::is_control) {
            return Err(local_bad_request("request title must be non-empty text"));
        }
        let ttl = self.effective_ttl(ask.ttl_secs);

        // 1. Prepare: who, what to sign, how long → tx_id.
        let body = to_json(
            &PrepareRequest {
                phone_number: who.phone.national(),
                name: who.name.expose().to_owned(),
                birthday: who.birthdate.yyyymmdd(),
                sign_data: ask.nonce.clone(),
                expires_in: ttl,
                title,
            },
            "prepare request",
        )?;
        let resp = self
            .call("prepare", Method::POST, &self.url("prepare"), Some(&body))
            .await?
            .map_err(Refusal::into_error)?;
        let prepared: PrepareResponse = resp.json()?;
        if !valid_tx_id(&prepared.tx_id) {
            return Err(ProviderError::Protocol("tx_id is malformed".into()));
        }
        let tx_id = prepared.tx_id;

        // 2. Push it to the citizen, asking for the CI in the signer info.
        let body = to_json(
            &SignRequest {
                tx_id: tx_id.clone(),
                identify_items: vec!["CI".into()],
            },
            "sign request",
        )?;
        match self
            .call("request", Method::POST, &self.url("request"), Some(&body))
            .await?
        {
            Ok(_) => {}
            // A retried push that finds the push already sent: an earlier attempt landed.
            Err(r) if r.attempts > 1 && r.kakao_code() == Some(KakaoCode::RequestedTwice) => {
                debug!(provider = %self.id, tx = %tx_id, "kakao_direct push landed before the retry");
            }
            Err(r) => return Err(r.into_error()),
        }
        info!(provider = %self.id, tx = %tx_id, ttl_secs = ttl, "kakao_direct sign requested");
        Ok(Pending {
            handle: tx_id,
            started_at,
            expires_at: started_at + u64::from(ttl),
            app_scheme: None,
            market_url: None,
            qr: None,
        })
    }

    async fn status(&self, pending: &Pending) -> Result<Status, ProviderError> {
        Self::check_handle(&pending.handle)?;
        let url = format!("{}?tx_id={}", self.url("status"), pending.handle);
        let resp = self
            .call("status", Method::GET, &url, None)
            .await?
            .map_err(Refusal::into_error)?;
        let s: StatusResponse = resp.json()?;
        if s.tx_id != pending.handle {
            return Err(ProviderError::Protocol(
                "status is for another tx_id".into(),
            ));
        }
        let viewed = s.viewed_at.as_deref().is_some_and(|v| !v.trim().is_empty());
        let status = match s.status {
            TxStatus::Prepare | TxStatus::Request => Status::Pending { viewed },
            TxStatus::Complete => Status::Completed,
            TxStatus::Expired => Status::Expired,
            TxStatus::Reject => Status::Rejected,
        };
        debug!(provider = %self.id, tx = %pending.handle, status = ?s.status, "kakao_direct status");
        Ok(status)
    }

    async fn verify(
        &self,
        who: &Citizen,
        ask: &Challenge,
        pending: &Pending,
    ) -> Result<Verified, ProviderError> {
        Self::check_handle(&pending.handle)?;
        let tx = to_json(
            &TxRequest {
                tx_id: pending.handle.clone(),
            },
            "verify request",
        )?;

        // 3. The signed value, delivered once.
        let resp = match self
            .call("verify", Method::POST, &self.url("verify"), Some(&tx))
            .await?
        {
            Ok(resp) => resp,
            // Our own tx_id that Kakao no longer knows: the value was delivered
            // (and deleted) before.
            Err(r) if r.kakao_code() == Some(KakaoCode::UnknownTx) => {
                return Err(ProviderError::AlreadyUsed)
            }
            Err(r) => return Err(r.into_error()),
        };
        let v: VerifyResponse = resp.json()?;
        if v.tx_id != pending.handle {
            return Err(ProviderError::Protocol(
                "result is for another tx_id".into(),
            ));
        }
        if v.status != TxStatus::Complete {
            return Err(ProviderError::Protocol(format!(
                "result with status {:?} instead of COMPLETE",
                v.status
            )));
        }
        let rules = Rules {
            provider: &self.id,
            anchors: &self.anchors,
            cn: SIGNER_CN,
        };
        let signed = rules.signature(
            SignedResult::cms_base64(&v.signed_data, "signed_data")?,
            cms::Content::Attached(ask.nonce.as_bytes()),
            pending,
            None,
        )?;

        // 4. Who signed, with the CI, over the authenticated channel.
        let resp = self
            .call("signer", Method::POST, &self.url("signer"), Some(&tx))
            .await?
            .map_err(Refusal::into_error)?;
        let info: SignerInfoResponse = resp.json()?;
        if info.tx_id != pending.handle {
            return Err(ProviderError::Protocol(
                "signer info is for another tx_id".into(),
            ));
        }
        let person = self.person_from(&info)?;
        let evidence = rules.bind_one(signed, &person, who, pending)?;
        info!(provider = %self.id, tx = %pending.handle, "kakao_direct identity verified");
        Ok(Verified {
            person,
            evidence,
            amr: vec!["pin".to_owned()],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_keep_a_path_prefix() {
        assert_eq!(
            base_url("https://cert-sign.kakao.com", false).unwrap(),
            ("https://cert-sign.kakao.com".into(), false)
        );
        assert_eq!(
            base_url("http://127.0.0.1:8081/kakao-direct/", false).unwrap(),
            ("http://127.0.0.1:8081/kakao-direct".into(), true)
        );
        assert!(base_url("http://sim.internal", false).is_err());
        assert!(base_url("http://sim.internal", true).is_ok());
        assert!(base_url("https://k/?x=1", false).is_err());
        assert!(base_url("ftp://k", false).is_err());
        assert!(base_url("/relative", false).is_err());
    }

    #[test]
    fn cn_must_be_exactly_the_name() {
        let n = Name::parse("홍길동").unwrap();
        assert!(SIGNER_CN.names(&n, "홍길동"));
        for cn in [
            "홍 길동",
            "홍길동2",
            "홍길동 김철수",
            "홍길동 ",
            "홍길동()0011",
            "김철수",
        ] {
            assert!(!SIGNER_CN.names(&n, cn), "{cn:?}");
        }
    }
}
