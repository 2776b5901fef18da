//! The witness logic against its real durable store: every status code of tlog-witness
//! "add-checkpoint", the rollback race, and state across a reopen.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::panic,
    reason = "tests"
)]

use mig06_tlog::checkpoint::{Checkpoint, LogSigner};
use mig06_tlog::cosignature::{WitnessSigner, note_text, verify_quorum};
use mig06_tlog::{Hash, Tree, leaf_hash};
use mig06_witness::protocol::AddCheckpointRequest;
use mig06_witness::{AddError, Store, Witness};
use std::sync::{Arc, Barrier};

const NOW: u64 = 1_700_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    log: LogSigner,
    witness: Witness,
    wkey: mig06_tlog::cosignature::WitnessVerifier,
    tree: Tree,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let log = LogSigner::generate("example.com/log").unwrap();
    let signer = WitnessSigner::generate("witness.example/w1").unwrap();
    let wkey = signer.verifier();
    let witness = Witness::new(
        signer,
        vec![log.verifier()],
        Store::open(dir.path()).unwrap(),
    );
    let tree = Tree::from_leaves((0..40u32).map(|i| leaf_hash(&i.to_be_bytes())));
    Fixture {
        _dir: dir,
        log,
        witness,
        wkey,
        tree,
    }
}

impl Fixture {
    fn note(&self, size: u64) -> String {
        self.log.sign(&Checkpoint {
            origin: String::new(),
            size,
            root: self.tree.root_at(size).unwrap(),
        })
    }

    fn body(&self, old: u64, new: u64) -> Vec<u8> {
        let proof = self.tree.consistency_proof(old, new).unwrap();
        AddCheckpointRequest::new(old, &proof, &self.note(new))
            .unwrap()
            .encode()
            .into_bytes()
    }

    fn add(&self, old: u64, new: u64) -> Result<String, AddError> {
        self.witness.add_checkpoint(&self.body(old, new), NOW)
    }
}

fn status(r: Result<String, AddError>) -> u16 {
    r.map_or_else(|e| e.status(), |_| 200)
}

#[test]
fn witness_200_cosigns_and_the_cosignature_verifies_with_the_log_key() {
    let f = fixture();
    let line = f.add(0, 10).unwrap();
    let note = format!("{}{line}", f.note(10));
    let q = verify_quorum(&note, &f.log.verifier(), std::slice::from_ref(&f.wkey), 1).unwrap();
    assert_eq!(q.checkpoint.size, 10);
    assert_eq!(q.cosigners[0].timestamp, NOW);
    // Then onwards from 10, and resubmitting the same size and root is cosigned again.
    assert_eq!(status(f.add(10, 25)), 200);
    assert_eq!(status(f.add(25, 25)), 200);
    // The monitoring view: the latest cosigned checkpoint, log signature and cosignature.
    let hash = mig06_witness::store::origin_hash("example.com/log");
    let latest = f.witness.latest(&hash).unwrap();
    let q = verify_quorum(&latest, &f.log.verifier(), std::slice::from_ref(&f.wkey), 1).unwrap();
    assert_eq!(q.checkpoint.size, 25);
    assert_eq!(f.witness.latest(&"0".repeat(64)), None);
}

#[test]
fn witness_409_names_the_stored_size() {
    let f = fixture();
    f.add(0, 10).unwrap();
    assert!(matches!(f.add(0, 12), Err(AddError::Conflict { size: 10 })));
    assert!(matches!(f.add(5, 12), Err(AddError::Conflict { size: 10 })));
    // Never cosigned: the witness's size is 0.
    let g = fixture();
    assert!(matches!(g.add(3, 12), Err(AddError::Conflict { size: 0 })));
}

#[test]
fn witness_404_403_400_422() {
    let f = fixture();
    // 404: a log the witness does not know, even validly signed by its own key.
    let stranger = LogSigner::generate("other.example/log").unwrap();
    let note = stranger.sign(&Checkpoint {
        origin: String::new(),
        size: 1,
        root: f.tree.root_at(1).unwrap(),
    });
    let body = AddCheckpointRequest::new(0, &[], &note).unwrap().encode();
    assert_eq!(status(f.witness.add_checkpoint(body.as_bytes(), NOW)), 404);
    // 403: the right origin signed by another key; and a damaged signature by the right key.
    let imposter = LogSigner::generate("example.com/log").unwrap();
    let note = imposter.sign(&Checkpoint {
        origin: String::new(),
        size: 1,
        root: f.tree.root_at(1).unwrap(),
    });
    let body = AddCheckpointRequest::new(0, &[], &note).unwrap().encode();
    assert_eq!(status(f.witness.add_checkpoint(body.as_bytes(), NOW)), 403);
    let good = f.note(1);
    let text = note_text(&good).unwrap();
    let sig_b64 = good.trim_end().rsplit(' ').next().unwrap();
    let mut raw = base64_decode(sig_b64);
    raw[10] ^= 1;
    let bad = good.replace(sig_b64, &base64_encode(&raw));
    assert!(bad.starts_with(text));
    let body = AddCheckpointRequest::new(0, &[], &bad).unwrap().encode();
    assert_eq!(status(f.witness.add_checkpoint(body.as_bytes(), NOW)), 403);
    // 400: malformed body; old size beyond the checkpoint.
    assert_eq!(status(f.witness.add_checkpoint(b"old 01\n\nx\n", NOW)), 400);
    let body = AddCheckpointRequest::new(11, &[], &f.note(10))
        .unwrap()
        .encode();
    assert_eq!(status(f.witness.add_checkpoint(body.as_bytes(), NOW)), 400);
    // 422: a proof from size zero; a wrong proof; equal sizes with another root; a size-zero
    // checkpoint whose root is not the empty tree's.
    let proof = f.tree.consistency_proof(3, 10).unwrap();
    let body = AddCheckpointRequest::new(0, &proof, &f.note(10))
        .unwrap()
        .encode();
    assert_eq!(status(f.witness.add_checkpoint(body.as_bytes(), NOW)), 422);
    f.add(0, 10).unwrap();
    let mut proof = f.tree.consistency_proof(10, 20).unwrap();
    proof[0][0] ^= 1;
    let body = AddCheckpointRequest::new(10, &proof, &f.note(20))
        .unwrap()
        .encode();
    assert_eq!(status(f.witness.add_checkpoint(body.as_bytes(), NOW)), 422);
    let forked = f.log.sign(&Checkpoint {
        origin: String::new(),
        size: 10,
        root: [9; 32],
    });
    let body = AddCheckpointRequest::new(10, &[], &forked)
        .unwrap()
        .encode();
    assert_eq!(status(f.witness.add_checkpoint(body.as_bytes(), NOW)), 422);
    let g = fixture();
    let zero = g.log.sign(&Checkpoint {
        origin: String::new(),
        size: 0,
        root: [1; 32],
    });
    let body = AddCheckpointRequest::new(0, &[], &zero).unwrap().encode();
    assert_eq!(status(g.witness.add_checkpoint(body.as_bytes(), NOW)), 422);
    // Refusals changed nothing: the state is still 10.
    assert!(matches!(f.add(0, 20), Err(AddError::Conflict { size: 10 })));
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn inv_witness_atomic_two_submissions_with_the_same_old_size_are_not_both_cosigned() {
    // tlog-witness's rollback race: requests A (size 12) and B (size 30), both from old size
    // 10, released together many times over. Exactly one is cosigned each round; the other
    // gets 409 with the winner's size, and the stored size never goes back.
    for round in 0..20u64 {
        let f = Arc::new(fixture());
        f.add(0, 10).unwrap();
        let bodies = [f.body(10, 12), f.body(10, 30)];
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = bodies
            .into_iter()
            .map(|body| {
                let (f, barrier) = (Arc::clone(&f), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    f.witness.add_checkpoint(&body, NOW + round)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let won: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
        assert_eq!(won.len(), 1, "round {round}: {results:?}");
        let winner = if results[0].is_ok() { 12 } else { 30 };
        let loser = results.iter().find(|r| r.is_err()).unwrap();
        assert!(
            matches!(loser, Err(AddError::Conflict { size }) if *size == winner),
            "{loser:?}"
        );
        assert!(matches!(f.add(0, 31), Err(AddError::Conflict { size }) if size == winner));
    }
}

#[test]
fn state_is_kept_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let log = LogSigner::generate("example.com/log").unwrap();
    let key = WitnessSigner::generate("witness.example/w1")
        .unwrap()
        .private_key();
    let tree = Tree::from_leaves((0..9u32).map(|i| leaf_hash(&i.to_be_bytes())));
    let note = |n: u64| {
        log.sign(&Checkpoint {
            origin: String::new(),
            size: n,
            root: tree.root_at(n).unwrap(),
        })
    };
    let open = || {
        Witness::new(
            WitnessSigner::from_private_key(&key).unwrap(),
            vec![log.verifier()],
            Store::open(dir.path()).unwrap(),
        )
    };
    let w = open();
    let body = AddCheckpointRequest::new(0, &[], &note(7))
        .unwrap()
        .encode();
    w.add_checkpoint(body.as_bytes(), NOW).unwrap();
    drop(w);
    let w = open();
    let proof: Vec<Hash> = tree.consistency_proof(0, 9).unwrap();
    let body = AddCheckpointRequest::new(0, &proof, &note(9))
        .unwrap()
        .encode();
    assert!(matches!(
        w.add_checkpoint(body.as_bytes(), NOW),
        Err(AddError::Conflict { size: 7 })
    ));
}
