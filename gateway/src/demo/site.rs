//! The demo site at `/demo`: a small public website that is a real OIDC client
//! of the gateway.
//!
//! It does what an integrating site does, over real HTTP to the gateway's public
//! endpoints: authorization code flow with PKCE, state and nonce, the token call
//! with `client_secret_basic`, ID token validation against `/jwks`, userinfo, and
//! RP-initiated logout. It keeps its own sessions in memory (it is one process).
//!
//! It also signs documents as a site would ([`sign_form`], [`sign`],
//! [`signed`], [`receipt`]): `POST /api/v1/signatures` with the same client
//! credentials, the citizen sent to the returned URL, and back at
//! `/demo/signed` the state checked against its own cookie, the receipt read
//! with `GET /api/v1/signatures/{id}` and its JWS verified against `/jwks`.
//! The form posts `application/x-www-form-urlencoded`: the typed text, or a
//! file the page's script read into a hidden base64 field (without
//! JavaScript, text only).

use crate::app::App;
use crate::pages::{
    self, DemoAway, DemoClaim, DemoHomeView, DemoResultView, DemoSignError, DemoSignView,
    DemoSignedOutcome, DemoSignedView,
};
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

pub(super) const COOKIE: &str = "mj_demo";
const MAX_SESSIONS: usize = 10_000;
/// The largest file the demo signs (its form's script refuses larger ones).
const MAX_FILE_BYTES: usize = 256 * 1024;
/// The sign form's body: the file in base64, percent-encoded, and the text.
const MAX_SIGN_FORM: usize = 4 * MAX_FILE_BYTES;
/// Receipts kept per demo session for download.
const MAX_RECEIPTS: usize = 20;

#[derive(Default, Clone)]
pub(super) struct DemoSession {
    state: String,
    nonce: String,
    verifier: String,
    result: Option<DemoResult>,
    /// The sign form's (and the call centre's) CSRF token.
    pub(super) csrf: String,
    /// The state of the signature request under way.
    sign_state: Option<String>,
    /// (request id, receipt JWS) of the requests signed in this session.
    receipts: Vec<(String, String)>,
    /// A call-centre or kiosk login under way ([`super::away`]).
    pub(super) away: Option<super::away::Away>,
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

pub(super) fn with_sessions<T>(f: impl FnOnce(&mut HashMap<String, DemoSession>) -> T) -> T {
    let mut guard = sessions()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(&mut guard)
}

pub(super) struct Client {
    pub(super) client_id: String,
    secret: Vec<u8>,
    redirect_uri: String,
}

pub(super) fn client(app: &App) -> Result<Client, GatewayError> {
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
        .ok_or_else(|| GatewayError::config("demo site has no OIDC client"))?;
    let secret = oidc
        .secret
        .as_ref()
        .map(|s| s.expose().to_vec())
        .ok_or_else(|| GatewayError::config("demo client has no secret"))?;
    Ok(Client {
        client_id: oidc.client_id.clone(),
        secret,
        redirect_uri: format!("{}/demo/callback", app.config.public_url),
    })
}

pub(super) fn http_client(app: &App) -> Result<HttpClient, GatewayError> {
    let ca = match &app.config.tls {
        Some(t) => Some(std::fs::read(&t.cert_chain).map_err(GatewayError::config)?),
        None => None,
    };
    HttpClient::new(ca.as_deref(), Duration::from_secs(10))
        .map(|c| c.allow_plain_http(true))
        .map_err(GatewayError::config)
}

pub async fn route(
    app: &App,
    req: http::Request<Incoming>,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    let path = req.uri().path().to_owned();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/demo") | (Method::GET, "/demo/") => home(app, req.headers(), ctx),
        (Method::GET, "/demo/login") => login(app),
        (Method::GET, "/demo/callback") => callback(app, req, ctx).await,
        (Method::GET, "/demo/logout") => logout(app, req.headers()),
        (Method::GET, "/demo/sign") => sign_form(app, req.headers(), ctx),
        (Method::POST, "/demo/sign") => sign(app, req, ctx).await,
        (Method::GET, "/demo/signed") => signed(app, req, ctx).await,
        (Method::GET, "/demo/callcentre") => super::away::callcentre_form(app, req.headers(), ctx),
        (Method::POST, "/demo/callcentre") => super::away::callcentre_start(app, req, ctx).await,
        (Method::GET, "/demo/callcentre/wait") => {
            super::away::wait(app, req.headers(), ctx, DemoAway::CallCentre).await
        }
        (Method::GET, "/demo/callcentre/status") => {
            super::away::status(app, req.headers(), DemoAway::CallCentre).await
        }
        (Method::GET, "/demo/kiosk") => super::away::kiosk_start(app, req.headers(), ctx).await,
        (Method::GET, "/demo/kiosk/wait") => {
            super::away::wait(app, req.headers(), ctx, DemoAway::Kiosk).await
        }
        (Method::GET, "/demo/kiosk/status") => {
            super::away::status(app, req.headers(), DemoAway::Kiosk).await
        }
        (Method::GET, p) if p.starts_with("/demo/receipt/") => {
            receipt(req.headers(), p.trim_start_matches("/demo/receipt/"))
        }
        _ => Err(GatewayError::NotFound),
    }
}

pub(super) fn lang_hrefs(path: &str) -> (String, String) {
    (format!("{path}?lang=ko"), format!("{path}?lang=en"))
}

fn home(app: &App, headers: &HeaderMap, ctx: &Ctx) -> Result<Response, GatewayError> {
    let (ciba, device) = super::away::allowed(app);
    let result = crate::web::cookies::get(headers, COOKIE)
        .and_then(|sid| with_sessions(|s| s.get(sid).and_then(|d| d.result.clone())));
    let (ko, en) = lang_hrefs("/demo");
    let body = match &result {
        None => pages::demo_home(&DemoHomeView {
            lang: ctx.lang,
            login_href: "/demo/login",
            sign_href: "/demo/sign",
            callcentre_href: ciba.then_some("/demo/callcentre"),
            kiosk_href: device.then_some("/demo/kiosk"),
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
                sign_href: "/demo/sign",
                lang_ko_href: &ko,
                lang_en_href: &en,
            })
        }
    }
    .map_err(GatewayError::render)?;
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
        ..DemoSession::default()
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
    store_session(&sid, session);
    Ok(respond::with_cookie(
        respond::redirect(&url),
        &session_cookie(app, &sid),
    ))
}

pub(super) fn store_session(sid: &str, session: DemoSession) {
    with_sessions(|s| {
        if s.len() >= MAX_SESSIONS {
            s.clear();
        }
        s.insert(sid.to_owned(), session);
    });
}

fn session_cookie(app: &App, sid: &str) -> String {
    format!(
        "{COOKIE}={sid}; Path=/demo; HttpOnly; SameSite=Lax{}",
        if app.config.secure_cookies() {
            "; Secure"
        } else {
            ""
        }
    )
}

/// Whether the demo's call-centre screen is served: any visitor may then
/// ask for a push to any phone (a warning at start).
pub fn pushes_for_anyone(app: &App) -> bool {
    super::away::allowed(app).0
}

/// `r` with the demo session's cookie when the session is new.
pub(super) fn with_session_cookie(app: &App, r: Response, sid: &str, new: bool) -> Response {
    if new {
        respond::with_cookie(r, &session_cookie(app, sid))
    } else {
        r
    }
}

/// `client_secret_basic`: id and secret form-encoded, then base64 (RFC 6749 2.3.1).
pub(super) fn basic_auth(c: &Client) -> Result<HeaderValue, GatewayError> {
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
    HeaderValue::from_str(&format!("Basic {basic}")).map_err(GatewayError::encode)
}

pub(super) fn eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

pub(super) fn flatten(v: &serde_json::Value) -> Vec<(String, String)> {
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

/// The gateway's `/jwks`, as a site fetches it.
async fn fetch_jwks(http: &HttpClient, base: &str) -> Result<bytes::Bytes, GatewayError> {
    http.get(&format!("{base}/jwks"), HeaderMap::new())
        .await
        .map(|r| r.body)
        .map_err(|e| GatewayError::config(format!("demo site: {e}")))
}

/// Verifies a receipt as a site does: with the receipt verifier, against the
/// gateway's `/jwks` (the receipt key is not a `sig` key); returns the claims.
async fn verify_receipt(
    http: &HttpClient,
    base: &str,
    jws: &str,
) -> Result<serde_json::Value, GatewayError> {
    let bad = |what: &str| GatewayError::config(format!("demo site: {what}"));
    let jwks: serde_json::Value =
        serde_json::from_slice(&fetch_jwks(http, base).await?).map_err(|e| bad(&e.to_string()))?;
    let sealed = munjigi_receipt::verify::open_jws(jws, &jwks).map_err(|e| bad(&e))?;
    if sealed.key != munjigi_receipt::verify::SealKey::Receipt {
        return Err(bad("the receipt is not sealed with the receipt key"));
    }
    serde_json::to_value(&sealed.claims).map_err(|e| bad(&e.to_string()))
}

/// Verifies an ID token of the gateway against its `/jwks`; returns the claims.
pub(super) async fn verify_jws(
    http: &HttpClient,
    base: &str,
    jws: &str,
) -> Result<serde_json::Value, GatewayError> {
    let bad = |what: &str| GatewayError::config(format!("demo site: {what}"));
    let jwks =
        JwkSet::from_bytes(&fetch_jwks(http, base).await?).map_err(|e| bad(&e.to_string()))?;
    let header = josekit::jwt::decode_header(jws).map_err(|e| bad(&e.to_string()))?;
    let kid = header
        .claim("kid")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad("JWS has no kid"))?;
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
            jws,
            &ES256
                .verifier_from_jwk(jwk)
                .map_err(|e| bad(&e.to_string()))?,
        ),
        "RS256" => josekit::jwt::decode_with_verifier(
            jws,
            &RS256
                .verifier_from_jwk(jwk)
                .map_err(|e| bad(&e.to_string()))?,
        ),
        _ => return Err(bad("unexpected JWS alg")),
    }
    .map_err(|e| bad(&format!("JWS signature: {e}")))?;
    Ok(serde_json::Value::Object(payload.claims_set().clone()))
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
    headers.insert(header::AUTHORIZATION, basic_auth(&c)?);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let bad = |what: &str| GatewayError::config(format!("demo site: {what}"));
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
    let claims = verify_jws(&http, base, &id_token).await?;
    let now = app.clock.now();
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

/// The demo session of this browser, made if it has none; true when new.
pub(super) fn session_of(headers: &HeaderMap) -> Result<(String, DemoSession, bool), GatewayError> {
    if let Some(sid) = crate::web::cookies::get(headers, COOKIE) {
        if let Some(d) = with_sessions(|s| s.get(sid).cloned()) {
            return Ok((sid.to_owned(), d, false));
        }
    }
    Ok((random::token(32)?, DemoSession::default(), true))
}

pub(super) fn page(r: Result<String, pages::PageError>) -> Result<String, GatewayError> {
    r.map_err(GatewayError::render)
}

fn sign_page(
    app: &App,
    ctx: &Ctx,
    sid: &str,
    new: bool,
    values: (&str, &str),
    error: Option<DemoSignError>,
    csrf: &str,
) -> Result<Response, GatewayError> {
    let (ko, en) = lang_hrefs("/demo/sign");
    let body = page(pages::demo_sign(&DemoSignView {
        lang: ctx.lang,
        action: "/demo/sign",
        csrf,
        title: values.0,
        text: values.1,
        error,
        max_file_bytes: MAX_FILE_BYTES,
        home_href: "/demo",
        lang_ko_href: &ko,
        lang_en_href: &en,
    }))?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let r = respond::html(status, body);
    Ok(if new {
        respond::with_cookie(r, &session_cookie(app, sid))
    } else {
        r
    })
}

/// `GET /demo/sign`: the form.
fn sign_form(app: &App, headers: &HeaderMap, ctx: &Ctx) -> Result<Response, GatewayError> {
    let (sid, mut d, new) = session_of(headers)?;
    if d.csrf.is_empty() {
        d.csrf = random::token(16)?;
    }
    let csrf = d.csrf.clone();
    store_session(&sid, d);
    sign_page(app, ctx, &sid, new, ("", ""), None, &csrf)
}

/// `POST /demo/sign`: asks the gateway for a signature and sends the citizen there.
async fn sign(
    app: &App,
    req: http::Request<Incoming>,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    let (sid, mut d, new) = session_of(req.headers())?;
    let body = crate::web::read_body(req.into_body(), MAX_SIGN_FORM)
        .await
        .map_err(|e| match e {
            crate::web::BodyError::TooLarge(_) => GatewayError::TooLarge,
            other => GatewayError::BadRequest(other.to_string()),
        })?;
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if new || d.csrf.is_empty() || !eq(field("csrf"), &d.csrf) {
        return Err(GatewayError::Csrf);
    }
    let title = field("title").trim();
    let title = if title.is_empty() {
        match ctx.lang {
            pages::Lang::Ko => "데모 문서",
            pages::Lang::En => "Demo document",
        }
    } else {
        title
    };
    let text = field("text");
    let b64 = base64::engine::general_purpose::STANDARD;
    let clean = |t: &str| -> String { t.chars().filter(|c| !c.is_control()).take(100).collect() };
    // The typed text and the chosen file are each a document; with both, one
    // request signs the two together (all or nothing).
    let mut documents = Vec::new();
    if !text.trim().is_empty() && !field("file_b64").is_empty() {
        documents.push(serde_json::json!({
            "title": clean(title),
            "content": b64.encode(text.as_bytes()),
            "media_type": "text/plain; charset=utf-8",
        }));
    }
    let (content, media_type, doc_title) = if !field("file_b64").is_empty() {
        let bytes = b64
            .decode(field("file_b64"))
            .map_err(|_| GatewayError::BadRequest("file_b64 is not base64".into()))?;
        if bytes.len() > MAX_FILE_BYTES {
            let csrf = d.csrf.clone();
            return sign_page(
                app,
                ctx,
                &sid,
                false,
                (title, text),
                Some(DemoSignError::TooLarge),
                &csrf,
            );
        }
        let media_type = Some(field("file_type"))
            .filter(|t| t.contains('/') && t.len() <= 100)
            .unwrap_or("application/octet-stream");
        let name = field("file_name").trim();
        let doc_title =
            if (field("title").trim().is_empty() || !documents.is_empty()) && !name.is_empty() {
                name
            } else {
                title
            };
        (b64.encode(bytes), media_type, doc_title)
    } else if !text.trim().is_empty() {
        (
            b64.encode(text.as_bytes()),
            "text/plain; charset=utf-8",
            title,
        )
    } else {
        let csrf = d.csrf.clone();
        return sign_page(
            app,
            ctx,
            &sid,
            false,
            (title, text),
            Some(DemoSignError::Empty),
            &csrf,
        );
    };
    let doc_title = clean(doc_title);
    let request_title: String = if documents.is_empty() {
        doc_title.chars().take(40).collect()
    } else {
        clean(title).chars().take(40).collect()
    };
    documents.push(
        serde_json::json!({"title": doc_title, "content": content, "media_type": media_type}),
    );
    let c = client(app)?;
    let state = random::token(16)?;
    let ask = serde_json::json!({
        "title": request_title,
        "documents": documents,
        "redirect_uri": format!("{}/demo/signed", app.config.public_url),
        "state": state,
        "locale": ctx.lang.code(),
    });
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, basic_auth(&c)?);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let bad = |what: &str| GatewayError::config(format!("demo site: {what}"));
    let resp = http_client(app)?
        .post(
            &format!("{}/api/v1/signatures", app.config.public_url),
            headers,
            bytes::Bytes::from(ask.to_string()),
        )
        .await
        .map_err(|e| bad(&format!("signature request failed: {e}")))?;
    let answer: serde_json::Value = resp.json().unwrap_or(serde_json::Value::Null);
    if resp.status != StatusCode::CREATED {
        let why = answer
            .get("error_description")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        return Err(bad(&format!("signing API answered {}: {why}", resp.status)));
    }
    let url = answer
        .get("url")
        .and_then(|v| v.as_str())
        .filter(|u| u.starts_with(&app.config.public_url))
        .ok_or_else(|| bad("signing API gave no url"))?
        .to_owned();
    d.sign_state = Some(state);
    store_session(&sid, d);
    tracing::info!("demo site: signature requested");
    Ok(respond::redirect(&url))
}

/// Formats a UNIX time in Korea's time (UTC+9), as the citizen reads it.
fn kst(unix: u64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(i64::try_from(unix).unwrap_or(0)) else {
        return unix.to_string();
    };
    let t = t.to_offset(time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} KST",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn text_of<'a>(v: &'a serde_json::Value, path: &[&str]) -> &'a str {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(|v| v.as_str())
        .unwrap_or_default()
}

/// `GET /demo/signed?id&state`: the citizen is back; read and show the outcome.
async fn signed(
    app: &App,
    req: http::Request<Incoming>,
    ctx: &Ctx,
) -> Result<Response, GatewayError> {
    let q = Params::from_query(req.uri())?;
    let id = q.required("id")?.to_owned();
    let sid = crate::web::cookies::get(req.headers(), COOKIE)
        .ok_or_else(|| GatewayError::BadRequest("demo session cookie missing".into()))?
        .to_owned();
    let want = with_sessions(|s| s.get_mut(&sid).and_then(|d| d.sign_state.take()))
        .ok_or_else(|| GatewayError::BadRequest("no signature request under way".into()))?;
    if !eq(q.get("state").unwrap_or_default(), &want) {
        return Err(GatewayError::BadRequest("state does not match".into()));
    }
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(GatewayError::BadRequest("malformed id".into()));
    }
    let c = client(app)?;
    let http = http_client(app)?;
    let base = &app.config.public_url;
    let bad = |what: &str| GatewayError::config(format!("demo site: {what}"));
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, basic_auth(&c)?);
    let resp = http
        .get(&format!("{base}/api/v1/signatures/{id}"), headers)
        .await
        .map_err(|e| bad(&format!("reading the signature failed: {e}")))?;
    if resp.status != StatusCode::OK {
        return Err(bad(&format!("signing API answered {}", resp.status)));
    }
    let answer: serde_json::Value = resp.json().map_err(|e| bad(&e.to_string()))?;
    let status = text_of(&answer, &["status"]).to_owned();
    let failure = text_of(&answer, &["failure"]).to_owned();
    let receipt = text_of(&answer, &["receipt"]).to_owned();
    let (ko, en) = lang_hrefs("/demo/sign");
    let render = |outcome: DemoSignedOutcome<'_>| {
        page(pages::demo_signed(&DemoSignedView {
            lang: ctx.lang,
            outcome,
            sign_href: "/demo/sign",
            home_href: "/demo",
            lang_ko_href: &ko,
            lang_en_href: &en,
        }))
    };
    if status != "completed" || receipt.is_empty() {
        tracing::info!(status = %status, failure = %failure, "demo site: signature not completed");
        let body = if status == "pending" {
            render(DemoSignedOutcome::Pending)?
        } else {
            let reason = if failure.is_empty() {
                &status
            } else {
                &failure
            };
            render(DemoSignedOutcome::Failed { reason })?
        };
        return Ok(respond::html(StatusCode::OK, body));
    }
    // What a site must do with the receipt: verify it, and that it is its own.
    let claims = verify_receipt(&http, base, &receipt).await?;
    if text_of(&claims, &["iss"]) != app.config.issuer()
        || text_of(&claims, &["aud"]) != c.client_id
        || text_of(&claims, &["jti"]) != id
    {
        return Err(bad("receipt claims (iss, aud, jti) invalid"));
    }
    let docs = claims
        .get("documents")
        .and_then(|d| d.as_array())
        .cloned()
        .unwrap_or_default();
    let signing_time = docs
        .first()
        .and_then(|d| d.get("signing_time"))
        .and_then(|v| v.as_u64())
        .map(kst)
        .unwrap_or_default();
    let documents: Vec<DemoClaim<'_>> = docs
        .iter()
        .map(|d| DemoClaim {
            name: text_of(d, &["title"]),
            value: text_of(d, &["digest"]),
        })
        .collect();
    let download = format!("/demo/receipt/{id}");
    let body = render(DemoSignedOutcome::Signed {
        request_title: text_of(&claims, &["title"]),
        provider: text_of(&claims, &["signer", "provider"]),
        signer: text_of(&claims, &["signer", "name"]),
        signing_time: &signing_time,
        documents: &documents,
        download_href: &download,
    })?;
    with_sessions(|s| {
        if let Some(d) = s.get_mut(&sid) {
            if d.receipts.len() >= MAX_RECEIPTS {
                d.receipts.remove(0);
            }
            d.receipts.retain(|(i, _)| i != &id);
            d.receipts.push((id.clone(), receipt.clone()));
        }
    });
    tracing::info!("demo site: receipt received and verified");
    Ok(respond::html(StatusCode::OK, body))
}

/// `GET /demo/receipt/{id}`: the receipt JWS of a request signed in this session.
fn receipt(headers: &HeaderMap, id: &str) -> Result<Response, GatewayError> {
    let jws = crate::web::cookies::get(headers, COOKIE)
        .and_then(|sid| {
            with_sessions(|s| {
                s.get(sid).and_then(|d| {
                    d.receipts
                        .iter()
                        .find(|(i, _)| i == id)
                        .map(|(_, r)| r.clone())
                })
            })
        })
        .ok_or(GatewayError::NotFound)?;
    let mut r = http::Response::new(crate::web::Body::new(bytes::Bytes::from(jws)));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jose"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // The id is the gateway's token (letters, digits, - and _), checked at /demo/signed.
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"receipt-{id}.jws\""))
            .map_err(GatewayError::encode)?,
    );
    Ok(r)
}
