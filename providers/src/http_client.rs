//! The one outbound HTTP client every provider adapter uses.
//!
//! Providers are reached over HTTPS whose roots come only from a PEM bundle the
//! operator configured (no platform or bundled roots: each provider's TLS chain is
//! a deliberate trust decision). Plain `http://` is refused unless the client was
//! built with [`HttpClient::allow_plain_http`], which is meant for simulators on
//! loopback. Every request has a deadline covering connect, headers and body, and
//! a response body larger than the configured cap is refused while it is being
//! read, so a misbehaving provider cannot make the gateway buffer without bound.
//!
//! Not here: retries, provider auth schemes, or any knowledge of what is being
//! sent. Adapters own that. Errors become [`ProviderError::Transport`] (network,
//! timeout, size) or [`ProviderError::Config`] (bad URL, bad CA bundle); JSON
//! that does not parse is a [`ProviderError::Protocol`], and so is a response
//! with any Content-Encoding other than `identity` (we never ask for one, and
//! the body is never decoded: compressed bytes would pass the size cap and then
//! fail as JSON further along).
//!
//! Inside a request's trace ([`crate::trace::scope`]) every call carries a
//! `traceparent` (the same trace, a new span id per call) and is handed to
//! the span exporter when one is installed. Never a `tracestate`: every call
//! made here goes to a third party (a provider, a site's webhook), and an
//! incoming `tracestate` is bytes its sender chose.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde::de::DeserializeOwned;

use crate::error::ProviderError;

/// Validates a provider endpoint once, at start, by the config's one URL rule
/// ([`crate::url_rule`]: https, or plain http only to loopback unless
/// `allow_plain` (the demo, simulators, tests); no userinfo, a canonical host,
/// no fragment), and no query. With `allow_path` false the URL must be scheme
/// and host only (APIs that sign absolute paths). Returns the base as the
/// parser decided it (the form every request is built from), without a
/// trailing `/`, and whether it is plain http. `what` names the setting in the
/// error.
pub fn endpoint(
    raw: &str,
    what: &str,
    allow_plain: bool,
    allow_path: bool,
) -> Result<(String, bool), ProviderError> {
    let bad = |m: &str| ProviderError::Config(format!("{what} {m}"));
    let plain = if allow_plain {
        crate::url_rule::PlainHttp::Anywhere
    } else {
        crate::url_rule::PlainHttp::LoopbackOnly
    };
    let checked = crate::url_rule::check(raw, plain).map_err(|e| bad(&e))?;
    let url = checked.url();
    if url.query().is_some() {
        return Err(bad("must not have a query"));
    }
    if !allow_path && !matches!(url.path(), "" | "/") {
        return Err(bad(
            "must be scheme and host only (the API signs absolute paths)",
        ));
    }
    let host = url.host_str().unwrap_or_default();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = url.path().trim_end_matches('/');
    Ok((
        format!("{}://{host}{port}{path}", url.scheme()),
        checked.is_plain(),
    ))
}

/// The system's CA certificates as one PEM bundle, for a client that talks
/// to public servers the config names no CA for; `None` when the system
/// has none.
pub fn system_roots_pem() -> Option<Vec<u8>> {
    use base64::Engine as _;
    let mut out = Vec::new();
    for c in rustls_native_certs::load_native_certs().certs {
        let b64 = base64::engine::general_purpose::STANDARD.encode(c.as_ref());
        out.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
        out.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    (!out.is_empty()).then_some(out)
}

/// The loopback rule of [`crate::url_rule`] on a host already extracted by a
/// URL parser (with or without IPv6 brackets), for a URL given at run time
/// rather than in the config (a JWKS URL on the command line): `localhost`,
/// an address in 127.0.0.0/8, `::1` or an IPv4-mapped loopback address. Never
/// a prefix of the raw text: `http://localhost:1@evil.example/` has the host
/// `evil.example`. Callers refuse URLs with userinfo before asking; a URL
/// from the config goes through [`crate::url_rule::check`] whole.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => a.is_loopback(),
        Ok(std::net::IpAddr::V6(a)) => {
            a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// A fixed header name with a value that must be a valid header value.
pub fn header(
    name: &'static str,
    value: &str,
) -> Result<(http::HeaderName, HeaderValue), ProviderError> {
    let v = HeaderValue::from_str(value)
        .map_err(|_| ProviderError::Config(format!("value for {name} is not a valid header")))?;
    Ok((http::HeaderName::from_static(name), v))
}

/// A response read in full (up to the size cap).
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    /// Parses the body as JSON; a body that does not parse, or whose objects
    /// name a key twice ([`crate::json`]: every family's answers), is a
    /// protocol error. The error names the kind of problem and where, never
    /// the body (it may hold personal data).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ProviderError> {
        if let Err(e) = crate::json::unique_keys(&self.body) {
            let kind = if crate::json::is_duplicate(&e) {
                "an object names a key twice"
            } else {
                json_error_kind(&e)
            };
            return Err(ProviderError::Protocol(format!(
                "HTTP {} body is not the expected JSON ({kind}; line {} column {})",
                self.status.as_u16(),
                e.line(),
                e.column()
            )));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            ProviderError::Protocol(format!(
                "HTTP {} body is not the expected JSON ({}; line {} column {})",
                self.status.as_u16(),
                json_error_kind(&e),
                e.line(),
                e.column()
            ))
        })
    }
}

fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "io",
        serde_json::error::Category::Syntax => "syntax",
        serde_json::error::Category::Data => "unexpected shape",
        serde_json::error::Category::Eof => "truncated",
    }
}

/// The outbound HTTP client: HTTP/1.1 over rustls (ring), pooled connections.
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    max_response_bytes: usize,
    allow_plain_http: bool,
    has_roots: bool,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("allow_plain_http", &self.allow_plain_http)
            .field("has_roots", &self.has_roots)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Default cap on a response body: 1 MiB (a CMS result is a few KiB).
    pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

    /// A client trusting only the certificates in `ca_pem` for HTTPS, with a
    /// deadline of `timeout` per request. `None` means no HTTPS peer is trusted
    /// (such a client is only useful with [`HttpClient::allow_plain_http`]).
    pub fn new(ca_pem: Option<&[u8]>, timeout: Duration) -> Result<Self, ProviderError> {
        if timeout.is_zero() {
            return Err(ProviderError::Config(
                "HTTP timeout must be above zero".into(),
            ));
        }
        let mut roots = rustls::RootCertStore::empty();
        let mut has_roots = false;
        if let Some(pem) = ca_pem {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| {
                    ProviderError::Config(format!("TLS CA bundle is not valid PEM: {e}"))
                })?;
                roots.add(cert).map_err(|e| {
                    ProviderError::Config(format!(
                        "TLS CA bundle holds an unusable certificate: {e}"
                    ))
                })?;
                has_roots = true;
            }
            if !has_roots {
                return Err(ProviderError::Config(
                    "TLS CA bundle holds no CERTIFICATE block".into(),
                ));
            }
        }

        // Explicit provider: never depend on a process-wide default being installed.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ProviderError::Config(format!("TLS setup failed: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();

        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(timeout));

        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            // The scheme is checked per request in `send`, with a clear error.
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);

        let inner = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);

        Ok(Self {
            inner,
            timeout,
            max_response_bytes: Self::DEFAULT_MAX_RESPONSE_BYTES,
            allow_plain_http: false,
            has_roots,
        })
    }

    /// Allows `http://` URLs. Only for simulators and tests on a trusted network.
    pub fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// Changes the response body cap (default [`Self::DEFAULT_MAX_RESPONSE_BYTES`]).
    pub fn with_max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `GET url` with `headers`.
    pub async fn get(&self, url: &str, headers: HeaderMap) -> Result<HttpResponse, ProviderError> {
        self.send(Method::GET, url, headers, Bytes::new()).await
    }

    /// `POST url` with `headers` and `body` as given (the caller sets Content-Type).
    pub async fn post(
        &self,
        url: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<HttpResponse, ProviderError> {
        self.send(Method::POST, url, headers, body).await
    }

    /// `POST url` with `value` serialised as the JSON body.
    pub async fn post_json<T: serde::Serialize + ?Sized>(
        &self,
        url: &str,
        mut headers: HeaderMap,
        value: &T,
    ) -> Result<HttpResponse, ProviderError> {
        let body = serde_json::to_vec(value)
            .map_err(|e| ProviderError::Config(format!("request is not serialisable: {e}")))?;
        headers
            .entry(http::header::CONTENT_TYPE)
            .or_insert(HeaderValue::from_static("application/json; charset=utf-8"));
        self.post(url, headers, Bytes::from(body)).await
    }

    /// Sends one request and reads the whole response within the deadline.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<HttpResponse, ProviderError> {
        let uri: Uri = url
            .parse()
            .map_err(|e| ProviderError::Config(format!("invalid provider URL: {e}")))?;
        match uri.scheme_str() {
            Some("https") if self.has_roots => {}
            Some("https") => {
                return Err(ProviderError::Config(
                    "https URL but no TLS CA bundle is configured for this provider".into(),
                ))
            }
            Some("http") if self.allow_plain_http => {}
            Some("http") => {
                return Err(ProviderError::Config(
                    "plain http is not allowed for this provider".into(),
                ))
            }
            _ => {
                return Err(ProviderError::Config(
                    "provider URL must be absolute http(s)".into(),
                ))
            }
        }

        // The request's trace, continued by a child span for this call.
        let trace = crate::trace::current().map(|cx| (cx, crate::trace::new_span_id()));
        let mut headers = headers;
        if let Some((cx, span)) = &trace {
            cx.inject(&mut headers, *span);
        }
        let started = std::time::SystemTime::now();
        let host = uri.host().unwrap_or_default().to_owned();
        let method_name = method.as_str().to_owned();
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::new(body))
            .map_err(|e| ProviderError::Config(format!("invalid request: {e}")))?;
        *req.headers_mut() = headers;

        let max = self.max_response_bytes;
        let exchange = async {
            let resp = self.inner.request(req).await.map_err(transport)?;
            let (parts, body) = resp.into_parts();
            check_content_encoding(&parts.headers)?;
            let declared = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            // An oversized answer is the provider breaking its API, not a network
            // hiccup: a protocol error, so the login fails at once with a reason.
            if declared.is_some_and(|n| n > max as u64) {
                return Err(ProviderError::Protocol(format!(
                    "response body larger than {max} bytes"
                )));
            }
            let body = Limited::new(body, max)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        ProviderError::Protocol(format!("response body larger than {max} bytes"))
                    } else {
                        ProviderError::Transport(format!("reading response failed: {e}"))
                    }
                })?
                .to_bytes();
            Ok(HttpResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        let result = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(ProviderError::Transport(format!(
                "no complete response within {} ms",
                self.timeout.as_millis()
            ))),
        };
        if let Some((cx, span)) = trace.filter(|_| crate::trace::exporting()) {
            use crate::trace::AttrValue;
            let mut attributes = vec![
                ("http.request.method", AttrValue::Str(method_name.clone())),
                ("server.address", AttrValue::Str(host)),
            ];
            if let Ok(r) = &result {
                attributes.push((
                    "http.response.status_code",
                    AttrValue::Int(i64::from(r.status.as_u16())),
                ));
            }
            crate::trace::record(crate::trace::FinishedSpan {
                trace_id: cx.trace_id,
                span_id: span,
                parent_id: Some(cx.span_id),
                name: method_name,
                kind: crate::trace::SpanKind::Client,
                start: started,
                end: std::time::SystemTime::now(),
                attributes,
                error: result.as_ref().map_or(true, |r| r.status.is_server_error()),
            });
        }
        result
    }
}

/// Refuses a response body with a content coding: only `identity` (or no
/// Content-Encoding at all) is accepted, since no request asks for another.
fn check_content_encoding(headers: &HeaderMap) -> Result<(), ProviderError> {
    for v in headers.get_all(http::header::CONTENT_ENCODING) {
        let Ok(v) = v.to_str() else {
            return Err(ProviderError::Protocol(
                "response Content-Encoding is not ASCII".into(),
            ));
        };
        for coding in v.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            if !coding.eq_ignore_ascii_case("identity") {
                // Only a short, known-ASCII coding name goes into the message.
                let shown: String = coding.chars().take(32).collect();
                return Err(ProviderError::Protocol(format!(
                    "response has Content-Encoding {shown:?}, which was not asked for"
                )));
            }
        }
    }
    Ok(())
}

/// Flattens the error chain (hyper-util's outer error says little on its own).
fn transport(e: hyper_util::client::legacy::Error) -> ProviderError {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    ProviderError::Transport(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_bundles_and_zero_timeout() {
        assert!(matches!(
            HttpClient::new(Some(b"not pem"), Duration::from_secs(1)),
            Err(ProviderError::Config(_))
        ));
        assert!(matches!(
            HttpClient::new(None, Duration::ZERO),
            Err(ProviderError::Config(_))
        ));
    }

    #[test]
    fn loopback_is_decided_on_the_parsed_host() {
        for h in [
            "localhost",
            "LocalHost",
            "127.0.0.1",
            "127.9.9.9",
            "[::1]",
            "::1",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        assert!(is_loopback_host("[::ffff:127.0.0.1]"));
        for h in [
            "evil.example",
            "localhost.evil.example",
            "128.0.0.1",
            "[::2]",
            "",
            "[",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
        // What a prefix test got wrong: the host is after the `@`.
        for raw in [
            "http://localhost:1@evil.example/cb",
            "http://127.0.0.1:1@evil.example/acs",
            "http://[::1]@evil.example/acs",
        ] {
            let e = endpoint(raw, "endpoint", false, true).unwrap_err();
            assert!(e.to_string().contains("userinfo"), "{raw}: {e}");
            let uri: Uri = raw.parse().unwrap();
            assert!(!is_loopback_host(uri.host().unwrap()), "{raw}");
        }
    }

    #[tokio::test]
    async fn plain_http_needs_opt_in_and_https_needs_roots() {
        let c = HttpClient::new(None, Duration::from_secs(1)).unwrap();
        let e = c
            .get("http://127.0.0.1:9/x", HeaderMap::new())
            .await
            .unwrap_err();
        assert!(matches!(e, ProviderError::Config(_)), "{e:?}");
        let e = c
            .get("https://127.0.0.1:9/x", HeaderMap::new())
            .await
            .unwrap_err();
        assert!(matches!(e, ProviderError::Config(_)), "{e:?}");
        let e = c.get("ftp://x/", HeaderMap::new()).await.unwrap_err();
        assert!(matches!(e, ProviderError::Config(_)), "{e:?}");
    }

    #[tokio::test]
    async fn enforces_size_cap_while_reading() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            // Chunked, no Content-Length: the cap must bite while streaming.
            let mut out = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
            for _ in 0..8 {
                out.extend_from_slice(b"400\r\n");
                out.extend_from_slice(&[b'a'; 0x400]);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            let _ = s.write_all(&out).await;
        });
        let c = HttpClient::new(None, Duration::from_secs(5))
            .unwrap()
            .allow_plain_http(true)
            .with_max_response_bytes(4096);
        let e = c
            .get(&format!("http://{addr}/"), HeaderMap::new())
            .await
            .unwrap_err();
        assert!(
            matches!(e, ProviderError::Protocol(ref m) if m.contains("larger")),
            "{e:?}"
        );
    }

    #[test]
    fn only_identity_content_encoding_is_accepted() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(http::header::CONTENT_ENCODING, HeaderValue::from_static(v));
            h
        };
        assert!(check_content_encoding(&HeaderMap::new()).is_ok());
        assert!(check_content_encoding(&with("identity")).is_ok());
        assert!(check_content_encoding(&with("Identity")).is_ok());
        for bad in ["gzip", "br", "deflate", "identity, gzip", "x-gzip"] {
            assert!(
                matches!(
                    check_content_encoding(&with(bad)),
                    Err(ProviderError::Protocol(_))
                ),
                "{bad}"
            );
        }
    }

    /// A server answering 200 to `n` requests, sending back each request's head.
    async fn echo_heads(n: usize) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            for _ in 0..n {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let got = s.read(&mut buf).await.unwrap();
                let head = buf.get(..got).unwrap().to_vec();
                let mut out = format!(
                    "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
                    head.len()
                )
                .into_bytes();
                out.extend_from_slice(&head);
                let _ = s.write_all(&out).await;
            }
        });
        (addr, task)
    }

    #[tokio::test]
    async fn calls_in_a_trace_carry_a_child_traceparent() {
        let (addr, task) = echo_heads(2).await;
        let c = HttpClient::new(None, Duration::from_secs(5))
            .unwrap()
            .allow_plain_http(true);
        let url = format!("http://{addr}/");
        let mut h = HeaderMap::new();
        h.insert(
            "traceparent",
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        h.insert("tracestate", HeaderValue::from_static("congo=t61rcWkgMzE"));
        let cx = crate::trace::TraceContext::incoming(&h, true);
        assert!(cx.tracestate.is_some());
        let head = |r: HttpResponse| String::from_utf8(r.body.to_vec()).unwrap().to_lowercase();
        let inside = crate::trace::scope(cx.clone(), c.get(&url, HeaderMap::new()))
            .await
            .map(head)
            .unwrap();
        let line = inside
            .lines()
            .find_map(|l| l.strip_prefix("traceparent: "))
            .expect("a traceparent inside the trace");
        let parts: Vec<&str> = line.trim().split('-').collect();
        assert_eq!(parts.first(), Some(&"00"));
        assert_eq!(parts.get(1), Some(&"4bf92f3577b34da6a3ce929d0e0e4736"));
        let span = parts.get(2).unwrap();
        assert_ne!(*span, "00f067aa0ba902b7", "our own span, not the caller's");
        assert_ne!(*span, cx.span_id_hex(), "a new span per call");
        assert!(!inside.contains("tracestate"), "{inside}");
        let outside = head(c.get(&url, HeaderMap::new()).await.unwrap());
        assert!(!outside.contains("traceparent"), "{outside}");
        task.await.unwrap();
    }

    #[tokio::test]
    async fn times_out_on_a_hung_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(s);
        });
        let c = HttpClient::new(None, Duration::from_millis(200))
            .unwrap()
            .allow_plain_http(true);
        let e = c
            .get(&format!("http://{addr}/"), HeaderMap::new())
            .await
            .unwrap_err();
        assert!(matches!(e, ProviderError::Transport(_)), "{e:?}");
        hold.abort();
    }
}
