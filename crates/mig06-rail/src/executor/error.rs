//! How an executor call fails: a closed set of codes, never downstream bytes.
//!
//! The decision that matters: an executor reports *what kind* of failure happened by picking a
//! variant here, not by writing text, so everything an executor can put in a record is listed in
//! [`Reason`] and documented, and nothing the downstream said can reach the log. The set names
//! the failures of the executors this workspace ships (command, reference, HTTP); it says
//! nothing about how an executor decides them (the HTTP executor classifies statuses itself).

use crate::outcome::{Reason, TerminalCode};

/// How an executor call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExecutorError {
    /// The executor failed (spawn error, non-zero exit, transport error, unreadable output).
    #[error("executor fault: {0}")]
    Fault(ExecutorFault),
    /// The deadline passed before the executor answered; it was stopped.
    #[error("executor deadline passed")]
    Deadline,
    /// The executor answered without a final status (102/202, pending, queued, accepted).
    #[error("executor answer is not final: {0}")]
    NotFinal(PendingAnswer),
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
    /// The value-free reason recorded for it.
    #[must_use]
    pub fn reason(&self) -> Reason {
        match self {
            Self::Fault(f) => f.reason(),
            Self::Deadline => Reason::Deadline,
            Self::NotFinal(p) => p.reason(),
        }
    }
}

/// Why an executor failed. Closed: an executor picks the nearest variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutorFault {
    /// The private scratch directory or output file could not be used.
    ScratchUnavailable,
    /// The program could not be started.
    SpawnFailed,
    /// Waiting for the program failed.
    WaitFailed,
    /// The program exited non-zero.
    NonzeroExit,
    /// The program's output could not be read.
    ReadOutput,
    /// The program's output exceeded the receipt limit.
    OutputTooLarge,
    /// The program's output is not JSON.
    OutputNotJson,
    /// The step input could not be encoded for the program.
    EncodeInput,
    /// The draft could not be encoded.
    EncodeDraft,
    /// The draft store could not be opened.
    DraftStoreUnavailable,
    /// The draft could not be written.
    DraftStoreWriteFailed,
    /// The step input could not be encoded for the service.
    InputNotSerialisable,
    /// The service's host name did not resolve.
    HostNotFound,
    /// No connection to the service could be made.
    ConnectionFailed,
    /// The connection failed during the exchange.
    TransportError,
    /// Any other client error.
    HttpError,
    /// The service answered with a status that is not a final success.
    HttpStatus,
    /// The service's body exceeded the receipt limit.
    ReceiptTooLarge,
    /// The service's body is not JSON.
    ReceiptNotJson,
    /// The answer (program output or service body) repeats a member name in some object: it
    /// is refused before it is read as a receipt (I-JSON, RFC 7493 §2.3).
    ReceiptRepeatedMember,
}

impl ExecutorFault {
    /// Every fault.
    pub const ALL: [ExecutorFault; 20] = [
        Self::ScratchUnavailable,
        Self::SpawnFailed,
        Self::WaitFailed,
        Self::NonzeroExit,
        Self::ReadOutput,
        Self::OutputTooLarge,
        Self::OutputNotJson,
        Self::EncodeInput,
        Self::EncodeDraft,
        Self::DraftStoreUnavailable,
        Self::DraftStoreWriteFailed,
        Self::InputNotSerialisable,
        Self::HostNotFound,
        Self::ConnectionFailed,
        Self::TransportError,
        Self::HttpError,
        Self::HttpStatus,
        Self::ReceiptTooLarge,
        Self::ReceiptNotJson,
        Self::ReceiptRepeatedMember,
    ];

    /// The reason recorded for this fault.
    #[must_use]
    pub fn reason(self) -> Reason {
        match self {
            Self::ScratchUnavailable => Reason::ScratchUnavailable,
            Self::SpawnFailed => Reason::SpawnFailed,
            Self::WaitFailed => Reason::WaitFailed,
            Self::NonzeroExit => Reason::NonzeroExit,
            Self::ReadOutput => Reason::ReadOutput,
            Self::OutputTooLarge => Reason::OutputTooLarge,
            Self::OutputNotJson => Reason::OutputNotJson,
            Self::EncodeInput => Reason::EncodeInput,
            Self::EncodeDraft => Reason::EncodeDraft,
            Self::DraftStoreUnavailable => Reason::DraftStoreUnavailable,
            Self::DraftStoreWriteFailed => Reason::DraftStoreWriteFailed,
            Self::InputNotSerialisable => Reason::InputNotSerialisable,
            Self::HostNotFound => Reason::HostNotFound,
            Self::ConnectionFailed => Reason::ConnectionFailed,
            Self::TransportError => Reason::TransportError,
            Self::HttpError => Reason::HttpError,
            Self::HttpStatus => Reason::HttpStatus,
            Self::ReceiptTooLarge => Reason::ReceiptTooLarge,
            Self::ReceiptNotJson => Reason::ReceiptNotJson,
            Self::ReceiptRepeatedMember => Reason::DuplicateMember,
        }
    }

    /// The stable code (the recorded reason's code).
    #[must_use]
    pub fn code(self) -> &'static str {
        self.reason().code()
    }
}

impl std::fmt::Display for ExecutorFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// Why an executor's answer was not final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PendingAnswer {
    /// The service answered 1xx or 202 Accepted.
    HttpStatus,
    /// An async executor's future was still pending at the deadline.
    FuturePendingAtDeadline,
}

impl PendingAnswer {
    /// Every pending answer.
    pub const ALL: [PendingAnswer; 2] = [Self::HttpStatus, Self::FuturePendingAtDeadline];

    /// The reason recorded for it.
    #[must_use]
    pub fn reason(self) -> Reason {
        match self {
            Self::HttpStatus => Reason::HttpStatus,
            Self::FuturePendingAtDeadline => Reason::FuturePendingAtDeadline,
        }
    }

    /// The stable code (the recorded reason's code).
    #[must_use]
    pub fn code(self) -> &'static str {
        self.reason().code()
    }
}

impl std::fmt::Display for PendingAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executor_codes_are_distinct_reasons() {
        let mut codes: Vec<_> = ExecutorFault::ALL.iter().map(|f| f.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ExecutorFault::ALL.len());
        for p in PendingAnswer::ALL {
            assert!(Reason::ALL.contains(&p.reason()));
        }
        assert_eq!(
            ExecutorError::Fault(ExecutorFault::NonzeroExit).to_string(),
            "executor fault: nonzero_exit"
        );
    }
}
