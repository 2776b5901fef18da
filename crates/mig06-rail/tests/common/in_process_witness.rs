//! The real `mig06-witness` witness (its checks, its durable state, its cosignatures), called in
//! process through the rail's `Witness` trait instead of over HTTP, reachable or not, counting
//! the submissions it receives. Shared by the rail's tests, the PostgreSQL store's tests and the
//! `witnessed` benchmark (each includes this file by path), so all three exercise one adapter.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use mig06_rail::audit::Hash;
use mig06_rail::executor::Deadline;
use mig06_rail::witness::{Witness, WitnessError};
use mig06_tlog::checkpoint::LogVerifier;
use mig06_tlog::cosignature::{WitnessSigner, WitnessVerifier, note_text};
use mig06_witness::protocol::AddCheckpointRequest;
use mig06_witness::store::Store;
use mig06_witness::witness::AddError;

/// A real witness with its own state directory.
#[derive(Clone)]
pub(crate) struct InProcessWitness {
    pub(crate) name: String,
    pub(crate) inner: Arc<mig06_witness::witness::Witness>,
    pub(crate) verifier: WitnessVerifier,
    /// Cleared: the witness answers nothing (`Unavailable`), as when it is down.
    pub(crate) up: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
}

impl InProcessWitness {
    /// A witness named `name` accepting `log`'s checkpoints, its state in `state`.
    pub(crate) fn new(name: &str, state: &Path, log: LogVerifier) -> Self {
        let signer = WitnessSigner::generate(name).unwrap();
        let verifier = signer.verifier();
        let inner =
            mig06_witness::witness::Witness::new(signer, vec![log], Store::open(state).unwrap());
        Self {
            name: name.to_owned(),
            inner: Arc::new(inner),
            verifier,
            up: Arc::new(AtomicBool::new(true)),
            calls: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The witness as the rail takes it.
    pub(crate) fn boxed(&self) -> Box<dyn Witness> {
        Box::new(self.clone())
    }

    /// How many submissions it received.
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The configuration lines that list `witnesses` with quorum `k` (appended to a
    /// `mig06.toml`: the configuration is what decides the quorum).
    pub(crate) fn config_lines(witnesses: &[Self], k: usize) -> String {
        let mut text = format!("\n[audit]\nwitness_quorum = {k}\n");
        for (i, w) in witnesses.iter().enumerate() {
            text.push_str(&format!(
                "\n[[audit.witnesses]]\nname = \"{}\"\nurl = \"http://127.0.0.1:9/w{i}\"\nvkey = \"{}\"\n",
                w.name,
                w.verifier.vkey()
            ));
        }
        text
    }
}

impl Witness for InProcessWitness {
    fn name(&self) -> &str {
        &self.name
    }
    fn add_checkpoint(
        &self,
        old_size: u64,
        proof: &[Hash],
        checkpoint: &str,
        _deadline: Deadline,
    ) -> Result<String, WitnessError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if !self.up.load(Ordering::SeqCst) {
            return Err(WitnessError::Unavailable);
        }
        submit(&self.inner, &self.verifier, old_size, proof, checkpoint)
    }
}

/// One `add-checkpoint` to the real witness `inner`, its answer checked with `verifier` and
/// mapped as the binary's HTTP client maps the status codes.
pub(crate) fn submit(
    inner: &mig06_witness::witness::Witness,
    verifier: &WitnessVerifier,
    old_size: u64,
    proof: &[Hash],
    checkpoint: &str,
) -> Result<String, WitnessError> {
    let body = AddCheckpointRequest::new(old_size, proof, checkpoint)
        .map_err(|_| WitnessError::Malformed)?
        .encode();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    match inner.add_checkpoint(body.as_bytes(), now) {
        Ok(lines) => {
            let text = note_text(checkpoint).map_err(|_| WitnessError::Malformed)?;
            verifier
                .verify_lines(text, &lines)
                .map(|(ours, _)| ours)
                .map_err(|_| WitnessError::BadCosignature)
        }
        Err(AddError::Conflict { size }) => Err(WitnessError::Conflict { size }),
        Err(e) => Err(WitnessError::Refused { status: e.status() }),
    }
}
