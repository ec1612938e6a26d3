//! The simulated Toss certificate API (토스 인증서, family B) under
//! `/toss-direct/…` on the simulator's one listener.
//!
//! As strict as the real thing where the public record says how it behaves: an
//! OAuth2 token endpoint (`POST /toss-direct/token`, client credentials in the
//! form body, `scope=ca`) whose bearer tokens every API call needs (else 401
//! `INVALID_TOKEN`); `sessionKey`s opened with this API's RSA private key (else
//! `INVALID_SESSION_KEY`) and personal fields decrypted under that session (else
//! `DECRYPTION_FAILED`); people resolved through the shared scenarios (unknown,
//! mismatch, dormant) with the shared CI derivation, so one person has one CI
//! whichever way the gateway asks; states `REQUESTED`, `IN_PROGRESS`,
//! `COMPLETED`, `EXPIRED` from [`super::state::phase_at`]; a result readable at most twice,
//! its personal data encrypted under the session sent with the result call.
//! Results are DER CMS with content attached under this API's own test root.
//! Every refusal is the `{resultType: FAIL, error{errorCode, reason}}` envelope.
//!
//! Keys on disk under `pki_dir/toss-direct/`: the PKI (`root.pem` …) and the RSA
//! session key pair (`session.key.pem`, 0600; `session-public.pem`, what the
//! gateway is configured with).
//!
//! Service misbehaviour on status and result calls (maintenance as
//! `SERVICE_UNAVAILABLE` with 503, `server_error` and `flaky` as
//! `INTERNAL_SERVER_ERROR` with 500, slow, hung, bad bodies) comes from
//! `misbehave.rs`; `revoked` and `expired_cert` sign with such a certificate.
//!
//! Not here: app schemes, CBC sessions. A rejection shows as `EXPIRED` (the
//! published states have no rejection).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use openssl::pkey::Private;
use openssl::rsa::Rsa;
use serde::Deserialize;
use subtle::ConstantTimeEq as _;
use tracing::{debug, info};

use super::people::Subject;
use super::state::{app_phase_at, Phase};
use super::{Scenario, SimError, Simulator};
use crate::simulator::wire::toss_direct::{
    AuthRequest, AuthRequestSuccess, Envelope, ErrorBody, OAuthError, PersonalData, ResultRequest,
    ResultSuccess, ResultType, StatusSuccess, TokenResponse, TxRequest, TxStatus,
};
use crate::testpki::ProviderPki;
use munjigi_providers::barocert::codes::BrokerCode;
use munjigi_providers::barocert::crypto;
use munjigi_providers::person::{BirthDate, Gender, Name, Phone};
use munjigi_providers::toss_direct::codes::TossCode;
use munjigi_providers::toss_direct::session::{uuid_v4, TossSession};
use munjigi_providers::toss_direct::{
    form_decode, valid_tx_id, visible_ascii, MAX_SIGN_DATA_CHARS, MAX_TTL_SECS, TOKEN_SCOPE,
};

/// Where the family is served on the simulator's listener.
pub(crate) const PREFIX: &str = "/toss-direct/";
const API_PREFIX: &str = "/toss-direct/api/v2/sign/user/auth/";
const TOKEN_PATH: &str = "/toss-direct/token";
const MAX_BODY: usize = 64 * 1024;
const KEEP_AFTER_EXPIRY_MS: u64 = 3600 * 1000;
/// Reads of one result Toss allows.
const MAX_RESULT_READS: u32 = 2;
const SESSION_KEY_FILE: &str = "session.key.pem";
const SESSION_PUBLIC_FILE: &str = "session-public.pem";

type Reply = Response<Full<Bytes>>;

/// An RP's OAuth2 client at the simulated Toss; `Debug` hides the secret.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimTossClient {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for SimTossClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimTossClient")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

struct Tx {
    client: usize,
    scenario: Scenario,
    subject: Subject,
    sign_data: String,
    requested_at_ms: u64,
    expires_at_ms: u64,
    signed: Option<Vec<u8>>,
    reads: u32,
    /// `APP_SCHEME`: `Some(when the citizen approved in the app)`.
    app: Option<Option<u64>>,
}

impl Tx {
    fn phase(&self, now_ms: u64, approve_after_ms: u64) -> Phase {
        app_phase_at(
            self.scenario,
            self.requested_at_ms,
            self.app,
            self.expires_at_ms,
            now_ms,
            approve_after_ms,
        )
    }
}

/// The links an `APP_SCHEME` request is answered with: the generic scheme,
/// Android's intent and iOS's scheme (the simulated app opens any of them).
fn app_links(tx_id: &str) -> [String; 3] {
    let path = format!("toss-cert/sign?txId={tx_id}");
    [
        format!("supertoss://{path}"),
        format!("intent://{path}#Intent;scheme=supertoss;package=viva.republica.toss;end"),
        format!("supertoss://{path}&os=ios"),
    ]
}

impl Simulator {
    /// The app-to-app request one of whose links this is (for the simulated
    /// app, `app.rs`): its txId.
    pub(crate) fn td_app_find(&self, link: &str) -> Option<String> {
        let (_, query) = link.split_once('?')?;
        let query = query.split('#').next().unwrap_or_default();
        let id = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "txId")
            .map(|(_, v)| v.into_owned())?;
        let txs = self.toss_direct.txs.lock().ok()?;
        let t = txs.get(&id)?;
        (t.app.is_some() && app_links(&id).iter().any(|l| l == link)).then_some(id)
    }

    /// The citizen approves in the app: `false` once the request expired.
    pub(crate) fn td_app_act(&self, tx_id: &str, now_ms: u64) -> Option<bool> {
        let mut txs = self.toss_direct.txs.lock().ok()?;
        let t = txs.get_mut(tx_id)?;
        if now_ms >= t.expires_at_ms {
            return Some(false);
        }
        if let Some(acted) = t.app.as_mut() {
            acted.get_or_insert(now_ms);
        }
        Some(true)
    }
}

struct TokenInfo {
    client: usize,
    expires_at_ms: u64,
}

/// The family's clients, keys and transactions.
pub(crate) struct TossDirectSim {
    clients: Vec<SimTossClient>,
    token_ttl_secs: u64,
    pki: ProviderPki,
    root_pem: Vec<u8>,
    private: Rsa<Private>,
    public_pem: Vec<u8>,
    tokens: Mutex<HashMap<String, TokenInfo>>,
    issued: AtomicU64,
    txs: Mutex<HashMap<String, Tx>>,
}

/// Writes `bytes` to `path` all at once: to a private temporary file first, then
/// linked into place, so a concurrent reader never sees half a file. A file
/// already there (another process won the race) is kept.
fn publish(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let suffix: [u8; 8] = crypto::random_bytes().map_err(|_| std::io::ErrorKind::Other)?;
    let tmp = path.with_extension(format!("tmp-{}", hex::encode(suffix)));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let written = opts.open(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    let linked = written.and_then(|()| match std::fs::hard_link(&tmp, path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    });
    let _ = std::fs::remove_file(&tmp);
    linked
}

/// Loads the RSA session key pair from `dir`, or generates and saves it.
fn load_or_generate_rsa(dir: &Path) -> Result<Rsa<Private>, SimError> {
    let key_path = dir.join(SESSION_KEY_FILE);
    let pub_path = dir.join(SESSION_PUBLIC_FILE);
    let bad = |m: String| SimError::Config(format!("toss-direct session key: {m}"));
    if !key_path.exists() {
        let rsa = Rsa::generate(2048).map_err(|e| bad(e.to_string()))?;
        let pkey = openssl::pkey::PKey::from_rsa(rsa).map_err(|e| bad(e.to_string()))?;
        let key_pem = pkey
            .private_key_to_pem_pkcs8()
            .map_err(|e| bad(e.to_string()))?;
        publish(&key_path, &key_pem, 0o600)?;
    }
    // What is on disk is what every process uses.
    let pem = std::fs::read(&key_path)?;
    let rsa = openssl::pkey::PKey::private_key_from_pem(&pem)
        .and_then(|k| k.rsa())
        .map_err(|e| bad(e.to_string()))?;
    if !pub_path.exists() {
        let pub_pem = rsa.public_key_to_pem().map_err(|e| bad(e.to_string()))?;
        publish(&pub_path, &pub_pem, 0o644)?;
    }
    Ok(rsa)
}

impl TossDirectSim {
    pub fn new(
        pki_dir: &Path,
        clients: Vec<SimTossClient>,
        token_ttl_secs: u64,
    ) -> Result<Self, SimError> {
        for (i, c) in clients.iter().enumerate() {
            if !visible_ascii(&c.client_id, 256) || !visible_ascii(&c.client_secret, 256) {
                return Err(SimError::Config(format!(
                    "toss_direct_clients[{i}]: client_id and client_secret must be visible ASCII"
                )));
            }
            if clients
                .iter()
                .skip(i + 1)
                .any(|o| o.client_id == c.client_id)
            {
                return Err(SimError::Config(format!(
                    "toss_direct_clients[{i}]: client_id listed twice"
                )));
            }
        }
        let dir = pki_dir.join("toss-direct");
        let pki =
            ProviderPki::load_or_generate(&dir, "TossCert").map_err(|source| SimError::Pki {
                product: "toss-direct",
                source,
            })?;
        let root_pem = pki.root_pem().map_err(|source| SimError::Pki {
            product: "toss-direct",
            source,
        })?;
        let private = load_or_generate_rsa(&dir)?;
        let public_pem = private
            .public_key_to_pem()
            .map_err(|e| SimError::Config(format!("toss-direct session key: {e}")))?;
        Ok(Self {
            clients,
            token_ttl_secs,
            pki,
            root_pem,
            private,
            public_pem,
            tokens: Mutex::new(HashMap::new()),
            issued: AtomicU64::new(0),
            txs: Mutex::new(HashMap::new()),
        })
    }

    pub fn pki(&self) -> &ProviderPki {
        &self.pki
    }
}

fn json<T: serde::Serialize>(status: StatusCode, v: &T) -> Reply {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    r
}

fn success<T: serde::Serialize>(v: T) -> Reply {
    json(
        StatusCode::OK,
        &Envelope {
            result_type: ResultType::Success,
            success: Some(v),
            error: None,
        },
    )
}

pub(crate) fn refuse(code: TossCode) -> Reply {
    json(
        StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
        &Envelope::<()> {
            result_type: ResultType::Fail,
            success: None,
            error: Some(ErrorBody {
                error_code: code.code().to_owned(),
                reason: code.reason().to_owned(),
            }),
        },
    )
}

fn oauth_refuse(status: StatusCode, error: &str) -> Reply {
    json(
        status,
        &OAuthError {
            error: error.to_owned(),
            error_description: None,
        },
    )
}

fn from_broker(code: BrokerCode) -> TossCode {
    match code {
        BrokerCode::UnknownPerson => TossCode::UserNotFound,
        BrokerCode::AccountDormant => TossCode::UserUnavailable,
        BrokerCode::PersonMismatch => TossCode::UserInfoMismatch,
        _ => TossCode::Internal,
    }
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, TossCode> {
    serde_json::from_slice(body).map_err(|_| TossCode::InvalidParameter)
}

fn digits(s: &str, lens: &[usize]) -> bool {
    lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

fn dt(ms: u64) -> String {
    crypto::rfc3339(ms / 1000)
}

impl Simulator {
    /// The Toss-direct API's root certificate (PEM): what the gateway trusts
    /// for a `toss_direct` provider.
    pub fn toss_direct_root_pem(&self) -> Vec<u8> {
        self.toss_direct.root_pem.clone()
    }

    /// The Toss-direct API's RSA public key (PEM, SubjectPublicKeyInfo): what
    /// the gateway wraps session keys with. Also in
    /// `pki_dir/toss-direct/session-public.pem`.
    pub fn toss_direct_public_key_pem(&self) -> Vec<u8> {
        self.toss_direct.public_pem.clone()
    }

    /// Misbehaviour on demand: forgets every Toss-direct bearer token, as Toss
    /// does when they expire. The next API call with an old token gets 401.
    pub fn expire_toss_direct_tokens(&self) {
        if let Ok(mut t) = self.toss_direct.tokens.lock() {
            t.clear();
        }
    }

    /// How many Toss-direct tokens the token endpoint has issued.
    pub fn toss_direct_tokens_issued(&self) -> u64 {
        self.toss_direct.issued.load(Ordering::Relaxed)
    }

    /// Serves one Toss-direct request (the path starts with [`PREFIX`]).
    pub(crate) async fn toss_direct_handle(&self, req: http::Request<Incoming>) -> Reply {
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return refuse(TossCode::InvalidParameter),
        };
        let path = parts.uri.path();
        if parts.method != Method::POST {
            return refuse(TossCode::InvalidParameter);
        }
        if path == TOKEN_PATH {
            return self.td_token(&body);
        }
        let Some(op) = path.strip_prefix(API_PREFIX) else {
            return refuse(TossCode::InvalidParameter);
        };
        if let Some(r) = self.td_misbehaviour(op, &body).await {
            return r;
        }
        let result = self
            .td_authorize(&parts.headers)
            .and_then(|client| match op {
                "request" => self.td_request(client, &body),
                "status" => self.td_status(client, &body),
                "result" => self.td_result(client, &body),
                _ => Err(TossCode::InvalidParameter),
            });
        match result {
            Ok(r) => r,
            Err(code) => {
                debug!(path = %path, code = code.code(), "simulator (toss direct) refused");
                refuse(code)
            }
        }
    }

    /// The service misbehaviour of the transaction a status or result call
    /// names (see `misbehave.rs`), in the `FAIL` envelope.
    async fn td_misbehaviour(&self, op: &str, body: &[u8]) -> Option<Reply> {
        let is_status = match op {
            "status" => true,
            "result" => false,
            _ => return None,
        };
        // The tx id alone (a result call also carries a session key).
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let tx_id = v.get("txId")?.as_str()?.to_owned();
        let scenario = self.toss_direct.txs.lock().ok()?.get(&tx_id)?.scenario;
        self.misbehave_as(
            super::misbehave::Family::TossDirect,
            &tx_id,
            scenario,
            is_status,
        )
        .await
    }

    /// `POST /token`: client credentials in the form body.
    fn td_token(&self, body: &[u8]) -> Reply {
        let Ok(text) = std::str::from_utf8(body) else {
            return oauth_refuse(StatusCode::BAD_REQUEST, "invalid_request");
        };
        let mut form: HashMap<String, String> = HashMap::new();
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (Some(k), Some(v)) = (form_decode(k), form_decode(v)) else {
                return oauth_refuse(StatusCode::BAD_REQUEST, "invalid_request");
            };
            if form.insert(k, v).is_some() {
                return oauth_refuse(StatusCode::BAD_REQUEST, "invalid_request");
            }
        }
        let get = |k: &str| form.get(k).map(String::as_str);
        if get("grant_type") != Some("client_credentials") {
            return oauth_refuse(StatusCode::BAD_REQUEST, "unsupported_grant_type");
        }
        let (Some(id), Some(secret)) = (get("client_id"), get("client_secret")) else {
            return oauth_refuse(StatusCode::UNAUTHORIZED, "invalid_client");
        };
        let mut found = None;
        for (i, c) in self.toss_direct.clients.iter().enumerate() {
            let ok = ct_eq(&c.client_id, id) & ct_eq(&c.client_secret, secret);
            if ok && found.is_none() {
                found = Some(i);
            }
        }
        let Some(client) = found else {
            info!("simulator (toss direct) refused a token request: invalid_client");
            return oauth_refuse(StatusCode::UNAUTHORIZED, "invalid_client");
        };
        if !get("scope").is_some_and(|s| s.split(' ').any(|x| x == TOKEN_SCOPE)) {
            return oauth_refuse(StatusCode::BAD_REQUEST, "invalid_scope");
        }
        let Ok(raw) = crypto::random_bytes::<32>() else {
            return oauth_refuse(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
        };
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let now_ms = crypto::now_ms();
        let ttl = self.toss_direct.token_ttl_secs;
        if let Ok(mut t) = self.toss_direct.tokens.lock() {
            t.retain(|_, i| i.expires_at_ms > now_ms);
            t.insert(
                token.clone(),
                TokenInfo {
                    client,
                    expires_at_ms: now_ms.saturating_add(ttl.saturating_mul(1000)),
                },
            );
        } else {
            return oauth_refuse(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
        }
        self.toss_direct.issued.fetch_add(1, Ordering::Relaxed);
        info!(ttl_secs = ttl, "simulator (toss direct) issued a token");
        json(
            StatusCode::OK,
            &TokenResponse {
                access_token: token,
                token_type: "Bearer".into(),
                expires_in: ttl,
                scope: Some(TOKEN_SCOPE.into()),
            },
        )
    }

    fn td_authorize(&self, headers: &HeaderMap) -> Result<usize, TossCode> {
        let given = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(TossCode::InvalidToken)?;
        let now_ms = crypto::now_ms();
        let tokens = self
            .toss_direct
            .tokens
            .lock()
            .map_err(|_| TossCode::Internal)?;
        tokens
            .get(given)
            .filter(|t| t.expires_at_ms > now_ms)
            .map(|t| t.client)
            .ok_or(TossCode::InvalidToken)
    }

    fn td_open(&self, session_key: &str) -> Result<TossSession, TossCode> {
        TossSession::open(&self.toss_direct.private, session_key)
            .map_err(|_| TossCode::InvalidSessionKey)
    }

    /// `POST …/request`: who (encrypted) and what to sign → txId.
    fn td_request(&self, client: usize, body: &[u8]) -> Result<Reply, TossCode> {
        let req: AuthRequest = parse(body)?;
        let app = match (req.request_type.as_str(), req.trigger_type.as_str()) {
            ("USER_PERSONAL", "PUSH") => false,
            ("USER_PERSONAL", "APP_SCHEME") => true,
            _ => return Err(TossCode::InvalidParameter),
        };
        let s = self.td_open(&req.session_key)?;
        let dec = |f: &str| s.decrypt(f).map_err(|_| TossCode::DecryptionFailed);
        let name = dec(&req.user_name)?;
        let phone = dec(&req.user_phone)?;
        let birthday = dec(&req.user_birthday)?;
        if !digits(&phone, &[10, 11]) || !digits(&birthday, &[8]) {
            return Err(TossCode::InvalidParameter);
        }
        let phone = Phone::parse(&phone).map_err(|_| TossCode::InvalidParameter)?;
        let name = Name::parse(&name).map_err(|_| TossCode::InvalidParameter)?;
        let birthdate = BirthDate::parse(&birthday).map_err(|_| TossCode::InvalidParameter)?;
        let n = req.sign_data.chars().count();
        if n == 0 || n > MAX_SIGN_DATA_CHARS {
            return Err(TossCode::InvalidParameter);
        }
        if req.expire_seconds == 0 || req.expire_seconds > MAX_TTL_SECS {
            return Err(TossCode::InvalidParameter);
        }
        let (asked, scenario) = self
            .resolve(&phone, &name, &birthdate)
            .map_err(from_broker)?;
        let subject = self.result_subject(&asked, scenario);
        let now_ms = crypto::now_ms();
        let tx_id = uuid_v4().map_err(|_| TossCode::Internal)?;
        let mut txs = self
            .toss_direct
            .txs
            .lock()
            .map_err(|_| TossCode::Internal)?;
        txs.retain(|_, t| t.expires_at_ms.saturating_add(KEEP_AFTER_EXPIRY_MS) > now_ms);
        txs.insert(
            tx_id.clone(),
            Tx {
                client,
                scenario,
                subject,
                sign_data: req.sign_data,
                requested_at_ms: now_ms,
                expires_at_ms: now_ms
                    .saturating_add(u64::from(req.expire_seconds).saturating_mul(1000)),
                signed: None,
                reads: 0,
                app: app.then_some(None),
            },
        );
        drop(txs);
        info!(tx = %tx_id, scenario = ?scenario, expire_seconds = req.expire_seconds, "simulator (toss direct) accepted an auth request");
        let [scheme, android, ios] = app_links(&tx_id);
        Ok(success(AuthRequestSuccess {
            requested_dt: Some(dt(now_ms)),
            app_scheme: app.then_some(scheme),
            android_app_uri: app.then_some(android),
            ios_app_uri: app.then_some(ios),
            tx_id,
        }))
    }

    /// `POST …/status`.
    fn td_status(&self, client: usize, body: &[u8]) -> Result<Reply, TossCode> {
        let req: TxRequest = parse(body)?;
        if !valid_tx_id(&req.tx_id) {
            return Err(TossCode::InvalidParameter);
        }
        let now_ms = crypto::now_ms();
        let txs = self
            .toss_direct
            .txs
            .lock()
            .map_err(|_| TossCode::Internal)?;
        let t = txs
            .get(&req.tx_id)
            .filter(|t| t.client == client)
            .ok_or(TossCode::TxNotFound)?;
        let (status, completed) = match t.phase(now_ms, self.approve_after_ms) {
            Phase::Waiting { viewed_at_ms: None } => (TxStatus::Requested, None),
            Phase::Waiting { .. } => (TxStatus::InProgress, None),
            Phase::Completed { at_ms, .. } => (TxStatus::Completed, Some(at_ms)),
            Phase::Rejected { .. } | Phase::Expired { .. } => (TxStatus::Expired, None),
        };
        let requested = t.requested_at_ms;
        drop(txs);
        debug!(tx = %req.tx_id, status = ?status, "simulator (toss direct) status");
        Ok(success(StatusSuccess {
            tx_id: req.tx_id,
            status,
            requested_dt: Some(dt(requested)),
            completed_dt: completed.map(dt),
        }))
    }

    /// The CMS the citizen's Toss app returns, per scenario (DER, attached).
    fn td_sign(
        &self,
        scenario: Scenario,
        subject: &Subject,
        sign_data: &str,
    ) -> Result<Vec<u8>, TossCode> {
        self.direct_result(
            "toss-direct",
            &self.toss_direct.pki,
            scenario,
            subject,
            sign_data,
        )
        .ok_or(TossCode::Internal)
    }

    /// `POST …/result`: the signature and personal data, at most twice.
    fn td_result(&self, client: usize, body: &[u8]) -> Result<Reply, TossCode> {
        let req: ResultRequest = parse(body)?;
        if !valid_tx_id(&req.tx_id) {
            return Err(TossCode::InvalidParameter);
        }
        let s = self.td_open(&req.session_key)?;
        let now_ms = crypto::now_ms();
        // Sign outside the lock (issuing a certificate takes a moment).
        let job = {
            let txs = self
                .toss_direct
                .txs
                .lock()
                .map_err(|_| TossCode::Internal)?;
            let t = txs
                .get(&req.tx_id)
                .filter(|t| t.client == client)
                .ok_or(TossCode::TxNotFound)?;
            match t.phase(now_ms, self.approve_after_ms) {
                Phase::Waiting { .. } => return Err(TossCode::TxNotCompleted),
                Phase::Expired { .. } | Phase::Rejected { .. } => return Err(TossCode::TxExpired),
                Phase::Completed { .. } => {}
            }
            if t.reads >= MAX_RESULT_READS {
                return Err(TossCode::ResultReadLimitExceeded);
            }
            t.signed
                .is_none()
                .then(|| (t.scenario, t.subject.clone(), t.sign_data.clone()))
        };
        let fresh = match job {
            Some((scenario, subject, data)) => Some(self.td_sign(scenario, &subject, &data)?),
            None => None,
        };
        let mut txs = self
            .toss_direct
            .txs
            .lock()
            .map_err(|_| TossCode::Internal)?;
        let t = txs
            .get_mut(&req.tx_id)
            .filter(|t| t.client == client)
            .ok_or(TossCode::TxNotFound)?;
        if t.reads >= MAX_RESULT_READS {
            return Err(TossCode::ResultReadLimitExceeded);
        }
        if t.signed.is_none() {
            t.signed = fresh;
        }
        let signed = t.signed.clone().ok_or(TossCode::Internal)?;
        t.reads += 1;
        let reads = t.reads;
        let subject = t.subject.clone();
        let scenario = t.scenario;
        let completed_at = match t.phase(now_ms, self.approve_after_ms) {
            Phase::Completed { at_ms, .. } => Some(at_ms),
            _ => None,
        };
        drop(txs);

        let ci = subject.ci().map_err(|_| TossCode::Internal)?;
        let client_id = self
            .toss_direct
            .clients
            .get(client)
            .map(|c| c.client_id.as_str())
            .unwrap_or_default();
        let di = crypto::hmac_sha256(client_id.as_bytes(), ci.as_bytes())
            .map(|m| base64::engine::general_purpose::STANDARD.encode(m))
            .map_err(|_| TossCode::Internal)?;
        let enc = |v: &str| s.encrypt(v).map_err(|_| TossCode::Internal);
        let personal_data = PersonalData {
            ci: Some(enc(&ci)?),
            di: Some(enc(&di)?),
            name: Some(enc(&subject.answered_name(scenario))?),
            phone: Some(enc(&subject.phone.national())?),
            birthday: Some(enc(&subject.birthdate.yyyymmdd())?),
            gender: Some(enc(match subject.gender {
                Gender::Male => "MALE",
                Gender::Female => "FEMALE",
            })?),
            nationality: Some(enc("LOCAL")?),
        };
        info!(tx = %req.tx_id, scenario = ?scenario, reads, "simulator (toss direct) delivered a result");
        Ok(success(ResultSuccess {
            tx_id: req.tx_id,
            status: TxStatus::Completed,
            signature: base64::engine::general_purpose::STANDARD.encode(signed),
            personal_data,
            completed_dt: completed_at.map(dt),
        }))
    }
}
