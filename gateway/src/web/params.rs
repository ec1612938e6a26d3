//! Query strings and form bodies, parsed strictly.
//!
//! OAuth 2.0 says a parameter must not appear twice (RFC 6749 §3.1); silently taking
//! the first or last copy is how parameter-pollution bugs start, so a repeat is an
//! error here. Sizes are capped before parsing.

use std::collections::HashMap;

/// Longest query or form we parse, and longest single value.
pub const MAX_PARAMS_LEN: usize = 16 * 1024;
pub const MAX_VALUE_LEN: usize = 4 * 1024;
/// Longest parameter name, and most parameters in one query or form: no
/// endpoint takes more than a few dozen, and a name is echoed in errors.
pub const MAX_KEY_LEN: usize = 64;
pub const MAX_FIELDS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("parameter `{0}` appears more than once")]
    Repeated(String),
    #[error("parameter `{0}` is missing")]
    Missing(&'static str),
    #[error("parameter `{0}` is too long")]
    TooLong(String),
    #[error("parameters too long")]
    TooLarge,
    #[error("parameter `{0}` is empty")]
    Empty(&'static str),
}

#[derive(Debug, Default, Clone)]
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(raw: &[u8]) -> Result<Self, ParamError> {
        if raw.len() > MAX_PARAMS_LEN {
            return Err(ParamError::TooLarge);
        }
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(raw) {
            if k.len() > MAX_KEY_LEN || map.len() >= MAX_FIELDS {
                return Err(ParamError::TooLarge);
            }
            if v.len() > MAX_VALUE_LEN {
                return Err(ParamError::TooLong(k.into_owned()));
            }
            let k = k.into_owned();
            if map.contains_key(&k) {
                return Err(ParamError::Repeated(k));
            }
            map.insert(k, v.into_owned());
        }
        Ok(Self(map))
    }

    /// As [`Params::parse`], but a repeated parameter is dropped (none of its
    /// values is kept) and named instead of failing the whole parse: for an
    /// endpoint that must first learn where to send the error
    /// (`/authorize`: the client and its redirect URI).
    pub fn parse_noting_repeats(raw: &[u8]) -> Result<(Self, Vec<String>), ParamError> {
        if raw.len() > MAX_PARAMS_LEN {
            return Err(ParamError::TooLarge);
        }
        let mut map: HashMap<String, String> = HashMap::new();
        let mut repeated: Vec<String> = Vec::new();
        for (k, v) in form_urlencoded::parse(raw) {
            if k.len() > MAX_KEY_LEN || map.len() + repeated.len() >= MAX_FIELDS {
                return Err(ParamError::TooLarge);
            }
            if v.len() > MAX_VALUE_LEN {
                return Err(ParamError::TooLong(k.into_owned()));
            }
            let k = k.into_owned();
            if map.remove(&k).is_some() || repeated.contains(&k) {
                if !repeated.contains(&k) {
                    repeated.push(k);
                }
                continue;
            }
            map.insert(k, v.into_owned());
        }
        Ok((Self(map), repeated))
    }

    pub fn from_query(uri: &http::Uri) -> Result<Self, ParamError> {
        Self::parse(uri.query().unwrap_or_default().as_bytes())
    }

    /// The value, treating an empty value as absent (RFC 6749 §3.1).
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn required(&self, k: &'static str) -> Result<&str, ParamError> {
        match self.0.get(k) {
            None => Err(ParamError::Missing(k)),
            Some(v) if v.is_empty() => Err(ParamError::Empty(k)),
            Some(v) => Ok(v),
        }
    }
}

/// `application/x-www-form-urlencoded` encoding of pairs.
pub fn encode(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Appends parameters to a URL that may already have a query.
pub fn append_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", encode(pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_can_be_noted_and_dropped() {
        let (p, r) = Params::parse_noting_repeats(b"a=1&b=2&a=3&c=4&a=5&b=6").unwrap();
        assert_eq!(
            (p.get("a"), p.get("b"), p.get("c")),
            (None, None, Some("4"))
        );
        assert_eq!(r, vec!["a".to_owned(), "b".to_owned()]);
        let (p, r) = Params::parse_noting_repeats(b"a=1").unwrap();
        assert_eq!((p.get("a"), r.len()), (Some("1"), 0));
        let many: String = (0..=MAX_FIELDS).map(|_| "a=1&").collect();
        assert!(Params::parse_noting_repeats(many.as_bytes()).is_ok());
        let many: String = (0..=MAX_FIELDS).map(|i| format!("k{i}=1&")).collect();
        assert_eq!(
            Params::parse_noting_repeats(many.as_bytes()).unwrap_err(),
            ParamError::TooLarge
        );
    }

    #[test]
    fn repeats_are_refused() {
        assert_eq!(
            Params::parse(b"a=1&a=2").unwrap_err(),
            ParamError::Repeated("a".into())
        );
        let p = Params::parse(b"a=1&b=&c=%ED%95%9C").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.required("b"), Err(ParamError::Empty("b")));
        assert_eq!(p.get("c"), Some("한"));
        assert!(Params::parse(&vec![b'a'; MAX_PARAMS_LEN + 1]).is_err());
    }

    #[test]
    fn append_keeps_existing_query() {
        assert_eq!(
            append_query("https://a/cb", &[("code", "x y")]),
            "https://a/cb?code=x+y"
        );
        assert_eq!(
            append_query("https://a/cb?s=1", &[("k", "&")]),
            "https://a/cb?s=1&k=%26"
        );
    }
}
