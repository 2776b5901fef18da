//! The closed taxonomy of terminal codes and the outcome an attempt returns.
//!
//! Every attempt ends in exactly one [`TerminalCode`]. Codes are stable strings; each has one
//! fixed operator explanation that says what happened, that nothing continues in the background,
//! and which explicit next step exists. Same inputs and same dependency observations give the
//! same code, so the explanation never depends on data.

mod reason;

use serde::{Deserialize, Serialize};

use crate::ids::{AttemptId, OpaqueId, Sha256Digest};

pub use reason::Reason;

// INV-TERMINAL-DETERMINISM: Each attempt ends in a single, deterministic terminal state.
/// The terminal code of an attempt. Closed: extend only by a documented decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TerminalCode {
    /// One step executed and a draft-only receipt was recorded.
    CompletedDraft,
    /// The policy gate denied the request.
    DeniedPolicy,
    /// The trigger is not registered for the caller or not permitted by policy.
    DeniedUnapprovedTrigger,
    /// The request did not parse into the closed request types.
    DeniedRequestInvalid,
    /// The request asked for more than one step.
    DeniedMultiStep,
    /// The continuation's evidence token is invalid, forged or foreign.
    DeniedContinuationInvalid,
    /// The continuation repeats the prior request unchanged without a reason that allows it.
    DeniedContinuationIsRetry,
    /// The prior attempt has already been continued once.
    DeniedContinuationAlreadyUsed,
    /// The request id is already held by another attempt of this log (a resent request).
    DeniedRequestIdReused,
    /// A PHI/PII detector hit in a request or a receipt.
    AbortedPhiDetected,
    /// A dependency gave no synchronous, authoritative answer (pending, accepted, queued).
    AbortedAsyncAmbiguity,
    /// The audit log did not confirm a durable append.
    AbortedAuditUnconfirmed,
    /// The executor failed or returned something the rail cannot check.
    AbortedExecutorFault,
    /// The attempt's deadline passed.
    AbortedDeadline,
    /// The executor's output claims finalisation, signing, attestation or write-back.
    AbortedOutputNotDraft,
    /// Anything unexpected, a caught panic included.
    AbortedInvariant,
    /// The process running the attempt died after its open record: ended by the next caller
    /// that opened the log for writing once the attempt's deadline had passed.
    AbortedInterrupted,
    /// The audit log was rolled back or forked: a witness or a caller's evidence knows a history
    /// this log does not hold. Every attempt is refused before execution until an operator acts.
    AbortedLogRollback,
}

/// Every terminal code, in documentation order.
pub const ALL_CODES: [TerminalCode; 18] = [
    TerminalCode::CompletedDraft,
    TerminalCode::DeniedPolicy,
    TerminalCode::DeniedUnapprovedTrigger,
    TerminalCode::DeniedRequestInvalid,
    TerminalCode::DeniedMultiStep,
    TerminalCode::DeniedContinuationInvalid,
    TerminalCode::DeniedContinuationIsRetry,
    TerminalCode::DeniedContinuationAlreadyUsed,
    TerminalCode::DeniedRequestIdReused,
    TerminalCode::AbortedPhiDetected,
    TerminalCode::AbortedAsyncAmbiguity,
    TerminalCode::AbortedAuditUnconfirmed,
    TerminalCode::AbortedExecutorFault,
    TerminalCode::AbortedDeadline,
    TerminalCode::AbortedOutputNotDraft,
    TerminalCode::AbortedInvariant,
    TerminalCode::AbortedInterrupted,
    TerminalCode::AbortedLogRollback,
];

/// The class of a code, which fixes the CLI exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeClass {
    /// `COMPLETED_*`: exit 0.
    Completed,
    /// `DENIED_*`: exit 2.
    Denied,
    /// `ABORTED_*`: exit 3.
    Aborted,
}

impl TerminalCode {
    /// The stable code string.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CompletedDraft => "COMPLETED_DRAFT",
            Self::DeniedPolicy => "DENIED_POLICY",
            Self::DeniedUnapprovedTrigger => "DENIED_UNAPPROVED_TRIGGER",
            Self::DeniedRequestInvalid => "DENIED_REQUEST_INVALID",
            Self::DeniedMultiStep => "DENIED_MULTI_STEP",
            Self::DeniedContinuationInvalid => "DENIED_CONTINUATION_INVALID",
            Self::DeniedContinuationIsRetry => "DENIED_CONTINUATION_IS_RETRY",
            Self::DeniedContinuationAlreadyUsed => "DENIED_CONTINUATION_ALREADY_USED",
            Self::DeniedRequestIdReused => "DENIED_REQUEST_ID_REUSED",
            Self::AbortedPhiDetected => "ABORTED_PHI_DETECTED",
            Self::AbortedAsyncAmbiguity => "ABORTED_ASYNC_AMBIGUITY",
            Self::AbortedAuditUnconfirmed => "ABORTED_AUDIT_UNCONFIRMED",
            Self::AbortedExecutorFault => "ABORTED_EXECUTOR_FAULT",
            Self::AbortedDeadline => "ABORTED_DEADLINE",
            Self::AbortedOutputNotDraft => "ABORTED_OUTPUT_NOT_DRAFT",
            Self::AbortedInvariant => "ABORTED_INVARIANT",
            Self::AbortedInterrupted => "ABORTED_INTERRUPTED",
            Self::AbortedLogRollback => "ABORTED_LOG_ROLLBACK",
        }
    }

    /// Parses a stable code string.
    #[must_use]
    pub fn from_code(s: &str) -> Option<Self> {
        ALL_CODES.into_iter().find(|c| c.as_str() == s)
    }

    /// Completed, denied or aborted.
    #[must_use]
    pub fn class(self) -> CodeClass {
        match self {
            Self::CompletedDraft => CodeClass::Completed,
            Self::DeniedPolicy
            | Self::DeniedUnapprovedTrigger
            | Self::DeniedRequestInvalid
            | Self::DeniedMultiStep
            | Self::DeniedContinuationInvalid
            | Self::DeniedContinuationIsRetry
            | Self::DeniedContinuationAlreadyUsed
            | Self::DeniedRequestIdReused => CodeClass::Denied,
            Self::AbortedPhiDetected
            | Self::AbortedAsyncAmbiguity
            | Self::AbortedAuditUnconfirmed
            | Self::AbortedExecutorFault
            | Self::AbortedDeadline
            | Self::AbortedOutputNotDraft
            | Self::AbortedInvariant
            | Self::AbortedInterrupted
            | Self::AbortedLogRollback => CodeClass::Aborted,
        }
    }

    // INV-CONT-EXPLICIT: only an explicit continuation request may cite a prior, and only a prior
    // whose code this allows.
    // INV-CONT-CHAIN: completed drafts and denials of the continuation rules and of the trigger
    // gate are not continuable, so a chain is never forked or restarted.
    /// Whether an attempt that ended with this code may be continued (by the rail, before any
    /// policy sees the request). Not continuable: a `COMPLETED_DRAFT` (its chain has its one
    /// draft), the denials of the continuation rules (`DENIED_CONTINUATION_ALREADY_USED`,
    /// `DENIED_CONTINUATION_IS_RETRY`, `DENIED_CONTINUATION_INVALID`) and of the trigger gate
    /// (`DENIED_UNAPPROVED_TRIGGER`): none of those holds its prior's claim, so continuing one
    /// would fork its chain or restart it. Exhaustive on purpose: a new code must decide.
    #[must_use]
    pub fn is_continuable(self) -> bool {
        match self {
            Self::CompletedDraft
            | Self::DeniedUnapprovedTrigger
            | Self::DeniedContinuationInvalid
            | Self::DeniedContinuationIsRetry
            | Self::DeniedContinuationAlreadyUsed
            | Self::DeniedRequestIdReused
            | Self::AbortedLogRollback => false,
            Self::DeniedPolicy
            | Self::DeniedRequestInvalid
            | Self::DeniedMultiStep
            | Self::AbortedPhiDetected
            | Self::AbortedAsyncAmbiguity
            | Self::AbortedAuditUnconfirmed
            | Self::AbortedExecutorFault
            | Self::AbortedDeadline
            | Self::AbortedOutputNotDraft
            | Self::AbortedInvariant
            | Self::AbortedInterrupted => true,
        }
    }

    /// Whether this code can end an attempt at the request stage (the parse and its PHI scan),
    /// before the request has a fingerprint. Such an attempt's outcome is a function of the
    /// request bytes and the configuration. Exhaustive on purpose: a new code must decide.
    #[must_use]
    pub fn is_request_stage_refusal(self) -> bool {
        match self {
            Self::DeniedRequestInvalid | Self::DeniedMultiStep | Self::AbortedPhiDetected => true,
            Self::CompletedDraft
            | Self::DeniedPolicy
            | Self::DeniedUnapprovedTrigger
            | Self::DeniedContinuationInvalid
            | Self::DeniedContinuationIsRetry
            | Self::DeniedContinuationAlreadyUsed
            | Self::AbortedAsyncAmbiguity
            | Self::AbortedAuditUnconfirmed
            | Self::AbortedExecutorFault
            | Self::AbortedDeadline
            | Self::AbortedOutputNotDraft
            | Self::AbortedInvariant
            | Self::AbortedInterrupted
            | Self::DeniedRequestIdReused
            | Self::AbortedLogRollback => false,
        }
    }

    /// The fixed operator explanation. The same text is in `docs/OPERATIONS.md` and printed by
    /// `mig06 explain`.
    #[must_use]
    pub fn explanation(self) -> &'static str {
        match self {
            Self::CompletedDraft => {
                "One step ran and returned a draft-only reference, recorded in the audit log. The draft is not signed, final or written back; a clinician must review it in the record system. Nothing else runs for this attempt."
            }
            Self::DeniedPolicy => {
                "The policy gate denied this request; nothing was executed and nothing continues in the background. Next step: an operator may amend the request and submit a continuation with reason operator_amended_request or operator_supplied_missing_authorisation, or ask the policy owner to change the bundle (policy changes need a restart)."
            }
            Self::DeniedUnapprovedTrigger => {
                "The trigger is not registered for this caller or not permitted by policy; nothing was executed and nothing continues in the background. Next step: invoke explicitly with a trigger the caller is approved for, or have the caller's registration changed in the configuration."
            }
            Self::DeniedRequestInvalid => {
                "The request did not parse into the closed request format (see the message for the field path); nothing was executed and nothing continues in the background. Next step: correct the request and submit it again as a new, explicitly invoked attempt."
            }
            Self::DeniedMultiStep => {
                "The request asked for more than one step; the rail executes exactly one step per attempt, so nothing was executed and nothing continues in the background. Next step: send each step as its own new attempt, one step per request (or continue this denial once with one of the steps and reason operator_amended_request); a completed draft cannot be continued, so every further step is a new attempt."
            }
            Self::DeniedContinuationInvalid => {
                "The continuation's evidence token did not verify against this log (invalid, forged, foreign), or the prior attempt is not continuable (a completed draft, or a denial of the continuation rules or of the trigger gate); nothing was executed and nothing continues in the background. Next step: continue the latest continuable attempt of the chain (see `mig06 audit provenance`; `mig06 audit prove` gives its evidence), or submit a new attempt."
            }
            Self::DeniedContinuationIsRetry => {
                "The continuation is the prior request unchanged (or the prior ended ABORTED_INVARIANT without a request fingerprint, which cannot be compared and counts as unchanged), which would be a retry; retries are forbidden, so nothing was executed and nothing continues in the background. The prior attempt stays continuable. Next step: continue the prior attempt again with an amended request, or with a reason that policy allows for an unchanged request (operator_confirmed_dependency_restored) if the operator has confirmed the cause is fixed."
            }
            Self::DeniedContinuationAlreadyUsed => {
                "The prior attempt has already been continued once; each terminal attempt can be continued only once, so nothing was executed and nothing continues in the background. Next step: continue the latest attempt of the chain instead (see `mig06 audit provenance`)."
            }
            Self::DeniedRequestIdReused => {
                "Another attempt of this log already holds this request id (the same request sent twice: a client, proxy or script that resent it); each request id runs at most one attempt, so nothing was executed, no earlier answer is replayed, and nothing continues in the background. The answer names the attempt that holds the id. Next step: read that attempt's outcome (`mig06 audit show ID`, its evidence with `mig06 audit prove ID`); to ask again, send a new request with a new request id."
            }
            Self::AbortedPhiDetected => {
                "A PHI/PII detector found an identifier in the request or the executor's receipt (the message names the field path and identifier kind, never the value); the attempt was aborted and nothing continues in the background. Next step: remove the identifier and submit the request again, as a new attempt or as a continuation of this one with reason operator_amended_request; after an abort on the receipt, continue with reason operator_confirmed_dependency_restored once the executor is fixed."
            }
            Self::AbortedAsyncAmbiguity => {
                "A dependency answered without a final, synchronous confirmation (pending, accepted, queued or still running at the deadline); the rail does not wait, buffer or deliver later, so nothing continues in the background. Next step: once an operator has confirmed the dependency is answering synchronously, submit a continuation with reason operator_confirmed_dependency_restored."
            }
            Self::AbortedAuditUnconfirmed => {
                "The audit log did not confirm a durable append, so the step was not executed or its result was withheld; nothing continues in the background. The log, not this answer, holds the attempt's outcome: an append the rail stopped waiting for may still have reached the store, so its terminal record there may carry another code. Next step: restore the audit store (check disk and `mig06 audit verify`), then read the attempt in the log (`mig06 audit show ID`): if it ended COMPLETED_DRAFT, its draft exists (the record names it): use it, do not ask again; if it ended with another code, continue as that code says (`mig06 audit prove` gives its evidence); if it has no terminal record yet, the rail ends it ABORTED_INTERRUPTED after its deadline, then continue it with reason operator_confirmed_dependency_restored; if it is not in the log, submit the request as a new attempt."
            }
            Self::AbortedExecutorFault => {
                "The executor failed or returned a receipt the rail cannot check; its output was discarded and nothing continues in the background. Next step: fix the executor, then submit a continuation with reason operator_confirmed_dependency_restored."
            }
            Self::AbortedDeadline => {
                "The attempt's deadline passed before the step finished; the step was stopped and its output discarded, and nothing continues in the background. Next step: once the dependency is fast enough, submit a continuation with reason operator_confirmed_dependency_restored."
            }
            Self::AbortedOutputNotDraft => {
                "The executor's output claimed finalisation, signing, attestation or write-back, which the rail never allows; it was discarded and nothing continues in the background. Next step: fix the executor to return draft-only output, then submit a continuation with reason operator_confirmed_dependency_restored."
            }
            Self::AbortedInvariant => {
                "Something unexpected happened inside the rail and it failed closed; nothing continues in the background. Next step: report the attempt id to the platform team, and after a fix submit a continuation (`mig06 audit prove` gives this attempt's evidence) with reason operator_confirmed_dependency_restored."
            }
            Self::AbortedLogRollback => {
                "The audit log was rolled back or forked: a witness has cosigned a larger tree than this log holds, a witness's cosignature did not verify, or a caller's evidence carries a checkpoint signed by this log's key that this log does not contain; the step was not executed and every attempt is refused the same way until an operator acts; nothing continues in the background. Next step: an operator restores the log's lost records (or follows the procedure in docs/OPERATIONS.md, \"A rolled-back or forked log\"), then restarts the rail."
            }
            Self::AbortedInterrupted => {
                "The attempt was opened in the audit log and its terminal record never was: the process running it stopped (a crash or a kill), or the store did not confirm its terminal append (the caller was then answered ABORTED_AUDIT_UNCONFIRMED); once its deadline had passed, the next process to write the log ended it. The step may have run, and any draft it made is not part of the record; nothing continues in the background. Next step: check the downstream for a draft, then submit a continuation (`mig06 audit prove` gives this attempt's evidence): an amended request with reason operator_amended_request, or the same request with reason operator_confirmed_dependency_restored."
            }
        }
    }
}

impl std::fmt::Display for TerminalCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The policy decision signal: metadata only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionSignal {
    /// `permit` or `deny`.
    pub effect: Effect,
    /// The ids of the policies that determined the decision (empty: deny by default).
    pub policies: Vec<String>,
    /// Whether any evaluation error occurred (an error is a deny).
    pub errors: bool,
}

/// A policy effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Allowed.
    Permit,
    /// Denied.
    Deny,
}

/// Where and what: the metadata that explains a denial or abort, never the offending value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detail {
    /// The field path, built from recognised keys and indices only (`$.steps[0].params`).
    pub field: String,
    /// What was wrong, a closed code (`unknown_field`, `phi:us_ssn`, `too_long`, ...).
    pub reason: Reason,
}

impl Detail {
    /// A detail at `field` (a path the rail built, never request text).
    #[must_use]
    pub fn new(field: impl Into<String>, reason: Reason) -> Self {
        Self {
            field: field.into(),
            reason,
        }
    }

    /// The one-line, value-free message: `REASON at FIELD`.
    #[must_use]
    pub fn message(&self) -> String {
        format!("{} at {}", self.reason, self.field)
    }
}

// INV-NO-PHI-LEAK: a refusal carries a code, a field path and a reason, never the value it refused.
/// A refusal: the terminal code, and where and what, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The terminal code.
    pub code: TerminalCode,
    /// Field path and reason.
    pub detail: Detail,
}

impl Rejection {
    /// A refusal with `code` at `field` for `reason`.
    #[must_use]
    pub fn new(code: TerminalCode, field: impl Into<String>, reason: Reason) -> Self {
        Self {
            code,
            detail: Detail::new(field, reason),
        }
    }

    /// A one-line, value-free message.
    #[must_use]
    pub fn message(&self) -> String {
        self.detail.message()
    }
}

/// The provenance of an attempt: metadata-only links between attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The prior attempt this one continues, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub continues: Option<AttemptId>,
    /// The first attempt of the chain (itself when not a continuation).
    pub chain_root: AttemptId,
    /// 0 for a fresh attempt; prior depth + 1 for a continuation.
    pub depth: u32,
}

/// What the caller gets back: exactly one terminal code and the attempt's evidence.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The attempt's id.
    pub attempt_id: AttemptId,
    /// The terminal code.
    pub code: TerminalCode,
    /// The fixed operator explanation for the code.
    pub explanation: &'static str,
    /// A short, value-free message (field path, kind) when one helps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The policy bundle digest in force.
    pub policy_digest: Sha256Digest,
    /// The decision signal, when the gate ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionSignal>,
    /// Field path and reason for a denial or abort.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
    /// The draft reference, only for a completed attempt whose terminal record is durable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draft_ref: Option<OpaqueId>,
    /// The draft content digest, with `draft_ref`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_sha256: Option<Sha256Digest>,
    /// The request fingerprint, when the request parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_fingerprint: Option<Sha256Digest>,
    /// Provenance links.
    pub provenance: Provenance,
    /// The evidence token, when the terminal record is durable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// Whether the terminal record is durably in the audit log.
    pub recorded: bool,
    /// `DENIED_REQUEST_ID_REUSED`: the attempt of this log that holds the request id (its
    /// outcome is in the log: `mig06 audit show`, `mig06 audit prove`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id_holder: Option<AttemptId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        for c in ALL_CODES {
            assert_eq!(TerminalCode::from_code(c.as_str()), Some(c));
            let json = serde_json::to_string(&c).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
        let mut names: Vec<_> = ALL_CODES.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL_CODES.len());
    }

    #[test]
    fn every_explanation_says_nothing_continues_and_names_a_next_step() {
        for c in ALL_CODES {
            let e = c.explanation();
            assert!(
                e.contains("Nothing else runs")
                    || e.contains("nothing continues in the background"),
                "{c}"
            );
            assert!(
                c == TerminalCode::CompletedDraft || e.contains("Next step"),
                "{c}"
            );
        }
    }

    #[test]
    fn every_reason_round_trips_through_detail_json() {
        let samples = Reason::ALL.into_iter().chain([
            Reason::MalformedJson {
                line: 12,
                column: 345,
            },
            Reason::Steps(2),
            Reason::Steps(17),
            Reason::Phi(vec![mig06_phi::PhiKind::Ssn]),
            Reason::Phi(vec![
                mig06_phi::PhiKind::Email,
                mig06_phi::PhiKind::Phone,
                mig06_phi::PhiKind::Email,
            ]),
        ]);
        for reason in samples {
            let detail = Detail::new("$.steps[0]", reason.clone());
            let json = serde_json::to_string(&detail).unwrap_or_default();
            assert_eq!(
                json,
                format!(r#"{{"field":"$.steps[0]","reason":"{reason}"}}"#)
            );
            let back: Detail =
                serde_json::from_str(&json).unwrap_or_else(|_| Detail::new("", Reason::Panic));
            assert_eq!(back, detail, "{reason}");
        }
    }

    #[test]
    fn parameterised_reasons_render_exactly_as_before() {
        for (reason, text) in [
            (
                Reason::MalformedJson {
                    line: 1,
                    column: 38,
                },
                "malformed_json(line 1, column 38)",
            ),
            (Reason::Steps(3), "3_steps"),
            (Reason::Phi(vec![mig06_phi::PhiKind::Ssn]), "phi:us_ssn"),
            (
                Reason::Phi(vec![
                    mig06_phi::PhiKind::Email,
                    mig06_phi::PhiKind::PaymentCard,
                ]),
                "phi:email,payment_card",
            ),
            (Reason::UnknownField, "unknown_field"),
        ] {
            assert_eq!(reason.to_string(), text);
            assert_eq!(Reason::parse(text), Some(reason));
        }
    }

    #[test]
    fn only_rendered_reasons_parse() {
        for text in [
            "",
            "Unknown_field",
            "steps",
            "02_steps",
            "_steps",
            "-1_steps",
            "phi:",
            "phi:email,",
            "phi:not_a_kind",
            "malformed_json",
            "malformed_json(line 01, column 2)",
            "malformed_json(line 1, column 2",
            "jane.doe@example.org",
        ] {
            let parsed = Reason::parse(text);
            assert!(
                parsed.as_ref().is_none_or(|r| r.to_string() == text),
                "{text}"
            );
        }
        assert_eq!(Reason::parse("steps"), None);
        assert_eq!(Reason::parse("02_steps"), None);
        assert_eq!(Reason::parse("jane.doe@example.org"), None);
        assert!(serde_json::from_str::<Detail>(r#"{"field":"$","reason":"x"}"#).is_err());
    }

    #[test]
    fn class_follows_prefix() {
        for c in ALL_CODES {
            let expected = match c.as_str().split('_').next() {
                Some("COMPLETED") => CodeClass::Completed,
                Some("DENIED") => CodeClass::Denied,
                _ => CodeClass::Aborted,
            };
            assert_eq!(c.class(), expected, "{c}");
        }
    }
}
