//! `mig06 witness ...`: a small, conforming C2SP tlog-witness (docs/WITNESS.md).
//!
//! The decision that matters: everything a witness decides (the request's strict parse, the log
//! signature, the old size, the consistency proof, the cosignature, the durable state under its
//! lock) is `mig06-witness`'s [`Witness`](mig06_witness::Witness), the same code the rail's tests
//! run in process. This module only lays out the witness's directory, reads its configuration,
//! and puts that witness behind HTTP with `mig06 serve`'s connection loop ([`http`]). A witness
//! shares nothing with a rail: its own key, its own configuration, its own state directory.

mod dir;
mod http;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use crate::serve::oplog::LogFormat;

#[derive(Debug, Subcommand)]
pub(crate) enum WitnessCommand {
    /// Create a witness in DIR: an Ed25519 key pair (DIR/witness.key, mode 0600, and
    /// DIR/witness.vkey), a configuration listing the logs it accepts (DIR/witness.toml, none
    /// yet) and its state directory (DIR/state).
    Init {
        /// The witness directory (created if missing; an existing witness is never overwritten).
        dir: PathBuf,
        /// The witness's name: a schema-less URL you control (e.g. witness.example.org/w1).
        /// Default: a random name under mig06.invalid.
        #[arg(long)]
        name: Option<String>,
    },
    /// Accept a log: add its verifier key (`mig06 audit pubkey` prints it) to DIR/witness.toml.
    /// Restart `mig06 witness serve` to apply.
    AddLog {
        /// The witness directory.
        dir: PathBuf,
        /// The log's verifier key (`origin+keyid+base64`), or a file holding it.
        vkey: String,
    },
    /// Print the witness's verifier key (C2SP cosignature/v1, type 0x04): the `vkey` of the
    /// rail's `[[audit.witnesses]]` entry for this witness.
    Vkey {
        /// The witness directory.
        dir: PathBuf,
    },
    /// Serve C2SP tlog-witness: POST /add-checkpoint, and GET /<origin hash>/checkpoint (the
    /// latest checkpoint cosigned for a log, by the lowercase hex SHA-256 of its origin).
    /// One process per witness directory (it is locked). Stops on SIGTERM/SIGINT.
    Serve {
        /// The witness directory.
        dir: PathBuf,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8407")]
        listen: SocketAddr,
        /// The operations log's format on stderr: JSON lines (default) or text.
        #[arg(long, value_enum, default_value = "json")]
        log_format: LogFormat,
        /// The operations log's level or filter; default: `RUST_LOG` when set, else `info`.
        #[arg(long)]
        log_level: Option<String>,
    },
}

/// Runs a witness command.
///
/// # Errors
/// The directory, key or configuration could not be read or written, or the server could not
/// start.
pub(crate) fn run(cmd: WitnessCommand) -> Result<ExitCode> {
    match cmd {
        WitnessCommand::Init { dir, name } => {
            let report = dir::init(&dir, name.as_deref())?;
            println!("wrote {}", report.config.display());
            println!("witness verifier key: {}", report.vkey);
            println!(
                "next: `mig06 witness add-log {} <log vkey>` for each log it witnesses, then `mig06 witness serve {}`",
                dir.display(),
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        WitnessCommand::AddLog { dir, vkey } => {
            let added = dir::add_log(&dir, &vkey)?;
            if added.new {
                println!(
                    "accepted log {} ({}); restart `mig06 witness serve` to apply",
                    added.origin, added.key_name
                );
            } else {
                println!(
                    "log {} ({}) was already accepted",
                    added.origin, added.key_name
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        WitnessCommand::Vkey { dir } => {
            println!("{}", dir::load_signer(&dir)?.verifier().vkey());
            Ok(ExitCode::SUCCESS)
        }
        WitnessCommand::Serve {
            dir,
            listen,
            log_format,
            log_level,
        } => http::run(&dir, listen, (log_format, log_level.as_deref())),
    }
}
