//! Logs and traces as an operator sees them: with `MUNJIGI_LOG_FORMAT=json`
//! every line the gateway writes is one JSON object carrying the request id,
//! the trace id and, once known, the login's `txn`; a W3C `traceparent` sent
//! through a trusted proxy is continued into the provider calls (seen by the
//! simulator), the proxy's upstream (seen by the test upstream) and the spans
//! a tiny OTLP/HTTP collector receives, each call with a span of its own; its
//! `tracestate` reaches the upstream but never a provider; a malformed one is
//! replaced by a new trace; the same headers from a peer that is not a
//! trusted proxy start a new trace everywhere; and every answer carries
//! `X-Request-Id`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use munjigi_e2e::upstream::start_upstream;
use munjigi_e2e::*;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";
const TRACESTATE: &str = "munjigi-test=t61rcWkgMzE";

fn traceparent() -> String {
    format!("00-{TRACE}-{PARENT}-01")
}

/// What the collector received: one (content type, JSON body) per POST.
type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// A minimal OTLP/HTTP collector: `POST /v1/traces` answered 200 `{}`.
async fn start_collector() -> (String, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Received = Arc::default();
    let keep = got.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let got = keep.clone();
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let got = got.clone();
                        async move {
                            let ok = req.method() == http::Method::POST
                                && req.uri().path() == "/v1/traces";
                            let ct = req
                                .headers()
                                .get("content-type")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let status = if ok {
                                let v: Value = serde_json::from_slice(&body)
                                    .unwrap_or_else(|e| panic!("OTLP body is not JSON ({e})"));
                                got.lock().unwrap().push((ct, v));
                                200
                            } else {
                                404
                            };
                            Ok::<_, std::convert::Infallible>(
                                http::Response::builder()
                                    .status(status)
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from_static(b"{}")))
                                    .unwrap(),
                            )
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}/v1/traces"), got)
}

/// Every span the collector has received so far.
fn spans(got: &Received) -> Vec<Value> {
    let mut out = Vec::new();
    for (ct, body) in got.lock().unwrap().iter() {
        assert!(ct.starts_with("application/json"), "content type {ct}");
        for rs in body["resourceSpans"].as_array().unwrap() {
            let service = rs["resource"]["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["key"] == "service.name")
                .map(|a| a["value"]["stringValue"].clone());
            assert_eq!(service, Some(Value::from("munjigi")), "{rs}");
            for ss in rs["scopeSpans"].as_array().unwrap() {
                out.extend(ss["spans"].as_array().unwrap().iter().cloned());
            }
        }
    }
    out
}

/// Every line of the gateway's output since the last call, each parsed as
/// JSON: any line that is not one JSON object fails the test.
fn json_lines(gw: &Gateway) -> Vec<Value> {
    gw.proc
        .drain()
        .into_iter()
        .map(|l| match serde_json::from_str::<Value>(&l) {
            Ok(v @ Value::Object(_)) => v,
            _ => panic!("a log line that is not a JSON object: {l}"),
        })
        .collect()
}

/// `00-<trace>-<span>-<flags>` split, after checking its shape.
fn parts(tp: &str) -> (String, String, String) {
    let p: Vec<&str> = tp.split('-').collect();
    assert_eq!(p.len(), 4, "{tp}");
    assert_eq!(p[0], "00", "{tp}");
    assert_eq!(p[1].len(), 32, "{tp}");
    assert_eq!(p[2].len(), 16, "{tp}");
    assert!(
        tp.bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{tp}"
    );
    (p[1].to_owned(), p[2].to_owned(), p[3].to_owned())
}

fn sim_traces(sim_url: &str) -> Vec<Value> {
    let addr = sim_url.trim_start_matches("http://");
    let auth = format!("Authorization: Bearer {SIM_CONTROL_TOKEN}");
    let host = format!("Host: {addr}");
    let r = wire::raw_request(
        addr,
        &[
            "GET /_control/traces HTTP/1.1",
            &host,
            &auth,
            "Connection: close",
        ],
        b"",
    );
    assert_eq!(r.status, 200, "control: traces");
    r.json()["requests"].as_array().cloned().unwrap()
}

fn request_id_of(p: &Page) -> String {
    let id = p
        .headers
        .get("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id on a {} answer", p.status))
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        !id.is_empty()
            && id.len() <= 32
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{id}"
    );
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_and_w3c_traces_follow_a_login_and_a_proxied_request() {
    let dir = TempDir::new("tracing");
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let up = start_upstream().await;
    let (collector, received) = start_collector().await;
    let (port, redirect) = site_port_and_redirect();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect,
            env: vec![("MUNJIGI_LOG_FORMAT", "json".into())],
            // The test client, on loopback, stands for the ingress.
            server_extra: "trusted_proxies = [\"127.0.0.1/32\"]".into(),
            extra: format!(
                "[routes.portal]\nsite = \"town\"\nprefix = \"/app/\"\nupstream = \"{}\"\n\
                 public_paths = [\"/app/public/\"]\n\n[tracing]\notlp_endpoint = \"{collector}\"\n",
                up.url
            ),
            ..GatewayOpts::default()
        },
    );
    let site = start_site(port, &gw.url, "client_secret_basic", None);
    let _ = json_lines(&gw);

    // A whole OIDC login, every browser request carrying our traceparent.
    let mut b = Browser::new(None);
    b.always = vec![
        ("traceparent".into(), traceparent()),
        ("tracestate".into(), TRACESTATE.into()),
    ];
    let (chooser, chooser_url) = b.follow(&format!("{}/login", site.url)).await;
    assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
    let chooser_id = request_id_of(&chooser);
    let wait_url = pick_and_submit(&mut b, &chooser_url, &HONG).await;
    let login_base = wait_url.trim_end_matches("/wait").to_owned();
    let txn = login_base.rsplit('/').next().unwrap().to_owned();
    let done = wait_done(&mut b, &login_base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (page, _) = b
        .follow(&absolute(&login_base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, 200, "site callback: {}", page.body);
    assert_eq!(page.json()["id_token_claims"]["aud"], "town");

    let lines = json_lines(&gw);
    assert!(!lines.is_empty());
    for l in &lines {
        for key in ["time", "level", "message"] {
            assert!(l[key].is_string(), "no {key}: {l}");
        }
        // Whatever a request logged, it logged inside its span.
        if l.get("code").is_some() || l.get("txn").is_some() {
            assert!(
                l["request_id"].is_string(),
                "a request's line without request_id: {l}"
            );
            assert!(
                l["trace_id"].is_string(),
                "a request's line without trace_id: {l}"
            );
        }
    }
    let ours: Vec<&Value> = lines.iter().filter(|l| l["trace_id"] == TRACE).collect();
    let started = ours
        .iter()
        .find(|l| l["message"] == "login started")
        .unwrap_or_else(|| panic!("no `login started` in our trace: {lines:#?}"));
    assert_eq!(started["txn"], txn.as_str());
    assert_eq!(started["span"], "request");
    let login_lines: Vec<&&Value> = ours.iter().filter(|l| l["txn"] == txn.as_str()).collect();
    let ids: HashSet<&str> = login_lines
        .iter()
        .map(|l| l["request_id"].as_str().unwrap())
        .collect();
    assert!(
        login_lines.len() >= 2 && !ids.is_empty(),
        "the login's lines carry its txn and request ids: {login_lines:#?}"
    );
    let trace_ids: HashSet<&str> = ours
        .iter()
        .map(|l| l["request_id"].as_str().unwrap())
        .collect();
    assert!(
        trace_ids.len() >= 2,
        "several requests of one trace, each with its own id: {ours:#?}"
    );
    assert!(
        !chooser_id.is_empty() && !trace_ids.contains(""),
        "request ids are never empty"
    );
    let all = serde_json::to_string(&lines).unwrap();
    assert!(
        !all.contains("홍길동") && !all.contains("1012345678") && !all.contains("1990-01-31"),
        "no personal data in logs"
    );

    // The provider calls continued our trace, each with a span of its own.
    let sim_seen = sim_traces(&sim_url);
    let to_provider: Vec<&Value> = sim_seen
        .iter()
        .filter(|r| r["traceparent"].as_str().is_some_and(|t| t.contains(TRACE)))
        .collect();
    assert!(
        to_provider.len() >= 2,
        "start, status and result calls carry our trace: {sim_seen:#?}"
    );
    let mut provider_spans = HashSet::new();
    for r in &to_provider {
        let (trace, span, flags) = parts(r["traceparent"].as_str().unwrap());
        assert_eq!(trace, TRACE);
        assert_ne!(span, PARENT, "re-parented, not forwarded: {r}");
        assert_eq!(flags, "01");
        assert!(
            provider_spans.insert(span),
            "a new span per call: {sim_seen:#?}"
        );
    }
    // The browser sent a tracestate with every request: no provider call
    // carried it (nor any other).
    for r in &sim_seen {
        assert!(r["tracestate"].is_null(), "tracestate to a provider: {r}");
    }

    // A proxied request: the upstream sees our trace under a new span, the
    // request id the browser got back and the tracestate; never the
    // browser's traceparent.
    up.clear();
    let mut plain = Browser::new(None);
    plain.always = vec![
        ("traceparent".into(), traceparent()),
        ("tracestate".into(), TRACESTATE.into()),
    ];
    let p = plain.get(&format!("{}/app/public/x", gw.url)).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let proxied_id = request_id_of(&p);
    let seen = up.requests_to("/app/public/x");
    assert_eq!(seen.len(), 1);
    let h = &seen[0].headers;
    assert_eq!(h.get_all("traceparent").iter().count(), 1);
    let (trace, upstream_span, _) = parts(h["traceparent"].to_str().unwrap());
    assert_eq!(trace, TRACE);
    assert_ne!(upstream_span, PARENT);
    assert_eq!(h["x-request-id"].to_str().unwrap(), proxied_id);
    let states: Vec<_> = h.get_all("tracestate").iter().collect();
    assert_eq!(states, [TRACESTATE], "the upstream gets the tracestate");

    // A malformed traceparent (upper-case hex) is replaced by a new trace,
    // on the proxy and on the gateway's own pages alike.
    up.clear();
    let bad = format!("00-{}-{PARENT}-01", TRACE.to_uppercase());
    let mut odd = Browser::new(None);
    odd.always = vec![
        ("traceparent".into(), bad.clone()),
        ("tracestate".into(), TRACESTATE.into()),
    ];
    let p = odd.get(&format!("{}/app/public/y", gw.url)).await;
    assert_eq!(p.status, 200);
    let seen = up.requests_to("/app/public/y");
    let tp = seen[0].headers["traceparent"].to_str().unwrap().to_owned();
    assert_ne!(tp, bad);
    let (fresh, _, _) = parts(&tp);
    assert_ne!(fresh.to_uppercase(), TRACE.to_uppercase());
    assert!(
        seen[0].headers.get("tracestate").is_none(),
        "tracestate dropped with its traceparent"
    );
    let _ = json_lines(&gw);
    let page = odd.get(&format!("{}/nope", gw.url)).await;
    assert_eq!(page.status, 404);
    let nope_id = request_id_of(&page);
    let lines = json_lines(&gw);
    let refused = lines
        .iter()
        .find(|l| l["request_id"] == nope_id.as_str())
        .unwrap_or_else(|| panic!("the 404 was not logged with its id: {lines:#?}"));
    let t = refused["trace_id"].as_str().unwrap();
    assert_eq!(t.len(), 32);
    assert_ne!(t.to_uppercase(), TRACE.to_uppercase());
    assert_eq!(refused["path"], "/nope");

    // The collector got the same tree: our request spans under the
    // browser's parent, and client spans whose ids the provider and the
    // upstream saw as their parent.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let all = spans(&received);
        let ours: Vec<&Value> = all.iter().filter(|s| s["traceId"] == TRACE).collect();
        let ids: HashSet<&str> = ours.iter().map(|s| s["spanId"].as_str().unwrap()).collect();
        let servers: Vec<&&Value> = ours.iter().filter(|s| s["kind"] == 2).collect();
        let complete = provider_spans.iter().all(|p| ids.contains(p.as_str()))
            && ids.contains(upstream_span.as_str())
            && !servers.is_empty();
        if complete {
            for s in &servers {
                assert_eq!(s["parentSpanId"], PARENT, "{s}");
            }
            let server_ids: HashSet<&str> = servers
                .iter()
                .map(|s| s["spanId"].as_str().unwrap())
                .collect();
            for s in ours.iter().filter(|s| s["kind"] == 3) {
                let parent = s["parentSpanId"].as_str().unwrap();
                assert!(
                    server_ids.contains(parent),
                    "a client span under one of our requests: {s}"
                );
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the collector did not receive the trace: {all:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The same headers from a peer that is not a trusted proxy: the trace id
/// is ours everywhere (log lines, provider calls, the upstream), and no
/// tracestate leaves the gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_client_cannot_choose_the_trace() {
    let dir = TempDir::new("tracing-untrusted");
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let up = start_upstream().await;
    let (port, redirect) = site_port_and_redirect();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect,
            env: vec![("MUNJIGI_LOG_FORMAT", "json".into())],
            // Proxies are trusted, but the test client is not one of them.
            server_extra: "trusted_proxies = [\"192.0.2.0/24\"]".into(),
            extra: format!(
                "[routes.portal]\nsite = \"town\"\nprefix = \"/app/\"\nupstream = \"{}\"\n\
                 public_paths = [\"/app/public/\"]\n",
                up.url
            ),
            ..GatewayOpts::default()
        },
    );
    let site = start_site(port, &gw.url, "client_secret_basic", None);
    let _ = json_lines(&gw);

    let mut b = Browser::new(None);
    b.always = vec![
        ("traceparent".into(), traceparent()),
        ("tracestate".into(), TRACESTATE.into()),
    ];
    let (chooser, chooser_url) = b.follow(&format!("{}/login", site.url)).await;
    assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
    let wait_url = pick_and_submit(&mut b, &chooser_url, &HONG).await;
    let login_base = wait_url.trim_end_matches("/wait").to_owned();
    let txn = login_base.rsplit('/').next().unwrap().to_owned();
    let done = wait_done(&mut b, &login_base).await;
    assert_eq!(done["state"], "completed", "{done}");

    let lines = json_lines(&gw);
    let started = lines
        .iter()
        .find(|l| l["message"] == "login started" && l["txn"] == txn.as_str())
        .unwrap_or_else(|| panic!("no `login started`: {lines:#?}"));
    let t = started["trace_id"].as_str().unwrap();
    assert_eq!(t.len(), 32);
    assert_ne!(t, TRACE, "the client's trace id was continued");
    assert!(
        lines.iter().all(|l| l["trace_id"] != TRACE),
        "a line in the client's trace: {lines:#?}"
    );

    let sim_seen = sim_traces(&sim_url);
    let to_provider: Vec<&Value> = sim_seen
        .iter()
        .filter(|r| r["traceparent"].is_string())
        .collect();
    assert!(
        to_provider.len() >= 2,
        "the provider calls carry a trace: {sim_seen:#?}"
    );
    for r in &to_provider {
        let (trace, _, _) = parts(r["traceparent"].as_str().unwrap());
        assert_ne!(
            trace, TRACE,
            "the client's trace id reached a provider: {r}"
        );
    }
    for r in &sim_seen {
        assert!(r["tracestate"].is_null(), "tracestate to a provider: {r}");
    }

    let p = b.get(&format!("{}/app/public/x", gw.url)).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let seen = up.requests_to("/app/public/x");
    assert_eq!(seen.len(), 1);
    let h = &seen[0].headers;
    let (trace, span, _) = parts(h["traceparent"].to_str().unwrap());
    assert_ne!(trace, TRACE);
    assert_ne!(span, PARENT);
    assert!(
        h.get("tracestate").is_none(),
        "an untrusted client's tracestate reached the upstream"
    );
}

#[test]
fn an_unknown_log_format_stops_the_start() {
    let dir = TempDir::new("logformat");
    let cfg = dir.path().join("gateway.toml");
    std::fs::write(&cfg, "").unwrap();
    let out = std::process::Command::new(munjigi_bin())
        .args(["serve", "--config"])
        .arg(&cfg)
        .env("MUNJIGI_LOG_FORMAT", "yaml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("MUNJIGI_LOG_FORMAT must be `text` or `json`, not `yaml`"),
        "{err}"
    );
}
