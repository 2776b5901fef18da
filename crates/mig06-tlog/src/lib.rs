//! RFC 6962 / RFC 9162 transparency-log primitives for the MIG-06 audit log.
//!
//! STUB: the API is fixed; the bodies are being written (see the tlog branch).

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf hash, a node hash or a tree root.
pub type Hash = [u8; 32];

/// Errors from proof construction or verification.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    /// Index or sizes out of range for the tree.
    #[error("index {index} or size {size} out of range for a tree of {tree_size} leaves")]
    OutOfRange {
        /// Leaf index or old size asked for.
        index: u64,
        /// Tree size asked for.
        size: u64,
        /// Current tree size.
        tree_size: u64,
    },
    /// The proof does not lead to the expected root.
    #[error("proof does not verify")]
    Mismatch,
    /// The proof has the wrong number of hashes.
    #[error("proof has the wrong length")]
    WrongLength,
}

/// RFC 6962 §2.1: leaf hash = SHA-256(0x00 || data).
#[must_use]
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// RFC 6962 §2.1: node hash = SHA-256(0x01 || left || right).
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// In-memory Merkle tree over leaf hashes.
#[derive(Debug, Default)]
pub struct Tree {
    leaves: Vec<Hash>,
}

impl Tree {
    /// An empty tree.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.leaves.push(leaf);
    }
    /// Number of leaves.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }
    /// Leaf hash at `index`.
    #[must_use]
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.leaves.get(usize::try_from(index).ok()?).copied()
    }
    /// Root of the whole tree.
    #[must_use]
    pub fn root(&self) -> Hash {
        mth(&self.leaves)
    }
    /// Root of the first `size` leaves.
    ///
    /// # Errors
    /// `OutOfRange` when `size` exceeds the tree.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        let s = usize::try_from(size).unwrap_or(usize::MAX);
        self.leaves.get(..s).map(mth).ok_or(ProofError::OutOfRange {
            index: size,
            size,
            tree_size: self.size(),
        })
    }
    /// RFC 9162 §2.1.3.1 inclusion proof of leaf `index` in the tree of `size` leaves.
    ///
    /// # Errors
    /// `OutOfRange` when index >= size or size exceeds the tree.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        Err(ProofError::OutOfRange {
            index,
            size,
            tree_size: self.size(),
        })
    }
    /// RFC 9162 §2.1.4.1 consistency proof between sizes `old` and `new`.
    ///
    /// # Errors
    /// `OutOfRange` when old > new or new exceeds the tree.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
        Err(ProofError::OutOfRange {
            index: old,
            size: new,
            tree_size: self.size(),
        })
    }
}

fn mth(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => Sha256::digest([]).into(),
        [one] => *one,
        _ => {
            let k = leaves.len().next_power_of_two() / 2;
            let (l, r) = leaves.split_at(k);
            node_hash(&mth(l), &mth(r))
        }
    }
}

/// RFC 9162 §2.1.3.2: verifies an inclusion proof.
///
/// # Errors
/// `Mismatch` or `WrongLength` when the proof does not verify.
pub fn verify_inclusion(
    _leaf: &Hash,
    _index: u64,
    _size: u64,
    _proof: &[Hash],
    _root: &Hash,
) -> Result<(), ProofError> {
    Err(ProofError::Mismatch)
}

/// RFC 9162 §2.1.4.2: verifies a consistency proof.
///
/// # Errors
/// `Mismatch` or `WrongLength` when the proof does not verify.
pub fn verify_consistency(
    _old_size: u64,
    _new_size: u64,
    _old_root: &Hash,
    _new_root: &Hash,
    _proof: &[Hash],
) -> Result<(), ProofError> {
    Err(ProofError::Mismatch)
}

pub mod checkpoint {
    //! C2SP tlog-checkpoint bodies in C2SP signed notes, Ed25519.
    use super::Hash;

    /// Errors from keys and signed notes.
    #[derive(Debug, thiserror::Error)]
    pub enum CheckpointError {
        /// Malformed key, note or checkpoint body.
        #[error("malformed {what}")]
        Malformed {
            /// What was malformed.
            what: &'static str,
        },
        /// No signature by the expected key verifies.
        #[error("no valid signature by the log's key")]
        BadSignature,
    }

    /// A checkpoint body: origin, tree size, root hash.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Checkpoint {
        /// The log's origin line.
        pub origin: String,
        /// Tree size.
        pub size: u64,
        /// Root hash at that size.
        pub root: Hash,
    }

    /// The log's signing key (note name = origin).
    pub struct LogSigner {
        _private: (),
    }

    impl LogSigner {
        /// Generates a new Ed25519 key for a log named `origin`.
        ///
        /// # Errors
        /// `Malformed` when the name is not a valid note key name.
        pub fn generate(_origin: &str) -> Result<Self, CheckpointError> {
            Err(CheckpointError::Malformed { what: "stub" })
        }
        /// Parses a `PRIVATE+KEY+name+keyid+base64` key.
        ///
        /// # Errors
        /// `Malformed` when the text is not such a key.
        pub fn from_private_key(_text: &str) -> Result<Self, CheckpointError> {
            Err(CheckpointError::Malformed { what: "stub" })
        }
        /// The private key text.
        #[must_use]
        pub fn private_key(&self) -> String {
            String::new()
        }
        /// The matching verifier.
        #[must_use]
        pub fn verifier(&self) -> LogVerifier {
            LogVerifier { _private: () }
        }
        /// The log's origin line (also the key name).
        #[must_use]
        pub fn origin(&self) -> &str {
            ""
        }
        /// Signs a checkpoint, returning the signed note text.
        #[must_use]
        pub fn sign(&self, _cp: &Checkpoint) -> String {
            String::new()
        }
    }

    /// A log's verifier key.
    #[derive(Debug, Clone)]
    pub struct LogVerifier {
        _private: (),
    }

    impl LogVerifier {
        /// Parses a `name+keyid+base64` verifier key.
        ///
        /// # Errors
        /// `Malformed` when the text is not such a key.
        pub fn parse(_text: &str) -> Result<Self, CheckpointError> {
            Err(CheckpointError::Malformed { what: "stub" })
        }
        /// The verifier key text.
        #[must_use]
        pub fn vkey(&self) -> String {
            String::new()
        }
        /// Verifies a signed note and parses its checkpoint body.
        ///
        /// # Errors
        /// `BadSignature` or `Malformed`.
        pub fn verify(&self, _note: &str) -> Result<Checkpoint, CheckpointError> {
            Err(CheckpointError::BadSignature)
        }
    }
}
