//! The inbound SAML path an SP (or anyone) can reach: HTTP-Redirect query
//! parsing and inflating, the hostile-shape scan, samael's parsing of
//! AuthnRequest and LogoutRequest, and xmlsec's verification and reduction of
//! an enveloped signature. It must never panic or crash, whatever arrives.
//! The first byte picks the entry point; the rest is the input.
//!
//! The oracle "the scan and the parser read the same document": whatever
//! bytes `utf8_document` and the hostile-shape scan accept, a strict libxml2
//! parse (xmlsec's parser; no recover mode, no network, declared encodings
//! ignored) must read as well-formed, with the same root, `ID`s, element
//! count and `ds:Signature`/`ds:Reference` count. The gateway checks this at run time
//! too (`saml::parity`); here the scan is checked alone, so a gap in it is
//! found although the run-time check would refuse the message.

#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use munjigi::saml::{binding, inbound};
use samael_key::cert;

mod samael_key {
    use std::sync::OnceLock;
    /// One self-signed certificate as the SP's metadata key.
    pub fn cert() -> &'static Vec<u8> {
        static CERT: OnceLock<Vec<u8>> = OnceLock::new();
        CERT.get_or_init(|| {
            let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
            let mut b = openssl::x509::X509::builder().unwrap();
            b.set_pubkey(&key).unwrap();
            b.sign(&key, openssl::hash::MessageDigest::sha256()).unwrap();
            b.build().to_der().unwrap()
        })
    }
}

fn exercise(arrived: Result<binding::Arrived, munjigi::saml::error::Refusal>, root: &'static str) {
    let Ok(arrived) = arrived else { return };
    let keys = [cert().clone().into()];
    if let Ok(trusted) = binding::verify(&arrived, &keys, root, false, false) {
        let _ = trusted.xml.parse::<samael::schema::AuthnRequest>();
        let _ = trusted.xml.parse::<samael::schema::LogoutRequest>();
        let _ = munjigi::saml::inbound::session_indexes(&trusted.xml);
    }
}

/// The scan's view of what it accepts is strict libxml2's view.
fn same_document(bytes: &[u8], root: &'static str) {
    let Ok(doc) = inbound::utf8_document(bytes.to_vec()) else { return };
    let Ok(shape) = inbound::check_shape(&doc, root) else { return };
    let libxml2 = munjigi::saml::parity::libxml2_view(&doc);
    assert_eq!(
        libxml2.as_ref(),
        Some(&shape.view),
        "the scan and libxml2 read different documents: {doc:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let root = if mode & 2 == 0 { "AuthnRequest" } else { "LogoutRequest" };
    same_document(rest, root);
    let Ok(text) = std::str::from_utf8(rest) else { return };
    if mode & 1 == 0 {
        // HTTP-Redirect: a raw query string.
        exercise(binding::from_redirect(text, "SAMLRequest", root), root);
    } else {
        // HTTP-POST: the XML itself, base64-encoded as the form field.
        let form = vec![(
            "SAMLRequest".to_owned(),
            base64::engine::general_purpose::STANDARD.encode(text),
        )];
        exercise(binding::from_post(&form, "SAMLRequest", root), root);
    }
});
