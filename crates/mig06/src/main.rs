//! `mig06`: the MIG-06 rail's command line. Thin by design: parse arguments, call the library,
//! map the outcome to an exit status and a JSON document.
//!
//! Exit statuses: 0 `COMPLETED_*` (or a command that succeeded), 2 `DENIED_*`, 3 `ABORTED_*`,
//! 1 usage, configuration or verification error. Clap's own usage status (2) is never used,
//! because 2 means "denied" here.

mod audit_cmd;
mod caller_cmd;
mod demo;
mod evidence_cmd;
mod scan_cmd;
mod serve;
mod tls;
mod witness_cmd;
mod witnesses;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use mig06_rail::audit::file::OpenReport;
use mig06_rail::config::{AuditBackend, Config, ExecutorConfig};
use mig06_rail::executor::Executor;
use mig06_rail::outcome::{CodeClass, Outcome, TerminalCode};
use mig06_rail::rail::Rail;

/// The MIG-06 governance rail.
#[derive(Debug, Parser)]
#[command(name = "mig06", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a working set-up: DIR/mig06.toml, an example policy bundle, a log key, a data dir.
    Init {
        /// The directory to set up.
        dir: PathBuf,
        /// The log's permanent name: a schema-less URL your organisation controls
        /// (e.g. audit.hospital.example/mig06/1). Witnesses know the log by it. Default: a
        /// random name under mig06.invalid.
        #[arg(long)]
        origin: Option<String>,
    },
    /// Run one attempt and print its outcome as JSON.
    Attempt {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The approved caller to act as.
        #[arg(long)]
        caller: String,
        /// The request JSON file, or - for stdin.
        #[arg(long)]
        request: String,
    },
    /// Read and verify the audit log.
    Audit {
        #[command(subcommand)]
        command: audit_cmd::AuditCommand,
    },
    /// Evidence tokens.
    Evidence {
        #[command(subcommand)]
        command: evidence_cmd::EvidenceCommand,
    },
    /// The policy bundle.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Print the fixed operator explanation of a terminal code (or all codes).
    Explain {
        /// A terminal code (DENIED_POLICY) or a reason code (duplicate_member), in any case;
        /// omit to list the terminal codes.
        code: Option<String>,
    },
    /// Scan JSON lines {"text": ...} (or plain lines) for PHI; one verdict per line, no echo.
    Scan {
        /// Read plain text lines instead of JSON lines.
        #[arg(long)]
        lines: bool,
    },
    /// Serve the HTTP API: POST /v1/attempts (bearer credential), GET /v1/health, GET /metrics,
    /// GET /v1/openapi.json. Stops on SIGTERM/SIGINT after in-flight attempts finish.
    Serve {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8406")]
        listen: std::net::SocketAddr,
        /// Serve HTTPS with this PEM certificate chain (needs --tls-key). Clients are asked for
        /// a certificate; callers with `client_cert_sha256` must present that one.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Attempts running at once; a request beyond it gets 503 at once, with no attempt and
        /// no record. Overrides `[server] max_in_flight`; default 32 per CPU (32 to 512).
        #[arg(long)]
        max_in_flight: Option<usize>,
        /// The operations log's format on stderr: JSON lines (default) or text.
        #[arg(long, value_enum, default_value = "json")]
        log_format: serve::oplog::LogFormat,
        /// The operations log's level or filter (`error`, `warn`, `info`, `debug`, or a
        /// `RUST_LOG`-style directive); default: `RUST_LOG` when set, else `info`.
        #[arg(long)]
        log_level: Option<String>,
    },
    /// Approved callers in the configuration file.
    Caller {
        #[command(subcommand)]
        command: caller_cmd::CallerCommand,
    },
    /// A C2SP tlog-witness for this (or any conforming) log: init, add-log, vkey, serve
    /// (docs/WITNESS.md).
    Witness {
        #[command(subcommand)]
        command: witness_cmd::WitnessCommand,
    },
    /// Init a temporary set-up, run a scripted set of attempts, verify the log, remove the set-up.
    Demo {
        /// Keep the set-up in this directory instead of a temporary one.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Validate the bundle strictly and print its digest (and whether it matches the pin).
    Check {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    // A panic message could quote data from a dependency; never print it.
    std::panic::set_hook(Box::new(|_| {
        eprintln!("mig06: internal error; the current attempt fails closed (ABORTED_INVARIANT)");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(1),
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mig06: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs the parsed command; each arm hands its arguments to the one function for it.
fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Init { dir, origin } => init(&dir, origin.as_deref()),
        Command::Attempt {
            config,
            caller,
            request,
        } => attempt(&config, &caller, &request),
        Command::Audit { command } => audit_cmd::run_audit(command),
        Command::Evidence { command } => evidence_cmd::run(command),
        Command::Policy {
            command: PolicyCommand::Check { config },
        } => policy_check(&config),
        Command::Explain { code } => explain(code.as_deref()),
        Command::Scan { lines } => scan_cmd::run(lines),
        Command::Demo { dir } => demo::run(dir),
        Command::Serve {
            config,
            listen,
            tls_cert,
            tls_key,
            max_in_flight,
            log_format,
            log_level,
        } => serve::run(
            &config,
            listen,
            tls_cert.as_deref().zip(tls_key.as_deref()),
            max_in_flight,
            (log_format, log_level.as_deref()),
        ),
        Command::Caller { command } => caller_cmd::run(command),
        Command::Witness { command } => witness_cmd::run(command),
    }
}

/// `mig06 init DIR`.
fn init(dir: &Path, origin: Option<&str>) -> Result<ExitCode> {
    let report = mig06_rail::init::init_with_origin(dir, origin)?;
    println!("wrote {}", report.config.display());
    println!("policy digest: {}", report.policy_digest);
    println!("log public key: {}", report.verifier_key);
    println!("approved caller: operator-1 (operator; operator_explicit, operator_continuation)");
    Ok(ExitCode::SUCCESS)
}

/// `mig06 attempt`: one attempt as a local caller; the outcome's class is the exit status.
fn attempt(config: &Path, caller: &str, request: &str) -> Result<ExitCode> {
    let rail = open_rail(config)?;
    let caller = rail.local_caller(caller).map_err(|e| {
        anyhow::anyhow!(
            "{e}: no approved caller with that id in {}",
            config.display()
        )
    })?;
    let body = read_request(request, rail.config().max_request_bytes)?;
    let outcome = rail.attempt(&caller, &body);
    print_outcome(&outcome)?;
    Ok(exit_for(outcome.code))
}

/// `mig06 policy check`: the bundle must be valid, and its digest the pinned one.
fn policy_check(config: &Path) -> Result<ExitCode> {
    let cfg = Config::load(config)?;
    let gate = mig06_rail::policy::PolicyGate::load(&cfg.policy_bundle, None)?;
    let matches = gate.digest() == cfg.policy_digest;
    println!(
        "{}",
        serde_json::json!({
            "valid": true,
            "policies": gate.policy_count(),
            "digest": gate.digest(),
            "pinned": cfg.policy_digest,
            "matches_pin": matches,
        })
    );
    if matches {
        Ok(ExitCode::SUCCESS)
    } else {
        bail!(
            "the bundle is valid but its digest {} differs from the pinned {}; the rail will refuse to start until the pin is updated",
            gate.digest(),
            cfg.policy_digest
        )
    }
}

/// Loads the configuration and opens the rail, supplying the HTTP executor when configured.
pub(crate) fn open_rail(config: &Path) -> Result<Rail> {
    open_rail_observed(config).map(|(rail, _)| rail)
}

/// As [`open_rail`], with the counters the configured witnesses' clients update (`/metrics`).
pub(crate) fn open_rail_observed(
    config: &Path,
) -> Result<(Rail, std::sync::Arc<serve::metrics::WitnessStats>)> {
    let cfg = Config::load(config)?;
    let executor: Option<Box<dyn Executor>> = match &cfg.executor {
        ExecutorConfig::Http { url } => Some(Box::new(
            mig06_executor_http::HttpExecutor::new(url).context("executor.url")?,
        )),
        ExecutorConfig::Reference | ExecutorConfig::Command { .. } => None,
    };
    let store: Option<(Box<dyn mig06_rail::audit::AuditStore>, OpenReport)> = match &cfg.audit {
        AuditBackend::File => None,
        AuditBackend::Postgres(pg) => {
            let signer = mig06_rail::rail::load_signer(&cfg)?;
            let (store, report) = mig06_audit_pg::open_store(pg, signer)?;
            if !store.is_open() {
                let message = "the audit database is unreachable; attempts end ABORTED_AUDIT_UNCONFIRMED until it is back, and the log is read and checked then";
                // `serve` has its operations log; the CLI commands say it on stderr.
                if tracing::dispatcher::has_been_set() {
                    tracing::warn!(target: "mig06::audit", event = "audit_unreachable_at_start", "{message}");
                } else {
                    eprintln!("mig06: {message}");
                }
            }
            Some((Box::new(store), report))
        }
    };
    let (witnesses, witness_stats) = witnesses::from_config(&cfg)?;
    let rail = Rail::open_with(cfg, store, executor)?.with_witnesses(witnesses);
    let cut = rail.audit_open_report().torn_tail_cut;
    if cut > 0 && !tracing::dispatcher::has_been_set() {
        // `serve` logs it in its `audit_store_opened` event (`torn_tail_bytes`).
        eprintln!(
            "mig06: audit log: cut a torn tail of {cut} bytes (an append that was never confirmed)"
        );
    }
    Ok((rail, witness_stats))
}

fn read_request(path: &str, max: usize) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    let limit = (max as u64).saturating_add(1);
    if path == "-" {
        std::io::stdin().take(limit).read_to_end(&mut body)?;
    } else {
        std::fs::File::open(path)
            .with_context(|| format!("cannot read request file {path}"))?
            .take(limit)
            .read_to_end(&mut body)?;
    }
    Ok(body)
}

/// Prints an outcome as one JSON line.
fn print_outcome(outcome: &Outcome) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, outcome)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// The exit status of an outcome's class.
fn exit_for(code: TerminalCode) -> ExitCode {
    match code.class() {
        CodeClass::Completed => ExitCode::SUCCESS,
        CodeClass::Denied => ExitCode::from(2),
        CodeClass::Aborted => ExitCode::from(3),
    }
}

/// `mig06 explain [CODE]`: a terminal code's explanation, or a reason code's meaning, named in
/// any case; all terminal codes without an argument. The argument is never echoed.
fn explain(code: Option<&str>) -> Result<ExitCode> {
    match code {
        Some(c) => {
            if let Some(code) = TerminalCode::from_code(&c.trim().to_ascii_uppercase()) {
                println!("{}\n\n{}", code.as_str(), code.explanation());
            } else if let Some(reason) = mig06_rail::outcome::Reason::lookup(c) {
                let (codes, meaning) = reason.meaning();
                println!(
                    "{} (reason code)\n\n{meaning}\n\nCarried by: {}. `mig06 explain CODE` gives each terminal code's next step.",
                    reason.code(),
                    codes.replace('`', "")
                );
            } else {
                bail!(
                    "unknown terminal or reason code; `mig06 explain` lists the terminal codes, docs/OPERATIONS.md (\"Reason codes\") the reason codes"
                );
            }
        }
        None => {
            for code in mig06_rail::outcome::ALL_CODES {
                println!("{}\n  {}\n", code.as_str(), code.explanation());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
