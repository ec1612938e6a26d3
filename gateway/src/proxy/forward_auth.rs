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

use super::{entry, is_navigation, login_url, route, strip, target, unauthorized, Origin};

/// The answer header with the cookies the application may see.
pub const COOKIE_HEADER: &str = "x-munjigi-cookie";
use crate::app::App;
use crate::rescue::GatewayError;
use crate::web::{respond, AnyBody, AnyResponse};
use http::{HeaderValue, Method, StatusCode};
use hyper::body::Incoming;

fn header<'a>(req: &'a http::Request<Incoming>, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| req.headers().get(*n))
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
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
    let uri = header(req, &["x-original-uri", "x-forwarded-uri"]).unwrap_or("/");
    let method = header(req, &["x-original-method", "x-forwarded-method"])
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .unwrap_or(Method::GET);
    let path = uri.split('?').next().unwrap_or("/");
    let Some(host) = origin.host.as_deref() else {
        return Err(GatewayError::BadRequest(
            "forward-auth without X-Forwarded-Host".into(),
        ));
    };
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
