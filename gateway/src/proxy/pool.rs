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

pub type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
type SendRequest = hyper::client::conn::http1::SendRequest<SentBody>;

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
    pub fn new(route: &str, connector: Connector, dial: Uri) -> Arc<Self> {
        Arc::new(Self {
            route: route.to_owned(),
            connector,
            dial,
            idle: Mutex::new(VecDeque::new()),
        })
    }

    /// Sends `req` (origin-form URI, `Host` set) and returns the response
    /// with a body that gives the connection back when read to its end.
    pub async fn send(
        self: &Arc<Self>,
        req: http::Request<Incoming>,
    ) -> Result<http::Response<PooledBody>, UpstreamError> {
        let sent = Arc::new(AtomicBool::new(false));
        let mut req = req.map(|body| SentBody::new(body, Arc::clone(&sent)));
        loop {
            let (mut tx, reused) = match self.take().await {
                Some(tx) => (tx, true),
                None => (self.connect().await?, false),
            };
            match tx.try_send_request(req).await {
                Ok(resp) => {
                    // After a 101 the connection is the tunnel's, never the pool's.
                    let tx = (resp.status() != StatusCode::SWITCHING_PROTOCOLS).then_some(tx);
                    let pool = Arc::clone(self);
                    return Ok(resp.map(|body| PooledBody::new(body, tx, sent, pool)));
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

/// A client's request body on its way upstream; says when it has all gone.
pub struct SentBody {
    inner: Incoming,
    sent: Arc<AtomicBool>,
}

impl SentBody {
    fn new(inner: Incoming, sent: Arc<AtomicBool>) -> Self {
        if inner.is_end_stream() {
            sent.store(true, Ordering::Release);
        }
        Self { inner, sent }
    }
}

impl Body for SentBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.sent.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An upstream response body that returns its connection to the pool once it
/// has been read to the end and the request body has all been sent.
pub struct PooledBody {
    inner: Incoming,
    tx: Option<SendRequest>,
    sent: Arc<AtomicBool>,
    pool: Arc<Pool>,
    done: bool,
}

impl PooledBody {
    fn new(
        inner: Incoming,
        tx: Option<SendRequest>,
        sent: Arc<AtomicBool>,
        pool: Arc<Pool>,
    ) -> Self {
        let done = inner.is_end_stream();
        Self {
            inner,
            tx,
            sent,
            pool,
            done,
        }
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let read = self.done || self.inner.is_end_stream();
            if read && self.sent.load(Ordering::Acquire) {
                self.pool.put(tx);
            }
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.done = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
