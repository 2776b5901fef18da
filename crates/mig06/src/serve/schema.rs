//! The shapes on the wire, as the OpenAPI document describes them.
//!
//! The decision that matters: the library has no utoipa dependency, so its wire types are
//! described here by schema-only mirrors, and every closed list (terminal codes, triggers,
//! continuation reasons, policy effects) is generated from the library's own list of values
//! rather than repeated by hand, so the document cannot drift from the code that parses and
//! answers. The structs' field lists are checked against the served document by the committed
//! copy `crates/mig06/openapi.json` (a test fails when it drifts).

use std::borrow::Cow;

use mig06_rail::outcome::{ALL_CODES, Effect};
use mig06_rail::request::{ALL_REASONS, ALL_TRIGGERS};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// A string schema whose values are exactly `codes`, in order.
fn closed_set<C: Into<serde_json::Value>>(
    description: &str,
    codes: impl IntoIterator<Item = C>,
) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(codes))
        .into()
}

/// Declares a schema-only marker type named `$name` in the document, whose values are `$codes`.
macro_rules! closed_set_schema {
    ($ty:ident, $name:literal, $description:literal, $codes:expr) => {
        #[doc = $description]
        #[derive(serde::Deserialize)]
        pub(super) struct $ty;

        impl utoipa::PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                closed_set($description, $codes)
            }
        }

        impl utoipa::ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

closed_set_schema!(
    TriggerSchema,
    "Trigger",
    "The closed trigger taxonomy.",
    ALL_TRIGGERS.iter().map(|t| t.as_str())
);
closed_set_schema!(
    ReasonSchema,
    "ContinuationReason",
    "The closed list of continuation reasons.",
    ALL_REASONS.iter().map(|r| r.as_str())
);
closed_set_schema!(
    TerminalCodeSchema,
    "TerminalCode",
    "The stable terminal codes.",
    ALL_CODES.iter().map(|c| c.as_str())
);
closed_set_schema!(
    EffectSchema,
    "Effect",
    "A policy effect.",
    EFFECTS.iter().filter_map(effect_code)
);

/// Every policy effect, in the library's order. The library keeps no list of effects (it has two,
/// and no code path iterates them); their wire codes still come from the library's own serde.
const EFFECTS: [Effect; 2] = [Effect::Permit, Effect::Deny];

/// An effect's wire code, as the library serialises it.
fn effect_code(effect: &Effect) -> Option<serde_json::Value> {
    serde_json::to_value(effect).ok()
}

/// One step: an action from the policy bundle's vocabulary and its closed parameters.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = Step)]
#[allow(dead_code, reason = "schema-only")]
#[serde(deny_unknown_fields)]
pub(super) struct StepSchema {
    /// A vocabulary action code, e.g. `draft_note`.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "draft_note")]
    action: String,
    /// The action's parameters: closed values declared in the vocabulary (enum codes, integers,
    /// booleans, opaque ids, digests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object, nullable = false, example = json!({"note_kind": "discharge_summary"}))]
    params: Option<serde_json::Value>,
}

/// A continuation of a prior terminal attempt.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = Continuation)]
#[allow(dead_code, reason = "schema-only")]
#[serde(deny_unknown_fields)]
pub(super) struct ContinuationSchema {
    /// The prior attempt's evidence token.
    #[schema(pattern = "^[A-Za-z0-9._=-]+$")]
    evidence: String,
    /// Why this is a continuation, not a retry.
    reason: ReasonSchema,
}

/// An attempt request. Parsed by the rail into closed types; anything else (unknown fields,
/// malformed JSON, free text) ends the attempt `DENIED_REQUEST_INVALID`, more than one step
/// `DENIED_MULTI_STEP`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = AttemptRequest, example = json!({
    "request_id": "01JD0000000000000000000000",
    "trigger": "operator_explicit",
    "subject": "subj_7k3m9q2x4w8r5t6v",
    "steps": [{"action": "draft_note", "params": {"note_kind": "discharge_summary"}}]
}))]
#[allow(dead_code, reason = "schema-only")]
#[serde(deny_unknown_fields)]
pub(super) struct AttemptRequestSchema {
    /// The caller's request id: a ULID or a lowercase hyphenated UUID.
    #[schema(
        example = "01JD0000000000000000000000",
        pattern = "^([0-7][0-9A-HJKMNP-TV-Z]{25}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
    )]
    request_id: String,
    /// The trigger category.
    trigger: TriggerSchema,
    /// The subject reference: an opaque id (UUID, ULID, or `prefix_` + Crockford base32).
    #[schema(
        example = "subj_7k3m9q2x4w8r5t6v",
        pattern = "^((subj|enc|draft|doc|ord|ref)_[0-9a-hjkmnp-tv-z]{16,52}|[0-7][0-9A-HJKMNP-TV-Z]{25}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
    )]
    subject: String,
    /// Exactly one step (more than one ends the attempt `DENIED_MULTI_STEP`).
    #[schema(min_items = 1, max_items = 1)]
    steps: Vec<StepSchema>,
    /// Present only for a continuation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    continuation: Option<ContinuationSchema>,
}

/// The policy decision signal: metadata only.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = DecisionSignal)]
#[allow(dead_code, reason = "schema-only")]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionSchema {
    /// Permit or deny.
    effect: EffectSchema,
    /// Ids of the determining policies (empty: deny by default).
    policies: Vec<String>,
    /// Whether an evaluation error occurred (an error is a deny).
    errors: bool,
}

/// Field path and reason code; never the offending value.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = Detail)]
#[allow(dead_code, reason = "schema-only")]
#[serde(deny_unknown_fields)]
pub(super) struct DetailSchema {
    /// The field path, e.g. `$.steps[0].params`.
    field: String,
    /// The reason code, e.g. `unknown_field`, `phi:us_ssn`.
    reason: String,
}

/// Metadata-only provenance links between attempts.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = Provenance)]
#[allow(dead_code, reason = "schema-only")]
#[serde(deny_unknown_fields)]
pub(super) struct ProvenanceSchema {
    /// The prior attempt this one continues.
    continues: Option<String>,
    /// The first attempt of the chain.
    chain_root: String,
    /// 0 for a fresh attempt.
    #[schema(minimum = 0)]
    depth: u32,
}

/// The terminal outcome of one attempt (mirror of `mig06_rail::outcome::Outcome`).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = Outcome)]
#[allow(dead_code, reason = "schema-only")]
#[serde(deny_unknown_fields)]
pub(super) struct OutcomeSchema {
    /// The attempt id (ULID minted by the rail).
    attempt_id: String,
    /// The one terminal code.
    code: TerminalCodeSchema,
    /// The code's fixed operator explanation.
    explanation: String,
    /// A short, value-free message.
    message: Option<String>,
    /// The policy bundle digest in force (`sha256:<hex>`).
    #[schema(pattern = "^sha256:[0-9a-f]{64}$")]
    policy_digest: String,
    /// The decision signal, when the gate ran.
    decision: Option<DecisionSchema>,
    /// Field path and reason, for a denial or abort.
    detail: Option<DetailSchema>,
    /// The draft reference (completed attempts with a durable terminal record only).
    draft_ref: Option<String>,
    /// The draft content digest.
    content_sha256: Option<String>,
    /// The request fingerprint, when the request parsed.
    request_fingerprint: Option<String>,
    /// Provenance links.
    provenance: ProvenanceSchema,
    /// The evidence token, when the terminal record is durable.
    evidence: Option<String>,
    /// Whether the terminal record is durably in the audit log.
    recorded: bool,
    /// `DENIED_REQUEST_ID_REUSED`: the attempt of this log that holds the request id.
    request_id_holder: Option<String>,
}

/// An error that is not an attempt outcome (no attempt exists).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(super) struct ErrorBody {
    /// `unauthenticated`, `body_too_large`, `bad_request`, `headers_too_large`,
    /// `length_required`, `overloaded`, `not_found`, `method_not_allowed`, `internal`.
    pub(super) error: &'static str,
    /// A fixed human-readable message (never echoes the request).
    pub(super) message: &'static str,
}

/// Service health.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = Health)]
pub(super) struct HealthBody {
    /// Always `ok` while the service answers.
    pub(super) status: &'static str,
    /// The policy bundle digest in force.
    #[schema(pattern = "^sha256:[0-9a-f]{64}$")]
    pub(super) policy_digest: String,
    /// Audit log size in records, as this instance last saw it (at start-up or after its own
    /// latest append).
    pub(super) log_size: u64,
    /// The `mig06` version.
    pub(super) version: &'static str,
}

/// Readiness: whether the audit store would accept an append now.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = Ready)]
pub(super) struct ReadyBody {
    /// `ready` or `not_ready`.
    pub(super) status: &'static str,
    /// Why not ready, a closed code: `io`, `corrupt`, `checkpoint_mismatch`, `backend`,
    /// `encode`, `no_result`, `rule`, `internal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) reason: Option<&'static str>,
}
