//! `mig06 audit rotate-key` end to end through the real binary (INV-KEY-EPOCH): attempts, a
//! rotation, attempts under the new key; `audit verify` with the genesis key and with the new
//! one; an old token verified offline (with the retired key, and with the new key and the
//! published statements) and continued after the rotation.

use std::path::Path;

use assert_cmd::Command;
use serde_json::{Value, json};

fn mig06() -> Command {
    Command::cargo_bin("mig06").unwrap()
}

fn request(kind: &str) -> Value {
    json!({"request_id": ulid::Ulid::new().to_string(), "trigger": "operator_explicit",
           "subject": "subj_7k3m9q2x4w8r5t6v",
           "steps": [{"action": "draft_note", "params": {"note_kind": kind}}]})
}

fn attempt(config: &Path, req: &Value) -> Value {
    let out = mig06()
        .args(["attempt", "--config"])
        .arg(config)
        .args(["--caller", "operator-1", "--request", "-"])
        .write_stdin(req.to_string())
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn verify(config: &Path, pubkey: Option<&Path>) -> (i32, Value) {
    let mut cmd = mig06();
    cmd.args(["audit", "verify", "--config"]).arg(config);
    if let Some(p) = pubkey {
        cmd.arg("--pubkey").arg(p);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

fn evidence_verify(token: &str, pubkey: &Path, rotations: Option<&Path>) -> i32 {
    let mut cmd = mig06();
    cmd.args(["evidence", "verify", "--pubkey"]).arg(pubkey);
    if let Some(r) = rotations {
        cmd.arg("--rotations").arg(r);
    }
    cmd.arg(token).output().unwrap().status.code().unwrap()
}

#[test]
fn inv_key_epoch_rotate_key_through_the_binary_keeps_old_evidence_verifying_and_continuable() {
    let dir = tempfile::tempdir().unwrap();
    mig06().arg("init").arg(dir.path()).assert().success();
    let config = dir.path().join("mig06.toml");
    let keys = dir.path().join("keys");
    let genesis = std::fs::read_to_string(keys.join("log.vkey")).unwrap();
    let denied = attempt(&config, &request("prior_authorisation"));
    assert_eq!(denied["code"], "DENIED_POLICY");
    let old_token = denied["evidence"].as_str().unwrap().to_owned();

    let out = mig06()
        .args(["audit", "rotate-key", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["rotation"]["epoch"], 1);
    assert_eq!(report["rotation"]["old_vkey"], genesis.trim());
    assert_eq!(report["key_epochs"].as_array().unwrap().len(), 2);
    // The retired verifier key is kept; log.vkey and log.key are the new key's.
    assert_eq!(
        std::fs::read_to_string(keys.join("log.epoch0.vkey")).unwrap(),
        genesis
    );
    let new_vkey = std::fs::read_to_string(keys.join("log.vkey")).unwrap();
    assert_eq!(new_vkey.trim(), report["rotation"]["new_vkey"]);
    let printed = mig06()
        .args(["audit", "pubkey", "--config"])
        .arg(&config)
        .arg("--from-signing-key")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(printed.stdout).unwrap(), new_vkey);

    // The pre-rotation denial continues, once, under the new key.
    let mut cont = request("discharge_summary");
    cont["trigger"] = json!("operator_continuation");
    cont["continuation"] = json!({"evidence": old_token, "reason": "operator_amended_request"});
    let done = attempt(&config, &cont);
    assert_eq!(done["code"], "COMPLETED_DRAFT", "{done}");
    let new_token = done["evidence"].as_str().unwrap().to_owned();
    cont["request_id"] = json!(ulid::Ulid::new().to_string());
    assert_eq!(
        attempt(&config, &cont)["code"],
        "DENIED_CONTINUATION_ALREADY_USED"
    );

    // `audit verify`: with the configuration's key (the new one), and with the genesis key.
    let (code, v) = verify(&config, None);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["key_epochs"].as_array().unwrap().len(), 2);
    let (code, v) = verify(&config, Some(&keys.join("log.epoch0.vkey")));
    assert_eq!(code, 0, "{v}");

    // Evidence offline: the old token with the retired key alone, or with the new key and the
    // published statements; the new token with the new key, not with the retired key alone.
    let rotations = dir.path().join("data/audit/rotations");
    let epoch0 = keys.join("log.epoch0.vkey");
    let current = keys.join("log.vkey");
    assert_eq!(evidence_verify(&old_token, &epoch0, None), 0);
    assert_eq!(evidence_verify(&old_token, &current, Some(&rotations)), 0);
    assert_eq!(evidence_verify(&old_token, &epoch0, Some(&rotations)), 0);
    assert_eq!(evidence_verify(&old_token, &current, None), 1);
    assert_eq!(evidence_verify(&new_token, &current, None), 0);
    assert_eq!(evidence_verify(&new_token, &epoch0, Some(&rotations)), 0);
    assert_eq!(evidence_verify(&new_token, &epoch0, None), 1);

    // A removed statements file: the rail refuses to start, and `audit verify` fails.
    let kept = std::fs::read(&rotations).unwrap();
    std::fs::remove_file(&rotations).unwrap();
    let (code, v) = verify(&config, None);
    assert_eq!((code, &v["ok"]), (1, &json!(false)), "{v}");
    let refused = attempt(&config, &request("discharge_summary"));
    assert_eq!(refused, Value::Null, "the rail does not start");
    std::fs::write(&rotations, kept).unwrap();
    assert_eq!(verify(&config, None).0, 0);
}
