//! The witnesses the configuration lists, as the rail's [`Witness`]es: the blocking C2SP
//! `tlog-witness` client of `mig06-witness` behind the library's trait (the library holds no
//! HTTP client).

use std::sync::Arc;

use anyhow::{Context, Result};
use mig06_rail::audit::Hash;
use mig06_rail::config::Config;
use mig06_rail::executor::Deadline;
use mig06_rail::witness::{Witness, WitnessError};
use mig06_tlog::cosignature::WitnessVerifier;
use mig06_witness::client::{SubmitError, WitnessClient};

use crate::serve::metrics::{SubmissionResult, WitnessStats};

/// One configured witness.
struct Configured {
    name: String,
    client: WitnessClient,
    /// Its place in `stats`.
    index: usize,
    stats: Arc<WitnessStats>,
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
        let started = std::time::Instant::now();
        let until = started + deadline.remaining().unwrap_or_default();
        let result = self
            .client
            .add_checkpoint(old_size, proof, checkpoint, until);
        let (counted, mapped) = match result {
            Ok(lines) => (SubmissionResult::Cosigned, Ok(lines)),
            Err(SubmitError::Conflict { size }) => (
                SubmissionResult::Conflict,
                Err(WitnessError::Conflict { size }),
            ),
            Err(SubmitError::Unavailable) => (
                SubmissionResult::Unavailable,
                Err(WitnessError::Unavailable),
            ),
            Err(SubmitError::Refused { status }) => (
                SubmissionResult::Refused,
                Err(WitnessError::Refused { status }),
            ),
            Err(SubmitError::BadCosignature) => (
                SubmissionResult::BadCosignature,
                Err(WitnessError::BadCosignature),
            ),
            Err(SubmitError::Malformed) => {
                (SubmissionResult::Malformed, Err(WitnessError::Malformed))
            }
        };
        self.stats
            .record(self.index, counted, started.elapsed().as_secs_f64());
        mapped
    }
}

/// The configured witnesses' clients, in order, and the counters they update.
pub(crate) type Clients = (Vec<Box<dyn Witness>>, Arc<WitnessStats>);

/// The clients of every `[[audit.witnesses]]` entry, in order, and the counters they update.
///
/// # Errors
/// A witness whose verifier key does not parse or whose URL is not usable.
pub(crate) fn from_config(config: &Config) -> Result<Clients> {
    let list = &config.witnesses.list;
    let stats = Arc::new(WitnessStats::new(
        list.iter().map(|w| w.name.clone()).collect(),
    ));
    let witnesses = list
        .iter()
        .enumerate()
        .map(|(index, w)| {
            let verifier = WitnessVerifier::parse(&w.vkey)
                .with_context(|| format!("audit.witnesses {}: vkey", w.name))?;
            let client = WitnessClient::new(&w.url, verifier)
                .with_context(|| format!("audit.witnesses {}: url", w.name))?;
            Ok(Box::new(Configured {
                name: w.name.clone(),
                client,
                index,
                stats: Arc::clone(&stats),
            }) as Box<dyn Witness>)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((witnesses, stats))
}

/// The witness keys and quorum an offline verifier was given (`--witness-key FILE...`,
/// `--witness-quorum K`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WitnessArgs {
    /// A witness's verifier key file (its `witness.vkey`, or the `vkey` of the rail's
    /// `[[audit.witnesses]]` entry): repeat for each witness. Its cosignatures on the
    /// checkpoints this command sees are checked.
    #[arg(long = "witness-key", value_name = "FILE")]
    pub(crate) witness_keys: Vec<std::path::PathBuf>,
    /// How many of the given witnesses must have cosigned (default: all of them).
    #[arg(long, value_name = "K", requires = "witness_keys")]
    pub(crate) witness_quorum: Option<usize>,
}

/// The witnesses an offline verifier checks, and their quorum.
pub(crate) struct OfflineWitnesses {
    /// The keys, in the order given.
    pub(crate) keys: Vec<WitnessVerifier>,
    /// How many must have cosigned.
    pub(crate) quorum: usize,
}

impl WitnessArgs {
    /// The keys read and the quorum checked; `None` when no witness key was given.
    ///
    /// # Errors
    /// A key file that cannot be read or is not a witness verifier key, or a quorum of zero or
    /// above the number of keys.
    pub(crate) fn load(&self) -> Result<Option<OfflineWitnesses>> {
        if self.witness_keys.is_empty() {
            return Ok(None);
        }
        let keys = self
            .witness_keys
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read witness key {}", p.display()))?;
                if text.trim_start().starts_with("PRIVATE+KEY+") {
                    anyhow::bail!(
                        "{} is a private key: give the witness's verifier key (`mig06 witness vkey DIR`)",
                        p.display()
                    );
                }
                WitnessVerifier::parse(text.trim()).map_err(|e| {
                    anyhow::anyhow!(
                        "{} is not a witness verifier key ({e}): one line `name+keyid+base64`, as `mig06 witness vkey` prints it",
                        p.display()
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // One witness counts once toward a quorum: the same key given twice would not.
        for (i, k) in keys.iter().enumerate() {
            if keys.iter().take(i).any(|other| other.vkey() == k.vkey()) {
                anyhow::bail!(
                    "--witness-key: the key of witness {} is given more than once; a quorum counts distinct witnesses",
                    k.name()
                );
            }
        }
        let quorum = self.witness_quorum.unwrap_or(keys.len());
        if quorum == 0 || quorum > keys.len() {
            anyhow::bail!(
                "--witness-quorum must be between 1 and the number of --witness-key files ({})",
                keys.len()
            );
        }
        Ok(Some(OfflineWitnesses { keys, quorum }))
    }
}

/// The verifier's clock for cosignature timestamps (POSIX seconds), if it has one.
pub(crate) fn unix_now() -> Option<u64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// The cosigners of a verified quorum, as JSON.
pub(crate) fn cosigners_json(q: &mig06_tlog::cosignature::Quorum) -> serde_json::Value {
    q.cosigners
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": c.name,
                "key_id": format!("{:08x}", c.key_id),
                "timestamp": c.timestamp,
            })
        })
        .collect()
}
