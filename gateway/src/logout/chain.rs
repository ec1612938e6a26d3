//! Carrying a logout to SAML SPs through the browser, one SP after another.
//!
//! SAML Single Logout over the front channel can only tell an SP by sending
//! the citizen's browser to it, and the SP answers by sending the browser
//! back with a LogoutResponse. So a logout is a run of hops: the run (who is
//! left, who answered, where the browser ends up) waits in the store under a
//! random id between hops, the id travels as the RelayState, and whichever
//! replica the SP's answer reaches carries on.
//!
//! Every SP of the run sees the RelayState, so the id alone proves nothing:
//! the run is bound to the browser that started it by a cookie of its own
//! (`mj_lo`, a random value whose digest the run keeps, compared in constant
//! time). An SP cannot drive the rest of the run from its server (and learn
//! the next SP's NameID, or keep it from being told), and nobody can finish
//! their own run in someone else's browser. A cross-site HTTP-POST arrives
//! without Lax cookies, so `/saml/slo` first bounces such a POST through a
//! same-site form ([`crate::saml::slo`]).
//!
//! Once the answer is this browser's, the current SP's LogoutResponse
//! decides only how that SP is reported: a refused one (bad signature,
//! another request, an error status) is "not confirmed", and the run goes on
//! to the next SP. An answer counts as confirmed only when it is the one
//! expected now: from the SP the last request went to (its Issuer, and its
//! signature by that SP's metadata keys whenever it has any), naming that
//! request (InResponseTo), to our endpoint, `Success`. The run is advanced
//! (and ended) by compare-and-swap, so a replayed or raced answer cannot
//! advance it twice. An SP that never sends the browser back leaves the run
//! to expire; its session and every other were already ended.

use super::{Channel, Finish, Told};
use crate::app::App;
use crate::rescue::{Ctx, GatewayError};
use crate::saml::binding::{self, Arrived, BINDING_POST, BINDING_REDIRECT};
use crate::saml::error::status;
use crate::saml::logout_out::{self, RequestTo};
use crate::saml::sp::ServiceProvider;
use crate::store::keys::Family;
use crate::web::{respond, Response};
use samael::schema::LogoutResponse;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a run waits for the SPs to send the browser back.
const RUN_TTL: Duration = Duration::from_secs(600);
/// The cookie binding a run to the browser that started it.
pub const COOKIE: &str = "mj_lo";
/// How long a finished run's marker keeps a raced answer from finishing twice.
const DONE_TTL: Duration = Duration::from_secs(60);
/// Longest status text of an SP kept for the log.
const MAX_REASON: usize = 120;

/// One SP to send a LogoutRequest to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    site: String,
    sp: String,
    name_id: String,
    transient: bool,
    url: String,
    post: bool,
}

impl Target {
    /// The SP's SingleLogoutService, HTTP-Redirect preferred; None without one.
    pub fn of(site: &str, sp: &ServiceProvider, name_id: String, transient: bool) -> Option<Self> {
        let endpoint = sp
            .slo
            .iter()
            .find(|s| s.binding == BINDING_REDIRECT)
            .or_else(|| sp.slo.iter().find(|s| s.binding == BINDING_POST))?;
        Some(Self {
            site: site.to_owned(),
            sp: sp.entity_id.clone(),
            name_id,
            transient,
            url: endpoint.url.clone(),
            post: endpoint.binding == BINDING_POST,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Current {
    target: Target,
    request_id: String,
}

/// A logout on its way through the SPs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    id: String,
    /// Digest of the browser's `mj_lo` cookie.
    browser: String,
    sid: String,
    queue: Vec<Target>,
    current: Option<Current>,
    pub(super) told: Vec<Told>,
    pub(super) frames: Vec<String>,
    pub(super) finish: Finish,
}

impl Run {
    pub fn new(
        sid: &str,
        queue: Vec<Target>,
        told: Vec<Told>,
        frames: Vec<String>,
        finish: Finish,
    ) -> Result<Self, GatewayError> {
        Ok(Self {
            id: crate::random::token(16)?,
            browser: String::new(),
            sid: sid.to_owned(),
            queue,
            current: None,
            told,
            frames,
            finish,
        })
    }
}

fn key(id: &str) -> String {
    Family::LogoutRun.key(&crate::random::digest(id))
}

fn encode(run: &Run) -> Result<Vec<u8>, GatewayError> {
    serde_json::to_vec(run).map_err(GatewayError::encode)
}

/// Sends the browser to the next SP, or to the end. `stored` is the run's
/// bytes in the store, if it is there (swapped, so it advances once).
async fn advance(
    app: &App,
    mut run: Run,
    stored: Option<Vec<u8>>,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    let k = key(&run.id);
    let lost = || GatewayError::ChangedElsewhere(crate::rescue::Race::Conflict);
    let mut ticket = None;
    loop {
        if run.queue.is_empty() {
            if let Some(old) = &stored {
                // Finished once: a raced copy of the last answer finds the
                // marker, not the run.
                if !app.store.swap(&k, old, b"done".to_vec(), DONE_TTL).await? {
                    return Err(lost());
                }
            }
            let resp = super::finish(app, run, ctx).await?;
            return Ok(if stored.is_some() {
                respond::with_cookie(resp, &app.cookies.clear(COOKIE))
            } else {
                resp
            });
        }
        let target = run.queue.remove(0);
        let index = crate::saml::session_index(&run.sid, &target.sp);
        let sent = logout_out::request(
            app,
            &RequestTo {
                url: &target.url,
                post: target.post,
                relay_state: &run.id,
                name_id: &target.name_id,
                transient: target.transient,
                session_index: &index,
            },
        );
        let (request_id, out) = match sent {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(sp = %target.sp, error = %e, "LogoutRequest not made");
                run.told.push(Told::no(
                    &target.site,
                    Channel::Saml,
                    "LogoutRequest not made",
                ));
                continue;
            }
        };
        if stored.is_none() && ticket.is_none() {
            let t = crate::random::token(32)?;
            run.browser = crate::random::digest(&t);
            ticket = Some(t);
        }
        tracing::info!(sp = %target.sp, run = %crate::random::digest(&run.id), req = %ctx.request_id, "LogoutRequest sent");
        run.current = Some(Current { target, request_id });
        let bytes = encode(&run)?;
        let written = match &stored {
            None => app.store.put_new(&k, bytes, RUN_TTL).await?,
            Some(old) => app.store.swap(&k, old, bytes, RUN_TTL).await?,
        };
        if !written {
            return Err(lost());
        }
        let resp = out.send(ctx)?;
        return Ok(match ticket {
            Some(t) => {
                respond::with_cookie(resp, &app.cookies.set(COOKIE, &t, Some(RUN_TTL.as_secs())))
            }
            None => resp,
        });
    }
}

/// Starts a run: the first SP, or the end when there is none.
pub async fn next(app: &App, run: Run, ctx: &Ctx) -> Result<Response, GatewayError> {
    advance(app, run, None, ctx).await
}

/// An SP's LogoutResponse to our LogoutRequest (at `/saml/slo`), in the
/// browser whose `headers` carry the run's cookie.
pub async fn on_response(
    app: &App,
    headers: &http::HeaderMap,
    arrived: Arrived,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    let unknown = || {
        GatewayError::BadRequest(
            "this LogoutResponse answers no logout in progress in this browser (ended, expired or answered already)"
                .into(),
        )
    };
    let run_id = arrived.relay_state.clone().ok_or_else(unknown)?;
    if run_id.len() > 64
        || !run_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(unknown());
    }
    let stored = app.store.get(&key(&run_id)).await?.ok_or_else(unknown)?;
    let Ok(mut run) = serde_json::from_slice::<Run>(&stored) else {
        return Err(unknown());
    };
    let ours = app
        .cookies
        .get(headers, COOKIE)
        .map(crate::random::digest)
        .is_some_and(|d| {
            use subtle::ConstantTimeEq;
            !run.browser.is_empty()
                && d.len() == run.browser.len()
                && bool::from(d.as_bytes().ct_eq(run.browser.as_bytes()))
        });
    if !ours {
        tracing::warn!(req = %ctx.request_id, "LogoutResponse refused: not from the browser whose logout it answers");
        return Err(unknown());
    }
    let Some(current) = run.current.take() else {
        return Err(unknown());
    };
    let sp_id = current.target.sp.clone();
    match judge(app, &arrived, &current) {
        Ok(()) => run
            .told
            .push(Told::yes(&current.target.site, Channel::Saml)),
        Err(why) => {
            tracing::info!(sp = %sp_id, reason = %why, req = %ctx.request_id, "LogoutResponse not a confirmation");
            run.told
                .push(Told::no(&current.target.site, Channel::Saml, why));
        }
    }
    advance(app, run, Some(stored), ctx).await
}

/// Whether `arrived` is `current`'s SP confirming our request; why not.
fn judge(app: &App, arrived: &Arrived, current: &Current) -> Result<(), String> {
    let sp_id = current.target.sp.as_str();
    let (keys, allow_sha1) = match app.config.saml_sp(sp_id) {
        Some((site, saml)) => {
            let sp = crate::saml::remote_metadata::service_provider(app, &site.id, saml)
                .map_err(|u| format!("the SP's metadata is not available: {}", u.reason()))?;
            (sp.signing_keys.clone(), saml.allow_sha1_digest)
        }
        None => return Err("the SP is no longer configured".into()),
    };
    let unverified: LogoutResponse = arrived
        .xml
        .parse()
        .map_err(|_| "not a LogoutResponse".to_owned())?;
    if issuer_of(&unverified).as_deref() != Some(sp_id) {
        return Err("the LogoutResponse is from another issuer".into());
    }
    let trusted = binding::verify(
        arrived,
        &keys,
        "LogoutResponse",
        !keys.is_empty(),
        allow_sha1,
    )
    .map_err(|r| format!("{} {r}", r.code()))?;
    let response: LogoutResponse = trusted
        .xml
        .parse()
        .map_err(|_| "not a LogoutResponse".to_owned())?;
    if issuer_of(&response).as_deref() != Some(sp_id) {
        return Err("the LogoutResponse is from another issuer".into());
    }
    if response.in_response_to.as_deref() != Some(current.request_id.as_str()) {
        return Err("the LogoutResponse answers another request".into());
    }
    let slo_url = format!("{}/saml/slo", app.config.public_url);
    match response.destination.as_deref() {
        Some(d) if d == slo_url => {}
        None if !trusted.signed => {}
        _ => return Err("the LogoutResponse is for another Destination".into()),
    }
    let top = response
        .status
        .as_ref()
        .and_then(|s| s.status_code.value.clone())
        .unwrap_or_default();
    if top != status::SUCCESS {
        let shown: String = top
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(MAX_REASON)
            .collect();
        return Err(format!("status {shown}"));
    }
    Ok(())
}

fn issuer_of(r: &LogoutResponse) -> Option<String> {
    r.issuer
        .as_ref()
        .and_then(|i| i.value.clone())
        .filter(|v| !v.is_empty())
}
