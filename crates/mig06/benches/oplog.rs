//! What the operations log and trace export cost `mig06 serve`, as ratios to the same service
//! with its log at `error` (nothing written per request).
//!
//! ```sh
//! cargo bench --workspace --bench oplog
//! # MIG06_BENCH_SECONDS (measured seconds per run, default 4), MIG06_BENCH_ROUNDS (default 3),
//! # MIG06_BENCH_CLIENTS (concurrent keep-alive clients, default 8)
//! ```
//!
//! One process drives the real release binary over HTTP: a `mig06 init` set-up on disk under
//! the target directory, the reference executor, the durable file store. Three variants of the
//! same server, one at a time on the same log: `--log-level error` (the baseline), the default
//! JSON log at `info` with export off, and the JSON log with OTLP export on towards a local
//! receiver (a sink in this process that answers every export 200). Each variant is measured on
//! denied attempts (`DENIED_POLICY`: parse, PHI scan, two Cedar decisions, one durable append)
//! and completed attempts (`COMPLETED_DRAFT`: two durable appends and the draft file), with the
//! log on stderr written to a file. Rounds rotate the variants' order; the figure is the median
//! of the per-round ratios.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a benchmark: a failed unwrap is a failed run"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const MIG06: &str = env!("CARGO_BIN_EXE_mig06");

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A local OTLP receiver that accepts every export (200, an empty answer) and counts them.
fn sink() -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let exports = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&exports);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let count = Arc::clone(&count);
            std::thread::spawn(move || serve_sink(stream, &count));
        }
    });
    (format!("http://{addr}"), exports)
}

fn serve_sink(stream: TcpStream, count: &AtomicU64) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        count.fetch_add(1, Ordering::Relaxed);
        if stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

struct Served {
    child: Child,
    base: String,
}

impl Served {
    fn start(config: &Path, level: &str, log: &Path) -> Self {
        let err = std::fs::File::create(log).unwrap();
        let mut child = Command::new(MIG06)
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(["--log-level", level, "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line.trim().rsplit(' ').next().unwrap().to_owned();
        Self { child, base }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request(note_kind: &str) -> Vec<u8> {
    serde_json::json!({
        "request_id": ulid::Ulid::new().to_string(),
        "trigger": "operator_explicit",
        "subject": "subj_7k3m9q2x4w8r5t6v",
        "steps": [{"action": "draft_note", "params": {"note_kind": note_kind}}],
    })
    .to_string()
    .into_bytes()
}

/// Attempts per second over `seconds` (after a one-second warm-up), `clients` keep-alive
/// clients each sending `note_kind` attempts; every answer must have `status`.
fn rate(
    base: &str,
    credential: &str,
    note_kind: &str,
    status: u16,
    clients: u64,
    seconds: u64,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let counting = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let url = format!("{base}/v1/attempts");
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (stop, counting, done) =
                (Arc::clone(&stop), Arc::clone(&counting), Arc::clone(&done));
            let url = url.clone();
            let auth = format!("Bearer {credential}");
            let note_kind = note_kind.to_owned();
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                while !stop.load(Ordering::Relaxed) {
                    let r = agent
                        .post(&url)
                        .header("authorization", &auth)
                        .header("content-type", "application/json")
                        .send(&request(&note_kind)[..])
                        .unwrap();
                    assert_eq!(r.status().as_u16(), status);
                    if counting.load(Ordering::Relaxed) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    counting.store(true, Ordering::Relaxed);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let n = done.load(Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    n as f64 / elapsed
}

fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Variant {
    name: &'static str,
    config: PathBuf,
    level: &'static str,
}

fn main() {
    let seconds = env_or("MIG06_BENCH_SECONDS", 4);
    let rounds = env_or("MIG06_BENCH_ROUNDS", 3);
    let clients = env_or("MIG06_BENCH_CLIENTS", 8);
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
    let out = Command::new(MIG06)
        .args(["caller", "add", "bench", "--kind", "operator"])
        .args(["--trigger", "operator_explicit", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success());
    let credential = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    let (sink_url, exports) = sink();
    let export_config = dir.join("mig06-export.toml");
    std::fs::write(
        &export_config,
        format!(
            "{}\n[telemetry]\notlp_endpoint = \"{sink_url}\"\n",
            std::fs::read_to_string(&config).unwrap()
        ),
    )
    .unwrap();
    let variants = [
        Variant {
            name: "log at error (baseline)",
            config: config.clone(),
            level: "error",
        },
        Variant {
            name: "JSON log, export off",
            config: config.clone(),
            level: "info",
        },
        Variant {
            name: "JSON log, export on",
            config: export_config,
            level: "info",
        },
    ];
    let phases = [
        ("denied", "prior_authorisation", 403),
        ("completed", "discharge_summary", 200),
    ];
    // rates[variant][phase] per round.
    let mut rates = vec![vec![Vec::new(); phases.len()]; variants.len()];
    let mut log_bytes = vec![(0u64, 0u64); variants.len()];
    let mut spans = (0u64, 0u64);
    println!(
        "mig06 serve, {clients} keep-alive clients, {seconds} s per run after 1 s warm-up, {rounds} rounds"
    );
    for round in 0..rounds {
        for k in 0..variants.len() {
            let v = (k + round as usize) % variants.len();
            let variant = &variants[v];
            let log = root.path().join(format!("log-{v}-{round}.jsonl"));
            let served = Served::start(&variant.config, variant.level, &log);
            let mut attempts = 0u64;
            for (p, (phase, note_kind, status)) in phases.iter().enumerate() {
                let r = rate(
                    &served.base,
                    &credential,
                    note_kind,
                    *status,
                    clients,
                    seconds,
                );
                println!(
                    "round {round} {:<26} {phase:<9} {r:>8.1} attempts/s",
                    variant.name
                );
                rates[v][p].push(r);
                attempts += (r * seconds as f64) as u64;
            }
            let metrics = ureq::get(format!("{}/metrics", served.base))
                .call()
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap();
            if variant.config.ends_with("mig06-export.toml") {
                spans.0 += metric(&metrics, "mig06_otlp_spans_exported_total");
                spans.1 += metric(
                    &metrics,
                    "mig06_otlp_spans_dropped_total{reason=\"queue_full\"}",
                ) + metric(
                    &metrics,
                    "mig06_otlp_spans_dropped_total{reason=\"export_failed\"}",
                );
            }
            drop(served);
            let bytes = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
            log_bytes[v].0 += bytes;
            log_bytes[v].1 += attempts;
        }
    }
    println!();
    println!(
        "| variant | denied attempts/s (median) | ratio | completed attempts/s (median) | ratio | log bytes per attempt |"
    );
    println!("|---|---|---|---|---|---|");
    for (v, variant) in variants.iter().enumerate() {
        let mut cells = Vec::new();
        for (mine, base) in rates[v].iter().zip(&rates[0]) {
            let ratios: Vec<f64> = mine.iter().zip(base).map(|(m, b)| m / b).collect();
            cells.push(format!("{:.1}", median(mine.clone())));
            cells.push(format!("{:.3}", median(ratios)));
        }
        let per = log_bytes[v].0 as f64 / log_bytes[v].1.max(1) as f64;
        println!(
            "| {} | {} | {} | {} | {} | {per:.0} |",
            variant.name, cells[0], cells[1], cells[2], cells[3]
        );
    }
    println!(
        "\nexport on: {} spans exported in {} requests to the local receiver, {} dropped",
        spans.0,
        exports.load(Ordering::Relaxed),
        spans.1
    );
}
