//! `mig06 init`: a working set-up in a directory, with the example policy bundle.
//!
//! The example bundle is compiled in (`bundle/` in this crate) and written out, and its digest is
//! computed from the written files and pinned in the new configuration.

use std::io::Write;
use std::path::{Path, PathBuf};

use mig06_tlog::checkpoint::LogSigner;

use crate::policy::{BUNDLE_FILES, PolicyError, bundle_digest};

/// The example bundle's files, in [`BUNDLE_FILES`] order.
pub const EXAMPLE_BUNDLE: [&str; 3] = [
    include_str!("../bundle/schema.cedarschema"),
    include_str!("../bundle/policies.cedar"),
    include_str!("../bundle/vocabulary.json"),
];

/// Errors from `init`.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The directory already holds a configuration; nothing was changed.
    #[error("{0} already exists; refusing to overwrite a set-up")]
    Exists(PathBuf),
    /// Writing failed.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The written bundle could not be digested.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Key generation failed.
    #[error("key generation failed")]
    Key(#[source] mig06_tlog::checkpoint::CheckpointError),
    /// The origin is not a schema-less URL.
    #[error(
        "the origin must be a schema-less URL the organisation controls, such as audit.hospital.example/mig06/1 (printable ASCII, no spaces, no '+', no scheme)"
    )]
    Origin,
}

/// What `init` wrote.
#[derive(Debug, Clone)]
pub struct InitReport {
    /// The configuration file.
    pub config: PathBuf,
    /// The log's verifier key text.
    pub verifier_key: String,
    /// The pinned bundle digest.
    pub policy_digest: String,
}

fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), InitError> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| InitError::Write {
        path: path.to_owned(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(err)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(err)
}

/// Writes `dir/mig06.toml`, `dir/policy/`, `dir/keys/` and `dir/data/`, with a log whose
/// origin is `mig06.invalid/log/<random>` (see [`init_with_origin`] to name it).
///
/// # Errors
/// [`InitError`]; an existing `mig06.toml` is never overwritten.
pub fn init(dir: &Path) -> Result<InitReport, InitError> {
    init_with_origin(dir, None)
}

/// Whether `origin` may name a log: a schema-less URL (`host/path`) of printable ASCII without
/// spaces or `+` (C2SP tlog-checkpoint: the origin line; signed-note: a key name).
#[must_use]
pub fn is_valid_origin(origin: &str) -> bool {
    !origin.is_empty()
        && origin.len() <= 255
        && !origin.contains("://")
        && !origin.starts_with('/')
        && origin.contains('.')
        && origin.bytes().all(|b| b.is_ascii_graphic() && b != b'+')
}

/// As [`init`], with the log's origin: the permanent name witnesses and verifiers know the log
/// by (a schema-less URL the organisation controls, e.g. `audit.hospital.example/mig06/1`).
///
/// # Errors
/// As [`init`]; [`InitError::Origin`] when `origin` is not a schema-less URL.
pub fn init_with_origin(dir: &Path, origin: Option<&str>) -> Result<InitReport, InitError> {
    if let Some(o) = origin
        && !is_valid_origin(o)
    {
        return Err(InitError::Origin);
    }
    let config = dir.join("mig06.toml");
    if config.exists() {
        return Err(InitError::Exists(config));
    }
    let mkdir = |p: &Path| {
        std::fs::create_dir_all(p).map_err(|source| InitError::Write {
            path: p.to_owned(),
            source,
        })
    };
    let policy = dir.join("policy");
    let keys = dir.join("keys");
    mkdir(&policy)?;
    mkdir(&keys)?;
    mkdir(&dir.join("data"))?;
    for (name, text) in BUNDLE_FILES.iter().zip(EXAMPLE_BUNDLE) {
        write(&policy.join(name), text.as_bytes(), 0o644)?;
    }
    let (digest, _) = bundle_digest(&policy)?;
    let origin = origin.map_or_else(
        || {
            format!(
                "mig06.invalid/log/{}",
                ulid::Ulid::new().to_string().to_ascii_lowercase()
            )
        },
        str::to_owned,
    );
    let signer = LogSigner::generate(&origin).map_err(InitError::Key)?;
    write(
        &keys.join("log.key"),
        format!("{}\n", signer.private_key()).as_bytes(),
        0o600,
    )?;
    let vkey = signer.verifier().vkey();
    write(
        &keys.join("log.vkey"),
        format!("{vkey}\n").as_bytes(),
        0o644,
    )?;
    let text = format!(
        r#"# MIG-06 rail configuration. Read once at start-up; edit and restart to change.
# Paths are relative to this file's directory.
data_dir = "data"
policy_bundle = "policy"
# SHA-256 of the policy bundle; the rail refuses to start if the bundle differs.
# Recompute with `mig06 policy check --config <this file>` after a reviewed change.
policy_digest = "{digest}"
signing_key = "keys/log.key"
attempt_timeout_ms = 10000
max_request_bytes = 65536

[executor]
kind = "reference"

[[callers]]
id = "operator-1"
kind = "operator"
triggers = ["operator_explicit", "operator_continuation"]
"#
    );
    write(&config, text.as_bytes(), 0o644)?;
    Ok(InitReport {
        config,
        verifier_key: vkey,
        policy_digest: digest.to_string(),
    })
}
