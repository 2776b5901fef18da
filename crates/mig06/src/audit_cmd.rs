//! `mig06 audit ...` and `mig06 evidence ...`: read-only commands for auditors.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mig06_rail::audit::ledger::{LogFault, LogView};
use mig06_rail::audit::verify;
use mig06_rail::audit::{Appended, AuditRecord, RecordKind};
use mig06_rail::config::{AuditBackend, Config};
use mig06_rail::rail::{audit_dir, load_signer};
use mig06_rail::tlog::checkpoint::LogVerifier;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every record, link, the tree, and every stored checkpoint's signature and consistency.
    Verify {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Verify with this verifier key file instead of the configuration's key.
        #[arg(long)]
        pubkey: Option<PathBuf>,
        /// A signed checkpoint kept from earlier (an evidence token's, an earlier run's, another
        /// auditor's): the log must be consistent with it, so a rollback is caught.
        #[arg(long)]
        trusted_checkpoint: Option<PathBuf>,
    },
    /// Print records (all, or one attempt's) as JSON lines.
    Show {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The log's verifier key file (default: the configuration's `.vkey` beside its key).
        #[arg(long)]
        pubkey: Option<PathBuf>,
        /// Only this attempt's records.
        attempt_id: Option<String>,
    },
    /// Print the latest signed checkpoint.
    Checkpoint {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The log's verifier key file (default: the configuration's `.vkey` beside its key).
        #[arg(long)]
        pubkey: Option<PathBuf>,
    },
    /// Print the log's verifier (public) key.
    Pubkey {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The log's verifier key file (default: the configuration's `.vkey` beside its key).
        #[arg(long)]
        pubkey: Option<PathBuf>,
    },
    /// Create or upgrade the PostgreSQL audit schema (`[audit] backend = "postgres"`), as the
    /// schema's owner; optionally grant the rail's writer role and an auditors' reader role.
    Migrate {
        /// The configuration file (its `[audit]` URL, here an owner's).
        #[arg(long)]
        config: PathBuf,
        /// The role the rail connects as: SELECT and INSERT, UPDATE on the head row only.
        #[arg(long)]
        grant_writer: Option<String>,
        /// An auditors' role: SELECT only.
        #[arg(long)]
        grant_reader: Option<String>,
    },
    /// Print an attempt's evidence token against the current tree.
    Prove {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The log's verifier key file (default: the configuration's `.vkey` beside its key).
        #[arg(long)]
        pubkey: Option<PathBuf>,
        /// The attempt.
        attempt_id: String,
    },
    /// Print a consistency proof from OLD_SIZE to the current tree, with both checkpoints.
    Consistency {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The log's verifier key file (default: the configuration's `.vkey` beside its key).
        #[arg(long)]
        pubkey: Option<PathBuf>,
        /// The older tree size.
        old_size: u64,
    },
    /// Export the log for a hospital audit repository (FHIR R4 AuditEvent + Provenance, NDJSON).
    Export {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The log's verifier key file (default: the configuration's `.vkey` beside its key).
        #[arg(long)]
        pubkey: Option<PathBuf>,
        /// Export format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Fhir)]
        format: ExportFormat,
        /// Write to this file instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Print an attempt's continuation chain from root to tip.
    Provenance {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The log's verifier key file (default: the configuration's `.vkey` beside its key).
        #[arg(long)]
        pubkey: Option<PathBuf>,
        /// Any attempt of the chain.
        attempt_id: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ProvenanceFormat::Text)]
        format: ProvenanceFormat,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProvenanceFormat {
    /// One line per attempt.
    Text,
    /// JSON lines.
    Json,
    /// A Graphviz graph.
    Dot,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// FHIR R4 AuditEvent (one per attempt) and Provenance (one per continuation link), NDJSON.
    Fhir,
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Verify an evidence token offline with the log's verifier key.
    Verify {
        /// The log's verifier key file (`mig06 audit pubkey`).
        #[arg(long)]
        pubkey: PathBuf,
        /// The token (or - to read it from stdin).
        token: String,
    },
}

/// The log's verifier: `--pubkey`, else the `.vkey` file beside the configured signing key
/// (`mig06 init` writes both), else derived from the signing key when only that exists.
/// Auditors need only the public key.
fn verifier_for(cfg: &Config, pubkey: Option<&std::path::Path>) -> Result<LogVerifier> {
    if let Some(p) = pubkey {
        return read_vkey(p);
    }
    let beside = cfg.signing_key.with_extension("vkey");
    if beside.exists() {
        return read_vkey(&beside);
    }
    Ok(load_signer(cfg)?.verifier())
}

/// The checked, read-only view of the configured log and its records: no lock, no repair, no
/// signature, no private key.
fn checked_log(
    config: &std::path::Path,
    pubkey: Option<&std::path::Path>,
) -> Result<(LogView, Vec<(String, AuditRecord)>)> {
    let cfg = Config::load(config)?;
    let verifier = verifier_for(&cfg, pubkey)?;
    let mut records = Vec::new();
    let view = open_view(
        &cfg,
        &verifier,
        &mut |_, line, record| {
            records.push((String::from_utf8_lossy(line).into_owned(), record.clone()));
        },
        &mut |_, _| {},
    )?
    .map_err(|f| anyhow::anyhow!("the audit log does not verify: {f}; run `mig06 audit verify`"))?;
    if view.torn_tail() > 0 {
        eprintln!(
            "mig06: audit log: a torn tail of {} bytes (an append that was never confirmed) is ignored",
            view.torn_tail()
        );
    }
    Ok((view, records))
}

/// Reads and checks the configured log, wherever it is kept, read-only. The outer error: the
/// log could not be read at all (the database unreachable, no schema); the inner one: it was
/// read and does not check out.
fn open_view(
    cfg: &Config,
    verifier: &LogVerifier,
    on_record: &mut dyn FnMut(u64, &[u8], &AuditRecord),
    progress: &mut dyn FnMut(u64, u64),
) -> Result<std::result::Result<LogView, LogFault>> {
    match &cfg.audit {
        AuditBackend::File => Ok(LogView::open(
            &audit_dir(cfg),
            verifier,
            on_record,
            progress,
        )),
        AuditBackend::Postgres(pg) => {
            match mig06_audit_pg::read_view(pg, verifier, on_record, progress) {
                Ok(view) => Ok(Ok(view)),
                Err(mig06_audit_pg::PgError::Log(f)) => Ok(Err(f)),
                Err(e) => Err(e.into()),
            }
        }
    }
}

fn read_vkey(path: &std::path::Path) -> Result<LogVerifier> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(LogVerifier::parse(text.trim())?)
}

pub fn run_audit(cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify {
            config,
            pubkey,
            trusted_checkpoint,
        } => {
            let cfg = Config::load(&config)?;
            let verifier = verifier_for(&cfg, pubkey.as_deref())?;
            let trusted = trusted_checkpoint
                .map(|p| {
                    std::fs::read_to_string(&p)
                        .with_context(|| format!("cannot read {}", p.display()))
                })
                .transpose()?;
            let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                let b = ProgressBar::new(0);
                b.set_style(
                    ProgressStyle::with_template("verifying {bar:40} {bytes}/{total_bytes} {eta}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                b
            } else {
                ProgressBar::hidden()
            };
            let trusted = trusted
                .as_deref()
                .map(|note| verify::trusted_checkpoint(note, &verifier))
                .transpose();
            let result = match trusted {
                Ok(trusted) => {
                    open_view(&cfg, &verifier, &mut |_, _, _| {}, &mut |done, total| {
                        bar.set_length(total);
                        bar.set_position(done);
                    })?
                    .and_then(|view| verify::verify_view(&view, trusted.as_ref()))
                }
                Err(f) => Err(f),
            };
            bar.finish_and_clear();
            match result {
                Ok(r) => {
                    println!(
                        "{}",
                        serde_json::json!({
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
                        })
                    );
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
                    Ok(ExitCode::SUCCESS)
                }
                Err(f) => {
                    println!(
                        "{}",
                        serde_json::json!({"ok": false, "first_bad_record": f.first_bad_record, "error": f.message})
                    );
                    eprintln!("mig06: audit verify FAILED: {}", f.message);
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCommand::Show {
            config,
            pubkey,
            attempt_id,
        } => {
            let (_, records) = checked_log(&config, pubkey.as_deref())?;
            let mut found = false;
            for (line, rec) in &records {
                if attempt_id
                    .as_deref()
                    .is_none_or(|id| rec.attempt_id.as_str() == id)
                {
                    println!("{line}");
                    found = true;
                }
            }
            if !found && attempt_id.is_some() {
                bail!("no records for that attempt id");
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Checkpoint { config, pubkey } => {
            let (view, _) = checked_log(&config, pubkey.as_deref())?;
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
        AuditCommand::Migrate {
            config,
            grant_writer,
            grant_reader,
        } => {
            let cfg = Config::load(&config)?;
            let AuditBackend::Postgres(pg) = &cfg.audit else {
                bail!(
                    "{}: [audit] backend is \"file\"; migrate applies to backend = \"postgres\"",
                    config.display()
                );
            };
            let grants = mig06_audit_pg::Grants {
                writer: grant_writer,
                reader: grant_reader,
            };
            let report = mig06_audit_pg::migrate(pg, &grants)?;
            println!(
                "{}",
                serde_json::json!({"ok": true, "from_version": report.from, "schema_version": report.to})
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Pubkey { config, pubkey } => {
            let cfg = Config::load(&config)?;
            println!("{}", verifier_for(&cfg, pubkey.as_deref())?.vkey());
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Prove {
            config,
            pubkey,
            attempt_id,
        } => {
            let (view, records) = checked_log(&config, pubkey.as_deref())?;
            let Some((index, (line, rec))) = records.iter().enumerate().find(|(_, (_, r))| {
                r.attempt_id.as_str() == attempt_id && r.kind() == RecordKind::Terminal
            }) else {
                bail!("no terminal record for that attempt id");
            };
            let index = index as u64;
            let Some((note, cp)) = view.latest().filter(|(_, cp)| cp.size > index) else {
                bail!(
                    "record {index} is not yet covered by a signed checkpoint; the rail covers it when it next opens the log"
                );
            };
            let appended = Appended {
                index,
                leaf_hash: mig06_rail::tlog::leaf_hash(line.as_bytes()),
                bytes: line.as_bytes().to_vec(),
                proof: view.ledger().tree().inclusion_proof(index, cp.size)?,
                checkpoint: Some(note.clone()),
                record: rec.clone(),
            };
            let token = mig06_rail::evidence::encode(&appended)
                .context("the evidence has no signed checkpoint")?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Consistency {
            config,
            pubkey,
            old_size,
        } => {
            let (view, _) = checked_log(&config, pubkey.as_deref())?;
            let Some((note, cp)) = view.latest() else {
                bail!("the log has no signed checkpoint yet");
            };
            let size = cp.size;
            if old_size > size {
                bail!(
                    "old size {old_size} is larger than the latest signed checkpoint ({size} records)"
                );
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
        AuditCommand::Export {
            config,
            pubkey,
            format: ExportFormat::Fhir,
            output,
        } => {
            let records: Vec<AuditRecord> = checked_log(&config, pubkey.as_deref())?
                .1
                .into_iter()
                .map(|(_, r)| r)
                .collect();
            let stats = match output {
                Some(path) => {
                    let mut f = std::io::BufWriter::new(
                        std::fs::File::create(&path)
                            .with_context(|| format!("cannot create {}", path.display()))?,
                    );
                    let stats = mig06_rail::fhir::export_ndjson(&records, &mut f)?;
                    std::io::Write::flush(&mut f)?;
                    stats
                }
                None => {
                    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                    let stats = mig06_rail::fhir::export_ndjson(&records, &mut out)?;
                    std::io::Write::flush(&mut out)?;
                    stats
                }
            };
            eprintln!(
                "mig06: exported {} AuditEvent and {} Provenance resources ({} attempts without a terminal record skipped)",
                stats.audit_events, stats.provenances, stats.unterminated
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Provenance {
            config,
            pubkey,
            attempt_id,
            format,
        } => {
            let (_, records) = checked_log(&config, pubkey.as_deref())?;
            let chain = provenance_chain(&records, &attempt_id)?;
            print_chain(&chain, format);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn hex_string(h: &[u8; 32]) -> String {
    mig06_rail::audit::hash_hex(h)
}

/// The terminal records of the chain that `attempt_id` belongs to, root first.
fn provenance_chain<'a>(
    records: &'a [(String, AuditRecord)],
    attempt_id: &str,
) -> Result<Vec<&'a AuditRecord>> {
    let Some(root) = records
        .iter()
        .find(|(_, r)| r.attempt_id.as_str() == attempt_id)
        .map(|(_, r)| r.chain_root.clone())
    else {
        bail!("no records for that attempt id");
    };
    let mut chain: Vec<&AuditRecord> = records
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r.kind() == RecordKind::Terminal && r.chain_root == root)
        .collect();
    chain.sort_by_key(|r| (r.depth, r.seq));
    Ok(chain)
}

fn print_chain(chain: &[&AuditRecord], format: ProvenanceFormat) {
    match format {
        ProvenanceFormat::Text => {
            for r in chain {
                let code = r.code().map_or("?", |c| c.as_str());
                let cont = r
                    .continues
                    .as_ref()
                    .map_or_else(String::new, |c| format!(" continues {c}"));
                let reason = r
                    .reason
                    .map_or_else(String::new, |x| format!(" ({})", x.as_str()));
                println!(
                    "depth {} {} {}{}{}",
                    r.depth, r.attempt_id, code, cont, reason
                );
            }
        }
        ProvenanceFormat::Json => {
            for r in chain {
                println!(
                    "{}",
                    serde_json::json!({
                        "attempt_id": r.attempt_id, "code": r.code(), "depth": r.depth,
                        "continues": r.continues, "chain_root": r.chain_root, "reason": r.reason,
                    })
                );
            }
        }
        ProvenanceFormat::Dot => {
            println!("digraph provenance {{\n  rankdir=LR;\n  node [shape=box];");
            for r in chain {
                let code = r.code().map_or("?", |c| c.as_str());
                println!(
                    "  \"{}\" [label=\"{}\\n{}\\ndepth {}\"];",
                    r.attempt_id, r.attempt_id, code, r.depth
                );
            }
            for r in chain {
                if let Some(c) = &r.continues {
                    let reason = r.reason.map_or("", |x| x.as_str());
                    println!(
                        "  \"{}\" -> \"{}\" [label=\"{}\"];",
                        c, r.attempt_id, reason
                    );
                }
            }
            println!("}}");
        }
    }
}

pub fn run_evidence(cmd: EvidenceCommand) -> Result<ExitCode> {
    match cmd {
        EvidenceCommand::Verify { pubkey, token } => {
            let verifier = read_vkey(&pubkey)?;
            let token = if token == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
                s
            } else {
                token
            };
            match mig06_rail::evidence::verify(token.trim(), &verifier) {
                Ok(v) => {
                    println!(
                        "{}",
                        serde_json::json!({
                            "valid": true,
                            "attempt_id": v.attempt_id(),
                            "code": v.code,
                            "request_fingerprint": v.fingerprint(),
                            "leaf_index": v.index,
                            "leaf_hash": hex_string(&v.leaf_hash),
                            "tree_size": v.tree_size,
                            "root": hex_string(&v.root),
                        })
                    );
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
