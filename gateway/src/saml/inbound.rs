//! From the wire to XML that samael may parse.
//!
//! Everything hostile is refused here, before any XML library builds a tree:
//! oversized input and deflate bombs (the inflater stops one byte past the
//! cap), DTDs and entity declarations (no XXE, no billion laughs), entities
//! other than the five predefined ones, comments (a comment inside a value can
//! truncate it for a parser that reads only the first text node), processing
//! instructions and CDATA, more than one root, a root that is not the expected
//! element in the SAML protocol namespace, duplicate `ID`s (the basis of
//! signature wrapping) and absurd nesting. The scan uses quick-xml, the parser
//! samael itself reads messages with.

use super::error::Refusal;
use base64::Engine as _;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use std::collections::HashSet;
use std::io::Read as _;

/// Largest base64 message accepted from the wire.
pub const MAX_ENCODED: usize = 96 * 1024;
/// Largest XML accepted after base64 and inflate.
pub const MAX_XML: usize = 64 * 1024;
const MAX_DEPTH: usize = 24;
const MAX_ELEMENTS: usize = 400;

pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const NS_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ALG_ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const ALG_ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
const ALG_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// The only shape of XML signature accepted from outside, checked before
/// xmlsec sees it: xmlsec would otherwise dereference any `Reference/@URI`
/// (http, file) and run any transform (XPath, XSLT) while verifying, before
/// it knows the signature is bad. One SignedInfo with one Reference to the
/// root, exclusive c14n, enveloped-signature, SHA-256, RSA/ECDSA-SHA256, and
/// a KeyInfo holding at most certificates and names (its keys are ignored:
/// they come from metadata).
#[derive(Default)]
struct SignatureCheck {
    open: bool,
    signed_info: usize,
    references: usize,
}

impl SignatureCheck {
    fn element(
        &mut self,
        ns: Option<&[u8]>,
        local: &[u8],
        depth: usize,
        s: &quick_xml::events::BytesStart<'_>,
        root_id: Option<&str>,
    ) -> Result<(), Refusal> {
        let unsafe_sig = |why: &'static str| Err(Refusal::UnsafeSignature(why));
        if ns == Some(NS_EXC_C14N.as_bytes()) && local == b"InclusiveNamespaces" {
            return Ok(());
        }
        if ns != Some(NS_DSIG.as_bytes()) {
            return unsafe_sig("an element from another namespace");
        }
        let attr = |name: &[u8]| -> Result<Option<String>, Refusal> {
            for a in s.attributes() {
                let a = a.map_err(|e| Refusal::Xml(e.to_string()))?;
                if a.key.as_ref() == name {
                    let v = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| Refusal::Xml(e.to_string()))?;
                    return Ok(Some(v.into_owned()));
                }
            }
            Ok(None)
        };
        let algorithm = |allowed: &[&str]| -> Result<(), Refusal> {
            match attr(b"Algorithm")? {
                Some(a) if allowed.contains(&a.as_str()) => Ok(()),
                _ => Err(Refusal::UnsafeSignature("an algorithm that is not allowed")),
            }
        };
        match local {
            b"SignedInfo" if depth == 2 => self.signed_info += 1,
            b"CanonicalizationMethod" => algorithm(&[NS_EXC_C14N])?,
            b"SignatureMethod" => algorithm(&[ALG_RSA_SHA256, ALG_ECDSA_SHA256])?,
            b"Reference" => {
                self.references += 1;
                let want = root_id.map(|id| format!("#{id}"));
                if attr(b"URI")? != want || want.is_none() {
                    return unsafe_sig("a Reference that is not to the root");
                }
            }
            b"Transforms" | b"DigestValue" | b"SignatureValue" | b"KeyInfo" | b"X509Data"
            | b"X509Certificate" | b"KeyName" | b"X509SubjectName" | b"X509IssuerSerial"
            | b"X509IssuerName" | b"X509SerialNumber" => {}
            b"Transform" => algorithm(&[ALG_ENVELOPED, NS_EXC_C14N])?,
            b"DigestMethod" => algorithm(&[ALG_SHA256])?,
            _ => return unsafe_sig("an element XML-DSig allows but SAML does not need"),
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), Refusal> {
        self.open = false;
        if self.signed_info != 1 || self.references != 1 {
            return Err(Refusal::UnsafeSignature(
                "not exactly one SignedInfo with one Reference",
            ));
        }
        Ok(())
    }
}

/// A message of the HTTP-Redirect binding: base64 of raw DEFLATE.
pub fn decode_redirect(value: &str) -> Result<String, Refusal> {
    let deflated = decode_base64(value)?;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice())
        .take(MAX_XML as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| Refusal::Encoding)?;
    if out.len() > MAX_XML {
        return Err(Refusal::DeflateBomb);
    }
    String::from_utf8(out).map_err(|_| Refusal::Encoding)
}

/// A message of the HTTP-POST binding: base64 of the XML.
pub fn decode_post(value: &str) -> Result<String, Refusal> {
    let xml = decode_base64(value)?;
    if xml.len() > MAX_XML {
        return Err(Refusal::TooLarge);
    }
    String::from_utf8(xml).map_err(|_| Refusal::Encoding)
}

fn decode_base64(value: &str) -> Result<Vec<u8>, Refusal> {
    if value.len() > MAX_ENCODED {
        return Err(Refusal::TooLarge);
    }
    // Line breaks are allowed in base64 of the POST binding.
    let compact: Vec<u8> = value.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| Refusal::Encoding)
}

/// The character an entity reference stands for: a character reference or
/// one of the five XML entities; None for any other (declared) entity.
pub fn entity_char(r: &quick_xml::events::BytesRef<'_>) -> Result<Option<char>, Refusal> {
    let xml = |e: &dyn std::fmt::Display| Refusal::Xml(e.to_string());
    if let Some(c) = r.resolve_char_ref().map_err(|e| xml(&e))? {
        return Ok(Some(c));
    }
    Ok(match &*r.decode().map_err(|e| xml(&e))? {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    })
}

/// What the scan learnt about a well-shaped message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The root's `ID` attribute.
    pub root_id: Option<String>,
    /// Whether a `ds:Signature` is a child of the root.
    pub signed: bool,
}

/// Checks that `xml` is exactly one `samlp:{root}` and nothing hostile.
pub fn check_shape(xml: &str, root: &'static str) -> Result<Shape, Refusal> {
    let mut reader = quick_xml::reader::NsReader::from_str(xml);
    let cfg = reader.config_mut();
    cfg.check_end_names = true;
    cfg.expand_empty_elements = false;
    let mut depth = 0usize;
    let mut elements = 0usize;
    let mut roots = 0usize;
    let mut ids = HashSet::new();
    let mut shape = Shape {
        root_id: None,
        signed: false,
    };
    let mut first = true;
    let mut sig = SignatureCheck::default();
    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| Refusal::Xml(e.to_string()))?;
        let start = match &event {
            Event::Start(s) | Event::Empty(s) => Some(s.clone()),
            _ => None,
        };
        match &event {
            Event::Decl(_) if first => {}
            Event::Decl(_) => return Err(Refusal::ProcessingInstruction),
            Event::DocType(_) => return Err(Refusal::Dtd),
            Event::Comment(_) => return Err(Refusal::Comment),
            Event::PI(_) | Event::CData(_) => return Err(Refusal::ProcessingInstruction),
            Event::GeneralRef(r) => {
                entity_char(r)?.ok_or(Refusal::Entity)?;
            }
            Event::Text(t) if depth == 0 && !t.iter().all(u8::is_ascii_whitespace) => {
                return Err(Refusal::Xml("text outside the root".into()));
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if sig.open && depth == 1 {
                    sig.close()?;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        first = false;
        let Some(s) = start else { continue };
        elements += 1;
        if elements > MAX_ELEMENTS || depth >= MAX_DEPTH {
            return Err(Refusal::Shape);
        }
        let ns = match resolved {
            ResolveResult::Bound(ns) => Some(ns.0.to_vec()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(_) => return Err(Refusal::Xml("unbound prefix".into())),
        };
        let local = s.local_name();
        if depth == 0 {
            roots += 1;
            if roots > 1
                || ns.as_deref() != Some(NS_PROTOCOL.as_bytes())
                || local.as_ref() != root.as_bytes()
            {
                return Err(Refusal::Root(root));
            }
        }
        if ns.as_deref() == Some(NS_DSIG.as_bytes()) && local.as_ref() == b"Signature" {
            // A protocol message is signed on its root; a signature anywhere
            // else is how wrapping attacks smuggle a signed element along.
            if depth != 1 || shape.signed {
                return Err(Refusal::MisplacedSignature);
            }
            if !matches!(event, Event::Start(_)) {
                return Err(Refusal::UnsafeSignature("an empty Signature"));
            }
            shape.signed = true;
            sig.open = true;
        } else if sig.open && depth >= 2 {
            sig.element(
                ns.as_deref(),
                local.as_ref(),
                depth,
                &s,
                shape.root_id.as_deref(),
            )?;
        }
        for attr in s.attributes() {
            let attr = attr.map_err(|e| Refusal::Xml(e.to_string()))?;
            if attr.key.as_ref() == b"ID" {
                let v = attr
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|e| Refusal::Xml(e.to_string()))?
                    .into_owned();
                if !ids.insert(v.clone()) {
                    return Err(Refusal::DuplicateId);
                }
                if depth == 0 {
                    shape.root_id = Some(v);
                }
            }
        }
        if matches!(event, Event::Start(_)) {
            depth += 1;
        }
    }
    if roots != 1 || depth != 0 {
        return Err(Refusal::Root(root));
    }
    Ok(shape)
}

/// The `samlp:SessionIndex` elements of a LogoutRequest (0 or more, SAML
/// core §3.7.1). samael reads SessionIndex as an attribute, which no SP
/// sends, so the elements are read here from the already-checked message.
pub fn session_indexes(xml: &str) -> Result<Vec<String>, Refusal> {
    let mut reader = quick_xml::reader::NsReader::from_str(xml);
    let mut depth = 0usize;
    let mut current: Option<String> = None;
    let mut out = Vec::new();
    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| Refusal::Xml(e.to_string()))?;
        let in_protocol =
            matches!(resolved, ResolveResult::Bound(ns) if ns.0 == NS_PROTOCOL.as_bytes());
        match event {
            Event::Start(s) => {
                if depth == 1 && in_protocol && s.local_name().as_ref() == b"SessionIndex" {
                    current = Some(String::new());
                }
                depth += 1;
            }
            Event::Empty(s)
                if depth == 1 && in_protocol && s.local_name().as_ref() == b"SessionIndex" =>
            {
                out.push(String::new());
            }
            Event::Text(t) => {
                if let Some(c) = current.as_mut() {
                    c.push_str(&t.decode().map_err(|e| Refusal::Xml(e.to_string()))?);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(c) = current.as_mut() {
                    c.push(entity_char(&r)?.ok_or(Refusal::Entity)?);
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    if let Some(c) = current.take() {
                        out.push(c);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    const OK: &str = r#"<?xml version="1.0"?><samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>https://sp.example/&amp;x</saml:Issuer></samlp:AuthnRequest>"#;

    fn deflate(s: &[u8]) -> String {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(s).unwrap();
        base64::engine::general_purpose::STANDARD.encode(e.finish().unwrap())
    }

    #[test]
    fn a_plain_request_passes() {
        let s = check_shape(OK, "AuthnRequest").unwrap();
        assert_eq!(s.root_id.as_deref(), Some("_a1"));
        assert!(!s.signed);
        assert_eq!(decode_redirect(&deflate(OK.as_bytes())).unwrap(), OK);
    }

    #[test]
    fn hostile_shapes_are_refused() {
        let cases: &[(&str, Refusal)] = &[
            (
                r#"<!DOCTYPE x [<!ENTITY e "boom">]><samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="a">&e;</samlp:AuthnRequest>"#,
                Refusal::Dtd,
            ),
            (
                r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="a">&e;</samlp:AuthnRequest>"#,
                Refusal::Entity,
            ),
            (
                r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a"><saml:Issuer>https://sp<!---->.evil</saml:Issuer></samlp:AuthnRequest>"#,
                Refusal::Comment,
            ),
            (
                r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="a"><x ID="a"/></samlp:AuthnRequest>"#,
                Refusal::DuplicateId,
            ),
            (
                r#"<samlp:AuthnRequest xmlns:samlp="urn:other" ID="a"/>"#,
                Refusal::Root("AuthnRequest"),
            ),
            (
                r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="a"/>"#,
                Refusal::Root("AuthnRequest"),
            ),
            (
                r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="a"><?pi x?></samlp:AuthnRequest>"#,
                Refusal::ProcessingInstruction,
            ),
            (
                r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="a"><![CDATA[x]]></samlp:AuthnRequest>"#,
                Refusal::ProcessingInstruction,
            ),
        ];
        for (xml, want) in cases {
            assert_eq!(
                check_shape(xml, "AuthnRequest").as_ref().err(),
                Some(want),
                "{xml}"
            );
        }
        let two_roots = format!("{OK}{}", OK.trim_start_matches("<?xml version=\"1.0\"?>"));
        assert!(check_shape(&two_roots, "AuthnRequest").is_err());
        let deep = format!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">{}{}</samlp:AuthnRequest>"#,
            "<a>".repeat(40),
            "</a>".repeat(40)
        );
        assert_eq!(check_shape(&deep, "AuthnRequest"), Err(Refusal::Shape));
    }

    #[test]
    fn session_indexes_are_the_protocol_elements() {
        let xml = r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a"><saml:NameID>x</saml:NameID><samlp:SessionIndex>s&amp;1</samlp:SessionIndex><samlp:SessionIndex>s2</samlp:SessionIndex><saml:SessionIndex>no</saml:SessionIndex></samlp:LogoutRequest>"#;
        assert_eq!(session_indexes(xml).unwrap(), vec!["s&1", "s2"]);
    }

    #[test]
    fn a_deflate_bomb_stops_at_the_cap() {
        let bomb = vec![b' '; 50 * 1024 * 1024];
        let encoded = deflate(&bomb);
        assert!(encoded.len() < MAX_ENCODED, "the bomb is small on the wire");
        assert_eq!(decode_redirect(&encoded), Err(Refusal::DeflateBomb));
        assert_eq!(
            decode_post(&"A".repeat(MAX_ENCODED + 4)),
            Err(Refusal::TooLarge)
        );
        assert_eq!(decode_redirect("%%%"), Err(Refusal::Encoding));
    }
}
