//! The SAML 2.0 IdP face of the gateway: metadata, Web Browser SSO over the
//! HTTP-Redirect and HTTP-POST bindings.
//!
//! Only the front protocol is SAML: a request becomes the same login
//! transaction, chooser, provider flow and normalised assertion as OIDC, and
//! the outcome is released by the same claim policy, then projected onto a
//! signed Response. Inbound messages are checked in layers, each refusing
//! with its own reason: [`inbound`] (encoding, size, shape, hostile XML),
//! [`parity`] (strict libxml2 reads it as the scan did), [`binding`]
//! (signatures, reduction to the signed bytes), [`sso`] (who, where, when).

pub mod aggregate;
pub mod binding;
pub mod dsig;
pub mod encrypt;
pub mod error;
pub mod inbound;
pub mod keys;
pub mod logout_out;
pub mod metadata;
pub mod once;
pub mod parity;
pub mod profile;
pub mod remote_metadata;
pub mod response;
pub mod slo;
pub mod sp;
pub mod sso;

use munjigi_providers::Level;
use serde::{Deserialize, Serialize};

/// How the Response of a login is built: kept in the login transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamlReturn {
    /// The SP's entityID (the Audience).
    pub sp: String,
    /// The AuthnRequest's ID (None for IdP-initiated SSO).
    pub request_id: Option<String>,
    /// The ACS URL, taken from the SP's metadata.
    pub acs: String,
    pub relay_state: Option<String>,
    /// NameID format transient (else persistent, the pairwise `sub`).
    pub transient: bool,
    /// Levels the RequestedAuthnContext accepts, lowest first.
    pub levels: Vec<Level>,
}

/// The SessionIndex an SP gets for gateway session `sid`: its own value, so
/// two SPs cannot link their users by it (as with the pairwise NameID), and
/// an SP cannot end a session it was not part of by naming its index.
pub fn session_index(sid: &str, sp: &str) -> String {
    let mut h = openssl::sha::Sha256::new();
    h.update(b"munjigi-saml-session-index-v1\0");
    h.update(sid.as_bytes());
    h.update(b"\0");
    h.update(sp.as_bytes());
    use base64::Engine as _;
    format!(
        "_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.finish())
    )
}

/// A POST's form fields (a SAML message is at most [`inbound::MAX_ENCODED`]).
async fn read_form(
    body: hyper::body::Incoming,
) -> Result<Vec<(String, String)>, crate::rescue::GatewayError> {
    let raw = crate::web::read_body(body, inbound::MAX_ENCODED * 2).await?;
    Ok(form_urlencoded::parse(&raw).into_owned().collect())
}

/// Reads whichever of `kinds` (a parameter and the root it must carry)
/// arrived, from either binding (a GET's query, or a POST's `form` read with
/// [`read_form`]); returns the one found (the first of `kinds` when none is
/// there, to be refused as missing).
fn message_of(
    parts: &http::request::Parts,
    form: Option<&[(String, String)]>,
    kinds: &[(binding::Kind, &'static str)],
) -> Result<(binding::Kind, binding::Arrived), crate::rescue::GatewayError> {
    use crate::rescue::GatewayError;
    let Some(&first) = kinds.first() else {
        return Err(GatewayError::invariant("no SAML message kind to read"));
    };
    // Refused before its SP is known: named by the Issuer it claims.
    match (&parts.method, form) {
        (&http::Method::GET, _) => {
            let query = parts.uri.query().unwrap_or_default();
            let has = |kind: &str| {
                query
                    .split('&')
                    .any(|p| p.split_once('=').map_or(p, |(n, _)| n) == kind)
            };
            let (kind, root) = kinds.iter().copied().find(|(k, _)| has(k)).unwrap_or(first);
            let arrived = binding::from_redirect(query, kind, root).map_err(|r| {
                error::SamlError::claimed(binding::claimed_issuer_redirect(query, kind), r)
            })?;
            Ok((kind, arrived))
        }
        (&http::Method::POST, Some(form)) => {
            let (kind, root) = kinds
                .iter()
                .copied()
                .find(|(k, _)| form.iter().any(|(n, _)| n == k))
                .unwrap_or(first);
            let arrived = binding::from_post(form, kind, root).map_err(|r| {
                error::SamlError::claimed(binding::claimed_issuer_post(form, kind), r)
            })?;
            Ok((kind, arrived))
        }
        _ => Err(GatewayError::MethodNotAllowed),
    }
}

/// The form field marking a POST that [`bounce`] sent back to us.
const BOUNCED: &str = "mj_bounced";

/// A cross-site HTTP-POST (an SP's page posting its message) arrives
/// without the browser's `SameSite=Lax` cookies, so it could not find the
/// session a LogoutRequest is about nor the browser's logout run. (An
/// AuthnRequest by POST is not bounced yet: it then starts a login instead of
/// reusing the single sign-on.) Such a POST is posted again to `path`,
/// unchanged, by a page of our own (same-site: the cookies come along). A
/// POST already bounced, or one that carries a cookie of ours, is read as it
/// is.
fn bounce(
    app: &crate::app::App,
    headers: &http::HeaderMap,
    form: &[(String, String)],
    path: &str,
    ctx: &crate::rescue::Ctx,
) -> Result<Option<crate::web::Response>, crate::rescue::GatewayError> {
    let ours = app
        .cookies
        .get(headers, crate::login::session::COOKIE)
        .is_some()
        || app
            .cookies
            .get(headers, crate::logout::chain::COOKIE)
            .is_some();
    if ours || form.iter().any(|(k, _)| k == BOUNCED) {
        return Ok(None);
    }
    let mut fields: Vec<(&'static str, String)> = form
        .iter()
        .filter_map(|(k, v)| {
            let name = match k.as_str() {
                "SAMLRequest" => "SAMLRequest",
                "SAMLResponse" => "SAMLResponse",
                "RelayState" => "RelayState",
                _ => return None,
            };
            Some((name, v.clone()))
        })
        .collect();
    fields.push((BOUNCED, "1".to_owned()));
    let again = logout_out::Outgoing::Post {
        action: format!("{}{path}", app.config.public_url),
        fields,
    };
    again.send(ctx).map(Some)
}
