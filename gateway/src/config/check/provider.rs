//! The gateway's half of checking a `[providers.<id>]` section: the steps every
//! family shares, written once, behind `munjigi_providers::config::Check`.
//!
//! Why it is split this way: each family's keys and rules live in its folder of
//! `munjigi_providers` (`<family>/config.rs`), beside its adapter, while what
//! belongs to the config file — secret references, files relative to it, the
//! assurance level, the URL rule, CRL settings and the position every problem
//! is reported at — stays here, so a family cannot get one of them differently.
//! Every problem of a section is reported at the section's start.

use super::{check_url, crl, level, read_file, Report};
use crate::config::model::{CrlSettings, ProviderConfig, ProviderFamily};
use crate::config::raw::RawProvider;
use crate::config::secret::{Secret, SecretRef};
use munjigi_providers::config::{Check, Checked};
use munjigi_providers::{
    barocert, declarative, kakao_direct, mobile_id, openid4vp, toss_direct, Level, ProviderId,
};
use std::ops::Range;
use std::path::Path;

/// One section being checked: where it is and where its files are.
struct Section<'r, 'a> {
    r: &'r mut Report<'a>,
    base: &'r Path,
    id: &'r str,
    span: Range<usize>,
    /// Whether this is the demo's config (it has a `[demo]` section; see
    /// `crl.rs` and `plain_http`).
    demo: bool,
}

impl Check for Section<'_, '_> {
    type SecretRef = SecretRef;
    type Secret = Secret;
    type Crl = CrlSettings;

    fn id(&self) -> &str {
        self.id
    }

    fn problem(&mut self, message: String) {
        self.r.at(self.span.clone(), message);
    }

    fn level(&mut self, written: &str) -> Option<Level> {
        level(self.r, self.span.clone(), written)
    }

    fn url(&mut self, field: &str, url: &str) {
        if let Err(e) = check_url(url) {
            let id = self.id;
            self.problem(format!("providers.{id}.{field}: {e}"));
        }
    }

    fn plain_http(&mut self, field: &str) {
        if !self.demo {
            let id = self.id;
            self.problem(format!(
                "providers.{id}.{field}: plain http to a non-loopback host is only for the demo \
                 (a config with a [demo] section); use https:// and remove the setting"
            ));
        }
    }

    fn secret(&mut self, field: &str, secret: &SecretRef) -> Option<Secret> {
        match secret.resolve(self.base) {
            Ok(s) => Some(s),
            Err(e) => {
                let id = self.id;
                self.problem(format!("providers.{id}.{field}: {e}"));
                None
            }
        }
    }

    fn file(&mut self, field: &str, rel: &str) -> Option<Vec<u8>> {
        let what = format!("providers.{}.{field}", self.id);
        read_file(self.r, self.base, self.span.clone(), rel, &what)
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.base.join(rel)
    }

    fn roots(&mut self, rel: &str) -> Option<Vec<u8>> {
        let pem = self.file("roots", rel)?;
        if let Err(e) = munjigi_providers::cms::TrustAnchors::from_pem(&pem) {
            let id = self.id;
            self.problem(format!("providers.{id}.roots `{rel}`: {e}"));
        }
        Some(pem)
    }

    fn crl(&mut self, c: Option<&str>, required: Option<bool>) -> Option<Option<CrlSettings>> {
        crl::build(
            self.r,
            self.base,
            self.id,
            self.span.clone(),
            c,
            required,
            self.demo,
        )
    }
}

/// Checks one section with its family's rules; `None` when it cannot become a
/// provider (every problem reported).
pub(super) fn build(
    r: &mut Report<'_>,
    base: &Path,
    id: &str,
    span: Range<usize>,
    raw: RawProvider,
    demo: bool,
) -> Option<ProviderConfig> {
    let mut c = Section {
        r,
        base,
        id,
        span,
        demo,
    };
    /// The common part of a checked section, and the family's variant.
    fn config<F>(
        id: &str,
        checked: Checked<F, CrlSettings>,
        family: impl FnOnce(F, Vec<u8>, Option<Vec<u8>>, Option<CrlSettings>) -> ProviderFamily,
    ) -> ProviderConfig {
        ProviderConfig {
            id: ProviderId::new(id.to_owned()),
            name_ko: checked.name_ko,
            name_en: checked.name_en,
            level: checked.level,
            signer: checked.signer,
            family: family(
                checked.settings,
                checked.roots_pem,
                checked.tls_ca_pem,
                checked.crl,
            ),
        }
    }
    Some(match raw {
        RawProvider::Barocert(s) => config(
            id,
            barocert::config::check(s, &mut c)?,
            |settings, roots_pem, tls_ca_pem, crl| ProviderFamily::Barocert {
                settings,
                roots_pem,
                tls_ca_pem,
                crl,
            },
        ),
        RawProvider::KakaoDirect(s) => config(
            id,
            kakao_direct::config::check(s, &mut c)?,
            |settings, roots_pem, tls_ca_pem, crl| ProviderFamily::KakaoDirect {
                settings,
                roots_pem,
                tls_ca_pem,
                crl,
            },
        ),
        RawProvider::TossDirect(s) => config(
            id,
            toss_direct::config::check(s, &mut c)?,
            |settings, roots_pem, tls_ca_pem, crl| ProviderFamily::TossDirect {
                settings,
                roots_pem,
                tls_ca_pem,
                crl,
            },
        ),
        RawProvider::MobileId(s) => config(
            id,
            mobile_id::config::check(s, &mut c)?,
            |settings, roots_pem, tls_ca_pem, crl| ProviderFamily::MobileId {
                settings,
                roots_pem,
                tls_ca_pem,
                crl,
            },
        ),
        RawProvider::OpenId4Vp(s) => config(
            id,
            openid4vp::config::check(s, &mut c)?,
            |settings, roots_pem, tls_ca_pem, crl| ProviderFamily::OpenId4Vp {
                settings,
                roots_pem,
                tls_ca_pem,
                crl,
            },
        ),
        RawProvider::Declarative(s) => config(
            id,
            declarative::config::check(*s, &mut c)?,
            |settings, roots_pem, tls_ca_pem, crl| ProviderFamily::Declarative {
                settings,
                roots_pem,
                tls_ca_pem,
                crl,
            },
        ),
    })
}
