//! OpenID4VP as a [`Provider`]: the gateway is the verifier, the wallet
//! fetches the request and posts its response back.
//!
//! A login is an id and one record in the gateway's store ([`Inbox`]) that
//! moves one way: waiting → request fetched → response being opened →
//! presented (or refused) → taken by `verify`; or ended by the wallet's
//! error response. `start` writes the record and returns the
//! `openid4vp://` link with the request by reference, which the waiting
//! page shows as a QR code (cross-device) and a wallet on the same phone
//! opens; the wallet's calls (`/oid4vp/request/{id}`,
//! `/oid4vp/response/{id}`) reach [`Oid4vpAdapter::call`] on any replica.
//! Every change is a compare-and-swap.
//!
//! What a caller can make the gateway do for free: an unknown id costs one
//! store read; the request object is signed once per login (its first
//! fetch moves the record on; the strict reading of a request URI, which
//! names one request, is that it is fetched once); a response is opened at
//! most once per login; a status list is fetched at most once a minute per
//! list, and only from a URI inside a credential whose issuer signature
//! already verified.
//!
//! Strict choices where the specification leaves room: the response must
//! come in the mode asked (an unencrypted `vp_token` is refused when
//! `direct_post.jwt` was asked; only an error may come unencrypted, as
//! §8.3 allows); `state` is required in the response, inside the JWE for
//! `direct_post.jwt`; a credential without `status` is refused unless the
//! operator says otherwise; the answer to a good response is `{}` with no
//! `redirect_uri` (the waiting page learns of the result by polling).
//! Not here: ISO mdoc, `transaction_data`, request encryption, the Digital
//! Credentials API.

use super::dcql::{self, Query};
use super::jwe;
use super::request::{self, Ask, Verifier};
use super::sd_jwt::{self, Policy, SdJwtError};
use super::status_list::{self, StatusError};
use crate::adapter::{Challenge, Pending, Provider, Status, Verified};
use crate::callback::{self, Answer, CallMethod, Callbacks, Inbox};
use crate::http_client::HttpClient;
use crate::person::{BirthDate, Ci, Name};
use crate::{Citizen, Evidence, Level, ProviderError, ProviderId};
use munjigi_model::assertion::PresentationEvidence;
use openssl::x509::store::X509Store;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// The first path segment of the wallet's calls.
pub const PREFIX: &str = "oid4vp";
/// The longest a citizen has to present.
pub const MAX_TTL_SECS: u32 = 300;
/// How long a record outlives its login (to answer late calls knowingly).
const KEPT_AFTER_SECS: u64 = 120;
/// The largest call body: an encrypted response, with room.
const MAX_BODY: usize = jwe::MAX_LEN + 4096;
/// How long a fetched status list is used before it is fetched again.
const STATUS_CACHE: Duration = Duration::from_secs(60);
/// Status lists kept at once (they come from a few trusted issuers).
const STATUS_CACHE_ENTRIES: usize = 64;
/// How often a wallet may fetch a login's request (a retry after a lost
/// answer); each fetch is one signature.
const MAX_FETCHES: u8 = 3;

/// Where a login's claims are in the credential (DCQL claims paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPaths {
    pub name: Vec<String>,
    pub birthdate: Vec<String>,
    pub ci: Vec<String>,
}

impl Default for ClaimPaths {
    fn default() -> Self {
        ClaimPaths {
            name: vec!["name".into()],
            birthdate: vec!["birthdate".into()],
            ci: vec!["ci".into()],
        }
    }
}

pub struct Oid4vpConfig {
    pub verifier: Verifier,
    /// The gateway's public URL, without a trailing `/`.
    pub public_url: String,
    /// Types accepted, each with its issuers' anchors.
    pub types: Vec<(String, X509Store)>,
    pub claims: ClaimPaths,
    pub encrypted: bool,
    pub require_status: bool,
    pub ttl_secs: Option<u32>,
    pub timeout_ms: Option<u64>,
    pub allow_plain_http: bool,
}

/// What a presentation that passed every check leaves for `verify`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Held {
    at: u64,
    holder: String,
    vct: String,
    name: String,
    birth: String,
    ci: String,
    presentation: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
enum Step {
    Waiting,
    Fetched {
        since: u64,
        #[serde(default)]
        fetches: u8,
    },
    Opening {
        since: u64,
    },
    Presented(Box<Held>),
    Refused {
        reason: String,
    },
    Ended {
        end: String,
    },
    Taken,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    nonce: String,
    state: String,
    expires_at: u64,
    step: Step,
}

/// The checks a presentation can fail, as log lines and the record name
/// them (never the content).
const REASONS: [&str; 18] = [
    "unreadable",
    "shape",
    "state",
    "vp_token",
    "credential_type",
    "issuer",
    "issuer_signature",
    "disclosure",
    "time",
    "nonce",
    "audience",
    "key_binding",
    "sd_hash",
    "claims",
    "claim_value",
    "revoked",
    "status",
    "status_missing",
];

fn reason_of(stored: &str) -> &'static str {
    REASONS
        .into_iter()
        .find(|r| *r == stored)
        .unwrap_or("shape")
}

fn sd_jwt_reason(e: SdJwtError) -> &'static str {
    match e {
        SdJwtError::Shape(_) => "shape",
        SdJwtError::Type => "credential_type",
        SdJwtError::Issuer => "issuer",
        SdJwtError::IssuerSignature => "issuer_signature",
        SdJwtError::Disclosure(_) => "disclosure",
        SdJwtError::Time(_) => "time",
        SdJwtError::Binding("another request's nonce") => "nonce",
        SdJwtError::Binding("made for another verifier") => "audience",
        SdJwtError::Binding("sd_hash is not of this presentation") => "sd_hash",
        SdJwtError::Binding(_) => "key_binding",
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn random_hex<const N: usize>() -> Result<String, ProviderError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| ProviderError::Config("no randomness".into()))?;
    Ok(hex::encode(b))
}

/// A login id as we make them: 32 lower-case hex characters. Anything else
/// is unknown without a store read.
fn plausible_id(t: &str) -> bool {
    t.len() == 32
        && t.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn key(id: &str) -> String {
    format!("o4v:{id}")
}

/// The first characters of an id, for logs: enough to find a login, not
/// enough to call for it.
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn json(status: u16, body: &Value) -> Answer {
    Answer {
        status,
        content_type: "application/json; charset=utf-8",
        body: body.to_string().into_bytes(),
    }
}

/// An OAuth error answer (§8.2 leaves the form of refusals to OAuth).
fn oauth_error(status: u16, error: &str, description: &str) -> Answer {
    json(
        status,
        &serde_json::json!({"error": error, "error_description": description}),
    )
}

/// Two secrets' equality, in constant time.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()))
}

/// The form parameters of a body; `None` when a name repeats or the body
/// is not UTF-8 form encoding.
fn form(body: &[u8]) -> Option<HashMap<String, String>> {
    std::str::from_utf8(body).ok()?;
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if out.insert(k.into_owned(), v.into_owned()).is_some() {
            return None;
        }
    }
    Some(out)
}

/// The string at `path` in the disclosed claims.
fn claim_at(claims: &Map<String, Value>, path: &[String]) -> Option<String> {
    let (first, rest) = path.split_first()?;
    let mut at = claims.get(first)?;
    for k in rest {
        at = at.as_object()?.get(k)?;
    }
    at.as_str().map(str::to_owned)
}

pub struct Oid4vpAdapter {
    id: ProviderId,
    level: Level,
    verifier: Arc<Verifier>,
    public_url: String,
    query: Query,
    types: Arc<Vec<(String, X509Store)>>,
    claims: ClaimPaths,
    encrypted: bool,
    require_status: bool,
    ttl_secs: u32,
    inbox: Arc<dyn Inbox>,
    http: HttpClient,
    allow_plain_http: bool,
    /// What each login's response key is derived from.
    key_secret: [u8; 32],
    statuses: Mutex<HashMap<String, (String, Instant)>>,
}

/// A presentation's outcome before the status list is asked.
struct Checked {
    held: Held,
    iss: String,
    status: Option<(u64, String)>,
}

impl Oid4vpAdapter {
    pub fn new(
        id: ProviderId,
        level: Level,
        c: Oid4vpConfig,
        inbox: Arc<dyn Inbox>,
        tls_ca_pem: Option<&[u8]>,
    ) -> Result<Self, ProviderError> {
        // Status lists live on the issuers' public servers: the system's
        // CAs unless the operator names one.
        let system;
        let tls_ca_pem = match tls_ca_pem {
            Some(p) => Some(p),
            None => {
                system = crate::http_client::system_roots_pem();
                if system.is_none() {
                    warn!(provider = %id, "no system CA certificates: status lists over https will not be fetched; set tls_ca");
                }
                system.as_deref()
            }
        };
        let http = HttpClient::new(
            tls_ca_pem,
            Duration::from_millis(c.timeout_ms.unwrap_or(5_000)),
        )?
        .allow_plain_http(true)
        .with_max_response_bytes(usize::try_from(status_list::MAX_BYTES).unwrap_or(1 << 20));
        let private = c
            .verifier
            .key
            .private_key()
            .to_vec_padded(32)
            .map_err(|_| ProviderError::Config("the verifier key does not read".into()))?;
        let mut h = openssl::sha::Sha256::new();
        h.update(b"munjigi-oid4vp-response-keys-v1\0");
        h.update(&private);
        let types: Vec<String> = c.types.iter().map(|(t, _)| t.clone()).collect();
        let paths = [
            c.claims.name.clone(),
            c.claims.birthdate.clone(),
            c.claims.ci.clone(),
        ];
        Ok(Oid4vpAdapter {
            id,
            level,
            verifier: Arc::new(c.verifier),
            public_url: c.public_url,
            query: dcql::query(&types, &paths),
            types: Arc::new(c.types),
            claims: c.claims,
            encrypted: c.encrypted,
            require_status: c.require_status,
            ttl_secs: c.ttl_secs.unwrap_or(MAX_TTL_SECS).min(MAX_TTL_SECS),
            inbox,
            http,
            allow_plain_http: c.allow_plain_http,
            key_secret: h.finish(),
            statuses: Mutex::new(HashMap::new()),
        })
    }

    async fn load(&self, id: &str) -> Result<Option<(Vec<u8>, Record)>, ProviderError> {
        callback::load(self.inbox.as_ref(), &key(id), "an OpenID4VP").await
    }

    /// Moves the record from `raw` to `next`: the bytes now stored, or None
    /// when it changed meanwhile.
    async fn save(
        &self,
        id: &str,
        raw: &[u8],
        next: &Record,
    ) -> Result<Option<Vec<u8>>, ProviderError> {
        let ttl = Duration::from_secs(next.expires_at.saturating_sub(now()) + KEPT_AFTER_SECS);
        callback::swap(
            self.inbox.as_ref(),
            &key(id),
            raw,
            next,
            ttl,
            "an OpenID4VP",
        )
        .await
    }

    /// The record of a live login, or the answer refusing the call.
    async fn known(&self, id: &str) -> Result<(Vec<u8>, Record), Answer> {
        if !plausible_id(id) {
            return Err(oauth_error(404, "invalid_request", "unknown request"));
        }
        match self.load(id).await {
            Ok(Some((raw, rec))) if now() < rec.expires_at => Ok((raw, rec)),
            Ok(Some(_)) => Err(oauth_error(400, "invalid_request", "the request expired")),
            Ok(None) => Err(oauth_error(404, "invalid_request", "unknown request")),
            Err(_) => Err(oauth_error(503, "temporarily_unavailable", "try again")),
        }
    }

    /// The `kid` of a login's response key: known only to whoever fetched
    /// the request (not the QR code's id, or anyone who saw the code could
    /// post a response that passes the envelope and fail the login).
    fn kid(&self, id: &str) -> String {
        let mac = crate::hmac::sha256(
            &self.key_secret,
            &[b"munjigi-oid4vp-kid-v1\0", id.as_bytes()],
        );
        hex::encode(mac.get(..16).unwrap_or(&mac))
    }

    fn response_uri(&self, id: &str) -> String {
        format!("{}/{PREFIX}/response/{id}", self.public_url)
    }

    /// `GET` or `POST /oid4vp/request/{id}`: the signed request object,
    /// once.
    async fn on_request(&self, id: &str, method: CallMethod, body: &[u8]) -> Answer {
        let wallet_nonce = match method {
            CallMethod::Get => None,
            CallMethod::Post => {
                let Some(f) = form(body) else {
                    return oauth_error(400, "invalid_request", "the body is not a form");
                };
                match f.get("wallet_nonce") {
                    Some(n)
                        if n.is_empty()
                            || n.len() > 256
                            || !n.bytes().all(|b| b.is_ascii_graphic()) =>
                    {
                        return oauth_error(400, "invalid_request", "wallet_nonce");
                    }
                    n => n.cloned(),
                }
            }
        };
        let (raw, rec) = match self.known(id).await {
            Ok(x) => x,
            Err(a) => return a,
        };
        let (since, fetches) = match rec.step {
            Step::Waiting => (now(), 1),
            Step::Fetched { since, fetches } if fetches < MAX_FETCHES => (since, fetches + 1),
            _ => {
                info!(provider = %self.id, login = short(id), "OpenID4VP request fetched once too often, or after the response; refused");
                return oauth_error(
                    400,
                    "invalid_request_uri",
                    "the request was already fetched",
                );
            }
        };
        let next = Record {
            step: Step::Fetched { since, fetches },
            ..rec.clone()
        };
        match self.save(id, &raw, &next).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                return oauth_error(
                    400,
                    "invalid_request_uri",
                    "the request was already fetched",
                )
            }
            Err(_) => return oauth_error(503, "temporarily_unavailable", "try again"),
        }
        let jwk = if self.encrypted {
            let kid = self.kid(id);
            match jwe::response_key(&self.key_secret, id).and_then(|k| jwe::public_jwk(&k, &kid)) {
                Some(j) => Some(j),
                None => return oauth_error(500, "server_error", "no response key"),
            }
        } else {
            None
        };
        let response_uri = self.response_uri(id);
        let ask = Ask {
            query: &self.query,
            nonce: &rec.nonce,
            state: &rec.state,
            response_uri: &response_uri,
            encryption_jwk: jwk.as_ref(),
            wallet_nonce: wallet_nonce.as_deref(),
            now: now(),
        };
        match request::request_object(&self.verifier, &ask) {
            Ok(jwt) => {
                info!(provider = %self.id, login = short(id), "OpenID4VP wallet fetched the request");
                Answer {
                    status: 200,
                    content_type: "application/oauth-authz-req+jwt",
                    body: jwt.into_bytes(),
                }
            }
            Err(e) => {
                warn!(provider = %self.id, login = short(id), error = %e, "OpenID4VP request could not be signed");
                oauth_error(500, "server_error", "the request could not be signed")
            }
        }
    }

    /// `POST /oid4vp/response/{id}`: the wallet's response or error.
    async fn on_response(&self, id: &str, body: &[u8]) -> Answer {
        let Some(f) = form(body) else {
            return oauth_error(400, "invalid_request", "the body is not a form");
        };
        let (raw, rec) = match self.known(id).await {
            Ok(x) => x,
            Err(a) => return a,
        };
        let Step::Fetched { .. } = rec.step else {
            return oauth_error(400, "invalid_request", "not waiting for a response");
        };
        let state_ok = |s: Option<&String>| s.is_some_and(|s| same(s, &rec.state));
        // An error response (unencrypted is allowed, §8.3): it ends the
        // login if it names this login's state.
        if let Some(error) = f.get("error") {
            if !state_ok(f.get("state")) {
                return oauth_error(400, "invalid_request", "state");
            }
            let end = if error == "access_denied" {
                "rejected"
            } else {
                "failed"
            };
            let next = Record {
                step: Step::Ended { end: end.into() },
                ..rec
            };
            return match self.save(id, &raw, &next).await {
                Ok(Some(_)) => {
                    let error: String = error
                        .chars()
                        .filter(char::is_ascii_graphic)
                        .take(40)
                        .collect();
                    info!(provider = %self.id, login = short(id), error, end, "OpenID4VP wallet ended the request");
                    json(200, &serde_json::json!({}))
                }
                Ok(None) => oauth_error(400, "invalid_request", "not waiting for a response"),
                Err(_) => oauth_error(503, "temporarily_unavailable", "try again"),
            };
        }
        // The envelope, before anything is opened: wrong, it is refused and
        // the login waits on (whoever saw the QR code cannot end it so).
        let kid = self.kid(id);
        let sealed = match (self.encrypted, f.get("response"), f.get("vp_token")) {
            (true, Some(r), None) if jwe::kid(r).is_some_and(|k| same(&k, &kid)) => Some(r.clone()),
            (true, Some(_), None) => {
                return oauth_error(
                    400,
                    "invalid_request",
                    "not encrypted to this request's key",
                )
            }
            (true, _, _) => {
                return oauth_error(400, "invalid_request", "the response must be encrypted")
            }
            (false, None, Some(_)) if state_ok(f.get("state")) => None,
            (false, None, Some(_)) => return oauth_error(400, "invalid_request", "state"),
            (false, _, _) => return oauth_error(400, "invalid_request", "vp_token"),
        };
        // One opening per login: the call that moves the record on opens it.
        let opening = Record {
            step: Step::Opening { since: now() },
            ..rec.clone()
        };
        let opened_raw = match self.save(id, &raw, &opening).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return oauth_error(400, "invalid_request", "not waiting for a response"),
            Err(_) => return oauth_error(503, "temporarily_unavailable", "try again"),
        };
        let vp_token = f.get("vp_token").cloned();
        let job = Job {
            types: self.types.clone(),
            verifier: self.verifier.clone(),
            claims: self.claims.clone(),
            query: self.query.clone(),
            key: if sealed.is_some() {
                jwe::response_key(&self.key_secret, id)
            } else {
                None
            },
            kid,
            nonce: rec.nonce.clone(),
            state: rec.state.clone(),
        };
        let opened = tokio::task::spawn_blocking(move || job.check(sealed.as_deref(), vp_token))
            .await
            .unwrap_or(Err("shape"));
        let outcome = match opened {
            Ok(Opened::Presented(c)) => self.status_of(&c).await.map(|()| Ok(c.held)),
            // The wallet's error, inside the encryption (§8.3 allows both).
            Ok(Opened::WalletError(e)) => Ok(Err(e)),
            Err(r) => Err(r),
        };
        let step = match &outcome {
            Ok(Ok(h)) => Step::Presented(Box::new(h.clone())),
            Ok(Err(e)) => Step::Ended {
                end: if e == "access_denied" {
                    "rejected"
                } else {
                    "failed"
                }
                .into(),
            },
            Err(r) => Step::Refused {
                reason: (*r).to_owned(),
            },
        };
        let next = Record { step, ..rec };
        match self.save(id, &opened_raw, &next).await {
            Ok(Some(_)) => {}
            Ok(None) => return oauth_error(400, "invalid_request", "not waiting for a response"),
            Err(_) => return oauth_error(503, "temporarily_unavailable", "try again"),
        }
        match outcome {
            Ok(Ok(_)) => {
                info!(provider = %self.id, login = short(id), "OpenID4VP presentation accepted");
                json(200, &serde_json::json!({}))
            }
            Ok(Err(error)) => {
                let error: String = error
                    .chars()
                    .filter(char::is_ascii_graphic)
                    .take(40)
                    .collect();
                info!(provider = %self.id, login = short(id), error, encrypted = true, "OpenID4VP wallet ended the request");
                json(200, &serde_json::json!({}))
            }
            Err(r) => {
                warn!(provider = %self.id, login = short(id), check = r, "OpenID4VP presentation refused; the login fails");
                oauth_error(400, "invalid_request", "the presentation was refused")
            }
        }
    }

    /// The credential's status by its issuer's status list: `Ok` only for
    /// VALID.
    async fn status_of(&self, c: &Checked) -> Result<(), &'static str> {
        let Some((idx, uri)) = &c.status else {
            return if self.require_status {
                Err("status_missing")
            } else {
                Ok(())
            };
        };
        let Some(anchors) = self
            .types
            .iter()
            .find(|(t, _)| *t == c.held.vct)
            .map(|(_, a)| a)
        else {
            return Err("credential_type");
        };
        let (token, cached) = self.status_token(uri).await.ok_or("status")?;
        let result = status_list::check(&token, uri, *idx, &c.iss, anchors, now());
        // Only a token that checked out is kept (a bad answer is not
        // served to every login for a minute).
        let token_good = matches!(
            result,
            Ok(()) | Err(StatusError::NotValid(_) | StatusError::Index)
        );
        if token_good && !cached {
            if let Ok(mut g) = self.statuses.lock() {
                if g.len() >= STATUS_CACHE_ENTRIES {
                    g.clear();
                }
                g.insert(uri.to_owned(), (token, Instant::now()));
            }
        }
        match result {
            Ok(()) => Ok(()),
            Err(StatusError::NotValid(_)) => Err("revoked"),
            Err(e) => {
                warn!(provider = %self.id, error = %e, "OpenID4VP status list refused");
                Err("status")
            }
        }
    }

    /// The status list token at `uri` and whether it came from the cache
    /// (fetched at most once a [`STATUS_CACHE`] while it checks out).
    async fn status_token(&self, uri: &str) -> Option<(String, bool)> {
        if let Ok(g) = self.statuses.lock() {
            if let Some((t, at)) = g.get(uri) {
                if at.elapsed() < STATUS_CACHE {
                    return Some((t.clone(), true));
                }
            }
        }
        let plain = if self.allow_plain_http {
            crate::url_rule::PlainHttp::Anywhere
        } else {
            crate::url_rule::PlainHttp::LoopbackOnly
        };
        let checked = match crate::url_rule::check(uri, plain) {
            Ok(c) => c,
            Err(e) => {
                warn!(provider = %self.id, error = %e, "OpenID4VP status list URI refused");
                return None;
            }
        };
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/statuslist+jwt"),
        );
        let r = match self.http.get(checked.url().as_str(), headers).await {
            Ok(r) if r.status == http::StatusCode::OK => r,
            Ok(r) => {
                warn!(provider = %self.id, status = r.status.as_u16(), "OpenID4VP status list not served");
                return None;
            }
            Err(e) => {
                warn!(provider = %self.id, error = %e, "OpenID4VP status list not fetched");
                return None;
            }
        };
        let token = String::from_utf8(r.body.to_vec()).ok()?.trim().to_owned();
        Some((token, false))
    }
}

/// What opening and checking a response needs, owned, for a blocking
/// thread.
struct Job {
    types: Arc<Vec<(String, X509Store)>>,
    verifier: Arc<Verifier>,
    claims: ClaimPaths,
    query: Query,
    key: Option<openssl::ec::EcKey<openssl::pkey::Private>>,
    kid: String,
    nonce: String,
    state: String,
}

/// What an opened response holds.
enum Opened {
    Presented(Checked),
    /// An error response that came encrypted, with this login's state.
    WalletError(String),
}

impl Job {
    fn check(
        &self,
        sealed: Option<&str>,
        vp_token: Option<String>,
    ) -> Result<Opened, &'static str> {
        let vp_token = match (sealed, &self.key) {
            (Some(jwe_text), Some(k)) => {
                let plain = jwe::open(jwe_text, k, &self.kid).map_err(|_| "unreadable")?;
                crate::json::unique_keys(&plain).map_err(|_| "shape")?;
                let p: Map<String, Value> = serde_json::from_slice(&plain).map_err(|_| "shape")?;
                let state = p.get("state").and_then(Value::as_str).unwrap_or_default();
                if !same(state, &self.state) {
                    return Err("state");
                }
                if let Some(e) = p.get("error") {
                    return Ok(Opened::WalletError(
                        e.as_str().unwrap_or("server_error").to_owned(),
                    ));
                }
                match p.get("vp_token") {
                    Some(Value::Object(o)) => Value::Object(o.clone()).to_string(),
                    Some(Value::String(s)) => s.clone(),
                    _ => return Err("vp_token"),
                }
            }
            (None, _) => vp_token.ok_or("vp_token")?,
            (Some(_), None) => return Err("unreadable"),
        };
        let presentation = dcql::presentation(&vp_token).map_err(|_| "vp_token")?;
        let audience = self.verifier.client_id();
        let p = sd_jwt::verify(
            &presentation,
            &Policy {
                types: &self.types,
                nonce: &self.nonce,
                audience: &audience,
                now: now(),
                legacy_typ: false,
            },
        )
        .map_err(sd_jwt_reason)?;
        let q = self.query.credentials.first().ok_or("shape")?;
        dcql::answers(q, &p.vct, &p.claims).map_err(|e| match e {
            dcql::DcqlError::Type => "credential_type",
            _ => "claims",
        })?;
        let (name, birth, ci) = (
            claim_at(&p.claims, &self.claims.name).ok_or("claim_value")?,
            claim_at(&p.claims, &self.claims.birthdate).ok_or("claim_value")?,
            claim_at(&p.claims, &self.claims.ci).ok_or("claim_value")?,
        );
        if Name::parse(&name).is_err()
            || BirthDate::parse(&birth).is_err()
            || Ci::parse(&ci).is_err()
        {
            return Err("claim_value");
        }
        Ok(Opened::Presented(Checked {
            held: Held {
                at: now(),
                holder: format!("urn:ietf:params:oauth:jwk-thumbprint:sha-256:{}", p.holder),
                vct: p.vct,
                name,
                birth,
                ci,
                presentation,
            },
            iss: p.iss,
            status: p.status,
        }))
    }
}

#[async_trait::async_trait]
impl Callbacks for Oid4vpAdapter {
    fn prefix(&self) -> &'static str {
        PREFIX
    }

    fn max_body(&self) -> usize {
        MAX_BODY
    }

    async fn call(&self, method: CallMethod, path: &str, body: &[u8]) -> Answer {
        match (method, path.split_once('/')) {
            (m, Some(("request", id))) => self.on_request(id, m, body).await,
            (CallMethod::Post, Some(("response", id))) => self.on_response(id, body).await,
            (CallMethod::Get, Some(("response", _))) => Answer::text(405, "method not allowed\n"),
            _ => Answer::text(404, "not found\n"),
        }
    }
}

#[async_trait::async_trait]
impl Provider for Oid4vpAdapter {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    fn level(&self) -> Level {
        self.level
    }

    async fn start(&self, _who: &Citizen, ask: &Challenge) -> Result<Pending, ProviderError> {
        let id = random_hex::<16>()?;
        // Bound to this login's challenge and id: a presentation made for
        // another login carries another nonce.
        let mut h = openssl::sha::Sha256::new();
        h.update(b"munjigi-oid4vp-nonce-v1\0");
        h.update(ask.nonce.as_bytes());
        h.update(id.as_bytes());
        let nonce = hex::encode(h.finish());
        let state = random_hex::<16>()?;
        let started_at = now();
        let ttl = ask.ttl_secs.clamp(1, self.ttl_secs);
        let expires_at = started_at + u64::from(ttl);
        let rec = Record {
            nonce,
            state,
            expires_at,
            step: Step::Waiting,
        };
        let bytes = serde_json::to_vec(&rec)
            .map_err(|_| ProviderError::Protocol("an OpenID4VP record does not write".into()))?;
        let ttl_store = Duration::from_secs(u64::from(ttl) + KEPT_AFTER_SECS);
        if !self.inbox.put_new(&key(&id), bytes, ttl_store).await? {
            return Err(ProviderError::Protocol("a login id repeated".into()));
        }
        let link = request::link(
            &self.verifier,
            &format!("{}/{PREFIX}/request/{id}", self.public_url),
        );
        info!(provider = %self.id, login = short(&id), ttl_secs = ttl, "OpenID4VP request started");
        Ok(Pending {
            handle: id,
            started_at,
            expires_at,
            // The same link opens a wallet on this phone.
            app_scheme: Some(link.clone()),
            market_url: None,
            qr: Some(link),
        })
    }

    async fn status(&self, pending: &Pending) -> Result<Status, ProviderError> {
        let Some((_, rec)) = self.load(&pending.handle).await? else {
            return Ok(if now() >= pending.expires_at {
                Status::Expired
            } else {
                Status::Failed
            });
        };
        let live = now() < rec.expires_at;
        Ok(match rec.step {
            Step::Waiting | Step::Fetched { .. } | Step::Opening { .. } if !live => Status::Expired,
            Step::Waiting => Status::Pending { viewed: false },
            Step::Fetched { .. } | Step::Opening { .. } => Status::Pending { viewed: true },
            Step::Presented(_) | Step::Refused { .. } | Step::Taken => Status::Completed,
            Step::Ended { end } => match end.as_str() {
                "rejected" => Status::Rejected,
                _ => Status::Failed,
            },
        })
    }

    async fn verify(
        &self,
        who: &Citizen,
        _ask: &Challenge,
        pending: &Pending,
    ) -> Result<Verified, ProviderError> {
        let id = pending.handle.as_str();
        let Some((raw, rec)) = self.load(id).await? else {
            return Err(ProviderError::TooLate);
        };
        match &rec.step {
            Step::Presented(_) | Step::Refused { .. } => {}
            Step::Taken => return Err(ProviderError::AlreadyUsed),
            _ => return Err(ProviderError::NotReady),
        }
        let taken = Record {
            step: Step::Taken,
            ..rec.clone()
        };
        if self.save(id, &raw, &taken).await?.is_none() {
            return Err(ProviderError::AlreadyUsed);
        }
        let h = match rec.step {
            Step::Presented(h) => h,
            Step::Refused { reason } => {
                return Err(ProviderError::BadPresentation(reason_of(&reason)))
            }
            _ => return Err(ProviderError::NotReady),
        };
        // The number typed stays unproven and is not released to sites.
        let person = callback::wallet_person(&h.name, &h.birth, &h.ci, who).inspect_err(|e| {
            if matches!(e, ProviderError::WrongSigner) {
                warn!(provider = %self.id, login = short(id), "OpenID4VP presentation is of another person than the one who started the login");
            }
        })?;
        Ok(Verified {
            person,
            evidence: Evidence::Presentation(PresentationEvidence {
                presentation: h.presentation.into_bytes(),
                presented_at: h.at,
                holder: h.holder,
                credential: h.vct,
                phone_proven: false,
            }),
            amr: vec!["openid4vp".to_owned()],
        })
    }

    fn callbacks(&self) -> Option<&dyn Callbacks> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_reason_reads_back_as_itself_and_the_prefix_is_routed() {
        for r in REASONS {
            assert_eq!(reason_of(r), r);
        }
        assert_eq!(reason_of("made up"), "shape");
        assert!(crate::callback::PREFIXES.contains(&PREFIX));
        assert!(crate::callback::PREFIXES.contains(&crate::mobile_id::adapter::PREFIX));
    }

    #[test]
    fn ids_forms_and_claim_paths() {
        assert!(plausible_id(&"a1".repeat(16)));
        assert!(!plausible_id(&"A1".repeat(16)));
        assert!(!plausible_id("../../x"));
        assert_eq!(form(b"a=1&b=%20").unwrap().get("b").unwrap(), " ");
        assert!(form(b"a=1&a=2").is_none(), "a repeated parameter");
        let claims: Map<String, Value> =
            serde_json::from_str(r#"{"name":"홍길동","address":{"locality":"Seoul"},"n":1}"#)
                .unwrap();
        assert_eq!(
            claim_at(&claims, &["name".into()]).as_deref(),
            Some("홍길동")
        );
        assert_eq!(
            claim_at(&claims, &["address".into(), "locality".into()]).as_deref(),
            Some("Seoul")
        );
        assert_eq!(claim_at(&claims, &["n".into()]), None, "not a string");
        assert_eq!(claim_at(&claims, &[]), None);
    }
}
