//! The one result-binding check ([`munjigi_providers::binding`]) against
//! real CMS signatures from a test PKI: what every family's result must be
//! bound to (the content asked, the request window, the person asked, one
//! certificate), and what it keeps.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use munjigi_providers::binding::{Rules, SignedResult};
use munjigi_providers::cms::{CmsError, Content, Encoding, TrustAnchors};
use munjigi_providers::{
    BirthDate, Ci, Citizen, Evidence, Name, Pending, Person, Phone, ProviderError, ProviderId,
    SignerCn,
};
use munjigi_sim::cms::sign;
use munjigi_sim::testpki::{ProviderPki, Subscriber};

const NONCE: &[u8] = b"mj-login-7Hq2xVb9Zt0cN4wLp8sRkE3uYa6fDg1jM5oTiW";

struct Fx {
    pki: ProviderPki,
    hong: Subscriber,
    hong_again: Subscriber,
    hong_longer: Subscriber,
    anchors: TrustAnchors,
    id: ProviderId,
}

fn fx() -> Fx {
    let pki = ProviderPki::generate("Bind").unwrap();
    let hong = pki.issue_subscriber("홍길동", "BIND-1", None).unwrap();
    let hong_again = pki.issue_subscriber("홍길동", "BIND-2", None).unwrap();
    let hong_longer = pki.issue_subscriber("홍길동2", "BIND-3", None).unwrap();
    let anchors = TrustAnchors::from_pem(&pki.root_pem().unwrap()).unwrap();
    Fx {
        pki,
        hong,
        hong_again,
        hong_longer,
        anchors,
        id: ProviderId::new("bind".to_owned()),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn pending() -> Pending {
    Pending {
        handle: "req-1".into(),
        started_at: now() - 30,
        expires_at: now() + 120,
        app_scheme: None,
        market_url: None,
        qr: None,
    }
}

fn asked() -> Citizen {
    Citizen {
        name: Name::parse("홍길동").unwrap(),
        birthdate: BirthDate::parse("19900131").unwrap(),
        phone: Phone::parse("01012345678").unwrap(),
    }
}

fn person(name: &str, phone: &str) -> Person {
    Person {
        name: Name::parse(name).unwrap(),
        birthdate: BirthDate::parse("19900131").unwrap(),
        phone: Phone::parse(phone).unwrap(),
        gender: None,
        ci: Ci::parse(&format!("{}==", "Q".repeat(86))).unwrap(),
    }
}

impl Fx {
    fn rules(&self) -> Rules<'_> {
        Rules {
            provider: &self.id,
            anchors: &self.anchors,
            cn: SignerCn::Exact,
        }
    }

    fn signed(&self, content: &[u8], by: &Subscriber) -> SignedResult {
        SignedResult::Cms(
            sign(content, by, &[self.pki.ca().clone()], Encoding::DerAttached).unwrap(),
        )
    }
}

#[test]
fn a_result_of_the_person_asked_binds_and_keeps_its_evidence() {
    let f = fx();
    let p = pending();
    let signed = f
        .rules()
        .signature(f.signed(NONCE, &f.hong), Content::Attached(NONCE), &p, None)
        .unwrap();
    let evidence = f
        .rules()
        .bind_one(signed, &person("홍길동", "01012345678"), &asked(), &p)
        .unwrap();
    let Evidence::Cms(e) = &evidence else {
        panic!("a CMS evidence")
    };
    assert_eq!(e.signer_cn, SignerCn::Exact, "the family's CN rule is kept");
    assert!(e.signer_issuer.contains("Bind"), "{}", e.signer_issuer);
    assert!((p.started_at..=p.expires_at).contains(&e.signing_time));
    assert!(!e.signed_data.is_empty());
}

#[test]
fn the_content_must_be_what_was_asked() {
    let f = fx();
    let err = f
        .rules()
        .signature(
            f.signed(b"another nonce", &f.hong),
            Content::Attached(NONCE),
            &pending(),
            None,
        )
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::BadSignature(CmsError::ContentMismatch)),
        "{err:?}"
    );
}

#[test]
fn a_result_signed_outside_the_request_window_is_refused() {
    let f = fx();
    let mut p = pending();
    // The request closed ten minutes ago; the skew is one minute.
    p.started_at = now() - 900;
    p.expires_at = now() - 600;
    let err = f
        .rules()
        .signature(f.signed(NONCE, &f.hong), Content::Attached(NONCE), &p, None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::BadSignature(CmsError::SigningTimeOutsideWindow)
        ),
        "{err:?}"
    );
}

#[test]
fn the_answer_and_the_certificate_must_both_name_the_person_asked() {
    let f = fx();
    let p = pending();
    let sig = |by: &Subscriber| {
        f.rules()
            .signature(f.signed(NONCE, by), Content::Attached(NONCE), &p, None)
            .unwrap()
    };
    // The answer names someone else (another phone).
    let err = f
        .rules()
        .bind_one(sig(&f.hong), &person("홍길동", "01099998888"), &asked(), &p)
        .unwrap_err();
    assert!(matches!(err, ProviderError::WrongSigner), "{err:?}");
    // The certificate's CN only begins with the name.
    let err = f
        .rules()
        .bind_one(
            sig(&f.hong_longer),
            &person("홍길동", "01012345678"),
            &asked(),
            &p,
        )
        .unwrap_err();
    assert!(matches!(err, ProviderError::WrongSigner), "{err:?}");
}

#[test]
fn every_element_of_a_result_is_signed_with_one_certificate() {
    let f = fx();
    let p = pending();
    let docs: [&[u8]; 2] = [
        b"doc-one-digest-0123456789abcdef",
        b"doc-two-digest-0123456789abcdef",
    ];
    let sig = |doc: &[u8], by: &Subscriber| {
        f.rules()
            .signature(f.signed(doc, by), Content::Attached(doc), &p, Some(0))
            .unwrap()
    };
    let who = person("홍길동", "01012345678");
    let one = [sig(docs[0], &f.hong), sig(docs[1], &f.hong)];
    assert_eq!(
        f.rules()
            .signer(&who, &asked(), one.into(), &p)
            .unwrap()
            .len(),
        2
    );
    // Two certificates of the same name: not one signer.
    let two = [sig(docs[0], &f.hong), sig(docs[1], &f.hong_again)];
    let err = f
        .rules()
        .signer(&who, &asked(), two.into(), &p)
        .unwrap_err();
    assert!(matches!(err, ProviderError::WrongSigner), "{err:?}");
    let err = f.rules().signer(&who, &asked(), vec![], &p).unwrap_err();
    assert!(matches!(err, ProviderError::Protocol(_)), "{err:?}");
}

#[test]
fn a_result_that_is_not_base64_is_a_protocol_error_naming_the_field() {
    let err = SignedResult::cms_base64("not base64!", "signedData")
        .err()
        .unwrap();
    assert!(
        matches!(&err, ProviderError::Protocol(m) if m == "signedData is not base64"),
        "{err:?}"
    );
}
