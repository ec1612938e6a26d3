//! The Device Authorization Grant (RFC 8628): a kiosk or a speaker with no
//! keyboard starts a login, and the citizen finishes it on their own phone.
//!
//! The device gets two codes: a long random `device_code` it polls `/token`
//! with, and a short `user_code` the citizen types (or scans) at `/device`.
//! Both are kept as digests only, so a store dump starts no login. The
//! citizen's part is an ordinary login through the chooser, whose front
//! ([`DeviceReturn`]) marks the record approved with what the authorization
//! code flow would carry (claims released by the site's policy, pairwise
//! `sub`, `sid`, scope, level); the tokens are then issued by the code
//! flow's own function ([`super::token`]), so a device gets nothing a
//! browser login would not.
//!
//! Polling is one pure function ([`poll`]) over the record: `slow_down` for
//! a device polling faster than its interval (which grows by 5 s each time,
//! §3.5), `expired_token` after its life, `access_denied` when the citizen
//! cancelled, and the grant once, when approved. Every change of a record is
//! a compare-and-swap of its one key, so it works on a Redis Cluster.
//!
//! Not here: the citizen's pages ([`super::device_page`]), guessing limits
//! on user codes ([`crate::limits::device_code`]).

use super::token::{self, err, Granted, TokenError};
use crate::app::App;
use crate::config::model::OidcClient;
use crate::login::LoginRequest;
use crate::random::{self, RandomError};
use crate::rescue::GatewayError;
use crate::store::keys::Family;
use crate::txn::{Outcome, PolicySnapshot};
use crate::web::{respond, Response};
use http::StatusCode;
use hyper::body::Incoming;
use munjigi_policy::{Claims, Scopes};
use munjigi_providers::Level;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The grant type a device polls `/token` with (RFC 8628 §3.4).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The least time between two polls, to begin with (RFC 8628 §3.2 default).
pub const INTERVAL_SECS: u64 = 5;
/// What a `slow_down` adds to the interval (RFC 8628 §3.5).
pub const SLOW_DOWN_SECS: u64 = 5;
/// A record outlives its code by this much, so a device polling just after
/// expiry hears `expired_token` rather than `invalid_grant`.
pub(super) const KEPT_AFTER_EXPIRY_SECS: u64 = 60;
/// Letters that are not easily mistaken for each other or for digits, and
/// make no words (no vowels): RFC 8628 §6.1's example alphabet.
pub const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code: 20^8 ≈ 2.6·10^10 codes (§5.1 asks for enough
/// entropy against guessing at the rate limits allow).
pub const USER_CODE_LEN: usize = 8;

/// A new user code, uniform over [`ALPHABET`] (bytes ≥ 240 are drawn again,
/// so no letter is likelier than another).
pub fn new_user_code() -> Result<String, RandomError> {
    let mut code = String::with_capacity(USER_CODE_LEN);
    while code.len() < USER_CODE_LEN {
        for b in random::bytes::<16>()? {
            if code.len() == USER_CODE_LEN {
                break;
            }
            if b < 240 {
                if let Some(&c) = ALPHABET.get(usize::from(b % 20)) {
                    code.push(char::from(c));
                }
            }
        }
    }
    Ok(code)
}

/// A user code as typed (any case, with or without the dash or spaces) in
/// its one normal form, or `None` when it cannot be one.
pub fn normalise(typed: &str) -> Option<String> {
    if typed.len() > 32 {
        return None;
    }
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t' | '\u{2010}'..='\u{2015}'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// `BCDFGHJK` → `BCDF-GHJK`, as shown to the citizen.
pub fn display(code: &str) -> String {
    match (code.get(..4), code.get(4..)) {
        (Some(a), Some(b)) if !b.is_empty() => format!("{a}-{b}"),
        _ => code.to_owned(),
    }
}

/// Where a device code's record is kept.
pub fn device_key(device_digest: &str) -> String {
    Family::DeviceCode.key(device_digest)
}
fn used_device_key(device_code: &str) -> String {
    Family::UsedDeviceCode.key(&random::digest(device_code))
}
/// Where a user code (normal form) points to its device code's digest.
pub fn user_key(user_code: &str) -> String {
    Family::UserCode.key(&random::digest(user_code))
}

/// One device authorization, under its device code's digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// A public id for logs and the audit log (never the codes).
    pub id: String,
    pub client_id: String,
    pub site_id: String,
    pub scope: String,
    pub required_level: Level,
    pub expires_at: u64,
    /// The least seconds between two polls, grown by each `slow_down`.
    pub interval: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_poll: Option<u64>,
    pub state: DeviceState,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "s", rename_all = "snake_case")]
pub enum DeviceState {
    /// The citizen has not finished (or not begun).
    Pending,
    /// Logged in: what the tokens will carry, released when the login ended.
    Approved { claims: Box<Claims>, sid: String },
    /// The citizen cancelled, or the site's policy refused the login.
    Denied,
}

/// What a poll of `/token` hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    Pending,
    SlowDown,
    Expired,
    Denied,
    Approved,
}

/// One poll at `now`: the answer, and the record as it is after it (the
/// poll's time, a grown interval). An ended login is answered however fast
/// the device polls: there is nothing left to wait for.
pub fn poll(rec: &mut DeviceRecord, now: u64) -> Poll {
    if now >= rec.expires_at {
        return Poll::Expired;
    }
    match rec.state {
        DeviceState::Denied => return Poll::Denied,
        DeviceState::Approved { .. } => return Poll::Approved,
        DeviceState::Pending => {}
    }
    if too_soon(&mut rec.last_poll, &mut rec.interval, now) {
        Poll::SlowDown
    } else {
        Poll::Pending
    }
}

/// Whether a poll at `now` comes sooner than `interval` after the last one
/// (RFC 8628 §3.5, CIBA §11): then the interval grows by [`SLOW_DOWN_SECS`].
/// The poll's time is kept either way.
pub(super) fn too_soon(last_poll: &mut Option<u64>, interval: &mut u64, now: u64) -> bool {
    let soon = last_poll.is_some_and(|last| now < last.saturating_add(*interval));
    *last_poll = Some(now);
    if soon {
        *interval = interval.saturating_add(SLOW_DOWN_SECS);
    }
    soon
}

impl DeviceRecord {
    /// How long the record is kept from `now`.
    fn ttl(&self, now: u64) -> Duration {
        kept_for(self.expires_at, now)
    }
}

/// How long, from `now`, a decoupled grant's record (device code, CIBA
/// request) is kept: [`KEPT_AFTER_EXPIRY_SECS`] past its expiry, so a late
/// poll hears `expired_token` rather than `invalid_grant`.
pub(super) fn kept_for(expires_at: u64, now: u64) -> Duration {
    Duration::from_secs(
        expires_at
            .saturating_add(KEPT_AFTER_EXPIRY_SECS)
            .saturating_sub(now)
            .max(1),
    )
}

/// The device end of a login: which record its completion approves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceReturn {
    pub client_id: String,
    /// The device code's digest (the record's key).
    pub device: String,
    /// The record's public id, for logs.
    pub id: String,
}

fn bad(error: &'static str, description: &'static str) -> TokenError {
    err(StatusCode::BAD_REQUEST, error, description)
}

/// `POST /device_authorization` (RFC 8628 §3.1–3.2).
pub async fn handle(app: &App, req: http::Request<Incoming>, ctx: &crate::rescue::Ctx) -> Response {
    let request_id = ctx.request_id.as_str();
    match authorize(app, req, request_id, ctx.client).await {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(req = request_id, "device authorization refused");
            e.response()
        }
    }
}

async fn authorize(
    app: &App,
    req: http::Request<Incoming>,
    request_id: &str,
    caller: std::net::IpAddr,
) -> Result<Response, TokenError> {
    let (parts, form) = token::read_form(req).await?;
    let endpoint = format!("{}/device_authorization", app.config.issuer());
    let client = token::authenticate(app, &parts.headers, &form, request_id, &endpoint).await?;
    let Some(grant) = client.device else {
        tracing::warn!(client = %client.client_id, req = request_id, "device authorization by a client not allowed the grant");
        return Err(bad(
            "unauthorized_client",
            "this client may not use the device authorization grant",
        ));
    };
    let Some((site, _)) = app.config.client(&client.client_id) else {
        return Err(token::unavailable());
    };
    let scopes = match form.get("scope").map(Scopes::parse) {
        Some(Ok(s)) => s,
        _ => return Err(bad("invalid_scope", "scope must include openid")),
    };
    let required_level = munjigi_policy::required_level(&site.policy, form.get("acr_values"));
    let policy = PolicySnapshot::from_policy(&site.policy);
    if !crate::login::any_provider_fits(app, &policy, required_level) {
        return Err(bad(
            "invalid_request",
            "no provider offers the requested assurance level",
        ));
    }
    // A device authorization is a login start: the same limits (the
    // caller's address, the site's rate), so a public client's id alone
    // cannot fill the store.
    if let Err(e) = crate::limits::start(app, &site.id, caller).await {
        if let GatewayError::Limited(r) = &e {
            tracing::warn!(client = %client.client_id, reason = %r, req = request_id, "device authorization refused by a limit");
        }
        return Err(err(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "too many logins right now; try again shortly",
        ));
    }
    let now = app.clock.now();
    let ttl = grant.ttl.as_secs();
    let device_code = random::token(32).map_err(|_| token::unavailable())?;
    let device = random::digest(&device_code);
    let record = DeviceRecord {
        id: random::token(9).map_err(|_| token::unavailable())?,
        client_id: client.client_id.clone(),
        site_id: site.id.clone(),
        scope: scopes.as_str(),
        required_level,
        expires_at: now + ttl,
        interval: INTERVAL_SECS,
        last_poll: None,
        state: DeviceState::Pending,
    };
    let bytes = serde_json::to_vec(&record).map_err(|_| token::unavailable())?;
    app.store
        .put(&device_key(&device), bytes, record.ttl(now))
        .await
        .map_err(|_| token::unavailable())?;
    // A user code taken by a live authorization is drawn again (at 20^8
    // codes, a second draw is already rare).
    let mut user_code = None;
    for _ in 0..4 {
        let code = new_user_code().map_err(|_| token::unavailable())?;
        let fresh = app
            .store
            .put_new(
                &user_key(&code),
                device.clone().into_bytes(),
                Duration::from_secs(ttl),
            )
            .await
            .map_err(|_| token::unavailable())?;
        if fresh {
            user_code = Some(code);
            break;
        }
    }
    let Some(user_code) = user_code else {
        return Err(token::unavailable());
    };
    crate::audit::device_requested(app, &record);
    tracing::info!(device = %record.id, client = %client.client_id, acr = required_level.short(), req = request_id, "device authorization started");
    let shown = display(&user_code);
    let verification_uri = format!("{}/device", app.config.public_url);
    let complete = crate::web::params::append_query(&verification_uri, &[("user_code", &shown)]);
    let mut r = respond::json(
        StatusCode::OK,
        &serde_json::json!({
            "device_code": device_code,
            "user_code": shown,
            "verification_uri": verification_uri,
            "verification_uri_complete": complete,
            "expires_in": ttl,
            "interval": INTERVAL_SECS,
        }),
    );
    r.headers_mut().insert(
        http::header::PRAGMA,
        http::HeaderValue::from_static("no-cache"),
    );
    Ok(r)
}

/// `/token` with the device code grant (RFC 8628 §3.4–3.5).
pub(super) async fn redeem(
    app: &App,
    client: &OidcClient,
    form: &crate::web::Params,
    request_id: &str,
) -> Result<Granted, TokenError> {
    if client.device.is_none() {
        return Err(bad(
            "unauthorized_client",
            "this client may not use the device authorization grant",
        ));
    }
    let device_code = form
        .get("device_code")
        .ok_or(bad("invalid_request", "device_code is required"))?;
    let invalid_grant = bad(
        "invalid_grant",
        "the device code is invalid, expired or already used",
    );
    let key = device_key(&random::digest(device_code));
    let Some(before) = app
        .store
        .get(&key)
        .await
        .map_err(|_| token::unavailable())?
    else {
        token::replayed(
            app,
            &used_device_key(device_code),
            client,
            "device_code",
            request_id,
        )
        .await;
        return Err(invalid_grant);
    };
    let mut rec: DeviceRecord =
        serde_json::from_slice(&before).map_err(|_| token::unavailable())?;
    if rec.client_id != client.client_id {
        tracing::warn!(code = "MJ-O02", client = %client.client_id, device = %rec.id, req = request_id, "device code presented by another client");
        return Err(invalid_grant);
    }
    let now = app.clock.now();
    match poll(&mut rec, now) {
        answer @ (Poll::Pending | Poll::SlowDown) => {
            let after = serde_json::to_vec(&rec).map_err(|_| token::unavailable())?;
            // A lost swap (the citizen finished meanwhile) is still pending
            // for this poll; the next one sees the new state.
            let _ = app
                .store
                .swap(&key, &before, after, rec.ttl(now))
                .await
                .map_err(|_| token::unavailable())?;
            Err(if answer == Poll::SlowDown {
                bad("slow_down", "poll no faster than the interval")
            } else {
                bad("authorization_pending", "the citizen has not finished")
            })
        }
        Poll::Expired => {
            let _ = app.store.delete(&key).await;
            crate::audit::device_ended(app, &rec, "expired");
            Err(bad("expired_token", "the device code has expired"))
        }
        Poll::Denied => {
            // Heard once; the next poll finds nothing.
            let _ = app.store.delete(&key).await;
            Err(bad("access_denied", "the citizen declined the login"))
        }
        Poll::Approved => {
            // One redemption, on whichever replica: the one that removes it.
            let Some(raw) = app
                .store
                .take(&key)
                .await
                .map_err(|_| token::unavailable())?
            else {
                return Err(invalid_grant);
            };
            let rec: DeviceRecord =
                serde_json::from_slice(&raw).map_err(|_| token::unavailable())?;
            let DeviceState::Approved { claims, sid } = rec.state.clone() else {
                return Err(invalid_grant);
            };
            crate::audit::device_ended(app, &rec, "redeemed");
            tracing::info!(device = %rec.id, client = %client.client_id, req = request_id, "device code redeemed");
            Ok(Granted {
                scope: rec.scope,
                claims: *claims,
                sid,
                nonce: None,
                used_key: used_device_key(device_code),
            })
        }
    }
}

/// How a device login's record was found when the citizen's part ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Now approved (or denied, as asked).
    Done,
    /// Expired, gone, or already ended by another tab.
    TooLate,
}

/// Moves a pending record to `to` (compare-and-swap, retried a few times
/// against the device's own polls).
async fn settle(app: &App, device: &str, to: &DeviceState) -> Result<Settled, GatewayError> {
    let key = device_key(device);
    for _ in 0..5 {
        let Some(before) = app.store.get(&key).await? else {
            return Ok(Settled::TooLate);
        };
        let mut rec: DeviceRecord = serde_json::from_slice(&before)
            .map_err(|e| GatewayError::Internal(crate::rescue::Fault::Corrupt, e.to_string()))?;
        let now = app.clock.now();
        if now >= rec.expires_at || !matches!(rec.state, DeviceState::Pending) {
            return Ok(Settled::TooLate);
        }
        rec.state = to.clone();
        let after = serde_json::to_vec(&rec).map_err(GatewayError::encode)?;
        if app.store.swap(&key, &before, after, rec.ttl(now)).await? {
            let outcome = match to {
                DeviceState::Approved { .. } => "approved",
                _ => "denied",
            };
            crate::audit::device_ended(app, &rec, outcome);
            tracing::info!(device = %rec.id, client = %rec.client_id, outcome, "device authorization settled");
            return Ok(Settled::Done);
        }
    }
    Err(GatewayError::ChangedElsewhere(
        crate::rescue::Race::Conflict,
    ))
}

/// A finished login of a device: release claims as the code flow would and
/// approve the record. Ok(false): the site's policy refused the login, or
/// the code expired meanwhile (the record is denied or gone).
#[allow(clippy::too_many_arguments)]
pub async fn approve(
    app: &App,
    txn_id: &str,
    d: &DeviceReturn,
    request: &LoginRequest,
    policy: &PolicySnapshot,
    outcome: &Outcome,
    sid: &str,
) -> Result<Settled, GatewayError> {
    let claims = match crate::login::release(app, txn_id, request, policy, outcome)? {
        Ok(c) => c,
        Err(denied) => {
            tracing::warn!(txn = txn_id, client = %d.client_id, device = %d.id, code = denied.code(), "claim release refused");
            settle(app, &d.device, &DeviceState::Denied).await?;
            return Ok(Settled::TooLate);
        }
    };
    let approved = DeviceState::Approved {
        claims: Box::new(claims),
        sid: sid.to_owned(),
    };
    let settled = settle(app, &d.device, &approved).await?;
    tracing::info!(txn = txn_id, client = %d.client_id, device = %d.id, provider = %outcome.provider, acr = outcome.level.short(), "device login approved");
    Ok(settled)
}

/// The citizen declined (cancelled at the confirmation, or went back to the
/// site from the login).
pub async fn deny(app: &App, device: &str) -> Result<Settled, GatewayError> {
    settle(app, device, &DeviceState::Denied).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(now: u64) -> DeviceRecord {
        DeviceRecord {
            id: "d".into(),
            client_id: "kiosk".into(),
            site_id: "town".into(),
            scope: "openid".into(),
            required_level: Level::Substantial,
            expires_at: now + 600,
            interval: INTERVAL_SECS,
            last_poll: None,
            state: DeviceState::Pending,
        }
    }

    #[test]
    fn user_codes_are_eight_letters_of_the_alphabet_and_differ() {
        let mut seen = std::collections::HashSet::new();
        let mut letters = std::collections::HashSet::new();
        for _ in 0..500 {
            let c = new_user_code().unwrap();
            assert_eq!(c.len(), USER_CODE_LEN);
            assert!(c.bytes().all(|b| ALPHABET.contains(&b)), "{c}");
            letters.extend(c.bytes());
            assert!(seen.insert(c));
        }
        // Every letter comes up (500 × 8 draws of 20 letters).
        assert_eq!(letters.len(), ALPHABET.len());
        // No vowels, no look-alikes of digits.
        for b in b"AEIOUY01" {
            assert!(!ALPHABET.contains(b));
        }
    }

    #[test]
    fn a_code_is_accepted_however_it_is_typed() {
        for typed in [
            "BCDF-GHJK",
            "bcdfghjk",
            "bcdf ghjk",
            " Bcdf-Ghjk ",
            "BCDF\u{2013}GHJK",
        ] {
            assert_eq!(normalise(typed).as_deref(), Some("BCDFGHJK"), "{typed}");
        }
        for typed in [
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "ABCD-EFGH",
            "BCDF-GHJ1",
            "",
            "BCDFGHJK?",
        ] {
            assert_eq!(normalise(typed), None, "{typed}");
        }
        assert_eq!(display("BCDFGHJK"), "BCDF-GHJK");
        assert_eq!(
            normalise(&display(&new_user_code().unwrap())).map(|c| c.len()),
            Some(8)
        );
    }

    #[test]
    fn polling_waits_then_answers_the_end_once_reached() {
        let mut r = record(1_000);
        assert_eq!(poll(&mut r, 1_000), Poll::Pending);
        assert_eq!(poll(&mut r, 1_005), Poll::Pending);
        assert_eq!(r.last_poll, Some(1_005));
        r.state = DeviceState::Denied;
        assert_eq!(poll(&mut r, 1_006), Poll::Denied);
        r.state = DeviceState::Approved {
            claims: Box::new(
                serde_json::from_value(serde_json::json!({
                    "sub": "s", "provider": "kakao", "acr": "x", "amr": [], "auth_time": 1
                }))
                .unwrap(),
            ),
            sid: "sid".into(),
        };
        // An ended login is answered however fast the device polls.
        assert_eq!(poll(&mut r, 1_006), Poll::Approved);
        assert_eq!(poll(&mut r, 1_600), Poll::Expired);
        let mut p = record(1_000);
        assert_eq!(poll(&mut p, 1_600), Poll::Expired);
    }

    #[test]
    fn polling_too_fast_slows_the_device_down_by_five_seconds_each_time() {
        let mut r = record(1_000);
        assert_eq!(poll(&mut r, 1_000), Poll::Pending);
        assert_eq!(poll(&mut r, 1_002), Poll::SlowDown);
        assert_eq!(r.interval, 10);
        // Measured from the last poll, at the new interval.
        assert_eq!(poll(&mut r, 1_009), Poll::SlowDown);
        assert_eq!(r.interval, 15);
        assert_eq!(poll(&mut r, 1_024), Poll::Pending);
        assert_eq!(r.interval, 15);
        assert_eq!(poll(&mut r, 1_039), Poll::Pending);
    }

    #[test]
    fn records_are_kept_a_minute_past_their_expiry() {
        let r = record(1_000);
        assert_eq!(r.ttl(1_000), Duration::from_secs(660));
        assert_eq!(r.ttl(5_000), Duration::from_secs(1));
    }
}
