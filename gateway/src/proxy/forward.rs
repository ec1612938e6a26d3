//! Sending a request to a route's upstream and its answer back, streamed both
//! ways, WebSocket upgrades included.
//!
//! One connection pool per route ([`super::pool`]). Requests are rebuilt
//! rather than patched: the upstream path comes from config, never from the
//! client's authority, and headers pass through [`super::strip`] before the
//! gateway adds its own.

use super::identity::Identity;
use super::pool::Pool;
use super::route::{Route, Upstream};
use super::strip;
use crate::web::{AnyBody, AnyResponse};
use http::header::{HeaderValue, CONNECTION, HOST, UPGRADE};
use http::{StatusCode, Uri, Version};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Why a request did not reach the upstream or got no answer.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Unreachable(String),
}

/// What the gateway knows about the client side of this request.
pub struct Caller {
    pub peer: SocketAddr,
    /// The peer is a trusted proxy: its forwarding headers stand.
    pub trusted: bool,
    /// The configured host the citizen reached (the route's own, or the
    /// gateway's public host for a host-less route), and the scheme used.
    pub host: String,
    pub https: bool,
}

/// The origin-form target on the upstream: its base path, then the canonical
/// path that was authorised (less the route prefix when configured so), then
/// the query as received.
fn upstream_uri(
    route: &Route,
    up: &Upstream,
    path: &str,
    query: Option<&str>,
) -> Result<Uri, String> {
    let path = if route.strip_prefix {
        route.below_prefix(path)
    } else {
        path.into()
    };
    let pq = match query {
        Some(q) => format!("{}{path}?{q}", up.base_path),
        None => format!("{}{path}", up.base_path),
    };
    Uri::builder()
        .path_and_query(pq)
        .build()
        .map_err(|e| e.to_string())
}

/// The protocol a request asks to upgrade to, if it asks (`Connection: upgrade`).
fn is_upgrade(headers: &http::HeaderMap) -> Option<HeaderValue> {
    let asks = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if asks {
        headers.get(UPGRADE).cloned()
    } else {
        None
    }
}

fn is_websocket(v: &HeaderValue) -> bool {
    v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"websocket")
}

/// The upgrade a request asks for when it is not WebSocket (e.g. `h2c`, which
/// would turn the connection into a tunnel past the gateway's per-request
/// checks): such a request is refused, never forwarded.
pub fn refused_upgrade(headers: &http::HeaderMap) -> Option<String> {
    let asked = is_upgrade(headers)?;
    if headers.get_all(UPGRADE).iter().count() == 1 && is_websocket(&asked) {
        return None;
    }
    Some(
        String::from_utf8_lossy(asked.as_bytes())
            .chars()
            .take(32)
            .collect(),
    )
}

/// Forwards `req` to the route's upstream with `identity` added.
pub async fn forward(
    pool: &Arc<Pool>,
    route: &Route,
    up: &Upstream,
    mut req: http::Request<Incoming>,
    path: &str,
    from: &Caller,
    identity: Option<&Identity>,
) -> Result<AnyResponse, UpstreamError> {
    let uri =
        upstream_uri(route, up, path, req.uri().query()).map_err(UpstreamError::Unreachable)?;
    // Only WebSocket reaches here (see `refused_upgrade`).
    let upgrade = is_upgrade(req.headers()).filter(is_websocket);
    let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    let h = &mut parts.headers;
    strip::request(h, &route.protected, from.trusted);
    // Forwarding facts: appended to a trusted proxy's, else ours alone.
    let peer_ip = from.peer.ip().to_string();
    let xff = match h.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prev) if from.trusted => format!("{prev}, {peer_ip}"),
        _ => peer_ip,
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        h.insert("x-forwarded-for", v);
    }
    if !(from.trusted && h.contains_key("x-forwarded-proto")) {
        h.insert(
            "x-forwarded-proto",
            HeaderValue::from_static(if from.https { "https" } else { "http" }),
        );
    }
    // Always the configured host (the route's, or the gateway's public host
    // for a host-less route): never a `Host` the client chose.
    if let Ok(v) = HeaderValue::from_str(&from.host) {
        h.insert("x-forwarded-host", v);
    }
    let host = if route.preserve_host {
        HeaderValue::from_str(&from.host)
    } else {
        HeaderValue::from_str(up.authority.as_str())
    };
    if let Ok(v) = host {
        h.insert(HOST, v);
    }
    if let Some(u) = &upgrade {
        h.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(UPGRADE, u.clone());
    }
    if let Some(id) = identity {
        for (n, v) in &id.headers {
            h.insert(n.clone(), v.clone());
        }
    }
    // Our request id, never the client's; and the request's trace with a
    // new span for this call: a `traceparent` is re-parented, never
    // forwarded as sent; a `tracestate` passes (if valid) only when it came
    // from a trusted proxy with its traceparent. The upstream is the site's
    // own service, the one place a tracestate is passed to.
    let request_id = parts
        .extensions
        .get::<crate::web::layers::RequestId>()
        .and_then(|r| HeaderValue::from_str(&r.0).ok());
    match request_id {
        Some(v) => h.insert(crate::web::layers::REQUEST_ID_HEADER, v),
        None => h.remove(crate::web::layers::REQUEST_ID_HEADER),
    };
    let trace =
        munjigi_providers::trace::current().map(|cx| (cx, munjigi_providers::trace::new_span_id()));
    match &trace {
        Some((cx, span)) => cx.inject_with_state(h, *span),
        None => {
            h.remove("traceparent");
            h.remove("tracestate");
        }
    }
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    let method = parts.method.clone();
    let started = std::time::SystemTime::now();
    let out = http::Request::from_parts(parts, body);
    let sent = tokio::time::timeout(route.read_timeout, pool.send(out)).await;
    if let Some((cx, span)) = trace {
        upstream_span(&cx, span, &method, route, &sent, started);
    }
    let mut resp = match sent {
        Err(_) => return Err(UpstreamError::Timeout(route.read_timeout)),
        Ok(r) => r?,
    };
    let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
    if switching && !resp.headers().get(UPGRADE).is_some_and(is_websocket) {
        return Err(UpstreamError::Unreachable(
            "upstream switched to a protocol other than WebSocket".into(),
        ));
    }
    strip::response(resp.headers_mut(), switching && upgrade.is_some());
    if switching {
        let Some(client_upgrade) = client_upgrade else {
            return Err(UpstreamError::Unreachable(
                "upstream switched protocols unasked".into(),
            ));
        };
        let upstream_upgrade = hyper::upgrade::on(&mut resp);
        let route_id = route.id.clone();
        tokio::spawn(tracing::Instrument::in_current_span(async move {
            match tokio::try_join!(client_upgrade, upstream_upgrade) {
                Ok((c, u)) => {
                    let mut c = TokioIo::new(c);
                    let mut u = TokioIo::new(u);
                    if let Err(e) = tokio::io::copy_bidirectional(&mut c, &mut u).await {
                        tracing::debug!(route = %route_id, error = %e, "upgraded connection ended");
                    }
                }
                Err(e) => tracing::info!(route = %route_id, error = %e, "upgrade failed"),
            }
        }));
        let (parts, _) = resp.into_parts();
        return Ok(http::Response::from_parts(
            parts,
            AnyBody::Left(crate::web::Body::new(bytes::Bytes::new())),
        ));
    }
    Ok(resp.map(AnyBody::Right))
}

/// The call to the upstream, up to its answer's headers, as a client span
/// (when spans are exported): the route id, method and status only.
fn upstream_span<T>(
    cx: &munjigi_providers::trace::TraceContext,
    span: [u8; 8],
    method: &http::Method,
    route: &Route,
    sent: &Result<Result<http::Response<T>, UpstreamError>, tokio::time::error::Elapsed>,
    started: std::time::SystemTime,
) {
    use munjigi_providers::trace::{self, AttrValue, FinishedSpan, SpanKind};
    if !trace::exporting() {
        return;
    }
    let status = match sent {
        Ok(Ok(r)) => Some(r.status()),
        _ => None,
    };
    let mut attributes = vec![
        ("http.request.method", AttrValue::Str(method.to_string())),
        ("munjigi.route", AttrValue::Str(route.id.to_string())),
    ];
    if let Some(s) = status {
        attributes.push((
            "http.response.status_code",
            AttrValue::Int(i64::from(s.as_u16())),
        ));
    }
    trace::record(FinishedSpan {
        trace_id: cx.trace_id,
        span_id: span,
        parent_id: Some(cx.span_id),
        name: format!("{method} upstream"),
        kind: SpanKind::Client,
        start: started,
        end: std::time::SystemTime::now(),
        attributes,
        error: status.is_none_or(|s| s.is_server_error()),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::route::tests::route;

    #[test]
    fn upstream_uri_from_config_only() {
        let mut r = (*route("app", None, "/app/")).clone();
        let up = Upstream {
            https: false,
            authority: "127.0.0.1:9000".parse().unwrap(),
            base_path: "/base".into(),
            ca_pem: None,
        };
        assert_eq!(
            upstream_uri(&r, &up, "/app/x", Some("y=1")).unwrap(),
            "/base/app/x?y=1"
        );
        r.strip_prefix = true;
        assert_eq!(
            upstream_uri(&r, &up, "/app/x", Some("y=1")).unwrap(),
            "/base/x?y=1"
        );
        assert_eq!(upstream_uri(&r, &up, "/app", None).unwrap(), "/base/");
    }

    #[test]
    fn only_websocket_upgrades_pass() {
        let h = |conn: &str, up: &[&str]| {
            let mut m = http::HeaderMap::new();
            m.insert(CONNECTION, HeaderValue::from_str(conn).unwrap());
            for u in up {
                m.append(UPGRADE, HeaderValue::from_str(u).unwrap());
            }
            m
        };
        assert_eq!(refused_upgrade(&h("Upgrade", &["websocket"])), None);
        assert_eq!(
            refused_upgrade(&h("keep-alive, upgrade", &["WebSocket"])),
            None
        );
        assert_eq!(
            refused_upgrade(&h("close", &["h2c"])),
            None,
            "no Connection: upgrade, nothing asked"
        );
        assert_eq!(
            refused_upgrade(&h("Upgrade, HTTP2-Settings", &["h2c"])),
            Some("h2c".into())
        );
        assert!(refused_upgrade(&h("upgrade", &["websocket, h2c"])).is_some());
        assert!(refused_upgrade(&h("upgrade", &["websocket", "h2c"])).is_some());
        assert!(refused_upgrade(&h("upgrade", &["TLS/1.2"])).is_some());
    }
}
