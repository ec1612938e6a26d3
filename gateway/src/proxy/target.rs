//! Where a citizen may be sent back to after logging in: a path on the route
//! they came from, and nothing else.
//!
//! The target travels through the login in URLs a third party can craft, so
//! it is re-checked where it is used, and anything doubtful falls back to the
//! route's own prefix instead of failing: a scheme, `//` or `\` (browsers read
//! both as "another host"), control characters, raw non-ASCII, fragments,
//! dot segments in any encoding (`%2e%2e` is `..` to a browser), or a path the
//! route does not cover.

use super::route::Route;

/// Longest accepted target, bytes.
pub const MAX_LEN: usize = 2048;

/// The validated path-and-query, or None.
pub fn return_target(route: &Route, rd: &str) -> Option<String> {
    if rd.is_empty() || rd.len() > MAX_LEN || !rd.starts_with('/') {
        return None;
    }
    if rd.starts_with("//") || rd.contains('\\') || rd.contains('#') {
        return None;
    }
    if !rd.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return None;
    }
    let path = rd.split('?').next().unwrap_or_default();
    let dot_segment = path.split('/').any(|seg| {
        let s = seg.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    });
    if dot_segment || path.to_ascii_lowercase().contains("%2f%2f") {
        return None;
    }
    route.covers(path).then(|| rd.to_owned())
}

/// The target for `rd`, or the route's prefix when `rd` is not acceptable.
pub fn or_prefix(route: &Route, rd: Option<&str>) -> String {
    rd.and_then(|r| return_target(route, r))
        .unwrap_or_else(|| route.prefix.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::route::tests::route;
    use proptest::prelude::*;

    #[test]
    fn known_attacks_fall_back() {
        let r = route("app", None, "/app/");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "/app/../admin",
            "/app/%2e%2e/admin",
            "/app/%2E./admin",
            "/other/",
            "/app\t/x",
            "/app/#frag",
            "javascript:alert(1)",
            "/app/홍",
            "",
        ] {
            assert_eq!(return_target(&r, bad), None, "{bad}");
            assert_eq!(or_prefix(&r, Some(bad)), "/app/");
        }
        assert_eq!(
            return_target(&r, "/app/a/b?x=1&y=%2F"),
            Some("/app/a/b?x=1&y=%2F".into())
        );
        assert_eq!(return_target(&r, "/app"), Some("/app".into()));
    }

    proptest! {
        /// Whatever `rd` is, the browser ends up on the route's origin, under its prefix.
        #[test]
        fn a_target_never_leaves_the_route(
            rd in prop_oneof![
                "[ -~]{0,40}",
                "/app/[ -~]{0,40}",
                "(/|//|\\\\|/app/|https:|/app/%2e|/app/..){1,3}[a-z./%\\\\?#:@]{0,20}",
            ],
        ) {
            let r = route("app", Some("portal.example"), "/app/");
            if let Some(t) = return_target(&r, &rd) {
                let base = url::Url::parse(&r.origin).unwrap();
                let joined = base.join(&t).unwrap();
                prop_assert_eq!(joined.origin(), base.origin());
                prop_assert!(joined.path().starts_with("/app/") || joined.path() == "/app", "{}", joined);
            }
        }
    }
}
