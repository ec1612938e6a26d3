//! The scan's reading of a SAML message against libxml2's, strict.
//!
//! The hostile-shape scan ([`super::inbound`]) reads a message with quick-xml;
//! xmlsec verifies it on libxml2's tree, which samael builds in recover mode
//! (no per-call option reaches it). Twice they read different documents (a
//! declared UTF-7 encoding; a raw `<` in an attribute value, where recover
//! mode cuts the value), and what the scan approved was not what xmlsec ran.
//! So before a message goes on, libxml2 parses it strictly: no recover mode,
//! no network, any declared encoding ignored (the message has no declaration
//! left, no BOM and no NUL, see [`super::inbound::utf8_document`], so libxml2
//! can only detect UTF-8). It must be well-formed and
//! read the same root, the same `ID`s, the same number of elements and of
//! `ds:Signature` and `ds:Reference` as the scan. A document that is
//! well-formed for strict libxml2 is the same tree in recover mode: recover
//! mode only changes what happens after an error.
//!
//! This is the same parser xmlsec uses, not a second one; the SAML fuzz target
//! checks the scan alone against it, so a gap in the scan is found even though
//! this check would refuse the message.
//!
//! Not here: anything samael's schema reads (Issuer, Destination...): samael
//! reads those with quick-xml, as the scan does.

use super::error::Refusal;
use super::inbound::{Shape, View, NS_DSIG};
use libxml::parser::{Parser, ParserOptions};

/// libxml2's reading of `xml`: strict, no network, declared encodings
/// ignored; None when it is not well-formed.
pub fn libxml2_view(xml: &str) -> Option<View> {
    let options = ParserOptions {
        recover: false,
        no_def_dtd: true,
        no_net: true,
        // libxml2 switches to a declared encoding (UTF-7 included) unless
        // told to ignore it; a forced `encoding` would not stop that. Without
        // a declaration, a document that starts with `<` and holds no NUL (as
        // utf8_document makes sure) can only be detected as UTF-8.
        // (libxml 0.3.3 frees a given `encoding` before libxml2 reads it, a
        // use-after-free the fuzz target found under ASan: never pass one.)
        ignore_enc: true,
        ..ParserOptions::default()
    };
    let doc = Parser::default()
        .parse_string_with_options(xml, options)
        .ok()?;
    let root = doc.get_root_element()?;
    let ns_of = |n: &libxml::tree::Node| n.get_namespace().map(|ns| ns.get_href());
    let mut view = View {
        root: (ns_of(&root).unwrap_or_default(), root.get_name()),
        ..View::default()
    };
    let mut todo = vec![root];
    while let Some(node) = todo.pop() {
        view.elements += 1;
        // As samael registers IDs: xmlGetProp, whatever the prefix.
        if let Some(id) = node.get_attribute("ID") {
            view.ids.push(id);
        }
        if ns_of(&node).as_deref() == Some(NS_DSIG) {
            match node.get_name().as_str() {
                "Signature" => view.signatures += 1,
                "Reference" => view.references += 1,
                _ => {}
            }
        }
        todo.extend(node.get_child_elements());
    }
    view.ids.sort_unstable();
    Some(view)
}

/// Refuses `xml` unless strict libxml2 reads what the scan read (`shape`).
pub fn check(xml: &str, shape: &Shape) -> Result<(), Refusal> {
    // libxml2's entity loader refuses everything before its first parse here.
    if munjigi_xmlsec_lockdown::lock_down().is_err() {
        return Err(Refusal::Xml(
            "the XML libraries could not be locked down".into(),
        ));
    }
    match libxml2_view(xml) {
        None => Err(Refusal::Xml("not well-formed for a strict parser".into())),
        Some(v) if v != shape.view => Err(Refusal::Xml(
            "a strict parser reads another document than the scan".into(),
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::inbound::check_shape;

    #[test]
    fn an_honest_request_reads_the_same_for_both() {
        let xml = r##"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0"><saml:Issuer>https://sp.example/?a=1&amp;b=&#x41;</saml:Issuer><samlp:Extensions><x ID="_e1"/><y b='2'
 c="3" /></samlp:Extensions></samlp:AuthnRequest>"##;
        let shape = check_shape(xml, "AuthnRequest").unwrap();
        assert_eq!(libxml2_view(xml).unwrap(), shape.view);
        assert_eq!(shape.view.ids, ["_a1", "_e1"]);
        assert_eq!(shape.view.elements, 5);
        check(xml, &shape).unwrap();
    }

    #[test]
    fn what_strict_libxml2_refuses_or_reads_otherwise_is_refused() {
        let shape = check_shape(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_a1"/>"#,
            "AuthnRequest",
        )
        .unwrap();
        // Well-formed, but not what the scan saw (another ID).
        let other =
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_a2"/>"#;
        assert!(matches!(check(other, &shape), Err(Refusal::Xml(_))));
        // Not well-formed for libxml2 (a raw `<` in an attribute value).
        let raw_lt = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_a1" x="<"/>"#;
        assert_eq!(libxml2_view(raw_lt), None);
        assert!(check(raw_lt, &shape).is_err());
        // A declared encoding is ignored (the declaration never reaches here
        // anyway): one element, not the two UTF-7 would make.
        let utf7 = "<?xml version=\"1.0\" encoding=\"UTF-7\"?><r>+ADw-x/+AD4-</r>";
        assert_eq!(libxml2_view(utf7).map(|v| v.elements), Some(1));
    }
}
