//! The attempt as a typestate: each stage is a type, each transition takes `self`.
//!
//! The decision that matters: the compiler, not a runtime flag, guarantees the outline's
//! terminal determinism. An attempt moves forward only (`Received → Parsed → Checked →
//! Permitted → Opened → Executed`), every failure moves it to `Ending`, and `Ending::record`
//! is the only way to `Terminal`, which has no method that leads anywhere else. `Attempt` is not
//! `Clone`, so a stage cannot be kept and replayed.
//!
//! A terminal attempt cannot be executed again:
//! ```compile_fail
//! fn f(t: mig06_rail::attempt::Attempt<mig06_rail::attempt::Terminal>) {
//!     let _ = t.execute();
//! }
//! ```
//! An attempt cannot be cloned:
//! ```compile_fail
//! fn must_be_clone<T: Clone>() {}
//! must_be_clone::<mig06_rail::attempt::Attempt<mig06_rail::attempt::Opened>>();
//! ```
//! A terminal attempt has no way back to an earlier stage:
//! ```compile_fail
//! fn f(t: mig06_rail::attempt::Attempt<mig06_rail::attempt::Terminal>)
//!     -> mig06_rail::attempt::Attempt<mig06_rail::attempt::Permitted> {
//!     t.into()
//! }
//! ```
//! A stage is consumed by its transition, so it cannot be used twice:
//! ```compile_fail
//! fn f(a: mig06_rail::attempt::Attempt<mig06_rail::attempt::Executed>) {
//!     let _one = a.complete();
//!     let _two = a.complete();
//! }
//! ```
//! The terminal outcome is all a terminal attempt gives:
//! ```
//! fn f(t: mig06_rail::attempt::Attempt<mig06_rail::attempt::Terminal>) -> mig06_rail::outcome::Outcome {
//!     t.into_outcome()
//! }
//! ```
//!
//! INV-FAIL-CLOSED: Fail closed at every boundary.
//!
//! INV-NO-RETRY: No implicit or explicit retries for policy, execution, audit or any downstream
//! boundary.
//!
//! INV-DRAFT-ONLY: Output is draft-only.
//!
//! INV-CONT-NOT-RETRY: A continuation must not behave like a retry.

#![expect(
    clippy::result_large_err,
    reason = "an attempt moves through a handful of stages once per request; boxing buys nothing"
)]

use std::cell::Cell;

use mig06_tlog::rotation::LogKeys;

use crate::audit::group::GroupCommit;
use crate::audit::rules::RuleViolation;
use crate::audit::{Appended, AuditError, AuditRecord, TERMINAL_APPEND_MARGIN};
use crate::auth::AuthenticatedCaller;
use crate::evidence;
use crate::executor::{Deadline, Executor, Receipt, StepInput};
use crate::ids::{AttemptId, RequestId, Sha256Digest};
use crate::outcome::{DecisionSignal, Detail, Effect, Outcome, Provenance, Reason, TerminalCode};
use crate::policy::{ContinuationFacts, PolicyGate};
use crate::request::{self, AttemptRequest, PhiScan, Trigger};
use crate::telemetry::TraceContext;
use crate::witness::Tamper;

/// The shared audit store: concurrent appends are committed in groups, one `fdatasync` each.
pub type SharedStore = GroupCommit;

/// An attempt in stage `S`.
#[derive(Debug)]
pub struct Attempt<S> {
    core: Core,
    state: S,
}

#[derive(Debug)]
struct Core {
    id: AttemptId,
    caller: AuthenticatedCaller,
    deadline: Deadline,
    policy_digest: Sha256Digest,
    trigger: Option<Trigger>,
    action: Option<request::Code>,
    fingerprint: Option<Sha256Digest>,
    decision: Option<DecisionSignal>,
    /// Set from the verified prior as soon as its evidence verified, whatever the outcome.
    provenance: Provenance,
    reason: Option<request::ContinuationReason>,
    /// Whether this attempt's records hold the claim on `provenance.continues`: set once the
    /// attempt passed registration, the trigger gate and the claim check.
    holds_claim: bool,
    /// The request's id, once it parsed.
    request_id: Option<RequestId>,
    /// Whether this attempt's records hold `request_id`: from the parse on, until the log shows
    /// another attempt holds it.
    holds_request_id: bool,
    /// The attempt that holds `request_id` when it is not this one.
    request_id_holder: Option<AttemptId>,
    /// The W3C trace context the attempt runs in (its trace id goes on its records).
    trace: Option<TraceContext>,
}

/// Received: the caller is authenticated, nothing else is known.
#[derive(Debug)]
pub struct Received;
/// Parsed: the request is in closed types.
#[derive(Debug)]
pub struct Parsed {
    request: AttemptRequest,
}
/// Checked: a continuation's evidence verified against this log (or not a continuation).
#[derive(Debug)]
pub struct Checked {
    request: AttemptRequest,
    facts: ContinuationFacts,
    /// Whether another attempt already held the prior's claim when the evidence was checked
    /// (a hint the gate acts on in its order; the store decides at append).
    claim_held: bool,
}
/// Permitted: trigger and step allowed by registration and policy.
#[derive(Debug)]
pub struct Permitted {
    request: AttemptRequest,
}
/// Opened: the open record is durable; the step may run once.
#[derive(Debug)]
pub struct Opened {
    request: AttemptRequest,
}
/// Executed: the step returned a checked draft-only receipt.
#[derive(Debug)]
pub struct Executed {
    receipt: Receipt,
}
/// Ending: the terminal code is decided; the terminal record is not yet written.
#[derive(Debug)]
pub struct Ending(Ended);

/// How an attempt ends.
#[derive(Debug)]
enum Ended {
    /// With a code its terminal record will carry.
    Decided {
        code: TerminalCode,
        detail: Option<Detail>,
        receipt: Option<Receipt>,
    },
    /// The store did not confirm the open record: nothing more is written for the attempt,
    /// and it ends `ABORTED_AUDIT_UNCONFIRMED`.
    OpenUnconfirmed,
}
/// Terminal: the attempt's one outcome. No transition leaves this state.
#[derive(Debug)]
pub struct Terminal {
    outcome: Outcome,
    /// The terminal record's leaf index, when it is durable.
    record_index: Option<u64>,
}

/// Whether a terminal record was written, for the rail's panic handler.
#[derive(Debug, Default)]
pub struct TerminalFlag(Cell<bool>);

impl TerminalFlag {
    /// Whether the attempt's terminal record is written.
    #[must_use]
    pub fn is_set(&self) -> bool {
        self.0.get()
    }
}

/// What a stage returns: the attempt in its next stage, or ended.
type NextStage<S> = Result<Attempt<S>, Attempt<Ending>>;

impl<S> Attempt<S> {
    /// Ends the attempt `DENIED_REQUEST_ID_REUSED`: its records hold neither the request id
    /// nor a claim on a prior.
    fn refuse_request_id(mut self, holder: Option<AttemptId>) -> Attempt<Ending> {
        self.core.holds_request_id = false;
        self.core.holds_claim = false;
        self.core.request_id_holder = holder;
        self.end(
            TerminalCode::DeniedRequestIdReused,
            detail("$.request_id", Reason::RequestIdUsed),
        )
    }
    fn end(self, code: TerminalCode, detail: Option<Detail>) -> Attempt<Ending> {
        self.to(Ending(Ended::Decided {
            code,
            detail,
            receipt: None,
        }))
    }
    fn to<T>(self, state: T) -> Attempt<T> {
        self.map(|_| state)
    }
    /// The one forward transition of the state: the attempt's core carries over unchanged.
    fn map<T>(self, next: impl FnOnce(S) -> T) -> Attempt<T> {
        Attempt {
            core: self.core,
            state: next(self.state),
        }
    }
    /// The attempt's id.
    #[must_use]
    pub fn id(&self) -> &AttemptId {
        &self.core.id
    }
}

fn detail(field: &str, reason: Reason) -> Option<Detail> {
    Some(Detail::new(field, reason))
}

impl Attempt<Received> {
    /// A new attempt for an authenticated caller.
    #[must_use]
    pub fn receive(
        id: AttemptId,
        caller: AuthenticatedCaller,
        deadline: Deadline,
        policy_digest: Sha256Digest,
    ) -> Self {
        Self {
            core: Core {
                provenance: Provenance {
                    continues: None,
                    chain_root: id.clone(),
                    depth: 0,
                },
                id,
                caller,
                deadline,
                policy_digest,
                trigger: None,
                action: None,
                fingerprint: None,
                decision: None,
                reason: None,
                holds_claim: false,
                request_id: None,
                holds_request_id: false,
                request_id_holder: None,
                trace: None,
            },
            state: Received,
        }
    }

    /// The attempt runs in `trace`: its records carry the trace id, and the executor gets
    /// the context to pass downstream.
    #[must_use]
    pub fn with_trace(mut self, trace: Option<TraceContext>) -> Self {
        self.core.trace = trace;
        self
    }

    /// Parses the request into closed types; PHI anywhere aborts.
    ///
    /// # Errors
    /// The attempt, ending `DENIED_REQUEST_INVALID`, `DENIED_MULTI_STEP` or `ABORTED_PHI_DETECTED`.
    pub fn parse(
        mut self,
        bytes: &[u8],
        max_bytes: usize,
        gate: &PolicyGate,
        phi: &dyn PhiScan,
    ) -> NextStage<Parsed> {
        match request::parse_request(bytes, max_bytes, gate.vocabulary(), phi) {
            Ok(request) => {
                self.core.trigger = Some(request.trigger);
                self.core.action = Some(request.step.action.clone());
                self.core.fingerprint = Some(request.fingerprint());
                self.core.request_id = Some(request.request_id.clone());
                self.core.holds_request_id = true;
                Ok(self.to(Parsed { request }))
            }
            Err(r) => Err(self.end(r.code, Some(r.detail))),
        }
    }
}

impl Attempt<Parsed> {
    // INV-CONT-NEW-ATTEMPT: a continuation runs as a new attempt with its own id: it only cites the
    // prior through the prior's verified evidence.
    // INV-CONT-EVIDENCE: A continuation references prior terminal evidence that verifies against
    // this log.
    // INV-CONT-DEPTH: Continuation chains are bounded (no unbounded chaining).
    // INV-CONT-CHAIN: Continuations are judged at the level of the chain: every attempt that cites
    // a…
    /// Checks that no other attempt of this log holds the request id, then verifies a
    /// continuation's evidence against this log and derives its facts.
    ///
    /// A request id another attempt holds is refused here, before anything runs: the request
    /// was sent twice, and running it again would be a retry (INV-NO-RETRY). Nothing of the
    /// earlier attempt is replayed: the answer names it, and its outcome is in the log.
    ///
    /// Once the evidence verified, the attempt cites the prior whatever its outcome: its records
    /// carry `continues`, the prior's chain root and the prior's depth + 1. It does not claim
    /// the prior here: only [`Attempt::gate`] does, after the gates that can refuse the caller.
    ///
    /// # Errors
    /// The attempt, ending `DENIED_REQUEST_ID_REUSED`, `DENIED_CONTINUATION_INVALID` (a token
    /// that does not verify against this log, or a prior that is not continuable: see
    /// [`TerminalCode::is_continuable`]), or `ABORTED_AUDIT_UNCONFIRMED` when the log cannot
    /// be read.
    pub fn check_continuation(mut self, store: &SharedStore, keys: &LogKeys) -> NextStage<Checked> {
        // INV-WITNESSED: once the log was found rolled back or forked, nothing runs on it.
        if store.witnesses().tampered().is_some() {
            return Err(self.end(
                TerminalCode::AbortedLogRollback,
                detail("$audit", Reason::RollbackLatched),
            ));
        }
        // INV-NO-RETRY: a request id another attempt of this log holds is refused before
        // anything runs. Asked here only when the store is free: while a batch is being
        // committed the question would wait for its `fdatasync`, and the append of this
        // attempt's first record refuses a taken request id anyway (the attempt then ends
        // `DENIED_REQUEST_ID_REUSED` the same way, before its step runs).
        let rid = self.state.request.request_id.clone();
        match store.read_if_free(self.core.deadline, |s| s.request_id_holder(&rid)) {
            None | Some(Ok(None)) => {}
            Some(Ok(Some(holder))) => return Err(self.refuse_request_id(Some(holder))),
            Some(Err(_)) => {
                return Err(self.end(
                    TerminalCode::AbortedAuditUnconfirmed,
                    detail("$audit", Reason::LogUnreadable),
                ));
            }
        }
        let Some(cont) = self.state.request.continuation.clone() else {
            return Ok(self.map(|Parsed { request }| Checked {
                request,
                facts: ContinuationFacts::default(),
                claim_held: false,
            }));
        };
        let found = verified_in_log(&cont.evidence, store, keys, self.core.deadline);
        let (prior, claim_held) = match found {
            Ok(found) => found,
            Err((code, why)) => return Err(self.end(code, why)),
        };
        // The prior is verified: from here on, every outcome of this attempt cites it.
        let depth = prior.record.depth.saturating_add(1);
        self.core.provenance = Provenance {
            continues: Some(prior.attempt_id().clone()),
            chain_root: prior.record.chain_root.clone(),
            depth,
        };
        self.core.reason = Some(cont.reason);
        // Not continuable: a completed draft, a denial of the continuation rules or of the
        // trigger gate, and (defence in depth) any attempt that cited its prior without holding
        // the prior's claim. Each continuable attempt holds its prior's claim, so a chain is one
        // line and yields at most one completed draft.
        let cited_without_claim = prior.record.continues.is_some() && !prior.record.claim;
        if !prior.code.is_continuable() || cited_without_claim {
            return Err(self.end(
                TerminalCode::DeniedContinuationInvalid,
                detail("$.continuation.evidence", Reason::PriorNotContinuable),
            ));
        }
        let prior_fp = prior.fingerprint();
        let facts = ContinuationFacts {
            is_continuation: true,
            depth,
            prior_code: Some(prior.code),
            reason: Some(cont.reason),
            unchanged_request: unchanged_request(&prior, self.core.fingerprint),
            prior_request_known: prior_fp.is_some(),
            prior_caller: Some(prior.record.caller.clone()),
            same_caller: prior.record.caller == *self.core.caller.id(),
        };
        Ok(self.map(|Parsed { request }| Checked {
            request,
            facts,
            claim_held,
        }))
    }
}

// INV-CONT-NOT-RETRY: a continuation is unchanged only when it is the same request as its
// prior; this decides which continuations are retries.
/// Whether a continuation (which has parsed: it reached this check) repeats its prior's request
/// unchanged (see docs/OPERATIONS.md, "Continuations and chains").
///
/// A prior with a fingerprint is compared by fingerprint. A prior without one that ended at the
/// request stage (`DENIED_REQUEST_INVALID`, `DENIED_MULTI_STEP`, `ABORTED_PHI_DETECTED` on the
/// request) was refused by the parse, which is a function of the bytes and the configuration:
/// the same request would be refused there again, so one that parsed is amended. Any other
/// prior without a fingerprint (`ABORTED_INVARIANT`: the rail failed on an unexpected
/// condition, which the same request may or may not meet again) cannot be compared, and
/// counts as unchanged, failing closed.
fn unchanged_request(
    prior: &evidence::VerifiedEvidence,
    fingerprint: Option<Sha256Digest>,
) -> bool {
    match prior.fingerprint() {
        Some(fp) => Some(fp) == fingerprint,
        None => !prior.code.is_request_stage_refusal(),
    }
}

/// Whether a checkpoint this log's key signed (`size`, `root`) contradicts the log: beyond it,
/// or another root at its size. One rule for a verified token and for a signed checkpoint in a
/// token that is otherwise bad.
fn past_disagrees(
    s: &mut dyn crate::audit::AuditStore,
    size: u64,
    root: &crate::audit::Hash,
) -> Result<Option<Tamper>, AuditError> {
    match s.root_at(size) {
        Ok(ours) if ours == *root => Ok(None),
        Ok(_) => Ok(Some(Tamper::EvidenceRootMismatch)),
        Err(AuditError::Corrupt { .. }) => Ok(Some(Tamper::EvidenceBeyondLog)),
        Err(e) => Err(e),
    }
}

/// A continuation's prior: its evidence verifies under this log's key, and its record is in this
/// log at that index under that root. Also whether another attempt holds the prior's claim (a
/// hint; the store decides at append). The failure is the attempt's code and detail.
fn verified_in_log(
    token: &request::EvidenceText,
    store: &SharedStore,
    keys: &LogKeys,
    deadline: Deadline,
) -> Result<(evidence::VerifiedEvidence, bool), (TerminalCode, Option<Detail>)> {
    let invalid = |reason: Reason| {
        (
            TerminalCode::DeniedContinuationInvalid,
            detail("$.continuation.evidence", reason),
        )
    };
    // INV-KEY-EPOCH: the prior's checkpoint by the key in force at its size: a token issued
    // before a key rotation is checked against this log after it.
    let prior = match evidence::verify(token.as_str(), keys) {
        Ok(prior) => prior,
        Err(e) => {
            // INV-WITNESSED: a checkpoint this log's key signed is a fact about the log's past
            // even in a token whose proof or record is bad: one beyond the log, or with another
            // root at its size, proves a rollback or a fork all the same.
            if let Some(cp) = evidence::signed_checkpoint(token.as_str(), keys)
                && let Ok(Some(t)) =
                    store.read_by(deadline, |s| past_disagrees(s, cp.size, &cp.root))
            {
                store.witnesses().latch(t);
                return Err((
                    TerminalCode::AbortedLogRollback,
                    detail("$audit", t.reason()),
                ));
            }
            return Err(invalid(match e {
                evidence::EvidenceError::Malformed(_) => Reason::Malformed,
                evidence::EvidenceError::BadSignature => Reason::BadSignature,
                evidence::EvidenceError::BadProof => Reason::BadProof,
                evidence::EvidenceError::NotTerminal => Reason::NotTerminal,
            }));
        }
    };
    // Signed by our key is not enough: the record must be in this log, at that index.
    // A poisoned store may hold a half-applied append: `with_store` fails closed.
    // Bounded by the deadline: a database that stops answering ends the check by then.
    // INV-WITNESSED: a checkpoint signed by this log's key is a witness of the log's past: one
    // beyond the log, or with another root at its size, proves a rollback or a fork.
    let in_log = store.read_by(deadline, |s| {
        if let Some(t) = past_disagrees(s, prior.tree_size, &prior.root)? {
            return Ok(InLog::Tampered(t));
        }
        let leaf = s.leaf_at(prior.index)?;
        let claimed = s.is_claim_held(prior.attempt_id())?;
        Ok(if leaf == prior.leaf_hash {
            InLog::Found { claimed }
        } else {
            InLog::Absent
        })
    });
    match in_log {
        Ok(InLog::Found { claimed }) => Ok((prior, claimed)),
        Ok(InLog::Tampered(t)) => {
            store.witnesses().latch(t);
            Err((
                TerminalCode::AbortedLogRollback,
                detail("$audit", t.reason()),
            ))
        }
        Ok(InLog::Absent) | Err(AuditError::Corrupt { .. }) => Err(invalid(Reason::NotInThisLog)),
        Err(_) => Err((
            TerminalCode::AbortedAuditUnconfirmed,
            detail("$audit", Reason::LogUnreadable),
        )),
    }
}

/// Where a verified token's record stands in this log.
enum InLog {
    /// At its index under its root; whether another attempt holds the prior's claim.
    Found { claimed: bool },
    /// The root matches but the leaf does not (cannot happen with a verified proof).
    Absent,
    /// The token's signed checkpoint proves the log was rolled back or forked.
    Tampered(Tamper),
}

impl Attempt<Checked> {
    // INV-DENY-BY-DEFAULT: Deny by default at every governance boundary.
    // INV-CONT-CLAIM: the prior's claim is taken only after the caller's registration and the
    // trigger policy passed, and only when no other attempt holds it.
    // INV-TRIGGER-POLICY: Every trigger category is policy-driven, deny-by-default and auditable.
    /// The gates, in this order: the caller's registration for the trigger, policy on the
    /// trigger (Cedar action `invoke`), the one-continuation claim, then policy on the step.
    ///
    /// A continuation claims its prior only once it passed the first two (so a caller refused
    /// there never uses up anyone's continuation) and the prior is not already claimed; a step
    /// denial keeps the claim (`DENIED_POLICY` is continuable), a retry does not
    /// (`DENIED_CONTINUATION_IS_RETRY` is not continuable, so the prior stays continuable).
    ///
    /// # Errors
    /// The attempt, ending `DENIED_UNAPPROVED_TRIGGER`, `DENIED_CONTINUATION_ALREADY_USED`,
    /// `DENIED_POLICY` or `DENIED_CONTINUATION_IS_RETRY`.
    pub fn gate(mut self, gate: &PolicyGate) -> NextStage<Permitted> {
        let Checked {
            request,
            facts,
            claim_held,
        } = &self.state;
        let caller = &self.core.caller;
        if !caller.triggers().contains(&request.trigger) {
            return Err(self.end(
                TerminalCode::DeniedUnapprovedTrigger,
                detail("$.trigger", Reason::NotRegisteredForCaller),
            ));
        }
        let d = gate.authorize_trigger(caller.id(), caller.kind(), request.trigger, facts);
        if d.effect == Effect::Deny {
            self.core.decision = Some(d);
            return Err(self.end(
                TerminalCode::DeniedUnapprovedTrigger,
                detail("$.trigger", Reason::NotPermittedByPolicy),
            ));
        }
        if facts.is_continuation {
            if *claim_held {
                return Err(self.end(
                    TerminalCode::DeniedContinuationAlreadyUsed,
                    detail("$.continuation.evidence", Reason::AlreadyContinued),
                ));
            }
            self.core.holds_claim = true;
        }
        let d = gate.authorize_step(
            caller.id(),
            caller.kind(),
            &request.step.action,
            request.trigger,
            &request.step.params,
            facts,
        );
        let effect = d.effect;
        let unchanged = facts.unchanged_request;
        self.core.decision = Some(d);
        match (effect, unchanged) {
            (Effect::Permit, _) => Ok(self.map(|Checked { request, .. }| Permitted { request })),
            (Effect::Deny, true) => {
                self.core.holds_claim = false;
                Err(self.end(
                    TerminalCode::DeniedContinuationIsRetry,
                    detail("$.steps[0]", Reason::UnchangedRequest),
                ))
            }
            (Effect::Deny, false) => Err(self.end(TerminalCode::DeniedPolicy, None)),
        }
    }
}

impl Attempt<Permitted> {
    // INV-AUDIT-BEFORE-EXECUTE: Nothing executes without a durably confirmed open record.
    /// Writes the open record and waits for durable confirmation. No confirmation, no execution.
    /// A continuation's open record takes the claim on its prior; the store refuses it when
    /// another attempt took the claim first, and the attempt then ends
    /// `DENIED_CONTINUATION_ALREADY_USED`, without the claim.
    ///
    /// # Errors
    /// The attempt, ending `ABORTED_DEADLINE` (its deadline passed before the open record was
    /// written, or while it waited for the store with nothing sent: INV-ADMISSION-BOUNDED),
    /// `DENIED_CONTINUATION_ALREADY_USED`, or `ABORTED_AUDIT_UNCONFIRMED` with nothing more
    /// written for it (the store failed, or did not confirm by the deadline).
    pub fn open(mut self, store: &SharedStore) -> NextStage<Opened> {
        if self.core.deadline.passed() {
            return Err(self.end(
                TerminalCode::AbortedDeadline,
                detail("$rail", Reason::DeadlinePassedBeforeOpen),
            ));
        }
        // Bounded by the deadline: an open record not confirmed by then is of no use.
        match store.append(self.core.open_record(), self.core.deadline) {
            Ok(_) => Ok(self.map(|Permitted { request }| Opened { request })),
            // Nothing was sent and the deadline passed waiting for the store. (A record
            // failed with its batch before its own deadline is unconfirmed, below.)
            Err(AuditError::BoundPassed { sent: false }) if self.core.deadline.passed() => {
                Err(self.end(
                    TerminalCode::AbortedDeadline,
                    detail("$rail", Reason::DeadlinePassedBeforeOpen),
                ))
            }
            Err(AuditError::Rule(RuleViolation::ClaimTaken)) => {
                self.core.holds_claim = false;
                Err(self.end(
                    TerminalCode::DeniedContinuationAlreadyUsed,
                    detail("$.continuation.evidence", Reason::AlreadyContinued),
                ))
            }
            // Another attempt took the request id since the check (a concurrent resend).
            Err(AuditError::Rule(RuleViolation::RequestIdTaken)) => {
                let holder = self.core.current_holder(store, self.core.deadline);
                Err(self.refuse_request_id(holder))
            }
            // The open record is durable but no quorum of witnesses cosigned it: the step may
            // not run, and the terminal record says why.
            Err(AuditError::WitnessUnconfirmed) => Err(self.end(
                TerminalCode::AbortedAuditUnconfirmed,
                detail("$audit", Reason::WitnessQuorumUnconfirmed),
            )),
            Err(AuditError::Tampered(t)) => Err(self.end(
                TerminalCode::AbortedLogRollback,
                detail("$audit", t.reason()),
            )),
            Err(_) => Err(self.to(Ending(Ended::OpenUnconfirmed))),
        }
    }
}

impl Attempt<Opened> {
    // INV-SYNC-PROXY: The sync proxy gives a synchronous, authoritative answer or fails closed.
    /// Runs the one step through the executor, once, and checks the receipt.
    ///
    /// # Errors
    /// The attempt, ending with the executor's failure code, `ABORTED_DEADLINE`,
    /// `ABORTED_PHI_DETECTED`, `ABORTED_ASYNC_AMBIGUITY` or `ABORTED_OUTPUT_NOT_DRAFT`.
    pub fn execute(self, executor: &dyn Executor, phi: &dyn PhiScan) -> NextStage<Executed> {
        let req = &self.state.request;
        let input = StepInput {
            attempt_id: self.core.id.clone(),
            action: req.step.action.clone(),
            subject: req.subject.clone(),
            params: req.params_json(),
            trace: self.core.trace.clone(),
        };
        // The executor's own failure wins; an answer that arrives after the deadline is discarded.
        let raw = match executor.execute(&input, self.core.deadline) {
            Err(e) => return Err(self.end(e.code(), detail("$executor", e.reason()))),
            Ok(_) if self.core.deadline.passed() => {
                return Err(self.end(
                    TerminalCode::AbortedDeadline,
                    detail("$executor", Reason::LateAnswer),
                ));
            }
            Ok(raw) => raw,
        };
        match Receipt::check(&raw, phi) {
            Ok(receipt) => Ok(self.to(Executed { receipt })),
            Err(r) => Err(self.end(r.code, Some(r.detail))),
        }
    }
}

impl Attempt<Executed> {
    /// The step completed with a draft-only receipt.
    #[must_use]
    pub fn complete(self) -> Attempt<Ending> {
        self.map(|Executed { receipt }| {
            Ending(Ended::Decided {
                code: TerminalCode::CompletedDraft,
                detail: None,
                receipt: Some(receipt),
            })
        })
    }
}

impl Attempt<Ending> {
    /// The decided code.
    #[must_use]
    pub fn code(&self) -> TerminalCode {
        match &self.state.0 {
            Ended::Decided { code, .. } => *code,
            Ended::OpenUnconfirmed => TerminalCode::AbortedAuditUnconfirmed,
        }
    }

    // INV-TERMINAL-DETERMINISM: Each attempt ends in a single, deterministic terminal state.
    /// Appends the terminal record and waits for durable confirmation. Unconfirmed: the outcome
    /// is `ABORTED_AUDIT_UNCONFIRMED` and any draft reference is withheld.
    ///
    /// A terminal record that claims the prior (a step denial, or an attempt whose open record
    /// was never written) is refused by the store when another attempt took the claim first;
    /// the attempt then ends `DENIED_CONTINUATION_ALREADY_USED`, without the claim, in one more
    /// append. Any other refusal by the log's rules leaves the outcome unconfirmed.
    #[must_use]
    pub fn record(self, store: &SharedStore, written: &TerminalFlag) -> Attempt<Terminal> {
        let Attempt { mut core, state } = self;
        let (outcome, record_index) = match state.0 {
            Ended::Decided {
                code,
                detail: why,
                receipt,
            } => core.terminate(store, written, code, why, receipt.as_ref()),
            Ended::OpenUnconfirmed => (core.unconfirmed(), None),
        };
        Attempt {
            core,
            state: Terminal {
                outcome,
                record_index,
            },
        }
    }
}

impl Attempt<Terminal> {
    /// The leaf index of the attempt's terminal record, when it is durable (the operations
    /// log's `record_index`: the audit batch it joined is the one whose leaf range holds it).
    #[must_use]
    pub fn record_index(&self) -> Option<u64> {
        self.state.record_index
    }

    /// The attempt's one outcome.
    #[must_use]
    pub fn into_outcome(self) -> Outcome {
        self.state.outcome
    }
}

impl Core {
    /// Appends the terminal record with `code`. A refused claim (another attempt took the
    /// prior's claim first) ends the attempt `DENIED_CONTINUATION_ALREADY_USED` without the claim,
    /// in one more append; any other refusal or failure leaves the outcome unconfirmed.
    fn terminate(
        &mut self,
        store: &SharedStore,
        written: &TerminalFlag,
        code: TerminalCode,
        why: Option<Detail>,
        receipt: Option<&Receipt>,
    ) -> (Outcome, Option<u64>) {
        // Still attempted after an executor that used the whole budget, but never waited for
        // past the margin: the attempt is answered by its deadline plus the margin.
        let bound = self.deadline.plus(TERMINAL_APPEND_MARGIN);
        let decided = (code, why.clone());
        let appended = match store.append(self.terminal_record(code, why, receipt), bound) {
            Err(AuditError::Rule(RuleViolation::ClaimTaken)) if self.holds_claim => {
                self.holds_claim = false;
                let refused = self.terminal_record(
                    TerminalCode::DeniedContinuationAlreadyUsed,
                    detail("$.continuation.evidence", Reason::AlreadyContinued),
                    None,
                );
                store.append(refused, bound).map(|a| (a, None))
            }
            // A concurrent resend took the request id first: this attempt is the resend.
            Err(AuditError::Rule(RuleViolation::RequestIdTaken)) if self.holds_request_id => {
                self.holds_request_id = false;
                self.holds_claim = false;
                self.request_id_holder = self.current_holder(store, bound);
                let refused = self.terminal_record(
                    TerminalCode::DeniedRequestIdReused,
                    detail("$.request_id", Reason::RequestIdUsed),
                    None,
                );
                store.append(refused, bound).map(|a| (a, None))
            }
            other => other.map(|a| (a, receipt)),
        };
        match appended {
            Ok((appended, receipt)) => {
                written.0.set(true);
                (self.outcome_from(&appended, receipt), Some(appended.index))
            }
            Err(e) => (self.unconfirmed_by(&e, decided), None),
        }
    }

    /// The attempt holding this attempt's request id, as the log says now (not known when the
    /// store cannot say by `bound`).
    fn current_holder(&self, store: &SharedStore, bound: Deadline) -> Option<AttemptId> {
        let rid = self.request_id.as_ref()?;
        store
            .read_by(bound, |s| s.request_id_holder(rid))
            .ok()
            .flatten()
            .filter(|h| *h != self.id)
    }

    fn open_record(&self) -> AuditRecord {
        let deadline = AuditRecord::deadline_in(self.deadline.remaining().unwrap_or_default());
        let r = AuditRecord::open(
            self.id.clone(),
            self.caller.id().clone(),
            self.policy_digest,
            deadline,
        );
        self.attribute(r, None)
    }

    fn terminal_record(
        &self,
        code: TerminalCode,
        detail: Option<Detail>,
        receipt: Option<&Receipt>,
    ) -> AuditRecord {
        let r = AuditRecord::terminal(
            self.id.clone(),
            self.caller.id().clone(),
            self.policy_digest,
            code,
            detail,
        );
        self.attribute(r, receipt)
    }

    /// What the attempt knows so far, on one of its records.
    fn attribute(&self, mut r: AuditRecord, receipt: Option<&Receipt>) -> AuditRecord {
        r.request_id = self.request_id.clone().filter(|_| self.holds_request_id);
        r.trace_id = self.trace.as_ref().and_then(TraceContext::record_id);
        r.trigger = self.trigger;
        r.action = self.action.clone();
        r.request_fp = self.fingerprint;
        r.decision = self.decision.clone();
        r.draft_ref = receipt.map(|x| x.draft_ref.clone());
        r.content_sha256 = receipt.map(|x| x.content_sha256);
        r.continues = self.provenance.continues.clone();
        r.chain_root = self.provenance.chain_root.clone();
        r.depth = self.provenance.depth;
        r.reason = self.reason;
        r.claim = self.holds_claim && self.provenance.continues.is_some();
        r
    }

    fn outcome_from(&self, appended: &Appended, receipt: Option<&Receipt>) -> Outcome {
        // The store signs a checkpoint for every terminal record; one that did not breaks its
        // contract, and a result without evidence is withheld like an unconfirmed one.
        let Some(evidence) = evidence::encode(appended) else {
            return Outcome {
                message: Some(
                    "the audit log recorded the outcome without a signed checkpoint, so no evidence can be given".into(),
                ),
                detail: detail("$audit", Reason::EvidenceUnavailable),
                recorded: true,
                ..self.unconfirmed()
            };
        };
        let rec = &appended.record;
        let code = rec.code().unwrap_or(TerminalCode::AbortedInvariant);
        let completed = code == TerminalCode::CompletedDraft;
        Outcome {
            attempt_id: self.id.clone(),
            code,
            explanation: code.explanation(),
            message: rec
                .detail
                .as_ref()
                .map(|d| format!("{} at {}", d.reason, d.field)),
            policy_digest: self.policy_digest,
            decision: rec.decision.clone(),
            detail: rec.detail.clone(),
            draft_ref: receipt.filter(|_| completed).map(|r| r.draft_ref.clone()),
            content_sha256: receipt.filter(|_| completed).map(|r| r.content_sha256),
            request_fingerprint: self.fingerprint,
            provenance: Provenance {
                continues: rec.continues.clone(),
                chain_root: rec.chain_root.clone(),
                depth: rec.depth,
            },
            evidence: Some(evidence),
            recorded: true,
            request_id_holder: self.request_id_holder.clone(),
        }
    }

    /// The answer of an attempt whose terminal record was not confirmed: by the store, by a
    /// quorum of witnesses (INV-WITNESSED: an outcome no quorum saw is not released), or because
    /// the batch proved the log rolled back. The draft, if any, is withheld.
    /// An attempt already refused for a rolled-back log (`decided`) keeps its own reason.
    fn unconfirmed_by(&self, why: &AuditError, decided: (TerminalCode, Option<Detail>)) -> Outcome {
        let (code, detail) = match (why, decided) {
            (AuditError::WitnessUnconfirmed, _) => (
                TerminalCode::AbortedAuditUnconfirmed,
                detail("$audit", Reason::WitnessQuorumUnconfirmed),
            ),
            (AuditError::Tampered(_), (TerminalCode::AbortedLogRollback, own)) => {
                (TerminalCode::AbortedLogRollback, own)
            }
            (AuditError::Tampered(t), _) => (
                TerminalCode::AbortedLogRollback,
                detail("$audit", t.reason()),
            ),
            _ => return self.unconfirmed(),
        };
        let message = match code {
            TerminalCode::AbortedLogRollback => {
                "the log was rolled back or forked: the outcome is not released"
            }
            _ => "no quorum of witnesses cosigned the outcome's record: it is not released",
        };
        Outcome {
            code,
            explanation: code.explanation(),
            message: Some(message.into()),
            detail,
            ..self.unconfirmed()
        }
    }

    fn unconfirmed(&self) -> Outcome {
        let code = TerminalCode::AbortedAuditUnconfirmed;
        Outcome {
            attempt_id: self.id.clone(),
            code,
            explanation: code.explanation(),
            message: Some("the audit log did not confirm a durable append".into()),
            policy_digest: self.policy_digest,
            decision: self.decision.clone(),
            detail: detail("$audit", Reason::AppendUnconfirmed),
            draft_ref: None,
            content_sha256: None,
            request_fingerprint: self.fingerprint,
            provenance: self.provenance.clone(),
            evidence: None,
            recorded: false,
            request_id_holder: None,
        }
    }
}
