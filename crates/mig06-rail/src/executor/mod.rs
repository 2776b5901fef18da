//! Executors run the attempt's one step, once, with a deadline, and return a receipt.
//!
//! The decision that matters: an executor returns the downstream's raw answer and the rail, not
//! the executor, decides whether it is a draft-only, final, metadata-only receipt
//! (`Receipt::check`). So a new executor cannot weaken the draft-only doctrine or the PHI
//! boundary by accident.
//!
//! INV-PHI-ABORT: PHI/PII inclusion is an abort condition.

pub mod command;
mod error;
mod receipt;
pub mod reference;

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::ids::{AttemptId, OpaqueId};
use crate::request::Code;
use crate::telemetry::TraceContext;

pub use error::{ExecutorError, ExecutorFault, PendingAnswer};
pub(crate) use receipt::Receipt;

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
    /// The W3C trace context the attempt runs in, for an executor that propagates it (the
    /// HTTP executor sends `traceparent` and `tracestate`); never part of [`StepInput::to_json`].
    pub trace: Option<TraceContext>,
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

/// Runs one step. Called at most once per attempt; never retried by the rail.
pub trait Executor: Send + Sync {
    /// Runs the step and returns the downstream's raw receipt JSON, or fails. Must return by
    /// `deadline` (stopping the work it started).
    ///
    /// # Errors
    /// [`ExecutorError`] for a fault, a passed deadline, or a non-final answer.
    fn execute(&self, input: &StepInput, deadline: Deadline) -> Result<Value, ExecutorError>;
}
