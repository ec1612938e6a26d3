//! Tests of a `type = "declarative"` provider section as the gateway loads it.
//!
//! Why they are here: the section and its rules now live beside the adapter
//! (`munjigi_providers::declarative::config`), but what an operator sees is
//! the gateway's `check`, with positions and the description's field names
//! (`providers.kb.api.status.states`); these tests hold that end to end.

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
crl_required = false
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
