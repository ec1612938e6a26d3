//! The one JSON form that mobile-ID signatures cover.
//!
//! The specification does not say what bytes are signed. The reference SP's
//! published test material settles it (every logged profile, presentation
//! and credential signature verifies under this form and under no variant
//! tried): the JSON value with the keys of every object sorted, written
//! compactly, strings as UTF-8 without escaping beyond JSON's own. The keys
//! are sorted here, by their bytes, not left to `serde_json`'s map: another
//! crate of the build may turn on its `preserve_order`, and then a `Value`
//! keeps the order it was read in.
//!
//! Strict reading where it is unknown: whether the reference library would
//! escape `<`, `>`, `&`, `=` or `'` (Java's Gson does by default) is not
//! shown by any sample, so a value we sign may not contain them
//! ([`signable`]), and what we verify is re-serialised from the parsed value
//! exactly once, with no second guess.

use serde_json::Value;

/// The signed form of `v`.
pub fn form(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                scalar(&Value::String(k.clone()), out);
                out.push(b':');
                write(v, out);
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(v, out);
            }
            out.push(b']');
        }
        other => scalar(other, out),
    }
}

/// A string, number, boolean or null as `serde_json` writes it compactly.
fn scalar(v: &Value, out: &mut Vec<u8>) {
    // Writing a scalar `Value` to a `Vec` cannot fail.
    let _ = serde_json::to_writer(out, v);
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
        // The order a map was built in does not matter.
        let mut m = serde_json::Map::new();
        m.insert("z".into(), 1.into());
        m.insert("a".into(), 2.into());
        assert_eq!(form(&Value::Object(m)), br#"{"a":2,"z":1}"#.to_vec());
        assert!(!signable(&serde_json::json!({"a": "x=y"})));
        assert!(!signable(&serde_json::json!({"a<": "x"})));
    }
}
