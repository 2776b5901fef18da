//! `mig06 caller add`: credential generation, digest-only storage, refusals.

use std::process::Command;

use crate::common::{MIG06, Setup, call, valid_request};

fn add(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(MIG06)
        .args(["caller", "add"])
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

#[test]
fn caller_add_stores_only_the_digest_and_the_credential_authenticates() {
    let s = Setup::new(None, None);
    let out = add(
        &s.config,
        &[
            "svc-a",
            "--kind",
            "service",
            "--trigger",
            "service_explicit",
        ],
    );
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let credential = stdout.lines().last().unwrap();
    assert_eq!(credential.len(), 43, "32 bytes, base64url without padding");
    let text = std::fs::read_to_string(&s.config).unwrap();
    assert!(
        !text.contains(credential),
        "the credential itself is never stored"
    );
    assert!(text.contains("id = \"svc-a\""));
    assert!(text.contains("credential_sha256 = \"sha256:"));
    // The new credential is admitted by a restarted server (it is a caller, whatever policy says).
    let server = s.serve();
    let a = call(
        "POST",
        &server.url("/v1/attempts"),
        Some(credential),
        Some(&valid_request()),
    );
    assert_ne!(a.status, 401);
}

#[test]
fn caller_add_refuses_an_existing_id_bad_ids_and_unknown_triggers() {
    let s = Setup::new(None, None);
    let before = std::fs::read(&s.config).unwrap();
    for args in [
        &[
            "op-http",
            "--kind",
            "operator",
            "--trigger",
            "operator_explicit",
        ][..],
        &[
            "operator-1",
            "--kind",
            "operator",
            "--trigger",
            "operator_explicit",
        ][..],
        &[
            "Bad_Id",
            "--kind",
            "service",
            "--trigger",
            "service_explicit",
        ][..],
        &["svc-b", "--kind", "service", "--trigger", "scheduled"][..],
        &["svc-b", "--kind", "robot", "--trigger", "service_explicit"][..],
        &["svc-b", "--kind", "service"][..],
    ] {
        let out = add(&s.config, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
    }
    assert_eq!(
        std::fs::read(&s.config).unwrap(),
        before,
        "the file is unchanged"
    );
}
