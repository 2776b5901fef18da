//! The file store's readers: the lines of `log.jsonl`, the checkpoint files, and a whole log
//! directory as an auditor's [`LogView`]. The writing store and the read-only view read through
//! the same functions.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

use mig06_tlog::checkpoint::{Checkpoint, LogVerifier};
use mig06_tlog::rotation::{CheckpointKeys, LogKeys};

use super::LOG_FILE;
use crate::audit::AuditRecord;
use crate::audit::ledger::{
    CHECKPOINTS_FILE, LATEST_CHECKPOINT, LineChecker, LogFault, LogView, ROTATIONS_FILE,
    check_against_tree, fault, follow_rotations, verify_kept, verify_kept_from, verify_latest,
};

/// Reads the complete lines of `file` from byte `from` to its end, calling `f(offset, line)`
/// for each (without its newline). Returns the bytes of complete lines read and the length of a
/// torn tail (a last line without its newline), which is never passed to `f`.
///
/// # Errors
/// I/O errors, or what `f` returns.
pub(crate) fn read_lines<E: From<std::io::Error>>(
    file: &File,
    from: u64,
    f: impl FnMut(u64, &[u8]) -> Result<(), E>,
) -> Result<(u64, u64), E> {
    read_some_lines(file, from, u64::MAX, f)
}

/// [`read_lines`], stopping after `max` complete lines (the torn tail is then 0: the next call
/// goes on from where this one stopped).
///
/// # Errors
/// As [`read_lines`].
pub(crate) fn read_some_lines<E: From<std::io::Error>>(
    file: &File,
    from: u64,
    max: u64,
    mut f: impl FnMut(u64, &[u8]) -> Result<(), E>,
) -> Result<(u64, u64), E> {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    reader.seek(SeekFrom::Start(from))?;
    let mut line = Vec::with_capacity(1024);
    let mut offset = from;
    let mut read = 0u64;
    loop {
        if read == max {
            return Ok((offset - from, 0));
        }
        read += 1;
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
    keys: &(impl CheckpointKeys + ?Sized),
) -> Result<Option<(String, Checkpoint)>, LogFault> {
    match std::fs::read_to_string(dir.join(LATEST_CHECKPOINT)) {
        Ok(note) => verify_latest(note, keys).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(fault(None, format!("cannot read {LATEST_CHECKPOINT}: {e}"))),
    }
}

/// Reads and verifies every note of [`CHECKPOINTS_FILE`] (empty when absent): each must be
/// signed by this log's key, at a multiple of [`CHECKPOINT_EVERY`](super::CHECKPOINT_EVERY), in
/// increasing order with no gap.
///
/// # Errors
/// A [`LogFault`] naming the first bad kept checkpoint.
pub(crate) fn read_kept(
    dir: &Path,
    keys: &(impl CheckpointKeys + ?Sized),
) -> Result<Vec<(String, Checkpoint)>, LogFault> {
    verify_kept(read_notes(&dir.join(CHECKPOINTS_FILE))?, keys)
}

/// Reads and verifies the notes of [`CHECKPOINTS_FILE`] past its first `len` bytes, which hold
/// the first `first` kept checkpoints (checked when the store's index was written).
///
/// # Errors
/// A [`LogFault`] when the file is shorter than `len` (kept checkpoints were removed), does not
/// end a note at `len`, or a note past it does not check out.
pub(crate) fn read_kept_from(
    dir: &Path,
    keys: &(impl CheckpointKeys + ?Sized),
    first: u64,
    len: u64,
) -> Result<(Vec<(String, Checkpoint)>, u64), LogFault> {
    use std::io::Read as _;
    let path = dir.join(CHECKPOINTS_FILE);
    let mut bytes = Vec::new();
    match File::open(&path) {
        Ok(mut f) => {
            f.seek(SeekFrom::Start(len.saturating_sub(2)))
                .and_then(|_| f.read_to_end(&mut bytes))
                .map_err(|e| fault(None, format!("cannot read {CHECKPOINTS_FILE}: {e}")))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fault(None, format!("cannot read {CHECKPOINTS_FILE}: {e}"))),
    }
    let total = len.saturating_sub(2).saturating_add(bytes.len() as u64);
    if total < len {
        return Err(fault(
            None,
            format!(
                "{CHECKPOINTS_FILE} is shorter than when its kept checkpoints were checked: kept checkpoints were removed"
            ),
        ));
    }
    // A note ends with a blank line: the boundary must fall just after one.
    let (head, rest) = bytes.split_at(bytes.len().min(usize::from(len >= 2) * 2));
    if len > 0 && head != b"\n\n" {
        return Err(fault(
            None,
            format!("{CHECKPOINTS_FILE} was altered where its checked part ends"),
        ));
    }
    let text = String::from_utf8(rest.to_vec())
        .map_err(|_| fault(None, format!("{CHECKPOINTS_FILE} is not text")))?;
    let notes = split_notes(&text);
    Ok((verify_kept_from(notes, keys, first)?, total))
}

/// The signed key rotation statements of [`ROTATIONS_FILE`], in order, not yet verified (empty
/// when the file does not exist), and the file's length.
///
/// # Errors
/// A [`LogFault`] when the file cannot be read.
pub(crate) fn read_rotation_notes(dir: &Path) -> Result<(Vec<String>, u64), LogFault> {
    let path = dir.join(ROTATIONS_FILE);
    let len = match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_file() => m.len(),
        Ok(_) => {
            return Err(fault(
                None,
                format!("{ROTATIONS_FILE} is not a regular file"),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(fault(None, format!("cannot read {ROTATIONS_FILE}: {e}"))),
    };
    Ok((read_notes(&path)?, len))
}

// INV-KEY-EPOCH: the store's open and every auditor's view of a log directory build its key
// schedule here, from the same file, with the same function.
/// The key schedule of the log in `dir`: its [`ROTATIONS_FILE`] followed from `anchor`
/// ([`follow_rotations`]).
///
/// # Errors
/// A [`LogFault`] when the file cannot be read, a statement does not verify or chain, or
/// `anchor` is not one of the log's keys.
pub fn read_keys(dir: &Path, anchor: &LogVerifier) -> Result<LogKeys, LogFault> {
    let (notes, _) = read_rotation_notes(dir)?;
    follow_rotations(&notes, anchor)
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

/// The signed notes of a key rotations file at `path` (a copy of a log's [`ROTATIONS_FILE`],
/// as an operator publishes it to auditors), in order, not yet verified: follow them with
/// [`follow_rotations`]. Empty when the file does not exist.
///
/// # Errors
/// A [`LogFault`] when the file cannot be read.
pub fn rotation_notes(path: &Path) -> Result<Vec<String>, LogFault> {
    read_notes(path)
}

/// Splits a file of signed notes (each: body, blank line, signature lines, blank line).
fn read_notes(path: &Path) -> Result<Vec<String>, LogFault> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(fault(None, format!("cannot read {}: {e}", path.display()))),
    };
    Ok(split_notes(&text))
}

/// The notes of a file of notes, each ending with the blank line after its signatures.
fn split_notes(text: &str) -> Vec<String> {
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
    notes
}

impl LogView {
    // INV-AUDIT-READONLY: opens the log for reading only: no lock, no cut of a torn tail, no
    // signature, only the log's public key.
    /// Reads and checks the log in `dir`; `on_record(index, line, record)` sees each admitted
    /// record, `progress(done, total)` byte counts. `verifier` is one of the log's keys (the
    /// genesis key, the current one, or any between): the log's key schedule is followed from
    /// it ([`read_keys`]).
    ///
    /// # Errors
    /// A [`LogFault`] naming the first bad record when one can be named.
    pub fn open(
        dir: &Path,
        verifier: &LogVerifier,
        on_record: &mut dyn FnMut(u64, &[u8], &AuditRecord),
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Self, LogFault> {
        let keys = read_keys(dir, verifier)?;
        let latest = read_latest(dir, &keys)?;
        let kept = read_kept(dir, &keys)?;
        let path = dir.join(LOG_FILE);
        let file = match File::open(&path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(fault(None, format!("cannot open {LOG_FILE}: {e}"))),
        };
        let mut torn_tail = 0;
        let mut checker = LineChecker::new(latest.as_ref().map_or(0, |(_, cp)| cp.size), keys);
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
}

/// A [`LogFault`] or an I/O error while reading lines.
/// The bytes of `file` from `at` up to (without) the next newline; `None` when there is none.
fn bytes_to_newline(file: &File, at: u64) -> Option<Vec<u8>> {
    use std::os::unix::fs::FileExt as _;
    let mut line = Vec::new();
    let mut buf = vec![0u8; 1 << 14];
    let mut at = at;
    loop {
        let n = file.read_at(&mut buf, at).ok()?;
        let chunk = buf.get(..n).filter(|c| !c.is_empty())?;
        if let Some(i) = chunk.iter().position(|b| *b == b'\n') {
            line.extend_from_slice(chunk.get(..i)?);
            return Some(line);
        }
        line.extend_from_slice(chunk);
        at += n as u64;
    }
}

/// The byte offset of record `seq` in the log `file` of `len` bytes, found by bisection on the
/// records' `seq` (records are in log order); `None` when the log does not hold it as a
/// readable record there.
fn offset_of(file: &File, len: u64, seq: u64) -> Option<u64> {
    if seq == 0 {
        return Some(0);
    }
    // The first line starting at or after `p`, as (its offset, its seq).
    let line_at = |p: u64| -> Option<(u64, u64)> {
        let start = match p.checked_sub(1) {
            None => 0,
            // Just past the newline at or after p - 1.
            Some(before) => before + bytes_to_newline(file, before)?.len() as u64 + 1,
        };
        if start >= len {
            return None;
        }
        let record = crate::audit::read_record(&bytes_to_newline(file, start)?).ok()?;
        Some((start, record.seq))
    };
    // Smallest p whose line has seq >= the one sought.
    let (mut lo, mut hi) = (0u64, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match line_at(mid) {
            Some((_, s)) if s < seq => lo = mid + 1,
            _ => hi = mid,
        }
    }
    match line_at(lo) {
        Some((offset, s)) if s == seq => Some(offset),
        _ => None,
    }
}

impl LogView {
    /// Reads and checks the log in `dir` from the record `since.size` on, given that checkpoint
    /// (which the auditor verified before): the tree up to it comes from the store's index
    /// (`index.sqlite`, read-only, not trusted: its right edge must lead, with the records
    /// after it, to `since`'s root), so the work is proportional to what was appended since.
    /// Every record from the index's size (at most `since.size`) on goes through the one line
    /// checker (links, signatures, the log's rules among them); the kept checkpoints past
    /// `since` and the latest are checked against the tree. Rules that tie a record after
    /// `since` to one before it (a request id, a claim, a chain root seen before) are checked
    /// only by reading the whole log ([`LogView::open`]). Without a usable index the whole log
    /// is read.
    ///
    /// # Errors
    /// A [`LogFault`] naming the first bad record, or when the log does not extend `since`.
    pub fn open_since(
        dir: &Path,
        verifier: &LogVerifier,
        since: &Checkpoint,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(Self, u64), LogFault> {
        match Self::open_since_with(dir, verifier, since, progress, true) {
            // The index is not trusted: what did not check out with it is read again without.
            Err(_) => Self::open_since_with(dir, verifier, since, progress, false),
            done => done,
        }
    }

    fn open_since_with(
        dir: &Path,
        verifier: &LogVerifier,
        since: &Checkpoint,
        progress: &mut dyn FnMut(u64, u64),
        use_index: bool,
    ) -> Result<(Self, u64), LogFault> {
        let keys = read_keys(dir, verifier)?;
        let latest = read_latest(dir, &keys)?;
        let path = dir.join(LOG_FILE);
        let file =
            File::open(&path).map_err(|e| fault(None, format!("cannot open {LOG_FILE}: {e}")))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let index = super::index::Index::open_read_only(&super::index::Index::path_in(dir))
            .ok()
            .filter(|_| use_index);
        let start = index
            .as_ref()
            .and_then(|ix| ix.size_hint())
            .map_or(0, |n| n.min(since.size));
        let resumed = index
            .zip(offset_of(&file, len, start))
            .and_then(|(ix, offset)| {
                let base = std::sync::Arc::new(ix);
                let tree = if start == 0 {
                    mig06_tlog::Tree::new()
                } else {
                    mig06_tlog::Tree::resume(base, start)?
                };
                let last = match start.checked_sub(1) {
                    None => crate::audit::ZERO_HASH,
                    Some(i) => tree.leaf(i)?,
                };
                Some((tree, last, offset))
            });
        let (tree, last, offset, from) = match resumed {
            Some((tree, last, offset)) => (tree, last, offset, start),
            None => (mig06_tlog::Tree::new(), crate::audit::ZERO_HASH, 0, 0),
        };
        let ledger = super::super::ledger::Ledger::resume(
            super::super::ledger::Resumed {
                tree,
                last,
                rules: std::sync::Arc::new(crate::audit::rules::NoFacts),
                pending: Vec::new(),
                covered: latest.as_ref().map_or(0, |(_, cp)| cp.size),
            },
            keys.clone(),
        );
        let mut checker = LineChecker::resume(ledger);
        let mut next_report = offset;
        let read = read_lines(&file, offset, |at, line| -> Result<(), ReadFault> {
            checker.push(line)?;
            if at >= next_report {
                progress(at, len);
                next_report = at + (1 << 22);
            }
            Ok(())
        });
        let (complete, torn) = read.map_err(|e| e.0)?;
        progress(offset + complete, len);
        let ledger = checker.finish()?;
        check_against_tree(since, ledger.tree(), "the checkpoint verified before")?;
        let all = read_notes(&dir.join(CHECKPOINTS_FILE))?;
        let first = since.size / super::super::ledger::CHECKPOINT_EVERY;
        let tail: Vec<String> = all
            .into_iter()
            .skip(usize::try_from(first).unwrap_or(usize::MAX))
            .collect();
        let kept = verify_kept_from(tail, &keys, first)?;
        Ok((
            Self::assemble_from(ledger, latest, first, kept, torn)?,
            from,
        ))
    }
}

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
