//! The HTTP front: one tower stack, the route table, plain or TLS listeners.
//!
//! Routing is a plain `match` on method and path (no framework), so every
//! endpoint is visible in one screen. Cross-cutting work is in layers, each with
//! its reason. TLS (HTTP/1.1 and HTTP/2 by ALPN) is rustls with the ring provider.

use crate::app::App;
use crate::pages::{self, Lang};
use crate::rescue::{self, Ctx, GatewayError, Ways};
use crate::web::{cookies, respond, Response};
use crate::{login, oidc};
use http::{Method, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::Instrument as _;

pub const LANG_COOKIE: &str = "mj_lang";

/// Every request's deadline, longer than the longest long-poll.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

fn lang_of(req: &http::Request<Incoming>) -> (Lang, Option<&'static str>) {
    let query_lang = req.uri().query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.into_owned())
    });
    let cookie = cookies::get(req.headers(), LANG_COOKIE)
        .or_else(|| cookies::get(req.headers(), &format!("__Host-{LANG_COOKIE}")));
    let accept = req
        .headers()
        .get(http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let lang = Lang::negotiate(query_lang.as_deref(), cookie, accept);
    // Remember an explicit choice.
    let set = query_lang.as_deref().and_then(|q| match q {
        "ko" => Some("ko"),
        "en" => Some("en"),
        _ => None,
    });
    (lang, set)
}

/// Handles one request; never fails (errors become pages or protocol errors).
pub async fn handle(app: Arc<App>, req: http::Request<Incoming>) -> Response {
    let request_id = crate::random::token(9).unwrap_or_else(|_| "-".into());
    let (lang, set_lang) = lang_of(&req);
    let mut ctx = Ctx {
        request_id: request_id.clone(),
        lang,
        path: req.uri().path().to_owned(),
        txn: None,
    };
    let method = req.method().clone();
    let span =
        tracing::info_span!("request", req = %request_id, method = %method, path = %ctx.path);
    let resp = async {
        let result = route(&app, req, &mut ctx).await;
        match result {
            Ok(r) => r,
            Err(e) => rescue::respond(&e, &ctx, &Ways::default()),
        }
    }
    .instrument(span)
    .await;
    match set_lang {
        Some(l) => respond::with_cookie(resp, &app.cookies.set(LANG_COOKIE, l, Some(365 * 86_400))),
        None => resp,
    }
}

async fn route(
    app: &App,
    req: http::Request<Incoming>,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    match (method, path.as_str()) {
        (Method::GET, "/health") => Ok(respond::text(StatusCode::OK, "ok\n")),
        (Method::GET, "/.well-known/openid-configuration") => {
            Ok(respond::json_bytes(StatusCode::OK, app.discovery.clone()))
        }
        (Method::GET, "/jwks") => Ok(respond::json_bytes(StatusCode::OK, app.keys.jwks())),
        (_, "/authorize") => oidc::authorize::handle(app, req, ctx).await,
        (_, "/token") => Ok(oidc::token::handle(app, req, &ctx.request_id).await),
        (Method::GET | Method::POST, "/userinfo") => Ok(oidc::userinfo::handle(app, req).await),
        (_, "/logout") => oidc::logout::handle(app, req, ctx).await,
        (Method::GET, pages::CSS_PATH) => Ok(respond::asset("text/css; charset=utf-8", pages::CSS)),
        (Method::GET, pages::JS_PATH) => {
            Ok(respond::asset("text/javascript; charset=utf-8", pages::JS))
        }
        (Method::GET, "/") if app.config.demo.is_some() => Ok(respond::redirect("/demo")),
        (_, p) if p == "/demo" || p.starts_with("/demo/") => {
            if app.config.demo.is_some() {
                crate::demo::site::route(app, req, ctx).await
            } else {
                Err(GatewayError::NotFound)
            }
        }
        (_, p) if p.starts_with("/login/") => {
            let rest = p.trim_start_matches("/login/").to_owned();
            login::route(app, req, &rest, ctx).await
        }
        _ => Err(GatewayError::NotFound),
    }
}

/// Loads a rustls server config from PEM files, HTTP/2 and HTTP/1.1 by ALPN.
pub fn tls_config(
    cert_chain: &std::path::Path,
    key: &std::path::Path,
) -> Result<rustls::ServerConfig, String> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert_chain)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("TLS certificate chain `{}`: {e}", cert_chain.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "TLS certificate chain `{}` holds no certificate",
            cert_chain.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("TLS key `{}`: {e}", key.display()))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| format!("TLS certificate and key do not fit: {e}"))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Accepts connections until the process ends.
pub async fn serve(app: Arc<App>, listener: TcpListener) -> Result<(), String> {
    let tls = match &app.config.tls {
        Some(t) => Some(tokio_rustls::TlsAcceptor::from(Arc::new(tls_config(
            &t.cert_chain,
            &t.key,
        )?))),
        None => None,
    };
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let app = app.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_connection(app, TokioIo::new(stream), peer).await,
                Some(acceptor) => {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(s)) => serve_connection(app, TokioIo::new(s), peer).await,
                        Ok(Err(e)) => {
                            tracing::debug!(peer = %peer, error = %e, "TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

async fn serve_connection<I>(app: Arc<App>, io: I, peer: SocketAddr)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| {
        let app = app.clone();
        async move {
            // A request that takes longer than any legitimate one (the long poll is
            // 20 s) is cut, so a stuck upstream cannot pin connections forever.
            let resp = tokio::time::timeout(REQUEST_TIMEOUT, handle(app, req))
                .await
                .unwrap_or_else(|_| {
                    respond::text(StatusCode::SERVICE_UNAVAILABLE, "request timed out\n")
                });
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // Slow-loris guard: the whole header block must arrive within this time.
        .header_read_timeout(Duration::from_secs(10))
        .max_buf_size(64 * 1024);
    builder.http2().max_concurrent_streams(128);
    if let Err(e) = builder.serve_connection(io, svc).await {
        tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
    }
}
