//! The one canonical form of a request path, decided before any routing,
//! public-path or level decision, and the only form that travels on.
//!
//! An identity-aware proxy is only as safe as the agreement between what it
//! authorised and what the upstream serves. Upstreams differ: some resolve
//! `..` after decoding `%2e%2e`, some fold `\` into `/`, some (Tomcat) drop
//! `;params` before resolving, some (Windows) strip trailing dots. So the
//! gateway decides on one form that every reasonable reader resolves to
//! itself, forwards exactly that form, and refuses what it cannot make
//! unambiguous:
//! - percent-encoded unreserved characters (RFC 3986 §2.3) are decoded, every
//!   other escape is kept with upper-case hex, and raw bytes outside `pchar`
//!   are escaped;
//! - dot segments are removed (RFC 3986 §5.2.4), including `%2e%2e`;
//! - refused: an encoded `/` or `\`, a raw `\`, a double encoding (`%25`
//!   followed by two hex digits), a malformed escape, control characters and
//!   NUL (raw or encoded), bytes that are not UTF-8 (overlong forms included),
//!   a dot segment carrying `;` parameters (`..;`), a segment of dots only or
//!   ending in a dot or a space, and look-alike dots (U+FF0E, U+2024, U+FE52)
//!   forming a dot segment.
//!
//! Empty segments (`//`) are kept, not merged: merging changes the meaning for
//! upstreams that do not merge. Whether a path with them is acceptable is the
//! caller's decision (a route may allow them), hence [`Canonical::has_empty_segments`].
//!
//! Not here: case folding (a route's choice, see `proxy::route`) and the
//! query string (passed on as received; hyper has already checked its bytes).

use std::fmt;

/// Why a path cannot be made unambiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRefusal {
    NotAbsolute,
    EncodedSlash,
    Backslash,
    DoubleEncoded,
    MalformedEscape,
    ControlCharacter,
    NotUtf8,
    DotWithParameters,
    AmbiguousDots,
    EmptySegment,
    TooLong,
    /// Read with `;params` dropped or case folded, the path would be routed
    /// or judged public differently (see `proxy::route::readings_agree`).
    ReadsDifferently,
}

impl PathRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            PathRefusal::NotAbsolute => "the path does not start with /",
            PathRefusal::EncodedSlash => "an encoded / or \\ in the path",
            PathRefusal::Backslash => "a backslash in the path",
            PathRefusal::DoubleEncoded => "a double percent-encoding in the path",
            PathRefusal::MalformedEscape => "a malformed percent-escape in the path",
            PathRefusal::ControlCharacter => "a control character in the path",
            PathRefusal::NotUtf8 => "path bytes that are not UTF-8",
            PathRefusal::DotWithParameters => "a dot segment with ;parameters",
            PathRefusal::AmbiguousDots => {
                "a segment of dots only, ending in a dot or space, or with look-alike dots"
            }
            PathRefusal::EmptySegment => "an empty path segment (//)",
            PathRefusal::TooLong => "a path longer than 8 KiB",
            PathRefusal::ReadsDifferently => {
                "a path that routes differently with its ;params dropped or its case folded"
            }
        }
    }
}

impl fmt::Display for PathRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest path accepted, bytes (hyper's own limit on the request line is larger).
pub const MAX_LEN: usize = 8192;

/// A canonical path: starts with `/`, printable ASCII only, no dot segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    path: String,
    empty_segments: bool,
}

impl Canonical {
    pub fn as_str(&self) -> &str {
        &self.path
    }

    /// Whether the path has a `//` (an empty segment other than a trailing one).
    pub fn has_empty_segments(&self) -> bool {
        self.empty_segments
    }

    pub fn into_string(self) -> String {
        self.path
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// `pchar` less `%` (RFC 3986 §3.3): passed as is.
fn is_plain(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn push_escaped(out: &mut String, b: u8) {
    let digit = |n: u8| char::from_digit(u32::from(n), 16).map_or('0', |c| c.to_ascii_uppercase());
    out.push('%');
    out.push(digit(b >> 4));
    out.push(digit(b & 15));
}

/// One segment: its canonical spelling and what it decodes to.
struct Segment {
    text: String,
    dot: Dot,
}

#[derive(PartialEq)]
enum Dot {
    None,
    One,
    Two,
}

fn segment(raw: &[u8]) -> Result<Segment, PathRefusal> {
    let mut text = String::with_capacity(raw.len());
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'%' {
            let (Some(hi), Some(lo)) = (
                raw.get(i + 1).copied().and_then(hex),
                raw.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(PathRefusal::MalformedEscape);
            };
            let v = hi << 4 | lo;
            match v {
                b'/' | b'\\' => return Err(PathRefusal::EncodedSlash),
                0..=0x1f | 0x7f => return Err(PathRefusal::ControlCharacter),
                b'%' if raw.get(i + 3).copied().and_then(hex).is_some()
                    && raw.get(i + 4).copied().and_then(hex).is_some() =>
                {
                    return Err(PathRefusal::DoubleEncoded)
                }
                v if is_unreserved(v) => text.push(char::from(v)),
                v => push_escaped(&mut text, v),
            }
            decoded.push(v);
            i += 3;
            continue;
        }
        match b {
            b'\\' => return Err(PathRefusal::Backslash),
            0..=0x1f | 0x7f => return Err(PathRefusal::ControlCharacter),
            b if is_plain(b) => text.push(char::from(b)),
            b => push_escaped(&mut text, b),
        }
        decoded.push(b);
        i += 1;
    }
    // Checked on the result too: `%25%32%65` spells `%2e` once decoded.
    let t = text.as_bytes();
    if t.windows(5)
        .any(|w| matches!(w, [b'%', b'2', b'5', a, b] if hex(*a).is_some() && hex(*b).is_some()))
    {
        return Err(PathRefusal::DoubleEncoded);
    }
    let decoded = String::from_utf8(decoded).map_err(|_| PathRefusal::NotUtf8)?;
    let dot = match decoded.as_str() {
        "." => Dot::One,
        ".." => Dot::Two,
        _ => Dot::None,
    };
    if dot == Dot::None {
        // What a server that drops `;params` (Tomcat, Jetty) and folds
        // look-alike dots would make of the segment.
        let folded: String = decoded
            .chars()
            .map(|c| match c {
                '\u{FF0E}' | '\u{2024}' | '\u{FE52}' => '.',
                c => c,
            })
            .collect();
        let name = folded.split(';').next().unwrap_or_default();
        if name == "." || name == ".." {
            return Err(if decoded.contains(';') {
                PathRefusal::DotWithParameters
            } else {
                PathRefusal::AmbiguousDots
            });
        }
        let trailing = |s: &str| s.ends_with('.') || s.ends_with(' ');
        if (!name.is_empty() && (name.chars().all(|c| c == '.') || trailing(name)))
            || trailing(&decoded)
        {
            return Err(PathRefusal::AmbiguousDots);
        }
    }
    Ok(Segment { text, dot })
}

/// The canonical form of `raw` (a request path without its query), or why
/// there is none.
pub fn canonical(raw: &str) -> Result<Canonical, PathRefusal> {
    canonical_bytes(raw.as_bytes())
}

/// As [`canonical`], for bytes that may not be UTF-8.
pub fn canonical_bytes(raw: &[u8]) -> Result<Canonical, PathRefusal> {
    if raw.len() > MAX_LEN {
        return Err(PathRefusal::TooLong);
    }
    let Some(rest) = raw.strip_prefix(b"/") else {
        return Err(PathRefusal::NotAbsolute);
    };
    // Most paths are canonical already: plain characters, no escapes, and no
    // dot at the end of a segment or before `;` (which covers `.` and `..`).
    let plain = raw.iter().enumerate().all(|(i, &b)| {
        (is_plain(b) || b == b'/')
            && (b != b'.' || !matches!(raw.get(i + 1), None | Some(b'/' | b';')))
    });
    if plain {
        let path = String::from_utf8_lossy(raw).into_owned();
        let empty_segments = path.contains("//");
        return Ok(Canonical {
            path,
            empty_segments,
        });
    }
    let parts: Vec<&[u8]> = rest.split(|b| *b == b'/').collect();
    let last = parts.len().saturating_sub(1);
    let mut out: Vec<String> = Vec::with_capacity(parts.len());
    // Judged on the input: `/a/b//../c` is `/a/b/c` by RFC 3986 but `/a/c`
    // for a reader that merges `//` first (Python's normpath, nginx), so a
    // path that had `//` is decided on only where the route consents.
    let mut empty_segments = false;
    for (i, raw_seg) in parts.into_iter().enumerate() {
        empty_segments |= raw_seg.is_empty() && i != last;
        let s = segment(raw_seg)?;
        match s.dot {
            Dot::One => {}
            Dot::Two => {
                out.pop();
            }
            Dot::None => {
                out.push(s.text);
                continue;
            }
        }
        // A dot segment at the end leaves the path ending in `/`.
        if i == last {
            out.push(String::new());
        }
    }
    let mut path = String::with_capacity(rest.len() + 1);
    path.push('/');
    path.push_str(&out.join("/"));
    Ok(Canonical {
        path,
        empty_segments,
    })
}

/// `path` with each segment's `;params` dropped: what Tomcat, Jetty and
/// Spring route on. A decision must come out the same for this form.
pub fn without_params(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.contains(';') {
        return path.into();
    }
    path.split('/')
        .map(|seg| seg.split(';').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("/")
        .into()
}

/// `path` if a browser reading it as a link stays on this origin (one leading
/// `/`, no `\`, printable ASCII), else `/`. For links built from a request.
pub fn same_origin(path: &str) -> &str {
    let b = path.as_bytes();
    let ok = b.first() == Some(&b'/')
        && b.get(1) != Some(&b'/')
        && b.iter().all(|c| (0x21..=0x7e).contains(c) && *c != b'\\');
    if ok {
        path
    } else {
        "/"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(p: &str) -> Result<String, PathRefusal> {
        canonical(p).map(Canonical::into_string)
    }

    #[test]
    fn dot_segments_are_removed_in_every_spelling() {
        for (raw, want) in [
            ("/app/public/../private.txt", "/app/private.txt"),
            ("/app/public/%2e%2e/private.txt", "/app/private.txt"),
            ("/app/public/%2E%2e/private.txt", "/app/private.txt"),
            ("/app/public/.%2E/private.txt", "/app/private.txt"),
            ("/app/./x", "/app/x"),
            ("/app/%2e/x", "/app/x"),
            ("/a/b/..", "/a/"),
            ("/a/b/.", "/a/b/"),
            ("/..", "/"),
            ("/../../etc/passwd", "/etc/passwd"),
            ("/", "/"),
            ("/app/", "/app/"),
        ] {
            assert_eq!(c(raw), Ok(want.into()), "{raw}");
        }
    }

    #[test]
    fn escapes_are_normalised() {
        assert_eq!(c("/%61pp/%7e%2D"), Ok("/app/~-".into()));
        assert_eq!(c("/a%c3%a9"), Ok("/a%C3%A9".into()));
        assert_eq!(c("/a%20b"), Ok("/a%20b".into()));
        assert_eq!(c("/100%25"), Ok("/100%25".into()));
        assert_eq!(c("/a;b=c/d@e:f"), Ok("/a;b=c/d@e:f".into()));
        assert_eq!(
            canonical_bytes(b"/a\"<>^`{|}").map(Canonical::into_string),
            Ok("/a%22%3C%3E%5E%60%7B%7C%7D".into())
        );
        assert_eq!(
            canonical_bytes("/홍".as_bytes()).map(Canonical::into_string),
            Ok("/%ED%99%8D".into())
        );
    }

    #[test]
    fn ambiguous_paths_are_refused() {
        use PathRefusal::*;
        for (raw, why) in [
            ("app", NotAbsolute),
            ("/app/%2f..", EncodedSlash),
            ("/app/%2F", EncodedSlash),
            ("/app/%5c..", EncodedSlash),
            ("/app\\..\\x", Backslash),
            ("/app/%252e%252e/x", DoubleEncoded),
            ("/app/%25%32%65", DoubleEncoded),
            ("/app/%25%32e", DoubleEncoded),
            ("/app/%2", MalformedEscape),
            ("/app/%zz", MalformedEscape),
            ("/app/%00", ControlCharacter),
            ("/app/%0a", ControlCharacter),
            ("/app/%c0%ae%c0%ae/x", NotUtf8),
            ("/app/%e0%80%ae/x", NotUtf8),
            ("/app/%ff", NotUtf8),
            ("/app/public/..;/private", DotWithParameters),
            ("/app/public/.;x/private", DotWithParameters),
            ("/app/...", AmbiguousDots),
            ("/app/private.", AmbiguousDots),
            ("/app/private%20", AmbiguousDots),
            ("/app/%ef%bc%8e%ef%bc%8e/x", AmbiguousDots),
            ("/app/admin.;x/s", AmbiguousDots),
            ("/app/admin%20;x/s", AmbiguousDots),
            ("/app/%ef%bc%8e%ef%bc%8e;x/s", DotWithParameters),
        ] {
            assert_eq!(c(raw), Err(why), "{raw}");
        }
        // A segment that starts with `;` is the same on the fast and slow paths.
        assert_eq!(c("/app/;x"), Ok("/app/;x".into()));
        assert_eq!(c("/app/;x%41"), Ok("/app/;xA".into()));
        // A lone `%25` is a percent sign.
        assert_eq!(c("/app/%25x"), Ok("/app/%25x".into()));
    }

    #[test]
    fn empty_segments_are_kept_and_reported() {
        let p = canonical("/app//x").unwrap();
        assert_eq!(p.as_str(), "/app//x");
        assert!(p.has_empty_segments());
        let p = canonical("//evil.example/").unwrap();
        assert!(p.has_empty_segments());
        assert!(!canonical("/app/").unwrap().has_empty_segments());
        assert!(canonical("/a/..//x").unwrap().has_empty_segments());
        // Merged-then-resolved, `/app/public//../x` is `/app/x`; by RFC 3986
        // it is `/app/public/x`: the input's `//` is what counts.
        assert!(canonical("/app/public//../x").unwrap().has_empty_segments());
    }

    #[test]
    fn params_are_dropped_per_segment() {
        assert_eq!(without_params("/app/admin;x/secret"), "/app/admin/secret");
        assert_eq!(without_params("/app;x/;y/s"), "/app//s");
        assert_eq!(without_params("/plain/path"), "/plain/path");
    }

    #[test]
    fn links_stay_on_the_origin() {
        assert_eq!(same_origin("/app/x"), "/app/x");
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "",
            "evil",
            "/a b",
            "/\u{1}",
        ] {
            assert_eq!(same_origin(bad), "/", "{bad}");
        }
    }

    /// What an upstream that decodes and then resolves dot segments (as
    /// `python3 -m http.server` does) makes of a path.
    pub(crate) fn decode_then_resolve(p: &str) -> String {
        let decoded = percent_decode(p);
        let mut out: Vec<&str> = Vec::new();
        let segs: Vec<&str> = decoded[1..].split('/').collect();
        let last = segs.len() - 1;
        for (i, s) in segs.iter().enumerate() {
            match *s {
                "." | ".." => {
                    if *s == ".." {
                        out.pop();
                    }
                    if i == last {
                        out.push("");
                    }
                }
                s => out.push(s),
            }
        }
        format!("/{}", out.join("/"))
    }

    fn percent_decode(p: &str) -> String {
        let b = p.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    proptest! {
        #[test]
        fn canonical_is_a_fixed_point_for_every_reader(
            raw in prop_oneof![
                "(/|/\\.|/\\.\\.|\\.|%2e|/%2E%2e|/app|/public|/%2f|%25|%32|%35|%65|/;|;|/x;y|/%c0%ae|/%ef%bc%8e|/\\\\|/ |/%00|/~|/%41|e|2){0,10}",
                "/[ -~]{0,30}",
            ],
        ) {
            if let Ok(p) = canonical(&raw) {
                let s = p.as_str();
                // Idempotent.
                prop_assert_eq!(canonical(s).map(Canonical::into_string), Ok(s.to_owned()));
                // No dot segment, in any spelling a reader may decode.
                prop_assert!(!s.split('/').any(|seg| {
                    let once = percent_decode(seg);
                    let twice = percent_decode(&once);
                    [once, twice].iter().any(|d| d == "." || d == ".." || d.contains('/'))
                }), "{}", s);
                // An upstream that decodes and resolves sees the same resource.
                prop_assert_eq!(decode_then_resolve(s), percent_decode(s));
                // A WHATWG URL parser (browsers, many frameworks) keeps it as
                // is (`//x` would be another host to it: callers refuse those).
                prop_assume!(!s.starts_with("//"));
                let u = url::Url::parse("http://h.example").unwrap().join(s).unwrap();
                prop_assert_eq!(u.path(), s);
            }
        }
    }
}
