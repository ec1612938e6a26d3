//! The path canonicaliser (`munjigi::web::path`) against what upstreams do
//! with a path. For every input it accepts, the canonical form must be:
//! idempotent; free of dot segments however many times a reader decodes it;
//! a fixed point for a reader that decodes and then resolves `..` (Python's
//! http.server, many frameworks), for one that merges `//` first (nginx),
//! and for a WHATWG URL parser (browsers). Any panic is a finding too.

#![no_main]

use libfuzzer_sys::fuzz_target;
use munjigi::web::path::{canonical, canonical_bytes};

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn percent_decode(p: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len());
    let mut i = 0;
    while i < p.len() {
        if p[i] == b'%' && i + 2 < p.len() {
            if let (Some(h), Some(l)) = (hex(p[i + 1]), hex(p[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(p[i]);
        i += 1;
    }
    out
}

/// RFC 3986 §5.2.4 on `/`-separated bytes; `merge` first collapses `//`.
fn resolve(p: &[u8], merge: bool) -> Vec<u8> {
    let segs: Vec<&[u8]> = p[1..].split(|b| *b == b'/').collect();
    let last = segs.len() - 1;
    let mut out: Vec<&[u8]> = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        if merge && s.is_empty() && i != last {
            continue;
        }
        match *s {
            b"." | b".." => {
                if *s == b".." {
                    out.pop();
                }
                if i == last {
                    out.push(b"");
                }
            }
            s => out.push(s),
        }
    }
    let mut r = vec![b'/'];
    r.extend(out.join(&b'/'));
    r
}

fuzz_target!(|data: &[u8]| {
    let Ok(c) = canonical_bytes(data) else {
        return;
    };
    let s = c.as_str();
    assert!(s.starts_with('/'));
    assert!(
        s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'\\'),
        "{s}"
    );
    assert_eq!(
        canonical(s).map(|c| c.into_string()).as_deref(),
        Ok(s),
        "idempotent"
    );
    for seg in s.split('/') {
        let once = percent_decode(seg.as_bytes());
        let twice = percent_decode(&once);
        for d in [&once, &twice] {
            assert!(
                d.as_slice() != b"." && d.as_slice() != b"..",
                "dot segment in {s}"
            );
            assert!(
                !d.contains(&b'/') && !d.contains(&b'\\'),
                "separator in a segment of {s}"
            );
        }
    }
    let decoded = percent_decode(s.as_bytes());
    assert_eq!(
        resolve(&decoded, false),
        decoded,
        "decode-then-resolve moves {s}"
    );
    if !c.has_empty_segments() {
        assert_eq!(
            resolve(&decoded, true),
            decoded,
            "merge-then-resolve moves {s}"
        );
        let u = url::Url::parse("http://h.example")
            .unwrap()
            .join(s)
            .unwrap();
        assert_eq!(u.path(), s, "a WHATWG parser moves {s}");
    }
});
