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

// INV-CLOSED-INPUT: an executor's answer is read by the one JSON reader; a repeated member name
// is an executor fault before the answer is read as a receipt.
/// Reads an executor's answer bytes as JSON, the one way the rail reads JSON it did not
/// write ([`crate::json`]): an answer that is not JSON is `not_json` (each executor names its
/// own), one that repeats a member name anywhere is
/// [`ExecutorFault::ReceiptRepeatedMember`], refused before it is read as a receipt.
///
/// # Errors
/// [`ExecutorError::Fault`] with `not_json` or [`ExecutorFault::ReceiptRepeatedMember`].
pub fn read_answer(bytes: &[u8], not_json: ExecutorFault) -> Result<Value, ExecutorError> {
    crate::json::read_value(bytes, &|_| false).map_err(|e| match e {
        crate::json::JsonError::RepeatedMember { .. } => {
            ExecutorError::Fault(ExecutorFault::ReceiptRepeatedMember)
        }
        crate::json::JsonError::Syntax { .. } | crate::json::JsonError::Shape { .. } => {
            ExecutorError::Fault(not_json)
        }
    })
}

/// The attempt's deadline: a fixed instant, never extended. Also the bound of a wait on a
/// synchronous dependency (an audit append: [`crate::audit::group::GroupCommit::append`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(Instant);

impl Deadline {
    /// A deadline `budget` from now.
    #[must_use]
    pub fn after(budget: Duration) -> Self {
        Self(Instant::now() + budget)
    }
    /// A deadline at `instant`.
    #[must_use]
    pub fn at(instant: Instant) -> Self {
        Self(instant)
    }
    /// The instant.
    #[must_use]
    pub fn instant(&self) -> Instant {
        self.0
    }
    /// Another bound, `margin` after this one (a terminal record's append is bounded by the
    /// attempt's deadline plus [`crate::audit::TERMINAL_APPEND_MARGIN`]); this one is unchanged.
    #[must_use]
    pub fn plus(&self, margin: Duration) -> Self {
        Self(self.0 + margin)
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
