//! Validation of a `type = "declarative"` provider section (family D: a provider
//! described entirely in config), reporting every problem with its place in the
//! file and the description's field name (`providers.kb.api.status.states`).
//!
//! Not here: reaching the provider (the adapter does, at start) or checking the
//! secrets against it (only a call can).

use super::{check_url, level, read_file, Report};
use crate::config::model::{ProviderConfig, ProviderFamily};
use crate::config::raw::RawDeclarative;
use munjigi_providers::cms::TrustAnchors;
use munjigi_providers::declarative::{DeclarativeAdapter, DeclarativeSecrets};
use munjigi_providers::ProviderId;
use std::ops::Range;
use std::path::Path;

/// Checks one section; `None` when it cannot become a provider (errors reported).
pub(super) fn build(
    r: &mut Report<'_>,
    base: &Path,
    id: &str,
    span: Range<usize>,
    d: Box<RawDeclarative>,
) -> Option<ProviderConfig> {
    let lvl = level(r, span.clone(), &d.level);
    if let Err(e) = check_url(&d.api.base_url, false) {
        r.at(span.clone(), format!("providers.{id}.api.base_url: {e}"));
    }
    let problems = d.api.validate(&|n| d.secrets.contains_key(n));
    for p in &problems {
        r.at(
            span.clone(),
            format!("providers.{id}.api.{}: {}", p.field, p.message),
        );
    }
    let mut secrets = Vec::new();
    let mut all_secrets = true;
    for (name, s) in &d.secrets {
        match s.resolve(base) {
            Ok(v) => secrets.push((name.clone(), v)),
            Err(e) => {
                all_secrets = false;
                r.at(span.clone(), format!("providers.{id}.secrets.{name}: {e}"));
            }
        }
    }
    let roots_pem = read_file(
        r,
        base,
        span.clone(),
        &d.roots,
        &format!("providers.{id}.roots"),
    );
    let anchors = roots_pem
        .as_deref()
        .and_then(|pem| match TrustAnchors::from_pem(pem) {
            Ok(a) => Some(a),
            Err(e) => {
                r.at(
                    span.clone(),
                    format!("providers.{id}.roots `{}`: {e}", d.roots),
                );
                None
            }
        });
    let tls_ca_pem = match &d.tls_ca {
        Some(f) => read_file(r, base, span.clone(), f, &format!("providers.{id}.tls_ca")),
        None => None,
    };
    let crl = super::crl::build(r, base, id, span.clone(), d.crl.as_deref(), d.crl_required);
    let level = lvl?;
    let roots_pem = roots_pem?;
    let crl = crl?;
    if !problems.is_empty() || !all_secrets {
        return None;
    }
    // The secrets' formats (base64 keys, AES key length) and the URL rules are
    // the adapter's: build it once to report them now rather than at start.
    if let Some(anchors) = anchors {
        let mut named = DeclarativeSecrets::new();
        for (name, s) in &secrets {
            named.insert(name.clone(), s.expose().to_vec());
        }
        if let Err(e) = DeclarativeAdapter::new(
            ProviderId::new(id.to_owned()),
            level,
            d.api.clone(),
            &named,
            anchors,
            tls_ca_pem.clone(),
        ) {
            r.at(span.clone(), format!("providers.{id}: {e}"));
            return None;
        }
    }
    Some(ProviderConfig {
        id: ProviderId::new(id.to_owned()),
        name_ko: d.name_ko,
        name_en: d.name_en,
        level,
        family: ProviderFamily::Declarative {
            description: Box::new(d.api),
            secrets,
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

    const KB: &str = r#"
[providers.kb]
type = "declarative"
name_ko = "KB국민인증서"
name_en = "KB Kookmin Bank"
level = "substantial"
roots = "root.pem"
secrets = { hmac_key = { value = "a2ItaG1hYy1rZXk=" }, field_key = { value = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" } }

[providers.kb.api]
base_url = "http://127.0.0.1:8081/bank/kb"
auth = { scheme = "hmac", header = "x-kb-signature", date_header = "x-kb-date", key = "hmac_key", signed = ["method", "path", "date", "body_sha256"] }
encryption = { key = "field_key" }

[providers.kb.api.start]
method = "POST"
path = "/v1/auth/requests"
handle = "txId"
request = [
  { from = "name", to = "userNm", encrypted = true },
  { from = "nonce", to = "signTarget" },
]

[providers.kb.api.status]
method = "GET"
path = "/v1/auth/requests/{handle}"
state = "stateCd"
states = { "0" = "pending", "2" = "completed" }

[providers.kb.api.result]
method = "POST"
path = "/v1/auth/requests/{handle}/result"
signed_data = "signedData"
ci = "ci"
name = "userNm"
birthdate = "birthDt"
phone = "telNo"
"#;

    fn errs(dir: &Path, text: &str) -> Vec<String> {
        match parse(&dir.join("gateway.toml"), text) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_declarative_provider_loads_and_its_mistakes_name_the_field() {
        let dir = std::env::temp_dir().join(format!("munjigi-decl-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pki = munjigi_sim::testpki::ProviderPki::generate("KB").unwrap();
        std::fs::write(dir.join("root.pem"), pki.root_pem().unwrap()).unwrap();

        let c = parse(&dir.join("gateway.toml"), &format!("{BASE}{KB}")).unwrap();
        let p = c.provider("kb").unwrap();
        assert!(matches!(
            p.family,
            crate::config::model::ProviderFamily::Declarative { .. }
        ));
        assert!(!format!("{:?}", p.family).contains("a2ItaG1hYy1rZXk="));

        let e = errs(
            &dir,
            &format!(
                "{BASE}{}",
                KB.replace("\"2\" = \"completed\"", "\"2\" = \"failed\"")
            ),
        );
        assert!(
            e.iter()
                .any(|m| m.contains("providers.kb.api.status.states")),
            "{e:?}"
        );
        let e = errs(
            &dir,
            &format!("{BASE}{}", KB.replace("{handle}/result", "{tx}/result")),
        );
        assert!(
            e.iter()
                .any(|m| m.contains("api.result.path") && m.contains("{tx}")),
            "{e:?}"
        );
        let e = errs(
            &dir,
            &format!(
                "{BASE}{}",
                KB.replace("key = \"field_key\"", "key = \"aes\"")
            ),
        );
        assert!(e.iter().any(|m| m.contains("api.encryption.key")), "{e:?}");
        let e = errs(
            &dir,
            &format!(
                "{BASE}{}",
                KB.replace("ci = \"ci\"", "ci = \"ci\"\ncolour = \"x\"")
            ),
        );
        assert!(e.iter().any(|m| m.contains("colour")), "{e:?}");
        let e = errs(
            &dir,
            &format!(
                "{BASE}{}",
                KB.replace("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "c2hvcnQ=")
            ),
        );
        assert!(e.iter().any(|m| m.contains("encryption.key")), "{e:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
