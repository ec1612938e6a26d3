//! The ends of a proxied login: sending a citizen to log in, the gateway-side
//! start, the hand-over of the session to the route's host, and logout.
//!
//! The hand-over is a one-time code (60 s, taken with GETDEL) redeemed on the
//! route's own host, and only by the browser holding the state cookie that
//! host set when the login began.

use super::route::Route;
use super::{forward_auth, identity, jar, session, target, Origin, RESERVED};
use crate::app::App;
use crate::login::{self, session as sso, Front, LoginRequest};
use crate::metrics::Left;
use crate::random;
use crate::rescue::{Ctx, GatewayError};
use crate::store::keys::Family;
use crate::txn::{Outcome, PolicySnapshot};
use crate::web::params::append_query;
use crate::web::{respond, AnyBody, AnyResponse, Params, Response};
use http::Method;
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// The state cookie set on the route's host when a login begins.
pub const STATE_COOKIE: &str = "mj_pxst";
const STATE_MAX_AGE: u64 = 900;
const HANDOFF_TTL: Duration = Duration::from_secs(60);

/// The proxy end of a login: the route, the path to return to, and the digest
/// of the state cookie the route's host set for this browser.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProxyReturn {
    pub route: String,
    pub rd: String,
    pub state: String,
}

fn any(r: Response) -> AnyResponse {
    r.map(AnyBody::Left)
}

#[derive(Debug, Serialize, Deserialize)]
struct Handoff {
    route: String,
    rd: String,
    /// Digest of the state cookie value.
    state: String,
    outcome: Outcome,
    sid: String,
}

fn handoff_key(code: &str) -> String {
    Family::ProxyHandoff.key(&random::digest(code))
}

/// Whether a session satisfies the route's site policy in full. A proxy
/// session is one cookie per host, so a session made on route A (site A) is
/// presented on route B of the same host too; B's site may allow fewer
/// providers or ask for a higher level.
fn fits_route(app: &App, route: &Route, o: &Outcome) -> bool {
    o.level >= route.min_level
        && app.config.sites.get(&route.site).is_some_and(|site| {
            app.config.provider(o.provider.as_str()).is_some_and(|p| {
                munjigi_policy::provider_allowed(
                    &site.policy,
                    &o.provider,
                    p.level,
                    route.min_level,
                )
            })
        })
}

/// The identity for a request on `route`, or None when the citizen must log
/// in (no session, or one that does not satisfy the route's site policy).
pub async fn authenticate(
    app: &App,
    route: &Route,
    headers: &http::HeaderMap,
) -> Result<Option<Arc<identity::Identity>>, GatewayError> {
    // The cookie name is fixed per route: no formatting on the hot path.
    let Some(ticket) = crate::web::cookies::get(headers, route.session_cookie()) else {
        return Ok(None);
    };
    let Some(loaded) = session::load(app, ticket).await? else {
        return Ok(None);
    };
    if !fits_route(app, route, &loaded.session.outcome) {
        return Ok(None);
    }
    Ok(Some(identity::for_route(app, route, &loaded)?))
}

/// 303 to the gateway's start, with a fresh state cookie on the route's host.
pub fn send_to_login(route: &Route, rd: &str) -> Result<AnyResponse, GatewayError> {
    let rd = target::or_prefix(route, Some(rd));
    let state = random::token(24)?;
    // The gateway's public URL is not known here; the route's jar knows its host.
    let url = append_query(
        &format!("{}/proxy/start", route_gateway(route)),
        &[("route", &route.id), ("rd", &rd), ("state", &state)],
    );
    let cookie = jar(route).set(STATE_COOKIE, &state, Some(STATE_MAX_AGE));
    Ok(any(respond::with_cookie(respond::redirect(&url), &cookie)))
}

/// Where `/proxy/start` lives; filled in from the config by [`super::Runtime`].
fn route_gateway(route: &Route) -> &str {
    &route.gateway_url
}

/// `/.munjigi/{rest}` on a route's host (or the gateway's, for host-less routes).
pub async fn reserved(
    app: &App,
    req: http::Request<Incoming>,
    origin: &Origin,
    rest: &str,
) -> Result<AnyResponse, GatewayError> {
    if rest == "auth" {
        return forward_auth::handle(app, &req, origin).await;
    }
    let q = Params::from_query(req.uri())?;
    match (req.method().clone(), rest) {
        (Method::GET, "login") => {
            let route = route_of_host(app, origin, q.get("rd"))?;
            send_to_login(&route, q.get("rd").unwrap_or("/"))
        }
        (Method::GET, "callback") => callback(app, &req, origin, &q).await,
        (Method::GET | Method::POST, "logout") => {
            let route = route_of_host(app, origin, None)?;
            if let Some(ticket) = jar(&route).get(req.headers(), session::COOKIE) {
                session::end(app, ticket).await?;
            }
            tracing::info!(route = %route.id, "proxy session ended by the citizen");
            let url = append_query(
                &format!("{}/proxy/logged-out", route.gateway_url),
                &[("route", &route.id)],
            );
            Ok(any(respond::with_cookie(
                respond::redirect(&url),
                &jar(&route).clear(session::COOKIE),
            )))
        }
        (_, "login" | "callback" | "logout") => Err(GatewayError::MethodNotAllowed),
        _ => Err(GatewayError::NotFound),
    }
}

/// The route on this host that covers `rd` (or, failing that, any route of this host).
fn route_of_host(app: &App, origin: &Origin, rd: Option<&str>) -> Result<Arc<Route>, GatewayError> {
    let routes = &app.config.routes;
    let host = origin.host.as_deref();
    let on_host = |r: &&Arc<Route>| match (&r.host, host) {
        (Some(h), Some(got)) => h == got,
        (None, got) => got.is_none_or(|g| !super::route::claims_host(routes, g)),
        _ => false,
    };
    let path = rd.map(|r| r.split('?').next().unwrap_or(r)).unwrap_or("/");
    routes
        .iter()
        .filter(on_host)
        .filter(|r| r.covers(path))
        .max_by_key(|r| r.prefix.len())
        .or_else(|| routes.iter().find(on_host))
        .cloned()
        .ok_or(GatewayError::NotFound)
}

async fn callback(
    app: &App,
    req: &http::Request<Incoming>,
    origin: &Origin,
    q: &Params,
) -> Result<AnyResponse, GatewayError> {
    let code = q.required("code")?;
    if code.len() != 43 {
        return Err(GatewayError::ProxyLink("malformed hand-over code"));
    }
    let Some(raw) = app.store.take(&handoff_key(code)).await? else {
        return Err(GatewayError::ProxyLink(
            "hand-over code unknown, used or expired",
        ));
    };
    let h: Handoff = serde_json::from_slice(&raw)
        .map_err(|e| GatewayError::corrupt(format!("stored hand-over unreadable: {e}")))?;
    let route = app
        .config
        .routes
        .iter()
        .find(|r| r.id == h.route)
        .cloned()
        .ok_or(GatewayError::ProxyLink("the route of this login is gone"))?;
    let here = route_of_host(app, origin, Some(&h.rd))?;
    if here.host != route.host {
        return Err(GatewayError::ProxyLink(
            "hand-over code redeemed on another host",
        ));
    }
    let state = jar(&route)
        .get(req.headers(), STATE_COOKIE)
        .map(random::digest)
        .unwrap_or_default();
    if state.len() != h.state.len() || !bool::from(state.as_bytes().ct_eq(h.state.as_bytes())) {
        return Err(GatewayError::ProxyLink(
            "state cookie missing or different (another browser?)",
        ));
    }
    if !fits_route(app, &route, &h.outcome) {
        return Err(GatewayError::ProxyLink(
            "login below the route's level or with a provider its site does not allow",
        ));
    }
    let ticket = session::create(app, h.outcome, &h.sid).await?;
    tracing::info!(route = %route.id, sid = %h.sid, "proxy session started");
    let j = jar(&route);
    let r = respond::redirect(&target::or_prefix(&route, Some(&h.rd)));
    let r = respond::with_cookie(
        r,
        &j.set(
            session::COOKIE,
            &ticket,
            Some(app.config.proxy.session_max.as_secs()),
        ),
    );
    Ok(any(respond::with_cookie(r, &j.clear(STATE_COOKIE))))
}

/// Stores a hand-over and returns the route-host URL that redeems it.
pub async fn handoff(
    app: &App,
    px: &ProxyReturn,
    outcome: &Outcome,
    sid: &str,
) -> Result<String, GatewayError> {
    let route = app
        .config
        .routes
        .iter()
        .find(|r| r.id == px.route)
        .ok_or(GatewayError::ProxyLink("the route of this login is gone"))?;
    let code = random::token(32)?;
    let h = Handoff {
        route: px.route.clone(),
        rd: px.rd.clone(),
        state: px.state.clone(),
        outcome: outcome.clone(),
        sid: sid.to_owned(),
    };
    let bytes = serde_json::to_vec(&h).map_err(GatewayError::encode)?;
    app.store
        .put(&handoff_key(&code), bytes, HANDOFF_TTL)
        .await?;
    Ok(append_query(
        &format!("{}{RESERVED}callback", route.origin),
        &[("code", &code)],
    ))
}

/// `GET /proxy/start?route&rd&state` on the gateway's host.
pub async fn start(
    app: &App,
    req: http::Request<Incoming>,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    let q = Params::from_query(req.uri())?;
    let route = app
        .config
        .routes
        .iter()
        .find(|r| r.id == q.required("route").unwrap_or_default())
        .cloned()
        .ok_or(GatewayError::NotFound)?;
    let state = q.required("state")?;
    if !(16..=64).contains(&state.len())
        || !state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(GatewayError::BadRequest("malformed state".into()));
    }
    let site = app
        .config
        .sites
        .get(&route.site)
        .ok_or_else(|| GatewayError::config(format!("route `{}` names no site", route.id)))?;
    let px = ProxyReturn {
        route: route.id.clone(),
        rd: target::or_prefix(&route, q.get("rd")),
        state: random::digest(state),
    };
    let policy = PolicySnapshot::from_policy(&site.policy);
    let request = LoginRequest {
        site_id: site.id.clone(),
        scope: "openid profile".into(),
        required_level: route.min_level,
        max_age: None,
        login_hint: None,
    };
    let front = Front::Proxy(px);
    // Single sign-on: a fresh enough gateway session goes straight back.
    if let Some(s) = login::reusable(app, req.headers(), &request, &policy).await? {
        tracing::info!(route = %route.id, "proxy login answered from the gateway session");
        let txn_id = random::token(16)?;
        crate::audit::login_completed(
            app,
            &txn_id,
            &request.site_id,
            front.kind(),
            front.party(),
            &s.outcome,
            crate::audit::Via::Session,
        )
        .await?;
        let answered = login::ends::answer(
            app, &txn_id, &front, &request, &policy, &s.outcome, &s.sid, ctx,
        )
        .await;
        if answered.is_ok() {
            app.runtime
                .metrics
                .login(&request.site_id, front.kind(), Left::session);
        }
        return answered;
    }
    Ok(
        login::begin(app, req.headers(), front, request, policy, ctx)
            .await?
            .0,
    )
}

/// `GET /proxy/logged-out?route` on the gateway's host, after a route's
/// logout ended its own session. Ending the single sign-on too (every site)
/// needs the citizen's word, since any page can cause this GET: while a
/// gateway session lives, the logout confirmation (a POST to `/logout`);
/// otherwise "you are logged out".
pub async fn logged_out(
    app: &App,
    req: http::Request<Incoming>,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    let q = Params::from_query(req.uri())?;
    let back = q
        .get("route")
        .and_then(|id| app.config.routes.iter().find(|r| r.id == id))
        .map(|r| format!("{}{}", r.origin, r.prefix));
    if let Some(ticket) = app.cookies.get(req.headers(), sso::COOKIE) {
        if sso::load(app, ticket).await?.is_some() {
            return crate::oidc::logout::confirmation_for_browser(
                app,
                ctx,
                ticket,
                back.as_deref(),
            );
        }
    }
    let page = crate::oidc::logout::logged_out_page(ctx, back.as_deref())?;
    Ok(respond::with_cookie(page, &app.cookies.clear(sso::COOKIE)))
}
