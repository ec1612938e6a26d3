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
/// providers delete theirs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evidence {
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
