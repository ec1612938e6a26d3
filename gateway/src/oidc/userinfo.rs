//! `/userinfo`: the released claims for a bearer access token.

use super::grant::{self, AccessRecord};
use crate::app::App;
use crate::web::{self, respond, Params, Response};
use http::{header, HeaderValue, StatusCode};
use hyper::body::Incoming;

/// No credentials at all: a bare challenge, no error code (RFC 6750 §3.1).
fn challenge() -> Response {
    let mut r = respond::json(StatusCode::UNAUTHORIZED, &serde_json::json!({}));
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"munjigi\""),
    );
    r
}

fn refuse(status: StatusCode, error: &'static str) -> Response {
    let mut r = respond::json(status, &serde_json::json!({ "error": error }));
    let challenge = format!("Bearer realm=\"munjigi\", error=\"{error}\"");
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

pub async fn handle(app: &App, req: http::Request<Incoming>) -> Response {
    let (parts, body) = req.into_parts();
    let from_header = match parts.headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => match v
            .to_str()
            .ok()
            .and_then(|v| web::authorization::credentials(v, "Bearer"))
        {
            Some(t) => Some(t.to_owned()),
            // Another scheme, or no credentials after it.
            None => return refuse(StatusCode::BAD_REQUEST, "invalid_request"),
        },
    };
    let token = match (from_header, parts.method.clone()) {
        (Some(t), _) => t,
        (None, http::Method::POST) => {
            let Ok(raw) = web::read_body(body, web::params::MAX_PARAMS_LEN).await else {
                return refuse(StatusCode::BAD_REQUEST, "invalid_request");
            };
            let Ok(params) = Params::parse(&raw) else {
                return refuse(StatusCode::BAD_REQUEST, "invalid_request");
            };
            match params.get("access_token") {
                Some(t) => t.to_owned(),
                None => return challenge(),
            }
        }
        (None, _) => return challenge(),
    };
    if token.len() > 256 {
        return refuse(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    let record = match app.store.get(&grant::access_key(&token)).await {
        Ok(Some(raw)) => serde_json::from_slice::<AccessRecord>(&raw).ok(),
        Ok(None) => None,
        Err(e) => {
            tracing::error!(code = "MJ-S01", error = %e, "store unavailable for userinfo");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");
        }
    };
    match record {
        Some(r) => {
            let mut value = match serde_json::to_value(&r.claims) {
                Ok(v) => v,
                Err(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
            };
            // Userinfo carries the person's claims; authentication facts stay in the ID token.
            if let Some(o) = value.as_object_mut() {
                for k in ["acr", "amr", "auth_time"] {
                    o.remove(k);
                }
            }
            respond::json(StatusCode::OK, &value)
        }
        None => refuse(StatusCode::UNAUTHORIZED, "invalid_token"),
    }
}
