//! Revocation for the test PKI: the CA keeps a list of revoked serials and
//! issues a signed X.509 v2 CRL (RFC 5280 §5) over it, as real providers
//! publish at their CRL distribution point.
//!
//! OpenSSL's safe API cannot build CRLs, so the `x509-cert` crate encodes the
//! `TBSCertList` and OpenSSL signs it (SHA-256 with RSA) with the CA key: no
//! hand-written ASN.1, no unsafe.
//!
//! Not here: checking a certificate against a CRL ([`munjigi_providers::cms::CrlPolicy`]),
//! delta CRLs, CRL extensions (number, AKI) or entry reasons.

use std::path::Path;
use std::time::Duration;

use der::asn1::{BitString, UtcTime};
use der::{Decode as _, Encode as _};
use openssl::asn1::Asn1IntegerRef;
use openssl::hash::MessageDigest;
use openssl::sign::Signer;
use openssl::x509::X509Crl;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::time::Time;

use super::{io_err, ossl, unix_now, PkiError, ProviderPki, DAY};

/// sha256WithRSAEncryption (RFC 4055).
const SHA256_WITH_RSA: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

/// How long a CRL from [`ProviderPki::crl_pem`] says it is good for.
pub const CRL_VALIDITY_SECS: i64 = DAY;

/// One revoked certificate: its serial (unsigned big-endian bytes) and when.
#[derive(Debug, Clone)]
pub(super) struct Revoked {
    serial: Vec<u8>,
    at: i64,
}

fn encode(what: &'static str) -> impl FnOnce(der::Error) -> PkiError {
    move |_| PkiError::Encode(what)
}

fn time(unix: i64, what: &'static str) -> Result<Time, PkiError> {
    let secs = u64::try_from(unix).map_err(|_| PkiError::Invalid("time before 1970"))?;
    UtcTime::from_unix_duration(Duration::from_secs(secs))
        .map(Time::UtcTime)
        .map_err(encode(what))
}

impl ProviderPki {
    /// Revokes the certificate with `serial` (issued by this PKI's CA) as of now.
    /// Revoking twice keeps the first entry.
    pub fn revoke(&self, serial: &Asn1IntegerRef) -> Result<(), PkiError> {
        let bytes = serial.to_bn().map_err(ossl("reading a serial"))?.to_vec();
        let mut list = self
            .revoked
            .lock()
            .map_err(|_| PkiError::Invalid("revocation list lock poisoned"))?;
        if !list.iter().any(|r| r.serial == bytes) {
            list.push(Revoked {
                serial: bytes,
                at: unix_now(),
            });
        }
        Ok(())
    }

    /// How many certificates are revoked.
    pub fn revoked_count(&self) -> usize {
        self.revoked.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// The CA's CRL as PEM: thisUpdate a minute ago, nextUpdate a day
    /// ([`CRL_VALIDITY_SECS`]) from now, every revoked serial.
    pub fn crl_pem(&self) -> Result<Vec<u8>, PkiError> {
        let now = unix_now();
        self.crl_pem_with_times(now - 60, now + CRL_VALIDITY_SECS)
    }

    /// The CA's CRL as PEM with the given thisUpdate and nextUpdate (Unix
    /// seconds), to make stale CRLs on demand.
    pub fn crl_pem_with_times(
        &self,
        this_update: i64,
        next_update: i64,
    ) -> Result<Vec<u8>, PkiError> {
        let der = self.crl_der(this_update, next_update)?;
        X509Crl::from_der(&der)
            .and_then(|c| c.to_pem())
            .map_err(ossl("re-reading the CRL"))
    }

    /// Writes [`Self::crl_pem`] to `path` atomically (a sibling temporary file
    /// renamed into place), so a reader never sees half a CRL. The temporary
    /// name is unique per write, so simulators sharing a PKI directory in one
    /// process (parallel tests) do not rename each other's file away.
    pub fn write_crl(&self, path: &Path) -> Result<(), PkiError> {
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let pem = self.crl_pem()?;
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp-{}-{n}", std::process::id()));
        std::fs::write(&tmp, &pem).map_err(io_err("write", &tmp))?;
        std::fs::rename(&tmp, path).map_err(io_err("rename into place", path))
    }

    fn crl_der(&self, this_update: i64, next_update: i64) -> Result<Vec<u8>, PkiError> {
        const WHAT: &str = "CRL";
        let revoked = self
            .revoked
            .lock()
            .map_err(|_| PkiError::Invalid("revocation list lock poisoned"))?
            .clone();
        let entries = revoked
            .iter()
            .map(|r| {
                Ok(RevokedCert {
                    serial_number: SerialNumber::new(&r.serial).map_err(encode(WHAT))?,
                    revocation_date: time(r.at, WHAT)?,
                    crl_entry_extensions: None,
                })
            })
            .collect::<Result<Vec<_>, PkiError>>()?;
        let issuer_der = self
            .ca
            .subject_name()
            .to_der()
            .map_err(ossl("encoding the CA name"))?;
        let algorithm = AlgorithmIdentifierOwned {
            oid: SHA256_WITH_RSA,
            parameters: Some(der::Any::null()),
        };
        let tbs = TbsCertList {
            version: x509_cert::Version::V2,
            signature: algorithm.clone(),
            issuer: Name::from_der(&issuer_der).map_err(encode(WHAT))?,
            this_update: time(this_update, WHAT)?,
            next_update: Some(time(next_update, WHAT)?),
            revoked_certificates: (!entries.is_empty()).then_some(entries),
            crl_extensions: None,
        };
        let tbs_der = tbs.to_der().map_err(encode(WHAT))?;
        let mut signer =
            Signer::new(MessageDigest::sha256(), &self.ca_key).map_err(ossl("signing the CRL"))?;
        signer.update(&tbs_der).map_err(ossl("signing the CRL"))?;
        let signature = signer.sign_to_vec().map_err(ossl("signing the CRL"))?;
        CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: algorithm,
            signature: BitString::from_bytes(&signature).map_err(encode(WHAT))?,
        }
        .to_der()
        .map_err(encode(WHAT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::x509::CrlStatus;

    #[test]
    fn crl_is_signed_by_the_ca_and_lists_revoked_serials() {
        let pki = ProviderPki::generate("Gamma").unwrap();
        let a = pki.issue_subscriber("Kim", "U1", None).unwrap();
        let b = pki.issue_subscriber("Lee", "U2", None).unwrap();

        let empty = X509Crl::from_pem(&pki.crl_pem().unwrap()).unwrap();
        let ca_key = pki.ca().public_key().unwrap();
        assert!(empty.verify(&ca_key).unwrap());
        assert!(empty.get_revoked().is_none());
        assert!(matches!(
            empty.get_by_serial(a.cert.serial_number()),
            CrlStatus::NotRevoked
        ));

        pki.revoke(a.cert.serial_number()).unwrap();
        pki.revoke(a.cert.serial_number()).unwrap();
        assert_eq!(pki.revoked_count(), 1);
        let crl = X509Crl::from_pem(&pki.crl_pem().unwrap()).unwrap();
        assert!(crl.verify(&ca_key).unwrap());
        // Not by another key.
        assert!(!crl.verify(&pki.root().public_key().unwrap()).unwrap());
        assert_eq!(
            crl.issuer_name().to_der().unwrap(),
            pki.ca().subject_name().to_der().unwrap()
        );
        assert!(matches!(
            crl.get_by_serial(a.cert.serial_number()),
            CrlStatus::Revoked(_)
        ));
        assert!(matches!(
            crl.get_by_serial(b.cert.serial_number()),
            CrlStatus::NotRevoked
        ));
        let next = crl.next_update().unwrap();
        assert!(*next > openssl::asn1::Asn1Time::from_unix(unix_now() + DAY - 120).unwrap());

        // A stale CRL on demand.
        let stale = pki
            .crl_pem_with_times(unix_now() - 2 * DAY, unix_now() - DAY)
            .unwrap();
        let stale = X509Crl::from_pem(&stale).unwrap();
        assert!(*stale.next_update().unwrap() < openssl::asn1::Asn1Time::days_from_now(0).unwrap());

        // Written atomically where asked.
        let dir =
            std::env::temp_dir().join(format!("munjigi-crl-{}-{}", std::process::id(), unix_now()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("crl.pem");
        pki.write_crl(&path).unwrap();
        let on_disk = X509Crl::from_pem(&std::fs::read(&path).unwrap()).unwrap();
        assert!(matches!(
            on_disk.get_by_serial(a.cert.serial_number()),
            CrlStatus::Revoked(_)
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
