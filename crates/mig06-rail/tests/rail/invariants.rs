//! One test (at least) per invariant of the MIG-06 outline; each name carries the invariant's ID
//! from `docs/INVARIANTS.md`. These run the real rail: real policy gate, real file audit store;
//! the executor is a counting fake where a test must observe calls.

use std::collections::HashMap;
use std::path::Path;

use crate::common::*;
use mig06_rail::audit::{AuditError, AuditRecord, AuditStore};
use mig06_rail::executor::ExecutorError;
use mig06_rail::outcome::TerminalCode as C;
use mig06_rail::policy::PolicyGate;
use mig06_rail::rail::Rail;
use serde_json::json;

fn terminal_counts(s: &Setup) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in log_lines(s) {
        if r["kind"] == "terminal" {
            *m.entry(r["attempt_id"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    m
}

#[test]
fn inv_deny_by_default_an_action_no_policy_permits_is_denied() {
    let (_s, exec, rail) = draft_rail();
    // prior_authorisation is in the vocabulary but no policy permits it.
    let o = attempt(&rail, "operator-1", &request("prior_authorisation"));
    assert_eq!(o.code, C::DeniedPolicy);
    assert!(
        o.decision.as_ref().unwrap().policies.is_empty(),
        "denied by default, not by a forbid"
    );
    assert_eq!(exec.calls(), 0);
}

#[test]
fn inv_deny_by_default_a_bundle_without_permits_denies_everything() {
    let s = setup();
    let bundle = s.config.policy_bundle.clone();
    std::fs::write(
        bundle.join("policies.cedar"),
        "@id(\"only-forbid\")\nforbid (principal, action, resource) when { false };\n",
    )
    .unwrap();
    let gate = PolicyGate::load(&bundle, None).unwrap();
    let d = gate.authorize_trigger(
        &mig06_rail::ids::CallerId::parse("operator-1").unwrap(),
        mig06_rail::config::CallerKind::Operator,
        mig06_rail::request::Trigger::OperatorExplicit,
        &Default::default(),
    );
    assert_eq!(d.effect, mig06_rail::outcome::Effect::Deny);
}

#[test]
fn inv_fail_closed_policy_digest_mismatch_refuses_to_start() {
    let s = setup();
    let p = s.config.policy_bundle.join("policies.cedar");
    let mut text = std::fs::read_to_string(&p).unwrap();
    text.push_str("\n// edited after pinning\n");
    std::fs::write(&p, text).unwrap();
    let err = Rail::open(s.config.clone(), None).unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
}

#[test]
fn inv_fail_closed_policies_failing_strict_validation_refuse_to_start() {
    let s = setup();
    // `context.params.nonexistent` does not typecheck against the schema.
    std::fs::write(
        s.config.policy_bundle.join("policies.cedar"),
        "@id(\"bad\")\npermit (principal, action == Action::\"draft_note\", resource) when { context.params.nonexistent == \"x\" };\n",
    )
    .unwrap();
    let err = PolicyGate::load(&s.config.policy_bundle, None).unwrap_err();
    assert!(err.to_string().contains("strict validation"), "{err}");
}

#[test]
fn inv_fail_closed_a_panicking_dependency_ends_aborted_invariant_and_is_recorded() {
    let s = setup();
    let exec = Counting::new(Answer::Panic);
    let rail = rail_with(&s, &exec);
    let o = attempt(&rail, "operator-1", &request("discharge_summary"));
    assert_eq!(o.code, C::AbortedInvariant);
    assert!(o.recorded);
    assert_eq!(terminal_counts(&s).get(o.attempt_id.as_str()), Some(&1));
    // The rail still works after the panic.
    let exec2 = Counting::new(Answer::Draft);
    drop(rail);
    let rail = rail_with(&s, &exec2);
    assert_eq!(
        attempt(&rail, "operator-1", &request("discharge_summary")).code,
        C::CompletedDraft
    );
}

/// An audit store that fails every append after the first `ok` ones, and counts calls; with
/// `unsigned`, the appends it confirms carry no signed checkpoint.
struct FlakyStore {
    ok: usize,
    unsigned: bool,
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl AppendHook for FlakyStore {
    fn append_one(
        &mut self,
        inner: &mut dyn AuditStore,
        record: AuditRecord,
    ) -> Result<mig06_rail::audit::Appended, AuditError> {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n >= self.ok {
            return Err(AuditError::Io {
                op: "test",
                source: std::io::Error::other("disk full"),
            });
        }
        let mut appended = inner.append(record)?;
        if self.unsigned {
            appended.checkpoint = None;
        }
        Ok(appended)
    }
}

fn rail_with_flaky(
    s: &Setup,
    exec: &Counting,
    ok: usize,
) -> (Rail, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    rail_with_store(s, exec, ok, false)
}

fn rail_with_store(
    s: &Setup,
    exec: &Counting,
    ok: usize,
    unsigned: bool,
) -> (Rail, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let rail = rail_around_store(s, exec, |inner| {
        Box::new(Hooked {
            inner,
            hook: FlakyStore {
                ok,
                unsigned,
                calls: calls.clone(),
            },
        })
    });
    (rail, calls)
}

#[test]
fn inv_audit_before_execute_unconfirmed_open_record_means_no_execution() {
    let s = setup();
    let exec = Counting::new(Answer::Draft);
    let (rail, appends) = rail_with_flaky(&s, &exec, 0);
    let o = attempt(&rail, "operator-1", &request("discharge_summary"));
    assert_eq!(o.code, C::AbortedAuditUnconfirmed);
    assert_eq!(
        exec.calls(),
        0,
        "nothing executes without a durable open record"
    );
    assert_eq!(
        appends.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "no retry of the append"
    );
    assert!(o.draft_ref.is_none() && !o.recorded);
}

#[test]
fn inv_audit_before_execute_unconfirmed_terminal_record_withholds_the_draft() {
    let s = setup();
    let exec = Counting::new(Answer::Draft);
    let (rail, appends) = rail_with_flaky(&s, &exec, 1);
    let o = attempt(&rail, "operator-1", &request("discharge_summary"));
    assert_eq!(o.code, C::AbortedAuditUnconfirmed);
    assert_eq!(exec.calls(), 1);
    assert_eq!(appends.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert!(o.draft_ref.is_none(), "the draft reference is withheld");
}

#[test]
fn inv_audit_before_execute_a_terminal_record_without_a_signed_checkpoint_withholds_the_draft() {
    let s = setup();
    let exec = Counting::new(Answer::Draft);
    let (rail, appends) = rail_with_store(&s, &exec, usize::MAX, true);
    let o = attempt(&rail, "operator-1", &request("discharge_summary"));
    assert_eq!(o.code, C::AbortedAuditUnconfirmed);
    assert_eq!(
        o.detail.unwrap().reason,
        mig06_rail::outcome::Reason::EvidenceUnavailable
    );
    assert!(o.recorded, "the terminal record itself is durable");
    assert!(o.draft_ref.is_none() && o.evidence.is_none());
    assert_eq!(exec.calls(), 1);
    assert_eq!(appends.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[test]
fn inv_no_retry_each_dependency_is_called_at_most_once_whatever_fails() {
    for (answer, code) in [
        (
            Answer::Fail(ExecutorError::Fault(
                mig06_rail::executor::ExecutorFault::NonzeroExit,
            )),
            C::AbortedExecutorFault,
        ),
        (
            Answer::Fail(ExecutorError::NotFinal(
                mig06_rail::executor::PendingAnswer::HttpStatus,
            )),
            C::AbortedAsyncAmbiguity,
        ),
        (Answer::Fail(ExecutorError::Deadline), C::AbortedDeadline),
        (
            Answer::Raw(json!({"status": "pending"})),
            C::AbortedAsyncAmbiguity,
        ),
        (Answer::Raw(json!("garbage")), C::AbortedExecutorFault),
        (Answer::Draft, C::CompletedDraft),
    ] {
        let s = setup();
        let exec = Counting::new(answer);
        let rail = rail_with(&s, &exec);
        let o = attempt(&rail, "operator-1", &request("discharge_summary"));
        assert_eq!(o.code, code);
        assert_eq!(exec.calls(), 1, "{code}: executor called exactly once");
        assert_eq!(
            log_lines(&s).len(),
            2,
            "{code}: one open and one terminal record, no more"
        );
    }
}

#[test]
fn inv_terminal_determinism_exactly_one_terminal_record_per_attempt() {
    let (s, _exec, rail) = draft_rail();
    let mut ids = Vec::new();
    for req in [
        request("discharge_summary"),
        request("prior_authorisation"),
        json!({"not": "a request"}),
        json!({"request_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "trigger": "operator_explicit", "subject": SUBJECT,
               "steps": [{"action": "draft_note", "params": {"note_kind": "referral_letter"}}, {"action": "draft_note"}]}),
    ] {
        ids.push(attempt(&rail, "operator-1", &req).attempt_id);
    }
    let counts = terminal_counts(&s);
    for id in ids {
        assert_eq!(counts.get(id.as_str()), Some(&1));
    }
}

#[test]
fn inv_terminal_determinism_same_inputs_same_code_and_detail() {
    let (_s, _exec, rail) = draft_rail();
    for req in [
        json!({"request_id": "x"}),
        request("prior_authorisation"),
        json!({"request_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "trigger": "retry", "subject": SUBJECT, "steps": []}),
    ] {
        // The same inputs but for a valid request id, which runs one attempt per log.
        let mut again = req.clone();
        if req["request_id"] != json!("x") {
            again["request_id"] = json!(mig06_rail::ids::AttemptId::mint().to_string());
        }
        let a = attempt(&rail, "operator-1", &req);
        let b = attempt(&rail, "operator-1", &again);
        assert_ne!(a.attempt_id, b.attempt_id);
        assert_eq!((a.code, &a.detail), (b.code, &b.detail));
        assert_eq!(a.explanation, b.explanation);
    }
}

#[test]
fn inv_single_step_more_than_one_step_is_denied_and_nothing_runs() {
    let (s, exec, rail) = draft_rail();
    let mut req = request("discharge_summary");
    req["steps"] = json!([req["steps"][0].clone(), req["steps"][0].clone()]);
    let o = attempt(&rail, "operator-1", &req);
    assert_eq!(o.code, C::DeniedMultiStep);
    assert_eq!(exec.calls(), 0);
    assert_eq!(log_lines(&s).len(), 1, "a denial is one durable append");
}

#[test]
fn inv_explicit_invocation_unknown_callers_get_no_attempt_and_no_record() {
    let (s, _exec, rail) = draft_rail();
    assert!(rail.local_caller("operator-2").is_err());
    assert!(rail.local_caller("Operator 1").is_err());
    assert!(rail.bearer_caller(b"not a credential", None).is_err());
    assert!(log_lines(&s).is_empty());
}

#[test]
fn inv_explicit_invocation_a_caller_pinned_to_a_client_certificate_needs_it_and_its_credential() {
    let mut s = setup();
    let cert = mig06_rail::ids::Sha256Digest::of(b"client certificate DER");
    s.config.callers[0].credential_sha256 = Some(mig06_rail::ids::Sha256Digest::of(b"cred"));
    s.config.callers[0].client_cert_sha256 = Some(cert);
    let rail = rail_with(&s, &Counting::new(Answer::Draft));
    assert!(rail.pins_client_certificates());
    let other = mig06_rail::ids::Sha256Digest::of(b"another certificate");
    assert!(matches!(
        rail.bearer_caller(b"cred", None),
        Err(mig06_rail::auth::AuthError::ClientCertificate)
    ));
    assert!(matches!(
        rail.bearer_caller(b"cred", Some(&other)),
        Err(mig06_rail::auth::AuthError::ClientCertificate)
    ));
    assert!(matches!(
        rail.bearer_caller(b"wrong", Some(&cert)),
        Err(mig06_rail::auth::AuthError::BadCredential)
    ));
    let admitted = rail.bearer_caller(b"cred", Some(&cert)).unwrap();
    assert_eq!(admitted.id().as_str(), "operator-1");
    assert!(log_lines(&s).is_empty());
}

#[test]
fn inv_no_autonomy_autonomous_trigger_words_are_unrepresentable() {
    let (_s, exec, rail) = draft_rail();
    for t in [
        "scheduled",
        "retry",
        "auto",
        "background",
        "event",
        "cron",
        "self_resume",
        "auto_continuation",
    ] {
        let mut req = request("discharge_summary");
        req["trigger"] = json!(t);
        let o = attempt(&rail, "operator-1", &req);
        assert_eq!(o.code, C::DeniedRequestInvalid, "{t}");
        assert_eq!(
            o.detail.as_ref().unwrap().reason,
            mig06_rail::outcome::Reason::ForbiddenAutonomousTrigger
        );
    }
    assert_eq!(exec.calls(), 0);
}

#[test]
fn inv_no_autonomy_the_library_has_no_spawn_timer_async_or_loop_that_starts_attempts() {
    // Threads, sleeps and queues: refused by the compiler. Each library crate's clippy.toml
    // disallows them, and CI runs clippy with -D warnings; this checks the configuration stays.
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for krate in [
        "mig06-rail",
        "mig06-phi",
        "mig06-tlog",
        "mig06-audit-pg",
        "mig06-executor-http",
    ] {
        let conf = std::fs::read_to_string(crates.join(krate).join("clippy.toml")).unwrap();
        for path in [
            "std::thread::spawn",
            "std::thread::Builder::spawn",
            "std::thread::scope",
            "std::thread::sleep",
            "std::sync::mpsc::Sender",
        ] {
            assert!(
                conf.contains(&format!("path = \"{path}\"")),
                "{krate}: {path} not disallowed"
            );
        }
    }
    // What clippy cannot express: no `async fn`, no runtime, and no call of `attempt` anywhere
    // in the library (only a caller starts an attempt).
    let mut offenders = Vec::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for needle in ["async fn", "tokio", ".attempt("] {
                    if code.contains(needle) {
                        offenders.push(format!("{}:{}: {needle}", p.display(), i + 1));
                    }
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

#[test]
fn inv_no_caching_identical_requests_are_each_gated_executed_and_recorded() {
    let (s, exec, rail) = draft_rail();
    // Identical but for the request id (a request id runs one attempt per log: INV-NO-RETRY).
    let req = request("discharge_summary");
    let mut again = req.clone();
    again["request_id"] = json!(mig06_rail::ids::AttemptId::mint().to_string());
    let a = attempt(&rail, "operator-1", &req);
    let b = attempt(&rail, "operator-1", &again);
    assert_eq!((a.code, b.code), (C::CompletedDraft, C::CompletedDraft));
    assert_ne!(a.attempt_id, b.attempt_id);
    assert_eq!(exec.calls(), 2, "no memoised result");
    assert_eq!(log_lines(&s).len(), 4);
}

#[test]
fn inv_no_runtime_authoring_policy_on_disk_changes_do_not_reach_a_running_rail() {
    let (s, _exec, rail) = draft_rail();
    let digest = rail.policy_digest();
    std::fs::write(
        s.config.policy_bundle.join("policies.cedar"),
        "@id(\"permit-all\")\npermit (principal, action, resource);\n",
    )
    .unwrap();
    let o = attempt(&rail, "operator-1", &request("prior_authorisation"));
    assert_eq!(
        o.code,
        C::DeniedPolicy,
        "the loaded bundle is still in force"
    );
    assert_eq!(o.policy_digest, digest);
    // And a restart refuses the changed bundle rather than loading it.
    drop(rail);
    assert!(Rail::open(s.config.clone(), None).is_err());
}

#[test]
fn inv_no_durable_state_the_rail_writes_only_the_audit_log() {
    let (s, _exec, rail) = draft_rail();
    for k in ["discharge_summary", "prior_authorisation"] {
        let _ = attempt(&rail, "operator-1", &request(k));
    }
    let mut files = Vec::new();
    let mut stack = vec![s.config.data_dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else {
                files.push(
                    p.strip_prefix(&s.config.data_dir)
                        .unwrap()
                        .display()
                        .to_string(),
                )
            }
        }
    }
    files.sort();
    // The audit log, its latest checkpoint, and the log's index (derived from the log, rebuilt
    // from it when absent: SQLite's database and, in WAL mode, its two side files).
    let allowed = [
        "audit/checkpoint.latest",
        "audit/index.sqlite",
        "audit/index.sqlite-shm",
        "audit/index.sqlite-wal",
        "audit/log.jsonl",
    ];
    assert!(
        files.iter().all(|f| allowed.contains(&f.as_str())),
        "{files:?}"
    );
    assert!(files.contains(&"audit/log.jsonl".to_owned()));
    assert!(files.contains(&"audit/checkpoint.latest".to_owned()));
}

#[test]
fn inv_draft_only_finalisation_claims_abort_and_withhold_the_reference() {
    for claim in [
        json!({"disposition": "final"}),
        json!({"docStatus": "final"}),
        json!({"signed": true}),
        json!({"write_back": true}),
        json!({"attested": true}),
    ] {
        let s = setup();
        let mut receipt = draft_receipt();
        for (k, v) in claim.as_object().unwrap() {
            receipt[k] = v.clone();
        }
        let exec = Counting::new(Answer::Raw(receipt));
        let rail = rail_with(&s, &exec);
        let o = attempt(&rail, "operator-1", &request("discharge_summary"));
        assert_eq!(o.code, C::AbortedOutputNotDraft, "{claim}");
        assert!(o.draft_ref.is_none());
        let last = log_lines(&s).pop().unwrap();
        assert!(
            last.get("draft_ref").is_none(),
            "a non-draft reference is never recorded"
        );
    }
}

#[test]
fn inv_sync_proxy_a_slow_dependency_past_the_deadline_is_discarded() {
    let mut s = setup();
    s.config.attempt_timeout = std::time::Duration::from_millis(50);
    let exec = Counting::new(Answer::Sleep(std::time::Duration::from_millis(120)));
    let rail = rail_with(&s, &exec);
    let o = attempt(&rail, "operator-1", &request("discharge_summary"));
    assert_eq!(o.code, C::AbortedDeadline);
    assert!(o.draft_ref.is_none());
    assert_eq!(exec.calls(), 1);
}

#[test]
fn inv_trigger_policy_a_trigger_must_be_registered_for_the_caller() {
    let (_s, _exec, rail) = draft_rail();
    let mut req = request("discharge_summary");
    req["trigger"] = json!("service_explicit");
    let o = attempt(&rail, "operator-1", &req);
    assert_eq!(o.code, C::DeniedUnapprovedTrigger);
    assert_eq!(
        o.detail.unwrap().reason,
        mig06_rail::outcome::Reason::NotRegisteredForCaller
    );
}

#[test]
fn inv_trigger_policy_a_registered_trigger_must_also_be_permitted_by_policy() {
    let mut s = setup();
    // Register operator_continuation for a fresh attempt: policy forbids a continuation trigger
    // without a continuation.
    let mut req = request("discharge_summary");
    req["trigger"] = json!("operator_continuation");
    s.config.callers[0]
        .triggers
        .insert(mig06_rail::request::Trigger::OperatorContinuation);
    let exec = Counting::new(Answer::Draft);
    let rail = rail_with(&s, &exec);
    let o = attempt(&rail, "operator-1", &req);
    assert_eq!(o.code, C::DeniedUnapprovedTrigger);
    assert_eq!(
        o.detail.unwrap().reason,
        mig06_rail::outcome::Reason::NotPermittedByPolicy
    );
    assert_eq!(exec.calls(), 0);
}

#[test]
fn inv_metadata_only_records_carry_only_closed_fields() {
    let (s, _exec, rail) = draft_rail();
    let _ = attempt(&rail, "operator-1", &request("discharge_summary"));
    let _ = attempt(
        &rail,
        "operator-1",
        &json!({"request_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "free_text": "please"}),
    );
    for line in std::fs::read_to_string(s.config.data_dir.join("audit/log.jsonl"))
        .unwrap()
        .lines()
    {
        // Every record parses into the closed record type (deny_unknown_fields).
        let _: AuditRecord = serde_json::from_str(line).unwrap();
        assert!(!line.contains("please"));
        assert!(
            !line.contains(SUBJECT),
            "the subject reference is not recorded"
        );
    }
}

#[test]
fn a_traced_attempt_carries_its_trace_id_on_every_record_and_an_untraced_one_none() {
    use mig06_rail::telemetry::TraceContext;
    let (s, _exec, rail) = draft_rail();
    let caller = rail.local_caller("operator-1").unwrap();
    let trace = TraceContext::from_headers(
        Some(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        None,
    );
    let body = serde_json::to_vec(&request("discharge_summary")).unwrap();
    let deadline = mig06_rail::executor::Deadline::after(std::time::Duration::from_secs(10));
    let traced = rail.attempt_traced(&caller, &body, deadline, Some(&trace));
    assert_eq!(traced.code, C::CompletedDraft);
    // A new trace (no traceparent): its own id, on its records too.
    let root = TraceContext::from_headers(None, None);
    let body = serde_json::to_vec(&request("prior_authorisation")).unwrap();
    let denied = rail.attempt_traced(&caller, &body, deadline, Some(&root));
    assert_eq!(denied.code, C::DeniedPolicy);
    let untraced = attempt(&rail, "operator-1", &request("discharge_summary"));
    let lines = log_lines(&s);
    let of = |id: &str| -> Vec<&serde_json::Value> {
        lines.iter().filter(|r| r["attempt_id"] == id).collect()
    };
    let traced = of(traced.attempt_id.as_str());
    assert_eq!(traced.len(), 2);
    for r in traced {
        assert_eq!(r["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    }
    let denied = of(denied.attempt_id.as_str());
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["trace_id"], root.trace_id().as_str());
    for r in of(untraced.attempt_id.as_str()) {
        assert!(r.get("trace_id").is_none());
    }
}

fn rail_with_executor(s: &Setup, exec: Box<dyn mig06_rail::executor::Executor>) -> Rail {
    Rail::open(s.config.clone(), Some(exec)).unwrap()
}

#[test]
fn inv_sync_rail_a_future_still_pending_at_the_deadline_ends_async_ambiguity() {
    let mut s = setup();
    s.config.attempt_timeout = std::time::Duration::from_millis(40);
    let exec = crate::common::FutureExecutor::new(|_input| std::future::pending());
    let rail = rail_with_executor(&s, Box::new(exec));
    let o = attempt(&rail, "operator-1", &request("discharge_summary"));
    assert_eq!(o.code, C::AbortedAsyncAmbiguity);
    assert!(o.draft_ref.is_none());
}

#[test]
fn inv_sync_rail_a_future_that_resolves_in_time_completes_on_the_calling_thread() {
    let s = setup();
    let me = std::thread::current().id();
    let exec = crate::common::FutureExecutor::new(move |_input| async move {
        assert_eq!(
            std::thread::current().id(),
            me,
            "polled on the attempt's thread"
        );
        Ok(draft_receipt())
    });
    let rail = rail_with_executor(&s, Box::new(exec));
    assert_eq!(
        attempt(&rail, "operator-1", &request("discharge_summary")).code,
        C::CompletedDraft
    );
}

#[test]
fn inv_phi_abort_each_identifier_kind_in_each_field_aborts_naming_path_and_kind() {
    let (s, _exec, rail) = draft_rail();
    let cases = [
        ("/subject", "078-05-1120", "$.subject", "us_ssn"),
        (
            "/request_id",
            "jane.doe@example.org",
            "$.request_id",
            "email",
        ),
        (
            "/steps/0/params/note_kind",
            "Call 415-555-2671",
            "$.steps[0].params.note_kind",
            "phone",
        ),
        (
            "/trigger",
            "4111 1111 1111 1111",
            "$.trigger",
            "payment_card",
        ),
    ];
    for (ptr, value, field, kind) in cases {
        let mut req = request("discharge_summary");
        *req.pointer_mut(ptr).unwrap() = json!(value);
        let o = attempt(&rail, "operator-1", &req);
        assert_eq!(o.code, C::AbortedPhiDetected, "{field}");
        let d = o.detail.unwrap();
        assert_eq!(d.field, field);
        assert!(d.reason.to_string().contains(kind), "{field}: {}", d.reason);
    }
    // A PHI-bearing key name is reported by position, never by name.
    let mut req = request("discharge_summary");
    req["steps"][0]["params"]["John Smith 078-05-1120"] = json!(1);
    let o = attempt(&rail, "operator-1", &req);
    assert_eq!(o.code, C::AbortedPhiDetected);
    assert_eq!(o.detail.unwrap().field, "$.steps[0].params.<key#1>");
    // A receipt carrying PHI aborts too, and its reference is withheld.
    let mut receipt = draft_receipt();
    receipt["draft_ref"] = json!("jane.doe@example.org");
    let exec = Counting::new(Answer::Raw(receipt));
    let rail = rail_with(&s, &exec);
    let o = attempt(&rail, "operator-1", &request("discharge_summary"));
    assert_eq!(o.code, C::AbortedPhiDetected);
    assert_eq!(o.detail.unwrap().field, "$receipt.draft_ref");
    assert!(o.draft_ref.is_none());
    assert_eq!(exec.calls(), 1);
}

#[test]
fn inv_trigger_policy_a_config_naming_a_trigger_outside_the_closed_set_is_refused() {
    let s = setup();
    let text = std::fs::read_to_string(&s.config.path).unwrap();
    let bad = text.replace("\"operator_explicit\", ", "\"scheduled_nightly\", ");
    let err = mig06_rail::config::Config::parse(&s.config.path, &bad).unwrap_err();
    assert!(err.to_string().contains("unknown variant"), "{err}");
}

/// Remembers the `tracestate` each step was given.
struct TraceStates(std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>>);

impl mig06_rail::executor::Executor for TraceStates {
    fn execute(
        &self,
        input: &mig06_rail::executor::StepInput,
        _deadline: mig06_rail::executor::Deadline,
    ) -> Result<serde_json::Value, ExecutorError> {
        let state = input
            .trace
            .as_ref()
            .and_then(|t| t.tracestate().map(str::to_owned));
        self.0.lock().unwrap().push(state);
        Ok(draft_receipt())
    }
}

#[test]
fn inv_phi_abort_a_tracestate_carrying_phi_never_reaches_the_downstream() {
    // Found by an adversarial review: the caller's `tracestate` went to the drafting service
    // unscanned, while the same identifier in any request field aborts the attempt.
    let s = setup();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let rail = Rail::open(
        s.config.clone(),
        Some(Box::new(TraceStates(std::sync::Arc::clone(&seen)))),
    )
    .unwrap();
    let caller = rail.local_caller("operator-1").unwrap();
    let parent = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let run = |state: &str| {
        let trace =
            mig06_rail::telemetry::TraceContext::from_headers(Some(parent), Some(state.as_bytes()));
        let out = rail.attempt_traced(
            &caller,
            request("discharge_summary").to_string().as_bytes(),
            mig06_rail::executor::Deadline::after(std::time::Duration::from_secs(10)),
            Some(&trace),
        );
        assert_eq!(out.code, C::CompletedDraft, "the attempt itself goes on");
        seen.lock().unwrap().pop().unwrap()
    };
    for phi in [
        "zz=123-45-6789",
        "vendor=ok,zz=ssn 123-45-6789",
        "k=jane.doe@example.com",
        "mrn=MRN-00482913,congo=t61rcWkgMzE",
    ] {
        assert_eq!(run(phi), None, "a tracestate with PHI is dropped");
    }
    let clean = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
    assert_eq!(
        run(clean).as_deref(),
        Some(clean),
        "a clean one passes unchanged"
    );
}
