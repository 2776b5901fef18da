//! Signed checkpoints through the public API: round trips, determinism, tampering, fuzzing.

use mig06_tlog::checkpoint::{Checkpoint, CheckpointError, LogSigner, LogVerifier};
use proptest::prelude::*;

const ORIGIN: &str = "mig06.example/audit";

fn cp(size: u64) -> Checkpoint {
    Checkpoint {
        origin: ORIGIN.to_owned(),
        size,
        root: [size as u8; 32],
    }
}

#[test]
fn round_trip_and_key_texts() {
    let signer = LogSigner::generate(ORIGIN).unwrap();
    assert_eq!(signer.origin(), ORIGIN);
    let vkey = signer.verifier().vkey();
    assert!(vkey.starts_with("mig06.example/audit+"));
    let verifier = LogVerifier::parse(&vkey).unwrap();
    assert_eq!(verifier.vkey(), vkey);
    for size in [0, 1, 7, u64::MAX] {
        let note = signer.sign(&cp(size));
        assert_eq!(verifier.verify(&note).unwrap(), cp(size));
    }
    let again = LogSigner::from_private_key(&signer.private_key()).unwrap();
    assert_eq!(again.private_key(), signer.private_key());
    assert_eq!(again.verifier().vkey(), vkey);
}

#[test]
fn note_layout_is_c2sp() {
    let signer = LogSigner::generate(ORIGIN).unwrap();
    let note = signer.sign(&Checkpoint {
        origin: ORIGIN.to_owned(),
        size: 42,
        root: [0; 32],
    });
    let (body, sig) = note.split_once("\n\n").unwrap();
    assert_eq!(
        body,
        "mig06.example/audit\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    );
    let sig = sig.strip_prefix("\u{2014} mig06.example/audit ").unwrap();
    assert!(sig.ends_with('\n') && sig.len() == 93); // base64 of 4 + 64 bytes, newline
    let key_id = &signer.verifier().vkey()[ORIGIN.len() + 1..ORIGIN.len() + 9];
    assert!(key_id.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn signing_is_deterministic() {
    // The store relies on this: re-signing a checkpoint reproduces the stored note exactly.
    let signer = LogSigner::generate(ORIGIN).unwrap();
    let again = LogSigner::from_private_key(&signer.private_key()).unwrap();
    assert_eq!(signer.sign(&cp(9)), signer.sign(&cp(9)));
    assert_eq!(signer.sign(&cp(9)), again.sign(&cp(9)));
    assert_ne!(signer.sign(&cp(9)), signer.sign(&cp(10)));
}

#[test]
fn signer_writes_its_own_origin() {
    let signer = LogSigner::generate(ORIGIN).unwrap();
    let mut other = cp(3);
    other.origin = "someone.else/log\n".to_owned();
    assert_eq!(
        signer.verifier().verify(&signer.sign(&other)).unwrap(),
        cp(3)
    );
}

#[test]
fn bad_names_refused() {
    for name in [
        "",
        "a b",
        "a+b",
        "a\nb",
        "a\tb",
        "a\u{a0}b",
        "a\u{2028}b",
        "a\u{1}b",
    ] {
        assert!(matches!(
            LogSigner::generate(name),
            Err(CheckpointError::Malformed { .. })
        ));
    }
}

#[test]
fn other_keys_and_names_refused() {
    let signer = LogSigner::generate(ORIGIN).unwrap();
    let note = signer.sign(&cp(5));
    let stranger = LogSigner::generate(ORIGIN).unwrap().verifier();
    assert!(matches!(
        stranger.verify(&note),
        Err(CheckpointError::BadSignature)
    ));
    // Same key under another name: different key id and name, so no line matches.
    let vkey = signer.verifier().vkey();
    let renamed = LogSigner::from_private_key(&signer.private_key().replace(ORIGIN, "x"));
    assert!(renamed.is_err(), "key id must bind the name");
    assert!(LogVerifier::parse(&vkey.replace(ORIGIN, "x")).is_err());
}

#[test]
fn every_single_byte_change_is_refused() {
    let signer = LogSigner::generate(ORIGIN).unwrap();
    let verifier = signer.verifier();
    let note = signer.sign(&cp(12_345));
    let bytes = note.as_bytes();
    for i in 0..bytes.len() {
        for delta in [1u8, 0x20, 0x80] {
            let mut m = bytes.to_vec();
            m[i] ^= delta;
            if let Ok(s) = std::str::from_utf8(&m) {
                assert!(verifier.verify(s).is_err(), "byte {i} ^ {delta:#x}");
            }
        }
        let mut cut = bytes.to_vec();
        cut.remove(i);
        if let Ok(s) = std::str::from_utf8(&cut) {
            assert!(verifier.verify(s).is_err(), "byte {i} removed");
        }
    }
    // Extra signature lines from other keys are fine; a second, broken one of ours is not.
    let other = LogSigner::generate("other").unwrap().sign(&cp(12_345));
    let other_line = other.rsplit_once("\n\n").unwrap().1;
    assert!(verifier.verify(&format!("{note}{other_line}")).is_ok());
    let our_line = note.rsplit_once("\n\n").unwrap().1;
    let at = our_line.len() - 10; // inside the signature bytes, past the key id
    let flipped = if &our_line[at..=at] == "A" { "B" } else { "A" };
    let broken = format!("{}{flipped}{}", &our_line[..at], &our_line[at + 1..]);
    assert!(matches!(
        verifier.verify(&format!("{note}{broken}")),
        Err(CheckpointError::BadSignature)
    ));
}

fn note_like() -> impl Strategy<Value = String> {
    // Pieces that reach deep into the parser: em dashes, newlines, '+', base64, digits.
    let piece = prop_oneof![
        Just("\u{2014} ".to_owned()),
        Just("\n".to_owned()),
        Just("\n\n".to_owned()),
        Just(ORIGIN.to_owned()),
        Just("+".to_owned()),
        Just(" ".to_owned()),
        "[0-9]{0,3}",
        "[A-Za-z0-9+/=]{0,96}",
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fuzz_verify_never_panics(text in note_like(), raw in any::<Vec<u8>>()) {
        let verifier = LogSigner::generate(ORIGIN).unwrap().verifier();
        prop_assert!(verifier.verify(&text).is_err());
        prop_assert!(verifier.verify(&String::from_utf8_lossy(&raw)).is_err());
        let _ = LogVerifier::parse(&text);
        let _ = LogSigner::from_private_key(&text);
        let _ = LogSigner::from_private_key(&format!("PRIVATE+KEY+{text}"));
    }

    #[test]
    fn fuzz_mutated_notes(size in any::<u64>(), pos in any::<prop::sample::Index>(), junk in any::<String>()) {
        let signer = LogSigner::generate(ORIGIN).unwrap();
        let verifier = signer.verifier();
        let note = signer.sign(&cp(size));
        let at = pos.index(note.len() + 1);
        if note.is_char_boundary(at) && !junk.is_empty() {
            let mutated = format!("{}{junk}{}", &note[..at], &note[at..]);
            prop_assert!(verifier.verify(&mutated).is_err());
        }
    }
}
