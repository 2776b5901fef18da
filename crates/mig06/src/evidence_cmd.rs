//! `mig06 evidence ...`: checking an attempt's evidence token offline.
//!
//! The decision that matters: verification needs only the log's public key and the token (and,
//! for a log whose key was rotated, its published key rotation statements); it never reads the
//! log or the configuration, so a receiver of a draft can check its evidence anywhere. A token
//! that does not verify is the command's answer (`{"valid": false}`, exit status 1), not an
//! error. With `--witness-key` the token's checkpoint must also carry a quorum of valid witness
//! cosignatures, checked by the same function as everywhere
//! ([`mig06_rail::evidence::verify_witnessed`]); a failure names the witness and the check.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;
use mig06_rail::audit::file::rotation_notes;
use mig06_rail::audit::ledger::follow_rotations;
use mig06_rail::tlog::rotation::LogKeys;

use mig06_rail::evidence::WitnessedError;

use crate::audit_cmd::{hex_string, read_vkey};

#[derive(Debug, Subcommand)]
pub(crate) enum EvidenceCommand {
    /// Verify an evidence token offline with the log's verifier key.
    Verify {
        /// The log's verifier key file (`mig06 audit pubkey`): the key that signed the token's
        /// checkpoint or, with --rotations, any of the log's keys (the genesis key, the current
        /// one).
        #[arg(long)]
        pubkey: PathBuf,
        /// The log's key rotation statements (a copy of its `audit/rotations`, as the operator
        /// publishes it): the token's checkpoint is then verified with the key in force at its
        /// size, followed from --pubkey.
        #[arg(long)]
        rotations: Option<PathBuf>,
        /// The token (or - to read it from stdin).
        token: String,
        #[command(flatten)]
        witnesses: crate::witnesses::WitnessArgs,
    },
}

/// Runs an evidence command.
///
/// # Errors
/// The key or the token could not be read.
pub(crate) fn run(cmd: EvidenceCommand) -> Result<ExitCode> {
    match cmd {
        EvidenceCommand::Verify {
            pubkey,
            rotations,
            token,
            witnesses,
        } => {
            let verifier = read_vkey(&pubkey)?;
            let witnesses = witnesses.load()?;
            // INV-KEY-EPOCH: with the statements, the key in force at the checkpoint's size.
            let keys = match &rotations {
                Some(path) => {
                    let notes = rotation_notes(path)
                        .map_err(|f| anyhow::anyhow!("{}: {f}", path.display()))?;
                    if notes.is_empty() {
                        bail!("{}: no key rotation statements", path.display());
                    }
                    follow_rotations(&notes, &verifier)
                        .map_err(|f| anyhow::anyhow!("{}: {f}", path.display()))?
                }
                None => LogKeys::single(verifier),
            };
            let token = if token == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
                s
            } else {
                token
            };
            let result = match &witnesses {
                None => mig06_rail::evidence::verify(token.trim(), &keys)
                    .map(|v| (v, None))
                    .map_err(WitnessedError::from),
                Some(w) => mig06_rail::evidence::verify_witnessed(
                    token.trim(),
                    &keys,
                    &w.keys,
                    w.quorum,
                    crate::witnesses::unix_now(),
                )
                .map(|(v, q)| (v, Some(q))),
            };
            match result {
                Ok((v, quorum)) => {
                    let mut out = serde_json::json!({
                        "valid": true,
                        "attempt_id": v.attempt_id(),
                        "code": v.code,
                        "request_fingerprint": v.fingerprint(),
                        "leaf_index": v.index,
                        "leaf_hash": hex_string(&v.leaf_hash),
                        "tree_size": v.tree_size,
                        "root": hex_string(&v.root),
                    });
                    if let (Some(q), Some(w), Some(obj)) = (quorum, &witnesses, out.as_object_mut())
                    {
                        obj.insert("witness_quorum".into(), w.quorum.into());
                        obj.insert("cosigners".into(), crate::witnesses::cosigners_json(&q));
                    }
                    println!("{out}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!(
                        "{}",
                        serde_json::json!({"valid": false, "error": e.to_string()})
                    );
                    eprintln!("mig06: evidence verify FAILED: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}
