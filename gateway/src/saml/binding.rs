//! The two bindings a message arrives by, and their signatures.
//!
//! HTTP-Redirect signs the query string, not the XML (SAML bindings §3.4.4.1):
//! the signed octets are the parameters *exactly as they were URL-encoded on
//! the wire*, so the raw query is split by hand and never re-encoded (two
//! encoders disagree on `%2B` vs `+`; re-encoding would break honest SPs and
//! could let a dishonest one choose what is verified). HTTP-POST carries an
//! enveloped XML signature; xmlsec verifies it with keys from the SP's
//! metadata only (never a KeyInfo in the message) and hands back the
//! pre-digest bytes of exactly the signed element, which is all that is read
//! afterwards: a wrapped or appended unsigned element is never seen.
//!
//! A message reaches xmlsec only after the scan ([`inbound::check_shape`])
//! and a strict libxml2 parse ([`super::parity`]) read it alike, and only in a
//! process whose xmlsec was locked down (`munjigi-xmlsec-lockdown`: no XSLT or
//! XPath transforms, no fetching of Reference URIs, no external entities).
//! RelayState is echoed back to the SP, so control characters are refused.

use super::error::Refusal;
use super::inbound::{self, Shape};
use base64::Engine as _;
use openssl::pkey::{PKey, Public};
use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer, CryptoProvider, ReduceMode};

pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";

/// A message parameter name: `SAMLRequest` or `SAMLResponse`.
pub type Kind = &'static str;

/// A message as it arrived, before trust.
#[derive(Debug, Clone)]
pub struct Arrived {
    pub binding: &'static str,
    pub xml: String,
    pub relay_state: Option<String>,
    /// Redirect only: the signed octets, the SigAlg and the signature.
    redirect_sig: Option<RedirectSig>,
    pub shape: Shape,
}

#[derive(Debug, Clone)]
struct RedirectSig {
    signed: String,
    alg: String,
    signature: Vec<u8>,
}

impl Arrived {
    /// Whether the message carries a signature in either form.
    pub fn is_signed(&self) -> bool {
        self.redirect_sig.is_some() || self.shape.signed
    }
}

/// The Issuer an HTTP-Redirect message claims, read best-effort when it is
/// refused before its SP is known: for the operator's log line and the
/// integrator's page, never for a decision.
pub fn claimed_issuer_redirect(raw_query: &str, kind: Kind) -> Option<String> {
    if raw_query.len() > inbound::MAX_ENCODED * 2 {
        return None;
    }
    let raw = raw_query
        .split('&')
        .find_map(|piece| piece.strip_prefix(kind)?.strip_prefix('='))?;
    let xml = inbound::decode_redirect(&decode_component(raw).ok()?.replace(' ', "+")).ok()?;
    inbound::claimed_issuer(&xml)
}

/// [`claimed_issuer_redirect`] for an HTTP-POST form.
pub fn claimed_issuer_post(form: &[(String, String)], kind: Kind) -> Option<String> {
    let (_, value) = form.iter().find(|(k, _)| k == kind)?;
    inbound::claimed_issuer(&inbound::decode_post(value).ok()?)
}

/// Largest RelayState (SAML bindings §3.4.3: 80 bytes).
const MAX_RELAY_STATE: usize = 80;

/// Reads an HTTP-Redirect message from the raw query string.
pub fn from_redirect(raw_query: &str, kind: Kind, root: &'static str) -> Result<Arrived, Refusal> {
    if raw_query.len() > inbound::MAX_ENCODED * 2 {
        return Err(Refusal::TooLarge);
    }
    let mut message = None;
    let mut relay = None;
    let mut alg = None;
    let mut signature = None;
    for piece in raw_query.split('&') {
        let (name, raw) = piece.split_once('=').unwrap_or((piece, ""));
        let slot = match name {
            n if n == kind => &mut message,
            "RelayState" => &mut relay,
            "SigAlg" => &mut alg,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(raw).is_some() {
            return Err(Refusal::RepeatedParameter);
        }
    }
    let raw_message = message.ok_or(Refusal::Missing)?;
    // Base64 has no spaces: a space here is a `+` the SP did not
    // percent-encode (form decoding turned it into a space).
    let xml = inbound::decode_redirect(&decode_component(raw_message)?.replace(' ', "+"))?;
    let relay_state = relay.map(decode_component).transpose()?;
    check_relay_state(relay_state.as_deref())?;
    let redirect_sig = match (alg, signature) {
        (None, None) => None,
        (Some(a), Some(s)) => {
            let mut signed = format!("{kind}={raw_message}");
            if let Some(r) = relay {
                signed.push_str("&RelayState=");
                signed.push_str(r);
            }
            signed.push_str("&SigAlg=");
            signed.push_str(a);
            let signature = base64::engine::general_purpose::STANDARD
                .decode(
                    decode_component(s)?
                        .replace(' ', "+")
                        .replace(['\n', '\r'], ""),
                )
                .map_err(|_| Refusal::BadSignature)?;
            Some(RedirectSig {
                signed,
                alg: decode_component(a)?,
                signature,
            })
        }
        _ => return Err(Refusal::BadSignature),
    };
    let shape = inbound::check_shape(&xml, root)?;
    super::parity::check(&xml, &shape)?;
    // A Redirect message signs the query; an XML signature inside is not allowed.
    if shape.signed {
        return Err(Refusal::BadSignature);
    }
    Ok(Arrived {
        binding: BINDING_REDIRECT,
        xml,
        relay_state,
        redirect_sig,
        shape,
    })
}

/// Reads an HTTP-POST message from its form fields.
pub fn from_post(
    form: &[(String, String)],
    kind: Kind,
    root: &'static str,
) -> Result<Arrived, Refusal> {
    let mut message = None;
    let mut relay = None;
    for (k, v) in form {
        let slot = match k.as_str() {
            n if n == kind => &mut message,
            "RelayState" => &mut relay,
            _ => continue,
        };
        if slot.replace(v.as_str()).is_some() {
            return Err(Refusal::RepeatedParameter);
        }
    }
    let xml = inbound::decode_post(message.ok_or(Refusal::Missing)?)?;
    check_relay_state(relay)?;
    let shape = inbound::check_shape(&xml, root)?;
    super::parity::check(&xml, &shape)?;
    Ok(Arrived {
        binding: BINDING_POST,
        xml,
        relay_state: relay.map(str::to_owned),
        redirect_sig: None,
        shape,
    })
}

/// At most 80 bytes, and no control characters (C0, DEL, C1): RelayState
/// goes back to the SP in a form field or a query, and into logs.
pub(super) fn check_relay_state(relay: Option<&str>) -> Result<(), Refusal> {
    if relay.is_some_and(|r| r.len() > MAX_RELAY_STATE || r.chars().any(char::is_control)) {
        return Err(Refusal::RelayState);
    }
    Ok(())
}

fn decode_component(raw: &str) -> Result<String, Refusal> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(format!("v={raw}").as_bytes())
        .into_owned()
        .collect();
    match pairs.as_slice() {
        [(_, v)] => Ok(v.clone()),
        _ => Err(Refusal::Encoding),
    }
}

/// A message whose signature (if any, or as required) verified, reduced to
/// what the signature covered.
#[derive(Debug, Clone)]
pub struct Trusted {
    pub xml: String,
    pub signed: bool,
}

/// Verifies `msg` against the SP's metadata keys. With `required`, an unsigned
/// message is refused; a present signature is always verified. A SHA-1
/// digest in an XML signature passes only with `allow_sha1_digest` (the SP's
/// `allow_sha1_digest`); SHA-1 signatures never do.
pub fn verify(
    msg: &Arrived,
    keys: &[CertificateDer],
    root: &'static str,
    required: bool,
    allow_sha1_digest: bool,
) -> Result<Trusted, Refusal> {
    if let Some(sig) = &msg.redirect_sig {
        verify_redirect(sig, keys)?;
        return Ok(Trusted {
            xml: msg.xml.clone(),
            signed: true,
        });
    }
    if msg.shape.signed {
        if msg.shape.sha1_digest && !allow_sha1_digest {
            return Err(Refusal::algorithm(
                "DigestMethod",
                super::inbound::ALG_SHA1_DIGEST,
            ));
        }
        // Never verify with xmlsec's defaults (fetching, XSLT): fail closed.
        if let Err(e) = munjigi_xmlsec_lockdown::lock_down() {
            tracing::error!(error = %e, "SAML signature not verified");
            return Err(Refusal::BadSignature);
        }
        let allowed = [
            AllowedSignatureAlgorithm::RsaSha256,
            AllowedSignatureAlgorithm::EcdsaSha256,
        ];
        // samael pairs each signature algorithm with its own digest, so a
        // SHA-1 digest (allowed for this SP, above) is verified without that
        // list: the scan has already held the message to one SignedInfo with
        // one Reference, RSA-SHA256 or ECDSA-SHA256, and SHA-256 or SHA-1.
        let allowed = (!msg.shape.sha1_digest).then_some(&allowed[..]);
        let reduced = samael::crypto::Crypto::reduce_xml_to_signed_with_allowed_algorithms(
            &msg.xml,
            keys,
            ReduceMode::PreDigest,
            allowed,
        )
        .map_err(|_| Refusal::BadSignature)?;
        // The signed element itself must be the whole message's root: same
        // element, same ID, and still nothing hostile.
        let shape = inbound::check_shape(&reduced, root).map_err(|_| Refusal::BadSignature)?;
        if shape.root_id.is_none() || shape.root_id != msg.shape.root_id {
            return Err(Refusal::BadSignature);
        }
        return Ok(Trusted {
            xml: reduced,
            signed: true,
        });
    }
    if required {
        return Err(Refusal::SignatureMissing);
    }
    Ok(Trusted {
        xml: msg.xml.clone(),
        signed: false,
    })
}

fn verify_redirect(sig: &RedirectSig, keys: &[CertificateDer]) -> Result<(), Refusal> {
    let ec = match sig.alg.as_str() {
        RSA_SHA256 => false,
        ECDSA_SHA256 => true,
        other => return Err(Refusal::algorithm("SigAlg", other)),
    };
    for cert in keys {
        let Some(key) = public_key(cert) else {
            continue;
        };
        if ec != key.ec_key().is_ok() {
            continue;
        }
        let candidates = if ec {
            ecdsa_forms(&sig.signature)
        } else {
            vec![sig.signature.clone()]
        };
        for candidate in candidates {
            let ok = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key)
                .and_then(|mut v| v.verify_oneshot(&candidate, sig.signed.as_bytes()))
                .unwrap_or(false);
            if ok {
                return Ok(());
            }
        }
    }
    Err(Refusal::BadSignature)
}

fn public_key(cert: &CertificateDer) -> Option<PKey<Public>> {
    openssl::x509::X509::from_der(cert.der_data())
        .ok()?
        .public_key()
        .ok()
}

/// ECDSA signatures come as XML-DSig's raw `r || s` or as DER (some SP
/// libraries sign the query with a generic DER signer): accept both.
fn ecdsa_forms(sig: &[u8]) -> Vec<Vec<u8>> {
    let mut forms = vec![sig.to_vec()];
    if sig.len() == 64 {
        let (r, s) = sig.split_at(32);
        let der = openssl::bn::BigNum::from_slice(r)
            .and_then(|r| Ok((r, openssl::bn::BigNum::from_slice(s)?)))
            .and_then(|(r, s)| openssl::ecdsa::EcdsaSig::from_private_components(r, s))
            .and_then(|e| e.to_der());
        if let Ok(der) = der {
            forms.insert(0, der);
        }
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    const XML: &str = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r1" Version="2.0"/>"#;

    fn deflated() -> String {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(XML.as_bytes()).unwrap();
        base64::engine::general_purpose::STANDARD.encode(e.finish().unwrap())
    }

    fn enc(s: &str) -> String {
        form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }

    fn cert_and_key(ec: bool) -> (CertificateDer, PKey<openssl::pkey::Private>) {
        let key = if ec {
            let g =
                openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
            PKey::from_ec_key(openssl::ec::EcKey::generate(&g).unwrap()).unwrap()
        } else {
            PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap()
        };
        let mut b = openssl::x509::X509::builder().unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        (b.build().to_der().unwrap().into(), key)
    }

    fn signed_query(key: &PKey<openssl::pkey::Private>, alg: &str, relay: &str) -> String {
        let unsigned = format!(
            "SAMLRequest={}&RelayState={}&SigAlg={}",
            enc(&deflated()),
            enc(relay),
            enc(alg)
        );
        let mut s =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), key).unwrap();
        s.update(unsigned.as_bytes()).unwrap();
        let sig = base64::engine::general_purpose::STANDARD.encode(s.sign_to_vec().unwrap());
        format!("{unsigned}&Signature={}", enc(&sig))
    }

    #[test]
    fn redirect_signatures_verify_over_the_raw_query() {
        for (ec, alg) in [(false, RSA_SHA256), (true, ECDSA_SHA256)] {
            let (cert, key) = cert_and_key(ec);
            let q = signed_query(&key, alg, "rs 1+2");
            let m = from_redirect(&q, "SAMLRequest", "AuthnRequest").unwrap();
            assert_eq!(m.relay_state.as_deref(), Some("rs 1+2"));
            let t = verify(&m, std::slice::from_ref(&cert), "AuthnRequest", true, false).unwrap();
            assert!(t.signed);
            // Another RelayState than the one signed.
            let tampered = q.replace("RelayState=rs", "RelayState=rX");
            let m = from_redirect(&tampered, "SAMLRequest", "AuthnRequest").unwrap();
            assert_eq!(
                verify(&m, std::slice::from_ref(&cert), "AuthnRequest", true, false).err(),
                Some(Refusal::BadSignature)
            );
            // Another key than the SP's.
            let (other, _) = cert_and_key(ec);
            let m = from_redirect(&q, "SAMLRequest", "AuthnRequest").unwrap();
            assert_eq!(
                verify(&m, &[other], "AuthnRequest", true, false).err(),
                Some(Refusal::BadSignature)
            );
        }
    }

    /// Connections to a local listener other than the test's own sentinel,
    /// which is accepted after every earlier one.
    fn foreign_connections(l: &std::net::TcpListener) -> usize {
        use std::io::Read as _;
        let mut sentinel = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        sentinel.write_all(b"S").unwrap();
        let mut foreign = 0;
        loop {
            let (mut c, _) = l.accept().unwrap();
            c.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                .unwrap();
            let mut first = [0u8; 1];
            if matches!(c.read(&mut first), Ok(1)) && first == *b"S" {
                return foreign;
            }
            foreign += 1;
        }
    }

    #[test]
    fn xmlsec_fetches_no_reference_even_past_the_scan() {
        // The scan refuses this message; here it is handed to verify as if the
        // scan had not (the second wall: xmlsec's lock-down).
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ds = "http://www.w3.org/2000/09/xmldsig#";
        let reference = |uri: &str| {
            format!(
                r#"<ds:Reference URI="{uri}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=</ds:DigestValue></ds:Reference>"#
            )
        };
        let xml = format!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r1" Version="2.0"><ds:Signature xmlns:ds="{ds}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{RSA_SHA256}"/>{}{}</ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature></samlp:AuthnRequest>"#,
            reference(&format!("http://{}/fetched", l.local_addr().unwrap())),
            reference("#_r1"),
        );
        let arrived = Arrived {
            binding: BINDING_POST,
            xml,
            relay_state: None,
            redirect_sig: None,
            shape: Shape {
                root_id: Some("_r1".into()),
                signed: true,
                sha1_digest: false,
                view: inbound::View::default(),
            },
        };
        let (cert, _) = cert_and_key(false);
        assert_eq!(
            verify(&arrived, &[cert], "AuthnRequest", true, false).err(),
            Some(Refusal::BadSignature)
        );
        assert_eq!(foreign_connections(&l), 0, "xmlsec fetched a Reference URI");
    }

    #[test]
    fn sha1_and_missing_signatures_are_refused() {
        let (cert, key) = cert_and_key(false);
        let q = signed_query(&key, "http://www.w3.org/2000/09/xmldsig#rsa-sha1", "x");
        let m = from_redirect(&q, "SAMLRequest", "AuthnRequest").unwrap();
        assert_eq!(
            verify(&m, std::slice::from_ref(&cert), "AuthnRequest", true, false).err(),
            Some(Refusal::algorithm(
                "SigAlg",
                "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
            ))
        );
        let unsigned = format!("SAMLRequest={}", enc(&deflated()));
        let m = from_redirect(&unsigned, "SAMLRequest", "AuthnRequest").unwrap();
        assert_eq!(
            verify(&m, std::slice::from_ref(&cert), "AuthnRequest", true, false).err(),
            Some(Refusal::SignatureMissing)
        );
        assert!(verify(&m, &[cert], "AuthnRequest", false, false).is_ok());
        let twice = format!("{unsigned}&{unsigned}");
        assert_eq!(
            from_redirect(&twice, "SAMLRequest", "AuthnRequest").err(),
            Some(Refusal::RepeatedParameter)
        );
        let long_relay = format!("{unsigned}&RelayState={}", "r".repeat(81));
        assert_eq!(
            from_redirect(&long_relay, "SAMLRequest", "AuthnRequest").err(),
            Some(Refusal::RelayState)
        );
        // Control characters: C0 (CR, LF, ESC, NUL), DEL and C1.
        for bad in ["a%0D%0ASet-Cookie:x", "a%1B[31m", "a%00", "a%7F", "a%C2%85"] {
            let q = format!("{unsigned}&RelayState={bad}");
            assert_eq!(
                from_redirect(&q, "SAMLRequest", "AuthnRequest").err(),
                Some(Refusal::RelayState),
                "{bad}"
            );
            let form = vec![
                (
                    "SAMLRequest".to_owned(),
                    base64::engine::general_purpose::STANDARD.encode(XML),
                ),
                ("RelayState".to_owned(), decode_component(bad).unwrap()),
            ];
            assert_eq!(
                from_post(&form, "SAMLRequest", "AuthnRequest").err(),
                Some(Refusal::RelayState),
                "{bad}"
            );
        }
        let fine = format!("{unsigned}&RelayState=%2Fhome%3Fa%3D1+b%20%ED%95%9C");
        assert!(from_redirect(&fine, "SAMLRequest", "AuthnRequest").is_ok());
    }
}
