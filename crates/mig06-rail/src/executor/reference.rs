//! The reference executor: writes a metadata-only draft under the data directory and returns a
//! real draft-only receipt for it. It is the default so that a fresh `mig06 init` works end to
//! end without a downstream service; it stands in for a drafting service, it is not a stub.
//!
//! The decision that matters: a receipt is returned only once its draft would survive a power
//! cut. The draft file's data is synced, then the drafts directory (so the file's entry is
//! durable), and, the first time this executor writes, the data directory (so the entry of the
//! drafts directory is durable, whether this executor created it or a process that stopped
//! before syncing did). A confirmed `COMPLETED_DRAFT` therefore always names a file that exists
//! with the content its `content_sha256` names. That costs two syncs per draft (ARCHITECTURE.md
//! says what a production executor must promise instead; docs/PERFORMANCE.md measures it).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use super::{Deadline, Executor, ExecutorError, ExecutorFault, StepInput};
use crate::ids::{OpaqueId, OpaquePrefix, Sha256Digest};

/// Stores drafts in `<data_dir>/drafts/<draft_ref>.json`, durably (see the module's decision).
#[derive(Debug, Clone)]
pub struct ReferenceExecutor {
    data_dir: PathBuf,
    drafts: PathBuf,
    /// Whether the entry of the drafts directory in the data directory is known durable (set
    /// once the data directory was synced after the drafts directory existed).
    drafts_entry_durable: Arc<AtomicBool>,
}

impl ReferenceExecutor {
    /// A reference executor writing under `data_dir/drafts`.
    #[must_use]
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            drafts: data_dir.join("drafts"),
            drafts_entry_durable: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Writes `bytes` as a new draft file and makes it durable: its data, its entry in the
    /// drafts directory, and the drafts directory's entry in the data directory.
    fn write_durably(&self, name: &str, bytes: &[u8]) -> Result<(), ExecutorError> {
        let unavailable = |_| ExecutorError::Fault(ExecutorFault::DraftStoreUnavailable);
        let failed = |_| ExecutorError::Fault(ExecutorFault::DraftStoreWriteFailed);
        std::fs::create_dir_all(&self.drafts).map_err(unavailable)?;
        if !self.drafts_entry_durable.load(Ordering::Acquire) {
            // The drafts directory may have been created just now, or by an earlier process
            // that stopped before syncing its parent: sync the parent once per executor.
            sync_dir(&self.data_dir).map_err(failed)?;
            self.drafts_entry_durable.store(true, Ordering::Release);
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.drafts.join(name))
            .map_err(unavailable)?;
        f.write_all(bytes)
            .and_then(|()| f.sync_data())
            .map_err(failed)?;
        drop(f);
        // The file's entry: without this a power cut can leave no file for a confirmed draft.
        sync_dir(&self.drafts).map_err(failed)
    }
}

/// Syncs a directory, so that the entries created in it survive a power loss.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all())
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
        self.write_durably(&format!("{draft_ref}.json"), &bytes)?;
        Ok(json!({
            "draft_ref": draft_ref,
            "disposition": "draft",
            "docStatus": "preliminary",
            "content_sha256": Sha256Digest::of(&bytes),
        }))
    }
}
