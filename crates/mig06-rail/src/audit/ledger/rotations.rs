//! Key epochs: following the log's key rotation statements to a key schedule, and checking the
//! schedule against the tree once the whole log is read. The store's open and `audit verify`
//! (every [`LogView`](super::LogView)) run these same two functions.
//!
//! The decision that matters: a rotation is a position in the one tree, not a new log. Its
//! statement (`mig06_tlog::rotation`) is signed by both keys and binds the root at its size R,
//! so it is checked against the tree like a checkpoint; and the first record of every epoch (0
//! and each R) must carry its own valid signature by that epoch's key, even when a checkpoint
//! covers it, which is what makes a removed or truncated `rotations` file visible: without the
//! statements, the records before R are not signed by the key the verifier would expect.

use mig06_tlog::checkpoint::LogVerifier;
use mig06_tlog::rotation::{LogKeys, RotationError};

use super::fault::{LogFault, fault};
use super::{Ledger, seal};

/// The key rotation statements beside the log: signed notes, each followed by an empty line,
/// in order (`docs/AUDIT-LOG.md`, "Key rotations").
pub const ROTATIONS_FILE: &str = "rotations";

// INV-KEY-EPOCH: the one way every reader builds a log's key schedule from its statements.
/// The key schedule the statements `notes` (in order) make, trusted through `anchor` (the
/// verifier's key: the genesis key, the current one, or any key between):
/// [`LogKeys::follow`].
///
/// # Errors
/// A [`LogFault`] naming the first statement that does not verify or does not chain, or saying
/// that `anchor` is not one of the log's keys.
pub fn follow_rotations(notes: &[String], anchor: &LogVerifier) -> Result<LogKeys, LogFault> {
    LogKeys::follow(anchor, notes).map_err(|e| match e {
        RotationError::AnchorNotInChain => fault(
            None,
            format!(
                "the key {} is not one of this log's keys ({ROTATIONS_FILE} names {} key(s)): verify with one of them",
                anchor.key_name(),
                notes.len().saturating_add(1)
            ),
        ),
        other => fault(
            None,
            format!("{ROTATIONS_FILE}: {other} (not signed by this log's keys, or altered)"),
        ),
    })
}

impl Ledger {
    // INV-KEY-EPOCH: every rotation's root is the tree's at its size, and the first record of
    // every epoch is signed by that epoch's key.
    /// Checks the key schedule against the whole log as read: each rotation's size is within the
    /// log and its root is the tree's at that size; the first record of each epoch carries a
    /// valid signature by the epoch's key. Run after the checkpoints are checked, so that a
    /// damaged log is blamed as before and only a schedule that does not fit it is blamed here.
    ///
    /// # Errors
    /// A [`LogFault`] naming the record the mismatch points at.
    pub fn check_epochs(&self) -> Result<(), LogFault> {
        let size = self.size();
        for (n, r) in self.keys.rotations().iter().enumerate() {
            let epoch = n.saturating_add(1);
            if r.size() > size {
                return Err(fault(
                    Some(size),
                    format!(
                        "key rotation {epoch} is at size {} but the log has {size} records: records were removed from the end",
                        r.size()
                    ),
                ));
            }
            if self.root_at(r.size()).ok().as_ref() != Some(r.root()) {
                let bad = r.size().saturating_sub(1);
                return Err(fault(
                    Some(bad),
                    format!(
                        "key rotation {epoch}: the tree of size {} does not match the root it signs: a record up to {bad} was altered",
                        r.size()
                    ),
                ));
            }
        }
        for (index, line, record) in &self.epoch_starts {
            let key = self.keys.record_key(*index);
            if !seal::is_sealed(line, record, key) {
                return Err(fault(
                    Some(*index),
                    format!(
                        "record {index}, the first of a key epoch, is not signed by that epoch's key {}: the log's key rotations ({ROTATIONS_FILE}) are missing or are not this log's, or the key given is not the one in force at that record",
                        key.key_name()
                    ),
                ));
            }
        }
        Ok(())
    }
}
