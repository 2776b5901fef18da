//! Repeated member names (I-JSON, RFC 7493 §2.3) through every reader of JSON the rail did not
//! write: requests (through the rail), executor answers, the policy bundle's vocabulary, audit
//! log lines (through `audit verify`) and evidence tokens.

use std::path::PathBuf;
use std::sync::LazyLock;

use base64::Engine as _;
use mig06_rail::executor::command::CommandExecutor;
use mig06_rail::executor::{Deadline, Executor, ExecutorError, ExecutorFault, StepInput};
use mig06_rail::ids::{AttemptId, OpaqueId};
use mig06_rail::outcome::{Reason, TerminalCode as C};
use mig06_rail::request::Code;
use proptest::prelude::*;
use serde_json::json;

use crate::common::*;

/// JSON whose objects may hold a name twice.
#[derive(Debug, Clone)]
enum J {
    S(String),
    N(i64),
    A(Vec<J>),
    O(Vec<(String, J)>),
}

impl J {
    fn s(s: &str) -> Self {
        J::S(s.to_owned())
    }
    fn text(&self) -> String {
        match self {
            J::S(s) => json!(s).to_string(),
            J::N(n) => n.to_string(),
            J::A(items) => format!(
                "[{}]",
                items.iter().map(J::text).collect::<Vec<_>>().join(",")
            ),
            J::O(members) => format!(
                "{{{}}}",
                members
                    .iter()
                    .map(|(k, v)| format!("{}:{}", json!(k), v.text()))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
    fn members(&mut self) -> &mut Vec<(String, J)> {
        match self {
            J::O(m) => m,
            _ => panic!("not an object"),
        }
    }
}

/// A permitted request, as members in document order (optionally a continuation with a
/// token-shaped text that is never verified: the repeat is refused first).
fn request_j(with_continuation: bool) -> J {
    let params = J::O(vec![
        ("note_kind".into(), J::s("discharge_summary")),
        ("pages".into(), J::N(2)),
    ]);
    let step = J::O(vec![
        ("action".into(), J::s("draft_note")),
        ("params".into(), params),
    ]);
    let mut top = vec![
        ("request_id".into(), J::S(AttemptId::mint().to_string())),
        ("trigger".into(), J::s("operator_explicit")),
        ("subject".into(), J::s(SUBJECT)),
        ("steps".into(), J::A(vec![step])),
    ];
    if with_continuation {
        top.push((
            "continuation".into(),
            J::O(vec![
                ("evidence".into(), J::s("mig06ev1.AAAA")),
                ("reason".into(), J::s("operator_amended_request")),
            ]),
        ));
    }
    J::O(top)
}

/// The object at `which` (0 top, 1 the step, 2 params, 3 continuation) and its path.
fn object_at(r: &mut J, which: usize) -> (&mut J, &'static str) {
    match which {
        0 => (r, "$"),
        1 | 2 => {
            let steps = &mut r.members()[3].1;
            let J::A(items) = steps else { panic!("steps") };
            let step = &mut items[0];
            if which == 1 {
                (step, "$.steps[0]")
            } else {
                (&mut step.members()[1].1, "$.steps[0].params")
            }
        }
        _ => (&mut r.members()[4].1, "$.continuation"),
    }
}

static RAIL: LazyLock<(Setup, Counting, mig06_rail::rail::Rail)> = LazyLock::new(draft_rail);

const PHI: &str = "jane.doe@example.org";

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    /// A request that repeats a member, at the top, in the step, in `params`, in the
    /// continuation or deeper inside an undeclared member, is `DENIED_REQUEST_INVALID`
    /// `duplicate_member` at the second occurrence, and nothing runs; PHI in either occurrence
    /// aborts first.
    #[test]
    fn inv_closed_input_a_request_with_a_repeated_member_is_refused_and_phi_in_either_copy_aborts(
        which in 0..4usize,
        member in any::<usize>(),
        deep in any::<bool>(),
        phi_in in 0..3usize,
    ) {
        let (_s, exec, rail) = &*RAIL;
        let calls = exec.calls();
        let mut r = request_j(which == 3);
        let (obj, path) = object_at(&mut r, which);
        let members = obj.members();
        let expected = if deep {
            // An undeclared member holding an object that repeats a name two levels down.
            members.push((
                "x_undeclared".into(),
                J::O(vec![("inner".into(), J::O(vec![
                    ("a".into(), J::s(if phi_in == 1 { PHI } else { "one" })),
                    ("a".into(), J::s(if phi_in == 2 { PHI } else { "two" })),
                ]))]),
            ));
            format!("{path}.<key#1>.<key#1>.<key#1>")
        } else {
            let at = member % members.len();
            let (name, first) = members[at].clone();
            if phi_in == 1 {
                members[at].1 = J::s(PHI);
            }
            let second = if phi_in == 2 { J::s(PHI) } else { first };
            members.push((name.clone(), second));
            format!("{path}.{name}")
        };
        let caller = rail.local_caller("operator-1").unwrap();
        let o = rail.attempt(&caller, r.text().as_bytes());
        let d = o.detail.clone().unwrap();
        if phi_in == 0 {
            prop_assert_eq!(o.code, C::DeniedRequestInvalid);
            prop_assert_eq!(&d.reason, &Reason::DuplicateMember);
            prop_assert_eq!(&d.field, &expected);
        } else {
            prop_assert_eq!(o.code, C::AbortedPhiDetected, "{:?}", d);
            prop_assert!(!d.field.contains("jane"));
        }
        prop_assert!(o.recorded);
        prop_assert_eq!(exec.calls(), calls, "nothing runs");
    }

    /// An executor's answer that repeats a member anywhere is an executor fault, whatever the
    /// values, before it is read as a receipt.
    #[test]
    fn inv_closed_input_an_answer_with_a_repeated_member_is_an_executor_fault(
        deep in any::<bool>(), pick in 0..4usize,
    ) {
        let receipt = draft_receipt();
        let mut members: Vec<(String, J)> = receipt
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), J::S(v.as_str().unwrap().to_owned())))
            .collect();
        if deep {
            members.push(("meta".into(), J::A(vec![J::O(vec![
                ("k".into(), J::N(1)),
                ("k".into(), J::N(2)),
            ])])));
        } else {
            let m = members[pick].clone();
            members.push(m);
        }
        let text = J::O(members).text();
        prop_assert_eq!(
            mig06_rail::executor::read_answer(text.as_bytes(), ExecutorFault::ReceiptNotJson),
            Err(ExecutorError::Fault(ExecutorFault::ReceiptRepeatedMember))
        );
    }
}

#[test]
fn inv_closed_input_the_command_executor_refuses_a_repeated_member_and_the_attempt_records_why() {
    let dir = tempfile::tempdir().unwrap();
    let receipt = r#"{"draft_ref":"draft_0123456789abcdefghjkmnpq","disposition":"draft","disposition":"final","docStatus":"preliminary","content_sha256":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}"#;
    let exec = CommandExecutor::new(
        PathBuf::from("/bin/sh"),
        vec![
            "-c".into(),
            format!("cat >/dev/null; printf '%s' '{receipt}'"),
        ],
        dir.path().join("scratch"),
    );
    let input = StepInput {
        attempt_id: AttemptId::mint(),
        action: Code::parse("draft_note").unwrap(),
        subject: OpaqueId::parse(SUBJECT).unwrap(),
        params: json!({"note_kind": "discharge_summary"}),
        trace: None,
    };
    let err = exec
        .execute(&input, Deadline::after(std::time::Duration::from_secs(10)))
        .unwrap_err();
    assert_eq!(
        err,
        ExecutorError::Fault(ExecutorFault::ReceiptRepeatedMember)
    );
    assert_eq!(err.code(), C::AbortedExecutorFault);
    assert_eq!(err.reason(), Reason::DuplicateMember);
}

#[test]
fn inv_closed_input_a_vocabulary_that_repeats_a_name_does_not_load() {
    let s = setup();
    let bundle = s.config.policy_bundle.clone();
    let vocab = bundle.join("vocabulary.json");
    let text = std::fs::read_to_string(&vocab).unwrap();
    // The same action declared twice: a map would keep the second silently.
    let twice = text.replacen(
        "\"draft_note\": {",
        "\"draft_note\": {\"params\": {}}, \"draft_note\": {",
        1,
    );
    assert_ne!(twice, text);
    std::fs::write(&vocab, twice).unwrap();
    let err = mig06_rail::policy::PolicyGate::load(&bundle, None).unwrap_err();
    let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(
        chain.contains("repeated at $.actions.draft_note"),
        "{chain}"
    );
}

#[test]
fn inv_closed_input_audit_verify_refuses_a_log_line_that_repeats_a_member_at_any_depth() {
    let (s, _exec, rail) = draft_rail();
    let o = attempt(&rail, "operator-1", &request("prior_authorisation"));
    assert_eq!(o.code, C::DeniedPolicy);
    drop(rail);
    let dir = mig06_rail::rail::audit_dir(&s.config);
    let log = dir.join("log.jsonl");
    let original = std::fs::read_to_string(&log).unwrap();
    let signer = mig06_rail::rail::load_signer(&s.config).unwrap();
    // The last line is the terminal record: repeat a member at the top, in `decision`.
    let last = original.lines().last().unwrap();
    for (from, to, at) in [
        ("\"seq\":", "\"seq\":1,\"seq\":", "$.seq"),
        (
            "\"errors\":",
            "\"errors\":false,\"errors\":",
            "$.decision.errors",
        ),
    ] {
        let altered = last.replacen(from, to, 1);
        assert_ne!(altered, last);
        std::fs::write(&log, original.replace(last, &altered)).unwrap();
        let report =
            mig06_rail::audit::verify::verify_dir(&dir, &signer.verifier(), None, &mut |_, _| {});
        let message = format!("{:?}", report.unwrap_err());
        assert!(
            message.contains(&format!("a member name is repeated at {at}")),
            "{message}"
        );
    }
}

#[test]
fn inv_closed_input_an_evidence_token_that_repeats_a_member_is_malformed() {
    let (s, _exec, rail) = draft_rail();
    let o = attempt(&rail, "operator-1", &request("prior_authorisation"));
    let token = o.evidence.clone().unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let body = token.strip_prefix("mig06ev1.").unwrap();
    let wire = String::from_utf8(b64.decode(body).unwrap()).unwrap();
    let verifier = mig06_rail::rail::load_signer(&s.config).unwrap().verifier();
    assert!(mig06_rail::evidence::verify(&token, &verifier).is_ok());
    // The same index twice: serde's derive would refuse this one itself; the one reader
    // refuses it first, and the token is malformed either way.
    let twice = wire.replacen("\"index\":", "\"index\":0,\"index\":", 1);
    assert_ne!(twice, wire);
    let forged = format!("mig06ev1.{}", b64.encode(twice));
    assert_eq!(
        mig06_rail::evidence::verify(&forged, &verifier).unwrap_err(),
        mig06_rail::evidence::EvidenceError::Malformed(mig06_rail::evidence::TokenPart::Json)
    );
    // As a continuation it is refused as invalid evidence, never verified as the prior.
    let mut r = continuation(&o, "discharge_summary", "operator_amended_request");
    r["continuation"]["evidence"] = json!(forged);
    let c = attempt(&rail, "operator-1", &r);
    assert_eq!(c.code, C::DeniedContinuationInvalid);
    assert_eq!(c.detail.unwrap().reason, Reason::Malformed);
}
