//! The rail's integration tests, one binary (one link of Cedar and the rest): the real rail
//! through its public API, with fakes only for the executor and, where a test injects faults, the
//! audit store. Tests that count the process's threads run in `tests/process`, a process of their
//! own, because every test here runs on a thread of this one.
#![allow(
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice,
    clippy::disallowed_methods,
    reason = "test code: a failed unwrap is a failed test, test items need no docs, and tests drive the rail from several threads"
)]

#[path = "../common/mod.rs"]
mod common;
// The real witness in process: one adapter for every witness test of this binary.
#[path = "../common/in_process_witness.rs"]
mod in_process_witness;

mod admission;
mod command_executor;
mod continuation;
mod fhir;
mod group_commit;
mod invariants;
mod invariants_table;
mod key_rotation;
mod next_steps;
mod operations_doc;
mod public_interface;
mod reference_executor;
mod repeated_members;
mod request_ids;
mod witnessed;
