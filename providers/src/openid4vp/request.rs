//! The verifier's request (OpenID4VP 1.0 §5), by reference: the QR code or
//! link carries only `client_id` and `request_uri`; the wallet fetches the
//! signed request object there.
//!
//! The verifier is identified by the `x509_san_dns:` client identifier
//! prefix: the request object is signed with the key of a certificate whose
//! DNS SAN is the gateway's host, sent in `x5c`, and the `response_uri` is
//! on that same host (§5.9.3). Strict choices: `typ`
//! `oauth-authz-req+jwt`; ES256; `response_mode` `direct_post.jwt` where
//! the gateway gives an encryption key, `direct_post` otherwise; a fresh
//! `nonce` and `state` of 128 bits or more; the `wallet_nonce` a wallet
//! posted echoed; `exp` five minutes ahead at most.

use super::dcql::Query;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use openssl::ec::EcKey;
use openssl::ecdsa::EcdsaSig;
use openssl::pkey::Private;
use openssl::x509::X509;
use serde_json::{json, Value};

/// How long a request object is valid.
pub const TTL_SECS: u64 = 300;

/// The verifier, as it signs requests.
pub struct Verifier {
    /// The gateway's host name (the certificate's DNS SAN).
    pub host: String,
    /// The signing certificate, then its chain (no root needed).
    pub chain: Vec<X509>,
    pub key: EcKey<Private>,
}

impl Verifier {
    /// `x509_san_dns:<host>`: the client identifier wallets see, and the
    /// `aud` of every key binding made for us.
    pub fn client_id(&self) -> String {
        format!("x509_san_dns:{}", self.host)
    }
}

/// What one request asks.
pub struct Ask<'a> {
    pub query: &'a Query,
    pub nonce: &'a str,
    pub state: &'a str,
    pub response_uri: &'a str,
    /// The gateway's per-request encryption key (a public EC P-256 JWK with
    /// `kid` and `alg` `ECDH-ES`): `direct_post.jwt`; none: `direct_post`.
    pub encryption_jwk: Option<&'a Value>,
    /// Echoed when the wallet posted one.
    pub wallet_nonce: Option<&'a str>,
    pub now: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the request cannot be signed: {0}")]
    Sign(&'static str),
}

/// Signs `header.payload` with ES256 (`r‖s`).
pub fn sign_es256(
    header: &Value,
    payload: &Value,
    key: &EcKey<Private>,
) -> Result<String, RequestError> {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let sig = EcdsaSig::sign(&openssl::sha::sha256(input.as_bytes()), key)
        .map_err(|_| RequestError::Sign("ECDSA"))?;
    let mut raw = sig
        .r()
        .to_vec_padded(32)
        .map_err(|_| RequestError::Sign("r"))?;
    raw.extend(
        sig.s()
            .to_vec_padded(32)
            .map_err(|_| RequestError::Sign("s"))?,
    );
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw)))
}

/// The signed request object for `ask`.
pub fn request_object(v: &Verifier, ask: &Ask<'_>) -> Result<String, RequestError> {
    let x5c: Vec<String> = v
        .chain
        .iter()
        .map(|c| c.to_der().map(|d| STANDARD.encode(d)))
        .collect::<Result<_, _>>()
        .map_err(|_| RequestError::Sign("x5c"))?;
    let header = json!({"alg": "ES256", "typ": "oauth-authz-req+jwt", "x5c": x5c});
    let mut client_metadata = json!({
        "vp_formats_supported": {
            "dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}
        }
    });
    let mode = match ask.encryption_jwk {
        Some(jwk) => {
            if let Some(m) = client_metadata.as_object_mut() {
                m.insert("jwks".into(), json!({"keys": [jwk]}));
                m.insert(
                    "encrypted_response_enc_values_supported".into(),
                    json!(["A128GCM", "A256GCM"]),
                );
            }
            "direct_post.jwt"
        }
        None => "direct_post",
    };
    let mut payload = json!({
        "client_id": v.client_id(),
        "response_type": "vp_token",
        "response_mode": mode,
        "response_uri": ask.response_uri,
        "nonce": ask.nonce,
        "state": ask.state,
        "dcql_query": ask.query,
        "client_metadata": client_metadata,
        "aud": "https://self-issued.me/v2",
        "iat": ask.now,
        "exp": ask.now + TTL_SECS,
    });
    if let (Some(w), Some(m)) = (ask.wallet_nonce, payload.as_object_mut()) {
        m.insert("wallet_nonce".into(), w.into());
    }
    sign_es256(&header, &payload, &v.key)
}

/// The request as a QR code or link carries it (by reference; the wallet
/// may fetch it with GET or POST).
pub fn link(v: &Verifier, request_uri: &str) -> String {
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &v.client_id())
        .append_pair("request_uri", request_uri)
        .append_pair("request_uri_method", "post")
        .finish();
    format!("openid4vp://?{q}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openid4vp::{dcql, jose};
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::EcGroup;
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::extension::SubjectAlternativeName;
    use openssl::x509::X509Name;

    fn verifier() -> Verifier {
        let key =
            EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap();
        let pkey = PKey::from_ec_key(key.clone()).unwrap();
        let mut n = X509Name::builder().unwrap();
        n.append_entry_by_text("CN", "login.example.go.kr").unwrap();
        let n = n.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&BigNum::from_u32(3).unwrap().to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&n).unwrap();
        b.set_issuer_name(&n).unwrap();
        b.set_pubkey(&pkey).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        let san = SubjectAlternativeName::new()
            .dns("login.example.go.kr")
            .build(&b.x509v3_context(None, None))
            .unwrap();
        b.append_extension(san).unwrap();
        b.sign(&pkey, MessageDigest::sha256()).unwrap();
        Verifier {
            host: "login.example.go.kr".into(),
            chain: vec![b.build()],
            key,
        }
    }

    #[test]
    fn the_request_object_is_signed_by_the_certificate_naming_the_client_id() {
        let v = verifier();
        let query = dcql::query(&["t".to_owned()], &[vec!["name".to_owned()]]);
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "kid": "k1", "alg": "ECDH-ES", "use": "enc"});
        for (enc, mode) in [(Some(&jwk), "direct_post.jwt"), (None, "direct_post")] {
            let ro = request_object(
                &v,
                &Ask {
                    query: &query,
                    nonce: "n-0123456789abcdef0123",
                    state: "s-0123456789abcdef0123",
                    response_uri: "https://login.example.go.kr/oid4vp/response",
                    encryption_jwk: enc,
                    wallet_nonce: Some("w-1"),
                    now: 1_800_000_000,
                },
            )
            .unwrap();
            let j = jose::split(&ro).unwrap();
            assert_eq!(j.header["typ"], "oauth-authz-req+jwt");
            let chain = jose::x5c(&j.header).unwrap();
            let leaf_key = chain[0].public_key().unwrap().ec_key().unwrap();
            assert!(jose::es256_ok(j.signing_input, &j.signature, &leaf_key));
            let names: Vec<String> = chain[0]
                .subject_alt_names()
                .unwrap()
                .iter()
                .filter_map(|n| n.dnsname().map(str::to_owned))
                .collect();
            let client_id = j.payload["client_id"].as_str().unwrap();
            assert_eq!(client_id, "x509_san_dns:login.example.go.kr");
            assert!(names
                .iter()
                .any(|n| Some(n.as_str()) == client_id.strip_prefix("x509_san_dns:")));
            assert_eq!(j.payload["response_mode"], mode);
            assert_eq!(j.payload["wallet_nonce"], "w-1");
            assert_eq!(
                j.payload["dcql_query"]["credentials"][0]["claims"],
                json!([{"path": ["name"]}])
            );
            assert_eq!(j.payload["exp"], 1_800_000_000 + TTL_SECS);
            assert_eq!(
                j.payload["client_metadata"].get("jwks").is_some(),
                enc.is_some()
            );
        }
        let l = link(&v, "https://login.example.go.kr/oid4vp/request/abc");
        assert_eq!(
            l,
            "openid4vp://?client_id=x509_san_dns%3Alogin.example.go.kr&request_uri=https%3A%2F%2Flogin.example.go.kr%2Foid4vp%2Frequest%2Fabc&request_uri_method=post"
        );
    }
}
