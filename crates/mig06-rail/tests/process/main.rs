//! Tests that count this process's threads (`/proc/self/task`): a binary of their own, and one
//! at a time within it ([`common::ONE_AT_A_TIME`]), so no other test's thread is counted.
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

mod fault_matrix;
mod no_background;
