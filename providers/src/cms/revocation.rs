//! Revocation: whether a provider's CRL lists the signer certificate.
//!
//! A [`CrlPolicy`] belongs to one provider's [`super::TrustAnchors`]. Its CRLs
//! come from a file the operator configures (the provider's published CRL,
//! fetched by whatever mirrors it) or from PEM given in code; a file is re-read
//! when its modification time or size changes, so a new CRL takes effect at the
//! next verification without a restart. A CRL is used only if its issuer is the
//! signer certificate's issuer and that issuer's key verifies it.
//!
//! `required` decides what a missing, unreadable, foreign or stale (past
//! nextUpdate) CRL means: refuse the result ([`CmsError::CrlUnavailable`]) or
//! accept it unchecked (logged). A listed serial is always refused
//! ([`CmsError::Revoked`]), even on a stale CRL.
//!
//! Not here: fetching CRLs over HTTP, OCSP, delta CRLs, indirect CRLs, or
//! revocation reasons (any listed serial is revoked, whatever the reason or date).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use openssl::asn1::Asn1Time;
use openssl::x509::{CrlStatus, X509Crl, X509};
use tracing::warn;

use super::CmsError;

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

#[cfg(test)]
mod tests {
    use super::super::{sign, verify, CmsError, Content, Encoding, Expect, TrustAnchors};
    use super::*;
    use crate::testpki::{ProviderPki, Subscriber};

    const NONCE: &[u8] = b"mj-login-revocation-test-nonce";

    fn now() -> i64 {
        super::super::unix_now()
    }

    fn expect() -> Expect<'static> {
        let n = u64::try_from(now()).unwrap();
        Expect {
            content: Content::Attached(NONCE),
            not_before: n - 60,
            not_after: n + 60,
            skew_secs: 5,
        }
    }

    fn signed(pki: &ProviderPki, who: &Subscriber) -> Vec<u8> {
        sign(NONCE, who, &[pki.ca().clone()], Encoding::DerAttached).unwrap()
    }

    fn anchors(pki: &ProviderPki) -> TrustAnchors {
        TrustAnchors::from_pem(&pki.root_pem().unwrap()).unwrap()
    }

    #[test]
    fn revoked_signer_is_refused_others_pass() {
        let pki = ProviderPki::generate("Delta").unwrap();
        let alice = pki.issue_subscriber("Kim", "D1", None).unwrap();
        let bob = pki.issue_subscriber("Lee", "D2", None).unwrap();
        pki.revoke(alice.cert.serial_number()).unwrap();
        for required in [false, true] {
            let a = anchors(&pki)
                .with_crl(CrlPolicy::from_pem(&pki.crl_pem().unwrap(), required).unwrap());
            assert_eq!(
                verify(&signed(&pki, &alice), &expect(), &a).unwrap_err(),
                CmsError::Revoked
            );
            verify(&signed(&pki, &bob), &expect(), &a).unwrap();
        }
        // Without a CRL policy, nothing is checked.
        verify(&signed(&pki, &alice), &expect(), &anchors(&pki)).unwrap();
        assert_eq!(CmsError::Revoked.code(), "revoked");
    }

    #[test]
    fn required_crl_missing_stale_or_foreign_is_refused() {
        let pki = ProviderPki::generate("Epsilon").unwrap();
        let other = ProviderPki::generate("Zeta").unwrap();
        let alice = pki.issue_subscriber("Kim", "E1", None).unwrap();
        let cms = signed(&pki, &alice);
        let missing = std::env::temp_dir().join("munjigi-no-such-crl.pem");
        let stale = pki
            .crl_pem_with_times(now() - 3 * 86_400, now() - 86_400)
            .unwrap();
        let foreign = other.crl_pem().unwrap();

        let required = anchors(&pki).with_crl(CrlPolicy::from_file(&missing, true));
        assert_eq!(
            verify(&cms, &expect(), &required).unwrap_err(),
            CmsError::CrlUnavailable
        );
        let optional = anchors(&pki).with_crl(CrlPolicy::from_file(&missing, false));
        verify(&cms, &expect(), &optional).unwrap();

        for (crl, what) in [(&stale, "stale"), (&foreign, "foreign")] {
            let a = anchors(&pki).with_crl(CrlPolicy::from_pem(crl, true).unwrap());
            assert_eq!(
                verify(&cms, &expect(), &a).unwrap_err(),
                CmsError::CrlUnavailable,
                "{what}"
            );
            let a = anchors(&pki).with_crl(CrlPolicy::from_pem(crl, false).unwrap());
            verify(&cms, &expect(), &a).unwrap();
        }
        // A stale CRL listing the serial still refuses it.
        pki.revoke(alice.cert.serial_number()).unwrap();
        let stale = pki
            .crl_pem_with_times(now() - 3 * 86_400, now() - 86_400)
            .unwrap();
        let a = anchors(&pki).with_crl(CrlPolicy::from_pem(&stale, false).unwrap());
        assert_eq!(verify(&cms, &expect(), &a).unwrap_err(), CmsError::Revoked);
    }

    #[test]
    fn crl_file_is_reread_when_it_changes() {
        let pki = ProviderPki::generate("Eta").unwrap();
        let alice = pki.issue_subscriber("Kim", "H1", None).unwrap();
        let cms = signed(&pki, &alice);
        let dir =
            std::env::temp_dir().join(format!("munjigi-crlpol-{}-{}", std::process::id(), now()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("crl.pem");
        pki.write_crl(&path).unwrap();
        let a = anchors(&pki).with_crl(CrlPolicy::from_file(&path, true));
        verify(&cms, &expect(), &a).unwrap();
        pki.revoke(alice.cert.serial_number()).unwrap();
        pki.write_crl(&path).unwrap();
        assert_eq!(verify(&cms, &expect(), &a).unwrap_err(), CmsError::Revoked);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn parse_crls_takes_bundles_and_der_and_refuses_garbage() {
        let a = ProviderPki::generate("Theta").unwrap();
        let b = ProviderPki::generate("Iota").unwrap();
        let mut both = a.crl_pem().unwrap();
        both.extend(b.crl_pem().unwrap());
        assert_eq!(parse_crls(&both).map(|c| c.len()).ok(), Some(2));
        let der = X509Crl::from_pem(&a.crl_pem().unwrap())
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(parse_crls(&der).map(|c| c.len()).ok(), Some(1));
        for bad in [
            &b""[..],
            b"nothing",
            b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
        ] {
            assert_eq!(parse_crls(bad).err(), Some(CmsError::BadCrl));
        }
    }
}
