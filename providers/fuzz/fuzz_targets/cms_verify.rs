//! Any bytes as a provider's signed result: decoding (DER, BER), attribute reading
//! and verification must end in `Ok` or a typed `CmsError`, never a panic or a
//! crash. Trusts the root in `$MUNJIGI_FUZZ_DIR/pki/root.pem` (written with the
//! seeds by the `cms_seeds` example) so mutated seeds reach the deep checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use munjigi_providers::cms::{self, Expect, TrustAnchors};
use std::sync::OnceLock;

const CONTENT: &[u8] = b"munjigi-fuzz-nonce-0123456789abcdef";

fn anchors() -> &'static TrustAnchors {
    static A: OnceLock<TrustAnchors> = OnceLock::new();
    A.get_or_init(|| {
        let dir = std::env::var("MUNJIGI_FUZZ_DIR").unwrap_or_else(|_| "target/fuzz-cms".into());
        let pem = std::fs::read(format!("{dir}/pki/root.pem"))
            .expect("run deploy/fuzz (it writes the seeds and the root first)");
        TrustAnchors::from_pem(&pem).expect("root.pem")
    })
}

fuzz_target!(|data: &[u8]| {
    for detached in [false, true] {
        let expect = Expect {
            content: CONTENT,
            detached,
            not_before: 0,
            not_after: u64::MAX / 2,
            skew_secs: 60,
        };
        let _ = cms::verify(data, &expect, anchors());
    }
});
