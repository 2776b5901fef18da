//! The reference executor's receipt names a draft file that exists, under a drafts directory it
//! creates, with the content its `content_sha256` names (the power-cut harness,
//! `bench/crash/powercut.py`, checks the same after a cut).

use std::time::Duration;

use mig06_rail::executor::reference::ReferenceExecutor;
use mig06_rail::executor::{Deadline, Executor, StepInput};
use mig06_rail::ids::{AttemptId, OpaqueId, Sha256Digest};
use mig06_rail::request::Code;
use serde_json::json;

fn input() -> StepInput {
    StepInput {
        attempt_id: AttemptId::mint(),
        action: Code::parse("draft_note").unwrap(),
        subject: OpaqueId::parse("subj_7k3m9q2x4w8r5t6v").unwrap(),
        params: json!({"note_kind": "discharge_summary"}),
        trace: None,
    }
}

#[test]
fn a_receipt_names_a_draft_file_with_the_content_its_hash_names() {
    let dir = tempfile::tempdir().unwrap();
    // The drafts directory does not exist yet: the first draft creates it.
    let exec = ReferenceExecutor::new(dir.path());
    for _ in 0..3 {
        let receipt = exec
            .execute(&input(), Deadline::after(Duration::from_secs(5)))
            .unwrap();
        let draft_ref = receipt["draft_ref"].as_str().unwrap();
        let bytes =
            std::fs::read(dir.path().join("drafts").join(format!("{draft_ref}.json"))).unwrap();
        assert_eq!(
            receipt["content_sha256"].as_str().unwrap(),
            Sha256Digest::of(&bytes).to_string()
        );
    }
    // A second executor on the same data directory (a restart) writes beside the first's.
    let again = ReferenceExecutor::new(dir.path());
    again
        .execute(&input(), Deadline::after(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("drafts"))
            .unwrap()
            .count(),
        4
    );
}

#[test]
fn an_unwritable_data_directory_is_a_draft_store_fault_not_a_receipt() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the data directory should be: nothing can be created under it.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let exec = ReferenceExecutor::new(&file);
    let err = exec
        .execute(&input(), Deadline::after(Duration::from_secs(5)))
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("DraftStore"),
        "a draft store fault, got {err:?}"
    );
}
