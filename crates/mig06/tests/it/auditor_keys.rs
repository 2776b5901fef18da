//! Auditor commands and keys: they never open the private key, and every key problem says what
//! is wrong and what to do, without repeating itself or echoing a key.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::{Value, json};

fn mig06() -> Command {
    Command::cargo_bin("mig06").unwrap()
}

/// A fresh `mig06 init` directory with one recorded attempt (so the log has a checkpoint).
fn env() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    mig06().arg("init").arg(dir.path()).assert().success();
    let config = dir.path().join("mig06.toml");
    let req = json!({"request_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "trigger": "operator_explicit",
        "subject": "subj_7k3m9q2x4w8r5t6v",
        "steps": [{"action": "draft_note", "params": {"note_kind": "prior_authorisation"}}]});
    mig06()
        .args(["attempt", "--config"])
        .arg(&config)
        .args(["--caller", "operator-1", "--request", "-"])
        .write_stdin(req.to_string())
        .assert()
        .code(2);
    (dir, config)
}

fn audit(config: &Path, args: &[&str]) -> Output {
    let (sub, rest) = args.split_first().unwrap();
    mig06()
        .args(["audit", sub, "--config"])
        .arg(config)
        .args(rest)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const AUDITOR_COMMANDS: [&[&str]; 6] = [
    &["verify"],
    &["show"],
    &["checkpoint"],
    &["pubkey"],
    &["consistency", "1"],
    &["export", "--format", "fhir"],
];

#[test]
fn inv_audit_readonly_without_a_verifier_key_auditor_commands_stop_and_name_the_file() {
    let (dir, config) = env();
    let vkey = dir.path().join("keys/log.vkey");
    let original = std::fs::read_to_string(&vkey).unwrap();
    std::fs::remove_file(&vkey).unwrap();
    // A private key that does not parse: a command that opened it would fail on that instead.
    let key = dir.path().join("keys/log.key");
    let private = std::fs::read_to_string(&key).unwrap();
    std::fs::write(&key, "not a key").unwrap();
    for args in AUDITOR_COMMANDS {
        let out = audit(&config, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("no verifier key"), "{args:?}: {err}");
        assert!(err.contains(&vkey.display().to_string()), "{err}");
        assert!(err.contains("never opens the private key"), "{err}");
        assert!(err.contains("--from-signing-key"), "{err}");
    }
    // The operator, who holds the private key, recreates the verifier key explicitly.
    std::fs::write(&key, &private).unwrap();
    let out = audit(&config, &["pubkey", "--from-signing-key"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        original.trim()
    );
}

#[test]
fn a_private_key_given_as_the_verifier_key_is_named_as_such_and_never_echoed() {
    let (dir, config) = env();
    let key = dir.path().join("keys/log.key");
    let private = std::fs::read_to_string(&key).unwrap();
    assert!(audit(&config, &["show"]).status.success());
    for args in [
        &["verify", "--pubkey", key.to_str().unwrap()][..],
        &["show", "--pubkey", key.to_str().unwrap()],
    ] {
        let out = audit(&config, args);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.contains("is the log's private signing key, not its verifier key"),
            "{err}"
        );
        assert!(err.contains(".vkey"), "{err}");
        assert!(!err.contains("malformed key id"), "{err}");
        assert!(!err.contains(private.trim()), "the key was echoed");
        // `PRIVATE+KEY+<name>+<hash>+<key>`: the key is all after the fourth `+` (base64 may
        // hold `+` itself, so the last `+`-separated piece can be a short, common fragment).
        let secret = private.trim().splitn(5, '+').nth(4).unwrap();
        assert!(secret.len() >= 40, "the key's data");
        assert!(!err.contains(secret));
        assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    }
    // `evidence verify` reads keys the same way.
    let out = mig06()
        .args(["evidence", "verify", "--pubkey"])
        .arg(&key)
        .arg("mig06ev1.AAAA")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("private signing key"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_wrong_or_replaced_key_is_named_with_both_key_ids_and_what_to_do() {
    let (dir, config) = env();
    let (other, _) = env();
    let other_vkey = other.path().join("keys/log.vkey");
    let ours = std::fs::read_to_string(dir.path().join("keys/log.vkey")).unwrap();
    let theirs = std::fs::read_to_string(&other_vkey).unwrap();
    let id = |vkey: &str| {
        let mut parts = vkey.trim().splitn(3, '+');
        format!("{}+{}", parts.next().unwrap(), parts.next().unwrap())
    };
    // Another log's key passed to verify: the answer says the key is the wrong one, not that
    // the log was tampered with, and points at something other than itself.
    let out = audit(
        &config,
        &["verify", "--pubkey", other_vkey.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let next = report["next_step"].as_str().unwrap();
    assert!(
        next.contains(&format!("signed by key {}", id(&ours))),
        "{next}"
    );
    assert!(
        next.contains(&format!("not by the verifier key {}", id(&theirs))),
        "{next}"
    );
    assert!(!next.contains("run `mig06 audit verify`"), "{next}");
    // The rail's keys replaced under an existing log: every auditor command says so.
    std::fs::copy(
        other.path().join("keys/log.key"),
        dir.path().join("keys/log.key"),
    )
    .unwrap();
    std::fs::copy(&other_vkey, dir.path().join("keys/log.vkey")).unwrap();
    for args in [&["verify"][..], &["show"], &["checkpoint"]] {
        let out = audit(&config, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("signed by key {}", id(&ours))),
            "{args:?}: {err}"
        );
        assert!(err.contains("log.vkey"), "{err}");
        assert!(!err.contains("run `mig06 audit verify`"), "{err}");
    }
}

#[test]
fn a_log_that_does_not_verify_says_what_to_keep_and_where_to_read_next() {
    let (dir, config) = env();
    let log = dir.path().join("data/audit/log.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, text.replacen("\"seq\":0", "\"seq\":7", 1)).unwrap();
    let out = audit(&config, &["show"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("A log that no longer verifies"), "{err}");
    assert!(
        err.contains("copy the whole audit directory read-only"),
        "{err}"
    );
    assert!(!err.contains("run `mig06 audit verify`"), "{err}");
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/OPERATIONS.md"),
    )
    .unwrap();
    assert!(doc.contains("\n## A log that no longer verifies\n"));
}

// `mig06 audit show | head`: a reader that stops early ends the listing quietly (exit 0, no
// panic), as a Unix filter does.
#[test]
fn audit_show_into_a_closed_pipe_exits_quietly() {
    let (_dir, config) = env();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mig06"))
        .args(["audit", "show", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before the command writes its first line.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    assert!(!err.contains("panicked"), "{err}");
}
