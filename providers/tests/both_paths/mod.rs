//! Every verification in the CMS tests runs both ways and must come out the
//! same: the fast path (`ring`, remembered CA chains, falling back to OpenSSL
//! outside its profile) and the OpenSSL reference, with equal results or the
//! same error. So each case the tests build is also a differential case.

use munjigi_providers::cms::{self, CmsError, Expect, Path, TrustAnchors, VerifiedCms};

/// [`cms::verify`], checked against [`cms::verify_reference`] on the same input.
pub fn verify(
    signed_data: &[u8],
    expect: &Expect<'_>,
    anchors: &TrustAnchors,
) -> Result<VerifiedCms, CmsError> {
    let (got, path) = cms::verify_traced(signed_data, expect, anchors);
    let reference = cms::verify_reference(signed_data, expect, anchors);
    match (&got, &reference) {
        (Ok(a), Ok(b)) => {
            assert!(
                a == b,
                "{path:?} and the reference read the signer differently: {a:?} / {b:?}"
            )
        }
        (Err(a), Err(b)) => assert_eq!(
            a.code(),
            b.code(),
            "{path:?} and the reference refuse differently"
        ),
        (Ok(_), Err(e)) => panic!("{path:?} accepted what the reference refuses ({e})"),
        (Err(e), Ok(_)) => panic!("{path:?} refused what the reference accepts ({e})"),
    }
    got
}

/// Which way [`cms::verify`] took for this input.
#[allow(dead_code)]
pub fn path(signed_data: &[u8], expect: &Expect<'_>, anchors: &TrustAnchors) -> Path {
    cms::verify_traced(signed_data, expect, anchors).1
}
