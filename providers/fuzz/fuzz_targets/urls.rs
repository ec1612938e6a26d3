//! Any text as a URL in the config, through the one URL rule
//! (`munjigi_providers::url_rule`): it never panics, and whatever it accepts
//! every other reader takes to the same host. Where hyper's `http::Uri` also
//! parses the text (it sends the requests), its host is the rule's host
//! (ASCII case aside) and carries no userinfo; a plain-http URL accepted
//! outside the demo is loopback to the rule and to `is_loopback_host` on
//! hyper's host; and a provider endpoint built from it (`endpoint`) parses to
//! the same host again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use munjigi_providers::http_client::{endpoint, is_loopback_host};
use munjigi_providers::url_rule::{check, PlainHttp};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for plain in [PlainHttp::LoopbackOnly, PlainHttp::Anywhere] {
        let Ok(checked) = check(text, plain) else {
            continue;
        };
        let host = checked.url().host_str().expect("an accepted URL has a host");
        if plain == PlainHttp::LoopbackOnly && checked.is_plain() {
            assert!(checked.is_loopback(), "{text:?}");
        }
        if let Ok(uri) = text.parse::<http::Uri>() {
            let theirs = uri.host().expect("hyper finds a host");
            assert!(theirs.eq_ignore_ascii_case(host), "{text:?}: {theirs} vs {host}");
            let authority = uri.authority().expect("an authority").as_str();
            assert!(!authority.contains('@'), "{text:?}");
            if plain == PlainHttp::LoopbackOnly && checked.is_plain() {
                assert!(is_loopback_host(theirs), "{text:?}");
            }
        }
        let allow = plain == PlainHttp::Anywhere;
        if let Ok((base, _)) = endpoint(text, "fuzz", allow, true) {
            if let Ok(uri) = base.parse::<http::Uri>() {
                let theirs = uri.host().expect("hyper finds a host");
                assert!(theirs.eq_ignore_ascii_case(host), "{text:?}: {base}");
            }
        }
    }
});
