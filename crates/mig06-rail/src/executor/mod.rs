//! Executors run the attempt's one step, once, with a deadline, and return a receipt.
//!
//! The decision that matters: an executor returns the downstream's raw answer and the rail, not
//! the executor, decides whether it is a draft-only, final, metadata-only receipt
//! ([`Receipt::check`]). So a new executor cannot weaken the draft-only doctrine or the PHI
//! boundary by accident.

pub mod command;
pub mod reference;

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::ids::{AttemptId, OpaqueId, Sha256Digest};
use crate::outcome::{Detail, TerminalCode};
use crate::request::{Code, PhiScan};

/// The attempt's deadline: a fixed instant, never extended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Instant);

impl Deadline {
    /// A deadline `budget` from now.
    #[must_use]
    pub fn after(budget: Duration) -> Self {
        Self(Instant::now() + budget)
    }
    /// Time left, or `None` once passed.
    #[must_use]
    pub fn remaining(&self) -> Option<Duration> {
        self.0
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }
    /// Whether the deadline has passed.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.remaining().is_none()
    }
    /// The instant.
    #[must_use]
    pub fn instant(&self) -> Instant {
        self.0
    }
}

/// What the executor is given: metadata only.
#[derive(Debug, Clone)]
pub struct StepInput {
    /// The attempt.
    pub attempt_id: AttemptId,
    /// The action.
    pub action: Code,
    /// The subject reference (opaque).
    pub subject: OpaqueId,
    /// The parameters (closed values).
    pub params: Value,
}

impl StepInput {
    /// The JSON sent to command and HTTP executors.
    #[must_use]
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "attempt_id": self.attempt_id,
            "action": self.action,
            "subject": self.subject,
            "params": self.params,
        })
    }
}

/// How an executor call failed. Carries codes, never downstream bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecutorError {
    /// The executor failed (spawn error, non-zero exit, transport error, unreadable output).
    #[error("executor fault: {0}")]
    Fault(&'static str),
    /// The deadline passed before the executor answered; it was stopped.
    #[error("executor deadline passed")]
    Deadline,
    /// The executor answered without a final status (102/202, pending, queued, accepted).
    #[error("executor answer is not final: {0}")]
    NotFinal(&'static str),
}

impl ExecutorError {
    /// The terminal code this failure ends the attempt with.
    #[must_use]
    pub fn code(&self) -> TerminalCode {
        match self {
            Self::Fault(_) => TerminalCode::AbortedExecutorFault,
            Self::Deadline => TerminalCode::AbortedDeadline,
            Self::NotFinal(_) => TerminalCode::AbortedAsyncAmbiguity,
        }
    }
    /// A value-free reason code.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Fault(r) | Self::NotFinal(r) => r,
            Self::Deadline => "deadline",
        }
    }
}

/// Runs one step. Called at most once per attempt; never retried by the rail.
pub trait Executor: Send + Sync {
    /// Runs the step and returns the downstream's raw receipt JSON, or fails. Must return by
    /// `deadline` (stopping the work it started).
    ///
    /// # Errors
    /// [`ExecutorError`] for a fault, a passed deadline, or a non-final answer.
    fn execute(&self, input: &StepInput, deadline: Deadline) -> Result<Value, ExecutorError>;
}

/// A checked, draft-only, metadata-only receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The draft's opaque reference.
    pub draft_ref: OpaqueId,
    /// The draft content's SHA-256.
    pub content_sha256: Sha256Digest,
}

/// Why a receipt was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptRejection {
    /// The terminal code.
    pub code: TerminalCode,
    /// Field path (under `$receipt`) and reason.
    pub detail: Detail,
}

const RECEIPT_KEYS: &[&str] = &[
    "draft_ref",
    "disposition",
    "content_sha256",
    "docStatus",
    "status",
];
/// Words that claim finalisation, signing, attestation or write-back.
pub const FINALISATION_WORDS: &[&str] = &[
    "final",
    "finalised",
    "finalized",
    "signed",
    "attested",
    "write_back",
    "written_back",
    "amended",
    "entered_in_error",
    "current",
    "committed",
    "authenticated",
    "legal",
];
const ASYNC_STATUSES: &[&str] = &[
    "pending",
    "queued",
    "accepted",
    "processing",
    "in_progress",
    "running",
    "scheduled",
];
const FINAL_STATUSES: &[&str] = &["completed", "complete", "done", "ok", "succeeded"];

impl Receipt {
    /// Checks a raw receipt: PHI anywhere aborts; a non-final status is async ambiguity; any
    /// sign of finalisation is not-draft; anything else unexpected is an executor fault.
    ///
    /// # Errors
    /// A [`ReceiptRejection`] with the code and a value-free detail.
    pub fn check(raw: &Value, phi: &dyn PhiScan) -> Result<Self, ReceiptRejection> {
        let reject = |code, field: &str, reason: &str| ReceiptRejection {
            code,
            detail: Detail {
                field: format!("$receipt{field}"),
                reason: reason.to_owned(),
            },
        };
        crate::request::scan_value(
            raw,
            &|k| RECEIPT_KEYS.contains(&k) || FINALISATION_WORDS.contains(&k),
            phi,
        )
        .map_err(|r| ReceiptRejection {
            code: r.code,
            detail: Detail {
                field: r.detail.field.replacen('$', "$receipt", 1),
                reason: r.detail.reason,
            },
        })?;
        let Value::Object(map) = raw else {
            return Err(reject(
                TerminalCode::AbortedExecutorFault,
                "",
                "not_an_object",
            ));
        };
        if let Some(status) = map.get("status") {
            let s = status.as_str().unwrap_or_default();
            if ASYNC_STATUSES.contains(&s) {
                return Err(reject(
                    TerminalCode::AbortedAsyncAmbiguity,
                    ".status",
                    "not_final",
                ));
            }
            if !FINAL_STATUSES.contains(&s) {
                return Err(reject(
                    TerminalCode::AbortedExecutorFault,
                    ".status",
                    "unknown_status",
                ));
            }
        }
        for (k, v) in map {
            if FINALISATION_WORDS.contains(&k.as_str()) && v != &Value::Bool(false) && !v.is_null()
            {
                return Err(reject(
                    TerminalCode::AbortedOutputNotDraft,
                    &format!(".{k}"),
                    "finalisation_claim",
                ));
            }
        }
        match map.get("docStatus") {
            None => {}
            Some(Value::String(s)) if s == "preliminary" => {}
            Some(_) => {
                return Err(reject(
                    TerminalCode::AbortedOutputNotDraft,
                    ".docStatus",
                    "not_preliminary",
                ));
            }
        }
        match map.get("disposition") {
            Some(Value::String(s)) if s == "draft" => {}
            Some(Value::String(s)) if FINALISATION_WORDS.contains(&s.as_str()) => {
                return Err(reject(
                    TerminalCode::AbortedOutputNotDraft,
                    ".disposition",
                    "finalisation_claim",
                ));
            }
            Some(_) => {
                return Err(reject(
                    TerminalCode::AbortedOutputNotDraft,
                    ".disposition",
                    "not_draft",
                ));
            }
            None => {
                return Err(reject(
                    TerminalCode::AbortedExecutorFault,
                    ".disposition",
                    "missing_field",
                ));
            }
        }
        for k in map.keys() {
            if !RECEIPT_KEYS.contains(&k.as_str()) {
                let field = if FINALISATION_WORDS.contains(&k.as_str()) {
                    format!(".{k}")
                } else {
                    String::from(".<key>")
                };
                return Err(reject(
                    TerminalCode::AbortedExecutorFault,
                    &field,
                    "unknown_field",
                ));
            }
        }
        let draft_ref = map
            .get("draft_ref")
            .and_then(Value::as_str)
            .and_then(|s| OpaqueId::parse(s).ok())
            .ok_or_else(|| {
                reject(
                    TerminalCode::AbortedExecutorFault,
                    ".draft_ref",
                    "not_opaque_id",
                )
            })?;
        let content_sha256 = map
            .get("content_sha256")
            .and_then(Value::as_str)
            .and_then(|s| Sha256Digest::parse(s).ok())
            .ok_or_else(|| {
                reject(
                    TerminalCode::AbortedExecutorFault,
                    ".content_sha256",
                    "not_sha256_digest",
                )
            })?;
        Ok(Self {
            draft_ref,
            content_sha256,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    struct Canary;
    impl PhiScan for Canary {
        fn kinds(&self, _k: Option<&str>, t: &str) -> Vec<&'static str> {
            if t.contains("CANARY") {
                vec!["canary"]
            } else {
                vec![]
            }
        }
    }

    fn good() -> Value {
        json!({"draft_ref": "draft_7k3m9q2x4w8r5t6v", "disposition": "draft",
               "content_sha256": format!("sha256:{}", "ab".repeat(32))})
    }

    fn code_of(v: Value) -> TerminalCode {
        Receipt::check(&v, &Canary)
            .map(|_| TerminalCode::CompletedDraft)
            .unwrap_or_else(|r| r.code)
    }

    #[test]
    fn a_draft_receipt_is_accepted() {
        assert_eq!(code_of(good()), TerminalCode::CompletedDraft);
        let mut v = good();
        v["docStatus"] = json!("preliminary");
        v["status"] = json!("completed");
        assert_eq!(code_of(v), TerminalCode::CompletedDraft);
    }

    #[test]
    fn any_finalisation_claim_is_not_draft() {
        for (k, val) in [
            ("disposition", json!("final")),
            ("disposition", json!("signed")),
            ("disposition", json!("attested")),
            ("disposition", json!("write_back")),
            ("docStatus", json!("final")),
            ("docStatus", json!("amended")),
            ("signed", json!(true)),
            ("attested", json!(true)),
            ("write_back", json!(true)),
        ] {
            let mut v = good();
            v[k] = val;
            assert_eq!(code_of(v), TerminalCode::AbortedOutputNotDraft, "{k}");
        }
    }

    #[test]
    fn pending_answers_are_async_ambiguity() {
        for s in ["pending", "queued", "accepted"] {
            let mut v = good();
            v["status"] = json!(s);
            assert_eq!(code_of(v), TerminalCode::AbortedAsyncAmbiguity, "{s}");
        }
    }

    #[test]
    fn phi_in_a_receipt_aborts_without_echo() {
        let mut v = good();
        v["draft_ref"] = json!("CANARY Jane Doe");
        let r = Receipt::check(&v, &Canary).unwrap_err();
        assert_eq!(r.code, TerminalCode::AbortedPhiDetected);
        assert_eq!(r.detail.field, "$receipt.draft_ref");
    }

    #[test]
    fn unknown_fields_and_bad_ids_are_faults() {
        let mut v = good();
        v["note"] = json!("x");
        assert_eq!(code_of(v), TerminalCode::AbortedExecutorFault);
        let mut v = good();
        v["draft_ref"] = json!("not an id");
        assert_eq!(code_of(v), TerminalCode::AbortedExecutorFault);
        assert_eq!(code_of(json!([1])), TerminalCode::AbortedExecutorFault);
    }
}
