//! OpenID Connect Back-Channel Logout 1.0: a signed logout token POSTed to
//! each client's `backchannel_logout_uri` by the gateway itself.
//!
//! The token is a JWT signed like the client's ID tokens (its
//! `id_token_alg`, verifiable at `/jwks`), `typ` `logout+jwt` (§2.4, so it
//! cannot pass for an ID token), with `iss`, `aud` (the client), `iat`,
//! `exp` (two minutes), `jti`, the `sub` that client was given (pairwise),
//! the session's `sid` (as in its ID tokens) and the `events` member; never
//! a `nonce` (§2.4). Sent as `logout_token` in a form body (§2.5).
//!
//! All clients are told at once and the browser waits for them (one
//! [`crate::outbound::TIMEOUT`] at most), so the final page can say which did
//! not confirm. 200 and 204 are a confirmation (§2.8 lets frameworks answer
//! 204); anything else, a network error or the deadline is not. There is
//! one attempt: a client that missed it still has its tokens revoked, and
//! the citizen is told that site may still hold a session.

use super::{Channel, Told};
use crate::app::App;
use crate::config::model::IdTokenAlg;
use serde::Serialize;

/// The event that makes a JWT a logout token (§2.4).
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The JWS `typ` of a logout token.
pub const TYP: &str = "logout+jwt";
/// How long a logout token is good for.
const LIFETIME_SECS: u64 = 120;

/// One client to tell.
pub(super) struct Job {
    pub site: String,
    pub client_id: String,
    pub alg: IdTokenAlg,
    pub url: String,
    pub sub: String,
}

#[derive(Serialize)]
struct LogoutToken<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
    sub: &'a str,
    sid: &'a str,
    events: serde_json::Value,
}

/// Tells every client in `jobs` that session `sid` ended; one [`Told`] each.
pub(super) async fn tell_all(app: &App, sid: &str, jobs: Vec<Job>) -> Vec<Told> {
    if jobs.is_empty() {
        return Vec::new();
    }
    let now = app.clock.now();
    let mut told = Vec::new();
    // Detached tasks, awaited: a browser that goes away does not cancel a
    // site's notice half-sent.
    let mut handles = Vec::new();
    for job in jobs {
        let token = crate::random::token(16)
            .map_err(|e| e.to_string())
            .and_then(|jti| {
                let claims = LogoutToken {
                    iss: app.config.issuer(),
                    aud: &job.client_id,
                    iat: now,
                    exp: now + LIFETIME_SECS,
                    jti,
                    sub: &job.sub,
                    sid,
                    events: serde_json::json!({ EVENT: {} }),
                };
                app.keys
                    .sign(job.alg, TYP, &claims)
                    .map_err(|e| e.to_string())
            });
        match token {
            Ok(token) => {
                let site = job.site.clone();
                let handle = tokio::spawn(munjigi_providers::trace::propagate(async move {
                    post(&job.url, &token).await
                }));
                handles.push((site, handle));
            }
            Err(e) => {
                tracing::error!(site = %job.site, error = %e, "logout token not signed");
                told.push(Told::no(
                    &job.site,
                    Channel::BackChannel,
                    "logout token not signed",
                ));
            }
        }
    }
    for (site, handle) in handles {
        match handle.await {
            Ok(Ok(())) => told.push(Told::yes(&site, Channel::BackChannel)),
            Ok(Err(why)) => told.push(Told::no(&site, Channel::BackChannel, why)),
            Err(e) => {
                tracing::error!(site = %site, error = %e, "back-channel logout task failed");
                told.push(Told::no(&site, Channel::BackChannel, "task failed"));
            }
        }
    }
    told
}

/// One POST; Ok when the client confirmed (200 or 204).
async fn post(url: &str, token: &str) -> Result<(), String> {
    let Some(client) = crate::outbound::client() else {
        return Err("no outbound HTTP client".into());
    };
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", token)
        .finish();
    match client.post(url, headers, bytes::Bytes::from(body)).await {
        Ok(r) if r.status == http::StatusCode::OK || r.status == http::StatusCode::NO_CONTENT => {
            Ok(())
        }
        Ok(r) => Err(format!("HTTP {}", r.status.as_u16())),
        Err(e) => Err(e.to_string()),
    }
}
