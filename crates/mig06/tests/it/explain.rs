//! `mig06 explain` knows terminal codes and reason codes, in any case, and never echoes an
//! argument it does not know.

use assert_cmd::Command;

fn explain(arg: &str) -> std::process::Output {
    Command::cargo_bin("mig06")
        .unwrap()
        .args(["explain", arg])
        .output()
        .unwrap()
}

#[test]
fn explain_knows_terminal_and_reason_codes_in_any_case() {
    for arg in [
        "DENIED_MULTI_STEP",
        "denied_multi_step",
        "Denied_Multi_Step",
    ] {
        let out = explain(arg);
        assert!(out.status.success(), "{arg}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with("DENIED_MULTI_STEP\n"), "{text}");
        assert!(text.contains("its own new attempt"), "{text}");
    }
    for (arg, code) in [
        ("duplicate_member", "duplicate_member"),
        ("DUPLICATE_MEMBER", "duplicate_member"),
        ("Unchanged_Request", "unchanged_request"),
        ("phi:US_SSN", "phi"),
        ("2_steps", "steps"),
    ] {
        let out = explain(arg);
        assert!(out.status.success(), "{arg}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.starts_with(&format!("{code} (reason code)\n")),
            "{arg}: {text}"
        );
        assert!(text.contains("Carried by: "), "{text}");
    }
    let out = explain("jane.doe@example.org");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unknown terminal or reason code"), "{err}");
    assert!(!err.contains("jane"), "{err}");
}
