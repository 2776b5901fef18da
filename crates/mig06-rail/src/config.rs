//! The rail's static configuration: read once at start-up, never changed at run time.
//!
//! There is deliberately no API to write or reload a loaded [`Config`]: approved callers, the
//! policy bundle and its pinned digest only change by editing the file and restarting.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ids::{CallerId, Sha256Digest};
use crate::request::Trigger;

/// Errors loading the configuration. Messages name the file and the field, not secrets.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid configuration TOML.
    #[error("configuration {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong (from the TOML parser).
        message: String,
    },
    /// A semantic rule is broken.
    #[error("configuration {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The kind of an approved caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CallerKind {
    /// A human operator's console.
    Operator,
    /// An approved service.
    Service,
}

impl CallerKind {
    /// The kind as text (also its Cedar attribute value).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Service => "service",
        }
    }
}

/// One approved caller.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerConfig {
    /// The caller's id.
    pub id: CallerId,
    /// Operator or service.
    pub kind: CallerKind,
    /// Trigger categories this caller may use (policy must permit them too).
    pub triggers: BTreeSet<Trigger>,
    /// SHA-256 of the bearer credential (HTTP only); the credential itself is never stored.
    #[serde(default)]
    pub credential_sha256: Option<Sha256Digest>,
    /// SHA-256 of the DER bytes of the client certificate this caller must present over TLS, in
    /// addition to its bearer credential (HTTP with TLS only; needs `credential_sha256`).
    #[serde(default)]
    pub client_cert_sha256: Option<Sha256Digest>,
}

/// Which executor runs the one step.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ExecutorConfig {
    /// The built-in reference executor: stores a draft under the data directory.
    Reference,
    /// A local program run once per attempt: metadata on stdin, receipt JSON on stdout.
    Command {
        /// The program (absolute, or relative to the configuration's directory).
        program: PathBuf,
        /// Its arguments.
        #[serde(default)]
        args: Vec<String>,
    },
    /// An HTTP drafting service, called once with a deadline (built by the binary).
    Http {
        /// The endpoint URL.
        url: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: PathBuf,
    policy_bundle: PathBuf,
    policy_digest: Sha256Digest,
    signing_key: PathBuf,
    #[serde(default = "default_timeout")]
    attempt_timeout_ms: u64,
    #[serde(default = "default_max_request")]
    max_request_bytes: usize,
    executor: ExecutorConfig,
    #[serde(default)]
    callers: Vec<CallerConfig>,
}

fn default_timeout() -> u64 {
    10_000
}
fn default_max_request() -> usize {
    64 * 1024
}

/// The loaded configuration, with paths resolved against the file's directory.
#[derive(Debug, Clone)]
pub struct Config {
    /// The configuration file itself.
    pub path: PathBuf,
    /// Data directory: the audit log and the reference executor's drafts.
    pub data_dir: PathBuf,
    /// Policy bundle directory.
    pub policy_bundle: PathBuf,
    /// The pinned SHA-256 digest of the bundle.
    pub policy_digest: Sha256Digest,
    /// The log's private signing key file.
    pub signing_key: PathBuf,
    /// The whole-attempt deadline.
    pub attempt_timeout: std::time::Duration,
    /// Largest accepted request body, in bytes.
    pub max_request_bytes: usize,
    /// The executor.
    pub executor: ExecutorConfig,
    /// Approved callers.
    pub callers: Vec<CallerConfig>,
}

impl Config {
    /// Reads and checks a configuration file.
    ///
    /// # Errors
    /// [`ConfigError`] when the file cannot be read, does not parse, names a trigger outside the
    /// closed set, or lists a caller twice.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses configuration text as if read from `path`.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let mut seen = BTreeSet::new();
        for c in &raw.callers {
            if !seen.insert(c.id.clone()) {
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    message: format!("caller {} is listed twice", c.id),
                });
            }
            if c.client_cert_sha256.is_some() && c.credential_sha256.is_none() {
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    message: format!(
                        "caller {} has client_cert_sha256 but no credential_sha256: a client certificate binds a bearer credential to a TLS client, it does not replace it",
                        c.id
                    ),
                });
            }
        }
        if raw.attempt_timeout_ms == 0 {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: "attempt_timeout_ms must be positive".into(),
            });
        }
        let executor = match raw.executor {
            ExecutorConfig::Command { program, args } => ExecutorConfig::Command {
                program: base.join(program),
                args,
            },
            other => other,
        };
        Ok(Self {
            path: path.to_owned(),
            data_dir: base.join(raw.data_dir),
            policy_bundle: base.join(raw.policy_bundle),
            policy_digest: raw.policy_digest,
            signing_key: base.join(raw.signing_key),
            attempt_timeout: std::time::Duration::from_millis(raw.attempt_timeout_ms),
            max_request_bytes: raw.max_request_bytes,
            executor,
            callers: raw.callers,
        })
    }

    /// The registration of an approved caller.
    #[must_use]
    pub fn caller(&self, id: &CallerId) -> Option<&CallerConfig> {
        self.callers.iter().find(|c| &c.id == id)
    }
}
