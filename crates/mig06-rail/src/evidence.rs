//! Evidence tokens: an attempt's terminal record with the proof that it is in the log.
//!
//! Token = `mig06ev1.` + base64url(JSON {record, index, proof, checkpoint}). The record's exact
//! bytes are inside, so the verifier recomputes the RFC 6962 leaf hash itself and reads attempt
//! id, code and fingerprint from the hashed bytes: nothing in the token is taken on trust. Anyone
//! with the log's verifier key can check a token offline (modelled on C2SP tlog-proof).
//!
//! INV-NO-DURABLE-STATE: No durable orchestration/workflow state.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mig06_tlog::cosignature::{Quorum, QuorumError, WitnessVerifier, verify_quorum_at};
use mig06_tlog::rotation::CheckpointKeys;
use mig06_tlog::{Hash, leaf_hash, verify_inclusion};
use serde::{Deserialize, Serialize};

use crate::audit::{Appended, AuditRecord, RecordKind};
use crate::ids::{AttemptId, Sha256Digest};
use crate::outcome::TerminalCode;

pub mod proof;
mod scan;

pub(crate) use scan::scan_token;

/// The token prefix.
pub const PREFIX: &str = "mig06ev1.";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    record: String,
    index: u64,
    proof: Vec<String>,
    checkpoint: String,
}

/// The member names of a token's wire form.
const WIRE_MEMBERS: &[&str] = &["record", "index", "proof", "checkpoint"];

/// Whether `name` is a member of a token's wire form.
fn is_wire_member(name: &str) -> bool {
    WIRE_MEMBERS.contains(&name)
}

/// Why a token did not verify. Never carries token bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// Not a token of this format.
    #[error("not a mig06 evidence token ({0})")]
    Malformed(TokenPart),
    /// The checkpoint is not signed by the log's key.
    #[error("the checkpoint is not signed by this log's key")]
    BadSignature,
    /// The inclusion proof does not lead to the signed root.
    #[error("the inclusion proof does not match the signed checkpoint")]
    BadProof,
    /// The record is not a terminal record.
    #[error("the record is not a terminal record")]
    NotTerminal,
}

/// The part of a token that is not of this format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPart {
    /// The `mig06ev1.` prefix.
    Prefix,
    /// The base64url body.
    Base64,
    /// The JSON the body decodes to.
    Json,
    /// A proof hash.
    Proof,
    /// The record.
    Record,
}

impl TokenPart {
    /// Every part, in token order.
    pub const ALL: [TokenPart; 5] = [
        Self::Prefix,
        Self::Base64,
        Self::Json,
        Self::Proof,
        Self::Record,
    ];

    /// The part's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prefix => "prefix",
            Self::Base64 => "base64",
            Self::Json => "json",
            Self::Proof => "proof",
            Self::Record => "record",
        }
    }
}

impl std::fmt::Display for TokenPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a verified token establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEvidence {
    /// The terminal record, parsed.
    pub record: AuditRecord,
    /// The attempt's terminal code.
    pub code: TerminalCode,
    /// The record's leaf index.
    pub index: u64,
    /// The record's leaf hash.
    pub leaf_hash: Hash,
    /// The signed tree size.
    pub tree_size: u64,
    /// The signed root.
    pub root: Hash,
    /// The checkpoint note as the token carries it: the log's signature and any witnesses'
    /// cosignatures (C2SP tlog-cosignature), for [`verify_witnessed`].
    pub checkpoint: String,
}

impl VerifiedEvidence {
    /// The attempt id.
    #[must_use]
    pub fn attempt_id(&self) -> &AttemptId {
        &self.record.attempt_id
    }
    /// The request fingerprint, when the prior request parsed.
    #[must_use]
    pub fn fingerprint(&self) -> Option<Sha256Digest> {
        self.record.request_fp
    }
}

/// Encodes the evidence of a confirmed terminal append; `None` when the append carries no
/// signed checkpoint (an open record: the store signs for terminal records).
#[must_use]
pub fn encode(appended: &Appended) -> Option<String> {
    let wire = Wire {
        record: String::from_utf8_lossy(&appended.bytes).into_owned(),
        index: appended.index,
        proof: appended.proof.iter().map(hex::encode).collect(),
        checkpoint: appended.checkpoint.clone()?,
    };
    let json = serde_json::to_vec(&wire).unwrap_or_default();
    Some(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(json)))
}

// INV-CONT-EVIDENCE: A continuation references prior terminal evidence that verifies against this
// log.
// INV-KEY-EPOCH: a token of any key epoch verifies with the log's key schedule, its checkpoint
// by the key in force at its size.
/// Verifies a token offline with the log's verifier key (a
/// [`LogVerifier`](mig06_tlog::checkpoint::LogVerifier): the key that signed the token's
/// checkpoint), or with the log's key schedule ([`LogKeys`](mig06_tlog::rotation::LogKeys): the
/// key in force at the checkpoint's size, so a token issued before a key rotation keeps
/// verifying after it, and a checkpoint a retired key signed past its rotation does not).
///
/// # Errors
/// [`EvidenceError`] for a malformed, forged, foreign or tampered token.
pub fn verify(
    token: &str,
    keys: &(impl CheckpointKeys + ?Sized),
) -> Result<VerifiedEvidence, EvidenceError> {
    let wire = read_wire(token)?;
    let (cp, _) = keys
        .verify_checkpoint(&wire.checkpoint)
        .map_err(|_| EvidenceError::BadSignature)?;
    let mut proof = Vec::with_capacity(wire.proof.len());
    for h in &wire.proof {
        let mut out = [0u8; 32];
        hex::decode_to_slice(h, &mut out)
            .map_err(|_| EvidenceError::Malformed(TokenPart::Proof))?;
        proof.push(out);
    }
    let leaf = leaf_hash(wire.record.as_bytes());
    verify_inclusion(&leaf, wire.index, cp.size, &proof, &cp.root)
        .map_err(|_| EvidenceError::BadProof)?;
    let record = crate::audit::read_record(wire.record.as_bytes())
        .map_err(|_| EvidenceError::Malformed(TokenPart::Record))?;
    if record.seq != wire.index {
        return Err(EvidenceError::BadProof);
    }
    let code = match (record.kind(), record.code()) {
        (RecordKind::Terminal, Some(code)) => code,
        (RecordKind::Terminal, None) | (RecordKind::Open, _) => {
            return Err(EvidenceError::NotTerminal);
        }
    };
    Ok(VerifiedEvidence {
        record,
        code,
        index: wire.index,
        leaf_hash: leaf,
        tree_size: cp.size,
        root: cp.root,
        checkpoint: wire.checkpoint,
    })
}

/// The checkpoint of `token` when its signature verifies with `keys` (the key in force at its
/// size), whatever the rest of the token: a checkpoint this log's key signed is a fact about the
/// log's past even when the token's proof or record is bad (INV-WITNESSED). `None` for a token
/// whose envelope does not read or whose checkpoint does not verify.
#[must_use]
pub fn signed_checkpoint(
    token: &str,
    keys: &(impl CheckpointKeys + ?Sized),
) -> Option<mig06_tlog::checkpoint::Checkpoint> {
    let wire = read_wire(token).ok()?;
    keys.verify_checkpoint(&wire.checkpoint)
        .ok()
        .map(|(cp, _)| cp)
}

/// A token's envelope: the prefix, base64url, and its JSON members (one reader for
/// [`verify`] and [`signed_checkpoint`]).
fn read_wire(token: &str) -> Result<Wire, EvidenceError> {
    let body = token
        .trim()
        .strip_prefix(PREFIX)
        .ok_or(EvidenceError::Malformed(TokenPart::Prefix))?;
    let json = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| EvidenceError::Malformed(TokenPart::Base64))?;
    // INV-CLOSED-INPUT: the token's JSON and its record are read by the one JSON reader.
    crate::json::read(&json, &is_wire_member).map_err(|_| EvidenceError::Malformed(TokenPart::Json))
}

/// Why a token did not verify with witnesses: the token itself, or its cosignatures.
#[derive(Debug, thiserror::Error)]
pub enum WitnessedError {
    /// The token does not verify with the log's key (as [`verify`]).
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    /// The token's checkpoint does not carry a quorum of valid cosignatures.
    #[error("witnesses: {0}")]
    Witnesses(#[from] QuorumError),
}

// INV-WITNESS-ONE-RULE: offline, a token's cosignatures are checked by the one quorum function of
// mig06-tlog (`verify_quorum_at`), over the same checkpoint its inclusion proof was checked
// against.
/// Verifies a token offline as [`verify`] does, then its checkpoint's cosignatures: at least
/// `quorum` of `witnesses` (name, key ID with the 0x04 type byte, the `cosignature/v1` message,
/// the timestamp, at most [`mig06_tlog::cosignature::MAX_FUTURE_SKEW`] ahead of `now` when
/// given) must have cosigned it, and no line by a configured witness may fail.
///
/// # Errors
/// [`WitnessedError`] naming the token's fault, or the witness and the check that failed.
pub fn verify_witnessed(
    token: &str,
    keys: &(impl CheckpointKeys + ?Sized),
    witnesses: &[WitnessVerifier],
    quorum: usize,
    now: Option<u64>,
) -> Result<(VerifiedEvidence, Quorum), WitnessedError> {
    let v = verify(token, keys)?;
    // The cosignatures are over the checkpoint the key in force at its size signed.
    let (_, key) = keys
        .verify_checkpoint(&v.checkpoint)
        .map_err(|_| EvidenceError::BadSignature)?;
    let q = verify_quorum_at(&v.checkpoint, key, witnesses, quorum, now)?;
    Ok((v, q))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_token_messages_name_the_part_as_before() {
        let names: Vec<String> = TokenPart::ALL
            .iter()
            .map(|p| EvidenceError::Malformed(*p).to_string())
            .collect();
        assert_eq!(
            names,
            ["prefix", "base64", "json", "proof", "record"]
                .map(|p| format!("not a mig06 evidence token ({p})"))
        );
    }
}
