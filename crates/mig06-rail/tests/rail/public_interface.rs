//! The library's public interface as its users see it: the `mig06` binary (set-up, an attempt,
//! the auditor commands) and the HTTP executor (an `Executor` from outside the crate). Only
//! public items of `mig06_rail` are used here; if this stops compiling, a user broke too.

use mig06_rail::audit::ledger::LogView;
use mig06_rail::audit::verify::verify_dir;
use mig06_rail::audit::{AuditRecord, RecordKind};
use mig06_rail::auth::AuthError;
use mig06_rail::config::Config;
use mig06_rail::evidence::{self, proof};
use mig06_rail::executor::{Deadline, Executor, ExecutorError, StepInput};
use mig06_rail::fhir::export_ndjson;
use mig06_rail::outcome::{ALL_CODES, Outcome, Reason, TerminalCode};
use mig06_rail::rail::{Rail, audit_dir, load_signer};
use serde_json::{Value, json};

use crate::common::{SUBJECT, request};

/// A downstream as the HTTP executor is one: a type outside the crate, answering once.
struct Downstream;

impl Executor for Downstream {
    fn execute(&self, input: &StepInput, deadline: Deadline) -> Result<Value, ExecutorError> {
        if deadline.remaining().is_none() {
            return Err(ExecutorError::Deadline);
        }
        Ok(json!({
            "draft_ref": format!("draft_{}", input.attempt_id.as_str().to_ascii_lowercase()),
            "content_sha256": "0".repeat(64),
            "disposition": "draft",
            "docStatus": "preliminary",
        }))
    }
}

#[test]
fn public_interface_set_up_attempt_and_audit_as_the_binary_does() {
    // `mig06 init`, then `Config::load` and `Rail::open` with a supplied executor.
    let dir = tempfile::tempdir().unwrap();
    let report = mig06_rail::init::init(dir.path()).unwrap();
    let config = Config::load(&report.config).unwrap();
    let verifier = load_signer(&config).unwrap().verifier();
    let rail = Rail::open(config, Some(Box::new(Downstream))).unwrap();
    assert_eq!(rail.policy_digest().to_string(), report.policy_digest);

    // Authentication: a local caller, and a credential no caller has.
    assert!(matches!(
        rail.bearer_caller(b"no such credential", None),
        Err(AuthError::BadCredential)
    ));
    let caller = rail.local_caller("operator-1").unwrap();
    let body = request("discharge_summary").to_string();
    let outcome: Outcome = rail.attempt(&caller, body.as_bytes());
    assert!(ALL_CODES.contains(&outcome.code));
    assert_eq!(outcome.code, TerminalCode::CompletedDraft, "{outcome:?}");
    assert!(outcome.recorded && outcome.draft_ref.is_some());
    let token = outcome.evidence.clone().unwrap();

    // A denial's detail is a closed reason with a stable code.
    let bad = rail.attempt(&caller, br#"{"trigger":"operator_explicit"}"#);
    let reason: &Reason = &bad.detail.as_ref().unwrap().reason;
    assert!(Reason::ALL.iter().any(|r| r.code() == reason.code()));

    // The auditor commands: verify, read, prove, check a token offline, export.
    let dir = audit_dir(rail.config());
    let report = verify_dir(&dir, &verifier, None, &mut |_, _| {}).unwrap();
    assert_eq!(report.records, 3);
    let mut lines: Vec<(Vec<u8>, AuditRecord)> = Vec::new();
    let view = LogView::open(
        &dir,
        &verifier,
        &mut |_, line, r| lines.push((line.to_vec(), r.clone())),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(lines.first().map(|(_, r)| r.kind()), Some(RecordKind::Open));
    let records = lines.iter().map(|(l, r)| (l.as_slice(), r));
    let proved = proof::evidence_token(&view, records, outcome.attempt_id.as_str()).unwrap();
    let checked = evidence::verify(&proved, &verifier).unwrap();
    assert_eq!(checked.code, TerminalCode::CompletedDraft);
    assert_eq!(
        evidence::verify(&token, &verifier).unwrap().attempt_id(),
        &outcome.attempt_id
    );
    let records: Vec<AuditRecord> = lines.into_iter().map(|(_, r)| r).collect();
    let mut fhir = Vec::new();
    export_ndjson(&records, &mut fhir).unwrap();
    assert!(!fhir.is_empty());
    assert!(!String::from_utf8(fhir).unwrap().contains(SUBJECT));
}
