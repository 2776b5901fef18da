//! The writing store: one connection, one batch transaction at a time, the head row locked for
//! each. Every round trip is bounded ([`crate::conn`]): a batch's by the earliest bound of its
//! records, a read an attempt waits on by the attempt's deadline ([`AuditStore::bound_reads`]),
//! [`AuditStore::ready`] by `audit.connect_timeout_ms`, anything else by
//! [`ROUND_TRIP_TIMEOUT`].

use mig06_rail::audit::file::{CHECKPOINT_EVERY, OpenReport};
use mig06_rail::audit::group::batch_failure;
use mig06_rail::audit::ledger::{Ledger, LineChecker, StagedRecord, sign_tree};
use mig06_rail::audit::{Appended, AuditError, AuditRecord, AuditStore, Hash, RecordKind};
use mig06_rail::config::PostgresAudit;
use mig06_rail::executor::Deadline;
use mig06_rail::ids::{AttemptId, RequestId};
use mig06_rail::outcome::TerminalCode;
use mig06_tlog::checkpoint::{LogSigner, LogVerifier};
use std::time::Instant;

use crate::PgError;
use crate::conn::{Conn, RoundTripError};
use crate::sql::{
    ROUND_TRIP_TIMEOUT, batch_settings, bytea_literal, connect_writer, connection_lost, describe,
    hex_cell, rows, text_literal,
};
use crate::view::{LogRead, READ_CHUNK};

/// The PostgreSQL audit store of one rail instance.
pub struct PgStore {
    settings: PostgresAudit,
    /// `None` after an error: the next operation connects anew (never the same operation).
    client: Option<Conn>,
    /// The log as this instance read it: every line others appended goes through the one
    /// checker that `audit verify` uses, so both blame the same record with the same words.
    checker: LineChecker,
    /// Whether the whole log has been read and checked (at open, or, when the database was
    /// unreachable then, at the first operations that reached it).
    opened: bool,
    /// The whole-log read under way while not `opened`: what was checked so far survives an
    /// operation whose bound passed, and the next one goes on from there.
    opening: Option<LogRead>,
    signer: LogSigner,
    verifier: LogVerifier,
    report: OpenReport,
    commits: u64,
    last_used: std::time::Instant,
    /// Round trip 1 failed because the server ended the connection (not because of the batch).
    connection_lost: bool,
    /// The bound of the reads that follow ([`AuditStore::bound_reads`]).
    read_bound: Option<Deadline>,
}

/// A connection idle this long is checked before use ([`PgStore::client`]).
const IDLE_CHECK_AFTER: std::time::Duration = std::time::Duration::from_secs(1);
/// Records read under the head lock, at most: the store caught up without the lock just before,
/// so only what other instances appended in between is left. A batch that finds more releases
/// the lock, catches up without it and takes it once more, rather than hold the lock through a
/// long read; finding more again fails the batch (not confirmed).
const LOCKED_CATCH_UP: u64 = 256;

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("records", &self.checker.ledger().size())
            .finish_non_exhaustive()
    }
}

// INV-DEADLINE-ANSWERED: a round trip whose bound passed fails its operation at once: `sent`
// only for the commit's round trip (its batch may have landed; the log settles it, nothing is
// sent again), so an attempt whose record was never sent can end `ABORTED_DEADLINE`.
/// A round trip's failure as the store's error: its bound passed ([`AuditError::BoundPassed`],
/// `sent` only for the commit round trip once it began), or the database's error.
fn round_trip(op: &'static str, commit: bool) -> impl FnOnce(RoundTripError) -> AuditError {
    move |e| match e {
        RoundTripError::TimedOut { started } => AuditError::BoundPassed {
            sent: commit && started,
        },
        RoundTripError::Failed(e) => AuditError::Backend {
            op,
            message: describe(&e),
        },
    }
}

/// Whether an error at start-up means the database is not there now (unreachable, or not
/// answering in time), as opposed to a database that answers and refuses.
fn unavailable(e: &PgError) -> bool {
    matches!(
        e,
        PgError::Connect(_) | PgError::TimedOut { .. } | PgError::ConnectionLost { .. }
    )
}

fn protocol(op: &'static str, message: &str) -> AuditError {
    AuditError::Backend {
        op,
        message: message.to_owned(),
    }
}

/// Opens the store: connects as a writer, refuses an unknown schema, reads and checks the whole
/// log (as `audit verify` does), then ends every open record past its deadline
/// `ABORTED_INTERRUPTED` before any caller's work. The connection is bounded by
/// `audit.connect_timeout_ms`, every other round trip by [`ROUND_TRIP_TIMEOUT`]. A database
/// that is unreachable or stops answering meanwhile does not stop the start: the store fails
/// closed until it answers, and goes on reading the log from where it stopped at its next
/// operations.
///
/// # Errors
/// [`PgError`] when the database refuses the connection (role, password, database name), has
/// no known schema, fails a statement, or its log does not check out.
pub fn open_store(
    settings: &PostgresAudit,
    signer: LogSigner,
) -> Result<(PgStore, OpenReport), PgError> {
    let verifier = signer.verifier();
    let mut store = PgStore {
        settings: settings.clone(),
        client: None,
        checker: LineChecker::new(0, verifier.clone()),
        opened: false,
        signer,
        verifier,
        report: OpenReport::default(),
        commits: 0,
        last_used: Instant::now(),
        connection_lost: false,
        read_bound: None,
        opening: None,
    };
    let soon = || Instant::now() + ROUND_TRIP_TIMEOUT;
    let mut client = match connect_writer(settings, soon()) {
        Ok(c) => c,
        // The database is down, failing over or not answering: start anyway, fail closed until
        // it is back, and read the log at the first operations that reach it.
        Err(e) if unavailable(&e) => return Ok((store, OpenReport::default())),
        Err(e) => return Err(e),
    };
    match store.read_all(&mut client, &soon) {
        Ok(()) => {}
        Err(e) if unavailable(&e) => return Ok((store, OpenReport::default())),
        Err(e) => return Err(e),
    }
    store.client = Some(client);
    if !store
        .checker
        .ledger()
        .overdue(time::OffsetDateTime::now_utc())
        .is_empty()
    {
        match store.append_batch_inner(Vec::new(), soon()) {
            Ok(_) => {}
            // Not now (the database stopped answering or went away meanwhile): every batch
            // ends overdue open records first, so the next one will.
            Err(AuditError::BoundPassed { .. } | AuditError::Backend { .. }) => {}
            Err(e) => {
                return Err(PgError::Sql {
                    op: "end interrupted attempts",
                    message: e.to_string(),
                });
            }
        }
    }
    store.report.records = store.checker.ledger().size();
    let report = store.report.clone();
    Ok((store, report))
}

/// What round trip 1 found.
enum Locked {
    /// The head row is locked: its size and last leaf hash.
    Head((u64, Vec<u8>)),
    /// This instance is still behind the head: the lock was released again.
    Lagging,
}

impl PgStore {
    /// Records in the log as this instance last read it.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.checker.ledger().size()
    }

    /// What opening found, and attempts this store has ended `ABORTED_INTERRUPTED` since.
    #[must_use]
    pub fn report(&self) -> &OpenReport {
        &self.report
    }

    /// The bound of an operation no batch bounds: the reads' bound when one is set
    /// ([`AuditStore::bound_reads`]), else [`ROUND_TRIP_TIMEOUT`] from now.
    fn op_bound(&self) -> Instant {
        self.read_bound
            .map_or_else(|| Instant::now() + ROUND_TRIP_TIMEOUT, |d| d.instant())
    }

    /// The connection for the next operation, by `by`. One that sat idle may have been ended by
    /// the server (a restart, a failover, an idle timeout, a proxy) without our knowing: it is
    /// checked with an empty query first (within `audit.connect_timeout_ms` and `by`) and
    /// replaced when dead or silent. This is a health check before anything is sent, never a
    /// second sending of a write.
    fn client(&mut self, by: Instant) -> Result<Conn, AuditError> {
        let idle = self.last_used.elapsed();
        if let Some(mut c) = self.client.take() {
            let check_by = (Instant::now() + self.settings.connect_timeout).min(by);
            let alive = !c.is_closed()
                && (idle < IDLE_CHECK_AFTER || c.batch_execute("", check_by).is_ok());
            if alive {
                return Ok(c);
            }
        }
        tracing::info!(
            target: "mig06::audit",
            event = "pg_reconnect",
            cause = if idle >= IDLE_CHECK_AFTER { "idle_check" } else { "no_connection" },
            "audit database: connecting"
        );
        connect_writer(&self.settings, by).map_err(AuditError::from)
    }

    // INV-FAIL-CLOSED-PG: after any error the connection is dropped (the server rolls back and
    // frees the head lock) and the operation fails: nothing is sent again.
    /// Runs `f` on the connection; keeps the connection only when `f` succeeded. After any
    /// error (a bound that passed included) the connection is dropped (the server then rolls
    /// back whatever was open and frees the head lock, once it runs) and the next operation
    /// connects anew.
    fn with_client<T>(
        &mut self,
        by: Instant,
        f: impl FnOnce(&mut Self, &mut Conn) -> Result<T, AuditError>,
    ) -> Result<T, AuditError> {
        let mut client = self.client(by)?;
        let out = f(self, &mut client);
        self.last_used = Instant::now();
        if out.is_ok() {
            self.client = Some(client);
        }
        out
    }

    /// Reads the records other instances committed since this one last looked, without the
    /// head lock (commits are serialised by it, so committed records are a gap-free prefix), in
    /// chunks of [`READ_CHUNK`], each a round trip by `by`. What was read before a bound passed
    /// stays read.
    fn catch_up(&mut self, client: &mut Conn, by: Instant) -> Result<(), AuditError> {
        loop {
            let n = self.checker.ledger().size();
            let msgs = client
                .simple_query(
                    &format!(
                        "SELECT seq, encode(line, 'hex') FROM mig06_records WHERE seq >= {n} \
                         ORDER BY seq LIMIT {READ_CHUNK}"
                    ),
                    by,
                )
                .map_err(round_trip("catch up", false))?;
            let mut got = 0u64;
            for row in rows(&msgs) {
                let seq = row
                    .get(0)
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| protocol("catch up", "unreadable record row"))?;
                let line = hex_cell(row.get(1))
                    .ok_or_else(|| protocol("catch up", "unreadable record row"))?;
                if seq != self.checker.size() {
                    return Err(protocol("catch up", "a gap in the records read"));
                }
                self.checker.push(&line)?;
                got = got.saturating_add(1);
            }
            self.checker.check_end()?;
            if got < READ_CHUNK {
                return Ok(());
            }
        }
    }

    fn append_batch_inner(
        &mut self,
        records: Vec<AuditRecord>,
        by: Instant,
    ) -> Result<Vec<Result<Appended, AuditError>>, AuditError> {
        self.with_client(by, |s, client| {
            if !s.opened {
                s.read_all(client, &|| by)?;
            }
            s.batch_on(client, records, by)
        })
    }

    /// Reads and checks the whole log, as `audit verify` does (the store's open), each round
    /// trip by `by()`. A read whose round trip failed is kept and resumed by the next call (a
    /// log that does not check out is not: it is read again from the start).
    fn read_all(&mut self, client: &mut Conn, by: &dyn Fn() -> Instant) -> Result<(), PgError> {
        let mut read = match self.opening.take() {
            Some(read) => read,
            None => LogRead::start(client, &self.verifier, by())?,
        };
        loop {
            match read.step(client, by(), &mut |_, _, _| {}) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    if !matches!(e, PgError::Log(_)) {
                        self.opening = Some(read);
                    }
                    return Err(e);
                }
            }
        }
        let read = read.finish()?;
        mig06_rail::audit::ledger::check_checkpoints(
            read.checker.ledger().tree(),
            read.latest.as_ref().map(|(_, cp)| cp),
            &read.kept,
        )?;
        self.checker = read.checker;
        self.opened = true;
        Ok(())
    }

    /// Whether the log has been read (false only while the database has been unreachable since
    /// the store was opened).
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.opened
    }

    /// Reads what others appended (or, before the first read, the whole log), by `by`.
    fn refresh(&mut self, by: Instant) -> Result<(), AuditError> {
        self.with_client(by, |s, client| {
            if s.opened {
                s.catch_up(client, by)
            } else {
                s.read_all(client, &|| by).map_err(AuditError::from)
            }
        })
    }

    /// Round trip 1: read the records past this instance's size without the lock (at most
    /// [`READ_CHUNK`]), then begin, lock the head row and read its last [`LOCKED_CATCH_UP`]
    /// records (what other instances appended between the two reads), in one message. The
    /// unlocked read comes first, so the server never holds the lock while it sends a long tail
    /// (to a process that may have stopped); an instance still behind the head after both reads
    /// releases the lock again ([`Locked::Lagging`]) and catches up without it, so no other
    /// instance waits for that.
    fn lock_head(&mut self, client: &mut Conn, by: Instant) -> Result<Locked, AuditError> {
        let n = self.checker.ledger().size();
        let msgs = client
            .simple_query(
                &format!(
                    "SELECT 'r', seq, encode(line, 'hex') FROM mig06_records WHERE seq >= {n} \
                     ORDER BY seq LIMIT {READ_CHUNK}; \
                     BEGIN ISOLATION LEVEL READ COMMITTED; {}; \
                     SELECT 'h', size, encode(last_leaf, 'hex') FROM mig06_head FOR UPDATE; \
                     SELECT 'l', seq, encode(line, 'hex') FROM mig06_records WHERE seq >= {n} \
                     ORDER BY seq DESC LIMIT {LOCKED_CATCH_UP}",
                    batch_settings()
                ),
                by,
            )
            .map_err(|e| {
                if let RoundTripError::Failed(e) = &e {
                    self.connection_lost = connection_lost(e);
                }
                round_trip("lock head", false)(e)
            })?;
        let mut head: Option<(u64, Vec<u8>)> = None;
        let mut lines: std::collections::BTreeMap<u64, Vec<u8>> = std::collections::BTreeMap::new();
        let mut locked_rows = 0u64;
        for row in rows(&msgs) {
            match row.get(0) {
                Some("h") => {
                    let size = row
                        .get(1)
                        .and_then(|v| v.parse::<u64>().ok())
                        .ok_or_else(|| protocol("lock head", "unreadable head row"))?;
                    let last = hex_cell(row.get(2))
                        .ok_or_else(|| protocol("lock head", "unreadable head row"))?;
                    head = Some((size, last));
                }
                Some(tag @ ("r" | "l")) => {
                    if tag == "l" {
                        locked_rows = locked_rows.saturating_add(1);
                    }
                    let seq = row
                        .get(1)
                        .and_then(|v| v.parse::<u64>().ok())
                        .ok_or_else(|| protocol("catch up", "unreadable record row"))?;
                    let line = hex_cell(row.get(2))
                        .ok_or_else(|| protocol("catch up", "unreadable record row"))?;
                    lines.insert(seq, line);
                }
                _ => return Err(protocol("lock head", "unexpected row")),
            }
        }
        // Rows in log order from this instance's size; a gap (more was appended between the
        // reads than they return) stops the catch-up here.
        for (seq, line) in lines {
            if seq != self.checker.size() {
                break;
            }
            self.checker.push(&line)?;
        }
        self.checker.check_end()?;
        let Some(head) = head else {
            return Err(protocol("lock head", "the head row is missing"));
        };
        // Under the lock the second read returned every record past our size when it returned
        // fewer than it may: a head beyond them then counts records the table does not hold,
        // which the caller reports; otherwise others appended more than both reads returned.
        if head.0 > self.checker.size() && locked_rows >= LOCKED_CATCH_UP {
            client
                .batch_execute("ROLLBACK", by)
                .map_err(round_trip("release head", false))?;
            return Ok(Locked::Lagging);
        }
        Ok(Locked::Head(head))
    }

    // INV-AUDIT-PG-ONE-LOG: the head row's lock serialises batches across instances: a batch starts
    // at the head's size and links to its last leaf, so indices have no gap and no duplicate.
    /// One batch, two round trips, each by `by` (the batch's earliest bound): (1) begin, lock
    /// the head row, read the records past this instance's size; (2) insert the batch, its
    /// claims and kept checkpoints, move the head, commit. Mirrors the file store's
    /// `append_batch_locked`: overdue open records are ended first, each record is checked
    /// against the log's rules in log order and sealed, and a batch with a terminal record (or
    /// the first, or one that reaches a kept size) is signed.
    fn batch_on(
        &mut self,
        client: &mut Conn,
        records: Vec<AuditRecord>,
        by: Instant,
    ) -> Result<Vec<Result<Appended, AuditError>>, AuditError> {
        self.lock_current_head(client, by)?;
        let n = records.len();
        let batch = self.checker.ledger().stage_batch(
            records,
            &self.signer,
            time::OffsetDateTime::now_utc(),
        )?;
        if batch.records.is_empty() {
            client
                .batch_execute("ROLLBACK", by)
                .map_err(round_trip("release head", false))?;
            return Ok(Ledger::refused_only(batch, n));
        }
        let (start, size) = (batch.start, batch.end());
        let leaves: Vec<Hash> = batch.records.iter().map(|r| r.leaf).collect();
        let signed: Option<(String, Vec<(u64, String)>)> = if batch.needs_checkpoint() {
            Some(self.ledger_with_staged(&leaves, start, size)?)
        } else {
            None
        };
        let head = Head {
            size,
            last: leaves
                .last()
                .copied()
                .unwrap_or_else(|| self.checker.ledger().last()),
            signed: signed.as_ref(),
        };
        let sql = commit_sql(
            &batch.records,
            &self.new_claims(&batch.records),
            &self.new_request_ids(&batch.records),
            &head,
        );
        // The commit is synchronous (`synchronous_commit = on` for this session): when this
        // returns Ok the batch is durable. An error here, or the bound passing, may leave the
        // outcome unknown (the server may execute the message after we gave up on it); the
        // batch is failed, never re-sent, and the next read of the log finds whether it was
        // committed.
        client
            .simple_query(&sql, by)
            .map_err(round_trip("commit batch", true))?;
        self.commits = self.commits.saturating_add(1);

        // Durable from here on: nothing below may turn these records into a failure.
        let interrupted = batch.interrupted;
        let results = self.checker.ledger_mut().admit_staged(
            batch,
            n,
            signed.as_ref().map(|(note, _)| note.as_str()),
        )?;
        if signed.is_some() {
            self.checker.ledger_mut().mark_covered();
        }
        self.report.interrupted_ended = self.report.interrupted_ended.saturating_add(interrupted);
        Ok(results)
    }

    /// Round trip 1: begins, locks the head row with this instance caught up to it, and checks
    /// that the head is the end of the log this instance read. Round trip 1 is the batch's first
    /// use of the connection: one the server ended since (a restart, a failover) fails it before
    /// anything is written, and is replaced once (within the same bound).
    fn lock_current_head(&mut self, client: &mut Conn, by: Instant) -> Result<(), AuditError> {
        self.connection_lost = false;
        let read = match self.lock_head(client, by) {
            Err(AuditError::Backend { .. }) if client.is_closed() || self.connection_lost => {
                tracing::warn!(
                    target: "mig06::audit",
                    event = "pg_reconnect",
                    cause = "connection_lost",
                    "audit database: the connection was lost before the batch; connecting once"
                );
                *client = connect_writer(&self.settings, by)?;
                self.lock_head(client, by)?
            }
            other => other?,
        };
        let head = match read {
            Locked::Head(head) => head,
            // This instance was behind: the lock is released again; catch up without it, then
            // take it again. The gap left is what was appended meanwhile.
            Locked::Lagging => {
                self.catch_up(client, by)?;
                match self.lock_head(client, by)? {
                    Locked::Head(head) => head,
                    Locked::Lagging => {
                        return Err(protocol(
                            "lock head",
                            "other instances appended too much while this batch waited for the head lock",
                        ));
                    }
                }
            }
        };
        let (head_size, head_last) = head;
        if head_size != self.checker.ledger().size()
            || head_last.as_slice() != self.checker.ledger().last().as_slice()
        {
            return Err(AuditError::CheckpointMismatch {
                what: format!(
                    "the head row counts {head_size} records but {} records link to it: records were removed or the head was altered",
                    self.checker.ledger().size()
                ),
            });
        }
        Ok(())
    }

    /// The first record of each attempt that takes a prior's claim in this batch: a row of the
    /// claims table (its primary key refuses a second holder).
    fn new_claims<'a>(
        &self,
        staged: &'a [StagedRecord],
    ) -> Vec<(&'a AttemptId, &'a AttemptId, u64)> {
        let mut claims: Vec<(&AttemptId, &AttemptId, u64)> = Vec::new();
        for r in staged {
            if let (true, Some(prior)) = (r.record.claim, &r.record.continues)
                && !self.checker.ledger().rules().is_claim_held(prior)
                && !claims.iter().any(|(p, _, _)| *p == prior)
            {
                claims.push((prior, &r.record.attempt_id, r.index));
            }
        }
        claims
    }

    /// The first record of each attempt that takes a request id in this batch: a row of the
    /// request-id table (its primary key refuses a second attempt with the id).
    fn new_request_ids<'a>(
        &self,
        staged: &'a [StagedRecord],
    ) -> Vec<(&'a RequestId, &'a AttemptId, u64)> {
        let mut ids: Vec<(&RequestId, &AttemptId, u64)> = Vec::new();
        for r in staged {
            if let Some(rid) = &r.record.request_id
                && self
                    .checker
                    .ledger()
                    .rules()
                    .request_id_holder(rid)
                    .is_none()
                && !ids.iter().any(|(x, _, _)| *x == rid)
            {
                ids.push((rid, &r.record.attempt_id, r.index));
            }
        }
        ids
    }

    /// The signed checkpoint of the tree of `size` (the log with the staged leaves) and one for
    /// every kept size the batch reaches past `start`.
    fn ledger_with_staged(
        &mut self,
        leaves: &[Hash],
        start: u64,
        size: u64,
    ) -> Result<(String, Vec<(u64, String)>), AuditError> {
        let signer = &self.signer;
        self.checker.ledger_mut().with_staged(leaves, |tree| {
            let note = sign_tree(signer, tree, size)?;
            let mut kept = Vec::new();
            for k in (start / CHECKPOINT_EVERY + 1)..=(size / CHECKPOINT_EVERY) {
                let at = k.saturating_mul(CHECKPOINT_EVERY);
                let signed = if at == size {
                    note.clone()
                } else {
                    sign_tree(signer, tree, at)?
                };
                kept.push((at, signed));
            }
            Ok((note, kept))
        })
    }
}

impl AuditStore for PgStore {
    fn append(&mut self, record: AuditRecord) -> Result<Appended, AuditError> {
        let mut one = self.append_batch_inner(vec![record], self.op_bound())?;
        one.pop().unwrap_or(Err(AuditError::NoResult))
    }

    // INV-DEADLINE-ANSWERED: the batch's every round trip (connection, head lock, catch-up,
    // inserts and commit) is bounded by the earliest bound of its records.
    fn append_batch(
        &mut self,
        records: Vec<AuditRecord>,
        bound: Deadline,
    ) -> Vec<Result<Appended, AuditError>> {
        let n = records.len();
        match self.append_batch_inner(records, bound.instant()) {
            Ok(results) => results,
            Err(e) => (0..n).map(|_| Err(batch_failure(&e))).collect(),
        }
    }

    fn syncs(&self) -> Option<u64> {
        Some(self.commits)
    }

    fn bound_reads(&mut self, bound: Option<Deadline>) {
        self.read_bound = bound;
    }

    /// Reaches the database and reads what others appended, within `audit.connect_timeout_ms`.
    fn ready(&mut self) -> Result<(), AuditError> {
        self.refresh(Instant::now() + self.settings.connect_timeout)
    }

    fn is_claim_held(&mut self, prior: &AttemptId) -> Result<bool, AuditError> {
        self.refresh(self.op_bound())?;
        Ok(self.checker.ledger().rules().is_claim_held(prior))
    }

    fn request_id_holder(
        &mut self,
        request_id: &RequestId,
    ) -> Result<Option<AttemptId>, AuditError> {
        // A hint from what this instance has read (no round trip): a resend to another
        // instance is refused at its append, where the rule is checked under the head lock.
        Ok(self.checker.ledger().rules().request_id_holder(request_id))
    }

    fn witness_checkpoint(
        &mut self,
        at_least: u64,
    ) -> Result<mig06_rail::witness::WitnessCheckpoint, AuditError> {
        self.refresh(self.op_bound())?;
        self.checker
            .ledger()
            .witness_checkpoint(&self.signer, at_least)
    }

    fn consistency_proof(&mut self, old: u64, new: u64) -> Result<Vec<Hash>, AuditError> {
        if new > self.checker.ledger().size() || !self.opened {
            self.refresh(self.op_bound())?;
        }
        self.checker.ledger().consistency_proof(old, new)
    }

    fn inclusion_proof(&mut self, index: u64, size: u64) -> Result<Vec<Hash>, AuditError> {
        if size > self.checker.ledger().size() || !self.opened {
            self.refresh(self.op_bound())?;
        }
        self.checker.ledger().inclusion_proof(index, size)
    }

    fn root_at(&mut self, size: u64) -> Result<Hash, AuditError> {
        if size > self.checker.ledger().size() || !self.opened {
            self.refresh(self.op_bound())?;
        }
        self.checker.ledger().root_at(size)
    }

    fn leaf_at(&mut self, index: u64) -> Result<Hash, AuditError> {
        if index >= self.checker.ledger().size() || !self.opened {
            self.refresh(self.op_bound())?;
        }
        self.checker.ledger().leaf_at(index)
    }

    fn verifier_key(&self) -> String {
        self.verifier.vkey()
    }
}

/// Where the head moves with a batch: its size and last leaf, and the batch's signed checkpoint
/// with the kept checkpoints it reaches, when it is signed.
struct Head<'a> {
    size: u64,
    last: Hash,
    signed: Option<&'a (String, Vec<(u64, String)>)>,
}

/// Round trip 2, one message: the batch's rows, its claims and kept checkpoints, the head moved,
/// and the commit. Values are hex literals ([`bytea_literal`], [`text_literal`]), never text
/// spliced into SQL.
fn commit_sql(
    staged: &[StagedRecord],
    claims: &[(&AttemptId, &AttemptId, u64)],
    request_ids: &[(&RequestId, &AttemptId, u64)],
    head: &Head<'_>,
) -> String {
    let mut sql = String::with_capacity(staged.iter().map(|s| s.bytes.len() * 2 + 200).sum());
    sql.push_str("INSERT INTO mig06_records (seq, line, attempt_id, kind, completes) VALUES ");
    let rows: Vec<String> = staged
        .iter()
        .map(|s| {
            let kind = match s.record.kind() {
                RecordKind::Open => "open",
                RecordKind::Terminal => "terminal",
            };
            let completes = match s.record.code() {
                Some(TerminalCode::CompletedDraft) => text_literal(s.record.chain_root.as_str()),
                _ => "NULL".to_owned(),
            };
            format!(
                "({}, {}, {}, '{kind}', {completes})",
                s.index,
                bytea_literal(&s.bytes),
                text_literal(s.record.attempt_id.as_str()),
            )
        })
        .collect();
    sql.push_str(&rows.join(","));
    sql.push_str("; ");
    if !claims.is_empty() {
        let rows: Vec<String> = claims
            .iter()
            .map(|(prior, attempt, seq)| {
                format!(
                    "({}, {}, {seq})",
                    text_literal(prior.as_str()),
                    text_literal(attempt.as_str())
                )
            })
            .collect();
        sql.push_str("INSERT INTO mig06_claims (prior, attempt_id, seq) VALUES ");
        sql.push_str(&rows.join(","));
        sql.push_str("; ");
    }
    if !request_ids.is_empty() {
        let rows: Vec<String> = request_ids
            .iter()
            .map(|(rid, attempt, seq)| {
                format!(
                    "({}, {}, {seq})",
                    text_literal(rid.as_str()),
                    text_literal(attempt.as_str())
                )
            })
            .collect();
        sql.push_str("INSERT INTO mig06_request_ids (request_id, attempt_id, seq) VALUES ");
        sql.push_str(&rows.join(","));
        sql.push_str("; ");
    }
    let (size, last) = (head.size, bytea_literal(&head.last));
    match head.signed {
        Some((note, kept)) => {
            if !kept.is_empty() {
                let rows: Vec<String> = kept
                    .iter()
                    .map(|(at, k)| format!("({at}, {})", text_literal(k)))
                    .collect();
                sql.push_str("INSERT INTO mig06_checkpoints (size, note) VALUES ");
                sql.push_str(&rows.join(","));
                sql.push_str("; ");
            }
            sql.push_str(&format!(
                "UPDATE mig06_head SET size = {size}, last_leaf = {last}, checkpoint = {}; ",
                text_literal(note)
            ));
        }
        None => sql.push_str(&format!(
            "UPDATE mig06_head SET size = {size}, last_leaf = {last}; "
        )),
    }
    sql.push_str("COMMIT");
    sql
}
