//! The normalised assertion: one shape for every provider's result.
//!
//! Adapters produce a `munjigi_providers::Verified`; the gateway adds the transaction id and
//! auth time and gets an [`Assertion`], from which every front protocol projects
//! (OIDC claims, SAML attributes, proxy headers) after the site's claim release.
//! The pairwise `sub` is not here: it depends on the site, so the gateway derives it
//! when it projects for one.

use crate::person::Person;
use crate::signer_cn::SignerCn;
use serde::{Deserialize, Serialize};

/// The id an operator gave a provider in the config (`kakao`, `naver`, `kb` …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProviderId(String);

impl ProviderId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProviderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Assurance level, ordered: a site that asks for `Substantial` accepts `High`.
///
/// Released as the OIDC `acr` / SAML AuthnContextClassRef URIs of [`Level::acr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Possession of a phone or account only.
    Low,
    /// A private certificate unlocked in the provider's app (PIN or biometrics).
    Substantial,
    /// A certificate on a hardware-backed key with in-person or equivalent proofing.
    High,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Low, Level::Substantial, Level::High];

    pub fn acr(self) -> &'static str {
        match self {
            Level::Low => "urn:munjigi:acr:low",
            Level::Substantial => "urn:munjigi:acr:substantial",
            Level::High => "urn:munjigi:acr:high",
        }
    }

    /// Parses an `acr` URI or the short name used in config.
    pub fn from_acr(v: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.acr() == v || l.short() == v)
    }

    pub fn short(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Substantial => "substantial",
            Level::High => "high",
        }
    }
}

/// What the provider's signed result proved, kept with the transaction because
/// providers delete theirs. One variant per format a provider signs in, so a
/// family that signs a JWS or presents a verifiable credential adds a variant
/// and every place that reads evidence (receipts, the offline verifier) must
/// say what it does with it.
///
/// Stored without a tag: a CMS evidence is written exactly as before the enum,
/// so records and sessions of older replicas read, and older replicas read
/// ours. Variants are tried in order and a CMS evidence ignores fields it does
/// not know, so a later format must never write a field a CMS evidence
/// requires (`signed_data` above all), or it would read as one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Evidence {
    /// A CMS SignedData (RFC 5652): the certificate providers.
    Cms(CmsEvidence),
    /// A wallet's verifiable presentation (the mobile ID).
    Presentation(PresentationEvidence),
}

impl Evidence {
    /// signingTime of the signed result, Unix seconds.
    pub fn signing_time(&self) -> u64 {
        match self {
            Self::Cms(c) => c.signing_time,
            Self::Presentation(p) => p.presented_at,
        }
    }

    /// Whether the person's phone number is proven by this result (a
    /// certificate provider's always is: it pushed to that number).
    pub fn phone_proven(&self) -> bool {
        match self {
            Self::Cms(_) => true,
            Self::Presentation(p) => p.phone_proven,
        }
    }

    /// Whether two results were signed with the same certificate (issuer
    /// and serial).
    pub fn same_signer(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Cms(a), Self::Cms(b)) => {
                a.signer_issuer == b.signer_issuer && a.signer_serial == b.signer_serial
            }
            (Self::Presentation(a), Self::Presentation(b)) => a.holder == b.holder,
            _ => false,
        }
    }
}

/// A verifiable presentation that passed every check, as the wallet made it.
/// No field a CMS evidence requires (see [`Evidence`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PresentationEvidence {
    /// The presentation's JSON exactly as decrypted (the holder's and the
    /// issuers' signatures cover it).
    #[serde(with = "b64")]
    pub presentation: Vec<u8>,
    /// When the gateway received it, Unix seconds.
    pub presented_at: u64,
    /// The holder's DID (one per wallet installation).
    pub holder: String,
    /// The credential type presented (`mdriverlic` …).
    pub credential: String,
    /// Whether the phone number was proven (the request reached the wallet
    /// through the push server, which delivers to that number's holder);
    /// false when the wallet scanned a QR code.
    #[serde(default)]
    pub phone_proven: bool,
}

/// A CMS signed result and the signer certificate it was checked with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CmsEvidence {
    /// The CMS SignedData exactly as the provider returned it (DER or BER).
    #[serde(with = "b64")]
    pub signed_data: Vec<u8>,
    /// signingTime from the signed attributes, Unix seconds.
    pub signing_time: u64,
    /// Signer certificate issuer, RFC 4514 string.
    pub signer_issuer: String,
    /// Signer certificate serial, upper-case hex.
    pub signer_serial: String,
    /// The CN format the signer certificate was held to (the family's); kept
    /// so a receipt verifier applies the same rule. Absent in records from
    /// before it was kept: those were all [`SignerCn::Exact`] families.
    #[serde(default)]
    pub signer_cn: SignerCn,
}

/// The normalised assertion.
#[derive(Debug, Clone)]
pub struct Assertion {
    pub txn: String,
    pub provider: ProviderId,
    pub person: Person,
    pub level: Level,
    pub amr: Vec<String>,
    pub auth_time: u64,
    pub evidence: Evidence,
}

mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The enum changed nothing on the wire: a CMS evidence is the object
    /// older replicas wrote and read, field for field.
    #[test]
    fn cms_evidence_is_stored_as_before_the_enum() {
        let older = r#"{"signed_data":"MAA=","signing_time":7,"signer_issuer":"CN=CA","signer_serial":"0A","signer_cn":"name_paren_digits"}"#;
        let e: Evidence = serde_json::from_str(older).unwrap();
        let Evidence::Cms(c) = &e else { panic!("cms") };
        assert_eq!(c.signed_data, [0x30, 0x00]);
        assert_eq!(c.signer_cn, SignerCn::NameParenDigits);
        assert_eq!(serde_json::to_string(&e).unwrap(), older);
        // Records from before the CN format was kept.
        let oldest = r#"{"signed_data":"MAA=","signing_time":7,"signer_issuer":"CN=CA","signer_serial":"0A"}"#;
        let Evidence::Cms(c) = serde_json::from_str::<Evidence>(oldest).unwrap() else {
            panic!("cms")
        };
        assert_eq!(c.signer_cn, SignerCn::Exact);
        assert!(serde_json::from_str::<Evidence>(r#"{"signing_time":7}"#).is_err());
    }

    #[test]
    fn same_signer_is_issuer_and_serial() {
        let e = |issuer: &str, serial: &str| {
            Evidence::Cms(CmsEvidence {
                signed_data: vec![],
                signing_time: 1,
                signer_issuer: issuer.into(),
                signer_serial: serial.into(),
                signer_cn: SignerCn::Exact,
            })
        };
        assert!(e("CN=A", "01").same_signer(&e("CN=A", "01")));
        assert!(!e("CN=A", "01").same_signer(&e("CN=A", "02")));
        assert!(!e("CN=A", "01").same_signer(&e("CN=B", "01")));
    }

    #[test]
    fn levels_order_and_round_trip() {
        assert!(Level::High > Level::Substantial && Level::Substantial > Level::Low);
        for l in Level::ALL {
            assert_eq!(Level::from_acr(l.acr()), Some(l));
            assert_eq!(Level::from_acr(l.short()), Some(l));
        }
        assert_eq!(Level::from_acr("urn:other"), None);
    }
}
