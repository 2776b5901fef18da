//! `mig06 audit rotate-key`: the operator's whole key rotation, key files included.
//!
//! The decision that matters: the key files change only after the rotation statement is
//! durable, and the new private key exists (staged beside the old one, `log.next.key`) before
//! anything else happens, so a rotation interrupted at any point is finished by running it
//! again: before the statement, it starts over with the same staged key (which the witnesses
//! may already know); after it, only the key files are installed. The log itself is rotated by
//! [`FileStore::rotate_key`](crate::audit::file::FileStore::rotate_key).
//!
//! Key files, beside the configured `signing_key` (`keys/log.key` after `mig06 init`):
//! `log.next.key` / `log.next.vkey` the staged new key; once the rotation is durable,
//! `log.epoch<N>.vkey` the retired key of epoch N (0: the genesis key), `log.vkey` the new key's
//! verifier key, and `log.key` the new private key (the old private key is overwritten: it
//! must never sign again).

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use mig06_tlog::checkpoint::LogSigner;
use mig06_tlog::rotation::LogKeys;

use crate::audit::AuditError;
use crate::audit::file::rotate::{RotateError, Rotated};
use crate::audit::file::{FileStore, read_keys};
use crate::config::{AuditBackend, Config};
use crate::executor::Deadline;
use crate::rail::{RailError, audit_dir, load_signer};
use crate::witness::{Witness, Witnesses};

/// Why a key rotation did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RekeyError {
    /// The PostgreSQL store keeps no key rotations yet.
    #[error(
        "key rotation is not supported on the PostgreSQL audit store yet (docs/OPERATIONS.md, \"Rotating the log's key\"); nothing was changed"
    )]
    NotSupported,
    /// The configured signing key could not be read.
    #[error(transparent)]
    Key(#[from] RailError),
    /// A key file could not be read or written.
    #[error("{path}: {source}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The staged key is not a key this log can rotate to.
    #[error(
        "{path} is not a key this log can rotate to (another origin, or a key the log had before): move it away and run again"
    )]
    StagedKey {
        /// The staged key file.
        path: PathBuf,
    },
    /// The log's keys do not fit the configured key, and no staged key finishes a rotation.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The rotation itself failed.
    #[error(transparent)]
    Rotate(#[from] RotateError),
}

/// The key files of a log whose private key is at `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFiles {
    /// The private key (the configuration's `signing_key`).
    pub key: PathBuf,
    /// Its verifier key, beside it (`.vkey`).
    pub vkey: PathBuf,
    /// The staged next private key.
    pub next_key: PathBuf,
    /// The staged next key's verifier key.
    pub next_vkey: PathBuf,
}

impl KeyFiles {
    /// The key files beside the private key `key`.
    #[must_use]
    pub fn of(key: &Path) -> Self {
        Self {
            key: key.to_owned(),
            vkey: key.with_extension("vkey"),
            next_key: key.with_extension("next.key"),
            next_vkey: key.with_extension("next.vkey"),
        }
    }

    /// Where the retired verifier key of epoch `epoch` is kept.
    #[must_use]
    pub fn retired_vkey(&self, epoch: usize) -> PathBuf {
        self.key.with_extension(format!("epoch{epoch}.vkey"))
    }
}

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Rekeyed {
    /// The rotation, when this run made it (`None`: an interrupted rotation's key files were
    /// installed).
    pub rotated: Option<Rotated>,
    /// The log's key schedule now.
    pub keys: LogKeys,
    /// The key files now.
    pub files: KeyFiles,
    /// The retired key's verifier key file.
    pub retired_vkey: PathBuf,
}

fn key_file_error(path: &Path) -> impl FnOnce(std::io::Error) -> RekeyError + '_ {
    move |source| RekeyError::KeyFile {
        path: path.to_owned(),
        source,
    }
}

/// Writes `bytes` to `path` (replacing it) through a temporary file, synced, with `mode`.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), RekeyError> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(key_file_error(&tmp))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(key_file_error(&tmp))?;
    std::fs::rename(&tmp, path).map_err(key_file_error(path))?;
    sync_parent(path)
}

fn sync_parent(path: &Path) -> Result<(), RekeyError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(key_file_error(dir))
}

/// The staged next key: the one in `next.key` when there is one (a run that stopped before the
/// rotation was durable, or a key prepared and added to the witnesses beforehand), else a new
/// one, written (private, synced) before it is used. The file is created exclusively, never
/// replaced: two runs at once both use the key the first one wrote, so the key a rotation
/// names is always the one on disk.
///
/// # Errors
/// A staged key that does not parse or cannot follow `keys`; I/O errors.
pub fn stage(files: &KeyFiles, keys: &LogKeys) -> Result<LogSigner, RekeyError> {
    let fresh = LogSigner::generate(keys.origin()).map_err(|_| RekeyError::StagedKey {
        path: files.next_key.clone(),
    })?;
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&files.next_key);
    let next = match created {
        Ok(mut f) => {
            f.write_all(format!("{}\n", fresh.private_key()).as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(key_file_error(&files.next_key))?;
            sync_parent(&files.next_key)?;
            fresh
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(&files.next_key)
                .map_err(key_file_error(&files.next_key))?;
            LogSigner::from_private_key(text.trim()).map_err(|_| RekeyError::StagedKey {
                path: files.next_key.clone(),
            })?
        }
        Err(e) => return Err(key_file_error(&files.next_key)(e)),
    };
    let v = next.verifier();
    if v.name() != keys.origin() || keys.keys().any(|k| k == &v || k.key_name() == v.key_name()) {
        return Err(RekeyError::StagedKey {
            path: files.next_key.clone(),
        });
    }
    write_file(
        &files.next_vkey,
        format!("{}\n", v.vkey()).as_bytes(),
        0o644,
    )?;
    Ok(next)
}

/// The configured log's key schedule, followed from the configured key.
fn schedule(config: &Config, old: &LogSigner) -> Result<LogKeys, RekeyError> {
    read_keys(&audit_dir(config), &old.verifier()).map_err(|f| RekeyError::Audit(f.into()))
}

/// `mig06 audit rotate-key --prepare`: stages the next key (or keeps the staged one) and
/// returns it, so that its verifier key can be added to the witnesses before the rotation.
///
/// # Errors
/// [`RekeyError`].
pub fn prepare(config: &Config) -> Result<LogSigner, RekeyError> {
    if matches!(config.audit, AuditBackend::Postgres(_)) {
        return Err(RekeyError::NotSupported);
    }
    let old = load_signer(config)?;
    stage(&KeyFiles::of(&config.signing_key), &schedule(config, &old)?)
}

// INV-KEY-EPOCH: the key files change only once the rotation statement is durable.
/// Rotates the configured log's key (file store only): stages the next key, rotates the log
/// ([`FileStore::rotate_key`], with `witnesses` and the configuration's quorum, within
/// `deadline`), then installs the key files. When the log's keys already name the staged key
/// as the key in force (an interrupted run), only installs the key files.
///
/// # Errors
/// [`RekeyError`]: nothing of the rotation holds unless the statement was written; the key
/// files are then installed by running this again.
pub fn rotate_key(
    config: &Config,
    witnesses: Vec<Box<dyn Witness>>,
    deadline: Deadline,
) -> Result<Rekeyed, RekeyError> {
    if matches!(config.audit, AuditBackend::Postgres(_)) {
        return Err(RekeyError::NotSupported);
    }
    let files = KeyFiles::of(&config.signing_key);
    let old = load_signer(config)?;
    let dir = audit_dir(config);
    let keys = schedule(config, &old)?;
    if keys.current() != &old.verifier() {
        // The statement is durable: finish the interrupted run with the staged key.
        return install(&files, &keys, None);
    }
    let next = stage(&files, &keys)?;
    let mut store = FileStore::open(&dir, old)?;
    let rotated = store.rotate_key(
        next,
        &Witnesses::new(witnesses, config.witnesses.quorum),
        deadline,
    )?;
    let keys = store.keys().clone();
    drop(store);
    install(&files, &keys, Some(rotated))
}

/// Installs the staged key as the log's key once `keys` names it as the key in force.
fn install(
    files: &KeyFiles,
    keys: &LogKeys,
    rotated: Option<Rotated>,
) -> Result<Rekeyed, RekeyError> {
    let staged = std::fs::read_to_string(&files.next_key)
        .map_err(key_file_error(&files.next_key))
        .and_then(|t| {
            LogSigner::from_private_key(t.trim()).map_err(|_| RekeyError::StagedKey {
                path: files.next_key.clone(),
            })
        });
    let staged = match staged {
        Ok(s) if &s.verifier() == keys.current() => s,
        _ => {
            return Err(RekeyError::Audit(AuditError::KeyRotated {
                what: format!(
                    "the configured signing key was retired and {} is not the key in force ({}): configure the key in force",
                    files.next_key.display(),
                    keys.current().key_name()
                ),
            }));
        }
    };
    let epochs = keys.epochs();
    let retired_epoch = epochs.len().saturating_sub(2);
    let retired = epochs
        .get(retired_epoch)
        .map(|e| e.key.vkey())
        .unwrap_or_default();
    let retired_vkey = files.retired_vkey(retired_epoch);
    write_file(&retired_vkey, format!("{retired}\n").as_bytes(), 0o644)?;
    write_file(
        &files.vkey,
        format!("{}\n", staged.verifier().vkey()).as_bytes(),
        0o644,
    )?;
    // The staged verifier key goes first: once the private key is renamed into place, nothing
    // of the rotation is left to finish.
    let _ = std::fs::remove_file(&files.next_vkey);
    std::fs::rename(&files.next_key, &files.key).map_err(key_file_error(&files.key))?;
    sync_parent(&files.key)?;
    Ok(Rekeyed {
        rotated,
        keys: keys.clone(),
        files: files.clone(),
        retired_vkey,
    })
}
