//! Reading the whole log from the database: the auditors' read-only view and the writer's open.
//!
//! Both read the head row and the kept checkpoints in one `REPEATABLE READ READ ONLY` snapshot,
//! then the records the head counts in chunks of [`READ_CHUNK`], each its own bounded round trip
//! (a stalled server fails one chunk in bounded time, and the server never streams the whole log
//! in one answer). Committed records are an append-only, gap-free prefix (the head row moves in
//! the transaction that inserts them), so the records below the head's size are the same in every
//! later snapshot: reading them chunk by chunk reads the log the head counted. Both check what
//! they read with the one checker of every store and of `audit verify`
//! ([`mig06_rail::audit::ledger::LineChecker`]): a log that opens for writing is a log that
//! `audit verify` passes, and the other way round, and both blame the same record.
//!
//! A writer's read can be resumed: a chunk that fails (its bound passed) keeps what was checked,
//! and the next operation goes on from there ([`LogRead`]).

use std::time::Instant;

use mig06_rail::audit::AuditRecord;
use mig06_rail::audit::ledger::{LineChecker, LogView, fault, verify_kept_from, verify_latest};
use mig06_rail::config::PostgresAudit;
use mig06_tlog::checkpoint::{Checkpoint, LogVerifier};

use crate::PgError;
use crate::conn::Conn;
use crate::sql::{ROUND_TRIP_TIMEOUT, check_schema, connect, hex_cell, pg_error, rows};

/// Records read in one round trip.
pub(crate) const READ_CHUNK: u64 = 1024;

/// What a whole-log read produced: the checker holding the checked ledger, and the checkpoints
/// as the database holds them.
pub(crate) struct ReadLog {
    pub(crate) checker: LineChecker,
    pub(crate) latest: Option<(String, Checkpoint)>,
    pub(crate) kept: Vec<(String, Checkpoint)>,
}

/// A whole-log read under way: the head it reads up to, and what it checked so far.
pub(crate) struct LogRead {
    head_size: u64,
    head_last: Vec<u8>,
    read: ReadLog,
}

impl std::fmt::Debug for LogRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogRead")
            .field("head_size", &self.head_size)
            .field("read", &self.read.checker.size())
            .finish_non_exhaustive()
    }
}

fn unreadable(op: &'static str) -> PgError {
    PgError::Sql {
        op,
        message: "unreadable row".into(),
    }
}

/// The head row (size, last leaf), the latest checkpoint and the kept checkpoints read.
type Head = (
    u64,
    Vec<u8>,
    Option<(String, Checkpoint)>,
    Vec<(String, Checkpoint)>,
);

/// One round trip, one snapshot: the head row (size, last leaf, latest checkpoint) and the
/// kept checkpoints from the `first`-th on, each verified with `verifier`.
fn read_head(
    conn: &mut Conn,
    verifier: &LogVerifier,
    first: u64,
    by: Instant,
) -> Result<Head, PgError> {
    let every = mig06_rail::audit::ledger::CHECKPOINT_EVERY;
    let msgs = conn
        .simple_query(
            &format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; \
                 SELECT 'h', size, encode(last_leaf, 'hex'), checkpoint FROM mig06_head; \
                 SELECT 'k', note FROM mig06_checkpoints WHERE size > {} ORDER BY size; \
                 COMMIT",
                first.saturating_mul(every)
            ),
            by,
        )
        .map_err(pg_error("read head"))?;
    let mut head: Option<(u64, Vec<u8>, Option<String>)> = None;
    let mut notes = Vec::new();
    for row in rows(&msgs) {
        match row.get(0) {
            Some("h") => {
                let size = row
                    .get(1)
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| unreadable("read head"))?;
                let last = hex_cell(row.get(2)).ok_or_else(|| unreadable("read head"))?;
                head = Some((size, last, row.get(3).map(str::to_owned)));
            }
            Some("k") => notes.push(
                row.get(1)
                    .map(str::to_owned)
                    .ok_or_else(|| unreadable("read kept checkpoints"))?,
            ),
            _ => return Err(unreadable("read head")),
        }
    }
    let (size, last, note) = head.ok_or_else(|| PgError::Sql {
        op: "read head",
        message: "the head row is missing".into(),
    })?;
    let latest = note.map(|n| verify_latest(n, verifier)).transpose()?;
    let kept = verify_kept_from(notes, verifier, first)?;
    Ok((size, last, latest, kept))
}

impl LogRead {
    /// One round trip: the head row and the kept checkpoints, in one snapshot; both verified
    /// with `verifier`.
    pub(crate) fn start(
        conn: &mut Conn,
        verifier: &LogVerifier,
        by: Instant,
    ) -> Result<Self, PgError> {
        let (head_size, head_last, latest, kept) = read_head(conn, verifier, 0, by)?;
        let checker = LineChecker::new(
            latest.as_ref().map_or(0, |(_, cp)| cp.size),
            verifier.clone(),
        );
        Ok(Self {
            head_size,
            head_last,
            read: ReadLog {
                checker,
                latest,
                kept,
            },
        })
    }

    /// Records the head counts.
    pub(crate) fn total(&self) -> u64 {
        self.head_size
    }

    /// Records read and checked so far.
    pub(crate) fn done(&self) -> u64 {
        self.read.checker.size()
    }

    /// One round trip: the next chunk of records, checked. Returns whether every record the
    /// head counts has been read.
    pub(crate) fn step(
        &mut self,
        conn: &mut Conn,
        by: Instant,
        on_record: &mut dyn FnMut(u64, &[u8], &AuditRecord),
    ) -> Result<bool, PgError> {
        let from = self.done();
        if from >= self.head_size {
            return Ok(true);
        }
        let msgs = conn
            .simple_query(
                &format!(
                    "SELECT seq, encode(line, 'hex') FROM mig06_records \
                     WHERE seq >= {from} AND seq < {} ORDER BY seq LIMIT {READ_CHUNK}",
                    self.head_size
                ),
                by,
            )
            .map_err(pg_error("read records"))?;
        let mut any = false;
        for row in rows(&msgs) {
            let seq = row
                .get(0)
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| unreadable("read records"))?;
            let line = hex_cell(row.get(1)).ok_or_else(|| unreadable("read records"))?;
            let index = self.read.checker.size();
            if seq != index {
                return Err(self.missing().into());
            }
            let record = self.read.checker.push(&line)?;
            on_record(index, &line, &record);
            any = true;
        }
        if !any {
            // The head counts records the table does not hold.
            return Err(self.missing().into());
        }
        Ok(self.done() >= self.head_size)
    }

    fn missing(&self) -> mig06_rail::audit::ledger::LogFault {
        let size = self.read.checker.size();
        fault(
            Some(size.min(self.head_size)),
            format!(
                "the head row counts {} records but the records table holds {size} that link to it: records were removed or the head was altered",
                self.head_size
            ),
        )
    }

    /// The read, once every record the head counts was read: the hash chain's end and the head
    /// row's last leaf checked.
    pub(crate) fn finish(mut self) -> Result<ReadLog, PgError> {
        self.read.checker.check_end()?;
        let ledger = self.read.checker.ledger();
        // The head row is moved in the same transaction as the records it counts.
        if ledger.size() != self.head_size || ledger.last().as_slice() != self.head_last.as_slice()
        {
            return Err(self.missing().into());
        }
        Ok(self.read)
    }
}

// INV-AUDIT-PG-APPEND-ONLY: a change made with the append-only triggers disabled breaks a link, a
// signature, a checkpoint or the head row, and this read refuses the log.
/// Reads and checks every record, the head row and the kept checkpoints, each round trip within
/// [`ROUND_TRIP_TIMEOUT`].
pub(crate) fn read_log(
    conn: &mut Conn,
    verifier: &LogVerifier,
    on_record: &mut dyn FnMut(u64, &[u8], &AuditRecord),
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ReadLog, PgError> {
    let soon = || Instant::now() + ROUND_TRIP_TIMEOUT;
    let mut read = LogRead::start(conn, verifier, soon())?;
    let mut reported = 0;
    while !read.step(conn, soon(), on_record)? {
        if read.done() / 65_536 > reported / 65_536 {
            reported = read.done();
            progress(reported, read.total());
        }
    }
    progress(read.done(), read.total());
    read.finish()
}

/// Reads and checks the log in the configured database, read-only (a read-only role is
/// enough): the same checks as [`LogView::open`] on a log directory. `on_record(index, line,
/// record)` sees each record; `progress(done, total)` counts records. Each round trip is
/// bounded by [`ROUND_TRIP_TIMEOUT`] (a connection by `audit.connect_timeout_ms`).
///
/// # Errors
/// [`PgError`] when the database is unreachable, does not answer in time or has no known
/// schema, and [`PgError::Log`] naming the first bad record when the log does not check out.
pub fn read_view(
    settings: &PostgresAudit,
    verifier: &LogVerifier,
    on_record: &mut dyn FnMut(u64, &[u8], &AuditRecord),
    progress: &mut dyn FnMut(u64, u64),
) -> Result<LogView, PgError> {
    let mut conn = connect(settings, Instant::now() + ROUND_TRIP_TIMEOUT)?;
    check_schema(&mut conn, Instant::now() + ROUND_TRIP_TIMEOUT)?;
    let read = read_log(&mut conn, verifier, on_record, progress)?;
    Ok(LogView::assemble(
        read.checker.finish()?,
        read.latest,
        read.kept,
        0,
    )?)
}

/// The tree of the first `since.size` records from the database's nodes, and the leaf of the
/// last of them, when they reproduce `since`'s root (`None`: they do not, or are missing).
fn tree_at(
    conn: &mut Conn,
    since: &Checkpoint,
    by: Instant,
) -> Result<Option<(mig06_tlog::Tree, mig06_rail::audit::Hash)>, PgError> {
    if since.size == 0 {
        return Ok(Some((
            mig06_tlog::Tree::new(),
            mig06_rail::audit::ZERO_HASH,
        )));
    }
    let index = std::sync::Arc::new(crate::index::DbIndex::default());
    let fetch = crate::index::pg_fetch_error("read tree nodes");
    let tree = crate::index::answer(&index, conn, by, || {
        mig06_tlog::Tree::resume(std::sync::Arc::clone(&index) as _, since.size)
    })
    .map_err(&fetch)?;
    let Some(tree) = tree.filter(|t| t.root() == since.root) else {
        return Ok(None);
    };
    let last =
        crate::index::answer(&index, conn, by, || tree.leaf(since.size - 1)).map_err(&fetch)?;
    Ok(last.map(|last| (tree, last)))
}

/// Reads and checks what was appended since `since`, a checkpoint the auditor verified before
/// (`audit verify --since-checkpoint`): the tree up to it comes from the database's nodes and
/// must reproduce its root, and every record from it on goes through the one line checker; the
/// kept checkpoints past it and the latest are checked against the tree. Rules that tie a later
/// record to one before `since` are left to a whole read ([`read_view`]). When the nodes do not
/// reproduce `since`, the whole log is read. Returns the view and the first record read.
///
/// # Errors
/// As [`read_view`]; [`PgError::Log`] too when the log does not extend `since`.
pub fn read_view_since(
    settings: &PostgresAudit,
    verifier: &LogVerifier,
    since: &Checkpoint,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(LogView, u64), PgError> {
    let soon = || Instant::now() + ROUND_TRIP_TIMEOUT;
    let mut conn = connect(settings, soon())?;
    check_schema(&mut conn, soon())?;
    let Some((tree, last)) = tree_at(&mut conn, since, soon())? else {
        let view = read_view(settings, verifier, &mut |_, _, _| {}, progress)?;
        return Ok((view, 0));
    };
    let every = mig06_rail::audit::ledger::CHECKPOINT_EVERY;
    let first = since.size / every;
    let (head_size, head_last, latest, kept) = read_head(&mut conn, verifier, first, soon())?;
    let ledger = mig06_rail::audit::ledger::Ledger::resume(
        mig06_rail::audit::ledger::Resumed {
            tree,
            last,
            rules: std::sync::Arc::new(mig06_rail::audit::rules::NoFacts),
            pending: Vec::new(),
            covered: latest.as_ref().map_or(0, |(_, cp)| cp.size),
        },
        verifier.clone().into(),
    );
    let mut read = LogRead {
        head_size,
        head_last,
        read: ReadLog {
            checker: LineChecker::resume(ledger),
            latest,
            kept: Vec::new(),
        },
    };
    let total = head_size.saturating_sub(since.size);
    let mut reported = 0;
    while !read.step(&mut conn, soon(), &mut |_, _, _| {})? {
        let done = read.done().saturating_sub(since.size);
        if done / 65_536 > reported / 65_536 {
            reported = done;
            progress(reported, total);
        }
    }
    progress(total, total);
    let read = read.finish()?;
    let view = LogView::assemble_from(read.checker.finish()?, read.latest, first, kept, 0)?;
    Ok((view, since.size))
}
