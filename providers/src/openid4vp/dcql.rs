//! The Digital Credentials Query Language (OpenID4VP 1.0 §6), as much as a
//! login needs: one credential query of format `dc+sd-jwt`, the accepted
//! types (`meta.vct_values`) and exactly the claims the site's policy
//! releases; and the wallet's `vp_token` read against it.
//!
//! Strict readings: a `vp_token` must name exactly the one query, with one
//! presentation (no `multiple`); every claim asked must be in the verified
//! presentation (a wallet is never trusted to have honoured the query,
//! §14.9), and claims not asked for are dropped by the caller, not
//! released.

use serde::Serialize;
use serde_json::{Map, Value};

/// The id of the one credential query (the key of the `vp_token`).
pub const QUERY_ID: &str = "identity";
/// The largest `vp_token` read.
pub const MAX_LEN: usize = 64 * 1024;

/// A claim's place in the credential: object keys from the top.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimQuery {
    pub path: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Meta {
    pub vct_values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialQuery {
    pub id: String,
    pub format: String,
    pub meta: Meta,
    pub claims: Vec<ClaimQuery>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Query {
    pub credentials: Vec<CredentialQuery>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DcqlError {
    #[error("the vp_token is not as asked: {0}")]
    Token(&'static str),
    #[error("a claim asked for is not in the presentation")]
    Missing,
    #[error("the credential is not of a type asked for")]
    Type,
}

/// The query for a login: credentials of `types`, with `claims` (each a
/// path of object keys) and nothing else.
pub fn query(types: &[String], claims: &[Vec<String>]) -> Query {
    Query {
        credentials: vec![CredentialQuery {
            id: QUERY_ID.to_owned(),
            format: "dc+sd-jwt".to_owned(),
            meta: Meta {
                vct_values: types.to_vec(),
            },
            claims: claims
                .iter()
                .map(|p| ClaimQuery { path: p.clone() })
                .collect(),
        }],
    }
}

/// The one presentation a `vp_token` (as posted: a JSON object) carries
/// for the query.
pub fn presentation(vp_token: &str) -> Result<String, DcqlError> {
    if vp_token.len() > MAX_LEN {
        return Err(DcqlError::Token("too large"));
    }
    crate::json::unique_keys(vp_token.as_bytes()).map_err(|_| DcqlError::Token("not JSON"))?;
    let v: Map<String, Value> =
        serde_json::from_str(vp_token).map_err(|_| DcqlError::Token("not a JSON object"))?;
    if v.len() != 1 {
        return Err(DcqlError::Token("not exactly the one query"));
    }
    let list = v
        .get(QUERY_ID)
        .and_then(Value::as_array)
        .ok_or(DcqlError::Token("not the query asked"))?;
    match list.as_slice() {
        [Value::String(p)] => Ok(p.clone()),
        [_] => Err(DcqlError::Token("a presentation that is not a string")),
        _ => Err(DcqlError::Token("not exactly one presentation")),
    }
}

/// Whether a verified presentation (its `vct` and processed claims)
/// answers `q`: a type asked for, and every claim asked present.
pub fn answers(
    q: &CredentialQuery,
    vct: &str,
    claims: &Map<String, Value>,
) -> Result<(), DcqlError> {
    if !q.meta.vct_values.iter().any(|t| t == vct) {
        return Err(DcqlError::Type);
    }
    for c in &q.claims {
        let mut at: Option<&Value> = None;
        for (i, key) in c.path.iter().enumerate() {
            at = match (i, at) {
                (0, _) => claims.get(key),
                (_, Some(Value::Object(m))) => m.get(key),
                _ => None,
            };
        }
        if at.is_none_or(Value::is_null) {
            return Err(DcqlError::Missing);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q() -> CredentialQuery {
        let types = vec!["https://credentials.example/identity".to_owned()];
        let claims = vec![
            vec!["name".to_owned()],
            vec!["address".to_owned(), "locality".to_owned()],
        ];
        query(&types, &claims).credentials.remove(0)
    }

    #[test]
    fn the_query_asks_for_exactly_the_claims_given_as_the_specification_writes_it() {
        let v = serde_json::to_value(query(
            &["t".to_owned()],
            &[vec!["name".to_owned()], vec!["birthdate".to_owned()]],
        ))
        .unwrap();
        assert_eq!(
            v,
            json!({"credentials": [{"id": "identity", "format": "dc+sd-jwt",
                "meta": {"vct_values": ["t"]},
                "claims": [{"path": ["name"]}, {"path": ["birthdate"]}]}]})
        );
    }

    #[test]
    fn a_vp_token_names_the_one_query_with_one_presentation() {
        assert_eq!(presentation(r#"{"identity":["a~b~c"]}"#).unwrap(), "a~b~c");
        for bad in [
            r#"{"identity":["a","b"]}"#,
            r#"{"identity":[]}"#,
            r#"{"identity":"a"}"#,
            r#"{"identity":[1]}"#,
            r#"{"other":["a"]}"#,
            r#"{"identity":["a"],"other":["b"]}"#,
            r#"{"identity":["a"],"identity":["b"]}"#,
            r#"["a"]"#,
            "not json",
        ] {
            assert!(presentation(bad).is_err(), "{bad}");
        }
        assert!(presentation(&format!(r#"{{"identity":["{}"]}}"#, "a".repeat(MAX_LEN))).is_err());
    }

    #[test]
    fn every_claim_asked_must_be_presented() {
        let q = q();
        let t = "https://credentials.example/identity";
        let full = json!({"name": "홍길동", "address": {"locality": "서울"}});
        let full = full.as_object().unwrap();
        assert_eq!(answers(&q, t, full), Ok(()));
        assert_eq!(answers(&q, "https://other", full), Err(DcqlError::Type));
        for partial in [
            json!({"name": "홍길동"}),
            json!({"name": "홍길동", "address": {}}),
            json!({"name": "홍길동", "address": "서울"}),
            json!({"address": {"locality": "서울"}}),
            json!({"name": null, "address": {"locality": "서울"}}),
        ] {
            assert_eq!(
                answers(&q, t, partial.as_object().unwrap()),
                Err(DcqlError::Missing),
                "{partial}"
            );
        }
    }
}
