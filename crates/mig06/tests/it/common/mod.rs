//! Shared helpers for the `http_*` integration tests: a fresh `mig06 init` set-up per test, a
//! real `mig06 serve` child process on an ephemeral port, and a plain HTTP client.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) const MIG06: &str = env!("CARGO_BIN_EXE_mig06");

/// A fresh set-up with an operator caller that has a bearer credential.
pub(crate) struct Setup {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) config: PathBuf,
    pub(crate) credential: String,
}

impl Setup {
    /// `mig06 init`, optionally switch to the HTTP executor and a shorter deadline, then
    /// `mig06 caller add op-http`.
    pub(crate) fn new(executor_url: Option<&str>, timeout_ms: Option<u64>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(MIG06)
            .arg("init")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "init failed");
        let config = dir.path().join("mig06.toml");
        let mut text = std::fs::read_to_string(&config).unwrap();
        if let Some(url) = executor_url {
            text = text.replace(
                "kind = \"reference\"",
                &format!("kind = \"http\"\nurl = \"{url}\""),
            );
        }
        if let Some(ms) = timeout_ms {
            text = text.replace(
                "attempt_timeout_ms = 10000",
                &format!("attempt_timeout_ms = {ms}"),
            );
        }
        std::fs::write(&config, text).unwrap();
        let out = Command::new(MIG06)
            .args(["caller", "add", "op-http", "--kind", "operator"])
            .args(["--trigger", "operator_explicit", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(out.status.success(), "caller add failed");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let credential = stdout.lines().last().unwrap().trim().to_owned();
        Self {
            dir,
            config,
            credential,
        }
    }

    /// The number of records in the audit log.
    pub(crate) fn records(&self) -> usize {
        let log = self.dir.path().join("data/audit/log.jsonl");
        std::fs::read_to_string(log)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    pub(crate) fn serve(&self) -> Server {
        Server::start(&self.config, &[])
    }

    /// `mig06 serve` with extra arguments, e.g. `["--max-in-flight", "2"]`.
    pub(crate) fn serve_with(&self, extra: &[&str]) -> Server {
        let args: Vec<&std::ffi::OsStr> = extra.iter().map(std::ffi::OsStr::new).collect();
        Server::start(&self.config, &args)
    }
}

/// A running `mig06 serve`; killed on drop unless it already exited.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Server {
    /// `mig06 serve --listen 127.0.0.1:0 --config CONFIG EXTRA...`; waits for its first line.
    pub(crate) fn start(config: &Path, extra: &[&std::ffi::OsStr]) -> Self {
        Self::start_with_env(config, extra, &[])
    }

    /// As [`Server::start`], with extra environment variables for the server process.
    pub(crate) fn start_with_env(
        config: &Path,
        extra: &[&std::ffi::OsStr],
        env: &[(&str, &str)],
    ) -> Self {
        let mut child = Command::new(MIG06)
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        assert!(
            base.starts_with("http://127.0.0.1:") || base.starts_with("https://127.0.0.1:"),
            "serve did not start"
        );
        Self { child, base }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM.
    pub(crate) fn terminate(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// Waits for exit (bounded) and returns the exit code.
    pub(crate) fn wait(&mut self, limit: Duration) -> Option<i32> {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Everything the server wrote to stderr (after it exited or was killed).
    pub(crate) fn stderr(&mut self) -> String {
        use std::io::Read;
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) cache_control: Option<String>,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
    pub(crate) fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
}

/// A client that returns every status as an answer, follows no redirect, with `tls`.
pub(crate) fn agent_with(tls: ureq::tls::TlsConfig) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .allow_non_standard_methods(true)
        .timeout_global(Some(Duration::from_secs(30)))
        .tls_config(tls)
        .build()
        .into()
}

/// The plain-HTTP client [`call`] uses.
pub(crate) fn agent() -> ureq::Agent {
    agent_with(ureq::tls::TlsConfig::default())
}

/// Sends `method url` with an optional bearer credential and body.
pub(crate) fn call(method: &str, url: &str, bearer: Option<&str>, body: Option<&[u8]>) -> Answer {
    call_via(&agent(), method, url, bearer, body).unwrap()
}

/// As [`call`], through `agent`; a transport or TLS failure is an error.
pub(crate) fn call_via(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    bearer: Option<&str>,
    body: Option<&[u8]>,
) -> Result<Answer, ureq::Error> {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    if let Some(b) = bearer {
        req = req.header("authorization", format!("Bearer {b}"));
    }
    let req = req.header("content-type", "application/json");
    let result = match body {
        Some(b) => agent.run(req.body(b.to_vec()).unwrap()),
        None => agent.run(req.body(()).unwrap()),
    };
    let mut resp = result?;
    let cache_control = resp
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    Ok(Answer {
        status,
        cache_control,
        body,
    })
}

/// Starts a server with `serve` in front of the example downstream's `/slow` route, posts an
/// attempt with `post(url, credential)` and sends SIGTERM while the downstream holds the call.
/// The attempt must still complete and be recorded, the server exit 0, and a new attempt after
/// that find the port closed, with exactly one downstream call in all.
pub(crate) fn sigterm_lets_the_in_flight_attempt_finish(
    serve: impl FnOnce(&Setup) -> Server,
    post: fn(&str, &str) -> Result<Answer, ureq::Error>,
) {
    let downstream = draft_service::start("127.0.0.1:0").unwrap();
    let s = Setup::new(Some(&downstream.url("/slow")), None);
    let mut server = serve(&s);
    let url = server.url("/v1/attempts");
    let in_flight = {
        let (url, cred) = (url.clone(), s.credential.clone());
        std::thread::spawn(move || post(&url, &cred).unwrap())
    };
    // Wait until the downstream has the call, then ask the server to stop.
    let start = std::time::Instant::now();
    while downstream.calls("/slow") == 0 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(downstream.calls("/slow"), 1);
    server.terminate();
    let a = in_flight.join().unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.code(), "COMPLETED_DRAFT");
    assert_eq!(server.wait(Duration::from_secs(10)), Some(0));
    assert_eq!(s.records(), 2);
    // No new attempts after shutdown: the port is closed.
    assert!(post(&url, &s.credential).is_err());
    assert_eq!(downstream.calls("/slow"), 1);
}

/// A valid one-step request (a new request id each time).
pub(crate) fn valid_request() -> Vec<u8> {
    let id = ulid_like();
    serde_json::json!({
        "request_id": id,
        "trigger": "operator_explicit",
        "subject": "subj_7k3m9q2x4w8r5t6v",
        "steps": [{"action": "draft_note", "params": {"note_kind": "discharge_summary"}}],
    })
    .to_string()
    .into_bytes()
}

fn ulid_like() -> String {
    // A fresh ULID (80 random bits): the clock alone repeats across threads that ask in the
    // same instant, and one request id runs one attempt.
    ulid::Ulid::new().to_string()
}

/// The example downstream drafting service (crates/mig06/examples/draft_service.rs).
#[path = "../../../examples/draft_service.rs"]
#[allow(
    unreachable_pub,
    reason = "the example's items are `pub` for its own binary"
)]
pub(crate) mod draft_service;
