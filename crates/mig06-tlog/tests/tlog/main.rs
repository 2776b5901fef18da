//! The transparency log's integration tests, one binary: Merkle tree and proofs against
//! published vectors and every proof up to size 64 (`tree`), a cross-check against the
//! independent ct-merkle implementation (`ct_merkle`), signed checkpoints through the
//! public API (`checkpoint`), and key rotation statements (`rotation`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code: a panic is the failure report, and the sliced strings are ASCII test vectors"
)]

mod checkpoint;
mod cosignature_python;
mod ct_merkle;
mod rotation;
mod tree;
