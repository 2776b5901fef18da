//! The file store's index through the binary: `audit reindex` and `audit verify
//! --since-checkpoint` with an evidence token kept from earlier.

use std::path::Path;

use assert_cmd::Command;
use serde_json::{Value, json};

fn mig06() -> Command {
    Command::cargo_bin("mig06").unwrap()
}

fn denied(config: &Path) -> Value {
    let req = json!({"request_id": ulid::Ulid::new().to_string(), "trigger": "operator_explicit",
           "subject": "subj_7k3m9q2x4w8r5t6v",
           "steps": [{"action": "draft_note", "params": {"note_kind": "prior_authorisation"}}]});
    let out = mig06()
        .args(["attempt", "--config"])
        .arg(config)
        .args(["--caller", "operator-1", "--request", "-"])
        .write_stdin(req.to_string())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["code"], "DENIED_POLICY", "{v}");
    v
}

fn verify(config: &Path, since: Option<&Path>) -> (i32, Value) {
    let mut cmd = mig06();
    cmd.args(["audit", "verify", "--config"]).arg(config);
    if let Some(s) = since {
        cmd.arg("--since-checkpoint").arg(s);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

#[test]
fn reindex_and_verify_since_a_kept_token_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    mig06().arg("init").arg(dir.path()).assert().success();
    let config = dir.path().join("mig06.toml");
    for _ in 0..3 {
        denied(&config);
    }
    let kept = denied(&config);
    let token = dir.path().join("kept.token");
    std::fs::write(&token, kept["evidence"].as_str().unwrap()).unwrap();
    for _ in 0..3 {
        denied(&config);
    }
    // The index is written at each open: the log verifies from the kept token's checkpoint on.
    let (code, v) = verify(&config, Some(&token));
    assert_eq!(code, 0, "{v}");
    let (full_code, full) = verify(&config, None);
    assert_eq!(full_code, 0, "{full}");
    assert_eq!(
        (v["records"].clone(), v["root"].clone()),
        (full["records"].clone(), full["root"].clone())
    );
    assert!(v["checked_from_record"].as_u64().unwrap() > 0, "{v}");

    // A rebuilt index (deleted, then `audit reindex`) answers the same.
    let audit = dir.path().join("data/audit");
    for f in ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"] {
        let _ = std::fs::remove_file(audit.join(f));
    }
    let out = mig06()
        .args(["audit", "reindex", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["records"], full["records"]);
    assert_eq!(verify(&config, Some(&token)).0, 0);

    // The log cut back below the kept checkpoint: the incremental check fails, as the full one.
    let log = audit.join("log.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&log, format!("{}\n", lines[..2].join("\n"))).unwrap();
    let (code, v) = verify(&config, Some(&token));
    assert_eq!((code, &v["ok"]), (1, &json!(false)), "{v}");
}
