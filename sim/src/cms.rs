//! CMS SignedData as providers write it, for the simulator and tests: signing
//! ([`sign`], [`sign_sha256_detached`]), re-signing altered signed attributes
//! ([`resign_signed_attrs`], for results a real app would not send) and
//! re-encoding DER as the BER with indefinite lengths streaming signers emit
//! ([`reencode`]).
//!
//! Here, not in `munjigi_providers::cms`, because the gateway only ever
//! verifies: a production build carries no code that makes a signature or
//! writes BER. [`Encoding`] (how a provider encodes its results) is a fact of
//! the provider tables and stays there; it is re-exported for callers.
//!
//! Not here: any check of a signature (`munjigi_providers::cms::verify`).

use der::asn1::ObjectIdentifier;
use der::{Decode as _, Encode as _};
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::stack::Stack;
use openssl::x509::X509;
use x509_cert::attr::Attributes;

use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;

pub use munjigi_providers::cms::{CmsError, Encoding};

use crate::testpki::Subscriber;

const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");

fn ossl(e: openssl::error::ErrorStack) -> CmsError {
    CmsError::Openssl(e.to_string())
}

/// Signs `content` with SHA-256 and the signed attributes contentType, signingTime
/// (now) and messageDigest; the SignedData carries the signer certificate and the
/// `chain` certificates.
pub fn sign(
    content: &[u8],
    signer: &Subscriber,
    chain: &[X509],
    encoding: Encoding,
) -> Result<Vec<u8>, CmsError> {
    let mut certs = Stack::new().map_err(ossl)?;
    for c in chain {
        certs.push(c.clone()).map_err(ossl)?;
    }
    let mut flags = CMSOptions::BINARY | CMSOptions::NOSMIMECAP;
    if encoding.is_detached() {
        flags |= CMSOptions::DETACHED;
    }
    let signed = CmsContentInfo::sign(
        Some(&signer.cert),
        Some(&signer.key),
        Some(&certs),
        Some(content),
        flags,
    )
    .map_err(ossl)?;
    let der = signed.to_der().map_err(ossl)?;
    reencode(&der, encoding)
}

/// Signs a detached SignedData whose `messageDigest` is `sha256`, the digest of
/// content the signer never sees (a document hash): what [`Content::DetachedSha256`]
/// verifies. `encoding` must be a detached one.
pub fn sign_sha256_detached(
    sha256: &[u8; 32],
    signer: &Subscriber,
    chain: &[X509],
    encoding: Encoding,
) -> Result<Vec<u8>, CmsError> {
    if !encoding.is_detached() {
        return Err(CmsError::Internal("a digest-only signature is detached"));
    }
    // Sign anything detached, then put the digest into the signed attributes and
    // sign them again: OpenSSL's safe API cannot take a precomputed digest.
    let der = sign(b"", signer, chain, Encoding::DerDetached)?;
    let value = der::Any::encode_from(
        &der::asn1::OctetString::new(sha256.as_slice())
            .map_err(|_| CmsError::Internal("encoding messageDigest"))?,
    )
    .map_err(|_| CmsError::Internal("encoding messageDigest"))?;
    let der = resign_signed_attrs(&der, signer, |attrs| {
        for a in attrs.iter_mut().filter(|a| a.oid == ID_MESSAGE_DIGEST) {
            a.values = vec![value.clone()]
                .try_into()
                .map_err(|_| CmsError::Internal("encoding messageDigest"))?;
        }
        Ok(())
    })?;
    reencode(&der, encoding)
}

/// Changes the signed attributes of DER SignedData with one signer (from
/// [`sign`]) and signs them again with `signer`'s key (SHA-256, PKCS #1 v1.5, as
/// OpenSSL signs), so everything the change does not touch still verifies. For
/// the simulator, which must produce results a real app would not.
pub fn resign_signed_attrs(
    der: &[u8],
    signer: &Subscriber,
    edit: impl FnOnce(&mut Vec<x509_cert::attr::Attribute>) -> Result<(), CmsError>,
) -> Result<Vec<u8>, CmsError> {
    let shape = |_| CmsError::Internal("unexpected SignedData shape");
    let mut info = ContentInfo::from_der(der).map_err(shape)?;
    let mut sd: SignedData = info.content.decode_as().map_err(shape)?;
    let mut infos = sd.signer_infos.0.into_vec();
    let si = match infos.as_mut_slice() {
        [si] => si,
        more => return Err(CmsError::SignerCount(more.len())),
    };
    let mut attrs = si
        .signed_attrs
        .take()
        .ok_or(CmsError::MissingSignedAttributes)?
        .into_vec();
    edit(&mut attrs)?;
    let attrs: Attributes = attrs.try_into().map_err(shape)?;
    // The signature covers the DER of the attributes as a SET OF.
    let to_sign = attrs.to_der().map_err(shape)?;
    let mut s = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &signer.key)
        .map_err(ossl)?;
    s.update(&to_sign).map_err(ossl)?;
    let sig = s.sign_to_vec().map_err(ossl)?;
    si.signature = der::asn1::OctetString::new(sig).map_err(shape)?;
    si.signed_attrs = Some(attrs);
    sd.signer_infos = cms::signed_data::SignerInfos(infos.try_into().map_err(shape)?);
    info.content = der::Any::encode_from(&sd).map_err(shape)?;
    info.to_der().map_err(shape)
}

/// Re-encodes DER SignedData (from [`sign`] or [`sign_sha256_detached`]) as
/// `encoding`, for callers that alter the DER first (the simulator's tampering)
/// and still need the provider's encoding. Attaching or detaching is not a
/// re-encoding and is refused.
pub fn reencode(der: &[u8], encoding: Encoding) -> Result<Vec<u8>, CmsError> {
    let shape = |_| CmsError::Internal("unexpected SignedData shape");
    let sd: SignedData = ContentInfo::from_der(der)
        .map_err(shape)?
        .content
        .decode_as()
        .map_err(shape)?;
    if sd.encap_content_info.econtent.is_none() != encoding.is_detached() {
        return Err(CmsError::Internal("cannot attach or detach by re-encoding"));
    }
    match encoding {
        Encoding::DerAttached | Encoding::DerDetached => Ok(der.to_vec()),
        Encoding::BerIndefiniteAttached | Encoding::BerIndefiniteDetached => ber::indefinite(der),
    }
}

/// [`reencode`] for attached SignedData.
pub fn reencode_attached(der: &[u8], encoding: Encoding) -> Result<Vec<u8>, CmsError> {
    if encoding.is_detached() {
        return Err(CmsError::Internal("cannot detach by re-encoding"));
    }
    reencode(der, encoding)
}

/// DER → BER with indefinite lengths, the way streaming signers write SignedData:
/// ContentInfo, SignedData, EncapsulatedContentInfo and the `[0]` wrappers get
/// indefinite lengths, the content (if attached) becomes a constructed OCTET
/// STRING of small chunks. Certificates and SignerInfos stay DER (their signatures cover DER).
/// The `der` crate splits the input; only the indefinite headers are written here.
mod ber {
    use super::CmsError;
    use der::{Decode as _, Header, Reader as _, SliceReader};

    const CHUNK: usize = 32;
    const EOC: [u8; 2] = [0x00, 0x00];
    const SEQUENCE: u8 = 0x30;
    const EXPLICIT_0: u8 = 0xA0;
    const OCTET_STRING: u8 = 0x04;
    const CONSTRUCTED_OCTET_STRING: u8 = 0x24;
    const INDEFINITE: u8 = 0x80;

    fn shape(_: der::Error) -> CmsError {
        CmsError::Internal("unexpected SignedData shape")
    }

    /// The value bytes of one DER element.
    fn value(tlv: &[u8]) -> Result<&[u8], CmsError> {
        let mut r = SliceReader::new(tlv).map_err(shape)?;
        let header = Header::decode(&mut r).map_err(shape)?;
        let v = r.read_slice(header.length).map_err(shape)?;
        r.finish(v).map_err(shape)
    }

    /// The elements inside one constructed DER element.
    fn children(tlv: &[u8]) -> Result<Vec<&[u8]>, CmsError> {
        let mut r = SliceReader::new(value(tlv)?).map_err(shape)?;
        let mut out = Vec::new();
        while !r.is_finished() {
            out.push(r.tlv_bytes().map_err(shape)?);
        }
        Ok(out)
    }

    fn open(out: &mut Vec<u8>, tag: u8) {
        out.extend_from_slice(&[tag, INDEFINITE]);
    }

    pub(super) fn indefinite(der: &[u8]) -> Result<Vec<u8>, CmsError> {
        let bad = || CmsError::Internal("unexpected SignedData shape");
        // ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT SignedData }
        let ci = children(der)?;
        let [content_type, explicit] = ci.as_slice() else {
            return Err(bad());
        };
        let inner = children(explicit)?;
        let [signed_data] = inner.as_slice() else {
            return Err(bad());
        };
        // SignedData ::= SEQUENCE { version, digestAlgorithms, encapContentInfo, ... }
        let sd = children(signed_data)?;
        let [version, digest_algs, encap, rest @ ..] = sd.as_slice() else {
            return Err(bad());
        };
        // EncapsulatedContentInfo ::= SEQUENCE { eContentType, [0] EXPLICIT OCTET
        // STRING OPTIONAL }: without the [0] when the content is detached.
        let ec = children(encap)?;
        let (econtent_type, content) = match ec.as_slice() {
            [econtent_type, econtent] => {
                let octets = children(econtent)?;
                let [octets] = octets.as_slice() else {
                    return Err(bad());
                };
                (*econtent_type, Some(value(octets)?))
            }
            [econtent_type] => (*econtent_type, None),
            _ => return Err(bad()),
        };

        let content_len = content.map_or(0, <[u8]>::len);
        let mut out = Vec::with_capacity(der.len() + 64 + content_len / CHUNK * 2);
        open(&mut out, SEQUENCE);
        out.extend_from_slice(content_type);
        open(&mut out, EXPLICIT_0);
        open(&mut out, SEQUENCE);
        out.extend_from_slice(version);
        out.extend_from_slice(digest_algs);
        open(&mut out, SEQUENCE);
        out.extend_from_slice(econtent_type);
        if let Some(content) = content {
            open(&mut out, EXPLICIT_0);
            open(&mut out, CONSTRUCTED_OCTET_STRING);
            for chunk in content.chunks(CHUNK) {
                // CHUNK < 128, so the length fits the one-byte short form.
                let len = u8::try_from(chunk.len()).map_err(|_| bad())?;
                out.extend_from_slice(&[OCTET_STRING, len]);
                out.extend_from_slice(chunk);
            }
            out.extend_from_slice(&EOC); // constructed OCTET STRING
            out.extend_from_slice(&EOC); // [0] eContent
        }
        out.extend_from_slice(&EOC); // EncapsulatedContentInfo
        for element in rest {
            out.extend_from_slice(element);
        }
        out.extend_from_slice(&EOC); // SignedData
        out.extend_from_slice(&EOC); // [0] content
        out.extend_from_slice(&EOC); // ContentInfo
        Ok(out)
    }
}
