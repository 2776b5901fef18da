//! The policy gate: Cedar, deny by default, forbid overrides permit, any error is a deny.
//!
//! The decision that matters: a Cedar `forbid` whose condition errors at evaluation time is
//! *skipped*, which would turn an error into a permit. So the gate treats any diagnostic error as
//! a deny, policies are validated in Strict mode against the schema at load time (which rules out
//! most such errors before they can happen), and every request is validated against the schema.
//!
//! The bundle is a directory holding `schema.cedarschema`, `policies.cedar` and `vocabulary.json`.
//! Its digest is SHA-256 over, for each file in that order, the file name, a NUL, the length as
//! 8 big-endian bytes, and the contents; it is pinned in the configuration and stamped on every
//! audit record. It is read once; there is no reload.
//!
//! INV-FAIL-CLOSED: Fail closed at every boundary.
//!
//! INV-NO-RUNTIME-AUTHORING: No new Control Plane contracts.
//!
//! INV-CONT-CLAIM: policy sees whether the caller is the prior's caller (`same_caller`), so by
//! default only that caller may continue it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request, RestrictedExpression, Schema, ValidationMode, Validator,
};
use serde_json::json;

use crate::config::CallerKind;
use crate::ids::{CallerId, Sha256Digest};
use crate::outcome::{DecisionSignal, Effect, TerminalCode};
use crate::request::{Code, ContinuationReason, MetadataValue, Trigger, Vocabulary};

/// The bundle's files, in digest order.
pub const BUNDLE_FILES: [&str; 3] = ["schema.cedarschema", "policies.cedar", "vocabulary.json"];

/// Errors loading a policy bundle. Messages name files and counts; Cedar's own diagnostics are
/// included because the bundle is operator-authored configuration, never request data.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A bundle file could not be read.
    #[error("cannot read policy bundle file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bundle's digest differs from the one pinned in the configuration.
    #[error(
        "policy bundle digest mismatch: the configuration pins {pinned} but the bundle at {path} is {actual}; refusing to start"
    )]
    DigestMismatch {
        /// The bundle directory.
        path: PathBuf,
        /// The pinned digest.
        pinned: Sha256Digest,
        /// The bundle's actual digest.
        actual: Sha256Digest,
    },
    /// The schema does not parse.
    #[error("policy schema is invalid")]
    Schema(#[source] Box<cedar_policy::CedarSchemaError>),
    /// The schema does not declare the trigger gate's action.
    #[error(
        "policy schema is invalid: the schema must declare action \"invoke\" (the trigger gate)"
    )]
    NoInvokeAction,
    /// A name the rail builds (an entity type, an action of the vocabulary) is not a Cedar name.
    #[error("policy bundle names an invalid Cedar identifier")]
    Name(#[source] Box<cedar_policy::ParseErrors>),
    /// The policies do not parse.
    #[error("policies do not parse")]
    Policies(#[source] Box<cedar_policy::ParseErrors>),
    /// Strict validation against the schema failed: Cedar's diagnostics, joined (a validation
    /// result is a list of findings, not one error value).
    #[error("policies fail strict validation against the schema: {0}")]
    Validation(String),
    /// `vocabulary.json` does not parse, repeats a member name, or is not a vocabulary.
    #[error("vocabulary.json is invalid")]
    VocabularyJson(#[source] crate::json::JsonError),
    /// `vocabulary.json` names an action the schema does not declare, or one that is not a
    /// Cedar name.
    #[error("vocabulary.json is invalid: action {action} is not declared in the schema")]
    UndeclaredAction {
        /// The action's name.
        action: String,
    },
}

// INV-CONT-NEW-ATTEMPT: a continuation is judged as a new attempt: policy gets facts about the
// prior, never its state.
/// Facts about a continuation, put in the Cedar context.
#[derive(Debug, Clone, Default)]
pub struct ContinuationFacts {
    /// Whether this attempt is a continuation.
    pub is_continuation: bool,
    /// Chain depth of this attempt (0 when fresh).
    pub depth: u32,
    /// The prior attempt's terminal code (none when fresh).
    pub prior_code: Option<TerminalCode>,
    /// The continuation reason (none when fresh).
    pub reason: Option<ContinuationReason>,
    /// Whether the request counts as unchanged: its fingerprint equals the prior one, or the
    /// prior recorded none (its request never parsed, or carried PHI), which fails closed.
    pub unchanged_request: bool,
    /// Whether the prior attempt recorded a request fingerprint (false when fresh).
    pub prior_request_known: bool,
    /// The prior attempt's caller (none when fresh).
    pub prior_caller: Option<CallerId>,
    /// Whether this attempt's caller is the prior attempt's caller (false when fresh).
    pub same_caller: bool,
}

/// A loaded, validated policy bundle. Immutable once built.
#[derive(Debug)]
pub struct PolicyGate {
    schema: Schema,
    policies: PolicySet,
    vocabulary: Vocabulary,
    digest: Sha256Digest,
    authorizer: Authorizer,
    /// Cedar names parsed once at load: `Caller`, the one `Subject`, and every action's uid
    /// (the trigger gate's `invoke` and each vocabulary action).
    names: CedarNames,
}

/// Cedar names the gate builds every request from, parsed once at load.
#[derive(Debug)]
struct CedarNames {
    caller: EntityTypeName,
    subject: EntityUid,
    invoke: EntityUid,
    actions: HashMap<Code, EntityUid>,
}

/// Computes a bundle directory's digest.
///
/// # Errors
/// [`PolicyError::Read`] when a file is missing or unreadable.
pub fn bundle_digest(dir: &Path) -> Result<(Sha256Digest, [String; 3]), PolicyError> {
    let mut texts: [String; 3] = Default::default();
    let mut hasher_input = Vec::new();
    for (slot, name) in texts.iter_mut().zip(BUNDLE_FILES) {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(|source| PolicyError::Read {
            path: path.clone(),
            source,
        })?;
        hasher_input.extend_from_slice(name.as_bytes());
        hasher_input.push(0);
        hasher_input.extend_from_slice(&(text.len() as u64).to_be_bytes());
        hasher_input.extend_from_slice(text.as_bytes());
        *slot = text;
    }
    Ok((Sha256Digest::of(&hasher_input), texts))
}

impl PolicyGate {
    /// Loads a bundle, checks its digest against `pinned`, validates it strictly.
    ///
    /// # Errors
    /// [`PolicyError`] for an unreadable bundle, a digest mismatch, or any parse or validation
    /// error.
    pub fn load(dir: &Path, pinned: Option<&Sha256Digest>) -> Result<Self, PolicyError> {
        let (digest, [schema_text, policy_text, vocab_text]) = bundle_digest(dir)?;
        if let Some(pinned) = pinned.filter(|p| **p != digest) {
            return Err(PolicyError::DigestMismatch {
                path: dir.to_owned(),
                pinned: *pinned,
                actual: digest,
            });
        }
        let (schema, _warnings) = Schema::from_cedarschema_str(&schema_text)
            .map_err(|e| PolicyError::Schema(Box::new(e)))?;
        let policies =
            PolicySet::from_str(&policy_text).map_err(|e| PolicyError::Policies(Box::new(e)))?;
        let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !result.validation_passed() {
            let msgs: Vec<String> = result.validation_errors().map(|e| e.to_string()).collect();
            return Err(PolicyError::Validation(msgs.join("; ")));
        }
        for p in policies.policies() {
            if p.annotation("id").is_none() {
                return Err(PolicyError::Validation(format!(
                    "policy {} has no @id(\"...\") annotation; decision signals name policies by @id",
                    p.id()
                )));
            }
        }
        let vocabulary: Vocabulary =
            // INV-CLOSED-INPUT: the vocabulary is read by the one JSON reader (a map would keep
            // the last of two actions of one name). The operator's own file: every name may be
            // shown in a path.
            crate::json::read(vocab_text.as_bytes(), &|_| true).map_err(PolicyError::VocabularyJson)?;
        let names = CedarNames {
            caller: EntityTypeName::from_str("Caller")
                .map_err(|e| PolicyError::Name(Box::new(e)))?,
            subject: EntityUid::from_str("Subject::\"subject\"")
                .map_err(|e| PolicyError::Name(Box::new(e)))?,
            invoke: action_uid("invoke").map_err(|()| PolicyError::NoInvokeAction)?,
            actions: vocabulary
                .actions
                .keys()
                .map(|name| {
                    action_uid(name.as_str())
                        .map(|uid| (name.clone(), uid))
                        .map_err(|()| PolicyError::UndeclaredAction {
                            action: name.as_str().to_owned(),
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        let gate = Self {
            schema,
            policies,
            vocabulary,
            digest,
            authorizer: Authorizer::new(),
            names,
        };
        gate.check_vocabulary_against_schema()?;
        Ok(gate)
    }

    /// Every vocabulary action must be a schema action whose context accepts its params.
    fn check_vocabulary_against_schema(&self) -> Result<(), PolicyError> {
        for (name, action) in &self.names.actions {
            if !self.schema.actions().any(|a| a == action) {
                return Err(PolicyError::UndeclaredAction {
                    action: name.as_str().to_owned(),
                });
            }
        }
        if !self.schema.actions().any(|a| a == &self.names.invoke) {
            return Err(PolicyError::NoInvokeAction);
        }
        Ok(())
    }

    /// The bundle digest.
    #[must_use]
    pub fn digest(&self) -> Sha256Digest {
        self.digest
    }

    /// The request vocabulary.
    #[must_use]
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    /// Number of policies.
    #[must_use]
    pub fn policy_count(&self) -> usize {
        self.policies.policies().count()
    }

    /// The trigger gate: may this caller use this trigger (Cedar action `invoke`)?
    #[must_use]
    pub fn authorize_trigger(
        &self,
        caller: &CallerId,
        kind: CallerKind,
        trigger: Trigger,
        cont: &ContinuationFacts,
    ) -> DecisionSignal {
        let context = continuation(cont).ok().and_then(|cont| {
            Context::from_pairs([
                ("trigger".to_owned(), string(trigger.as_str())),
                ("continuation".to_owned(), cont),
            ])
            .ok()
        });
        self.decide(caller, kind, Some(&self.names.invoke), context)
    }

    /// The step gate: may this caller run this action with these params?
    #[must_use]
    pub fn authorize_step(
        &self,
        caller: &CallerId,
        kind: CallerKind,
        action: &Code,
        trigger: Trigger,
        params: &BTreeMap<Code, MetadataValue>,
        cont: &ContinuationFacts,
    ) -> DecisionSignal {
        let params = RestrictedExpression::new_record(
            params
                .iter()
                .map(|(name, value)| (name.as_str().to_owned(), metadata(value))),
        );
        let context = params
            .ok()
            .zip(continuation(cont).ok())
            .and_then(|(params, cont)| {
                Context::from_pairs([
                    ("trigger".to_owned(), string(trigger.as_str())),
                    ("params".to_owned(), params),
                    ("continuation".to_owned(), cont),
                ])
                .ok()
            });
        self.decide(caller, kind, self.names.actions.get(action), context)
    }

    // INV-DENY-BY-DEFAULT: Deny by default at every governance boundary.
    /// One Cedar decision. The entities and context are built directly as Cedar values (no JSON
    /// round trip: parsing them from JSON against the schema was half the cost of an attempt's
    /// two decisions); `Entities::from_entities` and `Request::new` still check both against
    /// the schema, and anything that fails to build is a deny with `errors`.
    fn decide(
        &self,
        caller: &CallerId,
        kind: CallerKind,
        action: Option<&EntityUid>,
        context: Option<Context>,
    ) -> DecisionSignal {
        let deny_error = || DecisionSignal {
            effect: Effect::Deny,
            policies: Vec::new(),
            errors: true,
        };
        let (Some(action), Some(context)) = (action, context) else {
            return deny_error();
        };
        let principal = EntityUid::from_type_name_and_id(
            self.names.caller.clone(),
            EntityId::new(caller.as_str()),
        );
        let caller_entity = Entity::new(
            principal.clone(),
            HashMap::from([("kind".to_owned(), string(kind.as_str()))]),
            HashSet::new(),
        );
        let Ok(caller_entity) = caller_entity else {
            return deny_error();
        };
        let subject = Entity::new_no_attrs(self.names.subject.clone(), HashSet::new());
        let Ok(entities) = Entities::from_entities([caller_entity, subject], Some(&self.schema))
        else {
            return deny_error();
        };
        let Ok(request) = Request::new(
            principal,
            action.clone(),
            self.names.subject.clone(),
            context,
            Some(&self.schema),
        ) else {
            return deny_error();
        };
        let response = self
            .authorizer
            .is_authorized(&request, &self.policies, &entities);
        let errors = response.diagnostics().errors().next().is_some();
        let mut policies: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| {
                self.policies
                    .annotation(id, "id")
                    .map_or_else(|| id.to_string(), str::to_owned)
            })
            .collect();
        policies.sort_unstable();
        // Any evaluation error is a deny: a forbid whose condition errored was skipped.
        let effect = match (response.decision(), errors) {
            (Decision::Allow, false) => Effect::Permit,
            (Decision::Allow, true) | (Decision::Deny, _) => Effect::Deny,
        };
        DecisionSignal {
            effect,
            policies,
            errors,
        }
    }
}

fn action_uid(name: &str) -> Result<EntityUid, ()> {
    EntityUid::from_str(&format!("Action::{}", json!(name))).map_err(|_| ())
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

/// A parameter as Cedar sees it: the same string, number or boolean as its JSON form.
fn metadata(value: &MetadataValue) -> RestrictedExpression {
    match value {
        MetadataValue::Code(c) => string(c.as_str()),
        MetadataValue::Int(i) => RestrictedExpression::new_long(*i),
        MetadataValue::Bool(b) => RestrictedExpression::new_bool(*b),
        MetadataValue::Id(id) => string(id.as_str()),
        MetadataValue::Digest(d) => RestrictedExpression::new_string(d.to_string()),
    }
}

/// The schema's `Continuation` record.
fn continuation(
    c: &ContinuationFacts,
) -> Result<RestrictedExpression, cedar_policy::ExpressionConstructionError> {
    RestrictedExpression::new_record([
        (
            "is_continuation".to_owned(),
            RestrictedExpression::new_bool(c.is_continuation),
        ),
        (
            "depth".to_owned(),
            RestrictedExpression::new_long(i64::from(c.depth)),
        ),
        // The schema's fields are strings; "" is the policies' "none" (a fresh attempt).
        (
            "prior_code".to_owned(),
            string(c.prior_code.map_or("", TerminalCode::as_str)),
        ),
        (
            "reason".to_owned(),
            string(c.reason.map_or("", ContinuationReason::as_str)),
        ),
        (
            "unchanged_request".to_owned(),
            RestrictedExpression::new_bool(c.unchanged_request),
        ),
        (
            "prior_request_known".to_owned(),
            RestrictedExpression::new_bool(c.prior_request_known),
        ),
        (
            "prior_caller".to_owned(),
            string(c.prior_caller.as_ref().map_or("", CallerId::as_str)),
        ),
        (
            "same_caller".to_owned(),
            RestrictedExpression::new_bool(c.same_caller),
        ),
    ])
}
