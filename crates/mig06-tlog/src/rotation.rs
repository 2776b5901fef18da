//! Key epochs inside one log: the key rotation statement and the log's key schedule.
//!
//! A log's key can be replaced (a scheduled rotation, a suspected compromise) without starting a
//! new log: the tree, the origin, the witnesses' state and the log's rules stay one, and what
//! changes at a tree size R is the key. A [`Rotation`] statement binds the change to the tree
//! (the root at R) and is signed by both keys: the retiring key authorises it, the new key
//! proves possession. [`LogKeys`] is the schedule the statements make: which key signs which
//! record and which checkpoint.
//!
//! The exact bytes (also in `docs/AUDIT-LOG.md`, "Key rotations"): a C2SP signed note whose
//! text is
//!
//! ```text
//! mig06 key rotation v1 LF
//! <origin> LF
//! <R, decimal> LF
//! <base64 of the root at R> LF
//! <retiring key's vkey> LF
//! <new key's vkey> LF
//! ```
//!
//! followed by the blank line and exactly two signature lines, the retiring key's first
//! (signed-note "Signatures": `— <origin> base64(key ID || Ed25519 signature of the text)`;
//! both keys are named by the origin, and told apart by their key IDs). The first line contains
//! spaces, which no note key name (and so no checkpoint origin line) may, and differs from the
//! record signature's domain ([`crate::checkpoint::RECORD_SIG_DOMAIN`]): a statement can never
//! be read as a checkpoint or a record signature, nor one of them as a statement.
//!
//! The schedule's rules, for rotations at sizes R1 <= R2 <= …: record `i` is signed by the key
//! of the last epoch that starts at or before `i` (so records below R1 by the genesis key,
//! records from R1 on by the next); a checkpoint of size `s` verifies only with a key whose
//! epoch contains `s`, bounds included (the genesis key up to R1, the next key from R1 to R2,
//! and so on), so the retiring key's last valid checkpoint is the final one at R and a
//! compromised retired key cannot extend the log.
//!
//! Design decision: a schedule is built only from statements whose both signatures verify and
//! that chain (each statement's retiring key is the previous statement's new key), and it must
//! contain the key the verifier trusts (its anchor): the genesis key (trust flows forward: each
//! key authorised the next) or any later key (that key's proof-of-possession signature vouches
//! for its predecessor and, through the root, for the tree up to R). Whoever checks a schedule
//! against a tree must also check each statement's root at its size: [`LogKeys::rotations`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::Hash;
use crate::checkpoint::{
    Checkpoint, CheckpointError, LogSigner, LogVerifier, is_valid_name, split_note,
};

/// The first line of a key rotation statement.
pub const ROTATION_DOMAIN: &str = "mig06 key rotation v1";

/// Why a rotation statement or a chain of them does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    /// The statement is not well formed (a fixed description, never the input).
    #[error("malformed key rotation statement ({what})")]
    Malformed {
        /// What was malformed.
        what: &'static str,
    },
    /// A signature the statement needs is missing or does not verify.
    #[error("the key rotation statement is not signed by the {which} key")]
    BadSignature {
        /// `retiring` or `new`.
        which: &'static str,
    },
    /// The statements do not chain: the `index`-th (0-based) does not follow the one before.
    #[error("key rotation {index} {what}")]
    Chain {
        /// The statement's position.
        index: usize,
        /// What breaks the chain (a fixed description).
        what: &'static str,
    },
    /// The verifier's trusted key is not one of the keys the statements chain.
    #[error("the trusted key is not one of this log's keys")]
    AnchorNotInChain,
}

fn malformed(what: &'static str) -> RotationError {
    RotationError::Malformed { what }
}

/// One key rotation: at tree size `size`, whose root is `root`, the log `origin` stops signing
/// with `old` and signs with `new` from then on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    size: u64,
    root: Hash,
    old: LogVerifier,
    new: LogVerifier,
}

impl Rotation {
    /// The rotation from `old` to `new` at `size` with root `root`.
    ///
    /// # Errors
    /// `Malformed` when the keys name different origins, or are the same key or share a key ID
    /// (a note's signature lines are matched to keys by name and ID).
    pub fn new(
        size: u64,
        root: Hash,
        old: LogVerifier,
        new: LogVerifier,
    ) -> Result<Self, RotationError> {
        if old.name() != new.name() {
            return Err(malformed("the keys name different origins"));
        }
        if old.id() == new.id() {
            return Err(malformed("the keys share a key ID"));
        }
        Ok(Self {
            size,
            root,
            old,
            new,
        })
    }

    /// The log's origin (both keys' name).
    #[must_use]
    pub fn origin(&self) -> &str {
        self.old.name()
    }

    /// The tree size at which the key changes.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree's root at [`Rotation::size`].
    #[must_use]
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The retiring key.
    #[must_use]
    pub fn old(&self) -> &LogVerifier {
        &self.old
    }

    /// The new key.
    #[must_use]
    pub fn new_key(&self) -> &LogVerifier {
        &self.new
    }

    /// The statement's text (the signed bytes), final newline included.
    #[must_use]
    pub fn body(&self) -> String {
        format!(
            "{ROTATION_DOMAIN}\n{}\n{}\n{}\n{}\n{}\n",
            self.origin(),
            self.size,
            B64.encode(self.root),
            self.old.vkey(),
            self.new.vkey()
        )
    }

    /// The signed statement: the text, a blank line, the retiring key's signature line, the new
    /// key's. Ed25519 is deterministic: one statement, one note.
    ///
    /// # Errors
    /// `BadSignature` when `old` or `new` is not the private key of the statement's key.
    pub fn sign(&self, old: &LogSigner, new: &LogSigner) -> Result<String, RotationError> {
        if old.verifier() != self.old {
            return Err(RotationError::BadSignature { which: "retiring" });
        }
        if new.verifier() != self.new {
            return Err(RotationError::BadSignature { which: "new" });
        }
        let text = self.body();
        Ok(format!(
            "{text}\n{}{}",
            old.sig_line(&text),
            new.sig_line(&text)
        ))
    }

    /// Parses a signed statement and verifies both its signatures: exactly two signature lines,
    /// the retiring key's then the new key's, each by the key the text names. The text must be
    /// exactly what [`Rotation::body`] writes for what it says (one spelling per statement).
    ///
    /// # Errors
    /// `Malformed` or `BadSignature`.
    pub fn verify(note: &str) -> Result<Self, RotationError> {
        let split = split_note(note).map_err(|_| malformed("note"))?;
        let text = split.text;
        let rotation = parse_body(text)?;
        if rotation.body() != text {
            return Err(malformed("not in canonical form"));
        }
        let lines = split.lines();
        let [old_line, new_line] = lines.as_slice() else {
            return Err(malformed("not exactly two signature lines"));
        };
        if !rotation.old.verifies_line(text, old_line) {
            return Err(RotationError::BadSignature { which: "retiring" });
        }
        if !rotation.new.verifies_line(text, new_line) {
            return Err(RotationError::BadSignature { which: "new" });
        }
        Ok(rotation)
    }
}

/// Parses a statement's text (newline-terminated).
fn parse_body(text: &str) -> Result<Rotation, RotationError> {
    let body = text.strip_suffix('\n').ok_or(malformed("text"))?;
    let mut lines = body.split('\n');
    if lines.next() != Some(ROTATION_DOMAIN) {
        return Err(malformed("first line"));
    }
    let origin = lines.next().ok_or(malformed("origin"))?;
    if !is_valid_name(origin) {
        return Err(malformed("origin"));
    }
    let size_text = lines.next().ok_or(malformed("size"))?;
    if size_text.is_empty() || !size_text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("size"));
    }
    let size: u64 = size_text.parse().map_err(|_| malformed("size"))?;
    let root = lines
        .next()
        .and_then(|r| B64.decode(r).ok())
        .and_then(|r| Hash::try_from(r).ok())
        .ok_or(malformed("root"))?;
    let old = lines
        .next()
        .and_then(|k| LogVerifier::parse(k).ok())
        .ok_or(malformed("retiring key"))?;
    let new = lines
        .next()
        .and_then(|k| LogVerifier::parse(k).ok())
        .ok_or(malformed("new key"))?;
    if lines.next().is_some() {
        return Err(malformed("extra line"));
    }
    if old.name() != origin {
        return Err(malformed("origin"));
    }
    Rotation::new(size, root, old, new)
}

/// One epoch of a schedule: the key in force and the sizes it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch<'a> {
    /// The epoch's number: 0 for the genesis key.
    pub number: usize,
    /// The first record it signs, and the smallest checkpoint size it signs.
    pub from: u64,
    /// The largest checkpoint size it signs (the next rotation's size); `None`: the current key.
    pub until: Option<u64>,
    /// The key.
    pub key: &'a LogVerifier,
}

impl Epoch<'_> {
    /// Whether a checkpoint of `size` is this epoch's to sign (bounds included).
    #[must_use]
    pub fn signs_size(&self, size: u64) -> bool {
        size >= self.from && self.until.is_none_or(|u| size <= u)
    }
}

// INV-KEY-EPOCH: the one schedule of a log's keys: which key signs which record and checkpoint.
/// A log's key schedule: the genesis key and the rotations that followed it, each verified and
/// chained. A schedule without rotations is one key for every size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogKeys {
    genesis: LogVerifier,
    rotations: Vec<Rotation>,
}

impl From<LogVerifier> for LogKeys {
    fn from(key: LogVerifier) -> Self {
        Self::single(key)
    }
}

impl LogKeys {
    /// One key, for every size.
    #[must_use]
    pub fn single(key: LogVerifier) -> Self {
        Self {
            genesis: key,
            rotations: Vec::new(),
        }
    }

    /// The schedule that the signed statements `notes` (in order) make, trusted through
    /// `anchor`: each statement must verify ([`Rotation::verify`]), be of `anchor`'s origin,
    /// retire the key the one before introduced (the first: any key, the genesis key), at a
    /// size no smaller than the one before, and introduce a key (and key ID) the log has not
    /// had; and `anchor` must be one of the keys. With no statements, the schedule is `anchor`.
    ///
    /// # Errors
    /// The first statement that does not verify or does not chain, or `AnchorNotInChain`.
    pub fn follow(anchor: &LogVerifier, notes: &[impl AsRef<str>]) -> Result<Self, RotationError> {
        let mut keys: Option<Self> = None;
        for (index, note) in notes.iter().enumerate() {
            let r = Rotation::verify(note.as_ref()).map_err(|e| match e {
                RotationError::Malformed { what } => RotationError::Chain { index, what },
                RotationError::BadSignature { which } => RotationError::Chain {
                    index,
                    what: if which == "new" {
                        "is not signed by the new key"
                    } else {
                        "is not signed by the retiring key"
                    },
                },
                other => other,
            })?;
            match &mut keys {
                None => {
                    keys = Some(Self {
                        genesis: r.old.clone(),
                        rotations: vec![r],
                    });
                }
                Some(k) => k.push(index, r)?,
            }
        }
        let keys = keys.unwrap_or_else(|| Self::single(anchor.clone()));
        if keys.genesis.name() != anchor.name() {
            return Err(RotationError::Chain {
                index: 0,
                what: "is of another log (origin)",
            });
        }
        if !keys.keys().any(|k| k == anchor) {
            return Err(RotationError::AnchorNotInChain);
        }
        Ok(keys)
    }

    /// This schedule with one more rotation, which must verify and follow the current key.
    ///
    /// # Errors
    /// As [`LogKeys::follow`].
    pub fn extended(&self, note: &str) -> Result<Self, RotationError> {
        let index = self.rotations.len();
        let r = Rotation::verify(note)?;
        let mut next = self.clone();
        next.push(index, r)?;
        Ok(next)
    }

    fn push(&mut self, index: usize, r: Rotation) -> Result<(), RotationError> {
        let chain = |what| RotationError::Chain { index, what };
        if r.origin() != self.genesis.name() {
            return Err(chain("is of another log (origin)"));
        }
        if &r.old != self.current() {
            return Err(chain("does not retire the key in force"));
        }
        if r.size < self.rotations.last().map_or(0, |p| p.size) {
            return Err(chain("is at a smaller size than the rotation before"));
        }
        if self.keys().any(|k| k == &r.new || k.id() == r.new.id()) {
            return Err(chain("brings back a key (or key ID) the log had before"));
        }
        self.rotations.push(r);
        Ok(())
    }

    /// The genesis key (epoch 0).
    #[must_use]
    pub fn genesis(&self) -> &LogVerifier {
        &self.genesis
    }

    /// The key in force now (the last epoch's): the only one that may sign from here on.
    #[must_use]
    pub fn current(&self) -> &LogVerifier {
        self.rotations.last().map_or(&self.genesis, |r| &r.new)
    }

    /// The log's origin.
    #[must_use]
    pub fn origin(&self) -> &str {
        self.genesis.name()
    }

    /// The rotations, in order. Their roots must be checked against the tree.
    #[must_use]
    pub fn rotations(&self) -> &[Rotation] {
        &self.rotations
    }

    /// Every key, in epoch order.
    pub fn keys(&self) -> impl Iterator<Item = &LogVerifier> {
        std::iter::once(&self.genesis).chain(self.rotations.iter().map(|r| &r.new))
    }

    /// Every epoch, in order.
    #[must_use]
    pub fn epochs(&self) -> Vec<Epoch<'_>> {
        self.keys()
            .enumerate()
            .map(|(number, key)| Epoch {
                number,
                from: match number.checked_sub(1) {
                    Some(i) => self.rotations.get(i).map_or(0, |r| r.size),
                    None => 0,
                },
                until: self.rotations.get(number).map(|r| r.size),
                key,
            })
            .collect()
    }

    /// The key that signs record `index`: the last epoch's that starts at or before it.
    #[must_use]
    pub fn record_key(&self, index: u64) -> &LogVerifier {
        self.rotations
            .iter()
            .take_while(|r| r.size <= index)
            .last()
            .map_or(&self.genesis, |r| &r.new)
    }

    /// Whether record `index` is the first record of an epoch (0, or a rotation's size).
    #[must_use]
    pub fn starts_epoch(&self, index: u64) -> bool {
        index == 0 || self.rotations.iter().any(|r| r.size == index)
    }
}

/// Whatever verifies a log's checkpoints: one key ([`LogVerifier`], any size) or a schedule
/// ([`LogKeys`], each size by the key in force).
pub trait CheckpointKeys {
    /// Verifies a signed checkpoint note and returns its checkpoint and the key that signed it.
    ///
    /// # Errors
    /// As [`LogVerifier::verify`]; `KeyNotInForce` when only a key not in force at the
    /// checkpoint's size signed it.
    fn verify_checkpoint(&self, note: &str) -> Result<(Checkpoint, &LogVerifier), CheckpointError>;
}

impl CheckpointKeys for LogVerifier {
    fn verify_checkpoint(&self, note: &str) -> Result<(Checkpoint, &LogVerifier), CheckpointError> {
        self.verify(note).map(|cp| (cp, self))
    }
}

impl CheckpointKeys for LogKeys {
    fn verify_checkpoint(&self, note: &str) -> Result<(Checkpoint, &LogVerifier), CheckpointError> {
        let mut failure = CheckpointError::BadSignature;
        for epoch in self.epochs() {
            match epoch.key.verify(note) {
                Ok(cp) if epoch.signs_size(cp.size) => return Ok((cp, epoch.key)),
                Ok(cp) => failure = CheckpointError::KeyNotInForce { size: cp.size },
                Err(e @ CheckpointError::Malformed { .. }) => {
                    if matches!(failure, CheckpointError::BadSignature) {
                        failure = e;
                    }
                }
                Err(_) => {}
            }
        }
        Err(failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "audit.hospital.example/mig06/1";

    fn keys(n: usize) -> Vec<LogSigner> {
        (0..n)
            .map(|_| LogSigner::generate(ORIGIN).unwrap())
            .collect()
    }

    fn statement(size: u64, old: &LogSigner, new: &LogSigner) -> String {
        Rotation::new(size, [size as u8; 32], old.verifier(), new.verifier())
            .unwrap()
            .sign(old, new)
            .unwrap()
    }

    fn checkpoint(signer: &LogSigner, size: u64) -> String {
        signer.sign(&Checkpoint {
            origin: ORIGIN.to_owned(),
            size,
            root: [size as u8; 32],
        })
    }

    #[test]
    fn inv_key_epoch_statement_bytes_are_as_documented() {
        let k = keys(2);
        let note = statement(42, &k[0], &k[1]);
        let root = B64.encode([42u8; 32]);
        let text = format!(
            "mig06 key rotation v1\n{ORIGIN}\n42\n{root}\n{}\n{}\n",
            k[0].verifier().vkey(),
            k[1].verifier().vkey()
        );
        assert!(note.starts_with(&format!("{text}\n\u{2014} {ORIGIN} ")));
        let sigs: Vec<&str> = note.get(text.len() + 1..).unwrap().lines().collect();
        assert_eq!(sigs.len(), 2);
        assert_eq!(
            crate::checkpoint::note_signers(&note),
            [k[0].verifier().key_name(), k[1].verifier().key_name()]
        );
        let r = Rotation::verify(&note).unwrap();
        assert_eq!((r.size(), r.root(), r.origin()), (42, &[42u8; 32], ORIGIN));
        assert_eq!(r.old(), &k[0].verifier());
        assert_eq!(r.new_key(), &k[1].verifier());
        // Deterministic.
        assert_eq!(statement(42, &k[0], &k[1]), note);
    }

    #[test]
    fn inv_key_epoch_a_statement_is_never_a_checkpoint_and_a_checkpoint_never_a_statement() {
        let k = keys(2);
        let note = statement(3, &k[0], &k[1]);
        for key in &k {
            assert!(key.verifier().verify(&note).is_err());
        }
        let cp = checkpoint(&k[0], 3);
        assert!(matches!(
            Rotation::verify(&cp),
            Err(RotationError::Malformed { .. })
        ));
    }

    #[test]
    fn inv_key_epoch_both_signatures_are_required_in_order() {
        let k = keys(3);
        let r = Rotation::new(5, [1; 32], k[0].verifier(), k[1].verifier()).unwrap();
        let text = r.body();
        let only_old = format!("{text}\n{}", k[0].sig_line(&text));
        let only_new = format!("{text}\n{}", k[1].sig_line(&text));
        let swapped = format!("{text}\n{}{}", k[1].sig_line(&text), k[0].sig_line(&text));
        let third = format!("{}{}", r.sign(&k[0], &k[1]).unwrap(), k[2].sig_line(&text));
        let by_other = format!("{text}\n{}{}", k[2].sig_line(&text), k[1].sig_line(&text));
        for bad in [only_old, only_new, third] {
            assert!(matches!(
                Rotation::verify(&bad),
                Err(RotationError::Malformed { .. })
            ));
        }
        assert_eq!(
            Rotation::verify(&swapped),
            Err(RotationError::BadSignature { which: "retiring" })
        );
        assert_eq!(
            Rotation::verify(&by_other),
            Err(RotationError::BadSignature { which: "retiring" })
        );
        assert!(r.sign(&k[2], &k[1]).is_err());
        assert!(r.sign(&k[0], &k[2]).is_err());
        // Keys of another origin, the same key twice.
        let other = LogSigner::generate("other.example/log").unwrap();
        assert!(Rotation::new(5, [1; 32], k[0].verifier(), other.verifier()).is_err());
        assert!(Rotation::new(5, [1; 32], k[0].verifier(), k[0].verifier()).is_err());
    }

    #[test]
    fn inv_key_epoch_non_canonical_texts_are_refused() {
        let k = keys(2);
        let r = Rotation::new(7, [9; 32], k[0].verifier(), k[1].verifier()).unwrap();
        let good = r.body();
        let variants = [
            good.replacen("\n7\n", "\n07\n", 1),
            good.replacen("\n7\n", "\n+7\n", 1),
            good.replacen(ROTATION_DOMAIN, "mig06 key rotation v2", 1),
            format!("{good}extension\n"),
            good.replacen(
                &k[0].verifier().vkey(),
                &k[0].verifier().vkey().to_uppercase(),
                1,
            ),
        ];
        for text in variants {
            let note = format!("{text}\n{}{}", k[0].sig_line(&text), k[1].sig_line(&text));
            assert!(Rotation::verify(&note).is_err(), "{text:?}");
        }
    }

    #[test]
    fn inv_key_epoch_the_schedule_follows_from_any_key_of_the_chain() {
        let k = keys(3);
        let notes = [statement(4, &k[0], &k[1]), statement(9, &k[1], &k[2])];
        for anchor in &k {
            let s = LogKeys::follow(&anchor.verifier(), &notes).unwrap();
            assert_eq!(s.genesis(), &k[0].verifier());
            assert_eq!(s.current(), &k[2].verifier());
        }
        let stranger = LogSigner::generate(ORIGIN).unwrap();
        assert_eq!(
            LogKeys::follow(&stranger.verifier(), &notes),
            Err(RotationError::AnchorNotInChain)
        );
        // Out of order, a link missing, a key brought back, sizes going backwards.
        let reordered = [notes[1].clone(), notes[0].clone()];
        assert!(LogKeys::follow(&k[0].verifier(), &reordered).is_err());
        assert!(LogKeys::follow(&k[0].verifier(), &notes[1..]).is_err());
        let back = [statement(4, &k[0], &k[1]), statement(9, &k[1], &k[0])];
        assert!(LogKeys::follow(&k[0].verifier(), &back).is_err());
        let backwards = [statement(9, &k[0], &k[1]), statement(4, &k[1], &k[2])];
        assert!(LogKeys::follow(&k[0].verifier(), &backwards).is_err());
        // No statements: the anchor alone.
        let none: [&str; 0] = [];
        let s = LogKeys::follow(&k[1].verifier(), &none).unwrap();
        assert_eq!(s.current(), &k[1].verifier());
        assert_eq!(s.genesis(), &k[1].verifier());
    }

    #[test]
    fn inv_key_epoch_records_and_checkpoints_verify_with_the_key_in_force() {
        let k = keys(3);
        let s = LogKeys::follow(
            &k[0].verifier(),
            &[statement(4, &k[0], &k[1]), statement(9, &k[1], &k[2])],
        )
        .unwrap();
        for (index, want) in [(0, 0), (3, 0), (4, 1), (8, 1), (9, 2), (1000, 2)] {
            assert_eq!(s.record_key(index), &k[want].verifier(), "record {index}");
        }
        assert!(s.starts_epoch(0) && s.starts_epoch(4) && s.starts_epoch(9));
        assert!(!s.starts_epoch(5));
        let ok = [(0, 0), (4, 0), (4, 1), (9, 1), (9, 2), (50, 2)];
        for (size, key) in ok {
            let (cp, by) = s.verify_checkpoint(&checkpoint(&k[key], size)).unwrap();
            assert_eq!((cp.size, by), (size, &k[key].verifier()));
        }
        let retired = [(5, 0), (10, 1), (3, 1), (8, 2), (u64::MAX, 0)];
        for (size, key) in retired {
            assert!(
                matches!(
                    s.verify_checkpoint(&checkpoint(&k[key], size)),
                    Err(CheckpointError::KeyNotInForce { size: s2 }) if s2 == size
                ),
                "size {size} by key {key}"
            );
        }
        let stranger = LogSigner::generate(ORIGIN).unwrap();
        assert!(matches!(
            s.verify_checkpoint(&checkpoint(&stranger, 5)),
            Err(CheckpointError::BadSignature)
        ));
        let epochs = s.epochs();
        assert_eq!(
            epochs
                .iter()
                .map(|e| (e.number, e.from, e.until))
                .collect::<Vec<_>>(),
            [(0, 0, Some(4)), (1, 4, Some(9)), (2, 9, None)]
        );
    }

    #[test]
    fn inv_key_epoch_two_rotations_at_one_size() {
        let k = keys(3);
        let s = LogKeys::follow(
            &k[2].verifier(),
            &[statement(4, &k[0], &k[1]), statement(4, &k[1], &k[2])],
        )
        .unwrap();
        assert_eq!(s.record_key(4), &k[2].verifier());
        assert_eq!(s.record_key(3), &k[0].verifier());
        assert!(s.verify_checkpoint(&checkpoint(&k[1], 4)).is_ok());
        assert!(s.verify_checkpoint(&checkpoint(&k[1], 5)).is_err());
        let extended = s.extended(&statement(6, &k[2], &keys(1)[0])).unwrap();
        assert_eq!(extended.rotations().len(), 3);
        assert!(s.extended(&statement(6, &k[1], &keys(1)[0])).is_err());
    }
}
