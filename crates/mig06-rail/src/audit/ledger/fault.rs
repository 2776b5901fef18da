//! Why a log does not check out: [`LogFault`], which names the first bad record when one can be
//! named and never carries record contents, and how it becomes an [`AuditError`].

use crate::audit::AuditError;

/// Why a log directory does not check out. Never carries record contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LogFault {
    /// The first bad record's index, when one can be named.
    pub first_bad_record: Option<u64>,
    /// What is wrong.
    pub message: String,
}

/// A [`LogFault`] naming record `index` (when known).
#[must_use]
pub fn fault(index: Option<u64>, message: impl Into<String>) -> LogFault {
    LogFault {
        first_bad_record: index,
        message: message.into(),
    }
}

impl From<std::io::Error> for AuditError {
    fn from(source: std::io::Error) -> Self {
        AuditError::Io {
            op: "read log",
            source,
        }
    }
}

impl From<LogFault> for AuditError {
    fn from(f: LogFault) -> Self {
        match f.first_bad_record {
            Some(index) => AuditError::Corrupt {
                index,
                what: f.message,
            },
            None => AuditError::CheckpointMismatch { what: f.message },
        }
    }
}
