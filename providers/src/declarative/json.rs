//! Reading and writing JSON by dot path (`data.txId`), the only JSON access the
//! declarative adapter (and the simulator's banks) need.
//!
//! Not here: arrays, escaping of dots, or validation of paths (see
//! [`super::description::valid_json_path`]).

use serde_json::{Map, Value};

/// The value at `path`, if every segment is an object key.
pub(crate) fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(v, |cur, seg| cur.as_object()?.get(seg))
}

/// The value at `path` as text: strings as they are, numbers and booleans
/// written out; `None` for null, objects, arrays or a missing value.
pub(crate) fn get_text(v: &Value, path: &str) -> Option<String> {
    match get(v, path)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Sets `path` in `root` (an object), creating objects on the way. Fails when
/// a segment on the way is already something other than an object.
pub(crate) fn set(root: &mut Map<String, Value>, path: &str, value: Value) -> Result<(), ()> {
    let mut segs = path.split('.').peekable();
    let mut cur = root;
    while let Some(seg) = segs.next() {
        if segs.peek().is_none() {
            cur.insert(seg.to_owned(), value);
            return Ok(());
        }
        let next = cur
            .entry(seg.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        cur = next.as_object_mut().ok_or(())?;
    }
    Err(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_paths_read_and_write() {
        let mut m = Map::new();
        set(&mut m, "data.txId", Value::from("t1")).unwrap();
        set(&mut m, "data.state", Value::from(2)).unwrap();
        set(&mut m, "top", Value::from(true)).unwrap();
        let v = Value::Object(m.clone());
        assert_eq!(get_text(&v, "data.txId").as_deref(), Some("t1"));
        assert_eq!(get_text(&v, "data.state").as_deref(), Some("2"));
        assert_eq!(get_text(&v, "top").as_deref(), Some("true"));
        assert_eq!(get_text(&v, "data"), None);
        assert_eq!(get_text(&v, "data.missing"), None);
        assert!(set(&mut m, "top.x", Value::Null).is_err());
    }
}
