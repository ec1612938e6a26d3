//! The provider's own misbehaviour on demand, and the simulator's control API.
//!
//! Signer misbehaviour (per person's [`Scenario`]): `revoked` signs with a fresh
//! certificate that the provider's CA then revokes (and republishes
//! `pki_dir/<provider>/crl.pem`; every family), `expired_cert` with one that
//! expired a year before signing (every family), `signing_time_outside`
//! re-signs the signed attributes with a signingTime two hours before the
//! request (broker), `renewed` with the person's second certificate (one
//! renewal, the same on every `renewed` request). Service misbehaviour on a request's status and result
//! calls, for every family in its own shape ([`Family`]): `maintenance` (the
//! provider's maintenance error, HTTP 503), `server_error` (the provider
//! failing: HTML 500 from the broker's front end, Kakao's E0001 on HTTP 400,
//! Toss's and the banks' internal error with 500), `flaky` (that failure on
//! the first status and the first result call only; Kakao direct keeps its
//! own), `slow` (status after `slow_ms`), `slow_result` (the result call
//! after `slow_ms`), `hung` (status never answers: the
//! connection is held for ten minutes). Bad input on the same calls, each with
//! HTTP 200: `garbage` (a body that is not JSON), `gzip` (`Content-Encoding:
//! gzip` and gzip bytes, never asked for), `truncated` (the family's JSON
//! status cut in half, Content-Length matching the cut), `huge` (a 2 MiB body)
//! and `wrong_types` (JSON with the family's field names and wrong types). Result
//! misbehaviour: `multi_one_bad` (the last element of a multi-sign is signed
//! over another digest; `people.rs`) and `replayed_result` (verify hands out the
//! person's previous genuine result of the same product and API, kept in the
//! state's `replays`; `routes.rs`). All of them apply to the identity and the
//! signing APIs alike.
//!
//! The control API (`/_control/…`, see the module docs of [`super`]) changes a
//! person's scenario at run time, forgets session tokens and reports health. It
//! is disabled (404) unless `control_token` is set, and every call must carry
//! `Authorization: Bearer <control_token>`.
//!
//! Not here: the citizen's behaviour (`state.rs`) or tampering with content,
//! signature or chain (`people.rs`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::Full;
use serde::Deserialize;
use tracing::{info, warn};

use super::bank::BankDialect;
use super::people::Subject;
use super::{Scenario, Simulator};
use crate::testpki::{PkiError, ProviderPki, Subscriber};
use munjigi_providers::barocert::codes::BrokerCode;
use munjigi_providers::barocert::{crypto, ApiKind};
use munjigi_providers::kakao_direct::codes::KakaoCode;
use munjigi_providers::person::Phone;
use munjigi_providers::signer_cn::SignerCn;
use munjigi_providers::toss_direct::codes::TossCode;

/// How long a `hung` status call is held before the simulator gives up on it.
const HUNG_FOR: Duration = Duration::from_secs(600);
/// How far before the request a `signing_time_outside` result claims to be signed.
const SIGNING_TIME_OFFSET_SECS: u64 = 2 * 3600;
const YEAR: i64 = 365 * 24 * 3600;
/// How large a `huge` reply body is: above any sane response cap.
const HUGE_BYTES: usize = 2 * 1024 * 1024;
/// A status answer, well formed, for the bad-input scenarios to spoil.
const STATUS_JSON: &[u8] = br#"{"receiptID":"00000000000000000000000000000000","clientCode":"023040000001","state":1,"expireIn":300}"#;
/// [`STATUS_JSON`] gzip-compressed (fixed bytes: no compressor needed).
const STATUS_GZIP: &[u8] = &[
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0x56, 0x2a, 0x4a, 0x4d, 0x4e,
    0xcd, 0x2c, 0x28, 0xf1, 0x74, 0x51, 0xb2, 0x52, 0x32, 0x20, 0x00, 0x94, 0x74, 0x94, 0x92, 0x73,
    0x32, 0x53, 0xf3, 0x4a, 0x9c, 0xf3, 0x53, 0x52, 0x41, 0xea, 0x8d, 0x8c, 0x0d, 0x4c, 0x20, 0x52,
    0x86, 0x40, 0xb9, 0xe2, 0x92, 0xc4, 0x12, 0xa0, 0xb0, 0xa1, 0x8e, 0x52, 0x6a, 0x45, 0x41, 0x66,
    0x51, 0xaa, 0x67, 0x9e, 0x92, 0x95, 0xb1, 0x81, 0x41, 0x2d, 0x00, 0x8c, 0x3d, 0x13, 0xc8, 0x65,
    0x00, 0x00, 0x00,
];
/// JSON with the right field names and the wrong types.
const WRONG_TYPES_JSON: &[u8] = br#"{"receiptID":12345678901234567890,"clientCode":23040000001,"state":"1","expireIn":"300","signedData":7,"ci":false}"#;
/// The control API's path prefix.
pub(crate) const CONTROL_PREFIX: &str = "/_control/";
/// Where each provider's CRL is served: `GET /pki/{provider}/crl`.
pub(crate) const CRL_PREFIX: &str = "/pki/";
/// Where published status lists are served (`GET /status-lists/{name}`).
pub(crate) const STATUS_LIST_PREFIX: &str = "/status-lists/";
const ID_SIGNING_TIME: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");

type Reply = Response<Full<Bytes>>;

/// Run-time state of the misbehaviour: scenario overrides, where CRLs go, the
/// control token and the slow delay.
pub(crate) struct Control {
    pub pki_dir: PathBuf,
    pub slow_ms: u64,
    token: Option<String>,
    /// Scenario overrides set through the control API, by national phone number.
    overrides: Mutex<HashMap<String, Scenario>>,
    /// `flaky` calls already answered with an error: (transaction, status call?).
    flaky_seen: Mutex<std::collections::HashSet<(String, bool)>>,
    /// Providers whose CRL URL answers 503 (set through the control API).
    crl_outage: Mutex<std::collections::HashSet<String>>,
    /// Provider-wide outages by provider name (`kakao`, `kakao-direct`,
    /// `bank-kb` …), set through the control API.
    outages: Mutex<HashMap<String, Outage>>,
    /// The W3C trace headers of the latest requests (newest last), for tests
    /// that follow a login's trace into the provider.
    traces: Mutex<std::collections::VecDeque<serde_json::Value>>,
    /// Token Status Lists an OpenID4VP issuer published (made by the tests'
    /// independent issuer), by name, served at [`STATUS_LIST_PREFIX`].
    status_lists: Mutex<HashMap<String, String>>,
}

/// A provider-wide outage: unlike a person's [`Scenario`], it acts on every
/// call to that provider, starts included, whoever the request is for (a data
/// centre on fire, a broker front end down for everyone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outage {
    /// Every call answers the family's internal error (HTTP 500).
    Down,
    /// Every call answers the family's maintenance error (HTTP 503).
    Maintenance,
    /// Every call answers after `slow_ms`, then normally.
    Slow,
    /// Serves normally again.
    None,
}

/// How many requests' trace headers the control API keeps.
const TRACES_KEPT: usize = 512;

impl Control {
    pub fn new(pki_dir: PathBuf, slow_ms: u64, token: Option<String>) -> Self {
        Self {
            pki_dir,
            slow_ms,
            token: token.filter(|t| !t.is_empty()),
            overrides: Mutex::new(HashMap::new()),
            flaky_seen: Mutex::new(std::collections::HashSet::new()),
            crl_outage: Mutex::new(std::collections::HashSet::new()),
            outages: Mutex::new(HashMap::new()),
            traces: Mutex::new(std::collections::VecDeque::new()),
            status_lists: Mutex::new(HashMap::new()),
        }
    }

    /// Publishes `token` as the status list `name`.
    pub(crate) fn set_status_list(&self, name: &str, token: String) {
        if let Ok(mut g) = self.status_lists.lock() {
            g.insert(name.to_owned(), token);
        }
    }

    /// The status list token published as `name`.
    pub(crate) fn status_list(&self, name: &str) -> Option<String> {
        self.status_lists.lock().ok()?.get(name).cloned()
    }

    /// Sets (or, with [`Outage::None`], ends) a provider-wide outage.
    pub fn set_outage(&self, provider: &str, outage: Outage) {
        if let Ok(mut o) = self.outages.lock() {
            if outage == Outage::None {
                o.remove(provider);
            } else {
                o.insert(provider.to_owned(), outage);
            }
        }
    }

    /// Notes a request's method, path and `traceparent` / `tracestate`
    /// headers (null when absent), for `GET /_control/traces`.
    pub fn note_trace(&self, method: &Method, path: &str, headers: &HeaderMap) {
        let get = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if let Ok(mut t) = self.traces.lock() {
            if t.len() >= TRACES_KEPT {
                t.pop_front();
            }
            t.push_back(serde_json::json!({
                "method": method.as_str(),
                "path": path,
                "traceparent": get("traceparent"),
                "tracestate": get("tracestate"),
            }));
        }
    }

    /// Makes `provider`'s CRL URL fail (503) or serve again.
    pub fn set_crl_available(&self, provider: &str, available: bool) {
        if let Ok(mut o) = self.crl_outage.lock() {
            if available {
                o.remove(provider);
            } else {
                o.insert(provider.to_owned());
            }
        }
    }

    /// The scenario set for `phone` through the control API, if any.
    pub fn scenario_for(&self, phone: &Phone) -> Option<Scenario> {
        self.overrides
            .lock()
            .ok()
            .and_then(|o| o.get(&phone.national()).copied())
    }
}

/// The CRL file of the PKI kept in `pki_dir/<name>/` (`kakao`, `kakao-direct`,
/// `bank-kb` …).
pub(crate) fn crl_path(pki_dir: &std::path::Path, name: &str) -> PathBuf {
    pki_dir.join(name).join("crl.pem")
}

/// Whose wire shape a misbehaving reply takes: each family answers maintenance,
/// failures and status bodies in its own form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// The barocert broker: `{code, message}`, HTML from a failing front end.
    Broker,
    /// Kakao direct: E-codes (E0002 on 503; E0001 on HTTP 400, "retry").
    KakaoDirect,
    /// Toss direct: the `{resultType: FAIL, error{errorCode, reason}}` envelope.
    TossDirect,
    /// A simulated bank in its dialect's error shape.
    Bank(BankDialect),
}

impl Family {
    /// The provider's maintenance answer.
    fn maintenance(self) -> Reply {
        match self {
            Self::Broker => super::routes::refuse(BrokerCode::Maintenance),
            Self::KakaoDirect => super::kakao_direct::refuse(KakaoCode::Maintenance),
            Self::TossDirect => super::toss_direct::refuse(TossCode::Maintenance),
            Self::Bank(d) => super::bank::refuse_maintenance(d),
        }
    }

    /// The provider failing internally: a front end's HTML 500 (broker), E0001
    /// on HTTP 400 (Kakao's "internal error, retry"), the envelope with 500
    /// (Toss), the dialect's internal error with 500 (banks).
    fn server_error(self) -> Reply {
        match self {
            Self::Broker => {
                let mut r = Response::new(Full::new(Bytes::from_static(
                    b"<html><body><h1>500 Internal Server Error</h1></body></html>",
                )));
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("text/html"),
                );
                r
            }
            Self::KakaoDirect => super::kakao_direct::refuse(KakaoCode::Internal),
            Self::TossDirect => super::toss_direct::refuse(TossCode::Internal),
            Self::Bank(d) => super::bank::refuse_internal(d),
        }
    }

    /// A well-formed status answer in the family's shape, for `truncated` to cut.
    fn status_json(self) -> &'static [u8] {
        match self {
            Self::Broker => STATUS_JSON,
            Self::KakaoDirect => br#"{"tx_id":"00000000000000000000000000000000","status":"COMPLETE","requested_at":"2024-01-15T09:00:00Z"}"#,
            Self::TossDirect => br#"{"resultType":"SUCCESS","success":{"txId":"00000000-0000-4000-8000-000000000000","status":"COMPLETED"}}"#,
            Self::Bank(BankDialect::FlatEncrypted) => br#"{"txId":"KB000000000000000000000000","stateCd":2}"#,
            Self::Bank(BankDialect::Enveloped) => br#"{"result":"SUCCESS","data":{"transactionId":"000000000000000000000000","status":"SIGNED"}}"#,
        }
    }

    /// JSON with the family's field names and the wrong types.
    fn wrong_types_json(self) -> &'static [u8] {
        match self {
            Self::Broker => WRONG_TYPES_JSON,
            Self::KakaoDirect => br#"{"tx_id":12345,"status":7,"signed_data":false,"requested_at":[]}"#,
            Self::TossDirect => br#"{"resultType":"SUCCESS","success":{"txId":12345,"status":3,"signature":false}}"#,
            Self::Bank(BankDialect::FlatEncrypted) => br#"{"txId":12345,"stateCd":"two","signedData":false}"#,
            Self::Bank(BankDialect::Enveloped) => br#"{"result":"SUCCESS","data":{"transactionId":12345,"status":2,"signature":false}}"#,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetOutage {
    provider: String,
    mode: Outage,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeCa {
    provider: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetCrl {
    provider: String,
    available: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetScenario {
    phone: Phone,
    scenario: Scenario,
}

#[derive(Deserialize)]
struct PushesOf {
    phone: Phone,
}

/// An HTTP 200 with `body` as given and `content_type`, plus `encoding` as
/// the Content-Encoding if any (hyper sets Content-Length from the body).
fn ok_raw(body: Bytes, content_type: &'static str, encoding: Option<&'static str>) -> Reply {
    let mut r = Response::new(Full::new(body));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    if let Some(e) = encoding {
        r.headers_mut().insert(
            http::header::CONTENT_ENCODING,
            http::HeaderValue::from_static(e),
        );
    }
    r
}

/// A JSON object of [`HUGE_BYTES`]: valid, but far too large.
fn huge_body() -> Bytes {
    let head = br#"{"receiptID":"00000000000000000000000000000000","state":1,"pad":""#;
    let mut b = Vec::with_capacity(HUGE_BYTES);
    b.extend_from_slice(head);
    b.resize(HUGE_BYTES.saturating_sub(2), b'a');
    b.extend_from_slice(b"\"}");
    Bytes::from(b)
}

fn reply(status: StatusCode, body: serde_json::Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

impl Simulator {
    /// The CMS a direct family's app returns (DER, attached) over
    /// `sign_data`, per scenario: the rogue chain, a tampered content, a
    /// broken signature, or the signer certificate [`Self::signer_for`] makes.
    /// `family` names the CRL file and the log line; `None` means an
    /// internal error (logged).
    pub(crate) fn direct_result(
        &self,
        family: &str,
        pki: &ProviderPki,
        scenario: Scenario,
        who: &Subject,
        sign_data: &str,
    ) -> Option<Vec<u8>> {
        let pki = if scenario == Scenario::WrongChain {
            &self.rogue
        } else {
            pki
        };
        let crl = crl_path(&self.control.pki_dir, family);
        let signer = self
            .signer_for(pki, &crl, scenario, who, SignerCn::Exact)
            .ok()?;
        let content = if scenario == Scenario::TamperContent {
            let r: [u8; 8] = crypto::random_bytes().ok()?;
            format!("tampered-{}", hex::encode(r))
        } else {
            sign_data.to_owned()
        };
        let mut signed = crate::cms::sign(
            content.as_bytes(),
            &signer,
            &[pki.ca().to_owned()],
            crate::cms::Encoding::DerAttached,
        )
        .map_err(|e| {
            tracing::error!(error = %e, family, "simulator could not sign a result");
        })
        .ok()?;
        if scenario == Scenario::BadSignature {
            // The signature value ends the DER: flipping its last byte breaks it alone.
            if let Some(b) = signed.last_mut() {
                *b ^= 0x01;
            }
        }
        Some(signed)
    }

    /// The signer certificate a scenario calls for: the person's usual one, or a
    /// fresh one that is revoked or expired; its CN in the family's format `cn`.
    pub(crate) fn signer_for(
        &self,
        pki: &ProviderPki,
        crl_file: &std::path::Path,
        scenario: Scenario,
        who: &Subject,
        cn: SignerCn,
    ) -> Result<Arc<Subscriber>, BrokerCode> {
        let internal = |e: PkiError| {
            tracing::error!(error = %e, "simulator could not make a misbehaving signer");
            BrokerCode::Internal
        };
        match scenario {
            Scenario::Revoked => {
                let s = pki
                    .issue_subscriber(&who.cn(cn)?, &who.uid()?, None)
                    .map_err(internal)?;
                pki.revoke(s.cert.serial_number()).map_err(internal)?;
                pki.write_crl(crl_file).map_err(internal)?;
                info!(
                    crl = %crl_file.display(),
                    revoked = pki.revoked_count(),
                    "simulator revoked a signer certificate"
                );
                Ok(Arc::new(s))
            }
            Scenario::ExpiredCert => {
                let now = i64::try_from(crypto::now_secs()).unwrap_or(i64::MAX);
                let s = pki
                    .issue_subscriber(
                        &who.cn(cn)?,
                        &who.uid()?,
                        Some((now - 4 * YEAR, now - YEAR)),
                    )
                    .map_err(internal)?;
                Ok(Arc::new(s))
            }
            Scenario::Renewed => self.subscriber(pki, who, cn, 1),
            _ => self.subscriber(pki, who, cn, 0),
        }
    }

    /// Every provider PKI by its folder under `pki_dir` (`kakao`, `naver`,
    /// `pass`, `toss`, `kakao-direct`, `toss-direct`, `bank-<name>`).
    pub(crate) fn named_pkis(&self) -> Vec<(String, &ProviderPki)> {
        let mut out: Vec<(String, &ProviderPki)> = self
            .pkis
            .iter()
            .map(|p| (p.product.name().to_owned(), &p.pki))
            .collect();
        out.push(("kakao-direct".to_owned(), self.kakao_direct.pki()));
        out.push(("toss-direct".to_owned(), self.toss_direct.pki()));
        out.extend(self.banks.pkis());
        out
    }

    /// Writes every provider's current CRL next to its root (at startup).
    pub(crate) fn publish_crls(&self) -> Result<(), PkiError> {
        for (name, pki) in self.named_pkis() {
            pki.write_crl(&crl_path(&self.control.pki_dir, &name))?;
        }
        Ok(())
    }

    /// The scenario of a receipt or transaction as its family's service
    /// misbehaviour sees it: control-API overrides are already in the scenario
    /// the request was made with.
    pub(crate) async fn misbehave_as(
        &self,
        family: Family,
        tx: &str,
        scenario: Scenario,
        is_status: bool,
    ) -> Option<Reply> {
        match scenario {
            Scenario::Maintenance => Some(family.maintenance()),
            Scenario::ServerError => Some(family.server_error()),
            Scenario::Garbage => Some(ok_raw(
                Bytes::from_static(b"OK\r\nstate=1; receipt accepted <br>"),
                "application/json",
                None,
            )),
            // The same gzip bytes for every family: the gateway never asks for
            // gzip, so what they would decompress to does not matter.
            Scenario::Gzip => Some(ok_raw(
                Bytes::from_static(STATUS_GZIP),
                "application/json",
                Some("gzip"),
            )),
            Scenario::Truncated => {
                let whole = family.status_json();
                Some(ok_raw(
                    Bytes::from_static(whole.get(..whole.len() / 2).unwrap_or_default()),
                    "application/json",
                    None,
                ))
            }
            Scenario::Huge => Some(ok_raw(huge_body(), "application/json", None)),
            Scenario::WrongTypes => Some(ok_raw(
                Bytes::from_static(family.wrong_types_json()),
                "application/json",
                None,
            )),
            Scenario::Slow if is_status => {
                tokio::time::sleep(Duration::from_millis(self.control.slow_ms)).await;
                None
            }
            Scenario::SlowResult if !is_status => {
                tokio::time::sleep(Duration::from_millis(self.control.slow_ms)).await;
                None
            }
            Scenario::Hung if is_status => {
                tokio::time::sleep(HUNG_FOR).await;
                Some(family.server_error())
            }
            // Kakao direct keeps its own per-transaction flaky flags.
            Scenario::Flaky if family != Family::KakaoDirect && family != Family::Broker => {
                let first = self
                    .control
                    .flaky_seen
                    .lock()
                    .map(|mut seen| seen.insert((tx.to_owned(), is_status)))
                    .unwrap_or(false);
                if first {
                    info!(tx = %tx, status_call = is_status, "simulator answers with a retryable internal error (flaky)");
                    Some(family.server_error())
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// A provider-wide outage's answer for a request to `path`, after any
    /// delay: `None` to serve it normally. The broker's token service is
    /// shared by its four products, so it is never out.
    pub(crate) async fn outage(&self, path: &str) -> Option<Reply> {
        let (name, family) = self.provider_of(path)?;
        let outage = self
            .control
            .outages
            .lock()
            .ok()
            .and_then(|o| o.get(&name).copied())?;
        match outage {
            Outage::Down => Some(family.server_error()),
            Outage::Maintenance => Some(family.maintenance()),
            Outage::Slow => {
                tokio::time::sleep(Duration::from_millis(self.control.slow_ms)).await;
                None
            }
            Outage::None => None,
        }
    }

    /// The provider a request path belongs to, by the name the control API
    /// and the CRL URLs use, and the family whose error shape it answers in.
    fn provider_of(&self, path: &str) -> Option<(String, Family)> {
        if path.starts_with(super::kakao_direct::PREFIX) {
            return Some(("kakao-direct".to_owned(), Family::KakaoDirect));
        }
        if path.starts_with(super::toss_direct::PREFIX) {
            return Some(("toss-direct".to_owned(), Family::TossDirect));
        }
        if let Some(rest) = path.strip_prefix(super::bank::PREFIX) {
            let name = rest.split('/').next().unwrap_or_default();
            let dialect = self.banks.dialect_of(name)?;
            return Some((format!("bank-{name}"), Family::Bank(dialect)));
        }
        let first = path.trim_start_matches('/').split('/').next()?;
        let product = munjigi_providers::barocert::BarocertProduct::from_path_segment(first)?;
        Some((product.name().to_owned(), Family::Broker))
    }

    /// The receipt's scenario, for a status (`GET …/{P}/{API}/{cc}/{rid}`) or
    /// verify call; `None` for any other path or an unknown receipt.
    fn receipt_scenario(&self, method: &Method, path: &str) -> Option<(Scenario, bool)> {
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        // Status is `GET /{P}/{API}/{cc}/{rid}`; verify is a POST to the same
        // path (Kakao, Naver, PASS) or to `/{P}/{API}/Verify/{cc}/{rid}` (Toss),
        // for the identity and the signing APIs alike.
        let api = |k: &str| ApiKind::from_segment(k).is_some();
        let (rid, is_status) = match segs.as_slice() {
            [_, k, "Verify", _, rid] if api(k) && *method == Method::POST => (*rid, false),
            [_, k, _, rid] if api(k) && *method == Method::GET => (*rid, true),
            [_, k, _, rid] if api(k) && *method == Method::POST => (*rid, false),
            _ => return None,
        };
        let st = self.state.lock().ok()?;
        st.receipts.get(rid).map(|r| (r.scenario, is_status))
    }

    /// Service misbehaviour for a broker status or verify call, applied before
    /// the broker's own handling: an error reply to send instead, after any delay.
    pub(crate) async fn service_misbehaviour(&self, method: &Method, path: &str) -> Option<Reply> {
        let (scenario, is_status) = self.receipt_scenario(method, path)?;
        let rid = path.rsplit('/').next().unwrap_or_default();
        self.misbehave_as(Family::Broker, rid, scenario, is_status)
            .await
    }

    /// `GET /pki/{provider}/crl`: the provider CA's current CRL (PEM), what a
    /// gateway's `crl = "<url>"` fetches; 503 while the control API says so.
    pub(crate) fn serve_crl(&self, method: &Method, path: &str) -> Reply {
        let name = path
            .strip_prefix(CRL_PREFIX)
            .and_then(|r| r.strip_suffix("/crl"))
            .unwrap_or_default();
        let pki = self
            .named_pkis()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p);
        let Some(pki) = pki.filter(|_| *method == Method::GET) else {
            return reply(
                StatusCode::NOT_FOUND,
                serde_json::json!({"error": "not_found"}),
            );
        };
        let down = self
            .control
            .crl_outage
            .lock()
            .map(|o| o.contains(name))
            .unwrap_or(false);
        if down {
            info!(provider = name, "simulator CRL URL answers 503 (outage)");
            return reply(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"error": "unavailable"}),
            );
        }
        match pki.crl_pem() {
            Ok(pem) => ok_raw(Bytes::from(pem), "application/pkix-crl", None),
            Err(e) => {
                tracing::error!(error = %e, "simulator could not make a CRL");
                reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    serde_json::json!({"error": "internal"}),
                )
            }
        }
    }

    /// The control API, for a path under [`CONTROL_PREFIX`].
    pub(crate) fn control(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Reply {
        let not_found = || {
            reply(
                StatusCode::NOT_FOUND,
                serde_json::json!({"error": "not_found"}),
            )
        };
        let Some(token) = &self.control.token else {
            return not_found();
        };
        let given = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or_default();
        let matches = given.len() == token.len()
            && bool::from(subtle::ConstantTimeEq::ct_eq(
                given.as_bytes(),
                token.as_bytes(),
            ));
        if !matches {
            warn!(path = %path, "simulator control call with a wrong token");
            return reply(
                StatusCode::UNAUTHORIZED,
                serde_json::json!({"error": "unauthorized"}),
            );
        }
        let sub = path.strip_prefix(CONTROL_PREFIX).unwrap_or_default();
        match (method, sub) {
            (&Method::GET, "health") => reply(
                StatusCode::OK,
                serde_json::json!({
                    "status": "ok",
                    "receipts": self.state.lock().map(|s| s.receipts.len()).unwrap_or(0),
                    "overrides": self.control.overrides.lock().map(|o| o.len()).unwrap_or(0),
                }),
            ),
            // Every family's latest requests with their trace headers.
            (&Method::GET, "traces") => {
                let requests: Vec<serde_json::Value> = self
                    .control
                    .traces
                    .lock()
                    .map(|t| t.iter().cloned().collect())
                    .unwrap_or_default();
                reply(StatusCode::OK, serde_json::json!({ "requests": requests }))
            }
            (&Method::POST, "wallet-scan") => {
                // The simulator's own URL, as the caller reached it (where
                // an OpenID4VP wallet's status list is served).
                let base = headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(|h| format!("http://{h}"))
                    .unwrap_or_default();
                if self.wallet_scan(body, &base) {
                    reply(StatusCode::OK, serde_json::json!({"status": "ok"}))
                } else {
                    reply(
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({"error": "expected {\"phone\", \"name\", \"birthdate\", \"qr\"} of a known person"}),
                    )
                }
            }
            // An issuer publishes a status list: `{"name", "token"}`.
            (&Method::POST, "status-list") => {
                let set = serde_json::from_slice::<serde_json::Value>(body).ok();
                let pair = set.as_ref().and_then(|v| {
                    let name = v.get("name")?.as_str()?;
                    let token = v.get("token")?.as_str()?;
                    (!name.is_empty()
                        && name.len() <= 64
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
                    .then(|| (name.to_owned(), token.to_owned()))
                });
                let Some((name, token)) = pair else {
                    return reply(
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({"error": "expected {\"name\", \"token\"}"}),
                    );
                };
                self.control.set_status_list(&name, token);
                reply(StatusCode::OK, serde_json::json!({"status": "ok"}))
            }
            (&Method::POST, "expire-tokens") => {
                self.expire_session_tokens();
                info!("simulator control: session tokens expired");
                reply(StatusCode::OK, serde_json::json!({"status": "ok"}))
            }
            (&Method::POST, "outage") => {
                let Ok(set) = serde_json::from_slice::<SetOutage>(body) else {
                    return reply(
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({"error": "expected {\"provider\", \"mode\": \"down\"|\"maintenance\"|\"slow\"|\"none\"}"}),
                    );
                };
                if !self.named_pkis().iter().any(|(n, _)| *n == set.provider) {
                    return reply(
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({"error": "no such provider"}),
                    );
                }
                self.control.set_outage(&set.provider, set.mode);
                info!(provider = %set.provider, mode = ?set.mode, "simulator control: provider-wide outage changed");
                reply(StatusCode::OK, serde_json::json!({"status": "ok"}))
            }
            (&Method::POST, "crl") => {
                let Ok(set) = serde_json::from_slice::<SetCrl>(body) else {
                    return reply(
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({"error": "expected {\"provider\", \"available\"}"}),
                    );
                };
                self.control.set_crl_available(&set.provider, set.available);
                info!(provider = %set.provider, available = set.available, "simulator control: CRL URL availability changed");
                reply(StatusCode::OK, serde_json::json!({"status": "ok"}))
            }
            // The provider's root revokes its CA (above every subscriber)
            // as of now; its CRL file is rewritten, as on every revocation.
            (&Method::POST, "revoke-ca") => {
                let Ok(who) = serde_json::from_slice::<RevokeCa>(body) else {
                    return reply(
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({"error": "expected {\"provider\"}"}),
                    );
                };
                let pkis = self.named_pkis();
                let Some((name, pki)) = pkis.iter().find(|(n, _)| *n == who.provider) else {
                    return reply(
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({"error": "no such provider"}),
                    );
                };
                let done = pki
                    .revoke_ca()
                    .and_then(|()| pki.write_crl(&crl_path(&self.control.pki_dir, name)));
                if let Err(e) = done {
                    warn!(provider = %name, error = %e, "simulator control: revoking the CA failed");
                    return reply(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        serde_json::json!({"error": "revoking the CA failed"}),
                    );
                }
                info!(provider = %name, "simulator control: the provider's CA revoked by its root");
                reply(StatusCode::OK, serde_json::json!({"status": "ok"}))
            }
            (&Method::POST, "people") => {
                let set: SetScenario = match serde_json::from_slice(body) {
                    Ok(s) => s,
                    Err(_) => {
                        return reply(
                            StatusCode::BAD_REQUEST,
                            serde_json::json!({"error": "expected {\"phone\", \"scenario\"}"}),
                        )
                    }
                };
                if let Ok(mut o) = self.control.overrides.lock() {
                    o.insert(set.phone.national(), set.scenario);
                }
                info!(scenario = ?set.scenario, "simulator control: a person's scenario changed");
                reply(StatusCode::OK, serde_json::json!({"status": "ok"}))
            }
            // What the broker's apps showed one person: each request's
            // product and title, oldest first (tests check push texts and
            // how many pushes a phone received).
            (&Method::POST, "pushes") => {
                let Ok(who) = serde_json::from_slice::<PushesOf>(body) else {
                    return reply(
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({"error": "expected {\"phone\"}"}),
                    );
                };
                let mut pushes: Vec<(u64, serde_json::Value)> = self
                    .state
                    .lock()
                    .map(|s| {
                        s.receipts
                            .values()
                            .filter(|r| r.asked.phone.e164() == who.phone.e164())
                            .map(|r| {
                                (
                                    r.requested_at_ms,
                                    serde_json::json!({
                                        "product": r.product.name(),
                                        "title": r.title,
                                    }),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                pushes.sort_by_key(|(at, _)| *at);
                let pushes: Vec<serde_json::Value> = pushes.into_iter().map(|(_, p)| p).collect();
                reply(StatusCode::OK, serde_json::json!({ "pushes": pushes }))
            }
            _ => not_found(),
        }
    }
}

/// Re-signs DER SignedData (attached or detached) with its signingTime moved
/// [`SIGNING_TIME_OFFSET_SECS`] before `request_secs`: the signed attributes are
/// changed and signed again with the signer's key, so everything but the time
/// still verifies.
pub(crate) fn with_signing_time_before(
    der: &[u8],
    signer: &Subscriber,
    request_secs: u64,
) -> Result<Vec<u8>, BrokerCode> {
    let when = x509_cert::time::Time::UtcTime(
        der::asn1::UtcTime::from_unix_duration(Duration::from_secs(
            request_secs.saturating_sub(SIGNING_TIME_OFFSET_SECS),
        ))
        .map_err(|_| BrokerCode::Internal)?,
    );
    let value = der::Any::encode_from(&when).map_err(|_| BrokerCode::Internal)?;
    crate::cms::resign_signed_attrs(der, signer, |attrs| {
        for a in attrs.iter_mut().filter(|a| a.oid == ID_SIGNING_TIME) {
            a.values = vec![value.clone()]
                .try_into()
                .map_err(|_| crate::cms::CmsError::Internal("encoding signingTime"))?;
        }
        Ok(())
    })
    .map_err(|_| BrokerCode::Internal)
}
