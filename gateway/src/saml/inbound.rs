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
//!
//! The scan and libxml2 (xmlsec's parser) must read the same document, so
//! first [`utf8_document`] makes the bytes UTF-8 and nothing else: a
//! byte-order mark other than UTF-8's, NUL bytes (UTF-16/32 without a BOM),
//! bytes that are not UTF-8 (EBCDIC, Latin-1), characters XML 1.0 forbids and
//! a declared encoding other than UTF-8 are refused; libxml2 honours a
//! declaration the scan ignores, and `encoding="UTF-7"` once turned
//! `+ADw-…` text into a second `ds:Reference` for it. The UTF-8 BOM is
//! stripped once and the approved declaration is removed, so what is handed on
//! can only be read as UTF-8 (c14n never covers the declaration: signatures
//! are unaffected). Second, the scan refuses what libxml2's recover mode, in
//! which samael parses, would "repair" into another tree: a raw `<` in an
//! attribute value (recover mode truncates the value there), `]]>` in text,
//! references to characters XML does not allow, a second or malformed
//! declaration. [`super::parity`] then checks that a strict libxml2 parse sees
//! what the scan saw.

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
/// SHA-1 as a Reference's digest: read, then accepted only for an SP allowed
/// it (`allow_sha1_digest`), after the SP is known.
pub const ALG_SHA1_DIGEST: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
/// XML-DSig 1.1's namespace: its `ECKeyValue` may sit in a KeyInfo.
const NS_DSIG11: &str = "http://www.w3.org/2009/xmldsig11#";

/// The only shape of XML signature accepted from outside, checked before
/// xmlsec sees it: xmlsec would otherwise dereference any `Reference/@URI`
/// (http, file) and run any transform (XPath, XSLT) while verifying, before
/// it knows the signature is bad. One SignedInfo with one Reference to the
/// root, exclusive c14n, enveloped-signature, SHA-256, RSA/ECDSA-SHA256, and
/// a KeyInfo holding at most certificates, names and key values (all
/// ignored: the keys come from metadata, and samael hands xmlsec the key, so
/// xmlsec never reads KeyInfo). SHA-1 digests are let through here and
/// recorded: whether the SP may use them is decided once it is known.
/// An algorithm outside these is refused as such
/// ([`Refusal::SignatureAlgorithm`], naming it), not as a shape.
/// Metadata fetched from a URL ([`super::aggregate`]) is checked by the same
/// rules, with `URI=""` (the whole document, i.e. the root) also allowed.
#[derive(Default)]
pub(super) struct SignatureCheck {
    pub(super) open: bool,
    signed_info: usize,
    references: usize,
    pub(super) sha1_digest: bool,
    /// `Reference URI=""` names the root too (metadata, never a message).
    pub(super) whole_document: bool,
}

impl SignatureCheck {
    pub(super) fn element(
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
        if ns == Some(NS_DSIG11.as_bytes())
            && matches!(local, b"ECKeyValue" | b"NamedCurve" | b"PublicKey")
        {
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
        // A signature or digest algorithm: named when refused, so an
        // integrator learns what to change on the SP.
        let crypto = |allowed: &[&str], what: &str| -> Result<String, Refusal> {
            let found = attr(b"Algorithm")?.unwrap_or_default();
            if allowed.contains(&found.as_str()) {
                Ok(found)
            } else {
                Err(Refusal::algorithm(what, &found))
            }
        };
        match local {
            b"SignedInfo" if depth == 2 => self.signed_info += 1,
            b"CanonicalizationMethod" => algorithm(&[NS_EXC_C14N])?,
            b"SignatureMethod" => {
                crypto(&[ALG_RSA_SHA256, ALG_ECDSA_SHA256], "SignatureMethod")?;
            }
            b"Reference" => {
                self.references += 1;
                let want = root_id.map(|id| format!("#{id}"));
                let uri = attr(b"URI")?;
                let whole = self.whole_document && uri.as_deref() == Some("");
                if !whole && (uri != want || want.is_none()) {
                    return unsafe_sig("a Reference that is not to the root");
                }
            }
            b"Transforms" | b"DigestValue" | b"SignatureValue" | b"KeyInfo" | b"X509Data"
            | b"X509Certificate" | b"KeyName" | b"X509SubjectName" | b"X509IssuerSerial"
            | b"X509IssuerName" | b"X509SerialNumber" | b"KeyValue" | b"RSAKeyValue"
            | b"Modulus" | b"Exponent" => {}
            b"Transform" => algorithm(&[ALG_ENVELOPED, NS_EXC_C14N])?,
            b"DigestMethod" => {
                if crypto(&[ALG_SHA256, ALG_SHA1_DIGEST], "DigestMethod")? == ALG_SHA1_DIGEST {
                    self.sha1_digest = true;
                }
            }
            _ => return unsafe_sig("an element XML-DSig allows but SAML does not need"),
        }
        Ok(())
    }

    pub(super) fn close(&mut self) -> Result<(), Refusal> {
        self.open = false;
        if self.signed_info != 1 || self.references != 1 {
            return Err(Refusal::UnsafeSignature(
                "not exactly one SignedInfo with one Reference",
            ));
        }
        Ok(())
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const XML_SPACE: &[char] = &[' ', '\t', '\r', '\n'];

/// Whether `c` is a `Char` of XML 1.0 (§2.2): no C0 control but tab, line
/// feed and carriage return, no U+FFFE or U+FFFF.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The bytes of a message as the one text every later reader sees: UTF-8
/// only, without a BOM and without its XML declaration (checked first). See
/// the module documentation for what is refused and why.
pub fn utf8_document(mut bytes: Vec<u8>) -> Result<String, Refusal> {
    // The UTF-8 BOM is allowed once (some Windows SPs write it) and dropped.
    if bytes.starts_with(UTF8_BOM) {
        bytes.drain(..UTF8_BOM.len());
    }
    let first = bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
    match first {
        Some(b'<') => {}
        None => return Err(Refusal::Xml("an empty message".into())),
        Some(0xFE | 0xFF) => return Err(Refusal::Charset("a byte-order mark of UTF-16 or UTF-32")),
        Some(0) => return Err(Refusal::Charset("UTF-16 or UTF-32 (NUL bytes)")),
        Some(_) => {
            return Err(Refusal::Charset(
                "a document that does not start with `<` in UTF-8 (another BOM, EBCDIC)",
            ))
        }
    }
    if bytes.contains(&0) {
        return Err(Refusal::Charset("UTF-16 or UTF-32 (NUL bytes)"));
    }
    let text =
        String::from_utf8(bytes).map_err(|_| Refusal::Charset("bytes that are not UTF-8"))?;
    if !text.chars().all(is_xml_char) {
        return Err(Refusal::Charset("a character XML 1.0 does not allow"));
    }
    let body = text.trim_start_matches(XML_SPACE);
    if !body.starts_with("<?xml") {
        return Ok(body.to_owned());
    }
    let mut reader = quick_xml::Reader::from_str(body);
    let end = match reader
        .read_event()
        .map_err(|e| Refusal::Xml(e.to_string()))?
    {
        Event::Decl(d) => {
            check_declaration(&d)?;
            usize::try_from(reader.buffer_position())
                .map_err(|_| Refusal::Xml("declaration".into()))?
        }
        // `<?xml-stylesheet …?>` and the like: a PI, which the scan refuses.
        _ => return Ok(body.to_owned()),
    };
    Ok(body
        .get(end..)
        .unwrap_or_default()
        .trim_start_matches(XML_SPACE)
        .to_owned())
}

/// An XML declaration the scan and libxml2 read alike: version 1.0, and no
/// encoding or UTF-8 (any case). Not `UTF8`: libxml2 takes it for UTF-8 but
/// it is no registered name and no honest SAML library writes it.
pub(super) fn check_declaration(d: &quick_xml::events::BytesDecl<'_>) -> Result<(), Refusal> {
    let version = d.version().map_err(|e| Refusal::Xml(e.to_string()))?;
    if version.as_ref() != b"1.0" {
        return Err(Refusal::Xml("an XML version other than 1.0".into()));
    }
    match d.encoding() {
        None => Ok(()),
        Some(Ok(e)) if e.eq_ignore_ascii_case(b"UTF-8") => Ok(()),
        Some(_) => Err(Refusal::Charset("a declared encoding other than UTF-8")),
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
    utf8_document(out)
}

/// A message of the HTTP-POST binding: base64 of the XML.
pub fn decode_post(value: &str) -> Result<String, Refusal> {
    let xml = decode_base64(value)?;
    if xml.len() > MAX_XML {
        return Err(Refusal::TooLarge);
    }
    utf8_document(xml)
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
        if !is_xml_char(c) {
            return Err(Refusal::Charset(
                "a character reference XML 1.0 does not allow",
            ));
        }
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

/// What a parser read: everything signature verification depends on. The
/// scan's is in [`Shape::view`]; [`super::parity`] builds libxml2's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct View {
    /// The root element's namespace and local name.
    pub root: (String, String),
    /// Every `ID` attribute value, sorted.
    pub ids: Vec<String>,
    /// Elements, the root included.
    pub elements: usize,
    /// `ds:Signature` and `ds:Reference` elements, at any depth.
    pub signatures: usize,
    pub references: usize,
}

/// What the scan learnt about a well-shaped message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The root's `ID` attribute.
    pub root_id: Option<String>,
    /// Whether a `ds:Signature` is a child of the root.
    pub signed: bool,
    /// Whether that signature's Reference is digested with SHA-1 (allowed
    /// only for an SP configured so; decided by `binding::verify`).
    pub sha1_digest: bool,
    /// What the scan read, to compare with libxml2's reading.
    pub view: View,
}

/// The namespace samael's schema means by each child of a request's root it
/// reads (it matches local names only).
const ROOT_CHILDREN: &[(&str, &str)] = &[
    ("Issuer", NS_ASSERTION),
    ("Subject", NS_ASSERTION),
    ("Conditions", NS_ASSERTION),
    ("NameID", NS_ASSERTION),
    ("BaseID", NS_ASSERTION),
    ("EncryptedID", NS_ASSERTION),
    ("NameIDPolicy", NS_PROTOCOL),
    ("RequestedAuthnContext", NS_PROTOCOL),
    ("Scoping", NS_PROTOCOL),
    ("Extensions", NS_PROTOCOL),
    ("SessionIndex", NS_PROTOCOL),
    ("Signature", NS_DSIG),
];

/// An `ID` is an `xs:ID`, an NCName; only its ASCII form is accepted, which
/// also keeps `#xpointer(…)` out of a Reference that names the root.
pub(super) fn is_ascii_ncname(v: &str) -> bool {
    let mut chars = v.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// An element or attribute name: a QName of ASCII NCNames (all SAML and
/// XML-DSig names are ASCII). quick-xml does not check names; libxml2 does.
pub(super) fn check_name(qname: &[u8]) -> Result<(), Refusal> {
    let ncname = |part: &[u8]| {
        matches!(part.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_')
            && part
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
    };
    let mut parts = qname.splitn(2, |b| *b == b':');
    let first = parts.next().unwrap_or_default();
    if ncname(first) && parts.next().is_none_or(ncname) {
        Ok(())
    } else {
        Err(Refusal::Xml("a name that is not an ASCII XML name".into()))
    }
}

/// A start tag as written (between `<` and `>`): every attribute value is
/// followed by whitespace or the tag's end. quick-xml reads `a="1"b="2"` as
/// two attributes; libxml2 refuses it (and recover mode drops the rest).
fn check_attribute_spacing(raw: &[u8]) -> Result<(), Refusal> {
    let mut quote = None;
    let mut closed_at = None;
    for (i, &b) in raw.iter().enumerate() {
        match quote {
            Some(q) if b == q => {
                quote = None;
                closed_at = Some(i);
            }
            Some(_) => {}
            None => {
                if closed_at == Some(i.wrapping_sub(1))
                    && !(matches!(b, b' ' | b'\t' | b'\r' | b'\n')
                        || (b == b'/' && i + 1 == raw.len()))
                {
                    return Err(Refusal::Xml("no space between attributes".into()));
                }
                if b == b'"' || b == b'\'' {
                    quote = Some(b);
                }
            }
        }
    }
    Ok(())
}

/// An attribute value as written: no raw `<` (libxml2's recover mode cuts
/// the value there, quick-xml keeps it) and only references to the five
/// entities or to characters XML allows.
fn check_attribute_value(raw: &[u8]) -> Result<(), Refusal> {
    if raw.contains(&b'<') {
        return Err(Refusal::Xml("a raw `<` in an attribute value".into()));
    }
    let mut rest = raw;
    while let Some(at) = rest.iter().position(|b| *b == b'&') {
        let after = rest.get(at + 1..).unwrap_or_default();
        let end = after
            .iter()
            .position(|b| *b == b';')
            .ok_or_else(|| Refusal::Xml("a bare `&` in an attribute value".into()))?;
        let name = after.get(..end).unwrap_or_default();
        let number = |digits: &[u8], radix| {
            std::str::from_utf8(digits)
                .ok()
                .and_then(|d| u32::from_str_radix(d, radix).ok())
                .and_then(char::from_u32)
        };
        let c = match name {
            b"amp" | b"lt" | b"gt" | b"quot" | b"apos" => None,
            [b'#', b'x', hex @ ..] => Some(number(hex, 16)),
            [b'#', dec @ ..] => Some(number(dec, 10)),
            _ => return Err(Refusal::Entity),
        };
        if let Some(c) = c {
            if !c.is_some_and(is_xml_char) {
                return Err(Refusal::Charset(
                    "a character reference XML 1.0 does not allow",
                ));
            }
        }
        rest = after.get(end + 1..).unwrap_or_default();
    }
    Ok(())
}

/// Checks that `xml` is exactly one `samlp:{root}` and nothing hostile.
/// The text of the first `Issuer` child of the root, as a lenient reader
/// finds it (no entities resolved, at most 64 elements read, 256 printable
/// characters kept): what a message *claims* to come from, for naming it
/// when it is refused before it could be checked. Never a decision's input.
pub fn claimed_issuer(xml: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut depth = 0usize;
    let mut in_issuer = false;
    for _ in 0..256 {
        match reader.read_event().ok()? {
            Event::Start(s) => {
                depth += 1;
                if depth == 2 && s.local_name().as_ref() == b"Issuer" {
                    in_issuer = true;
                }
                if depth > 3 {
                    return None;
                }
            }
            Event::Text(t) if in_issuer => {
                let text = String::from_utf8_lossy(t.as_ref());
                let shown: String = text
                    .trim()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(256)
                    .collect();
                return (!shown.is_empty()).then_some(shown);
            }
            Event::End(_) => {
                if in_issuer {
                    return None;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => return None,
            _ => {}
        }
    }
    None
}

pub fn check_shape(xml: &str, root: &'static str) -> Result<Shape, Refusal> {
    let mut reader = quick_xml::reader::NsReader::from_str(xml);
    let cfg = reader.config_mut();
    cfg.check_end_names = true;
    cfg.expand_empty_elements = false;
    cfg.allow_unmatched_ends = false;
    cfg.allow_dangling_amp = false;
    let mut depth = 0usize;
    let mut roots = 0usize;
    let mut ids = HashSet::new();
    let mut shape = Shape {
        root_id: None,
        signed: false,
        sha1_digest: false,
        view: View::default(),
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
            Event::Decl(d) if first => check_declaration(d)?,
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
            Event::Text(t) if t.windows(3).any(|w| w == b"]]>") => {
                return Err(Refusal::Xml("`]]>` in text".into()));
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
        shape.view.elements += 1;
        if shape.view.elements > MAX_ELEMENTS || depth >= MAX_DEPTH {
            return Err(Refusal::Shape);
        }
        let ns = match resolved {
            ResolveResult::Bound(ns) => Some(ns.0.to_vec()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(_) => return Err(Refusal::Xml("unbound prefix".into())),
        };
        check_name(s.name().as_ref())?;
        check_attribute_spacing(&s)?;
        let local = s.local_name();
        let in_dsig = ns.as_deref() == Some(NS_DSIG.as_bytes());
        if depth == 0 {
            roots += 1;
            if roots > 1
                || ns.as_deref() != Some(NS_PROTOCOL.as_bytes())
                || local.as_ref() != root.as_bytes()
            {
                return Err(Refusal::Root(root));
            }
            shape.view.root = (NS_PROTOCOL.to_owned(), root.to_owned());
        }
        if depth == 1 {
            let wanted = ROOT_CHILDREN
                .iter()
                .find(|(name, _)| name.as_bytes() == local.as_ref());
            if let Some((name, wanted_ns)) = wanted {
                if ns.as_deref() != Some(wanted_ns.as_bytes()) {
                    return Err(Refusal::Namespace(name));
                }
            }
        }
        if in_dsig && local.as_ref() == b"Reference" {
            shape.view.references += 1;
        }
        if in_dsig && local.as_ref() == b"Signature" {
            shape.view.signatures += 1;
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
        // quick-xml finds a repeated attribute by its written name; libxml2
        // also by namespace and local name (`a:x` and `b:x`, one namespace).
        let mut expanded = Vec::new();
        for attr in s.attributes() {
            let attr = attr.map_err(|e| Refusal::Xml(e.to_string()))?;
            check_name(attr.key.as_ref())?;
            check_attribute_value(attr.value.as_ref())?;
            if attr.key.prefix().is_some() && attr.key.as_namespace_binding().is_none() {
                let (resolved, local) = reader.resolver().resolve_attribute(attr.key);
                let ns = match resolved {
                    ResolveResult::Bound(ns) => ns.0.to_vec(),
                    ResolveResult::Unbound => Vec::new(),
                    ResolveResult::Unknown(_) => return Err(Refusal::Xml("unbound prefix".into())),
                };
                let name = (ns, local.as_ref().to_vec());
                if expanded.contains(&name) {
                    return Err(Refusal::Xml("an attribute repeated in a namespace".into()));
                }
                expanded.push(name);
            }
            if attr.key.local_name().as_ref() != b"ID" {
                continue;
            }
            // samael (through libxml2's xmlGetProp) takes `x:ID` for an ID too.
            if attr.key.prefix().is_some() {
                return Err(Refusal::Xml("an `ID` attribute with a prefix".into()));
            }
            let v = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| Refusal::Xml(e.to_string()))?
                .into_owned();
            if !is_ascii_ncname(&v) {
                return Err(Refusal::Xml("an `ID` that is not an XML name".into()));
            }
            if !ids.insert(v.clone()) {
                return Err(Refusal::DuplicateId);
            }
            if depth == 0 {
                shape.root_id = Some(v);
            }
        }
        if matches!(event, Event::Start(_)) {
            depth += 1;
        }
    }
    if roots != 1 || depth != 0 {
        return Err(Refusal::Root(root));
    }
    shape.sha1_digest = sig.sha1_digest;
    shape.view.ids = ids.into_iter().collect();
    shape.view.ids.sort_unstable();
    Ok(shape)
}

/// The `samlp:SessionIndex` elements of a LogoutRequest (0 or more, SAML
/// core §3.7.1). samael reads SessionIndex as an attribute, which no SP
/// sends, so the elements are read here from the already-checked message.
pub fn session_indexes(xml: &str) -> Result<Vec<String>, Refusal> {
    root_children(xml, NS_PROTOCOL, b"SessionIndex")
}

/// The text of a LogoutRequest's `saml:NameID` (exactly one, SAML core
/// §3.7.1; an `EncryptedID` or `BaseID` is not offered). samael reads its
/// `Format` as an element, so it is read here too.
pub fn logout_name_id(xml: &str) -> Result<String, Refusal> {
    match root_children(xml, NS_ASSERTION, b"NameID")?.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(Refusal::Schema(
            "a LogoutRequest names its subject by exactly one NameID".into(),
        )),
    }
}

/// The texts of the root's children `ns`:`local` of an already-checked message.
fn root_children(xml: &str, ns: &str, local: &[u8]) -> Result<Vec<String>, Refusal> {
    let mut reader = quick_xml::reader::NsReader::from_str(xml);
    let mut depth = 0usize;
    let mut current: Option<String> = None;
    let mut out = Vec::new();
    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| Refusal::Xml(e.to_string()))?;
        let in_ns = matches!(resolved, ResolveResult::Bound(n) if n.0 == ns.as_bytes());
        match event {
            Event::Start(s) => {
                if depth == 1 && in_ns && s.local_name().as_ref() == local {
                    current = Some(String::new());
                }
                depth += 1;
            }
            Event::Empty(s) if depth == 1 && in_ns && s.local_name().as_ref() == local => {
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
        // The declaration is checked, then not handed on.
        let body = OK.trim_start_matches("<?xml version=\"1.0\"?>");
        assert_eq!(decode_redirect(&deflate(OK.as_bytes())).unwrap(), body);
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

    /// A signed request's shape with this SignatureMethod, DigestMethod and
    /// KeyInfo content (the signature's bytes do not matter to the scan).
    fn signed(sig_alg: &str, digest_alg: &str, key_info: &str) -> String {
        format!(
            r##"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0"><saml:Issuer>https://sp.example/</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{sig_alg}"/><ds:Reference URI="#_a1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{digest_alg}"/><ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AA==</ds:SignatureValue><ds:KeyInfo>{key_info}</ds:KeyInfo></ds:Signature></samlp:AuthnRequest>"##
        )
    }

    #[test]
    fn algorithms_are_named_and_sha1_digests_are_recorded() {
        const RSA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
        const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
        const CERT: &str =
            "<ds:X509Data><ds:X509Certificate>AA==</ds:X509Certificate></ds:X509Data>";
        let ok = check_shape(&signed(RSA256, SHA256, CERT), "AuthnRequest").unwrap();
        assert!(ok.signed && !ok.sha1_digest);
        // A SHA-1 digest is read and recorded; the SP decides later.
        let sha1 = check_shape(&signed(RSA256, ALG_SHA1_DIGEST, CERT), "AuthnRequest").unwrap();
        assert!(sha1.signed && sha1.sha1_digest);
        // Other algorithms are refused as algorithms, named, not as shapes.
        for (sig, digest, what, named) in [
            (
                "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
                SHA256,
                "SignatureMethod",
                "rsa-sha1",
            ),
            (
                "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
                SHA256,
                "SignatureMethod",
                "hmac-sha1",
            ),
            (
                RSA256,
                "http://www.w3.org/2001/04/xmldsig-more#md5",
                "DigestMethod",
                "md5",
            ),
            (RSA256, "", "DigestMethod", "none"),
        ] {
            let e = check_shape(&signed(sig, digest, CERT), "AuthnRequest").unwrap_err();
            let Refusal::SignatureAlgorithm(found) = &e else {
                panic!("{sig} {digest}: {e:?}");
            };
            assert!(found.starts_with(what) && found.contains(named), "{found}");
            assert_eq!(e.code(), "MJ-M18");
        }
        // The sender's text is cut to printable ASCII before it is shown.
        let e = Refusal::algorithm("SigAlg", &format!("x\u{202e}y\n{}", "z".repeat(500)));
        let Refusal::SignatureAlgorithm(found) = e else {
            panic!()
        };
        assert!(
            found.len() < 140 && !found.contains('\n') && found.contains("xy"),
            "{found}"
        );
        // Key values in KeyInfo (RSA, and XML-DSig 1.1's EC) are ignored like any KeyInfo.
        for key_info in [
            "<ds:KeyValue><ds:RSAKeyValue><ds:Modulus>AA==</ds:Modulus><ds:Exponent>AQAB</ds:Exponent></ds:RSAKeyValue></ds:KeyValue>",
            r#"<ds:KeyValue><dsig11:ECKeyValue xmlns:dsig11="http://www.w3.org/2009/xmldsig11#"><dsig11:NamedCurve URI="urn:oid:1.2.840.10045.3.1.7"/><dsig11:PublicKey>AA==</dsig11:PublicKey></dsig11:ECKeyValue></ds:KeyValue>"#,
        ] {
            let key = format!("{key_info}{CERT}");
            assert!(check_shape(&signed(RSA256, SHA256, &key), "AuthnRequest").is_ok(), "{key_info}");
        }
        // Still refused: what xmlsec would act on.
        for key_info in [
            "<ds:RetrievalMethod URI=\"http://evil.example/k\"/>",
            r#"<dsig11:DEREncodedKeyValue xmlns:dsig11="http://www.w3.org/2009/xmldsig11#">AA==</dsig11:DEREncodedKeyValue>"#,
        ] {
            assert!(matches!(
                check_shape(&signed(RSA256, SHA256, key_info), "AuthnRequest"),
                Err(Refusal::UnsafeSignature(_))
            ));
        }
    }

    #[test]
    fn the_claimed_issuer_is_read_leniently_and_cut() {
        // Text up to a reference: entities are not resolved, not even the
        // five XML ones (good enough to name an SP, never a decision).
        assert_eq!(claimed_issuer(OK).as_deref(), Some("https://sp.example/"));
        let s = signed("x", "y", "");
        assert_eq!(claimed_issuer(&s).as_deref(), Some("https://sp.example/"));
        let long = OK.replace("https://sp.example/&amp;x", &"a".repeat(1000));
        assert_eq!(claimed_issuer(&long).map(|i| i.len()), Some(256));
        for xml in [
            "",
            "not xml",
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>"#,
            r#"<a><b><c><Issuer>deep</Issuer></c></b></a>"#,
        ] {
            assert_eq!(claimed_issuer(xml), None, "{xml}");
        }
    }

    const BODY: &str = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0"><saml:Issuer>https://sp.example/</saml:Issuer></samlp:AuthnRequest>"#;

    /// UTF-16 of `s`, little- or big-endian, with or without a BOM.
    fn utf16(s: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let units = bom.then_some(0xFEFF).into_iter().chain(s.encode_utf16());
        units
            .flat_map(|u| {
                if big_endian {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                }
            })
            .collect()
    }

    #[test]
    fn only_utf8_is_read_and_the_declaration_is_not_handed_on() {
        // Honest: no declaration, a UTF-8 declaration in any case, a UTF-8 BOM.
        for prefix in [
            "",
            "<?xml version=\"1.0\"?>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
            "<?xml version='1.0' encoding='utf-8' standalone='yes'?>",
            "\u{FEFF}<?xml version=\"1.0\" encoding=\"Utf-8\"?>",
        ] {
            let doc = utf8_document(format!("{prefix}{BODY}").into_bytes()).unwrap();
            assert_eq!(doc, BODY, "{prefix:?}");
            assert!(check_shape(&doc, "AuthnRequest").is_ok());
        }
        // The smuggle of issue 14: libxml2 honours UTF-7 and reads `+ADw-`
        // as `<`, so this is a second Reference for it and text for the scan.
        let utf7 = BODY.replace(
            "</saml:Issuer>",
            "</saml:Issuer>+ADw-ds:Reference URI=+ACI-http://127.0.0.1:9/+ACI-/+AD4-",
        );
        let declared = |enc: &str| {
            utf8_document(format!("<?xml version=\"1.0\" encoding=\"{enc}\"?>{utf7}").into_bytes())
        };
        for enc in [
            "UTF-7",
            "utf-7",
            "ISO-8859-1",
            "latin1",
            "IBM037",
            "EBCDIC-CP-US",
            "UTF-16",
            "UTF8",
            "US-ASCII",
            "",
        ] {
            assert_eq!(
                declared(enc),
                Err(Refusal::Charset("a declared encoding other than UTF-8")),
                "{enc}"
            );
        }
        // A second declaration after an approved one is checked by the scan.
        let twice = utf8_document(
            format!("<?xml version=\"1.0\"?><?xml version=\"1.0\" encoding=\"UTF-7\"?>{BODY}")
                .into_bytes(),
        )
        .unwrap();
        assert_eq!(
            check_shape(&twice, "AuthnRequest"),
            Err(Refusal::Charset("a declared encoding other than UTF-8"))
        );
        assert!(utf8_document(format!("<?xml version=\"1.1\"?>{BODY}").into_bytes()).is_err());
        // UTF-16 and UTF-32, with and without a BOM.
        let decl16 = format!("<?xml version=\"1.0\" encoding=\"UTF-16\"?>{BODY}");
        for (be, bom) in [(false, true), (true, true), (false, false), (true, false)] {
            let r = utf8_document(utf16(&decl16, be, bom));
            assert!(
                matches!(r, Err(Refusal::Charset(_))),
                "be {be} bom {bom}: {r:?}"
            );
            let r = utf8_document(utf16(BODY, be, bom));
            assert!(
                matches!(r, Err(Refusal::Charset(_))),
                "be {be} bom {bom}: {r:?}"
            );
        }
        let mut utf32 = vec![0xFF, 0xFE, 0, 0];
        utf32.extend(BODY.chars().flat_map(|c| u32::from(c).to_le_bytes()));
        assert!(matches!(utf8_document(utf32), Err(Refusal::Charset(_))));
        // EBCDIC (`<?xml` in code page 037) and Latin-1 bytes.
        let ebcdic = vec![0x4C, 0x6F, 0xA7, 0x94, 0x93, 0x40];
        assert!(matches!(utf8_document(ebcdic), Err(Refusal::Charset(_))));
        let latin1 = BODY
            .replace("sp.example", "sp.\u{e9}xample")
            .replace('\u{e9}', "\u{0}");
        let latin1: Vec<u8> = latin1
            .bytes()
            .map(|b| if b == 0 { 0xE9 } else { b })
            .collect();
        assert_eq!(
            utf8_document(latin1),
            Err(Refusal::Charset("bytes that are not UTF-8"))
        );
        // A UTF-8 BOM once is fine, twice is not; NULs and C0 controls never.
        let two_boms = format!("\u{FEFF}\u{FEFF}{BODY}").into_bytes();
        assert!(matches!(utf8_document(two_boms), Err(Refusal::Charset(_))));
        let nul = BODY.replace("sp.example", "sp\u{0}.example").into_bytes();
        assert!(matches!(utf8_document(nul), Err(Refusal::Charset(_))));
        let control = BODY.replace("sp.example", "sp\u{1b}.example").into_bytes();
        assert!(matches!(utf8_document(control), Err(Refusal::Charset(_))));
        // Through both bindings' decoders.
        let bom16 = utf16(BODY, false, true);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bom16);
        assert!(matches!(decode_post(&b64), Err(Refusal::Charset(_))));
        assert!(matches!(
            decode_redirect(&deflate(&bom16)),
            Err(Refusal::Charset(_))
        ));
        let utf7_post = base64::engine::general_purpose::STANDARD
            .encode(format!("<?xml version=\"1.0\" encoding=\"UTF-7\"?>{utf7}"));
        assert!(matches!(decode_post(&utf7_post), Err(Refusal::Charset(_))));
    }

    #[test]
    fn what_recover_mode_would_repair_is_refused() {
        let with =
            |extra: &str| BODY.replace("Version=\"2.0\"", &format!("Version=\"2.0\" {extra}"));
        let cases: &[(String, &str)] = &[
            // libxml2's recover mode ends the value at the `<`.
            (
                with("Destination=\"https://idp/<ds:Reference URI='http://x'/>\""),
                "raw <",
            ),
            (with("Destination=\"a & b\""), "bare &"),
            (with("Destination=\"&#1;\""), "control character reference"),
            (with("Destination=\"&#xFFFE;\""), "non-character reference"),
            (with("Destination=\"&e;\""), "entity in an attribute"),
            (BODY.replace("https://sp.example/", "a]]>b"), "]]> in text"),
            (
                BODY.replace("https://sp.example/", "&#0;"),
                "NUL reference in text",
            ),
            (
                BODY.replace("</saml:Issuer>", "</saml:Issuer>\u{b}"),
                "vertical tab",
            ),
            (with("x:ID=\"_z\" xmlns:x=\"urn:x\""), "prefixed ID"),
            (
                BODY.replace("ID=\"_a1\"", "ID=\"xpointer(/)\""),
                "ID that is not an NCName",
            ),
            (
                BODY.replace("ID=\"_a1\"", "ID=\"1a\""),
                "ID starting with a digit",
            ),
            (with("a=\"1\" a=\"2\""), "duplicate attribute"),
            (
                with("xmlns:p=\"urn:x\" xmlns:q=\"urn:x\" p:a=\"1\" q:a=\"2\""),
                "duplicate attribute in one namespace",
            ),
            (with("p:a=\"1\""), "unbound attribute prefix"),
            (with("a=1"), "unquoted attribute"),
            (with("a=\"1\"b=\"2\""), "no space between attributes"),
            (
                with("a='1'b='2'"),
                "no space between single-quoted attributes",
            ),
            (
                BODY.replace("</samlp:AuthnRequest>", "</samlp:AuthnRequest></x>"),
                "unmatched end",
            ),
            (
                BODY.replace("</saml:Issuer>", "</saml:Issuerx>"),
                "wrong end name",
            ),
        ];
        for (xml, what) in cases {
            let r = utf8_document(xml.clone().into_bytes())
                .and_then(|d| check_shape(&d, "AuthnRequest"));
            assert!(r.is_err(), "{what}: {xml}");
        }
    }

    #[test]
    fn issuer_and_other_root_children_must_be_in_their_namespace() {
        for (from, to) in [
            (
                "<saml:Issuer>https://sp.example/</saml:Issuer>",
                "<x:Issuer xmlns:x=\"urn:evil\">https://sp.example/</x:Issuer>",
            ),
            (
                "<saml:Issuer>https://sp.example/</saml:Issuer>",
                "<samlp:Issuer>https://sp.example/</samlp:Issuer>",
            ),
            (
                "<saml:Issuer>https://sp.example/</saml:Issuer>",
                "<Issuer>https://sp.example/</Issuer>",
            ),
        ] {
            assert_eq!(
                check_shape(&BODY.replace(from, to), "AuthnRequest"),
                Err(Refusal::Namespace("Issuer")),
                "{to}"
            );
        }
        let policy = BODY.replace("</saml:Issuer>", "</saml:Issuer><saml:NameIDPolicy/>");
        assert_eq!(
            check_shape(&policy, "AuthnRequest"),
            Err(Refusal::Namespace("NameIDPolicy"))
        );
        // Deeper elements may be anything the schema allows.
        let deep = BODY.replace(
            "</saml:Issuer>",
            "</saml:Issuer><samlp:Extensions><x:Issuer xmlns:x=\"urn:x\"/></samlp:Extensions>",
        );
        assert!(check_shape(&deep, "AuthnRequest").is_ok());
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
