//! What every request carries for operators: its id and its `request` span,
//! and, when spans are exported, the server span it becomes.
//!
//! Made in `server::handle` for every request, proxied ones included, before
//! anything else: the id is always the gateway's own (a client-sent
//! `X-Request-Id` is not believed) and goes back in the answer's
//! `X-Request-Id`; the span carries it, the trace id, the method, the
//! canonical path (the gateway's own endpoints only) and, once known, the
//! login's `txn`, so every line logged while handling the request has them.

use munjigi_providers::trace::{self, AttrValue, FinishedSpan, SpanKind, TraceContext};
use std::time::SystemTime;

/// The answer header holding the request id (also sent to a proxy upstream).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of one request: in its log lines, its span, and on the error page
/// a citizen can quote.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The request's path in its canonical form (decided once, before routing).
#[derive(Debug, Clone)]
pub struct CanonicalPath(pub String);

/// The `request` span: `request_id`, `trace_id`, `method`; `path` and `txn`
/// are recorded later (see [`record_txn`]).
pub fn request_span(request_id: &str, cx: &TraceContext, method: &http::Method) -> tracing::Span {
    tracing::info_span!(
        "request",
        request_id = %request_id,
        trace_id = %cx.trace_id_hex(),
        method = %method,
        path = tracing::field::Empty,
        txn = tracing::field::Empty,
    )
}

/// Puts the login's transaction id on the current request span: every line
/// logged after it, for this request, carries `txn`.
pub fn record_txn(txn: &str) {
    tracing::Span::current().record("txn", txn);
}

/// Hands the request, answered, to the span exporter (if one is installed).
/// Only the method, the status and the request id: no path or query (a
/// proxied site's paths are its own business).
pub fn record_server_span(
    cx: &TraceContext,
    request_id: &str,
    method: &http::Method,
    status: http::StatusCode,
    started: SystemTime,
) {
    if !trace::exporting() {
        return;
    }
    trace::record(FinishedSpan {
        trace_id: cx.trace_id,
        span_id: cx.span_id,
        parent_id: cx.parent_id,
        name: format!("{method}"),
        kind: SpanKind::Server,
        start: started,
        end: SystemTime::now(),
        attributes: vec![
            ("http.request.method", AttrValue::Str(method.to_string())),
            (
                "http.response.status_code",
                AttrValue::Int(i64::from(status.as_u16())),
            ),
            ("munjigi.request_id", AttrValue::Str(request_id.to_owned())),
        ],
        error: status.is_server_error(),
    });
}
