//! Rotating the log's key: one key epoch ends and the next begins, inside the one log.
//!
//! The decision that matters: a rotation is a position R in the one tree, not a new log, so
//! the origin, the witnesses' state and the log's rules (one claim per prior, one completed
//! draft per chain root, one attempt per request id) carry on unchanged; only the key that
//! signs changes. Under the store's lock, with nothing appended meanwhile, the rotation
//!
//! 1. signs the retiring key's final checkpoint at R and makes it the latest checkpoint
//!    (synced, with any kept checkpoint it passes);
//! 2. with witnesses configured, has a quorum cosign that final checkpoint, then the new key's
//!    checkpoint of the same tree (which also proves that the witnesses accept the new key
//!    before it signs anything they will be asked to cosign);
//! 3. appends the rotation statement, signed by both keys, to [`ROTATIONS_FILE`] and syncs it
//!    (and its directory entry when created): from then on, the log opens only with the new
//!    key, and every store that had it open with the old key refuses to append.
//!
//! Nothing is written to the log itself. A failure before step 3 leaves the log in the old
//! epoch (with a new latest checkpoint of the same tree); after step 3 the rotation is done,
//! whatever happens to the key files, which the binary installs afterwards
//! (`mig06 audit rotate-key`).

use std::fs::OpenOptions;
use std::io::Write as _;

use fs2::FileExt as _;
use mig06_tlog::checkpoint::LogSigner;
use mig06_tlog::rotation::{Rotation, RotationError};

use super::FileStore;
use super::fsio::{io, open_regular, sync_dir};
use super::read::count_kept;
use crate::audit::ledger::{self, Ledger, ROTATIONS_FILE};
use crate::audit::{AuditError, Hash};
use crate::executor::Deadline;
use crate::witness::{Unwitnessed, WitnessCheckpoint, WitnessedLog, Witnesses};

/// A completed rotation: what the operator publishes to auditors and witnesses.
#[derive(Debug, Clone)]
pub struct Rotated {
    /// The new key's epoch number (the genesis key's is 0).
    pub epoch: usize,
    /// The tree size R at which the key changed: records from R on are the new key's.
    pub size: u64,
    /// The tree's root at R.
    pub root: Hash,
    /// The signed rotation statement (as appended to [`ROTATIONS_FILE`]).
    pub statement: String,
    /// The retiring key's final checkpoint at R, with the witnesses' cosignatures.
    pub final_checkpoint: String,
    /// The new key's checkpoint at R, with the witnesses' cosignatures.
    pub first_checkpoint: String,
    /// The retiring key's verifier key.
    pub old_vkey: String,
    /// The new key's verifier key.
    pub new_vkey: String,
    /// The witnesses that cosigned the new key's checkpoint.
    pub witnesses: Vec<String>,
}

/// Why a rotation did not complete. Before the statement is durable nothing of it holds but
/// a new latest checkpoint of the same tree, by the retiring key.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    /// The store failed (I/O, a log that does not check out, a key rotated meanwhile).
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The new key cannot follow the log's keys (the same key, a key ID the log had, another
    /// origin).
    #[error("the new key cannot follow the log's keys: {0}")]
    Key(RotationError),
    /// The witnesses did not cosign the retiring key's final checkpoint.
    #[error(
        "the witnesses did not cosign the retiring key's final checkpoint at size {size}: {why}"
    )]
    FinalUnwitnessed {
        /// R.
        size: u64,
        /// Why.
        why: Unwitnessed,
    },
    /// The witnesses did not cosign the new key's checkpoint: most likely they do not know the
    /// new key yet.
    #[error(
        "the witnesses did not cosign the new key's checkpoint at size {size}: {why}; add the new key to each witness (`mig06 witness add-log`) and run the rotation again"
    )]
    NewKeyUnwitnessed {
        /// R.
        size: u64,
        /// Why.
        why: Unwitnessed,
    },
}

/// The log held under its store's lock, signed by one of its keys, for the witnesses: nothing
/// can be appended to it meanwhile.
struct Held<'a> {
    ledger: &'a Ledger,
    signer: &'a LogSigner,
}

impl WitnessedLog for Held<'_> {
    fn witness_checkpoint(&mut self, at_least: u64) -> Result<WitnessCheckpoint, AuditError> {
        self.ledger.witness_checkpoint(self.signer, at_least)
    }
    fn consistency_proof(&mut self, old: u64, new: u64) -> Result<Vec<Hash>, AuditError> {
        self.ledger.consistency_proof(old, new)
    }
}

impl FileStore {
    // INV-KEY-EPOCH: a rotation ends the retiring key's epoch with a final checkpoint (cosigned
    // by the witnesses' quorum when witnesses are configured) and is durable before the new key
    // signs anything.
    /// Rotates the log's key to `next` at the log's current size R (see the module
    /// documentation for the steps). `witnesses` (with their quorum) must cosign the retiring
    /// key's final checkpoint and the new key's checkpoint of the same tree; with none
    /// configured, nothing is submitted. On success this store signs with `next`.
    ///
    /// # Errors
    /// [`RotateError`]; the log stays in its current epoch unless the statement was written.
    pub fn rotate_key(
        &mut self,
        next: LogSigner,
        witnesses: &Witnesses,
        deadline: Deadline,
    ) -> Result<Rotated, RotateError> {
        self.log.lock_exclusive().map_err(io("lock log"))?;
        let result = self
            .check_log_identity()
            .and_then(|()| self.check_rotations_unchanged())
            .map_err(RotateError::from)
            .and_then(|()| self.rotate_locked(next, witnesses, deadline));
        let unlocked = self.log.unlock().map_err(io("unlock log"));
        let rotated = result?;
        unlocked?;
        Ok(rotated)
    }

    fn rotate_locked(
        &mut self,
        next: LogSigner,
        witnesses: &Witnesses,
        deadline: Deadline,
    ) -> Result<Rotated, RotateError> {
        self.catch_up()?;
        let size = self.size();
        let root = self.checker.ledger().root_at(size)?;
        let rotation = Rotation::new(size, root, self.verifier.clone(), next.verifier())
            .map_err(RotateError::Key)?;
        let statement = rotation
            .sign(&self.signer, &next)
            .map_err(RotateError::Key)?;
        let keys = self.keys().extended(&statement).map_err(RotateError::Key)?;

        // 1. The retiring key's final checkpoint is the latest, durably.
        let final_note = self.signed_checkpoint(size)?;
        let kept_on_file = count_kept(&self.dir).map_err(AuditError::from)?;
        self.write_checkpoints(kept_on_file, size, &final_note)?;
        self.checkpoints.sync_latest()?;
        self.checker.ledger_mut().mark_covered();

        // 2. The witnesses cosign the end of the epoch, then the new key's view of it.
        let ledger = self.checker.ledger();
        let (final_checkpoint, first_checkpoint, cosigners) = if witnesses.required() {
            let fin = witnesses
                .cosign(
                    &mut Held {
                        ledger,
                        signer: &self.signer,
                    },
                    size,
                    deadline,
                )
                .map_err(|why| RotateError::FinalUnwitnessed { size, why })?;
            let first = witnesses
                .cosign(
                    &mut Held {
                        ledger,
                        signer: &next,
                    },
                    size,
                    deadline,
                )
                .map_err(|why| RotateError::NewKeyUnwitnessed { size, why })?;
            (fin.note, first.note, first.witnesses)
        } else {
            let first = ledger::sign_tree(&next, ledger.tree(), size)?;
            (final_note, first, Vec::new())
        };

        // 3. The statement, durably: from here on the new key is the log's.
        self.append_rotation(&statement)?;
        let epoch = keys.rotations().len();
        self.checker.ledger_mut().set_keys(keys);
        let old_vkey = self.verifier.vkey();
        self.verifier = next.verifier();
        self.signer = next;
        Ok(Rotated {
            epoch,
            size,
            root,
            statement,
            final_checkpoint,
            first_checkpoint,
            old_vkey,
            new_vkey: self.verifier.vkey(),
            witnesses: cosigners,
        })
    }

    /// Appends a signed statement to [`ROTATIONS_FILE`] and syncs it (and the directory entry
    /// when the file is new); a partial write is cut.
    fn append_rotation(&mut self, statement: &str) -> Result<(), AuditError> {
        let path = self.dir.join(ROTATIONS_FILE);
        let created = !path.exists();
        let mut f = open_regular(
            &path,
            OpenOptions::new().append(true).create(true),
            "append rotation",
        )?;
        let before = f.metadata().map_err(io("append rotation"))?.len();
        let mut bytes = statement.as_bytes().to_vec();
        bytes.push(b'\n');
        if let Err(e) = f.write_all(&bytes).and_then(|()| f.sync_data()) {
            let _ = f.set_len(before);
            return Err(io("append rotation")(e));
        }
        if created {
            sync_dir(&self.dir)?;
        }
        self.rotations_len = before.saturating_add(bytes.len() as u64);
        // The index is authenticated under the retiring key and the old schedule: this store
        // writes it no more, and the next open under the new key rebuilds it from the log.
        self.stop_indexing();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditStore as _;
    use crate::audit::file::tests::{far, record, terminal};
    use crate::audit::ledger::{CHECKPOINT_EVERY, CHECKPOINTS_FILE, LATEST_CHECKPOINT};
    use crate::audit::verify::verify_dir;

    const ORIGIN: &str = "audit.hospital.example/mig06/1";

    fn append(store: &mut FileStore, n: u64, last_terminal: bool) {
        let mut batch: Vec<_> = (0..n).map(|_| record()).collect();
        if last_terminal {
            batch.pop();
            batch.push(terminal());
        }
        for r in store.append_batch(batch, far()) {
            r.unwrap();
        }
    }

    fn again(signer: &LogSigner) -> LogSigner {
        LogSigner::from_private_key(&signer.private_key()).unwrap()
    }

    // INV-KEY-EPOCH: a rotation at a kept size, at size 0, twice at one size, with records past
    // the latest checkpoint after it: the store reopens with the key in force and the log
    // verifies from any of its keys.
    #[test]
    fn inv_key_epoch_rotations_at_kept_sizes_at_zero_and_twice_at_one_size() {
        let dir = tempfile::tempdir().unwrap();
        let k0 = LogSigner::generate(ORIGIN).unwrap();
        let k1 = LogSigner::generate(ORIGIN).unwrap();
        let k2 = LogSigner::generate(ORIGIN).unwrap();
        let k3 = LogSigner::generate(ORIGIN).unwrap();
        let none = Witnesses::none();
        let mut store = FileStore::open(dir.path(), again(&k0)).unwrap();
        // At size 0: the genesis key signs no record at all.
        let r = store.rotate_key(again(&k1), &none, far()).unwrap();
        assert_eq!((r.epoch, r.size), (1, 0));
        append(&mut store, CHECKPOINT_EVERY, true);
        // At a kept size, twice: the kept checkpoint at 256 is the retiring key's.
        store.rotate_key(again(&k2), &none, far()).unwrap();
        let r = store.rotate_key(again(&k3), &none, far()).unwrap();
        assert_eq!((r.epoch, r.size), (3, CHECKPOINT_EVERY));
        let kept = crate::audit::file::rotation_notes(&dir.path().join(CHECKPOINTS_FILE)).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(
            k1.verifier().verify(&kept[0]).unwrap().size,
            CHECKPOINT_EVERY
        );
        // Past the next kept size, then open records only: the latest checkpoint lags.
        append(&mut store, 2 * CHECKPOINT_EVERY + 3, true);
        append(&mut store, 2, false);
        let size = store.size();
        drop(store);
        for anchor in [&k0, &k1, &k2, &k3] {
            let v = verify_dir(dir.path(), &anchor.verifier(), None, &mut |_, _| {}).unwrap();
            assert_eq!(v.records, size);
            assert_eq!(v.keys.epochs().len(), 4);
            assert_eq!(v.uncovered.count(), 2);
        }
        for retired in [&k0, &k1, &k2] {
            assert!(matches!(
                FileStore::open(dir.path(), again(retired)),
                Err(AuditError::KeyRotated { .. })
            ));
        }
        let store = FileStore::open(dir.path(), again(&k3)).unwrap();
        assert_eq!(store.open_report().uncovered_signed, 2);
        let latest = std::fs::read_to_string(dir.path().join(LATEST_CHECKPOINT)).unwrap();
        assert_eq!(k3.verifier().verify(&latest).unwrap().size, size);
        // A rotation to a key the log had is refused before anything is written.
        let mut store = store;
        assert!(matches!(
            store.rotate_key(again(&k1), &none, far()),
            Err(RotateError::Key(_))
        ));
        assert_eq!(
            crate::audit::file::rotation_notes(&dir.path().join(ROTATIONS_FILE))
                .unwrap()
                .len(),
            3
        );
    }
}
