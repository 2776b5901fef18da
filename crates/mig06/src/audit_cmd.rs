//! `mig06 audit ...` and `mig06 evidence ...`: read-only commands for auditors.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mig06_rail::audit::file::{FileStore, read_records};
use mig06_rail::audit::{Appended, AuditRecord, RecordKind};
use mig06_rail::config::Config;
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
    },
    /// Print records (all, or one attempt's) as JSON lines.
    Show {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Only this attempt's records.
        attempt_id: Option<String>,
    },
    /// Print the latest signed checkpoint.
    Checkpoint {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Print the log's verifier (public) key.
    Pubkey {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Print an attempt's evidence token against the current tree.
    Prove {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The attempt.
        attempt_id: String,
    },
    /// Print a consistency proof from OLD_SIZE to the current tree, with both checkpoints.
    Consistency {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The older tree size.
        old_size: u64,
    },
    /// Export the log for a hospital audit repository (FHIR R4 AuditEvent + Provenance, NDJSON).
    Export {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
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

fn open_store(config: &std::path::Path) -> Result<(Config, FileStore)> {
    let cfg = Config::load(config)?;
    let signer = load_signer(&cfg)?;
    let store = FileStore::open(&audit_dir(&cfg), signer)?;
    if store.open_report().torn_tail_cut > 0 {
        eprintln!(
            "mig06: audit log: cut a torn tail of {} bytes (an append that was never confirmed)",
            store.open_report().torn_tail_cut
        );
    }
    Ok((cfg, store))
}

fn read_vkey(path: &std::path::Path) -> Result<LogVerifier> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(LogVerifier::parse(text.trim())?)
}

pub fn run_audit(cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify { config, pubkey } => {
            let cfg = Config::load(&config)?;
            let verifier = match pubkey {
                Some(p) => read_vkey(&p)?,
                None => load_signer(&cfg)?.verifier(),
            };
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
            let result = mig06_rail::audit::verify::verify_dir(
                &audit_dir(&cfg),
                &verifier,
                &mut |done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                },
            );
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
                        })
                    );
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
        AuditCommand::Show { config, attempt_id } => {
            let cfg = Config::load(&config)?;
            let records = read_records(&audit_dir(&cfg))?;
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
        AuditCommand::Checkpoint { config } => {
            let (_, store) = open_store(&config)?;
            print!("{}", store.signed_checkpoint(store.size())?);
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Pubkey { config } => {
            let cfg = Config::load(&config)?;
            println!("{}", load_signer(&cfg)?.verifier().vkey());
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Prove { config, attempt_id } => {
            let (cfg, store) = open_store(&config)?;
            let records = read_records(&audit_dir(&cfg))?;
            let Some((index, (line, rec))) = records.iter().enumerate().find(|(_, (_, r))| {
                r.attempt_id.as_str() == attempt_id && r.kind == RecordKind::Terminal
            }) else {
                bail!("no terminal record for that attempt id");
            };
            let size = store.size();
            let index = index as u64;
            let appended = Appended {
                index,
                leaf_hash: mig06_rail::tlog::leaf_hash(line.as_bytes()),
                bytes: line.as_bytes().to_vec(),
                proof: store.tree().inclusion_proof(index, size)?,
                checkpoint: Some(store.signed_checkpoint(size)?),
                record: rec.clone(),
            };
            let token = mig06_rail::evidence::encode(&appended)
                .context("the evidence has no signed checkpoint")?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Consistency { config, old_size } => {
            let (_, store) = open_store(&config)?;
            let size = store.size();
            if old_size > size {
                bail!("old size {old_size} is larger than the log ({size} records)");
            }
            let proof = store.tree().consistency_proof(old_size, size)?;
            println!(
                "{}",
                serde_json::json!({
                    "old_size": old_size,
                    "new_size": size,
                    "old_checkpoint": store.signed_checkpoint(old_size)?,
                    "new_checkpoint": store.signed_checkpoint(size)?,
                    "proof": proof.iter().map(hex_string).collect::<Vec<_>>(),
                })
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export {
            config,
            format: ExportFormat::Fhir,
            output,
        } => {
            let cfg = Config::load(&config)?;
            let records: Vec<AuditRecord> = read_records(&audit_dir(&cfg))?
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
            attempt_id,
            format,
        } => {
            let cfg = Config::load(&config)?;
            let records = read_records(&audit_dir(&cfg))?;
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
        .filter(|r| r.kind == RecordKind::Terminal && r.chain_root == root)
        .collect();
    chain.sort_by_key(|r| (r.depth, r.seq));
    Ok(chain)
}

fn print_chain(chain: &[&AuditRecord], format: ProvenanceFormat) {
    match format {
        ProvenanceFormat::Text => {
            for r in chain {
                let code = r.code.map_or("?", |c| c.as_str());
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
                        "attempt_id": r.attempt_id, "code": r.code, "depth": r.depth,
                        "continues": r.continues, "chain_root": r.chain_root, "reason": r.reason,
                    })
                );
            }
        }
        ProvenanceFormat::Dot => {
            println!("digraph provenance {{\n  rankdir=LR;\n  node [shape=box];");
            for r in chain {
                let code = r.code.map_or("?", |c| c.as_str());
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
