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
    clock: Arc<ManualClock>,
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
    let manual = Arc::new(ManualClock::at(1_800_000_000));
    let clock: Arc<dyn Clock> = manual.clone();
    let audit = Audit::open(cfg.audit.as_ref().unwrap(), clock.clone()).unwrap();
    let runtime = Runtime::with_audit(MemoryStore::new(1000), clock, audit);
    let app = App::assemble(cfg, runtime).unwrap();
    Fx {
        dir,
        app,
        clock: manual,
    }
}

impl Fx {
    fn log(&self) -> PathBuf {
        self.dir.join("log/audit.log")
    }
    fn jwks(&self) -> serde_json::Value {
        serde_json::from_slice(&self.app.keys.jwks()).unwrap()
    }
    /// `n` queued records and one waited for (which waits for them all).
    async fn limit(&self, n: usize) {
        for _ in 0..n {
            self.app.runtime.audit.record(Event::LimitTripped {
                kind: "person",
                site: "town".into(),
                count: 1,
            });
        }
        self.sync().await;
    }
    /// Waits for every record queued so far to be written.
    async fn sync(&self) {
        self.app
            .runtime
            .audit
            .record_durable(Event::LimitTripped {
                kind: "site",
                site: "town".into(),
                count: 1,
            })
            .await
            .unwrap();
    }
    fn events(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
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
        verify(files, &self.stored().await, &self.jwks(), None).unwrap()
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
    let alone = verify(&[f.log()], &[], &f.jwks(), None).unwrap();
    assert!(alone.problems.is_empty(), "{:?}", alone.problems);
    assert!(alone.summary[0].contains("a cut tail cannot be seen"));
}

#[tokio::test]
async fn a_checkpoint_of_another_key_is_refused() {
    let f = fx("forged");
    history(&f).await;
    // The store's checkpoint re-signed with another gateway's key.
    let other = config(&f.dir, "other-keys");
    let keys = crate::keys::SigningKeys::load(&other.keys, other.signing.is_some()).unwrap();
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
        None,
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
            count: 1,
        })
        .await;
    assert!(failed.is_err(), "a record that cannot be written says so");
    assert!(f.app.runtime.audit.is_down(), "the writer is down");
    std::fs::create_dir_all(f.dir.join("log")).unwrap();
    f.clock.advance(7);
    f.limit(0).await;
    assert!(
        !f.app.runtime.audit.is_down(),
        "a written batch brings it up"
    );
    let ev = f.events();
    assert_eq!(ev.len(), 2, "{ev:#?}");
    assert_eq!(ev[0]["seq"], 4, "the failed record took no seq");
    assert_eq!(ev[0]["event"], "audit.resumed");
    assert_eq!(ev[0]["since"], 1_800_000_000);
    assert_eq!(ev[0]["unwritten"], 1);
    assert_eq!(ev[0]["time"], 1_800_000_007);
    assert_eq!(
        (ev[1]["seq"].as_u64(), ev[1]["event"].as_str()),
        (Some(5), Some("limit.tripped"))
    );
}

#[tokio::test]
async fn a_writer_that_is_down_comes_back_without_traffic() {
    let f = fx("probe");
    f.limit(0).await;
    std::fs::remove_dir_all(f.dir.join("log")).unwrap();
    let audit = &f.app.runtime.audit;
    assert!(!audit.is_down());
    f.app.runtime.audit.record(Event::LimitTripped {
        kind: "site",
        site: "town".into(),
        count: 1,
    });
    // A probe that cannot write either leaves it down.
    assert!(audit.head().await.is_err());
    assert!(audit.is_down());
    audit.probe();
    assert!(audit.head().await.is_err(), "still no folder");
    assert!(audit.is_down());
    std::fs::create_dir_all(f.dir.join("log")).unwrap();
    // Nothing but the probe: no login, no checkpoint.
    audit.probe();
    for _ in 0..200 {
        if !audit.is_down() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(!audit.is_down(), "the probe's write brought it up");
    let ev = f.events();
    assert_eq!(ev.len(), 1, "{ev:#?}");
    assert_eq!(ev[0]["event"], "audit.resumed");
    assert_eq!(ev[0]["seq"], 3);
    // The queued record, the head's sync (none) and the failed probes' own
    // audit.resumed lines are not records the chain lost: only the first.
    assert_eq!(ev[0]["unwritten"], 1);
    // An up writer ignores probes.
    audit.probe();
    f.limit(0).await;
    assert_eq!(f.events().len(), 2);
}

#[tokio::test]
async fn limit_refusals_are_one_record_per_kind_and_site_a_minute_with_their_count() {
    let f = fx("limits");
    let trip = |kind, site| limit_tripped(&f.app, kind, site);
    // A flood: the first refusal is recorded at once, the rest counted.
    for _ in 0..100 {
        trip("person", "town");
    }
    f.clock.advance(30);
    for _ in 0..10 {
        trip("person", "town");
    }
    // Another key is its own.
    trip("client_starts", "town");
    // 30 s after the first record: not yet due.
    f.app.runtime.audit.flush_limits(false);
    let persons = |f: &Fx| -> Vec<u64> {
        f.events()
            .iter()
            .filter(|e| e["event"] == "limit.tripped" && e["kind"] == "person")
            .map(|e| e["count"].as_u64().unwrap())
            .collect()
    };
    f.sync().await;
    assert_eq!(persons(&f), [1], "one record for 110 refusals so far");
    // A minute after the first record, the tally is flushed although no
    // refusal came since.
    f.clock.advance(30);
    f.app.runtime.audit.flush_limits(false);
    f.sync().await;
    assert_eq!(persons(&f), [1, 109]);
    // Within the minute after that record, one more refusal waits...
    f.clock.advance(10);
    trip("person", "town");
    f.app.runtime.audit.flush_limits(false);
    f.sync().await;
    assert_eq!(persons(&f), [1, 109]);
    // ...until the shutdown flushes everything.
    f.app.runtime.audit.flush_limits(true);
    f.sync().await;
    assert_eq!(persons(&f), [1, 109, 1], "every refusal is counted once");
    // Quiet for a minute with nothing pending: the next refusal is recorded at once.
    f.clock.advance(61);
    f.app.runtime.audit.flush_limits(false);
    trip("person", "town");
    f.sync().await;
    assert_eq!(persons(&f), [1, 109, 1, 1]);
    let clients: Vec<u64> = f
        .events()
        .iter()
        .filter(|e| e["kind"] == "client_starts")
        .map(|e| e["count"].as_u64().unwrap())
        .collect();
    assert_eq!(clients, [1]);
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

/// `n` records of a made-up writer, hashed as the gateway would.
fn made_up_chain(writer: &str, n: u64) -> Vec<String> {
    let c = chain::Chain::new(writer);
    let mut head = c.head().clone();
    let mut out = Vec::new();
    for i in 0..n {
        let fields = serde_json::json!({"txn": format!("t{i}"), "site": "town"});
        let (line, next) = c
            .line(
                &head,
                1_800_000_100 + i,
                "login.started",
                fields.as_object().unwrap(),
            )
            .unwrap();
        out.push(String::from_utf8(line).unwrap().trim_end().to_owned());
        head = next;
    }
    out
}

#[tokio::test]
async fn a_writer_without_any_checkpoint_is_a_problem_when_checkpoints_are_given() {
    let f = fx("madeup");
    history(&f).await;
    let mut lines = f.lines();
    lines.extend(made_up_chain("gw-x-1800000000-0000000000000000", 2));
    f.rewrite(&lines);
    let r = f.verify(&[f.log()]).await;
    one_problem(
        &r,
        &[
            "writer gw-x-1800000000-0000000000000000: 2 record(s) from ",
            "audit.log:11 with no checkpoint",
            "not in the store's index of writers",
            "killed within checkpoint_secs",
        ],
    );
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    // A saved checkpoint file names no writers: the same.
    let writer = f.app.runtime.audit.writer().unwrap().to_owned();
    let saved: Vec<External> = f
        .stored()
        .await
        .into_iter()
        .map(|e| External {
            source: "saved:1".into(),
            writer: None,
            ..e
        })
        .collect();
    let r = verify(&[f.log()], &saved, &f.jwks(), None).unwrap();
    one_problem(
        &r,
        &["writer gw-x-1800000000-0000000000000000: 2 record(s)"],
    );
    assert!(!r.problems.join("\n").contains(&writer), "{:?}", r.problems);
    // Without any checkpoints given nothing can tell: a note, not a problem.
    let alone = verify(&[f.log()], &[], &f.jwks(), None).unwrap();
    assert!(alone.problems.is_empty(), "{:?}", alone.problems);
    // A writer whose only checkpoint is in the file (the store did not
    // answer) is known by its signature.
    let r = verify(
        &[f.log()],
        &[External {
            source: "saved:1".into(),
            writer: None,
            jws: None,
        }],
        &f.jwks(),
        None,
    )
    .unwrap();
    assert!(
        r.problems
            .iter()
            .all(|p| !p.contains(&format!("writer {writer}: "))),
        "{:?}",
        r.problems
    );
}

#[tokio::test]
async fn a_checkpoint_must_name_the_issuer() {
    let f = fx("issuer");
    history(&f).await;
    let ours = "http://127.0.0.1:8080";
    let r = f.verify(&[f.log()]).await;
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert!(
        r.summary
            .last()
            .unwrap()
            .contains(&format!("checkpoints issued by {ours}")),
        "{:?}",
        r.summary
    );
    let stored = f.stored().await;
    let r = verify(&[f.log()], &stored, &f.jwks(), Some(ours)).unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let r = verify(&[f.log()], &stored, &f.jwks(), Some("https://gw.example")).unwrap();
    one_problem(
        &r,
        &[
            "audit.log:6: checkpoint of writer",
            "seq 5: issued by http://127.0.0.1:8080, not https://gw.example",
            "store: checkpoint of writer",
        ],
    );
    // Another gateway's checkpoint, signed with a key this JWKS holds.
    let writer = f.app.runtime.audit.writer().unwrap().to_owned();
    let jws = stored[0].jws.clone().unwrap();
    let mut claims = checkpoint::open(&jws, &f.jwks()).unwrap();
    claims.iss = "https://other.example".into();
    let other = f
        .app
        .keys
        .sign(
            crate::config::model::IdTokenAlg::Es256,
            checkpoint::TYP,
            &claims,
        )
        .unwrap();
    let external = [External {
        source: "store".into(),
        writer: Some(writer),
        jws: Some(other),
    }];
    let r = verify(&[f.log()], &external, &f.jwks(), None).unwrap();
    one_problem(
        &r,
        &[
            "checkpoints of several issuers: http://127.0.0.1:8080 (first at ",
            "https://other.example (first at store)",
            "give --issuer",
        ],
    );
    let r = verify(&[f.log()], &external, &f.jwks(), Some(ours)).unwrap();
    one_problem(
        &r,
        &[
            "store: checkpoint of writer",
            "issued by https://other.example, not http://127.0.0.1:8080",
        ],
    );
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
}

#[cfg(unix)]
#[tokio::test]
async fn the_file_is_private_and_never_opened_through_a_symbolic_link() {
    use std::os::unix::fs::PermissionsExt as _;
    let f = fx("private");
    f.limit(0).await;
    let mode = std::fs::metadata(f.log()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    // Rotated away, and a link planted where the file was.
    std::fs::rename(f.log(), f.dir.join("log/audit.log.1")).unwrap();
    let target = f.dir.join("elsewhere");
    std::fs::write(&target, "").unwrap();
    std::os::unix::fs::symlink(&target, f.log()).unwrap();
    let e = f
        .app
        .runtime
        .audit
        .record_durable(Event::LimitTripped {
            kind: "site",
            site: "town".into(),
            count: 1,
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
    // The link removed, the chain goes on in a new file.
    std::fs::remove_file(f.log()).unwrap();
    f.limit(0).await;
    assert_eq!(f.events()[0]["event"], "audit.resumed");
}

#[tokio::test]
async fn a_batch_waits_for_the_files_lock_so_a_shared_file_is_never_cut_under_another_writer() {
    let f = fx("locked");
    f.limit(0).await;
    let before = f.lines().len();
    // Another process's batch in progress: it holds the lock.
    let other = std::fs::OpenOptions::new()
        .append(true)
        .open(f.log())
        .unwrap();
    other.try_lock().unwrap();
    let audit = f.app.runtime.audit.clone();
    let pending = tokio::spawn(async move {
        audit
            .record_durable(Event::LimitTripped {
                kind: "site",
                site: "town".into(),
                count: 1,
            })
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!pending.is_finished(), "the batch waits for the lock");
    assert_eq!(f.lines().len(), before, "nothing written without it");
    other.unlock().unwrap();
    pending.await.unwrap().unwrap();
    assert_eq!(f.lines().len(), before + 1);
    // Two writers in one file take turns: both chains whole.
    let second = Audit::open(
        f.app.config.audit.as_ref().unwrap(),
        f.app.runtime.clock.clone(),
    )
    .unwrap();
    let one = f.app.runtime.audit.clone();
    let two = second.clone();
    let event = || Event::LimitTripped {
        kind: "site",
        site: "town".into(),
        count: 1,
    };
    let a = tokio::spawn(async move {
        for _ in 0..50 {
            one.record_durable(event()).await.unwrap();
        }
    });
    let b = tokio::spawn(async move {
        for _ in 0..50 {
            two.record_durable(event()).await.unwrap();
        }
    });
    a.await.unwrap();
    b.await.unwrap();
    let r = verify(&[f.log()], &[], &f.jwks(), None).unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.summary.len(), 2, "{:?}", r.summary);
}
