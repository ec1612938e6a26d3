//! `/token`: a site redeems a grant for an ID token and an access token.
//!
//! Client authentication compares secrets in constant time. Each grant type
//! (the authorization code here, the device code in [`super::device`], CIBA
//! in [`super::ciba`]) only
//! decides whether its grant holds and what it carries ([`Granted`]); the
//! tokens are issued by one function for all, so what a site receives does
//! not depend on how the citizen logged in. A grant is taken from the store
//! in one step, so it works once; a second presentation is logged as a
//! replay and revokes the access token the first one produced. Each access
//! token is listed under its single sign-on ([`crate::sso`]), so a logout
//! revokes it.

use super::client_assertion;
use super::grant::{self, AccessRecord, CodeRecord, UsedCode};
use crate::app::App;
use crate::config::model::OidcClient;
use crate::random;
use crate::web::{self, respond, Params, Response};
use base64::Engine as _;
use http::{header, HeaderValue, StatusCode};
use hyper::body::Incoming;
use serde::Serialize;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// An RFC 6749 §5.2 error response.
#[derive(Debug)]
pub struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: &'static str,
    basic_challenge: bool,
}

pub(super) const fn err(
    status: StatusCode,
    error: &'static str,
    description: &'static str,
) -> TokenError {
    TokenError {
        status,
        error,
        description,
        basic_challenge: false,
    }
}

impl TokenError {
    /// The OAuth error code (`invalid_request`, …).
    pub fn code(&self) -> &'static str {
        self.error
    }

    /// Its description.
    pub fn description(&self) -> &'static str {
        self.description
    }

    pub fn response(&self) -> Response {
        let mut r = respond::json(
            self.status,
            &serde_json::json!({"error": self.error, "error_description": self.description}),
        );
        if self.basic_challenge {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"munjigi\""),
            );
        }
        r
    }
}

#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    azp: &'a str,
    exp: u64,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    sid: &'a str,
    #[serde(flatten)]
    claims: &'a munjigi_policy::Claims,
}

pub async fn handle(app: &App, req: http::Request<Incoming>, request_id: &str) -> Response {
    match redeem(app, req, request_id).await {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(
                error = e.error,
                description = e.description,
                req = request_id,
                "token request refused"
            );
            e.response()
        }
    }
}

/// `Basic base64(id:secret)` → (id, secret), each form-urlencoded before
/// base64 (RFC 6749 §2.3.1). Shared with the signing API.
pub fn parse_basic(v: &str) -> Option<(String, String)> {
    let b64 = crate::web::authorization::credentials(v, "Basic")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())?;
    let (id, secret) = raw.split_once(':')?;
    let dec = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((dec(id)?, dec(secret)?))
}

/// Which client is calling (at `/token`, `/device_authorization` and
/// `/bc-authorize`: `endpoint` is its URL), by `client_secret_basic`,
/// `client_secret_post`, `private_key_jwt` or (public) `none`. An assertion
/// may name the issuer, the token endpoint or `endpoint` as its audience
/// (CIBA §7.1 asks that of the backchannel endpoint).
pub(super) async fn authenticate<'a>(
    app: &'a App,
    headers: &http::HeaderMap,
    form: &Params,
    request_id: &str,
    endpoint: &str,
) -> Result<&'a OidcClient, TokenError> {
    let invalid = TokenError {
        basic_challenge: headers.contains_key(header::AUTHORIZATION),
        ..err(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        )
    };
    let assertion_type = form.get("client_assertion_type");
    let assertion = form.get("client_assertion");
    if assertion_type.is_some() || assertion.is_some() {
        if headers.contains_key(header::AUTHORIZATION) || form.get("client_secret").is_some() {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "use one client authentication method",
            ));
        }
        let (Some(kind), Some(token)) = (assertion_type, assertion) else {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client_assertion and client_assertion_type go together",
            ));
        };
        if kind != client_assertion::ASSERTION_TYPE {
            return Err(invalid);
        }
        let token_endpoint = format!("{}/token", app.config.issuer());
        let audiences = [token_endpoint.as_str(), app.config.issuer(), endpoint];
        return match client_assertion::authenticate(
            app,
            token,
            form.get("client_id"),
            &audiences,
            request_id,
        )
        .await
        {
            Ok((_, client)) => Ok(client),
            Err(client_assertion::Failure::Invalid) => Err(invalid),
            Err(client_assertion::Failure::Unavailable) => Err(err(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "try again shortly",
            )),
        };
    }
    let basic = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let v = v.to_str().map_err(|_| {
                err(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "malformed Authorization header",
                )
            })?;
            if !crate::web::authorization::scheme(v).eq_ignore_ascii_case("Basic") {
                return Err(err(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "only Basic client authentication is supported",
                ));
            }
            Some(parse_basic(v).ok_or(err(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "malformed Basic credentials",
            ))?)
        }
    };
    let post_secret = form.get("client_secret");
    let (client_id, secret) = match (&basic, post_secret) {
        (Some(_), Some(_)) => {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "use one client authentication method",
            ))
        }
        (Some((id, s)), None) => {
            if form.get("client_id").is_some_and(|f| f != id) {
                return Err(err(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "client_id differs from the authenticated client",
                ));
            }
            (id.clone(), Some(s.clone()))
        }
        (None, s) => (
            form.get("client_id")
                .ok_or(err(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "client_id is required",
                ))?
                .to_owned(),
            s.map(str::to_owned),
        ),
    };
    let Some((_, client)) = app.config.client(&client_id) else {
        return Err(invalid);
    };
    match (&client.secret, secret) {
        (Some(expected), Some(given)) if expected.matches(given.as_bytes()) => Ok(client),
        (None, None) if client.is_public() => Ok(client),
        _ => {
            tracing::warn!(client = %client_id, "client authentication failed");
            Err(invalid)
        }
    }
}

/// What a grant carries to the tokens, once the grant type has checked it.
pub(super) struct Granted {
    pub scope: String,
    pub claims: munjigi_policy::Claims,
    /// The single sign-on the login belongs to.
    pub sid: String,
    pub nonce: Option<String>,
    /// Where the grant is remembered as used (its digest), so a replay can
    /// revoke what this one issued.
    pub used_key: String,
}

pub(super) fn unavailable() -> TokenError {
    err(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "try again shortly",
    )
}

/// A grant presented again after it was used: revoke the access token its
/// first use produced (RFC 6749 §4.1.2), and say so (`MJ-O01`).
pub(super) async fn replayed(
    app: &App,
    used_key: &str,
    client: &OidcClient,
    grant: &'static str,
    request_id: &str,
) {
    if let Ok(Some(used)) = app.store.get(used_key).await {
        if let Ok(used) = serde_json::from_slice::<UsedCode>(&used) {
            let _ = app.store.delete(&used.access_token_key).await;
            tracing::warn!(code = "MJ-O01", grant, client = %client.client_id, first_client = %used.client_id, req = request_id, "grant replayed; its access token was revoked");
        }
    }
}

/// A form POST as RFC 6749 §3.2 asks of the token endpoint (and RFC 8628
/// §3.1 of the device authorization endpoint).
pub(super) async fn read_form(
    req: http::Request<Incoming>,
) -> Result<(http::request::Parts, Params), TokenError> {
    if req.method() != http::Method::POST {
        return Err(err(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "use POST",
        ));
    }
    let form_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "body must be application/x-www-form-urlencoded",
        ));
    }
    let (parts, body) = req.into_parts();
    let raw = web::read_body(body, web::params::MAX_PARAMS_LEN)
        .await
        .map_err(|_| {
            err(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "body too large",
            )
        })?;
    let form = Params::parse(&raw).map_err(|_| {
        err(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "malformed or repeated parameters",
        )
    })?;
    Ok((parts, form))
}

async fn redeem(
    app: &App,
    req: http::Request<Incoming>,
    request_id: &str,
) -> Result<Response, TokenError> {
    let (parts, form) = read_form(req).await?;
    let token_endpoint = format!("{}/token", app.config.issuer());
    let client = authenticate(app, &parts.headers, &form, request_id, &token_endpoint).await?;
    // One arm per grant type; each checks its grant and says what it carries.
    let granted = match form.get("grant_type") {
        Some("authorization_code") => code_grant(app, client, &form, request_id).await?,
        Some(super::device::GRANT_TYPE) => {
            super::device::redeem(app, client, &form, request_id).await?
        }
        Some(super::ciba::GRANT_TYPE) => {
            super::ciba::redeem(app, client, &form, request_id).await?
        }
        None => {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            ))
        }
        Some(_) => {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only authorization_code, the device code and CIBA are supported",
            ))
        }
    };
    issue(app, client, granted, request_id).await
}

/// The authorization code grant (RFC 6749 §4.1.3, PKCE RFC 7636 §4.6).
async fn code_grant(
    app: &App,
    client: &OidcClient,
    form: &Params,
    request_id: &str,
) -> Result<Granted, TokenError> {
    let code = form.get("code").ok_or(err(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "code is required",
    ))?;
    let invalid_grant = err(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "the code is invalid, expired or already used",
    );

    let Some(raw) = app
        .store
        .take(&grant::code_key(code))
        .await
        .map_err(|_| unavailable())?
    else {
        // Unknown, expired, or replayed: a replay revokes what the first use got.
        replayed(
            app,
            &grant::used_code_key(code),
            client,
            "authorization_code",
            request_id,
        )
        .await;
        return Err(invalid_grant);
    };
    let record: CodeRecord = serde_json::from_slice(&raw).map_err(|_| unavailable())?;
    if record.client_id != client.client_id {
        tracing::warn!(code = "MJ-O02", client = %client.client_id, req = request_id, "code presented by another client");
        return Err(invalid_grant);
    }
    if form.get("redirect_uri") != Some(record.redirect_uri.as_str()) {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&record.code_challenge, form.get("code_verifier")) {
        (None, None) => {}
        (Some(challenge), Some(verifier)) => {
            let well_formed = (43..=128).contains(&verifier.len())
                && verifier
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(openssl::sha::sha256(verifier.as_bytes()));
            let matches = computed.len() == challenge.len()
                && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()));
            if !(well_formed && matches) {
                tracing::warn!(code = "MJ-O03", client = %client.client_id, req = request_id, "PKCE verifier does not match");
                return Err(err(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "code_verifier is required",
            ))
        }
        (None, Some(_)) => {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "no code_challenge was sent for this code",
            ))
        }
    }

    Ok(Granted {
        scope: record.scope,
        claims: record.claims,
        sid: record.sid,
        nonce: record.nonce,
        used_key: grant::used_code_key(code),
    })
}

/// The tokens of a grant that holds, the same for every grant type: an
/// access token listed under its single sign-on, and an ID token.
async fn issue(
    app: &App,
    client: &OidcClient,
    record: Granted,
    request_id: &str,
) -> Result<Response, TokenError> {
    let now = app.clock.now();
    let access_token = random::token(32).map_err(|_| unavailable())?;
    let access = AccessRecord {
        client_id: client.client_id.clone(),
        scope: record.scope.clone(),
        claims: record.claims.clone(),
    };
    let ttl = Duration::from_secs(super::TOKEN_TTL_SECS);
    let access_bytes = serde_json::to_vec(&access).map_err(|_| unavailable())?;
    let at_key = grant::access_key(&access_token);
    let used = serde_json::to_vec(&UsedCode {
        client_id: client.client_id.clone(),
        access_token_key: at_key.clone(),
    })
    .map_err(|_| unavailable())?;
    // The access token and the grant's replay marker in one round trip.
    app.store
        .put_many(vec![
            (at_key.clone(), access_bytes, ttl),
            (record.used_key.clone(), used, Duration::from_secs(600)),
        ])
        .await
        .map_err(|_| unavailable())?;
    // Listed under the single sign-on it came from, whose logout revokes it
    // and tells the client (back- or front-channel); a code redeemed after
    // that logout gets nothing.
    let held = crate::sso::Held::AccessToken {
        client_id: client.client_id.clone(),
    };
    let party = crate::sso::Party::Oidc {
        client_id: client.client_id.clone(),
        sub: record.claims.sub.clone(),
    };
    let attached = crate::sso::attach_party(
        app,
        &record.sid,
        Some((held, &at_key, ttl)),
        party,
        app.config.session_ttl,
    );
    match attached.await {
        Ok(crate::sso::Attached::Yes) => {}
        Ok(crate::sso::Attached::Ended) => {
            tracing::info!(client = %client.client_id, req = request_id, "grant redeemed after its session's logout");
            return Err(err(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the login's session has ended",
            ));
        }
        Err(_) => {
            let _ = app.store.delete(&at_key).await;
            return Err(unavailable());
        }
    }

    let id_claims = IdTokenClaims {
        iss: app.config.issuer(),
        aud: &client.client_id,
        azp: &client.client_id,
        exp: now + super::TOKEN_TTL_SECS,
        iat: now,
        nonce: record.nonce.as_deref(),
        sid: &record.sid,
        claims: &record.claims,
    };
    let id_token = app
        .keys
        .sign(client.id_token_alg, "JWT", &id_claims)
        .map_err(|e| {
            tracing::error!(code = crate::rescue::Fault::Keys.code(), error = %e, "ID token signing failed");
            unavailable()
        })?;
    tracing::info!(client = %client.client_id, req = request_id, "tokens issued");
    let mut r = respond::json(
        StatusCode::OK,
        &serde_json::json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": super::TOKEN_TTL_SECS,
            "id_token": id_token,
            "scope": record.scope,
        }),
    );
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(r)
}
