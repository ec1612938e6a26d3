//! The writer, checkpoints and `verify` together, on a real file and the
//! memory store: a whole chain verifies, and each kind of tampering is found
//! and placed.

use super::verify::{verify, External};
use super::*;
use crate::app::App;
use crate::clock::ManualClock;
use crate::runtime::Runtime;
use crate::store::memory::MemoryStore;
use std::path::{Path, PathBuf};

struct Fx {
    dir: PathBuf,
    app: Arc<App>,
}

impl Drop for Fx {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn config(dir: &Path, keys: &str) -> Arc<crate::config::Config> {
    config_at(dir, keys, "log/audit.log")
}

fn config_at(dir: &Path, keys: &str, audit: &str) -> Arc<crate::config::Config> {
    let text = format!(
        r#"
[server]
public_url = "http://127.0.0.1:8080"
listen = "127.0.0.1:8080"

[secrets]
pairwise_key = {{ value = "0123456789abcdef0123456789abcdef" }}

[keys]
dir = "{keys}"
generate_missing = true

[audit]
path = "{audit}"
checkpoint_secs = 5

[policies.standard]
min_level = "substantial"

[sites.town]
name = "구청"
policy = "standard"
[sites.town.oidc]
client_id = "town"
client_secret = {{ value = "town-secret-0123456789" }}
redirect_uris = ["https://town.example/cb"]
"#,
        keys = dir.join(keys).display(),
    );
    Arc::new(crate::config::check::parse(&dir.join("munjigi.toml"), &text).unwrap())
}

fn fx(tag: &str) -> Fx {
    let dir = std::env::temp_dir().join(format!("munjigi-audit-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("log")).unwrap();
    let cfg = config(&dir, "keys");
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::at(1_800_000_000));
    let audit = Audit::open(cfg.audit.as_ref().unwrap(), clock.clone()).unwrap();
    let runtime = Runtime::with_audit(MemoryStore::new(1000), clock, audit);
    let app = App::assemble(cfg, runtime).unwrap();
    Fx { dir, app }
}

impl Fx {
    fn log(&self) -> PathBuf {
        self.dir.join("log/audit.log")
    }
    fn jwks(&self) -> serde_json::Value {
        serde_json::from_slice(&self.app.keys.jwks()).unwrap()
    }
    async fn limit(&self, n: usize) {
        for _ in 0..n {
            limit_tripped(&self.app, "person", "town");
        }
        // Waiting for one record waits for every record queued before it.
        self.app
            .runtime
            .audit
            .record_durable(Event::LimitTripped {
                kind: "site",
                site: "town".into(),
            })
            .await
            .unwrap();
    }
    async fn stored(&self) -> Vec<External> {
        checkpoint::from_store(self.app.store.as_ref())
            .await
            .unwrap()
            .into_iter()
            .map(|(writer, jws)| External {
                source: "store".into(),
                writer: Some(writer),
                jws,
            })
            .collect()
    }
    async fn verify(&self, files: &[PathBuf]) -> verify::Report {
        verify(files, &self.stored().await, &self.jwks()).unwrap()
    }
    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.log())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
    fn rewrite(&self, lines: &[String]) {
        std::fs::write(self.log(), lines.join("\n") + "\n").unwrap();
    }
}

/// keys.loaded, 3 records, a checkpoint (sealing seq 5), 3 more: 10 lines.
async fn history(f: &Fx) {
    f.limit(3).await;
    let sealed = checkpoint::seal(&f.app, false).await.unwrap().unwrap();
    assert_eq!(sealed.seq, 5, "keys.loaded and four records");
    assert!(
        checkpoint::seal(&f.app, false).await.unwrap().is_none(),
        "nothing new to seal"
    );
    f.limit(3).await;
}

fn one_problem(r: &verify::Report, has: &[&str]) {
    assert!(
        !r.problems.is_empty(),
        "a problem is found: {:?}",
        r.summary
    );
    let all = r.problems.join("\n");
    for h in has {
        assert!(all.contains(h), "`{h}` in:\n{all}");
    }
}

#[tokio::test]
async fn a_whole_chain_verifies_with_its_stored_checkpoint() {
    let f = fx("whole");
    history(&f).await;
    let lines = f.lines();
    assert_eq!(lines.len(), 10, "{lines:#?}");
    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["event"], "keys.loaded");
    assert_eq!(first["seq"], 1);
    assert_eq!(
        first["prev"],
        chain::genesis(f.app.runtime.audit.writer().unwrap()).as_str()
    );
    let cp: serde_json::Value = serde_json::from_str(&lines[5]).unwrap();
    assert_eq!(
        (cp["event"].as_str(), cp["covers_seq"].as_u64()),
        (Some("audit.checkpoint"), Some(5))
    );
    assert_eq!(cp["stored"], true);
    let r = f.verify(&[f.log()]).await;
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert!(
        r.summary[0].contains("10 record(s), seq 1..10"),
        "{:?}",
        r.summary
    );
    assert!(
        r.summary[0].contains("checkpoint at seq 5"),
        "{:?}",
        r.summary
    );
}

#[tokio::test]
async fn a_changed_field_is_found_where_it_is() {
    let f = fx("changed");
    history(&f).await;
    let mut lines = f.lines();
    lines[2] = lines[2].replace("\"town\"", "\"tawn\"");
    f.rewrite(&lines);
    let r = f.verify(&[f.log()]).await;
    one_problem(&r, &["audit.log:3: writer", "seq 3: record changed"]);
}

#[tokio::test]
async fn a_changed_record_with_recomputed_hashes_is_found_by_the_checkpoint() {
    let f = fx("rewritten");
    history(&f).await;
    let writer = f.app.runtime.audit.writer().unwrap().to_owned();
    // Rewrite the whole chain from seq 3 on, every hash recomputed.
    let mut lines = f.lines();
    let mut head = chain::Head {
        seq: 2,
        hash: serde_json::from_str::<serde_json::Value>(&lines[1]).unwrap()["hash"]
            .as_str()
            .unwrap()
            .to_owned(),
    };
    let c = chain::Chain::new(&writer);
    for line in lines.iter_mut().skip(2) {
        let mut v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line).unwrap();
        let event = v["event"].as_str().unwrap().to_owned();
        let time = v["time"].as_u64().unwrap();
        for k in chain::RESERVED {
            v.remove(k);
        }
        if let Some(site) = v.get_mut("site") {
            *site = "tawn".into();
        }
        let (l, h) = c.line(&head, time, &event, &v).unwrap();
        *line = String::from_utf8(l).unwrap().trim_end().to_owned();
        head = h;
    }
    f.rewrite(&lines);
    let r = f.verify(&[f.log()]).await;
    one_problem(
        &r,
        &[
            "audit.log:5: writer",
            "seq 5: not the record the checkpoint",
            "rewritten",
        ],
    );
}

#[tokio::test]
async fn a_removed_line_is_a_gap() {
    let f = fx("removed");
    history(&f).await;
    let mut lines = f.lines();
    lines.remove(7);
    f.rewrite(&lines);
    let r = f.verify(&[f.log()]).await;
    one_problem(&r, &["seq 8 is missing (removed before ", "audit.log:8)"]);
}

#[tokio::test]
async fn swapped_lines_are_out_of_order() {
    let f = fx("swapped");
    history(&f).await;
    let mut lines = f.lines();
    lines.swap(6, 7);
    f.rewrite(&lines);
    let r = f.verify(&[f.log()]).await;
    one_problem(
        &r,
        &[
            "audit.log:8: writer",
            "seq 7 comes after seq 8 (",
            "out of order",
        ],
    );
}

#[tokio::test]
async fn a_tail_cut_before_the_checkpoint_is_truncation() {
    let f = fx("cut");
    history(&f).await;
    let lines = f.lines();
    f.rewrite(&lines[..3]);
    let r = f.verify(&[f.log()]).await;
    one_problem(
        &r,
        &[
            "truncated: the chain ends at seq 3",
            "audit.log:3",
            "covers seq 5",
        ],
    );
    // Without the store, the cut file verifies: the summary says why to give it.
    let alone = verify(&[f.log()], &[], &f.jwks()).unwrap();
    assert!(alone.problems.is_empty(), "{:?}", alone.problems);
    assert!(alone.summary[0].contains("a cut tail cannot be seen"));
}

#[tokio::test]
async fn a_checkpoint_of_another_key_is_refused() {
    let f = fx("forged");
    history(&f).await;
    // The store's checkpoint re-signed with another gateway's key.
    let other = config(&f.dir, "other-keys");
    let keys = crate::keys::SigningKeys::load(&other.keys).unwrap();
    let writer = f.app.runtime.audit.writer().unwrap();
    let jws = String::from_utf8(
        f.app
            .store
            .get(&checkpoint::key(writer))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let claims = checkpoint::open(&jws, &f.jwks()).unwrap();
    let forged = keys
        .sign(
            crate::config::model::IdTokenAlg::Es256,
            checkpoint::TYP,
            &claims,
        )
        .unwrap();
    let forged_here = verify(
        &[f.log()],
        &[External {
            source: "store".into(),
            writer: Some(writer.to_owned()),
            jws: Some(forged.clone()),
        }],
        &f.jwks(),
    )
    .unwrap();
    one_problem(&forged_here, &["store: checkpoint of writer", "no key"]);
    // Same key id, another signature: the in-file checkpoint is altered.
    let mut lines = f.lines();
    let parts: Vec<&str> = jws.split('.').collect();
    let mut sig = parts[2].to_owned();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    sig.replace_range(0..1, flipped);
    let bad = format!("{}.{}.{sig}", parts[0], parts[1]);
    lines[5] = lines[5].replace(&jws, &bad);
    f.rewrite(&lines);
    let r = f.verify(&[f.log()]).await;
    one_problem(
        &r,
        &[
            "audit.log:6: writer",
            "checkpoint signature: the signature does not verify",
            "record changed",
        ],
    );
}

#[tokio::test]
async fn a_whole_missing_writer_is_noticed() {
    let f = fx("missing");
    history(&f).await;
    let empty = f.dir.join("log/other.log");
    std::fs::write(&empty, "").unwrap();
    let r = f.verify(&[empty]).await;
    one_problem(
        &r,
        &[
            "no records in the given files, but store has a checkpoint at seq 5",
            "its file is missing",
        ],
    );
}

#[tokio::test]
async fn a_rotated_file_continues_the_chain_and_files_come_in_any_order() {
    let f = fx("rotated");
    f.limit(2).await;
    let old = f.dir.join("log/audit.log.1");
    std::fs::rename(f.log(), &old).unwrap();
    f.limit(2).await;
    checkpoint::seal(&f.app, true).await.unwrap().unwrap();
    let first: serde_json::Value = serde_json::from_str(&f.lines()[0]).unwrap();
    assert_eq!(first["seq"], 5, "the chain goes on in the new file");
    let r = f.verify(&[f.log(), old.clone()]).await;
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    // One of the two missing is a gap.
    let r = f.verify(&[f.log()]).await;
    one_problem(&r, &["seq 1..4 are missing"]);
}

#[tokio::test]
async fn a_failed_write_leaves_no_half_record_and_no_gap() {
    let f = fx("failing");
    f.limit(1).await;
    // The folder goes: nothing can be written.
    std::fs::remove_dir_all(f.dir.join("log")).unwrap();
    let failed = f
        .app
        .runtime
        .audit
        .record_durable(Event::LimitTripped {
            kind: "site",
            site: "town".into(),
        })
        .await;
    assert!(failed.is_err(), "a record that cannot be written says so");
    std::fs::create_dir_all(f.dir.join("log")).unwrap();
    f.limit(0).await;
    let lines = f.lines();
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["seq"], 4, "the failed record took no seq");
    assert_eq!(lines.len(), 1);
}

#[tokio::test]
async fn a_reload_with_new_keys_records_a_rotation() {
    let f = fx("rotation");
    let runtime = f.app.runtime.clone();
    // The same keys again: nothing to record.
    let again = App::assemble(f.app.config.clone(), runtime.clone()).unwrap();
    let next = josekit::jws::ES256
        .generate_key_pair()
        .unwrap()
        .to_pem_private_key();
    std::fs::write(f.dir.join("keys/es256.next.pem"), next).unwrap();
    let _ = App::assemble(again.config.clone(), runtime).unwrap();
    f.limit(0).await;
    let events: Vec<String> = f
        .lines()
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(events, ["keys.loaded", "keys.rotated", "limit.tripped"]);
    let rotated: serde_json::Value = serde_json::from_str(&f.lines()[1]).unwrap();
    assert_eq!(rotated["published"].as_array().unwrap().len(), 3);
}

#[test]
fn a_reload_cannot_move_the_audit_log() {
    let dir = std::env::temp_dir();
    let a = config(&dir, "k");
    assert!(reload_check(&a, &config(&dir, "k")).is_ok());
    let moved = config_at(&dir, "k", "elsewhere.log");
    assert!(reload_check(&a, &moved)
        .unwrap_err()
        .contains("need a restart"));
}
