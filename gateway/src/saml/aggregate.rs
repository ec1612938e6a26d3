//! A metadata document fetched from a URL, trusted only as far as the
//! federation's signature reaches, and the one EntityDescriptor a site names.
//!
//! Federations (eduGAIN, KAFE) publish aggregates: an `EntitiesDescriptor`,
//! possibly nested, holding thousands of entities, signed once at the root by
//! the federation's key. Whoever serves the file (a mirror, a CDN, an
//! attacker on the path) is not trusted, so the document is read as hostile
//! until that signature verified, and afterwards only what it covered is
//! read:
//!
//! - the bytes are UTF-8 XML or refused ([`super::inbound::utf8_document`]),
//!   with no DTD, no entities but the five, no processing instructions, one
//!   root (`md:EntitiesDescriptor` or `md:EntityDescriptor`), unique `ID`s;
//!   comments and CDATA are allowed (aggregators write them, and canonical
//!   XML without comments, which is what is read, has neither);
//! - exactly one `ds:Signature`, a child of the root, of the one shape the
//!   inbound messages need (exclusive c14n, enveloped, SHA-256,
//!   RSA/ECDSA-SHA256, one Reference: to the root's `ID`, or `URI=""`) and
//!   no other signature anywhere: an inner signature is how wrapping smuggles
//!   a signed element along, and one on an inner element alone signs nothing
//!   here;
//! - strict libxml2 must read the document as the scan did
//!   ([`super::parity`]);
//! - xmlsec verifies it with the configured `metadata_signer` certificate
//!   only (never a KeyInfo in the document) and hands back the pre-digest
//!   bytes of what it covered, which must be the root itself (same element,
//!   same `ID`); the rest of this module reads only those bytes;
//! - `validUntil` on the root (past: the document is refused) and on every
//!   `EntitiesDescriptor` down to the entity (the earliest applies), and
//!   `cacheDuration` likewise (the shortest applies).
//!
//! Not here: fetching, timing or keeping the copy ([`super::remote_metadata`]),
//! or what an SP's own descriptor must hold ([`super::sp`]).

use super::inbound::{self, SignatureCheck, View, NS_DSIG};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer, CryptoProvider, ReduceMode};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

pub const NS_MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// Far deeper than any aggregate nests (libxml2 itself stops at 256).
const MAX_DEPTH: usize = 64;
/// Most elements a document may have (eduGAIN's aggregate, ~80 MB, has a
/// few million): a bound on the trees libxml2 and samael build of it.
const MAX_ELEMENTS: usize = 8_000_000;
/// Most attributes on one element (metadata needs a handful): libxml2 before
/// 2.12 finds repeated attributes in quadratic time.
const MAX_ATTRIBUTES: usize = 64;

/// Why a whole document was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentRefusal {
    #[error("not metadata of the accepted shape: {0}")]
    Shape(String),
    #[error("not signed at its root (an enveloped ds:Signature, child of the root, is required)")]
    Unsigned,
    #[error(
        "a ds:Signature that is not a child of the root (only the root's signature is accepted)"
    )]
    MisplacedSignature,
    #[error("signature not of the accepted shape: {0}")]
    UnsafeSignature(String),
    #[error("the signature does not verify with metadata_signer")]
    BadSignature,
    #[error("the signature does not cover the document's root")]
    NotTheRoot,
    #[error("validUntil {0} is past")]
    Expired(String),
    #[error("validUntil `{0}` is not an xs:dateTime")]
    BadDate(String),
}

/// Why one entity of a good document was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntityRefusal {
    #[error("the document has no EntityDescriptor with this entityID")]
    Missing,
    #[error("the document has two EntityDescriptors with this entityID")]
    Duplicate,
    #[error("validUntil {0} (of the entity or an EntitiesDescriptor around it) is past")]
    Expired(String),
    #[error(
        "validUntil `{0}` (of the entity or an EntitiesDescriptor around it) is not an xs:dateTime"
    )]
    BadDate(String),
}

/// One entity, as a standalone document (namespaces in scope declared on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub xml: String,
    /// The earliest `validUntil` from the root down to the entity.
    pub valid_until: Option<i64>,
    /// The shortest `cacheDuration` from the root down to the entity.
    pub cache_duration: Option<Duration>,
}

/// A verified document, read down to the entities asked for.
#[derive(Debug, Clone)]
pub struct Document {
    /// The root's own dates.
    pub valid_until: Option<i64>,
    pub cache_duration: Option<Duration>,
    /// Every entityID asked for, found or not.
    pub entities: BTreeMap<String, Result<Selected, EntityRefusal>>,
}

fn shape(e: impl std::fmt::Display) -> DocumentRefusal {
    DocumentRefusal::Shape(e.to_string())
}

fn from_refusal(r: super::error::Refusal) -> DocumentRefusal {
    use super::error::Refusal as R;
    match r {
        R::MisplacedSignature => DocumentRefusal::MisplacedSignature,
        R::UnsafeSignature(why) => DocumentRefusal::UnsafeSignature(why.to_owned()),
        R::SignatureAlgorithm(what) => DocumentRefusal::UnsafeSignature(what),
        other => shape(other),
    }
}

/// What the scan learnt before any signature was checked.
struct Scanned {
    root_local: String,
    root_id: Option<String>,
    view: View,
}

/// Verifies `bytes` against `signer` and selects `wanted` entityIDs, at
/// `now` (Unix seconds).
pub fn read(
    bytes: Vec<u8>,
    signer: &CertificateDer,
    wanted: &[&str],
    now: i64,
) -> Result<Document, DocumentRefusal> {
    let xml = inbound::utf8_document(bytes).map_err(from_refusal)?;
    let scanned = scan(&xml)?;
    // Never verify with xmlsec's defaults (fetching, XSLT): fail closed.
    if munjigi_xmlsec_lockdown::lock_down().is_err() {
        return Err(shape("the XML libraries could not be locked down"));
    }
    match super::parity::libxml2_view(&xml) {
        Some(v) if v == scanned.view => {}
        Some(_) => {
            return Err(shape(
                "a strict parser reads another document than the scan",
            ))
        }
        None => return Err(shape("not well-formed for a strict parser")),
    }
    let allowed = [
        AllowedSignatureAlgorithm::RsaSha256,
        AllowedSignatureAlgorithm::EcdsaSha256,
    ];
    let signed = samael::crypto::Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        &xml,
        std::slice::from_ref(signer),
        ReduceMode::PreDigest,
        Some(&allowed),
    )
    .map_err(|_| DocumentRefusal::BadSignature)?;
    drop(xml);
    select(&signed, &scanned, wanted, now)
}

/// The hostile-shape scan of the whole document (see the module docs).
fn scan(xml: &str) -> Result<Scanned, DocumentRefusal> {
    let mut reader = quick_xml::reader::NsReader::from_str(xml);
    let cfg = reader.config_mut();
    cfg.check_end_names = true;
    cfg.expand_empty_elements = false;
    cfg.allow_unmatched_ends = false;
    cfg.allow_dangling_amp = false;
    let mut depth = 0usize;
    let mut roots = 0usize;
    let mut ids = HashSet::new();
    let mut out = Scanned {
        root_local: String::new(),
        root_id: None,
        view: View::default(),
    };
    let mut signed = false;
    let mut sig = SignatureCheck::default();
    sig.whole_document = true;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(shape)?;
        let start = match &event {
            Event::Start(s) | Event::Empty(s) => Some(s.clone()),
            Event::Decl(_) | Event::PI(_) => {
                return Err(shape(
                    "a processing instruction or a second XML declaration",
                ))
            }
            Event::DocType(_) => return Err(shape("a DTD")),
            Event::GeneralRef(r) => {
                inbound::entity_char(r)
                    .map_err(from_refusal)?
                    .ok_or_else(|| shape("an entity other than the five XML ones"))?;
                None
            }
            Event::Text(t) if depth == 0 && !t.iter().all(u8::is_ascii_whitespace) => {
                return Err(shape("text outside the root"));
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if sig.open && depth == 1 {
                    sig.close().map_err(from_refusal)?;
                }
                None
            }
            Event::Eof => break,
            _ => None,
        };
        let Some(s) = start else { continue };
        out.view.elements += 1;
        if out.view.elements > MAX_ELEMENTS {
            return Err(shape("more elements than a metadata document may have"));
        }
        if s.attributes().take(MAX_ATTRIBUTES + 1).count() > MAX_ATTRIBUTES {
            return Err(shape("an element with too many attributes"));
        }
        if depth >= MAX_DEPTH {
            return Err(shape("elements nest too deep"));
        }
        let ns = match resolved {
            ResolveResult::Bound(ns) => Some(ns.0.to_vec()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(_) => return Err(shape("an unbound prefix")),
        };
        inbound::check_name(s.name().as_ref()).map_err(from_refusal)?;
        let local = s.local_name();
        let in_dsig = ns.as_deref() == Some(NS_DSIG.as_bytes());
        if depth == 0 {
            roots += 1;
            let local = std::str::from_utf8(local.as_ref()).map_err(shape)?;
            if roots > 1
                || ns.as_deref() != Some(NS_MD.as_bytes())
                || !matches!(local, "EntitiesDescriptor" | "EntityDescriptor")
            {
                return Err(shape(
                    "the root is not one md:EntitiesDescriptor or md:EntityDescriptor",
                ));
            }
            out.root_local = local.to_owned();
            out.view.root = (NS_MD.to_owned(), local.to_owned());
        }
        if in_dsig && local.as_ref() == b"Reference" {
            out.view.references += 1;
        }
        // The root's ID is read before its children (the Reference needs it).
        read_ids(&reader, &s, depth, &mut ids, &mut out)?;
        if in_dsig && local.as_ref() == b"Signature" {
            out.view.signatures += 1;
            if depth != 1 || signed {
                return Err(DocumentRefusal::MisplacedSignature);
            }
            if !matches!(event, Event::Start(_)) {
                return Err(DocumentRefusal::UnsafeSignature(
                    "an empty Signature".into(),
                ));
            }
            signed = true;
            sig.open = true;
        } else if sig.open && depth >= 2 {
            sig.element(
                ns.as_deref(),
                local.as_ref(),
                depth,
                &s,
                out.root_id.as_deref(),
            )
            .map_err(from_refusal)?;
        }
        if matches!(event, Event::Start(_)) {
            depth += 1;
        }
    }
    if roots != 1 || depth != 0 {
        return Err(shape("not exactly one root element"));
    }
    if !signed {
        return Err(DocumentRefusal::Unsigned);
    }
    if sig.sha1_digest {
        return Err(DocumentRefusal::UnsafeSignature(
            "a SHA-1 digest (metadata must be digested with SHA-256)".into(),
        ));
    }
    out.view.ids = ids.into_iter().collect();
    out.view.ids.sort_unstable();
    Ok(out)
}

/// Records `s`'s `ID`: unprefixed (libxml2's xmlGetProp, which samael
/// registers IDs with, ignores prefixes), an ASCII NCName, unique.
fn read_ids(
    reader: &quick_xml::reader::NsReader<&[u8]>,
    s: &BytesStart<'_>,
    depth: usize,
    ids: &mut HashSet<String>,
    out: &mut Scanned,
) -> Result<(), DocumentRefusal> {
    let mut expanded = Vec::new();
    for attr in s.attributes() {
        let attr = attr.map_err(shape)?;
        inbound::check_name(attr.key.as_ref()).map_err(from_refusal)?;
        // quick-xml finds a repeated attribute by its written name; libxml2
        // also by namespace and local name.
        if attr.key.prefix().is_some() && attr.key.as_namespace_binding().is_none() {
            let (resolved, local) = reader.resolver().resolve_attribute(attr.key);
            let ns = match resolved {
                ResolveResult::Bound(ns) => ns.0.to_vec(),
                ResolveResult::Unbound => Vec::new(),
                ResolveResult::Unknown(_) => return Err(shape("an unbound prefix")),
            };
            let name = (ns, local.as_ref().to_vec());
            if expanded.contains(&name) {
                return Err(shape("an attribute repeated in a namespace"));
            }
            expanded.push(name);
        }
        if attr.key.local_name().as_ref() != b"ID" {
            continue;
        }
        if attr.key.prefix().is_some() {
            return Err(shape("an `ID` attribute with a prefix"));
        }
        let v = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(shape)?
            .into_owned();
        if !inbound::is_ascii_ncname(&v) {
            return Err(shape("an `ID` that is not an XML name"));
        }
        if !ids.insert(v.clone()) {
            return Err(shape("two elements carry the same ID"));
        }
        if depth == 0 {
            out.root_id = Some(v);
        }
    }
    Ok(())
}

/// An element on the way down the signed document.
struct Frame {
    /// Namespace declarations written on it.
    ns: Vec<(String, String)>,
    /// The earliest validUntil so far, or the first that did not parse.
    valid_until: Result<Option<i64>, String>,
    cache_duration: Option<Duration>,
    /// Where the wanted EntityDescriptor that opened this frame starts.
    entity: Option<(String, usize)>,
    /// This element is the root or hangs from it through EntitiesDescriptors
    /// only: the one place an entity may be taken from (never from inside
    /// another entity's Extensions or an attribute value).
    in_chain: bool,
    /// It is an `md:EntitiesDescriptor`.
    is_entities: bool,
}

fn attribute(s: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, DocumentRefusal> {
    for a in s.attributes() {
        let a = a.map_err(shape)?;
        if a.key.as_ref() == name {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(shape)?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

/// Reads the signed bytes: the root must be the document's, and `wanted`
/// entities are cut out with their dates.
fn select(
    signed: &str,
    scanned: &Scanned,
    wanted: &[&str],
    now: i64,
) -> Result<Document, DocumentRefusal> {
    let mut reader = quick_xml::reader::NsReader::from_str(signed);
    reader.config_mut().expand_empty_elements = false;
    let mut stack: Vec<Frame> = Vec::new();
    let mut doc = Document {
        valid_until: None,
        cache_duration: None,
        entities: BTreeMap::new(),
    };
    let mut found: BTreeMap<String, Vec<Result<Selected, EntityRefusal>>> = BTreeMap::new();
    let mut seen_root = false;
    loop {
        let at = usize::try_from(reader.buffer_position()).map_err(shape)?;
        let (resolved, event) = reader.read_resolved_event().map_err(shape)?;
        let (s, empty) = match &event {
            Event::Start(s) => (s.clone(), false),
            Event::Empty(s) => (s.clone(), true),
            Event::End(_) => {
                let end = usize::try_from(reader.buffer_position()).map_err(shape)?;
                if let Some(frame) = stack.pop() {
                    finish(signed, &stack, frame, end, now, &mut found);
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let md = matches!(resolved, ResolveResult::Bound(ns) if ns.0 == NS_MD.as_bytes());
        let local = s.local_name();
        let local = local.as_ref();
        let parent = stack.last();
        let mut frame = Frame {
            ns: Vec::new(),
            valid_until: parent.map_or(Ok(None), |p| p.valid_until.clone()),
            cache_duration: parent.and_then(|p| p.cache_duration),
            entity: None,
            in_chain: parent.is_none_or(|p| p.in_chain && p.is_entities),
            is_entities: md && local == b"EntitiesDescriptor",
        };
        for a in s.attributes() {
            let a = a.map_err(shape)?;
            let key = std::str::from_utf8(a.key.as_ref()).map_err(shape)?;
            let prefix = if key == "xmlns" {
                ""
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                p
            } else {
                continue;
            };
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(shape)?;
            frame.ns.push((prefix.to_owned(), v.into_owned()));
        }
        let descriptor =
            frame.in_chain && md && matches!(local, b"EntitiesDescriptor" | b"EntityDescriptor");
        if !seen_root {
            seen_root = true;
            let same_id = attribute(&s, b"ID")? == scanned.root_id;
            if !md || local != scanned.root_local.as_bytes() || !same_id {
                return Err(DocumentRefusal::NotTheRoot);
            }
            let until = match attribute(&s, b"validUntil")? {
                Some(v) => Some(xs_datetime(&v).ok_or(DocumentRefusal::BadDate(v))?),
                None => None,
            };
            if let Some(u) = until.filter(|u| *u <= now) {
                return Err(DocumentRefusal::Expired(shown_date(u)));
            }
            doc.valid_until = until;
            doc.cache_duration = attribute(&s, b"cacheDuration")?.and_then(|d| xs_duration(&d));
        }
        if descriptor {
            if let Ok(so_far) = &frame.valid_until {
                frame.valid_until = match attribute(&s, b"validUntil")? {
                    Some(v) => match xs_datetime(&v) {
                        Some(u) => Ok(Some(so_far.map_or(u, |p| p.min(u)))),
                        None => Err(v),
                    },
                    None => Ok(*so_far),
                };
            }
            if let Some(d) = attribute(&s, b"cacheDuration")?.and_then(|d| xs_duration(&d)) {
                frame.cache_duration = Some(frame.cache_duration.map_or(d, |p| p.min(d)));
            }
        }
        if frame.in_chain && md && local == b"EntityDescriptor" {
            if let Some(id) = attribute(&s, b"entityID")? {
                if wanted.contains(&id.as_str()) {
                    frame.entity = Some((id, at));
                }
            }
        }
        if empty {
            let end = usize::try_from(reader.buffer_position()).map_err(shape)?;
            finish(signed, &stack, frame, end, now, &mut found);
        } else {
            stack.push(frame);
        }
    }
    for id in wanted {
        let result = match found.remove(*id) {
            None => Err(EntityRefusal::Missing),
            Some(mut all) if all.len() == 1 => all.remove(0),
            Some(_) => Err(EntityRefusal::Duplicate),
        };
        doc.entities.insert((*id).to_owned(), result);
    }
    Ok(doc)
}

/// At the end of `frame`'s element (`end` bytes in): if it was a wanted
/// entity, it is cut out, with every namespace in scope declared on it.
fn finish(
    signed: &str,
    ancestors: &[Frame],
    frame: Frame,
    end: usize,
    now: i64,
    found: &mut BTreeMap<String, Vec<Result<Selected, EntityRefusal>>>,
) {
    let Some((id, start)) = frame.entity else {
        return;
    };
    let result = match frame.valid_until {
        Err(v) => Err(EntityRefusal::BadDate(v)),
        Ok(Some(u)) if u <= now => Err(EntityRefusal::Expired(shown_date(u))),
        Ok(valid_until) => Ok(Selected {
            xml: standalone(
                signed.get(start..end).unwrap_or_default(),
                ancestors,
                &frame.ns,
            ),
            valid_until,
            cache_duration: frame.cache_duration,
        }),
    };
    found.entry(id).or_default().push(result);
}

/// `element` (canonical XML, cut from its document) with the namespaces its
/// ancestors declared added to its start tag, unless it declares them itself.
fn standalone(element: &str, ancestors: &[Frame], own: &[(String, String)]) -> String {
    let mut scope: Vec<(&str, &str)> = Vec::new();
    for (p, uri) in ancestors.iter().flat_map(|f| &f.ns) {
        scope.retain(|(q, _)| q != p);
        scope.push((p, uri));
    }
    let mut decls = String::new();
    for (p, uri) in scope {
        if own.iter().any(|(q, _)| q == p) || (p.is_empty() && uri.is_empty()) {
            continue;
        }
        let uri = quick_xml::escape::escape(uri);
        if p.is_empty() {
            decls.push_str(&format!(" xmlns=\"{uri}\""));
        } else {
            decls.push_str(&format!(" xmlns:{p}=\"{uri}\""));
        }
    }
    let name_end = element
        .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
        .unwrap_or(element.len());
    let (head, tail) = element.split_at(name_end);
    format!("{head}{decls}{tail}")
}

fn shown_date(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map_or_else(|| t.to_string(), |d| d.to_rfc3339())
}

/// An `xs:dateTime` as Unix seconds; one without a zone is taken as UTC
/// (SAML requires UTC).
pub fn xs_datetime(v: &str) -> Option<i64> {
    let v = v.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(v) {
        return Some(d.timestamp());
    }
    chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|d| d.and_utc().timestamp())
}

/// An `xs:duration` (`P1DT6H`, `PT30M`, `PT1.5S`): years count 365 days,
/// months 30. None when it is not one, or is negative.
pub fn xs_duration(v: &str) -> Option<Duration> {
    let rest = v.trim().strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut secs = 0f64;
    let mut any = false;
    let mut add = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        let mut next = 0;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let at = units.iter().skip(next).position(|(u, _)| *u == c)? + next;
            let n: f64 = number.parse().ok()?;
            let (_, scale) = units.get(at)?;
            secs += n * scale;
            number.clear();
            next = at + 1;
            any = true;
        }
        number.is_empty().then_some(())
    };
    add(
        date,
        &[
            ('Y', 365.0 * 86_400.0),
            ('M', 30.0 * 86_400.0),
            ('D', 86_400.0),
        ],
    )?;
    if let Some(t) = time {
        add(t, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    (any && secs.is_finite()).then(|| Duration::from_secs_f64(secs.min(1e12)))
}

#[cfg(test)]
#[path = "aggregate_tests.rs"]
pub(super) mod tests;
