//! The MIG-06 governance rail: the synchronous, deny-by-default, fail-closed gate that
//! AI-assisted clinical drafting passes through.
//!
//! One explicitly invoked attempt ([`rail::Rail::attempt`]) is parsed into closed types, scanned
//! for PHI, gated by Cedar policy, opened in the audit log, executed once, and terminalised with
//! exactly one [`outcome::TerminalCode`]. The audit log ([`audit`]) is the only durable state.
//!
//! This crate has no HTTP server, CLI parser or async runtime: the `mig06` binary supplies those.

pub mod attempt;
pub mod audit;
pub mod auth;
pub mod config;
pub mod evidence;
pub mod executor;
pub mod fhir;
pub mod ids;
pub mod init;
pub mod json;
pub mod outcome;
pub mod phi_scan;
pub mod policy;
pub mod proxy;
pub mod rail;
pub mod rekey;
pub mod request;
pub mod telemetry;
pub mod vocab;
pub mod witness;

pub use mig06_phi as phi;
pub use mig06_tlog as tlog;
