//! Parsing an attempt request into closed types.
//!
//! The decision that matters: requests are parsed from a `serde_json::Value` by hand, not by
//! `#[derive(Deserialize)]`, because serde's error messages quote the rejected value ("invalid
//! type: string \"...\"") and the value may be PHI. Every rejection here carries a field path built
//! only from keys the rail recognises (unknown keys are shown as `<key#N>`) and a reason code.
//!
//! Precedence is fixed so that the same request always ends the same way: oversize, malformed
//! JSON, PHI anywhere (values and keys), more than one step, then the first structural error in
//! document order.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{OpaqueId, RequestId, Sha256Digest};
use crate::outcome::{Detail, TerminalCode};

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
pub const FORBIDDEN_TRIGGER_WORDS: &[&str] = &[
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
    fn optional(&self) -> bool {
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
    fn knows_key(&self, key: &str) -> bool {
        REQUEST_KEYS.contains(&key)
            || self
                .actions
                .values()
                .any(|a| a.params.keys().any(|k| k.as_str() == key))
    }
}

/// A continuation's evidence token text: printable, bounded; verified later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceText(String);

impl EvidenceText {
    /// The token text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A continuation: the prior attempt's evidence and a reason code.
#[derive(Debug, Clone)]
pub struct ContinuationRequest {
    /// The prior attempt's evidence token.
    pub evidence: EvidenceText,
    /// Why the operator continues.
    pub reason: ContinuationReason,
}

/// The single step of an attempt.
#[derive(Debug, Clone)]
pub struct Step {
    /// The action, declared in the vocabulary.
    pub action: Code,
    /// Its parameters, each declared and typed.
    pub params: BTreeMap<Code, MetadataValue>,
}

/// A parsed attempt request. Every field is a closed type.
#[derive(Debug, Clone)]
pub struct AttemptRequest {
    /// The caller's request id.
    pub request_id: RequestId,
    /// The trigger category.
    pub trigger: Trigger,
    /// The subject reference.
    pub subject: OpaqueId,
    /// The one step.
    pub step: Step,
    /// The continuation, when this attempt continues a prior one.
    pub continuation: Option<ContinuationRequest>,
}

impl AttemptRequest {
    /// The request fingerprint: SHA-256 of the canonical JSON of subject, action and params.
    /// Request id, trigger and continuation are left out, so a continuation that repeats the
    /// prior request unchanged has the prior fingerprint.
    #[must_use]
    pub fn fingerprint(&self) -> Sha256Digest {
        let canon = serde_json::json!({
            "action": self.step.action,
            "params": self.step.params,
            "subject": self.subject,
        });
        Sha256Digest::of(canon.to_string().as_bytes())
    }

    /// The parameters as a JSON object (for the policy context and the executor).
    #[must_use]
    pub fn params_json(&self) -> Value {
        serde_json::to_value(&self.step.params).unwrap_or(Value::Null)
    }
}

/// Why a request was refused: the terminal code, and where and what, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The terminal code.
    pub code: TerminalCode,
    /// Field path and reason.
    pub detail: Detail,
}

impl Rejection {
    fn invalid(field: &Path, reason: &str) -> Self {
        Self {
            code: TerminalCode::DeniedRequestInvalid,
            detail: Detail {
                field: field.render(),
                reason: reason.to_owned(),
            },
        }
    }

    /// A one-line, value-free message.
    #[must_use]
    pub fn message(&self) -> String {
        format!("{} at {}", self.detail.reason, self.detail.field)
    }
}

/// The request's own keys: the only keys (with the vocabulary's parameter names) a field path
/// may name; any other key appears as `<key#N>`.
pub const REQUEST_KEYS: &[&str] = &[
    "request_id",
    "trigger",
    "subject",
    "steps",
    "action",
    "params",
    "continuation",
    "evidence",
    "reason",
];

/// Longest string value accepted, except the evidence token.
pub const MAX_STRING: usize = 256;
/// Longest evidence token accepted.
pub const MAX_EVIDENCE: usize = 32 * 1024;
/// Deepest JSON nesting accepted.
const MAX_DEPTH: usize = 8;

/// A field path made only of recognised keys, indices and `<key#N>` placeholders.
#[derive(Debug, Clone, Default)]
struct Path(Vec<Seg>);

#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Unknown(usize),
    Index(usize),
}

impl Path {
    fn child(&self, seg: Seg) -> Self {
        let mut p = self.clone();
        p.0.push(seg);
        p
    }
    fn key(&self, k: &'static str) -> Self {
        self.child(Seg::Key(k.to_owned()))
    }
    fn render(&self) -> String {
        let mut s = String::from("$");
        for seg in &self.0 {
            match seg {
                Seg::Key(k) => {
                    s.push('.');
                    s.push_str(k);
                }
                Seg::Unknown(n) => s.push_str(&format!(".<key#{n}>")),
                Seg::Index(i) => s.push_str(&format!("[{i}]")),
            }
        }
        s
    }
}

/// The PHI scanner the parser uses: the production one is `mig06_phi::Detector`.
pub trait PhiScan {
    /// Kinds found in `text` under `key`; empty when clean.
    fn kinds(&self, key: Option<&str>, text: &str) -> Vec<&'static str>;
}

impl PhiScan for mig06_phi::Detector {
    fn kinds(&self, key: Option<&str>, text: &str) -> Vec<&'static str> {
        self.scan(key, text).into_iter().map(|k| k.code()).collect()
    }
}

fn phi_rejection(path: &Path, kinds: &[&str]) -> Rejection {
    Rejection {
        code: TerminalCode::AbortedPhiDetected,
        detail: Detail {
            field: path.render(),
            reason: format!("phi:{}", kinds.join(",")),
        },
    }
}

/// What a position in a request holds, for the PHI scan (decided by position, never by a key
/// name alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Any value: scanned.
    Plain,
    /// `$.continuation.evidence`: an evidence token. The token text is base64url and is not
    /// scanned; the record it carries is decoded and scanned ([`crate::evidence::scan_token`]).
    Token,
    /// A position whose closed grammar is an identifier. A value that passes that grammar's
    /// strict parse is not re-read by the detector (see [`scan_request`]); any other value is
    /// scanned like any value (and then refused by the parser).
    Id(IdGrammar),
}

/// The identifier grammars a request position can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdGrammar {
    /// `$.request_id`: [`RequestId`].
    Request,
    /// `$.subject` and `id` parameters: [`OpaqueId`].
    Opaque,
    /// `digest` parameters: [`Sha256Digest`].
    Digest,
}

impl IdGrammar {
    fn accepts(self, s: &str) -> bool {
        match self {
            Self::Request => RequestId::parse(s).is_ok(),
            Self::Opaque => OpaqueId::parse(s).is_ok(),
            Self::Digest => Sha256Digest::parse(s).is_ok(),
        }
    }
}

/// Scans every string and every unrecognised key of `v`; the first hit in document order wins.
///
/// # Errors
/// A [`Rejection`] with `ABORTED_PHI_DETECTED`, naming the field path and the kinds.
pub fn scan_value(
    v: &Value,
    path_keys: &dyn Fn(&str) -> bool,
    phi: &dyn PhiScan,
) -> Result<(), Rejection> {
    walk(
        v,
        None,
        &Path::default(),
        path_keys,
        &|_| Slot::Plain,
        phi,
        0,
    )
}

/// Scans a request: every string and every unrecognised key, by position.
///
/// Only `$.continuation.evidence` is an evidence token: a value under a key named `evidence`
/// anywhere else (inside `params`, say) is scanned like any value. The token's own text is not
/// scanned (base64url of signed material); the record it carries is decoded and its strings
/// are scanned.
///
/// A value at an identifier position (`$.request_id`, `$.subject`, and parameters the
/// vocabulary types `id` or `digest` for the step's action) that passes that identifier's
/// strict parse is not re-read by the detector: the grammars (a ULID, a lowercase hyphenated
/// UUID, a known prefix and 16 to 52 Crockford base32 characters, `sha256:` and 64 hex digits)
/// admit no space, `@`, `.`, `/`, `:` or `+` after the prefix, so no name, email, URL, address,
/// IP address or formatted number can sit in one; what the detector can still find in one is a
/// run of digits shaped like a card, phone or similar number, which a random 122-bit UUID
/// produces by chance (about one request in 10,000 read as a payment card). This stays fail
/// closed: the skip is decided by the value passing the grammar at that position, never by a
/// key name; every other value, an almost-id included, is scanned in full; and the ids
/// themselves are references by contract: the request id is not written or passed on at all,
/// the subject and id parameters reach only the executor (the audit log holds none of them).
fn scan_request(v: &Value, vocab: &Vocabulary, phi: &dyn PhiScan) -> Result<(), Rejection> {
    let slot = |path: &Path| -> Slot {
        match path.0.as_slice() {
            [Seg::Key(k)] if k == "request_id" => Slot::Id(IdGrammar::Request),
            [Seg::Key(k)] if k == "subject" => Slot::Id(IdGrammar::Opaque),
            [Seg::Key(c), Seg::Key(e)] if c == "continuation" && e == "evidence" => Slot::Token,
            [Seg::Key(st), Seg::Index(i), Seg::Key(p), Seg::Key(name)]
                if st == "steps" && p == "params" =>
            {
                let ty = v
                    .get("steps")
                    .and_then(|steps| steps.get(*i))
                    .and_then(|step| step.get("action"))
                    .and_then(Value::as_str)
                    .and_then(|a| Code::parse(a).ok())
                    .and_then(|a| vocab.actions.get(&a))
                    .and_then(|spec| spec.params.iter().find(|(k, _)| k.as_str() == name))
                    .map(|(_, ty)| ty);
                match ty {
                    Some(ParamType::Id { .. }) => Slot::Id(IdGrammar::Opaque),
                    Some(ParamType::Digest { .. }) => Slot::Id(IdGrammar::Digest),
                    Some(
                        ParamType::Enum { .. } | ParamType::Int { .. } | ParamType::Bool { .. },
                    )
                    | None => Slot::Plain,
                }
            }
            _ => Slot::Plain,
        }
    };
    walk(
        v,
        None,
        &Path::default(),
        &|k| vocab.knows_key(k),
        &slot,
        phi,
        0,
    )
}

fn walk(
    v: &Value,
    key: Option<&str>,
    path: &Path,
    known: &dyn Fn(&str) -> bool,
    slot: &dyn Fn(&Path) -> Slot,
    phi: &dyn PhiScan,
    depth: usize,
) -> Result<(), Rejection> {
    if depth > MAX_DEPTH {
        return Err(Rejection::invalid(path, "too_deep"));
    }
    match v {
        Value::String(s) => {
            let kinds = match slot(path) {
                Slot::Id(grammar) if grammar.accepts(s) => return Ok(()),
                Slot::Token => {
                    return crate::evidence::scan_token(s, phi).map_err(|(within, reason)| {
                        Rejection {
                            code: TerminalCode::AbortedPhiDetected,
                            detail: Detail {
                                field: format!("{}{within}", path.render()),
                                reason,
                            },
                        }
                    });
                }
                Slot::Id(_) | Slot::Plain => phi.kinds(key, s),
            };
            if kinds.is_empty() {
                Ok(())
            } else {
                Err(phi_rejection(path, &kinds))
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let child = path.child(Seg::Index(i));
                walk(item, key, &child, known, slot, phi, depth + 1)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            let mut unknown = 0;
            for (k, item) in map {
                let seg = if known(k) {
                    Seg::Key(k.clone())
                } else {
                    unknown += 1;
                    Seg::Unknown(unknown)
                };
                let child = path.child(seg);
                if !known(k) {
                    let kinds = phi.kinds(None, k);
                    if !kinds.is_empty() {
                        return Err(phi_rejection(&child, &kinds));
                    }
                }
                walk(item, Some(k), &child, known, slot, phi, depth + 1)?;
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// Parses request bytes into an [`AttemptRequest`].
///
/// # Errors
/// A [`Rejection`] whose code is `DENIED_REQUEST_INVALID`, `DENIED_MULTI_STEP` or
/// `ABORTED_PHI_DETECTED`, with a value-free detail.
pub fn parse_request(
    bytes: &[u8],
    max_bytes: usize,
    vocab: &Vocabulary,
    phi: &dyn PhiScan,
) -> Result<AttemptRequest, Rejection> {
    let root = Path::default();
    if bytes.len() > max_bytes {
        return Err(Rejection::invalid(&root, "too_large"));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        Rejection::invalid(
            &root,
            &format!("malformed_json(line {}, column {})", e.line(), e.column()),
        )
    })?;
    scan_request(&value, vocab, phi)?;
    let Value::Object(top) = &value else {
        return Err(Rejection::invalid(&root, "not_an_object"));
    };
    // More than one step is its own denial, whatever else is wrong (outline §4.5).
    if let Some(Value::Array(steps)) = top
        .get("steps")
        .filter(|s| s.as_array().is_some_and(|a| a.len() > 1))
    {
        return Err(Rejection {
            code: TerminalCode::DeniedMultiStep,
            detail: Detail {
                field: root.key("steps").render(),
                reason: format!("{}_steps", steps.len()),
            },
        });
    }
    let obj = Obj::new(
        top,
        &root,
        &["request_id", "trigger", "subject", "steps", "continuation"],
    )?;
    let request_id = RequestId::parse(obj.str("request_id")?)
        .map_err(|_| Rejection::invalid(&root.key("request_id"), "not_ulid_or_uuid"))?;
    let trigger = parse_trigger(obj.str("trigger")?, &root.key("trigger"))?;
    let subject = OpaqueId::parse(obj.str("subject")?)
        .map_err(|_| Rejection::invalid(&root.key("subject"), "not_opaque_id"))?;
    let steps_path = root.key("steps");
    let step = match obj.req("steps")? {
        Value::Array(steps) => match steps.as_slice() {
            [one] => parse_step(one, &steps_path.child(Seg::Index(0)), vocab)?,
            _ => return Err(Rejection::invalid(&steps_path, "no_step")),
        },
        _ => return Err(Rejection::invalid(&steps_path, "not_an_array")),
    };
    let continuation = match obj.opt("continuation") {
        None => None,
        Some(v) => Some(parse_continuation(v, &root.key("continuation"))?),
    };
    Ok(AttemptRequest {
        request_id,
        trigger,
        subject,
        step,
        continuation,
    })
}

fn parse_trigger(s: &str, path: &Path) -> Result<Trigger, Rejection> {
    if let Some(t) = Trigger::from_code(s) {
        return Ok(t);
    }
    let lower = s.to_ascii_lowercase();
    if FORBIDDEN_TRIGGER_WORDS.iter().any(|w| lower.contains(w)) {
        Err(Rejection::invalid(path, "forbidden_autonomous_trigger"))
    } else {
        Err(Rejection::invalid(path, "unknown_trigger"))
    }
}

fn parse_step(v: &Value, path: &Path, vocab: &Vocabulary) -> Result<Step, Rejection> {
    let Value::Object(map) = v else {
        return Err(Rejection::invalid(path, "not_an_object"));
    };
    let obj = Obj::new(map, path, &["action", "params"])?;
    let action = Code::parse(obj.str("action")?)
        .ok()
        .filter(|a| vocab.actions.contains_key(a))
        .ok_or_else(|| Rejection::invalid(&path.key("action"), "unknown_action"))?;
    let spec = vocab
        .actions
        .get(&action)
        .ok_or_else(|| Rejection::invalid(&path.key("action"), "unknown_action"))?;
    let ppath = path.key("params");
    let empty = serde_json::Map::new();
    let given = match obj.opt("params") {
        None => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => return Err(Rejection::invalid(&ppath, "not_an_object")),
    };
    let mut unknown = 0;
    for k in given.keys() {
        if !spec.params.keys().any(|p| p.as_str() == k) {
            unknown += 1;
            let seg = if vocab.knows_key(k) {
                Seg::Key(k.clone())
            } else {
                Seg::Unknown(unknown)
            };
            return Err(Rejection::invalid(&ppath.child(seg), "unknown_param"));
        }
    }
    let mut params = BTreeMap::new();
    for (name, ty) in &spec.params {
        let fpath = ppath.child(Seg::Key(name.as_str().to_owned()));
        let Some(v) = given.get(name.as_str()) else {
            if ty.optional() {
                continue;
            }
            return Err(Rejection::invalid(&fpath, "missing_param"));
        };
        params.insert(name.clone(), parse_param(v, ty, &fpath)?);
    }
    Ok(Step { action, params })
}

fn parse_param(v: &Value, ty: &ParamType, path: &Path) -> Result<MetadataValue, Rejection> {
    let bad = |reason: &str| Rejection::invalid(path, reason);
    match (ty, v) {
        (ParamType::Enum { values, .. }, Value::String(s)) => Code::parse(s)
            .ok()
            .filter(|c| values.contains(c))
            .map(MetadataValue::Code)
            .ok_or_else(|| bad("not_in_vocabulary")),
        (ParamType::Int { min, max, .. }, Value::Number(n)) => n
            .as_i64()
            .filter(|i| (*min..=*max).contains(i))
            .map(MetadataValue::Int)
            .ok_or_else(|| bad("out_of_range")),
        (ParamType::Bool { .. }, Value::Bool(b)) => Ok(MetadataValue::Bool(*b)),
        (ParamType::Id { .. }, Value::String(s)) => OpaqueId::parse(s)
            .map(MetadataValue::Id)
            .map_err(|_| bad("not_opaque_id")),
        (ParamType::Digest { .. }, Value::String(s)) => Sha256Digest::parse(s)
            .map(MetadataValue::Digest)
            .map_err(|_| bad("not_sha256_digest")),
        (
            ParamType::Enum { .. }
            | ParamType::Int { .. }
            | ParamType::Bool { .. }
            | ParamType::Id { .. }
            | ParamType::Digest { .. },
            _,
        ) => Err(bad("wrong_type")),
    }
}

fn parse_continuation(v: &Value, path: &Path) -> Result<ContinuationRequest, Rejection> {
    let Value::Object(map) = v else {
        return Err(Rejection::invalid(path, "not_an_object"));
    };
    let obj = Obj::new(map, path, &["evidence", "reason"])?;
    let ev = obj.str_max("evidence", MAX_EVIDENCE)?;
    if ev.is_empty()
        || !ev
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
    {
        return Err(Rejection::invalid(
            &path.key("evidence"),
            "not_an_evidence_token",
        ));
    }
    let reason = ContinuationReason::from_code(obj.str("reason")?)
        .ok_or_else(|| Rejection::invalid(&path.key("reason"), "unknown_reason"))?;
    Ok(ContinuationRequest {
        evidence: EvidenceText(ev.to_owned()),
        reason,
    })
}

/// A JSON object with a closed key set.
struct Obj<'a> {
    map: &'a serde_json::Map<String, Value>,
    path: Path,
}

impl<'a> Obj<'a> {
    fn new(
        map: &'a serde_json::Map<String, Value>,
        path: &Path,
        allowed: &[&'static str],
    ) -> Result<Self, Rejection> {
        let mut unknown = 0;
        for k in map.keys() {
            if !allowed.contains(&k.as_str()) {
                unknown += 1;
                let seg = if REQUEST_KEYS.contains(&k.as_str()) {
                    Seg::Key(k.clone())
                } else {
                    Seg::Unknown(unknown)
                };
                return Err(Rejection::invalid(&path.child(seg), "unknown_field"));
            }
        }
        Ok(Self {
            map,
            path: path.clone(),
        })
    }
    fn key_path(&self, key: &'static str) -> Path {
        self.path.key(key)
    }
    fn opt(&self, key: &'static str) -> Option<&'a Value> {
        self.map.get(key)
    }
    fn req(&self, key: &'static str) -> Result<&'a Value, Rejection> {
        self.map
            .get(key)
            .ok_or_else(|| Rejection::invalid(&self.key_path(key), "missing_field"))
    }
    fn str(&self, key: &'static str) -> Result<&'a str, Rejection> {
        self.str_max(key, MAX_STRING)
    }
    fn str_max(&self, key: &'static str, max: usize) -> Result<&'a str, Rejection> {
        match self.req(key)? {
            Value::String(s) if s.len() <= max => Ok(s),
            Value::String(_) => Err(Rejection::invalid(&self.key_path(key), "too_long")),
            _ => Err(Rejection::invalid(&self.key_path(key), "not_a_string")),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    struct NoPhi;
    impl PhiScan for NoPhi {
        fn kinds(&self, _key: Option<&str>, text: &str) -> Vec<&'static str> {
            if text.contains("CANARY") {
                vec!["test_canary"]
            } else {
                vec![]
            }
        }
    }

    fn vocab() -> Vocabulary {
        serde_json::from_str(
            r#"{"actions": {"draft_note": {"params": {
                "note_kind": {"type": "enum", "values": ["discharge_summary", "referral_letter"]},
                "pages": {"type": "int", "min": 1, "max": 20, "optional": true}}}}}"#,
        )
        .unwrap()
    }

    fn parse(s: &str) -> Result<AttemptRequest, Rejection> {
        parse_request(s.as_bytes(), 65536, &vocab(), &NoPhi)
    }

    const GOOD: &str = r#"{"request_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "trigger": "operator_explicit",
        "subject": "subj_7k3m9q2x4w8r5t6v", "steps": [{"action": "draft_note", "params": {"note_kind": "discharge_summary"}}]}"#;

    #[test]
    fn a_valid_request_parses_into_closed_types() {
        let r = parse(GOOD).unwrap();
        assert_eq!(r.trigger, Trigger::OperatorExplicit);
        assert_eq!(r.step.action.as_str(), "draft_note");
        assert_eq!(
            r.params_json(),
            serde_json::json!({"note_kind": "discharge_summary"})
        );
    }

    fn rejected(s: &str) -> Rejection {
        parse(s).expect_err("must be rejected")
    }

    #[test]
    fn unknown_fields_are_named_by_placeholder_not_by_value() {
        let r = rejected(&GOOD.replace("\"trigger\"", "\"Jane Doe\": 1, \"trigger\""));
        assert_eq!(r.code, TerminalCode::DeniedRequestInvalid);
        assert_eq!(r.detail.field, "$.<key#1>");
        assert!(!r.message().contains("Jane"));
    }

    #[test]
    fn more_than_one_step_is_multi_step_even_when_steps_are_invalid() {
        let r = rejected(&GOOD.replace("\"steps\": [", "\"steps\": [{\"x\": 1}, "));
        assert_eq!(r.code, TerminalCode::DeniedMultiStep);
    }

    #[test]
    fn free_text_params_are_refused() {
        let r = rejected(&GOOD.replace("discharge_summary", "please draft the letter"));
        assert_eq!(r.code, TerminalCode::DeniedRequestInvalid);
        assert_eq!(r.detail.field, "$.steps[0].params.note_kind");
        assert_eq!(r.detail.reason, "not_in_vocabulary");
    }

    #[test]
    fn autonomous_triggers_are_unrepresentable() {
        for t in [
            "scheduled",
            "retry",
            "auto",
            "background",
            "event_driven",
            "self_resume",
        ] {
            let r = rejected(&GOOD.replace("operator_explicit", t));
            assert_eq!(r.code, TerminalCode::DeniedRequestInvalid, "{t}");
            assert_eq!(r.detail.reason, "forbidden_autonomous_trigger", "{t}");
        }
    }

    #[test]
    fn phi_in_any_value_or_key_aborts_and_wins_over_other_errors() {
        let r = rejected(&GOOD.replace("subj_7k3m9q2x4w8r5t6v", "CANARY"));
        assert_eq!(r.code, TerminalCode::AbortedPhiDetected);
        assert_eq!(r.detail.field, "$.subject");
        let r = rejected(&GOOD.replace("\"trigger\"", "\"CANARY\": 1, \"trigger\""));
        assert_eq!(r.code, TerminalCode::AbortedPhiDetected);
        assert_eq!(r.detail.field, "$.<key#1>");
    }

    #[test]
    fn fingerprint_ignores_request_id_and_trigger_but_not_params() {
        let a = parse(GOOD).unwrap().fingerprint();
        let b = parse(&GOOD.replace("01ARZ3NDEKTSV4RRFFQ69G5FAV", "01BRZ3NDEKTSV4RRFFQ69G5FAV"))
            .unwrap()
            .fingerprint();
        let c = parse(&GOOD.replace("discharge_summary", "referral_letter"))
            .unwrap()
            .fingerprint();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn malformed_json_reports_position_only() {
        let r = rejected("{\"request_id\": \"CANARY-123-45-6789");
        assert_eq!(r.code, TerminalCode::DeniedRequestInvalid);
        assert!(r.detail.reason.starts_with("malformed_json"));
        assert!(!r.message().contains("CANARY"));
    }

    fn detector() -> &'static mig06_phi::Detector {
        static DETECTOR: std::sync::OnceLock<mig06_phi::Detector> = std::sync::OnceLock::new();
        DETECTOR.get_or_init(|| mig06_phi::Detector::new().unwrap())
    }

    fn with_ids(request_id: &str, subject: &str) -> String {
        GOOD.replace("01ARZ3NDEKTSV4RRFFQ69G5FAV", request_id)
            .replace("subj_7k3m9q2x4w8r5t6v", subject)
    }

    /// A lowercase UUIDv4 from 32 hex digits (version and variant nibbles set).
    fn uuid_v4(hex: &[u8]) -> String {
        let mut h: Vec<u8> = hex.to_vec();
        h[12] = b'4';
        h[16] = [b'8', b'9', b'a', b'b'][usize::from(h[16]) % 4];
        let h = String::from_utf8(h).unwrap();
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    #[test]
    fn inv_phi_abort_a_uuid_the_detector_reads_as_a_card_is_still_a_clean_request_id() {
        // Find a UUIDv4 that the detector, reading it as text, takes for a payment card (the
        // harness saw about one random request id in 10,000 do this).
        let card = (0u64..100_000)
            .map(|n| uuid_v4(format!("{:032}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15)).as_bytes()))
            .find(|u| {
                detector()
                    .scan(Some("request_id"), u)
                    .contains(&mig06_phi::PhiKind::PaymentCard)
            })
            .unwrap();
        assert!(RequestId::parse(&card).is_ok() && OpaqueId::parse(&card).is_ok());
        let r = parse_request(
            with_ids(&card, &card).as_bytes(),
            65536,
            &vocab(),
            detector(),
        );
        assert!(r.is_ok(), "{:?}", r.err());
        // The same text where the grammar is not an id is scanned, and aborts.
        let r = parse_request(
            GOOD.replace("discharge_summary", &card).as_bytes(),
            65536,
            &vocab(),
            detector(),
        );
        assert_eq!(r.unwrap_err().code, TerminalCode::AbortedPhiDetected);
        // An id-shaped value that fails the strict parse is scanned in full.
        let r = parse_request(
            with_ids(&format!(" {card}"), SUBJECT).as_bytes(),
            65536,
            &vocab(),
            detector(),
        );
        assert_eq!(r.unwrap_err().code, TerminalCode::AbortedPhiDetected);
    }

    const SUBJECT: &str = "subj_7k3m9q2x4w8r5t6v";

    proptest::proptest! {
        /// Random UUIDv4 and ULID request ids and subjects (UUIDs drawn digit-heavy, the ones
        /// the detector misreads) are never PHI: a value that passed its strict id parse is not
        /// re-read as a card or other shaped number.
        #[test]
        fn inv_phi_abort_strictly_parsed_request_ids_and_subjects_are_never_phi(
            hex in proptest::collection::vec(
                proptest::prop_oneof![9 => proptest::char::range('0', '9'), 1 => proptest::char::range('a', 'f')],
                32,
            ),
            hex2 in proptest::collection::vec(
                proptest::prop_oneof![9 => proptest::char::range('0', '9'), 1 => proptest::char::range('a', 'f')],
                32,
            ),
            ulid in proptest::num::u128::ANY,
        ) {
            let a = uuid_v4(hex.iter().collect::<String>().as_bytes());
            let b = uuid_v4(hex2.iter().collect::<String>().as_bytes());
            let u = ulid::Ulid::from(ulid).to_string();
            for (rid, subject) in [(&a, &b), (&u, &a), (&a, &u), (&u, &u)] {
                let r = parse_request(with_ids(rid, subject).as_bytes(), 65536, &vocab(), detector());
                proptest::prop_assert!(r.is_ok(), "{:?}", r.err());
            }
        }

        #[test]
        fn rejections_never_echo_input(s in "\\PC{0,200}") {
            let body = GOOD.replace("discharge_summary", &s.replace(['"', '\\'], ""));
            if let Err(r) = parse(&body) {
                let msg = r.message();
                let cleaned = s.replace(['"', '\\'], "");
                proptest::prop_assert!(cleaned.len() < 4 || !msg.contains(&cleaned));
            }
        }
    }
}
