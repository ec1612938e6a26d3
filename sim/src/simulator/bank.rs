//! Simulated banks (family D: KB, Shinhan …) under `/bank/{name}/…` on the
//! simulator's one listener, each speaking its own dialect, so the declarative
//! adapter is exercised against more than one shape.
//!
//! Two dialects, each a fixed wire shape a real bank could have:
//! - [`BankDialect::FlatEncrypted`] (KB-like): flat JSON, personal fields sent and
//!   returned AES-256-GCM encrypted (`b64(iv ‖ ct ‖ tag)` under `field_key`,
//!   sealed to the request and the field: `bank/answer.rs`),
//!   numeric states (`stateCd` 0 waiting, 1 opened, 2 signed, 3 declined, 4
//!   expired), errors `{errCd, errMsg}`, DER CMS. Paths `/v1/auth/requests`,
//!   `…/{txId}`, `POST …/{txId}/result`.
//! - [`BankDialect::Enveloped`] (Shinhan-like): plain fields, string states
//!   (`REQUESTED`, `OPENED`, `SIGNED`, `DECLINED`, `TIMEOUT`), every answer in
//!   `{result: SUCCESS|FAIL, data{…} | error{code, message}}`, BER
//!   indefinite-length CMS. Paths `/api/v2/identity`, `…/{id}`, `POST …/{id}/result`.
//!
//! Auth is configured per bank and enforced on every call: an HMAC-SHA256 header
//! over `METHOD\nPATH\nDATE\nb64(SHA-256(body))\n` with a date header inside the
//! allowed skew, a bearer token from `POST /oauth/token` (HTTP Basic client
//! credentials, `grant_type=client_credentials`), or a static key header. People
//! resolve through the shared scenarios and CI derivation (one person, one CI
//! whichever provider); each bank has its own test root (`pki_dir/bank-<name>/`),
//! whose certificates write the signer's CN as the bank's `signer_cn` says
//! (the name alone by default, or `홍길동()<digits>`).
//! The result is delivered once.
//!
//! Service misbehaviour on status and result calls comes from `misbehave.rs`,
//! in the dialect's error shape: maintenance is HTTP 503 with `K9000` /
//! `SERVICE_MAINTENANCE`, `server_error` and `flaky` HTTP 500 with `K9999` /
//! `INTERNAL_ERROR`; slow, hung and bad bodies as for every family. `revoked`
//! and `expired_cert` sign with such a certificate.
//!
//! The result answer, its sealed fields and its misbehaviour on demand
//! (duplicate keys, an invisible character in the name, a number for a
//! string, a sealed field moved or replayed): `bank/answer.rs`.
//!
//! Not here: document signing. State is computed lazily from timestamps
//! ([`super::state::phase_at`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq as _;
use tracing::{debug, info};

mod answer;

use super::people::Subject;
use super::state::{phase_at, Phase};
use super::{Scenario, SimError, Simulator};
use crate::cms;
use crate::testpki::ProviderPki;
use munjigi_providers::barocert::codes::BrokerCode;
use munjigi_providers::barocert::crypto;
use munjigi_providers::person::{BirthDate, Gender, Name, Phone};
use munjigi_providers::signer_cn::SignerCn;

/// Where the family is served on the simulator's listener.
pub(crate) const PREFIX: &str = "/bank/";
const MAX_BODY: usize = 64 * 1024;
const KEEP_AFTER_EXPIRY_MS: u64 = 3600 * 1000;
const MAX_TTL_SECS: u64 = 1800;
const MAX_NONCE_CHARS: usize = 100;

type Reply = Response<Full<Bytes>>;

/// One simulated bank, from the simulator's TOML (`[[simulator.banks]]`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimBank {
    /// Path segment: `/bank/{name}/…`; lower-case letters, digits, `-`.
    pub name: String,
    /// The organisation in its certificates (default: the name).
    #[serde(default)]
    pub label: Option<String>,
    pub dialect: BankDialect,
    pub auth: SimBankAuth,
    /// Base64 of the 32-byte AES key for encrypted fields (`flat_encrypted`).
    #[serde(default)]
    pub field_key: Option<String>,
    /// How its CA writes the signer's CN (default: the name alone).
    #[serde(default)]
    pub signer_cn: SignerCn,
}

impl std::fmt::Debug for SimBank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimBank")
            .field("name", &self.name)
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}

/// The wire shape a bank speaks (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankDialect {
    FlatEncrypted,
    Enveloped,
}

/// How the bank authenticates the gateway.
#[derive(Clone, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum SimBankAuth {
    Hmac(SimBankHmac),
    Bearer(SimBankBearer),
    ApiKey(SimBankApiKey),
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimBankHmac {
    /// Header with the base64 signature.
    pub header: String,
    /// Header with the RFC 3339 date.
    pub date_header: String,
    /// Base64 HMAC key.
    pub key: String,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimBankBearer {
    pub client_id: String,
    pub client_secret: String,
    #[serde(default = "default_token_ttl")]
    pub token_ttl_secs: u64,
}

fn default_token_ttl() -> u64 {
    3600
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimBankApiKey {
    pub header: String,
    pub key: String,
}

/// A refusal, before the dialect words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BankErr {
    Auth,
    BadParams,
    UnknownUser,
    Mismatch,
    Dormant,
    UnknownTx,
    NotCompleted,
    AlreadyRead,
    NoRoute,
    Internal,
    Maintenance,
}

impl BankErr {
    fn http(self, dialect: BankDialect) -> u16 {
        match (self, dialect) {
            (Self::Auth, _) => 401,
            (Self::BadParams, _) => 400,
            (Self::UnknownUser | Self::UnknownTx | Self::NoRoute, _) => 404,
            (Self::Mismatch, BankDialect::FlatEncrypted) => 409,
            (Self::Mismatch, BankDialect::Enveloped) => 422,
            (Self::Dormant, BankDialect::FlatEncrypted) => 403,
            (Self::Dormant, BankDialect::Enveloped) => 423,
            (Self::NotCompleted, _) => 409,
            (Self::AlreadyRead, _) => 410,
            (Self::Internal, _) => 500,
            (Self::Maintenance, _) => 503,
        }
    }

    fn code(self, dialect: BankDialect) -> &'static str {
        match dialect {
            BankDialect::FlatEncrypted => match self {
                Self::Auth => "K0401",
                Self::BadParams => "K0400",
                Self::NoRoute => "K0404",
                Self::UnknownUser => "K1001",
                Self::Mismatch => "K1002",
                Self::Dormant => "K1003",
                Self::UnknownTx => "K2001",
                Self::NotCompleted => "K2002",
                Self::AlreadyRead => "K2003",
                Self::Internal => "K9999",
                Self::Maintenance => "K9000",
            },
            BankDialect::Enveloped => match self {
                Self::Auth => "UNAUTHORIZED",
                Self::BadParams => "INVALID_REQUEST",
                Self::NoRoute => "NOT_FOUND",
                Self::UnknownUser => "USER_NOT_FOUND",
                Self::Mismatch => "USER_MISMATCH",
                Self::Dormant => "USER_SUSPENDED",
                Self::UnknownTx => "TX_NOT_FOUND",
                Self::NotCompleted => "TX_NOT_SIGNED",
                Self::AlreadyRead => "TX_ALREADY_READ",
                Self::Internal => "INTERNAL_ERROR",
                Self::Maintenance => "SERVICE_MAINTENANCE",
            },
        }
    }

    fn from_broker(code: BrokerCode) -> Self {
        match code {
            BrokerCode::UnknownPerson => Self::UnknownUser,
            BrokerCode::AccountDormant => Self::Dormant,
            BrokerCode::PersonMismatch => Self::Mismatch,
            _ => Self::Internal,
        }
    }
}

enum Auth {
    Hmac {
        header: String,
        date_header: String,
        key: Vec<u8>,
    },
    Bearer {
        client_id: String,
        client_secret: String,
        ttl_secs: u64,
    },
    ApiKey {
        header: String,
        key: String,
    },
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

struct Bank {
    name: String,
    dialect: BankDialect,
    auth: Auth,
    field_key: Option<[u8; 32]>,
    pki: ProviderPki,
    root_pem: Vec<u8>,
    signer_cn: SignerCn,
}

struct BankTx {
    bank: usize,
    scenario: Scenario,
    subject: Subject,
    nonce: String,
    requested_at_ms: u64,
    expires_at_ms: u64,
    delivered: bool,
}

/// The configured banks, their tokens and transactions.
pub(crate) struct BankSims {
    banks: Vec<Bank>,
    txs: Mutex<HashMap<String, BankTx>>,
    /// Bearer token → (bank, expires at ms).
    tokens: Mutex<HashMap<String, (usize, u64)>>,
}

fn cfg_err(bank: &str, msg: &str) -> SimError {
    SimError::Config(format!("banks.{bank}: {msg}"))
}

impl BankSims {
    pub fn new(pki_dir: &Path, cfgs: Vec<SimBank>) -> Result<Self, SimError> {
        let mut banks: Vec<Bank> = Vec::new();
        for c in cfgs {
            let n = &c.name;
            let name_ok = !n.is_empty()
                && n.len() <= 32
                && n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !name_ok {
                return Err(cfg_err(n, "name must be lower-case letters, digits or `-`"));
            }
            if banks.iter().any(|b| b.name == *n) {
                return Err(cfg_err(n, "listed twice"));
            }
            let auth = match c.auth {
                SimBankAuth::Hmac(h) => Auth::Hmac {
                    key: B64
                        .decode(h.key.trim())
                        .ok()
                        .filter(|k| !k.is_empty())
                        .ok_or_else(|| cfg_err(n, "auth.key must be base64"))?,
                    header: h.header.to_ascii_lowercase(),
                    date_header: h.date_header.to_ascii_lowercase(),
                },
                SimBankAuth::Bearer(b) => {
                    if b.client_id.is_empty() || b.client_secret.is_empty() || b.token_ttl_secs == 0
                    {
                        return Err(cfg_err(
                            n,
                            "bearer client_id, client_secret and token_ttl_secs must be set",
                        ));
                    }
                    Auth::Bearer {
                        client_id: b.client_id,
                        client_secret: b.client_secret,
                        ttl_secs: b.token_ttl_secs,
                    }
                }
                SimBankAuth::ApiKey(a) => Auth::ApiKey {
                    header: a.header.to_ascii_lowercase(),
                    key: a.key,
                },
            };
            let field_key = match &c.field_key {
                Some(k) => Some(
                    B64.decode(k.trim())
                        .ok()
                        .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
                        .ok_or_else(|| cfg_err(n, "field_key must be base64 of 32 bytes"))?,
                ),
                None => None,
            };
            if c.dialect == BankDialect::FlatEncrypted && field_key.is_none() {
                return Err(cfg_err(n, "the flat_encrypted dialect needs field_key"));
            }
            let product: &'static str = "bank";
            let label = c.label.clone().unwrap_or_else(|| c.name.clone());
            let pki = ProviderPki::load_or_generate(&pki_dir.join(format!("bank-{n}")), &label)
                .map_err(|source| SimError::Pki { product, source })?;
            let root_pem = pki
                .root_pem()
                .map_err(|source| SimError::Pki { product, source })?;
            banks.push(Bank {
                name: c.name,
                dialect: c.dialect,
                auth,
                field_key,
                pki,
                root_pem,
                signer_cn: c.signer_cn,
            });
        }
        Ok(Self {
            banks,
            txs: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// Each bank's PKI by its folder under `pki_dir` (`bank-<name>`).
    pub fn pkis(&self) -> impl Iterator<Item = (String, &ProviderPki)> {
        self.banks
            .iter()
            .map(|b| (format!("bank-{}", b.name), &b.pki))
    }

    /// The dialect of the bank served under `/bank/{name}/`.
    pub fn dialect_of(&self, name: &str) -> Option<BankDialect> {
        self.banks
            .iter()
            .find(|b| b.name == name)
            .map(|b| b.dialect)
    }

    pub fn root_pem(&self, name: &str) -> Option<Vec<u8>> {
        self.banks
            .iter()
            .find(|b| b.name == name)
            .map(|b| b.root_pem.clone())
    }
}

fn json_reply(status: u16, v: &Value) -> Reply {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    r
}

fn ok(dialect: BankDialect, data: Value) -> Reply {
    match dialect {
        BankDialect::FlatEncrypted => json_reply(200, &data),
        BankDialect::Enveloped => json_reply(200, &json!({"result": "SUCCESS", "data": data})),
    }
}

fn refuse(dialect: BankDialect, e: BankErr) -> Reply {
    let msg = format!("{e:?}");
    let body = match dialect {
        BankDialect::FlatEncrypted => json!({"errCd": e.code(dialect), "errMsg": msg}),
        BankDialect::Enveloped => {
            json!({"result": "FAIL", "error": {"code": e.code(dialect), "message": msg}})
        }
    };
    json_reply(e.http(dialect), &body)
}

/// The dialect's maintenance answer (HTTP 503).
pub(crate) fn refuse_maintenance(dialect: BankDialect) -> Reply {
    refuse(dialect, BankErr::Maintenance)
}

/// The dialect's internal error (HTTP 500).
pub(crate) fn refuse_internal(dialect: BankDialect) -> Reply {
    refuse(dialect, BankErr::Internal)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn text(v: &Value, key: &str) -> Result<String, BankErr> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(BankErr::BadParams)
}

fn gender_word(g: Gender, dialect: BankDialect) -> &'static str {
    match (g, dialect) {
        (Gender::Male, BankDialect::FlatEncrypted) => "M",
        (Gender::Female, BankDialect::FlatEncrypted) => "F",
        (Gender::Male, BankDialect::Enveloped) => "MALE",
        (Gender::Female, BankDialect::Enveloped) => "FEMALE",
    }
}

impl Simulator {
    /// Serves one bank request (the path starts with [`PREFIX`]).
    pub(crate) async fn bank_handle(&self, req: http::Request<Incoming>) -> Reply {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_owned();
        let rest = path.strip_prefix(PREFIX).unwrap_or_default();
        let (name, sub) = rest.split_once('/').unwrap_or((rest, ""));
        let Some(idx) = self.banks.banks.iter().position(|b| b.name == name) else {
            return refuse(BankDialect::Enveloped, BankErr::NoRoute);
        };
        let dialect = self
            .banks
            .banks
            .get(idx)
            .map_or(BankDialect::Enveloped, |b| b.dialect);
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return refuse(dialect, BankErr::BadParams),
        };
        if let Some(r) = self
            .bank_misbehaviour(idx, dialect, &parts.method, sub)
            .await
        {
            return r;
        }
        let signed_path = parts
            .uri
            .path_and_query()
            .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
        match self.bank_route(idx, &parts.method, sub, &signed_path, &parts.headers, &body) {
            Ok(r) => r,
            Err(e) => {
                debug!(bank = %name, method = %parts.method, code = e.code(dialect), "simulator (bank) refused");
                refuse(dialect, e)
            }
        }
    }

    /// The service misbehaviour of the transaction a status or result call
    /// names (see `misbehave.rs`), in the dialect's error shape.
    async fn bank_misbehaviour(
        &self,
        idx: usize,
        dialect: BankDialect,
        method: &Method,
        sub: &str,
    ) -> Option<Reply> {
        let segs: Vec<&str> = sub.split('/').collect();
        let (id, is_status) = match (dialect, segs.as_slice()) {
            (BankDialect::FlatEncrypted, ["v1", "auth", "requests", id])
            | (BankDialect::Enveloped, ["api", "v2", "identity", id])
                if *method == Method::GET =>
            {
                (*id, true)
            }
            (BankDialect::FlatEncrypted, ["v1", "auth", "requests", id, "result"])
            | (BankDialect::Enveloped, ["api", "v2", "identity", id, "result"])
                if *method == Method::POST =>
            {
                (*id, false)
            }
            _ => return None,
        };
        let scenario = self
            .banks
            .txs
            .lock()
            .ok()?
            .get(id)
            .filter(|t| t.bank == idx)?
            .scenario;
        self.misbehave_as(
            super::misbehave::Family::Bank(dialect),
            id,
            scenario,
            is_status,
        )
        .await
    }

    fn bank(&self, idx: usize) -> Result<&Bank, BankErr> {
        self.banks.banks.get(idx).ok_or(BankErr::Internal)
    }

    fn bank_route(
        &self,
        idx: usize,
        method: &Method,
        sub: &str,
        signed_path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Reply, BankErr> {
        let bank = self.bank(idx)?;
        let segs: Vec<&str> = sub.split('/').collect();
        if let (BankDialect::Enveloped, ["oauth", "token"]) = (bank.dialect, segs.as_slice()) {
            return if *method == Method::POST {
                self.bank_token(idx, headers, body)
            } else {
                Err(BankErr::NoRoute)
            };
        }
        self.bank_authorize(idx, method, signed_path, headers, body)?;
        // (start?, handle, result?)
        let op = match (bank.dialect, segs.as_slice()) {
            (BankDialect::FlatEncrypted, ["v1", "auth", "requests"])
            | (BankDialect::Enveloped, ["api", "v2", "identity"]) => (true, None, false),
            (BankDialect::FlatEncrypted, ["v1", "auth", "requests", id])
            | (BankDialect::Enveloped, ["api", "v2", "identity", id]) => (false, Some(*id), false),
            (BankDialect::FlatEncrypted, ["v1", "auth", "requests", id, "result"])
            | (BankDialect::Enveloped, ["api", "v2", "identity", id, "result"]) => {
                (false, Some(*id), true)
            }
            _ => return Err(BankErr::NoRoute),
        };
        match (method.clone(), op) {
            (Method::POST, (true, None, false)) => self.bank_start(idx, body),
            (Method::GET, (false, Some(id), false)) => self.bank_status(idx, id),
            (Method::POST, (false, Some(id), true)) => self.bank_result(idx, id),
            _ => Err(BankErr::NoRoute),
        }
    }

    /// `POST /oauth/token`: HTTP Basic client credentials → a bearer token.
    fn bank_token(&self, idx: usize, headers: &HeaderMap, body: &[u8]) -> Result<Reply, BankErr> {
        let bank = self.bank(idx)?;
        let Auth::Bearer {
            client_id,
            client_secret,
            ttl_secs,
        } = &bank.auth
        else {
            return Err(BankErr::NoRoute);
        };
        let given = header(headers, "authorization")
            .and_then(|a| a.strip_prefix("Basic "))
            .and_then(|b| B64.decode(b.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(BankErr::Auth)?;
        let (id, secret) = given.split_once(':').ok_or(BankErr::Auth)?;
        if !(same(id, client_id) & same(secret, client_secret)) {
            return Err(BankErr::Auth);
        }
        let form = std::str::from_utf8(body).map_err(|_| BankErr::BadParams)?;
        if !form
            .split('&')
            .any(|kv| kv == "grant_type=client_credentials")
        {
            return Err(BankErr::BadParams);
        }
        let raw: [u8; 32] = crypto::random_bytes().map_err(|_| BankErr::Internal)?;
        let token = hex::encode(raw);
        let now = crypto::now_ms();
        let mut t = self.banks.tokens.lock().map_err(|_| BankErr::Internal)?;
        t.retain(|_, (_, until)| *until > now);
        t.insert(
            token.clone(),
            (idx, now.saturating_add(ttl_secs.saturating_mul(1000))),
        );
        drop(t);
        info!(bank = %bank.name, "simulator (bank) issued a token");
        // The token answer is plain OAuth2, outside the envelope.
        Ok(json_reply(
            200,
            &json!({"access_token": token, "token_type": "Bearer", "expires_in": ttl_secs}),
        ))
    }

    fn bank_authorize(
        &self,
        idx: usize,
        method: &Method,
        signed_path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), BankErr> {
        let bank = self.bank(idx)?;
        match &bank.auth {
            Auth::Hmac {
                header: h,
                date_header,
                key,
            } => {
                let date = header(headers, date_header).ok_or(BankErr::Auth)?;
                let t = crypto::parse_rfc3339(date).ok_or(BankErr::Auth)?;
                if crypto::now_secs().abs_diff(t) > self.max_clock_skew_secs {
                    return Err(BankErr::Auth);
                }
                let given = header(headers, h).ok_or(BankErr::Auth)?;
                let digest = crypto::sha256_b64(body).map_err(|_| BankErr::Internal)?;
                let target = format!("{}\n{signed_path}\n{date}\n{digest}\n", method.as_str());
                if !crypto::hmac_sha256_matches(key, target.as_bytes(), given) {
                    return Err(BankErr::Auth);
                }
                Ok(())
            }
            Auth::Bearer { .. } => {
                let token = header(headers, "authorization")
                    .and_then(|a| a.strip_prefix("Bearer "))
                    .map(str::trim)
                    .ok_or(BankErr::Auth)?;
                let now = crypto::now_ms();
                let t = self.banks.tokens.lock().map_err(|_| BankErr::Internal)?;
                match t.get(token) {
                    Some((b, until)) if *b == idx && *until > now => Ok(()),
                    _ => Err(BankErr::Auth),
                }
            }
            Auth::ApiKey { header: h, key } => {
                let given = header(headers, h).ok_or(BankErr::Auth)?;
                if same(given, key) {
                    Ok(())
                } else {
                    Err(BankErr::Auth)
                }
            }
        }
    }

    fn bank_start(&self, idx: usize, body: &[u8]) -> Result<Reply, BankErr> {
        let bank = self.bank(idx)?;
        let v: Value = serde_json::from_slice(body).map_err(|_| BankErr::BadParams)?;
        let (name, birth, phone, nonce, ttl, title) = match bank.dialect {
            BankDialect::FlatEncrypted => {
                let key = bank.field_key.as_ref().ok_or(BankErr::Internal)?;
                // Sealed to this request (its nonce: there is no txId yet)
                // and each field's path.
                let nonce = text(&v, "signTarget")?;
                let dec = |k: &str| answer::open(key, &text(&v, k)?, &nonce, k);
                (
                    dec("userNm")?,
                    dec("birthDt")?,
                    dec("telNo")?,
                    nonce.clone(),
                    v.get("expiresIn").and_then(Value::as_u64),
                    text(&v, "title")?,
                )
            }
            BankDialect::Enveloped => (
                text(&v, "name")?,
                text(&v, "birthday")?,
                text(&v, "mobileNo")?,
                text(&v, "challenge")?,
                v.get("expiresInSec").and_then(Value::as_u64),
                text(&v, "displayTitle")?,
            ),
        };
        // Each dialect's own formats, strictly.
        let birth_ok = match bank.dialect {
            BankDialect::FlatEncrypted => {
                birth.len() == 8 && birth.bytes().all(|b| b.is_ascii_digit())
            }
            BankDialect::Enveloped => birth.len() == 10 && birth.as_bytes().get(4) == Some(&b'-'),
        };
        let phone_ok = match bank.dialect {
            BankDialect::FlatEncrypted => phone.bytes().all(|b| b.is_ascii_digit()),
            BankDialect::Enveloped => phone.starts_with("+82"),
        };
        if !birth_ok || !phone_ok {
            return Err(BankErr::BadParams);
        }
        let name = Name::parse(&name).map_err(|_| BankErr::BadParams)?;
        let birthdate = BirthDate::parse(&birth).map_err(|_| BankErr::BadParams)?;
        let phone = Phone::parse(&phone).map_err(|_| BankErr::BadParams)?;
        let n = nonce.chars().count();
        if n == 0 || n > MAX_NONCE_CHARS || title.trim().is_empty() {
            return Err(BankErr::BadParams);
        }
        let ttl = ttl
            .filter(|t| (1..=MAX_TTL_SECS).contains(t))
            .ok_or(BankErr::BadParams)?;
        let (asked, scenario) = self
            .resolve(&phone, &name, &birthdate)
            .map_err(BankErr::from_broker)?;
        let subject = self.result_subject(&asked, scenario);
        let now = crypto::now_ms();
        let raw: [u8; 12] = crypto::random_bytes().map_err(|_| BankErr::Internal)?;
        let id = match bank.dialect {
            BankDialect::FlatEncrypted => format!("KB{}", hex::encode_upper(raw)),
            BankDialect::Enveloped => hex::encode(raw),
        };
        let mut txs = self.banks.txs.lock().map_err(|_| BankErr::Internal)?;
        txs.retain(|_, t| t.expires_at_ms.saturating_add(KEEP_AFTER_EXPIRY_MS) > now);
        txs.insert(
            id.clone(),
            BankTx {
                bank: idx,
                scenario,
                subject,
                nonce,
                requested_at_ms: now,
                expires_at_ms: now.saturating_add(ttl.saturating_mul(1000)),
                delivered: false,
            },
        );
        drop(txs);
        info!(bank = %bank.name, tx = %id, scenario = ?scenario, ttl_secs = ttl, "simulator (bank) accepted a request");
        Ok(match bank.dialect {
            BankDialect::FlatEncrypted => ok(
                bank.dialect,
                json!({"txId": id, "appLink": format!("kbbank://cert?txId={id}")}),
            ),
            BankDialect::Enveloped => ok(
                bank.dialect,
                json!({"transactionId": id, "deeplink": format!("sbank://cert/identity?id={id}")}),
            ),
        })
    }

    fn bank_phase(&self, t: &BankTx, now: u64) -> Phase {
        phase_at(
            t.scenario,
            t.requested_at_ms,
            t.expires_at_ms,
            now,
            self.approve_after_ms,
        )
    }

    fn bank_status(&self, idx: usize, id: &str) -> Result<Reply, BankErr> {
        let bank = self.bank(idx)?;
        let now = crypto::now_ms();
        let txs = self.banks.txs.lock().map_err(|_| BankErr::Internal)?;
        let t = txs
            .get(id)
            .filter(|t| t.bank == idx)
            .ok_or(BankErr::UnknownTx)?;
        let phase = self.bank_phase(t, now);
        drop(txs);
        Ok(match bank.dialect {
            BankDialect::FlatEncrypted => {
                let code = match phase {
                    Phase::Waiting { viewed_at_ms: None } => 0,
                    Phase::Waiting { .. } => 1,
                    Phase::Completed { .. } => 2,
                    Phase::Rejected { .. } => 3,
                    Phase::Expired { .. } => 4,
                };
                ok(bank.dialect, json!({"txId": id, "stateCd": code}))
            }
            BankDialect::Enveloped => {
                let s = match phase {
                    Phase::Waiting { viewed_at_ms: None } => "REQUESTED",
                    Phase::Waiting { .. } => "OPENED",
                    Phase::Completed { .. } => "SIGNED",
                    Phase::Rejected { .. } => "DECLINED",
                    Phase::Expired { .. } => "TIMEOUT",
                };
                ok(bank.dialect, json!({"transactionId": id, "status": s}))
            }
        })
    }

    /// The CMS the citizen's app returns, per scenario, in the dialect's encoding.
    fn bank_sign(
        &self,
        bank: &Bank,
        scenario: Scenario,
        subject: &Subject,
        nonce: &str,
    ) -> Result<Vec<u8>, BankErr> {
        let pki = if scenario == Scenario::WrongChain {
            &self.rogue
        } else {
            &bank.pki
        };
        let crl = super::misbehave::crl_path(&self.control.pki_dir, &format!("bank-{}", bank.name));
        let signer = self
            .signer_for(pki, &crl, scenario, subject, bank.signer_cn)
            .map_err(|_| BankErr::Internal)?;
        let content = if scenario == Scenario::TamperContent {
            let r: [u8; 8] = crypto::random_bytes().map_err(|_| BankErr::Internal)?;
            format!("tampered-{}", hex::encode(r))
        } else {
            nonce.to_owned()
        };
        let failed = |e: cms::CmsError| {
            tracing::error!(error = %e, "simulator (bank) could not sign a result");
            BankErr::Internal
        };
        let mut der = cms::sign(
            content.as_bytes(),
            &signer,
            &[pki.ca().to_owned()],
            cms::Encoding::DerAttached,
        )
        .map_err(failed)?;
        if scenario == Scenario::BadSignature {
            // The signature value ends the DER: flipping its last byte breaks it alone.
            if let Some(b) = der.last_mut() {
                *b ^= 0x01;
            }
        }
        let encoding = match bank.dialect {
            BankDialect::FlatEncrypted => cms::Encoding::DerAttached,
            BankDialect::Enveloped => cms::Encoding::BerIndefiniteAttached,
        };
        cms::reencode_attached(&der, encoding).map_err(failed)
    }

    /// `POST …/result`: the signed result and the person, once.
    fn bank_result(&self, idx: usize, id: &str) -> Result<Reply, BankErr> {
        let bank = self.bank(idx)?;
        let now = crypto::now_ms();
        let mut txs = self.banks.txs.lock().map_err(|_| BankErr::Internal)?;
        let t = txs
            .get_mut(id)
            .filter(|t| t.bank == idx)
            .ok_or(BankErr::UnknownTx)?;
        if t.delivered {
            return Err(BankErr::AlreadyRead);
        }
        if !matches!(self.bank_phase(t, now), Phase::Completed { .. }) {
            return Err(BankErr::NotCompleted);
        }
        // Delivered once: marked before signing, so a concurrent second call
        // is refused; signed outside the lock (it may issue a certificate).
        t.delivered = true;
        let (scenario, s, nonce) = (t.scenario, t.subject.clone(), t.nonce.clone());
        drop(txs);
        let signed = self.bank_sign(bank, scenario, &s, &nonce)?;
        let ci = s.ci().map_err(|_| BankErr::Internal)?;
        info!(bank = %bank.name, tx = %id, scenario = ?scenario, "simulator (bank) delivered a result");
        let signed = B64.encode(signed);
        let person = answer::Person {
            ci: &ci,
            name: s.answered_name(scenario),
            birth_yyyymmdd: s.birthdate.yyyymmdd(),
            birth_iso: s.birthdate.iso(),
            phone_national: s.phone.national(),
            phone_e164: s.phone.e164(),
            gender: s.gender,
        };
        answer::reply(
            bank.dialect,
            bank.field_key.as_ref(),
            scenario,
            id,
            &signed,
            &person,
        )
    }
}
