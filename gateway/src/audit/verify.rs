//! `munjigi audit verify`: recompute every writer's chain from its files and
//! hold it against the signed checkpoints.
//!
//! Records are grouped by `writer` whatever file they are in (one file per
//! replica, rotated files in any order, or several writers in one file), so
//! each chain is checked as one sequence, `seq` 1 upwards. What each kind of
//! tampering looks like here:
//! - a changed record: its hash does not match its body (or, if the hash
//!   was recomputed, the next record's `prev` does not match it; if every
//!   later hash was recomputed, a checkpoint's head does not);
//! - a removed record: a gap in `seq`;
//! - reordered records: within one file a writer's `seq` must increase;
//! - a cut tail: the chain ends before a checkpoint's `seq`;
//! - a whole writer removed: the store's index names a writer with no
//!   records;
//! - a forged checkpoint: its JWS does not verify against the JWKS;
//! - a checkpoint of another gateway that shares a key with this one (a
//!   JWKS of several gateways, or a key reused): its `iss` is not the
//!   issuer asked for, or, when none is, not the one all others name;
//! - a whole writer added: when checkpoints are given (the store, a saved
//!   file), a writer with no valid checkpoint anywhere that the store does
//!   not list. Its records could be anyone's: appending a made-up chain
//!   needs no key, only write access to the file. A process killed before
//!   its first checkpoint (within `checkpoint_secs` of its start, with no
//!   graceful stop) looks exactly the same, so the message says both and
//!   leaves it to the operator to confirm.
//!
//! Every problem names the place (`file:line`, writer, `seq`). Not here:
//! reading the store or the JWKS (the command does), or judging what the
//! events mean.

use super::chain::{self, genesis};
use super::checkpoint::{self, Claims};
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead as _;
use std::path::PathBuf;

/// A checkpoint from outside the files (the store, a saved file).
#[derive(Debug, Clone)]
pub struct External {
    /// Where it came from, for messages (`store`, a file name).
    pub source: String,
    /// The writer the source files it under.
    pub writer: Option<String>,
    /// The JWS; None when the source names a writer but holds no checkpoint.
    pub jws: Option<String>,
}

/// What the check found.
#[derive(Debug, Default)]
pub struct Report {
    /// Tampering or damage, one line each, with its place. Empty = valid.
    pub problems: Vec<String>,
    /// What was checked, per writer.
    pub summary: Vec<String>,
}

struct Rec {
    file: usize,
    line: usize,
    seq: u64,
    hash: String,
    prev: String,
    checkpoint: Option<String>,
}

struct Checked<'a> {
    files: &'a [PathBuf],
    report: Report,
}

impl Checked<'_> {
    fn at(&self, file: usize, line: usize) -> String {
        let name = self
            .files
            .get(file)
            .map_or_else(String::new, |p| p.display().to_string());
        format!("{name}:{line}")
    }
    fn problem(&mut self, p: String) {
        self.report.problems.push(p);
    }
}

fn when(unix: u64) -> String {
    munjigi_receipt::verify::iso8601(unix)
}

/// Verifies `files` against `external` checkpoints, checking every
/// checkpoint's signature with `jwks` and its `iss` against `issuer` (or,
/// without one, against the other checkpoints'). Err: a file could not be
/// read.
pub fn verify(
    files: &[PathBuf],
    external: &[External],
    jwks: &serde_json::Value,
    issuer: Option<&str>,
) -> Result<Report, String> {
    let mut c = Checked {
        files,
        report: Report::default(),
    };
    let mut chains: BTreeMap<String, Vec<Rec>> = BTreeMap::new();
    for (fi, path) in files.iter().enumerate() {
        let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut last: HashMap<String, (u64, usize)> = HashMap::new();
        for (li, line) in std::io::BufReader::new(f).split(b'\n').enumerate() {
            let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
            let n = li + 1;
            let Some(rec) = read_line(&mut c, fi, n, &line) else {
                continue;
            };
            let (writer, rec) = rec;
            if let Some((seq, at)) = last.get(&writer) {
                if rec.seq <= *seq {
                    let (before, here) = (c.at(fi, *at), c.at(fi, n));
                    c.problem(format!(
                        "{here}: writer {writer} seq {} comes after seq {seq} ({before}): records out of order",
                        rec.seq
                    ));
                }
            }
            last.insert(writer.clone(), (rec.seq, n));
            chains.entry(writer).or_default().push(rec);
        }
    }
    // Checkpoints: in the files, then from outside.
    let mut sealed: BTreeMap<String, Vec<(Claims, String)>> = BTreeMap::new();
    // Every verified checkpoint's issuer, with its first place.
    let mut issuers: BTreeMap<String, String> = BTreeMap::new();
    for (writer, recs) in &chains {
        for r in recs {
            let Some(jws) = &r.checkpoint else { continue };
            let here = c.at(r.file, r.line);
            match checkpoint::open(jws, jwks) {
                Err(e) => c.problem(format!(
                    "{here}: writer {writer} seq {}: checkpoint signature: {e}",
                    r.seq
                )),
                Ok(claims) if claims.writer != *writer => c.problem(format!(
                    "{here}: writer {writer} seq {}: a checkpoint of another writer ({})",
                    r.seq, claims.writer
                )),
                Ok(claims) => {
                    issuers
                        .entry(claims.iss.clone())
                        .or_insert_with(|| here.clone());
                    check_issuer(&mut c, issuer, &claims, &here);
                    sealed
                        .entry(writer.clone())
                        .or_default()
                        .push((claims, here.clone()));
                }
            }
        }
    }
    for e in external {
        let Some(jws) = &e.jws else {
            c.problem(format!(
                "{}: writer {} is listed but its checkpoint is gone",
                e.source,
                e.writer.as_deref().unwrap_or("?")
            ));
            continue;
        };
        match checkpoint::open(jws, jwks) {
            Err(err) => c.problem(format!(
                "{}: checkpoint of writer {}: {err}",
                e.source,
                e.writer.as_deref().unwrap_or("?")
            )),
            Ok(claims) if e.writer.as_ref().is_some_and(|w| *w != claims.writer) => {
                c.problem(format!(
                    "{}: the checkpoint filed under writer {} is writer {}'s",
                    e.source,
                    e.writer.as_deref().unwrap_or("?"),
                    claims.writer
                ));
            }
            Ok(claims) if !chains.contains_key(&claims.writer) => c.problem(format!(
                "writer {}: no records in the given files, but {} has a checkpoint at seq {} ({}): its file is missing",
                claims.writer,
                e.source,
                claims.seq,
                when(claims.time)
            )),
            Ok(claims) => {
                issuers
                    .entry(claims.iss.clone())
                    .or_insert_with(|| e.source.clone());
                check_issuer(&mut c, issuer, &claims, &e.source);
                sealed
                    .entry(claims.writer.clone())
                    .or_default()
                    .push((claims, e.source.clone()));
            }
        }
    }
    let issued = match (issuer, issuers.len()) {
        (Some(iss), _) => Some(format!("checkpoints checked against the issuer {iss}")),
        (None, 0) => None,
        (None, 1) => issuers
            .keys()
            .next()
            .map(|iss| format!("checkpoints issued by {iss} (give --issuer to require it)")),
        (None, _) => {
            let all: Vec<String> = issuers
                .iter()
                .map(|(iss, at)| format!("{iss} (first at {at})"))
                .collect();
            c.problem(format!(
                "checkpoints of several issuers: {}: the keys given sign for more than one gateway; give --issuer to say which is this one",
                all.join(", ")
            ));
            None
        }
    };
    if !external.is_empty() {
        for (writer, recs) in &chains {
            let listed = external.iter().any(|e| e.writer.as_deref() == Some(writer));
            if listed || sealed.get(writer).is_some_and(|s| !s.is_empty()) {
                continue;
            }
            let from = recs
                .iter()
                .min_by_key(|r| r.seq)
                .map_or_else(String::new, |r| format!(" from {}", c.at(r.file, r.line)));
            c.problem(format!(
                "writer {writer}: {} record(s){from} with no checkpoint (in the files or the checkpoints given) and not in the store's index of writers: \
                 records anyone who can write the file could have added, or a process stopped before its first checkpoint \
                 (killed within checkpoint_secs of its start, without a graceful stop); confirm which before relying on them",
                recs.len()
            ));
        }
    }
    for (writer, recs) in &mut chains {
        check_chain(
            &mut c,
            writer,
            recs,
            sealed.get(writer).map_or(&[][..], Vec::as_slice),
            !external.is_empty(),
        );
    }
    c.report.summary.extend(issued);
    Ok(c.report)
}

/// A checkpoint whose `iss` is not the issuer asked for.
fn check_issuer(c: &mut Checked<'_>, issuer: Option<&str>, claims: &Claims, place: &str) {
    if let Some(iss) = issuer.filter(|iss| *iss != claims.iss) {
        c.problem(format!(
            "{place}: checkpoint of writer {} seq {}: issued by {}, not {iss}",
            claims.writer, claims.seq, claims.iss
        ));
    }
}

/// One line: its writer and record, or None (a problem was reported).
fn read_line(c: &mut Checked<'_>, fi: usize, n: usize, line: &[u8]) -> Option<(String, Rec)> {
    let here = c.at(fi, n);
    let Some((body, claimed)) = chain::split(line) else {
        c.problem(format!(
            "{here}: not an audit record (no `hash` member at its end)"
        ));
        return None;
    };
    let v: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(serde_json::Value::Object(v)) => serde_json::Value::Object(v),
        _ => {
            c.problem(format!("{here}: not an audit record (not a JSON object)"));
            return None;
        }
    };
    let (Some(seq), Some(writer), Some(prev), Some(_), Some(event)) = (
        v.get("seq").and_then(|s| s.as_u64()),
        v.get("writer").and_then(|s| s.as_str()),
        v.get("prev").and_then(|s| s.as_str()),
        v.get("time").and_then(|s| s.as_u64()),
        v.get("event").and_then(|s| s.as_str()),
    ) else {
        c.problem(format!(
            "{here}: not an audit record (seq, writer, time, event or prev missing)"
        ));
        return None;
    };
    if chain::sha256_hex(&body) != claimed {
        c.problem(format!(
            "{here}: writer {writer} seq {seq}: record changed (its hash does not match its content)"
        ));
    }
    let checkpoint = (event == "audit.checkpoint")
        .then(|| v.get("jws").and_then(|j| j.as_str()).map(str::to_owned))
        .flatten();
    Some((
        writer.to_owned(),
        Rec {
            file: fi,
            line: n,
            seq,
            hash: claimed.to_owned(),
            prev: prev.to_owned(),
            checkpoint,
        },
    ))
}

fn check_chain(
    c: &mut Checked<'_>,
    writer: &str,
    recs: &mut [Rec],
    sealed: &[(Claims, String)],
    external: bool,
) {
    recs.sort_by_key(|r| r.seq);
    let mut expected = 1u64;
    let mut prev_hash = genesis(writer);
    let mut prev_at: Option<String> = None;
    let mut by_seq: HashMap<u64, usize> = HashMap::new();
    for (i, r) in recs.iter().enumerate() {
        let here = c.at(r.file, r.line);
        if r.seq < expected {
            let first = by_seq
                .get(&r.seq)
                .and_then(|j| recs.get(*j))
                .map_or_else(String::new, |f| c.at(f.file, f.line));
            c.problem(format!(
                "{here}: writer {writer} seq {} appears twice (also at {first})",
                r.seq
            ));
            continue;
        }
        if r.seq > expected {
            let range = if r.seq - 1 == expected {
                format!("seq {expected} is")
            } else {
                format!("seq {expected}..{} are", r.seq - 1)
            };
            c.problem(format!(
                "writer {writer}: {range} missing (removed before {here})"
            ));
        } else if r.prev != prev_hash {
            let before = prev_at
                .clone()
                .unwrap_or_else(|| "the writer's genesis".into());
            c.problem(format!(
                "{here}: writer {writer} seq {}: does not follow seq {} ({before}): its prev is not that record's hash",
                r.seq,
                r.seq - 1
            ));
        }
        by_seq.insert(r.seq, i);
        expected = r.seq + 1;
        prev_hash = r.hash.clone();
        prev_at = Some(here);
    }
    let last = recs.last().map(|r| (r.seq, c.at(r.file, r.line)));
    let mut newest: Option<&(Claims, String)> = None;
    for s in sealed {
        let (claims, source) = s;
        match by_seq.get(&claims.seq).and_then(|i| recs.get(*i)) {
            Some(r) if r.hash != claims.head => {
                let here = c.at(r.file, r.line);
                c.problem(format!(
                    "{here}: writer {writer} seq {}: not the record the checkpoint of {} sealed ({source}): the chain was rewritten",
                    claims.seq,
                    when(claims.time)
                ));
            }
            Some(_) => {}
            None if last.as_ref().is_none_or(|(seq, _)| *seq < claims.seq) => {
                let ends = last.as_ref().map_or_else(
                    || "has no records".to_owned(),
                    |(seq, at)| format!("ends at seq {seq} ({at})"),
                );
                c.problem(format!(
                    "writer {writer}: truncated: the chain {ends} but the checkpoint of {} ({source}) covers seq {}",
                    when(claims.time),
                    claims.seq
                ));
            }
            // A gap, already reported.
            None => {}
        }
        if newest.is_none_or(|n| n.0.seq < claims.seq) {
            newest = Some(s);
        }
    }
    let count = recs.len();
    let (last_seq, _) = last.unwrap_or((0, String::new()));
    let sealed_note = match newest {
        Some((claims, source)) => format!(
            "checkpoint at seq {} ({}, {source})",
            claims.seq,
            when(claims.time)
        ),
        None => "no checkpoint".to_owned(),
    };
    let warning = if external {
        ""
    } else {
        "; no store or checkpoint file given: a cut tail cannot be seen"
    };
    c.report.summary.push(format!(
        "writer {writer}: {count} record(s), seq 1..{last_seq}; {sealed_note}{warning}"
    ));
}
