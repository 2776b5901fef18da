//! What witnesses cost (issue 19, `docs/PERFORMANCE.md`, "Witnessed history"), in one process:
//!
//! 1. Completed attempts per second, `MIG06_BENCH_THREADS` callers (default 8) on one rail, with
//!    no witness, one witness (quorum 1) and three (quorum 2), in rounds so that the three
//!    configurations share the machine's drift; and how many `add-checkpoint` calls each
//!    witness received per attempt (the rail submits once per group-commit batch, never per
//!    attempt, so this is below 1 whenever batches hold several records).
//! 2. The witness's own `add-checkpoint` throughput (the check, the durable update of its state
//!    file, the cosignature), one checkpoint after another, against raw `write` + `fdatasync`
//!    of a small file in the same directory, interleaved in the same run.
//!
//! The witnesses are the real `mig06-witness` witness (its checks, its durable state on the
//! same disk, its Ed25519 cosignatures), called in process: no HTTP, so (1) measures what the
//! protocol and the witness's durability cost the rail, not a network. Set-ups are real
//! `mig06 init` directories under `MIG06_BENCH_DIR` (default `<target dir>/mig06-bench-witnessed`).
//! `MIG06_BENCH_SECONDS` (default 5) per configuration per round, 3 rounds; `MIG06_BENCH_ITERS`
//! (default 1,000) checkpoints for (2).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    clippy::disallowed_methods,
    missing_docs,
    reason = "bench code: a failed unwrap is a failed run, bench items need no docs, and the load comes from threads"
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mig06_rail::config::Config;
use mig06_rail::outcome::TerminalCode;
use mig06_rail::rail::Rail;
use mig06_tlog::Tree;
use mig06_tlog::checkpoint::{Checkpoint, LogSigner};
use mig06_tlog::cosignature::WitnessSigner;
use mig06_witness::protocol::AddCheckpointRequest;
use mig06_witness::store::Store;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[path = "../tests/common/in_process_witness.rs"]
mod in_process_witness;
use in_process_witness::InProcessWitness;

/// A fresh set-up in `dir` whose configuration lists `n` witnesses with quorum `k`, and the
/// witnesses (their state directories under `dir`).
fn setup(dir: &Path, n: usize, k: usize) -> (Config, Vec<InProcessWitness>) {
    let _ = std::fs::remove_dir_all(dir);
    let report = mig06_rail::init::init(&dir.join("setup")).unwrap();
    let config = Config::load(&report.config).unwrap();
    let log = mig06_rail::rail::load_signer(&config).unwrap().verifier();
    let witnesses: Vec<InProcessWitness> = (0..n)
        .map(|i| {
            let name = format!("witness-{i}.bench");
            InProcessWitness::new(&name, &dir.join(format!("w{i}")), log.clone())
        })
        .collect();
    if n == 0 {
        return (config, witnesses);
    }
    let mut text = std::fs::read_to_string(&report.config).unwrap();
    text.push_str(&InProcessWitness::config_lines(&witnesses, k));
    std::fs::write(&report.config, text).unwrap();
    (Config::load(&report.config).unwrap(), witnesses)
}

fn request() -> Vec<u8> {
    serde_json::json!({"request_id": ulid::Ulid::new().to_string(), "trigger": "operator_explicit",
        "subject": "subj_7k3m9q2x4w8r5t6v",
        "steps": [{"action": "draft_note", "params": {"note_kind": "discharge_summary"}}]})
    .to_string()
    .into_bytes()
}

/// Completed attempts per second by `threads` callers for `seconds`.
fn attempts_per_second(rail: &Arc<Rail>, threads: usize, seconds: f64) -> (f64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (rail, stop, count) = (Arc::clone(rail), Arc::clone(&stop), Arc::clone(&count));
            std::thread::spawn(move || {
                let caller = rail.local_caller("operator-1").unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let o = rail.attempt(&caller, &request());
                    assert_eq!(o.code, TerminalCode::CompletedDraft, "{:?}", o.detail);
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let n = count.load(Ordering::Relaxed);
    (n as f64 / start.elapsed().as_secs_f64(), n)
}

/// Sequential `add-checkpoint` of checkpoints 1..=iters of one log, each with its consistency
/// proof from the one before, against `write` + `fdatasync` of a small file in the same
/// directory, interleaved. Returns (witness /s, fdatasync /s).
fn witness_against_fdatasync(dir: &Path, iters: u64) -> (f64, f64) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let log = LogSigner::generate("mig06.bench/witnessed").unwrap();
    let witness = mig06_witness::witness::Witness::new(
        WitnessSigner::generate("witness.bench").unwrap(),
        vec![log.verifier()],
        Store::open(&dir.join("state")).unwrap(),
    );
    // The requests are made before the clock starts: the rail makes them, not the witness.
    let mut tree = Tree::new();
    let mut bodies = Vec::new();
    for size in 1..=iters {
        tree.push(mig06_tlog::leaf_hash(&size.to_be_bytes()));
        let note = log.sign(&Checkpoint {
            origin: log.origin().to_owned(),
            size,
            root: tree.root(),
        });
        let proof = tree.consistency_proof(size - 1, size).unwrap();
        bodies.push(
            AddCheckpointRequest::new(size - 1, &proof, &note)
                .unwrap()
                .encode(),
        );
    }
    let mut raw = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(dir.join("raw"))
        .unwrap();
    let (mut w, mut r) = (Duration::ZERO, Duration::ZERO);
    for body in &bodies {
        let t = Instant::now();
        witness.add_checkpoint(body.as_bytes(), now()).unwrap();
        w += t.elapsed();
        let t = Instant::now();
        raw.write_all(&[b'x'; 128]).unwrap();
        raw.sync_data().unwrap();
        r += t.elapsed();
    }
    (
        iters as f64 / w.as_secs_f64(),
        iters as f64 / r.as_secs_f64(),
    )
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let threads: usize = env("MIG06_BENCH_THREADS", 8);
    let seconds: f64 = env("MIG06_BENCH_SECONDS", 5.0);
    let iters: u64 = env("MIG06_BENCH_ITERS", 1000);
    let dir: PathBuf = std::env::var("MIG06_BENCH_DIR").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/mig06-bench-witnessed"),
        PathBuf::from,
    );
    let configs = [
        ("no witness", 0, 0),
        ("1 witness, quorum 1", 1, 1),
        ("3 witnesses, quorum 2", 3, 2),
    ];
    let rails: Vec<(Arc<Rail>, Vec<InProcessWitness>)> = configs
        .iter()
        .enumerate()
        .map(|(i, (_, n, k))| {
            let (config, ws) = setup(&dir.join(format!("c{i}")), *n, *k);
            let boxed = ws.iter().map(InProcessWitness::boxed).collect();
            (
                Arc::new(Rail::open(config, None).unwrap().with_witnesses(boxed)),
                ws,
            )
        })
        .collect();
    let mut rates = vec![Vec::new(); configs.len()];
    let mut counts = vec![0u64; configs.len()];
    for _round in 0..3 {
        for (i, (rail, _)) in rails.iter().enumerate() {
            let (rate, n) = attempts_per_second(rail, threads, seconds);
            rates[i].push(rate);
            counts[i] += n;
        }
    }
    println!(
        "completed attempts, {threads} callers, 3 rounds of {seconds} s per configuration, dir {}",
        dir.display()
    );
    let median = |v: &Vec<f64>| {
        let mut v = v.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let base = median(&rates[0]);
    for (i, (name, _, _)) in configs.iter().enumerate() {
        let calls: u64 = rails[i]
            .1
            .iter()
            .map(|w| w.calls() as u64)
            .max()
            .unwrap_or(0);
        println!(
            "{name:<24} {:>9.0} /s (rounds {:?})  ratio {:.3}  submissions per attempt per witness {:.3}",
            median(&rates[i]),
            rates[i].iter().map(|r| r.round()).collect::<Vec<_>>(),
            median(&rates[i]) / base,
            calls as f64 / counts[i] as f64
        );
    }
    let (w, r) = witness_against_fdatasync(&dir.join("witness-alone"), iters);
    println!(
        "RESULT witness add-checkpoint {w:.0}/s, raw write+fdatasync {r:.0}/s, ratio {:.3} ({iters} each, interleaved)",
        w / r
    );
}
