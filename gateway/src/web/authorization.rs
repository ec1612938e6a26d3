//! Reading an `Authorization` header's scheme, one way for every endpoint.
//!
//! RFC 7235 §2.1: the scheme is a case-insensitive token and the credentials
//! follow after one or more spaces. Clients differ (`basic`, `BEARER`, two
//! spaces), and each endpoint used to compare `"Basic "` by hand, refusing
//! what the RFC allows. Anything else (a tab, nothing after the scheme) is
//! not credentials of that scheme.

/// The credentials of `value` when its scheme is `scheme` (ASCII case
/// ignored), without the spaces around them; `None` otherwise.
pub fn credentials<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (name, rest) = value.split_once(' ')?;
    if !name.eq_ignore_ascii_case(scheme) {
        return None;
    }
    let rest = rest.trim_matches(' ');
    (!rest.is_empty()).then_some(rest)
}

/// The scheme of `value` (the text before the first space, or all of it).
pub fn scheme(value: &str) -> &str {
    value.split_once(' ').map_or(value, |(s, _)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_case_insensitive_and_spaces_may_repeat() {
        for v in [
            "Basic abc",
            "basic abc",
            "BASIC abc",
            "bAsIc   abc",
            "Basic abc ",
        ] {
            assert_eq!(credentials(v, "Basic"), Some("abc"), "{v:?}");
        }
        for v in [
            "Basic",
            "Basic ",
            "Basicabc",
            "Basic\tabc",
            "Bearer abc",
            "Basi abc",
            " Basic abc",
        ] {
            assert_eq!(credentials(v, "Basic"), None, "{v:?}");
        }
        assert_eq!(
            credentials("bearer t.o-k_e~n+/=", "Bearer"),
            Some("t.o-k_e~n+/=")
        );
        assert_eq!(scheme("Digest x=y"), "Digest");
        assert_eq!(scheme("Negotiate"), "Negotiate");
    }
}
