//! `mig06 audit checkpoint`, `prove` and `consistency`: what an auditor keeps and checks offline.
//!
//! The decision that matters: every proof printed here is against a signed checkpoint the
//! checked view holds, so it verifies with the log's public key alone; the assembly of an
//! attempt's evidence is the library's ([`mig06_rail::evidence::proof`]), this only prints it.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};

use super::log::{checked_log, hex_string};

/// Prints the latest signed checkpoint.
///
/// # Errors
/// The log could not be read or does not verify, or it has no signed checkpoint yet.
pub(super) fn checkpoint(config: &Path, pubkey: Option<&Path>) -> Result<ExitCode> {
    let (view, _) = checked_log(config, pubkey)?;
    let Some((note, cp)) = view.latest() else {
        bail!("the log has no signed checkpoint yet");
    };
    if cp.size < view.ledger().size() {
        eprintln!(
            "mig06: the latest signed checkpoint covers {} of {} records; the rail covers the rest when it next opens the log",
            cp.size,
            view.ledger().size()
        );
    }
    print!("{note}");
    Ok(ExitCode::SUCCESS)
}

/// Prints an attempt's evidence token against the latest signed checkpoint.
///
/// # Errors
/// The log could not be read or does not verify, or the library cannot prove the attempt
/// ([`mig06_rail::evidence::proof::ProveError`]).
pub(super) fn prove(config: &Path, pubkey: Option<&Path>, attempt_id: &str) -> Result<ExitCode> {
    let (view, records) = checked_log(config, pubkey)?;
    let records = records.iter().map(|(line, r)| (line.as_bytes(), r));
    let token = mig06_rail::evidence::proof::evidence_token(&view, records, attempt_id)?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

/// Prints a consistency proof from `old_size` to the latest signed checkpoint, with both
/// checkpoints when the older one is on file.
///
/// # Errors
/// The log could not be read or does not verify, it has no signed checkpoint yet, or
/// `old_size` is beyond it.
pub(super) fn consistency(config: &Path, pubkey: Option<&Path>, old_size: u64) -> Result<ExitCode> {
    let (view, _) = checked_log(config, pubkey)?;
    let Some((note, cp)) = view.latest() else {
        bail!("the log has no signed checkpoint yet");
    };
    let size = cp.size;
    if old_size > size {
        bail!("old size {old_size} is larger than the latest signed checkpoint ({size} records)");
    }
    let tree = view.ledger().tree();
    let proof = tree.consistency_proof(old_size, size)?;
    println!(
        "{}",
        serde_json::json!({
            "old_size": old_size,
            "new_size": size,
            "old_root": hex_string(&tree.root_at(old_size)?),
            // A kept or latest checkpoint of exactly that size, when one is on file;
            // otherwise the auditor checks the proof against the one they kept.
            "old_checkpoint": view.signed_at(old_size),
            "new_checkpoint": note,
            "proof": proof.iter().map(hex_string).collect::<Vec<_>>(),
        })
    );
    Ok(ExitCode::SUCCESS)
}
