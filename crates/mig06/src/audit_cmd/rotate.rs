//! `mig06 audit rotate-key`: the operator's key rotation (the one audit command that writes).
//!
//! The decision that matters: this is a thin wrapper of [`mig06_rail::rekey`], which does the
//! whole procedure under the store's lock; this file builds the configured witnesses, prints
//! what to publish, and nothing else. See docs/OPERATIONS.md, "Rotating the log's key".

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use mig06_rail::config::Config;
use mig06_rail::executor::Deadline;
use mig06_rail::rail::audit_dir;
use mig06_rail::rekey;

use super::log::hex_string;

/// Runs `mig06 audit rotate-key`.
///
/// # Errors
/// The configuration or the key could not be read, or the rotation did not complete (nothing of
/// it holds unless the statement was written; running it again finishes it).
pub(super) fn run(config: &Path, prepare: bool, timeout_ms: u64) -> Result<ExitCode> {
    let cfg = Config::load(config)?;
    if prepare {
        let next = rekey::prepare(&cfg)?;
        let files = rekey::KeyFiles::of(&cfg.signing_key);
        println!(
            "{}",
            serde_json::json!({
                "ok": true,
                "prepared": true,
                "next_vkey": next.verifier().vkey(),
                "next_key_file": files.next_key,
                "next_vkey_file": files.next_vkey,
            })
        );
        eprintln!(
            "mig06: add the next key to every witness of this log (`mig06 witness add-log` with {}), then run `mig06 audit rotate-key --config {}` with the rail stopped",
            files.next_vkey.display(),
            config.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    // The witnesses' statistics are for `/metrics`; a one-off command has none to show.
    let (witnesses, _stats) = crate::witnesses::from_config(&cfg)?;
    let deadline = Deadline::after(Duration::from_millis(timeout_ms));
    let done = rekey::rotate_key(&cfg, witnesses, deadline)?;
    let rotations = audit_dir(&cfg).join(mig06_rail::audit::ledger::ROTATIONS_FILE);
    let epochs: Vec<_> = done
        .keys
        .epochs()
        .iter()
        .map(|e| {
            serde_json::json!({
                "epoch": e.number,
                "from_size": e.from,
                "until_size": e.until,
                "vkey": e.key.vkey(),
            })
        })
        .collect();
    let rotated = done.rotated.as_ref().map(|r| {
        serde_json::json!({
            "epoch": r.epoch,
            "size": r.size,
            "root": hex_string(&r.root),
            "old_vkey": r.old_vkey,
            "new_vkey": r.new_vkey,
            "statement": r.statement,
            "final_checkpoint": r.final_checkpoint,
            "first_checkpoint": r.first_checkpoint,
            "witnesses": r.witnesses,
        })
    });
    println!(
        "{}",
        serde_json::json!({
            "ok": true,
            "finished_interrupted_rotation": done.rotated.is_none(),
            "rotation": rotated,
            "key_epochs": epochs,
            "vkey_file": done.files.vkey,
            "retired_vkey_file": done.retired_vkey,
            "rotations_file": rotations,
        })
    );
    eprintln!(
        "mig06: the log's key was rotated. Publish to auditors: the new verifier key ({}), the key rotation statements ({}), and the retiring key's final checkpoint above. Then start the rail; remove the retired key from every witness once the rail's first batch is cosigned (docs/OPERATIONS.md, \"Rotating the log's key\").",
        done.files.vkey.display(),
        rotations.display()
    );
    Ok(ExitCode::SUCCESS)
}
