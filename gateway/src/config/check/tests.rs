use super::*;

const GOOD: &str = r#"
[server]
public_url = "http://127.0.0.1:8080"
listen = "127.0.0.1:8080"

[secrets]
pairwise_key = { value = "0123456789abcdef0123456789abcdef" }

[policies.standard]
min_level = "substantial"

[sites.town]
name = "구청"
policy = "standard"
[sites.town.oidc]
client_id = "town"
client_secret = { value = "town-secret-0123456789" }
redirect_uris = ["https://town.example/cb"]
"#;

fn errs(text: &str) -> Vec<String> {
    match parse(Path::new("/tmp/munjigi-test.toml"), text) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn good_config_loads() {
    let c = parse(Path::new("/tmp/x.toml"), GOOD).unwrap();
    assert_eq!(c.public_url, "http://127.0.0.1:8080");
    assert!(c.client("town").is_some());
    assert!(!c.secure_cookies());
}

#[test]
fn unknown_keys_are_errors_in_every_section() {
    for (section, line) in [
        ("[server]", "colour = 1"),
        ("[secrets]", "other = 1"),
        ("[policies.standard]", "maximum = 1"),
        ("[sites.town]", "colour = 1"),
        ("[sites.town.oidc]", "grant = 1"),
    ] {
        let text = GOOD.replacen(section, &format!("{section}\n{line}"), 1);
        let e = errs(&text);
        assert_eq!(e.len(), 1, "{section}: {e:?}");
        assert!(e[0].contains("unknown field"), "{section}: {e:?}");
    }
}

#[test]
fn errors_carry_file_line_column_and_all_are_reported() {
    let text = GOOD
        .replace("policy = \"standard\"", "policy = \"nope\"")
        .replace("listen = \"127.0.0.1:8080\"", "listen = \"everywhere\"");
    let e = errs(&text);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].starts_with("/tmp/munjigi-test.toml:4:10: server.listen"),
        "{e:?}"
    );
    assert!(
        e[1].contains(":14:10: sites.town: no policy `nope`"),
        "{e:?}"
    );
}

#[test]
fn redirect_uris_must_be_https_except_loopback() {
    let text = GOOD.replace("https://town.example/cb", "http://town.example/cb");
    assert!(errs(&text)[0].contains("use https://"));
    let text = GOOD.replace("https://town.example/cb", "http://127.0.0.1:9/cb");
    assert!(errs(&text).is_empty());
    let text = GOOD.replace("https://town.example/cb", "https://town.example/cb#x");
    assert!(errs(&text)[0].contains("fragment"));
}

#[test]
fn short_secrets_are_refused() {
    let text = GOOD.replace("0123456789abcdef0123456789abcdef", "short");
    assert!(errs(&text)[0].contains("at least 32 bytes"));
}

#[test]
fn syntax_errors_have_positions() {
    let e = errs("[server\npublic_url = 1");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("/tmp/munjigi-test.toml:1:"), "{e:?}");
}
