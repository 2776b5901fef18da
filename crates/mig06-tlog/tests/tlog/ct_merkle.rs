//! Cross-check against ct-merkle (rozbb/ct-merkle), an RFC 6962 implementation nobody on this
//! project wrote: roots and proofs must be equal byte for byte, and each side's proofs must
//! verify with the other side's verifier.

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use mig06_tlog::{Hash, Tree, leaf_hash, verify_consistency, verify_inclusion};
use proptest::prelude::*;
use sha2::Sha256;

type CtTree = MemoryBackedTree<Sha256, Vec<u8>>;

fn data(i: u64) -> Vec<u8> {
    // Varying lengths, so leaf hashing is exercised as well as node hashing.
    i.to_be_bytes().repeat(1 + (i % 3) as usize)
}

fn build(n: u64) -> (Tree, CtTree) {
    let mut ours = Tree::new();
    let mut theirs = CtTree::new();
    for i in 0..n {
        ours.push(leaf_hash(&data(i)));
        theirs.push(data(i));
    }
    (ours, theirs)
}

fn ct_root(hash: &Hash, size: u64) -> RootHash<Sha256> {
    RootHash::new((*hash).into(), size)
}

fn to_hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks(32)
        .map(|c| Hash::try_from(c).unwrap())
        .collect()
}

/// Checks the current size of both trees: root, every inclusion proof for `indices`, every
/// consistency proof from each size in `olds` (all in `1..=size`).
fn check(
    ours: &Tree,
    theirs: &CtTree,
    indices: impl Iterator<Item = u64>,
    olds: impl Iterator<Item = u64>,
) {
    let size = ours.size();
    assert_eq!(theirs.len(), size);
    let root = ours.root();
    let ct = theirs.root();
    assert_eq!(
        ct.as_bytes().as_slice(),
        root.as_slice(),
        "root at size {size}"
    );

    for i in indices {
        let mine = ours.inclusion_proof(i, size).unwrap();
        let other = theirs.prove_inclusion(usize::try_from(i).unwrap());
        assert_eq!(other.as_bytes(), mine.concat(), "inclusion ({i}, {size})");
        verify_inclusion(
            &leaf_hash(&data(i)),
            i,
            size,
            &to_hashes(other.as_bytes()),
            &root,
        )
        .unwrap();
        let mine_ct = InclusionProof::<Sha256>::try_from_bytes(mine.concat()).unwrap();
        ct.verify_inclusion(&data(i), i, &mine_ct).unwrap();
    }

    for old in olds {
        let mine = ours.consistency_proof(old, size).unwrap();
        let other = theirs.prove_consistency(usize::try_from(size - old).unwrap());
        assert_eq!(
            other.as_bytes(),
            mine.concat(),
            "consistency ({old}, {size})"
        );
        let old_root = ours.root_at(old).unwrap();
        verify_consistency(old, size, &old_root, &root, &to_hashes(other.as_bytes())).unwrap();
        let mine_ct = ConsistencyProof::<Sha256>::try_from_bytes(mine.concat()).unwrap();
        ct.verify_consistency(&ct_root(&old_root, old), &mine_ct)
            .unwrap();
    }
}

#[test]
fn sizes_1_to_70_every_proof() {
    let mut ours = Tree::new();
    let mut theirs = CtTree::new();
    for size in 1..=70 {
        ours.push(leaf_hash(&data(size - 1)));
        theirs.push(data(size - 1));
        check(&ours, &theirs, 0..size, 1..=size);
    }
}

#[test]
fn some_larger_sizes() {
    for size in [127, 128, 129, 1000, 1023, 1024, 1025, 3001] {
        let (ours, theirs) = build(size);
        let probes = [0, 1, size / 3, size / 2, size - 2, size - 1];
        check(
            &ours,
            &theirs,
            probes.into_iter(),
            probes.into_iter().map(|p| p + 1),
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_sizes_match(size in 71u64..2500, seed in any::<u64>()) {
        let (ours, theirs) = build(size);
        let picks: Vec<u64> = (0..4).map(|k| seed.rotate_left(16 * k) % size).collect();
        check(&ours, &theirs, picks.iter().copied(), picks.iter().map(|p| p + 1));
    }
}
