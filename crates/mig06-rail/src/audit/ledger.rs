//! Reading and checking a log directory: the one code path that both the writing store
//! ([`super::file::FileStore`]) and the auditors' read-only view ([`LogView`], `audit verify`)
//! use, so that opening the store and verifying the log can never disagree.
//!
//! The decision that matters: a record is trusted only when a signature by the log's key covers
//! it, either a signed checkpoint whose tree includes it or the record's own signature (its
//! `sig` member, see [`seal`]). Records past the latest signed checkpoint are therefore checked
//! one by one; a record no signature covers is never indexed, proved or signed over, so a line
//! appended by anyone without the key can never become evidence.
//!
//! Files and what survives a power loss:
//! - `log.jsonl`: every append is `fdatasync`ed before it is confirmed.
//! - `checkpoint.latest`: created (size 0) and synced with its directory entry when the store is
//!   created; rewritten in place without a sync on ordinary appends, synced when a kept
//!   checkpoint is written. After a power loss it may lag the log; the records past it carry
//!   their own signatures, and the rail signs a new latest checkpoint when it next opens the log.
//! - `checkpoints`: appended and synced at every [`CHECKPOINT_EVERY`]-th record, before the
//!   latest checkpoint that covers that size is synced, so a durable latest checkpoint at or
//!   past a kept size implies the kept checkpoint is durable too.
//!
//! INV-AUDIT-POWER-LOSS: After a power loss at any point the rail starts and the log verifies: the
//! log is…

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

use mig06_tlog::checkpoint::{Checkpoint, LogSigner, LogVerifier};
use mig06_tlog::{Tree, leaf_hash, verify_consistency};

use super::rules::LedgerRules;
use super::{AuditError, AuditRecord, Hash, RecordKind, ZERO_HASH, hash_hex};
use crate::ids::AttemptId;

/// The log file's name in the audit directory.
pub const LOG_FILE: &str = "log.jsonl";
/// The latest signed checkpoint.
pub const LATEST_CHECKPOINT: &str = "checkpoint.latest";
/// Signed checkpoints kept every [`CHECKPOINT_EVERY`] records.
pub const CHECKPOINTS_FILE: &str = "checkpoints";
/// How often (in records) a checkpoint is kept in [`CHECKPOINTS_FILE`].
pub const CHECKPOINT_EVERY: u64 = 256;

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

// INV-AUDIT-AUTHENTIC: Nothing is ever signed that this rail did not write: a record past the
// latest signed…
/// Record signatures: the `sig` member, always the record's last member.
///
/// A record's signature is Ed25519, by the log's key, over `RECORD_SIG_DOMAIN`, LF, the log's
/// origin, LF, and the record's JSON text without its `sig` member (`{...}` exactly as the
/// line holds it, with `,"sig":"<base64>"` removed from the end). See
/// [`mig06_tlog::checkpoint::record_message`].
pub mod seal {
    use super::{AuditError, AuditRecord, LogSigner, LogVerifier};

    /// Serialises `record` (its `sig` is replaced) and signs it: the line to append, without the
    /// newline.
    ///
    /// # Errors
    /// [`AuditError::Encode`] when the record cannot be serialised.
    pub fn seal(record: &mut AuditRecord, signer: &LogSigner) -> Result<Vec<u8>, AuditError> {
        record.sig = None;
        let unsigned = serde_json::to_vec(&*record).map_err(|_| AuditError::Encode)?;
        let sig = signer.sign_record(&unsigned);
        let mut line = unsigned;
        // `{...}` becomes `{...,"sig":"..."}`: serde writes `sig` last, as the struct declares.
        line.pop();
        line.extend_from_slice(b",\"sig\":\"");
        line.extend_from_slice(sig.as_bytes());
        line.extend_from_slice(b"\"}");
        record.sig = Some(sig);
        Ok(line)
    }

    /// Whether `line` (which parsed as `record`) carries a valid signature by the log's key.
    #[must_use]
    pub(crate) fn is_sealed(line: &[u8], record: &AuditRecord, verifier: &LogVerifier) -> bool {
        let Some(sig) = &record.sig else {
            return false;
        };
        let suffix_len = sig.len() + b",\"sig\":\"\"}".len();
        let Some(cut) = line.len().checked_sub(suffix_len) else {
            return false;
        };
        let (head, tail) = line.split_at(cut);
        let mut expected = Vec::with_capacity(suffix_len);
        expected.extend_from_slice(b",\"sig\":\"");
        expected.extend_from_slice(sig.as_bytes());
        expected.extend_from_slice(b"\"}");
        if tail != expected.as_slice() {
            return false;
        }
        let mut unsigned = Vec::with_capacity(head.len() + 1);
        unsigned.extend_from_slice(head);
        unsigned.push(b'}');
        verifier.verify_record(&unsigned, sig)
    }
}

/// Records past the latest signed checkpoint, each authenticated by its own signature.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Uncovered {
    /// Open records among them.
    pub open: u64,
    /// Terminal records among them.
    pub terminal: u64,
}

impl Uncovered {
    /// How many records no signed checkpoint covers.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.open.saturating_add(self.terminal)
    }
}

// INV-AUDIT-VERIFY-AGREES: `audit verify` checks every rule that opening the store enforces: the
// two never…
/// The log as read so far: its tree, the end of its hash chain, and the state of the rules
/// every record must keep.
#[derive(Debug)]
pub struct Ledger {
    tree: Tree,
    last: Hash,
    rules: LedgerRules,
    /// Open records whose attempt has no terminal record yet, with their deadline parsed once
    /// (`None`: unreadable, so overdue).
    pending: HashMap<AttemptId, (Option<time::OffsetDateTime>, AuditRecord)>,
    /// Records at or past this index are not covered by the latest signed checkpoint and must
    /// carry their own valid signature.
    covered: u64,
    uncovered: Uncovered,
}

impl Ledger {
    /// The tree root at `size`.
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] when `size` exceeds the log.
    pub fn root_at(&self, size: u64) -> Result<Hash, AuditError> {
        self.tree().root_at(size).map_err(|_| AuditError::Corrupt {
            index: size,
            what: "size beyond the log".into(),
        })
    }

    /// The leaf hash at `index`.
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] when `index` is beyond the log.
    pub fn leaf_at(&self, index: u64) -> Result<Hash, AuditError> {
        self.tree().leaf(index).ok_or(AuditError::Corrupt {
            index,
            what: "index beyond the log".into(),
        })
    }

    /// An empty ledger whose latest signed checkpoint covers `covered` records.
    #[must_use]
    pub fn new(covered: u64) -> Self {
        Self {
            tree: Tree::new(),
            last: ZERO_HASH,
            rules: LedgerRules::new(),
            pending: HashMap::new(),
            covered,
            uncovered: Uncovered::default(),
        }
    }

    /// The tree of every record admitted.
    #[must_use]
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// Records admitted.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// The leaf hash of the last record (the next record's `prev`).
    #[must_use]
    pub fn last(&self) -> Hash {
        self.last
    }

    /// Calls `f` with the tree as it will be once `leaves` are appended, then puts the tree back:
    /// a store that must sign checkpoints in the same transaction as the records they cover
    /// signs them before the commit, and admits the records only once it is confirmed.
    pub fn with_staged<T>(&mut self, leaves: &[Hash], f: impl FnOnce(&Tree) -> T) -> T {
        let size = self.tree.size();
        for l in leaves {
            self.tree.push(*l);
        }
        let out = f(&self.tree);
        self.tree.truncate(size);
        out
    }

    /// Records past the latest signed checkpoint.
    #[must_use]
    pub fn uncovered(&self) -> Uncovered {
        self.uncovered
    }

    /// The log's cross-record rules, as every admitted record left them.
    #[must_use]
    pub fn rules(&self) -> &LedgerRules {
        &self.rules
    }

    /// Parses one line as the next record: an audit record whose `seq` is its index.
    ///
    /// # Errors
    /// A [`LogFault`] naming the record.
    pub fn decode(&self, line: &[u8]) -> Result<AuditRecord, LogFault> {
        let index = self.tree.size();
        let record: AuditRecord = super::read_record(line).map_err(|e| {
            let why = match e {
                crate::json::JsonError::RepeatedMember { path } => {
                    format!(" (a member name is repeated at {path})")
                }
                crate::json::JsonError::Syntax { .. } | crate::json::JsonError::Shape { .. } => {
                    String::new()
                }
            };
            fault(
                Some(index),
                format!("record {index} is not a valid audit record{why}"),
            )
        })?;
        if record.seq != index {
            return Err(fault(
                Some(index),
                format!(
                    "record {index} is out of place (records were removed, inserted or reordered)"
                ),
            ));
        }
        Ok(record)
    }

    /// Whether `record` links to the previous record.
    #[must_use]
    pub fn links(&self, record: &AuditRecord) -> bool {
        record.prev == hash_hex(&self.last)
    }

    /// Admits the next record (already decoded and linked): its own signature when no signed
    /// checkpoint covers it, then the log's rules.
    ///
    /// # Errors
    /// A [`LogFault`] naming the record.
    pub fn admit(
        &mut self,
        line: &[u8],
        record: &AuditRecord,
        verifier: &LogVerifier,
    ) -> Result<(), LogFault> {
        let index = self.tree.size();
        if index >= self.covered {
            if !seal::is_sealed(line, record, verifier) {
                return Err(fault(
                    Some(index),
                    format!(
                        "record {index} is past the latest signed checkpoint and carries no valid signature by this log's key: it was not written by this rail"
                    ),
                ));
            }
            match record.kind() {
                RecordKind::Open => self.uncovered.open += 1,
                RecordKind::Terminal => self.uncovered.terminal += 1,
            }
        }
        self.check_rules(index, record)?;
        let h = leaf_hash(line);
        self.tree.push(h);
        self.last = h;
        Ok(())
    }

    /// Decodes `line` as the next record, checks its link to the record before, and admits it
    /// ([`Ledger::admit`]): how a writing store reads what others appended.
    ///
    /// # Errors
    /// A [`LogFault`] naming the record.
    pub fn admit_next(&mut self, line: &[u8], verifier: &LogVerifier) -> Result<(), LogFault> {
        let index = self.tree.size();
        let record = self.decode(line)?;
        if !self.links(&record) {
            return Err(fault(
                Some(index),
                format!("record {index}: the link to the previous record is broken"),
            ));
        }
        self.admit(line, &record, verifier)
    }

    /// Open records without a terminal record whose deadline is before `now` (RFC 3339 UTC
    /// compared as instants): attempts whose process stopped. Ordered by log index.
    #[must_use]
    pub fn overdue(&self, now: time::OffsetDateTime) -> Vec<&AuditRecord> {
        let mut v: Vec<&AuditRecord> = self
            .pending
            .values()
            .filter(|(deadline, _)| deadline.is_none_or(|d| d < now))
            .map(|(_, r)| r)
            .collect();
        v.sort_by_key(|r| r.seq);
        v
    }

    /// The rules every record keeps, whoever wrote it: [`LedgerRules`], and one open record
    /// per attempt, before its terminal record.
    fn check_rules(&mut self, index: u64, record: &AuditRecord) -> Result<(), LogFault> {
        if record.kind() == RecordKind::Open
            && (self.rules.is_terminated(&record.attempt_id)
                || self.pending.contains_key(&record.attempt_id))
        {
            return Err(fault(
                Some(index),
                format!("record {index}: a second open record for one attempt"),
            ));
        }
        self.rules.admit(record.into()).map_err(|v| {
            fault(
                Some(index),
                format!("record {index} breaks a rule of the log: {v}"),
            )
        })?;
        match record.kind() {
            RecordKind::Open => {
                let deadline = record.deadline.as_deref().and_then(|d| {
                    time::OffsetDateTime::parse(d, &time::format_description::well_known::Rfc3339)
                        .ok()
                });
                self.pending
                    .insert(record.attempt_id.clone(), (deadline, record.clone()));
            }
            RecordKind::Terminal => {
                self.pending.remove(&record.attempt_id);
            }
        }
        Ok(())
    }

    /// Marks every admitted record as covered by a signed checkpoint (the store just signed one).
    pub fn mark_covered(&mut self) {
        self.covered = self.tree.size();
        self.uncovered = Uncovered::default();
    }

    /// Pushes a record the store itself just sealed and made durable.
    ///
    /// # Errors
    /// A [`LogFault`] when the record breaks a rule of the log (the store staged it against
    /// the same rules, so this means the store's own state is wrong).
    pub fn push_own(&mut self, line: &[u8], record: &AuditRecord) -> Result<(), LogFault> {
        let index = self.tree.size();
        self.check_rules(index, record)?;
        let h = leaf_hash(line);
        self.tree.push(h);
        self.last = h;
        if index >= self.covered {
            match record.kind() {
                RecordKind::Open => self.uncovered.open += 1,
                RecordKind::Terminal => self.uncovered.terminal += 1,
            }
        }
        Ok(())
    }
}

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

/// One record of a staged batch: where it goes and its sealed bytes.
#[derive(Debug)]
pub struct StagedRecord {
    /// The caller's record this is (`None`: an `ABORTED_INTERRUPTED` record the batch added).
    pub slot: Option<usize>,
    /// Its leaf index.
    pub index: u64,
    /// Its RFC 6962 leaf hash.
    pub leaf: Hash,
    /// Its exact bytes (sealed, without the newline).
    pub bytes: Vec<u8>,
    /// The record as sealed.
    pub record: AuditRecord,
}

/// A batch checked against the log's rules and sealed, not yet written: what every store does
/// before its one durable write ([`Ledger::stage_batch`]).
#[derive(Debug)]
pub struct StagedBatch {
    /// The log's size before the batch.
    pub start: u64,
    /// The records to write, in log order.
    pub records: Vec<StagedRecord>,
    /// The caller's records the log's rules refused, by slot.
    pub refused: Vec<(usize, super::rules::RuleViolation)>,
    /// How many `ABORTED_INTERRUPTED` records the batch added.
    pub interrupted: u64,
}

impl StagedBatch {
    /// The log's size after the batch.
    #[must_use]
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.records.len() as u64)
    }

    /// Whether the batch gets a signed checkpoint: one that holds a terminal record (its
    /// evidence needs one), the log's first batch, and one that reaches a kept size (so the
    /// latest checkpoint is never older than a kept one). An open record alone is covered by its
    /// own signature until then.
    #[must_use]
    pub fn needs_checkpoint(&self) -> bool {
        self.start == 0
            || self.start / CHECKPOINT_EVERY != self.end() / CHECKPOINT_EVERY
            || self
                .records
                .iter()
                .any(|r| r.record.kind() == RecordKind::Terminal)
    }
}

impl Ledger {
    /// Stages `records` as the next batch: first an `ABORTED_INTERRUPTED` record for every open
    /// record whose deadline passed before `now` without a terminal record, then each record in
    /// order, checked against the log's rules as of the records before it (a refused record is
    /// left out and reported), linked and sealed with `signer`. The ledger is not changed: the
    /// store admits the records ([`Ledger::push_own`]) once they are durable.
    ///
    /// # Errors
    /// [`AuditError::Encode`] when a record cannot be serialised.
    pub fn stage_batch(
        &self,
        records: Vec<AuditRecord>,
        signer: &LogSigner,
        now: time::OffsetDateTime,
    ) -> Result<StagedBatch, AuditError> {
        let recovered: Vec<AuditRecord> = self
            .overdue(now)
            .into_iter()
            .map(AuditRecord::interrupted)
            .collect();
        let interrupted = recovered.len() as u64;
        let start = self.size();
        let mut last = self.last();
        let mut rules = self.rules().stage();
        let mut staged = Vec::with_capacity(records.len() + recovered.len());
        let mut refused = Vec::new();
        let queue = recovered
            .into_iter()
            .map(|r| (None, r))
            .chain(records.into_iter().enumerate().map(|(i, r)| (Some(i), r)));
        for (slot, mut record) in queue {
            if let Err(v) = rules.admit((&record).into()) {
                if let Some(i) = slot {
                    refused.push((i, v));
                }
                continue;
            }
            let index = start + staged.len() as u64;
            record.prev = hash_hex(&last);
            record.seq = index;
            let bytes = seal::seal(&mut record, signer)?;
            let leaf = leaf_hash(&bytes);
            last = leaf;
            staged.push(StagedRecord {
                slot,
                index,
                leaf,
                bytes,
                record,
            });
        }
        Ok(StagedBatch {
            start,
            records: staged,
            refused,
            interrupted,
        })
    }

    /// Admits a staged batch the store made durable and returns one result per caller's record
    /// (`n` of them, by slot): its place, bytes, inclusion proof in the tree that ends with the
    /// batch and the batch's signed `checkpoint`, or the rule that refused it. Nothing here may
    /// fail a durable record except a broken store state.
    ///
    /// # Errors
    /// A [`LogFault`] when a durable record breaks the ledger's rules (the store's own state is
    /// wrong).
    pub fn admit_staged(
        &mut self,
        batch: StagedBatch,
        n: usize,
        checkpoint: Option<&str>,
    ) -> Result<Vec<Result<super::Appended, AuditError>>, LogFault> {
        for r in &batch.records {
            self.push_own(&r.bytes, &r.record)?;
        }
        let size = self.size();
        let mut results: Vec<Option<Result<super::Appended, AuditError>>> =
            (0..n).map(|_| None).collect();
        for (i, v) in batch.refused {
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(Err(AuditError::Rule(v)));
            }
        }
        for r in batch.records {
            let Some(slot) = r.slot.and_then(|i| results.get_mut(i)) else {
                continue;
            };
            let proof = self
                .tree
                .inclusion_proof(r.index, size)
                .map_err(|_| AuditError::Corrupt {
                    index: r.index,
                    what: "inclusion proof".into(),
                });
            *slot = Some(proof.map(|proof| super::Appended {
                index: r.index,
                leaf_hash: r.leaf,
                bytes: r.bytes,
                proof,
                checkpoint: checkpoint.map(str::to_owned),
                record: r.record,
            }));
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or(Err(AuditError::NoResult)))
            .collect())
    }

    /// Results for a batch whose records were all refused (nothing to write).
    #[must_use]
    pub fn refused_only(batch: StagedBatch, n: usize) -> Vec<Result<super::Appended, AuditError>> {
        let mut results: Vec<Result<super::Appended, AuditError>> =
            (0..n).map(|_| Err(AuditError::NoResult)).collect();
        for (i, v) in batch.refused {
            if let Some(slot) = results.get_mut(i) {
                *slot = Err(AuditError::Rule(v));
            }
        }
        results
    }
}

/// Reads the complete lines of `file` from byte `from` to its end, calling `f(offset, line)`
/// for each (without its newline). Returns the bytes of complete lines read and the length of a
/// torn tail (a last line without its newline), which is never passed to `f`.
///
/// # Errors
/// I/O errors, or what `f` returns.
pub(crate) fn read_lines<E: From<std::io::Error>>(
    file: &File,
    from: u64,
    mut f: impl FnMut(u64, &[u8]) -> Result<(), E>,
) -> Result<(u64, u64), E> {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    reader.seek(SeekFrom::Start(from))?;
    let mut line = Vec::with_capacity(1024);
    let mut offset = from;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok((offset - from, 0));
        }
        match line.strip_suffix(b"\n") {
            Some(body) => f(offset, body)?,
            None => return Ok((offset - from, n as u64)),
        }
        offset += n as u64;
    }
}

/// Reads and verifies [`LATEST_CHECKPOINT`]: `None` when the file does not exist.
///
/// # Errors
/// A [`LogFault`] when it cannot be read or is not signed by this log's key.
pub(crate) fn read_latest(
    dir: &Path,
    verifier: &LogVerifier,
) -> Result<Option<(String, Checkpoint)>, LogFault> {
    match std::fs::read_to_string(dir.join(LATEST_CHECKPOINT)) {
        Ok(note) => verify_latest(note, verifier).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(fault(None, format!("cannot read {LATEST_CHECKPOINT}: {e}"))),
    }
}

/// Verifies the latest signed checkpoint's note, wherever the store keeps it.
///
/// # Errors
/// A [`LogFault`] when it is not signed by this log's key.
pub fn verify_latest(
    note: String,
    verifier: &LogVerifier,
) -> Result<(String, Checkpoint), LogFault> {
    let cp = verifier.verify(&note).map_err(|e| {
        fault(
            None,
            format!("{LATEST_CHECKPOINT}: {e} (not signed by this log's key, or altered)"),
        )
    })?;
    Ok((note, cp))
}

/// Reads and verifies every note of [`CHECKPOINTS_FILE`] (empty when absent): each must be
/// signed by this log's key, at a multiple of [`CHECKPOINT_EVERY`], in increasing order with no
/// gap.
///
/// # Errors
/// A [`LogFault`] naming the first bad kept checkpoint.
pub(crate) fn read_kept(
    dir: &Path,
    verifier: &LogVerifier,
) -> Result<Vec<(String, Checkpoint)>, LogFault> {
    verify_kept(read_notes(&dir.join(CHECKPOINTS_FILE))?, verifier)
}

/// Verifies kept checkpoint notes, in order, wherever the store keeps them: each must be
/// signed by this log's key, at a multiple of [`CHECKPOINT_EVERY`], in increasing order with no
/// gap.
///
/// # Errors
/// A [`LogFault`] naming the first bad kept checkpoint.
pub fn verify_kept(
    notes: Vec<String>,
    verifier: &LogVerifier,
) -> Result<Vec<(String, Checkpoint)>, LogFault> {
    let mut out: Vec<(String, Checkpoint)> = Vec::with_capacity(notes.len());
    for (i, note) in notes.into_iter().enumerate() {
        let cp = verifier.verify(&note).map_err(|e| {
            fault(
                None,
                format!("kept checkpoint {i}: {e} (not signed by this log's key, or altered)"),
            )
        })?;
        let expected = (i as u64 + 1).saturating_mul(CHECKPOINT_EVERY);
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

/// The checks on the checkpoint files once the whole log is read, shared by the store and
/// `audit verify`:
/// - a non-empty log has a latest checkpoint, and it matches the tree;
/// - every kept checkpoint matches the tree, and they are consistent one after the other;
/// - the kept file holds every kept size up to the latest checkpoint's size (it is required
///   once the log has passed its first kept size), and the latest checkpoint is not older than
///   the newest kept one, and extends it.
///
/// # Errors
/// The first [`LogFault`].
pub fn check_checkpoints(
    tree: &Tree,
    latest: Option<&Checkpoint>,
    kept: &[(String, Checkpoint)],
) -> Result<(), LogFault> {
    let Some(latest) = latest else {
        if tree.size() == 0 && kept.is_empty() {
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
    for (i, (_, cp)) in kept.iter().enumerate() {
        let what = format!("kept checkpoint {i}");
        check_against_tree(cp, tree, &what)?;
        if let Some(prev) = previous {
            check_consistency(prev, cp, tree, &what)?;
        }
        previous = Some(cp);
    }
    let required = latest.size / CHECKPOINT_EVERY;
    if (kept.len() as u64) < required {
        return Err(fault(
            None,
            format!(
                "{CHECKPOINTS_FILE} holds {} kept checkpoints but the latest checkpoint (size {}) has passed {required} kept sizes: kept checkpoints were removed",
                kept.len(),
                latest.size
            ),
        ));
    }
    if let Some(newest) = previous {
        if latest.size < newest.size {
            return Err(fault(
                None,
                format!(
                    "{LATEST_CHECKPOINT} (size {}) is older than the newest kept checkpoint (size {}): it was rolled back",
                    latest.size, newest.size
                ),
            ));
        }
        check_consistency(newest, latest, tree, LATEST_CHECKPOINT)?;
    }
    Ok(())
}

/// How many notes [`CHECKPOINTS_FILE`] holds (not verified: for the writer, which appends the
/// kept sizes past them).
///
/// # Errors
/// A [`LogFault`] when the file cannot be read.
pub(crate) fn count_kept(dir: &Path) -> Result<u64, LogFault> {
    Ok(read_notes(&dir.join(CHECKPOINTS_FILE))?.len() as u64)
}

/// Every record of the checked log in `dir`, with its exact text, for auditors' commands.
///
/// # Errors
/// A [`LogFault`] when the log does not check out (see [`LogView::open`]).
pub fn read_checked(
    dir: &Path,
    verifier: &LogVerifier,
) -> Result<(LogView, Vec<(String, AuditRecord)>), LogFault> {
    let mut records = Vec::new();
    let view = LogView::open(
        dir,
        verifier,
        &mut |_, line, record| {
            records.push((String::from_utf8_lossy(line).into_owned(), record.clone()));
        },
        &mut |_, _| {},
    )?;
    Ok((view, records))
}

/// Splits a file of signed notes (each: body, blank line, signature lines, blank line).
fn read_notes(path: &Path) -> Result<Vec<String>, LogFault> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(fault(None, format!("cannot read {}: {e}", path.display()))),
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

/// Reads a log record by record, in log order, from any store: each line is decoded, linked to
/// the one before and admitted to a [`Ledger`] (its own signature when no signed checkpoint
/// covers it, then the log's rules). A broken link at index i is blamed on record i - 1 or i
/// once record i + 1 shows which: a record whose body was altered breaks the next record's
/// link, not its own.
#[derive(Debug)]
pub struct LineChecker<'v> {
    ledger: Ledger,
    verifier: &'v LogVerifier,
    broken_link: Option<u64>,
}

impl<'v> LineChecker<'v> {
    /// A checker for a log whose latest signed checkpoint covers `covered` records.
    #[must_use]
    pub fn new(covered: u64, verifier: &'v LogVerifier) -> Self {
        Self {
            ledger: Ledger::new(covered),
            verifier,
            broken_link: None,
        }
    }

    /// Records admitted so far.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.ledger.size()
    }

    /// Checks and admits the next line (without its newline); returns its record.
    ///
    /// # Errors
    /// A [`LogFault`] naming the first bad record.
    pub fn push(&mut self, line: &[u8]) -> Result<AuditRecord, LogFault> {
        let index = self.ledger.size();
        let record = self.ledger.decode(line)?;
        let link_ok = self.ledger.links(&record);
        if let Some(b) = self.broken_link {
            let bad = if link_ok { b.saturating_sub(1) } else { b };
            return Err(fault(
                Some(bad),
                format!("record {bad} was altered: the hash chain breaks at record {b}"),
            ));
        }
        if !link_ok {
            self.broken_link = Some(index);
        }
        self.ledger.admit(line, &record, self.verifier)?;
        Ok(record)
    }

    /// The ledger of every line pushed.
    ///
    /// # Errors
    /// A [`LogFault`] when the last record's link was broken.
    pub fn finish(self) -> Result<Ledger, LogFault> {
        if let Some(b) = self.broken_link {
            let bad = b.saturating_sub(1);
            return Err(fault(
                Some(bad),
                format!("record {bad} or {b} was altered: the hash chain breaks at record {b}"),
            ));
        }
        Ok(self.ledger)
    }
}

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
    /// Reads and checks the log in `dir`; `on_record(index, line, record)` sees each admitted
    /// record, `progress(done, total)` byte counts.
    ///
    /// # Errors
    /// A [`LogFault`] naming the first bad record when one can be named.
    pub fn open(
        dir: &Path,
        verifier: &LogVerifier,
        on_record: &mut dyn FnMut(u64, &[u8], &AuditRecord),
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Self, LogFault> {
        let latest = read_latest(dir, verifier)?;
        let kept = read_kept(dir, verifier)?;
        let path = dir.join(LOG_FILE);
        let file = match File::open(&path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(fault(None, format!("cannot open {LOG_FILE}: {e}"))),
        };
        let mut torn_tail = 0;
        let mut checker = LineChecker::new(latest.as_ref().map_or(0, |(_, cp)| cp.size), verifier);
        if let Some(file) = file {
            let total = file.metadata().map(|m| m.len()).unwrap_or(0);
            let mut next_report = 0u64;
            let read = read_lines(&file, 0, |offset, line| -> Result<(), ReadFault> {
                let index = checker.size();
                let record = checker.push(line)?;
                on_record(index, line, &record);
                if offset >= next_report {
                    progress(offset, total);
                    next_report = offset + (1 << 22);
                }
                Ok(())
            });
            let read = read.map_err(|e| e.0)?;
            progress(read.0, total);
            torn_tail = read.1;
        }
        Self::assemble(checker.finish()?, latest, kept, torn_tail)
    }

    /// The view of a log read by a [`LineChecker`] from any store, with its checkpoints as the
    /// store holds them (already verified by [`verify_latest`] and [`verify_kept`]): the
    /// checkpoints are checked against the records as [`check_checkpoints`] does.
    ///
    /// # Errors
    /// A [`LogFault`] when a checkpoint disagrees with the records.
    pub fn assemble(
        ledger: Ledger,
        latest: Option<(String, Checkpoint)>,
        kept: Vec<(String, Checkpoint)>,
        torn_tail: u64,
    ) -> Result<Self, LogFault> {
        check_checkpoints(ledger.tree(), latest.as_ref().map(|(_, cp)| cp), &kept)?;
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

/// A [`LogFault`] or an I/O error while reading lines.
struct ReadFault(LogFault);

impl From<std::io::Error> for ReadFault {
    fn from(e: std::io::Error) -> Self {
        ReadFault(fault(None, format!("read error: {e}")))
    }
}

impl From<LogFault> for ReadFault {
    fn from(f: LogFault) -> Self {
        ReadFault(f)
    }
}
