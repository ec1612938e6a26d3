//! The hash chain: how one record's line is made and how its hash is
//! defined, so that the writer and `munjigi audit verify` agree byte for byte.
//!
//! A record is one JSON object on one line, members in this order:
//! `seq`, `writer`, `time`, `event`, the event's own fields, `prev`, `hash`.
//! Its **body** is the line without the newline and without the final
//! `,"hash":"…"` member, i.e. the object as written, closed right after
//! `prev`. `hash` is the lowercase hex SHA-256 of the body's bytes; `prev`
//! is the `hash` of the writer's previous record, and for `seq` 1 the
//! writer's genesis value, the hex SHA-256 of `munjigi-audit-genesis:`
//! followed by the writer id. Hashing the bytes as written (rather than a
//! re-serialisation) means a verifier needs no canonical JSON: any change
//! to a byte of the body changes the hash.
//!
//! Not here: files, syncing, checkpoints (see the sibling modules).

use serde_json::{Map, Value};

/// Members every record has; an event's fields never use these names.
pub const RESERVED: [&str; 6] = ["seq", "writer", "time", "event", "prev", "hash"];

const GENESIS_DOMAIN: &[u8] = b"munjigi-audit-genesis:";
/// `,"hash":"` + 64 hex digits + `"}`.
const HASH_MEMBER_LEN: usize = 9 + 64 + 2;

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(openssl::sha::sha256(bytes))
}

/// The `prev` of a writer's first record.
pub fn genesis(writer: &str) -> String {
    let mut h = openssl::sha::Sha256::new();
    h.update(GENESIS_DOMAIN);
    h.update(writer.as_bytes());
    hex::encode(h.finish())
}

/// Where a chain stands: its last record's `seq` and `hash` (`seq` 0 and
/// the genesis value before the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

/// One writer's chain, as far as it has been written.
#[derive(Debug, Clone)]
pub struct Chain {
    writer: String,
    head: Head,
}

impl Chain {
    pub fn new(writer: &str) -> Self {
        Self {
            writer: writer.to_owned(),
            head: Head {
                seq: 0,
                hash: genesis(writer),
            },
        }
    }

    pub fn writer(&self) -> &str {
        &self.writer
    }

    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Moves the chain on to `head` (once the record that made it is written).
    pub fn advance(&mut self, head: Head) {
        self.head = head;
    }

    /// The line (with its newline) of the record after `after`, and the head
    /// it makes. The chain itself does not move: a record counts once written.
    pub fn line(
        &self,
        after: &Head,
        time: u64,
        event: &str,
        fields: &Map<String, Value>,
    ) -> Result<(Vec<u8>, Head), String> {
        let seq = after.seq + 1;
        let mut body = Vec::with_capacity(320);
        body.extend_from_slice(format!("{{\"seq\":{seq},\"writer\":").as_bytes());
        json(&mut body, &Value::from(self.writer.as_str()))?;
        body.extend_from_slice(format!(",\"time\":{time},\"event\":").as_bytes());
        json(&mut body, &Value::from(event))?;
        for (k, v) in fields {
            if RESERVED.contains(&k.as_str()) {
                return Err(format!("event `{event}` has a field named `{k}`"));
            }
            body.push(b',');
            json(&mut body, &Value::from(k.as_str()))?;
            body.push(b':');
            json(&mut body, v)?;
        }
        body.extend_from_slice(b",\"prev\":\"");
        body.extend_from_slice(after.hash.as_bytes());
        body.extend_from_slice(b"\"}");
        let hash = sha256_hex(&body);
        let mut line = body;
        line.pop();
        line.extend_from_slice(b",\"hash\":\"");
        line.extend_from_slice(hash.as_bytes());
        line.extend_from_slice(b"\"}\n");
        Ok((line, Head { seq, hash }))
    }
}

fn json(out: &mut Vec<u8>, v: &Value) -> Result<(), String> {
    serde_json::to_writer(out, v).map_err(|e| e.to_string())
}

/// A line (without its newline) split into its body and the hash it
/// claims; None when it does not end in a `hash` member.
pub fn split(line: &[u8]) -> Option<(Vec<u8>, &str)> {
    let cut = line.len().checked_sub(HASH_MEMBER_LEN)?;
    let (head, member) = (line.get(..cut)?, line.get(cut..)?);
    let hash = member.strip_prefix(b",\"hash\":\"")?.strip_suffix(b"\"}")?;
    if hash.len() != 64 || !hash.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut body = Vec::with_capacity(cut + 1);
    body.extend_from_slice(head);
    body.push(b'}');
    Some((body, std::str::from_utf8(hash).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: serde_json::Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_line_hashes_its_body_and_links_to_the_previous_hash() {
        let chain = Chain::new("gw-1");
        let first = chain.head().clone();
        assert_eq!(first.seq, 0);
        assert_eq!(first.hash, genesis("gw-1"));
        assert_ne!(genesis("gw-1"), genesis("gw-2"));
        let (line, head) = chain
            .line(
                &first,
                7,
                "login.started",
                &fields(serde_json::json!({"site": "town"})),
            )
            .unwrap();
        let text = std::str::from_utf8(&line).unwrap();
        assert!(text.starts_with("{\"seq\":1,\"writer\":\"gw-1\",\"time\":7,\"event\":\"login.started\",\"site\":\"town\",\"prev\":\""), "{text}");
        assert!(text.ends_with("\"}\n"));
        let (body, hash) = split(line.strip_suffix(b"\n").unwrap()).unwrap();
        assert_eq!(hash, head.hash);
        assert_eq!(sha256_hex(&body), head.hash);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["prev"], first.hash.as_str());
        let whole: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(whole["hash"], head.hash.as_str());
        let (second, h2) = chain.line(&head, 8, "x", &Map::new()).unwrap();
        let v: Value = serde_json::from_slice(&second).unwrap();
        assert_eq!(
            (v["seq"].as_u64(), v["prev"].as_str()),
            (Some(2), Some(head.hash.as_str()))
        );
        assert_eq!(h2.seq, 2);
    }

    #[test]
    fn reserved_names_and_malformed_lines_are_refused() {
        let chain = Chain::new("w");
        let bad = fields(serde_json::json!({"seq": 9}));
        assert!(chain.line(chain.head(), 1, "x", &bad).is_err());
        assert!(split(b"{\"seq\":1}").is_none());
        assert!(split(format!("{{\"a\":1,\"hash\":\"{}\"}}", "G".repeat(64)).as_bytes()).is_none());
        assert!(split(b"").is_none());
    }
}
