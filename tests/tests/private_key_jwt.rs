//! `private_key_jwt`: a site with no shared secret. The Authlib site logs in
//! signing its token-endpoint assertions with its RSA key (RS256); the same
//! site calls the signing API with a Bearer client assertion made here with
//! OpenSSL (ES256). A replayed assertion, a wrong audience, an unregistered
//! key and a missing secret are all refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use munjigi_e2e::*;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::Private;

fn b64u(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The site's keys: an RSA key for Authlib, a P-256 key for the API calls.
struct SiteKeys {
    rsa_pem: std::path::PathBuf,
    ec: EcKey<Private>,
}

const RS_KID: &str = "site-rs-1";
const ES_KID: &str = "site-es-1";

/// Generates the key pairs, writes the private RSA key for the site and the
/// public JWK Set for the gateway (`site-jwks.json` next to the config).
fn site_keys(dir: &std::path::Path) -> SiteKeys {
    let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
    let rsa_jwk = serde_json::json!({
        "kty": "RSA", "kid": RS_KID, "use": "sig", "alg": "RS256",
        "n": b64u(&rsa.n().to_vec()), "e": b64u(&rsa.e().to_vec()),
    });
    let pkey = openssl::pkey::PKey::from_rsa(rsa).unwrap();
    let rsa_pem = dir.join("site-key.pem");
    std::fs::write(&rsa_pem, pkey.private_key_to_pem_pkcs8().unwrap()).unwrap();

    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let ec = EcKey::generate(&group).unwrap();
    let mut x = BigNum::new().unwrap();
    let mut y = BigNum::new().unwrap();
    let mut ctx = BigNumContext::new().unwrap();
    ec.public_key()
        .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
        .unwrap();
    let ec_jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "kid": ES_KID,
        "x": b64u(&x.to_vec_padded(32).unwrap()), "y": b64u(&y.to_vec_padded(32).unwrap()),
    });
    let jwks = serde_json::json!({ "keys": [rsa_jwk, ec_jwk] });
    std::fs::write(dir.join("site-jwks.json"), jwks.to_string()).unwrap();
    SiteKeys { rsa_pem, ec }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An ES256 client assertion signed with `key`.
fn es256_assertion(key: &EcKey<Private>, kid: &str, claims: &serde_json::Value) -> String {
    let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": kid});
    es256_jws(key, &header, claims)
}

fn claims(aud: &str, jti: &str) -> serde_json::Value {
    let t = now();
    serde_json::json!({
        "iss": "town", "sub": "town", "aud": aud,
        "iat": t, "exp": t + 60, "jti": jti,
    })
}

async fn api_post(
    url: &str,
    authorization: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    site_api("POST", url, authorization, Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_without_a_secret_logs_in_and_calls_the_signing_api_with_client_assertions() {
    let dir = TempDir::new("pkjwt");
    let keys = site_keys(dir.path());
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let (port, redirect) = site_port_and_redirect();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect,
            public_client: true,
            extra: "token_endpoint_auth_method = \"private_key_jwt\"\n\
                    jwks = \"site-jwks.json\"\n\
                    \n[signing]\naudit_log = \"audit.log\"\n"
                .to_owned(),
            ..GatewayOpts::default()
        },
    );
    let discovery: serde_json::Value = Browser::new(None)
        .get(&format!("{}/.well-known/openid-configuration", gw.url))
        .await
        .json();
    assert!(discovery["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == "private_key_jwt"));
    assert_eq!(
        discovery["token_endpoint_auth_signing_alg_values_supported"],
        serde_json::json!(["ES256", "RS256"])
    );

    // Login: Authlib signs its token request with the RSA key.
    let site = start_site_private_key_jwt(port, &gw.url, &keys.rsa_pem, RS_KID);
    let mut b = Browser::new(None);
    let (chooser, chooser_url) = b.follow(&format!("{}/login", site.url)).await;
    assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
    let wait_url = pick_and_submit(&mut b, &chooser_url, &HONG).await;
    let base = wait_url.trim_end_matches("/wait").to_owned();
    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (page, _) = b
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, 200, "site callback: {}", page.body);
    let r = page.json();
    assert_eq!(r["id_token_claims"]["aud"], "town", "{r}");
    assert_eq!(r["id_token_claims"]["name"], "홍길동", "{r}");
    assert_eq!(r["userinfo"]["name"], "홍길동", "{r}");

    // Without an assertion the client is not public: no token for a bare client_id.
    let token = Browser::new(None)
        .post(
            &format!("{}/token", gw.url),
            &[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("client_id", "town"),
                ("redirect_uri", &site.redirect_uri),
            ],
        )
        .await;
    assert_eq!(token.status, 401, "{}", token.body);
    assert_eq!(token.json()["error"], "invalid_client");

    // The signing API with a Bearer client assertion whose aud is the API.
    let api = format!("{}/api/v1/signatures", gw.url);
    let body = serde_json::json!({
        "documents": [{"title": "전입 신고서", "content": base64::engine::general_purpose::STANDARD.encode(b"hello"), "media_type": "text/plain"}],
        "redirect_uri": site.redirect_uri,
        "state": "st-1",
    });
    let good = es256_assertion(&keys.ec, ES_KID, &claims(&api, "api-1"));
    let (status, j) = api_post(&api, &format!("Bearer {good}"), &body).await;
    assert_eq!(status, 201, "{j}");
    assert!(j["id"].as_str().is_some_and(|id| !id.is_empty()), "{j}");

    // The same assertion again: its jti was used.
    let (status, j) = api_post(&api, &format!("Bearer {good}"), &body).await;
    assert_eq!(status, 401, "{j}");
    assert_eq!(j["error"], "invalid_client");

    // The issuer is also an acceptable audience; the token endpoint is not.
    let by_issuer = es256_assertion(&keys.ec, ES_KID, &claims(&gw.url, "api-2"));
    let (status, j) = api_post(&api, &format!("Bearer {by_issuer}"), &body).await;
    assert_eq!(status, 201, "{j}");
    let wrong_aud = es256_assertion(
        &keys.ec,
        ES_KID,
        &claims(&format!("{}/token", gw.url), "api-3"),
    );
    let (status, _) = api_post(&api, &format!("Bearer {wrong_aud}"), &body).await;
    assert_eq!(status, 401);

    // A key the site never registered, under a registered kid.
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let stranger = EcKey::generate(&group).unwrap();
    let forged = es256_assertion(&stranger, ES_KID, &claims(&api, "api-4"));
    let (status, _) = api_post(&api, &format!("Bearer {forged}"), &body).await;
    assert_eq!(status, 401);

    // Basic with an empty secret does not pass for a secretless client.
    let basic = base64::engine::general_purpose::STANDARD.encode("town:");
    let (status, _) = api_post(&api, &format!("Basic {basic}"), &body).await;
    assert_eq!(status, 401);

    let log = gw.proc.drain().join("\n");
    assert!(
        log.contains("jti was already used"),
        "the replay is logged: {log}"
    );
}
