//! C2SP tlog-cosignature `cosignature/v1`: a witness's timestamped Ed25519 signature on a
//! checkpoint, and the offline quorum check over a cosigned checkpoint.
//!
//! Specs: <https://c2sp.org/tlog-cosignature> ("Format", "Ed25519 signed message"),
//! <https://c2sp.org/signed-note> ("Signatures", "Verifier keys", signature type 0x04).
//!
//! Design decision: a cosignature is one more signature line on the log's own signed note, so
//! [`verify_quorum`] first verifies the log's signature (with the same strict parser as
//! [`LogVerifier::verify`]) and only then looks at cosignature lines. Lines whose name and key
//! ID match no configured witness are ignored, as the signed-note spec requires; a line that
//! matches a configured witness and does not verify fails the whole note (signed-note: "If a
//! signature from a known key fails to verify, clients SHOULD reject the whole note"), so a
//! forged or damaged cosignature is never silently passed over.

use crate::checkpoint::{
    Checkpoint, CheckpointError, LogVerifier, PRIVATE_PREFIX, SIG_PREFIX, encode_key_for,
    is_valid_name, key_id_for, malformed, parse_checkpoint, parse_key_tail_for, split_note,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

/// C2SP signed-note "Signature types": `0x04`, timestamped Ed25519 checkpoint cosignatures.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// C2SP tlog-cosignature "Ed25519 signed message": the fixed header line.
const HEADER: &str = "cosignature/v1\n";

/// C2SP tlog-cosignature "Format": the timestamp "MUST NOT exceed 2^63 - 1".
pub const MAX_TIMESTAMP: u64 = (1 << 63) - 1;

/// C2SP tlog-cosignature "Format": `timestamped_signature` is a u64 timestamp followed by the
/// 64-byte Ed25519 signature, so 72 bytes.
const TIMESTAMPED_SIG_LEN: usize = 8 + 64;

/// Errors from cosigner keys and cosignatures.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CosignatureError {
    /// A key text, a signature line or a timestamp is not well formed.
    #[error("malformed {what}")]
    Malformed {
        /// What was malformed (a fixed description, never the input).
        what: &'static str,
    },
    /// The cosignature does not verify against the cosigner's key.
    #[error("cosignature does not verify")]
    BadSignature,
}

/// Which check of one cosignature failed (for reports: names the check, never the bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CosignatureCheck {
    /// The signature is not a `timestamped_signature` of 8 + 64 bytes.
    Length,
    /// The timestamp is zero (tlog-witness: "the timestamp MUST NOT be zero") or above 2^63 - 1.
    Timestamp,
    /// The timestamp is more than [`MAX_FUTURE_SKEW`] seconds after the verifier's clock
    /// (tlog-cosignature: "verifiers MAY reject cosignatures with timestamps in the future").
    FutureTimestamp,
    /// The Ed25519 signature over the `cosignature/v1` message does not verify.
    Signature,
}

impl CosignatureCheck {
    /// A short, stable description.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Length => "not a timestamped Ed25519 signature (8 + 64 bytes)",
            Self::Timestamp => "timestamp zero or above 2^63 - 1",
            Self::FutureTimestamp => "timestamp in the future",
            Self::Signature => "Ed25519 signature over the cosignature/v1 message does not verify",
        }
    }
}

impl std::fmt::Display for CosignatureCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far (seconds) a cosignature's timestamp may be ahead of the verifier's clock when the
/// verifier gives its clock ([`verify_quorum_at`]): clocks of witnesses and auditors differ.
pub const MAX_FUTURE_SKEW: u64 = 600;

fn bad(what: &'static str) -> CosignatureError {
    CosignatureError::Malformed { what }
}

/// signed-note "Signature types": 0x01, plain Ed25519 (accepted in cosigner key texts).
const ALG_ED25519: u8 = 0x01;

/// `hex8+base64(type || 32 bytes)` with type 0x04 or 0x01: (type, key ID, key bytes).
fn parse_either(hex: &str, b64: &str) -> Option<(u8, u32, [u8; 32])> {
    [ALG_COSIGNATURE_V1, ALG_ED25519]
        .into_iter()
        .find_map(|alg| {
            parse_key_tail_for(alg, hex, b64)
                .ok()
                .map(|(id, bytes)| (alg, id, bytes))
        })
}

/// The exact message a `cosignature/v1` signs (C2SP tlog-cosignature, "Ed25519 signed
/// message"): `cosignature/v1` LF, `time <decimal, no leading zeroes>` LF, then the whole
/// checkpoint note body including its final newline and excluding every signature line.
#[must_use]
pub fn cosigned_message(timestamp: u64, body: &str) -> Vec<u8> {
    format!("{HEADER}time {timestamp}\n{body}").into_bytes()
}

/// A witness's (cosigner's) Ed25519 signing key, with its name.
pub struct WitnessSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for WitnessSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the seed: this may end up in logs.
        f.debug_struct("WitnessSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.id))
            .finish_non_exhaustive()
    }
}

impl WitnessSigner {
    /// Generates a new key for a cosigner called `name` (a schema-less URL, per the spec).
    ///
    /// # Errors
    /// `Malformed` when `name` is not a valid note key name.
    pub fn generate(name: &str) -> Result<Self, CosignatureError> {
        Self::from_parts(name, SigningKey::generate(&mut rand::rngs::OsRng))
    }

    fn from_parts(name: &str, key: SigningKey) -> Result<Self, CosignatureError> {
        if !is_valid_name(name) {
            return Err(bad("key name"));
        }
        // C2SP tlog-cosignature "Format": key ID over name, LF, 0x04, the 32-byte public key.
        let id = key_id_for(name, ALG_COSIGNATURE_V1, &key.verifying_key());
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Parses a private key `PRIVATE+KEY+name+keyid+base64(type || 32-byte seed)`, with type
    /// 0x01 (the standard note form, which transparency-dev's `NewSignerForCosignatureV1` reads
    /// and [`WitnessSigner::private_key`] writes; its key ID is computed with 0x01) or 0x04 (key
    /// ID computed with 0x04).
    ///
    /// # Errors
    /// `Malformed` when the text is not such a key or its key ID does not match the key.
    pub fn from_private_key(text: &str) -> Result<Self, CosignatureError> {
        let rest = text
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or(bad("private key"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hex), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("private key"));
        };
        let (alg, id, seed) = parse_either(hex, b64).ok_or(bad("private key"))?;
        let key = SigningKey::from_bytes(&seed);
        if key_id_for(name, alg, &key.verifying_key()) != id {
            return Err(bad("private key id"));
        }
        Self::from_parts(name, key)
    }

    /// The private key text, in the standard note form (type 0x01, key ID computed with 0x01),
    /// so that Go's `note.NewSigner` tooling and transparency-dev's witness read it too.
    #[must_use]
    pub fn private_key(&self) -> String {
        let id = key_id_for(&self.name, ALG_ED25519, &self.key.verifying_key());
        format!(
            "{PRIVATE_PREFIX}{}+{id:08x}+{}",
            self.name,
            encode_key_for(ALG_ED25519, self.key.as_bytes())
        )
    }

    /// The matching verifier.
    #[must_use]
    pub fn verifier(&self) -> WitnessVerifier {
        WitnessVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The cosigner's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    // INV-WITNESS-INTEROP: the cosignature/v1 message and line exactly as C2SP
    // tlog-cosignature lays them out (checked against independent implementations).
    /// Cosigns a checkpoint note body (as returned by [`LogVerifier::verify_body`]) at
    /// `timestamp` (POSIX seconds), returning one signature line `— name base64(...)` ending in
    /// a newline, as an `add-checkpoint` response carries it.
    ///
    /// # Errors
    /// `Malformed` when `timestamp` is zero (tlog-witness: "the timestamp MUST NOT be zero") or
    /// above 2^63 - 1 (tlog-cosignature "Format").
    pub fn cosign(&self, body: &str, timestamp: u64) -> Result<String, CosignatureError> {
        if timestamp == 0 || timestamp > MAX_TIMESTAMP {
            return Err(bad("timestamp"));
        }
        let signature = self.key.sign(&cosigned_message(timestamp, body));
        // tlog-cosignature "Format": base64(key ID || timestamped_signature), where
        // timestamped_signature = u64 big-endian timestamp || 64-byte Ed25519 signature
        // (RFC 8446 §3.3 serialisation).
        let mut raw = Vec::with_capacity(4 + TIMESTAMPED_SIG_LEN);
        raw.extend_from_slice(&self.id.to_be_bytes());
        raw.extend_from_slice(&timestamp.to_be_bytes());
        raw.extend_from_slice(&signature.to_bytes());
        Ok(format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(raw)))
    }
}

/// A witness's verifier key: name, key ID (with the 0x04 type byte) and Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl WitnessVerifier {
    /// Parses a vkey `name+hex(key ID)+base64(0x04 || 32-byte public key)` (signed-note
    /// "Verifier keys", tlog-cosignature "Format"). For interoperability with transparency-dev's
    /// `NewVerifierForCosignatureV1`, a standard Ed25519 vkey (type 0x01, its key ID computed
    /// with 0x01) of a cosigner is accepted too; either way the cosignature key ID is the one
    /// computed with 0x04.
    ///
    /// # Errors
    /// `Malformed` when the text is not such a key (another type byte included) or its key ID
    /// does not match the name and key.
    pub fn parse(text: &str) -> Result<Self, CosignatureError> {
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(hex), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("verifier key"));
        };
        if !is_valid_name(name) {
            return Err(bad("key name"));
        }
        let (alg, id, bytes) = parse_either(hex, b64).ok_or(bad("verifier key"))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad("verifier key"))?;
        if key_id_for(name, alg, &key) != id {
            return Err(bad("verifier key id"));
        }
        Ok(Self {
            name: name.to_owned(),
            id: key_id_for(name, ALG_COSIGNATURE_V1, &key),
            key,
        })
    }

    /// The vkey text.
    #[must_use]
    pub fn vkey(&self) -> String {
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.id,
            encode_key_for(ALG_COSIGNATURE_V1, self.key.as_bytes())
        )
    }

    /// The cosigner's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID (first four bytes of SHA-256(name || LF || 0x04 || key), big-endian).
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// Whether a signature line names this key (name and key ID both match). signed-note:
    /// lines from unknown keys are ignored "even if they share a name or ID (but not both)".
    fn matches(&self, name: &str, id: u32) -> bool {
        name == self.name && id == self.id
    }

    // INV-WITNESS-ONE-RULE: every cosignature check (the rail's client on an add-checkpoint
    // answer, `evidence verify` and `audit verify` offline) is this function.
    /// Verifies the decoded signature bytes of one of this key's lines over `body`, returning
    /// the cosignature's timestamp: 8 + 64 bytes, a timestamp in 1..=2^63-1 (and, given the
    /// verifier's clock `now`, at most [`MAX_FUTURE_SKEW`] ahead of it), and a strict Ed25519
    /// signature over the `cosignature/v1` message.
    fn verify_raw(
        &self,
        body: &str,
        raw: &[u8],
        now: Option<u64>,
    ) -> Result<u64, CosignatureCheck> {
        let Some((ts, sig)) = raw.split_first_chunk::<8>() else {
            return Err(CosignatureCheck::Length);
        };
        if raw.len() != TIMESTAMPED_SIG_LEN {
            return Err(CosignatureCheck::Length);
        }
        let timestamp = u64::from_be_bytes(*ts);
        if timestamp == 0 || timestamp > MAX_TIMESTAMP {
            return Err(CosignatureCheck::Timestamp);
        }
        if now.is_some_and(|now| timestamp > now.saturating_add(MAX_FUTURE_SKEW)) {
            return Err(CosignatureCheck::FutureTimestamp);
        }
        let sig = Signature::from_slice(sig).map_err(|_| CosignatureCheck::Signature)?;
        self.key
            .verify_strict(&cosigned_message(timestamp, body), &sig)
            .map_err(|_| CosignatureCheck::Signature)?;
        Ok(timestamp)
    }

    /// Verifies response signature lines (as an `add-checkpoint` 200 answer carries them)
    /// against the checkpoint body they cosign: every line must be a well-formed note signature
    /// line; lines by other keys are ignored (tlog-witness: "The client MUST ignore any
    /// cosignatures from unknown keys"); at least one line must be this key's, and all of this
    /// key's lines must verify. Returns this key's lines (each newline-terminated) and the
    /// latest timestamp among them.
    ///
    /// # Errors
    /// `Malformed` when the text is not a sequence of signature lines, `BadSignature` when none
    /// is this key's or one of this key's does not verify.
    pub fn verify_lines(&self, body: &str, lines: &str) -> Result<(String, u64), CosignatureError> {
        // Parse the lines as the signature block of a note on `body`: the same strict parser.
        let note = format!("{body}\n{lines}");
        let split = split_note(&note).map_err(|_| bad("signature lines"))?;
        if split.text != body {
            return Err(bad("signature lines"));
        }
        let mut ours = String::new();
        let mut latest = None;
        for line in split.lines() {
            if self.matches(line.name, line.id) {
                let mut raw = line.id.to_be_bytes().to_vec();
                raw.extend_from_slice(line.sig);
                let ts = self
                    .verify_raw(body, line.sig, None)
                    .map_err(|_| CosignatureError::BadSignature)?;
                latest = latest.max(Some(ts));
                ours.push_str(&format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(raw)));
            }
        }
        latest
            .map(|ts| (ours, ts))
            .ok_or(CosignatureError::BadSignature)
    }
}

/// One configured witness that cosigned, as [`verify_quorum`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigner {
    /// The witness's name (from the configuration, not from the note).
    pub name: String,
    /// The witness's key ID.
    pub key_id: u32,
    /// The latest valid cosignature timestamp by this witness on the note (POSIX seconds).
    pub timestamp: u64,
}

/// A checkpoint whose log signature verified and that a quorum of configured witnesses
/// cosigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quorum {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The distinct configured witnesses whose cosignature verified, in configuration order.
    pub cosigners: Vec<Cosigner>,
}

/// Why [`verify_quorum`] refused a note.
#[derive(Debug, thiserror::Error)]
pub enum QuorumError {
    /// The note is malformed or the log's own signature does not verify.
    #[error("log signature: {0}")]
    Log(#[from] CheckpointError),
    /// A line names a configured witness (name and key ID) and does not verify: the whole note
    /// is refused (signed-note "Signatures").
    #[error("the cosignature of configured witness {witness} does not verify: {check}")]
    BadCosignature {
        /// The configured witness's name.
        witness: String,
        /// The check that failed.
        check: CosignatureCheck,
    },
    /// Fewer than `need` distinct configured witnesses cosigned.
    #[error("{have} of the required {need} witnesses cosigned; no valid cosignature by: {}", missing.join(", "))]
    NotEnough {
        /// Distinct configured witnesses with a valid cosignature.
        have: usize,
        /// The quorum asked for.
        need: usize,
        /// The configured witnesses with no line of their name and key ID on the note (a line
        /// with a configured name and another key ID is a different key: not theirs).
        missing: Vec<String>,
    },
}

/// Verifies a cosigned checkpoint offline: the log's signature (as [`LogVerifier::verify`]),
/// then every signature line that names a configured witness (name and key ID with the 0x04
/// type byte), and that at least `k` distinct configured witnesses cosigned. Lines by unknown
/// keys are ignored; a line by a configured witness that does not verify refuses the note.
/// Witnesses configured twice (same name and key) count once.
///
/// # Errors
/// [`QuorumError::Log`] when the note or the log signature is bad,
/// [`QuorumError::BadCosignature`] when a configured witness's line does not verify,
/// [`QuorumError::NotEnough`] when fewer than `k` distinct configured witnesses cosigned.
pub fn verify_quorum(
    note: &str,
    log: &LogVerifier,
    witnesses: &[WitnessVerifier],
    k: usize,
) -> Result<Quorum, QuorumError> {
    verify_quorum_at(note, log, witnesses, k, None)
}

/// As [`verify_quorum`], and, given the verifier's clock `now` (POSIX seconds), a cosignature
/// whose timestamp is more than [`MAX_FUTURE_SKEW`] ahead of it is refused
/// ([`CosignatureCheck::FutureTimestamp`]) like any other bad cosignature.
///
/// # Errors
/// As [`verify_quorum`].
pub fn verify_quorum_at(
    note: &str,
    log: &LogVerifier,
    witnesses: &[WitnessVerifier],
    k: usize,
    now: Option<u64>,
) -> Result<Quorum, QuorumError> {
    let (checkpoint, body) = log.verify_body(note)?;
    let split = split_note(note)?;
    let mut cosigners: Vec<Cosigner> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    for w in witnesses {
        let mut latest = None;
        for line in split.lines() {
            if w.matches(line.name, line.id) {
                let ts = w.verify_raw(body, line.sig, now).map_err(|check| {
                    QuorumError::BadCosignature {
                        witness: w.name.clone(),
                        check,
                    }
                })?;
                latest = latest.max(Some(ts));
            }
        }
        let seen = cosigners
            .iter()
            .any(|c| c.name == w.name && c.key_id == w.id);
        match (latest, seen) {
            (Some(timestamp), false) => cosigners.push(Cosigner {
                name: w.name.clone(),
                key_id: w.id,
                timestamp,
            }),
            (None, _) if !missing.contains(&w.name) => missing.push(w.name.clone()),
            _ => {}
        }
    }
    if cosigners.len() < k {
        return Err(QuorumError::NotEnough {
            have: cosigners.len(),
            need: k,
            missing,
        });
    }
    Ok(Quorum {
        checkpoint,
        cosigners,
    })
}

/// Parses the unauthenticated origin line of a checkpoint note, to find which log's keys to
/// verify it with. Nothing else of the note is interpreted before a signature verified.
///
/// # Errors
/// `Malformed` when the note has no non-empty first line.
pub fn note_origin(note: &str) -> Result<&str, CheckpointError> {
    match note.split_once('\n') {
        Some((origin, _)) if !origin.is_empty() => Ok(origin),
        _ => Err(malformed("checkpoint origin")),
    }
}

/// The signed text of a note (everything before the signature block, final newline included),
/// after checking the note is well formed: what a cosignature is computed over. Nothing in it
/// is authenticated by this call.
///
/// # Errors
/// `Malformed` when the note is not a well-formed signed note.
pub fn note_text(note: &str) -> Result<&str, CheckpointError> {
    Ok(split_note(note)?.text)
}

/// Parses a checkpoint body this process wrote itself (its own durable state), with the same
/// strict rules as a verified one.
///
/// # Errors
/// `Malformed` when the body is not a checkpoint.
pub fn parse_own_checkpoint(body: &str) -> Result<Checkpoint, CheckpointError> {
    parse_checkpoint(body)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::string_slice,
        reason = "tests"
    )]
    use super::*;
    use crate::checkpoint::LogSigner;
    use proptest::prelude::*;

    /// The tlog-cosignature example checkpoint body.
    const BODY: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    const SEED: [u8; 32] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 28, 29, 30, 31,
    ];
    const NAME: &str = "witness.example.com/w1";
    const TIME: u64 = 1_679_315_147;
    // Produced by tests/cosignature_ref.py (an independent implementation from the spec text,
    // Python `cryptography`): `vkey SEED NAME` and `sign SEED NAME 1679315147 < BODY`.
    const REF_VKEY: &str =
        "witness.example.com/w1+a0059f11+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";
    const REF_LINE: &str = "\u{2014} witness.example.com/w1 oAWfEQAAAABkGFDLBuRDazBLVac2NE+Y+IjbjQOcXLfF9CSDZVUIoS83rE1nFZsVE8YiWV6Ngr7lV8H6bdoBQGP/l73euDMQ9k+bBQ==\n";

    fn fixed() -> WitnessSigner {
        WitnessSigner::from_parts(NAME, SigningKey::from_bytes(&SEED)).unwrap()
    }

    #[test]
    fn reference_vector_reproduces_byte_for_byte() {
        let w = fixed();
        assert_eq!(w.verifier().vkey(), REF_VKEY);
        assert_eq!(w.verifier().key_id(), 0xa005_9f11);
        assert_eq!(w.cosign(BODY, TIME).unwrap(), REF_LINE);
        // The signed message, as the spec's example lays it out.
        assert_eq!(
            cosigned_message(TIME, BODY),
            b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
        // The line's bytes: key ID, big-endian timestamp, 64-byte signature.
        let raw = B64
            .decode(REF_LINE.trim_end().rsplit(' ').next().unwrap())
            .unwrap();
        assert_eq!(raw.len(), 4 + 8 + 64);
        assert_eq!(raw[..4], 0xa005_9f11u32.to_be_bytes());
        assert_eq!(raw[4..12], TIME.to_be_bytes());
        let v = WitnessVerifier::parse(REF_VKEY).unwrap();
        assert_eq!(
            v.verify_lines(BODY, REF_LINE).unwrap(),
            (REF_LINE.to_owned(), TIME)
        );
    }

    #[test]
    fn key_texts_round_trip_in_both_type_bytes() {
        let w = fixed();
        let skey = w.private_key();
        // The standard note form (type 0x01, key ID with 0x01), as Go's note.NewSigner writes.
        assert!(skey.starts_with("PRIVATE+KEY+witness.example.com/w1+"));
        let raw = B64.decode(skey.rsplit('+').next().unwrap()).unwrap();
        assert_eq!(raw[0], 0x01);
        let back = WitnessSigner::from_private_key(&skey).unwrap();
        assert_eq!(back.verifier(), w.verifier());
        // The 0x04 form of the private key is read too.
        let id4 = key_id_for(NAME, ALG_COSIGNATURE_V1, &w.key.verifying_key());
        let skey4 = format!(
            "PRIVATE+KEY+{NAME}+{id4:08x}+{}",
            encode_key_for(ALG_COSIGNATURE_V1, &SEED)
        );
        assert_eq!(
            WitnessSigner::from_private_key(&skey4).unwrap().verifier(),
            w.verifier()
        );
        // A standard (0x01) vkey of the same key gives the same cosignature verifier, as
        // transparency-dev's NewVerifierForCosignatureV1 does.
        let std_vkey = LogSigner::from_private_key(&skey)
            .unwrap()
            .verifier()
            .vkey();
        assert_eq!(WitnessVerifier::parse(&std_vkey).unwrap(), w.verifier());
        // A 0x04 vkey whose ID was computed with 0x01 is refused, and the other way round.
        let id1 = key_id_for(NAME, 0x01, &w.key.verifying_key());
        let tail4 = REF_VKEY.rsplit('+').next().unwrap();
        assert!(WitnessVerifier::parse(&format!("{NAME}+{id1:08x}+{tail4}")).is_err());
        // Another type byte, a wrong name, truncations: refused.
        let mut raw = B64.decode(tail4).unwrap();
        raw[0] = 0x02;
        assert!(WitnessVerifier::parse(&format!("{NAME}+a0059f11+{}", B64.encode(&raw))).is_err());
        assert!(WitnessVerifier::parse(&REF_VKEY.replace("w1", "w2")).is_err());
        for cut in 0..REF_VKEY.len() {
            assert!(WitnessVerifier::parse(&REF_VKEY[..cut]).is_err());
        }
    }

    #[test]
    fn timestamps_outside_the_spec_range_are_not_signed() {
        let w = fixed();
        assert!(w.cosign(BODY, 0).is_err());
        assert!(w.cosign(BODY, MAX_TIMESTAMP + 1).is_err());
        assert!(w.cosign(BODY, MAX_TIMESTAMP).is_ok());
    }

    fn log() -> LogSigner {
        LogSigner::generate("example.com/log").unwrap()
    }

    fn cosigned(log: &LogSigner, ws: &[&WitnessSigner], size: u64) -> String {
        let note = log.sign(&Checkpoint {
            origin: String::new(),
            size,
            root: [size as u8; 32],
        });
        let body = note_text(&note).unwrap().to_owned();
        let mut out = note;
        for w in ws {
            out.push_str(&w.cosign(&body, TIME + size).unwrap());
        }
        out
    }

    #[test]
    fn quorum_counts_distinct_configured_witnesses() {
        let log = log();
        let (a, b, c) = (
            WitnessSigner::generate("w.example/a").unwrap(),
            WitnessSigner::generate("w.example/b").unwrap(),
            WitnessSigner::generate("w.example/c").unwrap(),
        );
        let stranger = WitnessSigner::generate("w.example/x").unwrap();
        let cfg = [a.verifier(), b.verifier(), c.verifier(), a.verifier()];
        let note = cosigned(&log, &[&a, &stranger, &b, &a], 7);
        let q = verify_quorum(&note, &log.verifier(), &cfg, 2).unwrap();
        assert_eq!(q.checkpoint.size, 7);
        let names: Vec<_> = q.cosigners.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["w.example/a", "w.example/b"]);
        assert_eq!(q.cosigners[0].timestamp, TIME + 7);
        assert!(matches!(
            verify_quorum(&note, &log.verifier(), &cfg, 3),
            Err(QuorumError::NotEnough {
                have: 2,
                need: 3,
                ..
            })
        ));
        // k = 0 with no witnesses is the log signature alone.
        assert!(verify_quorum(&note, &log.verifier(), &[], 0).is_ok());
    }

    #[test]
    fn a_bad_line_by_a_configured_witness_refuses_the_note() {
        let log = log();
        let a = WitnessSigner::generate("w.example/a").unwrap();
        let b = WitnessSigner::generate("w.example/b").unwrap();
        // b's cosignature of another checkpoint, pasted onto this one: same name and key ID.
        let other = cosigned(&log, &[&b], 8);
        let b_line = other.lines().last().unwrap();
        let note = format!("{}{b_line}\n", cosigned(&log, &[&a], 7));
        let cfg = [a.verifier(), b.verifier()];
        match verify_quorum(&note, &log.verifier(), &cfg, 1) {
            Err(QuorumError::BadCosignature { witness, check }) => {
                assert_eq!(witness, "w.example/b");
                assert_eq!(check, CosignatureCheck::Signature);
            }
            other => panic!("{other:?}"),
        }
        // Not configured: the same line is ignored.
        assert!(verify_quorum(&note, &log.verifier(), &cfg[..1], 1).is_ok());
        // A same-named key with another ID is an unknown key: ignored, not counted.
        let imposter = WitnessSigner::generate("w.example/a").unwrap();
        let note = cosigned(&log, &[&imposter], 7);
        assert!(matches!(
            verify_quorum(&note, &log.verifier(), &cfg, 1),
            Err(QuorumError::NotEnough {
                have: 0,
                need: 1,
                ..
            })
        ));
        // A cosignature without the log's own signature proves nothing.
        let note = cosigned(&log, &[&a], 7);
        let other_log = LogSigner::generate("example.com/log").unwrap();
        assert!(matches!(
            verify_quorum(&note, &other_log.verifier(), &cfg, 1),
            Err(QuorumError::Log(_))
        ));
    }

    /// A cosignature line with any timestamp (the signer refuses zero; a forger need not).
    fn line_at(w: &WitnessSigner, body: &str, ts: u64) -> String {
        let sig = w.key.sign(&cosigned_message(ts, body));
        let mut raw = w.id.to_be_bytes().to_vec();
        raw.extend_from_slice(&ts.to_be_bytes());
        raw.extend_from_slice(&sig.to_bytes());
        format!("{SIG_PREFIX}{} {}\n", w.name, B64.encode(raw))
    }

    #[test]
    fn inv_witness_one_rule_timestamp_checks_name_the_witness_and_the_check() {
        let log = log();
        let a = WitnessSigner::generate("w.example/a").unwrap();
        let b = WitnessSigner::generate("w.example/b").unwrap();
        let note = log.sign(&Checkpoint {
            origin: String::new(),
            size: 3,
            root: [3; 32],
        });
        let body = note_text(&note).unwrap().to_owned();
        let cfg = [a.verifier(), b.verifier()];
        // Zero: refused, by the client-side check too.
        let zero = format!("{note}{}", line_at(&a, &body, 0));
        match verify_quorum(&zero, &log.verifier(), &cfg, 1) {
            Err(QuorumError::BadCosignature { witness, check }) => {
                assert_eq!(witness, "w.example/a");
                assert_eq!(check, CosignatureCheck::Timestamp);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            a.verifier().verify_lines(&body, &line_at(&a, &body, 0)),
            Err(CosignatureError::BadSignature)
        );
        // In the future beyond the skew: refused only when the verifier gives its clock.
        let now = 1_800_000_000;
        let ahead = format!("{note}{}", line_at(&a, &body, now + MAX_FUTURE_SKEW + 1));
        assert!(verify_quorum(&ahead, &log.verifier(), &cfg, 1).is_ok());
        match verify_quorum_at(&ahead, &log.verifier(), &cfg, 1, Some(now)) {
            Err(QuorumError::BadCosignature { check, .. }) => {
                assert_eq!(check, CosignatureCheck::FutureTimestamp);
            }
            other => panic!("{other:?}"),
        }
        let within = format!("{note}{}", line_at(&a, &body, now + MAX_FUTURE_SKEW));
        assert!(verify_quorum_at(&within, &log.verifier(), &cfg, 1, Some(now)).is_ok());
        // Not enough: the report names who did not cosign.
        match verify_quorum_at(&within, &log.verifier(), &cfg, 2, Some(now)) {
            Err(e @ QuorumError::NotEnough { .. }) => {
                assert!(
                    e.to_string()
                        .contains("no valid cosignature by: w.example/b"),
                    "{e}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_log_signature_is_not_a_cosignature() {
        // A witness key used as a plain note key (type 0x01) signs a different message with a
        // different key ID: it must not count as a cosignature.
        let log = log();
        let a = WitnessSigner::generate("w.example/a").unwrap();
        let plain = LogSigner::from_private_key(&a.private_key()).unwrap();
        let note = log.sign(&Checkpoint {
            origin: String::new(),
            size: 3,
            root: [3; 32],
        });
        let body = note_text(&note).unwrap().to_owned();
        let line = plain.sign_text(&body);
        let line = line.rsplit("\n\n").next().unwrap();
        let note = format!("{note}{line}");
        assert!(matches!(
            verify_quorum(&note, &log.verifier(), &[a.verifier()], 1),
            Err(QuorumError::NotEnough { .. })
        ));
    }

    #[test]
    fn verify_lines_refuses_what_a_client_must_not_accept() {
        let w = fixed();
        let v = w.verifier();
        let other = WitnessSigner::generate("w.example/other").unwrap();
        let ours = w.cosign(BODY, TIME).unwrap();
        // Other keys' lines are ignored; ours is returned.
        let mixed = format!("{}{ours}", other.cosign(BODY, TIME).unwrap());
        assert_eq!(v.verify_lines(BODY, &mixed).unwrap().0, ours);
        assert_eq!(
            v.verify_lines(BODY, &other.cosign(BODY, TIME).unwrap()),
            Err(CosignatureError::BadSignature)
        );
        let other_body = BODY.replace("20852163", "20852164");
        assert_eq!(
            v.verify_lines(&other_body, &ours),
            Err(CosignatureError::BadSignature)
        );
        for bad in [
            "",
            "\n",
            "garbage\n",
            ours.trim_end(),
            &format!("{ours}\n{ours}"),
        ] {
            assert!(
                matches!(
                    v.verify_lines(BODY, bad),
                    Err(CosignatureError::Malformed { .. })
                ),
                "{bad:?}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_cosignature_verifies_and_no_one_byte_change_does(
            size in any::<u64>(),
            root in any::<[u8; 32]>(),
            ts in 1..=MAX_TIMESTAMP,
            at in any::<prop::sample::Index>(),
            delta in 1u8..=255,
        ) {
            let log = LogSigner::from_private_key(
                "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
            ).unwrap();
            let w = fixed();
            let note = log.sign(&Checkpoint { origin: String::new(), size, root });
            let body = note_text(&note).unwrap().to_owned();
            let full = format!("{note}{}", w.cosign(&body, ts).unwrap());
            let q = verify_quorum(&full, &log.verifier(), &[w.verifier()], 1).unwrap();
            prop_assert_eq!(q.cosigners[0].timestamp, ts);
            prop_assert_eq!(q.checkpoint.size, size);
            let mut bytes = full.into_bytes();
            let i = at.index(bytes.len());
            bytes[i] = bytes[i].wrapping_add(delta);
            if let Ok(changed) = String::from_utf8(bytes) {
                prop_assert!(verify_quorum(&changed, &log.verifier(), &[w.verifier()], 1).is_err());
            }
        }
    }
}
