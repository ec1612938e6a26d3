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
use crate::config::model::{CrlSettings, Logo, ProviderConfig, ProviderFamily};
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
    let logo = raw.logo().map(str::to_owned);
    let mut c = Section {
        r,
        base,
        id,
        span,
        demo,
    };
    let logo = logo.and_then(|rel| {
        let bytes = c.file("logo", &rel)?;
        match logo_kind(&bytes) {
            Ok(content_type) => Some(Logo {
                bytes: bytes.into(),
                content_type,
            }),
            Err(e) => {
                c.problem(format!("providers.{id}.logo `{rel}` {e}"));
                None
            }
        }
    });
    fn config<F>(
        id: &str,
        checked: Checked<F, CrlSettings>,
        family: impl FnOnce(F, Vec<u8>, Option<Vec<u8>>, Option<CrlSettings>) -> ProviderFamily,
    ) -> ProviderConfig {
        ProviderConfig {
            id: ProviderId::new(id.to_owned()),
            name_ko: checked.name_ko,
            name_en: checked.name_en,
            logo: None,
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
    let mut built = match raw {
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
    };
    built.logo = logo;
    Some(built)
}

/// What a logo file is: a PNG or an SVG of 32 KiB at most (it is served
/// from the gateway's origin, so nothing else).
fn logo_kind(bytes: &[u8]) -> Result<&'static str, String> {
    const MAX: usize = 32 * 1024;
    if bytes.len() > MAX {
        return Err(format!("is larger than {MAX} bytes"));
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok("image/png");
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "is not a PNG or an SVG".to_owned())?;
    let head = text.trim_start();
    let svg = head.starts_with("<svg") || (head.starts_with("<?xml") && head.contains("<svg"));
    if !svg {
        return Err("is not a PNG or an SVG".into());
    }
    // What keeps a logo harmless is how it is served (an image, under a
    // CSP that runs nothing). This coarse check keeps out of the file what
    // would matter elsewhere: scripts, handlers, entities and character
    // references, embedded HTML, and anything fetched from outside.
    let lower = text
        .to_ascii_lowercase()
        .replace("http://www.w3.org/2000/svg", "")
        .replace("http://www.w3.org/1999/xlink", "");
    let handler = lower.match_indices("on").any(|(i, _)| {
        let before = i
            .checked_sub(1)
            .and_then(|b| lower.as_bytes().get(b))
            .copied();
        let after = lower.get(i + 2..).unwrap_or_default();
        let name_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        matches!(
            before,
            Some(b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'"' | b'\'')
        ) && name_len > 0
            && after
                .get(name_len..)
                .is_some_and(|r| r.trim_start().starts_with('='))
    });
    let outside = [
        "script",
        "&#",
        "<!entity",
        "<!doctype",
        "foreignobject",
        "//",
        "url(",
        "@import",
        "data:",
        "http:",
        "https:",
    ];
    if handler || outside.iter().any(|bad| lower.contains(bad)) {
        return Err(
            "is an SVG with scripts, event handlers, entities, embedded HTML or outside references"
                .into(),
        );
    }
    Ok("image/svg+xml")
}

#[cfg(test)]
mod tests {
    use super::logo_kind;

    #[test]
    fn a_logo_is_a_small_png_or_an_svg_that_runs_nothing() {
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><title>Logo on white</title><rect width="40" height="40"/></svg>"#;
        assert_eq!(logo_kind(svg), Ok("image/svg+xml"));
        let xml = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>";
        assert_eq!(logo_kind(xml), Ok("image/svg+xml"));
        assert_eq!(logo_kind(b"\x89PNG\r\n\x1a\n rest"), Ok("image/png"));
        for bad in [
            &b"<svg><script>alert(1)</script></svg>"[..],
            b"<svg onload=\"alert(1)\"/>",
            b"<svg><rect ONCLICK = 'x'/></svg>",
            b"<svg><a href=\"javascript:alert(1)\"><rect/></a></svg>",
            b"<svg><foreignObject><div/></foreignObject></svg>",
            b"<svg><image href=\"https://tracker.example/x.png\"/></svg>",
            b"<!DOCTYPE svg [<!ENTITY x \"y\">]><svg/>",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"\nonload=\"alert(1)\"/>",
            b"<svg><h:script xmlns:h=\"http://www.w3.org/1999/xhtml\">x</h:script></svg>",
            b"<svg><a href=\"jav&#x61;script:x\"><rect/></a></svg>",
            b"<svg><image href=\"//host/x.png\"/></svg>",
            b"<svg><style>@import url(https://host/x.css);</style></svg>",
            b"<svg><image href=\"data:image/png;base64,AAAA\"/></svg>",
            b"<html><svg/></html>",
            b"GIF89a",
            b"\xff\xfe",
        ] {
            assert!(logo_kind(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let big = format!("<svg>{}</svg>", " ".repeat(40 * 1024));
        assert!(logo_kind(big.as_bytes()).is_err());
        // The demo's own logos pass.
        let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/demo/logos");
        let mut n = 0;
        for f in std::fs::read_dir(&demo).unwrap() {
            let f = f.unwrap().path();
            assert_eq!(
                logo_kind(&std::fs::read(&f).unwrap()),
                Ok("image/svg+xml"),
                "{f:?}"
            );
            n += 1;
        }
        assert_eq!(n, 8);
    }
}
