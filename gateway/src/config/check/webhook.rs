//! `[sites.X.signing]`: the site's webhook for the end of its signature
//! requests. Registered in config only (the API cannot name one), and checked
//! like a redirect URI: https, or http on loopback; kept as written and used
//! exactly.

use super::{check_url, Report};
use crate::config::raw::RawSiteSigning;

/// The validated webhook URL of site `id`, if it registered one.
pub(super) fn site_url(
    r: &mut Report<'_>,
    id: &str,
    raw: Option<RawSiteSigning>,
) -> Option<String> {
    let url = raw?.webhook_url?;
    if let Err(e) = check_url(url.get_ref()) {
        r.at(url.span(), format!("sites.{id}.signing.webhook_url: {e}"));
        return None;
    }
    Some(url.into_inner())
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

    fn with_webhook(line: &str) -> Result<Option<String>, Vec<String>> {
        let text = format!("{BASE}[sites.town.signing]\n{line}\n");
        match parse(Path::new("/tmp/munjigi-webhook.toml"), &text) {
            Ok(c) => Ok(c.sites.get("town").and_then(|s| s.webhook_url.clone())),
            Err(e) => Err(e.0.iter().map(ToString::to_string).collect()),
        }
    }

    #[test]
    fn no_webhook_by_default() {
        let c = parse(Path::new("/tmp/x.toml"), BASE).unwrap();
        assert_eq!(c.sites.get("town").unwrap().webhook_url, None);
        assert_eq!(with_webhook("").unwrap(), None);
    }

    #[test]
    fn https_and_loopback_http_are_kept_exactly() {
        for url in [
            "https://town.example/hooks/munjigi",
            "https://town.example:8443/hooks?site=town",
            "http://127.0.0.1:9/hook",
            "http://localhost/hook",
            "http://[::1]:9/hook",
        ] {
            assert_eq!(
                with_webhook(&format!("webhook_url = \"{url}\"")).unwrap(),
                Some(url.to_owned()),
                "{url}"
            );
        }
    }

    #[test]
    fn other_urls_are_refused_with_the_setting_named() {
        for (url, why) in [
            ("http://town.example/hook", "use https://"),
            ("ftp://town.example/hook", "absolute https:// URL"),
            ("/hooks/munjigi", "absolute https:// URL"),
            ("https:///hook", "no host"),
            ("https://town.example/hook#frag", "fragment"),
            ("https://town.example/ho ok", "whitespace"),
        ] {
            let e = with_webhook(&format!("webhook_url = \"{url}\"")).unwrap_err();
            assert_eq!(e.len(), 1, "{url}: {e:?}");
            assert!(e[0].contains("sites.town.signing.webhook_url"), "{e:?}");
            assert!(e[0].contains(why), "{url}: {e:?}");
        }
    }

    #[test]
    fn unknown_keys_in_site_signing_are_errors() {
        let e = with_webhook("webhook = \"https://town.example/h\"").unwrap_err();
        assert!(e[0].contains("unknown field"), "{e:?}");
    }
}
