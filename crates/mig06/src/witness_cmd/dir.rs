//! The witness directory: its key, its configuration and its state directory.
//!
//! ```text
//! DIR/witness.key    the private key (signed-note form), mode 0600; never printed or logged
//! DIR/witness.vkey   the verifier key (cosignature/v1, type 0x04), for the rails' configuration
//! DIR/witness.toml   `logs = [...]`: the verifier keys of the logs this witness accepts
//! DIR/state/         the durable state (mig06-witness `Store`): one file per log, and a lock
//! ```
//!
//! The decision that matters: every file is written whole and synced before it is relied on
//! (`init` creates them with `create_new`, `add-log` replaces the configuration by rename), and a
//! private key readable by others stops `serve` instead of being used.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use mig06_tlog::checkpoint::LogVerifier;
use mig06_tlog::cosignature::WitnessSigner;

/// The private key file.
const KEY_FILE: &str = "witness.key";
/// The verifier key file.
const VKEY_FILE: &str = "witness.vkey";
/// The configuration file.
const CONFIG_FILE: &str = "witness.toml";
/// The state directory.
const STATE_DIR: &str = "state";

/// The configuration file's contents.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The verifier keys of the logs this witness accepts.
    #[serde(default)]
    logs: Vec<String>,
}

/// The configuration's text: fixed comments and one key per line, so that `init` and
/// `add-log` write the same layout.
fn render(logs: &[String]) -> String {
    let mut out = String::from(
        "# mig06 witness configuration. Read once when `mig06 witness serve` starts; restart to apply a change.\n\
         # `mig06 witness add-log DIR VKEY` adds a log (and rewrites this file).\n\
         # The verifier keys of the logs this witness accepts (`mig06 audit pubkey` prints a log's):\n\
         # the key's name is the log's origin; several keys may share one origin.\n\
         logs = [\n",
    );
    for l in logs {
        // TOML's own quoting, whatever the key name holds.
        out.push_str(&format!("    {},\n", toml::Value::String(l.clone())));
    }
    out.push_str("]\n");
    out
}

/// What `init` wrote.
pub(super) struct InitReport {
    /// The configuration file.
    pub(super) config: PathBuf,
    /// The witness's verifier key.
    pub(super) vkey: String,
}

/// Writes `bytes` to a new file `path` with `mode`, synced.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Syncs a directory (its entries are durable after this).
fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync {}", dir.display()))
}

/// `mig06 witness init DIR [--name NAME]`.
pub(super) fn init(dir: &Path, name: Option<&str>) -> Result<InitReport> {
    if let Some(n) = name
        && !mig06_rail::init::is_valid_origin(n)
    {
        bail!(
            "--name must be a schema-less URL (host/path, printable ASCII, no spaces, no '+', no scheme), e.g. witness.example.org/w1"
        );
    }
    for f in [KEY_FILE, CONFIG_FILE] {
        let p = dir.join(f);
        if p.exists() {
            bail!(
                "{} exists: {} is already a witness (init never overwrites one)",
                p.display(),
                dir.display()
            );
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = name.map_or_else(
        || format!("mig06.invalid/witness/{:016x}", rand::random::<u64>()),
        str::to_owned,
    );
    let signer = WitnessSigner::generate(&name).context("witness key")?;
    let vkey = signer.verifier().vkey();
    write_new(
        &dir.join(KEY_FILE),
        format!("{}\n", signer.private_key()).as_bytes(),
        0o600,
    )?;
    write_new(&dir.join(VKEY_FILE), format!("{vkey}\n").as_bytes(), 0o644)?;
    let config = dir.join(CONFIG_FILE);
    write_new(&config, render(&[]).as_bytes(), 0o644)?;
    let state = dir.join(STATE_DIR);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&state)
        .with_context(|| format!("cannot create {}", state.display()))?;
    sync_dir(dir)?;
    Ok(InitReport { config, vkey })
}

/// The witness's signing key, refused when others can read it.
pub(super) fn load_signer(dir: &Path) -> Result<WitnessSigner> {
    let path = dir.join(KEY_FILE);
    let meta = std::fs::metadata(&path).with_context(|| {
        format!(
            "cannot read {}: is {} a witness directory (`mig06 witness init`)?",
            path.display(),
            dir.display()
        )
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "{} is readable by other users: `chmod 600` it (and consider the key exposed)",
            path.display()
        );
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    // The error never quotes the key text.
    WitnessSigner::from_private_key(text.trim())
        .map_err(|_| anyhow::anyhow!("{} is not a witness private key", path.display()))
}

/// The logs the configuration accepts, each key checked.
pub(super) fn load_logs(dir: &Path) -> Result<Vec<LogVerifier>> {
    let path = dir.join(CONFIG_FILE);
    let config = read_config(&path)?;
    config
        .logs
        .iter()
        .enumerate()
        .map(|(i, k)| {
            LogVerifier::parse(k).map_err(|_| {
                anyhow::anyhow!(
                    "{}: logs[{i}] is not a log verifier key (origin+keyid+base64)",
                    path.display()
                )
            })
        })
        .collect()
}

fn read_config(path: &Path) -> Result<Config> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("{} is not a witness configuration", path.display()))
}

/// The state directory.
pub(super) fn state_dir(dir: &Path) -> PathBuf {
    dir.join(STATE_DIR)
}

/// What `add-log` did.
pub(super) struct Added {
    /// The log's origin (its key's name).
    pub(super) origin: String,
    /// `origin+keyid`.
    pub(super) key_name: String,
    /// False when the key was already accepted.
    pub(super) new: bool,
}

/// `mig06 witness add-log DIR VKEY-or-FILE`.
pub(super) fn add_log(dir: &Path, vkey_or_file: &str) -> Result<Added> {
    let path = dir.join(CONFIG_FILE);
    let mut config = read_config(&path)?;
    let candidate = Path::new(vkey_or_file);
    let text = if candidate.is_file() {
        std::fs::read_to_string(candidate)
            .with_context(|| format!("cannot read {}", candidate.display()))?
    } else {
        vkey_or_file.to_owned()
    };
    // The error never quotes what was given (it may be any file).
    let key = LogVerifier::parse(text.trim()).map_err(|_| {
        anyhow::anyhow!(
            "not a log verifier key (origin+keyid+base64, as `mig06 audit pubkey` prints it)"
        )
    })?;
    let vkey = key.vkey();
    let added = Added {
        origin: key.name().to_owned(),
        key_name: key.key_name(),
        new: !config.logs.contains(&vkey),
    };
    if added.new {
        config.logs.push(vkey);
        let tmp = dir.join(format!("{CONFIG_FILE}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        write_new(&tmp, render(&config.logs).as_bytes(), 0o644)?;
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        sync_dir(dir)?;
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn rendered_configuration_reads_back() {
        let logs = vec![
            "example.com/log+01234567+AQID".to_owned(),
            "example.com/log2+89abcdef+BAUG".to_owned(),
        ];
        let back: Config = toml::from_str(&render(&logs)).unwrap();
        assert_eq!(back.logs, logs);
        let empty: Config = toml::from_str(&render(&[])).unwrap();
        assert!(empty.logs.is_empty());
    }
}
