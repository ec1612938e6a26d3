//! An in-process upstream application for the reverse-proxy tests: a real HTTP/1.1
//! server (hyper) on a loopback port, spawned on the test's tokio runtime, that
//! shows what reached it.
//!
//! | path | answer |
//! | --- | --- |
//! | `…/download?bytes=N` | `N` bytes of [`pattern`], streamed in chunks, no Content-Length (chunked) |
//! | `POST …/upload` | reads the streamed body: `{"bytes": n, "sha256": hex}` |
//! | `…/ws` | a WebSocket echo (text and binary frames come back as they went) |
//! | `…/slow?ms=N` | waits `N` ms before the response headers, then echoes |
//! | `…/set-cookie?name=value` | echoes, with `Set-Cookie: name=value; Path=/` |
//! | `…/status?code=N` | status `N` (e.g. 204, 304) with no body; with `&drain=later` answered first (after `&ms=N`), the request body read afterwards (keep-alive kept) |
//! | `…/hangup` | echoes, then closes the connection without announcing it (as an upstream's idle timeout would) |
//! | anything else (`…/echo`) | `{"method", "path", "query", "headers": {name: [values…]}}` |
//!
//! Every request's method, path, headers and connection are also kept
//! ([`Upstream::requests`]).

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

/// What one request looked like when it reached the upstream.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: http::HeaderMap,
    /// Which TCP connection it came on: 1 for the first accepted, and so on.
    pub conn: u64,
}

/// The running upstream; the server task stops when this drops.
pub struct Upstream {
    pub port: u16,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests received so far whose path starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<Seen> {
        self.requests()
            .into_iter()
            .filter(|s| s.path.starts_with(prefix))
            .collect()
    }

    /// Forgets the requests received so far.
    pub fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The byte at offset `i` of every download (deterministic, not periodic in
/// any power of two, so a dropped or repeated chunk changes the hash).
pub fn pattern(i: u64) -> u8 {
    ((i.wrapping_mul(31).wrapping_add(i / 251)) % 251) as u8
}

/// The SHA-256 (hex) of the first `n` bytes of [`pattern`].
pub fn pattern_sha256(n: u64) -> String {
    let mut h = openssl::sha::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = 0u64;
    while at < n {
        let len = (n - at).min(buf.len() as u64) as usize;
        for (k, b) in buf[..len].iter_mut().enumerate() {
            *b = pattern(at + k as u64);
        }
        h.update(&buf[..len]);
        at += len as u64;
    }
    hex_lower(&h.finish())
}

pub fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

type Body = BoxBody<Bytes, Infallible>;

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

fn query_param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `{"method", "path", "query", "headers": {name: [values…]}}` of a request.
pub fn echo_json(s: &Seen) -> serde_json::Value {
    let mut headers = serde_json::Map::new();
    for name in s.headers.keys() {
        let values: Vec<serde_json::Value> = s
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned().into())
            .collect();
        headers.insert(name.as_str().to_owned(), values.into());
    }
    serde_json::json!({
        "method": s.method,
        "path": s.path,
        "query": s.query,
        "headers": headers,
    })
}

fn json_response(status: u16, v: &serde_json::Value) -> http::Response<Body> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(full(v.to_string()))
        .unwrap()
}

/// Starts the upstream on a free loopback port (needs a tokio runtime).
pub async fn start_upstream() -> Upstream {
    start(None).await
}

/// The same upstream over HTTPS, with the certificate chain and key (PEM files,
/// e.g. from [`crate::tls_files`]); its `url` is `https://127.0.0.1:PORT`.
pub async fn start_upstream_tls(chain: &std::path::Path, key: &std::path::Path) -> Upstream {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(chain)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    start(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await
}

/// Serves a connection; once a `…/hangup` response is out, shuts it down
/// gracefully (an idle HTTP/1.1 connection just closes, no `Connection: close`).
/// A macro: hyper's upgradeable HTTP/1 connection has the method, not a trait.
macro_rules! serve_until_hangup {
    ($conn:expr, $hangup:expr) => {{
        let mut conn = std::pin::pin!($conn);
        tokio::select! {
            _ = conn.as_mut() => return,
            () = $hangup.notified() => {}
        }
        // Closing now would announce it on the response still being written.
        tokio::select! {
            _ = conn.as_mut() => return,
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        conn.as_mut().graceful_shutdown();
        let _ = conn.await;
    }};
}

async fn start(tls: Option<tokio_rustls::TlsAcceptor>) -> Upstream {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let seen2 = seen.clone();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let task = tokio::spawn(async move {
        let mut conns = 0u64;
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            conns += 1;
            let conn = conns;
            let seen = seen2.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                // `…/hangup` asks for the connection to end once answered.
                let hangup = Arc::new(tokio::sync::Notify::new());
                let asked = hangup.clone();
                let svc = hyper::service::service_fn(move |req| {
                    let seen = seen.clone();
                    let asked = asked.clone();
                    async move { Ok::<_, Infallible>(handle(req, seen, conn, &asked).await) }
                });
                let http = hyper::server::conn::http1::Builder::new();
                match tls {
                    None => {
                        let c = http
                            .serve_connection(TokioIo::new(tcp), svc)
                            .with_upgrades();
                        serve_until_hangup!(c, hangup);
                    }
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let c = http
                            .serve_connection(TokioIo::new(stream), svc)
                            .with_upgrades();
                        serve_until_hangup!(c, hangup);
                    }
                }
            });
        }
    });
    Upstream {
        port,
        url: format!("{scheme}://127.0.0.1:{port}"),
        seen,
        task,
    }
}

async fn handle(
    mut req: http::Request<Incoming>,
    log: Arc<Mutex<Vec<Seen>>>,
    conn: u64,
    hangup: &tokio::sync::Notify,
) -> http::Response<Body> {
    let s = Seen {
        method: req.method().as_str().to_owned(),
        path: req.uri().path().to_owned(),
        query: req.uri().query().unwrap_or("").to_owned(),
        headers: req.headers().clone(),
        conn,
    };
    log.lock().unwrap().push(s.clone());
    let path = s.path.clone();
    if path.ends_with("/ws") {
        return websocket(&mut req);
    }
    if path.ends_with("/download") {
        let n: u64 = query_param(&s.query, "bytes")
            .and_then(|b| b.parse().ok())
            .unwrap_or(0);
        return download(n);
    }
    if path.ends_with("/upload") && s.method == "POST" {
        let mut h = openssl::sha::Sha256::new();
        let mut n = 0u64;
        let mut body = req.into_body();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return json_response(400, &serde_json::json!({"error": "body read failed"}));
            };
            if let Some(d) = frame.data_ref() {
                h.update(d);
                n += d.len() as u64;
            }
        }
        return json_response(
            200,
            &serde_json::json!({"bytes": n, "sha256": hex_lower(&h.finish())}),
        );
    }
    if path.ends_with("/status") {
        let code: u16 = query_param(&s.query, "code")
            .and_then(|c| c.parse().ok())
            .unwrap_or(204);
        let body = req.into_body();
        if query_param(&s.query, "drain").as_deref() == Some("later") {
            tokio::spawn(body.collect());
            let ms: u64 = query_param(&s.query, "ms")
                .and_then(|b| b.parse().ok())
                .unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        } else {
            let _ = body.collect().await;
        }
        return http::Response::builder()
            .status(code)
            .body(full(Bytes::new()))
            .unwrap();
    }
    if path.ends_with("/hangup") {
        // Stored: the connection task may not be waiting yet.
        hangup.notify_one();
    }
    if path.ends_with("/slow") {
        let ms: u64 = query_param(&s.query, "ms")
            .and_then(|b| b.parse().ok())
            .unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    // Drain any body so keep-alive works, then echo.
    let _ = req.into_body().collect().await;
    let mut resp = json_response(200, &echo_json(&s));
    if path.ends_with("/set-cookie") {
        for (k, v) in form_urlencoded::parse(s.query.as_bytes()) {
            resp.headers_mut().append(
                "set-cookie",
                http::HeaderValue::from_str(&format!("{k}={v}; Path=/")).unwrap(),
            );
        }
    }
    resp
}

fn download(n: u64) -> http::Response<Body> {
    const CHUNK: u64 = 64 * 1024;
    let stream = futures_util::stream::unfold(0u64, move |at| async move {
        if at >= n {
            return None;
        }
        let len = (n - at).min(CHUNK);
        let chunk: Vec<u8> = (at..at + len).map(pattern).collect();
        Some((
            Ok::<_, Infallible>(Frame::data(Bytes::from(chunk))),
            at + len,
        ))
    });
    http::Response::builder()
        .status(200)
        .header("content-type", "application/octet-stream")
        .body(http_body_util::BodyExt::boxed(StreamBody::new(stream)))
        .unwrap()
}

fn websocket(req: &mut http::Request<Incoming>) -> http::Response<Body> {
    let key = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec());
    let upgrade_ok = req
        .headers()
        .get("upgrade")
        .is_some_and(|u| u.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let Some(key) = key.filter(|_| upgrade_ok) else {
        return json_response(
            400,
            &serde_json::json!({"error": "not a websocket upgrade"}),
        );
    };
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_close() {
                break;
            }
            let echo = msg.is_text() || msg.is_binary();
            if echo && ws.send(msg).await.is_err() {
                break;
            }
        }
        let _ = ws.close(None).await;
    });
    http::Response::builder()
        .status(101)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", derive_accept_key(&key))
        .body(full(Bytes::new()))
        .unwrap()
}

/// A WebSocket client connected to `ws://{authority}{path}` over plain TCP, sending
/// `extra` headers (a Cookie) with the handshake. Returns the stream and the
/// handshake response (status and headers).
pub async fn ws_connect(
    authority: &str,
    path: &str,
    extra: &[(&str, &str)],
) -> Result<
    (
        WebSocketStream<tokio::net::TcpStream>,
        http::Response<Option<Vec<u8>>>,
    ),
    tokio_tungstenite::tungstenite::Error,
> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut req = format!("ws://{authority}{path}").into_client_request()?;
    for (k, v) in extra {
        req.headers_mut().append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    let tcp = tokio::net::TcpStream::connect(authority).await.unwrap();
    tokio_tungstenite::client_async(req, tcp).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::Message;

    #[test]
    fn the_pattern_hash_matches_a_direct_computation() {
        let n = 200_000u64;
        let bytes: Vec<u8> = (0..n).map(pattern).collect();
        assert_eq!(pattern_sha256(n), hex_lower(&openssl::sha::sha256(&bytes)));
        assert_ne!(pattern(0), pattern(251), "not periodic in 251");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_upstream_echoes_streams_hashes_and_speaks_websocket() {
        let up = start_upstream().await;
        let authority = format!("127.0.0.1:{}", up.port);
        let a = authority.clone();
        let echo = tokio::task::spawn_blocking(move || {
            crate::wire::raw_request(
                &a,
                &[
                    "GET /app/echo?x=1 HTTP/1.1",
                    &format!("Host: {a}"),
                    "X-Two: a",
                    "X-Two: b",
                    "Connection: close",
                ],
                b"",
            )
        })
        .await
        .unwrap();
        let j = echo.json();
        assert_eq!(j["method"], "GET");
        assert_eq!(j["path"], "/app/echo");
        assert_eq!(j["query"], "x=1");
        assert_eq!(j["headers"]["x-two"], serde_json::json!(["a", "b"]));
        assert_eq!(up.requests_to("/app/").len(), 1);

        let a = authority.clone();
        let n = 1_000_003u64;
        let dl = tokio::task::spawn_blocking(move || {
            crate::wire::raw_request(
                &a,
                &[
                    &format!("GET /x/download?bytes={n} HTTP/1.1"),
                    &format!("Host: {a}"),
                    "Connection: close",
                ],
                b"",
            )
        })
        .await
        .unwrap();
        assert_eq!(dl.header("transfer-encoding"), Some("chunked"));
        assert!(dl.header("content-length").is_none());
        assert_eq!(dl.body.len() as u64, n);
        assert_eq!(
            hex_lower(&openssl::sha::sha256(&dl.body)),
            pattern_sha256(n)
        );

        let a = authority.clone();
        let body: Vec<u8> = (0..300_000u64).map(|i| (i % 7) as u8).collect();
        let want = hex_lower(&openssl::sha::sha256(&body));
        let up_r = tokio::task::spawn_blocking(move || {
            crate::wire::raw_request(
                &a,
                &[
                    "POST /upload HTTP/1.1",
                    &format!("Host: {a}"),
                    &format!("Content-Length: {}", body.len()),
                    "Connection: close",
                ],
                &body,
            )
        })
        .await
        .unwrap();
        assert_eq!(up_r.json()["bytes"], 300_000);
        assert_eq!(up_r.json()["sha256"], want.as_str());

        let (mut ws, resp) = ws_connect(&authority, "/app/ws", &[("cookie", "a=b")])
            .await
            .unwrap();
        assert_eq!(resp.status(), 101);
        ws.send(Message::text("안녕")).await.unwrap();
        let m = ws.next().await.unwrap().unwrap();
        assert_eq!(m, Message::text("안녕"));
        ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::binary(vec![1u8, 2, 3])
        );
        let seen = up.requests_to("/app/ws");
        assert_eq!(seen[0].headers["cookie"], "a=b");
    }
}
