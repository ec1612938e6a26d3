//! The inbound SAML path an SP (or anyone) can reach: HTTP-Redirect query
//! parsing and inflating, the hostile-shape scan, samael's parsing of
//! AuthnRequest and LogoutRequest, and xmlsec's verification and reduction of
//! an enveloped signature. It must never panic or crash, whatever arrives.
//! The first byte picks the entry point; the rest is the input.

#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use munjigi::saml::binding;
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
    if let Ok(trusted) = binding::verify(&arrived, &keys, root, false) {
        let _ = trusted.xml.parse::<samael::schema::AuthnRequest>();
        let _ = trusted.xml.parse::<samael::schema::LogoutRequest>();
        let _ = munjigi::saml::inbound::session_indexes(&trusted.xml);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let root = if mode & 2 == 0 { "AuthnRequest" } else { "LogoutRequest" };
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
