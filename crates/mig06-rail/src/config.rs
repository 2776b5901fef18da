//! The rail's static configuration: read once at start-up, never changed at run time.
//!
//! There is deliberately no API to write or reload a loaded [`Config`]: approved callers, the
//! policy bundle and its pinned digest only change by editing the file and restarting.
//!
//! INV-NO-RUNTIME-AUTHORING: No new Control Plane contracts.
//!
//! INV-TRIGGER-POLICY: Every trigger category is policy-driven, deny-by-default and auditable.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ids::{CallerId, Sha256Digest};
use crate::request::Trigger;

/// Errors loading the configuration. Messages name the file and the field, not secrets.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration {path}")]
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
        /// What is wrong: the TOML parser's message only. Its error value is not kept as a
        /// source because it quotes the offending line, which may hold a connection URL's
        /// password.
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
    /// SHA-256 of the caller's previous bearer credential while it is rotated out (`mig06
    /// caller rotate`): admitted as well, until `caller rotate --finish` removes it, so
    /// clients can switch credentials without a window in which neither works.
    #[serde(default)]
    pub retiring_credential_sha256: Option<Sha256Digest>,
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

// INV-SERVER-LIMITS: the server's limits, each bounded by default, for both transports.
/// Limits of `mig06 serve` (the `[server]` table; every key optional). The binary applies them
/// to both transports, plain HTTP and TLS; `docs/HTTP.md` documents each one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Attempts running at once; a request beyond it is refused at once (503, no attempt).
    /// `None`: 32 per available CPU, between 32 and 512.
    pub max_in_flight: Option<usize>,
    /// Open connections at once, both transports; a connection beyond it is closed at accept.
    pub max_connections: usize,
    /// Open connections at once from one peer IP address.
    pub max_connections_per_peer: usize,
    /// A request's head (and its body, and over TLS the handshake) must arrive within this
    /// many milliseconds of its first byte.
    pub header_read_timeout_ms: u64,
    /// A connection with no request in progress is closed after this many milliseconds.
    pub idle_timeout_ms: u64,
    /// A connection serves at most this many requests; the last answer says `Connection: close`.
    pub max_requests_per_connection: u64,
    /// A connection is told to close after this many milliseconds (its request in progress
    /// still gets its answer).
    pub max_connection_lifetime_ms: u64,
    /// Largest request head (request line and headers), in bytes; larger is 431.
    pub max_header_bytes: usize,
    /// Most header fields in a request; more is 431.
    pub max_headers: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_in_flight: None,
            max_connections: 1024,
            max_connections_per_peer: 64,
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 10_000,
            max_requests_per_connection: 1000,
            max_connection_lifetime_ms: 120_000,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
        }
    }
}

impl ServerConfig {
    /// The first limit that is zero (every limit must be positive), by key name.
    fn zero_key(&self) -> Option<&'static str> {
        [
            ("max_in_flight", self.max_in_flight.is_some_and(|n| n == 0)),
            ("max_connections", self.max_connections == 0),
            (
                "max_connections_per_peer",
                self.max_connections_per_peer == 0,
            ),
            ("header_read_timeout_ms", self.header_read_timeout_ms == 0),
            ("idle_timeout_ms", self.idle_timeout_ms == 0),
            (
                "max_requests_per_connection",
                self.max_requests_per_connection == 0,
            ),
            (
                "max_connection_lifetime_ms",
                self.max_connection_lifetime_ms == 0,
            ),
            ("max_header_bytes", self.max_header_bytes == 0),
            ("max_headers", self.max_headers == 0),
        ]
        .into_iter()
        .find_map(|(key, zero)| zero.then_some(key))
    }
}

/// Trace export of `mig06 serve` (the `[telemetry]` table; every key optional). The library
/// only carries it: the binary exports, on a thread of its own, and an attempt never waits for
/// it (`docs/CONFIG.md`, `docs/OPERATIONS.md`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// The base URL of an OpenTelemetry collector's OTLP/HTTP receiver (`http://host:4318`):
    /// spans are sent as protobuf to its `/v1/traces`. `None` (the default): no export.
    pub otlp_endpoint: Option<String>,
    /// Spans waiting for export, at most; a span that ends while the queue is full is dropped
    /// and counted, never waited for.
    pub otlp_queue_spans: usize,
    /// The bound of one export request (connect, send, answer), in milliseconds; a batch that
    /// fails or passes it is dropped and counted, never sent again.
    pub otlp_timeout_ms: u64,
}

/// The most spans `otlp_queue_spans` may hold.
pub const MAX_OTLP_QUEUE_SPANS: usize = 65_536;
/// The longest `otlp_timeout_ms`.
pub const MAX_OTLP_TIMEOUT_MS: u64 = 60_000;

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            otlp_queue_spans: 512,
            otlp_timeout_ms: 2_000,
        }
    }
}

impl TelemetryConfig {
    /// What is wrong with the table, if anything (a message naming the key, never a value).
    fn problem(&self) -> Option<String> {
        if !(1..=MAX_OTLP_QUEUE_SPANS).contains(&self.otlp_queue_spans) {
            return Some(format!(
                "telemetry.otlp_queue_spans must be between 1 and {MAX_OTLP_QUEUE_SPANS}"
            ));
        }
        if !(1..=MAX_OTLP_TIMEOUT_MS).contains(&self.otlp_timeout_ms) {
            return Some(format!(
                "telemetry.otlp_timeout_ms must be between 1 and {MAX_OTLP_TIMEOUT_MS}"
            ));
        }
        let endpoint = self.otlp_endpoint.as_deref()?;
        let host = endpoint.strip_prefix("http://").unwrap_or_default();
        if endpoint.starts_with("https://") {
            return Some("telemetry.otlp_endpoint: https is not built in; send to a collector on this host or network over http:// and let it forward with TLS".into());
        }
        if host.is_empty()
            || host.starts_with('/')
            || endpoint
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Some(
                "telemetry.otlp_endpoint must be an http:// URL such as http://127.0.0.1:4318"
                    .into(),
            );
        }
        None
    }

    /// The URL spans are sent to: the endpoint's `/v1/traces`.
    #[must_use]
    pub fn traces_url(&self) -> Option<String> {
        self.otlp_endpoint
            .as_deref()
            .map(|e| format!("{}/v1/traces", e.trim_end_matches('/')))
    }
}

/// Where the audit log lives (the `[audit]` table).
#[derive(Clone, PartialEq, Eq)]
pub enum AuditBackend {
    /// The embedded file store in `data_dir/audit` (the default): one machine.
    File,
    /// A PostgreSQL database that several rail instances share (built by the binary).
    Postgres(PostgresAudit),
}

impl std::fmt::Debug for AuditBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File => f.write_str("File"),
            Self::Postgres(p) => f.debug_tuple("Postgres").field(p).finish(),
        }
    }
}

/// A PostgreSQL audit store's connection settings.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresAudit {
    url: UrlSource,
    /// How long one connection attempt may take.
    pub connect_timeout: std::time::Duration,
}

#[derive(Clone, PartialEq, Eq)]
enum UrlSource {
    Literal(String),
    /// Read when connecting, so commands that never connect need not have it.
    Env(String),
}

impl PostgresAudit {
    /// Connection settings from a URL (or key=value string) and a connect timeout (as the
    /// `[audit]` table gives them).
    #[must_use]
    pub fn new(url: String, connect_timeout: std::time::Duration) -> Self {
        Self {
            url: UrlSource::Literal(url),
            connect_timeout,
        }
    }

    /// The connection URL (or key=value string). It may hold a password: never log it.
    ///
    /// # Errors
    /// A message naming the environment variable when `url_env` names one that is not set.
    pub fn url(&self) -> Result<String, String> {
        match &self.url {
            UrlSource::Literal(u) => Ok(u.clone()),
            UrlSource::Env(var) => std::env::var(var).map_err(|_| {
                format!("audit.url_env names the environment variable {var}, which is not set")
            }),
        }
    }
}

impl std::fmt::Debug for PostgresAudit {
    // The URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresAudit")
            .field("url", &"<redacted>")
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawBackend {
    #[default]
    File,
    Postgres,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawAudit {
    backend: RawBackend,
    url: Option<String>,
    url_env: Option<String>,
    connect_timeout_ms: Option<u64>,
    witnesses: Vec<WitnessConfig>,
    witness_quorum: Option<usize>,
}

/// One witness of the log (`[[audit.witnesses]]`): C2SP `tlog-witness`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// The witness's name, as in its verifier key.
    pub name: String,
    /// Its submission prefix: `add-checkpoint` is posted to `URL/add-checkpoint`.
    pub url: String,
    /// Its verifier key (C2SP vkey: `name+hexkeyid+base64(0x04 || Ed25519 public key)`).
    pub vkey: String,
}

/// The log's witnesses and how many of them must cosign before a step executes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WitnessesConfig {
    /// The witnesses, in the order they are asked.
    pub list: Vec<WitnessConfig>,
    /// How many must cosign (k of n); 0 when there are none.
    pub quorum: usize,
}

impl RawAudit {
    fn witnesses(&mut self, path: &Path) -> Result<WitnessesConfig, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let list = std::mem::take(&mut self.witnesses);
        let mut names = BTreeSet::new();
        for w in &list {
            if w.name.is_empty() || !names.insert(w.name.clone()) {
                return Err(invalid(
                    "each [[audit.witnesses]] needs its own non-empty name".into(),
                ));
            }
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return Err(invalid(format!(
                    "audit.witnesses {}: url must start with http:// or https://",
                    w.name
                )));
            }
            if !w.vkey.starts_with(&format!("{}+", w.name)) {
                return Err(invalid(format!(
                    "audit.witnesses {}: vkey must be the witness's verifier key, whose name is the witness's name",
                    w.name
                )));
            }
        }
        // Without a stated quorum every witness must cosign: the strictest reading.
        let quorum = self.witness_quorum.unwrap_or(list.len());
        if list.is_empty() && quorum != 0 {
            return Err(invalid(
                "audit.witness_quorum is set but no [[audit.witnesses]] are listed".into(),
            ));
        }
        if !list.is_empty() && (quorum == 0 || quorum > list.len()) {
            return Err(invalid(format!(
                "audit.witness_quorum must be between 1 and the number of witnesses ({})",
                list.len()
            )));
        }
        Ok(WitnessesConfig { list, quorum })
    }
}

impl RawAudit {
    fn resolve(self, path: &Path) -> Result<AuditBackend, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        match self.backend {
            RawBackend::File => {
                if self.url.is_some() || self.url_env.is_some() {
                    return Err(invalid(
                        "audit.url and audit.url_env apply to backend = \"postgres\" only".into(),
                    ));
                }
                Ok(AuditBackend::File)
            }
            RawBackend::Postgres => {
                let url = match (self.url, self.url_env) {
                    (Some(url), None) => UrlSource::Literal(url),
                    (None, Some(var)) => UrlSource::Env(var),
                    (Some(_), Some(_)) => {
                        return Err(invalid(
                            "give one of audit.url and audit.url_env, not both".into(),
                        ));
                    }
                    (None, None) => {
                        return Err(invalid(
                            "backend = \"postgres\" needs audit.url or audit.url_env".into(),
                        ));
                    }
                };
                let ms = self
                    .connect_timeout_ms
                    .unwrap_or(DEFAULT_CONNECT_TIMEOUT_MS);
                if ms == 0 {
                    return Err(invalid("audit.connect_timeout_ms must be positive".into()));
                }
                Ok(AuditBackend::Postgres(PostgresAudit {
                    url,
                    connect_timeout: std::time::Duration::from_millis(ms),
                }))
            }
        }
    }
}

/// How long one connection attempt to the audit database may take by default: an attempt that
/// finds the database unreachable ends `ABORTED_AUDIT_UNCONFIRMED` within it.
const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 2_000;

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
    #[serde(default)]
    server: ServerConfig,
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    telemetry: TelemetryConfig,
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
    /// Limits of the HTTP service.
    pub server: ServerConfig,
    /// Where the audit log lives.
    pub audit: AuditBackend,
    /// The log's witnesses (`[[audit.witnesses]]`, `audit.witness_quorum`); none by default,
    /// and then the store alone confirms an append.
    pub witnesses: WitnessesConfig,
    /// Trace export (`[telemetry]`); off by default.
    pub telemetry: TelemetryConfig,
}

impl Config {
    /// Reads and checks a configuration file.
    ///
    /// # Errors
    /// [`ConfigError`] when the file cannot be read, does not parse, names a trigger outside the
    /// closed set, lists a caller twice, gives two callers the same credential digest, or sets
    /// a server limit to zero.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    // INV-CONFIG-UNIQUE-CREDENTIALS: a configuration in which two callers share a credential digest
    // is refused here, at load.
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
            if c.retiring_credential_sha256.is_some() && c.credential_sha256.is_none() {
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    message: format!(
                        "caller {} has retiring_credential_sha256 but no credential_sha256",
                        c.id
                    ),
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
        // Two callers with one credential digest: a bearer credential would admit whichever
        // matched last, so the identity an attempt is recorded under would be arbitrary. Name
        // both callers, never the digest (it identifies the credential).
        let digests: Vec<(&CallerConfig, &Sha256Digest)> = raw
            .callers
            .iter()
            .flat_map(|c| {
                [&c.credential_sha256, &c.retiring_credential_sha256]
                    .into_iter()
                    .flatten()
                    .map(move |d| (c, d))
            })
            .collect();
        for (i, (a, digest)) in digests.iter().enumerate() {
            if let Some((b, _)) = digests.iter().skip(i + 1).find(|(_, d)| d == digest) {
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    message: format!(
                        "callers {} and {} have the same credential_sha256: each caller needs its own credential",
                        a.id, b.id
                    ),
                });
            }
        }
        if let Some(key) = raw.server.zero_key() {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: format!("server.{key} must be positive"),
            });
        }
        if let Some(message) = raw.telemetry.problem() {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message,
            });
        }
        if raw.attempt_timeout_ms == 0 {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: "attempt_timeout_ms must be positive".into(),
            });
        }
        let mut raw_audit = raw.audit;
        let witnesses = raw_audit.witnesses(path)?;
        let audit = raw_audit.resolve(path)?;
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
            server: raw.server,
            audit,
            witnesses,
            telemetry: raw.telemetry,
        })
    }

    /// The registration of an approved caller.
    #[must_use]
    pub fn caller(&self, id: &CallerId) -> Option<&CallerConfig> {
        self.callers.iter().find(|c| &c.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
data_dir = "data"
policy_bundle = "policy"
policy_digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
signing_key = "keys/log.key"
[executor]
kind = "reference"
"#;

    fn caller(id: &str, digest: &str) -> String {
        format!(
            "[[callers]]\nid = \"{id}\"\nkind = \"service\"\ntriggers = [\"service_explicit\"]\ncredential_sha256 = \"sha256:{digest}\"\n"
        )
    }

    #[test]
    fn telemetry_is_off_by_default_and_its_keys_are_bounded() {
        let path = Path::new("/x/mig06.toml");
        let c = Config::parse(path, BASE).unwrap();
        assert_eq!(c.telemetry, TelemetryConfig::default());
        assert_eq!(c.telemetry.traces_url(), None);
        let on = Config::parse(
            path,
            &format!("{BASE}[telemetry]\notlp_endpoint = \"http://127.0.0.1:4318/\"\n"),
        )
        .unwrap();
        assert_eq!(
            on.telemetry.traces_url().as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        for bad in [
            "otlp_endpoint = \"https://collector:4318\"",
            "otlp_endpoint = \"collector:4318\"",
            "otlp_endpoint = \"http://\"",
            "otlp_endpoint = \"http://a b\"",
            "otlp_queue_spans = 0",
            "otlp_queue_spans = 65537",
            "otlp_timeout_ms = 0",
            "otlp_timeout_ms = 60001",
            "otlp_batch = 4",
        ] {
            let text = format!("{BASE}[telemetry]\n{bad}\n");
            assert!(Config::parse(path, &text).is_err(), "{bad}");
        }
    }

    #[test]
    fn inv_config_unique_credentials_two_callers_with_one_digest_are_refused_naming_both() {
        let same = "ab".repeat(32);
        let other = "cd".repeat(32);
        let text = format!(
            "{BASE}{}{}{}",
            caller("svc-a", &same),
            caller("svc-b", &other),
            caller("svc-c", &same)
        );
        let Err(ConfigError::Invalid { message, .. }) =
            Config::parse(Path::new("/x/mig06.toml"), &text)
        else {
            panic!("two callers with one credential digest were accepted");
        };
        assert!(
            message.contains("svc-a") && message.contains("svc-c"),
            "{message}"
        );
        assert!(!message.contains("svc-b"), "{message}");
        assert!(
            !message.contains(&same),
            "the error must not carry the digest"
        );
        // Distinct digests load.
        let text = format!(
            "{BASE}{}{}",
            caller("svc-a", &same),
            caller("svc-b", &other)
        );
        assert_eq!(
            Config::parse(Path::new("/x/mig06.toml"), &text)
                .unwrap()
                .callers
                .len(),
            2
        );
    }

    #[test]
    fn server_limits_default_and_refuse_zero() {
        let cfg = Config::parse(Path::new("/x/mig06.toml"), BASE).unwrap();
        assert_eq!(cfg.server, ServerConfig::default());
        let text = format!("{BASE}\n[server]\nmax_in_flight = 3\nidle_timeout_ms = 250\n");
        let cfg = Config::parse(Path::new("/x/mig06.toml"), &text).unwrap();
        assert_eq!(cfg.server.max_in_flight, Some(3));
        assert_eq!(cfg.server.idle_timeout_ms, 250);
        let text = format!("{BASE}\n[server]\nmax_connections_per_peer = 0\n");
        let Err(ConfigError::Invalid { message, .. }) =
            Config::parse(Path::new("/x/mig06.toml"), &text)
        else {
            panic!("a zero limit was accepted");
        };
        assert!(
            message.contains("server.max_connections_per_peer"),
            "{message}"
        );
        let text = format!("{BASE}\n[server]\nmax_inflight = 3\n");
        assert!(Config::parse(Path::new("/x/mig06.toml"), &text).is_err());
    }
}
