//! The operations log of `mig06 serve`: JSON lines (or text) on stderr, and the metrics layer.
//!
//! The decision that matters: one synchronous subscriber, no background writer or queue. A line
//! is written by the thread that emits it, after the attempt's outcome is decided and recorded,
//! and a failed write is ignored by the writer: no outcome depends on whether a line was
//! written. Every field is one of a closed set (ids, codes, reason codes, durations, counts,
//! sizes, the peer address and the W3C trace id); handlers never log a request's body, path
//! or header values.

use std::sync::Arc;

use anyhow::{Context, Result};
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, Registry};

use mig06_rail::config::TelemetryConfig;

use super::metrics::{Metrics, MetricsLayer};
use super::otlp::Export;

/// The operations log's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// One JSON object per line (the default: for log shippers).
    Json,
    /// Human-readable lines.
    Text,
}

/// The tracing target of the server's own events (access lines, admission, connections).
pub(super) const SERVE_TARGET: &str = "mig06::serve";

/// Installs the process's subscriber: the operations log on stderr at `level` (or `RUST_LOG`
/// when `level` is not given; `info` when neither is), the metrics layer, which reads the
/// library's events whatever the log level, and, when `[telemetry] otlp_endpoint` is set, the
/// trace export ([`super::otlp`]), whose handle is returned to be stopped at shutdown.
///
/// # Errors
/// An invalid `--log-level` or `RUST_LOG` directive, an exporter that could not be built, or a
/// subscriber already installed.
pub(crate) fn install(
    format: LogFormat,
    level: Option<&str>,
    metrics: Arc<Metrics>,
    telemetry: &TelemetryConfig,
) -> Result<Option<Export>> {
    let filter = match level {
        Some(level) => EnvFilter::try_new(level).context("--log-level")?,
        None => match std::env::var("RUST_LOG") {
            Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(v).context("RUST_LOG")?,
            _ => EnvFilter::new("info"),
        },
    };
    let log = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(|| StderrLines)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(|| StderrLines)
            .with_filter(filter)
            .boxed(),
    };
    let feeds = Targets::new()
        .with_target(mig06_rail::telemetry::ATTEMPT_TARGET, tracing::Level::INFO)
        .with_target(mig06_rail::telemetry::AUDIT_TARGET, tracing::Level::INFO);
    let (export, tracer) = match Export::start(telemetry, Arc::clone(&metrics.otlp))? {
        Some((export, tracer)) => (Some(export), Some(tracer)),
        None => (None, None),
    };
    // The rail's spans (the attempt, its stages at debug level) and the events inside them;
    // nothing else becomes a span.
    let traced = tracer.map(|tracer| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_context_activation(false)
            .with_threads(false)
            .with_filter(Targets::new().with_target("mig06", tracing::Level::DEBUG))
    });
    let subscriber = Registry::default()
        .with(log)
        .with(MetricsLayer(metrics).with_filter(feeds))
        .with(traced);
    tracing::subscriber::set_global_default(subscriber)
        .context("the operations log was already installed")?;
    Ok(export)
}

/// Lines the operations log dropped because stderr would have blocked.
static DROPPED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Lines dropped so far because stderr would have blocked (`mig06_log_lines_dropped_total`).
pub(super) fn dropped_lines() -> u64 {
    DROPPED.load(std::sync::atomic::Ordering::Relaxed)
}

// INV-TELEMETRY-NEVER-BLOCKS: a line stderr cannot take now is dropped and counted, never waited
// for.
/// Writes each log line to stderr only when stderr can take it now: a full pipe (a stalled log
/// shipper) costs a dropped, counted line, never a stalled attempt. A line is one `write` of
/// at most a few hundred bytes, below `PIPE_BUF`, so a pipe that polls writable takes it whole.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct StderrLines;

impl std::io::Write for StderrLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use std::os::fd::AsFd;
        let stderr = std::io::stderr();
        let writable = {
            let fd = stderr.as_fd();
            let mut fds = [rustix::event::PollFd::new(
                &fd,
                rustix::event::PollFlags::OUT,
            )];
            let zero = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(1))
                && fds
                    .first()
                    .is_some_and(|f| f.revents().contains(rustix::event::PollFlags::OUT))
        };
        if writable {
            // A failed write is ignored: no outcome depends on a log line.
            let _ = stderr.lock().write_all(buf);
        } else {
            DROPPED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
