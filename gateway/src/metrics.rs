//! What an operator watches: logins per site and front, each provider's
//! starts, outcomes and call latencies, and configuration reloads, in the
//! Prometheus text format on the admin listener ([`crate::admin`]).
//!
//! The registry lives in the process [`crate::runtime::Runtime`], so a reload
//! keeps every series: a counter that fell back to zero at each reload would
//! look like a restart to `rate()`.
//!
//! Labels are bounded by the configuration and by closed lists: provider and
//! site ids, the front, an outcome, a reason code from the failure table.
//! Never a transaction id, a person, a URL or any free text, so a flood of
//! logins cannot grow the exposition and nothing personal reaches it.

use munjigi_providers::ProviderId;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

/// The `Content-Type` of what [`Metrics::render`] writes.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A call the gateway makes to a provider.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Call {
    /// Asking the provider to push the request to the citizen's app.
    start,
    /// Reading the request's status.
    status,
    /// Fetching and verifying the signed result.
    verify,
}

/// How a provider request ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Ended {
    /// The result was fetched and passed every check.
    approved,
    expired,
    rejected,
    /// The provider failed, or its result failed a check (see `reason`).
    failed,
    /// Left by the citizen for another try (cancelled, or started again).
    /// A request nobody looks at again is never counted as ended.
    cancelled,
}

/// How a login left the gateway for its site.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Left {
    /// Logged in (a code, an assertion, a proxy session, a signature).
    completed,
    /// Back to the site without it (cancelled or failed).
    returned,
    /// Answered from the browser's single sign-on session: no provider asked.
    session,
}

/// A provider's circuit as the gauge reports it (`crate::circuit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitState {
    Closed = 0,
    HalfOpen = 1,
    Open = 2,
    /// An operator turned it off (`[health.providers.X] force = "off"`).
    ForcedOff = 3,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndedLabels {
    provider: String,
    outcome: Ended,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    provider: String,
    call: Call,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallErrorLabels {
    provider: String,
    call: Call,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    site: String,
    front: &'static str,
    outcome: Left,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    op: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabels {
    key: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SiteLabels {
    site: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamErrorLabels {
    site: String,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    site: String,
    front: &'static str,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignerChangeLabels {
    provider: String,
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LogoutLabels {
    site: String,
    channel: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PingLabels {
    site: String,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefreshLabels {
    site: String,
    result: Refreshed,
}

/// How one refresh of a site's metadata from its `metadata_url` ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Refreshed {
    /// A new copy of the site's EntityDescriptor is in use.
    updated,
    /// The same EntityDescriptor as the copy in use (its dates renewed).
    unchanged,
    /// Not downloaded: transport, HTTP status, size or time.
    fetch_failed,
    /// Downloaded but refused as a whole: shape, signature, validUntil.
    document_refused,
    /// The document was good but the site's entity was not: missing,
    /// listed twice, expired, unreadable, or unfit for the site's settings.
    entity_refused,
}

/// What the SAML metadata fetchers ([`crate::saml::remote_metadata`])
/// report into.
#[derive(Clone, Debug)]
pub struct MetadataMetrics {
    refreshes: Family<RefreshLabels, Counter>,
    ages: Family<SiteLabels, Gauge>,
}

impl MetadataMetrics {
    /// One refresh's outcome for `site`.
    pub fn refreshed(&self, site: &str, result: Refreshed) {
        self.refreshes
            .get_or_create(&RefreshLabels {
                site: site.to_owned(),
                result,
            })
            .inc();
    }

    /// How old the copy `site` uses is (since it was last downloaded or
    /// confirmed unchanged).
    pub fn age(&self, site: &str, age: Duration) {
        self.ages
            .get_or_create(&SiteLabels {
                site: site.to_owned(),
            })
            .set(i64::try_from(age.as_secs()).unwrap_or(i64::MAX));
    }
}

/// Provider calls take from milliseconds (a status read) to tens of seconds
/// (a provider timing out): 5 ms to about 20 s.
fn call_latency() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

/// Store operations take from tens of microseconds (memory) to the store's
/// timeout (2 s by default): 50 µs to about 3 s.
fn store_latency() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 3.0, 11))
}

/// From the push to the citizen's approval: a few seconds to the request's
/// lifetime (at most 30 minutes).
fn approval_latency() -> Histogram {
    Histogram::new([
        2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, 1800.0,
    ])
}

/// What the store decorator ([`crate::store::measured`]) reports into.
#[derive(Clone)]
pub struct StoreMetrics {
    ops: Family<OpLabels, Histogram, fn() -> Histogram>,
    errors: Family<OpLabels, Counter>,
}

impl StoreMetrics {
    /// One store operation; `op` is the trait method's name.
    pub fn observe(&self, op: &'static str, took: Duration, failed: bool) {
        self.ops
            .get_or_create(&OpLabels { op })
            .observe(took.as_secs_f64());
        if failed {
            self.errors.get_or_create(&OpLabels { op }).inc();
        }
    }
}

/// Every series the gateway exposes, registered once.
pub struct Metrics {
    registry: Registry,
    started: Family<ProviderLabels, Counter>,
    ended: Family<EndedLabels, Counter>,
    calls: Family<CallLabels, Histogram, fn() -> Histogram>,
    call_errors: Family<CallErrorLabels, Counter>,
    logins: Family<LoginLabels, Counter>,
    limited: Family<LimitLabels, Counter>,
    reloads: Family<ReloadLabels, Counter>,
    circuits: Family<ProviderLabels, Gauge>,
    approvals: Family<ProviderLabels, Histogram, fn() -> Histogram>,
    store: StoreMetrics,
    pending: Gauge,
    key_ages: Family<KeyLabels, Gauge>,
    upstream: Family<SiteLabels, Histogram, fn() -> Histogram>,
    upstream_errors: Family<UpstreamErrorLabels, Counter>,
    refusals: Refusals,
    signer_changes: Family<SignerChangeLabels, Counter>,
    logouts_told: Family<LogoutLabels, Counter>,
    ciba_pings: Family<PingLabels, Counter>,
    metadata: MetadataMetrics,
}

/// The refusals counter, carried by each request's [`crate::rescue::Ctx`].
#[derive(Clone, Debug)]
pub struct Refusals(Family<RefusalLabels, Counter>);

impl Refusals {
    /// A refusal with its error code; `site` a configured site id or `-`.
    pub fn count(&self, site: &str, front: &'static str, code: &'static str) {
        self.0
            .get_or_create(&RefusalLabels {
                site: site.to_owned(),
                front,
                code,
            })
            .inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let started = Family::<ProviderLabels, Counter>::default();
        registry.register(
            "munjigi_provider_requests_started",
            "Requests a provider accepted and pushed to a citizen's app",
            started.clone(),
        );
        let ended = Family::<EndedLabels, Counter>::default();
        registry.register(
            "munjigi_provider_requests_ended",
            "Provider requests by how they ended, with the failure table's reason",
            ended.clone(),
        );
        let calls =
            Family::<CallLabels, Histogram, fn() -> Histogram>::new_with_constructor(call_latency);
        registry.register(
            "munjigi_provider_call_duration_seconds",
            "Time of each call to a provider (start, status, verify), answered or not",
            calls.clone(),
        );
        let call_errors = Family::<CallErrorLabels, Counter>::default();
        registry.register(
            "munjigi_provider_call_errors",
            "Provider calls that failed, by the provider error's code",
            call_errors.clone(),
        );
        let logins = Family::<LoginLabels, Counter>::default();
        registry.register(
            "munjigi_logins",
            "Logins leaving the gateway for their site, by front and outcome",
            logins.clone(),
        );
        let limited = Family::<LimitLabels, Counter>::default();
        registry.register(
            "munjigi_limit_refusals",
            "Requests refused by an abuse limit, by the limit's kind",
            limited.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "munjigi_config_reloads",
            "Configuration reloads, applied or refused",
            reloads.clone(),
        );
        let circuits = Family::<ProviderLabels, Gauge>::default();
        registry.register(
            "munjigi_provider_circuit_state",
            "Each provider's circuit: 0 closed, 1 half-open (probed), 2 open (not offered), 3 forced off by an operator",
            circuits.clone(),
        );
        let approvals =
            Family::<ProviderLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                approval_latency,
            );
        registry.register(
            "munjigi_provider_approval_seconds",
            "From the push to the provider reporting the request completed in the app",
            approvals.clone(),
        );
        let store = StoreMetrics {
            ops: Family::new_with_constructor(store_latency),
            errors: Family::default(),
        };
        registry.register(
            "munjigi_store_operation_duration_seconds",
            "Time of each store operation (memory, Redis or Redis Cluster), by operation",
            store.ops.clone(),
        );
        registry.register(
            "munjigi_store_errors",
            "Store operations that failed (unreachable, timed out, full), by operation",
            store.errors.clone(),
        );
        let pending = Gauge::default();
        registry.register(
            "munjigi_logins_pending",
            "Provider requests waiting on a citizen's app, across every replica (the same value from each)",
            pending.clone(),
        );
        let key_ages = Family::<KeyLabels, Gauge>::default();
        registry.register(
            "munjigi_key_age_seconds",
            "Age of each signing key file in use (es256, rs256, receipt), from its modification time",
            key_ages.clone(),
        );
        let upstream =
            Family::<SiteLabels, Histogram, fn() -> Histogram>::new_with_constructor(call_latency);
        registry.register(
            "munjigi_proxy_upstream_duration_seconds",
            "Time from forwarding a proxied request to the upstream's response headers, by site",
            upstream.clone(),
        );
        let upstream_errors = Family::<UpstreamErrorLabels, Counter>::default();
        registry.register(
            "munjigi_proxy_upstream_errors",
            "Proxied requests the upstream did not answer (unreachable, timeout), by site",
            upstream_errors.clone(),
        );
        let refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "munjigi_refusals",
            "Requests refused or failed, by the error code the citizen or site saw (site and front when known, else -)",
            refusals.clone(),
        );
        let signer_changes = Family::<SignerChangeLabels, Counter>::default();
        registry.register(
            "munjigi_signer_changes",
            "Verified results signed with another certificate than the one last seen for that person at the provider, by action (logged, refused)",
            signer_changes.clone(),
        );
        let logouts_told = Family::<LogoutLabels, Counter>::default();
        registry.register(
            "munjigi_logout_sites",
            "Sites told that a single sign-on they took part in ended, by site, channel (back_channel, front_channel, saml, none) and result (confirmed, unconfirmed)",
            logouts_told.clone(),
        );
        let ciba_pings = Family::<PingLabels, Counter>::default();
        registry.register(
            "munjigi_ciba_pings",
            "CIBA ping notifications to a client's endpoint, by site and result (delivered, undelivered)",
            ciba_pings.clone(),
        );
        let metadata = MetadataMetrics {
            refreshes: Family::default(),
            ages: Family::default(),
        };
        registry.register(
            "munjigi_saml_metadata_refreshes",
            "Refreshes of a site's SAML metadata from its metadata_url, by result (updated, unchanged, fetch_failed, document_refused, entity_refused)",
            metadata.refreshes.clone(),
        );
        registry.register(
            "munjigi_saml_metadata_age_seconds",
            "Age of the SAML metadata copy a site with metadata_url uses, since it was last downloaded or confirmed unchanged (absent until the first copy)",
            metadata.ages.clone(),
        );
        Self {
            logouts_told,
            ciba_pings,
            metadata,
            signer_changes,
            approvals,
            store,
            pending,
            key_ages,
            upstream,
            upstream_errors,
            refusals: Refusals(refusals),
            circuits,
            registry,
            started,
            ended,
            calls,
            call_errors,
            logins,
            limited,
            reloads,
        }
    }

    /// The handle the SAML metadata fetchers report into.
    pub fn saml_metadata(&self) -> MetadataMetrics {
        self.metadata.clone()
    }

    /// The handle the store decorator reports into.
    pub fn store(&self) -> StoreMetrics {
        self.store.clone()
    }

    /// From the push to the app's approval.
    pub fn approved_after(&self, provider: &ProviderId, took: Duration) {
        self.approvals
            .get_or_create(&ProviderLabels {
                provider: provider.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    pub fn set_pending(&self, n: u64) {
        self.pending.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// `key`: `es256`, `rs256` or `receipt`.
    pub fn key_age(&self, key: &'static str, age: Duration) {
        self.key_ages
            .get_or_create(&KeyLabels { key })
            .set(i64::try_from(age.as_secs()).unwrap_or(i64::MAX));
    }

    /// One proxied request to `site`'s upstream; `error`: `timeout` or
    /// `unreachable` when it did not answer.
    pub fn upstream(&self, site: &str, took: Duration, error: Option<&'static str>) {
        self.upstream
            .get_or_create(&SiteLabels {
                site: site.to_owned(),
            })
            .observe(took.as_secs_f64());
        if let Some(reason) = error {
            self.upstream_errors
                .get_or_create(&UpstreamErrorLabels {
                    site: site.to_owned(),
                    reason,
                })
                .inc();
        }
    }

    /// A person signed with a new certificate; `action`: `logged` or `refused`.
    pub fn signer_changed(&self, provider: &ProviderId, action: &'static str) {
        self.signer_changes
            .get_or_create(&SignerChangeLabels {
                provider: provider.to_string(),
                action,
            })
            .inc();
    }

    /// The handle each request's context counts refusals with.
    /// One CIBA ping told to a site's endpoint (or given up on).
    pub fn ciba_ping(&self, site: &str, delivered: bool) {
        self.ciba_pings
            .get_or_create(&PingLabels {
                site: site.to_owned(),
                result: if delivered {
                    "delivered"
                } else {
                    "undelivered"
                },
            })
            .inc();
    }

    /// One site told of a logout (or not: `channel` "none").
    pub fn logout_told(&self, site: &str, channel: &'static str, confirmed: bool) {
        self.logouts_told
            .get_or_create(&LogoutLabels {
                site: site.to_owned(),
                channel,
                result: if confirmed {
                    "confirmed"
                } else {
                    "unconfirmed"
                },
            })
            .inc();
    }

    pub fn refusals(&self) -> Refusals {
        self.refusals.clone()
    }

    pub fn circuit(&self, provider: &ProviderId, state: CircuitState) {
        self.circuits
            .get_or_create(&ProviderLabels {
                provider: provider.to_string(),
            })
            .set(state as i64);
    }

    pub fn started(&self, provider: &ProviderId) {
        self.started
            .get_or_create(&ProviderLabels {
                provider: provider.to_string(),
            })
            .inc();
    }

    /// `reason`: a failure table code (`Failure::code`), `"none"` when approved.
    pub fn ended(&self, provider: &ProviderId, outcome: Ended, reason: &'static str) {
        self.ended
            .get_or_create(&EndedLabels {
                provider: provider.to_string(),
                outcome,
                reason,
            })
            .inc();
    }

    /// One call and how long it took; `error` is the provider error's code.
    pub fn call(
        &self,
        provider: &ProviderId,
        call: Call,
        took: Duration,
        error: Option<&'static str>,
    ) {
        self.calls
            .get_or_create(&CallLabels {
                provider: provider.to_string(),
                call,
            })
            .observe(took.as_secs_f64());
        if let Some(reason) = error {
            self.call_errors
                .get_or_create(&CallErrorLabels {
                    provider: provider.to_string(),
                    call,
                    reason,
                })
                .inc();
        }
    }

    /// `site`: a configured site id; `front`: `Front::kind`.
    pub fn login(&self, site: &str, front: &'static str, outcome: Left) {
        self.logins
            .get_or_create(&LoginLabels {
                site: site.to_owned(),
                front,
                outcome,
            })
            .inc();
    }

    /// `kind`: the limit's kind (`person`, `client_starts`, `site` …).
    pub fn limited(&self, kind: &'static str) {
        self.limited.get_or_create(&LimitLabels { kind }).inc();
    }

    pub fn reload(&self, applied: bool) {
        self.reloads
            .get_or_create(&ReloadLabels {
                result: if applied { "applied" } else { "refused" },
            })
            .inc();
    }

    /// The exposition, Prometheus text format 0.0.4.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_counted_under_bounded_labels() {
        let m = Metrics::new();
        let kakao = ProviderId::new("kakao".to_owned());
        m.started(&kakao);
        m.started(&kakao);
        m.ended(&kakao, Ended::approved, "none");
        m.ended(&kakao, Ended::failed, "bad_signature");
        m.call(&kakao, Call::verify, Duration::from_millis(12), None);
        m.call(
            &kakao,
            Call::start,
            Duration::from_millis(3),
            Some("transport"),
        );
        m.login("town", "oidc", Left::completed);
        m.reload(false);
        m.limited("person");
        m.saml_metadata()
            .refreshed("shop", Refreshed::document_refused);
        m.saml_metadata().age("shop", Duration::from_secs(42));
        let text = m.render().unwrap();
        for line in [
            "munjigi_provider_requests_started_total{provider=\"kakao\"} 2",
            "munjigi_provider_requests_ended_total{provider=\"kakao\",outcome=\"approved\",reason=\"none\"} 1",
            "munjigi_provider_requests_ended_total{provider=\"kakao\",outcome=\"failed\",reason=\"bad_signature\"} 1",
            "munjigi_provider_call_duration_seconds_count{provider=\"kakao\",call=\"verify\"} 1",
            "munjigi_provider_call_errors_total{provider=\"kakao\",call=\"start\",reason=\"transport\"} 1",
            "munjigi_logins_total{site=\"town\",front=\"oidc\",outcome=\"completed\"} 1",
            "munjigi_config_reloads_total{result=\"refused\"} 1",
            "munjigi_limit_refusals_total{kind=\"person\"} 1",
            "munjigi_saml_metadata_refreshes_total{site=\"shop\",result=\"document_refused\"} 1",
            "munjigi_saml_metadata_age_seconds{site=\"shop\"} 42",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
        assert!(!text.contains("# EOF"), "Prometheus text, not OpenMetrics");
    }
}
