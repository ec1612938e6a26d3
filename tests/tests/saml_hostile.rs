//! A corpus of hostile SAML requests, each refused with its own reason.
//!
//! The SP here is the test itself: it owns an RSA key registered through SP
//! metadata (`AuthnRequestsSigned="true"`), so it can sign honest requests and
//! then bend them: signature wrapping in its known shapes, comment injection,
//! duplicate IDs, DTDs, a deflate bomb, a wrong Destination, an ACS not in the
//! metadata, a replayed ID, a stale IssueInstant, SHA-1, no signature. An
//! honest request passes first, so every refusal is the check under test and
//! not a broken setup. Refusals before trust are pages carrying the code;
//! after trust the SP's ACS gets a signed status. The gateway's log must name
//! the SP and the reason once per refusal.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use munjigi_e2e::*;
use openssl::pkey::{PKey, Private};
use samael::crypto::CryptoProvider as _;
use std::io::Write as _;

const SP: &str = "https://hostile-sp.example/metadata";
const ACS: &str = "http://127.0.0.1:9/acs";
const KEYLESS: &str = "https://keyless-sp.example/metadata";
const KEYLESS_ACS: &str = "http://127.0.0.1:9/acs-keyless";

struct Setup {
    _dir: TempDir,
    _sim: Proc,
    gw: Gateway,
    key: PKey<Private>,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn setup(tag: &str) -> Setup {
    let dir = TempDir::new(tag);
    let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let mut b = openssl::x509::X509::builder().unwrap();
    let mut name = openssl::x509::X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "hostile-sp").unwrap();
    let name = name.build();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    b.sign(&key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    let cert = b64(&b.build().to_der().unwrap());
    let metadata = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{SP}">
  <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{ACS}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"#
    );
    let md_path = dir.path().join("hostile-sp.xml");
    std::fs::write(&md_path, metadata).unwrap();
    // An SP that registered no key at all (its requests are unsigned).
    let keyless = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{KEYLESS}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="http://127.0.0.1:9/slo"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{KEYLESS_ACS}" index="0"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"#
    );
    let keyless_path = dir.path().join("keyless-sp.xml");
    std::fs::write(&keyless_path, keyless).unwrap();
    let (sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: "http://127.0.0.1:9/cb".into(),
            extra: format!(
                "\n[sites.hostile]\nname = \"시험\"\npolicy = \"standard\"\n[sites.hostile.saml]\nmetadata = \"{}\"\n\n[sites.keyless]\nname = \"키 없음\"\npolicy = \"standard\"\n[sites.keyless.saml]\nmetadata = \"{}\"\n",
                md_path.display(),
                keyless_path.display()
            ),
            ..GatewayOpts::default()
        },
    );
    Setup {
        _dir: dir,
        _sim: sim,
        gw,
        key,
    }
}

fn now() -> String {
    format_time(std::time::SystemTime::now())
}

fn format_time(t: std::time::SystemTime) -> String {
    let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

struct Req<'a> {
    id: &'a str,
    issuer: &'a str,
    destination: Option<String>,
    instant: String,
    acs: &'a str,
    extra: &'a str,
}

impl Req<'_> {
    fn honest<'a>(s: &Setup, id: &'a str) -> Req<'a> {
        Req {
            id,
            issuer: SP,
            destination: Some(format!("{}/saml/sso", s.gw.url)),
            instant: now(),
            acs: ACS,
            extra: "",
        }
    }

    fn xml(&self, signature: &str) -> String {
        let dest = self
            .destination
            .as_ref()
            .map(|d| format!(" Destination=\"{d}\""))
            .unwrap_or_default();
        format!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{instant}"{dest} AssertionConsumerServiceURL="{acs}"><saml:Issuer>{issuer}</saml:Issuer>{signature}{extra}</samlp:AuthnRequest>"#,
            id = self.id,
            instant = self.instant,
            acs = self.acs,
            issuer = self.issuer,
            extra = self.extra,
        )
    }
}

fn deflate(xml: &str) -> String {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(xml.as_bytes()).unwrap();
    b64(&e.finish().unwrap())
}

/// An HTTP-Redirect query signed with `alg` over the raw encoded parameters.
fn redirect_query(
    key: &PKey<Private>,
    xml: &str,
    relay: &str,
    alg: &str,
    digest: openssl::hash::MessageDigest,
) -> String {
    let unsigned = format!(
        "SAMLRequest={}&RelayState={}&SigAlg={}",
        enc(&deflate(xml)),
        enc(relay),
        enc(alg)
    );
    let mut s = openssl::sign::Signer::new(digest, key).unwrap();
    s.update(unsigned.as_bytes()).unwrap();
    format!(
        "{unsigned}&Signature={}",
        enc(&b64(&s.sign_to_vec().unwrap()))
    )
}

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

fn signed_redirect(s: &Setup, xml: &str) -> String {
    redirect_query(
        &s.key,
        xml,
        "rs1",
        RSA_SHA256,
        openssl::hash::MessageDigest::sha256(),
    )
}

fn signature_template(id: &str) -> String {
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature>"##
    )
}

/// An enveloped XML signature over the request (for the POST binding).
fn xml_signed(s: &Setup, req: &Req<'_>) -> String {
    let der = s.key.rsa().unwrap().private_key_to_der().unwrap();
    let signed =
        samael::crypto::Crypto::sign_xml(req.xml(&signature_template(req.id)), &der).unwrap();
    match signed.find("?>") {
        Some(at) if signed.starts_with("<?xml") => signed[at + 2..].trim_start().to_owned(),
        _ => signed,
    }
}

async fn get(s: &Setup, query: &str) -> Page {
    let mut b = Browser::new(None);
    b.get(&format!("{}/saml/sso?{query}", s.gw.url)).await
}

async fn post(s: &Setup, xml: &str) -> Page {
    let mut b = Browser::new(None);
    b.post(
        &format!("{}/saml/sso", s.gw.url),
        &[("SAMLRequest", &b64(xml.as_bytes())), ("RelayState", "rs1")],
    )
    .await
}

/// A refusal before trust: a page with the code, and a log line naming the SP.
fn refused_page(s: &Setup, page: &Page, code: &str, sp: &str, what: &str) {
    assert_eq!(page.status, 400, "{what}: {}", page.body);
    assert!(
        page.body.contains(code),
        "{what}: page should show {code}: {}",
        page.body
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let lines = s.gw.proc.drain();
        if lines.iter().any(|l| l.contains(code) && l.contains(sp)) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: no log line with {code} and `{sp}`"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// An answer to the ACS: the post-back form carries a signed status.
fn answered(page: &Page, second_level: &str, what: &str) -> String {
    assert_eq!(page.status, 200, "{what}: {}", page.body);
    assert!(
        page.body.contains(&format!("action=\"{ACS}\"")),
        "{what}: posts to the ACS: {}",
        page.body
    );
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(
                page.input_value("SAMLResponse")
                    .expect("SAMLResponse field"),
            )
            .unwrap(),
    )
    .unwrap();
    assert!(
        xml.contains(second_level),
        "{what}: status {second_level} in {xml}"
    );
    assert!(
        xml.contains("<ds:SignatureValue>"),
        "{what}: the status is signed"
    );
    assert!(!xml.contains("Assertion ID"), "{what}: no assertion");
    xml
}

fn starts_login(page: &Page, what: &str) {
    assert_eq!(page.status, 303, "{what}: {}", page.body);
    assert!(
        page.location
            .as_deref()
            .unwrap_or_default()
            .contains("/login/"),
        "{what}: {:?}",
        page.location
    );
}

#[tokio::test]
async fn hostile_redirect_requests_are_each_refused_for_their_reason() {
    let s = setup("saml-hostile-redirect");

    // The honest request: a login starts.
    let ok = Req::honest(&s, "_honest1");
    starts_login(&get(&s, &signed_redirect(&s, &ok.xml(""))).await, "honest");

    // Replayed ID: the same signed request again.
    refused_page(
        &s,
        &get(&s, &signed_redirect(&s, &ok.xml(""))).await,
        "MJ-M22",
        SP,
        "replayed ID",
    );

    // Comment injection inside a value.
    let xml = Req::honest(&s, "_c1")
        .xml("")
        .replace(SP, "https://hostile-sp.example<!---->/metadata");
    refused_page(
        &s,
        &get(&s, &signed_redirect(&s, &xml)).await,
        "MJ-M08",
        "-",
        "comment injection",
    );

    // A DTD with an entity.
    let xml = format!(
        "<!DOCTYPE x [<!ENTITY e \"x\">]>{}",
        Req::honest(&s, "_d1").xml("")
    );
    refused_page(
        &s,
        &get(&s, &signed_redirect(&s, &xml)).await,
        "MJ-M06",
        "-",
        "DTD",
    );

    // Duplicate IDs.
    let dup = Req {
        extra: "<samlp:Extensions><x ID=\"_dup1\"/></samlp:Extensions>",
        ..Req::honest(&s, "_dup1")
    };
    refused_page(
        &s,
        &get(&s, &signed_redirect(&s, &dup.xml(""))).await,
        "MJ-M12",
        "-",
        "duplicate ID",
    );

    // Wrong Destination, and a missing one on a signed request.
    let wrong = Req {
        destination: Some("https://other-idp.example/sso".into()),
        ..Req::honest(&s, "_w1")
    };
    refused_page(
        &s,
        &get(&s, &signed_redirect(&s, &wrong.xml(""))).await,
        "MJ-M21",
        SP,
        "wrong Destination",
    );
    let missing = Req {
        destination: None,
        ..Req::honest(&s, "_w2")
    };
    refused_page(
        &s,
        &get(&s, &signed_redirect(&s, &missing.xml(""))).await,
        "MJ-M21",
        SP,
        "no Destination",
    );

    // An ACS that is not in the metadata (a prefix and a look-alike).
    for (i, acs) in ["http://127.0.0.1:9/acs/evil", "http://127.0.0.1:9/ACS"]
        .iter()
        .enumerate()
    {
        let id = format!("_a{i}");
        let r = Req {
            acs,
            ..Req::honest(&s, &id)
        };
        refused_page(
            &s,
            &get(&s, &signed_redirect(&s, &r.xml(""))).await,
            "MJ-M20",
            SP,
            "unknown ACS",
        );
    }

    // Unknown SP.
    let stranger = Req {
        issuer: "https://stranger.example/sp",
        ..Req::honest(&s, "_u1")
    };
    refused_page(
        &s,
        &get(&s, &signed_redirect(&s, &stranger.xml(""))).await,
        "MJ-M15",
        "stranger.example",
        "unknown SP",
    );

    // No signature, though the metadata says AuthnRequestsSigned.
    let unsigned = format!(
        "SAMLRequest={}&RelayState=rs1",
        enc(&deflate(&Req::honest(&s, "_n1").xml("")))
    );
    refused_page(&s, &get(&s, &unsigned).await, "MJ-M16", SP, "unsigned");

    // Tampered: the RelayState is not the one signed.
    let q = signed_redirect(&s, &Req::honest(&s, "_t1").xml(""))
        .replace("RelayState=rs1", "RelayState=rs2");
    refused_page(&s, &get(&s, &q).await, "MJ-M17", SP, "tampered RelayState");

    // Signed by another key.
    let other = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let q = redirect_query(
        &other,
        &Req::honest(&s, "_k1").xml(""),
        "rs1",
        RSA_SHA256,
        openssl::hash::MessageDigest::sha256(),
    );
    refused_page(&s, &get(&s, &q).await, "MJ-M17", SP, "foreign key");

    // SHA-1.
    let q = redirect_query(
        &s.key,
        &Req::honest(&s, "_s1").xml(""),
        "rs1",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        openssl::hash::MessageDigest::sha1(),
    );
    refused_page(&s, &get(&s, &q).await, "MJ-M18", SP, "rsa-sha1");

    // A deflate bomb: small on the wire, 40 MiB inflated.
    let bomb = {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![b' '; 40 << 20]).unwrap();
        b64(&e.finish().unwrap())
    };
    refused_page(
        &s,
        &get(&s, &format!("SAMLRequest={}", enc(&bomb))).await,
        "MJ-M03",
        "-",
        "deflate bomb",
    );

    // A stale IssueInstant: trustworthy, so the SP hears RequestDenied.
    let stale = Req {
        instant: format_time(std::time::SystemTime::now() - std::time::Duration::from_secs(3600)),
        ..Req::honest(&s, "_old1")
    };
    let xml = answered(
        &get(&s, &signed_redirect(&s, &stale.xml(""))).await,
        "urn:oasis:names:tc:SAML:2.0:status:RequestDenied",
        "stale",
    );
    assert!(xml.contains("InResponseTo=\"_old1\""), "{xml}");

    // An unknown NameIDPolicy format: InvalidNameIDPolicy to the ACS.
    let nip = Req {
        extra: "<samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\"/>",
        ..Req::honest(&s, "_nip1")
    };
    answered(
        &get(&s, &signed_redirect(&s, &nip.xml(""))).await,
        "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy",
        "NameIDPolicy",
    );

    // A RequestedAuthnContext nobody can meet: NoAuthnContext.
    let rac = Req {
        extra: "<samlp:RequestedAuthnContext Comparison=\"exact\"><saml:AuthnContextClassRef>urn:munjigi:acr:high</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>",
        ..Req::honest(&s, "_rac1")
    };
    answered(
        &get(&s, &signed_redirect(&s, &rac.xml(""))).await,
        "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext",
        "RequestedAuthnContext",
    );

    // IsPassive without a session: NoPassive.
    let passive = Req {
        extra: "",
        ..Req::honest(&s, "_p1")
    };
    let xml = passive
        .xml("")
        .replace("Version=\"2.0\"", "Version=\"2.0\" IsPassive=\"true\"");
    answered(
        &get(&s, &signed_redirect(&s, &xml)).await,
        "urn:oasis:names:tc:SAML:2.0:status:NoPassive",
        "IsPassive",
    );
}

#[tokio::test]
async fn signature_wrapping_over_the_post_binding_is_refused() {
    let s = setup("saml-hostile-post");

    // The honest POST request with an enveloped signature.
    let honest = xml_signed(&s, &Req::honest(&s, "_legit"));
    starts_login(&post(&s, &honest).await, "honest POST");

    // An unsigned root wrapping the signed request in its Extensions.
    let signed = xml_signed(&s, &Req::honest(&s, "_inner1"));
    let wrapper = Req {
        extra: &format!("<samlp:Extensions>{signed}</samlp:Extensions>"),
        ..Req::honest(&s, "_evil1")
    };
    refused_page(
        &s,
        &post(&s, &wrapper.xml("")).await,
        "MJ-M27",
        "-",
        "wrapped in Extensions",
    );

    // The honest signature moved to an unsigned root, the request it signed
    // kept (without it) inside, so the reference would still resolve and the
    // signature verify: a Reference to anything but the root is refused
    // before xmlsec runs.
    let signed = xml_signed(&s, &Req::honest(&s, "_inner2"));
    let sig_start = signed.find("<ds:Signature").unwrap();
    let sig_end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let signature = &signed[sig_start..sig_end];
    let inner = signed.replacen(signature, "", 1);
    let moved = Req {
        extra: &format!("<samlp:Extensions>{inner}</samlp:Extensions>"),
        ..Req::honest(&s, "_evil2")
    };
    refused_page(
        &s,
        &post(&s, &moved.xml(signature)).await,
        "MJ-M28",
        "-",
        "signature moved to the root",
    );

    // The same ID twice: an unsigned root that takes the signed one's ID.
    let signed = xml_signed(&s, &Req::honest(&s, "_same"));
    let twin = Req {
        extra: &format!("<samlp:Extensions>{signed}</samlp:Extensions>"),
        ..Req::honest(&s, "_same")
    };
    refused_page(
        &s,
        &post(&s, &twin.xml("")).await,
        "MJ-M12",
        "-",
        "duplicate ID wrapping",
    );

    // A changed value after signing.
    let signed = xml_signed(&s, &Req::honest(&s, "_changed"));
    let changed = signed.replace("IssueInstant=\"", "ForceAuthn=\"true\" IssueInstant=\"");
    refused_page(
        &s,
        &post(&s, &changed).await,
        "MJ-M17",
        SP,
        "changed after signing",
    );

    // A comment inserted into a signed value (c14n drops it, so the
    // signature alone would not notice).
    let signed = xml_signed(&s, &Req::honest(&s, "_comment"));
    let commented = signed.replacen("hostile-sp.example", "hostile-sp<!-- x -->.example", 1);
    refused_page(
        &s,
        &post(&s, &commented).await,
        "MJ-M08",
        "-",
        "comment in a signed value",
    );

    // Two roots.
    let two = format!("{honest}{honest}");
    let page = post(&s, &two).await;
    assert_eq!(page.status, 400, "two roots: {}", page.body);
}

/// The SAMLResponse XML of a post-back page.
fn response_xml(page: &Page) -> String {
    let field = page
        .input_value("SAMLResponse")
        .expect("SAMLResponse field");
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(field)
            .unwrap(),
    )
    .unwrap()
}

fn keyless_authn(id: &str, passive: bool) -> String {
    let passive = if passive { " IsPassive=\"true\"" } else { "" };
    let xml = format!(
        r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{}"{passive}><saml:Issuer>{KEYLESS}</saml:Issuer></samlp:AuthnRequest>"#,
        now()
    );
    format!("SAMLRequest={}", enc(&deflate(&xml)))
}

fn keyless_logout(id: &str, name_id: &str, session_index: Option<&str>) -> String {
    let index = session_index
        .map(|i| format!("<samlp:SessionIndex>{i}</samlp:SessionIndex>"))
        .unwrap_or_default();
    let xml = format!(
        r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{}"><saml:Issuer>{KEYLESS}</saml:Issuer><saml:NameID>{name_id}</saml:NameID>{index}</samlp:LogoutRequest>"#,
        now()
    );
    format!("SAMLRequest={}", enc(&deflate(&xml)))
}

#[tokio::test]
async fn an_unsigned_logout_must_name_the_session_it_ends() {
    let s = setup("saml-hostile-slo");
    let mut b = Browser::new(None);
    // A login for the keyless SP (unsigned requests are its only kind).
    let start = b
        .get(&format!(
            "{}/saml/sso?{}",
            s.gw.url,
            keyless_authn("_k1", false)
        ))
        .await;
    starts_login(&start, "keyless SP login");
    let (chooser, chooser_url) = b.follow(start.location.as_deref().unwrap()).await;
    assert_eq!(chooser.status, 200, "{}", chooser.body);
    let wait_url = pick_and_submit(&mut b, &chooser_url, &HONG).await;
    let base = absolute(&s.gw.url, wait_url.trim_end_matches("/wait"));
    let done = wait_done(&mut b, &base).await;
    let (post_back, _) = b
        .follow(&absolute(&s.gw.url, done["next"].as_str().unwrap()))
        .await;
    let xml = response_xml(&post_back);
    assert!(xml.contains("status:Success"), "{xml}");
    let index = xml
        .split("SessionIndex=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let name_id = xml
        .split("NameID Format=\"")
        .nth(1)
        .and_then(|r| r.split('>').nth(1))
        .and_then(|r| r.split('<').next())
        .unwrap()
        .to_owned();

    // A forged logout (what any web page could make the browser send): no
    // SessionIndex, no signature. Answered, but the session stays.
    let forged = b
        .get(&format!(
            "{}/saml/slo?{}",
            s.gw.url,
            keyless_logout("_lo1", &name_id, None)
        ))
        .await;
    assert_eq!(forged.status, 303, "{}", forged.body);
    assert!(forged
        .location
        .as_deref()
        .unwrap()
        .starts_with("http://127.0.0.1:9/slo?SAMLResponse="));
    let passive = b
        .get(&format!(
            "{}/saml/sso?{}",
            s.gw.url,
            keyless_authn("_k2", true)
        ))
        .await;
    assert!(
        response_xml(&passive).contains("status:Success"),
        "the session survived"
    );

    // A wrong SessionIndex changes nothing either, nor the right one for
    // another subject (SAML core §3.7.3.2); the right pair ends it.
    b.get(&format!(
        "{}/saml/slo?{}",
        s.gw.url,
        keyless_logout("_lo2", &name_id, Some("not-it"))
    ))
    .await;
    let other = b
        .get(&format!(
            "{}/saml/slo?{}",
            s.gw.url,
            keyless_logout("_lo2b", "someone-else", Some(&index))
        ))
        .await;
    assert_eq!(other.status, 303, "{}", other.body);
    let passive = b
        .get(&format!(
            "{}/saml/sso?{}",
            s.gw.url,
            keyless_authn("_k3", true)
        ))
        .await;
    assert!(response_xml(&passive).contains("status:Success"));
    let out = b
        .get(&format!(
            "{}/saml/slo?{}",
            s.gw.url,
            keyless_logout("_lo3", &name_id, Some(&index))
        ))
        .await;
    assert_eq!(out.status, 303, "{}", out.body);
    let passive = b
        .get(&format!(
            "{}/saml/sso?{}",
            s.gw.url,
            keyless_authn("_k4", true)
        ))
        .await;
    assert!(
        response_xml(&passive).contains("status:NoPassive"),
        "the session ended"
    );
}

#[tokio::test]
async fn signatures_that_would_make_xmlsec_fetch_or_transform_are_refused_unread() {
    let s = setup("saml-hostile-dsig");
    let template = signature_template("_x1");
    let xslt = r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"><xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"/></ds:Transform>"#;
    let cases: Vec<(&str, String)> = vec![
        ("external Reference URI", template.replace("URI=\"#_x1\"", "URI=\"http://169.254.169.254/latest/meta-data\"")),
        ("file Reference URI", template.replace("URI=\"#_x1\"", "URI=\"file:///etc/passwd\"")),
        ("empty Reference URI", template.replace("URI=\"#_x1\"", "URI=\"\"")),
        ("XSLT transform", template.replace("<ds:Transforms>", &format!("<ds:Transforms>{xslt}"))),
        (
            "XPath transform",
            template.replace(
                "<ds:Transforms>",
                "<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"><ds:XPath>1</ds:XPath></ds:Transform>",
            ),
        ),
        (
            "two References",
            template.replace("</ds:SignedInfo>", "<ds:Reference URI=\"#_x1\"><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue/></ds:Reference></ds:SignedInfo>"),
        ),
        ("an Object", template.replace("</ds:Signature>", "<ds:Object><ds:Manifest/></ds:Object></ds:Signature>")),
        (
            "a RetrievalMethod",
            template.replace("</ds:Signature>", "<ds:KeyInfo><ds:RetrievalMethod URI=\"http://127.0.0.1:9/key\"/></ds:KeyInfo></ds:Signature>"),
        ),
        (
            "inclusive c14n with comments",
            template.replace(
                "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
                "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments\"/>",
            ),
        ),
    ];
    for (what, signature) in cases {
        let xml = Req::honest(&s, "_x1").xml(&signature);
        refused_page(&s, &post(&s, &xml).await, "MJ-M28", "-", what);
    }
}

/// A message of raw bytes over the POST binding (not necessarily UTF-8).
async fn post_bytes(s: &Setup, path: &str, bytes: &[u8], relay: &str) -> Page {
    let mut b = Browser::new(None);
    b.post(
        &format!("{}{path}", s.gw.url),
        &[("SAMLRequest", &b64(bytes)), ("RelayState", relay)],
    )
    .await
}

/// UTF-16 of `s`, little-endian, with or without a byte-order mark.
fn utf16le(s: &str, bom: bool) -> Vec<u8> {
    bom.then_some(0xFEFF_u16)
        .into_iter()
        .chain(s.encode_utf16())
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// UTF-7 as libxml2 decodes it: `<`, `>` and `"` in base64 runs.
fn utf7(s: &str) -> String {
    s.replace('<', "+ADw-")
        .replace('>', "+AD4-")
        .replace('"', "+ACI-")
}

#[tokio::test]
async fn encodings_recover_mode_repairs_relay_state_and_issuer_namespace_are_refused() {
    let s = setup("saml-hostile-encoding");
    // The honest request, signed over the query, starts a login.
    starts_login(
        &get(&s, &signed_redirect(&s, &Req::honest(&s, "_e0").xml(""))).await,
        "honest",
    );
    let declared = |id: &str, enc: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"{enc}\"?>{}",
            Req::honest(&s, id).xml("")
        )
    };
    // A signed POST request with a UTF-8 BOM and declaration: both are
    // dropped before verification, which c14n never covered.
    let decl = format!(
        "\u{FEFF}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{}",
        xml_signed(&s, &Req::honest(&s, "_decl"))
    );
    starts_login(
        &post_bytes(&s, "/saml/sso", decl.as_bytes(), "rs1").await,
        "signed, with a BOM and a declaration",
    );
    // Declared encodings libxml2 would honour and the scan would not: refused
    // before anything else, on either binding (the bytes are plain ASCII, so
    // the request is otherwise honest and signed).
    for (i, enc) in ["UTF-7", "ISO-8859-1", "IBM037", "UTF-16", "UTF8"]
        .iter()
        .enumerate()
    {
        let xml = declared(&format!("_enc{i}"), enc);
        refused_page(
            &s,
            &get(&s, &signed_redirect(&s, &xml)).await,
            "MJ-M29",
            "-",
            enc,
        );
        let xml = declared(&format!("_encp{i}"), enc);
        refused_page(
            &s,
            &post_bytes(&s, "/saml/sso", xml.as_bytes(), "rs1").await,
            "MJ-M29",
            "-",
            enc,
        );
    }
    // UTF-16 with and without a BOM, EBCDIC and Latin-1 bytes.
    let body = Req::honest(&s, "_b1").xml("");
    let ebcdic: Vec<u8> = vec![0x4C, 0x6F, 0xA7, 0x94, 0x93, 0x40, 0xA5, 0x85];
    let latin1: Vec<u8> = body
        .replace("hostile-sp", "hostile-\u{e9}")
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    for (what, bytes) in [
        ("UTF-16 with a BOM", utf16le(&body, true)),
        ("UTF-16 without a BOM", utf16le(&body, false)),
        ("EBCDIC", ebcdic),
        ("Latin-1", latin1),
    ] {
        refused_page(
            &s,
            &post_bytes(&s, "/saml/sso", &bytes, "rs1").await,
            "MJ-M29",
            "-",
            what,
        );
        let deflated = {
            let mut e =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&bytes).unwrap();
            b64(&e.finish().unwrap())
        };
        refused_page(
            &s,
            &get(&s, &format!("SAMLRequest={}", enc(&deflated))).await,
            "MJ-M29",
            "-",
            what,
        );
    }

    // A raw `<` in an attribute value: libxml2's recover mode cuts the value
    // there; quick-xml (and so samael's schema) keeps it.
    let xml = Req::honest(&s, "_lt1").xml("").replace(
        "Version=\"2.0\"",
        "Version=\"2.0\" ProviderName=\"a<ds:Reference URI='http://127.0.0.1:9/'/>\"",
    );
    refused_page(
        &s,
        &get(&s, &signed_redirect(&s, &xml)).await,
        "MJ-M05",
        "-",
        "raw < in an attribute value",
    );

    // RelayState with control characters, signed as sent: it would be echoed
    // to the SP and logged.
    for (i, relay) in ["rs\r\nSet-Cookie: x=1", "rs\u{1b}[31m", "rs\u{85}"]
        .iter()
        .enumerate()
    {
        let q = redirect_query(
            &s.key,
            &Req::honest(&s, &format!("_rs{i}")).xml(""),
            relay,
            RSA_SHA256,
            openssl::hash::MessageDigest::sha256(),
        );
        refused_page(
            &s,
            &get(&s, &q).await,
            "MJ-M24",
            "-",
            "control characters in RelayState",
        );
    }
    refused_page(
        &s,
        &post_bytes(
            &s,
            "/saml/sso",
            Req::honest(&s, "_rsp").xml("").as_bytes(),
            "rs\n1",
        )
        .await,
        "MJ-M24",
        "-",
        "control characters in a POSTed RelayState",
    );

    // An Issuer in another namespace, signed: samael matches local names.
    for (i, issuer) in [
        format!("<x:Issuer xmlns:x=\"urn:evil\">{SP}</x:Issuer>"),
        format!("<samlp:Issuer>{SP}</samlp:Issuer>"),
    ]
    .iter()
    .enumerate()
    {
        let xml = Req::honest(&s, &format!("_ns{i}"))
            .xml("")
            .replace(&format!("<saml:Issuer>{SP}</saml:Issuer>"), issuer);
        refused_page(
            &s,
            &get(&s, &signed_redirect(&s, &xml)).await,
            "MJ-M37",
            "-",
            "Issuer in another namespace",
        );
    }
}

/// A local listener that must see no connection: each connection is
/// reported as the test's own sentinel (which writes `S`) or anyone else's.
struct Canary {
    url: String,
    addr: std::net::SocketAddr,
    seen: std::sync::mpsc::Receiver<bool>,
}

impl Canary {
    fn start() -> Self {
        use std::io::Read as _;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, seen) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut conn) = conn else { continue };
                conn.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                    .unwrap();
                let mut first = [0u8; 1];
                let sentinel = matches!(conn.read(&mut first), Ok(1)) && first == *b"S";
                drop(conn);
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

    /// Connections other than the sentinel so far: the sentinel, connected
    /// now, is accepted after every earlier connection.
    fn foreign_connections(&self) -> usize {
        std::net::TcpStream::connect(self.addr)
            .unwrap()
            .write_all(b"S")
            .unwrap();
        let mut foreign = 0;
        loop {
            match self.seen.recv_timeout(std::time::Duration::from_secs(10)) {
                Ok(true) => return foreign,
                Ok(false) => foreign += 1,
                Err(e) => panic!("canary listener: {e}"),
            }
        }
    }
}

fn logout_xml(s: &Setup, id: &str, signature: &str) -> String {
    format!(
        r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{}" Destination="{}/saml/slo"><saml:Issuer>{SP}</saml:Issuer>{signature}<saml:NameID>x</saml:NameID></samlp:LogoutRequest>"#,
        now(),
        s.gw.url
    )
}

#[tokio::test]
async fn no_external_reference_is_ever_fetched() {
    let s = setup("saml-hostile-fetch");
    let canary = Canary::start();
    assert_eq!(canary.foreign_connections(), 0, "the canary works");
    let reference = format!(
        r#"<ds:Reference URI="{}"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference>"#,
        canary.url
    );
    let xslt = format!(
        r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"><xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"><xsl:template match="/"><xsl:copy-of select="document('{}')"/></xsl:template></xsl:stylesheet></ds:Transform>"#,
        canary.url
    );
    // What a signature of the accepted shape becomes for each attempt; the
    // UTF-7 ones are text for a reader that ignores the declaration.
    type Bend = Box<dyn Fn(String) -> String>;
    let attempts: Vec<(&str, &str, Bend)> = vec![
        // First in SignedInfo: xmlsec stops at the first Reference whose
        // digest fails, and the honest one's DigestValue here is empty.
        ("UTF-7 smuggled Reference", "MJ-M29", {
            let r = utf7(&reference);
            Box::new(move |t: String| {
                t.replacen("<ds:Reference ", &format!("{r}<ds:Reference "), 1)
            })
        }),
        ("UTF-7 XSLT transform", "MJ-M29", {
            let x = utf7(&xslt);
            Box::new(move |t: String| t.replace("<ds:Transforms>", &format!("<ds:Transforms>{x}")))
        }),
        ("external Reference URI", "MJ-M28", {
            let u = canary.url.clone();
            Box::new(move |t: String| t.replace("URI=\"#", &format!("URI=\"{u}\" x=\"")))
        }),
        ("XSLT transform", "MJ-M28", {
            let x = xslt.clone();
            Box::new(move |t: String| t.replace("<ds:Transforms>", &format!("<ds:Transforms>{x}")))
        }),
    ];
    for (i, (what, code, bend)) in attempts.iter().enumerate() {
        let utf7_declared = what.starts_with("UTF-7");
        let decl = if utf7_declared {
            "<?xml version=\"1.0\" encoding=\"UTF-7\"?>"
        } else {
            ""
        };
        // /saml/sso: the SP's public entityID is all an attacker needs.
        let id = format!("_f{i}");
        let xml = format!(
            "{decl}{}",
            Req::honest(&s, &id).xml(&bend(signature_template(&id)))
        );
        refused_page(
            &s,
            &post_bytes(&s, "/saml/sso", xml.as_bytes(), "rs1").await,
            code,
            "-",
            what,
        );
        // /saml/slo: the same, as a LogoutRequest.
        let id = format!("_g{i}");
        let xml = format!(
            "{decl}{}",
            logout_xml(&s, &id, &bend(signature_template(&id)))
        );
        refused_page(
            &s,
            &post_bytes(&s, "/saml/slo", xml.as_bytes(), "rs1").await,
            code,
            "-",
            what,
        );
    }
    assert_eq!(
        canary.foreign_connections(),
        0,
        "the gateway connected to a URI named in a request"
    );
}
