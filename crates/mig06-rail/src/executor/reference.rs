//! The reference executor: writes a metadata-only draft under the data directory and returns a
//! real draft-only receipt for it. It is the default so that a fresh `mig06 init` works end to
//! end without a downstream service; it stands in for a drafting service, it is not a stub.

use std::io::Write;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::{Deadline, Executor, ExecutorError, ExecutorFault, StepInput};
use crate::ids::{OpaqueId, OpaquePrefix, Sha256Digest};

/// Stores drafts in `<data_dir>/drafts/<draft_ref>.json`.
#[derive(Debug, Clone)]
pub struct ReferenceExecutor {
    drafts: PathBuf,
}

impl ReferenceExecutor {
    /// A reference executor writing under `data_dir/drafts`.
    #[must_use]
    pub fn new(data_dir: &std::path::Path) -> Self {
        Self {
            drafts: data_dir.join("drafts"),
        }
    }
}

impl Executor for ReferenceExecutor {
    fn execute(&self, input: &StepInput, deadline: Deadline) -> Result<Value, ExecutorError> {
        if deadline.passed() {
            return Err(ExecutorError::Deadline);
        }
        let draft_ref = OpaqueId::random(OpaquePrefix::Draft);
        // The draft itself is a template filled with metadata only: the clinical text is written
        // by a clinician in the record system, never by the rail.
        let content = json!({
            "resourceType": "DocumentReference",
            "docStatus": "preliminary",
            "draft_ref": draft_ref,
            "attempt_id": input.attempt_id,
            "action": input.action,
            "params": input.params,
            "sections": ["summary", "findings", "plan"],
        });
        let bytes = serde_json::to_vec_pretty(&content)
            .map_err(|_| ExecutorError::Fault(ExecutorFault::EncodeDraft))?;
        std::fs::create_dir_all(&self.drafts)
            .map_err(|_| ExecutorError::Fault(ExecutorFault::DraftStoreUnavailable))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.drafts.join(format!("{draft_ref}.json")))
            .map_err(|_| ExecutorError::Fault(ExecutorFault::DraftStoreUnavailable))?;
        f.write_all(&bytes)
            .and_then(|()| f.sync_data())
            .map_err(|_| ExecutorError::Fault(ExecutorFault::DraftStoreWriteFailed))?;
        Ok(json!({
            "draft_ref": draft_ref,
            "disposition": "draft",
            "docStatus": "preliminary",
            "content_sha256": Sha256Digest::of(&bytes),
        }))
    }
}
