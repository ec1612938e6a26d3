//! Tests of a `type = "openid4vp"` provider section as the gateway loads it:
//! the verifier's certificate and key, the credential types and their
//! anchors, the claims paths, the response mode, and one per gateway.

#[cfg(test)]
mod tests {
    use super::super::parse;
    use openssl::asn1::Asn1Time;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::extension::SubjectAlternativeName;
    use openssl::x509::{X509Name, X509};
    use std::path::Path;

    const BASE: &str = r#"
[server]
public_url = "https://login.example.go.kr"
listen = "127.0.0.1:8080"

[secrets]
pairwise_key = { value = "0123456789abcdef0123456789abcdef" }
"#;

    const SECTION: &str = r#"
[providers.wallet]
type = "openid4vp"
name_ko = "디지털 지갑"
name_en = "Digital wallet"
level = "high"
certificate = "verifier.pem"
key = { file = "verifier-key.pem" }
credentials = [{ vct = "https://credentials.example.go.kr/identity", anchors = "issuer-ca.pem" }]
"#;

    /// A self-signed P-256 certificate naming `dns`, and its key.
    fn cert(dns: &str) -> (X509, PKey<openssl::pkey::Private>) {
        let key = PKey::from_ec_key(
            EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
        )
        .unwrap();
        let mut n = X509Name::builder().unwrap();
        n.append_entry_by_text("CN", dns).unwrap();
        let n = n.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&n).unwrap();
        b.set_issuer_name(&n).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        let san = SubjectAlternativeName::new()
            .dns(dns)
            .build(&b.x509v3_context(None, None))
            .unwrap();
        b.append_extension(san).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (b.build(), key)
    }

    fn errs(dir: &Path, text: &str) -> Vec<String> {
        match parse(&dir.join("gateway.toml"), text) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn an_openid4vp_provider_loads_and_its_mistakes_are_reported() {
        let dir = std::env::temp_dir().join(format!("munjigi-o4v-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (c, k) = cert("login.example.go.kr");
        std::fs::write(dir.join("verifier.pem"), c.to_pem().unwrap()).unwrap();
        std::fs::write(
            dir.join("verifier-key.pem"),
            k.private_key_to_pem_pkcs8().unwrap(),
        )
        .unwrap();
        let (other, other_key) = cert("issuer-ca");
        std::fs::write(dir.join("issuer-ca.pem"), other.to_pem().unwrap()).unwrap();
        std::fs::write(
            dir.join("other-key.pem"),
            other_key.private_key_to_pem_pkcs8().unwrap(),
        )
        .unwrap();
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        std::fs::write(dir.join("rsa.pem"), rsa.private_key_to_pem().unwrap()).unwrap();

        let good = format!("{BASE}{SECTION}");
        let cfg = parse(&dir.join("gateway.toml"), &good).unwrap();
        let p = cfg.provider("wallet").unwrap();
        match &p.family {
            crate::config::model::ProviderFamily::OpenId4Vp { settings, .. } => {
                assert!(settings.encrypted, "direct_post.jwt unless said otherwise");
                assert!(
                    settings.require_status,
                    "a status is required unless said otherwise"
                );
                assert_eq!(settings.claims.name, ["name"]);
            }
            other => panic!("{other:?}"),
        }

        for (change, expected) in [
            (
                SECTION.replace("verifier-key.pem", "other-key.pem"),
                "providers.wallet.key is not the key of the certificate's first (leaf) certificate",
            ),
            (
                SECTION.replace("verifier-key.pem", "rsa.pem"),
                "providers.wallet.key is not a PEM EC private key",
            ),
            (
                format!("{SECTION}response_mode = \"fragment\"\n"),
                "providers.wallet.response_mode `fragment` is not `direct_post.jwt` or `direct_post`",
            ),
            (
                SECTION.replace(
                    "credentials = [{ vct = \"https://credentials.example.go.kr/identity\", anchors = \"issuer-ca.pem\" }]",
                    "credentials = []",
                ),
                "providers.wallet.credentials must list the types accepted ({ vct, anchors })",
            ),
            (
                format!("{SECTION}claims = {{ name = [\"name\"], birthdate = [\"birth date\"], ci = [\"ci\"] }}\n"),
                "providers.wallet.claims.birthdate must be 1 to 4 keys",
            ),
        ] {
            let e = errs(&dir, &format!("{BASE}{change}")).join("\n");
            assert!(e.contains(expected), "expected `{expected}` in:\n{e}");
        }
        // One verifier registration per gateway: the wallet calls /oid4vp/….
        let twice = format!(
            "{BASE}{SECTION}{}",
            SECTION.replace("[providers.wallet]", "[providers.wallet2]")
        );
        let e = errs(&dir, &twice).join("\n");
        assert!(
            e.contains("only one `openid4vp` provider per gateway"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
