//! The checkpoint files beside the log: [`LATEST_CHECKPOINT`] and the kept [`CHECKPOINTS_FILE`].
//!
//! The decision that matters: only the log is synced on every append; these files are derived
//! from it and may lag it after a power loss (the records past them carry their own
//! signatures), except in one order that is always kept: a kept checkpoint is durable before
//! any latest checkpoint that passes its size is written.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt as _, MetadataExt as _};
use std::path::PathBuf;

use super::fsio::{io, open_regular, sync_dir};
use crate::audit::AuditError;
use crate::audit::ledger::{CHECKPOINT_EVERY, CHECKPOINTS_FILE, LATEST_CHECKPOINT};

/// The store's writer of its checkpoint files.
pub(in crate::audit) struct CheckpointFiles {
    dir: PathBuf,
    /// [`LATEST_CHECKPOINT`], opened at its first write and kept open: reopening it per signed
    /// append cost more than the write itself.
    latest: Option<File>,
    #[cfg(test)]
    pub(in crate::audit) fail_write: bool,
}

impl CheckpointFiles {
    /// The checkpoint files of the audit directory `dir`; nothing is opened yet.
    pub(super) fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            latest: None,
            #[cfg(test)]
            fail_write: false,
        }
    }

    /// Writes the signed `note` of the tree at `size` to [`LATEST_CHECKPOINT`], after appending
    /// to [`CHECKPOINTS_FILE`] a signed checkpoint for every kept size past the `kept_on_file`
    /// already there, up to `size`. Kept checkpoints are synced before the latest checkpoint
    /// that passes them is written and synced, so that a latest checkpoint on disk never passes
    /// a kept size whose kept checkpoint is not on disk.
    pub(super) fn write(
        &mut self,
        kept_on_file: u64,
        size: u64,
        note: &str,
        sign: impl Fn(u64) -> Result<String, AuditError>,
    ) -> Result<(), AuditError> {
        let mut kept = String::new();
        for k in (kept_on_file + 1)..=(size / CHECKPOINT_EVERY) {
            let at = k.saturating_mul(CHECKPOINT_EVERY);
            let signed = if at == size {
                note.to_owned()
            } else {
                sign(at)?
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

    /// Syncs [`LATEST_CHECKPOINT`] when this store has written it.
    pub(super) fn sync_latest(&mut self) -> Result<(), AuditError> {
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
    pub(super) fn write_latest(&mut self, note: &str) -> Result<(), AuditError> {
        #[cfg(test)]
        if self.fail_write {
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
}
