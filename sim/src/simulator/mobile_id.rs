//! The mobile ID: the push server (`POST /mobile-id/api/sendVPAPI.do`, as
//! 한국조폐공사's) and the citizen's wallet app behind it, with a test issuer
//! under its own DID.
//!
//! Material under `pki_dir/mobile-id/`, generated on first use and reused
//! (so the gateway's config stays valid): the SP's secp256k1 DID key
//! (`sp-key.pem`) and RSA seal key (`seal-key.pem`) the gateway is
//! configured with, the issuer's P-256 key, and `trust.json`, the trust
//! list the gateway reads: the SP's and the issuer's DID documents, every
//! holder's, and every credential's status. A holder (one per phone number,
//! its key derived from the number) is added to the list when a request
//! first reaches them, before the wallet answers (as a registry would hold
//! the DID from the wallet's installation).
//!
//! The wallet behaves as the app does: it fetches the profile from the M200's
//! `host` (`/mip/profile`), checks the profile's signature against the SP's
//! DID document, waits `approve_after_ms` (the citizen unlocking it), and
//! presents name and birth date sealed to the profile's key (`/mip/vp`), or
//! sends M900 (`/mip/error`) when the citizen declines. A request reaches it
//! by push, or by `POST /_control/wallet-scan` (the citizen scanning the
//! waiting page's QR code: `{"phone", "name", "birthdate", "qr"}`).
//!
//! Scenarios: `reject` (M900 20901), `never` (nothing), `viewed` (profile
//! only), `tamper_content` (the holder signs another nonce), `wrong_person`
//! (another name, correctly issued), `bad_signature` (a claim changed after
//! the issuer signed), `wrong_chain` (an issuer nobody trusts), `revoked`,
//! `expired_cert` (the credential expired), `replayed_result` (this
//! person's previous presentation again), `withheld_claim` (name only),
//! `wrong_credential_type`, `wrong_audience` (sealed to another SP's key),
//! `unknown` (the push server knows no such person: 10305).

use super::{Scenario, Simulator};
use munjigi_providers::http_client::HttpClient;
use munjigi_providers::mobile_id::sig::{self, Curve};
use munjigi_providers::mobile_id::{adapter::kst, b64, canon, msg, profile, seal};
use munjigi_providers::person::{BirthDate, Name, Phone};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{info, warn};

/// Where the push server answers.
pub(crate) const PUSH_PATH: &str = "/mobile-id/api/sendVPAPI.do";
/// The `mscode` the push server accepts.
pub const MSCODE: &str = "SIM-MSCODE-01";
pub const SP_DID: &str = "did:kr:mobileid:sim-sp";
pub const SP_KEY_ID: &str = "sp.sign";
pub const ISSUER_DID: &str = "did:kr:mobileid:sim-police";
const ISSUER_KEY_ID: &str = "iss.1";
const ROGUE_DID: &str = "did:kr:mobileid:sim-rogue";
/// The credential type the test issuer issues (a driving licence).
pub const CREDENTIAL: &str = "mdl";
const HOLDER_KEY_KEY: &[u8] = b"munjigi-simulator-holder-key-v1";

struct Inner {
    dir: PathBuf,
    issuer: EcKey<Private>,
    rogue: EcKey<Private>,
    other_seal: PKey<Private>,
    sp_public_b58: String,
    /// The trust list as written: documents by DID, statuses by id.
    documents: Mutex<(HashMap<String, Value>, HashMap<String, String>)>,
    /// Each phone's last presentation, for `replayed_result`.
    last: Mutex<HashMap<String, Value>>,
    http: HttpClient,
}

#[derive(Clone)]
pub(crate) struct MobileIdSim(Arc<Inner>);

fn ec_key(path: &Path, nid: Nid) -> Result<EcKey<Private>, std::io::Error> {
    let bad = |e: openssl::error::ErrorStack| std::io::Error::other(e.to_string());
    if let Ok(pem) = std::fs::read(path) {
        return EcKey::private_key_from_pem(&pem).map_err(bad);
    }
    let group = EcGroup::from_curve_name(nid).map_err(bad)?;
    let k = EcKey::generate(&group).map_err(bad)?;
    std::fs::write(path, k.private_key_to_pem().map_err(bad)?)?;
    Ok(k)
}

fn key_doc(did: &str, key_id: &str, curve: Curve, b58: &str) -> Value {
    let kind = match curve {
        Curve::K1 => "Secp256k1VerificationKey2018",
        Curve::R1 => "Secp256r1VerificationKey2018",
    };
    json!({"id": did, "publicKey": [{"id": format!("{did}#{key_id}"), "type": kind, "publicKeyBase58": b58}]})
}

/// `v`'s value at a JSON pointer (`/a/b`), `Null` where there is none.
fn at<'a>(v: &'a Value, pointer: &str) -> &'a Value {
    v.pointer(pointer).unwrap_or(&Value::Null)
}

/// Sets `key` in the object at `pointer` (nothing if it is not an object).
fn set(v: &mut Value, pointer: &str, key: &str, value: Value) {
    if let Some(o) = v.pointer_mut(pointer).and_then(Value::as_object_mut) {
        o.insert(key.to_owned(), value);
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn proof_type(curve: Curve) -> &'static str {
    match curve {
        Curve::K1 => "Secp256k1VerificationKey2018",
        Curve::R1 => "Secp256r1VerificationKey2018",
    }
}

impl MobileIdSim {
    pub(crate) fn new(pki_dir: &Path) -> Result<Self, std::io::Error> {
        let dir = pki_dir.join("mobile-id");
        std::fs::create_dir_all(&dir)?;
        let bad = |e: openssl::error::ErrorStack| std::io::Error::other(e.to_string());
        let sp = ec_key(&dir.join("sp-key.pem"), Nid::SECP256K1)?;
        let seal_path = dir.join("seal-key.pem");
        if !seal_path.exists() {
            let k = openssl::rsa::Rsa::generate(2048).map_err(bad)?;
            std::fs::write(&seal_path, k.private_key_to_pem().map_err(bad)?)?;
        }
        let issuer = ec_key(&dir.join("issuer-key.pem"), Nid::X9_62_PRIME256V1)?;
        let p256 = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(bad)?;
        let rogue = EcKey::generate(&p256).map_err(bad)?;
        let other_seal =
            PKey::from_rsa(openssl::rsa::Rsa::generate(2048).map_err(bad)?).map_err(bad)?;
        let b58 = |c, k: &EcKey<Private>| {
            sig::public_key_base58(c, k).map_err(|e| std::io::Error::other(e.to_string()))
        };
        let sp_public_b58 = b58(Curve::K1, &sp)?;
        let mut docs = HashMap::new();
        docs.insert(
            SP_DID.to_owned(),
            key_doc(SP_DID, SP_KEY_ID, Curve::K1, &sp_public_b58),
        );
        docs.insert(
            ISSUER_DID.to_owned(),
            key_doc(
                ISSUER_DID,
                ISSUER_KEY_ID,
                Curve::R1,
                &b58(Curve::R1, &issuer)?,
            ),
        );
        let http = HttpClient::new(None, Duration::from_secs(10))
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .allow_plain_http(true);
        let sim = MobileIdSim(Arc::new(Inner {
            dir,
            issuer,
            rogue,
            other_seal,
            sp_public_b58,
            documents: Mutex::new((docs, HashMap::new())),
            last: Mutex::new(HashMap::new()),
            http,
        }));
        sim.write_trust()?;
        Ok(sim)
    }

    /// Writes `trust.json` whole, by rename (a reader never sees half of it).
    /// Writes the list as it is now. The lock is held to the rename, so
    /// two registrations at once cannot land in the wrong order (the
    /// earlier list renamed over the later one would drop a holder).
    fn write_trust(&self) -> Result<(), std::io::Error> {
        let g = self
            .0
            .documents
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        let mut docs: Vec<&Value> = g.0.values().collect();
        docs.sort_by_key(|d| at(d, "/id").as_str().unwrap_or_default().to_owned());
        let body = serde_json::to_vec_pretty(&json!({"documents": docs, "status": g.1}))
            .map_err(std::io::Error::other)?;
        let tmp = self.0.dir.join("trust.json.tmp");
        std::fs::write(&tmp, body)?;
        std::fs::rename(tmp, self.0.dir.join("trust.json"))
    }

    /// The holder of `phone`: a DID and a P-256 key derived from the number.
    fn holder(phone: &Phone) -> Option<(String, EcKey<Private>)> {
        let mac = munjigi_providers::hmac::sha256(HOLDER_KEY_KEY, &[phone.national().as_bytes()]);
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).ok()?;
        let mut order = BigNum::new().ok()?;
        let mut ctx = BigNumContext::new().ok()?;
        group.order(&mut order, &mut ctx).ok()?;
        let raw = BigNum::from_slice(&mac).ok()?;
        let mut d = BigNum::new().ok()?;
        d.nnmod(&raw, &order, &mut ctx).ok()?;
        let mut point = EcPoint::new(&group).ok()?;
        point.mul_generator2(&group, &d, &mut ctx).ok()?;
        let key = EcKey::from_private_components(&group, &d, &point).ok()?;
        let did = format!("did:kr:mobileid:sim-{}", hex::encode(mac.get(..10)?));
        Some((did, key))
    }

    fn vc_id(holder: &str, claim: &str, revoked: bool) -> String {
        let tail = holder.rsplit('-').next().unwrap_or(holder);
        format!("vc-{tail}-{claim}{}", if revoked { "-r" } else { "" })
    }

    /// Puts the holder of `phone` and their credentials' statuses in the
    /// trust list (once).
    fn register(&self, phone: &Phone) -> Option<()> {
        let (did, key) = Self::holder(phone)?;
        {
            let mut g = self.0.documents.lock().ok()?;
            if g.0.contains_key(&did) {
                return Some(());
            }
            let b58 = sig::public_key_base58(Curve::R1, &key).ok()?;
            g.0.insert(did.clone(), key_doc(&did, "PIN1", Curve::R1, &b58));
            for claim in profile::CLAIMS {
                g.1.insert(Self::vc_id(&did, claim, false), "ACTIVE".into());
                g.1.insert(Self::vc_id(&did, claim, true), "REVOKED".into());
            }
        }
        if let Err(e) = self.write_trust() {
            warn!(error = %e, "simulator: trust list not written");
        }
        Some(())
    }

    /// One credential of one claim, signed by the issuer (or as a scenario
    /// spoils it).
    fn credential(
        &self,
        holder: &str,
        claim: &str,
        value: &str,
        scenario: Scenario,
    ) -> Option<Value> {
        let revoked = scenario == Scenario::Revoked;
        let (issuer_did, key) = if scenario == Scenario::WrongChain {
            (ROGUE_DID, &self.0.rogue)
        } else {
            (ISSUER_DID, &self.0.issuer)
        };
        let expires = if scenario == Scenario::ExpiredCert {
            kst(now().saturating_sub(86_400))
        } else {
            "2031-12-31T23:59:59".to_owned()
        };
        let code = if scenario == Scenario::WrongCredentialType {
            "mresident"
        } else {
            CREDENTIAL
        };
        let tail = holder.rsplit('-').next().unwrap_or(holder);
        let mut vc = json!({
            "@context": ["https://www.w3.org/2018/credentials/v1"],
            "assertion": {"code": code, "name": "모바일 운전면허증"},
            "credentialSubject": {"id": holder, "privacy": [{"type": claim, "value": value}]},
            "expirationDate": expires,
            "id": Self::vc_id(holder, claim, revoked),
            "issuanceDate": "2024-01-02T09:00:00",
            "issuer": {"id": issuer_did, "name": "시뮬레이터 경찰청"},
            "parentId": format!("mdl-{tail}"),
            "type": ["VerifiableCredential", "MobileIdCredential"],
        });
        let s = sig::sign(Curve::R1, key, &canon::form(&vc)).ok()?;
        set(
            &mut vc,
            "",
            "proof",
            json!({
                "created": "2024-01-02T09:00:00",
                "creator": format!("{issuer_did}#{ISSUER_KEY_ID}"),
                "signatureValue": s.to_eosio(Curve::R1),
                "type": proof_type(Curve::R1),
            }),
        );
        if scenario == Scenario::BadSignature && claim == "name" {
            set(
                &mut vc,
                "/credentialSubject/privacy/0",
                "value",
                "김철수".into(),
            );
        }
        Some(vc)
    }

    /// The presentation for a profile's `nonce`, as `scenario` makes it.
    fn presentation(
        &self,
        phone: &Phone,
        name: &str,
        birth: &str,
        ci: &str,
        nonce: &str,
        scenario: Scenario,
    ) -> Option<Value> {
        if scenario == Scenario::ReplayedResult {
            if let Some(v) = self.0.last.lock().ok()?.get(&phone.national()) {
                return Some(v.clone());
            }
        }
        let (holder, key) = Self::holder(phone)?;
        let shown_name = if scenario == Scenario::WrongPerson {
            "김민준"
        } else {
            name
        };
        let mut vcs = vec![self.credential(&holder, "name", shown_name, scenario)?];
        if scenario != Scenario::WithheldClaim {
            vcs.push(self.credential(&holder, "birth", birth, scenario)?);
        }
        let signed_nonce = if scenario == Scenario::TamperContent {
            "0".repeat(64)
        } else {
            nonce.to_owned()
        };
        let mut vp = json!({
            "@context": ["https://www.w3.org/2018/credentials/v1"],
            "expirationDate": kst(now() + 600),
            "id": format!("vp-{}", hex::encode(openssl::sha::sha256(nonce.as_bytes()).get(..8)?)),
            "proof": {
                "created": kst(now()),
                "creator": format!("{holder}#PIN1"),
                "nonce": format!("{signed_nonce}{}", hex::encode(ci)),
            },
            "type": ["VerifiablePresentation"],
            "verifiableCredential": vcs,
        });
        let s = sig::sign(Curve::R1, &key, &canon::form(&vp)).ok()?;
        set(&mut vp, "/proof", "signatureValue", s.to_base58().into());
        set(&mut vp, "/proof", "type", proof_type(Curve::R1).into());
        if let Ok(mut l) = self.0.last.lock() {
            l.insert(phone.national(), vp.clone());
        }
        Some(vp)
    }

    async fn post(&self, url: &str, body: Vec<u8>) -> Option<Value> {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json; charset=utf-8"),
        );
        let r = self.0.http.post(url, h, body.into()).await.ok()?;
        serde_json::from_slice(&r.body).ok()
    }

    fn header(cmd: &str, trxcode: &str) -> Value {
        json!({"type": msg::TYPE, "version": msg::VERSION, "cmd": cmd, "trxcode": trxcode})
    }

    /// The wallet's whole exchange for one request (M200, base64url).
    async fn wallet(
        self,
        m200: String,
        who: (Phone, String, String, String),
        scenario: Scenario,
        approve_after: Duration,
    ) {
        let (phone, name, birth, ci) = who;
        let Some(m) = b64::decode(&m200).and_then(|b| serde_json::from_slice::<msg::M200>(&b).ok())
        else {
            warn!("simulator wallet: the request is not an M200");
            return;
        };
        if scenario == Scenario::Never || self.register(&phone).is_none() {
            return;
        }
        let host = m.host.trim_end_matches('/').to_owned();
        let t = m.trxcode.clone();
        // Let the gateway's trust list catch up with a new holder.
        tokio::time::sleep(approve_after / 2 + Duration::from_millis(1200)).await;
        let mut ask = Self::header("310", &t);
        set(&mut ask, "", "request", "profile".into());
        let Some(a) = self
            .post(&format!("{host}/mip/profile"), msg::envelope(&ask))
            .await
        else {
            warn!("simulator wallet: no profile answer");
            return;
        };
        let inner = at(&a, "/data")
            .as_str()
            .and_then(b64::decode)
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .unwrap_or_default();
        let profile = at(&inner, "/profile")
            .as_str()
            .and_then(b64::decode)
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let sp_key = sig::public_key(Curve::K1, &self.0.sp_public_b58).ok();
        let (Some(profile), Some(sp_key), true) = (profile, sp_key, at(&a, "/result") == true)
        else {
            warn!(answer = %a, "simulator wallet: the SP refused the profile request");
            return;
        };
        if profile::verify(&profile, &sp_key).is_err() || at(&profile, "/id") != SP_DID {
            warn!("simulator wallet: the profile's signature does not verify; refusing");
            self.error(&host, &t, 90001).await;
            return;
        }
        tokio::time::sleep(approve_after / 2).await;
        match scenario {
            Scenario::Reject => {
                self.error(&host, &t, 20901).await;
                return;
            }
            Scenario::Viewed => return,
            _ => {}
        }
        let nonce = at(&profile, "/profile/nonce")
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let Some(vp) = self.presentation(&phone, &name, &birth, &ci, &nonce, scenario) else {
            return;
        };
        let public = at(&profile, "/profile/publicKey")
            .as_str()
            .and_then(|k| bs58::decode(k).into_vec().ok())
            .and_then(|der| PKey::public_key_from_der(&der).ok());
        let Some(public) = public else {
            self.error(&host, &t, 90001).await;
            return;
        };
        let bytes = serde_json::to_vec(&vp).unwrap_or_default();
        let sealed = if scenario == Scenario::WrongAudience {
            seal::seal(&self.0.other_seal, &bytes)
        } else {
            seal::seal(&public, &bytes)
        };
        let Ok(data) = sealed else { return };
        let holder = Self::holder(&phone).map(|(d, _)| d).unwrap_or_default();
        let mut present = Self::header("400", &t);
        set(&mut present, "", "request", "presentation".into());
        set(
            &mut present,
            "",
            "vp",
            json!({
                "presentType": 1, "encryptType": 2, "keyType": 2, "authType": ["pin"],
                "did": holder, "nonce": nonce, "type": "VERIFY", "data": data,
            }),
        );
        let answer = self
            .post(&format!("{host}/mip/vp"), msg::envelope(&present))
            .await;
        info!(
            scenario = ?scenario,
            accepted = answer.as_ref().is_some_and(|a| at(a, "/result") == true),
            "simulator wallet presented"
        );
    }

    async fn error(&self, host: &str, t: &str, code: u32) {
        let mut m = Self::header("900", t);
        set(&mut m, "", "errcode", code.into());
        set(&mut m, "", "errmsg", "simulated".into());
        let _ = self
            .post(&format!("{host}/mip/error"), msg::envelope(&m))
            .await;
    }
}

/// The push request, as the push server reads it.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PushRequest {
    mscode: String,
    #[serde(rename = "pushType")]
    push_type: String,
    name: Option<String>,
    birth: Option<String>,
    telno: String,
    data: String,
}

fn push_answer(errcode: u32, msg: &str) -> Value {
    let ok = errcode == 0;
    json!({"key": u8::from(ok), "result": ok, "resultMsg": if ok { "SUCCESS" } else { msg }, "errcode": errcode, "errmsg": msg})
}

impl Simulator {
    /// `POST /mobile-id/api/sendVPAPI.do`: the push server. Always HTTP 200.
    pub(crate) fn mobile_id_push(&self, body: &[u8]) -> Value {
        let inner = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| at(&v, "/data").as_str().map(str::to_owned))
            .and_then(|d| {
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE, d).ok()
            })
            .and_then(|b| serde_json::from_slice::<PushRequest>(&b).ok());
        let Some(p) = inner else {
            return push_answer(10304, "data is missing");
        };
        if p.mscode != MSCODE {
            return push_answer(10301, "mscode is missing");
        }
        if p.push_type != "MIP-USP-001" {
            return push_answer(10302, "pushType is missing");
        }
        let (Ok(phone), Some(Ok(name)), Some(Ok(birth))) = (
            Phone::parse(&p.telno),
            p.name.as_deref().map(Name::parse),
            p.birth.as_deref().map(BirthDate::parse),
        ) else {
            return push_answer(10303, "telno is missing");
        };
        if b64::decode(&p.data).is_none() {
            return push_answer(10304, "data is missing");
        }
        let Ok((subject, scenario)) = self.resolve(&phone, &name, &birth) else {
            return push_answer(10305, "receive is missing");
        };
        self.start_wallet(
            p.data,
            &subject.phone,
            subject.name.expose(),
            &subject.birthdate,
            scenario,
        );
        push_answer(0, "success")
    }

    fn start_wallet(
        &self,
        m200: String,
        phone: &Phone,
        name: &str,
        birth: &BirthDate,
        scenario: Scenario,
    ) {
        let ci = super::people::ci_of(name, &birth.iso(), phone.e164()).unwrap_or_default();
        let wallet = self.mobile_id.clone();
        let who = (phone.clone(), name.to_owned(), birth.yyyymmdd(), ci);
        let after = Duration::from_millis(self.approve_after_ms);
        info!(scenario = ?scenario, "simulator: mobile ID request delivered to the wallet");
        tokio::spawn(wallet.wallet(m200, who, scenario, after));
    }

    /// `POST /_control/wallet-scan`: the citizen scans the QR code, with the
    /// mobile ID app or, for an `openid4vp://` link, an OpenID4VP wallet.
    pub(crate) fn wallet_scan(&self, body: &[u8], base: &str) -> bool {
        #[derive(serde::Deserialize)]
        struct Scan {
            phone: String,
            name: String,
            birthdate: String,
            qr: String,
        }
        let Ok(s) = serde_json::from_slice::<Scan>(body) else {
            return false;
        };
        let (Ok(phone), Ok(name), Ok(birth)) = (
            Phone::parse(&s.phone),
            Name::parse(&s.name),
            BirthDate::parse(&s.birthdate),
        ) else {
            return false;
        };
        let scenario = match self.resolve(&phone, &name, &birth) {
            Ok((_, sc)) => sc,
            Err(_) => return false,
        };
        if s.qr.starts_with("openid4vp://") {
            self.oid4vp_scan(s.qr, &phone, &name, &birth, scenario, base);
        } else {
            self.start_wallet(s.qr, &phone, name.expose(), &birth, scenario);
        }
        true
    }
}
