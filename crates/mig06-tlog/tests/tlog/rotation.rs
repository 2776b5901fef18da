//! Key rotation statements through the public API (INV-KEY-EPOCH): any change to a signed
//! statement's bytes breaks it, and a schedule verifies each checkpoint with the key in force.

use mig06_tlog::checkpoint::{Checkpoint, LogSigner};
use mig06_tlog::rotation::{CheckpointKeys as _, LogKeys, Rotation};
use proptest::prelude::*;

const ORIGIN: &str = "audit.hospital.example/mig06/1";

fn signed(size: u64, root: [u8; 32]) -> (String, LogSigner, LogSigner) {
    let old = LogSigner::generate(ORIGIN).unwrap();
    let new = LogSigner::generate(ORIGIN).unwrap();
    let note = Rotation::new(size, root, old.verifier(), new.verifier())
        .unwrap()
        .sign(&old, &new)
        .unwrap();
    (note, old, new)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    // INV-KEY-EPOCH: any byte of a signed statement changed (text or signatures) breaks it.
    #[test]
    fn inv_key_epoch_any_byte_change_breaks_a_statement(
        size in any::<u64>(),
        root in any::<[u8; 32]>(),
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let (note, old, new) = signed(size, root);
        let r = Rotation::verify(&note).unwrap();
        prop_assert_eq!(r.size(), size);
        prop_assert_eq!(r.root(), &root);
        let mut bytes = note.clone().into_bytes();
        let at = pos.index(bytes.len());
        prop_assume!(bytes[at] != byte);
        bytes[at] = byte;
        if let Ok(mutated) = String::from_utf8(bytes) {
            prop_assert!(Rotation::verify(&mutated).is_err(), "{:?}", mutated);
            // Nor does it make a schedule, from either key.
            prop_assert!(LogKeys::follow(&old.verifier(), &[mutated.as_str()]).is_err());
            prop_assert!(LogKeys::follow(&new.verifier(), &[mutated.as_str()]).is_err());
        }
    }

    #[test]
    fn inv_key_epoch_inserted_text_breaks_a_statement(
        pos in any::<prop::sample::Index>(),
        junk in "[ -~\n]{1,8}",
    ) {
        let (note, _, _) = signed(17, [3; 32]);
        let at = pos.index(note.len() + 1);
        prop_assume!(note.is_char_boundary(at));
        let mutated = format!("{}{junk}{}", &note[..at], &note[at..]);
        prop_assert!(Rotation::verify(&mutated).is_err());
    }

    // INV-KEY-EPOCH: a checkpoint verifies under a schedule exactly when its key's epoch holds
    // its size (bounds included).
    #[test]
    fn inv_key_epoch_checkpoints_verify_only_in_their_epoch(
        sizes in proptest::collection::vec(0u64..64, 1..4),
        probe in 0u64..80,
    ) {
        let mut sizes = sizes;
        sizes.sort_unstable();
        let signers: Vec<LogSigner> =
            (0..=sizes.len()).map(|_| LogSigner::generate(ORIGIN).unwrap()).collect();
        let notes: Vec<String> = sizes
            .iter()
            .enumerate()
            .map(|(i, &r)| {
                Rotation::new(r, [0; 32], signers[i].verifier(), signers[i + 1].verifier())
                    .unwrap()
                    .sign(&signers[i], &signers[i + 1])
                    .unwrap()
            })
            .collect();
        let keys = LogKeys::follow(&signers[0].verifier(), &notes).unwrap();
        for (i, s) in signers.iter().enumerate() {
            let from = if i == 0 { 0 } else { sizes[i - 1] };
            let until = sizes.get(i).copied().unwrap_or(u64::MAX);
            let note = s.sign(&Checkpoint { origin: ORIGIN.to_owned(), size: probe, root: [1; 32] });
            let verified = keys.verify_checkpoint(&note).is_ok();
            prop_assert_eq!(verified, from <= probe && probe <= until, "key {} size {}", i, probe);
        }
        // Records: the last epoch that starts at or before the index.
        let want = sizes.iter().filter(|&&r| r <= probe).count();
        prop_assert_eq!(keys.record_key(probe), &signers[want].verifier());
    }
}
