//! Logout: only the citizen, or a site holding this session's ID token, ends
//! the single sign-on, and ending it ends everything it handed out.
//!
//! A bare `GET /logout` (what `<img src=/logout>` on any page sends) and a
//! hint from another session get the "Log out of Munjigi?" page and change
//! nothing; its POST needs the CSRF token of this browser. A logout ends the
//! gateway session, the proxy sessions (`mj_px`) started from it and the
//! access tokens issued from it (`/userinfo` answers 401). The site is
//! Authlib, the upstream an in-process echo server, the gateway the real
//! binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::upstream::{start_upstream, Upstream};
use munjigi_e2e::*;
use std::time::{Duration, Instant};

struct World {
    _dir: TempDir,
    _sim: Proc,
    gw: Gateway,
    site: Site,
    _up: Upstream,
}

/// A gateway with the Authlib site (`town`) and a proxy route `/app/` for the
/// same site, so one single sign-on serves both.
async fn world(tag: &str) -> World {
    world_with(tag, "").await
}

/// [`world`] with more config (a `[store]`, say).
async fn world_with(tag: &str, more: &str) -> World {
    let dir = TempDir::new(tag);
    let (sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let up = start_upstream().await;
    let (port, redirect) = site_port_and_redirect();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect,
            extra: format!(
                "\n[routes.portal]\nsite = \"town\"\nprefix = \"/app/\"\nupstream = \"{}\"\n{more}",
                up.url
            ),
            ..GatewayOpts::default()
        },
    );
    let site = start_site(port, &gw.url, "client_secret_basic", None);
    World {
        _dir: dir,
        _sim: sim,
        gw,
        site,
        _up: up,
    }
}

/// A whole OIDC login at the site; returns the site's JSON (tokens included).
async fn login(b: &mut Browser, w: &World) -> serde_json::Value {
    let (chooser, chooser_url) = b.follow(&format!("{}/login", w.site.url)).await;
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

/// `/userinfo`'s answer for an access token.
async fn userinfo(w: &World, access_token: &str) -> Page {
    userinfo_at(&w.gw.url, access_token).await
}

async fn userinfo_at(gateway: &str, access_token: &str) -> Page {
    Browser::new(None)
        .request_with(
            http::Method::GET,
            &format!("{gateway}/userinfo"),
            None,
            &[("authorization", &format!("Bearer {access_token}"))],
        )
        .await
}

/// The proxied page's status for an `mj_px` ticket, as an API client.
async fn proxied(w: &World, ticket: &str) -> u16 {
    proxied_at(w, &w.gw.url, ticket).await
}

/// As [`proxied`], sent to the replica at `gateway` with the public Host (as
/// a load balancer sends it).
async fn proxied_at(w: &World, gateway: &str, ticket: &str) -> u16 {
    let mut api = Browser::new(None);
    api.accept = Some("application/json");
    api.set_cookie("mj_px", ticket);
    let host = w.gw.url.trim_start_matches("http://").to_owned();
    api.request_with(
        http::Method::GET,
        &format!("{gateway}/app/echo"),
        None,
        &[("host", &host)],
    )
    .await
    .status
}

/// Polls until the proxy refuses `ticket` (a replica's copy lives ≤ 1 s).
async fn until_proxy_refuses(w: &World, ticket: &str) -> u16 {
    until_proxy_refuses_at(w, &w.gw.url, ticket).await
}

async fn until_proxy_refuses_at(w: &World, gateway: &str, ticket: &str) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = proxied_at(w, gateway, ticket).await;
        if s != 200 || Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether the browser's single sign-on still answers a login at the site
/// without the chooser.
async fn sso_alive(b: &mut Browser, w: &World) -> bool {
    let (_, url) = b.follow(&format!("{}/login", w.site.url)).await;
    !url.contains("/login/")
}

fn assert_confirmation(p: &Page, status: u16, lang: &str, title: &str) {
    assert_eq!(p.status, status, "{p:?}");
    assert!(
        p.body.contains(&format!("<html lang=\"{lang}\">")),
        "{}",
        p.body
    );
    assert!(p.body.contains(title), "{}", p.body);
    assert!(p.body.contains("method=\"post\""), "{}", p.body);
    assert!(p.body.contains("type=\"submit\""), "{}", p.body);
    assert!(
        p.input_value("csrf").is_some_and(|t| t.len() >= 32),
        "{}",
        p.body
    );
}

const TITLE_KO: &str = "문지기에서 로그아웃할까요?";
const TITLE_EN: &str = "Log out of Munjigi?";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_get_only_asks_and_the_confirmed_post_ends_the_session_its_proxy_sessions_and_tokens(
) {
    let w = world("logout-confirm").await;
    let gw = w.gw.url.clone();
    let mut b = Browser::new(None);
    let r = login(&mut b, &w).await;
    let at = r["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&w, &at).await.status, 200);
    // A proxy session from the same single sign-on (no chooser: the session answers).
    let page = proxy_login(&mut b, &gw, &format!("{gw}/app/echo")).await;
    assert_eq!(page.status, 200);
    let px = b.cookie("mj_px").unwrap().clone();
    assert_eq!(proxied(&w, &px).await, 200);

    // What <img src=/logout> sends: a question, in Korean and in English; nothing ends.
    let ko = b.get(&format!("{gw}/logout")).await;
    assert_confirmation(&ko, 200, "ko", TITLE_KO);
    assert!(b.cookie("mj_sid").is_some(), "session cookie kept");
    let en = b.get(&format!("{gw}/logout?lang=en")).await;
    assert_confirmation(&en, 200, "en", TITLE_EN);
    assert!(en.body.contains(">Log out</button>"), "{}", en.body);
    // (The switch is remembered; back to Korean for the rest.)
    let ko = b.get(&format!("{gw}/logout?lang=ko")).await;
    assert_confirmation(&ko, 200, "ko", TITLE_KO);
    assert_eq!(userinfo(&w, &at).await.status, 200, "token alive");
    assert_eq!(proxied(&w, &px).await, 200, "proxy session alive");
    assert!(sso_alive(&mut b, &w).await, "single sign-on alive");

    // A POST without the token, or with another (a cross-site form), ends nothing.
    let csrf = ko.input_value("csrf").unwrap();
    let none = b.post(&format!("{gw}/logout"), &[]).await;
    assert_confirmation(&none, 403, "ko", TITLE_KO);
    let wrong = "A".repeat(csrf.len());
    let forged = b.post(&format!("{gw}/logout"), &[("csrf", &wrong)]).await;
    assert_confirmation(&forged, 403, "ko", TITLE_KO);
    // Another browser's token is not this one's.
    let mut other = Browser::new(None);
    login(&mut other, &w).await;
    let theirs = other.get(&format!("{gw}/logout")).await;
    let theirs = theirs.input_value("csrf").unwrap();
    assert_ne!(theirs, csrf);
    let p = b.post(&format!("{gw}/logout"), &[("csrf", &theirs)]).await;
    assert_eq!(p.status, 403, "{p:?}");
    assert_eq!(userinfo(&w, &at).await.status, 200, "token alive");
    assert_eq!(proxied(&w, &px).await, 200, "proxy session alive");
    assert!(b.cookie("mj_sid").is_some());

    // The citizen confirms: everything from this single sign-on ends.
    let out = b.post(&format!("{gw}/logout"), &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 200, "{out:?}");
    assert!(out.body.contains("로그아웃되었습니다"), "{}", out.body);
    assert!(b.cookie("mj_sid").is_none(), "session cookie cleared");
    let ui = userinfo(&w, &at).await;
    assert_eq!(ui.status, 401, "access token revoked: {ui:?}");
    assert!(ui.body.contains("invalid_token"), "{}", ui.body);
    assert!(
        ui.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token"),
        "{ui:?}"
    );
    assert_eq!(
        until_proxy_refuses(&w, &px).await,
        401,
        "proxy session of the same single sign-on ended"
    );
    assert!(
        !sso_alive(&mut b, &w).await,
        "the next login needs the phone"
    );
    // The other browser's session is untouched.
    assert!(sso_alive(&mut other, &w).await);
    let logs = w.gw.proc.drain().join("\n");
    assert!(logs.contains("single sign-on ended"), "logged");
    assert!(
        !logs.contains(&csrf) && !logs.contains(&at),
        "no secrets in logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hint_of_another_session_is_asked_and_a_hint_of_this_session_is_obeyed() {
    let w = world("logout-hint").await;
    let gw = w.gw.url.clone();
    let bye = format!("{}/bye", w.site.redirect_uri);
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut a = Browser::new(None);
    let ra = login(&mut a, &w).await;
    let mut b = Browser::new(None);
    let rb = login(&mut b, &w).await;
    let (at_a, at_b) = (
        ra["access_token"].as_str().unwrap(),
        rb["access_token"].as_str().unwrap(),
    );
    let (hint_a, hint_b) = (
        ra["id_token"].as_str().unwrap(),
        rb["id_token"].as_str().unwrap(),
    );
    assert_ne!(
        ra["id_token_claims"]["sid"], rb["id_token_claims"]["sid"],
        "two sessions"
    );

    // A is sent to /logout with B's ID token (same person, same site): asked, not obeyed.
    let p = a
        .get(&format!(
            "{gw}/logout?id_token_hint={hint_b}&post_logout_redirect_uri={}&state=st",
            enc(&bye)
        ))
        .await;
    assert_confirmation(&p, 200, "ko", TITLE_KO);
    assert_eq!(
        p.input_value("post_logout_redirect_uri").as_deref(),
        Some(bye.as_str())
    );
    assert_eq!(p.input_value("state").as_deref(), Some("st"));
    assert_eq!(userinfo(&w, at_a).await.status, 200, "A's token alive");
    assert!(a.cookie("mj_sid").is_some());
    assert!(sso_alive(&mut a, &w).await, "A's single sign-on alive");

    // Confirming returns to the site exactly as asked.
    let csrf = p.input_value("csrf").unwrap();
    let out = a
        .post(
            &format!("{gw}/logout"),
            &[
                ("csrf", &csrf),
                ("client_id", "town"),
                ("post_logout_redirect_uri", &bye),
                ("state", "st"),
            ],
        )
        .await;
    assert_eq!(out.status, 303, "{out:?}");
    assert_eq!(
        out.location.as_deref(),
        Some(format!("{bye}?state=st").as_str())
    );
    assert_eq!(userinfo(&w, at_a).await.status, 401, "A's token revoked");
    assert_eq!(userinfo(&w, at_b).await.status, 200, "B's token alive");

    // B's own hint: RP-initiated logout as before, no question.
    let p = b
        .get(&format!(
            "{gw}/logout?id_token_hint={hint_b}&post_logout_redirect_uri={}&state=s2",
            enc(&bye)
        ))
        .await;
    assert_eq!(p.status, 303, "{p:?}");
    assert_eq!(
        p.location.as_deref(),
        Some(format!("{bye}?state=s2").as_str())
    );
    assert!(b.cookie("mj_sid").is_none());
    assert_eq!(userinfo(&w, at_b).await.status, 401, "B's token revoked");
    assert!(!sso_alive(&mut b, &w).await);

    // A's old hint, now that A has no session: nothing to end, straight back.
    let p = a
        .get(&format!(
            "{gw}/logout?id_token_hint={hint_a}&post_logout_redirect_uri={}",
            enc(&bye)
        ))
        .await;
    assert_eq!(p.status, 303, "{p:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_replica_ends_the_tokens_and_proxy_sessions_on_another_on_a_redis_cluster()
{
    let cluster = start_cluster();
    let store = format!(
        "\n[store]\nkind = \"redis\"\ncluster = true\nurl = {{ value = \"redis://127.0.0.1:{}\" }}\n",
        cluster.seed
    );
    let w = world_with("logout-cluster", &store).await;
    let (_b_proc, b_url) = start_replica(&w.gw.config, "b");
    let gw = w.gw.url.clone();
    let mut b = Browser::new(None);
    let r = login(&mut b, &w).await;
    let at = r["access_token"].as_str().unwrap().to_owned();
    proxy_login(&mut b, &gw, &format!("{gw}/app/echo")).await;
    let px = b.cookie("mj_px").unwrap().clone();
    // Replica B honours both.
    assert_eq!(userinfo_at(&b_url, &at).await.status, 200);
    assert_eq!(proxied_at(&w, &b_url, &px).await, 200);

    // Confirmed logout on A.
    let ask = b.get(&format!("{gw}/logout")).await;
    let csrf = ask.input_value("csrf").unwrap();
    let out = b.post(&format!("{gw}/logout"), &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 200, "{out:?}");

    // On B: the token at once (no copy is kept), the proxy session within its 1 s copy.
    assert_eq!(userinfo_at(&b_url, &at).await.status, 401);
    assert_eq!(until_proxy_refuses_at(&w, &b_url, &px).await, 401);
}
