//! The demo's logins away from the citizen's browser: a call-centre
//! operator's screen (CIBA) and a community-centre kiosk (the Device
//! Authorization Grant).
//!
//! Both are the demo site acting as a client over real HTTP, as the demo's
//! login does: `POST /bc-authorize` or `POST /device_authorization` with the
//! demo client's secret, then `/token` polled by the demo site itself (at
//! most once per `interval`, longer after `slow_down`) whenever its page or
//! its status URL is asked, and the ID token verified against `/jwks`. The
//! grant (`auth_req_id`, `device_code`) stays in the demo's memory; the pages
//! only see the code to read out or type. The call centre sends the unsigned
//! `login_hint` (the demo client is registered with `ciba_unsigned_hints`),
//! which the page says a real call centre would sign.
//!
//! The call-centre screen lets any visitor ask for a push to any phone, as
//! an operator's screen does: the visitor's address is limited as a login
//! start is, and `munjigi serve` warns when the demo client may use CIBA.
//! Serve `[demo]` with the simulator only.

use super::site;
use crate::app::App;
use crate::pages::{self, DemoAway, DemoAwayState, DemoAwayView, DemoCallCentreView, DemoClaim};
use crate::random;
use crate::rescue::{Ctx, GatewayError};
use crate::web::{respond, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use hyper::body::Incoming;
use std::collections::HashMap;

/// The call centre's form body is small.
const MAX_FORM: usize = 4 * 1024;
/// The call centre's code: 4 digits, as an operator reads it out.
const CODE_DIGITS: u32 = 4;

/// A login away from the browser the demo waits for.
#[derive(Clone)]
pub(super) struct Away {
    kind: DemoAway,
    grant: String,
    /// The code shown: the binding code, or the user code.
    code: String,
    verification_uri: String,
    next_poll: u64,
    interval: u64,
    expires_at: u64,
    ended: Option<Ended>,
}

#[derive(Clone)]
enum Ended {
    Done(Vec<(String, String)>),
    Failed(String),
}

fn paths(kind: DemoAway) -> (&'static str, &'static str, &'static str) {
    match kind {
        DemoAway::CallCentre => (
            "/demo/callcentre",
            "/demo/callcentre/wait",
            "/demo/callcentre/status",
        ),
        DemoAway::Kiosk => ("/demo/kiosk", "/demo/kiosk/wait", "/demo/kiosk/status"),
    }
}

fn form_headers(app: &App) -> Result<HeaderMap, GatewayError> {
    let c = site::client(app)?;
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, site::basic_auth(&c)?);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    Ok(headers)
}

/// The demo client's grants, if it has them: (CIBA, device).
pub fn allowed(app: &App) -> (bool, bool) {
    let oidc = app
        .config
        .demo
        .as_ref()
        .and_then(|d| app.config.sites.get(&d.site))
        .and_then(|s| s.oidc.as_ref());
    (
        oidc.is_some_and(|o| o.ciba.is_some()),
        oidc.is_some_and(|o| o.device.is_some()),
    )
}

/// The providers the demo site offers, with their names in `lang`.
fn providers(app: &App, lang: pages::Lang) -> Vec<(String, String)> {
    let Some(site) = app
        .config
        .demo
        .as_ref()
        .and_then(|d| app.config.sites.get(&d.site))
    else {
        return Vec::new();
    };
    let policy = crate::txn::PolicySnapshot::from_policy(&site.policy);
    let level = munjigi_policy::required_level(&site.policy, None);
    app.config
        .providers
        .iter()
        .filter(|p| crate::login::provider_fits(app, &policy, level, &p.id))
        .map(|p| {
            let name = match lang {
                pages::Lang::Ko => &p.name_ko,
                pages::Lang::En => &p.name_en,
            };
            (p.id.to_string(), name.clone())
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn callcentre_page(
    app: &App,
    ctx: &Ctx,
    sid: &str,
    new: bool,
    csrf: &str,
    values: [&str; 4],
    error: Option<&str>,
) -> Result<Response, GatewayError> {
    let (ko, en) = site::lang_hrefs("/demo/callcentre");
    let list = providers(app, ctx.lang);
    let list: Vec<(&str, &str)> = list.iter().map(|(i, n)| (i.as_str(), n.as_str())).collect();
    let body = site::page(pages::demo_callcentre(&DemoCallCentreView {
        lang: ctx.lang,
        action: "/demo/callcentre",
        csrf,
        providers: &list,
        name: values[0],
        birthdate: values[1],
        phone: values[2],
        provider: values[3],
        error,
        home_href: "/demo",
        lang_ko_href: &ko,
        lang_en_href: &en,
    }))?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(site::with_session_cookie(
        app,
        respond::html(status, body),
        sid,
        new,
    ))
}

/// `GET /demo/callcentre`: the operator's form.
pub(super) fn callcentre_form(
    app: &App,
    headers: &HeaderMap,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    if !allowed(app).0 {
        return Err(GatewayError::NotFound);
    }
    let (sid, mut d, new) = site::session_of(headers)?;
    if d.csrf.is_empty() {
        d.csrf = random::token(16)?;
    }
    let csrf = d.csrf.clone();
    site::store_session(&sid, d);
    callcentre_page(app, ctx, &sid, new, &csrf, ["", "", "", "kakao"], None)
}

fn code() -> Result<String, GatewayError> {
    let n = u32::from_be_bytes(random::bytes::<4>()?) % 10u32.pow(CODE_DIGITS);
    Ok(format!("{n:04}"))
}

/// `POST /demo/callcentre`: asks the gateway to push to the typed person.
pub(super) async fn callcentre_start(
    app: &App,
    req: http::Request<Incoming>,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    if !allowed(app).0 {
        return Err(GatewayError::NotFound);
    }
    let (sid, mut d, new) = site::session_of(req.headers())?;
    let body = crate::web::read_body(req.into_body(), MAX_FORM)
        .await
        .map_err(|_| GatewayError::TooLarge)?;
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if new || d.csrf.is_empty() || !site::eq(field("csrf"), &d.csrf) {
        return Err(GatewayError::Csrf);
    }
    // The gateway sees the demo site, not the visitor: the visitor's own
    // address is limited here, as a login start and a form submission.
    visitor_limits(app, ctx, true).await?;
    let (name, birthdate, phone, provider) = (
        field("name").trim(),
        field("birthdate").trim(),
        field("phone").trim(),
        field("provider"),
    );
    // Only the provider's own app shows a code where it shows our text.
    let shows_code = app.providers.get(provider).is_some_and(|p| p.shows_title());
    let binding = if shows_code { code()? } else { String::new() };
    let hint = serde_json::json!({
        "name": name, "birthdate": birthdate, "phone_number": phone,
        "provider": provider, "agent": "demo-operator",
    })
    .to_string();
    let mut params = vec![("scope", "openid profile"), ("login_hint", hint.as_str())];
    if shows_code {
        params.push(("binding_message", binding.as_str()));
    }
    let url = format!("{}/bc-authorize", app.config.public_url);
    let answer = call(app, &url, &params).await?;
    let csrf = d.csrf.clone();
    let started = match answer {
        Ok(s) => s,
        Err(error) => {
            return callcentre_page(
                app,
                ctx,
                &sid,
                new,
                &csrf,
                [name, birthdate, phone, provider],
                Some(&error),
            )
        }
    };
    let now = app.clock.now();
    let text = |k: &str| started.get(k).and_then(serde_json::Value::as_str);
    let num = |k: &str, or: u64| {
        started
            .get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(or)
    };
    let Some(auth_req_id) = text("auth_req_id") else {
        return Err(GatewayError::config("demo site: no auth_req_id"));
    };
    d.away = Some(Away {
        kind: DemoAway::CallCentre,
        grant: auth_req_id.to_owned(),
        code: binding,
        verification_uri: String::new(),
        next_poll: now + num("interval", 5),
        interval: num("interval", 5),
        expires_at: now + num("expires_in", 120),
        ended: None,
    });
    site::store_session(&sid, d);
    Ok(respond::redirect("/demo/callcentre/wait"))
}

/// The limits a login start (and, for a form, a submission) from the
/// visitor's address counts against.
async fn visitor_limits(app: &App, ctx: &Ctx, form: bool) -> Result<(), GatewayError> {
    let Some(site) = app.config.demo.as_ref().map(|d| d.site.as_str()) else {
        return Err(GatewayError::NotFound);
    };
    crate::limits::start(app, site, ctx.client).await?;
    if form {
        crate::limits::submission(app, site, ctx.client).await?;
    }
    Ok(())
}

/// `GET /demo/kiosk`: a new device code, shown on the kiosk's screen.
pub(super) async fn kiosk_start(
    app: &App,
    headers: &HeaderMap,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    if !allowed(app).1 {
        return Err(GatewayError::NotFound);
    }
    visitor_limits(app, ctx, false).await?;
    let (sid, mut d, new) = site::session_of(headers)?;
    let url = format!("{}/device_authorization", app.config.public_url);
    let started = call(app, &url, &[("scope", "openid profile")])
        .await?
        .map_err(|e| GatewayError::config(format!("demo site: device authorization: {e}")))?;
    let now = app.clock.now();
    let text = |k: &str| {
        started
            .get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| GatewayError::config(format!("demo site: no {k}")))
    };
    let num = |k: &str, or: u64| {
        started
            .get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(or)
    };
    d.away = Some(Away {
        kind: DemoAway::Kiosk,
        grant: text("device_code")?,
        code: text("user_code")?,
        verification_uri: text("verification_uri")?,
        next_poll: now + num("interval", 5),
        interval: num("interval", 5),
        expires_at: now + num("expires_in", 600),
        ended: None,
    });
    site::store_session(&sid, d);
    Ok(site::with_session_cookie(
        app,
        respond::redirect("/demo/kiosk/wait"),
        &sid,
        new,
    ))
}

/// POSTs a form as the demo client: the JSON answer, or `error: description`.
async fn call(
    app: &App,
    url: &str,
    params: &[(&str, &str)],
) -> Result<Result<serde_json::Value, String>, GatewayError> {
    let http = site::http_client(app)?;
    let body = crate::web::params::encode(params);
    let r = http
        .post(url, form_headers(app)?, bytes::Bytes::from(body))
        .await
        .map_err(|e| GatewayError::config(format!("demo site: {url}: {e}")))?;
    let json: serde_json::Value = r
        .json()
        .map_err(|e| GatewayError::config(format!("demo site: {url}: {e}")))?;
    if r.status == StatusCode::OK {
        return Ok(Ok(json));
    }
    let s = |k: &str| {
        json.get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
    };
    Ok(Err(format!("{}: {}", s("error"), s("error_description"))))
}

/// Polls `/token` for the session's login if it is time; the login after.
async fn advance(app: &App, sid: &str, kind: DemoAway) -> Result<Option<Away>, GatewayError> {
    let Some(mut away) =
        site::with_sessions(|s| s.get(sid).and_then(|d| d.away.clone())).filter(|a| a.kind == kind)
    else {
        return Ok(None);
    };
    let now = app.clock.now();
    if away.ended.is_some() || now < away.next_poll {
        return Ok(Some(away));
    }
    let grant_type = match kind {
        DemoAway::CallCentre => crate::oidc::ciba::GRANT_TYPE,
        DemoAway::Kiosk => crate::oidc::device::GRANT_TYPE,
    };
    let grant_name = match kind {
        DemoAway::CallCentre => "auth_req_id",
        DemoAway::Kiosk => "device_code",
    };
    let url = format!("{}/token", app.config.public_url);
    let answer = call(
        app,
        &url,
        &[("grant_type", grant_type), (grant_name, &away.grant)],
    )
    .await?;
    away.next_poll = now + away.interval;
    match answer {
        Ok(tokens) => {
            let id_token = tokens
                .get("id_token")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| GatewayError::config("demo site: no id_token"))?;
            let http = site::http_client(app)?;
            let claims = site::verify_jws(&http, &app.config.public_url, id_token).await?;
            let c = site::client(app)?;
            let get = |k: &str| claims.get(k).and_then(serde_json::Value::as_str);
            let valid = get("iss") == Some(app.config.issuer())
                && get("aud") == Some(c.client_id.as_str())
                && claims
                    .get("exp")
                    .and_then(serde_json::Value::as_u64)
                    .is_some_and(|e| e > now);
            away.ended = Some(if valid {
                Ended::Done(site::flatten(&claims))
            } else {
                Ended::Failed("invalid_id_token".into())
            });
        }
        Err(e) if e.starts_with("authorization_pending") => {}
        Err(e) if e.starts_with("slow_down") => {
            away.interval += 5;
            away.next_poll = now + away.interval;
        }
        Err(e) => {
            let code = e.split(':').next().unwrap_or("error").to_owned();
            away.ended = Some(Ended::Failed(code));
        }
    }
    if away.ended.is_none() && now >= away.expires_at + 5 {
        away.ended = Some(Ended::Failed("expired_token".into()));
    }
    let kept = away.clone();
    site::with_sessions(|s| {
        if let Some(d) = s.get_mut(sid) {
            d.away = Some(kept);
        }
    });
    Ok(Some(away))
}

/// `GET /demo/callcentre/status`, `/demo/kiosk/status`: `{"done": bool}`.
pub(super) async fn status(
    app: &App,
    headers: &HeaderMap,
    kind: DemoAway,
) -> Result<Response, GatewayError> {
    let sid = crate::web::cookies::get(headers, site::COOKIE)
        .unwrap_or_default()
        .to_owned();
    let away = advance(app, &sid, kind).await?;
    let done = away.is_none_or(|a| a.ended.is_some());
    Ok(respond::json(
        StatusCode::OK,
        &serde_json::json!({ "done": done }),
    ))
}

/// `GET /demo/callcentre/wait`, `/demo/kiosk/wait`: waiting, or the result.
pub(super) async fn wait(
    app: &App,
    headers: &HeaderMap,
    ctx: &Ctx,
    kind: DemoAway,
) -> Result<Response, GatewayError> {
    let (start, wait_path, status_path) = paths(kind);
    let sid = crate::web::cookies::get(headers, site::COOKIE)
        .unwrap_or_default()
        .to_owned();
    let Some(away) = advance(app, &sid, kind).await? else {
        return Ok(respond::redirect(start));
    };
    let (ko, en) = site::lang_hrefs(wait_path);
    let qr = crate::web::params::append_query("/device/qr", &[("user_code", away.code.as_str())]);
    let claims: Vec<DemoClaim<'_>>;
    let name: &str;
    let state = match &away.ended {
        None => DemoAwayState::Waiting {
            code: &away.code,
            qr_src: &qr,
            verification_uri: &away.verification_uri,
            status_url: status_path,
            refresh_url: wait_path,
        },
        Some(Ended::Done(c)) => {
            claims = c
                .iter()
                .map(|(k, v)| DemoClaim { name: k, value: v })
                .collect();
            name = c
                .iter()
                .find(|(k, _)| k == "name")
                .map_or("", |(_, v)| v.as_str());
            DemoAwayState::Done {
                name,
                claims: &claims,
            }
        }
        Some(Ended::Failed(reason)) => DemoAwayState::Failed { reason },
    };
    let again = match kind {
        DemoAway::CallCentre => "/demo/callcentre",
        DemoAway::Kiosk => "/demo/kiosk",
    };
    let body = site::page(pages::demo_away(&DemoAwayView {
        lang: ctx.lang,
        kind,
        state,
        again_href: again,
        home_href: "/demo",
        lang_ko_href: &ko,
        lang_en_href: &en,
    }))?;
    Ok(respond::html(StatusCode::OK, body))
}
