//! Cross-check of `cosignature/v1` against an independent implementation written from the C2SP
//! spec text (`tests/cosignature_ref.py`, Python `cryptography`), both ways, on random keys and
//! checkpoints. Skipped (with a message) where python3 or its `cryptography` package is absent;
//! the fixed vector in `src/cosignature.rs` covers the bytes everywhere.

use std::io::Write as _;
use std::process::{Command, Stdio};

use mig06_tlog::checkpoint::{Checkpoint, LogSigner};
use mig06_tlog::cosignature::{WitnessSigner, WitnessVerifier, note_text, verify_quorum};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cosignature_ref.py");

fn python_ready() -> bool {
    Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|s| s.success())
}

fn py(args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn cross_check_with_the_python_reference() {
    if !python_ready() {
        eprintln!("SKIPPED: python3 with the cryptography package is not installed");
        return;
    }
    let log = LogSigner::generate("example.com/log").unwrap();
    for i in 0..4u64 {
        let seed: [u8; 32] = rand_seed(i);
        let seed_hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("witness.example/w{i}");
        // Python's vkey is ours.
        let (ok, vkey) = py(&["vkey", &seed_hex, &name], "");
        assert!(ok);
        let ours = WitnessVerifier::parse(vkey.trim()).unwrap();
        let signer = signer_from_seed(&name, &seed);
        assert_eq!(signer.verifier(), ours);
        let note = log.sign(&Checkpoint {
            origin: String::new(),
            size: 1000 + i,
            root: [i as u8; 32],
        });
        let body = note_text(&note).unwrap();
        let ts = 1_700_000_000 + i;
        // Ours verifies with Python, and is byte for byte what Python produces.
        let line = signer.cosign(body, ts).unwrap();
        let (ok, out) = py(&["verify", vkey.trim()], &format!("{note}{line}"));
        assert!(ok, "python refused our cosignature");
        assert_eq!(out, format!("ok {ts}\n"));
        let (ok, py_line) = py(&["sign", &seed_hex, &name, &ts.to_string()], body);
        assert!(ok);
        assert_eq!(py_line, line);
        // Python's verifies with ours; a changed byte does not, with either.
        verify_quorum(
            &format!("{note}{py_line}"),
            &log.verifier(),
            std::slice::from_ref(&ours),
            1,
        )
        .unwrap();
        let bad = format!("{note}{line}").replacen(
            &format!("\n{}\n", 1000 + i),
            &format!("\n{}\n", 2000 + i),
            1,
        );
        let (ok, _) = py(&["verify", vkey.trim()], &bad);
        assert!(!ok);
    }
}

fn rand_seed(i: u64) -> [u8; 32] {
    let mut s = [0u8; 32];
    for (j, b) in s.iter_mut().enumerate() {
        *b = (i as u8)
            .wrapping_mul(31)
            .wrapping_add(j as u8)
            .wrapping_mul(7);
    }
    s
}

fn signer_from_seed(name: &str, seed: &[u8; 32]) -> WitnessSigner {
    use base64::Engine as _;
    let mut raw = vec![0x04u8];
    raw.extend_from_slice(seed);
    // The 0x04 private key form needs its key ID: compute it from the public key via the vkey.
    let probe = format!(
        "PRIVATE+KEY+{name}+00000000+{}",
        base64::engine::general_purpose::STANDARD.encode(&raw)
    );
    match WitnessSigner::from_private_key(&probe) {
        Ok(s) => s,
        Err(_) => {
            // Find the key ID the way the spec defines it.
            use sha2::{Digest as _, Sha256};
            let sk = ed25519_dalek::SigningKey::from_bytes(seed);
            let mut h = Sha256::new();
            h.update(name.as_bytes());
            h.update([b'\n', 0x04]);
            h.update(sk.verifying_key().as_bytes());
            let d = h.finalize();
            let id = format!("{:02x}{:02x}{:02x}{:02x}", d[0], d[1], d[2], d[3]);
            WitnessSigner::from_private_key(&format!(
                "PRIVATE+KEY+{name}+{id}+{}",
                base64::engine::general_purpose::STANDARD.encode(&raw)
            ))
            .unwrap()
        }
    }
}
