//! The IdP's SAML signing key and certificate, loaded once at start.
//!
//! SAML SPs pin a certificate from metadata rather than fetching keys, so
//! rotation is a published-ahead certificate: `saml.next.crt` appears in
//! `/saml/metadata` next to the current one for as long as SPs need to
//! refresh, then the operator swaps the files. Demo and tests may generate a
//! key and a self-signed certificate when they are missing.
//!
//! Beside the RSA key, a P-256 key (`saml-ec.pem`, `saml-ec.crt`) signs for
//! the SPs configured with `signature_algorithm = "ecdsa-sha256"`: an ECDSA
//! signature costs a fraction of an RSA-2048 one. Its certificate is in the
//! metadata as a second signing key whenever the files are there; they are
//! required (or generated, where keys may be) once an SP asks for it.

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
    /// The P-256 key and its certificate, where present.
    pub ec: Option<EcKeys>,
}

/// The ECDSA-SHA256 signing key, loaded once.
pub struct EcKeys {
    pub signer: super::dsig::Signer,
    pub cert: CertificateDer,
}

impl std::fmt::Debug for SamlKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlKeys")
            .field("next_cert", &self.next_cert.is_some())
            .field("ec", &self.ec.is_some())
            .finish_non_exhaustive()
    }
}

fn err(path: &Path, reason: impl std::fmt::Display) -> String {
    format!("SAML key file `{}`: {reason}", path.display())
}

impl SamlKeys {
    /// `saml.pem` (RSA private key) and `saml.crt` in `dir`, and the P-256
    /// pair `saml-ec.pem` and `saml-ec.crt` where present (`want_ec`: an SP
    /// signs with it, so it must be).
    pub fn load(
        dir: &Path,
        generate_missing: bool,
        common_name: &str,
        want_ec: bool,
    ) -> Result<Self, String> {
        // Before any request can reach xmlsec: no XSLT/XPath, no fetching.
        munjigi_xmlsec_lockdown::lock_down().map_err(|e| e.to_string())?;
        let key_path = dir.join("saml.pem");
        let cert_path = dir.join("saml.crt");
        if generate_missing && !key_path.exists() && !cert_path.exists() {
            generate(dir, common_name, Kind::Rsa)?;
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
            signer: super::dsig::Signer::new(key.clone(), cert.der_data())
                .map_err(|e| err(&key_path, e))?,
            key,
            cert,
            next_cert,
            ec: load_ec(dir, generate_missing, common_name, want_ec)?,
        })
    }

    /// The signer of `alg`'s signatures (none for ECDSA without its key).
    pub fn signer_for(&self, alg: super::dsig::SigAlg) -> Option<&super::dsig::Signer> {
        match alg {
            super::dsig::SigAlg::RsaSha256 => Some(&self.signer),
            super::dsig::SigAlg::EcdsaSha256 => self.ec.as_ref().map(|e| &e.signer),
        }
    }
}

fn load_ec(
    dir: &Path,
    generate_missing: bool,
    common_name: &str,
    want: bool,
) -> Result<Option<EcKeys>, String> {
    let key_path = dir.join("saml-ec.pem");
    let cert_path = dir.join("saml-ec.crt");
    match (key_path.exists(), cert_path.exists()) {
        (false, false) if want && generate_missing => generate(dir, common_name, Kind::Ec)?,
        (false, false) if want => {
            return Err(err(
                &key_path,
                "missing: an SP signs with ecdsa-sha256 (signature_algorithm), which needs saml-ec.pem and saml-ec.crt",
            ))
        }
        (false, false) => return Ok(None),
        (true, false) => return Err(err(&cert_path, "missing beside saml-ec.pem")),
        (false, true) => return Err(err(&key_path, "missing beside saml-ec.crt")),
        (true, true) => {}
    }
    let key_pem = std::fs::read(&key_path).map_err(|e| err(&key_path, e))?;
    let key = openssl::pkey::PKey::private_key_from_pem(&key_pem)
        .map_err(|e| err(&key_path, format!("not a PEM private key: {e}")))?;
    let p256 = key
        .ec_key()
        .ok()
        .and_then(|k| k.group().curve_name())
        .is_some_and(|n| n == openssl::nid::Nid::X9_62_PRIME256V1);
    if !p256 {
        return Err(err(&key_path, "ECDSA-SHA256 signing needs a P-256 key"));
    }
    let cert = read_cert(&cert_path)?;
    let public = openssl::x509::X509::from_der(cert.der_data())
        .and_then(|c| c.public_key())
        .map_err(|e| err(&cert_path, e))?;
    if !public.public_eq(&key) {
        return Err(err(&cert_path, "certificate does not match saml-ec.pem"));
    }
    let signer = super::dsig::Signer::new(key, cert.der_data()).map_err(|e| err(&key_path, e))?;
    // Tried once now, as the RSA key is by the metadata: a key that cannot
    // sign stops the start, not an SP's login.
    signer
        .sign_bytes(b"probe")
        .map_err(|e| err(&key_path, format!("cannot sign: {e}")))?;
    Ok(Some(EcKeys { signer, cert }))
}

#[derive(Clone, Copy)]
enum Kind {
    Rsa,
    Ec,
}

fn read_cert(path: &Path) -> Result<CertificateDer, String> {
    let pem = std::fs::read(path).map_err(|e| err(path, e))?;
    let cert = openssl::x509::X509::from_pem(&pem)
        .map_err(|e| err(path, format!("not a PEM certificate: {e}")))?;
    Ok(cert.to_der().map_err(|e| err(path, e))?.into())
}

/// A fresh RSA-2048 (or P-256) key and a ten-year self-signed certificate
/// (SAML metadata pins the certificate itself; its validity period is not
/// used).
fn generate(dir: &Path, common_name: &str, kind: Kind) -> Result<(), String> {
    use openssl::{
        asn1::Asn1Time, bn::BigNum, hash::MessageDigest, nid::Nid, pkey::PKey, rsa::Rsa, x509,
    };
    let build = || -> Result<(Vec<u8>, Vec<u8>), openssl::error::ErrorStack> {
        let key = match kind {
            Kind::Rsa => PKey::from_rsa(Rsa::generate(2048)?)?,
            Kind::Ec => {
                let group = openssl::ec::EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
                PKey::from_ec_key(openssl::ec::EcKey::generate(&group)?)?
            }
        };
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
    let (key_file, cert_file) = match kind {
        Kind::Rsa => ("saml.pem", "saml.crt"),
        Kind::Ec => ("saml-ec.pem", "saml-ec.crt"),
    };
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    crate::keys::write_private(&dir.join(key_file), &key_pem).map_err(|e| err(dir, e))?;
    std::fs::write(dir.join(cert_file), cert_pem).map_err(|e| err(dir, e))?;
    tracing::warn!(dir = %dir.display(), file = key_file, "generated a new SAML signing key and certificate");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("mj-saml-keys-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_ecdsa_key_is_optional_until_an_sp_asks_for_it() {
        let dir = temp("ec");
        // Nobody asks: none, and nothing made.
        assert!(load_ec(&dir, true, "idp", false).unwrap().is_none());
        assert!(!dir.join("saml-ec.pem").exists());
        // Asked without leave to generate: refused, naming the files.
        let e = load_ec(&dir, false, "idp", true).err().unwrap();
        assert!(
            e.contains("saml-ec.pem") && e.contains("ecdsa-sha256"),
            "{e}"
        );
        // Asked with leave: made, a P-256 signer, and loaded again as is.
        let made = load_ec(&dir, true, "idp", true).unwrap().unwrap();
        assert_eq!(made.signer.alg(), super::super::dsig::SigAlg::EcdsaSha256);
        let again = load_ec(&dir, false, "idp", false).unwrap().unwrap();
        assert_eq!(made.cert.der_data(), again.cert.der_data());
        // One file without the other, or an RSA key, is refused.
        std::fs::remove_file(dir.join("saml-ec.crt")).unwrap();
        assert!(load_ec(&dir, true, "idp", true).is_err());
        generate(&dir, "idp", Kind::Rsa).unwrap();
        std::fs::copy(dir.join("saml.pem"), dir.join("saml-ec.pem")).unwrap();
        std::fs::copy(dir.join("saml.crt"), dir.join("saml-ec.crt")).unwrap();
        let e = load_ec(&dir, false, "idp", true).err().unwrap();
        assert!(e.contains("P-256"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
