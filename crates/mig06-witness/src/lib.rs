//! A C2SP tlog-witness (<https://c2sp.org/tlog-witness>): the `add-checkpoint` request and
//! response bodies, a witness with its own durable state, and a blocking client.
//!
//! Design decision: this crate holds everything of the protocol that is not HTTP serving, so
//! the library-side client (used by the rail) and the `mig06 witness serve` command share one
//! strict parser and one set of status codes. It depends on `mig06-tlog` for notes,
//! checkpoints, cosignatures and proofs, and on nothing of the rail: a witness shares no state
//! with the log it watches. No async runtime, no threads, no retries.

pub mod client;
pub mod protocol;
pub mod store;
pub mod witness;

pub use client::{SubmitError, WitnessClient, WitnessClientError};
pub use protocol::{AddCheckpointRequest, RequestError};
pub use store::{Latest, Store, StoreError};
pub use witness::{AddError, Witness};
