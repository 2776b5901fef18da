//! The witnesses the configuration lists, as the rail's [`Witness`]es: the blocking C2SP
//! `tlog-witness` client of `mig06-witness` behind the library's trait (the library holds no
//! HTTP client).

use anyhow::{Context, Result};
use mig06_rail::audit::Hash;
use mig06_rail::config::Config;
use mig06_rail::executor::Deadline;
use mig06_rail::witness::{Witness, WitnessError};
use mig06_tlog::cosignature::WitnessVerifier;
use mig06_witness::client::{SubmitError, WitnessClient};

/// One configured witness.
struct Configured {
    name: String,
    client: WitnessClient,
}

impl Witness for Configured {
    fn name(&self) -> &str {
        &self.name
    }

    fn add_checkpoint(
        &self,
        old_size: u64,
        proof: &[Hash],
        checkpoint: &str,
        deadline: Deadline,
    ) -> Result<String, WitnessError> {
        let until = std::time::Instant::now() + deadline.remaining().unwrap_or_default();
        self.client
            .add_checkpoint(old_size, proof, checkpoint, until)
            .map_err(|e| match e {
                SubmitError::Conflict { size } => WitnessError::Conflict { size },
                SubmitError::Unavailable => WitnessError::Unavailable,
                SubmitError::Refused { status } => WitnessError::Refused { status },
                SubmitError::BadCosignature => WitnessError::BadCosignature,
                SubmitError::Malformed => WitnessError::Malformed,
            })
    }
}

/// The clients of every `[[audit.witnesses]]` entry, in order.
///
/// # Errors
/// A witness whose verifier key does not parse or whose URL is not usable.
pub(crate) fn from_config(config: &Config) -> Result<Vec<Box<dyn Witness>>> {
    config
        .witnesses
        .list
        .iter()
        .map(|w| {
            let verifier = WitnessVerifier::parse(&w.vkey)
                .with_context(|| format!("audit.witnesses {}: vkey", w.name))?;
            let client = WitnessClient::new(&w.url, verifier)
                .with_context(|| format!("audit.witnesses {}: url", w.name))?;
            Ok(Box::new(Configured {
                name: w.name.clone(),
                client,
            }) as Box<dyn Witness>)
        })
        .collect()
}
