//! Whom a CIBA request names: a `login_hint_token` the site signs, or (where
//! the operator allows it for that site) the same claims unsigned as
//! `login_hint`.
//!
//! CIBA leaves the hint's content to the provider; ours carries what every
//! certificate provider needs to find the citizen's app (name, birth date,
//! phone) and which provider to push through, since there is no chooser
//! without a browser:
//!
//! | claim | rule |
//! |---|---|
//! | header `typ` | `login-hint+jwt` (explicit typing: no client assertion or ID token passes as a hint) |
//! | `iss` | the client id |
//! | `aud` | the issuer (or the `/bc-authorize` URL) |
//! | `exp` | required, at most five minutes ahead (`expired_login_hint_token` once past) |
//! | `iat`, `nbf` | optional, not in the future |
//! | `jti` | required, used once |
//! | `sub` | must be absent (so a hint can never pass as a client assertion) |
//! | `name`, `birthdate`, `phone_number` | as the identity form accepts them |
//! | `provider` | a configured provider id |
//! | `agent` | optional: the call-centre operator's reference (≤ 64 of `A-Za-z0-9._-`), audited |
//!
//! The keys are the client's `private_key_jwt` keys or its `login_hint_jwks`,
//! checked exactly as client assertions are ([`super::client_assertion`]).
//! Refusals say which rule failed, never a claim's value.

use super::client_assertion::{self, ClientKeys, Refusal};
use munjigi_providers::{BirthDate, Citizen, Name, Phone};
use serde_json::{Map, Value};

/// The `typ` a `login_hint_token` must carry.
pub const TYP: &str = "login-hint+jwt";
/// The longest unsigned `login_hint` accepted.
const MAX_UNSIGNED_LEN: usize = 1024;

/// Who a hint names, checked.
pub struct Hinted {
    pub citizen: Citizen,
    pub provider: String,
    pub agent: Option<String>,
    /// The signed hint's `jti` and `exp`, to be used once.
    pub once: Option<(String, u64)>,
}

/// Why a hint is refused: `expired_login_hint_token`, or `invalid_request`
/// with the rule that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HintRefusal {
    Expired,
    Invalid(&'static str),
}

fn from_assertion(r: &Refusal) -> HintRefusal {
    match r {
        Refusal::Expired => HintRefusal::Expired,
        Refusal::Malformed => HintRefusal::Invalid("login_hint_token is not a compact JWS"),
        Refusal::Alg => HintRefusal::Invalid("login_hint_token alg must be ES256 or RS256"),
        Refusal::UnknownKid | Refusal::Key(_) => {
            HintRefusal::Invalid("login_hint_token kid is not a registered hint key of this client")
        }
        Refusal::Signature => HintRefusal::Invalid("login_hint_token signature does not verify"),
        Refusal::TooLong => {
            HintRefusal::Invalid("login_hint_token exp is more than five minutes ahead")
        }
        Refusal::NotYetValid => {
            HintRefusal::Invalid("login_hint_token iat or nbf is in the future")
        }
        Refusal::Jti => HintRefusal::Invalid("login_hint_token jti is missing or too long"),
        Refusal::Replayed => HintRefusal::Invalid("login_hint_token was already used"),
        Refusal::Issuer | Refusal::Audience => {
            HintRefusal::Invalid("login_hint_token iss or aud is wrong")
        }
    }
}

/// Checks a signed hint (no replay check: the caller consumes `once`).
pub fn check_signed(
    token: &str,
    client_id: &str,
    keys: &ClientKeys,
    audiences: &[&str],
    now: u64,
) -> Result<Hinted, HintRefusal> {
    let (header, claims) =
        client_assertion::verify_jws(token, keys).map_err(|r| from_assertion(&r))?;
    // RFC 7515 §4.1.9: compared without case, `application/` optional.
    let typ = header.get("typ").and_then(Value::as_str).map(|t| {
        let t = t.to_ascii_lowercase();
        t.strip_prefix("application/")
            .map(str::to_owned)
            .unwrap_or(t)
    });
    if typ.as_deref() != Some(TYP) {
        return Err(HintRefusal::Invalid(
            "login_hint_token typ must be login-hint+jwt",
        ));
    }
    if claims.get("iss").and_then(Value::as_str) != Some(client_id)
        || !client_assertion::audience_ok(&claims, audiences)
    {
        return Err(HintRefusal::Invalid("login_hint_token iss or aud is wrong"));
    }
    if claims.contains_key("sub") {
        return Err(HintRefusal::Invalid("login_hint_token must not have sub"));
    }
    if !claims.get("exp").is_some_and(Value::is_u64) {
        return Err(HintRefusal::Invalid("login_hint_token exp is missing"));
    }
    let exp = client_assertion::check_times(&claims, now).map_err(|r| from_assertion(&r))?;
    let jti = client_assertion::jti(&claims).map_err(|r| from_assertion(&r))?;
    let mut hinted = person(&claims)?;
    hinted.once = Some((jti.to_owned(), exp));
    Ok(hinted)
}

/// Checks an unsigned hint: a JSON object of the person claims only.
pub fn check_unsigned(raw: &str) -> Result<Hinted, HintRefusal> {
    if raw.len() > MAX_UNSIGNED_LEN {
        return Err(HintRefusal::Invalid("login_hint is too long"));
    }
    let claims: Map<String, Value> = serde_json::from_str(raw)
        .map_err(|_| HintRefusal::Invalid("login_hint must be a JSON object"))?;
    let known = ["name", "birthdate", "phone_number", "provider", "agent"];
    if claims.keys().any(|k| !known.contains(&k.as_str())) {
        return Err(HintRefusal::Invalid(
            "login_hint has a member other than name, birthdate, phone_number, provider, agent",
        ));
    }
    person(&claims)
}

fn person(claims: &Map<String, Value>) -> Result<Hinted, HintRefusal> {
    let s = |name: &str| claims.get(name).and_then(Value::as_str);
    let name = s("name")
        .and_then(|v| Name::parse(v).ok())
        .ok_or(HintRefusal::Invalid(
            "the hint's name is missing or not a name",
        ))?;
    let birthdate = s("birthdate")
        .filter(|v| v.len() == 10 && v.as_bytes().get(4) == Some(&b'-'))
        .and_then(|v| BirthDate::parse(v).ok())
        .ok_or(HintRefusal::Invalid(
            "the hint's birthdate is missing or not YYYY-MM-DD",
        ))?;
    let phone =
        s("phone_number")
            .and_then(|v| Phone::parse(v).ok())
            .ok_or(HintRefusal::Invalid(
                "the hint's phone_number is missing or not a Korean mobile number",
            ))?;
    let provider = s("provider")
        .filter(|p| !p.is_empty() && p.len() <= 64)
        .ok_or(HintRefusal::Invalid("the hint's provider is missing"))?
        .to_owned();
    let agent = match claims.get("agent") {
        None => None,
        Some(Value::String(a))
            if (1..=64).contains(&a.len())
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) =>
        {
            Some(a.clone())
        }
        Some(_) => {
            return Err(HintRefusal::Invalid(
                "the hint's agent must be 1 to 64 of A-Z a-z 0-9 . _ -",
            ))
        }
    };
    Ok(Hinted {
        citizen: Citizen {
            name,
            birthdate,
            phone,
        },
        provider,
        agent,
        once: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jws::{JwsHeader, ES256};
    use josekit::jwt::JwtPayload;

    const CLIENT: &str = "callcentre";
    const ISS: &str = "https://id.example";
    const NOW: u64 = 1_800_000_000;

    struct Key {
        private: josekit::jwk::Jwk,
        keys: ClientKeys,
    }

    fn key(kid: &str) -> Key {
        let kp = ES256.generate_key_pair().unwrap();
        let mut public = kp.to_jwk_public_key();
        public.set_key_id(kid);
        let set = serde_json::json!({ "keys": [Value::Object(public.as_ref().clone())] });
        Key {
            private: kp.to_jwk_private_key(),
            keys: ClientKeys::parse(set.to_string().as_bytes()).unwrap(),
        }
    }

    fn claims() -> Map<String, Value> {
        serde_json::json!({
            "iss": CLIENT, "aud": ISS, "exp": NOW + 120, "iat": NOW, "jti": "h-1",
            "name": "홍길동", "birthdate": "1990-01-31", "phone_number": "010-1234-5678",
            "provider": "kakao", "agent": "op-17",
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn sign(k: &Key, typ: &str, kid: &str, claims: &Map<String, Value>) -> String {
        let mut h = JwsHeader::new();
        h.set_token_type(typ);
        h.set_key_id(kid);
        let payload = JwtPayload::from_map(claims.clone()).unwrap();
        josekit::jwt::encode_with_signer(&payload, &h, &ES256.signer_from_jwk(&k.private).unwrap())
            .unwrap()
    }

    fn check(token: &str, k: &Key) -> Result<Hinted, HintRefusal> {
        check_signed(
            token,
            CLIENT,
            &k.keys,
            &[ISS, "https://id.example/bc-authorize"],
            NOW,
        )
    }

    #[test]
    fn a_signed_hint_names_the_person_provider_and_agent() {
        let k = key("k1");
        let h = check(&sign(&k, TYP, "k1", &claims()), &k).unwrap();
        assert_eq!(h.provider, "kakao");
        assert_eq!(h.agent.as_deref(), Some("op-17"));
        assert_eq!(h.citizen.phone.e164(), "+821012345678");
        assert_eq!(h.once, Some(("h-1".to_owned(), NOW + 120)));
    }

    #[test]
    fn every_rule_of_the_signed_hint_refuses_on_its_own() {
        let k = key("k1");
        let other = key("k1");
        let invalid = |c: Map<String, Value>| check(&sign(&k, TYP, "k1", &c), &k);
        let with = |name: &str, v: Value| {
            let mut c = claims();
            c.insert(name.into(), v);
            c
        };
        let without = |name: &str| {
            let mut c = claims();
            c.remove(name);
            c
        };
        assert_eq!(
            invalid(with("exp", Value::from(NOW - 31))).err(),
            Some(HintRefusal::Expired)
        );
        for (why, c) in [
            ("too long", with("exp", Value::from(NOW + 400))),
            ("iss", with("iss", Value::from("another"))),
            ("aud", with("aud", Value::from("https://elsewhere.example"))),
            ("sub", with("sub", Value::from(CLIENT))),
            ("jti", without("jti")),
            ("exp", without("exp")),
            ("name", with("name", Value::from("홍\u{200b}길동"))),
            ("birthdate", with("birthdate", Value::from("19900131"))),
            ("phone", with("phone_number", Value::from("02-123-4567"))),
            ("provider", without("provider")),
            ("agent", with("agent", Value::from("op 17"))),
            ("iat", with("iat", Value::from(NOW + 100))),
        ] {
            assert!(
                matches!(invalid(c), Err(HintRefusal::Invalid(_))),
                "{why} must be refused"
            );
        }
        // Explicit typing: a client assertion (typ JWT) is not a hint.
        assert!(matches!(
            check(&sign(&k, "JWT", "k1", &claims()), &k),
            Err(HintRefusal::Invalid(_))
        ));
        // Another key under the registered kid, or an unknown kid.
        assert!(matches!(
            check(&sign(&other, TYP, "k1", &claims()), &k),
            Err(HintRefusal::Invalid(_))
        ));
        assert!(matches!(
            check(&sign(&k, TYP, "k2", &claims()), &k),
            Err(HintRefusal::Invalid(_))
        ));
    }

    #[test]
    fn a_hint_never_passes_as_a_client_assertion() {
        let k = key("k1");
        let hint = sign(&k, TYP, "k1", &claims());
        assert!(client_assertion::check(&hint, CLIENT, &k.keys, &[ISS], NOW).is_err());
    }

    #[test]
    fn an_unsigned_hint_holds_the_same_claims_and_nothing_else() {
        let h = check_unsigned(
            r#"{"name":"홍길동","birthdate":"1990-01-31","phone_number":"+821012345678","provider":"pass"}"#,
        )
        .unwrap();
        assert_eq!(h.provider, "pass");
        assert!(h.once.is_none() && h.agent.is_none());
        for bad in [
            "010-1234-5678",
            r#"{"name":"홍길동","birthdate":"1990-01-31","phone_number":"+821012345678","provider":"pass","ci":"x"}"#,
            r#"{"name":"홍길동","birthdate":"1990-01-31","provider":"pass"}"#,
            &"x".repeat(2000),
        ] {
            assert!(check_unsigned(bad).is_err(), "{bad}");
        }
    }
}
