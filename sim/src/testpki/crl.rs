//! Revocation for the test PKI: the CA keeps a list of revoked serials, the
//! root a list of revoked CAs, and each issues a signed X.509 v2 CRL (RFC 5280
//! §5) over its list, as real providers publish at their CRL distribution
//! point. [`CrlSpec`] makes the CRLs a verifier must be careful with: older
//! ones (cRLNumber, thisUpdate), partitioned ones (issuingDistributionPoint),
//! delta CRLs, and CRLs with an extension nobody knows marked critical.
//!
//! OpenSSL's safe API cannot build CRLs, so the `x509-cert` crate encodes the
//! `TBSCertList` and OpenSSL signs it (SHA-256 with RSA) with the issuer's key:
//! no hand-written ASN.1, no unsafe.
//!
//! Not here: checking a certificate against a CRL
//! ([`munjigi_providers::cms::CrlPolicy`]), or entry reasons.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use der::asn1::{BitString, GeneralizedTime, Ia5String, ObjectIdentifier, OctetString, Uint};
use der::{Decode as _, Encode as _};
use openssl::asn1::Asn1IntegerRef;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use openssl::x509::X509Crl;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::crl::dp::{IssuingDistributionPoint, Reasons};
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::time::Time;

use super::{io_err, ossl, unix_now, PkiError, ProviderPki, DAY};

/// sha256WithRSAEncryption (RFC 4055).
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const ID_CE_CRL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.20");
const ID_CE_DELTA_CRL_INDICATOR: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.27");
const ID_CE_ISSUING_DISTRIBUTION_POINT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.5.29.28");
/// An extension OID under the test arc that no verifier knows.
const UNKNOWN_EXTENSION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.410.200005.99.1");

/// How long a CRL from [`ProviderPki::crl_pem`] says it is good for.
pub const CRL_VALIDITY_SECS: i64 = DAY;

/// One revoked certificate: its serial (unsigned big-endian bytes) and when.
#[derive(Debug, Clone)]
pub(super) struct Revoked {
    serial: Vec<u8>,
    at: i64,
}

/// The cRLNumber a CRL carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CrlNumber {
    /// The PKI's next number: above every number it issued before and at least
    /// thisUpdate in milliseconds, so a restarted simulator keeps counting up.
    #[default]
    Next,
    /// This number.
    Is(u64),
    /// No cRLNumber extension.
    Absent,
}

/// A partitioned CRL's issuingDistributionPoint (RFC 5280 §5.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idp {
    /// distributionPoint fullName: this URI.
    Named(String),
    /// onlyContainsUserCerts.
    UserCertsOnly,
    /// onlyContainsCACerts.
    CaCertsOnly,
    /// onlySomeReasons: keyCompromise only.
    SomeReasons,
    /// indirectCRL.
    Indirect,
}

/// What a CRL made by [`ProviderPki::crl_pem_with`] says. The default is the
/// CA's ordinary CRL: thisUpdate a minute ago, nextUpdate a day from now,
/// the next cRLNumber, every serial the CA revoked.
#[derive(Debug, Clone, Default)]
pub struct CrlSpec {
    /// The root's CRL (over the CAs it revoked) instead of the CA's.
    pub by_root: bool,
    pub this_update: Option<i64>,
    pub next_update: Option<i64>,
    pub number: CrlNumber,
    /// A delta CRL (deltaCRLIndicator, critical) over this base CRL number.
    pub delta_of: Option<u64>,
    pub idp: Option<Idp>,
    /// An extension nobody knows, marked critical.
    pub unknown_critical: bool,
    /// List no serial at all, whatever was revoked.
    pub empty: bool,
}

fn encode(what: &'static str) -> impl FnOnce(der::Error) -> PkiError {
    move |_| PkiError::Encode(what)
}

fn time(unix: i64, what: &'static str) -> Result<Time, PkiError> {
    let secs = u64::try_from(unix).map_err(|_| PkiError::Invalid("time before 1970"))?;
    let d = Duration::from_secs(secs);
    // UTCTime up to 2049, GeneralizedTime after (RFC 5280 §5.1.2.4).
    if secs < 2_524_608_000 {
        der::asn1::UtcTime::from_unix_duration(d)
            .map(Time::UtcTime)
            .map_err(encode(what))
    } else {
        GeneralizedTime::from_unix_duration(d)
            .map(Time::GeneralTime)
            .map_err(encode(what))
    }
}

fn ext(oid: ObjectIdentifier, critical: bool, value: Vec<u8>) -> Result<Extension, PkiError> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value).map_err(encode("CRL extension"))?,
    })
}

fn uint(n: u64) -> Result<Vec<u8>, PkiError> {
    Uint::new(&n.to_be_bytes())
        .and_then(|u| u.to_der())
        .map_err(encode("cRLNumber"))
}

fn add(
    list: &std::sync::Mutex<Vec<Revoked>>,
    serial: &Asn1IntegerRef,
    at: i64,
) -> Result<(), PkiError> {
    let bytes = serial.to_bn().map_err(ossl("reading a serial"))?.to_vec();
    let mut list = list
        .lock()
        .map_err(|_| PkiError::Invalid("revocation list lock poisoned"))?;
    if !list.iter().any(|r| r.serial == bytes) {
        list.push(Revoked { serial: bytes, at });
    }
    Ok(())
}

impl ProviderPki {
    /// Revokes the certificate with `serial` (issued by this PKI's CA) as of now.
    /// Revoking twice keeps the first entry.
    pub fn revoke(&self, serial: &Asn1IntegerRef) -> Result<(), PkiError> {
        self.revoke_at(serial, unix_now())
    }

    /// Revokes the certificate with `serial` with revocationDate `at` (Unix
    /// seconds). Revoking twice keeps the first entry.
    pub fn revoke_at(&self, serial: &Asn1IntegerRef, at: i64) -> Result<(), PkiError> {
        add(&self.revoked, serial, at)
    }

    /// The root revokes this PKI's CA as of now (see [`Self::revoke_ca_at`]).
    pub fn revoke_ca(&self) -> Result<(), PkiError> {
        self.revoke_ca_at(unix_now())
    }

    /// The root revokes this PKI's CA (the intermediate) as of `at`: its
    /// serial is on the root's CRL.
    pub fn revoke_ca_at(&self, at: i64) -> Result<(), PkiError> {
        add(&self.root_revoked, self.ca.serial_number(), at)
    }

    /// How many certificates are revoked.
    pub fn revoked_count(&self) -> usize {
        self.revoked.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// The current CRLs as one PEM bundle: the CA's and the root's, each with
    /// thisUpdate a minute ago, nextUpdate a day ([`CRL_VALIDITY_SECS`]) from
    /// now, the next cRLNumber and every serial its issuer revoked.
    pub fn crl_pem(&self) -> Result<Vec<u8>, PkiError> {
        let now = unix_now();
        self.crl_pem_with_times(now - 60, now + CRL_VALIDITY_SECS)
    }

    /// [`Self::crl_pem`] with the given thisUpdate and nextUpdate (Unix
    /// seconds), to make stale CRLs on demand.
    pub fn crl_pem_with_times(
        &self,
        this_update: i64,
        next_update: i64,
    ) -> Result<Vec<u8>, PkiError> {
        let mut pem = Vec::new();
        for by_root in [false, true] {
            pem.extend(self.crl_pem_with(&CrlSpec {
                by_root,
                this_update: Some(this_update),
                next_update: Some(next_update),
                ..CrlSpec::default()
            })?);
        }
        Ok(pem)
    }

    /// One CRL, as `spec` says, as PEM.
    pub fn crl_pem_with(&self, spec: &CrlSpec) -> Result<Vec<u8>, PkiError> {
        let der = self.crl_der(spec)?;
        X509Crl::from_der(&der)
            .and_then(|c| c.to_pem())
            .map_err(ossl("re-reading the CRL"))
    }

    /// Writes [`Self::crl_pem`] to `path` atomically (a sibling temporary file
    /// renamed into place), so a reader never sees half a CRL. The temporary
    /// name is unique per write, so simulators sharing a PKI directory in one
    /// process (parallel tests) do not rename each other's file away.
    pub fn write_crl(&self, path: &Path) -> Result<(), PkiError> {
        self.write_crl_pem(path, &self.crl_pem()?)
    }

    /// Writes `pem` (CRLs made by this PKI) to `path` as [`Self::write_crl`] does.
    pub fn write_crl_pem(&self, path: &Path, pem: &[u8]) -> Result<(), PkiError> {
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp-{}-{n}", std::process::id()));
        std::fs::write(&tmp, pem).map_err(io_err("write", &tmp))?;
        std::fs::rename(&tmp, path).map_err(io_err("rename into place", path))
    }

    fn next_number(&self, this_update: i64) -> u64 {
        let floor = u64::try_from(this_update).unwrap_or(0).saturating_mul(1000);
        let mut last = self.crl_number.load(Ordering::Relaxed);
        loop {
            let next = floor.max(last + 1);
            match self
                .crl_number
                .compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    fn crl_der(&self, spec: &CrlSpec) -> Result<Vec<u8>, PkiError> {
        const WHAT: &str = "CRL";
        let now = unix_now();
        let this_update = spec.this_update.unwrap_or(now - 60);
        let next_update = spec.next_update.unwrap_or(now + CRL_VALIDITY_SECS);
        let (list, issuer, key): (_, _, &PKey<Private>) = if spec.by_root {
            (&self.root_revoked, &self.root, &self.root_key)
        } else {
            (&self.revoked, &self.ca, &self.ca_key)
        };
        let revoked = if spec.empty {
            Vec::new()
        } else {
            list.lock()
                .map_err(|_| PkiError::Invalid("revocation list lock poisoned"))?
                .clone()
        };
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
        let mut extensions = Vec::new();
        let number = match spec.number {
            CrlNumber::Next => Some(self.next_number(this_update)),
            CrlNumber::Is(n) => Some(n),
            CrlNumber::Absent => None,
        };
        if let Some(n) = number {
            extensions.push(ext(ID_CE_CRL_NUMBER, false, uint(n)?)?);
        }
        if let Some(base) = spec.delta_of {
            extensions.push(ext(ID_CE_DELTA_CRL_INDICATOR, true, uint(base)?)?);
        }
        if let Some(idp) = &spec.idp {
            let mut v = IssuingDistributionPoint {
                distribution_point: None,
                only_contains_user_certs: false,
                only_contains_ca_certs: false,
                only_some_reasons: None,
                indirect_crl: false,
                only_contains_attribute_certs: false,
            };
            match idp {
                Idp::Named(uri) => {
                    let name = Ia5String::new(uri)
                        .map(GeneralName::UniformResourceIdentifier)
                        .map_err(encode(WHAT))?;
                    v.distribution_point = Some(DistributionPointName::FullName(vec![name]));
                }
                Idp::UserCertsOnly => v.only_contains_user_certs = true,
                Idp::CaCertsOnly => v.only_contains_ca_certs = true,
                Idp::SomeReasons => v.only_some_reasons = Some(Reasons::KeyCompromise.into()),
                Idp::Indirect => v.indirect_crl = true,
            }
            extensions.push(ext(
                ID_CE_ISSUING_DISTRIBUTION_POINT,
                true,
                v.to_der().map_err(encode(WHAT))?,
            )?);
        }
        if spec.unknown_critical {
            extensions.push(ext(
                UNKNOWN_EXTENSION,
                true,
                der::asn1::Null.to_der().map_err(encode(WHAT))?,
            )?);
        }
        let issuer_der = issuer
            .subject_name()
            .to_der()
            .map_err(ossl("encoding the issuer name"))?;
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
            crl_extensions: (!extensions.is_empty()).then_some(extensions),
        };
        let tbs_der = tbs.to_der().map_err(encode(WHAT))?;
        let mut signer =
            Signer::new(MessageDigest::sha256(), key).map_err(ossl("signing the CRL"))?;
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

    /// What [`CrlSpec`] asks for is in the CRL, read back with `x509-cert`.
    #[test]
    fn crl_spec_shapes_the_crl() {
        let pki = ProviderPki::generate("Spec").unwrap();
        let read = |spec: &CrlSpec| {
            let pem = pki.crl_pem_with(spec).unwrap();
            let der = X509Crl::from_pem(&pem).unwrap().to_der().unwrap();
            CertificateList::from_der(&der).unwrap().tbs_cert_list
        };
        let ext = |tbs: &TbsCertList, oid: ObjectIdentifier| {
            tbs.crl_extensions
                .iter()
                .flatten()
                .find(|e| e.extn_id == oid)
                .cloned()
        };
        let number = |tbs: &TbsCertList| {
            let e = ext(tbs, ID_CE_CRL_NUMBER).unwrap();
            let n = Uint::from_der(e.extn_value.as_bytes()).unwrap();
            n.as_bytes()
                .iter()
                .fold(0u64, |a, b| (a << 8) | u64::from(*b))
        };
        // Numbers only go up, and start at thisUpdate in milliseconds.
        let a = number(&read(&CrlSpec::default()));
        let b = number(&read(&CrlSpec::default()));
        assert!(b > a && a >= u64::try_from(unix_now() - 61).unwrap() * 1000);
        assert_eq!(
            number(&read(&CrlSpec {
                number: CrlNumber::Is(7),
                ..CrlSpec::default()
            })),
            7
        );
        assert!(ext(
            &read(&CrlSpec {
                number: CrlNumber::Absent,
                ..CrlSpec::default()
            }),
            ID_CE_CRL_NUMBER
        )
        .is_none());
        let delta = ext(
            &read(&CrlSpec {
                delta_of: Some(3),
                ..CrlSpec::default()
            }),
            ID_CE_DELTA_CRL_INDICATOR,
        )
        .unwrap();
        assert!(delta.critical);
        let idp = ext(
            &read(&CrlSpec {
                idp: Some(Idp::CaCertsOnly),
                ..CrlSpec::default()
            }),
            ID_CE_ISSUING_DISTRIBUTION_POINT,
        )
        .unwrap();
        assert!(idp.critical);
        let idp = IssuingDistributionPoint::from_der(idp.extn_value.as_bytes()).unwrap();
        assert!(idp.only_contains_ca_certs && !idp.only_contains_user_certs);
        let odd = read(&CrlSpec {
            unknown_critical: true,
            ..CrlSpec::default()
        });
        assert!(ext(&odd, UNKNOWN_EXTENSION).unwrap().critical);

        // The root's CRL: signed by the root, listing the revoked CA with its date.
        pki.revoke_ca_at(1_700_000_000).unwrap();
        let pem = pki
            .crl_pem_with(&CrlSpec {
                by_root: true,
                ..CrlSpec::default()
            })
            .unwrap();
        let crl = X509Crl::from_pem(&pem).unwrap();
        assert!(crl.verify(&pki.root().public_key().unwrap()).unwrap());
        match crl.get_by_serial(pki.ca().serial_number()) {
            CrlStatus::Revoked(r) => assert!(
                *r.revocation_date() == openssl::asn1::Asn1Time::from_unix(1_700_000_000).unwrap()
            ),
            _ => panic!("the CA is not on the root's CRL"),
        }
        // The default bundle holds both.
        assert_eq!(
            String::from_utf8(pki.crl_pem().unwrap())
                .unwrap()
                .matches("BEGIN X509 CRL")
                .count(),
            2
        );
    }
}
