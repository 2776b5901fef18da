//! An attempt's evidence token, assembled from a checked read-only view of the log.
//!
//! The decision that matters: the evidence is built only against the latest *signed* checkpoint
//! of a view that has already been checked end to end ([`LogView`]), never against an unsigned
//! tree size, so a token printed here verifies offline with nothing but the log's public key. A
//! record the latest checkpoint does not yet cover has no evidence until the rail next opens the
//! log and signs one; it is refused here rather than given a proof no one can check.

use crate::audit::ledger::LogView;
use crate::audit::{Appended, AuditRecord};

/// Why no evidence could be assembled. No variant carries record contents.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// The log holds no terminal record for the attempt.
    #[error("no terminal record for that attempt id")]
    NoTerminalRecord,
    /// The attempt's terminal record is past the latest signed checkpoint.
    #[error(
        "record {index} is not yet covered by a signed checkpoint; the rail covers it when it next opens the log"
    )]
    NotCovered {
        /// The terminal record's leaf index.
        index: u64,
    },
    /// The inclusion proof could not be built from the view's tree (the view and its checkpoint
    /// disagree; a checked view never does).
    #[error(transparent)]
    Proof(#[from] mig06_tlog::ProofError),
    /// The assembled evidence carried no signed checkpoint.
    #[error("the evidence has no signed checkpoint")]
    NoCheckpoint,
}

/// The evidence token of `attempt_id`'s terminal record, against the view's latest signed
/// checkpoint.
///
/// `records` are the view's records in log order, each as its exact line and as decoded (what
/// [`LogView::open`]'s `on_record` sees); a record's position in it is its leaf index.
///
/// # Errors
/// [`ProveError::NoTerminalRecord`] when the attempt has no terminal record,
/// [`ProveError::NotCovered`] when the latest signed checkpoint does not cover it yet, and
/// [`ProveError::Proof`] or [`ProveError::NoCheckpoint`] when the view cannot prove it.
pub fn evidence_token<'a>(
    view: &LogView,
    records: impl IntoIterator<Item = (&'a [u8], &'a AuditRecord)>,
    attempt_id: &str,
) -> Result<String, ProveError> {
    let (index, (line, record)) = records
        .into_iter()
        .enumerate()
        .find(|(_, (_, r))| r.attempt_id.as_str() == attempt_id && r.is_terminal())
        .ok_or(ProveError::NoTerminalRecord)?;
    let index = index as u64;
    let (note, cp) = view
        .latest()
        .filter(|(_, cp)| cp.size > index)
        .ok_or(ProveError::NotCovered { index })?;
    let appended = Appended {
        index,
        leaf_hash: mig06_tlog::leaf_hash(line),
        bytes: line.to_vec(),
        proof: view.ledger().tree().inclusion_proof(index, cp.size)?,
        checkpoint: Some(note.clone()),
        record: record.clone(),
    };
    super::encode(&appended).ok_or(ProveError::NoCheckpoint)
}
