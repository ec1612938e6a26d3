use super::*;
use crate::saml::dsig::Signer;
use crate::saml::sp::ServiceProvider;
use openssl::pkey::{PKey, Private};

const NOW: i64 = 1_800_000_000;
const FUTURE: &str = "2027-12-31T00:00:00Z"; // after NOW (2027-01-15)
const PAST: &str = "2026-01-01T00:00:00Z";
pub(crate) const MD: &str = r#"xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata""#;
const SP: &str = "https://sp.example/metadata";

pub(crate) fn key_and_cert() -> (PKey<Private>, CertificateDer) {
    let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let mut b = openssl::x509::X509::builder().unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    b.sign(&key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    let der = b.build().to_der().unwrap();
    (key, der.into())
}

pub(crate) struct Federation {
    signer: Signer,
    pub(crate) cert: CertificateDer,
}

pub(crate) fn federation() -> Federation {
    let (key, cert) = key_and_cert();
    Federation {
        signer: Signer::new(key, cert.der_data()).unwrap(),
        cert,
    }
}

impl Federation {
    /// Signs the root (whose ID is `id`), the signature before `first_child`.
    pub(crate) fn sign(&self, xml: &str, id: &str, first_child: &str) -> String {
        self.signer.sign_before(xml, id, first_child).unwrap()
    }
}

pub(crate) fn entity(entity_id: &str, acs: &str, attrs: &str) -> String {
    format!(
        r#"<md:EntityDescriptor entityID="{entity_id}"{attrs}><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>"#
    )
}

/// An aggregate: another SP, then a nested EntitiesDescriptor (with `inner`
/// attributes) holding `SP`.
fn aggregate(root_attrs: &str, inner_attrs: &str) -> String {
    format!(
        r#"<md:EntitiesDescriptor {MD} ID="_agg" Name="urn:fed"{root_attrs}>{}<md:EntitiesDescriptor Name="urn:fed:kr"{inner_attrs}>{}{}</md:EntitiesDescriptor></md:EntitiesDescriptor>"#,
        entity("https://other.example/sp", "https://other.example/acs", ""),
        entity("https://third.example/sp", "https://third.example/acs", ""),
        entity(SP, "https://sp.example/acs", ""),
    )
}

fn signed_aggregate(f: &Federation) -> String {
    f.sign(
        &aggregate(
            &format!(r#" validUntil="{FUTURE}" cacheDuration="PT6H""#),
            r#" cacheDuration="PT1H""#,
        ),
        "_agg",
        "<md:EntityDescriptor",
    )
}

fn read_one(
    xml: &str,
    cert: &CertificateDer,
) -> Result<Result<Selected, EntityRefusal>, DocumentRefusal> {
    let mut doc = read(xml.as_bytes().to_vec(), cert, &[SP], NOW)?;
    Ok(doc.entities.remove(SP).unwrap())
}

#[test]
fn an_entity_is_selected_from_a_nested_aggregate_with_its_dates() {
    let f = federation();
    let signed = signed_aggregate(&f);
    let doc = read(
        signed.as_bytes().to_vec(),
        &f.cert,
        &[SP, "https://other.example/sp"],
        NOW,
    )
    .unwrap();
    assert_eq!(doc.cache_duration, Some(Duration::from_secs(6 * 3600)));
    assert_eq!(doc.valid_until, xs_datetime(FUTURE));
    let sp = doc.entities[SP].as_ref().unwrap();
    assert_eq!(
        sp.cache_duration,
        Some(Duration::from_secs(3600)),
        "the shortest on the way down"
    );
    assert_eq!(
        sp.valid_until,
        xs_datetime(FUTURE),
        "inherited from the root"
    );
    // A standalone document: the namespace the root declared is declared on it.
    let parsed = ServiceProvider::from_metadata(&sp.xml).unwrap();
    assert_eq!(parsed.entity_id, SP);
    assert_eq!(parsed.acs[0].url, "https://sp.example/acs");
    let other = doc.entities["https://other.example/sp"].as_ref().unwrap();
    assert_eq!(other.cache_duration, Some(Duration::from_secs(6 * 3600)));
    assert_eq!(
        ServiceProvider::from_metadata(&other.xml)
            .unwrap()
            .entity_id,
        "https://other.example/sp"
    );
}

#[test]
fn a_default_namespace_and_a_single_entity_document_are_read_too() {
    let f = federation();
    let xml = r#"<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" ID="_d"><EntityDescriptor entityID="https://sp.example/metadata"><SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="0"/></SPSSODescriptor></EntityDescriptor></EntitiesDescriptor>"#;
    let signed = f.sign(xml, "_d", "<EntityDescriptor");
    let sp = read_one(&signed, &f.cert).unwrap().unwrap();
    assert!(
        sp.xml
            .starts_with(r#"<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata""#),
        "{}",
        sp.xml
    );
    assert_eq!(
        ServiceProvider::from_metadata(&sp.xml).unwrap().entity_id,
        SP
    );
    // One EntityDescriptor, signed on its own, is a document too.
    let one = entity(SP, "https://sp.example/acs", r#" ID="_one" "#).replacen(
        "<md:EntityDescriptor ",
        &format!("<md:EntityDescriptor {MD} "),
        1,
    );
    let signed = f.sign(&one, "_one", "<md:SPSSODescriptor");
    let sp = read_one(&signed, &f.cert).unwrap().unwrap();
    assert_eq!(
        ServiceProvider::from_metadata(&sp.xml).unwrap().entity_id,
        SP
    );
}

#[test]
fn a_missing_entity_and_an_entity_listed_twice_are_refused() {
    let f = federation();
    let signed = signed_aggregate(&f);
    let doc = read(
        signed.into_bytes(),
        &f.cert,
        &["https://nobody.example/sp"],
        NOW,
    )
    .unwrap();
    assert_eq!(
        doc.entities["https://nobody.example/sp"],
        Err(EntityRefusal::Missing)
    );
    let twice = f.sign(
        &format!(
            r#"<md:EntitiesDescriptor {MD} ID="_agg">{}<md:EntitiesDescriptor>{}</md:EntitiesDescriptor></md:EntitiesDescriptor>"#,
            entity(SP, "https://sp.example/acs", ""),
            entity(SP, "https://evil.example/acs", ""),
        ),
        "_agg",
        "<md:EntityDescriptor",
    );
    assert_eq!(
        read_one(&twice, &f.cert).unwrap(),
        Err(EntityRefusal::Duplicate)
    );
}

#[test]
fn an_entity_hidden_inside_another_entity_is_never_taken() {
    let f = federation();
    // One member hides a copy of the victim inside its own Extensions.
    let hidden = |with_victim: bool| {
        let smuggled = entity(SP, "https://evil.example/acs", "");
        let carrier = entity("https://carrier.example/sp", "https://carrier.example/acs", "")
            .replacen(
                "<md:SPSSODescriptor",
                &format!("<md:Extensions><x:wrap xmlns:x=\"urn:x\">{smuggled}</x:wrap></md:Extensions><md:SPSSODescriptor"),
                1,
            );
        let victim = if with_victim {
            entity(SP, "https://sp.example/acs", "")
        } else {
            String::new()
        };
        f.sign(
            &format!(
                r#"<md:EntitiesDescriptor {MD} ID="_agg" validUntil="{FUTURE}">{carrier}{victim}</md:EntitiesDescriptor>"#
            ),
            "_agg",
            "<md:EntityDescriptor",
        )
    };
    // With the real entity there: it is the one used (no "duplicate").
    let real = read_one(&hidden(true), &f.cert).unwrap().unwrap();
    let sp = ServiceProvider::from_metadata(&real.xml).unwrap();
    assert_eq!(sp.acs[0].url, "https://sp.example/acs");
    // Without it: missing, never the smuggled one.
    assert_eq!(
        read_one(&hidden(false), &f.cert).unwrap(),
        Err(EntityRefusal::Missing)
    );
}

#[test]
fn only_the_configured_key_verifies() {
    let f = federation();
    let signed = signed_aggregate(&f);
    let (_, other) = key_and_cert();
    assert_eq!(
        read_one(&signed, &other).unwrap_err(),
        DocumentRefusal::BadSignature
    );
    // A KeyInfo naming another certificate changes nothing: the signature
    // verifies with the configured certificate or not at all.
    let mallory = federation();
    let forged = mallory.sign(
        &aggregate(&format!(r#" validUntil="{FUTURE}""#), ""),
        "_agg",
        "<md:EntityDescriptor",
    );
    assert_eq!(
        read_one(&forged, &f.cert).unwrap_err(),
        DocumentRefusal::BadSignature
    );
}

#[test]
fn unsigned_documents_and_inner_signatures_alone_are_refused() {
    let f = federation();
    let plain = aggregate("", "");
    assert_eq!(
        read_one(&plain, &f.cert).unwrap_err(),
        DocumentRefusal::Unsigned
    );
    // The federation's signature on the SP's EntityDescriptor alone, put in
    // an unsigned aggregate next to an entity nobody signed.
    let inner = f.sign(
        &entity(SP, "https://sp.example/acs", r#" ID="_sp""#).replacen(
            "<md:EntityDescriptor ",
            &format!("<md:EntityDescriptor {MD} "),
            1,
        ),
        "_sp",
        "<md:SPSSODescriptor",
    );
    let wrapper = format!(
        r#"<md:EntitiesDescriptor {MD}>{}{inner}</md:EntitiesDescriptor>"#,
        entity("https://evil.example/sp", "https://evil.example/acs", "")
    );
    assert_eq!(
        read_one(&wrapper, &f.cert).unwrap_err(),
        DocumentRefusal::MisplacedSignature
    );
}

/// The signed aggregate's Signature element, and the aggregate without it.
fn split_signature(signed: &str) -> (String, String) {
    let start = signed.find("<ds:Signature").unwrap();
    let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    (
        signed[start..end].to_owned(),
        format!("{}{}", &signed[..start], &signed[end..]),
    )
}

#[test]
fn signature_wrapping_attempts_are_refused() {
    let f = federation();
    let signed = signed_aggregate(&f);
    let evil = entity(SP, "https://evil.example/acs", "");
    let (signature, unsigned) = split_signature(&signed);
    let body = unsigned
        .trim_start_matches(|c| c != '>')
        .trim_start_matches('>');
    let body = body.trim_end_matches("</md:EntitiesDescriptor>");

    // 1. A new root carrying the moved signature, which still names the
    //    original (now inner) element by its ID.
    let moved = format!(
        r#"<md:EntitiesDescriptor {MD} ID="_evil">{signature}{evil}{unsigned}</md:EntitiesDescriptor>"#
    );
    assert!(matches!(
        read_one(&moved, &f.cert).unwrap_err(),
        DocumentRefusal::UnsafeSignature(_)
    ));
    // 2. The new root takes the original's ID, the original another: the
    //    signature now covers the new root, and its digest is wrong.
    let renamed = format!(
        r#"<md:EntitiesDescriptor {MD} ID="_agg" Name="urn:fed">{signature}{evil}{}</md:EntitiesDescriptor>"#,
        unsigned.replacen(r#"ID="_agg""#, r#"ID="_orig""#, 1)
    );
    assert_eq!(
        read_one(&renamed, &f.cert).unwrap_err(),
        DocumentRefusal::BadSignature
    );
    // 3. Both carry the ID: refused before any signature is looked at.
    let twice = format!(
        r#"<md:EntitiesDescriptor {MD} ID="_agg">{signature}{evil}{unsigned}</md:EntitiesDescriptor>"#
    );
    assert!(matches!(
        read_one(&twice, &f.cert).unwrap_err(),
        DocumentRefusal::Shape(m) if m.contains("same ID")
    ));
    // 4. The signed document whole, inside an unsigned root with an entity
    //    of the attacker's beside it.
    let outer = format!(r#"<md:EntitiesDescriptor {MD}>{evil}{signed}</md:EntitiesDescriptor>"#);
    assert_eq!(
        read_one(&outer, &f.cert).unwrap_err(),
        DocumentRefusal::MisplacedSignature
    );
    // 5. An entity appended inside the signed root after signing.
    let appended = signed.replacen(
        "</md:EntitiesDescriptor></md:EntitiesDescriptor>",
        &format!("</md:EntitiesDescriptor>{evil}</md:EntitiesDescriptor>"),
        1,
    );
    assert_eq!(
        read_one(&appended, &f.cert).unwrap_err(),
        DocumentRefusal::BadSignature
    );
    // 6. A second signature (a copy of the good one) in an Extensions.
    let second = format!(
        r#"<md:EntitiesDescriptor {MD} ID="_agg" Name="urn:fed">{signature}<md:Extensions>{signature}</md:Extensions>{body}</md:EntitiesDescriptor>"#
    );
    assert_eq!(
        read_one(&second, &f.cert).unwrap_err(),
        DocumentRefusal::MisplacedSignature
    );
    // And the untouched document still reads.
    assert!(read_one(&signed, &f.cert).unwrap().is_ok());
}

#[test]
fn hostile_shapes_are_refused_and_comments_are_not_read() {
    let f = federation();
    let signed = signed_aggregate(&f);
    let dtd = format!("<!DOCTYPE x [<!ENTITY e \"evil\">]>{signed}");
    assert!(matches!(
        read_one(&dtd, &f.cert).unwrap_err(),
        DocumentRefusal::Shape(_)
    ));
    let utf16 = b"\xFF\xFE<\x00".to_vec();
    assert!(matches!(
        read(utf16, &f.cert, &[SP], NOW).unwrap_err(),
        DocumentRefusal::Shape(_)
    ));
    let not_md = f.sign(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r"><x/></samlp:Response>"#,
        "_r",
        "<x",
    );
    assert!(matches!(
        read_one(&not_md, &f.cert).unwrap_err(),
        DocumentRefusal::Shape(_)
    ));
    // An element with more attributes than metadata ever needs (libxml2
    // 2.9 checks repeats in quadratic time): refused before it is parsed.
    let many: String = (0..65).map(|i| format!(" a{i}=\"v\"")).collect();
    let crowded = signed.replacen(
        "<md:EntitiesDescriptor Name=\"urn:fed:kr\"",
        &format!("<md:EntitiesDescriptor{many} Name=\"urn:fed:kr\""),
        1,
    );
    assert_eq!(
        read_one(&crowded, &f.cert).unwrap_err(),
        DocumentRefusal::Shape("an element with too many attributes".into())
    );
    // Canonical XML without comments does not cover them: a comment added
    // after signing keeps the signature good and is never read.
    let commented = signed.replacen(
        "<md:EntitiesDescriptor Name=\"urn:fed:kr\"",
        "<!-- hi --><md:EntitiesDescriptor Name=\"urn:fed:kr\"",
        1,
    );
    let sp = read_one(&commented, &f.cert).unwrap().unwrap();
    assert!(!sp.xml.contains("<!--"));
    // SHA-1 digests are not accepted for metadata.
    let sha1 = signed.replacen(
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2000/09/xmldsig#sha1",
        1,
    );
    assert!(matches!(
        read_one(&sha1, &f.cert).unwrap_err(),
        DocumentRefusal::UnsafeSignature(_)
    ));
}

#[test]
fn valid_until_refuses_the_document_or_the_entities_under_it() {
    let f = federation();
    let past_root = f.sign(
        &aggregate(&format!(r#" validUntil="{PAST}""#), ""),
        "_agg",
        "<md:EntityDescriptor",
    );
    assert!(matches!(
        read_one(&past_root, &f.cert).unwrap_err(),
        DocumentRefusal::Expired(_)
    ));
    let bad_root = f.sign(
        &aggregate(r#" validUntil="soon""#, ""),
        "_agg",
        "<md:EntityDescriptor",
    );
    assert_eq!(
        read_one(&bad_root, &f.cert).unwrap_err(),
        DocumentRefusal::BadDate("soon".into())
    );
    // An inner EntitiesDescriptor past its validUntil: its entities only.
    let past_inner = f.sign(
        &aggregate(
            &format!(r#" validUntil="{FUTURE}""#),
            &format!(r#" validUntil="{PAST}""#),
        ),
        "_agg",
        "<md:EntityDescriptor",
    );
    let doc = read(
        past_inner.into_bytes(),
        &f.cert,
        &[SP, "https://other.example/sp"],
        NOW,
    )
    .unwrap();
    assert!(matches!(doc.entities[SP], Err(EntityRefusal::Expired(_))));
    assert!(doc.entities["https://other.example/sp"].is_ok());
    // The earliest date on the way down applies; none at all is allowed.
    let soon = "2027-06-01T00:00:00Z";
    let earlier = f.sign(
        &aggregate(
            &format!(r#" validUntil="{FUTURE}""#),
            &format!(r#" validUntil="{soon}""#),
        ),
        "_agg",
        "<md:EntityDescriptor",
    );
    assert_eq!(
        read_one(&earlier, &f.cert).unwrap().unwrap().valid_until,
        xs_datetime(soon)
    );
    let undated = f.sign(&aggregate("", ""), "_agg", "<md:EntityDescriptor");
    let sp = read_one(&undated, &f.cert).unwrap().unwrap();
    assert_eq!((sp.valid_until, sp.cache_duration), (None, None));
}

#[test]
fn xml_schema_dates_and_durations() {
    assert_eq!(xs_datetime("2027-01-15T08:00:00Z"), Some(1_800_000_000));
    assert_eq!(xs_datetime("2027-01-15T08:00:00.250Z"), Some(1_800_000_000));
    assert_eq!(
        xs_datetime("2027-01-15T17:00:00+09:00"),
        Some(1_800_000_000)
    );
    assert_eq!(xs_datetime("2027-01-15T08:00:00"), Some(1_800_000_000));
    assert_eq!(xs_datetime("tomorrow"), None);
    let d = |s| xs_duration(s).map(|d| d.as_secs_f64());
    assert_eq!(d("PT6H"), Some(21_600.0));
    assert_eq!(d("P1DT1H30M"), Some(91_800.0));
    assert_eq!(d("PT1.5S"), Some(1.5));
    assert_eq!(d("P1Y2M"), Some((365.0 + 60.0) * 86_400.0));
    assert_eq!(d("P0Y0M0DT0H5M0S"), Some(300.0));
    for bad in [
        "", "P", "PT", "6H", "-PT6H", "PT6X", "PT6", "P1H", "PT1M1H", "PTHS",
    ] {
        assert_eq!(d(bad), None, "{bad}");
    }
}
