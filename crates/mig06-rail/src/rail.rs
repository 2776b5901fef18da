//! The rail: one explicitly invoked attempt, one synchronous call, one terminal outcome.
//!
//! The decision that matters: [`Rail::attempt`] is a plain function on the caller's thread. It
//! holds no state between attempts beyond what was loaded at start-up (configuration, policy
//! bundle, detector, the audit store's handle), and it never starts an attempt by itself: there is
//! no timer, loop, queue or callback anywhere in this crate that calls it.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use mig06_tlog::checkpoint::{LogSigner, LogVerifier};

use crate::attempt::{Attempt, SharedStore, TerminalFlag};
use crate::audit::file::{FileStore, OpenReport};
use crate::audit::group::GroupCommit;
use crate::audit::{AuditError, AuditRecord, AuditStore, RecordKind, now_rfc3339};
use crate::config::{AuditBackend, CallerConfig, CallerKind, Config, ExecutorConfig};
use crate::executor::command::CommandExecutor;
use crate::executor::reference::ReferenceExecutor;
use crate::executor::{Deadline, Executor};
use crate::ids::{AttemptId, CallerId, Sha256Digest};
use crate::outcome::{Detail, Outcome, Provenance, Reason, TerminalCode};
use crate::policy::{PolicyError, PolicyGate};
use crate::request::{PhiScan, Trigger};

/// Errors starting the rail. The rail refuses to start rather than run half-configured.
#[derive(Debug, thiserror::Error)]
pub enum RailError {
    /// The policy bundle failed to load or its digest differs from the pinned one.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The audit store failed to open.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The PHI detector failed to build.
    #[error("PHI detector: {0}")]
    Detector(String),
    /// The signing key is missing or invalid.
    #[error("log signing key {path}: {message}")]
    Key {
        /// The key file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The configured executor needs a binary-level component (the HTTP executor).
    #[error("executor kind http must be supplied by the binary")]
    ExecutorNotSupplied,
    /// The configured audit backend needs a binary-level component (the PostgreSQL store).
    #[error("audit backend postgres must be supplied by the binary")]
    StoreNotSupplied,
}

/// Why a caller was not admitted. No attempt exists for an unauthenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No approved caller has that id.
    #[error("unknown caller")]
    UnknownCaller,
    /// No approved caller has that credential.
    #[error("invalid credential")]
    BadCredential,
    /// The caller is pinned to a client certificate and the connection did not present it.
    #[error("the caller's pinned client certificate was not presented")]
    ClientCertificate,
}

/// A caller the rail admitted: an approved caller from the configuration.
#[derive(Debug, Clone)]
pub struct AuthenticatedCaller {
    id: CallerId,
    kind: CallerKind,
    triggers: BTreeSet<Trigger>,
}

impl AuthenticatedCaller {
    /// The caller an approved registration admits (after `local_caller` or `bearer_caller`
    /// found it).
    fn admit(c: &CallerConfig) -> Self {
        Self {
            id: c.id.clone(),
            kind: c.kind,
            triggers: c.triggers.clone(),
        }
    }

    /// The caller's id.
    #[must_use]
    pub fn id(&self) -> &CallerId {
        &self.id
    }
    /// Operator or service.
    #[must_use]
    pub fn kind(&self) -> CallerKind {
        self.kind
    }
    /// The triggers registered for the caller.
    #[must_use]
    pub fn triggers(&self) -> &BTreeSet<Trigger> {
        &self.triggers
    }
}

/// The rail, loaded once at start-up.
pub struct Rail {
    config: Config,
    gate: PolicyGate,
    detector: Box<dyn PhiScan + Send + Sync>,
    store: SharedStore,
    executor: Box<dyn Executor>,
    verifier: LogVerifier,
    open_report: OpenReport,
}

impl std::fmt::Debug for Rail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rail")
            .field("policy_digest", &self.gate.digest())
            .finish_non_exhaustive()
    }
}

/// Reads the log's signing key.
///
/// # Errors
/// [`RailError::Key`] when the file is missing or not a key.
pub fn load_signer(config: &Config) -> Result<LogSigner, RailError> {
    let text = std::fs::read_to_string(&config.signing_key).map_err(|e| RailError::Key {
        path: config.signing_key.clone(),
        message: e.to_string(),
    })?;
    LogSigner::from_private_key(text.trim()).map_err(|e| RailError::Key {
        path: config.signing_key.clone(),
        message: e.to_string(),
    })
}

/// The audit directory under a data directory.
#[must_use]
pub fn audit_dir(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("audit")
}

impl Rail {
    /// Loads everything the configuration names: the policy bundle (checked against its pinned
    /// digest and validated strictly), the detector, the signing key, the audit store, and the
    /// executor (`executor` must be given for kind `http`).
    ///
    /// # Errors
    /// [`RailError`] when any part fails; the rail does not start half-configured.
    pub fn open(config: Config, executor: Option<Box<dyn Executor>>) -> Result<Self, RailError> {
        Self::open_with(config, None, executor)
    }

    /// As [`Rail::open`], with the audit store the binary built for a backend the library does
    /// not hold (PostgreSQL) and what opening it found; `None` opens the configured file store.
    ///
    /// # Errors
    /// As [`Rail::open`]; [`RailError::StoreNotSupplied`] when the configuration names the
    /// PostgreSQL backend and no store is given.
    pub fn open_with(
        config: Config,
        store: Option<(Box<dyn AuditStore>, OpenReport)>,
        executor: Option<Box<dyn Executor>>,
    ) -> Result<Self, RailError> {
        let gate = PolicyGate::load(&config.policy_bundle, Some(&config.policy_digest))?;
        let detector =
            mig06_phi::Detector::new().map_err(|e| RailError::Detector(e.to_string()))?;
        let signer = load_signer(&config)?;
        let verifier = signer.verifier();
        let (store, open_report): (Box<dyn AuditStore>, OpenReport) = match (&config.audit, store) {
            (_, Some(supplied)) => supplied,
            (AuditBackend::File, None) => {
                let store = FileStore::open(&audit_dir(&config), signer)?;
                let report = store.open_report().clone();
                (Box::new(store), report)
            }
            (AuditBackend::Postgres(_), None) => return Err(RailError::StoreNotSupplied),
        };
        let executor: Box<dyn Executor> = match (&config.executor, executor) {
            (_, Some(e)) => e,
            (ExecutorConfig::Reference, None) => Box::new(ReferenceExecutor::new(&config.data_dir)),
            (ExecutorConfig::Command { program, args }, None) => Box::new(CommandExecutor::new(
                program.clone(),
                args.clone(),
                config.data_dir.join("scratch"),
            )),
            (ExecutorConfig::Http { .. }, None) => return Err(RailError::ExecutorNotSupplied),
        };
        let mut rail =
            Self::from_parts(config, gate, Box::new(detector), store, executor, verifier);
        rail.store.note_size(open_report.records);
        rail.open_report = open_report;
        Ok(rail)
    }

    /// Assembles a rail from loaded parts (tests use this with a fake store or executor).
    #[must_use]
    pub fn from_parts(
        config: Config,
        gate: PolicyGate,
        detector: Box<dyn PhiScan + Send + Sync>,
        store: Box<dyn AuditStore>,
        executor: Box<dyn Executor>,
        verifier: LogVerifier,
    ) -> Self {
        Self {
            config,
            gate,
            detector,
            store: GroupCommit::new(store),
            executor,
            verifier,
            open_report: OpenReport::default(),
        }
    }

    /// What opening the audit store found (records, a torn tail that was cut).
    #[must_use]
    pub fn audit_open_report(&self) -> &OpenReport {
        &self.open_report
    }

    /// How many times the audit store synced its log (`None` when the store does not count, or
    /// its lock is poisoned), and how many batches group commit handed it.
    #[must_use]
    pub fn audit_syncs(&self) -> (Option<u64>, Option<u64>) {
        let syncs = self.store.with_store(|s| Ok(s.syncs())).ok().flatten();
        (syncs, self.store.batches().ok())
    }

    /// The audit log's size (records) as this instance last saw it: at open, or after its own
    /// latest append. Never waits for the store.
    #[must_use]
    pub fn log_size(&self) -> u64 {
        self.store.known_size()
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The policy bundle digest in force.
    #[must_use]
    pub fn policy_digest(&self) -> Sha256Digest {
        self.gate.digest()
    }

    /// The log's verifier.
    #[must_use]
    pub fn verifier(&self) -> &LogVerifier {
        &self.verifier
    }

    /// Admits a local caller by id (the CLI: whoever can read the configuration is trusted as
    /// that caller, as with an admin socket).
    ///
    /// # Errors
    /// [`AuthError::UnknownCaller`].
    pub fn local_caller(&self, id: &str) -> Result<AuthenticatedCaller, AuthError> {
        let id = CallerId::parse(id).map_err(|_| AuthError::UnknownCaller)?;
        self.config
            .caller(&id)
            .map(AuthenticatedCaller::admit)
            .ok_or(AuthError::UnknownCaller)
    }

    /// Admits a caller by bearer credential: SHA-256 of the credential, compared in constant
    /// time with every approved caller's digest. A caller with `client_cert_sha256` is admitted
    /// only when `client_cert` (the SHA-256 of the DER client certificate the TLS connection
    /// presented, `None` without TLS or without a certificate) equals it.
    ///
    /// # Errors
    /// [`AuthError::BadCredential`], [`AuthError::ClientCertificate`].
    pub fn bearer_caller(
        &self,
        credential: &[u8],
        client_cert: Option<&Sha256Digest>,
    ) -> Result<AuthenticatedCaller, AuthError> {
        let digest = Sha256Digest::of(credential);
        let mut found = None;
        for c in &self.config.callers {
            // Every caller is compared, matched or not, so timing does not reveal which matched.
            let matched = c
                .credential_sha256
                .as_ref()
                .is_some_and(|d| constant_time_eq(d.bytes(), digest.bytes()));
            if matched {
                found = Some(c);
            }
        }
        let c = found.ok_or(AuthError::BadCredential)?;
        if let Some(pinned) = &c.client_cert_sha256 {
            let presented =
                client_cert.is_some_and(|p| constant_time_eq(p.bytes(), pinned.bytes()));
            if !presented {
                return Err(AuthError::ClientCertificate);
            }
        }
        Ok(AuthenticatedCaller::admit(c))
    }

    /// Whether any approved caller is pinned to a client certificate (such a caller can only
    /// be admitted over TLS).
    #[must_use]
    pub fn pins_client_certificates(&self) -> bool {
        self.config
            .callers
            .iter()
            .any(|c| c.client_cert_sha256.is_some())
    }

    /// Runs one attempt to its one terminal outcome. Synchronous; calls each dependency at most
    /// once; a panic anywhere inside ends the attempt `ABORTED_INVARIANT`.
    #[must_use]
    pub fn attempt(&self, caller: &AuthenticatedCaller, request: &[u8]) -> Outcome {
        self.attempt_by(
            caller,
            request,
            Deadline::after(self.config.attempt_timeout),
        )
    }

    /// As [`Rail::attempt`], with a deadline the caller fixed when the request arrived (the HTTP
    /// service: `attempt_timeout` from the request's arrival, not from when a thread picked it
    /// up). An attempt whose deadline has already passed is never opened or executed: it ends
    /// `ABORTED_DEADLINE`.
    #[must_use]
    pub fn attempt_by(
        &self,
        caller: &AuthenticatedCaller,
        request: &[u8],
        deadline: Deadline,
    ) -> Outcome {
        let id = AttemptId::mint();
        let written = TerminalFlag::default();
        let run = catch_unwind(AssertUnwindSafe(|| {
            self.run(id.clone(), caller, request, deadline, &written)
        }));
        match run {
            Ok(outcome) => outcome,
            Err(_) => self.invariant_abort(id, caller, &written),
        }
    }

    fn run(
        &self,
        id: AttemptId,
        caller: &AuthenticatedCaller,
        request: &[u8],
        deadline: Deadline,
        written: &TerminalFlag,
    ) -> Outcome {
        let a = Attempt::receive(id, caller.clone(), deadline, self.gate.digest());
        let end =
            |e: Attempt<crate::attempt::Ending>| e.record(&self.store, written).into_outcome();
        let a = match a.parse(
            request,
            self.config.max_request_bytes,
            &self.gate,
            self.detector.as_ref(),
        ) {
            Ok(a) => a,
            Err(e) => return end(e),
        };
        let a = match a.check_continuation(&self.store, &self.verifier) {
            Ok(a) => a,
            Err(e) => return end(e),
        };
        let a = match a.gate(&self.gate) {
            Ok(a) => a,
            Err(e) => return end(e),
        };
        let a = match a.open(&self.store, written) {
            Ok(a) => a,
            Err(outcome) => return outcome,
        };
        match a.execute(self.executor.as_ref(), self.detector.as_ref()) {
            Ok(a) => end(a.complete()),
            Err(e) => end(e),
        }
    }

    fn invariant_abort(
        &self,
        id: AttemptId,
        caller: &AuthenticatedCaller,
        written: &TerminalFlag,
    ) -> Outcome {
        let code = TerminalCode::AbortedInvariant;
        let detail = Detail::new("$rail", Reason::Panic);
        let mut recorded = written.is_set();
        if !recorded {
            let record = AuditRecord {
                prev: String::new(),
                seq: 0,
                ts: now_rfc3339(),
                kind: RecordKind::Terminal,
                attempt_id: id.clone(),
                caller: caller.id().clone(),
                trigger: None,
                action: None,
                request_fp: None,
                policy_digest: self.gate.digest(),
                decision: None,
                code: Some(code),
                detail: Some(detail.clone()),
                draft_ref: None,
                content_sha256: None,
                continues: None,
                chain_root: id.clone(),
                depth: 0,
                reason: None,
                claim: false,
                deadline: None,
                sig: None,
            };
            recorded = self.store.append(record).is_ok();
        }
        Outcome {
            attempt_id: id.clone(),
            code,
            explanation: code.explanation(),
            message: Some("the rail failed closed on an unexpected condition".into()),
            policy_digest: self.gate.digest(),
            decision: None,
            detail: Some(detail),
            draft_ref: None,
            content_sha256: None,
            request_fingerprint: None,
            provenance: Provenance {
                continues: None,
                chain_root: id,
                depth: 0,
            },
            evidence: None,
            recorded,
        }
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
