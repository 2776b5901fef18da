//! Witnessed history (INV-WITNESSED): no step runs unless a quorum of witnesses cosigned a
//! checkpoint that includes its open record, and a rolled-back or forked log is refused. The
//! witnesses here are the real `mig06-witness` witness (its checks, its durable state, its
//! cosignatures), called in process instead of over HTTP.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use mig06_rail::outcome::TerminalCode;
use mig06_rail::rail::Rail;

use crate::common::{self, Answer, Counting, Setup};

use crate::in_process_witness::InProcessWitness as Real;

/// A set-up whose configuration lists `n` witnesses with quorum `k` (the configuration is what
/// decides the quorum; the witnesses are supplied as the binary would).
fn witnessed_setup(n: usize, k: usize) -> (Setup, Vec<Real>, tempfile::TempDir) {
    let s = common::setup();
    let state = tempfile::tempdir().unwrap();
    let log = mig06_rail::rail::load_signer(&s.config).unwrap().verifier();
    let witnesses: Vec<Real> = (0..n)
        .map(|i| {
            let dir = state.path().join(format!("w{i}"));
            Real::new(&format!("witness-{i}.example"), &dir, log.clone())
        })
        .collect();
    let mut text = std::fs::read_to_string(&s.config.path).unwrap();
    text.push_str(&Real::config_lines(&witnesses, k));
    std::fs::write(&s.config.path, text).unwrap();
    let config = mig06_rail::config::Config::load(&s.config.path).unwrap();
    (Setup { dir: s.dir, config }, witnesses, state)
}

fn open(s: &Setup, exec: &Counting, witnesses: &[Real]) -> Rail {
    common::rail_with(s, exec).with_witnesses(witnesses.iter().map(Real::boxed).collect())
}

fn cosigners(checkpoint_note_in_token: &str, witnesses: &[Real]) -> usize {
    witnesses
        .iter()
        .filter(|w| {
            checkpoint_note_in_token
                .lines()
                .any(|l| l.starts_with(&format!("\u{2014} {} ", w.name)))
        })
        .count()
}

/// The checkpoint note inside an evidence token.
fn token_note(token: &str) -> String {
    use base64::Engine as _;
    let body = token.strip_prefix(mig06_rail::evidence::PREFIX).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    json["checkpoint"].as_str().unwrap().to_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target: PathBuf = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Puts `snapshot` back as the log directory: a restored backup, a rolled-back volume.
fn restore(s: &Setup, snapshot: &Path) {
    let dir = mig06_rail::rail::audit_dir(&s.config);
    std::fs::remove_dir_all(&dir).unwrap();
    copy_dir(snapshot, &dir);
}

fn snapshot(s: &Setup, into: &Path) {
    // The store's directory exists once a rail has opened it.
    drop(common::rail_with(s, &Counting::new(Answer::Draft)));
    copy_dir(&mig06_rail::rail::audit_dir(&s.config), into);
}

#[test]
fn inv_witnessed_a_step_runs_once_a_quorum_cosigned_and_tokens_carry_the_cosignatures() {
    let (s, ws, _state) = witnessed_setup(3, 2);
    ws[1].up.store(false, Ordering::SeqCst);
    let exec = Counting::new(Answer::Draft);
    let rail = open(&s, &exec, &ws);
    let out = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    assert_eq!(out.code, TerminalCode::CompletedDraft, "{:?}", out.detail);
    assert_eq!(exec.calls(), 1);
    let note = token_note(out.evidence.as_deref().unwrap());
    assert!(
        cosigners(&note, &ws) >= 2,
        "the token carries the quorum's cosignatures"
    );
    // The token still verifies offline with the log's key alone.
    let verifier = mig06_rail::rail::load_signer(&s.config).unwrap().verifier();
    assert!(mig06_rail::evidence::verify(out.evidence.as_deref().unwrap(), &verifier).is_ok());
}

#[test]
fn inv_witnessed_below_the_quorum_no_step_runs() {
    let (s, ws, _state) = witnessed_setup(3, 2);
    ws[0].up.store(false, Ordering::SeqCst);
    ws[2].up.store(false, Ordering::SeqCst);
    let exec = Counting::new(Answer::Draft);
    let rail = open(&s, &exec, &ws);
    let out = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    assert_eq!(out.code, TerminalCode::AbortedAuditUnconfirmed);
    assert_eq!(
        out.detail.unwrap().reason.code(),
        "witness_quorum_unconfirmed"
    );
    assert_eq!(exec.calls(), 0, "no step without the quorum");
    assert!(
        !out.recorded,
        "the abort's own record no quorum cosigned either: not confirmed"
    );
    // The witnesses come back: the next attempt runs.
    ws[0].up.store(true, Ordering::SeqCst);
    let out = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    assert_eq!(out.code, TerminalCode::CompletedDraft);
}

#[test]
fn inv_witnessed_listed_witnesses_that_were_not_supplied_refuse_every_step() {
    let (s, _ws, _state) = witnessed_setup(1, 1);
    let exec = Counting::new(Answer::Draft);
    let rail = common::rail_with(&s, &exec);
    let out = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    assert_eq!(out.code, TerminalCode::AbortedAuditUnconfirmed);
    assert_eq!(exec.calls(), 0);
}

#[test]
fn inv_witnessed_one_submission_per_witness_per_batch() {
    let (s, ws, _state) = witnessed_setup(1, 1);
    let exec = Counting::new(Answer::Draft);
    let rail = open(&s, &exec, &ws);
    for _ in 0..4 {
        let out = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
        assert_eq!(out.code, TerminalCode::CompletedDraft);
    }
    let batches = rail.audit_syncs().batches.unwrap();
    // One submission per batch, plus at most one 409 recovery at start-up.
    assert!(
        ws[0].calls() <= usize::try_from(batches).unwrap() + 1,
        "{} calls, {batches} batches",
        ws[0].calls()
    );
}

#[test]
fn inv_witnessed_two_writers_of_one_log_share_one_witness() {
    let (s, ws, _state) = witnessed_setup(1, 1);
    let exec = Counting::new(Answer::Draft);
    let a = open(&s, &exec, &ws);
    let b = open(&s, &exec, &ws);
    for i in 0..6 {
        let rail = if i % 2 == 0 { &a } else { &b };
        let out = common::attempt(rail, "operator-1", &common::request("discharge_summary"));
        assert_eq!(
            out.code,
            TerminalCode::CompletedDraft,
            "{i}: {:?}",
            out.detail
        );
    }
    assert_eq!(exec.calls(), 6);
}

#[test]
fn inv_witnessed_a_rolled_back_log_runs_no_step_and_no_chain_completes_twice() {
    // The attack of the issue: a denial is continued into a COMPLETED_DRAFT; the store is put
    // back to just after the denial; a second continuation of the denial must not complete.
    let (s, ws, _state) = witnessed_setup(1, 1);
    let snap = tempfile::tempdir().unwrap();
    let exec = Counting::new(Answer::Draft);
    let denial = {
        let rail = open(&s, &exec, &ws);
        let denial = common::attempt(&rail, "operator-1", &common::request("prior_authorisation"));
        assert_eq!(denial.code, TerminalCode::DeniedPolicy);
        snapshot(&s, &snap.path().join("audit"));
        let cont = common::continuation(&denial, "discharge_summary", "operator_amended_request");
        let done = common::attempt(&rail, "operator-1", &cont);
        assert_eq!(done.code, TerminalCode::CompletedDraft);
        denial
    };
    restore(&s, &snap.path().join("audit"));
    let rail = open(&s, &exec, &ws);
    let cont = common::continuation(&denial, "referral_letter", "operator_amended_request");
    let again = common::attempt(&rail, "operator-1", &cont);
    assert_eq!(
        again.code,
        TerminalCode::AbortedLogRollback,
        "{:?}",
        again.detail
    );
    assert_eq!(
        again.detail.unwrap().reason.code(),
        "witness_knows_larger_tree"
    );
    let fresh = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    assert_eq!(fresh.code, TerminalCode::AbortedLogRollback);
    assert_eq!(fresh.detail.unwrap().reason.code(), "rollback_latched");
    assert_eq!(exec.calls(), 1, "only the draft before the rollback ran");
    assert!(rail.witnesses().detections() >= 1);
}

#[test]
fn inv_witnessed_without_witnesses_a_token_from_beyond_the_log_proves_a_rollback() {
    let s = common::setup();
    let snap = tempfile::tempdir().unwrap();
    let exec = Counting::new(Answer::Draft);
    snapshot(&s, &snap.path().join("audit"));
    let later = {
        let rail = common::rail_with(&s, &exec);
        common::attempt(&rail, "operator-1", &common::request("prior_authorisation"))
    };
    assert_eq!(later.code, TerminalCode::DeniedPolicy);
    restore(&s, &snap.path().join("audit"));
    let rail = common::rail_with(&s, &exec);
    let cont = common::continuation(&later, "discharge_summary", "operator_amended_request");
    let out = common::attempt(&rail, "operator-1", &cont);
    assert_eq!(out.code, TerminalCode::AbortedLogRollback);
    assert_eq!(out.detail.unwrap().reason.code(), "evidence_beyond_log");
    let fresh = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    assert_eq!(fresh.code, TerminalCode::AbortedLogRollback);
    assert_eq!(exec.calls(), 0);
}

#[test]
fn inv_witnessed_without_witnesses_a_token_from_a_fork_proves_a_fork() {
    let s = common::setup();
    let snap = tempfile::tempdir().unwrap();
    let exec = Counting::new(Answer::Draft);
    snapshot(&s, &snap.path().join("audit"));
    let theirs = {
        let rail = common::rail_with(&s, &exec);
        common::attempt(&rail, "operator-1", &common::request("prior_authorisation"))
    };
    restore(&s, &snap.path().join("audit"));
    let rail = common::rail_with(&s, &exec);
    // The same number of records, another history.
    let ours = common::attempt(&rail, "operator-1", &common::request("prior_authorisation"));
    assert_eq!(ours.code, TerminalCode::DeniedPolicy);
    let cont = common::continuation(&theirs, "discharge_summary", "operator_amended_request");
    let out = common::attempt(&rail, "operator-1", &cont);
    assert_eq!(out.code, TerminalCode::AbortedLogRollback);
    assert_eq!(out.detail.unwrap().reason.code(), "evidence_root_mismatch");
    assert_eq!(exec.calls(), 0);
}

#[test]
fn inv_witnessed_ready_follows_the_last_batch_and_the_latch_without_a_round_trip() {
    use mig06_rail::audit::AuditError;
    use mig06_rail::witness::Tamper;
    let (s, ws, _state) = witnessed_setup(2, 2);
    let exec = Counting::new(Answer::Draft);
    let rail = open(&s, &exec, &ws);
    // Before any submission: ready, and the probe itself asks no witness.
    assert!(rail.ready().is_ok());
    assert_eq!(ws.iter().map(Real::calls).sum::<usize>(), 0);
    let out = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    assert_eq!(out.code, TerminalCode::CompletedDraft);
    assert!(rail.ready().is_ok());
    assert_eq!(rail.witnesses().last_cosigned(), Some(2));
    // One of two down: the last batch fell short of the quorum.
    ws[1].up.store(false, Ordering::SeqCst);
    let out = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    assert_eq!(out.code, TerminalCode::AbortedAuditUnconfirmed);
    let calls = ws.iter().map(Real::calls).sum::<usize>();
    assert!(matches!(rail.ready(), Err(AuditError::WitnessUnconfirmed)));
    assert_eq!(
        ws.iter().map(Real::calls).sum::<usize>(),
        calls,
        "no round trip"
    );
    // Back: the next batch the quorum cosigns clears it.
    ws[1].up.store(true, Ordering::SeqCst);
    let out = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    assert_eq!(out.code, TerminalCode::CompletedDraft);
    assert!(rail.ready().is_ok());
    // The latch: not ready until restart, whatever the witnesses say.
    rail.witnesses().latch(Tamper::EvidenceRootMismatch);
    assert!(matches!(
        rail.ready(),
        Err(AuditError::Tampered(Tamper::EvidenceRootMismatch))
    ));
    let kinds = rail.witnesses().detections_by_kind();
    assert_eq!(
        kinds.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        [0, 0, 0, 1]
    );
}

/// The downstream, taking every witness down while it drafts: the open record was cosigned, the
/// terminal record will not be.
struct WitnessesFallDuringTheStep {
    inner: Counting,
    witnesses: Vec<Real>,
}

impl mig06_rail::executor::Executor for WitnessesFallDuringTheStep {
    fn execute(
        &self,
        input: &mig06_rail::executor::StepInput,
        deadline: mig06_rail::executor::Deadline,
    ) -> Result<serde_json::Value, mig06_rail::executor::ExecutorError> {
        for w in &self.witnesses {
            w.up.store(false, Ordering::SeqCst);
        }
        self.inner.execute(input, deadline)
    }
}

#[test]
fn inv_witnessed_an_outcome_no_quorum_saw_is_not_released() {
    // Found by an adversarial review: a COMPLETED_DRAFT whose terminal record no witness saw
    // was released; cutting that record off the log (every witness agreeing) made the attempt
    // interrupted, and continuing it completed the chain a second time. Now the outcome is not
    // released: the attempt answers ABORTED_AUDIT_UNCONFIRMED with no draft and no evidence.
    let (s, ws, _state) = witnessed_setup(1, 1);
    let exec = WitnessesFallDuringTheStep {
        inner: Counting::new(Answer::Draft),
        witnesses: ws.clone(),
    };
    let rail = Rail::open(s.config.clone(), Some(Box::new(exec)))
        .unwrap()
        .with_witnesses(ws.iter().map(Real::boxed).collect());
    let denial = common::attempt(&rail, "operator-1", &common::request("prior_authorisation"));
    assert_eq!(denial.code, TerminalCode::DeniedPolicy);
    let cont = common::continuation(&denial, "discharge_summary", "operator_amended_request");
    let out = common::attempt(&rail, "operator-1", &cont);
    assert_eq!(out.code, TerminalCode::AbortedAuditUnconfirmed, "{out:?}");
    assert_eq!(
        out.detail.as_ref().unwrap().reason.code(),
        "witness_quorum_unconfirmed"
    );
    assert!(out.draft_ref.is_none() && out.evidence.is_none() && !out.recorded);
    // A denial whose terminal record no quorum saw is not released either.
    let denied = common::attempt(&rail, "operator-1", &common::request("prior_authorisation"));
    assert_eq!(denied.code, TerminalCode::AbortedAuditUnconfirmed);
    assert!(denied.evidence.is_none());
}

/// `token` with its inclusion proof replaced by a wrong one (its checkpoint untouched).
fn with_bad_proof(token: &str) -> String {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let body = token.strip_prefix(mig06_rail::evidence::PREFIX).unwrap();
    let mut json: serde_json::Value =
        serde_json::from_slice(&engine.decode(body).unwrap()).unwrap();
    json["proof"] = serde_json::json!(["00".repeat(32)]);
    format!(
        "{}{}",
        mig06_rail::evidence::PREFIX,
        engine.encode(json.to_string())
    )
}

#[test]
fn inv_witnessed_a_signed_checkpoint_beyond_the_log_proves_a_rollback_even_with_a_bad_proof() {
    // Found by an adversarial review: the proof was checked before the checkpoint was compared
    // with the log, so a token whose checkpoint this log's key signed beyond the log was
    // answered `bad_proof`. The signed checkpoint alone proves the rollback.
    let s = common::setup();
    let snap = tempfile::tempdir().unwrap();
    let exec = Counting::new(Answer::Draft);
    snapshot(&s, &snap.path().join("audit"));
    let later = {
        let rail = common::rail_with(&s, &exec);
        common::attempt(&rail, "operator-1", &common::request("prior_authorisation"))
    };
    assert_eq!(later.code, TerminalCode::DeniedPolicy);
    restore(&s, &snap.path().join("audit"));
    let rail = common::rail_with(&s, &exec);
    let mut forged = later.clone();
    forged.evidence = Some(with_bad_proof(later.evidence.as_deref().unwrap()));
    let cont = common::continuation(&forged, "discharge_summary", "operator_amended_request");
    let out = common::attempt(&rail, "operator-1", &cont);
    assert_eq!(
        out.code,
        TerminalCode::AbortedLogRollback,
        "{:?}",
        out.detail
    );
    assert_eq!(out.detail.unwrap().reason.code(), "evidence_beyond_log");
    assert_eq!(exec.calls(), 0);
    // In a log that holds it, the same bad proof is only a bad token.
    let s2 = common::setup();
    let rail2 = common::rail_with(&s2, &exec);
    let own = common::attempt(
        &rail2,
        "operator-1",
        &common::request("prior_authorisation"),
    );
    let mut bad = own.clone();
    bad.evidence = Some(with_bad_proof(own.evidence.as_deref().unwrap()));
    let cont = common::continuation(&bad, "discharge_summary", "operator_amended_request");
    let out = common::attempt(&rail2, "operator-1", &cont);
    assert_eq!(out.code, TerminalCode::DeniedContinuationInvalid);
    assert_eq!(out.detail.unwrap().reason.code(), "bad_proof");
}
