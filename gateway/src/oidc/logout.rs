//! `/logout`: OpenID Connect RP-initiated logout, confirmed by the citizen
//! unless the site proves the request is about this very session.
//!
//! A logout changes state, and a bare GET can come from any page
//! (`<img src=/logout>`): so the single sign-on ends at once only with an
//! `id_token_hint` we signed whose `sid` is the session's (RP-Initiated Logout
//! 1.0 §2: without one, the OP asks the End-User). Otherwise the citizen sees
//! "Log out of Munjigi?", a POST form whose CSRF token is derived from the
//! session ticket ([`session::logout_csrf`]): bound to this browser, stored
//! nowhere, compared in constant time. A POST without it, or with another,
//! shows the question again (403); it never ends the session.
//!
//! Ending is [`crate::sso::end_everything`] (via [`session::end`]): the
//! gateway session, the proxy sessions and the access tokens it handed out.
//! Every other site of the session is then told ([`crate::logout`]). Then,
//! when the site names a `post_logout_redirect_uri` registered exactly for
//! it, the browser returns there with `state`; otherwise it sees "you are
//! logged out" (and, either way, which sites did not confirm). The site is identified by `client_id` or by the audience of an
//! `id_token_hint` (expired hints are fine). Without a live session there is
//! nothing to end and nothing to confirm.

use crate::app::App;
use crate::config::model::IdTokenAlg;
use crate::login::session;
use crate::logout::Finish;
use crate::pages::{self, LoggedOutView, LogoutConfirmView};
use crate::rescue::{Ctx, GatewayError};
use crate::web::{self, params::append_query, respond, Params, Response};
use http::{Method, StatusCode};
use hyper::body::Incoming;
use josekit::jws::{ES256, RS256};

/// What a valid `id_token_hint` tells: the client it was issued to and the
/// session it came from.
struct Hint {
    aud: Option<String>,
    sid: Option<String>,
}

/// The hint's claims, if we signed it for our issuer.
fn read_hint(app: &App, hint: &str) -> Option<Hint> {
    for alg in [IdTokenAlg::Es256, IdTokenAlg::Rs256] {
        let jwk = app.keys.public_jwk(alg);
        let decoded = match alg {
            IdTokenAlg::Es256 => ES256
                .verifier_from_jwk(jwk)
                .ok()
                .and_then(|v| josekit::jwt::decode_with_verifier(hint, &v).ok()),
            IdTokenAlg::Rs256 => RS256
                .verifier_from_jwk(jwk)
                .ok()
                .and_then(|v| josekit::jwt::decode_with_verifier(hint, &v).ok()),
        };
        if let Some((payload, _)) = decoded {
            if payload.issuer() != Some(app.config.issuer()) {
                return None;
            }
            return Some(Hint {
                aud: payload
                    .audience()
                    .and_then(|a| a.first().map(|s| (*s).to_owned())),
                sid: payload
                    .claim("sid")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
            });
        }
    }
    None
}

/// The parameters carried through the confirmation, already checked.
struct Asked {
    client_id: Option<String>,
    redirect: Option<(String, Option<String>)>,
}

impl Asked {
    fn target(&self) -> Option<String> {
        self.redirect.as_ref().map(|(uri, state)| match state {
            Some(s) => append_query(uri, &[("state", s)]),
            None => uri.clone(),
        })
    }
}

fn checked(app: &App, params: &Params, hint: Option<&Hint>) -> Result<Asked, GatewayError> {
    let hint_client = hint.and_then(|h| h.aud.as_deref());
    let client_id = match (params.get("client_id"), hint_client) {
        (Some(a), Some(b)) if a != b => {
            return Err(GatewayError::BadRequest(
                "client_id differs from the id_token_hint audience".into(),
            ))
        }
        (Some(a), _) => Some(a.to_owned()),
        (None, b) => b.map(str::to_owned),
    };
    // A client_id the site sends must be one we know (a hint's audience
    // removed by a reload since still lets the citizen log out).
    if let Some(id) = params.get("client_id") {
        if app.config.client(id).is_none() {
            return Err(GatewayError::UnknownClient);
        }
    }
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let client = client_id
                .as_deref()
                .and_then(|id| app.config.client(id))
                .map(|(_, c)| c)
                .ok_or(GatewayError::InvalidRedirect)?;
            if !client.has_post_logout_uri(uri) {
                return Err(GatewayError::InvalidRedirect);
            }
            // As at `/authorize`: a state is the site's, but not a payload.
            if params.get("state").is_some_and(|st| st.len() > 1024) {
                return Err(GatewayError::BadRequest("state is too long".into()));
            }
            Some((uri.to_owned(), params.get("state").map(str::to_owned)))
        }
    };
    Ok(Asked {
        client_id,
        redirect,
    })
}

/// Why a logout was not carried out at once (logged; never personal data).
#[derive(Debug, Clone, Copy)]
enum Unconfirmed {
    NoHint,
    OtherSession,
    BadCsrf,
}

impl Unconfirmed {
    fn as_str(self) -> &'static str {
        match self {
            Self::NoHint => "no_hint",
            Self::OtherSession => "hint_of_another_session",
            Self::BadCsrf => "csrf_missing_or_wrong",
        }
    }
}

pub async fn handle(
    app: &App,
    req: http::Request<Incoming>,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    let (parts, body) = req.into_parts();
    let posted = match parts.method {
        Method::GET => false,
        Method::POST => true,
        _ => return Err(GatewayError::MethodNotAllowed),
    };
    let params = if posted {
        Params::parse(&web::read_body(body, web::params::MAX_PARAMS_LEN).await?)?
    } else {
        Params::from_query(&parts.uri)?
    };
    let hint = match params.get("id_token_hint") {
        Some(h) => Some(read_hint(app, h).ok_or_else(|| {
            GatewayError::BadRequest("id_token_hint is not a token of this gateway".into())
        })?),
        None => None,
    };
    let request = checked(app, &params, hint.as_ref())?;
    let client = request.client_id.as_deref().unwrap_or("-");

    let ticket = app.cookies.get(&parts.headers, session::COOKIE);
    let current = match ticket {
        Some(t) => session::load(app, t).await?.map(|s| (t, s)),
        None => None,
    };
    if let Some((ticket, s)) = current {
        let hint_is_this_session = hint
            .as_ref()
            .and_then(|h| h.sid.as_deref())
            .is_some_and(|sid| sid == s.sid);
        let csrf_ok = posted
            && params
                .get("csrf")
                .is_some_and(|given| session::logout_csrf_matches(ticket, given));
        if !(hint_is_this_session || csrf_ok) {
            let why = match (&hint, posted) {
                (_, true) => Unconfirmed::BadCsrf,
                (Some(_), false) => Unconfirmed::OtherSession,
                (None, false) => Unconfirmed::NoHint,
            };
            tracing::info!(client, reason = why.as_str(), req = %ctx.request_id, "logout awaits the citizen's confirmation");
            let status = if posted {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::OK
            };
            return confirmation(app, ctx, ticket, &request, None, posted, status);
        }
        let ended = session::end(app, ticket).await?;
        tracing::info!(client, sid = %s.sid, req = %ctx.request_id, "gateway session ended");
        if let Some((sid, ended)) = ended {
            let finish = match request.target() {
                Some(url) => Finish::Redirect(url),
                None => Finish::Page { back_href: None },
            };
            // The site that asked is not told again when it is proven: by
            // its ID token, or because the browser ends up at its own
            // registered post_logout_redirect_uri (arriving there tells it).
            // A bare client_id skips nobody.
            let asker = hint
                .as_ref()
                .and_then(|h| h.aud.as_deref())
                .or(request.redirect.as_ref().and(request.client_id.as_deref()))
                .map(crate::logout::Asker::Oidc);
            let resp = crate::logout::propagate(app, &sid, ended, asker, finish, ctx).await?;
            return Ok(respond::with_cookie(
                resp,
                &app.cookies.clear(session::COOKIE),
            ));
        }
    }
    let resp = match request.target() {
        Some(url) => respond::redirect(&url),
        None => logged_out_page(ctx, None)?,
    };
    Ok(respond::with_cookie(
        resp,
        &app.cookies.clear(session::COOKIE),
    ))
}

/// The "Log out of Munjigi?" page for the browser holding `ticket`; its form
/// posts to `/logout`.
fn confirmation(
    app: &App,
    ctx: &Ctx,
    ticket: &str,
    request: &Asked,
    back_href: Option<&str>,
    retry: bool,
    status: StatusCode,
) -> Result<Response, GatewayError> {
    let csrf = session::logout_csrf(ticket);
    let mut carry: Vec<(&str, &str)> = Vec::new();
    if let Some(c) = &request.client_id {
        carry.push(("client_id", c));
    }
    if let Some((uri, state)) = &request.redirect {
        carry.push(("post_logout_redirect_uri", uri));
        if let Some(s) = state {
            carry.push(("state", s));
        }
    }
    let action = format!("{}/logout", app.config.public_url);
    let (ko, en) = ctx.lang_hrefs();
    let body = pages::logout_confirm(&LogoutConfirmView {
        lang: ctx.lang,
        action: &action,
        csrf: &csrf,
        carry: &carry,
        retry,
        back_href,
        lang_ko_href: &ko,
        lang_en_href: &en,
    })
    .map_err(GatewayError::render)?;
    Ok(respond::html(status, body))
}

/// The confirmation for a logout that names no site: the proxy's, after a
/// route's `/.munjigi/logout` ended its own session.
pub fn confirmation_for_browser(
    app: &App,
    ctx: &Ctx,
    ticket: &str,
    back_href: Option<&str>,
) -> Result<Response, GatewayError> {
    let request = Asked {
        client_id: None,
        redirect: None,
    };
    confirmation(app, ctx, ticket, &request, back_href, false, StatusCode::OK)
}

/// "You are logged out".
pub fn logged_out_page(ctx: &Ctx, back_href: Option<&str>) -> Result<Response, GatewayError> {
    let (ko, en) = ctx.lang_hrefs();
    let body = pages::logged_out(&LoggedOutView {
        lang: ctx.lang,
        back_href,
        unconfirmed: &[],
        frames: &[],
        next: None,
        auto: false,
        lang_ko_href: &ko,
        lang_en_href: &en,
    })
    .map_err(GatewayError::render)?;
    Ok(respond::html(StatusCode::OK, body))
}
