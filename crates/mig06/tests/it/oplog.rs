//! The operations log, metrics, readiness, chunked bodies and the day-two caller commands,
//! through the real `mig06 serve` with its stderr in a file (a file never blocks, so no line is
//! dropped and every line can be searched).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{MIG06, Setup, call, valid_request};
use crate::leak::{CANARIES, shapes};

/// A served instance whose stderr (the operations log) goes to a file.
pub(crate) struct Logged {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Logged {
    pub(crate) fn start(config: &Path, extra: &[&str]) -> Self {
        let log = config.with_file_name(format!("serve-{}.log", std::process::id()));
        let err = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(MIG06)
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(base.starts_with("http://127.0.0.1:"), "serve did not start");
        Self { child, base, log }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    /// Stops the server and returns its whole operations log.
    pub(crate) fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The log's lines as JSON objects (every line must be one).
pub(crate) fn lines(log: &str) -> Vec<Value> {
    log.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON line: {l:.80}")))
        .collect()
}

pub(crate) fn events<'a>(lines: &'a [Value], event: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event"] == event).collect()
}

/// Sends raw bytes on a new connection and reads until the server closes it or `wait` passes.
fn raw(addr: &str, bytes: &[u8], wait: Duration) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(chunk) {
        out.extend(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend(c);
        out.extend(b"\r\n");
    }
    out.extend(b"0\r\n\r\n");
    out
}

#[test]
fn every_request_gets_one_access_line_and_every_attempt_its_stages() {
    let s = Setup::new(None, None);
    let server = Logged::start(&s.config, &[]);
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let a = crate::common::agent()
        .post(&server.url("/v1/attempts"))
        .header("authorization", format!("Bearer {}", s.credential))
        .header("content-type", "application/json")
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .send(&valid_request()[..])
        .unwrap();
    assert_eq!(a.status().as_u16(), 200);
    assert_eq!(
        call("GET", &server.url("/v1/health"), None, None).status,
        200
    );
    assert_eq!(call("GET", &server.url("/nowhere"), None, None).status, 404);
    assert_eq!(
        call("POST", &server.url("/v1/attempts"), None, Some(b"{}")).status,
        401
    );
    let log = lines(&server.stop());
    let access = events(&log, "access");
    assert_eq!(access.len(), 4, "{access:?}");
    let post = access[0];
    assert_eq!(post["route"], "/v1/attempts");
    assert_eq!(post["method"], "POST");
    assert_eq!(post["status"], 200);
    assert_eq!(post["caller_id"], "op-http");
    assert_eq!(post["code"], "COMPLETED_DRAFT");
    assert_eq!(post["trace_id"], trace);
    assert!(post["bytes"].as_u64().unwrap() > 0);
    assert!(post["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(access[2]["route"], "unmatched");
    assert_eq!(access[3]["status"], 401);
    assert!(access[3].get("caller_id").is_none());
    let attempt = events(&log, "attempt_finished");
    assert_eq!(attempt.len(), 1);
    let attempt = attempt[0];
    assert_eq!(attempt["attempt_id"], post["attempt_id"]);
    assert_eq!(attempt["trace_id"], trace);
    assert_eq!(attempt["executor"], "completed");
    assert_eq!(attempt["decision"], "permit");
    assert_eq!(attempt["policy_ids"], "permit-operator-draft-note");
    for stage in [
        "parse_us",
        "continuation_check_us",
        "policy_gate_us",
        "open_append_us",
        "execute_us",
        "terminal_append_us",
    ] {
        assert!(attempt[stage].is_u64(), "{stage}");
    }
    // The batches and the start-up are there too; the attempt's terminal record is in the leaf
    // range of one batch (the batch it joined).
    let index = attempt["record_index"].as_u64().unwrap();
    let joined: Vec<&Value> = events(&log, "audit_batch")
        .into_iter()
        .filter(|b| {
            let first = b["first_index"].as_u64().unwrap();
            first <= index && index < first + b["batch_records"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(joined.len(), 1, "{index}");
    let opened = events(&log, "audit_store_opened");
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0]["records"], 0);
    assert!(!events(&log, "caller").is_empty());
}

#[test]
fn serve_warns_when_no_caller_has_a_credential() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        Command::new(MIG06)
            .arg("init")
            .arg(dir.path())
            .status()
            .unwrap()
            .success()
    );
    let server = Logged::start(&dir.path().join("mig06.toml"), &["--log-format", "json"]);
    let log = lines(&server.stop());
    assert_eq!(events(&log, "no_http_caller").len(), 1);
    assert_eq!(events(&log, "caller")[0]["bearer_credential"], false);
}

#[test]
fn log_level_error_writes_no_info_lines_and_text_format_is_not_json() {
    let s = Setup::new(None, None);
    let server = Logged::start(&s.config, &["--log-level", "error"]);
    assert_eq!(
        call("GET", &server.url("/v1/health"), None, None).status,
        200
    );
    assert_eq!(server.stop(), "");
    let server = Logged::start(&s.config, &["--log-format", "text"]);
    assert_eq!(
        call("GET", &server.url("/v1/health"), None, None).status,
        200
    );
    let log = server.stop();
    assert!(
        log.contains("event=\"access\"") || log.contains("event=access"),
        "{log}"
    );
    assert!(serde_json::from_str::<Value>(log.lines().next().unwrap()).is_err());
}

/// Every encoding of `c` a log shipper or reader might see.
pub(crate) fn encodings(c: &str) -> Vec<String> {
    use base64::Engine;
    let mut v = vec![c.to_owned(), c.to_lowercase()];
    let digits: String = c.chars().filter(char::is_ascii_digit).collect();
    if digits.len() >= 9 {
        v.push(digits);
    }
    let json = serde_json::to_string(c).unwrap();
    v.push(json.trim_matches('"').to_owned());
    let pct: String = c
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    v.push(pct.clone());
    v.push(pct.to_lowercase());
    v.push(c.replace(' ', "+"));
    for engine in [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        let b = engine.encode(c);
        v.push(b.trim_end_matches('=').to_owned());
    }
    v.push(hex::encode(c));
    v
}

#[test]
fn phi_canaries_never_reach_the_operations_log() {
    let s = Setup::new(None, None);
    let server = Logged::start(&s.config, &["--log-level", "debug"]);
    let url = server.url("/v1/attempts");
    let addr = server.addr();
    let agent = crate::common::agent();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut count = |status: u16| *statuses.entry(status).or_default() += 1;
    for (_, c) in CANARIES {
        let pct: String = c
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        // Authenticated: every request shape (denied or aborted by the rail).
        for req in shapes(c) {
            count(
                call(
                    "POST",
                    &url,
                    Some(&s.credential),
                    Some(req.to_string().as_bytes()),
                )
                .status,
            );
        }
        // Unauthenticated: the canary as the credential and in the body.
        count(call("POST", &url, Some(c), Some(c.as_bytes())).status);
        // In a path, a query, another header, a trace header.
        count(call("GET", &server.url(&format!("/v1/{pct}")), None, None).status);
        count(
            call(
                "POST",
                &format!("{url}?patient={pct}"),
                Some(&s.credential),
                Some(&valid_request()),
            )
            .status,
        );
        let r = agent
            .post(&url)
            .header("authorization", format!("Bearer {}", s.credential))
            .header("x-patient", *c)
            .header("traceparent", format!("00-{c}-01"))
            .header(
                "tracestate",
                format!("vendor={}", c.replace([' ', ',', '='], "_")),
            )
            .send(&valid_request()[..])
            .unwrap();
        count(r.status().as_u16());
        // Too large, as a sized and as a chunked body.
        let big = c.repeat(70 * 1024 / c.len());
        count(call("POST", &url, Some(&s.credential), Some(big.as_bytes())).status);
        let head = format!(
            "POST /v1/attempts HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ntransfer-encoding: chunked\r\n\r\n",
            s.credential
        );
        let mut bytes = head.into_bytes();
        bytes.extend(chunked(big.as_bytes(), 4000));
        assert!(raw(&addr, &bytes, Duration::from_secs(5)).starts_with("HTTP/1.1 413"));
        // A head the guard refuses, a method that is not standard.
        let bad = format!(
            "GET /{pct} HTTP/1.1\r\nx-{}: {c}\r\nbad header {c}\r\n\r\n",
            "a"
        );
        assert!(raw(&addr, bad.as_bytes(), Duration::from_secs(5)).starts_with("HTTP/1.1 400"));
        let method: String = c.chars().filter(char::is_ascii_alphabetic).collect();
        if !method.is_empty() {
            let m = format!(
                "{} /v1/health HTTP/1.1\r\nhost: x\r\n\r\n",
                method.to_uppercase()
            );
            let _ = raw(&addr, m.as_bytes(), Duration::from_secs(2));
        }
    }
    let metrics = call("GET", &server.url("/metrics"), None, None).body;
    let log = server.stop();
    // The paths were exercised: denials, aborts, 401, 404, 413.
    for status in [401, 403, 404, 413, 422] {
        assert!(statuses.contains_key(&status), "{statuses:?}");
    }
    assert!(lines(&log).len() > CANARIES.len() * 20);
    for (kind, c) in CANARIES {
        for v in encodings(c) {
            assert!(!log.contains(&v), "{kind} canary in the operations log");
            assert!(!metrics.contains(&v), "{kind} canary in the metrics");
        }
    }
}

#[test]
fn metrics_name_every_stage_and_pass_promtool() {
    let s = Setup::new(None, None);
    let server = Logged::start(&s.config, &[]);
    let url = server.url("/v1/attempts");
    assert_eq!(
        call("POST", &url, Some(&s.credential), Some(&valid_request())).status,
        200
    );
    assert_eq!(
        call("POST", &url, Some(&s.credential), Some(b"{}")).status,
        403
    );
    let text = call("GET", &server.url("/metrics"), None, None).body;
    for needle in [
        "mig06_build_info{version=",
        "mig06_attempt_stage_duration_seconds_count{stage=\"execute\"} 1",
        "mig06_attempt_stage_duration_seconds_count{stage=\"parse\"} 2",
        "mig06_executor_duration_seconds_count{outcome=\"completed\"} 1",
        "mig06_audit_batch_records_count",
        "mig06_audit_append_duration_seconds_bucket",
        "mig06_attempts_in_flight 0",
        "mig06_audit_startup_records 0",
        "mig06_audit_pg_reconnects_total 0",
    ] {
        assert!(text.contains(needle), "{needle} missing");
    }
    // promtool (Debian package `prometheus`) when installed; CI installs it.
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool is not installed: skipped the exposition check");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ready_is_distinct_from_health_and_says_ready_for_a_working_store() {
    let s = Setup::new(None, None);
    let server = Logged::start(&s.config, &[]);
    let r = call("GET", &server.url("/v1/ready"), None, None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"status": "ready"}));
    assert_eq!(r.cache_control.as_deref(), Some("no-store"));
}

#[test]
fn ready_is_503_while_the_audit_database_is_unreachable() {
    let s = Setup::new(None, None);
    let text = std::fs::read_to_string(&s.config).unwrap();
    // A port nothing listens on: the PostgreSQL store starts closed and stays unreachable.
    std::fs::write(
        &s.config,
        format!(
            "{text}\n[audit]\nbackend = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:9/none\"\nconnect_timeout_ms = 200\n"
        ),
    )
    .unwrap();
    let server = Logged::start(&s.config, &[]);
    let r = call("GET", &server.url("/v1/ready"), None, None);
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["reason"], "backend");
    assert_eq!(
        call("GET", &server.url("/v1/health"), None, None).status,
        200
    );
    let log = lines(&server.stop());
    assert_eq!(events(&log, "not_ready").len(), 1);
}

#[test]
fn chunked_bodies_are_accepted_capped_and_framed() {
    let s = Setup::new(None, None);
    let server = Logged::start(&s.config, &[]);
    let addr = server.addr();
    let head = format!(
        "POST /v1/attempts HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        s.credential
    );
    // A chunked attempt, then a pipelined request on the same connection: the guard found the
    // body's end, so the second head is read as a head.
    let mut bytes = head.clone().into_bytes();
    bytes.extend(chunked(&valid_request(), 7));
    bytes.extend(b"GET /v1/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    let out = raw(&addr, &bytes, Duration::from_secs(10));
    assert!(out.starts_with("HTTP/1.1 200"), "{out:.200}");
    assert!(out.contains("COMPLETED_DRAFT"));
    assert_eq!(out.matches("HTTP/1.1 200").count(), 2, "{out}");
    // Past max_request_bytes (64 KiB) decoded: 413, no attempt.
    let records = s.records();
    let mut bytes = head.clone().into_bytes();
    bytes.extend(chunked(&vec![b' '; 70 * 1024], 8192));
    let out = raw(&addr, &bytes, Duration::from_secs(10));
    assert!(out.starts_with("HTTP/1.1 413"), "{out:.200}");
    assert_eq!(s.records(), records);
    // Broken framing: 400 (the body could not be read), no attempt.
    let mut bytes = head.into_bytes();
    bytes.extend(b"zz\r\nhello\r\n0\r\n\r\n");
    let out = raw(&addr, &bytes, Duration::from_secs(10));
    assert!(out.starts_with("HTTP/1.1 400"), "{out:.200}");
    assert_eq!(s.records(), records);
    // Ambiguous framing stays refused.
    let both = "POST /v1/attempts HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n";
    assert!(raw(&addr, both.as_bytes(), Duration::from_secs(5)).starts_with("HTTP/1.1 400"));
}

#[test]
fn first_request_in_http_md_succeeds_copy_paste() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    assert!(
        Command::new(MIG06)
            .arg("init")
            .arg(&demo)
            .status()
            .unwrap()
            .success()
    );
    let config = demo.join("mig06.toml");
    let out = Command::new(MIG06)
        .args(["caller", "add", "console-1", "--kind", "operator"])
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
        .to_owned();
    let server = Logged::start(&config, &[]);
    let body = r#"{"request_id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","trigger":"operator_explicit","subject":"subj_7k3m9q2x4w8r5t6v","steps":[{"action":"draft_note","params":{"note_kind":"discharge_summary"}}]}"#;
    // The same request, with curl when it is installed (as the document shows it).
    let answer = match Command::new("curl")
        .args(["-sS", "-X", "POST", &server.url("/v1/attempts")])
        .args(["-H", &format!("Authorization: Bearer {credential}")])
        .args(["-H", "Content-Type: application/json", "-d", body])
        .output()
    {
        Ok(out) => String::from_utf8(out.stdout).unwrap(),
        Err(_) => {
            call(
                "POST",
                &server.url("/v1/attempts"),
                Some(&credential),
                Some(body.as_bytes()),
            )
            .body
        }
    };
    let v: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(v["code"], "COMPLETED_DRAFT", "{answer}");
    assert!(v["draft_ref"].is_string());
}

fn mig06(args: &[&str], config: &Path) -> std::process::Output {
    Command::new(MIG06)
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

#[test]
fn caller_list_remove_and_rotate_without_a_gap() {
    let s = Setup::new(None, None);
    let out = mig06(&["caller", "list"], &s.config);
    assert!(out.status.success());
    let listed: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1]["id"], "op-http");
    assert_eq!(listed[1]["bearer_credential"], true);
    assert!(!serde_json::to_string(&listed).unwrap().contains("sha256"));

    // Rotate: after a restart both credentials are admitted.
    let out = mig06(&["caller", "rotate", "op-http"], &s.config);
    assert!(out.status.success());
    let new = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    assert_ne!(new, s.credential);
    let server = Logged::start(&s.config, &[]);
    let url = server.url("/v1/attempts");
    for cred in [&s.credential, &new] {
        assert_eq!(
            call("POST", &url, Some(cred), Some(&valid_request())).status,
            200
        );
    }
    drop(server);
    // A second rotation before finishing is refused, file unchanged.
    let before = std::fs::read_to_string(&s.config).unwrap();
    assert!(
        !mig06(&["caller", "rotate", "op-http"], &s.config)
            .status
            .success()
    );
    assert_eq!(std::fs::read_to_string(&s.config).unwrap(), before);
    // Finish: the old one is refused after a restart, the new one still admitted.
    assert!(
        mig06(&["caller", "rotate", "op-http", "--finish"], &s.config)
            .status
            .success()
    );
    let server = Logged::start(&s.config, &[]);
    let url = server.url("/v1/attempts");
    assert_eq!(
        call("POST", &url, Some(&s.credential), Some(&valid_request())).status,
        401
    );
    assert_eq!(
        call("POST", &url, Some(&new), Some(&valid_request())).status,
        200
    );
    drop(server);

    // Remove: the caller is gone, the other caller untouched, the file still loads.
    assert!(
        mig06(&["caller", "remove", "op-http"], &s.config)
            .status
            .success()
    );
    let out = mig06(&["caller", "list"], &s.config);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.contains("operator-1"));
    assert!(
        !mig06(&["caller", "remove", "op-http"], &s.config)
            .status
            .success()
    );
    let server = Logged::start(&s.config, &[]);
    assert_eq!(
        call(
            "POST",
            &server.url("/v1/attempts"),
            Some(&new),
            Some(&valid_request())
        )
        .status,
        401
    );
}

/// The `sh` block under "The first request, copy-paste" in docs/HTTP.md, as it stands.
fn first_request_block() -> String {
    let doc = include_str!("../../../../docs/HTTP.md");
    let section = doc
        .split("## The first request, copy-paste")
        .nth(1)
        .expect("docs/HTTP.md has the section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the section has an sh block");
    block.to_owned()
}

#[test]
fn first_request_block_of_http_md_runs_verbatim() {
    use std::os::unix::process::CommandExt;
    let block = first_request_block();
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!(
            "skipped: curl is not installed (first_request_in_http_md_succeeds_copy_paste covers the steps)"
        );
        return;
    }
    // The block serves on the default port, 8406.
    if std::net::TcpListener::bind("127.0.0.1:8406").is_err() {
        eprintln!("skipped: 127.0.0.1:8406 is in use here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(MIG06).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!("{block}\necho\nkill %1\nwait\n"))
        .current_dir(dir.path())
        .env("PATH", path)
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let group = child.id();
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Whatever happened, nothing of the block outlives the test.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .status();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let answer = stdout
        .lines()
        .find(|l| l.contains("\"code\""))
        .unwrap_or_else(|| panic!("no answer: {stdout}\n{stderr}"));
    let v: Value = serde_json::from_str(answer).unwrap();
    assert_eq!(v["code"], "COMPLETED_DRAFT", "{answer}");
    assert!(v["draft_ref"].is_string());
    // serve said at start-up whom it admits: the caller the block added, with a credential.
    let callers: Vec<Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["event"] == "caller")
        .collect();
    assert!(
        callers
            .iter()
            .any(|c| c["caller_id"] == "console-1" && c["bearer_credential"] == true),
        "{stderr}"
    );
}
