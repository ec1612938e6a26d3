//! One logout for every front: a logout started at one site ends the single
//! sign-on and is carried to every other site of the browser's session, and
//! whatever a site did not confirm is said.
//!
//! The peers are real: two Authlib OIDC clients (`town`, which starts the
//! logout, and `hall`, which registered a back-channel logout URI and checks
//! the logout token as Back-Channel Logout 1.0 §2.6 says, with Authlib's JWT
//! decoding), a pysaml2 SP (`shop`, which gets a signed LogoutRequest through
//! the browser and answers with its LogoutResponse) and a proxy route on
//! `town`'s site; the gateway is the real binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::saml::{start_saml_sp, submit_auto_post, SamlSp, SamlSpOpts};
use munjigi_e2e::upstream::{start_upstream, Upstream};
use munjigi_e2e::*;
use std::time::{Duration, Instant};

struct World {
    _dir: TempDir,
    _sim: Proc,
    gw: Gateway,
    town: Site,
    hall: Site,
    sp: SamlSp,
    _up: Upstream,
}

/// `hall_backchannel`: what `hall` registers as its back-channel logout URI
/// (None: its own endpoint).
async fn world(tag: &str, hall_backchannel: Option<String>) -> World {
    world_with(tag, hall_backchannel, false).await
}

/// [`world`]; with `town_frontchannel`, town registers a front-channel
/// logout URI on its own origin.
async fn world_with(tag: &str, hall_backchannel: Option<String>, town_frontchannel: bool) -> World {
    let dir = TempDir::new(tag);
    let (sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let up = start_upstream().await;
    let port = free_port();
    let gw_url = format!("http://127.0.0.1:{port}");
    let sp = start_saml_sp(
        dir.path(),
        &gw_url,
        &SamlSpOpts {
            sign_requests: true,
            ..SamlSpOpts::default()
        },
    );
    let (town_port, town_redirect) = site_port_and_redirect();
    let (hall_port, hall_redirect) = site_port_and_redirect();
    let backchannel = hall_backchannel
        .unwrap_or_else(|| format!("http://127.0.0.1:{hall_port}/backchannel-logout"));
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            port: Some(port),
            site_redirect: town_redirect,
            extra: format!(
                r#"{town_frontchannel}
[routes.portal]
site = "town"
prefix = "/app/"
upstream = "{up}"

[sites.hall]
name = "보건소"
name_en = "Health centre"
policy = "standard"

[sites.hall.oidc]
client_id = "hall"
client_secret = {{ value = "{CLIENT_SECRET}" }}
redirect_uris = ["{hall_redirect}"]
backchannel_logout_uri = "{backchannel}"
backchannel_logout_session_required = true

[sites.shop]
name = "민원 포털"
name_en = "Civil portal"
policy = "standard"

[sites.shop.saml]
metadata = "{sp_metadata}"
scope = "profile phone"
"#,
                up = up.url,
                sp_metadata = sp.metadata.display(),
                town_frontchannel = if town_frontchannel {
                    format!("frontchannel_logout_uri = \"http://127.0.0.1:{town_port}/frontchannel-logout\"")
                } else {
                    String::new()
                },
            ),
            ..GatewayOpts::default()
        },
    );
    let town = start_site_as("town", town_port, &gw.url, "client_secret_basic", None);
    let hall = start_site_as("hall", hall_port, &gw.url, "client_secret_basic", None);
    World {
        _dir: dir,
        _sim: sim,
        gw,
        town,
        hall,
        sp,
        _up: up,
    }
}

/// A whole OIDC login at `site` through the chooser; the site's JSON.
async fn first_login(b: &mut Browser, site: &Site) -> serde_json::Value {
    let (chooser, chooser_url) = b.follow(&format!("{}/login", site.url)).await;
    assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
    let wait_url = pick_and_submit(b, &chooser_url, &HONG).await;
    let base = wait_url.trim_end_matches("/wait").to_owned();
    let done = wait_done(b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (page, _) = b
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, 200, "site callback: {}", page.body);
    page.json()
}

/// A login at `site` answered by the single sign-on (no chooser).
async fn sso_login(b: &mut Browser, site: &Site) -> serde_json::Value {
    let (page, url) = b.follow(&format!("{}/login", site.url)).await;
    assert!(
        url.starts_with(&site.url),
        "answered from the session: {url}"
    );
    assert_eq!(page.status, 200, "site callback: {}", page.body);
    page.json()
}

/// A SAML login at the SP answered by the single sign-on; the SP's JSON.
async fn sso_saml_login(b: &mut Browser, w: &World) -> serde_json::Value {
    let (post_back, _) = b
        .follow(&format!("{}/login?binding=redirect", w.sp.url))
        .await;
    assert_eq!(post_back.status, 200, "post-back page: {}", post_back.body);
    let answer = submit_auto_post(b, &post_back, &w.gw.url).await;
    assert_eq!(answer.status, 200, "SP ACS: {}", answer.body);
    answer.json()
}

/// The logged-out page's way on to the asking site (its button's link).
fn next_href(page: &Page) -> String {
    let tail = page
        .body
        .split("id=\"mj-logout-next\" href=\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no way on in: {}", page.body));
    html_unescape(&tail[..tail.find('"').unwrap()])
}

async fn get_json(url: &str) -> serde_json::Value {
    let p = Browser::new(None).get(url).await;
    assert_eq!(p.status, 200, "{url}: {}", p.body);
    p.json()
}

async fn userinfo_status(w: &World, access_token: &str) -> u16 {
    Browser::new(None)
        .request_with(
            http::Method::GET,
            &format!("{}/userinfo", w.gw.url),
            None,
            &[("authorization", &format!("Bearer {access_token}"))],
        )
        .await
        .status
}

/// The proxied page's status for an `mj_px` ticket, polled until it is
/// refused or 5 s passed (a replica's copy lives ≤ 1 s).
async fn proxied_after_logout(w: &World, ticket: &str) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut api = Browser::new(None);
        api.accept = Some("application/json");
        api.set_cookie("mj_px", ticket);
        let status = api.get(&format!("{}/app/echo", w.gw.url)).await.status;
        if status != 200 || Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Logs the browser in at every front: `town` (through the chooser), the
/// proxy, `hall` and the SAML SP (from the session). Returns town's and
/// hall's JSON, the SP's, and the proxy ticket.
async fn everywhere(
    b: &mut Browser,
    w: &World,
) -> (
    serde_json::Value,
    serde_json::Value,
    serde_json::Value,
    String,
) {
    let town = first_login(b, &w.town).await;
    let page = proxy_login(b, &w.gw.url, &format!("{}/app/echo", w.gw.url)).await;
    assert_eq!(page.status, 200, "proxied: {}", page.body);
    let px = b.cookie("mj_px").unwrap().clone();
    let hall = sso_login(b, &w.hall).await;
    let shop = sso_saml_login(b, w).await;
    assert_eq!(shop["ok"], true, "{shop}");
    (town, hall, shop, px)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_at_one_oidc_client_ends_the_saml_sp_the_proxy_and_tells_the_other_client() {
    let w = world("logout-fronts", None).await;
    let meta = get_json(&format!("{}/.well-known/openid-configuration", w.gw.url)).await;
    for flag in [
        "backchannel_logout_supported",
        "backchannel_logout_session_supported",
        "frontchannel_logout_supported",
        "frontchannel_logout_session_supported",
    ] {
        assert_eq!(meta[flag], true, "{flag}: {meta}");
    }
    let mut b = Browser::new(None);
    let (town, hall, shop, px) = everywhere(&mut b, &w).await;
    let town_at = town["access_token"].as_str().unwrap();
    let hall_at = hall["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&w, hall_at).await, 200);
    assert_eq!(
        get_json(&format!("{}/session", w.sp.url)).await["name_id"],
        shop["name_id"]
    );

    // Town's RP-initiated logout with its ID token: no question, and the
    // browser passes through the SP (LogoutRequest, LogoutResponse) on its
    // way back to town.
    let url = format!(
        "{}/logout?id_token_hint={}&post_logout_redirect_uri={}/bye&state=st-42",
        w.gw.url,
        town["id_token"].as_str().unwrap(),
        w.town.redirect_uri
    );
    let mut hops = Vec::new();
    let mut next = url;
    let end = loop {
        if next.starts_with(&format!("{}/saml/slo?SAMLResponse=", w.gw.url)) {
            // The SP's answer, sent from anywhere but this browser (the SP's
            // own server, or a page luring another browser): it belongs to
            // no logout there, and moves nothing.
            let elsewhere = Browser::new(None).get(&next).await;
            assert_eq!(elsewhere.status, 400, "{}", elsewhere.body);
            assert!(elsewhere.location.is_none());
        }
        let p = b.get(&next).await;
        hops.push(next.clone());
        match p.location.clone() {
            Some(l) if hops.len() < 10 => next = absolute(&next, &l),
            _ => break p,
        }
    };
    assert!(
        hops.iter()
            .any(|h| h.starts_with(&format!("{}/slo?SAMLRequest=", w.sp.url))),
        "the browser carried a LogoutRequest to the SP: {hops:?}"
    );
    assert!(
        hops.iter()
            .any(|h| h.starts_with(&format!("{}/saml/slo?SAMLResponse=", w.gw.url))),
        "and the SP's LogoutResponse back: {hops:?}"
    );
    assert_eq!(
        hops.last().unwrap(),
        &format!("{}/bye?state=st-42", w.town.redirect_uri),
        "every site confirmed: straight back to town ({hops:?}, {})",
        end.body
    );
    assert!(b.cookie("mj_sid").is_none(), "session cookie cleared");
    assert!(
        b.cookie("mj_lo").is_none(),
        "the logout's own cookie cleared"
    );

    // The SP: its session ended, by a signed LogoutRequest naming exactly
    // the NameID and the SessionIndex it was given.
    assert_eq!(
        get_json(&format!("{}/session", w.sp.url)).await["name_id"],
        serde_json::Value::Null
    );
    let msg = Browser::new(None)
        .get(&format!("{}/last-logout-message", w.sp.url))
        .await
        .body;
    assert!(msg.contains("LogoutRequest"), "{msg}");
    assert!(
        msg.contains(&format!(
            ">{}</saml2:NameID>",
            shop["name_id"].as_str().unwrap()
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            ">{}</saml2p:SessionIndex>",
            shop["session_index"].as_str().unwrap()
        )),
        "{msg}"
    );

    // Hall: one logout token, valid by §2.6 as Authlib checks it, for the
    // sub and sid hall was given.
    let told = get_json(&format!("{}/backchannel-logouts", w.hall.url)).await;
    let told = told.as_array().unwrap();
    assert_eq!(told.len(), 1, "{told:?}");
    let t = &told[0];
    assert_eq!(t["valid"], true, "{t}");
    assert_eq!(
        t["content_type"], "application/x-www-form-urlencoded",
        "{t}"
    );
    assert_eq!(t["header"]["typ"], "logout+jwt", "{t}");
    let claims = &t["claims"];
    assert_eq!(claims["aud"], "hall", "{t}");
    assert_eq!(claims["sub"], hall["id_token_claims"]["sub"], "{t}");
    assert_eq!(claims["sid"], hall["id_token_claims"]["sid"], "{t}");
    assert!(claims.get("nonce").is_none(), "{t}");
    assert!(
        claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object(),
        "{t}"
    );

    // Everything the session handed out is gone.
    assert_eq!(userinfo_status(&w, town_at).await, 401);
    assert_eq!(userinfo_status(&w, hall_at).await, 401);
    assert_eq!(
        proxied_after_logout(&w, &px).await,
        401,
        "proxy session ended"
    );

    let logs = w.gw.proc.drain().join("\n");
    assert!(logs.contains("logout propagated"), "logged");
    assert!(!logs.contains("did not confirm"), "all confirmed");
    let name_id = shop["name_id"].as_str().unwrap();
    assert!(!logs.contains(name_id), "no NameID in logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_that_does_not_confirm_is_named_on_the_page_and_to_the_sp_as_partial_logout() {
    // Hall's back-channel URI answers nothing (nobody listens there).
    let dead = format!("http://127.0.0.1:{}/backchannel-logout", free_port());
    let w = world("logout-partial", Some(dead)).await;

    // 1. Logout at town, with a redirect: the page names hall (in the
    //    citizen's language) instead of sending the browser on unasked.
    let mut b = Browser::new(None);
    let (town, _, _, _) = everywhere(&mut b, &w).await;
    let url = format!(
        "{}/logout?id_token_hint={}&post_logout_redirect_uri={}/bye&state=s1&ui_locales=en&lang=en",
        w.gw.url,
        town["id_token"].as_str().unwrap(),
        w.town.redirect_uri
    );
    let (page, last) = b.follow(&url).await;
    assert!(
        last.starts_with(&w.gw.url),
        "stopped at the gateway: {last}"
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("보건소") || page.body.contains("Health centre"),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"mj-unconfirmed\""), "{}", page.body);
    assert!(
        !page.body.contains("data-auto"),
        "not followed by itself: {}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("href=\"{}/bye?state=s1\"", w.town.redirect_uri)),
        "the way on is a visible button: {}",
        page.body
    );
    let logs = w.gw.proc.drain().join("\n");
    assert!(
        logs.lines()
            .any(|l| l.contains("did not confirm the logout") && l.contains("hall")),
        "the log names the site: {logs}"
    );

    // 2. Logout started by the SP: hall is told (and fails), the SP hears
    //    Success with PartialLogout beneath it.
    let mut b = Browser::new(None);
    everywhere(&mut b, &w).await;
    let (page, url) = b.follow(&format!("{}/logout", w.sp.url)).await;
    assert!(url.starts_with(&format!("{}/saml/slo", w.gw.url)), "{url}");
    // The citizen sees which sites did not confirm before going on to the SP.
    assert!(page.body.contains("id=\"mj-unconfirmed\""), "{}", page.body);
    assert!(!page.body.contains("data-auto"), "{}", page.body);
    let (done, url) = b.follow(&next_href(&page)).await;
    assert!(url.starts_with(&format!("{}/slo", w.sp.url)), "{url}");
    let j = done.json();
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(
        j["status"], "urn:oasis:names:tc:SAML:2.0:status:Success",
        "{j}"
    );
    assert_eq!(
        j["sub_status"], "urn:oasis:names:tc:SAML:2.0:status:PartialLogout",
        "{j}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sp_ends_only_a_session_it_took_part_in_for_the_subject_it_was_given() {
    let w = world("logout-nameid", None).await;
    let mut b = Browser::new(None);
    let (_, hall, shop, _) = everywhere(&mut b, &w).await;
    let hall_at = hall["access_token"].as_str().unwrap();

    // A signed LogoutRequest about someone else: refused, nothing ends.
    let (done, _) = b
        .follow(&format!("{}/logout?name_id=someone-else", w.sp.url))
        .await;
    let j = done.json();
    assert_eq!(j["ok"], false, "{j}");
    assert_eq!(
        j["status"], "urn:oasis:names:tc:SAML:2.0:status:Requester",
        "{j}"
    );
    assert_eq!(
        j["sub_status"], "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal",
        "{j}"
    );
    assert!(b.cookie("mj_sid").is_some(), "session kept");
    assert_eq!(
        userinfo_status(&w, hall_at).await,
        200,
        "hall's token alive"
    );
    assert!(
        get_json(&format!("{}/backchannel-logouts", w.hall.url))
            .await
            .as_array()
            .unwrap()
            .is_empty(),
        "nobody told"
    );

    // A browser whose session the SP never took part in: the SP's (valid,
    // signed) request for its own subject ends nothing there either.
    let mut other = Browser::new(None);
    first_login(&mut other, &w.town).await;
    let theirs = other.cookie("mj_sid").unwrap().clone();
    let mut forged = Browser::new(None);
    forged.set_cookie("mj_sid", &theirs);
    let (done, _) = forged.follow(&format!("{}/logout", w.sp.url)).await;
    let j = done.json();
    assert_eq!(
        j["sub_status"], "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal",
        "{j}"
    );
    assert!(sso_login(&mut other, &w.town).await["id_token"].is_string());

    // The right subject ends this browser's session; hall is told. Town
    // registered no way to be told, so its session may live on: partial.
    let (page, _) = b.follow(&format!("{}/logout", w.sp.url)).await;
    assert!(page.body.contains("id=\"mj-unconfirmed\""), "{}", page.body);
    let (done, _) = b.follow(&next_href(&page)).await;
    let j = done.json();
    assert_eq!(
        j["status"], "urn:oasis:names:tc:SAML:2.0:status:Success",
        "{j}"
    );
    assert_eq!(
        j["sub_status"], "urn:oasis:names:tc:SAML:2.0:status:PartialLogout",
        "{j}"
    );
    assert_eq!(userinfo_status(&w, hall_at).await, 401);
    let told = get_json(&format!("{}/backchannel-logouts", w.hall.url)).await;
    assert_eq!(told.as_array().unwrap().len(), 1, "{told}");
    assert_eq!(told[0]["valid"], true, "{told}");
    let logs = w.gw.proc.drain().join("\n");
    assert!(
        logs.contains("the NameID is not the one this SP was given"),
        "{logs}"
    );
    assert!(
        logs.contains("the SP took no part in this browser's session"),
        "{logs}"
    );
    assert!(
        logs.lines()
            .any(|l| l.contains("did not confirm the logout") && l.contains("town")),
        "{logs}"
    );
    assert!(!logs.contains(shop["name_id"].as_str().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_at_the_gateway_frames_front_channel_clients_and_tells_everyone_else() {
    let w = world_with("logout-frontchannel", None, true).await;
    let mut b = Browser::new(None);
    let (town, hall, _, px) = everywhere(&mut b, &w).await;
    // A bare client_id proves nothing: it names an unknown client (refused)
    // or one that is then told like any other.
    let unknown = b
        .get(&format!("{}/logout?client_id=nobody", w.gw.url))
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    // The citizen logs out at the gateway itself; a page named hall.
    let ask = b
        .get(&format!("{}/logout?client_id=hall&lang=en", w.gw.url))
        .await;
    let csrf = ask.input_value("csrf").unwrap();
    let first = b
        .post(
            &format!("{}/logout", w.gw.url),
            &[("csrf", &csrf), ("client_id", "hall")],
        )
        .await;
    // Through the SP (its LogoutRequest and LogoutResponse) to the page.
    assert_eq!(first.status, 303, "to the SP: {}", first.body);
    let to_sp = first.location.clone().unwrap();
    assert!(
        to_sp.starts_with(&format!("{}/slo?SAMLRequest=", w.sp.url)),
        "{to_sp}"
    );
    let (page, last) = b.follow(&to_sp).await;
    assert!(
        last.starts_with(&format!("{}/saml/slo?SAMLResponse=", w.gw.url)),
        "{last}"
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("You have logged out"), "{}", page.body);
    assert!(
        !page.body.contains("id=\"mj-unconfirmed\""),
        "all told: {}",
        page.body
    );
    // Town's front-channel URI in a frame, with iss and sid, allowed by the CSP.
    let sid = town["id_token_claims"]["sid"].as_str().unwrap();
    let src = format!(
        "src=\"http://127.0.0.1:{}/frontchannel-logout?iss={}&#38;sid={sid}\"",
        w.town.url.rsplit(':').next().unwrap(),
        form_urlencoded::byte_serialize(w.gw.url.as_bytes()).collect::<String>()
    );
    assert!(page.body.contains(&src), "{src} in {}", page.body);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.ends_with(&format!("frame-src {}", w.town.url)), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    // Hall was told over the back channel all the same; the proxy session is gone.
    let told = get_json(&format!("{}/backchannel-logouts", w.hall.url)).await;
    assert_eq!(told.as_array().unwrap().len(), 1, "{told}");
    assert_eq!(told[0]["claims"]["sub"], hall["id_token_claims"]["sub"]);
    assert_eq!(proxied_after_logout(&w, &px).await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_post_logout_is_posted_again_from_the_gateway_with_the_browsers_cookies() {
    let w = world("logout-post-bounce", None).await;
    let mut b = Browser::new(None);
    let (_, hall, _, _) = everywhere(&mut b, &w).await;
    // The SP's page posts its signed LogoutRequest. A browser sends no
    // SameSite=Lax cookie with a cross-site POST: the gateway gets none.
    let form = b.get(&format!("{}/logout?binding=post", w.sp.url)).await;
    assert_eq!(form.status, 200, "SP logout form: {}", form.body);
    let cookieless = submit_auto_post(&mut Browser::new(None), &form, &w.sp.url).await;
    assert_eq!(cookieless.status, 200, "{}", cookieless.body);
    let (action, fields) = munjigi_e2e::saml::auto_post_form(&cookieless);
    assert_eq!(
        action,
        format!("{}/saml/slo", w.gw.url),
        "posted again to itself"
    );
    assert!(
        fields.iter().any(|(k, v)| k == "mj_bounced" && v == "1"),
        "{fields:?}"
    );
    assert!(fields.iter().any(|(k, _)| k == "SAMLRequest"), "{fields:?}");
    assert_eq!(
        userinfo_status(&w, hall["access_token"].as_str().unwrap()).await,
        200,
        "nothing ended yet"
    );
    // The gateway's own page posts it again: same-site, the cookies come.
    let answer = submit_auto_post(&mut b, &cookieless, &w.gw.url).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let done = submit_auto_post(&mut b, &answer, &w.gw.url).await;
    let j = done.json();
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(
        userinfo_status(&w, hall["access_token"].as_str().unwrap()).await,
        401,
        "the session ended"
    );
    let told = get_json(&format!("{}/backchannel-logouts", w.hall.url)).await;
    assert_eq!(told.as_array().unwrap().len(), 1, "{told}");
}
