//! The auditors' read-only view of a checked log, from any store. A log directory is read by
//! [`LogView::open`] (in [`crate::audit::file`], with the file store's readers).

use mig06_tlog::checkpoint::Checkpoint;

use super::Ledger;
use super::fault::LogFault;

// INV-AUDIT-READONLY: Auditor commands never write: no lock, no cut, no signature, no private key.
/// An auditor's read-only view of a log directory: it takes no lock, cuts nothing, signs
/// nothing and needs only the log's public key. It runs the same checks as opening the store.
#[derive(Debug)]
pub struct LogView {
    ledger: Ledger,
    latest: Option<(String, Checkpoint)>,
    kept: Vec<(String, Checkpoint)>,
    torn_tail: u64,
}

impl LogView {
    /// The view of a log read by a [`LineChecker`](super::LineChecker) from any store, with its
    /// checkpoints as the store holds them (already verified by
    /// [`verify_latest`](super::verify_latest) and [`verify_kept`](super::verify_kept)): the
    /// checkpoints are checked against the records as [`check_checkpoints`] does, then the key
    /// schedule ([`Ledger::check_epochs`]).
    ///
    /// # Errors
    /// A [`LogFault`] when a checkpoint or a key rotation disagrees with the records.
    pub fn assemble(
        ledger: Ledger,
        latest: Option<(String, Checkpoint)>,
        kept: Vec<(String, Checkpoint)>,
        torn_tail: u64,
    ) -> Result<Self, LogFault> {
        Self::assemble_from(ledger, latest, 0, kept, torn_tail)
    }

    /// [`LogView::assemble`] for a view that read the log from a checkpoint on: `kept` are
    /// the kept checkpoints from the `first`-th on.
    ///
    /// # Errors
    /// As [`LogView::assemble`].
    pub fn assemble_from(
        ledger: Ledger,
        latest: Option<(String, Checkpoint)>,
        first: u64,
        kept: Vec<(String, Checkpoint)>,
        torn_tail: u64,
    ) -> Result<Self, LogFault> {
        super::check_checkpoints_from(
            ledger.tree(),
            latest.as_ref().map(|(_, cp)| cp),
            first,
            &kept,
        )?;
        ledger.check_epochs()?;
        Ok(Self {
            ledger,
            latest,
            kept,
            torn_tail,
        })
    }

    /// The checked ledger (tree, uncovered records).
    #[must_use]
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The latest signed checkpoint, as the file holds it, and its body.
    #[must_use]
    pub fn latest(&self) -> Option<&(String, Checkpoint)> {
        self.latest.as_ref()
    }

    /// The kept signed checkpoints.
    #[must_use]
    pub fn kept(&self) -> &[(String, Checkpoint)] {
        &self.kept
    }

    /// Bytes of a torn tail (an append never confirmed; the rail cuts it when it next opens).
    #[must_use]
    pub fn torn_tail(&self) -> u64 {
        self.torn_tail
    }

    /// A signed checkpoint of exactly `size` when one is on file (the latest or a kept one).
    #[must_use]
    pub fn signed_at(&self, size: u64) -> Option<&str> {
        self.latest
            .iter()
            .chain(self.kept.iter())
            .find(|(_, cp)| cp.size == size)
            .map(|(note, _)| note.as_str())
    }
}
