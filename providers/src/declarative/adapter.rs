//! The declarative adapter: a [`Provider`] whose calls, fields, states and
//! errors come from a validated [`Description`].
//!
//! `start` sends the mapped citizen fields and the nonce (encrypting the fields
//! marked so) and reads the handle; `status` maps the provider's state value
//! through the description's table; `verify` fetches the result once, believes
//! it only after the CMS verifies against this provider's roots over exactly the
//! nonce sent, inside the request window, then reads the person (decrypting
//! where marked) and checks it is the citizen who was asked and that the
//! certificate's CN is exactly their name in the description's `signer_cn`
//! format (the name alone unless the description says otherwise).
//!
//! Answers are read strictly, because a description reads `Value`s by path
//! and cannot lean on typed structs: no key twice anywhere (refused for
//! every family by [`crate::json`]), person fields only as JSON strings (a
//! number has lost its leading zeros, an array has no one meaning), each
//! encrypted field sealed to this request and its own path (AES-GCM
//! associated data, [`bound_to`]: a ciphertext moved between fields or
//! replayed from another request does not open), names by [`Name::parse`]
//! (NFC, nothing invisible). A refusal of an answer's shape is logged with
//! the provider, the call and the reason, never a value.
//!
//! Auth per the description: an HMAC header over the listed parts, a bearer
//! token from a client-credentials token endpoint (cached; fetched again once
//! when a call is refused with HTTP 401), or a static key header. Refusals map
//! through the description's code table, else by HTTP status.
//!
//! Not here: retries beyond the one token refresh (the gateway decides), or any
//! provider-specific knowledge.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use serde_json::{Map, Value};
use tracing::{debug, info, warn};

use super::description::{
    Auth, CmsEncoding, Description, HttpMethod, NormalState, Reason, RequestField, ResultField,
    Source,
};
use super::{json, DeclarativeSecrets};
use crate::adapter::{AppToAppSupport, Challenge, Pending, Provider, Reach, Status, Verified};
use crate::assertion::{Level, ProviderId};
use crate::barocert::crypto;
use crate::binding::{Rules, SignedResult};
use crate::cms::{self, TrustAnchors};
use crate::error::ProviderError;
use crate::http_client::{HttpClient, HttpResponse};
use crate::person::{BirthDate, Ci, Citizen, Gender, Name, Person, Phone};

const DEFAULT_TIMEOUT_MS: u64 = 15_000;
const DEFAULT_MAX_TTL_SECS: u32 = 300;
/// A cached token is dropped this long before the provider says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(30);
/// Longest a bearer token is cached, whatever the provider says (a day).
const MAX_TOKEN_SECS: u64 = 86_400;
/// Longest handle accepted from a provider.
const MAX_HANDLE_CHARS: usize = 128;

/// The description's secrets, decoded for use.
enum AuthKey {
    Hmac(Vec<u8>),
    Bearer { basic: String },
    ApiKey(HeaderValue),
}

struct CachedToken {
    value: String,
    until: Instant,
}

/// A provider described in config, as a [`Provider`].
pub struct DeclarativeAdapter {
    id: ProviderId,
    level: Level,
    d: Description,
    /// Scheme, authority and path prefix, without a trailing `/`.
    base: String,
    auth: AuthKey,
    field_key: Option<[u8; 32]>,
    token: Mutex<Option<CachedToken>>,
    anchors: TrustAnchors,
    http: HttpClient,
    ttl_cap: u32,
}

impl std::fmt::Debug for DeclarativeAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeclarativeAdapter")
            .field("id", &self.id)
            .field("level", &self.level)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn config(msg: impl Into<String>) -> ProviderError {
    ProviderError::Config(msg.into())
}

fn b64_key(secrets: &DeclarativeSecrets, name: &str) -> Result<Vec<u8>, ProviderError> {
    let raw = secrets
        .get(name)
        .ok_or_else(|| config(format!("secret `{name}` is not given")))?;
    let text =
        std::str::from_utf8(raw).map_err(|_| config(format!("secret `{name}` is not base64")))?;
    B64.decode(text.trim())
        .map_err(|_| config(format!("secret `{name}` is not base64")))
}

/// Whether `raw` may be used as a handle in a path: 1 to 128 ASCII letters,
/// digits, `-` or `_`.
fn valid_handle(raw: &str) -> bool {
    (1..=MAX_HANDLE_CHARS).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The associated data an encrypted field is sealed with: the request it
/// belongs to (the provider's handle; for the start request, which has none
/// yet, the nonce) and the field's JSON path in the body, joined by `\n`
/// (neither may hold one). A field therefore opens only in its own place:
/// one copied from another field or another request fails the tag check.
fn bound_to(request: &str, path: &str) -> String {
    format!("{request}\n{path}")
}

/// A token's `expires_in`: a whole number of seconds (a JSON integer, or one
/// written as a string); negative, fractional, absent or anything else is a
/// broken answer, and a huge one is held for a day at most, so no arithmetic
/// on it can overflow.
fn token_secs(v: Option<&Value>) -> Result<u64, ProviderError> {
    v.and_then(|e| e.as_u64().or_else(|| e.as_str()?.trim().parse().ok()))
        .map(|s| s.min(MAX_TOKEN_SECS))
        .ok_or_else(|| {
            ProviderError::Protocol("token response has no expires_in in whole seconds".into())
        })
}

fn local_bad_request(message: &str) -> ProviderError {
    ProviderError::BadRequest {
        code: "local".into(),
        message: message.into(),
    }
}

/// Provider text kept short and printable in errors.
fn clip(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(120).collect()
}

fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), ProviderError> {
    let n = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| config(format!("`{name}` is not a header name")))?;
    let v = HeaderValue::from_str(value)
        .map_err(|_| config(format!("value for {name} is not a valid header")))?;
    Ok((n, v))
}

impl Reason {
    fn to_error(self, code: String, message: String) -> ProviderError {
        match self {
            Reason::UnknownPerson => ProviderError::UnknownPerson,
            Reason::PersonMismatch => ProviderError::PersonMismatch,
            Reason::AccountUnusable => ProviderError::AccountUnusable,
            Reason::Unauthorized => ProviderError::Unauthorized { code },
            Reason::Unavailable => ProviderError::Unavailable {
                code,
                retryable: true,
            },
            Reason::UnavailableFinal => ProviderError::Unavailable {
                code,
                retryable: false,
            },
            Reason::BadRequest => ProviderError::BadRequest { code, message },
            Reason::NotReady => ProviderError::NotReady,
            Reason::AlreadyUsed => ProviderError::AlreadyUsed,
            Reason::TooLate => ProviderError::TooLate,
            Reason::Rejected => ProviderError::Rejected,
            Reason::Expired => ProviderError::Expired,
        }
    }
}

impl DeclarativeAdapter {
    /// Builds the adapter: validates the description (every mistake, naming the
    /// field), decodes the secrets it names, and the URL and TLS bundle.
    pub fn new(
        id: ProviderId,
        level: Level,
        d: Description,
        secrets: &DeclarativeSecrets,
        anchors: TrustAnchors,
        tls_ca_pem: Option<Vec<u8>>,
    ) -> Result<Self, ProviderError> {
        let errors = d.validate(&|n| secrets.contains(n));
        if !errors.is_empty() {
            let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(config(format!(
                "declarative provider {id}: {}",
                all.join("; ")
            )));
        }
        let (base, plain) =
            crate::http_client::endpoint(&d.base_url, "base_url:", d.allow_plain_http, true)?;

        let auth = match &d.auth {
            Auth::Hmac(h) => {
                let k = b64_key(secrets, &h.key)?;
                if k.is_empty() {
                    return Err(config("auth.key: the HMAC key is empty"));
                }
                AuthKey::Hmac(k)
            }
            Auth::Bearer(b) => {
                let s = secrets
                    .get(&b.client_secret)
                    .ok_or_else(|| config("auth.client_secret: not given"))?;
                let s =
                    std::str::from_utf8(s).map_err(|_| config("auth.client_secret: not text"))?;
                AuthKey::Bearer {
                    basic: B64.encode(format!("{}:{}", b.client_id, s.trim())),
                }
            }
            Auth::ApiKey(a) => {
                let k = secrets
                    .get(&a.key)
                    .ok_or_else(|| config("auth.key: not given"))?;
                let k = std::str::from_utf8(k).map_err(|_| config("auth.key: not text"))?;
                let v = format!("{}{}", a.prefix.as_deref().unwrap_or_default(), k.trim());
                let mut hv = HeaderValue::from_str(&v)
                    .map_err(|_| config("auth.key: not usable in a header"))?;
                hv.set_sensitive(true);
                AuthKey::ApiKey(hv)
            }
        };
        let field_key =
            match &d.encryption {
                Some(e) => {
                    let k = b64_key(secrets, &e.key)?;
                    Some(<[u8; 32]>::try_from(k.as_slice()).map_err(|_| {
                        config("encryption.key: must be base64 of 32 bytes (AES-256)")
                    })?)
                }
                None => None,
            };
        let timeout = Duration::from_millis(d.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS));
        let http = HttpClient::new(tls_ca_pem.as_deref(), timeout)?.allow_plain_http(plain);
        let ttl_cap = d.max_ttl_secs.unwrap_or(DEFAULT_MAX_TTL_SECS).max(1);
        Ok(Self {
            id,
            level,
            d,
            base,
            auth,
            field_key,
            token: Mutex::new(None),
            anchors,
            http,
            ttl_cap,
        })
    }

    /// The request lifetime the adapter asks for, given the gateway's wish.
    pub fn effective_ttl(&self, asked: u32) -> u32 {
        asked.clamp(1, self.ttl_cap)
    }

    fn encrypt(&self, plain: &str, aad: &str) -> Result<String, ProviderError> {
        let key = self
            .field_key
            .as_ref()
            .ok_or_else(|| config("no encryption key"))?;
        crypto::encrypt_field_bound(key, plain, aad.as_bytes())
            .map_err(|_| config("field encryption failed"))
    }

    /// The JSON body of a call (`None` when it has no request fields and is a GET).
    fn body(
        &self,
        method: HttpMethod,
        fields: &[RequestField],
        who: Option<&Citizen>,
        ask: Option<(&Challenge, u32)>,
        handle: Option<&str>,
    ) -> Result<Option<Vec<u8>>, ProviderError> {
        if method == HttpMethod::Get {
            return Ok(None);
        }
        let mut m = Map::new();
        for f in fields {
            let missing = || config("a request field has no value at this step");
            let v: Value = match f.from {
                Source::Name => Value::from(who.ok_or_else(missing)?.name.expose()),
                Source::Birthdate => Value::from(who.ok_or_else(missing)?.birthdate.yyyymmdd()),
                Source::BirthdateIso => Value::from(who.ok_or_else(missing)?.birthdate.iso()),
                Source::Phone => Value::from(who.ok_or_else(missing)?.phone.national()),
                Source::PhoneE164 => Value::from(who.ok_or_else(missing)?.phone.e164()),
                Source::Nonce => Value::from(ask.ok_or_else(missing)?.0.nonce.as_str()),
                Source::TtlSecs => Value::from(ask.ok_or_else(missing)?.1),
                Source::Title => Value::from(ask.ok_or_else(missing)?.0.title.as_str()),
                Source::Handle => Value::from(handle.ok_or_else(missing)?),
                Source::AppToApp => {
                    Value::from(matches!(ask.ok_or_else(missing)?.0.reach, Reach::App(_)))
                }
                Source::DeviceOs | Source::ReturnUrl => match &ask.ok_or_else(missing)?.0.reach {
                    Reach::App(a) if f.from == Source::DeviceOs => Value::from(a.os.wire()),
                    Reach::App(a) => Value::from(a.return_url.as_str()),
                    // A push request leaves the app-to-app fields out.
                    Reach::Push => continue,
                },
            };
            let v = match (f.encrypted, v) {
                (true, Value::String(s)) => {
                    // Bound to this request and this field (see `bound_to`):
                    // the start request has no handle yet, so its nonce.
                    let request = handle.or(ask.map(|a| a.0.nonce.as_str()));
                    let request =
                        request.ok_or_else(|| config("an encrypted field has no request"))?;
                    Value::from(self.encrypt(&s, &bound_to(request, &f.to))?)
                }
                (_, v) => v,
            };
            json::set(&mut m, &f.to, v)
                .map_err(|()| config(format!("request field `{}` overlaps another", f.to)))?;
        }
        serde_json::to_vec(&Value::Object(m))
            .map(Some)
            .map_err(|e| config(format!("request body: {e}")))
    }

    /// A fresh or cached bearer token.
    async fn bearer(&self, basic: &str) -> Result<String, ProviderError> {
        if let Ok(t) = self.token.lock() {
            if let Some(c) = t.as_ref().filter(|c| c.until > Instant::now()) {
                return Ok(c.value.clone());
            }
        }
        let Auth::Bearer(b) = &self.d.auth else {
            return Err(config("not a bearer provider"));
        };
        let mut h = HeaderMap::new();
        let (k, mut v) = header("authorization", &format!("Basic {basic}"))?;
        v.set_sensitive(true);
        h.insert(k, v);
        let (k, v) = header("content-type", "application/x-www-form-urlencoded")?;
        h.insert(k, v);
        let url = format!("{}{}", self.base, b.token_path);
        let resp = self
            .http
            .send(
                Method::POST,
                &url,
                h,
                Bytes::from_static(b"grant_type=client_credentials"),
            )
            .await?;
        if !resp.status.is_success() {
            let e = self.refusal("token", &resp);
            return Err(match e {
                ProviderError::BadRequest { code, .. } => ProviderError::Unauthorized { code },
                e => e,
            });
        }
        let v: Value = resp.json()?;
        let token = json::get_text(&v, &b.token)
            .filter(|t| !t.is_empty() && HeaderValue::from_str(t).is_ok())
            .ok_or_else(|| ProviderError::Protocol("token response has no usable token".into()))?;
        let secs = token_secs(json::get(&v, &b.expires_in))?;
        let now = Instant::now();
        let until = now
            .checked_add(Duration::from_secs(secs).saturating_sub(TOKEN_MARGIN))
            .unwrap_or(now);
        if let Ok(mut t) = self.token.lock() {
            *t = Some(CachedToken {
                value: token.clone(),
                until,
            });
        }
        debug!(provider = %self.id, ttl_secs = secs, "declarative provider issued a token");
        Ok(token)
    }

    fn forget_token(&self) {
        if let Ok(mut t) = self.token.lock() {
            *t = None;
        }
    }

    /// The headers that authenticate one call.
    async fn auth_headers(
        &self,
        method: &Method,
        url: &str,
        body: &[u8],
    ) -> Result<HeaderMap, ProviderError> {
        let mut h = HeaderMap::new();
        match (&self.auth, &self.d.auth) {
            (AuthKey::Hmac(key), Auth::Hmac(spec)) => {
                let date = crypto::rfc3339(crypto::now_secs());
                let uri: Uri = url.parse().map_err(|_| config("bad URL"))?;
                let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
                let mut target = String::new();
                for part in &spec.signed {
                    match part {
                        super::SignedPart::Method => target.push_str(method.as_str()),
                        super::SignedPart::Path => target.push_str(path),
                        super::SignedPart::Date => target.push_str(&date),
                        super::SignedPart::BodySha256 => target.push_str(
                            &crypto::sha256_b64(body).map_err(|_| config("hashing failed"))?,
                        ),
                    }
                    target.push('\n');
                }
                let sig = crypto::hmac_sha256_b64(key, target.as_bytes())
                    .map_err(|_| config("HMAC failed"))?;
                let (k, v) = header(&spec.date_header, &date)?;
                h.insert(k, v);
                let (k, v) = header(
                    &spec.header,
                    &format!("{}{sig}", spec.prefix.as_deref().unwrap_or_default()),
                )?;
                h.insert(k, v);
            }
            (AuthKey::Bearer { basic }, Auth::Bearer(_)) => {
                let t = self.bearer(basic).await?;
                let (k, mut v) = header("authorization", &format!("Bearer {t}"))?;
                v.set_sensitive(true);
                h.insert(k, v);
            }
            (AuthKey::ApiKey(v), Auth::ApiKey(spec)) => {
                let (k, _) = header(&spec.header, "x")?;
                h.insert(k, v.clone());
            }
            _ => return Err(config("auth scheme and keys disagree")),
        }
        Ok(h)
    }

    /// One call; a non-2xx answer is mapped to a [`ProviderError`]. A bearer
    /// token refused with 401 is fetched again once.
    async fn call(
        &self,
        op: &'static str,
        method: HttpMethod,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Value, ProviderError> {
        let method = match method {
            HttpMethod::Get => Method::GET,
            HttpMethod::Post => Method::POST,
        };
        let url = format!("{}{path}", self.base);
        let body = body.unwrap_or_default();
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let mut h = self.auth_headers(&method, &url, &body).await?;
            if !body.is_empty() {
                let (k, v) = header("content-type", "application/json; charset=utf-8")?;
                h.insert(k, v);
            }
            let resp = self
                .http
                .send(method.clone(), &url, h, Bytes::from(body.clone()))
                .await?;
            if resp.status.is_success() {
                return resp.json().inspect_err(|e| self.answer_refused(op, e));
            }
            if resp.status == StatusCode::UNAUTHORIZED
                && matches!(self.auth, AuthKey::Bearer { .. })
                && attempt == 1
            {
                debug!(provider = %self.id, op, "declarative provider refused the token; fetching a new one");
                self.forget_token();
                attempt += 1;
                continue;
            }
            let e = self.refusal(op, &resp);
            info!(
                provider = %self.id,
                op,
                status = resp.status.as_u16(),
                reason = e.code(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "declarative provider refused"
            );
            return Err(e);
        }
    }

    /// The operator's line for an answer refused for its shape (a key twice,
    /// a person field that is not a string, one that does not decrypt for
    /// this request and field, a name with invisible characters): the
    /// provider, the call and the reason, which names fields and never
    /// holds their values.
    fn answer_refused(&self, op: &'static str, e: &ProviderError) {
        if let ProviderError::Protocol(reason) = e {
            warn!(provider = %self.id, op, reason = %reason, "declarative provider's answer refused");
        }
    }

    /// A refusal through the description's code table, else by HTTP status.
    fn refusal(&self, _op: &str, resp: &HttpResponse) -> ProviderError {
        let status = resp.status.as_u16();
        // Read as every answer is (no key twice): an ambiguous error body
        // maps by HTTP status alone.
        let body: Option<Value> = crate::json::from_slice(&resp.body).ok();
        let errs = self.d.errors.as_ref();
        let code = match (errs.and_then(|e| e.code.as_deref()), &body) {
            (Some(p), Some(b)) => json::get_text(b, p),
            _ => None,
        };
        let message = match (errs.and_then(|e| e.message.as_deref()), &body) {
            (Some(p), Some(b)) => json::get_text(b, p).map(|m| clip(&m)),
            _ => None,
        }
        .unwrap_or_default();
        if let Some(c) = &code {
            if let Some(r) = errs.and_then(|e| e.codes.get(c)) {
                return r.to_error(clip(c), message);
            }
        }
        let code = code.map_or_else(|| format!("http-{status}"), |c| clip(&c));
        match status {
            401 | 403 => ProviderError::Unauthorized { code },
            429 | 500..=599 => ProviderError::Unavailable {
                code,
                retryable: status != 501,
            },
            400..=499 => ProviderError::BadRequest { code, message },
            _ => ProviderError::Protocol(format!("HTTP {status} with code {code}")),
        }
    }

    fn path_for(template: &str, handle: &str) -> String {
        template.replace("{handle}", handle)
    }

    /// The person of a result answer. Each field must be a JSON string (a
    /// number or an array is refused, never written out as text: `01012345678`
    /// as a number has lost its leading zero, and what a provider meant by an
    /// array no reader can say); encrypted ones must open bound to this
    /// request's `handle` and their own path; then each is parsed by its
    /// type's one rule (a name in NFC without invisible characters).
    fn person_from(&self, v: &Value, handle: &str) -> Result<Person, ProviderError> {
        let r = &self.d.result;
        let field = |which: ResultField, path: &str| -> Result<String, ProviderError> {
            let raw = match json::get(v, path) {
                None | Some(Value::Null) => {
                    return Err(ProviderError::Protocol(format!("result has no {which:?}")))
                }
                Some(Value::String(s)) => s.trim().to_owned(),
                Some(_) => {
                    return Err(ProviderError::Protocol(format!(
                        "result {which:?} is not a JSON string"
                    )))
                }
            };
            if raw.is_empty() {
                return Err(ProviderError::Protocol(format!("result has no {which:?}")));
            }
            if r.encrypted.contains(&which) {
                let key = self
                    .field_key
                    .as_ref()
                    .ok_or_else(|| config("no encryption key"))?;
                crypto::decrypt_field_bound(key, &raw, bound_to(handle, path).as_bytes()).map_err(
                    |_| {
                        ProviderError::Protocol(format!(
                            "result {which:?} does not decrypt for this request and field"
                        ))
                    },
                )
            } else {
                Ok(raw)
            }
        };
        let bad = |what: &str| ProviderError::Protocol(format!("result {what} is malformed"));
        let name = Name::parse(&field(ResultField::Name, &r.name)?).map_err(|_| bad("name"))?;
        let birthdate = BirthDate::parse(&field(ResultField::Birthdate, &r.birthdate)?)
            .map_err(|_| bad("birthdate"))?;
        let phone =
            Phone::parse(&field(ResultField::Phone, &r.phone)?).map_err(|_| bad("phone"))?;
        let ci = Ci::parse(&field(ResultField::Ci, &r.ci)?).map_err(|_| bad("ci"))?;
        let gender = match &r.gender {
            // Optional: when given it must be a string (and open, when
            // encrypted); a value it does not know is left out, as before.
            Some(p) if json::get(v, p).is_some_and(|g| !g.is_null()) => {
                Gender::parse(&field(ResultField::Gender, p)?).ok()
            }
            _ => None,
        };
        Ok(Person {
            name,
            birthdate,
            phone,
            gender,
            ci,
        })
    }
}

#[async_trait::async_trait]
impl Provider for DeclarativeAdapter {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    fn level(&self) -> Level {
        self.level
    }

    fn shows_title(&self) -> bool {
        self.d
            .start
            .request
            .iter()
            .any(|f| matches!(f.from, crate::declarative::description::Source::Title))
    }

    /// Where the description maps the link in the start's answer (and, if
    /// the provider must be told, the `app_to_app` flag).
    fn app_to_app(&self) -> Option<AppToAppSupport> {
        let s = &self.d.start;
        s.app_scheme.as_ref().map(|_| AppToAppSupport {
            needs_carrier: false,
            returns_to_browser: s.request.iter().any(|f| f.from == Source::ReturnUrl),
        })
    }

    async fn start(&self, who: &Citizen, ask: &Challenge) -> Result<Pending, ProviderError> {
        let started_at = crypto::now_secs();
        if ask.nonce.is_empty() || ask.nonce.chars().any(char::is_control) {
            return Err(local_bad_request("the nonce must be non-empty text"));
        }
        let ttl = self.effective_ttl(ask.ttl_secs);
        let s = &self.d.start;
        let body = self.body(s.method, &s.request, Some(who), Some((ask, ttl)), None)?;
        let v = self.call("start", s.method, &s.path, body).await?;
        let handle = json::get_text(&v, &s.handle)
            .filter(|h| valid_handle(h))
            .ok_or_else(|| ProviderError::Protocol("start answer has no usable handle".into()))?;
        let app = matches!(ask.reach, Reach::App(_)) && self.app_to_app().is_some();
        let app_scheme = s
            .app_scheme
            .as_deref()
            .and_then(|p| json::get_text(&v, p))
            .filter(|u| !u.is_empty() && !u.chars().any(char::is_control));
        if app
            && !app_scheme
                .as_deref()
                .is_some_and(crate::adapter::app_link_is_safe)
        {
            return Err(ProviderError::Protocol(
                "app-to-app request answered without a usable link".into(),
            ));
        }
        info!(provider = %self.id, tx = %handle, ttl_secs = ttl, app_to_app = app, "declarative provider request started");
        Ok(Pending {
            handle,
            started_at,
            expires_at: started_at + u64::from(ttl),
            app_scheme,
            market_url: None,
            qr: None,
        })
    }

    async fn status(&self, pending: &Pending) -> Result<Status, ProviderError> {
        if !valid_handle(&pending.handle) {
            return Err(local_bad_request("handle is malformed"));
        }
        let s = &self.d.status;
        let body = self.body(s.method, &s.request, None, None, Some(&pending.handle))?;
        let v = self
            .call(
                "status",
                s.method,
                &Self::path_for(&s.path, &pending.handle),
                body,
            )
            .await?;
        let raw = json::get_text(&v, &s.state)
            .ok_or_else(|| ProviderError::Protocol("status answer has no state".into()))?;
        let state = s.states.get(raw.trim()).ok_or_else(|| {
            ProviderError::Protocol(format!(
                "state `{}` is not in the description's states table",
                clip(&raw)
            ))
        })?;
        debug!(provider = %self.id, tx = %pending.handle, state = ?state, "declarative provider status");
        Ok(match state {
            NormalState::Pending => Status::Pending { viewed: false },
            NormalState::Viewed => Status::Pending { viewed: true },
            NormalState::Completed => Status::Completed,
            NormalState::Expired => Status::Expired,
            NormalState::Rejected => Status::Rejected,
            NormalState::Failed => Status::Failed,
        })
    }

    async fn verify(
        &self,
        who: &Citizen,
        ask: &Challenge,
        pending: &Pending,
    ) -> Result<Verified, ProviderError> {
        if !valid_handle(&pending.handle) {
            return Err(local_bad_request("handle is malformed"));
        }
        let r = &self.d.result;
        let body = self.body(r.method, &r.request, None, None, Some(&pending.handle))?;
        let v = self
            .call(
                "result",
                r.method,
                &Self::path_for(&r.path, &pending.handle),
                body,
            )
            .await?;
        let signed_b64 = json::get(&v, &r.signed_data)
            .and_then(Value::as_str)
            .ok_or_else(|| ProviderError::Protocol("result has no signed data string".into()))
            .inspect_err(|e| self.answer_refused("result", e))?;
        let rules = Rules {
            provider: &self.id,
            anchors: &self.anchors,
            cn: r.signer_cn,
        };
        let content = if r.cms_encoding == CmsEncoding::Detached {
            cms::Content::Detached(ask.nonce.as_bytes())
        } else {
            cms::Content::Attached(ask.nonce.as_bytes())
        };
        let signed = rules.signature(
            SignedResult::cms_base64(signed_b64, "signed data")?,
            content,
            pending,
            None,
        )?;
        let person = self
            .person_from(&v, &pending.handle)
            .inspect_err(|e| self.answer_refused("result", e))?;
        let evidence = rules.bind_one(signed, &person, who, pending)?;
        info!(provider = %self.id, tx = %pending.handle, "declarative identity verified");
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
    use crate::signer_cn::SignerCn;
    use serde_json::json;

    #[test]
    fn a_tokens_lifetime_is_whole_seconds_and_at_most_a_day() {
        for (v, secs) in [
            (json!(3600), 3600),
            (json!("3600"), 3600),
            (json!(" 60 "), 60),
            (json!(0), 0),
            (json!(u64::MAX), MAX_TOKEN_SECS),
            (json!("18446744073709551615"), MAX_TOKEN_SECS),
        ] {
            assert_eq!(token_secs(Some(&v)).unwrap(), secs, "{v}");
        }
        for v in [
            json!(-1),
            json!(i64::MIN),
            json!(3600.5),
            json!(1e300),
            json!("-1"),
            json!("1e9"),
            json!("99999999999999999999999"),
            json!("soon"),
            json!(null),
            json!([3600]),
            json!({"s": 3600}),
            json!(true),
        ] {
            assert!(
                matches!(token_secs(Some(&v)), Err(ProviderError::Protocol(_))),
                "{v}"
            );
        }
        assert!(token_secs(None).is_err());
        // Whatever it was, adding it to now cannot overflow.
        let now = Instant::now();
        let _ = now
            .checked_add(Duration::from_secs(MAX_TOKEN_SECS))
            .unwrap();
    }

    #[test]
    fn handles_are_path_safe() {
        assert!(valid_handle("ab-12_X"));
        assert!(!valid_handle(""));
        assert!(!valid_handle("a/b"));
        assert!(!valid_handle(&"a".repeat(129)));
    }

    #[test]
    fn the_cn_format_is_the_descriptions_and_exact_by_default() {
        let n = Name::parse("홍길동").unwrap();
        let d = SignerCn::default();
        assert!(d.names(&n, "홍길동"));
        for cn in [
            "홍 길동",
            "홍길동2",
            "홍길동 김철수",
            "홍길동()0011",
            "김철수",
        ] {
            assert!(!d.names(&n, cn), "{cn:?}");
        }
        let npki = SignerCn::NameParenDigits;
        assert!(npki.names(&n, "홍길동()001104920200513111000123"));
        for cn in [
            "홍길동",
            "홍길동2()0011",
            "홍길동 김철수()0011",
            "홍길동()00a1",
        ] {
            assert!(!npki.names(&n, cn), "{cn:?}");
        }
    }
}
