//! File-system steps the store's files share.
//!
//! The decision that matters: the store never writes through a path it did not check. Every
//! file is opened only when it is a regular file at that path (never through a symbolic link
//! planted in the audit directory), and every file or directory entry the store creates is
//! synced, so a power loss cannot remove a file a confirmed answer depends on.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use crate::audit::AuditError;

pub(super) fn io(op: &'static str) -> impl FnOnce(std::io::Error) -> AuditError {
    move |source| AuditError::Io { op, source }
}

/// Opens `path` only when it is (or is created as) a regular file, never through a symbolic
/// link: a link planted in the audit directory must not redirect the store's writes (to the
/// signing key, say). Checked before opening, and the opened file must be the one at `path`.
pub(super) fn open_regular(
    path: &Path,
    opts: &OpenOptions,
    op: &'static str,
) -> Result<File, AuditError> {
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
pub(super) fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync audit directory"))
}
