//! Reading the whole log from the database: the auditors' read-only view and the writer's open.
//!
//! Both read inside one `REPEATABLE READ READ ONLY` transaction, so the head row, the records and
//! the kept checkpoints are one consistent snapshot while other instances go on appending, and
//! both check what they read with the one checker of every store and of `audit verify`
//! ([`mig06_rail::audit::ledger::LineChecker`]): a log that opens for writing is a log that
//! `audit verify` passes, and the other way round, and both blame the same record.

use mig06_rail::audit::AuditRecord;
use mig06_rail::audit::ledger::{LineChecker, LogView, fault, verify_kept, verify_latest};
use mig06_rail::config::PostgresAudit;
use mig06_tlog::checkpoint::{Checkpoint, LogVerifier};
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, IsolationLevel};

use crate::PgError;
use crate::sql::{check_schema, connect, describe};

/// What [`read_log`] read: the checker holding the checked ledger, and the checkpoints as the
/// database holds them.
pub(crate) struct ReadLog {
    pub(crate) checker: LineChecker,
    pub(crate) latest: Option<(String, Checkpoint)>,
    pub(crate) kept: Vec<(String, Checkpoint)>,
}

fn read_err(op: &'static str) -> impl Fn(postgres::Error) -> PgError {
    move |e| PgError::Sql {
        op,
        message: describe(&e),
    }
}

// INV-AUDIT-PG-APPEND-ONLY: a change made with the append-only triggers disabled breaks a link, a
// signature, a checkpoint or the head row, and this read refuses the log.
/// Reads and checks every record, the head row and the kept checkpoints in one snapshot.
pub(crate) fn read_log(
    client: &mut Client,
    verifier: &LogVerifier,
    on_record: &mut dyn FnMut(u64, &[u8], &AuditRecord),
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ReadLog, PgError> {
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(read_err("begin read"))?;
    // A whole-log read may take longer than a writer's statement limit.
    tx.batch_execute("SET LOCAL statement_timeout TO 0")
        .map_err(read_err("begin read"))?;
    let head = tx
        .query_one("SELECT size, last_leaf, checkpoint FROM mig06_head", &[])
        .map_err(read_err("read head"))?;
    let head_size: i64 = head.get(0);
    let head_last: Vec<u8> = head.get(1);
    let head_note: Option<String> = head.get(2);
    let latest = head_note.map(|n| verify_latest(n, verifier)).transpose()?;
    let kept_notes: Vec<String> = tx
        .query("SELECT note FROM mig06_checkpoints ORDER BY size", &[])
        .map_err(read_err("read kept checkpoints"))?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    let kept = verify_kept(kept_notes, verifier)?;
    let total = u64::try_from(head_size).unwrap_or(0);
    let mut checker = LineChecker::new(
        latest.as_ref().map_or(0, |(_, cp)| cp.size),
        verifier.clone(),
    );
    let mut rows = tx
        .query_raw(
            "SELECT line FROM mig06_records ORDER BY seq",
            std::iter::empty::<&(dyn postgres::types::ToSql + Sync)>(),
        )
        .map_err(read_err("read records"))?;
    while let Some(row) = rows.next().map_err(read_err("read records"))? {
        let line: Vec<u8> = row.try_get(0).map_err(read_err("read records"))?;
        let index = checker.size();
        let record = checker.push(&line)?;
        on_record(index, &line, &record);
        if index.is_multiple_of(65_536) {
            progress(index, total);
        }
    }
    drop(rows);
    tx.commit().map_err(read_err("end read"))?;
    checker.check_end()?;
    let ledger = checker.ledger();
    progress(ledger.size(), total);
    // The head row is moved in the same transaction as the records it counts.
    if ledger.size() != total || ledger.last().as_slice() != head_last.as_slice() {
        return Err(fault(
            Some(ledger.size().min(total)),
            format!(
                "the head row counts {total} records but the records table holds {} that link to it: records were removed or the head was altered",
                ledger.size()
            ),
        )
        .into());
    }
    Ok(ReadLog {
        checker,
        latest,
        kept,
    })
}

/// Reads and checks the log in the configured database, read-only (a read-only role is
/// enough): the same checks as [`LogView::open`] on a log directory. `on_record(index, line,
/// record)` sees each record; `progress(done, total)` counts records.
///
/// # Errors
/// [`PgError`] when the database is unreachable or has no known schema, and
/// [`PgError::Log`] naming the first bad record when the log does not check out.
pub fn read_view(
    settings: &PostgresAudit,
    verifier: &LogVerifier,
    on_record: &mut dyn FnMut(u64, &[u8], &AuditRecord),
    progress: &mut dyn FnMut(u64, u64),
) -> Result<LogView, PgError> {
    let mut client = connect(settings)?;
    check_schema(&mut client)?;
    let read = read_log(&mut client, verifier, on_record, progress)?;
    Ok(LogView::assemble(
        read.checker.finish()?,
        read.latest,
        read.kept,
        0,
    )?)
}
