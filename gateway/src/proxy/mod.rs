//! Identity-aware reverse proxy and forward-auth: sites with no SSO code sit
//! behind the gateway (or their nginx asks it) and receive the citizen's
//! normalised identity on every request.
//!
//! A proxied login uses the same chooser, transaction and assertion as OIDC;
//! only the ends differ. A route's host may not be the gateway's, so the
//! session is handed over with a one-time code on the route's own
//! `/.munjigi/callback`, bound to the browser by a state cookie set on that
//! host before the login began (no login CSRF, no session fixation). Routing,
//! header hygiene, sessions, identity and forwarding each live in their own
//! module; this one decides which of them a request needs.

pub mod entry;
pub mod forward;
pub mod forward_auth;
pub mod identity;
pub mod pool;
pub mod route;
pub mod session;
pub mod strip;
pub mod target;
pub mod trust;

use crate::app::App;
use crate::config::Config;
use crate::rescue::GatewayError;
use crate::web::cookies::CookieJar;
use crate::web::path::{Canonical, PathRefusal};
use crate::web::{respond, AnyResponse};
use http::{HeaderValue, Method, StatusCode};
use hyper::body::Incoming;
use route::Route;
use std::net::SocketAddr;
use std::sync::Arc;

/// Paths under which the gateway answers on every route host.
pub const RESERVED: &str = "/.munjigi/";

/// The proxy's part of a snapshot: its caches and the pools of its routes'
/// upstreams (both shared with the process [`crate::runtime::Runtime`] where
/// they do not depend on the config: the session cache, unchanged pools).
pub struct Runtime {
    pub sessions: moka::sync::Cache<String, Arc<session::Loaded>>,
    /// Keyed by route index: per snapshot, since indices change on reload.
    pub identities: moka::sync::Cache<(Arc<str>, usize), Arc<identity::Identity>>,
    /// Connection pools by route index (None for a forward-auth route).
    pub pools: Vec<Option<Arc<pool::Pool>>>,
}

impl Runtime {
    pub fn build(config: &Config, process: &crate::runtime::Runtime) -> Result<Self, String> {
        let mut pools = Vec::with_capacity(config.routes.len());
        for r in &config.routes {
            let pool = match &r.upstream {
                Some(up) => Some(
                    process
                        .pool_for(r, up)
                        .map_err(|e| format!("route `{}`: {e}", r.id))?,
                ),
                None => None,
            };
            pools.push(pool);
        }
        Ok(Self {
            sessions: process.proxy_sessions.clone(),
            identities: identity::cache(),
            pools,
        })
    }
}

/// Facts about where a request came from, believed per the trust settings.
pub struct Origin {
    pub peer: SocketAddr,
    pub trusted: bool,
    /// Lower-case `host[:port]` the citizen used.
    pub host: Option<String>,
    pub https: bool,
}

impl Origin {
    pub fn of(app: &App, req: &http::Request<Incoming>, peer: SocketAddr) -> Self {
        let trusted = app.config.trusted_proxies.contains(peer.ip());
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(',').next().unwrap_or_default().trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let forwarded_host = if trusted {
            header("x-forwarded-host")
        } else {
            None
        };
        let host = forwarded_host
            .or_else(|| header("host"))
            .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
            .map(|h| h.to_ascii_lowercase());
        let https = match (trusted, header("x-forwarded-proto")) {
            (true, Some(p)) => p.eq_ignore_ascii_case("https"),
            _ => app.config.tls.is_some(),
        };
        Self {
            peer,
            trusted,
            host,
            https,
        }
    }
}

/// Whether the proxy answers this request rather than the gateway's own
/// endpoints: a route's own host, the reserved paths, or a host-less route
/// covering a path the gateway does not use.
pub fn owns(app: &App, origin: &Origin, path: &str, gateway_path: bool) -> bool {
    let routes = &app.config.routes;
    if routes.is_empty() {
        return false;
    }
    if origin
        .host
        .as_deref()
        .is_some_and(|h| route::claims_host(routes, h))
    {
        return true;
    }
    path.starts_with(RESERVED) || (!gateway_path && route::find(routes, None, path).is_some())
}

pub fn jar(route: &Route) -> CookieJar {
    CookieJar {
        secure: route.secure,
    }
}

/// A navigation (the citizen's browser loading a page) may be redirected to
/// log in; anything else gets a 401 it can act on.
pub fn is_navigation(method: &Method, headers: &http::HeaderMap) -> bool {
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    if headers.contains_key("x-requested-with") {
        return false;
    }
    if let Some(mode) = headers.get("sec-fetch-mode") {
        return mode.as_bytes() == b"navigate";
    }
    headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"))
}

/// The route-host URL that starts a login and comes back to `rd`.
pub fn login_url(route: &Route, rd: &str) -> String {
    crate::web::params::append_query(&format!("{}{RESERVED}login", route.origin), &[("rd", rd)])
}

/// 401 for a request that cannot be redirected.
pub fn unauthorized(route: &Route, rd: &str) -> AnyResponse {
    let login = login_url(route, rd);
    let body = serde_json::json!({
        "error": "login_required",
        "login_url": login,
    });
    let mut r = respond::json(StatusCode::UNAUTHORIZED, &body);
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("Munjigi realm=\"{}\"", route.id)) {
        h.insert(http::header::WWW_AUTHENTICATE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&login) {
        h.insert("x-munjigi-login", v);
    }
    r.map(crate::web::AnyBody::Left)
}

/// Handles a request the proxy owns (see [`owns`]). `path` is the request's
/// canonical path: the route, the public-path and level decisions and the
/// upstream all see that one form.
pub async fn handle(
    app: &App,
    req: http::Request<Incoming>,
    origin: Origin,
    path: Canonical,
) -> Result<AnyResponse, GatewayError> {
    if let Some(rest) = path.as_str().strip_prefix(RESERVED) {
        let rest = rest.to_owned();
        // The gateway's own pages on a route host get the page deadline.
        return match tokio::time::timeout(
            crate::server::REQUEST_TIMEOUT,
            entry::reserved(app, req, &origin, &rest),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(GatewayError::Store(crate::store::StoreError::Unavailable(
                "request timed out".into(),
            ))),
        };
    }
    let Some(route) =
        route::find(&app.config.routes, origin.host.as_deref(), path.as_str()).cloned()
    else {
        return Err(GatewayError::NotFound);
    };
    if path.has_empty_segments() && !route.allow_empty_segments {
        return Err(GatewayError::UnsafePath {
            place: format!("route `{}`", route.id),
            reason: PathRefusal::EmptySegment,
        });
    }
    if !route::readings_agree(
        &app.config.routes,
        origin.host.as_deref(),
        path.as_str(),
        &route,
    ) {
        return Err(GatewayError::UnsafePath {
            place: format!("route `{}`", route.id),
            reason: PathRefusal::ReadsDifferently,
        });
    }
    // Stripping the prefix must not leave `//host/…` for the upstream.
    if route.strip_prefix && route.below_prefix(path.as_str()).starts_with("//") {
        return Err(GatewayError::UnsafePath {
            place: format!("route `{}`", route.id),
            reason: PathRefusal::EmptySegment,
        });
    }
    let (Some(up), Some(Some(pool))) = (&route.upstream, app.proxy.pools.get(route.index)) else {
        // A forward-auth route: its front proxy serves it, not us.
        return Err(GatewayError::NotFound);
    };
    if let Some(asked) = forward::refused_upgrade(req.headers()) {
        return Err(GatewayError::BadRequest(format!(
            "route `{}`: upgrade to `{asked}` refused (only websocket is forwarded)",
            route.id
        )));
    }
    let identity = if route.is_public(path.as_str()) {
        None
    } else {
        match entry::authenticate(app, &route, req.headers()).await? {
            Some(i) => Some(i),
            None => {
                let rd = match req.uri().query() {
                    Some(q) => format!("{}?{q}", path.as_str()),
                    None => path.as_str().to_owned(),
                };
                return if is_navigation(req.method(), req.headers()) {
                    entry::send_to_login(&route, &rd)
                } else {
                    Ok(unauthorized(&route, &target::or_prefix(&route, Some(&rd))))
                };
            }
        }
    };
    let caller = forward::Caller {
        peer: origin.peer,
        trusted: origin.trusted,
        host: route.public_host().to_owned(),
        https: origin.https,
    };
    let asked = std::time::Instant::now();
    let answered = forward::forward(
        pool,
        &route,
        up,
        req,
        path.as_str(),
        &caller,
        identity.as_deref(),
    )
    .await;
    app.runtime.metrics.upstream(
        &route.site,
        asked.elapsed(),
        answered.as_ref().err().map(|e| match e {
            forward::UpstreamError::Timeout(_) => "timeout",
            forward::UpstreamError::Unreachable(_) => "unreachable",
        }),
    );
    match answered {
        Ok(r) => Ok(r),
        Err(e) => Err(GatewayError::Upstream {
            route: route.id.clone(),
            timed_out: matches!(e, forward::UpstreamError::Timeout(_)),
            detail: e.to_string(),
        }),
    }
}
