//! The bytes of an audit record (`docs/AUDIT-LOG.md`): one JSON object, members in this order.
//!
//! The decision that matters: the in-memory [`AuditRecord`] joins `kind` and `code` into one
//! value, so a terminal record without a code cannot exist, while the wire keeps them as two
//! members at their historical places (the hash chain and every signature cover these exact
//! bytes). Writing borrows the record, so an append copies nothing to encode it; reading
//! refuses a member we do not write and a `kind` that disagrees with `code`.

use serde::{Deserialize, Serialize};

use super::{AuditRecord, RecordKind, Stage};
use crate::ids::{AttemptId, CallerId, OpaqueId, RequestId, Sha256Digest, TraceId};
use crate::outcome::{DecisionSignal, Detail, TerminalCode};
use crate::vocab::{Code, ContinuationReason, Trigger};

/// Every member name an audit record holds, at any depth (the record's own, then `detail`'s
/// and `decision`'s): the names a reader may show in a field path.
const MEMBER_NAMES: &[&str] = &[
    "prev",
    "seq",
    "ts",
    "kind",
    "attempt_id",
    "caller",
    "request_id",
    "trace_id",
    "trigger",
    "action",
    "request_fp",
    "policy_digest",
    "decision",
    "code",
    "detail",
    "draft_ref",
    "content_sha256",
    "continues",
    "chain_root",
    "depth",
    "reason",
    "claim",
    "deadline",
    "sig",
    "field",
    "effect",
    "policies",
    "errors",
];

/// Whether `name` is a member name of an audit record (shown by name in a field path).
pub(crate) fn is_member(name: &str) -> bool {
    MEMBER_NAMES.contains(&name)
}

// INV-CLOSED-INPUT: every audit line (file store, PostgreSQL store, audit verify, an evidence
// token's record) is read here, by the one JSON reader.
/// Reads one record's bytes: the one JSON reader ([`crate::json::read_closed`]), so a repeated
/// member name is refused at any depth, and named where it stands. Every object of a record is
/// a derived struct, which refuses a repeat itself, so a good line is parsed once (the speed
/// `audit verify` needs); the check pass names the repeat after a failed parse.
///
/// # Errors
/// The reader's [`crate::json::JsonError`] (never the record's contents).
pub(crate) fn read_record(bytes: &[u8]) -> Result<AuditRecord, crate::json::JsonError> {
    crate::json::read_closed(bytes, &is_member)
}

// Every object of a record is a derived struct (`Record`, `Detail`, `DecisionSignal`): no map,
// no `Value`, no `flatten`; the test below repeats a member of each and sees the parse refuse.
impl crate::json::ClosedObjects for AuditRecord {}

/// A record as written: the members of `docs/AUDIT-LOG.md`, in order.
#[derive(Serialize)]
struct RecordRef<'a> {
    prev: &'a str,
    seq: u64,
    ts: &'a str,
    kind: RecordKind,
    attempt_id: &'a AttemptId,
    caller: &'a CallerId,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a RequestId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<&'a TraceId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trigger: Option<Trigger>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'a Code>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_fp: Option<Sha256Digest>,
    policy_digest: Sha256Digest,
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<&'a DecisionSignal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<TerminalCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a Detail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    draft_ref: Option<&'a OpaqueId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_sha256: Option<Sha256Digest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    continues: Option<&'a AttemptId>,
    chain_root: &'a AttemptId,
    depth: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<ContinuationReason>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    claim: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    deadline: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sig: Option<&'a str>,
}

impl Serialize for AuditRecord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RecordRef {
            prev: &self.prev,
            seq: self.seq,
            ts: &self.ts,
            kind: self.kind(),
            attempt_id: &self.attempt_id,
            caller: &self.caller,
            request_id: self.request_id.as_ref(),
            trace_id: self.trace_id.as_ref(),
            trigger: self.trigger,
            action: self.action.as_ref(),
            request_fp: self.request_fp,
            policy_digest: self.policy_digest,
            decision: self.decision.as_ref(),
            code: self.code(),
            detail: self.detail.as_ref(),
            draft_ref: self.draft_ref.as_ref(),
            content_sha256: self.content_sha256,
            continues: self.continues.as_ref(),
            chain_root: &self.chain_root,
            depth: self.depth,
            reason: self.reason,
            claim: self.claim,
            deadline: self.deadline.as_deref(),
            sig: self.sig.as_deref(),
        }
        .serialize(s)
    }
}

/// A record as read: every member we write, nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Record {
    prev: String,
    seq: u64,
    ts: String,
    kind: RecordKind,
    attempt_id: AttemptId,
    caller: CallerId,
    #[serde(default)]
    request_id: Option<RequestId>,
    #[serde(default)]
    trace_id: Option<TraceId>,
    #[serde(default)]
    trigger: Option<Trigger>,
    #[serde(default)]
    action: Option<Code>,
    #[serde(default)]
    request_fp: Option<Sha256Digest>,
    policy_digest: Sha256Digest,
    #[serde(default)]
    decision: Option<DecisionSignal>,
    #[serde(default)]
    code: Option<TerminalCode>,
    #[serde(default)]
    detail: Option<Detail>,
    #[serde(default)]
    draft_ref: Option<OpaqueId>,
    #[serde(default)]
    content_sha256: Option<Sha256Digest>,
    #[serde(default)]
    continues: Option<AttemptId>,
    chain_root: AttemptId,
    depth: u32,
    #[serde(default)]
    reason: Option<ContinuationReason>,
    #[serde(default)]
    claim: bool,
    #[serde(default)]
    deadline: Option<String>,
    #[serde(default)]
    sig: Option<String>,
}

/// Why bytes are not a record (no variant carries the record's contents).
#[derive(Debug, thiserror::Error)]
pub(super) enum WireError {
    /// A terminal record must carry its code.
    #[error("a terminal record without a code")]
    TerminalWithoutCode,
    /// An open record carries no code.
    #[error("an open record with a code")]
    OpenWithCode,
}

impl TryFrom<Record> for AuditRecord {
    type Error = WireError;

    fn try_from(r: Record) -> Result<Self, WireError> {
        let stage = match (r.kind, r.code) {
            (RecordKind::Open, None) => Stage::Open,
            (RecordKind::Terminal, Some(code)) => Stage::Terminal(code),
            (RecordKind::Terminal, None) => return Err(WireError::TerminalWithoutCode),
            (RecordKind::Open, Some(_)) => return Err(WireError::OpenWithCode),
        };
        Ok(Self {
            prev: r.prev,
            seq: r.seq,
            ts: r.ts,
            stage,
            attempt_id: r.attempt_id,
            caller: r.caller,
            request_id: r.request_id,
            trace_id: r.trace_id,
            trigger: r.trigger,
            action: r.action,
            request_fp: r.request_fp,
            policy_digest: r.policy_digest,
            decision: r.decision,
            detail: r.detail,
            draft_ref: r.draft_ref,
            content_sha256: r.content_sha256,
            continues: r.continues,
            chain_root: r.chain_root,
            depth: r.depth,
            reason: r.reason,
            claim: r.claim,
            deadline: r.deadline,
            sig: r.sig,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real record's line: a policy denial with a decision and a detail.
    fn line() -> String {
        let rec = AuditRecord::terminal(
            AttemptId::mint(),
            CallerId::parse("operator-1").unwrap(),
            Sha256Digest::of(b"bundle"),
            TerminalCode::DeniedPolicy,
            Some(Detail::new(
                "$.steps[0]",
                crate::outcome::Reason::UnknownAction,
            )),
        );
        let mut rec = rec;
        rec.request_id = Some(RequestId::parse("01ARZ3NDEKTSV4RRFFQ69G5FAV").unwrap());
        rec.trace_id = Some(TraceId::parse("4bf92f3577b34da6a3ce929d0e0e4736").unwrap());
        rec.decision = Some(DecisionSignal {
            effect: crate::outcome::Effect::Deny,
            policies: vec!["p".into()],
            errors: false,
        });
        serde_json::to_string(&rec).unwrap()
    }

    #[test]
    fn inv_closed_input_the_derive_refuses_a_repeat_in_every_object_of_a_record() {
        let line = line();
        assert!(read_record(line.as_bytes()).is_ok());
        // Each member of each object, once more at the object's start.
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        let objects = [
            ("$", "{", value.clone()),
            ("$.detail", "\"detail\":{", value["detail"].clone()),
            ("$.decision", "\"decision\":{", value["decision"].clone()),
        ];
        for (path, open, object) in objects {
            for (name, member) in object.as_object().unwrap() {
                let one = format!("{open}{}:{member},", serde_json::json!(name));
                let twice = line.replacen(open, &one, 1);
                assert_ne!(twice, line, "{path}.{name}");
                assert!(
                    serde_json::from_str::<AuditRecord>(&twice).is_err(),
                    "the derive kept a repeated {path}.{name}"
                );
                match read_record(twice.as_bytes()) {
                    Err(crate::json::JsonError::RepeatedMember { path: at }) => {
                        assert_eq!(at, format!("{path}.{name}"));
                    }
                    other => panic!("{path}.{name}: {other:?}"),
                }
            }
        }
    }
}
