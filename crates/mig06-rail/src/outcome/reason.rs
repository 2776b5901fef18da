//! The closed set of reason codes a [`Detail`](super::Detail) carries.
//!
//! The decision that matters: a reason is a value of [`Reason`], never text built at the call
//! site, so every code the rail can write is listed here (and in `docs/OPERATIONS.md`, which a
//! test keeps identical), and no reason can carry request data. Three reasons carry numbers or
//! PHI kinds; their rendered form is fixed and is parsed back exactly, so a record read from the
//! log re-encodes to the bytes it was read from.

use std::fmt;

use mig06_phi::PhiKind;
use serde::{Deserialize, Serialize};

/// Why an attempt was denied or aborted: the `reason` of a [`Detail`](super::Detail).
///
/// Closed: a new reason is a new variant, a new entry in [`Reason::ALL`] and a new line in
/// `docs/OPERATIONS.md`. The rendered string ([`fmt::Display`]) is what responses and audit
/// records carry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reason {
    // The request (DENIED_REQUEST_INVALID, DENIED_MULTI_STEP, ABORTED_PHI_DETECTED).
    /// The request body is larger than the configured limit.
    TooLarge,
    /// The request is not JSON; rendered `malformed_json(line L, column C)`.
    MalformedJson {
        /// Line of the first error (1-based).
        line: usize,
        /// Column of the first error (1-based).
        column: usize,
    },
    /// The request nests deeper than the parser accepts.
    TooDeep,
    /// An object in the request (or a receipt) repeats a member name (I-JSON, RFC 7493 §2.3);
    /// the field is where the second occurrence stands.
    DuplicateMember,
    /// A JSON object was expected (the request, a step, `params`, `continuation`, a receipt).
    NotAnObject,
    /// The request asked for more than one step; rendered `N_steps`.
    Steps(usize),
    /// A key the position does not allow (request or receipt).
    UnknownField,
    /// A required key is missing (request or receipt).
    MissingField,
    /// A string was expected.
    NotAString,
    /// A string is longer than the parser accepts.
    TooLong,
    /// `request_id` is neither a ULID nor a UUID.
    NotUlidOrUuid,
    /// The trigger is not one of the closed trigger codes.
    UnknownTrigger,
    /// The trigger names an autonomous category (scheduled, retry, event, ...).
    ForbiddenAutonomousTrigger,
    /// An opaque id was expected (`subject`, an `id` parameter, a receipt's `draft_ref`).
    NotOpaqueId,
    /// `steps` is not an array.
    NotAnArray,
    /// `steps` is empty.
    NoStep,
    /// The action is not in the vocabulary.
    UnknownAction,
    /// A parameter the action does not declare.
    UnknownParam,
    /// A required parameter is missing.
    MissingParam,
    /// An enum parameter's value is not one of its codes.
    NotInVocabulary,
    /// An integer parameter is outside its range.
    OutOfRange,
    /// A SHA-256 digest was expected (a `digest` parameter, a receipt's `content_sha256`).
    NotSha256Digest,
    /// A parameter has the wrong JSON type.
    WrongType,
    /// The continuation's evidence is not token-shaped text.
    NotAnEvidenceToken,
    /// The continuation reason is not one of the closed reason codes.
    UnknownReason,
    /// A PHI/PII detector hit; rendered `phi:KIND,KIND` with the kinds' codes.
    Phi(Vec<PhiKind>),

    // The continuation (DENIED_CONTINUATION_*, ABORTED_AUDIT_UNCONFIRMED).
    /// The evidence token is not a token of this format.
    Malformed,
    /// The token's checkpoint is not signed by this log's key.
    BadSignature,
    /// The token's inclusion proof does not lead to its signed root.
    BadProof,
    /// The token's record is not a terminal record.
    NotTerminal,
    /// The token verified but its record is not in this log at that index.
    NotInThisLog,
    /// The log could not be read to check the token.
    LogUnreadable,
    /// The prior attempt is not continuable.
    PriorNotContinuable,
    /// The prior attempt has already been continued.
    AlreadyContinued,
    /// The continuation repeats the prior request unchanged.
    UnchangedRequest,

    // The trigger gate (DENIED_UNAPPROVED_TRIGGER).
    /// The caller's registration does not include the trigger.
    NotRegisteredForCaller,
    /// The policy did not permit the trigger.
    NotPermittedByPolicy,

    // The rail and its audit log.
    /// The deadline passed before the open record was written.
    DeadlinePassedBeforeOpen,
    /// The audit log did not confirm the append.
    AppendUnconfirmed,
    /// The terminal record was appended without a signed checkpoint.
    EvidenceUnavailable,
    /// A panic was caught while the attempt ran.
    Panic,
    /// The process running the attempt stopped after its open record.
    Interrupted,
    /// The request id is already held by another attempt of this log.
    RequestIdUsed,
    /// Fewer witnesses than the quorum cosigned the checkpoint in time.
    WitnessQuorumUnconfirmed,
    /// A witness has cosigned a larger tree of this log than the log holds.
    WitnessKnowsLargerTree,
    /// A witness refused this log's history from the size it knows, or its cosignature did not verify.
    WitnessDisagrees,
    /// A caller's evidence carries this log's signed checkpoint of a size the log does not reach.
    EvidenceBeyondLog,
    /// A caller's evidence carries this log's signed checkpoint whose root disagrees with the log.
    EvidenceRootMismatch,
    /// An earlier attempt found the log rolled back or forked; every attempt is refused until an operator acts.
    RollbackLatched,

    // The executor (ABORTED_EXECUTOR_FAULT, ABORTED_DEADLINE, ABORTED_ASYNC_AMBIGUITY).
    /// The executor was stopped at the deadline.
    Deadline,
    /// The executor answered after the deadline; the answer was discarded.
    LateAnswer,
    /// Command executor: its scratch directory or output file was unavailable.
    ScratchUnavailable,
    /// Command executor: the program could not be started.
    SpawnFailed,
    /// Command executor: waiting for the program failed.
    WaitFailed,
    /// Command executor: the program exited non-zero.
    NonzeroExit,
    /// Command executor: its output could not be read.
    ReadOutput,
    /// Command executor: its output exceeded the receipt limit.
    OutputTooLarge,
    /// Command executor: its output is not JSON.
    OutputNotJson,
    /// Command executor: the step input could not be encoded.
    EncodeInput,
    /// Reference executor: the draft could not be encoded.
    EncodeDraft,
    /// Reference executor: the draft store could not be opened.
    DraftStoreUnavailable,
    /// Reference executor: the draft could not be written.
    DraftStoreWriteFailed,
    /// HTTP executor: the step input could not be encoded.
    InputNotSerialisable,
    /// HTTP executor: the host name did not resolve.
    HostNotFound,
    /// HTTP executor: no connection could be made.
    ConnectionFailed,
    /// HTTP executor: the connection failed during the exchange.
    TransportError,
    /// HTTP executor: any other client error.
    HttpError,
    /// HTTP executor: the status was not a final success (1xx and 202 are not final; any other
    /// status is a fault).
    HttpStatus,
    /// HTTP executor: the body exceeded the receipt limit.
    ReceiptTooLarge,
    /// HTTP executor: the body is not JSON.
    ReceiptNotJson,
    /// An async executor's future was still pending at the deadline.
    FuturePendingAtDeadline,
    /// Written by builds before the HTTP executor existed for an `http` executor; read back
    /// from old logs, never written now.
    HttpExecutorUnavailable,

    // The receipt (ABORTED_ASYNC_AMBIGUITY, ABORTED_EXECUTOR_FAULT, ABORTED_OUTPUT_NOT_DRAFT).
    /// The receipt's status is pending, queued, accepted or running.
    NotFinal,
    /// The receipt's status is not a known final status.
    UnknownStatus,
    /// The receipt claims finalisation, signing, attestation or write-back.
    FinalisationClaim,
    /// The receipt's `docStatus` is not `preliminary`.
    NotPreliminary,
    /// The receipt's `disposition` is not `draft`.
    NotDraft,
}

/// How a reason renders (one exhaustive match decides it for code, parsing and display).
#[derive(Debug, Clone, Copy)]
enum Form<'a> {
    /// The code itself.
    Code(&'static str),
    /// `malformed_json(line L, column C)`.
    MalformedJson(usize, usize),
    /// `N_steps`.
    Steps(usize),
    /// `phi:KIND,KIND`.
    Phi(&'a [PhiKind]),
}

/// Prefix and suffix of the rendered [`Reason::MalformedJson`].
const MALFORMED_JSON: (&str, &str, &str) = ("malformed_json(line ", ", column ", ")");
/// Suffix of the rendered [`Reason::Steps`].
const STEPS_SUFFIX: &str = "_steps";
/// Prefix of the rendered [`Reason::Phi`].
const PHI_PREFIX: &str = "phi:";

impl Reason {
    /// Every reason, in documentation order; the parameterised ones with placeholder values.
    pub const ALL: [Reason; 77] = [
        Self::TooLarge,
        Self::MalformedJson { line: 0, column: 0 },
        Self::TooDeep,
        Self::DuplicateMember,
        Self::NotAnObject,
        Self::Steps(0),
        Self::UnknownField,
        Self::MissingField,
        Self::NotAString,
        Self::TooLong,
        Self::NotUlidOrUuid,
        Self::UnknownTrigger,
        Self::ForbiddenAutonomousTrigger,
        Self::NotOpaqueId,
        Self::NotAnArray,
        Self::NoStep,
        Self::UnknownAction,
        Self::UnknownParam,
        Self::MissingParam,
        Self::NotInVocabulary,
        Self::OutOfRange,
        Self::NotSha256Digest,
        Self::WrongType,
        Self::NotAnEvidenceToken,
        Self::UnknownReason,
        Self::Phi(Vec::new()),
        Self::Malformed,
        Self::BadSignature,
        Self::BadProof,
        Self::NotTerminal,
        Self::NotInThisLog,
        Self::LogUnreadable,
        Self::PriorNotContinuable,
        Self::AlreadyContinued,
        Self::UnchangedRequest,
        Self::NotRegisteredForCaller,
        Self::NotPermittedByPolicy,
        Self::DeadlinePassedBeforeOpen,
        Self::AppendUnconfirmed,
        Self::EvidenceUnavailable,
        Self::Panic,
        Self::Interrupted,
        Self::RequestIdUsed,
        Self::WitnessQuorumUnconfirmed,
        Self::WitnessKnowsLargerTree,
        Self::WitnessDisagrees,
        Self::EvidenceBeyondLog,
        Self::EvidenceRootMismatch,
        Self::RollbackLatched,
        Self::Deadline,
        Self::LateAnswer,
        Self::ScratchUnavailable,
        Self::SpawnFailed,
        Self::WaitFailed,
        Self::NonzeroExit,
        Self::ReadOutput,
        Self::OutputTooLarge,
        Self::OutputNotJson,
        Self::EncodeInput,
        Self::EncodeDraft,
        Self::DraftStoreUnavailable,
        Self::DraftStoreWriteFailed,
        Self::InputNotSerialisable,
        Self::HostNotFound,
        Self::ConnectionFailed,
        Self::TransportError,
        Self::HttpError,
        Self::HttpStatus,
        Self::ReceiptTooLarge,
        Self::ReceiptNotJson,
        Self::FuturePendingAtDeadline,
        Self::HttpExecutorUnavailable,
        Self::NotFinal,
        Self::UnknownStatus,
        Self::FinalisationClaim,
        Self::NotPreliminary,
        Self::NotDraft,
    ];

    /// The stable code: the rendered string for a reason without data; for the three with data,
    /// the name of the form (`malformed_json`, `steps`, `phi`).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self.form() {
            Form::Code(code) => code,
            Form::MalformedJson(..) => "malformed_json",
            Form::Steps(_) => "steps",
            Form::Phi(_) => "phi",
        }
    }

    /// How the reason renders: its code, or one of the three forms with data.
    fn form(&self) -> Form<'_> {
        match self {
            Self::TooLarge => Form::Code("too_large"),
            Self::MalformedJson { line, column } => Form::MalformedJson(*line, *column),
            Self::TooDeep => Form::Code("too_deep"),
            Self::DuplicateMember => Form::Code("duplicate_member"),
            Self::NotAnObject => Form::Code("not_an_object"),
            Self::Steps(n) => Form::Steps(*n),
            Self::UnknownField => Form::Code("unknown_field"),
            Self::MissingField => Form::Code("missing_field"),
            Self::NotAString => Form::Code("not_a_string"),
            Self::TooLong => Form::Code("too_long"),
            Self::NotUlidOrUuid => Form::Code("not_ulid_or_uuid"),
            Self::UnknownTrigger => Form::Code("unknown_trigger"),
            Self::ForbiddenAutonomousTrigger => Form::Code("forbidden_autonomous_trigger"),
            Self::NotOpaqueId => Form::Code("not_opaque_id"),
            Self::NotAnArray => Form::Code("not_an_array"),
            Self::NoStep => Form::Code("no_step"),
            Self::UnknownAction => Form::Code("unknown_action"),
            Self::UnknownParam => Form::Code("unknown_param"),
            Self::MissingParam => Form::Code("missing_param"),
            Self::NotInVocabulary => Form::Code("not_in_vocabulary"),
            Self::OutOfRange => Form::Code("out_of_range"),
            Self::NotSha256Digest => Form::Code("not_sha256_digest"),
            Self::WrongType => Form::Code("wrong_type"),
            Self::NotAnEvidenceToken => Form::Code("not_an_evidence_token"),
            Self::UnknownReason => Form::Code("unknown_reason"),
            Self::Phi(kinds) => Form::Phi(kinds),
            Self::Malformed => Form::Code("malformed"),
            Self::BadSignature => Form::Code("bad_signature"),
            Self::BadProof => Form::Code("bad_proof"),
            Self::NotTerminal => Form::Code("not_terminal"),
            Self::NotInThisLog => Form::Code("not_in_this_log"),
            Self::LogUnreadable => Form::Code("log_unreadable"),
            Self::PriorNotContinuable => Form::Code("prior_not_continuable"),
            Self::AlreadyContinued => Form::Code("already_continued"),
            Self::UnchangedRequest => Form::Code("unchanged_request"),
            Self::NotRegisteredForCaller => Form::Code("not_registered_for_caller"),
            Self::NotPermittedByPolicy => Form::Code("not_permitted_by_policy"),
            Self::DeadlinePassedBeforeOpen => Form::Code("deadline_passed_before_open"),
            Self::AppendUnconfirmed => Form::Code("append_unconfirmed"),
            Self::EvidenceUnavailable => Form::Code("evidence_unavailable"),
            Self::Panic => Form::Code("panic"),
            Self::Interrupted => Form::Code("interrupted"),
            Self::RequestIdUsed => Form::Code("request_id_used"),
            Self::WitnessQuorumUnconfirmed => Form::Code("witness_quorum_unconfirmed"),
            Self::WitnessKnowsLargerTree => Form::Code("witness_knows_larger_tree"),
            Self::WitnessDisagrees => Form::Code("witness_disagrees"),
            Self::EvidenceBeyondLog => Form::Code("evidence_beyond_log"),
            Self::EvidenceRootMismatch => Form::Code("evidence_root_mismatch"),
            Self::RollbackLatched => Form::Code("rollback_latched"),
            Self::Deadline => Form::Code("deadline"),
            Self::LateAnswer => Form::Code("late_answer"),
            Self::ScratchUnavailable => Form::Code("scratch_unavailable"),
            Self::SpawnFailed => Form::Code("spawn_failed"),
            Self::WaitFailed => Form::Code("wait_failed"),
            Self::NonzeroExit => Form::Code("nonzero_exit"),
            Self::ReadOutput => Form::Code("read_output"),
            Self::OutputTooLarge => Form::Code("output_too_large"),
            Self::OutputNotJson => Form::Code("output_not_json"),
            Self::EncodeInput => Form::Code("encode_input"),
            Self::EncodeDraft => Form::Code("encode_draft"),
            Self::DraftStoreUnavailable => Form::Code("draft_store_unavailable"),
            Self::DraftStoreWriteFailed => Form::Code("draft_store_write_failed"),
            Self::InputNotSerialisable => Form::Code("input_not_serialisable"),
            Self::HostNotFound => Form::Code("host_not_found"),
            Self::ConnectionFailed => Form::Code("connection_failed"),
            Self::TransportError => Form::Code("transport_error"),
            Self::HttpError => Form::Code("http_error"),
            Self::HttpStatus => Form::Code("http_status"),
            Self::ReceiptTooLarge => Form::Code("receipt_too_large"),
            Self::ReceiptNotJson => Form::Code("receipt_not_json"),
            Self::FuturePendingAtDeadline => Form::Code("future_pending_at_deadline"),
            Self::HttpExecutorUnavailable => Form::Code("http_executor_unavailable"),
            Self::NotFinal => Form::Code("not_final"),
            Self::UnknownStatus => Form::Code("unknown_status"),
            Self::FinalisationClaim => Form::Code("finalisation_claim"),
            Self::NotPreliminary => Form::Code("not_preliminary"),
            Self::NotDraft => Form::Code("not_draft"),
        }
    }

    /// The terminal codes that carry this reason and what it means, exactly as its row of
    /// `docs/OPERATIONS.md` ("Reason codes") reads (a test keeps the two identical); `mig06
    /// explain` prints it.
    #[must_use]
    pub fn meaning(&self) -> (&'static str, &'static str) {
        match self {
            Self::TooLarge => (
                "`DENIED_REQUEST_INVALID`",
                "the request body is larger than the configured limit",
            ),
            Self::MalformedJson { .. } => (
                "`DENIED_REQUEST_INVALID`",
                "the request is not JSON; the position of the first error is given, never the text",
            ),
            Self::TooDeep => (
                "`DENIED_REQUEST_INVALID`",
                "the request (or a receipt) nests deeper than 8 levels",
            ),
            Self::DuplicateMember => (
                "`DENIED_REQUEST_INVALID`, `ABORTED_EXECUTOR_FAULT`",
                "an object repeats a member name (I-JSON, RFC 7493 §2.3), at any depth: in the request, the field is where the second occurrence stands (PHI in either occurrence is `ABORTED_PHI_DETECTED` first); in the executor's answer, the field is `$executor` and the answer is refused before it is read as a receipt",
            ),
            Self::NotAnObject => (
                "`DENIED_REQUEST_INVALID`, `ABORTED_EXECUTOR_FAULT`",
                "a JSON object was expected: the request, a step, `params`, `continuation`, or the executor's receipt",
            ),
            Self::Steps(_) => (
                "`DENIED_MULTI_STEP`",
                "the request asked for N steps; the rail runs exactly one",
            ),
            Self::UnknownField => (
                "`DENIED_REQUEST_INVALID`, `ABORTED_EXECUTOR_FAULT`",
                "a key the position does not allow, in the request or the receipt (named only if it is one of the rail's own words)",
            ),
            Self::MissingField => (
                "`DENIED_REQUEST_INVALID`, `ABORTED_EXECUTOR_FAULT`",
                "a required key is missing from the request, or `disposition` from the receipt",
            ),
            Self::NotAString => ("`DENIED_REQUEST_INVALID`", "a string was expected"),
            Self::TooLong => (
                "`DENIED_REQUEST_INVALID`",
                "a string is longer than 256 bytes (32 KiB for an evidence token)",
            ),
            Self::NotUlidOrUuid => (
                "`DENIED_REQUEST_INVALID`",
                "`request_id` is neither a ULID nor a lowercase UUID",
            ),
            Self::UnknownTrigger => (
                "`DENIED_REQUEST_INVALID`",
                "the trigger is not one of the closed trigger codes",
            ),
            Self::ForbiddenAutonomousTrigger => (
                "`DENIED_REQUEST_INVALID`",
                "the trigger names an autonomous category (scheduled, retry, event, ...)",
            ),
            Self::NotOpaqueId => (
                "`DENIED_REQUEST_INVALID`, `ABORTED_EXECUTOR_FAULT`",
                "an opaque id was expected: `subject`, an `id` parameter, or the receipt's `draft_ref`",
            ),
            Self::NotAnArray => ("`DENIED_REQUEST_INVALID`", "`steps` is not an array"),
            Self::NoStep => ("`DENIED_REQUEST_INVALID`", "`steps` is empty"),
            Self::UnknownAction => (
                "`DENIED_REQUEST_INVALID`",
                "the action is not in the bundle's vocabulary",
            ),
            Self::UnknownParam => (
                "`DENIED_REQUEST_INVALID`",
                "a parameter the action does not declare",
            ),
            Self::MissingParam => (
                "`DENIED_REQUEST_INVALID`",
                "a required parameter is missing",
            ),
            Self::NotInVocabulary => (
                "`DENIED_REQUEST_INVALID`",
                "an enum parameter's value is not one of its codes (free text is never accepted)",
            ),
            Self::OutOfRange => (
                "`DENIED_REQUEST_INVALID`",
                "an integer parameter is outside its declared range",
            ),
            Self::NotSha256Digest => (
                "`DENIED_REQUEST_INVALID`, `ABORTED_EXECUTOR_FAULT`",
                "a `sha256:` digest was expected: a `digest` parameter, or the receipt's `content_sha256`",
            ),
            Self::WrongType => (
                "`DENIED_REQUEST_INVALID`",
                "a parameter has the wrong JSON type",
            ),
            Self::NotAnEvidenceToken => (
                "`DENIED_REQUEST_INVALID`",
                "the continuation's evidence is not token-shaped text",
            ),
            Self::UnknownReason => (
                "`DENIED_REQUEST_INVALID`",
                "the continuation reason is not one of the closed continuation reasons",
            ),
            Self::Phi(_) => (
                "`ABORTED_PHI_DETECTED`",
                "the detector found identifiers of these kinds at the field path, in the request (keys included), an evidence token's record, or the receipt",
            ),
            Self::Malformed => (
                "`DENIED_CONTINUATION_INVALID`",
                "the evidence token is not a token of this format",
            ),
            Self::BadSignature => (
                "`DENIED_CONTINUATION_INVALID`",
                "the token's checkpoint is not signed by this log's key",
            ),
            Self::BadProof => (
                "`DENIED_CONTINUATION_INVALID`",
                "the token's inclusion proof does not lead to its signed root",
            ),
            Self::NotTerminal => (
                "`DENIED_CONTINUATION_INVALID`",
                "the token's record is not a terminal record",
            ),
            Self::NotInThisLog => (
                "`DENIED_CONTINUATION_INVALID`",
                "the token verified, but its record is not in this log at that index",
            ),
            Self::LogUnreadable => (
                "`ABORTED_AUDIT_UNCONFIRMED`",
                "the audit log could not be read to check the token",
            ),
            Self::PriorNotContinuable => (
                "`DENIED_CONTINUATION_INVALID`",
                "the prior attempt is not continuable (see \"Continuations and chains\")",
            ),
            Self::AlreadyContinued => (
                "`DENIED_CONTINUATION_ALREADY_USED`",
                "another attempt holds the prior's one continuation",
            ),
            Self::UnchangedRequest => (
                "`DENIED_CONTINUATION_IS_RETRY`",
                "the continuation is the prior's request, unchanged (or the prior is an `ABORTED_INVARIANT` without a fingerprint, which cannot be compared), and policy did not allow its reason",
            ),
            Self::NotRegisteredForCaller => (
                "`DENIED_UNAPPROVED_TRIGGER`",
                "the caller's registration does not include the trigger",
            ),
            Self::NotPermittedByPolicy => (
                "`DENIED_UNAPPROVED_TRIGGER`",
                "the policy's trigger gate did not permit the trigger",
            ),
            Self::DeadlinePassedBeforeOpen => (
                "`ABORTED_DEADLINE`",
                "the deadline passed before the open record was written, so the step never ran",
            ),
            Self::AppendUnconfirmed => (
                "`ABORTED_AUDIT_UNCONFIRMED`",
                "the audit log did not confirm a durable append",
            ),
            Self::EvidenceUnavailable => (
                "`ABORTED_AUDIT_UNCONFIRMED`",
                "the terminal record was appended without a signed checkpoint, so no evidence can be given",
            ),
            Self::Panic => (
                "`ABORTED_INVARIANT`",
                "the rail caught a panic while the attempt ran",
            ),
            Self::Interrupted => (
                "`ABORTED_INTERRUPTED`",
                "the process running the attempt stopped after its open record; a later writer ended it",
            ),
            Self::RequestIdUsed => (
                "`DENIED_REQUEST_ID_REUSED`",
                "another attempt of this log holds the request id",
            ),
            Self::WitnessQuorumUnconfirmed => (
                "`ABORTED_AUDIT_UNCONFIRMED`",
                "the open record is durable, but fewer witnesses than the quorum cosigned a checkpoint that includes it in time",
            ),
            Self::WitnessKnowsLargerTree => (
                "`ABORTED_LOG_ROLLBACK`",
                "a witness has cosigned a larger tree of this log than the log holds",
            ),
            Self::WitnessDisagrees => (
                "`ABORTED_LOG_ROLLBACK`",
                "a witness refused this log's history from the size it knows, or its cosignature did not verify",
            ),
            Self::EvidenceBeyondLog => (
                "`ABORTED_LOG_ROLLBACK`",
                "a caller's token carries this log's signed checkpoint of a size the log does not reach",
            ),
            Self::EvidenceRootMismatch => (
                "`ABORTED_LOG_ROLLBACK`",
                "a caller's token carries this log's signed checkpoint whose root differs from the log's at that size",
            ),
            Self::RollbackLatched => (
                "`ABORTED_LOG_ROLLBACK`",
                "an earlier attempt found the log rolled back or forked; every attempt is refused until an operator acts",
            ),
            Self::Deadline => (
                "`ABORTED_DEADLINE`",
                "the executor was stopped at the deadline",
            ),
            Self::LateAnswer => (
                "`ABORTED_DEADLINE`",
                "the executor answered after the deadline; the answer was discarded",
            ),
            Self::ScratchUnavailable => (
                "`ABORTED_EXECUTOR_FAULT`",
                "command executor: its private scratch directory or output file could not be used",
            ),
            Self::SpawnFailed => (
                "`ABORTED_EXECUTOR_FAULT`",
                "command executor: the program could not be started",
            ),
            Self::WaitFailed => (
                "`ABORTED_EXECUTOR_FAULT`",
                "command executor: waiting for the program failed",
            ),
            Self::NonzeroExit => (
                "`ABORTED_EXECUTOR_FAULT`",
                "command executor: the program exited non-zero",
            ),
            Self::ReadOutput => (
                "`ABORTED_EXECUTOR_FAULT`",
                "command executor: the program's output could not be read",
            ),
            Self::OutputTooLarge => (
                "`ABORTED_EXECUTOR_FAULT`",
                "command executor: the output exceeded 64 KiB",
            ),
            Self::OutputNotJson => (
                "`ABORTED_EXECUTOR_FAULT`",
                "command executor: the output is not JSON",
            ),
            Self::EncodeInput => (
                "`ABORTED_EXECUTOR_FAULT`",
                "command executor: the step input could not be encoded",
            ),
            Self::EncodeDraft => (
                "`ABORTED_EXECUTOR_FAULT`",
                "reference executor: the draft could not be encoded",
            ),
            Self::DraftStoreUnavailable => (
                "`ABORTED_EXECUTOR_FAULT`",
                "reference executor: the draft directory or file could not be created",
            ),
            Self::DraftStoreWriteFailed => (
                "`ABORTED_EXECUTOR_FAULT`",
                "reference executor: the draft could not be written and synced",
            ),
            Self::InputNotSerialisable => (
                "`ABORTED_EXECUTOR_FAULT`",
                "HTTP executor: the step input could not be encoded",
            ),
            Self::HostNotFound => (
                "`ABORTED_EXECUTOR_FAULT`",
                "HTTP executor: the service's host name did not resolve",
            ),
            Self::ConnectionFailed => (
                "`ABORTED_EXECUTOR_FAULT`",
                "HTTP executor: no connection to the service could be made",
            ),
            Self::TransportError => (
                "`ABORTED_EXECUTOR_FAULT`",
                "HTTP executor: the connection failed during the exchange",
            ),
            Self::HttpError => (
                "`ABORTED_EXECUTOR_FAULT`",
                "HTTP executor: any other client error (a malformed answer, say)",
            ),
            Self::HttpStatus => (
                "`ABORTED_ASYNC_AMBIGUITY`, `ABORTED_EXECUTOR_FAULT`",
                "HTTP executor: the status was not 200 or 201; 1xx and 202 are not final (ambiguity), any other status is a fault",
            ),
            Self::ReceiptTooLarge => (
                "`ABORTED_EXECUTOR_FAULT`",
                "HTTP executor: the body exceeded 64 KiB",
            ),
            Self::ReceiptNotJson => (
                "`ABORTED_EXECUTOR_FAULT`",
                "HTTP executor: the body is not JSON",
            ),
            Self::FuturePendingAtDeadline => (
                "`ABORTED_ASYNC_AMBIGUITY`",
                "an async executor's future was still pending at the deadline and was dropped",
            ),
            Self::HttpExecutorUnavailable => (
                "`ABORTED_EXECUTOR_FAULT`",
                "written only by early builds that had no HTTP executor; still read in old logs, never written now",
            ),
            Self::NotFinal => (
                "`ABORTED_ASYNC_AMBIGUITY`",
                "the receipt's `status` is pending, queued, accepted, processing, in progress, running or scheduled",
            ),
            Self::UnknownStatus => (
                "`ABORTED_EXECUTOR_FAULT`",
                "the receipt's `status` is not a known final status",
            ),
            Self::FinalisationClaim => (
                "`ABORTED_OUTPUT_NOT_DRAFT`",
                "the receipt claims finalisation, signing, attestation or write-back",
            ),
            Self::NotPreliminary => (
                "`ABORTED_OUTPUT_NOT_DRAFT`",
                "the receipt's `docStatus` is not `preliminary`",
            ),
            Self::NotDraft => (
                "`ABORTED_OUTPUT_NOT_DRAFT`",
                "the receipt's `disposition` is not `draft`",
            ),
        }
    }

    /// Whether the reason carries data, so its rendered string is not its [`Reason::code`].
    fn has_data(&self) -> bool {
        match self.form() {
            Form::Code(_) => false,
            Form::MalformedJson(..) | Form::Steps(_) | Form::Phi(_) => true,
        }
    }

    /// The reason a `mig06 explain` argument names: a code (`duplicate_member`, `phi`,
    /// `steps`, `malformed_json`) or a rendered reason (`phi:us_ssn`, `2_steps`), in any case.
    #[must_use]
    pub fn lookup(name: &str) -> Option<Self> {
        let lower = name.trim().to_ascii_lowercase();
        Self::ALL
            .iter()
            .find(|r| r.code() == lower)
            .cloned()
            .or_else(|| Self::parse(&lower))
    }

    /// Parses a rendered reason, exactly: only a string that [`fmt::Display`] would produce is
    /// accepted (numbers without leading zeros, known PHI kind codes), so parsing and rendering
    /// are inverse.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        if let Some(r) = Self::ALL.iter().find(|r| !r.has_data() && r.code() == s) {
            return Some(r.clone());
        }
        if let Some(kinds) = s.strip_prefix(PHI_PREFIX) {
            return parse_kinds(kinds).map(Self::Phi);
        }
        if let Some(n) = s.strip_suffix(STEPS_SUFFIX) {
            return canonical_number(n).map(Self::Steps);
        }
        let (prefix, middle, suffix) = MALFORMED_JSON;
        let (line, column) = s
            .strip_prefix(prefix)?
            .strip_suffix(suffix)?
            .split_once(middle)?;
        Some(Self::MalformedJson {
            line: canonical_number(line)?,
            column: canonical_number(column)?,
        })
    }
}

/// A decimal number exactly as `usize`'s `Display` writes it.
fn canonical_number(s: &str) -> Option<usize> {
    let n: usize = s.parse().ok()?;
    (n.to_string() == s).then_some(n)
}

/// Comma-separated PHI kind codes (none for the empty string).
fn parse_kinds(s: &str) -> Option<Vec<PhiKind>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    s.split(',').map(PhiKind::from_code).collect()
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.form() {
            Form::Code(code) => f.write_str(code),
            Form::MalformedJson(line, column) => {
                let (prefix, middle, suffix) = MALFORMED_JSON;
                write!(f, "{prefix}{line}{middle}{column}{suffix}")
            }
            Form::Steps(n) => write!(f, "{n}{STEPS_SUFFIX}"),
            Form::Phi(kinds) => {
                f.write_str(PHI_PREFIX)?;
                for (i, kind) in kinds.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(kind.code())?;
                }
                Ok(())
            }
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // The message does not quote the text: a record's reason field is not trusted input.
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom("not a reason code"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_unit_reasons_render_as_their_code() {
        let mut codes: Vec<_> = Reason::ALL.iter().map(Reason::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Reason::ALL.len());
        for r in Reason::ALL.iter().filter(|r| !r.has_data()) {
            assert_eq!(r.to_string(), r.code());
        }
    }
}
