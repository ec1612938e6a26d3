//! The site's webhook: when a signature request ends (completed, failed or
//! expired), a signed notification is POSTed to the URL the site registered in
//! config (`[sites.X.signing] webhook_url`).
//!
//! The body is a compact JWS (ES256, `typ` `munjigi-notification+jwt`, content
//! type `application/jose`) with `iss`, `aud` (the client), `iat`, `jti` (one
//! per notification, the same on every retry of it), `id` (the request),
//! `status` and `failure` as `GET /api/v1/signatures/{id}` reports them. No
//! receipt and no personal data: the site verifies the JWS against `/jwks`,
//! dedupes by `jti`, then fetches the request over the API.
//!
//! Delivery never holds up the citizen: it runs in a spawned task, at least
//! once, with the retries of [`crate::outbound::deliver`] (1 s, 5 s, 25 s).
//! One shared outbound client (5 s per attempt) serves every site; each
//! attempt carries a `traceparent` in the trace of the request that ended it.

use super::record::SignatureRecord;
use crate::app::App;
use crate::config::model::IdTokenAlg;
use serde::Serialize;

pub const TYP: &str = "munjigi-notification+jwt";

#[derive(Debug, Serialize)]
struct Notification<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: u64,
    jti: String,
    id: &'a str,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<&'a str>,
}

/// Tells the site's webhook, if it registered one, that `r` ended. Returns at
/// once; delivery runs in its own task. Call once per request, after the
/// store has its final state.
pub fn notify(app: &App, r: &SignatureRecord) {
    let Some(url) = app
        .config
        .sites
        .get(&r.site_id)
        .and_then(|s| s.webhook_url.clone())
    else {
        return;
    };
    let view = super::api::view(r, app.clock.now());
    let status = view
        .get("status")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("failed");
    let jti = match crate::random::token(16) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(request = %r.id, error = %e, "webhook notification not sent");
            return;
        }
    };
    let claims = Notification {
        iss: app.config.issuer(),
        aud: &r.client_id,
        iat: app.clock.now(),
        jti,
        id: &r.id,
        status,
        failure: view.get("failure").and_then(serde_json::Value::as_str),
    };
    let jws = match app.keys.sign(IdTokenAlg::Es256, TYP, &claims) {
        Ok(j) => j,
        Err(e) => {
            tracing::error!(request = %r.id, error = %e, "webhook notification not signed");
            return;
        }
    };
    let request = r.id.clone();
    let site = r.site_id.clone();
    // The request's span and trace go along: the delivery's log lines carry
    // the request id, and its calls a `traceparent` in the same trace.
    tokio::spawn(munjigi_providers::trace::propagate(async move {
        deliver(&url, jws, &request, &site).await
    }));
}

async fn deliver(url: &str, jws: String, request: &str, site: &str) {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/jose"),
    );
    crate::outbound::deliver(
        url,
        headers,
        bytes::Bytes::from(jws),
        "webhook",
        request,
        site,
    )
    .await;
}
