//! Trace export (`[telemetry] otlp_endpoint`) through the real `mig06 serve`, into an
//! independent OTLP receiver: `tests/fixtures/otlp_receiver.py`, which decodes the protobuf with
//! the OpenTelemetry project's own `opentelemetry-proto` package (no mock of the exporter).
//!
//! The receiver needs a Python that imports `opentelemetry-proto`: `MIG06_OTLP_PYTHON` (then it
//! must work; `.ci/run` sets it), else `python3` when it imports it, else a virtual environment
//! made under the test's target directory with `pip install opentelemetry-proto`. Only when
//! none of these can be had is a test skipped, saying why.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Setup, call, draft_service, valid_request};
use crate::leak::{CANARIES, shapes};
use crate::oplog::{Logged, encodings, events, lines};

const IMPORT: &str =
    "import google.protobuf, opentelemetry.proto.collector.trace.v1.trace_service_pb2";

fn imports(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", IMPORT])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A Python that decodes OTLP, or why there is none (found once per test binary).
fn python() -> Result<PathBuf, String> {
    static FOUND: Mutex<Option<Result<PathBuf, String>>> = Mutex::new(None);
    let mut found = FOUND
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    found.get_or_insert_with(find_python).clone()
}

fn find_python() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("MIG06_OTLP_PYTHON") {
        let p = PathBuf::from(p);
        assert!(
            imports(&p),
            "MIG06_OTLP_PYTHON={} cannot import opentelemetry-proto",
            p.display()
        );
        return Ok(p);
    }
    let system = PathBuf::from("python3");
    if imports(&system) {
        return Ok(system);
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("otlp-venv");
    let python = venv.join("bin/python");
    if imports(&python) {
        return Ok(python);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .stdout(Stdio::null())
        .status();
    if !made.is_ok_and(|s| s.success()) {
        return Err("python3 with its venv module is not installed".into());
    }
    let pip = Command::new(&python)
        .args(["-m", "pip", "install", "-q", "opentelemetry-proto"])
        .status();
    if !pip.is_ok_and(|s| s.success()) || !imports(&python) {
        return Err("pip could not install opentelemetry-proto (no package index?)".into());
    }
    Ok(python)
}

/// The receiver, running.
struct Receiver {
    child: Child,
    url: String,
    out: PathBuf,
}

impl Receiver {
    fn start(python: &Path, dir: &Path, extra: &[&str]) -> Self {
        let out = dir.join(format!("spans-{}.jsonl", std::process::id()));
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/otlp_receiver.py"
        );
        let mut child = Command::new(python)
            .arg(script)
            .arg(&out)
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().strip_prefix("listening ").unwrap().to_owned();
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            out,
        }
    }

    /// Everything the receiver decoded, as written.
    fn text(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// The spans decoded so far.
    fn spans(&self) -> Vec<Value> {
        lines(&self.text())
            .into_iter()
            .filter(|l| l.get("raw").is_none())
            .collect()
    }

    /// The spans once `done` holds of them (the export sends a batch within a fraction of a
    /// second; the bound only ends a test that would otherwise hang).
    fn wait_for(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let spans = self.spans();
            if done(&spans) || Instant::now() > until {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn with_telemetry(config: &Path, table: &str) {
    let text = std::fs::read_to_string(config).unwrap();
    std::fs::write(config, format!("{text}\n[telemetry]\n{table}\n")).unwrap();
}

fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} missing"))
}

#[test]
fn attempt_spans_reach_an_otlp_receiver_as_children_of_the_callers_span_without_phi() {
    let python = match python() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("skipped: no OTLP receiver can run here: {why}");
            return;
        }
    };
    let downstream = draft_service::start("127.0.0.1:0").unwrap();
    let s = Setup::new(Some(&downstream.url("/draft")), None);
    let receiver = Receiver::start(&python, s.dir.path(), &[]);
    with_telemetry(&s.config, &format!("otlp_endpoint = \"{}\"", receiver.url));
    let server = Logged::start(&s.config, &["--log-level", "debug"]);
    let url = server.url("/v1/attempts");
    let agent = crate::common::agent();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = "00f067aa0ba902b7";
    let mut answer = agent
        .post(&url)
        .header("authorization", format!("Bearer {}", s.credential))
        .header("content-type", "application/json")
        .header("traceparent", format!("00-{trace}-{parent}-01"))
        .send(&valid_request()[..])
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let outcome: Value =
        serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
    let attempt_id = outcome["attempt_id"].as_str().unwrap().to_owned();

    // Every canary through the attempt route: in every request shape (denied or aborted), in
    // another header, as the trace headers, as the tracestate of a valid traceparent.
    let mut sent = 0;
    for (_, c) in CANARIES {
        for req in shapes(c) {
            let _ = call(
                "POST",
                &url,
                Some(&s.credential),
                Some(req.to_string().as_bytes()),
            );
            sent += 1;
        }
        let state = format!("vendor={}", c.replace([' ', ',', '='], "_"));
        for traceparent in [format!("00-{c}-01"), format!("00-{trace}-{parent}-01")] {
            let r = agent
                .post(&url)
                .header("authorization", format!("Bearer {}", s.credential))
                .header("x-patient", *c)
                .header("traceparent", traceparent)
                .header("tracestate", &state)
                .send(&valid_request()[..])
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            sent += 1;
        }
    }

    let is_ours = |sp: &Value| {
        sp["name"] == "POST /v1/attempts" && sp["attributes"]["attempt_id"] == attempt_id.as_str()
    };
    let spans = receiver.wait_for(|spans| {
        spans.iter().any(is_ours)
            && spans
                .iter()
                .filter(|sp| sp["name"] == "POST /v1/attempts")
                .count()
                > sent
    });
    let attempt = spans
        .iter()
        .find(|sp| is_ours(sp))
        .expect("the attempt's span reached the receiver");
    // The attempt's span: the caller's trace, a child of the caller's span, a server span.
    assert_eq!(attempt["trace_id"], trace);
    assert_eq!(attempt["parent_span_id"], parent);
    assert_eq!(attempt["kind"], 2, "SPAN_KIND_SERVER");
    assert_eq!(attempt["content_type"], "application/x-protobuf");
    assert_eq!(attempt["resource"]["service.name"], "mig06");
    assert_eq!(attempt["attributes"]["code"], "COMPLETED_DRAFT");
    assert_eq!(attempt["attributes"]["caller_id"], "op-http");
    assert_eq!(attempt["attributes"]["http.response.status_code"], 200);
    let finished = attempt["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["attributes"]["event"] == "attempt_finished")
        .expect("the attempt_finished event is on the span");
    assert_eq!(finished["attributes"]["trace_id"], trace);
    assert_eq!(finished["attributes"]["executor"], "completed");
    // Its stages are its children.
    let span_id = attempt["span_id"].as_str().unwrap();
    let stages: Vec<&str> = spans
        .iter()
        .filter(|sp| sp["parent_span_id"] == span_id)
        .map(|sp| {
            assert_eq!(sp["trace_id"], trace);
            sp["name"].as_str().unwrap()
        })
        .collect();
    for stage in [
        "parse",
        "continuation_check",
        "policy_gate",
        "open_append",
        "execute",
        "terminal_append",
    ] {
        assert!(stages.contains(&stage), "{stage} not among {stages:?}");
    }
    // The downstream saw the attempt's span as its parent: trace to evidence and back.
    assert_eq!(
        downstream.traceparents()[0],
        format!("00-{trace}-{span_id}-01")
    );
    let records: Vec<Value> = std::fs::read_to_string(s.dir.path().join("data/audit/log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &Value| r["attempt_id"] == attempt_id.as_str())
        .collect();
    assert_eq!(records.len(), 2);
    for r in &records {
        assert_eq!(r["trace_id"], trace);
    }
    // A request without a valid traceparent starts a new trace: its span is a root whose trace
    // id is the one its access line and records carry.
    let roots: Vec<&Value> = spans
        .iter()
        .filter(|sp| sp["name"] == "POST /v1/attempts" && sp["parent_span_id"] == "")
        .collect();
    assert!(!roots.is_empty());
    let metrics = call("GET", &server.url("/metrics"), None, None).body;
    assert!(metric(&metrics, "mig06_otlp_spans_exported_total") > 0);
    let log = server.stop();
    let access = lines(&log);
    let root_ids: Vec<&str> = events(&access, "access")
        .iter()
        .filter_map(|a| a["trace_id"].as_str())
        .collect();
    for root in &roots {
        assert!(root_ids.contains(&root["trace_id"].as_str().unwrap()));
    }
    // No canary in any span, attribute, event or resource, in any encoding.
    let exported = receiver.text();
    for (kind, c) in CANARIES {
        for v in encodings(c) {
            assert!(!exported.contains(&v), "{kind} canary in an exported span");
            assert!(!log.contains(&v), "{kind} canary in the operations log");
        }
    }
}

#[test]
fn inv_telemetry_never_blocks_a_collector_down_or_stalled_costs_counted_spans_never_an_attempt() {
    let python = match python() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("skipped: no OTLP receiver can run here: {why}");
            return;
        }
    };
    // A collector that is not there: every batch fails, every attempt completes.
    let s = Setup::new(None, None);
    with_telemetry(
        &s.config,
        "otlp_endpoint = \"http://127.0.0.1:9\"\notlp_timeout_ms = 300",
    );
    let server = Logged::start(&s.config, &[]);
    let url = server.url("/v1/attempts");
    for _ in 0..10 {
        let r = call("POST", &url, Some(&s.credential), Some(&valid_request()));
        assert_eq!(r.status, 200);
    }
    let until = Instant::now() + Duration::from_secs(20);
    let failed = loop {
        let m = call("GET", &server.url("/metrics"), None, None).body;
        let n = metric(
            &m,
            "mig06_otlp_spans_dropped_total{reason=\"export_failed\"}",
        );
        if n >= 70 || Instant::now() > until {
            break n;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Ten attempts of seven spans each (the attempt and its six stages), all dropped and counted.
    assert_eq!(failed, 70);
    let log = lines(&server.stop());
    assert!(!events(&log, "otlp_export_failed").is_empty());

    // A collector that takes 3 s to answer, a queue of 2 spans and a bound of 500 ms: the
    // queue fills while the export thread waits, and spans are dropped, not waited for.
    let s = Setup::new(None, None);
    let receiver = Receiver::start(&python, s.dir.path(), &["--delay", "3"]);
    with_telemetry(
        &s.config,
        &format!(
            "otlp_endpoint = \"{}\"\notlp_queue_spans = 2\notlp_timeout_ms = 500",
            receiver.url
        ),
    );
    let server = Logged::start(&s.config, &[]);
    let url = server.url("/v1/attempts");
    let mut dropped = 0;
    let mut sent = 0;
    while dropped == 0 && sent < 200 {
        let r = call("POST", &url, Some(&s.credential), Some(&valid_request()));
        assert_eq!(r.status, 200);
        sent += 1;
        let m = call("GET", &server.url("/metrics"), None, None).body;
        dropped = metric(&m, "mig06_otlp_spans_dropped_total{reason=\"queue_full\"}");
    }
    assert!(dropped > 0, "no span was dropped in {sent} attempts");
    let m = call("GET", &server.url("/metrics"), None, None).body;
    assert_eq!(
        metric(&m, "mig06_attempts_total{code=\"COMPLETED_DRAFT\"}"),
        sent
    );
}
