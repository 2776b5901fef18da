//! The request vocabulary: the closed types a request is parsed into.
//!
//! The decision that matters: every value a request can carry is one of these closed shapes
//! (a trigger, a continuation reason, a vocabulary code, a bounded integer, a boolean, an opaque
//! id, a digest), never free text, so nothing a caller writes can reach the audit log or the
//! executor except as a value the policy bundle declared. The bundle's `vocabulary.json`
//! ([`Vocabulary`]) says which actions and parameters exist.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::ids::{OpaqueId, Sha256Digest};

// INV-NO-AUTONOMY: No self-triggering, self-expansion, self-resumption.
/// The closed trigger taxonomy (outline §4.4). Self, scheduled, event-driven or retry triggers
/// are unrepresentable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// An operator explicitly invoked the attempt (v1's only category).
    OperatorExplicit,
    /// An approved service explicitly invoked the attempt.
    ServiceExplicit,
    /// An operator explicitly continued a prior terminal attempt.
    OperatorContinuation,
}

/// Every trigger.
pub const ALL_TRIGGERS: [Trigger; 3] = [
    Trigger::OperatorExplicit,
    Trigger::ServiceExplicit,
    Trigger::OperatorContinuation,
];

/// Words that name autonomous trigger categories; a trigger containing one is refused as such.
pub(crate) const FORBIDDEN_TRIGGER_WORDS: &[&str] = &[
    "scheduled",
    "schedule",
    "cron",
    "timer",
    "retry",
    "auto",
    "background",
    "event",
    "self",
    "loop",
    "daemon",
    "queue",
    "batch",
    "deferred",
    "resume",
];

impl Trigger {
    /// The trigger's code.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OperatorExplicit => "operator_explicit",
            Self::ServiceExplicit => "service_explicit",
            Self::OperatorContinuation => "operator_continuation",
        }
    }
    /// Parses a trigger code.
    #[must_use]
    pub fn from_code(s: &str) -> Option<Self> {
        ALL_TRIGGERS.into_iter().find(|t| t.as_str() == s)
    }
}

/// The closed list of continuation reasons (outline §4.2). See `docs/OPERATIONS.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContinuationReason {
    /// The operator changed the request (params, subject or action).
    OperatorAmendedRequest,
    /// The operator confirmed that a failed dependency is working again.
    OperatorConfirmedDependencyRestored,
    /// The operator obtained an authorisation the policy required.
    OperatorSuppliedMissingAuthorisation,
}

/// Every continuation reason.
pub const ALL_REASONS: [ContinuationReason; 3] = [
    ContinuationReason::OperatorAmendedRequest,
    ContinuationReason::OperatorConfirmedDependencyRestored,
    ContinuationReason::OperatorSuppliedMissingAuthorisation,
];

impl ContinuationReason {
    /// The reason's code.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OperatorAmendedRequest => "operator_amended_request",
            Self::OperatorConfirmedDependencyRestored => "operator_confirmed_dependency_restored",
            Self::OperatorSuppliedMissingAuthorisation => "operator_supplied_missing_authorisation",
        }
    }
    /// Parses a reason code.
    #[must_use]
    pub fn from_code(s: &str) -> Option<Self> {
        ALL_REASONS.into_iter().find(|t| t.as_str() == s)
    }
}

/// A vocabulary code: `[a-z][a-z0-9_]{0,63}`, declared in the policy bundle's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Code(String);

impl Code {
    /// Parses a code's shape (membership in a vocabulary is checked by the caller).
    ///
    /// # Errors
    /// [`crate::ids::IdError`] when the shape is wrong.
    pub fn parse(s: &str) -> Result<Self, crate::ids::IdError> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(crate::ids::IdError {
                expected: "vocabulary code",
                len: s.len(),
            })
        }
    }
    /// The code as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

// INV-METADATA-ONLY: Artifacts, decision signals, audit material, correlation ids and outputs are
// metadata-only.
/// A value that may reach an artifact: always one of these closed shapes, never free text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum MetadataValue {
    /// A code from the vocabulary.
    Code(Code),
    /// A bounded integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// An opaque id.
    Id(OpaqueId),
    /// A SHA-256 digest.
    Digest(Sha256Digest),
}

/// The type of one declared parameter.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ParamType {
    /// One of a closed list of codes.
    Enum {
        /// The allowed codes.
        values: BTreeSet<Code>,
        /// Whether the parameter may be omitted.
        #[serde(default)]
        optional: bool,
    },
    /// An integer in `[min, max]`.
    Int {
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
        /// Whether the parameter may be omitted.
        #[serde(default)]
        optional: bool,
    },
    /// A boolean.
    Bool {
        /// Whether the parameter may be omitted.
        #[serde(default)]
        optional: bool,
    },
    /// An opaque id.
    Id {
        /// Whether the parameter may be omitted.
        #[serde(default)]
        optional: bool,
    },
    /// A SHA-256 digest.
    Digest {
        /// Whether the parameter may be omitted.
        #[serde(default)]
        optional: bool,
    },
}

impl ParamType {
    pub(crate) fn optional(&self) -> bool {
        match self {
            Self::Enum { optional, .. }
            | Self::Int { optional, .. }
            | Self::Bool { optional }
            | Self::Id { optional }
            | Self::Digest { optional } => *optional,
        }
    }
}

/// One action's declaration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    /// Its parameters.
    #[serde(default)]
    pub params: BTreeMap<Code, ParamType>,
}

/// The request vocabulary: the actions and parameters a request may name. Part of the policy
/// bundle (`vocabulary.json`), so it is covered by the pinned digest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vocabulary {
    /// Actions by name.
    pub actions: BTreeMap<Code, ActionSpec>,
}

impl Vocabulary {
    /// Whether any action declares a parameter named `key`.
    pub(crate) fn declares_param(&self, key: &str) -> bool {
        self.actions
            .values()
            .any(|a| a.params.keys().any(|k| k.as_str() == key))
    }
}
