//! What a client may not send an upstream, and what an upstream may not send back.
//!
//! The upstream trusts the identity headers because only the gateway can set
//! them, so every client-supplied spelling of them goes: any case, `_` for `-`
//! (some servers and CGI treat them alike), repeated values, and anything in
//! the `x-munjigi-` namespace. Hop-by-hop headers (and any header a
//! `Connection` header names) are per connection, not per message, and
//! forwarding headers are believed only from a trusted proxy. The gateway's own
//! cookies stay with the gateway: an upstream never sees a ticket, nor can it
//! set one.

use http::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, COOKIE, SET_COOKIE};

/// RFC 9110 §7.6.1 and the usual non-standard ones.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers that claim something about the client or the original request.
const FORWARDING: [&str; 12] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-uri",
    "x-forwarded-method",
    "x-real-ip",
    "x-original-uri",
    "x-original-url",
    "x-original-method",
];

/// Headers some servers (IIS URL Rewrite, older Symfony and Zend) route on
/// instead of the request line: the upstream must serve the canonical path
/// the gateway decided on, so these go whoever sent them, in any spelling.
const TARGET_OVERRIDES: [&str; 4] = [
    "x-original-url",
    "x-original-uri",
    "x-rewrite-url",
    "x-forwarded-uri",
];

/// Every identity header the gateway sets lives here.
pub const NAMESPACE: &str = "x-munjigi-";

/// The gateway's cookie names (each also with the `__Host-` prefix).
pub const GATEWAY_COOKIES: [&str; 7] = [
    "mj_px",
    "mj_pxst",
    "mj_sid",
    "mj_b",
    "mj_lang",
    crate::login::last_used::COOKIE,
    crate::logout::chain::COOKIE,
];

/// Lower case, `_` read as `-`: how a lenient server might see the name.
pub fn normalize(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'_' => '-',
            b => char::from(b.to_ascii_lowercase()),
        })
        .collect()
}

pub fn is_hop_or_forwarding(lower: &str) -> bool {
    HOP_BY_HOP.contains(&lower) || FORWARDING.contains(&lower)
}

/// `a` read as a lenient server would (any case, `_` as `-`) equals `b`
/// (lower case, `-`). Byte-wise, without allocating: this runs for every
/// header of every request.
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            let x = if x == b'_' {
                b'-'
            } else {
                x.to_ascii_lowercase()
            };
            x == y
        })
}

/// Whether a client-sent header named `name` must not reach the upstream,
/// given the normalised names the route sets.
pub fn is_protected(name: &str, route_names: &[String]) -> bool {
    name.get(..NAMESPACE.len())
        .is_some_and(|p| same_name(p, NAMESPACE))
        || route_names.iter().any(|r| same_name(name, r))
}

/// Whether `name` is a header that names another request target.
pub fn overrides_target(name: &str) -> bool {
    TARGET_OVERRIDES.iter().any(|t| same_name(name, t))
}

fn is_gateway_cookie(name: &str) -> bool {
    let name = name.trim();
    let bare = name.strip_prefix("__Host-").unwrap_or(name);
    GATEWAY_COOKIES.contains(&bare)
}

/// Headers named by `Connection` are hop-by-hop for this message.
fn connection_named(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Cleans a client request's headers before identity is added.
/// `keep_forwarding`: the peer is a trusted proxy.
pub fn request(headers: &mut HeaderMap, route_names: &[String], keep_forwarding: bool) {
    let named = connection_named(headers);
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|k| {
            let s = k.as_str();
            HOP_BY_HOP.contains(&s)
                || named.iter().any(|n| n == s)
                || (!keep_forwarding && FORWARDING.contains(&s))
                || is_protected(s, route_names)
                || overrides_target(s)
        })
        .cloned()
        .collect();
    for k in doomed {
        headers.remove(&k);
    }
    let kept = site_cookies(headers);
    headers.remove(COOKIE);
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&kept) {
            headers.insert(COOKIE, v);
        }
    }
}

/// The request's cookies without the gateway's, as one `Cookie` value
/// (empty when none are left).
pub fn site_cookies(headers: &HeaderMap) -> String {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            !pair.trim().is_empty() && !is_gateway_cookie(name)
        })
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Cleans an upstream response's headers; `upgrade`: a 101 keeps
/// `Connection`/`Upgrade`.
pub fn response(headers: &mut HeaderMap, upgrade: bool) {
    let named = connection_named(headers);
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|k| {
            let s = k.as_str();
            let hop = HOP_BY_HOP.contains(&s) || named.iter().any(|n| n == s);
            hop && !(upgrade && (s == "connection" || s == "upgrade"))
        })
        .cloned()
        .collect();
    for k in doomed {
        headers.remove(&k);
    }
    let cookies: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
    if cookies.iter().any(set_cookie_is_gateways) {
        headers.remove(SET_COOKIE);
        for c in cookies.into_iter().filter(|c| !set_cookie_is_gateways(c)) {
            headers.append(SET_COOKIE, c);
        }
    }
}

fn set_cookie_is_gateways(v: &HeaderValue) -> bool {
    let s = String::from_utf8_lossy(v.as_bytes());
    is_gateway_cookie(s.split('=').next().unwrap_or_default())
}

#[cfg(test)]
mod tests {

    #[test]
    fn every_cookie_the_gateway_sets_is_one_the_proxy_strips() {
        for c in [
            crate::proxy::session::COOKIE,
            crate::proxy::entry::STATE_COOKIE,
            crate::login::session::COOKIE,
            crate::login::begin::BROWSER_COOKIE,
            crate::server::LANG_COOKIE,
            crate::login::last_used::COOKIE,
            crate::logout::chain::COOKIE,
        ] {
            assert!(super::GATEWAY_COOKIES.contains(&c), "{c}");
            assert!(super::is_gateway_cookie(&format!("__Host-{c}")), "{c}");
        }
    }
    use super::*;
    use proptest::prelude::*;

    fn names() -> Vec<String> {
        vec!["x-munjigi-sub".into(), "x-site-user".into()]
    }

    /// Every way a client might spell a protected header.
    fn spelling(base: &'static str) -> impl Strategy<Value = String> {
        proptest::collection::vec((any::<bool>(), any::<bool>()), base.len()).prop_map(
            move |flips| {
                base.chars()
                    .zip(flips)
                    .map(|(c, (upper, underscore))| match c {
                        '-' if underscore => '_',
                        c if upper => c.to_ascii_uppercase(),
                        c => c,
                    })
                    .collect()
            },
        )
    }

    fn any_spelling() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "x-munjigi-sub",
            "x-site-user",
            "x-munjigi-anything",
            "x-munjigi-assertion",
        ])
        .prop_flat_map(spelling)
    }

    proptest! {
        #[test]
        fn no_spelling_of_a_protected_header_survives(
            spellings in proptest::collection::vec(any_spelling(), 1..5),
            value in "[ -~]{0,20}",
        ) {
            let mut h = HeaderMap::new();
            for name in &spellings {
                let n = HeaderName::from_bytes(name.as_bytes()).unwrap();
                h.append(n, HeaderValue::from_str(&value).unwrap());
            }
            h.append("x-keep", HeaderValue::from_static("1"));
            request(&mut h, &names(), false);
            for k in h.keys() {
                prop_assert!(!is_protected(k.as_str(), &names()), "{} survived", k);
            }
            prop_assert_eq!(h.len(), 1);
            prop_assert_eq!(h.get("x-keep").map(|v| v.as_bytes()), Some(b"1".as_slice()));
        }

        #[test]
        fn the_fast_check_agrees_with_the_normal_form(name in "[a-zA-Z_-]{0,24}") {
            let n = normalize(&name);
            let slow = n.starts_with(NAMESPACE) || names().contains(&n);
            prop_assert_eq!(is_protected(&name, &names()), slow);
        }

        #[test]
        fn unrelated_headers_are_kept(name in "x-[a-l][a-z0-9]{0,8}", value in "[!-~]{1,20}") {
            let mut h = HeaderMap::new();
            let n = HeaderName::from_bytes(name.as_bytes()).unwrap();
            h.insert(n.clone(), HeaderValue::from_str(&value).unwrap());
            request(&mut h, &names(), false);
            prop_assert_eq!(h.get(&n).map(|v| v.to_str().unwrap().to_owned()), Some(value));
        }

        #[test]
        fn gateway_cookies_never_pass(
            site in proptest::collection::vec(("[a-z]{1,6}", "[a-zA-Z0-9]{1,8}"), 0..4),
            ours in proptest::collection::vec((prop::sample::select(GATEWAY_COOKIES.to_vec()), any::<bool>()), 0..4),
        ) {
            let mut pairs: Vec<String> = site.iter().filter(|(n, _)| !is_gateway_cookie(n)).map(|(n, v)| format!("{n}={v}")).collect();
            let wanted = pairs.clone();
            for (n, host) in &ours {
                pairs.push(format!("{}{n}=secret", if *host { "__Host-" } else { "" }));
            }
            let mut h = HeaderMap::new();
            for chunk in pairs.chunks(2) {
                h.append(COOKIE, HeaderValue::from_str(&chunk.join("; ")).unwrap());
            }
            request(&mut h, &names(), false);
            let sent = h.get(COOKIE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
            prop_assert!(!sent.contains("secret"));
            prop_assert_eq!(h.get_all(COOKIE).iter().count(), usize::from(!wanted.is_empty()));
            prop_assert_eq!(sent, wanted.join("; "));
        }
    }

    #[test]
    fn hop_by_hop_and_forwarding() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("te", HeaderValue::from_static("trailers"));
        h.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
        h.insert("forwarded", HeaderValue::from_static("for=6.6.6.6"));
        h.insert("accept", HeaderValue::from_static("*/*"));
        let mut trusted = h.clone();
        request(&mut h, &[], false);
        assert_eq!(h.len(), 1, "{h:?}");
        request(&mut trusted, &[], true);
        assert!(trusted.contains_key("x-forwarded-for"));
        assert!(!trusted.contains_key("x-secret"));
    }

    #[test]
    fn upstream_cannot_set_gateway_cookies() {
        let mut h = HeaderMap::new();
        h.append(
            SET_COOKIE,
            HeaderValue::from_static("mj_px=fixated; Path=/"),
        );
        h.append(
            SET_COOKIE,
            HeaderValue::from_static("__Host-mj_sid=x; Path=/"),
        );
        h.append(SET_COOKIE, HeaderValue::from_static("app=1; Path=/"));
        h.insert("connection", HeaderValue::from_static("close"));
        response(&mut h, false);
        let left: Vec<_> = h.get_all(SET_COOKIE).iter().collect();
        assert_eq!(left, vec![HeaderValue::from_static("app=1; Path=/")]);
        assert!(!h.contains_key("connection"));
    }

    #[test]
    fn target_overrides_go_even_from_trusted_proxies() {
        let mut h = HeaderMap::new();
        for n in [
            "X-Original-URL",
            "x-rewrite-url",
            "X-Original_URI",
            "X_Forwarded_Uri",
            "x-forwarded-prefix",
        ] {
            h.insert(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_static("/admin"),
            );
        }
        request(&mut h, &[], true);
        let left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        assert_eq!(
            left,
            vec!["x-forwarded-prefix"],
            "a trusted proxy's prefix stays"
        );
    }
}
