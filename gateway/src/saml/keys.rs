//! The IdP's SAML signing key and certificate, loaded once at start.
//!
//! SAML SPs pin a certificate from metadata rather than fetching keys, so
//! rotation is a published-ahead certificate: `saml.next.crt` appears in
//! `/saml/metadata` next to the current one for as long as SPs need to
//! refresh, then the operator swaps the files. Demo and tests may generate a
//! key and a self-signed certificate when they are missing.

use samael::crypto::CertificateDer;
use std::path::Path;

pub struct SamlKeys {
    /// XML signatures with the key loaded once.
    pub signer: super::dsig::Signer,
    /// The same key, for HTTP-Redirect query signatures.
    pub key: openssl::pkey::PKey<openssl::pkey::Private>,
    pub cert: CertificateDer,
    /// Published in metadata ahead of a rotation.
    pub next_cert: Option<CertificateDer>,
}

impl std::fmt::Debug for SamlKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlKeys")
            .field("next_cert", &self.next_cert.is_some())
            .finish_non_exhaustive()
    }
}

fn err(path: &Path, reason: impl std::fmt::Display) -> String {
    format!("SAML key file `{}`: {reason}", path.display())
}

impl SamlKeys {
    /// `saml.pem` (RSA private key) and `saml.crt` in `dir`.
    pub fn load(dir: &Path, generate_missing: bool, common_name: &str) -> Result<Self, String> {
        // Before any request can reach xmlsec: no XSLT/XPath, no fetching.
        munjigi_xmlsec_lockdown::lock_down().map_err(|e| e.to_string())?;
        let key_path = dir.join("saml.pem");
        let cert_path = dir.join("saml.crt");
        if generate_missing && !key_path.exists() && !cert_path.exists() {
            generate(dir, common_name)?;
        }
        let key_pem = std::fs::read(&key_path).map_err(|e| err(&key_path, e))?;
        let key = openssl::pkey::PKey::private_key_from_pem(&key_pem)
            .map_err(|e| err(&key_path, format!("not a PEM private key: {e}")))?;
        let rsa = key
            .rsa()
            .map_err(|_| err(&key_path, "SAML signing needs an RSA key (RSA-SHA256)"))?;
        if rsa.size() < 256 {
            return Err(err(&key_path, "RSA key shorter than 2048 bits"));
        }
        let cert = read_cert(&cert_path)?;
        let public = openssl::x509::X509::from_der(cert.der_data())
            .and_then(|c| c.public_key())
            .map_err(|e| err(&cert_path, e))?;
        if !public.public_eq(&key) {
            return Err(err(&cert_path, "certificate does not match saml.pem"));
        }
        let next_path = dir.join("saml.next.crt");
        let next_cert = match next_path.exists() {
            true => Some(read_cert(&next_path)?),
            false => None,
        };
        Ok(Self {
            signer: super::dsig::Signer::new(key.clone(), cert.der_data()),
            key,
            cert,
            next_cert,
        })
    }
}

fn read_cert(path: &Path) -> Result<CertificateDer, String> {
    let pem = std::fs::read(path).map_err(|e| err(path, e))?;
    let cert = openssl::x509::X509::from_pem(&pem)
        .map_err(|e| err(path, format!("not a PEM certificate: {e}")))?;
    Ok(cert.to_der().map_err(|e| err(path, e))?.into())
}

/// A fresh RSA-2048 key and a ten-year self-signed certificate (SAML
/// metadata pins the certificate itself; its validity period is not used).
fn generate(dir: &Path, common_name: &str) -> Result<(), String> {
    use openssl::{
        asn1::Asn1Time, bn::BigNum, hash::MessageDigest, nid::Nid, pkey::PKey, rsa::Rsa, x509,
    };
    let build = || -> Result<(Vec<u8>, Vec<u8>), openssl::error::ErrorStack> {
        let key = PKey::from_rsa(Rsa::generate(2048)?)?;
        let mut name = x509::X509NameBuilder::new()?;
        name.append_entry_by_nid(Nid::COMMONNAME, common_name)?;
        let name = name.build();
        let mut b = x509::X509::builder()?;
        b.set_version(2)?;
        let mut serial = BigNum::new()?;
        serial.rand(120, openssl::bn::MsbOption::MAYBE_ZERO, false)?;
        let serial = serial.to_asn1_integer()?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(&name)?;
        b.set_issuer_name(&name)?;
        b.set_pubkey(&key)?;
        let (from, until) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(3650)?);
        b.set_not_before(&from)?;
        b.set_not_after(&until)?;
        b.sign(&key, MessageDigest::sha256())?;
        Ok((key.private_key_to_pem_pkcs8()?, b.build().to_pem()?))
    };
    let (key_pem, cert_pem) = build().map_err(|e| format!("generating the SAML key: {e}"))?;
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    crate::keys::write_private(&dir.join("saml.pem"), &key_pem).map_err(|e| err(dir, e))?;
    std::fs::write(dir.join("saml.crt"), cert_pem).map_err(|e| err(dir, e))?;
    tracing::warn!(dir = %dir.display(), "generated a new SAML signing key and certificate");
    Ok(())
}
