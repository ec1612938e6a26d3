//! Kept-alive HTTP/1.1 connections to one route's upstream.
//!
//! A route has exactly one upstream, so its pool is a stack of idle
//! connections, not hyper-util's general client (a pool keyed by scheme and
//! authority, an absolute URI rewritten per request, a task spawned to return
//! each connection): that machinery was a measurable share of a proxied
//! request in `./deploy/bench proxy`.
//!
//! - The most recently used connection goes out first: it is the least likely
//!   to have met the upstream's idle timeout.
//! - A connection goes back only once both its request body has been sent and
//!   its response body read to the end. A body dropped half-read (the citizen
//!   went away) closes it; so does an upload still going after an early
//!   answer, which would otherwise make the next citizen's request wait.
//! - A request an idle connection could not carry (hyper saw it closed before
//!   a byte was written) is sent again on a new connection; one that was
//!   written in part is not, as the upstream may have acted on it. An upstream
//!   closing at the very moment a request is written still costs that
//!   request a 502, as with any keep-alive client.

use super::forward::UpstreamError;
use super::route::{Route, Upstream};
use bytes::Bytes;
use http::{StatusCode, Uri};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::client::legacy::connect::HttpConnector;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// At most this many idle connections are kept per route.
const MAX_IDLE: usize = 256;
/// An idle connection older than this is closed rather than reused (nginx
/// keeps them 75 s; an upstream that closes sooner is seen closing, and its
/// connection skipped).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long an idle connection that is not ready yet is waited for.
const READY_WAIT: Duration = Duration::from_millis(50);

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
type SendRequest = hyper::client::conn::http1::SendRequest<TrackedBody>;

struct Idle {
    tx: SendRequest,
    since: Instant,
}

/// The connections of one route's upstream.
pub struct Pool {
    route: String,
    connector: Connector,
    /// `scheme://authority/`, what the connector dials (and names in TLS).
    dial: Uri,
    /// Oldest at the front, the next to go out at the back.
    idle: Mutex<VecDeque<Idle>>,
}

impl Pool {
    /// The pool for one route's upstream: rustls for https, with the route's
    /// CA or the system roots; the route's connect timeout.
    pub fn for_route(route: &Route, up: &Upstream) -> Result<Arc<Self>, String> {
        use rustls_pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        if up.https {
            match &up.ca_pem {
                Some(pem) => {
                    for c in rustls_pki_types::CertificateDer::pem_slice_iter(pem) {
                        let c = c.map_err(|e| format!("upstream_ca is not valid PEM: {e}"))?;
                        roots.add(c).map_err(|e| {
                            format!("upstream_ca holds an unusable certificate: {e}")
                        })?;
                    }
                    if roots.is_empty() {
                        return Err("upstream_ca holds no CERTIFICATE block".into());
                    }
                }
                None => {
                    let found = rustls_native_certs::load_native_certs();
                    for c in found.certs {
                        let _ = roots.add(c);
                    }
                    if roots.is_empty() {
                        return Err(
                            "no system CA certificates found for the https upstream; set upstream_ca"
                                .into(),
                        );
                    }
                }
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(route.connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let dial = Uri::builder()
            .scheme(if up.https { "https" } else { "http" })
            .authority(up.authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(Self {
            route: route.id.clone(),
            connector,
            dial,
            idle: Mutex::new(VecDeque::new()),
        }))
    }

    /// Sends `req` (origin-form URI, `Host` set) and returns the response
    /// with a body that gives the connection back when read to its end.
    pub async fn send(
        self: &Arc<Self>,
        req: http::Request<Incoming>,
    ) -> Result<http::Response<TrackedBody>, UpstreamError> {
        let sent = Arc::new(AtomicBool::new(false));
        let mut req = req.map(|body| TrackedBody::new(body, Some(Arc::clone(&sent)), None));
        loop {
            let (mut tx, reused) = match self.take().await {
                Some(tx) => (tx, true),
                None => (self.connect().await?, false),
            };
            match tx.try_send_request(req).await {
                Ok(resp) => {
                    // After a 101 the connection is the tunnel's, never the pool's.
                    let give_back =
                        (resp.status() != StatusCode::SWITCHING_PROTOCOLS).then(|| GiveBack {
                            tx,
                            pool: Arc::clone(self),
                            sent,
                        });
                    return Ok(resp.map(|body| TrackedBody::new(body, None, give_back)));
                }
                Err(mut e) => match e.take_message() {
                    // Never written: an idle connection closed under us.
                    Some(again) if reused => req = again,
                    _ => return Err(unreachable(&e.into_error())),
                },
            }
        }
    }

    /// The freshest idle connection that is still open and ready.
    async fn take(&self) -> Option<SendRequest> {
        loop {
            let Idle { mut tx, since } = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop_back()?;
            if tx.is_closed() || since.elapsed() > IDLE_TIMEOUT {
                continue;
            }
            if tx.is_ready() {
                return Some(tx);
            }
            // The connection may be a moment behind the body reader in taking
            // in the end of the previous response. One still busy after that
            // (a request body still being sent after an early answer) is
            // closed rather than waited for: another citizen's request must
            // not queue behind it.
            if let Ok(Ok(())) = tokio::time::timeout(READY_WAIT, tx.ready()).await {
                return Some(tx);
            }
        }
    }

    fn put(&self, tx: SendRequest) {
        if tx.is_closed() {
            return;
        }
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        // The oldest are reused last: close those past their time (or closed
        // by the upstream) here rather than keep their sockets.
        while idle
            .front()
            .is_some_and(|i| i.tx.is_closed() || now.duration_since(i.since) > IDLE_TIMEOUT)
        {
            idle.pop_front();
        }
        if idle.len() < MAX_IDLE {
            idle.push_back(Idle { tx, since: now });
        }
    }

    async fn connect(&self) -> Result<SendRequest, UpstreamError> {
        use tower_service::Service as _;
        let io = self
            .connector
            .clone()
            .call(self.dial.clone())
            .await
            .map_err(|e| UpstreamError::Unreachable(format!("connect: {e}")))?;
        let (tx, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(io)
            .await
            .map_err(|e| unreachable(&e))?;
        let route = self.route.clone();
        tokio::spawn(async move {
            // Upgrades (WebSocket) take the connection over after a 101.
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(route = %route, error = %e, "upstream connection ended");
            }
        });
        Ok(tx)
    }
}

fn unreachable(e: &hyper::Error) -> UpstreamError {
    let detail =
        std::error::Error::source(e).map_or_else(|| e.to_string(), |s| format!("{e}: {s}"));
    UpstreamError::Unreachable(detail)
}

/// A body passing through the proxy that notes when it has gone through to
/// its end: a client's request body on its way upstream (publishing that to
/// the response's body through `sent`), or an upstream's response body, which
/// then gives its connection back to the pool when dropped.
pub struct TrackedBody {
    inner: Incoming,
    ended: bool,
    /// Request body: told when it has all been handed to the connection.
    sent: Option<Arc<AtomicBool>>,
    /// Response body: the connection and when it may go back.
    give_back: Option<GiveBack>,
}

struct GiveBack {
    tx: SendRequest,
    pool: Arc<Pool>,
    /// The request body of the same exchange has all been sent.
    sent: Arc<AtomicBool>,
}

impl TrackedBody {
    fn new(inner: Incoming, sent: Option<Arc<AtomicBool>>, give_back: Option<GiveBack>) -> Self {
        let mut body = Self {
            ended: false,
            inner,
            sent,
            give_back,
        };
        if body.inner.is_end_stream() {
            body.end();
        }
        body
    }

    fn end(&mut self) {
        self.ended = true;
        if let Some(sent) = &self.sent {
            sent.store(true, Ordering::Release);
        }
    }
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        if let Some(g) = self.give_back.take() {
            if self.ended && g.sent.load(Ordering::Acquire) {
                g.pool.put(g.tx);
            }
        }
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.end();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
