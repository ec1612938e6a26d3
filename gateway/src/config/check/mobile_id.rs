//! Tests of a `type = "mobile_id"` provider section as the gateway loads it:
//! the SP's registration, its keys and trust list, and one per gateway.

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

    const SECTION: &str = r#"
[providers.mobile-id]
type = "mobile_id"
name_ko = "모바일 신분증"
name_en = "Mobile ID"
level = "high"
push_url = "http://127.0.0.1:8081/mobile-id/api/sendVPAPI.do"
mscode = "SIM-MSCODE-01"
sp_did = "did:kr:mobileid:sp"
sp_key_id = "sp.sign"
sp_key = { file = "sp.pem" }
seal_key = { file = "seal.pem" }
service_name = "로그인"
sp_name = "구청"
sp_code = "SP01"
svc_code = "SVC01"
issuers = ["did:kr:mobileid:police"]
credentials = [{ code = "mdl", name = "모바일 운전면허증" }]
trust_list = "trust.json"
"#;

    fn errs(dir: &Path, text: &str) -> Vec<String> {
        match parse(&dir.join("gateway.toml"), text) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_mobile_id_provider_loads_and_its_mistakes_are_reported() {
        let dir = std::env::temp_dir().join(format!("munjigi-mid-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let k1 = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::SECP256K1).unwrap();
        let p256 =
            openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
        let sp = openssl::ec::EcKey::generate(&k1).unwrap();
        std::fs::write(dir.join("sp.pem"), sp.private_key_to_pem().unwrap()).unwrap();
        let wrong_curve = openssl::ec::EcKey::generate(&p256).unwrap();
        std::fs::write(
            dir.join("p256.pem"),
            wrong_curve.private_key_to_pem().unwrap(),
        )
        .unwrap();
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        std::fs::write(dir.join("seal.pem"), rsa.private_key_to_pem().unwrap()).unwrap();
        let small = openssl::rsa::Rsa::generate(1024).unwrap();
        std::fs::write(dir.join("small.pem"), small.private_key_to_pem().unwrap()).unwrap();
        std::fs::write(dir.join("trust.json"), r#"{"documents":[],"status":{}}"#).unwrap();
        std::fs::write(
            dir.join("broken.json"),
            r#"{"documents":[{"id":"x","publicKey":[]}]}"#,
        )
        .unwrap();

        let good = format!("{BASE}{SECTION}");
        let c = parse(&dir.join("gateway.toml"), &good).unwrap();
        let p = c.provider("mobile-id").unwrap();
        assert!(matches!(
            p.family,
            crate::config::model::ProviderFamily::MobileId { .. }
        ));
        assert_eq!(p.level, munjigi_providers::Level::High);
        // QR only: no push server, no mscode.
        let qr_only = good
            .replace(
                "push_url = \"http://127.0.0.1:8081/mobile-id/api/sendVPAPI.do\"\n",
                "",
            )
            .replace("mscode = \"SIM-MSCODE-01\"\n", "");
        assert!(
            errs(&dir, &qr_only).is_empty(),
            "{:?}",
            errs(&dir, &qr_only)
        );

        for (change, from, to) in [
            ("mscode", "mscode = \"SIM-MSCODE-01\"\n", ""),
            ("mscode", "\"SIM-MSCODE-01\"", "\"has space\""),
            (
                "push_url",
                "http://127.0.0.1:8081/mobile",
                "http://push.example/mobile",
            ),
            ("sp_did", "\"did:kr:mobileid:sp\"", "\"sp\""),
            ("sp_key", "file = \"sp.pem\"", "file = \"p256.pem\""),
            ("seal_key", "file = \"seal.pem\"", "file = \"small.pem\""),
            ("seal_key", "file = \"seal.pem\"", "file = \"sp.pem\""),
            ("issuers", "[\"did:kr:mobileid:police\"]", "[]"),
            ("credentials", "code = \"mdl\"", "code = \"m d l\""),
            ("service_name", "\"로그인\"", "\"a&b\""),
            ("trust_list", "\"trust.json\"", "\"broken.json\""),
            ("trust_list", "\"trust.json\"", "\"missing.json\""),
        ] {
            let e = errs(&dir, &good.replace(from, to));
            assert!(e.iter().any(|m| m.contains(change)), "{change}: {e:?}");
        }
        let e = errs(&dir, &format!("{good}\nttl_secs = 301\n"));
        assert!(e.iter().any(|m| m.contains("ttl_secs")), "{e:?}");

        // Two SP registrations cannot share the gateway's /mip/.
        let twice = format!(
            "{good}{}",
            SECTION.replace("[providers.mobile-id]", "[providers.mobile-id-2]")
        );
        let e = errs(&dir, &twice);
        assert!(
            e.iter()
                .any(|m| m.contains("only one `mobile_id` provider per gateway")),
            "{e:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
