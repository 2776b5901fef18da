//! One attempt per request id per log (INV-NO-RETRY): a request sent twice never runs twice,
//! and the refusal names the attempt that holds the id.

use std::collections::{HashMap, HashSet};

use mig06_rail::outcome::TerminalCode;
use proptest::prelude::*;
use serde_json::Value;

use crate::common::{self, Answer, Counting};

fn verifies(s: &common::Setup) -> bool {
    let verifier = mig06_rail::rail::load_signer(&s.config).unwrap().verifier();
    mig06_rail::audit::verify::verify_dir(
        &mig06_rail::rail::audit_dir(&s.config),
        &verifier,
        None,
        &mut |_, _| {},
    )
    .is_ok()
}

fn records_with_request_id<'a>(lines: &'a [Value], rid: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["request_id"].as_str() == Some(rid))
        .collect()
}

#[test]
fn inv_no_retry_a_resent_request_id_is_refused_before_anything_runs() {
    let (s, exec, rail) = common::draft_rail();
    let req = common::request("discharge_summary");
    let first = common::attempt(&rail, "operator-1", &req);
    assert_eq!(first.code, TerminalCode::CompletedDraft);
    let again = common::attempt(&rail, "operator-1", &req);
    assert_eq!(again.code, TerminalCode::DeniedRequestIdReused);
    assert_eq!(again.request_id_holder.as_ref(), Some(&first.attempt_id));
    assert!(again.draft_ref.is_none() && again.recorded && again.evidence.is_some());
    assert_eq!(exec.calls(), 1, "the step ran once");
    let lines = common::log_lines(&s);
    let rid = req["request_id"].as_str().unwrap();
    let holders: HashSet<&str> = records_with_request_id(&lines, rid)
        .iter()
        .map(|l| l["attempt_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        holders,
        HashSet::from([first.attempt_id.as_str()]),
        "only the first attempt's records carry the id"
    );
    let refusal: Vec<&Value> = lines
        .iter()
        .filter(|l| l["attempt_id"].as_str() == Some(again.attempt_id.as_str()))
        .collect();
    assert_eq!(
        refusal.len(),
        1,
        "the refusal is one terminal record, no open record"
    );
    assert_eq!(refusal[0]["detail"]["reason"], "request_id_used");
    assert!(verifies(&s));
}

#[test]
fn inv_no_retry_a_denied_request_id_is_not_run_by_a_changed_resend() {
    // The id is held whatever the first outcome was: a denial, then the same id with a
    // request policy would permit, still never runs.
    let (_s, exec, rail) = common::draft_rail();
    let mut req = common::request("prior_authorisation");
    let first = common::attempt(&rail, "operator-1", &req);
    assert!(first.code.as_str().starts_with("DENIED_"));
    req["steps"][0]["params"]["note_kind"] = Value::from("discharge_summary");
    let again = common::attempt(&rail, "operator-1", &req);
    assert_eq!(again.code, TerminalCode::DeniedRequestIdReused);
    assert_eq!(again.request_id_holder.as_ref(), Some(&first.attempt_id));
    assert_eq!(exec.calls(), 0);
}

#[test]
fn inv_no_retry_concurrent_resends_on_two_instances_run_once() {
    // Two rails (two writers of one file log, as two processes would be) and eight threads
    // sending the same request at once: exactly one attempt holds the id and runs.
    let s = common::setup();
    let exec = Counting::new(Answer::Draft);
    let a = common::rail_with(&s, &exec);
    let b = common::rail_with(&s, &exec);
    let req = common::request("discharge_summary");
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let rail = if i % 2 == 0 { &a } else { &b };
                let req = &req;
                scope.spawn(move || common::attempt(rail, "operator-1", req))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let completed: Vec<_> = outcomes
        .iter()
        .filter(|o| o.code == TerminalCode::CompletedDraft)
        .collect();
    assert_eq!(
        completed.len(),
        1,
        "{:?}",
        outcomes.iter().map(|o| o.code).collect::<Vec<_>>()
    );
    for o in &outcomes {
        if o.code != TerminalCode::CompletedDraft {
            assert_eq!(o.code, TerminalCode::DeniedRequestIdReused);
            assert_eq!(o.request_id_holder.as_ref(), Some(&completed[0].attempt_id));
        }
    }
    assert_eq!(exec.calls(), 1);
    assert!(verifies(&s));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Over any sequence of requests drawn from a few ids, kinds and two instances: the first
    /// request of each id is judged on its own, every later one is refused naming the first's
    /// attempt, the step runs once per id at most, and the log verifies with one attempt per id.
    #[test]
    fn inv_no_retry_property_every_request_id_runs_at_most_one_attempt(
        seq in proptest::collection::vec((0..4usize, 0..3usize, any::<bool>()), 1..14)
    ) {
        let s = common::setup();
        let exec = Counting::new(Answer::Draft);
        let rails = [common::rail_with(&s, &exec), common::rail_with(&s, &exec)];
        let ids: Vec<String> = (0..4).map(|_| mig06_rail::ids::AttemptId::mint().to_string()).collect();
        let kinds = ["discharge_summary", "referral_letter", "prior_authorisation"];
        let mut holder: HashMap<usize, String> = HashMap::new();
        let mut runs = 0usize;
        for (id, kind, second) in seq {
            let mut req = common::request(kinds[kind]);
            req["request_id"] = Value::from(ids[id].clone());
            let out = common::attempt(&rails[usize::from(second)], "operator-1", &req);
            match holder.get(&id) {
                Some(first) => {
                    prop_assert_eq!(out.code, TerminalCode::DeniedRequestIdReused);
                    prop_assert_eq!(out.request_id_holder.as_ref().map(|a| a.as_str().to_owned()), Some(first.clone()));
                }
                None => {
                    prop_assert_ne!(out.code, TerminalCode::DeniedRequestIdReused);
                    if out.code == TerminalCode::CompletedDraft {
                        runs += 1;
                    }
                    holder.insert(id, out.attempt_id.to_string());
                }
            }
        }
        prop_assert_eq!(exec.calls(), runs);
        let lines = common::log_lines(&s);
        for rid in &ids {
            let attempts: HashSet<&str> = records_with_request_id(&lines, rid)
                .iter()
                .map(|l| l["attempt_id"].as_str().unwrap())
                .collect();
            prop_assert!(attempts.len() <= 1);
        }
        prop_assert!(verifies(&s));
    }
}
