//! Login transactions: the only code that changes a login's state.
//!
//! Every front (OIDC, SAML, the proxy, signing) shares it, so a fix lands once;
//! what differs per front is one [`Front`] value on the record. A login is a
//! record in the [`Store`], changed only by compare-and-swap through [`TxnRepo`],
//! so two browsers or two replicas acting on the same login cannot both win; and
//! only through [`advance`], which owns every legal transition. Knows no HTTP.

pub mod compact;
mod v1;

use crate::clock::Clock;
use crate::failure::Failure;
use crate::login::{Front, LoginRequest};
use crate::signing::SigningSpec;
use crate::store::{Store, StoreError};
use munjigi_providers::person::serde_exposed;
use munjigi_providers::{
    BirthDate, Challenge, Ci, Citizen, Evidence, Gender, Level, Name, Pending, Person, Phone,
    ProviderId,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// The normalised state machine of PROVIDERS.md, plus `Choosing` before a provider
/// was picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Choosing,
    Pending,
    Completed,
    Verified,
    Expired,
    Rejected,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Choosing => "choosing",
            State::Pending => "pending",
            State::Completed => "completed",
            State::Verified => "verified",
            State::Expired => "expired",
            State::Rejected => "rejected",
            State::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The provider accepted our request and pushed it to the citizen.
    Started,
    /// The provider reports the citizen signed.
    ProviderCompleted,
    ProviderExpired,
    ProviderRejected,
    ProviderFailed,
    /// The result was fetched and passed every check.
    Verified,
    /// The result was fetched and failed a check.
    VerifyFailed,
    /// The citizen goes back to the chooser (cancel, try another provider, retry).
    Restart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no transition from {from:?} on {event:?}")]
pub struct IllegalTransition {
    pub from: State,
    pub event: Event,
}

/// Every legal transition, in one place.
pub fn advance(from: State, event: Event) -> Result<State, IllegalTransition> {
    use Event as E;
    use State as S;
    let to = match (from, event) {
        (S::Choosing, E::Started) => S::Pending,
        (S::Pending, E::ProviderCompleted) => S::Completed,
        (S::Pending, E::ProviderExpired) | (S::Completed, E::ProviderExpired) => S::Expired,
        (S::Pending, E::ProviderRejected) => S::Rejected,
        (S::Pending, E::ProviderFailed) | (S::Completed, E::ProviderFailed) => S::Failed,
        (S::Completed, E::Verified) => S::Verified,
        (S::Completed, E::VerifyFailed) => S::Failed,
        (
            S::Choosing | S::Pending | S::Completed | S::Expired | S::Rejected | S::Failed,
            E::Restart,
        ) => S::Choosing,
        _ => return Err(IllegalTransition { from, event }),
    };
    Ok(to)
}

/// The site's policy as it was when the login began (a reload mid-login does not
/// change the rules of a login already under way).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicySnapshot {
    pub allowed_providers: Vec<ProviderId>,
    pub min_level: Level,
    pub ci_entitled: bool,
}

impl PolicySnapshot {
    pub fn from_policy(p: &munjigi_policy::SitePolicy) -> Self {
        Self {
            allowed_providers: p.allowed_providers.clone(),
            min_level: p.min_level,
            ci_entitled: p.ci_entitled,
        }
    }
    pub fn to_policy(&self) -> munjigi_policy::SitePolicy {
        munjigi_policy::SitePolicy {
            allowed_providers: self.allowed_providers.clone(),
            min_level: self.min_level,
            ci_entitled: self.ci_entitled,
        }
    }
}

/// The citizen as typed, kept for verification (who was asked).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredCitizen {
    #[serde(serialize_with = "serde_exposed::serialize")]
    pub name: Name,
    #[serde(serialize_with = "serde_exposed::serialize")]
    pub birthdate: BirthDate,
    #[serde(serialize_with = "serde_exposed::serialize")]
    pub phone: Phone,
}

impl StoredCitizen {
    pub fn from_citizen(c: &Citizen) -> Self {
        Self {
            name: c.name.clone(),
            birthdate: c.birthdate,
            phone: c.phone.clone(),
        }
    }
    pub fn citizen(&self) -> Citizen {
        Citizen {
            name: self.name.clone(),
            birthdate: self.birthdate,
            phone: self.phone.clone(),
        }
    }
}

/// A verified person, as stored with the outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredPerson {
    #[serde(serialize_with = "serde_exposed::serialize")]
    pub name: Name,
    #[serde(serialize_with = "serde_exposed::serialize")]
    pub birthdate: BirthDate,
    #[serde(serialize_with = "serde_exposed::serialize")]
    pub phone: Phone,
    #[serde(serialize_with = "serde_exposed::option", default)]
    pub gender: Option<Gender>,
    #[serde(serialize_with = "serde_exposed::serialize")]
    pub ci: Ci,
}

impl StoredPerson {
    pub fn from_person(p: &Person) -> Self {
        Self {
            name: p.name.clone(),
            birthdate: p.birthdate,
            phone: p.phone.clone(),
            gender: p.gender,
            ci: p.ci.clone(),
        }
    }
    pub fn person(&self) -> Person {
        Person {
            name: self.name.clone(),
            birthdate: self.birthdate,
            phone: self.phone.clone(),
            gender: self.gender,
            ci: self.ci.clone(),
        }
    }
}

/// One try with one provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    pub provider: ProviderId,
    pub citizen: StoredCitizen,
    pub challenge: Challenge,
    pub pending: Pending,
    #[serde(default)]
    pub viewed: bool,
    /// When status polls began failing transiently (None while they succeed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<u64>,
    /// The short code in the push's text, shown on the waiting page too
    /// (empty where the provider shows no text of ours).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub code: String,
}

/// What a finished login proved.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub provider: ProviderId,
    pub person: StoredPerson,
    pub level: Level,
    pub amr: Vec<String>,
    pub auth_time: u64,
    pub evidence: Evidence,
    /// A signing request's documents, in request order (empty for a login).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed: Vec<munjigi_providers::signing::SignedDocument>,
}

/// The stored format of a login ([`LoginTxn::v`]). Records of an older format
/// still read ([`v1`]), so replicas of two versions can share pending logins
/// during a rolling upgrade.
pub const FORMAT: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginTxn {
    /// The stored format ([`FORMAT`]); absent in format 1.
    pub v: u32,
    pub id: String,
    /// Bumped on every write; part of the compare-and-swap.
    pub rev: u64,
    pub created_at: u64,
    pub expires_at: u64,
    /// Digest of the browser-binding cookie: only that browser may drive this login.
    pub browser: String,
    pub csrf: String,
    /// The protocol this login answers, and how.
    pub front: Front,
    /// What the site asked, whatever the front.
    pub request: LoginRequest,
    pub policy: PolicySnapshot,
    pub state: State,
    pub attempt: Option<Attempt>,
    #[serde(default)]
    pub attempts: u32,
    /// Normalised reason of the last failure (stored as a `ProviderError::code`).
    pub failure: Option<Failure>,
    pub outcome: Option<Outcome>,
}

impl LoginTxn {
    /// The signing request this login serves, if it is one.
    pub fn signing(&self) -> Option<&SigningSpec> {
        self.front.signing()
    }

    pub fn is_live(&self, now: u64) -> bool {
        now < self.expires_at
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the login transaction does not exist or has expired")]
    Gone,
    #[error("another request changed the login first")]
    Conflict,
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error("stored login transaction is unreadable: {0}")]
    Corrupt(String),
}

/// Reads and writes login transactions in the store.
#[derive(Clone)]
pub struct TxnRepo {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Write records compact ([`compact`]); every record is read either way.
    compact: bool,
}

/// `mj:{id}:txn`: every key of one login carries the id as its hash tag, so a
/// Redis Cluster keeps them in one slot.
pub fn key_of(id: &str, what: &str) -> String {
    crate::store::keys::login(id, what)
}

fn key(id: &str) -> String {
    key_of(id, "txn")
}

impl TxnRepo {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            compact: false,
        }
    }

    /// The same repository, writing records compact or not.
    pub fn compact(mut self, compact: bool) -> Self {
        self.compact = compact;
        self
    }

    pub async fn create(&self, txn: &LoginTxn) -> Result<(), TxnError> {
        let bytes = encode(txn, self.compact)?;
        let ttl = self.ttl_for(txn);
        if self
            .store
            .put_new_pending(&key(&txn.id), bytes, ttl)
            .await?
        {
            Ok(())
        } else {
            Err(TxnError::Conflict)
        }
    }

    /// Loads the transaction and the exact bytes it was stored as (for the swap).
    pub async fn load(&self, id: &str) -> Result<(LoginTxn, Vec<u8>), TxnError> {
        if id.is_empty() || id.len() > 64 {
            return Err(TxnError::Gone);
        }
        let raw = self.store.get(&key(id)).await?.ok_or(TxnError::Gone)?;
        let txn = decode(&raw)?;
        if !txn.is_live(self.clock.now()) {
            return Err(TxnError::Gone);
        }
        Ok((txn, raw))
    }

    /// Writes `txn` if nobody changed it since `before` was read.
    pub async fn save(&self, before: &[u8], txn: &mut LoginTxn) -> Result<Vec<u8>, TxnError> {
        txn.rev += 1;
        let bytes = encode(txn, self.compact)?;
        if self
            .store
            .swap(&key(&txn.id), before, bytes.clone(), self.ttl_for(txn))
            .await?
        {
            Ok(bytes)
        } else {
            Err(TxnError::Conflict)
        }
    }

    /// Applies `event` and `change` to the freshest copy, retrying on conflicts a
    /// few times; `change` sees the state after the transition.
    pub async fn transition(
        &self,
        id: &str,
        event: Event,
        change: impl Fn(&mut LoginTxn),
    ) -> Result<LoginTxn, TxnError> {
        for _ in 0..5 {
            let (mut txn, raw) = self.load(id).await?;
            txn.state = advance(txn.state, event)?;
            change(&mut txn);
            match self.save(&raw, &mut txn).await {
                Ok(_) => return Ok(txn),
                Err(TxnError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(TxnError::Conflict)
    }

    /// [`Self::transition`] for what one provider attempt found (its status,
    /// its verified result): refused as an illegal transition when the
    /// login has moved on to another attempt since, so a slow answer about
    /// attempt N never ends, completes or fails attempt N+1.
    pub async fn transition_for(
        &self,
        id: &str,
        attempt: u32,
        event: Event,
        change: impl Fn(&mut LoginTxn),
    ) -> Result<LoginTxn, TxnError> {
        for _ in 0..5 {
            let (mut txn, raw) = self.load(id).await?;
            if txn.attempts != attempt {
                return Err(TxnError::Illegal(IllegalTransition {
                    from: txn.state,
                    event,
                }));
            }
            txn.state = advance(txn.state, event)?;
            change(&mut txn);
            match self.save(&raw, &mut txn).await {
                Ok(_) => return Ok(txn),
                Err(TxnError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(TxnError::Conflict)
    }

    pub async fn delete(&self, id: &str) -> Result<(), TxnError> {
        Ok(self.store.delete(&key(id)).await?)
    }

    /// What is left of the login's life, at least a second (the store's TTL).
    fn ttl_for(&self, txn: &LoginTxn) -> Duration {
        Duration::from_secs(txn.expires_at.saturating_sub(self.clock.now()).max(1))
    }

    /// Removes the transaction; true only for the one caller (of any replica)
    /// that removed it, so exactly one can go on to issue its result.
    pub async fn claim(&self, id: &str) -> Result<bool, TxnError> {
        Ok(self.store.take(&key(id)).await?.is_some())
    }
}

/// The format this version writes. It reads [`FORMAT`] but still writes the
/// previous one, so a replica of the previous version (which reads format 1
/// only) can go on with any login during a rolling upgrade, in either
/// direction. The release after this one writes [`FORMAT`], once no replica
/// older than this one can be running.
pub const WRITTEN: u32 = 1;

/// The bytes a login is stored as ([`WRITTEN`]), [`compact`] when asked.
///
/// A device or CIBA login is written in [`FORMAT`] whatever [`WRITTEN`] says:
/// format 1 has no place for its front, and a replica of the previous
/// version, which has neither, could not finish it anyway (it refuses
/// the record rather than misread it as an OIDC login).
pub fn encode(txn: &LoginTxn, compact: bool) -> Result<Vec<u8>, TxnError> {
    let bytes = match (WRITTEN, &txn.front) {
        (_, Front::Device(_) | Front::Ciba(_)) => serde_json::to_vec(txn),
        (1, _) => serde_json::to_vec(&v1::LoginTxnV1::from(txn)),
        _ => serde_json::to_vec(txn),
    };
    let json = bytes.map_err(|e| TxnError::Corrupt(e.to_string()))?;
    if compact && json.len() <= compact::MAX_RECORD {
        compact::seal(&json)
    } else {
        // Every reader takes plain JSON: a record too large to seal (a
        // signing login with many documents) is stored so.
        Ok(json)
    }
}

/// Reads a stored login of any format this version knows: format 1 (no `v`)
/// and [`FORMAT`], either of them plain or [`compact`]. The format decides the reader: the format-1 reader is
/// strict, so a record with a `v` (or any field format 1 never had) is never
/// half-read by it, and goes to the reader of its own format. Format 1 is
/// tried first because it is what replicas write today ([`WRITTEN`]): one
/// parse per load on the common path.
pub fn decode(raw: &[u8]) -> Result<LoginTxn, TxnError> {
    let opened;
    let raw = match compact::open(raw) {
        Some(json) => {
            opened = json?;
            opened.as_slice()
        }
        None => raw,
    };
    let old = match serde_json::from_slice::<v1::LoginTxnV1>(raw) {
        Ok(old) => return Ok(old.upgrade()),
        Err(e) => e,
    };
    match serde_json::from_slice::<LoginTxn>(raw) {
        Ok(txn) if txn.v == FORMAT => Ok(txn),
        // Written by a newer replica: writing it back would lose what it added.
        Ok(txn) => Err(TxnError::Corrupt(format!(
            "stored login format {} is newer than this replica's {FORMAT}",
            txn.v
        ))),
        // Neither format: say why it is not format 1 (or not JSON).
        Err(_) => Err(TxnError::Corrupt(old.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use State as S;

    #[test]
    fn happy_path() {
        let mut s = S::Choosing;
        for e in [Event::Started, Event::ProviderCompleted, Event::Verified] {
            s = advance(s, e).unwrap();
        }
        assert_eq!(s, S::Verified);
    }

    #[test]
    fn verified_is_terminal_and_no_skipping() {
        for e in [
            Event::Started,
            Event::Restart,
            Event::Verified,
            Event::ProviderFailed,
        ] {
            assert!(advance(S::Verified, e).is_err(), "{e:?}");
        }
        assert!(advance(S::Pending, Event::Verified).is_err());
        assert!(advance(S::Choosing, Event::ProviderCompleted).is_err());
        assert!(advance(S::Rejected, Event::ProviderCompleted).is_err());
        assert_eq!(advance(S::Rejected, Event::Restart).unwrap(), S::Choosing);
    }
}

#[cfg(test)]
mod size {
    use super::*;

    /// A compact pending record's share of the 1 KB a login may cost in
    /// Redis: the key and its expiry take about 170 bytes more, the pending
    /// set about 190.
    const COMPACT_BUDGET: usize = 600;

    /// A pending OIDC login as the gateway stores one, with ids of full length.
    /// `len` characters of base64url as random as the gateway's ids (derived
    /// from `label`, so the test is the same every run).
    fn noise(label: &str, len: usize) -> String {
        use base64::Engine as _;
        let mut out = String::new();
        let mut seed = openssl::sha::sha256(label.as_bytes());
        while out.len() < len {
            out.push_str(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(seed));
            seed = openssl::sha::sha256(&seed);
        }
        out.truncate(len);
        out
    }

    pub(super) fn pending_oidc() -> LoginTxn {
        let citizen = Citizen {
            name: Name::parse("남궁홍길동").unwrap(),
            birthdate: BirthDate::parse("1990-01-31").unwrap(),
            phone: Phone::parse("010-1234-5678").unwrap(),
        };
        LoginTxn {
            v: FORMAT,
            id: noise("id", 22),
            rev: 3,
            created_at: 1_800_000_000,
            expires_at: 1_800_000_600,
            browser: noise("browser", 43),
            csrf: noise("csrf", 43),
            front: Front::Oidc(crate::oidc::OidcReturn {
                client_id: "hometax-portal".into(),
                redirect_uri: "https://www.hometax.go.kr/oidc/callback/login".into(),
                state: Some(noise("state", 43)),
                nonce: Some(noise("nonce", 43)),
                code_challenge: Some(noise("pkce", 43)),
            }),
            request: LoginRequest {
                site_id: "hometax".into(),
                scope: "openid profile phone".into(),
                required_level: Level::Substantial,
                max_age: Some(3600),
                login_hint: None,
            },
            policy: PolicySnapshot {
                allowed_providers: ["kakao", "naver", "pass", "toss", "kb", "shinhan"]
                    .into_iter()
                    .map(ProviderId::new)
                    .collect(),
                min_level: Level::Substantial,
                ci_entitled: false,
            },
            state: State::Pending,
            attempt: Some(Attempt {
                provider: ProviderId::new("kakao"),
                citizen: StoredCitizen::from_citizen(&citizen),
                challenge: Challenge {
                    nonce: noise("challenge", 32),
                    title: "홈택스 로그인".into(),
                    ttl_secs: 300,
                    reach: Default::default(),
                },
                pending: Pending {
                    handle: hex::encode(&openssl::sha::sha256(b"handle")[..16]),
                    started_at: 1_800_000_010,
                    expires_at: 1_800_000_310,
                    app_scheme: None,
                    market_url: None,
                    qr: None,
                },
                viewed: true,
                failing_since: None,
                code: "47".into(),
            }),
            attempts: 1,
            failure: None,
            outcome: None,
        }
    }

    /// A pending login costs at most 1 KB in Redis (its record, the key's
    /// own cost, its entry in the pending set: `./deploy/bench pending`
    /// measures them); compact, its record leaves room for the rest. As
    /// plain JSON (what replicas write until compact records are on) it
    /// stays under 2 KB.
    /// A record too large to seal is stored as plain JSON, which every
    /// reader takes, rather than refused after the citizen signed.
    #[test]
    fn a_record_too_large_to_seal_is_stored_as_json() {
        let mut txn = pending_oidc();
        if let Some(a) = txn.attempt.as_mut() {
            a.challenge.title = noise("title", compact::MAX_RECORD + 1);
        }
        let bytes = encode(&txn, true).unwrap();
        assert_eq!(bytes.first(), Some(&b'{'));
        assert_eq!(decode(&bytes).unwrap().id, txn.id);
    }

    #[test]
    fn a_pending_login_is_small() {
        let txn = pending_oidc();
        let long = noise("device", 43);
        // As written now (format 1) and as the next release writes it.
        let current = serde_json::to_vec(&txn).unwrap();
        assert!(current.len() < 2048, "{} bytes", current.len());
        let bytes = encode(&txn, false).unwrap();
        assert!(bytes.len() < 2048, "{} bytes", bytes.len());
        let back = decode(&bytes).unwrap();
        assert_eq!(back.attempt.unwrap().citizen.phone.e164(), "+821012345678");
        let compact = encode(&txn, true).unwrap();
        assert!(compact.len() <= COMPACT_BUDGET, "{} bytes", compact.len());
        let back = decode(&compact).unwrap();
        assert_eq!(back.attempt.unwrap().citizen.phone.e164(), "+821012345678");
        eprintln!(
            "pending login record: {} bytes, compact {}",
            bytes.len(),
            compact.len()
        );
        // The next release's format, compact, reads back too.
        let next = compact::seal(&serde_json::to_vec(&txn).unwrap()).unwrap();
        assert!(next.len() <= COMPACT_BUDGET, "{} bytes", next.len());
        assert_eq!(decode(&next).unwrap().v, FORMAT);

        // A mobile ID login without the push server carries its request for
        // the QR code (an M200 naming a long public URL): still in budget.
        let m200 = munjigi_providers::mobile_id::msg::M200::direct(
            &"A".repeat(32),
            "https://login.government24.example.go.kr",
        );
        let qr = munjigi_providers::mobile_id::b64::encode(&serde_json::to_vec(&m200).unwrap());
        let mut wallet = txn.clone();
        if let Some(a) = wallet.attempt.as_mut() {
            a.pending.qr = Some(qr);
            a.code = String::new();
        }
        let bytes = encode(&wallet, false).unwrap();
        assert!(bytes.len() < 2048, "{} bytes", bytes.len());
        let compact = encode(&wallet, true).unwrap();
        assert!(compact.len() < 1024, "{} bytes", compact.len());
        eprintln!(
            "pending mobile ID login record: {} bytes, compact {}",
            bytes.len(),
            compact.len()
        );

        // A device login is written in format 2 (format 1 has no place for
        // its front) and reads back as itself.
        let mut device = txn.clone();
        device.front = Front::Device(crate::oidc::device::DeviceReturn {
            client_id: "kiosk".into(),
            device: long.clone(),
            id: "d1".into(),
        });
        let bytes = encode(&device, false).unwrap();
        let as_value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(as_value["v"], FORMAT);
        assert!(bytes.len() < 2048, "{} bytes", bytes.len());
        let compact = encode(&device, true).unwrap();
        assert!(compact.len() <= COMPACT_BUDGET, "{} bytes", compact.len());
        let Front::Device(d) = decode(&compact).unwrap().front else {
            panic!("not the device front");
        };
        assert_eq!(
            (d.client_id.as_str(), d.device.as_str()),
            ("kiosk", long.as_str())
        );
    }
}
