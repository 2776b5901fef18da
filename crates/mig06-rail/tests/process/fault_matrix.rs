//! The fault matrix (issue 14): one fault at each boundary an attempt crosses, through the real
//! rail (the real policy gate, PHI detector and file store); fakes only for the executor and for
//! the injected faults. One table, one test. For every row:
//!
//! - the caller's answer: the expected terminal code, a refusal to start, or none (the process
//!   was killed);
//! - the executor was called as often as the row says (never more than once);
//! - the process's thread count (`Threads:` in `/proc/self/status`) is the same before and after
//!   the row, and before and after the restart below;
//! - after every attempt's deadline has passed, the rail restarts on the row's data directory,
//!   and the log then holds exactly the terminal record the row names for the attempt (an
//!   interrupted one ended `ABORTED_INTERRUPTED` by that restart, without running any step),
//!   every open record has its one terminal record, and `audit verify` passes.
//!
//! Means, stated plainly:
//! - **Disk full** is a small tmpfs that really fills up, when this process can mount one (root
//!   with `CAP_SYS_ADMIN`); otherwise an injected `StorageFull` I/O error from a wrapper around
//!   the real store. The test prints which it used. `MIG06_FAULT_MATRIX_NO_MOUNT=1` forces the
//!   fallbacks.
//! - **The store's directory made read-only**: root ignores permission bits, so `chmod` proves
//!   nothing here. With a tmpfs, the store is written, then the filesystem is remounted
//!   read-only (refused for root too); without one, a regular file is put in place of the audit
//!   directory. Either way the rail refuses to start. (A store already open keeps its files
//!   open, so a directory made read-only under a running rail is not a row.)
//! - **A crash** is a real `SIGKILL`: the test re-runs its own binary as a child that kills
//!   itself at the chosen point (between two steps of the attempt), and the restart happens in
//!   this process. Steps before the open record write nothing durable, so a crash anywhere
//!   before it leaves what the "before the open record" rows leave.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::*;
use mig06_rail::audit::file::FileStore;
use mig06_rail::audit::ledger::LogView;
use mig06_rail::audit::{Appended, AuditError, AuditRecord, AuditStore, RecordKind};
use mig06_rail::config::Config;
use mig06_rail::executor::{Deadline, Executor, ExecutorError, StepInput};
use mig06_rail::ids::AttemptId;
use mig06_rail::outcome::{Outcome, TerminalCode as C};
use mig06_rail::rail::{Rail, audit_dir, load_signer};
use serde_json::{Value, json};

/// The attempt deadline in every row (open records then carry it plus the store's grace).
const TIMEOUT: Duration = Duration::from_millis(400);
/// This test's name: the crash rows re-run the binary with `--exact` on it.
const THIS_TEST: &str = "fault_matrix::inv_fail_closed_fault_matrix_every_boundary_ends_once_calls_at_most_once_and_leaves_no_thread";
const CHILD_POINT: &str = "MIG06_FAULT_MATRIX_CRASH_AT";
const CHILD_CONFIG: &str = "MIG06_FAULT_MATRIX_CONFIG";
/// A PHI value used where a row needs one (a US SSN of the kind used in documentation).
const SSN: &str = "078-05-1120";

/// Where a crash child kills itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CrashAt {
    /// A continuation, while its evidence is checked against the log (before the gate).
    ContinuationCheck,
    /// A permitted attempt, at its open record, before it is written.
    BeforeOpen,
    /// After the open record is durable, before the step runs.
    AfterOpen,
    /// A continuation, after its open record (which holds its prior's claim) is durable.
    ContinuationAfterOpen,
    /// While the step runs (the executor was called).
    InStep,
    /// After the step returned a draft, before the terminal record is written.
    BeforeTerminal,
    /// A denied attempt, after the gate, before its (only) terminal record is written.
    DeniedBeforeTerminal,
    /// After the terminal record is durable, before the caller got the answer.
    AfterTerminal,
}

impl CrashAt {
    const ALL: [CrashAt; 8] = [
        CrashAt::ContinuationCheck,
        CrashAt::BeforeOpen,
        CrashAt::AfterOpen,
        CrashAt::ContinuationAfterOpen,
        CrashAt::InStep,
        CrashAt::BeforeTerminal,
        CrashAt::DeniedBeforeTerminal,
        CrashAt::AfterTerminal,
    ];
    fn name(self) -> String {
        format!("{self:?}")
    }
    fn from_name(s: &str) -> Self {
        *Self::ALL.iter().find(|p| p.name() == s).unwrap()
    }
    /// The store kills the process before appending a record of this kind.
    fn before(self, kind: RecordKind) -> bool {
        matches!(
            (self, kind),
            (CrashAt::BeforeOpen, RecordKind::Open)
                | (
                    CrashAt::BeforeTerminal | CrashAt::DeniedBeforeTerminal,
                    RecordKind::Terminal
                )
        )
    }
    /// The store kills the process once a record of this kind is durable.
    fn after(self, kind: RecordKind) -> bool {
        matches!(
            (self, kind),
            (
                CrashAt::AfterOpen | CrashAt::ContinuationAfterOpen,
                RecordKind::Open
            ) | (CrashAt::AfterTerminal, RecordKind::Terminal)
        )
    }
    fn continuation(self) -> bool {
        matches!(
            self,
            CrashAt::ContinuationCheck | CrashAt::ContinuationAfterOpen
        )
    }
}

/// The fault a row injects.
#[derive(Clone)]
enum Fault {
    /// None: the baseline, so the matrix can tell a fault from a set-up that always fails.
    None,
    /// The store fails the `n`th append (1: the open record, 2: the terminal record) with an
    /// I/O error.
    AppendFails(usize),
    /// The disk is full when the open record is written (`true`), or fills up while the step
    /// runs, so the terminal record does not fit (`false`).
    DiskFull { at_open: bool },
    /// A `forbid` whose condition fails at evaluation (integer overflow) is in the bundle.
    PolicyEvaluationError,
    /// The executor answers this.
    Executor(Answer),
    /// The executor's future never resolves.
    PendingFuture,
    /// A PHI value is put into the request by `edit`; the rail names `field`.
    Phi {
        edit: fn(&mut Value),
        field: &'static str,
    },
    /// `policies.cedar` does not parse (and its digest is pinned, so parsing is what fails).
    CorruptBundle,
    /// The bundle was edited after its digest was pinned.
    BundleEditedAfterPinning,
    /// The store's directory is read-only at start-up.
    ReadOnlyStore,
    /// The process is killed at this point of an attempt.
    Crash(CrashAt),
}

/// What the caller gets.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Answer(C),
    /// The rail refuses to start; the error says this.
    Refused(&'static str),
    /// No answer: the process died.
    Died,
}

struct Row {
    boundary: &'static str,
    fault: Fault,
    expect: Expect,
    /// Executor calls.
    calls: usize,
    /// The attempt's one terminal record in the log after its deadline and a restart (`None`:
    /// the attempt left no record at all).
    log: Option<C>,
}

fn row(boundary: &'static str, fault: Fault, expect: Expect, calls: usize, log: Option<C>) -> Row {
    Row {
        boundary,
        fault,
        expect,
        calls,
        log,
    }
}

fn rows() -> Vec<Row> {
    use Expect::{Answer as A, Died, Refused};
    let phi = |boundary, edit, field| {
        let fault = Fault::Phi { edit, field };
        row(
            boundary,
            fault,
            A(C::AbortedPhiDetected),
            0,
            Some(C::AbortedPhiDetected),
        )
    };
    let exec =
        |boundary, answer, code| row(boundary, Fault::Executor(answer), A(code), 1, Some(code));
    let crash = |boundary, at, calls, log| row(boundary, Fault::Crash(at), Died, calls, log);
    let late = Answer::Sleep(TIMEOUT + Duration::from_millis(300));
    let mut final_receipt = draft_receipt();
    final_receipt["disposition"] = json!("final");
    let mut phi_receipt = draft_receipt();
    phi_receipt["draft_ref"] = json!("jane.doe@example.org");
    vec![
        row(
            "no fault (baseline)",
            Fault::None,
            A(C::CompletedDraft),
            1,
            Some(C::CompletedDraft),
        ),
        // The audit store.
        row(
            "audit open record: I/O error",
            Fault::AppendFails(1),
            A(C::AbortedAuditUnconfirmed),
            0,
            None,
        ),
        row(
            "audit terminal record: I/O error",
            Fault::AppendFails(2),
            A(C::AbortedAuditUnconfirmed),
            1,
            Some(C::AbortedInterrupted),
        ),
        row(
            "disk full at the open record",
            Fault::DiskFull { at_open: true },
            A(C::AbortedAuditUnconfirmed),
            0,
            None,
        ),
        row(
            "disk full at the terminal record",
            Fault::DiskFull { at_open: false },
            A(C::AbortedAuditUnconfirmed),
            1,
            Some(C::AbortedInterrupted),
        ),
        // The policy gate.
        row(
            "policy evaluation error",
            Fault::PolicyEvaluationError,
            A(C::DeniedPolicy),
            0,
            Some(C::DeniedPolicy),
        ),
        // The executor.
        exec(
            "executor fault",
            Answer::Fail(ExecutorError::Fault(
                mig06_rail::executor::ExecutorFault::TransportError,
            )),
            C::AbortedExecutorFault,
        ),
        exec(
            "executor timeout (answers after the deadline)",
            late,
            C::AbortedDeadline,
        ),
        exec(
            "executor stopped at the deadline",
            Answer::Fail(ExecutorError::Deadline),
            C::AbortedDeadline,
        ),
        row(
            "executor pending future",
            Fault::PendingFuture,
            A(C::AbortedAsyncAmbiguity),
            1,
            Some(C::AbortedAsyncAmbiguity),
        ),
        exec(
            "executor not final (202)",
            Answer::Fail(ExecutorError::NotFinal(
                mig06_rail::executor::PendingAnswer::HttpStatus,
            )),
            C::AbortedAsyncAmbiguity,
        ),
        exec(
            "executor receipt pending",
            Answer::Raw(json!({"status": "pending"})),
            C::AbortedAsyncAmbiguity,
        ),
        exec(
            "executor non-draft receipt",
            Answer::Raw(final_receipt),
            C::AbortedOutputNotDraft,
        ),
        exec(
            "executor receipt with PHI",
            Answer::Raw(phi_receipt),
            C::AbortedPhiDetected,
        ),
        exec(
            "executor unreadable receipt",
            Answer::Raw(json!("garbage")),
            C::AbortedExecutorFault,
        ),
        exec("executor panics", Answer::Panic, C::AbortedInvariant),
        // PHI in each request field.
        phi(
            "PHI in request_id",
            |r| r["request_id"] = json!("jane.doe@example.org"),
            "$.request_id",
        ),
        phi(
            "PHI in trigger",
            |r| r["trigger"] = json!("4111 1111 1111 1111"),
            "$.trigger",
        ),
        phi("PHI in subject", |r| r["subject"] = json!(SSN), "$.subject"),
        phi(
            "PHI in steps[0].action",
            |r| r["steps"][0]["action"] = json!("Call 415-555-2671"),
            "$.steps[0].action",
        ),
        phi(
            "PHI in a parameter value",
            |r| r["steps"][0]["params"]["note_kind"] = json!(SSN),
            "$.steps[0].params.note_kind",
        ),
        phi(
            "PHI in a parameter name",
            |r| r["steps"][0]["params"]["John Smith 078-05-1120"] = json!(1),
            "$.steps[0].params.<key#1>",
        ),
        phi(
            "PHI in an unknown field",
            |r| r["notes"] = json!(SSN),
            "$.<key#1>",
        ),
        phi(
            "PHI in continuation.evidence",
            |r| r["continuation"] = json!({"evidence": SSN, "reason": "operator_amended_request"}),
            "$.continuation.evidence",
        ),
        phi(
            "PHI in continuation.reason",
            |r| r["continuation"] = json!({"evidence": "mig06ev1.AAAA", "reason": SSN}),
            "$.continuation.reason",
        ),
        // Start-up.
        row(
            "corrupt policy bundle",
            Fault::CorruptBundle,
            Refused("policies do not parse"),
            0,
            None,
        ),
        row(
            "policy bundle edited after pinning",
            Fault::BundleEditedAfterPinning,
            Refused("digest mismatch"),
            0,
            None,
        ),
        row(
            "the store's directory read-only",
            Fault::ReadOnlyStore,
            Refused("audit log I/O error"),
            0,
            None,
        ),
        // A crash between each pair of steps.
        crash(
            "crash in a continuation's evidence check",
            CrashAt::ContinuationCheck,
            0,
            None,
        ),
        crash(
            "crash before the open record is written",
            CrashAt::BeforeOpen,
            0,
            None,
        ),
        crash(
            "crash after the open record, before the step",
            CrashAt::AfterOpen,
            0,
            Some(C::AbortedInterrupted),
        ),
        crash(
            "crash of a continuation after its open record",
            CrashAt::ContinuationAfterOpen,
            0,
            Some(C::AbortedInterrupted),
        ),
        crash(
            "crash during the step",
            CrashAt::InStep,
            1,
            Some(C::AbortedInterrupted),
        ),
        crash(
            "crash after the step, before the terminal record",
            CrashAt::BeforeTerminal,
            1,
            Some(C::AbortedInterrupted),
        ),
        crash(
            "crash after a denial, before its terminal record",
            CrashAt::DeniedBeforeTerminal,
            0,
            None,
        ),
        crash(
            "crash after the terminal record, before the answer",
            CrashAt::AfterTerminal,
            1,
            Some(C::CompletedDraft),
        ),
    ]
}

/// A store around the real file store that fails an append or kills the process.
struct FaultyStore {
    fail_append: Option<(usize, std::io::ErrorKind)>,
    crash: Option<(CrashAt, PathBuf)>,
    appends: usize,
}

/// Ends this process as the crash harness does, with `SIGKILL`: nothing of it runs after this
/// (the page cache, so everything written so far, survives).
fn die(dir: &Path, attempt: &AttemptId) -> ! {
    std::fs::write(dir.join("crashed_attempt"), attempt.as_str()).unwrap();
    let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    std::process::abort()
}

impl AppendHook for FaultyStore {
    fn append_one(
        &mut self,
        inner: &mut dyn AuditStore,
        record: AuditRecord,
    ) -> Result<Appended, AuditError> {
        self.appends += 1;
        if let Some((n, kind)) = self.fail_append
            && n == self.appends
        {
            return Err(AuditError::Io {
                op: "append record",
                source: std::io::Error::new(kind, "injected"),
            });
        }
        if let Some((at, dir)) = &self.crash
            && at.before(record.kind())
        {
            die(dir, &record.attempt_id);
        }
        let (kind, id) = (record.kind(), record.attempt_id.clone());
        let appended = inner.append(record);
        if let Some((at, dir)) = &self.crash
            && at.after(kind)
            && appended.is_ok()
        {
            die(dir, &id);
        }
        appended
    }
    fn before_is_claim_held(&mut self, prior: &AttemptId) {
        if let Some((CrashAt::ContinuationCheck, dir)) = &self.crash {
            die(dir, prior);
        }
    }
}

fn faulty(config: &Config) -> Hooked<FaultyStore> {
    let signer = load_signer(config).unwrap();
    Hooked {
        inner: Box::new(FileStore::open(&audit_dir(config), signer).unwrap()),
        hook: FaultyStore {
            fail_append: None,
            crash: None,
            appends: 0,
        },
    }
}

/// Counts calls in a file, so that they survive the process (crash children).
struct FileCounting {
    dir: PathBuf,
    crash_in_step: bool,
}

impl Executor for FileCounting {
    fn execute(&self, input: &StepInput, _deadline: Deadline) -> Result<Value, ExecutorError> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("executor_calls"))
            .unwrap();
        f.write_all(b"x").unwrap();
        if self.crash_in_step {
            die(&self.dir, &input.attempt_id);
        }
        Ok(draft_receipt())
    }
}

/// Fills the filesystem holding `path` when called, then answers a draft.
struct DiskFiller {
    path: PathBuf,
    calls: Arc<AtomicUsize>,
}

impl Executor for DiskFiller {
    fn execute(&self, _input: &StepInput, _deadline: Deadline) -> Result<Value, ExecutorError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        fill(&self.path);
        Ok(draft_receipt())
    }
}

fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 4096];
    loop {
        match f.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// A tmpfs mounted for one row, unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path) -> Option<Tmpfs> {
        if std::env::var_os("MIG06_FAULT_MATRIX_NO_MOUNT").is_some() {
            return None;
        }
        std::fs::create_dir_all(path).unwrap();
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                "size=1m,mode=0700",
                "mig06-fault-matrix",
            ])
            .arg(path)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then(|| Tmpfs {
            path: path.to_owned(),
        })
    }
    fn remount_read_only(&self) {
        let ok = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.path)
            .status()
            .unwrap();
        assert!(ok.success(), "remount read-only");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

/// What the caller got.
enum Got {
    Outcome(Box<Outcome>),
    Refused(String),
    Died,
}

/// A row that ran, kept until the restart after the deadlines.
struct Ran {
    // Dropped before `setup`, so the tmpfs is unmounted before its directory is removed.
    tmpfs: Option<Tmpfs>,
    setup: Setup,
    config: Config,
    attempt: Option<AttemptId>,
    got: Got,
    calls: Box<dyn Fn() -> usize>,
    /// A file that filled the disk: removed before the restart (space freed).
    filler: Option<PathBuf>,
    /// Records in the log before a start-up that was refused.
    records_before: usize,
}

fn records(config: &Config) -> Vec<AuditRecord> {
    let text = std::fs::read_to_string(audit_dir(config).join("log.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn log_bytes(config: &Config) -> Vec<u8> {
    std::fs::read(audit_dir(config).join("log.jsonl")).unwrap_or_default()
}

fn counting(answer: Answer) -> (Box<dyn Executor>, Box<dyn Fn() -> usize>) {
    let exec = Counting::new(answer);
    let calls = exec.calls.clone();
    (
        Box::new(exec),
        Box::new(move || calls.load(Ordering::SeqCst)),
    )
}

fn run_attempt(rail: &Rail, req: &Value) -> Got {
    Got::Outcome(Box::new(attempt(rail, "operator-1", req)))
}

fn run(row: &Row) -> Ran {
    let setup = setup();
    let mut config = setup.config.clone();
    config.attempt_timeout = TIMEOUT;
    let mut ran = Ran {
        tmpfs: None,
        config: config.clone(),
        attempt: None,
        got: Got::Died,
        calls: Box::new(|| 0),
        filler: None,
        records_before: 0,
        setup,
    };
    let req = request("discharge_summary");
    match &row.fault {
        Fault::None | Fault::Executor(_) => {
            let answer = match &row.fault {
                Fault::Executor(a) => a.clone(),
                _ => Answer::Draft,
            };
            let (exec, calls) = counting(answer);
            let rail = Rail::open(config.clone(), Some(exec)).unwrap();
            ran.got = run_attempt(&rail, &req);
            ran.calls = calls;
        }
        Fault::AppendFails(n) => {
            let (exec, calls) = counting(Answer::Draft);
            let mut store = faulty(&config);
            store.hook.fail_append = Some((*n, std::io::ErrorKind::Other));
            let rail = rail_from_parts(&config, exec, Box::new(store));
            ran.got = run_attempt(&rail, &req);
            ran.calls = calls;
        }
        Fault::DiskFull { at_open } => disk_full(&mut ran, *at_open, &req),
        Fault::PolicyEvaluationError => {
            let bundle = &config.policy_bundle;
            let mut text = std::fs::read_to_string(bundle.join("policies.cedar")).unwrap();
            text.push_str(
                "\n@id(\"forbid-overflowing\")\nforbid (principal, action == Action::\"draft_note\", resource)\nwhen { context.continuation.depth + 9223372036854775807 + 1 > 0 };\n",
            );
            std::fs::write(bundle.join("policies.cedar"), text).unwrap();
            config.policy_digest = mig06_rail::policy::bundle_digest(bundle).unwrap().0;
            ran.config = config.clone();
            let (exec, calls) = counting(Answer::Draft);
            let rail = Rail::open(config.clone(), Some(exec)).unwrap();
            ran.got = run_attempt(&rail, &req);
            ran.calls = calls;
            if let Got::Outcome(o) = &ran.got {
                let d = o.decision.as_ref().unwrap();
                // Cedar skipped the erroring forbid and allowed (by the permit); the gate
                // turned the error into a deny, and the signal says so.
                assert!(d.errors, "the decision signal records the evaluation error");
                assert_eq!(d.policies, ["permit-operator-draft-note"]);
            }
        }
        Fault::PendingFuture => {
            let calls = Arc::new(AtomicUsize::new(0));
            let c = calls.clone();
            let exec = crate::common::FutureExecutor::new(move |_input| {
                c.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<Result<Value, ExecutorError>>()
            });
            let rail = Rail::open(config.clone(), Some(Box::new(exec))).unwrap();
            ran.got = run_attempt(&rail, &req);
            ran.calls = Box::new(move || calls.load(Ordering::SeqCst));
        }
        Fault::Phi { edit, field } => {
            let (exec, calls) = counting(Answer::Draft);
            let rail = Rail::open(config.clone(), Some(exec)).unwrap();
            let mut req = req.clone();
            edit(&mut req);
            let o = attempt(&rail, "operator-1", &req);
            let d = o.detail.clone().unwrap();
            assert_eq!(&d.field, field, "{}", row.boundary);
            assert!(d.reason.to_string().starts_with("phi:"), "{}", d.reason);
            // The rejected value reaches neither the answer nor the log.
            let text = serde_json::to_string(&o).unwrap();
            let log = String::from_utf8(log_bytes(&config)).unwrap();
            for s in [
                SSN,
                "jane.doe@example.org",
                "4111 1111 1111 1111",
                "415-555-2671",
                "John Smith",
            ] {
                assert!(
                    !text.contains(s) && !log.contains(s),
                    "{}: echoed",
                    row.boundary
                );
            }
            ran.got = Got::Outcome(Box::new(o));
            ran.calls = calls;
        }
        Fault::CorruptBundle | Fault::BundleEditedAfterPinning => {
            let bundle = &config.policy_bundle;
            let p = bundle.join("policies.cedar");
            if matches!(row.fault, Fault::CorruptBundle) {
                std::fs::write(&p, "permit (principal, action, resource) when { ((( };\n").unwrap();
                config.policy_digest = mig06_rail::policy::bundle_digest(bundle).unwrap().0;
                ran.config = config.clone();
            } else {
                let mut text = std::fs::read_to_string(&p).unwrap();
                text.push_str("\n@id(\"permit-all\")\npermit (principal, action, resource);\n");
                std::fs::write(&p, text).unwrap();
            }
            let (exec, calls) = counting(Answer::Draft);
            ran.got = Got::Refused(
                Rail::open(config.clone(), Some(exec))
                    .unwrap_err()
                    .to_string(),
            );
            ran.calls = calls;
        }
        Fault::ReadOnlyStore => read_only(&mut ran),
        Fault::Crash(at) => crash(&mut ran, *at),
    }
    if let Got::Outcome(o) = &ran.got {
        ran.attempt = Some(o.attempt_id.clone());
    }
    ran
}

/// Disk full: a tmpfs that really fills up when one can be mounted, else an injected error.
fn disk_full(ran: &mut Ran, at_open: bool, req: &Value) {
    let mnt = ran.setup.dir.path().join("tmpfs");
    let Some(tmpfs) = Tmpfs::mount(&mnt) else {
        eprintln!(
            "fault matrix: disk full is an injected StorageFull error (no tmpfs could be mounted)"
        );
        let (exec, calls) = counting(Answer::Draft);
        let mut store = faulty(&ran.config);
        store.hook.fail_append =
            Some((if at_open { 1 } else { 2 }, std::io::ErrorKind::StorageFull));
        let rail = rail_from_parts(&ran.config, exec, Box::new(store));
        ran.got = run_attempt(&rail, req);
        ran.calls = calls;
        return;
    };
    eprintln!("fault matrix: disk full is a 1 MiB tmpfs filled up");
    ran.config.data_dir = tmpfs.path.clone();
    ran.tmpfs = Some(tmpfs);
    let config = ran.config.clone();
    let filler = config.data_dir.join("filler");
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    ran.calls = Box::new(move || c.load(Ordering::SeqCst));
    ran.filler = Some(filler.clone());
    if at_open {
        let exec = Counting::new(Answer::Draft);
        let c = exec.calls.clone();
        ran.calls = Box::new(move || c.load(Ordering::SeqCst));
        let rail = Rail::open(config.clone(), Some(Box::new(exec))).unwrap();
        fill(&filler);
        ran.got = run_attempt(&rail, req);
        return;
    }
    // The terminal record must be the write that needs a new page: one completed attempt gives
    // the sizes of an open and a terminal record, then small records (refused requests) move
    // the log's end until the open record fits in its last page and the terminal record does
    // not. The executor then fills the disk.
    // tmpfs allocates whole pages.
    let page: u64 = Command::new("getconf")
        .arg("PAGESIZE")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096);
    let log_len = || std::fs::metadata(audit_dir(&config).join("log.jsonl")).map_or(0, |m| m.len());
    let (open_len, terminal_len) = {
        let rail =
            Rail::open(config.clone(), Some(Box::new(Counting::new(Answer::Draft)))).unwrap();
        // The same request under another request id of the same length (one attempt per id).
        let mut prime = req.clone();
        prime["request_id"] = json!(mig06_rail::ids::AttemptId::mint().to_string());
        assert_eq!(attempt(&rail, "operator-1", &prime).code, C::CompletedDraft);
        let text = std::fs::read_to_string(audit_dir(&config).join("log.jsonl")).unwrap();
        let lines: Vec<u64> = text.lines().map(|l| l.len() as u64 + 1).collect();
        (lines[0], lines[1])
    };
    let exec = DiskFiller {
        path: filler.clone(),
        calls,
    };
    let rail = Rail::open(config.clone(), Some(Box::new(exec))).unwrap();
    let margin = 48;
    let mut pads = 0;
    loop {
        let room = page - log_len() % page;
        if room >= open_len + margin && room + margin < open_len + terminal_len {
            break;
        }
        pads += 1;
        assert!(pads < 64, "could not place the log's end");
        assert_eq!(
            attempt(&rail, "operator-1", &json!({"x": 1})).code,
            C::DeniedRequestInvalid
        );
    }
    ran.got = run_attempt(&rail, req);
}

/// The store's directory read-only at start-up.
fn read_only(ran: &mut Ran) {
    let mnt = ran.setup.dir.path().join("tmpfs");
    let tmpfs = Tmpfs::mount(&mnt);
    if let Some(t) = &tmpfs {
        ran.config.data_dir = t.path.clone();
    }
    // A store with one completed attempt.
    let config = ran.config.clone();
    let rail = Rail::open(config.clone(), Some(Box::new(Counting::new(Answer::Draft)))).unwrap();
    assert_eq!(
        attempt(&rail, "operator-1", &request("discharge_summary")).code,
        C::CompletedDraft
    );
    drop(rail);
    ran.records_before = records(&config).len();
    match &tmpfs {
        Some(t) => {
            eprintln!("fault matrix: read-only store is its tmpfs remounted read-only");
            t.remount_read_only();
        }
        None => {
            eprintln!(
                "fault matrix: read-only store is a regular file in place of the audit directory (no tmpfs could be mounted, and root ignores permission bits)"
            );
            let dir = audit_dir(&config);
            let moved = config.data_dir.join("audit.moved");
            std::fs::rename(&dir, &moved).unwrap();
            std::fs::write(&dir, b"not a directory").unwrap();
            ran.records_before = 0;
        }
    }
    ran.tmpfs = tmpfs;
    let (exec, calls) = counting(Answer::Draft);
    ran.got = Got::Refused(Rail::open(config, Some(exec)).unwrap_err().to_string());
    ran.calls = calls;
}

/// Runs the attempt in a child process that kills itself at `at`, then reopens the store at
/// once (before the attempt's deadline), as the next writer would.
fn crash(ran: &mut Ran, at: CrashAt) {
    let dir = ran.setup.dir.path().to_owned();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([THIS_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_POINT, at.name())
        .env(CHILD_CONFIG, &ran.config.path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(
        out.status.signal(),
        Some(9),
        "{at:?}: the child was not killed at its crash point: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let calls_file = dir.join("executor_calls");
    ran.calls = Box::new(move || std::fs::read(&calls_file).map_or(0, |b| b.len()));
    let id = std::fs::read_to_string(dir.join("crashed_attempt")).unwrap();
    let id = AttemptId::parse(&id).unwrap();
    // The next writer, before the deadline: an open record whose deadline is still ahead may
    // belong to a running process, so it is left open.
    let before = records(&ran.config);
    let open_deadline = before
        .iter()
        .find(|r| r.attempt_id == id && r.kind() == RecordKind::Open)
        .and_then(|r| r.deadline.clone());
    let rail = Rail::open(
        ran.config.clone(),
        Some(Box::new(Counting::new(Answer::Draft))),
    )
    .unwrap();
    if let Some(deadline) = open_deadline
        && time::OffsetDateTime::now_utc() < parse_time(&deadline)
    {
        assert_eq!(rail.audit_open_report().interrupted_ended, 0, "{at:?}");
        assert_eq!(
            records(&ran.config),
            before,
            "{at:?}: ended before its deadline"
        );
    }
    drop(rail);
    // Where the crash came before the attempt's first record, the id is the prior's (a
    // continuation's evidence check) or one that never reached the log.
    ran.attempt = (at != CrashAt::ContinuationCheck).then_some(id);
}

/// The crash child: runs one attempt (after a denied prior, for a continuation) on a rail whose
/// store or executor kills the process at `at`. Returning means the point was never reached.
fn crash_child(at: &str, config: &str) {
    let at = CrashAt::from_name(at);
    let mut config = Config::load(Path::new(config)).unwrap();
    config.attempt_timeout = TIMEOUT;
    let dir = config.path.parent().unwrap().to_owned();
    let exec = FileCounting {
        dir: dir.clone(),
        crash_in_step: at == CrashAt::InStep,
    };
    let mut store = faulty(&config);
    store.hook.crash = Some((at, dir));
    let rail = rail_from_parts(&config, Box::new(exec), Box::new(store));
    let req = if at == CrashAt::DeniedBeforeTerminal {
        request("prior_authorisation")
    } else if at.continuation() {
        // The prior's terminal record is written before the wrapper's crash point (a denial
        // has no open record).
        let prior = attempt(&rail, "operator-1", &request("prior_authorisation"));
        assert_eq!(prior.code, C::DeniedPolicy);
        continuation(&prior, "discharge_summary", "operator_amended_request")
    } else {
        request("discharge_summary")
    };
    let o = attempt(&rail, "operator-1", &req);
    panic!(
        "crash point {at:?} never reached: the attempt ended {}",
        o.code
    );
}

fn parse_time(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
}

/// The evidence token of an attempt's terminal record, read from the log as `audit prove` does.
fn prove(config: &Config, id: &AttemptId) -> String {
    let verifier = load_signer(config).unwrap().verifier();
    let mut lines = Vec::new();
    let view = LogView::open(
        &audit_dir(config),
        &verifier,
        &mut |i, line, r| lines.push((i, line.to_vec(), r.clone())),
        &mut |_, _| {},
    )
    .unwrap();
    let (index, line, record) = lines
        .into_iter()
        .find(|(_, _, r)| r.attempt_id == *id && r.kind() == RecordKind::Terminal)
        .unwrap();
    let (note, cp) = view.latest().unwrap();
    let appended = Appended {
        index,
        leaf_hash: mig06_rail::tlog::leaf_hash(&line),
        proof: view
            .ledger()
            .tree()
            .inclusion_proof(index, cp.size)
            .unwrap(),
        bytes: line,
        checkpoint: Some(note.clone()),
        record,
    };
    mig06_rail::evidence::encode(&appended).unwrap()
}

fn continue_with(rail: &Rail, token: String, note_kind: &str) -> Outcome {
    let mut r = request(note_kind);
    r["trigger"] = json!("operator_continuation");
    r["continuation"] = json!({"evidence": token, "reason": "operator_amended_request"});
    attempt(rail, "operator-1", &r)
}

/// After every deadline passed: the rail restarts on the row's directory, ends what was
/// interrupted, and the log holds the row's one terminal record for the attempt.
fn restart_and_check(row: &Row, ran: Ran) {
    let name = row.boundary;
    if matches!(row.expect, Expect::Refused(_)) {
        assert_eq!(
            records(&ran.config).len(),
            ran.records_before,
            "{name}: nothing written"
        );
        assert_eq!((ran.calls)(), row.calls, "{name}");
        return;
    }
    if let Some(f) = &ran.filler {
        std::fs::remove_file(f).unwrap();
    }
    let restart = Counting::new(Answer::Draft);
    let rail = Rail::open(ran.config.clone(), Some(Box::new(restart.clone()))).unwrap();
    assert_eq!(restart.calls(), 0, "{name}: recovery runs no step");
    assert_eq!((ran.calls)(), row.calls, "{name}: no call after the answer");
    let recs = records(&ran.config);
    let interrupted = recs
        .iter()
        .filter(|r| r.code() == Some(C::AbortedInterrupted))
        .count() as u64;
    assert_eq!(
        rail.audit_open_report().interrupted_ended,
        interrupted,
        "{name}: the restart ended what was interrupted, once"
    );
    match &ran.attempt {
        Some(id) => {
            let ends: Vec<C> = recs
                .iter()
                .filter(|r| r.attempt_id == *id && r.kind() == RecordKind::Terminal)
                .map(|r| r.code().unwrap())
                .collect();
            assert_eq!(ends, row.log.into_iter().collect::<Vec<_>>(), "{name}");
            if row.log.is_none() {
                assert!(!recs.iter().any(|r| r.attempt_id == *id), "{name}");
            }
        }
        None => assert!(row.log.is_none(), "{name}"),
    }
    for open in recs.iter().filter(|r| r.kind() == RecordKind::Open) {
        let ends = recs
            .iter()
            .filter(|r| r.attempt_id == open.attempt_id && r.kind() == RecordKind::Terminal)
            .count();
        assert_eq!(
            ends, 1,
            "{name}: an open record without its one terminal record"
        );
    }
    // The chain a crashed continuation belonged to is not blocked.
    if let Fault::Crash(at) = row.fault
        && at.continuation()
    {
        let root = recs.first().unwrap().attempt_id.clone();
        if let Some(id) = &ran.attempt {
            let next = continue_with(&rail, prove(&ran.config, id), "referral_letter");
            assert_eq!(next.code, C::CompletedDraft, "{name}: {:?}", next.detail);
            let again = continue_with(&rail, prove(&ran.config, &root), "referral_letter");
            assert_eq!(again.code, C::DeniedContinuationAlreadyUsed, "{name}");
        } else {
            let next = continue_with(&rail, prove(&ran.config, &root), "referral_letter");
            assert_eq!(next.code, C::CompletedDraft, "{name}: {:?}", next.detail);
        }
    }
    drop(rail);
    let verifier = load_signer(&ran.config).unwrap().verifier();
    let report = mig06_rail::audit::verify::verify_dir(
        &audit_dir(&ran.config),
        &verifier,
        None,
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(report.overdue_open, 0, "{name}");
}

#[test]
fn inv_fail_closed_fault_matrix_every_boundary_ends_once_calls_at_most_once_and_leaves_no_thread() {
    if let (Ok(at), Ok(config)) = (std::env::var(CHILD_POINT), std::env::var(CHILD_CONFIG)) {
        crash_child(&at, &config);
        return;
    }
    let _alone = one_at_a_time();
    let rows = rows();
    let mut ran = Vec::new();
    for row in &rows {
        let before = threads();
        let r = run(row);
        // At most as many: the other test's thread may exit meanwhile; a leak would add one.
        assert!(threads() <= before, "{}: thread count", row.boundary);
        match (row.expect, &r.got) {
            (Expect::Answer(code), Got::Outcome(o)) => {
                assert_eq!(o.code, code, "{}: {:?}", row.boundary, o.detail);
                assert_eq!(
                    o.draft_ref.is_some(),
                    code == C::CompletedDraft,
                    "{}",
                    row.boundary
                );
                assert_eq!(
                    o.recorded,
                    code != C::AbortedAuditUnconfirmed,
                    "{}",
                    row.boundary
                );
            }
            (Expect::Refused(what), Got::Refused(msg)) => {
                assert!(msg.contains(what), "{}: {msg}", row.boundary);
            }
            (Expect::Died, Got::Died) => {}
            (e, _) => panic!("{}: expected {e:?}", row.boundary),
        }
        assert_eq!((r.calls)(), row.calls, "{}: executor calls", row.boundary);
        ran.push(r);
    }
    // Wait until every open record's deadline has passed.
    let last = ran
        .iter()
        .flat_map(|r| records(&r.config))
        .filter_map(|r| r.deadline)
        .map(|d| parse_time(&d))
        .max();
    if let Some(last) = last {
        let left = last - time::OffsetDateTime::now_utc();
        if left.is_positive() {
            std::thread::sleep(left.unsigned_abs() + Duration::from_millis(100));
        }
    }
    for (row, r) in rows.iter().zip(ran) {
        let before = threads();
        restart_and_check(row, r);
        assert!(
            threads() <= before,
            "{}: thread count after the restart",
            row.boundary
        );
    }
}
