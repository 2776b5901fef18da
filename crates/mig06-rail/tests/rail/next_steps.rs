//! Every refusal's explanation tells the operator a next step; this drives that step, through the
//! real rail, and checks the rail does what the explanation says: the step is not refused for
//! the reason the explanation says it would pass (a retry, a non-continuable prior, the same
//! refusal again).

use mig06_rail::executor::{ExecutorError, ExecutorFault};
use mig06_rail::outcome::{Outcome, Reason, TerminalCode as C};
use serde_json::{Value, json};

use crate::common::*;

/// The evidence of `attempt`'s terminal record, as `mig06 audit prove` gives it.
fn prove(s: &Setup, attempt: &str) -> String {
    let signer = mig06_rail::rail::load_signer(&s.config).unwrap();
    let mut records = Vec::new();
    let view = mig06_rail::audit::ledger::LogView::open(
        &mig06_rail::rail::audit_dir(&s.config),
        &signer.verifier(),
        &mut |_, line, r| records.push((line.to_vec(), r.clone())),
        &mut |_, _| {},
    )
    .unwrap();
    mig06_rail::evidence::proof::evidence_token(
        &view,
        records.iter().map(|(l, r)| (l.as_slice(), r)),
        attempt,
    )
    .unwrap()
}

fn continue_with(prior_evidence: &str, body: Value, reason: &str) -> Value {
    let mut r = body;
    r["trigger"] = json!("operator_continuation");
    r["continuation"] = json!({"evidence": prior_evidence, "reason": reason});
    r
}

fn explains(code: C, words: &str) {
    assert!(
        code.explanation().contains(words),
        "{code}: the explanation no longer says {words:?}"
    );
}

fn completed(o: &Outcome) {
    assert_eq!(o.code, C::CompletedDraft, "{:?}", o.detail);
}

#[test]
fn denied_policy_amend_and_continue_with_either_reason() {
    explains(
        C::DeniedPolicy,
        "amend the request and submit a continuation with reason operator_amended_request or operator_supplied_missing_authorisation",
    );
    let (_s, _exec, rail) = draft_rail();
    for reason in [
        "operator_amended_request",
        "operator_supplied_missing_authorisation",
    ] {
        let denied = attempt(&rail, "operator-1", &request("prior_authorisation"));
        assert_eq!(denied.code, C::DeniedPolicy);
        completed(&attempt(
            &rail,
            "operator-1",
            &continuation(&denied, "discharge_summary", reason),
        ));
    }
}

#[test]
fn denied_unapproved_trigger_invoke_with_an_approved_trigger() {
    explains(
        C::DeniedUnapprovedTrigger,
        "invoke explicitly with a trigger the caller is approved for",
    );
    let (_s, _exec, rail) = draft_rail();
    let mut r = request("discharge_summary");
    r["trigger"] = json!("service_explicit");
    assert_eq!(
        attempt(&rail, "operator-1", &r).code,
        C::DeniedUnapprovedTrigger
    );
    completed(&attempt(&rail, "operator-1", &request("discharge_summary")));
}

#[test]
fn denied_request_invalid_correct_it_and_submit_it_again() {
    explains(
        C::DeniedRequestInvalid,
        "correct the request and submit it again as a new, explicitly invoked attempt",
    );
    let (_s, _exec, rail) = draft_rail();
    let invalid = attempt(&rail, "operator-1", &request("not_a_kind"));
    assert_eq!(invalid.code, C::DeniedRequestInvalid);
    completed(&attempt(&rail, "operator-1", &request("discharge_summary")));
    // A continuation of it with the corrected request is amended, never a retry.
    completed(&attempt(
        &rail,
        "operator-1",
        &continuation(&invalid, "discharge_summary", "operator_amended_request"),
    ));
}

#[test]
fn denied_multi_step_each_step_its_own_attempt_or_one_step_as_a_continuation() {
    explains(
        C::DeniedMultiStep,
        "send each step as its own new attempt, one step per request (or continue this denial once with one of the steps and reason operator_amended_request)",
    );
    assert!(
        !C::DeniedMultiStep
            .explanation()
            .contains("chain further steps")
    );
    let (_s, exec, rail) = draft_rail();
    let mut two = request("discharge_summary");
    two["steps"] = json!([
        {"action": "draft_note", "params": {"note_kind": "discharge_summary"}},
        {"action": "draft_note", "params": {"note_kind": "referral_letter"}},
    ]);
    let multi = attempt(&rail, "operator-1", &two);
    assert_eq!(multi.code, C::DeniedMultiStep);
    completed(&attempt(&rail, "operator-1", &request("discharge_summary")));
    completed(&attempt(&rail, "operator-1", &request("referral_letter")));
    let first = attempt(
        &rail,
        "operator-1",
        &continuation(&multi, "discharge_summary", "operator_amended_request"),
    );
    completed(&first);
    // What the explanation says about a further step: a completed draft is not continuable, so
    // it is a new attempt.
    let chained = attempt(
        &rail,
        "operator-1",
        &continuation(&first, "referral_letter", "operator_amended_request"),
    );
    assert_eq!(chained.code, C::DeniedContinuationInvalid);
    assert!(
        C::DeniedMultiStep
            .explanation()
            .contains("a completed draft cannot be continued")
    );
    assert_eq!(exec.calls(), 3);
}

#[test]
fn denied_continuation_invalid_and_already_used_continue_the_latest_continuable_attempt() {
    explains(C::DeniedContinuationInvalid, "or submit a new attempt");
    explains(
        C::DeniedContinuationAlreadyUsed,
        "continue the latest attempt of the chain instead",
    );
    let (_s, _exec, rail) = draft_rail();
    let done = attempt(&rail, "operator-1", &request("discharge_summary"));
    let invalid = attempt(
        &rail,
        "operator-1",
        &continuation(&done, "referral_letter", "operator_amended_request"),
    );
    assert_eq!(invalid.code, C::DeniedContinuationInvalid);
    completed(&attempt(&rail, "operator-1", &request("referral_letter")));
    // A denial continued once (still denied), then again: the second is already used; the
    // latest attempt of the chain is the one to continue.
    let denied = attempt(&rail, "operator-1", &request("prior_authorisation"));
    let mut amended = request("prior_authorisation");
    amended["steps"][0]["params"]["pages"] = json!(2);
    let latest = attempt(
        &rail,
        "operator-1",
        &continue_with(
            denied.evidence.as_deref().unwrap(),
            amended,
            "operator_amended_request",
        ),
    );
    assert_eq!(latest.code, C::DeniedPolicy);
    let used = attempt(
        &rail,
        "operator-1",
        &continuation(&denied, "discharge_summary", "operator_amended_request"),
    );
    assert_eq!(used.code, C::DeniedContinuationAlreadyUsed);
    completed(&attempt(
        &rail,
        "operator-1",
        &continuation(&latest, "discharge_summary", "operator_amended_request"),
    ));
}

#[test]
fn denied_continuation_is_retry_amend_it_or_confirm_the_restore() {
    explains(
        C::DeniedContinuationIsRetry,
        "continue the prior attempt again with an amended request, or with a reason that policy allows for an unchanged request (operator_confirmed_dependency_restored)",
    );
    let s = setup();
    let failing = Counting::new(Answer::Fail(ExecutorError::Fault(
        ExecutorFault::ConnectionFailed,
    )));
    let rail = rail_with(&s, &failing);
    let aborted = attempt(&rail, "operator-1", &request("discharge_summary"));
    assert_eq!(aborted.code, C::AbortedExecutorFault);
    let retry = attempt(
        &rail,
        "operator-1",
        &continuation(&aborted, "discharge_summary", "operator_amended_request"),
    );
    assert_eq!(retry.code, C::DeniedContinuationIsRetry);
    drop(rail);
    let working = Counting::new(Answer::Draft);
    let rail = rail_with(&s, &working);
    // Amended: not a retry (the prior stayed continuable).
    completed(&attempt(
        &rail,
        "operator-1",
        &continuation(&aborted, "referral_letter", "operator_amended_request"),
    ));
    // Unchanged with the restore confirmed, on another abort of the same kind.
    drop(rail);
    let rail = rail_with(&s, &failing);
    let aborted = attempt(&rail, "operator-1", &request("discharge_summary"));
    drop(rail);
    let rail = rail_with(&s, &working);
    completed(&attempt(
        &rail,
        "operator-1",
        &continuation(
            &aborted,
            "discharge_summary",
            "operator_confirmed_dependency_restored",
        ),
    ));
}

#[test]
fn aborted_phi_remove_the_identifier_then_a_new_attempt_or_a_continuation() {
    explains(
        C::AbortedPhiDetected,
        "remove the identifier and submit the request again, as a new attempt or as a continuation of this one with reason operator_amended_request",
    );
    let (_s, _exec, rail) = draft_rail();
    let mut r = request("discharge_summary");
    r["subject"] = json!("jane.doe@example.org");
    let phi = attempt(&rail, "operator-1", &r);
    assert_eq!(phi.code, C::AbortedPhiDetected);
    completed(&attempt(&rail, "operator-1", &request("discharge_summary")));
    let o = attempt(
        &rail,
        "operator-1",
        &continuation(&phi, "discharge_summary", "operator_amended_request"),
    );
    completed(&o);
    assert_ne!(o.detail.map(|d| d.reason), Some(Reason::UnchangedRequest));
}

/// The aborts whose next step is a continuation with the restore confirmed once the
/// dependency is fixed: each, then that continuation through a working executor.
#[test]
fn dependency_aborts_continue_with_the_restore_confirmed_once_fixed() {
    let receipt = |k: &str, v: Value| {
        let mut r = draft_receipt();
        r[k] = v;
        r
    };
    let cases = [
        (
            C::AbortedExecutorFault,
            Answer::Fail(ExecutorError::Fault(ExecutorFault::NonzeroExit)),
        ),
        (C::AbortedDeadline, Answer::Fail(ExecutorError::Deadline)),
        (
            C::AbortedAsyncAmbiguity,
            Answer::Raw(receipt("status", json!("pending"))),
        ),
        (
            C::AbortedOutputNotDraft,
            Answer::Raw(receipt("disposition", json!("final"))),
        ),
        (C::AbortedInvariant, Answer::Panic),
    ];
    for (code, answer) in cases {
        explains(code, "operator_confirmed_dependency_restored");
        let s = setup();
        let broken = Counting::new(answer);
        let rail = rail_with(&s, &broken);
        let aborted = attempt(&rail, "operator-1", &request("discharge_summary"));
        assert_eq!(aborted.code, code);
        drop(rail);
        // An abort the answer carries no evidence for is proved from the log, as the
        // explanation says.
        let evidence = aborted
            .evidence
            .clone()
            .unwrap_or_else(|| prove(&s, aborted.attempt_id.as_str()));
        if aborted.evidence.is_none() {
            explains(code, "`mig06 audit prove` gives this attempt's evidence");
        }
        let fixed = Counting::new(Answer::Draft);
        let rail = rail_with(&s, &fixed);
        completed(&attempt(
            &rail,
            "operator-1",
            &continue_with(
                &evidence,
                request("discharge_summary"),
                "operator_confirmed_dependency_restored",
            ),
        ));
    }
}
