//! Response builders with the headers every response of ours carries.
//!
//! Pages get a strict CSP (`default-src 'self'`, no inline script), no framing,
//! no referrer leakage of codes or states, and `no-store` (they hold per-login data).

use super::{Body, Response};
use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self' http: https:; base-uri 'none'";

fn base(status: StatusCode, content_type: &'static str, body: Bytes) -> Response {
    let mut r = http::Response::new(Body::new(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

pub fn html(status: StatusCode, body: String) -> Response {
    let mut r = base(status, "text/html; charset=utf-8", Bytes::from(body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    r
}

/// [`html`] for a page that frames other sites' logout pages: the CSP lets
/// frames load from exactly the origins of `frame_urls`, nothing else.
pub fn html_with_frames(status: StatusCode, body: String, frame_urls: &[String]) -> Response {
    let mut r = html(status, body);
    let mut origins: Vec<String> = frame_urls
        .iter()
        .filter_map(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
        .collect();
    origins.sort();
    origins.dedup();
    if origins.is_empty() {
        return r;
    }
    let csp = format!("{CSP}; frame-src {}", origins.join(" "));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

pub fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    base(status, "application/json", Bytes::from(value.to_string()))
}

pub fn json_bytes(status: StatusCode, body: Bytes) -> Response {
    base(status, "application/json", body)
}

/// Static assets: cacheable, they carry no per-login data.
pub fn asset(content_type: &'static str, body: &'static str) -> Response {
    asset_bytes(content_type, Bytes::from_static(body.as_bytes()))
}

/// A provider's logo from the config (PNG or SVG): cacheable, and under a
/// policy that runs nothing even when opened on its own.
pub fn logo(content_type: &'static str, bytes: std::sync::Arc<[u8]>) -> Response {
    let mut r = asset_bytes(content_type, Bytes::from_owner(bytes));
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    r
}

/// A public, cacheable document built at start (metadata).
pub fn asset_bytes(content_type: &'static str, body: Bytes) -> Response {
    let mut r = base(StatusCode::OK, content_type, body);
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

pub fn text(status: StatusCode, body: &'static str) -> Response {
    base(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(body.as_bytes()),
    )
}

/// 303 See Other to `location` (after a POST or a GET alike).
pub fn redirect(location: &str) -> Response {
    let mut r = base(
        StatusCode::SEE_OTHER,
        "text/plain; charset=utf-8",
        Bytes::new(),
    );
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    } else {
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    }
    r
}

/// Adds a `Set-Cookie`; a value that is not a valid header is dropped (ours never are).
pub fn with_cookie<B>(mut r: http::Response<B>, cookie: &str) -> http::Response<B> {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}
