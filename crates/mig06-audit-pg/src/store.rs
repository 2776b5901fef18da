//! The writing store: one connection, one batch transaction at a time, the head row locked for
//! each. Every round trip is bounded ([`crate::conn`]): a batch's by the earliest bound of its
//! records, a read an attempt waits on by the attempt's deadline ([`AuditStore::bound_reads`]),
//! [`AuditStore::ready`] by `audit.connect_timeout_ms`, anything else by
//! [`ROUND_TRIP_TIMEOUT`].

use mig06_rail::audit::file::index::{Index, mac_of, mac_verifies};
use mig06_rail::audit::file::{CHECKPOINT_EVERY, OpenReport};
use mig06_rail::audit::group::batch_failure;
use mig06_rail::audit::ledger::{
    Ledger, LineChecker, Resumed, StagedRecord, check_checkpoints_from, is_index_unreadable,
    sign_tree, verify_kept_from, verify_latest,
};
use mig06_rail::audit::{
    Appended, AuditError, AuditRecord, AuditStore, Hash, RecordKind, parse_line,
};
use mig06_rail::config::PostgresAudit;
use mig06_rail::executor::Deadline;
use mig06_rail::ids::{AttemptId, RequestId};
use mig06_rail::outcome::TerminalCode;
use mig06_tlog::checkpoint::{LogSigner, LogVerifier};
use mig06_tlog::{Tree, leaf_hash};
use std::sync::Arc;
use std::time::Instant;

use crate::PgError;
use crate::conn::{Conn, RoundTripError};
use crate::index::{
    DbIndex, FactQuery, FetchError, NODE_EVERY, Node, Wanted, answer, fetch_facts, pg_fetch_error,
};
use crate::sql::{
    ROUND_TRIP_TIMEOUT, batch_settings, bytea_literal, connect_writer, connection_lost, describe,
    hex_cell, pg_error, rows, text_literal,
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
    /// Whether the log has been opened, resumed or read whole (at open, or, when the database
    /// was unreachable then, at the first operations that reached it).
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
    /// The tree's older nodes and the rules' facts, read from the database for the operation
    /// under way ([`crate::index`]).
    index: Arc<DbIndex>,
    /// Whether the database holds the tree's nodes of every record this instance has read, so
    /// that memory may hold only the tree's right edge and the facts of the batch under way
    /// (false after a whole read until the nodes it found missing are written).
    indexed: bool,
    /// The key of the open-record bound's MAC ([`pending_mac`]).
    mac_key: [u8; 32],
    /// A tree answer found a node missing or not this log's: the next operation reads the log
    /// whole (writing the missing nodes, and keeping the tree in memory when a row is not
    /// this log's) instead of resuming from the tables.
    reread: bool,
}

/// Calls `f` with the message of the MAC of the head's open-record bound `from` at head size
/// `size`: the one message both the writer and start-up use.
fn pending_message<T>(size: u64, from: u64, f: impl FnOnce(&[&[u8]]) -> T) -> T {
    let (size, from) = (size.to_be_bytes(), from.to_be_bytes());
    f(&[b"mig06 pg pending_from v1", &size, &from])
}

/// The MAC of the head's open-record bound `from` at head size `size`.
fn pending_mac(key: &[u8; 32], size: u64, from: u64) -> Vec<u8> {
    pending_message(size, from, |m| mac_of(key, m))
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

/// A failed read of the tree's nodes or the rules' facts as the store's error.
fn fetch_error(op: &'static str) -> impl FnOnce(FetchError) -> AuditError {
    move |e| match e {
        FetchError::RoundTrip(e) => round_trip(op, false)(e),
        FetchError::Unreadable => protocol(op, "unreadable row"),
    }
}

/// Why an instance did not resume from the database's tables (`None`: an empty log, nothing
/// to resume from).
type NotResumed = Option<String>;

fn not_resumed(why: &str) -> Result<Result<u64, NotResumed>, PgError> {
    Ok(Err(Some(why.to_owned())))
}

fn protocol(op: &'static str, message: &str) -> AuditError {
    AuditError::Backend {
        op,
        message: message.to_owned(),
    }
}

/// Opens the store: connects as a writer, refuses an unknown schema, resumes from the tables at
/// the latest signed checkpoint (or, when they do not check out, reads and checks the whole log
/// as `audit verify` does), then ends every open record past its deadline
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
    let mac_key = Index::key_of(&signer);
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
        index: Arc::new(DbIndex::default()),
        indexed: false,
        mac_key,
        reread: false,
    };
    let soon = || Instant::now() + ROUND_TRIP_TIMEOUT;
    let mut client = match connect_writer(settings, soon()) {
        Ok(c) => c,
        // The database is down, failing over or not answering: start anyway, fail closed until
        // it is back, and read the log at the first operations that reach it.
        Err(e) if unavailable(&e) => return Ok((store, OpenReport::default())),
        Err(e) => return Err(e),
    };
    match store.open_log(&mut client, &soon) {
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
        self.catch_up_to(client, by, u64::MAX)
    }

    /// [`PgStore::catch_up`], reading records below `end` only (at start-up, the head's size:
    /// a row past the head is no record of the log).
    fn catch_up_to(&mut self, client: &mut Conn, by: Instant, end: u64) -> Result<(), AuditError> {
        let end = i64::try_from(end).unwrap_or(i64::MAX);
        loop {
            let n = self.checker.ledger().size();
            let msgs = client
                .simple_query(
                    &format!(
                        "SELECT seq, encode(line, 'hex') FROM mig06_records \
                         WHERE seq >= {n} AND seq < {end} ORDER BY seq LIMIT {READ_CHUNK}"
                    ),
                    by,
                )
                .map_err(round_trip("catch up", false))?;
            let mut lines = Vec::new();
            for (i, row) in (n..).zip(rows(&msgs)) {
                let seq = row
                    .get(0)
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| protocol("catch up", "unreadable record row"))?;
                let line = hex_cell(row.get(1))
                    .ok_or_else(|| protocol("catch up", "unreadable record row"))?;
                // Committed records are a gap-free prefix (commits hold the head lock): a row
                // past a gap is no record of the log (the writer role may insert one). Reading
                // stops there; a batch then finds the head and refuses if records are missing.
                if seq != i {
                    break;
                }
                lines.push((seq, line));
            }
            let got = self.push_lines(client, lines, by)?;
            self.checker.check_end()?;
            if got < READ_CHUNK {
                self.settle();
                return Ok(());
            }
        }
    }

    /// Pushes records other instances committed (from this instance's size on, in log order;
    /// a gap stops it) through the checker, once the facts their checks look up are read.
    /// Returns how many were pushed.
    fn push_lines(
        &mut self,
        client: &mut Conn,
        lines: impl IntoIterator<Item = (u64, Vec<u8>)>,
        by: Instant,
    ) -> Result<u64, AuditError> {
        let mut next = self.checker.size();
        let mut run = Vec::new();
        for (seq, line) in lines {
            if seq != next {
                break;
            }
            run.push(line);
            next = next.saturating_add(1);
        }
        if self.indexed && !run.is_empty() {
            let mut wanted = Wanted::default();
            for line in &run {
                // A line that does not parse is refused by the checker, which names it.
                if let Some(r) = parse_line(line) {
                    wanted.record(&r);
                }
            }
            self.ensure_facts(client, wanted, by)?;
        }
        for line in &run {
            self.checker.push(line)?;
        }
        Ok(run.len() as u64)
    }

    /// Reads the facts in `wanted` that were not read yet (one round trip, none when all were).
    fn ensure_facts(
        &mut self,
        client: &mut Conn,
        wanted: Wanted,
        by: Instant,
    ) -> Result<(), AuditError> {
        let wanted = wanted.not_in(&self.index);
        if wanted.is_empty() {
            return Ok(());
        }
        let facts =
            fetch_facts(client, wanted, by).map_err(fetch_error("read the rules' facts"))?;
        self.index.put_facts(facts);
        Ok(())
    }

    /// Hands what memory holds of the tree and the rules to the database, which holds it too
    /// (once every record read has its nodes there), and drops the facts read.
    fn settle(&mut self) {
        if self.indexed {
            let index = Arc::clone(&self.index);
            self.checker
                .ledger_mut()
                .rebase(Arc::clone(&index) as _, index as _);
        }
        self.index.clear_facts();
    }

    /// The lowest index of an open record without a terminal record, or the size when there
    /// is none: where the next start looks for interrupted attempts.
    fn pending_floor(&self) -> u64 {
        self.checker
            .ledger()
            .pending()
            .first()
            .map_or(self.checker.size(), |r| r.seq)
    }

    /// An answer of the rules (a hint for the rail) with the facts in `wanted` read first, by
    /// `by`, when the database holds them; the facts are dropped after.
    fn rules_answer<T>(
        &mut self,
        by: Instant,
        wanted: Wanted,
        f: impl FnOnce(&Ledger) -> T,
    ) -> Result<T, AuditError> {
        if self.indexed {
            self.with_client(by, |s, c| s.ensure_facts(c, wanted, by))?;
        }
        let out = f(self.checker.ledger());
        self.index.clear_facts();
        Ok(out)
    }

    /// A tree answer (a root, a leaf, a proof): from memory when it reads no older node, else
    /// computed again with the older nodes it reads, read in one round trip by the reads'
    /// bound, and checked by the tree against the root in memory.
    fn tree_answer<T>(
        &mut self,
        f: impl Fn(&Ledger) -> Result<T, AuditError>,
    ) -> Result<T, AuditError> {
        self.index.record();
        let first = f(self.checker.ledger());
        if self.index.take_missing().is_empty() {
            self.index.clear_nodes();
            return first;
        }
        let by = self.op_bound();
        let answered = self.with_client(by, |s, c| {
            answer(&s.index, c, by, || f(s.checker.ledger()))
                .map_err(fetch_error("read tree nodes"))?
        });
        if let Err(e) = &answered
            && is_index_unreadable(e)
        {
            // A node missing (a log written by an earlier version while this one ran, rows
            // removed) or not this log's: this answer fails closed, and the next operation
            // reads the log whole, writes what is missing and keeps memory where a row is wrong.
            tracing::warn!(
                target: "mig06::audit",
                event = "pg_resume_refused",
                why = "a node of mig06_nodes is missing or does not check out",
                "audit database: reading the whole log at the next operation"
            );
            self.reread = true;
            self.opened = false;
        }
        answered
    }

    /// Opens the log: resumed from the database's tables when they check out against the
    /// latest signed checkpoint ([`PgStore::resume`]), otherwise read whole and then the
    /// tables' missing nodes written ([`PgStore::write_nodes`]). A whole read cut short by a
    /// bound goes on where it stopped at the next call.
    fn open_log(&mut self, client: &mut Conn, by: &dyn Fn() -> Instant) -> Result<(), PgError> {
        if self.opening.is_none() && !self.reread {
            match self.resume(client, by)? {
                Ok(resumed) => {
                    self.report.resumed_from_index = resumed;
                    self.report.index_rebuilt = None;
                    self.opened = true;
                    self.settle();
                    return Ok(());
                }
                Err(why) => {
                    if let Some(why) = &why {
                        tracing::warn!(
                            target: "mig06::audit",
                            event = "pg_resume_refused",
                            why = why.as_str(),
                            "audit database: reading the whole log (the tables do not check out against the latest signed checkpoint)"
                        );
                    }
                    self.report.resumed_from_index = 0;
                    self.report.index_rebuilt = why;
                }
            }
        }
        self.read_all(client, by)?;
        self.write_nodes(client, by)?;
        self.reread = false;
        Ok(())
    }

    // INV-INDEX-NEVER-TRUSTED: the database's nodes and open-record bound are derived state:
    // the tree they give must reproduce the latest signed checkpoint's root, every open record
    // read must be a leaf of that tree, the kept checkpoints near the head must match it, and
    // the records past the checkpoint go through the checker; anything else reads the log whole.
    /// Resumes at the latest signed checkpoint (size c) without reading the log before it: the
    /// tree's right edge from `mig06_nodes` (checked against the checkpoint's root), the leaf
    /// of record c - 1, the open records without a terminal record (each proved a leaf of the
    /// tree), then the records past c through the checker, and the kept checkpoints of the last
    /// two kept sizes against the tree. `Ok(Err(why))`: the tables do not check out (or the log
    /// is empty); the caller reads the log whole. `Err`: a round trip failed.
    fn resume(
        &mut self,
        client: &mut Conn,
        by: &dyn Fn() -> Instant,
    ) -> Result<Result<u64, NotResumed>, PgError> {
        let every = CHECKPOINT_EVERY;
        let msgs = client
            .simple_query(
                &format!(
                    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; \
                     SELECT 'h', size, checkpoint, pending_from, encode(pending_mac, 'hex') \
                     FROM mig06_head; \
                     SELECT 'k', size, note FROM mig06_checkpoints \
                     WHERE size > ((SELECT size FROM mig06_head) / {every} - 2) * {every} \
                     ORDER BY size"
                ),
                by(),
            )
            .map_err(pg_error("read head"))?;
        // The records from the bound to the head, in a second round trip of the same snapshot
        // (both as literals, so the records are walked by their key): an open record there
        // without a terminal record after it is pending (a terminal record follows its open
        // record, so both lie past the bound). Judged by the lines, never by the columns.
        let head_row = rows(&msgs).find(|r| r.get(0) == Some("h"));
        let number = |i: usize| {
            head_row
                .and_then(|r| r.get(i))
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let (from, to) = (number(3), number(1));
        let open_msgs = client
            .simple_query(
                &format!(
                    "SELECT 'p', seq, encode(line, 'hex') FROM mig06_records \
                     WHERE seq >= {from} AND seq < {to} ORDER BY seq; \
                     COMMIT"
                ),
                by(),
            )
            .map_err(pg_error("read open records"))?;
        let unreadable = |op: &'static str| PgError::Sql {
            op,
            message: "unreadable row".into(),
        };
        let mut head: Option<(u64, Option<String>)> = None;
        let mut bound: Option<(u64, Option<Vec<u8>>)> = None;
        let mut kept_notes = Vec::new();
        let mut window = Vec::new();
        for row in rows(&msgs).chain(rows(&open_msgs)) {
            let number = row.get(1).and_then(|v| v.parse::<u64>().ok());
            match (row.get(0), number) {
                (Some("h"), Some(size)) => {
                    head = Some((size, row.get(2).map(str::to_owned)));
                    let from = row
                        .get(3)
                        .and_then(|v| v.parse::<u64>().ok())
                        .ok_or_else(|| unreadable("read head"))?;
                    bound = Some((from, hex_cell(row.get(4))));
                }
                (Some("k"), Some(_)) => kept_notes.push(
                    row.get(2)
                        .map(str::to_owned)
                        .ok_or_else(|| unreadable("read kept checkpoints"))?,
                ),
                (Some("p"), Some(seq)) => window.push((
                    seq,
                    hex_cell(row.get(2)).ok_or_else(|| unreadable("read open records"))?,
                )),
                _ => return Err(unreadable("read head")),
            }
        }
        let (n, note) = head.ok_or_else(|| PgError::Sql {
            op: "read head",
            message: "the head row is missing".into(),
        })?;
        let Some(note) = note else {
            return Ok(Err(None));
        };
        let Ok((_, latest)) = verify_latest(note, &self.verifier) else {
            return not_resumed("the latest checkpoint does not verify");
        };
        let c = latest.size;
        if c == 0 || c > n {
            return not_resumed("the latest checkpoint is not within the head");
        }
        // The open-record bound: 0 (look from the start) needs no proof; any other must carry
        // its MAC with this head size.
        match bound {
            Some((0, _)) => {}
            Some((from, Some(mac)))
                if pending_message(n, from, |m| mac_verifies(&self.mac_key, m, &mac)) => {}
            _ => return not_resumed("the open records' bound does not verify"),
        }
        let first = (n / every).saturating_sub(2);
        let Ok(kept) = verify_kept_from(kept_notes, &self.verifier, first) else {
            return not_resumed("the kept checkpoints near the head do not verify");
        };

        let index = Arc::clone(&self.index);
        let tree = answer(&index, client, by(), || {
            Tree::resume(Arc::clone(&index) as _, c)
        })
        .map_err(pg_fetch_error("read tree nodes"))?;
        let Some(tree) = tree.filter(|t| t.root() == latest.root) else {
            return not_resumed("the tree's nodes do not reproduce the latest checkpoint's root");
        };
        let last = answer(&index, client, by(), || tree.leaf(c - 1))
            .map_err(pg_fetch_error("read tree nodes"))?;
        let Some(last) = last else {
            return not_resumed("the last record's leaf is not in the tree");
        };
        // Pending at c: open records before c without a terminal record before c (the
        // records from c on are read through the checker below). Every line of the window is
        // proved a leaf of the tree first: a line altered in the table is not believed.
        let window: Vec<(u64, Vec<u8>)> = window.into_iter().filter(|(seq, _)| *seq < c).collect();
        let proved = answer(&index, client, by(), || {
            window
                .iter()
                .map(|(seq, line)| tree.leaf(*seq) == Some(leaf_hash(line)))
                .collect::<Vec<bool>>()
        })
        .map_err(pg_fetch_error("read tree nodes"))?;
        if proved.contains(&false) {
            return not_resumed("a record past the open records' bound is not a leaf of the tree");
        }
        let mut open_at: std::collections::HashMap<AttemptId, AuditRecord> =
            std::collections::HashMap::new();
        for (seq, line) in &window {
            match parse_line(line) {
                Some(r) if r.seq == *seq => match r.kind() {
                    RecordKind::Open => {
                        open_at.insert(r.attempt_id.clone(), r);
                    }
                    RecordKind::Terminal => {
                        open_at.remove(&r.attempt_id);
                    }
                },
                _ => return not_resumed("a record past the open records' bound does not parse"),
            }
        }
        let mut pending: Vec<AuditRecord> = open_at.into_values().collect();
        pending.sort_by_key(|r| r.seq);

        let resumed = Resumed {
            tree,
            last,
            rules: Arc::clone(&index) as _,
            pending,
            covered: c,
        };
        self.checker = LineChecker::resume(Ledger::resume(resumed, self.verifier.clone().into()));
        self.indexed = true;
        self.opening = None;
        match self.catch_up_to(client, by(), n) {
            Ok(()) => {}
            Err(AuditError::BoundPassed { .. }) => {
                return Err(PgError::TimedOut { op: "catch up" });
            }
            Err(AuditError::Backend { op, message }) => {
                return Err(if client.is_closed() {
                    PgError::ConnectionLost { op, message }
                } else {
                    PgError::Sql { op, message }
                });
            }
            Err(_) => {
                return not_resumed("the records past the latest checkpoint do not check out");
            }
        }
        let checked = answer(&index, client, by(), || {
            check_checkpoints_from(self.checker.ledger().tree(), Some(&latest), first, &kept)
        })
        .map_err(pg_fetch_error("read tree nodes"))?;
        if checked.is_err() {
            return not_resumed("the kept checkpoints near the head do not match the tree");
        }
        Ok(Ok(c))
    }

    /// After a whole read: compares the database's nodes with the tree's at the kept levels,
    /// writes those it lacks (a log written before schema version 3, or nodes removed), writes
    /// the head's open-record bound with its MAC, and hands memory to the database. A node
    /// there that is not the tree's (altered, or placed ahead of the log) keeps the tree in
    /// memory for this process: its answers would be refused, so they are not used.
    fn write_nodes(&mut self, client: &mut Conn, by: &dyn Fn() -> Instant) -> Result<(), PgError> {
        let tree = self.checker.ledger().tree();
        let size = tree.size();
        let mut nodes: std::collections::BTreeMap<(u32, u64), Hash> = tree
            .completed_since(0, NODE_EVERY)
            .unwrap_or_default()
            .into_iter()
            .map(|(l, i, h)| ((l, i), h))
            .collect();
        let mut foreign = 0u64;
        let mut after = (0u32, 0u64);
        loop {
            let msgs = client
                .simple_query(
                    &format!(
                        "SELECT level, idx, encode(hash, 'hex') FROM mig06_nodes \
                         WHERE (level, idx) > ({}, {}) ORDER BY level, idx LIMIT 8192",
                        after.0, after.1
                    ),
                    by(),
                )
                .map_err(pg_error("read tree nodes"))?;
            let mut got = 0u32;
            for row in rows(&msgs) {
                let level = row.get(0).and_then(|v| v.parse::<u32>().ok());
                let idx = row.get(1).and_then(|v| v.parse::<u64>().ok());
                let (Some(level), Some(idx)) = (level, idx) else {
                    return Err(PgError::Sql {
                        op: "read tree nodes",
                        message: "unreadable row".into(),
                    });
                };
                // A node past the size read may be another instance's, appended meanwhile:
                // only nodes within it are this read's to judge.
                let within = size.checked_shr(level).is_some_and(|count| idx < count);
                match nodes.remove(&(level, idx)) {
                    Some(h) if hex_cell(row.get(2)).as_deref() == Some(h.as_slice()) => {}
                    _ if !within => {}
                    _ => foreign = foreign.saturating_add(1),
                }
                after = (level, idx);
                got = got.saturating_add(1);
            }
            if got < 8192 {
                break;
            }
        }
        let missing: Vec<Node> = nodes.into_iter().map(|((l, i), h)| (l, i, h)).collect();
        for chunk in missing.chunks(4096) {
            client
                .batch_execute(&insert_nodes(chunk), by())
                .map_err(pg_error("write tree nodes"))?;
        }
        if foreign > 0 {
            tracing::warn!(
                target: "mig06::audit",
                event = "pg_nodes_foreign",
                rows = foreign,
                "audit database: mig06_nodes holds rows that are not this log's tree; the tree stays in memory (remove them as the schema's owner, see OPERATIONS.md)"
            );
        }
        // The bound of the log as read, at the size read: when others appended since, the head
        // moved on and their next batch writes the bound.
        let (size, from) = (self.checker.size(), self.pending_floor());
        client
            .batch_execute(
                &format!(
                    "UPDATE mig06_head SET pending_from = {from}, pending_mac = {} \
                     WHERE size = {size}",
                    bytea_literal(&pending_mac(&self.mac_key, size, from))
                ),
                by(),
            )
            .map_err(pg_error("write the open records' bound"))?;
        self.indexed = foreign == 0;
        self.settle();
        Ok(())
    }

    fn append_batch_inner(
        &mut self,
        records: Vec<AuditRecord>,
        by: Instant,
    ) -> Result<Vec<Result<Appended, AuditError>>, AuditError> {
        self.with_client(by, |s, client| {
            if !s.opened {
                s.open_log(client, &|| by)?;
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
        self.indexed = false;
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
                s.open_log(client, &|| by).map_err(AuditError::from)
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
    fn lock_head(
        &mut self,
        client: &mut Conn,
        by: Instant,
        wanted: &Wanted,
    ) -> Result<Locked, AuditError> {
        let n = self.checker.ledger().size();
        // The facts the batch's records look up, read under the lock (so no other instance can
        // change them before the commit), in the same message.
        let mut facts = FactQuery::new(wanted.clone());
        let msgs = client
            .simple_query(
                &format!(
                    "SELECT 'r', seq, encode(line, 'hex') FROM mig06_records WHERE seq >= {n} \
                     ORDER BY seq LIMIT {READ_CHUNK}; \
                     BEGIN ISOLATION LEVEL READ COMMITTED; {}; \
                     SELECT 'h', size, encode(last_leaf, 'hex') FROM mig06_head FOR UPDATE; \
                     SELECT 'l', seq, encode(line, 'hex') FROM mig06_records WHERE seq >= {n} \
                     ORDER BY seq DESC LIMIT {LOCKED_CATCH_UP}; {}",
                    batch_settings(),
                    facts.sql()
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
                _ => {
                    if !facts
                        .read(row)
                        .map_err(fetch_error("read the rules' facts"))?
                    {
                        return Err(protocol("lock head", "unexpected row"));
                    }
                }
            }
        }
        self.index.put_facts(facts.answers());
        // Rows in log order from this instance's size; a gap (more was appended between the
        // reads than they return) stops the catch-up here.
        self.push_lines(client, lines, by)?;
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
        let now = time::OffsetDateTime::now_utc();
        self.index.clear_facts();
        let mut wanted = Wanted::default();
        if self.indexed {
            for r in records.iter().chain(self.checker.ledger().overdue(now)) {
                wanted.record(r);
            }
        }
        self.lock_current_head(client, by, &wanted)?;
        if self.indexed {
            // Open records that others appended and whose deadline has passed: this batch ends
            // them, so the rules look up their facts too.
            let mut more = Wanted::default();
            for r in self.checker.ledger().overdue(now) {
                more.record(r);
            }
            self.ensure_facts(client, more, by)?;
        }
        let n = records.len();
        let batch = self
            .checker
            .ledger()
            .stage_batch(records, &self.signer, now)?;
        if batch.records.is_empty() {
            client
                .batch_execute("ROLLBACK", by)
                .map_err(round_trip("release head", false))?;
            return Ok(Ledger::refused_only(batch, n));
        }
        let (start, size) = (batch.start, batch.end());
        let leaves: Vec<Hash> = batch.records.iter().map(|r| r.leaf).collect();
        let (signed, nodes) =
            self.ledger_with_staged(&leaves, start, size, batch.needs_checkpoint())?;
        let first_open = batch
            .records
            .iter()
            .find(|r| r.record.kind() == RecordKind::Open)
            .map_or(size, |r| r.index);
        let head = Head {
            size,
            last: leaves
                .last()
                .copied()
                .unwrap_or_else(|| self.checker.ledger().last()),
            signed: signed.as_ref(),
            nodes: &nodes,
            pending: {
                // This instance's own bound (it has read every record under the lock), never
                // the head's: a bound moved forward without the key is replaced, not kept.
                let from = self.pending_floor().min(first_open);
                (from, pending_mac(&self.mac_key, size, from))
            },
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
        self.settle();
        self.report.interrupted_ended = self.report.interrupted_ended.saturating_add(interrupted);
        Ok(results)
    }

    /// Round trip 1: begins, locks the head row with this instance caught up to it, and checks
    /// that the head is the end of the log this instance read. Round trip 1 is the batch's first
    /// use of the connection: one the server ended since (a restart, a failover) fails it before
    /// anything is written, and is replaced once (within the same bound).
    fn lock_current_head(
        &mut self,
        client: &mut Conn,
        by: Instant,
        wanted: &Wanted,
    ) -> Result<(), AuditError> {
        self.connection_lost = false;
        let read = match self.lock_head(client, by, wanted) {
            Err(AuditError::Backend { .. }) if client.is_closed() || self.connection_lost => {
                tracing::warn!(
                    target: "mig06::audit",
                    event = "pg_reconnect",
                    cause = "connection_lost",
                    "audit database: the connection was lost before the batch; connecting once"
                );
                *client = connect_writer(&self.settings, by)?;
                self.lock_head(client, by, wanted)?
            }
            other => other?,
        };
        let head = match read {
            Locked::Head(head) => head,
            // This instance was behind: the lock is released again; catch up without it, then
            // take it again. The gap left is what was appended meanwhile.
            Locked::Lagging => {
                self.catch_up(client, by)?;
                match self.lock_head(client, by, wanted)? {
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

    /// The nodes at the kept levels that the staged leaves complete, and, when `signed`, the
    /// signed checkpoint of the tree of `size` (the log with the staged leaves) and one for
    /// every kept size the batch reaches past `start`.
    fn ledger_with_staged(
        &mut self,
        leaves: &[Hash],
        start: u64,
        size: u64,
        signed: bool,
    ) -> Result<(Signed, Vec<Node>), AuditError> {
        let signer = &self.signer;
        self.checker.ledger_mut().with_staged(leaves, |tree| {
            let nodes = tree
                .completed_since(start, NODE_EVERY)
                .ok_or_else(|| protocol("stage batch", "the tree's right edge is not in memory"))?;
            if !signed {
                return Ok((None, nodes));
            }
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
            Ok((Some((note, kept)), nodes))
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
        let by = self.op_bound();
        self.refresh(by)?;
        let mut wanted = Wanted::default();
        wanted.attempt(prior);
        self.rules_answer(by, wanted, |l| l.rules().is_claim_held(prior))
    }

    fn request_id_holder(
        &mut self,
        request_id: &RequestId,
    ) -> Result<Option<AttemptId>, AuditError> {
        // A hint from the database's request-id table: a resend is refused at its append in
        // any case, where the rule is checked under the head lock. So when the database cannot
        // answer now, the hint is what memory holds, and the append decides.
        let mut wanted = Wanted::default();
        wanted.request(request_id);
        match self.rules_answer(self.op_bound(), wanted, |l| {
            l.rules().request_id_holder(request_id)
        }) {
            Ok(holder) => Ok(holder),
            Err(_) => Ok(self.checker.ledger().rules().request_id_holder(request_id)),
        }
    }

    fn witness_checkpoint(
        &mut self,
        at_least: u64,
    ) -> Result<mig06_rail::witness::WitnessCheckpoint, AuditError> {
        self.refresh(self.op_bound())?;
        // A checkpoint of the whole tree: its right edge, in memory.
        self.checker
            .ledger()
            .witness_checkpoint(&self.signer, at_least)
    }

    fn consistency_proof(&mut self, old: u64, new: u64) -> Result<Vec<Hash>, AuditError> {
        if new > self.checker.ledger().size() || !self.opened {
            self.refresh(self.op_bound())?;
        }
        self.tree_answer(|l| l.consistency_proof(old, new))
    }

    fn inclusion_proof(&mut self, index: u64, size: u64) -> Result<Vec<Hash>, AuditError> {
        if size > self.checker.ledger().size() || !self.opened {
            self.refresh(self.op_bound())?;
        }
        self.tree_answer(|l| l.inclusion_proof(index, size))
    }

    fn root_at(&mut self, size: u64) -> Result<Hash, AuditError> {
        if size > self.checker.ledger().size() || !self.opened {
            self.refresh(self.op_bound())?;
        }
        self.tree_answer(|l| l.root_at(size))
    }

    fn leaf_at(&mut self, index: u64) -> Result<Hash, AuditError> {
        if index >= self.checker.ledger().size() || !self.opened {
            self.refresh(self.op_bound())?;
        }
        self.tree_answer(|l| l.leaf_at(index))
    }

    fn verifier_key(&self) -> String {
        self.verifier.vkey()
    }
}

/// The statement inserting `nodes` into `mig06_nodes` (a batch's, or those a whole read found
/// missing). A node already there is left as it is: every node is checked against the signed
/// root before it is used, and a whole read judges the rows there.
fn insert_nodes(nodes: &[Node]) -> String {
    let rows: Vec<String> = nodes
        .iter()
        .map(|(l, i, h)| format!("({l}, {i}, {})", bytea_literal(h)))
        .collect();
    format!(
        "INSERT INTO mig06_nodes (level, idx, hash) VALUES {} ON CONFLICT DO NOTHING",
        rows.join(",")
    )
}

/// A batch's signed checkpoint with the kept checkpoints it reaches, when it is signed.
type Signed = Option<(String, Vec<(u64, String)>)>;

/// Where the head moves with a batch: its size and last leaf, the batch's signed checkpoint
/// with the kept checkpoints it reaches (when it is signed), the tree's nodes the batch
/// completes at the kept levels, and the open records' lower bound.
struct Head<'a> {
    size: u64,
    last: Hash,
    signed: Option<&'a (String, Vec<(u64, String)>)>,
    nodes: &'a [Node],
    /// The open-record bound and its MAC at `size`.
    pending: (u64, Vec<u8>),
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
    if !head.nodes.is_empty() {
        sql.push_str(&insert_nodes(head.nodes));
        sql.push_str("; ");
    }
    let (size, last) = (head.size, bytea_literal(&head.last));
    let pending = format!(
        "pending_from = {}, pending_mac = {}",
        head.pending.0,
        bytea_literal(&head.pending.1)
    );
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
                "UPDATE mig06_head SET size = {size}, last_leaf = {last}, checkpoint = {}, \
                 {pending}; ",
                text_literal(note)
            ));
        }
        None => sql.push_str(&format!(
            "UPDATE mig06_head SET size = {size}, last_leaf = {last}, {pending}; "
        )),
    }
    sql.push_str("COMMIT");
    sql
}
