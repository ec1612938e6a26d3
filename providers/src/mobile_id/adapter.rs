//! The mobile ID as a [`Provider`]: the gateway is the SP, the wallet calls
//! back.
//!
//! A login here is a `trxcode` and one record in the gateway's store
//! ([`Inbox`]), keyed by it, that moves one way: waiting → profile served →
//! presentation checked (or refused) → taken by `verify`; or ended by the
//! wallet's M900. `start` writes the record and sends the request (M200) to
//! the citizen's phone through the push server, and returns it for the
//! waiting page's QR code as well; the wallet's calls (`/mip/profile`,
//! `/mip/vp`, `/mip/error`) reach [`MobileIdAdapter::call`] on any replica;
//! `status` reads the record. Every change is a compare-and-swap, so two
//! calls racing (a wallet retrying, two replicas) cannot both win.
//!
//! What a caller can make the gateway do for free: an unknown `trxcode`
//! costs one store read; the profile is signed once per login and then
//! served from the record; a presentation is decrypted at most once per
//! login, because the first one, good or bad, ends the waiting (the strict
//! reading: a wallet presents once).
//!
//! Not implemented from the specification: image (M320, the SP's logo: the
//! request carries no `image`, so wallets do not ask), App2App (its guide is
//! not public), the proxy and BLE modes, DID Auth and ZKP presentations.

use super::msg::{self, Code, M310, M400, M900};

use super::profile::{self, Sp};
use super::trust::TrustFile;
use super::vp::{self, Expected, VpError};
use super::{b64, push, seal};
use crate::adapter::{Challenge, Pending, Provider, Status, Verified};
use crate::callback::{self, Answer, CallMethod, Callbacks, Inbox};
use crate::{
    BirthDate, Ci, Citizen, Evidence, Level, Name, PresentationEvidence, ProviderError, ProviderId,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// The path prefix of the wallet's calls.
pub const PREFIX: &str = "mip";
/// The longest a request may wait for the citizen (the push server keeps a
/// request this long).
pub const MAX_TTL_SECS: u32 = 300;
/// How long a record outlives its login (a late wallet call still finds it
/// and is told it is too late, rather than unknown).
const KEPT_AFTER_SECS: u64 = 120;

/// One login, as the store keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    /// The profile's nonce (64 hex), bound to the login's challenge.
    nonce: String,
    expires_at: u64,
    #[serde(flatten)]
    step: Step,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
enum Step {
    Waiting,
    /// The signed profile (base64url), served again as it was.
    Profiled {
        since: u64,
        profile: String,
    },
    /// A presentation is being opened and checked (by the call that moved
    /// the record here: one per login).
    Opening {
        since: u64,
    },
    /// A presentation passed every check.
    Presented(Box<Presentation>),
    /// A presentation was refused: the reason (a [`reason`] code).
    Refused {
        reason: String,
    },
    /// The wallet ended it (`rejected`, `expired`, `failed`).
    Ended {
        end: String,
    },
    /// `verify` took the result.
    Taken,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Presentation {
    at: u64,
    holder: String,
    ci: String,
    name: String,
    birth: String,
    credential: String,
    unlocked_by: String,
    /// The decrypted presentation (base64url), the login's evidence.
    vp: String,
}

/// The stable reason code of a refused presentation (logs, the stored
/// record, the citizen's failure).
fn reason(e: &VpError) -> &'static str {
    match e {
        VpError::Shape(_) => "shape",
        VpError::HolderSignature => "holder_signature",
        VpError::HolderKey => "holder_key",
        VpError::Nonce => "nonce",
        VpError::Time(_) => "time",
        VpError::Issuer => "issuer",
        VpError::CredentialType => "credential_type",
        VpError::IssuerSignature => "issuer_signature",
        VpError::Subject => "subject",
        VpError::Revoked => "revoked",
        VpError::Claims => "claims",
    }
}

/// A stored reason back as a static code (unknown ones read as `shape`).
fn reason_of(stored: &str) -> &'static str {
    [
        "holder_signature",
        "holder_key",
        "nonce",
        "time",
        "issuer",
        "credential_type",
        "issuer_signature",
        "subject",
        "revoked",
        "claims",
        "unreadable",
        "declared_kind",
        "claim_value",
    ]
    .into_iter()
    .find(|r| *r == stored)
    .unwrap_or("shape")
}

/// What an adapter is built from.
pub struct MobileIdConfig {
    pub sp: Sp,
    /// The push server's URL; None: QR only.
    pub push_url: Option<String>,
    /// The SP's registration code at the push server.
    pub mscode: String,
    /// The gateway's public URL: the wallet calls `{host}/mip/...`.
    pub host: String,
    pub ttl_secs: Option<u32>,
    pub timeout_ms: Option<u64>,
    pub allow_plain_http: bool,
}

pub struct MobileIdAdapter {
    id: ProviderId,
    level: Level,
    sp: Arc<Sp>,
    push: Option<push::PushServer>,
    host: String,
    ttl_secs: u32,
    trust: Arc<TrustFile>,
    inbox: Arc<dyn Inbox>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DDThh:mm:ss` in Korean time, as the interface writes times.
pub fn kst(unix: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(
        i64::try_from(unix).unwrap_or(0).saturating_add(9 * 3600),
    )
    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn random_hex<const N: usize>() -> Result<String, ProviderError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| ProviderError::Config("no randomness".into()))?;
    Ok(hex::encode_upper(b))
}

/// A `trxcode` as we make them: 32 upper-case hex characters. Anything else
/// is unknown without a store read.
fn plausible_trxcode(t: &str) -> bool {
    t.len() == 32
        && t.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

fn key(trxcode: &str) -> String {
    format!("mip:{trxcode}")
}

/// The first characters of a `trxcode`, for logs: enough to find a login,
/// not enough to post to it.
fn short(trxcode: &str) -> &str {
    trxcode.get(..8).unwrap_or(trxcode)
}

fn json_answer(body: Vec<u8>) -> Answer {
    Answer {
        status: 200,
        content_type: "application/json; charset=utf-8",
        body,
    }
}

fn refuse(trxcode: Option<&str>, code: Code) -> Answer {
    json_answer(msg::answer(false, Some(&M900::of(trxcode, code))))
}

impl MobileIdAdapter {
    pub fn new(
        id: ProviderId,
        level: Level,
        c: MobileIdConfig,
        trust: TrustFile,
        inbox: Arc<dyn Inbox>,
        tls_ca_pem: Option<Vec<u8>>,
    ) -> Result<Self, ProviderError> {
        let push = match &c.push_url {
            Some(url) => Some(push::PushServer::new(
                url,
                &c.mscode,
                tls_ca_pem.as_deref(),
                Duration::from_millis(c.timeout_ms.unwrap_or(10_000)),
                c.allow_plain_http,
            )?),
            None => None,
        };
        Ok(MobileIdAdapter {
            id,
            level,
            sp: Arc::new(c.sp),
            push,
            host: c.host.trim_end_matches('/').to_owned(),
            ttl_secs: c.ttl_secs.unwrap_or(MAX_TTL_SECS).min(MAX_TTL_SECS),
            trust: Arc::new(trust),
            inbox,
        })
    }

    async fn load(&self, trxcode: &str) -> Result<Option<(Vec<u8>, Record)>, ProviderError> {
        callback::load(self.inbox.as_ref(), &key(trxcode), "a mobile ID").await
    }

    /// Moves the record from `raw` to `next`: the bytes now stored, or None
    /// when it changed meanwhile.
    async fn save(
        &self,
        trxcode: &str,
        raw: &[u8],
        next: &Record,
    ) -> Result<Option<Vec<u8>>, ProviderError> {
        let ttl = Duration::from_secs(next.expires_at.saturating_sub(now()) + KEPT_AFTER_SECS);
        callback::swap(
            self.inbox.as_ref(),
            &key(trxcode),
            raw,
            next,
            ttl,
            "mobile ID",
        )
        .await
    }

    async fn on_profile(&self, body: &[u8]) -> Answer {
        let m = match msg::read::<M310>(body, "310") {
            Ok(m) => m,
            Err(c) => return refuse(None, c),
        };
        let t = m.trxcode.as_str();
        if m.request != "profile" {
            return refuse(Some(t), Code::InvalidData);
        }
        let (raw, rec) = match self.known(t).await {
            Ok(x) => x,
            Err(a) => return a,
        };
        let profile = match &rec.step {
            Step::Profiled { profile, .. } => profile.clone(),
            Step::Waiting => {
                let at = now();
                let signed = random_hex::<16>()
                    .map_err(|_| Code::Unknown)
                    .and_then(|pn| {
                        profile::build(&self.sp, &rec.nonce, &kst(at), &pn.to_ascii_lowercase())
                            .map_err(|_| Code::Unknown)
                    });
                let p = match signed {
                    Ok(p) => b64::encode(&serde_json::to_vec(&p).unwrap_or_default()),
                    Err(c) => {
                        warn!(provider = %self.id, trx = short(t), "mobile ID profile could not be signed");
                        return refuse(Some(t), c);
                    }
                };
                let next = Record {
                    step: Step::Profiled {
                        since: at,
                        profile: p.clone(),
                    },
                    ..rec.clone()
                };
                match self.save(t, &raw, &next).await {
                    Ok(Some(_)) => {
                        info!(provider = %self.id, trx = short(t), "mobile ID wallet fetched the profile");
                        p
                    }
                    // Another call served it first: serve that one.
                    Ok(None) => match self.load(t).await {
                        Ok(Some((
                            _,
                            Record {
                                step: Step::Profiled { profile, .. },
                                ..
                            },
                        ))) => profile,
                        _ => return refuse(Some(t), Code::Sequence),
                    },
                    Err(_) => return refuse(Some(t), Code::Unknown),
                }
            }
            _ => return refuse(Some(t), Code::Sequence),
        };
        // The specification's answer: the trxcode and the profile, no header.
        let answer = serde_json::json!({"trxcode": t, "profile": profile});
        json_answer(msg::answer(true, Some(&answer)))
    }

    /// The record of a live login, or the refusal to answer.
    async fn known(&self, t: &str) -> Result<(Vec<u8>, Record), Answer> {
        if !plausible_trxcode(t) {
            return Err(refuse(Some(t), Code::UnknownTrx));
        }
        match self.load(t).await {
            Ok(Some((raw, rec))) => {
                if now() >= rec.expires_at {
                    return Err(refuse(Some(t), Code::Timeout));
                }
                Ok((raw, rec))
            }
            Ok(None) => Err(refuse(Some(t), Code::UnknownTrx)),
            Err(_) => Err(refuse(Some(t), Code::Unknown)),
        }
    }

    async fn on_vp(&self, body: &[u8]) -> Answer {
        let m = match msg::read::<M400>(body, "400") {
            Ok(m) => m,
            Err(c) => return refuse(None, c),
        };
        let t = m.trxcode.as_str();
        if m.request != "presentation" {
            return refuse(Some(t), Code::InvalidData);
        }
        let (raw, rec) = match self.known(t).await {
            Ok(x) => x,
            Err(a) => return a,
        };
        let Step::Profiled { since, .. } = rec.step else {
            return refuse(Some(t), Code::Sequence);
        };
        let declared = match (m.vp.present_type, m.vp.encrypt_type, m.vp.key_type) {
            _ if m.vp.kind != "VERIFY" => Some(Code::InvalidData),
            (1, 2, 2) => None,
            (1, 2, _) => Some(Code::UnsupportedKeyType),
            (1, _, _) => Some(Code::UnsupportedEncryptType),
            _ => Some(Code::UnsupportedPresentType),
        };
        // A DID VP names the profile's nonce beside the sealed data (it is
        // checked again inside, under the holder's signature).
        let declared = declared.or(match m.vp.nonce.as_deref() {
            Some(n) if n == rec.nonce => None,
            Some(_) => Some(Code::Nonce),
            None => Some(Code::MissingItem),
        });
        // The envelope is wrong before anything is opened: refused, and the
        // login waits on (whoever saw the QR code cannot end it this way).
        if let Some(code) = declared {
            info!(provider = %self.id, trx = short(t), errcode = code as u32, "mobile ID presentation envelope refused; the login waits on");
            return refuse(Some(t), code);
        }
        // One opening per login: the call that moves the record on opens it.
        let opening = Record {
            step: Step::Opening { since },
            ..rec.clone()
        };
        let opened_raw = match self.save(t, &raw, &opening).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return refuse(Some(t), Code::Sequence),
            Err(_) => return refuse(Some(t), Code::Unknown),
        };
        let checker = Checker {
            sp: self.sp.clone(),
            trust: self.trust.clone(),
        };
        let data = m.vp.data.clone();
        let nonce = rec.nonce.clone();
        // Decryption and signatures off the async workers.
        let outcome = tokio::task::spawn_blocking(move || checker.check(&data, &nonce, since))
            .await
            .unwrap_or(Err(("shape", Code::Unknown)))
            .and_then(|p| {
                // The holder the envelope names, when it names one, is the
                // one who signed.
                match m.vp.did.as_deref() {
                    Some(d) if d != p.holder => Err(("holder_key", Code::InvalidData)),
                    _ => Ok(p),
                }
            });
        let step = match &outcome {
            Ok(p) => Step::Presented(Box::new(p.clone())),
            Err((r, _)) => Step::Refused {
                reason: (*r).to_owned(),
            },
        };
        let next = Record { step, ..rec };
        match self.save(t, &opened_raw, &next).await {
            Ok(Some(_)) => {}
            Ok(None) => return refuse(Some(t), Code::Sequence),
            Err(_) => return refuse(Some(t), Code::Unknown),
        }
        match outcome {
            Ok(p) => {
                info!(provider = %self.id, trx = short(t), credential = %p.credential, unlocked_by = %p.unlocked_by, "mobile ID presentation verified");
                json_answer(msg::answer::<M900>(true, None))
            }
            Err((r, c)) => {
                warn!(provider = %self.id, trx = short(t), check = r, "mobile ID presentation refused; the login fails");
                refuse(Some(t), c)
            }
        }
    }
}

/// What checking a presentation needs, owned, for a blocking thread.
struct Checker {
    sp: Arc<Sp>,
    trust: Arc<TrustFile>,
}

impl Checker {
    /// Opens and checks a presentation; the refusal's reason and code.
    fn check(
        &self,
        data: &str,
        nonce: &str,
        since: u64,
    ) -> Result<Presentation, (&'static str, Code)> {
        let bytes =
            seal::open(&self.sp.seal_key, data).map_err(|_| ("unreadable", Code::InvalidData))?;
        crate::json::unique_keys(&bytes).map_err(|_| ("shape", Code::InvalidData))?;
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|_| ("shape", Code::InvalidData))?;
        let issuers = &self.sp.issuers;
        let codes: Vec<String> = self.sp.credentials.iter().map(|(c, _)| c.clone()).collect();
        let want = Expected {
            nonce,
            issuers,
            codes: &codes,
            claims: &profile::CLAIMS,
            since,
            now: now(),
        };
        let list = self.trust.current();
        let checked = match vp::check(&v, &want, list.as_ref()) {
            // Unknown to the list held: to a newer one, perhaps.
            Err(e @ (VpError::HolderKey | VpError::Issuer | VpError::Revoked)) => {
                match self.trust.newer_than(&list) {
                    Some(newer) => vp::check(&v, &want, newer.as_ref()),
                    None => Err(e),
                }
            }
            other => other,
        };
        let p = checked.map_err(|e| {
            let c = if e == VpError::Nonce {
                Code::Nonce
            } else {
                Code::InvalidData
            };
            (reason(&e), c)
        })?;
        let claim = |k: &str| {
            p.claims
                .iter()
                .find(|(t, _)| t == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let (name, birth) = (claim("name"), claim("birth"));
        // The values must be a person's before the login can end well.
        if Name::parse(&name).is_err()
            || BirthDate::parse(&birth).is_err()
            || Ci::parse(&p.ci).is_err()
        {
            return Err(("claim_value", Code::InvalidData));
        }
        Ok(Presentation {
            at: now(),
            holder: p.holder,
            ci: p.ci,
            name,
            birth,
            credential: p.code,
            unlocked_by: p.unlocked_by,
            vp: b64::encode(&bytes),
        })
    }
}

impl MobileIdAdapter {
    async fn on_error(&self, body: &[u8]) -> Answer {
        let m = match msg::read::<M900>(body, "900") {
            Ok(m) => m,
            Err(c) => return refuse(None, c),
        };
        let Some(t) = m.trxcode.as_deref() else {
            return refuse(None, Code::MissingItem);
        };
        let (raw, rec) = match self.known(t).await {
            Ok(x) => x,
            Err(a) => return a,
        };
        if !matches!(rec.step, Step::Waiting | Step::Profiled { .. }) {
            return refuse(Some(t), Code::Sequence);
        }
        let end = match msg::wallet_end(m.errcode) {
            msg::WalletEnd::Rejected => "rejected",
            msg::WalletEnd::Expired => "expired",
            msg::WalletEnd::Failed => "failed",
        };
        let next = Record {
            step: Step::Ended { end: end.into() },
            ..rec
        };
        match self.save(t, &raw, &next).await {
            Ok(Some(_)) => {
                info!(provider = %self.id, trx = short(t), errcode = m.errcode, end, "mobile ID wallet ended the request");
                json_answer(msg::answer::<M900>(true, None))
            }
            Ok(None) => refuse(Some(t), Code::Sequence),
            Err(_) => refuse(Some(t), Code::Unknown),
        }
    }
}

#[async_trait::async_trait]
impl Callbacks for MobileIdAdapter {
    fn prefix(&self) -> &'static str {
        PREFIX
    }

    fn max_body(&self) -> usize {
        msg::MAX_BODY
    }

    async fn call(&self, method: CallMethod, path: &str, body: &[u8]) -> Answer {
        match (method, path) {
            (CallMethod::Post, "profile") => self.on_profile(body).await,
            (CallMethod::Post, "vp") => self.on_vp(body).await,
            (CallMethod::Post, "error") => self.on_error(body).await,
            // The request names no image: a wallet asking is out of step.
            (CallMethod::Post, "image") => refuse(None, Code::Sequence),
            (CallMethod::Get, "profile" | "vp" | "error" | "image") => {
                Answer::text(405, "method not allowed\n")
            }
            _ => Answer::text(404, "not found\n"),
        }
    }
}

#[async_trait::async_trait]
impl Provider for MobileIdAdapter {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    fn level(&self) -> Level {
        self.level
    }

    async fn start(&self, who: &Citizen, ask: &Challenge) -> Result<Pending, ProviderError> {
        let trxcode = random_hex::<16>()?;
        // Bound to this login's challenge: a presentation made for another
        // login carries another nonce.
        let mut h = openssl::sha::Sha256::new();
        h.update(b"munjigi-mip-nonce-v1\0");
        h.update(ask.nonce.as_bytes());
        h.update(trxcode.as_bytes());
        let nonce = hex::encode(h.finish());
        let started_at = now();
        let ttl = ask.ttl_secs.clamp(1, self.ttl_secs);
        let expires_at = started_at + u64::from(ttl);
        let rec = Record {
            nonce,
            expires_at,
            step: Step::Waiting,
        };
        let bytes = serde_json::to_vec(&rec)
            .map_err(|_| ProviderError::Protocol("a mobile ID record does not write".into()))?;
        let ttl_store = Duration::from_secs(u64::from(ttl) + KEPT_AFTER_SECS);
        if !self.inbox.put_new(&key(&trxcode), bytes, ttl_store).await? {
            return Err(ProviderError::Protocol("a trxcode repeated".into()));
        }
        let request = msg::M200::direct(&trxcode, &self.host);
        let encoded = b64::encode(&serde_json::to_vec(&request).unwrap_or_default());
        if let Some(p) = &self.push {
            p.send(who, &encoded).await?;
        }
        info!(provider = %self.id, trx = short(&trxcode), ttl_secs = ttl, push = self.push.is_some(), "mobile ID request started");
        Ok(Pending {
            handle: trxcode,
            started_at,
            expires_at,
            app_scheme: None,
            market_url: None,
            // With the push server, only the phone it reached may present
            // (which is what proves the number): no QR code for anyone else
            // to scan. Without it, the QR code is the way.
            qr: self.push.is_none().then_some(encoded),
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
        Ok(match rec.step {
            Step::Waiting if now() >= rec.expires_at => Status::Expired,
            Step::Profiled { .. } | Step::Opening { .. } if now() >= rec.expires_at => {
                Status::Expired
            }
            Step::Waiting => Status::Pending { viewed: false },
            Step::Profiled { .. } | Step::Opening { .. } => Status::Pending { viewed: true },
            Step::Presented(_) | Step::Refused { .. } | Step::Taken => Status::Completed,
            Step::Ended { end } => match end.as_str() {
                "rejected" => Status::Rejected,
                "expired" => Status::Expired,
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
        let t = pending.handle.as_str();
        let Some((raw, rec)) = self.load(t).await? else {
            return Err(ProviderError::TooLate);
        };
        let taken = Record {
            step: Step::Taken,
            ..rec.clone()
        };
        match &rec.step {
            Step::Presented(_) | Step::Refused { .. } => {}
            Step::Taken => return Err(ProviderError::AlreadyUsed),
            _ => return Err(ProviderError::NotReady),
        }
        if self.save(t, &raw, &taken).await?.is_none() {
            return Err(ProviderError::AlreadyUsed);
        }
        let p = match rec.step {
            Step::Presented(p) => p,
            Step::Refused { reason } => {
                return Err(ProviderError::BadPresentation(reason_of(&reason)))
            }
            _ => return Err(ProviderError::NotReady),
        };
        // The number typed is proven only where the push server delivered
        // the request to its holder (the evidence says which, and an
        // unproven number is not released to sites).
        let person = callback::wallet_person(&p.name, &p.birth, &p.ci, who).inspect_err(|e| {
            if matches!(e, ProviderError::WrongSigner) {
                warn!(provider = %self.id, trx = short(t), "mobile ID presentation is of another person than the one who started the login");
            }
        })?;
        let presentation = b64::decode(&p.vp).unwrap_or_default();
        let mut amr = vec!["mobile_id".to_owned()];
        // RFC 8176 names: a wallet's "bio" is its biometric unlock, most
        // often a fingerprint.
        amr.push(match p.unlocked_by.as_str() {
            "face" => "face".to_owned(),
            "bio" => "fpt".to_owned(),
            _ => "pin".to_owned(),
        });
        Ok(Verified {
            person,
            evidence: Evidence::Presentation(PresentationEvidence {
                presentation,
                presented_at: p.at,
                holder: p.holder,
                credential: p.credential,
                phone_proven: self.push.is_some(),
            }),
            amr,
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
    fn korean_time_and_trxcode_shape() {
        // 2026-12-04T03:00:00Z is noon in Seoul.
        assert_eq!(kst(1_796_353_200), "2026-12-04T12:00:00");
        assert!(plausible_trxcode(&"A1".repeat(16)));
        assert!(!plausible_trxcode(&"a1".repeat(16)));
        assert!(!plausible_trxcode("A1"));
        assert!(!plausible_trxcode(&"G1".repeat(16)));
    }

    #[test]
    fn every_refusal_reason_reads_back_as_itself() {
        for e in [
            VpError::Shape("x"),
            VpError::HolderSignature,
            VpError::HolderKey,
            VpError::Nonce,
            VpError::Time("x"),
            VpError::Issuer,
            VpError::CredentialType,
            VpError::IssuerSignature,
            VpError::Subject,
            VpError::Revoked,
            VpError::Claims,
        ] {
            assert_eq!(reason_of(reason(&e)), reason(&e));
        }
        assert_eq!(reason_of("unreadable"), "unreadable");
        assert_eq!(reason_of("anything"), "shape");
    }
}
