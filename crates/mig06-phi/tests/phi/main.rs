//! The detector's integration tests, one binary: per-kind positives, must-not-fire
//! negatives and property tests (`detector`), and the generalisation cases of issue 12:
//! key context inside text, key vocabulary by parts, international formats, names beyond
//! one census, URL and IP roles (`generalise`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is the failure report"
)]

mod adversarial23;
mod common;
mod detector;
mod generalise;
mod issue23;
