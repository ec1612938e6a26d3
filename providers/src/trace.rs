//! W3C Trace Context (level 1): the trace one incoming request belongs to,
//! and the `traceparent` every outgoing call made while handling it carries.
//!
//! The gateway reads an incoming `traceparent` strictly ([`TraceContext::incoming`]):
//! version `00`, a 32-hex trace id and a 16-hex parent id, neither all zeros,
//! 2-hex flags, lower case, nothing more; anything else is ignored and a new
//! trace begins. It is continued only from a trusted proxy (the caller
//! decides, by the same `trusted_proxies` rule as `X-Forwarded-For`): from
//! anyone else a browser could pick the trace id our calls to providers carry
//! and pile its requests' spans onto someone else's trace, so a new trace
//! begins. The request's context lives in a task-local ([`scope`]), so
//! [`crate::http_client::HttpClient`] adds a child `traceparent` (same trace,
//! a new span id per call) to every provider and webhook call without
//! adapters passing anything down. A spawned task keeps it only if wrapped
//! with [`scope`] again ([`propagate`]).
//!
//! `tracestate` is opaque bytes chosen by whoever sent it: it goes only to
//! the proxy's upstreams (the site's own service, part of the same
//! deployment; [`TraceContext::inject_with_state`]), never to providers or
//! webhooks, which are third parties ([`TraceContext::inject`]).
//!
//! When an exporter is installed ([`install_sink`], OTLP in the gateway),
//! every request and outgoing call is handed to it as a [`FinishedSpan`];
//! without one nothing is recorded.
//!
//! Not here: sampling (every trace is recorded when exporting), baggage, or
//! any wire format of an exporter.

use http::{HeaderMap, HeaderValue};
use std::sync::OnceLock;
use std::time::SystemTime;

/// Most bytes of a `tracestate` passed on (the W3C limit for what a vendor
/// must propagate is 512).
pub const MAX_TRACESTATE: usize = 512;

/// One request's place in a trace: the trace id, this request's own span id,
/// the caller's span id (if a trusted `traceparent` came in), the sampled
/// flag and a `tracestate` to pass on to proxy upstreams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    /// The span of this request (the parent of every outgoing call).
    pub span_id: [u8; 8],
    /// The caller's span, from its `traceparent`; None for a trace begun here.
    pub parent_id: Option<[u8; 8]>,
    /// Only the `sampled` bit is kept (the other bits are unused in version 00).
    pub sampled: bool,
    pub tracestate: Option<HeaderValue>,
}

/// Bytes for ids, from the kernel's generator a block at a time: a request
/// takes two or three ids, and one `getrandom` call per id was a twentieth
/// of a proxied request's CPU. Ids are not secrets (the gateway's `random` module makes
/// those, one call each).
const ID_POOL: usize = 512;

thread_local! {
    static ID_BYTES: std::cell::RefCell<([u8; ID_POOL], usize)> =
        const { std::cell::RefCell::new(([0u8; ID_POOL], ID_POOL)) };
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    let pooled = N <= ID_POOL
        && ID_BYTES.with(|pool| {
            let mut pool = pool.borrow_mut();
            let (bytes, used) = &mut *pool;
            if *used + N > ID_POOL {
                if getrandom::fill(bytes).is_err() {
                    return false;
                }
                *used = 0;
            }
            match bytes.get(*used..*used + N) {
                Some(src) => {
                    b.copy_from_slice(src);
                    *used += N;
                    true
                }
                None => false,
            }
        });
    // If the kernel's generator failed, a time-based id still separates
    // requests (and an all-zero id is never produced).
    if !pooled {
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(1)
            .to_le_bytes();
        for (d, s) in b.iter_mut().zip(t.iter().cycle()) {
            *d = *s;
        }
    }
    if b.iter().all(|&x| x == 0) {
        if let Some(last) = b.last_mut() {
            *last = 1;
        }
    }
    b
}

/// A new span id (never all zeros).
pub fn new_span_id() -> [u8; 8] {
    random()
}

impl TraceContext {
    /// A new trace, begun here (sampled: when exporting, everything is).
    pub fn fresh() -> Self {
        Self {
            trace_id: random(),
            span_id: random(),
            parent_id: None,
            sampled: true,
            tracestate: None,
        }
    }

    /// The context of an incoming request. From a trusted proxy
    /// (`from_trusted_proxy`): its `traceparent` if exactly one is present
    /// and valid (with its `tracestate`, if valid-looking and at most
    /// [`MAX_TRACESTATE`] bytes). Otherwise, or from anyone else whatever
    /// they sent, a new trace. Our own span id is always new.
    pub fn incoming(headers: &HeaderMap, from_trusted_proxy: bool) -> Self {
        if !from_trusted_proxy {
            return Self::fresh();
        }
        let mut all = headers.get_all("traceparent").iter();
        let parsed = match (all.next(), all.next()) {
            (Some(v), None) => parse_traceparent(v.as_bytes()),
            _ => None,
        };
        let Some((trace_id, parent_id, flags)) = parsed else {
            return Self::fresh();
        };
        Self {
            trace_id,
            span_id: random(),
            parent_id: Some(parent_id),
            sampled: flags & 1 == 1,
            tracestate: tracestate(headers),
        }
    }

    pub fn trace_id_hex(&self) -> String {
        hex::encode(self.trace_id)
    }

    pub fn span_id_hex(&self) -> String {
        hex::encode(self.span_id)
    }

    /// The `traceparent` for an outgoing call whose span is `span`.
    pub fn traceparent_for(&self, span: [u8; 8]) -> HeaderValue {
        let v = format!(
            "00-{}-{}-{}",
            hex::encode(self.trace_id),
            hex::encode(span),
            if self.sampled { "01" } else { "00" }
        );
        // Hex digits and dashes only: always a valid header value.
        HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static(
            "00-00000000000000000000000000000000-0000000000000000-00",
        ))
    }

    /// Sets `traceparent` (a child span `span` of this request) on a call
    /// to a third party (a provider, a webhook), replacing any already
    /// there; removes any `tracestate`: its bytes are the sender's, not ours
    /// to pass to a third party.
    pub fn inject(&self, headers: &mut HeaderMap, span: [u8; 8]) {
        headers.insert("traceparent", self.traceparent_for(span));
        headers.remove("tracestate");
    }

    /// [`Self::inject`], plus the request's `tracestate` (if one came in with
    /// a trusted `traceparent`): for the proxy's upstreams only.
    pub fn inject_with_state(&self, headers: &mut HeaderMap, span: [u8; 8]) {
        self.inject(headers, span);
        if let Some(s) = &self.tracestate {
            headers.insert("tracestate", s.clone());
        }
    }
}

/// `00-<32 hex>-<16 hex>-<2 hex>`, lower case, ids not all zeros.
fn parse_traceparent(v: &[u8]) -> Option<([u8; 16], [u8; 8], u8)> {
    if v.len() != 55 {
        return None;
    }
    let field = |from: usize, to: usize| -> Option<&[u8]> {
        let f = v.get(from..to)?;
        f.iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            .then_some(f)
    };
    if v.get(2) != Some(&b'-') || v.get(35) != Some(&b'-') || v.get(52) != Some(&b'-') {
        return None;
    }
    if field(0, 2)? != b"00" {
        return None;
    }
    let mut trace = [0u8; 16];
    hex::decode_to_slice(field(3, 35)?, &mut trace).ok()?;
    let mut parent = [0u8; 8];
    hex::decode_to_slice(field(36, 52)?, &mut parent).ok()?;
    let mut flags = [0u8; 1];
    hex::decode_to_slice(field(53, 55)?, &mut flags).ok()?;
    if trace.iter().all(|&b| b == 0) || parent.iter().all(|&b| b == 0) {
        return None;
    }
    Some((trace, parent, flags[0]))
}

/// Every `tracestate` header joined with `,`, if the whole looks like a
/// W3C list (at most 32 `key=value` members of printable ASCII, keys in the
/// allowed alphabet) and fits in [`MAX_TRACESTATE`] bytes; else none.
fn tracestate(headers: &HeaderMap) -> Option<HeaderValue> {
    let mut joined = Vec::new();
    for v in headers.get_all("tracestate") {
        if !joined.is_empty() {
            joined.push(b',');
        }
        joined.extend_from_slice(v.as_bytes());
        if joined.len() > MAX_TRACESTATE {
            return None;
        }
    }
    let text = std::str::from_utf8(&joined).ok()?;
    let members: Vec<&str> = text
        .split(',')
        .map(|m| m.trim_matches([' ', '\t']))
        .filter(|m| !m.is_empty())
        .collect();
    if members.is_empty() || members.len() > 32 {
        return None;
    }
    let key_ok = |k: &str| {
        !k.is_empty()
            && k.len() <= 256
            && k.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-*/@".contains(&b))
    };
    let value_ok = |v: &str| {
        !v.is_empty()
            && v.len() <= 256
            && v.bytes()
                .all(|b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
            && !v.ends_with(' ')
    };
    for m in &members {
        let (k, v) = m.split_once('=')?;
        if !key_ok(k) || !value_ok(v) {
            return None;
        }
    }
    HeaderValue::from_str(&members.join(",")).ok()
}

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// Runs `fut` with `cx` as the current trace context.
pub async fn scope<F: std::future::Future>(cx: TraceContext, fut: F) -> F::Output {
    CURRENT.scope(cx, fut).await
}

/// The current task's trace context, if it runs inside [`scope`].
pub fn current() -> Option<TraceContext> {
    CURRENT.try_with(Clone::clone).ok()
}

/// `fut` with the current trace context (if any) and the current tracing
/// span: for `tokio::spawn`, which keeps neither by itself.
pub fn propagate<F>(fut: F) -> impl std::future::Future<Output = F::Output>
where
    F: std::future::Future,
{
    use tracing::Instrument as _;
    let cx = current();
    let fut = fut.in_current_span();
    async move {
        match cx {
            Some(cx) => scope(cx, fut).await,
            None => fut.await,
        }
    }
}

/// Server: a request the gateway answered. Client: a call it made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    Server,
    Client,
}

/// One span, ended, for an exporter. Attributes hold ids, methods, hosts and
/// status codes only: never personal data, tokens or query strings.
#[derive(Debug, Clone)]
pub struct FinishedSpan {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent_id: Option<[u8; 8]>,
    pub name: String,
    pub kind: SpanKind,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<(&'static str, AttrValue)>,
    /// The request or call failed (a 5xx answered, or no answer).
    pub error: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Int(i64),
}

/// Where finished spans go (an exporter's queue). `record` must not block.
pub trait SpanSink: Send + Sync {
    fn record(&self, span: FinishedSpan);
}

static SINK: OnceLock<Box<dyn SpanSink>> = OnceLock::new();

/// Installs the process's exporter; false if one already was.
pub fn install_sink(sink: Box<dyn SpanSink>) -> bool {
    SINK.set(sink).is_ok()
}

/// Whether spans are being exported (callers skip building them otherwise).
pub fn exporting() -> bool {
    SINK.get().is_some()
}

/// Hands `span` to the exporter, if one is installed.
pub fn record(span: FinishedSpan) {
    if let Some(s) = SINK.get() {
        s.record(span);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids drawn across several refills of the pool never repeat and are
    /// never all zeros, on this thread and on another.
    #[test]
    fn ids_from_the_pool_are_distinct_across_refills() {
        let draw = || {
            let mut seen = std::collections::HashSet::new();
            for _ in 0..(3 * ID_POOL / 8) {
                let span = new_span_id();
                assert_ne!(span, [0u8; 8]);
                assert!(seen.insert(span.to_vec()), "a span id repeated");
                let trace: [u8; 16] = random();
                assert!(seen.insert(trace.to_vec()), "a trace id repeated");
            }
            seen
        };
        let here = draw();
        let there = std::thread::spawn(draw).join().unwrap();
        assert!(here.is_disjoint(&there), "two threads drew the same ids");
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_continued_with_a_new_span() {
        let cx = TraceContext::incoming(&headers(&[("traceparent", GOOD)]), true);
        assert_eq!(cx.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(cx.parent_id.map(hex::encode).unwrap(), "00f067aa0ba902b7");
        assert_ne!(cx.span_id_hex(), "00f067aa0ba902b7");
        assert!(cx.sampled);
        let child = new_span_id();
        let out = cx.traceparent_for(child);
        assert_eq!(
            out.to_str().unwrap(),
            format!(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01",
                hex::encode(child)
            )
        );
        // Unused flag bits are not passed on.
        let cx = TraceContext::incoming(
            &headers(&[(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe",
            )]),
            true,
        );
        assert!(!cx.sampled);
        assert!(cx.traceparent_for(child).to_str().unwrap().ends_with("-00"));
    }

    #[test]
    fn anything_malformed_starts_a_new_trace() {
        for bad in [
            "",
            "garbage",
            // version other than 00, and the forbidden ff
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            // all-zero ids
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            // upper case, wrong lengths, wrong separators, trailing data
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
        ] {
            let cx = TraceContext::incoming(
                &headers(&[("traceparent", bad), ("tracestate", "a=b")]),
                true,
            );
            assert!(cx.parent_id.is_none(), "{bad:?} was accepted");
            assert_ne!(cx.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
            assert!(cx.tracestate.is_none(), "{bad:?}: tracestate kept");
        }
        // Two traceparent headers: which is meant cannot be told.
        let cx = TraceContext::incoming(
            &headers(&[("traceparent", GOOD), ("traceparent", GOOD)]),
            true,
        );
        assert!(cx.parent_id.is_none());
    }

    #[test]
    fn an_untrusted_peer_always_starts_a_new_trace() {
        let h = headers(&[("traceparent", GOOD), ("tracestate", "congo=t61rcWkgMzE")]);
        let cx = TraceContext::incoming(&h, false);
        assert!(cx.parent_id.is_none());
        assert_ne!(cx.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(cx.tracestate.is_none());
        // The same headers from a trusted proxy are continued.
        let cx = TraceContext::incoming(&h, true);
        assert_eq!(cx.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(cx.tracestate.is_some());
    }

    #[test]
    fn tracestate_goes_to_upstreams_only() {
        let h = headers(&[("traceparent", GOOD), ("tracestate", "congo=t61rcWkgMzE")]);
        let cx = TraceContext::incoming(&h, true);
        let span = new_span_id();
        // A third party: never the sender's tracestate, nor one already set.
        let mut out = headers(&[("tracestate", "stale=x")]);
        cx.inject(&mut out, span);
        assert_eq!(out.get("traceparent"), Some(&cx.traceparent_for(span)));
        assert!(out.get("tracestate").is_none(), "{out:?}");
        // An upstream: the same traceparent, and the tracestate.
        let mut out = headers(&[("tracestate", "stale=x")]);
        cx.inject_with_state(&mut out, span);
        assert_eq!(out.get("traceparent"), Some(&cx.traceparent_for(span)));
        let states: Vec<_> = out.get_all("tracestate").iter().collect();
        assert_eq!(states, ["congo=t61rcWkgMzE"]);
    }

    #[test]
    fn tracestate_passes_only_when_valid_looking_and_short() {
        let ts = |v: &[&str]| {
            let mut pairs = vec![("traceparent", GOOD)];
            pairs.extend(v.iter().map(|s| ("tracestate", *s)));
            TraceContext::incoming(&headers(&pairs), true)
                .tracestate
                .map(|h| h.to_str().unwrap().to_owned())
        };
        assert_eq!(
            ts(&["congo=t61rcWkgMzE"]).as_deref(),
            Some("congo=t61rcWkgMzE")
        );
        assert_eq!(
            ts(&["rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE"]).as_deref(),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
        assert_eq!(ts(&["vendor@tenant=x"]).as_deref(), Some("vendor@tenant=x"));
        assert_eq!(ts(&[]), None);
        assert_eq!(ts(&["no-equals"]), None);
        assert_eq!(ts(&["UPPER=x"]), None);
        assert_eq!(ts(&["a=b=c"]), None);
        let long = format!("a={}", "x".repeat(250));
        let three = [long.as_str(), long.as_str(), long.as_str()];
        assert_eq!(ts(&three), None, "over 512 bytes");
        let many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(ts(&[&many.join(",")]), None, "over 32 members");
    }

    #[tokio::test]
    async fn the_context_follows_the_task_and_spawns_that_ask_for_it() {
        assert!(current().is_none());
        let cx = TraceContext::fresh();
        let seen = scope(cx.clone(), async {
            let inner = current();
            let spawned = tokio::spawn(propagate(async { current() })).await.unwrap();
            let bare = tokio::spawn(async { current() }).await.unwrap();
            (inner, spawned, bare)
        })
        .await;
        assert_eq!(seen.0.as_ref(), Some(&cx));
        assert_eq!(seen.1.as_ref(), Some(&cx));
        assert_eq!(seen.2, None);
    }
}
