//! `/saml/slo`: SAML Single Logout, both directions.
//!
//! A LogoutRequest from an SP (either binding) goes through the same layers
//! as an AuthnRequest (shape, signature by metadata keys, required whenever
//! the SP has any, Destination, freshness, one use), and then must be about
//! this browser's session *as that SP knows it* (SAML core §3.7.3.2): the SP
//! took part in the session, the NameID is the one it was given, and a
//! SessionIndex, when sent, is that SP's own. An unsigned request (an SP
//! without keys) must also carry the SessionIndex, which a third-party page
//! cannot know: no logout by cross-site request. A request that names
//! another subject, or comes from an SP that was never part of the session,
//! ends nothing and is answered `Requester`/`UnknownPrincipal`. One that
//! matches ends the single sign-on and tells every other site
//! ([`crate::logout`]); the SP's signed LogoutResponse comes last, with
//! `PartialLogout` when some site did not confirm.
//!
//! A LogoutResponse is an SP's answer to a LogoutRequest we sent while
//! carrying a logout through the browser ([`crate::logout::chain`]).
//!
//! Either message by HTTP-POST comes from the SP's page, cross-site, without
//! our `SameSite=Lax` cookies: it is first posted again by a page of ours
//! ([`super::bounce`]), so it is judged with the browser's session in hand rather
//! than answered "no session, Success" while the session lives on. During a
//! rolling upgrade, a session whose index a previous replica wrote lists no
//! parties; then the SessionIndex rule alone decides, as before.

use super::binding::{self, BINDING_POST};
use super::error::{status, Refusal, SamlError};
use crate::app::App;
use crate::login::session;
use crate::logout::{Finish, SamlAnswer};
use crate::rescue::{Ctx, GatewayError};
use crate::sso::Party;
use crate::web::{respond, Response};
use hyper::body::Incoming;
use samael::schema::LogoutRequest;

/// The second-level status for a request about someone this SP does not
/// share a session with here.
const UNKNOWN_PRINCIPAL: &str = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal";

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
    let kinds = [
        ("SAMLRequest", "LogoutRequest"),
        ("SAMLResponse", "LogoutResponse"),
    ];
    let form = match parts.method {
        http::Method::POST => Some(super::read_form(body).await?),
        _ => None,
    };
    // Read (and refused if malformed) before anything else, bounced or not.
    let (kind, arrived) = super::message_of(&parts, form.as_deref(), &kinds)?;
    if let Some(form) = &form {
        if let Some(page) = super::bounce(app, &parts.headers, form, "/saml/slo", ctx)? {
            return Ok(page);
        }
    }
    if kind == "SAMLResponse" {
        return crate::logout::chain::on_response(app, &parts.headers, arrived, ctx).await;
    }
    let unverified: LogoutRequest =
        arrived
            .xml
            .parse()
            .map_err(|e: samael::schema::LogoutRequestError| {
                SamlError::new(None, Refusal::Schema(e.to_string()))
            })?;
    let sp_id = issuer_of(&unverified).ok_or_else(|| SamlError::new(None, Refusal::NoIssuer))?;
    let refuse = |r: Refusal| GatewayError::from(SamlError::new(Some(&sp_id), r));
    let (site, saml) = app
        .config
        .saml_sp(&sp_id)
        .ok_or_else(|| refuse(Refusal::UnknownSp))?;
    let sp = super::remote_metadata::service_provider(app, &site.id, saml)
        .map_err(|u| refuse(Refusal::MetadataUnavailable(u.reason())))?;
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
    let name_id = super::inbound::logout_name_id(&trusted.xml).map_err(refuse)?;
    let indexes = super::inbound::session_indexes(&trusted.xml).map_err(refuse)?;
    if !super::once::first_use(app, &sp_id, "LogoutRequest", &id).await? {
        return Err(refuse(Refusal::Replayed));
    }
    let endpoint = sp.slo_endpoint(arrived.binding).ok_or_else(|| {
        refuse(Refusal::Unsupported(
            "the SP's metadata has no SingleLogoutService",
        ))
    })?;
    let answer = SamlAnswer {
        sp: sp_id.clone(),
        in_response_to: id,
        relay_state: arrived.relay_state.clone(),
        url: endpoint
            .response_url
            .clone()
            .unwrap_or_else(|| endpoint.url.clone()),
        post: endpoint.binding == BINDING_POST,
    };

    let Some(ticket) = app.cookies.get(&parts.headers, session::COOKIE) else {
        tracing::info!(sp = %sp_id, req = %ctx.request_id, "SAML logout request: no gateway session in this browser");
        return super::logout_out::response(app, &answer, false, None)?.send(ctx);
    };
    let Some(s) = session::load(app, ticket).await? else {
        tracing::info!(sp = %sp_id, req = %ctx.request_id, "SAML logout request: the gateway session had already ended");
        let out = super::logout_out::response(app, &answer, false, None)?;
        return Ok(respond::with_cookie(
            out.send(ctx)?,
            &app.cookies.clear(session::COOKIE),
        ));
    };
    let own_index = super::session_index(&s.sid, &sp_id);
    let index_ok = if indexes.is_empty() {
        trusted.signed
    } else {
        indexes.contains(&own_index)
    };
    let why_not = match crate::sso::parties(app, &s.sid).await? {
        // The index was written by a replica that does not list parties
        // (a rolling upgrade): the SessionIndex rule alone, as before.
        None if index_ok => None,
        None => Some("the SessionIndex is not this session's"),
        Some(parties) => {
            let this_sp = parties.iter().find(|p| match p {
                Party::Saml { entity_id, .. } => *entity_id == sp_id,
                Party::Oidc { .. } => false,
            });
            match this_sp {
                None => Some("the SP took no part in this browser's session"),
                Some(p) if !p.gave(&name_id) => Some("the NameID is not the one this SP was given"),
                Some(_) if !index_ok && indexes.is_empty() => {
                    Some("an unsigned request must name the session by its SessionIndex")
                }
                Some(_) if !index_ok => Some("the SessionIndex is not this session's"),
                Some(_) => None,
            }
        }
    };
    if let Some(why) = why_not {
        tracing::warn!(sp = %sp_id, reason = why, req = %ctx.request_id, "SAML logout request refused: it does not name this browser's session");
        let refused = Some((status::REQUESTER, UNKNOWN_PRINCIPAL));
        return super::logout_out::response(app, &answer, false, refused)?.send(ctx);
    }
    let ended = session::end(app, ticket).await?;
    tracing::info!(sp = %sp_id, req = %ctx.request_id, "SAML logout request: the gateway session ended");
    let resp = match ended {
        Some((sid, ended)) => {
            let asker = Some(crate::logout::Asker::Saml(&sp_id));
            crate::logout::propagate(app, &sid, ended, asker, Finish::Saml(answer), ctx).await?
        }
        None => super::logout_out::response(app, &answer, false, None)?.send(ctx)?,
    };
    Ok(respond::with_cookie(
        resp,
        &app.cookies.clear(session::COOKIE),
    ))
}
