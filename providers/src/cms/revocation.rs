//! Revocation: whether a provider's CRLs list a certificate of the chain.
//!
//! A [`CrlPolicy`] belongs to one provider's [`super::TrustAnchors`]. Its CRLs
//! come from a file the operator configures (the provider's published CRLs,
//! fetched by whatever mirrors them), from the provider's CRL URL, or from PEM
//! given in code; a file is re-read when its modification time or size
//! changes, so a new CRL takes effect at the next verification without a
//! restart. Every certificate of the chain below the root is checked against
//! a CRL of its own issuer: the signer against its CA's CRL, the CA against
//! the root's (an ARL). A CRL is used for a certificate only if its issuer
//! name is the certificate's issuer, that issuer's key verifies it, and it
//! provably covers the certificate (below).
//!
//! ## What a CRL must be to be used
//!
//! - **Complete.** A delta CRL (deltaCRLIndicator) lists only what changed
//!   since a base CRL; taken alone it would un-revoke everything else, so it
//!   is never used (delta CRLs are not supported; the provider's full CRL is).
//! - **Understood.** A CRL with a critical extension (or a critical entry
//!   extension) other than those below is not used (RFC 5280 §5.2): it may
//!   narrow what the list means (an indirect CRL's certificateIssuer, say).
//! - **Covering the certificate.** A CRL with an issuingDistributionPoint is a
//!   partition: it is used only when it provably covers the certificate: no
//!   onlySomeReasons, not indirect, not onlyContainsAttributeCerts,
//!   onlyContainsUserCerts only for a leaf, onlyContainsCACerts only for a CA,
//!   and a distributionPoint fullName (when present) equal to one of the
//!   certificate's own cRLDistributionPoints (without reasons or cRLIssuer).
//!   Anything else is "no CRL for this certificate", not "not revoked".
//! - **Not older than one already seen** (below).
//!
//! ## Rollback
//!
//! A source that serves an older CRL (a stale mirror, a replayed download, a
//! file put back from a backup) must not un-revoke a serial. A [`CrlMemory`]
//! keeps, per issuer (name and key) and partition (the CRL's
//! issuingDistributionPoint), the newest CRL seen: the highest cRLNumber, or
//! without one the latest thisUpdate. An older CRL is refused (a warning
//! names the provider, once per such CRL) and the newer one stays in use, even
//! when the source no longer serves it at all, until a newer CRL replaces it.
//! Only CRLs whose signature verified are remembered, so a forged CRL with a
//! huge number cannot block the real ones.
//!
//! The memory is in-process and per replica: the gateway keeps one per
//! provider on its runtime, so a config reload keeps it, but a restart or a
//! new replica starts empty and takes the first CRL its source serves. What
//! it protects against is a rollback while a replica runs; across restarts the
//! source itself (TLS to the provider, the mirror's file) must be trusted.
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
//! ## Missing CRLs and revocation dates
//!
//! `required` decides what a missing, unreadable, foreign, non-covering or
//! stale (past nextUpdate) CRL means, at every level of the chain alike:
//! refuse the result ([`CmsError::CrlUnavailable`]) or accept it unchecked
//! (logged). So a required policy needs the root's CRL as well as the CA's.
//! A listed serial is always refused ([`CmsError::Revoked`], or
//! [`CmsError::CaRevoked`] for a CA), even on a stale CRL, whatever its
//! reason. At login the question is "revoked now?", so any listed serial
//! refuses. A long-term check ([`CrlPolicy::long_term`], `verify-receipt`)
//! asks "was it revoked when it signed?": a serial whose revocationDate is
//! after the signing time does not fail a signature made before it.
//!
//! Not here: OCSP, delta and indirect CRLs, fetching the distribution points
//! a certificate names, or revocation reasons.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, SystemTime};

use der::asn1::ObjectIdentifier;
use der::Decode as _;
use openssl::asn1::{Asn1IntegerRef, Asn1Time};
use openssl::x509::{CrlStatus, X509Crl, X509};
use tracing::{debug, info, warn};
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::crl::dp::IssuingDistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::CrlDistributionPoints;
use x509_cert::Certificate;

use super::CmsError;
use crate::http_client::HttpClient;

const ID_CE_CRL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.20");
const ID_CE_DELTA_CRL_INDICATOR: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.27");
/// Spelled out: `x509-cert` 0.2's `IssuingDistributionPoint::OID` is wrong.
const ID_CE_ISSUING_DISTRIBUTION_POINT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.5.29.28");
const ID_CE_AUTHORITY_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
const ID_CE_ISSUER_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.18");
const ID_CE_FRESHEST_CRL: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.46");
const ID_CE_REASON_CODE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.21");
const ID_CE_INVALIDITY_DATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.24");
const ID_CE_CRL_DISTRIBUTION_POINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
const ID_CE_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

/// At most this many (issuer, partition) pairs are remembered per provider;
/// only CRLs that verified under an issuer of a verified chain get here.
const MAX_REMEMBERED: usize = 256;

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
    /// Revocation dates against the signing time rather than "listed at all".
    long_term: bool,
    /// The provider, as the warnings name it.
    provider: String,
    memory: Arc<CrlMemory>,
    /// Why a check went unchecked at some level (not required), if one did:
    /// for a verifier that must not say "checked" (`verify-receipt`).
    unchecked: Mutex<Option<&'static str>>,
}

enum Source {
    Fixed(Arc<Vec<Arc<Crl>>>),
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
    held: Mutex<Option<Arc<Vec<Arc<Crl>>>>>,
}

struct FileCrls {
    modified: Option<SystemTime>,
    len: u64,
    crls: Arc<Vec<Arc<Crl>>>,
}

/// One CRL as read: OpenSSL's for the signature and the serial lookup, and
/// what `x509-cert` reads of the fields OpenSSL's safe API does not expose.
struct Crl {
    x509: X509Crl,
    issuer: Vec<u8>,
    this_update: i64,
    next_update: Option<i64>,
    /// cRLNumber, unsigned big-endian without leading zeros.
    number: Option<Vec<u8>>,
    kind: Kind,
    /// The issuingDistributionPoint's DER (empty: none): the partition, part
    /// of what the memory is keyed by.
    idp_der: Vec<u8>,
    idp: Option<IssuingDistributionPoint>,
    /// The issuer (see [`issuer_id`]) whose key verified the signature.
    verified_by: Mutex<Option<[u8; 32]>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Complete,
    /// deltaCRLIndicator: not a complete CRL.
    Delta,
    /// A critical extension this module does not understand.
    UnknownCritical,
}

/// What a CRL's coverage depends on: is the certificate a CA, and which
/// distribution points does it name.
struct Covered {
    ca: bool,
    points: Vec<GeneralName>,
}

impl Covered {
    fn of(cert: &Certificate) -> Self {
        let exts = cert
            .tbs_certificate
            .extensions
            .as_deref()
            .unwrap_or_default();
        let ca = exts
            .iter()
            .filter(|e| e.extn_id == ID_CE_BASIC_CONSTRAINTS)
            .any(|e| {
                x509_cert::ext::pkix::BasicConstraints::from_der(e.extn_value.as_bytes())
                    .is_ok_and(|b| b.ca)
            });
        let points = exts
            .iter()
            .filter(|e| e.extn_id == ID_CE_CRL_DISTRIBUTION_POINTS)
            .filter_map(|e| CrlDistributionPoints::from_der(e.extn_value.as_bytes()).ok())
            .flat_map(|d| d.0)
            .filter(|dp| dp.reasons.is_none() && dp.crl_issuer.is_none())
            .filter_map(|dp| match dp.distribution_point {
                Some(DistributionPointName::FullName(names)) => Some(names),
                _ => None,
            })
            .flatten()
            .collect();
        Self { ca, points }
    }
}

impl Crl {
    fn read(x509: X509Crl) -> Result<Self, CmsError> {
        let der = x509.to_der().map_err(|_| CmsError::BadCrl)?;
        let list = CertificateList::from_der(&der).map_err(|_| CmsError::BadCrl)?;
        let tbs = list.tbs_cert_list;
        let unix = |t: x509_cert::time::Time| {
            i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
        };
        let mut crl = Self {
            // As OpenSSL encodes it, as it encodes the issuer's subject.
            issuer: x509.issuer_name().to_der().map_err(|_| CmsError::BadCrl)?,
            this_update: unix(tbs.this_update),
            next_update: tbs.next_update.map(unix),
            number: None,
            kind: Kind::Complete,
            idp_der: Vec::new(),
            idp: None,
            verified_by: Mutex::new(None),
            x509,
        };
        let known = [
            ID_CE_CRL_NUMBER,
            ID_CE_ISSUING_DISTRIBUTION_POINT,
            ID_CE_AUTHORITY_KEY_IDENTIFIER,
            ID_CE_ISSUER_ALT_NAME,
            ID_CE_FRESHEST_CRL,
        ];
        for e in tbs.crl_extensions.iter().flatten() {
            let value = e.extn_value.as_bytes();
            if e.extn_id == ID_CE_CRL_NUMBER {
                let n = der::asn1::Uint::from_der(value).map_err(|_| CmsError::BadCrl)?;
                let bytes = n.as_bytes();
                let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
                crl.number = Some(bytes.get(first..).unwrap_or_default().to_vec());
            } else if e.extn_id == ID_CE_DELTA_CRL_INDICATOR {
                crl.kind = Kind::Delta;
            } else if e.extn_id == ID_CE_ISSUING_DISTRIBUTION_POINT {
                crl.idp =
                    Some(IssuingDistributionPoint::from_der(value).map_err(|_| CmsError::BadCrl)?);
                crl.idp_der = value.to_vec();
            } else if e.critical && !known.contains(&e.extn_id) && crl.kind == Kind::Complete {
                crl.kind = Kind::UnknownCritical;
            }
        }
        let entry_known = [ID_CE_REASON_CODE, ID_CE_INVALIDITY_DATE];
        let odd_entry = tbs
            .revoked_certificates
            .iter()
            .flatten()
            .flat_map(|r| r.crl_entry_extensions.iter().flatten())
            .any(|e| e.critical && !entry_known.contains(&e.extn_id));
        if odd_entry && crl.kind == Kind::Complete {
            crl.kind = Kind::UnknownCritical;
        }
        Ok(crl)
    }

    /// Whether `issuer` (name `name`, id `id`) signed this CRL; remembered.
    fn signed_by(&self, issuer: &X509, name: &[u8], id: &[u8; 32]) -> bool {
        if self.issuer != name {
            return false;
        }
        let mut by = self
            .verified_by
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if by.as_ref() == Some(id) {
            return true;
        }
        let ok = issuer
            .public_key()
            .and_then(|k| self.x509.verify(&k))
            .unwrap_or(false);
        if ok {
            *by = Some(*id);
        }
        ok
    }

    /// Whether this CRL provably covers a certificate (see the module docs).
    fn covers(&self, cert: &Covered) -> bool {
        let Some(idp) = &self.idp else {
            return true;
        };
        if idp.only_some_reasons.is_some()
            || idp.indirect_crl
            || idp.only_contains_attribute_certs
            || (idp.only_contains_user_certs && cert.ca)
            || (idp.only_contains_ca_certs && !cert.ca)
        {
            return false;
        }
        match &idp.distribution_point {
            None => true,
            Some(DistributionPointName::FullName(names)) => {
                names.iter().any(|n| cert.points.contains(n))
            }
            Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => false,
        }
    }

    /// Whether this CRL is older than `seen` (of the same issuer and
    /// partition): by cRLNumber, and by thisUpdate when the numbers are
    /// equal or absent.
    fn older_than(&self, seen: &Crl) -> bool {
        match (&self.number, &seen.number) {
            (Some(a), Some(b)) if a != b => (a.len(), a) < (b.len(), b),
            _ => self.this_update < seen.this_update,
        }
    }

    /// Whether it is in force at `now`, clocks [`CRL_SKEW_SECS`] apart.
    fn is_current(&self, now: i64) -> bool {
        self.this_update <= now.saturating_add(CRL_SKEW_SECS)
            && self.next_update.is_some_and(|n| n >= now)
    }

    /// The same CRL (issuer, partition, number and thisUpdate).
    fn same_as(&self, other: &Crl) -> bool {
        self.issuer == other.issuer
            && self.idp_der == other.idp_der
            && self.number == other.number
            && self.this_update == other.this_update
    }

    fn number_hex(&self) -> String {
        self.number
            .as_deref()
            .map_or_else(|| "-".into(), hex::encode)
    }
}

/// How far a CRL's thisUpdate may be ahead of our clock: further ahead, it
/// is not used (nor remembered) yet, so a CRL dated in the future cannot pin
/// the memory and refuse every login until then.
const CRL_SKEW_SECS: i64 = 300;

/// At most this many CRLs are held from one source (see [`merged`]).
const MAX_HELD: usize = 64;

/// What a source holds after serving `fresh`: everything it serves now, then
/// what it served before and no longer does (most recent first, bounded).
/// So a newer CRL served once is still offered to the memory at the next
/// check, even when the source went back to an older one before any login
/// checked: the rollback memory does not depend on a login falling between.
fn merged(previous: Option<&[Arc<Crl>]>, fresh: Vec<Arc<Crl>>) -> Vec<Arc<Crl>> {
    let mut out = fresh;
    for old in previous.unwrap_or_default() {
        if out.len() >= MAX_HELD {
            break;
        }
        if !out.iter().any(|n| n.same_as(old)) {
            out.push(Arc::clone(old));
        }
    }
    out
}

/// What one provider's CRLs have said: per issuer and partition, the newest
/// CRL that verified (see "Rollback" in the module docs). In-process; share
/// one across the policies a provider gets over config reloads.
#[derive(Default)]
pub struct CrlMemory {
    newest: Mutex<HashMap<[u8; 32], Seen>>,
}

impl std::fmt::Debug for CrlMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.newest.lock().map(|m| m.len()).unwrap_or_default();
        f.debug_struct("CrlMemory").field("remembered", &n).finish()
    }
}

struct Seen {
    issuer: [u8; 32],
    crl: Arc<Crl>,
    /// The last older CRL refused (its number and thisUpdate), so it is
    /// warned about once, not at every login.
    refused: Option<(Option<Vec<u8>>, i64)>,
}

impl CrlMemory {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Offers `crl` (verified, complete, from `issuer`): remembered unless an
    /// already seen CRL of its issuer and partition is newer. False only when
    /// the memory is full and had nothing of its partition: then it is used
    /// as it comes, unremembered.
    fn offer(&self, provider: &str, issuer: &[u8; 32], crl: &Arc<Crl>) -> bool {
        let mut key = openssl::sha::Sha256::new();
        key.update(issuer);
        key.update(&crl.idp_der);
        let key = key.finish();
        let mut newest = self.newest.lock().unwrap_or_else(PoisonError::into_inner);
        let full = newest.len() >= MAX_REMEMBERED;
        match newest.get_mut(&key) {
            None if full => return false,
            None => {
                newest.insert(
                    key,
                    Seen {
                        issuer: *issuer,
                        crl: Arc::clone(crl),
                        refused: None,
                    },
                );
            }
            Some(seen) if Arc::ptr_eq(&seen.crl, crl) => {}
            Some(seen) if crl.older_than(&seen.crl) => {
                let this = (crl.number.clone(), crl.this_update);
                if seen.refused.as_ref() != Some(&this) {
                    warn!(
                        provider,
                        crl_number = %crl.number_hex(),
                        this_update = crl.this_update,
                        newest_crl_number = %seen.crl.number_hex(),
                        newest_this_update = seen.crl.this_update,
                        "an older CRL than one already seen is refused; the newer one stays in use"
                    );
                    seen.refused = Some(this);
                }
            }
            Some(seen) => {
                seen.crl = Arc::clone(crl);
                seen.refused = None;
            }
        }
        true
    }

    /// The newest CRL of every partition of `issuer`.
    fn of(&self, issuer: &[u8; 32]) -> Vec<Arc<Crl>> {
        self.newest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|s| s.issuer == *issuer)
            .map(|s| Arc::clone(&s.crl))
            .collect()
    }
}

/// An issuer as the memory knows it: its name and its key, both as its
/// certificate's DER carries them. Read with `x509-cert`, not OpenSSL: OpenSSL 3
/// decodes and re-encodes a public key through its provider machinery, which
/// cost more than the rest of a login's revocation checks together. A root
/// that `x509-cert` cannot read (not strict DER) gets OpenSSL's encoding
/// instead: each certificate still has one id, always the same.
fn issuer_id(issuer: &X509) -> Result<[u8; 32], CmsError> {
    use der::Encode as _;
    let der = issuer.to_der().map_err(super::ossl)?;
    let parts = Certificate::from_der(&der).ok().and_then(|cert| {
        let tbs = &cert.tbs_certificate;
        Some((
            tbs.subject.to_der().ok()?,
            tbs.subject_public_key_info.to_der().ok()?,
        ))
    });
    let (name, key) = match parts {
        Some(parts) => parts,
        None => (
            issuer.subject_name().to_der().map_err(super::ossl)?,
            issuer
                .public_key()
                .and_then(|k| k.public_key_to_der())
                .map_err(super::ossl)?,
        ),
    };
    let mut h = openssl::sha::Sha256::new();
    h.update(&name);
    h.update(&key);
    Ok(h.finish())
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
            .field("long_term", &self.long_term)
            .finish()
    }
}

/// Every CRL in a PEM bundle (or one DER CRL). An input holding none, or one
/// that is not a well-formed CRL, is an error.
pub fn parse_crls(bytes: &[u8]) -> Result<Vec<X509Crl>, CmsError> {
    let crls = pem_or_der(bytes)?;
    for c in &crls {
        let der = c.to_der().map_err(|_| CmsError::BadCrl)?;
        CertificateList::from_der(&der).map_err(|_| CmsError::BadCrl)?;
    }
    Ok(crls)
}

fn pem_or_der(bytes: &[u8]) -> Result<Vec<X509Crl>, CmsError> {
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

/// [`parse_crls`], read for checking.
fn read_crls(bytes: &[u8]) -> Result<Vec<Arc<Crl>>, CmsError> {
    pem_or_der(bytes)?
        .into_iter()
        .map(|c| Crl::read(c).map(Arc::new))
        .collect()
}

/// Which certificate of the chain a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
    Signer,
    Ca,
}

impl CrlPolicy {
    fn new(source: Source, required: bool) -> Self {
        Self {
            source,
            required,
            long_term: false,
            unchecked: Mutex::new(None),
            provider: String::new(),
            memory: CrlMemory::new(),
        }
    }

    /// CRLs read from `path` when first needed and again whenever the file
    /// changes. A missing file is "no CRL", not an error here.
    pub fn from_file(path: impl Into<PathBuf>, required: bool) -> Self {
        Self::new(
            Source::File {
                path: path.into(),
                cache: Mutex::new(None),
            },
            required,
        )
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
        Self::new(Source::Url(state), required).named(provider)
    }

    /// Fixed CRLs, from PEM (one or more) or DER.
    pub fn from_pem(bytes: &[u8], required: bool) -> Result<Self, CmsError> {
        Ok(Self::new(
            Source::Fixed(Arc::new(read_crls(bytes)?)),
            required,
        ))
    }

    /// Names the provider in this policy's warnings.
    pub fn named(mut self, provider: &str) -> Self {
        provider.clone_into(&mut self.provider);
        self
    }

    /// Keeps what CRLs said in `memory` (shared with the policies the same
    /// provider had and will have) instead of a memory of this policy's own.
    pub fn remembering(mut self, memory: Arc<CrlMemory>) -> Self {
        self.memory = memory;
        self
    }

    /// Long-term validity: a listed serial refuses a signature only when its
    /// revocationDate is at or before the signing time (`verify-receipt`).
    pub fn long_term(mut self) -> Self {
        self.long_term = true;
        self
    }

    pub fn required(&self) -> bool {
        self.required
    }

    /// The current CRLs, or why there are none usable.
    fn current(&self) -> Result<Arc<Vec<Arc<Crl>>>, &'static str> {
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

    /// Refuses `cert` (serial `serial`, issued by `issuer`, at `level` of
    /// the chain) if a CRL from `issuer` that covers it lists it (as of
    /// `signed_at` when long-term), and, when required, if no such CRL is
    /// current at `now` (both Unix seconds).
    pub(super) fn check(
        &self,
        cert: &Certificate,
        serial: &Asn1IntegerRef,
        issuer: &X509,
        level: Level,
        now: i64,
        signed_at: i64,
    ) -> Result<(), CmsError> {
        let id = issuer_id(issuer)?;
        let name = issuer.subject_name().to_der().map_err(super::ossl)?;
        let mut why = "no CRL from the certificate's issuer covers it";
        let mut unremembered = Vec::new();
        match self.current() {
            Ok(crls) => {
                for crl in crls.iter().filter(|c| c.signed_by(issuer, &name, &id)) {
                    if crl.this_update > now.saturating_add(CRL_SKEW_SECS) {
                        debug!(provider = %self.provider, this_update = crl.this_update, "a CRL dated in the future is not used yet");
                        continue;
                    }
                    match crl.kind {
                        Kind::Complete => {
                            if !self.memory.offer(&self.provider, &id, crl) {
                                unremembered.push(Arc::clone(crl));
                            }
                        }
                        Kind::Delta => {
                            debug!(provider = %self.provider, "a delta CRL is not a complete CRL; not used");
                        }
                        Kind::UnknownCritical => {
                            debug!(provider = %self.provider, "a CRL with an unknown critical extension is not used");
                        }
                    }
                }
            }
            Err(w) => why = w,
        }
        let covered = Covered::of(cert);
        let crls: Vec<Arc<Crl>> = self
            .memory
            .of(&id)
            .into_iter()
            .chain(unremembered)
            .filter(|c| c.covers(&covered))
            .collect();
        if crls.is_empty() {
            return self.unusable(level, why);
        }
        let signed_at = Asn1Time::from_unix(signed_at).map_err(super::ossl)?;
        for crl in &crls {
            if let CrlStatus::Revoked(entry) = crl.x509.get_by_serial(serial) {
                if !self.long_term || *entry.revocation_date() <= signed_at {
                    return Err(match level {
                        Level::Signer => CmsError::Revoked,
                        Level::Ca => CmsError::CaRevoked,
                    });
                }
            }
        }
        if !crls.iter().any(|c| c.is_current(now)) {
            return self.unusable(level, "the CRL is past its nextUpdate");
        }
        Ok(())
    }

    fn unusable(&self, level: Level, why: &'static str) -> Result<(), CmsError> {
        let level = match level {
            Level::Signer => "signer",
            Level::Ca => "ca",
        };
        if self.required {
            warn!(
                provider = %self.provider,
                level,
                reason = why,
                "no usable CRL; refusing the result (crl_required)"
            );
            Err(CmsError::CrlUnavailable)
        } else {
            warn!(provider = %self.provider, level, reason = why, "no usable CRL; revocation not checked");
            let mut unchecked = self
                .unchecked
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            unchecked.get_or_insert(why);
            Ok(())
        }
    }

    /// Why some check since this policy was made went unchecked for want of
    /// a covering CRL (it was not required), if one did.
    pub fn unchecked(&self) -> Option<&'static str> {
        *self
            .unchecked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Fetches the CRL from the URL once: the parsed CRLs, or why not.
async fn fetch(u: &UrlCrls) -> Result<Vec<Arc<Crl>>, String> {
    let resp = u
        .http
        .get(&u.url, http::HeaderMap::new())
        .await
        .map_err(|e| e.to_string())?;
    if resp.status != http::StatusCode::OK {
        return Err(format!("HTTP {}", resp.status.as_u16()));
    }
    read_crls(&resp.body).map_err(|e| e.to_string())
}

/// How long until the earliest nextUpdate among `crls` (zero if one is past
/// or has none).
fn until_next_update(crls: &[Arc<Crl>]) -> Duration {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    crls.iter()
        .map(|c| c.next_update.map_or(0, |n| n.saturating_sub(now)))
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
                    let all = merged(held.as_deref().map(Vec::as_slice), crls);
                    *held = Some(Arc::new(all));
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
) -> Result<Arc<Vec<Arc<Crl>>>, &'static str> {
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
    let fresh = read_crls(&bytes).map_err(|_| "the CRL file holds no valid CRL")?;
    let previous = cached.as_ref().map(|c| Arc::clone(&c.crls));
    let crls = Arc::new(merged(previous.as_deref().map(Vec::as_slice), fresh));
    *cached = Some(FileCrls {
        modified,
        len,
        crls: Arc::clone(&crls),
    });
    Ok(crls)
}
