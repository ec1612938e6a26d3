//! A rolling upgrade keeps pending logins: a login whose record a replica of
//! the previous version wrote (stored format 1, before the front of a login
//! was a type) is continued by this binary from a shared, real Redis, and
//! ends as it would have: a code the site redeems, a receipt for a signature.
//!
//! The format-1 record is made by rewriting the record this binary stored
//! into the shape the previous version wrote (its field names and nesting,
//! from that version's `txn.rs`), while the citizen waits for the push.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use munjigi_e2e::*;
use serde_json::{json, Value};

fn txn_key(login_base: &str) -> String {
    let id = &login_base[login_base.find("/login/").unwrap() + 7..];
    format!("mj:{{{id}}}:txn")
}

/// The record as the previous version stored it: the front's fields on an
/// OIDC-shaped `request`, a signature's spec in its own `signing` field, no
/// format number.
fn as_format_1(current: &Value) -> Value {
    let mut old = current.clone();
    let obj = old.as_object_mut().unwrap();
    assert_eq!(
        obj.remove("v"),
        Some(json!(2)),
        "stored in format 2: {current}"
    );
    let front = obj.remove("front").unwrap();
    let mut request = obj.remove("request").unwrap();
    for f in ["max_age", "login_hint"] {
        request
            .as_object_mut()
            .unwrap()
            .entry(f)
            .or_insert(Value::Null);
    }
    let (kind, end) = front.as_object().unwrap().iter().next().unwrap();
    let r = request.as_object_mut().unwrap();
    match kind.as_str() {
        "oidc" => {
            for f in [
                "client_id",
                "redirect_uri",
                "state",
                "nonce",
                "code_challenge",
            ] {
                r.insert(f.into(), end.get(f).cloned().unwrap_or(Value::Null));
            }
        }
        "signing" => {
            r.insert("client_id".into(), end["client_id"].clone());
            r.insert("redirect_uri".into(), json!("https://site.example/signed"));
            for f in ["state", "nonce", "code_challenge"] {
                r.insert(f.into(), Value::Null);
            }
            let mut spec = end.clone();
            spec.as_object_mut().unwrap().remove("client_id");
            obj.insert("signing".into(), spec);
        }
        other => panic!("front {other} not written by this test"),
    }
    obj.insert("request".into(), request);
    old
}

/// Rewrites the login's record in place (same TTL) as format 1.
fn downgrade(port: u16, login_base: &str) {
    let key = txn_key(login_base);
    let current: Value = serde_json::from_str(&redis_cli(port, &["GET", &key])).unwrap();
    let old = as_format_1(&current).to_string();
    assert_eq!(redis_cli(port, &["SET", &key, &old, "KEEPTTL"]), "OK");
    let stored: Value = serde_json::from_str(&redis_cli(port, &["GET", &key])).unwrap();
    assert!(stored.get("front").is_none() && stored.get("v").is_none());
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
async fn a_pending_oidc_login_stored_by_the_previous_version_ends_with_a_code() {
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
    // The push is out; the replica that served it is replaced by this version.
    downgrade(redis.port, &base);

    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    // This version wrote it back in its own format on the way.
    let key = txn_key(&base);
    let now: Value = serde_json::from_str(&redis_cli(redis.port, &["GET", &key])).unwrap();
    assert_eq!(now["v"], 2, "{now}");
    assert!(now["front"]["oidc"]["redirect_uri"].is_string(), "{now}");

    let (page, _) = b
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, 200, "site callback: {}", page.body);
    let j = page.json();
    assert_eq!(j["id_token_claims"]["name"], "홍길동", "{j}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_signature_stored_by_the_previous_version_ends_with_a_receipt() {
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
    downgrade(redis.port, &base);

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
