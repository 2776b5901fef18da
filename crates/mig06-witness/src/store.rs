//! The witness's durable state: for each log origin, the latest checkpoint it cosigned.
//!
//! Design decision: one small file per origin, named by the lowercase hex SHA-256 of the
//! origin (the tlog-witness monitoring path's "origin hash"), replaced atomically (write a
//! temporary file, `fdatasync` it, rename it over the old one, `fsync` the directory), and an
//! exclusive lock on `DIR/lock` held for the store's whole life, so that no second process can
//! write the same state. Inside the process the [`crate::Witness`] serialises check-and-persist
//! with a mutex; together they make tlog-witness's rollback race impossible. [`Store::put`]
//! returns only once the new state is on disk: the witness answers after it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use mig06_tlog::Hash;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The first line of every state file: the format's name and version.
const MAGIC: &str = "mig06-witness-state v1";
/// Name of the lock file inside the state directory.
const LOCK_FILE: &str = "lock";
/// Suffix of a state file being written (ignored and replaced on the next write).
const TMP_SUFFIX: &str = ".tmp";

/// Errors from the durable store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory is locked by another process.
    #[error("the witness state directory is in use by another process")]
    Locked,
    /// An I/O operation failed.
    #[error("witness state {op}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// A state file is not in the expected format (or not for the origin its name says).
    #[error("witness state file {file} is corrupt")]
    Corrupt {
        /// The file name (a hex hash, never content).
        file: String,
    },
}

fn io(op: &'static str) -> impl FnOnce(std::io::Error) -> StoreError {
    move |source| StoreError::Io { op, source }
}

/// The latest cosigned checkpoint of one origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    /// Tree size.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
    /// The checkpoint note with the log's signature line(s) and this witness's cosignature.
    pub note: String,
}

/// Lowercase hex SHA-256 of an origin: the state file's name and the monitoring path's
/// `<origin hash>` (tlog-witness "Monitor Retrieval Mechanism").
#[must_use]
pub fn origin_hash(origin: &str) -> String {
    hex::encode(Sha256::digest(origin.as_bytes()))
}

/// The witness's durable state directory, locked for this process.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    /// Held for the store's life: the exclusive lock is released when the file is closed.
    _lock: File,
    latest: HashMap<String, Latest>,
}

impl Store {
    /// Opens (creating if needed) the state directory, takes its exclusive lock and loads
    /// every origin's latest checkpoint.
    ///
    /// # Errors
    /// `Locked` when another process holds the directory, `Io` when it cannot be read or
    /// created, `Corrupt` when a state file is not one.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(dir).map_err(io("create directory"))?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))
            .map_err(io("open lock"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(StoreError::Locked),
            Err(fs::TryLockError::Error(e)) => return Err(io("lock")(e)),
        }
        let mut latest = HashMap::new();
        for entry in fs::read_dir(dir).map_err(io("read directory"))? {
            let entry = entry.map_err(io("read directory"))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_state = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
            if !is_state {
                continue;
            }
            let text = fs::read_to_string(entry.path()).map_err(io("read state"))?;
            let (origin, state) =
                parse_state(&text).ok_or(StoreError::Corrupt { file: name.clone() })?;
            if origin_hash(&origin) != name {
                return Err(StoreError::Corrupt { file: name });
            }
            latest.insert(origin, state);
        }
        Ok(Self {
            dir: dir.to_owned(),
            _lock: lock,
            latest,
        })
    }

    /// The latest cosigned checkpoint of `origin`, if any.
    #[must_use]
    pub fn get(&self, origin: &str) -> Option<&Latest> {
        self.latest.get(origin)
    }

    /// The latest cosigned checkpoint whose origin hashes to `hash` (lowercase hex).
    #[must_use]
    pub fn get_by_hash(&self, hash: &str) -> Option<&Latest> {
        self.latest
            .iter()
            .find(|(origin, _)| origin_hash(origin) == hash)
            .map(|(_, l)| l)
    }

    /// Replaces `origin`'s state, durably: returns only after the new file and the rename are
    /// on disk. On error the in-memory state is unchanged (and so is the file, unless the
    /// rename reached the disk and only the directory sync failed: then the new state is what
    /// a restart reads, which is the state the caller did not answer with — a refusal, never a
    /// rollback).
    ///
    /// # Errors
    /// `Io` when writing, syncing or renaming fails.
    pub fn put(&mut self, origin: &str, state: Latest) -> Result<(), StoreError> {
        // INV-WITNESS-ATOMIC: durable before the caller answers: file data, rename, directory.
        let name = origin_hash(origin);
        let tmp = self.dir.join(format!("{name}{TMP_SUFFIX}"));
        let path = self.dir.join(&name);
        let text = format!(
            "{MAGIC}\n{origin}\n{}\n{}\n{}",
            state.size,
            B64.encode(state.root),
            state.note
        );
        let mut f = File::create(&tmp).map_err(io("create state"))?;
        f.write_all(text.as_bytes()).map_err(io("write state"))?;
        f.sync_data().map_err(io("sync state"))?;
        drop(f);
        fs::rename(&tmp, &path).map_err(io("rename state"))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io("sync directory"))?;
        self.latest.insert(origin.to_owned(), state);
        Ok(())
    }
}

/// Parses a state file: magic, origin, size, base64 root, then the cosigned note.
fn parse_state(text: &str) -> Option<(String, Latest)> {
    let rest = text.strip_prefix(MAGIC)?.strip_prefix('\n')?;
    let (origin, rest) = rest.split_once('\n')?;
    let (size, rest) = rest.split_once('\n')?;
    let (root, note) = rest.split_once('\n')?;
    let size = crate::protocol::parse_size(size)?;
    let root = Hash::try_from(B64.decode(root).ok()?).ok()?;
    if origin.is_empty() || note.is_empty() {
        return None;
    }
    Some((
        origin.to_owned(),
        Latest {
            size,
            root,
            note: note.to_owned(),
        },
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn latest(size: u64) -> Latest {
        Latest {
            size,
            root: [size as u8; 32],
            note: format!("o\n{size}\nroot\n\n\u{2014} o sig\n"),
        }
    }

    #[test]
    fn state_survives_reopen_and_the_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        assert!(matches!(Store::open(dir.path()), Err(StoreError::Locked)));
        store.put("example.com/log", latest(5)).unwrap();
        store.put("example.com/log", latest(9)).unwrap();
        store.put("other.example/log", latest(1)).unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.get("example.com/log"), Some(&latest(9)));
        assert_eq!(store.get("other.example/log"), Some(&latest(1)));
        assert_eq!(
            store.get_by_hash(&origin_hash("example.com/log")),
            Some(&latest(9))
        );
        assert_eq!(store.get("absent"), None);
    }

    #[test]
    fn a_corrupt_or_misnamed_state_file_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        store.put("example.com/log", latest(5)).unwrap();
        drop(store);
        let file = dir.path().join(origin_hash("example.com/log"));
        let text = fs::read_to_string(&file).unwrap();
        fs::write(&file, text.replace("\n5\n", "\n05\n")).unwrap();
        assert!(matches!(
            Store::open(dir.path()),
            Err(StoreError::Corrupt { .. })
        ));
        fs::write(&file, text.replace("example.com/log", "example.com/other")).unwrap();
        assert!(matches!(
            Store::open(dir.path()),
            Err(StoreError::Corrupt { .. })
        ));
        // A temporary file left by a crash mid-write is not state.
        fs::write(&file, &text).unwrap();
        fs::write(dir.path().join(format!("{}.tmp", origin_hash("x"))), "junk").unwrap();
        assert_eq!(
            Store::open(dir.path()).unwrap().get("example.com/log"),
            Some(&latest(5))
        );
    }
}
