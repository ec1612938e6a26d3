//! Exporting the gateway's spans over OTLP/HTTP (JSON encoding), when
//! `[tracing] otlp_endpoint` asks for it: one server span per request and one
//! client span per outgoing call (providers, webhooks, proxy upstreams), with
//! the ids the `traceparent` headers carry, so a collector shows the same
//! tree the logs and the called services see.
//!
//! Behind the cargo feature `otlp` (on by default in the `munjigi` binary;
//! the OpenTelemetry crates are a sizeable share of a clean build, see README
//! "Build cost"). Only the OTLP exporter and its wire types are used, not the
//! SDK's tracer: our spans already have their ids ([`munjigi_providers::trace`]).
//! Spans wait in a bounded queue (full: new spans are dropped and counted,
//! never blocking a request) and leave in batches from one task, over the
//! providers' HTTP client (rustls, system roots; plain http only to loopback,
//! as the config checks).
//!
//! Not here: logs or metrics over OTLP, sampling, retries of a failed batch
//! (dropped and logged: traces are a diagnosis aid, not a record).

#[cfg(feature = "otlp")]
pub use enabled::start;

/// Starts the exporter. This build has none: `munjigi check` refuses a
/// config that asks for it, so this is never reached with a checked config.
#[cfg(not(feature = "otlp"))]
pub fn start(_endpoint: &str) -> Result<(), String> {
    Err("this munjigi was built without OTLP export (cargo feature `otlp`)".into())
}

#[cfg(feature = "otlp")]
mod enabled {
    use bytes::Bytes;
    use munjigi_providers::http_client::HttpClient;
    use munjigi_providers::trace::{self, AttrValue, FinishedSpan, SpanKind, SpanSink};
    use opentelemetry::trace::{SpanContext, SpanId, Status, TraceFlags, TraceId, TraceState};
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
    use opentelemetry_sdk::Resource;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::sync::mpsc;

    /// Spans waiting to leave; beyond this, new ones are dropped.
    const QUEUE: usize = 8192;
    /// Most spans in one POST.
    const BATCH: usize = 512;
    /// How long the first span of a batch waits for company.
    const LINGER: Duration = Duration::from_millis(500);
    /// One POST's deadline.
    const TIMEOUT: Duration = Duration::from_secs(10);

    struct Queue {
        tx: mpsc::Sender<FinishedSpan>,
        dropped: Arc<AtomicU64>,
    }

    impl SpanSink for Queue {
        fn record(&self, span: FinishedSpan) {
            if self.tx.try_send(span).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The exporter's HTTP client: the providers' one (one client, one TLS
    /// stack). Its calls run outside any request, so they carry no
    /// `traceparent` and make no spans of their own.
    #[derive(Debug)]
    struct Client(HttpClient);

    #[async_trait::async_trait]
    impl opentelemetry_http::HttpClient for Client {
        async fn send_bytes(
            &self,
            request: http::Request<Bytes>,
        ) -> Result<http::Response<Bytes>, opentelemetry_http::HttpError> {
            let (parts, body) = request.into_parts();
            let answer = self
                .0
                .send(parts.method, &parts.uri.to_string(), parts.headers, body)
                .await?;
            let mut resp = http::Response::new(answer.body);
            *resp.status_mut() = answer.status;
            *resp.headers_mut() = answer.headers;
            Ok(resp)
        }
    }

    /// Builds the exporter, installs the span queue and spawns the task that
    /// empties it. Call once, inside the runtime, before serving.
    pub fn start(endpoint: &str) -> Result<(), String> {
        let roots = munjigi_receipt::verify::system_roots_pem().ok();
        let client = HttpClient::new(roots.as_deref(), TIMEOUT)
            .map_err(|e| format!("OTLP exporter: {e}"))?
            .allow_plain_http(true)
            .with_max_response_bytes(64 * 1024);
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .with_endpoint(endpoint)
            .with_timeout(TIMEOUT)
            .with_http_client(Client(client))
            .build()
            .map_err(|e| format!("OTLP exporter for `{endpoint}`: {e}"))?;
        exporter.set_resource(
            &Resource::builder_empty()
                .with_service_name("munjigi")
                .build(),
        );
        let (tx, rx) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        if !trace::install_sink(Box::new(Queue {
            tx,
            dropped: dropped.clone(),
        })) {
            return Err("an OTLP exporter is already running".into());
        }
        tokio::spawn(run(exporter, rx, dropped));
        tracing::info!(endpoint, "exporting spans over OTLP/HTTP");
        Ok(())
    }

    async fn run(
        exporter: opentelemetry_otlp::SpanExporter,
        mut rx: mpsc::Receiver<FinishedSpan>,
        dropped: Arc<AtomicU64>,
    ) {
        let scope = InstrumentationScope::builder("munjigi").build();
        while let Some(first) = rx.recv().await {
            let mut batch = vec![span_data(first, &scope)];
            let deadline = tokio::time::Instant::now() + LINGER;
            while batch.len() < BATCH {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(s)) => batch.push(span_data(s, &scope)),
                    Ok(None) | Err(_) => break,
                }
            }
            let n = batch.len();
            if let Err(e) = exporter.export(batch).await {
                tracing::warn!(spans = n, error = %e, "OTLP export failed; spans dropped");
            }
            let lost = dropped.swap(0, Ordering::Relaxed);
            if lost > 0 {
                tracing::warn!(spans = lost, "OTLP queue full; spans dropped");
            }
        }
    }

    fn span_data(s: FinishedSpan, scope: &InstrumentationScope) -> SpanData {
        let kind = match s.kind {
            SpanKind::Server => opentelemetry::trace::SpanKind::Server,
            SpanKind::Client => opentelemetry::trace::SpanKind::Client,
        };
        SpanData {
            span_context: SpanContext::new(
                TraceId::from_bytes(s.trace_id),
                SpanId::from_bytes(s.span_id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: s.parent_id.map_or(SpanId::INVALID, SpanId::from_bytes),
            // A server span's parent is the caller's (another process).
            parent_span_is_remote: s.kind == SpanKind::Server && s.parent_id.is_some(),
            span_kind: kind,
            name: s.name.into(),
            start_time: s.start,
            end_time: s.end,
            attributes: s
                .attributes
                .into_iter()
                .map(|(k, v)| match v {
                    AttrValue::Str(v) => KeyValue::new(k, v),
                    AttrValue::Int(v) => KeyValue::new(k, v),
                })
                .collect(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: if s.error {
                Status::error("")
            } else {
                Status::Unset
            },
            instrumentation_scope: scope.clone(),
        }
    }
}
