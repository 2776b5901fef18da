//! The file audit store: one JSON record per line in `log.jsonl`, `fdatasync` before confirming.
//!
//! Several processes may share one data directory (CLI invocations, a server): every append
//! takes an exclusive `flock` on the log, first reads what others appended since, then appends,
//! so the hash chain, the tree and the one-continuation claims stay consistent across
//! processes. On open, a torn tail (an unconfirmed, partial last line) is reported and cut;
//! anything else that does not verify (a broken link, a tree that disagrees with the latest
//! signed checkpoint, a log shorter than that checkpoint) makes the store refuse to open.
//!
//! Node hashes are kept in memory, level by level (`mig06_tlog::Tree`), rebuilt from the log at
//! open: proofs are O(log n) lookups and the only file that must be durable is the log itself.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use fs2::FileExt;
use mig06_tlog::checkpoint::{Checkpoint, LogSigner, LogVerifier};
use mig06_tlog::{Tree, leaf_hash};
use serde::Deserialize;

use super::group::batch_failure;
use super::rules::{Facts, LedgerRules};
use super::{Appended, AuditError, AuditRecord, AuditStore, Hash, RecordKind, ZERO_HASH, hash_hex};
use crate::ids::AttemptId;
use crate::outcome::TerminalCode;

/// The log file's name in the audit directory.
pub const LOG_FILE: &str = "log.jsonl";
/// The latest signed checkpoint.
pub const LATEST_CHECKPOINT: &str = "checkpoint.latest";
/// Signed checkpoints kept every [`CHECKPOINT_EVERY`] records.
pub const CHECKPOINTS_FILE: &str = "checkpoints";
/// How often (in records) a checkpoint is kept in [`CHECKPOINTS_FILE`].
pub const CHECKPOINT_EVERY: u64 = 256;

/// What opening the store found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Records in the log.
    pub records: u64,
    /// Bytes of a torn tail that were cut (0 when none).
    pub torn_tail_cut: u64,
}

/// The fields the store itself needs from each record.
#[derive(Deserialize)]
struct Head {
    prev: String,
    seq: u64,
    attempt_id: AttemptId,
    kind: RecordKind,
    #[serde(default)]
    code: Option<TerminalCode>,
    #[serde(default)]
    continues: Option<AttemptId>,
    #[serde(default)]
    claim: bool,
    chain_root: AttemptId,
}

/// The file-backed audit store.
pub struct FileStore {
    dir: PathBuf,
    log: File,
    len: u64,
    tree: Tree,
    last: Hash,
    rules: LedgerRules,
    signer: LogSigner,
    /// [`LATEST_CHECKPOINT`], opened at its first write and kept open: reopening it per signed
    /// append cost more than the write itself.
    latest: Option<File>,
    report: OpenReport,
    syncs: AtomicU64,
    #[cfg(test)]
    fail_sync: bool,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("dir", &self.dir)
            .field("records", &self.tree.size())
            .finish_non_exhaustive()
    }
}

fn io(op: &'static str) -> impl FnOnce(std::io::Error) -> AuditError {
    move |source| AuditError::Io { op, source }
}

impl FileStore {
    /// Opens (creating when absent) the store in `dir`, signing checkpoints with `signer`.
    ///
    /// # Errors
    /// I/O errors, [`AuditError::Corrupt`] when a record does not verify, and
    /// [`AuditError::CheckpointMismatch`] when the log disagrees with its latest checkpoint.
    pub fn open(dir: &Path, signer: LogSigner) -> Result<Self, AuditError> {
        std::fs::create_dir_all(dir).map_err(io("create audit directory"))?;
        let log = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(dir.join(LOG_FILE))
            .map_err(io("open log"))?;
        let mut store = Self {
            dir: dir.to_owned(),
            log,
            len: 0,
            tree: Tree::new(),
            last: ZERO_HASH,
            rules: LedgerRules::new(),
            signer,
            latest: None,
            report: OpenReport::default(),
            syncs: AtomicU64::new(0),
            #[cfg(test)]
            fail_sync: false,
        };
        store.log.lock_exclusive().map_err(io("lock log"))?;
        let result = store
            .catch_up()
            .and_then(|()| store.check_latest_checkpoint())
            .and_then(|covered| {
                // Records past the latest checkpoint are open records whose attempt never
                // reached its terminal record (a crash): sign them now, so that removing them
                // is detected from here on.
                if covered < store.tree.size() {
                    let note = store.signed_checkpoint(store.tree.size())?;
                    store.write_latest(&note)?;
                }
                Ok(())
            });
        let unlock = store.log.unlock().map_err(io("unlock log"));
        result?;
        unlock?;
        store.report.records = store.tree.size();
        Ok(store)
    }

    /// What opening found.
    #[must_use]
    pub fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// The number of records.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// The in-memory tree (for proofs).
    #[must_use]
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The log's verifier.
    #[must_use]
    pub fn verifier(&self) -> LogVerifier {
        self.signer.verifier()
    }

    /// Signs the checkpoint of the tree at `size` (deterministic: Ed25519).
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] when `size` exceeds the log.
    pub fn signed_checkpoint(&self, size: u64) -> Result<String, AuditError> {
        let root = self.tree.root_at(size).map_err(|_| AuditError::Corrupt {
            index: size,
            what: "size beyond the log".into(),
        })?;
        Ok(self.signer.sign(&Checkpoint {
            origin: self.signer.origin().to_owned(),
            size,
            root,
        }))
    }

    /// Reads what was appended since we last looked (by us or another process). Must hold the
    /// lock. A partial last line is a torn tail: reported and cut.
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
        let mut buf = Vec::new();
        self.log
            .seek(SeekFrom::Start(self.len))
            .map_err(io("seek log"))?;
        (&self.log)
            .take(end - self.len)
            .read_to_end(&mut buf)
            .map_err(io("read log"))?;
        let complete = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let (lines, tail) = buf.split_at(complete);
        for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            self.index_line(line)?;
        }
        self.len += complete as u64;
        if !tail.is_empty() {
            // An append that never reached fdatasync: it was never confirmed to anyone.
            self.log.set_len(self.len).map_err(io("cut torn tail"))?;
            self.sync_log().map_err(io("sync after cut"))?;
            self.report.torn_tail_cut += tail.len() as u64;
        }
        Ok(())
    }

    fn index_line(&mut self, line: &[u8]) -> Result<(), AuditError> {
        let index = self.tree.size();
        let corrupt = |what: &str| AuditError::Corrupt {
            index,
            what: what.to_owned(),
        };
        let head: Head =
            serde_json::from_slice(line).map_err(|_| corrupt("not a valid audit record"))?;
        if head.seq != index {
            return Err(corrupt("sequence number out of order"));
        }
        if head.prev != hash_hex(&self.last) {
            return Err(corrupt("link to the previous record is broken"));
        }
        self.rules
            .admit(Facts {
                attempt_id: &head.attempt_id,
                kind: head.kind,
                code: head.code,
                continues: head.continues.as_ref(),
                claim: head.claim,
                chain_root: &head.chain_root,
            })
            .map_err(|v| corrupt(&v.to_string()))?;
        let h = leaf_hash(line);
        self.tree.push(h);
        self.last = h;
        Ok(())
    }

    /// Checks [`LATEST_CHECKPOINT`] against the log; returns the size it covers (0 when absent
    /// from an empty log).
    fn check_latest_checkpoint(&self) -> Result<u64, AuditError> {
        let path = self.dir.join(LATEST_CHECKPOINT);
        let note = match std::fs::read_to_string(&path) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return if self.tree.size() == 0 {
                    Ok(0)
                } else {
                    Err(AuditError::CheckpointMismatch {
                        what: format!("{LATEST_CHECKPOINT} is missing"),
                    })
                };
            }
            Err(e) => return Err(io("read latest checkpoint")(e)),
        };
        let cp =
            self.signer
                .verifier()
                .verify(&note)
                .map_err(|e| AuditError::CheckpointMismatch {
                    what: format!("{LATEST_CHECKPOINT}: {e}"),
                })?;
        if cp.size > self.tree.size() {
            return Err(AuditError::CheckpointMismatch {
                what: format!(
                    "the log has {} records but its signed checkpoint covers {}: records were removed",
                    self.tree.size(),
                    cp.size
                ),
            });
        }
        let root = self
            .tree
            .root_at(cp.size)
            .map_err(|_| AuditError::CheckpointMismatch {
                what: "checkpoint size".into(),
            })?;
        if root != cp.root {
            return Err(AuditError::CheckpointMismatch {
                what: format!(
                    "the tree of size {} does not match its signed root",
                    cp.size
                ),
            });
        }
        Ok(cp.size)
    }

    /// When `sign_latest`, signs the checkpoint of the tree at `size` and writes it to
    /// [`LATEST_CHECKPOINT`]. Appends to [`CHECKPOINTS_FILE`] a signed checkpoint for every
    /// multiple of [`CHECKPOINT_EVERY`] in `from + 1 ..= size` (a batch may cross one without
    /// ending on it).
    fn write_checkpoints(
        &mut self,
        from: u64,
        size: u64,
        sign_latest: bool,
    ) -> Result<Option<String>, AuditError> {
        let note = if sign_latest {
            let note = self.signed_checkpoint(size)?;
            self.write_latest(&note)?;
            Some(note)
        } else {
            None
        };
        let mut kept = String::new();
        for k in (from / CHECKPOINT_EVERY + 1)..=(size / CHECKPOINT_EVERY) {
            let at = k.saturating_mul(CHECKPOINT_EVERY);
            let signed = match &note {
                Some(note) if at == size => note.clone(),
                Some(_) | None => self.signed_checkpoint(at)?,
            };
            // Notes are separated by a blank line after their signature block.
            kept.push_str(&signed);
            kept.push('\n');
        }
        if !kept.is_empty() {
            let mut f = OpenOptions::new()
                .append(true)
                .create(true)
                .open(self.dir.join(CHECKPOINTS_FILE))
                .map_err(io("append checkpoint"))?;
            f.write_all(kept.as_bytes())
                .map_err(io("append checkpoint"))?;
        }
        Ok(note)
    }

    /// Overwrites [`LATEST_CHECKPOINT`] in place. Not a write to a temporary file and a rename:
    /// on ext4 that allocates and frees an inode and a block per append, and the next `fdatasync`
    /// of the log has to commit all of it, which cost more than a third of the append rate.
    /// In place is safe because a note is a few hundred bytes (one sector, one page) and never
    /// shrinks (the size only grows; origin, root and signature are fixed width), so a write
    /// from offset 0 replaces it whole; the file is cut to the note's length only when it held
    /// something longer (a file put there by hand). Like before, it is not synced: it only
    /// ever lags the log, which `open` accepts. (A reader that does not take the lock, such as
    /// `audit verify` run during an append, could in principle read a page mid-copy, fail, and
    /// need a rerun; with the rename it read the old or the new note.)
    fn write_latest(&mut self, note: &str) -> Result<(), AuditError> {
        // At most twice: a second time when the kept handle's file was deleted or replaced
        // (renamed over) since it was opened, which leaves the handle on an unlinked inode.
        for _ in 0..2 {
            let f = match &mut self.latest {
                Some(f) => f,
                // Opened without `append` or `truncate`: writes go where `write_all_at` puts them.
                None => self.latest.insert(
                    OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(false)
                        .open(self.dir.join(LATEST_CHECKPOINT))
                        .map_err(io("open checkpoint"))?,
                ),
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
    /// Each record is checked against the log's rules ([`LedgerRules`]) in log order, against
    /// the log and the records before it in the batch; a record that breaks one is not written
    /// and gets [`AuditError::Rule`], the others are. When the batch holds a terminal record, every record gets
    /// the batch's one signed checkpoint (of the tree that ends with the batch's last record) and
    /// its inclusion proof in that tree; a batch of open records only is not signed.
    /// Any failure fails the whole batch; a partial write is cut.
    fn append_batch_locked(
        &mut self,
        records: Vec<AuditRecord>,
    ) -> Result<Vec<Result<Appended, AuditError>>, AuditError> {
        self.catch_up()?;
        let start = self.tree.size();
        let mut last = self.last;
        let mut rules = self.rules.stage();
        let mut refused = Vec::with_capacity(records.len());
        let mut lines = Vec::new();
        let mut staged = Vec::with_capacity(records.len());
        let mut index = start;
        for mut record in records {
            let verdict = rules.admit(Facts::from(&record));
            refused.push(verdict.err());
            if verdict.is_err() {
                continue;
            }
            record.prev = hash_hex(&last);
            record.seq = index;
            let bytes = serde_json::to_vec(&record).map_err(|_| AuditError::Encode)?;
            lines.extend_from_slice(&bytes);
            lines.push(b'\n');
            let h = leaf_hash(&bytes);
            last = h;
            staged.push((index, h, bytes, record));
            index += 1;
        }
        let added = rules.into_added();
        if staged.is_empty() {
            return Ok(refused
                .into_iter()
                .flatten()
                .map(|v| Err(v.into()))
                .collect());
        }
        let written = self.log.write_all(&lines).and_then(|()| self.sync_log());
        if let Err(e) = written {
            // Not confirmed: cut whatever part reached the file so the tail stays clean.
            let _ = self.log.set_len(self.len);
            return Err(io("append record")(e));
        }
        self.len += lines.len() as u64;
        for (_, h, ..) in &staged {
            self.tree.push(*h);
        }
        self.last = last;
        self.rules.commit(added);
        let size = self.tree.size();
        // Only a terminal record needs a signed checkpoint (its evidence); an open record is
        // covered by the one its terminal record will get. The first batch is always signed so
        // that a non-empty log always has a latest checkpoint, and so is a batch that reaches a
        // kept checkpoint, so that the latest is never older than a kept one.
        let sign_latest = start == 0
            || start / CHECKPOINT_EVERY != size / CHECKPOINT_EVERY
            || staged
                .iter()
                .any(|(.., record)| record.kind == RecordKind::Terminal);
        let checkpoint = self.write_checkpoints(start, size, sign_latest)?;
        let appended: Vec<Result<Appended, AuditError>> = staged
            .into_iter()
            .map(|(index, leaf_hash, bytes, record)| {
                let proof =
                    self.tree
                        .inclusion_proof(index, size)
                        .map_err(|_| AuditError::Corrupt {
                            index,
                            what: "inclusion proof".into(),
                        })?;
                Ok(Appended {
                    index,
                    leaf_hash,
                    bytes,
                    proof,
                    checkpoint: checkpoint.clone(),
                    record,
                })
            })
            .collect();
        // One result per record given, in order: the refused ones in their places.
        let mut appended = appended.into_iter();
        Ok(refused
            .into_iter()
            .map(|v| match v {
                Some(v) => Err(v.into()),
                None => appended.next().unwrap_or(Err(AuditError::Encode)),
            })
            .collect())
    }

    /// `fdatasync` calls this store made on its log (appends and torn-tail cuts).
    #[must_use]
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    fn with_lock<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, AuditError>,
    ) -> Result<T, AuditError> {
        self.log.lock_exclusive().map_err(io("lock log"))?;
        let result = f(self);
        let unlocked = self.log.unlock().map_err(io("unlock log"));
        let value = result?;
        unlocked?;
        Ok(value)
    }
}

impl AuditStore for FileStore {
    fn append(&mut self, record: AuditRecord) -> Result<Appended, AuditError> {
        let mut one = self.with_lock(|s| s.append_batch_locked(vec![record]))?;
        one.pop().unwrap_or(Err(AuditError::Encode))
    }

    fn append_batch(&mut self, records: Vec<AuditRecord>) -> Vec<Result<Appended, AuditError>> {
        let n = records.len();
        match self.with_lock(|s| s.append_batch_locked(records)) {
            Ok(appended) => appended,
            Err(e) => (0..n).map(|_| Err(batch_failure(&e))).collect(),
        }
    }

    fn syncs(&self) -> Option<u64> {
        Some(FileStore::syncs(self))
    }

    fn is_continued(&mut self, prior: &AttemptId) -> Result<bool, AuditError> {
        self.with_lock(|s| {
            s.catch_up()?;
            Ok(s.rules.is_claimed(prior))
        })
    }

    fn root_at(&mut self, size: u64) -> Result<Hash, AuditError> {
        self.with_lock(|s| {
            s.catch_up()?;
            s.tree.root_at(size).map_err(|_| AuditError::Corrupt {
                index: size,
                what: "size beyond the log".into(),
            })
        })
    }

    fn leaf_at(&mut self, index: u64) -> Result<Hash, AuditError> {
        self.with_lock(|s| {
            s.catch_up()?;
            s.tree.leaf(index).ok_or(AuditError::Corrupt {
                index,
                what: "index beyond the log".into(),
            })
        })
    }

    fn verifier_key(&self) -> String {
        self.signer.verifier().vkey()
    }
}

/// Reads every complete record of the log in `dir`, with its exact text, for read-only commands
/// (`audit show`, `prove`, `provenance`, `export`). Does not lock or repair anything.
///
/// # Errors
/// I/O errors, or [`AuditError::Corrupt`] for a line that is not an audit record.
pub fn read_records(dir: &Path) -> Result<Vec<(String, AuditRecord)>, AuditError> {
    let text = match std::fs::read_to_string(dir.join(LOG_FILE)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("read log")(e)),
    };
    let mut out = Vec::new();
    for (i, line) in text.split_terminator('\n').enumerate() {
        let rec: AuditRecord = serde_json::from_str(line).map_err(|_| AuditError::Corrupt {
            index: i as u64,
            what: "not a valid audit record".into(),
        })?;
        out.push((line.to_owned(), rec));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::RecordKind;
    use crate::ids::{CallerId, Sha256Digest};

    fn record() -> AuditRecord {
        let id = AttemptId::mint();
        AuditRecord {
            prev: String::new(),
            seq: 0,
            ts: crate::audit::now_rfc3339(),
            kind: RecordKind::Open,
            attempt_id: id.clone(),
            caller: CallerId::parse("operator-1").unwrap(),
            trigger: None,
            action: None,
            request_fp: None,
            policy_digest: Sha256Digest::of(b"policy"),
            decision: None,
            code: None,
            detail: None,
            draft_ref: None,
            content_sha256: None,
            continues: None,
            chain_root: id,
            depth: 0,
            reason: None,
            claim: false,
        }
    }

    fn terminal() -> AuditRecord {
        AuditRecord {
            kind: RecordKind::Terminal,
            code: Some(crate::outcome::TerminalCode::DeniedPolicy),
            ..record()
        }
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
        std::fs::write(&log, &text[..cut]).unwrap();
        let reopened = FileStore::open(dir.path(), LogSigner::from_private_key(&key).unwrap());
        assert!(
            matches!(reopened, Err(AuditError::CheckpointMismatch { ref what }) if what.contains("removed")),
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
        let report = crate::audit::verify::verify_dir(dir.path(), &verifier, &mut |_, _| {});
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
        let report = crate::audit::verify::verify_dir(dir.path(), &verifier, &mut |_, _| {});
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
        let report = crate::audit::verify::verify_dir(dir.path(), &verifier, &mut |_, _| {});
        assert_eq!(report.unwrap().checkpoints, 2);
    }
}
