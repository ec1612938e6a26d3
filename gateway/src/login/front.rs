//! Which protocol a login answers, as a type.
//!
//! A login is begun by one front (an OIDC authorization request, a SAML
//! AuthnRequest, a proxied route, a signature request) and must end at the
//! same front, in its own protocol. Everything between (chooser, provider,
//! verification, claim release, the gateway session) does not care which:
//! it sees the front-neutral [`LoginRequest`]. Only the two ends of a login
//! ([`super::ends`]) `match` on the [`Front`], so a new front (CIBA, a wallet)
//! is one more variant and one more arm, and the compiler lists every place
//! that must answer it.

use crate::oidc::ciba::CibaReturn;
use crate::oidc::device::DeviceReturn;
use crate::oidc::OidcReturn;
use crate::proxy::entry::ProxyReturn;
use crate::saml::SamlReturn;
use crate::signing::SigningSpec;
use munjigi_providers::Level;
use serde::{Deserialize, Serialize};

/// What any front asks of a login, fixed when it began.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    /// The site whose policy rules the login (its id in the config).
    pub site_id: String,
    /// The claims asked for, as OIDC scopes (the SAML, proxy and signing
    /// fronts use the scope their site's config gives them).
    pub scope: String,
    /// The lowest level this login may end at.
    pub required_level: Level,
    /// The oldest gateway session (seconds since authentication) the site accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
    /// A phone number to prefill the identity form with (national format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_hint: Option<String>,
}

/// The front a login answers, with what it needs to answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Front {
    /// An OpenID Connect authorization request: answered with a code.
    Oidc(OidcReturn),
    /// A SAML AuthnRequest (or an IdP-initiated start): answered with a Response.
    Saml(SamlReturn),
    /// A proxied route: answered with a session hand-over on the route's host.
    Proxy(ProxyReturn),
    /// A site's signature request: answered with a receipt.
    Signing(SigningSpec),
    /// A device's authorization (RFC 8628): answered by approving its
    /// record, which the device's next poll redeems; the citizen is told to
    /// go back to the device.
    Device(DeviceReturn),
    /// A site's backchannel request for a named citizen (CIBA): no browser;
    /// answered by settling its record, which the site's `/token` polls
    /// redeem.
    Ciba(CibaReturn),
}

impl Front {
    /// A short, stable name of the protocol (logs and, later, metric labels).
    pub fn kind(&self) -> &'static str {
        match self {
            Front::Oidc(_) => "oidc",
            Front::Saml(_) => "saml",
            Front::Proxy(_) => "proxy",
            Front::Signing(_) => "signing",
            Front::Device(_) => "device",
            Front::Ciba(_) => "ciba",
        }
    }

    /// Who asked, for log lines: the OIDC client, the SAML SP's entityID, the
    /// proxy route, the signing client. Configured names, never personal data.
    pub fn party(&self) -> &str {
        match self {
            Front::Oidc(o) => &o.client_id,
            Front::Saml(s) => &s.sp,
            Front::Proxy(p) => &p.route,
            Front::Signing(s) => &s.client_id,
            Front::Device(d) => &d.client_id,
            Front::Ciba(c) => &c.client_id,
        }
    }

    /// The CIBA request this login serves, if it is one.
    pub fn ciba(&self) -> Option<&CibaReturn> {
        match self {
            Front::Ciba(c) => Some(c),
            _ => None,
        }
    }

    /// The signing request this login serves, if it is one.
    pub fn signing(&self) -> Option<&SigningSpec> {
        match self {
            Front::Signing(s) => Some(s),
            _ => None,
        }
    }
}
