//! Any bytes as a provider's JSON answer, through the one reader every
//! family's answers pass (`munjigi_providers::json`): it never panics, and it
//! agrees with serde_json. What it accepts serde_json reads, and that value
//! written out again is accepted too; what serde_json reads but it refuses
//! is refused as a key named twice, and a second reader that keeps every
//! entry of every object (not a set of keys) finds that key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use munjigi_providers::json;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value keeping every object entry, duplicates included.
enum Every {
    Leaf,
    List(Vec<Every>),
    Object(Vec<(String, Every)>),
}

impl Every {
    fn has_duplicate(&self) -> bool {
        match self {
            Every::Leaf => false,
            Every::List(l) => l.iter().any(Every::has_duplicate),
            Every::Object(entries) => {
                let mut keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
                keys.sort_unstable();
                keys.windows(2).any(|w| w[0] == w[1])
                    || entries.iter().any(|(_, v)| v.has_duplicate())
            }
        }
    }
}

impl<'de> Deserialize<'de> for Every {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Every;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Every, E> {
                Ok(Every::Leaf)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Every, E> {
                Ok(Every::Leaf)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Every, E> {
                Ok(Every::Leaf)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Every, E> {
                Ok(Every::Leaf)
            }
            fn visit_str<E>(self, _: &str) -> Result<Every, E> {
                Ok(Every::Leaf)
            }
            fn visit_unit<E>(self) -> Result<Every, E> {
                Ok(Every::Leaf)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Every, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = s.next_element()? {
                    out.push(v);
                }
                Ok(Every::List(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Every, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Every>()? {
                    out.push((k, v));
                }
                Ok(Every::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}

fuzz_target!(|data: &[u8]| {
    let strict = json::unique_keys(data);
    let lenient = serde_json::from_slice::<serde_json::Value>(data);
    match (strict, lenient) {
        (Ok(()), Ok(v)) => {
            let again = serde_json::to_vec(&v).expect("a Value writes out");
            assert!(json::unique_keys(&again).is_ok(), "its own output refused");
        }
        (Ok(()), Err(e)) => panic!("accepted what serde_json refuses: {e}"),
        (Err(e), Ok(_)) => {
            assert!(json::is_duplicate(&e), "refused for another reason: {e}");
            let every: Every = serde_json::from_slice(data).expect("serde_json read it");
            assert!(every.has_duplicate(), "no key is named twice");
        }
        (Err(_), Err(_)) => {}
    }
});
