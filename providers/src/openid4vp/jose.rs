//! The little JOSE an SD-JWT verifier needs, on openssl: compact JWS split
//! and ES256 verification, EC P-256 JWKs, and X.509 chains from `x5c`.
//!
//! Why not a JOSE crate: the workspace's josekit would do the signature, but
//! it ignores `typ`, copies a JWK's `kid` into its verifier (which then
//! refuses a KB-JWT without one) and inflates a JWE `zip`; what is needed
//! here is forty lines over the openssl the gateway already trusts for CMS,
//! with every check in sight. ES256 only: the one algorithm OpenID4VP's
//! profiles require; any other `alg` is refused, `none` above all.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::Public;
use openssl::stack::Stack;
use openssl::x509::store::X509Store;
use openssl::x509::{X509StoreContext, X509};
use serde_json::{Map, Value};

/// A compact JWS taken apart: its header and payload as JSON objects, the
/// signed input and the signature bytes.
pub struct Jws<'a> {
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

/// Base64url without padding, strictly (what JOSE writes).
pub fn b64url(text: &str) -> Option<Vec<u8>> {
    if text.contains('=') {
        return None;
    }
    URL_SAFE_NO_PAD.decode(text).ok()
}

fn object(bytes: &[u8]) -> Option<Map<String, Value>> {
    crate::json::unique_keys(bytes).ok()?;
    match serde_json::from_slice(bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// Splits a compact JWS (three parts, JSON objects with unique keys).
pub fn split(compact: &str) -> Option<Jws<'_>> {
    let mut parts = compact.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let signing_input = compact.get(..h.len() + 1 + p.len())?;
    Some(Jws {
        header: object(&b64url(h)?)?,
        payload: object(&b64url(p)?)?,
        signing_input,
        signature: b64url(s)?,
    })
}

fn p256() -> Option<EcGroup> {
    EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).ok()
}

/// Whether `key` is a P-256 key.
pub fn is_p256(key: &EcKey<Public>) -> bool {
    key.group().curve_name() == Some(Nid::X9_62_PRIME256V1)
}

/// Checks an ES256 signature (`r‖s`, 64 bytes) over `input` by `key`.
pub fn es256_ok(input: &str, signature: &[u8], key: &EcKey<Public>) -> bool {
    if signature.len() != 64 || !is_p256(key) {
        return false;
    }
    let (r, s) = signature.split_at(32);
    let (Ok(r), Ok(s)) = (BigNum::from_slice(r), BigNum::from_slice(s)) else {
        return false;
    };
    let Ok(sig) = EcdsaSig::from_private_components(r, s) else {
        return false;
    };
    let digest = openssl::sha::sha256(input.as_bytes());
    sig.verify(&digest, key).unwrap_or(false)
}

/// A public EC P-256 JWK (`kty` EC, `crv` P-256, `x`, `y`; no `d`).
pub fn p256_jwk(jwk: &Map<String, Value>) -> Option<EcKey<Public>> {
    let text = |k: &str| jwk.get(k).and_then(Value::as_str);
    if text("kty")? != "EC" || text("crv")? != "P-256" || jwk.contains_key("d") {
        return None;
    }
    let (x, y) = (b64url(text("x")?)?, b64url(text("y")?)?);
    if x.len() != 32 || y.len() != 32 {
        return None;
    }
    let group = p256()?;
    let (x, y) = (BigNum::from_slice(&x).ok()?, BigNum::from_slice(&y).ok()?);
    let key = EcKey::from_public_key_affine_coordinates(&group, &x, &y).ok()?;
    key.check_key().ok()?;
    Some(key)
}

/// The certificates of an `x5c` header (standard base64 DER, leaf first).
pub fn x5c(header: &Map<String, Value>) -> Option<Vec<X509>> {
    let list = header.get("x5c")?.as_array()?;
    if list.is_empty() || list.len() > 8 {
        return None;
    }
    list.iter()
        .map(|c| X509::from_der(&STANDARD.decode(c.as_str()?).ok()?).ok())
        .collect()
}

/// Whether `leaf` is an end entity that may sign: not a CA (nor one this
/// reader cannot tell is not), not self-issued (an anchor is no signer),
/// and, where it has keyUsage, with digitalSignature.
fn end_entity(leaf: &X509) -> bool {
    use der::Decode as _;
    use x509_cert::ext::pkix::{KeyUsage, KeyUsages};
    let Ok(der) = leaf.to_der() else {
        return false;
    };
    let Ok(cert) = x509_cert::Certificate::from_der(&der) else {
        return false;
    };
    let tbs = &cert.tbs_certificate;
    if crate::cms::profile::is_ca(&cert) || tbs.subject == tbs.issuer {
        return false;
    }
    let mut usages = tbs
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == <KeyUsage as der::oid::AssociatedOid>::OID);
    match (usages.next(), usages.next()) {
        (None, _) => true,
        (Some(e), None) => KeyUsage::from_der(e.extn_value.as_bytes())
            .is_ok_and(|k| k.0.contains(KeyUsages::DigitalSignature)),
        _ => false,
    }
}

/// Whether `chain` (leaf first) leads to one of `anchors`, valid now, its
/// leaf an end entity that may sign ([`end_entity`]). Revocation of the
/// issuer's certificates is not checked (no CRL is configured for them).
pub fn chains_to(chain: &[X509], anchors: &X509Store) -> bool {
    let Some((leaf, rest)) = chain.split_first() else {
        return false;
    };
    if !end_entity(leaf) {
        return false;
    }
    let Ok(mut untrusted) = Stack::new() else {
        return false;
    };
    for c in rest {
        if untrusted.push(c.clone()).is_err() {
            return false;
        }
    }
    let Ok(mut ctx) = X509StoreContext::new() else {
        return false;
    };
    ctx.init(anchors, leaf, &untrusted, |c| c.verify_cert())
        .unwrap_or(false)
}

/// The leaf's EC P-256 public key.
pub fn leaf_key(leaf: &X509) -> Option<EcKey<Public>> {
    let key = leaf.public_key().ok()?.ec_key().ok()?;
    is_p256(&key).then_some(key)
}

/// Whether the leaf names `uri` exactly as a URI SAN (SD-JWT VC -09: a DNS
/// SAN only for a `dns:` issuer, which is not accepted here; a host's name
/// alone would cover every issuer path on it, and its TLS certificate).
pub fn leaf_names(leaf: &X509, uri: &str) -> bool {
    leaf.subject_alt_names()
        .is_some_and(|names| names.iter().any(|n| n.uri() == Some(uri)))
}
