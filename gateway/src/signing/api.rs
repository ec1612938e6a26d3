//! The site's signing API: `POST /api/v1/signatures` asks, `GET
//! /api/v1/signatures/{id}` reads the status and, once finished, the receipt.
//!
//! Authenticated as the site's OIDC client (`client_secret_basic`, or a
//! `private_key_jwt` client assertion as a Bearer token), so a site
//! integrates one set of credentials. Errors are JSON `{error,
//! error_description}` in the OAuth style the site's library already parses.
//! A request of another client is answered exactly like a missing one (404),
//! so ids cannot be probed across sites.

use super::record::{self, DocumentMeta, SignatureRecord, SignerBinding, Status};
use crate::app::App;
use crate::config::model::{OidcClient, Site};
use crate::random;
use crate::web::{self, respond, Response};
use base64::Engine as _;
use http::{header, HeaderValue, Method, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    let mut r = respond::json(
        status,
        &serde_json::json!({ "error": code, "error_description": description }),
    );
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"munjigi\""),
        );
    }
    r
}

fn bad(description: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// The calling site, by HTTP Basic with its OIDC client credentials, or
/// (`private_key_jwt` sites) `Bearer` with a client assertion whose `aud` is
/// this API's URL or the issuer.
async fn client<'a>(
    app: &'a App,
    headers: &http::HeaderMap,
) -> Result<(&'a Site, &'a OidcClient), Response> {
    let refused = || {
        error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        )
    };
    let v = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refused)?;
    if let Some(token) = crate::web::authorization::credentials(v, "Bearer") {
        use crate::oidc::client_assertion::{authenticate, Failure};
        let api = format!("{}/api/v1/signatures", app.config.issuer());
        let audiences = [api.as_str(), app.config.issuer()];
        return authenticate(app, token.trim(), None, &audiences, "signing-api")
            .await
            .map_err(|f| match f {
                Failure::Invalid => refused(),
                Failure::Unavailable => error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "try again shortly",
                ),
            });
    }
    basic_client(app, v).ok_or_else(refused)
}

fn basic_client<'a>(app: &'a App, v: &str) -> Option<(&'a Site, &'a OidcClient)> {
    let (id, secret) = crate::oidc::token::parse_basic(v)?;
    let (site, client) = app.config.client(&id)?;
    let ok = client
        .secret
        .as_ref()
        .is_some_and(|s| s.matches(secret.as_bytes()));
    if !ok {
        tracing::warn!(client = %id, "signing API: client authentication failed");
        return None;
    }
    Some((site, client))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDocument {
    title: String,
    /// The document, standard base64 (up to `max_document_bytes`).
    content: Option<String>,
    /// Or its SHA-256, hex.
    sha256: Option<String>,
    media_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSigner {
    sub: Option<String>,
    /// Name, birth date (`YYYY-MM-DD`) and phone: all three or none.
    name: Option<String>,
    birthdate: Option<String>,
    phone: Option<String>,
}

/// The binding the site asked for, or why it cannot be honoured.
fn binding(s: NewSigner) -> Result<SignerBinding, &'static str> {
    use munjigi_providers::{BirthDate, Name, Phone};
    if s.sub
        .as_ref()
        .is_some_and(|v| v.is_empty() || v.len() > 128)
    {
        return Err("signer.sub is not a subject of this site");
    }
    let citizen = match (&s.name, &s.birthdate, &s.phone) {
        (None, None, None) => None,
        (Some(n), Some(b), Some(p)) => {
            let (Ok(name), Ok(birthdate), Ok(phone)) =
                (Name::parse(n), BirthDate::parse(b), Phone::parse(p))
            else {
                return Err(
                    "signer.name, signer.birthdate (YYYY-MM-DD) or signer.phone is malformed",
                );
            };
            Some(crate::txn::StoredCitizen {
                name,
                birthdate,
                phone,
            })
        }
        _ => return Err("signer needs name, birthdate and phone together"),
    };
    if s.sub.is_none() && citizen.is_none() {
        return Err("signer needs sub, or name, birthdate and phone");
    }
    Ok(SignerBinding {
        sub: s.sub,
        citizen,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRequest {
    title: Option<String>,
    documents: Vec<NewDocument>,
    redirect_uri: String,
    state: Option<String>,
    locale: Option<String>,
    /// Seconds the citizen has (default and maximum: the login lifetime).
    expires_in: Option<u64>,
    signer: Option<NewSigner>,
}

/// The shortest `expires_in` a site may ask for.
pub const MIN_EXPIRES_IN: u64 = 10;

/// Routes `/api/v1/signatures` and `/api/v1/signatures/{id}`.
pub async fn route(app: &App, req: http::Request<Incoming>, rest: &str) -> Response {
    let Some(settings) = app.config.signing.clone() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "document signing is not enabled on this gateway",
        );
    };
    let (site, client) = match client(app, req.headers()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = match (req.method().clone(), rest) {
        (Method::POST, "") => create(app, &settings, site, client, req).await,
        (Method::GET, id) if !id.is_empty() && !id.contains('/') => read(app, client, id).await,
        (_, "") => Ok(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "use POST",
        )),
        _ => Ok(error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such signature request",
        )),
    };
    result.unwrap_or_else(|e| {
        // The same table as every page: the code in the log, the status to the site.
        let rescue = crate::rescue::rescue_of(&e);
        tracing::error!(client = %client.client_id, code = rescue.code, error = %e, "signing API failed");
        let (status, code) = crate::rescue::api_error(&rescue);
        error(status, code, "the request could not be served; retry later")
    })
}

/// The largest signature request body read, whatever the per-document limits.
pub const MAX_CREATE_BODY: usize = 16 * 1024 * 1024;

async fn create(
    app: &App,
    settings: &crate::config::model::SigningSettings,
    site: &Site,
    client: &OidcClient,
    req: http::Request<Incoming>,
) -> Result<Response, crate::rescue::GatewayError> {
    // Base64 grows by 4/3; room for titles and the envelope.
    // Never more than 16 MiB in memory for one request, however the limits
    // per document multiply: larger documents go by their SHA-256.
    let limit = (settings.max_documents * (settings.max_document_bytes / 3 * 4 + 1024) + 64 * 1024)
        .min(MAX_CREATE_BODY);
    let body = match web::read_body(req.into_body(), limit).await {
        Ok(b) => b,
        Err(web::BodyError::TooLarge(_)) => {
            return Ok(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "request too large",
            ))
        }
        Err(_) => return Ok(bad("the request body could not be read")),
    };
    let new: NewRequest = match serde_json::from_slice(&body) {
        Ok(n) => n,
        Err(e) => return Ok(bad(&format!("malformed request: {e}"))),
    };
    if !client.has_redirect_uri(&new.redirect_uri) {
        return Ok(bad("redirect_uri is not registered for this client"));
    }
    if new.documents.is_empty() || new.documents.len() > settings.max_documents {
        return Ok(bad(&format!(
            "between 1 and {} documents per request",
            settings.max_documents
        )));
    }
    if new.state.as_ref().is_some_and(|s| s.len() > 512) {
        return Ok(bad("state is longer than 512 characters"));
    }
    let mut documents = Vec::with_capacity(new.documents.len());
    for (i, d) in new.documents.iter().enumerate() {
        let title = d.title.trim();
        if title.is_empty() || title.chars().count() > 100 || title.chars().any(char::is_control) {
            return Ok(bad(&format!(
                "documents[{i}].title must be 1 to 100 printable characters"
            )));
        }
        let sha256 = match (&d.content, &d.sha256) {
            (Some(c), None) => {
                let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(c) else {
                    return Ok(bad(&format!("documents[{i}].content is not base64")));
                };
                if bytes.len() > settings.max_document_bytes {
                    return Ok(bad(&format!(
                        "documents[{i}] is larger than {} bytes; send its sha256 instead",
                        settings.max_document_bytes
                    )));
                }
                hex::encode(openssl::sha::sha256(&bytes))
            }
            (None, Some(h)) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                h.to_ascii_lowercase()
            }
            (None, Some(_)) => {
                return Ok(bad(&format!("documents[{i}].sha256 must be 64 hex digits")))
            }
            _ => {
                return Ok(bad(&format!(
                    "documents[{i}] needs exactly one of content and sha256"
                )))
            }
        };
        let media_type = d
            .media_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into());
        if media_type.len() > 100 || !media_type.contains('/') {
            return Ok(bad(&format!(
                "documents[{i}].media_type is not a media type"
            )));
        }
        documents.push(DocumentMeta {
            title: title.to_owned(),
            media_type,
            sha256,
        });
    }
    let max_ttl = app.config.login_ttl.as_secs();
    let ttl = new.expires_in.unwrap_or(max_ttl);
    if !(MIN_EXPIRES_IN..=max_ttl).contains(&ttl) {
        return Ok(bad(&format!(
            "expires_in must be between {MIN_EXPIRES_IN} and {max_ttl} seconds"
        )));
    }
    let signer = match new.signer.map(binding).transpose() {
        Ok(s) => s,
        Err(why) => return Ok(bad(why)),
    };
    let title = new
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or(&site.name)
        .chars()
        .take(40)
        .collect::<String>();
    let now = app.clock.now();
    let r = SignatureRecord {
        id: random::token(16)?,
        client_id: client.client_id.clone(),
        site_id: site.id.clone(),
        redirect_uri: new.redirect_uri,
        state: new.state,
        title,
        documents,
        signer,
        locale: new.locale.filter(|l| l == "ko" || l == "en"),
        created_at: now,
        expires_at: now + ttl,
        status: Status::Pending,
        txn: None,
        failure: None,
        receipt: None,
    };
    if !record::create(app.store.as_ref(), &r, settings.retention).await? {
        return Err(crate::rescue::GatewayError::Internal(
            crate::rescue::Fault::Random,
            "signature id collision".into(),
        ));
    }
    crate::audit::signature_requested(app, &r);
    let mut url = format!("{}/sign/{}", app.config.public_url, r.id);
    if let Some(l) = &r.locale {
        url = format!("{url}?lang={l}");
    }
    tracing::info!(request = %r.id, client = %r.client_id, documents = r.documents.len(), "signature request created");
    Ok(respond::json(
        StatusCode::CREATED,
        &serde_json::json!({ "id": r.id, "url": url, "expires_at": r.expires_at }),
    ))
}

/// What the site reads: the status, and the receipt once there is one.
pub fn view(r: &SignatureRecord, now: u64) -> serde_json::Value {
    // Expired either way: nobody finished it in time, or the citizen
    // approved after the request's expiry (failed `expired`, no receipt).
    let (status, failure) = match r.status {
        Status::Pending if now >= r.expires_at => ("expired", Some("expired")),
        Status::Pending => ("pending", None),
        Status::Completed => ("completed", None),
        Status::Failed if r.failure.as_deref() == Some("expired") => ("expired", Some("expired")),
        Status::Failed => ("failed", r.failure.as_deref()),
    };
    let mut v = serde_json::Map::new();
    v.insert("id".into(), r.id.clone().into());
    v.insert("status".into(), status.into());
    v.insert("expires_at".into(), r.expires_at.into());
    if let Some(f) = failure {
        v.insert("failure".into(), f.into());
    }
    if let Some(receipt) = &r.receipt {
        v.insert("receipt".into(), receipt.clone().into());
    }
    serde_json::Value::Object(v)
}

async fn read(
    app: &App,
    client: &OidcClient,
    id: &str,
) -> Result<Response, crate::rescue::GatewayError> {
    match record::load(app.store.as_ref(), id).await? {
        Some((mut r, raw)) if r.client_id == client.client_id => {
            super::expire_if_due(app, &mut r, &raw).await?;
            Ok(respond::json(StatusCode::OK, &view(&r, app.clock.now())))
        }
        _ => Ok(error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such signature request",
        )),
    }
}
