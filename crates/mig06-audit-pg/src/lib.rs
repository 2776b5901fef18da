//! The MIG-06 rail's PostgreSQL audit store: several rail instances, on several machines,
//! appending to one verifiable log.
//!
//! The decision that matters: **the tree head is one row, locked for the length of each batch's
//! transaction** (`SELECT … FROM mig06_head FOR UPDATE`). Whoever holds it reads the records
//! other instances committed since it last looked, checks them exactly as the file store checks
//! its log ([`mig06_rail::audit::ledger`]), assigns the next leaf indices, inserts its batch,
//! moves the head and commits synchronously. Commits are therefore serialised, the committed
//! records are always a gap-free prefix of the log, and every instance holds the same tree. A
//! row lock, not an advisory lock, so the same SQL runs on PostgreSQL-compatible distributed
//! databases (CockroachDB, YugabyteDB).
//!
//! What each instance keeps in memory is the tree's right edge and the open records without a
//! terminal record: it starts from the database's tables at the latest signed checkpoint
//! (schema version 3: `index.rs`, the nodes and the rules' facts, never believed without a check
//! against the signed root), and reads the whole log only when they do not check out. It
//! catches up by reading the records past its size, inside the batch that holds the head lock
//! (or, for a read such as a continuation's root check, without the lock: committed records are
//! a prefix).
//!
//! A batch costs two round trips (lock and catch up; insert, move the head and commit) and one
//! synchronous commit, whatever its size. Nothing is retried: a failed or unknown commit fails
//! the whole batch (`ABORTED_AUDIT_UNCONFIRMED` for its attempts), the connection is dropped,
//! and the next batch connects anew and reads whatever the database holds, so a record whose
//! commit outcome was unknown is found (or not) then, never written twice.
//!
//! Every round trip is bounded on the client's clock, whatever the server does (`conn.rs`): by
//! the batch's earliest bound (its attempts' deadlines), by an attempt's deadline for the reads
//! it waits on, and otherwise by a stated timeout (`audit.connect_timeout_ms` for a connection
//! and for [`mig06_rail::audit::AuditStore::ready`], [`ROUND_TRIP_TIMEOUT`] for the rest). A
//! database that stops answering (a stopped server keeps its TCP connections up) therefore ends
//! each waiting attempt by its deadline, `ABORTED_AUDIT_UNCONFIRMED` or, when nothing of its
//! record was sent, `ABORTED_DEADLINE`.

mod conn;
mod index;
mod sql;
mod store;
mod view;

pub use store::{PgStore, open_store};
pub use view::{read_view, read_view_since};

/// The schema version this build knows; [`migrate`] creates or upgrades to it.
pub const SCHEMA_VERSION: i32 = 3;

/// Errors of the PostgreSQL store outside an append (those are [`mig06_rail::audit::AuditError`]).
/// Messages never carry the connection URL or a record's contents.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The database could not be reached or refused the connection.
    #[error("cannot connect to the audit database: {0}")]
    Connect(String),
    /// The database has no MIG-06 schema.
    #[error("the audit database has no mig06 schema: run `mig06 audit migrate --config FILE`")]
    NoSchema,
    /// The database's schema version is one this rail does not know.
    #[error(
        "the audit database has schema version {found}, this rail knows {known}: run `mig06 audit migrate --config FILE` with a rail that knows version {found}"
    )]
    UnknownSchema {
        /// The version found.
        found: i32,
        /// The version this build knows.
        known: i32,
    },
    /// A statement failed.
    #[error("audit database error during {op}: {message}")]
    Sql {
        /// What was being done.
        op: &'static str,
        /// What the database reported.
        message: String,
    },
    /// The log does not check out.
    #[error(transparent)]
    Log(#[from] mig06_rail::audit::ledger::LogFault),
    /// The connection settings are invalid.
    #[error("audit.url is not a valid PostgreSQL connection string")]
    BadUrl,
    /// The connection ended during `op` (the server shut down, restarted, failed over, or
    /// ended the session): the database is not there now, as opposed to a statement it refused.
    #[error("the audit database connection was lost during {op}: {message}")]
    ConnectionLost {
        /// What was being done.
        op: &'static str,
        /// The connection error (never a value of a record).
        message: String,
    },
    /// The database did not answer by the operation's bound (a stopped or stalled server keeps
    /// its connections up and answers nothing); the connection was discarded.
    #[error("the audit database did not answer in time during {op}")]
    TimedOut {
        /// What was being done.
        op: &'static str,
    },
}

impl From<PgError> for mig06_rail::audit::AuditError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Log(f) => f.into(),
            PgError::Sql { op, message } | PgError::ConnectionLost { op, message } => {
                Self::Backend { op, message }
            }
            // Nothing of a record is sent before the commit round trip, whose own timeout the
            // store maps to `sent: true`.
            PgError::TimedOut { .. } => Self::BoundPassed { sent: false },
            other => Self::Backend {
                op: "open audit database",
                message: other.to_string(),
            },
        }
    }
}

/// Roles to grant when migrating.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// The role the rail connects as: SELECT and INSERT on the log's tables, UPDATE on the head
    /// row only; never UPDATE, DELETE or TRUNCATE on records, claims or checkpoints.
    pub writer: Option<String>,
    /// An auditor's role: SELECT only.
    pub reader: Option<String>,
}

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// The version before (`None`: no schema).
    pub from: Option<i32>,
    /// The version now.
    pub to: i32,
}

pub use sql::{ROUND_TRIP_TIMEOUT, migrate};
