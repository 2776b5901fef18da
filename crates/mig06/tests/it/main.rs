//! The `mig06` crate's integration tests, as one test binary: the CLI contract, the HTTP service
//! on both transports, the PHI leak test and two instances on one PostgreSQL log. Each runs the
//! real `mig06` binary as a child process; the modules share [`common`] (set-ups, a served
//! instance, an HTTP client, the example downstream service).

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap, expect or index is a failed test, which is the point"
)]

mod common;

mod audit_index;
mod auditor_keys;
mod cli;
mod deadline;
mod explain;
mod http_caller;
mod http_executor;
mod http_limits;
mod http_service;
mod http_tls;
mod key_rotation;
mod leak;
mod oplog;
mod otlp;
mod pg_instances;
mod witness;
