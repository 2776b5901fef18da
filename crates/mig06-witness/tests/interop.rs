//! Interoperability of our cosignatures and our witness with an independent implementation of
//! C2SP signed-note: the `signed_note` crate (Cloudflare's azul, from crates.io; a
//! dev-dependency only). It parses and verifies notes, key IDs and verifier keys with its own
//! code; it has no `cosignature/v1` type, so the cosignature verifier and signer below are
//! written here from the tlog-cosignature text alone (key ID over `name || LF || 0x04 || key`,
//! the `cosignature/v1` / `time` header lines, the big-endian u64 timestamp before the 64-byte
//! signature), sharing no code with `mig06-tlog`. Both ways, on the same notes: what our
//! `WitnessSigner` and our `Witness` produce verifies with it, and what it produces verifies
//! with our `verify_quorum` and `verify_lines`. (Python's `cryptography`, another independent
//! Ed25519, is cross-checked in `mig06-tlog/tests/tlog/cosignature_python.rs`.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use mig06_tlog::checkpoint::{Checkpoint, LogSigner};
use mig06_tlog::cosignature::{WitnessSigner, WitnessVerifier, note_text, verify_quorum};
use mig06_tlog::{Tree, leaf_hash};
use mig06_witness::protocol::AddCheckpointRequest;
use mig06_witness::{Store, Witness};
use sha2::{Digest as _, Sha256};
use signed_note::{Note, NoteError, StandardSigner, StandardVerifier, VerifierList};

/// tlog-cosignature "Format": the type byte of Ed25519 cosignatures.
const COSIG_V1: u8 = 0x04;

/// A deterministic seed for test keys.
fn seed(label: &str) -> [u8; 32] {
    Sha256::digest(label.as_bytes()).into()
}

/// The cosignature/v1 signed message, from tlog-cosignature "Ed25519 signed message".
fn message(ts: u64, text: &[u8]) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {ts}\n").into_bytes();
    m.extend_from_slice(text);
    m
}

/// A cosignature/v1 verifier on `signed_note`'s trait.
struct CosigVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl CosigVerifier {
    /// From a vkey `name+hex(id)+base64(0x04 || key)`, checked as the spec says.
    fn from_vkey(vkey: &str) -> Self {
        let mut parts = vkey.splitn(3, '+');
        let (name, id, b64) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let raw = B64.decode(b64).unwrap();
        assert_eq!(raw.len(), 33);
        assert_eq!(raw[0], COSIG_V1, "a cosignature/v1 vkey has type byte 0x04");
        let id = u32::from_str_radix(id, 16).unwrap();
        assert_eq!(
            id,
            signed_note::key_id(name, &raw),
            "key ID over 0x04 || key"
        );
        Self {
            name: name.to_owned(),
            id,
            key: VerifyingKey::from_bytes(raw[1..].try_into().unwrap()).unwrap(),
        }
    }
}

impl signed_note::Verifier for CosigVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        if sig.len() != 8 + 64 {
            return false;
        }
        let ts = u64::from_be_bytes(sig[..8].try_into().unwrap());
        if ts == 0 || ts > (1 << 63) - 1 {
            return false;
        }
        let sig = ed25519_dalek::Signature::from_bytes(sig[8..].try_into().unwrap());
        self.key.verify_strict(&message(ts, msg), &sig).is_ok()
    }
}

/// A cosignature/v1 signer on `signed_note`'s trait, at a fixed timestamp.
struct CosigSigner {
    name: String,
    key: SigningKey,
    ts: u64,
}

impl CosigSigner {
    fn vkey(&self) -> String {
        let mut raw = vec![COSIG_V1];
        raw.extend_from_slice(self.key.verifying_key().as_bytes());
        format!(
            "{}+{:08x}+{}",
            self.name,
            signed_note::key_id(&self.name, &raw),
            B64.encode(&raw)
        )
    }
}

impl signed_note::Signer for CosigSigner {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        let mut raw = vec![COSIG_V1];
        raw.extend_from_slice(self.key.verifying_key().as_bytes());
        signed_note::key_id(&self.name, &raw)
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        let mut out = self.ts.to_be_bytes().to_vec();
        out.extend_from_slice(&self.key.sign(&message(self.ts, msg)).to_bytes());
        Ok(out)
    }
}

fn our_log() -> LogSigner {
    LogSigner::generate("log.example.org/interop").unwrap()
}

fn verifiers(log: &LogSigner, witness_vkey: &str) -> VerifierList {
    VerifierList::new(vec![
        Box::new(StandardVerifier::new(&log.verifier().vkey()).unwrap()),
        Box::new(CosigVerifier::from_vkey(witness_vkey)),
    ])
}

fn names(sigs: &[signed_note::Signature]) -> Vec<String> {
    sigs.iter().map(|s| s.name().to_owned()).collect()
}

#[test]
fn inv_witness_interop_our_cosignatures_verify_with_signed_note() {
    let log = our_log();
    let witness = WitnessSigner::generate("witness.example.org/w1").unwrap();
    let vkey = witness.verifier().vkey();
    for size in [0u64, 1, 2, 1000, u64::MAX] {
        let note = log.sign(&Checkpoint {
            origin: String::new(),
            size,
            root: [size as u8; 32],
        });
        let body = note_text(&note).unwrap().to_owned();
        let ts = 1_700_000_000 + size % 1000;
        let cosigned = format!("{note}{}", witness.cosign(&body, ts).unwrap());
        let parsed = Note::from_bytes(cosigned.as_bytes()).unwrap();
        assert_eq!(parsed.text(), body.as_bytes());
        let (verified, unknown) = parsed.verify(&verifiers(&log, &vkey)).unwrap();
        assert_eq!(
            names(&verified),
            ["log.example.org/interop", "witness.example.org/w1"]
        );
        assert!(unknown.is_empty());
        // The timestamp the line carries is the one we signed.
        assert_eq!(verified[1].signature()[..8], ts.to_be_bytes());
        // Another timestamp spliced into our line: the independent verifier refuses it.
        let mut sig = verified[1].signature().to_vec();
        sig[7] ^= 1;
        let forged =
            signed_note::Signature::new(verified[1].name().to_owned(), verified[1].id(), sig)
                .unwrap();
        let damaged = Note::new(body.as_bytes(), &[verified[0].clone(), forged]).unwrap();
        assert!(matches!(
            damaged.verify(&verifiers(&log, &vkey)),
            Err(NoteError::InvalidSignature { .. })
        ));
    }
}

#[test]
fn inv_witness_interop_signed_note_cosignatures_verify_with_ours() {
    let log = our_log();
    let signer = CosigSigner {
        name: "witness.example.org/independent".to_owned(),
        key: SigningKey::from_bytes(&seed("independent")),
        ts: 1_679_315_147,
    };
    // Its vkey is one our parser reads, with the same key ID.
    let ours = WitnessVerifier::parse(&signer.vkey()).unwrap();
    assert_eq!(ours.vkey(), signer.vkey());
    for size in [1u64, 7, 123_456] {
        let note = log.sign(&Checkpoint {
            origin: String::new(),
            size,
            root: [size as u8; 32],
        });
        // signed_note parses our note and appends its cosignature after our log signature.
        let mut parsed = Note::from_bytes(note.as_bytes()).unwrap();
        parsed.add_sigs(&[&signer]).unwrap();
        let cosigned = String::from_utf8(parsed.to_bytes()).unwrap();
        let q = verify_quorum(&cosigned, &log.verifier(), std::slice::from_ref(&ours), 1).unwrap();
        assert_eq!(q.checkpoint.size, size);
        assert_eq!(q.cosigners[0].timestamp, 1_679_315_147);
        // As an add-checkpoint answer, through the client's check.
        let line = cosigned.lines().last().unwrap();
        let (kept, ts) = ours
            .verify_lines(note_text(&note).unwrap(), &format!("{line}\n"))
            .unwrap();
        assert_eq!(kept, format!("{line}\n"));
        assert_eq!(ts, 1_679_315_147);
    }
    // A log key written by signed_note's standard signer is one our verifier reads, and its
    // checkpoint signature verifies with ours, our witness cosigning it.
    let text = b"log.example.org/standard\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let (skey, vkey) =
        signed_note::generate_key(&mut rand::rngs::OsRng, "log.example.org/standard");
    let mut n = Note::new(text, &[]).unwrap();
    n.add_sigs(&[&StandardSigner::new(&skey).unwrap()]).unwrap();
    let note = String::from_utf8(n.to_bytes()).unwrap();
    let log_v = mig06_tlog::checkpoint::LogVerifier::parse(&vkey).unwrap();
    let w = WitnessSigner::generate("witness.example.org/w1").unwrap();
    let cosigned = format!(
        "{note}{}",
        w.cosign(std::str::from_utf8(text).unwrap(), 1_700_000_000)
            .unwrap()
    );
    assert!(verify_quorum(&cosigned, &log_v, &[w.verifier()], 1).is_ok());
}

#[test]
fn inv_witness_interop_our_witness_cosigns_what_signed_note_verifies() {
    // The log signs with signed_note's standard signer; our witness checks it (log key from
    // signed_note's vkey), its consistency proofs, persists, and cosigns; signed_note verifies
    // the answer concatenated to the note, and the monitoring view.
    let dir = tempfile::tempdir().unwrap();
    let (skey, log_vkey) =
        signed_note::generate_key(&mut rand::rngs::OsRng, "log.example.org/witnessed");
    let log = StandardSigner::new(&skey).unwrap();
    let signer = WitnessSigner::generate("witness.example.org/w2").unwrap();
    let witness_vkey = signer.verifier().vkey();
    let witness = Witness::new(
        signer,
        vec![mig06_tlog::checkpoint::LogVerifier::parse(&log_vkey).unwrap()],
        Store::open(dir.path()).unwrap(),
    );
    let tree = Tree::from_leaves((0..50u32).map(|i| leaf_hash(&i.to_be_bytes())));
    let known = VerifierList::new(vec![
        Box::new(StandardVerifier::new(&log_vkey).unwrap()),
        Box::new(CosigVerifier::from_vkey(&witness_vkey)),
    ]);
    let mut old = 0;
    for (i, size) in [3u64, 10, 10, 31, 50].into_iter().enumerate() {
        let text = format!(
            "log.example.org/witnessed\n{size}\n{}\n",
            B64.encode(tree.root_at(size).unwrap())
        );
        let mut n = Note::new(text.as_bytes(), &[]).unwrap();
        n.add_sigs(&[&log]).unwrap();
        let note = String::from_utf8(n.to_bytes()).unwrap();
        let proof = if old == 0 {
            Vec::new()
        } else {
            tree.consistency_proof(old, size).unwrap()
        };
        let body = AddCheckpointRequest::new(old, &proof, &note)
            .unwrap()
            .encode();
        let now = 1_700_000_000 + i as u64;
        let lines = witness.add_checkpoint(body.as_bytes(), now).unwrap();
        let answer = Note::from_bytes(format!("{note}{lines}").as_bytes()).unwrap();
        let (verified, _) = answer.verify(&known).unwrap();
        assert_eq!(
            names(&verified),
            ["log.example.org/witnessed", "witness.example.org/w2"]
        );
        assert_eq!(verified[1].signature()[..8], now.to_be_bytes());
        let hash = mig06_witness::store::origin_hash("log.example.org/witnessed");
        let latest = witness.latest(&hash).unwrap();
        let (verified, _) = Note::from_bytes(latest.as_bytes())
            .unwrap()
            .verify(&known)
            .unwrap();
        assert_eq!(verified.len(), 2);
        old = size;
    }
}
