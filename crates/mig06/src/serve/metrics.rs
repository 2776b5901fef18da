//! The service's Prometheus counters.
//!
//! The decision that matters: atomics only, updated on the request path and read when
//! `/metrics` is scraped; no background task, no lock, nothing that could delay or queue an
//! attempt. Attempts are counted per terminal code from the library's own list of codes, so a new
//! code appears here without an edit.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use mig06_rail::outcome::{ALL_CODES, TerminalCode};

/// Upper bounds (seconds) of the attempt latency histogram buckets.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The counters: attempts per terminal code, requests and connections refused before any
/// attempt existed, and the attempt latency histogram.
#[derive(Default)]
pub(super) struct Metrics {
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
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Counts one more.
pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// Counts an attempt that ended with `code`, having started at `started`.
    pub(super) fn record(&self, code: TerminalCode, started: Instant) {
        if let Some(c) = ALL_CODES
            .iter()
            .position(|c| *c == code)
            .and_then(|i| self.codes.get(i))
        {
            bump(c);
        }
        let elapsed = started.elapsed();
        let secs = elapsed.as_secs_f64();
        for (bound, b) in BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                bump(b);
            }
        }
        bump(&self.count);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4) of every counter.
    pub(super) fn render(&self) -> String {
        let mut s = String::with_capacity(4096);
        self.render_attempts(&mut s);
        self.render_refusals(&mut s);
        self.render_latency(&mut s);
        s
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
    }

    fn render_latency(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "# HELP mig06_attempt_duration_seconds Attempt latency, authentication to terminal outcome.\n# TYPE mig06_attempt_duration_seconds histogram"
        );
        for (bound, b) in BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(
                s,
                "mig06_attempt_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                b.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            s,
            "mig06_attempt_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        #[expect(
            clippy::cast_precision_loss,
            reason = "a latency sum in seconds for Prometheus; f64 precision is ample"
        )]
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(s, "mig06_attempt_duration_seconds_sum {sum}");
        let _ = writeln!(s, "mig06_attempt_duration_seconds_count {count}");
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
    }
}
