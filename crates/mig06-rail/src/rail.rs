//! The rail: one explicitly invoked attempt, one synchronous call, one terminal outcome.
//!
//! The decision that matters: [`Rail::attempt`] is a plain function on the caller's thread. It
//! holds no state between attempts beyond what was loaded at start-up (configuration, policy
//! bundle, detector, the audit store's handle), and it never starts an attempt by itself: there is
//! no timer, loop, queue or callback anywhere in this crate that calls it.
//!
//! INV-NO-DURABLE-STATE: No durable orchestration/workflow state.

use std::panic::{AssertUnwindSafe, catch_unwind};

use mig06_tlog::checkpoint::{LogSigner, LogVerifier};
use mig06_tlog::rotation::LogKeys;

use crate::attempt::{Attempt, SharedStore, TerminalFlag};
use crate::audit::file::{FileStore, OpenReport};
use crate::audit::group::GroupCommit;
use crate::audit::{AuditError, AuditRecord, AuditStore, TERMINAL_APPEND_MARGIN};
use crate::auth;
use crate::auth::{AuthError, AuthenticatedCaller};
use crate::config::{AuditBackend, Config, ExecutorConfig};
use crate::executor::command::CommandExecutor;
use crate::executor::reference::ReferenceExecutor;
use crate::executor::{Deadline, Executor};
use crate::ids::{AttemptId, Sha256Digest};
use crate::outcome::{Detail, Outcome, Provenance, Reason, TerminalCode};
use crate::policy::{PolicyError, PolicyGate};
use crate::request::PhiScan;
use crate::telemetry::{self, ExecutorOutcome, ObservedStore, Stage, StageTimes, TraceContext};
use crate::witness::{Witness, Witnesses};

/// How long [`Rail::ready`] waits for the audit store's turn (another caller's batch or read
/// may hold it) before it answers not ready.
pub const READY_TURN_WAIT: std::time::Duration = TERMINAL_APPEND_MARGIN;

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
    #[error("PHI detector")]
    Detector(#[source] mig06_phi::DetectorError),
    /// The signing key file could not be read.
    #[error("log signing key {path}")]
    KeyRead {
        /// The key file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The signing key file does not hold a key.
    #[error("log signing key {path}")]
    KeyInvalid {
        /// The key file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        source: mig06_tlog::checkpoint::CheckpointError,
    },
    /// The configured executor needs a binary-level component (the HTTP executor).
    #[error("executor kind http must be supplied by the binary")]
    ExecutorNotSupplied,
    /// The configured audit backend needs a binary-level component (the PostgreSQL store).
    #[error("audit backend postgres must be supplied by the binary")]
    StoreNotSupplied,
}

/// What group commit and the audit store counted ([`Rail::audit_syncs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditSyncs {
    /// How many times the store synced its log; `None` when the store does not count, or its
    /// lock is poisoned.
    pub syncs: Option<u64>,
    /// How many batches group commit handed the store; `None` when its lock is poisoned.
    pub batches: Option<u64>,
}

/// The rail, loaded once at start-up.
pub struct Rail {
    config: Config,
    gate: PolicyGate,
    detector: Box<dyn PhiScan + Send + Sync>,
    store: SharedStore,
    executor: Box<dyn Executor>,
    /// The log's key schedule: continuations' tokens are verified with the key in force at
    /// their checkpoint's size.
    keys: LogKeys,
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
/// [`RailError::KeyRead`] when the file cannot be read, [`RailError::KeyInvalid`] when it is
/// not a key.
pub fn load_signer(config: &Config) -> Result<LogSigner, RailError> {
    let path = &config.signing_key;
    let text = std::fs::read_to_string(path).map_err(|source| RailError::KeyRead {
        path: path.clone(),
        source,
    })?;
    LogSigner::from_private_key(text.trim()).map_err(|source| RailError::KeyInvalid {
        path: path.clone(),
        source,
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
        let detector = mig06_phi::Detector::new().map_err(RailError::Detector)?;
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
        // INV-KEY-EPOCH: the store's key schedule (its rotations), so that tokens of every
        // epoch are checked; a store that keeps no rotations has the one key.
        let keys = store
            .log_keys()
            .unwrap_or_else(|| LogKeys::single(verifier.clone()));
        let mut rail =
            Self::from_parts(config, gate, Box::new(detector), store, executor, verifier);
        rail.keys = keys;
        rail.store.note_size(open_report.records);
        telemetry::store_opened(
            &open_report,
            match rail.config.audit {
                AuditBackend::File => "file",
                AuditBackend::Postgres(_) => "postgres",
            },
        );
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
        // Witnesses the configuration lists but nobody supplied can never reach the quorum, so
        // no step runs until the binary supplies them ([`Rail::with_witnesses`]).
        let unsupplied = Witnesses::new(Vec::new(), config.witnesses.quorum);
        Self {
            config,
            gate,
            detector,
            store: GroupCommit::new(Box::new(ObservedStore::new(store))).with_witnesses(unsupplied),
            executor,
            keys: LogKeys::single(verifier),
            open_report: OpenReport::default(),
        }
    }

    /// The rail with the witnesses the configuration lists, built by the binary (the library
    /// holds no HTTP client), in the configuration's order. The quorum is the configuration's.
    #[must_use]
    pub fn with_witnesses(mut self, witnesses: Vec<Box<dyn Witness>>) -> Self {
        let quorum = self.config.witnesses.quorum;
        self.store = self.store.with_witnesses(Witnesses::new(witnesses, quorum));
        self
    }

    /// The witnesses and the rollback latch (for `/metrics` and readiness).
    #[must_use]
    pub fn witnesses(&self) -> &Witnesses {
        self.store.witnesses()
    }

    /// What opening the audit store found (records, a torn tail that was cut).
    #[must_use]
    pub fn audit_open_report(&self) -> &OpenReport {
        &self.open_report
    }

    /// What group commit and the audit store counted since the rail opened.
    #[must_use]
    pub fn audit_syncs(&self) -> AuditSyncs {
        AuditSyncs {
            syncs: self.store.with_store(|s| Ok(s.syncs())).ok().flatten(),
            batches: self.store.batches().ok(),
        }
    }

    /// The audit log's size (records) as this instance last saw it: at open, or after its own
    /// latest append. Never waits for the store.
    #[must_use]
    pub fn log_size(&self) -> u64 {
        self.store.known_size()
    }

    /// Whether the rail would accept an attempt's append now: no rollback or fork was detected
    /// (the latch), the quorum of witnesses cosigned the last batch submitted to them (both
    /// known in memory: no witness round trip), and the audit store is reachable and caught up
    /// (`GET /v1/ready`). Not a promise: the next append may still fail, and then fails closed
    /// as always. Waits for the store's turn at most [`READY_TURN_WAIT`] (a batch or an
    /// attempt's read may hold it), then the store answers within its own bound (the
    /// PostgreSQL store: `audit.connect_timeout_ms`).
    ///
    /// # Errors
    /// The reason it would not (see [`telemetry::audit_error_code`]): `log_rollback`,
    /// `witness_unconfirmed`, the store's, or [`AuditError::BoundPassed`] when the store stayed
    /// busy for [`READY_TURN_WAIT`].
    pub fn ready(&self) -> Result<(), AuditError> {
        // INV-WITNESSED-READY: the witnesses' facts first, in memory; then the store's.
        self.store.witnesses().ready()?;
        self.store
            .with_store_by(Deadline::after(READY_TURN_WAIT), |s| s.ready())
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

    /// The log's verifier: the key in force.
    #[must_use]
    pub fn verifier(&self) -> &LogVerifier {
        self.keys.current()
    }

    /// The log's key schedule: its genesis key, its rotations, the key in force.
    #[must_use]
    pub fn log_keys(&self) -> &LogKeys {
        &self.keys
    }

    // INV-EXPLICIT-INVOCATION: Attempts exist only when explicitly invoked by an approved caller
    // context.
    /// Admits a local caller by id: see [`auth::local_caller`].
    ///
    /// # Errors
    /// [`AuthError::UnknownCaller`].
    pub fn local_caller(&self, id: &str) -> Result<AuthenticatedCaller, AuthError> {
        auth::local_caller(&self.config, id)
    }

    /// Admits a caller by bearer credential and, when the caller is pinned to one, client
    /// certificate: see [`auth::bearer_caller`].
    ///
    /// # Errors
    /// [`AuthError::BadCredential`], [`AuthError::ClientCertificate`].
    pub fn bearer_caller(
        &self,
        credential: &[u8],
        client_cert: Option<&Sha256Digest>,
    ) -> Result<AuthenticatedCaller, AuthError> {
        auth::bearer_caller(&self.config, credential, client_cert)
    }

    /// Whether any approved caller is pinned to a client certificate (such a caller can only
    /// be admitted over TLS).
    #[must_use]
    pub fn pins_client_certificates(&self) -> bool {
        auth::pins_client_certificates(&self.config)
    }

    // INV-NO-AUTONOMY: No self-triggering, self-expansion, self-resumption.
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

    // INV-ADMISSION-BOUNDED: The server never queues an attempt it cannot start: attempts in flight
    // are bounded.
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
        self.attempt_traced(caller, request, deadline, None)
    }

    /// As [`Rail::attempt_by`], in a W3C trace context (the HTTP service: from the request's
    /// `traceparent`): its trace id goes on the attempt's records and its operations-log event,
    /// and the executor gets the context to pass downstream.
    #[must_use]
    pub fn attempt_traced(
        &self,
        caller: &AuthenticatedCaller,
        request: &[u8],
        deadline: Deadline,
        trace: Option<&TraceContext>,
    ) -> Outcome {
        let id = AttemptId::mint();
        let written = TerminalFlag::default();
        let trace_id = trace.map(TraceContext::trace_id);
        let run = catch_unwind(AssertUnwindSafe(|| {
            self.run(id.clone(), caller, request, deadline, &written, trace)
        }));
        match run {
            Ok(outcome) => outcome,
            Err(_) => {
                let outcome = self.invariant_abort(id, caller, &written, deadline, trace);
                telemetry::attempt_finished(
                    &outcome,
                    caller.id().as_str(),
                    &StageTimes::default(),
                    ExecutorOutcome::NotRun,
                    trace_id.as_deref(),
                    None,
                );
                outcome
            }
        }
    }

    /// The attempt's stages in order, each once (INV-NO-RETRY); the first that fails ends it,
    /// and its one terminal record is written by the one `record` call. Each stage is timed for
    /// the operations log ([`telemetry::attempt_finished`]), emitted after the outcome is
    /// decided and recorded, so it cannot change it.
    fn run(
        &self,
        id: AttemptId,
        caller: &AuthenticatedCaller,
        request: &[u8],
        deadline: Deadline,
        written: &TerminalFlag,
        trace: Option<&TraceContext>,
    ) -> Outcome {
        let received = Attempt::receive(id, caller.clone(), deadline, self.gate.digest())
            .with_trace(trace.map(|t| t.scrubbed(self.detector.as_ref())));
        let mut times = StageTimes::default();
        let mut executor = ExecutorOutcome::NotRun;
        #[expect(
            clippy::result_large_err,
            reason = "the error is the attempt itself, moved once to its ending, never stored"
        )]
        let executed = || {
            let parsed = times.time(Stage::Parse, || {
                received.parse(
                    request,
                    self.config.max_request_bytes,
                    &self.gate,
                    self.detector.as_ref(),
                )
            })?;
            let checked = times.time(Stage::ContinuationCheck, || {
                parsed.check_continuation(&self.store, &self.keys)
            })?;
            let permitted = times.time(Stage::PolicyGate, || checked.gate(&self.gate))?;
            let opened = times.time(Stage::OpenAppend, || permitted.open(&self.store))?;
            let done = times.time(Stage::Execute, || {
                opened.execute(self.executor.as_ref(), self.detector.as_ref())
            });
            executor = match &done {
                Ok(_) => ExecutorOutcome::Completed,
                Err(ending) => ExecutorOutcome::Ended(ending.code()),
            };
            done
        };
        let ending = match executed() {
            Ok(done) => done.complete(),
            Err(ending) => ending,
        };
        let terminal = times.time(Stage::TerminalAppend, || {
            ending.record(&self.store, written)
        });
        let record_index = terminal.record_index();
        let outcome = terminal.into_outcome();
        let trace_id = trace.map(TraceContext::trace_id);
        telemetry::attempt_finished(
            &outcome,
            caller.id().as_str(),
            &times,
            executor,
            trace_id.as_deref(),
            record_index,
        );
        outcome
    }

    /// The panic path (INV-FAIL-CLOSED): `ABORTED_INVARIANT`, recorded unless the attempt's
    /// terminal record was already written.
    fn invariant_abort(
        &self,
        id: AttemptId,
        caller: &AuthenticatedCaller,
        written: &TerminalFlag,
        deadline: Deadline,
        trace: Option<&TraceContext>,
    ) -> Outcome {
        let code = TerminalCode::AbortedInvariant;
        let detail = Detail::new("$rail", Reason::Panic);
        let recorded = written.is_set() || {
            let mut record = AuditRecord::terminal(
                id.clone(),
                caller.id().clone(),
                self.gate.digest(),
                code,
                Some(detail.clone()),
            );
            record.trace_id = trace.and_then(TraceContext::record_id);
            self.store
                .append(record, deadline.plus(TERMINAL_APPEND_MARGIN))
                .is_ok()
        };
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
            request_id_holder: None,
        }
    }
}
