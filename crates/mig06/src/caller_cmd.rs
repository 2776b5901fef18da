//! `mig06 caller add|list|remove|rotate`: the approved callers in the configuration file.
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
    /// List the approved callers: one JSON object per line (id, kind, triggers, whether it has
    /// a bearer credential, a retiring one, a pinned client certificate). Never a digest.
    List {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Remove an approved caller's table from the configuration file. Restart `mig06 serve`
    /// for it to take effect; its records in the audit log stay.
    Remove {
        /// The caller id.
        id: String,
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Rotate a caller's bearer credential without a gap: the current credential becomes the
    /// retiring one (still admitted) and a new one is written and printed once, alone on the
    /// last line of stdout. Restart, switch the client, then `--finish` and restart again.
    Rotate {
        /// The caller id.
        id: String,
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// End the rotation: remove the retiring credential (it is refused after a restart).
        #[arg(long)]
        finish: bool,
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
        CallerCommand::List { config } => list(&config),
        CallerCommand::Remove { id, config } => remove(&id, &config),
        CallerCommand::Rotate { id, config, finish } => rotate(&id, &config, finish),
    }
}

/// `mig06 caller list`.
fn list(config: &Path) -> Result<ExitCode> {
    let cfg = Config::load(config)?;
    let mut out = std::io::stdout().lock();
    for c in &cfg.callers {
        let line = serde_json::json!({
            "id": c.id.as_str(),
            "kind": c.kind.as_str(),
            "triggers": c.triggers.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            "bearer_credential": c.credential_sha256.is_some(),
            "retiring_credential": c.retiring_credential_sha256.is_some(),
            "client_cert_pinned": c.client_cert_sha256.is_some(),
        });
        writeln!(out, "{line}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The line ranges of the file's `[[callers]]` tables: from the comment lines right above the
/// header to the line before the next table header. Each with the id it holds.
fn caller_tables(text: &str) -> Vec<(std::ops::Range<usize>, Option<String>)> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let is_header = |l: &str| l.trim_start().starts_with('[');
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() != "[[callers]]" {
            continue;
        }
        let mut start = i;
        while start > 0
            && lines
                .get(start - 1)
                .is_some_and(|l| l.trim_start().starts_with('#'))
        {
            start -= 1;
        }
        let mut end = (i + 1..lines.len())
            .find(|j| lines.get(*j).is_some_and(|l| is_header(l)))
            .unwrap_or(lines.len());
        // Comment lines right above the next header are that table's.
        while end > i + 1
            && end < lines.len()
            && lines
                .get(end - 1)
                .is_some_and(|l| l.trim_start().starts_with('#'))
        {
            end -= 1;
        }
        let body: String = lines.get(i..end).unwrap_or_default().concat();
        let id = toml::from_str::<toml::Table>(&body)
            .ok()
            .and_then(|t| t.get("callers").cloned())
            .and_then(|c| c.as_array().and_then(|a| a.first().cloned()))
            .and_then(|c| c.get("id").and_then(|v| v.as_str()).map(str::to_owned));
        out.push((start..end, id));
    }
    out
}

/// The file's text with the lines of `range` replaced by `with`.
fn splice(text: &str, range: &std::ops::Range<usize>, with: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out: String = lines.get(..range.start).unwrap_or_default().concat();
    out.push_str(with);
    out.push_str(&lines.get(range.end..).unwrap_or_default().concat());
    out
}

/// Reads `config` and finds the `[[callers]]` table of `id`.
fn find_caller(config: &Path, id: &str) -> Result<(String, Config, std::ops::Range<usize>)> {
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("cannot read configuration {}", config.display()))?;
    let current = Config::parse(config, &text)?;
    let caller_id = CallerId::parse(id).map_err(|_| anyhow::anyhow!("invalid caller id"))?;
    if current.caller(&caller_id).is_none() {
        bail!("no caller {caller_id} in {}", config.display());
    }
    let mut found = caller_tables(&text)
        .into_iter()
        .filter(|(_, found)| found.as_deref() == Some(id));
    let (Some((range, _)), None) = (found.next(), found.next()) else {
        bail!(
            "caller {caller_id} is not written as one [[callers]] table in {}; edit the file by hand",
            config.display()
        );
    };
    Ok((text, current, range))
}

/// Writes `text` to `config` through a temporary file in the same directory, synced, then
/// renamed over it, so a crash leaves the old file or the new one.
fn replace_file(config: &Path, text: &str) -> Result<()> {
    let dir = config.parent().unwrap_or_else(|| Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        config
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("mig06.toml")
    ));
    let mut file =
        std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    if let Ok(meta) = std::fs::metadata(config) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, config)
        .with_context(|| format!("cannot replace {}", config.display()))?;
    Ok(())
}

/// `mig06 caller remove`.
fn remove(id: &str, config: &Path) -> Result<ExitCode> {
    let (text, before, range) = find_caller(config, id)?;
    let updated = splice(&text, &range, "");
    let after = Config::parse(config, &updated)?;
    let kept = |c: &Config| {
        c.callers
            .iter()
            .filter(|c| c.id.as_str() != id)
            .map(|c| c.id.clone())
            .collect::<Vec<_>>()
    };
    if after.callers.len() + 1 != before.callers.len() || kept(&after) != kept(&before) {
        bail!("removing the table would change other callers; nothing was written");
    }
    replace_file(config, &updated)?;
    println!(
        "removed caller {id} from {}; restart `mig06 serve` for it to take effect (its audit records stay)",
        config.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `mig06 caller rotate [--finish]`.
fn rotate(id: &str, config: &Path, finish: bool) -> Result<ExitCode> {
    let (text, current, range) = find_caller(config, id)?;
    let caller_id = CallerId::parse(id).map_err(|_| anyhow::anyhow!("invalid caller id"))?;
    let Some(caller) = current.caller(&caller_id) else {
        bail!("no caller {caller_id} in {}", config.display());
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let table: Vec<&str> = lines.get(range.clone()).unwrap_or_default().to_vec();
    let keep = |l: &str| {
        let key = l.trim_start();
        !key.starts_with("credential_sha256") && !key.starts_with("retiring_credential_sha256")
    };
    let mut block: String = table.iter().copied().filter(|l| keep(l)).collect();
    if !block.ends_with('\n') {
        block.push('\n');
    }
    let credential = if finish {
        let Some(d) = &caller.credential_sha256 else {
            bail!("caller {caller_id} has no bearer credential");
        };
        block.push_str(&format!("credential_sha256 = \"{d}\"\n"));
        None
    } else {
        let Some(old) = &caller.credential_sha256 else {
            bail!("caller {caller_id} has no bearer credential to rotate; use `caller add`");
        };
        if caller.retiring_credential_sha256.is_some() {
            bail!(
                "caller {caller_id} is already rotating; finish it first (`mig06 caller rotate {caller_id} --finish`)"
            );
        }
        let credential = new_credential()?;
        block.push_str(&format!(
            "credential_sha256 = \"{}\"\nretiring_credential_sha256 = \"{old}\"\n",
            Sha256Digest::of(credential.as_bytes())
        ));
        Some(credential)
    };
    let updated = splice(&text, &range, &block);
    let after = Config::parse(config, &updated)?;
    if after.callers.len() != current.callers.len() || after.caller(&caller_id).is_none() {
        bail!("the rotated table did not parse as the same callers; nothing was written");
    }
    replace_file(config, &updated)?;
    match credential {
        Some(credential) => {
            println!(
                "rotating caller {caller_id}: after a restart both its old and its new credential are admitted; switch the client, then run `mig06 caller rotate {caller_id} --finish --config {}` and restart again. The new credential (shown once) follows:",
                config.display()
            );
            println!("{credential}");
        }
        None => println!(
            "finished rotating caller {caller_id}: its old credential is refused after a restart"
        ),
    }
    Ok(ExitCode::SUCCESS)
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
