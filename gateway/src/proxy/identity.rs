//! The citizen's identity as the upstream receives it: plain headers and one
//! signed JWT header.
//!
//! Header values are bytes on the wire and Korean names are not ASCII, so
//! every value is percent-encoded UTF-8: printable ASCII other than `%` passes
//! as is, every other byte becomes `%XX` (upper-case hex). Decoding is one call
//! in every language (`decodeURIComponent`, `urllib.parse.unquote`). The JWT
//! (ES256 with the gateway's key, `aud` = route id, 60 s) lets an upstream that
//! cannot trust its network verify the same facts against `/jwks`.
//!
//! The JWT is not an ID token, and says so where a verifier looks first: its
//! `typ` is [`TYP`] (`munjigi-proxy+jwt`, explicit typing per RFC 8725 §3.11),
//! never `JWT` as on ID tokens. Both are signed by the same key and a route id
//! may equal an OIDC client id, so without it an OIDC client with that id
//! could take an assertion for an ID token, and an upstream could take an
//! ID token for an assertion. For a relying party that ignores `typ`, the
//! assertion also never carries a `nonce`: a client that sent one refuses it.
//! No marker claim is added: a verifier that ignores `typ` ignores unknown
//! claims too. Upstreams check `typ`, `iss`, `aud` and `exp` (README, proxy).
//!
//! Signing costs more than forwarding a request, so a signed set is cached per
//! (session, route) and reused while it has at least half its life left.

use super::route::{IdentityField, Route};
use super::session::Loaded;
use crate::app::App;
use crate::config::model::IdTokenAlg;
use crate::keys::SigningKeys;
use crate::pairwise;
use crate::rescue::GatewayError;
use http::{HeaderName, HeaderValue};
use std::sync::Arc;

/// Lifetime of the JWT header, seconds.
pub const JWT_TTL: u64 = 60;

/// The assertion's JOSE `typ`: what tells it apart from an ID token (`JWT`).
pub const TYP: &str = "munjigi-proxy+jwt";

#[derive(Debug)]
pub struct Identity {
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub expires_at: u64,
}

/// Keyed by (session key, route index in the config snapshot).
pub fn cache() -> moka::sync::Cache<(Arc<str>, usize), Arc<Identity>> {
    moka::sync::Cache::builder()
        .max_capacity(200_000)
        .time_to_live(std::time::Duration::from_secs(JWT_TTL / 2))
        .build()
}

/// Percent-encodes everything but printable ASCII (and `%` itself).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The assertion's claims. No `nonce`, ever (see the module docs).
#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    name: &'a str,
    provider: &'a str,
    acr: &'static str,
    amr: &'a [String],
    auth_time: u64,
    iat: u64,
    exp: u64,
}

fn build(app: &App, route: &Route, l: &Loaded, now: u64) -> Result<Identity, GatewayError> {
    let o = &l.session.outcome;
    let sub = pairwise::subject(app.config.pairwise_key.expose(), &route.site, &o.person.ci)
        .map_err(GatewayError::keys)?;
    let mut headers = Vec::with_capacity(route.headers.len() + 1);
    for (field, name) in &route.headers {
        let v = match field {
            IdentityField::Subject => sub.clone(),
            IdentityField::Name => o.person.name.expose().to_owned(),
            IdentityField::Birthdate => o.person.birthdate.iso(),
            IdentityField::Phone if o.evidence.phone_proven() => o.person.phone.e164().to_owned(),
            IdentityField::Phone => String::new(),
            IdentityField::Gender => o
                .person
                .gender
                .map(|g| g.as_oidc().to_owned())
                .unwrap_or_default(),
            IdentityField::Provider => o.provider.as_str().to_owned(),
            IdentityField::Level => o.level.short().to_owned(),
            IdentityField::AuthTime => o.auth_time.to_string(),
        };
        let v = HeaderValue::from_str(&encode(&v))
            .map_err(|e| GatewayError::encode(format!("identity header value: {e}")))?;
        headers.push((name.clone(), v));
    }
    let claims = Claims {
        iss: app.config.issuer(),
        aud: &route.id,
        sub: &sub,
        name: o.person.name.expose(),
        provider: o.provider.as_str(),
        acr: o.level.acr(),
        amr: &o.amr,
        auth_time: o.auth_time,
        iat: now,
        exp: now + JWT_TTL,
    };
    let jwt = sign(&app.keys, &claims)?;
    let jwt = HeaderValue::from_str(&jwt).map_err(GatewayError::encode)?;
    headers.push((route.jwt_header.clone(), jwt));
    Ok(Identity {
        headers,
        expires_at: now + JWT_TTL,
    })
}

/// The assertion as a compact JWS: ES256, `typ` [`TYP`].
fn sign(keys: &SigningKeys, claims: &Claims<'_>) -> Result<String, GatewayError> {
    keys.sign(IdTokenAlg::Es256, TYP, claims)
        .map_err(GatewayError::keys)
}

/// The identity headers for this session on this route (cached).
pub fn for_route(app: &App, route: &Route, l: &Loaded) -> Result<Arc<Identity>, GatewayError> {
    let now = app.clock.now();
    let key = (l.key.clone(), route.index);
    if let Some(i) = app.proxy.identities.get(&key) {
        if i.expires_at.saturating_sub(now) >= JWT_TTL / 2 {
            return Ok(i);
        }
    }
    let i = Arc::new(build(app, route, l, now)?);
    app.proxy.identities.insert(key, i.clone());
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::KeySettings;
    use josekit::jws::ES256;

    /// What an OIDC client does with an ID token (OIDC Core 3.1.3.7, RFC 8725
    /// §3.11): signature, `typ` `JWT` (or none), `iss`, `aud` = its client id,
    /// and the `nonce` it sent.
    fn id_token_validator(
        keys: &SigningKeys,
        token: &str,
        iss: &str,
        client_id: &str,
        nonce: Option<&str>,
    ) -> Result<(), String> {
        let verifier = ES256
            .verifier_from_jwk(keys.public_jwk(IdTokenAlg::Es256))
            .map_err(|e| e.to_string())?;
        let (payload, header) =
            josekit::jwt::decode_with_verifier(token, &verifier).map_err(|e| e.to_string())?;
        match header.token_type() {
            None | Some("JWT") => {}
            Some(other) => return Err(format!("typ `{other}` is not an ID token")),
        }
        if payload.issuer() != Some(iss) {
            return Err("iss".into());
        }
        if payload.audience() != Some(vec![client_id]) {
            return Err("aud".into());
        }
        if let Some(n) = nonce {
            if payload.claim("nonce").and_then(|v| v.as_str()) != Some(n) {
                return Err("nonce".into());
            }
        }
        Ok(())
    }

    #[test]
    fn the_assertion_is_typed_and_no_id_token_validator_takes_it() {
        let dir = std::env::temp_dir().join(format!("munjigi-px-typ-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let keys = SigningKeys::load(
            &KeySettings {
                dir: dir.clone(),
                generate_missing: true,
            },
            false,
        )
        .unwrap();
        let amr = vec!["pin".to_owned()];
        let claims = Claims {
            iss: "https://gw.example",
            aud: "front",
            sub: "s",
            name: "홍길동",
            provider: "kakao",
            acr: "urn:test",
            amr: &amr,
            auth_time: 1,
            iat: 2,
            exp: 2 + JWT_TTL,
        };
        let jwt = sign(&keys, &claims).unwrap();
        let verifier = ES256
            .verifier_from_jwk(keys.public_jwk(IdTokenAlg::Es256))
            .unwrap();
        let (payload, header) = josekit::jwt::decode_with_verifier(&jwt, &verifier).unwrap();
        assert_eq!(header.token_type(), Some("munjigi-proxy+jwt"));
        assert!(payload.claim("nonce").is_none(), "never a nonce");
        // An OIDC client whose client_id is the route id refuses it, by typ ...
        let e = id_token_validator(&keys, &jwt, "https://gw.example", "front", None);
        assert_eq!(e.unwrap_err(), "typ `munjigi-proxy+jwt` is not an ID token");
        // ... and even when it ignores typ, by the nonce it sent.
        let untyped = keys.sign(IdTokenAlg::Es256, "JWT", &claims).unwrap();
        let e = id_token_validator(&keys, &untyped, "https://gw.example", "front", Some("n-1"));
        assert_eq!(e.unwrap_err(), "nonce");
        // The validator is not just refusing everything: a real ID token passes.
        let id_token = keys
            .sign(
                IdTokenAlg::Es256,
                "JWT",
                &serde_json::json!({"iss": "https://gw.example", "aud": "front", "sub": "s", "nonce": "n-1"}),
            )
            .unwrap();
        id_token_validator(&keys, &id_token, "https://gw.example", "front", Some("n-1")).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn korean_is_percent_encoded_utf8() {
        assert_eq!(encode("홍길동"), "%ED%99%8D%EA%B8%B8%EB%8F%99");
        assert_eq!(encode("Hong Gil-dong"), "Hong Gil-dong");
        assert_eq!(encode("100%"), "100%25");
        assert_eq!(encode("a\r\nb"), "a%0D%0Ab");
        for s in ["홍길동", "a%b", "\u{0}x", "é"] {
            assert!(HeaderValue::from_str(&encode(s)).is_ok());
        }
    }
}
