//! Group commit: concurrent callers' records made durable by one `fdatasync`, on the callers'
//! own threads.
//!
//! The decision that matters: no thread, timer or background task. A caller enqueues its record
//! and, when no other caller is committing, becomes the leader: it takes every record queued so
//! far (its own included) and hands them to the store as one batch ([`AuditStore::append_batch`]:
//! one locked pass, one write, one sync, one signed checkpoint). Callers that arrive while a
//! leader is committing wait on a condition variable; when the leader publishes the batch's
//! results, each takes its own, and one of those still queued becomes the next leader. No caller
//! gets its [`Appended`] before the batch holding its record is durable; a failed batch fails
//! every record in it, and nothing is retried.
//!
//! Every append carries a bound (an open record's attempt deadline, a terminal record's deadline
//! plus [`super::TERMINAL_APPEND_MARGIN`]), and no caller waits past its own: the leader hands
//! the store the earliest bound of its batch ([`AuditStore::append_batch`]; a database store
//! returns by it), and a follower waits on the condition variable only until its bound. A
//! follower whose bound passes while its record is still queued withdraws it and fails with
//! nothing sent ([`AuditError::BoundPassed`] `{ sent: false }`); one whose record a leader already
//! took fails unconfirmed (`sent: true`), and the leader's later result for it is dropped when
//! published. A leader never takes a record whose bound has passed: its owner withdraws it.
//!
//! The store itself is taken in turns, and a turn is waited for only until the caller's bound
//! ([`GroupCommit::read_by`], the leader's batch bound): a caller never waits past its own bound
//! behind another caller's store operation (a continuation's reads, a readiness probe, another
//! batch) whose bound is later. A leader whose batch bound passes before its turn fails the batch
//! with nothing sent (`sent: false`).
//!
//! Each waiting caller is woken on its own condition variable: when a batch ends, the leader wakes
//! the members of its batch and the first caller still queued (who leads next), not every caller
//! waiting; the store's turn has a condition variable of its own. (One shared condition variable
//! woken for all cost a fifth of a denied attempt's server CPU at 64 connections: every batch
//! woke every caller.)
//!
//! A poisoned lock (a panic while it was held) is an audit failure: the caller is told its
//! record is unconfirmed (fail closed).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use super::{Appended, AuditError, AuditRecord, AuditStore};
use crate::executor::Deadline;
use crate::witness::Witnesses;

/// A shared audit store whose appends are committed in groups.
pub struct GroupCommit {
    state: Mutex<State>,
    /// Woken when the store's turn is released.
    turn: Condvar,
    store: Mutex<Box<dyn AuditStore>>,
    /// The witnesses each batch is submitted to, and the rollback latch.
    witnesses: Witnesses,
    /// The log size this instance last saw (after open or its own latest batch), for health
    /// reports that must not wait behind an `fdatasync`.
    known_size: AtomicU64,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    /// Records waiting for a leader, in arrival order, with their tickets and bounds.
    pending: Vec<Pending>,
    /// The next ticket.
    next_ticket: u64,
    /// Whether a caller is committing a batch now.
    leading: bool,
    /// Results the leader published, by ticket, until their caller takes them.
    results: HashMap<u64, Result<Appended, AuditError>>,
    /// Tickets whose callers stopped waiting (their bound passed) after a leader took their
    /// record: the leader drops their results instead of publishing them.
    abandoned: HashSet<u64>,
    /// Batches committed (for tests and metrics).
    batches: u64,
    /// Whether a caller holds the store's turn ([`GroupCommit::take_store`]).
    store_busy: bool,
    /// The condition variable each waiting caller waits on, by ticket.
    wakers: HashMap<u64, Arc<Condvar>>,
}

impl State {
    /// Wakes the caller who should lead next: the first queued one that waits, when no one
    /// leads.
    fn wake_next_leader(&self) {
        if self.leading {
            return;
        }
        // Not one whose bound passed: its owner is leaving, and would not lead.
        if let Some(cv) = self
            .pending
            .iter()
            .filter(|p| !p.bound.passed())
            .find_map(|p| self.wakers.get(&p.ticket))
        {
            cv.notify_one();
        }
    }
}

/// A queued record.
struct Pending {
    ticket: u64,
    record: AuditRecord,
    bound: Deadline,
}

fn poisoned(what: &'static str) -> AuditError {
    AuditError::Io {
        op: what,
        source: std::io::Error::other("audit store poisoned by an earlier panic"),
    }
}

/// The same failure for another member of a failed batch (`AuditError` holds an `io::Error`,
/// which is not `Clone`).
#[must_use]
pub fn batch_failure(e: &AuditError) -> AuditError {
    match e {
        AuditError::Io { op, source } => AuditError::Io {
            op,
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        AuditError::Corrupt { index, what } => AuditError::Corrupt {
            index: *index,
            what: what.clone(),
        },
        AuditError::CheckpointMismatch { what } => {
            AuditError::CheckpointMismatch { what: what.clone() }
        }
        AuditError::KeyRotated { what } => AuditError::KeyRotated { what: what.clone() },
        AuditError::Backend { op, message } => AuditError::Backend {
            op,
            message: message.clone(),
        },
        AuditError::Encode => AuditError::Encode,
        AuditError::NoResult => AuditError::NoResult,
        AuditError::Rule(v) => AuditError::Rule(*v),
        AuditError::WitnessUnconfirmed => AuditError::WitnessUnconfirmed,
        AuditError::Tampered(t) => AuditError::Tampered(*t),
        AuditError::BoundPassed { sent } => AuditError::BoundPassed { sent: *sent },
    }
}

/// A caller's turn at the store; ends when dropped (even on a panic), waking the waiters.
struct StoreTurn<'a> {
    group: &'a GroupCommit,
}

impl Drop for StoreTurn<'_> {
    fn drop(&mut self) {
        let mut st = self.group.state_anyway();
        st.store_busy = false;
        drop(st);
        self.group.turn.notify_all();
    }
}

/// Publishes a leader's batch results when dropped, even when the commit panicked: then every
/// member of the batch that has no result gets an error, and the next caller may lead.
struct Leader<'a> {
    group: &'a GroupCommit,
    tickets: Vec<u64>,
    results: Vec<Result<Appended, AuditError>>,
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        // Publishing must happen even on a poisoned lock, or the followers would wait forever.
        let mut st = self.group.state_anyway();
        if let Some(size) = self
            .results
            .iter()
            .flatten()
            .map(|a| a.index.saturating_add(1))
            .max()
        {
            self.group.note_size(size);
        }
        let mut results = std::mem::take(&mut self.results).into_iter();
        for ticket in self.tickets.drain(..) {
            let r = results
                .next()
                .unwrap_or_else(|| Err(poisoned("commit batch")));
            // A caller that stopped waiting gets nothing: its result is dropped, not kept.
            if !st.abandoned.remove(&ticket) {
                st.results.insert(ticket, r);
                if let Some(cv) = st.wakers.get(&ticket) {
                    cv.notify_one();
                }
            }
        }
        st.leading = false;
        st.batches = st.batches.saturating_add(1);
        st.wake_next_leader();
    }
}

/// A caller leaving [`GroupCommit::append`] (dropped on return and on unwind).
struct Leaving<'a> {
    group: &'a GroupCommit,
    ticket: u64,
}

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        let mut st = self.group.state_anyway();
        st.wakers.remove(&self.ticket);
        st.pending.retain(|p| p.ticket != self.ticket);
        st.results.remove(&self.ticket);
        st.wake_next_leader();
    }
}

impl GroupCommit {
    /// Wraps `store`.
    #[must_use]
    pub fn new(store: Box<dyn AuditStore>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            turn: Condvar::new(),
            store: Mutex::new(store),
            witnesses: Witnesses::none(),
            known_size: AtomicU64::new(0),
        }
    }

    /// Submits every batch to `witnesses` from now on ([`Witnesses::settle`]).
    #[must_use]
    pub fn with_witnesses(mut self, witnesses: Witnesses) -> Self {
        self.witnesses = witnesses;
        self
    }

    /// The witnesses and the rollback latch.
    #[must_use]
    pub fn witnesses(&self) -> &Witnesses {
        &self.witnesses
    }

    /// The state even when a panic poisoned its lock: for what must happen whatever failed
    /// (publishing a batch's results, giving back the store's turn, a caller leaving).
    fn state_anyway(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn state(&self) -> Result<MutexGuard<'_, State>, AuditError> {
        self.state.lock().map_err(|_| poisoned("lock group commit"))
    }

    /// Appends `record` together with whatever other callers append at the same time, and
    /// returns once it is durable (see [`AuditStore::append`]), or once `bound` has passed.
    ///
    /// # Errors
    /// Any error means the append is not confirmed: the batch failed, a lock was poisoned, or
    /// `bound` passed first ([`AuditError::BoundPassed`], `sent: false` when the record was
    /// withdrawn before any leader took it).
    pub fn append(&self, record: AuditRecord, bound: Deadline) -> Result<Appended, AuditError> {
        let mut st = self.state()?;
        let ticket = st.next_ticket;
        st.next_ticket = st.next_ticket.wrapping_add(1);
        st.pending.push(Pending {
            ticket,
            record,
            bound,
        });
        let woken = Arc::new(Condvar::new());
        st.wakers.insert(ticket, Arc::clone(&woken));
        // Whatever the outcome, even a panic in a batch this caller led: it waits no more, its
        // record does not stay queued, and if it was the one woken to lead and did not, the
        // next queued caller is.
        let _leaving = Leaving {
            group: self,
            ticket,
        };
        self.wait_or_lead(st, ticket, bound, &woken)
    }

    /// [`GroupCommit::append`]'s loop: waits on `woken` for the result of `ticket`, leading a
    /// batch whenever no one else does.
    fn wait_or_lead<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        ticket: u64,
        bound: Deadline,
        woken: &Condvar,
    ) -> Result<Appended, AuditError> {
        loop {
            if let Some(result) = st.results.remove(&ticket) {
                return result;
            }
            let Some(left) = bound.remaining() else {
                // Our bound passed: withdraw the record if no leader took it yet, else stop
                // waiting for it (its result, when the leader publishes it, is dropped).
                if let Some(at) = st.pending.iter().position(|p| p.ticket == ticket) {
                    drop(st.pending.remove(at));
                    return Err(AuditError::BoundPassed { sent: false });
                }
                st.abandoned.insert(ticket);
                return Err(AuditError::BoundPassed { sent: true });
            };
            if st.leading {
                st = woken
                    .wait_timeout(st, left)
                    .map_err(|_| poisoned("wait for group commit"))?
                    .0;
                continue;
            }
            // Lead: commit everything queued so far whose bound has not passed (our own record
            // is among it, unless an earlier leader already took it, in which case its result
            // is published above). Records whose bound passed stay for their owners to withdraw.
            let (due, live): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut st.pending)
                .into_iter()
                .partition(|p| p.bound.passed());
            st.pending = due;
            // Lead only a batch that holds our own record: one whose bound passed between the
            // check above and the partition is withdrawn on the next turn, and no caller leads
            // (and waits on) a batch it has no record in.
            if !live.iter().any(|p| p.ticket == ticket) {
                let ours_due = st.pending.iter().any(|p| p.ticket == ticket);
                st.pending.extend(live);
                st.pending.sort_by_key(|p| p.ticket);
                if ours_due {
                    continue;
                }
                // Our record is neither queued nor answered: a broken contract, not a wait.
                return Err(AuditError::NoResult);
            }
            let Some(batch_bound) = live.iter().map(|p| p.bound).min() else {
                return Err(AuditError::NoResult);
            };
            st.leading = true;
            drop(st);
            let (tickets, records): (Vec<u64>, Vec<AuditRecord>) =
                live.into_iter().map(|p| (p.ticket, p.record)).unzip();
            let mut leader = Leader {
                group: self,
                tickets,
                results: Vec::new(),
            };
            leader.results = self.commit(records, batch_bound);
            drop(leader);
            st = self.state()?;
        }
    }

    // INV-DEADLINE-ANSWERED: the leader waits for the store's turn only until its batch's
    // bound, and hands the store that bound for the batch and for the witnesses' reads.
    /// The leader's one call: the batch to the store, bounded by the batch's earliest bound
    /// (the wait for the store's turn, the batch, and the store's reads for the witnesses).
    fn commit(
        &self,
        records: Vec<AuditRecord>,
        bound: Deadline,
    ) -> Vec<Result<Appended, AuditError>> {
        let n = records.len();
        let turn = match self.take_store(Some(bound)) {
            Ok(turn) => turn,
            Err(e) => return (0..n).map(|_| Err(batch_failure(&e))).collect(),
        };
        let results = match self.store.lock() {
            Ok(mut store) => {
                let mut results = store.append_batch(records, bound);
                store.bound_reads(Some(bound));
                self.witnesses.settle(store.as_mut(), &mut results, bound);
                store.bound_reads(None);
                results
            }
            Err(_) => (0..n).map(|_| Err(poisoned("lock store"))).collect(),
        };
        drop(turn);
        results
    }

    /// Waits for the store's turn, until `bound` when given.
    ///
    /// # Errors
    /// [`AuditError::BoundPassed`] (`sent: false`) when `bound` passed first; an I/O error when
    /// the lock is poisoned.
    fn take_store(&self, bound: Option<Deadline>) -> Result<StoreTurn<'_>, AuditError> {
        let mut st = self.state()?;
        while st.store_busy {
            st = match bound {
                None => self
                    .turn
                    .wait(st)
                    .map_err(|_| poisoned("wait for the store"))?,
                Some(bound) => {
                    let Some(left) = bound.remaining() else {
                        return Err(AuditError::BoundPassed { sent: false });
                    };
                    self.turn
                        .wait_timeout(st, left)
                        .map_err(|_| poisoned("wait for the store"))?
                        .0
                }
            };
        }
        st.store_busy = true;
        Ok(StoreTurn { group: self })
    }

    /// Runs `f` on the store in its turn, waiting for the turn as long as it takes (tests and
    /// counters; an attempt uses [`GroupCommit::read_by`]).
    ///
    /// # Errors
    /// `f`'s error, or an I/O error when the store's lock is poisoned.
    pub(crate) fn with_store<T>(
        &self,
        f: impl FnOnce(&mut dyn AuditStore) -> Result<T, AuditError>,
    ) -> Result<T, AuditError> {
        let turn = self.take_store(None)?;
        let out = self.in_turn(f);
        drop(turn);
        out
    }

    /// Runs `f` on the store in its turn, waiting for the turn only until `bound`; `f`'s own
    /// round trips are the store's to bound (a readiness probe).
    ///
    /// # Errors
    /// `f`'s error, [`AuditError::BoundPassed`] when `bound` passed before the turn came, or an
    /// I/O error when the store's lock is poisoned.
    pub(crate) fn with_store_by<T>(
        &self,
        bound: Deadline,
        f: impl FnOnce(&mut dyn AuditStore) -> Result<T, AuditError>,
    ) -> Result<T, AuditError> {
        let turn = self.take_store(Some(bound))?;
        let out = self.in_turn(f);
        drop(turn);
        out
    }

    fn in_turn<T>(
        &self,
        f: impl FnOnce(&mut dyn AuditStore) -> Result<T, AuditError>,
    ) -> Result<T, AuditError> {
        let mut store = self.store.lock().map_err(|_| poisoned("lock store"))?;
        f(store.as_mut())
    }

    // INV-DEADLINE-ANSWERED: reads an attempt waits on wait for the store's turn, and run their
    // round trips, only until the attempt's bound.
    /// Runs `f` on the store with the store's reads bounded by `bound`
    /// ([`AuditStore::bound_reads`]), waiting for the store's turn only until `bound`: reads an
    /// attempt waits on (a continuation's checks, the request-id check).
    ///
    /// # Errors
    /// `f`'s error, [`AuditError::BoundPassed`] when `bound` passed before the turn came, or an
    /// I/O error when the store's lock is poisoned.
    pub(crate) fn read_by<T>(
        &self,
        bound: Deadline,
        f: impl FnOnce(&mut dyn AuditStore) -> Result<T, AuditError>,
    ) -> Result<T, AuditError> {
        self.with_store_by(bound, |s| bounded_read(s, bound, f))
    }

    /// Runs `f` on the store as [`GroupCommit::read_by`] does, but only when no batch is being
    /// committed and no one holds the store: `None` (nothing read, nothing waited for)
    /// otherwise. For a check the append enforces anyway (the request-id check before an
    /// attempt runs), so that it never queues behind another caller's `fdatasync`.
    ///
    /// # Errors
    /// `Some` of `f`'s error, or of an I/O error when the store's lock is poisoned.
    pub(crate) fn read_if_free<T>(
        &self,
        bound: Deadline,
        f: impl FnOnce(&mut dyn AuditStore) -> Result<T, AuditError>,
    ) -> Option<Result<T, AuditError>> {
        let turn = {
            let mut st = match self.state() {
                Ok(st) => st,
                Err(e) => return Some(Err(e)),
            };
            // Nor between two batches: records are queued, and the next leader is on its way.
            if st.store_busy || st.leading || !st.pending.is_empty() {
                return None;
            }
            st.store_busy = true;
            StoreTurn { group: self }
        };
        let out = self.in_turn(|s| bounded_read(s, bound, f));
        drop(turn);
        Some(out)
    }

    /// Records a log size seen by this instance (sizes only grow).
    pub(crate) fn note_size(&self, size: u64) {
        self.known_size.fetch_max(size, Ordering::Relaxed);
    }

    /// The log size this instance last saw; other processes may have appended since.
    #[must_use]
    pub(crate) fn known_size(&self) -> u64 {
        self.known_size.load(Ordering::Relaxed)
    }

    /// Batches committed so far (each is one call to [`AuditStore::append_batch`]).
    ///
    /// # Errors
    /// When the lock is poisoned.
    pub fn batches(&self) -> Result<u64, AuditError> {
        Ok(self.state()?.batches)
    }
}

/// `f` on `store` with the store's reads bounded by `bound` ([`AuditStore::bound_reads`]).
fn bounded_read<T>(
    store: &mut dyn AuditStore,
    bound: Deadline,
    f: impl FnOnce(&mut dyn AuditStore) -> Result<T, AuditError>,
) -> Result<T, AuditError> {
    store.bound_reads(Some(bound));
    let out = f(&mut *store);
    store.bound_reads(None);
    out
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "a test plays a second caller on a thread of its own; the library itself starts none"
)]
mod tests {
    //! The bounded wait, driven deterministically: the test plays the leader by holding the
    //! `leading` flag and taking (or not) the queued records itself.

    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::audit::file::FileStore;
    use crate::audit::file::tests::record;
    use mig06_tlog::checkpoint::LogSigner;

    const BOUND: Duration = Duration::from_millis(200);
    /// How late past its bound a follower may return (thread scheduling on a loaded machine).
    const SLACK: Duration = Duration::from_secs(2);

    fn group() -> (tempfile::TempDir, Arc<GroupCommit>) {
        let dir = tempfile::tempdir().unwrap();
        let signer = LogSigner::generate("mig06.example/audit").unwrap();
        let store = FileStore::open(dir.path(), signer).unwrap();
        (dir, Arc::new(GroupCommit::new(Box::new(store))))
    }

    /// Marks a (pretend) leader as committing, runs `append` on a thread with a short bound, and
    /// lets `meanwhile` act on the state while it waits.
    fn follower_behind_a_stuck_leader(
        meanwhile: impl FnOnce(&GroupCommit),
    ) -> (
        Arc<GroupCommit>,
        Result<Appended, AuditError>,
        Duration,
        tempfile::TempDir,
    ) {
        let (dir, g) = group();
        g.state().unwrap().leading = true;
        let follower = Arc::clone(&g);
        let bound = Deadline::after(BOUND);
        let started = Instant::now();
        let h = std::thread::spawn(move || follower.append(record(), bound));
        while g.state().unwrap().pending.is_empty() {
            std::thread::yield_now();
        }
        meanwhile(&g);
        let r = h.join().unwrap();
        (g, r, started.elapsed(), dir)
    }

    #[test]
    fn a_follower_whose_record_is_still_queued_withdraws_it_at_its_bound() {
        let (g, r, took, _dir) = follower_behind_a_stuck_leader(|_| {});
        assert!(
            matches!(r, Err(AuditError::BoundPassed { sent: false })),
            "{r:?}"
        );
        assert!(
            took >= BOUND && took < BOUND + SLACK,
            "returned after {took:?}"
        );
        let st = g.state().unwrap();
        assert!(
            st.pending.is_empty(),
            "the withdrawn record is not left queued"
        );
        assert!(st.abandoned.is_empty());
    }

    #[test]
    fn a_follower_whose_record_was_taken_fails_unconfirmed_and_its_late_result_is_dropped() {
        let mut taken = Vec::new();
        let (g, r, took, _dir) = follower_behind_a_stuck_leader(|g| {
            // The stuck leader took the record into its batch.
            taken = std::mem::take(&mut g.state().unwrap().pending);
        });
        assert!(
            matches!(r, Err(AuditError::BoundPassed { sent: true })),
            "{r:?}"
        );
        assert!(
            took >= BOUND && took < BOUND + SLACK,
            "returned after {took:?}"
        );
        // The leader's batch ends long after: its result for the abandoned ticket is dropped.
        let leader = Leader {
            group: &g,
            tickets: taken.iter().map(|p| p.ticket).collect(),
            results: taken.iter().map(|_| Err(AuditError::Encode)).collect(),
        };
        drop(leader);
        let st = g.state().unwrap();
        assert!(
            st.results.is_empty(),
            "no result waits for a caller that left"
        );
        assert!(
            st.abandoned.is_empty(),
            "the abandoned ticket is forgotten once settled"
        );
        assert!(!st.leading);
    }

    #[test]
    fn inv_deadline_answered_a_caller_waits_for_the_store_only_until_its_own_bound() {
        let (_dir, g) = group();
        // Another caller holds the store (a continuation's reads with a later bound, a readiness
        // probe, a batch on a database that stopped answering).
        let held = g.take_store(None).unwrap();
        let leader = {
            let g = Arc::clone(&g);
            std::thread::spawn(move || {
                let started = Instant::now();
                (
                    g.append(record(), Deadline::after(BOUND)),
                    started.elapsed(),
                )
            })
        };
        let reader = {
            let g = Arc::clone(&g);
            std::thread::spawn(move || {
                let started = Instant::now();
                let r = g.read_by(Deadline::after(BOUND), |s| s.leaf_at(0));
                (r, started.elapsed())
            })
        };
        let (appended, leader_took) = leader.join().unwrap();
        let (read, reader_took) = reader.join().unwrap();
        assert!(
            matches!(appended, Err(AuditError::BoundPassed { sent: false })),
            "{appended:?}"
        );
        assert!(
            matches!(read, Err(AuditError::BoundPassed { sent: false })),
            "{read:?}"
        );
        for took in [leader_took, reader_took] {
            assert!(
                took >= BOUND && took < BOUND + SLACK,
                "returned after {took:?}"
            );
        }
        drop(held);
        // Nothing was sent: the log is empty, and the store serves the next caller at once.
        let a = g
            .append(record(), Deadline::after(Duration::from_secs(30)))
            .unwrap();
        assert_eq!(a.index, 0);
    }

    /// The file store, noting the bound each batch was given.
    struct Noting {
        inner: FileStore,
        bounds: Arc<Mutex<Vec<Deadline>>>,
    }

    impl AuditStore for Noting {
        fn append(&mut self, record: AuditRecord) -> Result<Appended, AuditError> {
            self.inner.append(record)
        }
        fn append_batch(
            &mut self,
            records: Vec<AuditRecord>,
            bound: Deadline,
        ) -> Vec<Result<Appended, AuditError>> {
            self.bounds.lock().unwrap().push(bound);
            self.inner.append_batch(records, bound)
        }
        fn is_claim_held(&mut self, prior: &crate::ids::AttemptId) -> Result<bool, AuditError> {
            self.inner.is_claim_held(prior)
        }
        fn request_id_holder(
            &mut self,
            request_id: &crate::ids::RequestId,
        ) -> Result<Option<crate::ids::AttemptId>, AuditError> {
            self.inner.request_id_holder(request_id)
        }
        fn witness_checkpoint(
            &mut self,
            at_least: u64,
        ) -> Result<crate::witness::WitnessCheckpoint, AuditError> {
            self.inner.witness_checkpoint(at_least)
        }
        fn consistency_proof(
            &mut self,
            old: u64,
            new: u64,
        ) -> Result<Vec<super::super::Hash>, AuditError> {
            self.inner.consistency_proof(old, new)
        }
        fn inclusion_proof(
            &mut self,
            index: u64,
            size: u64,
        ) -> Result<Vec<super::super::Hash>, AuditError> {
            self.inner.inclusion_proof(index, size)
        }
        fn root_at(&mut self, size: u64) -> Result<super::super::Hash, AuditError> {
            self.inner.root_at(size)
        }
        fn leaf_at(&mut self, index: u64) -> Result<super::super::Hash, AuditError> {
            self.inner.leaf_at(index)
        }
        fn verifier_key(&self) -> String {
            self.inner.verifier_key()
        }
    }

    #[test]
    fn a_leader_gives_the_store_its_batch_earliest_bound_and_never_sends_a_record_past_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let signer = LogSigner::generate("mig06.example/audit").unwrap();
        let bounds = Arc::new(Mutex::new(Vec::new()));
        let g = GroupCommit::new(Box::new(Noting {
            inner: FileStore::open(dir.path(), signer).unwrap(),
            bounds: Arc::clone(&bounds),
        }));
        // Queued by other callers: one whose bound passed while it waited, one still waiting
        // with an earlier bound than ours.
        let earlier = Deadline::after(Duration::from_secs(30));
        {
            let mut st = g.state().unwrap();
            st.pending.push(Pending {
                ticket: u64::MAX,
                record: record(),
                bound: Deadline::after(Duration::ZERO),
            });
            st.pending.push(Pending {
                ticket: u64::MAX - 1,
                record: record(),
                bound: earlier,
            });
        }
        let a = g.append(record(), Deadline::after(Duration::from_secs(60)));
        assert!(a.is_ok(), "{a:?}");
        assert_eq!(
            *bounds.lock().unwrap(),
            vec![earlier],
            "one batch, the earliest bound"
        );
        let mut st = g.state().unwrap();
        assert_eq!(
            st.pending.len(),
            1,
            "the record past its bound was not sent"
        );
        assert!(
            st.results
                .remove(&(u64::MAX - 1))
                .is_some_and(|r| r.is_ok())
        );
        assert!(st.results.is_empty());
    }
}
