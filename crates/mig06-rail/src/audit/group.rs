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
//! A poisoned lock (a panic while it was held) is an audit failure: the caller is told its
//! record is unconfirmed (fail closed).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use super::{Appended, AuditError, AuditRecord, AuditStore};
use crate::executor::Deadline;
use crate::witness::Witnesses;

/// A shared audit store whose appends are committed in groups.
pub struct GroupCommit {
    state: Mutex<State>,
    done: Condvar,
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
    /// Records waiting for a leader, in arrival order, with their tickets.
    pending: Vec<(u64, AuditRecord)>,
    /// The next ticket.
    next_ticket: u64,
    /// Whether a caller is committing a batch now.
    leading: bool,
    /// Results the leader published, by ticket, until their caller takes them.
    results: HashMap<u64, Result<Appended, AuditError>>,
    /// Batches committed (for tests and metrics).
    batches: u64,
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
        AuditError::Backend { op, message } => AuditError::Backend {
            op,
            message: message.clone(),
        },
        AuditError::Encode => AuditError::Encode,
        AuditError::NoResult => AuditError::NoResult,
        AuditError::Rule(v) => AuditError::Rule(*v),
        AuditError::WitnessUnconfirmed => AuditError::WitnessUnconfirmed,
        AuditError::Tampered(t) => AuditError::Tampered(*t),
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
        let mut st = self
            .group
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
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
            st.results.insert(ticket, r);
        }
        st.leading = false;
        st.batches = st.batches.saturating_add(1);
        drop(st);
        self.group.done.notify_all();
    }
}

impl GroupCommit {
    /// Wraps `store`.
    #[must_use]
    pub fn new(store: Box<dyn AuditStore>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            done: Condvar::new(),
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

    fn state(&self) -> Result<MutexGuard<'_, State>, AuditError> {
        self.state.lock().map_err(|_| poisoned("lock group commit"))
    }

    /// Appends `record` together with whatever other callers append at the same time, and
    /// returns once it is durable (see [`AuditStore::append`]).
    ///
    /// # Errors
    /// Any error means the append is not confirmed: the batch failed, or a lock was poisoned.
    pub fn append(&self, record: AuditRecord) -> Result<Appended, AuditError> {
        let mut st = self.state()?;
        let ticket = st.next_ticket;
        st.next_ticket = st.next_ticket.wrapping_add(1);
        st.pending.push((ticket, record));
        loop {
            if let Some(result) = st.results.remove(&ticket) {
                return result;
            }
            if st.leading {
                st = self
                    .done
                    .wait(st)
                    .map_err(|_| poisoned("wait for group commit"))?;
                continue;
            }
            // Lead: commit everything queued so far (our own record is among it, unless an
            // earlier leader already took it, in which case its result is published above).
            st.leading = true;
            let (tickets, records): (Vec<u64>, Vec<AuditRecord>) =
                std::mem::take(&mut st.pending).into_iter().unzip();
            drop(st);
            let mut leader = Leader {
                group: self,
                tickets,
                results: Vec::new(),
            };
            leader.results = self.commit(records);
            drop(leader);
            st = self.state()?;
        }
    }

    fn commit(&self, records: Vec<AuditRecord>) -> Vec<Result<Appended, AuditError>> {
        let n = records.len();
        match self.store.lock() {
            Ok(mut store) => {
                let mut results = store.append_batch(records);
                // TODO(i26 merge): the batch's earliest deadline.
                let bound = Deadline::after(std::time::Duration::from_secs(5));
                self.witnesses.settle(store.as_mut(), &mut results, bound);
                results
            }
            Err(_) => (0..n).map(|_| Err(poisoned("lock store"))).collect(),
        }
    }

    /// Runs `f` on the store under its lock (reads: leaves, roots, claims).
    ///
    /// # Errors
    /// `f`'s error, or an I/O error when the store's lock is poisoned.
    pub(crate) fn with_store<T>(
        &self,
        f: impl FnOnce(&mut dyn AuditStore) -> Result<T, AuditError>,
    ) -> Result<T, AuditError> {
        let mut store = self.store.lock().map_err(|_| poisoned("lock store"))?;
        f(store.as_mut())
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
