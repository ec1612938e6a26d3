//! The fast path of [`cms::verify`] at the edges of its profile, against the
//! OpenSSL reference on the same input (`both_paths`): chains built here,
//! certificate by certificate, where a verifier that checked a little less
//! than OpenSSL would accept what OpenSSL refuses. Each case says which path
//! must decide it; whatever the path, the outcome must be the reference's.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod both_paths;
use both_paths::{path, verify};

use munjigi_providers::cms::{CmsError, Content, Encoding, Expect, Path, TrustAnchors};
use munjigi_sim::testpki::Subscriber;
use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Extension, X509Name, X509};

const NONCE: &[u8] = b"mj-fast-path-edge-0123456789";
const DAY: i64 = 24 * 3600;

struct Node {
    cert: X509,
    key: PKey<Private>,
}

#[derive(Clone, Copy, PartialEq)]
enum Ku {
    Absent,
    CertSign,
    Signature,
}

struct Opts {
    ca: bool,
    pathlen: Option<u32>,
    ku: Ku,
    bits: u32,
    md: MessageDigest,
    /// (OID, critical, DER value) added as they are.
    extra: Vec<(&'static str, bool, Vec<u8>)>,
    /// Whether to name the issuer's key (authorityKeyIdentifier).
    aki: bool,
    /// The common name as a BMPString rather than a UTF8String.
    bmp_name: bool,
    /// Days of validity from yesterday.
    days: i64,
}

fn leaf() -> Opts {
    Opts {
        ca: false,
        pathlen: None,
        ku: Ku::Signature,
        bits: 2048,
        md: MessageDigest::sha256(),
        extra: Vec::new(),
        aki: true,
        bmp_name: false,
        days: 365,
    }
}

fn ca() -> Opts {
    Opts {
        ca: true,
        ku: Ku::CertSign,
        days: 3650,
        ..leaf()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn issue(cn: &str, issuer: Option<&Node>, o: &Opts) -> Node {
    let key = PKey::from_rsa(Rsa::generate(o.bits).unwrap()).unwrap();
    let mut name = X509Name::builder().unwrap();
    name.append_entry_by_text("C", "KR").unwrap();
    if o.bmp_name {
        // A BMPString holds UTF-16BE; an ASCII name's is also valid UTF-8.
        let utf16: String = cn.chars().flat_map(|c| ['\0', c]).collect();
        let cn = utf16.as_str();
        name.append_entry_by_nid_with_type(Nid::COMMONNAME, cn, openssl::asn1::Asn1Type::BMPSTRING)
            .unwrap();
    } else {
        name.append_entry_by_nid_with_type(
            Nid::COMMONNAME,
            cn,
            openssl::asn1::Asn1Type::UTF8STRING,
        )
        .unwrap();
    }
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial
        .rand(127, openssl::bn::MsbOption::MAYBE_ZERO, false)
        .unwrap();
    let serial: Asn1Integer = serial.to_asn1_integer().unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&*name, |i| i.cert.subject_name()))
        .unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(now() - DAY).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now() - DAY + o.days * DAY).unwrap())
        .unwrap();
    let mut bc = BasicConstraints::new();
    bc.critical();
    if o.ca {
        bc.ca();
    }
    if let Some(p) = o.pathlen {
        bc.pathlen(p);
    }
    b.append_extension(bc.build().unwrap()).unwrap();
    match o.ku {
        Ku::Absent => {}
        Ku::CertSign => b
            .append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()
                    .unwrap(),
            )
            .unwrap(),
        Ku::Signature => b
            .append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .non_repudiation()
                    .build()
                    .unwrap(),
            )
            .unwrap(),
    }
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(issuer.map(|i| &*i.cert), None))
        .unwrap();
    b.append_extension(ski).unwrap();
    if let (Some(i), true) = (issuer, o.aki) {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(&i.cert), None))
            .unwrap();
        b.append_extension(aki).unwrap();
    }
    for (oid, critical, value) in &o.extra {
        let obj = Asn1Object::from_str(oid).unwrap();
        let octets = Asn1OctetString::new_from_bytes(value).unwrap();
        b.append_extension(X509Extension::new_from_der(&obj, *critical, &octets).unwrap())
            .unwrap();
    }
    b.sign(issuer.map_or(&key, |i| &i.key), o.md).unwrap();
    Node {
        cert: b.build(),
        key,
    }
}

fn expect() -> Expect<'static> {
    Expect {
        content: Content::Attached(NONCE),
        not_before: now() as u64 - 60,
        not_after: now() as u64 + 60,
        skew_secs: 5,
    }
}

fn signed(signer: &Node, chain: &[&Node]) -> Vec<u8> {
    let who = Subscriber {
        cert: signer.cert.clone(),
        key: signer.key.clone(),
    };
    let chain: Vec<X509> = chain.iter().map(|n| n.cert.clone()).collect();
    munjigi_sim::cms::sign(NONCE, &who, &chain, Encoding::DerAttached).unwrap()
}

fn anchors_of(root: &Node) -> TrustAnchors {
    TrustAnchors::from_pem(&root.cert.to_pem().unwrap()).unwrap()
}

/// A result signed by `signer`, carrying `chain`, checked under `root`:
/// both paths agree (`both_paths`), `want` is the outcome (`None`: accepted)
/// and `via` the path that decided.
fn case(what: &str, root: &Node, signer: &Node, chain: &[&Node], want: Option<&str>, via: Path) {
    let cms = signed(signer, chain);
    let anchors = anchors_of(root);
    let got = verify(&cms, &expect(), &anchors);
    assert_eq!(got.as_ref().err().map(CmsError::code), want, "{what}");
    assert_eq!(path(&cms, &expect(), &anchors), via, "{what}");
    // Asked again, a remembered CA chain decides the same.
    assert_eq!(
        verify(&cms, &expect(), &anchors).err().map(|e| e.code()),
        want,
        "{what}, again"
    );
}

/// A certificatePolicies value naming one policy.
fn policies_der(oid: &str) -> Vec<u8> {
    use der::Encode as _;
    let policy = x509_cert::ext::pkix::certpolicy::PolicyInformation {
        policy_identifier: der::asn1::ObjectIdentifier::new(oid).unwrap(),
        policy_qualifiers: None,
    };
    x509_cert::ext::pkix::CertificatePolicies(vec![policy])
        .to_der()
        .unwrap()
}

#[test]
fn the_everyday_chain_and_its_variants_take_the_fast_path() {
    let root = issue("Edge Root", None, &ca());
    let ca_node = issue(
        "Edge CA",
        Some(&root),
        &Opts {
            pathlen: Some(0),
            ..ca()
        },
    );
    let alice = issue("홍길동", Some(&ca_node), &leaf());
    case(
        "root, CA, signer",
        &root,
        &alice,
        &[&ca_node],
        None,
        Path::Fast,
    );

    // Korean NPKI marks certificatePolicies critical.
    let npki = issue(
        "홍길동",
        Some(&ca_node),
        &Opts {
            extra: vec![("2.5.29.32", true, policies_der("1.2.410.200004.5.2.1.2"))],
            ..leaf()
        },
    );
    case(
        "critical policies",
        &root,
        &npki,
        &[&ca_node],
        None,
        Path::Fast,
    );

    // Issued by the root itself, and with SHA-384 and a 3072-bit key.
    let direct = issue("홍길동", Some(&root), &leaf());
    case("issued by the root", &root, &direct, &[], None, Path::Fast);
    let strong = issue(
        "홍길동",
        Some(&ca_node),
        &Opts {
            bits: 3072,
            md: MessageDigest::sha384(),
            ..leaf()
        },
    );
    case(
        "SHA-384, RSA-3072",
        &root,
        &strong,
        &[&ca_node],
        None,
        Path::Fast,
    );
}

#[test]
fn what_openssl_refuses_the_fast_path_never_accepts() {
    let root = issue("Edge Root", None, &ca());
    let ca_node = issue("Edge CA", Some(&root), &ca());

    // A root allowing no CA below it, over a CA over the signer.
    let tight = issue(
        "Tight Root",
        None,
        &Opts {
            pathlen: Some(0),
            ..ca()
        },
    );
    let tight_ca = issue("Tight CA", Some(&tight), &ca());
    let below = issue("홍길동", Some(&tight_ca), &leaf());
    case(
        "path length",
        &tight,
        &below,
        &[&tight_ca],
        Some("chain"),
        Path::Reference,
    );

    // A CA whose KeyUsage does not allow certificate signing.
    let no_sign = issue(
        "No-sign CA",
        Some(&root),
        &Opts {
            ku: Ku::Signature,
            ..ca()
        },
    );
    let by_no_sign = issue("홍길동", Some(&no_sign), &leaf());
    case(
        "CA without keyCertSign",
        &root,
        &by_no_sign,
        &[&no_sign],
        Some("chain"),
        Path::Reference,
    );

    // A "CA" that is not one.
    let not_ca = issue(
        "Not a CA",
        Some(&root),
        &Opts {
            ku: Ku::CertSign,
            ..leaf()
        },
    );
    let by_not_ca = issue("홍길동", Some(&not_ca), &leaf());
    case(
        "issuer not a CA",
        &root,
        &by_not_ca,
        &[&not_ca],
        Some("chain"),
        Path::Reference,
    );

    // An extension nobody knows, marked critical, on the signer.
    let odd = issue(
        "홍길동",
        Some(&ca_node),
        &Opts {
            extra: vec![("1.3.6.1.4.1.55555.1", true, vec![0x05, 0x00])],
            ..leaf()
        },
    );
    case(
        "unknown critical extension",
        &root,
        &odd,
        &[&ca_node],
        Some("chain"),
        Path::Reference,
    );

    // Signed by the CA with SHA-1; a 1024-bit signer key.
    let sha1 = issue(
        "홍길동",
        Some(&ca_node),
        &Opts {
            md: MessageDigest::sha1(),
            ..leaf()
        },
    );
    case(
        "SHA-1 certificate signature",
        &root,
        &sha1,
        &[&ca_node],
        Some("chain"),
        Path::Reference,
    );
    let small = issue(
        "홍길동",
        Some(&ca_node),
        &Opts {
            bits: 1024,
            ..leaf()
        },
    );
    case(
        "RSA-1024 signer",
        &root,
        &small,
        &[&ca_node],
        Some("chain"),
        Path::Reference,
    );

    // A CA of the same name but another key: the signature does not verify.
    let twin = issue("Edge CA", Some(&root), &ca());
    let by_twin = issue(
        "홍길동",
        Some(&twin),
        &Opts {
            aki: false,
            ..leaf()
        },
    );
    case(
        "issuer of the same name, other key",
        &root,
        &by_twin,
        &[&ca_node],
        Some("chain"),
        Path::Reference,
    );
    // Both CAs offered, no key identifier to tell them apart: the fast path
    // leaves an ambiguous name to OpenSSL, whose outcome depends on which it
    // tries first (both_paths holds the two paths to the same one).
    let two = signed(&by_twin, &[&ca_node, &twin]);
    let anchors = anchors_of(&root);
    let _outcome = verify(&two, &expect(), &anchors);
    assert_eq!(
        path(&two, &expect(), &anchors),
        Path::Reference,
        "two CAs of one name"
    );
}

#[test]
fn path_lengths_count_every_ca_below() {
    // Root, CA 1, CA 2, signer: the root allows one CA below it, not two.
    for (pathlen, want, via) in [(1, Some("chain"), Path::Reference), (2, None, Path::Fast)] {
        let root = issue(
            "Deep Root",
            None,
            &Opts {
                pathlen: Some(pathlen),
                ..ca()
            },
        );
        let ca1 = issue("Deep CA 1", Some(&root), &ca());
        let ca2 = issue("Deep CA 2", Some(&ca1), &ca());
        let signer = issue("홍길동", Some(&ca2), &leaf());
        case(
            &format!("root pathLen {pathlen}"),
            &root,
            &signer,
            &[&ca2, &ca1],
            want,
            via,
        );
    }
}

#[test]
fn what_the_fast_path_cannot_read_the_reference_decides() {
    let root = issue("Edge Root", None, &ca());
    let ca_node = issue("Edge CA", Some(&root), &ca());
    // A common name in a BMPString: OpenSSL reads it, the fast path leaves it.
    let bmp = issue(
        "Hong Gildong",
        Some(&ca_node),
        &Opts {
            bmp_name: true,
            ..leaf()
        },
    );
    case(
        "BMPString name",
        &root,
        &bmp,
        &[&ca_node],
        None,
        Path::Reference,
    );
    // No KeyUsage on the CA: allowed, on the fast path too.
    let bare_ca = issue(
        "Bare CA",
        Some(&root),
        &Opts {
            ku: Ku::Absent,
            ..ca()
        },
    );
    let by_bare = issue("홍길동", Some(&bare_ca), &leaf());
    case(
        "CA without KeyUsage",
        &root,
        &by_bare,
        &[&bare_ca],
        None,
        Path::Fast,
    );
    // A name constraint on the CA: the reference applies it.
    let constrained = issue(
        "Constrained CA",
        Some(&root),
        &Opts {
            // permittedSubtrees: one DNS name (not about the signer's name).
            extra: vec![(
                "2.5.29.30",
                true,
                vec![
                    0x30, 0x0d, 0xa0, 0x0b, 0x30, 0x09, 0x82, 0x07, b'e', b'x', b'a', b'm', b'p',
                    b'l', b'e',
                ],
            )],
            ..ca()
        },
    );
    let by_constrained = issue("홍길동", Some(&constrained), &leaf());
    let cms = signed(&by_constrained, &[&constrained]);
    let anchors = anchors_of(&root);
    // Whatever OpenSSL makes of it (both_paths holds the two to the same).
    let _outcome = verify(&cms, &expect(), &anchors);
    assert_eq!(
        path(&cms, &expect(), &anchors),
        Path::Reference,
        "name constraints"
    );

    // An extension no provider's profile has, not critical: OpenSSL takes it.
    let extended = issue(
        "홍길동",
        Some(&ca_node),
        &Opts {
            extra: vec![("1.3.6.1.4.1.55555.2", false, vec![0x05, 0x00])],
            ..leaf()
        },
    );
    case(
        "unknown extension",
        &root,
        &extended,
        &[&ca_node],
        None,
        Path::Reference,
    );
}
