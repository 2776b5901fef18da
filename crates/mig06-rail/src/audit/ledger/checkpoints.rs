//! Signed checkpoints: signing the tree, verifying the notes a store holds, and checking them
//! against the tree once the whole log is read (the same checks for every store and for
//! `audit verify`).

use mig06_tlog::checkpoint::{Checkpoint, CheckpointError, LogSigner};
use mig06_tlog::rotation::CheckpointKeys;
use mig06_tlog::{Tree, verify_consistency};

use super::fault::{LogFault, fault};
use crate::audit::AuditError;

/// The latest signed checkpoint.
pub const LATEST_CHECKPOINT: &str = "checkpoint.latest";
/// Signed checkpoints kept every [`CHECKPOINT_EVERY`] records.
pub const CHECKPOINTS_FILE: &str = "checkpoints";
/// How often (in records) a checkpoint is kept in [`CHECKPOINTS_FILE`].
pub const CHECKPOINT_EVERY: u64 = 256;

/// The signed checkpoint (C2SP note) of `tree` at `size`, by `signer`.
///
/// # Errors
/// [`AuditError::Corrupt`] when `size` exceeds the tree.
pub fn sign_tree(signer: &LogSigner, tree: &Tree, size: u64) -> Result<String, AuditError> {
    let root = tree.root_at(size).map_err(|_| AuditError::Corrupt {
        index: size,
        what: "size beyond the log".into(),
    })?;
    Ok(signer.sign(&Checkpoint {
        origin: signer.origin().to_owned(),
        size,
        root,
    }))
}

/// Why a checkpoint note did not verify, in words for the operator.
fn unverified(what: &str, e: &CheckpointError) -> String {
    match e {
        CheckpointError::KeyNotInForce { .. } => format!(
            "{what}: {e} (a key retired by a rotation signs nothing past its rotation's size)"
        ),
        CheckpointError::Malformed { .. } | CheckpointError::BadSignature => {
            format!("{what}: {e} (not signed by this log's key, or altered)")
        }
    }
}

/// Verifies the latest signed checkpoint's note, wherever the store keeps it, with the log's
/// key (or, for a log whose key was rotated, the key in force at its size).
///
/// # Errors
/// A [`LogFault`] when it is not signed by this log's key.
pub fn verify_latest(
    note: String,
    keys: &(impl CheckpointKeys + ?Sized),
) -> Result<(String, Checkpoint), LogFault> {
    let (cp, _) = keys
        .verify_checkpoint(&note)
        .map_err(|e| fault(None, unverified(LATEST_CHECKPOINT, &e)))?;
    Ok((note, cp))
}

/// Verifies kept checkpoint notes, in order, wherever the store keeps them: each must be
/// signed by this log's key (in force at its size), at a multiple of [`CHECKPOINT_EVERY`], in
/// increasing order with no gap.
///
/// # Errors
/// A [`LogFault`] naming the first bad kept checkpoint.
pub fn verify_kept(
    notes: Vec<String>,
    keys: &(impl CheckpointKeys + ?Sized),
) -> Result<Vec<(String, Checkpoint)>, LogFault> {
    verify_kept_from(notes, keys, 0)
}

/// [`verify_kept`] for the kept checkpoints from the `first`-th on.
///
/// # Errors
/// As [`verify_kept`].
pub fn verify_kept_from(
    notes: Vec<String>,
    keys: &(impl CheckpointKeys + ?Sized),
    first: u64,
) -> Result<Vec<(String, Checkpoint)>, LogFault> {
    let mut out: Vec<(String, Checkpoint)> = Vec::with_capacity(notes.len());
    for (i, note) in (first..).zip(notes) {
        let (cp, _) = keys
            .verify_checkpoint(&note)
            .map_err(|e| fault(None, unverified(&format!("kept checkpoint {i}"), &e)))?;
        let expected = i.saturating_add(1).saturating_mul(CHECKPOINT_EVERY);
        if cp.size != expected {
            return Err(fault(
                None,
                format!(
                    "kept checkpoint {i} is of size {} where {expected} belongs: kept checkpoints were removed, reordered or inserted",
                    cp.size
                ),
            ));
        }
        out.push((note, cp));
    }
    Ok(out)
}

/// Checks a checkpoint against the tree: its size within the log and its root the tree's.
///
/// # Errors
/// A [`LogFault`] naming the record the mismatch points at.
pub(crate) fn check_against_tree(cp: &Checkpoint, tree: &Tree, what: &str) -> Result<(), LogFault> {
    if cp.size > tree.size() {
        return Err(fault(
            Some(tree.size()),
            format!(
                "{what} covers {} records but the log has {}: records were removed from the end",
                cp.size,
                tree.size()
            ),
        ));
    }
    let root = tree
        .root_at(cp.size)
        .map_err(|_| fault(None, format!("{what}: size out of range")))?;
    if root != cp.root {
        let bad = cp.size.saturating_sub(1);
        return Err(fault(
            Some(bad),
            format!(
                "{what}: the tree of size {} does not match its signed root: a record up to {bad} was altered",
                cp.size
            ),
        ));
    }
    Ok(())
}

/// Checks that `new` extends `old` (RFC 6962 §2.1.2 consistency, built from the tree).
///
/// # Errors
/// A [`LogFault`] when `new` is smaller or not consistent.
pub(crate) fn check_consistency(
    old: &Checkpoint,
    new: &Checkpoint,
    tree: &Tree,
    what: &str,
) -> Result<(), LogFault> {
    if new.size < old.size {
        return Err(fault(
            None,
            format!(
                "{what}: checkpoints go backwards: {} after {}",
                new.size, old.size
            ),
        ));
    }
    let proof = tree.consistency_proof(old.size, new.size).map_err(|_| {
        fault(
            None,
            format!("{what}: consistency proof could not be built"),
        )
    })?;
    verify_consistency(old.size, new.size, &old.root, &new.root, &proof).map_err(|_| {
        fault(
            None,
            format!(
                "{what}: checkpoints of sizes {} and {} are not consistent",
                old.size, new.size
            ),
        )
    })
}

// INV-AUDIT-AUTHENTIC: kept checkpoints are required once the log passed their size, and the
// latest is never inconsistent with the newest kept one.
// INV-AUDIT-VERIFY-AGREES: the one checkpoint check, run by the stores' open and by `LogView`.
/// The checks on the checkpoint files once the whole log is read, shared by the store and
/// `audit verify`:
/// - a non-empty log has a latest checkpoint, and it matches the tree;
/// - every kept checkpoint matches the tree, and they are consistent one after the other;
/// - the kept file holds every kept size up to the latest checkpoint's size (it is required
///   once the log has passed its first kept size), and the latest checkpoint is consistent
///   with the newest kept one (older only after a crash between the kept checkpoint's sync and
///   the latest's rewrite; the store then signs a new latest).
///
/// # Errors
/// The first [`LogFault`].
pub fn check_checkpoints(
    tree: &Tree,
    latest: Option<&Checkpoint>,
    kept: &[(String, Checkpoint)],
) -> Result<(), LogFault> {
    check_checkpoints_from(tree, latest, 0, kept)
}

/// [`check_checkpoints`] for a store resumed from its index: `kept` are the kept checkpoints
/// from the `first`-th on (those before were checked when the index was written; each kept
/// checkpoint here is still checked against the tree, and the count and the latest
/// checkpoint's place among them as before).
///
/// # Errors
/// As [`check_checkpoints`].
pub fn check_checkpoints_from(
    tree: &Tree,
    latest: Option<&Checkpoint>,
    first: u64,
    kept: &[(String, Checkpoint)],
) -> Result<(), LogFault> {
    let Some(latest) = latest else {
        if tree.size() == 0 && kept.is_empty() && first == 0 {
            return Ok(());
        }
        return Err(fault(
            None,
            format!(
                "{LATEST_CHECKPOINT} is missing from a log of {} records",
                tree.size()
            ),
        ));
    };
    check_against_tree(latest, tree, LATEST_CHECKPOINT)?;
    let mut previous: Option<&Checkpoint> = None;
    for (i, (_, cp)) in (first..).zip(kept) {
        let what = format!("kept checkpoint {i}");
        check_against_tree(cp, tree, &what)?;
        if let Some(prev) = previous {
            check_consistency(prev, cp, tree, &what)?;
        }
        previous = Some(cp);
    }
    let required = latest.size / CHECKPOINT_EVERY;
    let on_file = first.saturating_add(kept.len() as u64);
    if on_file < required {
        return Err(fault(
            None,
            format!(
                "{CHECKPOINTS_FILE} holds {on_file} kept checkpoints but the latest checkpoint (size {}) has passed {required} kept sizes: kept checkpoints were removed",
                latest.size
            ),
        ));
    }
    // A latest checkpoint older than the newest kept one is what a crash between the kept
    // checkpoint's sync and the latest's rewrite leaves (the kept file is synced first): both
    // are signed and checked against the tree, so the older must only be consistent with the
    // newer, and the store signs a new latest when it opens.
    match previous {
        Some(newest) if latest.size < newest.size => {
            check_consistency(latest, newest, tree, LATEST_CHECKPOINT)?;
        }
        Some(newest) => check_consistency(newest, latest, tree, LATEST_CHECKPOINT)?,
        None => {}
    }
    Ok(())
}
