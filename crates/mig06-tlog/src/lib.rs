//! RFC 6962 / RFC 9162 transparency-log primitives for the MIG-06 audit log.
//!
//! Design decision: [`Tree`] stores every *full, aligned* subtree hash, level by level, and
//! nothing else. A node that is not a full power-of-two subtree (only ever on the right edge of a
//! tree whose size is not a power of two) is folded on demand from its O(log n) full pieces.
//! Full subtrees never change once complete, so `push` is amortised O(1) and the root or any
//! proof at *any past size* costs O(log n) lookups with no cache to invalidate: the store has
//! to prove inclusion and consistency against old checkpoints, not just the latest one.
//!
//! A tree can also hand its older subtrees to a [`NodeSource`] (a store's durable index) and
//! keep only its right edge in memory ([`Tree::resume`], [`Tree::rebase`]); what it reads from
//! the source is used only with a proof against the root of what it holds in memory.

pub mod checkpoint;
pub mod cosignature;
pub mod rotation;

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

/// RFC 6962 §2.1 / RFC 9162 §2.1.1: leaf hash = SHA-256(0x00 || data).
#[must_use]
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// RFC 6962 §2.1 / RFC 9162 §2.1.1: node hash = SHA-256(0x01 || left || right).
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// RFC 6962 §2.1 / RFC 9162 §2.1.1: the root of the empty tree, SHA-256 of the empty string.
#[must_use]
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly less than `n` (RFC 9162 §2.1.1's `k`). Needs `n >= 2`.
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Where the full subtrees of a [`Tree`] that left memory are read from (a durable index of the
/// log). The tree only reads it; what it returns is never trusted as read: every answer that
/// depends on it is checked against the root of the nodes still in memory (see
/// [`Tree::resume`]).
pub trait NodeSource: std::fmt::Debug + Send + Sync {
    /// The full aligned subtree `index` at `level` (`None`: absent or unreadable).
    fn node(&self, level: u32, index: u64) -> Option<Hash>;
}

/// Merkle tree over leaf hashes: every full aligned subtree in memory, or, for a tree resumed
/// from a [`NodeSource`], the right edge and what was pushed since in memory and the rest in
/// the source.
#[derive(Debug, Default, Clone)]
pub struct Tree {
    /// `levels[k][i]` = hash of leaves `[(offsets[k] + i) * 2^k, (offsets[k] + i + 1) * 2^k)`;
    /// `levels[0]` are the leaves.
    levels: Vec<Vec<Hash>>,
    /// The index of `levels[k][0]` at level `k`: always even, so a pair of siblings is always
    /// in memory together. All zero for a tree that never left memory.
    offsets: Vec<u64>,
    /// The older nodes, read on demand.
    base: Option<std::sync::Arc<dyn NodeSource>>,
    /// The size the base holds: answers about a smaller tree read the base and are checked.
    base_size: u64,
}

impl Tree {
    /// An empty tree.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree over `leaves`, in order.
    #[must_use]
    pub fn from_leaves<I: IntoIterator<Item = Hash>>(leaves: I) -> Self {
        let mut tree = Self::new();
        for leaf in leaves {
            tree.push(leaf);
        }
        tree
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        // Each completed pair of siblings completes exactly one parent: carry it upwards. The
        // offsets are even, so the row's length has the parity of the level's node count.
        let mut carry = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
                self.offsets.push(0);
            }
            let Some(row) = self.levels.get_mut(level) else {
                return;
            };
            row.push(carry);
            match row.as_slice() {
                [.., l, r] if row.len() % 2 == 0 => carry = node_hash(l, r),
                _ => return,
            }
            level += 1;
        }
    }

    /// A tree of `size` leaves whose full subtrees are in `base`: only its right edge (the
    /// O(log n) subtrees whose sibling is not complete yet) is read into memory. `None` when
    /// the base lacks one of them. The caller checks the resumed tree's [`Tree::root`] against
    /// a root it trusts; every later answer that reads the base is then checked against it.
    #[must_use]
    pub fn resume(base: std::sync::Arc<dyn NodeSource>, size: u64) -> Option<Self> {
        let mut levels = Vec::new();
        let mut offsets = Vec::new();
        for k in 0..u64::BITS {
            let count = size >> k;
            if count == 0 {
                break;
            }
            let offset = count & !1;
            let row = if count & 1 == 1 {
                vec![base.node(k, offset)?]
            } else {
                Vec::new()
            };
            levels.push(row);
            offsets.push(offset);
        }
        Some(Self {
            levels,
            offsets,
            base: Some(base),
            base_size: size,
        })
    }

    /// Every node held in memory, as (level, index, hash): what a store writes to its
    /// [`NodeSource`] before [`Tree::rebase`].
    #[must_use]
    pub fn in_memory(&self) -> Vec<(u32, u64, Hash)> {
        let mut out = Vec::new();
        for (k, (row, offset)) in self.levels.iter().zip(&self.offsets).enumerate() {
            let level = u32::try_from(k).unwrap_or(u32::MAX);
            for (i, h) in (*offset..).zip(row) {
                out.push((level, i, *h));
            }
        }
        out
    }

    /// The full subtrees at every level that is a positive multiple of `every`, completed by
    /// the leaves past `old` (level, index, hash), from memory: what a store that keeps those
    /// levels writes for the leaves it just appended. `None` when one is not in memory (`old`
    /// below the size the base holds).
    #[must_use]
    pub fn completed_since(&self, old: u64, every: u32) -> Option<Vec<(u32, u64, Hash)>> {
        let size = self.size();
        let mut out = Vec::new();
        let mut level = every.max(1);
        while level < u64::BITS && (size >> level) > 0 {
            for index in (old >> level)..(size >> level) {
                let k = usize::try_from(level).ok()?;
                let offset = *self.offsets.get(k)?;
                let row = self.levels.get(k)?;
                let hash = row.get(usize::try_from(index.checked_sub(offset)?).ok()?)?;
                out.push((level, index, *hash));
            }
            level = level.saturating_add(every.max(1));
        }
        Some(out)
    }

    /// Hands every node but the right edge to `base`, which now holds the whole tree: memory
    /// keeps only what [`Tree::resume`] would read.
    pub fn rebase(&mut self, base: std::sync::Arc<dyn NodeSource>) {
        let size = self.size();
        for (k, (row, offset)) in self
            .levels
            .iter_mut()
            .zip(self.offsets.iter_mut())
            .enumerate()
        {
            let count = size
                .checked_shr(u32::try_from(k).unwrap_or(u32::MAX))
                .unwrap_or(0);
            let keep_from = count & !1;
            let drop = usize::try_from(keep_from.saturating_sub(*offset)).unwrap_or(usize::MAX);
            row.drain(..drop.min(row.len()));
            *offset = (*offset).max(keep_from);
        }
        self.base = Some(base);
        self.base_size = size;
    }

    /// Cuts the tree back to its first `size` leaves (no-op when it has fewer): level `k` holds
    /// the `size >> k` complete subtrees of the smaller tree, exactly what pushing those leaves
    /// again would build. A resumed tree is never cut below the size its base holds.
    pub fn truncate(&mut self, size: u64) {
        let size = size.max(self.base_size);
        for (k, (row, offset)) in self.levels.iter_mut().zip(&self.offsets).enumerate() {
            let keep = size
                .checked_shr(k as u32)
                .unwrap_or(0)
                .saturating_sub(*offset);
            row.truncate(usize::try_from(keep).unwrap_or(usize::MAX));
        }
        while self.levels.last().is_some_and(Vec::is_empty)
            && self.offsets.last().is_none_or(|o| *o == 0)
        {
            self.levels.pop();
            self.offsets.pop();
        }
    }

    /// Number of leaves.
    #[must_use]
    pub fn size(&self) -> u64 {
        match (self.levels.first(), self.offsets.first()) {
            (Some(row), Some(offset)) => offset + row.len() as u64,
            _ => 0,
        }
    }

    /// The size held by the tree's [`NodeSource`] (0 for a tree that never left memory).
    #[must_use]
    pub fn base_size(&self) -> u64 {
        self.base_size
    }

    /// Leaf hash at `index`. A leaf read from the base is returned only with an inclusion
    /// proof that leads to the root of the tree in memory.
    #[must_use]
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        let leaf = self.piece(0, index)?;
        if index >= self.base_size {
            return Some(leaf);
        }
        let size = self.size();
        let proof = self.raw_inclusion_proof(index, size).ok()?;
        verify_inclusion(&leaf, index, size, &proof, &self.root())
            .ok()
            .map(|()| leaf)
    }

    /// Root of the whole tree.
    #[must_use]
    pub fn root(&self) -> Hash {
        self.range_hash(0, self.size()).unwrap_or_else(empty_root)
    }

    // INV-INDEX-NEVER-TRUSTED: a root read from the base is used only with a consistency proof
    // to the root of the nodes in memory.
    /// Root of the first `size` leaves.
    ///
    /// # Errors
    /// `OutOfRange` when `size` exceeds the tree; `Mismatch` when a node read from the base
    /// does not check out.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        let root = self.raw_root_at(size)?;
        if size < self.base_size {
            // Read from the base: proved consistent with the tree in memory, or refused.
            let now = self.size();
            let proof = self.raw_consistency_proof(size, now)?;
            verify_consistency(size, now, &root, &self.root(), &proof)?;
        }
        Ok(root)
    }

    fn raw_root_at(&self, size: u64) -> Result<Hash, ProofError> {
        if size > self.size() {
            return Err(self.out_of_range(size, size));
        }
        if size == 0 {
            return Ok(empty_root());
        }
        // In range: a piece that cannot be read is the base's failure, not the caller's size.
        self.range_hash(0, size).ok_or(ProofError::Mismatch)
    }

    /// RFC 9162 §2.1.3.1 inclusion proof of leaf `index` in the tree of `size` leaves.
    ///
    /// # Errors
    /// `OutOfRange` when index >= size or size exceeds the tree; `Mismatch` when a node read
    /// from the base does not check out.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        let proof = self.raw_inclusion_proof(index, size)?;
        if index < self.base_size {
            let leaf = self.piece(0, index).ok_or(ProofError::Mismatch)?;
            verify_inclusion(&leaf, index, size, &proof, &self.root_at(size)?)?;
        }
        Ok(proof)
    }

    fn raw_inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        if index >= size || size > self.size() {
            return Err(self.out_of_range(index, size));
        }
        // PATH(m, D[lo:hi]) unrolled top-down; the RFC lists the deepest sibling first.
        let mut proof = Vec::with_capacity(64);
        let (mut lo, mut hi) = (0, size);
        while hi - lo > 1 {
            let mid = lo + split_point(hi - lo);
            if index < mid {
                proof.push(self.node(mid, hi)?);
                hi = mid;
            } else {
                proof.push(self.node(lo, mid)?);
                lo = mid;
            }
        }
        proof.reverse();
        Ok(proof)
    }

    /// RFC 9162 §2.1.4.1 consistency proof between sizes `old` and `new`.
    ///
    /// Empty when `old == 0` or `old == new` (nothing to prove).
    ///
    /// # Errors
    /// `OutOfRange` when old > new or new exceeds the tree.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
        let proof = self.raw_consistency_proof(old, new)?;
        if old < self.base_size {
            verify_consistency(old, new, &self.root_at(old)?, &self.root_at(new)?, &proof)?;
        }
        Ok(proof)
    }

    fn raw_consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
        if old > new || new > self.size() {
            return Err(self.out_of_range(old, new));
        }
        let mut proof = Vec::with_capacity(64);
        if old == 0 || old == new {
            return Ok(proof);
        }
        // SUBPROOF(m, D[lo:hi], b) unrolled top-down; `m` is `old - lo` throughout.
        let (mut lo, mut hi, mut whole) = (0, new, true);
        loop {
            let (n, m) = (hi - lo, old - lo);
            if m == n {
                if !whole {
                    proof.push(self.node(lo, hi)?);
                }
                break;
            }
            let mid = lo + split_point(n);
            if m <= mid - lo {
                proof.push(self.node(mid, hi)?);
                hi = mid;
            } else {
                proof.push(self.node(lo, mid)?);
                lo = mid;
                whole = false;
            }
        }
        proof.reverse();
        Ok(proof)
    }

    fn out_of_range(&self, index: u64, size: u64) -> ProofError {
        ProofError::OutOfRange {
            index,
            size,
            tree_size: self.size(),
        }
    }

    /// Full aligned subtree `index` at `level`.
    fn piece(&self, level: u32, index: u64) -> Option<Hash> {
        let k = usize::try_from(level).ok()?;
        let offset = *self.offsets.get(k)?;
        if index < offset {
            return self.base.as_ref()?.node(level, index);
        }
        let row = self.levels.get(k)?;
        row.get(usize::try_from(index - offset).ok()?).copied()
    }

    /// `range_hash` for proof construction: a piece that cannot be read is `Mismatch`.
    fn node(&self, start: u64, end: u64) -> Result<Hash, ProofError> {
        // Called with a range already checked against the tree: a missing piece is the base's.
        self.range_hash(start, end).ok_or(ProofError::Mismatch)
    }

    /// MTH(D[start:end]) for an RFC tree node: `start` aligned to the power of two >= the width.
    /// The full pieces are the set bits of the width, largest first; folding from the right
    /// (smallest piece first) is exactly RFC 9162 §2.1.1's recursion on a ragged right edge.
    /// `None` for an empty or unaligned range or one beyond the tree.
    fn range_hash(&self, start: u64, end: u64) -> Option<Hash> {
        let width = end.checked_sub(start)?;
        let mut acc: Option<Hash> = None;
        let mut pos = end;
        for level in 0..u64::BITS {
            if width >> level & 1 == 0 {
                continue;
            }
            pos -= 1 << level;
            if pos.trailing_zeros() < level {
                return None;
            }
            let piece = self.piece(level, pos >> level)?;
            acc = Some(match acc {
                None => piece,
                Some(right) => node_hash(&piece, &right),
            });
        }
        acc
    }
}

/// Number of hashes in an inclusion proof for `index < size` (RFC 9162 §2.1.3.1): the siblings
/// below the point where the paths to `index` and to the last leaf split (`inner`), plus one per
/// left sibling above it (`border`).
fn inclusion_len(index: u64, size: u64) -> (u32, u32) {
    let inner = u64::BITS - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner, border)
}

/// RFC 9162 §2.1.3.2: verifies an inclusion proof.
///
/// # Errors
/// `OutOfRange` when `index >= size` (so always for `size == 0`), `WrongLength` when the proof
/// cannot be one for `(index, size)`, `Mismatch` when it does not lead to `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange {
            index,
            size,
            tree_size: size,
        });
    }
    let (inner, border) = inclusion_len(index, size);
    if proof.len() != (inner + border) as usize {
        return Err(ProofError::WrongLength);
    }
    // RFC 9162 §2.1.3.2 steps 2-5, verbatim.
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::Mismatch);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn == 0 && r == *root {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

/// RFC 9162 §2.1.4.2: verifies a consistency proof.
///
/// `old == new` needs an empty proof and equal roots; `old == 0` needs an empty proof and
/// accepts (the empty tree is a prefix of every tree).
///
/// # Errors
/// `OutOfRange` when `old_size > new_size`, `WrongLength` when the proof cannot be one for
/// those sizes, `Mismatch` when it does not lead to both roots.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::OutOfRange {
            index: old_size,
            size: new_size,
            tree_size: new_size,
        });
    }
    if old_size == new_size || old_size == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        if old_size == new_size && old_root != new_root {
            return Err(ProofError::Mismatch);
        }
        return Ok(());
    }
    // Length: the inclusion path of leaf old-1, minus the levels inside the old tree's largest
    // full right subtree, plus that subtree's own hash unless the old tree is itself full.
    let (inner, border) = inclusion_len(old_size - 1, new_size);
    let inner = inner.saturating_sub(old_size.trailing_zeros());
    let seeded = usize::from(!old_size.is_power_of_two());
    if proof.len() != seeded + (inner + border) as usize {
        return Err(ProofError::WrongLength);
    }
    // RFC 9162 §2.1.4.2 steps 2-7: a full old tree is its own first proof node.
    let (seed, rest) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        proof.split_first().ok_or(ProofError::WrongLength)?
    };
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*seed, *seed);
    for c in rest {
        if sn == 0 {
            return Err(ProofError::Mismatch);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn == 0 && fr == *old_root && sr == *new_root {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}
