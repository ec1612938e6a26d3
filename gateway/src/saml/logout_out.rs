//! The logout messages the IdP sends (and [`Outgoing`], how any message of
//! ours reaches the browser): a LogoutRequest to each SP of an ended
//! session, and the LogoutResponse to the SP that asked.
//!
//! Both are signed, whichever binding: HTTP-POST carries an enveloped XML
//! signature after the Issuer, HTTP-Redirect signs the query as sent (SAML
//! bindings §3.4.4.1), RSA-SHA256 with the IdP key. The LogoutRequest names
//! the subject exactly as that SP was given it (the NameID and its format)
//! and the SP's own SessionIndex, so an SP needs nothing but its records. It
//! is written here rather than by samael, whose LogoutRequest has
//! SessionIndex as an attribute and NameID's Format as an element.

use super::binding::RSA_SHA256;
use super::error::status;
use super::response::{
    esc, issuer, nest_status, new_id, sign, to_xml, NAMEID_PERSISTENT, NAMEID_TRANSIENT,
};
use crate::app::App;
use crate::logout::SamlAnswer;
use crate::rescue::{Ctx, GatewayError};
use crate::web::{respond, Response};
use base64::Engine as _;
use samael::schema::{LogoutResponse, Status, StatusCode as SamlStatusCode};
use std::io::Write as _;

/// How long an SP may take to act on our LogoutRequest.
const REQUEST_LIFETIME_SECS: i64 = 300;

/// A message ready for the browser.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// An auto-submitting form (HTTP-POST binding).
    Post {
        action: String,
        fields: Vec<(&'static str, String)>,
    },
    /// A 302 to this URL (HTTP-Redirect binding).
    Redirect(String),
}

impl Outgoing {
    /// The HTTP-POST binding's form: `xml` (already signed where it must be)
    /// base64-encoded in `field`, with the RelayState.
    pub fn post(action: &str, xml: &str, field: &'static str, relay_state: Option<&str>) -> Self {
        let mut fields = vec![(field, base64::engine::general_purpose::STANDARD.encode(xml))];
        if let Some(r) = relay_state {
            fields.push(("RelayState", r.to_owned()));
        }
        Outgoing::Post {
            action: action.to_owned(),
            fields,
        }
    }

    /// The browser's answer: the form page or the redirect.
    pub fn send(&self, ctx: &Ctx) -> Result<Response, GatewayError> {
        match self {
            Outgoing::Redirect(url) => Ok(respond::redirect(url)),
            Outgoing::Post { action, fields } => {
                let body = crate::pages::post_back(&crate::pages::PostBackView {
                    lang: ctx.lang,
                    action,
                    fields,
                })
                .map_err(GatewayError::render)?;
                Ok(respond::html(http::StatusCode::OK, body))
            }
        }
    }
}

/// What a LogoutRequest to one SP says.
pub struct RequestTo<'a> {
    pub url: &'a str,
    pub post: bool,
    pub relay_state: &'a str,
    pub name_id: &'a str,
    pub transient: bool,
    pub session_index: &'a str,
}

/// A signed LogoutRequest; returns its ID (the SP's answer must name it).
pub fn request(app: &App, to: &RequestTo<'_>) -> Result<(String, Outgoing), GatewayError> {
    let id = new_id()?;
    let now = crate::clock::utc(app.clock.as_ref());
    let until = now + chrono::Duration::seconds(REQUEST_LIFETIME_SECS);
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let format = if to.transient {
        NAMEID_TRANSIENT
    } else {
        NAMEID_PERSISTENT
    };
    let xml = format!(
        concat!(
            r#"<saml2p:LogoutRequest xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion""#,
            r#" ID="{id}" Version="2.0" IssueInstant="{now}" NotOnOrAfter="{until}" Destination="{dest}">"#,
            r#"<saml2:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{issuer}</saml2:Issuer>"#,
            r#"<saml2:NameID Format="{format}">{name_id}</saml2:NameID>"#,
            r#"<saml2p:SessionIndex>{index}</saml2p:SessionIndex>"#,
            r#"</saml2p:LogoutRequest>"#
        ),
        id = id,
        now = fmt(now),
        until = fmt(until),
        dest = esc(to.url),
        issuer = esc(&app.config.saml.entity_id),
        format = format,
        name_id = esc(to.name_id),
        index = esc(to.session_index),
    );
    let out = encode(
        app,
        &xml,
        &id,
        "SAMLRequest",
        to.url,
        to.post,
        Some(to.relay_state),
    )?;
    Ok((id, out))
}

/// The signed LogoutResponse to the SP that asked: Success, with
/// PartialLogout beneath it when some site did not confirm (SAML core
/// §3.7.3.2), or `refused` as the status.
pub fn response(
    app: &App,
    a: &SamlAnswer,
    partial: bool,
    refused: Option<(&str, &str)>,
) -> Result<Outgoing, GatewayError> {
    let id = new_id()?;
    let top = refused.map_or(status::SUCCESS, |(t, _)| t);
    let second = match refused {
        Some((_, s)) => Some(s),
        None => partial.then_some(status::PARTIAL_LOGOUT),
    };
    let response = LogoutResponse {
        id: Some(id.clone()),
        in_response_to: Some(a.in_response_to.clone()),
        version: Some("2.0".into()),
        issue_instant: Some(crate::clock::utc(app.clock.as_ref())),
        destination: Some(a.url.clone()),
        consent: None,
        issuer: Some(issuer(app)),
        signature: None,
        status: Some(Status {
            status_code: SamlStatusCode {
                value: Some(top.into()),
            },
            status_message: None,
            status_detail: None,
        }),
    };
    let mut xml = to_xml(&response)?;
    if let Some(second) = second {
        xml = nest_status(&xml, top, second)?;
    }
    encode(
        app,
        &xml,
        &id,
        "SAMLResponse",
        &a.url,
        a.post,
        a.relay_state.as_deref(),
    )
}

fn encode(
    app: &App,
    xml: &str,
    id: &str,
    field: &'static str,
    to: &str,
    post: bool,
    relay_state: Option<&str>,
) -> Result<Outgoing, GatewayError> {
    if post {
        // Logout messages keep RSA-SHA256 for every SP (the metadata's
        // first key); ECDSA is for the responses of the SPs that ask.
        let signed = sign(xml, id, app, super::dsig::SigAlg::RsaSha256)?;
        return Ok(Outgoing::post(to, &signed, field, relay_state));
    }
    Ok(Outgoing::Redirect(redirect_url(
        app,
        to,
        field,
        xml,
        relay_state,
    )?))
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// An HTTP-Redirect message: DEFLATE, base64, and the query signed as sent.
fn redirect_url(
    app: &App,
    to: &str,
    field: &str,
    xml: &str,
    relay_state: Option<&str>,
) -> Result<String, GatewayError> {
    let internal =
        |e: &dyn std::fmt::Display| GatewayError::encode(format!("SAML redirect encoding: {e}"));
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflater
        .write_all(xml.as_bytes())
        .map_err(|e| internal(&e))?;
    let deflated = deflater.finish().map_err(|e| internal(&e))?;
    let mut query = format!(
        "{field}={}",
        enc(&base64::engine::general_purpose::STANDARD.encode(deflated))
    );
    if let Some(r) = relay_state {
        query.push_str("&RelayState=");
        query.push_str(&enc(r));
    }
    query.push_str("&SigAlg=");
    query.push_str(&enc(RSA_SHA256));
    let signature =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &app.saml_keys.key)
            .and_then(|mut s| s.sign_oneshot_to_vec(query.as_bytes()))
            .map_err(|e| internal(&e))?;
    query.push_str("&Signature=");
    query.push_str(&enc(
        &base64::engine::general_purpose::STANDARD.encode(signature)
    ));
    let sep = if to.contains('?') { '&' } else { '?' };
    Ok(format!("{to}{sep}{query}"))
}
