//! Costs that matter to the rail: verifying an evidence token (inclusion proof at a
//! million-leaf tree + checkpoint signature) and appending to the log.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "test and bench code: a failed unwrap is a failed run, and test items need no docs"
)]

use criterion::{BatchSize, Criterion, Throughput, black_box, criterion_group, criterion_main};
use mig06_tlog::checkpoint::{Checkpoint, LogSigner};
use mig06_tlog::{Hash, Tree, leaf_hash, verify_inclusion};

const SIZE: u64 = 1_000_000;
const INDEX: u64 = 654_321;

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
}

fn bench(c: &mut Criterion) {
    let tree = Tree::from_leaves(leaves(SIZE));
    let root = tree.root();
    let leaf = tree.leaf(INDEX).unwrap();
    let proof = tree.inclusion_proof(INDEX, SIZE).unwrap();
    let signer = LogSigner::generate("mig06.example/audit").unwrap();
    let verifier = signer.verifier();
    let note = signer.sign(&Checkpoint {
        origin: signer.origin().to_owned(),
        size: SIZE,
        root,
    });

    c.bench_function("verify_inclusion/1M", |b| {
        b.iter(|| {
            verify_inclusion(black_box(&leaf), INDEX, SIZE, black_box(&proof), &root).unwrap();
        });
    });
    c.bench_function("checkpoint_verify", |b| {
        b.iter(|| verifier.verify(black_box(&note)).unwrap());
    });
    c.bench_function("evidence_token/1M", |b| {
        b.iter(|| {
            let cp = verifier.verify(black_box(&note)).unwrap();
            verify_inclusion(
                black_box(&leaf),
                INDEX,
                cp.size,
                black_box(&proof),
                &cp.root,
            )
            .unwrap();
        });
    });
    c.bench_function("inclusion_proof/1M", |b| {
        b.iter(|| tree.inclusion_proof(black_box(INDEX), SIZE).unwrap());
    });
    c.bench_function("consistency_proof/1M", |b| {
        b.iter(|| tree.consistency_proof(black_box(SIZE / 3), SIZE).unwrap());
    });

    let batch = leaves(10_000);
    let mut group = c.benchmark_group("push");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("10k", |b| {
        b.iter_batched(
            || batch.clone(),
            |ls| {
                let mut t = Tree::new();
                for l in ls {
                    t.push(l);
                }
                t
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
