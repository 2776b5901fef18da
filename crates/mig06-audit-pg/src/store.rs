//! The writing store: one connection, one batch transaction at a time, the head row locked for
//! each.

use mig06_rail::audit::file::{CHECKPOINT_EVERY, OpenReport};
use mig06_rail::audit::group::batch_failure;
use mig06_rail::audit::ledger::{Ledger, LineChecker, StagedRecord, sign_tree};
use mig06_rail::audit::{Appended, AuditError, AuditRecord, AuditStore, Hash, RecordKind};
use mig06_rail::config::PostgresAudit;
use mig06_rail::executor::Deadline;
use mig06_rail::ids::{AttemptId, RequestId};
use mig06_rail::outcome::TerminalCode;
use mig06_tlog::checkpoint::{LogSigner, LogVerifier};
use postgres::Client;

use crate::PgError;
use crate::sql::{
    batch_settings, bytea_literal, connect_writer, describe, hex_cell, rows, text_literal,
};
use crate::view::read_log;

/// The PostgreSQL audit store of one rail instance.
pub struct PgStore {
    settings: PostgresAudit,
    /// `None` after an error: the next operation connects anew (never the same operation).
    client: Option<Client>,
    /// The log as this instance read it: every line others appended goes through the one
    /// checker that `audit verify` uses, so both blame the same record with the same words.
    checker: LineChecker,
    /// Whether the whole log has been read and checked (at open, or, when the database was
    /// unreachable then, at the first operation that reached it).
    opened: bool,
    signer: LogSigner,
    verifier: LogVerifier,
    report: OpenReport,
    commits: u64,
    last_used: std::time::Instant,
    /// Round trip 1 failed because the server ended the connection (not because of the batch).
    connection_lost: bool,
}

/// Whether `e` says the connection is gone (the server shut down, restarted, failed over, or
/// ended the session), as opposed to a statement that failed on a live connection.
fn connection_lost(e: &postgres::Error) -> bool {
    match e.code() {
        // Class 08 (connection exception) and 57P01-57P03 (operator intervention ending
        // sessions: admin or crash shutdown, cannot connect now).
        Some(code) => {
            let c = code.code();
            c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03")
        }
        None => e.is_closed() || e.as_db_error().is_none(),
    }
}

/// A connection idle this long is checked before use ([`PgStore::client`]).
const IDLE_CHECK_AFTER: std::time::Duration = std::time::Duration::from_secs(1);
/// Records read under the head lock, at most: the store caught up without the lock just before,
/// so only what other instances appended in between is left. A batch that finds more fails
/// (not confirmed) rather than hold the lock through a long read.
const LOCKED_CATCH_UP: u64 = 256;

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("records", &self.checker.ledger().size())
            .finish_non_exhaustive()
    }
}

fn backend(op: &'static str) -> impl FnOnce(postgres::Error) -> AuditError {
    move |e| AuditError::Backend {
        op,
        message: describe(&e),
    }
}

fn protocol(op: &'static str, message: &str) -> AuditError {
    AuditError::Backend {
        op,
        message: message.to_owned(),
    }
}

/// Opens the store: connects as a writer, refuses an unknown schema, reads and checks the whole
/// log (as `audit verify` does), then ends every open record past its deadline
/// `ABORTED_INTERRUPTED` before any caller's work.
///
/// # Errors
/// [`PgError`] when the database is unreachable, has no known schema, or its log does not check
/// out.
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
        last_used: std::time::Instant::now(),
        connection_lost: false,
    };
    let mut client = match connect_writer(settings) {
        Ok(c) => c,
        // The database is down or failing over: start anyway, fail closed until it is back,
        // and read the log at the first operation that reaches it.
        Err(PgError::Connect(_)) => return Ok((store, OpenReport::default())),
        Err(e) => return Err(e),
    };
    store.read_all(&mut client)?;
    store.client = Some(client);
    if !store
        .checker
        .ledger()
        .overdue(time::OffsetDateTime::now_utc())
        .is_empty()
    {
        store
            .append_batch_inner(Vec::new())
            .map_err(|e| PgError::Sql {
                op: "end interrupted attempts",
                message: e.to_string(),
            })?;
    }
    store.report.records = store.checker.ledger().size();
    let report = store.report.clone();
    Ok((store, report))
}

/// What round trip 1 found.
enum Locked {
    /// The head row is locked: its size and last leaf hash.
    Head((u64, Vec<u8>)),
    /// A long tail was read and checked with the lock released again.
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

    /// The connection for the next operation. One that sat idle may have been ended by the
    /// server (a restart, a failover, an idle timeout, a proxy) without our knowing: it is
    /// checked with an empty query first and replaced when dead. This is a health check before
    /// anything is sent, never a second sending of a write.
    fn client(&mut self) -> Result<Client, AuditError> {
        let idle = self.last_used.elapsed();
        if let Some(mut c) = self.client.take() {
            let alive = !c.is_closed()
                && (idle < IDLE_CHECK_AFTER || c.is_valid(self.settings.connect_timeout).is_ok());
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
        connect_writer(&self.settings).map_err(AuditError::from)
    }

    // INV-FAIL-CLOSED-PG: after any error the connection is dropped (the server rolls back and
    // frees the head lock) and the operation fails: nothing is sent again.
    /// Runs `f` on the connection; keeps the connection only when `f` succeeded. After any
    /// error the connection is dropped (the server then rolls back whatever was open and frees
    /// the head lock) and the next operation connects anew.
    fn with_client<T>(
        &mut self,
        f: impl FnOnce(&mut Self, &mut Client) -> Result<T, AuditError>,
    ) -> Result<T, AuditError> {
        let mut client = self.client()?;
        let out = f(self, &mut client);
        self.last_used = std::time::Instant::now();
        if out.is_ok() {
            self.client = Some(client);
        }
        out
    }

    /// Reads the records other instances committed since this one last looked, without the
    /// head lock: commits are serialised by it, so committed records are a gap-free prefix.
    fn catch_up(&mut self, client: &mut Client) -> Result<(), AuditError> {
        let from = i64::try_from(self.checker.ledger().size()).unwrap_or(i64::MAX);
        let lines = client
            .query(
                "SELECT line FROM mig06_records WHERE seq >= $1 ORDER BY seq",
                &[&from],
            )
            .map_err(backend("catch up"))?;
        for row in lines {
            let line: Vec<u8> = row.try_get(0).map_err(backend("catch up"))?;
            self.checker.push(&line)?;
        }
        self.checker.check_end()?;
        Ok(())
    }

    fn append_batch_inner(
        &mut self,
        records: Vec<AuditRecord>,
    ) -> Result<Vec<Result<Appended, AuditError>>, AuditError> {
        self.with_client(|s, client| {
            if !s.opened {
                s.read_all(client)?;
            }
            s.batch_on(client, records)
        })
    }

    /// Reads and checks the whole log, as `audit verify` does (the store's open).
    fn read_all(&mut self, client: &mut Client) -> Result<(), PgError> {
        let read = read_log(client, &self.verifier, &mut |_, _, _| {}, &mut |_, _| {})?;
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

    /// Reads what others appended (or, before the first read, the whole log).
    fn refresh(&mut self) -> Result<(), AuditError> {
        self.with_client(|s, client| {
            if s.opened {
                s.catch_up(client)
            } else {
                s.read_all(client).map_err(AuditError::from)
            }
        })
    }

    /// Round trip 1: read the records past this instance's size without the lock, then begin,
    /// lock the head row and read its last [`LOCKED_CATCH_UP`] records (what other instances
    /// appended between the two reads), in one message. The unlocked read comes first, so the
    /// server never holds the lock while it sends a long tail (to a process that may have
    /// stopped); a long tail is checked after the lock is released again ([`Locked::Lagging`]),
    /// so no other instance waits for that check.
    fn lock_head(&mut self, client: &mut Client) -> Result<Locked, AuditError> {
        let n = self.checker.ledger().size();
        let msgs = client
            .simple_query(&format!(
                "SELECT 'r', seq, encode(line, 'hex') FROM mig06_records WHERE seq >= {n} ORDER BY seq; \
                 BEGIN ISOLATION LEVEL READ COMMITTED; {}; \
                 SELECT 'h', size, encode(last_leaf, 'hex') FROM mig06_head FOR UPDATE; \
                 SELECT 'r', seq, encode(line, 'hex') FROM mig06_records WHERE seq >= {n} \
                 ORDER BY seq DESC LIMIT {LOCKED_CATCH_UP}",
                batch_settings()
            ))
            .map_err(|e| {
                self.connection_lost = connection_lost(&e);
                backend("lock head")(e)
            })?;
        let mut head: Option<(u64, Vec<u8>)> = None;
        let mut lines: std::collections::BTreeMap<u64, Vec<u8>> = std::collections::BTreeMap::new();
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
                Some("r") => {
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
        let lagging = lines.len() as u64 > LOCKED_CATCH_UP;
        if lagging {
            client
                .simple_query("ROLLBACK")
                .map_err(backend("release head"))?;
        }
        // Rows in log order from this instance's size; a gap (more was appended between the
        // reads than the locked read returns) stops the catch-up, and the head check fails.
        for (seq, line) in lines {
            if seq != self.checker.size() {
                break;
            }
            self.checker.push(&line)?;
        }
        self.checker.check_end()?;
        match (lagging, head) {
            (true, _) => Ok(Locked::Lagging),
            (false, Some(head)) => Ok(Locked::Head(head)),
            (false, None) => Err(protocol("lock head", "the head row is missing")),
        }
    }

    // INV-AUDIT-PG-ONE-LOG: the head row's lock serialises batches across instances: a batch starts
    // at the head's size and links to its last leaf, so indices have no gap and no duplicate.
    /// One batch, two round trips: (1) begin, lock the head row, read the records past this
    /// instance's size; (2) insert the batch, its claims and kept checkpoints, move the head,
    /// commit. Mirrors the file store's `append_batch_locked`: overdue open records are ended
    /// first, each record is checked against the log's rules in log order and sealed, and a
    /// batch with a terminal record (or the first, or one that reaches a kept size) is signed.
    fn batch_on(
        &mut self,
        client: &mut Client,
        records: Vec<AuditRecord>,
    ) -> Result<Vec<Result<Appended, AuditError>>, AuditError> {
        self.lock_current_head(client)?;
        let n = records.len();
        let batch = self.checker.ledger().stage_batch(
            records,
            &self.signer,
            time::OffsetDateTime::now_utc(),
        )?;
        if batch.records.is_empty() {
            client
                .simple_query("ROLLBACK")
                .map_err(backend("release head"))?;
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
        // returns Ok the batch is durable. An error here may leave the outcome unknown (the
        // connection broke during the commit); the batch is failed, never re-sent, and the next
        // read of the log finds whether it was committed.
        client.simple_query(&sql).map_err(backend("commit batch"))?;
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
    /// anything is written, and is replaced once.
    fn lock_current_head(&mut self, client: &mut Client) -> Result<(), AuditError> {
        self.connection_lost = false;
        let read = match self.lock_head(client) {
            Err(_) if client.is_closed() || self.connection_lost => {
                tracing::warn!(
                    target: "mig06::audit",
                    event = "pg_reconnect",
                    cause = "connection_lost",
                    "audit database: the connection was lost before the batch; connecting once"
                );
                *client = connect_writer(&self.settings)?;
                self.lock_head(client)?
            }
            other => other?,
        };
        let head = match read {
            Locked::Head(head) => head,
            // This instance was far behind: the rows were checked with the lock released.
            // Take it again; the gap left is what was appended meanwhile.
            Locked::Lagging => match self.lock_head(client)? {
                Locked::Head(head) => head,
                Locked::Lagging => {
                    return Err(protocol(
                        "lock head",
                        "other instances appended too much while this batch waited for the head lock",
                    ));
                }
            },
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
        let mut one = self.append_batch_inner(vec![record])?;
        one.pop().unwrap_or(Err(AuditError::NoResult))
    }

    fn append_batch(
        &mut self,
        records: Vec<AuditRecord>,
        _bound: Deadline,
    ) -> Vec<Result<Appended, AuditError>> {
        let n = records.len();
        match self.append_batch_inner(records) {
            Ok(results) => results,
            Err(e) => (0..n).map(|_| Err(batch_failure(&e))).collect(),
        }
    }

    fn syncs(&self) -> Option<u64> {
        Some(self.commits)
    }

    fn ready(&mut self) -> Result<(), AuditError> {
        self.refresh()
    }

    fn is_claim_held(&mut self, prior: &AttemptId) -> Result<bool, AuditError> {
        self.refresh()?;
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
        self.refresh()?;
        self.checker
            .ledger()
            .witness_checkpoint(&self.signer, at_least)
    }

    fn consistency_proof(&mut self, old: u64, new: u64) -> Result<Vec<Hash>, AuditError> {
        if new > self.checker.ledger().size() || !self.opened {
            self.refresh()?;
        }
        self.checker.ledger().consistency_proof(old, new)
    }

    fn inclusion_proof(&mut self, index: u64, size: u64) -> Result<Vec<Hash>, AuditError> {
        if size > self.checker.ledger().size() || !self.opened {
            self.refresh()?;
        }
        self.checker.ledger().inclusion_proof(index, size)
    }

    fn root_at(&mut self, size: u64) -> Result<Hash, AuditError> {
        if size > self.checker.ledger().size() || !self.opened {
            self.refresh()?;
        }
        self.checker.ledger().root_at(size)
    }

    fn leaf_at(&mut self, index: u64) -> Result<Hash, AuditError> {
        if index >= self.checker.ledger().size() || !self.opened {
            self.refresh()?;
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
