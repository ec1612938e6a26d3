//! Tests of a `type = "toss_direct"` provider section as the gateway loads it.
//!
//! Why they are here: the section and its rules now live beside the adapter
//! (`munjigi_providers::toss_direct::config`), but what an operator sees is
//! the gateway's `check`, with positions; these tests hold that end to end.

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
            "{BASE}\n[providers.toss-direct]\ntype = \"toss_direct\"\nname_ko = \"토스 (직접 연동)\"\nname_en = \"Toss (direct)\"\nlevel = \"substantial\"\nendpoint = \"http://127.0.0.1:8081/toss-direct\"\ntoken_endpoint = \"http://127.0.0.1:8081/toss-direct/token\"\nclient_id = \"munjigi\"\nclient_secret = {{ value = \"s3cr3t-value\" }}\nsession_public_key = \"session.pem\"\nroots = \"root.pem\"\ncrl_required = false\n{extra}"
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
