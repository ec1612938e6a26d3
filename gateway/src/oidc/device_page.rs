//! `/device`: where the citizen, on their own phone or computer, types the
//! code a device shows, confirms the site, and logs in as usual.
//!
//! Every code typed is counted before it is looked up, per client address
//! and in all ([`crate::limits::device_code`]): a user code is short enough
//! to guess, and random, so the guesser is what can be limited, not the
//! code. A wrong code and an expired one read the same, so the page is no
//! oracle. The forms carry a CSRF token derived from the browser cookie the
//! login itself is bound to, so another page cannot confirm a code in the
//! citizen's browser. After the confirmation the login is an ordinary one
//! (chooser, identity, push) whose front is [`Front::Device`].
//!
//! `GET /device/qr?user_code=…` draws `verification_uri_complete` as an SVG
//! QR code, so a kiosk's page can show it with one `<img>` and no service
//! elsewhere; it looks nothing up (a well-formed code is enough), so it
//! tells a guesser nothing.

use super::device::{self, DeviceRecord, DeviceReturn, DeviceState, Settled};
use crate::app::App;
use crate::login::{self, Front, LoginRequest, BROWSER_COOKIE};
use crate::pages::{self, DeviceEnd, DeviceStep, DeviceView};
use crate::random;
use crate::rescue::{Ctx, GatewayError};
use crate::txn::PolicySnapshot;
use crate::web::{self, respond, Params, Response};
use bytes::Bytes;
use http::{Method, StatusCode};
use hyper::body::Incoming;

/// The device forms' CSRF token for the browser whose cookie is `secret`.
fn csrf_for(secret: &str) -> String {
    use base64::Engine as _;
    let mac = munjigi_providers::hmac::sha256(secret.as_bytes(), &[b"munjigi-device-v1"]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
}

fn csrf_matches(secret: &str, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    let want = csrf_for(secret);
    want.len() == given.len() && bool::from(want.as_bytes().ct_eq(given.as_bytes()))
}

fn page(
    app: &App,
    ctx: &Ctx,
    csrf: &str,
    step: DeviceStep<'_>,
    status: StatusCode,
) -> Result<Response, GatewayError> {
    let action = format!("{}/device", app.config.public_url);
    let (ko, en) = ctx.lang_hrefs();
    let body = pages::device(&DeviceView {
        lang: ctx.lang,
        action: &action,
        csrf,
        step,
        lang_ko_href: &ko,
        lang_en_href: &en,
    })
    .map_err(GatewayError::render)?;
    Ok(respond::html(status, body))
}

/// The end of a device login, for the citizen: back to the device, or the
/// code ran out meanwhile.
pub fn finished(app: &App, ctx: &Ctx, settled: Settled) -> Result<Response, GatewayError> {
    let end = match settled {
        Settled::Done => DeviceEnd::Approved,
        Settled::TooLate => DeviceEnd::TooLate,
    };
    page(app, ctx, "", DeviceStep::Ended(end), StatusCode::OK)
}

/// The citizen declined the device login.
pub fn declined(app: &App, ctx: &Ctx) -> Result<Response, GatewayError> {
    page(
        app,
        ctx,
        "",
        DeviceStep::Ended(DeviceEnd::Declined),
        StatusCode::OK,
    )
}

pub async fn handle(
    app: &App,
    req: http::Request<Incoming>,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    let (parts, body) = req.into_parts();
    let cookie = app
        .cookies
        .get(&parts.headers, BROWSER_COOKIE)
        .filter(|v| v.len() == 43)
        .map(str::to_owned);
    if parts.method == Method::GET {
        let params = Params::parse(parts.uri.query().unwrap_or_default().as_bytes())?;
        let typed = params.get("user_code").unwrap_or_default();
        let value = device::normalise(typed).map_or_else(String::new, |c| device::display(&c));
        let (secret, new_cookie) = match cookie {
            Some(s) => (s, false),
            None => (random::token(32)?, true),
        };
        let step = DeviceStep::Enter {
            value: &value,
            wrong: false,
        };
        let resp = page(app, ctx, &csrf_for(&secret), step, StatusCode::OK)?;
        return Ok(if new_cookie {
            respond::with_cookie(resp, &app.cookies.set(BROWSER_COOKIE, &secret, None))
        } else {
            resp
        });
    }
    let form = Params::parse(&web::read_body(body, web::params::MAX_PARAMS_LEN).await?)?;
    let Some(secret) = cookie else {
        return Err(GatewayError::Csrf);
    };
    if !form
        .get("csrf")
        .is_some_and(|given| csrf_matches(&secret, given))
    {
        return Err(GatewayError::Csrf);
    }
    let csrf = csrf_for(&secret);
    // Counted before the lookup, right or wrong: a limit on wrong codes
    // alone would still answer a guesser's right ones.
    if let Err(e) = crate::limits::device_code(app, ctx.client).await {
        if let GatewayError::Limited(r) = &e {
            tracing::warn!(reason = %r, "device code entry refused: too many codes typed");
        }
        return Err(e);
    }
    let typed = form.get("user_code").unwrap_or_default();
    let wrong = |value: &str| {
        page(
            app,
            ctx,
            &csrf,
            DeviceStep::Enter { value, wrong: true },
            StatusCode::OK,
        )
    };
    let Some(code) = device::normalise(typed) else {
        tracing::info!(outcome = "malformed", "device code not accepted");
        return wrong("");
    };
    let Some((digest, rec)) = lookup(app, &code).await? else {
        tracing::info!(outcome = "unknown", "device code not accepted");
        return wrong(&device::display(&code));
    };
    let Some((site, _)) = app.config.client(&rec.client_id) else {
        return wrong(&device::display(&code));
    };
    let shown = device::display(&code);
    match form.get("action") {
        Some("confirm") => {}
        Some("cancel") => {
            device::deny(app, &digest).await?;
            tracing::info!(device = %rec.id, client = %rec.client_id, "device login cancelled at the confirmation");
            return declined(app, ctx);
        }
        _ => {
            let name = match ctx.lang {
                pages::Lang::Ko => site.name.as_str(),
                pages::Lang::En => site.name_en.as_str(),
            };
            let step = DeviceStep::Confirm {
                site: name,
                code: &shown,
            };
            return page(app, ctx, &csrf, step, StatusCode::OK);
        }
    }
    // Confirmed: an ordinary login of this browser, answered by approving
    // the device's record.
    let front = Front::Device(DeviceReturn {
        client_id: rec.client_id.clone(),
        device: digest,
        id: rec.id.clone(),
    });
    let request = LoginRequest {
        site_id: site.id.clone(),
        scope: rec.scope.clone(),
        required_level: rec.required_level,
        max_age: None,
        login_hint: None,
    };
    let policy = PolicySnapshot::from_policy(&site.policy);
    // Never answered from the browser's gateway session: a device code is
    // easily sent to someone else ("confirm your benefit here"), and two
    // clicks must not hand a stranger's device this citizen's identity. The
    // citizen approves in their certificate app, which names the site.
    let (resp, _) = login::begin(app, &parts.headers, front, request, policy, ctx).await?;
    Ok(resp)
}

/// The pending record a user code names, with its key's digest.
async fn lookup(app: &App, code: &str) -> Result<Option<(String, DeviceRecord)>, GatewayError> {
    let Some(digest) = app.store.get(&device::user_key(code)).await? else {
        return Ok(None);
    };
    let Ok(digest) = String::from_utf8(digest) else {
        return Ok(None);
    };
    let Some(raw) = app.store.get(&device::device_key(&digest)).await? else {
        return Ok(None);
    };
    let Ok(rec) = serde_json::from_slice::<DeviceRecord>(&raw) else {
        return Ok(None);
    };
    let live = app.clock.now() < rec.expires_at && matches!(rec.state, DeviceState::Pending);
    Ok(live.then_some((digest, rec)))
}

/// `GET /device/qr?user_code=…`: `verification_uri_complete` as an SVG QR code.
pub fn qr(app: &App, req: &http::Request<Incoming>) -> Result<Response, GatewayError> {
    let params = Params::parse(req.uri().query().unwrap_or_default().as_bytes())?;
    let code = params
        .get("user_code")
        .and_then(device::normalise)
        .ok_or_else(|| GatewayError::BadRequest("user_code is not a device code".into()))?;
    let url = web::params::append_query(
        &format!("{}/device", app.config.public_url),
        &[("user_code", &device::display(&code))],
    );
    let svg = qr_svg(&url)?;
    let mut r = respond::asset_bytes("image/svg+xml", Bytes::from(svg));
    r.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    Ok(r)
}

/// `text` as an SVG QR code for inside a page: no XML declaration, no
/// namespace (HTML gives inline `<svg>` its own).
pub fn qr_inline(text: &str) -> Result<String, GatewayError> {
    let svg = qr_svg(text)?;
    let start = svg.find("<svg").unwrap_or(0);
    Ok(svg.get(start..).unwrap_or_default().replacen(
        " xmlns=\"http://www.w3.org/2000/svg\"",
        "",
        1,
    ))
}

/// `text` as an SVG QR code (medium error correction, a quiet zone).
pub fn qr_svg(text: &str) -> Result<String, GatewayError> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| GatewayError::encode(format!("QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_is_the_browsers_own() {
        let a = csrf_for("a".repeat(43).as_str());
        assert!(csrf_matches(&"a".repeat(43), &a));
        assert!(!csrf_matches(&"b".repeat(43), &a));
        assert!(!csrf_matches(&"a".repeat(43), ""));
    }

    #[test]
    fn the_qr_code_is_an_svg_of_the_url() {
        let svg = qr_svg("https://login.example/device?user_code=BCDF-GHJK").unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(!svg.contains("<script"));
    }
}
