//! Where DID keys and credential statuses come from: a trust list file the
//! operator keeps, re-read when it changes.
//!
//! Why a file: the interface resolves DIDs and credential statuses on the
//! government's blockchain registry, which is not reachable from here (nor
//! from most deployments' networks without the registry's node software).
//! The operator exports what the gateway must trust, DID documents of the
//! issuers and of holders, and the statuses of credentials, into one JSON
//! file:
//!
//! ```json
//! { "documents": [ { "id": "did:kr:mobileid:…",
//!                    "publicKey": [ { "id": "did:kr:mobileid:…#key",
//!                                     "type": "Secp256r1VerificationKey2018",
//!                                     "publicKeyBase58": "…" } ] } ],
//!   "status": { "<credential id>": "ACTIVE" } }
//! ```
//!
//! A key is trusted only under the document whose `id` prefixes it; a
//! credential not listed, or listed with anything but `ACTIVE`, is refused
//! (the strict reading: unknown is not valid). The file is checked for a
//! change (its modification time or length) at most every [`RECHECK`], and
//! at once when a presentation names a key or credential the list held
//! does not know (a holder registered a moment ago must not fail); a file
//! that no longer reads keeps the last good list (and says so in the log),
//! as a CRL that fails to refresh does.

use super::sig::{self, Curve};
use super::vp::Resolver;
use openssl::ec::EcKey;
use openssl::pkey::Public;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// How often the file's modification time is looked at.
pub const RECHECK: Duration = Duration::from_secs(1);
/// The largest trust list read.
const MAX_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    documents: Vec<RawDocument>,
    #[serde(default)]
    status: HashMap<String, String>,
}

#[derive(Deserialize)]
struct RawDocument {
    id: String,
    #[serde(rename = "publicKey")]
    public_key: Vec<RawKey>,
}

#[derive(Deserialize)]
struct RawKey {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "publicKeyBase58")]
    base58: String,
}

/// A parsed list: keys by (DID, key id), statuses by credential id.
#[derive(Default)]
pub struct List {
    keys: HashMap<(String, String), (Curve, EcKey<Public>)>,
    active: HashMap<String, bool>,
}

impl List {
    /// Reads a list; every key must parse (a list with a broken key is a
    /// broken export, not one to half-trust).
    pub fn parse(bytes: &[u8]) -> Result<List, String> {
        crate::json::unique_keys(bytes).map_err(|e| format!("not JSON: {e}"))?;
        let raw: RawList =
            serde_json::from_slice(bytes).map_err(|e| format!("not a trust list: {e}"))?;
        let mut list = List::default();
        for doc in raw.documents {
            if !doc.id.starts_with("did:") {
                return Err(format!("document `{}` is not a DID", doc.id));
            }
            for k in doc.public_key {
                let key_id =
                    k.id.strip_prefix(&doc.id)
                        .and_then(|r| r.strip_prefix('#'))
                        .filter(|r| !r.is_empty())
                        .ok_or_else(|| format!("key `{}` is not under `{}`", k.id, doc.id))?;
                let curve = Curve::of_type(&k.kind)
                    .ok_or_else(|| format!("key `{}` has an unknown type `{}`", k.id, k.kind))?;
                let key = sig::public_key(curve, &k.base58)
                    .map_err(|e| format!("key `{}`: {e}", k.id))?;
                list.keys
                    .insert((doc.id.clone(), key_id.to_owned()), (curve, key));
            }
        }
        list.active = raw
            .status
            .into_iter()
            .map(|(id, s)| (id, s == "ACTIVE"))
            .collect();
        Ok(list)
    }
}

impl Resolver for List {
    fn key(&self, did: &str, key_id: &str) -> Option<(Curve, EcKey<Public>)> {
        self.keys
            .get(&(did.to_owned(), key_id.to_owned()))
            .map(|(c, k)| (*c, k.clone()))
    }
    fn active(&self, vc_id: &str) -> Option<bool> {
        self.active.get(vc_id).copied()
    }
}

struct Held {
    list: Arc<List>,
    /// The file as last read: modification time and length.
    stamp: Option<(SystemTime, u64)>,
    checked: Instant,
}

/// The trust list file, re-read when it changes.
pub struct TrustFile {
    path: PathBuf,
    held: RwLock<Held>,
    /// One re-read at a time; the others go on with the list they have.
    reading: Mutex<()>,
}

fn stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

fn read(path: &std::path::Path) -> Result<(List, Option<(SystemTime, u64)>), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_BYTES {
        return Err(format!("larger than {MAX_BYTES} bytes"));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let list = List::parse(&bytes)?;
    Ok((list, meta.modified().ok().map(|t| (t, meta.len()))))
}

impl TrustFile {
    /// Reads the file now: a start with a list that does not read fails.
    pub fn open(path: PathBuf) -> Result<TrustFile, String> {
        let (list, stamp) = read(&path)?;
        Ok(TrustFile {
            path,
            held: RwLock::new(Held {
                list: Arc::new(list),
                stamp,
                checked: Instant::now(),
            }),
            reading: Mutex::new(()),
        })
    }

    /// The current list, re-read first if the file changed (its time or
    /// length) and it was last looked at [`RECHECK`] ago or more. Blocking
    /// file I/O: call it off the async workers. The reading and parsing
    /// happen outside the lock readers take.
    pub fn current(&self) -> Arc<List> {
        let (due, list) = match self.held.read() {
            Ok(h) => (h.checked.elapsed() >= RECHECK, h.list.clone()),
            Err(p) => (true, p.into_inner().list.clone()),
        };
        if !due {
            return list;
        }
        let Ok(_reading) = self.reading.try_lock() else {
            return list;
        };
        self.reread_if_changed()
    }

    /// A newer list than `seen`, looking at the file now whatever
    /// [`RECHECK`] says; `None` when the file has not changed since `seen`
    /// was read. For a presentation that names a key or credential `seen`
    /// does not know: the operator may have added it a moment ago, and a
    /// refusal would end the citizen's login. One look per presentation
    /// at most (a presentation is opened once per login), so this costs an
    /// attacker a login each.
    pub fn newer_than(&self, seen: &Arc<List>) -> Option<Arc<List>> {
        let _reading = match self.reading.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let list = self.reread_if_changed();
        (!Arc::ptr_eq(&list, seen)).then_some(list)
    }

    /// Re-reads the file if its stamp changed; the list now held. Called
    /// with `reading` held.
    fn reread_if_changed(&self) -> Arc<List> {
        let held_stamp = match self.held.read() {
            Ok(h) => h.stamp,
            Err(p) => p.into_inner().stamp,
        };
        let now_stamp = stamp(&self.path);
        let next = if now_stamp.is_some() && now_stamp == held_stamp {
            None
        } else {
            match read(&self.path) {
                Ok((l, s)) => {
                    tracing::info!(path = %self.path.display(), "mobile ID trust list re-read");
                    Some((Arc::new(l), s))
                }
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "mobile ID trust list does not read; the last good one stays in use");
                    None
                }
            }
        };
        let mut held = match self.held.write() {
            Ok(h) => h,
            Err(p) => p.into_inner(),
        };
        held.checked = Instant::now();
        if let Some((l, s)) = next {
            held.list = l;
            held.stamp = s;
        }
        held.list.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::EcGroup;
    use openssl::nid::Nid;

    fn key_b58() -> String {
        let k = EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap();
        sig::public_key_base58(Curve::R1, &k).unwrap()
    }

    #[test]
    fn keys_live_under_their_document_and_unknown_statuses_are_not_active() {
        let doc = serde_json::json!({
            "documents": [{"id": "did:kr:mobileid:i1", "publicKey": [
                {"id": "did:kr:mobileid:i1#k1", "type": "Secp256r1VerificationKey2018", "publicKeyBase58": key_b58()}
            ]}],
            "status": {"vc-1": "ACTIVE", "vc-2": "REVOKED"}
        });
        let l = List::parse(doc.to_string().as_bytes()).unwrap();
        assert!(l.key("did:kr:mobileid:i1", "k1").is_some());
        assert!(l.key("did:kr:mobileid:i1", "k2").is_none());
        assert!(l.key("did:kr:mobileid:i2", "k1").is_none());
        assert_eq!(l.active("vc-1"), Some(true));
        assert_eq!(l.active("vc-2"), Some(false));
        assert_eq!(l.active("vc-3"), None);

        for bad in [
            serde_json::json!({"documents": [{"id": "did:kr:mobileid:i1", "publicKey": [
                {"id": "did:kr:mobileid:other#k1", "type": "Secp256r1VerificationKey2018", "publicKeyBase58": key_b58()}]}]}),
            serde_json::json!({"documents": [{"id": "did:kr:mobileid:i1", "publicKey": [
                {"id": "did:kr:mobileid:i1#k1", "type": "Ed25519", "publicKeyBase58": key_b58()}]}]}),
            serde_json::json!({"documents": [{"id": "did:kr:mobileid:i1", "publicKey": [
                {"id": "did:kr:mobileid:i1#k1", "type": "Secp256k1VerificationKey2018", "publicKeyBase58": "zz"}]}]}),
            serde_json::json!({"documents": [{"id": "x", "publicKey": []}]}),
            serde_json::json!({"docs": []}),
        ] {
            assert!(List::parse(bad.to_string().as_bytes()).is_err(), "{bad}");
        }
        assert!(List::parse(br#"{"documents":[],"documents":[]}"#).is_err());
    }

    #[test]
    fn a_changed_file_is_read_again_and_a_broken_one_keeps_the_last_good_list() {
        let dir = std::env::temp_dir().join(format!("mj-trust-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("trust.json");
        std::fs::write(&path, r#"{"documents":[],"status":{"a":"ACTIVE"}}"#).unwrap();
        let f = TrustFile::open(path.clone()).unwrap();
        assert_eq!(f.current().active("a"), Some(true));
        std::fs::write(&path, r#"{"documents":[],"status":{"a":"REVOKED"}}"#).unwrap();
        // Force the recheck and a different modification time.
        let later = SystemTime::now() + Duration::from_secs(10);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        f.held.write().unwrap().checked = Instant::now() - RECHECK;
        assert_eq!(f.current().active("a"), Some(false));
        std::fs::write(&path, "not json").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later + Duration::from_secs(10))
            .unwrap();
        f.held.write().unwrap().checked = Instant::now() - RECHECK;
        assert_eq!(f.current().active("a"), Some(false));
        assert!(TrustFile::open(dir.join("missing.json")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_miss_looks_at_the_file_at_once_and_only_a_change_gives_a_newer_list() {
        let dir = std::env::temp_dir().join(format!("mj-trust-miss-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("trust.json");
        std::fs::write(&path, r#"{"documents":[],"status":{"a":"ACTIVE"}}"#).unwrap();
        let f = TrustFile::open(path.clone()).unwrap();
        let seen = f.current();
        assert!(f.newer_than(&seen).is_none(), "the file did not change");
        // Written within RECHECK of the last look: `current` keeps the list
        // it has, a miss reads the new one.
        std::fs::write(
            &path,
            r#"{"documents":[],"status":{"a":"ACTIVE","b":"ACTIVE"}}"#,
        )
        .unwrap();
        assert_eq!(f.current().active("b"), None);
        let newer = f.newer_than(&seen).unwrap();
        assert_eq!(newer.active("b"), Some(true));
        // What was just read is held: nothing newer than it, and `current`
        // gives it.
        assert!(f.newer_than(&newer).is_none());
        assert_eq!(f.current().active("b"), Some(true));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
