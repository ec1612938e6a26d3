//! CIBA (OpenID Connect Client-Initiated Backchannel Authentication) end to
//! end: a real OpenID Connect client library (node openid-client 6 with
//! jose, `tests/device/ciba_flow.mjs`) is the call centre, authenticating
//! with `private_key_jwt` and naming the citizen in a `login_hint_token` it
//! signs; the simulator's citizen approves in the app. Poll mode and ping
//! mode (the gateway POSTs to the client's endpoint, the client then calls
//! `/token`).
//!
//! Refused as CIBA says, over raw HTTP from a back office with a secret:
//! an unknown client, a site not allowed CIBA, hints that are unsigned where
//! signatures are required, signed by another key, expired, typed as
//! something else, or used twice; binding messages that are words or that
//! the provider cannot show; an expiry beyond the provider's; a person the
//! provider does not know; polling too fast; the citizen rejecting (and the
//! site then silenced for that person); expiry; a replayed `auth_req_id`
//! (its first access token revoked); pushes per person per site.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const KID: &str = "cc-es-1";
const BO_KID: &str = "bo-es-1";
const BO_SECRET: &str = "backoffice-secret-0123456789";

fn sites(ping_port: u16) -> String {
    format!(
        r#"
[sites.callcentre]
name = "정부통합콜센터"
name_en = "Government call centre"
policy = "standard"
[sites.callcentre.oidc]
client_id = "callcentre"
redirect_uris = ["http://127.0.0.1:9/cb"]
token_endpoint_auth_method = "private_key_jwt"
jwks = "cc-jwks.json"
ciba = true

[sites.callcentre-ping]
name = "정부통합콜센터 (ping)"
policy = "standard"
[sites.callcentre-ping.oidc]
client_id = "callcentre-ping"
redirect_uris = ["http://127.0.0.1:9/cb"]
token_endpoint_auth_method = "private_key_jwt"
jwks = "cc-jwks.json"
ciba = true
backchannel_token_delivery_mode = "ping"
backchannel_client_notification_endpoint = "http://127.0.0.1:{ping_port}/cb"

[sites.backoffice]
name = "민원 백오피스"
policy = "standard"
[sites.backoffice.oidc]
client_id = "backoffice"
client_secret = {{ value = "{BO_SECRET}" }}
redirect_uris = ["http://127.0.0.1:9/cb"]
ciba = true
ciba_unsigned_hints = true
login_hint_jwks = "bo-jwks.json"

[sites.plain]
name = "일반 사이트"
policy = "standard"
[sites.plain.oidc]
client_id = "plain"
client_secret = {{ value = "plain-secret-0123456789" }}
redirect_uris = ["http://127.0.0.1:9/cb"]

[audit]
path = "audit.log"
"#
    )
}

struct World {
    dir: TempDir,
    sim_url: String,
    _sim: Proc,
    gw: Gateway,
    ping_port: u16,
    bo_key: openssl::ec::EcKey<openssl::pkey::Private>,
}

fn world(tag: &str, limits: &str) -> World {
    let dir = TempDir::new(tag);
    let (_, cc_jwk) = ec_site_key(&dir.path().join("cc-key.pem"), KID);
    std::fs::write(
        dir.path().join("cc-jwks.json"),
        serde_json::json!({ "keys": [cc_jwk] }).to_string(),
    )
    .unwrap();
    let (bo_key, bo_jwk) = ec_site_key(&dir.path().join("bo-key.pem"), BO_KID);
    std::fs::write(
        dir.path().join("bo-jwks.json"),
        serde_json::json!({ "keys": [bo_jwk] }).to_string(),
    )
    .unwrap();
    let (sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let ping_port = free_port();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: "http://127.0.0.1:9/cb".into(),
            extra: sites(ping_port),
            limits: format!("{SUITE_LIMITS}{limits}"),
            ..GatewayOpts::default()
        },
    );
    World {
        dir,
        sim_url,
        _sim: sim,
        gw,
        ping_port,
        bo_key,
    }
}

fn person(phone: &str, provider: &str) -> serde_json::Value {
    serde_json::json!({
        "name": HONG.name, "birthdate": HONG.birthdate,
        "phone_number": phone, "provider": provider,
    })
}

/// Runs the node call centre to its end; its JSON lines.
async fn call_centre(
    w: &World,
    client_id: &str,
    mode: &str,
    hint: &serde_json::Value,
    binding: &str,
) -> Vec<serde_json::Value> {
    let root = repo_root().join("tests/device");
    assert!(
        root.join("node_modules/openid-client").exists() && root.join("node_modules/jose").exists(),
        "openid-client and jose missing: ./deploy/test installs them (npm ci in tests/device)"
    );
    let hint_file = w.dir.path().join(format!("hint-{client_id}.json"));
    std::fs::write(&hint_file, hint.to_string()).unwrap();
    let mut cmd = Command::new("node");
    cmd.arg(root.join("ciba_flow.mjs"))
        .arg(&w.gw.url)
        .arg(client_id)
        .arg(mode)
        .arg(w.dir.path().join("cc-key.pem"))
        .arg(KID)
        .arg(&hint_file)
        .arg(binding)
        .arg(w.ping_port.to_string())
        .current_dir(&root);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("node"))
        .await
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn event<'a>(lines: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|l| l["event"] == name)
        .unwrap_or_else(|| panic!("no {name} event: {lines:?}"))
}

async fn bc_authorize(w: &World, form: &[(&str, &str)]) -> Page {
    Browser::new(None)
        .post(&format!("{}/bc-authorize", w.gw.url), form)
        .await
}

/// A back-office request with the secret and these parameters on top of a
/// valid unsigned hint for `phone` at Kakao with the code 4821.
async fn back_office(w: &World, phone: &str, extra: &[(&str, &str)]) -> Page {
    let hint = person(phone, "kakao").to_string();
    let mut form: Vec<(&str, &str)> = vec![
        ("client_id", "backoffice"),
        ("client_secret", BO_SECRET),
        ("scope", "openid profile"),
        ("login_hint", &hint),
        ("binding_message", "4821"),
    ];
    for (k, v) in extra {
        form.retain(|(fk, _)| fk != k);
        if !v.is_empty() {
            form.push((k, v));
        }
    }
    bc_authorize(w, &form).await
}

/// As [`back_office`], asked again while the site's earlier request to that
/// person is still being moved on (its rejection or approval not yet seen:
/// the provider is asked at most once a second per login, by whichever
/// request or background task comes first).
async fn back_office_settled(w: &World, phone: &str, extra: &[(&str, &str)]) -> Page {
    for _ in 0..20 {
        let r = back_office(w, phone, extra).await;
        if !r.body.contains("still waiting") {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("the earlier request to {phone} never ended");
}

async fn poll(w: &World, auth_req_id: &str) -> Page {
    Browser::new(None)
        .post(
            &format!("{}/token", w.gw.url),
            &[
                ("grant_type", "urn:openid:params:grant-type:ciba"),
                ("auth_req_id", auth_req_id),
                ("client_id", "backoffice"),
                ("client_secret", BO_SECRET),
            ],
        )
        .await
}

fn error_of(p: &Page) -> String {
    p.json()["error"].as_str().unwrap_or_default().to_owned()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn signed_hint(
    w: &World,
    key: &openssl::ec::EcKey<openssl::pkey::Private>,
    typ: &str,
    change: impl Fn(&mut serde_json::Value),
) -> String {
    let mut claims = person("010-3333-0001", "kakao");
    let t = now();
    claims["iss"] = "backoffice".into();
    claims["aud"] = w.gw.url.clone().into();
    claims["exp"] = (t + 120).into();
    claims["iat"] = t.into();
    claims["jti"] = format!("jti-{}", rand_suffix()).into();
    change(&mut claims);
    es256_jws(
        key,
        &serde_json::json!({"alg": "ES256", "kid": BO_KID, "typ": typ}),
        &claims,
    )
}

fn rand_suffix() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

fn audit(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("audit.log")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_centre_names_a_citizen_who_approves_in_the_app_and_polls_for_tokens() {
    let w = world("ciba-poll", "");
    let lines = call_centre(
        &w,
        "callcentre",
        "poll",
        &person(HONG.phone, "kakao"),
        "4821",
    )
    .await;
    let started = event(&lines, "started");
    assert_eq!(
        started["backchannel_authentication_endpoint"],
        format!("{}/bc-authorize", w.gw.url)
    );
    assert_eq!(
        started["backchannel_token_delivery_modes_supported"],
        serde_json::json!(["poll", "ping"])
    );
    assert!(started["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&"urn:openid:params:grant-type:ciba".into()));
    assert_eq!(started["interval"], 5);
    assert_eq!(started["expires_in"], 120);
    assert!(started["auth_req_id"].as_str().unwrap().len() >= 43);
    let tokens = event(&lines, "tokens");
    let claims = &tokens["claims"];
    assert_eq!(claims["aud"], "callcentre");
    assert_eq!(claims["iss"], w.gw.url);
    assert_eq!(claims["name"], HONG.name);
    assert_eq!(claims["acr"], "urn:munjigi:acr:substantial");
    assert!(claims["sub"].as_str().unwrap().len() > 20);
    assert!(claims["sid"].is_string() && claims["auth_time"].is_u64());
    assert!(claims.get("nonce").is_none());

    // The push carried the operator's code and what to do without it.
    let pushes = sim_pushes(&w.sim_url, HONG.phone);
    let title = pushes.last().unwrap()["title"].as_str().unwrap().to_owned();
    assert!(
        title.contains("확인 4821") && title.contains("안내받은 번호 아니면 거절"),
        "{title}"
    );
    assert!(title.chars().count() <= 40, "{title}");

    // The userinfo endpoint answers the access token like any login's.
    let info = Browser::new(None)
        .request_with(
            http::Method::GET,
            &format!("{}/userinfo", w.gw.url),
            None,
            &[(
                "authorization",
                &format!("Bearer {}", tokens["access_token"].as_str().unwrap()),
            )],
        )
        .await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(info.json()["sub"], claims["sub"]);

    // Audited with the client, before the push and after; nothing personal.
    let log = audit(w.dir.path());
    for needle in [
        "ciba.requested",
        "\"client\":\"callcentre\"",
        "\"hint\":\"signed\"",
        "ciba.ended",
        "redeemed",
        "\"front\":\"ciba\"",
    ] {
        assert!(
            log.contains(needle),
            "{needle} missing from the audit log: {log}"
        );
    }
    let logs = w.gw.proc.drain().join("\n");
    for personal in [
        HONG.name,
        HONG.phone,
        "01012345678",
        "+821012345678",
        HONG.birthdate,
    ] {
        assert!(
            !logs.contains(personal) && !log.contains(personal),
            "{personal} in the logs"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_ping_mode_the_gateway_tells_the_client_which_then_fetches_the_tokens() {
    let w = world("ciba-ping", "");
    let lines = call_centre(
        &w,
        "callcentre-ping",
        "ping",
        &person("010-4444-0001", "pass"),
        "AB-12",
    )
    .await;
    let started = event(&lines, "started");
    let ping = event(&lines, "ping");
    assert_eq!(ping["method"], "POST");
    assert_eq!(ping["path"], "/cb");
    assert_eq!(
        ping["authorization"],
        format!(
            "Bearer {}",
            started["client_notification_token"].as_str().unwrap()
        )
    );
    assert!(ping["content_type"]
        .as_str()
        .unwrap()
        .starts_with("application/json"));
    let body: serde_json::Value = serde_json::from_str(ping["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "auth_req_id": started["auth_req_id"] })
    );
    let tokens = event(&lines, "tokens");
    assert_eq!(tokens["claims"]["aud"], "callcentre-ping");
    assert_eq!(tokens["claims"]["provider"], "pass");
    let pushes = sim_pushes(&w.sim_url, "010-4444-0001");
    assert!(pushes.last().unwrap()["title"]
        .as_str()
        .unwrap()
        .contains("확인 AB-12"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_break_a_rule_are_refused_as_ciba_says_and_push_nothing() {
    let w = world("ciba-refusals", "ciba_misses_per_site = [\"2/10m\"]\n");
    let phone = "010-3333-0001";
    let hint = person(phone, "kakao").to_string();
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("client_secret", "wrong-secret-0123456789")],
            401,
            "invalid_client",
        ),
        (vec![("scope", "profile")], 400, "invalid_scope"),
        (vec![("login_hint", "")], 400, "invalid_request"),
        (vec![("login_hint_token", "a.b.c")], 400, "invalid_request"),
        (vec![("user_code", "1234")], 400, "invalid_request"),
        (vec![("request", "a.b.c")], 400, "invalid_request"),
        (vec![("id_token_hint", "a.b.c")], 400, "invalid_request"),
        (
            vec![(
                "login_hint",
                r#"{"name":"홍길동","birthdate":"1990-01-31","phone_number":"010-3333-0001","provider":"kakao","ci":"x"}"#,
            )],
            400,
            "invalid_request",
        ),
        (
            vec![(
                "login_hint",
                r#"{"name":"홍길동","birthdate":"1990-01-31","phone_number":"010-3333-0001","provider":"nope"}"#,
            )],
            400,
            "invalid_request",
        ),
        (vec![("binding_message", "")], 400, "invalid_request"),
        (
            vec![("binding_message", "승인")],
            400,
            "invalid_binding_message",
        ),
        (
            vec![("binding_message", "123456789")],
            400,
            "invalid_binding_message",
        ),
        (
            vec![("binding_message", "환급금 승인")],
            400,
            "invalid_binding_message",
        ),
        (vec![("requested_expiry", "301")], 400, "invalid_request"),
        (vec![("requested_expiry", "10")], 400, "invalid_request"),
        (vec![("requested_expiry", "1e2")], 400, "invalid_request"),
    ];
    for (extra, status, error) in &cases {
        let r = back_office(&w, phone, extra).await;
        assert_eq!(
            (r.status, error_of(&r).as_str()),
            (*status, *error),
            "{extra:?}: {}",
            r.body
        );
    }
    // Toss and Naver show no text of ours: a code they cannot show is refused.
    let toss = person(phone, "toss").to_string();
    let r = back_office(&w, phone, &[("login_hint", &toss)]).await;
    assert_eq!(error_of(&r), "invalid_binding_message", "{}", r.body);
    // A site not allowed CIBA, an unknown client.
    let r = bc_authorize(
        &w,
        &[
            ("client_id", "plain"),
            ("client_secret", "plain-secret-0123456789"),
            ("scope", "openid"),
            ("login_hint", &hint),
        ],
    )
    .await;
    assert_eq!(
        (r.status, error_of(&r).as_str()),
        (400, "unauthorized_client"),
        "{}",
        r.body
    );
    let r = bc_authorize(
        &w,
        &[
            ("client_id", "stranger"),
            ("client_secret", "x-secret-0123456789"),
            ("scope", "openid"),
            ("login_hint", &hint),
        ],
    )
    .await;
    assert_eq!(
        (r.status, error_of(&r).as_str()),
        (401, "invalid_client"),
        "{}",
        r.body
    );
    assert!(
        sim_pushes(&w.sim_url, phone).is_empty(),
        "a refused request pushed"
    );

    // Signed hints: another key, another typ, a sub, expired; a good one
    // works once.
    let stranger = openssl::ec::EcKey::generate(
        &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
    )
    .unwrap();
    let signed_cases = [
        (
            signed_hint(&w, &stranger, "login-hint+jwt", |_| {}),
            "invalid_request",
        ),
        (signed_hint(&w, &w.bo_key, "JWT", |_| {}), "invalid_request"),
        (
            signed_hint(&w, &w.bo_key, "login-hint+jwt", |c| {
                c["sub"] = "backoffice".into()
            }),
            "invalid_request",
        ),
        (
            signed_hint(&w, &w.bo_key, "login-hint+jwt", |c| {
                c["aud"] = "https://elsewhere.example".into()
            }),
            "invalid_request",
        ),
        (
            signed_hint(&w, &w.bo_key, "login-hint+jwt", |c| {
                c["exp"] = (now() - 100).into()
            }),
            "expired_login_hint_token",
        ),
    ];
    for (token, error) in &signed_cases {
        let r = back_office(
            &w,
            phone,
            &[("login_hint", ""), ("login_hint_token", token)],
        )
        .await;
        assert_eq!(error_of(&r), *error, "{}", r.body);
    }
    assert!(
        sim_pushes(&w.sim_url, phone).is_empty(),
        "a refused hint pushed"
    );
    let good = signed_hint(&w, &w.bo_key, "login-hint+jwt", |_| {});
    let r = back_office(
        &w,
        phone,
        &[("login_hint", ""), ("login_hint_token", &good)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // (Once the first is approved: while it waits, any request to that
    // person is refused as such.)
    let r = back_office_settled(
        &w,
        phone,
        &[("login_hint", ""), ("login_hint_token", &good)],
    )
    .await;
    assert_eq!(
        error_of(&r),
        "invalid_request",
        "a hint used twice: {}",
        r.body
    );
    assert_eq!(sim_pushes(&w.sim_url, phone).len(), 1);

    // A person the provider does not know; twice, then the site hears
    // nothing more about anyone (known or not) for the window.
    for _ in 0..2 {
        let r = back_office(&w, "010-0000-0006", &[]).await;
        assert_eq!(
            (r.status, error_of(&r).as_str()),
            (400, "unknown_user_id"),
            "{}",
            r.body
        );
    }
    for phone in ["010-0000-0006", "010-3333-0008"] {
        let r = back_office(&w, phone, &[]).await;
        assert_eq!(
            (r.status, error_of(&r).as_str()),
            (503, "temporarily_unavailable"),
            "{}",
            r.body
        );
    }
    assert!(sim_pushes(&w.sim_url, "010-3333-0008").is_empty());

    // Every authenticated request refused is audited with its client.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = audit(w.dir.path());
    for needle in [
        "ciba.refused",
        "\"client\":\"plain\"",
        "unauthorized_client",
        "invalid_binding_message",
        "expired_login_hint_token",
        "unknown_user_id",
    ] {
        assert!(
            log.contains(needle),
            "{needle} missing from the audit log: {log}"
        );
    }
    assert!(
        !log.contains("stranger"),
        "an unauthenticated client is not audited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_is_paced_the_tokens_come_once_and_a_replay_revokes_them() {
    let w = world("ciba-polling", "");
    // 010-0000-0002 never answers: polls are paced.
    let r = back_office(&w, "010-0000-0002", &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["auth_req_id"].as_str().unwrap().to_owned();
    assert_eq!(error_of(&poll(&w, &id).await), "authorization_pending");
    assert_eq!(error_of(&poll(&w, &id).await), "slow_down");
    // The interval is now 10 s, from the last poll.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(error_of(&poll(&w, &id).await), "slow_down");
    tokio::time::sleep(Duration::from_secs(16)).await;
    assert_eq!(error_of(&poll(&w, &id).await), "authorization_pending");

    // Another person approves; the tokens come on the first poll after.
    let r = back_office(&w, "010-3333-0002", &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["auth_req_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut tokens = poll(&w, &id).await;
    for _ in 0..5 {
        if tokens.status == 200 {
            break;
        }
        assert_eq!(
            error_of(&tokens),
            "authorization_pending",
            "{}",
            tokens.body
        );
        tokio::time::sleep(Duration::from_millis(5500)).await;
        tokens = poll(&w, &id).await;
    }
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let at = tokens.json()["access_token"].as_str().unwrap().to_owned();
    let userinfo = |at: String| {
        let url = format!("{}/userinfo", w.gw.url);
        async move {
            Browser::new(None)
                .request_with(
                    http::Method::GET,
                    &url,
                    None,
                    &[("authorization", &format!("Bearer {at}"))],
                )
                .await
                .status
        }
    };
    assert_eq!(userinfo(at.clone()).await, 200);
    let again = poll(&w, &id).await;
    assert_eq!(error_of(&again), "invalid_grant", "{}", again.body);
    assert_eq!(
        userinfo(at).await,
        401,
        "a replayed auth_req_id revokes its tokens"
    );
    // Another client cannot redeem it either (and it is gone anyway).
    let r = back_office(&w, "010-3333-0003", &[]).await;
    let id = r.json()["auth_req_id"].as_str().unwrap().to_owned();
    let other = Browser::new(None)
        .post(
            &format!("{}/token", w.gw.url),
            &[
                ("grant_type", "urn:openid:params:grant-type:ciba"),
                ("auth_req_id", &id),
                ("client_id", "plain"),
                ("client_secret", "plain-secret-0123456789"),
            ],
        )
        .await;
    assert_eq!(error_of(&other), "unauthorized_client", "{}", other.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_silences_the_site_for_that_person_expiry_ends_and_pushes_are_limited() {
    let w = world("ciba-reject", "ciba_pushes_per_person = [\"2/10m\"]\n");
    // 010-0000-0001 rejects in the app. The site does not poll: its next
    // request to that person is still refused (the rejection is seen).
    let r = back_office(&w, "010-0000-0001", &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["auth_req_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = back_office_settled(&w, "010-0000-0001", &[]).await;
    assert_eq!(
        (again.status, error_of(&again).as_str()),
        (403, "access_denied"),
        "{}",
        again.body
    );
    assert!(again.body.contains("rejected"), "{}", again.body);
    let denied = poll(&w, &id).await;
    assert_eq!(error_of(&denied), "access_denied", "{}", denied.body);
    assert!(denied.body.contains("rejected"), "{}", denied.body);
    assert_eq!(sim_pushes(&w.sim_url, "010-0000-0001").len(), 1);

    // 010-0000-0002 never answers: while the request waits, no second push
    // to that person from this site; the request ends at its expiry.
    let r = back_office(&w, "010-0000-0002", &[("requested_expiry", "30")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["expires_in"], 30);
    let id = r.json()["auth_req_id"].as_str().unwrap().to_owned();
    let second = back_office(&w, "010-0000-0002", &[]).await;
    assert_eq!(
        (second.status, error_of(&second).as_str()),
        (403, "access_denied"),
        "{}",
        second.body
    );
    assert!(second.body.contains("still waiting"), "{}", second.body);
    assert_eq!(sim_pushes(&w.sim_url, "010-0000-0002").len(), 1);

    // Two pushes to one person from this site (each approved before the
    // next), then no more.
    for _ in 0..2 {
        let r = back_office_settled(&w, "010-3333-0009", &[]).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let third = back_office_settled(&w, "010-3333-0009", &[]).await;
    assert_eq!(
        (third.status, error_of(&third).as_str()),
        (403, "access_denied"),
        "{}",
        third.body
    );
    assert!(
        third.body.contains("too many requests to this person"),
        "{}",
        third.body
    );
    assert_eq!(sim_pushes(&w.sim_url, "010-3333-0009").len(), 2);

    // Another person rejects a short request the site never polls: the
    // rejection is still seen, and still silences the site, after expiry.
    sim_set_scenario(&w.sim_url, "010-3333-0007", "reject");
    let r = back_office(&w, "010-3333-0007", &[("requested_expiry", "30")]).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Two requests at once to one person: one push.
    let (x, y) = tokio::join!(
        back_office(&w, "010-3333-0006", &[]),
        back_office(&w, "010-3333-0006", &[])
    );
    let mut statuses = [x.status, y.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 403], "{} / {}", x.body, y.body);
    assert_eq!(sim_pushes(&w.sim_url, "010-3333-0006").len(), 1);

    tokio::time::sleep(Duration::from_secs(31)).await;
    let expired = poll(&w, &id).await;
    assert_eq!(error_of(&expired), "expired_token", "{}", expired.body);
    let after = back_office_settled(&w, "010-3333-0007", &[]).await;
    assert_eq!(
        (after.status, error_of(&after).as_str()),
        (403, "access_denied"),
        "{}",
        after.body
    );
    assert!(after.body.contains("rejected"), "{}", after.body);
    assert_eq!(sim_pushes(&w.sim_url, "010-3333-0007").len(), 1);
}

/// Polls a demo status URL until it says done (the demo site polls `/token`
/// no faster than the gateway's interval).
async fn until_done(b: &mut Browser, status_url: &str) {
    for _ in 0..40 {
        let s = b.get(status_url).await;
        assert_eq!(s.status, 200, "{}", s.body);
        if s.json()["done"] == true {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{status_url} never said done");
}

fn between<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let from = body
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in {body}"))
        + start.len();
    let to = body[from..].find(end).unwrap() + from;
    &body[from..to]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_call_centre_confirms_a_caller_and_its_kiosk_welcomes_a_citizen() {
    let dir = TempDir::new("ciba-demo");
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            demo: true,
            site_redirect: "http://127.0.0.1:9/cb".into(),
            extra: "device_grant = true\nciba = true\nciba_unsigned_hints = true\n".into(),
            ..GatewayOpts::default()
        },
    );
    let mut b = Browser::new(None);
    let home = b.get(&format!("{}/demo", gw.url)).await;
    assert!(
        home.body.contains("/demo/callcentre") && home.body.contains("/demo/kiosk"),
        "{}",
        home.body
    );

    // The operator types the caller and sends the request.
    let form = b.get(&format!("{}/demo/callcentre", gw.url)).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form.input_value("csrf").unwrap();
    let forged = b
        .post(
            &format!("{}/demo/callcentre", gw.url),
            &[("csrf", "x"), ("name", HONG.name)],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let sent = b
        .post(
            &format!("{}/demo/callcentre", gw.url),
            &[
                ("csrf", &csrf),
                ("name", HONG.name),
                ("birthdate", HONG.birthdate),
                ("phone", HONG.phone),
                ("provider", "kakao"),
            ],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let wait = b.get(&format!("{}/demo/callcentre/wait", gw.url)).await;
    assert_eq!(wait.status, 200, "{}", wait.body);
    let code = between(
        &wait.body,
        "<strong class=\"mj-pushcode__value\">",
        "</strong>",
    )
    .to_owned();
    assert_eq!(code.len(), 4, "{code}");
    let title = sim_pushes(&sim_url, HONG.phone).last().unwrap()["title"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(title.contains(&format!("확인 {code}")), "{title} / {code}");
    until_done(&mut b, &format!("{}/demo/callcentre/status", gw.url)).await;
    let done = b.get(&format!("{}/demo/callcentre/wait", gw.url)).await;
    assert!(
        done.body.contains("mj-away-claims") && done.body.contains(HONG.name),
        "{}",
        done.body
    );
    assert!(
        done.body.contains("urn:munjigi:acr:substantial"),
        "{}",
        done.body
    );

    // A refused request is shown at the form with the gateway's error.
    let refused = b
        .post(
            &format!("{}/demo/callcentre", gw.url),
            &[
                ("csrf", &csrf),
                ("name", HONG.name),
                ("birthdate", "1990"),
                ("phone", HONG.phone),
                ("provider", "kakao"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("invalid_request"), "{}", refused.body);

    // The kiosk shows a code and its QR code; a citizen finishes on a phone.
    let (kiosk, _) = b.follow(&format!("{}/demo/kiosk", gw.url)).await;
    assert_eq!(kiosk.status, 200, "{}", kiosk.body);
    let user_code = between(&kiosk.body, "id=\"mj-user-code\">", "<").to_owned();
    assert_eq!(user_code.len(), 9, "{user_code}");
    assert!(
        kiosk.body.contains("/device/qr?user_code="),
        "{}",
        kiosk.body
    );
    let mut phone = Browser::new(None);
    let page = phone
        .get(&format!("{}/device?user_code={user_code}", gw.url))
        .await;
    let pcsrf = page.input_value("csrf").unwrap();
    let go = phone
        .post(
            &format!("{}/device", gw.url),
            &[
                ("csrf", &pcsrf),
                ("user_code", &user_code),
                ("action", "confirm"),
            ],
        )
        .await;
    assert_eq!(go.status, 303, "{}", go.body);
    let wait = pick_and_submit(&mut phone, &go.location.unwrap(), &HONG).await;
    let base = wait.trim_end_matches("/wait").to_owned();
    let done = wait_done(&mut phone, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    phone
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    until_done(&mut b, &format!("{}/demo/kiosk/status", gw.url)).await;
    let welcome = b.get(&format!("{}/demo/kiosk/wait", gw.url)).await;
    assert!(
        welcome
            .body
            .contains(&format!("환영합니다, {}님", HONG.name)),
        "{}",
        welcome.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_made_on_one_replica_is_redeemed_on_another_once() {
    let redis = start_redis();
    let dir = TempDir::new("ciba-replicas");
    let (_, bo_jwk) = ec_site_key(&dir.path().join("bo-key.pem"), BO_KID);
    std::fs::write(
        dir.path().join("bo-jwks.json"),
        serde_json::json!({ "keys": [bo_jwk] }).to_string(),
    )
    .unwrap();
    let (_, cc_jwk) = ec_site_key(&dir.path().join("cc-key.pem"), KID);
    std::fs::write(
        dir.path().join("cc-jwks.json"),
        serde_json::json!({ "keys": [cc_jwk] }).to_string(),
    )
    .unwrap();
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    // One audit file per replica is the rule: none here.
    let extra = sites(free_port()).replace("[audit]\npath = \"audit.log\"\n", "")
        + &format!(
            "\n[store]\nkind = \"redis\"\nurl = {{ value = \"redis://127.0.0.1:{}\" }}\n",
            redis.port
        );
    let a = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: "http://127.0.0.1:9/cb".into(),
            extra,
            ..GatewayOpts::default()
        },
    );
    let (_b, b_url) = start_replica(&a.config, "b");
    let hint = person("010-3333-0004", "kakao").to_string();
    let form = |id: String| {
        vec![
            (
                "grant_type".to_owned(),
                "urn:openid:params:grant-type:ciba".to_owned(),
            ),
            ("auth_req_id".to_owned(), id),
            ("client_id".to_owned(), "backoffice".to_owned()),
            ("client_secret".to_owned(), BO_SECRET.to_owned()),
        ]
    };
    let started = Browser::new(None)
        .post(
            &format!("{}/bc-authorize", a.url),
            &[
                ("client_id", "backoffice"),
                ("client_secret", BO_SECRET),
                ("scope", "openid"),
                ("login_hint", &hint),
                ("binding_message", "4821"),
            ],
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let id = started.json()["auth_req_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let f = form(id.clone());
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut tokens = Browser::new(None).post(&format!("{b_url}/token"), &f).await;
    for _ in 0..5 {
        if tokens.status == 200 {
            break;
        }
        assert_eq!(
            error_of(&tokens),
            "authorization_pending",
            "{}",
            tokens.body
        );
        tokio::time::sleep(Duration::from_millis(5500)).await;
        tokens = Browser::new(None).post(&format!("{b_url}/token"), &f).await;
    }
    assert_eq!(tokens.status, 200, "redeemed on B: {}", tokens.body);
    let again = Browser::new(None)
        .post(&format!("{}/token", a.url), &f)
        .await;
    assert_eq!(error_of(&again), "invalid_grant", "{}", again.body);
}
