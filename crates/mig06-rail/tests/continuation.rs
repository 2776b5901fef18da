//! Post-terminal continuations (outline §4.2) and provenance (§4.3), through the real rail.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use mig06_rail::executor::ExecutorError;
use mig06_rail::outcome::TerminalCode as C;
use serde_json::json;

#[test]
fn inv_cont_new_attempt_a_denial_continued_with_an_amended_request_runs_as_a_fresh_attempt() {
    let (s, _exec, rail) = draft_rail();
    let denied = attempt(&rail, "operator-1", &request("prior_authorisation"));
    assert_eq!(denied.code, C::DeniedPolicy);
    let cont = attempt(
        &rail,
        "operator-1",
        &continuation(&denied, "discharge_summary", "operator_amended_request"),
    );
    assert_eq!(cont.code, C::CompletedDraft, "{:?}", cont.detail);
    assert_ne!(cont.attempt_id, denied.attempt_id);
    assert_eq!(cont.provenance.continues.as_ref(), Some(&denied.attempt_id));
    assert_eq!(cont.provenance.chain_root, denied.attempt_id);
    assert_eq!(cont.provenance.depth, 1);
    assert_eq!(
        cont.decision.as_ref().unwrap().policies,
        ["permit-operator-continuation"],
        "a fresh policy gate, with the continuation facts"
    );
    let recs: Vec<_> = log_lines(&s)
        .into_iter()
        .filter(|r| r["attempt_id"] == cont.attempt_id.as_str())
        .collect();
    assert_eq!(recs.len(), 2, "fresh open and terminal records");
    assert!(
        recs.iter()
            .all(|r| r["continues"] == denied.attempt_id.as_str() && r["depth"] == 1)
    );
}

#[test]
fn inv_cont_not_retry_the_same_evidence_can_be_continued_only_once() {
    let (_s, exec, rail) = draft_rail();
    let denied = attempt(&rail, "operator-1", &request("prior_authorisation"));
    let first = attempt(
        &rail,
        "operator-1",
        &continuation(&denied, "discharge_summary", "operator_amended_request"),
    );
    assert_eq!(first.code, C::CompletedDraft);
    let again = attempt(
        &rail,
        "operator-1",
        &continuation(&denied, "referral_letter", "operator_amended_request"),
    );
    assert_eq!(again.code, C::DeniedContinuationAlreadyUsed);
    assert_eq!(exec.calls(), 1);
}

#[test]
fn inv_cont_not_retry_an_unchanged_request_is_a_retry_unless_policy_allows_the_reason() {
    let s = setup();
    let exec = Counting::new(Answer::Fail(ExecutorError::Fault("down")));
    let rail = rail_with(&s, &exec);
    let aborted = attempt(&rail, "operator-1", &request("discharge_summary"));
    assert_eq!(aborted.code, C::AbortedExecutorFault);
    let retry = attempt(
        &rail,
        "operator-1",
        &continuation(&aborted, "discharge_summary", "operator_amended_request"),
    );
    assert_eq!(retry.code, C::DeniedContinuationIsRetry);
    assert_eq!(
        exec.calls(),
        1,
        "a refused retry never reaches the executor"
    );
    // The refused retry is itself a continuation of the abort, so the abort is now used; the
    // operator continues the retry's denial instead, confirming the dependency is restored.
    drop(rail);
    let exec2 = Counting::new(Answer::Draft);
    let rail = rail_with(&s, &exec2);
    let restored = attempt(
        &rail,
        "operator-1",
        &continuation(
            &retry,
            "discharge_summary",
            "operator_confirmed_dependency_restored",
        ),
    );
    assert_eq!(restored.code, C::CompletedDraft, "{:?}", restored.detail);
    assert_eq!(restored.provenance.depth, 2);
    assert_eq!(restored.provenance.chain_root, aborted.attempt_id);
}

#[test]
fn inv_cont_evidence_forged_truncated_and_foreign_tokens_are_invalid() {
    let (_s, exec, rail) = draft_rail();
    let denied = attempt(&rail, "operator-1", &request("prior_authorisation"));
    let token = denied.evidence.clone().unwrap();
    let other = setup();
    let other_rail = rail_with(&other, &Counting::new(Answer::Draft));
    let foreign = attempt(&other_rail, "operator-1", &request("prior_authorisation"))
        .evidence
        .unwrap();
    let mut flipped = token.clone().into_bytes();
    let mid = flipped.len() / 2;
    flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
    for bad in [
        String::from_utf8(flipped).unwrap(),
        token[..token.len() - 10].to_owned(),
        token.replace("mig06ev1.", "mig06ev2."),
        foreign,
        "mig06ev1.".to_owned(),
    ] {
        let mut req = request("discharge_summary");
        req["trigger"] = json!("operator_continuation");
        req["continuation"] = json!({"evidence": bad, "reason": "operator_amended_request"});
        let o = attempt(&rail, "operator-1", &req);
        assert_eq!(o.code, C::DeniedContinuationInvalid);
    }
    assert_eq!(exec.calls(), 0);
}

#[test]
fn inv_cont_depth_chains_are_bounded_by_policy() {
    let (_s, exec, rail) = draft_rail();
    let mut req = request("prior_authorisation");
    let mut prior = attempt(&rail, "operator-1", &req);
    for depth in 1..=4u32 {
        req = continuation(&prior, "prior_authorisation", "operator_amended_request");
        req["steps"][0]["params"]["pages"] = json!(depth);
        prior = attempt(&rail, "operator-1", &req);
        assert_eq!(prior.code, C::DeniedPolicy);
        assert_eq!(prior.provenance.depth, depth);
    }
    assert_eq!(
        prior.decision.clone().unwrap().policies,
        ["forbid-chain-depth-over-3"]
    );
    // Depth 4 is refused even for a request that would otherwise be permitted.
    let mut req = continuation(&prior, "discharge_summary", "operator_amended_request");
    req["steps"][0]["params"]["pages"] = json!(9);
    let o = attempt(&rail, "operator-1", &req);
    assert_eq!((o.code, o.provenance.depth), (C::DeniedPolicy, 5));
    assert_eq!(exec.calls(), 0);
}

#[test]
fn inv_cont_not_retry_two_concurrent_continuations_of_one_attempt_exactly_one_wins() {
    let s = setup();
    let exec = Counting::new(Answer::Draft);
    let denied = {
        let rail = rail_with(&s, &exec);
        attempt(&rail, "operator-1", &request("prior_authorisation"))
    };
    // Two rails on one data directory, as two processes would be.
    let rails = [rail_with(&s, &exec), rail_with(&s, &exec)];
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let hs: Vec<_> = rails
            .iter()
            .enumerate()
            .map(|(i, rail)| {
                let kind = if i == 0 {
                    "discharge_summary"
                } else {
                    "referral_letter"
                };
                let req = continuation(&denied, kind, "operator_amended_request");
                scope.spawn(move || attempt(rail, "operator-1", &req))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners = outcomes
        .iter()
        .filter(|o| o.code == C::CompletedDraft)
        .count();
    let losers = outcomes
        .iter()
        .filter(|o| o.code == C::DeniedContinuationAlreadyUsed)
        .count();
    assert_eq!(
        (winners, losers),
        (1, 1),
        "{:?}",
        outcomes.iter().map(|o| o.code).collect::<Vec<_>>()
    );
    assert_eq!(exec.calls(), 1);
    let claims = log_lines(&s)
        .iter()
        .filter(|r| r["continues"] == denied.attempt_id.as_str() && r["kind"] == "terminal")
        .count();
    assert_eq!(claims, 1);
}

#[test]
fn inv_cont_explicit_a_completed_draft_is_not_continuable_by_the_example_policy() {
    let (_s, _exec, rail) = draft_rail();
    let done = attempt(&rail, "operator-1", &request("discharge_summary"));
    let o = attempt(
        &rail,
        "operator-1",
        &continuation(&done, "referral_letter", "operator_amended_request"),
    );
    assert_eq!(o.code, C::DeniedPolicy);
}

#[test]
fn inv_cont_explicit_a_continuation_needs_the_continuation_trigger() {
    let (_s, _exec, rail) = draft_rail();
    let denied = attempt(&rail, "operator-1", &request("prior_authorisation"));
    let mut req = continuation(&denied, "discharge_summary", "operator_amended_request");
    req["trigger"] = json!("operator_explicit");
    assert_eq!(
        attempt(&rail, "operator-1", &req).code,
        C::DeniedUnapprovedTrigger
    );
}
