//! xmlsec before and after the lock-down, in a process of its own (the
//! lock-down is process-wide): before, verifying a signature whose Reference
//! names an http URI connects to it; after, neither that nor an XSLT
//! transform's `document()` opens any connection, and the four dangerous
//! transforms are gone from xmlsec's list.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use samael::crypto::CryptoProvider as _;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

/// A local listener that reports, for each connection, whether it was the
/// test's own sentinel (which writes `S`) or anyone else.
struct Listener {
    url: String,
    addr: std::net::SocketAddr,
    seen: mpsc::Receiver<bool>,
}

impl Listener {
    fn start() -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, seen) = mpsc::channel();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut first = [0u8; 1];
                let sentinel = matches!(s.read(&mut first), Ok(1)) && first == *b"S";
                drop(s); // closes: an HTTP client gets no answer and gives up
                if tx.send(sentinel).is_err() {
                    return;
                }
            }
        });
        Self {
            url: format!("http://{addr}/fetched"),
            addr,
            seen,
        }
    }

    /// Connections other than the sentinel since the last call: the
    /// sentinel, connected now, is accepted after any earlier connection.
    fn foreign_connections(&self) -> usize {
        TcpStream::connect(self.addr)
            .unwrap()
            .write_all(b"S")
            .unwrap();
        let mut foreign = 0;
        loop {
            match self.seen.recv_timeout(Duration::from_secs(10)) {
                Ok(true) => return foreign,
                Ok(false) => foreign += 1,
                Err(e) => panic!("listener: {e}"),
            }
        }
    }
}

fn cert() -> samael::crypto::CertificateDer {
    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let mut b = openssl::x509::X509::builder().unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    b.sign(&key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    b.build().to_der().unwrap().into()
}

const DS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// A document signed (badly: the values are zeros) with one Reference to
/// `uri` through `transforms`.
fn signed(uri: &str, transforms: &str) -> String {
    format!(
        r#"<r ID="r1"><ds:Signature xmlns:ds="{DS}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="{uri}">{transforms}<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature></r>"#
    )
}

fn xslt(url: &str) -> String {
    format!(
        r#"<ds:Transforms><ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"><xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"><xsl:template match="/"><xsl:copy-of select="document('{url}')"/></xsl:template></xsl:stylesheet></ds:Transform></ds:Transforms>"#
    )
}

fn verify(xml: &str, cert: &samael::crypto::CertificateDer) {
    let r = samael::crypto::Crypto::reduce_xml_to_signed(
        xml,
        std::slice::from_ref(cert),
        samael::crypto::ReduceMode::PreDigest,
    );
    assert!(r.is_err(), "a zero signature never verifies");
}

#[test]
fn after_the_lock_down_no_reference_is_fetched_and_no_xslt_runs() {
    let cert = cert();
    let l = Listener::start();

    // Before: xmlsec dereferences the external Reference while verifying
    // (this is what the test would miss if it could not see a connection).
    verify(&signed(&l.url, ""), &cert);
    assert!(
        l.foreign_connections() > 0,
        "xmlsec's defaults fetch an http Reference"
    );
    assert!(munjigi_xmlsec_lockdown::banned_transforms_present());

    let report = munjigi_xmlsec_lockdown::lock_down().unwrap();
    assert_eq!(report.removed, 4, "{report:?}");
    assert!(report.kept > 10, "{report:?}");
    assert!(!munjigi_xmlsec_lockdown::banned_transforms_present());
    assert_eq!(munjigi_xmlsec_lockdown::lock_down().unwrap(), report);

    // After: the same document, an https and a file URI, and XSLT's
    // document() on a same-document Reference: no connection at all.
    verify(&signed(&l.url, ""), &cert);
    verify(&signed(&l.url.replace("http:", "ftp:"), ""), &cert);
    verify(&signed("file:///etc/passwd", ""), &cert);
    verify(&signed("", &xslt(&l.url)), &cert);
    verify(&signed("#r1", &xslt(&l.url)), &cert);
    assert_eq!(
        l.foreign_connections(),
        0,
        "nothing fetched after lock-down"
    );
}
