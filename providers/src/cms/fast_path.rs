//! The everyday signed result checked without handing the citizen's
//! certificate to OpenSSL.
//!
//! Why: OpenSSL 3.0 decodes every certificate's public key through its
//! provider machinery, about 0.1 ms, and the signer certificate is new in
//! every result, so that decoding (with OpenSSL's CMS parse and chain build
//! around it) was the dearest step of a whole login. Here `ring` verifies the
//! two signatures that are new in each result, the SignedData's and the
//! signer certificate's, over what `cms` and `x509-cert` already read; the
//! issuing CA's own chain to the provider's roots is the same in every result,
//! so OpenSSL builds and checks it once and it is remembered for the signing
//! times inside every certificate's validity.
//!
//! Only a narrow profile is taken, the one providers send: canonical DER
//! (BER, Naver's document-hash form, stays with OpenSSL, which must parse it
//! anyway), only the signed attributes contentType, signingTime,
//! messageDigest (and smimeCapabilities), RSA keys of 2048 to 8192 bits,
//! PKCS#1 v1.5 with SHA-256/384/512 for the result and the certificate, the
//! signer issued by exactly one CA certificate at hand (the result's, the
//! pinned ones or a root) whose name and key identifiers match, the signer's
//! critical extensions all ones OpenSSL knows and every known one readable,
//! its common name a UTF8String (or ASCII), and no name constraints, policy
//! constraints, policy mappings or path length a CA above would break.
//! Any other signer or chain, and any this path cannot accept, returns
//! `None`, and the OpenSSL path ([`super::verify_reference`]) decides, with
//! its own error; the checks after the chain (the provider's rules, CRLs,
//! KeyUsage, content, time window) are the same code on both. So this path
//! can only accept what the reference accepts, which the differential tests
//! and the `cms_verify` fuzz target check over the same inputs. A refused
//! result costs both paths: a made-up one cannot make the gateway do more
//! than twice what the reference alone did.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use der::asn1::ObjectIdentifier;
use der::oid::AssociatedOid as _;
use der::{Decode as _, Encode as _, Tag, Tagged as _};
use openssl::x509::X509;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, ExtendedKeyUsage, KeyUsage,
    SubjectKeyIdentifier,
};
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use super::profile::extension;
use super::{Content, Read, TrustAnchors};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const CRL_DISTRIBUTION_POINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
/// Extensions that change what a CA above allows below it (RFC 5280 §6.1):
/// nameConstraints, policyMappings, policyConstraints, inhibitAnyPolicy, and
/// proxyCertInfo. A chain naming any of them is the reference's to check.
const CONSTRAINING: [ObjectIdentifier; 5] = [
    ObjectIdentifier::new_unwrap("2.5.29.30"),
    ObjectIdentifier::new_unwrap("2.5.29.33"),
    ObjectIdentifier::new_unwrap("2.5.29.36"),
    ObjectIdentifier::new_unwrap("2.5.29.54"),
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.14"),
];

/// contentType, signingTime, messageDigest, smimeCapabilities.
const PLAIN_ATTRIBUTES: [ObjectIdentifier; 4] = [
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.15"),
];

/// At most this many CA chains are remembered per provider.
const MAX_KEPT_CHAINS: usize = 64;

/// A CA's chain to a root, as OpenSSL built and checked it, and the signing
/// times for which that verdict holds.
pub(super) struct CaChain {
    /// The CA first, the root last.
    above: Vec<X509>,
    /// The latest notBefore of the chain, Unix seconds.
    from: u64,
    /// The earliest notAfter; OpenSSL counts a certificate expired at it.
    until: u64,
}

/// Remembered CA chains, by the SHA-256 of the CA and the other CA
/// certificates the result offered.
pub(super) type KeptChains = Arc<Mutex<HashMap<[u8; 32], Option<Arc<CaChain>>>>>;

/// What this path established: the signer's chain above it (its CA first)
/// and the content the signature covers.
pub(super) struct Established<'a> {
    pub above: Vec<X509>,
    pub content: &'a [u8],
    pub serial: Vec<u8>,
    pub common_name: String,
}

/// The signer verified and chained without OpenSSL touching its certificate,
/// or `None`: outside the profile or refused, for the reference to decide.
pub(super) fn establish<'a>(
    read: &'a Read,
    wanted: Content<'a>,
    anchors: &TrustAnchors,
) -> Option<Established<'a>> {
    // Only canonical DER: then the signed attributes `cms` re-encodes are the
    // bytes the signer signed. Anything OpenSSL had to parse (BER, a SET out
    // of order) may differ from that re-encoding, and OpenSSL's parse already
    // decoded every certificate anyway.
    if read.openssl_parse.is_some() {
        return None;
    }
    let si = read.signer_info().ok()?;
    let signer = read.signer().ok()?;
    let digest = si.digest_alg.oid;
    let hash = Hash::of(digest)?;

    // The SignedData's signature, over the DER of the signed attributes.
    let algorithm = &si.signature_algorithm;
    let by_digest = match algorithm.oid {
        RSA_ENCRYPTION => true,
        oid => Hash::of_rsa_signature(oid) == Some(hash),
    };
    if !by_digest || !null_or_absent(algorithm) {
        return None;
    }
    // Only the attributes providers sign (PROVIDERS.md): OpenSSL acts on
    // others (an ESS signing-certificate attribute must name the signer).
    let signed_attrs = si.signed_attrs.as_ref()?;
    if !signed_attrs
        .iter()
        .all(|a| PLAIN_ATTRIBUTES.contains(&a.oid))
    {
        return None;
    }
    let attrs = signed_attrs.to_der().ok()?;
    rsa_verify(signer, hash, &attrs, si.signature.as_bytes())?;

    // The content against the signed messageDigest, unless only a digest is
    // at hand (compared by the caller, as on the reference path).
    let content: &[u8] = match wanted {
        Content::Attached(_) => {
            let econtent = read.sd.encap_content_info.econtent.as_ref()?;
            if econtent.tag() != Tag::OctetString {
                return None;
            }
            econtent.value()
        }
        Content::Detached(c) => c,
        Content::DetachedSha256(_) => b"",
    };
    if !matches!(wanted, Content::DetachedSha256(_)) {
        let want = super::message_digest(read.attrs().ok()?).ok()?;
        if ring::digest::digest(hash.digest(), content).as_ref() != want {
            return None;
        }
    }

    if super::profile::is_ca(signer) || !plain_leaf(signer, read.signing_time) {
        return None;
    }
    let serial = positive_serial(signer)?;
    let common_name = common_name(signer)?;

    // The issuer: exactly one certificate at hand named as the signer's
    // issuer, whose key identifier agrees, which may sign certificates.
    let tbs = &signer.tbs_certificate;
    let mut candidates: Vec<(&Certificate, Vec<u8>)> = Vec::new();
    let offered = read
        .certs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != read.signer)
        .map(|(_, c)| c);
    let kept = anchors
        .signer
        .helpers_parsed()
        .iter()
        .chain(anchors.root_certs.iter());
    for c in offered.chain(kept) {
        if c.tbs_certificate.subject != tbs.issuer {
            continue;
        }
        let der = c.to_der().ok()?;
        if !candidates.iter().any(|(_, d)| *d == der) {
            candidates.push((c, der));
        }
    }
    let (ca, ca_der) = match candidates.as_slice() {
        [(ca, der)] => (*ca, der.as_slice()),
        _ => return None,
    };
    if !may_issue(ca, signer) {
        return None;
    }
    let sig_hash = Hash::of_rsa_signature(signer.signature_algorithm.oid)?;
    if signer.signature_algorithm != tbs.signature || !null_or_absent(&signer.signature_algorithm) {
        return None;
    }
    let tbs_der = tbs.to_der().ok()?;
    rsa_verify(ca, sig_hash, &tbs_der, signer.signature.as_bytes()?)?;

    let above = ca_chain(read, ca_der, anchors)?;
    if !(above.from..above.until).contains(&read.signing_time) {
        return None;
    }
    Some(Established {
        above: above.above.clone(),
        content,
        serial,
        common_name,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn of(digest: ObjectIdentifier) -> Option<Self> {
        match digest {
            SHA256 => Some(Self::Sha256),
            SHA384 => Some(Self::Sha384),
            SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    fn of_rsa_signature(oid: ObjectIdentifier) -> Option<Self> {
        match oid {
            SHA256_WITH_RSA => Some(Self::Sha256),
            SHA384_WITH_RSA => Some(Self::Sha384),
            SHA512_WITH_RSA => Some(Self::Sha512),
            _ => None,
        }
    }

    fn digest(self) -> &'static ring::digest::Algorithm {
        match self {
            Self::Sha256 => &ring::digest::SHA256,
            Self::Sha384 => &ring::digest::SHA384,
            Self::Sha512 => &ring::digest::SHA512,
        }
    }

    fn rsa(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Self::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Self::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        }
    }
}

/// RSA parameters are NULL, or absent as some encoders leave them.
fn null_or_absent(alg: &AlgorithmIdentifierOwned) -> bool {
    alg.parameters
        .as_ref()
        .is_none_or(|p| p.tag() == Tag::Null && p.value().is_empty())
}

/// `signature` over `message` by `key_holder`'s RSA key (2048–8192 bits).
fn rsa_verify(
    key_holder: &Certificate,
    hash: Hash,
    message: &[u8],
    signature: &[u8],
) -> Option<()> {
    let spki = &key_holder.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid != RSA_ENCRYPTION || !null_or_absent(&spki.algorithm) {
        return None;
    }
    let key = spki.subject_public_key.as_bytes()?;
    UnparsedPublicKey::new(hash.rsa(), key)
        .verify(message, signature)
        .ok()
}

/// The signer certificate within the profile: valid at `at` as OpenSSL counts
/// it, every extension once, the critical ones known to OpenSSL, the known
/// ones readable, nothing that constrains others.
fn plain_leaf(cert: &Certificate, at: u64) -> bool {
    let tbs = &cert.tbs_certificate;
    let secs = |t: x509_cert::time::Time| t.to_unix_duration().as_secs();
    if !(secs(tbs.validity.not_before) <= at && at < secs(tbs.validity.not_after)) {
        return false;
    }
    if tbs.subject == tbs.issuer {
        return false;
    }
    let exts = tbs.extensions.as_deref().unwrap_or_default();
    let critical_known = [
        KeyUsage::OID,
        BasicConstraints::OID,
        CertificatePolicies::OID,
        SUBJECT_ALT_NAME,
        CRL_DISTRIBUTION_POINTS,
        ExtendedKeyUsage::OID,
    ];
    exts.iter().enumerate().all(|(i, e)| {
        let once = !exts.iter().skip(i + 1).any(|o| o.extn_id == e.extn_id);
        let value = e.extn_value.as_bytes();
        let readable = match e.extn_id {
            KeyUsage::OID => KeyUsage::from_der(value).is_ok(),
            BasicConstraints::OID => BasicConstraints::from_der(value).is_ok(),
            CertificatePolicies::OID => CertificatePolicies::from_der(value).is_ok(),
            ExtendedKeyUsage::OID => ExtendedKeyUsage::from_der(value).is_ok(),
            SubjectKeyIdentifier::OID => SubjectKeyIdentifier::from_der(value).is_ok(),
            AuthorityKeyIdentifier::OID => AuthorityKeyIdentifier::from_der(value).is_ok(),
            _ => true,
        };
        once && readable
            && (!e.critical || critical_known.contains(&e.extn_id))
            && !CONSTRAINING.contains(&e.extn_id)
    })
}

/// Whether `ca` may have issued `leaf`: a CA (basicConstraints cA), allowed
/// to sign certificates if it has a KeyUsage, and the leaf's authority key
/// identifier, when both carry one, names the CA's key.
fn may_issue(ca: &Certificate, leaf: &Certificate) -> bool {
    let is_ca = extension::<BasicConstraints>(ca).is_some_and(|b| b.ca);
    let signs = match count(ca, KeyUsage::OID) {
        0 => true,
        _ => extension::<KeyUsage>(ca).is_some_and(|k| k.key_cert_sign()),
    };
    let keyid = match count(leaf, AuthorityKeyIdentifier::OID) {
        0 => true,
        _ => extension::<AuthorityKeyIdentifier>(leaf).is_some_and(|aki| {
            aki.authority_cert_issuer.is_none()
                && aki.authority_cert_serial_number.is_none()
                && match (aki.key_identifier, count(ca, SubjectKeyIdentifier::OID)) {
                    (None, _) | (Some(_), 0) => true,
                    (Some(id), _) => {
                        extension::<SubjectKeyIdentifier>(ca).is_some_and(|s| s.0 == id)
                    }
                }
        }),
    };
    is_ca && signs && keyid
}

fn count(cert: &Certificate, oid: ObjectIdentifier) -> usize {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == oid)
        .count()
}

/// The serial's magnitude when positive (as OpenSSL's hex prints it, no
/// leading zero byte); a zero or negative serial is the reference's.
fn positive_serial(cert: &Certificate) -> Option<Vec<u8>> {
    let bytes = cert.tbs_certificate.serial_number.as_bytes();
    if bytes.first().is_none_or(|b| b & 0x80 != 0) {
        return None;
    }
    let first = bytes.iter().position(|b| *b != 0)?;
    bytes.get(first..).map(<[u8]>::to_vec)
}

/// The subject's single common name when it is a UTF8String, or a
/// PrintableString or IA5String in ASCII: the forms read the same by OpenSSL.
fn common_name(cert: &Certificate) -> Option<String> {
    let mut cns = cert
        .tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == COMMON_NAME);
    let cn = match (cns.next(), cns.next()) {
        (Some(cn), None) => &cn.value,
        _ => return None,
    };
    let text = std::str::from_utf8(cn.value()).ok()?;
    match cn.tag() {
        Tag::Utf8String => Some(text.to_owned()),
        Tag::PrintableString | Tag::Ia5String if text.is_ascii() => Some(text.to_owned()),
        _ => None,
    }
}

/// The chain above `ca` to a root at the result's signing time: remembered,
/// or built and checked by OpenSSL with the CA certificates the result
/// offered (and the pinned ones) and remembered when within the profile.
fn ca_chain(read: &Read, ca_der: &[u8], anchors: &TrustAnchors) -> Option<Arc<CaChain>> {
    let others: Vec<Vec<u8>> = read
        .certs
        .iter()
        .enumerate()
        .filter(|(i, c)| *i != read.signer && super::profile::is_ca(c))
        .filter_map(|(_, c)| c.to_der().ok())
        .filter(|d| d != ca_der)
        .collect();
    let mut h = openssl::sha::Sha256::new();
    h.update(ca_der);
    for d in &others {
        h.update(&u32::try_from(d.len()).unwrap_or(u32::MAX).to_be_bytes());
        h.update(d);
    }
    let key = h.finish();
    let lock = || {
        anchors
            .chains
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    };
    if let Some(kept) = lock().get(&key) {
        return kept.clone();
    }

    let ca = anchors.intermediate(ca_der).ok()?;
    let mut helpers = Vec::with_capacity(others.len());
    for d in &others {
        helpers.push(anchors.intermediate(d).ok()?);
    }
    helpers.extend(anchors.signer.helpers().iter().cloned());
    // A chain OpenSSL refuses at this signing time may hold at another: not
    // remembered, the reference decides this one.
    let above = super::check_chain(anchors, &ca, &helpers, read.signing_time).ok()?;
    let chain = within_profile(above).map(Arc::new);
    let mut kept = lock();
    if kept.len() >= MAX_KEPT_CHAINS {
        kept.clear();
    }
    kept.insert(key, chain.clone());
    chain
}

/// `above` (the CA first) as a remembered chain, if no certificate in it
/// constrains the ones below and every path length holds with the CA counted
/// (OpenSSL, given the CA as its target, did not count it).
fn within_profile(above: Vec<X509>) -> Option<CaChain> {
    let parsed: Vec<Certificate> = above
        .iter()
        .map(|x| x.to_der().ok().and_then(|d| Certificate::from_der(&d).ok()))
        .collect::<Option<_>>()?;
    let secs = |t: x509_cert::time::Time| t.to_unix_duration().as_secs();
    let mut from = 0;
    let mut until = u64::MAX;
    let mut below = 0u32;
    for c in &parsed {
        let tbs = &c.tbs_certificate;
        if tbs
            .extensions
            .iter()
            .flatten()
            .any(|e| CONSTRAINING.contains(&e.extn_id))
        {
            return None;
        }
        if count(c, BasicConstraints::OID) > 0 {
            let bc = extension::<BasicConstraints>(c)?;
            if bc.path_len_constraint.is_some_and(|n| below > u32::from(n)) {
                return None;
            }
        }
        if tbs.subject != tbs.issuer {
            below = below.saturating_add(1);
        }
        from = from.max(secs(tbs.validity.not_before));
        until = until.min(secs(tbs.validity.not_after));
    }
    Some(CaChain { above, from, until })
}
