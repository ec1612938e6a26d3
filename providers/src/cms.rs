//! CMS SignedData (RFC 5652): complete checking of a provider's signed result.
//!
//! A provider's signed result is the only thing that proves the citizen approved
//! this login, so [`verify`] checks all of it before anything is believed: decoding
//! (DER or BER indefinite length), exactly one signer, the signature and
//! messageDigest, that the signer certificate is not a CA, its chain to *this*
//! provider's roots as of the signingTime, the provider's rules for its signer
//! (policies, extended key usage, a pinned issuing CA: [`SignerRules`], see
//! `profile.rs`), whether the provider's CRLs revoke the signer or a CA above
//! it (when the anchors carry a [`CrlPolicy`], see `revocation.rs`), its
//! KeyUsage, the content (or, detached, the supplied content) against exactly
//! what the gateway asked to be signed, and the signingTime against the
//! request window.
//!
//! A detached signature can also be checked with only the content's SHA-256 at
//! hand ([`Content::DetachedSha256`], how Naver signs a document hash): OpenSSL
//! verifies the signature over the signed attributes without a content digest
//! (`CMS_NO_CONTENT_VERIFY`; signed attributes are required, so the signature is
//! always checked), and the `messageDigest` attribute, read by `cms`, must equal
//! the expected digest byte for byte. Such a CMS verifies as an ordinary detached
//! signature over the original document too.
//!
//! Two paths establish the signer and its chain. The fast path
//! (`fast_path.rs`) takes the everyday result: `ring` verifies its signature
//! and the signer certificate's, and the issuing CA's chain to the roots,
//! checked by OpenSSL once, is remembered; OpenSSL 3 never decodes the
//! citizen's certificate, which cost about 0.1 ms alone. Everything outside
//! that path's narrow profile, and anything it cannot accept, goes to the
//! reference path ([`verify_reference`]): OpenSSL verifies the signature
//! and builds and checks the whole chain, as it always did. The checks after
//! the chain are shared. The RustCrypto `cms` crate reads the fields
//! OpenSSL's safe API does not expose (signed attributes, signer identifier,
//! certificate set). DER input is read by `cms` as it came; BER (indefinite
//! lengths) is first re-encoded to DER by OpenSSL. No ASN.1 is parsed by
//! hand here, and no unsafe FFI is used.
//!
//! On the reference path each certificate is decoded once: OpenSSL is given
//! the SignedData without its certificate set (it may use only the signer
//! certificate handed to it anyway, `NOINTERN`), and the provider's
//! intermediate CA certificates, the same in every result, are kept decoded
//! by their SHA-256 ([`TrustAnchors`]). Only CA certificates are kept: a
//! citizen's never is.
//!
//! Not here: OCSP, and matching the signer to the person who was asked;
//! [`crate::binding`] does that with the [`VerifiedCms`] this returns, the
//! same way for every family. Making a
//! signature or writing BER: that is test machinery (`munjigi_sim::cms`), so a
//! production build only ever verifies. Errors say which check failed, never
//! what the certificate or content held.

mod fast_path;
pub(crate) mod profile;
mod revocation;

pub use profile::{RuleError, SignerRules};
pub use revocation::{parse_crls, CrlMemory, CrlPolicy, CrlRefresh};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use der::asn1::ObjectIdentifier;
use der::oid::AssociatedOid as _;
use der::{Decode as _, Encode as _};
use openssl::asn1::Asn1Integer;
use openssl::bn::BigNum;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::nid::Nid;
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::X509VerifyParam;
use openssl::x509::{X509StoreContext, X509};
use subtle::ConstantTimeEq as _;
use x509_cert::attr::{AttributeValue, Attributes};
use x509_cert::Certificate;

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
/// SHA-256, SHA-384, SHA-512: the digests a signer may use.
const ACCEPTED_DIGESTS: [ObjectIdentifier; 3] = [ID_SHA256, ID_SHA384, ID_SHA512];
/// `X509_V_ERR_CERT_NOT_YET_VALID` and `X509_V_ERR_CERT_HAS_EXPIRED` (x509_vfy.h).
const X509_V_ERR_CERT_NOT_YET_VALID: i32 = 9;
const X509_V_ERR_CERT_HAS_EXPIRED: i32 = 10;
/// OpenSSL security level 2: RSA and DH keys of at least 2048 bits, no SHA-1
/// signatures in the chain.
const AUTH_LEVEL: i32 = 2;

/// Which check a signed result failed. Stable [`CmsError::code`]s; no personal
/// data, key material or signed content in any variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmsError {
    #[error("not a decodable CMS structure (DER or BER)")]
    Decode,
    #[error("the CMS content is not SignedData")]
    NotSignedData,
    #[error("the signed content is not of type id-data")]
    UnexpectedContentType,
    #[error("the signed content is {}, expected {}", if *.detached { "detached" } else { "attached" }, if *.detached { "attached" } else { "detached" })]
    Encapsulation {
        /// Whether the SignedData as received is detached.
        detached: bool,
    },
    #[error("expected exactly one signer, found {0}")]
    SignerCount(usize),
    #[error("the signer used a digest algorithm weaker than SHA-256 or unknown")]
    UnsupportedAlgorithm,
    #[error("the signer has no signed attributes")]
    MissingSignedAttributes,
    #[error("the signed attributes are malformed: {0}")]
    BadSignedAttributes(&'static str),
    #[error("the signed attributes carry no signingTime")]
    MissingSigningTime,
    #[error("the signer certificate is missing from the SignedData or not unique")]
    SignerCertificate,
    #[error("the signature or the messageDigest does not verify")]
    Signature,
    #[error("the signer certificate does not chain to the provider's roots: {0}")]
    Chain(String),
    #[error("the signer certificate was not valid at the signingTime")]
    CertNotValidAtSigningTime,
    #[error(
        "the signer certificate's KeyUsage allows neither digitalSignature nor nonRepudiation"
    )]
    KeyUsage,
    #[error("the signer certificate has no single common name")]
    MissingSignerName,
    #[error("the signed content is not what the gateway asked to be signed")]
    ContentMismatch,
    #[error("the signingTime is outside the request window")]
    SigningTimeOutsideWindow,
    #[error("no trust anchor certificate found in the PEM bundle")]
    NoTrustAnchors,
    #[error("the signer certificate is revoked by the provider's CRL")]
    Revoked,
    #[error("a CA certificate of the signer's chain is revoked by its issuer's CRL")]
    CaRevoked,
    #[error("no current CRL covering a certificate of the chain, and the provider requires one")]
    CrlUnavailable,
    #[error("the signer certificate is a CA certificate (basicConstraints cA)")]
    CaSigner,
    #[error("the signer certificate names none of the provider's required policies")]
    PolicyMissing,
    #[error("the signer certificate names none of the provider's required extended key usages")]
    EkuMissing,
    #[error("the signer certificate's issuer is not the provider's pinned issuing CA")]
    IssuingCa,
    #[error("not a decodable CRL (PEM or DER)")]
    BadCrl,
    #[error("internal openssl failure: {0}")]
    Openssl(String),
    #[error("internal encoding failure: {0}")]
    Internal(&'static str),
}

impl CmsError {
    /// A stable, greppable reason code for logs and error pages.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Decode => "decode",
            Self::NotSignedData => "not_signed_data",
            Self::UnexpectedContentType => "unexpected_content_type",
            Self::Encapsulation { .. } => "encapsulation",
            Self::SignerCount(_) => "signer_count",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::MissingSignedAttributes => "missing_signed_attributes",
            Self::BadSignedAttributes(_) => "bad_signed_attributes",
            Self::MissingSigningTime => "missing_signing_time",
            Self::SignerCertificate => "signer_certificate",
            Self::Signature => "signature",
            Self::Chain(_) => "chain",
            Self::CertNotValidAtSigningTime => "cert_not_valid_at_signing_time",
            Self::KeyUsage => "key_usage",
            Self::MissingSignerName => "missing_signer_name",
            Self::ContentMismatch => "content_mismatch",
            Self::SigningTimeOutsideWindow => "signing_time_outside_window",
            Self::NoTrustAnchors => "no_trust_anchors",
            Self::Revoked => "revoked",
            Self::CaRevoked => "ca_revoked",
            Self::CrlUnavailable => "crl_unavailable",
            Self::CaSigner => "ca_signer",
            Self::PolicyMissing => "policy_missing",
            Self::EkuMissing => "eku_missing",
            Self::IssuingCa => "issuing_ca",
            Self::BadCrl => "bad_crl",
            Self::Openssl(_) => "openssl",
            Self::Internal(_) => "internal",
        }
    }
}

fn ossl(e: openssl::error::ErrorStack) -> CmsError {
    CmsError::Openssl(e.to_string())
}

/// How a provider encodes its signed results (the provider tables say which
/// form each product sends; the simulator's signer writes each of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// DER, content inside.
    DerAttached,
    /// BER with indefinite lengths on the outer layers and the content as a
    /// constructed OCTET STRING in chunks, as streaming signers produce it.
    BerIndefiniteAttached,
    /// DER without the content: the verifier supplies it.
    DerDetached,
    /// BER with indefinite lengths on the outer layers, without the content
    /// (Naver's document-hash signatures).
    BerIndefiniteDetached,
}

impl Encoding {
    /// Whether the content is left out of the SignedData.
    pub fn is_detached(self) -> bool {
        matches!(self, Self::DerDetached | Self::BerIndefiniteDetached)
    }
}

/// The roots one provider is trusted under: built once at startup and shared.
/// Each provider has its own; a result chaining to another provider's root fails.
#[derive(Clone)]
pub struct TrustAnchors {
    roots: Vec<X509>,
    /// The provider's CRLs and what a missing one means; `None`: no revocation
    /// check.
    crl: Option<Arc<CrlPolicy>>,
    /// What the signer certificate must be besides chaining.
    signer: Arc<SignerRules>,
    /// Intermediate certificates seen in results, decoded, by SHA-256 of their DER.
    intermediates: Arc<Mutex<HashMap<[u8; 32], X509>>>,
    /// The roots and the pinned CAs, as the fast path looks issuers up.
    issuers: Arc<Vec<fast_path::Issuer>>,
    /// CA chains the fast path had OpenSSL check (`fast_path.rs`).
    chains: fast_path::KeptChains,
}

/// At most this many decoded intermediates are kept per provider (a provider
/// has a handful; the bound only stops a hostile stream of made-up ones).
const MAX_KEPT_INTERMEDIATES: usize = 64;
/// A certificate larger than this is decoded every time, never kept.
const MAX_KEPT_CERT_BYTES: usize = 16 * 1024;

impl std::fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustAnchors")
            .field("roots", &self.roots.len())
            .field("crl", &self.crl)
            .field("signer", &self.signer)
            .finish()
    }
}

impl TrustAnchors {
    /// One or more root certificates in one PEM bundle; an empty bundle is an error.
    pub fn from_pem(pem: &[u8]) -> Result<Self, CmsError> {
        let roots = X509::stack_from_pem(pem).map_err(ossl)?;
        if roots.is_empty() {
            return Err(CmsError::NoTrustAnchors);
        }
        let issuers = Arc::new(fast_path::issuers(&roots, &[]));
        Ok(Self {
            roots,
            crl: None,
            signer: Arc::default(),
            intermediates: Arc::default(),
            issuers,
            chains: Arc::default(),
        })
    }

    /// The same roots, with the chain checked against `policy`'s CRLs.
    pub fn with_crl(mut self, policy: CrlPolicy) -> Self {
        self.crl = Some(Arc::new(policy));
        self
    }

    /// The CRL policy the anchors check with, if any.
    pub fn crl(&self) -> Option<&CrlPolicy> {
        self.crl.as_deref()
    }

    /// The same roots, with the signer certificate held to `rules`.
    pub fn with_signer_rules(mut self, rules: SignerRules) -> Self {
        self.signer = Arc::new(rules);
        // Chains were built with the old rules' pinned CAs at hand.
        self.issuers = Arc::new(fast_path::issuers(&self.roots, self.signer.helpers()));
        self.chains = Arc::default();
        self
    }

    /// How many roots the bundle held.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// Always false for a constructed value; here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// `der` decoded by OpenSSL, from the kept ones when seen before.
    fn intermediate(&self, der: &[u8]) -> Result<X509, CmsError> {
        self.intermediate_keyed(openssl::sha::sha256(der), der)
    }

    /// [`Self::intermediate`] for `der` whose SHA-256 is `key`.
    fn intermediate_keyed(&self, key: [u8; 32], der: &[u8]) -> Result<X509, CmsError> {
        let lock = || {
            self.intermediates
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        };
        if let Some(x) = lock().get(&key) {
            return Ok(x.clone());
        }
        let x = X509::from_der(der).map_err(|_| CmsError::Decode)?;
        let mut kept = lock();
        if kept.len() >= MAX_KEPT_INTERMEDIATES {
            kept.clear();
        }
        kept.insert(key, x.clone());
        Ok(x)
    }
}

/// What the gateway asked to be signed, and where the CMS carries it.
#[derive(Debug, Clone, Copy)]
pub enum Content<'a> {
    /// Inside the CMS; it must equal these bytes exactly.
    Attached(&'a [u8]),
    /// Not inside the CMS; the signature is checked over these bytes.
    Detached(&'a [u8]),
    /// Not inside the CMS, and only its SHA-256 is at hand: the signer must use
    /// SHA-256 and the signed `messageDigest` must equal this exactly.
    DetachedSha256(&'a [u8; 32]),
}

impl Content<'_> {
    fn detached(self) -> bool {
        !matches!(self, Self::Attached(_))
    }
}

/// What the gateway expects of a signed result.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// What the gateway asked to be signed; the signed content (or, detached, the
    /// content or digest the signature is checked against) must equal it exactly.
    pub content: Content<'a>,
    /// The request window, Unix seconds: signingTime must lie in
    /// `[not_before - skew_secs, not_after + skew_secs]`.
    pub not_before: u64,
    pub not_after: u64,
    pub skew_secs: u64,
}

/// What a verified result says about its signer.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedCms {
    /// signingTime from the signed attributes, Unix seconds.
    pub signing_time: u64,
    /// The signer certificate's issuer, RFC 4514 string.
    pub signer_issuer: String,
    /// The signer certificate's serial, upper-case hex.
    pub signer_serial: String,
    /// The signer certificate's subject common name: the person's name (personal data).
    pub signer_common_name: String,
}

impl std::fmt::Debug for VerifiedCms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCms")
            .field("signing_time", &self.signing_time)
            .field("signer_issuer", &self.signer_issuer)
            .field("signer_serial", &self.signer_serial)
            .field("signer_common_name", &"..")
            .finish()
    }
}

/// Checks a provider's signed result completely (see the module docs) and returns
/// what it says about the signer.
pub fn verify(
    signed_data: &[u8],
    expect: &Expect<'_>,
    anchors: &TrustAnchors,
) -> Result<VerifiedCms, CmsError> {
    verify_traced(signed_data, expect, anchors).0
}

/// Which way [`verify_traced`] established the signer and its chain.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// `ring` verified the signatures, the CA's chain was remembered or built
    /// once (`fast_path.rs`).
    Fast,
    /// OpenSSL did it all, as [`verify_reference`] does.
    Reference,
}

/// [`verify`], saying which path decided: for the differential tests and the
/// bench, which must see the fast path taken.
#[doc(hidden)]
pub fn verify_traced(
    signed_data: &[u8],
    expect: &Expect<'_>,
    anchors: &TrustAnchors,
) -> (Result<VerifiedCms, CmsError>, Path) {
    let read = match Read::of(signed_data, expect) {
        Ok(read) => read,
        Err(e) => return (Err(e), Path::Reference),
    };
    match fast_path::establish(&read, expect.content, anchors) {
        Some(fast) => {
            let signer = match read.signer() {
                Ok(s) => s,
                Err(e) => return (Err(e), Path::Fast),
            };
            let checked = finish(&read, signer, &fast.above, fast.content, expect, anchors);
            let verified = checked.map(|()| VerifiedCms {
                signing_time: read.signing_time,
                signer_issuer: signer.tbs_certificate.issuer.to_string(),
                signer_serial: hex::encode_upper(&fast.serial),
                signer_common_name: fast.common_name,
            });
            (verified, Path::Fast)
        }
        None => (reference(read, expect, anchors), Path::Reference),
    }
}

/// [`verify`] with OpenSSL checking the signature and building the whole
/// chain, as every result was checked before the fast path: the reference
/// the fast path is tested against, and what decides whatever it does not
/// take.
#[doc(hidden)]
pub fn verify_reference(
    signed_data: &[u8],
    expect: &Expect<'_>,
    anchors: &TrustAnchors,
) -> Result<VerifiedCms, CmsError> {
    reference(Read::of(signed_data, expect)?, expect, anchors)
}

/// A SignedData read, its single signer's attributes checked and its signer
/// certificate found; no signature checked yet.
struct Read {
    /// Without its certificate set.
    sd: SignedData,
    /// The certificate set's certificates.
    certs: Vec<Certificate>,
    /// Which of `certs` the SignerInfo names.
    signer: usize,
    /// OpenSSL's own parse, when the input was not canonical DER.
    openssl_parse: Option<CmsContentInfo>,
    /// signingTime, Unix seconds.
    signing_time: u64,
}

impl Read {
    fn of(signed_data: &[u8], expect: &Expect<'_>) -> Result<Self, CmsError> {
        // `cms` reads canonical DER, and OpenSSL then verifies `cms`'s
        // re-encoding of it, byte for byte the input but for the order of the
        // certificate set (no signature covers it, and OpenSSL is given the
        // SignedData without it). Anything else (BER, or DER with a SET out
        // of order, which `cms` would silently sort and so change the signed
        // attributes' bytes) is parsed by OpenSSL, which verifies its own
        // parse of the input, and `cms` reads OpenSSL's DER re-encoding of it.
        let canonical = ContentInfo::from_der(signed_data).ok().and_then(|info| {
            if info.content_type != ID_SIGNED_DATA {
                return Some(Err(CmsError::NotSignedData));
            }
            let sd: SignedData = info.content.decode_as().ok()?;
            let same = info.to_der().ok()? == signed_data
                && same_but_certificate_order(&sd, &info.content.to_der().ok()?)?;
            same.then_some(Ok(sd))
        });
        let (mut sd, openssl_parse) = match canonical {
            Some(sd) => (sd?, None),
            None => {
                let parsed = CmsContentInfo::from_der(signed_data).map_err(|_| CmsError::Decode)?;
                let der = parsed.to_der().map_err(|_| CmsError::Decode)?;
                let info = ContentInfo::from_der(&der).map_err(|_| CmsError::Decode)?;
                if info.content_type != ID_SIGNED_DATA {
                    return Err(CmsError::NotSignedData);
                }
                let sd: SignedData = info.content.decode_as().map_err(|_| CmsError::Decode)?;
                (sd, Some(parsed))
            }
        };
        let cert_set = sd.certificates.take();

        let si = match sd.signer_infos.0.as_slice() {
            [si] => si,
            more => return Err(CmsError::SignerCount(more.len())),
        };
        if !ACCEPTED_DIGESTS.contains(&si.digest_alg.oid) {
            return Err(CmsError::UnsupportedAlgorithm);
        }
        // OpenSSL digests the content only with the algorithms the
        // SignedData lists: the signer's must be one of them.
        if !sd
            .digest_algorithms
            .iter()
            .any(|a| a.oid == si.digest_alg.oid)
        {
            return Err(CmsError::UnsupportedAlgorithm);
        }
        // OpenSSL 3.0's CMS_verify leaks its copy of supplied content when it
        // cannot set up a digest the SignedData lists: refused here first.
        if !sd.digest_algorithms.iter().all(|a| openssl_digests(a.oid)) {
            return Err(CmsError::UnsupportedAlgorithm);
        }
        if sd.encap_content_info.econtent_type != ID_DATA {
            return Err(CmsError::UnexpectedContentType);
        }
        let detached = sd.encap_content_info.econtent.is_none();
        if detached != expect.content.detached() {
            return Err(CmsError::Encapsulation { detached });
        }
        // Only a SHA-256 messageDigest can be compared with a document's SHA-256.
        if matches!(expect.content, Content::DetachedSha256(_)) && si.digest_alg.oid != ID_SHA256 {
            return Err(CmsError::UnsupportedAlgorithm);
        }

        let attrs = si
            .signed_attrs
            .as_ref()
            .ok_or(CmsError::MissingSignedAttributes)?;
        let content_type = single_attr(attrs, ID_CONTENT_TYPE)?
            .ok_or(CmsError::BadSignedAttributes("no contentType"))?
            .decode_as::<ObjectIdentifier>()
            .map_err(|_| CmsError::BadSignedAttributes("contentType is not an OID"))?;
        if content_type != sd.encap_content_info.econtent_type {
            return Err(CmsError::BadSignedAttributes(
                "contentType differs from the content",
            ));
        }
        let signing_time = single_attr(attrs, ID_SIGNING_TIME)?
            .ok_or(CmsError::MissingSigningTime)?
            .to_der()
            .ok()
            .and_then(|t| x509_cert::time::Time::from_der(&t).ok())
            .ok_or(CmsError::BadSignedAttributes("signingTime is not a Time"))?
            .to_unix_duration()
            .as_secs();

        // The signer certificate, found by the SignerInfo's sid, is the only one
        // either path lets verify the signature (OpenSSL: NOINTERN), so the
        // certificate chain-checked is the one whose key verified it.
        let certs: Vec<Certificate> = cert_set
            .map(|set| set.0.into_vec())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| match c {
                CertificateChoices::Certificate(c) => Some(c),
                CertificateChoices::Other(_) => None,
            })
            .collect();
        let signer = {
            let mut matching = certs
                .iter()
                .enumerate()
                .filter(|(_, c)| sid_matches(&si.sid, c));
            match (matching.next(), matching.next()) {
                (Some((i, _)), None) => i,
                _ => return Err(CmsError::SignerCertificate),
            }
        };
        Ok(Self {
            sd,
            certs,
            signer,
            openssl_parse,
            signing_time,
        })
    }

    fn signer_info(&self) -> Result<&cms::signed_data::SignerInfo, CmsError> {
        self.sd
            .signer_infos
            .0
            .as_slice()
            .first()
            .ok_or(CmsError::SignerCount(0))
    }

    fn attrs(&self) -> Result<&Attributes, CmsError> {
        self.signer_info()?
            .signed_attrs
            .as_ref()
            .ok_or(CmsError::MissingSignedAttributes)
    }

    fn signer(&self) -> Result<&Certificate, CmsError> {
        self.certs
            .get(self.signer)
            .ok_or(CmsError::SignerCertificate)
    }
}

/// OpenSSL verifies the signature with the signer certificate and builds and
/// checks its chain; then the checks both paths share.
fn reference(
    mut read: Read,
    expect: &Expect<'_>,
    anchors: &TrustAnchors,
) -> Result<VerifiedCms, CmsError> {
    let own_parse = read.openssl_parse.take();
    let signer = read.signer()?;
    let signer_der = signer
        .to_der()
        .map_err(|_| CmsError::Internal("re-encoding the signer certificate"))?;
    let signer_x509 = X509::from_der(&signer_der).map_err(|_| CmsError::Decode)?;
    let mut parsed = match own_parse {
        Some(parsed) => parsed,
        None => {
            // The same SignedData without its certificate set, for OpenSSL.
            let bare = ContentInfo {
                content_type: ID_SIGNED_DATA,
                content: der::Any::encode_from(&read.sd)
                    .map_err(|_| CmsError::Internal("re-encoding the SignedData"))?,
            }
            .to_der()
            .map_err(|_| CmsError::Internal("re-encoding the SignedData"))?;
            CmsContentInfo::from_der(&bare).map_err(|_| CmsError::Decode)?
        }
    };

    let mut only_signer = Stack::new().map_err(ossl)?;
    only_signer.push(signer_x509.clone()).map_err(ossl)?;
    let mut content = Vec::new();
    let mut flags = CMSOptions::NO_SIGNER_CERT_VERIFY | CMSOptions::NOINTERN | CMSOptions::BINARY;
    let supplied = match expect.content {
        Content::Attached(_) => None,
        Content::Detached(c) => Some(c),
        // No content to digest: OpenSSL checks the signature over the signed
        // attributes (present, checked above) and the messageDigest is compared
        // below. An empty stand-in keeps OpenSSL from asking for content.
        Content::DetachedSha256(_) => {
            flags |= CMSOptions::NO_CONTENT_VERIFY;
            Some(&b""[..])
        }
    };
    parsed
        .verify(
            Some(&only_signer),
            None,
            supplied,
            Some(&mut content),
            flags,
        )
        .map_err(|_| CmsError::Signature)?;

    // A CA's own key is never a citizen's.
    if profile::is_ca(signer) {
        return Err(CmsError::CaSigner);
    }

    let mut intermediates = read
        .certs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != read.signer)
        .map(|(_, c)| {
            let der = c
                .to_der()
                .map_err(|_| CmsError::Internal("re-encoding a certificate"))?;
            if profile::is_ca(c) && der.len() <= MAX_KEPT_CERT_BYTES {
                anchors.intermediate(&der)
            } else {
                X509::from_der(&der).map_err(|_| CmsError::Decode)
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    intermediates.extend(anchors.signer.helpers().iter().cloned());
    let chain = check_chain(anchors, &signer_x509, &intermediates, read.signing_time)?;
    finish(
        &read,
        signer,
        chain.get(1..).unwrap_or_default(),
        &content,
        expect,
        anchors,
    )?;

    let signer_common_name = {
        let mut cns = signer_x509.subject_name().entries_by_nid(Nid::COMMONNAME);
        match (cns.next(), cns.next()) {
            (Some(cn), None) => cn
                .data()
                .to_string()
                .map_err(|_| CmsError::MissingSignerName)?,
            _ => return Err(CmsError::MissingSignerName),
        }
    };
    let signer_serial = signer_x509
        .serial_number()
        .to_bn()
        .and_then(|bn| bn.to_hex_str().map(|s| s.to_ascii_uppercase()))
        .map_err(ossl)?;
    Ok(VerifiedCms {
        signing_time: read.signing_time,
        signer_issuer: signer.tbs_certificate.issuer.to_string(),
        signer_serial,
        signer_common_name,
    })
}

/// The checks after the signature and the chain, the same on both paths:
/// `above` is the signer's verified chain above it (its issuer first), and
/// `content` what the signature covers.
fn finish(
    read: &Read,
    signer: &Certificate,
    above: &[X509],
    content: &[u8],
    expect: &Expect<'_>,
    anchors: &TrustAnchors,
) -> Result<(), CmsError> {
    anchors.signer.check(signer, above.first())?;
    if let Some(policy) = &anchors.crl {
        // Every certificate below the root against its issuer's CRL: the
        // signer against its CA's, each CA against the CA (or root) above it.
        let now = unix_now();
        let signed_at = i64::try_from(read.signing_time).unwrap_or(i64::MAX);
        if let Some(issuer) = above.first() {
            let serial = serial_of(signer)?;
            policy.check(
                signer,
                &serial,
                issuer,
                revocation::Level::Signer,
                now,
                signed_at,
            )?;
        }
        for pair in above.windows(2) {
            if let [cert, issuer] = pair {
                let der = cert.to_der().map_err(ossl)?;
                let parsed = Certificate::from_der(&der).map_err(|_| CmsError::Decode)?;
                policy.check(
                    &parsed,
                    cert.serial_number(),
                    issuer,
                    revocation::Level::Ca,
                    now,
                    signed_at,
                )?;
            }
        }
    }
    check_key_usage(signer)?;

    let (got, want): (&[u8], &[u8]) = match expect.content {
        Content::Attached(want) | Content::Detached(want) => (content, want),
        Content::DetachedSha256(want) => (message_digest(read.attrs()?)?, want),
    };
    if got.len() != want.len() || !bool::from(got.ct_eq(want)) {
        return Err(CmsError::ContentMismatch);
    }
    let lo = expect.not_before.saturating_sub(expect.skew_secs);
    let hi = expect.not_after.saturating_add(expect.skew_secs);
    if !(lo..=hi).contains(&read.signing_time) {
        return Err(CmsError::SigningTimeOutsideWindow);
    }
    Ok(())
}

/// `cert`'s serial as OpenSSL holds one, negative ones too (a non-conforming
/// CA's), to look it up in a CRL.
fn serial_of(cert: &Certificate) -> Result<Asn1Integer, CmsError> {
    let der = cert
        .tbs_certificate
        .serial_number
        .to_der()
        .map_err(|_| CmsError::Internal("re-encoding a serial number"))?;
    // The INTEGER's content octets as encoded: two's complement, sign kept.
    let value = der::asn1::AnyRef::from_der(&der).map_err(|_| CmsError::Decode)?;
    let bytes = value.value();
    let mut n = BigNum::from_slice(bytes).map_err(ossl)?;
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        // Two's complement: the value is the unsigned reading less 2^(8·len).
        let mut offset = BigNum::new().map_err(ossl)?;
        let bits = i32::try_from(bytes.len().saturating_mul(8)).map_err(|_| CmsError::Decode)?;
        offset.set_bit(bits).map_err(ossl)?;
        let mut negative = BigNum::new().map_err(ossl)?;
        negative.checked_sub(&n, &offset).map_err(ossl)?;
        n = negative;
    }
    n.to_asn1_integer().map_err(ossl)
}

/// Whether `sd` re-encodes to `original` byte for byte, but for the order of
/// its certificate set (the same certificates, each byte for byte): `der`
/// orders a SET OF certificates of equal length differently from OpenSSL,
/// which wrote most results.
fn same_but_certificate_order(sd: &SignedData, original: &[u8]) -> Option<bool> {
    use der::{EncodeValue as _, Tagged as _};
    let ours = sd.to_der().ok()?;
    if ours == original {
        return Some(true);
    }
    if ours.len() != original.len() {
        return Some(false);
    }
    let certs = match &sd.certificates {
        Some(set) => usize::try_from(set.encoded_len().ok()?).ok()?,
        None => return Some(false),
    };
    let body = usize::try_from(
        (sd.version.encoded_len().ok()?
            + sd.digest_algorithms.encoded_len().ok()?
            + sd.encap_content_info.encoded_len().ok()?)
        .ok()?,
    )
    .ok()?;
    let header = ours
        .len()
        .checked_sub(usize::try_from(sd.value_len().ok()?).ok()?)?;
    let start = header.checked_add(body)?;
    let end = start.checked_add(certs)?;
    // Re-encoding never lengthens a field, so with the same total length the
    // certificate field starts and ends at the same offsets in both.
    let theirs = der::asn1::AnyRef::from_der(original.get(start..end)?).ok()?;
    let mine = der::asn1::AnyRef::from_der(ours.get(start..end)?).ok()?;
    Some(
        ours.get(..start)? == original.get(..start)?
            && ours.get(end..)? == original.get(end..)?
            && theirs.tag() == mine.tag()
            && sorted_elements(theirs.value())? == sorted_elements(mine.value())?,
    )
}

/// The encodings of the TLVs `bytes` holds one after another, sorted.
fn sorted_elements(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    use der::Reader as _;
    let mut reader = der::SliceReader::new(bytes).ok()?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        let at = usize::try_from(reader.position()).ok()?;
        der::asn1::AnyRef::decode(&mut reader).ok()?;
        let to = usize::try_from(reader.position()).ok()?;
        out.push(bytes.get(at..to)?);
    }
    out.sort_unstable();
    Some(out)
}

/// Whether OpenSSL can set up digest `oid` (the accepted ones, or one its
/// default provider computes).
fn openssl_digests(oid: ObjectIdentifier) -> bool {
    ACCEPTED_DIGESTS.contains(&oid)
        || openssl::asn1::Asn1Object::from_str(&oid.to_string())
            .ok()
            .and_then(|o| openssl::hash::MessageDigest::from_nid(o.nid()))
            .is_some_and(|md| openssl::hash::Hasher::new(md).is_ok())
}

/// The value of the single `messageDigest` signed attribute.
fn message_digest(attrs: &Attributes) -> Result<&[u8], CmsError> {
    let v = single_attr(attrs, ID_MESSAGE_DIGEST)?
        .ok_or(CmsError::BadSignedAttributes("no messageDigest"))?;
    if der::Tagged::tag(v) != der::Tag::OctetString {
        return Err(CmsError::BadSignedAttributes(
            "messageDigest is not an OCTET STRING",
        ));
    }
    Ok(v.value())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The single value of the single attribute `oid`, if present; two attributes or
/// two values are malformed.
fn single_attr(
    attrs: &Attributes,
    oid: ObjectIdentifier,
) -> Result<Option<&AttributeValue>, CmsError> {
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    let attr = match (found.next(), found.next()) {
        (None, _) => return Ok(None),
        (Some(a), None) => a,
        (Some(_), Some(_)) => return Err(CmsError::BadSignedAttributes("attribute repeated")),
    };
    let mut values = attr.values.iter();
    match (values.next(), values.next()) {
        (Some(v), None) => Ok(Some(v)),
        _ => Err(CmsError::BadSignedAttributes(
            "attribute without exactly one value",
        )),
    }
}

fn sid_matches(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    let tbs = &cert.tbs_certificate;
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            ias.issuer == tbs.issuer && ias.serial_number == tbs.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => tbs
            .extensions
            .iter()
            .flatten()
            .filter(|e| e.extn_id == x509_cert::ext::pkix::SubjectKeyIdentifier::OID)
            .filter_map(|e| {
                x509_cert::ext::pkix::SubjectKeyIdentifier::from_der(e.extn_value.as_bytes()).ok()
            })
            .any(|own| own == *ski),
    }
}

/// The certificate must allow signatures: KeyUsage present with digitalSignature
/// or nonRepudiation.
fn check_key_usage(cert: &Certificate) -> Result<(), CmsError> {
    use x509_cert::ext::pkix::KeyUsage;
    let mut kus = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == KeyUsage::OID);
    let ext = match (kus.next(), kus.next()) {
        (Some(e), None) => e,
        _ => return Err(CmsError::KeyUsage),
    };
    let ku = KeyUsage::from_der(ext.extn_value.as_bytes()).map_err(|_| CmsError::KeyUsage)?;
    if ku.digital_signature() || ku.non_repudiation() {
        Ok(())
    } else {
        Err(CmsError::KeyUsage)
    }
}

/// Chains `leaf` (with `intermediates` as untrusted helpers) to one of `anchors`,
/// with every validity period checked at `at` rather than now; the chain
/// OpenSSL built, `leaf` first and the root last.
fn check_chain(
    anchors: &TrustAnchors,
    leaf: &X509,
    intermediates: &[X509],
    at: u64,
) -> Result<Vec<X509>, CmsError> {
    let mut param = X509VerifyParam::new().map_err(ossl)?;
    param.set_time(
        at.try_into()
            .map_err(|_| CmsError::CertNotValidAtSigningTime)?,
    );
    param.set_auth_level(AUTH_LEVEL);
    let mut store = X509StoreBuilder::new().map_err(ossl)?;
    for root in &anchors.roots {
        store.add_cert(root.clone()).map_err(ossl)?;
    }
    store.set_param(&param).map_err(ossl)?;
    let store = store.build();
    let mut chain = Stack::new().map_err(ossl)?;
    for c in intermediates {
        chain.push(c.clone()).map_err(ossl)?;
    }
    let mut ctx = X509StoreContext::new().map_err(ossl)?;
    let (ok, err, depth, built) = ctx
        .init(&store, leaf, &chain, |c| {
            let ok = c.verify_cert()?;
            let built: Vec<X509> = c
                .chain()
                .map(|s| s.iter().map(|x| x.to_owned()).collect())
                .unwrap_or_default();
            Ok((ok, c.error(), c.error_depth(), built))
        })
        .map_err(ossl)?;
    if ok {
        return Ok(built);
    }
    let time_error = matches!(
        err.as_raw(),
        X509_V_ERR_CERT_NOT_YET_VALID | X509_V_ERR_CERT_HAS_EXPIRED
    );
    if time_error && depth == 0 {
        Err(CmsError::CertNotValidAtSigningTime)
    } else {
        Err(CmsError::Chain(err.error_string().to_owned()))
    }
}

#[cfg(test)]
mod tests {
    //! The checks no public call reaches alone; everything else about
    //! [`verify`] is tested through it in `tests/cms.rs`. The PKI comes from
    //! `munjigi-sim` (a dev-dependency): only openssl types cross over.
    use super::*;
    use munjigi_sim::testpki::{ProviderPki, Subscriber};
    use std::sync::OnceLock;

    struct Fixture {
        pki: ProviderPki,
        alice: Subscriber,
        anchors: TrustAnchors,
    }

    fn fx() -> &'static Fixture {
        static F: OnceLock<Fixture> = OnceLock::new();
        F.get_or_init(|| {
            let pki = ProviderPki::generate("Alpha").unwrap();
            let alice = pki.issue_subscriber("홍길동", "ALPHA-UID-1", None).unwrap();
            let anchors = TrustAnchors::from_pem(&pki.root_pem().unwrap()).unwrap();
            Fixture {
                pki,
                alice,
                anchors,
            }
        })
    }

    fn now() -> u64 {
        u64::try_from(unix_now()).unwrap()
    }

    /// The chain is checked at the given time, not at the wall clock.
    #[test]
    fn chain_check_uses_the_signing_time() {
        let f = fx();
        let ca = [f.pki.ca().clone()];
        check_chain(&f.anchors, &f.alice.cert, &ca, now()).unwrap();
        let year = 365 * 24 * 3600;
        // After the subscriber's three years, inside the CA's ten: the leaf is at fault.
        assert_eq!(
            check_chain(&f.anchors, &f.alice.cert, &ca, now() + 5 * year).unwrap_err(),
            CmsError::CertNotValidAtSigningTime
        );
        // After the CA and root expired too: a chain error naming the reason.
        assert_eq!(
            check_chain(&f.anchors, &f.alice.cert, &ca, now() + 50 * year).unwrap_err(),
            CmsError::Chain("certificate has expired".into())
        );
        // Before the whole PKI existed: OpenSSL checks from the root down, so the
        // root's not-yet-valid is reported, as a chain error.
        assert_eq!(
            check_chain(&f.anchors, &f.alice.cert, &ca, now() - 7 * 24 * 3600).unwrap_err(),
            CmsError::Chain("certificate is not yet valid".into())
        );
    }

    #[test]
    fn key_usage_must_allow_signatures() {
        let f = fx();
        let parse = |c: &X509| Certificate::from_der(&c.to_der().unwrap()).unwrap();
        check_key_usage(&parse(&f.alice.cert)).unwrap();
        // The CA may sign certificates and CRLs, not content.
        assert_eq!(
            check_key_usage(&parse(f.pki.ca())).unwrap_err(),
            CmsError::KeyUsage
        );
        // No KeyUsage at all is refused too.
        let mut cert = parse(&f.alice.cert);
        cert.tbs_certificate
            .extensions
            .as_mut()
            .unwrap()
            .retain(|e| e.extn_id != x509_cert::ext::pkix::KeyUsage::OID);
        assert_eq!(check_key_usage(&cert).unwrap_err(), CmsError::KeyUsage);
    }
}
