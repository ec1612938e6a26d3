//! The simulated Kakao-direct API (카카오톡 인증 서비스, K1100) under
//! `/kakao-direct/sign/v2/…` on the simulator's one listener.
//!
//! As strict as the real thing where the public record says how it behaves:
//! every call needs a configured REST API key (`Authorization: KakaoAK …`, else
//! E1004); the product code must be served here (a test product `…T` is E1007);
//! bodies are checked field by field (E1001); people resolve through the same
//! scenarios as the broker (E2001 unknown, E2002 mismatch, E2005 dormant); a tx_id
//! belongs to the key that prepared it (else E2003); the push can be sent once
//! (E2004); the signed value is delivered once and then deleted (E2003 after);
//! [`Scenario::Flaky`] answers the first status and the first verify with E0001
//! on HTTP 400. The CI is the broker's derivation, so one person has one CI
//! whichever way the gateway reached Kakao. Results are DER CMS with content
//! attached, signed under this API's own test root (`pki_dir/kakao-direct/`).
//!
//! Service misbehaviour (maintenance as E0002 on 503, `server_error` as E0001
//! on HTTP 400 on every call, slow, hung and bad bodies) on status, verify and
//! signer calls comes from `misbehave.rs`; `revoked` and `expired_cert` sign
//! with such a certificate (the CRL is `pki_dir/kakao-direct/crl.pem`).
//!
//! Not here: the dealer key, the CBT host, or document signing. State is computed lazily from timestamps
//! ([`super::state::phase_at`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde::Deserialize;
use subtle::ConstantTimeEq as _;
use tracing::{debug, info};

use super::people::Subject;
use super::state::{phase_at, Phase};
use super::{Scenario, SimError, Simulator};
use crate::simulator::wire::kakao_direct::{
    ErrorBody, PrepareRequest, PrepareResponse, SignRequest, SignRequestResponse,
    SignerInfoResponse, StatusResponse, TxRequest, TxStatus, VerifyResponse,
};
use crate::testpki::ProviderPki;
use munjigi_providers::barocert::codes::BrokerCode;
use munjigi_providers::barocert::crypto;
use munjigi_providers::kakao_direct::codes::KakaoCode;
use munjigi_providers::kakao_direct::{
    valid_tx_id, DEFAULT_PRODUCT_CODE, MAX_SIGN_DATA_CHARS, MAX_TITLE_CHARS, MAX_TTL_SECS,
};
use munjigi_providers::person::{BirthDate, Gender, Name, Phone};

/// Where the family is served on the simulator's listener.
pub(crate) const PREFIX: &str = "/kakao-direct/";
/// Largest request body read.
const MAX_BODY: usize = 64 * 1024;
/// How long a transaction is kept after it expired.
const KEEP_AFTER_EXPIRY_MS: u64 = 3600 * 1000;
/// Signer data the push may ask to release.
const IDENTIFY_ITEMS: [&str; 5] = ["CI", "NAME", "BIRTHDAY", "PHONE_NUMBER", "GENDER"];

type Reply = Response<Full<Bytes>>;

/// An RP's REST API key as the simulator is configured with it; `Debug` redacted.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct SimApiKey(String);

impl SimApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }
    fn matches(&self, given: &str) -> bool {
        self.0.len() == given.len() && bool::from(self.0.as_bytes().ct_eq(given.as_bytes()))
    }
}

impl std::fmt::Debug for SimApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimApiKey(..)")
    }
}

/// One prepared request.
struct Tx {
    /// Index of the key that prepared it: other keys do not see it.
    key: usize,
    scenario: Scenario,
    subject: Subject,
    sign_data: String,
    prepared_at_ms: u64,
    expires_at_ms: u64,
    requested_at_ms: Option<u64>,
    release_ci: bool,
    signed: Option<Vec<u8>>,
    delivered: bool,
    flaky_status: bool,
    flaky_verify: bool,
}

impl Tx {
    fn phase(&self, now_ms: u64, approve_after_ms: u64) -> Option<Phase> {
        let requested = self.requested_at_ms?;
        Some(phase_at(
            self.scenario,
            requested,
            self.expires_at_ms,
            now_ms,
            approve_after_ms,
        ))
    }
}

/// The family's keys, PKI and transactions.
pub(crate) struct KakaoDirectSim {
    keys: Vec<SimApiKey>,
    pki: ProviderPki,
    pub root_pem: Vec<u8>,
    txs: Mutex<HashMap<String, Tx>>,
}

impl KakaoDirectSim {
    pub fn new(pki_dir: &Path, keys: Vec<SimApiKey>) -> Result<Self, SimError> {
        for k in &keys {
            if k.0.is_empty() || !k.0.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(SimError::Config(
                    "kakao_direct_keys must be visible ASCII without spaces".into(),
                ));
            }
        }
        let pki = ProviderPki::load_or_generate(&pki_dir.join("kakao-direct"), "KakaoCert")
            .map_err(|source| SimError::Pki {
                product: "kakao-direct",
                source,
            })?;
        let root_pem = pki.root_pem().map_err(|source| SimError::Pki {
            product: "kakao-direct",
            source,
        })?;
        Ok(Self {
            keys,
            pki,
            root_pem,
            txs: Mutex::new(HashMap::new()),
        })
    }

    pub fn pki(&self) -> &ProviderPki {
        &self.pki
    }
}

fn reply<T: serde::Serialize>(v: &T) -> Reply {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    r
}

pub(crate) fn refuse(code: KakaoCode) -> Reply {
    let mut r = reply(&ErrorBody {
        error_code: code.code().to_owned(),
        error_message: code.message().to_owned(),
    });
    *r.status_mut() = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    r
}

/// The broker-side person refusals, in this API's codes.
fn from_broker(code: BrokerCode) -> KakaoCode {
    match code {
        BrokerCode::UnknownPerson => KakaoCode::NoSuchUser,
        BrokerCode::AccountDormant => KakaoCode::AccountUnusable,
        BrokerCode::PersonMismatch => KakaoCode::PersonMismatch,
        _ => KakaoCode::Internal,
    }
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, KakaoCode> {
    serde_json::from_slice(body).map_err(|_| KakaoCode::BadParams)
}

fn digits(s: &str, lens: &[usize]) -> bool {
    lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

fn rfc3339_ms(ms: u64) -> String {
    crypto::rfc3339(ms / 1000)
}

impl Simulator {
    /// Serves one Kakao-direct request (the path starts with [`PREFIX`]).
    pub(crate) async fn kakao_direct_handle(&self, req: http::Request<Incoming>) -> Reply {
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return refuse(KakaoCode::BadParams),
        };
        let path = parts.uri.path();
        if let Some(r) = self
            .kd_misbehaviour(&parts.method, path, parts.uri.query(), &body)
            .await
        {
            return r;
        }
        match self.kd_route(
            &parts.method,
            path,
            parts.uri.query(),
            &parts.headers,
            &body,
        ) {
            Ok(r) => r,
            Err(code) => {
                debug!(method = %parts.method, path = %path, code = code.code(), "simulator (kakao direct) refused");
                refuse(code)
            }
        }
    }

    /// The service misbehaviour of the transaction a status, verify or signer
    /// call names (see `misbehave.rs`), in this API's error shape.
    async fn kd_misbehaviour(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> Option<Reply> {
        let step = path.strip_prefix(PREFIX)?.split('/').nth(2)?;
        let (tx_id, is_status) = match (method, step) {
            (&Method::GET, "status") => (
                query?
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("tx_id="))?
                    .to_owned(),
                true,
            ),
            (&Method::POST, "verify" | "signer") => {
                let v: serde_json::Value = serde_json::from_slice(body).ok()?;
                (v.get("tx_id")?.as_str()?.to_owned(), false)
            }
            _ => return None,
        };
        let scenario = self.kakao_direct.txs.lock().ok()?.get(&tx_id)?.scenario;
        self.misbehave_as(
            super::misbehave::Family::KakaoDirect,
            &tx_id,
            scenario,
            is_status,
        )
        .await
    }

    fn kd_route(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Reply, KakaoCode> {
        let key = self.kd_authorize(headers)?;
        let rest = path.strip_prefix(PREFIX).ok_or(KakaoCode::BadParams)?;
        let segs: Vec<&str> = rest.split('/').collect();
        let (step, product) = match segs.as_slice() {
            ["sign", "v2", step, product] => (*step, *product),
            _ => return Err(KakaoCode::BadParams),
        };
        if product != DEFAULT_PRODUCT_CODE {
            return Err(if product.ends_with('T') {
                KakaoCode::WrongDomain
            } else {
                KakaoCode::NoPermission
            });
        }
        match (method.clone(), step) {
            (Method::POST, "prepare") => self.kd_prepare(key, body),
            (Method::POST, "request") => self.kd_request(key, body),
            (Method::GET, "status") => self.kd_status(key, query),
            (Method::POST, "verify") => self.kd_verify(key, body),
            (Method::POST, "signer") => self.kd_signer(key, body),
            _ => Err(KakaoCode::BadParams),
        }
    }

    /// `Authorization: KakaoAK {REST API key}`, compared in constant time.
    fn kd_authorize(&self, headers: &HeaderMap) -> Result<usize, KakaoCode> {
        let given = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().strip_prefix("KakaoAK "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(KakaoCode::BadKey)?;
        let mut found = None;
        for (i, k) in self.kakao_direct.keys.iter().enumerate() {
            if k.matches(given) && found.is_none() {
                found = Some(i);
            }
        }
        found.ok_or(KakaoCode::BadKey)
    }

    /// `POST /sign/v2/prepare/{product}`: who and what → tx_id.
    fn kd_prepare(&self, key: usize, body: &[u8]) -> Result<Reply, KakaoCode> {
        let req: PrepareRequest = parse(body)?;
        if !digits(&req.phone_number, &[10, 11]) {
            return Err(KakaoCode::BadParams);
        }
        let phone = Phone::parse(&req.phone_number).map_err(|_| KakaoCode::BadParams)?;
        let name = Name::parse(&req.name).map_err(|_| KakaoCode::BadParams)?;
        if !digits(&req.birthday, &[8]) {
            return Err(KakaoCode::BadParams);
        }
        let birthdate = BirthDate::parse(&req.birthday).map_err(|_| KakaoCode::BadParams)?;
        let n = req.sign_data.chars().count();
        if n == 0 || n > MAX_SIGN_DATA_CHARS {
            return Err(KakaoCode::BadParams);
        }
        let t = req.title.trim().chars().count();
        if t == 0 || t > MAX_TITLE_CHARS {
            return Err(KakaoCode::BadParams);
        }
        if req.expires_in == 0 || req.expires_in > MAX_TTL_SECS {
            return Err(KakaoCode::BadParams);
        }
        let (asked, scenario) = self
            .resolve(&phone, &name, &birthdate)
            .map_err(from_broker)?;
        let subject = self.result_subject(&asked, scenario);

        let now_ms = crypto::now_ms();
        let raw: [u8; 16] = crypto::random_bytes().map_err(|_| KakaoCode::Internal)?;
        let tx_id = hex::encode(raw);
        let mut txs = self
            .kakao_direct
            .txs
            .lock()
            .map_err(|_| KakaoCode::Internal)?;
        txs.retain(|_, t| t.expires_at_ms.saturating_add(KEEP_AFTER_EXPIRY_MS) > now_ms);
        txs.insert(
            tx_id.clone(),
            Tx {
                key,
                scenario,
                subject,
                sign_data: req.sign_data,
                prepared_at_ms: now_ms,
                expires_at_ms: now_ms
                    .saturating_add(u64::from(req.expires_in).saturating_mul(1000)),
                requested_at_ms: None,
                release_ci: false,
                signed: None,
                delivered: false,
                flaky_status: scenario == Scenario::Flaky,
                flaky_verify: scenario == Scenario::Flaky,
            },
        );
        drop(txs);
        info!(tx = %tx_id, scenario = ?scenario, expires_in = req.expires_in, "simulator (kakao direct) prepared a sign request");
        Ok(reply(&PrepareResponse { tx_id }))
    }

    /// `POST /sign/v2/request/{product}`: push to KakaoTalk, once.
    fn kd_request(&self, key: usize, body: &[u8]) -> Result<Reply, KakaoCode> {
        let req: SignRequest = parse(body)?;
        if !valid_tx_id(&req.tx_id)
            || req
                .identify_items
                .iter()
                .any(|i| !IDENTIFY_ITEMS.contains(&i.as_str()))
        {
            return Err(KakaoCode::BadParams);
        }
        let now_ms = crypto::now_ms();
        let mut txs = self
            .kakao_direct
            .txs
            .lock()
            .map_err(|_| KakaoCode::Internal)?;
        let tx = txs
            .get_mut(&req.tx_id)
            .filter(|t| t.key == key)
            .ok_or(KakaoCode::UnknownTx)?;
        if tx.requested_at_ms.is_some() {
            return Err(KakaoCode::RequestedTwice);
        }
        if now_ms >= tx.expires_at_ms {
            return Err(KakaoCode::BadParams);
        }
        tx.requested_at_ms = Some(now_ms);
        tx.release_ci = req.identify_items.iter().any(|i| i == "CI");
        let expires = tx.expires_at_ms;
        drop(txs);
        info!(tx = %req.tx_id, "simulator (kakao direct) pushed a sign request");
        Ok(reply(&SignRequestResponse {
            tx_id: req.tx_id,
            requested_at: Some(rfc3339_ms(now_ms)),
            request_expired_at: Some(rfc3339_ms(expires)),
        }))
    }

    /// Signs the result once the simulated citizen has approved (outside the lock).
    fn kd_ensure_signed(&self, tx_id: &str, now_ms: u64) -> Result<(), KakaoCode> {
        let job = {
            let txs = self
                .kakao_direct
                .txs
                .lock()
                .map_err(|_| KakaoCode::Internal)?;
            let Some(t) = txs.get(tx_id) else {
                return Ok(());
            };
            let completed = matches!(
                t.phase(now_ms, self.approve_after_ms),
                Some(Phase::Completed { .. })
            );
            if t.signed.is_some() || t.delivered || !completed {
                return Ok(());
            }
            (t.scenario, t.subject.clone(), t.sign_data.clone())
        };
        let signed = self.kd_sign(job.0, &job.1, &job.2)?;
        let mut txs = self
            .kakao_direct
            .txs
            .lock()
            .map_err(|_| KakaoCode::Internal)?;
        if let Some(t) = txs.get_mut(tx_id) {
            if t.signed.is_none() && !t.delivered {
                t.signed = Some(signed);
            }
        }
        Ok(())
    }

    /// The CMS the citizen's KakaoTalk returns, per scenario (DER, attached).
    fn kd_sign(
        &self,
        scenario: Scenario,
        subject: &Subject,
        sign_data: &str,
    ) -> Result<Vec<u8>, KakaoCode> {
        self.direct_result(
            "kakao-direct",
            &self.kakao_direct.pki,
            scenario,
            subject,
            sign_data,
        )
        .ok_or(KakaoCode::Internal)
    }

    /// `GET /sign/v2/status/{product}?tx_id=…`.
    fn kd_status(&self, key: usize, query: Option<&str>) -> Result<Reply, KakaoCode> {
        let tx_id = query
            .unwrap_or_default()
            .split('&')
            .find_map(|kv| kv.strip_prefix("tx_id="))
            .filter(|t| valid_tx_id(t))
            .ok_or(KakaoCode::BadParams)?
            .to_owned();
        let now_ms = crypto::now_ms();
        self.kd_ensure_signed(&tx_id, now_ms)?;
        let mut txs = self
            .kakao_direct
            .txs
            .lock()
            .map_err(|_| KakaoCode::Internal)?;
        let t = txs
            .get_mut(&tx_id)
            .filter(|t| t.key == key)
            .ok_or(KakaoCode::UnknownTx)?;
        if t.flaky_status {
            t.flaky_status = false;
            info!(tx = %tx_id, "simulator (kakao direct) answers a status call with E0001 (flaky)");
            return Err(KakaoCode::Internal);
        }
        let (status, viewed, signed_at) = match t.phase(now_ms, self.approve_after_ms) {
            None if now_ms >= t.expires_at_ms => (TxStatus::Expired, None, None),
            None => (TxStatus::Prepare, None, None),
            Some(Phase::Waiting { viewed_at_ms }) => (TxStatus::Request, viewed_at_ms, None),
            Some(Phase::Completed {
                viewed_at_ms,
                at_ms,
            }) => (TxStatus::Complete, Some(viewed_at_ms), Some(at_ms)),
            Some(Phase::Rejected { viewed_at_ms, .. }) => {
                (TxStatus::Reject, Some(viewed_at_ms), None)
            }
            Some(Phase::Expired { viewed_at_ms, .. }) => (TxStatus::Expired, viewed_at_ms, None),
        };
        let r = StatusResponse {
            tx_id: tx_id.clone(),
            status,
            requested_at: t.requested_at_ms.map(rfc3339_ms),
            request_expired_at: Some(rfc3339_ms(t.expires_at_ms)),
            viewed_at: viewed.map(rfc3339_ms),
            signed_at: signed_at.map(rfc3339_ms),
        };
        let prepared = t.prepared_at_ms;
        drop(txs);
        debug!(tx = %tx_id, status = ?status, age_ms = now_ms.saturating_sub(prepared), "simulator (kakao direct) status");
        Ok(reply(&r))
    }

    /// `POST /sign/v2/verify/{product}`: the signed value, once; then deleted.
    fn kd_verify(&self, key: usize, body: &[u8]) -> Result<Reply, KakaoCode> {
        let req: TxRequest = parse(body)?;
        if !valid_tx_id(&req.tx_id) {
            return Err(KakaoCode::BadParams);
        }
        let now_ms = crypto::now_ms();
        self.kd_ensure_signed(&req.tx_id, now_ms)?;
        let mut txs = self
            .kakao_direct
            .txs
            .lock()
            .map_err(|_| KakaoCode::Internal)?;
        let t = txs
            .get_mut(&req.tx_id)
            .filter(|t| t.key == key)
            .ok_or(KakaoCode::UnknownTx)?;
        if t.flaky_verify {
            t.flaky_verify = false;
            info!(tx = %req.tx_id, "simulator (kakao direct) answers a verify call with E0001 (flaky)");
            return Err(KakaoCode::Internal);
        }
        if t.delivered {
            // Deleted after delivery: Kakao has nothing for this tx_id any more.
            return Err(KakaoCode::UnknownTx);
        }
        if !matches!(
            t.phase(now_ms, self.approve_after_ms),
            Some(Phase::Completed { .. })
        ) {
            return Err(KakaoCode::BadParams);
        }
        let signed = t.signed.take().ok_or(KakaoCode::Internal)?;
        t.delivered = true;
        let scenario = t.scenario;
        drop(txs);
        info!(tx = %req.tx_id, scenario = ?scenario, "simulator (kakao direct) delivered a signed value");
        Ok(reply(&VerifyResponse {
            tx_id: req.tx_id,
            status: TxStatus::Complete,
            signed_data: base64::engine::general_purpose::STANDARD.encode(signed),
        }))
    }

    /// `POST /sign/v2/signer/{product}`: who signed, once the request is complete.
    fn kd_signer(&self, key: usize, body: &[u8]) -> Result<Reply, KakaoCode> {
        let req: TxRequest = parse(body)?;
        if !valid_tx_id(&req.tx_id) {
            return Err(KakaoCode::BadParams);
        }
        let now_ms = crypto::now_ms();
        let txs = self
            .kakao_direct
            .txs
            .lock()
            .map_err(|_| KakaoCode::Internal)?;
        let t = txs
            .get(&req.tx_id)
            .filter(|t| t.key == key)
            .ok_or(KakaoCode::UnknownTx)?;
        if !matches!(
            t.phase(now_ms, self.approve_after_ms),
            Some(Phase::Completed { .. })
        ) {
            return Err(KakaoCode::BadParams);
        }
        let s = t.subject.clone();
        let release_ci = t.release_ci;
        let scenario = t.scenario;
        drop(txs);
        let ci = if release_ci {
            Some(s.ci().map_err(|_| KakaoCode::Internal)?)
        } else {
            None
        };
        Ok(reply(&SignerInfoResponse {
            tx_id: req.tx_id,
            name: Some(s.answered_name(scenario)),
            birthday: Some(s.birthdate.yyyymmdd()),
            phone_number: Some(s.phone.national()),
            gender: Some(
                match s.gender {
                    Gender::Male => "MALE",
                    Gender::Female => "FEMALE",
                }
                .into(),
            ),
            ci,
        }))
    }
}
