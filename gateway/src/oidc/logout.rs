//! `/logout`: OpenID Connect RP-initiated logout.
//!
//! Ends the gateway session and, when the site names a `post_logout_redirect_uri`
//! that is registered exactly for it, returns there with `state`; otherwise
//! shows a "you are logged out" page. The site is identified by `client_id` or by
//! the audience of an `id_token_hint` we signed (expired hints are fine).

use super::session;
use crate::app::App;
use crate::config::model::IdTokenAlg;
use crate::pages::{self, LoggedOutView};
use crate::rescue::{Ctx, GatewayError};
use crate::web::{self, params::append_query, respond, Params, Response};
use http::{Method, StatusCode};
use hyper::body::Incoming;
use josekit::jws::{ES256, RS256};

/// The client a valid `id_token_hint` was issued to.
fn hint_audience(app: &App, hint: &str) -> Option<String> {
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
            return payload
                .audience()
                .and_then(|a| a.first().map(|s| (*s).to_owned()));
        }
    }
    None
}

pub async fn handle(
    app: &App,
    req: http::Request<Incoming>,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    let (parts, body) = req.into_parts();
    let params = match parts.method {
        Method::GET => Params::from_query(&parts.uri)?,
        Method::POST => Params::parse(&web::read_body(body, web::params::MAX_PARAMS_LEN).await?)?,
        _ => return Err(GatewayError::MethodNotAllowed),
    };
    let hint_client = match params.get("id_token_hint") {
        Some(h) => Some(hint_audience(app, h).ok_or_else(|| {
            GatewayError::BadRequest("id_token_hint is not a token of this gateway".into())
        })?),
        None => None,
    };
    let client_id = match (params.get("client_id"), hint_client.as_deref()) {
        (Some(a), Some(b)) if a != b => {
            return Err(GatewayError::BadRequest(
                "client_id differs from the id_token_hint audience".into(),
            ))
        }
        (Some(a), _) => Some(a.to_owned()),
        (None, b) => b.map(str::to_owned),
    };
    let target = match params.get("post_logout_redirect_uri") {
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
            Some(match params.get("state") {
                Some(s) => append_query(uri, &[("state", s)]),
                None => uri.to_owned(),
            })
        }
    };

    if let Some(ticket) = app.cookies.get(&parts.headers, session::COOKIE) {
        session::end(app, ticket).await?;
    }
    tracing::info!(client = client_id.as_deref().unwrap_or("-"), req = %ctx.request_id, "gateway session ended");
    let resp = match target {
        Some(url) => respond::redirect(&url),
        None => {
            let (ko, en) = ctx.lang_hrefs();
            let body = pages::logged_out(&LoggedOutView {
                lang: ctx.lang,
                back_href: None,
                lang_ko_href: &ko,
                lang_en_href: &en,
            })
            .map_err(|e| GatewayError::Internal(e.to_string()))?;
            respond::html(StatusCode::OK, body)
        }
    };
    Ok(respond::with_cookie(
        resp,
        &app.cookies.clear(session::COOKIE),
    ))
}
