//! Verifying an SD-JWT VC presentation with key binding, completely, before
//! anything in it is believed.
//!
//! Versions implemented (pinned): SD-JWT as RFC 9901; SD-JWT VC as
//! draft-ietf-oauth-sd-jwt-vc-09, the version OpenID4VP 1.0 pins (`typ`
//! `dc+sd-jwt`; the older `vc+sd-jwt` only where the operator allows it,
//! [`Policy::legacy_typ`]). Strict readings where the texts leave room:
//!
//! - the issuer is known by `x5c` only: the chain must lead to the trust
//!   anchors configured for the credential's `vct`, the leaf must be an end
//!   entity (not a CA, not an anchor itself, digitalSignature where it says)
//!   and name `iss` as a URI SAN exactly (-09's rule; its `dns:` issuers are
//!   not accepted); no key is fetched from the issuer's metadata;
//! - ES256 only, for the issuer and the holder alike;
//! - key binding is always required (a login must be bound to this request):
//!   `cnf.jwk`, a KB-JWT of `typ` `kb+jwt` with this request's `nonce`, the
//!   full client identifier (prefix included) as `aud`, a fresh `iat` and the
//!   `sd_hash` of exactly what was received before it;
//! - every disclosure must be referenced exactly once and every digest may
//!   occur once; a disclosed name may not be `_sd` or `...`, nor one the
//!   issuer wrote in the clear at the same level, nor one SD-JWT VC says is
//!   never selectively disclosed (`iss`, `nbf`, `exp`, `cnf`, `vct`,
//!   `status`);
//! - `exp` is required (a credential without an end is not accepted) and
//!   `nbf`/`iat` may not be in the future.
//!
//! Not here: which claims a site may have (the DCQL query asked for them),
//! and the status list itself ([`super::status_list`]): this returns the
//! `status` reference for the caller to check.

use super::jose::{self, Jws};
use openssl::x509::store::X509Store;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// The largest presentation read (a few credentials' worth).
pub const MAX_LEN: usize = 64 * 1024;
/// Clock skew tolerated on `iat`, `nbf` and `exp`.
pub const SKEW_SECS: u64 = 60;
/// How old a KB-JWT may be.
pub const KB_MAX_AGE_SECS: u64 = 300;
/// Nesting of disclosures inside disclosures.
const MAX_DEPTH: usize = 16;
/// Claims that are never selectively disclosed (SD-JWT VC).
const NEVER_DISCLOSED: [&str; 6] = ["iss", "nbf", "exp", "cnf", "vct", "status"];

/// What a presentation must be to be believed.
pub struct Policy<'a> {
    /// Credential types accepted, each with the anchors its issuers chain to.
    pub types: &'a [(String, X509Store)],
    /// This request's nonce.
    pub nonce: &'a str,
    /// The full client identifier (`x509_san_dns:login.example.go.kr`).
    pub audience: &'a str,
    /// Now, unix seconds.
    pub now: u64,
    /// Accept the pre-2024 `typ` `vc+sd-jwt` too.
    pub legacy_typ: bool,
}

/// A presentation that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Presented {
    pub vct: String,
    pub iss: String,
    /// The payload with every disclosure put in place, `_sd` and `_sd_alg`
    /// gone.
    pub claims: Map<String, Value>,
    /// `status.status_list`: (`idx`, `uri`), for the caller to check.
    pub status: Option<(u64, String)>,
    /// The holder's key (`cnf.jwk`) as a JWK thumbprint (RFC 7638): one per
    /// wallet key.
    pub holder: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SdJwtError {
    #[error("not an SD-JWT of the expected shape: {0}")]
    Shape(&'static str),
    #[error("the credential's type is not accepted")]
    Type,
    #[error("the issuer is not trusted for this type")]
    Issuer,
    #[error("the issuer's signature does not verify")]
    IssuerSignature,
    #[error("a disclosure is not as issued: {0}")]
    Disclosure(&'static str),
    #[error("outside its time: {0}")]
    Time(&'static str),
    #[error("no key binding to this request: {0}")]
    Binding(&'static str),
}

type R<T> = Result<T, SdJwtError>;

fn text<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

fn number(m: &Map<String, Value>, k: &str) -> Option<u64> {
    m.get(k).and_then(Value::as_u64)
}

/// RFC 7638 thumbprint of an EC JWK (its required members, in order).
fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let canon = format!(
        r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
        text(jwk, "crv")?,
        text(jwk, "x")?,
        text(jwk, "y")?
    );
    Some(base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        openssl::sha::sha256(canon.as_bytes()),
    ))
}

/// A disclosure, decoded: its digest, and `[salt, name, value]` or
/// `[salt, value]`.
struct Disclosure {
    name: Option<String>,
    value: Value,
}

fn disclosures(parts: &[&str]) -> R<HashMap<String, Disclosure>> {
    let mut out = HashMap::new();
    for d in parts {
        let bytes = jose::b64url(d).ok_or(SdJwtError::Disclosure("not base64url"))?;
        crate::json::unique_keys(&bytes).map_err(|_| SdJwtError::Disclosure("not JSON"))?;
        let v: Vec<Value> =
            serde_json::from_slice(&bytes).map_err(|_| SdJwtError::Disclosure("not an array"))?;
        let d_ = match v.as_slice() {
            [Value::String(_), Value::String(name), value] => Disclosure {
                name: Some(name.clone()),
                value: value.clone(),
            },
            [Value::String(_), value] => Disclosure {
                name: None,
                value: value.clone(),
            },
            _ => {
                return Err(SdJwtError::Disclosure(
                    "not [salt, name, value] or [salt, value]",
                ))
            }
        };
        let digest = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            openssl::sha::sha256(d.as_bytes()),
        );
        if out.insert(digest, d_).is_some() {
            return Err(SdJwtError::Disclosure("the same disclosure twice"));
        }
    }
    Ok(out)
}

/// Puts disclosures in place (RFC 9901 §7.1 step 3), recording each digest
/// seen and each disclosure used.
struct Walk<'a> {
    by_digest: &'a HashMap<String, Disclosure>,
    seen: HashSet<String>,
    used: usize,
}

impl Walk<'_> {
    fn digest_once(&mut self, d: &str) -> R<()> {
        if !self.seen.insert(d.to_owned()) {
            return Err(SdJwtError::Disclosure("a digest occurs twice"));
        }
        Ok(())
    }

    fn value(&mut self, v: Value, depth: usize) -> R<Value> {
        if depth > MAX_DEPTH {
            return Err(SdJwtError::Shape("nested too deep"));
        }
        match v {
            Value::Object(m) => Ok(Value::Object(self.object(m, depth)?)),
            Value::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for e in a {
                    let reference = match &e {
                        Value::Object(m) if m.contains_key("...") => {
                            if m.len() != 1 {
                                return Err(SdJwtError::Disclosure("`...` with other members"));
                            }
                            Some(
                                text(m, "...")
                                    .ok_or(SdJwtError::Disclosure("`...` is not a digest"))?
                                    .to_owned(),
                            )
                        }
                        _ => None,
                    };
                    match reference {
                        Some(d) => {
                            self.digest_once(&d)?;
                            let by: &HashMap<String, Disclosure> = self.by_digest;
                            // An unmatched digest is a decoy: the element is dropped.
                            if let Some(found) = by.get(&d) {
                                if found.name.is_some() {
                                    return Err(SdJwtError::Disclosure(
                                        "an object disclosure for an array element",
                                    ));
                                }
                                self.used += 1;
                                out.push(self.value(found.value.clone(), depth + 1)?);
                            }
                        }
                        None => out.push(self.value(e, depth + 1)?),
                    }
                }
                Ok(Value::Array(out))
            }
            other => Ok(other),
        }
    }

    fn object(&mut self, mut m: Map<String, Value>, depth: usize) -> R<Map<String, Value>> {
        let sd = match m.remove("_sd") {
            None => Vec::new(),
            Some(Value::Array(a)) => a,
            Some(_) => return Err(SdJwtError::Disclosure("`_sd` is not an array")),
        };
        let mut out = Map::new();
        for (k, v) in m {
            out.insert(k, self.value(v, depth + 1)?);
        }
        for d in sd {
            let d = d
                .as_str()
                .ok_or(SdJwtError::Disclosure("an `_sd` entry is not a digest"))?
                .to_owned();
            self.digest_once(&d)?;
            let by: &HashMap<String, Disclosure> = self.by_digest;
            let Some(found) = by.get(&d) else {
                continue;
            };
            let name = found.name.clone().ok_or(SdJwtError::Disclosure(
                "an array disclosure for an object member",
            ))?;
            if name == "_sd" || name == "..." || out.contains_key(&name) {
                return Err(SdJwtError::Disclosure("a disclosed name that may not be"));
            }
            if depth == 0 && NEVER_DISCLOSED.contains(&name.as_str()) {
                return Err(SdJwtError::Disclosure(
                    "a claim that is never disclosed selectively",
                ));
            }
            self.used += 1;
            let v = self.value(found.value.clone(), depth + 1)?;
            out.insert(name, v);
        }
        Ok(out)
    }
}

/// Verifies `presentation` (`<issuer JWT>~<disclosure>~…~<KB-JWT>`).
pub fn verify(presentation: &str, want: &Policy<'_>) -> R<Presented> {
    if presentation.len() > MAX_LEN {
        return Err(SdJwtError::Shape("too large"));
    }
    let cut = presentation.rfind('~').ok_or(SdJwtError::Shape("no `~`"))?;
    let (signed_part, kb) = presentation.split_at(cut + 1);
    if kb.is_empty() {
        return Err(SdJwtError::Binding("no KB-JWT"));
    }
    let mut parts: Vec<&str> = signed_part.split('~').collect();
    // `jwt~d1~…~dn~` splits into the JWT, the disclosures and one empty end.
    parts.pop();
    let (jwt, discs) = parts
        .split_first()
        .ok_or(SdJwtError::Shape("no issuer JWT"))?;
    if discs.iter().any(|d| d.is_empty()) {
        return Err(SdJwtError::Shape("an empty disclosure"));
    }
    let issued = jose::split(jwt).ok_or(SdJwtError::Shape("the issuer JWT"))?;

    // The issuer: the type, its anchors, the chain, the name, the signature.
    match text(&issued.header, "typ") {
        Some("dc+sd-jwt") => {}
        Some("vc+sd-jwt") if want.legacy_typ => {}
        _ => return Err(SdJwtError::Shape("typ is not dc+sd-jwt")),
    }
    if text(&issued.header, "alg") != Some("ES256") {
        return Err(SdJwtError::Shape("alg is not ES256"));
    }
    if issued.header.contains_key("crit") {
        return Err(SdJwtError::Shape("a critical header we do not know"));
    }
    let vct = text(&issued.payload, "vct").ok_or(SdJwtError::Shape("no vct"))?;
    let anchors = want
        .types
        .iter()
        .find(|(t, _)| t == vct)
        .map(|(_, a)| a)
        .ok_or(SdJwtError::Type)?;
    let iss = text(&issued.payload, "iss").ok_or(SdJwtError::Shape("no iss"))?;
    let chain = jose::x5c(&issued.header).ok_or(SdJwtError::Issuer)?;
    let leaf = chain.first().ok_or(SdJwtError::Issuer)?;
    if !jose::chains_to(&chain, anchors) || !jose::leaf_names(leaf, iss) {
        return Err(SdJwtError::Issuer);
    }
    let key = jose::leaf_key(leaf).ok_or(SdJwtError::Issuer)?;
    if !jose::es256_ok(issued.signing_input, &issued.signature, &key) {
        return Err(SdJwtError::IssuerSignature);
    }
    match text(&issued.payload, "_sd_alg") {
        None | Some("sha-256") => {}
        Some(_) => return Err(SdJwtError::Shape("_sd_alg is not sha-256")),
    }

    // The disclosures, each used once.
    let by_digest = disclosures(discs)?;
    let mut walk = Walk {
        by_digest: &by_digest,
        seen: HashSet::new(),
        used: 0,
    };
    let mut payload = issued.payload.clone();
    payload.remove("_sd_alg");
    let claims = walk.object(payload, 0)?;
    if walk.used != by_digest.len() {
        return Err(SdJwtError::Disclosure("a disclosure nothing refers to"));
    }

    // Times.
    let now = want.now;
    let exp = number(&claims, "exp").ok_or(SdJwtError::Time("no exp"))?;
    if exp.saturating_add(SKEW_SECS) <= now {
        return Err(SdJwtError::Time("expired"));
    }
    for k in ["nbf", "iat"] {
        if let Some(t) = claims.get(k) {
            let t = t
                .as_u64()
                .ok_or(SdJwtError::Shape("a time is not a number"))?;
            if t > now.saturating_add(SKEW_SECS) {
                return Err(SdJwtError::Time("not yet valid"));
            }
        }
    }

    // The holder: cnf.jwk signs a KB-JWT over exactly this presentation.
    let cnf = claims
        .get("cnf")
        .and_then(Value::as_object)
        .and_then(|c| c.get("jwk"))
        .and_then(Value::as_object)
        .ok_or(SdJwtError::Binding("no cnf.jwk"))?;
    let holder_key =
        jose::p256_jwk(cnf).ok_or(SdJwtError::Binding("cnf.jwk is not a P-256 key"))?;
    let holder = thumbprint(cnf).ok_or(SdJwtError::Binding("cnf.jwk"))?;
    let kb: Jws<'_> = jose::split(kb).ok_or(SdJwtError::Binding("the KB-JWT is not a JWS"))?;
    if text(&kb.header, "typ") != Some("kb+jwt") || text(&kb.header, "alg") != Some("ES256") {
        return Err(SdJwtError::Binding("the KB-JWT's typ or alg"));
    }
    if kb.header.contains_key("crit") {
        return Err(SdJwtError::Binding("a critical KB-JWT header"));
    }
    if !jose::es256_ok(kb.signing_input, &kb.signature, &holder_key) {
        return Err(SdJwtError::Binding(
            "the holder's signature does not verify",
        ));
    }
    if text(&kb.payload, "nonce") != Some(want.nonce) {
        return Err(SdJwtError::Binding("another request's nonce"));
    }
    if text(&kb.payload, "aud") != Some(want.audience) {
        return Err(SdJwtError::Binding("made for another verifier"));
    }
    let iat = number(&kb.payload, "iat").ok_or(SdJwtError::Binding("no iat"))?;
    if iat > now.saturating_add(SKEW_SECS) || iat.saturating_add(KB_MAX_AGE_SECS) < now {
        return Err(SdJwtError::Binding("made outside this request's time"));
    }
    let sd_hash = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        openssl::sha::sha256(signed_part.as_bytes()),
    );
    if text(&kb.payload, "sd_hash") != Some(sd_hash.as_str()) {
        return Err(SdJwtError::Binding("sd_hash is not of this presentation"));
    }

    let status = match claims.get("status") {
        None => None,
        Some(s) => {
            let list = s
                .get("status_list")
                .and_then(Value::as_object)
                .ok_or(SdJwtError::Shape("status without status_list"))?;
            let idx = number(list, "idx").ok_or(SdJwtError::Shape("status_list.idx"))?;
            let uri = text(list, "uri").ok_or(SdJwtError::Shape("status_list.uri"))?;
            Some((idx, uri.to_owned()))
        }
    };
    Ok(Presented {
        vct: vct.to_owned(),
        iss: iss.to_owned(),
        claims,
        status,
        holder,
    })
}
