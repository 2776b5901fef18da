//! `mig06 caller add`: registers an approved HTTP caller in the configuration file.
//!
//! The decision that matters: the credential is generated here (32 bytes from the OS RNG,
//! base64url), printed once, and never stored; only its SHA-256 goes into the file. The command
//! edits the file on disk, never a running rail: callers change only by editing the file and
//! restarting, and no HTTP route can do it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use base64::Engine;
use mig06_rail::config::Config;
use mig06_rail::ids::{CallerId, Sha256Digest};
use mig06_rail::request::Trigger;
use rand::RngCore;

/// `mig06 caller ...`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum CallerCommand {
    /// Add an approved caller with a new random bearer credential. Only the credential's SHA-256
    /// is written (appended as a new [[callers]] table); the credential is printed once, alone on
    /// the last line of stdout. Restart `mig06 serve` to admit the caller.
    Add {
        /// The caller id: 1 to 63 characters of [a-z0-9-], starting with a letter.
        id: String,
        /// Operator or service.
        #[arg(long, value_enum)]
        kind: KindArg,
        /// A permitted trigger category (repeatable): operator_explicit, service_explicit,
        /// operator_continuation.
        #[arg(long = "trigger", required = true)]
        triggers: Vec<String>,
        /// The configuration file to append to.
        #[arg(long)]
        config: PathBuf,
        /// Also pin the caller to this PEM client certificate: over TLS (`serve --tls-cert`) it
        /// must present it as well as its credential. Only the certificate's SHA-256 is written.
        #[arg(long)]
        client_cert: Option<PathBuf>,
    },
}

/// The caller kinds.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum KindArg {
    /// A human operator's console.
    Operator,
    /// An approved service.
    Service,
}

impl KindArg {
    fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Service => "service",
        }
    }
}

/// Runs a caller command.
///
/// # Errors
/// Invalid id or trigger, an existing id, an unreadable or invalid configuration, I/O errors.
pub(crate) fn run(command: CallerCommand) -> Result<ExitCode> {
    match command {
        CallerCommand::Add {
            id,
            kind,
            triggers,
            config,
            client_cert,
        } => add(&id, kind, &triggers, &config, client_cert.as_deref()),
    }
}

fn parse_triggers(given: &[String]) -> Result<Vec<Trigger>> {
    let mut out: Vec<Trigger> = Vec::new();
    for t in given {
        let Some(trigger) = Trigger::from_code(t) else {
            bail!(
                "unknown trigger category; the closed set is operator_explicit, service_explicit, operator_continuation"
            );
        };
        if !out.contains(&trigger) {
            out.push(trigger);
        }
    }
    Ok(out)
}

/// A fresh credential: 32 bytes from the OS RNG, base64url without padding.
fn new_credential() -> Result<String> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the OS random number generator failed"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// `mig06 caller add`: appends the caller to `config` only after the whole new file has parsed
/// with it, then prints the credential once.
fn add(
    id: &str,
    kind: KindArg,
    triggers: &[String],
    config: &Path,
    client_cert: Option<&Path>,
) -> Result<ExitCode> {
    let caller_id = CallerId::parse(id).map_err(|_| {
        anyhow::anyhow!(
            "invalid caller id: use 1 to 63 characters of [a-z0-9-], starting with a letter"
        )
    })?;
    let triggers = parse_triggers(triggers)?;
    let pin = client_cert
        .map(crate::tls::certificate_fingerprint)
        .transpose()?;
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("cannot read configuration {}", config.display()))?;
    let current = Config::parse(config, &text)?;
    if current.caller(&caller_id).is_some() {
        bail!(
            "caller {caller_id} already exists in {}; refusing to replace it (edit the file to rotate its credential)",
            config.display()
        );
    }
    let credential = new_credential()?;
    let entry = Entry {
        id: &caller_id,
        kind,
        triggers: &triggers,
        digest: Sha256Digest::of(credential.as_bytes()),
        pin: pin.as_ref(),
    };
    let block = entry.toml_block(&text);
    // Check the result parses before touching the file, so a failure leaves it unchanged.
    let updated = Config::parse(config, &format!("{text}{block}"))?;
    if updated.caller(&caller_id).is_none() {
        bail!("the new caller did not appear in the configuration; nothing was written");
    }
    append(config, &block)?;
    entry.announce(config);
    println!("{credential}");
    Ok(ExitCode::SUCCESS)
}

/// The caller being added, as it is written to the file: never the credential itself.
struct Entry<'a> {
    id: &'a CallerId,
    kind: KindArg,
    triggers: &'a [Trigger],
    digest: Sha256Digest,
    pin: Option<&'a Sha256Digest>,
}

impl Entry<'_> {
    /// The `[[callers]]` table appended after `existing` (the file's current text).
    fn toml_block(&self, existing: &str) -> String {
        let trigger_list = self
            .triggers
            .iter()
            .map(|t| format!("\"{}\"", t.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let mut block = String::new();
        if !existing.is_empty() && !existing.ends_with('\n') {
            block.push('\n');
        }
        block.push_str(&format!(
            "\n# Added by `mig06 caller add`; the credential itself is not stored.\n[[callers]]\nid = \"{}\"\nkind = \"{}\"\ntriggers = [{trigger_list}]\ncredential_sha256 = \"{}\"\n",
            self.id,
            self.kind.as_str(),
            self.digest
        ));
        if let Some(pin) = self.pin {
            block.push_str(&format!("client_cert_sha256 = \"{pin}\"\n"));
        }
        block
    }

    /// What was added, before the credential line that follows it.
    fn announce(&self, config: &Path) {
        let names = self
            .triggers
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "added caller {} ({}; {names}) to {}",
            self.id,
            self.kind.as_str(),
            config.display()
        );
        if let Some(pin) = self.pin {
            println!("pinned to the client certificate {pin}; it must be presented over TLS");
        }
        println!("restart `mig06 serve` to admit it; the bearer credential (shown once) follows:");
    }
}

/// Appends `block` to `config` and syncs it.
fn append(config: &Path, block: &str) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(config)
        .with_context(|| format!("cannot open {} for appending", config.display()))?;
    file.write_all(block.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot append to {}", config.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_43_chars_of_base64url_and_differ() {
        let a = new_credential().unwrap();
        let b = new_credential().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn triggers_are_closed() {
        assert!(parse_triggers(&["service_explicit".into()]).is_ok());
        assert!(parse_triggers(&["scheduled".into()]).is_err());
    }
}
