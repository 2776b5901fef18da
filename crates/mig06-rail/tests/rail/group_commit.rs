//! Group commit (`audit::group::GroupCommit`): many callers on one rail share `fdatasync`s, every
//! outcome is still recorded and proven, and a failed batch fails every member.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::*;
use mig06_rail::audit::{Appended, AuditError, AuditRecord, AuditStore};
use mig06_rail::evidence;
use mig06_rail::executor::Deadline;
use mig06_rail::outcome::{Outcome, TerminalCode as C};
use mig06_rail::rail::{AuditSyncs, Rail, audit_dir};

const THREADS: usize = 16;
const PER_THREAD: usize = 6;

/// Each batch's size and whether it was made to fail.
type Sizes = Arc<std::sync::Mutex<Vec<(usize, bool)>>>;

/// Wraps the file store; each batch waits `delay` before it is committed (so callers pile up
/// behind the leader whatever the disk), and batches after the first `ok` ones whose size is
/// above one fail as a whole, as a failed `fdatasync` would.
struct Batches {
    delay: Duration,
    fail_multi_after: usize,
    batches: Arc<AtomicUsize>,
    sizes: Sizes,
}

impl AppendHook for Batches {
    fn append_one(
        &mut self,
        inner: &mut dyn AuditStore,
        record: AuditRecord,
    ) -> Result<Appended, AuditError> {
        self.append_batch(
            inner,
            vec![record],
            Deadline::after(Duration::from_secs(60)),
        )
        .pop()
        .unwrap()
    }
    fn append_batch(
        &mut self,
        inner: &mut dyn AuditStore,
        records: Vec<AuditRecord>,
        bound: Deadline,
    ) -> Vec<Result<Appended, AuditError>> {
        std::thread::sleep(self.delay);
        let n = self.batches.fetch_add(1, Ordering::SeqCst);
        let fail = n >= self.fail_multi_after && records.len() > 1;
        self.sizes.lock().unwrap().push((records.len(), fail));
        if fail {
            return records
                .iter()
                .map(|_| {
                    Err(AuditError::Io {
                        op: "test",
                        source: std::io::Error::other("injected fdatasync failure"),
                    })
                })
                .collect();
        }
        inner.append_batch(records, bound)
    }
}

fn rail_with_batches(
    s: &Setup,
    exec: &Counting,
    delay: Duration,
    fail_multi_after: usize,
) -> (Rail, Sizes) {
    let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let rail = rail_around_store(s, exec, |inner| {
        Box::new(Hooked {
            inner,
            hook: Batches {
                delay,
                fail_multi_after,
                batches: Arc::new(AtomicUsize::new(0)),
                sizes: sizes.clone(),
            },
        })
    });
    (rail, sizes)
}

/// THREADS threads, PER_THREAD attempts each (completed and policy-denied mixed), on one rail.
fn hammer(rail: &Rail) -> Vec<Outcome> {
    std::thread::scope(|scope| {
        let hs: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn(move || {
                    (0..PER_THREAD)
                        .map(|i| {
                            let kind = if (t + i) % 3 == 0 {
                                "prior_authorisation"
                            } else {
                                "discharge_summary"
                            };
                            attempt(rail, "operator-1", &request(kind))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

/// Every outcome recorded with a verifying token, once in the log; the log verifies.
fn check_all_recorded(s: &Setup, rail: &Rail, outcomes: &[Outcome]) -> u64 {
    assert_eq!(outcomes.len(), THREADS * PER_THREAD);
    let lines = log_lines(s);
    let mut terminals: HashMap<String, usize> = HashMap::new();
    for l in &lines {
        if l["kind"] == "terminal" {
            *terminals
                .entry(l["attempt_id"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    for o in outcomes {
        assert!(
            matches!(o.code, C::CompletedDraft | C::DeniedPolicy),
            "{:?}",
            o.code
        );
        assert!(o.recorded);
        let token = o
            .evidence
            .as_deref()
            .expect("evidence for a recorded outcome");
        let v = evidence::verify(token, rail.verifier()).expect("token verifies");
        assert_eq!(v.attempt_id(), &o.attempt_id);
        assert_eq!(v.code, o.code);
        assert!(v.tree_size > v.index);
        assert_eq!(terminals.get(o.attempt_id.as_str()), Some(&1));
    }
    assert_eq!(terminals.len(), outcomes.len());
    let report = mig06_rail::audit::verify::verify_dir(
        &audit_dir(&s.config),
        rail.verifier(),
        None,
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(report.records, lines.len() as u64);
    report.records
}

#[test]
fn group_commit_many_threads_on_the_real_store_record_everything_with_fewer_syncs() {
    let s = setup();
    let exec = Counting::new(Answer::Draft);
    let rail = rail_with(&s, &exec);
    let outcomes = hammer(&rail);
    let records = check_all_recorded(&s, &rail, &outcomes);
    let AuditSyncs { syncs, batches } = rail.audit_syncs();
    let (syncs, batches) = (syncs.unwrap(), batches.unwrap());
    assert_eq!(syncs, batches, "one fdatasync per batch");
    assert!(
        syncs < records,
        "{syncs} fdatasyncs for {records} records: no group commit happened"
    );
}

#[test]
fn group_commit_callers_queued_behind_a_slow_commit_share_one_sync() {
    let s = setup();
    let exec = Counting::new(Answer::Draft);
    let (rail, sizes) = rail_with_batches(&s, &exec, Duration::from_millis(3), usize::MAX);
    let outcomes = hammer(&rail);
    let records = check_all_recorded(&s, &rail, &outcomes);
    let syncs = rail.audit_syncs().syncs;
    let syncs = syncs.unwrap();
    let sizes = sizes.lock().unwrap();
    assert_eq!(sizes.len() as u64, syncs);
    assert_eq!(sizes.iter().map(|(n, _)| *n as u64).sum::<u64>(), records);
    assert!(sizes.iter().any(|(n, _)| *n > 1));
    assert!(
        syncs * 2 < records,
        "{syncs} fdatasyncs for {records} records"
    );
}

#[test]
fn group_commit_a_failed_batch_fails_every_member_and_writes_none_of_them() {
    let s = setup();
    let exec = Counting::new(Answer::Draft);
    // The first batch (one caller alone) commits; every later batch of more than one fails.
    let (rail, sizes) = rail_with_batches(&s, &exec, Duration::from_millis(3), 1);
    let outcomes = hammer(&rail);
    let sizes = sizes.lock().unwrap().clone();
    let failed_members: usize = sizes.iter().filter(|(_, f)| *f).map(|(n, _)| n).sum();
    let committed: usize = sizes.iter().filter(|(_, f)| !*f).map(|(n, _)| n).sum();
    assert!(failed_members >= 2, "no batch of several failed: {sizes:?}");
    let lines = log_lines(&s);
    assert_eq!(
        lines.len(),
        committed,
        "no member of a failed batch reached the log"
    );
    let in_log: std::collections::HashSet<String> = lines
        .iter()
        .map(|l| l["attempt_id"].as_str().unwrap().to_owned())
        .collect();
    let mut unconfirmed = 0;
    for o in &outcomes {
        if o.code == C::AbortedAuditUnconfirmed {
            unconfirmed += 1;
            assert!(!o.recorded && o.evidence.is_none() && o.draft_ref.is_none());
        } else {
            assert!(o.recorded);
            evidence::verify(o.evidence.as_deref().unwrap(), rail.verifier()).unwrap();
            assert!(in_log.contains(o.attempt_id.as_str()));
        }
    }
    // A failed record ends its attempt (open: no execution; terminal: no draft), so each failed
    // record is exactly one unconfirmed outcome.
    assert_eq!(unconfirmed, failed_members);
    mig06_rail::audit::verify::verify_dir(
        &audit_dir(&s.config),
        rail.verifier(),
        None,
        &mut |_, _| {},
    )
    .unwrap();
}
