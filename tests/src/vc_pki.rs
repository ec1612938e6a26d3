//! Test PKIs for verifiable credentials (OpenID4VP): a CA and one
//! certificate under it, naming an issuer by URI (SD-JWT VC issuers) or a
//! host by DNS name (the verifier's `x509_san_dns:` certificate), made with
//! openssl for the Python issuer and wallet to use.

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectAlternativeName};
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::{X509Name, X509};

pub fn key() -> PKey<Private> {
    let g = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&g).unwrap()).unwrap()
}

fn name(cn: &str) -> X509Name {
    let mut n = X509Name::builder().unwrap();
    n.append_entry_by_text("CN", cn).unwrap();
    n.build()
}

/// A test CA and an issuer certificate under it naming `iss`.
pub struct Pki {
    pub ca: X509,
    pub leaf: X509,
    pub leaf_key: PKey<Private>,
}

/// How the issuer's certificate names it, and whether it is (wrongly) a CA.
#[derive(Clone, Copy)]
pub enum Leaf {
    Uri,
    DnsOnly,
    Ca,
}

pub fn pki(cn: &str, iss: &str) -> Pki {
    pki_with(cn, iss, Leaf::Uri)
}

pub fn pki_with(cn: &str, iss: &str, leaf: Leaf) -> Pki {
    let ca_key = key();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name(cn)).unwrap();
    b.set_issuer_name(&name(cn)).unwrap();
    b.set_pubkey(&ca_key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .unwrap(),
    )
    .unwrap();
    b.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let ca = b.build();

    let leaf_key = key();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(2).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name("issuer")).unwrap();
    b.set_issuer_name(ca.subject_name()).unwrap();
    b.set_pubkey(&leaf_key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    let host = iss.trim_start_matches("https://");
    let san = match leaf {
        Leaf::DnsOnly => SubjectAlternativeName::new()
            .dns(host)
            .build(&b.x509v3_context(Some(&ca), None)),
        _ => SubjectAlternativeName::new()
            .uri(iss)
            .build(&b.x509v3_context(Some(&ca), None)),
    }
    .unwrap();
    b.append_extension(san).unwrap();
    if matches!(leaf, Leaf::Ca) {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
    }
    b.sign(&ca_key, MessageDigest::sha256()).unwrap();
    Pki {
        ca,
        leaf: b.build(),
        leaf_key,
    }
}

pub fn store(ca: &X509) -> X509Store {
    let mut s = X509StoreBuilder::new().unwrap();
    s.add_cert(ca.clone()).unwrap();
    s.build()
}

pub fn b64(der: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der)
}
