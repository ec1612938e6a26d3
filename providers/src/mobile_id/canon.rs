//! The one JSON form that mobile-ID signatures cover.
//!
//! The specification does not say what bytes are signed. The reference SP's
//! published test material settles it (every logged profile, presentation
//! and credential signature verifies under this form and under no variant
//! tried): the JSON value with the keys of every object sorted, written
//! compactly, strings as UTF-8 without escaping beyond JSON's own. That is
//! what `serde_json` writes for a `Value` whose maps are sorted (its default
//! `BTreeMap`; this crate must never enable `preserve_order`).
//!
//! Strict reading where it is unknown: whether the reference library would
//! escape `<`, `>`, `&`, `=` or `'` (Java's Gson does by default) is not
//! shown by any sample, so a value we sign may not contain them
//! ([`signable`]), and what we verify is re-serialised from the parsed value
//! exactly once, with no second guess.

use serde_json::Value;

/// The signed form of `v`.
pub fn form(v: &Value) -> Vec<u8> {
    // A `Value` serialises its maps sorted (BTreeMap) and compactly.
    serde_json::to_vec(v).unwrap_or_default()
}

/// Whether `v` holds only strings whose signed form cannot depend on an
/// escaping rule the specification leaves open.
pub fn signable(v: &Value) -> bool {
    match v {
        Value::String(s) => !s.contains(['<', '>', '&', '=', '\'']),
        Value::Array(a) => a.iter().all(signable),
        Value::Object(o) => o
            .iter()
            .all(|(k, v)| signable(&Value::String(k.clone())) && signable(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_at_every_level_and_nothing_is_spaced() {
        let v: Value = serde_json::from_str(
            r#"{ "b": 1, "a": { "z": [ {"y": "홍", "x": null} ], "c": true } }"#,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(form(&v)).unwrap(),
            r#"{"a":{"c":true,"z":[{"x":null,"y":"홍"}]},"b":1}"#
        );
        assert!(signable(&v));
        assert!(!signable(&serde_json::json!({"a": "x=y"})));
        assert!(!signable(&serde_json::json!({"a<": "x"})));
    }
}
