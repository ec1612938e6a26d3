//! The steps of a login that talk to a provider: start, refresh, finish.
//!
//! HTTP-agnostic, so every front shares them. Provider calls are
//! made at most once per step across every browser and replica: status polls are
//! coalesced by a short claim in the store, and the one-shot result fetch by a
//! claim per attempt, so the provider never sees a second verify from us.

use crate::app::App;
use crate::circuit::{Change, Offer};
use crate::failure::Failure;
use crate::metrics::{Call, Ended};
use crate::random;
use crate::rescue::GatewayError;
use crate::txn::{Attempt, Event, LoginTxn, Outcome, State, StoredCitizen, TxnError};
use munjigi_providers::{Challenge, Citizen, ProviderError, ProviderId, Reach, Status};
use std::time::Duration;

/// At most one upstream status poll per login per interval, however many ask.
pub const POLL_INTERVAL: Duration = Duration::from_millis(1000);
/// The longest one upstream status poll may take; the in-flight claim lasts this
/// long, so a hung poll never lets a second one start behind it.
pub const POLL_DEADLINE: Duration = Duration::from_secs(70);
/// A provider whose status polls keep failing transiently this long fails the login.
pub const UNAVAILABLE_AFTER_SECS: u64 = 60;
/// Tries per login before the citizen must start over at the site.
pub const MAX_ATTEMPTS: u32 = 5;

/// The provider's signing ability, if it can sign this many documents.
pub fn signer_of<'a>(
    adapter: &'a dyn munjigi_providers::Provider,
    spec: &crate::signing::SigningSpec,
) -> Result<&'a dyn munjigi_providers::signing::DocumentSigner, GatewayError> {
    adapter
        .signer()
        .filter(|s| s.max_documents() >= spec.documents.len())
        .ok_or_else(|| GatewayError::BadRequest("this provider cannot sign these documents".into()))
}

fn provider<'a>(
    app: &'a App,
    id: &ProviderId,
) -> Result<&'a std::sync::Arc<dyn munjigi_providers::Provider>, GatewayError> {
    app.providers
        .get(id.as_str())
        .ok_or_else(|| GatewayError::config(format!("provider `{id}` is not configured any more")))
}

/// The longest request title every provider that shows one accepts.
pub(crate) const TITLE_MAX_CHARS: usize = 40;

/// Two digits the citizen compares between the app and the waiting page.
fn push_code() -> Result<String, GatewayError> {
    let n = random::bytes::<2>()?;
    Ok(format!("{}", 10 + u16::from_be_bytes(n) % 90))
}

/// The push's text: the site, the code, and what to do if the citizen did
/// not start this login, within the providers' title limit (the site's name
/// is shortened, never the rest).
pub fn push_title(site_name: &str, code: &str) -> String {
    let tail = format!(" 로그인 확인번호 {code} · 내가 한 요청이 아니면 거절");
    let room = TITLE_MAX_CHARS.saturating_sub(tail.chars().count());
    let site: String = site_name.chars().take(room).collect();
    format!("{}{tail}", site.trim_end())
}

/// A CIBA push's text: the site, the code the operator reads out, and to
/// reject unless it is the code the citizen was told (which also covers a
/// push nobody announced), within the title limit. Visibly unlike a
/// browser login's text, whose code is on the citizen's own screen.
pub fn ciba_title(site_name: &str, code: &str) -> String {
    let tail = format!(" 확인 {code} · 안내받은 번호 아니면 거절");
    let room = TITLE_MAX_CHARS.saturating_sub(tail.chars().count());
    let site: String = site_name.chars().take(room).collect();
    format!("{}{tail}", site.trim_end())
}

/// Asks the provider to push a request to the citizen's app.
pub async fn start(
    app: &App,
    txn: &LoginTxn,
    provider_id: &ProviderId,
    citizen: Citizen,
    reach: Reach,
) -> Result<LoginTxn, GatewayError> {
    if txn.attempts >= MAX_ATTEMPTS {
        return Err(GatewayError::TooManyAttempts);
    }
    let adapter = provider(app, provider_id)?;
    admit(app, provider_id)?;
    // Counted across every login, site and replica: a new login does not
    // reset it (the per-login attempts above do).
    let reserved = crate::limits::push(app, &txn.request.site_id, &citizen.phone).await?;
    if let Err(e) = crate::limits::provider(app, &txn.request.site_id, provider_id.as_str()).await {
        reserved.refund(app).await;
        return Err(e);
    }
    let site_name = app
        .config
        .sites
        .get(&txn.request.site_id)
        .map_or("", |s| s.name.as_str());
    // The login's full life starts counting from its start, not from now
    // (until now it lived only as long as a chooser may be looked at).
    let deadline = txn.created_at + app.config.login_ttl.as_secs();
    let remaining = deadline.saturating_sub(app.clock.now());
    let cap = txn
        .front
        .ciba()
        .map_or(300, |c| u64::from(c.ttl_secs).min(300));
    let ttl_secs = u32::try_from(remaining.min(cap)).unwrap_or(300);
    let started = std::time::Instant::now();
    // A code only where the app shows our text: the waiting page must never
    // ask the citizen to compare with something their app does not show.
    // A CIBA request's code is the one the site's operator reads out.
    let binding = txn.front.ciba().and_then(|c| c.binding.clone());
    let code = match binding {
        Some(b) if adapter.shows_title() => b,
        Some(_) => String::new(),
        None if adapter.shows_title() && txn.signing().is_none() && txn.front.ciba().is_none() => {
            push_code()?
        }
        None => String::new(),
    };
    let (challenge, pending) = match txn.signing() {
        None => {
            let challenge = Challenge {
                // 24 random bytes: 32 characters, within every provider's nonce limit.
                nonce: random::token(24)?,
                title: if code.is_empty() {
                    format!("{site_name} 로그인")
                        .chars()
                        .take(TITLE_MAX_CHARS)
                        .collect()
                } else if txn.front.ciba().is_some() {
                    ciba_title(site_name, &code)
                } else {
                    push_title(site_name, &code)
                },
                ttl_secs,
                reach,
            };
            let pending = adapter.start(&citizen, &challenge).await;
            (challenge, pending)
        }
        Some(spec) => {
            let signer = signer_of(adapter.as_ref(), spec)?;
            // The signing request keeps no nonce: the documents are the content.
            let challenge = Challenge {
                nonce: String::new(),
                title: spec.title.clone(),
                ttl_secs,
                reach: Default::default(),
            };
            let pending = signer.start_sign(&citizen, &spec.ask(ttl_secs)).await;
            (challenge, pending)
        }
    };
    let took = started.elapsed();
    let elapsed_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    observe(app, provider_id, Call::start, took, &pending);
    let metrics = &app.runtime.metrics;
    let pending = match pending {
        Ok(p) => p,
        Err(e) => {
            // Nothing reached the phone (a garbled answer may hide a push
            // that did: that one stays counted).
            if !matches!(e, ProviderError::Protocol(_)) {
                reserved.refund(app).await;
            }
            tracing::info!(txn = %txn.id, provider = %provider_id, reason = e.code(), elapsed_ms, "provider refused to start");
            return Err(GatewayError::Provider(e));
        }
    };
    metrics.started(provider_id);
    pending_track(app, &txn.id, txn.attempts + 1, Some(pending.expires_at));
    let app_to_app = !challenge.reach.is_push();
    crate::audit::login_started(app, txn, provider_id, app_to_app);
    tracing::info!(txn = %txn.id, provider = %provider_id, elapsed_ms, app_to_app, "request sent to the citizen's app");
    let attempt = Attempt {
        provider: provider_id.clone(),
        citizen: StoredCitizen::from_citizen(&citizen),
        challenge,
        pending,
        viewed: false,
        failing_since: None,
        code,
    };
    let needs_restart = txn.state != State::Choosing;
    if needs_restart {
        app.txns.transition(&txn.id, Event::Restart, |_| {}).await?;
        abandoned(app, txn);
    }
    Ok(app
        .txns
        .transition(&txn.id, Event::Started, move |t| {
            t.attempt = Some(attempt.clone());
            t.attempts += 1;
            t.failure = None;
            t.expires_at = t.expires_at.max(deadline);
        })
        .await?)
}

/// Refuses a new request on a provider whose circuit is open or that an
/// operator forced off (a half-open circuit lets its probes through).
fn admit(app: &App, id: &ProviderId) -> Result<(), GatewayError> {
    let (t, health) = app.config.health.of(id.as_str());
    let force = health.and_then(|h| h.force);
    let now = std::time::Instant::now();
    match app.runtime.circuits.admit(id.as_str(), t, force, now) {
        Offer::Available => Ok(()),
        offer => Err(GatewayError::ProviderOff {
            provider: id.to_string(),
            forced: offer == Offer::Disabled,
        }),
    }
}

/// Whether a new request on `id` would be admitted now (for the pages:
/// changes nothing).
pub fn offer(app: &App, id: &str) -> Offer {
    let (t, health) = app.config.health.of(id);
    let force = health.and_then(|h| h.force);
    app.runtime
        .circuits
        .offer(id, t, force, std::time::Instant::now())
}

/// Counts one provider call in the metrics and in the provider's circuit.
fn observe<T>(
    app: &App,
    id: &ProviderId,
    call: Call,
    took: Duration,
    result: &Result<T, ProviderError>,
) {
    app.runtime.metrics.call(
        id,
        call,
        took,
        result.as_ref().err().map(ProviderError::code),
    );
    let (t, _) = app.config.health.of(id.as_str());
    let seen = crate::circuit::Call::of(took, result);
    let now = std::time::Instant::now();
    match app.runtime.circuits.record(id.as_str(), t, seen, now) {
        Some(Change::Opened { calls, failures }) => {
            tracing::warn!(provider = %id, calls, failures, window_secs = t.window.as_secs(), reason = seen.failure.unwrap_or("slow"), "provider circuit opened: not offered to citizens until it recovers");
        }
        Some(Change::Reopened) => {
            tracing::warn!(provider = %id, reason = seen.failure.unwrap_or("slow"), "provider circuit probe failed: open again");
        }
        Some(Change::Closed) => {
            tracing::info!(provider = %id, "provider circuit closed: offered to citizens again");
        }
        None => {}
    }
}

/// Counts a provider request left for another (the citizen cancelled, or
/// started again) as ended, once its login has moved back to the chooser.
pub fn abandoned(app: &App, txn: &LoginTxn) {
    if let (State::Pending | State::Completed, Some(a)) = (txn.state, &txn.attempt) {
        app.runtime
            .metrics
            .ended(&a.provider, Ended::cancelled, "none");
        pending_track(app, &txn.id, txn.attempts, None);
    }
}

/// The store-wide set of provider requests waiting on a citizen (the
/// `munjigi_logins_pending` gauge): `Some(until)` adds the login, `None`
/// removes it (only with an admin listener to read it). Each attempt is its
/// own member, so the end of one and the start of the next never undo each
/// other. Off the login's path (a task of its own): a metric never delays or
/// fails a login.
fn pending_track(app: &App, txn: &str, attempt: u32, until: Option<u64>) {
    // Nobody can read the gauge without the admin listener: no store work.
    if app.config.admin_listen.is_none() {
        return;
    }
    let store = app.store.clone();
    let txn = format!("{txn}:{attempt}");
    tokio::spawn(async move {
        let r = match until {
            Some(u) => store.track(PENDING_SET, &txn, u).await,
            None => store.untrack(PENDING_SET, &txn).await,
        };
        if let Err(e) = r {
            tracing::debug!(error = %e, "pending-login gauge not updated");
        }
    });
}

/// The store key of the pending-login set.
pub const PENDING_SET: &str = "mj:pending";

/// Brings a pending login up to date with the provider (coalesced).
pub async fn refresh(app: &App, txn: LoginTxn) -> Result<LoginTxn, GatewayError> {
    if txn.state != State::Pending {
        return Ok(txn);
    }
    let Some(attempt) = txn.attempt.clone() else {
        return Ok(txn);
    };
    let now = app.clock.now();
    if now >= attempt.pending.expires_at {
        return apply(app, &txn, Event::ProviderExpired, Some(Failure::Expired)).await;
    }
    // One poll in flight per login, and at most one per interval, across every
    // browser and replica: the claim covers the poll, then the interval after it.
    let claim = crate::txn::key_of(&txn.id, "poll");
    if !app.store.put_new(&claim, Vec::new(), POLL_DEADLINE).await? {
        return Ok(txn);
    }
    let Ok(adapter) = provider(app, &attempt.provider) else {
        // Removed from the config by a reload: this login cannot finish with it.
        tracing::warn!(txn = %txn.id, provider = %attempt.provider, "provider removed from the configuration");
        return apply(
            app,
            &txn,
            Event::ProviderFailed,
            Some(Failure::ProviderRemoved),
        )
        .await;
    };
    let status = async {
        match txn.signing() {
            None => adapter.status(&attempt.pending).await,
            Some(spec) => {
                let signer = signer_of(adapter.as_ref(), spec)
                    .map_err(|e| ProviderError::Config(e.to_string()))?;
                signer
                    .sign_status(&spec.ask(attempt.challenge.ttl_secs), &attempt.pending)
                    .await
            }
        }
    };
    let asked = std::time::Instant::now();
    let polled = match tokio::time::timeout(POLL_DEADLINE, status).await {
        Ok(r) => r,
        Err(_) => Err(ProviderError::Transport("status poll timed out".into())),
    };
    observe(
        app,
        &attempt.provider,
        Call::status,
        asked.elapsed(),
        &polled,
    );
    app.store.put(&claim, Vec::new(), POLL_INTERVAL).await?;
    if polled.is_ok() && attempt.failing_since.is_some() {
        update_attempt(app, &txn, |a| a.failing_since = None).await?;
    }
    match polled {
        Ok(Status::Pending { viewed }) => {
            if viewed && !attempt.viewed {
                return update_attempt(app, &txn, |a| a.viewed = true).await;
            }
            Ok(txn)
        }
        Ok(Status::Completed) => {
            let t = apply(app, &txn, Event::ProviderCompleted, None).await?;
            if t.state == State::Completed {
                let waited = now.saturating_sub(attempt.pending.started_at);
                app.runtime
                    .metrics
                    .approved_after(&attempt.provider, Duration::from_secs(waited));
            }
            Ok(t)
        }
        Ok(Status::Expired) => {
            apply(app, &txn, Event::ProviderExpired, Some(Failure::Expired)).await
        }
        Ok(Status::Rejected) => {
            apply(app, &txn, Event::ProviderRejected, Some(Failure::Rejected)).await
        }
        Ok(Status::Failed) => {
            apply(app, &txn, Event::ProviderFailed, Some(Failure::Protocol)).await
        }
        Err(e) if transient(&e) => {
            let since = attempt.failing_since.unwrap_or(now);
            if now.saturating_sub(since) >= UNAVAILABLE_AFTER_SECS {
                tracing::warn!(txn = %txn.id, provider = %attempt.provider, reason = e.code(), failing_secs = now - since, "provider unreachable too long; login failed");
                return apply(app, &txn, Event::ProviderFailed, Some(Failure::Unavailable)).await;
            }
            tracing::warn!(txn = %txn.id, provider = %attempt.provider, reason = e.code(), "status poll failed; will retry");
            if attempt.failing_since.is_none() {
                return update_attempt(app, &txn, move |a| a.failing_since = Some(now)).await;
            }
            Ok(txn)
        }
        Err(e) => {
            tracing::warn!(txn = %txn.id, provider = %attempt.provider, reason = e.code(), "status poll failed");
            apply(app, &txn, Event::ProviderFailed, Some(Failure::from(&e))).await
        }
    }
}

/// Changes the current attempt's flags (viewed, failing since), not its state.
async fn update_attempt(
    app: &App,
    txn: &LoginTxn,
    change: impl Fn(&mut Attempt),
) -> Result<LoginTxn, GatewayError> {
    for _ in 0..5 {
        let (mut fresh, raw) = app.txns.load(&txn.id).await?;
        // Flags of the attempt polled, never of one started since.
        if fresh.state != State::Pending || fresh.attempts != txn.attempts {
            return Ok(fresh);
        }
        match fresh.attempt.as_mut() {
            Some(a) => change(a),
            None => return Ok(fresh),
        }
        match app.txns.save(&raw, &mut fresh).await {
            Ok(_) => return Ok(fresh),
            Err(TxnError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(app.txns.load(&txn.id).await?.0)
}

fn transient(e: &ProviderError) -> bool {
    matches!(
        e,
        ProviderError::Transport(_)
            | ProviderError::Unavailable {
                retryable: true,
                ..
            }
    )
}

async fn apply(
    app: &App,
    txn: &LoginTxn,
    event: Event,
    reason: Option<Failure>,
) -> Result<LoginTxn, GatewayError> {
    // About the attempt `txn` was loaded with: never another one the
    // citizen has started since.
    match app
        .txns
        .transition_for(&txn.id, txn.attempts, event, move |t| {
            if reason.is_some() {
                t.failure = reason;
            }
        })
        .await
    {
        Ok(t) => {
            tracing::info!(txn = %t.id, state = t.state.as_str(), reason = t.failure.map_or("-", Failure::code), "login state changed");
            let ended = match event {
                Event::ProviderExpired => Some(Ended::expired),
                Event::ProviderRejected => Some(Ended::rejected),
                Event::ProviderFailed | Event::VerifyFailed => Some(Ended::failed),
                _ => None,
            };
            if let (Some(ended), Some(a)) = (ended, &t.attempt) {
                let reason = t.failure.map_or("none", Failure::code);
                app.runtime.metrics.ended(&a.provider, ended, reason);
                pending_track(app, &t.id, t.attempts, None);
                crate::audit::login_failed(app, &t, reason);
            }
            Ok(t)
        }
        // Someone else moved it first: report what they wrote.
        Err(TxnError::Illegal(_)) => Ok(app.txns.load(&txn.id).await?.0),
        Err(e) => Err(e.into()),
    }
}

/// Fetches and verifies the provider's result, exactly once per attempt.
///
/// Returns the verified login, or the login in its failed state. `Ok(None)`
/// means another request is verifying this login right now.
pub async fn finish(app: &App, txn: LoginTxn) -> Result<Option<LoginTxn>, GatewayError> {
    if txn.state == State::Verified {
        return Ok(Some(txn));
    }
    if txn.state != State::Completed {
        return Ok(Some(txn));
    }
    let Some(attempt) = txn.attempt.clone() else {
        return Err(GatewayError::invariant(
            "completed login without an attempt",
        ));
    };
    let claim = crate::txn::key_of(&txn.id, &format!("verify:{}", txn.attempts));
    let ttl = Duration::from_secs(txn.expires_at.saturating_sub(app.clock.now()).max(1));
    if !app.store.put_new(&claim, Vec::new(), ttl).await? {
        return Ok(None);
    }
    let Ok(adapter) = provider(app, &attempt.provider) else {
        tracing::warn!(txn = %txn.id, provider = %attempt.provider, "provider removed from the configuration");
        return Ok(Some(
            apply(
                app,
                &txn,
                Event::VerifyFailed,
                Some(Failure::ProviderRemoved),
            )
            .await?,
        ));
    };
    let started = std::time::Instant::now();
    let who = attempt.citizen.citizen();
    let result = match txn.signing() {
        None => adapter
            .verify(&who, &attempt.challenge, &attempt.pending)
            .await
            .map(|v| (v.person, v.amr, v.evidence, Vec::new())),
        Some(spec) => match signer_of(adapter.as_ref(), spec) {
            Err(e) => Err(ProviderError::Config(e.to_string())),
            Ok(signer) => signer
                .verify_sign(
                    &who,
                    &spec.ask(attempt.challenge.ttl_secs),
                    &attempt.pending,
                )
                .await
                .and_then(|r| {
                    let first =
                        r.documents
                            .first()
                            .map(|d| d.evidence.clone())
                            .ok_or_else(|| {
                                ProviderError::Protocol("a result without documents".into())
                            })?;
                    Ok((r.person, r.amr, first, r.documents))
                }),
        },
    };
    let took = started.elapsed();
    let elapsed_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    observe(app, &attempt.provider, Call::verify, took, &result);
    match result {
        Ok((person, amr, evidence, signed)) => {
            // The certificate is the one last seen for this person here, or
            // the change is logged, or (when the operator says so) refused.
            let seen = match crate::signers::check(
                app,
                &attempt.provider,
                &txn.request.site_id,
                &txn.id,
                &person.ci,
                &evidence,
            )
            .await
            {
                Ok(seen) => seen,
                // Only advisory when changes are logged: a store blip must
                // not cost the citizen a login the provider approved.
                Err(e)
                    if app.config.signers.on_change(attempt.provider.as_str())
                        == crate::config::model::OnSignerChange::Log =>
                {
                    tracing::warn!(txn = %txn.id, provider = %attempt.provider, error = %e, "signer memory unavailable: the certificate was not compared");
                    crate::signers::Seen::First
                }
                Err(e) => return Err(e),
            };
            if seen == crate::signers::Seen::Refused {
                tracing::warn!(txn = %txn.id, provider = %attempt.provider, code = "MJ-P15", elapsed_ms, "provider result refused: a new signer certificate awaits an operator's confirmation");
                return Ok(Some(
                    apply(app, &txn, Event::VerifyFailed, Some(Failure::SignerChanged)).await?,
                ));
            }
            let outcome = Outcome {
                provider: attempt.provider.clone(),
                person: crate::txn::StoredPerson::from_person(&person),
                level: adapter.level(),
                amr,
                auth_time: app.clock.now(),
                evidence,
                signed,
            };
            // Only the attempt verified: a citizen who started again
            // meanwhile is not logged in by the attempt they left.
            let t = match app
                .txns
                .transition_for(&txn.id, txn.attempts, Event::Verified, move |t| {
                    t.outcome = Some(outcome.clone())
                })
                .await
            {
                Ok(t) => t,
                Err(TxnError::Illegal(_)) => {
                    tracing::info!(txn = %txn.id, provider = %attempt.provider, attempt = txn.attempts, "verified result of an attempt the citizen left: not used");
                    return Ok(Some(app.txns.load(&txn.id).await?.0));
                }
                Err(e) => return Err(e.into()),
            };
            app.runtime
                .metrics
                .ended(&attempt.provider, Ended::approved, "none");
            pending_track(app, &t.id, t.attempts, None);
            tracing::info!(txn = %t.id, provider = %attempt.provider, outcome = "verified", elapsed_ms, "login verified");
            Ok(Some(t))
        }
        Err(e) => {
            let rescue = crate::rescue::provider_rescue(&e);
            let check = match &e {
                ProviderError::BadSignature(c) => c.code(),
                _ => "-",
            };
            tracing::warn!(txn = %txn.id, provider = %attempt.provider, code = rescue.code, reason = e.code(), check, detail = %e, elapsed_ms, "provider result refused");
            Ok(Some(
                apply(app, &txn, Event::VerifyFailed, Some(Failure::from(&e))).await?,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_push_title_keeps_code_and_warning_within_forty_characters() {
        for site in [
            "정부24",
            "",
            "아주아주아주아주아주아주아주아주아주 긴 이름의 지방자치단체 민원 사이트",
        ] {
            let t = push_title(site, "47");
            assert!(t.chars().count() <= TITLE_MAX_CHARS, "{t}");
            assert!(
                t.contains("확인번호 47") && t.ends_with("아니면 거절"),
                "{t}"
            );
        }
        assert!(push_title("정부24", "47").starts_with("정부24 로그인"));
        for site in [
            "정부통합콜센터",
            "아주아주아주아주아주아주아주아주 긴 이름의 콜센터",
        ] {
            for code in ["4821", "AB-12CD9"] {
                let t = ciba_title(site, code);
                assert!(t.chars().count() <= TITLE_MAX_CHARS, "{t}");
                assert!(
                    t.contains(&format!("확인 {code}")) && t.ends_with("아니면 거절"),
                    "{t}"
                );
            }
        }
        for _ in 0..200 {
            let c = push_code().unwrap();
            assert!(
                c.len() == 2 && (10..=99).contains(&c.parse::<u32>().unwrap()),
                "{c}"
            );
        }
    }
}
