//! The file audit store: one JSON record per line in `log.jsonl`, `fdatasync` before confirming.
//!
//! Several processes may share one data directory (CLI invocations, a server): every append
//! takes an exclusive `flock` on the log, first reads what others appended since, then appends,
//! so the hash chain, the tree and the one-continuation claims stay consistent across
//! processes. On open, a torn tail (an unconfirmed, partial last line) is reported and cut;
//! anything else that does not check out (see [`super::ledger`]: a broken link, a record past
//! the latest signed checkpoint without a valid signature of its own, a tree that disagrees with
//! a signed checkpoint, kept checkpoints removed or a latest checkpoint rolled back) makes the
//! store refuse to open, naming the first bad record. Only this store writes: auditors read the
//! same directory through [`super::ledger::LogView`].
//!
//! Every record is signed as it is appended (its `sig` member), so the store can always tell
//! its own records past the latest signed checkpoint from forged ones, and never signs a
//! checkpoint over a record it did not write. Node hashes are kept in memory, level by level
//! (`mig06_tlog::Tree`), rebuilt from the log at open: proofs are O(log n) lookups and the only
//! file that must be durable on every append is the log itself.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use fs2::FileExt;
use mig06_tlog::Tree;
use mig06_tlog::checkpoint::{LogSigner, LogVerifier};

use super::group::batch_failure;
use super::ledger::{self, Ledger, check_checkpoints, fault, read_kept, read_latest, read_lines};
pub use super::ledger::{CHECKPOINT_EVERY, CHECKPOINTS_FILE, LATEST_CHECKPOINT, LOG_FILE};
use super::{Appended, AuditError, AuditRecord, AuditStore, Hash};
use crate::ids::AttemptId;

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
}

/// The file-backed audit store.
pub struct FileStore {
    dir: PathBuf,
    log: File,
    len: u64,
    ledger: Ledger,
    signer: LogSigner,
    verifier: LogVerifier,
    /// [`LATEST_CHECKPOINT`], opened at its first write and kept open: reopening it per signed
    /// append cost more than the write itself.
    latest: Option<File>,
    report: OpenReport,
    syncs: AtomicU64,
    checkpoint_write_failures: AtomicU64,
    #[cfg(test)]
    pub(crate) fail_sync: bool,
    #[cfg(test)]
    pub(crate) fail_checkpoint_write: bool,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("dir", &self.dir)
            .field("records", &self.ledger.size())
            .finish_non_exhaustive()
    }
}

fn io(op: &'static str) -> impl FnOnce(std::io::Error) -> AuditError {
    move |source| AuditError::Io { op, source }
}

/// Opens `path` only when it is (or is created as) a regular file, never through a symbolic
/// link: a link planted in the audit directory must not redirect the store's writes (to the
/// signing key, say). Checked before opening, and the opened file must be the one at `path`.
fn open_regular(path: &Path, opts: &OpenOptions, op: &'static str) -> Result<File, AuditError> {
    let refused = || AuditError::Io {
        op,
        source: std::io::Error::other(format!(
            "{} is not a regular file (a symbolic link or another kind of file was put there)",
            path.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        )),
    };
    if std::fs::symlink_metadata(path).is_ok_and(|m| !m.file_type().is_file()) {
        return Err(refused());
    }
    let f = opts.open(path).map_err(io(op))?;
    let opened = f.metadata().map_err(io(op))?;
    let at_path = std::fs::symlink_metadata(path).map_err(io(op))?;
    if !at_path.file_type().is_file()
        || (opened.dev(), opened.ino()) != (at_path.dev(), at_path.ino())
    {
        return Err(refused());
    }
    Ok(f)
}

/// Syncs a directory, so that the entries of files just created in it survive a power loss.
fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync audit directory"))
}

impl FileStore {
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
            ledger: Ledger::new(0),
            signer,
            verifier,
            latest: None,
            report: OpenReport::default(),
            syncs: AtomicU64::new(0),
            checkpoint_write_failures: AtomicU64::new(0),
            #[cfg(test)]
            fail_sync: false,
            #[cfg(test)]
            fail_checkpoint_write: false,
        };
        store.log.lock_exclusive().map_err(io("lock log"))?;
        let result = store
            .check_log_identity()
            .and_then(|()| store.open_locked());
        let unlock = store.log.unlock().map_err(io("unlock log"));
        result?;
        unlock?;
        store.report.records = store.ledger.size();
        Ok(store)
    }

    fn open_locked(&mut self) -> Result<(), AuditError> {
        let mut latest = read_latest(&self.dir, &self.verifier)?;
        let kept = read_kept(&self.dir, &self.verifier)?;
        let log_len = self.log.metadata().map_err(io("stat log"))?.len();
        if latest.is_none() && kept.is_empty() && log_len == 0 {
            // A new log: its latest checkpoint exists, durably, before its first record, so a
            // missing one is always a removal, never a crash.
            let note = self.signed_checkpoint_of(&Tree::new(), 0)?;
            self.write_latest(&note)?;
            self.sync_latest()?;
            sync_dir(&self.dir)?;
            let cp = self
                .verifier
                .verify(&note)
                .map_err(|_| fault(None, "a checkpoint this store signed does not verify"))?;
            latest = Some((note, cp));
        }
        self.ledger = Ledger::new(latest.as_ref().map_or(0, |(_, cp)| cp.size));
        self.catch_up()?;
        check_checkpoints(self.ledger.tree(), latest.as_ref().map(|(_, cp)| cp), &kept)?;
        // Records past the latest checkpoint (a crash after their fdatasync, before the
        // checkpoint reached the disk) were each authenticated by their own signature in
        // `catch_up`: cover them now, with any kept checkpoint they pass.
        let uncovered = self.ledger.uncovered().count();
        if uncovered > 0 {
            let size = self.ledger.size();
            let note = self.signed_checkpoint(size)?;
            self.write_checkpoints(kept.len() as u64, size, &note)?;
            self.sync_latest()?;
            self.ledger.mark_covered();
            self.report.uncovered_signed = uncovered;
        }
        // Attempts whose process stopped after their open record, past their deadline: end
        // them now, before any caller's work.
        if !self
            .ledger
            .overdue(time::OffsetDateTime::now_utc())
            .is_empty()
        {
            self.append_batch_locked(Vec::new())?;
        }
        Ok(())
    }

    /// What opening found.
    #[must_use]
    pub fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// The number of records.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.ledger.size()
    }

    /// The in-memory tree (for proofs).
    #[must_use]
    pub fn tree(&self) -> &Tree {
        self.ledger.tree()
    }

    /// The log's verifier.
    #[must_use]
    pub fn verifier(&self) -> LogVerifier {
        self.verifier.clone()
    }

    /// How many times writing [`LATEST_CHECKPOINT`] or [`CHECKPOINTS_FILE`] failed after the
    /// records it covers were durable (the answers stood; the next open covers the records).
    #[must_use]
    pub fn checkpoint_write_failures(&self) -> u64 {
        self.checkpoint_write_failures.load(Ordering::Relaxed)
    }

    /// Signs the checkpoint of the tree at `size` (deterministic: Ed25519).
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] when `size` exceeds the log.
    pub fn signed_checkpoint(&self, size: u64) -> Result<String, AuditError> {
        self.signed_checkpoint_of(self.ledger.tree(), size)
    }

    fn signed_checkpoint_of(&self, tree: &Tree, size: u64) -> Result<String, AuditError> {
        ledger::sign_tree(&self.signer, tree, size)
    }

    /// Reads what was appended since we last looked (by us or another process), checking every
    /// record as [`super::ledger`] does. Must hold the lock. A partial last line is a torn tail:
    /// reported and cut.
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
        let ledger = &mut self.ledger;
        let verifier = &self.verifier;
        let (complete, torn) = read_lines(&self.log, self.len, |_, line| {
            ledger.admit_next(line, verifier)?;
            Ok::<(), AuditError>(())
        })?;
        self.len += complete;
        if torn > 0 {
            // An append that never reached fdatasync: it was never confirmed to anyone.
            self.log.set_len(self.len).map_err(io("cut torn tail"))?;
            self.sync_log().map_err(io("sync after cut"))?;
            self.report.torn_tail_cut += torn;
        }
        Ok(())
    }

    /// Writes the signed `note` of the tree at `size` to [`LATEST_CHECKPOINT`], after appending
    /// to [`CHECKPOINTS_FILE`] a signed checkpoint for every kept size past the `kept_on_file`
    /// already there, up to `size`. Kept checkpoints are synced before the latest checkpoint
    /// that passes them is written and synced, so that a latest checkpoint on disk never passes
    /// a kept size whose kept checkpoint is not on disk.
    fn write_checkpoints(
        &mut self,
        kept_on_file: u64,
        size: u64,
        note: &str,
    ) -> Result<(), AuditError> {
        let mut kept = String::new();
        for k in (kept_on_file + 1)..=(size / CHECKPOINT_EVERY) {
            let at = k.saturating_mul(CHECKPOINT_EVERY);
            let signed = if at == size {
                note.to_owned()
            } else {
                self.signed_checkpoint(at)?
            };
            // Notes are separated by a blank line after their signature block.
            kept.push_str(&signed);
            kept.push('\n');
        }
        if kept.is_empty() {
            return self.write_latest(note);
        }
        let path = self.dir.join(CHECKPOINTS_FILE);
        let created = !path.exists();
        let mut f = open_regular(
            &path,
            OpenOptions::new().append(true).create(true),
            "append checkpoint",
        )?;
        f.write_all(kept.as_bytes())
            .and_then(|()| f.sync_data())
            .map_err(io("append checkpoint"))?;
        if created {
            sync_dir(&self.dir)?;
        }
        self.write_latest(note)?;
        self.sync_latest()
    }

    fn sync_latest(&mut self) -> Result<(), AuditError> {
        match &self.latest {
            Some(f) => f.sync_data().map_err(io("sync checkpoint")),
            None => Ok(()),
        }
    }

    /// Overwrites [`LATEST_CHECKPOINT`] in place. Not a write to a temporary file and a rename:
    /// on ext4 that allocates and frees an inode and a block per append, and the next `fdatasync`
    /// of the log has to commit all of it, which cost more than a third of the append rate.
    /// In place is safe because a note is a few hundred bytes (one sector, one page) and never
    /// shrinks (the size only grows; origin, root and signature are fixed width), so a write
    /// from offset 0 replaces it whole; the file is cut to the note's length only when it held
    /// something longer (a file put there by hand). It is not synced on ordinary appends: it may
    /// lag the log after a power loss, and the records past it carry their own signatures.
    fn write_latest(&mut self, note: &str) -> Result<(), AuditError> {
        #[cfg(test)]
        if self.fail_checkpoint_write {
            return Err(io("write checkpoint")(std::io::Error::other(
                "injected failure",
            )));
        }
        // At most twice: a second time when the kept handle's file was deleted or replaced
        // (renamed over) since it was opened, which leaves the handle on an unlinked inode.
        for _ in 0..2 {
            let f = match &mut self.latest {
                Some(f) => f,
                // Opened without `append` or `truncate`: writes go where `write_all_at` puts them.
                None => self.latest.insert(open_regular(
                    &self.dir.join(LATEST_CHECKPOINT),
                    OpenOptions::new().write(true).create(true).truncate(false),
                    "open checkpoint",
                )?),
            };
            f.write_all_at(note.as_bytes(), 0)
                .map_err(io("write checkpoint"))?;
            let meta = f.metadata().map_err(io("write checkpoint"))?;
            if meta.nlink() == 0 {
                self.latest = None;
                continue;
            }
            let len = note.len() as u64;
            if meta.len() > len {
                f.set_len(len).map_err(io("write checkpoint"))?;
            }
            return Ok(());
        }
        Err(AuditError::Io {
            op: "write checkpoint",
            source: std::io::Error::other("checkpoint.latest was unlinked while being written"),
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
        let batch =
            self.ledger
                .stage_batch(records, &self.signer, time::OffsetDateTime::now_utc())?;
        self.report.interrupted_ended += batch.interrupted;
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
                .ledger
                .with_staged(&leaves, |tree| ledger::sign_tree(signer, tree, size))?;
            checkpoint = Some(signed);
        }
        let results = self.ledger.admit_staged(batch, n, checkpoint.as_deref())?;
        if let Some(note) = &checkpoint {
            let kept_on_file = if start / CHECKPOINT_EVERY == size / CHECKPOINT_EVERY {
                size / CHECKPOINT_EVERY
            } else {
                ledger::count_kept(&self.dir).unwrap_or(start / CHECKPOINT_EVERY)
            };
            match self.write_checkpoints(kept_on_file, size, note) {
                Ok(()) => self.ledger.mark_covered(),
                // The records are durable and signed; the note is valid evidence. The files
                // catch up at the next signed batch or open.
                Err(_) => {
                    self.checkpoint_write_failures
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
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

    fn with_lock<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, AuditError>,
    ) -> Result<T, AuditError> {
        self.log.lock_exclusive().map_err(io("lock log"))?;
        let result = self.check_log_identity().and_then(|()| f(self));
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

    fn append_batch(&mut self, records: Vec<AuditRecord>) -> Vec<Result<Appended, AuditError>> {
        let n = records.len();
        match self.with_lock(|s| s.append_batch_locked(records)) {
            Ok(results) => results,
            Err(e) => (0..n).map(|_| Err(batch_failure(&e))).collect(),
        }
    }

    fn syncs(&self) -> Option<u64> {
        Some(FileStore::syncs(self))
    }

    fn is_continued(&mut self, prior: &AttemptId) -> Result<bool, AuditError> {
        self.with_lock(|s| {
            s.catch_up()?;
            Ok(s.ledger.rules().is_claimed(prior))
        })
    }

    fn root_at(&mut self, size: u64) -> Result<Hash, AuditError> {
        self.with_lock(|s| {
            s.catch_up()?;
            s.ledger
                .tree()
                .root_at(size)
                .map_err(|_| AuditError::Corrupt {
                    index: size,
                    what: "size beyond the log".into(),
                })
        })
    }

    fn leaf_at(&mut self, index: u64) -> Result<Hash, AuditError> {
        self.with_lock(|s| {
            s.catch_up()?;
            s.ledger.tree().leaf(index).ok_or(AuditError::Corrupt {
                index,
                what: "index beyond the log".into(),
            })
        })
    }

    fn verifier_key(&self) -> String {
        self.verifier.vkey()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ids::{CallerId, Sha256Digest};

    pub(crate) fn record() -> AuditRecord {
        AuditRecord::open(
            AttemptId::mint(),
            CallerId::parse("operator-1").unwrap(),
            Sha256Digest::of(b"policy"),
            AuditRecord::deadline_in(std::time::Duration::from_secs(600)),
        )
    }

    pub(crate) fn terminal() -> AuditRecord {
        record().ended(crate::outcome::TerminalCode::DeniedPolicy, None)
    }

    #[test]
    fn only_batches_with_a_terminal_record_are_signed_and_the_first_always_is() {
        let dir = tempfile::tempdir().unwrap();
        let signer = LogSigner::generate("mig06.example/audit").unwrap();
        let key = signer.private_key();
        let mut store = FileStore::open(dir.path(), signer).unwrap();
        let verifier = store.verifier();
        let latest = dir.path().join(LATEST_CHECKPOINT);
        let size_of_latest = || {
            verifier
                .verify(&std::fs::read_to_string(&latest).unwrap())
                .unwrap()
                .size
        };
        // The first batch is signed even without a terminal record: a non-empty log always
        // has a latest checkpoint.
        let first = store.append(record()).unwrap();
        assert!(first.checkpoint.is_some());
        assert_eq!(size_of_latest(), 1);
        // An open record alone: no signature, the latest checkpoint lags by one record.
        let open = store.append(record()).unwrap();
        assert_eq!(open.checkpoint, None);
        assert_eq!(size_of_latest(), 1);
        // A latest checkpoint that lags the log by open records (a crash between an attempt's
        // open and terminal records leaves the log like this) is accepted on open, and signed
        // anew to cover the whole log.
        drop(store);
        let mut store =
            FileStore::open(dir.path(), LogSigner::from_private_key(&key).unwrap()).unwrap();
        assert_eq!(size_of_latest(), 2);
        // A terminal record is signed, in a tree that holds it. A record the log's rules refuse
        // (a second claim on one prior attempt) is not written at all.
        let done = store.append(terminal()).unwrap();
        let cp = verifier
            .verify(done.checkpoint.as_deref().unwrap())
            .unwrap();
        assert_eq!((cp.size, size_of_latest()), (3, 3));
        let prior = AttemptId::mint();
        let claim = || AuditRecord {
            continues: Some(prior.clone()),
            claim: true,
            ..record()
        };
        assert_eq!(store.append(claim()).unwrap().checkpoint, None);
        let refused = store.append(claim());
        assert!(
            matches!(
                refused,
                Err(AuditError::Rule(
                    super::super::rules::RuleViolation::ClaimTaken
                ))
            ),
            "{refused:?}"
        );
        assert_eq!(store.size(), 4);
        assert_eq!(store.append(terminal()).unwrap().index, 4);
        assert_eq!(size_of_latest(), 5);
        // Removing the signed terminal record is detected on open.
        drop(store);
        let log = dir.path().join(LOG_FILE);
        let text = std::fs::read_to_string(&log).unwrap();
        let cut = text.trim_end().rfind('\n').unwrap() + 1;
        std::fs::write(&log, text.get(..cut).unwrap()).unwrap();
        let reopened = FileStore::open(dir.path(), LogSigner::from_private_key(&key).unwrap());
        assert!(
            matches!(reopened, Err(AuditError::Corrupt { ref what, .. }) if what.contains("removed")),
            "{reopened:?}"
        );
    }

    #[test]
    fn a_latest_checkpoint_deleted_or_replaced_while_the_store_is_open_is_written_anew() {
        let dir = tempfile::tempdir().unwrap();
        let signer = LogSigner::generate("mig06.example/audit").unwrap();
        let key = signer.private_key();
        let mut store = FileStore::open(dir.path(), signer).unwrap();
        let latest = dir.path().join(LATEST_CHECKPOINT);
        store.append(terminal()).unwrap();
        std::fs::remove_file(&latest).unwrap();
        let a = store.append(terminal()).unwrap();
        assert_eq!(
            Some(std::fs::read_to_string(&latest).unwrap()),
            a.checkpoint
        );
        // Replaced by a rename (as a backup restore or an editor would): the new file is used.
        let tmp = dir.path().join("restored");
        std::fs::write(&tmp, "old").unwrap();
        std::fs::rename(&tmp, &latest).unwrap();
        let b = store.append(terminal()).unwrap();
        assert_eq!(
            Some(std::fs::read_to_string(&latest).unwrap()),
            b.checkpoint
        );
        drop(store);
        FileStore::open(dir.path(), LogSigner::from_private_key(&key).unwrap()).unwrap();
    }

    #[test]
    fn latest_checkpoint_is_rewritten_in_place_and_always_whole() {
        let dir = tempfile::tempdir().unwrap();
        let signer = LogSigner::generate("mig06.example/audit").unwrap();
        let mut store = FileStore::open(dir.path(), signer).unwrap();
        let latest = dir.path().join(LATEST_CHECKPOINT);
        // Across the 9 -> 10 boundary the note grows by one byte.
        for _ in 0..12 {
            let appended = store.append(terminal()).unwrap();
            assert_eq!(
                Some(std::fs::read_to_string(&latest).unwrap()),
                appended.checkpoint
            );
        }
        // Something longer put there by hand is cut to the new note, not left as a tail.
        let mut long = std::fs::read_to_string(&latest).unwrap();
        long.push_str(&"x".repeat(500));
        std::fs::write(&latest, long).unwrap();
        let appended = store.append(terminal()).unwrap();
        assert_eq!(
            Some(std::fs::read_to_string(&latest).unwrap()),
            appended.checkpoint
        );
        let verifier = store.verifier();
        drop(store);
        let reopened = FileStore::open(dir.path(), LogSigner::generate("x").unwrap());
        assert!(
            reopened.is_err(),
            "a foreign key must not verify the checkpoint"
        );
        let report = crate::audit::verify::verify_dir(dir.path(), &verifier, None, &mut |_, _| {});
        assert_eq!(report.unwrap().records, 13);
    }

    #[test]
    fn a_batch_is_one_write_one_sync_one_checkpoint_and_a_failed_sync_fails_all_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let signer = LogSigner::generate("mig06.example/audit").unwrap();
        let mut store = FileStore::open(dir.path(), signer).unwrap();
        store.append(record()).unwrap();
        assert_eq!(store.syncs(), 1);
        let log_len = || std::fs::metadata(dir.path().join(LOG_FILE)).unwrap().len();
        let before = log_len();

        // A failed fdatasync: every member fails, nothing stays in the log or the tree.
        store.fail_sync = true;
        let failed = store.append_batch(vec![record(), record(), record()]);
        assert_eq!(failed.len(), 3);
        assert!(failed.iter().all(Result::is_err));
        assert_eq!(store.syncs(), 2);
        assert_eq!(log_len(), before);
        assert_eq!(store.size(), 1);

        // The same batch, synced: one more sync, consecutive indices, one checkpoint of the
        // batch's final tree, each proof against it.
        store.fail_sync = false;
        let ok: Vec<Appended> = store
            .append_batch(vec![record(), terminal(), record()])
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(store.syncs(), 3);
        let verifier = store.verifier();
        for (i, a) in ok.iter().enumerate() {
            assert_eq!(a.index, i as u64 + 1);
            assert_eq!(a.checkpoint, ok[2].checkpoint);
            let cp = verifier.verify(a.checkpoint.as_deref().unwrap()).unwrap();
            assert_eq!(cp.size, 4);
            mig06_tlog::verify_inclusion(&a.leaf_hash, a.index, cp.size, &a.proof, &cp.root)
                .unwrap();
        }
        assert_eq!(
            Some(std::fs::read_to_string(dir.path().join(LATEST_CHECKPOINT)).unwrap()),
            ok[2].checkpoint
        );
        let report = crate::audit::verify::verify_dir(dir.path(), &verifier, None, &mut |_, _| {});
        assert_eq!(report.unwrap().records, 4);
    }

    #[test]
    fn a_batch_crossing_a_kept_checkpoint_size_still_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let signer = LogSigner::generate("mig06.example/audit").unwrap();
        let mut store = FileStore::open(dir.path(), signer).unwrap();
        let first: Vec<AuditRecord> = (0..CHECKPOINT_EVERY - 2).map(|_| record()).collect();
        assert!(store.append_batch(first).iter().all(Result::is_ok));
        let second: Vec<AuditRecord> = (0..5).map(|_| record()).collect();
        assert!(store.append_batch(second).iter().all(Result::is_ok));
        let kept = std::fs::read_to_string(dir.path().join(CHECKPOINTS_FILE)).unwrap();
        let verifier = store.verifier();
        let cp = verifier.verify(kept.strip_suffix('\n').unwrap()).unwrap();
        assert_eq!(cp.size, CHECKPOINT_EVERY);
        let report = crate::audit::verify::verify_dir(dir.path(), &verifier, None, &mut |_, _| {});
        assert_eq!(report.unwrap().checkpoints, 2);
    }
}
