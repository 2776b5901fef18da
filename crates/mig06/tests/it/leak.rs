//! The PHI leak test (INV-NO-PHI-LEAK): canary identifiers of every kind, in every field of every
//! request shape and every executor receipt field, through the real binary and a real command
//! executor. Then every byte under the set-up's directory, and every byte of stdout and stderr,
//! is searched: no canary may appear.

use std::path::Path;

use assert_cmd::Command;
use serde_json::{Value, json};

pub(crate) const CANARIES: &[(&str, &str)] = &[
    ("us_ssn", "219-09-9999"),
    ("email", "zebulon.quixote@example.org"),
    ("phone", "(415) 555-2671"),
    ("person_name", "Zebulon Quixote"),
    ("street_address", "1600 Pennsylvania Avenue NW"),
    ("mrn", "MRN 84736251"),
    ("payment_card", "4111 1111 1111 1111"),
    ("ip_address", "192.168.13.77"),
    ("url", "https://portal.example.org/patient/88121"),
    ("person_date", "1931-04-17"),
    ("iban", "GB82 WEST 1234 5698 7654 32"),
    ("us_npi", "1245319599"),
    ("us_mbi", "1EG4-TE5-MK73"),
];

fn base_request() -> Value {
    json!({"request_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "trigger": "operator_explicit",
           "subject": "subj_7k3m9q2x4w8r5t6v",
           "steps": [{"action": "draft_note", "params": {"note_kind": "discharge_summary"}}]})
}

/// Every request shape with the canary placed somewhere in it.
pub(crate) fn shapes(c: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for ptr in [
        "/request_id",
        "/trigger",
        "/subject",
        "/steps/0/action",
        "/steps/0/params/note_kind",
        "/steps/0/params/pages",
    ] {
        let mut r = base_request();
        if let Some(slot) = r.pointer_mut(ptr) {
            *slot = json!(c);
        } else {
            r["steps"][0]["params"]["pages"] = json!(c);
        }
        out.push(r);
    }
    let mut r = base_request();
    r["continuation"] = json!({"evidence": "mig06ev1.AAAA", "reason": c});
    out.push(r);
    let mut r = base_request();
    r["continuation"] = json!({"evidence": c, "reason": "operator_amended_request"});
    out.push(r);
    let mut r = base_request();
    r["note"] = json!(c);
    out.push(r);
    let mut r = base_request();
    r[c] = json!("x");
    out.push(r);
    let mut r = base_request();
    r["steps"][0]["params"][c] = json!(1);
    out.push(r);
    let mut r = base_request();
    r["steps"][0]["params"]["dob"] = json!(c);
    out.push(r);
    let mut r = base_request();
    r["steps"] = json!([r["steps"][0], {"action": "draft_note", "params": {"note_kind": c}}]);
    out.push(r);
    out.push(json!([c, {"subject": c}]));
    out.push(json!({"request_id": {"nested": [c]}}));
    out
}

fn receipts(c: &str) -> Vec<Value> {
    let good = json!({"draft_ref": "draft_7k3m9q2x4w8r5t6v0a1b2c3d4e", "disposition": "draft",
                      "docStatus": "preliminary", "content_sha256": format!("sha256:{}", "ab".repeat(32))});
    let mut out = Vec::new();
    for k in [
        "draft_ref",
        "disposition",
        "content_sha256",
        "docStatus",
        "status",
        "note",
    ] {
        let mut r = good.clone();
        r[k] = json!(c);
        out.push(r);
    }
    let mut r = good.clone();
    r[c] = json!(true);
    out.push(r);
    out.push(json!([c]));
    out
}

fn all_bytes_under(dir: &Path, out: &mut Vec<u8>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all_bytes_under(&p, out);
        } else {
            out.extend(std::fs::read(&p).unwrap());
            out.push(b'\n');
        }
    }
}

fn variants(c: &str) -> Vec<String> {
    let mut v = vec![c.to_owned(), c.to_lowercase()];
    let digits: String = c.chars().filter(char::is_ascii_digit).collect();
    if digits.len() >= 9 {
        v.push(digits);
    }
    v
}

#[test]
fn inv_no_phi_leak_canaries_in_every_field_never_reach_any_byte_the_rail_writes() {
    let dir = tempfile::tempdir().unwrap();
    Command::cargo_bin("mig06")
        .unwrap()
        .arg("init")
        .arg(dir.path())
        .assert()
        .success();
    let config = dir.path().join("mig06.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "kind = \"reference\"",
            "kind = \"command\"\nprogram = \"receipt.sh\"",
        ),
    )
    .unwrap();
    let script = dir.path().join("receipt.sh");
    std::fs::write(
        &script,
        "#!/bin/bash\ncat >/dev/null\ncat \"$(dirname \"$0\")/receipt.json\"\n",
    )
    .unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&script).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let mut streams = Vec::new();
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    let mut run = |body: Vec<u8>, streams: &mut Vec<u8>| {
        let out = Command::cargo_bin("mig06")
            .unwrap()
            .args(["attempt", "--config"])
            .arg(&config)
            .args(["--caller", "operator-1", "--request", "-"])
            .write_stdin(body)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        *codes
            .entry(v["code"].as_str().unwrap_or("none").to_owned())
            .or_default() += 1;
        streams.extend(out.stdout);
        streams.extend(out.stderr);
    };
    for (_, c) in CANARIES {
        for req in shapes(c) {
            run(req.to_string().into_bytes(), &mut streams);
        }
        // Also as raw, unparseable bytes.
        run(
            format!("{{\"request_id\": \"{c}").into_bytes(),
            &mut streams,
        );
        for receipt in receipts(c) {
            std::fs::write(dir.path().join("receipt.json"), receipt.to_string()).unwrap();
            run(base_request().to_string().into_bytes(), &mut streams);
        }
    }
    // Remove the test's own inputs before searching what the rail wrote.
    std::fs::remove_file(dir.path().join("receipt.json")).unwrap();
    let mut written = Vec::new();
    all_bytes_under(dir.path(), &mut written);
    let haystacks = [
        (
            "files under the set-up",
            String::from_utf8_lossy(&written).to_string(),
        ),
        (
            "stdout and stderr",
            String::from_utf8_lossy(&streams).to_string(),
        ),
    ];
    for (kind, c) in CANARIES {
        for v in variants(c) {
            for (what, hay) in &haystacks {
                assert!(!hay.contains(&v), "{kind} canary found in {what}");
            }
        }
    }
    // The test did run attempts to their ends: nothing completed with a canary in it.
    assert!(!codes.contains_key("none"), "{codes:?}");
    assert!(!codes.contains_key("COMPLETED_DRAFT"), "{codes:?}");
    assert!(
        codes.get("ABORTED_PHI_DETECTED").copied().unwrap_or(0) > CANARIES.len() * 5,
        "{codes:?}"
    );
}
