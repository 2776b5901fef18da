//! Single-caller attempt latency against a bare Cedar decision, in one process
//! (`docs/PERFORMANCE.md`, `## Attempt latency`):
//!
//! - baseline: `PolicyGate::authorize_step` alone (one Cedar evaluation, the same request);
//! - a denied attempt (`DENIED_POLICY`: parse, PHI scan, two Cedar evaluations, one durable append);
//! - a completed attempt (two durable appends and the reference executor's draft file).
//!
//! And the cost of a durable draft (issue 25), interleaved iteration by iteration in the same
//! run: a completed attempt with the reference executor (the draft's data, its directory entry
//! and, once, the data directory synced) against the same attempt with a copy of the executor as
//! it was before (the draft's data synced, never its directory entry), each on its own set-up.
//!
//! The set-up is a real `mig06 init` in `MIG06_BENCH_DIR` (default `<target dir>/mig06-bench-attempt`,
//! a real disk), `MIG06_BENCH_ITERS` iterations each (default 2,000), median and p99 reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "test and bench code: a failed unwrap is a failed run, and test items need no docs"
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mig06_rail::config::{CallerKind, Config};
use mig06_rail::executor::{Deadline, Executor, ExecutorError, StepInput};
use mig06_rail::ids::{CallerId, OpaqueId, OpaquePrefix, Sha256Digest};
use mig06_rail::outcome::TerminalCode;
use mig06_rail::policy::{ContinuationFacts, PolicyGate};
use mig06_rail::rail::Rail;
use mig06_rail::request::{Code, MetadataValue, Trigger};
use serde_json::json;

fn stats(mut d: Vec<Duration>) -> (Duration, Duration) {
    d.sort_unstable();
    (d[d.len() / 2], d[d.len() * 99 / 100])
}

fn time(iters: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut out = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        f();
        out.push(t.elapsed());
    }
    stats(out)
}

/// The reference executor before issue 25: the draft's data synced, its directory entry never.
struct DataSyncOnly {
    drafts: PathBuf,
}

impl Executor for DataSyncOnly {
    fn execute(
        &self,
        input: &StepInput,
        _deadline: Deadline,
    ) -> Result<serde_json::Value, ExecutorError> {
        let draft_ref = OpaqueId::random(OpaquePrefix::Draft);
        let bytes = serde_json::to_vec_pretty(&json!({
            "resourceType": "DocumentReference",
            "docStatus": "preliminary",
            "draft_ref": draft_ref,
            "attempt_id": input.attempt_id,
            "action": input.action,
            "params": input.params,
            "sections": ["summary", "findings", "plan"],
        }))
        .unwrap();
        std::fs::create_dir_all(&self.drafts).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.drafts.join(format!("{draft_ref}.json")))
            .unwrap();
        f.write_all(&bytes).unwrap();
        f.sync_data().unwrap();
        Ok(json!({
            "draft_ref": draft_ref,
            "disposition": "draft",
            "docStatus": "preliminary",
            "content_sha256": Sha256Digest::of(&bytes),
        }))
    }
}

/// A fresh `mig06 init` set-up in `dir`.
fn setup(dir: &Path) -> Config {
    let _ = std::fs::remove_dir_all(dir);
    let report = mig06_rail::init::init(dir).unwrap();
    Config::load(&report.config).unwrap()
}

fn main() {
    let iters: usize = std::env::var("MIG06_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = std::env::var("MIG06_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/mig06-bench-attempt")
        });
    let _ = std::fs::remove_dir_all(&dir);
    let report = mig06_rail::init::init(&dir).unwrap();
    let config = Config::load(&report.config).unwrap();
    let gate = PolicyGate::load(&config.policy_bundle, Some(&config.policy_digest)).unwrap();
    let rail = Rail::open(config, None).unwrap();
    let caller = rail.local_caller("operator-1").unwrap();
    // One attempt per request id (INV-NO-RETRY): every attempt gets a fresh one, made before
    // the clock starts.
    let req = |kind: &str| {
        json!({"request_id": ulid::Ulid::new().to_string(), "trigger": "operator_explicit",
               "subject": "subj_7k3m9q2x4w8r5t6v",
               "steps": [{"action": "draft_note", "params": {"note_kind": kind}}]})
        .to_string()
        .into_bytes()
    };
    let many = |kind: &str| (0..iters).map(|_| req(kind)).collect::<Vec<_>>();
    assert_eq!(
        rail.attempt(&caller, &req("prior_authorisation")).code,
        TerminalCode::DeniedPolicy
    );
    assert_eq!(
        rail.attempt(&caller, &req("discharge_summary")).code,
        TerminalCode::CompletedDraft
    );
    let id = CallerId::parse("operator-1").unwrap();
    let facts = ContinuationFacts::default();
    let action = Code::parse("draft_note").unwrap();
    let params = BTreeMap::from([(
        Code::parse("note_kind").unwrap(),
        MetadataValue::Code(Code::parse("prior_authorisation").unwrap()),
    )]);
    let cedar = time(iters, || {
        black_box(gate.authorize_step(
            &id,
            CallerKind::Operator,
            &action,
            Trigger::OperatorExplicit,
            &params,
            &facts,
        ));
    });
    let denied = many("prior_authorisation");
    let mut next = denied.iter();
    let d = time(iters, || {
        black_box(rail.attempt(&caller, next.next().unwrap()));
    });
    let completed = many("discharge_summary");
    let mut next = completed.iter();
    let c = time(iters, || {
        black_box(rail.attempt(&caller, next.next().unwrap()));
    });
    // The durable draft against the data-only sync, interleaved on two fresh set-ups.
    let base_config = setup(&dir.with_extension("data-sync-only"));
    let drafts = base_config.data_dir.join("drafts");
    let base_rail = Rail::open(base_config, Some(Box::new(DataSyncOnly { drafts }))).unwrap();
    let base_caller = base_rail.local_caller("operator-1").unwrap();
    let durable_config = setup(&dir.with_extension("durable-draft"));
    let durable_rail = Rail::open(durable_config, None).unwrap();
    let durable_caller = durable_rail.local_caller("operator-1").unwrap();
    let (mut base, mut durable) = (Vec::with_capacity(iters), Vec::with_capacity(iters));
    for (a, b) in many("discharge_summary")
        .iter()
        .zip(&many("discharge_summary"))
    {
        let t = Instant::now();
        let o = base_rail.attempt(&base_caller, a);
        base.push(t.elapsed());
        assert_eq!(o.code, TerminalCode::CompletedDraft);
        let t = Instant::now();
        let o = durable_rail.attempt(&durable_caller, b);
        durable.push(t.elapsed());
        assert_eq!(o.code, TerminalCode::CompletedDraft);
    }
    let (base, durable) = (stats(base), stats(durable));
    println!("iterations: {iters} each, data dir {}", dir.display());
    println!(
        "{:<34} {:>12} {:>12} {:>10}",
        "", "median", "p99", "x cedar"
    );
    for (name, (m, p)) in [
        ("bare Cedar decision", cedar),
        ("denied attempt (DENIED_POLICY)", d),
        ("completed attempt (COMPLETED_DRAFT)", c),
    ] {
        println!(
            "{name:<34} {:>10.1}us {:>10.1}us {:>10.1}",
            m.as_secs_f64() * 1e6,
            p.as_secs_f64() * 1e6,
            m.as_secs_f64() / cedar.0.as_secs_f64()
        );
    }
    println!("durable draft (issue 25), interleaved on two fresh set-ups:");
    for (name, (m, p)) in [
        ("completed, draft data sync only", base),
        ("completed, durable draft", durable),
    ] {
        println!(
            "{name:<34} {:>10.1}us {:>10.1}us",
            m.as_secs_f64() * 1e6,
            p.as_secs_f64() * 1e6,
        );
    }
    println!(
        "RESULT durable draft: median ratio durable / data-sync-only {:.3}, p99 ratio {:.3}",
        durable.0.as_secs_f64() / base.0.as_secs_f64(),
        durable.1.as_secs_f64() / base.1.as_secs_f64()
    );
}
