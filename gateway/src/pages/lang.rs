//! Which language a page is shown in: Korean by default, English on request.
//!
//! The choice comes, in order, from the `lang` query parameter (the switch link on
//! every page), a cookie the gateway may set from it, then the browser's
//! `Accept-Language`. Not here: setting the cookie, or any language beyond the two
//! the text catalog has.

/// A language the pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ko,
    En,
}

/// Cookie names read by [`Lang::negotiate`] when given a whole `Cookie` header.
const COOKIE_NAMES: [&str; 2] = ["munjigi_lang", "lang"];

impl Lang {
    /// Picks the page language.
    ///
    /// `query` is either the value of the `lang` parameter (`en`) or a whole query
    /// string (`a=1&lang=en`); `cookie` is either the language cookie's value or a
    /// whole `Cookie` header (cookie `munjigi_lang` or `lang`); `accept_language` is
    /// the header as sent (q-values honoured). The first of these that names Korean
    /// or English wins; with none, Korean.
    pub fn negotiate(
        query: Option<&str>,
        cookie: Option<&str>,
        accept_language: Option<&str>,
    ) -> Lang {
        query
            .and_then(from_query)
            .or_else(|| cookie.and_then(from_cookie))
            .or_else(|| accept_language.and_then(from_accept_language))
            .unwrap_or(Lang::Ko)
    }

    /// The BCP 47 code used in `<html lang>` and in `lang=` links.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ko => "ko",
            Lang::En => "en",
        }
    }

    /// `ko`, `en`, or a tag whose primary subtag is one of them (`en-GB`, `ko_KR`).
    fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("ko") {
            Some(Lang::Ko)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }
}

fn from_query(q: &str) -> Option<Lang> {
    if !q.contains('=') {
        return Lang::from_tag(q);
    }
    q.trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| *k == "lang")
        .find_map(|(_, v)| Lang::from_tag(v))
}

fn from_cookie(c: &str) -> Option<Lang> {
    if !c.contains('=') {
        return Lang::from_tag(c);
    }
    c.split(';')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| COOKIE_NAMES.contains(&k.trim()))
        .find_map(|(_, v)| Lang::from_tag(v.trim().trim_matches('"')))
}

/// Highest q wins; the earlier entry wins a tie; `q=0` means "not this one".
fn from_accept_language(h: &str) -> Option<Lang> {
    let mut best: Option<(Lang, f32)> = None;
    for item in h.split(',') {
        let mut parts = item.split(';');
        let Some(lang) = parts.next().and_then(Lang::from_tag) else {
            continue;
        };
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((lang, q));
        }
    }
    best.map(|(l, _)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn korean_by_default() {
        assert_eq!(Lang::negotiate(None, None, None), Lang::Ko);
        assert_eq!(Lang::negotiate(Some(""), Some(""), Some("")), Lang::Ko);
        assert_eq!(
            Lang::negotiate(None, None, Some("fr-FR, de;q=0.5")),
            Lang::Ko
        );
        assert_eq!(Lang::negotiate(None, None, Some("*")), Lang::Ko);
    }

    #[test]
    fn query_beats_cookie_beats_header() {
        assert_eq!(
            Lang::negotiate(Some("en"), Some("ko"), Some("ko")),
            Lang::En
        );
        assert_eq!(
            Lang::negotiate(Some("ko"), Some("en"), Some("en")),
            Lang::Ko
        );
        assert_eq!(Lang::negotiate(None, Some("en"), Some("ko")), Lang::En);
        assert_eq!(
            Lang::negotiate(Some("xx"), Some("en"), Some("ko")),
            Lang::En
        );
        assert_eq!(Lang::negotiate(None, Some("xx"), Some("en-US")), Lang::En);
    }

    #[test]
    fn whole_query_strings_and_cookie_headers() {
        assert_eq!(
            Lang::negotiate(Some("txn=abc&lang=en"), None, None),
            Lang::En
        );
        assert_eq!(Lang::negotiate(Some("?lang=en"), None, None), Lang::En);
        assert_eq!(Lang::negotiate(Some("slang=en"), None, None), Lang::Ko);
        assert_eq!(
            Lang::negotiate(None, Some("sid=1; munjigi_lang=en"), None),
            Lang::En
        );
        assert_eq!(Lang::negotiate(None, Some("lang=\"en\""), None), Lang::En);
        assert_eq!(
            Lang::negotiate(None, Some("other=en"), Some("ko")),
            Lang::Ko
        );
    }

    #[test]
    fn accept_language_honours_q_values() {
        assert_eq!(
            Lang::negotiate(None, None, Some("en-US,en;q=0.9,ko;q=0.8")),
            Lang::En
        );
        assert_eq!(
            Lang::negotiate(None, None, Some("ko-KR,ko;q=0.9,en;q=0.8")),
            Lang::Ko
        );
        assert_eq!(
            Lang::negotiate(None, None, Some("en;q=0.5, ko;q=0.7")),
            Lang::Ko
        );
        assert_eq!(Lang::negotiate(None, None, Some("fr, en;q=0.1")), Lang::En);
        assert_eq!(
            Lang::negotiate(None, None, Some("en;q=0, ko;q=0.1")),
            Lang::Ko
        );
        assert_eq!(Lang::negotiate(None, None, Some("en;q=0")), Lang::Ko);
        assert_eq!(Lang::negotiate(None, None, Some("EN-gb")), Lang::En);
    }

    #[test]
    fn codes() {
        assert_eq!(Lang::Ko.code(), "ko");
        assert_eq!(Lang::En.code(), "en");
    }
}
