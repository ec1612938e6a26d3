//! The Toss-direct adapter: the gateway's side of Toss's certificate API.
//!
//! `start` sends who (encrypted under a fresh session) and the nonce to sign;
//! `status` maps Toss's four states; `verify` reads the result once under a new
//! session, believes the CMS only after it verifies against this provider's roots
//! over exactly the nonce that was sent, inside the request window, then decrypts
//! the personal data and checks it names the citizen who was asked (and the
//! certificate's CN agrees).
//!
//! Every call carries the cached OAuth2 bearer token; a 401 makes the adapter
//! fetch a new token and repeat the call once. Nothing else is retried here.
//!
//! Not here: per-login state (all of it is in [`Pending`]), or trusting the CI
//! beyond the authenticated, encrypted channel it came over.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;
use tracing::{debug, info};

use super::codes::{map_refusal, TossCode};
use super::session::{TossPublicKey, TossSession};
use super::wire::{
    AuthRequest, AuthRequestSuccess, Envelope, OAuthError, PersonalData, ResultRequest,
    ResultSuccess, ResultType, StatusSuccess, TokenResponse, TxRequest, TxStatus,
};
use super::{
    form_encode, valid_tx_id, visible_ascii, TossDirectClientSecret, TossDirectConfig,
    MAX_SIGN_DATA_CHARS, MAX_TTL_SECS, TOKEN_SCOPE,
};
use crate::adapter::{
    AppToAppSupport, Challenge, Pending, PhoneOs, Provider, Reach, Status, Verified,
};
use crate::assertion::{Level, ProviderId};
use crate::binding::{Rules, SignedResult};
use crate::cms::{self, TrustAnchors};
use crate::error::ProviderError;
use crate::http_client::{header, HttpClient, HttpResponse};
use crate::person::{BirthDate, Ci, Citizen, Gender, Name, Person, Phone};
use crate::signer_cn::SignerCn;

/// How Toss writes the signer's CN: the name alone (the subject carries
/// Toss's UID as `serialNumber`).
const SIGNER_CN: SignerCn = SignerCn::Exact;

const DEFAULT_TIMEOUT_MS: u64 = 15_000;
/// A cached token is renewed this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
const API_PATH: &str = "/api/v2/sign/user/auth";

/// A bearer token; `Debug` redacted.
#[derive(Clone)]
struct Token {
    value: String,
    expires: Instant,
    /// Which fetch this is, so a 401 forgets only the token that was refused.
    generation: u64,
}

#[derive(Default)]
struct TokenCache {
    token: Option<Token>,
    fetched: u64,
}

/// Toss's own certificate API as a [`Provider`].
pub struct TossDirectAdapter {
    id: ProviderId,
    level: Level,
    base: String,
    token_url: String,
    client_id: String,
    secret: TossDirectClientSecret,
    toss_key: TossPublicKey,
    ttl_cap: u32,
    anchors: TrustAnchors,
    http: HttpClient,
    tokens: Mutex<TokenCache>,
}

impl std::fmt::Debug for TossDirectAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TossDirectAdapter")
            .field("id", &self.id)
            .field("level", &self.level)
            .field("base", &self.base)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A refusal from Toss, before it becomes a [`ProviderError`]. Its `reason`
/// text is not kept (see [`map_refusal`]).
struct Refusal {
    status: u16,
    code: Option<String>,
}

impl Refusal {
    fn toss_code(&self) -> Option<TossCode> {
        self.code.as_deref().and_then(TossCode::from_code)
    }
    fn into_error(self) -> ProviderError {
        map_refusal(self.status, self.code.as_deref())
    }
}

fn local_bad_request(message: &str) -> ProviderError {
    ProviderError::BadRequest {
        code: "local".into(),
        message: message.into(),
    }
}

/// Validates an endpoint URL (scheme, host, optional path; no query) and says
/// whether it is plain http.
fn endpoint_url(raw: &str, what: &str, allow_plain: bool) -> Result<(String, bool), ProviderError> {
    crate::http_client::endpoint(raw, &format!("toss_direct {what}"), allow_plain, true)
}

fn to_json<T: serde::Serialize>(v: &T, what: &str) -> Result<Vec<u8>, ProviderError> {
    serde_json::to_vec(v).map_err(|e| ProviderError::Config(format!("{what}: {e}")))
}

impl TossDirectAdapter {
    /// Builds the adapter. Fails on a bad URL, client id, public key or TLS bundle.
    pub fn new(
        id: ProviderId,
        level: Level,
        cfg: TossDirectConfig,
        secret: TossDirectClientSecret,
        toss_public_key_pem: &[u8],
        anchors: TrustAnchors,
        tls_ca_pem: Option<Vec<u8>>,
    ) -> Result<Self, ProviderError> {
        if !visible_ascii(cfg.client_id.trim(), 256) {
            return Err(ProviderError::Config(
                "toss_direct client_id must be 1 to 256 visible ASCII characters".into(),
            ));
        }
        let toss_key = TossPublicKey::from_pem(toss_public_key_pem)?;
        let (base, plain_api) = endpoint_url(&cfg.endpoint, "endpoint", cfg.allow_plain_http)?;
        let (token_url, plain_token) =
            endpoint_url(&cfg.token_endpoint, "token_endpoint", cfg.allow_plain_http)?;
        let timeout = Duration::from_millis(cfg.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS));
        let http = HttpClient::new(tls_ca_pem.as_deref(), timeout)?
            .allow_plain_http(plain_api || plain_token);
        let ttl_cap = cfg.ttl_secs.unwrap_or(MAX_TTL_SECS).clamp(1, MAX_TTL_SECS);
        Ok(Self {
            id,
            level,
            base,
            token_url,
            client_id: cfg.client_id.trim().to_owned(),
            secret,
            toss_key,
            ttl_cap,
            anchors,
            http,
            tokens: Mutex::new(TokenCache::default()),
        })
    }

    /// The request lifetime the adapter will ask for, given the gateway's wish.
    pub fn effective_ttl(&self, asked: u32) -> u32 {
        asked.clamp(1, self.ttl_cap)
    }

    /// How many tokens this adapter has fetched (for tests and metrics).
    pub fn tokens_fetched(&self) -> u64 {
        self.tokens.lock().map(|c| c.fetched).unwrap_or(0)
    }

    fn cached_token(&self) -> Option<Token> {
        let cache = self.tokens.lock().ok()?;
        cache
            .token
            .as_ref()
            .filter(|t| t.expires > Instant::now() + TOKEN_MARGIN)
            .cloned()
    }

    fn forget_token(&self, generation: u64) {
        if let Ok(mut cache) = self.tokens.lock() {
            if cache
                .token
                .as_ref()
                .is_some_and(|t| t.generation == generation)
            {
                cache.token = None;
            }
        }
    }

    /// The cached token, or a new one from the token endpoint.
    async fn token(&self) -> Result<Token, ProviderError> {
        if let Some(t) = self.cached_token() {
            return Ok(t);
        }
        let body = format!(
            "grant_type=client_credentials&scope={}&client_id={}&client_secret={}",
            form_encode(TOKEN_SCOPE),
            form_encode(&self.client_id),
            form_encode(self.secret.expose())
        );
        let mut headers = HeaderMap::new();
        let (k, v) = header("content-type", "application/x-www-form-urlencoded")?;
        headers.insert(k, v);
        let (k, v) = header("accept", "application/json")?;
        headers.insert(k, v);
        let resp = self
            .http
            .send(Method::POST, &self.token_url, headers, Bytes::from(body))
            .await?;
        if resp.status != StatusCode::OK {
            let err = serde_json::from_slice::<OAuthError>(&resp.body).ok();
            let code = err.map_or_else(|| "-".to_owned(), |e| super::codes::clip_code(&e.error));
            let status = resp.status.as_u16();
            info!(provider = %self.id, status, code = %code, "toss_direct token refused");
            return Err(match status {
                400 | 401 | 403 => ProviderError::Unauthorized { code },
                s if s >= 500 => ProviderError::Unavailable {
                    code: format!("{code} (HTTP {s})"),
                    retryable: true,
                },
                _ => ProviderError::Protocol(format!("token endpoint answered HTTP {status}")),
            });
        }
        let t: TokenResponse = resp.json()?;
        if !t.token_type.eq_ignore_ascii_case("bearer")
            || t.access_token.is_empty()
            || !visible_ascii(&t.access_token, 8192)
            || t.expires_in == 0
        {
            return Err(ProviderError::Protocol(
                "token endpoint answered an unusable token".into(),
            ));
        }
        if t.scope
            .as_deref()
            .is_some_and(|s| !s.split(' ').any(|x| x == TOKEN_SCOPE))
        {
            return Err(ProviderError::Protocol(
                "token endpoint granted another scope".into(),
            ));
        }
        let mut cache = self
            .tokens
            .lock()
            .map_err(|_| ProviderError::Config("token cache poisoned".into()))?;
        cache.fetched += 1;
        let token = Token {
            value: t.access_token,
            expires: Instant::now() + Duration::from_secs(t.expires_in.min(86_400)),
            generation: cache.fetched,
        };
        cache.token = Some(token.clone());
        drop(cache);
        debug!(provider = %self.id, expires_in = t.expires_in, "toss_direct token issued");
        Ok(token)
    }

    /// One API call under `API_PATH`; `Ok(Err(_))` is a refusal from Toss. A
    /// 401 makes a new token and one more attempt.
    async fn call<T: DeserializeOwned>(
        &self,
        op: &'static str,
        body: &[u8],
    ) -> Result<Result<T, Refusal>, ProviderError> {
        let url = format!("{}{API_PATH}/{op}", self.base);
        let started = Instant::now();
        let mut reissued = false;
        loop {
            let token = self.token().await?;
            let mut headers = HeaderMap::new();
            let (k, v) = header("authorization", &format!("Bearer {}", token.value))?;
            headers.insert(k, v);
            let (k, v) = header("content-type", "application/json")?;
            headers.insert(k, v);
            let resp = self
                .http
                .send(Method::POST, &url, headers, Bytes::copy_from_slice(body))
                .await?;
            if resp.status == StatusCode::UNAUTHORIZED && !reissued {
                debug!(provider = %self.id, op, "toss_direct token refused; fetching a new one");
                self.forget_token(token.generation);
                reissued = true;
                continue;
            }
            return match self.envelope::<T>(&resp) {
                Ok(Ok(t)) => Ok(Ok(t)),
                Ok(Err(refusal)) => {
                    info!(
                        provider = %self.id,
                        op,
                        status = refusal.status,
                        code = %refusal.code.as_deref().map_or_else(|| "-".to_owned(), super::codes::clip_code),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "toss_direct refused"
                    );
                    Ok(Err(refusal))
                }
                Err(e) => Err(e),
            };
        }
    }

    fn envelope<T: DeserializeOwned>(
        &self,
        resp: &HttpResponse,
    ) -> Result<Result<T, Refusal>, ProviderError> {
        let status = resp.status.as_u16();
        let env = match resp.json::<Envelope<T>>() {
            Ok(env) => env,
            // A non-200 without the envelope (a proxy, an outage): by status.
            Err(_) if status != 200 => return Ok(Err(Refusal { status, code: None })),
            Err(e) => return Err(e),
        };
        match (env.result_type, env.success, env.error) {
            (ResultType::Success, Some(s), _) if status == 200 => Ok(Ok(s)),
            (ResultType::Fail, _, Some(e)) => Ok(Err(Refusal {
                status,
                code: Some(e.error_code),
            })),
            (ResultType::Fail, _, None) if status != 200 => Ok(Err(Refusal { status, code: None })),
            _ => Err(ProviderError::Protocol(
                "answer does not match its resultType".into(),
            )),
        }
    }

    fn person_from(&self, s: &TossSession, d: &PersonalData) -> Result<Person, ProviderError> {
        let field = |v: &Option<String>, what: &str| -> Result<String, ProviderError> {
            let enc = v
                .as_deref()
                .filter(|x| !x.trim().is_empty())
                .ok_or_else(|| ProviderError::Protocol(format!("personalData has no {what}")))?;
            let plain = s.decrypt(enc.trim()).map_err(|e| {
                ProviderError::Protocol(format!("personalData.{what} does not decrypt: {e}"))
            })?;
            Ok(plain.trim().to_owned())
        };
        let bad = |what: &str| ProviderError::Protocol(format!("personalData.{what} is malformed"));
        let name = Name::parse(&field(&d.name, "name")?).map_err(|_| bad("name"))?;
        let birthday = field(&d.birthday, "birthday")?;
        if birthday.len() != 8 || !birthday.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("birthday"));
        }
        let birthdate = BirthDate::parse(&birthday).map_err(|_| bad("birthday"))?;
        let phone = Phone::parse(&field(&d.phone, "phone")?).map_err(|_| bad("phone"))?;
        let ci = Ci::parse(&field(&d.ci, "ci")?).map_err(|_| bad("ci"))?;
        let gender = match &d.gender {
            Some(_) => Gender::parse(&field(&d.gender, "gender")?).ok(),
            None => None,
        };
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
            Err(local_bad_request("toss_direct txId is malformed"))
        }
    }

    fn session(&self) -> Result<TossSession, ProviderError> {
        TossSession::generate(&self.toss_key)
    }
}

#[async_trait::async_trait]
impl Provider for TossDirectAdapter {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    fn level(&self) -> Level {
        self.level
    }

    /// `triggerType = APP_SCHEME`: the answer carries the links; Toss takes
    /// no return address, so the citizen switches back.
    fn app_to_app(&self) -> Option<AppToAppSupport> {
        Some(AppToAppSupport {
            needs_carrier: false,
            returns_to_browser: false,
        })
    }

    async fn start(&self, who: &Citizen, ask: &Challenge) -> Result<Pending, ProviderError> {
        let started_at = crate::barocert::crypto::now_secs();
        let n = ask.nonce.chars().count();
        if n == 0 || n > MAX_SIGN_DATA_CHARS || ask.nonce.chars().any(char::is_control) {
            return Err(local_bad_request(&format!(
                "toss_direct requires a nonce of 1 to {MAX_SIGN_DATA_CHARS} characters"
            )));
        }
        let ttl = self.effective_ttl(ask.ttl_secs);
        let s = self.session()?;
        let enc = |v: &str| {
            s.encrypt(v)
                .map_err(|e| ProviderError::Config(format!("session encryption failed: {e}")))
        };
        let body = to_json(
            &AuthRequest {
                request_type: "USER_PERSONAL".into(),
                trigger_type: match ask.reach {
                    Reach::App(_) => "APP_SCHEME",
                    Reach::Push => "PUSH",
                }
                .into(),
                session_key: s.session_key().to_owned(),
                user_name: enc(who.name.expose())?,
                user_phone: enc(&who.phone.national())?,
                user_birthday: enc(&who.birthdate.yyyymmdd())?,
                sign_data: ask.nonce.clone(),
                expire_seconds: ttl,
            },
            "auth request",
        )?;
        let ok: AuthRequestSuccess = self
            .call("request", &body)
            .await?
            .map_err(Refusal::into_error)?;
        if !valid_tx_id(&ok.tx_id) {
            return Err(ProviderError::Protocol("txId is malformed".into()));
        }
        // The link for the phone's OS, else the generic scheme.
        let app_scheme = match &ask.reach {
            Reach::App(a) => {
                let own = match a.os {
                    PhoneOs::Android => ok.android_app_uri,
                    PhoneOs::Ios => ok.ios_app_uri,
                };
                let link = own
                    .or(ok.app_scheme)
                    .filter(|l| crate::adapter::app_link_is_safe(l));
                Some(link.ok_or_else(|| {
                    ProviderError::Protocol("APP_SCHEME request answered without a link".into())
                })?)
            }
            Reach::Push => None,
        };
        info!(provider = %self.id, tx = %ok.tx_id, ttl_secs = ttl, app_to_app = app_scheme.is_some(), "toss_direct auth requested");
        Ok(Pending {
            handle: ok.tx_id,
            started_at,
            expires_at: started_at + u64::from(ttl),
            app_scheme,
            market_url: None,
            qr: None,
        })
    }

    async fn status(&self, pending: &Pending) -> Result<Status, ProviderError> {
        Self::check_handle(&pending.handle)?;
        let body = to_json(
            &TxRequest {
                tx_id: pending.handle.clone(),
            },
            "status request",
        )?;
        let s: StatusSuccess = self
            .call("status", &body)
            .await?
            .map_err(Refusal::into_error)?;
        if s.tx_id != pending.handle {
            return Err(ProviderError::Protocol("status is for another txId".into()));
        }
        debug!(provider = %self.id, tx = %pending.handle, status = ?s.status, "toss_direct status");
        Ok(match s.status {
            TxStatus::Requested => Status::Pending { viewed: false },
            TxStatus::InProgress => Status::Pending { viewed: true },
            TxStatus::Completed => Status::Completed,
            TxStatus::Expired => Status::Expired,
        })
    }

    async fn verify(
        &self,
        who: &Citizen,
        ask: &Challenge,
        pending: &Pending,
    ) -> Result<Verified, ProviderError> {
        Self::check_handle(&pending.handle)?;
        // The personal data of the answer comes under a session of this call.
        let s = self.session()?;
        let body = to_json(
            &ResultRequest {
                tx_id: pending.handle.clone(),
                session_key: s.session_key().to_owned(),
            },
            "result request",
        )?;
        let r: ResultSuccess = match self.call("result", &body).await? {
            Ok(r) => r,
            Err(refusal) if refusal.toss_code() == Some(TossCode::ResultReadLimitExceeded) => {
                return Err(ProviderError::AlreadyUsed)
            }
            Err(refusal) => return Err(refusal.into_error()),
        };
        if r.tx_id != pending.handle {
            return Err(ProviderError::Protocol("result is for another txId".into()));
        }
        if r.status != TxStatus::Completed {
            return Err(ProviderError::Protocol(format!(
                "result with status {:?} instead of COMPLETED",
                r.status
            )));
        }
        let rules = Rules {
            provider: &self.id,
            anchors: &self.anchors,
            cn: SIGNER_CN,
        };
        let signed = rules.signature(
            SignedResult::cms_base64(&r.signature, "signature")?,
            cms::Content::Attached(ask.nonce.as_bytes()),
            pending,
            None,
        )?;
        let person = self.person_from(&s, &r.personal_data)?;
        let evidence = rules.bind_one(signed, &person, who, pending)?;
        info!(provider = %self.id, tx = %pending.handle, "toss_direct identity verified");
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
    fn endpoint_urls_keep_a_path() {
        assert_eq!(
            endpoint_url("https://cert.toss.im", "endpoint", false).unwrap(),
            ("https://cert.toss.im".into(), false)
        );
        assert_eq!(
            endpoint_url("http://127.0.0.1:8081/toss-direct/", "endpoint", false).unwrap(),
            ("http://127.0.0.1:8081/toss-direct".into(), true)
        );
        assert!(endpoint_url("http://sim.internal", "endpoint", false).is_err());
        assert!(endpoint_url("https://t/?x=1", "endpoint", false).is_err());
        assert!(endpoint_url("ftp://t", "endpoint", false).is_err());
    }

    #[test]
    fn cn_must_be_exactly_the_name() {
        let n = Name::parse("홍길동").unwrap();
        assert!(SIGNER_CN.names(&n, "홍길동"));
        for cn in [
            "홍길동 SIM123",
            "홍길동2",
            "홍길동 김철수",
            "홍 길동",
            "홍길동()0011",
            "김철수",
        ] {
            assert!(!SIGNER_CN.names(&n, cn), "{cn:?}");
        }
    }
}
