//! Start-up time of `mig06 serve` (and `mig06 audit verify`) against the file store's log size.
//!
//! ```sh
//! cargo bench --workspace --bench startup
//! # MIG06_BENCH_SIZES (records, comma-separated; default 10000,100000,1000000)
//! # MIG06_BENCH_SINCE=1: also `audit verify --since-checkpoint` over the last 100,000 records
//! ```
//!
//! For each size, a `mig06 init` set-up's log is generated in the store's on-disk format with
//! the set-up's own key (records as `mig06 serve` writes them: completed drafts with their open
//! record, policy denials, each with a request id and a trace id; links, a kept checkpoint every
//! 256 records, the latest checkpoint), then the release binary is timed, best of 3, warm page
//! cache: `serve` from spawn to its `listening` line (the store opened, every record read and
//! checked), with its peak resident memory, and `audit verify` to its exit.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a benchmark: a failed unwrap is a failed run"
)]

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mig06_rail::audit::file::{CHECKPOINT_EVERY, CHECKPOINTS_FILE, LATEST_CHECKPOINT, LOG_FILE};
use mig06_rail::audit::{AuditRecord, ZERO_HASH, hash_hex};
use mig06_rail::config::Config;
use mig06_rail::ids::{AttemptId, CallerId, OpaqueId, RequestId, Sha256Digest, TraceId};
use mig06_rail::outcome::{DecisionSignal, Effect, TerminalCode};
use mig06_tlog::checkpoint::{Checkpoint, LogSigner};
use mig06_tlog::{Tree, leaf_hash};

const MIG06: &str = env!("CARGO_BIN_EXE_mig06");

/// The records of attempt `n`: two of three complete (open + terminal), one is denied.
fn attempt_records(n: u64, policy: Sha256Digest) -> Vec<AuditRecord> {
    let id = AttemptId::mint();
    let caller = CallerId::parse("operator-1").unwrap();
    let mut open = AuditRecord::open(
        id,
        caller,
        policy,
        AuditRecord::deadline_in(Duration::from_secs(600)),
    );
    open.request_id = Some(RequestId::parse(&ulid::Ulid::new().to_string()).unwrap());
    open.trace_id = TraceId::from_bytes(rand_bytes(n));
    open.trigger = Some(mig06_rail::request::Trigger::OperatorExplicit);
    open.action = Some(mig06_rail::request::Code::parse("draft_note").unwrap());
    open.request_fp = Some(Sha256Digest::of(&n.to_le_bytes()));
    let decision = |effect| DecisionSignal {
        effect,
        policies: vec!["permit-operator-draft-note".into()],
        errors: false,
    };
    open.decision = Some(decision(Effect::Permit));
    if n % 3 == 2 {
        let mut denied = open.ended(TerminalCode::DeniedPolicy, None);
        denied.decision = Some(decision(Effect::Deny));
        return vec![denied];
    }
    let mut done = open.ended(TerminalCode::CompletedDraft, None);
    let draft = format!(
        "draft_{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    );
    done.draft_ref = Some(OpaqueId::parse(&draft).unwrap());
    done.content_sha256 = Some(Sha256Digest::of(&(n + 1).to_le_bytes()));
    vec![open, done]
}

fn rand_bytes(n: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    b[8..].copy_from_slice(&(n | 1).to_be_bytes());
    b
}

/// Writes a log of `count` records in `dir` as the file store would have: every record sealed,
/// a kept checkpoint every 256 records, the latest checkpoint covering them all.
fn generate(dir: &Path, count: u64, signer: &LogSigner, policy: Sha256Digest) -> u64 {
    for f in [LOG_FILE, CHECKPOINTS_FILE, LATEST_CHECKPOINT] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    std::fs::create_dir_all(dir).unwrap();
    let mut log = BufWriter::with_capacity(1 << 20, File::create(dir.join(LOG_FILE)).unwrap());
    let mut cps = BufWriter::new(File::create(dir.join(CHECKPOINTS_FILE)).unwrap());
    let mut tree = Tree::new();
    let mut last = ZERO_HASH;
    let mut bytes = 0u64;
    let sign = |tree: &Tree, size: u64| {
        signer.sign(&Checkpoint {
            origin: signer.origin().to_owned(),
            size,
            root: tree.root_at(size).unwrap(),
        })
    };
    let mut n = 0u64;
    while tree.size() < count {
        for mut rec in attempt_records(n, policy) {
            if tree.size() == count {
                break;
            }
            rec.prev = hash_hex(&last);
            rec.seq = tree.size();
            // Sealed as the rail writes every record (the first record of a key epoch must
            // carry its signature).
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

/// `serve` from spawn to its `listening` line, and its peak resident memory (kB) then.
fn serve_start(config: &Path) -> (Duration, u64) {
    let t = Instant::now();
    let mut child = Command::new(MIG06)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "error",
            "--config",
        ])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let d = t.elapsed();
    if !line.contains("listening") {
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
        panic!("serve did not start: {line} {err}");
    }
    let hwm = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    (d, hwm)
}

/// One `mig06 attempt` (a policy denial: the store opened, one terminal record appended and
/// synced), end to end, with its peak resident memory.
fn cli_attempt(config: &Path, request: &Path) -> (Duration, u64) {
    // A fresh request id each time: the log holds one attempt per request id.
    std::fs::write(
        request,
        format!(
            r#"{{"request_id":"{}","trigger":"operator_explicit","subject":"subj_7k3m9q2x4w8r5t6v","steps":[{{"action":"draft_note","params":{{"note_kind":"prior_authorisation"}}}}]}}"#,
            ulid::Ulid::new()
        ),
    )
    .unwrap();
    let t = Instant::now();
    let out = Command::new("/usr/bin/env")
        .args([
            "time",
            "-f",
            "%M",
            MIG06,
            "attempt",
            "--caller",
            "operator-1",
            "--config",
        ])
        .arg(config)
        .arg("--request")
        .arg(request)
        .output()
        .unwrap();
    let d = t.elapsed();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(
        v["code"],
        "DENIED_POLICY",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kb = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    (d, kb)
}

/// The kept checkpoint whose size is `size` (a multiple of 256), as its note.
fn kept_note(audit: &Path, size: u64) -> String {
    let text = std::fs::read_to_string(audit.join(CHECKPOINTS_FILE)).unwrap();
    let mut notes = Vec::new();
    let mut current = String::new();
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        current.push_str(line);
        if line.starts_with('\u{2014}') && lines.peek() == Some(&"\n") {
            lines.next();
            notes.push(std::mem::take(&mut current));
        }
    }
    let i = usize::try_from(size / CHECKPOINT_EVERY).unwrap() - 1;
    notes.swap_remove(i)
}

/// `audit verify --since-checkpoint FILE`, timed.
fn verify_since(config: &Path, note: &Path) -> Duration {
    let t = Instant::now();
    let out = Command::new(MIG06)
        .args(["audit", "verify", "--config"])
        .arg(config)
        .arg("--since-checkpoint")
        .arg(note)
        .output()
        .unwrap();
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "audit verify --since-checkpoint failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    d
}

fn remove_index(audit: &Path) {
    for name in ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"] {
        let _ = std::fs::remove_file(audit.join(name));
    }
}

fn verify(config: &Path) -> Duration {
    let t = Instant::now();
    let out = Command::new(MIG06)
        .args(["audit", "verify", "--config"])
        .arg(config)
        .output()
        .unwrap();
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "audit verify failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sizes: Vec<u64> = std::env::var("MIG06_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().replace('_', "").parse().ok())
        .collect();
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = root.path().join("setup");
    assert!(
        Command::new(MIG06)
            .arg("init")
            .arg(&dir)
            .status()
            .unwrap()
            .success()
    );
    let config = dir.join("mig06.toml");
    let cfg = Config::load(&config).unwrap();
    let signer = mig06_rail::rail::load_signer(&cfg).unwrap();
    let audit = mig06_rail::rail::audit_dir(&cfg);
    let nproc = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!(
        "machine: nproc {nproc}, loadavg {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let request = root.path().join("request.json");
    println!(
        "| records | log size | first `serve` (no index: reads the log, writes the index) | its peak RSS | `serve` to listening, from the index (best of 3) | its peak RSS | `mig06 attempt` end to end (best of 3) | its peak RSS | `audit verify` (best of 3) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let skip_verify = std::env::var_os("MIG06_BENCH_NO_VERIFY").is_some();
    for &n in &sizes {
        remove_index(&audit);
        let bytes = generate(&audit, n, &signer, cfg.policy_digest);
        let (first, first_hwm) = serve_start(&config);
        let mut best = (Duration::MAX, 0u64, Duration::MAX, 0u64, Duration::MAX);
        for _ in 0..3 {
            let (d, hwm) = serve_start(&config);
            if d < best.0 {
                best.0 = d;
                best.1 = hwm;
            }
            let (a, a_hwm) = cli_attempt(&config, &request);
            if a < best.2 {
                best.2 = a;
                best.3 = a_hwm;
            }
            if !skip_verify {
                best.4 = best.4.min(verify(&config));
            }
        }
        if n > 100_000 && std::env::var_os("MIG06_BENCH_SINCE").is_some() {
            // The last 100,000 records (to the kept checkpoint at or below n - 100,000), against
            // a whole `audit verify`, same run.
            let at = (n - 100_000) / CHECKPOINT_EVERY * CHECKPOINT_EVERY;
            let note = root.path().join("since.note");
            std::fs::write(&note, kept_note(&audit, at)).unwrap();
            let since = (0..3).map(|_| verify_since(&config, &note)).min().unwrap();
            let whole = (0..3).map(|_| verify(&config)).min().unwrap();
            println!(
                "verify --since-checkpoint (size {at}, {} records after it) {:.3} s; whole audit verify {:.3} s; ratio {:.3}",
                n - at,
                since.as_secs_f64(),
                whole.as_secs_f64(),
                since.as_secs_f64() / whole.as_secs_f64()
            );
        }
        println!(
            "| {n} | {:.1} MB | {:.3} s | {:.0} MB | {:.3} s | {:.0} MB | {:.3} s | {:.0} MB | {} |",
            bytes as f64 / 1e6,
            first.as_secs_f64(),
            first_hwm as f64 / 1024.0,
            best.0.as_secs_f64(),
            best.1 as f64 / 1024.0,
            best.2.as_secs_f64(),
            best.3 as f64 / 1024.0,
            if skip_verify {
                "not run".to_owned()
            } else {
                format!("{:.3} s", best.4.as_secs_f64())
            },
        );
    }
}
