//! FHIR R4 export of the audit log, from records written by the real rail, validated against the
//! independent R4 model of the `fhirbolt` crate (strict mode: unknown fields are errors).
// Test code: the workspace's deny of unwrap/expect/panic/indexing is for library code, and
// clippy's `allow-*-in-tests` does not reach helpers outside `#[test]` functions.

use std::collections::BTreeSet;

use crate::common::*;
use fhirbolt::model::r4::resources::{AuditEvent, Provenance};
use fhirbolt::serde::{DeserializationConfig, DeserializationMode};
use mig06_rail::audit::AuditRecord;
use mig06_rail::executor::ExecutorError;
use mig06_rail::fhir::{self, ExportStats};
use mig06_rail::ids::{OpaqueId, Sha256Digest};
use mig06_rail::outcome::{ALL_CODES, Outcome, TerminalCode as C};
use mig06_rail::request::{ALL_REASONS, ALL_TRIGGERS};
use serde_json::{Value, json};

struct Run {
    s: Setup,
    completed: Outcome,
    denied: Outcome,
    continued: Outcome,
    aborted: Outcome,
}

/// The one run the tests share (the rail's set-up and syncs dominate the tests' time).
static RUN: std::sync::LazyLock<Run> = std::sync::LazyLock::new(make_run);

fn run() -> &'static Run {
    &RUN
}

/// A completed attempt, a policy denial, a continuation of the denial (amended, completes) and
/// an executor-fault abort, through the real rail.
fn make_run() -> Run {
    let s = setup();
    let rail = rail_with(&s, &Counting::new(Answer::Draft));
    let completed = attempt(&rail, "operator-1", &request("discharge_summary"));
    assert_eq!(completed.code, C::CompletedDraft, "{:?}", completed.detail);
    let denied = attempt(&rail, "operator-1", &request("prior_authorisation"));
    assert_eq!(denied.code, C::DeniedPolicy);
    let continued = attempt(
        &rail,
        "operator-1",
        &continuation(&denied, "referral_letter", "operator_amended_request"),
    );
    assert_eq!(continued.code, C::CompletedDraft, "{:?}", continued.detail);
    drop(rail);
    let rail = rail_with(
        &s,
        &Counting::new(Answer::Fail(ExecutorError::Fault(
            mig06_rail::executor::ExecutorFault::ConnectionFailed,
        ))),
    );
    let aborted = attempt(&rail, "operator-1", &request("referral_letter"));
    assert_eq!(aborted.code, C::AbortedExecutorFault);
    Run {
        s,
        completed,
        denied,
        continued,
        aborted,
    }
}

fn records(s: &Setup) -> Vec<AuditRecord> {
    let verifier = mig06_rail::rail::load_signer(&s.config).unwrap().verifier();
    mig06_rail::audit::file::read_checked(&s.config.data_dir.join("audit"), &verifier)
        .unwrap()
        .1
        .into_iter()
        .map(|(_, r)| r)
        .collect()
}

fn export(recs: &[AuditRecord]) -> (ExportStats, Vec<String>) {
    let mut out = Vec::new();
    let stats = fhir::export_ndjson(recs, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'));
    (stats, text.lines().map(str::to_owned).collect())
}

fn strict() -> Option<DeserializationConfig> {
    Some(DeserializationConfig {
        mode: DeserializationMode::Strict,
    })
}

/// Deserialises a line into the R4 model of its resource type; errors as text.
fn validate(line: &str) -> Result<(), String> {
    let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    match v["resourceType"].as_str() {
        Some("AuditEvent") => fhirbolt::json::from_str::<AuditEvent>(line, strict())
            .map(drop)
            .map_err(|e| e.to_string()),
        Some("Provenance") => fhirbolt::json::from_str::<Provenance>(line, strict())
            .map(drop)
            .map_err(|e| e.to_string()),
        other => Err(format!("unexpected resourceType {other:?}")),
    }
}

fn ids_in(lines: &[String]) -> Vec<(String, String, Value)> {
    lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["resourceType"].as_str().unwrap().to_owned(),
                v["id"].as_str().unwrap().to_owned(),
                v,
            )
        })
        .collect()
}

fn event<'a>(all: &'a [(String, String, Value)], id: &str) -> &'a Value {
    &all.iter()
        .find(|(t, i, _)| t == "AuditEvent" && i == id)
        .unwrap_or_else(|| panic!("no AuditEvent {id}"))
        .2
}

fn entity_value(ev: &Value, system: &str) -> Option<String> {
    ev["entity"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["what"]["identifier"]["system"] == system)
        .map(|e| {
            e["what"]["identifier"]["value"]
                .as_str()
                .unwrap()
                .to_owned()
        })
}

fn details(ev: &Value, system: &str) -> Vec<(String, String)> {
    let e = ev["entity"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["what"]["identifier"]["system"] == system)
        .unwrap();
    e["detail"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|x| {
                    (
                        x["type"].as_str().unwrap().to_owned(),
                        x["valueString"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn has(d: &[(String, String)], k: &str, v: &str) -> bool {
    d.iter().any(|(a, b)| a == k && b == v)
}

#[test]
fn every_line_is_a_valid_r4_resource_in_the_strict_fhirbolt_model() {
    let r = run();
    let (stats, lines) = export(&records(&r.s));
    assert_eq!(
        stats,
        ExportStats {
            audit_events: 4,
            provenances: 1,
            unterminated: 0
        }
    );
    assert_eq!(lines.len(), 5);
    for line in &lines {
        validate(line).unwrap_or_else(|e| panic!("invalid R4 resource: {e}\n{line}"));
        check_primitives_and_bindings(&serde_json::from_str(line).unwrap());
    }
}

/// FHIR R4 `instant`: `YYYY-MM-DDThh:mm:ss(.s+)?(Z|(+|-)hh:mm)`; the export writes UTC.
fn is_fhir_instant(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b.get(10) == Some(&b'T')
        && s.ends_with('Z')
        && time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

/// FHIR R4 `id`: `[A-Za-z0-9\-\.]{1,64}`.
fn is_fhir_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// FHIR R4 `code`: `[^\s]+(\s[^\s]+)*`; the export's codes have no whitespace at all.
fn is_fhir_code(s: &str) -> bool {
    !s.is_empty() && !s.bytes().any(|b| b.is_ascii_whitespace())
}

/// What `fhirbolt` does not check: primitive formats and the required bindings.
fn check_primitives_and_bindings(v: &Value) {
    assert!(is_fhir_id(v["id"].as_str().unwrap()), "{v}");
    assert!(is_fhir_instant(v["recorded"].as_str().unwrap()), "{v}");
    match v["resourceType"].as_str().unwrap() {
        "AuditEvent" => {
            for k in ["start", "end"] {
                if let Some(t) = v["period"].get(k) {
                    assert!(is_fhir_instant(t.as_str().unwrap()), "{v}");
                }
            }
            // Required bindings: AuditEventAction and AuditEventOutcome.
            assert!(["C", "R", "U", "D", "E"].contains(&v["action"].as_str().unwrap()));
            assert!(["0", "4", "8", "12"].contains(&v["outcome"].as_str().unwrap()));
            for c in std::iter::once(&v["type"])
                .chain(v["subtype"].as_array().unwrap())
                .chain(v["source"]["type"].as_array().unwrap())
            {
                assert!(is_fhir_code(c["code"].as_str().unwrap()), "{c}");
            }
        }
        "Provenance" => {
            // Required binding: ProvenanceEntityRole.
            for e in v["entity"].as_array().unwrap() {
                let role = e["role"].as_str().unwrap();
                assert!(
                    ["derivation", "revision", "quotation", "source", "removal"].contains(&role)
                );
            }
        }
        other => panic!("{other}"),
    }
}

#[test]
fn the_validator_is_strict_unknown_fields_bad_choices_and_types_and_missing_required_fail() {
    let r = run();
    let (_, lines) = export(&records(&r.s));
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap();
        let mut unknown = v.clone();
        unknown["patient"] = json!({"reference": "Patient/1"});
        assert!(validate(&unknown.to_string()).is_err(), "unknown field");
        let mut nested = v.clone();
        nested["agent"][0]["whom"] = json!("x");
        assert!(
            validate(&nested.to_string()).is_err(),
            "unknown nested field"
        );
        let mut missing = v.clone();
        missing.as_object_mut().unwrap().remove("recorded");
        assert!(validate(&missing.to_string()).is_err(), "missing recorded");
        let mut bool_type = v.clone();
        bool_type["agent"][0]["requestor"] = json!("true");
        assert!(
            validate(&bool_type.to_string()).is_err(),
            "wrong primitive type"
        );
        if v["resourceType"] == "AuditEvent" {
            let mut choice = v.clone();
            choice["entity"][0]["detail"][0] = json!({"type": "depth", "valueInteger": 0});
            assert!(validate(&choice.to_string()).is_err(), "choice not in R4");
        }
        // fhirbolt does not check primitive formats (instant, id) or bindings: the checks in
        // `check_primitives_and_bindings` cover those.
        let mut instant = v.clone();
        instant["recorded"] = json!("yesterday");
        assert!(
            validate(&instant.to_string()).is_ok(),
            "fhirbolt changed: tighten the test"
        );
    }
}

#[test]
fn audit_events_map_outcome_agent_source_and_entities() {
    let r = run();
    let (_, lines) = export(&records(&r.s));
    let all = ids_in(&lines);
    for (o, outcome) in [
        (&r.completed, "0"),
        (&r.denied, "4"),
        (&r.continued, "0"),
        (&r.aborted, "8"),
    ] {
        let ev = event(&all, o.attempt_id.as_str());
        assert_eq!(ev["outcome"], outcome);
        assert_eq!(ev["outcomeDesc"], o.code.as_str());
        assert_eq!(ev["action"], "E");
        assert_eq!(
            ev["type"],
            json!({"system": fhir::SYSTEM_EVENT_TYPE, "code": "attempt"})
        );
        assert_eq!(
            ev["subtype"],
            json!([{"system": fhir::SYSTEM_ACTION, "code": "draft_note"}])
        );
        assert_eq!(
            ev["agent"],
            json!([{"who": {"identifier": {"system": "urn:mig06:caller", "value": "operator-1"}},
                    "requestor": true}])
        );
        assert_eq!(
            ev["source"]["observer"]["identifier"]["value"],
            "urn:mig06:rail"
        );
        assert_eq!(ev["recorded"], ev["period"]["end"]);
        if o.code != C::DeniedPolicy {
            let start = ev["period"]["start"]
                .as_str()
                .expect("opened attempts have a start");
            assert!(start <= ev["period"]["end"].as_str().unwrap());
        }
        assert_eq!(
            entity_value(ev, fhir::SYSTEM_ATTEMPT).as_deref(),
            Some(o.attempt_id.as_str())
        );
        assert_eq!(
            entity_value(ev, fhir::SYSTEM_POLICY_BUNDLE),
            Some(o.policy_digest.to_string())
        );
        assert_eq!(
            entity_value(ev, fhir::SYSTEM_REQUEST_FP),
            o.request_fingerprint.map(|d| d.to_string())
        );
        assert_eq!(
            entity_value(ev, fhir::SYSTEM_DRAFT),
            o.draft_ref.as_ref().map(|d| d.as_str().to_owned())
        );
        let pd = details(ev, fhir::SYSTEM_POLICY_BUNDLE);
        let dec = o.decision.as_ref().unwrap();
        let effect = serde_json::to_value(dec.effect).unwrap();
        assert!(has(&pd, "decision-effect", effect.as_str().unwrap()));
        for p in &dec.policies {
            assert!(has(&pd, "policy", p), "{p}");
        }
        let ad = details(ev, fhir::SYSTEM_ATTEMPT);
        assert!(has(&ad, "chain-root", o.provenance.chain_root.as_str()));
        assert!(has(&ad, "depth", &o.provenance.depth.to_string()));
    }
    let denied = event(&all, r.denied.attempt_id.as_str());
    assert!(has(
        &details(denied, fhir::SYSTEM_POLICY_BUNDLE),
        "decision-effect",
        "deny"
    ));
    assert!(
        denied["period"].get("start").is_none(),
        "a denial never opened"
    );
    let cont = event(&all, r.continued.attempt_id.as_str());
    let cd = details(cont, fhir::SYSTEM_ATTEMPT);
    assert!(has(&cd, "trigger", "operator_continuation"));
    assert!(has(&cd, "continues", r.denied.attempt_id.as_str()));
    assert!(has(&cd, "continuation-reason", "operator_amended_request"));
    assert!(has(&cd, "depth", "1"));
    assert!(has(
        &details(cont, fhir::SYSTEM_POLICY_BUNDLE),
        "policy",
        "permit-operator-continuation"
    ));
}

#[test]
fn provenance_links_the_continuation_to_the_prior_attempt_after_both_audit_events() {
    let r = run();
    let (_, lines) = export(&records(&r.s));
    let all = ids_in(&lines);
    let provs: Vec<_> = all.iter().filter(|(t, _, _)| t == "Provenance").collect();
    assert_eq!(provs.len(), 1);
    let p = &provs[0].2;
    let cont = r.continued.attempt_id.as_str();
    let prior = r.denied.attempt_id.as_str();
    assert_eq!(
        p["target"],
        json!([{"reference": format!("AuditEvent/{cont}")}])
    );
    assert_eq!(
        p["entity"],
        json!([{"role": "source", "what": {"reference": format!("AuditEvent/{prior}")}}])
    );
    assert_eq!(
        p["reason"],
        json!([{"coding": [{"system": "urn:mig06:continuation-reason",
                            "code": "operator_amended_request"}]}])
    );
    assert_eq!(
        p["agent"][0]["who"]["identifier"],
        json!({"system": "urn:mig06:caller", "value": "operator-1"})
    );
    assert_eq!(
        p["recorded"],
        event(&all, cont)["period"]["start"],
        "recorded when the claim was made"
    );
    let pos = |t: &str, id: &str| all.iter().position(|(a, b, _)| a == t && b == id).unwrap();
    let prov_at = pos("Provenance", cont);
    assert!(pos("AuditEvent", prior) < prov_at);
    assert!(pos("AuditEvent", cont) < prov_at);
    // Log order: resources follow the terminal records.
    let order: Vec<&str> = all
        .iter()
        .filter(|(t, _, _)| t == "AuditEvent")
        .map(|(_, i, _)| i.as_str())
        .collect();
    assert_eq!(
        order,
        [
            r.completed.attempt_id.as_str(),
            prior,
            cont,
            r.aborted.attempt_id.as_str()
        ]
    );
}

/// Every key in the output, recursively, and every string leaf.
fn walk(v: &Value, keys: &mut Vec<String>, strings: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                keys.push(k.clone());
                walk(x, keys, strings);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| walk(x, keys, strings)),
        Value::String(s) => strings.push(s.clone()),
        _ => {}
    }
}

fn is_ulid(s: &str) -> bool {
    mig06_rail::ids::AttemptId::parse(s).is_ok()
}

#[test]
fn no_patient_or_subject_and_every_string_has_a_known_shape() {
    let r = run();
    let (_, lines) = export(&records(&r.s));
    let policy_text =
        std::fs::read_to_string(r.s.config.policy_bundle.join("policies.cedar")).unwrap();
    let policy_ids: BTreeSet<String> = policy_text
        .split("@id(\"")
        .skip(1)
        .map(|x| x.split('"').next().unwrap().to_owned())
        .collect();
    let vocab: Value = serde_json::from_str(
        &std::fs::read_to_string(r.s.config.policy_bundle.join("vocabulary.json")).unwrap(),
    )
    .unwrap();
    let actions: BTreeSet<String> = vocab["actions"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut codes: BTreeSet<String> = [
        "AuditEvent",
        "Provenance",
        "E",
        "0",
        "4",
        "8",
        "12",
        "2",
        "source",
        "permit",
        "deny",
        "true",
        "false",
        fhir::EVENT_TYPE_CODE,
        fhir::ACTIVITY_CONTINUATION,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    codes.extend(fhir::ALL_SYSTEMS.iter().map(|s| (*s).to_owned()));
    codes.extend(fhir::DETAIL_TYPES.iter().map(|s| (*s).to_owned()));
    codes.extend(ALL_CODES.iter().map(|c| c.as_str().to_owned()));
    codes.extend(ALL_TRIGGERS.iter().map(|c| c.as_str().to_owned()));
    codes.extend(ALL_REASONS.iter().map(|c| c.as_str().to_owned()));
    codes.extend(policy_ids);
    codes.extend(actions);
    codes.extend(r.s.config.callers.iter().map(|c| c.id.as_str().to_owned()));
    for line in &lines {
        assert!(!line.contains(SUBJECT), "the subject never leaves the rail");
        let v: Value = serde_json::from_str(line).unwrap();
        let (mut keys, mut strings) = (Vec::new(), Vec::new());
        walk(&v, &mut keys, &mut strings);
        for k in &keys {
            let k = k.to_ascii_lowercase();
            assert!(
                !k.contains("patient") && !k.contains("subject"),
                "field {k}"
            );
        }
        for s in &strings {
            let reference = s.strip_prefix("AuditEvent/").is_some_and(is_ulid);
            let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            let ok = codes.contains(s)
                || is_ulid(s)
                || reference
                || digits
                || (s.starts_with("draft_") && OpaqueId::parse(s).is_ok())
                || (s.starts_with("sha256:") && Sha256Digest::parse(s).is_ok())
                || is_fhir_instant(s);
            assert!(ok, "string of unknown shape {s:?} in {line}");
            assert!(!s.starts_with("Patient/") && !s.starts_with("subj_"));
        }
        assert!(is_fhir_id(v["id"].as_str().unwrap()));
    }
}

#[test]
fn outcome_mapping_covers_every_terminal_code() {
    for c in ALL_CODES {
        let expected = match c.as_str() {
            "ABORTED_INVARIANT" => "12",
            s if s.starts_with("COMPLETED_") => "0",
            s if s.starts_with("DENIED_") => "4",
            _ => "8",
        };
        assert_eq!(fhir::outcome_code(c), expected, "{c}");
    }
}

#[test]
fn an_unterminated_attempt_is_counted_not_exported_and_a_bad_timestamp_writes_nothing() {
    let r = run();
    let recs = records(&r.s);
    let aborted = r.aborted.attempt_id.as_str();
    let without_terminal: Vec<_> = recs
        .iter()
        .filter(|x| !(x.attempt_id.as_str() == aborted && x.code().is_some()))
        .cloned()
        .collect();
    let (stats, lines) = export(&without_terminal);
    assert_eq!(stats.unterminated, 1);
    assert_eq!(stats.audit_events, 3);
    assert!(lines.iter().all(|l| !l.contains(aborted)));

    let mut bad = recs.clone();
    bad.last_mut().unwrap().ts = String::from("yesterday at noon");
    let mut out = Vec::new();
    let err = fhir::export_ndjson(&bad, &mut out).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(!err.to_string().contains("yesterday"));
    assert!(out.is_empty(), "nothing written on a data error");

    let (stats, lines) = export(&[]);
    assert_eq!(stats, ExportStats::default());
    assert!(lines.is_empty());
}
