//! `munjigi audit verify`: the command around [`munjigi::audit::verify`]:
//! its arguments, where the checkpoints come from (the store, or a saved
//! file), the JWKS, and the exit codes.
//!
//! Exit codes: 0 every chain is whole; 1 a record was changed, removed,
//! reordered or cut, a checkpoint is forged, missing or of another issuer,
//! or (checkpoints given) a writer has none and the store does not list it
//! (one line per problem, with file:line, writer and seq); 2 the check
//! could not be run (usage, an unreadable file, an unreachable store or
//! JWKS).

use munjigi::audit::checkpoint;
use munjigi::audit::verify::{self, External};
use std::path::PathBuf;
use std::time::Duration;

/// What the command was given.
#[derive(Debug, Clone)]
pub struct Args {
    /// Every writer's audit files (rotated ones too, in any order).
    pub files: Vec<PathBuf>,
    /// The store the gateways keep checkpoints in (`redis://…`).
    pub store: Option<String>,
    /// `--store` is a node of a Redis Cluster.
    pub cluster: bool,
    /// Saved checkpoints: one compact JWS per line.
    pub checkpoints: Option<PathBuf>,
    /// The gateway's JWKS (URL or file); several for keys rotated out.
    pub jwks: Vec<String>,
    /// The gateway's issuer (its public URL): every checkpoint's `iss`.
    pub issuer: Option<String>,
}

/// Why the command did not say "valid".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The check could not be run (exit 2).
    Usage(String),
    /// The chains failed; one problem per line, then the summary (exit 1).
    Invalid(Vec<String>),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Invalid(_) => 1,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Usage(m) => write!(f, "audit verify: {m}"),
            Self::Invalid(lines) => f.write_str(&lines.join("\n")),
        }
    }
}

/// Every key of every JWKS given, as one set.
async fn jwks(sources: &[String]) -> Result<serde_json::Value, Failure> {
    if sources.is_empty() {
        return Err(Failure::Usage(
            "--jwks URL|FILE is required: checkpoints are checked against the gateway's \
             published keys"
                .into(),
        ));
    }
    let mut keys = Vec::new();
    for src in sources {
        let set = munjigi_receipt::verify::load_jwks(src)
            .await
            .map_err(Failure::Usage)?;
        if let Some(k) = set.get("keys").and_then(|k| k.as_array()) {
            keys.extend(k.iter().cloned());
        }
    }
    Ok(serde_json::json!({ "keys": keys }))
}

async fn from_store(url: &str, cluster: bool) -> Result<Vec<External>, Failure> {
    use munjigi::store::redis::RedisStore;
    let timeout = Duration::from_secs(5);
    let store = if cluster {
        RedisStore::connect_cluster(url, timeout).await
    } else {
        RedisStore::connect(url, timeout).await
    }
    .map_err(|e| Failure::Usage(format!("--store: {e}")))?;
    let found = checkpoint::from_store(&store)
        .await
        .map_err(|e| Failure::Usage(format!("--store: {e}")))?;
    Ok(found
        .into_iter()
        .map(|(writer, jws)| External {
            source: "store".into(),
            writer: Some(writer),
            jws,
        })
        .collect())
}

fn from_file(path: &PathBuf) -> Result<Vec<External>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("--checkpoints {}: {e}", path.display())))?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| External {
            source: format!("{}:{}", path.display(), i + 1),
            writer: None,
            jws: Some(l.trim().to_owned()),
        })
        .collect())
}

/// The whole command: the summary on success.
pub async fn run(args: &Args) -> Result<String, Failure> {
    if args.files.is_empty() {
        return Err(Failure::Usage("give the audit files to verify".into()));
    }
    let jwks = jwks(&args.jwks).await?;
    let mut external = Vec::new();
    if let Some(url) = &args.store {
        external.extend(from_store(url, args.cluster).await?);
    }
    if let Some(path) = &args.checkpoints {
        external.extend(from_file(path)?);
    }
    let report = verify::verify(&args.files, &external, &jwks, args.issuer.as_deref())
        .map_err(Failure::Usage)?;
    if report.problems.is_empty() {
        let mut out = report.summary;
        out.push("audit log verified: every chain is whole".into());
        Ok(out.join("\n"))
    } else {
        let mut out = report.problems;
        out.extend(report.summary);
        Err(Failure::Invalid(out))
    }
}
