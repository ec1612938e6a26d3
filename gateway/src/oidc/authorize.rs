//! `/authorize`: where a site sends the citizen's browser.
//!
//! Order matters (RFC 6749 §4.1.2.1): until the client and its exact redirect URI
//! are known, errors are shown as a page, never redirected, so the gateway cannot
//! be turned into an open redirector. After that, errors go back to the site.

use super::{grant, OidcReturn};
use crate::app::App;
use crate::login::{self, Front, LoginRequest};
use crate::metrics::Left;
use crate::rescue::{Ctx, GatewayError};
use crate::txn::PolicySnapshot;
use crate::web::{respond, Params, Response};
use crate::{random, web};
use base64::Engine as _;
use http::Method;
use hyper::body::Incoming;

pub async fn handle(
    app: &App,
    req: http::Request<Incoming>,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    let (parts, body) = req.into_parts();
    let (params, repeated) = match parts.method {
        Method::GET => {
            Params::parse_noting_repeats(parts.uri.query().unwrap_or_default().as_bytes())?
        }
        Method::POST => {
            Params::parse_noting_repeats(&web::read_body(body, web::params::MAX_PARAMS_LEN).await?)?
        }
        _ => return Err(GatewayError::MethodNotAllowed),
    };
    // A repeated client_id or redirect_uri leaves nowhere safe to send the
    // error: a page, as any other malformed request.
    if let Some(k) = repeated
        .iter()
        .find(|k| matches!(k.as_str(), "client_id" | "redirect_uri"))
    {
        return Err(web::params::ParamError::Repeated(k.clone()).into());
    }

    // 1. Client and redirect URI: failures here are pages.
    let client_id = params.get("client_id").ok_or(GatewayError::UnknownClient)?;
    let (site, client) = app
        .config
        .client(client_id)
        .ok_or(GatewayError::UnknownClient)?;
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or(GatewayError::InvalidRedirect)?;
    if !client.has_redirect_uri(redirect_uri) {
        return Err(GatewayError::InvalidRedirect);
    }
    let state = params.get("state");
    let request_id = ctx.request_id.clone();
    let fail = |error: &str, description: &str| {
        tracing::info!(client = client_id, error, description, req = %request_id, "authorization request refused");
        Ok(respond::redirect(&grant::error_redirect(
            app,
            redirect_uri,
            error,
            description,
            state,
        )))
    };

    // 2. Everything else: errors go back to the site (RFC 6749 §4.1.2.1),
    // a repeated parameter first (its values were dropped, `state` too).
    if let Some(k) = repeated.first() {
        // error_description allows printable ASCII only; a name is echoed
        // only when it is a plain one.
        let plain = k
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        let description = if plain {
            format!("parameter {k} appears more than once")
        } else {
            "a parameter appears more than once".to_owned()
        };
        return fail("invalid_request", &description);
    }
    if state.is_some_and(|s| s.len() > 1024) {
        return fail("invalid_request", "state is too long");
    }
    if params.get("request").is_some() {
        return fail("request_not_supported", "request objects are not supported");
    }
    if params.get("request_uri").is_some() {
        return fail("request_uri_not_supported", "request_uri is not supported");
    }
    match params.get("response_type") {
        Some("code") => {}
        None => return fail("invalid_request", "response_type is required"),
        Some(_) => {
            return fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            )
        }
    }
    if params.get("response_mode").is_some_and(|m| m != "query") {
        return fail("invalid_request", "only response_mode=query is supported");
    }
    let scopes = match params.get("scope").map(munjigi_policy::Scopes::parse) {
        Some(Ok(s)) => s,
        _ => return fail("invalid_scope", "scope must include openid"),
    };
    let nonce = params.get("nonce");
    if nonce.is_some_and(|n| n.len() > 512) {
        return fail("invalid_request", "nonce is too long");
    }
    let code_challenge = params.get("code_challenge");
    match (code_challenge, params.get("code_challenge_method")) {
        (None, None) => {
            if client.is_public() {
                return fail(
                    "invalid_request",
                    "PKCE (code_challenge with S256) is required for public clients",
                );
            }
        }
        (Some(c), Some("S256")) => {
            let ok = c.len() == 43
                && base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(c)
                    .is_ok();
            if !ok {
                return fail(
                    "invalid_request",
                    "code_challenge must be a base64url SHA-256 (43 characters)",
                );
            }
        }
        (Some(_), None) | (Some(_), Some(_)) => {
            return fail("invalid_request", "code_challenge_method must be S256")
        }
        (None, Some(_)) => {
            return fail(
                "invalid_request",
                "code_challenge_method without code_challenge",
            )
        }
    }
    let prompts: Vec<&str> = params
        .get("prompt")
        .map(|p| p.split(' ').collect())
        .unwrap_or_default();
    if prompts.contains(&"none") && prompts.len() > 1 {
        return fail(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        );
    }
    if prompts
        .iter()
        .any(|p| !["none", "login", "consent", "select_account"].contains(p))
    {
        return fail("invalid_request", "unknown prompt value");
    }
    let max_age = match params.get("max_age").map(str::parse::<u64>) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => return fail("invalid_request", "max_age must be a non-negative integer"),
    };
    let required_level = munjigi_policy::required_level(&site.policy, params.get("acr_values"));
    let policy = PolicySnapshot::from_policy(&site.policy);
    if !login::any_provider_fits(app, &policy, required_level) {
        return fail(
            "unmet_authentication_requirements",
            "no provider offers the requested assurance level",
        );
    }
    let login_hint = params
        .get("login_hint")
        .and_then(|h| munjigi_providers::Phone::parse(h).ok())
        .map(|p| p.national());

    let front = Front::Oidc(OidcReturn {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        state: state.map(str::to_owned),
        nonce: nonce.map(str::to_owned),
        code_challenge: code_challenge.map(str::to_owned),
    });
    let request = LoginRequest {
        site_id: site.id.clone(),
        scope: scopes.as_str(),
        required_level,
        max_age,
        login_hint,
    };

    // 3. Single sign-on: reuse a fresh enough session of this browser.
    if !prompts.contains(&"login") {
        if let Some(s) = login::reusable(app, &parts.headers, &request, &policy).await? {
            let txn_id = random::token(16)?;
            tracing::info!(txn = %txn_id, client = client_id, "login answered from the gateway session");
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
    }
    if prompts.contains(&"none") {
        return fail("login_required", "the citizen must log in");
    }

    // 4. A new login transaction, bound to this browser.
    match login::begin(app, &parts.headers, front, request, policy, ctx).await {
        Ok((resp, _)) => Ok(resp),
        // The site's own rate: the site hears it, not the citizen.
        Err(GatewayError::Limited(r)) if !r.kind.tells_citizen() => {
            tracing::warn!(code = "MJ-L04", site = %r.site, reason = %r, "login start refused by the site's limit");
            fail(
                "temporarily_unavailable",
                "too many logins for this site right now; try again shortly",
            )
        }
        Err(e) => Err(e),
    }
}
