//! A proxy route as the server runs it, and the one rule that picks the route
//! for a request.
//!
//! Routes are matched on the exact host (case-insensitive) and then the
//! longest path prefix, so adding a route never changes which upstream an
//! existing path reaches unless its prefix is longer. Routes without a host
//! serve the gateway's own host, after the gateway's own endpoints.

use munjigi_providers::Level;
use std::sync::Arc;
use std::time::Duration;

/// What a route sends the upstream about the citizen, one header each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityField {
    Subject,
    Name,
    Birthdate,
    Phone,
    Gender,
    Provider,
    Level,
    AuthTime,
}

impl IdentityField {
    pub const ALL: [(&'static str, IdentityField); 8] = [
        ("subject", IdentityField::Subject),
        ("name", IdentityField::Name),
        ("birthdate", IdentityField::Birthdate),
        ("phone", IdentityField::Phone),
        ("gender", IdentityField::Gender),
        ("provider", IdentityField::Provider),
        ("level", IdentityField::Level),
        ("auth_time", IdentityField::AuthTime),
    ];

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.iter().find(|(k, _)| *k == key).map(|(_, f)| *f)
    }

    /// The header names used when a route names none.
    pub fn defaults() -> [(IdentityField, &'static str); 4] {
        [
            (IdentityField::Subject, "x-munjigi-sub"),
            (IdentityField::Name, "x-munjigi-name"),
            (IdentityField::Provider, "x-munjigi-provider"),
            (IdentityField::Level, "x-munjigi-level"),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Upstream {
    pub https: bool,
    pub authority: http::uri::Authority,
    /// Prepended to the forwarded path; empty or `/x` without a trailing slash.
    pub base_path: String,
    /// CA(s) for an https upstream; None = the system roots.
    pub ca_pem: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub id: String,
    /// Position in the config snapshot (names the route in caches).
    pub index: usize,
    pub site: String,
    /// Lower-case `host[:port]`; None = the gateway's own host.
    pub host: Option<String>,
    /// `scheme://host[:port]` the citizen sees; where callbacks land.
    pub origin: String,
    /// The gateway's public URL (where logins start).
    pub gateway_url: String,
    /// Cookies on this route's host get `Secure` and `__Host-`.
    pub secure: bool,
    /// Starts with `/`; `/` or ends with `/`.
    pub prefix: String,
    /// None: forward-auth only.
    pub upstream: Option<Upstream>,
    pub public_paths: Vec<String>,
    /// The stricter of the site's policy and the route's own `min_level`.
    pub min_level: Level,
    pub preserve_host: bool,
    pub strip_prefix: bool,
    /// Prefix and public paths match ignoring ASCII case.
    pub case_insensitive: bool,
    /// Paths with empty segments (`//`) are accepted on this route.
    pub allow_empty_segments: bool,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub headers: Vec<(IdentityField, http::HeaderName)>,
    pub jwt_header: http::HeaderName,
    /// The names above, which no client may send (lower case).
    pub protected: Vec<String>,
}

impl Route {
    /// Whether `path` starts with `prefix` under this route's case rule.
    fn starts_with(&self, path: &str, prefix: &str) -> bool {
        if self.case_insensitive {
            path.as_bytes()
                .get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
        } else {
            path.starts_with(prefix)
        }
    }

    fn same(&self, a: &str, b: &str) -> bool {
        if self.case_insensitive {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    }

    /// `/app/` covers `/app`, `/app/` and everything below; `/` covers all.
    /// `path` is canonical (`crate::web::path`).
    pub fn covers(&self, path: &str) -> bool {
        self.prefix == "/"
            || self.starts_with(path, &self.prefix)
            || self.same(path, self.prefix.trim_end_matches('/'))
    }

    /// `path` less the route's prefix (for `strip_prefix`), always starting with `/`.
    pub fn below_prefix<'a>(&self, path: &'a str) -> std::borrow::Cow<'a, str> {
        let stem = self.prefix.trim_end_matches('/');
        if self.prefix == "/" || !self.starts_with(path, stem) {
            return path.into();
        }
        let rest = path.get(stem.len()..).unwrap_or_default();
        if rest.starts_with('/') {
            rest.into()
        } else {
            format!("/{rest}").into()
        }
    }

    /// The configured `host[:port]` citizens reach this route on: its own
    /// host, or the gateway's public host for a host-less route.
    pub fn public_host(&self) -> &str {
        self.origin
            .split_once("://")
            .map_or(self.origin.as_str(), |(_, h)| h)
    }

    /// The session cookie's name on this route's host.
    pub fn session_cookie(&self) -> &'static str {
        if self.secure {
            "__Host-mj_px"
        } else {
            "mj_px"
        }
    }

    /// `path` is canonical (`crate::web::path`).
    pub fn is_public(&self, path: &str) -> bool {
        self.public_paths.iter().any(|p| {
            self.starts_with(path, p)
                || (p.ends_with('/') && self.same(path, p.trim_end_matches('/')))
        })
    }
}

/// The route for `host` and `path`: routes naming this host if any does, else
/// the host-less ones; the longest covering prefix wins.
pub fn find<'a>(
    routes: &'a [Arc<Route>],
    host: Option<&str>,
    path: &str,
) -> Option<&'a Arc<Route>> {
    let same = |r: &Route, h: &str| {
        r.host
            .as_deref()
            .is_some_and(|rh| rh.eq_ignore_ascii_case(h))
    };
    let claimed = host.is_some_and(|h| routes.iter().any(|r| same(r, h)));
    routes
        .iter()
        .filter(|r| match host {
            Some(h) if claimed => same(r, h),
            _ => r.host.is_none(),
        })
        .filter(|r| r.covers(path))
        .max_by_key(|r| r.prefix.len())
}

/// Whether the readings an upstream may take of `path` come to the same
/// decision as `path` itself: with `;params` dropped (Tomcat, Jetty, Spring)
/// the same route and the same public-path answer; with ASCII case folded,
/// when any route folds case (IIS), the same route. A path that reads
/// differently is refused rather than decided on one reading.
pub fn readings_agree(
    routes: &[Arc<Route>],
    host: Option<&str>,
    path: &str,
    chosen: &Route,
) -> bool {
    let stripped = crate::web::path::without_params(path);
    if stripped != path {
        let same = find(routes, host, &stripped).is_some_and(|r| {
            r.index == chosen.index && r.is_public(&stripped) == chosen.is_public(path)
        });
        if !same {
            return false;
        }
    }
    if routes.iter().any(|r| r.case_insensitive) {
        let lower = stripped.to_ascii_lowercase();
        if lower != stripped && find(routes, host, &lower).is_none_or(|r| r.index != chosen.index) {
            return false;
        }
    }
    true
}

/// Whether some route claims `host` (then every path on it is the proxy's).
pub fn claims_host(routes: &[Arc<Route>], host: &str) -> bool {
    routes.iter().any(|r| {
        r.host
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case(host))
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn route(id: &str, host: Option<&str>, prefix: &str) -> Arc<Route> {
        Arc::new(Route {
            id: id.into(),
            index: 0,
            site: "town".into(),
            host: host.map(str::to_owned),
            origin: format!("http://{}", host.unwrap_or("127.0.0.1:8080")),
            gateway_url: "http://127.0.0.1:8080".into(),
            secure: false,
            prefix: prefix.into(),
            upstream: None,
            public_paths: vec!["/app/public/".into()],
            min_level: Level::Substantial,
            preserve_host: false,
            strip_prefix: false,
            case_insensitive: false,
            allow_empty_segments: false,
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            headers: vec![],
            jwt_header: http::HeaderName::from_static("x-munjigi-assertion"),
            protected: vec!["x-munjigi-assertion".into()],
        })
    }

    #[test]
    fn host_then_longest_prefix() {
        let routes = vec![
            route("root", None, "/"),
            route("app", None, "/app/"),
            route("deep", None, "/app/deep/"),
            route("other", Some("other.example"), "/"),
        ];
        let id = |h: Option<&str>, p: &str| find(&routes, h, p).map(|r| r.id.clone());
        assert_eq!(id(None, "/x"), Some("root".into()));
        assert_eq!(id(None, "/app"), Some("app".into()));
        assert_eq!(id(None, "/application"), Some("root".into()));
        assert_eq!(id(None, "/app/deep/x"), Some("deep".into()));
        assert_eq!(id(Some("OTHER.example"), "/app/x"), Some("other".into()));
        assert_eq!(id(Some("unknown"), "/app/x"), Some("app".into()));
        assert!(claims_host(&routes, "Other.Example"));
        assert!(!claims_host(&routes, "127.0.0.1:8080"));
    }

    #[test]
    fn a_path_must_read_the_same_with_params_dropped_or_case_folded() {
        let mut admin = (*route("admin", None, "/app/admin/")).clone();
        admin.index = 1;
        let mut routes = vec![route("app", None, "/app/"), Arc::new(admin)];
        let pick = |routes: &[Arc<Route>], p: &str| {
            let r = find(routes, None, p).unwrap().clone();
            readings_agree(routes, None, p, &r)
        };
        assert!(pick(&routes, "/app/x;v=1/y"));
        assert!(pick(&routes, "/app/admin/x;jsessionid=1"));
        assert!(
            !pick(&routes, "/app/admin;x/secret"),
            "Tomcat reads /app/admin/secret"
        );
        assert!(
            !pick(&routes, "/app/public;x/logo"),
            "public only with the parameter"
        );
        assert!(
            find(&routes, None, "/APP/admin/x").is_none(),
            "case-sensitive: no route at all"
        );
        let mut folding = (*routes[0]).clone();
        folding.case_insensitive = true;
        routes[0] = Arc::new(folding);
        assert!(!pick(&routes, "/APP/ADMIN/x"), "IIS reads /app/admin/x");
        assert!(pick(&routes, "/APP/other"));
    }

    #[test]
    fn the_fixed_cookie_name_is_the_jars() {
        for secure in [false, true] {
            let mut r = (*route("app", None, "/app/")).clone();
            r.secure = secure;
            let jar = crate::web::cookies::CookieJar { secure };
            assert_eq!(r.session_cookie(), jar.name(crate::proxy::session::COOKIE));
        }
    }

    #[test]
    fn public_paths_are_prefixes() {
        let r = route("app", None, "/app/");
        assert!(r.is_public("/app/public/logo.png"));
        assert!(r.is_public("/app/public"));
        assert!(!r.is_public("/app/publicity"));
        assert!(!r.is_public("/app/private"));
        assert!(!r.is_public("/APP/PUBLIC/x"));
        assert!(!r.covers("/APP/x"));
    }

    #[test]
    fn case_insensitive_routes_fold_ascii_case() {
        let mut r = (*route("app", None, "/app/")).clone();
        r.case_insensitive = true;
        assert!(r.is_public("/APP/Public/logo.png"));
        assert!(r.is_public("/app/PUBLIC"));
        assert!(!r.is_public("/app/private"));
        assert!(r.covers("/App/x"));
        assert!(r.covers("/APP"));
        assert!(!r.covers("/apps"));
        r.strip_prefix = true;
        assert_eq!(r.below_prefix("/APP/x"), "/x");
        assert_eq!(r.below_prefix("/App"), "/");
    }
}
