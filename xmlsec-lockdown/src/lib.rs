//! libxmlsec1 and libxml2, locked down once per process.
//!
//! samael verifies XML signatures through libxmlsec1 with its defaults: any
//! `Reference/@URI` is dereferenced (http, ftp, file: xmlsec's IO callbacks
//! are libxml2's own), any transform in xmlsec's global list may run (XSLT,
//! XPath, XPath 2 filter, XPointer), and libxml2 loads external entities. Its
//! wrapper module is private, so none of this can be set per verification.
//! The gateway's scan (`munjigi::saml::inbound`) already refuses every such
//! signature before xmlsec sees it; this crate is the second wall, for the day
//! the scan and libxml2 read a message differently again (issue 14, item 11:
//! a UTF-7 declaration once smuggled a second `ds:Reference` past the scan).
//!
//! [`lock_down`] runs once, after samael's global xmlsec initialisation
//! (which it triggers itself), and before any signature is verified:
//! - XSLT, XPath, XPath 2 filter and XPointer transforms are taken out of
//!   xmlsec's global transform list (`xmlSecTransformIdsGet`), so a
//!   `ds:Transform` naming one fails as unknown, before it runs;
//! - xmlsec's IO callbacks are cleared (`xmlSecIOCleanupCallbacks`), so no
//!   Reference URI other than a same-document `#id` can be opened at all;
//! - libxml2's external entity loader refuses everything
//!   (`xmlSetExternalEntityLoader`), for DTDs, entities and XSLT's `document()`.
//!
//! Why a crate of its own: the workspace forbids `unsafe`, and calling C is
//! all this crate does, so the unsafe code lives here and nowhere else. The
//! symbols come from the libxmlsec1 and libxml2 that samael's build already
//! links; their signatures are copied from `/usr/include/xmlsec1/xmlsec/*.h`
//! (xmlsec 1.2, built with `XMLSEC_NO_SIZE_T`: `xmlSecSize` is `unsigned
//! int`) and `/usr/include/libxml2/libxml/parserInternals.h`.
//!
//! Not here: recover mode. samael parses with libxml2's recover mode and no
//! per-call option reaches it; the gateway instead hands on only messages a
//! strict libxml2 parse reads exactly as the scan did (`saml::parity`).

#![allow(unsafe_code)]

use samael::crypto::CryptoProvider as _;
use std::ffi::{c_char, c_int, c_uint, c_void};
use std::sync::OnceLock;

/// `xmlSecPtrListPtr` and `xmlSecTransformId`: only ever passed back to C.
type PtrList = *mut c_void;
type TransformId = *const c_void;

#[link(name = "xmlsec1")]
extern "C" {
    fn xmlSecTransformIdsGet() -> PtrList;
    fn xmlSecPtrListGetSize(list: PtrList) -> c_uint;
    fn xmlSecPtrListGetItem(list: PtrList, pos: c_uint) -> *mut c_void;
    fn xmlSecPtrListEmpty(list: PtrList);
    fn xmlSecPtrListAdd(list: PtrList, item: *mut c_void) -> c_int;
    fn xmlSecTransformXsltGetKlass() -> TransformId;
    fn xmlSecTransformXPathGetKlass() -> TransformId;
    fn xmlSecTransformXPath2GetKlass() -> TransformId;
    fn xmlSecTransformXPointerGetKlass() -> TransformId;
    fn xmlSecIOCleanupCallbacks();
}

/// `xmlExternalEntityLoader`: `(URL, ID, xmlParserCtxtPtr) -> xmlParserInputPtr`.
type EntityLoader = extern "C" fn(*const c_char, *const c_char, *mut c_void) -> *mut c_void;

#[link(name = "xml2")]
extern "C" {
    fn xmlSetExternalEntityLoader(loader: Option<EntityLoader>);
}

/// The loader libxml2 gets: no external entity, DTD or document, ever.
extern "C" fn refuse_every_entity(
    _url: *const c_char,
    _id: *const c_char,
    _ctxt: *mut c_void,
) -> *mut c_void {
    std::ptr::null_mut()
}

/// What the lock-down did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Transforms taken out of xmlsec's global list (4 with XSLT support).
    pub removed: usize,
    /// Transforms left (c14n, enveloped-signature, digests, signatures...).
    pub kept: usize,
}

/// Why the lock-down failed: the process must not verify signatures then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed(pub &'static str);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "xmlsec lock-down failed: {}", self.0)
    }
}

impl std::error::Error for Failed {}

/// Locks xmlsec and libxml2 down, once per process; later calls return the
/// first outcome. Call it before the first signature verification: the
/// gateway does so in `saml::binding::verify` and at start-up.
pub fn lock_down() -> Result<&'static Report, Failed> {
    static DONE: OnceLock<Result<Report, Failed>> = OnceLock::new();
    DONE.get_or_init(run).as_ref().map_err(|e| *e)
}

fn run() -> Result<Report, Failed> {
    // samael initialises xmlsec lazily, on the first key it loads: have it
    // load a throw-away certificate (a valid one, so xmlsec logs no error;
    // the document has no signature, so nothing is verified).
    let cert = throwaway_cert().ok_or(Failed("could not make a certificate"))?;
    let _ = samael::crypto::Crypto::verify_signed_xml(b"<x/>", &cert, None);

    // SAFETY: xmlsec is initialised (above; checked below through the list's
    // size), and nothing else in the process uses xmlsec while this runs:
    // `lock_down` is called before any verification and runs once.
    let list = unsafe { xmlSecTransformIdsGet() };
    if list.is_null() {
        return Err(Failed("xmlsec has no transform list"));
    }
    // SAFETY: `list` is xmlsec's valid global list.
    let size = unsafe { xmlSecPtrListGetSize(list) };
    if size == 0 {
        return Err(Failed("xmlsec was not initialised (empty transform list)"));
    }
    // SAFETY: these return pointers to static klass structures.
    let banned: [TransformId; 4] = unsafe {
        [
            xmlSecTransformXsltGetKlass(),
            xmlSecTransformXPathGetKlass(),
            xmlSecTransformXPath2GetKlass(),
            xmlSecTransformXPointerGetKlass(),
        ]
    };
    let mut kept = Vec::new();
    let mut removed = 0;
    for pos in 0..size {
        // SAFETY: `pos` is below the list's size.
        let item = unsafe { xmlSecPtrListGetItem(list, pos) };
        if item.is_null() {
            continue;
        }
        if banned.contains(&(item as TransformId)) {
            removed += 1;
        } else {
            kept.push(item);
        }
    }
    // xmlSecPtrListRemove leaves a NULL hole that xmlsec's look-up by href
    // treats as the end of the list: rebuild the list without the banned.
    // SAFETY: the transform-id list owns nothing (no destroy callback): the
    // klass pointers stay valid, emptied and re-added in their order.
    unsafe { xmlSecPtrListEmpty(list) };
    for item in &kept {
        // SAFETY: `item` came from this list a moment ago.
        if unsafe { xmlSecPtrListAdd(list, *item) } < 0 {
            return Err(Failed("could not rebuild xmlsec's transform list"));
        }
    }
    // SAFETY: plain global setters of xmlsec and libxml2; the loader is a
    // `'static` function that touches none of its arguments.
    unsafe {
        xmlSecIOCleanupCallbacks();
        xmlSetExternalEntityLoader(Some(refuse_every_entity));
    }
    Ok(Report {
        removed,
        kept: kept.len(),
    })
}

/// A self-signed P-256 certificate, only to make samael initialise xmlsec.
fn throwaway_cert() -> Option<samael::crypto::CertificateDer> {
    use openssl::{asn1::Asn1Time, ec, hash::MessageDigest, nid::Nid, pkey::PKey, x509};
    let group = ec::EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).ok()?;
    let key = PKey::from_ec_key(ec::EcKey::generate(&group).ok()?).ok()?;
    let mut b = x509::X509::builder().ok()?;
    b.set_pubkey(&key).ok()?;
    let (from, until) = (
        Asn1Time::days_from_now(0).ok()?,
        Asn1Time::days_from_now(1).ok()?,
    );
    b.set_not_before(&from).ok()?;
    b.set_not_after(&until).ok()?;
    b.sign(&key, MessageDigest::sha256()).ok()?;
    Some(b.build().to_der().ok()?.into())
}

/// Whether any of the four banned transforms is still in xmlsec's list (for
/// the tests and the start-up check).
pub fn banned_transforms_present() -> bool {
    // SAFETY: as in `run`: read-only walks of xmlsec's global list.
    unsafe {
        let list = xmlSecTransformIdsGet();
        if list.is_null() {
            return false;
        }
        let banned = [
            xmlSecTransformXsltGetKlass(),
            xmlSecTransformXPathGetKlass(),
            xmlSecTransformXPath2GetKlass(),
            xmlSecTransformXPointerGetKlass(),
        ];
        (0..xmlSecPtrListGetSize(list))
            .any(|pos| banned.contains(&(xmlSecPtrListGetItem(list, pos) as TransformId)))
    }
}
