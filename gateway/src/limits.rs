//! Abuse limits, counted in the store so that every replica shares them:
//! pushes to one person's phone, login starts and identity submissions from
//! one client, and login starts for one site.
//!
//! The rules are pure (`munjigi_policy::limits`); here are the counters and
//! the names they are kept under. A person is named by a keyed hash of the
//! normalised phone number (never the number: not in the store, not in a log
//! line), a client by its address behind the trusted proxies (IPv6 by /64).
//! All windows of one subject share a Redis Cluster hash tag, so one check is
//! one script call, one round trip.
//!
//! A store that cannot count refuses the push (fail closed: a push is what an
//! attacker wants); the other limits, the provider's rate included, let the
//! request through with a log line, so a store hiccup does not turn into a
//! login outage of its own. A push the provider refused to start never
//! reached the phone, so it is taken back from the person's count: knowing a
//! number is not enough to lock its owner out with made-up names.

use crate::app::App;
use crate::config::model::TrustedProxies;
use crate::rescue::GatewayError;
use munjigi_policy::limits::{self, Count, Decision, Kind, Limit};
use munjigi_providers::person::Phone;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Why a request was refused by a limit; what the operator's log line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub kind: Kind,
    pub retry_after: Duration,
    /// The site the request was for (logged; never a person or an address).
    pub site: String,
    pub limit: Limit,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} limit {}/{}s reached for site `{}`; retry after {}s",
            self.kind.as_str(),
            self.limit.max,
            self.limit.window.as_secs(),
            self.site,
            self.retry_after.as_secs()
        )
    }
}

/// The client a request came from: the peer, or behind trusted proxies the
/// right-most `X-Forwarded-For` address that is not one of them.
pub fn client_ip(trusted: &TrustedProxies, peer: SocketAddr, headers: &http::HeaderMap) -> IpAddr {
    let mut client = peer.ip();
    if !trusted.contains(client) {
        return client;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // Anything left of garbage was not written by our proxies.
            return client;
        };
        client = ip;
        if !trusted.contains(ip) {
            return ip;
        }
    }
    client
}

/// The name of a person for counting: a keyed hash of the E.164 number.
pub(crate) fn person_subject(app: &App, phone: &Phone) -> String {
    let mac = munjigi_providers::hmac::sha256(
        app.config.pairwise_key.expose(),
        &[b"munjigi limits person\0", phone.e164().as_bytes()],
    );
    hex(&mac[..16])
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Counts one event of `kind` for `subject` against `rules`.
async fn count(
    app: &App,
    kind: Kind,
    subject: &str,
    rules: &[Limit],
) -> Result<Decision, crate::store::StoreError> {
    count_windows(app, rules, &keys(kind, subject, rules)).await
}

/// Counts one event in `windows` (the keys of `rules`, in order).
async fn count_windows(
    app: &App,
    rules: &[Limit],
    windows: &[(String, Duration)],
) -> Result<Decision, crate::store::StoreError> {
    if rules.is_empty() {
        return Ok(Decision::Allow);
    }
    let counts: Vec<Count> = app
        .store
        .count(windows)
        .await?
        .into_iter()
        .map(|(count, left)| Count { count, left })
        .collect();
    Ok(limits::decide(rules, &counts))
}

fn refused(app: &App, kind: Kind, site: &str, d: Decision) -> Result<(), GatewayError> {
    match d {
        Decision::Allow => Ok(()),
        Decision::Refuse { retry_after, limit } => {
            app.runtime.metrics.limited(kind.as_str());
            crate::audit::limit_tripped(app, kind.as_str(), site);
            Err(GatewayError::Limited(Refused {
                kind,
                retry_after,
                site: site.to_owned(),
                limit,
            }))
        }
    }
}

fn site_limits<'a>(app: &'a App, site: &str) -> &'a limits::Limits {
    app.config
        .sites
        .get(site)
        .map_or(&app.config.limits, |s| &s.limits)
}

/// A push counted against its person, to be taken back if it never reached
/// the phone (the provider refused to start it).
#[must_use]
pub struct Reserved {
    keys: Vec<String>,
}

impl Reserved {
    /// Takes the push back (best effort: a store error only means the
    /// person's count stays one higher until its window ends).
    pub async fn refund(self, app: &App) {
        if let Err(e) = app.store.uncount(&self.keys).await {
            tracing::warn!(code = "MJ-L09", error = %e, "a refused push could not be taken back from its count");
        }
    }
}

fn keys(kind: Kind, subject: &str, rules: &[Limit]) -> Vec<(String, Duration)> {
    rules
        .iter()
        .map(|l| {
            let window = limits::window_tag(l);
            (
                crate::store::keys::rate_limit(kind.as_str(), subject, &window),
                l.window,
            )
        })
        .collect()
}

/// Before a push to `phone`: refused when the person has had enough.
/// Fails closed: a push is what an attacker wants.
pub async fn push(app: &App, site: &str, phone: &Phone) -> Result<Reserved, GatewayError> {
    let rules = &site_limits(app, site).person;
    reserve(app, Kind::Person, &person_subject(app, phone), site, rules).await
}

/// Counts one event of `kind` for `subject`, to be taken back if it turns
/// out not to count (fails closed; a refused event is not counted).
async fn reserve(
    app: &App,
    kind: Kind,
    subject: &str,
    site: &str,
    rules: &[Limit],
) -> Result<Reserved, GatewayError> {
    let windows = keys(kind, subject, rules);
    let d = count_windows(app, rules, &windows).await?;
    let reserved = Reserved {
        keys: windows.into_iter().map(|(k, _)| k).collect(),
    };
    if let Err(e) = refused(app, kind, site, d) {
        // A refused event is not an event: it must not lengthen the wait.
        reserved.refund(app).await;
        return Err(e);
    }
    Ok(reserved)
}

async fn lenient_count(app: &App, provider: &str, rules: &[Limit]) -> Decision {
    match count(app, Kind::Provider, provider, rules).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(code = "MJ-L09", kind = "provider", provider, error = %e, "limit not counted: the store did not answer");
            Decision::Allow
        }
    }
}

/// Before a request to `provider`: its contract's rate. A refusal that frees
/// up within a second is waited out once (the citizen sees a slower push, not
/// an error); a longer one is refused with a page offering another provider.
pub async fn provider(app: &App, site: &str, provider: &str) -> Result<(), GatewayError> {
    let Some(rules) = app.config.provider_limits.get(provider) else {
        return Ok(());
    };
    let mut d = lenient_count(app, provider, rules).await;
    if let Decision::Refuse { retry_after, .. } = d {
        if Kind::Provider.waits_out(retry_after) {
            tokio::time::sleep(retry_after).await;
            d = lenient_count(app, provider, rules).await;
        }
    }
    refused(app, Kind::Provider, site, d)
}

/// Before a login starts (authorize, SAML SSO, proxy start, signing):
/// the client's rate, then the site's.
pub async fn start(app: &App, site: &str, client: IpAddr) -> Result<(), GatewayError> {
    let l = site_limits(app, site);
    // The client first: one client over its own limit must not spend the
    // site's budget for everyone else.
    let who = limits::client_bucket(client);
    lenient(app, Kind::ClientStarts, &who, site, &l.client_starts).await?;
    lenient(app, Kind::Site, site, site, &l.site_starts).await
}

/// Before an identity form is acted on.
pub async fn submission(app: &App, site: &str, client: IpAddr) -> Result<(), GatewayError> {
    let l = site_limits(app, site);
    let who = limits::client_bucket(client);
    lenient(
        app,
        Kind::ClientSubmissions,
        &who,
        site,
        &l.client_submissions,
    )
    .await
}

/// Before a user code typed at `/device` is looked up: the client's rate,
/// then everyone's. Codes are random, so a code cannot be locked after
/// wrong guesses (the guesser names no code); the guesser is limited.
/// Deployment limits only: the site is known after the lookup.
pub async fn device_code(app: &App, client: IpAddr) -> Result<(), GatewayError> {
    let l = &app.config.limits;
    let who = limits::client_bucket(client);
    lenient(
        app,
        Kind::ClientDeviceCodes,
        &who,
        "-",
        &l.device_codes_per_client,
    )
    .await?;
    lenient(app, Kind::DeviceCodes, "all", "-", &l.device_codes).await
}

/// Before a CIBA request of `site` pushes to `phone`: the site's share of
/// logins, then this site's pushes to this person (fail closed: a push the
/// citizen did not start is what a harasser wants). The deployment's
/// `pushes_per_person` is counted by the push itself.
pub async fn ciba(app: &App, site: &str, phone: &Phone) -> Result<Reserved, GatewayError> {
    let l = site_limits(app, site);
    lenient(app, Kind::Site, site, site, &l.site_starts).await?;
    let subject = format!("{site}:{}", person_subject(app, phone));
    reserve(app, Kind::CibaPerson, &subject, site, &l.ciba_person).await
}

/// Before a CIBA request of `site` asks a provider: counted as a person the
/// provider may not know, and taken back once it knew them. Counted before
/// asking, so parallel requests cannot outrun the count: a site cannot find
/// out at leisure who holds which certificate.
pub async fn ciba_miss(app: &App, site: &str) -> Result<Reserved, GatewayError> {
    let l = site_limits(app, site);
    reserve(app, Kind::CibaMisses, site, site, &l.ciba_misses).await
}

async fn lenient(
    app: &App,
    kind: Kind,
    subject: &str,
    site: &str,
    rules: &[Limit],
) -> Result<(), GatewayError> {
    match count(app, kind, subject, rules).await {
        Ok(d) => refused(app, kind, site, d),
        Err(e) => {
            tracing::warn!(code = "MJ-L09", kind = kind.as_str(), site, error = %e, "limit not counted: the store did not answer");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", http::HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right() {
        let t = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let proxy: SocketAddr = "10.0.0.2:1234".parse().unwrap();
        let stranger: SocketAddr = "203.0.113.9:1234".parse().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // A stranger's header is a claim, not a fact.
        assert_eq!(
            client_ip(&t, stranger, &headers(&["1.2.3.4"])),
            ip("203.0.113.9")
        );
        // Behind our proxies: the right-most address that is not ours.
        assert_eq!(
            client_ip(&t, proxy, &headers(&["1.2.3.4, 198.51.100.7, 10.0.0.9"])),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_ip(&t, proxy, &headers(&["1.2.3.4", "198.51.100.7"])),
            ip("198.51.100.7")
        );
        // Garbage stops the walk at the last hop our proxies wrote.
        assert_eq!(
            client_ip(&t, proxy, &headers(&["198.51.100.7, junk, 10.0.0.9"])),
            ip("10.0.0.9")
        );
        assert_eq!(client_ip(&t, proxy, &headers(&[])), ip("10.0.0.2"));
    }
}
