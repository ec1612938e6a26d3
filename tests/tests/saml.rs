//! SAML 2.0 end to end: a real pysaml2 SP logs in through the gateway over
//! both bindings and validates the signed response; `xmlsec1` verifies an
//! emitted Response on its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::saml::{start_saml_sp, submit_auto_post, SamlSp, SamlSpOpts};
use munjigi_e2e::*;

struct SamlWorld {
    dir: TempDir,
    _sim: Proc,
    gw: Gateway,
    sp: SamlSp,
}

fn saml_world(tag: &str, sp_opts: &SamlSpOpts, site_extra: &str) -> SamlWorld {
    let dir = TempDir::new(tag);
    let (sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let port = free_port();
    let gw_url = format!("http://127.0.0.1:{port}");
    let sp = start_saml_sp(dir.path(), &gw_url, sp_opts);
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            port: Some(port),
            site_redirect: "http://127.0.0.1:9/cb".into(),
            extra: format!(
                "\n[sites.shop]\nname = \"민원 포털\"\nname_en = \"Civil portal\"\npolicy = \"standard\"\n\n[sites.shop.saml]\nmetadata = \"{}\"\nscope = \"profile phone\"\n{site_extra}\n",
                sp.metadata.display()
            ),
            ..GatewayOpts::default()
        },
    );
    SamlWorld {
        dir,
        _sim: sim,
        gw,
        sp,
    }
}

/// From the SP's login link to the SP's JSON answer.
async fn saml_login(b: &mut Browser, w: &SamlWorld, query: &str) -> serde_json::Value {
    let start = b.get(&format!("{}/login?{query}", w.sp.url)).await;
    let chooser_url = match start.status {
        302 | 303 => {
            let (page, url) = b.follow(&start.location.clone().unwrap()).await;
            assert_eq!(page.status, 200, "chooser: {}", page.body);
            url
        }
        200 => {
            let answer = submit_auto_post(b, &start, &w.sp.url).await;
            assert_eq!(answer.status, 303, "POST AuthnRequest: {}", answer.body);
            let (page, url) = b
                .follow(&absolute(&w.gw.url, answer.location.as_deref().unwrap()))
                .await;
            assert_eq!(page.status, 200, "chooser: {}", page.body);
            url
        }
        s => panic!("SP login link answered {s}: {}", start.body),
    };
    login_at_chooser(b, w, &chooser_url).await
}

/// From the gateway's chooser to the SP's JSON answer.
async fn login_at_chooser(b: &mut Browser, w: &SamlWorld, chooser_url: &str) -> serde_json::Value {
    let wait_url = pick_and_submit(b, chooser_url, &HONG).await;
    let base = wait_url.trim_end_matches("/wait").to_owned();
    let done = wait_done(b, &absolute(&w.gw.url, &base)).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (post_back, _) = b
        .follow(&absolute(&w.gw.url, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(post_back.status, 200, "post-back page: {}", post_back.body);
    let answer = submit_auto_post(b, &post_back, &w.gw.url).await;
    assert_eq!(answer.status, 200, "SP ACS: {}", answer.body);
    answer.json()
}

fn assert_logged_in(j: &serde_json::Value) {
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(
        j["name_id_format"], "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        "{j}"
    );
    assert_eq!(
        j["authn_context_class_ref"], "urn:munjigi:acr:substantial",
        "{j}"
    );
    assert_eq!(j["assertion_signed"], true, "{j}");
    assert_eq!(j["friendly"]["displayName"][0], "홍길동", "{j}");
    assert_eq!(
        j["attributes"]["urn:oid:2.5.4.20"][0], "+821012345678",
        "{j}"
    );
    assert_eq!(j["friendly"]["provider"][0], "kakao", "{j}");
    assert!(
        j["session_index"].as_str().is_some_and(|s| !s.is_empty()),
        "{j}"
    );
}

#[tokio::test]
async fn pysaml2_logs_in_over_redirect_and_post() {
    let w = saml_world("saml-both", &SamlSpOpts::default(), "");
    let mut b = Browser::new(None);
    let first = saml_login(&mut b, &w, "binding=redirect&relay=back-to-42").await;
    assert_logged_in(&first);
    assert_eq!(first["relay_state"], "back-to-42");
    assert_eq!(first["acs"], "/acs");
    // Another browser, the other binding: the same person, the same pairwise NameID.
    let mut b2 = Browser::new(None);
    let second = saml_login(&mut b2, &w, "binding=post&acs_index=1").await;
    assert_logged_in(&second);
    assert_eq!(second["acs"], "/acs2");
    assert_eq!(
        first["name_id"], second["name_id"],
        "persistent NameID is stable"
    );
    // The SAML NameID is the site's pairwise sub, also sent as an attribute.
    assert_eq!(first["friendly"]["sub"][0], first["name_id"]);
}

#[tokio::test]
async fn signed_requests_and_signed_responses_interoperate() {
    let w = saml_world(
        "saml-signed",
        &SamlSpOpts {
            sign_requests: true,
            want_response_signed: true,
            ..SamlSpOpts::default()
        },
        "sign_response = true",
    );
    for binding in ["redirect", "post"] {
        let mut b = Browser::new(None);
        let j = saml_login(&mut b, &w, &format!("binding={binding}")).await;
        assert_logged_in(&j);
        assert_eq!(j["response_signed"], true, "{binding}: {j}");
    }
    // xmlsec1, independently of both ends, verifies the last Response with
    // the IdP's published certificate.
    let xml = reqwest_text(&format!("{}/last-response", w.sp.url)).await;
    let resp_file = w.dir.path().join("response.xml");
    std::fs::write(&resp_file, &xml).unwrap();
    let cert = w.gw.config.parent().unwrap().join("keys/saml.crt");
    for what in ["Response", "Assertion"] {
        let out = xmlsec1_verify(&xml, &resp_file, &cert, what);
        assert!(
            out.status.success(),
            "xmlsec1 --verify of the {what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `xmlsec1 --verify` of the Response's or its Assertion's signature in
/// `xml` (written to `file`) with the certificate `cert`.
fn xmlsec1_verify(
    xml: &str,
    file: &std::path::Path,
    cert: &std::path::Path,
    what: &str,
) -> std::process::Output {
    let id_attr = match what {
        "Response" => "urn:oasis:names:tc:SAML:2.0:protocol:Response",
        _ => "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
    };
    let node_id = xml
        .split(&format!("{what} "))
        .nth(1)
        .and_then(|rest| rest.split("ID=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    std::process::Command::new("xmlsec1")
        .arg("--verify")
        .arg("--pubkey-cert-pem")
        .arg(cert)
        .arg("--id-attr:ID")
        .arg(id_attr)
        .arg("--node-id")
        .arg(&node_id)
        .arg(file)
        .output()
        .expect("xmlsec1 runs")
}

/// An SP configured for ECDSA gets responses and assertions signed with the
/// P-256 key (published in the metadata beside the RSA one); pysaml2 takes
/// them, and xmlsec1 verifies them with that certificate and not the RSA one.
#[tokio::test]
async fn ecdsa_signatures_for_an_sp_that_asks_interoperate() {
    let w = saml_world(
        "saml-ecdsa",
        &SamlSpOpts {
            want_response_signed: true,
            ..SamlSpOpts::default()
        },
        "sign_response = true\nsignature_algorithm = \"ecdsa-sha256\"",
    );
    let metadata = reqwest_text(&format!("{}/saml/metadata", w.gw.url)).await;
    assert_eq!(
        metadata.matches("KeyDescriptor use=\"signing\"").count(),
        2,
        "{metadata}"
    );
    for binding in ["redirect", "post"] {
        let mut b = Browser::new(None);
        let j = saml_login(&mut b, &w, &format!("binding={binding}")).await;
        assert_logged_in(&j);
        assert_eq!(j["response_signed"], true, "{binding}: {j}");
    }
    let xml = reqwest_text(&format!("{}/last-response", w.sp.url)).await;
    assert_eq!(
        xml.matches("http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256")
            .count(),
        2,
        "{xml}"
    );
    assert!(!xml.contains("#rsa-sha256"), "{xml}");
    let resp_file = w.dir.path().join("response.xml");
    std::fs::write(&resp_file, &xml).unwrap();
    let keys = w.gw.config.parent().unwrap().join("keys");
    for (cert, ok) in [("saml-ec.crt", true), ("saml.crt", false)] {
        assert!(keys.join(cert).exists(), "{cert}");
        for what in ["Response", "Assertion"] {
            let out = xmlsec1_verify(&xml, &resp_file, &keys.join(cert), what);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.success(),
                ok,
                "xmlsec1 --verify of the {what} with {cert}: {stderr}"
            );
            if !ok {
                // Refused for the signature, not for a missing node or file.
                assert!(
                    stderr.contains("signature") || stderr.contains("verif"),
                    "{stderr}"
                );
            }
        }
    }
}

async fn reqwest_text(url: &str) -> String {
    let mut b = Browser::new(None);
    let p = b.get(url).await;
    assert_eq!(p.status, 200, "{url}: {}", p.body);
    p.body
}

/// An SP login that must be answered at once (IsPassive), from the gateway's
/// session or with NoPassive.
async fn passive_login(b: &mut Browser, w: &SamlWorld) -> serde_json::Value {
    let start = b
        .get(&format!("{}/login?binding=redirect&passive=1", w.sp.url))
        .await;
    assert_eq!(start.status, 302, "SP login link: {}", start.body);
    let post_back = b.get(start.location.as_deref().unwrap()).await;
    assert_eq!(post_back.status, 200, "passive answer: {}", post_back.body);
    let answer = submit_auto_post(b, &post_back, &w.gw.url).await;
    assert_eq!(answer.status, 200, "SP ACS: {}", answer.body);
    answer.json()
}

#[tokio::test]
async fn single_sign_on_then_single_logout_over_both_bindings() {
    let w = saml_world(
        "saml-slo",
        &SamlSpOpts {
            sign_requests: true,
            ..SamlSpOpts::default()
        },
        "",
    );
    for binding in ["redirect", "post"] {
        let mut b = Browser::new(None);
        let first = saml_login(&mut b, &w, "binding=redirect").await;
        assert_logged_in(&first);
        // Single sign-on: a passive request is answered from the session.
        let again = passive_login(&mut b, &w).await;
        assert_logged_in(&again);
        assert_eq!(again["name_id"], first["name_id"], "{binding}");
        assert_eq!(again["session_index"], first["session_index"], "{binding}");
        // SP-initiated logout, signed both ways.
        let done = match binding {
            "redirect" => {
                let (page, url) = b.follow(&format!("{}/logout", w.sp.url)).await;
                assert!(url.starts_with(&format!("{}/slo", w.sp.url)), "{url}");
                page
            }
            _ => {
                let form = b.get(&format!("{}/logout?binding=post", w.sp.url)).await;
                assert_eq!(form.status, 200, "SP logout form: {}", form.body);
                let answer = submit_auto_post(&mut b, &form, &w.sp.url).await;
                assert_eq!(answer.status, 200, "gateway SLO: {}", answer.body);
                submit_auto_post(&mut b, &answer, &w.gw.url).await
            }
        };
        assert_eq!(done.status, 200, "{binding}: {}", done.body);
        let j = done.json();
        assert_eq!(j["ok"], true, "{binding}: {j}");
        assert_eq!(
            j["status"], "urn:oasis:names:tc:SAML:2.0:status:Success",
            "{binding}: {j}"
        );
        // The gateway session is gone: a passive request now gets NoPassive.
        let after = passive_login(&mut b, &w).await;
        assert_eq!(after["ok"], false, "{binding}: {after}");
        assert_eq!(
            after["sub_status"], "urn:oasis:names:tc:SAML:2.0:status:NoPassive",
            "{binding}: {after}"
        );
    }
}

#[tokio::test]
async fn assertions_are_encrypted_to_the_key_in_the_sp_metadata() {
    let w = saml_world(
        "saml-enc",
        &SamlSpOpts {
            encrypt: true,
            ..SamlSpOpts::default()
        },
        "",
    );
    let mut b = Browser::new(None);
    let j = saml_login(&mut b, &w, "binding=redirect").await;
    assert_logged_in(&j);
    assert_eq!(j["assertion_encrypted"], true, "{j}");
    let xml = reqwest_text(&format!("{}/last-response", w.sp.url)).await;
    assert!(xml.contains("EncryptedAssertion"), "{xml}");
    assert!(
        !xml.contains("홍길동") && !xml.contains("+821012345678"),
        "no personal data in clear: {xml}"
    );
}

#[tokio::test]
async fn transient_nameids_are_fresh_and_force_authn_asks_the_citizen_again() {
    let w = saml_world("saml-transient", &SamlSpOpts::default(), "");
    let mut b = Browser::new(None);
    let first = saml_login(&mut b, &w, "binding=redirect&nameid=transient").await;
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(
        first["name_id_format"], "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
        "{first}"
    );
    // ForceAuthn: the same browser, with a session, goes through the chooser
    // again (saml_login insists on the chooser) and gets a new transient id.
    let second = saml_login(&mut b, &w, "binding=post&nameid=transient&force=1").await;
    assert_eq!(second["ok"], true, "{second}");
    assert_ne!(
        first["name_id"], second["name_id"],
        "transient ids are not reused"
    );
    assert_ne!(
        first["session_index"], second["session_index"],
        "a new session"
    );
    // The pairwise sub attribute stays the same person.
    assert_eq!(first["friendly"]["sub"], second["friendly"]["sub"]);
}

#[tokio::test]
async fn idp_initiated_sso_only_where_the_site_allows_it() {
    let sp_opts = SamlSpOpts {
        allow_unsolicited: true,
        ..SamlSpOpts::default()
    };
    // Not allowed by default: a page, no login.
    let closed = saml_world("saml-unsolicited-off", &sp_opts, "");
    let mut b = Browser::new(None);
    let entity =
        form_urlencoded::byte_serialize(closed.sp.entity_id.as_bytes()).collect::<String>();
    let page = b
        .get(&format!(
            "{}/saml/init?sp={entity}&RelayState=r0",
            closed.gw.url
        ))
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("MJ-M25"), "{}", page.body);
    drop(closed);
    // Allowed: the citizen logs in and the SP gets an unsolicited response.
    let open = saml_world("saml-unsolicited-on", &sp_opts, "idp_initiated = true");
    let entity = form_urlencoded::byte_serialize(open.sp.entity_id.as_bytes()).collect::<String>();
    let mut b = Browser::new(None);
    let (chooser, chooser_url) = b
        .follow(&format!(
            "{}/saml/init?sp={entity}&RelayState=deep-link",
            open.gw.url
        ))
        .await;
    assert_eq!(chooser.status, 200, "{}", chooser.body);
    let j = login_at_chooser(&mut b, &open, &chooser_url).await;
    assert_logged_in(&j);
    assert_eq!(j["relay_state"], "deep-link", "{j}");
    assert!(j["in_response_to"].is_null(), "unsolicited: {j}");
}

/// What the gateway answers a POSTed AuthnRequest from the SP's login link.
async fn post_authn_request(w: &SamlWorld) -> Page {
    let mut b = Browser::new(None);
    let start = b.get(&format!("{}/login?binding=post", w.sp.url)).await;
    assert_eq!(start.status, 200, "{}", start.body);
    submit_auto_post(&mut b, &start, &w.sp.url).await
}

/// Issue 19: pysaml2 signing with RSA-SHA256 but keeping its SHA-1 digest is
/// refused by algorithm (MJ-M18), the page and the log naming the SP and the
/// algorithm, until the site allows SHA-1 digests; an RSA-SHA1 signature
/// (pysaml2's full default) is refused whatever the site says.
#[tokio::test]
async fn sha1_digests_only_where_allowed_and_sha1_signatures_never() {
    let sha1_digest = SamlSpOpts {
        sign_requests: true,
        authn_sha1_digest: true,
        ..SamlSpOpts::default()
    };
    let w = saml_world("saml-sha1-refused", &sha1_digest, "");
    let page = post_authn_request(&w).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("MJ-M18"), "{}", page.body);
    for named in [w.sp.entity_id.as_str(), "DigestMethod", "xmldsig#sha1"] {
        assert!(
            page.body.contains(named),
            "page names {named}: {}",
            page.body
        );
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut lines: Vec<String> = Vec::new();
    let wanted = |l: &String| {
        l.contains("MJ-M18") && l.contains(&w.sp.entity_id) && l.contains("xmldsig#sha1")
    };
    while !lines.iter().any(wanted) {
        assert!(
            std::time::Instant::now() < deadline,
            "no log line naming the SP and the algorithm:\n{}",
            lines.join("\n")
        );
        lines.extend(w.gw.proc.drain());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Allowed for this SP: the same request logs in.
    let w = saml_world(
        "saml-sha1-allowed",
        &sha1_digest,
        "allow_sha1_digest = true",
    );
    let mut b = Browser::new(None);
    assert_logged_in(&saml_login(&mut b, &w, "binding=post").await);

    // pysaml2's own defaults, RSA-SHA1 signatures: never, even when allowed.
    let rsa_sha1 = SamlSpOpts {
        authn_rsa_sha1: true,
        ..sha1_digest
    };
    let w = saml_world("saml-rsa-sha1", &rsa_sha1, "allow_sha1_digest = true");
    let page = post_authn_request(&w).await;
    assert_eq!(page.status, 400, "{}", page.body);
    for named in [
        "MJ-M18",
        w.sp.entity_id.as_str(),
        "SignatureMethod",
        "rsa-sha1",
    ] {
        assert!(
            page.body.contains(named),
            "page names {named}: {}",
            page.body
        );
    }
}

/// Issue 19: the metadata is signed (xmlsec1 verifies it with the IdP
/// certificate, and not once changed), dated, lists what is released and
/// the scope; the SP receives the pairwise subject as the standard
/// `pairwise-id` too, scoped, the same subject in hex.
#[tokio::test]
async fn signed_metadata_and_the_standard_pairwise_id() {
    let w = saml_world("saml-metadata", &SamlSpOpts::default(), "");
    let xml = reqwest_text(&format!("{}/saml/metadata", w.gw.url)).await;
    for want in [
        "validUntil=\"",
        "cacheDuration=\"PT6H\"",
        "<ds:Signature",
        r#"<shibmd:Scope xmlns:shibmd="urn:mace:shibboleth:metadata:1.0" regexp="false">127.0.0.1</shibmd:Scope>"#,
        r#"Name="urn:oasis:names:tc:SAML:attribute:pairwise-id""#,
        r#"Name="urn:oid:1.3.6.1.5.5.7.9.1""#,
    ] {
        assert!(xml.contains(want), "{want} in {xml}");
    }
    let cert = w.gw.config.parent().unwrap().join("keys/saml.crt");
    let verify = |file: &std::path::Path| {
        std::process::Command::new("xmlsec1")
            .arg("--verify")
            .arg("--pubkey-cert-pem")
            .arg(&cert)
            .arg("--id-attr:ID")
            .arg("urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor")
            .arg(file)
            .output()
            .expect("xmlsec1 runs")
    };
    let file = w.dir.path().join("idp-metadata.xml");
    std::fs::write(&file, &xml).unwrap();
    let out = verify(&file);
    assert!(
        out.status.success(),
        "xmlsec1 --verify of the metadata: {}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    let changed = xml.replacen("/saml/sso", "/saml/ssx", 1);
    std::fs::write(&file, &changed).unwrap();
    assert!(
        !verify(&file).status.success(),
        "a changed endpoint breaks the signature"
    );

    // The SP (reading the signed metadata) gets pairwise-id = hex(sub)@scope.
    let mut b = Browser::new(None);
    let j = saml_login(&mut b, &w, "binding=redirect").await;
    assert_logged_in(&j);
    use base64::Engine as _;
    let sub = j["friendly"]["sub"][0].as_str().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sub)
        .unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let want = format!("{hex}@127.0.0.1");
    assert_eq!(
        j["attributes"]["urn:oasis:names:tc:SAML:attribute:pairwise-id"][0],
        want.as_str(),
        "{j}"
    );
}

/// An SP on the `oid` profile gets the directory standards' names (uri
/// NameFormat, SCHAC's date syntax); one on the default gets today's names;
/// `pairwise-id` is the same in both.
#[tokio::test]
async fn attribute_profile_oid_sends_oid_names_and_the_default_todays_names() {
    const URI: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
    const PAIRWISE: &str = "urn:oasis:names:tc:SAML:attribute:pairwise-id";
    let oid = saml_world(
        "saml-profile-oid",
        &SamlSpOpts::default(),
        "attribute_profile = \"oid\"",
    );
    let mut b = Browser::new(None);
    let j = saml_login(&mut b, &oid, "binding=redirect").await;
    assert_eq!(j["ok"], true, "{j}");
    let attrs = &j["attributes"];
    assert_eq!(
        attrs["urn:oid:2.16.840.1.113730.3.1.241"][0], "홍길동",
        "{j}"
    );
    assert_eq!(
        attrs["urn:oid:1.3.6.1.4.1.25178.1.2.3"][0], "19900131",
        "{j}"
    );
    assert_eq!(
        attrs["urn:oid:0.9.2342.19200300.100.1.41"][0], "+821012345678",
        "{j}"
    );
    assert_eq!(j["friendly"]["schacDateOfBirth"][0], "19900131", "{j}");
    assert_eq!(j["friendly"]["mobile"][0], "+821012345678", "{j}");
    for gone in ["urn:oid:1.3.6.1.5.5.7.9.1", "urn:oid:2.5.4.20"] {
        assert!(attrs.get(gone).is_none(), "{gone} under oid: {j}");
    }
    let formats = j["attribute_name_formats"].as_object().unwrap();
    assert!(formats.values().all(|f| f == URI), "{j}");
    let oid_pairwise = attrs[PAIRWISE][0].as_str().unwrap().to_owned();
    assert!(oid_pairwise.ends_with("@127.0.0.1"), "{j}");

    let default = saml_world("saml-profile-default", &SamlSpOpts::default(), "");
    let mut b = Browser::new(None);
    let j = saml_login(&mut b, &default, "binding=redirect").await;
    assert_logged_in(&j);
    let attrs = &j["attributes"];
    assert_eq!(attrs["urn:oid:1.3.6.1.5.5.7.9.1"][0], "1990-01-31", "{j}");
    assert_eq!(attrs["urn:oid:2.5.4.20"][0], "+821012345678", "{j}");
    for gone in [
        "urn:oid:1.3.6.1.4.1.25178.1.2.3",
        "urn:oid:0.9.2342.19200300.100.1.41",
    ] {
        assert!(attrs.get(gone).is_none(), "{gone} under munjigi: {j}");
    }
    let formats = j["attribute_name_formats"].as_object().unwrap();
    assert!(formats.values().all(|f| f == URI), "{j}");
    assert_eq!(formats[PAIRWISE], URI, "{j}");
}

/// An SP on the `basic` profile gets short names with the basic NameFormat;
/// `pairwise-id` keeps its uri name and format.
#[tokio::test]
async fn attribute_profile_basic_sends_short_names() {
    const BASIC: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";
    const PAIRWISE: &str = "urn:oasis:names:tc:SAML:attribute:pairwise-id";
    let w = saml_world(
        "saml-profile-basic",
        &SamlSpOpts::default(),
        "attribute_profile = \"basic\"",
    );
    let mut b = Browser::new(None);
    let j = saml_login(&mut b, &w, "binding=post").await;
    assert_eq!(j["ok"], true, "{j}");
    let attrs = &j["attributes"];
    assert_eq!(attrs["displayName"][0], "홍길동", "{j}");
    assert_eq!(attrs["dateOfBirth"][0], "1990-01-31", "{j}");
    assert_eq!(attrs["telephoneNumber"][0], "+821012345678", "{j}");
    assert_eq!(attrs["sub"][0], j["name_id"], "{j}");
    let formats = j["attribute_name_formats"].as_object().unwrap();
    for (name, format) in formats {
        let want = if name == PAIRWISE {
            "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
        } else {
            BASIC
        };
        assert_eq!(format, want, "{name}: {j}");
    }
    assert!(formats.contains_key(PAIRWISE), "{j}");
}
