//! Connections, session settings, the schema and its migration.
//!
//! Statements that carry values are built as text only from values with a closed alphabet
//! (integers, hex, ULIDs checked by their type): every round trip is one simple-query message,
//! and hex keeps every byte exact whatever the database's encoding.
//!
//! Every round trip has a bound ([`crate::conn`]): an attempt's (the store's batch and reads),
//! or, where no attempt waits, a stated one: a connection (TCP, start-up, authentication, session
//! settings and the schema check) within `audit.connect_timeout_ms`, and any other round trip
//! within [`ROUND_TRIP_TIMEOUT`].

use std::net::{IpAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mig06_rail::config::PostgresAudit;
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres::config::Host;

use crate::conn::{Conn, ConnectError, RoundTripError};
use crate::{Grants, MigrateReport, PgError, SCHEMA_VERSION};

/// The schema of version 1.
const SCHEMA_V1: &str = include_str!("schema.sql");
/// Version 1 to version 2: one attempt per request id.
const SCHEMA_V2: &str = include_str!("schema_v2.sql");
/// Version 2 to version 3: the tree's nodes and the open records' lower bound, so that an
/// instance starts without reading the whole log.
const SCHEMA_V3: &str = include_str!("schema_v3.sql");

/// How long a batch waits for another instance's head lock before it fails.
pub(crate) const LOCK_TIMEOUT: &str = "5s";
/// A session idle inside a transaction this long (a writer that stopped while holding the head
/// lock) is ended by the server, which frees the lock for the other instances.
pub(crate) const IDLE_IN_TRANSACTION_TIMEOUT: &str = "10s";
/// A writer's statement taking longer than this fails (the batch is not confirmed).
pub(crate) const STATEMENT_TIMEOUT: &str = "10s";
/// The bound of a round trip no attempt waits on (the store's start-up read, a whole-log read
/// for an auditor, `audit migrate`): as long as the server allows a writer's statement
/// (`statement_timeout`, 10 s). A round trip an attempt waits on is bounded by the attempt.
pub const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long data sent to the server may stay unacknowledged before the connection fails (a cut
/// network; a stopped server's kernel still acknowledges, see [`crate::conn`]).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);
// INV-FAIL-CLOSED-PG: every batch transaction commits synchronously (a commit that returns is
// durable) and waits for a lock only so long: a stuck batch fails, never hangs.
/// The settings every batch transaction applies for itself (`SET LOCAL`), so they hold even
/// through a transaction-mode connection pooler: synchronous commit (the commit returns only once
/// the batch is durable) and bounded waits.
pub(crate) fn batch_settings() -> String {
    format!(
        "SET LOCAL synchronous_commit TO on; SET LOCAL lock_timeout TO '{LOCK_TIMEOUT}'; \
         SET LOCAL statement_timeout TO '{STATEMENT_TIMEOUT}'; \
         SET LOCAL idle_in_transaction_session_timeout TO '{IDLE_IN_TRANSACTION_TIMEOUT}'"
    )
}

/// Whether `e` says the connection is gone (the server shut down, restarted, failed over, or
/// ended the session), as opposed to a statement that failed on a live connection.
pub(crate) fn connection_lost(e: &tokio_postgres::Error) -> bool {
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

/// A round trip's failure as a [`PgError`] naming `op`.
pub(crate) fn pg_error(op: &'static str) -> impl FnOnce(RoundTripError) -> PgError {
    move |e| match e {
        RoundTripError::TimedOut { .. } => PgError::TimedOut { op },
        RoundTripError::Failed(e) => failed(op, &e),
    }
}

/// A failed round trip: the connection gone (the database is not there now), or a statement
/// the database refused.
fn failed(op: &'static str, e: &tokio_postgres::Error) -> PgError {
    let message = describe(e);
    if connection_lost(e) {
        PgError::ConnectionLost { op, message }
    } else {
        PgError::Sql { op, message }
    }
}

/// A database error's own message and code, or the connection error with its cause; never the
/// statement (it may hold record bytes).
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            if e.is_closed() && !text.contains("closed") {
                text.push_str(" (the connection is closed)");
            }
            text
        }
    }
}

/// The driver's configuration: the URL, keepalives, and a TCP host name resolved here, on the
/// calling thread, and handed to the driver as an address: the driver would otherwise resolve it
/// on a blocking-pool thread, and the store starts no threads.
fn config(settings: &PostgresAudit) -> Result<tokio_postgres::Config, PgError> {
    let url = settings.url().map_err(PgError::Connect)?;
    let mut config: tokio_postgres::Config = url.parse().map_err(|_| PgError::BadUrl)?;
    config.connect_timeout(settings.connect_timeout);
    // A cut network (no ACK comes back) fails the connection in bounded time even while idle:
    // unacknowledged writes give up after TCP_USER_TIMEOUT, an idle wait is probed by
    // keepalives. Neither bounds a stopped server (its kernel answers both): the round trips'
    // own bounds do ([`crate::conn`]).
    config.tcp_user_timeout(TCP_USER_TIMEOUT);
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(5));
    config.keepalives_interval(Duration::from_secs(1));
    config.keepalives_retries(3);
    if config.get_application_name().is_none() {
        // So a DBA can tell which process holds the head lock.
        config.application_name(format!("mig06 pid {}", std::process::id()));
    }
    if config.get_hostaddrs().is_empty() {
        let ports = config.get_ports().to_vec();
        let mut addrs: Vec<IpAddr> = Vec::new();
        for (i, host) in config.get_hosts().iter().enumerate() {
            match host {
                Host::Tcp(name) => {
                    let port = ports
                        .get(i)
                        .or_else(|| ports.first())
                        .copied()
                        .unwrap_or(5432);
                    let ip = match name.parse::<IpAddr>() {
                        Ok(ip) => ip,
                        Err(_) => (name.as_str(), port)
                            .to_socket_addrs()
                            .ok()
                            .and_then(|mut a| a.next())
                            .map(|a| a.ip())
                            .ok_or_else(|| {
                                PgError::Connect("the database host name does not resolve".into())
                            })?,
                    };
                    addrs.push(ip);
                }
                // A Unix socket needs no address; addresses must then be given for no host.
                Host::Unix(_) => {
                    addrs.clear();
                    break;
                }
            }
        }
        if addrs.len() == config.get_hosts().len() {
            for ip in addrs {
                config.hostaddr(ip);
            }
        }
    }
    Ok(config)
}

/// A connection's own bound: `audit.connect_timeout_ms` from now, or `by` when that is sooner.
struct ConnectBound {
    by: Instant,
    limit: Instant,
}

impl ConnectBound {
    fn new(settings: &PostgresAudit, by: Instant) -> Self {
        let limit = Instant::now()
            .checked_add(settings.connect_timeout)
            .map_or(by, |t| t.min(by));
        Self { by, limit }
    }

    /// The caller's bound passed ([`PgError::TimedOut`]), or the connection's own timeout did (an
    /// unreachable database, [`PgError::Connect`]).
    fn timed_out(&self, op: &'static str) -> PgError {
        if self.by <= self.limit {
            PgError::TimedOut { op }
        } else {
            PgError::Connect(format!(
                "no answer during {op} within audit.connect_timeout_ms"
            ))
        }
    }

    fn round_trip(&self, op: &'static str) -> impl FnOnce(RoundTripError) -> PgError + '_ {
        move |e| match e {
            RoundTripError::TimedOut { .. } => self.timed_out(op),
            RoundTripError::Failed(e) => failed(op, &e),
        }
    }
}

fn open_connection(settings: &PostgresAudit, bound: &ConnectBound) -> Result<Conn, PgError> {
    let config = config(settings)?;
    Conn::connect(&config, bound.limit).map_err(|e| match e {
        ConnectError::TimedOut => bound.timed_out("connect"),
        ConnectError::Runtime(e) => {
            PgError::Connect(format!("cannot start the connection's runtime: {e}"))
        }
        ConnectError::Failed(e) => {
            // A wrong role, password or database name is a configuration error, not an outage.
            let refused = e
                .code()
                .is_some_and(|c| c.code().starts_with("28") || c.code() == "3D000");
            if refused {
                PgError::Sql {
                    op: "connect",
                    message: describe(&e),
                }
            } else {
                PgError::Connect(describe(&e))
            }
        }
    })
}

/// Connects with the configured settings, by `by` and within `audit.connect_timeout_ms`.
pub(crate) fn connect(settings: &PostgresAudit, by: Instant) -> Result<Conn, PgError> {
    open_connection(settings, &ConnectBound::new(settings, by))
}

/// Connects as a writer, by `by` and within `audit.connect_timeout_ms` for the whole of it:
/// synchronous commit always on (a commit returns only once it is durable), bounded waits, and
/// a schema this build knows.
pub(crate) fn connect_writer(settings: &PostgresAudit, by: Instant) -> Result<Conn, PgError> {
    let bound = ConnectBound::new(settings, by);
    let mut conn = open_connection(settings, &bound)?;
    let msgs = conn
        .simple_query(
            &format!(
                "SET synchronous_commit TO on; SET lock_timeout TO '{LOCK_TIMEOUT}'; \
                 SET idle_in_transaction_session_timeout TO '{IDLE_IN_TRANSACTION_TIMEOUT}'; \
                 SET statement_timeout TO '{STATEMENT_TIMEOUT}'; \
                 SELECT to_regclass('mig06_meta') IS NOT NULL"
            ),
            bound.limit,
        )
        .map_err(bound.round_trip("set session"))?;
    let exists = rows(&msgs).next().and_then(|r| r.get(0)) == Some("t");
    let version = if exists {
        let msgs = conn
            .simple_query("SELECT schema_version FROM mig06_meta", bound.limit)
            .map_err(bound.round_trip("read schema version"))?;
        version_of(&msgs)?
    } else {
        None
    };
    known_schema(version)?;
    Ok(conn)
}

/// The version in `SELECT schema_version FROM mig06_meta`'s answer (`None`: no row).
fn version_of(msgs: &[SimpleQueryMessage]) -> Result<Option<i32>, PgError> {
    match rows(msgs).next() {
        None => Ok(None),
        Some(row) => row
            .get(0)
            .and_then(|v| v.parse::<i32>().ok())
            .map(Some)
            .ok_or_else(|| PgError::Sql {
                op: "read schema version",
                message: "unreadable schema version".into(),
            }),
    }
}

/// The schema version the database holds (`None`: no schema).
fn schema_version(conn: &mut Conn, by: Instant) -> Result<Option<i32>, PgError> {
    let msgs = conn
        .simple_query("SELECT to_regclass('mig06_meta') IS NOT NULL", by)
        .map_err(pg_error("read schema version"))?;
    if rows(&msgs).next().and_then(|r| r.get(0)) != Some("t") {
        return Ok(None);
    }
    let msgs = conn
        .simple_query("SELECT schema_version FROM mig06_meta", by)
        .map_err(pg_error("read schema version"))?;
    version_of(&msgs)
}

/// Refuses no schema, or a version this build does not know.
fn known_schema(version: Option<i32>) -> Result<(), PgError> {
    match version {
        None => Err(PgError::NoSchema),
        Some(SCHEMA_VERSION) => Ok(()),
        Some(found) => Err(PgError::UnknownSchema {
            found,
            known: SCHEMA_VERSION,
        }),
    }
}

/// Refuses a database without the schema or with a version this build does not know.
pub(crate) fn check_schema(conn: &mut Conn, by: Instant) -> Result<(), PgError> {
    known_schema(schema_version(conn, by)?)
}

/// A role name usable as an identifier without quoting questions.
fn role_ident(role: &str) -> Result<String, PgError> {
    let ok = !role.is_empty()
        && role.len() <= 63
        && role.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(format!("\"{role}\""))
    } else {
        Err(PgError::Sql {
            op: "grant",
            message: "a role name must be 1 to 63 ASCII letters, digits or underscores".into(),
        })
    }
}

// INV-AUDIT-PG-APPEND-ONLY: the writer role gets SELECT and INSERT on the log's tables (UPDATE only
// on the head row), the reader SELECT; the schema's triggers refuse the rest to every role.
/// Creates the schema, or upgrades it to [`SCHEMA_VERSION`], in one transaction; grants the
/// writer and reader roles when given. Run it as the schema's owner. Each round trip is bounded
/// by [`ROUND_TRIP_TIMEOUT`]; after any error the connection is dropped and the server rolls
/// the whole migration back.
///
/// # Errors
/// [`PgError`] when the database is unreachable or does not answer in time, a statement fails,
/// or the database has a version newer than this build.
pub fn migrate(settings: &PostgresAudit, grants: &Grants) -> Result<MigrateReport, PgError> {
    let soon = || Instant::now() + ROUND_TRIP_TIMEOUT;
    let mut conn = connect(settings, soon())?;
    let msgs = conn
        .simple_query(
            "BEGIN;
             CREATE TABLE IF NOT EXISTS mig06_meta (
                 singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                 schema_version integer NOT NULL
             );
             LOCK TABLE mig06_meta IN ACCESS EXCLUSIVE MODE;
             SELECT schema_version FROM mig06_meta",
            soon(),
        )
        .map_err(pg_error("create schema table"))?;
    let from = version_of(&msgs)?;
    match from {
        None => {
            conn.batch_execute(SCHEMA_V1, soon())
                .map_err(pg_error("create schema"))?;
            conn.batch_execute(SCHEMA_V2, soon())
                .map_err(pg_error("create schema"))?;
            conn.batch_execute(SCHEMA_V3, soon())
                .map_err(pg_error("create schema"))?;
            conn.batch_execute(
                &format!(
                    "INSERT INTO mig06_meta (singleton, schema_version) VALUES (true, {SCHEMA_VERSION})"
                ),
                soon(),
            )
            .map_err(pg_error("record schema version"))?;
        }
        Some(from @ (1 | 2)) => {
            if from == 1 {
                conn.batch_execute(SCHEMA_V2, soon())
                    .map_err(pg_error("upgrade schema to version 2"))?;
            }
            conn.batch_execute(SCHEMA_V3, soon())
                .map_err(pg_error("upgrade schema to version 3"))?;
            conn.batch_execute(
                &format!("UPDATE mig06_meta SET schema_version = {SCHEMA_VERSION}"),
                soon(),
            )
            .map_err(pg_error("record schema version"))?;
        }
        Some(SCHEMA_VERSION) => {}
        Some(found) => {
            return Err(PgError::UnknownSchema {
                found,
                known: SCHEMA_VERSION,
            });
        }
    }
    const LOG_TABLES: &str =
        "mig06_records, mig06_claims, mig06_checkpoints, mig06_request_ids, mig06_nodes";
    if let Some(w) = &grants.writer {
        let w = role_ident(w)?;
        conn.batch_execute(
            &format!(
                "REVOKE ALL ON {LOG_TABLES}, mig06_head, mig06_meta FROM {w};
                 GRANT SELECT, INSERT ON {LOG_TABLES} TO {w};
                 GRANT SELECT, UPDATE ON mig06_head TO {w};
                 GRANT SELECT ON mig06_meta TO {w}"
            ),
            soon(),
        )
        .map_err(pg_error("grant writer"))?;
    }
    if let Some(r) = &grants.reader {
        let r = role_ident(r)?;
        conn.batch_execute(
            &format!(
                "REVOKE ALL ON {LOG_TABLES}, mig06_head, mig06_meta FROM {r};
                 GRANT SELECT ON {LOG_TABLES}, mig06_head, mig06_meta TO {r}"
            ),
            soon(),
        )
        .map_err(pg_error("grant reader"))?;
    }
    conn.batch_execute("COMMIT", soon())
        .map_err(pg_error("commit migrate"))?;
    Ok(MigrateReport {
        from,
        to: SCHEMA_VERSION,
    })
}

/// The rows of every statement a simple query ran, in order, as text cells.
pub(crate) fn rows(
    messages: &[SimpleQueryMessage],
) -> impl Iterator<Item = &tokio_postgres::SimpleQueryRow> {
    messages.iter().filter_map(|m| match m {
        SimpleQueryMessage::Row(r) => Some(r),
        _ => None,
    })
}

/// A cell selected as `encode(…, 'hex')`.
pub(crate) fn hex_cell(cell: Option<&str>) -> Option<Vec<u8>> {
    hex::decode(cell?).ok()
}

/// A byte string as a `bytea` expression (hex: no quoting question, every byte exact).
pub(crate) fn bytea_literal(bytes: &[u8]) -> String {
    format!("decode('{}', 'hex')", hex::encode(bytes))
}

/// A UTF-8 string as a `text` expression built from hex (no quoting question).
pub(crate) fn text_literal(text: &str) -> String {
    format!(
        "convert_from(decode('{}', 'hex'), 'UTF8')",
        hex::encode(text.as_bytes())
    )
}
