//! The admin listener (`[admin] listen`): what only the operator and their
//! monitoring reach, on an address of its own, never the public port.
//!
//! Kept apart from the gateway's endpoints on purpose: what it shows
//! (provider failure rates, site traffic) helps an attacker plan, so it is
//! not behind a path a public proxy might forward, and a flood on the public
//! port does not starve the scrape that would show the flood. It answers
//! small: `GET /metrics` (Prometheus), `GET /admin/providers` (each
//! provider's circuit, override and last failure class, as JSON, for an
//! operator's curl) and one write, `POST /admin/signer-changes` (an
//! operator confirms a person's new signer certificate, `crate::signers`).
//! That write needs `[admin] token` as a bearer token (compared in constant
//! time; without a token configured the listener is read-only): whatever
//! else can reach the port (monitoring, other pods, a page in an operator's
//! browser after a DNS rebinding) can read metrics but change nothing. It
//! takes only a small JSON body.

use crate::circuit::{Force, Offer, Phase};
use crate::config::Config;
use crate::metrics::CircuitState;
use crate::reload::Live;
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::Full;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Binds `[admin] listen`, if configured: before the gateway goes live, so
/// a port already taken stops the start instead of leaving it unwatched.
pub async fn bind(config: &Config) -> Result<Option<TcpListener>, String> {
    let Some(at) = config.admin_listen else {
        return Ok(None);
    };
    TcpListener::bind(at)
        .await
        .map(Some)
        .map_err(|e| format!("cannot listen on {at} (admin.listen): {e}"))
}

/// Serves the admin endpoints on `listener` in the background, for as long
/// as the process runs, and says where.
pub fn spawn(live: Arc<Live>, listener: TcpListener) -> Result<(), String> {
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("munjigi admin listening on http://{addr}");
    tokio::spawn(serve(live, listener));
    Ok(())
}

/// A scraper or two and an operator's curl: more connections than this at
/// once are closed, so the admin port cannot hold the process's descriptors.
const MAX_CONNECTIONS: usize = 16;

/// The longest a connection may take, request and answer.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(30);

async fn serve(live: Arc<Live>, listener: TcpListener) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "admin listener: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Not a warning per connection: a flood of them would flood the log.
            tracing::debug!(
                max = MAX_CONNECTIONS,
                "admin listener: connection refused, too many open"
            );
            drop(stream);
            continue;
        };
        let live = live.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let svc = hyper::service::service_fn(move |req| {
                let live = live.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(&live, req).await) }
            });
            // One request per connection, and the whole of it within a
            // deadline: a client that asks and never reads cannot keep a slot.
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .keep_alive(false)
                .max_buf_size(16 * 1024)
                .serve_connection(TokioIo::new(stream), svc);
            match tokio::time::timeout(CONNECTION_DEADLINE, conn).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, "admin connection ended with an error"),
                Err(_) => tracing::debug!("admin connection closed at its deadline"),
            }
        });
    }
}

async fn answer(
    live: &Live,
    req: http::Request<hyper::body::Incoming>,
) -> http::Response<Full<Bytes>> {
    let text = |status: StatusCode, content_type: &str, body: String| {
        let mut resp = http::Response::new(Full::new(Bytes::from(body)));
        *resp.status_mut() = status;
        if let Ok(v) = http::HeaderValue::from_str(content_type) {
            resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
        }
        resp.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        resp
    };
    let plain = "text/plain; charset=utf-8";
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => match metrics(&live.app()).await {
            Ok(body) => text(StatusCode::OK, crate::metrics::CONTENT_TYPE, body),
            Err(_) => {
                tracing::error!(code = "MJ-I02", "metrics could not be rendered");
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    plain,
                    "metrics could not be rendered\n".into(),
                )
            }
        },
        (&Method::GET, "/admin/providers") => {
            let body = providers(&live.app());
            text(StatusCode::OK, "application/json", body)
        }
        (_, "/metrics" | "/admin/providers") => {
            text(StatusCode::METHOD_NOT_ALLOWED, plain, "GET only\n".into())
        }
        (&Method::POST, "/admin/signer-changes") => {
            let (status, body) = signer_change(&live.app(), req).await;
            let mut body = body.to_string();
            body.push('\n');
            text(status, "application/json", body)
        }
        (_, "/admin/signer-changes") => {
            text(StatusCode::METHOD_NOT_ALLOWED, plain, "POST only\n".into())
        }
        _ => text(
            StatusCode::NOT_FOUND,
            plain,
            "not found; the admin listener serves /metrics, /admin/providers and /admin/signer-changes\n".into(),
        ),
    }
}

/// The largest body `POST /admin/signer-changes` reads.
const MAX_ADMIN_BODY: usize = 4 * 1024;

/// What an operator confirms: the refused login's reference (on the
/// citizen's page), and the account it is for: the site and the person's
/// `sub` there (from the site's help desk).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignerChangeRequest {
    txn: String,
    site: String,
    sub: String,
}

/// `POST /admin/signer-changes`: confirms a refused new signer certificate.
async fn signer_change(
    app: &crate::app::App,
    req: http::Request<hyper::body::Incoming>,
) -> (StatusCode, serde_json::Value) {
    use http_body_util::BodyExt as _;
    let refuse = |status: StatusCode, why: &str| (status, serde_json::json!({ "error": why }));
    let Some(token) = app.config.admin_token.as_ref() else {
        return refuse(
            StatusCode::FORBIDDEN,
            "this admin listener is read-only: configure [admin] token",
        );
    };
    let authorized = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| crate::web::authorization::credentials(v, "Bearer"))
        .is_some_and(|given| token.matches(given.as_bytes()));
    if !authorized {
        tracing::warn!("admin: a write without the admin token was refused");
        return refuse(
            StatusCode::UNAUTHORIZED,
            "Authorization: Bearer <admin token> required",
        );
    }
    let json = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send Content-Type: application/json",
        );
    }
    let body = match http_body_util::Limited::new(req.into_body(), MAX_ADMIN_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body too large or unreadable",
            )
        }
    };
    let Ok(ask) = serde_json::from_slice::<SignerChangeRequest>(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "expected {\"txn\": …, \"site\": …, \"sub\": …}",
        );
    };
    if !app.config.sites.contains_key(&ask.site) {
        return refuse(StatusCode::NOT_FOUND, "no such site");
    }
    let id_like = |v: &str, max: usize| {
        !v.is_empty()
            && v.len() <= max
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if ask.sub.len() != 43 || !id_like(&ask.sub, 43) {
        return refuse(StatusCode::BAD_REQUEST, "sub is not a pairwise subject");
    }
    if !id_like(&ask.txn, 64) {
        return refuse(StatusCode::BAD_REQUEST, "txn is not a login reference");
    }
    match crate::signers::confirm(app, &ask.txn, &ask.site, &ask.sub).await {
        Ok(crate::signers::Confirmed::Done) => {
            (StatusCode::OK, serde_json::json!({ "confirmed": true }))
        }
        Ok(crate::signers::Confirmed::NothingPending) => refuse(
            StatusCode::NOT_FOUND,
            "no refused certificate waits under that reference for that site and sub (at most a week)",
        ),
        Ok(crate::signers::Confirmed::Superseded) => refuse(
            StatusCode::CONFLICT,
            "the remembered certificate changed since that refusal: ask the person to log in again",
        ),
        Err(e) => {
            tracing::error!(error = %e, "admin: a signer change could not be confirmed");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store did not answer; try again",
            )
        }
    }
}

/// How long the scrape waits for the store's count of pending logins; past
/// it, the gauge keeps its last value (the store's own errors are counted).
const PENDING_DEADLINE: Duration = Duration::from_secs(2);

/// The exposition, with what is read at scrape time: each provider's circuit
/// state, the store-wide count of pending logins, the signing keys' ages.
async fn metrics(app: &crate::app::App) -> Result<String, std::fmt::Error> {
    let wall = std::time::SystemTime::now();
    let unix = wall
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let counted = tokio::time::timeout(
        PENDING_DEADLINE,
        app.store.tracked(crate::login::flow::PENDING_SET, unix),
    )
    .await;
    if let Ok(Ok(n)) = counted {
        app.runtime.metrics.set_pending(n);
    }
    crate::saml::remote_metadata::report_ages(app);
    for (key, at) in app.keys.written() {
        let age = wall.duration_since(*at).unwrap_or_default();
        app.runtime.metrics.key_age(key, age);
    }
    let now = std::time::Instant::now();
    for p in &app.config.providers {
        let id = p.id.as_str();
        let (t, health) = app.config.health.of(id);
        let state = match (
            health.and_then(|h| h.force),
            app.runtime.circuits.phase(id, t, now),
        ) {
            (Some(Force::Off), _) => CircuitState::ForcedOff,
            (_, Phase::Closed) => CircuitState::Closed,
            (_, Phase::HalfOpen) => CircuitState::HalfOpen,
            (_, Phase::Open) => CircuitState::Open,
        };
        app.runtime.metrics.circuit(&p.id, state);
    }
    app.runtime.metrics.render()
}

/// `GET /admin/providers`: each provider's circuit, the operator's override
/// and what the chooser offers, as JSON (ids, counts and error classes only).
fn providers(app: &crate::app::App) -> String {
    let now = std::time::Instant::now();
    let list: Vec<serde_json::Value> = app
        .config
        .providers
        .iter()
        .map(|p| {
            let id = p.id.as_str();
            let (t, health) = app.config.health.of(id);
            let force = health.and_then(|h| h.force);
            let snap = app.runtime.circuits.snapshot(id, t, now);
            let offered = match app.runtime.circuits.offer(id, t, force, now) {
                Offer::Available => "available",
                Offer::Failing => "failing",
                Offer::Disabled => "disabled",
            };
            serde_json::json!({
                "id": id,
                "name_ko": p.name_ko,
                "name_en": p.name_en,
                "offered": offered,
                "circuit": snap.phase,
                "forced": force.map(|f| match f { Force::Off => "off", Force::On => "on" }),
                "reason_ko": health.map(|h| h.reason_ko.as_str()).filter(|r| !r.is_empty()),
                "reason_en": health.map(|h| h.reason_en.as_str()).filter(|r| !r.is_empty()),
                "window_secs": t.window.as_secs(),
                "calls_in_window": snap.calls_in_window,
                "failures_in_window": snap.failures_in_window,
                "calls_total": snap.calls_total,
                "failures_total": snap.failures_total,
                "times_opened": snap.times_opened,
                "last_failure": snap.last_failure,
                "last_failure_secs_ago": snap.last_failure_secs_ago,
            })
        })
        .collect();
    let mut body = serde_json::json!({ "providers": list }).to_string();
    body.push('\n');
    body
}
