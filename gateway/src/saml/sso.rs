//! `/saml/sso` and `/saml/init`: an AuthnRequest (or an IdP-initiated start)
//! becomes a login; a finished login becomes a Response posted to the ACS.
//!
//! Order matters, as for OIDC's redirect URI: until the SP is known, its
//! signature verified as its metadata or site policy requires, and the ACS
//! resolved from its metadata, every refusal is a page (answering would post
//! to a place nobody vouched for). After that, refusals go back to the ACS as
//! a signed status. Every refusal logs one line naming the SP and the reason.
//!
//! The SP is named by the request's `saml:Issuer`, which samael finds by local
//! name alone; the scan has made sure the root's `Issuer` child is in the
//! SAML assertion namespace (an `Issuer` from another namespace is refused).

use super::binding::{self, Arrived};
use super::error::{Refusal, SamlError};
use super::response::{self, Success, NAMEID_PERSISTENT, NAMEID_TRANSIENT, NAMEID_UNSPECIFIED};
use super::SamlReturn;
use crate::app::App;
use crate::config::model::{SamlSite, Site};
use crate::login::{self, Front, LoginRequest};
use crate::metrics::Left;
use crate::random;
use crate::rescue::{Ctx, GatewayError};
use crate::txn::{Outcome, PolicySnapshot};
use crate::web::Response;
use http::Method;
use hyper::body::Incoming;
use munjigi_providers::Level;
use samael::schema::{AuthnContextComparison, AuthnRequest};

/// The SP's metadata in use for `site` (a file's, or its URL's copy).
fn current_sp(
    app: &App,
    site: &Site,
    saml: &SamlSite,
) -> Result<std::sync::Arc<super::sp::ServiceProvider>, Refusal> {
    super::remote_metadata::service_provider(app, &site.id, saml)
        .map_err(|u| Refusal::MetadataUnavailable(u.reason()))
}

fn sso_url(app: &App) -> String {
    format!("{}/saml/sso", app.config.public_url)
}

/// `/saml/sso`, both bindings.
pub async fn handle(
    app: &App,
    req: http::Request<Incoming>,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    let (parts, body) = req.into_parts();
    let form = match parts.method {
        http::Method::POST => Some(super::read_form(body).await?),
        _ => None,
    };
    let (_, arrived) =
        super::message_of(&parts, form.as_deref(), &[("SAMLRequest", "AuthnRequest")])?;
    let (site, saml, ret, request) = match accept(app, &arrived).await {
        Ok(Accepted::Login {
            site,
            saml,
            ret,
            request,
        }) => (site, saml, ret, request),
        Ok(Accepted::Answer {
            saml_sp,
            ret,
            refusal,
        }) => return answer(app, &saml_sp, &ret, &refusal, ctx),
        Err(e) => return Err(e),
    };
    start(
        app,
        &parts.headers,
        site,
        saml,
        ret,
        request.force_authn.unwrap_or(false),
        request.is_passive.unwrap_or(false),
        ctx,
    )
    .await
}

enum Accepted<'a> {
    Login {
        site: &'a Site,
        saml: &'a SamlSite,
        ret: SamlReturn,
        request: Box<AuthnRequest>,
    },
    /// Trustworthy enough to answer the SP with a status.
    Answer {
        saml_sp: String,
        ret: SamlReturn,
        refusal: Refusal,
    },
}

fn issuer_of(r: &AuthnRequest) -> Option<String> {
    r.issuer
        .as_ref()
        .and_then(|i| i.value.clone())
        .filter(|v| !v.is_empty())
}

/// Everything from "who sent this" to "what do they want".
async fn accept<'a>(app: &'a App, arrived: &Arrived) -> Result<Accepted<'a>, GatewayError> {
    // Who claims to send it: read from the unverified message only to pick
    // the keys, then read again from what the signature covered.
    let unverified: AuthnRequest =
        arrived
            .xml
            .parse()
            .map_err(|e: samael::schema::authn_request::Error| {
                SamlError::new(None, Refusal::Schema(e.to_string()))
            })?;
    let sp_id = issuer_of(&unverified).ok_or_else(|| SamlError::new(None, Refusal::NoIssuer))?;
    let refuse = |r: Refusal| SamlError::new(Some(&sp_id), r);
    let (site, saml) = app
        .config
        .saml_sp(&sp_id)
        .ok_or_else(|| refuse(Refusal::UnknownSp))?;
    let sp = current_sp(app, site, saml).map_err(refuse)?;
    let required = sp.authn_requests_signed || saml.require_signed_requests;
    let trusted = binding::verify(
        arrived,
        &sp.signing_keys,
        "AuthnRequest",
        required,
        saml.allow_sha1_digest,
    )
    .map_err(refuse)?;
    let request: AuthnRequest =
        trusted
            .xml
            .parse()
            .map_err(|e: samael::schema::authn_request::Error| {
                refuse(Refusal::Schema(e.to_string()))
            })?;
    if issuer_of(&request).as_deref() != Some(sp_id.as_str()) {
        return Err(refuse(Refusal::BadSignature).into());
    }
    // Where the answer goes: only from metadata.
    let acs = match (
        request.assertion_consumer_service_index,
        request.assertion_consumer_service_url.as_deref(),
    ) {
        (Some(_), Some(_)) => None,
        (Some(i), None) => sp.acs_by_index(i),
        (None, Some(u)) => sp.acs_by_url(u),
        (None, None) => sp.default_acs(),
    };
    let acs = acs.ok_or_else(|| refuse(Refusal::UnknownAcs))?;
    if request
        .protocol_binding
        .as_deref()
        .is_some_and(|b| b != binding::BINDING_POST)
    {
        return Err(refuse(Refusal::UnknownAcs).into());
    }
    // Meant for us: a signed request must name us (SAML bindings §3.4.5.2).
    match request.destination.as_deref() {
        Some(d) if d == sso_url(app) => {}
        None if !trusted.signed => {}
        _ => return Err(refuse(Refusal::Destination).into()),
    }
    let mut ret = SamlReturn {
        sp: sp_id.clone(),
        request_id: Some(request.id.clone()),
        acs: acs.url.clone(),
        relay_state: arrived.relay_state.clone(),
        transient: false,
        levels: Vec::new(),
    };
    let answer = |ret: SamlReturn, refusal: Refusal| {
        Ok(Accepted::Answer {
            saml_sp: sp_id.clone(),
            ret,
            refusal,
        })
    };
    // Once only.
    if !super::once::first_use(app, &sp_id, "AuthnRequest", &request.id).await? {
        return Err(refuse(Refusal::Replayed).into());
    }
    if request.version != "2.0" {
        return answer(ret, Refusal::Version);
    }
    if !super::once::fresh(app, request.issue_instant) {
        return answer(ret, Refusal::Stale);
    }
    if request.subject.is_some() {
        return answer(ret, Refusal::Unsupported("Subject in AuthnRequest"));
    }
    match request
        .name_id_policy
        .as_ref()
        .and_then(|p| p.format.as_deref())
    {
        None | Some(NAMEID_PERSISTENT | NAMEID_UNSPECIFIED) => {}
        Some(NAMEID_TRANSIENT) => ret.transient = true,
        Some(_) => return answer(ret, Refusal::NameIdPolicy),
    }
    let policy = PolicySnapshot::from_policy(&site.policy);
    match acceptable_levels(&request, site.policy.min_level) {
        Some(levels) if levels.iter().any(|l| any_provider_at(app, &policy, *l)) => {
            ret.levels = levels
        }
        _ => return answer(ret, Refusal::NoAuthnContext),
    }
    Ok(Accepted::Login {
        site,
        saml,
        ret,
        request: Box::new(request),
    })
}

/// Whether a provider the site allows authenticates at exactly `level`.
fn any_provider_at(app: &App, policy: &PolicySnapshot, level: Level) -> bool {
    app.config
        .providers
        .iter()
        .any(|p| p.level == level && login::provider_fits(app, policy, level, &p.id))
}

/// The levels a RequestedAuthnContext accepts (SAML core §3.3.2.2.1), above
/// the site's floor; None when it names only contexts we do not know.
pub fn acceptable_levels(request: &AuthnRequest, floor: Level) -> Option<Vec<Level>> {
    let mut levels: Vec<Level> = Level::ALL.to_vec();
    if let Some(rac) = &request.requested_authn_context {
        let named: Vec<Level> = rac
            .authn_context_class_refs
            .iter()
            .flatten()
            .filter_map(|c| c.value.as_deref())
            .filter_map(Level::from_acr)
            .collect();
        let (Some(lo), Some(hi)) = (named.iter().min().copied(), named.iter().max().copied())
        else {
            return None;
        };
        levels.retain(|l| match rac.comparison {
            None | Some(AuthnContextComparison::Exact) => named.contains(l),
            Some(AuthnContextComparison::Minimum) => *l >= lo,
            Some(AuthnContextComparison::Better) => *l > hi,
            Some(AuthnContextComparison::Maximum) => *l <= hi,
        });
    }
    levels.retain(|l| *l >= floor);
    (!levels.is_empty()).then_some(levels)
}

/// The front-neutral request of a SAML login: the lowest accepted level,
/// the claims the site's SAML config releases.
fn login_request(site: &Site, saml: &SamlSite, ret: &SamlReturn) -> LoginRequest {
    LoginRequest {
        site_id: site.id.clone(),
        scope: saml.scope.clone(),
        required_level: ret.levels.first().copied().unwrap_or(site.policy.min_level),
        max_age: None,
        login_hint: None,
    }
}

#[allow(clippy::too_many_arguments)]
async fn start(
    app: &App,
    headers: &http::HeaderMap,
    site: &Site,
    saml: &SamlSite,
    ret: SamlReturn,
    force: bool,
    passive: bool,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    let policy = PolicySnapshot::from_policy(&site.policy);
    let request = login_request(site, saml, &ret);
    // Single sign-on: a session of this browser at an accepted level (the
    // lowest accepted level is the request's; `complete` answers with the
    // strongest accepted level the session reached).
    if !force {
        if let Some(s) = login::reusable(app, headers, &request, &policy).await? {
            let txn_id = random::token(16)?;
            crate::audit::login_completed(
                app,
                &txn_id,
                &request.site_id,
                "saml",
                &ret.sp,
                &s.outcome,
                crate::audit::Via::Session,
            )
            .await?;
            let answered = complete(
                app, &txn_id, &ret, &request, &policy, &s.outcome, &s.sid, ctx,
            )
            .await;
            if answered.is_ok() {
                app.runtime
                    .metrics
                    .login(&request.site_id, "saml", Left::session);
            }
            return answered;
        }
    }
    if passive {
        return answer(app, &ret.sp, &ret, &Refusal::NoPassive, ctx);
    }
    let front = Front::Saml(ret.clone());
    match login::begin(app, headers, front, request, policy, ctx).await {
        Ok((resp, _)) => Ok(resp),
        // The site's own rate: the SP hears it (Responder), not the citizen.
        Err(GatewayError::Limited(r)) if !r.kind.tells_citizen() => {
            tracing::warn!(code = "MJ-L04", site = %r.site, reason = %r, "login start refused by the site's limit");
            answer(app, &ret.sp, &ret, &Refusal::SiteBusy, ctx)
        }
        Err(e) => Err(e),
    }
}

/// The end of a login for a SAML SP: release, project, sign, post.
#[allow(clippy::too_many_arguments)]
pub async fn complete(
    app: &App,
    txn_id: &str,
    ret: &SamlReturn,
    request: &LoginRequest,
    policy: &PolicySnapshot,
    outcome: &Outcome,
    sid: &str,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    let Some((site, saml)) = app.config.saml_sp(&ret.sp) else {
        // The SP was removed by a reload mid-login: nowhere trusted to answer.
        return Err(SamlError::new(Some(&ret.sp), Refusal::UnknownSp).into());
    };
    let sp = current_sp(app, site, saml).map_err(|r| SamlError::new(Some(&ret.sp), r))?;
    // The strongest accepted level the citizen's login reached.
    let Some(level) = ret
        .levels
        .iter()
        .rev()
        .find(|l| **l <= outcome.level)
        .copied()
    else {
        return answer(app, &ret.sp, ret, &Refusal::NoAuthnContext, ctx);
    };
    let claims = match login::release(app, txn_id, request, policy, outcome)? {
        Ok(c) => c,
        Err(denied) => {
            tracing::warn!(txn = txn_id, sp = %ret.sp, code = denied.code(), "claim release refused");
            return answer(app, &ret.sp, ret, &Refusal::PolicyDenied, ctx);
        }
    };
    let transient_id;
    let name_id = if ret.transient {
        transient_id = format!("_{}", random::token(20)?);
        transient_id.as_str()
    } else {
        claims.sub.as_str()
    };
    // The SP takes part in the session from now on: its logout must name
    // this NameID, and the session's end sends it a LogoutRequest.
    let party = crate::sso::Party::Saml {
        entity_id: ret.sp.clone(),
        name_id: name_id.to_owned(),
        transient: ret.transient,
        earlier: Vec::new(),
    };
    let joined = crate::sso::attach_party(app, sid, None, party, app.config.session_ttl).await?;
    if joined == crate::sso::Attached::Ended {
        tracing::info!(txn = txn_id, sp = %ret.sp, "the gateway session ended during this login");
        return answer(app, &ret.sp, ret, &Refusal::Cancelled, ctx);
    }
    let xml = response::success(
        app,
        saml,
        &sp,
        ret,
        &Success {
            claims: &claims,
            name_id,
            level,
            session_index: &super::session_index(sid, &ret.sp),
            auth_time: outcome.auth_time,
        },
    )?;
    // One line per response, also when answered from the gateway session.
    tracing::info!(txn = txn_id, sp = %ret.sp, provider = %outcome.provider, acr = level.short(), sid, "SAML response issued");
    post_back(
        &ret.acs,
        &xml,
        "SAMLResponse",
        ret.relay_state.as_deref(),
        ctx,
    )
}

/// Answers the SP with a status instead of an assertion.
pub fn answer(
    app: &App,
    sp: &str,
    ret: &SamlReturn,
    refusal: &Refusal,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    let (top, second) = refusal
        .status()
        .unwrap_or((super::error::status::RESPONDER, None));
    tracing::info!(code = refusal.code(), sp, txn = ctx.txn.as_deref().unwrap_or("-"), req = %ctx.request_id, reason = %refusal, "SAML request answered with a status");
    let xml = response::failure(app, ret, top, second, &refusal.to_string())?;
    post_back(
        &ret.acs,
        &xml,
        "SAMLResponse",
        ret.relay_state.as_deref(),
        ctx,
    )
}

/// The HTTP-POST binding page: `field` (`SAMLResponse`) holds the message.
pub(super) fn post_back(
    acs: &str,
    xml: &str,
    field: &'static str,
    relay_state: Option<&str>,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    super::logout_out::Outgoing::post(acs, xml, field, relay_state).send(ctx)
}

/// `/saml/init?sp=ENTITYID[&RelayState=..]`: IdP-initiated SSO, for SPs
/// whose site config allows unsolicited responses.
pub async fn init(
    app: &App,
    req: http::Request<Incoming>,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    if req.method() != Method::GET {
        return Err(GatewayError::MethodNotAllowed);
    }
    let q = crate::web::Params::from_query(req.uri())?;
    let sp_id = q.required("sp")?.to_owned();
    let refuse = |r: Refusal| SamlError::new(Some(&sp_id), r);
    let (site, saml) = app
        .config
        .saml_sp(&sp_id)
        .ok_or_else(|| refuse(Refusal::UnknownSp))?;
    if !saml.idp_initiated {
        return Err(refuse(Refusal::UnsolicitedNotAllowed).into());
    }
    let relay_state = q.get("RelayState").map(str::to_owned);
    binding::check_relay_state(relay_state.as_deref()).map_err(refuse)?;
    let sp = current_sp(app, site, saml).map_err(refuse)?;
    let acs = sp
        .default_acs()
        .ok_or_else(|| refuse(Refusal::UnknownAcs))?;
    let Some(levels) = acceptable_levels(&AuthnRequest::default(), site.policy.min_level) else {
        return Err(refuse(Refusal::NoAuthnContext).into());
    };
    let ret = SamlReturn {
        sp: sp_id.clone(),
        request_id: None,
        acs: acs.url.clone(),
        relay_state,
        transient: false,
        levels,
    };
    start(app, req.headers(), site, saml, ret, false, false, ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use Level::{High, Low, Substantial};

    fn request(comparison: Option<&str>, refs: &[&str]) -> AuthnRequest {
        let rac = if refs.is_empty() {
            String::new()
        } else {
            let cmp = comparison
                .map(|c| format!(" Comparison=\"{c}\""))
                .unwrap_or_default();
            let refs: String = refs
                .iter()
                .map(|r| format!("<saml:AuthnContextClassRef>{r}</saml:AuthnContextClassRef>"))
                .collect();
            format!("<samlp:RequestedAuthnContext{cmp}>{refs}</samlp:RequestedAuthnContext>")
        };
        format!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_x" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>sp</saml:Issuer>{rac}</samlp:AuthnRequest>"#
        )
        .parse()
        .unwrap()
    }

    const LOW: &str = "urn:munjigi:acr:low";
    const SUB: &str = "urn:munjigi:acr:substantial";
    const HIGH: &str = "urn:munjigi:acr:high";

    #[test]
    fn requested_authn_context_maps_onto_the_levels_above_the_floor() {
        // (Comparison, class refs, the site's floor, the accepted levels)
        type Case<'a> = (Option<&'a str>, &'a [&'a str], Level, Option<Vec<Level>>);
        let cases: &[Case<'_>] = &[
            (None, &[], Low, Some(vec![Low, Substantial, High])),
            (None, &[], Substantial, Some(vec![Substantial, High])),
            (None, &[SUB], Low, Some(vec![Substantial])),
            (Some("exact"), &[LOW, HIGH], Low, Some(vec![Low, High])),
            (Some("exact"), &[LOW], Substantial, None),
            (Some("minimum"), &[SUB], Low, Some(vec![Substantial, High])),
            (
                Some("minimum"),
                &[LOW, HIGH],
                Low,
                Some(vec![Low, Substantial, High]),
            ),
            (Some("better"), &[LOW], Low, Some(vec![Substantial, High])),
            (Some("better"), &[HIGH], Low, None),
            (Some("maximum"), &[SUB], Low, Some(vec![Low, Substantial])),
            (Some("maximum"), &[SUB], High, None),
            // Only contexts we do not know: nothing can satisfy them.
            (
                Some("minimum"),
                &["urn:oasis:names:tc:SAML:2.0:ac:classes:Password"],
                Low,
                None,
            ),
        ];
        for (cmp, refs, floor, want) in cases {
            assert_eq!(
                acceptable_levels(&request(*cmp, refs), *floor),
                *want,
                "{cmp:?} {refs:?} floor {floor:?}"
            );
        }
    }
}
