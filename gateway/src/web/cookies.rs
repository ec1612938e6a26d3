//! Cookies the gateway sets and reads.
//!
//! Every cookie is `HttpOnly; SameSite=Lax; Path=/`, and over https also `Secure`
//! with the `__Host-` prefix (so no subdomain can plant or widen it). Names are
//! chosen here once so the prefix can never be forgotten at a call site.

use http::HeaderMap;

#[derive(Debug, Clone, Copy)]
pub struct CookieJar {
    pub secure: bool,
}

impl CookieJar {
    pub fn name(&self, base: &str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    /// A `Set-Cookie` value; `max_age` None = session cookie, Some(0) = delete.
    pub fn set(&self, base: &str, value: &str, max_age: Option<u64>) -> String {
        let mut c = format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Lax",
            self.name(base)
        );
        if self.secure {
            c.push_str("; Secure");
        }
        if let Some(age) = max_age {
            c.push_str(&format!("; Max-Age={age}"));
        }
        c
    }

    pub fn clear(&self, base: &str) -> String {
        self.set(base, "", Some(0))
    }

    pub fn get<'h>(&self, headers: &'h HeaderMap, base: &str) -> Option<&'h str> {
        get(headers, &self.name(base))
    }
}

/// The value of the first cookie called `name` across all `Cookie` headers.
pub fn get<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_cookies_use_host_prefix() {
        let j = CookieJar { secure: true };
        let c = j.set("mj_b", "v", None);
        assert_eq!(c, "__Host-mj_b=v; Path=/; HttpOnly; SameSite=Lax; Secure");
        let j = CookieJar { secure: false };
        assert!(!j.set("mj_b", "v", Some(5)).contains("Secure"));
    }

    #[test]
    fn reads_from_any_cookie_header() {
        let mut h = HeaderMap::new();
        h.append("cookie", "a=1; b=2".parse().unwrap());
        h.append("cookie", "c=3".parse().unwrap());
        assert_eq!(get(&h, "b"), Some("2"));
        assert_eq!(get(&h, "c"), Some("3"));
        assert_eq!(get(&h, "d"), None);
    }
}
