//! Post-terminal continuations (outline §4.2) and provenance (§4.3), through the real rail.

use crate::common::*;
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
    let exec = Counting::new(Answer::Fail(ExecutorError::Fault(
        mig06_rail::executor::ExecutorFault::ConnectionFailed,
    )));
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
    // The refused retry cites the abort but takes no claim, and is not continuable itself: the
    // operator continues the abort again, confirming the dependency is restored.
    assert_eq!(
        retry.provenance.continues.as_ref(),
        Some(&aborted.attempt_id)
    );
    drop(rail);
    let exec2 = Counting::new(Answer::Draft);
    let rail = rail_with(&s, &exec2);
    let of_retry = attempt(
        &rail,
        "operator-1",
        &continuation(
            &retry,
            "discharge_summary",
            "operator_confirmed_dependency_restored",
        ),
    );
    assert_eq!(of_retry.code, C::DeniedContinuationInvalid);
    let restored = attempt(
        &rail,
        "operator-1",
        &continuation(
            &aborted,
            "discharge_summary",
            "operator_confirmed_dependency_restored",
        ),
    );
    assert_eq!(restored.code, C::CompletedDraft, "{:?}", restored.detail);
    assert_eq!(restored.provenance.depth, 1);
    assert_eq!(restored.provenance.chain_root, aborted.attempt_id);
    assert_eq!(exec2.calls(), 1);
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
    let holders: std::collections::BTreeSet<String> = log_lines(&s)
        .iter()
        .filter(|r| r["continues"] == denied.attempt_id.as_str() && r["claim"] == true)
        .map(|r| r["attempt_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(holders.len(), 1);
    let citing_terminals = log_lines(&s)
        .iter()
        .filter(|r| r["continues"] == denied.attempt_id.as_str() && r["kind"] == "terminal")
        .count();
    assert_eq!(
        citing_terminals, 2,
        "the loser cites the prior too, without the claim"
    );
}

#[test]
fn inv_cont_explicit_a_completed_draft_is_not_continuable() {
    let (_s, exec, rail) = draft_rail();
    let done = attempt(&rail, "operator-1", &request("discharge_summary"));
    let o = attempt(
        &rail,
        "operator-1",
        &continuation(&done, "referral_letter", "operator_amended_request"),
    );
    // Refused by the rail before any policy sees it, whatever the bundle says.
    assert_eq!(o.code, C::DeniedContinuationInvalid);
    assert_eq!(
        o.detail.unwrap().reason,
        mig06_rail::outcome::Reason::PriorNotContinuable
    );
    assert!(o.decision.is_none());
    assert_eq!(exec.calls(), 1);
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

// ---- The rule is about the chain, not the link ----

/// The terminal record of `attempt` in the log.
fn terminal_of(s: &Setup, attempt: &str) -> serde_json::Value {
    log_lines(s)
        .into_iter()
        .find(|r| r["attempt_id"] == attempt && r["kind"] == "terminal")
        .unwrap()
}

/// A set-up with three operators: `operator-1` and `operator-2` registered for both operator
/// triggers, `operator-3` for `operator_explicit` only.
fn three_callers() -> Setup {
    let mut s = setup();
    let one = s.config.callers[0].clone();
    let mut two = one.clone();
    two.id = mig06_rail::ids::CallerId::parse("operator-2").unwrap();
    let mut three = one.clone();
    three.id = mig06_rail::ids::CallerId::parse("operator-3").unwrap();
    three.triggers = [mig06_rail::request::Trigger::OperatorExplicit].into();
    s.config.callers.extend([two, three]);
    s
}

#[test]
fn inv_cont_chain_every_attempt_citing_a_verified_prior_records_its_chain_root_and_depth() {
    let (s, exec, rail) = draft_rail();
    let denied = attempt(&rail, "operator-1", &request("prior_authorisation"));
    let mut amended = continuation(&denied, "prior_authorisation", "operator_amended_request");
    amended["steps"][0]["params"]["pages"] = json!(2);
    let first = attempt(&rail, "operator-1", &amended);
    // A step denial keeps its claim; its own continuation would be depth 2.
    assert_eq!((first.code, first.provenance.depth), (C::DeniedPolicy, 1));
    // A second continuation of the already-continued prior: refused, but it cites the prior.
    let second = attempt(
        &rail,
        "operator-1",
        &continuation(&denied, "discharge_summary", "operator_amended_request"),
    );
    assert_eq!(second.code, C::DeniedContinuationAlreadyUsed);
    assert_eq!(
        second.provenance.continues.as_ref(),
        Some(&denied.attempt_id)
    );
    assert_eq!(second.provenance.chain_root, denied.attempt_id);
    assert_eq!(second.provenance.depth, 1);
    let rec = terminal_of(&s, second.attempt_id.as_str());
    assert_eq!(rec["continues"], denied.attempt_id.as_str());
    assert_eq!(rec["chain_root"], denied.attempt_id.as_str());
    assert_eq!(rec["depth"], 1);
    assert_eq!(
        rec.get("claim"),
        None,
        "a refused continuation holds no claim"
    );
    // Continuing that denial neither restarts the depth count nor forks the chain.
    let third = attempt(
        &rail,
        "operator-1",
        &continuation(&second, "discharge_summary", "operator_amended_request"),
    );
    assert_eq!(third.code, C::DeniedContinuationInvalid);
    assert_eq!(
        third.detail.unwrap().reason,
        mig06_rail::outcome::Reason::PriorNotContinuable
    );
    assert_eq!(
        (third.provenance.chain_root.clone(), third.provenance.depth),
        (denied.attempt_id.clone(), 2)
    );
    let rec = terminal_of(&s, third.attempt_id.as_str());
    assert_eq!(
        (&rec["continues"], &rec["depth"]),
        (&json!(second.attempt_id.as_str()), &json!(2))
    );
    // The claim holder's records say so.
    let holder = terminal_of(&s, first.attempt_id.as_str());
    assert_eq!(holder["claim"], true);
    assert_eq!(exec.calls(), 0);
}

#[test]
fn inv_cont_chain_completed_drafts_and_continuation_rule_denials_are_not_continuable() {
    let s = three_callers();
    let exec = Counting::new(Answer::Draft);
    let rail = rail_with(&s, &exec);
    let refused = |prior: &mig06_rail::outcome::Outcome| {
        let o = attempt(
            &rail,
            "operator-1",
            &continuation(prior, "discharge_summary", "operator_amended_request"),
        );
        assert_eq!(o.code, C::DeniedContinuationInvalid, "{}", prior.code);
        assert_eq!(
            o.detail.clone().unwrap().reason,
            mig06_rail::outcome::Reason::PriorNotContinuable
        );
        assert_eq!(o.provenance.continues.as_ref(), Some(&prior.attempt_id));
        o
    };
    // COMPLETED_DRAFT.
    let done = attempt(&rail, "operator-1", &request("discharge_summary"));
    assert_eq!(done.code, C::CompletedDraft);
    let invalid = refused(&done);
    // DENIED_CONTINUATION_INVALID (itself a denial of the continuation rules).
    refused(&invalid);
    // DENIED_UNAPPROVED_TRIGGER, a fresh attempt and a continuation.
    let mut req = request("discharge_summary");
    req["trigger"] = json!("service_explicit");
    let trigger = attempt(&rail, "operator-1", &req);
    assert_eq!(trigger.code, C::DeniedUnapprovedTrigger);
    refused(&trigger);
    // DENIED_CONTINUATION_IS_RETRY and DENIED_CONTINUATION_ALREADY_USED.
    let denied = attempt(&rail, "operator-1", &request("prior_authorisation"));
    let retry = attempt(
        &rail,
        "operator-1",
        &continuation(&denied, "prior_authorisation", "operator_amended_request"),
    );
    assert_eq!(retry.code, C::DeniedContinuationIsRetry);
    refused(&retry);
    let amended = attempt(
        &rail,
        "operator-1",
        &continuation(&denied, "discharge_summary", "operator_amended_request"),
    );
    assert_eq!(amended.code, C::CompletedDraft, "a retry leaves the claim");
    let used = attempt(
        &rail,
        "operator-1",
        &continuation(&denied, "referral_letter", "operator_amended_request"),
    );
    assert_eq!(used.code, C::DeniedContinuationAlreadyUsed);
    refused(&used);
    assert_eq!(exec.calls(), 2);
}

#[test]
fn inv_cont_claim_another_callers_evidence_is_denied_and_leaves_the_claim_available() {
    let s = three_callers();
    let exec = Counting::new(Answer::Draft);
    let rail = rail_with(&s, &exec);
    let denied = attempt(&rail, "operator-1", &request("prior_authorisation"));
    // operator-2 is registered for the continuation trigger, but the prior is operator-1's.
    let other = attempt(
        &rail,
        "operator-2",
        &continuation(&denied, "discharge_summary", "operator_amended_request"),
    );
    assert_eq!(other.code, C::DeniedUnapprovedTrigger);
    assert_eq!(
        other.decision.clone().unwrap().policies,
        ["forbid-continuation-by-another-caller"]
    );
    assert_eq!(
        other.provenance.continues.as_ref(),
        Some(&denied.attempt_id)
    );
    assert_eq!(other.provenance.depth, 1);
    // operator-3 is not registered for the continuation trigger at all.
    let unregistered = attempt(
        &rail,
        "operator-3",
        &continuation(&denied, "discharge_summary", "operator_amended_request"),
    );
    assert_eq!(unregistered.code, C::DeniedUnapprovedTrigger);
    assert_eq!(
        unregistered.detail.clone().unwrap().reason,
        mig06_rail::outcome::Reason::NotRegisteredForCaller
    );
    // Neither took the claim: operator-1 still continues its own attempt, once.
    assert!(
        log_lines(&s)
            .iter()
            .all(|r| r.get("claim").is_none() || r["caller"] == "operator-1")
    );
    let own = attempt(
        &rail,
        "operator-1",
        &continuation(&denied, "discharge_summary", "operator_amended_request"),
    );
    assert_eq!(own.code, C::CompletedDraft, "{:?}", own.detail);
    assert_eq!(exec.calls(), 1);
}

#[test]
fn inv_cont_not_retry_a_prior_refused_at_the_request_stage_is_continued_by_an_amended_request() {
    let (s, exec, rail) = draft_rail();
    // PHI in the request id: the request never parses, so the abort records no fingerprint.
    let mut req = request("discharge_summary");
    req["request_id"] = json!("jane.doe@example.org");
    let phi = attempt(&rail, "operator-1", &req);
    assert_eq!(phi.code, C::AbortedPhiDetected);
    assert!(
        terminal_of(&s, phi.attempt_id.as_str())
            .get("request_fp")
            .is_none()
    );
    // The same request again, as a continuation: refused where the prior was, whatever reason.
    let mut same = continuation(
        &phi,
        "discharge_summary",
        "operator_confirmed_dependency_restored",
    );
    same["request_id"] = json!("jane.doe@example.org");
    assert_eq!(
        attempt(&rail, "operator-1", &same).code,
        C::AbortedPhiDetected
    );
    // Two steps that became one, an unknown kind that became a permitted one: each parsed, so
    // each is amended, and the step gate judges it as the new request it is.
    let mut two = request("discharge_summary");
    two["steps"] = json!([two["steps"][0], two["steps"][0]]);
    let multi = attempt(&rail, "operator-1", &two);
    assert_eq!(multi.code, C::DeniedMultiStep);
    let unknown = attempt(&rail, "operator-1", &request("not_a_kind"));
    assert_eq!(unknown.code, C::DeniedRequestInvalid);
    for prior in [&phi, &multi, &unknown] {
        let o = attempt(
            &rail,
            "operator-1",
            &continuation(prior, "discharge_summary", "operator_amended_request"),
        );
        assert_eq!(o.code, C::CompletedDraft, "{:?}", o.detail);
        assert_eq!(o.provenance.continues.as_ref(), Some(&prior.attempt_id));
    }
    assert_eq!(exec.calls(), 3);
}

/// A prior request body of the generated continuation sequences: a note kind (the fourth is
/// not in the vocabulary), optional pages, two steps, PHI in the subject.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Body {
    note: usize,
    pages: Option<i64>,
    two_steps: bool,
    phi: bool,
}

fn gen_body() -> impl proptest::strategy::Strategy<Value = Body> {
    use proptest::prelude::*;
    (
        0..4usize,
        proptest::option::of(1i64..=4),
        prop_oneof![4 => Just(false), 1 => Just(true)],
        prop_oneof![4 => Just(false), 1 => Just(true)],
    )
        .prop_map(|(note, pages, two_steps, phi)| Body {
            note,
            pages,
            two_steps,
            phi,
        })
}

fn body_of(b: &Body) -> serde_json::Value {
    let mut r = request(
        [
            "discharge_summary",
            "referral_letter",
            "prior_authorisation",
            "not_a_kind",
        ][b.note],
    );
    if let Some(p) = b.pages {
        r["steps"][0]["params"]["pages"] = json!(p);
    }
    if b.two_steps {
        r["steps"] = json!([r["steps"][0], r["steps"][0]]);
    }
    if b.phi {
        r["subject"] = json!("jane.doe@example.org");
    }
    r
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Whatever the prior (completed, denied by policy, invalid, multi-step, PHI, executor
    /// fault), a continuation that is the prior's request unchanged never reaches the executor
    /// unless its reason is one policy allows for an unchanged request, and one that changed
    /// anything is never called unchanged.
    #[test]
    fn inv_cont_not_retry_unchanged_is_never_accepted_and_amended_is_never_called_unchanged(
        prior_body in gen_body(),
        next in gen_body(),
        unchanged in proptest::prelude::any::<bool>(),
        reason in 0..3usize,
    ) {
        let s = setup();
        let exec = OddPagesFault::default();
        let rail = mig06_rail::rail::Rail::open(s.config.clone(), Some(Box::new(exec.clone())))
            .unwrap();
        let prior = attempt(&rail, "operator-1", &body_of(&prior_body));
        proptest::prop_assume!(prior.code.is_continuable() && prior.evidence.is_some());
        let body = if unchanged { prior_body.clone() } else { next };
        let amended = body != prior_body;
        let mut req = body_of(&body);
        req["trigger"] = json!("operator_continuation");
        req["continuation"] = json!({
            "evidence": prior.evidence.clone().unwrap(),
            "reason": REASONS[reason],
        });
        let calls = exec.0.load(std::sync::atomic::Ordering::SeqCst);
        let o = attempt(&rail, "operator-1", &req);
        let ran = exec.0.load(std::sync::atomic::Ordering::SeqCst) > calls;
        let called_unchanged = o
            .detail
            .as_ref()
            .is_some_and(|d| d.reason == mig06_rail::outcome::Reason::UnchangedRequest);
        if amended {
            proptest::prop_assert!(!called_unchanged, "{prior_body:?} -> {body:?}: {:?}", o.code);
            proptest::prop_assert_ne!(o.code, C::DeniedContinuationIsRetry);
        } else {
            let allowed_unchanged = REASONS[reason] == "operator_confirmed_dependency_restored";
            if !allowed_unchanged || prior.code.is_request_stage_refusal() {
                proptest::prop_assert!(!ran, "{prior_body:?} ({:?}): {:?}", prior.code, o.code);
                proptest::prop_assert_ne!(o.code, C::CompletedDraft);
            }
            if prior.code.is_request_stage_refusal() {
                // Refused where the prior was refused, for the same reason.
                proptest::prop_assert_eq!(o.code, prior.code);
                proptest::prop_assert_eq!(o.detail, prior.detail);
            }
        }
    }
}

#[test]
fn inv_phi_abort_values_are_scanned_by_position_and_the_evidence_record_once_decoded() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (_s, exec, rail) = draft_rail();
    // A key named `evidence` inside params is a value like any other.
    let mut req = request("discharge_summary");
    req["steps"][0]["params"]["evidence"] = json!("078-05-1120");
    let o = attempt(&rail, "operator-1", &req);
    assert_eq!(o.code, C::AbortedPhiDetected);
    assert_eq!(o.detail.unwrap().field, "$.steps[0].params.evidence");
    // So is one nested in the continuation object's wrong place.
    let denied = attempt(&rail, "operator-1", &request("prior_authorisation"));
    let mut req = continuation(&denied, "discharge_summary", "operator_amended_request");
    req["steps"][0]["params"]["note_kind"] = json!({"evidence": "Call 415-555-2671"});
    let o = attempt(&rail, "operator-1", &req);
    assert_eq!(o.code, C::AbortedPhiDetected);
    assert_eq!(
        o.detail.unwrap().field,
        "$.steps[0].params.note_kind.evidence"
    );
    // The record a token carries is decoded and scanned (here, before it fails verification).
    let token = denied.evidence.clone().unwrap();
    let mut wire: serde_json::Value = serde_json::from_slice(
        &b64.decode(token.strip_prefix("mig06ev1.").unwrap())
            .unwrap(),
    )
    .unwrap();
    let mut record: serde_json::Value =
        serde_json::from_str(wire["record"].as_str().unwrap()).unwrap();
    record["detail"] = json!({"field": "$", "reason": "jane.doe@example.org"});
    wire["record"] = json!(record.to_string());
    let forged = format!("mig06ev1.{}", b64.encode(wire.to_string()));
    let mut req = request("discharge_summary");
    req["trigger"] = json!("operator_continuation");
    req["continuation"] = json!({"evidence": forged, "reason": "operator_amended_request"});
    let o = attempt(&rail, "operator-1", &req);
    assert_eq!(o.code, C::AbortedPhiDetected);
    let d = o.detail.unwrap();
    assert_eq!(d.field, "$.continuation.evidence.record.detail.reason");
    assert!(d.reason.to_string().contains("email"), "{}", d.reason);
    // Text in the token's place that is not a token is scanned as text.
    req["continuation"]["evidence"] = json!("mig06ev1.078-05-1120");
    let o = attempt(&rail, "operator-1", &req);
    assert_eq!(o.code, C::AbortedPhiDetected);
    assert_eq!(o.detail.unwrap().field, "$.continuation.evidence");
    // A genuine token is not PHI.
    let ok = attempt(
        &rail,
        "operator-1",
        &continuation(&denied, "discharge_summary", "operator_amended_request"),
    );
    assert_eq!(ok.code, C::CompletedDraft, "{:?}", ok.detail);
    assert_eq!(exec.calls(), 1);
}

/// A downstream that faults on an odd `pages` and drafts otherwise, counting its calls.
#[derive(Clone, Default)]
struct OddPagesFault(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl mig06_rail::executor::Executor for OddPagesFault {
    fn execute(
        &self,
        input: &mig06_rail::executor::StepInput,
        _deadline: mig06_rail::executor::Deadline,
    ) -> Result<serde_json::Value, ExecutorError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match input.params["pages"].as_i64() {
            Some(p) if p % 2 == 1 => Err(ExecutorError::Fault(
                mig06_rail::executor::ExecutorFault::NonzeroExit,
            )),
            _ => Ok(draft_receipt()),
        }
    }
}

/// One request of a generated sequence.
#[derive(Debug, Clone)]
enum Op {
    /// A fresh attempt.
    Fresh {
        caller: usize,
        trigger: usize,
        note: usize,
        pages: Option<i64>,
    },
    /// A continuation of the `of % n`-th latest earlier outcome (reuse included; recent ones
    /// are drawn more often, so chains grow and tokens are reused).
    Continue {
        of: usize,
        caller: usize,
        trigger: usize,
        note: usize,
        pages: Option<i64>,
        reason: usize,
        /// Repeat the prior's note and pages (an unchanged request) instead of `note`/`pages`.
        unchanged: bool,
    },
}

const CALLERS: [&str; 3] = ["operator-1", "operator-2", "operator-3"];
const TRIGGERS: [&str; 3] = [
    "operator_continuation",
    "operator_explicit",
    "service_explicit",
];
const NOTES: [&str; 3] = [
    "discharge_summary",
    "referral_letter",
    "prior_authorisation",
];
const REASONS: [&str; 3] = [
    "operator_amended_request",
    "operator_confirmed_dependency_restored",
    "operator_supplied_missing_authorisation",
];

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    let pages = proptest::option::of(1i64..=4);
    prop_oneof![
        1 => (prop_oneof![3 => Just(0usize), 1 => 1..3usize], 0..3usize, 0..3usize, pages.clone()).prop_map(
            |(caller, trigger, note, pages)| Op::Fresh { caller, trigger, note, pages }
        ),
        3 => (
            prop_oneof![3 => 0..3usize, 1 => any::<usize>()],
            prop_oneof![4 => Just(0usize), 1 => 1..3usize],
            prop_oneof![4 => Just(0usize), 1 => 1..3usize],
            0..3usize,
            pages,
            0..3usize,
            any::<bool>(),
        )
            .prop_map(|(of, caller, trigger, note, pages, reason, unchanged)| Op::Continue {
                of,
                caller,
                trigger,
                note,
                pages,
                reason,
                unchanged,
            }),
    ]
}

fn body(trigger: usize, note: usize, pages: Option<i64>) -> serde_json::Value {
    let mut r = request(NOTES[note]);
    r["trigger"] = json!(TRIGGERS[trigger]);
    if let Some(p) = pages {
        r["steps"][0]["params"]["pages"] = json!(p);
    }
    r
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Whatever sequence of requests arrives (fresh attempts, continuations of random earlier
    /// tokens, reused tokens, other callers, random triggers, amended or unchanged requests),
    /// one chain root yields at most one `COMPLETED_DRAFT`, every claim is held by one attempt,
    /// and every citing record carries its prior's chain root and depth + 1.
    #[test]
    fn inv_cont_chain_one_chain_root_yields_at_most_one_completed_draft(
        ops in proptest::collection::vec(op(), 1..24)
    ) {
        use std::collections::{BTreeMap, BTreeSet};
        let s = three_callers();
        let exec = OddPagesFault::default();
        let rail = mig06_rail::rail::Rail::open(s.config.clone(), Some(Box::new(exec.clone())))
            .unwrap();
        // Each earlier outcome with a token: (outcome, note, pages).
        let mut priors: Vec<(mig06_rail::outcome::Outcome, usize, Option<i64>)> = Vec::new();
        for op in &ops {
            let (caller, req, note, pages) = match op {
                Op::Fresh { caller, trigger, note, pages } => {
                    (CALLERS[*caller], body(*trigger, *note, *pages), *note, *pages)
                }
                Op::Continue { of, caller, trigger, note, pages, reason, unchanged } => {
                    if priors.is_empty() {
                        continue;
                    }
                    let (prior, pnote, ppages) = &priors[priors.len() - 1 - of % priors.len()];
                    let (note, pages) =
                        if *unchanged { (*pnote, *ppages) } else { (*note, *pages) };
                    let mut r = body(*trigger, note, pages);
                    r["continuation"] = json!({
                        "evidence": prior.evidence.clone().unwrap(),
                        "reason": REASONS[*reason],
                    });
                    (CALLERS[*caller], r, note, pages)
                }
            };
            let o = attempt(&rail, caller, &req);
            proptest::prop_assert!(o.recorded, "{:?}", o.code);
            priors.push((o, note, pages));
        }
        let records = log_lines(&s);
        let by_attempt: BTreeMap<String, &serde_json::Value> = records
            .iter()
            .filter(|r| r["kind"] == "terminal")
            .map(|r| (r["attempt_id"].as_str().unwrap().to_owned(), r))
            .collect();
        let mut completed: BTreeMap<String, usize> = BTreeMap::new();
        let mut holders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in &records {
            let root = r["chain_root"].as_str().unwrap().to_owned();
            if r["code"] == "COMPLETED_DRAFT" {
                *completed.entry(root.clone()).or_default() += 1;
            }
            if let Some(prior) = r["continues"].as_str() {
                let p = by_attempt[prior];
                proptest::prop_assert_eq!(&r["chain_root"], &p["chain_root"]);
                proptest::prop_assert_eq!(
                    r["depth"].as_u64().unwrap(),
                    p["depth"].as_u64().unwrap() + 1
                );
                if r["claim"] == true {
                    holders
                        .entry(prior.to_owned())
                        .or_default()
                        .insert(r["attempt_id"].as_str().unwrap().to_owned());
                }
            } else {
                proptest::prop_assert_eq!(&r["chain_root"], &r["attempt_id"]);
                proptest::prop_assert_eq!(r["depth"].as_u64(), Some(0));
            }
        }
        proptest::prop_assert!(completed.values().all(|n| *n <= 1), "{completed:?}");
        proptest::prop_assert!(holders.values().all(|h| h.len() == 1), "{holders:?}");
        // Each opened attempt ran its step once; `audit verify` and opening the store agree.
        let opened = records.iter().filter(|r| r["kind"] == "open").count();
        proptest::prop_assert_eq!(exec.0.load(std::sync::atomic::Ordering::SeqCst), opened);
        drop(rail);
        let signer = mig06_rail::rail::load_signer(&s.config).unwrap();
        let dir = mig06_rail::rail::audit_dir(&s.config);
        let report =
            mig06_rail::audit::verify::verify_dir(&dir, &signer.verifier(), None, &mut |_, _| {});
        proptest::prop_assert!(report.is_ok(), "{report:?}");
        proptest::prop_assert!(mig06_rail::audit::file::FileStore::open(&dir, signer).is_ok());
    }
}

#[test]
fn inv_cont_chain_audit_verify_and_opening_the_store_refuse_the_same_forged_claim() {
    use mig06_rail::audit::{AuditRecord, hash_hex};
    let (s, _exec, rail) = draft_rail();
    let denied = attempt(&rail, "operator-1", &request("prior_authorisation"));
    let mut amended = continuation(&denied, "prior_authorisation", "operator_amended_request");
    amended["steps"][0]["params"]["pages"] = json!(2);
    let holder = attempt(&rail, "operator-1", &amended);
    assert_eq!(holder.code, C::DeniedPolicy);
    drop(rail);
    // Someone with the signing key writes a well-linked, signed record of a second attempt
    // claiming the same prior.
    let dir = mig06_rail::rail::audit_dir(&s.config);
    let log = dir.join("log.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut tree = mig06_rail::tlog::Tree::new();
    for l in &lines {
        tree.push(mig06_rail::tlog::leaf_hash(l.as_bytes()));
    }
    let last = lines.last().unwrap();
    let mut forged: AuditRecord = serde_json::from_str(last).unwrap();
    assert!(forged.claim);
    forged.attempt_id = mig06_rail::ids::AttemptId::mint();
    forged.prev = hash_hex(&mig06_rail::tlog::leaf_hash(last.as_bytes()));
    forged.seq = lines.len() as u64;
    let bytes = serde_json::to_vec(&forged).unwrap();
    tree.push(mig06_rail::tlog::leaf_hash(&bytes));
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut f, &[bytes.as_slice(), b"\n"].concat()).unwrap();
    let signer = mig06_rail::rail::load_signer(&s.config).unwrap();
    let note = signer.sign(&mig06_rail::tlog::checkpoint::Checkpoint {
        origin: signer.origin().to_owned(),
        size: tree.size(),
        root: tree.root(),
    });
    std::fs::write(dir.join("checkpoint.latest"), note).unwrap();
    // Verification and opening name the same record.
    let verified =
        mig06_rail::audit::verify::verify_dir(&dir, &signer.verifier(), None, &mut |_, _| {});
    let bad = verified.unwrap_err().first_bad_record;
    let opened = mig06_rail::audit::file::FileStore::open(&dir, signer);
    match opened {
        Err(mig06_rail::audit::AuditError::Corrupt { index, .. }) => {
            assert_eq!(Some(index), bad);
        }
        other => panic!("the store opened a log verify refuses: {other:?}"),
    }
    assert_eq!(bad, Some(lines.len() as u64));
}

/// What the downstream answers in one attempt: the dependency observation.
#[derive(Debug, Clone, Copy)]
enum Obs {
    Draft,
    Fault,
    NotFinal,
    StoppedAtDeadline,
    PendingReceipt,
    FinalReceipt,
    PhiReceipt,
    Unreadable,
}

/// A downstream whose next answer is set before each attempt; counts its calls.
#[derive(Clone)]
struct Scripted {
    next: std::sync::Arc<std::sync::Mutex<Obs>>,
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl mig06_rail::executor::Executor for Scripted {
    fn execute(
        &self,
        _input: &mig06_rail::executor::StepInput,
        _deadline: mig06_rail::executor::Deadline,
    ) -> Result<serde_json::Value, ExecutorError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut receipt = draft_receipt();
        match *self.next.lock().unwrap() {
            Obs::Draft => {}
            Obs::Fault => {
                return Err(ExecutorError::Fault(
                    mig06_rail::executor::ExecutorFault::TransportError,
                ));
            }
            Obs::NotFinal => {
                return Err(ExecutorError::NotFinal(
                    mig06_rail::executor::PendingAnswer::HttpStatus,
                ));
            }
            Obs::StoppedAtDeadline => return Err(ExecutorError::Deadline),
            Obs::PendingReceipt => receipt = json!({"status": "pending"}),
            Obs::FinalReceipt => receipt["docStatus"] = json!("final"),
            Obs::PhiReceipt => receipt["draft_ref"] = json!("jane.doe@example.org"),
            Obs::Unreadable => receipt = json!(["garbage"]),
        }
        Ok(receipt)
    }
}

/// How a generated request is shaped: well formed, or broken in one way, or carrying PHI.
#[derive(Debug, Clone, Copy)]
enum Shape {
    WellFormed,
    UnknownKey,
    MissingSubject,
    TwoSteps,
    NoSteps,
    ForbiddenTrigger,
    PagesNotAnInteger,
    BadRequestId,
    NotJson,
    /// A PHI value (`value`, an index into `PHI`) at a position (`at`, an index into `PHI_AT`).
    Phi {
        at: usize,
        value: usize,
    },
}

const PHI: [&str; 4] = [
    "078-05-1120",
    "jane.doe@example.org",
    "Call 415-555-2671",
    "4111 1111 1111 1111",
];
const PHI_AT: [&str; 5] = [
    "/subject",
    "/request_id",
    "/steps/0/params/note_kind",
    "/steps/0/params/free_text",
    "/continuation/reason",
];

/// One generated request, with what the downstream answers if it runs.
#[derive(Debug, Clone)]
struct Gen {
    caller: usize,
    /// An index into `TRIGGERS`; `None`: the one that fits (the continuation trigger for a
    /// continuation, `operator_explicit` otherwise).
    trigger: Option<usize>,
    /// An index into `NOTES`, or 3: a code outside the vocabulary.
    note: usize,
    pages: Option<i64>,
    request_id: u128,
    shape: Shape,
    /// Continue the `of % n`-th latest earlier attempt, with reason `reason`; `unchanged`
    /// repeats that attempt's note and pages.
    cont: Option<(usize, usize, bool)>,
    obs: Obs,
}

fn gen_request() -> impl proptest::strategy::Strategy<Value = Gen> {
    use proptest::prelude::*;
    let shape = prop_oneof![
        24 => Just(Shape::WellFormed),
        1 => Just(Shape::UnknownKey),
        1 => Just(Shape::MissingSubject),
        1 => Just(Shape::TwoSteps),
        1 => Just(Shape::NoSteps),
        1 => Just(Shape::ForbiddenTrigger),
        1 => Just(Shape::PagesNotAnInteger),
        1 => Just(Shape::BadRequestId),
        1 => Just(Shape::NotJson),
        3 => (0..PHI_AT.len(), 0..PHI.len()).prop_map(|(at, value)| Shape::Phi { at, value }),
    ];
    let obs = prop_oneof![
        6 => Just(Obs::Draft),
        1 => Just(Obs::Fault),
        1 => Just(Obs::NotFinal),
        1 => Just(Obs::StoppedAtDeadline),
        1 => Just(Obs::PendingReceipt),
        1 => Just(Obs::FinalReceipt),
        1 => Just(Obs::PhiReceipt),
        1 => Just(Obs::Unreadable),
    ];
    let cont = proptest::option::weighted(
        0.6,
        (
            prop_oneof![3 => 0..3usize, 1 => any::<usize>()],
            0..3usize,
            any::<bool>(),
        ),
    );
    (
        prop_oneof![4 => Just(0usize), 1 => 1..3usize],
        proptest::option::weighted(0.15, 0..3usize),
        prop_oneof![12 => 0..3usize, 1 => Just(3usize)],
        proptest::option::of(prop_oneof![12 => 1i64..=4, 1 => Just(0i64), 1 => Just(21i64)]),
        any::<u128>(),
        shape,
        cont,
        obs,
    )
        .prop_map(
            |(caller, trigger, note, pages, request_id, shape, cont, obs)| Gen {
                caller,
                trigger,
                note,
                pages,
                request_id,
                shape,
                cont,
                obs,
            },
        )
}

/// The request bytes of `g`, citing `evidence` (a token of this run) when it continues.
fn request_bytes(g: &Gen, note: usize, pages: Option<i64>, evidence: Option<&str>) -> Vec<u8> {
    let note_kind = NOTES.get(note).copied().unwrap_or("free_verse");
    let trigger = match (g.trigger, evidence) {
        (Some(t), _) => TRIGGERS[t],
        (None, Some(_)) => "operator_continuation",
        (None, None) => "operator_explicit",
    };
    let mut r = json!({
        "request_id": ulid::Ulid::from(g.request_id).to_string(),
        "trigger": trigger,
        "subject": SUBJECT,
        "steps": [{"action": "draft_note", "params": {"note_kind": note_kind}}],
    });
    if let Some(p) = pages {
        r["steps"][0]["params"]["pages"] = json!(p);
    }
    if let (Some((_, reason, _)), Some(ev)) = (g.cont, evidence) {
        r["continuation"] = json!({"evidence": ev, "reason": REASONS[reason]});
    }
    match g.shape {
        Shape::WellFormed => {}
        Shape::UnknownKey => r["priority"] = json!("high"),
        Shape::MissingSubject => {
            r.as_object_mut().unwrap().remove("subject");
        }
        Shape::TwoSteps => r["steps"] = json!([r["steps"][0].clone(), r["steps"][0].clone()]),
        Shape::NoSteps => r["steps"] = json!([]),
        Shape::ForbiddenTrigger => r["trigger"] = json!("auto_retry"),
        Shape::PagesNotAnInteger => r["steps"][0]["params"]["pages"] = json!("two"),
        Shape::BadRequestId => r["request_id"] = json!("request-1"),
        Shape::NotJson => return b"{\"request_id\": ".to_vec(),
        Shape::Phi { at, value } => {
            let ptr = PHI_AT[at];
            let (parent, key) = ptr.rsplit_once('/').unwrap();
            let parent = if parent.is_empty() {
                Some(&mut r)
            } else {
                r.pointer_mut(parent)
            };
            if let Some(obj) = parent.and_then(|p| p.as_object_mut()) {
                obj.insert(key.to_owned(), json!(PHI[value]));
            }
        }
    }
    serde_json::to_vec(&r).unwrap()
}

/// What one run of a sequence gives: each answer (ids replaced by the index of the attempt
/// they name, the evidence token by whether there is one) and each audit record (its time and
/// signature, and its link to the previous record, which hashes that signature, blanked; ids
/// replaced by their order of first appearance in the log).
fn run_sequence(ops: &[Gen]) -> (Vec<String>, Vec<String>, usize) {
    use std::collections::HashMap;
    let s = three_callers();
    let exec = Scripted {
        next: std::sync::Arc::new(std::sync::Mutex::new(Obs::Draft)),
        calls: std::sync::Arc::default(),
    };
    let rail =
        mig06_rail::rail::Rail::open(s.config.clone(), Some(Box::new(exec.clone()))).unwrap();
    let mut done: Vec<(mig06_rail::outcome::Outcome, usize, Option<i64>)> = Vec::new();
    for g in ops {
        let prior = g
            .cont
            .filter(|_| !done.is_empty())
            .map(|(of, _, unchanged)| (&done[done.len() - 1 - of % done.len()], unchanged));
        let (note, pages) = match prior {
            Some(((_, note, pages), true)) => (*note, *pages),
            _ => (g.note, g.pages),
        };
        let evidence = prior.map(|((o, ..), _)| o.evidence.clone().unwrap_or_default());
        let bytes = request_bytes(g, note, pages, evidence.as_deref());
        *exec.next.lock().unwrap() = g.obs;
        let caller = rail.local_caller(CALLERS[g.caller]).unwrap();
        done.push((rail.attempt(&caller, &bytes), note, pages));
    }
    let index: HashMap<String, usize> = done
        .iter()
        .enumerate()
        .map(|(i, (o, ..))| (o.attempt_id.as_str().to_owned(), i))
        .collect();
    let answers = done
        .iter()
        .map(|(o, ..)| {
            let id = |a: &mig06_rail::ids::AttemptId| index.get(a.as_str()).copied();
            format!(
                "{:?} {:?} {} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {} {} {}",
                o.code,
                o.detail,
                o.explanation,
                o.message,
                o.decision,
                o.draft_ref,
                o.content_sha256,
                o.request_fingerprint,
                o.provenance.continues.as_ref().map(id),
                id(&o.provenance.chain_root),
                o.provenance.depth,
                o.recorded,
                o.evidence.is_some(),
            )
        })
        .collect();
    let text = std::fs::read_to_string(s.config.data_dir.join("audit/log.jsonl")).unwrap();
    let mut labels: HashMap<String, String> = HashMap::new();
    let records = text
        .lines()
        .map(|line| {
            let r: mig06_rail::audit::AuditRecord = serde_json::from_str(line).unwrap();
            let mut line = line.to_owned();
            for key in ["ts", "deadline", "sig", "prev"] {
                let pat = format!("\"{key}\":\"");
                if let Some(at) = line.find(&pat) {
                    let start = at + pat.len();
                    let end = start + line[start..].find('"').unwrap();
                    line.replace_range(start..end, "~");
                }
            }
            for a in [
                Some(&r.attempt_id),
                Some(&r.chain_root),
                r.continues.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                let n = labels.len();
                let label = labels
                    .entry(a.as_str().to_owned())
                    .or_insert_with(|| format!("attempt#{n}"))
                    .clone();
                line = line.replace(a.as_str(), &label);
            }
            line
        })
        .collect();
    (
        answers,
        records,
        exec.calls.load(std::sync::atomic::Ordering::SeqCst),
    )
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// The same requests (well formed or not, PHI sometimes, continuations of earlier attempts
    /// in the sequence), the same configuration and the same downstream answers, run on two
    /// fresh rails with their own stores and keys, give the same answers and the same audit
    /// records byte for byte, apart from time, signatures (and the links that hash them) and
    /// ids.
    #[test]
    fn inv_terminal_determinism_same_requests_configuration_and_observations_give_the_same_codes_and_record_bytes(
        ops in proptest::collection::vec(gen_request(), 1..12)
    ) {
        let (answers_a, records_a, calls_a) = run_sequence(&ops);
        let (answers_b, records_b, calls_b) = run_sequence(&ops);
        proptest::prop_assert_eq!(answers_a, answers_b);
        proptest::prop_assert_eq!(records_a, records_b);
        proptest::prop_assert_eq!(calls_a, calls_b);
    }
}
