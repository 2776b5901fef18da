//! Criterion bench: scan throughput on machine metadata and on PHI-bearing strings.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "bench harness: criterion generates undocumented items, and a failed set-up should stop the run"
)]

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use mig06_phi::Detector;

const META: &[(Option<&str>, &str)] = &[
    (Some("ts"), "2025-01-02T03:04:05.123Z"),
    (Some("request_id"), "123e4567-e89b-12d3-a456-426614174000"),
    (Some("policy_id"), "permit-operator-draft"),
    (
        Some("digest"),
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ),
    (Some("subject"), "subj_7k3m9q2x4w8r5t6v"),
    (
        None,
        "ts=2025-01-02T03:04:05Z decision=permit policy=permit-operator-draft latency_ms=12",
    ),
    (Some("doc_type"), "discharge_summary"),
    (Some("version"), "1.4.2"),
];

const PHI: &[(Option<&str>, &str)] = &[
    (None, "ssn 123-45-6788"),
    (None, "call (415) 555-2671"),
    (None, "jane.doe@example.org"),
    (Some("dob"), "1984-03-05"),
    (None, "93-year-old, MRN 00123456"),
    (None, "4111 1111 1111 1111"),
    (None, "created_by=jane.doe"),
    (None, "123 Main Street, Springfield, IL 62704"),
];

fn bench(c: &mut Criterion) {
    let d = Detector::new().unwrap();
    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Elements(META.len() as u64));
    g.bench_function("metadata", |b| {
        b.iter(|| {
            for (k, t) in META {
                black_box(d.scan(*k, black_box(t)));
            }
        })
    });
    g.throughput(Throughput::Elements(PHI.len() as u64));
    g.bench_function("phi", |b| {
        b.iter(|| {
            for (k, t) in PHI {
                black_box(d.scan(*k, black_box(t)));
            }
        })
    });
    g.finish();
    c.bench_function("detector_new", |b| {
        b.iter(|| black_box(Detector::new().unwrap()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
