//! A throw-away PKI per provider, for the simulator, the demo and the tests.
//!
//! Real providers each run their own root (there is no common national root since
//! the 2020 reform), so every simulated provider gets its own root → CA pair here,
//! and subscriber certificates shaped like the real ones: RSA-2048, three years,
//! KeyUsage digitalSignature + nonRepudiation, a certificate policy, CRL and OCSP
//! pointers, and a subject with the person's name and a provider UID (never the CI).
//!
//! Each CA can revoke and issue a signed CRL over what it revoked, and the root
//! likewise over the CAs it revoked (`crl.rs`); the simulator publishes both,
//! one PEM bundle, as a file next to the root. [`ProviderPki::sibling`] makes a
//! second CA under the same root (two banks under one national root), and
//! [`Profile`] shapes a subscriber certificate the way a misbehaving CA might
//! (other policies, an extended key usage, a CA flag).
//!
//! Not here: anything a production deployment trusts. The CRL and OCSP URLs in the
//! certificates point at placeholders nobody serves, the CA key sits in a file,
//! and the revocation list lives in memory only.
//! Verification lives in `munjigi_providers::cms`; this module only makes
//! material for it.

mod crl;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use crl::{CrlNumber, CrlSpec, Idp, CRL_VALIDITY_SECS};

use der::asn1::{Ia5String, ObjectIdentifier};
use der::Encode as _;
use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time, Asn1Type};
use openssl::bn::{BigNum, MsbOption};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509Extension, X509Name, X509NameBuilder, X509};
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, CertificatePolicies, CrlDistributionPoints,
};

/// The test certificate policy put in every subscriber certificate (shaped like the
/// Korean 1.2.410.200005.1.1.x personal-certificate policies, but not one of them).
pub const TEST_POLICY_OID: &str = "1.2.410.200005.1.1.5";

const RSA_BITS: u32 = 2048;
const DAY: i64 = 24 * 60 * 60;
const SUBSCRIBER_DAYS: i64 = 3 * 365;
const ROOT_DAYS: i64 = 20 * 365;
const CA_DAYS: i64 = 10 * 365;

const ROOT_FILE: &str = "root.pem";
const ROOT_KEY_FILE: &str = "root.key.pem";
const CA_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca.key.pem";

/// `id-ad-ocsp` and `id-ad-caIssuers` (RFC 5280 §4.2.2.1).
const ID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const ID_AD_CA_ISSUERS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");

/// Why test PKI material could not be made, loaded or saved. Carries paths and
/// steps, never key material.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("openssl failed while {context}: {source}")]
    Openssl {
        context: &'static str,
        #[source]
        source: ErrorStack,
    },
    #[error("could not {context} {}: {source}", path.display())]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not encode the {0} extension")]
    Encode(&'static str),
    #[error("{} holds only part of a test PKI (need {ROOT_FILE}, {ROOT_KEY_FILE}, {CA_FILE} and {CA_KEY_FILE}); remove it or complete it", .0.display())]
    Incomplete(PathBuf),
    #[error("the test PKI in {} is inconsistent: {reason}", path.display())]
    Inconsistent { path: PathBuf, reason: &'static str },
    #[error("invalid argument: {0}")]
    Invalid(&'static str),
}

fn ossl(context: &'static str) -> impl FnOnce(ErrorStack) -> PkiError {
    move |source| PkiError::Openssl { context, source }
}

fn io_err(context: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PkiError {
    let path = path.to_path_buf();
    move |source| PkiError::Io {
        context,
        path,
        source,
    }
}

/// One provider's test PKI: a self-signed root and the CA under it that issues
/// subscriber certificates.
pub struct ProviderPki {
    label: String,
    root: X509,
    /// The root's key: it signs CA certificates and the root's CRL.
    root_key: PKey<Private>,
    ca: X509,
    ca_key: PKey<Private>,
    /// Serials this CA has revoked (see `crl.rs`).
    revoked: Mutex<Vec<crl::Revoked>>,
    /// CA serials the root has revoked.
    root_revoked: Mutex<Vec<crl::Revoked>>,
    /// The last cRLNumber issued (see `crl.rs`).
    crl_number: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for ProviderPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderPki")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// How a subscriber certificate is shaped beyond name and validity. The
/// default is what real providers issue: the [`TEST_POLICY_OID`] policy, no
/// extended key usage, not a CA.
#[derive(Debug, Clone)]
pub struct Profile {
    /// certificatePolicies OIDs (none: no extension).
    pub policies: Vec<String>,
    /// extendedKeyUsage OIDs (none: no extension).
    pub eku: Vec<String>,
    /// basicConstraints cA=TRUE (KeyUsage stays digitalSignature +
    /// nonRepudiation): a CA certificate a misbehaving signer might use.
    pub ca: bool,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            policies: vec![TEST_POLICY_OID.to_owned()],
            eku: Vec::new(),
            ca: false,
        }
    }
}

/// A subscriber certificate and its private key, as a provider's app would hold it.
pub struct Subscriber {
    pub cert: X509,
    pub key: PKey<Private>,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subscriber(..)")
    }
}

impl ProviderPki {
    /// A fresh root (self-signed, RSA-2048, CA:true) and a CA under it (CA:true,
    /// pathlen 0), named "{label} Test Root CA" and "{label} Test CA".
    pub fn generate(label: &str) -> Result<Self, PkiError> {
        let label = clean_label(label)?;
        let now = unix_now();
        let root_key = rsa_key()?;
        let root_name = ca_name(&label, &format!("{label} Test Root CA"))?;
        let root = build_ca(
            &root_name,
            &root_key,
            &root_name,
            &root_key,
            None,
            None,
            (now - DAY, now + ROOT_DAYS * DAY),
        )?;
        let (ca, ca_key) = issue_ca(&label, &root, &root_key)?;
        Ok(Self {
            label,
            root,
            root_key,
            ca,
            ca_key,
            revoked: Mutex::default(),
            root_revoked: Mutex::default(),
            crl_number: Default::default(),
        })
    }

    /// Another CA, "{label} Test CA", under this PKI's root: a second bank
    /// under one national root. It shares the root (and its key), not the
    /// revocations.
    pub fn sibling(&self, label: &str) -> Result<Self, PkiError> {
        let label = clean_label(label)?;
        let (ca, ca_key) = issue_ca(&label, &self.root, &self.root_key)?;
        Ok(Self {
            label,
            root: self.root.clone(),
            root_key: self.root_key.clone(),
            ca,
            ca_key,
            revoked: Mutex::default(),
            root_revoked: Mutex::default(),
            crl_number: Default::default(),
        })
    }

    /// A certificate of the CA's own shape and name, with the CA's key: what a
    /// signer holding a CA key would present (basicConstraints cA=TRUE and
    /// KeyUsage keyCertSign + cRLSign).
    pub fn ca_as_subscriber(&self) -> Subscriber {
        Subscriber {
            cert: self.ca.clone(),
            key: self.ca_key.clone(),
        }
    }

    /// Loads `root.pem`, `ca.pem` and `ca.key.pem` from `dir`, or, when none of them
    /// exists, generates a PKI and saves it there (creating `dir`; the key file is
    /// mode 0600). A directory holding only some of the files is an error rather
    /// than something to overwrite.
    pub fn load_or_generate(dir: &Path, label: &str) -> Result<Self, PkiError> {
        match Self::try_load(dir, label)? {
            Some(pki) => Ok(pki),
            None => {
                let pki = Self::generate(label)?;
                pki.save_new(dir)?;
                // Another process may have won the race to create `dir`; what is on
                // disk is what every process must use.
                Self::try_load(dir, label)?.ok_or_else(|| PkiError::Incomplete(dir.into()))
            }
        }
    }

    /// The root certificate as PEM: what the gateway configures as this provider's
    /// trust anchor.
    pub fn root_pem(&self) -> Result<Vec<u8>, PkiError> {
        self.root.to_pem().map_err(ossl("encoding the root"))
    }

    /// The issuing CA certificate as PEM.
    pub fn ca_pem(&self) -> Result<Vec<u8>, PkiError> {
        self.ca.to_pem().map_err(ossl("encoding the CA"))
    }

    pub fn root(&self) -> &X509 {
        &self.root
    }

    pub fn ca(&self) -> &X509 {
        &self.ca
    }

    /// The label the PKI was made for ("Kakao", "Naver" …).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// A subscriber certificate for a person: RSA-2048, valid from a day ago for
    /// three years unless `validity` (not_before, not_after as Unix seconds) is
    /// given; KeyUsage digitalSignature + nonRepudiation (critical), no
    /// ExtendedKeyUsage, the [`TEST_POLICY_OID`] policy, CRL and OCSP placeholders;
    /// subject CN = `name` (UTF8String), serialNumber = `uid` (a provider UID, not
    /// the CI). The certificate serial is 16 random bytes.
    pub fn issue_subscriber(
        &self,
        name: &str,
        uid: &str,
        validity: Option<(i64, i64)>,
    ) -> Result<Subscriber, PkiError> {
        self.issue_subscriber_as(name, uid, validity, &Profile::default())
    }

    /// [`Self::issue_subscriber`] shaped by `profile` (policies, extended key
    /// usage, CA flag).
    pub fn issue_subscriber_as(
        &self,
        name: &str,
        uid: &str,
        validity: Option<(i64, i64)>,
        profile: &Profile,
    ) -> Result<Subscriber, PkiError> {
        if name.trim().is_empty() || name.chars().any(char::is_control) {
            return Err(PkiError::Invalid("subscriber name must be non-empty text"));
        }
        if uid.is_empty() || uid.chars().any(char::is_control) {
            return Err(PkiError::Invalid("subscriber uid must be non-empty text"));
        }
        let (not_before, not_after) = match validity {
            Some(v) => v,
            None => {
                let nb = unix_now() - DAY;
                (nb, nb + SUBSCRIBER_DAYS * DAY)
            }
        };
        if not_after <= not_before {
            return Err(PkiError::Invalid("validity must end after it starts"));
        }

        let key = rsa_key()?;
        let mut subject = X509NameBuilder::new().map_err(ossl("building a name"))?;
        subject
            .append_entry_by_text("C", "KR")
            .map_err(ossl("setting the subject country"))?;
        subject
            .append_entry_by_text_with_type("O", &self.label, Asn1Type::UTF8STRING)
            .map_err(ossl("setting the subject organisation"))?;
        subject
            .append_entry_by_text_with_type("CN", name, Asn1Type::UTF8STRING)
            .map_err(ossl("setting the subject common name"))?;
        let uid_type = if uid.chars().all(is_printable_string_char) {
            Asn1Type::PRINTABLESTRING
        } else {
            Asn1Type::UTF8STRING
        };
        subject
            .append_entry_by_text_with_type("serialNumber", uid, uid_type)
            .map_err(ossl("setting the subject serial number"))?;
        let subject = subject.build();

        let mut b = base_builder(
            &subject,
            &key,
            self.ca.subject_name(),
            (not_before, not_after),
        )?;
        let mut bc = BasicConstraints::new();
        if profile.ca {
            bc.critical().ca();
        }
        b.append_extension(bc.build().map_err(ossl("building basicConstraints"))?)
            .map_err(ossl("adding basicConstraints"))?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .non_repudiation()
                .build()
                .map_err(ossl("building keyUsage"))?,
        )
        .map_err(ossl("adding keyUsage"))?;
        let ski = SubjectKeyIdentifier::new()
            .build(&b.x509v3_context(Some(&self.ca), None))
            .map_err(ossl("building subjectKeyIdentifier"))?;
        b.append_extension(ski)
            .map_err(ossl("adding subjectKeyIdentifier"))?;
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(&self.ca), None))
            .map_err(ossl("building authorityKeyIdentifier"))?;
        b.append_extension(aki)
            .map_err(ossl("adding authorityKeyIdentifier"))?;

        let slug = slug(&self.label);
        if !profile.policies.is_empty() {
            b.append_extension(policies_ext(&profile.policies)?)
                .map_err(ossl("adding certificatePolicies"))?;
        }
        if !profile.eku.is_empty() {
            let mut eku = ExtendedKeyUsage::new();
            for oid in &profile.eku {
                eku.other(oid);
            }
            b.append_extension(eku.build().map_err(ossl("building extendedKeyUsage"))?)
                .map_err(ossl("adding extendedKeyUsage"))?;
        }
        b.append_extension(crl_dp_ext(&self.crl_url())?)
            .map_err(ossl("adding cRLDistributionPoints"))?;
        b.append_extension(aia_ext(
            &format!("http://127.0.0.1/ocsp/{slug}"),
            &format!("http://127.0.0.1/ca/{slug}.cer"),
        )?)
        .map_err(ossl("adding authorityInfoAccess"))?;

        b.sign(&self.ca_key, MessageDigest::sha256())
            .map_err(ossl("signing the subscriber certificate"))?;
        Ok(Subscriber {
            cert: b.build(),
            key,
        })
    }

    /// The CRL distribution point every subscriber certificate names (a
    /// placeholder nobody serves; CRLs with an issuingDistributionPoint are
    /// matched against it).
    pub fn crl_url(&self) -> String {
        format!("http://127.0.0.1/crl/{}.crl", slug(&self.label))
    }

    fn try_load(dir: &Path, label: &str) -> Result<Option<Self>, PkiError> {
        let paths = [ROOT_FILE, ROOT_KEY_FILE, CA_FILE, CA_KEY_FILE].map(|f| dir.join(f));
        let present = paths.iter().filter(|p| p.exists()).count();
        if present == 0 {
            return Ok(None);
        }
        if present < paths.len() {
            return Err(PkiError::Incomplete(dir.into()));
        }
        let [root_path, root_key_path, ca_path, key_path] = paths;
        let read = |p: &Path| std::fs::read(p).map_err(io_err("read", p));
        let root = X509::from_pem(&read(&root_path)?).map_err(ossl("parsing root.pem"))?;
        let ca = X509::from_pem(&read(&ca_path)?).map_err(ossl("parsing ca.pem"))?;
        let ca_key =
            PKey::private_key_from_pem(&read(&key_path)?).map_err(ossl("parsing ca.key.pem"))?;
        let root_key = PKey::private_key_from_pem(&read(&root_key_path)?)
            .map_err(ossl("parsing root.key.pem"))?;

        let inconsistent = |reason| PkiError::Inconsistent {
            path: dir.into(),
            reason,
        };
        let ca_pub = ca.public_key().map_err(ossl("reading the CA key"))?;
        if !ca_pub.public_eq(&ca_key) {
            return Err(inconsistent("ca.key.pem does not belong to ca.pem"));
        }
        let root_pub = root.public_key().map_err(ossl("reading the root key"))?;
        if !root_pub.public_eq(&root_key) {
            return Err(inconsistent("root.key.pem does not belong to root.pem"));
        }
        if !ca.verify(&root_pub).map_err(ossl("checking the CA"))? {
            return Err(inconsistent("ca.pem is not signed by root.pem"));
        }
        let label = name_entry(&root, openssl::nid::Nid::ORGANIZATIONNAME)
            .unwrap_or_else(|| label.to_owned());
        Ok(Some(Self {
            label,
            root,
            root_key,
            ca,
            ca_key,
            revoked: Mutex::default(),
            root_revoked: Mutex::default(),
            crl_number: Default::default(),
        }))
    }

    /// Writes the three files into a fresh sibling directory and renames it to
    /// `dir`, so no reader ever sees half a PKI. If `dir` already exists and is not
    /// empty (someone else won), the caller loads what is there.
    fn save_new(&self, dir: &Path) -> Result<(), PkiError> {
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io_err("create", &parent))?;
        let dir_name = dir
            .file_name()
            .ok_or(PkiError::Invalid("PKI directory must have a name"))?;
        let nonce = BigNum::new()
            .and_then(|mut n| n.rand(64, MsbOption::MAYBE_ZERO, false).map(|()| n))
            .and_then(|n| n.to_hex_str().map(|s| s.to_string()))
            .map_err(ossl("choosing a temporary name"))?;
        let tmp = parent.join(format!(
            ".{}.tmp-{}-{nonce}",
            dir_name.to_string_lossy(),
            std::process::id()
        ));
        let result = self.write_files(&tmp).and_then(|()| {
            match std::fs::rename(&tmp, dir) {
                Ok(()) => Ok(()),
                // `dir` exists and is not empty: written by a concurrent process, or
                // holding other files (then the load after this reports it).
                Err(_) if dir.is_dir() => Ok(()),
                Err(e) => Err(io_err("rename into place", dir)(e)),
            }
        });
        if tmp.exists() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result
    }

    fn write_files(&self, dir: &Path) -> Result<(), PkiError> {
        std::fs::create_dir(dir).map_err(io_err("create", dir))?;
        let key_pem = self
            .ca_key
            .private_key_to_pem_pkcs8()
            .map_err(ossl("encoding the CA key"))?;
        write_new(&dir.join(CA_KEY_FILE), &key_pem, 0o600)?;
        let root_key_pem = self
            .root_key
            .private_key_to_pem_pkcs8()
            .map_err(ossl("encoding the root key"))?;
        write_new(&dir.join(ROOT_KEY_FILE), &root_key_pem, 0o600)?;
        write_new(&dir.join(CA_FILE), &self.ca_pem()?, 0o644)?;
        write_new(&dir.join(ROOT_FILE), &self.root_pem()?, 0o644)?;
        Ok(())
    }
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), PkiError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts.open(path).map_err(io_err("create", path))?;
    f.write_all(bytes).map_err(io_err("write", path))?;
    f.sync_all().map_err(io_err("sync", path))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Labels end up in certificate names: 1 to 64 characters of text, no controls.
fn clean_label(label: &str) -> Result<String, PkiError> {
    let l = label.trim();
    let n = l.chars().count();
    if (1..=64).contains(&n) && !l.chars().any(char::is_control) {
        Ok(l.to_owned())
    } else {
        Err(PkiError::Invalid(
            "label must be 1 to 64 characters without control characters",
        ))
    }
}

/// The label as a URL path segment: ASCII letters and digits, the rest as '-'.
fn slug(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn is_printable_string_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " '()+,-./:=?".contains(c)
}

fn rsa_key() -> Result<PKey<Private>, PkiError> {
    Rsa::generate(RSA_BITS)
        .and_then(PKey::from_rsa)
        .map_err(ossl("generating an RSA key"))
}

fn random_serial() -> Result<Asn1Integer, PkiError> {
    let mut bn = BigNum::new().map_err(ossl("making a serial"))?;
    // 16 random bytes, top bit clear so the DER INTEGER stays 16 bytes and positive.
    bn.rand(127, MsbOption::MAYBE_ZERO, false)
        .map_err(ossl("making a serial"))?;
    bn.to_asn1_integer().map_err(ossl("making a serial"))
}

fn ca_name(label: &str, cn: &str) -> Result<X509Name, PkiError> {
    let mut n = X509NameBuilder::new().map_err(ossl("building a name"))?;
    n.append_entry_by_text("C", "KR")
        .and_then(|()| n.append_entry_by_text_with_type("O", label, Asn1Type::UTF8STRING))
        .and_then(|()| n.append_entry_by_text_with_type("CN", cn, Asn1Type::UTF8STRING))
        .map_err(ossl("building a CA name"))?;
    Ok(n.build())
}

fn name_entry(cert: &X509, nid: openssl::nid::Nid) -> Option<String> {
    cert.subject_name()
        .entries_by_nid(nid)
        .next()
        .and_then(|e| e.data().to_string().ok())
}

fn base_builder(
    subject: &openssl::x509::X509NameRef,
    key: &PKey<Private>,
    issuer: &openssl::x509::X509NameRef,
    (not_before, not_after): (i64, i64),
) -> Result<X509Builder, PkiError> {
    let mut b = X509Builder::new().map_err(ossl("starting a certificate"))?;
    b.set_version(2).map_err(ossl("setting the version"))?;
    let serial = random_serial()?;
    b.set_serial_number(&serial)
        .map_err(ossl("setting the serial"))?;
    b.set_subject_name(subject)
        .map_err(ossl("setting the subject"))?;
    b.set_issuer_name(issuer)
        .map_err(ossl("setting the issuer"))?;
    b.set_pubkey(key).map_err(ossl("setting the key"))?;
    let nb = Asn1Time::from_unix(not_before).map_err(ossl("setting notBefore"))?;
    let na = Asn1Time::from_unix(not_after).map_err(ossl("setting notAfter"))?;
    b.set_not_before(&nb).map_err(ossl("setting notBefore"))?;
    b.set_not_after(&na).map_err(ossl("setting notAfter"))?;
    Ok(b)
}

/// A CA "{label} Test CA" (pathlen 0) under `root`, and its key.
fn issue_ca(
    label: &str,
    root: &X509,
    root_key: &PKey<Private>,
) -> Result<(X509, PKey<Private>), PkiError> {
    let now = unix_now();
    let ca_key = rsa_key()?;
    let ca_name = ca_name(label, &format!("{label} Test CA"))?;
    let ca = build_ca(
        &ca_name,
        &ca_key,
        root.subject_name(),
        root_key,
        Some(root),
        Some(0),
        (now - DAY, now + CA_DAYS * DAY),
    )?;
    Ok((ca, ca_key))
}

/// A CA certificate: self-signed when `issuer_cert` is `None`.
fn build_ca(
    subject: &openssl::x509::X509NameRef,
    key: &PKey<Private>,
    issuer: &openssl::x509::X509NameRef,
    issuer_key: &PKey<Private>,
    issuer_cert: Option<&X509>,
    pathlen: Option<u32>,
    validity: (i64, i64),
) -> Result<X509, PkiError> {
    let mut b = base_builder(subject, key, issuer, validity)?;
    let mut bc = BasicConstraints::new();
    bc.critical().ca();
    if let Some(p) = pathlen {
        bc.pathlen(p);
    }
    b.append_extension(bc.build().map_err(ossl("building basicConstraints"))?)
        .map_err(ossl("adding basicConstraints"))?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .map_err(ossl("building keyUsage"))?,
    )
    .map_err(ossl("adding keyUsage"))?;
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(issuer_cert.map(|c| &**c), None))
        .map_err(ossl("building subjectKeyIdentifier"))?;
    b.append_extension(ski)
        .map_err(ossl("adding subjectKeyIdentifier"))?;
    if let Some(ic) = issuer_cert {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(ic), None))
            .map_err(ossl("building authorityKeyIdentifier"))?;
        b.append_extension(aki)
            .map_err(ossl("adding authorityKeyIdentifier"))?;
    }
    b.sign(issuer_key, MessageDigest::sha256())
        .map_err(ossl("signing a CA certificate"))?;
    Ok(b.build())
}

/// An extension from its OID and the DER of its value, encoded by `x509-cert`.
fn der_ext(oid: &ObjectIdentifier, value: &[u8]) -> Result<X509Extension, PkiError> {
    let obj = Asn1Object::from_str(&oid.to_string()).map_err(ossl("naming an extension"))?;
    let octets = Asn1OctetString::new_from_bytes(value).map_err(ossl("wrapping an extension"))?;
    X509Extension::new_from_der(&obj, false, &octets).map_err(ossl("making an extension"))
}

fn uri(s: &str, what: &'static str) -> Result<GeneralName, PkiError> {
    Ia5String::new(s)
        .map(GeneralName::UniformResourceIdentifier)
        .map_err(|_| PkiError::Encode(what))
}

fn policies_ext(policies: &[String]) -> Result<X509Extension, PkiError> {
    use der::oid::AssociatedOid as _;
    const WHAT: &str = "certificatePolicies";
    let value = CertificatePolicies(
        policies
            .iter()
            .map(|p| {
                Ok(PolicyInformation {
                    policy_identifier: ObjectIdentifier::new(p)
                        .map_err(|_| PkiError::Encode(WHAT))?,
                    policy_qualifiers: None,
                })
            })
            .collect::<Result<_, PkiError>>()?,
    )
    .to_der()
    .map_err(|_| PkiError::Encode(WHAT))?;
    der_ext(&CertificatePolicies::OID, &value)
}

fn crl_dp_ext(url: &str) -> Result<X509Extension, PkiError> {
    use der::oid::AssociatedOid as _;
    const WHAT: &str = "cRLDistributionPoints";
    let value = CrlDistributionPoints(vec![DistributionPoint {
        distribution_point: Some(DistributionPointName::FullName(vec![uri(url, WHAT)?])),
        reasons: None,
        crl_issuer: None,
    }])
    .to_der()
    .map_err(|_| PkiError::Encode(WHAT))?;
    der_ext(&CrlDistributionPoints::OID, &value)
}

fn aia_ext(ocsp: &str, ca_issuers: &str) -> Result<X509Extension, PkiError> {
    use der::oid::AssociatedOid as _;
    const WHAT: &str = "authorityInfoAccess";
    let value = AuthorityInfoAccessSyntax(vec![
        AccessDescription {
            access_method: ID_AD_OCSP,
            access_location: uri(ocsp, WHAT)?,
        },
        AccessDescription {
            access_method: ID_AD_CA_ISSUERS,
            access_location: uri(ca_issuers, WHAT)?,
        },
    ])
    .to_der()
    .map_err(|_| PkiError::Encode(WHAT))?;
    der_ext(&AuthorityInfoAccessSyntax::OID, &value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::stack::Stack;
    use openssl::x509::store::X509StoreBuilder;
    use openssl::x509::X509StoreContext;

    fn chains(pki: &ProviderPki, cert: &X509) -> bool {
        let mut store = X509StoreBuilder::new().unwrap();
        store.add_cert(pki.root().clone()).unwrap();
        let store = store.build();
        let mut chain = Stack::new().unwrap();
        chain.push(pki.ca().clone()).unwrap();
        let mut ctx = X509StoreContext::new().unwrap();
        ctx.init(&store, cert, &chain, |c| c.verify_cert()).unwrap()
    }

    #[test]
    fn subscriber_has_the_real_shape_and_chains() {
        let pki = ProviderPki::generate("Alpha").unwrap();
        let sub = pki.issue_subscriber("홍길동", "UID-0001", None).unwrap();
        assert!(chains(&pki, &sub.cert));
        assert!(sub.cert.public_key().unwrap().public_eq(&sub.key));
        assert_eq!(sub.key.bits(), 2048);
        assert_eq!(
            name_entry(&sub.cert, openssl::nid::Nid::COMMONNAME).as_deref(),
            Some("홍길동")
        );
        assert_eq!(
            name_entry(&sub.cert, openssl::nid::Nid::SERIALNUMBER).as_deref(),
            Some("UID-0001")
        );
        assert_eq!(
            name_entry(pki.root(), openssl::nid::Nid::COMMONNAME).as_deref(),
            Some("Alpha Test Root CA")
        );
        assert_eq!(
            name_entry(pki.ca(), openssl::nid::Nid::COMMONNAME).as_deref(),
            Some("Alpha Test CA")
        );
        let serial = sub.cert.serial_number().to_bn().unwrap().to_vec();
        assert!(serial.len() >= 14 && serial.len() <= 16, "{}", serial.len());

        // Read back what openssl wrote, with an independent parser.
        use der::Decode as _;
        let cert = x509_cert::Certificate::from_der(&sub.cert.to_der().unwrap()).unwrap();
        let exts = cert.tbs_certificate.extensions.unwrap();
        let find = |oid: &str| {
            exts.iter()
                .find(|e| e.extn_id.to_string() == oid)
                .unwrap_or_else(|| panic!("missing {oid}"))
        };
        let ku = find("2.5.29.15");
        assert!(ku.critical);
        let ku = x509_cert::ext::pkix::KeyUsage::from_der(ku.extn_value.as_bytes()).unwrap();
        assert!(ku.digital_signature() && ku.non_repudiation() && !ku.key_cert_sign());
        let pol = CertificatePolicies::from_der(find("2.5.29.32").extn_value.as_bytes()).unwrap();
        assert_eq!(pol.0[0].policy_identifier.to_string(), TEST_POLICY_OID);
        CrlDistributionPoints::from_der(find("2.5.29.31").extn_value.as_bytes()).unwrap();
        let aia =
            AuthorityInfoAccessSyntax::from_der(find("1.3.6.1.5.5.7.1.1").extn_value.as_bytes())
                .unwrap();
        assert_eq!(aia.0[0].access_method, ID_AD_OCSP);
        assert!(exts.iter().all(|e| e.extn_id.to_string() != "2.5.29.37"));

        let days = cert
            .tbs_certificate
            .validity
            .not_after
            .to_unix_duration()
            .as_secs()
            - cert
                .tbs_certificate
                .validity
                .not_before
                .to_unix_duration()
                .as_secs();
        assert_eq!(days, (SUBSCRIBER_DAYS * DAY) as u64);
    }

    #[test]
    fn explicit_validity_is_used() {
        let pki = ProviderPki::generate("베타 Beta").unwrap();
        assert_eq!(
            name_entry(pki.root(), openssl::nid::Nid::COMMONNAME).as_deref(),
            Some("베타 Beta Test Root CA")
        );
        let sub = pki
            .issue_subscriber("Kim", "U2", Some((1_000_000_000, 1_100_000_000)))
            .unwrap();
        let nb = Asn1Time::from_unix(1_000_000_000).unwrap();
        assert_eq!(
            sub.cert.not_before().compare(&nb).unwrap(),
            std::cmp::Ordering::Equal
        );
        assert!(pki.issue_subscriber("Kim", "U2", Some((5, 5))).is_err());
        assert!(pki.issue_subscriber("", "U2", None).is_err());
        assert!(ProviderPki::generate(" ").is_err());
        assert!(ProviderPki::generate("bad\nlabel").is_err());
        assert_eq!(slug("Kakao Cert"), "kakao-cert");
    }

    #[test]
    fn load_or_generate_round_trips_and_protects_the_key() {
        let base = std::env::temp_dir().join(format!(
            "munjigi-testpki-{}-{}",
            std::process::id(),
            unix_now()
        ));
        let dir = base.join("kakao");
        let a = ProviderPki::load_or_generate(&dir, "Kakao").unwrap();
        let b = ProviderPki::load_or_generate(&dir, "Kakao").unwrap();
        assert_eq!(a.root_pem().unwrap(), b.root_pem().unwrap());
        assert_eq!(a.ca().to_der().unwrap(), b.ca().to_der().unwrap());
        assert_eq!(b.label(), "Kakao");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join(CA_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A loaded PKI still issues certificates that chain.
        let sub = b.issue_subscriber("Lee", "U3", None).unwrap();
        assert!(chains(&a, &sub.cert));

        // Half a PKI is refused, not overwritten.
        std::fs::remove_file(dir.join(ROOT_FILE)).unwrap();
        assert!(matches!(
            ProviderPki::load_or_generate(&dir, "Kakao"),
            Err(PkiError::Incomplete(_))
        ));
        // No leftovers from the temporary directory.
        let leftovers = std::fs::read_dir(&base)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name() != "kakao")
            .count();
        assert_eq!(leftovers, 0);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
