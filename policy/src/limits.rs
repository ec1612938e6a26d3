//! Abuse limits as pure rules: how many of what may happen in which window,
//! and what a count means.
//!
//! A push to a citizen's phone costs the operator money and the citizen their
//! patience: an attacker who can start logins for a victim's number can
//! harass them into one tired "approve" (MFA fatigue). So pushes are counted
//! per target person across every site, provider and replica, and login
//! starts per client address and per site. Counting is fixed windows (one
//! `INCR` and one `PEXPIRE NX` per window in the store, one round trip for
//! all windows of one subject): cheap under load, exact at the window's edge
//! up to a factor of two, which is enough for abuse limits.
//!
//! Not here: the counters (the gateway's store), the keyed hash that names a
//! person (the gateway holds the key), and what a refusal looks like.

use std::net::IpAddr;
use std::time::Duration;

/// At most `max` events per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window: Duration,
}

impl Limit {
    pub const fn new(max: u32, window_secs: u64) -> Self {
        Self {
            max,
            window: Duration::from_secs(window_secs),
        }
    }
}

/// What is limited; names a counter and, for the operator, a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Pushes to one person's phone (all sites, providers, replicas).
    Person,
    /// Login starts from one client address (IPv6 by /64).
    ClientStarts,
    /// Identity-form submissions from one client address.
    ClientSubmissions,
    /// Login starts for one site.
    Site,
    /// Requests to one provider (its contract's rate).
    Provider,
    /// Device user codes typed from one client address (IPv6 by /64).
    ClientDeviceCodes,
    /// Device user codes typed from every client together: guessing from
    /// many addresses is still guessing.
    DeviceCodes,
    /// CIBA pushes to one person asked by one site.
    CibaPerson,
    /// CIBA requests of one site naming a person the provider does not know.
    CibaMisses,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Person => "person",
            Kind::ClientStarts => "client_starts",
            Kind::ClientSubmissions => "client_submissions",
            Kind::Site => "site",
            Kind::Provider => "provider",
            Kind::ClientDeviceCodes => "client_device_codes",
            Kind::DeviceCodes => "device_codes",
            Kind::CibaPerson => "ciba_person",
            Kind::CibaMisses => "ciba_misses",
        }
    }

    /// Whether the citizen in front of the browser is told (429 and a page)
    /// rather than the site (a site-wide limit is the site's business).
    pub fn tells_citizen(self) -> bool {
        !matches!(self, Kind::Site)
    }

    /// Whether a refusal this short is worth waiting out instead (a
    /// provider's per-second rate frees up within the second).
    pub fn waits_out(self, retry_after: Duration) -> bool {
        matches!(self, Kind::Provider) && retry_after <= Duration::from_secs(1)
    }
}

/// The limits in force, deployment defaults with site overrides applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Pushes to one phone: each must hold (e.g. 5 per 10 min and 20 per day).
    pub person: Vec<Limit>,
    pub client_starts: Vec<Limit>,
    pub client_submissions: Vec<Limit>,
    pub site_starts: Vec<Limit>,
    /// User codes typed at the device page from one client (deployment only).
    pub device_codes_per_client: Vec<Limit>,
    /// User codes typed at the device page in all (deployment only).
    pub device_codes: Vec<Limit>,
    /// CIBA pushes to one person from one site.
    pub ciba_person: Vec<Limit>,
    /// CIBA requests of one site naming an unknown person.
    pub ciba_misses: Vec<Limit>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            person: vec![Limit::new(5, 600), Limit::new(20, 86_400)],
            // Generous: many citizens share one address behind carrier NAT.
            client_starts: vec![Limit::new(300, 60)],
            client_submissions: vec![Limit::new(60, 60)],
            site_starts: vec![Limit::new(500, 1)],
            // A citizen types a code once or twice; 20^8 codes are found by
            // guessing only at rates far above these.
            device_codes_per_client: vec![Limit::new(10, 60), Limit::new(50, 3_600)],
            device_codes: vec![Limit::new(600, 60)],
            // A call centre confirms a caller once or twice; a site pushing
            // more to one person than this is harassing them.
            ciba_person: vec![Limit::new(3, 600), Limit::new(10, 86_400)],
            // Honest operators mistype now and then; enumeration needs many.
            ciba_misses: vec![Limit::new(30, 600)],
        }
    }
}

impl Limits {}

/// The count of one window after this event, and the time left in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub count: u64,
    pub left: Duration,
}

/// The outcome of counting one event against its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Over a limit: try again after this long (the longest window that is over).
    Refuse {
        retry_after: Duration,
        limit: Limit,
    },
}

/// Decides from the counts (one per limit, in the same order) after counting
/// this event: refused when any window is over its maximum.
pub fn decide(limits: &[Limit], counts: &[Count]) -> Decision {
    let mut worst: Option<(Duration, Limit)> = None;
    for (limit, c) in limits.iter().zip(counts) {
        if c.count > u64::from(limit.max) {
            let wait = c.left.max(Duration::from_secs(1));
            if worst.is_none_or(|(w, _)| wait > w) {
                worst = Some((wait, *limit));
            }
        }
    }
    match worst {
        None => Decision::Allow,
        Some((retry_after, limit)) => Decision::Refuse { retry_after, limit },
    }
}

/// Both sets of limits at once, as one set: per window the smaller maximum,
/// and every window either has. A site may tighten the deployment's push
/// limit, never loosen it (the counters are shared across sites).
pub fn tightest(a: &[Limit], b: &[Limit]) -> Vec<Limit> {
    let mut out: Vec<Limit> = a.to_vec();
    for l in b {
        match out.iter_mut().find(|o| o.window == l.window) {
            Some(o) => o.max = o.max.min(l.max),
            None => out.push(*l),
        }
    }
    out
}

/// The window a counter key names: the window's length in seconds, so that
/// changing a limit's window starts a new counter instead of misreading one.
pub fn window_tag(limit: &Limit) -> String {
    format!("{}s", limit.window.as_secs())
}

/// The part of a client address that is one client: an IPv4 address, or an
/// IPv6 /64 (one subscriber's prefix; a host can pick any address in it).
/// IPv4-mapped IPv6 addresses count as their IPv4 address.
pub fn client_bucket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(count: u64, left: u64) -> Count {
        Count {
            count,
            left: Duration::from_secs(left),
        }
    }

    #[test]
    fn every_window_must_hold() {
        let l = Limits::default().person;
        assert_eq!(decide(&l, &[c(5, 100), c(5, 80_000)]), Decision::Allow);
        assert_eq!(
            decide(&l, &[c(6, 100), c(6, 80_000)]),
            Decision::Refuse {
                retry_after: Duration::from_secs(100),
                limit: l[0]
            }
        );
        // Over the day limit too: the longer wait is what helps.
        assert_eq!(
            decide(&l, &[c(6, 100), c(21, 80_000)]),
            Decision::Refuse {
                retry_after: Duration::from_secs(80_000),
                limit: l[1]
            }
        );
        assert_eq!(
            decide(&l, &[c(1, 100), c(21, 0)]),
            Decision::Refuse {
                retry_after: Duration::from_secs(1),
                limit: l[1]
            },
            "never `retry after 0`"
        );
        assert_eq!(decide(&[], &[]), Decision::Allow);
    }

    #[test]
    fn a_site_can_only_tighten() {
        let d = Limits::default().person;
        assert_eq!(tightest(&d, &[Limit::new(50, 600)]), d, "looser: ignored");
        assert_eq!(
            tightest(&d, &[Limit::new(3, 600), Limit::new(1, 60)]),
            vec![
                Limit::new(3, 600),
                Limit::new(20, 86_400),
                Limit::new(1, 60)
            ]
        );
    }

    #[test]
    fn ipv6_clients_are_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_bucket(a), client_bucket(b));
        assert_ne!(client_bucket(a), client_bucket(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_bucket(mapped), "192.0.2.7");
        assert_eq!(client_bucket("192.0.2.7".parse().unwrap()), "192.0.2.7");
    }

    #[test]
    fn the_default_is_five_pushes_per_ten_minutes_and_twenty_a_day() {
        let d = Limits::default();
        assert_eq!(d.person, vec![Limit::new(5, 600), Limit::new(20, 86_400)]);
        assert_eq!(window_tag(&d.person[0]), "600s");
        assert!(Kind::Person.tells_citizen() && !Kind::Site.tells_citizen());
    }
}
