//! An OpenID4VP 1.0 wallet holding an SD-JWT VC from the simulator's test
//! issuer: for the demo and the browser test, so a citizen can log in with
//! a wallet there too. (The e2e tests present with an independent wallet,
//! `tests/wallet/oid4vp_wallet.py`, whose credentials come from the `sd-jwt`
//! Python library: this one's own encoder is not what the verifier is
//! checked against.)
//!
//! The citizen's phone "scans" the waiting page's `openid4vp://` link with
//! `POST /_control/wallet-scan` (`qr` the link): the wallet fetches the
//! request with POST and a `wallet_nonce`, checks it as a strict wallet
//! does (the `x5c` chain to the verifier CA it trusts, the DNS name, `typ`,
//! the echoed nonce, the response URI's host), discloses the claims the
//! DCQL query names, binds them to the request's nonce and client id, seals
//! the response when asked (`direct_post.jwt`) and posts it.
//!
//! Under `pki_dir/openid4vp/` (made once, kept across restarts): the
//! verifier's certificate for `127.0.0.1` and `localhost` with its chain
//! (`verifier.pem`) and key (`verifier-key.pem`), and the issuer CA
//! (`issuer-ca.pem`) a gateway names as the credential type's anchors. The
//! issuer's status list is published at `/status-lists/sim-issuer` (index 0
//! valid, 1 revoked).
//!
//! Scenarios: `reject` (an error response), `never`, `viewed` (fetch
//! only), `tamper_content` (another nonce in the key binding),
//! `wrong_audience` (another verifier), `wrong_person`, `bad_signature` (a
//! disclosure changed), `wrong_chain` (an issuer under another CA),
//! `revoked`, `expired_cert`, `replayed_result`, `withheld_claim`,
//! `wrong_credential_type`.

use super::{Scenario, Simulator};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use munjigi_providers::http_client::HttpClient;
use munjigi_providers::openid4vp::{jose, jwe, request::sign_es256};
use munjigi_providers::person::{BirthDate, Name, Phone};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::{X509Name, X509};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{info, warn};

/// The credential type the test issuer issues.
pub const VCT: &str = "https://credentials.munjigi.test/identity";
/// The test issuer (its certificate names it as a URI).
pub const ISS: &str = "https://issuer.munjigi.test";
/// Where the issuer's status list is published at the simulator.
pub(crate) const STATUS_LIST: &str = "sim-issuer";
const HOLDER_KEY_KEY: &[u8] = b"munjigi-simulator-oid4vp-holder-key-v1";

type E = std::io::Error;

fn ossl(e: openssl::error::ErrorStack) -> E {
    E::other(e.to_string())
}

fn p256() -> Result<EcGroup, E> {
    EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(ossl)
}

/// Which names a certificate carries.
enum San<'a> {
    /// A CA: none.
    Ca,
    Uri(&'a str),
    Dns(&'a [&'a str]),
}

/// A certificate for `key`, signed by `by` (itself when none).
fn cert(
    cn: &str,
    key: &EcKey<Private>,
    by: Option<(&X509, &EcKey<Private>)>,
    san: &San<'_>,
) -> Result<X509, E> {
    let mut n = X509Name::builder().map_err(ossl)?;
    n.append_entry_by_text("CN", cn).map_err(ossl)?;
    let n = n.build();
    let mut b = X509::builder().map_err(ossl)?;
    b.set_version(2).map_err(ossl)?;
    let mut serial = BigNum::new().map_err(ossl)?;
    serial
        .rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false)
        .map_err(ossl)?;
    let serial = serial.to_asn1_integer().map_err(ossl)?;
    b.set_serial_number(&serial).map_err(ossl)?;
    b.set_subject_name(&n).map_err(ossl)?;
    let public = PKey::from_ec_key(key.clone()).map_err(ossl)?;
    b.set_pubkey(&public).map_err(ossl)?;
    let (from, to) = (
        Asn1Time::days_from_now(0).map_err(ossl)?,
        Asn1Time::days_from_now(3650).map_err(ossl)?,
    );
    b.set_not_before(&from).map_err(ossl)?;
    b.set_not_after(&to).map_err(ossl)?;
    let (issuer_name, signer) = match by {
        Some((ca, k)) => (ca.subject_name().to_owned().map_err(ossl)?, k),
        None => (n.to_owned().map_err(ossl)?, key),
    };
    b.set_issuer_name(&issuer_name).map_err(ossl)?;
    match san {
        San::Ca => {
            b.append_extension(
                BasicConstraints::new()
                    .critical()
                    .ca()
                    .build()
                    .map_err(ossl)?,
            )
            .map_err(ossl)?;
        }
        San::Uri(u) => {
            let ext = SubjectAlternativeName::new()
                .uri(u)
                .build(&b.x509v3_context(by.map(|(c, _)| &**c), None))
                .map_err(ossl)?;
            b.append_extension(ext).map_err(ossl)?;
        }
        San::Dns(names) => {
            let mut s = SubjectAlternativeName::new();
            for d in *names {
                s.dns(d);
            }
            let ext = s
                .build(&b.x509v3_context(by.map(|(c, _)| &**c), None))
                .map_err(ossl)?;
            b.append_extension(ext).map_err(ossl)?;
        }
    }
    let signing = PKey::from_ec_key(signer.clone()).map_err(ossl)?;
    b.sign(&signing, MessageDigest::sha256()).map_err(ossl)?;
    Ok(b.build())
}

fn pem(c: &X509) -> Result<Vec<u8>, E> {
    c.to_pem().map_err(ossl)
}

fn b64_der(c: &X509) -> Result<String, E> {
    Ok(STANDARD.encode(c.to_der().map_err(ossl)?))
}

/// A CA and an end-entity certificate under it, made now.
fn issuer_pair(ca_cn: &str) -> Result<(X509, X509, EcKey<Private>), E> {
    let g = p256()?;
    let ca_key = EcKey::generate(&g).map_err(ossl)?;
    let ca = cert(ca_cn, &ca_key, None, &San::Ca)?;
    let key = EcKey::generate(&g).map_err(ossl)?;
    let leaf = cert(
        "Simulator issuer",
        &key,
        Some((&ca, &ca_key)),
        &San::Uri(ISS),
    )?;
    Ok((ca, leaf, key))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn random_b64(n: usize) -> String {
    let mut b = vec![0u8; n];
    let _ = openssl::rand::rand_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// A public JWK of `k`, without `kid`, `use` or `alg`.
fn jwk_of(k: &EcKey<Private>) -> Option<Value> {
    let mut j = jwe::public_jwk(k, "")?;
    if let Some(o) = j.as_object_mut() {
        for m in ["kid", "use", "alg"] {
            o.remove(m);
        }
    }
    Some(j)
}

struct Inner {
    /// The verifier CA this wallet trusts for requests.
    verifiers: X509Store,
    issuer: (String, EcKey<Private>),
    /// An issuer under a CA nobody configured.
    rogue: (String, EcKey<Private>),
    /// Each phone's last presentation, for `replayed_result`.
    last: Mutex<HashMap<String, String>>,
    http: HttpClient,
}

#[derive(Clone)]
pub(crate) struct Oid4vpWallet(Arc<Inner>);

impl Oid4vpWallet {
    /// Loads the PKI under `pki_dir/openid4vp/`, making it the first time.
    /// It is made in a directory of its own and renamed into place whole,
    /// so simulators starting at once on one `pki_dir` (tests) never read
    /// half of one or mix two.
    pub(crate) fn new(pki_dir: &Path) -> Result<Self, E> {
        let dir = pki_dir.join("openid4vp");
        if !dir.exists() {
            std::fs::create_dir_all(pki_dir)?;
            let tmp = pki_dir.join(format!(
                ".openid4vp-{}-{}",
                std::process::id(),
                random_b64(6)
            ));
            std::fs::create_dir_all(&tmp)?;
            let made = Self::make(&tmp);
            let placed = made.and_then(|()| std::fs::rename(&tmp, &dir));
            if placed.is_err() {
                // Another simulator placed its own first: that one is used.
                let _ = std::fs::remove_dir_all(&tmp);
                if !dir.exists() {
                    placed?;
                }
            }
        }
        Self::load(&dir)
    }

    /// Writes a new verifier and issuer PKI into `dir`.
    fn make(dir: &Path) -> Result<(), E> {
        {
            let g = p256()?;
            let vca_key = EcKey::generate(&g).map_err(ossl)?;
            let vca = cert("Simulator verifier CA", &vca_key, None, &San::Ca)?;
            let vkey = EcKey::generate(&g).map_err(ossl)?;
            let v = cert(
                "127.0.0.1",
                &vkey,
                Some((&vca, &vca_key)),
                &San::Dns(&["127.0.0.1", "localhost"]),
            )?;
            let (ica, ileaf, ikey) = issuer_pair("Simulator issuer CA")?;
            let mut chain = pem(&v)?;
            chain.extend(pem(&vca)?);
            std::fs::write(dir.join("verifier.pem"), chain)?;
            std::fs::write(
                dir.join("verifier-key.pem"),
                PKey::from_ec_key(vkey)
                    .and_then(|k| k.private_key_to_pem_pkcs8())
                    .map_err(ossl)?,
            )?;
            std::fs::write(dir.join("verifier-ca.pem"), pem(&vca)?)?;
            std::fs::write(dir.join("issuer-ca.pem"), pem(&ica)?)?;
            std::fs::write(dir.join("issuer.pem"), pem(&ileaf)?)?;
            std::fs::write(
                dir.join("issuer-key.pem"),
                ikey.private_key_to_pem().map_err(ossl)?,
            )?;
        }
        Ok(())
    }

    fn load(dir: &Path) -> Result<Self, E> {
        let read_cert = |f: &str| -> Result<X509, E> {
            X509::from_pem(&std::fs::read(dir.join(f))?).map_err(ossl)
        };
        let mut store = X509StoreBuilder::new().map_err(ossl)?;
        store
            .add_cert(read_cert("verifier-ca.pem")?)
            .map_err(ossl)?;
        let issuer_key = EcKey::private_key_from_pem(&std::fs::read(dir.join("issuer-key.pem"))?)
            .map_err(ossl)?;
        let (_, rogue_leaf, rogue_key) = issuer_pair("Rogue issuer CA")?;
        let http = HttpClient::new(None, Duration::from_secs(10))
            .map_err(|e| E::other(e.to_string()))?
            .allow_plain_http(true);
        Ok(Oid4vpWallet(Arc::new(Inner {
            verifiers: store.build(),
            issuer: (b64_der(&read_cert("issuer.pem")?)?, issuer_key),
            rogue: (b64_der(&rogue_leaf)?, rogue_key),
            last: Mutex::new(HashMap::new()),
            http,
        })))
    }

    /// The issuer's status list (index 0 valid, 1 revoked) for `uri`.
    pub(crate) fn status_list(&self, uri: &str) -> Option<String> {
        let t = now();
        // One byte, least significant bit first: 0b10.
        let lst = URL_SAFE_NO_PAD.encode(miniz_deflate(&[0b0000_0010])?);
        sign_es256(
            &json!({"alg": "ES256", "typ": "statuslist+jwt", "x5c": [self.0.issuer.0]}),
            &json!({"sub": uri, "iat": t, "exp": t + 86_400, "ttl": 300,
                    "status_list": {"bits": 1, "lst": lst}}),
            &self.0.issuer.1,
        )
        .ok()
    }

    /// The holder's key for `phone`: one per wallet, the same on every
    /// presentation (a new key would count as a signer change).
    fn holder(phone: &Phone) -> Option<EcKey<Private>> {
        let mac = munjigi_providers::hmac::sha256(HOLDER_KEY_KEY, &[phone.national().as_bytes()]);
        let group = p256().ok()?;
        let mut ctx = BigNumContext::new().ok()?;
        let mut order = BigNum::new().ok()?;
        group.order(&mut order, &mut ctx).ok()?;
        let raw = BigNum::from_slice(&mac).ok()?;
        let mut d = BigNum::new().ok()?;
        d.nnmod(&raw, &order, &mut ctx).ok()?;
        let mut point = EcPoint::new(&group).ok()?;
        point.mul_generator2(&group, &d, &mut ctx).ok()?;
        EcKey::from_private_components(&group, &d, &point).ok()
    }

    /// Fetches and checks the request; its payload.
    async fn request(&self, link: &str) -> Option<Map<String, Value>> {
        let u = url::Url::parse(link).ok()?;
        if u.scheme() != "openid4vp" {
            return None;
        }
        let q: HashMap<String, String> = u.query_pairs().into_owned().collect();
        let client_id = q.get("client_id")?;
        let host = client_id.strip_prefix("x509_san_dns:")?;
        let request_uri = q.get("request_uri")?;
        if url::Url::parse(request_uri).ok()?.host_str()? != host {
            return None;
        }
        let wallet_nonce = random_b64(16);
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        h.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/oauth-authz-req+jwt"),
        );
        let body = format!("wallet_nonce={wallet_nonce}");
        let r = self
            .0
            .http
            .post(request_uri, h, body.into_bytes().into())
            .await
            .ok()?;
        let jwt = String::from_utf8(r.body.to_vec()).ok()?;
        let jws = jose::split(&jwt)?;
        let text =
            |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
        let chain = jose::x5c(&jws.header)?;
        let leaf = chain.first()?;
        let names_host = leaf
            .subject_alt_names()
            .is_some_and(|n| n.iter().any(|g| g.dnsname() == Some(host)));
        let key = jose::leaf_key(leaf)?;
        let p = jws.payload.clone();
        let ok = text(&jws.header, "typ").as_deref() == Some("oauth-authz-req+jwt")
            && jose::chains_to(&chain, &self.0.verifiers)
            && names_host
            && jose::es256_ok(jws.signing_input, &jws.signature, &key)
            && text(&p, "client_id").as_deref() == Some(client_id.as_str())
            && text(&p, "wallet_nonce").as_deref() == Some(wallet_nonce.as_str())
            && text(&p, "response_uri")
                .and_then(|r| url::Url::parse(&r).ok())
                .and_then(|r| r.host_str().map(str::to_owned))
                .as_deref()
                == Some(host)
            && p.get("exp")
                .and_then(Value::as_u64)
                .is_some_and(|e| e > now());
        if !ok {
            warn!("simulator OpenID4VP wallet: the request does not check out; refusing");
            return None;
        }
        Some(p)
    }

    /// The SD-JWT VC with `disclose`d claims, bound to the request, or as a
    /// scenario spoils it.
    fn presentation(
        &self,
        phone: &Phone,
        claims: &[(&str, String)],
        asked: &[String],
        request: &Map<String, Value>,
        status_uri: &str,
        scenario: Scenario,
    ) -> Option<String> {
        if scenario == Scenario::ReplayedResult {
            if let Some(p) = self.0.last.lock().ok()?.get(&phone.national()) {
                return Some(p.clone());
            }
        }
        let holder = Self::holder(phone)?;
        let (x5c, issuer_key) = if scenario == Scenario::WrongChain {
            (&self.0.rogue.0, &self.0.rogue.1)
        } else {
            (&self.0.issuer.0, &self.0.issuer.1)
        };
        let t = now();
        let mut disclosures = Vec::new();
        let mut digests = Vec::new();
        for (name, value) in claims {
            let d = URL_SAFE_NO_PAD.encode(json!([random_b64(16), name, value]).to_string());
            digests.push(URL_SAFE_NO_PAD.encode(openssl::sha::sha256(d.as_bytes())));
            let shown = asked.iter().any(|a| a == name)
                && !(scenario == Scenario::WithheldClaim && *name == "birthdate");
            if shown {
                disclosures.push(
                    if scenario == Scenario::BadSignature && *name == "birthdate" {
                        // Changed after issuance: its digest is not the issuer's.
                        URL_SAFE_NO_PAD
                            .encode(json!([random_b64(16), name, "1970-01-01"]).to_string())
                    } else {
                        d
                    },
                );
            }
        }
        digests.sort();
        let vct = if scenario == Scenario::WrongCredentialType {
            "https://credentials.munjigi.test/other"
        } else {
            VCT
        };
        let idx = u64::from(scenario == Scenario::Revoked);
        let payload = json!({
            "iss": ISS, "iat": t - 60, "vct": vct,
            "exp": if scenario == Scenario::ExpiredCert { t - 3600 } else { t + 86_400 * 365 },
            "cnf": {"jwk": jwk_of(&holder)?},
            "status": {"status_list": {"idx": idx, "uri": status_uri}},
            "_sd": digests, "_sd_alg": "sha-256",
        });
        let issued = sign_es256(
            &json!({"alg": "ES256", "typ": "dc+sd-jwt", "x5c": [x5c]}),
            &payload,
            issuer_key,
        )
        .ok()?;
        let mut signed = format!("{issued}~");
        for d in disclosures {
            signed.push_str(&d);
            signed.push('~');
        }
        let nonce = if scenario == Scenario::TamperContent {
            "another-requests-nonce".to_owned()
        } else {
            request.get("nonce")?.as_str()?.to_owned()
        };
        let aud = if scenario == Scenario::WrongAudience {
            "x509_san_dns:verifier.elsewhere.example".to_owned()
        } else {
            request.get("client_id")?.as_str()?.to_owned()
        };
        let kb = sign_es256(
            &json!({"alg": "ES256", "typ": "kb+jwt"}),
            &json!({"nonce": nonce, "aud": aud, "iat": t,
                    "sd_hash": URL_SAFE_NO_PAD.encode(openssl::sha::sha256(signed.as_bytes()))}),
            &holder,
        )
        .ok()?;
        let p = format!("{signed}{kb}");
        if let Ok(mut l) = self.0.last.lock() {
            l.insert(phone.national(), p.clone());
        }
        Some(p)
    }

    async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Option<u16> {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let r = self
            .0
            .http
            .post(url, h, body.into_bytes().into())
            .await
            .ok()?;
        Some(r.status.as_u16())
    }

    /// The wallet's whole exchange for one scanned link.
    async fn run(
        self,
        link: String,
        who: (Phone, String, String, String),
        status_uri: String,
        scenario: Scenario,
        approve_after: Duration,
    ) {
        let (phone, name, birth, ci) = who;
        if scenario == Scenario::Never {
            return;
        }
        let Some(req) = self.request(&link).await else {
            return;
        };
        tokio::time::sleep(approve_after).await;
        if scenario == Scenario::Viewed {
            return;
        }
        let (Some(state), Some(response_uri)) = (
            req.get("state").and_then(Value::as_str).map(str::to_owned),
            req.get("response_uri")
                .and_then(Value::as_str)
                .map(str::to_owned),
        ) else {
            return;
        };
        let whole = Value::Object(req.clone());
        let query = whole
            .pointer("/dcql_query/credentials/0")
            .cloned()
            .unwrap_or_default();
        let query_id = query
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("identity")
            .to_owned();
        let asked: Vec<String> = query
            .get("claims")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|c| {
                        c.pointer("/path/0")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let jwk = whole.pointer("/client_metadata/jwks/keys/0").cloned();
        let sealed = |plain: Value| {
            jwk.as_ref()
                .and_then(|k| jwe::seal(k, "A128GCM", plain.to_string().as_bytes()))
        };
        if scenario == Scenario::Reject {
            let status = self
                .post_form(
                    &response_uri,
                    &[("error", "access_denied"), ("state", &state)],
                )
                .await;
            info!(?status, "simulator OpenID4VP wallet refused");
            return;
        }
        let shown_name = if scenario == Scenario::WrongPerson {
            "김민준".to_owned()
        } else {
            name
        };
        let iso_birth = BirthDate::parse(&birth).map(|b| b.iso()).unwrap_or(birth);
        let claims = [
            ("name", shown_name),
            ("birthdate", iso_birth),
            ("ci", ci),
            ("nationality", "KR".to_owned()),
        ];
        let Some(presentation) =
            self.presentation(&phone, &claims, &asked, &req, &status_uri, scenario)
        else {
            return;
        };
        let vp_token = json!({ query_id: [presentation] });
        let status = match sealed(json!({"vp_token": vp_token, "state": state})) {
            Some(r) => {
                self.post_form(&response_uri, &[("response", r.as_str())])
                    .await
            }
            None if jwk.is_none() => {
                self.post_form(
                    &response_uri,
                    &[("vp_token", &vp_token.to_string()), ("state", &state)],
                )
                .await
            }
            None => None,
        };
        info!(scenario = ?scenario, ?status, "simulator OpenID4VP wallet presented");
    }
}

/// zlib of `raw` (a status list's bits).
fn miniz_deflate(raw: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write as _;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(raw).ok()?;
    z.finish().ok()
}

impl Simulator {
    /// A scanned `openid4vp://` link: the wallet of `phone` answers it.
    /// `base` is this simulator's URL (where the status list is served).
    pub(crate) fn oid4vp_scan(
        &self,
        link: String,
        phone: &Phone,
        name: &Name,
        birth: &BirthDate,
        scenario: Scenario,
        base: &str,
    ) {
        let status_uri = format!(
            "{base}{}{STATUS_LIST}",
            super::misbehave::STATUS_LIST_PREFIX
        );
        if let Some(token) = self.oid4vp.status_list(&status_uri) {
            self.control.set_status_list(STATUS_LIST, token);
        }
        let ci =
            super::people::ci_of(name.expose(), &birth.iso(), phone.e164()).unwrap_or_default();
        let who = (phone.clone(), name.expose().to_owned(), birth.iso(), ci);
        let after = Duration::from_millis(self.approve_after_ms);
        info!(scenario = ?scenario, "simulator: OpenID4VP request scanned by the wallet");
        tokio::spawn(
            self.oid4vp
                .clone()
                .run(link, who, status_uri, scenario, after),
        );
    }
}
