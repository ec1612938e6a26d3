//! `private_key_jwt` client authentication (RFC 7523 §2.2, OIDC Core §9).
//!
//! A site registered with `token_endpoint_auth_method = "private_key_jwt"` has
//! no shared secret: it signs a short-lived JWT with its own private key, and
//! the gateway verifies it with the public JWK Set registered in the config.
//! Used by the token endpoint (`client_assertion`) and by the signing API
//! (`Authorization: Bearer <assertion>`), with the same checks:
//!
//! - `alg` ES256 or RS256 only (never `none`, never HMAC), the key chosen by
//!   `kid` among the site's registered keys and of that algorithm; nothing in
//!   the JWT header (`jwk`, `jku`, `x5c`, …) is ever used as a key;
//! - `iss` = `sub` = the client id; `aud` names the endpoint or the issuer;
//! - `exp` in the future and at most five minutes ahead, `iat`/`nbf` not in
//!   the future (each with a little clock skew);
//! - `jti` used once: remembered in the store until the assertion expires.

use crate::app::App;
use crate::config::model::{OidcClient, Site};
use crate::store::keys::Family;
use crate::store::{Store, StoreError};
use base64::Engine as _;
use josekit::jwk::{Jwk, JwkSet};
use josekit::jws::{ES256, RS256};
use serde_json::{Map, Value};
use std::time::Duration;

/// The only `client_assertion_type` accepted.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// An assertion may not live longer than this.
pub const MAX_LIFETIME_SECS: u64 = 300;
/// Clock skew tolerated between the site and the gateway.
pub const SKEW_SECS: u64 = 30;
/// Longest `jti` accepted.
const MAX_JTI_LEN: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAlg {
    Es256,
    Rs256,
}

impl AssertionAlg {
    fn name(self) -> &'static str {
        match self {
            AssertionAlg::Es256 => "ES256",
            AssertionAlg::Rs256 => "RS256",
        }
    }
}

#[derive(Debug, Clone)]
struct ClientKey {
    kid: String,
    alg: AssertionAlg,
    jwk: Jwk,
}

/// A site's registered public keys, validated at config load.
#[derive(Debug, Clone)]
pub struct ClientKeys {
    keys: Vec<ClientKey>,
}

impl ClientKeys {
    /// Parses a JWK Set: EC P-256 (ES256) and RSA (RS256, 2048 bits or more)
    /// public keys, each with a unique `kid`.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let set = JwkSet::from_bytes(bytes).map_err(|e| format!("not a JWK Set: {e}"))?;
        let mut keys: Vec<ClientKey> = Vec::new();
        for (i, jwk) in set.keys().into_iter().enumerate() {
            let kid = jwk
                .key_id()
                .filter(|k| !k.is_empty())
                .ok_or_else(|| format!("key {i} has no `kid`"))?
                .to_owned();
            if keys.iter().any(|k| k.kid == kid) {
                return Err(format!("two keys have the kid `{kid}`"));
            }
            if jwk.parameter("d").is_some() {
                return Err(format!(
                    "key `{kid}` contains private key material; register the public key only"
                ));
            }
            let alg = match jwk.key_type() {
                "EC" => AssertionAlg::Es256,
                "RSA" => AssertionAlg::Rs256,
                other => {
                    return Err(format!(
                        "key `{kid}` has kty `{other}`; only EC P-256 (ES256) and RSA (RS256) keys are accepted"
                    ))
                }
            };
            if let Some(a) = jwk.algorithm() {
                if a != alg.name() {
                    return Err(format!(
                        "key `{kid}` has alg `{a}`; only ES256 (EC P-256) and RS256 (RSA) are accepted"
                    ));
                }
            }
            if alg == AssertionAlg::Rs256 {
                let n_len = jwk
                    .parameter("n")
                    .and_then(Value::as_str)
                    .and_then(|n| {
                        base64::engine::general_purpose::URL_SAFE_NO_PAD
                            .decode(n)
                            .ok()
                    })
                    .map(|n| n.iter().skip_while(|b| **b == 0).count())
                    .unwrap_or(0);
                if n_len < 256 {
                    return Err(format!("RSA key `{kid}` must have at least 2048 bits"));
                }
            }
            let usable = match alg {
                AssertionAlg::Es256 => ES256.verifier_from_jwk(jwk).map(drop),
                AssertionAlg::Rs256 => RS256.verifier_from_jwk(jwk).map(drop),
            };
            usable.map_err(|e| format!("key `{kid}`: {e}"))?;
            keys.push(ClientKey {
                kid,
                alg,
                jwk: jwk.clone(),
            });
        }
        if keys.is_empty() {
            return Err("the JWK Set has no keys".to_owned());
        }
        Ok(Self { keys })
    }
}

/// Why an assertion is refused (logged; the caller answers `invalid_client`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Malformed,
    Alg,
    UnknownKid,
    Key(String),
    Signature,
    Issuer,
    Audience,
    Expired,
    TooLong,
    NotYetValid,
    Jti,
    Replayed,
}

impl Refusal {
    pub fn describe(&self) -> &str {
        match self {
            Refusal::Malformed => "malformed assertion",
            Refusal::Alg => "alg must be ES256 or RS256",
            Refusal::UnknownKid => "kid is not a registered key of this client",
            Refusal::Key(m) => m,
            Refusal::Signature => "signature does not verify",
            Refusal::Issuer => "iss and sub must both be the client id",
            Refusal::Audience => "aud does not name this endpoint or the issuer",
            Refusal::Expired => "assertion expired",
            Refusal::TooLong => "exp is more than five minutes ahead",
            Refusal::NotYetValid => "iat or nbf is in the future",
            Refusal::Jti => "jti is missing or too long",
            Refusal::Replayed => "jti was already used",
        }
    }
}

/// What a valid assertion proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub client_id: String,
    pub jti: String,
    pub exp: u64,
}

fn segment_json(token: &str, index: usize) -> Option<Map<String, Value>> {
    let seg = token.split('.').nth(index)?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(seg)
        .ok()?;
    serde_json::from_slice(&raw).ok()
}

/// The `iss` of an assertion, unverified: only to find whose keys to verify it with.
pub fn claimed_issuer(token: &str) -> Option<String> {
    if token.split('.').count() != 3 {
        return None;
    }
    segment_json(token, 1)?
        .get("iss")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Verifies the signature with exactly this key and algorithm; the claims on success.
fn verify_with(alg: AssertionAlg, jwk: &Jwk, token: &str) -> Result<Map<String, Value>, Refusal> {
    let decoded = match alg {
        AssertionAlg::Es256 => {
            let v = ES256
                .verifier_from_jwk(jwk)
                .map_err(|e| Refusal::Key(e.to_string()))?;
            josekit::jwt::decode_with_verifier(token, &v)
        }
        AssertionAlg::Rs256 => {
            let v = RS256
                .verifier_from_jwk(jwk)
                .map_err(|e| Refusal::Key(e.to_string()))?;
            josekit::jwt::decode_with_verifier(token, &v)
        }
    };
    decoded
        .map(|(payload, _)| payload.claims_set().clone())
        .map_err(|_| Refusal::Signature)
}

/// A JSON object (a JWS header or claims set).
pub(crate) type Json = Map<String, Value>;

/// A compact JWS checked against a client's registered keys: at most 16 KiB,
/// `alg` ES256 or RS256, a `kid` of that algorithm among `keys`, a signature
/// that verifies. The header and the claims, nothing else checked. Shared by
/// client assertions and CIBA's `login_hint_token`, so both trust a key the
/// same way.
pub(crate) fn verify_jws(token: &str, keys: &ClientKeys) -> Result<(Json, Json), Refusal> {
    if token.len() > 16 * 1024 || token.split('.').count() != 3 {
        return Err(Refusal::Malformed);
    }
    let header = segment_json(token, 0).ok_or(Refusal::Malformed)?;
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("ES256") => AssertionAlg::Es256,
        Some("RS256") => AssertionAlg::Rs256,
        _ => return Err(Refusal::Alg),
    };
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(Refusal::UnknownKid)?;
    let key = keys
        .keys
        .iter()
        .find(|k| k.kid == kid && k.alg == alg)
        .ok_or(Refusal::UnknownKid)?;
    let claims = verify_with(key.alg, &key.jwk, token)?;
    Ok((header, claims))
}

/// `aud` names one of `audiences` (a string, or an array holding one).
pub(crate) fn audience_ok(claims: &Map<String, Value>, audiences: &[&str]) -> bool {
    match claims.get("aud") {
        Some(Value::String(a)) => audiences.contains(&a.as_str()),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| audiences.contains(&a)),
        _ => false,
    }
}

/// `exp` present, not past and at most five minutes ahead; `iat` and `nbf`
/// (if present) not in the future; each with [`SKEW_SECS`]. Returns `exp`.
pub(crate) fn check_times(claims: &Map<String, Value>, now: u64) -> Result<u64, Refusal> {
    let exp = claims
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or(Refusal::Expired)?;
    if exp.saturating_add(SKEW_SECS) <= now {
        return Err(Refusal::Expired);
    }
    if exp > now.saturating_add(MAX_LIFETIME_SECS + SKEW_SECS) {
        return Err(Refusal::TooLong);
    }
    for name in ["iat", "nbf"] {
        match claims.get(name) {
            None => {}
            Some(v) => match v.as_u64() {
                Some(t) if t <= now.saturating_add(SKEW_SECS) => {}
                _ => return Err(Refusal::NotYetValid),
            },
        }
    }
    Ok(exp)
}

/// `jti` present and at most 256 characters.
pub(crate) fn jti(claims: &Map<String, Value>) -> Result<&str, Refusal> {
    claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI_LEN)
        .ok_or(Refusal::Jti)
}

/// Checks an assertion for `client_id` against its keys (no replay check: see [`consume`]).
pub fn check(
    token: &str,
    client_id: &str,
    keys: &ClientKeys,
    audiences: &[&str],
    now: u64,
) -> Result<Verified, Refusal> {
    let (_, claims) = verify_jws(token, keys)?;
    let str_claim = |name: &str| claims.get(name).and_then(Value::as_str);
    if str_claim("iss") != Some(client_id) || str_claim("sub") != Some(client_id) {
        return Err(Refusal::Issuer);
    }
    if !audience_ok(&claims, audiences) {
        return Err(Refusal::Audience);
    }
    let exp = check_times(&claims, now)?;
    let jti = jti(&claims)?;
    Ok(Verified {
        client_id: client_id.to_owned(),
        jti: jti.to_owned(),
        exp,
    })
}

/// Where a client's `jti` of one kind of token is remembered.
pub(crate) fn jti_key(family: Family, client_id: &str, jti: &str) -> String {
    let mut h = openssl::sha::Sha256::new();
    h.update(client_id.as_bytes());
    h.update(b"\0");
    h.update(jti.as_bytes());
    family.key(&hex::encode(h.finish()))
}

/// Records the assertion's `jti` until it expires; `Err(Replayed)` if it was seen.
pub async fn consume(store: &dyn Store, v: &Verified, now: u64) -> Result<(), ConsumeError> {
    let key = jti_key(Family::AssertionJti, &v.client_id, &v.jti);
    consume_key(store, &key, v.exp, now).await
}

/// Records `key` until `exp` (plus skew); `Err(Replayed)` if it was there.
pub(crate) async fn consume_key(
    store: &dyn Store,
    key: &str,
    exp: u64,
    now: u64,
) -> Result<(), ConsumeError> {
    let ttl = exp.saturating_add(SKEW_SECS).saturating_sub(now).max(1);
    let fresh = store
        .put_new(key, b"1".to_vec(), Duration::from_secs(ttl))
        .await
        .map_err(ConsumeError::Store)?;
    if fresh {
        Ok(())
    } else {
        Err(ConsumeError::Refused(Refusal::Replayed))
    }
}

#[derive(Debug)]
pub enum ConsumeError {
    Refused(Refusal),
    Store(StoreError),
}

/// Why [`authenticate`] failed.
#[derive(Debug)]
pub enum Failure {
    /// Answer `invalid_client` (401).
    Invalid,
    /// The replay cache is unreachable: answer 503.
    Unavailable,
}

/// Authenticates a client by its assertion: `client_id` (if the request
/// named one) must be the assertion's issuer; `audiences` are the values the
/// endpoint accepts in `aud`.
pub async fn authenticate<'a>(
    app: &'a App,
    token: &str,
    client_id: Option<&str>,
    audiences: &[&str],
    request_id: &str,
) -> Result<(&'a Site, &'a OidcClient), Failure> {
    let Some(claimed) = claimed_issuer(token) else {
        tracing::warn!(req = request_id, "client assertion refused: malformed");
        return Err(Failure::Invalid);
    };
    if client_id.is_some_and(|c| c != claimed) {
        tracing::warn!(client = %claimed, req = request_id, "client assertion refused: client_id differs from iss");
        return Err(Failure::Invalid);
    }
    let Some((site, client)) = app.config.client(&claimed) else {
        tracing::warn!(req = request_id, "client assertion refused: unknown client");
        return Err(Failure::Invalid);
    };
    let Some(keys) = &client.assertion_keys else {
        tracing::warn!(client = %claimed, req = request_id, "client assertion refused: client is not registered for private_key_jwt");
        return Err(Failure::Invalid);
    };
    let now = app.clock.now();
    let refused = |r: &Refusal| {
        tracing::warn!(code = "MJ-O04", client = %claimed, reason = r.describe(), req = request_id, "client assertion refused");
        Failure::Invalid
    };
    let verified =
        check(token, &client.client_id, keys, audiences, now).map_err(|r| refused(&r))?;
    match consume(app.store.as_ref(), &verified, now).await {
        Ok(()) => Ok((site, client)),
        Err(ConsumeError::Refused(r)) => Err(refused(&r)),
        Err(ConsumeError::Store(e)) => {
            tracing::error!(client = %claimed, error = %e, req = request_id, "client assertion replay cache unavailable");
            Err(Failure::Unavailable)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jws::JwsHeader;
    use josekit::jws::HS256 as Hs256;
    use josekit::jwt::JwtPayload;

    const CLIENT: &str = "town";
    const AUD: &str = "https://id.example/token";
    const NOW: u64 = 1_800_000_000;

    struct Pair {
        private: Jwk,
        public: Jwk,
    }

    fn es_pair(kid: &str) -> Pair {
        let kp = ES256.generate_key_pair().unwrap();
        let mut private = kp.to_jwk_private_key();
        let mut public = kp.to_jwk_public_key();
        private.set_key_id(kid);
        public.set_key_id(kid);
        Pair { private, public }
    }

    fn rs_pair(kid: &str) -> Pair {
        let kp = RS256.generate_key_pair(2048).unwrap();
        let mut private = kp.to_jwk_private_key();
        let mut public = kp.to_jwk_public_key();
        private.set_key_id(kid);
        public.set_key_id(kid);
        Pair { private, public }
    }

    fn keys_of(pairs: &[&Pair]) -> ClientKeys {
        let set = serde_json::json!({
            "keys": pairs.iter().map(|p| Value::Object(p.public.as_ref().clone())).collect::<Vec<_>>()
        });
        ClientKeys::parse(set.to_string().as_bytes()).unwrap()
    }

    fn claims() -> Map<String, Value> {
        serde_json::json!({
            "iss": CLIENT, "sub": CLIENT, "aud": AUD,
            "exp": NOW + 60, "iat": NOW, "jti": "j-1",
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn sign(pair: &Pair, alg: AssertionAlg, kid: &str, claims: &Map<String, Value>) -> String {
        let mut h = JwsHeader::new();
        h.set_token_type("JWT");
        h.set_key_id(kid);
        let payload = JwtPayload::from_map(claims.clone()).unwrap();
        // The signer would put its own kid in the header: sign without one.
        let mut map = pair.private.as_ref().clone();
        map.remove("kid");
        let pair = &Pair {
            private: Jwk::from_map(map).unwrap(),
            public: pair.public.clone(),
        };
        match alg {
            AssertionAlg::Es256 => josekit::jwt::encode_with_signer(
                &payload,
                &h,
                &ES256.signer_from_jwk(&pair.private).unwrap(),
            ),
            AssertionAlg::Rs256 => josekit::jwt::encode_with_signer(
                &payload,
                &h,
                &RS256.signer_from_jwk(&pair.private).unwrap(),
            ),
        }
        .unwrap()
    }

    fn run(token: &str, keys: &ClientKeys) -> Result<Verified, Refusal> {
        check(token, CLIENT, keys, &[AUD, "https://id.example"], NOW)
    }

    #[test]
    fn good_es256_and_rs256() {
        let es = es_pair("e1");
        let rs = rs_pair("r1");
        let keys = keys_of(&[&es, &rs]);
        let v = run(&sign(&es, AssertionAlg::Es256, "e1", &claims()), &keys).unwrap();
        assert_eq!(v.client_id, CLIENT);
        assert_eq!(v.jti, "j-1");
        assert_eq!(v.exp, NOW + 60);
        let mut c = claims();
        c.insert(
            "aud".into(),
            serde_json::json!(["other", "https://id.example"]),
        );
        run(&sign(&rs, AssertionAlg::Rs256, "r1", &c), &keys).unwrap();
        assert_eq!(
            claimed_issuer(&sign(&es, AssertionAlg::Es256, "e1", &claims())).as_deref(),
            Some(CLIENT)
        );
    }

    #[test]
    fn wrong_key_and_wrong_kid() {
        let es = es_pair("e1");
        let other = es_pair("e1");
        let keys = keys_of(&[&es]);
        assert_eq!(
            run(&sign(&other, AssertionAlg::Es256, "e1", &claims()), &keys),
            Err(Refusal::Signature)
        );
        assert_eq!(
            run(&sign(&es, AssertionAlg::Es256, "e2", &claims()), &keys),
            Err(Refusal::UnknownKid)
        );
        // An RS256 token naming an EC key's kid.
        let rs = rs_pair("e1");
        assert_eq!(
            run(&sign(&rs, AssertionAlg::Rs256, "e1", &claims()), &keys),
            Err(Refusal::UnknownKid)
        );
    }

    fn b64(v: &Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn alg_none_and_hs256_are_refused() {
        let es = es_pair("e1");
        let keys = keys_of(&[&es]);
        let body = b64(&Value::Object(claims()));
        let none = format!(
            "{}.{body}.",
            b64(&serde_json::json!({"alg": "none", "kid": "e1"}))
        );
        assert_eq!(run(&none, &keys), Err(Refusal::Alg));
        // HS256 keyed with the public key's bytes (the classic confusion).
        let mut h = JwsHeader::new();
        h.set_key_id("e1");
        let secret = serde_json::to_vec(es.public.as_ref()).unwrap();
        let hs = josekit::jwt::encode_with_signer(
            &JwtPayload::from_map(claims()).unwrap(),
            &h,
            &Hs256.signer_from_bytes(&secret).unwrap(),
        )
        .unwrap();
        assert_eq!(run(&hs, &keys), Err(Refusal::Alg));
        // A key carried in the header is never used.
        let attacker = es_pair("e1");
        let mut h = JwsHeader::new();
        h.set_key_id("e1");
        h.set_jwk(attacker.public.clone());
        let t = josekit::jwt::encode_with_signer(
            &JwtPayload::from_map(claims()).unwrap(),
            &h,
            &ES256.signer_from_jwk(&attacker.private).unwrap(),
        )
        .unwrap();
        assert_eq!(run(&t, &keys), Err(Refusal::Signature));
        assert_eq!(run("not a jwt", &keys), Err(Refusal::Malformed));
    }

    #[test]
    fn times() {
        let es = es_pair("e1");
        let keys = keys_of(&[&es]);
        let with = |name: &str, v: u64| {
            let mut c = claims();
            c.insert(name.into(), v.into());
            run(&sign(&es, AssertionAlg::Es256, "e1", &c), &keys)
        };
        assert_eq!(with("exp", NOW - 120), Err(Refusal::Expired));
        assert_eq!(with("exp", NOW + 3600), Err(Refusal::TooLong));
        assert!(with("exp", NOW + MAX_LIFETIME_SECS).is_ok());
        assert_eq!(with("iat", NOW + 600), Err(Refusal::NotYetValid));
        assert_eq!(with("nbf", NOW + 600), Err(Refusal::NotYetValid));
        let mut c = claims();
        c.remove("exp");
        assert_eq!(
            run(&sign(&es, AssertionAlg::Es256, "e1", &c), &keys),
            Err(Refusal::Expired)
        );
    }

    #[test]
    fn claims_checked() {
        let es = es_pair("e1");
        let keys = keys_of(&[&es]);
        let with = |name: &str, v: Value| {
            let mut c = claims();
            c.insert(name.into(), v);
            run(&sign(&es, AssertionAlg::Es256, "e1", &c), &keys)
        };
        assert_eq!(
            with("aud", "https://elsewhere/token".into()),
            Err(Refusal::Audience)
        );
        assert_eq!(with("sub", "someone".into()), Err(Refusal::Issuer));
        assert_eq!(with("iss", "someone".into()), Err(Refusal::Issuer));
        assert_eq!(with("jti", "".into()), Err(Refusal::Jti));
        let mut c = claims();
        c.remove("jti");
        assert_eq!(
            run(&sign(&es, AssertionAlg::Es256, "e1", &c), &keys),
            Err(Refusal::Jti)
        );
    }

    #[tokio::test]
    async fn replayed_jti_is_refused() {
        let store = crate::store::memory::MemoryStore::new(100);
        let es = es_pair("e1");
        let keys = keys_of(&[&es]);
        let token = sign(&es, AssertionAlg::Es256, "e1", &claims());
        let v = run(&token, &keys).unwrap();
        consume(store.as_ref(), &v, NOW).await.unwrap();
        let again = run(&token, &keys).unwrap();
        assert!(matches!(
            consume(store.as_ref(), &again, NOW).await,
            Err(ConsumeError::Refused(Refusal::Replayed))
        ));
        // Another client's identical jti is its own.
        let other = Verified {
            client_id: "other".into(),
            ..v
        };
        consume(store.as_ref(), &other, NOW).await.unwrap();
    }

    #[test]
    fn jwks_validation() {
        let es = es_pair("e1");
        let parse = |v: Value| ClientKeys::parse(v.to_string().as_bytes());
        let pubv = Value::Object(es.public.as_ref().clone());
        assert!(parse(serde_json::json!({"keys": [pubv.clone()]})).is_ok());
        assert!(parse(serde_json::json!({"keys": []})).is_err());
        assert!(parse(serde_json::json!({"keys": [pubv.clone(), pubv]})).is_err());
        let mut no_kid = es.public.as_ref().clone();
        no_kid.remove("kid");
        assert!(parse(serde_json::json!({"keys": [no_kid]})).is_err());
        let private = Value::Object(es.private.as_ref().clone());
        assert!(parse(serde_json::json!({"keys": [private]})).is_err());
        let oct = serde_json::json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0"});
        assert!(parse(serde_json::json!({"keys": [oct]})).is_err());
        let mut wrong_alg = es.public.as_ref().clone();
        wrong_alg.insert("alg".into(), "ES384".into());
        assert!(parse(serde_json::json!({"keys": [wrong_alg]})).is_err());
        let small = openssl::rsa::Rsa::generate(1024).unwrap();
        let enc = |b: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let small = serde_json::json!({"kty": "RSA", "kid": "s",
            "n": enc(small.n().to_vec()), "e": enc(small.e().to_vec())});
        assert!(parse(serde_json::json!({"keys": [small]})).is_err());
    }
}
