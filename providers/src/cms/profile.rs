//! What a provider's signer certificate must be beyond chaining to its root:
//! never a CA, and, per provider, a certificate policy, an extended key usage
//! and an issuing CA the operator chose.
//!
//! Why: a chain to the provider's root proves only that someone under that
//! root issued the certificate. A CA's own key (basicConstraints cA) signing a
//! login is a CA misused, never a citizen. Where several issuers share one
//! root (a national root over many banks' CAs), the root alone would trust
//! every bank for every other's subscribers; pinning the signer's direct
//! issuer ([`SignerRules::pin_issuing_ca_pem`],
//! [`SignerRules::pin_issuing_ca_sha256`]) trusts a provider for its own CA's
//! certificates only. Policies and extended key usages narrow it to the kind
//! of certificate the provider's profile issues for this purpose.
//!
//! Rules (documented in the README's provider section):
//! - `required_policies`: the signer's certificatePolicies must name at least
//!   one of them (any of: a provider issues under several policies, one per
//!   certificate generation or kind). anyPolicy does not count.
//! - `required_eku`: the signer's extendedKeyUsage must name at least one of
//!   them; a certificate without the extension fails. anyExtendedKeyUsage does
//!   not count.
//! - Issuing CA: the certificate that issued the signer, in the chain OpenSSL
//!   built, must be one of the pinned ones (SHA-256 of its DER). Pinned
//!   certificates are also offered to chain building, so a result that leaves
//!   out its CA certificate still chains.
//!
//! No family has a default: the provider tables (`PROVIDERS.md`) say only that
//! subscriber certificates carry "a certificate policy OID", not which. Not
//! here: the policy tree through the chain (RFC 5280 §6.1 policy processing).

use der::asn1::ObjectIdentifier;
use der::oid::AssociatedOid as _;
use der::Decode as _;
use openssl::x509::X509;
use x509_cert::ext::pkix::{BasicConstraints, CertificatePolicies, ExtendedKeyUsage};
use x509_cert::Certificate;

use super::CmsError;

/// Why a configured rule could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("`{0}` is not an object identifier (dotted decimal, e.g. 1.2.410.200005.1.1.5)")]
    Oid(String),
    #[error("`{0}` is not a SHA-256 fingerprint (64 hex digits, colons allowed)")]
    Fingerprint(String),
    #[error("no certificate in the PEM")]
    NoCertificate,
    #[error("a pinned issuing CA certificate is not a CA (basicConstraints cA)")]
    NotCa,
}

/// A provider's rules for its signer certificate; the default has none but
/// "not a CA", which always holds.
#[derive(Debug, Clone, Default)]
pub struct SignerRules {
    policies: Vec<ObjectIdentifier>,
    ekus: Vec<ObjectIdentifier>,
    /// SHA-256 of the DER of each pinned issuing CA.
    issuing_ca: Vec<[u8; 32]>,
    /// The pinned CA certificates given as PEM, for chain building.
    issuing_ca_certs: Vec<X509>,
}

fn oids<'a>(given: impl IntoIterator<Item = &'a str>) -> Result<Vec<ObjectIdentifier>, RuleError> {
    given
        .into_iter()
        .map(|s| ObjectIdentifier::new(s).map_err(|_| RuleError::Oid(s.to_owned())))
        .collect()
}

impl SignerRules {
    /// The signer's certificatePolicies must name one of `oids`.
    pub fn require_policies<'a>(
        mut self,
        given: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, RuleError> {
        self.policies.extend(oids(given)?);
        Ok(self)
    }

    /// The signer's extendedKeyUsage must name one of `oids`.
    pub fn require_eku<'a>(
        mut self,
        given: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, RuleError> {
        self.ekus.extend(oids(given)?);
        Ok(self)
    }

    /// Pins the CA certificates in `pem` (one or more, each a CA) as the
    /// only issuers of the signer.
    pub fn pin_issuing_ca_pem(mut self, pem: &[u8]) -> Result<Self, RuleError> {
        let certs = X509::stack_from_pem(pem).map_err(|_| RuleError::NoCertificate)?;
        if certs.is_empty() {
            return Err(RuleError::NoCertificate);
        }
        for c in certs {
            let der = c.to_der().map_err(|_| RuleError::NoCertificate)?;
            let parsed = Certificate::from_der(&der).map_err(|_| RuleError::NoCertificate)?;
            if !is_ca(&parsed) {
                return Err(RuleError::NotCa);
            }
            self.issuing_ca.push(openssl::sha::sha256(&der));
            self.issuing_ca_certs.push(c);
        }
        Ok(self)
    }

    /// Pins issuing CAs by the SHA-256 of their DER, as 64 hex digits (colons
    /// and case as `openssl x509 -fingerprint -sha256` prints them are fine).
    pub fn pin_issuing_ca_sha256<'a>(
        mut self,
        given: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, RuleError> {
        for s in given {
            let digits: String = s.chars().filter(|c| *c != ':').collect();
            let fp: [u8; 32] = hex::decode(&digits)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| RuleError::Fingerprint(s.to_owned()))?;
            self.issuing_ca.push(fp);
        }
        Ok(self)
    }

    /// Whether an issuing CA is pinned.
    pub fn pins_issuing_ca(&self) -> bool {
        !self.issuing_ca.is_empty()
    }

    /// Pinned CA certificates, offered to chain building.
    pub(super) fn helpers(&self) -> &[X509] {
        &self.issuing_ca_certs
    }

    /// Checks the signer certificate (`signer`, decoded) whose verified chain
    /// names `issuer` as the certificate that issued it.
    pub(super) fn check(
        &self,
        signer: &Certificate,
        issuer: Option<&X509>,
    ) -> Result<(), CmsError> {
        if !self.issuing_ca.is_empty() {
            let issuer = issuer
                .and_then(|c| c.to_der().ok())
                .map(|der| openssl::sha::sha256(&der));
            if !issuer.is_some_and(|fp| self.issuing_ca.contains(&fp)) {
                return Err(CmsError::IssuingCa);
            }
        }
        if !self.policies.is_empty() {
            let named = extension::<CertificatePolicies>(signer).is_some_and(|p| {
                p.0.iter()
                    .any(|i| self.policies.contains(&i.policy_identifier))
            });
            if !named {
                return Err(CmsError::PolicyMissing);
            }
        }
        if !self.ekus.is_empty() {
            let named = extension::<ExtendedKeyUsage>(signer)
                .is_some_and(|e| e.0.iter().any(|o| self.ekus.contains(o)));
            if !named {
                return Err(CmsError::EkuMissing);
            }
        }
        Ok(())
    }
}

/// The single extension `T` of `cert`, decoded; none when absent, repeated or
/// malformed (each rule then fails closed).
pub(super) fn extension<T: for<'a> der::Decode<'a> + der::oid::AssociatedOid>(
    cert: &Certificate,
) -> Option<T> {
    let mut found = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == T::OID);
    match (found.next(), found.next()) {
        (Some(e), None) => T::from_der(e.extn_value.as_bytes()).ok(),
        _ => None,
    }
}

/// Whether `cert` says it is a CA (basicConstraints cA), or might: a
/// basicConstraints this reader cannot decode (OpenSSL reads some non-DER
/// encodings, e.g. TRUE as 0x01, that `x509-cert` refuses) counts as one, so
/// the two readers cannot disagree in the signer's favour.
pub(crate) fn is_ca(cert: &Certificate) -> bool {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == BasicConstraints::OID)
        .any(|e| !matches!(BasicConstraints::from_der(e.extn_value.as_bytes()), Ok(b) if !b.ca))
}
