//! Shared set-up for the rail's integration tests: a real `mig06 init` directory, the real file
//! store and policy gate, and (where a test needs to observe calls) a counting fake executor.
//!
//! INV-SYNC-RAIL: The rail is synchronous only.
#![allow(dead_code, reason = "shared by two test binaries; each uses a part")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use mig06_rail::config::Config;
use mig06_rail::executor::{Deadline, Executor, ExecutorError, StepInput};
use mig06_rail::outcome::Outcome;
use mig06_rail::rail::Rail;
use serde_json::{Value, json};

pub const SUBJECT: &str = "subj_7k3m9q2x4w8r5t6v";

pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: Config,
}

pub fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let report = mig06_rail::init::init(dir.path()).unwrap();
    let config = Config::load(&report.config).unwrap();
    Setup { dir, config }
}

/// What the fake executor answers.
#[derive(Clone)]
pub enum Answer {
    Draft,
    Raw(Value),
    Fail(ExecutorError),
    Panic,
    Sleep(std::time::Duration),
}

/// A fake downstream that counts its calls.
#[derive(Clone)]
pub struct Counting {
    pub calls: Arc<AtomicUsize>,
    pub answer: Answer,
}

impl Counting {
    pub fn new(answer: Answer) -> Self {
        Self {
            calls: Arc::new(AtomicUsize::new(0)),
            answer,
        }
    }
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

pub fn draft_receipt() -> Value {
    json!({"draft_ref": "draft_7k3m9q2x4w8r5t6v0a1b2c3d4e", "disposition": "draft",
           "docStatus": "preliminary", "content_sha256": format!("sha256:{}", "ab".repeat(32))})
}

impl Executor for Counting {
    fn execute(&self, _input: &StepInput, _deadline: Deadline) -> Result<Value, ExecutorError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match &self.answer {
            Answer::Draft => Ok(draft_receipt()),
            Answer::Raw(v) => Ok(v.clone()),
            Answer::Fail(e) => Err(*e),
            Answer::Panic => panic!("executor exploded"),
            Answer::Sleep(d) => {
                std::thread::sleep(*d);
                Ok(draft_receipt())
            }
        }
    }
}

pub fn rail_with(s: &Setup, exec: &Counting) -> Rail {
    Rail::open(s.config.clone(), Some(Box::new(exec.clone()))).unwrap()
}

pub fn request(note_kind: &str) -> Value {
    json!({
        "request_id": mig06_rail::ids::AttemptId::mint().to_string(),
        "trigger": "operator_explicit",
        "subject": SUBJECT,
        "steps": [{"action": "draft_note", "params": {"note_kind": note_kind}}],
    })
}

pub fn attempt(rail: &Rail, caller: &str, req: &Value) -> Outcome {
    let c = rail.local_caller(caller).unwrap();
    rail.attempt(&c, req.to_string().as_bytes())
}

pub fn log_lines(s: &Setup) -> Vec<Value> {
    let text =
        std::fs::read_to_string(s.config.data_dir.join("audit/log.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn continuation(prior: &Outcome, note_kind: &str, reason: &str) -> Value {
    let mut r = request(note_kind);
    r["trigger"] = json!("operator_continuation");
    r["continuation"] = json!({"evidence": prior.evidence.clone().unwrap(), "reason": reason});
    r
}

/// A fresh set-up with a rail whose executor answers a draft receipt and counts its calls.
pub fn draft_rail() -> (Setup, Counting, Rail) {
    let s = setup();
    let exec = Counting::new(Answer::Draft);
    let rail = rail_with(&s, &exec);
    (s, exec, rail)
}

/// A rail on the set-up's real policy gate, detector and file store, with the store wrapped by
/// `wrap` (a test store that observes or fails appends) and `exec` as the executor.
pub fn rail_around_store(
    s: &Setup,
    exec: &Counting,
    wrap: impl FnOnce(Box<dyn mig06_rail::audit::AuditStore>) -> Box<dyn mig06_rail::audit::AuditStore>,
) -> Rail {
    let signer = mig06_rail::rail::load_signer(&s.config).unwrap();
    let inner =
        mig06_rail::audit::file::FileStore::open(&mig06_rail::rail::audit_dir(&s.config), signer)
            .unwrap();
    rail_from_parts(&s.config, Box::new(exec.clone()), wrap(Box::new(inner)))
}

/// A rail on the configuration's real policy gate, detector and signing key, with `store` and
/// `executor` as given.
pub fn rail_from_parts(
    config: &Config,
    executor: Box<dyn Executor>,
    store: Box<dyn mig06_rail::audit::AuditStore>,
) -> Rail {
    let gate =
        mig06_rail::policy::PolicyGate::load(&config.policy_bundle, Some(&config.policy_digest))
            .unwrap();
    let verifier = mig06_rail::rail::load_signer(config).unwrap().verifier();
    Rail::from_parts(
        config.clone(),
        gate,
        Box::new(mig06_rail::phi::Detector::new().unwrap()),
        store,
        executor,
        verifier,
    )
}

/// Serialises the tests that count this process's threads, so none counts another's.
pub static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Holds [`ONE_AT_A_TIME`] (a test that failed while holding it does not block the others).
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The threads of this process.
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// An executor whose downstream is a Rust future (an async client): the future is made per step
/// and resolved by [`mig06_rail::proxy::resolve_by`] on the attempt's thread; pending at the
/// deadline, it is dropped and the step ends `ABORTED_ASYNC_AMBIGUITY`.
pub struct FutureExecutor<F> {
    make: F,
}

impl<F> FutureExecutor<F> {
    /// Wraps a function that starts the downstream call for a step.
    pub fn new(make: F) -> Self {
        Self { make }
    }
}

impl<F, Fut> Executor for FutureExecutor<F>
where
    F: Fn(StepInput) -> Fut + Send + Sync,
    Fut: std::future::Future<Output = Result<Value, ExecutorError>>,
{
    fn execute(&self, input: &StepInput, deadline: Deadline) -> Result<Value, ExecutorError> {
        mig06_rail::proxy::resolve_by((self.make)(input.clone()), deadline).map_err(
            |mig06_rail::proxy::Ambiguity| {
                ExecutorError::NotFinal(
                    mig06_rail::executor::PendingAnswer::FuturePendingAtDeadline,
                )
            },
        )?
    }
}

/// What a test store does around the real store's appends: observe, delay, fail or crash.
pub trait AppendHook: Send {
    /// Appends one record to `inner`, or fails it.
    fn append_one(
        &mut self,
        inner: &mut dyn mig06_rail::audit::AuditStore,
        record: mig06_rail::audit::AuditRecord,
    ) -> Result<mig06_rail::audit::Appended, mig06_rail::audit::AuditError>;

    /// Appends a batch; by default one record at a time, as a store without batches does.
    fn append_batch(
        &mut self,
        inner: &mut dyn mig06_rail::audit::AuditStore,
        records: Vec<mig06_rail::audit::AuditRecord>,
        _bound: mig06_rail::executor::Deadline,
    ) -> Vec<Result<mig06_rail::audit::Appended, mig06_rail::audit::AuditError>> {
        records
            .into_iter()
            .map(|r| self.append_one(inner, r))
            .collect()
    }

    /// Runs before the continuation check reads the claims index.
    fn before_is_claim_held(&mut self, _prior: &mig06_rail::ids::AttemptId) {}
}

/// A real store whose appends go through a hook; everything else reads the real store.
pub struct Hooked<H> {
    pub inner: Box<dyn mig06_rail::audit::AuditStore>,
    pub hook: H,
}

impl<H: AppendHook> mig06_rail::audit::AuditStore for Hooked<H> {
    fn append(
        &mut self,
        record: mig06_rail::audit::AuditRecord,
    ) -> Result<mig06_rail::audit::Appended, mig06_rail::audit::AuditError> {
        self.hook.append_one(self.inner.as_mut(), record)
    }
    fn append_batch(
        &mut self,
        records: Vec<mig06_rail::audit::AuditRecord>,
        bound: mig06_rail::executor::Deadline,
    ) -> Vec<Result<mig06_rail::audit::Appended, mig06_rail::audit::AuditError>> {
        self.hook.append_batch(self.inner.as_mut(), records, bound)
    }
    fn is_claim_held(
        &mut self,
        prior: &mig06_rail::ids::AttemptId,
    ) -> Result<bool, mig06_rail::audit::AuditError> {
        self.hook.before_is_claim_held(prior);
        self.inner.is_claim_held(prior)
    }
    fn request_id_holder(
        &mut self,
        request_id: &mig06_rail::ids::RequestId,
    ) -> Result<Option<mig06_rail::ids::AttemptId>, mig06_rail::audit::AuditError> {
        self.inner.request_id_holder(request_id)
    }
    fn witness_checkpoint(
        &mut self,
        at_least: u64,
    ) -> Result<mig06_rail::witness::WitnessCheckpoint, mig06_rail::audit::AuditError> {
        self.inner.witness_checkpoint(at_least)
    }
    fn consistency_proof(
        &mut self,
        old: u64,
        new: u64,
    ) -> Result<Vec<mig06_rail::audit::Hash>, mig06_rail::audit::AuditError> {
        self.inner.consistency_proof(old, new)
    }
    fn inclusion_proof(
        &mut self,
        index: u64,
        size: u64,
    ) -> Result<Vec<mig06_rail::audit::Hash>, mig06_rail::audit::AuditError> {
        self.inner.inclusion_proof(index, size)
    }
    fn root_at(
        &mut self,
        size: u64,
    ) -> Result<mig06_rail::audit::Hash, mig06_rail::audit::AuditError> {
        self.inner.root_at(size)
    }
    fn leaf_at(
        &mut self,
        index: u64,
    ) -> Result<mig06_rail::audit::Hash, mig06_rail::audit::AuditError> {
        self.inner.leaf_at(index)
    }
    fn verifier_key(&self) -> String {
        self.inner.verifier_key()
    }
    fn syncs(&self) -> Option<u64> {
        self.inner.syncs()
    }
}
