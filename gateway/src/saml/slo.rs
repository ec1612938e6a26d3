//! `/saml/slo`: SP-initiated Single Logout.
//!
//! An SP's LogoutRequest (either binding) ends this browser's gateway session
//! when it names that session (its SessionIndex is the session's `sid`), and
//! is answered with a signed LogoutResponse to the SP's SingleLogoutService
//! from its metadata, by the request's binding when the SP offers it. The
//! request goes through the same layers as an AuthnRequest: shape, signature
//! by metadata keys (required whenever the SP has any), Destination,
//! freshness and one use.

use super::binding::{self, BINDING_POST, RSA_SHA256};
use super::error::{status, Refusal, SamlError};
use super::response::{issuer, new_id, sign, to_xml};
use crate::app::App;
use crate::login::session;
use crate::rescue::{Ctx, GatewayError};
use crate::web::{respond, Response};
use base64::Engine as _;
use hyper::body::Incoming;
use samael::schema::{LogoutRequest, LogoutResponse, Status, StatusCode as SamlStatusCode};
use std::io::Write as _;

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn issuer_of(r: &LogoutRequest) -> Option<String> {
    r.issuer
        .as_ref()
        .and_then(|i| i.value.clone())
        .filter(|v| !v.is_empty())
}

pub async fn handle(
    app: &App,
    req: http::Request<Incoming>,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    let (parts, body) = req.into_parts();
    let arrived = super::read_request(&parts, body, "LogoutRequest").await?;
    let unverified: LogoutRequest =
        arrived
            .xml
            .parse()
            .map_err(|e: samael::schema::LogoutRequestError| {
                SamlError::new(None, Refusal::Schema(e.to_string()))
            })?;
    let sp_id = issuer_of(&unverified).ok_or_else(|| SamlError::new(None, Refusal::NoIssuer))?;
    let refuse = |r: Refusal| GatewayError::from(SamlError::new(Some(&sp_id), r));
    let (_, saml) = app
        .config
        .saml_sp(&sp_id)
        .ok_or_else(|| refuse(Refusal::UnknownSp))?;
    let sp = saml.sp.clone();
    let trusted = binding::verify(
        &arrived,
        &sp.signing_keys,
        "LogoutRequest",
        !sp.signing_keys.is_empty(),
        saml.allow_sha1_digest,
    )
    .map_err(refuse)?;
    let request: LogoutRequest = trusted
        .xml
        .parse()
        .map_err(|e: samael::schema::LogoutRequestError| refuse(Refusal::Schema(e.to_string())))?;
    if issuer_of(&request).as_deref() != Some(sp_id.as_str()) {
        return Err(refuse(Refusal::BadSignature));
    }
    let slo_url = format!("{}/saml/slo", app.config.public_url);
    match request.destination.as_deref() {
        Some(d) if d == slo_url => {}
        None if !trusted.signed => {}
        _ => return Err(refuse(Refusal::Destination)),
    }
    let id = request
        .id
        .clone()
        .ok_or_else(|| refuse(Refusal::Schema("LogoutRequest has no ID".into())))?;
    if !request
        .issue_instant
        .is_some_and(|i| super::once::fresh(app, i))
    {
        return Err(refuse(Refusal::Stale));
    }
    if !super::once::first_use(app, &sp_id, "LogoutRequest", &id).await? {
        return Err(refuse(Refusal::Replayed));
    }
    let endpoint = sp.slo_endpoint(arrived.binding).ok_or_else(|| {
        refuse(Refusal::Unsupported(
            "the SP's metadata has no SingleLogoutService",
        ))
    })?;

    // End this browser's session when the request names it. An unsigned
    // request (an SP without keys) must name the session by its index, which
    // a third-party page cannot know: no logout by cross-site request.
    let mut ended = false;
    if let Some(ticket) = app.cookies.get(&parts.headers, session::COOKIE) {
        if let Some(s) = session::load(app, ticket).await? {
            let indexes = super::inbound::session_indexes(&trusted.xml).map_err(refuse)?;
            let names_it = if indexes.is_empty() {
                trusted.signed
            } else {
                indexes.contains(&super::session_index(&s.sid, &sp_id))
            };
            if names_it {
                session::end(app, ticket).await?;
                ended = true;
            }
        }
    }
    tracing::info!(sp = %sp_id, ended, req = %ctx.request_id, "SAML logout request answered");

    let destination = endpoint
        .response_url
        .clone()
        .unwrap_or_else(|| endpoint.url.clone());
    let response_id = new_id()?;
    let post = endpoint.binding == BINDING_POST;
    let response = LogoutResponse {
        id: Some(response_id.clone()),
        in_response_to: Some(id),
        version: Some("2.0".into()),
        issue_instant: Some(crate::clock::utc(app.clock.as_ref())),
        destination: Some(destination.clone()),
        consent: None,
        issuer: Some(issuer(app)),
        signature: None,
        status: Some(Status {
            status_code: SamlStatusCode {
                value: Some(status::SUCCESS.into()),
            },
            status_message: None,
            status_detail: None,
        }),
    };
    let xml = to_xml(&response)?;
    let mut resp = if post {
        let signed = sign(&xml, &response_id, app)?;
        super::sso::post_back(
            &destination,
            &signed,
            "SAMLResponse",
            arrived.relay_state.as_deref(),
            ctx,
        )?
    } else {
        respond::redirect(&redirect_url(
            app,
            &destination,
            &xml,
            arrived.relay_state.as_deref(),
        )?)
    };
    if ended {
        resp = respond::with_cookie(resp, &app.cookies.clear(session::COOKIE));
    }
    Ok(resp)
}

/// An HTTP-Redirect message: DEFLATE, base64, and the query signed as sent.
fn redirect_url(
    app: &App,
    to: &str,
    xml: &str,
    relay_state: Option<&str>,
) -> Result<String, GatewayError> {
    let internal =
        |e: &dyn std::fmt::Display| GatewayError::encode(format!("SAML redirect encoding: {e}"));
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflater
        .write_all(xml.as_bytes())
        .map_err(|e| internal(&e))?;
    let deflated = deflater.finish().map_err(|e| internal(&e))?;
    let mut query = format!(
        "SAMLResponse={}",
        enc(&base64::engine::general_purpose::STANDARD.encode(deflated))
    );
    if let Some(r) = relay_state {
        query.push_str("&RelayState=");
        query.push_str(&enc(r));
    }
    query.push_str("&SigAlg=");
    query.push_str(&enc(RSA_SHA256));
    let signature =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &app.saml_keys.key)
            .and_then(|mut s| s.sign_oneshot_to_vec(query.as_bytes()))
            .map_err(|e| internal(&e))?;
    query.push_str("&Signature=");
    query.push_str(&enc(
        &base64::engine::general_purpose::STANDARD.encode(signature)
    ));
    let sep = if to.contains('?') { '&' } else { '?' };
    Ok(format!("{to}{sep}{query}"))
}
