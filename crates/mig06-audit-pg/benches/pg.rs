//! The PostgreSQL audit store against `pgbench` on the same server, in one run
//! (`docs/PERFORMANCE.md`, `## PostgreSQL audit store`):
//!
//! 1. durable appends per second at 1 and at 8 concurrent writers, against `pgbench -c N` running
//!    a one-row INSERT of a record-sized row per transaction, same server, same run. Eight
//!    writers are measured two ways: eight callers in one instance (its group commit puts
//!    concurrent callers in one transaction) and eight instances of one caller each (their
//!    batches serialise on the head row);
//! 2. completed attempts per second with two rail instances on one database against one.
//!
//! 3. with `MIG06_BENCH_PG_STARTUP=10000,100000,1000000`, only start-up (issue 24): the time a
//!    new process takes to open the store at each size and its peak memory, against a whole
//!    read of the same log in the same run.
//!
//! `MIG06_BENCH_DATABASE_URL` names the server (default: the local one on 127.0.0.1:5432, user
//! postgres); each run creates a fresh database there. `MIG06_BENCH_SECONDS` per measurement
//! (default 10). Run: `cargo bench --workspace --bench pg`.
#![allow(
    clippy::disallowed_methods,
    clippy::string_slice,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "benchmark"
)]

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mig06_audit_pg::{Grants, migrate, open_store};
use mig06_rail::audit::group::GroupCommit;
use mig06_rail::audit::{AuditRecord, AuditStore, RecordKind};
use mig06_rail::config::{Config, PostgresAudit};
use mig06_rail::executor::Deadline;
use mig06_rail::ids::{AttemptId, CallerId, Sha256Digest};
use mig06_rail::outcome::TerminalCode;
use mig06_rail::rail::Rail;
use mig06_tlog::checkpoint::LogSigner;

fn record(id: &AttemptId, kind: RecordKind) -> AuditRecord {
    let mut open = AuditRecord::open(
        id.clone(),
        CallerId::parse("operator-1").unwrap(),
        Sha256Digest::of(b"policy"),
        AuditRecord::deadline_in(Duration::from_secs(600)),
    );
    open.request_fp = Some(Sha256Digest::of(b"request"));
    match kind {
        RecordKind::Open => open,
        RecordKind::Terminal => open.ended(TerminalCode::DeniedPolicy, None),
    }
}

fn kv(url: &str, dbname: &str) -> String {
    let cfg: postgres::Config = url.parse().unwrap();
    let mut parts = Vec::new();
    for h in cfg.get_hosts() {
        if let postgres::config::Host::Tcp(n) = h {
            parts.push(format!("host={n}"));
        }
    }
    if let Some(p) = cfg.get_ports().first() {
        parts.push(format!("port={p}"));
    }
    if let Some(u) = cfg.get_user() {
        parts.push(format!("user={u}"));
    }
    parts.push(format!("dbname={dbname}"));
    parts.join(" ")
}

/// The baseline: one one-row INSERT of `row_bytes` bytes per transaction.
fn insert_script(row_bytes: usize) -> String {
    format!("INSERT INTO pgbench_rows (line) VALUES (decode(repeat('ab', {row_bytes}), 'hex'));\n")
}

/// The least an ordered log's append is in SQL: lock the head row, read it, insert the row at
/// the head's index, move the head, commit (one statement per round trip, as pgbench sends it).
fn ordered_script(row_bytes: usize) -> String {
    format!(
        "BEGIN;\nSELECT n FROM pgbench_head FOR UPDATE;\n\
         INSERT INTO pgbench_rows (line) VALUES (decode(repeat('ab', {row_bytes}), 'hex'));\n\
         UPDATE pgbench_head SET n = n + 1;\nCOMMIT;\n"
    )
}

/// `pgbench` with `clients` clients running `script_text`; transactions per second.
fn pgbench(url: &str, clients: usize, seconds: u64, script_text: &str) -> f64 {
    let cfg: postgres::Config = url.parse().unwrap();
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), script_text).unwrap();
    let mut cmd = Command::new("pgbench");
    cmd.args(["-n", "-T", &seconds.to_string()])
        .args(["-c", &clients.to_string(), "-j", &clients.to_string()])
        .arg("-f")
        .arg(script.path());
    if let Some(postgres::config::Host::Tcp(h)) = cfg.get_hosts().first() {
        cmd.args(["-h", h]);
    }
    if let Some(p) = cfg.get_ports().first() {
        cmd.args(["-p", &p.to_string()]);
    }
    if let Some(u) = cfg.get_user() {
        cmd.args(["-U", u]);
    }
    cmd.arg(cfg.get_dbname().unwrap_or("postgres"));
    let out = cmd
        .output()
        .expect("pgbench (the PostgreSQL client package) must be installed");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "pgbench gave no tps: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// Appends per second from `threads` threads, spread over `instances` stores (each behind its
/// own group commit), for `seconds`.
fn appends(
    settings: &PostgresAudit,
    key: &str,
    instances: usize,
    threads: usize,
    seconds: u64,
) -> (f64, f64) {
    let groups: Vec<Arc<GroupCommit>> = (0..instances)
        .map(|_| {
            let signer = LogSigner::from_private_key(key).unwrap();
            let (store, _) = open_store(settings, signer).unwrap();
            Arc::new(GroupCommit::new(Box::new(store) as Box<dyn AuditStore>))
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let g = Arc::clone(&groups[t % instances]);
            let stop = Arc::clone(&stop);
            let count = Arc::clone(&count);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let id = AttemptId::mint();
                    let bound = Deadline::after(Duration::from_secs(60));
                    g.append(record(&id, RecordKind::Open), bound).unwrap();
                    g.append(record(&id, RecordKind::Terminal), bound).unwrap();
                    count.fetch_add(2, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let batches: u64 = groups.iter().map(|g| g.batches().unwrap_or(0)).sum();
    let n = count.load(Ordering::Relaxed) as f64;
    (n / elapsed, n / batches.max(1) as f64)
}

/// Completed attempts per second from `threads` callers spread over `instances` rails.
fn attempts(
    config: &Config,
    key: &str,
    settings: &PostgresAudit,
    instances: usize,
    threads: usize,
    seconds: u64,
) -> f64 {
    let rails: Vec<Arc<Rail>> = (0..instances)
        .map(|_| {
            let signer = LogSigner::from_private_key(key).unwrap();
            let (store, report) = open_store(settings, signer).unwrap();
            Arc::new(
                Rail::open_with(config.clone(), Some((Box::new(store), report)), None).unwrap(),
            )
        })
        .collect();
    // One attempt per request id (INV-NO-RETRY): a fresh id per attempt.
    let body = || {
        serde_json::json!({"request_id": ulid::Ulid::new().to_string(), "trigger": "operator_explicit",
        "subject": "subj_7k3m9q2x4w8r5t6v",
        "steps": [{"action": "draft_note", "params": {"note_kind": "discharge_summary"}}]})
        .to_string()
        .into_bytes()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let rail = Arc::clone(&rails[t % instances]);
            let stop = Arc::clone(&stop);
            let count = Arc::clone(&count);
            std::thread::spawn(move || {
                let caller = rail.local_caller("operator-1").unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let o = rail.attempt(&caller, &body());
                    assert_eq!(o.code, TerminalCode::CompletedDraft);
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// `MIG06_BENCH_PG_OPEN=url` (a child run of this binary): opens the store once, prints the
/// time it took, the records and whether it resumed, and this process's peak resident memory.
fn open_once(url: &str, key: &str) {
    let settings = PostgresAudit::new(url.to_owned(), Duration::from_secs(5));
    let t = Instant::now();
    let (store, report) = open_store(&settings, LogSigner::from_private_key(key).unwrap()).unwrap();
    let took = t.elapsed().as_secs_f64();
    let hwm = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_owned()))
        .unwrap_or_default();
    println!(
        "{took:.6} {} {} {hwm}",
        store.size(),
        report.resumed_from_index
    );
}

/// Start-up at several sizes (`MIG06_BENCH_PG_STARTUP=10000,100000,1000000`): a fresh database
/// filled with sealed records in batches of 512, then seven starts of a new process (time to
/// open: median and least; peak memory), against a whole read of the same log in the same run (`read_view`, what
/// every start cost before schema version 3, and what `audit verify` reads).
fn startup(base: &str, sizes: &str) {
    let key = LogSigner::generate("mig06.bench/audit")
        .unwrap()
        .private_key();
    println!(
        "{:>10} {:>12} {:>12} {:>10} {:>14} {:>8}",
        "records", "open median", "open min", "peak RSS", "whole read (s)", "ratio"
    );
    for size in sizes
        .split(',')
        .filter_map(|v| v.trim().parse::<u64>().ok())
    {
        let db = format!(
            "mig06_bench_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        let mut admin = postgres::Client::connect(base, postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
        let url = kv(base, &db);
        let settings = PostgresAudit::new(url.clone(), Duration::from_secs(5));
        migrate(&settings, &Grants::default()).unwrap();
        let (mut store, _) =
            open_store(&settings, LogSigner::from_private_key(&key).unwrap()).unwrap();
        let far = Deadline::after(Duration::from_secs(3600));
        while store.size() < size {
            let mut batch = Vec::new();
            for _ in 0..256 {
                let id = AttemptId::mint();
                batch.push(record(&id, RecordKind::Open));
                batch.push(record(&id, RecordKind::Terminal));
            }
            for r in store.append_batch(batch, far) {
                r.unwrap();
            }
        }
        drop(store);
        let mut opens = Vec::new();
        let mut peak = String::new();
        for _ in 0..7 {
            let out = Command::new(std::env::current_exe().unwrap())
                .env("MIG06_BENCH_PG_OPEN", &url)
                .env("MIG06_BENCH_PG_KEY", &key)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let fields: Vec<&str> = text.split_whitespace().collect();
            assert!(
                fields.len() >= 3,
                "child: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                fields[2].parse::<u64>().unwrap() > 0,
                "the start did not resume: {text}"
            );
            opens.push(fields[0].parse::<f64>().unwrap());
            peak = fields[3..].join(" ");
        }
        opens.sort_by(f64::total_cmp);
        let t = Instant::now();
        let view = mig06_audit_pg::read_view(
            &settings,
            &LogSigner::from_private_key(&key).unwrap().verifier(),
            &mut |_, _, _| {},
            &mut |_, _| {},
        )
        .unwrap();
        let whole = t.elapsed().as_secs_f64();
        drop(view);
        println!(
            "{size:>10} {:>12.4} {:>12.4} {peak:>10} {whole:>14.3} {:>8.4}",
            opens[3],
            opens[0],
            opens[3] / whole
        );
        if std::env::var_os("MIG06_BENCH_KEEP").is_some() {
            println!("kept database {db}");
        } else {
            let _ = admin.batch_execute(&format!("DROP DATABASE {db}"));
        }
    }
}

fn main() {
    if let (Ok(url), Ok(key)) = (
        std::env::var("MIG06_BENCH_PG_OPEN"),
        std::env::var("MIG06_BENCH_PG_KEY"),
    ) {
        return open_once(&url, &key);
    }
    if let Ok(sizes) = std::env::var("MIG06_BENCH_PG_STARTUP") {
        let base = std::env::var("MIG06_BENCH_DATABASE_URL")
            .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=postgres".into());
        return startup(&base, &sizes);
    }
    let base = std::env::var("MIG06_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=postgres".into());
    let seconds: u64 = std::env::var("MIG06_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let db = format!(
        "mig06_bench_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let url = kv(&base, &db);
    let settings = PostgresAudit::new(url.clone(), Duration::from_secs(5));
    migrate(&settings, &Grants::default()).unwrap();
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(
        "CREATE TABLE pgbench_rows (id bigserial PRIMARY KEY, line bytea NOT NULL);
         CREATE TABLE pgbench_head (n bigint NOT NULL); INSERT INTO pgbench_head VALUES (0);",
    )
    .unwrap();
    let key = LogSigner::generate("mig06.bench/audit")
        .unwrap()
        .private_key();
    // A record of the kind appended below, sealed, to size pgbench's row like it.
    let row_bytes = {
        let mut r = record(&AttemptId::mint(), RecordKind::Terminal);
        let signer = LogSigner::from_private_key(&key).unwrap();
        mig06_rail::audit::ledger::seal::seal(&mut r, &signer)
            .unwrap()
            .len()
    };
    println!("database {db}, {seconds} s per measurement, pgbench rows of {row_bytes} bytes");
    println!(
        "{:<40} {:>9} {:>12} {:>7} {:>12} {:>7} {:>11}",
        "", "mig06 /s", "insert tps", "ratio", "ordered tps", "ratio", "records/txn"
    );
    for (name, instances, threads, clients) in [
        ("1 writer", 1, 1, 1),
        ("8 writers, one instance (group commit)", 1, 8, 8),
        ("8 writers, 8 instances of 1 caller", 8, 8, 8),
    ] {
        let insert = pgbench(&url, clients, seconds, &insert_script(row_bytes));
        let ordered = pgbench(&url, clients, seconds, &ordered_script(row_bytes));
        let (ours, per_txn) = appends(&settings, &key, instances, threads, seconds);
        println!(
            "{name:<40} {ours:>9.0} {insert:>12.0} {:>7.3} {ordered:>12.0} {:>7.3} {per_txn:>11.2}",
            ours / insert,
            ours / ordered
        );
    }

    // Completed attempts: a real `mig06 init` set-up (policy bundle, reference executor) whose
    // audit log is this database.
    let dir = tempfile::tempdir().unwrap();
    let report = mig06_rail::init::init(dir.path()).unwrap();
    let config = Config::load(&report.config).unwrap();
    let key = std::fs::read_to_string(&config.signing_key).unwrap();
    let attempts_db = format!("{db}_attempts");
    admin
        .batch_execute(&format!("CREATE DATABASE {attempts_db}"))
        .unwrap();
    let settings = PostgresAudit::new(kv(&base, &attempts_db), Duration::from_secs(5));
    migrate(&settings, &Grants::default()).unwrap();
    let one = attempts(&config, key.trim(), &settings, 1, 8, seconds);
    let two = attempts(&config, key.trim(), &settings, 2, 8, seconds);
    println!(
        "completed attempts/s, 8 callers: one instance {one:.0}, two instances {two:.0}, ratio {:.3}",
        two / one
    );
    drop(c);
    let _ = admin.batch_execute(&format!("DROP DATABASE {db}"));
    let _ = admin.batch_execute(&format!("DROP DATABASE {attempts_db}"));
}
