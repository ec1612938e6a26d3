//! Tests of a `type = "kakao_direct"` provider section as the gateway loads it.
//!
//! Why they are here: the section and its rules now live beside the adapter
//! (`munjigi_providers::kakao_direct::config`), but what an operator sees is
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
            "{BASE}\n[providers.kakao-direct]\ntype = \"kakao_direct\"\nname_ko = \"카카오 (직접 연동)\"\nname_en = \"Kakao (direct)\"\nlevel = \"substantial\"\nendpoint = \"http://127.0.0.1:8081/kakao-direct\"\napi_key = {{ value = \"0123abcd\" }}\nroots = \"root.pem\"\ncrl_required = false\n{extra}"
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
