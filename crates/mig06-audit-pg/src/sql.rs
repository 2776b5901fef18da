//! Connections, session settings, the schema and its migration.
//!
//! Statements that carry values are built as text only from values with a closed alphabet
//! (integers, hex, ULIDs checked by their type): the batch is two simple-query round trips, and
//! hex keeps every byte exact whatever the database's encoding.

use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

use mig06_rail::config::PostgresAudit;
use postgres::config::Host;
use postgres::{Client, NoTls, SimpleQueryMessage};

use crate::{Grants, MigrateReport, PgError, SCHEMA_VERSION};

/// The schema of version 1.
const SCHEMA_V1: &str = include_str!("schema.sql");
/// Version 1 to version 2: one attempt per request id.
const SCHEMA_V2: &str = include_str!("schema_v2.sql");

/// How long a batch waits for another instance's head lock before it fails.
pub(crate) const LOCK_TIMEOUT: &str = "5s";
/// A session idle inside a transaction this long (a writer that stopped while holding the head
/// lock) is ended by the server, which frees the lock for the other instances.
pub(crate) const IDLE_IN_TRANSACTION_TIMEOUT: &str = "10s";
/// A writer's statement taking longer than this fails (the batch is not confirmed).
pub(crate) const STATEMENT_TIMEOUT: &str = "10s";
/// How long data sent to the server may stay unacknowledged before the connection fails.
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

fn sql_error(op: &'static str) -> impl FnOnce(postgres::Error) -> PgError {
    move |e| PgError::Sql {
        op,
        message: describe(&e),
    }
}

/// A database error's own message and code, or the connection error with its cause; never the
/// statement (it may hold record bytes).
pub(crate) fn describe(e: &postgres::Error) -> String {
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

/// Connects with the configured settings. A TCP host name is resolved here, on the calling
/// thread, and handed to the driver as an address: the driver would otherwise resolve it on a
/// blocking-pool thread, and the rail starts no threads.
pub(crate) fn connect(settings: &PostgresAudit) -> Result<Client, PgError> {
    let url = settings.url().map_err(PgError::Connect)?;
    let mut config: postgres::Config = url.parse().map_err(|_| PgError::BadUrl)?;
    config.connect_timeout(settings.connect_timeout);
    // A server that stops answering (a cut network, a hung host) fails the round trip in
    // bounded time instead of holding the store: unacknowledged writes give up after
    // TCP_USER_TIMEOUT, and an idle wait for an answer is probed by keepalives.
    config.tcp_user_timeout(TCP_USER_TIMEOUT);
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(5));
    config.keepalives_interval(Duration::from_secs(1));
    config.keepalives_retries(3);
    if config.get_application_name().is_none() {
        // So a DBA can tell which process holds the head lock.
        config.application_name(&format!("mig06 pid {}", std::process::id()));
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
    config.connect(NoTls).map_err(|e| {
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
    })
}

/// Connects as a writer: synchronous commit always on (a commit returns only once it is
/// durable), and bounded waits.
pub(crate) fn connect_writer(settings: &PostgresAudit) -> Result<Client, PgError> {
    let mut client = connect(settings)?;
    client
        .batch_execute(&format!(
            "SET synchronous_commit TO on; SET lock_timeout TO '{LOCK_TIMEOUT}'; \
             SET idle_in_transaction_session_timeout TO '{IDLE_IN_TRANSACTION_TIMEOUT}'; \
             SET statement_timeout TO '{STATEMENT_TIMEOUT}'"
        ))
        .map_err(sql_error("set session"))?;
    check_schema(&mut client)?;
    Ok(client)
}

/// The schema version the database holds (`None`: no schema).
fn schema_version(client: &mut Client) -> Result<Option<i32>, PgError> {
    let exists = client
        .query_one("SELECT to_regclass('mig06_meta') IS NOT NULL", &[])
        .map_err(sql_error("read schema version"))?;
    if !exists.get::<_, bool>(0) {
        return Ok(None);
    }
    let row = client
        .query_opt("SELECT schema_version FROM mig06_meta", &[])
        .map_err(sql_error("read schema version"))?;
    Ok(row.map(|r| r.get::<_, i32>(0)))
}

/// Refuses a database without the schema or with a version this build does not know.
pub(crate) fn check_schema(client: &mut Client) -> Result<(), PgError> {
    match schema_version(client)? {
        None => Err(PgError::NoSchema),
        Some(SCHEMA_VERSION) => Ok(()),
        Some(found) => Err(PgError::UnknownSchema {
            found,
            known: SCHEMA_VERSION,
        }),
    }
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
/// writer and reader roles when given. Run it as the schema's owner.
///
/// # Errors
/// [`PgError`] when the database is unreachable, a statement fails, or the database has a
/// version newer than this build.
pub fn migrate(settings: &PostgresAudit, grants: &Grants) -> Result<MigrateReport, PgError> {
    let mut client = connect(settings)?;
    let mut tx = client.transaction().map_err(sql_error("begin migrate"))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS mig06_meta (
             singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
             schema_version integer NOT NULL
         );
         LOCK TABLE mig06_meta IN ACCESS EXCLUSIVE MODE",
    )
    .map_err(sql_error("create schema table"))?;
    let from = tx
        .query_opt("SELECT schema_version FROM mig06_meta", &[])
        .map_err(sql_error("read schema version"))?
        .map(|r| r.get::<_, i32>(0));
    match from {
        None => {
            tx.batch_execute(SCHEMA_V1)
                .map_err(sql_error("create schema"))?;
            tx.batch_execute(SCHEMA_V2)
                .map_err(sql_error("create schema"))?;
            tx.execute(
                "INSERT INTO mig06_meta (singleton, schema_version) VALUES (true, $1)",
                &[&SCHEMA_VERSION],
            )
            .map_err(sql_error("record schema version"))?;
        }
        Some(1) => {
            tx.batch_execute(SCHEMA_V2)
                .map_err(sql_error("upgrade schema to version 2"))?;
            tx.execute(
                "UPDATE mig06_meta SET schema_version = $1",
                &[&SCHEMA_VERSION],
            )
            .map_err(sql_error("record schema version"))?;
        }
        Some(SCHEMA_VERSION) => {}
        Some(found) => {
            return Err(PgError::UnknownSchema {
                found,
                known: SCHEMA_VERSION,
            });
        }
    }
    const LOG_TABLES: &str = "mig06_records, mig06_claims, mig06_checkpoints, mig06_request_ids";
    if let Some(w) = &grants.writer {
        let w = role_ident(w)?;
        tx.batch_execute(&format!(
            "REVOKE ALL ON {LOG_TABLES}, mig06_head, mig06_meta FROM {w};
             GRANT SELECT, INSERT ON {LOG_TABLES} TO {w};
             GRANT SELECT, UPDATE ON mig06_head TO {w};
             GRANT SELECT ON mig06_meta TO {w}"
        ))
        .map_err(sql_error("grant writer"))?;
    }
    if let Some(r) = &grants.reader {
        let r = role_ident(r)?;
        tx.batch_execute(&format!(
            "REVOKE ALL ON {LOG_TABLES}, mig06_head, mig06_meta FROM {r};
             GRANT SELECT ON {LOG_TABLES}, mig06_head, mig06_meta TO {r}"
        ))
        .map_err(sql_error("grant reader"))?;
    }
    tx.commit().map_err(sql_error("commit migrate"))?;
    Ok(MigrateReport {
        from,
        to: SCHEMA_VERSION,
    })
}

/// The rows of every statement a simple query ran, in order, as text cells.
pub(crate) fn rows(
    messages: &[SimpleQueryMessage],
) -> impl Iterator<Item = &postgres::SimpleQueryRow> {
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
