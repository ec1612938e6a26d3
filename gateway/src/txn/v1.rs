//! Logins in stored format 1, read and (for now) written, so a rolling
//! upgrade keeps them in both directions.
//!
//! Format 1 kept the front of a login as optional fields on an OIDC-shaped
//! request (a proxied login carried a made-up `client_id`, a SAML login an
//! empty nonce, a signing login a separate `signing` field). This version
//! reads such a record as the [`Front`] it stood for, and writes every login
//! in this shape (see [`super::WRITTEN`]), so a replica of the previous
//! version reads what this one wrote. The shapes below are the previous
//! version's, field for field; nothing may be added to them. Remove when
//! the release after next no longer reads format 1.

use super::{Attempt, LoginTxn, Outcome, PolicySnapshot, State, StoredCitizen};
use crate::login::{Front, LoginRequest};
use crate::oidc::OidcReturn;
use crate::proxy::entry::ProxyReturn;
use crate::saml::SamlReturn;
use crate::signing::SigningSpec;
use munjigi_providers::signing::Document;
use munjigi_providers::Level;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

// Every field is a `Cow`: a record read is owned, a record written borrows
// from the login, so writing a login (every step of it) copies nothing of
// it, the kept evidence included.

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthRequest<'a> {
    client_id: Cow<'a, str>,
    site_id: Cow<'a, str>,
    redirect_uri: Cow<'a, str>,
    state: Option<Cow<'a, str>>,
    nonce: Option<Cow<'a, str>>,
    code_challenge: Option<Cow<'a, str>>,
    scope: Cow<'a, str>,
    required_level: Level,
    max_age: Option<u64>,
    login_hint: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    proxy: Option<Cow<'a, ProxyReturn>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    saml: Option<Cow<'a, SamlReturn>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Signing<'a> {
    request_id: Cow<'a, str>,
    title: Cow<'a, str>,
    documents: Cow<'a, [Document]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signer: Option<Cow<'a, StoredCitizen>>,
}

/// A login as format 1 stores it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginTxnV1<'a> {
    id: Cow<'a, str>,
    rev: u64,
    created_at: u64,
    expires_at: u64,
    browser: Cow<'a, str>,
    csrf: Cow<'a, str>,
    request: AuthRequest<'a>,
    policy: Cow<'a, PolicySnapshot>,
    state: State,
    attempt: Option<Cow<'a, Attempt>>,
    #[serde(default)]
    attempts: u32,
    failure: Option<crate::failure::Failure>,
    outcome: Option<Cow<'a, Outcome>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signing: Option<Signing<'a>>,
}

fn borrowed(v: &Option<String>) -> Option<Cow<'_, str>> {
    v.as_deref().map(Cow::Borrowed)
}

fn owned(v: Option<Cow<'_, str>>) -> Option<String> {
    v.map(Cow::into_owned)
}

impl<'a> From<&'a LoginTxn> for LoginTxnV1<'a> {
    /// The login as a replica of the previous version stored it.
    fn from(t: &'a LoginTxn) -> Self {
        let q = &t.request;
        let mut request = AuthRequest {
            client_id: Cow::Borrowed(t.front.party()),
            site_id: Cow::Borrowed(&q.site_id),
            redirect_uri: Cow::Borrowed(""),
            state: None,
            nonce: None,
            code_challenge: None,
            scope: Cow::Borrowed(&q.scope),
            required_level: q.required_level,
            max_age: q.max_age,
            login_hint: borrowed(&q.login_hint),
            proxy: None,
            saml: None,
        };
        let mut signing = None;
        match &t.front {
            Front::Oidc(o) => {
                request.redirect_uri = Cow::Borrowed(&o.redirect_uri);
                request.state = borrowed(&o.state);
                request.nonce = borrowed(&o.nonce);
                request.code_challenge = borrowed(&o.code_challenge);
            }
            Front::Saml(ret) => {
                request.redirect_uri = Cow::Borrowed(&ret.acs);
                request.state = borrowed(&ret.relay_state);
                request.saml = Some(Cow::Borrowed(ret));
            }
            Front::Proxy(px) => {
                // The previous version named a proxied login's client so.
                request.client_id = Cow::Owned(format!("route:{}", px.route));
                request.proxy = Some(Cow::Borrowed(px));
            }
            Front::Signing(spec) => {
                signing = Some(Signing {
                    request_id: Cow::Borrowed(&spec.request_id),
                    title: Cow::Borrowed(&spec.title),
                    documents: Cow::Borrowed(&spec.documents),
                    signer: spec.signer.as_ref().map(Cow::Borrowed),
                });
            }
            // Never written in format 1 (see `super::encode`); the client
            // id above is all this shape could say of it.
            Front::Device(_) | Front::Ciba(_) => {}
        }
        Self {
            id: Cow::Borrowed(&t.id),
            rev: t.rev,
            created_at: t.created_at,
            expires_at: t.expires_at,
            browser: Cow::Borrowed(&t.browser),
            csrf: Cow::Borrowed(&t.csrf),
            request,
            policy: Cow::Borrowed(&t.policy),
            state: t.state,
            attempt: t.attempt.as_ref().map(Cow::Borrowed),
            attempts: t.attempts,
            failure: t.failure,
            outcome: t.outcome.as_ref().map(Cow::Borrowed),
            signing,
        }
    }
}

impl LoginTxnV1<'_> {
    /// The same login in the current format. `rev` is kept: the record's bytes,
    /// not its format, are what a compare-and-swap compares.
    pub fn upgrade(self) -> LoginTxn {
        let r = self.request;
        let front = if let Some(s) = self.signing {
            Front::Signing(SigningSpec {
                request_id: s.request_id.into_owned(),
                client_id: r.client_id.into_owned(),
                title: s.title.into_owned(),
                documents: s.documents.into_owned(),
                signer: s.signer.map(Cow::into_owned),
            })
        } else if let Some(saml) = r.saml {
            Front::Saml(saml.into_owned())
        } else if let Some(px) = r.proxy {
            Front::Proxy(px.into_owned())
        } else {
            Front::Oidc(OidcReturn {
                client_id: r.client_id.into_owned(),
                redirect_uri: r.redirect_uri.into_owned(),
                state: owned(r.state),
                nonce: owned(r.nonce),
                code_challenge: owned(r.code_challenge),
            })
        };
        LoginTxn {
            v: super::FORMAT,
            id: self.id.into_owned(),
            rev: self.rev,
            created_at: self.created_at,
            expires_at: self.expires_at,
            browser: self.browser.into_owned(),
            csrf: self.csrf.into_owned(),
            front,
            request: LoginRequest {
                site_id: r.site_id.into_owned(),
                scope: r.scope.into_owned(),
                required_level: r.required_level,
                max_age: r.max_age,
                login_hint: owned(r.login_hint),
            },
            policy: self.policy.into_owned(),
            state: self.state,
            attempt: self.attempt.map(Cow::into_owned),
            attempts: self.attempts,
            failure: self.failure,
            outcome: self.outcome.map(Cow::into_owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode, FORMAT};
    use crate::login::Front;

    /// The parts every format-1 record had, around its `request`.
    fn record(request: &str, extra: &str) -> String {
        format!(
            r#"{{"id":"t1","rev":4,"created_at":1800000000,"expires_at":1800000600,"browser":"b","csrf":"c","request":{request},"policy":{{"allowed_providers":["kakao"],"min_level":"substantial","ci_entitled":false}},"state":"choosing","attempt":null,"attempts":2,"failure":"rejected","outcome":null{extra}}}"#
        )
    }

    #[test]
    fn an_oidc_login_of_format_1_reads_as_the_oidc_front() {
        let raw = record(
            r#"{"client_id":"portal","site_id":"town","redirect_uri":"https://rp.example/cb","state":"s","nonce":"n","code_challenge":"c","scope":"openid profile","required_level":"high","max_age":60,"login_hint":"010-1234-5678"}"#,
            "",
        );
        let txn = decode(raw.as_bytes()).unwrap();
        assert_eq!((txn.v, txn.rev, txn.attempts), (FORMAT, 4, 2));
        assert_eq!(txn.failure, Some(crate::failure::Failure::Rejected));
        let Front::Oidc(o) = &txn.front else {
            panic!("{:?}", txn.front)
        };
        assert_eq!(
            (o.client_id.as_str(), o.redirect_uri.as_str()),
            ("portal", "https://rp.example/cb")
        );
        assert_eq!(
            (
                o.state.as_deref(),
                o.nonce.as_deref(),
                o.code_challenge.as_deref()
            ),
            (Some("s"), Some("n"), Some("c"))
        );
        let r = &txn.request;
        assert_eq!(
            (r.site_id.as_str(), r.scope.as_str()),
            ("town", "openid profile")
        );
        assert_eq!(r.required_level, munjigi_providers::Level::High);
        assert_eq!(
            (r.max_age, r.login_hint.as_deref()),
            (Some(60), Some("010-1234-5678"))
        );
    }

    #[test]
    fn saml_proxy_and_signing_logins_of_format_1_read_as_their_fronts() {
        let saml = record(
            r#"{"client_id":"https://sp.example","site_id":"town","redirect_uri":"https://sp.example/acs","state":"rs","nonce":null,"code_challenge":null,"scope":"openid profile","required_level":"substantial","max_age":null,"login_hint":null,"saml":{"sp":"https://sp.example","request_id":"_r1","acs":"https://sp.example/acs","relay_state":"rs","transient":true,"levels":["substantial","high"]}}"#,
            "",
        );
        let Front::Saml(s) = decode(saml.as_bytes()).unwrap().front else {
            panic!("not SAML")
        };
        assert_eq!(
            (s.sp.as_str(), s.request_id.as_deref()),
            ("https://sp.example", Some("_r1"))
        );
        assert!(s.transient);
        assert_eq!(s.levels.len(), 2);

        let proxy = record(
            r#"{"client_id":"route:wiki","site_id":"town","redirect_uri":"","state":null,"nonce":null,"code_challenge":null,"scope":"openid profile","required_level":"low","max_age":null,"login_hint":null,"proxy":{"route":"wiki","rd":"/page","state":"digest"}}"#,
            "",
        );
        let Front::Proxy(p) = decode(proxy.as_bytes()).unwrap().front else {
            panic!("not proxy")
        };
        assert_eq!(
            (p.route.as_str(), p.rd.as_str(), p.state.as_str()),
            ("wiki", "/page", "digest")
        );

        let signing = record(
            r#"{"client_id":"portal","site_id":"town","redirect_uri":"https://rp.example/signed","state":"s","nonce":null,"code_challenge":null,"scope":"openid profile","required_level":"substantial","max_age":null,"login_hint":null}"#,
            r#","signing":{"request_id":"req1","title":"Contract","documents":[{"title":"a.pdf","sha256":"0000000000000000000000000000000000000000000000000000000000000000"}]}"#,
        );
        let txn = decode(signing.as_bytes()).unwrap();
        let spec = txn.signing().unwrap();
        assert_eq!(
            (spec.request_id.as_str(), spec.client_id.as_str()),
            ("req1", "portal")
        );
        assert_eq!(spec.documents.len(), 1);
    }

    #[test]
    fn a_record_of_a_newer_format_or_no_format_is_refused_not_misread() {
        let txn = decode(
            record(
                r#"{"client_id":"portal","site_id":"town","redirect_uri":"https://rp.example/cb","state":null,"nonce":null,"code_challenge":null,"scope":"openid","required_level":"low","max_age":null,"login_hint":null}"#,
                "",
            )
            .as_bytes(),
        )
        .unwrap();
        let mut newer = serde_json::to_value(&txn).unwrap();
        newer["v"] = serde_json::json!(FORMAT + 1);
        assert!(decode(newer.to_string().as_bytes()).is_err());
        assert!(decode(br#"{"id":"t1"}"#).is_err());
        assert!(decode(b"not json").is_err());
        // And the current format reads back as written.
        let again = decode(&serde_json::to_vec(&txn).unwrap()).unwrap();
        assert_eq!(again.front.party(), "portal");
    }

    #[test]
    fn what_this_version_writes_the_previous_one_reads_and_back_for_every_front() {
        let fronts = [
            r#"{"client_id":"portal","site_id":"town","redirect_uri":"https://rp.example/cb","state":"s","nonce":"n","code_challenge":"c","scope":"openid profile","required_level":"high","max_age":60,"login_hint":"010-1234-5678"}"#,
            r#"{"client_id":"https://sp.example","site_id":"town","redirect_uri":"https://sp.example/acs","state":"rs","nonce":null,"code_challenge":null,"scope":"openid profile","required_level":"substantial","max_age":null,"login_hint":null,"saml":{"sp":"https://sp.example","request_id":"_r1","acs":"https://sp.example/acs","relay_state":"rs","transient":true,"levels":["substantial","high"]}}"#,
            r#"{"client_id":"route:wiki","site_id":"town","redirect_uri":"","state":null,"nonce":null,"code_challenge":null,"scope":"openid profile","required_level":"low","max_age":null,"login_hint":null,"proxy":{"route":"wiki","rd":"/page","state":"digest"}}"#,
        ];
        let mut records: Vec<String> = fronts.iter().map(|f| record(f, "")).collect();
        records.push(record(
            r#"{"client_id":"portal","site_id":"town","redirect_uri":"","state":null,"nonce":null,"code_challenge":null,"scope":"openid profile","required_level":"substantial","max_age":null,"login_hint":null}"#,
            r#","signing":{"request_id":"req1","title":"Contract","documents":[{"title":"a.pdf","sha256":"0000000000000000000000000000000000000000000000000000000000000000"}]}"#,
        ));
        for raw in &records {
            let txn = decode(raw.as_bytes()).unwrap();
            let written = super::super::encode(&txn, false).unwrap();
            // The previous version's shape, field for field (its reader is
            // the strict one above): no `v`, no `front`, the same values.
            let as_value: serde_json::Value = serde_json::from_slice(&written).unwrap();
            let original: serde_json::Value = serde_json::from_str(raw).unwrap();
            assert_eq!(as_value, original, "{}", txn.front.kind());
            let back = decode(&written).unwrap();
            assert_eq!(
                serde_json::to_value(&back).unwrap(),
                serde_json::to_value(&txn).unwrap()
            );
        }
    }

    #[test]
    fn the_format_decides_the_reader() {
        let raw = record(
            r#"{"client_id":"portal","site_id":"town","redirect_uri":"https://rp.example/cb","state":null,"nonce":null,"code_challenge":null,"scope":"openid","required_level":"low","max_age":null,"login_hint":null}"#,
            "",
        );
        let txn = decode(raw.as_bytes()).unwrap();
        // A front this version does not know, in a newer format: refused.
        let mut newer = serde_json::to_value(&txn).unwrap();
        newer["v"] = serde_json::json!(FORMAT + 1);
        newer["front"] = serde_json::json!({"ciba": {"auth_req_id": "x"}});
        assert!(decode(newer.to_string().as_bytes()).is_err());
        // Format 1 with a field format 1 never had: refused, not half-read.
        let mut odd: serde_json::Value = serde_json::from_str(&raw).unwrap();
        odd["front"] = serde_json::json!({"oidc": {}});
        assert!(decode(odd.to_string().as_bytes()).is_err());
    }
}
