//! The witness: known logs, the `add-checkpoint` checks in the spec's order, and
//! check-and-persist under one lock before the cosignature is handed out.

use crate::protocol::{AddCheckpointRequest, RequestError};
use crate::store::{Latest, Store, StoreError, origin_hash};
use mig06_tlog::checkpoint::LogVerifier;
use mig06_tlog::cosignature::{WitnessSigner, WitnessVerifier, note_origin};
use mig06_tlog::{empty_root, verify_consistency};
use std::collections::HashMap;
use std::sync::Mutex;

/// Why an `add-checkpoint` call was not cosigned: each maps to the tlog-witness status code.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// 400: the body is malformed, or its note has no origin line.
    #[error("malformed request: {0}")]
    BadRequest(RequestError),
    /// 400: the old size is beyond the checkpoint's size.
    #[error("old size is beyond the checkpoint size")]
    OldSizeBeyond,
    /// 404: the checkpoint's origin is not a configured log.
    #[error("unknown log origin")]
    UnknownOrigin,
    /// 403: no valid signature by a key trusted for the origin (or a bad one by such a key).
    #[error("no valid signature by the log's key")]
    Forbidden,
    /// 409: the old size is not the size of the latest checkpoint cosigned for the origin.
    #[error("old size does not match the witness's size {size}")]
    Conflict {
        /// The size of the latest checkpoint this witness cosigned for the origin (0 if none).
        size: u64,
    },
    /// 422: the consistency proof does not verify, a non-empty proof from size zero, equal
    /// sizes with different roots, or a size-zero checkpoint whose root is not the empty tree's.
    #[error("consistency proof does not verify")]
    BadProof,
    /// 500: the state could not be persisted; nothing was cosigned.
    #[error("witness state: {0}")]
    Store(#[from] StoreError),
    /// 500: the state lock is poisoned (a thread panicked holding it); nothing was cosigned.
    #[error("witness state lock poisoned")]
    Poisoned,
    /// 500: the clock gave a time no cosignature can carry; nothing was cosigned.
    #[error("the clock is out of the cosignature timestamp range")]
    Clock,
}

impl AddError {
    /// The HTTP status code the spec gives this outcome.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) | Self::OldSizeBeyond => 400,
            Self::Forbidden => 403,
            Self::UnknownOrigin => 404,
            Self::Conflict { .. } => 409,
            Self::BadProof => 422,
            Self::Store(_) | Self::Poisoned | Self::Clock => 500,
        }
    }

    /// A stable code for logs and metrics.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::OldSizeBeyond => "old_size_beyond",
            Self::Forbidden => "forbidden",
            Self::UnknownOrigin => "unknown_origin",
            Self::Conflict { .. } => "conflict",
            Self::BadProof => "bad_proof",
            Self::Store(_) => "store_error",
            Self::Poisoned => "poisoned",
            Self::Clock => "clock",
        }
    }
}

/// A witness: its key, the logs it accepts (by origin, each with one or more trusted keys),
/// and its durable state.
#[derive(Debug)]
pub struct Witness {
    signer: WitnessSigner,
    logs: HashMap<String, Vec<LogVerifier>>,
    state: Mutex<Store>,
}

impl Witness {
    /// A witness over `store`, accepting checkpoints of the logs whose keys are given (a log
    /// key's name is the origin it signs for; several keys may share an origin).
    #[must_use]
    pub fn new(signer: WitnessSigner, logs: Vec<LogVerifier>, store: Store) -> Self {
        let mut by_origin: HashMap<String, Vec<LogVerifier>> = HashMap::new();
        for log in logs {
            by_origin
                .entry(log.name().to_owned())
                .or_default()
                .push(log);
        }
        Self {
            signer,
            logs: by_origin,
            state: Mutex::new(store),
        }
    }

    /// The witness's verifier key.
    #[must_use]
    pub fn verifier(&self) -> WitnessVerifier {
        self.signer.verifier()
    }

    /// Handles one `add-checkpoint` body at time `now` (POSIX seconds, the cosignature's
    /// timestamp), returning the cosignature line(s) to answer with 200.
    ///
    /// The checks run in the order tlog-witness lists them. The old-size check, the proof
    /// against the stored root and the durable update happen under one lock, and the
    /// cosignature is only returned once the new state is on disk.
    ///
    /// # Errors
    /// An [`AddError`], whose [`AddError::status`] is the answer's status code.
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Result<String, AddError> {
        let req = AddCheckpointRequest::parse(body).map_err(AddError::BadRequest)?;
        let origin = note_origin(req.note())
            .map_err(|_| AddError::BadRequest(RequestError::NoCheckpoint))?;
        let keys = self.logs.get(origin).ok_or(AddError::UnknownOrigin)?;
        // tlog-witness: verify against the key(s) trusted for the origin, ignoring others.
        let (log, (cp, text)) = keys
            .iter()
            .find_map(|k| k.verify_body(req.note()).ok().map(|v| (k, v)))
            .ok_or(AddError::Forbidden)?;
        if req.old_size() > cp.size {
            return Err(AddError::OldSizeBeyond);
        }
        // INV-WITNESS-ATOMIC: the old-size check, the proof against the stored root and the
        // durable update happen under one lock, before the cosignature is returned.
        let mut state = self.state.lock().map_err(|_| AddError::Poisoned)?;
        let (stored_size, stored_root) = state
            .get(&cp.origin)
            .map_or((0, empty_root()), |l| (l.size, l.root));
        if req.old_size() != stored_size {
            return Err(AddError::Conflict { size: stored_size });
        }
        if cp.size == 0 && cp.root != empty_root() {
            return Err(AddError::BadProof);
        }
        verify_consistency(stored_size, cp.size, &stored_root, &cp.root, req.proof())
            .map_err(|_| AddError::BadProof)?;
        let line = self.signer.cosign(text, now).map_err(|_| AddError::Clock)?;
        let note = format!("{text}\n{}{line}", log.own_lines(req.note()));
        state.put(
            &cp.origin,
            Latest {
                size: cp.size,
                root: cp.root,
                note,
            },
        )?;
        Ok(line)
    }

    /// The latest cosigned checkpoint (log signature and this witness's cosignature) of the
    /// origin whose SHA-256 is `hash` (lowercase hex), as the monitoring endpoint serves it.
    #[must_use]
    pub fn latest(&self, hash: &str) -> Option<String> {
        let state = self.state.lock().ok()?;
        state.get_by_hash(hash).map(|l| l.note.clone())
    }

    /// The lowercase hex SHA-256 of every configured origin, with the origin.
    #[must_use]
    pub fn origins(&self) -> Vec<(String, String)> {
        let mut out: Vec<_> = self
            .logs
            .keys()
            .map(|o| (origin_hash(o), o.clone()))
            .collect();
        out.sort();
        out
    }
}
