//! The file store's own behaviour: which batches are signed, checkpoint files rewritten in
//! place, one write and one sync per batch.

use super::*;
use crate::ids::{CallerId, Sha256Digest};

/// A bound no test reaches (the file store ignores bounds anyway).
pub(crate) fn far() -> Deadline {
    Deadline::after(std::time::Duration::from_secs(600))
}

pub(crate) fn record() -> AuditRecord {
    AuditRecord::open(
        AttemptId::mint(),
        CallerId::parse("operator-1").unwrap(),
        Sha256Digest::of(b"policy"),
        AuditRecord::deadline_in(std::time::Duration::from_secs(600)),
    )
}

pub(crate) fn terminal() -> AuditRecord {
    record().ended(crate::outcome::TerminalCode::DeniedPolicy, None)
}

#[test]
fn only_batches_with_a_terminal_record_are_signed_and_the_first_always_is() {
    let dir = tempfile::tempdir().unwrap();
    let signer = LogSigner::generate("mig06.example/audit").unwrap();
    let key = signer.private_key();
    let mut store = FileStore::open(dir.path(), signer).unwrap();
    let verifier = store.verifier();
    let latest = dir.path().join(LATEST_CHECKPOINT);
    let size_of_latest = || {
        verifier
            .verify(&std::fs::read_to_string(&latest).unwrap())
            .unwrap()
            .size
    };
    // The first batch is signed even without a terminal record: a non-empty log always
    // has a latest checkpoint.
    let first = store.append(record()).unwrap();
    assert!(first.checkpoint.is_some());
    assert_eq!(size_of_latest(), 1);
    // An open record alone: no signature, the latest checkpoint lags by one record.
    let open = store.append(record()).unwrap();
    assert_eq!(open.checkpoint, None);
    assert_eq!(size_of_latest(), 1);
    // A latest checkpoint that lags the log by open records (a crash between an attempt's
    // open and terminal records leaves the log like this) is accepted on open, and signed
    // anew to cover the whole log.
    drop(store);
    let mut store =
        FileStore::open(dir.path(), LogSigner::from_private_key(&key).unwrap()).unwrap();
    assert_eq!(size_of_latest(), 2);
    // A terminal record is signed, in a tree that holds it. A record the log's rules refuse
    // (a second claim on one prior attempt) is not written at all.
    let done = store.append(terminal()).unwrap();
    let cp = verifier
        .verify(done.checkpoint.as_deref().unwrap())
        .unwrap();
    assert_eq!((cp.size, size_of_latest()), (3, 3));
    let prior = AttemptId::mint();
    let claim = || AuditRecord {
        continues: Some(prior.clone()),
        claim: true,
        ..record()
    };
    assert_eq!(store.append(claim()).unwrap().checkpoint, None);
    let refused = store.append(claim());
    assert!(
        matches!(
            refused,
            Err(AuditError::Rule(
                super::super::rules::RuleViolation::ClaimTaken
            ))
        ),
        "{refused:?}"
    );
    assert_eq!(store.size(), 4);
    assert_eq!(store.append(terminal()).unwrap().index, 4);
    assert_eq!(size_of_latest(), 5);
    // Removing the signed terminal record is detected on open.
    drop(store);
    let log = dir.path().join(LOG_FILE);
    let text = std::fs::read_to_string(&log).unwrap();
    let cut = text.trim_end().rfind('\n').unwrap() + 1;
    std::fs::write(&log, text.get(..cut).unwrap()).unwrap();
    let reopened = FileStore::open(dir.path(), LogSigner::from_private_key(&key).unwrap());
    assert!(
        matches!(reopened, Err(AuditError::Corrupt { ref what, .. }) if what.contains("removed")),
        "{reopened:?}"
    );
}

#[test]
fn a_latest_checkpoint_deleted_or_replaced_while_the_store_is_open_is_written_anew() {
    let dir = tempfile::tempdir().unwrap();
    let signer = LogSigner::generate("mig06.example/audit").unwrap();
    let key = signer.private_key();
    let mut store = FileStore::open(dir.path(), signer).unwrap();
    let latest = dir.path().join(LATEST_CHECKPOINT);
    store.append(terminal()).unwrap();
    std::fs::remove_file(&latest).unwrap();
    let a = store.append(terminal()).unwrap();
    assert_eq!(
        Some(std::fs::read_to_string(&latest).unwrap()),
        a.checkpoint
    );
    // Replaced by a rename (as a backup restore or an editor would): the new file is used.
    let tmp = dir.path().join("restored");
    std::fs::write(&tmp, "old").unwrap();
    std::fs::rename(&tmp, &latest).unwrap();
    let b = store.append(terminal()).unwrap();
    assert_eq!(
        Some(std::fs::read_to_string(&latest).unwrap()),
        b.checkpoint
    );
    drop(store);
    FileStore::open(dir.path(), LogSigner::from_private_key(&key).unwrap()).unwrap();
}

#[test]
fn latest_checkpoint_is_rewritten_in_place_and_always_whole() {
    let dir = tempfile::tempdir().unwrap();
    let signer = LogSigner::generate("mig06.example/audit").unwrap();
    let mut store = FileStore::open(dir.path(), signer).unwrap();
    let latest = dir.path().join(LATEST_CHECKPOINT);
    // Across the 9 -> 10 boundary the note grows by one byte.
    for _ in 0..12 {
        let appended = store.append(terminal()).unwrap();
        assert_eq!(
            Some(std::fs::read_to_string(&latest).unwrap()),
            appended.checkpoint
        );
    }
    // Something longer put there by hand is cut to the new note, not left as a tail.
    let mut long = std::fs::read_to_string(&latest).unwrap();
    long.push_str(&"x".repeat(500));
    std::fs::write(&latest, long).unwrap();
    let appended = store.append(terminal()).unwrap();
    assert_eq!(
        Some(std::fs::read_to_string(&latest).unwrap()),
        appended.checkpoint
    );
    let verifier = store.verifier();
    drop(store);
    let reopened = FileStore::open(dir.path(), LogSigner::generate("x").unwrap());
    assert!(
        reopened.is_err(),
        "a foreign key must not verify the checkpoint"
    );
    let report = crate::audit::verify::verify_dir(dir.path(), &verifier, None, &mut |_, _| {});
    assert_eq!(report.unwrap().records, 13);
}

#[test]
fn a_batch_is_one_write_one_sync_one_checkpoint_and_a_failed_sync_fails_all_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let signer = LogSigner::generate("mig06.example/audit").unwrap();
    let mut store = FileStore::open(dir.path(), signer).unwrap();
    store.append(record()).unwrap();
    assert_eq!(store.syncs(), 1);
    let log_len = || std::fs::metadata(dir.path().join(LOG_FILE)).unwrap().len();
    let before = log_len();

    // A failed fdatasync: every member fails, nothing stays in the log or the tree.
    store.fail_sync = true;
    let failed = store.append_batch(vec![record(), record(), record()], far());
    assert_eq!(failed.len(), 3);
    assert!(failed.iter().all(Result::is_err));
    assert_eq!(store.syncs(), 2);
    assert_eq!(log_len(), before);
    assert_eq!(store.size(), 1);

    // The same batch, synced: one more sync, consecutive indices, one checkpoint of the
    // batch's final tree, each proof against it.
    store.fail_sync = false;
    let ok: Vec<Appended> = store
        .append_batch(vec![record(), terminal(), record()], far())
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(store.syncs(), 3);
    let verifier = store.verifier();
    for (i, a) in ok.iter().enumerate() {
        assert_eq!(a.index, i as u64 + 1);
        assert_eq!(a.checkpoint, ok[2].checkpoint);
        let cp = verifier.verify(a.checkpoint.as_deref().unwrap()).unwrap();
        assert_eq!(cp.size, 4);
        mig06_tlog::verify_inclusion(&a.leaf_hash, a.index, cp.size, &a.proof, &cp.root).unwrap();
    }
    assert_eq!(
        Some(std::fs::read_to_string(dir.path().join(LATEST_CHECKPOINT)).unwrap()),
        ok[2].checkpoint
    );
    let report = crate::audit::verify::verify_dir(dir.path(), &verifier, None, &mut |_, _| {});
    assert_eq!(report.unwrap().records, 4);
}

#[test]
fn a_batch_crossing_a_kept_checkpoint_size_still_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let signer = LogSigner::generate("mig06.example/audit").unwrap();
    let mut store = FileStore::open(dir.path(), signer).unwrap();
    let first: Vec<AuditRecord> = (0..CHECKPOINT_EVERY - 2).map(|_| record()).collect();
    assert!(store.append_batch(first, far()).iter().all(Result::is_ok));
    let second: Vec<AuditRecord> = (0..5).map(|_| record()).collect();
    assert!(store.append_batch(second, far()).iter().all(Result::is_ok));
    let kept = std::fs::read_to_string(dir.path().join(CHECKPOINTS_FILE)).unwrap();
    let verifier = store.verifier();
    let cp = verifier.verify(kept.strip_suffix('\n').unwrap()).unwrap();
    assert_eq!(cp.size, CHECKPOINT_EVERY);
    let report = crate::audit::verify::verify_dir(dir.path(), &verifier, None, &mut |_, _| {});
    assert_eq!(report.unwrap().checkpoints, 2);
}
