//! Validation of a `type = "kakao_direct"` provider section (Kakao's own
//! certification API), reporting every problem with its place in the file.
//!
//! Not here: reaching Kakao (the adapter does, at start) or checking the API key
//! against Kakao (only a call can).

use super::{check_url, level, read_file, Report};
use crate::config::model::{ProviderConfig, ProviderFamily};
use crate::config::raw::RawKakaoDirect;
use munjigi_providers::kakao_direct::{KakaoDirectApiKey, KakaoDirectConfig, MAX_TTL_SECS};
use munjigi_providers::ProviderId;
use std::ops::Range;
use std::path::Path;

/// Checks one section; `None` when it cannot become a provider (errors reported).
pub(super) fn build(
    r: &mut Report<'_>,
    base: &Path,
    id: &str,
    span: Range<usize>,
    k: RawKakaoDirect,
) -> Option<ProviderConfig> {
    let lvl = level(r, span.clone(), &k.level);
    if let Err(e) = check_url(&k.endpoint, false) {
        r.at(span.clone(), format!("providers.{id}.endpoint: {e}"));
    }
    if k.endpoint.contains('?') {
        r.at(
            span.clone(),
            format!("providers.{id}.endpoint must not have a query"),
        );
    }
    let api_key = match k.api_key.resolve(base) {
        Ok(s) => {
            let usable = std::str::from_utf8(s.expose())
                .ok()
                .is_some_and(|v| KakaoDirectApiKey::new(v).is_ok());
            if !usable {
                r.at(
                    span.clone(),
                    format!("providers.{id}.api_key must be the app's REST API key: visible ASCII, no spaces"),
                );
            }
            usable.then_some(s)
        }
        Err(e) => {
            r.at(span.clone(), format!("providers.{id}.api_key: {e}"));
            None
        }
    };
    let roots_pem = read_file(
        r,
        base,
        span.clone(),
        &k.roots,
        &format!("providers.{id}.roots"),
    );
    if let Some(pem) = &roots_pem {
        if let Err(e) = munjigi_providers::cms::TrustAnchors::from_pem(pem) {
            r.at(
                span.clone(),
                format!("providers.{id}.roots `{}`: {e}", k.roots),
            );
        }
    }
    let tls_ca_pem = match &k.tls_ca {
        Some(f) => read_file(r, base, span.clone(), f, &format!("providers.{id}.tls_ca")),
        None => None,
    };
    if let Some(t) = k.ttl_secs {
        if !(1..=MAX_TTL_SECS).contains(&t) {
            r.at(
                span.clone(),
                format!("providers.{id}.ttl_secs must be between 1 and {MAX_TTL_SECS}"),
            );
        }
    }
    if k.timeout_ms == Some(0) {
        r.at(
            span.clone(),
            format!("providers.{id}.timeout_ms must be above zero"),
        );
    }
    let crl = super::crl::build(r, base, id, span.clone(), k.crl.as_deref(), k.crl_required);
    let (level, api_key, roots_pem, crl) = (lvl?, api_key?, roots_pem?, crl?);
    Some(ProviderConfig {
        id: ProviderId::new(id.to_owned()),
        name_ko: k.name_ko,
        name_en: k.name_en,
        level,
        family: ProviderFamily::KakaoDirect {
            settings: KakaoDirectConfig {
                endpoint: k.endpoint,
                product_code: None,
                ttl_secs: k.ttl_secs,
                timeout_ms: k.timeout_ms,
                allow_plain_http: false,
            },
            api_key,
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
            "{BASE}\n[providers.kakao-direct]\ntype = \"kakao_direct\"\nname_ko = \"카카오 (직접 연동)\"\nname_en = \"Kakao (direct)\"\nlevel = \"substantial\"\nendpoint = \"http://127.0.0.1:8081/kakao-direct\"\napi_key = {{ value = \"0123abcd\" }}\nroots = \"root.pem\"\n{extra}"
        )
    }

    fn errs(dir: &Path, text: &str) -> Vec<String> {
        match parse(&dir.join("gateway.toml"), text) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_kakao_direct_provider_loads_and_its_mistakes_are_reported() {
        let dir = std::env::temp_dir().join(format!("munjigi-kd-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pki = munjigi_sim::testpki::ProviderPki::generate("KakaoCert").unwrap();
        std::fs::write(dir.join("root.pem"), pki.root_pem().unwrap()).unwrap();

        let c = parse(&dir.join("gateway.toml"), &section("ttl_secs = 300")).unwrap();
        let p = c.provider("kakao-direct").unwrap();
        assert!(matches!(
            p.family,
            crate::config::model::ProviderFamily::KakaoDirect { .. }
        ));
        assert_eq!(format!("{:?}", p.family).matches("0123abcd").count(), 0);

        let e = errs(&dir, &section("secret_key = \"x\""));
        assert!(e.iter().any(|m| m.contains("secret_key")), "{e:?}");
        let e = errs(&dir, &section("ttl_secs = 5000"));
        assert!(e.iter().any(|m| m.contains("ttl_secs")), "{e:?}");
        let e = errs(
            &dir,
            &section("").replace("roots = \"root.pem\"", "roots = \"missing.pem\""),
        );
        assert!(e.iter().any(|m| m.contains("roots")), "{e:?}");
        let e = errs(
            &dir,
            &section("").replace("value = \"0123abcd\"", "value = \"has space\""),
        );
        assert!(e.iter().any(|m| m.contains("api_key")), "{e:?}");
        let e = errs(
            &dir,
            &section("").replace("http://127.0.0.1:8081", "http://kakao.example"),
        );
        assert!(e.iter().any(|m| m.contains("endpoint")), "{e:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
