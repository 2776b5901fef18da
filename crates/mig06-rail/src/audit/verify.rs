//! Whole-log verification for auditors: every record, every link, the log's rules (the same
//! [`super::rules::LedgerRules`] the store applies), the tree, every stored checkpoint's
//! signature, and consistency between successive checkpoints.
//!
//! The decision that matters: verification reads only the log directory and the log's public
//! key, never the rail's in-memory state, so an auditor can run it on a copy.
//! Localising the first bad record: a record whose body was altered breaks the *next* record's
//! link but not its own; a record whose `prev` was altered breaks its own link and the next one.

use std::io::{BufRead, BufReader};
use std::path::Path;

use mig06_tlog::checkpoint::{Checkpoint, LogVerifier};
use mig06_tlog::{Tree, leaf_hash, verify_consistency};

use super::file::{CHECKPOINTS_FILE, LATEST_CHECKPOINT, LOG_FILE};
use super::rules::LedgerRules;
use super::{AuditRecord, Hash, ZERO_HASH, hash_hex};

/// A log that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked.
    pub records: u64,
    /// Signed checkpoints checked (stored ones plus the latest).
    pub checkpoints: u64,
    /// The tree root.
    pub root: Hash,
}

/// Why a log did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct VerifyFailure {
    /// The first bad record's index, when one can be named.
    pub first_bad_record: Option<u64>,
    /// What is wrong, without record contents.
    pub message: String,
}

fn fail(index: Option<u64>, message: impl Into<String>) -> VerifyFailure {
    VerifyFailure {
        first_bad_record: index,
        message: message.into(),
    }
}

/// Verifies the audit log in `dir` with the log's verifier key. `progress(done, total)` is
/// called with byte counts as the log is read.
///
/// # Errors
/// A [`VerifyFailure`] naming the first bad record when one can be named.
pub fn verify_dir(
    dir: &Path,
    verifier: &LogVerifier,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyReport, VerifyFailure> {
    let path = dir.join(LOG_FILE);
    let file = std::fs::File::open(&path)
        .map_err(|e| fail(None, format!("cannot open {}: {e}", path.display())))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut tree = Tree::new();
    let mut last = ZERO_HASH;
    let mut line = Vec::with_capacity(1024);
    let mut offset = 0u64;
    let mut next_report = 0u64;
    // A broken link at index i: decided when record i + 1 is read.
    let mut broken_link: Option<u64> = None;
    // The same rules the store enforces when it opens and appends, so the two never disagree.
    let mut rules = LedgerRules::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| fail(Some(tree.size()), format!("read error: {e}")))?;
        if n == 0 {
            break;
        }
        let index = tree.size();
        let Some(body) = line.strip_suffix(b"\n") else {
            return Err(fail(
                Some(index),
                format!(
                    "record {index} is incomplete: the log ends with a torn tail at byte {offset}"
                ),
            ));
        };
        let record: AuditRecord = serde_json::from_slice(body).map_err(|_| {
            fail(
                Some(index),
                format!("record {index} is not a valid audit record"),
            )
        })?;
        if record.seq != index {
            return Err(fail(
                Some(index),
                format!(
                    "record {index} is out of place (records were removed, inserted or reordered)"
                ),
            ));
        }
        let link_ok = record.prev == hash_hex(&last);
        if let Some(b) = broken_link {
            let bad = if link_ok { b.saturating_sub(1) } else { b };
            return Err(fail(
                Some(bad),
                format!("record {bad} was altered: the hash chain breaks at record {b}"),
            ));
        }
        if !link_ok {
            broken_link = Some(index);
        }
        rules.admit((&record).into()).map_err(|v| {
            fail(
                Some(index),
                format!("record {index} breaks a rule of the log: {v}"),
            )
        })?;
        let h = leaf_hash(body);
        tree.push(h);
        last = h;
        offset += n as u64;
        if offset >= next_report {
            progress(offset, total);
            next_report = offset + (1 << 22);
        }
    }
    progress(offset, total);
    let size = tree.size();
    if let Some(b) = broken_link {
        let bad = b.saturating_sub(1);
        return Err(fail(
            Some(bad),
            format!("record {bad} or {b} was altered: the hash chain breaks at record {b}"),
        ));
    }
    let mut checked = 0u64;
    let mut previous: Option<Checkpoint> = None;
    let stored = read_notes(&dir.join(CHECKPOINTS_FILE))?;
    for (i, note) in stored.iter().enumerate() {
        let cp = check_note(note, verifier, &tree, &format!("stored checkpoint {i}"))?;
        if let Some(prev) = &previous {
            check_consistency(prev, &cp, &tree)?;
        }
        previous = Some(cp);
        checked += 1;
    }
    match std::fs::read_to_string(dir.join(LATEST_CHECKPOINT)) {
        Ok(note) => {
            let cp = check_note(&note, verifier, &tree, LATEST_CHECKPOINT)?;
            if let Some(prev) = &previous {
                check_consistency(prev, &cp, &tree)?;
            }
            checked += 1;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && size == 0 => {}
        Err(e) => {
            return Err(fail(None, format!("cannot read {LATEST_CHECKPOINT}: {e}")));
        }
    }
    Ok(VerifyReport {
        records: size,
        checkpoints: checked,
        root: tree.root(),
    })
}

fn check_note(
    note: &str,
    verifier: &LogVerifier,
    tree: &Tree,
    what: &str,
) -> Result<Checkpoint, VerifyFailure> {
    let cp = verifier.verify(note).map_err(|e| {
        fail(
            None,
            format!("{what}: {e} (not signed by this log's key, or altered)"),
        )
    })?;
    if cp.size > tree.size() {
        return Err(fail(
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
        .map_err(|_| fail(None, format!("{what}: size out of range")))?;
    if root != cp.root {
        let bad = cp.size.saturating_sub(1);
        return Err(fail(
            Some(bad),
            format!(
                "{what}: the tree of size {} does not match its signed root: record {bad} was altered",
                cp.size
            ),
        ));
    }
    Ok(cp)
}

fn check_consistency(old: &Checkpoint, new: &Checkpoint, tree: &Tree) -> Result<(), VerifyFailure> {
    if new.size < old.size {
        return Err(fail(
            None,
            format!("checkpoints go backwards: {} after {}", new.size, old.size),
        ));
    }
    let proof = tree
        .consistency_proof(old.size, new.size)
        .map_err(|_| fail(None, "consistency proof could not be built"))?;
    verify_consistency(old.size, new.size, &old.root, &new.root, &proof).map_err(|_| {
        fail(
            None,
            format!(
                "checkpoints of sizes {} and {} are not consistent",
                old.size, new.size
            ),
        )
    })
}

/// Splits a file of signed notes (each: body, blank line, signature lines, blank line).
fn read_notes(path: &Path) -> Result<Vec<String>, VerifyFailure> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(fail(None, format!("cannot read {}: {e}", path.display()))),
    };
    let mut notes = Vec::new();
    let mut current = String::new();
    let mut in_sigs = false;
    for line in text.split_inclusive('\n') {
        if line == "\n" {
            if in_sigs {
                notes.push(std::mem::take(&mut current));
                in_sigs = false;
            } else {
                current.push_str(line);
                in_sigs = true;
            }
        } else {
            current.push_str(line);
        }
    }
    if !current.is_empty() {
        notes.push(current);
    }
    Ok(notes)
}
