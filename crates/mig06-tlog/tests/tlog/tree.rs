//! Merkle tree and proof tests: published vectors, every proof up to size 64, ct-merkle.

use mig06_tlog::{
    Hash, ProofError, Tree, empty_root, leaf_hash, node_hash, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

fn h(s: &str) -> Hash {
    let mut out = [0u8; 32];
    hex_decode(s, &mut out);
    out
}

fn hex_decode(s: &str, out: &mut [u8]) {
    assert_eq!(s.len(), out.len() * 2);
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
}

// Certificate Transparency reference vectors, as published in
// github.com/transparency-dev/merkle proof/verify_test.go (`leaves`, `roots`,
// `inclusionProofs` with 1-based leaf numbers, `consistencyProofs`), the successor of
// google/certificate-transparency's merkle_tree_test.
const LEAVES: [&[u8]; 8] = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
];
const EMPTY_ROOT: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];
/// (0-based index, size, proof)
const INCLUSION: [(u64, u64, &[&str]); 4] = [
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];
/// (old, new, proof)
const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn reference_tree() -> Tree {
    Tree::from_leaves(LEAVES.iter().map(|l| leaf_hash(l)))
}

#[test]
fn rfc6962_reference_roots() {
    assert_eq!(empty_root(), h(EMPTY_ROOT));
    assert_eq!(Tree::new().root(), h(EMPTY_ROOT));
    let tree = reference_tree();
    assert_eq!(tree.root_at(0).unwrap(), h(EMPTY_ROOT));
    for (i, want) in ROOTS.iter().enumerate() {
        let size = i as u64 + 1;
        assert_eq!(tree.root_at(size).unwrap(), h(want), "size {size}");
        let prefix = Tree::from_leaves(LEAVES[..=i].iter().map(|l| leaf_hash(l)));
        assert_eq!(prefix.root(), h(want), "size {size}");
    }
    assert!(matches!(
        tree.root_at(9),
        Err(ProofError::OutOfRange { .. })
    ));
}

#[test]
fn rfc6962_reference_proofs() {
    let tree = reference_tree();
    for (index, size, want) in INCLUSION {
        let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
        assert_eq!(
            tree.inclusion_proof(index, size).unwrap(),
            want,
            "({index}, {size})"
        );
        let root = h(ROOTS[size as usize - 1]);
        let leaf = leaf_hash(LEAVES[index as usize]);
        verify_inclusion(&leaf, index, size, &want, &root).unwrap();
    }
    for (old, new, want) in CONSISTENCY {
        let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
        assert_eq!(
            tree.consistency_proof(old, new).unwrap(),
            want,
            "({old}, {new})"
        );
        let (r1, r2) = (h(ROOTS[old as usize - 1]), h(ROOTS[new as usize - 1]));
        verify_consistency(old, new, &r1, &r2, &want).unwrap();
    }
}

#[test]
fn edge_cases() {
    let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
    let empty = empty_root();
    let leaf = leaf_hash(b"data");
    // Size 1: the leaf is the root and the proof is empty.
    verify_inclusion(&leaf, 0, 1, &[], &leaf).unwrap();
    assert_eq!(
        verify_inclusion(&leaf, 0, 1, &[], &some),
        Err(ProofError::Mismatch)
    );
    assert_eq!(
        verify_inclusion(&leaf, 0, 1, &[leaf], &leaf),
        Err(ProofError::WrongLength)
    );
    // Index out of range, including every index of the empty tree.
    for (index, size) in [(0, 0), (1, 0), (1, 1), (2, 1), (u64::MAX, u64::MAX)] {
        assert!(matches!(
            verify_inclusion(&some, index, size, &[], &empty),
            Err(ProofError::OutOfRange { .. })
        ));
    }
    // Huge sizes must not overflow anything.
    assert_eq!(
        verify_inclusion(&some, u64::MAX - 1, u64::MAX, &[], &empty),
        Err(ProofError::WrongLength)
    );
    assert_eq!(
        verify_inclusion(&some, 0, u64::MAX, &[some; 64], &empty),
        Err(ProofError::Mismatch)
    );
    assert!(verify_consistency(u64::MAX - 1, u64::MAX, &some, &empty, &[some; 3]).is_err());
    assert!(verify_consistency(1, u64::MAX, &some, &empty, &[some; 64]).is_err());
    // Consistency: equal sizes need equal roots and an empty proof.
    verify_consistency(0, 0, &empty, &empty, &[]).unwrap();
    verify_consistency(5, 5, &some, &some, &[]).unwrap();
    assert_eq!(
        verify_consistency(0, 0, &empty, &some, &[]),
        Err(ProofError::Mismatch)
    );
    assert_eq!(
        verify_consistency(5, 5, &some, &empty, &[]),
        Err(ProofError::Mismatch)
    );
    assert_eq!(
        verify_consistency(5, 5, &some, &some, &[some]),
        Err(ProofError::WrongLength)
    );
    // From the empty tree: always consistent, with an empty proof only.
    verify_consistency(0, 7, &empty, &some, &[]).unwrap();
    assert_eq!(
        verify_consistency(0, 7, &empty, &some, &[some]),
        Err(ProofError::WrongLength)
    );
    // Time travel and empty proofs for real growth.
    assert!(matches!(
        verify_consistency(2, 1, &some, &some, &[]),
        Err(ProofError::OutOfRange { .. })
    ));
    assert_eq!(
        verify_consistency(1, 2, &some, &empty, &[]),
        Err(ProofError::WrongLength)
    );
    // Construction bounds.
    let tree = reference_tree();
    assert_eq!(tree.consistency_proof(0, 8).unwrap(), Vec::<Hash>::new());
    assert_eq!(tree.consistency_proof(8, 8).unwrap(), Vec::<Hash>::new());
    for (a, b) in [(0, 9), (3, 2), (9, 9)] {
        assert!(matches!(
            tree.consistency_proof(a, b),
            Err(ProofError::OutOfRange { .. })
        ));
    }
    for (a, b) in [(0, 0), (3, 3), (0, 9), (8, 9), (u64::MAX, u64::MAX)] {
        assert!(matches!(
            tree.inclusion_proof(a, b),
            Err(ProofError::OutOfRange { .. })
        ));
    }
    assert_eq!(tree.leaf(7), Some(leaf_hash(LEAVES[7])));
    assert_eq!(tree.leaf(8), None);
    assert_eq!(tree.size(), 8);
}

/// Naive RFC 9162 §2.1.1 MTH, to check the level-stored tree against.
fn mth(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let k = leaves.len().next_power_of_two() / 2;
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
}

fn flip(proof: &[Hash], i: usize, bit: usize) -> Vec<Hash> {
    let mut p = proof.to_vec();
    p[i][bit / 8] ^= 1 << (bit % 8);
    p
}

const N: u64 = 64;

#[test]
fn every_inclusion_proof_up_to_64() {
    let ls = leaves(N);
    let tree = Tree::from_leaves(ls.iter().copied());
    let roots: Vec<Hash> = (0..=N).map(|s| tree.root_at(s).unwrap()).collect();
    for size in 1..=N {
        assert_eq!(roots[size as usize], mth(&ls[..size as usize]));
        for index in 0..size {
            let leaf = ls[index as usize];
            let root = roots[size as usize];
            let proof = tree.inclusion_proof(index, size).unwrap();
            verify_inclusion(&leaf, index, size, &proof, &root).unwrap();
            assert!(proof.len() <= 64 - (size - 1).leading_zeros() as usize);
            // Any flipped bit in any proof hash.
            for i in 0..proof.len() {
                for bit in [0, 7, 100, 255] {
                    let bad = flip(&proof, i, bit);
                    assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());
                }
            }
            // Wrong leaf or root.
            assert!(
                verify_inclusion(
                    &ls[(index as usize + 1) % ls.len()],
                    index,
                    size,
                    &proof,
                    &root
                )
                .is_err()
            );
            assert!(verify_inclusion(&leaf, index, size, &proof, &leaf_hash(b"x")).is_err());
            // Truncated, extended, reordered.
            if let Some((_, short)) = proof.split_last() {
                assert_eq!(
                    verify_inclusion(&leaf, index, size, short, &root),
                    Err(ProofError::WrongLength)
                );
                assert!(verify_inclusion(&leaf, index, size, &proof[1..], &root).is_err());
            }
            let mut long = proof.clone();
            long.push(root);
            assert_eq!(
                verify_inclusion(&leaf, index, size, &long, &root),
                Err(ProofError::WrongLength)
            );
            long.rotate_right(1);
            assert!(verify_inclusion(&leaf, index, size, &long, &root).is_err());
            if proof.len() > 1 {
                let mut swapped = proof.clone();
                swapped.swap(0, 1);
                assert!(
                    swapped == proof
                        || verify_inclusion(&leaf, index, size, &swapped, &root).is_err()
                );
            }
            // Any other index: fails (the leaf is not there).
            for other in 0..size {
                if other != index {
                    assert!(verify_inclusion(&leaf, other, size, &proof, &root).is_err());
                }
            }
            // Any other size: with this root it fails, and with that size's own root it
            // succeeds only if the proof is also that size's proof (a root commits to its size).
            let near = size.saturating_sub(4).max(1)..=(size + 4).min(N);
            for other in near.chain([size * 2, size / 2]) {
                if other == size || other == 0 || other > N {
                    continue;
                }
                // With *this* root a wrong size can still verify (e.g. (0, 3) and (0, 4) walk
                // the same path): a proof does not pin the size, the signed checkpoint does.
                // Go's probes, double and half the size, must fail all the same.
                if other == size * 2 || other == size / 2 {
                    assert!(verify_inclusion(&leaf, index, other, &proof, &root).is_err());
                }
                let ok =
                    verify_inclusion(&leaf, index, other, &proof, &roots[other as usize]).is_ok();
                let same = tree.inclusion_proof(index, other).is_ok_and(|p| p == proof);
                assert_eq!(ok, same, "index {index} size {size} other {other}");
            }
        }
    }
}

#[test]
fn every_consistency_proof_up_to_64() {
    let ls = leaves(N);
    let tree = Tree::from_leaves(ls.iter().copied());
    let roots: Vec<Hash> = (0..=N).map(|s| tree.root_at(s).unwrap()).collect();
    for new in 0..=N {
        for old in 0..=new {
            let (r1, r2) = (roots[old as usize], roots[new as usize]);
            let proof = tree.consistency_proof(old, new).unwrap();
            verify_consistency(old, new, &r1, &r2, &proof).unwrap();
            let mut long = proof.clone();
            long.push(r2);
            assert_eq!(
                verify_consistency(old, new, &r1, &r2, &long),
                Err(ProofError::WrongLength)
            );
            long.rotate_right(1);
            assert!(verify_consistency(old, new, &r1, &r2, &long).is_err());
            if old == 0 || old == new {
                assert!(proof.is_empty());
                continue;
            }
            assert!(!proof.is_empty());
            for i in 0..proof.len() {
                for bit in [0, 4, 129, 255] {
                    let bad = flip(&proof, i, bit);
                    assert!(verify_consistency(old, new, &r1, &r2, &bad).is_err());
                }
            }
            if let Some((_, short)) = proof.split_last() {
                assert_eq!(
                    verify_consistency(old, new, &r1, &r2, short),
                    Err(ProofError::WrongLength)
                );
            }
            assert_eq!(
                verify_consistency(old, new, &r1, &r2, &[]),
                Err(ProofError::WrongLength)
            );
            assert!(verify_consistency(old, new, &r2, &r1, &proof).is_err());
            assert!(verify_consistency(old, new, &r1, &leaf_hash(b"x"), &proof).is_err());
            assert!(verify_consistency(old, new, &leaf_hash(b"x"), &r2, &proof).is_err());
            // Go's probes: wrong sizes with these roots.
            for (o, n) in [
                (old - 1, new),
                (old + 1, new),
                (old ^ 2, new),
                (old, new * 2),
                (old, new / 2),
            ] {
                if (o, n) != (old, new) && o != 0 && o != n {
                    assert!(
                        verify_consistency(o, n, &r1, &r2, &proof).is_err(),
                        "{old} {new} -> {o} {n}"
                    );
                }
            }
            // Other sizes with their own true roots: accepted only if the proof is theirs too.
            for o in 1..new {
                if o != old {
                    let ok = verify_consistency(o, new, &roots[o as usize], &r2, &proof).is_ok();
                    assert_eq!(ok, tree.consistency_proof(o, new).unwrap() == proof);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_trees_against_naive_mth(size in 1u64..600, a in any::<u64>(), b in any::<u64>()) {
        let ls = leaves(size);
        let tree = Tree::from_leaves(ls.iter().copied());
        let (index, old) = (a % size, b % (size + 1));
        prop_assert_eq!(tree.root(), mth(&ls));
        let old_root = tree.root_at(old).unwrap();
        prop_assert_eq!(old_root, mth(&ls[..old as usize]));
        let proof = tree.inclusion_proof(index, size).unwrap();
        prop_assert!(verify_inclusion(&ls[index as usize], index, size, &proof, &tree.root()).is_ok());
        let proof = tree.consistency_proof(old, size).unwrap();
        prop_assert!(verify_consistency(old, size, &old_root, &tree.root(), &proof).is_ok());
    }
}

proptest::proptest! {
    /// A tree cut back to `keep` leaves is the tree of those leaves: same roots, same proofs,
    /// and leaves pushed after the cut build what pushing them onto the smaller tree builds.
    #[test]
    fn truncate_is_the_tree_of_the_first_leaves(n in 0u64..300, keep in 0u64..320, more in 0u64..40) {
        let leaves: Vec<Hash> = (0..n + more).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut cut = Tree::from_leaves(leaves.iter().take(n as usize).copied());
        cut.truncate(keep);
        let kept = keep.min(n);
        let expected = Tree::from_leaves(leaves.iter().take(kept as usize).copied());
        proptest::prop_assert_eq!(cut.size(), kept);
        proptest::prop_assert_eq!(cut.root(), expected.root());
        for i in 0..kept {
            proptest::prop_assert_eq!(cut.inclusion_proof(i, kept).ok(), expected.inclusion_proof(i, kept).ok());
        }
        let mut grown = cut;
        let mut expected_grown = expected;
        for l in leaves.iter().skip(kept as usize).take(more as usize) {
            grown.push(*l);
            expected_grown.push(*l);
        }
        proptest::prop_assert_eq!(grown.root(), expected_grown.root());
        proptest::prop_assert_eq!(grown.size(), expected_grown.size());
    }
}

/// A node source over a map, as a store's durable index would answer.
#[derive(Debug, Default)]
struct MapSource(std::collections::HashMap<(u32, u64), Hash>);

impl mig06_tlog::NodeSource for MapSource {
    fn node(&self, level: u32, index: u64) -> Option<Hash> {
        self.0.get(&(level, index)).copied()
    }
}

fn leaves_of(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

/// The tree resumed from a source that holds everything of the first `base` leaves, with the
/// rest pushed after.
fn resumed(all: &[Hash], base: usize, damage: Option<(usize, u8)>) -> Option<Tree> {
    let first = Tree::from_leaves(all[..base].iter().copied());
    let mut map: std::collections::HashMap<(u32, u64), Hash> = first
        .in_memory()
        .into_iter()
        .map(|(l, i, h)| ((l, i), h))
        .collect();
    if let Some((pick, bit)) = damage {
        let mut keys: Vec<_> = map.keys().copied().collect();
        keys.sort_unstable();
        if !keys.is_empty() {
            let key = keys[pick % keys.len()];
            if let Some(h) = map.get_mut(&key) {
                h[usize::from(bit) % 32] ^= 1 << (bit % 8);
            }
        }
    }
    let mut tree = Tree::resume(std::sync::Arc::new(MapSource(map)), base as u64)?;
    for l in &all[base..] {
        tree.push(*l);
    }
    Some(tree)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    // A tree resumed from a durable source answers every root and proof as the tree built in
    // memory does, at every size, past and present.
    #[test]
    fn inv_index_never_trusted_a_resumed_tree_answers_as_the_tree_in_memory(n in 1u64..200, cut in 0.0f64..1.0) {
        let all = leaves_of(n);
        let base = ((n as f64) * cut) as usize;
        let full = Tree::from_leaves(all.iter().copied());
        let tree = resumed(&all, base, None).unwrap();
        prop_assert_eq!(tree.size(), n);
        prop_assert_eq!(tree.root(), full.root());
        for size in 0..=n {
            prop_assert_eq!(tree.root_at(size), full.root_at(size));
            for i in 0..size {
                prop_assert_eq!(tree.inclusion_proof(i, size), full.inclusion_proof(i, size));
            }
            prop_assert_eq!(tree.consistency_proof(size, n), full.consistency_proof(size, n));
        }
        for i in 0..n {
            prop_assert_eq!(tree.leaf(i), full.leaf(i));
        }
    }

    // A damaged source never yields a wrong answer: what it cannot prove against the tree in
    // memory is refused. (The right edge read at resume is checked by the store against a
    // signed root; here it may be damaged too, and then the resumed root differs.)
    #[test]
    fn inv_index_never_trusted_a_damaged_node_source_is_refused_not_believed(
        n in 2u64..200, cut in 0.0f64..1.0, pick in any::<usize>(), bit in any::<u8>()
    ) {
        let all = leaves_of(n);
        let base = ((n as f64) * cut) as usize;
        let full = Tree::from_leaves(all.iter().copied());
        let Some(tree) = resumed(&all, base, Some((pick, bit))) else { return Ok(()) };
        prop_assume!(tree.root() == full.root());
        for size in 0..=n {
            if let Ok(r) = tree.root_at(size) {
                prop_assert_eq!(Ok(r), full.root_at(size));
            }
            for i in 0..size {
                if let Ok(p) = tree.inclusion_proof(i, size) {
                    prop_assert_eq!(Ok(p), full.inclusion_proof(i, size));
                }
            }
            if let Ok(p) = tree.consistency_proof(size, n) {
                prop_assert_eq!(Ok(p), full.consistency_proof(size, n));
            }
        }
        for i in 0..n {
            if let Some(l) = tree.leaf(i) {
                prop_assert_eq!(Some(l), full.leaf(i));
            }
        }
    }

    // Handing the memory to a source keeps every answer, and memory then holds the right edge
    // only (O(log n) nodes).
    #[test]
    fn rebase_keeps_answers_and_holds_only_the_right_edge(n in 1u64..300, extra in 0u64..40) {
        let all = leaves_of(n + extra);
        let mut tree = Tree::from_leaves(all[..n as usize].iter().copied());
        let map: std::collections::HashMap<(u32, u64), Hash> = tree
            .in_memory()
            .into_iter()
            .map(|(l, i, h)| ((l, i), h))
            .collect();
        tree.rebase(std::sync::Arc::new(MapSource(map)));
        prop_assert!(tree.in_memory().len() <= 64);
        for l in &all[n as usize..] {
            tree.push(*l);
        }
        let full = Tree::from_leaves(all.iter().copied());
        prop_assert_eq!(tree.root(), full.root());
        for size in 0..=(n + extra) {
            prop_assert_eq!(tree.root_at(size), full.root_at(size));
        }
        let mut staged = tree.clone();
        staged.truncate(0);
        prop_assert_eq!(staged.size(), n, "a resumed tree is never cut below its base");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    // A store that keeps only every fourth level writes, after each batch, the subtrees the
    // batch completed: they are exactly the full tree's nodes at those levels, whatever the
    // batch boundaries, and a tree rebased after every batch never lacks one.
    #[test]
    fn completed_since_writes_each_kept_level_node_once(batches in proptest::collection::vec(1u64..70, 1..12)) {
        let total: u64 = batches.iter().sum();
        let all = leaves_of(total);
        let full = Tree::from_leaves(all.iter().copied());
        let mut written: std::collections::HashMap<(u32, u64), Hash> = std::collections::HashMap::new();
        let mut tree = Tree::new();
        let mut at = 0u64;
        for b in batches {
            let old = tree.size();
            for l in &all[at as usize..(at + b) as usize] {
                tree.push(*l);
            }
            at += b;
            for (level, index, hash) in tree.completed_since(old, 4).unwrap() {
                prop_assert!(level % 4 == 0 && level > 0);
                prop_assert!(written.insert((level, index), hash).is_none(), "written twice");
            }
            let mut map = written.clone();
            for (i, l) in all[..at as usize].iter().enumerate() {
                map.insert((0, i as u64), *l);
            }
            tree.rebase(std::sync::Arc::new(MapSource(map)));
        }
        let expected: std::collections::HashMap<(u32, u64), Hash> = full
            .in_memory()
            .into_iter()
            .filter(|(l, _, _)| *l > 0 && l % 4 == 0)
            .map(|(l, i, h)| ((l, i), h))
            .collect();
        prop_assert_eq!(written, expected);
    }
}
