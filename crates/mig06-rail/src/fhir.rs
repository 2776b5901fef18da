//! FHIR R4 export of the audit log: one `AuditEvent` per attempt and one `Provenance` per
//! continuation link, as NDJSON.
//!
//! The decision that matters: **the export is built only from the closed, typed fields of the
//! audit records and every string it writes has a fixed shape** (a terminal or vocabulary code, an
//! opaque id, a `sha256:` digest, a re-formatted UTC timestamp, or one of the fixed `urn:mig06:*`
//! and HL7 system URIs below). Nothing is copied through as free text: the denial detail (field
//! path and reason) is left out, timestamps are parsed and re-formatted, and a policy id that does
//! not have the shape of a code is exported as its SHA-256 digest. So the PHI boundary of the
//! records carries over to the export by construction, and no patient or subject reference can
//! appear (the records hold none). Because an outside system receives this file, a record that
//! cannot be exported with these shapes fails the whole export before anything is written, rather
//! than being exported loosely.
//!
//! Mapping (see [`export_ndjson`]):
//!
//! - `AuditEvent.type`: local code `urn:mig06:audit-event-type#attempt`. No code of the R4
//!   `AuditEventID` value set (DICOM or `audit-event-type`) describes a policy-gated drafting
//!   attempt; `rest` would claim a FHIR RESTful interaction, which the rail never performs.
//! - `subtype`: the action code (`urn:mig06:action`); `action`: `E` (execute).
//! - `outcome` from the terminal code: `0` for `COMPLETED_*`, `4` (minor failure) for `DENIED_*`
//!   (the gate worked as designed and nothing ran), `8` (serious failure) for `ABORTED_*`, and
//!   `12` (major failure) for `ABORTED_INVARIANT` (the rail itself failed closed).
//!   `outcomeDesc` is the terminal code string.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

use serde_json::{Value, json};

use crate::audit::{AuditRecord, RecordKind};
use crate::outcome::{CodeClass, Effect, TerminalCode};

/// System of the `AuditEvent.type` code [`EVENT_TYPE_CODE`].
pub const SYSTEM_EVENT_TYPE: &str = "urn:mig06:audit-event-type";
/// The one `AuditEvent.type` code: a rail attempt.
pub const EVENT_TYPE_CODE: &str = "attempt";
/// System of the `AuditEvent.subtype` codes: the bundle's vocabulary actions.
pub const SYSTEM_ACTION: &str = "urn:mig06:action";
/// System of caller identifiers (agents).
pub(crate) const SYSTEM_CALLER: &str = "urn:mig06:caller";
/// The rail's own URI, the `AuditEvent.source.observer` identifier value.
pub const RAIL_URI: &str = "urn:mig06:rail";
/// The FHIR system for an identifier whose value is a URI.
pub(crate) const SYSTEM_URI: &str = "urn:ietf:rfc:3986";
/// System of attempt-id identifiers.
pub const SYSTEM_ATTEMPT: &str = "urn:mig06:attempt";
/// System of draft-reference identifiers.
pub const SYSTEM_DRAFT: &str = "urn:mig06:draft";
/// System of request-fingerprint identifiers.
pub const SYSTEM_REQUEST_FP: &str = "urn:mig06:request-fingerprint";
/// System of policy-bundle-digest identifiers.
pub const SYSTEM_POLICY_BUNDLE: &str = "urn:mig06:policy-bundle";
/// System of the continuation reasons (`Provenance.reason`).
pub(crate) const SYSTEM_CONTINUATION_REASON: &str = "urn:mig06:continuation-reason";
/// System of the `Provenance.activity` code [`ACTIVITY_CONTINUATION`].
pub(crate) const SYSTEM_PROVENANCE_ACTIVITY: &str = "urn:mig06:provenance-activity";
/// The one `Provenance.activity` code.
pub const ACTIVITY_CONTINUATION: &str = "continuation";
/// HL7 security source types (`AuditEvent.source.type`, code `4`: application server).
pub(crate) const SYSTEM_SOURCE_TYPE: &str =
    "http://terminology.hl7.org/CodeSystem/security-source-type";
/// HL7 audit entity types (`AuditEvent.entity.type`, code `2`: system object).
pub(crate) const SYSTEM_ENTITY_TYPE: &str =
    "http://terminology.hl7.org/CodeSystem/audit-entity-type";

/// Every URI the export writes (code and identifier systems, and [`RAIL_URI`]).
pub const ALL_SYSTEMS: [&str; 13] = [
    SYSTEM_EVENT_TYPE,
    SYSTEM_ACTION,
    SYSTEM_CALLER,
    RAIL_URI,
    SYSTEM_URI,
    SYSTEM_ATTEMPT,
    SYSTEM_DRAFT,
    SYSTEM_REQUEST_FP,
    SYSTEM_POLICY_BUNDLE,
    SYSTEM_CONTINUATION_REASON,
    SYSTEM_PROVENANCE_ACTIVITY,
    SYSTEM_SOURCE_TYPE,
    SYSTEM_ENTITY_TYPE,
];

/// The `AuditEvent.entity.detail.type` labels the export writes.
pub const DETAIL_TYPES: [&str; 10] = [
    "decision-effect",
    "decision-errors",
    "policy",
    "policy-sha256",
    "trigger",
    "depth",
    "chain-root",
    "continues",
    "continuation-reason",
    "content-sha256",
];

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// `AuditEvent` resources written (one per attempt with a terminal record).
    pub audit_events: usize,
    /// `Provenance` resources written (one per attempt that continues a prior attempt).
    pub provenances: usize,
    /// Attempts with an open record but no terminal record (not exported: an `AuditEvent` needs
    /// the outcome).
    pub unterminated: usize,
}

/// The `AuditEvent.outcome` code for a terminal code: `0` completed, `4` denied, `8` aborted,
/// `12` for `ABORTED_INVARIANT`.
#[must_use]
pub fn outcome_code(code: TerminalCode) -> &'static str {
    match (code, code.class()) {
        (TerminalCode::AbortedInvariant, _) => "12",
        (_, CodeClass::Completed) => "0",
        (_, CodeClass::Denied) => "4",
        (_, CodeClass::Aborted) => "8",
    }
}

/// Writes the FHIR R4 export of `records` (in log order) to `out` as NDJSON.
///
/// For each attempt, at the position of its terminal record: one `AuditEvent` (`id` = the attempt
/// id, a ULID, which is a valid FHIR id) whose `period.start` is the open record's time when there
/// is one and whose `recorded` and `period.end` are the terminal record's time; then, when the
/// terminal record continues a prior attempt, one `Provenance` (`id` = the same attempt id) whose
/// `target` is `AuditEvent/<attempt>`, whose `entity` (role `source`) is `AuditEvent/<prior>`,
/// and whose `recorded` is the time of the attempt's first record (when the claim was made).
/// A prior attempt is always terminal, and so exported, before it can be continued.
///
/// Everything is built before anything is written, so a data error writes nothing.
///
/// # Errors
/// [`io::ErrorKind::InvalidData`] when a terminal record has no terminal code, an attempt has
/// two terminal records, or a timestamp is not RFC 3339 (the message names the record's `seq`
/// only); any error of `out`.
pub fn export_ndjson(records: &[AuditRecord], out: &mut impl Write) -> io::Result<ExportStats> {
    let mut opened: HashMap<&str, &AuditRecord> = HashMap::new();
    for r in records {
        if r.kind() == RecordKind::Open {
            opened.entry(r.attempt_id.as_str()).or_insert(r);
        }
    }
    let mut stats = ExportStats::default();
    let mut terminated: HashSet<&str> = HashSet::new();
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for r in records.iter().filter(|r| r.kind() == RecordKind::Terminal) {
        let id = r.attempt_id.as_str();
        if !terminated.insert(id) {
            return Err(invalid(r.seq, "a second terminal record for the attempt"));
        }
        let open = opened.get(id).copied();
        lines.push(encode(&audit_event(r, open)?)?);
        stats.audit_events += 1;
        if r.continues.is_some() {
            let first = open.unwrap_or(r);
            lines.push(encode(&provenance(r, first)?)?);
            stats.provenances += 1;
        }
    }
    stats.unterminated = opened.keys().filter(|k| !terminated.contains(*k)).count();
    for line in &lines {
        out.write_all(line)?;
        out.write_all(b"\n")?;
    }
    Ok(stats)
}

fn invalid(seq: u64, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("audit record {seq}: {what}"),
    )
}

fn encode(v: &Value) -> io::Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(io::Error::other)
}

/// Parses an RFC 3339 timestamp and writes it back in UTC, so only a timestamp can come out.
fn instant(r: &AuditRecord) -> io::Result<String> {
    use time::format_description::well_known::Rfc3339;
    let bad = || invalid(r.seq, "ts is not an RFC 3339 timestamp");
    let t = time::OffsetDateTime::parse(&r.ts, &Rfc3339).map_err(|_| bad())?;
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|_| bad())
}

fn coding(system: &str, code: &str) -> Value {
    json!({"system": system, "code": code})
}

fn ident(system: &str, value: &str) -> Value {
    json!({"identifier": {"system": system, "value": value}})
}

fn detail(kind: &str, value: &str) -> Value {
    json!({"type": kind, "valueString": value})
}

fn entity(system: &str, value: &str, details: Vec<Value>) -> Value {
    let mut e = json!({
        "what": ident(system, value),
        "type": coding(SYSTEM_ENTITY_TYPE, "2"),
    });
    if !details.is_empty()
        && let Some(obj) = e.as_object_mut()
    {
        obj.insert("detail".into(), Value::Array(details));
    }
    e
}

/// A policy id that has the shape of a code goes out as itself, anything else as its digest.
fn policy_detail(id: &str) -> Value {
    let code_shaped = (1..=64).contains(&id.len())
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if code_shaped {
        detail("policy", id)
    } else {
        detail(
            "policy-sha256",
            &crate::ids::Sha256Digest::of(id.as_bytes()).to_string(),
        )
    }
}

fn agent(r: &AuditRecord) -> Value {
    json!({"who": ident(SYSTEM_CALLER, r.caller.as_str()), "requestor": true})
}

fn audit_event(r: &AuditRecord, open: Option<&AuditRecord>) -> io::Result<Value> {
    let code = r
        .code()
        .ok_or_else(|| invalid(r.seq, "terminal record without a terminal code"))?;
    let end = instant(r)?;
    let mut period = serde_json::Map::new();
    if let Some(o) = open {
        period.insert("start".into(), Value::String(instant(o)?));
    }
    period.insert("end".into(), Value::String(end.clone()));
    let mut ev = json!({
        "resourceType": "AuditEvent",
        "id": r.attempt_id.as_str(),
        "type": coding(SYSTEM_EVENT_TYPE, EVENT_TYPE_CODE),
        "action": "E",
        "period": Value::Object(period),
        "recorded": end,
        "outcome": outcome_code(code),
        "outcomeDesc": code.as_str(),
        "agent": [agent(r)],
        "source": {
            "observer": ident(SYSTEM_URI, RAIL_URI),
            "type": [coding(SYSTEM_SOURCE_TYPE, "4")],
        },
        "entity": entities(r),
    });
    if let (Some(a), Some(obj)) = (&r.action, ev.as_object_mut()) {
        obj.insert("subtype".into(), json!([coding(SYSTEM_ACTION, a.as_str())]));
    }
    Ok(ev)
}

/// The event's entities, in a fixed order: the attempt, its draft, its request fingerprint,
/// the policy bundle.
fn entities(r: &AuditRecord) -> Vec<Value> {
    let mut entities = vec![entity(
        SYSTEM_ATTEMPT,
        r.attempt_id.as_str(),
        attempt_details(r),
    )];
    if let Some(d) = &r.draft_ref {
        let details = r
            .content_sha256
            .iter()
            .map(|c| detail("content-sha256", &c.to_string()))
            .collect();
        entities.push(entity(SYSTEM_DRAFT, d.as_str(), details));
    }
    if let Some(fp) = &r.request_fp {
        entities.push(entity(SYSTEM_REQUEST_FP, &fp.to_string(), Vec::new()));
    }
    entities.push(entity(
        SYSTEM_POLICY_BUNDLE,
        &r.policy_digest.to_string(),
        policy_details(r),
    ));
    entities
}

/// The attempt entity's details: trigger, chain position, continuation.
fn attempt_details(r: &AuditRecord) -> Vec<Value> {
    let mut details = Vec::new();
    if let Some(t) = r.trigger {
        details.push(detail("trigger", t.as_str()));
    }
    details.push(detail("depth", &r.depth.to_string()));
    details.push(detail("chain-root", r.chain_root.as_str()));
    if let Some(c) = &r.continues {
        details.push(detail("continues", c.as_str()));
    }
    if let Some(reason) = r.reason {
        details.push(detail("continuation-reason", reason.as_str()));
    }
    details
}

/// The policy bundle entity's details: the decision signal, when the gate ran.
fn policy_details(r: &AuditRecord) -> Vec<Value> {
    let mut details = Vec::new();
    if let Some(dec) = &r.decision {
        let effect = match dec.effect {
            Effect::Permit => "permit",
            Effect::Deny => "deny",
        };
        details.push(detail("decision-effect", effect));
        details.push(detail(
            "decision-errors",
            if dec.errors { "true" } else { "false" },
        ));
        details.extend(dec.policies.iter().map(|p| policy_detail(p)));
    }
    details
}

fn provenance(r: &AuditRecord, first: &AuditRecord) -> io::Result<Value> {
    let Some(prior) = &r.continues else {
        return Err(invalid(r.seq, "not a continuation"));
    };
    let mut p = json!({
        "resourceType": "Provenance",
        "id": r.attempt_id.as_str(),
        "target": [{"reference": format!("AuditEvent/{}", r.attempt_id.as_str())}],
        "recorded": instant(first)?,
        "activity": {"coding": [coding(SYSTEM_PROVENANCE_ACTIVITY, ACTIVITY_CONTINUATION)]},
        "agent": [{"who": ident(SYSTEM_CALLER, r.caller.as_str())}],
        "entity": [{
            "role": "source",
            "what": {"reference": format!("AuditEvent/{}", prior.as_str())},
        }],
    });
    if let (Some(reason), Some(obj)) = (r.reason, p.as_object_mut()) {
        obj.insert(
            "reason".into(),
            json!([{"coding": [coding(SYSTEM_CONTINUATION_REASON, reason.as_str())]}]),
        );
    }
    Ok(p)
}
