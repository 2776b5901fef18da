//! What the rail tells the people who run it: `tracing` events with a closed set of typed
//! fields, and the W3C trace context an attempt runs in.
//!
//! The decision that matters: the library emits events and never installs a subscriber, keeps
//! no queue and starts no thread; whether an event is written anywhere is the binary's business,
//! and nothing here can change an attempt's outcome (emitting returns nothing). An event holds
//! only ids, codes, reason codes, field paths the rail built, durations, counts and sizes: never
//! a request value, a header value or a credential.
//!
//! Targets (stable, the binary's metrics read them): `mig06::attempt` (one event per attempt,
//! with every stage's duration, and one `debug` span per stage), `mig06::audit` (one event per
//! audit batch, and the store's start-up).

use std::time::{Duration, Instant};

use mig06_tlog::Hash;

use crate::audit::file::OpenReport;
use crate::audit::{Appended, AuditError, AuditRecord, AuditStore};
use crate::ids::{AttemptId, TraceId};
use crate::outcome::{CodeClass, Effect, Outcome, TerminalCode};

/// The tracing target of the per-attempt event.
pub const ATTEMPT_TARGET: &str = "mig06::attempt";
/// The tracing target of the audit store's events.
pub const AUDIT_TARGET: &str = "mig06::audit";

/// A stage of an attempt, in the order the rail runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Parsing the request into closed types and the PHI scan.
    Parse,
    /// Verifying a continuation's evidence against this log.
    ContinuationCheck,
    /// The caller's registration and both Cedar decisions.
    PolicyGate,
    /// Writing the open record until it is durable.
    OpenAppend,
    /// The executor's one call and the receipt check.
    Execute,
    /// Writing the terminal record until it is durable.
    TerminalAppend,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Self; 6] = [
        Self::Parse,
        Self::ContinuationCheck,
        Self::PolicyGate,
        Self::OpenAppend,
        Self::Execute,
        Self::TerminalAppend,
    ];

    /// The stage's stable name (a log field prefix and a metric label).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Parse => "parse",
            Self::ContinuationCheck => "continuation_check",
            Self::PolicyGate => "policy_gate",
            Self::OpenAppend => "open_append",
            Self::Execute => "execute",
            Self::TerminalAppend => "terminal_append",
        }
    }

    const fn index(self) -> usize {
        match self {
            Self::Parse => 0,
            Self::ContinuationCheck => 1,
            Self::PolicyGate => 2,
            Self::OpenAppend => 3,
            Self::Execute => 4,
            Self::TerminalAppend => 5,
        }
    }
}

/// How long each stage an attempt reached took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageTimes([Option<Duration>; 6]);

impl StageTimes {
    /// Runs `f` as `stage`, noting how long it took, in a `debug` span named after the stage
    /// (a child of the attempt's span when the binary exports traces; disabled, and free,
    /// otherwise).
    pub fn time<T>(&mut self, stage: Stage, f: impl FnOnce() -> T) -> T {
        let span = tracing::debug_span!(
            target: ATTEMPT_TARGET,
            "mig06.stage",
            otel.name = stage.as_str(),
            stage = stage.as_str()
        );
        let start = Instant::now();
        let out = span.in_scope(f);
        if let Some(slot) = self.0.get_mut(stage.index()) {
            *slot = Some(start.elapsed());
        }
        out
    }

    /// How long `stage` took, if the attempt reached it.
    #[must_use]
    pub fn get(&self, stage: Stage) -> Option<Duration> {
        self.0.get(stage.index()).copied().flatten()
    }
}

/// What the executor's one call came to, as a closed class (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorOutcome {
    /// The attempt ended before its step ran.
    NotRun,
    /// The downstream answered with a receipt the rail accepted.
    Completed,
    /// The call failed, answered late, or its receipt was refused: the code the attempt ends
    /// with.
    Ended(TerminalCode),
}

impl ExecutorOutcome {
    /// The class's stable name: `not_run`, `completed`, or the terminal code.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotRun => "not_run",
            Self::Completed => "completed",
            Self::Ended(code) => code.as_str(),
        }
    }
}

/// The stable name of a terminal code's class.
fn class_str(code: TerminalCode) -> &'static str {
    match code.class() {
        CodeClass::Completed => "completed",
        CodeClass::Denied => "denied",
        CodeClass::Aborted => "aborted",
    }
}

fn micros(d: Option<Duration>) -> Option<u64> {
    d.map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Emits the attempt's one event: its outcome, the policies that decided, the executor's class,
/// every stage's duration in microseconds (a stage the attempt did not reach is absent), and the
/// leaf index of its terminal record (`record_index`), which falls in the leaf range of the audit
/// batch it joined (`audit_batch`: `first_index .. first_index + batch_records`).
/// Fields: ids, codes, reason codes, a field path the rail built, durations, leaf indices.
pub fn attempt_finished(
    outcome: &Outcome,
    caller: &str,
    times: &StageTimes,
    executor: ExecutorOutcome,
    trace_id: Option<&str>,
    record_index: Option<u64>,
) {
    let policies = outcome.decision.as_ref().map(|d| d.policies.join(","));
    let effect = outcome.decision.as_ref().map(|d| match d.effect {
        Effect::Permit => "permit",
        Effect::Deny => "deny",
    });
    let reason = outcome.detail.as_ref().map(|d| d.reason.code());
    let field = outcome.detail.as_ref().map(|d| d.field.as_str());
    tracing::info!(
        target: ATTEMPT_TARGET,
        event = "attempt_finished",
        attempt_id = outcome.attempt_id.as_str(),
        caller_id = caller,
        code = outcome.code.as_str(),
        class = class_str(outcome.code),
        reason,
        field,
        decision = effect,
        policy_ids = policies.as_deref(),
        executor = executor.as_str(),
        recorded = outcome.recorded,
        depth = outcome.provenance.depth,
        continues = outcome.provenance.continues.as_ref().map(AttemptId::as_str),
        trace_id,
        record_index,
        parse_us = micros(times.get(Stage::Parse)),
        continuation_check_us = micros(times.get(Stage::ContinuationCheck)),
        policy_gate_us = micros(times.get(Stage::PolicyGate)),
        open_append_us = micros(times.get(Stage::OpenAppend)),
        execute_us = micros(times.get(Stage::Execute)),
        terminal_append_us = micros(times.get(Stage::TerminalAppend)),
        "attempt finished"
    );
    if !outcome.recorded || outcome.code.class() == CodeClass::Aborted {
        tracing::warn!(
            target: ATTEMPT_TARGET,
            event = "fail_closed",
            attempt_id = outcome.attempt_id.as_str(),
            code = outcome.code.as_str(),
            reason,
            field,
            recorded = outcome.recorded,
            "attempt failed closed"
        );
    }
}

/// Emits what opening the audit store found.
pub fn store_opened(report: &OpenReport, backend: &'static str) {
    tracing::info!(
        target: AUDIT_TARGET,
        event = "audit_store_opened",
        backend,
        records = report.records,
        torn_tail_bytes = report.torn_tail_cut,
        interrupted_ended = report.interrupted_ended,
        uncovered_signed = report.uncovered_signed,
        resumed_from_index = report.resumed_from_index,
        index_rebuilt = report.index_rebuilt.is_some(),
        "audit store opened"
    );
}

/// A stable code for an audit store error (a log field and a metric label); never the error's
/// text, which may hold a database's message.
#[must_use]
pub fn audit_error_code(e: &AuditError) -> &'static str {
    match e {
        AuditError::Io { .. } => "io",
        AuditError::Corrupt { .. } => "corrupt",
        AuditError::CheckpointMismatch { .. } => "checkpoint_mismatch",
        AuditError::KeyRotated { .. } => "key_rotated",
        AuditError::Backend { .. } => "backend",
        AuditError::Encode => "encode",
        AuditError::NoResult => "no_result",
        AuditError::Rule(_) => "rule",
        AuditError::WitnessUnconfirmed => "witness_unconfirmed",
        AuditError::Tampered(_) => "log_rollback",
        AuditError::BoundPassed { .. } => "bound_passed",
    }
}

/// An audit store that reports each batch it commits (records, the leaf range, how long the
/// store took, and the error code when it failed) as a `mig06::audit` event. It changes
/// nothing about what the store does or answers.
pub struct ObservedStore {
    inner: Box<dyn AuditStore>,
}

impl ObservedStore {
    /// Wraps `inner`.
    #[must_use]
    pub fn new(inner: Box<dyn AuditStore>) -> Self {
        Self { inner }
    }
}

/// Emits one batch event.
fn batch_event(records: usize, started: Instant, results: &[Result<Appended, AuditError>]) {
    let seconds = started.elapsed().as_secs_f64();
    let first_index = results
        .iter()
        .find_map(|r| r.as_ref().ok())
        .map(|a| a.index);
    let failed = results.iter().filter(|r| r.is_err()).count();
    let error = results.iter().find_map(|r| r.as_ref().err());
    match error {
        None => tracing::info!(
            target: AUDIT_TARGET,
            event = "audit_batch",
            batch_records = records,
            first_index,
            append_seconds = seconds,
            "audit batch committed"
        ),
        Some(e) => tracing::warn!(
            target: AUDIT_TARGET,
            event = "audit_batch_failed",
            batch_records = records,
            first_index,
            failed_records = failed,
            append_seconds = seconds,
            error = audit_error_code(e),
            "audit batch not confirmed"
        ),
    }
}

impl AuditStore for ObservedStore {
    fn append(&mut self, record: AuditRecord) -> Result<Appended, AuditError> {
        let started = Instant::now();
        let result = self.inner.append(record);
        batch_event(1, started, std::slice::from_ref(&result));
        result
    }

    fn append_batch(
        &mut self,
        records: Vec<AuditRecord>,
        bound: crate::executor::Deadline,
    ) -> Vec<Result<Appended, AuditError>> {
        let started = Instant::now();
        let n = records.len();
        let results = self.inner.append_batch(records, bound);
        batch_event(n, started, &results);
        results
    }

    fn bound_reads(&mut self, bound: Option<crate::executor::Deadline>) {
        self.inner.bound_reads(bound);
    }

    fn is_claim_held(&mut self, prior: &AttemptId) -> Result<bool, AuditError> {
        self.inner.is_claim_held(prior)
    }

    fn request_id_holder(
        &mut self,
        request_id: &crate::ids::RequestId,
    ) -> Result<Option<AttemptId>, AuditError> {
        self.inner.request_id_holder(request_id)
    }

    fn witness_checkpoint(
        &mut self,
        at_least: u64,
    ) -> Result<crate::witness::WitnessCheckpoint, AuditError> {
        self.inner.witness_checkpoint(at_least)
    }

    fn consistency_proof(&mut self, old: u64, new: u64) -> Result<Vec<Hash>, AuditError> {
        self.inner.consistency_proof(old, new)
    }

    fn inclusion_proof(&mut self, index: u64, size: u64) -> Result<Vec<Hash>, AuditError> {
        self.inner.inclusion_proof(index, size)
    }

    fn root_at(&mut self, size: u64) -> Result<Hash, AuditError> {
        self.inner.root_at(size)
    }

    fn leaf_at(&mut self, index: u64) -> Result<Hash, AuditError> {
        self.inner.leaf_at(index)
    }

    fn verifier_key(&self) -> String {
        self.inner.verifier_key()
    }

    fn syncs(&self) -> Option<u64> {
        self.inner.syncs()
    }

    fn ready(&mut self) -> Result<(), AuditError> {
        self.inner.ready()
    }
}

/// A W3C trace context (`traceparent`, `tracestate`): the trace an attempt belongs to, the
/// caller's span it is a child of, and the attempt's own span id, which is the parent the
/// downstream sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    parent_id: Option<[u8; 8]>,
    span_id: [u8; 8],
    flags: u8,
    state: Option<String>,
}

/// The longest `tracestate` kept (W3C: a vendor may drop one longer than 512 characters).
const MAX_TRACESTATE: usize = 512;

fn nonzero<const N: usize>(mut id: [u8; N]) -> [u8; N] {
    if id.iter().all(|b| *b == 0)
        && let Some(last) = id.last_mut()
    {
        *last = 1;
    }
    id
}

fn parse_hex<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    if text.len() != 2 * N
        || !text
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

impl TraceContext {
    /// A new trace: random trace and span ids, sampled.
    #[must_use]
    pub fn new_root() -> Self {
        Self {
            trace_id: nonzero(rand::random()),
            parent_id: None,
            span_id: nonzero(rand::random()),
            flags: 1,
            state: None,
        }
    }

    /// The attempt's context from a request's `traceparent` and `tracestate` header values: a
    /// child of the caller's span when `traceparent` is well formed (version `00`, or a later
    /// version read as `00`; ids lowercase hex and not all zero), otherwise a new trace, and
    /// then `tracestate` is dropped as W3C asks. A `tracestate` longer than 512 bytes or with a
    /// byte outside printable ASCII is dropped.
    #[must_use]
    pub fn from_headers(traceparent: Option<&[u8]>, tracestate: Option<&[u8]>) -> Self {
        let Some((trace_id, parent_id, flags)) = traceparent.and_then(Self::parse_traceparent)
        else {
            return Self::new_root();
        };
        let state = tracestate
            .filter(|s| s.len() <= MAX_TRACESTATE && s.iter().all(|b| (0x20..0x7f).contains(b)))
            .and_then(|s| std::str::from_utf8(s).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        Self {
            trace_id,
            parent_id: Some(parent_id),
            span_id: nonzero(rand::random()),
            flags,
            state,
        }
    }

    // INV-PHI-ABORT: a `tracestate` is a value the caller chose and goes to the downstream
    // unchanged, so it goes only when the PHI scanner finds nothing in it (the whole header and
    // each list member's value under its key); otherwise it is dropped, never echoed. The
    // attempt itself goes on: a trace header is no part of the request.
    /// This context, without its `tracestate` when `phi` finds anything in it.
    #[must_use]
    pub fn scrubbed(&self, phi: &dyn crate::phi_scan::PhiScan) -> Self {
        let carries_phi = self.state.as_deref().is_some_and(|state| {
            !phi.kinds(Some("tracestate"), state).is_empty()
                || state.split(',').any(|member| {
                    let (key, value) = member.split_once('=').unwrap_or(("", member));
                    !phi.kinds(Some(key.trim()), value.trim()).is_empty()
                })
        });
        let mut out = self.clone();
        if carries_phi {
            out.state = None;
        }
        out
    }

    fn parse_traceparent(v: &[u8]) -> Option<([u8; 16], [u8; 8], u8)> {
        let v = v.trim_ascii();
        let mut parts = v.split(|b| *b == b'-');
        let version: [u8; 1] = parse_hex(parts.next()?)?;
        let trace: [u8; 16] = parse_hex(parts.next()?)?;
        let parent: [u8; 8] = parse_hex(parts.next()?)?;
        let flags: [u8; 1] = parse_hex(parts.next()?)?;
        let rest = parts.next();
        // Version 00 has exactly four parts; a later version may append more; ff is invalid.
        let ok_version = match version {
            [0] => rest.is_none(),
            [0xff] => false,
            _ => true,
        };
        let zero = trace.iter().all(|b| *b == 0) || parent.iter().all(|b| *b == 0);
        (ok_version && !zero).then_some((trace, parent, flags[0] & 1))
    }

    /// The trace id: 32 lowercase hex digits, not all zero.
    #[must_use]
    pub fn trace_id(&self) -> String {
        hex::encode(self.trace_id)
    }

    /// The trace id as an audit record carries it; `None` only for an all-zero id, which no
    /// context holds.
    #[must_use]
    pub fn record_id(&self) -> Option<TraceId> {
        TraceId::from_bytes(self.trace_id)
    }

    /// The trace id's bytes.
    #[must_use]
    pub fn trace_id_bytes(&self) -> [u8; 16] {
        self.trace_id
    }

    /// The caller's span id's bytes, when the request carried one.
    #[must_use]
    pub fn parent_id_bytes(&self) -> Option<[u8; 8]> {
        self.parent_id
    }

    /// The same context with the attempt's span given the ids a tracer assigned it (the
    /// binary's OpenTelemetry export: the span it exports is the attempt's span, and the
    /// downstream's parent). An all-zero id is replaced as [`TraceContext::new_root`] would.
    #[must_use]
    pub fn with_ids(mut self, trace_id: [u8; 16], span_id: [u8; 8]) -> Self {
        self.trace_id = nonzero(trace_id);
        self.span_id = nonzero(span_id);
        self
    }

    /// The attempt's own span id: 16 lowercase hex digits.
    #[must_use]
    pub fn span_id(&self) -> String {
        hex::encode(self.span_id)
    }

    /// The caller's span id this attempt is a child of, when the request carried one.
    #[must_use]
    pub fn parent_id(&self) -> Option<String> {
        self.parent_id.map(hex::encode)
    }

    /// Whether the caller asked for the trace to be sampled (a new trace always is).
    #[must_use]
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The `traceparent` to send downstream: this trace, the attempt's span as the parent.
    #[must_use]
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id(),
            self.span_id(),
            self.flags & 1
        )
    }

    /// The `tracestate` to send downstream, passed on unchanged.
    #[must_use]
    pub fn tracestate(&self) -> Option<&str> {
        self.state.as_deref()
    }
}
