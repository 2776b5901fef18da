//! INV-NO-BACKGROUND for the PostgreSQL store: its round trips run on the caller's thread (a
//! current-thread runtime each connection owns, only inside the call), so it starts no thread,
//! leaves none behind, and a round trip that times out leaves nothing running either. One test
//! in a process of its own, so that no other test's threads are counted.
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

use std::net::TcpListener;
use std::time::Duration;

use mig06_audit_pg::{Grants, migrate, open_store};
use mig06_rail::audit::{AuditError, AuditRecord, AuditStore};
use mig06_rail::config::PostgresAudit;
use mig06_rail::executor::Deadline;
use mig06_rail::ids::{AttemptId, CallerId, Sha256Digest};
use mig06_tlog::checkpoint::LogSigner;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

fn record() -> AuditRecord {
    AuditRecord::open(
        AttemptId::mint(),
        CallerId::parse("operator-1").unwrap(),
        Sha256Digest::of(b"policy"),
        AuditRecord::deadline_in(Duration::from_secs(600)),
    )
}

#[test]
fn inv_no_background_the_pg_store_starts_no_thread_even_when_a_round_trip_times_out() {
    let url = pgtest::fresh_database();
    migrate(&pgtest::settings(&url), &Grants::default()).unwrap();
    let signer = LogSigner::generate("mig06.test/audit").unwrap();
    let (mut store, _) = open_store(&pgtest::settings(&url), signer.clone_key()).unwrap();
    // A server that accepts and never answers; its listener is not accepting in a thread: the
    // kernel completes the handshake from the backlog, as for a stopped server.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let (mut stalled, _) = open_store(
        &PostgresAudit::new(
            format!(
                "host={} port={} user=postgres dbname=postgres",
                addr.ip(),
                addr.port()
            ),
            Duration::from_secs(1),
        ),
        signer,
    )
    .unwrap();
    // Warm up (lazy statics in dependencies).
    store.append(record()).unwrap();
    let before = threads();
    for _ in 0..5 {
        store.append(record()).unwrap();
        store.ready().unwrap();
    }
    let r = stalled.append_batch(vec![record()], Deadline::after(Duration::from_millis(200)));
    assert!(
        matches!(r.as_slice(), [Err(AuditError::BoundPassed { sent: false })]),
        "{r:?}"
    );
    drop(stalled);
    drop(store);
    assert_eq!(threads(), before, "the store started a thread");
}

trait CloneKey {
    fn clone_key(&self) -> Self;
}
impl CloneKey for LogSigner {
    fn clone_key(&self) -> Self {
        LogSigner::from_private_key(&self.private_key()).unwrap()
    }
}
