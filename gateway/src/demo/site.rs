//! The demo site at `/demo`: a small public website that is a real OIDC client
//! of the gateway.
//!
//! It does what an integrating site does, over real HTTP to the gateway's public
//! endpoints: authorization code flow with PKCE, state and nonce, the token call
//! with `client_secret_basic`, ID token validation against `/jwks`, userinfo, and
//! RP-initiated logout. It keeps its own sessions in memory (it is one process).

use crate::app::App;
use crate::pages::{self, DemoClaim, DemoHomeView, DemoResultView};
use crate::random;
use crate::rescue::{Ctx, GatewayError};
use crate::web::{params::append_query, respond, Params, Response};
use base64::Engine as _;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use hyper::body::Incoming;
use josekit::jwk::JwkSet;
use josekit::jws::{ES256, RS256};
use munjigi_providers::http_client::HttpClient;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use subtle::ConstantTimeEq;

const COOKIE: &str = "mj_demo";
const MAX_SESSIONS: usize = 10_000;

#[derive(Default, Clone)]
struct DemoSession {
    state: String,
    nonce: String,
    verifier: String,
    result: Option<DemoResult>,
}

#[derive(Clone)]
struct DemoResult {
    id_token: String,
    id_claims: Vec<(String, String)>,
    userinfo: Vec<(String, String)>,
}

fn sessions() -> &'static Mutex<HashMap<String, DemoSession>> {
    static S: OnceLock<Mutex<HashMap<String, DemoSession>>> = OnceLock::new();
    S.get_or_init(|| Mutex::new(HashMap::new()))
}

fn with_sessions<T>(f: impl FnOnce(&mut HashMap<String, DemoSession>) -> T) -> T {
    let mut guard = sessions()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(&mut guard)
}

struct Client {
    client_id: String,
    secret: Vec<u8>,
    redirect_uri: String,
}

fn client(app: &App) -> Result<Client, GatewayError> {
    let site_id = app
        .config
        .demo
        .as_ref()
        .map(|d| d.site.clone())
        .ok_or(GatewayError::NotFound)?;
    let oidc = app
        .config
        .sites
        .get(&site_id)
        .and_then(|s| s.oidc.as_ref())
        .ok_or_else(|| GatewayError::Internal("demo site has no OIDC client".into()))?;
    let secret = oidc
        .secret
        .as_ref()
        .map(|s| s.expose().to_vec())
        .ok_or_else(|| GatewayError::Internal("demo client has no secret".into()))?;
    Ok(Client {
        client_id: oidc.client_id.clone(),
        secret,
        redirect_uri: format!("{}/demo/callback", app.config.public_url),
    })
}

fn http_client(app: &App) -> Result<HttpClient, GatewayError> {
    let ca = match &app.config.tls {
        Some(t) => {
            Some(std::fs::read(&t.cert_chain).map_err(|e| GatewayError::Internal(e.to_string()))?)
        }
        None => None,
    };
    HttpClient::new(ca.as_deref(), Duration::from_secs(10))
        .map(|c| c.allow_plain_http(true))
        .map_err(|e| GatewayError::Internal(e.to_string()))
}

pub async fn route(
    app: &App,
    req: http::Request<Incoming>,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    let path = req.uri().path().to_owned();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/demo") | (Method::GET, "/demo/") => home(req.headers(), ctx),
        (Method::GET, "/demo/login") => login(app),
        (Method::GET, "/demo/callback") => callback(app, req, ctx).await,
        (Method::GET, "/demo/logout") => logout(app, req.headers()),
        _ => Err(GatewayError::NotFound),
    }
}

fn lang_hrefs(path: &str) -> (String, String) {
    (format!("{path}?lang=ko"), format!("{path}?lang=en"))
}

fn home(headers: &HeaderMap, ctx: &Ctx) -> Result<Response, GatewayError> {
    let result = crate::web::cookies::get(headers, COOKIE)
        .and_then(|sid| with_sessions(|s| s.get(sid).and_then(|d| d.result.clone())));
    let (ko, en) = lang_hrefs("/demo");
    let body = match &result {
        None => pages::demo_home(&DemoHomeView {
            lang: ctx.lang,
            login_href: "/demo/login",
            lang_ko_href: &ko,
            lang_en_href: &en,
        }),
        Some(r) => {
            let claims: Vec<DemoClaim<'_>> = r
                .id_claims
                .iter()
                .map(|(k, v)| DemoClaim { name: k, value: v })
                .collect();
            let info: Vec<DemoClaim<'_>> = r
                .userinfo
                .iter()
                .map(|(k, v)| DemoClaim { name: k, value: v })
                .collect();
            pages::demo_result(&DemoResultView {
                lang: ctx.lang,
                id_token_claims: &claims,
                userinfo: &info,
                raw_id_token: &r.id_token,
                logout_href: "/demo/logout",
                home_href: "/demo",
                lang_ko_href: &ko,
                lang_en_href: &en,
            })
        }
    }
    .map_err(|e| GatewayError::Internal(e.to_string()))?;
    Ok(respond::html(StatusCode::OK, body))
}

fn login(app: &App) -> Result<Response, GatewayError> {
    let c = client(app)?;
    let sid = random::token(32)?;
    let session = DemoSession {
        state: random::token(16)?,
        nonce: random::token(16)?,
        verifier: random::token(32)?,
        result: None,
    };
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(openssl::sha::sha256(session.verifier.as_bytes()));
    let url = append_query(
        &format!("{}/authorize", app.config.public_url),
        &[
            ("response_type", "code"),
            ("client_id", &c.client_id),
            ("redirect_uri", &c.redirect_uri),
            ("scope", "openid profile phone"),
            ("state", &session.state),
            ("nonce", &session.nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    with_sessions(|s| {
        if s.len() >= MAX_SESSIONS {
            s.clear();
        }
        s.insert(sid.clone(), session);
    });
    let cookie = format!(
        "{COOKIE}={sid}; Path=/demo; HttpOnly; SameSite=Lax{}",
        if app.config.secure_cookies() {
            "; Secure"
        } else {
            ""
        }
    );
    Ok(respond::with_cookie(respond::redirect(&url), &cookie))
}

fn eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn flatten(v: &serde_json::Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let s = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), s)
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn callback(
    app: &App,
    req: http::Request<Incoming>,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    let c = client(app)?;
    let q = Params::from_query(req.uri())?;
    let sid = crate::web::cookies::get(req.headers(), COOKIE)
        .ok_or_else(|| GatewayError::BadRequest("demo session cookie missing".into()))?;
    let session = with_sessions(|s| s.get(sid).cloned())
        .ok_or_else(|| GatewayError::BadRequest("demo session unknown".into()))?;
    if !eq(q.get("state").unwrap_or_default(), &session.state) {
        return Err(GatewayError::BadRequest("state does not match".into()));
    }
    if q.get("iss") != Some(app.config.issuer()) {
        return Err(GatewayError::BadRequest(
            "iss does not match the issuer (RFC 9207)".into(),
        ));
    }
    if let Some(error) = q.get("error") {
        tracing::info!(error, "demo site: login not completed");
        return Ok(respond::redirect("/demo"));
    }
    let code = q.required("code")?;
    let http = http_client(app)?;
    let base = &app.config.public_url;
    let form = crate::web::params::encode(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &c.redirect_uri),
        ("code_verifier", &session.verifier),
    ]);
    let mut headers = HeaderMap::new();
    let enc = |s: &str| {
        crate::web::params::encode(&[("x", s)])
            .trim_start_matches("x=")
            .to_owned()
    };
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        enc(&c.client_id),
        enc(std::str::from_utf8(&c.secret).unwrap_or_default())
    ));
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Basic {basic}"))
            .map_err(|e| GatewayError::Internal(e.to_string()))?,
    );
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let bad = |what: &str| GatewayError::Internal(format!("demo site: {what}"));
    let token = http
        .post(&format!("{base}/token"), headers, bytes::Bytes::from(form))
        .await
        .map_err(|e| bad(&format!("token call failed: {e}")))?;
    if token.status != StatusCode::OK {
        return Err(bad(&format!("token endpoint answered {}", token.status)));
    }
    let token: serde_json::Value = token.json().map_err(|e| bad(&e.to_string()))?;
    let id_token = token
        .get("id_token")
        .unwrap_or(&serde_json::Value::Null)
        .as_str()
        .ok_or_else(|| bad("no id_token"))?
        .to_owned();
    let access_token = token
        .get("access_token")
        .unwrap_or(&serde_json::Value::Null)
        .as_str()
        .ok_or_else(|| bad("no access_token"))?
        .to_owned();

    // Validate the ID token against the published keys.
    let jwks = http
        .get(&format!("{base}/jwks"), HeaderMap::new())
        .await
        .map_err(|e| bad(&e.to_string()))?;
    let jwks = JwkSet::from_bytes(&jwks.body).map_err(|e| bad(&e.to_string()))?;
    let header = josekit::jwt::decode_header(&id_token).map_err(|e| bad(&e.to_string()))?;
    let kid = header
        .claim("kid")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad("id_token has no kid"))?;
    let alg = header
        .claim("alg")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let jwk = jwks
        .get(kid)
        .first()
        .copied()
        .ok_or_else(|| bad("unknown kid"))?;
    let (payload, _) = match alg.as_str() {
        "ES256" => josekit::jwt::decode_with_verifier(
            &id_token,
            &ES256
                .verifier_from_jwk(jwk)
                .map_err(|e| bad(&e.to_string()))?,
        ),
        "RS256" => josekit::jwt::decode_with_verifier(
            &id_token,
            &RS256
                .verifier_from_jwk(jwk)
                .map_err(|e| bad(&e.to_string()))?,
        ),
        _ => return Err(bad("unexpected id_token alg")),
    }
    .map_err(|e| bad(&format!("id_token signature: {e}")))?;
    let claims = serde_json::Value::Object(payload.claims_set().clone());
    let now = random::now();
    let valid = claims
        .get("iss")
        .unwrap_or(&serde_json::Value::Null)
        .as_str()
        == Some(app.config.issuer())
        && claims
            .get("aud")
            .unwrap_or(&serde_json::Value::Null)
            .as_str()
            == Some(c.client_id.as_str())
        && claims
            .get("exp")
            .unwrap_or(&serde_json::Value::Null)
            .as_u64()
            .is_some_and(|e| e > now)
        && claims
            .get("nonce")
            .unwrap_or(&serde_json::Value::Null)
            .as_str()
            .is_some_and(|n| eq(n, &session.nonce));
    if !valid {
        return Err(bad("id_token claims (iss, aud, exp, nonce) invalid"));
    }
    let mut uh = HeaderMap::new();
    uh.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {access_token}"))
            .map_err(|e| bad(&e.to_string()))?,
    );
    let info = http
        .get(&format!("{base}/userinfo"), uh)
        .await
        .map_err(|e| bad(&e.to_string()))?;
    let info: serde_json::Value = info.json().map_err(|e| bad(&e.to_string()))?;
    let result = DemoResult {
        id_token,
        id_claims: flatten(&claims),
        userinfo: flatten(&info),
    };
    with_sessions(|s| {
        if let Some(d) = s.get_mut(sid) {
            d.result = Some(result);
        }
    });
    let _ = ctx;
    tracing::info!("demo site: citizen logged in");
    Ok(respond::redirect("/demo"))
}

fn logout(app: &App, headers: &HeaderMap) -> Result<Response, GatewayError> {
    let c = client(app)?;
    let removed =
        crate::web::cookies::get(headers, COOKIE).and_then(|sid| with_sessions(|s| s.remove(sid)));
    let mut pairs = vec![
        ("client_id", c.client_id.clone()),
        (
            "post_logout_redirect_uri",
            format!("{}/demo", app.config.public_url),
        ),
    ];
    if let Some(r) = removed.and_then(|d| d.result) {
        pairs.push(("id_token_hint", r.id_token));
    }
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let url = append_query(&format!("{}/logout", app.config.public_url), &pairs);
    Ok(respond::redirect(&url))
}
