//! Optional trace export (`[telemetry] otlp_endpoint`): each attempt's span, with its stages as
//! child spans, sent to an OpenTelemetry collector over OTLP/HTTP (protobuf).
//!
//! The decision that matters: an attempt never waits for the export, and nothing queues without
//! bound. A span that ends is offered to a bounded queue (`otlp_queue_spans`) with `try_send`:
//! when the queue is full the span is dropped and counted
//! (`mig06_otlp_spans_dropped_total{reason="queue_full"}`). One thread of this binary,
//! `mig06-otlp`, takes spans off the queue in batches and sends each batch once, bounded by
//! `otlp_timeout_ms` (no retry); a batch that fails or passes its bound is dropped and counted
//! (`reason="export_failed"`). The library knows nothing of this: it emits `tracing` spans and
//! events, which this binary's subscriber turns into OpenTelemetry spans. What a span holds is
//! what the operations log holds (ids, codes, reason codes, durations, counts): the same closed
//! set of typed fields, never a request value.
//!
//! The attempt's span is the one the downstream sees as its parent: the ids the tracer gives it
//! become the attempt's [`TraceContext`], which the HTTP executor sends on and the audit records
//! carry.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use mig06_rail::config::TelemetryConfig;
use mig06_rail::telemetry::TraceContext;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter as _, SpanProcessor};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::oplog::SERVE_TARGET;

/// Most spans sent in one export request.
const MAX_BATCH: usize = 256;
/// How long the export thread gathers more spans after the first of a batch.
const BATCH_DELAY: Duration = Duration::from_millis(200);
/// Largest answer read from the collector.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;
/// How long a stopping server waits, past one export's bound, for the queue to be sent.
const SHUTDOWN_MARGIN: Duration = Duration::from_secs(1);

/// Whether spans are exported (set once at start-up).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether this process exports spans.
pub(super) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// What the export did, for `/metrics`.
#[derive(Debug, Default)]
pub(super) struct ExportCounts {
    /// Spans the collector accepted.
    pub(super) exported: AtomicU64,
    /// Spans dropped because the queue was full when they ended.
    pub(super) dropped_queue_full: AtomicU64,
    /// Spans dropped because their batch's export failed or passed its bound.
    pub(super) dropped_export_failed: AtomicU64,
    /// Spans that ended after the export stopped.
    pub(super) dropped_stopped: AtomicU64,
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// The export, running: its tracer provider and the thread that sends.
pub(crate) struct Export {
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
}

impl Export {
    /// Starts the export to `config`'s endpoint: the export thread, and the tracer whose spans
    /// it sends. `None` when no endpoint is configured.
    ///
    /// # Errors
    /// The exporter could not be built or its thread not started.
    pub(super) fn start(
        config: &TelemetryConfig,
        counts: Arc<ExportCounts>,
    ) -> Result<Option<(Self, opentelemetry_sdk::trace::SdkTracer)>> {
        let Some(url) = config.traces_url() else {
            return Ok(None);
        };
        let timeout = Duration::from_millis(config.otlp_timeout_ms);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // Only the configured endpoint, whatever HTTP_PROXY says.
            .proxy(None)
            .timeout_global(Some(timeout))
            .user_agent("mig06-otlp")
            .build()
            .into();
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(UreqClient(agent))
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(url)
            .with_timeout(timeout)
            .build()
            .context("telemetry.otlp_endpoint: the OTLP exporter could not be built")?;
        let resource = opentelemetry_sdk::Resource::builder_empty()
            .with_service_name("mig06")
            .with_attribute(opentelemetry::KeyValue::new(
                "service.version",
                env!("CARGO_PKG_VERSION"),
            ))
            .build();
        exporter.set_resource(&resource);
        let (queue, spans) = mpsc::sync_channel(config.otlp_queue_spans);
        let (done_tx, done) = mpsc::sync_channel(1);
        let thread_counts = Arc::clone(&counts);
        std::thread::Builder::new()
            .name("mig06-otlp".into())
            .spawn(move || {
                send_batches(&exporter, &spans, &thread_counts);
                let _ = exporter.shutdown();
                let _ = done_tx.send(());
            })
            .context("cannot start the OTLP export thread")?;
        let processor = BoundedQueue {
            queue: Mutex::new(Some(queue)),
            done: Mutex::new(Some(done)),
            stop_wait: timeout + SHUTDOWN_MARGIN,
            counts,
        };
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(resource)
            .build();
        let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "mig06");
        ENABLED.store(true, Ordering::Relaxed);
        Ok(Some((Self { provider }, tracer)))
    }

    /// Sends what the queue still holds (bounded by one export's bound and a margin), then
    /// stops the export thread.
    pub(super) fn stop(self) {
        ENABLED.store(false, Ordering::Relaxed);
        let _ = self.provider.shutdown();
    }
}

/// The export thread's loop: a batch is the first span and whatever else arrives within
/// [`BATCH_DELAY`], up to [`MAX_BATCH`]; each batch is sent once. Ends when the queue is closed
/// and empty.
fn send_batches(
    exporter: &opentelemetry_otlp::SpanExporter,
    spans: &Receiver<SpanData>,
    counts: &ExportCounts,
) {
    while let Ok(first) = spans.recv() {
        let mut batch = vec![first];
        let until = Instant::now() + BATCH_DELAY;
        while batch.len() < MAX_BATCH {
            match spans.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok(span) => batch.push(span),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        let n = batch.len();
        match futures_executor::block_on(exporter.export(batch)) {
            Ok(()) => add(&counts.exported, n),
            Err(_) => {
                add(&counts.dropped_export_failed, n);
                // The error's text is the exporter's (it may name the endpoint): not logged.
                tracing::warn!(
                    target: SERVE_TARGET,
                    event = "otlp_export_failed",
                    spans = n,
                    "OTLP export failed: the batch was dropped (not sent again)"
                );
            }
        }
    }
}

// INV-TELEMETRY-NEVER-BLOCKS: a span is offered to a bounded queue without waiting; a full queue
// drops and counts it.
/// The span processor: an ended span goes to the export thread's bounded queue, or is dropped
/// and counted; it never waits.
struct BoundedQueue {
    queue: Mutex<Option<SyncSender<SpanData>>>,
    done: Mutex<Option<Receiver<()>>>,
    stop_wait: Duration,
    counts: Arc<ExportCounts>,
}

impl std::fmt::Debug for BoundedQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedQueue").finish_non_exhaustive()
    }
}

impl SpanProcessor for BoundedQueue {
    fn on_start(&self, _span: &mut Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        let Ok(queue) = self.queue.lock() else {
            return add(&self.counts.dropped_stopped, 1);
        };
        let Some(queue) = queue.as_ref() else {
            return add(&self.counts.dropped_stopped, 1);
        };
        match queue.try_send(span) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => add(&self.counts.dropped_queue_full, 1),
            Err(TrySendError::Disconnected(_)) => add(&self.counts.dropped_stopped, 1),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        // Closing the queue lets the thread send what it holds, then stop.
        if let Ok(mut queue) = self.queue.lock() {
            queue.take();
        }
        if let Ok(mut done) = self.done.lock()
            && let Some(done) = done.take()
        {
            let _ = done.recv_timeout(self.stop_wait);
        }
        Ok(())
    }
}

/// The exporter's HTTP client: ureq, blocking, on the export thread (whose `block_on` runs the
/// exporter's future), bounded by the agent's global timeout.
#[derive(Debug)]
struct UreqClient(ureq::Agent);

#[async_trait::async_trait]
impl HttpClient for UreqClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let mut answer = self.0.run(request.map(|b| b.to_vec()))?;
        let status = answer.status();
        let body = answer
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()?;
        Ok(Response::builder().status(status).body(Bytes::from(body))?)
    }
}

/// The attempt's span for a request to `POST /v1/attempts`, a child of the caller's span when
/// `trace` has one, and the attempt's trace context with the ids the tracer gave the span (so
/// the access line, the audit records and the downstream's `traceparent` name this span).
pub(super) fn attempt_span(trace: TraceContext) -> (tracing::Span, TraceContext) {
    let span = tracing::info_span!(
        target: SERVE_TARGET,
        "POST /v1/attempts",
        otel.kind = "server",
        http.request.method = "POST",
        http.route = "/v1/attempts",
        http.response.status_code = tracing::field::Empty,
        caller_id = tracing::field::Empty,
        attempt_id = tracing::field::Empty,
        code = tracing::field::Empty,
    );
    if let Some(parent) = trace.parent_id_bytes() {
        let flags = if trace.sampled() {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        // `tracestate` is a header value the caller chose: it goes downstream unchanged (the
        // HTTP executor), never into an exported span.
        let remote = SpanContext::new(
            TraceId::from_bytes(trace.trace_id_bytes()),
            SpanId::from_bytes(parent),
            flags,
            true,
            TraceState::default(),
        );
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
    let cx = span.context();
    let ids = cx.span().span_context().clone();
    let trace = if ids.is_valid() {
        trace.with_ids(ids.trace_id().to_bytes(), ids.span_id().to_bytes())
    } else {
        trace
    };
    (span, trace)
}
