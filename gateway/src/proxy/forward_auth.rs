//! Forward-auth for a front proxy that forwards by itself: nginx
//! `auth_request`, Traefik `ForwardAuth`, Caddy `forward_auth`.
//!
//! The front proxy asks with the citizen's cookies and the original request in
//! forwarding headers, so only a configured trusted proxy may ask: from anyone
//! else those headers are claims, not facts. The answer is 2xx with the
//! identity headers (the front proxy copies them upstream), or 401 with the
//! login URL in `X-Munjigi-Login` (nginx cannot pass a redirect through
//! `auth_request`); `?redirect=1` answers a navigation with the 302 itself,
//! which is what Traefik and Caddy pass on. A 2xx also carries
//! `X-Munjigi-Cookie`: the request's cookies without the gateway's, so the
//! front proxy can keep the session ticket from the application.
//!
//! The gateway cannot change the target the front proxy forwards, so a target
//! that is not already in canonical form (`crate::web::path`) is refused with
//! 403 rather than decided on in a form the upstream would not see.

use super::{entry, is_navigation, login_url, route, strip, target, unauthorized, Origin};

/// The answer header with the cookies the application may see.
pub const COOKIE_HEADER: &str = "x-munjigi-cookie";
use crate::app::App;
use crate::rescue::GatewayError;
use crate::web::path::{self, PathRefusal};
use crate::web::{respond, AnyBody, AnyResponse};
use http::{HeaderValue, Method, StatusCode};
use hyper::body::Incoming;

fn header<'a>(req: &'a http::Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// The value of `a` or `b`; None (refuse) when both are there and differ.
fn one_of<'a>(req: &'a http::Request<Incoming>, a: &str, b: &str) -> Option<Option<&'a str>> {
    match (header(req, a), header(req, b)) {
        (Some(x), Some(y)) if x != y => None,
        (x, y) => Some(x.or(y)),
    }
}

/// 403 (nginx passes 401 and 403 on; anything else becomes its own 500).
fn refuse_target(place: &str, reason: &str) -> AnyResponse {
    tracing::warn!(
        code = "MJ-X06",
        place,
        reason,
        "forward-auth target refused"
    );
    let mut r = respond::text(
        StatusCode::FORBIDDEN,
        "the request path is not in canonical form; the gateway answers only for canonical paths\n",
    );
    r.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    r.map(AnyBody::Left)
}

pub async fn handle(
    app: &App,
    req: &http::Request<Incoming>,
    origin: &Origin,
) -> Result<AnyResponse, GatewayError> {
    if !origin.trusted {
        tracing::warn!(code = "MJ-X04", peer = %origin.peer.ip(), "forward-auth asked by a peer that is not a trusted proxy");
        return Ok(respond::text(
            StatusCode::FORBIDDEN,
            "forward-auth answers trusted proxies only (server.trusted_proxies)\n",
        )
        .map(AnyBody::Left));
    }
    // Each front proxy sets its own header and overwrites a client's copy of
    // it, but passes the other one on: a client could send `X-Forwarded-Uri`
    // through nginx, or `X-Original-URI` through Traefik. Two that differ
    // are refused, not chosen between.
    let (Some(uri), Some(method)) = (
        one_of(req, "x-original-uri", "x-forwarded-uri"),
        one_of(req, "x-original-method", "x-forwarded-method"),
    ) else {
        return Ok(refuse_target(
            origin.host.as_deref().unwrap_or("-"),
            "X-Original-URI and X-Forwarded-Uri (or the methods) differ",
        ));
    };
    let uri = uri.unwrap_or("/");
    let method = method
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .unwrap_or(Method::GET);
    let raw_path = uri.split('?').next().unwrap_or("/");
    let Some(host) = origin.host.as_deref() else {
        return Err(GatewayError::BadRequest(
            "forward-auth without X-Forwarded-Host".into(),
        ));
    };
    // The front proxy forwards the target as it received it; the gateway
    // cannot rewrite that, so it answers only for a target that is already
    // canonical: then the upstream serves what was decided on here.
    let canonical = match path::canonical(raw_path) {
        Ok(p) if p.as_str() == raw_path => p,
        Ok(_) => {
            return Ok(refuse_target(
                host,
                "a target that is not canonical (dot segments or escapes)",
            ))
        }
        Err(reason) => return Ok(refuse_target(host, reason.as_str())),
    };
    let path = canonical.as_str();
    let found = route::find(&app.config.routes, Some(host), path)
        .filter(|r| r.host.as_deref() == Some(host))
        .cloned();
    let Some(route) = found else {
        tracing::warn!(
            code = "MJ-X05",
            host,
            "forward-auth for a host no route names"
        );
        return Ok(
            respond::text(StatusCode::FORBIDDEN, "no route for this host\n").map(AnyBody::Left),
        );
    };
    if !route::readings_agree(&app.config.routes, Some(host), path, &route) {
        return Ok(refuse_target(
            &format!("route `{}`", route.id),
            PathRefusal::ReadsDifferently.as_str(),
        ));
    }
    if canonical.has_empty_segments() && !route.allow_empty_segments {
        return Ok(refuse_target(
            &format!("route `{}`", route.id),
            PathRefusal::EmptySegment.as_str(),
        ));
    }
    // The citizen's cookies without the gateway's, for the front proxy to
    // forward instead of the original `Cookie` (nginx cannot filter cookies).
    let mut ok = respond::text(StatusCode::OK, "");
    if let Ok(v) = HeaderValue::from_str(&strip::site_cookies(req.headers())) {
        ok.headers_mut().insert(COOKIE_HEADER, v);
    }
    if route.is_public(path) {
        return Ok(ok.map(AnyBody::Left));
    }
    match entry::authenticate(app, &route, req.headers()).await? {
        Some(identity) => {
            for (n, v) in &identity.headers {
                ok.headers_mut().insert(n.clone(), v.clone());
            }
            Ok(ok.map(AnyBody::Left))
        }
        None => {
            let rd = target::or_prefix(&route, Some(uri));
            let wants_redirect = req
                .uri()
                .query()
                .is_some_and(|q| q.split('&').any(|p| p == "redirect=1"));
            if wants_redirect && is_navigation(&method, req.headers()) {
                let mut r = respond::redirect(&login_url(&route, &rd));
                *r.status_mut() = StatusCode::FOUND;
                return Ok(r.map(AnyBody::Left));
            }
            let mut r = unauthorized(&route, &rd);
            r.headers_mut().insert(
                http::header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            );
            Ok(r)
        }
    }
}
