//! Revocation: whether a provider's CRL lists the signer certificate.
//!
//! A [`CrlPolicy`] belongs to one provider's [`super::TrustAnchors`]. Its CRLs
//! come from a file the operator configures (the provider's published CRL,
//! fetched by whatever mirrors it), from the provider's CRL URL, or from PEM
//! given in code; a file is re-read when its modification time or size
//! changes, so a new CRL takes effect at the next verification without a
//! restart. A CRL is used only if its issuer is the signer certificate's issuer
//! and that issuer's key verifies it.
//!
//! ## CRLs from a URL
//!
//! Fetched in the background, never on a login's path: [`CrlPolicy::from_url`]
//! spawns one task that fetches at once and then again before the earliest
//! nextUpdate (half the time left) and at least every
//! [`CrlRefresh::max_interval`], so a revocation the provider publishes shows
//! within that interval. Verification only reads the CRLs held in memory (a
//! lock and an `Arc` clone). Why a task rather than a lazy refresh on the
//! request path: verification is synchronous, a lazy refresh would still need
//! a spawned fetch (with single-flight bookkeeping) and would leave a quiet
//! provider's CRL un-refreshed until the first login after a long idle, which
//! with `crl_required` would refuse that login. The task holds only a weak
//! reference: when the policy is dropped (a config reload builds new adapters)
//! it ends at its next wake-up. A failed fetch (transport, non-200, not a CRL)
//! is logged as a warning with the provider id and retried after
//! [`CrlRefresh::retry_after`], doubling up to `max_interval`; the last good
//! CRLs stay in use until their nextUpdate, after which `required` decides
//! (below). Until the first fetch lands there is no CRL (a required policy
//! refuses results for those first moments after start).
//!
//! `required` decides what a missing, unreadable, foreign or stale (past
//! nextUpdate) CRL means: refuse the result ([`CmsError::CrlUnavailable`]) or
//! accept it unchecked (logged). A listed serial is always refused
//! ([`CmsError::Revoked`]), even on a stale CRL.
//!
//! Not here: OCSP, delta CRLs, indirect CRLs, the CRL distribution points in
//! certificates, or revocation reasons (any listed serial is revoked, whatever
//! the reason or date).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use openssl::asn1::Asn1Time;
use openssl::x509::{CrlStatus, X509Crl, X509};
use tracing::{debug, info, warn};

use super::CmsError;
use crate::http_client::HttpClient;

/// How a CRL fetched from a URL is kept fresh.
#[derive(Debug, Clone, Copy)]
pub struct CrlRefresh {
    /// Longest time between two successful fetches.
    pub max_interval: Duration,
    /// Wait after a failed fetch; doubled per failure in a row, up to
    /// `max_interval`. Also the shortest wait between two fetches.
    pub retry_after: Duration,
}

impl Default for CrlRefresh {
    /// Every 10 minutes at most; 30 s after a failure.
    fn default() -> Self {
        Self {
            max_interval: Duration::from_secs(600),
            retry_after: Duration::from_secs(30),
        }
    }
}

const PEM_BEGIN: &str = "-----BEGIN X509 CRL-----";
const PEM_END: &str = "-----END X509 CRL-----";

/// Where a provider's CRLs come from and whether one must be usable.
pub struct CrlPolicy {
    source: Source,
    required: bool,
}

enum Source {
    Fixed(Arc<Vec<X509Crl>>),
    File {
        path: PathBuf,
        cache: Mutex<Option<FileCrls>>,
    },
    Url(Arc<UrlCrls>),
}

/// The CRLs last fetched from a URL, shared with the refresh task.
struct UrlCrls {
    provider: String,
    url: String,
    http: HttpClient,
    held: Mutex<Option<Arc<Vec<X509Crl>>>>,
}

struct FileCrls {
    modified: Option<SystemTime>,
    len: u64,
    crls: Arc<Vec<X509Crl>>,
}

impl std::fmt::Debug for CrlPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match &self.source {
            Source::Fixed(c) => format!("{} fixed", c.len()),
            Source::File { path, .. } => path.display().to_string(),
            Source::Url(u) => u.url.clone(),
        };
        f.debug_struct("CrlPolicy")
            .field("source", &source)
            .field("required", &self.required)
            .finish()
    }
}

/// Every CRL in a PEM bundle (or one DER CRL). An input holding none is an error.
pub fn parse_crls(bytes: &[u8]) -> Result<Vec<X509Crl>, CmsError> {
    let bad = || CmsError::BadCrl;
    let Ok(text) = std::str::from_utf8(bytes) else {
        return X509Crl::from_der(bytes).map(|c| vec![c]).map_err(|_| bad());
    };
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(PEM_BEGIN) {
        let from = rest.get(start..).ok_or_else(bad)?;
        let end = from.find(PEM_END).ok_or_else(bad)? + PEM_END.len();
        let block = from.get(..end).ok_or_else(bad)?;
        out.push(X509Crl::from_pem(block.as_bytes()).map_err(|_| bad())?);
        rest = from.get(end..).ok_or_else(bad)?;
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

impl CrlPolicy {
    /// CRLs read from `path` when first needed and again whenever the file
    /// changes. A missing file is "no CRL", not an error here.
    pub fn from_file(path: impl Into<PathBuf>, required: bool) -> Self {
        Self {
            source: Source::File {
                path: path.into(),
                cache: Mutex::new(None),
            },
            required,
        }
    }

    /// CRLs fetched from `url` with `http` (the provider's TLS trust) by a
    /// background task on the current Tokio runtime (see the module docs);
    /// `provider` names the provider in the warnings. Outside a runtime nothing
    /// is fetched (logged), so no CRL is ever held.
    pub fn from_url(
        provider: &str,
        url: &str,
        http: HttpClient,
        refresh: CrlRefresh,
        required: bool,
    ) -> Self {
        let state = Arc::new(UrlCrls {
            provider: provider.to_owned(),
            url: url.to_owned(),
            http,
            held: Mutex::new(None),
        });
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(keep_fresh(Arc::downgrade(&state), refresh));
            }
            Err(_) => {
                warn!(
                    provider,
                    "no async runtime: the CRL URL will not be fetched"
                );
            }
        }
        Self {
            source: Source::Url(state),
            required,
        }
    }

    /// Fixed CRLs, from PEM (one or more) or DER.
    pub fn from_pem(bytes: &[u8], required: bool) -> Result<Self, CmsError> {
        Ok(Self {
            source: Source::Fixed(Arc::new(parse_crls(bytes)?)),
            required,
        })
    }

    pub fn required(&self) -> bool {
        self.required
    }

    /// The current CRLs, or why there are none usable.
    fn current(&self) -> Result<Arc<Vec<X509Crl>>, &'static str> {
        match &self.source {
            Source::Fixed(c) => Ok(Arc::clone(c)),
            Source::File { path, cache } => load_file(path, cache),
            Source::Url(u) => u
                .held
                .lock()
                .map_err(|_| "the CRL cache lock is poisoned")?
                .clone()
                .ok_or("no CRL fetched from the URL yet"),
        }
    }

    /// Refuses `cert` (issued by `issuer`) if a CRL from `issuer` lists it, and,
    /// when required, if no such CRL is current at `now` (Unix seconds).
    pub(super) fn check(&self, cert: &X509, issuer: &X509, now: i64) -> Result<(), CmsError> {
        let crls = match self.current() {
            Ok(c) => c,
            Err(why) => return self.unusable(why),
        };
        let issuer_name = issuer.subject_name().to_der().map_err(super::ossl)?;
        let issuer_key = issuer.public_key().map_err(super::ossl)?;
        let now_t = Asn1Time::from_unix(now).map_err(super::ossl)?;
        let mut fresh = false;
        let mut from_issuer = false;
        for crl in crls.iter() {
            let same_issuer = crl.issuer_name().to_der().is_ok_and(|n| n == issuer_name);
            if !same_issuer || !crl.verify(&issuer_key).unwrap_or(false) {
                continue;
            }
            from_issuer = true;
            if let CrlStatus::Revoked(_) = crl.get_by_serial(cert.serial_number()) {
                return Err(CmsError::Revoked);
            }
            let started = *crl.last_update() <= now_t;
            let not_stale = crl.next_update().is_some_and(|n| *n >= now_t);
            fresh |= started && not_stale;
        }
        if !from_issuer {
            return self.unusable("no CRL from the signer's issuer");
        }
        if !fresh {
            return self.unusable("the CRL is past its nextUpdate");
        }
        Ok(())
    }

    fn unusable(&self, why: &'static str) -> Result<(), CmsError> {
        if self.required {
            warn!(
                reason = why,
                "no usable CRL; refusing the result (crl_required)"
            );
            Err(CmsError::CrlUnavailable)
        } else {
            warn!(reason = why, "no usable CRL; revocation not checked");
            Ok(())
        }
    }
}

/// Fetches the CRL from the URL once: the parsed CRLs, or why not.
async fn fetch(u: &UrlCrls) -> Result<Vec<X509Crl>, String> {
    let resp = u
        .http
        .get(&u.url, http::HeaderMap::new())
        .await
        .map_err(|e| e.to_string())?;
    if resp.status != http::StatusCode::OK {
        return Err(format!("HTTP {}", resp.status.as_u16()));
    }
    parse_crls(&resp.body).map_err(|e| e.to_string())
}

/// How long until the earliest nextUpdate among `crls` (zero if one is past
/// or has none).
fn until_next_update(crls: &[X509Crl]) -> Duration {
    let Ok(now) = Asn1Time::days_from_now(0) else {
        return Duration::ZERO;
    };
    crls.iter()
        .map(|c| {
            c.next_update()
                .and_then(|n| now.diff(n).ok())
                .map_or(0, |d| i64::from(d.days) * 86_400 + i64::from(d.secs))
        })
        .min()
        .map_or(Duration::ZERO, |s| {
            Duration::from_secs(u64::try_from(s).unwrap_or(0))
        })
}

/// The refresh task of a URL source: fetch, then sleep until the next fetch is
/// due; ends when the policy is gone.
async fn keep_fresh(state: Weak<UrlCrls>, refresh: CrlRefresh) {
    let shortest = refresh.retry_after.min(refresh.max_interval);
    let mut backoff = shortest;
    loop {
        let Some(u) = state.upgrade() else {
            return;
        };
        let wait = match fetch(&u).await {
            Ok(crls) => {
                backoff = shortest;
                let wait = (until_next_update(&crls) / 2).clamp(shortest, refresh.max_interval);
                debug!(provider = %u.provider, crls = crls.len(), next_fetch_secs = wait.as_secs(), "CRL fetched");
                if let Ok(mut held) = u.held.lock() {
                    if held.is_none() {
                        info!(provider = %u.provider, "CRL fetched from its URL");
                    }
                    *held = Some(Arc::new(crls));
                }
                wait
            }
            Err(e) => {
                let holding = u.held.lock().map(|h| h.is_some()).unwrap_or(false);
                warn!(
                    provider = %u.provider,
                    url = %u.url,
                    error = %e,
                    keeping_last_good = holding,
                    retry_secs = backoff.as_secs_f32(),
                    "CRL fetch failed"
                );
                let wait = backoff;
                backoff = backoff.saturating_mul(2).min(refresh.max_interval);
                wait
            }
        };
        drop(u);
        tokio::time::sleep(wait).await;
    }
}

fn load_file(
    path: &Path,
    cache: &Mutex<Option<FileCrls>>,
) -> Result<Arc<Vec<X509Crl>>, &'static str> {
    let meta = std::fs::metadata(path).map_err(|_| "the CRL file cannot be read")?;
    let modified = meta.modified().ok();
    let len = meta.len();
    let mut cached = cache.lock().map_err(|_| "the CRL cache lock is poisoned")?;
    if let Some(c) = cached.as_ref() {
        if c.modified == modified && c.len == len && modified.is_some() {
            return Ok(Arc::clone(&c.crls));
        }
    }
    let bytes = std::fs::read(path).map_err(|_| "the CRL file cannot be read")?;
    let crls = Arc::new(parse_crls(&bytes).map_err(|_| "the CRL file holds no valid CRL")?);
    *cached = Some(FileCrls {
        modified,
        len,
        crls: Arc::clone(&crls),
    });
    Ok(crls)
}
