//! The site's signing webhook end to end: a receiver registered in config as
//! the town site's `webhook_url` gets, when a signature request ends, a JWS
//! sealed by the gateway's key (verified against `/jwks`) that names the
//! request and its end — completed, failed `cancelled`, expired — and nothing
//! more; a 5xx answer is retried until a 2xx.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use munjigi_e2e::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One POST as the receiver saw it.
#[derive(Debug, Clone)]
struct Hit {
    method: String,
    path: String,
    content_type: String,
    body: String,
    at: Instant,
}

/// A tiny site endpoint on loopback: records every request, answers 500 to
/// the first `fail_first` ones and 204 after.
struct Receiver {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(fail_first: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let seen = hits.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let seen = seen.clone();
                let count = count.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: http::Request<hyper::body::Incoming>| {
                            let seen = seen.clone();
                            let count = count.clone();
                            async move {
                                let method = req.method().to_string();
                                let path = req.uri().path().to_owned();
                                let content_type = req
                                    .headers()
                                    .get("content-type")
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or_default()
                                    .to_owned();
                                let body = req.into_body().collect().await.unwrap().to_bytes();
                                seen.lock().unwrap().push(Hit {
                                    method,
                                    path,
                                    content_type,
                                    body: String::from_utf8(body.to_vec()).unwrap(),
                                    at: Instant::now(),
                                });
                                let n = count.fetch_add(1, Ordering::SeqCst);
                                let status = if n < fail_first { 500 } else { 204 };
                                Ok::<_, std::convert::Infallible>(
                                    http::Response::builder()
                                        .status(status)
                                        .body(Full::new(Bytes::new()))
                                        .unwrap(),
                                )
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Self {
            url: format!("http://127.0.0.1:{port}/hooks/munjigi"),
            hits,
            task,
        }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived (or fails after `within`).
    async fn wait_for(&self, n: usize, within: Duration) -> Vec<Hit> {
        let deadline = Instant::now() + within;
        loop {
            let hits = self.hits();
            if hits.len() >= n {
                return hits;
            }
            assert!(
                Instant::now() < deadline,
                "{n} webhook request(s) expected, got {hits:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

struct World {
    _dir: TempDir,
    _sim: Proc,
    gw: Gateway,
    redirect: String,
    hook: Receiver,
}

async fn world(tag: &str, fail_first: usize) -> World {
    let hook = Receiver::start(fail_first).await;
    let dir = TempDir::new(tag);
    let (sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let redirect = "http://127.0.0.1:9/signed".to_owned();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect.clone(),
            extra: format!(
                "\n[sites.town.signing]\nwebhook_url = \"{}\"\n\
                 \n[signing]\naudit_log = \"audit.log\"\n",
                hook.url
            ),
            ..GatewayOpts::default()
        },
    );
    World {
        _dir: dir,
        _sim: sim,
        gw,
        redirect,
        hook,
    }
}

/// The site's side: JSON over HTTP with Basic client authentication.
async fn api(method: &str, url: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    site_api(
        method,
        url,
        &basic_auth("town", CLIENT_SECRET),
        body.as_ref(),
    )
    .await
}

/// Creates a one-document request; returns (id, url).
async fn ask(w: &World, extra: serde_json::Value) -> (String, String) {
    let mut body = serde_json::json!({
        "title": "전입 신고",
        "documents": [{"title": "전입신고서",
                       "content": base64::engine::general_purpose::STANDARD.encode("전입신고서: 홍길동"),
                       "media_type": "text/plain"}],
        "redirect_uri": w.redirect,
        "state": "st-1",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, j) = api(
        "POST",
        &format!("{}/api/v1/signatures", w.gw.url),
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{j}");
    (
        j["id"].as_str().unwrap().to_owned(),
        j["url"].as_str().unwrap().to_owned(),
    )
}

async fn status_of(w: &World, id: &str) -> serde_json::Value {
    let (status, j) = api("GET", &format!("{}/api/v1/signatures/{id}", w.gw.url), None).await;
    assert_eq!(status, 200, "{j}");
    j
}

async fn jwks(w: &World) -> serde_json::Value {
    let mut b = Browser::new(None);
    b.get(&format!("{}/jwks", w.gw.url)).await.json()
}

/// Checks what the site must check (a POST of `application/jose` whose JWS
/// verifies against `/jwks`, typed as a notification, for this site) and
/// returns the claims.
async fn verified(w: &World, hit: &Hit) -> serde_json::Value {
    assert_eq!(hit.method, "POST");
    assert_eq!(hit.path, "/hooks/munjigi");
    assert_eq!(hit.content_type, "application/jose");
    let (header, _, _, _) = jwt_parts(&hit.body);
    assert_eq!(header["typ"], "munjigi-notification+jwt", "{header}");
    let claims = verify_es256(&hit.body, &jwks(w).await);
    assert_eq!(claims["iss"], w.gw.url.as_str(), "{claims}");
    assert_eq!(claims["aud"], "town", "{claims}");
    assert!(claims["iat"].as_u64().is_some(), "{claims}");
    assert!(
        claims["jti"].as_str().is_some_and(|j| j.len() >= 16),
        "{claims}"
    );
    // The end only: no receipt, no signer, nothing personal.
    let mut keys: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    for k in &keys {
        assert!(
            ["aud", "failure", "iat", "id", "iss", "jti", "status"].contains(k),
            "unexpected claim {k}: {claims}"
        );
    }
    assert!(!hit.body.is_empty());
    claims
}

/// The citizen signs with Kakao and comes back to the site.
async fn sign(b: &mut Browser, url: &str) -> String {
    let (chooser, chooser_url) = b.follow(url).await;
    assert_eq!(chooser.status, 200, "{}", chooser.body);
    let wait = pick_provider_and_submit(b, &chooser_url, "kakao", &HONG).await;
    let base = wait.trim_end_matches("/wait").to_owned();
    let done = wait_done(b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let back = b
        .get(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
    back.location.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_request_is_notified_with_a_verifiable_jws() {
    let w = world("hook-done", 0).await;
    let (id, url) = ask(&w, serde_json::json!({})).await;
    assert!(w.hook.hits().is_empty(), "nothing while pending");
    assert_eq!(status_of(&w, &id).await["status"], "pending");
    assert!(
        w.hook.hits().is_empty(),
        "a read of a pending request is no end"
    );

    let mut b = Browser::new(None);
    let back = sign(&mut b, &url).await;
    assert!(back.contains(&format!("id={id}")), "{back}");
    let hits = w.hook.wait_for(1, Duration::from_secs(10)).await;
    let claims = verified(&w, &hits[0]).await;
    assert_eq!(claims["id"], id.as_str(), "{claims}");
    assert_eq!(claims["status"], "completed", "{claims}");
    assert!(claims.get("failure").is_none(), "{claims}");
    // The site then fetches the receipt with the API.
    let j = status_of(&w, &id).await;
    assert_eq!(j["status"], "completed", "{j}");
    assert!(j["receipt"].as_str().is_some(), "{j}");

    // Delivered once (a 2xx ends it), and reads afterwards notify nothing.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(w.hook.hits().len(), 1, "{:?}", w.hook.hits());
    let logs = w.gw.proc.drain().join("\n");
    assert!(
        logs.contains("notification delivered") && logs.contains("webhook"),
        "{logs}"
    );
    assert!(!logs.contains(CLIENT_SECRET), "no secrets in the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_request_is_notified_as_failed_cancelled() {
    let w = world("hook-cancel", 0).await;
    let (id, url) = ask(&w, serde_json::json!({})).await;
    let mut b = Browser::new(None);
    let (_, chooser_url) = b.follow(&url).await;
    let abort = b
        .get(&format!("{}/abort", chooser_url.split('?').next().unwrap()))
        .await;
    assert_eq!(abort.status, 303);
    let hits = w.hook.wait_for(1, Duration::from_secs(10)).await;
    let claims = verified(&w, &hits[0]).await;
    assert_eq!(claims["id"], id.as_str(), "{claims}");
    assert_eq!(claims["status"], "failed", "{claims}");
    assert_eq!(claims["failure"], "cancelled", "{claims}");
    assert_eq!(status_of(&w, &id).await["failure"], "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_answer_is_retried_until_a_2xx() {
    let w = world("hook-retry", 1).await;
    let (id, url) = ask(&w, serde_json::json!({})).await;
    let mut b = Browser::new(None);
    let (_, chooser_url) = b.follow(&url).await;
    let abort = b
        .get(&format!("{}/abort", chooser_url.split('?').next().unwrap()))
        .await;
    assert_eq!(abort.status, 303);
    let hits = w.hook.wait_for(2, Duration::from_secs(10)).await;
    // The same notification (same jti) again, after the first backoff.
    assert_eq!(hits[0].body, hits[1].body);
    assert!(
        hits[1].at.duration_since(hits[0].at) >= Duration::from_millis(900),
        "backoff before the retry"
    );
    let claims = verified(&w, &hits[1]).await;
    assert_eq!(claims["id"], id.as_str(), "{claims}");
    assert_eq!(claims["failure"], "cancelled", "{claims}");
    // Delivered by the 2xx: no third attempt.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(w.hook.hits().len(), 2, "{:?}", w.hook.hits());
    let logs = w.gw.proc.drain().join("\n");
    assert!(logs.contains("will retry"), "{logs}");
    assert!(
        logs.contains("notification delivered") && logs.contains("webhook"),
        "{logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_request_is_notified_when_the_gateway_notices() {
    let w = world("hook-expired", 0).await;
    let (id, _) = ask(&w, serde_json::json!({"expires_in": 10})).await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    // Expiry is noticed lazily: here, by the site's read.
    let j = status_of(&w, &id).await;
    assert_eq!(j["status"], "expired", "{j}");
    let hits = w.hook.wait_for(1, Duration::from_secs(10)).await;
    let claims = verified(&w, &hits[0]).await;
    assert_eq!(claims["id"], id.as_str(), "{claims}");
    assert_eq!(claims["status"], "expired", "{claims}");
    assert_eq!(claims["failure"], "expired", "{claims}");
    // Once: a second read finds it ended already.
    assert_eq!(status_of(&w, &id).await["status"], "expired");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(w.hook.hits().len(), 1, "{:?}", w.hook.hits());
}
