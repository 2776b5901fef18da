//! An instance starts from the database's tables, not from record zero (issue 24): the tree's
//! right edge from `mig06_nodes`, checked against the latest signed checkpoint; the rules from
//! the tables whose keys enforce them; the open records from the head's authenticated bound.
//! Whatever does not check out is refused and the log read whole, and no rule is ever broken.
#![allow(
    unreachable_pub,
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

use std::time::Duration;

use mig06_audit_pg::{Grants, migrate, open_store, read_view};
use mig06_rail::audit::file::{FileStore, OpenReport};
use mig06_rail::audit::verify::verify_view;
use mig06_rail::audit::{AuditError, AuditRecord, AuditStore};
use mig06_rail::executor::Deadline;
use mig06_rail::ids::{AttemptId, CallerId, RequestId, Sha256Digest};
use mig06_rail::outcome::TerminalCode;
use mig06_tlog::checkpoint::LogSigner;
use proptest::prelude::*;

fn far() -> Deadline {
    Deadline::after(Duration::from_secs(600))
}

/// An open record whose deadline (grace included) is `deadline` from now.
fn open_record(id: &AttemptId, deadline: Duration) -> AuditRecord {
    let at = (time::OffsetDateTime::now_utc() + deadline)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    AuditRecord::open(
        id.clone(),
        CallerId::parse("operator-1").unwrap(),
        Sha256Digest::of(b"policy"),
        at,
    )
}

struct Db {
    url: String,
    key: String,
}

impl Db {
    fn new() -> Self {
        let url = pgtest::fresh_database();
        migrate(&pgtest::settings(&url), &Grants::default()).unwrap();
        Self {
            url,
            key: LogSigner::generate("mig06.test/audit")
                .unwrap()
                .private_key(),
        }
    }
    fn signer(&self) -> LogSigner {
        LogSigner::from_private_key(&self.key).unwrap()
    }
    fn open(&self) -> (mig06_audit_pg::PgStore, OpenReport) {
        open_store(&pgtest::settings(&self.url), self.signer()).unwrap()
    }
    fn admin(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }
    fn verified_records(&self) -> u64 {
        let view = read_view(
            &pgtest::settings(&self.url),
            &self.signer().verifier(),
            &mut |_, _, _| {},
            &mut |_, _| {},
        )
        .unwrap();
        verify_view(&view, None).unwrap().records
    }
}

/// `pairs` attempts, each an open and a terminal record, in batches of 64 records.
fn fill(store: &mut mig06_audit_pg::PgStore, pairs: usize) {
    let ids: Vec<AttemptId> = (0..pairs).map(|_| AttemptId::mint()).collect();
    for chunk in ids.chunks(32) {
        let mut batch = Vec::new();
        for id in chunk {
            let open = open_record(id, Duration::from_secs(600));
            batch.push(open.clone());
            batch.push(open.ended(TerminalCode::DeniedPolicy, None));
        }
        for r in store.append_batch(batch, far()) {
            r.unwrap();
        }
    }
}

/// A log of `before` attempts, then an open record whose deadline passes 1.5 s from now with no
/// terminal record (its process stopped), then `after` attempts; returns the stranded attempt
/// and its record's index, once its deadline has passed.
fn stranded_log(db: &Db, before: usize, after: usize) -> (AttemptId, u64) {
    let (mut store, _) = db.open();
    fill(&mut store, before);
    let stranded = AttemptId::mint();
    let at = store
        .append(open_record(&stranded, Duration::from_millis(1500)))
        .unwrap()
        .index;
    fill(&mut store, after);
    drop(store);
    std::thread::sleep(Duration::from_millis(2000));
    (stranded, at)
}

/// A generated record over small pools of attempts, roots and request ids, so that the rules
/// collide.
#[derive(Debug, Clone)]
enum Op {
    Record {
        attempt: usize,
        terminal: bool,
        completed: bool,
        continues: Option<usize>,
        claim: bool,
        root: usize,
        rid: Option<usize>,
    },
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (
            0..6usize,
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(0..6usize),
            any::<bool>(),
            0..3usize,
            proptest::option::of(0..3usize),
        )
            .prop_map(|(attempt, terminal, completed, continues, claim, root, rid)| Op::Record {
                attempt,
                terminal,
                completed,
                continues,
                claim,
                root,
                rid,
            }),
        1 => Just(Op::Restart),
    ]
}

fn outcome(r: Result<mig06_rail::audit::Appended, AuditError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(AuditError::Rule(v)) => format!("{v:?}"),
        Err(AuditError::Corrupt { what, .. }) => format!("corrupt: {what}"),
        Err(e) => format!("other: {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    // INV-INDEX-NEVER-TRUSTED: an instance that restarts between any two records, resuming
    // from the database's tables each time, accepts and refuses exactly the records that a
    // store which never restarted (the file store, reading nothing back) accepts and refuses,
    // and its log verifies.
    #[test]
    fn inv_index_never_trusted_pg_an_instance_resumed_from_the_tables_keeps_every_rule(
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let db = Db::new();
        let dir = tempfile::tempdir().unwrap();
        let mut reference = FileStore::open(dir.path(), db.signer()).unwrap();
        let (mut store, _) = db.open();
        let attempts: Vec<AttemptId> = (0..6).map(|_| AttemptId::mint()).collect();
        let rids: Vec<RequestId> = (0..3)
            .map(|_| RequestId::parse(&ulid::Ulid::new().to_string()).unwrap())
            .collect();
        for op in ops {
            match op {
                Op::Restart => {
                    let store_size = store.size();
                    drop(store);
                    let (s, report) = db.open();
                    // Every log with a record has a signed checkpoint to resume from.
                    prop_assert_eq!(report.resumed_from_index > 0, store_size > 0);
                    prop_assert_eq!(report.index_rebuilt, None);
                    store = s;
                }
                Op::Record { attempt, terminal, completed, continues, claim, root, rid } => {
                    let mut r = open_record(&attempts[attempt], Duration::from_secs(600));
                    if terminal {
                        let code = if completed {
                            TerminalCode::CompletedDraft
                        } else {
                            TerminalCode::DeniedPolicy
                        };
                        r = r.ended(code, None);
                    }
                    r.continues = continues.map(|c| attempts[c].clone());
                    r.claim = claim;
                    r.chain_root = attempts[root].clone();
                    r.request_id = rid.map(|i| rids[i].clone());
                    let expected = outcome(reference.append(r.clone()));
                    let got = outcome(store.append(r));
                    prop_assert_eq!(got, expected);
                }
            }
        }
        prop_assert_eq!(db.verified_records(), store.size());
        // Both stores wrote only what they accepted: the reference's log opens again whole.
        let size = reference.size();
        drop(reference);
        prop_assert_eq!(FileStore::open(dir.path(), db.signer()).unwrap().size(), size);
    }
}

/// Damage the tables of a log of `pairs` attempts with `damage` (run as the schema's owner, the
/// append-only triggers off), restart, and return the report.
fn after_damage(db: &Db, damage: &str) -> OpenReport {
    let mut admin = db.admin();
    admin
        .batch_execute(&format!(
            "ALTER TABLE mig06_nodes DISABLE TRIGGER USER; \
             ALTER TABLE mig06_head DISABLE TRIGGER USER; \
             {damage}; \
             ALTER TABLE mig06_nodes ENABLE TRIGGER USER; \
             ALTER TABLE mig06_head ENABLE TRIGGER USER"
        ))
        .unwrap();
    db.open().1
}

// INV-INDEX-NEVER-TRUSTED: nodes altered, removed or placed ahead of the log, and an
// open-record bound moved without the log's key: the instance refuses the tables, reads the
// log whole (naming why) and keeps every rule; nodes that were only missing are written again,
// so the next start resumes.
#[test]
fn inv_index_never_trusted_pg_damaged_tables_are_refused_and_the_log_read_whole() {
    for (damage, repaired) in [
        ("UPDATE mig06_nodes SET hash = sha256(hash)", false),
        ("DELETE FROM mig06_nodes WHERE level = 4", true),
        ("DELETE FROM mig06_nodes", true),
        ("UPDATE mig06_head SET pending_from = size", true),
        (
            "UPDATE mig06_head SET pending_mac = NULL, pending_from = 1",
            true,
        ),
    ] {
        let db = Db::new();
        let (mut store, _) = db.open();
        fill(&mut store, 400);
        let size = store.size();
        drop(store);
        let (_, report) = db.open();
        assert_eq!(report.index_rebuilt, None);
        assert!(report.resumed_from_index > 0, "{report:?}");

        let report = after_damage(&db, damage);
        assert!(report.index_rebuilt.is_some(), "{damage}: {report:?}");
        assert_eq!(report.resumed_from_index, 0, "{damage}");
        assert_eq!(report.records, size, "{damage}");
        // The store works and keeps the rules (a second terminal record is refused), and its
        // proofs into the old log are right.
        let (mut store, _) = db.open();
        let id = AttemptId::mint();
        let open = open_record(&id, Duration::from_secs(600));
        store.append(open.clone()).unwrap();
        let end = open.ended(TerminalCode::DeniedPolicy, None);
        store.append(end.clone()).unwrap();
        assert!(
            matches!(store.append(end), Err(AuditError::Rule(_))),
            "{damage}"
        );
        let n = store.size();
        let proof = store.consistency_proof(100, n).unwrap();
        let (old, new) = (store.root_at(100).unwrap(), store.root_at(n).unwrap());
        mig06_tlog::verify_consistency(100, n, &old, &new, &proof).unwrap();
        drop(store);
        let (_, next) = db.open();
        assert_eq!(
            next.index_rebuilt.is_none() && next.resumed_from_index > 0,
            repaired,
            "{damage}: {next:?}"
        );
        assert_eq!(db.verified_records(), next.records);
    }
}

// INV-INDEX-NEVER-TRUSTED: an open record that a forged bound hides from the next start is
// still found (the bound does not verify, so the log is read whole) and ended
// `ABORTED_INTERRUPTED` once its deadline has passed.
#[test]
fn inv_index_never_trusted_pg_a_forged_bound_hides_no_interrupted_attempt() {
    let db = Db::new();
    stranded_log(&db, 10, 10);
    // As the writer role may: move the bound forward past the open record (not back).
    let report = after_damage(&db, "UPDATE mig06_head SET pending_from = size - 1");
    assert!(report.index_rebuilt.is_some(), "{report:?}");
    assert_eq!(report.interrupted_ended, 1, "{report:?}");
    // And without the forgery, a resumed start finds it too (here: already ended).
    let (_, again) = db.open();
    assert_eq!(again.interrupted_ended, 0);
    assert!(again.resumed_from_index > 0, "{again:?}");
}

// An interrupted attempt whose open record lies long before the latest checkpoint is found by
// a resumed start through the head's bound, and ended.
#[test]
fn a_resumed_start_ends_interrupted_attempts_from_before_the_checkpoint() {
    let db = Db::new();
    let (stranded, _) = stranded_log(&db, 5, 300);
    let (mut store, report) = db.open();
    assert!(report.resumed_from_index > 600, "{report:?}");
    assert_eq!(report.interrupted_ended, 1, "{report:?}");
    // Its terminal record is in the log, once: a second one is refused.
    let end =
        open_record(&stranded, Duration::from_secs(1)).ended(TerminalCode::DeniedPolicy, None);
    assert!(matches!(store.append(end), Err(AuditError::Rule(_))));
    assert_eq!(db.verified_records(), store.size());
}

// Proofs from a resumed instance reach back before its start: inclusion and consistency
// proofs for every size match those of an instance that read the log whole.
#[test]
fn proofs_from_a_resumed_instance_match_a_whole_read() {
    let db = Db::new();
    let (mut store, _) = db.open();
    fill(&mut store, 150);
    let n = store.size();
    type Answers = (Vec<[u8; 32]>, Vec<[u8; 32]>, [u8; 32]);
    let mut whole: Vec<Answers> = Vec::new();
    let sizes: Vec<u64> = (1..=n).step_by(37).chain([n]).collect();
    for &size in &sizes {
        whole.push((
            store.inclusion_proof(size / 2, size).unwrap(),
            store.consistency_proof(size, n).unwrap(),
            store.leaf_at(size - 1).unwrap(),
        ));
    }
    drop(store);
    let (mut resumed, report) = db.open();
    assert!(report.resumed_from_index > 0, "{report:?}");
    for (&size, expected) in sizes.iter().zip(&whole) {
        assert_eq!(resumed.inclusion_proof(size / 2, size).unwrap(), expected.0);
        assert_eq!(resumed.consistency_proof(size, n).unwrap(), expected.1);
        assert_eq!(resumed.leaf_at(size - 1).unwrap(), expected.2);
    }
}

// A log written before schema version 3 (no nodes, no bound) is read whole once, its nodes
// written, and resumed from the next start on.
#[test]
fn a_log_from_before_version_3_is_read_whole_once_then_resumed() {
    let db = Db::new();
    let (mut store, _) = db.open();
    fill(&mut store, 200);
    let size = store.size();
    drop(store);
    let mut admin = db.admin();
    admin
        .batch_execute(
            "DROP TABLE mig06_nodes; \
             ALTER TABLE mig06_head DROP COLUMN pending_from, DROP COLUMN pending_mac; \
             UPDATE mig06_meta SET schema_version = 2",
        )
        .unwrap();
    let report = migrate(&pgtest::settings(&db.url), &Grants::default()).unwrap();
    assert_eq!((report.from, report.to), (Some(2), 3));
    let (_, first) = db.open();
    assert_eq!(first.resumed_from_index, 0);
    assert_eq!(first.records, size);
    let (_, second) = db.open();
    assert!(second.resumed_from_index > 0, "{second:?}");
    assert_eq!(second.index_rebuilt, None);
}

/// The head's latest signed checkpoint, as an auditor keeps it.
fn latest_checkpoint(db: &Db) -> mig06_tlog::checkpoint::Checkpoint {
    let note: String = db
        .admin()
        .query_one("SELECT checkpoint FROM mig06_head", &[])
        .unwrap()
        .get(0);
    db.signer().verifier().verify(&note).unwrap()
}

// `audit verify --since-checkpoint` on PostgreSQL: the tree up to the checkpoint from the
// nodes (checked against its root), every record after it checked; a record altered after it
// is found, one before it is left to the whole read, and a checkpoint the log does not extend
// fails.
#[test]
fn verify_since_a_checkpoint_reads_only_what_followed_it() {
    let db = Db::new();
    let (mut store, _) = db.open();
    fill(&mut store, 300);
    let since = latest_checkpoint(&db);
    fill(&mut store, 100);
    let n = store.size();
    drop(store);
    let verifier = db.signer().verifier();
    let settings = pgtest::settings(&db.url);
    let (view, from) =
        mig06_audit_pg::read_view_since(&settings, &verifier, &since, &mut |_, _| {}).unwrap();
    assert_eq!(from, since.size);
    let report = verify_view(&view, Some(&since)).unwrap();
    assert_eq!(report.records, n);

    // A checkpoint of another log (same size, another root) is not extended by this one.
    let other = mig06_tlog::checkpoint::Checkpoint {
        root: [7u8; 32],
        ..since.clone()
    };
    let refused = mig06_audit_pg::read_view_since(&settings, &verifier, &other, &mut |_, _| {})
        .map_err(|e| e.to_string())
        .and_then(|(view, _)| verify_view(&view, Some(&other)).map_err(|f| f.to_string()));
    assert!(refused.is_err());

    // A record after the checkpoint altered (as the owner, triggers off): found.
    let mut admin = db.admin();
    admin
        .batch_execute(&format!(
            "ALTER TABLE mig06_records DISABLE TRIGGER USER; \
             UPDATE mig06_records SET line = overlay(line placing 'X'::bytea from 40 for 1) \
             WHERE seq = {}; \
             ALTER TABLE mig06_records ENABLE TRIGGER USER",
            since.size + 10
        ))
        .unwrap();
    let found = mig06_audit_pg::read_view_since(&settings, &verifier, &since, &mut |_, _| {});
    assert!(
        matches!(found, Err(mig06_audit_pg::PgError::Log(_))),
        "{:?}",
        found.map(|(_, f)| f)
    );
}

/// Runs `sql` as the schema's owner with the append-only triggers off.
fn as_owner(db: &Db, sql: &str) {
    db.admin()
        .batch_execute(&format!(
            "ALTER TABLE mig06_records DISABLE TRIGGER USER; \
             ALTER TABLE mig06_nodes DISABLE TRIGGER USER; \
             ALTER TABLE mig06_claims DISABLE TRIGGER USER; \
             {sql}; \
             ALTER TABLE mig06_records ENABLE TRIGGER USER; \
             ALTER TABLE mig06_nodes ENABLE TRIGGER USER; \
             ALTER TABLE mig06_claims ENABLE TRIGGER USER"
        ))
        .unwrap();
}

// A fact row no rail wrote (its holder is no attempt id; the writer role may insert it) makes
// that one fact read as held by another attempt: the store goes on, and an interrupted attempt
// it names is still ended.
#[test]
fn inv_index_never_trusted_pg_a_foreign_fact_row_refuses_one_fact_not_the_store() {
    let db = Db::new();
    let (mut store, _) = db.open();
    fill(&mut store, 5);
    let stranded = AttemptId::mint();
    store
        .append(open_record(&stranded, Duration::from_millis(1500)))
        .unwrap();
    db.admin()
        .batch_execute(&format!(
            "INSERT INTO mig06_claims (prior, attempt_id, seq) VALUES ('{}', 'not-an-attempt', 0)",
            stranded.as_str()
        ))
        .unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    // The next batch ends the stranded attempt and appends its own record.
    fill(&mut store, 1);
    drop(store);
    let (_, report) = db.open();
    assert_eq!(
        report.interrupted_ended, 0,
        "ended by the running store already"
    );
    assert_eq!(db.verified_records(), report.records);
    // A continuation of it is refused (the forged row reads as another holder), the store is fine.
    let (mut store, _) = db.open();
    let next = AttemptId::mint();
    let mut cont = open_record(&next, Duration::from_secs(600));
    cont.continues = Some(stranded.clone());
    cont.claim = true;
    assert!(matches!(store.append(cont), Err(AuditError::Rule(_))));
    fill(&mut store, 1);
}

// Nodes removed from inside the tree (or rows that are not this log's) fail the one answer
// that reads them; the store then reads the log whole, writes what is missing, answers, and
// later starts resume again.
#[test]
fn inv_index_never_trusted_pg_interior_nodes_missing_are_rewritten_after_one_refused_answer() {
    let db = Db::new();
    let (mut store, _) = db.open();
    fill(&mut store, 600);
    let n = store.size();
    let expected = store.inclusion_proof(300, n).unwrap();
    drop(store);
    as_owner(
        &db,
        "DELETE FROM mig06_nodes WHERE level = 4 AND idx BETWEEN 16 AND 31",
    );
    let (mut store, report) = db.open();
    assert!(report.resumed_from_index > 0, "{report:?}");
    assert!(
        store.inclusion_proof(300, n).is_err(),
        "the missing nodes fail this answer"
    );
    assert_eq!(store.inclusion_proof(300, n).unwrap(), expected);
    fill(&mut store, 1);
    drop(store);
    let (mut store, report) = db.open();
    assert!(report.resumed_from_index > 0, "{report:?}");
    assert_eq!(store.inclusion_proof(300, n).unwrap(), expected);
}

// A row past the head (no record of the log; the writer role may insert one) does not stop a
// start, which reads the records the head counts, and an interrupted attempt before it is
// ended.
#[test]
fn inv_index_never_trusted_pg_a_row_past_the_head_does_not_stop_a_start() {
    let db = Db::new();
    let (_, at) = stranded_log(&db, 5, 5);
    // The stranded record, then 5 attempts of two records each.
    let n = at + 11;
    db.admin()
        .batch_execute(&format!(
            "INSERT INTO mig06_records (seq, line, attempt_id, kind) \
             VALUES ({}, '\\x00', 'x', 'open')",
            n + 100
        ))
        .unwrap();
    let (mut store, report) = db.open();
    assert!(report.resumed_from_index > 0, "{report:?}");
    assert_eq!(report.interrupted_ended, 1, "{report:?}");
    // Reads that catch up (readiness, a continuation's claim check) stop at the gap.
    store.ready().unwrap();
    assert!(!store.is_claim_held(&AttemptId::mint()).unwrap());
    fill(&mut store, 2);
    assert_eq!(db.verified_records(), store.size());
}
