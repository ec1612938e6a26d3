//! Is the citizen's browser on a phone, and which kind?
//!
//! App-to-app only helps when the browser runs on the phone that holds the
//! provider's app; on a desktop the push is the only way. The answer comes
//! from the request's `User-Agent` (and the `Sec-CH-UA-*` hints where a
//! browser sends them) and only preselects the identity form's choice: the
//! citizen can always pick the other, so a wrong guess costs one tap, never
//! a login. Tablets count as phones when their OS runs the providers' apps.

use http::HeaderMap;
use munjigi_providers::PhoneOs;

/// The phone OS the browser says it runs on, if it says it is a phone.
pub fn detect(headers: &HeaderMap) -> Option<PhoneOs> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-ch-ua-mobile") == Some("?1") {
        match header("sec-ch-ua-platform").map(|p| p.trim_matches('"')) {
            Some("Android") => return Some(PhoneOs::Android),
            Some("iOS") => return Some(PhoneOs::Ios),
            _ => {}
        }
    }
    let ua = header("user-agent")?;
    if ["iPhone", "iPad", "iPod"].iter().any(|d| ua.contains(d)) {
        Some(PhoneOs::Ios)
    } else if ua.contains("Android") {
        Some(PhoneOs::Android)
    } else {
        None
    }
}

/// The OS to name when the citizen chose app-to-app on a browser that did
/// not say: iPadOS presents itself as a Mac, anything else is taken for
/// Android (the providers need one of the two).
pub fn assume(headers: &HeaderMap) -> PhoneOs {
    detect(headers).unwrap_or_else(|| {
        let mac = headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ua| ua.contains("Macintosh"));
        if mac {
            PhoneOs::Ios
        } else {
            PhoneOs::Android
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ua(s: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "user-agent",
            s.parse()
                .unwrap_or_else(|_| http::HeaderValue::from_static("")),
        );
        h
    }

    #[test]
    fn phones_are_told_from_desktops() {
        let android = "Mozilla/5.0 (Linux; Android 14; SM-S928N) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36";
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        let naver_inapp = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 NAVER(inapp; search; 2000; 12.6.5)";
        let windows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
        let ipad_desktop = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
        assert_eq!(detect(&ua(android)), Some(PhoneOs::Android));
        assert_eq!(detect(&ua(iphone)), Some(PhoneOs::Ios));
        assert_eq!(detect(&ua(naver_inapp)), Some(PhoneOs::Ios));
        assert_eq!(detect(&ua(windows)), None);
        assert_eq!(detect(&ua(ipad_desktop)), None);
        assert_eq!(detect(&HeaderMap::new()), None);
        assert_eq!(assume(&ua(ipad_desktop)), PhoneOs::Ios);
        assert_eq!(assume(&ua(windows)), PhoneOs::Android);
    }

    #[test]
    fn client_hints_win_when_they_say_mobile() {
        let mut h = ua("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36");
        h.insert("sec-ch-ua-mobile", http::HeaderValue::from_static("?1"));
        h.insert(
            "sec-ch-ua-platform",
            http::HeaderValue::from_static("\"Android\""),
        );
        assert_eq!(detect(&h), Some(PhoneOs::Android));
        h.insert("sec-ch-ua-mobile", http::HeaderValue::from_static("?0"));
        h.insert(
            "user-agent",
            http::HeaderValue::from_static("Mozilla/5.0 (X11; Linux x86_64)"),
        );
        assert_eq!(detect(&h), None);
    }
}
