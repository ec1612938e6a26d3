//! `[sites.X.oidc] ciba`: whether a client may ask for a named citizen's
//! approval without the citizen's browser (OpenID Connect CIBA), and how it
//! hears the outcome.
//!
//! Off unless asked for, and only for a client that authenticates: the
//! gateway pushes to a phone on the word of this client alone, so who is
//! asking must be proven, and whom it names must be signed by the client
//! (`login_hint_token`) unless the operator accepts unsigned hints for it.
//! Push delivery (CIBA's third mode) is not offered: tokens are only ever
//! handed out at `/token`.

use super::Report;
use crate::config::model::{CibaDelivery, CibaGrant};
use crate::config::raw::RawOidcClient;
use crate::oidc::client_assertion::ClientKeys;
use std::path::Path;
use std::time::Duration;

/// A request's life when the client asks for none: an unsolicited push
/// should not wait long.
pub const DEFAULT_EXPIRY_SECS: u64 = 120;
/// The longest any provider push lasts through the gateway.
pub const EXPIRY_RANGE: std::ops::RangeInclusive<u64> = 30..=300;

/// The client's checked CIBA grant, if allowed. `assertion_keys` are its
/// `private_key_jwt` keys, if it has them.
pub(super) fn grant(
    r: &mut Report<'_>,
    base: &Path,
    id: &str,
    o: &RawOidcClient,
    assertion_keys: Option<&ClientKeys>,
) -> Option<CibaGrant> {
    let at = format!("sites.{id}.oidc");
    if !o.ciba {
        let stray = [
            (
                "backchannel_token_delivery_mode",
                o.backchannel_token_delivery_mode.as_ref().map(|v| v.span()),
            ),
            (
                "backchannel_client_notification_endpoint",
                o.backchannel_client_notification_endpoint
                    .as_ref()
                    .map(|v| v.span()),
            ),
            (
                "ciba_expiry_secs",
                o.ciba_expiry_secs.as_ref().map(|v| v.span()),
            ),
            (
                "login_hint_jwks",
                o.login_hint_jwks.as_ref().map(|v| v.span()),
            ),
        ];
        for (name, span) in stray {
            if let Some(span) = span {
                r.at(span, format!("{at}.{name} needs ciba = true"));
            }
        }
        if o.ciba_unsigned_hints {
            r.at(
                o.client_id.span(),
                format!("{at}.ciba_unsigned_hints needs ciba = true"),
            );
        }
        return None;
    }
    if o.client_secret.is_none() && assertion_keys.is_none() {
        r.at(
            o.client_id.span(),
            format!("{at}: ciba = true needs client authentication (a client_secret or private_key_jwt): the gateway pushes to a phone on this client's word"),
        );
        return None;
    }
    let hint_keys = match (&o.login_hint_jwks, assertion_keys) {
        (Some(j), Some(_)) => {
            r.at(
                j.span(),
                format!("{at}.login_hint_jwks is for clients with a secret; a private_key_jwt client signs its hints with a key of its `jwks`"),
            );
            None
        }
        (Some(j), None) => {
            let bytes = super::read_file(r, base, j.span(), j.get_ref(), "the JWK Set")?;
            match ClientKeys::parse(&bytes) {
                Ok(k) => Some(k),
                Err(e) => {
                    r.at(j.span(), format!("{at}.login_hint_jwks: {e}"));
                    None
                }
            }
        }
        (None, keys) => keys.cloned(),
    };
    if hint_keys.is_none() && !o.ciba_unsigned_hints && o.login_hint_jwks.is_none() {
        r.at(
            o.client_id.span(),
            format!("{at}: ciba = true needs keys for login_hint_token (login_hint_jwks, or private_key_jwt) or ciba_unsigned_hints = true"),
        );
    }
    let endpoint = o
        .backchannel_client_notification_endpoint
        .as_ref()
        .and_then(|u| super::logout::one(r, id, "backchannel_client_notification_endpoint", u));
    let delivery = match o
        .backchannel_token_delivery_mode
        .as_ref()
        .map(|m| (m.span(), m.get_ref().as_str()))
    {
        None | Some((_, "poll")) => {
            if let Some(u) = &o.backchannel_client_notification_endpoint {
                r.at(
                    u.span(),
                    format!("{at}.backchannel_client_notification_endpoint is for backchannel_token_delivery_mode = \"ping\""),
                );
            }
            CibaDelivery::Poll
        }
        Some((span, "ping")) => match endpoint {
            Some(endpoint) => CibaDelivery::Ping { endpoint },
            None => {
                if o.backchannel_client_notification_endpoint.is_none() {
                    r.at(
                        span,
                        format!("{at}: ping needs backchannel_client_notification_endpoint"),
                    );
                }
                CibaDelivery::Poll
            }
        },
        Some((span, other)) => {
            r.at(
                span,
                format!("{at}.backchannel_token_delivery_mode `{other}` is not supported; use \"poll\" or \"ping\""),
            );
            CibaDelivery::Poll
        }
    };
    let expiry = match &o.ciba_expiry_secs {
        None => DEFAULT_EXPIRY_SECS,
        Some(t) if EXPIRY_RANGE.contains(t.get_ref()) => *t.get_ref(),
        Some(t) => {
            r.at(
                t.span(),
                format!(
                    "{at}.ciba_expiry_secs must be from {} to {} seconds",
                    EXPIRY_RANGE.start(),
                    EXPIRY_RANGE.end()
                ),
            );
            DEFAULT_EXPIRY_SECS
        }
    };
    Some(CibaGrant {
        delivery,
        hint_keys,
        unsigned_hints: o.ciba_unsigned_hints,
        expiry: Duration::from_secs(expiry),
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use crate::config::model::{CibaDelivery, CibaGrant};
    use std::path::Path;

    const BASE: &str = r#"
[server]
public_url = "http://127.0.0.1:8080"
listen = "127.0.0.1:8080"

[secrets]
pairwise_key = { value = "0123456789abcdef0123456789abcdef" }

[policies.standard]
min_level = "substantial"

[sites.cc]
name = "콜센터"
policy = "standard"
[sites.cc.oidc]
client_id = "cc"
redirect_uris = ["https://cc.example/cb"]
"#;

    fn with(lines: &str) -> Result<Option<CibaGrant>, Vec<String>> {
        let text = format!("{BASE}{lines}\n");
        match parse(Path::new("/tmp/munjigi-ciba.toml"), &text) {
            Ok(c) => Ok(c.sites.get("cc").and_then(|s| s.oidc.clone()).unwrap().ciba),
            Err(e) => Err(e.0.iter().map(ToString::to_string).collect()),
        }
    }

    const SECRET: &str = "client_secret = { value = \"cc-secret-0123456789\" }";

    #[test]
    fn off_by_default_poll_and_two_minutes_when_on() {
        assert!(with(SECRET).unwrap().is_none());
        let g = with(&format!(
            "{SECRET}\nciba = true\nciba_unsigned_hints = true"
        ))
        .unwrap()
        .unwrap();
        assert_eq!(g.delivery, CibaDelivery::Poll);
        assert_eq!(g.expiry.as_secs(), 120);
        assert!(g.unsigned_hints && g.hint_keys.is_none());
        let g = with(&format!(
            "{SECRET}\nciba = true\nciba_unsigned_hints = true\nbackchannel_token_delivery_mode = \"ping\"\nbackchannel_client_notification_endpoint = \"http://127.0.0.1:9/cb\"\nciba_expiry_secs = 60"
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            g.delivery,
            CibaDelivery::Ping {
                endpoint: "http://127.0.0.1:9/cb".into()
            }
        );
        assert_eq!(g.expiry.as_secs(), 60);
    }

    #[test]
    fn unsafe_or_incomplete_registrations_are_refused_with_their_line() {
        for (lines, says) in [
            ("ciba = true\nciba_unsigned_hints = true", "needs client authentication"),
            (&format!("{SECRET}\nciba = true") as &str, "needs keys for login_hint_token"),
            (
                &format!("{SECRET}\nciba = true\nciba_unsigned_hints = true\nbackchannel_token_delivery_mode = \"push\""),
                "not supported",
            ),
            (
                &format!("{SECRET}\nciba = true\nciba_unsigned_hints = true\nbackchannel_token_delivery_mode = \"ping\""),
                "ping needs backchannel_client_notification_endpoint",
            ),
            (
                &format!("{SECRET}\nciba = true\nciba_unsigned_hints = true\nbackchannel_client_notification_endpoint = \"http://127.0.0.1:9/cb\""),
                "is for backchannel_token_delivery_mode = \"ping\"",
            ),
            (
                &format!("{SECRET}\nciba = true\nciba_unsigned_hints = true\nbackchannel_token_delivery_mode = \"ping\"\nbackchannel_client_notification_endpoint = \"http://cc.example/cb\""),
                "backchannel_client_notification_endpoint",
            ),
            (
                &format!("{SECRET}\nciba = true\nciba_unsigned_hints = true\nciba_expiry_secs = 600"),
                "from 30 to 300",
            ),
            (&format!("{SECRET}\nciba_expiry_secs = 60"), "needs ciba = true"),
            (&format!("{SECRET}\nciba_unsigned_hints = true"), "needs ciba = true"),
        ] {
            let errs = with(lines).unwrap_err();
            assert!(
                errs.iter().any(|e| e.contains(says) && e.contains("sites.cc.oidc")),
                "{lines}: {errs:?}"
            );
        }
    }
}
