//! SAML SP metadata from a URL, end to end: a federation aggregate served
//! over loopback and signed by a federation key with `xmlsec1 --sign`, holding
//! the test SP (pysaml2) among other entities. The gateway starts while the
//! URL is down (and refuses the SP's requests with MJ-M39 meanwhile), picks
//! the aggregate up, follows a change (a new ACS), and keeps the last good
//! copy when a tampered or unsigned aggregate is served, or after a reload.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::saml::{start_saml_sp, submit_auto_post, SamlSpOpts};
use munjigi_e2e::*;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NS_MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";

/// What the metadata server answers: a status and a body.
type Served = Arc<Mutex<(u16, Vec<u8>)>>;

/// A plain HTTP server on loopback answering every request with `served`.
fn serve(served: Served) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/federation.xml", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let (status, body) = served.lock().unwrap().clone();
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/samlmetadata+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&body);
        }
    });
    url
}

/// The federation's key and certificate (PEM files).
fn federation_key(dir: &Path) -> (PathBuf, PathBuf) {
    let (key, cert) = (dir.join("fed-key.pem"), dir.join("fed-cert.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=munjigi e2e federation"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (key, cert)
}

/// `entities` in an EntitiesDescriptor (root `ID`, `cacheDuration` PT1S,
/// valid a day), signed by `key` with `xmlsec1 --sign`: the Reference
/// names the root by its ID, or is `URI=""` when `by_id` is false.
fn signed_aggregate(dir: &Path, key: &Path, entities: &str, by_id: bool) -> Vec<u8> {
    let until = std::process::Command::new("date")
        .args(["-u", "-d", "+1 day", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    let until = String::from_utf8(until.stdout).unwrap();
    let uri = if by_id { "#_fed" } else { "" };
    let template = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- munjigi e2e federation aggregate -->
<md:EntitiesDescriptor xmlns:md="{NS_MD}" ID="_fed" Name="urn:munjigi:e2e:federation" validUntil="{}" cacheDuration="PT1S"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="{uri}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>
{entities}
</md:EntitiesDescriptor>
"#,
        until.trim()
    );
    let (tmpl, out) = (
        dir.join("aggregate-template.xml"),
        dir.join("aggregate.xml"),
    );
    std::fs::write(&tmpl, template).unwrap();
    let mut cmd = std::process::Command::new("xmlsec1");
    cmd.arg("--sign").arg("--privkey-pem").arg(key);
    if by_id {
        cmd.args(["--id-attr:ID", &format!("{NS_MD}:EntitiesDescriptor")]);
    }
    let run = cmd.arg("--output").arg(&out).arg(&tmpl).output().unwrap();
    assert!(
        run.status.success(),
        "xmlsec1 --sign: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::read(&out).unwrap()
}

/// Other SPs of the federation around the test SP.
fn others(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                r#"<md:EntityDescriptor entityID="https://sp{i}.fed.example/sp"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp{i}.fed.example/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>"#
            )
        })
        .collect()
}

/// The gateway's log, read as it comes.
struct Log<'a> {
    proc: &'a Proc,
    lines: Vec<String>,
}

impl Log<'_> {
    /// Waits (up to `secs`) for a line, not seen before, holding every needle.
    fn wait_for(&mut self, needles: &[&str], secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut from = 0;
        loop {
            let at = self.lines[from..]
                .iter()
                .position(|l| needles.iter().all(|n| l.contains(n)));
            if let Some(i) = at {
                let line = self.lines[from + i].clone();
                self.lines.drain(..=from + i);
                eprintln!("gateway: {line}");
                return line;
            }
            from = self.lines.len();
            assert!(
                Instant::now() < deadline,
                "no log line with {needles:?} in:\n{}",
                self.lines.join("\n")
            );
            self.lines.extend(self.proc.drain());
        }
    }
}

/// The SP's login link followed to the gateway: the page it shows and its URL.
async fn to_gateway(b: &mut Browser, sp_url: &str, query: &str) -> (Page, String) {
    let start = b
        .get(&format!("{sp_url}/login?binding=redirect&{query}"))
        .await;
    assert_eq!(start.status, 302, "SP login link: {}", start.body);
    b.follow(&start.location.clone().unwrap()).await
}

/// A whole login from the SP's link (a new browser each time): the SP's JSON.
async fn login(sp_url: &str, gw_url: &str, query: &str) -> serde_json::Value {
    let mut b = Browser::new(None);
    let (chooser, chooser_url) = to_gateway(&mut b, sp_url, query).await;
    assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
    let wait_url = pick_and_submit(&mut b, &chooser_url, &HONG).await;
    let base = wait_url.trim_end_matches("/wait").to_owned();
    let done = wait_done(&mut b, &absolute(gw_url, &base)).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (post_back, _) = b
        .follow(&absolute(gw_url, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(post_back.status, 200, "post-back page: {}", post_back.body);
    let answer = submit_auto_post(&mut b, &post_back, gw_url).await;
    assert_eq!(answer.status, 200, "SP ACS: {}", answer.body);
    answer.json()
}

/// The gateway's page for a request it refuses before trusting it.
async fn refused(sp_url: &str, query: &str) -> Page {
    let mut b = Browser::new(None);
    to_gateway(&mut b, sp_url, query).await.0
}

#[tokio::test]
async fn an_aggregate_from_a_url_is_followed_and_its_last_good_copy_kept() {
    let dir = TempDir::new("saml-mdurl");
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let port = free_port();
    let gw_url = format!("http://127.0.0.1:{port}");
    let sp = start_saml_sp(dir.path(), &gw_url, &SamlSpOpts::default());
    let own = std::fs::read_to_string(&sp.metadata).unwrap();
    let acs2 = own
        .split("<ns0:AssertionConsumerService")
        .find(|p| p.contains("/acs2\""))
        .map(|p| {
            format!(
                "<ns0:AssertionConsumerService{}",
                &p[..=p.find("/>").unwrap() + 1]
            )
        })
        .unwrap();
    let only_acs = own.replacen(&acs2, "", 1);
    let (key, cert) = federation_key(dir.path());

    // The URL is down when the gateway starts: it starts all the same.
    let served: Served = Arc::new(Mutex::new((503, b"maintenance".to_vec())));
    let url = serve(served.clone());
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            port: Some(port),
            site_redirect: "http://127.0.0.1:9/cb".into(),
            extra: format!(
                "\n[sites.shop]\nname = \"민원 포털\"\nname_en = \"Civil portal\"\npolicy = \"standard\"\n\n[sites.shop.saml]\nmetadata_url = \"{url}\"\nmetadata_signer = \"{}\"\nentity_id = \"{}\"\nscope = \"profile phone\"\n",
                cert.display(),
                sp.entity_id
            ),
            ..GatewayOpts::default()
        },
    );
    let mut log = Log {
        proc: &gw.proc,
        lines: Vec::new(),
    };
    log.wait_for(
        &["SAML metadata fetch failed", "sites=shop", "HTTP 503"],
        30,
    );
    let page = refused(&sp.url, "").await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.body.contains("MJ-M39"), "{}", page.body);
    log.wait_for(&["MJ-M39", "not fetched yet"], 10);

    // The aggregate (URI="" reference), the SP with its first ACS only.
    let first = signed_aggregate(
        dir.path(),
        &key,
        &format!("{}{only_acs}{}", others(3), others(2)),
        false,
    );
    *served.lock().unwrap() = (200, first);
    log.wait_for(&["SAML metadata fetched from its URL", "site=shop"], 60);
    let j = login(&sp.url, &gw_url, "").await;
    assert_eq!(
        (j["ok"].clone(), j["acs"].clone()),
        (true.into(), "/acs".into()),
        "{j}"
    );
    let page = refused(&sp.url, "acs_index=1").await;
    assert!(
        page.body.contains("MJ-M20"),
        "the second ACS is not known yet: {}",
        page.body
    );

    // The federation publishes the SP's second ACS (a Reference by ID now):
    // picked up on the next refresh (cacheDuration PT1S: the 30 s minimum).
    let second = signed_aggregate(dir.path(), &key, &format!("{}{own}", others(4)), true);
    *served.lock().unwrap() = (200, second.clone());
    log.wait_for(&["SAML metadata updated from its URL", "site=shop"], 90);
    let j = login(&sp.url, &gw_url, "acs_index=1").await;
    assert_eq!(
        (j["ok"].clone(), j["acs"].clone()),
        (true.into(), "/acs2".into()),
        "{j}"
    );

    // Tampered after signing (the ACS moved elsewhere): refused, logged, and
    // the last good copy stays in use.
    let tampered = String::from_utf8(second.clone())
        .unwrap()
        .replacen("/acs2\"", "/stolen\"", 1);
    *served.lock().unwrap() = (200, tampered.into_bytes());
    let line = log.wait_for(&["SAML metadata refused", "sites=shop"], 90);
    assert!(
        line.contains("does not verify with metadata_signer"),
        "{line}"
    );
    assert!(line.contains("keeping_last_good=true"), "{line}");
    assert!(
        !line.contains("stolen") && !line.contains("EntityDescriptor"),
        "never contents: {line}"
    );
    let j = login(&sp.url, &gw_url, "acs_index=1").await;
    assert_eq!(j["acs"], "/acs2", "{j}");

    // Unsigned: refused as such, the copy still in use.
    let unsigned =
        format!(r#"<md:EntitiesDescriptor xmlns:md="{NS_MD}">{own}</md:EntitiesDescriptor>"#);
    *served.lock().unwrap() = (200, unsigned.into_bytes());
    log.wait_for(
        &[
            "SAML metadata refused",
            "sites=shop",
            "not signed at its root",
        ],
        120,
    );
    let j = login(&sp.url, &gw_url, "").await;
    assert_eq!(j["acs"], "/acs", "{j}");

    // A reload with the same URL keeps the copy (the URL is down again).
    *served.lock().unwrap() = (503, Vec::new());
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &gw.proc.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    log.wait_for(&["configuration reloaded"], 30);
    let j = login(&sp.url, &gw_url, "acs_index=1").await;
    assert_eq!(j["acs"], "/acs2", "{j}");
}
