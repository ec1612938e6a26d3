//! What the families' `config` modules share: the interface through which a
//! family's rules reach the gateway, and the material every builder receives.
//!
//! Why this exists: a provider family is one folder (its section as written in
//! TOML, its rules, its builder, adapter, wire types and codes), yet some steps
//! of reading a section are the same for every family and belong to the
//! gateway, which owns the file: resolving secret references and files relative
//! to the config, the assurance level, the URL rule, CRL settings, and the
//! position in the file every problem is reported at. The gateway implements
//! [`Check`] once; each family calls it in its own order, so its messages (and
//! their order) are the family's alone. Likewise the gateway builds the trust
//! anchors with the CRL once, as a [`Material`], and each family's `build`
//! turns its checked settings into an adapter. The keys on the signer's
//! certificate every family has (`required_policies`, `required_eku`,
//! `issuing_ca`, `issuing_ca_sha256`) are read once, by [`signer_rules`], so
//! their meaning and messages cannot differ between families.
//!
//! Nothing here knows about TOML, positions or the gateway's types: they are
//! the associated types of [`Check`]. A family's section type is named
//! `Raw<Family>` (`kakao_direct::config::RawKakaoDirect`), as the gateway names
//! everything written in the file, and as serde names it in its messages
//! ("expected struct RawKakaoDirect …"), which stay what they were.

use crate::cms::{SignerRules, TrustAnchors};
use crate::{Level, ProviderId};

/// The gateway's side of checking one provider section. Every method that can
/// fail reports the problem itself (at the section's place in the file) and
/// returns `None`; the family goes on checking so that every problem is
/// reported at once.
pub trait Check {
    /// A secret as written (`{ value | file | env = "…" }`).
    type SecretRef;
    /// A resolved secret; its `Debug` must not show the value.
    type Secret: AsRef<[u8]> + std::fmt::Debug;
    /// Where the provider's CRL comes from, checked.
    type Crl: std::fmt::Debug;

    /// The provider's id, as messages name it (`providers.{id}…`).
    fn id(&self) -> &str;
    /// Reports one problem; `message` is complete.
    fn problem(&mut self, message: String);
    /// The assurance level as written (`low`, `substantial`, `high`).
    fn level(&mut self, written: &str) -> Option<Level>;
    /// The config's one rule for URLs ([`crate::url_rule`]: https, or http on
    /// loopback; no userinfo or fragment; a canonical host); reports
    /// `providers.{id}.{field}: …`.
    fn url(&mut self, field: &str, url: &str);
    /// A section asks for plain http to any host (`allow_plain_http`): only
    /// the demo's config may; anywhere else this reports
    /// `providers.{id}.{field}: …`. (The URL itself still follows the one
    /// rule, [`crate::url_rule`], with plain http allowed to any host.)
    fn plain_http(&mut self, field: &str);
    /// Resolves a secret; reports `providers.{id}.{field}: …`.
    fn secret(&mut self, field: &str, secret: &Self::SecretRef) -> Option<Self::Secret>;
    /// Reads a file named relative to the config; reports
    /// `cannot read providers.{id}.{field} …`.
    fn file(&mut self, field: &str, rel: &str) -> Option<Vec<u8>>;
    /// A file named relative to the config, as a path (for files a family
    /// re-reads while running).
    fn path(&self, rel: &str) -> std::path::PathBuf {
        rel.into()
    }
    /// Reads the provider's roots (`roots`) and reports when they are not
    /// usable trust anchors; `None` only when the file cannot be read.
    fn roots(&mut self, rel: &str) -> Option<Vec<u8>>;
    /// The `crl` / `crl_required` keys; `Some(None)` when no CRL is configured.
    fn crl(&mut self, crl: Option<&str>, required: Option<bool>) -> Option<Option<Self::Crl>>;
}

/// A section that passed its family's checks: what every family has, and the
/// family's own `settings`.
#[derive(Debug)]
pub struct Checked<F, Crl> {
    pub name_ko: String,
    pub name_en: String,
    pub level: Level,
    /// The provider's own root(s) for its signed results (PEM).
    pub roots_pem: Vec<u8>,
    /// The CA of the provider's TLS server (PEM), when not the system's.
    pub tls_ca_pem: Option<Vec<u8>>,
    pub crl: Option<Crl>,
    /// What the signer certificate must be besides chaining to `roots_pem`.
    pub signer: SignerRules,
    pub settings: F,
}

/// The `required_policies`, `required_eku`, `issuing_ca` (a PEM file) and
/// `issuing_ca_sha256` keys every family has, as [`SignerRules`]. An invalid
/// OID or fingerprint, or a file that is not CA certificates, is reported.
pub fn signer_rules<C: Check>(
    c: &mut C,
    policies: &Option<Vec<String>>,
    eku: &Option<Vec<String>>,
    issuing_ca: &Option<String>,
    issuing_ca_sha256: &Option<Vec<String>>,
) -> Option<SignerRules> {
    let id = c.id().to_owned();
    let mut ok = true;
    let mut rules = SignerRules::default();
    let report = |c: &mut C, field: &str, r: Result<SignerRules, crate::cms::RuleError>| match r {
        Ok(next) => Some(next),
        Err(e) => {
            c.problem(format!("providers.{id}.{field}: {e}"));
            None
        }
    };
    // Each list key and the rule it adds.
    let lists = [
        (
            "required_policies",
            policies,
            SignerRules::require_policies as fn(_, _) -> _,
        ),
        ("required_eku", eku, SignerRules::require_eku),
        (
            "issuing_ca_sha256",
            issuing_ca_sha256,
            SignerRules::pin_issuing_ca_sha256,
        ),
    ];
    for (field, given, add) in lists {
        let Some(given) = given else { continue };
        if given.is_empty() {
            c.problem(format!(
                "providers.{id}.{field} is empty; leave it out to require nothing"
            ));
            ok = false;
            continue;
        }
        let attempt = add(rules.clone(), given.iter().map(String::as_str));
        match report(c, field, attempt) {
            Some(next) => rules = next,
            None => ok = false,
        }
    }
    if let Some(rel) = issuing_ca {
        match c.file("issuing_ca", rel) {
            Some(pem) => match report(c, "issuing_ca", rules.clone().pin_issuing_ca_pem(&pem)) {
                Some(next) => rules = next,
                None => ok = false,
            },
            None => ok = false,
        }
    }
    ok.then_some(rules)
}

/// What the gateway gives every family's builder: the provider's identity and
/// its trust, with the CRL policy already applied to the anchors.
pub struct Material {
    pub id: ProviderId,
    pub level: Level,
    pub anchors: TrustAnchors,
    pub tls_ca_pem: Option<Vec<u8>>,
}

/// The `ttl_secs` (within the provider's maximum) and `timeout_ms` (above
/// zero) keys, where a family has them.
pub fn check_times<C: Check>(
    c: &mut C,
    ttl_secs: Option<u32>,
    max_ttl: u32,
    timeout_ms: Option<u64>,
) {
    let id = c.id().to_owned();
    if let Some(t) = ttl_secs {
        if !(1..=max_ttl).contains(&t) {
            c.problem(format!(
                "providers.{id}.ttl_secs must be between 1 and {max_ttl}"
            ));
        }
    }
    if timeout_ms == Some(0) {
        c.problem(format!("providers.{id}.timeout_ms must be above zero"));
    }
}
