//! Assertion encryption (XML Encryption 1.1) to the SP's metadata key.
//!
//! The signed Assertion is encrypted whole with a fresh AES-128-GCM key
//! (authenticated, unlike the CBC modes of XML Encryption 1.0), and that key
//! with RSA-OAEP to the encryption certificate from the SP's metadata. The
//! signature inside stays valid after decryption: exclusive c14n does not
//! depend on the surrounding document.

use crate::rescue::GatewayError;
use base64::Engine as _;
use samael::crypto::CertificateDer;

const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
const RSA_OAEP: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

fn internal(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::keys(format!("assertion encryption failed: {e}"))
}

/// `<saml2:EncryptedAssertion>` holding `assertion_xml`.
pub fn encrypted_assertion(
    assertion_xml: &str,
    to: &CertificateDer,
) -> Result<String, GatewayError> {
    let mut key = [0u8; 16];
    let mut iv = [0u8; 12];
    openssl::rand::rand_bytes(&mut key).map_err(internal)?;
    openssl::rand::rand_bytes(&mut iv).map_err(internal)?;
    let mut tag = [0u8; 16];
    let ciphertext = openssl::symm::encrypt_aead(
        openssl::symm::Cipher::aes_128_gcm(),
        &key,
        Some(&iv),
        &[],
        assertion_xml.as_bytes(),
        &mut tag,
    )
    .map_err(internal)?;
    let rsa = openssl::x509::X509::from_der(to.der_data())
        .and_then(|c| c.public_key())
        .and_then(|k| k.rsa())
        .map_err(|_| internal("the SP's encryption certificate is not an RSA key"))?;
    let mut wrapped = vec![0u8; usize::try_from(rsa.size()).map_err(internal)?];
    let n = rsa
        .public_encrypt(&key, &mut wrapped, openssl::rsa::Padding::PKCS1_OAEP)
        .map_err(internal)?;
    wrapped.truncate(n);
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut data = iv.to_vec();
    data.extend_from_slice(&ciphertext);
    data.extend_from_slice(&tag);
    Ok(format!(
        concat!(
            r#"<saml2:EncryptedAssertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion">"#,
            r#"<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element">"#,
            r#"<xenc:EncryptionMethod Algorithm="{data_alg}"/>"#,
            r#"<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey>"#,
            r#"<xenc:EncryptionMethod Algorithm="{key_alg}"><ds:DigestMethod Algorithm="{sha1}"/></xenc:EncryptionMethod>"#,
            r#"<xenc:CipherData><xenc:CipherValue>{key}</xenc:CipherValue></xenc:CipherData>"#,
            r#"</xenc:EncryptedKey></ds:KeyInfo>"#,
            r#"<xenc:CipherData><xenc:CipherValue>{data}</xenc:CipherValue></xenc:CipherData>"#,
            r#"</xenc:EncryptedData></saml2:EncryptedAssertion>"#
        ),
        data_alg = AES128_GCM,
        key_alg = RSA_OAEP,
        sha1 = SHA1,
        key = b64(&wrapped),
        data = b64(&data),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_of_the_key_gets_the_assertion_back() {
        let key =
            openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let mut b = openssl::x509::X509::builder().unwrap();
        b.set_pubkey(&key).unwrap();
        let from = openssl::asn1::Asn1Time::days_from_now(0).unwrap();
        let until = openssl::asn1::Asn1Time::days_from_now(1).unwrap();
        b.set_not_before(&from).unwrap();
        b.set_not_after(&until).unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        let cert: CertificateDer = b.build().to_der().unwrap().into();
        let plain = "<saml2:Assertion ID=\"_a\">홍길동</saml2:Assertion>";
        let xml = encrypted_assertion(plain, &cert).unwrap();
        assert!(!xml.contains("홍길동"));
        let values: Vec<&str> = xml
            .split("<xenc:CipherValue>")
            .skip(1)
            .filter_map(|s| s.split('<').next())
            .collect();
        let [wrapped, data] = values.as_slice() else {
            panic!("two cipher values")
        };
        let std = base64::engine::general_purpose::STANDARD;
        let wrapped = std.decode(wrapped).unwrap();
        let rsa = key.rsa().unwrap();
        let mut aes = vec![0u8; 256];
        let n = rsa
            .private_decrypt(&wrapped, &mut aes, openssl::rsa::Padding::PKCS1_OAEP)
            .unwrap();
        let data = std.decode(data).unwrap();
        let (iv, rest) = data.split_at(12);
        let (ct, tag) = rest.split_at(rest.len() - 16);
        let out = openssl::symm::decrypt_aead(
            openssl::symm::Cipher::aes_128_gcm(),
            &aes[..n],
            Some(iv),
            &[],
            ct,
            tag,
        )
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), plain);
    }
}
