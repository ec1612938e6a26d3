//! The Response an SP receives: built with samael's schema types, signed by
//! xmlsec (RSA-SHA256, exclusive c14n, SHA-256 digests).
//!
//! The Assertion is always signed, on its own document, before it is placed in
//! the Response; the Response is signed too when the site asks for it. samael
//! writes text content as given, so every value that comes from a person or a
//! request is escaped here first.

use super::error::status;
use super::inbound::NS_ASSERTION;
use super::profile::{AttributeProfile, NAMEFORMAT_URI};
use super::SamlReturn;
use crate::app::App;
use crate::config::model::SamlSite;
use crate::rescue::GatewayError;
use base64::Engine as _;
use chrono::{DateTime, TimeZone as _, Utc};
use munjigi_policy::Claims;
use munjigi_providers::Level;
use samael::attribute::{Attribute, AttributeValue};
use samael::schema::{
    Assertion, AttributeStatement, AudienceRestriction, AuthnContext, AuthnContextClassRef,
    AuthnStatement, Conditions, Issuer, Response, Status, StatusCode, StatusMessage, Subject,
    SubjectConfirmation, SubjectConfirmationData, SubjectNameID,
};
use samael::traits::ToXml;

pub const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
pub const NAMEID_TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// Escapes text for XML, dropping the characters XML 1.0 cannot carry at
/// all (control characters other than tab and line breaks, U+FFFE, U+FFFF):
/// a provider's value must not make the document unreadable.
pub(super) fn esc(s: &str) -> String {
    let allowed = |c: &char| {
        matches!(*c, '\t' | '\n' | '\r') || (*c >= ' ' && !matches!(*c, '\u{FFFE}' | '\u{FFFF}'))
    };
    let clean: String = s.chars().filter(allowed).collect();
    quick_xml::escape::escape(&clean).into_owned()
}

pub(super) fn issuer(app: &App) -> Issuer {
    Issuer {
        value: Some(esc(&app.config.saml.entity_id)),
        format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:entity".into()),
        ..Issuer::default()
    }
}

pub(super) fn new_id() -> Result<String, GatewayError> {
    // An NCName: a letter first, then base64url.
    Ok(format!("_{}", crate::random::token(20)?))
}

/// Puts the second-level status `second` inside the top-level StatusCode
/// `top` of `xml` (samael's StatusCode has no nested code).
pub(super) fn nest_status(xml: &str, top: &str, second: &str) -> Result<String, GatewayError> {
    let top_tag = format!("<saml2p:StatusCode Value=\"{top}\"/>");
    if !xml.contains(&top_tag) {
        return Err(GatewayError::encode("SAML status element not found"));
    }
    let nested = format!(
        "<saml2p:StatusCode Value=\"{top}\"><saml2p:StatusCode Value=\"{second}\"/></saml2p:StatusCode>"
    );
    Ok(xml.replacen(&top_tag, &nested, 1))
}

/// Signs the root element `id` of `xml` (the IdP's own document, written by
/// samael), the signature after its `Issuer`, with the SP's algorithm.
pub(super) fn sign(
    xml: &str,
    id: &str,
    app: &App,
    alg: super::dsig::SigAlg,
) -> Result<String, GatewayError> {
    app.saml_keys
        .signer_for(alg)
        .ok_or_else(|| GatewayError::keys(format!("no SAML key signs {}", alg.uri())))?
        .sign(xml, id, "</saml2:Issuer>")
        .map_err(|e| GatewayError::keys(format!("SAML signing failed: {e}")))
}

/// The algorithm the IdP signs with for SP `entity_id` (RSA-SHA256 for an
/// SP it no longer knows).
fn alg_for(app: &App, entity_id: &str) -> super::dsig::SigAlg {
    app.config
        .saml_sp(entity_id)
        .map(|(_, s)| s.signature_algorithm)
        .unwrap_or_default()
}

pub(super) fn to_xml<T>(v: &T) -> Result<String, GatewayError>
where
    for<'a> &'a T: TryInto<quick_xml::events::Event<'a>>,
    for<'a> <&'a T as TryInto<quick_xml::events::Event<'a>>>::Error:
        std::fmt::Debug + From<quick_xml::Error> + From<std::io::Error> + From<std::str::Utf8Error>,
{
    v.to_string()
        .map_err(|e| GatewayError::encode(format!("SAML serialisation failed: {e:?}")))
}

/// The SAML V2.0 Subject Identifier Attributes Profile's pairwise identifier:
/// stock SP attribute maps (Shibboleth's among them) decode it, so a site
/// gets its subject without editing its map.
pub const PAIRWISE_ID: &str = "urn:oasis:names:tc:SAML:attribute:pairwise-id";

/// The scope of the gateway's scoped attributes: its public host, lower
/// case, without a port (what the metadata's `shibmd:Scope` says).
pub fn scope(public_url: &str) -> String {
    let authority = public_url
        .split("://")
        .nth(1)
        .unwrap_or_default()
        .split('/')
        .next()
        .unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        // An IPv6 literal has no scope syntax; the profile needs a domain.
        Some(_) => "localhost",
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.to_ascii_lowercase()
}

/// `sub` as the profile's unique ID (1 to 127 of `[a-z0-9=-]`, compared
/// without case, so base64url will not do): the same bytes, in hex.
fn pairwise_id(sub: &str, scope: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sub)
        .ok()
        .filter(|b| !b.is_empty() && b.len() <= 63)?;
    Some(format!("{}@{scope}", hex::encode(bytes)))
}

/// The released claims as attributes, named as the site's profile says,
/// then `pairwise-id` (the same in every profile).
fn attributes(claims: &Claims, scope: &str, profile: AttributeProfile) -> Vec<Attribute> {
    let mut out = Vec::new();
    let json = serde_json::to_value(claims).unwrap_or_default();
    for naming in profile.namings() {
        let values: Vec<String> = match json.get(naming.claim) {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => continue,
        };
        let values: Vec<String> = values
            .iter()
            .filter_map(|v| profile.value(naming.claim, v))
            .collect();
        if values.is_empty() {
            continue;
        }
        out.push(Attribute {
            friendly_name: Some(naming.friendly_name.to_owned()),
            name: Some(naming.name.to_owned()),
            name_format: Some(naming.name_format.to_owned()),
            values: values
                .iter()
                .map(|v| AttributeValue {
                    // No xsi:type: its `xs:` prefix would be a QName in
                    // content, which exclusive c14n does not keep declared.
                    attribute_type: None,
                    value: Some(esc(v)),
                })
                .collect(),
        });
    }
    if let Some(id) = pairwise_id(&claims.sub, scope) {
        out.push(Attribute {
            friendly_name: Some("pairwise-id".to_owned()),
            name: Some(PAIRWISE_ID.to_owned()),
            name_format: Some(NAMEFORMAT_URI.to_owned()),
            values: vec![AttributeValue {
                attribute_type: None,
                value: Some(esc(&id)),
            }],
        });
    }
    out
}

/// What a successful answer carries beyond the request's own facts.
pub struct Success<'a> {
    pub claims: &'a Claims,
    pub name_id: &'a str,
    pub level: Level,
    pub session_index: &'a str,
    pub auth_time: u64,
}

fn at(unix: u64) -> DateTime<Utc> {
    Utc.timestamp_opt(i64::try_from(unix).unwrap_or(0), 0)
        .single()
        .unwrap_or_default()
}

/// A signed Response with one signed Assertion.
pub fn success(
    app: &App,
    site: &SamlSite,
    sp: &super::sp::ServiceProvider,
    ret: &SamlReturn,
    ok: &Success<'_>,
) -> Result<String, GatewayError> {
    let now = crate::clock::utc(app.clock.as_ref());
    let lifetime = chrono::Duration::from_std(app.config.saml.assertion_lifetime)
        .unwrap_or_else(|_| chrono::Duration::seconds(300));
    let until = now + lifetime;
    let assertion_id = new_id()?;
    let assertion = Assertion {
        id: assertion_id.clone(),
        issue_instant: now,
        version: "2.0".into(),
        issuer: issuer(app),
        signature: None,
        subject: Some(Subject {
            name_id: Some(SubjectNameID {
                format: Some(
                    if ret.transient {
                        NAMEID_TRANSIENT
                    } else {
                        NAMEID_PERSISTENT
                    }
                    .into(),
                ),
                value: esc(ok.name_id),
            }),
            subject_confirmations: Some(vec![SubjectConfirmation {
                method: Some(BEARER.into()),
                name_id: None,
                subject_confirmation_data: Some(SubjectConfirmationData {
                    not_before: None,
                    not_on_or_after: Some(until),
                    recipient: Some(ret.acs.clone()),
                    in_response_to: ret.request_id.clone(),
                    address: None,
                    content: None,
                }),
            }]),
        }),
        conditions: Some(Conditions {
            not_before: Some(now - chrono::Duration::seconds(30)),
            not_on_or_after: Some(until),
            audience_restrictions: Some(vec![AudienceRestriction {
                audience: vec![esc(&ret.sp)],
            }]),
            one_time_use: None,
            proxy_restriction: None,
        }),
        authn_statements: Some(vec![AuthnStatement {
            authn_instant: Some(at(ok.auth_time)),
            session_index: Some(ok.session_index.to_owned()),
            session_not_on_or_after: None,
            subject_locality: None,
            authn_context: Some(AuthnContext {
                value: Some(AuthnContextClassRef {
                    value: Some(ok.level.acr().to_owned()),
                }),
            }),
        }]),
        attribute_statements: Some(vec![AttributeStatement {
            attributes: attributes(
                ok.claims,
                &scope(&app.config.public_url),
                site.attribute_profile,
            ),
        }]),
    };
    let mut signed_assertion = sign(
        &to_xml(&assertion)?,
        &assertion_id,
        app,
        site.signature_algorithm,
    )?;
    if site
        .encrypt_assertions
        .unwrap_or(sp.encryption_key.is_some())
    {
        // A copy without the key is never in use (`SamlSite::unfit`); if one
        // were, the assertion would not go out in clear.
        let Some(cert) = &sp.encryption_key else {
            return Err(super::error::SamlError::new(
                Some(&ret.sp),
                super::error::Refusal::MetadataUnavailable(
                    super::remote_metadata::Unavailable::Unfit.reason(),
                ),
            )
            .into());
        };
        signed_assertion = super::encrypt::encrypted_assertion(&signed_assertion, cert)?;
    }
    envelope(
        app,
        site.sign_response,
        ret,
        status::SUCCESS,
        None,
        None,
        Some(&signed_assertion),
    )
}

/// A Response that carries only a status (no assertion).
pub fn failure(
    app: &App,
    ret: &SamlReturn,
    top: &str,
    second: Option<&str>,
    message: &str,
) -> Result<String, GatewayError> {
    // A status-only response is always signed: it is cheap and lets the SP
    // trust a NoPassive as much as a success.
    envelope(app, true, ret, top, second, Some(message), None)
}

fn envelope(
    app: &App,
    signed: bool,
    ret: &SamlReturn,
    top: &str,
    second: Option<&str>,
    message: Option<&str>,
    assertion_xml: Option<&str>,
) -> Result<String, GatewayError> {
    let id = new_id()?;
    let response = Response {
        id: id.clone(),
        in_response_to: ret.request_id.clone(),
        version: "2.0".into(),
        issue_instant: crate::clock::utc(app.clock.as_ref()),
        destination: Some(ret.acs.clone()),
        consent: None,
        issuer: Some(issuer(app)),
        signature: None,
        status: Some(Status {
            status_code: StatusCode {
                value: Some(top.to_owned()),
            },
            status_message: message.map(|m| StatusMessage {
                value: Some(esc(m)),
            }),
            status_detail: None,
        }),
        encrypted_assertion: None,
        assertion: None,
    };
    let mut xml = to_xml(&response)?;
    if let Some(second) = second {
        xml = nest_status(&xml, top, second)?;
    }
    if let Some(a) = assertion_xml {
        // The signed assertion goes after Status.
        let Some(at) = xml.rfind("</saml2p:Response>") else {
            return Err(GatewayError::encode("SAML response end not found"));
        };
        xml.insert_str(at, a);
    }
    if signed {
        xml = sign(&xml, &id, app, alg_for(app, &ret.sp))?;
    }
    debug_assert!(xml.contains(NS_ASSERTION));
    Ok(xml)
}

#[cfg(test)]
mod tests {
    use super::super::profile::NAMEFORMAT_BASIC;
    use super::*;

    fn claims() -> Claims {
        Claims {
            sub: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8".into(),
            name: Some("홍길동".into()),
            birthdate: Some("1990-01-31".into()),
            gender: Some("male".into()),
            phone_number: Some("+821012345678".into()),
            phone_number_verified: Some(true),
            ci: None,
            provider: "kakao".into(),
            acr: Level::Substantial.acr().into(),
            amr: vec!["pin".into()],
            auth_time: 1_700_000_000,
        }
    }

    /// `(Name, NameFormat, FriendlyName, values)` of each attribute.
    fn sent(p: AttributeProfile) -> Vec<(String, String, String, Vec<String>)> {
        attributes(&claims(), "login.example", p)
            .into_iter()
            .map(|a| {
                (
                    a.name.unwrap_or_default(),
                    a.name_format.unwrap_or_default(),
                    a.friendly_name.unwrap_or_default(),
                    a.values.into_iter().filter_map(|v| v.value).collect(),
                )
            })
            .collect()
    }

    fn value(sent: &[(String, String, String, Vec<String>)], name: &str) -> Option<Vec<String>> {
        sent.iter().find(|a| a.0 == name).map(|a| a.3.clone())
    }

    #[test]
    fn default_profile_sends_todays_names() {
        let s = sent(AttributeProfile::Munjigi);
        let names: Vec<_> = s.iter().map(|a| a.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "urn:munjigi:attribute:sub",
                "urn:oid:2.16.840.1.113730.3.1.241",
                "urn:oid:1.3.6.1.5.5.7.9.1",
                "urn:oid:1.3.6.1.5.5.7.9.3",
                "urn:oid:2.5.4.20",
                "urn:munjigi:attribute:provider",
                "urn:munjigi:attribute:amr",
                PAIRWISE_ID,
            ]
        );
        assert!(s.iter().all(|a| a.1 == NAMEFORMAT_URI));
        assert_eq!(
            value(&s, "urn:oid:1.3.6.1.5.5.7.9.1"),
            Some(vec!["1990-01-31".to_owned()])
        );
    }

    #[test]
    fn oid_profile_sends_standard_names_and_schac_values() {
        let s = sent(AttributeProfile::Oid);
        assert!(s.iter().all(|a| a.1 == NAMEFORMAT_URI), "{s:?}");
        assert_eq!(
            value(&s, "urn:oid:2.16.840.1.113730.3.1.241"),
            Some(vec!["홍길동".to_owned()])
        );
        assert_eq!(
            value(&s, "urn:oid:1.3.6.1.4.1.25178.1.2.3"),
            Some(vec!["19900131".to_owned()])
        );
        assert_eq!(
            value(&s, "urn:oid:1.3.6.1.4.1.25178.1.2.2"),
            Some(vec!["1".to_owned()])
        );
        assert_eq!(
            value(&s, "urn:oid:0.9.2342.19200300.100.1.41"),
            Some(vec!["+821012345678".to_owned()])
        );
        assert_eq!(value(&s, "urn:oid:1.3.6.1.5.5.7.9.1"), None);
        assert_eq!(value(&s, "urn:oid:2.5.4.20"), None);
    }

    #[test]
    fn basic_profile_sends_short_names_and_pairwise_id_stays_uri() {
        let s = sent(AttributeProfile::Basic);
        let (pairwise, rest) = s.split_last().unwrap();
        assert!(
            rest.iter().all(|a| a.1 == NAMEFORMAT_BASIC && a.0 == a.2),
            "{s:?}"
        );
        assert_eq!(
            value(&s, "dateOfBirth"),
            Some(vec!["1990-01-31".to_owned()])
        );
        assert_eq!(
            value(&s, "telephoneNumber"),
            Some(vec!["+821012345678".to_owned()])
        );
        for p in AttributeProfile::ALL {
            let last = sent(p).pop().unwrap();
            assert_eq!(last, pairwise.clone(), "{p}");
        }
        assert_eq!(pairwise.0, PAIRWISE_ID);
        assert_eq!(pairwise.1, NAMEFORMAT_URI);
        assert_eq!(pairwise.2, "pairwise-id");
        assert!(pairwise.3[0].ends_with("@login.example"));
    }
}
