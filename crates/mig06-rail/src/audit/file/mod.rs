//! The file audit store: one JSON record per line in `log.jsonl`, `fdatasync` before confirming.
//!
//! Several processes may share one data directory (CLI invocations, a server): every append
//! takes an exclusive `flock` on the log, first reads what others appended since, then appends,
//! so the hash chain, the tree and the one-continuation claims stay consistent across
//! processes. On open, a torn tail (an unconfirmed, partial last line) is reported and cut;
//! anything else that does not check out (see [`super::ledger`]: a broken link, a record past
//! the latest signed checkpoint without a valid signature of its own, a tree that disagrees with
//! a signed checkpoint, kept checkpoints removed or inconsistent with the latest) makes the
//! store refuse to open, naming the first bad record. Only this store writes: auditors read the
//! same directory through [`super::ledger::LogView`].
//!
//! Every record is signed as it is appended (its `sig` member), so the store can always tell
//! its own records past the latest signed checkpoint from forged ones, and never signs a
//! checkpoint over a record it did not write.
//!
//! Open takes time independent of the log's length: the store resumes from its index
//! ([`index`], `index.sqlite`: the tree's nodes, the rules' facts, the open records, written
//! every [`INDEX_EVERY`] records after they are durable) and reads and checks only the log past
//! it. The index is derived state, never trusted as read; when it is absent or does not check
//! out, the whole log is read (in slices, each written to a fresh index). The only file that
//! must be durable on every append is the log itself.
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
//! - `index.sqlite` (and its WAL files): written in one SQLite transaction per flush, after
//!   the records it describes are durable; after a power loss it may lag the log, and open
//!   reads the log past it.
//! - `rotations`: the log's key rotation statements ([`rotate`]), appended and synced (and its
//!   directory entry synced when created) before the new key signs anything. The store opens
//!   only with the key in force (the last statement's new key, or the only key), and refuses
//!   every append once the file changes under it (the key was rotated by another process).
//!
//! INV-AUDIT-POWER-LOSS: the files are synced in the order above, so after a power loss the store
//! opens and the log verifies.
//!
//! INV-NO-RETRY: No implicit or explicit retries for policy, execution, audit or any downstream
//! boundary.
//!
//! INV-AUDIT-BEFORE-EXECUTE: Nothing executes without a durably confirmed open record.
//!
//! INV-AUDIT-TAMPER-EVIDENT: Audit material is tamper-evident: any altered, removed, reordered byte
//! is detected.
//!
//! INV-CONT-CHAIN: the store applies the log's rules (`LedgerRules`) to every record it reads or
//! appends, as `audit verify` does.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use fs2::FileExt;
use mig06_tlog::Tree;
use mig06_tlog::checkpoint::{LogSigner, LogVerifier};
use mig06_tlog::rotation::LogKeys;

pub(super) mod checkpoints;
mod fsio;
pub mod index;
mod read;
pub mod rotate;

use checkpoints::CheckpointFiles;
use fsio::{io, open_regular, sync_dir};

use super::group::batch_failure;
use index::{Index, IndexMeta};
use read::{
    count_kept, read_kept, read_kept_from, read_latest, read_rotation_notes, read_some_lines,
};
pub use read::{read_checked, read_keys, rotation_notes};

use super::ledger::{
    self, Ledger, LineChecker, ROTATIONS_FILE, Resumed, check_checkpoints, check_checkpoints_from,
    fault, follow_rotations,
};
pub use super::ledger::{CHECKPOINT_EVERY, CHECKPOINTS_FILE, LATEST_CHECKPOINT};
use super::{Appended, AuditError, AuditRecord, AuditStore, Hash, hash_hex};
use crate::executor::Deadline;
use crate::ids::{AttemptId, RequestId};

/// The log file's name in the audit directory.
pub const LOG_FILE: &str = "log.jsonl";

/// What opening the store found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Records in the log.
    pub records: u64,
    /// Bytes of a torn tail that were cut (0 when none).
    pub torn_tail_cut: u64,
    /// Records past the latest signed checkpoint, each authenticated by its own signature,
    /// that opening covered with a new signed checkpoint.
    pub uncovered_signed: u64,
    /// Attempts this store ended `ABORTED_INTERRUPTED` (their open record's deadline had
    /// passed without a terminal record), at open and since.
    pub interrupted_ended: u64,
    /// Records the store resumed from its index without reading them (0: the whole log was
    /// read, because the index was absent, behind a damaged part, or did not check out).
    pub resumed_from_index: u64,
    /// Why the whole log was read instead (`None` when the index was used).
    pub index_rebuilt: Option<String>,
}

/// The store writes its index after this many records (and at open): the most a crash leaves
/// for the next open to read past the index, and the most the store keeps in memory.
pub const INDEX_EVERY: u64 = 4096;

/// The file-backed audit store.
pub struct FileStore {
    dir: PathBuf,
    log: File,
    len: u64,
    /// The log as read so far: every line goes through the one checker that `audit verify`
    /// uses, so both blame the same record with the same words.
    checker: LineChecker,
    signer: LogSigner,
    verifier: LogVerifier,
    /// The length of [`ROTATIONS_FILE`] as this store read or wrote it: a change means another
    /// process rotated the key, and this store's key is retired.
    rotations_len: u64,
    /// The digest of the rotation statements read at open ([`IndexMeta::rotations`]).
    rotations_digest: String,
    pub(super) checkpoints: CheckpointFiles,
    /// The durable index (derived state; `None` when it cannot be opened: the store then
    /// keeps everything in memory and reads the whole log at each open).
    index: Option<Index>,
    /// Records the index holds.
    indexed: u64,
    /// Kept checkpoints on file, and the file's length, as last checked or written (`None`:
    /// unknown after a failed write, counted again when needed).
    kept: Option<(u64, u64)>,
    /// Index writes that failed (the log stands; the next open reads past the index).
    index_failures: u64,
    /// Records between index writes ([`INDEX_EVERY`]; smaller in tests).
    index_every: u64,
    /// The index is being started over from the log (a failed write is then not retried).
    rebuilding: bool,
    /// Why the store takes no more appends: the index was started over and the log did not
    /// check out.
    failed: Option<String>,
    report: OpenReport,
    syncs: AtomicU64,
    checkpoint_write_failures: AtomicU64,
    #[cfg(test)]
    pub(crate) fail_sync: bool,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("dir", &self.dir)
            .field("records", &self.checker.ledger().size())
            .finish_non_exhaustive()
    }
}

impl FileStore {
    // INV-AUDIT-POWER-LOSS: a new log's directory entry and empty latest checkpoint are durable
    // before its first record, and records past a lagging checkpoint are covered here.
    /// Opens (creating when absent) the store in `dir`, signing with `signer`.
    ///
    /// # Errors
    /// I/O errors, [`AuditError::Corrupt`] naming the first record that does not check out, and
    /// [`AuditError::CheckpointMismatch`] when the checkpoint files disagree with the log.
    pub fn open(dir: &Path, signer: LogSigner) -> Result<Self, AuditError> {
        let created_dir = !dir.exists();
        std::fs::create_dir_all(dir).map_err(io("create audit directory"))?;
        if let Some(parent) = dir.parent().filter(|_| created_dir) {
            sync_dir(parent)?;
        }
        let log_path = dir.join(LOG_FILE);
        let created_log = !log_path.exists();
        let log = open_regular(
            &log_path,
            OpenOptions::new().read(true).append(true).create(true),
            "open log",
        )?;
        if created_log {
            sync_dir(dir)?;
        }
        let verifier = signer.verifier();
        let mut store = Self {
            dir: dir.to_owned(),
            log,
            len: 0,
            checker: LineChecker::new(0, verifier.clone()),
            signer,
            verifier,
            rotations_len: 0,
            rotations_digest: String::new(),
            checkpoints: CheckpointFiles::new(dir.to_owned()),
            index: None,
            indexed: 0,
            kept: None,
            index_failures: 0,
            index_every: INDEX_EVERY,
            rebuilding: false,
            failed: None,
            report: OpenReport::default(),
            syncs: AtomicU64::new(0),
            checkpoint_write_failures: AtomicU64::new(0),
            #[cfg(test)]
            fail_sync: false,
        };
        store.log.lock_exclusive().map_err(io("lock log"))?;
        let result = store
            .check_log_identity()
            .and_then(|()| store.open_locked());
        let unlock = store.log.unlock().map_err(io("unlock log"));
        result?;
        unlock?;
        store.report.records = store.checker.ledger().size();
        Ok(store)
    }

    /// Rebuilds the index of the log in `dir` from the log: empties it, then opens the store,
    /// which reads and checks the whole log and writes the index again (`mig06 audit
    /// reindex`). Safe while a rail runs on the log: the store's lock orders them.
    ///
    /// # Errors
    /// As [`FileStore::open`]: the log does not check out, or cannot be read.
    pub fn reindex(dir: &Path, signer: LogSigner) -> Result<OpenReport, AuditError> {
        let log = open_regular(
            &dir.join(LOG_FILE),
            OpenOptions::new().read(true).append(true),
            "open log",
        )?;
        log.lock_exclusive().map_err(io("lock log"))?;
        let emptied = Index::create(&Index::path_in(dir), Index::key_of(&signer))
            .map(drop)
            .map_err(|e| AuditError::Io {
                op: "reset index",
                source: std::io::Error::other(e.to_string()),
            });
        log.unlock().map_err(io("unlock log"))?;
        emptied?;
        let store = Self::open(dir, signer)?;
        Ok(store.report.clone())
    }

    fn open_locked(&mut self) -> Result<(), AuditError> {
        let keys = self.open_keys()?;
        let mut latest = read_latest(&self.dir, &keys)?;
        self.kept = None;
        let (path, key) = (Index::path_in(&self.dir), Index::key_of(&self.signer));
        // An index that cannot be opened as the store made it is replaced by an empty one.
        self.index = Index::open(&path, key)
            .or_else(|_| Index::create(&path, key))
            .ok();
        let resumed = match self.resume(&keys, latest.as_ref().map(|(_, cp)| cp)) {
            Ok(()) => true,
            Err(why) => {
                self.report.index_rebuilt = Some(why);
                false
            }
        };
        if !resumed {
            // Rebuilt from nothing: no row of an index that did not check out is kept.
            if self.index.as_ref().is_some_and(|ix| ix.reset().is_err()) {
                self.index = None;
            }
            self.checker = LineChecker::new(0, keys.clone());
            self.len = 0;
            self.indexed = 0;
            let kept = read_kept(&self.dir, &keys)?;
            let log_len = self.log.metadata().map_err(io("stat log"))?.len();
            if latest.is_none() && kept.is_empty() && log_len == 0 {
                // A new log: its latest checkpoint exists, durably, before its first record, so a
                // missing one is always a removal, never a crash.
                let note = self.signed_checkpoint_of(&Tree::new(), 0)?;
                self.checkpoints.write_latest(&note)?;
                self.checkpoints.sync_latest()?;
                sync_dir(&self.dir)?;
                let cp = self
                    .verifier
                    .verify(&note)
                    .map_err(|_| fault(None, "a checkpoint this store signed does not verify"))?;
                latest = Some((note, cp));
            }
            self.checker = LineChecker::new(latest.as_ref().map_or(0, |(_, cp)| cp.size), keys);
            self.catch_up()?;
            check_checkpoints(
                self.checker.ledger().tree(),
                latest.as_ref().map(|(_, cp)| cp),
                &kept,
            )?;
            self.kept = Some((kept.len() as u64, self.kept_file_len()?));
        }
        self.checker.ledger().check_epochs()?;
        // Records past the latest checkpoint (a crash after their fdatasync, before the
        // checkpoint reached the disk) were each authenticated by their own signature in
        // `catch_up`: cover them now, with any kept checkpoint they pass.
        let uncovered = self.checker.ledger().uncovered().count();
        if uncovered > 0 {
            let size = self.checker.ledger().size();
            let note = self.signed_checkpoint(size)?;
            let kept_on_file = self.kept_on_file()?;
            self.write_checkpoints(kept_on_file, size, &note)?;
            self.checkpoints.sync_latest()?;
            self.checker.ledger_mut().mark_covered();
            self.report.uncovered_signed = uncovered;
        }
        // Attempts whose process stopped after their open record, past their deadline: end
        // them now, before any caller's work.
        if !self
            .checker
            .ledger()
            .overdue(time::OffsetDateTime::now_utc())
            .is_empty()
        {
            self.append_batch_locked(Vec::new())?;
        }
        self.flush_or_rebuild()
    }

    /// Writes the index; when it will not take the write (a file SQLite will not write, a
    /// schema changed under it), starts it again from the log, so that it never stays behind
    /// while the store's memory grows (or, failing again, goes on without one).
    ///
    /// # Errors
    /// As [`FileStore::rebuild_index`]: the log itself does not check out.
    fn flush_or_rebuild(&mut self) -> Result<(), AuditError> {
        if self.flush_index() || self.rebuilding {
            return Ok(());
        }
        self.rebuilding = true;
        let rebuilt = self.rebuild_index();
        self.rebuilding = false;
        rebuilt
    }

    // INV-INDEX-NEVER-TRUSTED: the index is used only when its meta row, its key schedule, its
    // tree's right edge and the latest signed checkpoint all check out; otherwise the whole log
    // is read and the index rebuilt.
    /// Resumes the ledger from the index: its meta row (MAC), the log's length, the tree's
    /// right edge against the meta's root and the latest signed checkpoint, the open records;
    /// then reads and checks the log past it, and the kept checkpoints past those it checked.
    /// On `Err` (why, for the report), the store's state is reset by the caller and the whole
    /// log is read.
    fn resume(
        &mut self,
        keys: &mig06_tlog::rotation::LogKeys,
        latest: Option<&mig06_tlog::checkpoint::Checkpoint>,
    ) -> Result<(), String> {
        let Some(index) = self.index.clone() else {
            return Err("the index cannot be opened".into());
        };
        let meta = index
            .meta()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the index is empty".to_owned())?;
        if meta.rotations != self.rotations_digest {
            return Err("the log's key rotations changed since the index was written".into());
        }
        let log_len = self.log.metadata().map_err(|e| e.to_string())?.len();
        if log_len < meta.log_len {
            return Err("the log is shorter than the index".into());
        }
        if meta.log_len > 0 {
            let mut last = [0u8; 1];
            std::os::unix::fs::FileExt::read_exact_at(&self.log, &mut last, meta.log_len - 1)
                .map_err(|e| e.to_string())?;
            if last != *b"\n" {
                return Err("the index does not end at a record of the log".into());
            }
        }
        let base = std::sync::Arc::new(index.clone());
        let tree = Tree::resume(base.clone(), meta.size)
            .ok_or_else(|| "the index lacks the tree's right edge".to_owned())?;
        if hash_hex(&tree.root()) != meta.root {
            return Err("the index's tree does not match its root".into());
        }
        let last = match meta.size.checked_sub(1) {
            None => super::ZERO_HASH,
            Some(i) => tree
                .leaf(i)
                .ok_or_else(|| "the index's last leaf".to_owned())?,
        };
        if hash_hex(&last) != meta.last {
            return Err("the index's last leaf does not match its meta".into());
        }
        if let Some(cp) = latest.filter(|cp| cp.size <= meta.size)
            && tree.root_at(cp.size).ok() != Some(cp.root)
        {
            return Err("the index disagrees with the latest signed checkpoint".into());
        }
        let pending = index.pending(&meta).map_err(|e| e.to_string())?;
        let ledger = Ledger::resume(
            Resumed {
                tree,
                last,
                rules: base,
                pending,
                covered: latest.map_or(0, |cp| cp.size),
            },
            keys.clone(),
        );
        self.checker = LineChecker::resume(ledger);
        self.len = meta.log_len;
        self.indexed = meta.size;
        self.catch_up().map_err(|e| e.to_string())?;
        let (kept, kept_len) =
            read_kept_from(&self.dir, keys, meta.kept, meta.kept_len).map_err(|e| e.to_string())?;
        check_checkpoints_from(self.checker.ledger().tree(), latest, meta.kept, &kept)
            .map_err(|e| e.to_string())?;
        self.kept = Some((meta.kept.saturating_add(kept.len() as u64), kept_len));
        self.report.resumed_from_index = meta.size;
        Ok(())
    }

    #[cfg(test)]
    /// Writes the index every `n` records.
    pub(crate) fn set_index_every(&mut self, n: u64) {
        self.index_every = n.max(1);
    }

    #[cfg(test)]
    /// Index writes that failed.
    pub(crate) fn index_failures(&self) -> u64 {
        self.index_failures
    }

    /// Empties the index and reads the whole log again, as an open without an index does
    /// (the index did not check out while the store was running). Must hold the lock.
    ///
    /// # Errors
    /// As [`FileStore::open`]: the log itself does not check out.
    fn rebuild_index(&mut self) -> Result<(), AuditError> {
        if let Some(index) = &self.index
            && index.reset().is_err()
        {
            self.index = None;
        }
        self.open_locked()
    }

    /// When a tree answer failed because the index did not check out, rebuilds the index from
    /// the log (the answer stands: the caller fails closed; the next one reads a sound index).
    fn rebuild_if_unreadable<T>(
        &mut self,
        answer: &Result<T, AuditError>,
    ) -> Result<(), AuditError> {
        match answer {
            Err(e) if ledger::is_index_unreadable(e) => self.rebuild_index(),
            Ok(_) | Err(_) => Ok(()),
        }
    }

    /// Writes the index no more (this store's key was retired).
    pub(super) fn stop_indexing(&mut self) {
        self.index = None;
    }

    /// The length of [`CHECKPOINTS_FILE`] (0 when absent).
    fn kept_file_len(&self) -> Result<u64, AuditError> {
        match std::fs::symlink_metadata(self.dir.join(CHECKPOINTS_FILE)) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(io("stat checkpoints")(e)),
        }
    }

    /// Kept checkpoints on file: as last known when the file has the length this store last
    /// saw, counted again otherwise (another process wrote some, or a write failed).
    fn kept_on_file(&mut self) -> Result<u64, AuditError> {
        let len = self.kept_file_len()?;
        if let Some((count, known)) = self.kept
            && known == len
        {
            return Ok(count);
        }
        let count = count_kept(&self.dir)?;
        self.kept = Some((count, len));
        Ok(count)
    }

    /// Writes what the store holds in memory to the index (derived state: a failure is
    /// counted, never returned, and the next open reads the log past the index).
    fn flush_index(&mut self) -> bool {
        let Some(index) = self.index.clone() else {
            return true;
        };
        // Kept checkpoints not checked yet (a long log being read) or unknown (a failed
        // write): the next open checks them all again.
        let (kept, kept_len) = self.kept.unwrap_or((0, 0));
        let ledger = self.checker.ledger();
        let meta = IndexMeta {
            version: 1,
            size: ledger.size(),
            log_len: self.len,
            last: hash_hex(&ledger.last()),
            root: hash_hex(&ledger.tree().root()),
            kept,
            kept_len,
            pending: String::new(),
            rotations: self.rotations_digest.clone(),
            chunks: String::new(),
        };
        let nodes = ledger.tree().in_memory();
        let rules = ledger.rules().in_memory();
        let pending = ledger.pending();
        match index.flush(&meta, &nodes, &rules, &pending) {
            Ok(()) => {
                let base = std::sync::Arc::new(index);
                self.checker.ledger_mut().rebase(base.clone(), base);
                self.indexed = meta.size;
            }
            Err(_) => {
                self.index_failures += 1;
                if self.rebuilding {
                    // Failed again while starting it over: go on without an index.
                    self.index = None;
                }
                return false;
            }
        }
        true
    }

    // INV-KEY-EPOCH: the store signs only with the key in force: the last rotation's new key,
    // or the log's only key.
    /// The log's key schedule from [`ROTATIONS_FILE`], followed from this store's key, which
    /// must be the key in force.
    fn open_keys(&mut self) -> Result<LogKeys, AuditError> {
        let (notes, len) = read_rotation_notes(&self.dir)?;
        let keys =
            follow_rotations(&notes, &self.verifier).map_err(|f| AuditError::KeyRotated {
                what: format!(
                    "the configured signing key does not fit the log's key rotations: {f}"
                ),
            })?;
        if keys.current() != &self.verifier {
            let at = keys.rotations().last().map_or(0, |r| r.size());
            return Err(AuditError::KeyRotated {
                what: format!(
                    "the configured signing key {} was retired; the key in force since size {at} is {}: configure that key, or finish an interrupted rotation with `mig06 audit rotate-key`",
                    self.verifier.key_name(),
                    keys.current().key_name()
                ),
            });
        }
        self.rotations_len = len;
        self.rotations_digest = index::rotations_digest(&notes);
        Ok(keys)
    }

    /// The log's key schedule (its genesis key, its rotations, the key in force).
    #[must_use]
    pub fn keys(&self) -> &LogKeys {
        self.checker.ledger().keys()
    }

    /// What opening found.
    #[must_use]
    pub fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// The number of records.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.checker.ledger().size()
    }

    /// The in-memory tree (for proofs).
    #[must_use]
    pub fn tree(&self) -> &Tree {
        self.checker.ledger().tree()
    }

    /// The log's verifier.
    #[must_use]
    pub fn verifier(&self) -> LogVerifier {
        self.verifier.clone()
    }

    #[cfg(test)]
    /// How many times writing [`LATEST_CHECKPOINT`] or [`CHECKPOINTS_FILE`] failed after the
    /// records it covers were durable (the answers stood; the next open covers the records).
    #[must_use]
    pub(crate) fn checkpoint_write_failures(&self) -> u64 {
        self.checkpoint_write_failures.load(Ordering::Relaxed)
    }

    /// Signs the checkpoint of the tree at `size` (deterministic: Ed25519).
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] when `size` exceeds the log.
    pub(crate) fn signed_checkpoint(&self, size: u64) -> Result<String, AuditError> {
        self.signed_checkpoint_of(self.checker.ledger().tree(), size)
    }

    fn signed_checkpoint_of(&self, tree: &Tree, size: u64) -> Result<String, AuditError> {
        ledger::sign_tree(&self.signer, tree, size)
    }

    /// Reads what was appended since we last looked (by us or another process), checking every
    /// record with the [`LineChecker`], as `audit verify` does. Must hold the lock. A partial
    /// last line is a torn tail: reported and cut, once the lines before it check out.
    fn catch_up(&mut self) -> Result<(), AuditError> {
        let end = self.log.metadata().map_err(io("stat log"))?.len();
        if end == self.len {
            return Ok(());
        }
        if end < self.len {
            return Err(AuditError::CheckpointMismatch {
                what: format!("log shrank from {} to {end} bytes while open", self.len),
            });
        }
        // In slices of 16 index writes' worth of records (65,536), each written to the index:
        // a store that reads a long log (no index yet, or one that did not check out) never
        // holds it in memory, and each page of the index is written once per slice, not once
        // per index write.
        let slice = self.index_every.saturating_mul(16);
        let (complete, torn) = loop {
            let checker = &mut self.checker;
            let (complete, torn) = read_some_lines(&self.log, self.len, slice, |_, line| {
                checker.push(line)?;
                Ok::<(), AuditError>(())
            })?;
            if complete == 0 || torn > 0 || self.len.saturating_add(complete) >= end {
                break (complete, torn);
            }
            checker.check_end()?;
            self.len += complete;
            if self.checker.ledger().size() >= self.indexed.saturating_add(slice) {
                let _ = self.flush_index();
            }
        };
        self.checker.check_end()?;
        self.len += complete;
        if torn > 0 {
            // An append that never reached fdatasync: it was never confirmed to anyone.
            self.log.set_len(self.len).map_err(io("cut torn tail"))?;
            self.sync_log().map_err(io("sync after cut"))?;
            self.report.torn_tail_cut += torn;
        }
        Ok(())
    }

    /// Writes the checkpoint files for the tree at `size` ([`CheckpointFiles::write`]).
    fn write_checkpoints(
        &mut self,
        kept_on_file: u64,
        size: u64,
        note: &str,
    ) -> Result<(), AuditError> {
        let (signer, tree) = (&self.signer, self.checker.ledger().tree());
        self.checkpoints.write(kept_on_file, size, note, |at| {
            ledger::sign_tree(signer, tree, at)
        })
    }

    /// `fdatasync` of the log, counted.
    fn sync_log(&self) -> std::io::Result<()> {
        self.syncs.fetch_add(1, Ordering::Relaxed);
        #[cfg(test)]
        if self.fail_sync {
            return Err(std::io::Error::other("injected sync failure"));
        }
        self.log.sync_data()
    }

    // INV-TERMINAL-DETERMINISM: Each attempt ends in a single, deterministic terminal state.
    // INV-AUDIT-AUTHENTIC: every record is sealed (signed) as it is written, and a checkpoint is
    // signed only over records this store admitted.
    // INV-AUDIT-ANSWER-MATCHES-LOG: once the fdatasync returned, nothing below fails these records:
    // a checkpoint file that cannot be written is counted, not returned.
    // INV-CONT-NOT-RETRY: A continuation must not behave like a retry.
    /// Appends `records` in order with one write and one `fdatasync`. Must hold the lock.
    ///
    /// First, every open record whose deadline has passed without a terminal record is ended
    /// `ABORTED_INTERRUPTED`, in the same write, ahead of `records`. Each record is signed
    /// (sealed) as it is written. Each record's one-continuation claim is decided in log order,
    /// against the log and the records before it in the batch; a second terminal record for
    /// one attempt is refused (that record alone fails, [`AuditError::AlreadyEnded`]). When the
    /// batch holds a terminal record, every record gets the batch's one signed checkpoint (of
    /// the tree that ends with the batch's last record) and its inclusion proof in that tree; a
    /// batch of open records only is not signed. Any failure before the `fdatasync` returns
    /// fails the whole batch and a partial write is cut; once it returns, the records are the
    /// log's and their results stand, whatever happens to the checkpoint files.
    fn append_batch_locked(
        &mut self,
        records: Vec<AuditRecord>,
    ) -> Result<Vec<Result<Appended, AuditError>>, AuditError> {
        self.catch_up()?;
        let n = records.len();
        let batch = self.checker.ledger().stage_batch(
            records,
            &self.signer,
            time::OffsetDateTime::now_utc(),
        )?;
        self.report.interrupted_ended += batch.interrupted;
        if batch
            .refused
            .iter()
            .any(|(_, v)| *v == super::rules::RuleViolation::IndexDamaged)
        {
            // Those records are refused (fail closed); the index is rebuilt from the log now,
            // so the next attempts are judged against the log itself.
            self.rebuild_index()?;
            return Ok(Ledger::refused_only(batch, n));
        }
        if batch.records.is_empty() {
            return Ok(Ledger::refused_only(batch, n));
        }
        let mut lines = Vec::new();
        for r in &batch.records {
            lines.extend_from_slice(&r.bytes);
            lines.push(b'\n');
        }
        let written = self.log.write_all(&lines).and_then(|()| self.sync_log());
        if let Err(e) = written {
            // Not confirmed: cut whatever part reached the file so the tail stays clean.
            let _ = self.log.set_len(self.len);
            return Err(io("append record")(e));
        }
        // Durable from here on: nothing below may turn these records into a failure.
        self.len += lines.len() as u64;
        let (start, size, sign) = (batch.start, batch.end(), batch.needs_checkpoint());
        let mut checkpoint = None;
        if sign {
            // The tree must hold the batch to be signed: admit it first, without results.
            let leaves: Vec<Hash> = batch.records.iter().map(|r| r.leaf).collect();
            let signer = &self.signer;
            let signed = self
                .checker
                .ledger_mut()
                .with_staged(&leaves, |tree| ledger::sign_tree(signer, tree, size))?;
            checkpoint = Some(signed);
        }
        let results = self
            .checker
            .ledger_mut()
            .admit_staged(batch, n, checkpoint.as_deref())?;
        if let Some(note) = &checkpoint {
            let kept_on_file = if start / CHECKPOINT_EVERY == size / CHECKPOINT_EVERY {
                size / CHECKPOINT_EVERY
            } else {
                self.kept_on_file().unwrap_or(start / CHECKPOINT_EVERY)
            };
            match self.write_checkpoints(kept_on_file, size, note) {
                Ok(()) => {
                    self.checker.ledger_mut().mark_covered();
                    if start / CHECKPOINT_EVERY != size / CHECKPOINT_EVERY {
                        self.kept = self
                            .kept_file_len()
                            .ok()
                            .map(|len| (size / CHECKPOINT_EVERY, len));
                    }
                }
                // The records are durable and signed; the note is valid evidence. The files
                // catch up at the next signed batch or open.
                Err(_) => {
                    self.kept = None;
                    self.checkpoint_write_failures
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if self.checker.ledger().size() >= self.indexed.saturating_add(self.index_every)
            && let Err(e) = self.flush_or_rebuild()
        {
            // The records stand; the store takes no more.
            self.failed = Some(e.to_string());
        }
        Ok(results)
    }

    /// `fdatasync` calls this store made on its log (appends and torn-tail cuts).
    #[must_use]
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Whether the log file at its path is still the one this store holds open: a log renamed
    /// over or removed while open would otherwise take appends that no one else can see.
    fn check_log_identity(&self) -> Result<(), AuditError> {
        let held = self.log.metadata().map_err(io("stat log"))?;
        let at_path = std::fs::symlink_metadata(self.dir.join(LOG_FILE));
        match at_path {
            Ok(m) if m.file_type().is_file() && (m.dev(), m.ino()) == (held.dev(), held.ino()) => {
                Ok(())
            }
            Ok(_) | Err(_) => Err(AuditError::CheckpointMismatch {
                what: format!(
                    "{LOG_FILE} was replaced or removed while the store had it open; restart the rail after `mig06 audit verify`"
                ),
            }),
        }
    }

    /// Whether [`ROTATIONS_FILE`] is as this store left it: a rotation by another process
    /// retired this store's key, which must then sign nothing more (the new key is another
    /// process's; this one is restarted with it).
    fn check_rotations_unchanged(&self) -> Result<(), AuditError> {
        let len = match std::fs::symlink_metadata(self.dir.join(ROTATIONS_FILE)) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io("stat rotations")(e)),
        };
        if len == self.rotations_len {
            return Ok(());
        }
        Err(AuditError::KeyRotated {
            what: format!(
                "{ROTATIONS_FILE} changed while this store had the log open (the key {} may be retired): restart the rail with the key in force",
                self.verifier.key_name()
            ),
        })
    }

    fn with_lock<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, AuditError>,
    ) -> Result<T, AuditError> {
        if let Some(what) = &self.failed {
            return Err(AuditError::Corrupt {
                index: self.checker.ledger().size(),
                what: what.clone(),
            });
        }
        self.log.lock_exclusive().map_err(io("lock log"))?;
        // A handle on the index pinned here (`f` may replace `self.index` with a rebuilt one):
        // it is unpinned whatever `f` did.
        let pinned = self.index.clone();
        if let Some(index) = &pinned {
            index.pin();
        }
        let result = self
            .check_log_identity()
            .and_then(|()| self.check_rotations_unchanged())
            .and_then(|()| f(self));
        if let Some(index) = &pinned {
            index.unpin();
        }
        let unlocked = self.log.unlock().map_err(io("unlock log"));
        let value = result?;
        unlocked?;
        Ok(value)
    }
}

impl AuditStore for FileStore {
    fn append(&mut self, record: AuditRecord) -> Result<Appended, AuditError> {
        let mut one = self.with_lock(|s| s.append_batch_locked(vec![record]))?;
        one.pop().unwrap_or(Err(AuditError::NoResult))
    }

    /// The bound is ignored: an `fdatasync` cannot be abandoned safely (the kernel goes on
    /// writing, and a caller told "unconfirmed" could not tell what a later sync made durable),
    /// so a batch on a stalled disk holds its leader; the group commit's followers stop waiting
    /// at their own bounds ([`crate::audit::group`]).
    fn append_batch(
        &mut self,
        records: Vec<AuditRecord>,
        _bound: Deadline,
    ) -> Vec<Result<Appended, AuditError>> {
        let n = records.len();
        match self.with_lock(|s| s.append_batch_locked(records)) {
            Ok(results) => results,
            Err(e) => (0..n).map(|_| Err(batch_failure(&e))).collect(),
        }
    }

    fn syncs(&self) -> Option<u64> {
        Some(FileStore::syncs(self))
    }

    fn is_claim_held(&mut self, prior: &AttemptId) -> Result<bool, AuditError> {
        self.with_lock(|s| {
            s.catch_up()?;
            Ok(s.checker.ledger().rules().is_claim_held(prior))
        })
    }

    fn request_id_holder(
        &mut self,
        request_id: &RequestId,
    ) -> Result<Option<AttemptId>, AuditError> {
        self.with_lock(|s| {
            s.catch_up()?;
            Ok(s.checker.ledger().rules().request_id_holder(request_id))
        })
    }

    fn witness_checkpoint(
        &mut self,
        at_least: u64,
    ) -> Result<crate::witness::WitnessCheckpoint, AuditError> {
        self.with_lock(|s| {
            s.catch_up()?;
            s.checker.ledger().witness_checkpoint(&s.signer, at_least)
        })
    }

    fn consistency_proof(&mut self, old: u64, new: u64) -> Result<Vec<Hash>, AuditError> {
        self.with_lock(|s| {
            s.catch_up()?;
            let answer = s.checker.ledger().consistency_proof(old, new);
            s.rebuild_if_unreadable(&answer)?;
            answer
        })
    }

    fn inclusion_proof(&mut self, index: u64, size: u64) -> Result<Vec<Hash>, AuditError> {
        self.with_lock(|s| {
            s.catch_up()?;
            let answer = s.checker.ledger().inclusion_proof(index, size);
            s.rebuild_if_unreadable(&answer)?;
            answer
        })
    }

    fn root_at(&mut self, size: u64) -> Result<Hash, AuditError> {
        self.with_lock(|s| {
            s.catch_up()?;
            let answer = s.checker.ledger().root_at(size);
            s.rebuild_if_unreadable(&answer)?;
            answer
        })
    }

    fn leaf_at(&mut self, index: u64) -> Result<Hash, AuditError> {
        self.with_lock(|s| {
            s.catch_up()?;
            let answer = s.checker.ledger().leaf_at(index);
            s.rebuild_if_unreadable(&answer)?;
            answer
        })
    }

    fn verifier_key(&self) -> String {
        self.verifier.vkey()
    }

    fn log_keys(&self) -> Option<LogKeys> {
        Some(self.keys().clone())
    }
}

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod index_tests;
