//! The PostgreSQL audit store over a real connection (`MIG06_TEST_DATABASE_URL`, or a throwaway
//! cluster): append-only for every role, the log's rules under concurrent writers, fail-closed
//! on a lost connection, and the same verification as the file store.
#![allow(
    unreachable_pub,
    clippy::disallowed_methods,
    clippy::string_slice,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

#[path = "common/pgtest.rs"]
mod pgtest;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use mig06_audit_pg::{Grants, PgError, migrate, open_store, read_view};
use mig06_rail::audit::group::GroupCommit;
use mig06_rail::audit::rules::RuleViolation;
use mig06_rail::audit::verify::verify_view;
use mig06_rail::audit::{AuditError, AuditRecord, AuditStore, RecordKind};
use mig06_rail::executor::Deadline;
use mig06_rail::ids::{AttemptId, CallerId, Sha256Digest};
use mig06_rail::outcome::TerminalCode;
use mig06_tlog::checkpoint::LogSigner;
use mig06_tlog::{leaf_hash, verify_inclusion};
use proptest::prelude::*;

/// A bound no test reaches.
fn far() -> Deadline {
    Deadline::after(Duration::from_secs(600))
}

fn open_record(id: &AttemptId) -> AuditRecord {
    AuditRecord::open(
        id.clone(),
        CallerId::parse("operator-1").unwrap(),
        Sha256Digest::of(b"policy"),
        AuditRecord::deadline_in(Duration::from_secs(600)),
    )
}

fn terminal_record(id: &AttemptId, code: TerminalCode) -> AuditRecord {
    open_record(id).ended(code, None)
}

/// A continuation of `prior` (whose chain root is `root`) that holds the claim.
fn claiming(
    id: &AttemptId,
    prior: &AttemptId,
    root: &AttemptId,
    code: TerminalCode,
) -> AuditRecord {
    let mut r = terminal_record(id, code);
    r.continues = Some(prior.clone());
    r.chain_root = root.clone();
    r.depth = 1;
    r.claim = true;
    r
}

struct Db {
    url: String,
    signer_key: String,
}

impl Db {
    fn new() -> Self {
        let url = pgtest::fresh_database();
        migrate(&pgtest::settings(&url), &Grants::default()).unwrap();
        let signer = LogSigner::generate("mig06.test/audit").unwrap();
        Self {
            url,
            signer_key: signer.private_key(),
        }
    }
    fn signer(&self) -> LogSigner {
        LogSigner::from_private_key(&self.signer_key).unwrap()
    }
    fn store(&self) -> mig06_audit_pg::PgStore {
        open_store(&pgtest::settings(&self.url), self.signer())
            .unwrap()
            .0
    }
    fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }
    fn verify(&self) -> mig06_rail::audit::verify::VerifyReport {
        let view = read_view(
            &pgtest::settings(&self.url),
            &self.signer().verifier(),
            &mut |_, _, _| {},
            &mut |_, _| {},
        )
        .unwrap();
        verify_view(&view, None).unwrap()
    }
}

fn role(client: &mut postgres::Client, name: &str) {
    client
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE {name} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        ))
        .unwrap();
}

#[test]
fn inv_audit_pg_append_only_for_the_writer_role_and_even_for_the_owner() {
    let url = pgtest::fresh_database();
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    role(&mut admin, "mig06_t_writer");
    role(&mut admin, "mig06_t_reader");
    let grants = Grants {
        writer: Some("mig06_t_writer".into()),
        reader: Some("mig06_t_reader".into()),
    };
    let report = migrate(&pgtest::settings(&url), &grants).unwrap();
    assert_eq!(
        (report.from, report.to),
        (None, mig06_audit_pg::SCHEMA_VERSION)
    );
    // Migrating again is a no-op that keeps the version.
    let again = migrate(&pgtest::settings(&url), &grants).unwrap();
    assert_eq!(
        (again.from, again.to),
        (
            Some(mig06_audit_pg::SCHEMA_VERSION),
            mig06_audit_pg::SCHEMA_VERSION
        )
    );

    let signer = LogSigner::generate("mig06.test/audit").unwrap();
    let writer_url = pgtest::with_user(&url, "mig06_t_writer");
    let (mut store, _) = open_store(&pgtest::settings(&writer_url), signer).unwrap();
    let id = AttemptId::mint();
    store.append(open_record(&id)).unwrap();
    store
        .append(terminal_record(&id, TerminalCode::DeniedPolicy))
        .unwrap();

    let mut writer = postgres::Client::connect(&writer_url, postgres::NoTls).unwrap();
    for stmt in [
        "UPDATE mig06_records SET line = line WHERE seq = 0",
        "DELETE FROM mig06_records WHERE seq = 1",
        "TRUNCATE mig06_records",
        "UPDATE mig06_claims SET prior = prior",
        "DELETE FROM mig06_checkpoints",
        "DELETE FROM mig06_head",
        "UPDATE mig06_meta SET schema_version = 2",
        "DELETE FROM mig06_nodes",
    ] {
        let e = writer.batch_execute(stmt).unwrap_err();
        let code = e.code().map(|c| c.code().to_owned());
        assert_eq!(code.as_deref(), Some("42501"), "{stmt}: {e}");
    }
    // The owner is refused by the schema itself.
    for stmt in [
        "UPDATE mig06_records SET line = line WHERE seq = 0",
        "DELETE FROM mig06_records WHERE seq = 1",
        "TRUNCATE mig06_records CASCADE",
        "DELETE FROM mig06_checkpoints",
        "TRUNCATE mig06_claims",
        "DELETE FROM mig06_head",
        "UPDATE mig06_head SET size = 0",
        "DELETE FROM mig06_nodes",
        "TRUNCATE mig06_nodes",
    ] {
        let e = admin.batch_execute(stmt).unwrap_err();
        assert!(
            e.to_string().contains("mig06:") || format!("{e:?}").contains("mig06:"),
            "{stmt}: {e:?}"
        );
    }
    // The reader reads and cannot write.
    let reader_url = pgtest::with_user(&url, "mig06_t_reader");
    let mut reader = postgres::Client::connect(&reader_url, postgres::NoTls).unwrap();
    let e = reader
        .batch_execute("INSERT INTO mig06_checkpoints (size, note) VALUES (256, 'x')")
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("42501"));
    let view = read_view(
        &pgtest::settings(&reader_url),
        &store_verifier(&store),
        &mut |_, _, _| {},
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(verify_view(&view, None).unwrap().records, 2);
}

fn store_verifier(store: &mig06_audit_pg::PgStore) -> mig06_tlog::checkpoint::LogVerifier {
    mig06_tlog::checkpoint::LogVerifier::parse(&store.verifier_key()).unwrap()
}

#[test]
fn a_database_without_the_schema_or_with_an_unknown_version_is_refused_naming_migrate() {
    let url = pgtest::fresh_database();
    let signer = LogSigner::generate("mig06.test/audit").unwrap();
    let e = open_store(&pgtest::settings(&url), signer.clone_for_test()).unwrap_err();
    assert!(matches!(e, PgError::NoSchema), "{e}");
    assert!(e.to_string().contains("mig06 audit migrate --config"));
    migrate(&pgtest::settings(&url), &Grants::default()).unwrap();
    postgres::Client::connect(&url, postgres::NoTls)
        .unwrap()
        .batch_execute("UPDATE mig06_meta SET schema_version = 7")
        .unwrap();
    let e = open_store(&pgtest::settings(&url), signer).unwrap_err();
    assert!(
        matches!(
            e,
            PgError::UnknownSchema {
                found: 7,
                known: mig06_audit_pg::SCHEMA_VERSION
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("mig06 audit migrate --config"));
    let e = migrate(&pgtest::settings(&url), &Grants::default()).unwrap_err();
    assert!(matches!(e, PgError::UnknownSchema { found: 7, .. }), "{e}");
}

trait CloneForTest {
    fn clone_for_test(&self) -> Self;
}
impl CloneForTest for LogSigner {
    fn clone_for_test(&self) -> Self {
        LogSigner::from_private_key(&self.private_key()).unwrap()
    }
}

#[test]
fn inv_audit_pg_one_log_every_instance_proves_every_record() {
    let db = Db::new();
    let mut a = db.store();
    let mut b = db.store();
    let mut appended = Vec::new();
    for i in 0..40 {
        let store = if i % 3 == 0 { &mut b } else { &mut a };
        let id = AttemptId::mint();
        appended.push(store.append(open_record(&id)).unwrap());
        appended.push(
            store
                .append(terminal_record(&id, TerminalCode::CompletedDraft))
                .unwrap(),
        );
    }
    let indices: Vec<u64> = appended.iter().map(|x| x.index).collect();
    assert_eq!(indices, (0..80).collect::<Vec<_>>());
    let verifier = db.signer().verifier();
    for x in &appended {
        if let Some(note) = &x.checkpoint {
            let cp = verifier.verify(note).unwrap();
            verify_inclusion(&x.leaf_hash, x.index, cp.size, &x.proof, &cp.root).unwrap();
            assert_eq!(leaf_hash(&x.bytes), x.leaf_hash);
        }
        // Every instance holds the same tree, and can prove every record.
        assert_eq!(a.leaf_at(x.index).unwrap(), x.leaf_hash);
        assert_eq!(b.leaf_at(x.index).unwrap(), x.leaf_hash);
    }
    assert_eq!(a.root_at(80).unwrap(), b.root_at(80).unwrap());
    let report = db.verify();
    assert_eq!(report.records, 80);
    assert_eq!(report.root, a.root_at(80).unwrap());
    // A third instance opening the log reads the same.
    assert_eq!(db.store().size(), 80);
}

#[test]
fn inv_audit_pg_one_log_many_writers_get_gap_free_unique_indices() {
    let db = Db::new();
    let instances: Vec<Arc<GroupCommit>> = (0..3)
        .map(|_| Arc::new(GroupCommit::new(Box::new(db.store()))))
        .collect();
    let handles: Vec<_> = (0..12)
        .map(|t| {
            let g = Arc::clone(&instances[t % instances.len()]);
            std::thread::spawn(move || {
                let mut got = Vec::new();
                for _ in 0..25 {
                    let id = AttemptId::mint();
                    got.push(g.append(open_record(&id), far()).unwrap().index);
                    got.push(
                        g.append(terminal_record(&id, TerminalCode::DeniedPolicy), far())
                            .unwrap()
                            .index,
                    );
                }
                got
            })
        })
        .collect();
    let mut all: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..600).collect::<Vec<_>>());
    let report = db.verify();
    assert_eq!(report.records, 600);
    assert!(report.checkpoints >= 3, "kept checkpoints at 256 and 512");
}

#[test]
fn inv_audit_pg_one_log_a_continuation_raced_across_two_instances_is_accepted_once() {
    let db = Db::new();
    let mut a = db.store();
    let mut b = db.store();
    let prior = AttemptId::mint();
    a.append(open_record(&prior)).unwrap();
    a.append(terminal_record(&prior, TerminalCode::AbortedExecutorFault))
        .unwrap();
    // Both instances saw the prior unclaimed before either appended.
    assert!(!a.is_claim_held(&prior).unwrap());
    assert!(!b.is_claim_held(&prior).unwrap());
    let x = AttemptId::mint();
    let y = AttemptId::mint();
    let first = a.append(claiming(&x, &prior, &prior, TerminalCode::CompletedDraft));
    let second = b.append(claiming(&y, &prior, &prior, TerminalCode::CompletedDraft));
    assert!(first.is_ok());
    assert!(
        matches!(second, Err(AuditError::Rule(RuleViolation::ClaimTaken))),
        "{second:?}"
    );
    assert!(b.is_claim_held(&prior).unwrap());
    let claims: i64 = db
        .client()
        .query_one("SELECT count(*) FROM mig06_claims", &[])
        .unwrap()
        .get(0);
    assert_eq!(claims, 1);
    assert_eq!(db.verify().records, 3);
}

#[test]
fn inv_audit_pg_one_log_the_schema_refuses_a_second_claim_even_from_a_rogue_writer() {
    let db = Db::new();
    let mut a = db.store();
    let prior = AttemptId::mint();
    let x = AttemptId::mint();
    a.append(terminal_record(&prior, TerminalCode::AbortedExecutorFault))
        .unwrap();
    a.append(claiming(&x, &prior, &prior, TerminalCode::CompletedDraft))
        .unwrap();
    let mut c = db.client();
    let e = c
        .batch_execute(&format!(
            "INSERT INTO mig06_claims (prior, attempt_id, seq) VALUES ('{}', 'X', 0)",
            prior.as_str()
        ))
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("23505"));
    let e = c
        .batch_execute(&format!(
            "INSERT INTO mig06_records (seq, line, attempt_id, kind) VALUES (9, 'x', '{}', 'terminal')",
            x.as_str()
        ))
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("23505"));
}

#[test]
fn inv_audit_pg_one_log_an_instance_ends_another_instances_interrupted_attempt_once() {
    let db = Db::new();
    let mut a = db.store();
    let id = AttemptId::mint();
    let mut overdue = open_record(&id);
    overdue.deadline = Some("2000-01-01T00:00:00Z".into());
    a.append(overdue).unwrap();
    drop(a);
    // Another instance's next append ends it first, once.
    let mut b = db.store();
    let mut c = db.store();
    let next = AttemptId::mint();
    b.append(open_record(&next)).unwrap();
    c.append(terminal_record(&next, TerminalCode::DeniedPolicy))
        .unwrap();
    let mut codes = Vec::new();
    let view = read_view(
        &pgtest::settings(&db.url),
        &db.signer().verifier(),
        &mut |_, _, r| {
            if r.attempt_id == id {
                codes.push((r.kind(), r.code()));
            }
        },
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(
        codes,
        vec![
            (RecordKind::Open, None),
            (RecordKind::Terminal, Some(TerminalCode::AbortedInterrupted))
        ]
    );
    assert_eq!(verify_view(&view, None).unwrap().overdue_open, 0);
}

#[test]
fn inv_fail_closed_pg_a_connection_the_server_ended_is_replaced_before_anything_is_written() {
    let db = Db::new();
    let mut a = db.store();
    let first = AttemptId::mint();
    a.append(open_record(&first)).unwrap();
    // The server ends the store's session (a restart, a failover, a network cut).
    db.client()
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .unwrap();
    let id = AttemptId::mint();
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        outcomes.push(
            a.append(terminal_record(&id, TerminalCode::DeniedPolicy))
                .is_ok(),
        );
    }
    // The dead connection is found by the batch's first read, before anything is written, and
    // replaced: the next attempt works at once, without a restart, and nothing is doubled.
    assert_eq!(outcomes, vec![true, false], "{outcomes:?}");
    let report = db.verify();
    assert_eq!(report.records, 2);
}

#[test]
fn inv_fail_closed_pg_a_store_opened_while_the_database_is_down_fails_closed_then_reads_the_log() {
    let db = Db::new();
    let mut a = db.store();
    let id = AttemptId::mint();
    a.append(open_record(&id)).unwrap();
    drop(a);
    // A port where nothing listens: the database is down at start-up.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("host=127.0.0.1 port={port} user=postgres dbname=postgres");
    let (mut down, report) = open_store(&pgtest::settings(&dead), db.signer()).unwrap();
    assert!(!down.is_open());
    assert_eq!(report.records, 0);
    let e = down
        .append(terminal_record(&id, TerminalCode::DeniedPolicy))
        .unwrap_err();
    assert!(matches!(e, AuditError::Backend { .. }), "{e}");
    assert!(!e.to_string().contains(&dead));
    // Up from the start: the log is read at the first operation, the attempt's terminal record
    // follows its open record, and nothing was written while it was down.
    let dbname = db.url.rsplit("dbname=").next().unwrap().to_owned();
    let mut admin = postgres::Client::connect(&pgtest::admin_url(), postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("ALTER DATABASE {dbname} ALLOW_CONNECTIONS false"))
        .unwrap();
    let (mut late, _) = open_store(&pgtest::settings(&db.url), db.signer()).unwrap();
    assert!(!late.is_open());
    assert!(
        late.append(terminal_record(&id, TerminalCode::DeniedPolicy))
            .is_err()
    );
    admin
        .batch_execute(&format!("ALTER DATABASE {dbname} ALLOW_CONNECTIONS true"))
        .unwrap();
    let x = late
        .append(terminal_record(&id, TerminalCode::DeniedPolicy))
        .unwrap();
    assert!(late.is_open());
    assert_eq!(x.index, 1);
    assert_eq!(db.verify().records, 2);
}

#[test]
fn inv_audit_pg_append_only_tampering_by_the_owner_with_triggers_disabled_is_found() {
    let db = Db::new();
    let mut a = db.store();
    for _ in 0..5 {
        let id = AttemptId::mint();
        a.append(terminal_record(&id, TerminalCode::DeniedPolicy))
            .unwrap();
    }
    let mut c = db.client();
    c.batch_execute(
        "ALTER TABLE mig06_records DISABLE TRIGGER USER; \
         UPDATE mig06_records SET line = replace(convert_from(line, 'UTF8'), 'DENIED_POLICY', 'DENIED_BYPASS')::bytea WHERE seq = 2; \
         ALTER TABLE mig06_records ENABLE TRIGGER USER",
    )
    .unwrap();
    let e = read_view(
        &pgtest::settings(&db.url),
        &db.signer().verifier(),
        &mut |_, _, _| {},
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(
        matches!(&e, PgError::Log(f) if f.first_bad_record == Some(2)),
        "{e}"
    );
    // A writer refuses to open a log that does not verify.
    assert!(open_store(&pgtest::settings(&db.url), db.signer()).is_err());
}

#[derive(Debug, Clone)]
enum Op {
    /// Instance `i` runs a fresh attempt ending with `code`.
    Fresh(usize, bool),
    /// Instance `i` continues the `k`-th attempt so far (modulo), holding the claim.
    Continue(usize, usize, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, any::<bool>()).prop_map(|(i, c)| Op::Fresh(i, c)),
        (0..3usize, 0..64usize, any::<bool>()).prop_map(|(i, k, c)| Op::Continue(i, k, c)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Whatever the interleaving of instances, the log accepts exactly what the one-log model
    /// (the file store's rules, applied in log order) accepts: one claim per prior, one
    /// completion per chain root; indices are gap-free and the log verifies.
    #[test]
    fn inv_audit_pg_one_log_instances_agree_with_the_single_log_model(ops in proptest::collection::vec(op(), 1..30)) {
        let db = Db::new();
        let mut stores: Vec<_> = (0..3).map(|_| db.store()).collect();
        let mut model = mig06_rail::audit::rules::LedgerRules::new();
        let mut attempts: Vec<(AttemptId, AttemptId, TerminalCode)> = Vec::new();
        let mut accepted = 0u64;
        for op in ops {
            let (i, record) = match op {
                Op::Fresh(i, complete) => {
                    let id = AttemptId::mint();
                    let code = if complete { TerminalCode::CompletedDraft } else { TerminalCode::AbortedExecutorFault };
                    (i, terminal_record(&id, code))
                }
                Op::Continue(i, k, complete) => {
                    if attempts.is_empty() { continue; }
                    let (prior, root, _) = attempts[k % attempts.len()].clone();
                    let id = AttemptId::mint();
                    let code = if complete { TerminalCode::CompletedDraft } else { TerminalCode::AbortedExecutorFault };
                    (i, claiming(&id, &prior, &root, code))
                }
            };
            let expected = model.admit((&record).into()).is_ok();
            let got = stores[i].append(record.clone());
            prop_assert_eq!(got.is_ok(), expected, "{:?}", got.err());
            if let Ok(x) = got {
                prop_assert_eq!(x.index, accepted);
                accepted += 1;
                attempts.push((record.attempt_id.clone(), record.chain_root.clone(), record.code().unwrap()));
            } else {
                prop_assert!(matches!(got, Err(AuditError::Rule(_))));
            }
        }
        let report = db.verify();
        prop_assert_eq!(report.records, accepted);
        let ids: BTreeSet<_> = attempts.iter().map(|a| a.0.clone()).collect();
        prop_assert_eq!(ids.len() as u64, accepted);
    }
}

/// An instance that was idle while another appended catches up before it takes the head lock,
/// so the other instance's appends never wait for that catch-up (from the adversarial review).
#[test]
fn a_lagging_instance_catches_up_without_stalling_the_other_instances() {
    let db = Db::new();
    let mut lagging = db.store();
    let mut busy = db.store();
    for _ in 0..4 {
        let batch: Vec<AuditRecord> = (0..1000)
            .map(|_| terminal_record(&AttemptId::mint(), TerminalCode::DeniedPolicy))
            .collect();
        for r in busy.append_batch(batch, far()) {
            r.unwrap();
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let r = lagging.append(terminal_record(
            &AttemptId::mint(),
            TerminalCode::DeniedPolicy,
        ));
        let _ = tx.send(());
        r.is_ok()
    });
    let mut worst = Duration::ZERO;
    let mut failed = 0;
    loop {
        let t = std::time::Instant::now();
        if busy
            .append(terminal_record(
                &AttemptId::mint(),
                TerminalCode::DeniedPolicy,
            ))
            .is_err()
        {
            failed += 1;
        }
        worst = worst.max(t.elapsed());
        if rx.try_recv().is_ok() {
            break;
        }
    }
    assert!(h.join().unwrap(), "the lagging instance's append failed");
    assert_eq!(failed, 0);
    // Far below the 5 s lock timeout: the lock is never held through the catch-up.
    assert!(
        worst < Duration::from_secs(2),
        "waited {worst:?} for the head lock"
    );
    assert_eq!(db.verify().records, db.store().size());
}

/// The database refusing every connection (down, or failing over) fails each append at once and
/// writes nothing; once it takes connections again the next append works, without reopening the
/// store, and nothing is doubled.
#[test]
fn inv_fail_closed_pg_an_unreachable_database_fails_appends_until_it_is_back() {
    let db = Db::new();
    let mut a = db.store();
    a.append(terminal_record(
        &AttemptId::mint(),
        TerminalCode::DeniedPolicy,
    ))
    .unwrap();
    let dbname = db.url.rsplit("dbname=").next().unwrap().to_owned();
    let mut admin = postgres::Client::connect(&pgtest::admin_url(), postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {dbname} ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{dbname}'"
        ))
        .unwrap();
    for _ in 0..3 {
        let e = a
            .append(terminal_record(
                &AttemptId::mint(),
                TerminalCode::DeniedPolicy,
            ))
            .unwrap_err();
        assert!(matches!(e, AuditError::Backend { .. }), "{e}");
    }
    admin
        .batch_execute(&format!("ALTER DATABASE {dbname} ALLOW_CONNECTIONS true"))
        .unwrap();
    a.append(terminal_record(
        &AttemptId::mint(),
        TerminalCode::DeniedPolicy,
    ))
    .unwrap();
    let report = db.verify();
    assert_eq!(report.records, 2);
}
