//! [`cms::verify`] against results signed every way providers sign them
//! (and many ways they must not), by the test PKI and signer of `munjigi-sim`.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod both_paths;
use both_paths::verify;
use std::sync::OnceLock;

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::asn1::ObjectIdentifier;
use der::{Decode as _, Encode as _};
use munjigi_providers::cms::{
    CmsError, Content, Encoding, Expect, Path, RuleError, SignerRules, TrustAnchors,
};
use munjigi_sim::cms::{sign, sign_sha256_detached};
use munjigi_sim::testpki::{Profile, ProviderPki, Subscriber, TEST_POLICY_OID};
use x509_cert::Certificate;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

const NONCE: &[u8] = b"mj-login-7Hq2xVb9Zt0cN4wLp8sRkE3uYa6fDg1jM5oTiW";

struct Fixture {
    pki: ProviderPki,
    other: ProviderPki,
    alice: Subscriber,
    expired: Subscriber,
    anchors: TrustAnchors,
}

fn fx() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let pki = ProviderPki::generate("Alpha").unwrap();
        let other = ProviderPki::generate("Other").unwrap();
        let alice = pki.issue_subscriber("홍길동", "ALPHA-UID-1", None).unwrap();
        let now = now() as i64;
        let year = 365 * 24 * 3600;
        let expired = pki
            .issue_subscriber("홍길동", "ALPHA-UID-2", Some((now - 4 * year, now - year)))
            .unwrap();
        let anchors = TrustAnchors::from_pem(&pki.root_pem().unwrap()).unwrap();
        Fixture {
            pki,
            other,
            alice,
            expired,
            anchors,
        }
    })
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn expect(content: &[u8], detached: bool) -> Expect<'_> {
    let n = now();
    Expect {
        content: if detached {
            Content::Detached(content)
        } else {
            Content::Attached(content)
        },
        not_before: n - 60,
        not_after: n + 60,
        skew_secs: 5,
    }
}

fn signed(encoding: Encoding) -> Vec<u8> {
    let f = fx();
    sign(NONCE, &f.alice, &[f.pki.ca().clone()], encoding).unwrap()
}

/// Decodes (DER), lets `edit` change the SignedData, re-encodes.
fn rewrite(cms: &[u8], edit: impl FnOnce(&mut SignedData)) -> Vec<u8> {
    let mut info = ContentInfo::from_der(cms).unwrap();
    let mut sd: SignedData = info.content.decode_as().unwrap();
    edit(&mut sd);
    info.content = der::Any::encode_from(&sd).unwrap();
    info.to_der().unwrap()
}

fn parse_sd(cms: &[u8]) -> SignedData {
    ContentInfo::from_der(cms)
        .unwrap()
        .content
        .decode_as()
        .unwrap()
}

/// Replaces the only occurrence of `from` in `bytes` with `to` (same length).
fn splice(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let at: Vec<usize> = bytes
        .windows(from.len())
        .enumerate()
        .filter(|(_, w)| *w == from)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "exactly one occurrence");
    bytes[at[0]..at[0] + to.len()].copy_from_slice(to);
}

/// A signer that writes its signed attributes out of DER order (and signs
/// them that way) is still verified: such input is not canonical DER, so
/// OpenSSL verifies its own parse of it rather than a sorted re-encoding.
#[test]
fn signed_attributes_out_of_der_order_still_verify() {
    let f = fx();
    let mut cms = signed(Encoding::DerAttached);
    let sd = parse_sd(&cms);
    let si = &sd.signer_infos.0.as_slice()[0];
    let attrs = si.signed_attrs.as_ref().unwrap();
    let set = attrs.to_der().unwrap();
    let elements: Vec<Vec<u8>> = attrs.iter().map(|a| a.to_der().unwrap()).collect();
    assert!(elements.len() >= 3);
    let sorted: Vec<u8> = elements.concat();
    let reversed: Vec<u8> = elements.iter().rev().flatten().copied().collect();
    assert_ne!(sorted, reversed);
    let mut unsorted_set = set.clone();
    let body = set.len() - sorted.len();
    unsorted_set[body..].copy_from_slice(&reversed);
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &f.alice.key).unwrap();
    signer.update(&unsorted_set).unwrap();
    let signature = signer.sign_to_vec().unwrap();
    splice(&mut cms, &sorted, &reversed);
    splice(&mut cms, si.signature.as_bytes(), &signature);
    verify(&cms, &expect(NONCE, false), &f.anchors).unwrap();
    // The same bytes with the old signature (over the sorted set) fail.
    splice(&mut cms, &signature, si.signature.as_bytes());
    assert!(matches!(
        verify(&cms, &expect(NONCE, false), &f.anchors),
        Err(CmsError::Signature)
    ));
}

#[test]
fn der_attached_verifies() {
    let f = fx();
    let cms = signed(Encoding::DerAttached);
    assert_ne!(cms[1], 0x80, "DER must use definite lengths");
    let v = verify(&cms, &expect(NONCE, false), &f.anchors).unwrap();
    assert_eq!(v.signer_common_name, "홍길동");
    let serial = f
        .alice
        .cert
        .serial_number()
        .to_bn()
        .unwrap()
        .to_hex_str()
        .unwrap();
    assert_eq!(v.signer_serial, serial.to_string());
    assert_eq!(v.signer_serial, v.signer_serial.to_ascii_uppercase());
    assert!(
        v.signer_issuer.contains("CN=Alpha Test CA"),
        "{}",
        v.signer_issuer
    );
    assert!(v.signing_time.abs_diff(now()) < 30);
    assert!(!format!("{v:?}").contains("홍길동"));

    // What the signer produced is what PROVIDERS.md describes.
    let sd = parse_sd(&cms);
    let si = &sd.signer_infos.0.as_slice()[0];
    assert_eq!(si.digest_alg.oid, ID_SHA256, "SHA-256");
    let oids: Vec<String> = si
        .signed_attrs
        .as_ref()
        .unwrap()
        .iter()
        .map(|a| a.oid.to_string())
        .collect();
    for want in [
        "1.2.840.113549.1.9.3",
        "1.2.840.113549.1.9.5",
        "1.2.840.113549.1.9.4",
    ] {
        assert!(oids.iter().any(|o| o == want), "missing {want} in {oids:?}");
    }
    assert!(
        !oids.iter().any(|o| o == "1.2.840.113549.1.9.15"),
        "no SMIMECapabilities"
    );
    assert_eq!(sd.certificates.unwrap().0.len(), 2, "signer + CA");
}

/// The forms providers send are checked without OpenSSL decoding the
/// signer's certificate (every call above and below also runs the OpenSSL
/// reference and must agree with it); what the fast path does not take, the
/// reference decides.
#[test]
fn everyday_results_take_the_fast_path() {
    let f = fx();
    // BER is OpenSSL's to parse, and so to check.
    for (encoding, path) in [
        (Encoding::DerAttached, Path::Fast),
        (Encoding::DerDetached, Path::Fast),
        (Encoding::BerIndefiniteAttached, Path::Reference),
        (Encoding::BerIndefiniteDetached, Path::Reference),
    ] {
        let cms = signed(encoding);
        let e = expect(NONCE, encoding.is_detached());
        verify(&cms, &e, &f.anchors).unwrap();
        assert_eq!(both_paths::path(&cms, &e, &f.anchors), path, "{encoding:?}");
    }
    let digest = openssl::sha::sha256(NONCE);
    let cms = sign_sha256_detached(
        &digest,
        &f.alice,
        &[f.pki.ca().clone()],
        Encoding::DerDetached,
    )
    .unwrap();
    let e = digest_expect(&digest);
    verify(&cms, &e, &f.anchors).unwrap();
    assert_eq!(both_paths::path(&cms, &e, &f.anchors), Path::Fast);

    // A signer or chain the fast path cannot accept is the reference's to
    // refuse: an expired signer, another provider's root. Checks after the
    // chain are shared: a nonce that is not the one asked for is refused on
    // the fast path itself.
    let expired = sign(
        NONCE,
        &f.expired,
        &[f.pki.ca().clone()],
        Encoding::DerAttached,
    )
    .unwrap();
    let theirs = TrustAnchors::from_pem(&f.other.root_pem().unwrap()).unwrap();
    let cms = signed(Encoding::DerAttached);
    for (cms, e, anchors, path) in [
        (&expired, expect(NONCE, false), &f.anchors, Path::Reference),
        (&cms, expect(NONCE, false), &theirs, Path::Reference),
        (
            &cms,
            expect(b"another nonce", false),
            &f.anchors,
            Path::Fast,
        ),
    ] {
        verify(cms, &e, anchors).unwrap_err();
        assert_eq!(both_paths::path(cms, &e, anchors), path);
    }
}

#[test]
fn ber_indefinite_verifies() {
    let f = fx();
    let cms = signed(Encoding::BerIndefiniteAttached);
    assert_eq!(
        &cms[..2],
        &[0x30, 0x80],
        "outer SEQUENCE has indefinite length"
    );
    assert!(cms.windows(2).any(|w| w == [0x24, 0x80]), "chunked content");
    assert!(cms.ends_with(&[0, 0, 0, 0, 0, 0]));
    // Not DER: the strict decoder refuses it, OpenSSL's decoder takes it.
    assert!(ContentInfo::from_der(&cms).is_err());
    let v = verify(&cms, &expect(NONCE, false), &f.anchors).unwrap();
    assert_eq!(v.signer_common_name, "홍길동");
    // Chunking really split the content; a BER result with other content fails.
    assert!(NONCE.len() > 32);
    assert_eq!(
        verify(&cms, &expect(b"something else", false), &f.anchors).unwrap_err(),
        CmsError::ContentMismatch
    );
}

#[test]
fn detached_verifies_against_supplied_content() {
    let f = fx();
    let cms = signed(Encoding::DerDetached);
    assert!(parse_sd(&cms).encap_content_info.econtent.is_none());
    verify(&cms, &expect(NONCE, true), &f.anchors).unwrap();
    // Other content: the messageDigest no longer matches.
    assert_eq!(
        verify(&cms, &expect(b"another nonce", true), &f.anchors).unwrap_err(),
        CmsError::Signature
    );
    // The caller must know which form it gets.
    assert_eq!(
        verify(&cms, &expect(NONCE, false), &f.anchors).unwrap_err(),
        CmsError::Encapsulation { detached: true }
    );
    let attached = signed(Encoding::DerAttached);
    assert_eq!(
        verify(&attached, &expect(NONCE, true), &f.anchors).unwrap_err(),
        CmsError::Encapsulation { detached: false }
    );
}

fn digest_expect(digest: &[u8; 32]) -> Expect<'_> {
    Expect {
        content: Content::DetachedSha256(digest),
        ..expect(b"", true)
    }
}

/// Naver's document-hash form: detached, messageDigest == the document's
/// SHA-256, checked with only the digest at hand, in DER and BER.
#[test]
fn detached_sha256_verifies_with_only_the_digest() {
    let f = fx();
    let document = b"a contract the citizen signs, kept by the site";
    let digest = openssl::sha::sha256(document);
    for encoding in [Encoding::DerDetached, Encoding::BerIndefiniteDetached] {
        let cms = sign_sha256_detached(&digest, &f.alice, &[f.pki.ca().clone()], encoding).unwrap();
        if encoding == Encoding::BerIndefiniteDetached {
            assert_eq!(&cms[..2], &[0x30, 0x80], "indefinite length");
            assert!(ContentInfo::from_der(&cms).is_err(), "not DER");
        } else {
            assert!(parse_sd(&cms).encap_content_info.econtent.is_none());
        }
        let v = verify(&cms, &digest_expect(&digest), &f.anchors).unwrap();
        assert_eq!(v.signer_common_name, "홍길동");
        // The same CMS is an ordinary detached signature over the document.
        verify(&cms, &expect(document, true), &f.anchors).unwrap();
        // Another digest (one bit off) is refused as other content.
        let mut wrong = digest;
        wrong[31] ^= 0x01;
        assert_eq!(
            verify(&cms, &digest_expect(&wrong), &f.anchors).unwrap_err(),
            CmsError::ContentMismatch
        );
        // Never read as attached content.
        assert_eq!(
            verify(&cms, &expect(&digest, false), &f.anchors).unwrap_err(),
            CmsError::Encapsulation { detached: true }
        );
    }
    // An attached CMS is not a detached digest signature.
    let attached = sign(
        &digest,
        &f.alice,
        &[f.pki.ca().clone()],
        Encoding::DerAttached,
    )
    .unwrap();
    assert_eq!(
        verify(&attached, &digest_expect(&digest), &f.anchors).unwrap_err(),
        CmsError::Encapsulation { detached: false }
    );
}

/// Without content to digest, the signature over the signed attributes is
/// still checked: a flipped signature byte, or a messageDigest changed after
/// signing, fails as a bad signature, not as a mere content mismatch.
#[test]
fn detached_sha256_still_checks_the_signature() {
    let f = fx();
    let digest = openssl::sha::sha256(b"document");
    let cms = sign_sha256_detached(
        &digest,
        &f.alice,
        &[f.pki.ca().clone()],
        Encoding::DerDetached,
    )
    .unwrap();
    let mut bad = cms.clone();
    *bad.last_mut().unwrap() ^= 0x01;
    assert_eq!(
        verify(&bad, &digest_expect(&digest), &f.anchors).unwrap_err(),
        CmsError::Signature
    );
    // Swap the messageDigest for another without re-signing.
    let other = openssl::sha::sha256(b"another document");
    let at = cms.windows(32).position(|w| w == digest).unwrap();
    let mut swapped = cms.clone();
    swapped[at..at + 32].copy_from_slice(&other);
    assert_eq!(
        verify(&swapped, &digest_expect(&other), &f.anchors).unwrap_err(),
        CmsError::Signature
    );
    // Every other check still applies: another provider's root fails.
    let theirs = TrustAnchors::from_pem(&f.other.root_pem().unwrap()).unwrap();
    assert!(matches!(
        verify(&cms, &digest_expect(&digest), &theirs).unwrap_err(),
        CmsError::Chain(_)
    ));
    // And the signingTime window.
    let n = now();
    let past = Expect {
        not_before: n - 3600,
        not_after: n - 600,
        ..digest_expect(&digest)
    };
    assert_eq!(
        verify(&cms, &past, &f.anchors).unwrap_err(),
        CmsError::SigningTimeOutsideWindow
    );
    // Digest-only signing needs a detached encoding.
    assert!(sign_sha256_detached(&digest, &f.alice, &[], Encoding::DerAttached).is_err());
}

#[test]
fn other_content_is_a_content_mismatch() {
    let f = fx();
    let cms = sign(
        b"a nonce from another login",
        &f.alice,
        &[f.pki.ca().clone()],
        Encoding::DerAttached,
    )
    .unwrap();
    assert_eq!(
        verify(&cms, &expect(NONCE, false), &f.anchors).unwrap_err(),
        CmsError::ContentMismatch
    );
    // Same length, one byte different.
    let mut almost = NONCE.to_vec();
    *almost.last_mut().unwrap() ^= 1;
    let cms = signed(Encoding::DerAttached);
    assert_eq!(
        verify(&cms, &expect(&almost, false), &f.anchors).unwrap_err(),
        CmsError::ContentMismatch
    );
}

#[test]
fn flipped_signature_byte_is_a_bad_signature() {
    let f = fx();
    let cms = signed(Encoding::DerAttached);
    let sig = parse_sd(&cms).signer_infos.0.as_slice()[0]
        .signature
        .as_bytes()
        .to_vec();
    let at = cms.windows(sig.len()).position(|w| w == sig).unwrap() + sig.len() / 2;
    let mut bad = cms.clone();
    bad[at] ^= 0x01;
    assert_eq!(
        verify(&bad, &expect(NONCE, false), &f.anchors).unwrap_err(),
        CmsError::Signature
    );
}

#[test]
fn tampered_content_is_a_bad_digest() {
    let f = fx();
    let cms = signed(Encoding::DerAttached);
    let at = cms.windows(NONCE.len()).position(|w| w == NONCE).unwrap();
    let mut bad = cms.clone();
    bad[at] ^= 0x01;
    let mut tampered = NONCE.to_vec();
    tampered[0] ^= 0x01;
    // Even when the gateway "expects" the tampered content, messageDigest fails.
    assert_eq!(
        verify(&bad, &expect(&tampered, false), &f.anchors).unwrap_err(),
        CmsError::Signature
    );
}

#[test]
fn another_providers_root_is_a_chain_error() {
    let f = fx();
    let cms = signed(Encoding::DerAttached);
    let theirs = TrustAnchors::from_pem(&f.other.root_pem().unwrap()).unwrap();
    match verify(&cms, &expect(NONCE, false), &theirs).unwrap_err() {
        CmsError::Chain(reason) => assert!(reason.contains("issuer"), "{reason}"),
        e => panic!("expected Chain, got {e:?}"),
    }
    // A bundle holding both roots accepts it.
    let mut both = f.other.root_pem().unwrap();
    both.extend(f.pki.root_pem().unwrap());
    let both = TrustAnchors::from_pem(&both).unwrap();
    assert_eq!(both.len(), 2);
    verify(&cms, &expect(NONCE, false), &both).unwrap();
}

#[test]
fn missing_intermediate_is_a_chain_error() {
    let f = fx();
    let cms = sign(NONCE, &f.alice, &[], Encoding::DerAttached).unwrap();
    assert!(matches!(
        verify(&cms, &expect(NONCE, false), &f.anchors).unwrap_err(),
        CmsError::Chain(_)
    ));
}

/// The subscriber certificate expired a year before the signingTime: OpenSSL's
/// chain check at signingTime reports it at depth 0, which is
/// `CertNotValidAtSigningTime` (not `Chain`).
#[test]
fn expired_signer_is_not_valid_at_signing_time() {
    let f = fx();
    let cms = sign(
        NONCE,
        &f.expired,
        &[f.pki.ca().clone()],
        Encoding::DerAttached,
    )
    .unwrap();
    assert_eq!(
        verify(&cms, &expect(NONCE, false), &f.anchors).unwrap_err(),
        CmsError::CertNotValidAtSigningTime
    );
}

#[test]
fn signing_time_outside_window() {
    let f = fx();
    let cms = signed(Encoding::DerAttached);
    let n = now();
    let past = Expect {
        not_before: n - 3600,
        not_after: n - 600,
        ..expect(NONCE, false)
    };
    assert_eq!(
        verify(&cms, &past, &f.anchors).unwrap_err(),
        CmsError::SigningTimeOutsideWindow
    );
    let future = Expect {
        not_before: n + 600,
        not_after: n + 3600,
        ..expect(NONCE, false)
    };
    assert_eq!(
        verify(&cms, &future, &f.anchors).unwrap_err(),
        CmsError::SigningTimeOutsideWindow
    );
    // Skew widens the window on both sides.
    let skewed = Expect {
        skew_secs: 700,
        ..future
    };
    verify(&cms, &skewed, &f.anchors).unwrap();
}

#[test]
fn garbage_is_a_decode_error() {
    let f = fx();
    let e = expect(NONCE, false);
    for bad in [
        &b""[..],
        b"\x30\x03\x02\x01",
        b"not a cms at all",
        &[0x30, 0x80, 0x00],
    ] {
        assert_eq!(verify(bad, &e, &f.anchors).unwrap_err(), CmsError::Decode);
    }
    let cms = signed(Encoding::DerAttached);
    assert_eq!(
        verify(&cms[..cms.len() / 2], &e, &f.anchors).unwrap_err(),
        CmsError::Decode
    );
}

#[test]
fn data_content_info_is_not_signed_data() {
    let f = fx();
    let info = ContentInfo {
        content_type: ID_DATA,
        content: der::Any::encode_from(&der::asn1::OctetString::new(NONCE).unwrap()).unwrap(),
    };
    assert_eq!(
        verify(&info.to_der().unwrap(), &expect(NONCE, false), &f.anchors).unwrap_err(),
        CmsError::NotSignedData
    );
}

/// A SignedData listing a digest algorithm nobody knows beside the signer's
/// is refused before OpenSSL sees it (OpenSSL 3.0 leaked the supplied
/// content's buffer setting such a digest up, found by the fuzz target).
#[test]
fn an_unknown_listed_digest_is_refused() {
    let f = fx();
    for detached in [false, true] {
        let encoding = if detached {
            Encoding::DerDetached
        } else {
            Encoding::DerAttached
        };
        let odd = rewrite(&signed(encoding), |sd| {
            sd.digest_algorithms
                .insert(x509_cert::spki::AlgorithmIdentifierOwned {
                    oid: ObjectIdentifier::new_unwrap("1.3.6.1.4.1.55555.9"),
                    parameters: None,
                })
                .unwrap();
        });
        assert_eq!(
            verify(&odd, &expect(NONCE, detached), &f.anchors).unwrap_err(),
            CmsError::UnsupportedAlgorithm
        );
    }
    // The signer's digest must be one the SignedData lists (OpenSSL digests
    // the content only with those): another one alone, or none, is refused.
    let sha384 = x509_cert::spki::AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2"),
        parameters: None,
    };
    for listed in [vec![sha384], vec![]] {
        let odd = rewrite(&signed(Encoding::DerAttached), |sd| {
            sd.digest_algorithms = listed.clone().try_into().unwrap();
        });
        assert_eq!(
            verify(&odd, &expect(NONCE, false), &f.anchors).unwrap_err(),
            CmsError::UnsupportedAlgorithm
        );
    }
}

/// What OpenSSL reads besides the signature (an unsigned attribute, a
/// certificate that is not a CA) keeps a result off the fast path: the
/// reference decides it, and both paths end the same (`verify` runs both).
#[test]
fn what_nobody_signed_is_left_to_the_reference() {
    let f = fx();
    let cms = signed(Encoding::DerAttached);
    let e = expect(NONCE, false);
    let unsigned = rewrite(&cms, |sd| {
        let mut infos = sd.signer_infos.0.clone().into_vec();
        let time = infos[0]
            .signed_attrs
            .as_ref()
            .unwrap()
            .iter()
            .find(|a| a.oid == ID_SIGNING_TIME)
            .unwrap()
            .clone();
        let mut attrs = x509_cert::attr::Attributes::new();
        attrs.insert(time).unwrap();
        infos[0].unsigned_attrs = Some(attrs);
        sd.signer_infos = cms::signed_data::SignerInfos(infos.try_into().unwrap());
    });
    let _outcome = verify(&unsigned, &e, &f.anchors);
    assert_eq!(both_paths::path(&unsigned, &e, &f.anchors), Path::Reference);

    let other = Certificate::from_der(&f.expired.cert.to_der().unwrap()).unwrap();
    let extra = rewrite(&cms, |sd| {
        sd.certificates
            .as_mut()
            .unwrap()
            .0
            .insert(CertificateChoices::Certificate(other))
            .unwrap();
    });
    verify(&extra, &e, &f.anchors).unwrap();
    assert_eq!(both_paths::path(&extra, &e, &f.anchors), Path::Reference);
}

#[test]
fn exactly_one_signer() {
    let f = fx();
    let cms = signed(Encoding::DerAttached);
    let two = rewrite(&cms, |sd| {
        let mut si = sd.signer_infos.0.as_slice()[0].clone();
        let mut sig = si.signature.as_bytes().to_vec();
        sig[0] ^= 1;
        si.signature = der::asn1::OctetString::new(sig).unwrap();
        sd.signer_infos.0.insert(si).unwrap();
    });
    assert_eq!(
        verify(&two, &expect(NONCE, false), &f.anchors).unwrap_err(),
        CmsError::SignerCount(2)
    );
    let none = rewrite(&cms, |sd| {
        sd.signer_infos.0 = der::asn1::SetOfVec::new();
    });
    assert_eq!(
        verify(&none, &expect(NONCE, false), &f.anchors).unwrap_err(),
        CmsError::SignerCount(0)
    );
}

#[test]
fn signing_time_is_required() {
    let f = fx();
    let cms = signed(Encoding::DerAttached);
    let without = rewrite(&cms, |sd| {
        let mut si = sd.signer_infos.0.as_slice()[0].clone();
        let attrs: Vec<_> = si
            .signed_attrs
            .unwrap()
            .into_vec()
            .into_iter()
            .filter(|a| a.oid != ID_SIGNING_TIME)
            .collect();
        si.signed_attrs = Some(attrs.try_into().unwrap());
        sd.signer_infos.0 = vec![si].try_into().unwrap();
    });
    assert_eq!(
        verify(&without, &expect(NONCE, false), &f.anchors).unwrap_err(),
        CmsError::MissingSigningTime
    );
}

#[test]
fn signer_certificate_must_be_present() {
    let f = fx();
    let cms = signed(Encoding::DerAttached);
    let signer_der = f.alice.cert.to_der().unwrap();
    let without = rewrite(&cms, |sd| {
        let certs = sd.certificates.take().unwrap();
        let kept: Vec<_> = certs
            .0
            .into_vec()
            .into_iter()
            .filter(|c| c.to_der().unwrap() != signer_der)
            .collect();
        sd.certificates = Some(cms::signed_data::CertificateSet(kept.try_into().unwrap()));
    });
    assert_eq!(
        verify(&without, &expect(NONCE, false), &f.anchors).unwrap_err(),
        CmsError::SignerCertificate
    );
}

/// Two certificates answering to the signer's issuer and serial: refuse rather
/// than guess which one OpenSSL would pick.
#[test]
fn ambiguous_signer_certificate_is_refused() {
    let f = fx();
    let cms = signed(Encoding::DerAttached);
    let signer_der = f.alice.cert.to_der().unwrap();
    let doubled = rewrite(&cms, |sd| {
        let certs = sd.certificates.as_mut().unwrap();
        let mut twin = Certificate::from_der(&signer_der).unwrap();
        let mut sig = twin.signature.raw_bytes().to_vec();
        sig[0] ^= 1;
        twin.signature = der::asn1::BitString::from_bytes(&sig).unwrap();
        certs
            .0
            .insert(CertificateChoices::Certificate(twin))
            .unwrap();
    });
    assert_eq!(parse_sd(&doubled).certificates.unwrap().0.len(), 3);
    assert_eq!(
        verify(&doubled, &expect(NONCE, false), &f.anchors).unwrap_err(),
        CmsError::SignerCertificate
    );
}

#[test]
fn trust_anchors_need_a_root() {
    for bad in [&b""[..], b"no pem here"] {
        assert_eq!(
            TrustAnchors::from_pem(bad).unwrap_err(),
            CmsError::NoTrustAnchors
        );
    }
}

#[test]
fn codes_are_stable_snake_case_and_unique() {
    let all = [
        CmsError::Decode,
        CmsError::NotSignedData,
        CmsError::UnexpectedContentType,
        CmsError::Encapsulation { detached: true },
        CmsError::SignerCount(2),
        CmsError::UnsupportedAlgorithm,
        CmsError::MissingSignedAttributes,
        CmsError::BadSignedAttributes("x"),
        CmsError::MissingSigningTime,
        CmsError::SignerCertificate,
        CmsError::Signature,
        CmsError::Chain("x".into()),
        CmsError::CertNotValidAtSigningTime,
        CmsError::KeyUsage,
        CmsError::MissingSignerName,
        CmsError::ContentMismatch,
        CmsError::SigningTimeOutsideWindow,
        CmsError::NoTrustAnchors,
        CmsError::Revoked,
        CmsError::CaRevoked,
        CmsError::CrlUnavailable,
        CmsError::CaSigner,
        CmsError::PolicyMissing,
        CmsError::EkuMissing,
        CmsError::IssuingCa,
        CmsError::BadCrl,
        CmsError::Openssl("x".into()),
        CmsError::Internal("x"),
    ];
    let codes: std::collections::BTreeSet<_> = all.iter().map(CmsError::code).collect();
    assert_eq!(codes.len(), all.len());
    assert!(codes
        .iter()
        .all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')));
    assert_eq!(CmsError::Signature.code(), "signature");
}

/// A CA certificate never signs a result, whatever its KeyUsage says: the
/// CA's own certificate and key, or a "subscriber" certificate with cA=TRUE
/// and digitalSignature.
#[test]
fn a_ca_certificate_is_never_the_signer() {
    let f = fx();
    let ca = f.pki.ca_as_subscriber();
    let cms = sign(NONCE, &ca, &[], Encoding::DerAttached).unwrap();
    assert_eq!(
        verify(&cms, &expect(NONCE, false), &f.anchors).unwrap_err(),
        CmsError::CaSigner
    );
    let flagged = f
        .pki
        .issue_subscriber_as(
            "홍길동",
            "ALPHA-UID-CA",
            None,
            &Profile {
                ca: true,
                ..Profile::default()
            },
        )
        .unwrap();
    let cms = sign(
        NONCE,
        &flagged,
        &[f.pki.ca().clone()],
        Encoding::DerAttached,
    )
    .unwrap();
    assert_eq!(
        verify(&cms, &expect(NONCE, false), &f.anchors).unwrap_err(),
        CmsError::CaSigner
    );
    assert_eq!(CmsError::CaSigner.code(), "ca_signer");
}

/// `required_policies` and `required_eku`: one of the listed OIDs must be in
/// the signer's certificatePolicies / extendedKeyUsage.
#[test]
fn required_policies_and_extended_key_usages() {
    let f = fx();
    const EMAIL_PROTECTION: &str = "1.3.6.1.5.5.7.3.4";
    let with = |rules: SignerRules| f.anchors.clone().with_signer_rules(rules);
    let alice = signed(Encoding::DerAttached);

    let other_policy = with(
        SignerRules::default()
            .require_policies(["1.2.410.200005.1.1.1"])
            .unwrap(),
    );
    assert_eq!(
        verify(&alice, &expect(NONCE, false), &other_policy).unwrap_err(),
        CmsError::PolicyMissing
    );
    let any_of = with(
        SignerRules::default()
            .require_policies(["1.2.410.200005.1.1.1", TEST_POLICY_OID])
            .unwrap(),
    );
    verify(&alice, &expect(NONCE, false), &any_of).unwrap();
    let no_policies = f
        .pki
        .issue_subscriber_as(
            "홍길동",
            "ALPHA-UID-NP",
            None,
            &Profile {
                policies: Vec::new(),
                ..Profile::default()
            },
        )
        .unwrap();
    let cms = sign(
        NONCE,
        &no_policies,
        &[f.pki.ca().clone()],
        Encoding::DerAttached,
    )
    .unwrap();
    assert_eq!(
        verify(&cms, &expect(NONCE, false), &any_of).unwrap_err(),
        CmsError::PolicyMissing
    );

    let eku = with(
        SignerRules::default()
            .require_eku([EMAIL_PROTECTION])
            .unwrap(),
    );
    // Alice's certificate has no extendedKeyUsage at all.
    assert_eq!(
        verify(&alice, &expect(NONCE, false), &eku).unwrap_err(),
        CmsError::EkuMissing
    );
    let with_eku = f
        .pki
        .issue_subscriber_as(
            "홍길동",
            "ALPHA-UID-EKU",
            None,
            &Profile {
                eku: vec![EMAIL_PROTECTION.into()],
                ..Profile::default()
            },
        )
        .unwrap();
    let cms = sign(
        NONCE,
        &with_eku,
        &[f.pki.ca().clone()],
        Encoding::DerAttached,
    )
    .unwrap();
    verify(&cms, &expect(NONCE, false), &eku).unwrap();
    let other_eku = with(
        SignerRules::default()
            .require_eku(["1.3.6.1.5.5.7.3.2"])
            .unwrap(),
    );
    assert_eq!(
        verify(&cms, &expect(NONCE, false), &other_eku).unwrap_err(),
        CmsError::EkuMissing
    );

    for bad in ["", "not-an-oid", "1", "1.2.x"] {
        assert_eq!(
            SignerRules::default().require_policies([bad]).unwrap_err(),
            RuleError::Oid(bad.into())
        );
    }
}

/// Two banks under one national root: without a pin each provider would
/// trust the other's subscribers; pinned to its own issuing CA (by PEM or by
/// fingerprint) each refuses the sibling's.
#[test]
fn a_pinned_issuing_ca_refuses_the_sibling_bank() {
    let a = ProviderPki::generate("Bank A").unwrap();
    let b = a.sibling("Bank B").unwrap();
    let kim = a.issue_subscriber("김철수", "A-1", None).unwrap();
    let lee = b.issue_subscriber("이영희", "B-1", None).unwrap();
    let of_a = sign(NONCE, &kim, &[a.ca().clone()], Encoding::DerAttached).unwrap();
    let of_b = sign(NONCE, &lee, &[b.ca().clone()], Encoding::DerAttached).unwrap();
    let root = TrustAnchors::from_pem(&a.root_pem().unwrap()).unwrap();
    // The shared root alone trusts both for both.
    for cms in [&of_a, &of_b] {
        verify(cms, &expect(NONCE, false), &root).unwrap();
    }
    let fingerprint = |pki: &ProviderPki| {
        let d = openssl::sha::sha256(&pki.ca().to_der().unwrap());
        d.iter()
            .map(|x| format!("{x:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    let pinned_a = root.clone().with_signer_rules(
        SignerRules::default()
            .pin_issuing_ca_pem(&a.ca_pem().unwrap())
            .unwrap(),
    );
    let pinned_b = root.clone().with_signer_rules(
        SignerRules::default()
            .pin_issuing_ca_sha256([fingerprint(&b).as_str()])
            .unwrap(),
    );
    verify(&of_a, &expect(NONCE, false), &pinned_a).unwrap();
    verify(&of_b, &expect(NONCE, false), &pinned_b).unwrap();
    assert_eq!(
        verify(&of_b, &expect(NONCE, false), &pinned_a).unwrap_err(),
        CmsError::IssuingCa
    );
    assert_eq!(
        verify(&of_a, &expect(NONCE, false), &pinned_b).unwrap_err(),
        CmsError::IssuingCa
    );
    // A pinned PEM also completes a chain the result leaves out.
    let bare = sign(NONCE, &kim, &[], Encoding::DerAttached).unwrap();
    verify(&bare, &expect(NONCE, false), &pinned_a).unwrap();

    assert_eq!(
        SignerRules::default()
            .pin_issuing_ca_pem(&a.root_pem().unwrap())
            .map(|_| ()),
        Ok(())
    );
    let leaf_pem = kim.cert.to_pem().unwrap();
    assert_eq!(
        SignerRules::default()
            .pin_issuing_ca_pem(&leaf_pem)
            .unwrap_err(),
        RuleError::NotCa
    );
    assert!(matches!(
        SignerRules::default().pin_issuing_ca_sha256(["abcd"]),
        Err(RuleError::Fingerprint(_))
    ));
}
