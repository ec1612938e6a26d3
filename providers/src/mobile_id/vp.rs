//! Checking a decrypted presentation (DID VP, `presentType` 1) completely,
//! before anything in it is believed.
//!
//! A presentation is the holder's signature over credentials, each signed by
//! its issuer and carrying exactly one claim (`name`, `birth`, …). Every
//! rule below is the strict reading of the specification and of the
//! reference SP (which only looks for the nonce as a substring, and accepts
//! credentials "needing renewal"):
//!
//! - the holder's proof (`proof`, one; the several-factor `proofs` is not
//!   offered) verifies under the key the holder's DID document names, its
//!   `nonce` is exactly this login's nonce followed by the hex of the CI (the
//!   profile asks for it), its `created` is inside the login's window, the
//!   presentation has not expired;
//! - every credential is of an allowed type (`assertion.code`) from an
//!   allowed issuer, signed by a key of that issuer's DID document, about
//!   this holder, unexpired, `ACTIVE` in the status source, and all share
//!   one `parentId`, one type and one issuer (one credential, split per
//!   claim);
//! - the claims are exactly the ones asked for, each once: a claim not asked
//!   for (a resident registration number) is refused, not ignored.
//!
//! Keys and statuses come from a [`Resolver`] the gateway configures (the
//! government's blockchain registry is not reachable from here). Times are
//! Korean local time without an offset, as the interface writes them.

use super::canon;
use super::sig::{self, Compact, Curve};
use openssl::ec::EcKey;
use openssl::pkey::Public;
use serde_json::{Map, Value};

/// Korea's offset from UTC: the interface's times carry none.
const KST_OFFSET_SECS: i64 = 9 * 3600;
/// Clock skew tolerated between the wallet and the gateway.
pub const SKEW_SECS: u64 = 60;

/// Where DID keys and credential statuses come from.
pub trait Resolver {
    /// The key `did#key_id` names, and its curve; None if unknown or not
    /// valid.
    fn key(&self, did: &str, key_id: &str) -> Option<(Curve, EcKey<Public>)>;
    /// Whether the credential `vc_id` is `ACTIVE` (None: unknown).
    fn active(&self, vc_id: &str) -> Option<bool>;
}

/// What the presentation must be to be believed.
pub struct Expected<'a> {
    /// This login's profile nonce (64 hex).
    pub nonce: &'a str,
    /// Issuer DIDs allowed.
    pub issuers: &'a [String],
    /// Credential types (`assertion.code`) allowed.
    pub codes: &'a [String],
    /// The claims asked for (`requiredPrivacyList`), each must come once.
    pub claims: &'a [&'a str],
    /// When the profile was served (unix seconds): the holder signed after.
    pub since: u64,
    /// Now (unix seconds).
    pub now: u64,
}

/// A presentation that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub holder: String,
    /// The CI the holder's proof carries.
    pub ci: String,
    /// The claims, by type (`name`, `birth`).
    pub claims: Vec<(String, String)>,
    /// How the wallet was unlocked: the holder key id's method (`pin`, `bio`).
    pub unlocked_by: String,
    /// The credential type presented.
    pub code: String,
}

/// Why a presentation is refused (logged; the login fails).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VpError {
    #[error("the presentation is not of the expected shape: {0}")]
    Shape(&'static str),
    #[error("the holder's proof does not verify")]
    HolderSignature,
    #[error("the holder's key is unknown")]
    HolderKey,
    #[error("the nonce is not this login's")]
    Nonce,
    #[error("outside its time: {0}")]
    Time(&'static str),
    #[error("a credential's issuer is not allowed")]
    Issuer,
    #[error("a credential's type is not allowed")]
    CredentialType,
    #[error("a credential's signature does not verify")]
    IssuerSignature,
    #[error("a credential is not about the holder")]
    Subject,
    #[error("a credential is not active")]
    Revoked,
    #[error("the claims are not exactly the ones asked for")]
    Claims,
}

fn obj<'a>(v: &'a Value, what: &'static str) -> Result<&'a Map<String, Value>, VpError> {
    v.as_object().ok_or(VpError::Shape(what))
}

fn text<'a>(m: &'a Map<String, Value>, key: &str, what: &'static str) -> Result<&'a str, VpError> {
    m.get(key)
        .and_then(Value::as_str)
        .ok_or(VpError::Shape(what))
}

/// `2022-08-09T11:36:12` (Korean time) as unix seconds; exactly that shape.
fn kst(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    let shape = b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    let n = |r: std::ops::Range<usize>| t.get(r).and_then(|x| x.parse::<u16>().ok());
    let month = time::Month::try_from(u8::try_from(n(5..7)?).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::from(n(0..4)?), month, u8::try_from(n(8..10)?).ok()?)
            .ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(n(11..13)?).ok()?,
        u8::try_from(n(14..16)?).ok()?,
        u8::try_from(n(17..19)?).ok()?,
    )
    .ok()?;
    let utc = time::PrimitiveDateTime::new(date, clock)
        .assume_utc()
        .unix_timestamp()
        .checked_sub(KST_OFFSET_SECS)?;
    u64::try_from(utc).ok()
}

/// `did:…#key` split at the one `#`.
fn did_and_key(creator: &str) -> Result<(&str, &str), VpError> {
    match creator.split_once('#') {
        Some((did, key)) if did.starts_with("did:") && !key.is_empty() && !key.contains('#') => {
            Ok((did, key))
        }
        _ => Err(VpError::Shape("proof.creator")),
    }
}

/// The holder's signed form: the presentation with its proof cut down to
/// `created`, `creator` and `nonce`.
fn holder_form(vp: &Map<String, Value>, proof: &Map<String, Value>) -> Vec<u8> {
    let mut signed = vp.clone();
    let mut p = Map::new();
    for k in ["created", "creator", "nonce"] {
        if let Some(v) = proof.get(k) {
            p.insert(k.to_owned(), v.clone());
        }
    }
    signed.insert("proof".to_owned(), Value::Object(p));
    canon::form(&Value::Object(signed))
}

/// Checks `vp` (the decrypted presentation) against `want`.
pub fn check(
    vp: &Value,
    want: &Expected<'_>,
    resolver: &dyn Resolver,
) -> Result<Presented, VpError> {
    let vp = obj(vp, "presentation")?;
    let types = vp
        .get("type")
        .and_then(Value::as_array)
        .ok_or(VpError::Shape("type"))?;
    if !types.iter().any(|t| t == "VerifiablePresentation") {
        return Err(VpError::Shape("type"));
    }
    if vp.contains_key("proofs") {
        return Err(VpError::Shape("proofs (several factors) is not offered"));
    }
    let proof = obj(vp.get("proof").ok_or(VpError::Shape("proof"))?, "proof")?;
    let curve =
        Curve::of_type(text(proof, "type", "proof.type")?).ok_or(VpError::Shape("proof.type"))?;
    let (holder, key_id) = did_and_key(text(proof, "creator", "proof.creator")?)?;

    // The nonce first: cheap, and a replay from another login stops here.
    let nonce = text(proof, "nonce", "proof.nonce")?;
    let ci_hex = nonce.strip_prefix(want.nonce).ok_or(VpError::Nonce)?;
    let ci = hex::decode(ci_hex)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|c| {
            c.len() == 88
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
        })
        .ok_or(VpError::Nonce)?;

    let created =
        kst(text(proof, "created", "proof.created")?).ok_or(VpError::Shape("proof.created"))?;
    if created.saturating_add(SKEW_SECS) < want.since
        || created > want.now.saturating_add(SKEW_SECS)
    {
        return Err(VpError::Time("the holder signed outside this login"));
    }
    let expires = kst(text(vp, "expirationDate", "expirationDate")?)
        .ok_or(VpError::Shape("expirationDate"))?;
    if expires <= want.now {
        return Err(VpError::Time("the presentation has expired"));
    }
    let (key_curve, key) = resolver.key(holder, key_id).ok_or(VpError::HolderKey)?;
    if key_curve != curve {
        return Err(VpError::HolderKey);
    }
    let signature = Compact::from_base58(text(proof, "signatureValue", "proof.signatureValue")?)
        .map_err(|_| VpError::HolderSignature)?;
    sig::verify(&key, &holder_form(vp, proof), &signature).map_err(|_| VpError::HolderSignature)?;

    let vcs = vp
        .get("verifiableCredential")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or(VpError::Shape("verifiableCredential"))?;
    let mut claims: Vec<(String, String)> = Vec::new();
    let mut parent: Option<&str> = None;
    let mut code: Option<&str> = None;
    let mut issued_by: Option<&str> = None;
    for vc in vcs {
        let (t, v, p, c, i) = credential(vc, holder, want, resolver)?;
        if parent.is_some_and(|q| q != p)
            || code.is_some_and(|q| q != c)
            || issued_by.is_some_and(|q| q != i)
        {
            return Err(VpError::Shape("credentials of more than one parent"));
        }
        parent = Some(p);
        code = Some(c);
        issued_by = Some(i);
        if claims.iter().any(|(k, _)| *k == t) {
            return Err(VpError::Claims);
        }
        claims.push((t, v));
    }
    let asked = |k: &str| want.claims.contains(&k);
    if claims.len() != want.claims.len() || !claims.iter().all(|(k, _)| asked(k)) {
        return Err(VpError::Claims);
    }
    let unlocked_by = key_id
        .trim_end_matches(|c: char| c.is_ascii_digit())
        .to_ascii_lowercase();
    if !matches!(unlocked_by.as_str(), "pin" | "bio" | "face") {
        return Err(VpError::Shape("the holder key names no unlock method"));
    }
    Ok(Presented {
        holder: holder.to_owned(),
        ci,
        claims,
        unlocked_by,
        code: code.unwrap_or_default().to_owned(),
    })
}

/// One credential checked: its claim (type, value), parent id, type and
/// issuer.
fn credential<'a>(
    vc: &'a Value,
    holder: &str,
    want: &Expected<'_>,
    resolver: &dyn Resolver,
) -> Result<(String, String, &'a str, &'a str, &'a str), VpError> {
    let vc = obj(vc, "credential")?;
    let proof = obj(
        vc.get("proof").ok_or(VpError::Shape("credential proof"))?,
        "credential proof",
    )?;
    let curve = Curve::of_type(text(proof, "type", "credential proof.type")?)
        .ok_or(VpError::Shape("credential proof.type"))?;
    let (issuer, key_id) = did_and_key(text(proof, "creator", "credential proof.creator")?)?;
    let named = vc
        .get("issuer")
        .and_then(Value::as_object)
        .ok_or(VpError::Shape("issuer"))?;
    if text(named, "id", "issuer.id")? != issuer || !want.issuers.iter().any(|i| i == issuer) {
        return Err(VpError::Issuer);
    }
    let assertion = vc
        .get("assertion")
        .and_then(Value::as_object)
        .ok_or(VpError::Shape("assertion"))?;
    let code = text(assertion, "code", "assertion.code")?;
    if !want.codes.iter().any(|c| c == code) {
        return Err(VpError::CredentialType);
    }
    let (key_curve, key) = resolver.key(issuer, key_id).ok_or(VpError::Issuer)?;
    if key_curve != curve {
        return Err(VpError::Issuer);
    }
    let signature = Compact::from_eosio(
        text(proof, "signatureValue", "credential signature")?,
        curve,
    )
    .map_err(|_| VpError::IssuerSignature)?;
    let mut unsigned = vc.clone();
    unsigned.remove("proof");
    sig::verify(&key, &canon::form(&Value::Object(unsigned)), &signature)
        .map_err(|_| VpError::IssuerSignature)?;
    let expires = kst(text(vc, "expirationDate", "credential expirationDate")?)
        .ok_or(VpError::Shape("credential expirationDate"))?;
    if expires <= want.now {
        return Err(VpError::Time("a credential has expired"));
    }
    let subject = vc
        .get("credentialSubject")
        .and_then(Value::as_object)
        .ok_or(VpError::Shape("credentialSubject"))?;
    if text(subject, "id", "credentialSubject.id")? != holder {
        return Err(VpError::Subject);
    }
    let id = text(vc, "id", "credential id")?;
    if resolver.active(id) != Some(true) {
        return Err(VpError::Revoked);
    }
    let privacy = subject
        .get("privacy")
        .and_then(Value::as_array)
        .filter(|p| p.len() == 1)
        .and_then(|p| p.first())
        .and_then(Value::as_object)
        .ok_or(VpError::Claims)?;
    let t = text(privacy, "type", "privacy.type")?.to_owned();
    let v = text(privacy, "value", "privacy.value")?.to_owned();
    let parent = text(vc, "parentId", "parentId")?;
    Ok((t, v, parent, code, issuer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::EcGroup;
    use openssl::nid::Nid;
    use openssl::pkey::Private;
    use serde_json::json;

    const NONCE: &str = "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12";
    const ISSUER: &str = "did:kr:mobileid:issuer1";
    const HOLDER: &str = "did:kr:mobileid:holder1";
    const ISSUER_2: &str = "did:kr:mobileid:issuer2";
    // 2026-12-04T12:00:00 KST = 03:00:00 UTC.
    const NOW: u64 = 1_796_353_200;

    fn ci() -> String {
        "C".repeat(86) + "=="
    }

    fn k(curve: Curve) -> EcKey<Private> {
        let nid = match curve {
            Curve::K1 => Nid::SECP256K1,
            Curve::R1 => Nid::X9_62_PRIME256V1,
        };
        EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap()
    }

    struct Keys {
        issuer: EcKey<Private>,
        holder: EcKey<Private>,
        revoked: Vec<String>,
    }

    impl Resolver for Keys {
        fn key(&self, did: &str, key_id: &str) -> Option<(Curve, EcKey<Public>)> {
            let (k, id) = match did {
                ISSUER | ISSUER_2 => (&self.issuer, "iss.1"),
                HOLDER => (&self.holder, "PIN1"),
                _ => return None,
            };
            if key_id != id {
                return None;
            }
            let b58 = sig::public_key_base58(Curve::R1, k).unwrap();
            Some((Curve::R1, sig::public_key(Curve::R1, &b58).unwrap()))
        }
        fn active(&self, vc_id: &str) -> Option<bool> {
            Some(!self.revoked.iter().any(|r| r == vc_id))
        }
    }

    fn vc(keys: &Keys, claim: &str, value: &str, tweak: impl Fn(&mut Map<String, Value>)) -> Value {
        vc_by(keys, ISSUER, claim, value, tweak)
    }

    fn vc_by(
        keys: &Keys,
        issuer: &str,
        claim: &str,
        value: &str,
        tweak: impl Fn(&mut Map<String, Value>),
    ) -> Value {
        let mut vc = json!({
            "@context": ["https://www.w3.org/2018/credentials/v1"],
            "assertion": {"code": "mdriverlic", "name": "모바일 운전면허증"},
            "credentialSubject": {"id": HOLDER, "privacy": [{"type": claim, "value": value}]},
            "expirationDate": "2030-07-31T23:59:59",
            "id": format!("vc-{claim}"),
            "issuanceDate": "2024-01-01T00:00:00",
            "issuer": {"id": issuer, "name": "test"},
            "parentId": "parent-1",
            "type": ["VerifiableCredential", "OmniOneCredential"],
        })
        .as_object()
        .unwrap()
        .clone();
        tweak(&mut vc);
        let s = sig::sign(
            Curve::R1,
            &keys.issuer,
            &canon::form(&Value::Object(vc.clone())),
        )
        .unwrap();
        vc.insert(
            "proof".into(),
            json!({"created": "2024-01-01T00:00:00", "creator": format!("{issuer}#iss.1"),
                   "signatureValue": s.to_eosio(Curve::R1), "type": "Secp256r1VerificationKey2018"}),
        );
        Value::Object(vc)
    }

    fn vp(keys: &Keys, vcs: Vec<Value>, nonce: &str, created: &str) -> Value {
        let mut vp = json!({
            "@context": ["https://www.w3.org/2018/credentials/v1"],
            "expirationDate": "2026-12-05T00:00:00",
            "id": "vp-1",
            "proof": {"created": created, "creator": format!("{HOLDER}#PIN1"), "nonce": nonce},
            "type": ["VerifiablePresentation"],
            "verifiableCredential": vcs,
        });
        let s = sig::sign(Curve::R1, &keys.holder, &canon::form(&vp)).unwrap();
        vp["proof"]["signatureValue"] = s.to_base58().into();
        vp["proof"]["type"] = "Secp256r1VerificationKey2018".into();
        vp
    }

    fn nonce() -> String {
        format!("{NONCE}{}", hex::encode(ci()))
    }

    fn keys() -> Keys {
        Keys {
            issuer: k(Curve::R1),
            holder: k(Curve::R1),
            revoked: vec![],
        }
    }

    fn run(v: &Value, keys: &Keys) -> Result<Presented, VpError> {
        let issuers = vec![ISSUER.to_owned(), ISSUER_2.to_owned()];
        let codes = vec!["mdriverlic".to_owned()];
        check(
            v,
            &Expected {
                nonce: NONCE,
                issuers: &issuers,
                codes: &codes,
                claims: &["name", "birth"],
                since: NOW - 30,
                now: NOW,
            },
            keys,
        )
    }

    fn good(keys: &Keys) -> Vec<Value> {
        vec![
            vc(keys, "name", "홍길동", |_| {}),
            vc(keys, "birth", "19900131", |_| {}),
        ]
    }

    #[test]
    fn a_good_presentation_gives_its_claims_the_ci_and_the_unlock_method() {
        let keys = keys();
        let p = run(
            &vp(&keys, good(&keys), &nonce(), "2026-12-04T11:59:50"),
            &keys,
        )
        .unwrap();
        assert_eq!(p.holder, HOLDER);
        assert_eq!(p.ci, ci());
        assert_eq!(p.unlocked_by, "pin");
        assert_eq!(p.code, "mdriverlic");
        assert_eq!(
            p.claims,
            vec![
                ("name".into(), "홍길동".into()),
                ("birth".into(), "19900131".into())
            ]
        );
    }

    #[test]
    fn claims_of_two_issuers_are_not_one_credential() {
        let keys = keys();
        let when = "2026-12-04T11:59:50";
        // Each alone is good, from either allowed issuer.
        for issuer in [ISSUER, ISSUER_2] {
            let vcs = vec![
                vc_by(&keys, issuer, "name", "홍길동", |_| {}),
                vc_by(&keys, issuer, "birth", "19900131", |_| {}),
            ];
            assert!(
                run(&vp(&keys, vcs, &nonce(), when), &keys).is_ok(),
                "{issuer}"
            );
        }
        let mixed = vec![
            vc_by(&keys, ISSUER, "name", "홍길동", |_| {}),
            vc_by(&keys, ISSUER_2, "birth", "19900131", |_| {}),
        ];
        assert!(matches!(
            run(&vp(&keys, mixed, &nonce(), when), &keys),
            Err(VpError::Shape(_))
        ));
    }

    #[test]
    fn each_misbehaviour_is_refused_for_its_reason() {
        let keys = keys();
        let when = "2026-12-04T11:59:50";
        let other_nonce = format!("{}{}", "cd".repeat(32), hex::encode(ci()));
        assert_eq!(
            run(&vp(&keys, good(&keys), &other_nonce, when), &keys),
            Err(VpError::Nonce)
        );
        assert_eq!(
            run(&vp(&keys, good(&keys), NONCE, when), &keys),
            Err(VpError::Nonce)
        );
        assert!(matches!(
            run(
                &vp(&keys, good(&keys), &nonce(), "2026-12-04T11:50:00"),
                &keys
            ),
            Err(VpError::Time(_))
        ));
        // Tampered after signing: a claim (issuer's signature), the holder's part.
        let mut t = vp(&keys, good(&keys), &nonce(), when);
        t["verifiableCredential"][0]["credentialSubject"]["privacy"][0]["value"] = "김철수".into();
        assert!(matches!(
            run(&t, &keys),
            Err(VpError::HolderSignature | VpError::IssuerSignature)
        ));
        let mut t = vp(&keys, good(&keys), &nonce(), when);
        t["id"] = "vp-2".into();
        assert_eq!(run(&t, &keys), Err(VpError::HolderSignature));
        // A claim withheld, one not asked for, one twice.
        let one = vec![vc(&keys, "name", "홍길동", |_| {})];
        assert_eq!(
            run(&vp(&keys, one, &nonce(), when), &keys),
            Err(VpError::Claims)
        );
        let mut extra = good(&keys);
        extra.push(vc(&keys, "ihidnum", "9001311234567", |_| {}));
        assert_eq!(
            run(&vp(&keys, extra, &nonce(), when), &keys),
            Err(VpError::Claims)
        );
        let twice = vec![
            vc(&keys, "name", "홍길동", |_| {}),
            vc(&keys, "name", "홍길동", |_| {}),
        ];
        assert_eq!(
            run(&vp(&keys, twice, &nonce(), when), &keys),
            Err(VpError::Claims)
        );
        // Another type, another issuer, another subject, expired, revoked.
        let code = vec![
            vc(&keys, "name", "홍길동", |m| {
                m["assertion"]["code"] = "adrsticker".into();
            }),
            vc(&keys, "birth", "19900131", |_| {}),
        ];
        assert_eq!(
            run(&vp(&keys, code, &nonce(), when), &keys),
            Err(VpError::CredentialType)
        );
        let stranger = Keys {
            issuer: k(Curve::R1),
            holder: keys.holder.clone(),
            revoked: vec![],
        };
        assert_eq!(
            run(&vp(&keys, good(&stranger), &nonce(), when), &keys),
            Err(VpError::IssuerSignature)
        );
        let subject = vec![
            vc(&keys, "name", "홍길동", |m| {
                m["credentialSubject"]["id"] = "did:kr:mobileid:other".into();
            }),
            vc(&keys, "birth", "19900131", |_| {}),
        ];
        assert_eq!(
            run(&vp(&keys, subject, &nonce(), when), &keys),
            Err(VpError::Subject)
        );
        let old = vec![
            vc(&keys, "name", "홍길동", |m| {
                m["expirationDate"] = "2020-01-01T00:00:00".into();
            }),
            vc(&keys, "birth", "19900131", |_| {}),
        ];
        assert!(matches!(
            run(&vp(&keys, old, &nonce(), when), &keys),
            Err(VpError::Time(_))
        ));
        let revoked = Keys {
            issuer: keys.issuer.clone(),
            holder: keys.holder.clone(),
            revoked: vec!["vc-birth".into()],
        };
        assert_eq!(
            run(&vp(&revoked, good(&revoked), &nonce(), when), &revoked),
            Err(VpError::Revoked)
        );
        // Not the holder's key (another key under the holder's DID).
        let imposter = Keys {
            issuer: keys.issuer.clone(),
            holder: k(Curve::R1),
            revoked: vec![],
        };
        assert_eq!(
            run(&vp(&imposter, good(&keys), &nonce(), when), &keys),
            Err(VpError::HolderSignature)
        );
        // Several factors, no proof.
        let mut proofs = vp(&keys, good(&keys), &nonce(), when);
        proofs["proofs"] = json!([]);
        assert!(matches!(run(&proofs, &keys), Err(VpError::Shape(_))));
        assert!(matches!(
            run(&json!({"type": ["VerifiablePresentation"]}), &keys),
            Err(VpError::Shape(_))
        ));
        assert!(matches!(run(&json!("x"), &keys), Err(VpError::Shape(_))));
    }

    #[test]
    fn korean_times_are_read_as_utc_plus_nine() {
        assert_eq!(kst("2026-12-04T12:00:00"), Some(NOW));
        assert_eq!(kst("2026-12-04 12:00:00"), None);
        assert_eq!(kst("2026-12-04T12:00:00+09:00"), None);
    }
}
