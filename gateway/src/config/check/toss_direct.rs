//! Validation of a `type = "toss_direct"` provider section (Toss's own
//! certificate API), reporting every problem with its place in the file.
//!
//! Not here: reaching Toss (the adapter does, at start) or checking the client
//! credentials against Toss (only a token request can).

use super::{check_url, level, read_file, Report};
use crate::config::model::{ProviderConfig, ProviderFamily};
use crate::config::raw::RawTossDirect;
use munjigi_providers::toss_direct::session::TossPublicKey;
use munjigi_providers::toss_direct::{
    visible_ascii, TossDirectClientSecret, TossDirectConfig, MAX_TTL_SECS,
};
use munjigi_providers::ProviderId;
use std::ops::Range;
use std::path::Path;

/// Checks one section; `None` when it cannot become a provider (errors reported).
pub(super) fn build(
    r: &mut Report<'_>,
    base: &Path,
    id: &str,
    span: Range<usize>,
    t: RawTossDirect,
) -> Option<ProviderConfig> {
    let lvl = level(r, span.clone(), &t.level);
    for (what, url) in [
        ("endpoint", &t.endpoint),
        ("token_endpoint", &t.token_endpoint),
    ] {
        if let Err(e) = check_url(url, false) {
            r.at(span.clone(), format!("providers.{id}.{what}: {e}"));
        }
        if url.contains('?') {
            r.at(
                span.clone(),
                format!("providers.{id}.{what} must not have a query"),
            );
        }
    }
    if !visible_ascii(t.client_id.trim(), 256) {
        r.at(
            span.clone(),
            format!("providers.{id}.client_id must be 1 to 256 visible ASCII characters"),
        );
    }
    let client_secret = match t.client_secret.resolve(base) {
        Ok(s) => {
            let usable = std::str::from_utf8(s.expose())
                .ok()
                .is_some_and(|v| TossDirectClientSecret::new(v).is_ok());
            if !usable {
                r.at(
                    span.clone(),
                    format!("providers.{id}.client_secret must be visible ASCII, no spaces"),
                );
            }
            usable.then_some(s)
        }
        Err(e) => {
            r.at(span.clone(), format!("providers.{id}.client_secret: {e}"));
            None
        }
    };
    let session_public_key_pem = read_file(
        r,
        base,
        span.clone(),
        &t.session_public_key,
        &format!("providers.{id}.session_public_key"),
    )
    .and_then(|pem| match TossPublicKey::from_pem(&pem) {
        Ok(_) => Some(pem),
        Err(e) => {
            r.at(
                span.clone(),
                format!(
                    "providers.{id}.session_public_key `{}`: {e}",
                    t.session_public_key
                ),
            );
            None
        }
    });
    let roots_pem = read_file(
        r,
        base,
        span.clone(),
        &t.roots,
        &format!("providers.{id}.roots"),
    );
    if let Some(pem) = &roots_pem {
        if let Err(e) = munjigi_providers::cms::TrustAnchors::from_pem(pem) {
            r.at(
                span.clone(),
                format!("providers.{id}.roots `{}`: {e}", t.roots),
            );
        }
    }
    let tls_ca_pem = match &t.tls_ca {
        Some(f) => read_file(r, base, span.clone(), f, &format!("providers.{id}.tls_ca")),
        None => None,
    };
    if let Some(ttl) = t.ttl_secs {
        if !(1..=MAX_TTL_SECS).contains(&ttl) {
            r.at(
                span.clone(),
                format!("providers.{id}.ttl_secs must be between 1 and {MAX_TTL_SECS}"),
            );
        }
    }
    if t.timeout_ms == Some(0) {
        r.at(
            span.clone(),
            format!("providers.{id}.timeout_ms must be above zero"),
        );
    }
    let crl = super::crl::build(r, base, id, span.clone(), t.crl.as_deref(), t.crl_required);
    let (level, client_secret, session_public_key_pem, roots_pem, crl) = (
        lvl?,
        client_secret?,
        session_public_key_pem?,
        roots_pem?,
        crl?,
    );
    Some(ProviderConfig {
        id: ProviderId::new(id.to_owned()),
        name_ko: t.name_ko,
        name_en: t.name_en,
        level,
        family: ProviderFamily::TossDirect {
            settings: TossDirectConfig {
                endpoint: t.endpoint,
                token_endpoint: t.token_endpoint,
                client_id: t.client_id.trim().to_owned(),
                ttl_secs: t.ttl_secs,
                timeout_ms: t.timeout_ms,
                allow_plain_http: false,
            },
            client_secret,
            session_public_key_pem,
            roots_pem,
            tls_ca_pem,
            crl,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use std::path::Path;

    const BASE: &str = r#"
[server]
public_url = "http://127.0.0.1:8080"
listen = "127.0.0.1:8080"

[secrets]
pairwise_key = { value = "0123456789abcdef0123456789abcdef" }
"#;

    fn section(extra: &str) -> String {
        format!(
            "{BASE}\n[providers.toss-direct]\ntype = \"toss_direct\"\nname_ko = \"토스 (직접 연동)\"\nname_en = \"Toss (direct)\"\nlevel = \"substantial\"\nendpoint = \"http://127.0.0.1:8081/toss-direct\"\ntoken_endpoint = \"http://127.0.0.1:8081/toss-direct/token\"\nclient_id = \"munjigi\"\nclient_secret = {{ value = \"s3cr3t-value\" }}\nsession_public_key = \"session.pem\"\nroots = \"root.pem\"\n{extra}"
        )
    }

    fn errs(dir: &Path, text: &str) -> Vec<String> {
        match parse(&dir.join("gateway.toml"), text) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_toss_direct_provider_loads_and_its_mistakes_are_reported() {
        let dir = std::env::temp_dir().join(format!("munjigi-td-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pki = munjigi_sim::testpki::ProviderPki::generate("TossCert").unwrap();
        std::fs::write(dir.join("root.pem"), pki.root_pem().unwrap()).unwrap();
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        std::fs::write(dir.join("session.pem"), rsa.public_key_to_pem().unwrap()).unwrap();

        let c = parse(&dir.join("gateway.toml"), &section("ttl_secs = 300")).unwrap();
        let p = c.provider("toss-direct").unwrap();
        assert!(matches!(
            p.family,
            crate::config::model::ProviderFamily::TossDirect { .. }
        ));
        assert_eq!(format!("{:?}", p.family).matches("s3cr3t-value").count(), 0);

        let e = errs(&dir, &section("api_key = \"x\""));
        assert!(e.iter().any(|m| m.contains("api_key")), "{e:?}");
        let e = errs(&dir, &section("ttl_secs = 5000"));
        assert!(e.iter().any(|m| m.contains("ttl_secs")), "{e:?}");
        let e = errs(
            &dir,
            &section("").replace(
                "session_public_key = \"session.pem\"",
                "session_public_key = \"root.pem\"",
            ),
        );
        assert!(e.iter().any(|m| m.contains("session_public_key")), "{e:?}");
        let e = errs(
            &dir,
            &section("").replace("value = \"s3cr3t-value\"", "value = \"has space\""),
        );
        assert!(e.iter().any(|m| m.contains("client_secret")), "{e:?}");
        let e = errs(
            &dir,
            &section("").replace(
                "http://127.0.0.1:8081/toss-direct/token",
                "http://toss.example/token",
            ),
        );
        assert!(e.iter().any(|m| m.contains("token_endpoint")), "{e:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
