//! The log's ledger and the one checker of its records, for every store and for the auditors'
//! view: what the writing stores ([`super::file::FileStore`], the PostgreSQL store) and the
//! read-only view ([`LogView`], `audit verify`) share, so that opening a store and verifying
//! the log can never disagree.
//!
//! The decision that matters: a record is trusted only when a signature by the log's key covers
//! it, either a signed checkpoint whose tree includes it or the record's own signature (its
//! `sig` member, see [`seal`]). Records past the latest signed checkpoint are therefore checked
//! one by one; a record no signature covers is never indexed, proved or signed over, so a line
//! appended by anyone without the key can never become evidence.
//!
//! One idea per file: [`Ledger`] (here) is the log as read so far; [`LineChecker`]
//! (`checker.rs`) reads a log's lines into it; `staging.rs` stages and admits the store's own
//! batches; `checkpoints.rs` signs and checks checkpoints; `rotations.rs` follows the log's key
//! rotations and checks them against the tree; [`seal`] signs records; `fault.rs` says why a
//! log does not check out; [`LogView`] (`view.rs`) is the auditors' view. The file
//! store's readers of a log directory are in [`super::file`].

use std::collections::HashMap;

use mig06_tlog::rotation::LogKeys;
use mig06_tlog::{Tree, leaf_hash};

use super::rules::LedgerRules;
use super::{AuditError, AuditRecord, Hash, RecordKind, ZERO_HASH, hash_hex};
use crate::ids::AttemptId;

mod checker;
mod checkpoints;
mod fault;
mod proofs;
mod rotations;
pub mod seal;
mod staging;
mod view;

pub use checker::LineChecker;
pub(crate) use checkpoints::check_against_tree;
pub use checkpoints::{
    CHECKPOINT_EVERY, CHECKPOINTS_FILE, LATEST_CHECKPOINT, check_checkpoints,
    check_checkpoints_from, sign_tree, verify_kept, verify_kept_from, verify_latest,
};
pub use fault::{LogFault, fault};
pub use rotations::{ROTATIONS_FILE, follow_rotations};
pub use staging::{StagedBatch, StagedRecord};
pub use view::LogView;

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

/// A tree answer that failed: beyond the log (`Corrupt`, which a caller may read as a
/// rollback), or a node of the store's index that did not check out (an I/O failure of the
/// store: fail closed, never a rollback).
pub(crate) fn tree_error(e: mig06_tlog::ProofError, index: u64, what: &str) -> AuditError {
    match e {
        mig06_tlog::ProofError::OutOfRange { .. } => AuditError::Corrupt {
            index,
            what: what.into(),
        },
        mig06_tlog::ProofError::Mismatch | mig06_tlog::ProofError::WrongLength => {
            index_unreadable()
        }
    }
}

/// The `op` of [`index_unreadable`].
const READ_INDEX: &str = "read index";

/// The store's index did not check out where the tree read it.
pub(crate) fn index_unreadable() -> AuditError {
    AuditError::Io {
        op: READ_INDEX,
        source: std::io::Error::other("a node of the store's index does not check out"),
    }
}

/// Whether `e` says a node the tree read from the store's durable state did not check out (or
/// was missing), as opposed to a question beyond the log.
#[must_use]
pub fn is_index_unreadable(e: &AuditError) -> bool {
    matches!(e, AuditError::Io { op, .. } if *op == READ_INDEX)
}

/// An open record's deadline, parsed once (RFC 3339; `None`: unreadable, so overdue).
fn deadline_of(record: &AuditRecord) -> Option<time::OffsetDateTime> {
    record.deadline.as_deref().and_then(|d| {
        time::OffsetDateTime::parse(d, &time::format_description::well_known::Rfc3339).ok()
    })
}

/// What a store read from its durable index to resume a [`Ledger`] without reading the log
/// before it ([`Ledger::resume`]).
#[derive(Debug)]
pub struct Resumed {
    /// The tree, resumed from the index and checked against a root the store trusts.
    pub tree: Tree,
    /// The leaf hash of the last record.
    pub last: Hash,
    /// The rules' facts.
    pub rules: std::sync::Arc<dyn super::rules::RuleBase>,
    /// Open records without a terminal record.
    pub pending: Vec<AuditRecord>,
    /// The latest signed checkpoint's size.
    pub covered: u64,
}

// INV-AUDIT-VERIFY-AGREES: the one state that the stores and `audit verify` build from a log, under
// the same rules.
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
    /// The log's key schedule: the key of each record and checkpoint.
    keys: LogKeys,
    /// The first record of each key epoch read (index 0 and each rotation's size), as read:
    /// checked against its epoch's key once the whole log is read ([`Ledger::check_epochs`]).
    epoch_starts: Vec<(u64, Vec<u8>, AuditRecord)>,
}

impl Ledger {
    /// The tree root at `size`.
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] when `size` exceeds the log.
    pub fn root_at(&self, size: u64) -> Result<Hash, AuditError> {
        self.tree()
            .root_at(size)
            .map_err(|e| tree_error(e, size, "size beyond the log"))
    }

    /// The leaf hash at `index`.
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] when `index` is beyond the log.
    pub fn leaf_at(&self, index: u64) -> Result<Hash, AuditError> {
        if index >= self.size() {
            return Err(AuditError::Corrupt {
                index,
                what: "index beyond the log".into(),
            });
        }
        self.tree().leaf(index).ok_or_else(index_unreadable)
    }

    /// An empty ledger whose latest signed checkpoint covers `covered` records, of a log whose
    /// records are signed by the keys of `keys`.
    #[must_use]
    pub fn new(covered: u64, keys: LogKeys) -> Self {
        Self {
            tree: Tree::new(),
            last: ZERO_HASH,
            rules: LedgerRules::new(),
            pending: HashMap::new(),
            covered,
            uncovered: Uncovered::default(),
            keys,
            epoch_starts: Vec::new(),
        }
    }

    /// A ledger resumed at `size` records from a durable index the store checked: the tree
    /// (its right edge in memory, the rest in the index), the leaf hash of the last record,
    /// the rules' facts, the open records without a terminal record, and the latest signed
    /// checkpoint's size. Records from `size` on are read as usual.
    #[must_use]
    pub fn resume(resumed: Resumed, keys: LogKeys) -> Self {
        let size = resumed.tree.size();
        let covered = resumed.covered;
        let mut pending = HashMap::new();
        for record in resumed.pending {
            pending.insert(record.attempt_id.clone(), (deadline_of(&record), record));
        }
        let uncovered = Uncovered {
            open: size.saturating_sub(covered),
            terminal: 0,
        };
        Self {
            tree: resumed.tree,
            last: resumed.last,
            rules: LedgerRules::resumed(resumed.rules, size),
            pending,
            covered,
            uncovered,
            keys,
            epoch_starts: Vec::new(),
        }
    }

    /// The open records without a terminal record, in log order (what an index keeps).
    #[must_use]
    pub fn pending(&self) -> Vec<&AuditRecord> {
        let mut v: Vec<&AuditRecord> = self.pending.values().map(|(_, r)| r).collect();
        v.sort_by_key(|r| r.seq);
        v
    }

    /// Hands the tree's nodes and the rules' facts held in memory to the durable index that
    /// now holds them (the store just committed them there).
    pub fn rebase(
        &mut self,
        nodes: std::sync::Arc<dyn mig06_tlog::NodeSource>,
        rules: std::sync::Arc<dyn super::rules::RuleBase>,
    ) {
        self.tree.rebase(nodes);
        self.rules.rebase(rules);
    }

    /// The log's key schedule.
    #[must_use]
    pub fn keys(&self) -> &LogKeys {
        &self.keys
    }

    /// Replaces the key schedule with one that extends it (the store just rotated the key at
    /// the ledger's size: records from here on are the new key's).
    pub(crate) fn set_keys(&mut self, keys: LogKeys) {
        self.keys = keys;
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
    fn decode(&self, line: &[u8]) -> Result<AuditRecord, LogFault> {
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
    fn links(&self, record: &AuditRecord) -> bool {
        record.prev == hash_hex(&self.last)
    }

    // INV-AUDIT-AUTHENTIC: a record no signed checkpoint covers is admitted only with its own
    // valid signature by the log's key, so a line appended without the key is never indexed.
    // INV-KEY-EPOCH: by the key in force at its index: a retired key's signature past its
    // rotation is no signature of this log.
    /// Admits the next record (already decoded and linked): its own signature, by the key in
    /// force at its index, when no signed checkpoint covers it, then the log's rules.
    ///
    /// # Errors
    /// A [`LogFault`] naming the record.
    fn admit(&mut self, line: &[u8], record: &AuditRecord) -> Result<(), LogFault> {
        let index = self.tree.size();
        if self.keys.starts_epoch(index) {
            self.epoch_starts
                .push((index, line.to_vec(), record.clone()));
        }
        if index >= self.covered {
            if !seal::is_sealed(line, record, self.keys.record_key(index)) {
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
        let terminated = if record.kind() == RecordKind::Open {
            self.rules.is_terminated(&record.attempt_id).map_err(|v| {
                fault(
                    Some(index),
                    format!("record {index} cannot be checked against the log's rules: {v}"),
                )
            })?
        } else {
            false
        };
        if record.kind() == RecordKind::Open && self.reopens(&record.attempt_id, terminated) {
            return Err(fault(
                Some(index),
                format!("record {index}: a second open record for one attempt"),
            ));
        }
        self.rules.admit(self.facts_of(record)).map_err(|v| {
            fault(
                Some(index),
                format!("record {index} breaks a rule of the log: {v}"),
            )
        })?;
        self.track_open(record);
        Ok(())
    }

    /// The fields of `record` the rules read, with whether the ledger holds an open record of
    /// its attempt without a terminal record ([`super::rules::Facts::open_before`]).
    fn facts_of<'a>(&self, record: &'a AuditRecord) -> super::rules::Facts<'a> {
        let mut facts: super::rules::Facts<'a> = record.into();
        facts.open_before = self.pending.contains_key(&record.attempt_id);
        facts
    }

    /// Keeps the open records without a terminal record current with an admitted record.
    fn track_open(&mut self, record: &AuditRecord) {
        match record.kind() {
            RecordKind::Open => {
                self.pending.insert(
                    record.attempt_id.clone(),
                    (deadline_of(record), record.clone()),
                );
            }
            RecordKind::Terminal => {
                self.pending.remove(&record.attempt_id);
            }
        }
    }

    /// One open record per attempt, before its terminal record: whether an open record for
    /// `attempt` breaks it, given whether the attempt has a terminal record. The checker and
    /// the store's staging both ask here.
    pub(crate) fn reopens(&self, attempt: &AttemptId, terminated: bool) -> bool {
        terminated || self.pending.contains_key(attempt)
    }

    /// Marks every admitted record as covered by a signed checkpoint (the store just signed one).
    pub fn mark_covered(&mut self) {
        self.covered = self.tree.size();
        self.uncovered = Uncovered::default();
    }

    /// Pushes a record the store itself staged against this ledger's rules, sealed and made
    /// durable: its facts are applied with its batch's ([`Ledger::admit_staged`]).
    fn push_staged(&mut self, line: &[u8], record: &AuditRecord) {
        let index = self.tree.size();
        self.track_open(record);
        let h = leaf_hash(line);
        self.tree.push(h);
        self.last = h;
        if index >= self.covered {
            match record.kind() {
                RecordKind::Open => self.uncovered.open += 1,
                RecordKind::Terminal => self.uncovered.terminal += 1,
            }
        }
    }
}
