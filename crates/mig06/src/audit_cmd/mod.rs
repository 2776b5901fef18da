//! `mig06 audit ...`: read-only commands for auditors.
//!
//! The decision that matters: every command here reads the log through one checked,
//! read-only view ([`log`]): no lock, no repair, no signature, no private key, so an auditor
//! runs them with the log's public key beside a live rail without disturbing it. The one
//! exception is the operator's `rotate-key` ([`rotate`]), which takes the store's lock and the
//! private key. Each subcommand is one function; this file only names the commands and
//! dispatches them.

mod export;
mod log;
mod proofs;
mod provenance;
mod rotate;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Subcommand, ValueEnum};
use mig06_rail::config::{AuditBackend, Config};

pub(crate) use log::{hex_string, read_vkey};

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check every record, link, the tree, and every stored checkpoint's signature and consistency.
    Verify {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Verify with this verifier key file instead of the configuration's key.
        #[arg(long)]
        pubkey: Option<PathBuf>,
        /// A signed checkpoint kept from earlier (an evidence token's, an earlier run's, another
        /// auditor's, a witness's `GET /<origin hash>/checkpoint`), or a file holding an evidence
        /// token (its checkpoint is used): the log must be consistent with it, so a rollback is
        /// caught.
        #[arg(long)]
        trusted_checkpoint: Option<PathBuf>,
        /// Check only what was appended after this checkpoint, which an earlier run verified
        /// (a note or an evidence token): the log must extend it, and the work is proportional
        /// to the records since (the tree up to it comes from the file store's index or the
        /// PostgreSQL store's nodes, checked against the checkpoint's root). Rules tying a new record to one before the
        /// checkpoint are left to a full `audit verify`.
        #[arg(long, conflicts_with = "trusted_checkpoint")]
        since_checkpoint: Option<PathBuf>,
        /// With --witness-key: the trusted checkpoint must carry a quorum of valid cosignatures
        /// by these witnesses (the log's own files carry none, so it is required).
        #[command(flatten)]
        witnesses: crate::witnesses::WitnessArgs,
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
        #[arg(long, conflicts_with = "from_signing_key")]
        pubkey: Option<PathBuf>,
        /// Derive it from the configured private key instead (the operator, on the rail's
        /// host, recreating a lost `.vkey`); no other auditor command ever opens that key.
        #[arg(long)]
        from_signing_key: bool,
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
    /// The operator's key rotation (file store, rail stopped): end the current key's epoch with a
    /// final checkpoint at the log's size, have the witnesses cosign it and the new key's,
    /// record the rotation statement signed by both keys, and install the new key.
    RotateKey {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Only stage the next key (and print its verifier key to add to the witnesses).
        #[arg(long)]
        prepare: bool,
        /// How long the witnesses may take, in milliseconds.
        #[arg(long, default_value_t = 30_000)]
        timeout_ms: u64,
    },
    /// Rebuild the file store's index (`audit/index.sqlite`) from the log: read and check the
    /// whole log and write the index again. Needs the log's private key (the index is
    /// authenticated with it). Safe while the rail runs.
    Reindex {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
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
pub(crate) enum ProvenanceFormat {
    /// One line per attempt.
    Text,
    /// JSON lines.
    Json,
    /// A Graphviz graph.
    Dot,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ExportFormat {
    /// FHIR R4 AuditEvent (one per attempt) and Provenance (one per continuation link), NDJSON.
    Fhir,
}

/// Runs an auditor command.
///
/// # Errors
/// The configuration, key or log could not be read, or the log does not verify (except for
/// `verify`, which reports that as its answer, exit status 1).
pub(crate) fn run_audit(cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify {
            config,
            pubkey,
            trusted_checkpoint,
            since_checkpoint,
            witnesses,
        } => match since_checkpoint {
            Some(since) => verify::run_since(&config, pubkey.as_deref(), &since),
            None => verify::run(&config, pubkey.as_deref(), trusted_checkpoint, &witnesses),
        },
        AuditCommand::Show {
            config,
            pubkey,
            attempt_id,
        } => show(&config, pubkey.as_deref(), attempt_id.as_deref()),
        AuditCommand::Checkpoint { config, pubkey } => {
            proofs::checkpoint(&config, pubkey.as_deref())
        }
        AuditCommand::Migrate {
            config,
            grant_writer,
            grant_reader,
        } => migrate(&config, grant_writer, grant_reader),
        AuditCommand::Pubkey {
            config,
            pubkey,
            from_signing_key,
        } => {
            let cfg = Config::load(&config)?;
            let verifier = if from_signing_key {
                log::verifier_from_signing_key(&cfg)?
            } else {
                log::verifier_for(&cfg, pubkey.as_deref())?.verifier
            };
            println!("{}", verifier.vkey());
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Prove {
            config,
            pubkey,
            attempt_id,
        } => proofs::prove(&config, pubkey.as_deref(), &attempt_id),
        AuditCommand::Consistency {
            config,
            pubkey,
            old_size,
        } => proofs::consistency(&config, pubkey.as_deref(), old_size),
        AuditCommand::Export {
            config,
            pubkey,
            format: ExportFormat::Fhir,
            output,
        } => export::fhir(&config, pubkey.as_deref(), output),
        AuditCommand::Provenance {
            config,
            pubkey,
            attempt_id,
            format,
        } => provenance::run(&config, pubkey.as_deref(), &attempt_id, format),
        AuditCommand::RotateKey {
            config,
            prepare,
            timeout_ms,
        } => rotate::run(&config, prepare, timeout_ms),
        AuditCommand::Reindex { config } => reindex(&config),
    }
}

/// `mig06 audit reindex`: the file store's index rebuilt from the log.
fn reindex(config: &Path) -> Result<ExitCode> {
    let cfg = mig06_rail::config::Config::load(config)?;
    if !matches!(cfg.audit, mig06_rail::config::AuditBackend::File) {
        bail!("only the file store keeps an index; a log in PostgreSQL needs no reindex");
    }
    let signer = mig06_rail::rail::load_signer(&cfg)?;
    let dir = mig06_rail::rail::audit_dir(&cfg);
    let report = mig06_rail::audit::file::FileStore::reindex(&dir, signer)
        .map_err(|e| anyhow::anyhow!("the index was not rebuilt: {e}"))?;
    println!(
        "{}",
        serde_json::json!({"ok": true, "records": report.records, "index": dir.join(mig06_rail::audit::file::index::INDEX_FILE)})
    );
    Ok(ExitCode::SUCCESS)
}

/// `mig06 audit show`: the records (all, or one attempt's) as the exact lines of the log.
fn show(config: &Path, pubkey: Option<&Path>, attempt_id: Option<&str>) -> Result<ExitCode> {
    use std::io::Write as _;
    let (_, records) = log::checked_log(config, pubkey)?;
    let mut found = false;
    let mut out = std::io::stdout().lock();
    for (line, rec) in &records {
        if attempt_id.is_none_or(|id| rec.attempt_id.as_str() == id) {
            match writeln!(out, "{line}") {
                Ok(()) => {}
                // The reader stopped (`| head`): what it read is what it wanted.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => return Err(e.into()),
            }
            found = true;
        }
    }
    if !found && attempt_id.is_some() {
        bail!("no records for that attempt id");
    }
    Ok(ExitCode::SUCCESS)
}

/// `mig06 audit migrate`: the PostgreSQL schema, as its owner, with optional grants.
fn migrate(
    config: &Path,
    grant_writer: Option<String>,
    grant_reader: Option<String>,
) -> Result<ExitCode> {
    let cfg = Config::load(config)?;
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
