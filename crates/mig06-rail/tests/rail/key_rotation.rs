//! Key epochs inside one log (INV-KEY-EPOCH): the log's key is rotated at a size R without
//! starting a new log. Records before R stay the retired key's, records from R on are the new
//! key's; the store, `audit verify` and the rail's continuation check all follow the one key
//! schedule; a retired key cannot extend the log; the witnesses (the real `mig06-witness`
//! witness, in process) cosign the end of one epoch and the start of the next.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use mig06_rail::audit::file::FileStore;
use mig06_rail::audit::ledger::seal::seal;
use mig06_rail::audit::verify::verify_dir;
use mig06_rail::audit::{AuditError, AuditRecord, Hash, hash_hex};
use mig06_rail::evidence::{self, EvidenceError};
use mig06_rail::executor::Deadline;
use mig06_rail::outcome::TerminalCode as C;
use mig06_rail::rail::{Rail, audit_dir, load_signer};
use mig06_rail::rekey::{self, KeyFiles, RekeyError};
use mig06_rail::tlog::checkpoint::{Checkpoint, LogSigner, LogVerifier};
use mig06_rail::tlog::rotation::LogKeys;
use mig06_rail::witness::{Witness, WitnessError};
use mig06_tlog::cosignature::{WitnessSigner, WitnessVerifier, verify_quorum};
use mig06_witness::store::Store;
use proptest::prelude::*;

use crate::common::{self, Answer, Counting, Setup};
use crate::in_process_witness;

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(30))
}

fn rotate(s: &Setup) -> rekey::Rekeyed {
    rekey::rotate_key(&s.config, Vec::new(), deadline()).unwrap()
}

fn genesis_of(s: &Setup) -> LogVerifier {
    let files = KeyFiles::of(&s.config.signing_key);
    let epoch0 = files.retired_vkey(0);
    let path = if epoch0.exists() { epoch0 } else { files.vkey };
    LogVerifier::parse(std::fs::read_to_string(path).unwrap().trim()).unwrap()
}

fn current(s: &Setup) -> LogSigner {
    load_signer(&s.config).unwrap()
}

fn dir(s: &Setup) -> PathBuf {
    audit_dir(&s.config)
}

fn token_of(o: &mig06_rail::outcome::Outcome) -> &str {
    o.evidence.as_deref().unwrap()
}

fn log_text(s: &Setup) -> String {
    std::fs::read_to_string(dir(s).join("log.jsonl")).unwrap()
}

/// A token with its checkpoint replaced by `note`.
fn with_checkpoint(token: &str, note: &str) -> String {
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let body = token.strip_prefix(evidence::PREFIX).unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&e.decode(body).unwrap()).unwrap();
    json["checkpoint"] = serde_json::json!(note);
    format!("{}{}", evidence::PREFIX, e.encode(json.to_string()))
}

fn tree_of(s: &Setup) -> mig06_rail::tlog::Tree {
    let mut tree = mig06_rail::tlog::Tree::new();
    for l in log_text(s).lines() {
        tree.push(mig06_rail::tlog::leaf_hash(l.as_bytes()));
    }
    tree
}

fn signed_at(signer: &LogSigner, tree: &mig06_rail::tlog::Tree, size: u64) -> String {
    signer.sign(&Checkpoint {
        origin: signer.origin().to_owned(),
        size,
        root: tree.root_at(size).unwrap(),
    })
}

#[test]
fn inv_key_epoch_rotate_append_reopen_and_verify_with_the_genesis_key() {
    let (s, exec, rail) = common::draft_rail();
    let genesis = current(&s).verifier();
    let before = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    assert_eq!(before.code, C::CompletedDraft);
    drop(rail);
    let r = rotate(&s).rotated.unwrap();
    let size = tree_of(&s).size();
    assert_eq!((r.epoch, r.size), (1, size));
    assert_eq!(r.old_vkey, genesis.vkey());
    let files = KeyFiles::of(&s.config.signing_key);
    // The retired key's verifier key is kept; the new key and its verifier key are installed.
    let read = |p: &Path| std::fs::read_to_string(p).unwrap().trim().to_owned();
    assert_eq!(read(&files.retired_vkey(0)), genesis.vkey());
    assert_eq!(read(&files.vkey), r.new_vkey);
    assert_eq!(current(&s).verifier().vkey(), r.new_vkey);
    assert!(!files.next_key.exists() && !files.next_vkey.exists());
    // The final checkpoint of the retiring key is the latest, and verifies with it.
    let latest = std::fs::read_to_string(dir(&s).join("checkpoint.latest")).unwrap();
    assert_eq!(genesis.verify(&latest).unwrap().size, size);

    let rail = common::rail_with(&s, &exec);
    assert_eq!(rail.log_keys().rotations().len(), 1);
    let after = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    assert_eq!(after.code, C::CompletedDraft);
    drop(rail);
    // Records from R on are the new key's.
    let new_key = current(&s).verifier();
    let text = log_text(&s);
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        let rec: AuditRecord = serde_json::from_str(l).unwrap();
        let key = if (i as u64) < size {
            &genesis
        } else {
            &new_key
        };
        let (head, sig) = l.rsplit_once(",\"sig\":\"").unwrap();
        let unsigned = format!("{head}}}");
        assert!(
            key.verify_record(unsigned.as_bytes(), sig.trim_end_matches("\"}")),
            "record {i}"
        );
        assert_eq!(rec.seq, i as u64);
    }
    // `audit verify` with the genesis key, with the current key: one log, two epochs.
    for anchor in [&genesis, &new_key] {
        let v = verify_dir(&dir(&s), anchor, None, &mut |_, _| {}).unwrap();
        assert_eq!(v.records, lines.len() as u64);
        assert_eq!(v.keys.epochs().len(), 2);
        assert_eq!(v.keys.genesis(), &genesis);
        assert_eq!(v.keys.current(), &new_key);
    }
    // A token kept from before the rotation is a trusted checkpoint for `audit verify`.
    let kept = {
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let body = token_of(&before).strip_prefix(evidence::PREFIX).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&e.decode(body).unwrap()).unwrap();
        json["checkpoint"].as_str().unwrap().to_owned()
    };
    verify_dir(&dir(&s), &new_key, Some(&kept), &mut |_, _| {}).unwrap();
    // Tokens: the old one with the old key alone and with the schedule; the new one with the
    // schedule, not with the retired key.
    let keys = LogKeys::follow(&genesis, &[r.statement.as_str()]).unwrap();
    assert!(evidence::verify(token_of(&before), &genesis).is_ok());
    assert!(evidence::verify(token_of(&before), &keys).is_ok());
    assert!(evidence::verify(token_of(&after), &keys).is_ok());
    assert!(evidence::verify(token_of(&after), &new_key).is_ok());
    assert_eq!(
        evidence::verify(token_of(&after), &genesis).unwrap_err(),
        EvidenceError::BadSignature
    );
    // `log.key` is the new key, and the store reopens with it.
    let installed =
        LogSigner::from_private_key(std::fs::read_to_string(&files.key).unwrap().trim()).unwrap();
    assert_eq!(installed.verifier(), new_key);
    FileStore::open(&dir(&s), installed).unwrap();
}

#[test]
fn inv_key_epoch_a_denial_from_before_the_rotation_continues_once_after_it() {
    let (s, exec, rail) = common::draft_rail();
    let denied = common::attempt(&rail, "operator-1", &common::request("prior_authorisation"));
    assert_eq!(denied.code, C::DeniedPolicy);
    drop(rail);
    rotate(&s);
    let rail = common::rail_with(&s, &exec);
    let cont = common::continuation(&denied, "discharge_summary", "operator_amended_request");
    let done = common::attempt(&rail, "operator-1", &cont);
    assert_eq!(done.code, C::CompletedDraft, "{:?}", done.detail);
    assert_eq!(done.provenance.chain_root, denied.attempt_id);
    // A second continuation of the same pre-rotation denial: the chain completes once.
    let again = common::attempt(
        &rail,
        "operator-1",
        &common::continuation(&denied, "referral_letter", "operator_amended_request"),
    );
    assert_eq!(again.code, C::DeniedContinuationAlreadyUsed);
    // After a second rotation too, by another rail.
    drop(rail);
    rotate(&s);
    let rail = common::rail_with(&s, &exec);
    let third = common::attempt(
        &rail,
        "operator-1",
        &common::continuation(&denied, "referral_letter", "operator_amended_request"),
    );
    assert_eq!(third.code, C::DeniedContinuationAlreadyUsed);
    let of_done = common::attempt(
        &rail,
        "operator-1",
        &common::continuation(&done, "referral_letter", "operator_amended_request"),
    );
    assert_eq!(of_done.code, C::DeniedContinuationInvalid);
    assert_eq!(exec.calls(), 1);
    verify_dir(&dir(&s), &genesis_of(&s), None, &mut |_, _| {}).unwrap();
}

/// Appends a copy of the log's last open record as a new attempt's, linked and sealed by
/// `signer`: a well-formed record past the latest checkpoint.
fn append_forged(s: &Setup, signer: &LogSigner) -> u64 {
    let text = log_text(s);
    let lines: Vec<&str> = text.lines().collect();
    let open = lines
        .iter()
        .rev()
        .find(|l| l.contains("\"kind\":\"open\""))
        .unwrap();
    let mut rec: AuditRecord = serde_json::from_str(open).unwrap();
    let id = mig06_rail::ids::AttemptId::mint();
    rec.chain_root = id.clone();
    rec.attempt_id = id;
    rec.request_id = Some(
        mig06_rail::ids::RequestId::parse(&mig06_rail::ids::AttemptId::mint().to_string()).unwrap(),
    );
    rec.prev = hash_hex(&mig06_rail::tlog::leaf_hash(
        lines.last().unwrap().as_bytes(),
    ));
    rec.seq = lines.len() as u64;
    let line = seal(&mut rec, signer).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir(s).join("log.jsonl"))
        .unwrap();
    std::io::Write::write_all(&mut f, &[line.as_slice(), b"\n"].concat()).unwrap();
    rec.seq
}

#[test]
fn inv_key_epoch_a_record_after_the_rotation_signed_by_the_retired_key_is_refused_alike() {
    let (s, exec, rail) = common::draft_rail();
    common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    let retired = current(&s);
    drop(rail);
    rotate(&s);
    let rail = common::rail_with(&s, &exec);
    common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    drop(rail);
    let clean = tempfile::tempdir().unwrap();
    copy_dir(&dir(&s), clean.path());
    // The retired key's forgery: the store's open and `audit verify` blame the same record with
    // the same words (one function: the line checker, with the key in force at its index).
    let index = append_forged(&s, &retired);
    let verified = verify_dir(&dir(&s), &genesis_of(&s), None, &mut |_, _| {}).unwrap_err();
    assert_eq!(verified.first_bad_record, Some(index));
    match FileStore::open(&dir(&s), current(&s)) {
        Err(AuditError::Corrupt { index: i, what }) => {
            assert_eq!(
                (Some(i), what),
                (verified.first_bad_record, verified.message)
            );
        }
        other => panic!("the store opened a log verify refuses: {other:?}"),
    }
    // The same record sealed by the key in force is the log's (and is ended as interrupted).
    restore(&s, clean.path());
    append_forged(&s, &current(&s));
    FileStore::open(&dir(&s), current(&s)).unwrap();
    verify_dir(&dir(&s), &genesis_of(&s), None, &mut |_, _| {}).unwrap();
}

#[test]
fn inv_key_epoch_a_checkpoint_beyond_the_rotation_signed_by_the_retired_key_is_refused() {
    let (s, exec, rail) = common::draft_rail();
    common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    let retired = current(&s);
    drop(rail);
    let r = rotate(&s).rotated.unwrap();
    let rail = common::rail_with(&s, &exec);
    let after = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    // A token whose checkpoint the retired key signed past R: not a signature of this log, and
    // not evidence of a rollback either (the rail is not latched by it).
    let tree = tree_of(&s);
    let forged_note = signed_at(&retired, &tree, tree.size());
    let forged = with_checkpoint(token_of(&after), &forged_note);
    assert_eq!(
        evidence::verify(&forged, rail.log_keys()).unwrap_err(),
        EvidenceError::BadSignature
    );
    let mut cont = common::continuation(&after, "referral_letter", "operator_amended_request");
    cont["continuation"]["evidence"] = serde_json::json!(forged);
    let out = common::attempt(&rail, "operator-1", &cont);
    assert_eq!(out.code, C::DeniedContinuationInvalid);
    assert_eq!(out.detail.unwrap().reason.code(), "bad_signature");
    let fresh = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    assert_eq!(fresh.code, C::CompletedDraft, "not latched");
    drop(rail);
    // The retired key's checkpoint put in as the latest: refused by the store and by verify.
    let tree = tree_of(&s);
    std::fs::write(
        dir(&s).join("checkpoint.latest"),
        signed_at(&retired, &tree, tree.size()),
    )
    .unwrap();
    let v = verify_dir(&dir(&s), &genesis_of(&s), None, &mut |_, _| {}).unwrap_err();
    assert!(v.message.contains("not in force"), "{}", v.message);
    let opened = FileStore::open(&dir(&s), current(&s)).unwrap_err();
    assert!(opened.to_string().contains("not in force"), "{opened}");
    // At R exactly, the retired key's final checkpoint is still valid.
    std::fs::write(
        dir(&s).join("checkpoint.latest"),
        signed_at(&retired, &tree, r.size),
    )
    .unwrap();
    verify_dir(&dir(&s), &genesis_of(&s), None, &mut |_, _| {}).unwrap();
    FileStore::open(&dir(&s), current(&s)).unwrap();
}

#[test]
fn inv_key_epoch_a_removed_truncated_or_forged_rotations_file_is_detected() {
    let (s, exec, rail) = common::draft_rail();
    common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    let retired = current(&s);
    drop(rail);
    rotate(&s);
    let rail = common::rail_with(&s, &exec);
    common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    drop(rail);
    let genesis = genesis_of(&s);
    let new_key = current(&s).verifier();
    let path = dir(&s).join("rotations");
    let good = std::fs::read(&path).unwrap();
    // The retired key's holder names a key of their own as its successor.
    let evil = LogSigner::generate(retired.origin()).unwrap();
    let tree = tree_of(&s);
    let evil_statement = mig06_rail::tlog::rotation::Rotation::new(
        1,
        tree.root_at(1).unwrap(),
        retired.verifier(),
        evil.verifier(),
    )
    .unwrap()
    .sign(&retired, &evil)
    .unwrap();
    let damaged: Vec<(&str, Option<Vec<u8>>)> = vec![
        ("removed", None),
        ("truncated", Some(good[..good.len() / 2].to_vec())),
        ("emptied", Some(Vec::new())),
        (
            "a byte changed",
            Some({
                let mut b = good.clone();
                let at = b.iter().position(|&c| c == b'\n').unwrap() + 3;
                b[at] ^= 1;
                b
            }),
        ),
        ("replaced", Some(format!("{evil_statement}\n").into_bytes())),
    ];
    for (what, bytes) in damaged {
        match &bytes {
            None => std::fs::remove_file(&path).unwrap(),
            Some(b) => std::fs::write(&path, b).unwrap(),
        }
        assert!(
            FileStore::open(&dir(&s), current(&s)).is_err(),
            "{what}: the store opened"
        );
        for anchor in [&genesis, &new_key] {
            assert!(
                verify_dir(&dir(&s), anchor, None, &mut |_, _| {}).is_err(),
                "{what}: verify passed with {}",
                anchor.key_name()
            );
        }
        assert!(Rail::open(s.config.clone(), Some(Box::new(exec.clone()))).is_err());
        std::fs::write(&path, &good).unwrap();
    }
    FileStore::open(&dir(&s), current(&s)).unwrap();
}

#[test]
fn inv_key_epoch_a_store_that_had_the_log_open_refuses_to_append_after_a_rotation() {
    let (s, exec, rail) = common::draft_rail();
    let ok = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    assert_eq!(ok.code, C::CompletedDraft);
    // Rotated under a running rail (the procedure says to stop it first): the running rail's
    // key is retired, and it appends nothing more.
    rotate(&s);
    let out = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    assert_eq!(out.code, C::AbortedAuditUnconfirmed);
    assert_eq!(exec.calls(), 1);
    drop(rail);
    verify_dir(&dir(&s), &genesis_of(&s), None, &mut |_, _| {}).unwrap();
    let rail = common::rail_with(&s, &exec);
    let out = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    assert_eq!(out.code, C::CompletedDraft);
}

#[test]
fn inv_key_epoch_an_interrupted_rotation_is_finished_by_running_it_again() {
    let (s, exec, rail) = common::draft_rail();
    common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    drop(rail);
    let files = KeyFiles::of(&s.config.signing_key);
    let old = current(&s);
    // Prepared (the witnesses would be told the next key), then the log rotated, then a crash
    // before the key files were installed.
    let next = rekey::prepare(&s.config).unwrap();
    assert_eq!(
        rekey::prepare(&s.config).unwrap().verifier(),
        next.verifier(),
        "the staged key is kept"
    );
    let mut store = FileStore::open(&dir(&s), old).unwrap();
    store
        .rotate_key(
            LogSigner::from_private_key(&next.private_key()).unwrap(),
            &mig06_rail::witness::Witnesses::none(),
            deadline(),
        )
        .unwrap();
    drop(store);
    assert!(matches!(
        Rail::open(s.config.clone(), Some(Box::new(exec.clone()))),
        Err(mig06_rail::rail::RailError::Audit(
            AuditError::KeyRotated { .. }
        ))
    ));
    let done = rotate(&s);
    assert!(done.rotated.is_none(), "only the key files were installed");
    assert_eq!(current(&s).verifier(), next.verifier());
    assert!(!files.next_key.exists());
    let rail = common::rail_with(&s, &exec);
    let out = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    assert_eq!(out.code, C::CompletedDraft);
}

#[test]
fn inv_key_epoch_rotation_on_the_postgres_store_is_refused_before_anything_changes() {
    let s = common::setup();
    let mut text = std::fs::read_to_string(&s.config.path).unwrap();
    text.push_str(
        "\n[audit]\nbackend = \"postgres\"\nurl = \"postgres://nobody@127.0.0.1:1/none\"\n",
    );
    std::fs::write(&s.config.path, text).unwrap();
    let config = mig06_rail::config::Config::load(&s.config.path).unwrap();
    let before = std::fs::read_to_string(&config.signing_key).unwrap();
    let err = rekey::rotate_key(&config, Vec::new(), deadline()).unwrap_err();
    assert!(matches!(err, RekeyError::NotSupported), "{err}");
    assert!(matches!(
        rekey::prepare(&config).unwrap_err(),
        RekeyError::NotSupported
    ));
    assert_eq!(
        std::fs::read_to_string(&config.signing_key).unwrap(),
        before
    );
    assert!(!KeyFiles::of(&config.signing_key).next_key.exists());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn restore(s: &Setup, from: &Path) {
    std::fs::remove_dir_all(dir(s)).unwrap();
    copy_dir(from, &dir(s));
}

/// The real witness with its own state directory, called in process, whose accepted log keys
/// can be changed as `mig06 witness add-log` would (a restart on the same state).
#[derive(Clone)]
struct Real {
    name: String,
    signer_key: String,
    state: PathBuf,
    inner: Arc<std::sync::Mutex<Arc<mig06_witness::witness::Witness>>>,
    verifier: WitnessVerifier,
}

impl Real {
    fn new(name: &str, state: &Path, logs: Vec<LogVerifier>) -> Self {
        let signer = WitnessSigner::generate(name).unwrap();
        Self {
            name: name.to_owned(),
            signer_key: signer.private_key(),
            state: state.to_owned(),
            inner: Arc::new(std::sync::Mutex::new(Arc::new(
                mig06_witness::witness::Witness::new(
                    WitnessSigner::from_private_key(&signer.private_key()).unwrap(),
                    logs,
                    Store::open(state).unwrap(),
                ),
            ))),
            verifier: signer.verifier(),
        }
    }
    /// Restarts the witness on its state with these log keys.
    fn set_logs(&self, logs: Vec<LogVerifier>) {
        let mut slot = self.inner.lock().unwrap();
        // The state's lock is released by the old instance first.
        *slot = Arc::new(mig06_witness::witness::Witness::new(
            WitnessSigner::from_private_key(&self.signer_key).unwrap(),
            Vec::new(),
            Store::open(&self.state.with_extension("restarting")).unwrap(),
        ));
        *slot = Arc::new(mig06_witness::witness::Witness::new(
            WitnessSigner::from_private_key(&self.signer_key).unwrap(),
            logs,
            Store::open(&self.state).unwrap(),
        ));
    }
    fn boxed(&self) -> Box<dyn Witness> {
        Box::new(self.clone())
    }
}

impl Witness for Real {
    fn name(&self) -> &str {
        &self.name
    }
    fn add_checkpoint(
        &self,
        old_size: u64,
        proof: &[Hash],
        checkpoint: &str,
        _deadline: Deadline,
    ) -> Result<String, WitnessError> {
        let inner = self.inner.lock().unwrap().clone();
        in_process_witness::submit(&inner, &self.verifier, old_size, proof, checkpoint)
    }
}

/// A set-up whose configuration lists `ws` with quorum `k`.
fn with_witnesses(s: &Setup, ws: &[Real], k: usize) -> Setup {
    let mut text = std::fs::read_to_string(&s.config.path).unwrap();
    text.push_str(&format!("\n[audit]\nwitness_quorum = {k}\n"));
    for (i, w) in ws.iter().enumerate() {
        text.push_str(&format!(
            "\n[[audit.witnesses]]\nname = \"{}\"\nurl = \"http://127.0.0.1:9/w{i}\"\nvkey = \"{}\"\n",
            w.name,
            w.verifier.vkey()
        ));
    }
    std::fs::write(&s.config.path, text).unwrap();
    let config = mig06_rail::config::Config::load(&s.config.path).unwrap();
    Setup {
        dir: tempfile::tempdir().unwrap(),
        config,
    }
}

fn witnessed_rail(s: &Setup, exec: &Counting, ws: &[Real]) -> Rail {
    common::rail_with(s, exec).with_witnesses(ws.iter().map(Real::boxed).collect())
}

#[test]
fn inv_key_epoch_witnesses_cosign_the_end_of_one_epoch_and_the_start_of_the_next() {
    let base = common::setup();
    let state = tempfile::tempdir().unwrap();
    let genesis = current(&base).verifier();
    let ws: Vec<Real> = (0..2)
        .map(|i| {
            Real::new(
                &format!("witness-{i}.example"),
                &state.path().join(format!("w{i}")),
                vec![genesis.clone()],
            )
        })
        .collect();
    let s = with_witnesses(&base, &ws, 2);
    let exec = Counting::new(Answer::Draft);
    let rail = witnessed_rail(&s, &exec, &ws);
    let denied = common::attempt(&rail, "operator-1", &common::request("prior_authorisation"));
    assert_eq!(denied.code, C::DeniedPolicy);
    let drafted = common::attempt(&rail, "operator-1", &common::request("discharge_summary"));
    assert_eq!(drafted.code, C::CompletedDraft);
    drop(rail);
    let retired = current(&s);

    // The witnesses do not know the next key yet: the rotation stops before the statement.
    let next = rekey::prepare(&s.config).unwrap().verifier();
    let err =
        rekey::rotate_key(&s.config, ws.iter().map(Real::boxed).collect(), deadline()).unwrap_err();
    assert!(
        matches!(
            err,
            RekeyError::Rotate(
                mig06_rail::audit::file::rotate::RotateError::NewKeyUnwitnessed { .. }
            )
        ),
        "{err}"
    );
    assert!(!dir(&s).join("rotations").exists());
    assert_eq!(current(&s).verifier(), genesis, "nothing installed");
    // `mig06 witness add-log`: each witness accepts the next key too.
    for w in &ws {
        w.set_logs(vec![genesis.clone(), next.clone()]);
    }
    let done =
        rekey::rotate_key(&s.config, ws.iter().map(Real::boxed).collect(), deadline()).unwrap();
    let r = done.rotated.unwrap();
    assert_eq!(r.new_vkey, next.vkey());
    assert_eq!(r.witnesses.len(), 2);
    let wkeys: Vec<WitnessVerifier> = ws.iter().map(|w| w.verifier.clone()).collect();
    // The retiring key's final checkpoint and the new key's first, each cosigned by both.
    let fin = verify_quorum(&r.final_checkpoint, &genesis, &wkeys, 2).unwrap();
    let first = verify_quorum(&r.first_checkpoint, &next, &wkeys, 2).unwrap();
    assert_eq!(fin.checkpoint.size, r.size);
    assert_eq!(first.checkpoint.size, r.size);

    // The retired key is removed from the witnesses: the rail goes on under the new key.
    for w in &ws {
        w.set_logs(vec![next.clone()]);
    }
    let rail = witnessed_rail(&s, &exec, &ws);
    let cont = common::attempt(
        &rail,
        "operator-1",
        &common::continuation(&denied, "discharge_summary", "operator_amended_request"),
    );
    assert_eq!(cont.code, C::CompletedDraft, "{:?}", cont.detail);
    let q = verify_quorum(&token_note(token_of(&cont)), &next, &wkeys, 2).unwrap();
    assert!(q.checkpoint.size > r.size);
    // A witness that no longer knows the retired key refuses the retired key's checkpoint
    // beyond R outright (a witness that still knows it would check it only for consistency:
    // docs/OPERATIONS.md says to remove it).
    let tree = tree_of(&s);
    let retired_note = signed_at(&retired, &tree, tree.size());
    assert!(matches!(
        ws[0].add_checkpoint(tree.size(), &[], &retired_note, deadline()),
        Err(WitnessError::Refused { status: 403 })
    ));
    drop(rail);
    let v = verify_dir(&dir(&s), &genesis, None, &mut |_, _| {}).unwrap();
    assert_eq!(v.keys.epochs().len(), 2);
    assert!(evidence::verify(token_of(&drafted), &genesis).is_ok());
    assert_eq!(exec.calls(), 2);
}

fn token_note(token: &str) -> String {
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let body = token.strip_prefix(evidence::PREFIX).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&e.decode(body).unwrap()).unwrap();
    json["checkpoint"].as_str().unwrap().to_owned()
}

/// One step of a log's life: some attempts, or a key rotation.
#[derive(Debug, Clone)]
enum Step {
    Attempts(Vec<bool>),
    Rotate,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let attempts = proptest::collection::vec(any::<bool>(), 0..4).prop_map(Step::Attempts);
    (
        proptest::collection::vec(attempts, 1..5),
        proptest::collection::vec(any::<prop::sample::Index>(), 1..=3),
    )
        .prop_map(|(mut v, at)| {
            for i in at {
                let pos = i.index(v.len() + 1);
                v.insert(pos, Step::Rotate);
            }
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    // INV-KEY-EPOCH: whatever the appends and 1-3 rotations (at any size, two at one size
    // included), the log reopens and verifies from the genesis key and from the current key,
    // and every token issued verifies with the key schedule and continues (once) when it is a
    // denial.
    #[test]
    fn inv_key_epoch_any_appends_and_rotations_reopen_verify_and_keep_every_token(
        plan in steps()
    ) {
        let (s, exec, rail) = common::draft_rail();
        drop(rail);
        let genesis = current(&s).verifier();
        let mut tokens: Vec<(String, C)> = Vec::new();
        for step in &plan {
            match step {
                Step::Attempts(kinds) => {
                    let rail = common::rail_with(&s, &exec);
                    for &deny in kinds {
                        let kind = if deny { "prior_authorisation" } else { "discharge_summary" };
                        let o = common::attempt(&rail, "operator-1", &common::request(kind));
                        prop_assert!(o.code == C::DeniedPolicy || o.code == C::CompletedDraft, "{:?}", o);
                        tokens.push((token_of(&o).to_owned(), o.code));
                    }
                }
                Step::Rotate => {
                    rotate(&s);
                }
            }
        }
        let now = current(&s).verifier();
        let statements = mig06_rail::audit::file::rotation_notes(&dir(&s).join("rotations")).unwrap();
        let rotations = plan.iter().filter(|p| matches!(p, Step::Rotate)).count();
        prop_assert_eq!(statements.len(), rotations);
        for anchor in [&genesis, &now] {
            let v = verify_dir(&dir(&s), anchor, None, &mut |_, _| {});
            prop_assert!(v.is_ok(), "{:?}", v.err());
            let keys = LogKeys::follow(anchor, &statements).unwrap();
            for (t, _) in &tokens {
                prop_assert!(evidence::verify(t, &keys).is_ok());
            }
        }
        let rail = common::rail_with(&s, &exec);
        for (t, code) in &tokens {
            if *code != C::DeniedPolicy {
                continue;
            }
            let cont = continue_token(t, "discharge_summary");
            let o = common::attempt(&rail, "operator-1", &cont);
            prop_assert_eq!(o.code, C::CompletedDraft, "{:?}", o.detail);
            let o = common::attempt(&rail, "operator-1", &continue_token(t, "referral_letter"));
            prop_assert_eq!(o.code, C::DeniedContinuationAlreadyUsed);
        }
        drop(rail);
        let verified = verify_dir(&dir(&s), &genesis, None, &mut |_, _| {});
        prop_assert!(verified.is_ok(), "{:?}", verified.err());
        prop_assert!(FileStore::open(&dir(&s), current(&s)).is_ok());
    }
}

/// A continuation (a fresh request id) of the attempt whose token is `token`.
fn continue_token(token: &str, note_kind: &str) -> serde_json::Value {
    let mut r = common::request(note_kind);
    r["trigger"] = serde_json::json!("operator_continuation");
    r["continuation"] =
        serde_json::json!({"evidence": token, "reason": "operator_amended_request"});
    r
}
