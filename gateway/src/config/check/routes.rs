//! Validation of `[routes.*]`, `[proxy]` and `server.trusted_proxies`.
//!
//! A route is where an identity reaches a site that checks nothing itself, so
//! everything is strict: exact hosts, absolute prefixes, no reserved paths, a
//! known site, header names that cannot collide with what the gateway strips.

use super::{level, read_file, valid_id, Range, Report};
use crate::config::model::{IdentityField, ProxySettings, Route, Site, TrustedProxies, Upstream};
use crate::config::raw::{RawProxy, RawRoute};
use indexmap::IndexMap;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;

/// Paths the gateway answers on every route host itself.
pub const RESERVED_PREFIX: &str = "/.munjigi/";

/// `server.trusted_proxies`: each entry parsed, and a block that takes in the
/// public internet by the block (see [`TrustedProxies::parse_one`]) refused
/// unless `allow_any` (`server.allow_any_trusted_proxy`) says the operator
/// means it: with it, any client may claim any address, host and scheme.
pub(super) fn trusted(
    r: &mut Report<'_>,
    items: &[Spanned<String>],
    allow_any: bool,
) -> TrustedProxies {
    let mut ok = Vec::new();
    for i in items {
        match TrustedProxies::parse_one(i.get_ref()) {
            Ok(net) if !allow_any && TrustedProxies::is_internet_wide(&net) => r.at(
                i.span(),
                format!(
                    "server.trusted_proxies: `{}` takes in the whole internet, so any client could claim any address; list your proxies' addresses, or set server.allow_any_trusted_proxy = true if that is really meant",
                    i.get_ref()
                ),
            ),
            Ok(_) => ok.push(i.get_ref().as_str()),
            Err(e) => r.at(i.span(), format!("server.trusted_proxies: {e}")),
        }
    }
    TrustedProxies::parse(&ok).unwrap_or_default()
}

pub(super) fn settings(r: &mut Report<'_>, raw: Option<Spanned<RawProxy>>) -> ProxySettings {
    let mut out = ProxySettings {
        session_idle: Duration::from_secs(1800),
        session_max: Duration::from_secs(43_200),
    };
    let Some(p) = raw else { return out };
    let p = p.into_inner();
    let mut secs = |v: &Option<Spanned<u64>>, name: &str, target: &mut Duration| {
        if let Some(s) = v {
            if (1..=30 * 86_400).contains(s.get_ref()) {
                *target = Duration::from_secs(*s.get_ref());
            } else {
                r.at(
                    s.span(),
                    format!("proxy.{name} must be between 1 and 2592000 seconds"),
                );
            }
        }
    };
    secs(
        &p.session_idle_secs,
        "session_idle_secs",
        &mut out.session_idle,
    );
    secs(
        &p.session_max_secs,
        "session_max_secs",
        &mut out.session_max,
    );
    out
}

fn header_name(
    r: &mut Report<'_>,
    span: Range<usize>,
    id: &str,
    v: &str,
) -> Option<http::HeaderName> {
    let lower = v.to_ascii_lowercase();
    let ok = !lower.is_empty()
        && lower
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !crate::proxy::strip::is_hop_or_forwarding(&lower)
        && ![
            "host",
            "cookie",
            "authorization",
            "content-length",
            "content-type",
        ]
        .contains(&lower.as_str());
    match http::HeaderName::from_bytes(lower.as_bytes()) {
        Ok(h) if ok => Some(h),
        _ => {
            r.at(
                span,
                format!(
                    "routes.{id}: `{v}` cannot be an identity header name (letters, digits and `-`; not a standard or forwarding header)"
                ),
            );
            None
        }
    }
}

fn path_prefix(r: &mut Report<'_>, span: Range<usize>, id: &str, what: &str, v: &str) -> String {
    let ok = v.starts_with('/')
        && !v.starts_with("//")
        && !v.contains(['?', '#', '\\', '%'])
        && !v.split('/').any(|seg| seg == "." || seg == "..")
        && !v.chars().any(|c| c.is_whitespace() || c.is_control())
        && crate::web::path::canonical(v).is_ok_and(|c| c.as_str() == v && !c.has_empty_segments());
    if !ok {
        r.at(
            span.clone(),
            format!("routes.{id}.{what} `{v}` must be an absolute path such as /app/ in canonical form (no `..`, `//`, `?`, `#`, `%`, `\\`, or a segment ending in a dot)"),
        );
    }
    if v.starts_with(RESERVED_PREFIX) {
        r.at(
            span,
            format!("routes.{id}.{what}: {RESERVED_PREFIX} is the gateway's own"),
        );
    }
    v.to_owned()
}

fn upstream(
    r: &mut Report<'_>,
    base: &Path,
    id: &str,
    u: &Spanned<String>,
    ca: Option<&Spanned<String>>,
) -> Option<Upstream> {
    let v = u.get_ref();
    let (https, rest) = if let Some(rest) = v.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = v.strip_prefix("http://") {
        (false, rest)
    } else {
        r.at(
            u.span(),
            format!("routes.{id}.upstream `{v}` must start with http:// or https://"),
        );
        return None;
    };
    // The config's one URL rule, with plain http to any host (an upstream
    // is the operator's own application, often on a private network): no
    // userinfo, a canonical host hyper and the resolver read as the rule
    // did, no fragment.
    if let Err(e) =
        munjigi_providers::url_rule::check(v, munjigi_providers::url_rule::PlainHttp::Anywhere)
    {
        r.at(u.span(), format!("routes.{id}.upstream: {e}"));
        return None;
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let authority = match authority.parse::<http::uri::Authority>() {
        Ok(a) if !authority.is_empty() && !authority.contains('@') => a,
        _ => {
            r.at(
                u.span(),
                format!("routes.{id}.upstream `{v}` has no valid host"),
            );
            return None;
        }
    };
    if path.contains(['?', '#']) {
        r.at(
            u.span(),
            format!("routes.{id}.upstream must not carry a query or fragment"),
        );
    }
    let ca_pem = match ca {
        Some(c) if https => read_file(
            r,
            base,
            c.span(),
            c.get_ref(),
            &format!("routes.{id}.upstream_ca"),
        ),
        Some(c) => {
            r.at(
                c.span(),
                format!("routes.{id}.upstream_ca is only for an https upstream"),
            );
            None
        }
        None => None,
    };
    Some(Upstream {
        https,
        authority,
        base_path: path.trim_end_matches('/').to_owned(),
        ca_pem,
    })
}

pub(super) fn build(
    r: &mut Report<'_>,
    base: &Path,
    public_url: &str,
    sites: &BTreeMap<String, Site>,
    raw: IndexMap<String, Spanned<RawRoute>>,
) -> Vec<Arc<Route>> {
    let public_https = public_url.starts_with("https://");
    let public_origin = {
        let after = public_url.find("://").map_or(0, |i| i + 3);
        let end = public_url
            .get(after..)
            .and_then(|rest| rest.find('/'))
            .map_or(public_url.len(), |i| after + i);
        public_url.get(..end).unwrap_or(public_url).to_owned()
    };
    let mut routes: Vec<Arc<Route>> = Vec::new();
    let mut seen: Vec<(Option<String>, String)> = Vec::new();
    for (id, spanned) in raw {
        let span = spanned.span();
        let raw = spanned.into_inner();
        if !valid_id(&id) {
            r.at(
                span.clone(),
                format!("route id `{id}` must be lower-case letters, digits, `-` or `_`"),
            );
        }
        // The route id is the proxy assertion's `aud`: an OIDC client of the
        // same id that ignored `typ` could take an assertion for an ID token.
        if sites
            .values()
            .any(|s| s.oidc.as_ref().is_some_and(|o| o.client_id == id))
        {
            r.at(
                span.clone(),
                format!("route id `{id}` is also an OIDC client_id; give the route another id"),
            );
        }
        let Some(site) = sites.get(raw.site.get_ref()) else {
            r.at(
                raw.site.span(),
                format!(
                    "routes.{id}: no site `{}` is defined under [sites]",
                    raw.site.get_ref()
                ),
            );
            continue;
        };
        let host = raw.host.as_ref().map(|h| {
            let v = h.get_ref().to_ascii_lowercase();
            if v.is_empty() || v.parse::<http::uri::Authority>().is_err() || v.contains(['/', '@'])
            {
                r.at(
                    h.span(),
                    format!("routes.{id}.host `{v}` must be a host name with an optional port"),
                );
            }
            v
        });
        let public_host = public_origin
            .split_once("://")
            .map_or("", |(_, h)| h)
            .to_ascii_lowercase();
        if let (Some(h), Some(spanned)) = (&host, &raw.host) {
            if *h == public_host {
                r.at(
                    spanned.span(),
                    format!("routes.{id}.host is the gateway's own host; leave `host` out for a route on it"),
                );
            }
        }
        let https = match raw
            .scheme
            .as_ref()
            .map(|s| (s.span(), s.get_ref().as_str()))
        {
            None => public_https,
            Some((_, "https")) => true,
            Some((_, "http")) => false,
            Some((span, other)) => {
                r.at(
                    span,
                    format!("routes.{id}.scheme `{other}` must be `http` or `https`"),
                );
                public_https
            }
        };
        let origin = match &host {
            Some(h) => format!("{}://{h}", if https { "https" } else { "http" }),
            None => public_origin.clone(),
        };
        let secure = if host.is_some() { https } else { public_https };
        let prefix = match &raw.prefix {
            None => "/".to_owned(),
            Some(p) => {
                let v = path_prefix(r, p.span(), &id, "prefix", p.get_ref());
                if v != "/" && !v.ends_with('/') {
                    r.at(
                        p.span(),
                        format!("routes.{id}.prefix `{v}` must end with `/`"),
                    );
                }
                v
            }
        };
        if seen.contains(&(host.clone(), prefix.clone())) {
            r.at(
                span.clone(),
                format!("routes.{id}: another route already has this host and prefix"),
            );
        }
        seen.push((host.clone(), prefix.clone()));
        let public_paths = raw
            .public_paths
            .iter()
            .map(|p| path_prefix(r, p.span(), &id, "public_paths", p.get_ref()))
            .collect();
        let up = raw
            .upstream
            .as_ref()
            .and_then(|u| upstream(r, base, &id, u, raw.upstream_ca.as_ref()));
        if raw.upstream.is_none() && host.is_none() {
            r.at(
                span.clone(),
                format!("routes.{id}: a forward-auth route (no upstream) needs the front proxy's `host`"),
            );
        }
        let mut min_level = site.policy.min_level;
        if let Some(l) = &raw.min_level {
            if let Some(l) = level(r, l.span(), l.get_ref()) {
                min_level = min_level.max(l);
            }
        }
        let ms = |r: &mut Report<'_>, v: &Option<Spanned<u64>>, default: u64, name: &str| match v {
            None => Duration::from_millis(default),
            Some(s) if (100..=3_600_000).contains(s.get_ref()) => {
                Duration::from_millis(*s.get_ref())
            }
            Some(s) => {
                r.at(
                    s.span(),
                    format!("routes.{id}.{name} must be between 100 and 3600000"),
                );
                Duration::from_millis(default)
            }
        };
        let connect_timeout = ms(r, &raw.connect_timeout_ms, 5_000, "connect_timeout_ms");
        let read_timeout = ms(r, &raw.read_timeout_ms, 60_000, "read_timeout_ms");
        let mut headers = Vec::new();
        match &raw.headers {
            None => {
                for (f, name) in IdentityField::defaults() {
                    headers.push((f, http::HeaderName::from_static(name)));
                }
            }
            Some(h) => {
                for (key, name) in h.get_ref() {
                    let Some(field) = IdentityField::parse(key) else {
                        r.at(
                            name.span(),
                            format!("routes.{id}.headers: unknown field `{key}`; use subject, name, birthdate, phone, gender, provider, level or auth_time"),
                        );
                        continue;
                    };
                    if let Some(n) = header_name(r, name.span(), &id, name.get_ref()) {
                        if headers.iter().any(|(_, h)| *h == n) {
                            r.at(
                                name.span(),
                                format!("routes.{id}.headers: `{}` is used twice", name.get_ref()),
                            );
                        }
                        headers.push((field, n));
                    }
                }
            }
        }
        let jwt_header = match &raw.jwt_header {
            None => Some(http::HeaderName::from_static("x-munjigi-assertion")),
            Some(j) => header_name(r, j.span(), &id, j.get_ref()),
        }
        .unwrap_or(http::HeaderName::from_static("x-munjigi-assertion"));
        if headers.iter().any(|(_, h)| *h == jwt_header) {
            r.at(
                span.clone(),
                format!("routes.{id}: the JWT header and an identity header share a name"),
            );
        }
        let protected = headers
            .iter()
            .map(|(_, n)| n.as_str().to_owned())
            .chain(std::iter::once(jwt_header.as_str().to_owned()))
            .collect();
        routes.push(Arc::new(Route {
            id: id.clone(),
            index: routes.len(),
            site: site.id.clone(),
            host,
            origin,
            gateway_url: public_url.to_owned(),
            secure,
            prefix,
            upstream: up,
            public_paths,
            min_level,
            preserve_host: raw.preserve_host,
            strip_prefix: raw.strip_prefix,
            case_insensitive: raw.case_insensitive,
            allow_empty_segments: raw.allow_empty_segments,
            connect_timeout,
            read_timeout,
            headers,
            jwt_header,
            protected,
        }));
    }
    routes
}
