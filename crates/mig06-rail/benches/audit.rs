//! Audit-log performance against the targets of the "Transparency log" issue
//! (`docs/PERFORMANCE.md`, `## Audit log`):
//!
//! 1. `verify_dir` over a log of `MIG06_BENCH_RECORDS` (default 1,000,000) records versus
//!    `sha256sum` over the same `log.jsonl`, warm page cache, best of 3 each, interleaved.
//! 2. `evidence::verify` of a real token (from a `FileStore::append` at the end of that log).
//! 3. Single-caller durable appends/s: `FileStore::append` of real records versus a raw
//!    `write` + `sync_data` of lines of the same lengths, same directory, same count
//!    (`MIG06_BENCH_APPENDS`, default 5,000), interleaved in blocks.
//!
//! The log is generated directly (records built here, `prev`/`seq` links, leaf hashes, a stored
//! checkpoint every 256 records and the latest checkpoint, in the store's on-disk format), not by
//! running the rail a million times. Data goes to `MIG06_BENCH_DIR`, default
//! `<target dir>/mig06-bench-audit` (a real disk: tmpfs would make `fdatasync` free).
//!
//! Run: `cargo bench --workspace --bench audit`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "test and bench code: a failed unwrap is a failed run, and test items need no docs"
)]

use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mig06_rail::audit::file::{
    CHECKPOINT_EVERY, CHECKPOINTS_FILE, FileStore, LATEST_CHECKPOINT, LOG_FILE,
};
use mig06_rail::audit::verify::verify_dir;
use mig06_rail::audit::{AuditRecord, AuditStore, ZERO_HASH, hash_hex};
use mig06_rail::evidence;
use mig06_rail::ids::{AttemptId, CallerId, OpaqueId, Sha256Digest};
use mig06_rail::outcome::{DecisionSignal, Detail, Effect, Reason, TerminalCode};
use mig06_rail::request::{Code, ContinuationReason, Trigger};
use mig06_tlog::checkpoint::{Checkpoint, LogSigner};
use mig06_tlog::{Tree, leaf_hash};

const ORIGIN: &str = "mig06.example/audit";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn bench_dir() -> PathBuf {
    if let Ok(d) = std::env::var("MIG06_BENCH_DIR") {
        return PathBuf::from(d);
    }
    // <target>/release/deps/audit-<hash>
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .unwrap_or(Path::new("/tmp"))
        .join("mig06-bench-audit")
}

/// The records of attempt number `n`, in the mix the rail writes: completed drafts (open +
/// terminal), policy denials, PHI aborts (open + terminal), request-invalid denials, and
/// continuations of denials (amended request, claiming the prior attempt).
fn attempt_records(n: u64, previous_denied: &mut Option<AttemptId>) -> Vec<AuditRecord> {
    let id = AttemptId::mint();
    let caller = CallerId::parse(if n.is_multiple_of(7) {
        "service-a"
    } else {
        "operator-1"
    })
    .unwrap();
    let policy_digest = Sha256Digest::of(b"policy bundle v1");
    let permit = DecisionSignal {
        effect: Effect::Permit,
        policies: vec!["policy0".into()],
        errors: false,
    };
    let deny = DecisionSignal {
        effect: Effect::Deny,
        policies: vec![],
        errors: false,
    };
    // An open record carries its attempt's deadline; one without is overdue and would be ended
    // `ABORTED_INTERRUPTED` by the next append.
    let mut open = AuditRecord::open(
        id.clone(),
        caller,
        policy_digest,
        AuditRecord::deadline_in(Duration::from_secs(600)),
    );
    open.trigger = Some(Trigger::OperatorExplicit);
    open.action = Some(Code::parse("draft_note").unwrap());
    open.request_fp = Some(Sha256Digest::of(&n.to_le_bytes()));
    let ended = |open: &AuditRecord, decision: &DecisionSignal, code, detail| {
        let mut r = open.ended(code, detail);
        r.decision = Some(decision.clone());
        r
    };
    let completed = |open: &AuditRecord, draft: &str, content: Sha256Digest| {
        let mut r = ended(open, &permit, TerminalCode::CompletedDraft, None);
        r.draft_ref = Some(OpaqueId::parse(draft).unwrap());
        r.content_sha256 = Some(content);
        r
    };
    open.decision = Some(permit.clone());
    match n % 5 {
        0 | 1 => {
            let draft = format!(
                "draft_{}",
                ulid::Ulid::new().to_string().to_ascii_lowercase()
            );
            let done = completed(&open, &draft, Sha256Digest::of(&(n + 1).to_le_bytes()));
            vec![open, done]
        }
        2 => {
            *previous_denied = Some(id);
            vec![ended(&open, &deny, TerminalCode::DeniedPolicy, None)]
        }
        3 => {
            let phi = Detail {
                field: "$.output.text".into(),
                reason: Reason::Phi(vec![mig06_rail::phi::PhiKind::Ssn]),
            };
            let done = ended(&open, &permit, TerminalCode::AbortedPhiDetected, Some(phi));
            vec![open, done]
        }
        _ => match previous_denied.take() {
            Some(prior) => {
                open.trigger = Some(Trigger::OperatorContinuation);
                open.continues = Some(prior.clone());
                open.chain_root = prior;
                open.depth = 1;
                open.reason = Some(ContinuationReason::OperatorAmendedRequest);
                open.claim = true;
                let done = completed(
                    &open,
                    "subj_7k3m9q2x4w8r5t6v",
                    Sha256Digest::of(&n.to_be_bytes()),
                );
                vec![open, done]
            }
            None => {
                let invalid = Detail {
                    field: "$.steps[0].params".into(),
                    reason: Reason::UnknownField,
                };
                let mut r = open.ended(TerminalCode::DeniedRequestInvalid, Some(invalid));
                r.trigger = None;
                r.action = None;
                r.request_fp = None;
                vec![r]
            }
        },
    }
}

/// `count` realistic records (`prev`/`seq` still unset).
fn records(count: u64) -> Vec<AuditRecord> {
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap() + 2);
    let mut denied = None;
    let mut n = 0;
    while (out.len() as u64) < count {
        out.extend(attempt_records(n, &mut denied));
        n += 1;
    }
    out.truncate(usize::try_from(count).unwrap());
    out
}

/// Writes a log of `count` records in `dir` exactly as `FileStore` would have, without a sync
/// per record: links, sequence numbers, stored checkpoints every 256, the latest checkpoint.
fn generate(dir: &Path, count: u64, signer: &LogSigner) -> u64 {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let mut log = BufWriter::with_capacity(1 << 20, File::create(dir.join(LOG_FILE)).unwrap());
    let mut cps = BufWriter::new(File::create(dir.join(CHECKPOINTS_FILE)).unwrap());
    let mut tree = Tree::new();
    let mut last = ZERO_HASH;
    let mut denied = None;
    let mut n = 0u64;
    let mut bytes = 0u64;
    let sign = |tree: &Tree, size: u64| {
        signer.sign(&Checkpoint {
            origin: signer.origin().to_owned(),
            size,
            root: tree.root_at(size).unwrap(),
        })
    };
    while tree.size() < count {
        for mut rec in attempt_records(n, &mut denied) {
            if tree.size() == count {
                break;
            }
            rec.prev = hash_hex(&last);
            rec.seq = tree.size();
            // Sealed as the rail writes every record (the first record of a key epoch must carry
            // its signature).
            let line = mig06_rail::audit::ledger::seal::seal(&mut rec, signer).unwrap();
            log.write_all(&line).unwrap();
            log.write_all(b"\n").unwrap();
            bytes += line.len() as u64 + 1;
            last = leaf_hash(&line);
            tree.push(last);
            if tree.size().is_multiple_of(CHECKPOINT_EVERY) {
                writeln!(cps, "{}", sign(&tree, tree.size())).unwrap();
            }
        }
        n += 1;
    }
    log.into_inner().unwrap().sync_all().unwrap();
    cps.into_inner().unwrap().sync_all().unwrap();
    std::fs::write(dir.join(LATEST_CHECKPOINT), sign(&tree, count)).unwrap();
    bytes
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn sha256sum(path: &Path) -> Duration {
    let t = Instant::now();
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    let d = t.elapsed();
    assert!(out.status.success(), "sha256sum failed");
    d
}

fn filesystem(dir: &Path) -> String {
    // `df -T`'s type (`stat -f` calls ext4 "ext2/ext3"); tmpfs would make fdatasync free.
    Command::new("df")
        .args(["--output=fstype,source"])
        .arg(dir)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .nth(1)
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" on ")
        })
        .unwrap_or_default()
}

fn machine() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_default();
    let nproc = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("machine: nproc {nproc}, CPU {cpu}, loadavg {}", load.trim());
}

fn bench_verify(dir: &Path, signer: &LogSigner, count: u64) {
    println!("\n## (1) audit verify vs sha256sum, {count} records");
    let t = Instant::now();
    let bytes = generate(dir, count, signer);
    println!(
        "generated {} in {:.2} s ({bytes} bytes, {:.0} bytes/record)",
        dir.join(LOG_FILE).display(),
        secs(t.elapsed()),
        bytes as f64 / count as f64
    );
    let path = dir.join(LOG_FILE);
    let verifier = signer.verifier();
    // Warm the page cache for both.
    black_box(std::fs::read(&path).unwrap());
    let (mut best_v, mut best_s) = (Duration::MAX, Duration::MAX);
    for round in 1..=3 {
        let s = sha256sum(&path);
        let t = Instant::now();
        let report = verify_dir(dir, &verifier, None, &mut |_, _| {}).expect("the log verifies");
        let v = t.elapsed();
        assert_eq!(report.records, count);
        assert_eq!(report.checkpoints, count / CHECKPOINT_EVERY + 1);
        println!(
            "round {round}: verify_dir {:.3} s, sha256sum {:.3} s",
            secs(v),
            secs(s)
        );
        best_v = best_v.min(v);
        best_s = best_s.min(s);
    }
    println!(
        "RESULT verify: verify_dir {:.3} s ({:.0} MB/s), sha256sum {:.3} s ({:.0} MB/s), ratio {:.2} (target <= 3.00)",
        secs(best_v),
        bytes as f64 / secs(best_v) / 1e6,
        secs(best_s),
        bytes as f64 / secs(best_s) / 1e6,
        secs(best_v) / secs(best_s)
    );
}

fn bench_evidence(dir: &Path, signer: LogSigner) {
    println!("\n## (2) evidence::verify");
    let verifier = signer.verifier();
    let mut store = FileStore::open(dir, signer).unwrap();
    let rec = records(2).pop().unwrap();
    assert!(rec.is_terminal());
    let appended = store.append(rec).unwrap();
    let token = evidence::encode(&appended).unwrap();
    let tree_size = appended.index + 1;
    let checked = evidence::verify(&token, &verifier).unwrap();
    assert_eq!(checked.index, appended.index);
    let iters = 20_000u32;
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(evidence::verify(black_box(&token), &verifier).unwrap());
        }
        best = best.min(t.elapsed() / iters);
    }
    println!(
        "RESULT evidence: {:.1} us per token (tree size {tree_size}, {} proof hashes, token {} bytes, best of 3 x {iters}) (target < 100 us)",
        best.as_secs_f64() * 1e6,
        appended.proof.len(),
        token.len()
    );
}

fn bench_appends(base: &Path, signer: LogSigner, count: u64) {
    println!("\n## (3) durable appends, {count} each");
    let dir = base.join("appends");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    println!("directory {} ({})", dir.display(), filesystem(&dir));
    let recs = records(count);
    // The exact lines the rail will write: `prev` is always 64 hex digits, `seq` the index.
    let lines: Vec<Vec<u8>> = recs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut r = r.clone();
            r.prev = hash_hex(&ZERO_HASH);
            r.seq = i as u64;
            let mut l = serde_json::to_vec(&r).unwrap();
            l.push(b'\n');
            l
        })
        .collect();
    let mut raw = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("raw.jsonl"))
        .unwrap();
    let mut store = FileStore::open(&dir.join("rail"), signer).unwrap();
    let blocks = 100usize;
    let per = lines.len().div_ceil(blocks);
    let (mut t_raw, mut t_rail) = (Duration::ZERO, Duration::ZERO);
    let mut signed = 0u64;
    for (lines, recs) in lines.chunks(per).zip(recs.chunks(per)) {
        let t = Instant::now();
        for l in lines {
            raw.write_all(l).unwrap();
            raw.sync_data().unwrap();
        }
        t_raw += t.elapsed();
        let t = Instant::now();
        for r in recs {
            let appended = black_box(store.append(r.clone()).unwrap());
            signed += u64::from(appended.checkpoint.is_some());
        }
        t_rail += t.elapsed();
    }
    assert_eq!(store.size(), count);
    let rate = |d: Duration| count as f64 / secs(d);
    println!(
        "RESULT appends: raw write+fdatasync {:.0}/s, FileStore::append {:.0}/s, ratio {:.3} (target >= 0.90); {signed} of {count} appends signed a checkpoint (terminal records)",
        rate(t_raw),
        rate(t_rail),
        rate(t_rail) / rate(t_raw)
    );

    // Breakdown: what an append adds besides the log's fdatasync.
    let n = 500u32;
    let signer = LogSigner::generate(ORIGIN).unwrap();
    let tree = store.tree().clone();
    let t = Instant::now();
    for _ in 0..n {
        black_box(signer.sign(&Checkpoint {
            origin: ORIGIN.to_owned(),
            size: tree.size(),
            root: tree.root(),
        }));
    }
    let sign = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..n {
        let size = black_box(tree.size());
        black_box(tree.root_at(size).unwrap());
        black_box(tree.inclusion_proof(size - 1, size).unwrap());
    }
    let proofs = t.elapsed() / n;
    let t = Instant::now();
    for r in recs.iter().take(n as usize) {
        black_box(serde_json::to_vec(black_box(r)).unwrap());
    }
    let encode = t.elapsed() / n;
    let note = signer.sign(&Checkpoint {
        origin: ORIGIN.to_owned(),
        size: tree.size(),
        root: tree.root(),
    });
    let scratch = dir.join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let t = Instant::now();
    for _ in 0..n {
        let tmp = scratch.join("cp.tmp");
        std::fs::write(&tmp, &note).unwrap();
        std::fs::rename(&tmp, scratch.join("cp")).unwrap();
    }
    let rename = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..n {
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(scratch.join("cp"))
            .unwrap();
        std::os::unix::fs::FileExt::write_all_at(&f, note.as_bytes(), 0).unwrap();
    }
    let in_place = t.elapsed() / n;
    println!(
        "breakdown per append (alone, no fdatasync): encode record {:.1} us, root + inclusion proof {:.1} us, sign checkpoint {:.1} us, checkpoint file via tmp+rename {:.1} us, in place {:.1} us; raw write+fdatasync {:.1} us",
        encode.as_secs_f64() * 1e6,
        proofs.as_secs_f64() * 1e6,
        sign.as_secs_f64() * 1e6,
        rename.as_secs_f64() * 1e6,
        in_place.as_secs_f64() * 1e6,
        secs(t_raw) / count as f64 * 1e6
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        // `cargo bench -- --list` / test harness probing: nothing to list.
        return;
    }
    let count = env_u64("MIG06_BENCH_RECORDS", 1_000_000);
    let appends = env_u64("MIG06_BENCH_APPENDS", 5_000);
    let base = bench_dir();
    std::fs::create_dir_all(&base).unwrap();
    machine();
    println!("bench dir {} ({})", base.display(), filesystem(&base));
    let signer = || LogSigner::generate(ORIGIN).unwrap();
    let log_signer = signer();
    let log_key = log_signer.private_key();
    let log_dir = base.join("log");
    bench_verify(&log_dir, &log_signer, count);
    bench_evidence(&log_dir, LogSigner::from_private_key(&log_key).unwrap());
    bench_appends(&base, signer(), appends);
}
