//! Witnesses: outsiders that cosign the log's checkpoints (C2SP `tlog-witness`,
//! `tlog-cosignature`), so that whoever controls the storage cannot roll the log back or fork it
//! without the rail noticing.
//!
//! The decision that matters: a witness is one more synchronous dependency of the audit append,
//! called by the group-commit leader on its own thread, once per batch and per witness, within
//! the earliest deadline of the batch. No step executes unless a quorum has cosigned a checkpoint
//! that includes the attempt's open record, and no outcome is released unless a quorum cosigned
//! one that includes its terminal record: a terminal record no witness saw could be cut off the
//! log by whoever controls the storage, and the chain it completed be completed again, with every
//! witness agreeing. Such an attempt is answered `ABORTED_AUDIT_UNCONFIRMED` (not recorded, as
//! when the store does not confirm), its draft withheld. Nothing is queued or retried: the
//! one resubmission is the protocol's own `409 Conflict` recovery, from the size the witness
//! names, with a consistency proof from that size.
//!
//! Evidence that the log was rolled back or forked (a witness that knows a larger tree than the
//! log holds, a witness that refuses our history or whose cosignature does not verify, a caller's
//! token signed by this log's key that the log does not contain) latches: every later attempt is
//! refused before execution with `ABORTED_LOG_ROLLBACK` until an operator acts and the rail is
//! restarted (docs/OPERATIONS.md, "A rolled-back or forked log").
//!
//! The library holds no HTTP client: the binary supplies each [`Witness`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::audit::{Appended, AuditError, AuditStore, Hash};
use crate::executor::Deadline;
use crate::outcome::Reason;

/// Why a witness did not cosign. Carries no witness output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// `409 Conflict`: the witness's latest size of this log is `size`, not the old size sent.
    #[error("the witness knows the log at size {size}")]
    Conflict {
        /// The witness's latest cosigned size of this log.
        size: u64,
    },
    /// No answer by the deadline, or the connection failed.
    #[error("the witness did not answer in time")]
    Unavailable,
    /// The witness refused the checkpoint with this HTTP status (`422`: our consistency proof
    /// does not lead from the size it knows to our checkpoint).
    #[error("the witness refused the checkpoint with status {status}")]
    Refused {
        /// The HTTP status.
        status: u16,
    },
    /// The answer is not a cosignature by the configured key over the checkpoint sent.
    #[error("the witness's cosignature does not verify")]
    BadCosignature,
    /// The answer is not a well-formed protocol answer.
    #[error("the witness's answer is malformed")]
    Malformed,
}

/// A witness the rail submits checkpoints to (C2SP `tlog-witness` `add-checkpoint`).
pub trait Witness: Send + Sync {
    /// The witness's name (its key name), for reports.
    fn name(&self) -> &str;

    /// Submits `checkpoint` (a signed note) with a consistency proof from `old_size`, and
    /// returns the witness's cosignature line(s) (`— name base64`), verified against the
    /// configured witness key, only once the witness answered. Called at most once per batch,
    /// plus once more after a `409 Conflict` from the size it names.
    ///
    /// # Errors
    /// [`WitnessError`]; the implementation gives up at `deadline`.
    fn add_checkpoint(
        &self,
        old_size: u64,
        proof: &[crate::audit::Hash],
        checkpoint: &str,
        deadline: Deadline,
    ) -> Result<String, WitnessError>;
}

/// Evidence that the log was rolled back or forked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Tamper {
    /// A witness has cosigned a larger tree of this log than the log holds.
    #[error("a witness has cosigned a larger tree of this log than the log holds")]
    WitnessKnowsLargerTree,
    /// A witness refused our history from the size it knows, or its cosignature did not verify.
    #[error("a witness disagrees with this log's history")]
    WitnessDisagrees,
    /// A caller's evidence carries this log's signed checkpoint of a size the log does not reach.
    #[error("a checkpoint signed by this log's key is beyond the log")]
    EvidenceBeyondLog,
    /// A caller's evidence carries this log's signed checkpoint whose root differs from the log's.
    #[error("a checkpoint signed by this log's key disagrees with the log")]
    EvidenceRootMismatch,
}

impl Tamper {
    /// Every kind of evidence, in a fixed order (for `/metrics`).
    pub const ALL: [Tamper; 4] = [
        Self::WitnessKnowsLargerTree,
        Self::WitnessDisagrees,
        Self::EvidenceBeyondLog,
        Self::EvidenceRootMismatch,
    ];

    fn index(self) -> usize {
        match self {
            Self::WitnessKnowsLargerTree => 0,
            Self::WitnessDisagrees => 1,
            Self::EvidenceBeyondLog => 2,
            Self::EvidenceRootMismatch => 3,
        }
    }

    /// The reason code an attempt refused for it carries.
    #[must_use]
    pub fn reason(self) -> Reason {
        match self {
            Self::WitnessKnowsLargerTree => Reason::WitnessKnowsLargerTree,
            Self::WitnessDisagrees => Reason::WitnessDisagrees,
            Self::EvidenceBeyondLog => Reason::EvidenceBeyondLog,
            Self::EvidenceRootMismatch => Reason::EvidenceRootMismatch,
        }
    }
}

/// One configured witness and the latest size of this log it is known to have cosigned.
struct Member {
    witness: Box<dyn Witness>,
    known: AtomicU64,
}

/// The configured witnesses, their quorum, and the rollback latch.
pub struct Witnesses {
    members: Vec<Member>,
    quorum: usize,
    tampered: Mutex<Option<Tamper>>,
    detections: AtomicU64,
    /// Detections per kind, in [`Tamper::ALL`]'s order.
    detections_by: [AtomicU64; Tamper::ALL.len()],
    /// Witnesses that cosigned the last batch submitted; [`NOT_SUBMITTED`] before the first.
    last_cosigned: AtomicU64,
}

/// [`Witnesses::last_cosigned`] before any batch was submitted.
const NOT_SUBMITTED: u64 = u64::MAX;

impl std::fmt::Debug for Witnesses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witnesses")
            .field("members", &self.members.len())
            .field("quorum", &self.quorum)
            .finish_non_exhaustive()
    }
}

/// What a batch needs from the store to be witnessed: a signed checkpoint of the whole log as
/// the store now knows it (at least the batch), consistency proofs to it, inclusion proofs in it.
#[derive(Debug, Clone)]
pub struct WitnessCheckpoint {
    /// The checkpoint's tree size.
    pub size: u64,
    /// The signed note.
    pub note: String,
}

/// What submitting a checkpoint to the witnesses reads from the log: a signed checkpoint of the
/// whole log and consistency proofs to it. Every [`AuditStore`] is one; so is a log held under
/// its store's lock while its key is rotated ([`crate::audit::file::rotate`]).
pub(crate) trait WitnessedLog {
    /// As [`AuditStore::witness_checkpoint`].
    fn witness_checkpoint(&mut self, at_least: u64) -> Result<WitnessCheckpoint, AuditError>;
    /// As [`AuditStore::consistency_proof`].
    fn consistency_proof(&mut self, old: u64, new: u64) -> Result<Vec<Hash>, AuditError>;
}

impl<T: AuditStore + ?Sized> WitnessedLog for T {
    fn witness_checkpoint(&mut self, at_least: u64) -> Result<WitnessCheckpoint, AuditError> {
        AuditStore::witness_checkpoint(self, at_least)
    }
    fn consistency_proof(&mut self, old: u64, new: u64) -> Result<Vec<Hash>, AuditError> {
        AuditStore::consistency_proof(self, old, new)
    }
}

/// A checkpoint a quorum of witnesses cosigned ([`Witnesses::cosign`]).
#[derive(Debug, Clone)]
pub struct Cosigned {
    /// The checkpoint's tree size.
    pub size: u64,
    /// The log's signed note with the cosignature lines after the log's own.
    pub note: String,
    /// The names of the witnesses that cosigned it.
    pub witnesses: Vec<String>,
}

/// Why the witnesses did not cosign a checkpoint ([`Witnesses::cosign`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unwitnessed {
    /// Fewer than the quorum cosigned in time.
    #[error("{} of the quorum of {quorum} witnesses cosigned (cosigned: {})", cosigned.len(), if cosigned.is_empty() { "none".to_owned() } else { cosigned.join(", ") })]
    BelowQuorum {
        /// The quorum.
        quorum: usize,
        /// The witnesses that cosigned.
        cosigned: Vec<String>,
    },
    /// A witness proved the log rolled back or forked.
    #[error("{0}")]
    Tampered(Tamper),
}

/// How witnessing a batch ended for its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// A quorum cosigned the checkpoint the records now carry.
    Cosigned,
    /// Fewer than the quorum cosigned in time.
    Unconfirmed,
    /// The log was rolled back or forked.
    Tampered(Tamper),
}

impl Witnesses {
    /// No witnesses: every batch is confirmed by the store alone (the rail's behaviour without
    /// `[[audit.witnesses]]`). The latch still works for the evidence callers present.
    #[must_use]
    pub fn none() -> Self {
        Self::new(Vec::new(), 0)
    }

    /// `witnesses`, of which `quorum` must cosign before a step executes. A quorum larger than
    /// the number of witnesses can never be reached, so every step is refused (fail closed:
    /// the configuration lists witnesses the binary did not supply).
    #[must_use]
    pub fn new(witnesses: Vec<Box<dyn Witness>>, quorum: usize) -> Self {
        Self {
            members: witnesses
                .into_iter()
                .map(|witness| Member {
                    witness,
                    known: AtomicU64::new(0),
                })
                .collect(),
            quorum,
            tampered: Mutex::new(None),
            detections: AtomicU64::new(0),
            detections_by: std::array::from_fn(|_| AtomicU64::new(0)),
            last_cosigned: AtomicU64::new(NOT_SUBMITTED),
        }
    }

    /// The configured witnesses' names, in configuration order (for `/metrics`).
    #[must_use]
    pub fn names(&self) -> Vec<&str> {
        self.members.iter().map(|m| m.witness.name()).collect()
    }

    /// How many witnesses cosigned the last batch submitted to them (`None` before the first).
    #[must_use]
    pub fn last_cosigned(&self) -> Option<u64> {
        match self.last_cosigned.load(Ordering::Relaxed) {
            NOT_SUBMITTED => None,
            n => Some(n),
        }
    }

    /// Detections per kind of evidence (for `/metrics`), in [`Tamper::ALL`]'s order.
    #[must_use]
    pub fn detections_by_kind(&self) -> [(Tamper, u64); Tamper::ALL.len()] {
        Tamper::ALL.map(|t| {
            let n = self
                .detections_by
                .get(t.index())
                .map_or(0, |c| c.load(Ordering::Relaxed));
            (t, n)
        })
    }

    // INV-WITNESSED-READY: readiness reads two in-memory facts, no round trip: the rollback
    // latch, and whether the quorum cosigned the last batch submitted.
    /// Whether an attempt could run now as far as the witnesses are concerned, from what is
    /// already known (no round trip): not after evidence of a rollback or fork (latched), and
    /// not when fewer than the quorum cosigned the last batch submitted. Before the first
    /// submission the witnesses are presumed able.
    ///
    /// # Errors
    /// [`AuditError::Tampered`] when the latch is set, [`AuditError::WitnessUnconfirmed`] when
    /// the last batch fell short of the quorum.
    pub fn ready(&self) -> Result<(), AuditError> {
        if let Some(t) = self.tampered() {
            return Err(AuditError::Tampered(t));
        }
        match self.last_cosigned() {
            Some(n) if n < self.quorum as u64 => Err(AuditError::WitnessUnconfirmed),
            _ => Ok(()),
        }
    }

    /// Whether batches are submitted to witnesses at all.
    #[must_use]
    pub fn required(&self) -> bool {
        self.quorum > 0 || !self.members.is_empty()
    }

    /// The quorum.
    #[must_use]
    pub fn quorum(&self) -> usize {
        self.quorum
    }

    /// The rollback or fork found so far, if any (latched until restart).
    #[must_use]
    pub fn tampered(&self) -> Option<Tamper> {
        match self.tampered.lock() {
            Ok(t) => *t,
            // A panic while the latch was held: refuse, as if tampered.
            Err(_) => Some(Tamper::WitnessDisagrees),
        }
    }

    /// How many times a rollback or fork was detected (for `/metrics`).
    #[must_use]
    pub fn detections(&self) -> u64 {
        self.detections.load(Ordering::Relaxed)
    }

    // INV-WITNESSED: evidence of a rollback or a fork latches: every later attempt is refused.
    /// Records evidence of a rollback or a fork. The first one found stays.
    pub fn latch(&self, t: Tamper) {
        self.detections.fetch_add(1, Ordering::Relaxed);
        if let Some(c) = self.detections_by.get(t.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut slot) = self.tampered.lock() {
            slot.get_or_insert(t);
        }
    }

    // INV-WITNESSED: no step executes unless a quorum cosigned a checkpoint that includes its
    // open record; the leader submits once per batch, within the batch's earliest deadline.
    /// Submits a durable batch's checkpoint to the witnesses and settles each record's result:
    /// records of a cosigned batch carry the cosigned checkpoint (and inclusion proofs in it);
    /// every record of a batch the quorum did not cosign fails: an open record's step may not
    /// execute, and a terminal record's outcome is not released.
    pub(crate) fn settle(
        &self,
        store: &mut dyn AuditStore,
        results: &mut [Result<Appended, AuditError>],
        deadline: Deadline,
    ) {
        if !self.required() {
            return;
        }
        let Some(end) = results
            .iter()
            .flatten()
            .map(|a| a.index.saturating_add(1))
            .max()
        else {
            return;
        };
        let (verdict, cosigned) = match self.tampered() {
            Some(t) => (Verdict::Tampered(t), None),
            None => {
                let (verdict, cosigned) = self.collect(store, end, deadline);
                let n = cosigned.as_ref().map_or(0, |(_, lines)| lines.len());
                self.last_cosigned.store(n as u64, Ordering::Relaxed);
                (verdict, cosigned)
            }
        };
        for r in results.iter_mut() {
            let Ok(a) = r else { continue };
            if let Some((cp, lines)) = &cosigned
                && let Ok(proof) = store.inclusion_proof(a.index, cp.size)
            {
                a.checkpoint = Some(with_cosignatures(&cp.note, lines));
                a.proof = proof;
            }
            // Every record, terminal ones too: a terminal record no quorum saw can be cut off
            // by whoever controls the storage without any witness noticing, and with it a
            // `COMPLETED_DRAFT` (its chain root then completes again) or a claim. So its
            // outcome is not released: the attempt is answered as unconfirmed, as when the
            // store itself does not confirm.
            match verdict {
                Verdict::Cosigned => {}
                Verdict::Unconfirmed => *r = Err(AuditError::WitnessUnconfirmed),
                Verdict::Tampered(t) => *r = Err(AuditError::Tampered(t)),
            }
        }
    }

    /// Submits the log's checkpoint of exactly `size` records (the whole log `log` holds) to
    /// the witnesses, as a batch's is, and returns it with the cosignatures once a quorum
    /// cosigned it: the end of a key epoch and the first checkpoint of the next are witnessed
    /// this way before a rotation completes.
    ///
    /// # Errors
    /// [`Unwitnessed`]: below the quorum (or a witness knows another size), or a rollback or
    /// fork (also latched).
    pub(crate) fn cosign(
        &self,
        log: &mut (impl WitnessedLog + ?Sized),
        size: u64,
        deadline: Deadline,
    ) -> Result<Cosigned, Unwitnessed> {
        let (verdict, cosigned) = self.collect(log, size, deadline);
        let names = |lines: &[String]| -> Vec<String> {
            lines
                .iter()
                .filter_map(|l| {
                    l.strip_prefix("\u{2014} ")
                        .and_then(|rest| rest.split(' ').next())
                        .map(str::to_owned)
                })
                .collect()
        };
        match (verdict, cosigned) {
            (Verdict::Cosigned, Some((cp, lines))) if cp.size == size => Ok(Cosigned {
                size,
                note: with_cosignatures(&cp.note, &lines),
                witnesses: names(&lines),
            }),
            (Verdict::Tampered(t), _) => Err(Unwitnessed::Tampered(t)),
            (_, cosigned) => Err(Unwitnessed::BelowQuorum {
                quorum: self.quorum,
                cosigned: cosigned.map(|(_, l)| names(&l)).unwrap_or_default(),
            }),
        }
    }

    /// One submission to each witness, in order, until the quorum cosigned one checkpoint;
    /// also the checkpoint and the cosignature lines obtained (even below the quorum).
    fn collect(
        &self,
        store: &mut (impl WitnessedLog + ?Sized),
        end: u64,
        deadline: Deadline,
    ) -> (Verdict, Option<(WitnessCheckpoint, Vec<String>)>) {
        let mut cp = match store.witness_checkpoint(end) {
            Ok(cp) => cp,
            Err(_) => return (Verdict::Unconfirmed, None),
        };
        let mut lines: Vec<String> = Vec::new();
        // One restart at most: a witness that knows a larger tree this log does hold (another
        // writer appended meanwhile) moves the checkpoint forward once.
        let mut restarted = false;
        let mut i = 0;
        while let Some(m) = self.members.get(i) {
            i += 1;
            if lines.len() >= self.quorum {
                break;
            }
            match self.submit(store, m, &cp, deadline) {
                Ok(line) => lines.push(line),
                Err(Outcome::Skip) => {}
                Err(Outcome::Tampered(t)) => {
                    self.latch(t);
                    return (Verdict::Tampered(t), Some((cp, lines)));
                }
                Err(Outcome::Larger(size)) => {
                    if restarted {
                        continue;
                    }
                    match store.witness_checkpoint(size) {
                        Ok(next) => {
                            restarted = true;
                            cp = next;
                            lines.clear();
                            i = 0;
                        }
                        Err(AuditError::Corrupt { .. }) => {
                            let t = Tamper::WitnessKnowsLargerTree;
                            self.latch(t);
                            return (Verdict::Tampered(t), Some((cp, lines)));
                        }
                        Err(_) => return (Verdict::Unconfirmed, Some((cp, lines))),
                    }
                }
            }
        }
        let verdict = if lines.len() >= self.quorum {
            Verdict::Cosigned
        } else {
            Verdict::Unconfirmed
        };
        (verdict, Some((cp, lines)))
    }

    /// Submits `cp` to one witness: from the size it is known to have, and after a
    /// `409 Conflict` once more from the size it names.
    fn submit(
        &self,
        store: &mut (impl WitnessedLog + ?Sized),
        m: &Member,
        cp: &WitnessCheckpoint,
        deadline: Deadline,
    ) -> Result<String, Outcome> {
        let mut old = m.known.load(Ordering::Relaxed);
        for _ in 0..2 {
            if old > cp.size {
                return Err(Outcome::Larger(old));
            }
            let proof = if old == 0 || old == cp.size {
                Vec::new()
            } else {
                store
                    .consistency_proof(old, cp.size)
                    .map_err(|_| Outcome::Skip)?
            };
            if deadline.passed() {
                return Err(Outcome::Skip);
            }
            match m.witness.add_checkpoint(old, &proof, &cp.note, deadline) {
                Ok(line) => {
                    m.known.store(cp.size, Ordering::Relaxed);
                    return Ok(line);
                }
                Err(WitnessError::Conflict { size }) => {
                    m.known.store(size, Ordering::Relaxed);
                    if size == old {
                        // A witness that names the size we sent is not following the protocol.
                        return Err(Outcome::Skip);
                    }
                    old = size;
                }
                Err(WitnessError::BadCosignature) => {
                    return Err(Outcome::Tampered(Tamper::WitnessDisagrees));
                }
                // 422: the consistency proof from the size the witness itself knows does not
                // lead to our checkpoint: its view of this log and ours have forked.
                Err(WitnessError::Refused { status: 422 }) if old > 0 => {
                    return Err(Outcome::Tampered(Tamper::WitnessDisagrees));
                }
                Err(
                    WitnessError::Unavailable
                    | WitnessError::Refused { .. }
                    | WitnessError::Malformed,
                ) => return Err(Outcome::Skip),
            }
        }
        Err(Outcome::Skip)
    }
}

/// Why one witness gave no cosignature for this batch.
enum Outcome {
    /// Unavailable, refused, or out of tries: counts against the quorum.
    Skip,
    /// The witness knows a larger tree than the checkpoint.
    Larger(u64),
    /// Evidence of a rollback or fork.
    Tampered(Tamper),
}

/// `note` with the cosignature lines appended to its signature block (C2SP signed-note: one
/// signature per line, after the log's own).
fn with_cosignatures(note: &str, lines: &[String]) -> String {
    let mut out = note.trim_end_matches('\n').to_owned();
    out.push('\n');
    for l in lines {
        for line in l.lines().filter(|x| !x.is_empty()) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
