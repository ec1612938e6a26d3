//! Every provider answer is read as JSON whose objects name each key once.
//!
//! Why: JSON leaves duplicate keys to the reader, and readers differ (serde's
//! derived structs refuse a repeated field they know, `serde_json::Value`
//! keeps the last, other stacks the first). An answer like
//! `{"ci":"A…","ci":"B…"}` means one person to one reader and another to the
//! next — a log, a proxy, a provider's own tooling — so no family's answer may
//! carry one, at any depth, whether or not the adapter reads that key. This is
//! the one place that decides it: [`crate::http_client::HttpResponse::json`]
//! runs [`unique_keys`] before any family's types see the body, so the typed
//! families and the declarative one (which reads `Value`s by path) refuse
//! alike. Keys are compared after unescaping (`"ci"` and `"\u0063i"` are the
//! same key, as every reader takes them).
//!
//! Not here: what a family expects in an answer (its wire types, or the
//! description's paths), or the size cap (the HTTP client's).

use serde::de::{self, DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;

/// What a duplicate key's error says (see [`is_duplicate`]).
const DUPLICATE: &str = "an object names a key twice";

/// Fails on the first object (at any depth) that names a key twice
/// ([`is_duplicate`]), or on anything that is not one JSON value. The error
/// never quotes the body.
pub fn unique_keys(body: &[u8]) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    Unique.deserialize(&mut de)?;
    de.end()
}

/// Whether `e` (from [`unique_keys`]) is a key named twice.
pub fn is_duplicate(e: &serde_json::Error) -> bool {
    e.classify() == serde_json::error::Category::Data && e.to_string().starts_with(DUPLICATE)
}

/// [`unique_keys`], then the body as `T`.
pub fn from_slice<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    unique_keys(body)?;
    serde_json::from_slice(body)
}

/// Walks one value, keeping nothing but the keys of the object it is in.
struct Unique;

impl<'de> DeserializeSeed<'de> for Unique {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(Unique)
    }
}

impl<'de> Visitor<'de> for Unique {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Unique)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key) {
                return Err(A::Error::custom(DUPLICATE));
            }
            map.next_value_seed(Unique)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_twice_at_any_depth_is_refused_and_nothing_else_is() {
        for ok in [
            r#"{"ci":"a","name":"b"}"#,
            r#"{"a":{"k":1},"b":{"k":2}}"#,
            r#"[{"k":1},{"k":1}]"#,
            r#"{"data":{"person":{"name":"x"}},"name":"y"}"#,
            r#""just a string""#,
            "[]",
            "{}",
        ] {
            assert!(unique_keys(ok.as_bytes()).is_ok(), "{ok}");
        }
        for dup in [
            r#"{"ci":"a","ci":"b"}"#,
            r#"{"ci":"a","ci":"a"}"#,
            r#"{"data":{"person":{"name":"x","name":"y"}}}"#,
            r#"[1,{"k":1,"k":2}]"#,
            r#"{"ci":"a","\u0063i":"b"}"#,
            r#"{"x":[{"a":{"b":0,"b":0}}]}"#,
        ] {
            let e = unique_keys(dup.as_bytes()).unwrap_err();
            assert!(is_duplicate(&e), "{dup}: {e}");
            assert!(!e.to_string().contains("\"a\""), "{e}");
            assert!(from_slice::<serde_json::Value>(dup.as_bytes()).is_err());
        }
        for bad in [r#"{"a":1"#, r#"{"a":1} x"#, "", "nul", "1e400"] {
            let e = unique_keys(bad.as_bytes()).unwrap_err();
            assert!(!is_duplicate(&e), "{bad}: {e}");
        }
    }
}
