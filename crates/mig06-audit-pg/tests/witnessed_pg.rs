//! Witnessed history on PostgreSQL (INV-WITNESSED): several instances share one log, so they
//! share one witness state per origin. Each instance submits its own batches; one that is behind
//! the witness (another instance moved the log on) recovers through the protocol's `409` with a
//! consistency proof from the witness's size, never by skipping the check. A database restored
//! to an earlier state is refused by every instance before any step runs.
#![allow(
    unreachable_pub,
    dead_code,
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

#[path = "common/pgtest.rs"]
mod pgtest;

// The one in-process adapter of the real witness, shared with the rail's tests.
#[path = "../../mig06-rail/tests/common/in_process_witness.rs"]
mod in_process_witness;

use std::time::Duration;

use in_process_witness::InProcessWitness;
use mig06_audit_pg::{Grants, migrate, open_store};
use mig06_rail::config::Config;
use mig06_rail::outcome::{Outcome, TerminalCode};
use mig06_rail::rail::Rail;
use mig06_tlog::checkpoint::LogSigner;

struct Deployment {
    config: Config,
    url: String,
    key: String,
    witnesses: Vec<InProcessWitness>,
    _dirs: tempfile::TempDir,
}

impl Deployment {
    /// A fresh database, a `mig06 init` set-up, and `n` real witnesses with quorum `k`.
    fn new(n: usize, k: usize) -> Self {
        let url = pgtest::fresh_database();
        migrate(&pgtest::settings(&url), &Grants::default()).unwrap();
        let signer = LogSigner::generate("mig06.test/witnessed-pg").unwrap();
        let dirs = tempfile::tempdir().unwrap();
        let report = mig06_rail::init::init(&dirs.path().join("setup")).unwrap();
        let witnesses: Vec<InProcessWitness> = (0..n)
            .map(|i| {
                InProcessWitness::new(
                    &format!("witness-{i}.example"),
                    &dirs.path().join(format!("w{i}")),
                    signer.verifier(),
                )
            })
            .collect();
        let mut text = std::fs::read_to_string(&report.config).unwrap();
        text.push_str(&InProcessWitness::config_lines(&witnesses, k));
        std::fs::write(&report.config, text).unwrap();
        Self {
            config: Config::load(&report.config).unwrap(),
            url,
            key: signer.private_key(),
            witnesses,
            _dirs: dirs,
        }
    }

    /// One rail instance on the shared database, with the shared witnesses.
    fn instance(&self) -> Rail {
        let signer = LogSigner::from_private_key(&self.key).unwrap();
        let (store, report) = open_store(&pgtest::settings(&self.url), signer).unwrap();
        Rail::open_with(self.config.clone(), Some((Box::new(store), report)), None)
            .unwrap()
            .with_witnesses(self.witnesses.iter().map(InProcessWitness::boxed).collect())
    }

    /// The database's name, for the administrator's statements.
    fn db(&self) -> String {
        let cfg: postgres::Config = self.url.parse().unwrap();
        cfg.get_dbname().unwrap().to_owned()
    }
}

fn attempt(rail: &Rail, kind: &str) -> Outcome {
    let caller = rail.local_caller("operator-1").unwrap();
    let body = serde_json::json!({"request_id": ulid::Ulid::new().to_string(),
        "trigger": "operator_explicit", "subject": "subj_7k3m9q2x4w8r5t6v",
        "steps": [{"action": "draft_note", "params": {"note_kind": kind}}]});
    rail.attempt(&caller, body.to_string().as_bytes())
}

/// Runs `sql` as the administrator, waiting (bounded) for the instances' sessions to end:
/// copying or dropping a database needs it idle.
fn admin(sql: &str) {
    let mut client = postgres::Client::connect(&pgtest::admin_url(), postgres::NoTls).unwrap();
    let start = std::time::Instant::now();
    loop {
        match client.batch_execute(sql) {
            Ok(()) => return,
            Err(e) if start.elapsed() < Duration::from_secs(10) => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("{sql}: {e}"),
        }
    }
}

fn drafts(d: &Deployment) -> usize {
    std::fs::read_dir(d.config.data_dir.join("drafts")).map_or(0, Iterator::count)
}

#[test]
fn inv_witnessed_two_pg_instances_share_one_witness_state_and_both_complete() {
    let d = Deployment::new(3, 2);
    let (a, b) = (d.instance(), d.instance());
    for i in 0..12 {
        let rail = if i % 3 == 0 { &a } else { &b };
        let out = attempt(rail, "discharge_summary");
        assert_eq!(
            out.code,
            TerminalCode::CompletedDraft,
            "attempt {i}: {:?}",
            out.detail
        );
    }
    assert_eq!(a.witnesses().detections(), 0);
    assert_eq!(b.witnesses().detections(), 0);
    assert_eq!(drafts(&d), 12);
    // A quorum of witnesses cosigned the shared log as it grew, through both instances'
    // submissions (the rail submits in order until the quorum cosigned).
    let busy = d.witnesses.iter().filter(|w| w.calls() >= 12).count();
    assert!(busy >= 2, "fewer than the quorum saw every batch");
}

#[test]
fn inv_witnessed_a_restored_pg_database_is_refused_by_every_instance() {
    let d = Deployment::new(1, 1);
    let db = d.db();
    let snap = format!("{db}_snap");
    {
        let a = d.instance();
        assert_eq!(
            attempt(&a, "discharge_summary").code,
            TerminalCode::CompletedDraft
        );
    }
    // A backup taken now…
    admin(&format!("CREATE DATABASE {snap} TEMPLATE {db}"));
    {
        let (a, b) = (d.instance(), d.instance());
        for rail in [&a, &b, &a] {
            assert_eq!(
                attempt(rail, "discharge_summary").code,
                TerminalCode::CompletedDraft
            );
        }
    }
    let before = drafts(&d);
    // …restored over the live log: the witness has cosigned a larger tree.
    admin(&format!("DROP DATABASE {db}"));
    admin(&format!("ALTER DATABASE {snap} RENAME TO {db}"));
    let (a, b) = (d.instance(), d.instance());
    let first = attempt(&a, "discharge_summary");
    assert_eq!(
        first.code,
        TerminalCode::AbortedLogRollback,
        "{:?}",
        first.detail
    );
    for rail in [&a, &b, &a] {
        let out = attempt(rail, "discharge_summary");
        assert_eq!(
            out.code,
            TerminalCode::AbortedLogRollback,
            "{:?}",
            out.detail
        );
    }
    assert_eq!(drafts(&d), before, "no step ran on the restored log");
}
