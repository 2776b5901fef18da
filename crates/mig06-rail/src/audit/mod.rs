//! The audit log: append-only, tamper-evident, the rail's only durable store.
//!
//! The decision that matters: the log file is the single source of truth and the only thing
//! synced; an append is confirmed only after `fdatasync` returns. Everything else (the Merkle
//! tree, the claims index, the latest signed checkpoint) is derived from the log and rebuilt or
//! re-checked when the store opens, so one sync per append (per batch of concurrent appends, see
//! [`group`]) is all durability costs. The latest checkpoint is signed when a terminal record is
//! appended (its evidence needs one), not for an attempt's open record, which the terminal
//! record's checkpoint then covers.
//!
//! INV-PROVENANCE: Provenance is metadata-only links between attempts and never a workflow store.

pub mod file;
pub mod group;
pub mod ledger;
pub mod rules;
pub mod verify;
mod wire;

pub(crate) use wire::{is_member, read_record};

#[cfg(test)]
mod integrity_tests;

use serde::{Deserialize, Serialize};

use crate::executor::Deadline;
use crate::ids::{AttemptId, CallerId, OpaqueId, RequestId, Sha256Digest, TraceId};
use crate::outcome::{DecisionSignal, Detail, Reason, TerminalCode};
use crate::vocab::{Code, ContinuationReason, Trigger};

pub use mig06_tlog::Hash;

/// Parses one log line as a record, with the one reader the checker uses: for a store that
/// must know what a line's check will look up before it pushes the line through
/// [`ledger::LineChecker`] (which alone decides whether the line is good). `None` when the
/// line is not a record; the checker then names the fault.
#[must_use]
pub fn parse_line(line: &[u8]) -> Option<AuditRecord> {
    read_record(line).ok()
}

/// Errors from the audit store. No variant carries record contents.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An I/O error: the append is not confirmed.
    #[error("audit log I/O error during {op}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The log on disk does not verify; the store refuses to open or append.
    #[error(
        "audit log is corrupt at record {index}: {what}; run `mig06 audit verify` and see docs/OPERATIONS.md, \"A log that no longer verifies\""
    )]
    Corrupt {
        /// The first bad record's index (0-based).
        index: u64,
        /// What is wrong.
        what: String,
    },
    /// The stored signed checkpoint does not match the log (truncation or tampering).
    #[error(
        "audit log does not match its signed checkpoint: {what}; run `mig06 audit verify` and see docs/OPERATIONS.md, \"A log that no longer verifies\""
    )]
    CheckpointMismatch {
        /// What is wrong.
        what: String,
    },
    /// The audit database refused or failed an operation (the append is not confirmed). The
    /// message is the database's, never a record's contents or a connection secret.
    #[error("audit database error during {op}: {message}")]
    Backend {
        /// What was being done.
        op: &'static str,
        /// What the database or the connection reported.
        message: String,
    },
    /// A record could not be serialised.
    #[error("audit record could not be encoded")]
    Encode,
    /// The store answered a batch without a result for one of its records: a broken store
    /// contract, so that record's append is not confirmed.
    #[error("the audit store gave no result for a record of the batch")]
    NoResult,
    /// The record breaks a rule of the log ([`rules::LedgerRules`]); it was not written.
    #[error("audit record refused: {0}")]
    Rule(#[from] rules::RuleViolation),
    /// The open record is durable, but fewer witnesses than the quorum cosigned a checkpoint
    /// that includes it in time: its step may not execute.
    #[error("the witnesses' quorum did not cosign the checkpoint in time")]
    WitnessUnconfirmed,
    /// The log was rolled back or forked (a witness or a caller's evidence knows a history the
    /// log does not hold): no step may execute.
    #[error("the audit log was rolled back or forked: {0}")]
    Tampered(crate::witness::Tamper),
    /// The store's signing key is not the log's key in force: the key was rotated (by another
    /// process while this store was open, or the configured key is a retired one), or a rotation
    /// was not finished. Nothing is appended.
    #[error(
        "the audit log's key was rotated: {what}; see docs/OPERATIONS.md, \"Rotating the log's key\""
    )]
    KeyRotated {
        /// What was found.
        what: String,
    },
    /// The append's bound passed before the store answered (a database that stopped
    /// answering, or a batch ahead of it that did): the append is not confirmed. `sent` is
    /// false when nothing of it reached the store (it was withdrawn from the queue), true when
    /// it may have (its outcome is then settled by the log, never by sending it again).
    #[error("the audit store did not answer by the append's bound")]
    BoundPassed {
        /// Whether the record may have reached the store.
        sent: bool,
    },
}

/// An open record, or a terminal record and its one code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Open,
    Terminal(TerminalCode),
}

/// Open (before executing) or terminal (the attempt's one terminal outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// The attempt is permitted and about to execute its step.
    Open,
    /// The attempt's terminal outcome.
    Terminal,
}

// INV-METADATA-ONLY: Artifacts, decision signals, audit material, correlation ids and outputs are
// metadata-only.
/// One audit record. Metadata only: every field is a closed type.
///
/// Whether it is an open or a terminal record, and a terminal record's code, are one private
/// field ([`AuditRecord::kind`], [`AuditRecord::code`]): a terminal record without a code, or
/// an open record with one, cannot be built, and is refused when read. Records are made by
/// [`AuditRecord::open`], [`AuditRecord::terminal`] and [`AuditRecord::ended`]; the bytes are
/// those of `docs/AUDIT-LOG.md` ([`wire`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "wire::Record")]
pub struct AuditRecord {
    /// The previous record's RFC 6962 leaf hash (hex); all zeros for the first record.
    pub prev: String,
    /// The record's index in the log (0-based).
    pub seq: u64,
    /// When the record was written (RFC 3339, UTC): a system event time.
    pub ts: String,
    /// Open, or terminal with its code.
    stage: Stage,
    /// The attempt.
    pub attempt_id: AttemptId,
    /// The authenticated caller.
    pub caller: CallerId,
    /// The caller's request id, on every record of the attempt that holds it: at most one
    /// attempt of a log holds a request id ([`rules`]). Absent when the request did not parse
    /// that far, and on the refusal of a request whose id another attempt holds.
    pub request_id: Option<RequestId>,
    /// The W3C trace id of the trace the attempt ran in (the HTTP service: the caller's
    /// `traceparent`, or a new trace), on every record of the attempt; absent for an attempt
    /// run without a trace context (the CLI) and on logs written before it existed.
    pub trace_id: Option<TraceId>,
    /// The trigger, when the request parsed that far.
    pub trigger: Option<Trigger>,
    /// The action, when the request parsed.
    pub action: Option<Code>,
    /// The request fingerprint, when the request parsed.
    pub request_fp: Option<Sha256Digest>,
    /// The policy bundle digest in force.
    pub policy_digest: Sha256Digest,
    /// The decision signal, when the gate ran.
    pub decision: Option<DecisionSignal>,
    /// Field path and reason of a denial or abort.
    pub detail: Option<Detail>,
    /// The draft reference (completed attempts).
    pub draft_ref: Option<OpaqueId>,
    /// The draft content digest (completed attempts).
    pub content_sha256: Option<Sha256Digest>,
    /// The prior attempt this attempt cites (provenance): set for every attempt whose evidence
    /// verified, whatever its outcome. Whether it holds the prior's one-continuation claim is
    /// `claim`.
    pub continues: Option<AttemptId>,
    /// The chain's first attempt.
    pub chain_root: AttemptId,
    /// Chain depth (0 for a fresh attempt).
    pub depth: u32,
    /// The continuation reason.
    pub reason: Option<ContinuationReason>,
    /// This record holds the one-continuation claim on `continues` (serialised only when true;
    /// see [`rules`]).
    pub claim: bool,
    /// An open record's deadline (RFC 3339 UTC): the attempt's deadline plus
    /// [`TERMINAL_GRACE`]. An open record still without a terminal record after it belongs to
    /// a process that stopped, and is ended `ABORTED_INTERRUPTED` by the next writer.
    pub deadline: Option<String>,
    /// The record's own signature by the log's key (standard base64 Ed25519), set by the store
    /// as it appends; always the record's last member. See [`ledger::seal`].
    pub sig: Option<String>,
}

/// How long after an attempt's deadline its terminal record may still arrive (the executor
/// returned at the deadline, then the terminal append waited for its group commit) before the
/// attempt counts as interrupted.
pub const TERMINAL_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// How long after an attempt's deadline its terminal record's append may still take: a
/// terminal append is bounded by the attempt's deadline plus this margin (so it is still
/// attempted after an executor that used the whole budget), an open append by the deadline
/// itself. Every attempt is therefore answered by its deadline plus this margin, whatever the
/// audit store does (docs/OPERATIONS.md, "answered by deadline + margin"). Shorter than
/// [`TERMINAL_GRACE`], so a terminal record is never still being appended when another writer
/// may end its attempt `ABORTED_INTERRUPTED`.
pub const TERMINAL_APPEND_MARGIN: std::time::Duration = std::time::Duration::from_secs(2);

const _: () = assert!(TERMINAL_APPEND_MARGIN.as_millis() < TERMINAL_GRACE.as_millis());

impl AuditRecord {
    /// An attempt's open record: written, and durable, before its one step runs. `deadline` is
    /// the wall-clock time after which a missing terminal record means the attempt was
    /// interrupted ([`AuditRecord::deadline_in`]). The store sets `prev`, `seq` and `sig` when it
    /// appends; attribution past the attempt, caller and policy (trigger, action, fingerprint,
    /// decision, provenance, claim) is set on the returned record.
    #[must_use]
    pub fn open(
        attempt_id: AttemptId,
        caller: CallerId,
        policy_digest: Sha256Digest,
        deadline: String,
    ) -> Self {
        let mut r = Self::fresh(Stage::Open, attempt_id, caller, policy_digest);
        r.deadline = Some(deadline);
        r
    }

    /// An attempt's terminal record, with its one code. As [`AuditRecord::open`] for the rest.
    #[must_use]
    pub fn terminal(
        attempt_id: AttemptId,
        caller: CallerId,
        policy_digest: Sha256Digest,
        code: TerminalCode,
        detail: Option<Detail>,
    ) -> Self {
        let mut r = Self::fresh(Stage::Terminal(code), attempt_id, caller, policy_digest);
        r.detail = detail;
        r
    }

    /// The terminal record, with `code`, that ends this record's attempt: the same attempt,
    /// caller, request, decision and provenance (so a claim this record holds passes on along its
    /// chain), a new time, no draft, no deadline, not yet appended.
    #[must_use]
    pub fn ended(&self, code: TerminalCode, detail: Option<Detail>) -> AuditRecord {
        AuditRecord {
            prev: String::new(),
            seq: 0,
            ts: now_rfc3339(),
            stage: Stage::Terminal(code),
            detail,
            draft_ref: None,
            content_sha256: None,
            deadline: None,
            sig: None,
            ..self.clone()
        }
    }

    /// Open or terminal.
    #[must_use]
    pub fn kind(&self) -> RecordKind {
        match self.stage {
            Stage::Open => RecordKind::Open,
            Stage::Terminal(_) => RecordKind::Terminal,
        }
    }

    /// A terminal record's code; `None` for an open record.
    #[must_use]
    pub fn code(&self) -> Option<TerminalCode> {
        match self.stage {
            Stage::Open => None,
            Stage::Terminal(code) => Some(code),
        }
    }

    /// Whether this is a terminal record.
    #[must_use]
    pub fn is_terminal(&self) -> bool {
        matches!(self.stage, Stage::Terminal(_))
    }

    /// The terminal `ABORTED_INTERRUPTED` record that ends this open record's attempt.
    #[must_use]
    pub fn interrupted(&self) -> AuditRecord {
        self.ended(
            TerminalCode::AbortedInterrupted,
            Some(Detail::new("$rail", Reason::Interrupted)),
        )
    }

    /// The one place a record is assembled field by field: `prev`, `seq` and `sig` are the
    /// store's to set, and a fresh attempt is its own chain root at depth 0.
    fn fresh(
        stage: Stage,
        attempt_id: AttemptId,
        caller: CallerId,
        policy_digest: Sha256Digest,
    ) -> Self {
        Self {
            prev: String::new(),
            seq: 0,
            ts: now_rfc3339(),
            stage,
            chain_root: attempt_id.clone(),
            attempt_id,
            caller,
            request_id: None,
            trace_id: None,
            trigger: None,
            action: None,
            request_fp: None,
            policy_digest,
            decision: None,
            detail: None,
            draft_ref: None,
            content_sha256: None,
            continues: None,
            depth: 0,
            reason: None,
            claim: false,
            deadline: None,
            sig: None,
        }
    }

    /// The wall-clock deadline to record in an open record whose attempt has `remaining` left.
    #[must_use]
    pub fn deadline_in(remaining: std::time::Duration) -> String {
        (time::OffsetDateTime::now_utc() + remaining + TERMINAL_GRACE)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
    }
}

/// All-zero hash, the `prev` of the first record.
pub const ZERO_HASH: Hash = [0u8; 32];

/// What a confirmed append returns: where the record is, and the evidence that proves it.
#[derive(Debug, Clone)]
pub struct Appended {
    /// The record's leaf index.
    pub index: u64,
    /// The record's RFC 6962 leaf hash.
    pub leaf_hash: Hash,
    /// The record's exact bytes (without the newline).
    pub bytes: Vec<u8>,
    /// Inclusion proof of the record in the tree of `checkpoint`.
    pub proof: Vec<Hash>,
    /// The signed checkpoint (C2SP signed note) of a tree that includes the record: of size
    /// `index + 1` for a single append, of the size after the batch's last record for a record
    /// committed in a batch ([`AuditStore::append_batch`]). Always present for a terminal record
    /// (its evidence needs it); a store may leave it out for an open record, which a later
    /// terminal record's checkpoint covers, since signing costs more than anything else an
    /// append does besides its `fdatasync`.
    pub checkpoint: Option<String>,
    /// The record as written.
    pub record: AuditRecord,
}

/// A durable, append-only audit store.
pub trait AuditStore: Send {
    /// Appends `record` (the store sets `prev` and `seq`) and returns only once it is durable.
    ///
    /// The log's rules ([`rules::LedgerRules`]) are enforced here, atomically: a record that
    /// breaks one (a claim on a prior attempt another attempt already holds, a second terminal
    /// record for one attempt, a second `COMPLETED_DRAFT` for one chain root) is not written.
    ///
    /// # Errors
    /// Any error means the append is not confirmed; [`AuditError::Rule`] means the record was
    /// refused by a rule and nothing was written for it.
    fn append(&mut self, record: AuditRecord) -> Result<Appended, AuditError>;

    /// Appends `records` in order, as [`AuditStore::append`] would one by one, and returns one
    /// result per record, in the same order, only once the records are durable. A store may make
    /// the whole batch durable at once (the file store: one write, one `fdatasync`, one signed
    /// checkpoint); then a failure fails every record of the batch. The default appends one by
    /// one.
    ///
    /// `bound` is the earliest bound of the batch's records (an open record's attempt deadline,
    /// a terminal record's deadline plus [`TERMINAL_APPEND_MARGIN`]). A store whose round trips
    /// can be abandoned (a database) returns by it, failing the batch with
    /// [`AuditError::BoundPassed`], discarding its connection and re-sending nothing; a store
    /// whose sync cannot be abandoned safely (the file store's `fdatasync`) ignores it, and the
    /// group commit's followers stop waiting at their own bounds instead.
    fn append_batch(
        &mut self,
        records: Vec<AuditRecord>,
        _bound: Deadline,
    ) -> Vec<Result<Appended, AuditError>> {
        records.into_iter().map(|r| self.append(r)).collect()
    }

    /// Bounds the round trips of the reads that follow ([`AuditStore::is_claim_held`],
    /// [`AuditStore::root_at`], [`AuditStore::leaf_at`]) by `bound`, until called again with
    /// `None`; a store without round trips ignores it (the default).
    fn bound_reads(&mut self, _bound: Option<Deadline>) {}

    /// Whether an attempt holds the claim on `prior` (a hint; [`AuditStore::append`] decides).
    ///
    /// # Errors
    /// I/O errors while catching up with other writers.
    fn is_claim_held(&mut self, prior: &AttemptId) -> Result<bool, AuditError>;

    /// The attempt of this log that holds `request_id`, if any (a hint;
    /// [`AuditStore::append`] decides).
    ///
    /// # Errors
    /// I/O errors while catching up with other writers.
    fn request_id_holder(
        &mut self,
        request_id: &RequestId,
    ) -> Result<Option<AttemptId>, AuditError>;

    /// The tree root at `size`, to check a continuation's checkpoint against this log.
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] when `size` exceeds the log.
    fn root_at(&mut self, size: u64) -> Result<Hash, AuditError>;

    /// The leaf hash at `index`.
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] when `index` is beyond the log.
    fn leaf_at(&mut self, index: u64) -> Result<Hash, AuditError>;

    /// The log's verifier key text (`name+keyid+base64`).
    fn verifier_key(&self) -> String;

    /// The log's key schedule, when the store keeps key rotations (the file store); `None`:
    /// one key, [`AuditStore::verifier_key`], for every size.
    fn log_keys(&self) -> Option<mig06_tlog::rotation::LogKeys> {
        None
    }

    /// After catching up with other writers: a checkpoint signed now over the whole log as the
    /// store knows it, for the witnesses. Its tree holds only records that a signature of the
    /// log's key covers (every record read or written is checked or sealed).
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] when the log holds fewer than `at_least` records (a witness
    /// knows a larger tree: the log was rolled back); any other error: not now.
    fn witness_checkpoint(
        &mut self,
        at_least: u64,
    ) -> Result<crate::witness::WitnessCheckpoint, AuditError>;

    /// The RFC 6962 consistency proof from `old` to `new` records.
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] when a size exceeds the log.
    fn consistency_proof(&mut self, old: u64, new: u64) -> Result<Vec<Hash>, AuditError>;

    /// The RFC 6962 inclusion proof of leaf `index` in the tree of `size` records.
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] when `index` or `size` exceeds the log.
    fn inclusion_proof(&mut self, index: u64, size: u64) -> Result<Vec<Hash>, AuditError>;

    /// How many times the store synced its log, when it counts (for tests and metrics).
    fn syncs(&self) -> Option<u64> {
        None
    }

    /// Whether the store would attempt an append now (a readiness probe): the PostgreSQL store
    /// reaches its database and reads what others appended; the default is ready.
    ///
    /// # Errors
    /// Why it would not: the same error an append would meet.
    fn ready(&mut self) -> Result<(), AuditError> {
        Ok(())
    }
}

/// Hex of a hash.
#[must_use]
pub fn hash_hex(h: &Hash) -> String {
    hex::encode(h)
}

/// The current time as RFC 3339 UTC.
#[must_use]
pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
}
