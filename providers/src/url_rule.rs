//! The one rule for every URL the config names, whether the gateway calls it
//! (provider endpoints of every family, a declarative `base_url`, CRL URLs,
//! webhooks, the OTLP endpoint) or sends a browser to it (redirect and logout
//! URIs, SAML endpoints): `https://`, or plain `http://` only to loopback.
//!
//! Why one rule, on a real parser, with a canonical host: a decision taken on
//! the text of a URL is taken on what a reader sees, while the request goes
//! where a parser sends it, and parsers disagree. `http://localhost:1@evil.example/`
//! goes to evil.example; `http://2130706433/`, `http://0x7f.1/` and
//! `http://0177.0.0.1/` are 127.0.0.1 to a WHATWG parser and to `inet_aton`;
//! `http://evil.example#@127.0.0.1/` goes to evil.example; a WHATWG parser
//! reads `\` as `/` and drops tabs, others do not. So the URL is parsed as a
//! browser parses it (WHATWG, the `url` crate), and the host as written must
//! be exactly the host that parser decided (ASCII case aside): an IPv4
//! address in dotted decimal, an IPv6 address compressed in brackets, a
//! lower-case ASCII (punycode) name; a port in plain decimal. Then hyper's
//! `Uri`, the resolver and a browser all read the host this check read, and
//! loopback is decided once on it: an IP literal in 127.0.0.0/8, `[::1]` or
//! IPv4-mapped loopback, or the name `localhost` exactly (never a name that
//! merely starts with it, such as `localhost.evil.example` or
//! `127.0.0.1.nip.io`). Userinfo (`user:password@`) is refused outright: no
//! credentials belong in the config's URLs, and it is the classic way to
//! smuggle a host past a reader. Fragments are refused too (no URL the
//! gateway calls or redirects to has a use for one).
//!
//! Not here: what one kind of URL adds (a provider endpoint has no query and
//! sometimes no path: [`crate::http_client::endpoint`]), or DNS: a name other
//! than `localhost` is never loopback, whatever it resolves to.

use url::{Host, Url};

/// Where plain `http://` is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainHttp {
    /// Only to a loopback host: every real deployment.
    LoopbackOnly,
    /// To any host: the demo's `allow_plain_http`, simulators, tests.
    Anywhere,
}

/// A URL that passed the rule: parsed once, its host canonical.
#[derive(Debug, Clone)]
pub struct CheckedUrl {
    url: Url,
    loopback: bool,
}

impl CheckedUrl {
    /// The parsed URL (its host is the one written).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Whether it is plain `http://`.
    pub fn is_plain(&self) -> bool {
        self.url.scheme() == "http"
    }

    /// Whether its host is loopback (an IP literal or `localhost`).
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }
}

/// Checks `v` against the rule; the error is a complete sentence naming `v`.
pub fn check(v: &str, plain: PlainHttp) -> Result<CheckedUrl, String> {
    let (https, rest) = if let Some(rest) = v.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = v.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(format!("`{v}` must be an absolute https:// URL"));
    };
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{v}` contains whitespace or a control character"));
    }
    if v.contains('\\') {
        return Err(format!("`{v}` contains a backslash"));
    }
    // A WHATWG parser skips extra slashes (`https:///x` is host `x`); the text
    // must name its host where a reader of the config expects it.
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(format!("`{v}` has no host"));
    }
    if authority.contains('@') {
        return Err(format!(
            "`{v}` must not carry user:password@ (userinfo); name the host alone"
        ));
    }
    let url = Url::parse(v).map_err(|e| format!("`{v}` is not a valid URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{v}` must not carry user:password@ (userinfo); name the host alone"
        ));
    }
    let Some(host) = url.host() else {
        return Err(format!("`{v}` has no host"));
    };
    let canonical = url.host_str().unwrap_or_default();
    let (host_text, port_text) = split_authority(authority);
    if !host_text.eq_ignore_ascii_case(canonical) {
        return Err(format!(
            "`{v}` spells its host `{host_text}`, which URL parsers read as `{canonical}`; write `{canonical}`"
        ));
    }
    if let Some(p) = port_text {
        let plain_decimal = !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && (p.len() == 1 || !p.starts_with('0'));
        if !plain_decimal || p.parse::<u16>().ok() != url.port_or_known_default() || p == "0" {
            return Err(format!(
                "`{v}` has the port `{p}`; write a port in plain decimal (1 to 65535)"
            ));
        }
    }
    let loopback = is_loopback(&host);
    if !https && !loopback && plain == PlainHttp::LoopbackOnly {
        return Err(format!(
            "`{v}` uses http:// on a non-loopback host; use https://"
        ));
    }
    if v.contains('#') {
        return Err(format!("`{v}` must not contain a fragment (#)"));
    }
    Ok(CheckedUrl { url, loopback })
}

/// `host` and the port text, if any, of an authority without userinfo.
fn split_authority(a: &str) -> (&str, Option<&str>) {
    match a.rfind(':') {
        // `[::1]` has colons inside its brackets, none after them.
        Some(i) if !a.get(i..).unwrap_or_default().contains(']') => (
            a.get(..i).unwrap_or_default(),
            Some(a.get(i + 1..).unwrap_or_default()),
        ),
        _ => (a, None),
    }
}

/// The loopback rule on a parsed host (see the module docs).
fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Ipv4(a) => a.is_loopback(),
        Host::Ipv6(a) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        Host::Domain(d) => *d == "localhost",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_http_on_loopback_literals_or_localhost() {
        for ok in [
            "https://provider.example",
            "https://provider.example/v1/",
            "https://provider.example:8443/v1?x=1",
            "https://PROVIDER.example/",
            "https://xn--bcher-kva.example/",
            "https://203.0.113.7/",
            "https://[2001:db8::1]:443/",
            "http://127.0.0.1:8081/bank/kb",
            "http://127.9.9.9/",
            "http://localhost/",
            "http://LOCALHOST:9/cb",
            "http://[::1]:9/",
            "http://[::ffff:7f00:1]/",
        ] {
            assert!(check(ok, PlainHttp::LoopbackOnly).is_ok(), "{ok}");
        }
        assert!(check("http://127.0.0.1/", PlainHttp::LoopbackOnly)
            .unwrap()
            .is_loopback());
        assert!(!check("https://x.example/", PlainHttp::LoopbackOnly)
            .unwrap()
            .is_loopback());
        // The demo's allow_plain_http: plain http anywhere, nothing else relaxed.
        assert!(check("http://sim.internal:8081/", PlainHttp::Anywhere).is_ok());
        assert!(check("http://u@sim.internal/", PlainHttp::Anywhere).is_err());
        assert!(check("http://0x7f.1/", PlainHttp::Anywhere).is_err());
    }

    #[test]
    fn hostile_spellings_are_refused_with_the_reason() {
        for (bad, why) in [
            ("http://localhost:1@evil.example/", "userinfo"),
            ("http://localhost@evil.example/", "userinfo"),
            ("https://user:pass@provider.example/", "userinfo"),
            ("http://@127.0.0.1/", "userinfo"),
            ("http://evil.example#@127.0.0.1/", "non-loopback"),
            ("http://evil.example?@127.0.0.1/", "non-loopback"),
            ("http://localhost.evil.example/", "non-loopback"),
            ("http://127.0.0.1.nip.io/", "non-loopback"),
            ("http://localhost./", "non-loopback"),
            ("http://[::ffff:a00:1]/", "non-loopback"),
            ("http://[::2]/", "non-loopback"),
            ("http://0.0.0.0/", "non-loopback"),
            ("http://2130706433/", "`127.0.0.1`"),
            ("http://0x7f.1/", "`127.0.0.1`"),
            ("http://0x7f000001/", "`127.0.0.1`"),
            ("http://0177.0.0.1/", "`127.0.0.1`"),
            ("http://127.1/", "`127.0.0.1`"),
            ("http://127.0.0.01/", "`127.0.0.1`"),
            ("http://127.0.0.1./", "`127.0.0.1`"),
            ("http://%6c%6fcalhost/", "`localhost`"),
            ("http://ｌｏｃａｌｈｏｓｔ/", "`localhost`"),
            ("http://[0:0:0:0:0:0:0:1]/", "`[::1]`"),
            ("http://[::ffff:127.0.0.1]/", "`[::ffff:7f00:1]`"),
            ("https://bücher.example/", "`xn--bcher-kva.example`"),
            ("http://127.0.0.1:08081/", "plain decimal"),
            ("http://127.0.0.1:/", "plain decimal"),
            ("http://127.0.0.1:+80/", "port"),
            ("http://localhost\\@evil.example/", "backslash"),
            ("http://evil.example\\.localhost/", "backslash"),
            ("http://local\thost/", "whitespace"),
            ("http://localhost\n/", "whitespace"),
            ("http://localhost /", "whitespace"),
            ("http://localhost\u{0}/", "control"),
            ("https://provider.example/x#frag", "fragment"),
            ("https:///provider.example", "no host"),
            ("https://", "no host"),
            ("ftp://provider.example/", "absolute https://"),
            ("HTTP://127.0.0.1/", "absolute https://"),
            ("javascript:alert(1)", "absolute https://"),
            ("//provider.example/", "absolute https://"),
        ] {
            let e = check(bad, PlainHttp::LoopbackOnly).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
