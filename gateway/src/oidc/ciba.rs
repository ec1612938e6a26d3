//! Client-Initiated Backchannel Authentication (OpenID Connect CIBA Core
//! 1.0): a call centre or a back office names a citizen, the citizen
//! approves a push in the app of their certificate provider, and the site
//! gets the tokens of an ordinary login, without any browser.
//!
//! Our providers already work the way CIBA expects (the push *is* the
//! authentication device's channel), so a CIBA request is a login of the
//! shared core with its own front ([`CibaReturn`]): the push, its limits,
//! the provider's verification, claim release and pairwise `sub` are the
//! ones every login gets. What differs is who drives it: no browser does;
//! the site's polls of `/token` (and, in ping mode, a task on the replica
//! that accepted the request) move it on, at most one provider poll per
//! second across replicas, as for a waiting page.
//!
//! Because the gateway pushes on a site's word alone, every request is
//! taken with care: only for clients allowed it (`ciba = true`) that
//! authenticate; the person is named by a hint the site signs
//! ([`super::login_hint`]); where the citizen's app shows our text, a
//! `binding_message` code is required and put into the push with "reject
//! unless it is the number you were told"; a site has one open request per
//! person (the earlier one is asked first, so a rejection is seen even by a
//! site that never polls), pushes per person per site are limited, a
//! rejection silences the site for that person for ten minutes, unknown
//! persons are counted before the provider is asked (so parallel requests
//! cannot outrun the count); the request is audited (durably where logins
//! are) before anything reaches the phone, and every refusal is audited with
//! its client.
//!
//! Not offered: push delivery mode (tokens are only handed out at
//! `/token`), signed authentication requests (`request`), `user_code`,
//! `id_token_hint` as the hint. A replica that stops mid-request takes its
//! ping task with it; the site's poll (allowed in ping mode too) recovers.

use super::login_hint::{self, HintRefusal, Hinted};
use super::token::{self, err, Granted, TokenError};
use crate::app::App;
use crate::config::model::{CibaDelivery, OidcClient};
use crate::failure::Failure;
use crate::login::{begin::begin_backchannel, flow, LoginRequest};
use crate::random;
use crate::rescue::{GatewayError, Race};
use crate::store::keys::Family;
use crate::txn::{PolicySnapshot, State, TxnError};
use crate::web::{respond, Response};
use http::StatusCode;
use hyper::body::Incoming;
use munjigi_policy::{Claims, Scopes};
use munjigi_providers::{Level, ProviderError, ProviderId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// The grant type a client polls `/token` with (CIBA §10.1).
pub const GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";
/// The least time between two polls, to begin with.
pub const INTERVAL_SECS: u64 = 5;
/// How long a site stays silent for a person who rejected its push.
pub const COOLDOWN_SECS: u64 = 600;
/// How often the background task moves a request on.
const DRIVE_EVERY: Duration = Duration::from_secs(2);
/// Compare-and-swap tries to settle a record against the client's polls.
const SETTLE_TRIES: usize = 20;
/// The longest `client_notification_token` accepted (CIBA §7.1).
const MAX_NOTIFICATION_TOKEN_LEN: usize = 1024;

/// The CIBA end of a login: which record its end settles.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CibaReturn {
    pub client_id: String,
    /// The digest of the `auth_req_id` (the record's key).
    pub request: String,
    /// The record's public id, for logs.
    pub id: String,
    /// The push's life, seconds.
    pub ttl_secs: u32,
    /// The code the site's operator reads out (where the app shows it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
}

/// One CIBA request, under its `auth_req_id`'s digest. The citizen's
/// details stay in the login, as for any login; once approved, the record
/// holds the released claims until redeemed, as an authorization code does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CibaRecord {
    pub id: String,
    pub client_id: String,
    pub site_id: String,
    /// The login that pushes.
    pub txn: String,
    pub provider: String,
    pub scope: String,
    pub required_level: Level,
    pub ping: bool,
    /// A keyed digest of the phone: whose rejection silences the site.
    pub person: String,
    pub expires_at: u64,
    pub interval: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_poll: Option<u64>,
    pub state: CibaState,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "s", rename_all = "snake_case")]
pub enum CibaState {
    Pending,
    /// Logged in: what the tokens carry.
    Approved {
        claims: Box<Claims>,
        sid: String,
    },
    /// Rejected, expired, or failed (why).
    Ended {
        failure: Failure,
    },
}

impl CibaRecord {
    fn ttl(&self, now: u64) -> Duration {
        super::device::kept_for(self.expires_at, now)
    }
}

/// What a poll of `/token` hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    Pending,
    SlowDown,
    Expired,
    Ended(Failure),
    Approved,
}

/// One poll at `now` (the record as it is after it). An ended request is
/// answered however fast the client polls.
pub fn poll(rec: &mut CibaRecord, now: u64) -> Poll {
    match rec.state {
        CibaState::Approved { .. } if now < rec.expires_at => return Poll::Approved,
        CibaState::Ended {
            failure: Failure::Expired,
        } => return Poll::Expired,
        CibaState::Ended { failure } => return Poll::Ended(failure),
        _ if now >= rec.expires_at => return Poll::Expired,
        _ => {}
    }
    if super::device::too_soon(&mut rec.last_poll, &mut rec.interval, now) {
        Poll::SlowDown
    } else {
        Poll::Pending
    }
}

fn key(digest: &str) -> String {
    Family::CibaRequest.key(digest)
}
fn used_key(auth_req_id: &str) -> String {
    Family::UsedCiba.key(&random::digest(auth_req_id))
}
fn cooldown_key(site: &str, person: &str) -> String {
    Family::CibaRefused.key(&format!("{site}:{person}"))
}
/// The open request of a site to a person (its record's key).
fn open_key(site: &str, person: &str) -> String {
    Family::CibaRefused.key(&format!("{site}:{person}:open"))
}

fn bad(error: &'static str, description: &'static str) -> TokenError {
    err(StatusCode::BAD_REQUEST, error, description)
}
fn unavailable(description: &'static str) -> TokenError {
    err(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        description,
    )
}
fn denied(description: &'static str) -> TokenError {
    err(StatusCode::FORBIDDEN, "access_denied", description)
}

/// `binding_message`: a short code the operator reads out and the citizen
/// finds in the push: 2 to 8 of `0-9 A-Z -` (lower case is upper-cased). A
/// code, not a message: no site can put words of its choosing into a
/// citizen's push.
pub fn binding(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_uppercase();
    ((2..=8).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b == b'-'))
    .then_some(code)
}

/// RFC 6750 `b64token`, as CIBA §7.1 asks of `client_notification_token`.
fn b64token(t: &str) -> bool {
    let body = t.trim_end_matches('=');
    !body.is_empty()
        && t.len() <= MAX_NOTIFICATION_TOKEN_LEN
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// `POST /bc-authorize` (CIBA §7).
pub async fn handle(
    app: &Arc<App>,
    req: http::Request<Incoming>,
    ctx: &crate::rescue::Ctx,
) -> Response {
    let request_id = ctx.request_id.as_str();
    match authorize(app, req, request_id).await {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(req = request_id, "backchannel authentication refused");
            e.response()
        }
    }
}

async fn authorize(
    app: &Arc<App>,
    req: http::Request<Incoming>,
    request_id: &str,
) -> Result<Response, TokenError> {
    let (parts, form) = token::read_form(req).await?;
    let endpoint = format!("{}/bc-authorize", app.config.issuer());
    let client = token::authenticate(app, &parts.headers, &form, request_id, &endpoint).await?;
    let Some((site, _)) = app.config.client(&client.client_id) else {
        return Err(token::unavailable());
    };
    let asked = if client.ciba.is_none() {
        tracing::warn!(client = %client.client_id, req = request_id, "backchannel authentication by a client not allowed CIBA");
        Err(bad("unauthorized_client", "this client may not use CIBA"))
    } else {
        ask(app, client, site, &form, &endpoint, request_id).await
    };
    if let Err(e) = &asked {
        crate::audit::ciba_refused(app, &client.client_id, &site.id, e.code(), e.description());
    }
    asked
}

/// The request of an authenticated client (audited when refused).
async fn ask(
    app: &Arc<App>,
    client: &OidcClient,
    site: &crate::config::model::Site,
    form: &crate::web::Params,
    endpoint: &str,
    request_id: &str,
) -> Result<Response, TokenError> {
    let Some(grant) = &client.ciba else {
        return Err(token::unavailable());
    };
    let refuse = |reason: &'static str, e: TokenError| {
        tracing::warn!(client = %client.client_id, site = %site.id, reason, req = request_id, "backchannel authentication refused");
        e
    };
    if form.get("request").is_some() || form.get("request_uri").is_some() {
        return Err(refuse(
            "signed_request",
            bad(
                "invalid_request",
                "signed authentication requests are not supported",
            ),
        ));
    }
    if form.get("user_code").is_some() {
        return Err(refuse(
            "user_code",
            bad("invalid_request", "user_code is not supported"),
        ));
    }
    if form.get("id_token_hint").is_some() {
        return Err(refuse(
            "id_token_hint",
            bad("invalid_request", "name the person with login_hint_token"),
        ));
    }
    let scopes = match form.get("scope").map(Scopes::parse) {
        Some(Ok(s)) => s,
        _ => {
            return Err(refuse(
                "scope",
                bad("invalid_scope", "scope must include openid"),
            ))
        }
    };
    let now = app.clock.now();
    let hinted = match (form.get("login_hint_token"), form.get("login_hint")) {
        (Some(t), None) => {
            let Some(keys) = &grant.hint_keys else {
                return Err(refuse(
                    "hint",
                    bad(
                        "invalid_request",
                        "this client has no keys registered for login_hint_token",
                    ),
                ));
            };
            let audiences = [app.config.issuer(), endpoint];
            login_hint::check_signed(t, &client.client_id, keys, &audiences, now)
        }
        (None, Some(h)) if grant.unsigned_hints => login_hint::check_unsigned(h),
        (None, Some(_)) => {
            return Err(refuse(
                "hint",
                bad(
                    "invalid_request",
                    "this client must sign its hints (login_hint_token)",
                ),
            ));
        }
        _ => {
            return Err(refuse(
                "hint",
                bad(
                    "invalid_request",
                    "send exactly one of login_hint_token and login_hint",
                ),
            ));
        }
    };
    let hinted: Hinted = match hinted {
        Ok(h) => h,
        Err(HintRefusal::Expired) => {
            return Err(refuse(
                "hint_expired",
                bad(
                    "expired_login_hint_token",
                    "the login_hint_token has expired",
                ),
            ));
        }
        Err(HintRefusal::Invalid(why)) => {
            tracing::warn!(code = "MJ-O05", client = %client.client_id, reason = why, req = request_id, "login hint refused");
            return Err(bad("invalid_request", why));
        }
    };
    let provider_id = ProviderId::new(hinted.provider.clone());
    let required_level = munjigi_policy::required_level(&site.policy, form.get("acr_values"));
    let policy = PolicySnapshot::from_policy(&site.policy);
    let adapter = match app.providers.get(provider_id.as_str()) {
        Some(a) if crate::login::provider_fits(app, &policy, required_level, &provider_id) => a,
        _ => {
            return Err(refuse(
                "provider",
                bad(
                    "invalid_request",
                    "the hint's provider is not offered to this site at this level",
                ),
            ));
        }
    };
    let binding_code = match form.get("binding_message") {
        None if adapter.shows_title() => {
            return Err(refuse(
                "binding_message",
                bad(
                    "invalid_request",
                    "binding_message is required: this provider shows it in the push",
                ),
            ));
        }
        None => None,
        Some(_) if !adapter.shows_title() => {
            return Err(refuse(
                "binding_message",
                bad(
                    "invalid_binding_message",
                    "this provider shows no text of ours: omit binding_message",
                ),
            ));
        }
        Some(m) => match binding(m) {
            Some(code) => Some(code),
            None => {
                return Err(refuse(
                    "binding_message",
                    bad(
                        "invalid_binding_message",
                        "binding_message must be 2 to 8 of 0-9 A-Z -",
                    ),
                ));
            }
        },
    };
    let longest = flow_cap(app);
    let expiry = match form.get("requested_expiry") {
        None => grant.expiry.as_secs().min(longest),
        Some(v) => match v.parse::<u64>() {
            Ok(s) if (30..=longest).contains(&s) => s,
            _ => {
                return Err(refuse("requested_expiry", bad("invalid_request", "requested_expiry must be whole seconds from 30 to the provider's limit (at most 300)")));
            }
        },
    };
    let ping = match &grant.delivery {
        CibaDelivery::Poll => None,
        CibaDelivery::Ping { endpoint } => match form.get("client_notification_token") {
            Some(t) if b64token(t) => Some((endpoint.clone(), t.to_owned())),
            _ => {
                return Err(refuse("client_notification_token", bad("invalid_request", "ping mode needs a client_notification_token (RFC 6750 b64token, at most 1024 characters)")));
            }
        },
    };
    if !matches!(
        flow::offer(app, provider_id.as_str()),
        crate::circuit::Offer::Available
    ) {
        return Err(refuse(
            "provider_off",
            unavailable("the provider is not available right now"),
        ));
    }
    let person = crate::limits::person_subject(app, &hinted.citizen.phone);
    // One open request per person and site: the earlier one is moved on
    // first (so a rejection in the app is seen even if the site never
    // polled), and while it waits no second push goes out. The slot is
    // taken further down, atomically from what was read here.
    let open = open_key(&site.id, &person);
    let prev = app
        .store
        .get(&open)
        .await
        .map_err(|_| token::unavailable())?;
    if let Some(prev) = &prev {
        let waiting = match drive(app, &String::from_utf8_lossy(prev)).await {
            Ok(Some(r)) => matches!(r.state, CibaState::Pending),
            Ok(None) => false,
            Err(_) => true,
        };
        if waiting {
            return Err(refuse("open", still_waiting()));
        }
    }
    let silenced = app
        .store
        .get(&cooldown_key(&site.id, &person))
        .await
        .map_err(|_| token::unavailable())?;
    if silenced.is_some() {
        return Err(refuse(
            "cooldown",
            denied("this person rejected a request from this site moments ago"),
        ));
    }
    let miss = match crate::limits::ciba_miss(app, &site.id).await {
        Ok(r) => r,
        Err(_) => {
            return Err(refuse(
                "limit",
                unavailable("too many requests from this site; try again later"),
            ))
        }
    };
    let person_count = match crate::limits::ciba(app, &site.id, &hinted.citizen.phone).await {
        Ok(r) => r,
        Err(e) => {
            miss.refund(app).await;
            return Err(match e {
                GatewayError::Limited(l) if l.kind == munjigi_policy::limits::Kind::CibaPerson => {
                    refuse(
                        "limit",
                        denied("too many requests to this person; try again later"),
                    )
                }
                _ => refuse(
                    "limit",
                    unavailable("too many requests from this site; try again later"),
                ),
            });
        }
    };
    let held = Held {
        miss,
        person: person_count,
    };
    // Only now, with every check passed, is the hint used up.
    if let Some((jti, exp)) = &hinted.once {
        let k = super::client_assertion::jti_key(Family::CibaHintJti, &client.client_id, jti);
        let used = super::client_assertion::consume_key(app.store.as_ref(), &k, *exp, now).await;
        if let Err(e) = used {
            held.release(app).await;
            return Err(match e {
                super::client_assertion::ConsumeError::Refused(_) => {
                    tracing::warn!(code = "MJ-O05", client = %client.client_id, reason = "replayed", req = request_id, "login hint refused");
                    bad("invalid_request", "login_hint_token was already used")
                }
                super::client_assertion::ConsumeError::Store(_) => token::unavailable(),
            });
        }
    }

    let ids = random::token(32).and_then(|a| Ok((a, random::token(9)?)));
    let Ok((auth_req_id, id)) = ids else {
        held.release(app).await;
        return Err(token::unavailable());
    };
    let digest = random::digest(&auth_req_id);
    let mode = if ping.is_some() { "ping" } else { "poll" };
    let front = crate::login::Front::Ciba(CibaReturn {
        client_id: client.client_id.clone(),
        request: digest.clone(),
        id: id.clone(),
        ttl_secs: u32::try_from(expiry).unwrap_or(300),
        binding: binding_code,
    });
    let request = LoginRequest {
        site_id: site.id.clone(),
        scope: scopes.as_str(),
        required_level,
        max_age: None,
        login_hint: None,
    };
    let txn = match begin_backchannel(app, front, request, policy).await {
        Ok(t) => t,
        Err(_) => {
            held.release(app).await;
            return Err(token::unavailable());
        }
    };
    let mut record = CibaRecord {
        id: id.clone(),
        client_id: client.client_id.clone(),
        site_id: site.id.clone(),
        txn: txn.id.clone(),
        provider: provider_id.to_string(),
        scope: scopes.as_str(),
        required_level,
        ping: ping.is_some(),
        person,
        expires_at: now + expiry,
        interval: INTERVAL_SECS,
        last_poll: None,
        state: CibaState::Pending,
    };
    let rkey = key(&digest);
    let put = |rec: &CibaRecord| {
        let bytes = serde_json::to_vec(rec);
        let ttl = rec.ttl(now);
        let rkey = rkey.clone();
        async move {
            let bytes = bytes.map_err(|_| token::unavailable())?;
            app.store
                .put(&rkey, bytes, ttl)
                .await
                .map_err(|_| token::unavailable())
        }
    };
    // Gone again: the login and the record (a slot pointing at a record
    // that is gone is free for the next request).
    let undo = || async {
        let _ = app.store.delete(&rkey).await;
        let _ = app.txns.claim(&txn.id).await;
    };
    if put(&record).await.is_err() {
        undo().await;
        held.release(app).await;
        return Err(token::unavailable());
    }
    // The slot, taken from exactly what was read above: of two requests
    // that both found the earlier one ended, one takes it.
    let slot = rkey.clone().into_bytes();
    let taken = match &prev {
        Some(prev) => app.store.swap(&open, prev, slot, record.ttl(now)).await,
        None => app.store.put_new(&open, slot, record.ttl(now)).await,
    };
    match taken {
        Ok(true) => {}
        Ok(false) => {
            undo().await;
            held.release(app).await;
            return Err(refuse("open", still_waiting()));
        }
        Err(_) => {
            undo().await;
            held.release(app).await;
            return Err(token::unavailable());
        }
    }
    let audited = crate::audit::ciba_requested(
        app,
        crate::audit::Event::CibaRequested {
            request: id.clone(),
            client: client.client_id.clone(),
            site: site.id.clone(),
            provider: provider_id.to_string(),
            acr: required_level.acr(),
            mode,
            hint: if hinted.once.is_some() {
                "signed"
            } else {
                "unsigned"
            },
            agent: hinted.agent.clone(),
        },
    )
    .await;
    if audited.is_err() {
        undo().await;
        held.release(app).await;
        tracing::error!(code = "MJ-A01", client = %client.client_id, req = request_id, "backchannel authentication refused: its audit record could not be written");
        return Err(token::unavailable());
    }
    let started = flow::start(
        app,
        &txn,
        &provider_id,
        hinted.citizen,
        munjigi_providers::Reach::Push,
    )
    .await;
    let started = match started {
        Ok(t) => t,
        Err(e) => {
            undo().await;
            let unknown = matches!(
                e,
                GatewayError::Provider(
                    ProviderError::UnknownPerson
                        | ProviderError::PersonMismatch
                        | ProviderError::AccountUnusable
                )
            );
            // A garbled answer may hide a push that went out: it stays counted.
            let pushed = matches!(e, GatewayError::Provider(ProviderError::Protocol(_)));
            if !unknown {
                held.miss.refund(app).await;
            }
            if !pushed {
                held.person.refund(app).await;
            }
            crate::audit::ciba_ended(app, &record, "not_started");
            return Err(start_refused(&site.id, &client.client_id, &e, request_id));
        }
    };
    held.miss.refund(app).await;
    // The provider's own expiry wins when it is sooner. The first record
    // stays valid if this write fails: the push is out, answer its id.
    if let Some(a) = &started.attempt {
        if a.pending.expires_at < record.expires_at {
            record.expires_at = a.pending.expires_at;
            if put(&record).await.is_err() {
                tracing::warn!(request = %id, req = request_id, "CIBA record not shortened to the provider's expiry");
            }
        }
    }
    tracing::info!(request = %id, client = %client.client_id, provider = %provider_id, acr = required_level.short(), mode, req = request_id, "backchannel authentication started");
    // Moved on in the background whether or not the client polls, so a
    // rejection is seen (and silences the site) before the push expires.
    spawn_driver(
        Arc::clone(app),
        rkey,
        ping.map(|(endpoint, bearer)| Ping {
            auth_req_id: auth_req_id.clone(),
            bearer,
            endpoint,
        }),
    );
    let mut r = respond::json(
        StatusCode::OK,
        &serde_json::json!({
            "auth_req_id": auth_req_id,
            "expires_in": record.expires_at.saturating_sub(now),
            "interval": INTERVAL_SECS,
        }),
    );
    r.headers_mut().insert(
        http::header::PRAGMA,
        http::HeaderValue::from_static("no-cache"),
    );
    Ok(r)
}

/// This request's counts, until the push is known to have gone out (or not).
struct Held {
    miss: crate::limits::Reserved,
    person: crate::limits::Reserved,
}

impl Held {
    async fn release(self, app: &App) {
        self.miss.refund(app).await;
        self.person.refund(app).await;
    }
}

fn still_waiting() -> TokenError {
    denied("a request to this person from this site is still waiting")
}

/// The longest a CIBA request may live: the push's cap and the login's life.
fn flow_cap(app: &App) -> u64 {
    app.config.login_ttl.as_secs().min(300)
}

/// How a push that did not start is answered (CIBA §13).
fn start_refused(site: &str, client: &str, e: &GatewayError, request_id: &str) -> TokenError {
    match e {
        GatewayError::Provider(
            ProviderError::UnknownPerson
            | ProviderError::PersonMismatch
            | ProviderError::AccountUnusable,
        ) => {
            tracing::info!(
                client,
                site,
                req = request_id,
                "backchannel authentication named a person the provider does not know"
            );
            bad("unknown_user_id", "the provider does not know this person")
        }
        GatewayError::Limited(l) if l.kind == munjigi_policy::limits::Kind::Person => {
            denied("too many requests to this person; try again later")
        }
        other => {
            let code = crate::rescue::rescue_of(other).code;
            tracing::warn!(client, site, code, error = %other, req = request_id, "backchannel authentication could not push");
            unavailable("the provider could not take the request; try again shortly")
        }
    }
}

/// Moves a pending request one step (the provider's status, then its
/// result), and returns the record as it is after. None: no such request.
pub(crate) async fn drive(app: &App, rkey: &str) -> Result<Option<CibaRecord>, GatewayError> {
    let Some(raw) = app.store.get(rkey).await? else {
        return Ok(None);
    };
    let rec: CibaRecord = decode(&raw)?;
    if !matches!(rec.state, CibaState::Pending) {
        return Ok(Some(rec));
    }
    let past = app.clock.now() >= rec.expires_at;
    let txn = match app.txns.load(&rec.txn).await {
        Ok((t, _)) => t,
        Err(TxnError::Gone) if past => return end(app, rkey, Failure::Expired).await,
        // Another request holds it while completing; expiry ends it otherwise.
        Err(TxnError::Gone) => return Ok(Some(rec)),
        Err(e) => return Err(e.into()),
    };
    // Asked even when late: a rejection in the app is a rejection (it
    // silences the site), not an expiry.
    let txn = flow::refresh(app, txn).await?;
    if past && !matches!(txn.state, State::Rejected) {
        let _ = app.txns.claim(&txn.id).await;
        return end(app, rkey, Failure::Expired).await;
    }
    let txn = match txn.state {
        State::Completed => match flow::finish(app, txn).await? {
            Some(t) => t,
            None => return Ok(Some(rec)),
        },
        _ => txn,
    };
    match txn.state {
        State::Verified => complete(app, rkey, &rec, txn).await,
        State::Expired | State::Rejected | State::Failed => {
            let failure = Failure::of_ended(txn.state, txn.failure).unwrap_or(Failure::Protocol);
            if !app.txns.claim(&txn.id).await? {
                return Ok(Some(rec));
            }
            app.runtime.metrics.login(
                &txn.request.site_id,
                txn.front.kind(),
                crate::metrics::Left::returned,
            );
            if failure == Failure::Rejected {
                let k = cooldown_key(&rec.site_id, &rec.person);
                app.store
                    .put(&k, b"1".to_vec(), Duration::from_secs(COOLDOWN_SECS))
                    .await?;
            }
            end(app, rkey, failure).await
        }
        _ => Ok(Some(rec)),
    }
}

/// A verified login of a CIBA request: claimed once, audited, released as
/// the code flow would, and the record approved for the client's next poll.
async fn complete(
    app: &App,
    rkey: &str,
    rec: &CibaRecord,
    txn: crate::txn::LoginTxn,
) -> Result<Option<CibaRecord>, GatewayError> {
    let Some(outcome) = txn.outcome.clone() else {
        return Err(GatewayError::invariant("verified login without an outcome"));
    };
    // Still open and in time, read now: a request that ended meanwhile
    // (expired at a poll) does not get a completed login in the audit log.
    let fresh = match app.store.get(rkey).await? {
        Some(raw) => decode(&raw)?,
        None => return Ok(None),
    };
    if !matches!(fresh.state, CibaState::Pending) || app.clock.now() >= fresh.expires_at {
        return Ok(Some(fresh));
    }
    if !app.txns.claim(&txn.id).await? {
        return Ok(Some(rec.clone()));
    }
    if let Err(e) = crate::audit::verified_login_completed(app, &txn, &outcome).await {
        tracing::error!(request = %rec.id, client = %rec.client_id, error = %e, "CIBA login not completed: its audit record could not be written");
        return end(app, rkey, Failure::Config).await;
    }
    let released = crate::login::release(app, &txn.id, &txn.request, &txn.policy, &outcome);
    let claims = match released {
        Ok(Ok(c)) => c,
        Err(e) => {
            tracing::error!(txn = %txn.id, request = %rec.id, client = %rec.client_id, error = %e, "claim release failed");
            return end(app, rkey, Failure::Config).await;
        }
        Ok(Err(refused)) => {
            tracing::warn!(txn = %txn.id, request = %rec.id, client = %rec.client_id, code = refused.code(), "claim release refused");
            return end(app, rkey, Failure::Config).await;
        }
    };
    let approved = CibaState::Approved {
        claims: Box::new(claims),
        sid: random::token(16)?,
    };
    let after = settle(app, rkey, approved).await?;
    if after
        .as_ref()
        .is_some_and(|r| matches!(r.state, CibaState::Approved { .. }))
    {
        app.runtime.metrics.login(
            &txn.request.site_id,
            txn.front.kind(),
            crate::metrics::Left::completed,
        );
        tracing::info!(txn = %txn.id, request = %rec.id, client = %rec.client_id, provider = %outcome.provider, acr = outcome.level.short(), "CIBA login approved");
    } else {
        tracing::warn!(txn = %txn.id, request = %rec.id, client = %rec.client_id, "CIBA login verified after its request ended: not used");
        crate::audit::ciba_ended(app, rec, "discarded");
    }
    Ok(after)
}

async fn end(app: &App, rkey: &str, failure: Failure) -> Result<Option<CibaRecord>, GatewayError> {
    settle(app, rkey, CibaState::Ended { failure }).await
}

fn decode(raw: &[u8]) -> Result<CibaRecord, GatewayError> {
    serde_json::from_slice(raw)
        .map_err(|e| GatewayError::Internal(crate::rescue::Fault::Corrupt, e.to_string()))
}

/// Moves a pending record to `to` (compare-and-swap against the client's
/// polls); the record as it is after (unchanged if it had already ended).
async fn settle(app: &App, rkey: &str, to: CibaState) -> Result<Option<CibaRecord>, GatewayError> {
    // The client's polls swap the record too (their time): retried until
    // the record is no longer pending, within reason.
    for _ in 0..SETTLE_TRIES {
        let Some(before) = app.store.get(rkey).await? else {
            return Ok(None);
        };
        let mut rec = decode(&before)?;
        if !matches!(rec.state, CibaState::Pending) {
            return Ok(Some(rec));
        }
        rec.state = to.clone();
        let now = app.clock.now();
        let after = serde_json::to_vec(&rec).map_err(GatewayError::encode)?;
        if app.store.swap(rkey, &before, after, rec.ttl(now)).await? {
            let outcome = match &rec.state {
                CibaState::Approved { .. } => "approved",
                CibaState::Ended {
                    failure: Failure::Expired,
                } => "expired",
                _ => "denied",
            };
            crate::audit::ciba_ended(app, &rec, outcome);
            tracing::info!(request = %rec.id, client = %rec.client_id, outcome, "CIBA request settled");
            return Ok(Some(rec));
        }
    }
    Err(GatewayError::ChangedElsewhere(Race::Conflict))
}

/// `/token` with the CIBA grant (CIBA §10–11).
pub(super) async fn redeem(
    app: &App,
    client: &OidcClient,
    form: &crate::web::Params,
    request_id: &str,
) -> Result<Granted, TokenError> {
    if client.ciba.is_none() {
        return Err(bad("unauthorized_client", "this client may not use CIBA"));
    }
    let auth_req_id = form
        .get("auth_req_id")
        .ok_or(bad("invalid_request", "auth_req_id is required"))?;
    let invalid_grant = bad(
        "invalid_grant",
        "the auth_req_id is invalid, expired or already used",
    );
    if auth_req_id.len() > 128 {
        return Err(invalid_grant);
    }
    let rkey = key(&random::digest(auth_req_id));
    let Some(before) = app
        .store
        .get(&rkey)
        .await
        .map_err(|_| token::unavailable())?
    else {
        token::replayed(
            app,
            &used_key(auth_req_id),
            client,
            "auth_req_id",
            request_id,
        )
        .await;
        return Err(invalid_grant);
    };
    let mut rec = decode(&before).map_err(|_| token::unavailable())?;
    if rec.client_id != client.client_id {
        tracing::warn!(code = "MJ-O02", client = %client.client_id, request = %rec.id, req = request_id, "auth_req_id presented by another client");
        return Err(invalid_grant);
    }
    let now = app.clock.now();
    let mut answer = poll(&mut rec, now);
    if matches!(answer, Poll::Pending | Poll::SlowDown) {
        let after = serde_json::to_vec(&rec).map_err(|_| token::unavailable())?;
        // A lost swap (the request moved on meanwhile) is read again below.
        let _ = app
            .store
            .swap(&rkey, &before, after, rec.ttl(now))
            .await
            .map_err(|_| token::unavailable())?;
        if answer == Poll::SlowDown {
            return Err(bad("slow_down", "poll no faster than the interval"));
        }
        // On time: move the login on, then answer from where it is now.
        match drive(app, &rkey).await {
            Ok(Some(mut moved)) => {
                if !matches!(moved.state, CibaState::Pending) {
                    answer = poll(&mut moved, now);
                    rec = moved;
                }
            }
            Ok(None) => return Err(invalid_grant),
            Err(e) => {
                tracing::warn!(request = %rec.id, client = %client.client_id, error = %e, req = request_id, "CIBA request not moved on; still pending");
            }
        }
    }
    match answer {
        Poll::Pending => Err(bad(
            "authorization_pending",
            "the citizen has not approved yet",
        )),
        Poll::SlowDown => Err(bad("slow_down", "poll no faster than the interval")),
        Poll::Expired => {
            if matches!(rec.state, CibaState::Pending) {
                // Past its time without an answer: the login ends here.
                let _ = app.txns.claim(&rec.txn).await;
                let _ = end(app, &rkey, Failure::Expired).await;
            }
            let _ = app.store.delete(&rkey).await;
            Err(bad(
                "expired_token",
                "the request expired before the citizen approved it",
            ))
        }
        Poll::Ended(failure) => {
            // Heard once; the next poll finds nothing.
            let _ = app.store.delete(&rkey).await;
            let description = if failure == Failure::Rejected {
                "the citizen rejected the request"
            } else {
                failure.looks().oauth.1
            };
            Err(bad("access_denied", description))
        }
        Poll::Approved => {
            // One redemption, on whichever replica: the one that removes it.
            let Some(raw) = app
                .store
                .take(&rkey)
                .await
                .map_err(|_| token::unavailable())?
            else {
                return Err(invalid_grant);
            };
            let rec = decode(&raw).map_err(|_| token::unavailable())?;
            let CibaState::Approved { claims, sid } = rec.state.clone() else {
                return Err(invalid_grant);
            };
            crate::audit::ciba_ended(app, &rec, "redeemed");
            tracing::info!(request = %rec.id, client = %client.client_id, req = request_id, "auth_req_id redeemed");
            Ok(Granted {
                scope: rec.scope,
                claims: *claims,
                sid,
                nonce: None,
                used_key: used_key(auth_req_id),
            })
        }
    }
}

/// Where and how a ping-mode client is told (CIBA §10.2).
struct Ping {
    auth_req_id: String,
    bearer: String,
    endpoint: String,
}

/// A task that moves the request on every few seconds until it ends (so a
/// rejection is seen while the push lives, whether or not the client
/// polls), then, in ping mode, tells the client once. The clear
/// `auth_req_id` and notification token live only in this task. It stops
/// at the latest a little after the longest request could live.
fn spawn_driver(app: Arc<App>, rkey: String, ping: Option<Ping>) {
    let deadline = app
        .clock
        .now()
        .saturating_add(300 + super::device::KEPT_AFTER_EXPIRY_SECS);
    tokio::spawn(munjigi_providers::trace::propagate(async move {
        let ended = loop {
            tokio::time::sleep(DRIVE_EVERY).await;
            if app.clock.now() > deadline {
                break None;
            }
            match drive(&app, &rkey).await {
                Ok(Some(rec)) if matches!(rec.state, CibaState::Pending) => {}
                Ok(Some(rec)) => break Some(rec),
                Ok(None) => break None,
                Err(e) => {
                    tracing::warn!(error = %e, "CIBA request not moved on; trying again");
                }
            }
        };
        let (Some(rec), Some(ping)) = (ended, ping) else {
            return;
        };
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        let Ok(auth) = http::HeaderValue::from_str(&format!("Bearer {}", ping.bearer)) else {
            return;
        };
        headers.insert(http::header::AUTHORIZATION, auth);
        let body = serde_json::json!({ "auth_req_id": ping.auth_req_id }).to_string();
        let delivered = crate::outbound::deliver(
            &ping.endpoint,
            headers,
            bytes::Bytes::from(body),
            "CIBA ping",
            &rec.id,
            &rec.site_id,
        )
        .await;
        app.runtime.metrics.ciba_ping(&rec.site_id, delivered);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(now: u64) -> CibaRecord {
        CibaRecord {
            id: "c".into(),
            client_id: "callcentre".into(),
            site_id: "cc".into(),
            txn: "t".into(),
            provider: "kakao".into(),
            scope: "openid".into(),
            required_level: Level::Substantial,
            ping: false,
            person: "p".into(),
            expires_at: now + 120,
            interval: INTERVAL_SECS,
            last_poll: None,
            state: CibaState::Pending,
        }
    }

    #[test]
    fn polling_paces_the_client_then_answers_the_end_however_fast() {
        let mut r = record(1_000);
        assert_eq!(poll(&mut r, 1_000), Poll::Pending);
        assert_eq!(poll(&mut r, 1_002), Poll::SlowDown);
        assert_eq!(r.interval, 10);
        assert_eq!(poll(&mut r, 1_012), Poll::Pending);
        r.state = CibaState::Ended {
            failure: Failure::Rejected,
        };
        assert_eq!(poll(&mut r, 1_013), Poll::Ended(Failure::Rejected));
        r.state = CibaState::Ended {
            failure: Failure::Expired,
        };
        assert_eq!(poll(&mut r, 1_013), Poll::Expired);
        let mut p = record(1_000);
        assert_eq!(poll(&mut p, 1_120), Poll::Expired);
        p.state = CibaState::Approved {
            claims: Box::new(
                serde_json::from_value(serde_json::json!({
                    "sub": "s", "provider": "kakao", "acr": "x", "amr": [], "auth_time": 1
                }))
                .unwrap(),
            ),
            sid: "sid".into(),
        };
        assert_eq!(poll(&mut p, 1_001), Poll::Approved);
        assert_eq!(poll(&mut p, 1_120), Poll::Expired);
    }

    #[test]
    fn a_binding_message_is_a_short_code_not_words() {
        for (given, code) in [
            ("4821", "4821"),
            (" ab-12 ", "AB-12"),
            ("12345678", "12345678"),
        ] {
            assert_eq!(binding(given).as_deref(), Some(code), "{given}");
        }
        for given in ["1", "123456789", "승인", "4821!", "환급 4821", "", "a b"] {
            assert_eq!(binding(given), None, "{given}");
        }
    }

    #[test]
    fn notification_tokens_follow_b64token() {
        assert!(b64token("abc.DEF-_~+/=="));
        assert!(!b64token(""));
        assert!(!b64token("a b"));
        assert!(!b64token("=="));
        assert!(!b64token(&"a".repeat(1025)));
    }
}
