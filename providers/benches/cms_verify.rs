//! CPU per verification of a provider's signed result (`cms::verify`), the
//! largest share of a completed login's gateway CPU (`./deploy/bench login`).
//!
//! In-process, one thread: a test PKI (root, intermediate, RSA-2048
//! subscriber) signs the same nonce once per encoding, then each form is
//! verified `ITERATIONS` times (default 500) after a short warm-up. DER takes
//! the fast path (`ring`, the CA's chain remembered), BER the OpenSSL
//! reference. Printed beside it, for scale: decoding one certificate with
//! OpenSSL (what the fast path no longer pays for the signer) and one
//! RSA-2048 PKCS#1 SHA-256 verification (it pays two).
//!
//! Measurement only: it fails when a verification fails, never because it is
//! slow. Run with `./deploy/bench cms`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use munjigi_providers::cms::{self, Content, Encoding, Expect, TrustAnchors};
use munjigi_sim::testpki::ProviderPki;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

const NONCE: &[u8] = b"munjigi-bench-nonce-0123456789abcdef";

fn iterations() -> usize {
    std::env::var("ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(500)
}

/// Microseconds per call of `f`, over `n` calls after `n / 10` uncounted.
fn per_call(n: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..n / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn main() {
    let n = iterations();
    let pki = ProviderPki::generate("Bench").unwrap();
    let alice = pki.issue_subscriber("홍길동", "BENCH-UID-1", None).unwrap();
    let anchors = TrustAnchors::from_pem(&pki.root_pem().unwrap()).unwrap();
    let chain = [pki.ca().clone()];
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let digest = openssl::sha::sha256(NONCE);
    let cases: [(&str, Vec<u8>, Content<'_>); 4] = [
        (
            "DER, attached",
            munjigi_sim::cms::sign(NONCE, &alice, &chain, Encoding::DerAttached).unwrap(),
            Content::Attached(NONCE),
        ),
        (
            "BER indefinite, attached",
            munjigi_sim::cms::sign(NONCE, &alice, &chain, Encoding::BerIndefiniteAttached).unwrap(),
            Content::Attached(NONCE),
        ),
        (
            "DER, detached",
            munjigi_sim::cms::sign(NONCE, &alice, &chain, Encoding::DerDetached).unwrap(),
            Content::Detached(NONCE),
        ),
        (
            "DER, detached SHA-256 only",
            munjigi_sim::cms::sign_sha256_detached(&digest, &alice, &chain, Encoding::DerDetached)
                .unwrap(),
            Content::DetachedSha256(&digest),
        ),
    ];
    println!("== cms_verify: {n} verifications per form, one thread, RSA-2048 chain of 3");
    for (name, signed, content) in &cases {
        let expect = Expect {
            content: *content,
            not_before: now - 60,
            not_after: now + 60,
            skew_secs: 5,
        };
        cms::verify(signed, &expect, &anchors).unwrap_or_else(|e| panic!("{name}: {e}"));
        let us = per_call(n, || {
            cms::verify(signed, &expect, &anchors).unwrap();
        });
        println!(
            "{name:<28} {us:>8.1} µs per verification ({} B)",
            signed.len()
        );
    }
    let cert = pki.ca().to_der().unwrap();
    let decode = per_call(n, || {
        openssl::x509::X509::from_der(&cert).unwrap();
    });
    println!("for scale: one certificate decoded by OpenSSL {decode:>8.1} µs");
    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let sig = {
        let mut s =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
        s.sign_oneshot_to_vec(NONCE).unwrap()
    };
    let rsa = per_call(n, || {
        let mut v =
            openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
        assert!(v.verify_oneshot(&sig, NONCE).unwrap());
    });
    println!("for scale: one RSA-2048 PKCS#1 SHA-256 verification {rsa:>8.1} µs");
}
