//! Enveloped XML signatures on the messages the IdP writes, with the key
//! loaded once.
//!
//! samael's signer hands xmlsec the key as DER bytes, so every signature
//! decodes the private key again; with OpenSSL 3 that costs several times the
//! RSA operation itself (measured by `./deploy/bench saml`). The gateway only
//! ever signs XML it has just written with samael, so it canonicalises that
//! XML itself (Exclusive XML Canonicalization 1.0, without comments: the
//! subset our own documents use) and signs the SignedInfo with the loaded
//! key. Incoming signatures are still verified by xmlsec, and the tests have
//! xmlsec1 and pysaml2 verify what is signed here.
//!
//! ECDSA signatures are made by `ring`, which writes r‖s as XML Signature 1.1
//! wants them and signs without the per-call set-up OpenSSL 3's provider layer
//! costs (a third of a P-256 signature); RSA stays with OpenSSL, faster there.

use base64::Engine as _;
use openssl::pkey::{PKey, Private};
use quick_xml::events::{BytesStart, Event};

pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

#[derive(Debug, thiserror::Error)]
pub enum DsigError {
    #[error("canonicalisation: {0}")]
    C14n(String),
    #[error("no Issuer to place the signature after")]
    NoIssuer,
    #[error("signing: {0}")]
    Sign(#[from] openssl::error::ErrorStack),
    #[error("SAML signing needs an RSA or a P-256 key")]
    KeyType,
    #[error("the P-256 key was refused or a signature with it failed")]
    Ecdsa,
}

fn err(e: impl std::fmt::Display) -> DsigError {
    DsigError::C14n(e.to_string())
}

fn escape_text(s: &str, out: &mut String) {
    if !s.contains(['&', '<', '>', '\r']) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(s: &str, out: &mut String) {
    if !s.contains(['&', '<', '"', '\t', '\n', '\r']) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn split_qname(q: &str) -> (&str, &str) {
    q.split_once(':').unwrap_or(("", q))
}

/// Namespace bindings as a stack: the innermost binding of a prefix is the
/// last one pushed. Each open element remembers the lengths to go back to.
#[derive(Default)]
struct Bindings {
    declared: Vec<(String, String)>,
    rendered: Vec<(String, String)>,
}

impl Bindings {
    fn lookup<'a>(list: &'a [(String, String)], prefix: &str) -> Option<&'a str> {
        list.iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.as_str())
    }
}

/// One open element: its name and where the binding stacks stood before it.
struct Scope {
    name: String,
    declared_len: usize,
    rendered_len: usize,
}

/// Exclusive c14n (no comments, no InclusiveNamespaces) of the document's
/// root element.
pub fn exc_c14n(xml: &str) -> Result<String, DsigError> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = String::with_capacity(xml.len());
    let mut stack: Vec<Scope> = Vec::new();
    let mut ns = Bindings::default();
    loop {
        let (start, empty) = match reader.read_event().map_err(err)? {
            Event::Start(s) => (Some(s), false),
            Event::Empty(s) => (Some(s), true),
            Event::End(_) => {
                let Some(scope) = stack.pop() else {
                    return Err(err("unbalanced end tag"));
                };
                close(&scope, &mut ns, &mut out);
                if stack.is_empty() {
                    break;
                }
                continue;
            }
            Event::Text(t) if !stack.is_empty() => {
                let text = t
                    .xml_content(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(err)?;
                escape_text(&text, &mut out);
                continue;
            }
            Event::GeneralRef(r) if !stack.is_empty() => {
                let c = super::inbound::entity_char(&r)
                    .map_err(err)?
                    .ok_or_else(|| err("an entity other than the five XML ones"))?;
                escape_text(c.encode_utf8(&mut [0u8; 4]), &mut out);
                continue;
            }
            Event::CData(_) | Event::PI(_) | Event::DocType(_) => {
                return Err(err("CDATA, PI or DTD in our own document"))
            }
            Event::Eof => return Err(err("document ended inside the root")),
            // The declaration, comments, and whitespace outside the root.
            _ => continue,
        };
        let Some(s) = start else { continue };
        let scope = open(&s, &mut ns, &mut out)?;
        if empty {
            close(&scope, &mut ns, &mut out);
            if stack.is_empty() {
                break;
            }
        } else {
            stack.push(scope);
        }
    }
    Ok(out)
}

fn close(scope: &Scope, ns: &mut Bindings, out: &mut String) {
    out.push_str("</");
    out.push_str(&scope.name);
    out.push('>');
    ns.declared.truncate(scope.declared_len);
    ns.rendered.truncate(scope.rendered_len);
}

fn open(s: &BytesStart<'_>, ns: &mut Bindings, out: &mut String) -> Result<Scope, DsigError> {
    let name = std::str::from_utf8(s.name().as_ref())
        .map_err(err)?
        .to_owned();
    let scope = Scope {
        name,
        declared_len: ns.declared.len(),
        rendered_len: ns.rendered.len(),
    };
    let mut plain: Vec<(String, String)> = Vec::new();
    for a in s.attributes() {
        let a = a.map_err(err)?;
        let key = std::str::from_utf8(a.key.as_ref()).map_err(err)?;
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(err)?
            .into_owned();
        if key == "xmlns" {
            ns.declared.push((String::new(), value));
        } else if let Some(p) = key.strip_prefix("xmlns:") {
            ns.declared.push((p.to_owned(), value));
        } else {
            plain.push((key.to_owned(), value));
        }
    }
    // Namespaces visibly used by this element and its attributes, rendered
    // unless an output ancestor already rendered the same binding.
    let mut decls: Vec<(String, String)> = Vec::new();
    let used = std::iter::once(split_qname(&scope.name).0).chain(
        plain
            .iter()
            .map(|(k, _)| split_qname(k).0)
            .filter(|p| !p.is_empty()),
    );
    for p in used {
        let uri = Bindings::lookup(&ns.declared, p).unwrap_or_default();
        let shown = Bindings::lookup(&ns.rendered, p).unwrap_or_default();
        if p != "xml" && shown != uri && !decls.iter().any(|(d, _)| d == p) {
            decls.push((p.to_owned(), uri.to_owned()));
        }
    }
    decls.sort();
    let mut attrs: Vec<(&str, &str, &str, &str)> = Vec::with_capacity(plain.len());
    for (k, v) in &plain {
        let (p, local) = split_qname(k);
        let uri = if p.is_empty() {
            ""
        } else {
            Bindings::lookup(&ns.declared, p)
                .ok_or_else(|| err(format!("undeclared prefix {p}")))?
        };
        attrs.push((uri, local, k, v));
    }
    attrs.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    out.push('<');
    out.push_str(&scope.name);
    for (p, uri) in &decls {
        if p.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(p);
            out.push_str("=\"");
        }
        escape_attr(uri, out);
        out.push('"');
    }
    for (_, _, k, v) in &attrs {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        escape_attr(v, out);
        out.push('"');
    }
    out.push('>');
    ns.rendered.extend(decls);
    Ok(scope)
}

fn escaped_attr(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    escape_attr(v, &mut s);
    s
}

/// The algorithm of the signatures the IdP writes for one SP: RSA-SHA256
/// (every SAML library) or ECDSA-SHA256 over P-256 (XML Signature 1.1, far
/// cheaper to make) for an SP that supports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigAlg {
    #[default]
    RsaSha256,
    EcdsaSha256,
}

impl SigAlg {
    /// The config's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rsa-sha256" => Some(Self::RsaSha256),
            "ecdsa-sha256" => Some(Self::EcdsaSha256),
            _ => None,
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            Self::RsaSha256 => RSA_SHA256,
            Self::EcdsaSha256 => ECDSA_SHA256,
        }
    }
}

/// The IdP's signing key and certificate, loaded once.
pub struct Signer {
    key: PKey<Private>,
    /// The same key for ring when it is a P-256 one.
    ec: Option<ring::signature::EcdsaKeyPair>,
    rng: ring::rand::SystemRandom,
    cert_b64: String,
    alg: SigAlg,
}

impl Signer {
    /// A signer for an RSA key (RSA-SHA256) or a P-256 key (ECDSA-SHA256);
    /// any other key is refused.
    pub fn new(key: PKey<Private>, cert_der: &[u8]) -> Result<Self, DsigError> {
        let p256 = |k: &PKey<Private>| {
            k.ec_key()
                .ok()
                .and_then(|e| e.group().curve_name())
                .is_some_and(|n| n == openssl::nid::Nid::X9_62_PRIME256V1)
        };
        let rng = ring::rand::SystemRandom::new();
        let (alg, ec) = match key.id() {
            openssl::pkey::Id::RSA => (SigAlg::RsaSha256, None),
            openssl::pkey::Id::EC if p256(&key) => {
                let pkcs8 = key.private_key_to_pkcs8()?;
                let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
                    &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &pkcs8,
                    &rng,
                )
                .map_err(|_| DsigError::Ecdsa)?;
                (SigAlg::EcdsaSha256, Some(pair))
            }
            _ => return Err(DsigError::KeyType),
        };
        Ok(Self {
            key,
            ec,
            rng,
            cert_b64: base64::engine::general_purpose::STANDARD.encode(cert_der),
            alg,
        })
    }

    pub fn alg(&self) -> SigAlg {
        self.alg
    }

    /// The SignatureValue's bytes: PKCS#1 v1.5 for RSA; for ECDSA the
    /// integers r and s, 32 bytes each (XML Signature 1.1, not the DER that
    /// OpenSSL writes).
    pub(crate) fn sign_bytes(&self, data: &[u8]) -> Result<Vec<u8>, DsigError> {
        match &self.ec {
            Some(pair) => pair
                .sign(&self.rng, data)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| DsigError::Ecdsa),
            None => {
                let mut s =
                    openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &self.key)?;
                Ok(s.sign_oneshot_to_vec(data)?)
            }
        }
    }

    /// Signs the root element of `xml` (whose `ID` is `id`) with an enveloped
    /// signature of the key's algorithm placed right after its `Issuer` child (`issuer_end`
    /// is that element's end tag). Returns the canonical document, signed.
    pub fn sign(&self, xml: &str, id: &str, issuer_end: &str) -> Result<String, DsigError> {
        let (canonical, signature) = self.signature(xml, id)?;
        let at = canonical.find(issuer_end).ok_or(DsigError::NoIssuer)? + issuer_end.len();
        let mut signed = canonical;
        signed.insert_str(at, &signature);
        Ok(signed)
    }

    /// As [`Signer::sign`], the signature placed right before `first_child`
    /// (the start tag of the root's first child), where metadata has it.
    pub fn sign_before(&self, xml: &str, id: &str, first_child: &str) -> Result<String, DsigError> {
        let (canonical, signature) = self.signature(xml, id)?;
        let at = canonical.find(first_child).ok_or(DsigError::NoIssuer)?;
        let mut signed = canonical;
        signed.insert_str(at, &signature);
        Ok(signed)
    }

    /// The canonical document and its enveloped signature element.
    fn signature(&self, xml: &str, id: &str) -> Result<(String, String), DsigError> {
        let canonical = exc_c14n(xml)?;
        let digest = base64::engine::general_purpose::STANDARD
            .encode(openssl::sha::sha256(canonical.as_bytes()));
        let signed_info = format!(
            concat!(
                r#"<ds:SignedInfo xmlns:ds="{ds}"><ds:CanonicalizationMethod Algorithm="{c14n}"></ds:CanonicalizationMethod>"#,
                r##"<ds:SignatureMethod Algorithm="{alg}"></ds:SignatureMethod><ds:Reference URI="#{id}"><ds:Transforms>"##,
                r#"<ds:Transform Algorithm="{env}"></ds:Transform><ds:Transform Algorithm="{c14n}"></ds:Transform></ds:Transforms>"#,
                r#"<ds:DigestMethod Algorithm="{sha}"></ds:DigestMethod><ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"#
            ),
            ds = NS_DSIG,
            c14n = EXC_C14N,
            alg = self.alg.uri(),
            env = ENVELOPED,
            sha = SHA256,
            id = escaped_attr(id),
            digest = digest,
        );
        let value = self.sign_bytes(signed_info.as_bytes())?;
        let signature = format!(
            r#"<ds:Signature xmlns:ds="{NS_DSIG}">{signed_info}<ds:SignatureValue>{}</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"#,
            base64::engine::general_purpose::STANDARD.encode(value),
            self.cert_b64
        );
        Ok((canonical, signature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_follows_exclusive_c14n() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<a:Root xmlns:a="urn:a" xmlns:unused="urn:u" b="2" a:z="1" ID="x&amp;y"><a:Child/><c:Leaf xmlns:c="urn:c" xmlns:a="urn:a">t &lt; &#x41; &gt;</c:Leaf></a:Root>"#;
        assert_eq!(
            exc_c14n(xml).unwrap(),
            r#"<a:Root xmlns:a="urn:a" ID="x&amp;y" b="2" a:z="1"><a:Child></a:Child><c:Leaf xmlns:c="urn:c">t &lt; A &gt;</c:Leaf></a:Root>"#
        );
    }

    #[test]
    fn ecdsa_values_are_r_and_s_of_32_bytes_that_openssl_verifies() {
        use openssl::bn::BigNum;
        let group =
            openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap();
        let signer = Signer::new(key.clone(), b"x").unwrap();
        // Many signatures, so r or s with leading zero bytes come up too.
        for i in 0..300u32 {
            let data = format!("<ds:SignedInfo>{i}</ds:SignedInfo>");
            let raw = signer.sign_bytes(data.as_bytes()).unwrap();
            assert_eq!(raw.len(), 64, "r‖s, 32 bytes each");
            let sig = openssl::ecdsa::EcdsaSig::from_private_components(
                BigNum::from_slice(&raw[..32]).unwrap(),
                BigNum::from_slice(&raw[32..]).unwrap(),
            )
            .unwrap();
            let mut v =
                openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
            assert!(v
                .verify_oneshot(&sig.to_der().unwrap(), data.as_bytes())
                .unwrap());
            let mut v =
                openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
            assert!(!v.verify_oneshot(&sig.to_der().unwrap(), b"other").unwrap());
        }
        // Other curves and key types are refused.
        let p384 = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::SECP384R1).unwrap();
        let key = PKey::from_ec_key(openssl::ec::EcKey::generate(&p384).unwrap()).unwrap();
        assert!(matches!(Signer::new(key, b"x"), Err(DsigError::KeyType)));
        let ed = PKey::generate_ed25519().unwrap();
        assert!(matches!(Signer::new(ed, b"x"), Err(DsigError::KeyType)));
    }

    #[test]
    fn a_signed_document_verifies_with_xmlsec() {
        let rsa = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let group =
            openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
        let ec = PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap();
        for (key, alg) in [(rsa, SigAlg::RsaSha256), (ec, SigAlg::EcdsaSha256)] {
            let mut b = openssl::x509::X509::builder().unwrap();
            b.set_pubkey(&key).unwrap();
            let (from, until) = (
                openssl::asn1::Asn1Time::days_from_now(0).unwrap(),
                openssl::asn1::Asn1Time::days_from_now(1).unwrap(),
            );
            b.set_not_before(&from).unwrap();
            b.set_not_after(&until).unwrap();
            b.sign(&key, openssl::hash::MessageDigest::sha256())
                .unwrap();
            let cert = b.build().to_der().unwrap();
            let signer = Signer::new(key, &cert).unwrap();
            assert_eq!(signer.alg(), alg);
            let xml = r#"<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0"><saml2:Issuer>https://idp</saml2:Issuer><saml2:Subject>홍 &amp; 길동</saml2:Subject></saml2:Assertion>"#;
            let signed = signer.sign(xml, "_a1", "</saml2:Issuer>").unwrap();
            assert!(signed.contains(alg.uri()), "{signed}");
            let certs = [cert.clone().into()];
            use samael::crypto::CryptoProvider as _;
            let reduced = samael::crypto::Crypto::reduce_xml_to_signed(
                &signed,
                &certs,
                samael::crypto::ReduceMode::PreDigest,
            )
            .unwrap_or_else(|e| panic!("{alg:?}: {e:?}"));
            assert!(reduced.contains("홍 &amp; 길동"), "{reduced}");
            let tampered = signed.replace("길동", "길순");
            assert!(samael::crypto::Crypto::reduce_xml_to_signed(
                &tampered,
                &certs,
                samael::crypto::ReduceMode::PreDigest
            )
            .is_err());
        }
    }
}
