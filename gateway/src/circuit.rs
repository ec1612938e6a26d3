//! A circuit per provider, so that citizens are not sent to wait five minutes
//! for a push that never comes.
//!
//! Korea has lost a provider for hours at a time (the 2022 Kakao data-centre
//! fire, the 2025 NIRS fire). While a provider fails, every login started on it
//! ends in a long wait and an error, and every status poll of the logins
//! already pending on it adds load to a service that is already down. The
//! circuit watches every call the gateway makes to a provider (starts, status
//! polls, result fetches) over a sliding window: when enough of them fail, or
//! are slower than the provider's slow-call threshold, it *opens*: the chooser
//! greys the provider out with a reason, new starts are refused with a page
//! that offers the others, and a login already waiting on it is offered
//! another provider. After `open_secs` it is *half-open*: the status polls of
//! logins still pending and at most `probes` new starts probe it; `probes`
//! successes close it, one failure opens it again.
//!
//! Only failures that say something about the provider count: it could not be
//! reached, answered 5xx or maintenance, broke its own API, or refused our
//! credentials. A citizen who declines, an unknown person or a bad signature
//! says nothing about the provider's health.
//!
//! Each replica judges from its own calls (no store round trip on the hot
//! path; a provider that is down is seen down by every replica within a few
//! polls). An operator can force a provider off (a planned maintenance, a
//! provider that misbehaves in ways the circuit does not see) or on (a
//! circuit that trips on a provider known to be fine) in `[health.providers.X]`,
//! with a reason the chooser shows; a reload applies it.

use munjigi_providers::ProviderError;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When a provider's circuit opens, and for how long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// How far back calls are counted.
    pub window: Duration,
    /// Fewer calls than this in the window never open the circuit.
    pub min_calls: u32,
    /// The share of failed (or slow) calls that opens it, in (0, 1].
    pub failure_ratio: f64,
    /// A call slower than this counts as failed.
    pub slow_call: Duration,
    /// How long it stays open before it is probed.
    pub open_for: Duration,
    /// New starts let through while half-open, and the successes that close it.
    pub probes: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            min_calls: 20,
            failure_ratio: 0.5,
            slow_call: Duration::from_secs(10),
            open_for: Duration::from_secs(30),
            probes: 3,
        }
    }
}

/// An operator's decision that overrides the circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Force {
    /// Never offered, whatever the circuit says.
    Off,
    /// Always offered, whatever the circuit says.
    On,
}

/// The circuit's own state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Closed,
    HalfOpen,
    Open,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Closed => "closed",
            Phase::HalfOpen => "half_open",
            Phase::Open => "open",
        }
    }
}

/// What the chooser and a start make of a provider right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Offered as usual.
    Available,
    /// Not offered: its circuit is open.
    Failing,
    /// Not offered: an operator forced it off.
    Disabled,
}

/// One call's outcome as the circuit sees it.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    pub took: Duration,
    /// The failure's reason code when the call failed in a way that counts.
    pub failure: Option<&'static str>,
}

impl Call {
    /// `result`'s outcome: only failures that say the provider is unwell count.
    pub fn of<T>(took: Duration, result: &Result<T, ProviderError>) -> Self {
        let failure = match result {
            // Not `BadRequest`: a provider refusing a request as malformed
            // is most often refusing what a citizen typed (a name or number
            // our parsing accepts and the provider does not), and anyone
            // could send that on purpose to take a provider off the chooser.
            Err(
                e @ (ProviderError::Transport(_)
                | ProviderError::Unavailable { .. }
                | ProviderError::Protocol(_)
                | ProviderError::Unauthorized { .. }),
            ) => Some(e.code()),
            _ => None,
        };
        Self { took, failure }
    }
}

/// Whether a circuit in `phase`, with `admitted` probes let through, takes
/// a new request: the one rule [`Circuits::admit`] and [`Circuits::offer`] share.
fn offer_in(phase: Phase, admitted: u32, t: &Thresholds) -> Offer {
    match phase {
        Phase::Closed => Offer::Available,
        Phase::HalfOpen if admitted < t.probes => Offer::Available,
        Phase::Open | Phase::HalfOpen => Offer::Failing,
    }
}

fn oldest_second(t: &Thresholds, second: u64) -> u64 {
    second.saturating_sub(t.window.as_secs().max(1) - 1)
}

/// One second's calls.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    second: u64,
    calls: u32,
    failures: u32,
}

#[derive(Debug)]
struct Circuit {
    phase: Phase,
    /// When it last opened (Open), or when it was last probed (HalfOpen).
    since: Instant,
    /// Starts admitted and successes seen since it went half-open.
    admitted: u32,
    succeeded: u32,
    buckets: VecDeque<Bucket>,
    /// The last counted failure: its reason and when.
    last_failure: Option<(&'static str, Instant)>,
    opened: u64,
    calls_total: u64,
    failures_total: u64,
}

impl Circuit {
    fn new(now: Instant) -> Self {
        Self {
            phase: Phase::Closed,
            since: now,
            admitted: 0,
            succeeded: 0,
            buckets: VecDeque::new(),
            last_failure: None,
            opened: 0,
            calls_total: 0,
            failures_total: 0,
        }
    }

    /// Open long enough to be probed, or half-open with probes that never
    /// came to a verdict (refused by a limit before the call, a browser gone
    /// mid-request) for as long: probed afresh, never half-open for good.
    fn due(&self, t: &Thresholds, now: Instant) -> bool {
        matches!(self.phase, Phase::Open | Phase::HalfOpen)
            && now.saturating_duration_since(self.since) >= t.open_for
    }

    /// The phase and the probes already let through, as of `now` (what
    /// [`Self::settle`] would leave), without changing anything.
    fn settled(&self, t: &Thresholds, now: Instant) -> (Phase, u32) {
        if self.due(t, now) {
            (Phase::HalfOpen, 0)
        } else {
            (self.phase, self.admitted)
        }
    }

    fn phase_at(&self, t: &Thresholds, now: Instant) -> Phase {
        self.settled(t, now).0
    }

    fn settle(&mut self, t: &Thresholds, now: Instant) {
        if self.due(t, now) {
            self.phase = Phase::HalfOpen;
            self.since = now;
            self.admitted = 0;
            self.succeeded = 0;
        }
    }

    fn window(&mut self, t: &Thresholds, second: u64) -> (u32, u32) {
        let oldest = oldest_second(t, second);
        while self.buckets.front().is_some_and(|b| b.second < oldest) {
            self.buckets.pop_front();
        }
        self.window_at(t, second)
    }

    /// The calls and failures within the window ending at `second`.
    fn window_at(&self, t: &Thresholds, second: u64) -> (u32, u32) {
        let oldest = oldest_second(t, second);
        self.buckets
            .iter()
            .filter(|b| b.second >= oldest)
            .fold((0, 0), |(c, f), b| {
                (c.saturating_add(b.calls), f.saturating_add(b.failures))
            })
    }

    fn open(&mut self, now: Instant) {
        self.phase = Phase::Open;
        self.since = now;
        self.opened += 1;
        self.buckets.clear();
    }
}

/// A provider's circuit as the admin listener shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Snapshot {
    pub provider: String,
    pub phase: &'static str,
    pub calls_in_window: u32,
    pub failures_in_window: u32,
    pub times_opened: u64,
    /// Every call and every counted failure since the process started.
    pub calls_total: u64,
    pub failures_total: u64,
    pub last_failure: Option<&'static str>,
    pub last_failure_secs_ago: Option<u64>,
}

/// Every provider's circuit, for the life of the process (a reload keeps them).
pub struct Circuits {
    epoch: Instant,
    circuits: Mutex<HashMap<String, Circuit>>,
}

/// What a circuit change was, for the log and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Opened { calls: u32, failures: u32 },
    Reopened,
    Closed,
}

impl Default for Circuits {
    fn default() -> Self {
        Self::new()
    }
}

impl Circuits {
    pub fn new() -> Self {
        Self {
            epoch: Instant::now(),
            circuits: Mutex::new(HashMap::new()),
        }
    }

    /// Reads `provider`'s circuit without creating one: a name nobody has
    /// called (or one that is not configured: callers may pass what a
    /// request names) reads as a fresh, closed circuit, and the map only
    /// ever holds providers the gateway called.
    fn peek<R>(&self, provider: &str, now: Instant, f: impl FnOnce(&Circuit) -> R) -> R {
        let all = self
            .circuits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match all.get(provider) {
            Some(c) => f(c),
            None => f(&Circuit::new(now)),
        }
    }

    /// Changes `provider`'s circuit, creating it: only for providers the
    /// gateway is calling (configured ones).
    fn with<R>(&self, provider: &str, now: Instant, f: impl FnOnce(&mut Circuit) -> R) -> R {
        // A poisoned lock only means another thread panicked mid-update of
        // plain counters: keep using them.
        let mut all = self
            .circuits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let c = all
            .entry(provider.to_owned())
            .or_insert_with(|| Circuit::new(now));
        f(c)
    }

    /// Counts one call to `provider`; returns the change it caused, if any.
    pub fn record(
        &self,
        provider: &str,
        t: &Thresholds,
        call: Call,
        now: Instant,
    ) -> Option<Change> {
        let failed = call.failure.is_some() || call.took > t.slow_call;
        let second = now.saturating_duration_since(self.epoch).as_secs();
        self.with(provider, now, |c| {
            c.settle(t, now);
            c.calls_total += 1;
            if failed {
                c.failures_total += 1;
                c.last_failure = Some((call.failure.unwrap_or("slow"), now));
            }
            match c.phase {
                Phase::HalfOpen if failed => {
                    c.open(now);
                    Some(Change::Reopened)
                }
                Phase::HalfOpen => {
                    c.succeeded += 1;
                    if c.succeeded >= t.probes {
                        c.phase = Phase::Closed;
                        c.since = now;
                        c.buckets.clear();
                        Some(Change::Closed)
                    } else {
                        None
                    }
                }
                Phase::Open => None,
                Phase::Closed => {
                    match c.buckets.back_mut() {
                        Some(b) if b.second == second => {
                            b.calls += 1;
                            b.failures += u32::from(failed);
                        }
                        _ => c.buckets.push_back(Bucket {
                            second,
                            calls: 1,
                            failures: u32::from(failed),
                        }),
                    }
                    let (calls, failures) = c.window(t, second);
                    let ratio = f64::from(failures) / f64::from(calls.max(1));
                    if failed && calls >= t.min_calls && ratio >= t.failure_ratio {
                        c.open(now);
                        Some(Change::Opened { calls, failures })
                    } else {
                        None
                    }
                }
            }
        })
    }

    /// Whether a new request may be started on `provider` now; a half-open
    /// circuit lets `probes` through.
    pub fn admit(
        &self,
        provider: &str,
        t: &Thresholds,
        force: Option<Force>,
        now: Instant,
    ) -> Offer {
        match force {
            Some(Force::Off) => return Offer::Disabled,
            Some(Force::On) => return Offer::Available,
            None => {}
        }
        self.with(provider, now, |c| {
            c.settle(t, now);
            let offer = offer_in(c.phase, c.admitted, t);
            if offer == Offer::Available && c.phase == Phase::HalfOpen {
                c.admitted += 1;
            }
            offer
        })
    }

    /// What the chooser shows for `provider` (changes nothing).
    pub fn offer(
        &self,
        provider: &str,
        t: &Thresholds,
        force: Option<Force>,
        now: Instant,
    ) -> Offer {
        match force {
            Some(Force::Off) => return Offer::Disabled,
            Some(Force::On) => return Offer::Available,
            None => {}
        }
        self.peek(provider, now, |c| {
            let (phase, admitted) = c.settled(t, now);
            offer_in(phase, admitted, t)
        })
    }

    /// The circuit's phase (as of `now`).
    pub fn phase(&self, provider: &str, t: &Thresholds, now: Instant) -> Phase {
        self.peek(provider, now, |c| c.phase_at(t, now))
    }

    /// `provider`'s circuit for the admin listener.
    pub fn snapshot(&self, provider: &str, t: &Thresholds, now: Instant) -> Snapshot {
        let second = now.saturating_duration_since(self.epoch).as_secs();
        self.peek(provider, now, |c| {
            let (calls, failures) = c.window_at(t, second);
            Snapshot {
                provider: provider.to_owned(),
                phase: c.phase_at(t, now).as_str(),
                calls_in_window: calls,
                failures_in_window: failures,
                times_opened: c.opened,
                calls_total: c.calls_total,
                failures_total: c.failures_total,
                last_failure: c.last_failure.map(|(r, _)| r),
                last_failure_secs_ago: c
                    .last_failure
                    .map(|(_, at)| now.saturating_duration_since(at).as_secs()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Thresholds {
        Thresholds {
            window: Duration::from_secs(10),
            min_calls: 4,
            failure_ratio: 0.5,
            slow_call: Duration::from_millis(500),
            open_for: Duration::from_secs(5),
            probes: 2,
        }
    }

    fn ok() -> Call {
        Call {
            took: Duration::from_millis(10),
            failure: None,
        }
    }

    fn down() -> Call {
        Call {
            took: Duration::from_millis(10),
            failure: Some("unavailable"),
        }
    }

    #[test]
    fn opens_only_past_both_the_minimum_calls_and_the_ratio() {
        let c = Circuits::new();
        let now = Instant::now();
        // Three failures: below min_calls.
        for _ in 0..3 {
            assert_eq!(c.record("k", &t(), down(), now), None);
        }
        assert_eq!(c.offer("k", &t(), None, now), Offer::Available);
        assert_eq!(
            c.record("k", &t(), down(), now),
            Some(Change::Opened {
                calls: 4,
                failures: 4
            })
        );
        assert_eq!(c.offer("k", &t(), None, now), Offer::Failing);
        assert_eq!(c.admit("k", &t(), None, now), Offer::Failing);
        // Another provider is untouched.
        assert_eq!(c.admit("n", &t(), None, now), Offer::Available);
    }

    #[test]
    fn mostly_successful_calls_keep_it_closed_and_old_failures_age_out() {
        let c = Circuits::new();
        let now = Instant::now();
        for _ in 0..10 {
            c.record("k", &t(), ok(), now);
        }
        for _ in 0..9 {
            assert_eq!(c.record("k", &t(), down(), now), None, "9 of 19 < 0.5");
        }
        // Ten seconds later the window holds only what comes now.
        let later = now + Duration::from_secs(11);
        for _ in 0..3 {
            assert_eq!(c.record("k", &t(), down(), later), None);
        }
        assert!(c.record("k", &t(), down(), later).is_some());
    }

    #[test]
    fn a_slow_call_counts_as_failed() {
        let c = Circuits::new();
        let now = Instant::now();
        let slow = Call {
            took: Duration::from_millis(600),
            failure: None,
        };
        for _ in 0..3 {
            c.record("k", &t(), slow, now);
        }
        assert!(c.record("k", &t(), slow, now).is_some());
        assert_eq!(c.snapshot("k", &t(), now).last_failure, Some("slow"));
    }

    #[test]
    fn half_open_lets_probes_through_then_closes_or_reopens() {
        let c = Circuits::new();
        let now = Instant::now();
        for _ in 0..4 {
            c.record("k", &t(), down(), now);
        }
        let later = now + Duration::from_secs(5);
        assert_eq!(c.offer("k", &t(), None, later), Offer::Available);
        assert_eq!(c.admit("k", &t(), None, later), Offer::Available);
        assert_eq!(c.admit("k", &t(), None, later), Offer::Available);
        assert_eq!(c.admit("k", &t(), None, later), Offer::Failing, "2 probes");
        assert_eq!(c.offer("k", &t(), None, later), Offer::Failing);
        // One failure reopens.
        assert_eq!(c.record("k", &t(), down(), later), Some(Change::Reopened));
        assert_eq!(c.phase("k", &t(), later), Phase::Open);
        // Probed again later: two successes close it.
        let again = later + Duration::from_secs(5);
        assert_eq!(c.record("k", &t(), ok(), again), None);
        assert_eq!(c.record("k", &t(), ok(), again), Some(Change::Closed));
        assert_eq!(c.admit("k", &t(), None, again), Offer::Available);
        assert_eq!(c.snapshot("k", &t(), again).times_opened, 2);
    }

    #[test]
    fn probes_that_never_come_to_a_verdict_are_let_through_again() {
        let c = Circuits::new();
        let now = Instant::now();
        for _ in 0..4 {
            c.record("k", &t(), down(), now);
        }
        let half = now + Duration::from_secs(5);
        assert_eq!(c.admit("k", &t(), None, half), Offer::Available);
        assert_eq!(c.admit("k", &t(), None, half), Offer::Available);
        assert_eq!(c.admit("k", &t(), None, half), Offer::Failing);
        // Neither probe's call was ever made: after open_for, probe afresh.
        let later = half + Duration::from_secs(5);
        assert_eq!(c.offer("k", &t(), None, later), Offer::Available);
        assert_eq!(c.admit("k", &t(), None, later), Offer::Available);
        assert_eq!(c.phase("k", &t(), later), Phase::HalfOpen);
    }

    #[test]
    fn reading_a_provider_nobody_called_creates_nothing() {
        let c = Circuits::new();
        let now = Instant::now();
        for i in 0..1000 {
            let name = format!("made-up-{i}");
            assert_eq!(c.offer(&name, &t(), None, now), Offer::Available);
            assert_eq!(c.phase(&name, &t(), now), Phase::Closed);
            assert_eq!(c.snapshot(&name, &t(), now).calls_total, 0);
        }
        assert!(c.circuits.lock().unwrap().is_empty());
    }

    #[test]
    fn an_operator_overrides_the_circuit_both_ways() {
        let c = Circuits::new();
        let now = Instant::now();
        assert_eq!(c.admit("k", &t(), Some(Force::Off), now), Offer::Disabled);
        assert_eq!(c.offer("k", &t(), Some(Force::Off), now), Offer::Disabled);
        for _ in 0..4 {
            c.record("k", &t(), down(), now);
        }
        assert_eq!(c.admit("k", &t(), Some(Force::On), now), Offer::Available);
        assert_eq!(c.offer("k", &t(), None, now), Offer::Failing);
    }

    #[test]
    fn only_failures_that_speak_of_the_provider_count() {
        let took = Duration::from_millis(1);
        for (e, counts) in [
            (ProviderError::Rejected, false),
            (ProviderError::UnknownPerson, false),
            (ProviderError::WrongSigner, false),
            (
                ProviderError::BadRequest {
                    code: "-11000009".into(),
                    message: "bad phone".into(),
                },
                false,
            ),
            (ProviderError::Transport("x".into()), true),
            (
                ProviderError::Unavailable {
                    code: "503".into(),
                    retryable: true,
                },
                true,
            ),
            (ProviderError::Protocol("x".into()), true),
        ] {
            let r: Result<(), _> = Err(e);
            assert_eq!(Call::of(took, &r).failure.is_some(), counts, "{r:?}");
        }
        assert!(Call::of(took, &Ok::<(), ProviderError>(()))
            .failure
            .is_none());
    }
}
