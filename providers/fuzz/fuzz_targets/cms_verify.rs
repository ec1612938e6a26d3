//! Any bytes as a provider's signed result: decoding (DER, BER), attribute reading
//! and verification must end in `Ok` or a typed `CmsError`, never a panic or a
//! crash. Trusts the root in `$MUNJIGI_FUZZ_DIR/pki/root.pem` (written with the
//! seeds by the `cms_seeds` example) so mutated seeds reach the deep checks.
//!
//! Oracles: the fast path (`ring`, remembered CA chains) and the OpenSSL
//! reference (`cms::verify_reference`) agree on every input, under each set
//! of anchors: the same signer read the same way, or the same error. And the
//! provider rules on top of the pinned CA (its CRLs required, the seeds'
//! policy) only ever refuse more: whatever passes them passes the pinned CA
//! alone, and whatever that refuses they refuse too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use munjigi_providers::cms::{self, Content, CrlPolicy, Expect, SignerRules, TrustAnchors};
use std::sync::OnceLock;

const CONTENT: &[u8] = b"munjigi-fuzz-nonce-0123456789abcdef";
/// SHA-256 of [`CONTENT`], for the digest-only detached form.
const CONTENT_SHA256: [u8; 32] = [
    0x73, 0xcc, 0x37, 0x54, 0x21, 0x1d, 0xa3, 0xff, 0xbb, 0xe5, 0x0c, 0xec, 0x3d, 0xca, 0x8b, 0x5b,
    0x4f, 0xb5, 0xd2, 0xf3, 0xa3, 0x38, 0x9a, 0xf8, 0x41, 0x40, 0x8f, 0xec, 0x13, 0x39, 0x17, 0xf6,
];

fn anchors() -> &'static TrustAnchors {
    static A: OnceLock<TrustAnchors> = OnceLock::new();
    A.get_or_init(|| {
        let dir = std::env::var("MUNJIGI_FUZZ_DIR").unwrap_or_else(|_| "target/fuzz-cms".into());
        let pem = std::fs::read(format!("{dir}/pki/root.pem"))
            .expect("run deploy/fuzz (it writes the seeds and the root first)");
        TrustAnchors::from_pem(&pem).expect("root.pem")
    })
}

/// The test PKI's subscriber policy (`munjigi_sim::testpki::TEST_POLICY_OID`).
const POLICY: &str = "1.2.410.200005.1.1.5";

/// The root with the seeds' CA pinned as the only issuer (a pinned CA also
/// helps build chains, so this may accept what the root alone cannot chain).
fn pinned() -> &'static TrustAnchors {
    static A: OnceLock<TrustAnchors> = OnceLock::new();
    A.get_or_init(|| anchors().clone().with_signer_rules(pin(SignerRules::default())))
}

/// [`pinned`] with the policy and the CRLs required on top.
fn strict() -> &'static TrustAnchors {
    static A: OnceLock<TrustAnchors> = OnceLock::new();
    A.get_or_init(|| {
        let dir = std::env::var("MUNJIGI_FUZZ_DIR").unwrap_or_else(|_| "target/fuzz-cms".into());
        let rules = SignerRules::default().require_policies([POLICY]).expect("rules");
        anchors()
            .clone()
            .with_signer_rules(pin(rules))
            .with_crl(CrlPolicy::from_file(format!("{dir}/pki/crl.pem"), true))
    })
}

fn pin(rules: SignerRules) -> SignerRules {
    let dir = std::env::var("MUNJIGI_FUZZ_DIR").unwrap_or_else(|_| "target/fuzz-cms".into());
    let ca = std::fs::read(format!("{dir}/pki/ca.pem")).expect("run deploy/fuzz");
    rules.pin_issuing_ca_pem(&ca).expect("rules")
}

fuzz_target!(|data: &[u8]| {
    for content in [
        Content::Attached(CONTENT),
        Content::Detached(CONTENT),
        Content::DetachedSha256(&CONTENT_SHA256),
    ] {
        let expect = Expect {
            content,
            not_before: 0,
            not_after: u64::MAX / 2,
            skew_secs: 60,
        };
        let root = cms::verify(data, &expect, anchors());
        let plain = cms::verify(data, &expect, pinned());
        let narrow = cms::verify(data, &expect, strict());
        for (got, anchors) in [(&root, anchors()), (&plain, pinned()), (&narrow, strict())] {
            let reference = cms::verify_reference(data, &expect, anchors);
            match (got, &reference) {
                (Ok(a), Ok(b)) => assert!(a == b, "the paths read the signer differently"),
                (Err(a), Err(b)) => assert_eq!(a.code(), b.code(), "the paths refuse differently"),
                _ => panic!("the fast path and the reference disagree: {got:?} / {reference:?}"),
            }
        }
        match (&plain, &narrow) {
            (Err(_), Ok(_)) => panic!("the stricter anchors accepted what the pinned CA refused"),
            (Ok(p), Ok(s)) => assert_eq!(p.signing_time, s.signing_time),
            _ => {}
        }
    }
});
