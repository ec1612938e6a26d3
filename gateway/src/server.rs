//! The HTTP front: the canonical path, the proxy's hot path, one tower stack
//! for the gateway's own endpoints, the route table, plain or TLS listeners.
//!
//! Every request first gets a request id (echoed as `X-Request-Id`) and its
//! trace context (an incoming W3C `traceparent` from a trusted proxy, or a
//! new trace), both in a `request` span around all its handling and the
//! trace in a task-local for outgoing calls ([`munjigi_providers::trace`]). Its path is then
//! canonicalised ([`crate::web::path`]); a proxied one goes straight to the
//! proxy (its own timeouts). The gateway's own endpoints pass through a
//! `ServiceBuilder` stack in [`handle`], each layer with its reason. Routing is a plain `match` on
//! method and path (no framework), so every endpoint is visible in one
//! screen. TLS (HTTP/1.1 and HTTP/2 by ALPN) is rustls with the ring provider.

use crate::app::App;
use crate::pages::{self, Lang};
use crate::reload::Live;
use crate::rescue::{self, Ctx, GatewayError, Ways};
use crate::web::layers::{self, CanonicalPath, RequestId};
use crate::web::path::{self as web_path, Canonical, PathRefusal};
use crate::web::{cookies, respond, Response};
use crate::web::{AnyBody, AnyResponse};
use crate::{login, oidc, proxy};
use http::{Method, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt as _};
use tracing::Instrument as _;

pub const LANG_COOKIE: &str = "mj_lang";

/// Every request's deadline, longer than the longest long-poll.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Most connections held open at once (each costs a task and buffers).
pub const MAX_CONNECTIONS: usize = 20_000;

/// How long a new plain-HTTP connection may stay silent before its first byte.
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(10);

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

/// A request for a proxy route: the hot path, so no span and no page
/// negotiation unless it fails (the route's own read timeout applies, not the
/// page deadline; a proxied site's `?lang=` is the site's business).
async fn proxied(
    app: &App,
    req: http::Request<Incoming>,
    origin: proxy::Origin,
    path: Canonical,
    request_id: &str,
) -> AnyResponse {
    let accept = req.headers().get(http::header::ACCEPT_LANGUAGE).cloned();
    let ctx_path = path.as_str().to_owned();
    let peer_ip = origin.peer.ip();
    match proxy::handle(app, req, origin, path).await {
        Ok(r) => r,
        Err(e) => {
            let ctx = Ctx {
                request_id: request_id.to_owned(),
                lang: Lang::negotiate(None, None, accept.as_ref().and_then(|v| v.to_str().ok())),
                path: ctx_path,
                txn: None,
                client: peer_ip,
                site: None,
                front: Some("proxy"),
                refusals: Some(app.runtime.metrics.refusals()),
            };
            rescue::respond(&e, &ctx, &Ways::default()).map(AnyBody::Left)
        }
    }
}

/// 400 for a path with no unambiguous canonical form, before anything else
/// looks at it. The log names the route when the host is a route's, and the
/// reason; never the path itself (it is the attacker's text).
fn unsafe_path(
    app: &App,
    req: &http::Request<Incoming>,
    origin: &proxy::Origin,
    reason: PathRefusal,
    request_id: &str,
) -> AnyResponse {
    let place = match origin.host.as_deref() {
        Some(h) => match proxy::route::find(&app.config.routes, Some(h), "/") {
            Some(r) if r.host.is_some() => format!("route `{}`", r.id),
            _ => format!("host `{h}`"),
        },
        None => "a request without host".to_owned(),
    };
    let (lang, _) = lang_of(req);
    let ctx = Ctx {
        request_id: request_id.to_owned(),
        lang,
        path: "/".to_owned(),
        txn: None,
        client: origin.peer.ip(),
        site: None,
        front: None,
        refusals: Some(app.runtime.metrics.refusals()),
    };
    rescue::respond(
        &GatewayError::UnsafePath { place, reason },
        &ctx,
        &Ways::default(),
    )
    .map(AnyBody::Left)
}

/// Paths the gateway itself answers on its own host; a host-less proxy route
/// gets every other path.
fn is_gateway_path(path: &str, demo: bool) -> bool {
    const EXACT: [&str; 14] = [
        "/health",
        "/healthz",
        "/readyz",
        "/.well-known/openid-configuration",
        "/jwks",
        "/authorize",
        "/token",
        "/userinfo",
        "/logout",
        "/favicon.ico",
        "/device_authorization",
        "/bc-authorize",
        "/device",
        "/device/qr",
    ];
    EXACT.contains(&path)
        || path == pages::CSS_PATH
        || path == pages::JS_PATH
        || path.starts_with(pages::LOGO_PREFIX)
        || path.starts_with("/login/")
        || path.starts_with("/proxy/")
        || path.starts_with("/sign/")
        || path.starts_with("/api/v1/")
        || path.starts_with("/saml/")
        || callback_prefix(path).is_some()
        || (demo && (path == "/" || path == "/demo" || path.starts_with("/demo/")))
}

/// The wallet family whose calls `path` is under (`/mip/…`, `/oid4vp/…`).
fn callback_prefix(path: &str) -> Option<&'static str> {
    let first = path.strip_prefix('/')?.split_once('/')?.0;
    munjigi_providers::callback::PREFIXES
        .into_iter()
        .find(|p| *p == first)
}

/// Handles one request; never fails (errors become pages or protocol errors).
///
/// Request id and trace come first, for every request (proxied ones too):
/// the id is always ours (a client's `X-Request-Id` is not believed) and is
/// echoed in the answer's `X-Request-Id`; the trace continues a valid
/// `traceparent` only when the peer is a trusted proxy (the rule that
/// believes its `X-Forwarded-For`), else begins anew: an anonymous client
/// must not choose the trace id our provider and webhook calls carry.
pub async fn handle(
    live: Arc<Live>,
    mut req: http::Request<Incoming>,
    peer: SocketAddr,
) -> AnyResponse {
    let request_id = crate::random::request_id();
    let from_proxy = live.app().config.trusted_proxies.contains(peer.ip());
    let trace = munjigi_providers::trace::TraceContext::incoming(req.headers(), from_proxy);
    let span = layers::request_span(&request_id, &trace, req.method());
    let started = std::time::SystemTime::now();
    let method = req.method().clone();
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let mut resp = munjigi_providers::trace::scope(
        trace.clone(),
        route_request(live, req, peer, &request_id).instrument(span),
    )
    .await;
    if let Ok(v) = http::HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert(layers::REQUEST_ID_HEADER, v);
    }
    layers::record_server_span(&trace, &request_id, &method, resp.status(), started);
    resp
}

async fn route_request(
    live: Arc<Live>,
    req: http::Request<Incoming>,
    peer: SocketAddr,
    request_id: &str,
) -> AnyResponse {
    let app = live.app();
    let origin = proxy::Origin::of(&app, &req, peer);
    // Canonicalised once; every decision below, and what an upstream
    // receives, is this form.
    let path = match web_path::canonical(req.uri().path()) {
        Ok(p) => p,
        Err(reason) => return unsafe_path(&app, &req, &origin, reason, request_id),
    };
    let gateway_path = is_gateway_path(path.as_str(), app.config.demo.is_some());
    if proxy::owns(&app, &origin, path.as_str(), gateway_path) {
        return proxied(&app, req, origin, path, request_id).await;
    }
    // The gateway's own endpoints never have empty segments.
    if path.has_empty_segments() {
        return unsafe_path(&app, &req, &origin, PathRefusal::EmptySegment, request_id);
    }
    if req.method() == Method::GET && path.as_str() == "/readyz" {
        return readiness(&live, &app).await.map(AnyBody::Left);
    }
    // The gateway's own paths are logged (a proxied site's are its business).
    tracing::Span::current().record("path", path.as_str());
    let mut req = req;
    req.extensions_mut()
        .insert(CanonicalPath(path.into_string()));
    let stack = ServiceBuilder::new()
        // Request id and trace: made in `handle` for every request, proxied
        // ones too, with the `request` span around all below (the id is in
        // every log line, the span and the error page a citizen quotes).
        // Timeout: the page deadline, for every endpoint of the gateway.
        .timeout(REQUEST_TIMEOUT)
        // Limits: the connection cap is at accept, body sizes where a body
        // is read, and the abuse limits in the handlers where the site and
        // the person are known (crate::limits). Later: metrics.
        .service(Endpoints { app, peer });
    // The only error below is the timeout's (`Endpoints` answers every
    // failure itself): a request that takes longer than any legitimate one
    // (the long poll is 20 s) is cut with a 503, so a stuck provider or store
    // cannot pin connections.
    let resp = stack
        .oneshot(req)
        .await
        .unwrap_or_else(|_| respond::text(StatusCode::SERVICE_UNAVAILABLE, "request timed out\n"));
    resp.map(AnyBody::Left)
}

/// The gateway's own endpoints as a tower service: the route table, with
/// every error turned into its response by [`rescue`].
#[derive(Clone)]
struct Endpoints {
    app: Arc<App>,
    peer: SocketAddr,
}

impl tower::Service<http::Request<Incoming>> for Endpoints {
    type Response = Response;
    type Error = Infallible;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Incoming>) -> Self::Future {
        let app = self.app.clone();
        let peer = self.peer;
        Box::pin(async move { Ok(endpoint(&app, req, peer).await) })
    }
}

async fn endpoint(app: &Arc<App>, req: http::Request<Incoming>, peer: SocketAddr) -> Response {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let path = req
        .extensions()
        .get::<CanonicalPath>()
        .map(|p| p.0.clone())
        .unwrap_or_default();
    let (lang, set_lang) = lang_of(&req);
    // Retrying repeats the same request on this origin, never elsewhere.
    let retry_target = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let mut ctx = Ctx {
        request_id,
        lang,
        path,
        txn: None,
        client: crate::limits::client_ip(&app.config.trusted_proxies, peer, req.headers()),
        site: None,
        front: None,
        refusals: Some(app.runtime.metrics.refusals()),
    };
    let method = req.method().clone();
    let resp = match route(app, req, &mut ctx).await {
        Ok(r) => r,
        Err(e) => {
            // A brief store outage: the same request will work again; say so.
            let ways = match (&e, &method) {
                (GatewayError::Store(_), &Method::GET) => Ways {
                    retry: Some(retry_target),
                    ..Ways::default()
                },
                _ => Ways::default(),
            };
            rescue::respond(&e, &ctx, &ways)
        }
    };
    match set_lang {
        Some(l) => respond::with_cookie(resp, &app.cookies.set(LANG_COOKIE, l, Some(365 * 86_400))),
        None => resp,
    }
}

async fn route(
    app: &Arc<App>,
    req: http::Request<Incoming>,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    let path = ctx.path.clone();
    let method = req.method().clone();
    match (method, path.as_str()) {
        // Liveness: the process answers.
        (Method::GET, "/health" | "/healthz") => Ok(respond::text(StatusCode::OK, "ok\n")),
        // Readiness (`/readyz`) is answered before routing: see `readiness`.
        (Method::GET, "/.well-known/openid-configuration") => {
            Ok(respond::json_bytes(StatusCode::OK, app.discovery.clone()))
        }
        (Method::GET, "/jwks") => Ok(respond::json_bytes(StatusCode::OK, app.keys.jwks())),
        (_, "/authorize") => oidc::authorize::handle(app, req, ctx).await,
        (_, "/token") => Ok(oidc::token::handle(app, req, &ctx.request_id).await),
        (Method::GET | Method::POST, "/userinfo") => Ok(oidc::userinfo::handle(app, req).await),
        (_, "/logout") => oidc::logout::handle(app, req, ctx).await,
        (_, "/device_authorization") => Ok(oidc::device::handle(app, req, ctx).await),
        (_, "/bc-authorize") => Ok(oidc::ciba::handle(app, req, ctx).await),
        (Method::GET | Method::POST, "/device") => oidc::device_page::handle(app, req, ctx).await,
        (Method::GET, "/device/qr") => oidc::device_page::qr(app, &req),
        (Method::GET, pages::CSS_PATH) => Ok(respond::asset("text/css; charset=utf-8", pages::CSS)),
        (Method::GET, pages::JS_PATH) => {
            Ok(respond::asset("text/javascript; charset=utf-8", pages::JS))
        }
        (Method::GET, p) if p.starts_with(pages::LOGO_PREFIX) => {
            let id = p.trim_start_matches(pages::LOGO_PREFIX);
            match app.config.provider(id).and_then(|p| p.logo.as_ref()) {
                Some(l) => Ok(respond::logo(l.content_type, l.bytes.clone())),
                None => Err(GatewayError::NotFound),
            }
        }
        (Method::GET, "/") if app.config.demo.is_some() => Ok(respond::redirect("/demo")),
        (_, p) if p == "/demo" || p.starts_with("/demo/") => {
            if app.config.demo.is_some() {
                crate::demo::site::route(app, req, ctx).await
            } else {
                Err(GatewayError::NotFound)
            }
        }
        (_, p) if p == "/api/v1/signatures" || p.starts_with("/api/v1/signatures/") => {
            let rest = p
                .trim_start_matches("/api/v1/signatures")
                .trim_start_matches('/')
                .to_owned();
            Ok(crate::signing::api::route(app, req, &rest).await)
        }
        (Method::GET, p) if p.starts_with("/sign/") => {
            let id = p.trim_start_matches("/sign/").to_owned();
            crate::signing::start(app, req, &id, ctx).await
        }
        (Method::GET, "/saml/metadata") => match app.saml_metadata.current(app) {
            Some(doc) => Ok(respond::asset_bytes("application/samlmetadata+xml", doc)),
            None => Err(GatewayError::keys("the SAML metadata could not be signed")),
        },
        (_, "/saml/sso") => crate::saml::sso::handle(app, req, ctx).await,
        (_, "/saml/init") => crate::saml::sso::init(app, req, ctx).await,
        (_, "/saml/slo") => crate::saml::slo::handle(app, req, ctx).await,
        (Method::GET, "/proxy/start") => proxy::entry::start(app, req, ctx).await,
        (Method::GET, "/proxy/logged-out") => proxy::entry::logged_out(app, req, ctx).await,
        (_, p) if p.starts_with("/login/") => {
            let rest = p.trim_start_matches("/login/").to_owned();
            login::route(app, req, &rest, ctx).await
        }
        (_, p) if callback_prefix(p).is_some() => crate::callbacks::handle(app, req, p)
            .await
            .unwrap_or(Err(GatewayError::NotFound)),
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

/// How long a stopping replica waits for in-flight requests (longer than a long poll).
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(25);

/// Take traffic only while not draining, not refusing every login for an
/// unwritable audit log, and the store answers.
async fn readiness(live: &Live, app: &App) -> Response {
    if live.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return respond::text(StatusCode::SERVICE_UNAVAILABLE, "draining\n");
    }
    // Every login here would be refused (MJ-A01): send them elsewhere until
    // a write succeeds (the checkpointer's housekeeping retries).
    if app.runtime.audit.is_down() && crate::audit::refuses_logins(app) {
        return respond::text(StatusCode::SERVICE_UNAVAILABLE, "audit log unwritable\n");
    }
    let probe = tokio::time::timeout(
        Duration::from_secs(2),
        app.store
            .get(crate::store::keys::Family::Readiness.prefix()),
    )
    .await;
    match probe {
        Ok(Ok(_)) => respond::text(StatusCode::OK, "ready\n"),
        _ => respond::text(StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n"),
    }
}

/// Accepts connections until `shutdown` resolves, then stops accepting, lets
/// in-flight requests finish (up to [`DRAIN_DEADLINE`]) and returns.
pub async fn serve(
    live: Arc<Live>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let app = live.app();
    let tls = match &app.config.tls {
        Some(t) => Some(tokio_rustls::TlsAcceptor::from(Arc::new(tls_config(
            &t.cert_chain,
            &t.key,
        )?))),
        None => None,
    };
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    crate::audit::checkpoint::spawn(live.clone());
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // A bounded number of connections: beyond it, new ones are closed at
        // once rather than starving the ones in progress.
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(
                code = "MJ-L06",
                max = MAX_CONNECTIONS,
                "connection refused: the gateway holds its maximum of open connections"
            );
            drop(stream);
            continue;
        };
        // Responses are written whole; never wait for an ACK to send the next.
        let _ = stream.set_nodelay(true);
        let live = live.clone();
        let tls = tls.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                None => {
                    // A client that connects and says nothing is let go (the
                    // header timeout only starts with the first byte).
                    if tokio::time::timeout(FIRST_BYTE_TIMEOUT, stream.readable())
                        .await
                        .is_err()
                    {
                        tracing::debug!(peer = %peer, "connection idle before its first byte; closed");
                        return;
                    }
                    serve_connection(live, TokioIo::new(stream), peer, watcher).await
                }
                Some(acceptor) => {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(s)) => serve_connection(live, TokioIo::new(s), peer, watcher).await,
                        Ok(Err(e)) => {
                            tracing::debug!(peer = %peer, error = %e, "TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    live.draining
        .store(true, std::sync::atomic::Ordering::Relaxed);
    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        "stopped accepting; draining"
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all requests finished"),
        () = tokio::time::sleep(DRAIN_DEADLINE) => tracing::warn!("drain deadline reached; closing"),
    }
    crate::audit::checkpoint::at_shutdown(&live).await;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        match term {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn serve_connection<I>(
    live: Arc<Live>,
    io: I,
    peer: SocketAddr,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| {
        let live = live.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(live, req, peer).await) }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // Slow-loris guard: the whole header block must arrive within this time.
        .header_read_timeout(Duration::from_secs(10))
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(128)
        // The same header budget as HTTP/1 (long SAML Redirect queries, cookies).
        .max_header_list_size(64 * 1024)
        // An idle HTTP/2 connection is probed and closed when it stops answering.
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10));
    // Upgrades (WebSocket) pass through proxy routes.
    let conn = builder.serve_connection_with_upgrades(io, svc);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
    }
}
