//! Whole-log verification for auditors: every record, every link, the tree, every stored
//! checkpoint's signature and their consistency, each record past the latest signed checkpoint
//! by its own signature, the log's rules, and optionally consistency with a checkpoint the
//! auditor kept.
//!
//! The decision that matters: verification is [`LogView::open`], the same reading and checking
//! the store does when it opens (so the two can never disagree), on the log directory and the
//! log's public key only: an auditor can run it on a read-only copy, without the private key.
//!
//! INV-AUDIT-TAMPER-EVIDENT: Audit material is tamper-evident: any altered, removed, reordered byte
//! is detected.
//!
//! INV-CONT-CHAIN: verification applies the log's rules (`LedgerRules`) to every record, as the
//! stores do.

use std::path::Path;

use mig06_tlog::checkpoint::{Checkpoint, LogVerifier};
use mig06_tlog::rotation::{CheckpointKeys, LogKeys};

use super::Hash;
use super::ledger::{LogFault, LogView, Uncovered, check_against_tree, fault};

/// A log that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked.
    pub records: u64,
    /// Signed checkpoints checked (kept ones, the latest, and a trusted one when given).
    pub checkpoints: u64,
    /// The tree root.
    pub root: Hash,
    /// The size the latest signed checkpoint covers.
    pub latest_size: u64,
    /// Records past the latest signed checkpoint (each authenticated by its own signature).
    pub uncovered: Uncovered,
    /// Bytes of a torn tail: an append that was never confirmed, which the rail cuts when it
    /// next opens the log.
    pub torn_tail: u64,
    /// Open records past their deadline with no terminal record: attempts whose process
    /// stopped, which the next writer ends `ABORTED_INTERRUPTED`.
    pub overdue_open: u64,
    /// The log's key schedule as followed and checked against the tree: its genesis key, its
    /// rotations, the key in force.
    pub keys: LogKeys,
    /// The first record read and checked (0: the whole log; see [`verify_since`]).
    pub from: u64,
}

/// Why a log did not verify.
pub type VerifyFailure = LogFault;

// INV-AUDIT-AUTHENTIC: with a trusted checkpoint, a log rolled back below it or rewritten under it
// fails.
// INV-AUDIT-VERIFY-AGREES: verification is `LogView::open`: the same line checker and checkpoint
// checks as the store's open.
/// Verifies the audit log in `dir` with the log's verifier key (any of its keys: the log's key
/// rotations are followed from it). When `trusted` (a signed checkpoint note the auditor kept,
/// from an evidence token or an earlier run) is given, the log must be consistent with it: a
/// log rolled back below it, or rewritten under it, fails. `progress(done, total)` is called
/// with byte counts as the log is read.
///
/// # Errors
/// A [`VerifyFailure`] naming the first bad record when one can be named.
pub fn verify_dir(
    dir: &Path,
    verifier: &LogVerifier,
    trusted: Option<&str>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyReport, VerifyFailure> {
    let view = LogView::open(dir, verifier, &mut |_, _, _| {}, progress)?;
    let trusted = trusted
        .map(|note| trusted_checkpoint(note, view.ledger().keys()))
        .transpose()?;
    verify_view(&view, trusted.as_ref())
}

/// Verifies a checkpoint note an auditor kept (from an evidence token or an earlier run), with
/// the log's key (or its key schedule: the key in force at the checkpoint's size).
///
/// # Errors
/// A [`VerifyFailure`] when it is not signed by this log's key.
pub fn trusted_checkpoint(
    note: &str,
    keys: &(impl CheckpointKeys + ?Sized),
) -> Result<Checkpoint, VerifyFailure> {
    keys.verify_checkpoint(note).map(|(cp, _)| cp).map_err(|e| {
        fault(
            None,
            format!("the trusted checkpoint: {e} (not signed by this log's key)"),
        )
    })
}

/// The report on a log a [`LogView`] has read and checked, from any store; with `trusted`,
/// the log must also extend that checkpoint.
///
/// # Errors
/// A [`VerifyFailure`] when the log does not extend `trusted`.
pub fn verify_view(
    view: &LogView,
    trusted: Option<&Checkpoint>,
) -> Result<VerifyReport, VerifyFailure> {
    let tree = view.ledger().tree();
    let mut checkpoints = view.kept().len() as u64;
    let latest_size = match view.latest() {
        Some((_, cp)) => {
            checkpoints += 1;
            cp.size
        }
        None => 0,
    };
    if let Some(t) = trusted {
        // The tree the log's own checkpoints were checked against has the trusted root at the
        // trusted size: the log extends what the auditor kept.
        check_against_tree(t, tree, "the trusted checkpoint")?;
        checkpoints += 1;
    }
    Ok(VerifyReport {
        records: tree.size(),
        checkpoints,
        root: tree.root(),
        latest_size,
        uncovered: view.ledger().uncovered(),
        torn_tail: view.torn_tail(),
        overdue_open: view.ledger().overdue(time::OffsetDateTime::now_utc()).len() as u64,
        keys: view.ledger().keys().clone(),
        from: 0,
    })
}

/// Verifies what was appended to the file log in `dir` since `since` (a signed checkpoint note
/// the auditor verified before): the log must extend it, and every record from it on is
/// checked ([`LogView::open_since`]), so a daily audit costs a day's records. Rules that tie a
/// new record to one before `since` are left to a full [`verify_dir`].
///
/// # Errors
/// A [`VerifyFailure`] when `since` is not signed by this log's key, or the log does not
/// extend it, or a record from it on does not check out.
pub fn verify_since(
    dir: &Path,
    verifier: &LogVerifier,
    since: &str,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyReport, VerifyFailure> {
    let keys = super::file::read_keys(dir, verifier)?;
    let cp = trusted_checkpoint(since, &keys)?;
    let (view, from) = LogView::open_since(dir, verifier, &cp, progress)?;
    let mut report = verify_view(&view, Some(&cp))?;
    report.from = from;
    Ok(report)
}
