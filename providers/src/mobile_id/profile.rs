//! The verification profile the SP serves the wallet (M310): who asks
//! (the SP's DID), for what (credential types, issuers, claims), bound to
//! this login (a fresh nonce), with the key the presentation is sealed to,
//! signed with the SP's secp256k1 DID key.
//!
//! The shape is the reference platform's profile 3.0 (the specification
//! shows it by example only). Strict choices: always DID VP (`presentType`
//! 1; DID Auth has no message definition and ZKP is not offered), AES-256
//! sealed to RSA (`encryptType` 2, `keyType` 2), and the claims asked for
//! listed explicitly: an empty list makes a wallet release every claim of
//! the credential, a resident registration number and photo included.
//! No `callBackUrl`: the presentation comes to `/mip/vp` on our own origin.

use super::canon;
use super::sig::{self, Curve, SigError};
use openssl::ec::EcKey;
use openssl::pkey::{PKey, Private};
use serde_json::{json, Map, Value};

/// The claims every login asks for: what a login needs, and no more.
pub const CLAIMS: [&str; 2] = ["name", "birth"];

/// The SP as registered: its DID, keys and the service it registered.
pub struct Sp {
    pub did: String,
    /// The id of the signing key in the SP's DID document (`did#key_id`).
    pub key_id: String,
    /// The SP's secp256k1 DID key.
    pub sign_key: EcKey<Private>,
    /// The RSA-2048 key presentations are sealed to.
    pub seal_key: PKey<Private>,
    /// The service name and the name shown in the wallet.
    pub name: String,
    pub sp_name: String,
    pub sp_code: String,
    pub svc_code: String,
    /// Issuer DIDs whose credentials are accepted.
    pub issuers: Vec<String>,
    /// Credential types accepted: (`assertion.code`, its name).
    pub credentials: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("a profile value holds a character whose signed form is not defined (<>&='): {0}")]
    Unsignable(&'static str),
    #[error("signing failed: {0}")]
    Sign(#[from] SigError),
    #[error("the profile is not of the expected shape")]
    Shape,
}

/// The signed profile for one login: `nonce` (64 hex) binds the
/// presentation to it, `created` is Korean local time
/// (`YYYY-MM-DDThh:mm:ss`), `proof_nonce` is fresh per signature.
pub fn build(
    sp: &Sp,
    nonce: &str,
    created: &str,
    proof_nonce: &str,
) -> Result<Value, ProfileError> {
    let public = super::seal::public_key_base58(&sp.seal_key).map_err(|_| ProfileError::Shape)?;
    let assertions: Vec<Value> = sp
        .credentials
        .iter()
        .map(|(code, name)| json!({"id": code, "name": name, "type": code}))
        .collect();
    let mut profile = json!({
        "encoding": "UTF-8",
        "id": sp.did,
        "language": "KR",
        "timezone": "UTC+9",
        "version": "3.0",
        "profile": {
            "type": "VERIFY",
            "presentType": 1,
            "encryptType": 2,
            "keyType": 2,
            "name": sp.name,
            "spName": sp.sp_name,
            "spCode": sp.sp_code,
            "svcCode": sp.svc_code,
            "nonce": nonce,
            "publicKey": public,
            "filter": {
                "allowIssuerList": sp.issuers,
                "requiredAssertionList": assertions,
                "requiredPrivacyList": CLAIMS,
            },
        },
        "proof": {
            "created": created,
            "creator": format!("{}#{}", sp.did, sp.key_id),
            "nonce": proof_nonce,
        },
    });
    if !canon::signable(&profile) {
        return Err(ProfileError::Unsignable("the SP's names, codes or DIDs"));
    }
    let signature = sig::sign(Curve::K1, &sp.sign_key, &canon::form(&profile))?;
    let proof = profile
        .get_mut("proof")
        .and_then(Value::as_object_mut)
        .ok_or(ProfileError::Shape)?;
    proof.insert("type".into(), "Secp256k1VerificationKey2018".into());
    proof.insert("signatureValue".into(), signature.to_base58().into());
    Ok(profile)
}

/// Checks a profile's signature with the SP's public key (what a wallet
/// does; our simulator's wallet and tests).
pub fn verify(profile: &Value, key: &EcKey<openssl::pkey::Public>) -> Result<(), ProfileError> {
    let proof = profile
        .get("proof")
        .and_then(Value::as_object)
        .ok_or(ProfileError::Shape)?;
    if proof.get("type").and_then(Value::as_str) != Some("Secp256k1VerificationKey2018") {
        return Err(ProfileError::Shape);
    }
    let signature = proof
        .get("signatureValue")
        .and_then(Value::as_str)
        .ok_or(ProfileError::Shape)
        .and_then(|s| sig::Compact::from_base58(s).map_err(ProfileError::Sign))?;
    let mut signed = profile.as_object().cloned().ok_or(ProfileError::Shape)?;
    let mut cut = Map::new();
    for k in ["created", "creator", "nonce"] {
        if let Some(v) = proof.get(k) {
            cut.insert(k.to_owned(), v.clone());
        }
    }
    signed.insert("proof".into(), Value::Object(cut));
    sig::verify(key, &canon::form(&Value::Object(signed)), &signature)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::EcGroup;
    use openssl::nid::Nid;

    fn sp() -> Sp {
        Sp {
            did: "did:kr:mobileid:sp1".into(),
            key_id: "omni.sp".into(),
            sign_key: EcKey::generate(&EcGroup::from_curve_name(Nid::SECP256K1).unwrap()).unwrap(),
            seal_key: PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap(),
            name: "문지기 로그인".into(),
            sp_name: "문지기".into(),
            sp_code: "SP0001".into(),
            svc_code: "SVC0001".into(),
            issuers: vec!["did:kr:mobileid:issuer1".into()],
            credentials: vec![("mdriverlic".into(), "모바일 운전면허증".into())],
        }
    }

    fn public(sp: &Sp) -> EcKey<openssl::pkey::Public> {
        sig::public_key(
            Curve::K1,
            &sig::public_key_base58(Curve::K1, &sp.sign_key).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn a_profile_asks_for_name_and_birth_only_and_verifies_under_the_sp_key() {
        let sp = sp();
        let p = build(&sp, &"ab".repeat(32), "2026-12-04T12:00:00", "cd12").unwrap();
        verify(&p, &public(&sp)).unwrap();
        assert_eq!(
            p["profile"]["filter"]["requiredPrivacyList"],
            json!(["name", "birth"])
        );
        assert_eq!(p["profile"]["presentType"], 1);
        assert_eq!(p["proof"]["creator"], "did:kr:mobileid:sp1#omni.sp");
        assert!(p["profile"].get("callBackUrl").is_none());
        // Any change after signing, or another key, fails.
        let mut t = p.clone();
        t["profile"]["filter"]["requiredPrivacyList"] = json!(["name", "birth", "ihidnum"]);
        assert!(verify(&t, &public(&sp)).is_err());
        assert!(verify(&p, &public(&self::sp())).is_err());
    }

    #[test]
    fn names_whose_signed_form_is_undefined_are_refused() {
        let mut s = sp();
        s.sp_name = "A&B".into();
        assert!(matches!(
            build(&s, &"ab".repeat(32), "2026-12-04T12:00:00", "cd"),
            Err(ProfileError::Unsignable(_))
        ));
    }
}
