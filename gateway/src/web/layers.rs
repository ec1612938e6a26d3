//! The tower layers of the gateway's own endpoints that are not one-line
//! closures (those sit in `server.rs`'s stack directly).
//!
//! Proxied requests do not pass through them: the proxy's hot path has no
//! span and its own per-route timeouts (see `server::proxied`).

use std::task::{Context, Poll};
use tower::{Layer, Service};
use tracing::Instrument as _;

/// The id of one request: in its log lines, its span, and on the error page
/// a citizen can quote.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The request's path in its canonical form (decided once, before routing).
#[derive(Debug, Clone)]
pub struct CanonicalPath(pub String);

/// One `request` span per request, carrying its id, method and canonical
/// path, around everything below it (routing, handlers, the store, providers).
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceLayer;

impl<S> Layer<S> for TraceLayer {
    type Service = Traced<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Traced(inner)
    }
}

#[derive(Debug, Clone)]
pub struct Traced<S>(S);

impl<S, B> Service<http::Request<B>> for Traced<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = tracing::instrument::Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let id = req
            .extensions()
            .get::<RequestId>()
            .map_or("-", |r| r.0.as_str());
        let path = req
            .extensions()
            .get::<CanonicalPath>()
            .map_or("-", |p| p.0.as_str());
        let span = tracing::info_span!("request", req = %id, method = %req.method(), path = %path);
        self.0.call(req).instrument(span)
    }
}
