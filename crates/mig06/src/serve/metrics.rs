//! The service's Prometheus metrics.
//!
//! The decision that matters: atomics only, updated on the request path (or by the
//! [`MetricsLayer`] from the library's own `tracing` events) and read when `/metrics` is
//! scraped; no background task, no lock, nothing that could delay or queue an attempt.
//! Attempts are counted per terminal code from the library's own list of codes, stages from its
//! list of stages, so a new code or stage appears here without an edit. Names and units follow
//! Prometheus conventions: base units (`_seconds`), counters end `_total`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use mig06_rail::outcome::{ALL_CODES, TerminalCode};
use mig06_rail::telemetry::{ATTEMPT_TARGET, AUDIT_TARGET, Stage};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

/// Upper bounds (seconds) of the latency histograms' buckets.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds (records) of the audit batch size histogram's buckets.
const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// A Prometheus histogram of fixed buckets, atomics only.
pub(super) struct Histogram<const N: usize> {
    buckets: [AtomicU64; N],
    count: AtomicU64,
    /// The sum, in millionths of the unit.
    sum_micros: AtomicU64,
}

impl<const N: usize> Default for Histogram<N> {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

impl<const N: usize> Histogram<N> {
    fn observe(&self, bounds: &[f64; N], value: f64) {
        for (bound, b) in bounds.iter().zip(&self.buckets) {
            if value <= *bound {
                bump(b);
            }
        }
        bump(&self.count);
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a non-negative observation in millionths; saturating cast is the intent"
        )]
        let micros = (value * 1e6) as u64;
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Writes the histogram's series; `labels` is `""` or `key="value",`.
    fn render(&self, s: &mut String, name: &str, labels: &str, bounds: &[f64; N]) {
        for (bound, b) in bounds.iter().zip(&self.buckets) {
            let _ = writeln!(
                s,
                "{name}_bucket{{{labels}le=\"{bound}\"}} {}",
                b.load(Ordering::Relaxed)
            );
        }
        let count = self.count();
        let _ = writeln!(s, "{name}_bucket{{{labels}le=\"+Inf\"}} {count}");
        #[expect(
            clippy::cast_precision_loss,
            reason = "a sum for Prometheus; f64 precision is ample"
        )]
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let bare = labels.trim_end_matches(',');
        if bare.is_empty() {
            let _ = writeln!(s, "{name}_sum {sum}");
            let _ = writeln!(s, "{name}_count {count}");
        } else {
            let _ = writeln!(s, "{name}_sum{{{bare}}} {sum}");
            let _ = writeln!(s, "{name}_count{{{bare}}} {count}");
        }
    }
}

/// One latency histogram.
type Latency = Histogram<{ BUCKETS.len() }>;

/// What the build and configuration in force are (`mig06_build_info`).
#[derive(Debug, Default, Clone)]
pub(super) struct BuildInfo {
    /// The policy bundle digest in force.
    pub(super) policy_digest: String,
    /// The audit log's origin (its key name).
    pub(super) log_origin: String,
}

/// The counters and histograms.
#[derive(Default)]
pub(crate) struct Metrics {
    codes: [AtomicU64; ALL_CODES.len()],
    /// Requests without a valid bearer credential.
    pub(super) unauthenticated: AtomicU64,
    /// Request bodies over `max_request_bytes`.
    pub(super) too_large: AtomicU64,
    /// Requests beyond the bound on attempts in flight.
    pub(super) overloaded: AtomicU64,
    /// Connections closed at accept, beyond `max_connections`.
    pub(super) refused_total_cap: AtomicU64,
    /// Connections closed at accept, beyond `max_connections_per_peer`.
    pub(super) refused_peer_cap: AtomicU64,
    /// TLS handshakes that failed or did not finish within the head clock.
    pub(super) tls_handshake_failures: AtomicU64,
    /// Attempts running now.
    pub(super) in_flight: AtomicU64,
    /// The bound on attempts in flight.
    pub(super) max_in_flight: AtomicU64,
    latency: Latency,
    stages: [Latency; Stage::ALL.len()],
    /// Executor latency: index 0 `completed`, index 1 + i the terminal code `ALL_CODES[i]`.
    executor: [Latency; ALL_CODES.len() + 1],
    batch_records: Histogram<{ BATCH_BUCKETS.len() }>,
    batch_seconds: Latency,
    batches_failed: AtomicU64,
    pg_reconnects: AtomicU64,
    startup_records: AtomicU64,
    startup_interrupted: AtomicU64,
    startup_torn_bytes: AtomicU64,
    build: std::sync::OnceLock<BuildInfo>,
    /// What the OTLP trace export did (all zero when it is off).
    pub(super) otlp: std::sync::Arc<super::otlp::ExportCounts>,
}

/// Counts one more.
pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn code_index(code: TerminalCode) -> Option<usize> {
    ALL_CODES.iter().position(|c| *c == code)
}

impl Metrics {
    /// Counts an attempt that ended with `code`, having started at `started`.
    pub(super) fn record(&self, code: TerminalCode, started: Instant) {
        if let Some(c) = code_index(code).and_then(|i| self.codes.get(i)) {
            bump(c);
        }
        self.latency
            .observe(&BUCKETS, started.elapsed().as_secs_f64());
    }

    /// Sets what `mig06_build_info` reports (once, at start-up).
    pub(super) fn set_build(&self, info: BuildInfo) {
        let _ = self.build.set(info);
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    pub(super) fn render(&self) -> String {
        let mut s = String::with_capacity(16 * 1024);
        self.render_build(&mut s);
        self.render_attempts(&mut s);
        self.render_refusals(&mut s);
        self.render_latency(&mut s);
        self.render_audit(&mut s);
        self.render_otlp(&mut s);
        s
    }

    fn render_otlp(&self, s: &mut String) {
        let o = &self.otlp;
        let _ = writeln!(
            s,
            "# HELP mig06_otlp_spans_exported_total Spans the OTLP collector accepted.\n# TYPE mig06_otlp_spans_exported_total counter\nmig06_otlp_spans_exported_total {}",
            o.exported.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP mig06_otlp_spans_dropped_total Spans dropped rather than waited for: the export queue was full, their batch's export failed or passed its bound, or the export had stopped.\n# TYPE mig06_otlp_spans_dropped_total counter"
        );
        for (reason, n) in [
            ("queue_full", &o.dropped_queue_full),
            ("export_failed", &o.dropped_export_failed),
            ("stopped", &o.dropped_stopped),
        ] {
            let _ = writeln!(
                s,
                "mig06_otlp_spans_dropped_total{{reason=\"{reason}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
    }

    fn render_build(&self, s: &mut String) {
        let info = self.build.get().cloned().unwrap_or_default();
        let _ = writeln!(
            s,
            "# HELP mig06_build_info The running build and what it serves (always 1).\n# TYPE mig06_build_info gauge"
        );
        let _ = writeln!(
            s,
            "mig06_build_info{{version=\"{}\",policy_digest=\"{}\",log_origin=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            label_value(&info.policy_digest),
            label_value(&info.log_origin)
        );
    }

    fn render_attempts(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "# HELP mig06_attempts_total Attempts by terminal code.\n# TYPE mig06_attempts_total counter"
        );
        for (code, n) in ALL_CODES.iter().zip(&self.codes) {
            let _ = writeln!(
                s,
                "mig06_attempts_total{{code=\"{}\"}} {}",
                code.as_str(),
                n.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP mig06_attempts_in_flight Attempts running now.\n# TYPE mig06_attempts_in_flight gauge\nmig06_attempts_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP mig06_attempts_in_flight_limit The bound on attempts running at once (beyond it: 503).\n# TYPE mig06_attempts_in_flight_limit gauge\nmig06_attempts_in_flight_limit {}",
            self.max_in_flight.load(Ordering::Relaxed)
        );
    }

    /// Requests and connections refused before any attempt existed (they leave no record).
    fn render_refusals(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "# HELP mig06_http_rejected_total Requests refused before any attempt existed (no audit record).\n# TYPE mig06_http_rejected_total counter"
        );
        for (reason, n) in [
            ("unauthenticated", &self.unauthenticated),
            ("body_too_large", &self.too_large),
            ("overloaded", &self.overloaded),
        ] {
            let _ = writeln!(
                s,
                "mig06_http_rejected_total{{reason=\"{reason}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP mig06_http_connections_refused_total Connections closed at accept, beyond a connection cap.\n# TYPE mig06_http_connections_refused_total counter"
        );
        for (reason, n) in [
            ("max_connections", &self.refused_total_cap),
            ("max_connections_per_peer", &self.refused_peer_cap),
        ] {
            let _ = writeln!(
                s,
                "mig06_http_connections_refused_total{{reason=\"{reason}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP mig06_tls_handshake_failures_total TLS handshakes that failed or did not finish in time.\n# TYPE mig06_tls_handshake_failures_total counter\nmig06_tls_handshake_failures_total {}",
            self.tls_handshake_failures.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP mig06_log_lines_dropped_total Operations-log lines dropped because stderr would have blocked.\n# TYPE mig06_log_lines_dropped_total counter\nmig06_log_lines_dropped_total {}",
            super::oplog::dropped_lines()
        );
    }

    fn render_latency(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "# HELP mig06_attempt_duration_seconds Attempt latency, authentication to terminal outcome.\n# TYPE mig06_attempt_duration_seconds histogram"
        );
        self.latency
            .render(s, "mig06_attempt_duration_seconds", "", &BUCKETS);
        let _ = writeln!(
            s,
            "# HELP mig06_attempt_stage_duration_seconds Time an attempt spent in each stage it reached.\n# TYPE mig06_attempt_stage_duration_seconds histogram"
        );
        for (stage, h) in Stage::ALL.iter().zip(&self.stages) {
            let labels = format!("stage=\"{}\",", stage.as_str());
            h.render(s, "mig06_attempt_stage_duration_seconds", &labels, &BUCKETS);
        }
        let _ = writeln!(
            s,
            "# HELP mig06_executor_duration_seconds The executor's one call (and receipt check), by outcome class.\n# TYPE mig06_executor_duration_seconds histogram"
        );
        let classes = std::iter::once("completed").chain(ALL_CODES.iter().map(|c| c.as_str()));
        for (i, (class, h)) in classes.zip(&self.executor).enumerate() {
            // Completed always; a failure code only once it happened (a closed set either way).
            if i == 0 || h.count() > 0 {
                let labels = format!("outcome=\"{class}\",");
                h.render(s, "mig06_executor_duration_seconds", &labels, &BUCKETS);
            }
        }
    }

    fn render_audit(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "# HELP mig06_audit_batch_records Records per audit batch (one durable write each).\n# TYPE mig06_audit_batch_records histogram"
        );
        self.batch_records
            .render(s, "mig06_audit_batch_records", "", &BATCH_BUCKETS);
        let _ = writeln!(
            s,
            "# HELP mig06_audit_append_duration_seconds Time the audit store took to make a batch durable (or fail it).\n# TYPE mig06_audit_append_duration_seconds histogram"
        );
        self.batch_seconds
            .render(s, "mig06_audit_append_duration_seconds", "", &BUCKETS);
        let _ = writeln!(
            s,
            "# HELP mig06_audit_batches_failed_total Audit batches the store did not confirm (their attempts end ABORTED_AUDIT_UNCONFIRMED).\n# TYPE mig06_audit_batches_failed_total counter\nmig06_audit_batches_failed_total {}",
            self.batches_failed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP mig06_audit_pg_reconnects_total Connections the PostgreSQL store opened to replace one that was lost or failed.\n# TYPE mig06_audit_pg_reconnects_total counter\nmig06_audit_pg_reconnects_total {}",
            self.pg_reconnects.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP mig06_audit_startup_records Records in the audit log when the store opened at start-up (the file store reads only those past its index; see the audit_store_opened event).\n# TYPE mig06_audit_startup_records gauge\nmig06_audit_startup_records {}",
            self.startup_records.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP mig06_audit_startup_interrupted_ended Interrupted attempts the store ended ABORTED_INTERRUPTED at start-up.\n# TYPE mig06_audit_startup_interrupted_ended gauge\nmig06_audit_startup_interrupted_ended {}",
            self.startup_interrupted.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP mig06_audit_startup_torn_tail_bytes Bytes of a torn tail the file store cut at start-up.\n# TYPE mig06_audit_startup_torn_tail_bytes gauge\nmig06_audit_startup_torn_tail_bytes {}",
            self.startup_torn_bytes.load(Ordering::Relaxed)
        );
    }
}

/// How one `add-checkpoint` submission to a witness ended (`result` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubmissionResult {
    /// 200 with a cosignature that verifies.
    Cosigned,
    /// 409: the witness knows another size.
    Conflict,
    /// No answer in time, or the connection failed.
    Unavailable,
    /// Any other status.
    Refused,
    /// A 200 whose cosignature does not verify against the configured key.
    BadCosignature,
    /// An answer that is not the protocol's.
    Malformed,
}

impl SubmissionResult {
    const ALL: [Self; 6] = [
        Self::Cosigned,
        Self::Conflict,
        Self::Unavailable,
        Self::Refused,
        Self::BadCosignature,
        Self::Malformed,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Cosigned => "cosigned",
            Self::Conflict => "conflict",
            Self::Unavailable => "unavailable",
            Self::Refused => "refused",
            Self::BadCosignature => "bad_cosignature",
            Self::Malformed => "malformed",
        }
    }
}

/// One witness's submissions: counts by result, and the round trip's latency.
#[derive(Default)]
struct WitnessSeries {
    results: [AtomicU64; SubmissionResult::ALL.len()],
    latency: Latency,
}

/// The rail's witnesses as `/metrics` reports them: per configured witness (by its configured
/// name), submissions by result and the `add-checkpoint` round trip's latency. Updated by the
/// binary's witness adapter ([`crate::witnesses`]) on the thread that submits; atomics only.
pub(crate) struct WitnessStats {
    names: Vec<String>,
    series: Vec<WitnessSeries>,
}

impl WitnessStats {
    /// Counters for the witnesses named, in configuration order.
    pub(crate) fn new(names: Vec<String>) -> Self {
        let series = names.iter().map(|_| WitnessSeries::default()).collect();
        Self { names, series }
    }

    /// Records one submission to witness `i`: its result and how long the round trip took.
    pub(crate) fn record(&self, i: usize, result: SubmissionResult, seconds: f64) {
        let Some(w) = self.series.get(i) else { return };
        if let Some(c) = SubmissionResult::ALL
            .iter()
            .position(|r| *r == result)
            .and_then(|j| w.results.get(j))
        {
            bump(c);
        }
        w.latency.observe(&BUCKETS, seconds);
    }
}

/// The witness part of `/metrics`: detections by reason and the latch (from the rail's
/// [`Witnesses`](mig06_rail::witness::Witnesses)), the quorum and how many cosigned the last
/// batch, and per witness its submissions by result and their latency.
pub(crate) fn render_witnesses(
    s: &mut String,
    witnesses: &mig06_rail::witness::Witnesses,
    stats: &WitnessStats,
) {
    let _ = writeln!(
        s,
        "# HELP mig06_witness_detections_total Evidence of a rolled-back or forked log, by reason (each refuses attempts ABORTED_LOG_ROLLBACK until restart).\n# TYPE mig06_witness_detections_total counter"
    );
    for (tamper, n) in witnesses.detections_by_kind() {
        let _ = writeln!(
            s,
            "mig06_witness_detections_total{{reason=\"{}\"}} {n}",
            tamper.reason().code()
        );
    }
    let _ = writeln!(
        s,
        "# HELP mig06_witness_rollback_latched 1 once a rollback or fork was detected: every attempt is refused until an operator acts and restarts the rail.\n# TYPE mig06_witness_rollback_latched gauge\nmig06_witness_rollback_latched {}",
        u8::from(witnesses.tampered().is_some())
    );
    let _ = writeln!(
        s,
        "# HELP mig06_witness_quorum Witnesses that must cosign before a step executes.\n# TYPE mig06_witness_quorum gauge\nmig06_witness_quorum {}",
        witnesses.quorum()
    );
    if let Some(n) = witnesses.last_cosigned() {
        let _ = writeln!(
            s,
            "# HELP mig06_witness_last_batch_cosigners Witnesses that cosigned the last audit batch submitted to them.\n# TYPE mig06_witness_last_batch_cosigners gauge\nmig06_witness_last_batch_cosigners {n}"
        );
    }
    if stats.names.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "# HELP mig06_witness_submissions_total add-checkpoint submissions to each witness, by result.\n# TYPE mig06_witness_submissions_total counter"
    );
    for (name, w) in stats.names.iter().zip(&stats.series) {
        for (result, n) in SubmissionResult::ALL.iter().zip(&w.results) {
            let _ = writeln!(
                s,
                "mig06_witness_submissions_total{{witness=\"{}\",result=\"{}\"}} {}",
                label_value(name),
                result.as_str(),
                n.load(Ordering::Relaxed)
            );
        }
    }
    let _ = writeln!(
        s,
        "# HELP mig06_witness_submission_duration_seconds The add-checkpoint round trip to each witness (cosign latency), whatever its result.\n# TYPE mig06_witness_submission_duration_seconds histogram"
    );
    for (name, w) in stats.names.iter().zip(&stats.series) {
        let labels = format!("witness=\"{}\",", label_value(name));
        w.latency.render(
            s,
            "mig06_witness_submission_duration_seconds",
            &labels,
            &BUCKETS,
        );
    }
}

/// A label value as Prometheus text needs it (these come from the configuration, not requests).
fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The typed fields of one library event that the metrics read.
#[derive(Default)]
struct Fields {
    event: Option<&'static str>,
    executor: Option<String>,
    stage_us: [Option<u64>; Stage::ALL.len()],
    batch_records: Option<u64>,
    append_seconds: Option<f64>,
    failed: bool,
    records: Option<u64>,
    interrupted: Option<u64>,
    torn: Option<u64>,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        let name = field.name();
        if let Some(i) = Stage::ALL
            .iter()
            .position(|s| name.strip_suffix("_us") == Some(s.as_str()))
            && let Some(slot) = self.stage_us.get_mut(i)
        {
            *slot = Some(value);
            return;
        }
        match name {
            "batch_records" => self.batch_records = Some(value),
            "records" => self.records = Some(value),
            "interrupted_ended" => self.interrupted = Some(value),
            "torn_tail_bytes" => self.torn = Some(value),
            _ => {}
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "append_seconds" {
            self.append_seconds = Some(value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "executor" => self.executor = Some(value.to_owned()),
            "event" => {
                self.event = [
                    "attempt_finished",
                    "audit_batch",
                    "audit_batch_failed",
                    "audit_store_opened",
                    "pg_reconnect",
                ]
                .into_iter()
                .find(|e| *e == value);
            }
            "error" => self.failed = true,
            _ => {}
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

/// Feeds the metrics from the library's events (`mig06::attempt`, `mig06::audit`), whatever the
/// log level of the operations log: it is its own layer with its own filter.
pub(super) struct MetricsLayer(pub(super) std::sync::Arc<Metrics>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for MetricsLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let target = event.metadata().target();
        if target != ATTEMPT_TARGET && target != AUDIT_TARGET {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let m = &self.0;
        match f.event {
            Some("attempt_finished") => {
                for (us, h) in f.stage_us.iter().zip(&m.stages) {
                    if let Some(us) = us {
                        #[expect(
                            clippy::cast_precision_loss,
                            reason = "microseconds to seconds for Prometheus"
                        )]
                        h.observe(&BUCKETS, *us as f64 / 1e6);
                    }
                }
                let execute = Stage::ALL
                    .iter()
                    .position(|s| *s == Stage::Execute)
                    .and_then(|i| f.stage_us.get(i).copied().flatten());
                if let (Some(us), Some(class)) = (execute, f.executor.as_deref()) {
                    let i = if class == "completed" {
                        Some(0)
                    } else {
                        ALL_CODES
                            .iter()
                            .position(|c| c.as_str() == class)
                            .map(|i| i + 1)
                    };
                    if let Some(h) = i.and_then(|i| m.executor.get(i)) {
                        #[expect(
                            clippy::cast_precision_loss,
                            reason = "microseconds to seconds for Prometheus"
                        )]
                        h.observe(&BUCKETS, us as f64 / 1e6);
                    }
                }
            }
            Some("audit_batch" | "audit_batch_failed") => {
                if let Some(n) = f.batch_records {
                    #[expect(
                        clippy::cast_precision_loss,
                        reason = "a batch size is far below 2^52"
                    )]
                    m.batch_records.observe(&BATCH_BUCKETS, n as f64);
                }
                if let Some(secs) = f.append_seconds {
                    m.batch_seconds.observe(&BUCKETS, secs);
                }
                if f.failed {
                    bump(&m.batches_failed);
                }
            }
            Some("audit_store_opened") => {
                m.startup_records
                    .store(f.records.unwrap_or(0), Ordering::Relaxed);
                m.startup_interrupted
                    .store(f.interrupted.unwrap_or(0), Ordering::Relaxed);
                m.startup_torn_bytes
                    .store(f.torn.unwrap_or(0), Ordering::Relaxed);
            }
            Some("pg_reconnect") => bump(&m.pg_reconnects),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_counts_and_histogram() {
        let m = Metrics::default();
        m.record(TerminalCode::CompletedDraft, Instant::now());
        let text = m.render();
        assert!(text.contains("mig06_attempts_total{code=\"COMPLETED_DRAFT\"} 1"));
        assert!(text.contains("mig06_attempt_duration_seconds_count 1"));
        assert!(text.contains("mig06_attempt_duration_seconds_bucket{le=\"+Inf\"} 1"));
        assert!(text.contains("mig06_attempt_stage_duration_seconds_count{stage=\"parse\"} 0"));
    }

    #[test]
    fn witness_metrics_count_by_witness_and_result() {
        let w = mig06_rail::witness::Witnesses::none();
        w.latch(mig06_rail::witness::Tamper::EvidenceBeyondLog);
        let stats = WitnessStats::new(vec!["w.example/a".into(), "w.example/\"b\"".into()]);
        stats.record(0, SubmissionResult::Cosigned, 0.002);
        stats.record(0, SubmissionResult::Cosigned, 0.004);
        stats.record(1, SubmissionResult::Unavailable, 0.5);
        stats.record(7, SubmissionResult::Refused, 0.5);
        let mut s = String::new();
        render_witnesses(&mut s, &w, &stats);
        assert!(
            s.contains("mig06_witness_detections_total{reason=\"evidence_beyond_log\"} 1"),
            "{s}"
        );
        assert!(s.contains("mig06_witness_detections_total{reason=\"witness_disagrees\"} 0"));
        assert!(s.contains("mig06_witness_rollback_latched 1"));
        assert!(s.contains(
            "mig06_witness_submissions_total{witness=\"w.example/a\",result=\"cosigned\"} 2"
        ));
        assert!(s.contains(
            "mig06_witness_submissions_total{witness=\"w.example/\\\"b\\\"\",result=\"unavailable\"} 1"
        ));
        assert!(s.contains(
            "mig06_witness_submission_duration_seconds_count{witness=\"w.example/a\"} 2"
        ));
    }
}
