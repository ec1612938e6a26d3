//! `[sites.X.oidc] device_grant`: whether a client may start logins that the
//! citizen finishes on another device (RFC 8628), and for how long a code
//! lives.
//!
//! Off unless asked for: a code read off a kiosk and typed on a phone ties
//! the citizen to the site less tightly than a redirect in one browser, so
//! an operator allows it per site. A code's life is bounded both ways: too
//! short and a citizen cannot finish a push; too long and a code shown on a
//! public screen is a standing invitation.

use super::Report;
use crate::config::model::DeviceGrant;
use crate::config::raw::RawOidcClient;
use std::time::Duration;

/// A device code's life when the client does not say (RFC 8628's example).
pub const DEFAULT_TTL_SECS: u64 = 600;
const TTL_RANGE: std::ops::RangeInclusive<u64> = 10..=1_800;

/// The client's checked device grant, if allowed.
pub(super) fn grant(r: &mut Report<'_>, id: &str, o: &RawOidcClient) -> Option<DeviceGrant> {
    let ttl = match &o.device_code_ttl_secs {
        None => DEFAULT_TTL_SECS,
        Some(t) if !o.device_grant => {
            r.at(
                t.span(),
                format!("sites.{id}.oidc.device_code_ttl_secs needs device_grant = true"),
            );
            DEFAULT_TTL_SECS
        }
        Some(t) if TTL_RANGE.contains(t.get_ref()) => *t.get_ref(),
        Some(t) => {
            r.at(
                t.span(),
                format!(
                    "sites.{id}.oidc.device_code_ttl_secs must be from {} to {} seconds",
                    TTL_RANGE.start(),
                    TTL_RANGE.end()
                ),
            );
            DEFAULT_TTL_SECS
        }
    };
    o.device_grant.then_some(DeviceGrant {
        ttl: Duration::from_secs(ttl),
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use crate::config::model::DeviceGrant;
    use std::path::Path;
    use std::time::Duration;

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

    fn with(lines: &str) -> Result<Option<DeviceGrant>, Vec<String>> {
        let text = format!("{BASE}{lines}\n");
        match parse(Path::new("/tmp/munjigi-device.toml"), &text) {
            Ok(c) => Ok(c
                .sites
                .get("town")
                .and_then(|s| s.oidc.clone())
                .unwrap()
                .device),
            Err(e) => Err(e.0.iter().map(ToString::to_string).collect()),
        }
    }

    #[test]
    fn off_by_default_ten_minutes_when_on() {
        assert_eq!(with("").unwrap(), None);
        assert_eq!(with("device_grant = false").unwrap(), None);
        assert_eq!(
            with("device_grant = true").unwrap(),
            Some(DeviceGrant {
                ttl: Duration::from_secs(600)
            })
        );
        assert_eq!(
            with("device_grant = true\ndevice_code_ttl_secs = 30").unwrap(),
            Some(DeviceGrant {
                ttl: Duration::from_secs(30)
            })
        );
    }

    #[test]
    fn a_life_out_of_range_or_without_the_grant_is_refused_with_its_line() {
        for (lines, says) in [
            (
                "device_grant = true\ndevice_code_ttl_secs = 5",
                "from 10 to 1800",
            ),
            (
                "device_grant = true\ndevice_code_ttl_secs = 7200",
                "from 10 to 1800",
            ),
            ("device_code_ttl_secs = 60", "needs device_grant = true"),
        ] {
            let errs = with(lines).unwrap_err();
            assert!(
                errs.iter()
                    .any(|e| e.contains(says) && e.contains("sites.town.oidc")),
                "{lines}: {errs:?}"
            );
        }
    }

    #[test]
    fn device_code_limits_are_the_deployments_alone() {
        let errs = with("[sites.town.limits]\ndevice_codes_per_client = [\"1/1m\"]").unwrap_err();
        assert!(
            errs.iter().any(|e| e.contains("set it under [limits]")),
            "{errs:?}"
        );
    }
}
