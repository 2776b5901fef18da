//! `mig06 audit verify`: every record, link, the tree, and every stored checkpoint.
//!
//! The decision that matters: a log that does not verify is this command's answer, not its
//! error: it prints `{"ok": false, …}` naming the first bad record and exits 1, so an auditor's
//! script can tell "the log is bad" from "the log could not be read" only by the JSON, and both
//! fail the run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use mig06_rail::audit::ledger::{LogFault, fault};
use mig06_rail::audit::verify::{self, VerifyReport};
use mig06_rail::config::Config;
use mig06_rail::tlog::cosignature::{Quorum, verify_quorum_at};
use mig06_rail::tlog::rotation::{CheckpointKeys, LogKeys};

use super::log::{hex_string, open_view, verifier_for, what_to_do};
use crate::witnesses::{WitnessArgs, unix_now};

/// Verifies the configured log, against `trusted_checkpoint` too when one is given.
///
/// # Errors
/// The configuration, key or kept checkpoint could not be read, or the log could not be read at
/// all; a log that reads and does not verify is reported, exit status 1.
pub(super) fn run(
    config: &Path,
    pubkey: Option<&Path>,
    trusted_checkpoint: Option<PathBuf>,
    witness_args: &WitnessArgs,
) -> Result<ExitCode> {
    let cfg = Config::load(config)?;
    let key = verifier_for(&cfg, pubkey)?;
    let verifier = &key.verifier;
    let witnesses = witness_args.load()?;
    if witnesses.is_some() && trusted_checkpoint.is_none() {
        bail!(
            "--witness-key needs --trusted-checkpoint FILE: the cosigned checkpoint to check (an evidence token's, or a witness's `GET /<origin hash>/checkpoint`); the log's own checkpoint files carry no cosignatures"
        );
    }
    let trusted = trusted_checkpoint
        .map(|p| {
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))
        })
        .transpose()?;
    let bar = progress_bar();
    // The trusted checkpoint (a note, or an evidence token's, verified first) is verified with
    // the log's key schedule (a checkpoint kept before a key rotation is signed by the key then
    // in force), so after the log is read; with witnesses, its cosignatures by the one quorum
    // check, against the key that signed it.
    let mut quorum = None;
    let result = open_view(&cfg, verifier, &mut |_, _, _| {}, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?
    .and_then(|view| {
        let keys = view.ledger().keys();
        let trusted = trusted
            .as_deref()
            .map(|text| {
                let note = trusted_note(text, keys)?;
                if let Some(w) = &witnesses {
                    let (_, key) = keys
                        .verify_checkpoint(&note)
                        .map_err(|e| fault(None, format!("the trusted checkpoint: {e}")))?;
                    let q = verify_quorum_at(&note, key, &w.keys, w.quorum, unix_now()).map_err(
                        |e| fault(None, format!("the trusted checkpoint: witnesses: {e}")),
                    )?;
                    quorum = Some((w.quorum, q));
                }
                verify::trusted_checkpoint(&note, keys)
            })
            .transpose()?;
        verify::verify_view(&view, trusted.as_ref())
    });
    bar.finish_and_clear();
    match result {
        Ok(r) => {
            print_report(&r, quorum.as_ref());
            Ok(ExitCode::SUCCESS)
        }
        Err(f) => {
            print_fault(&f, &what_to_do(&cfg, &key));
            Ok(ExitCode::from(1))
        }
    }
}

/// Verifies what was appended to the configured log since a checkpoint an earlier run verified.
///
/// # Errors
/// As [`run`].
pub(super) fn run_since(config: &Path, pubkey: Option<&Path>, since: &Path) -> Result<ExitCode> {
    let cfg = Config::load(config)?;
    let key = verifier_for(&cfg, pubkey)?;
    let text = std::fs::read_to_string(since)
        .with_context(|| format!("cannot read {}", since.display()))?;
    let bar = progress_bar();
    let mut progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let result = match &cfg.audit {
        mig06_rail::config::AuditBackend::File => {
            let dir = mig06_rail::rail::audit_dir(&cfg);
            mig06_rail::audit::file::read_keys(&dir, &key.verifier)
                .and_then(|keys| trusted_note(&text, &keys))
                .and_then(|note| verify::verify_since(&dir, &key.verifier, &note, &mut progress))
        }
        mig06_rail::config::AuditBackend::Postgres(pg) => {
            // PostgreSQL logs have one key (no rotation).
            let keys = LogKeys::from(key.verifier.clone());
            let trusted = trusted_note(&text, &keys)
                .and_then(|note| verify::trusted_checkpoint(&note, &keys));
            match trusted {
                Err(f) => Err(f),
                Ok(cp) => {
                    match mig06_audit_pg::read_view_since(pg, &key.verifier, &cp, &mut progress) {
                        Ok((view, from)) => {
                            verify::verify_view(&view, Some(&cp)).map(|mut report| {
                                report.from = from;
                                report
                            })
                        }
                        Err(mig06_audit_pg::PgError::Log(f)) => Err(f),
                        Err(e) => {
                            bar.finish_and_clear();
                            return Err(e.into());
                        }
                    }
                }
            }
        }
    };
    bar.finish_and_clear();
    match result {
        Ok(r) => {
            print_report(&r, None);
            Ok(ExitCode::SUCCESS)
        }
        Err(f) => {
            print_fault(&f, &what_to_do(&cfg, &key));
            Ok(ExitCode::from(1))
        }
    }
}

/// A byte-count progress bar on a terminal, nothing otherwise.
fn progress_bar() -> ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(0);
    b.set_style(
        ProgressStyle::with_template("verifying {bar:40} {bytes}/{total_bytes} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b
}

/// The checkpoint note of a trusted checkpoint file: the note itself, or the checkpoint of an
/// evidence token, which must verify with the log's key first.
fn trusted_note(text: &str, keys: &LogKeys) -> Result<String, LogFault> {
    let text = text.trim_start();
    if text.starts_with(mig06_rail::evidence::PREFIX) {
        mig06_rail::evidence::verify(text.trim(), keys)
            .map(|v| v.checkpoint)
            .map_err(|e| {
                fault(
                    None,
                    format!("the trusted checkpoint's evidence token: {e}"),
                )
            })
    } else {
        Ok(text.to_owned())
    }
}

/// The report of a log that verifies, and notes on what it does not yet cover.
fn print_report(r: &VerifyReport, quorum: Option<&(usize, Quorum)>) {
    let mut out = serde_json::json!({
            "ok": true,
            "records": r.records,
            "checkpoints_verified": r.checkpoints,
            "root": hex_string(&r.root),
            "latest_checkpoint_size": r.latest_size,
            "uncovered": {
                "records": r.uncovered.count(),
                "open": r.uncovered.open,
                "terminal": r.uncovered.terminal,
            },
            "torn_tail_bytes": r.torn_tail,
            "overdue_open_records": r.overdue_open,
            "checked_from_record": r.from,
            "key_epochs": r.keys.epochs().iter().map(|e| serde_json::json!({
                "epoch": e.number,
                "from_size": e.from,
                "until_size": e.until,
                "vkey": e.key.vkey(),
            })).collect::<Vec<_>>(),
    });
    if let (Some((k, q)), Some(obj)) = (quorum, out.as_object_mut()) {
        obj.insert(
            "witnessed".into(),
            serde_json::json!({
                "checkpoint_size": q.checkpoint.size,
                "witness_quorum": k,
                "cosigners": crate::witnesses::cosigners_json(q),
            }),
        );
    }
    println!("{out}");
    if r.overdue_open > 0 {
        eprintln!(
            "mig06: {} open records are past their deadline with no terminal record (their process stopped); the rail ends them ABORTED_INTERRUPTED when it next writes",
            r.overdue_open
        );
    }
    if r.uncovered.count() > 0 {
        eprintln!(
            "mig06: {} records ({} open, {} terminal) are past the latest signed checkpoint; each carries a valid signature of its own, and the rail covers them when it next opens the log",
            r.uncovered.count(),
            r.uncovered.open,
            r.uncovered.terminal
        );
    }
}

/// The report of a log that does not verify, and what to do about it.
fn print_fault(f: &LogFault, what_to_do: &str) {
    println!(
        "{}",
        serde_json::json!({"ok": false, "first_bad_record": f.first_bad_record, "error": f.message, "next_step": what_to_do})
    );
    eprintln!("mig06: audit verify FAILED: {}; {what_to_do}", f.message);
}
