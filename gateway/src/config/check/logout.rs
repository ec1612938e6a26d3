//! `[sites.X.oidc]` logout registration: where the client is told that a
//! single sign-on it took part in has ended (OpenID Connect Back-Channel
//! Logout 1.0 and Front-Channel Logout 1.0).
//!
//! Both URLs are checked as a redirect URI is (https, or http on loopback),
//! kept as written and used exactly. A front-channel URL is loaded by the
//! citizen's browser in a frame of our page, so Front-Channel Logout §2 ties
//! it to the client: its scheme, host and port must be those of one of the
//! client's registered redirect URIs. Neither may carry a fragment, and the
//! back-channel one is contacted by the gateway itself, so it must not be a
//! URL the operator did not write (no redirects are followed).

use super::{check_url, Report};
use crate::config::raw::RawOidcClient;
use toml::Spanned;

/// The client's validated `(backchannel_logout_uri, frontchannel_logout_uri)`.
pub(super) fn uris(
    r: &mut Report<'_>,
    id: &str,
    o: &RawOidcClient,
) -> (Option<String>, Option<String>) {
    let back = o
        .backchannel_logout_uri
        .as_ref()
        .and_then(|u| one(r, id, "backchannel_logout_uri", u));
    let front = o
        .frontchannel_logout_uri
        .as_ref()
        .and_then(|u| one(r, id, "frontchannel_logout_uri", u));
    let front = front.filter(|f| {
        let same = o
            .redirect_uris
            .get_ref()
            .iter()
            .any(|ru| same_origin(f, ru.get_ref()));
        if !same {
            if let Some(u) = &o.frontchannel_logout_uri {
                r.at(
                    u.span(),
                    format!(
                        "sites.{id}.oidc.frontchannel_logout_uri must have the scheme, host and port of one of the client's redirect_uris"
                    ),
                );
            }
        }
        same
    });
    (back, front)
}

/// One URL the gateway calls a client at: the one URL rule, no fragment.
pub(super) fn one(r: &mut Report<'_>, id: &str, what: &str, u: &Spanned<String>) -> Option<String> {
    let v = u.get_ref();
    if let Err(e) = check_url(v) {
        r.at(u.span(), format!("sites.{id}.oidc.{what}: {e}"));
        return None;
    }
    if v.contains('#') {
        r.at(
            u.span(),
            format!("sites.{id}.oidc.{what} must not have a fragment"),
        );
        return None;
    }
    Some(v.clone())
}

fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
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

    fn with(lines: &str) -> Result<(Option<String>, Option<String>), Vec<String>> {
        let text = format!("{BASE}{lines}\n");
        match parse(Path::new("/tmp/munjigi-logout.toml"), &text) {
            Ok(c) => {
                let o = c.sites.get("town").and_then(|s| s.oidc.clone()).unwrap();
                Ok((o.backchannel_logout_uri, o.frontchannel_logout_uri))
            }
            Err(e) => Err(e.0.iter().map(ToString::to_string).collect()),
        }
    }

    #[test]
    fn none_by_default_and_kept_exactly_when_valid() {
        assert_eq!(with("").unwrap(), (None, None));
        let got = with(
            "backchannel_logout_uri = \"https://api.town.example/bc?x=1\"\nfrontchannel_logout_uri = \"https://town.example/fc\"",
        )
        .unwrap();
        assert_eq!(
            got,
            (
                Some("https://api.town.example/bc?x=1".into()),
                Some("https://town.example/fc".into())
            )
        );
        let loopback = with("backchannel_logout_uri = \"http://127.0.0.1:9/bc\"").unwrap();
        assert_eq!(loopback.0.as_deref(), Some("http://127.0.0.1:9/bc"));
    }

    #[test]
    fn bad_urls_are_refused_naming_the_site_and_setting() {
        for (line, says) in [
            (
                "backchannel_logout_uri = \"http://town.example/bc\"",
                "backchannel_logout_uri",
            ),
            (
                "backchannel_logout_uri = \"https://town.example/bc#x\"",
                "fragment",
            ),
            (
                "backchannel_logout_uri = \"https://user@town.example/bc\"",
                "backchannel_logout_uri",
            ),
            (
                "frontchannel_logout_uri = \"https://evil.example/fc\"",
                "redirect_uris",
            ),
            (
                "frontchannel_logout_uri = \"https://town.example:444/fc\"",
                "redirect_uris",
            ),
            (
                "frontchannel_logout_uri = \"javascript:alert(1)\"",
                "frontchannel_logout_uri",
            ),
        ] {
            let errors = with(line).unwrap_err();
            assert!(
                errors
                    .iter()
                    .any(|e| e.contains("sites.town.oidc") && e.contains(says)),
                "{line}: {errors:?}"
            );
        }
    }
}
