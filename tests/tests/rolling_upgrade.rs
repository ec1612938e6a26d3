//! A rolling upgrade keeps pending logins, in both directions: this version
//! writes logins in stored format 1, field for field as the previous version
//! wrote (and reads) them, and it also reads format 2, the one the next
//! release will write. So a login moves between replicas of the previous,
//! this and the next version, on a shared, real Redis, and ends as it would
//! have: a code the site redeems, a receipt for a signature.
//!
//! The format-2 record is made by rewriting the record this binary stored
//! into the shape the next version writes (`gateway/src/login/front.rs`),
//! while the citizen waits for the push.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use munjigi_e2e::*;
use serde_json::{json, Map, Value};

fn txn_key(login_base: &str) -> String {
    let id = &login_base[login_base.find("/login/").unwrap() + 7..];
    format!("mj:{{{id}}}:txn")
}

/// The fields of the previous version's login record and of its request.
const FORMAT_1: [&str; 13] = [
    "id",
    "rev",
    "created_at",
    "expires_at",
    "browser",
    "csrf",
    "request",
    "policy",
    "state",
    "attempt",
    "attempts",
    "failure",
    "outcome",
];
const FORMAT_1_REQUEST: [&str; 10] = [
    "client_id",
    "site_id",
    "redirect_uri",
    "state",
    "nonce",
    "code_challenge",
    "scope",
    "required_level",
    "max_age",
    "login_hint",
];

/// Asserts `record` is in format 1: what the previous version reads.
fn assert_format_1(record: &Value) {
    let obj = record.as_object().unwrap();
    for f in FORMAT_1 {
        assert!(obj.contains_key(f), "format 1 has `{f}`: {record}");
    }
    for k in obj.keys() {
        assert!(
            FORMAT_1.contains(&k.as_str()) || k == "signing",
            "not in format 1: `{k}`"
        );
    }
    let request = obj["request"].as_object().unwrap();
    for f in FORMAT_1_REQUEST {
        assert!(
            request.contains_key(f),
            "format 1's request has `{f}`: {record}"
        );
    }
    for k in request.keys() {
        assert!(
            FORMAT_1_REQUEST.contains(&k.as_str()) || k == "saml" || k == "proxy",
            "not in format 1's request: `{k}`"
        );
    }
}

/// The record as the next release stores it (format 2): the front a type,
/// one front-neutral request.
fn as_format_2(old: &Value) -> Value {
    let mut obj = old.as_object().unwrap().clone();
    let request = obj.remove("request").unwrap();
    let r = request.as_object().unwrap();
    let front = if let Some(mut spec) = obj.remove("signing") {
        spec["client_id"] = r["client_id"].clone();
        json!({ "signing": spec })
    } else if let Some(saml) = r.get("saml") {
        json!({ "saml": saml })
    } else if let Some(proxy) = r.get("proxy") {
        json!({ "proxy": proxy })
    } else {
        let mut o = Map::new();
        for f in [
            "client_id",
            "redirect_uri",
            "state",
            "nonce",
            "code_challenge",
        ] {
            o.insert(f.into(), r[f].clone());
        }
        json!({ "oidc": o })
    };
    let mut neutral = Map::new();
    for f in [
        "site_id",
        "scope",
        "required_level",
        "max_age",
        "login_hint",
    ] {
        neutral.insert(f.into(), r[f].clone());
    }
    obj.insert("v".into(), json!(2));
    obj.insert("front".into(), front);
    obj.insert("request".into(), Value::Object(neutral));
    Value::Object(obj)
}

fn stored(port: u16, login_base: &str) -> Value {
    serde_json::from_str(&redis_cli(port, &["GET", &txn_key(login_base)])).unwrap()
}

/// Checks the record is in format 1, then rewrites it in place (same TTL)
/// as the next release would have written it.
fn as_if_the_next_release_wrote_it(port: u16, login_base: &str) {
    let current = stored(port, login_base);
    assert_format_1(&current);
    let next = as_format_2(&current).to_string();
    assert_eq!(
        redis_cli(port, &["SET", &txn_key(login_base), &next, "KEEPTTL"]),
        "OK"
    );
    assert_eq!(stored(port, login_base)["v"], 2);
}

fn gateway_on_redis(dir: &TempDir, sim_url: &str, port: u16, redirect: String) -> Gateway {
    start_gateway(
        dir.path(),
        sim_url,
        &GatewayOpts {
            site_redirect: redirect,
            extra: format!(
                "\n[store]\nkind = \"redis\"\nurl = {{ value = \"redis://127.0.0.1:{port}\" }}\n\n\
                 [signing]\naudit_log = \"audit.log\"\n"
            ),
            ..GatewayOpts::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_oidc_login_moves_between_versions_and_ends_with_a_code() {
    let dir = TempDir::new("upgrade-oidc");
    let redis = start_redis();
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let (site_port, redirect) = site_port_and_redirect();
    let gw = gateway_on_redis(&dir, &sim_url, redis.port, redirect);
    let site = start_site(site_port, &gw.url, "client_secret_basic", None);

    let mut b = Browser::new(None);
    let (chooser, chooser_url) = b.follow(&format!("{}/login", site.url)).await;
    assert_eq!(chooser.status, 200, "{}", chooser.body);
    let wait = pick_provider_and_submit(&mut b, &chooser_url, "kakao", &HONG).await;
    let base = wait.trim_end_matches("/wait").to_owned();
    // The push is out; a replica of the next release touched the login.
    as_if_the_next_release_wrote_it(redis.port, &base);

    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    // This version wrote it back in format 1, which the previous one reads.
    let now = stored(redis.port, &base);
    assert_format_1(&now);
    assert!(now["request"]["redirect_uri"].is_string(), "{now}");

    let (page, _) = b
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, 200, "site callback: {}", page.body);
    let j = page.json();
    assert_eq!(j["id_token_claims"]["name"], "홍길동", "{j}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_signature_moves_between_versions_and_ends_with_a_receipt() {
    let dir = TempDir::new("upgrade-sign");
    let redis = start_redis();
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let redirect = "http://127.0.0.1:9/signed".to_owned();
    let gw = gateway_on_redis(&dir, &sim_url, redis.port, redirect.clone());
    let auth = basic_auth("town", CLIENT_SECRET);
    let (status, j) = site_api(
        "POST",
        &format!("{}/api/v1/signatures", gw.url),
        &auth,
        Some(&json!({
            "title": "전입 신고",
            "documents": [{"title": "a", "media_type": "text/plain",
                           "content": base64::engine::general_purpose::STANDARD.encode(b"upgrade")}],
            "redirect_uri": redirect, "state": "st-9",
        })),
    )
    .await;
    assert_eq!(status, 201, "{j}");
    let id = j["id"].as_str().unwrap().to_owned();
    let mut b = Browser::new(None);
    let (chooser, chooser_url) = b.follow(j["url"].as_str().unwrap()).await;
    assert_eq!(chooser.status, 200, "{}", chooser.body);
    let wait = pick_provider_and_submit(&mut b, &chooser_url, "kakao", &HONG).await;
    let base = wait.trim_end_matches("/wait").to_owned();
    as_if_the_next_release_wrote_it(redis.port, &base);

    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let back = b
        .get(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert_eq!(
        back.location.as_deref(),
        Some(format!("{redirect}?id={id}&state=st-9").as_str())
    );
    let (status, j) = site_api(
        "GET",
        &format!("{}/api/v1/signatures/{id}", gw.url),
        &auth,
        None,
    )
    .await;
    assert_eq!(status, 200, "{j}");
    assert_eq!(j["status"], "completed", "{j}");
    assert!(
        j["receipt"]
            .as_str()
            .is_some_and(|r| r.split('.').count() == 3),
        "{j}"
    );
}
