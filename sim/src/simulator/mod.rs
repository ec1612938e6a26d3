//! A stand-in for the barocert broker: a real HTTP server with real cryptography,
//! as strict as the broker and able to misbehave on demand.
//!
//! `munjigi simulate` runs it, the demo runs it in-process, and the tests run it
//! on an ephemeral port. It serves the Linkhub token service (`POST
//! /BAROCERT/Token`) and the identity and document-signing APIs of Kakao, Naver, PASS and Toss
//! (`/KAKAO/Identity/…`, `/NAVER/…`, `/PASS/…`, `/TOSS/…`) on one listener,
//! and checks what the broker checks: the token request's signature and clock,
//! the session token and its scope, `x-bc-auth` and `x-bc-date` on every POST,
//! the client code, field encryption and each product's fields and limits,
//! receipt ids, one-shot results, each product's verify deadline (Kakao 10
//! minutes, Naver expiry, PASS the end of the KST day) and PASS's verify body. A receipt's state is computed from
//! timestamps when asked (no task per request). Results are CMS SignedData made
//! with [`crate::cms::sign`] by a subscriber certificate issued for the person
//! under that provider's own test PKI ([`crate::testpki`]), and a deterministic
//! CI per person. Each person's [`Scenario`] (chosen by phone number) says how
//! the "citizen" and the "provider" behave, including the misbehaviour
//! `PROVIDERS.md` lists; refusals use the [`munjigi_providers::barocert::codes`] table.
//!
//! The same listener also serves Kakao's own certification API (family C)
//! under `/kakao-direct/…` (`kakao_direct.rs`: REST API key auth, E-codes, its
//! own root under `pki_dir/kakao-direct/`), with the same people, scenarios and
//! CI derivation, so one person has one CI whichever way the gateway asks.
//! Toss's own certificate API (family B) is served under `/toss-direct/…`
//! (`toss_direct.rs`: OAuth2 client credentials, RSA-OAEP session keys and
//! AES-GCM fields, its own root and RSA key pair under `pki_dir/toss-direct/`).
//!
//! Each product's CA publishes its CRL at `pki_dir/<product>/crl.pem` (written at
//! startup, rewritten whenever it revokes), which the gateway's `crl` setting
//! points at. Provider-side misbehaviour (revoked or expired signer
//! certificates, a signingTime outside the request window, maintenance, HTTP
//! 500, slow and hung status calls, bad bodies) lives in `misbehave.rs` and
//! acts on every family, each in its own error shape. Every provider's CRL is
//! also served over HTTP at `GET /pki/<provider>/crl` (`kakao`, `naver`,
//! `pass`, `toss`, `kakao-direct`, `toss-direct`, `bank-<name>`), for a
//! gateway configured with a CRL URL.
//!
//! ## Control API
//!
//! Enabled only when `control_token` is set (otherwise every `/_control/…` path
//! answers 404); each call carries `Authorization: Bearer <control_token>`
//! (401 if wrong):
//!
//! - `POST /_control/people` with `{"phone": "010-…", "scenario": "revoked"}`:
//!   sets (or changes) that person's [`Scenario`] for requests made from now on,
//!   whether or not they are in `people`. 200 `{"status":"ok"}`; 400 on a bad body.
//! - `POST /_control/expire-tokens`: forgets every session token issued
//!   ([`Simulator::expire_session_tokens`]).
//! - `POST /_control/crl` with `{"provider": "kakao", "available": false}`:
//!   makes `GET /pki/kakao/crl` answer 503 until set `true` again (a CRL
//!   distribution point outage). 200 `{"status":"ok"}`; 400 on a bad body.
//! - `POST /_control/revoke-ca` with `{"provider": "kakao"}`: the provider's
//!   root revokes its CA as of now and its `crl.pem` is rewritten (every
//!   result of that provider then fails the gateway's CRL check of the CA).
//!   200 `{"status":"ok"}`; 400 on a bad body or an unknown provider.
//! - `POST /_control/outage` with `{"provider": "kakao", "mode": "down"}`: a
//!   provider-wide outage (`misbehave.rs`'s `Outage`) of one provider, named
//!   as the CRL URLs name it: every call to it, starts included and whoever
//!   it is for, answers its family's internal error (`down`), its maintenance
//!   error (`maintenance`), or answers after `slow_ms` (`slow`), until set to
//!   `none`. 200 `{"status":"ok"}`; 400 on a bad body or an unknown provider.
//! - `POST /_control/pushes` with `{"phone": "010-…"}`: the broker requests
//!   (product and title) made for that phone, oldest first.
//! - `GET /_control/health`: 200 `{"status":"ok","receipts":n,"overrides":n}`.
//! - `GET /_control/traces`: the latest 512 requests of every family, oldest
//!   first, as `{"requests": [{"method", "path", "traceparent", "tracestate"}]}`
//!   (header values or null): where a login's W3C trace reached.
//!
//! ## Document signing
//!
//! The same products' `Sign` and `MultiSign` APIs (`sign.rs`, on the identity
//! routes' access checks, status, verify and deadlines): each product's request
//! fields as [`munjigi_providers::barocert`] documents them, `expireIn` and title limits,
//! `TEXT` tokens signed as text and `HASH` tokens (base64 of a SHA-256) signed
//! in the product's form (Kakao, PASS, Toss: DER with the digest attached;
//! Naver: BER indefinite-length, detached, messageDigest = the digest), the
//! document count limits (more → `BadTokenCount`; PASS offers no `MultiSign`).
//! Every scenario applies to signing requests too, each element of a
//! multi-sign misbehaving alike; `multi_one_bad` spoils only the last element.
//!
//! Not here: persistence (state lives in memory), or anything production should
//! trust: the PKI keys sit on disk in `pki_dir`.

mod app;
mod bank;
mod kakao_direct;
mod misbehave;
mod mobile_id;
mod oid4vp;
mod people;
mod routes;
mod sign;
mod state;
mod toss_direct;
mod wire;

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::testpki::{PkiError, ProviderPki};
use munjigi_providers::barocert::crypto;
use munjigi_providers::barocert::BarocertProduct;
use munjigi_providers::person::{BirthDate, Gender, Name, Phone};

pub use bank::{BankDialect, SimBank, SimBankApiKey, SimBankAuth, SimBankBearer, SimBankHmac};
pub use kakao_direct::SimApiKey;
pub use misbehave::Outage;
pub use mobile_id::{
    CREDENTIAL as MOBILE_ID_CREDENTIAL, ISSUER_DID as MOBILE_ID_ISSUER, MSCODE as MOBILE_ID_MSCODE,
    SP_DID as MOBILE_ID_SP_DID, SP_KEY_ID as MOBILE_ID_SP_KEY_ID,
};
pub use oid4vp::{ISS as OID4VP_ISSUER, VCT as OID4VP_VCT};
pub use people::ci_of;
pub use toss_direct::SimTossClient;

/// The simulator's settings (from `munjigi simulate`'s TOML, or built in code).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// Where each provider's test PKI lives (`<pki_dir>/kakao/…`); generated on
    /// first use and reused after, so the gateway's trust config stays valid.
    pub pki_dir: PathBuf,
    /// How long after a request the simulated citizen acts (approves, rejects).
    #[serde(default = "default_approve_after_ms")]
    pub approve_after_ms: u64,
    /// The RPs (gateways) allowed to call.
    pub relying_parties: Vec<SimRp>,
    /// People with a scenario other than the default, by phone number.
    #[serde(default)]
    pub people: Vec<SimPerson>,
    /// What happens to a person not in `people`.
    #[serde(default)]
    pub unknown_people: UnknownPeople,
    /// Allowed difference between the caller's `x-bc-date` / `x-lh-date` and ours.
    #[serde(default = "default_max_clock_skew_secs")]
    pub max_clock_skew_secs: u64,
    /// Lifetime of a session token from the token service.
    #[serde(default = "default_token_ttl_secs")]
    pub token_ttl_secs: u64,
    /// REST API keys accepted by the Kakao-direct API under `/kakao-direct/…`
    /// (none: every Kakao-direct call is refused with E1004).
    #[serde(default)]
    pub kakao_direct_keys: Vec<SimApiKey>,
    /// Banks served under `/bank/{name}/…` (family D, each in its own dialect;
    /// `bank.rs`), each with its own root under `pki_dir/bank-<name>/`.
    #[serde(default)]
    pub banks: Vec<SimBank>,
    /// OAuth2 clients accepted by the Toss-direct API under `/toss-direct/…`
    /// (none: every token request is refused with `invalid_client`).
    #[serde(default)]
    pub toss_direct_clients: Vec<SimTossClient>,
    /// How long a [`Scenario::Slow`] person's status calls take.
    #[serde(default = "default_slow_ms")]
    pub slow_ms: u64,
    /// The bearer token of the control API (`/_control/…`); unset: disabled.
    #[serde(default)]
    pub control_token: Option<String>,
}

fn default_slow_ms() -> u64 {
    3000
}
fn default_approve_after_ms() -> u64 {
    2000
}
fn default_max_clock_skew_secs() -> u64 {
    300
}
fn default_token_ttl_secs() -> u64 {
    3600
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            pki_dir: PathBuf::from("sim-pki"),
            approve_after_ms: default_approve_after_ms(),
            relying_parties: Vec::new(),
            people: Vec::new(),
            unknown_people: UnknownPeople::default(),
            max_clock_skew_secs: default_max_clock_skew_secs(),
            token_ttl_secs: default_token_ttl_secs(),
            kakao_direct_keys: Vec::new(),
            banks: Vec::new(),
            toss_direct_clients: Vec::new(),
            slow_ms: default_slow_ms(),
            control_token: None,
        }
    }
}

/// One RP's credentials at the broker: what Linkhub would have issued.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimRp {
    pub link_id: String,
    /// Base64 of 32 bytes.
    pub secret_key: String,
    /// 12 digits.
    pub client_code: String,
}

impl std::fmt::Debug for SimRp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimRp")
            .field("link_id", &self.link_id)
            .field("client_code", &self.client_code)
            .finish_non_exhaustive()
    }
}

/// A person the simulator knows, found by phone number.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimPerson {
    pub phone: Phone,
    /// If set, a request with another name is refused as a mismatch.
    #[serde(default)]
    pub name: Option<Name>,
    /// If set, a request with another birth date is refused as a mismatch.
    #[serde(default)]
    pub birthdate: Option<BirthDate>,
    #[serde(default)]
    pub gender: Option<Gender>,
    #[serde(default)]
    pub scenario: Scenario,
}

/// How the citizen and the provider behave for one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// Opens the request, approves; a correct result.
    #[default]
    Approve,
    /// Opens the request, declines.
    Reject,
    /// Never opens it: expires at `expireIn`.
    Never,
    /// Opens it, never finishes: expires at `expireIn`.
    Viewed,
    /// Approves, but the CMS is over a different nonce.
    TamperContent,
    /// Approves, but the result (and its certificate) name another person.
    WrongPerson,
    /// Approves, but one byte of the CMS signature is flipped.
    BadSignature,
    /// Approves, but signs with a certificate from another, untrusted PKI.
    WrongChain,
    /// The provider has no account: the request is refused.
    Unknown,
    /// The account is dormant: the request is refused.
    Dormant,
    /// Approves; the provider answers the first status call and the first
    /// verify call with a retryable internal error (Kakao direct: E0001 on HTTP
    /// 400; Toss direct and banks: their internal error with HTTP 500). The
    /// barocert routes treat it as `Approve`.
    Flaky,
    /// Approves, but the signer certificate is revoked in the provider's CRL
    /// (every family: the CRL at `pki_dir/<provider>/crl.pem` and
    /// `GET /pki/<provider>/crl` lists it).
    Revoked,
    /// Approves, but the signer certificate expired a year before signing
    /// (every family).
    ExpiredCert,
    /// Approves, but the signingTime is two hours before the request (barocert
    /// routes; the direct APIs treat it as `Approve`).
    SigningTimeOutside,
    /// Approves, but status and verify answer the provider's maintenance error
    /// (HTTP 503) for this person's requests, in each family's shape (broker
    /// `{code, message}`, Kakao direct E0002, Toss direct `SERVICE_UNAVAILABLE`
    /// in the FAIL envelope, banks their dialect's maintenance code).
    Maintenance,
    /// Approves, but status and verify fail internally: broker HTTP 500 with a
    /// non-JSON body, Kakao direct E0001 on HTTP 400 (documented "retry"), Toss
    /// direct `INTERNAL_SERVER_ERROR` with 500, banks their internal error with 500.
    ServerError,
    /// Approves; each status call answers after `slow_ms` (every family).
    Slow,
    /// Approves; status calls never answer (held for ten minutes; every family).
    Hung,
    /// Approves; the result (verify) call answers after `slow_ms` (every
    /// family): a slow verification the citizen may leave for another try.
    SlowResult,
    /// Approves, but status and verify answer HTTP 200 with a body that is
    /// not JSON (every family).
    Garbage,
    /// Approves, but status and verify answer HTTP 200 with `Content-Encoding:
    /// gzip` and gzip bytes, which the gateway never asked for (every family).
    Gzip,
    /// Approves, but status and verify answer HTTP 200 with a JSON body cut in
    /// half (its Content-Length matches the cut body; every family, each its
    /// own status shape).
    Truncated,
    /// Approves, but status and verify answer HTTP 200 with a 2 MiB body, above
    /// the gateway's response cap (every family).
    Huge,
    /// Approves, but status and verify answer HTTP 200 with JSON whose fields
    /// have the wrong types (`state` a string, `receiptID` a number; every
    /// family, with its own field names).
    WrongTypes,
    /// Approves; in a multi-document signing result exactly one element (the
    /// last) is a genuine signature over another digest (one bit flipped), so
    /// the whole result must fail (barocert `MultiSign`; otherwise `Approve`).
    MultiOneBad,
    /// Approves, but the verify answer carries the signed data of this person's
    /// previous, genuine result of the same product and API (a login's CMS then
    /// holds the earlier nonce or receiptID, a signature the earlier documents);
    /// the first request gets its own (barocert routes; otherwise `Approve`).
    ReplayedResult,
    /// Approves, signing with the person's renewed certificate: the same name
    /// and UID, another key and serial, the same one on every `renewed`
    /// request (every family), so a gateway that remembers signers sees a
    /// change once, and the same certificate again after that.
    Renewed,
    /// Approves, but a bank's result answer names the name's key twice: a
    /// stranger's name first, the genuine one last (banks; otherwise `Approve`).
    DuplicateKeys,
    /// Approves, but the result answer has U+202E (a bidi override) after the
    /// name, in every family's answer (the certificate's CN is the plain name).
    InvisibleName,
    /// Approves, but a bank's result answer has the birth date as a JSON
    /// number (`19900131`), not a string (banks; otherwise `Approve`).
    NumberField,
    /// Approves, but a bank's result answer has the sealed name and birth date
    /// swapped, each sealed for its own field (banks that encrypt fields;
    /// otherwise `Approve`).
    SwappedField,
    /// Approves, but a bank's result answer has the CI sealed for another
    /// request, as if copied from an earlier answer (banks that encrypt
    /// fields; otherwise `Approve`).
    ReplayedField,
    /// Approves, but the wallet presents the name only, not the birth date
    /// (the mobile ID; otherwise `Approve`).
    WithheldClaim,
    /// Approves, but the wallet presents a credential of another type than
    /// the one asked for (the mobile ID; otherwise `Approve`).
    WrongCredentialType,
    /// Approves, but the wallet seals the presentation to another SP's key
    /// (the mobile ID; otherwise `Approve`).
    WrongAudience,
}

/// What to do with a person not listed in [`SimConfig::people`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownPeople {
    /// Anyone typed in is a registered user who approves (the demo).
    #[default]
    Approve,
    /// Anyone not listed is unknown to the provider.
    Refuse,
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("simulator config: {0}")]
    Config(String),
    #[error("simulator PKI for {product}: {source}")]
    Pki {
        product: &'static str,
        #[source]
        source: PkiError,
    },
    #[error("simulator I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// An RP with its key decoded.
#[derive(Clone)]
pub(crate) struct Rp {
    pub link_id: String,
    pub key: [u8; 32],
    pub client_code: String,
}

pub(crate) struct ProductPki {
    pub product: BarocertProduct,
    pub pki: ProviderPki,
    pub root_pem: Vec<u8>,
}

/// The simulated broker. Share it as `Arc<Simulator>`.
pub struct Simulator {
    pub(crate) approve_after_ms: u64,
    pub(crate) max_clock_skew_secs: u64,
    pub(crate) token_ttl_secs: u64,
    pub(crate) rps: Vec<Rp>,
    pub(crate) people: Vec<SimPerson>,
    pub(crate) unknown_people: UnknownPeople,
    pub(crate) pkis: Vec<ProductPki>,
    /// A PKI no gateway trusts, for [`Scenario::WrongChain`].
    pub(crate) rogue: ProviderPki,
    pub(crate) state: Mutex<state::State>,
    pub(crate) subscribers: Mutex<people::SubscriberCache>,
    /// The Kakao-direct API's keys, PKI and transactions.
    pub(crate) kakao_direct: kakao_direct::KakaoDirectSim,
    /// The simulated banks (family D).
    pub(crate) banks: bank::BankSims,
    /// The Toss-direct API's clients, keys, tokens and transactions.
    pub(crate) toss_direct: toss_direct::TossDirectSim,
    /// Scenario overrides, CRL location, control token, slow delay.
    pub(crate) control: misbehave::Control,
    /// The mobile ID's push server and wallet, and its test issuer.
    pub(crate) mobile_id: mobile_id::MobileIdSim,
    /// An OpenID4VP wallet and its test issuer.
    pub(crate) oid4vp: oid4vp::Oid4vpWallet,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("approve_after_ms", &self.approve_after_ms)
            .field("rps", &self.rps.len())
            .field("people", &self.people.len())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Validates the config and loads (or generates) each provider's PKI under
    /// `pki_dir/<product>/`.
    pub fn new(cfg: SimConfig) -> Result<Self, SimError> {
        if cfg.relying_parties.is_empty() {
            return Err(SimError::Config(
                "at least one relying party is needed".into(),
            ));
        }
        if cfg.token_ttl_secs == 0 {
            return Err(SimError::Config("token_ttl_secs must be above zero".into()));
        }
        let mut rps: Vec<Rp> = Vec::new();
        for rp in &cfg.relying_parties {
            if rp.link_id.trim().is_empty() || rp.link_id.contains(char::is_whitespace) {
                return Err(SimError::Config(
                    "relying party link_id must be non-empty without spaces".into(),
                ));
            }
            if !crypto::is_digits(&rp.client_code, 12) {
                return Err(SimError::Config(format!(
                    "relying party {}: client_code must be 12 digits",
                    rp.link_id
                )));
            }
            // Decoded here, not through the adapter's secret type: the
            // simulator is the broker's side and holds its own copy.
            let key: [u8; 32] = {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(rp.secret_key.trim())
                    .ok()
                    .and_then(|k| k.try_into().ok())
                    .ok_or_else(|| {
                        SimError::Config(format!(
                            "relying party {}: secret_key must be base64 of 32 bytes",
                            rp.link_id
                        ))
                    })?
            };
            if rps
                .iter()
                .any(|o| o.link_id == rp.link_id || o.client_code == rp.client_code)
            {
                return Err(SimError::Config(format!(
                    "relying party {}: link_id or client_code listed twice",
                    rp.link_id
                )));
            }
            rps.push(Rp {
                link_id: rp.link_id.clone(),
                key,
                client_code: rp.client_code.clone(),
            });
        }
        for (i, p) in cfg.people.iter().enumerate() {
            if cfg
                .people
                .iter()
                .skip(i + 1)
                .any(|o| o.phone.same_as(&p.phone))
            {
                return Err(SimError::Config(format!(
                    "people[{i}]: phone number listed twice"
                )));
            }
        }

        let mut pkis = Vec::new();
        for product in BarocertProduct::ALL {
            let pki = ProviderPki::load_or_generate(
                &cfg.pki_dir.join(product.name()),
                product.display_name(),
            )
            .map_err(|source| SimError::Pki {
                product: product.name(),
                source,
            })?;
            let root_pem = pki.root_pem().map_err(|source| SimError::Pki {
                product: product.name(),
                source,
            })?;
            pkis.push(ProductPki {
                product,
                pki,
                root_pem,
            });
        }
        let rogue = ProviderPki::load_or_generate(&cfg.pki_dir.join("untrusted"), "Untrusted")
            .map_err(|source| SimError::Pki {
                product: "untrusted",
                source,
            })?;

        let kakao_direct = kakao_direct::KakaoDirectSim::new(&cfg.pki_dir, cfg.kakao_direct_keys)?;
        let banks = bank::BankSims::new(&cfg.pki_dir, cfg.banks)?;
        let toss_direct = toss_direct::TossDirectSim::new(
            &cfg.pki_dir,
            cfg.toss_direct_clients,
            cfg.token_ttl_secs,
        )?;

        let mobile_id = mobile_id::MobileIdSim::new(&cfg.pki_dir)?;
        let oid4vp = oid4vp::Oid4vpWallet::new(&cfg.pki_dir)?;
        let control = misbehave::Control::new(cfg.pki_dir.clone(), cfg.slow_ms, cfg.control_token);
        let sim = Self {
            approve_after_ms: cfg.approve_after_ms,
            max_clock_skew_secs: cfg.max_clock_skew_secs,
            token_ttl_secs: cfg.token_ttl_secs,
            rps,
            people: cfg.people,
            unknown_people: cfg.unknown_people,
            pkis,
            rogue,
            state: Mutex::new(state::State::default()),
            subscribers: Mutex::new(people::SubscriberCache::default()),
            kakao_direct,
            banks,
            toss_direct,
            control,
            mobile_id,
            oid4vp,
        };
        // Each product's CRL next to its root, empty until something is revoked.
        sim.publish_crls().map_err(|source| SimError::Pki {
            product: "crl",
            source,
        })?;
        Ok(sim)
    }

    /// The provider's root certificate (PEM): what the gateway trusts for it.
    pub fn root_pem(&self, product: BarocertProduct) -> Vec<u8> {
        self.pkis
            .iter()
            .find(|p| p.product == product)
            .map(|p| p.root_pem.clone())
            .unwrap_or_default()
    }

    /// The Kakao-direct API's root certificate (PEM): what the gateway trusts
    /// for a `kakao_direct` provider.
    pub fn kakao_direct_root_pem(&self) -> Vec<u8> {
        self.kakao_direct.root_pem.clone()
    }

    /// The root certificate (PEM) of the simulated bank `name`, if configured:
    /// what the gateway trusts for that declarative provider.
    pub fn bank_root_pem(&self, name: &str) -> Option<Vec<u8>> {
        self.banks.root_pem(name)
    }

    /// Time passes on demand: moves every receipt `by` into the past, as if it
    /// had been requested that much earlier (verify deadlines, expiry, PASS's
    /// day boundary). The broker's own clock and tokens are untouched.
    pub fn age_receipts(&self, by: std::time::Duration) {
        let by_ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        if let Ok(mut st) = self.state.lock() {
            for r in st.receipts.values_mut() {
                r.age(by_ms);
            }
        }
    }

    /// Misbehaviour on demand: forgets every session token it issued, as the
    /// broker does when tokens expire or it restarts. Callers must fetch new ones.
    pub fn expire_session_tokens(&self) {
        if let Ok(mut st) = self.state.lock() {
            st.tokens.clear();
        }
    }

    /// Misbehaviour on demand: makes `provider`'s CRL URL answer 503
    /// (`available: false`) or serve again, as `POST /_control/crl` does.
    pub fn set_crl_available(&self, provider: &str, available: bool) {
        self.control.set_crl_available(provider, available);
    }

    /// Starts or ends a provider-wide outage, as `POST /_control/outage` does.
    pub fn set_outage(&self, provider: &str, outage: Outage) {
        self.control.set_outage(provider, outage);
    }

    /// The PKI a broker product signs under.
    pub fn pki(&self, product: BarocertProduct) -> Option<&ProviderPki> {
        self.pkis
            .iter()
            .find(|p| p.product == product)
            .map(|p| &p.pki)
    }

    /// Serves HTTP/1.1 and HTTP/2 on `listener` until this future is dropped or
    /// its task aborted (which also closes the open connections).
    pub async fn serve(self: Arc<Self>, listener: tokio::net::TcpListener) -> Result<(), SimError> {
        let local = listener.local_addr()?;
        info!(addr = %local, "provider simulator listening");
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(x) => x,
                        Err(e) => {
                            // Out of descriptors and the like: back off, keep serving.
                            warn!(error = %e, "simulator accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let sim = Arc::clone(&self);
                    conns.spawn(async move {
                        let svc = hyper::service::service_fn(move |req| {
                            let sim = Arc::clone(&sim);
                            async move { Ok::<_, Infallible>(sim.handle(req).await) }
                        });
                        let served = hyper_util::server::conn::auto::Builder::new(
                            hyper_util::rt::TokioExecutor::new(),
                        )
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                        if let Err(e) = served {
                            debug!(peer = %peer, error = %e, "simulator connection ended");
                        }
                    });
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    }
}

/// A simulator for the unit tests of the submodules: one RP (key `[0x42; 32]`,
/// client code `023040000001`), everyone approves, PKIs in a fresh temp dir.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn test_simulator(tag: &str) -> (Simulator, Rp) {
    use base64::Engine as _;
    let key = [0x42u8; 32];
    let cfg = SimConfig {
        pki_dir: std::env::temp_dir().join(format!("munjigi-sim-{tag}-{}", std::process::id())),
        relying_parties: vec![SimRp {
            link_id: "UNIT".into(),
            secret_key: base64::engine::general_purpose::STANDARD.encode(key),
            client_code: "023040000001".into(),
        }],
        ..SimConfig::default()
    };
    let sim = Simulator::new(cfg).unwrap();
    let rp = sim.rps.first().cloned().unwrap();
    (sim, rp)
}
