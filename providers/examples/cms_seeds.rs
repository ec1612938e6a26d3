//! Writes a seed corpus for the CMS fuzz target: real SignedData from the
//! simulator's signing path (DER attached, BER indefinite-length, detached, and
//! detached over a SHA-256 only), over
//! the content the fuzz target expects, signed under a test PKI whose root the
//! target trusts, and the PKI's CRLs (DIR/pki/crl.pem, the target's stricter
//! anchors check them) with one other subscriber revoked; plus a result signed
//! with the CA's own key (refused as `ca_signer`). Usage:
//! `cargo run -p munjigi-providers --example cms_seeds -- DIR` (writes
//! DIR/pki/… and DIR/corpus/…).

use munjigi_providers::cms::Encoding;
use munjigi_sim::testpki::ProviderPki;
use std::path::PathBuf;

/// What the fuzz target asks to have been signed.
pub const CONTENT: &[u8] = b"munjigi-fuzz-nonce-0123456789abcdef";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: cms_seeds DIR")?);
    let pki_dir = dir.join("pki");
    let pki = match ProviderPki::load_or_generate(&pki_dir, "Fuzz") {
        // A folder of an older layout (no root key): seeds are throw-away.
        Err(munjigi_sim::testpki::PkiError::Incomplete(_)) => {
            std::fs::remove_dir_all(&pki_dir)?;
            ProviderPki::load_or_generate(&pki_dir, "Fuzz")?
        }
        other => other?,
    };
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus)?;
    let person = pki.issue_subscriber("홍길동", "FUZZ-0001", None)?;
    for (name, enc) in [
        ("der-attached", Encoding::DerAttached),
        ("ber-indefinite", Encoding::BerIndefiniteAttached),
        ("der-detached", Encoding::DerDetached),
    ] {
        let signed = munjigi_sim::cms::sign(CONTENT, &person, std::slice::from_ref(pki.ca()), enc)?;
        std::fs::write(corpus.join(name), signed)?;
    }
    // Naver's document-hash form: detached, BER, messageDigest = SHA-256(CONTENT).
    let digest = openssl::sha::sha256(CONTENT);
    let signed = munjigi_sim::cms::sign_sha256_detached(
        &digest,
        &person,
        std::slice::from_ref(pki.ca()),
        Encoding::BerIndefiniteDetached,
    )?;
    std::fs::write(corpus.join("ber-detached-sha256"), signed)?;
    let ca = munjigi_sim::cms::sign(CONTENT, &pki.ca_as_subscriber(), &[], Encoding::DerAttached)?;
    std::fs::write(corpus.join("ca-signer"), ca)?;
    let other = pki.issue_subscriber("김철수", "FUZZ-0002", None)?;
    pki.revoke(other.cert.serial_number())?;
    pki.write_crl(&pki_dir.join("crl.pem"))?;
    println!("seeds in {}", corpus.display());
    Ok(())
}
