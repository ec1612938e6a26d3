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
//! Only a narrow profile is taken, the one providers send:
//! - canonical DER (BER, Naver's document-hash form, stays with OpenSSL, which
//!   must parse it anyway), no unsigned attributes, no CRLs inside, and only
//!   the signed attributes contentType, signingTime and messageDigest;
//! - RSA keys of 2048 to 8192 bits, PKCS#1 v1.5 with SHA-256/384/512 for the
//!   result and the signer certificate;
//! - a signer certificate valid at the signing time, not self-issued, with
//!   names OpenSSL reads, a UTF8String (or ASCII) common name, a positive
//!   serial, and only the extensions every provider's profile has (key usage
//!   that signs, basic constraints, policies, extended key usage, key
//!   identifiers, alternative names, CRL points, authority information),
//!   each once and readable;
//! - every other certificate offered a CA OpenSSL decodes, one of them (or a
//!   pinned CA, or a root) the only one OpenSSL would take for the signer's
//!   issuer by name, its key identifier agreeing, allowed to sign
//!   certificates; and the offered ones exactly the chain's: no name
//!   constraints, policy constraints or mappings, and no path length a CA
//!   above would break.
//!
//! Any other signer or chain, and any this path cannot accept, returns
//! `None`, and the OpenSSL path ([`super::verify_reference`]) decides, with
//! its own error; the checks after the chain (the provider's rules, CRLs,
//! KeyUsage, content, time window) are the same code on both. So this path
//! can only accept what the reference accepts, which the differential tests
//! and the `cms_verify` fuzz target check over the same inputs. A refused
//! result costs both paths: a made-up one cannot make the gateway do more
//! than twice what the reference alone did. Chains are remembered by their
//! CA, a certificate whose signature of a citizen's certificate verified, so
//! made-up certificates cannot crowd them out.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use der::asn1::ObjectIdentifier;
use der::oid::AssociatedOid as _;
use der::{Decode as _, Encode as _, Tag, Tagged as _};
use openssl::x509::{X509Name, X509};
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies,
    CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use super::profile::extension;
use super::{Content, Read, TrustAnchors};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
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

/// contentType, signingTime, messageDigest: read and checked by `Read`.
const PLAIN_ATTRIBUTES: [ObjectIdentifier; 3] = [
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4"),
];

/// At most this many CA chains are remembered per provider.
const MAX_KEPT_CHAINS: usize = 64;

/// A certificate OpenSSL holds for the provider (a root or a pinned CA), as
/// the fast path looks issuers up: decoded by OpenSSL, and by `x509-cert`
/// when it reads it back byte for byte.
pub(super) struct Issuer {
    x509: X509,
    cert: Option<Certificate>,
    der: Vec<u8>,
    hash: [u8; 32],
}

/// The provider's roots and pinned CAs as [`Issuer`]s.
pub(super) fn issuers(roots: &[X509], pinned: &[X509]) -> Vec<Issuer> {
    roots
        .iter()
        .chain(pinned)
        .filter_map(|x| {
            let der = x.to_der().ok()?;
            let cert = Certificate::from_der(&der)
                .ok()
                .filter(|c| c.to_der().is_ok_and(|d| d == der));
            Some(Issuer {
                x509: x.clone(),
                cert,
                hash: openssl::sha::sha256(&der),
                der,
            })
        })
        .collect()
}

/// A CA's chain to a root, as OpenSSL built and checked it, and the signing
/// times and offered certificates for which that verdict holds.
pub(super) struct CaChain {
    /// The CA first, the root last.
    above: Vec<X509>,
    /// The latest notBefore of the chain, Unix seconds.
    from: u64,
    /// The earliest notAfter; OpenSSL counts a certificate expired at it.
    until: u64,
    /// SHA-256 of every certificate of the chain.
    members: Vec<[u8; 32]>,
    /// Those the provider does not hold itself: a result must offer them.
    needed: Vec<[u8; 32]>,
}

/// Remembered CA chains, by the SHA-256 of the CA; `None`: outside the profile.
pub(super) type KeptChains = Arc<Mutex<HashMap<[u8; 32], Option<Arc<CaChain>>>>>;

/// What this path established: the signer's chain above it (its CA first)
/// and the content the signature covers.
pub(super) struct Established<'a> {
    pub above: Vec<X509>,
    pub content: &'a [u8],
    pub serial: Vec<u8>,
    pub common_name: String,
}

/// A certificate the result offered besides the signer's: every one is a CA
/// OpenSSL decodes (kept decoded), as the reference path would decode it.
struct Offered<'a> {
    cert: &'a Certificate,
    x509: X509,
    der: Vec<u8>,
    hash: [u8; 32],
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
    // decoded every certificate anyway. No unsigned attributes and no CRLs
    // inside: OpenSSL reads and checks those, this path would not.
    let si = read.signer_info().ok()?;
    if read.openssl_parse.is_some() || si.unsigned_attrs.is_some() || read.sd.crls.is_some() {
        return None;
    }
    let signer = read.signer().ok()?;
    let hash = Hash::of(si.digest_alg.oid)?;

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

    let tbs = &signer.tbs_certificate;
    // The names as OpenSSL reads and compares them (case, spaces and string
    // types folded): it refuses a name it cannot read.
    let subject = X509Name::from_der(&tbs.subject.to_der().ok()?).ok()?;
    let issuer_name = X509Name::from_der(&tbs.issuer.to_der().ok()?).ok()?;
    if super::profile::is_ca(signer)
        || !plain_leaf(signer, read.signing_time)
        || subject.try_cmp(&issuer_name).ok()? == Ordering::Equal
    {
        return None;
    }
    let serial = positive_serial(signer)?;
    let common_name = common_name(signer)?;

    let mut offered = Vec::with_capacity(read.certs.len());
    for (i, cert) in read.certs.iter().enumerate() {
        if i == read.signer {
            continue;
        }
        let der = cert.to_der().ok()?;
        if !super::profile::is_ca(cert) || der.len() > super::MAX_KEPT_CERT_BYTES {
            return None;
        }
        let hash = openssl::sha::sha256(&der);
        let x509 = anchors.intermediate_keyed(hash, &der).ok()?;
        offered.push(Offered {
            cert,
            x509,
            der,
            hash,
        });
    }

    // The issuer: exactly one certificate at hand whose subject OpenSSL
    // finds equal to the signer's issuer, whose key identifier agrees, and
    // which may sign certificates.
    let mut candidates: Vec<(Option<&Certificate>, &[u8], [u8; 32])> = Vec::new();
    let at_hand = offered
        .iter()
        .map(|o| (&o.x509, Some(o.cert), o.der.as_slice(), o.hash))
        .chain(
            anchors
                .issuers
                .iter()
                .map(|i| (&i.x509, i.cert.as_ref(), i.der.as_slice(), i.hash)),
        );
    for (x509, cert, der, hash) in at_hand {
        if x509.subject_name().try_cmp(&issuer_name).ok()? != Ordering::Equal {
            continue;
        }
        if !candidates.iter().any(|(_, _, h)| *h == hash) {
            candidates.push((cert, der, hash));
        }
    }
    let (ca, ca_der, ca_hash) = match candidates.as_slice() {
        [(Some(ca), der, hash)] => (*ca, *der, *hash),
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

    let above = ca_chain(ca_der, ca_hash, &offered, read.signing_time, anchors)?;
    let offers_all = above
        .needed
        .iter()
        .all(|n| offered.iter().any(|o| o.hash == *n));
    let offers_only = offered.iter().all(|o| above.members.contains(&o.hash));
    if !(above.from..above.until).contains(&read.signing_time) || !offers_all || !offers_only {
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
            super::ID_SHA256 => Some(Self::Sha256),
            super::ID_SHA384 => Some(Self::Sha384),
            super::ID_SHA512 => Some(Self::Sha512),
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
/// it, each extension once and one of those every provider's profile has,
/// each readable, its KeyUsage one that signs (OpenSSL refuses a certificate
/// with an extension it cannot read; the reference decides those, and the
/// others).
fn plain_leaf(cert: &Certificate, at: u64) -> bool {
    let tbs = &cert.tbs_certificate;
    let secs = |t: x509_cert::time::Time| t.to_unix_duration().as_secs();
    if !(secs(tbs.validity.not_before) <= at && at < secs(tbs.validity.not_after)) {
        return false;
    }
    let exts = tbs.extensions.as_deref().unwrap_or_default();
    exts.iter().enumerate().all(|(i, e)| {
        let once = !exts.iter().skip(i + 1).any(|o| o.extn_id == e.extn_id);
        let value = e.extn_value.as_bytes();
        let known = match e.extn_id {
            KeyUsage::OID => KeyUsage::from_der(value)
                .is_ok_and(|k| k.digital_signature() || k.non_repudiation()),
            BasicConstraints::OID => BasicConstraints::from_der(value).is_ok(),
            CertificatePolicies::OID => CertificatePolicies::from_der(value).is_ok(),
            ExtendedKeyUsage::OID => ExtendedKeyUsage::from_der(value).is_ok(),
            SubjectKeyIdentifier::OID => SubjectKeyIdentifier::from_der(value).is_ok(),
            AuthorityKeyIdentifier::OID => AuthorityKeyIdentifier::from_der(value).is_ok(),
            SubjectAltName::OID => SubjectAltName::from_der(value).is_ok(),
            CrlDistributionPoints::OID => CrlDistributionPoints::from_der(value).is_ok(),
            AuthorityInfoAccessSyntax::OID => AuthorityInfoAccessSyntax::from_der(value).is_ok(),
            _ => false,
        };
        once && known
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

/// The chain above the CA (`ca_der`, SHA-256 `ca_hash`) to a root:
/// remembered, or built and checked by OpenSSL at `at` with the CAs the
/// result offered and the pinned ones at hand, and remembered.
fn ca_chain(
    ca_der: &[u8],
    ca_hash: [u8; 32],
    offered: &[Offered<'_>],
    at: u64,
    anchors: &TrustAnchors,
) -> Option<Arc<CaChain>> {
    let lock = || {
        anchors
            .chains
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    };
    if let Some(kept) = lock().get(&ca_hash) {
        return kept.clone();
    }
    if ca_der.len() > super::MAX_KEPT_CERT_BYTES {
        return None;
    }
    let ca = anchors.intermediate_keyed(ca_hash, ca_der).ok()?;
    let mut helpers: Vec<X509> = offered
        .iter()
        .filter(|o| o.hash != ca_hash)
        .map(|o| o.x509.clone())
        .collect();
    helpers.extend(anchors.signer.helpers().iter().cloned());
    // A chain OpenSSL refuses at this signing time may hold at another: not
    // remembered, the reference decides this one.
    let above = super::check_chain(anchors, &ca, &helpers, at).ok()?;
    let chain = within_profile(above, anchors).map(Arc::new);
    let mut kept = lock();
    if kept.len() >= MAX_KEPT_CHAINS {
        // Only CAs whose signatures verified get here: one makes room.
        if let Some(old) = kept.keys().next().copied() {
            kept.remove(&old);
        }
    }
    kept.insert(ca_hash, chain.clone());
    chain
}

/// `above` (the CA first) as a remembered chain, if no certificate in it
/// constrains the ones below and every path length holds with the CA counted
/// (OpenSSL, given the CA as its target, did not count it).
fn within_profile(above: Vec<X509>, anchors: &TrustAnchors) -> Option<CaChain> {
    let ders: Vec<Vec<u8>> = above
        .iter()
        .map(|x| x.to_der().ok())
        .collect::<Option<_>>()?;
    let parsed: Vec<Certificate> = ders
        .iter()
        .map(|d| Certificate::from_der(d).ok())
        .collect::<Option<_>>()?;
    let members: Vec<[u8; 32]> = ders.iter().map(|d| openssl::sha::sha256(d)).collect();
    let needed = members
        .iter()
        .filter(|m| !anchors.issuers.iter().any(|i| i.hash == **m))
        .copied()
        .collect();
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
    Some(CaChain {
        above,
        from,
        until,
        members,
        needed,
    })
}
