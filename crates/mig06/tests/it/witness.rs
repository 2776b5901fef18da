//! Witnessed history end to end (INV-WITNESSED, INV-WITNESS-ATOMIC, INV-WITNESS-ONE-RULE):
//! real `mig06 witness serve` processes and a real `mig06 serve` configured with them, over
//! HTTP. Cosigned evidence verifies offline with the witness key and not with another; a data
//! directory rolled back to an earlier copy is refused before any step runs, and so is every
//! attempt after it; a quorum of 2 of 3 survives one witness down, fails closed with two down,
//! and serves again once they are back; a witness killed and restarted under load keeps its
//! state and never cosigns a smaller tree.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use mig06_witness::protocol::AddCheckpointRequest;

use crate::common::{self, MIG06, Server, Setup, call, draft_service, valid_request};

/// A witness: its directory, name, port, and its `mig06 witness serve` process when running.
struct WitnessProc {
    _dir: tempfile::TempDir,
    path: PathBuf,
    name: String,
    addr: String,
    child: Option<Child>,
}

fn mig06(args: &[&str]) -> std::process::Output {
    Command::new(MIG06).args(args).output().unwrap()
}

impl WitnessProc {
    /// `mig06 witness init` + `add-log` (the set-up's log key) + `serve` on a free port.
    fn start(name: &str, s: &Setup) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w");
        let p = path.to_str().unwrap();
        let out = mig06(&["witness", "init", p, "--name", name]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let vkey = s.dir.path().join("keys/log.vkey");
        let out = mig06(&["witness", "add-log", p, vkey.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut w = Self {
            _dir: dir,
            path,
            name: name.to_owned(),
            addr: "127.0.0.1:0".to_owned(),
            child: None,
        };
        w.serve();
        w
    }

    /// Starts `mig06 witness serve` on `self.addr` (the first time an ephemeral port, which is
    /// kept for restarts) and waits for its listening line.
    fn serve(&mut self) {
        let mut child = Command::new(MIG06)
            .args(["witness", "serve"])
            .arg(&self.path)
            .args(["--listen", &self.addr])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let url = line.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "witness did not start: {line:?}"
        );
        self.addr = url.trim_start_matches("http://").to_owned();
        self.child = Some(child);
    }

    /// SIGKILL: no drain, no goodbye.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn vkey(&self) -> String {
        let out = mig06(&["witness", "vkey", self.path.to_str().unwrap()]);
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn vkey_file(&self) -> PathBuf {
        self.path.join("witness.vkey")
    }
}

impl Drop for WitnessProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Lists `witnesses` in the set-up's configuration with `quorum`.
fn configure(s: &Setup, witnesses: &[&WitnessProc], quorum: usize) {
    let mut text = std::fs::read_to_string(&s.config).unwrap();
    text.push_str(&format!("\n[audit]\nwitness_quorum = {quorum}\n"));
    for w in witnesses {
        text.push_str(&format!(
            "\n[[audit.witnesses]]\nname = \"{}\"\nurl = \"{}\"\nvkey = \"{}\"\n",
            w.name,
            w.url(),
            w.vkey()
        ));
    }
    std::fs::write(&s.config, text).unwrap();
}

fn attempt(server: &Server, s: &Setup) -> common::Answer {
    call(
        "POST",
        &server.url("/v1/attempts"),
        Some(&s.credential),
        Some(&valid_request()),
    )
}

fn stop(mut server: Server) {
    server.terminate();
    assert_eq!(server.wait(Duration::from_secs(10)), Some(0));
}

fn evidence_verify(s: &Setup, token: &str, witness_keys: &[&Path], quorum: usize) -> (i32, String) {
    let mut cmd = Command::new(MIG06);
    cmd.args(["evidence", "verify", "--pubkey"])
        .arg(s.dir.path().join("keys/log.vkey"));
    for k in witness_keys {
        cmd.arg("--witness-key").arg(k);
    }
    let out = cmd
        .args(["--witness-quorum", &quorum.to_string(), token])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

/// The checkpoint note inside an evidence token.
fn token_checkpoint(token: &str) -> String {
    use base64::Engine as _;
    let body = token.strip_prefix("mig06ev1.").unwrap();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    v["checkpoint"].as_str().unwrap().to_owned()
}

/// The witnesses' origin hash of the set-up's log.
fn origin_hash(s: &Setup) -> String {
    let vkey = std::fs::read_to_string(s.dir.path().join("keys/log.vkey")).unwrap();
    mig06_witness::store::origin_hash(vkey.split('+').next().unwrap())
}

#[test]
fn inv_witness_one_rule_cosigned_evidence_verifies_offline_with_the_witness_key_only() {
    let s = Setup::new(None, None);
    let w = WitnessProc::start("w1.witness.example", &s);
    configure(&s, &[&w], 1);
    let server = s.serve();
    let a = attempt(&server, &s);
    assert_eq!(a.status, 200, "{}", a.body);
    let token = a.json()["evidence"].as_str().unwrap().to_owned();
    // The token's checkpoint carries the witness's cosignature line.
    let cp = token_checkpoint(&token);
    assert!(cp.contains("\n\u{2014} w1.witness.example "), "{cp}");

    let (code, out) = evidence_verify(&s, &token, &[&w.vkey_file()], 1);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["cosigners"][0]["name"], "w1.witness.example");
    assert!(v["cosigners"][0]["timestamp"].as_u64().unwrap() > 1_700_000_000);

    // Another witness's key: refused, naming the witness that did not cosign; exit 1 as for
    // any token that does not verify.
    let other = WitnessProc::start("w2.witness.example", &s);
    let (code, out) = evidence_verify(&s, &token, &[&other.vkey_file()], 1);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], false);
    let error = v["error"].as_str().unwrap();
    assert!(
        error.contains("no valid cosignature by: w2.witness.example"),
        "{error}"
    );
    // A quorum of two with one of them absent: refused too.
    let (code, _) = evidence_verify(&s, &token, &[&w.vkey_file(), &other.vkey_file()], 2);
    assert_eq!(code, 1);
    // The same witness's key twice is not a quorum of two: refused up front, naming it.
    let out = Command::new(MIG06)
        .args(["evidence", "verify", "--pubkey"])
        .arg(s.dir.path().join("keys/log.vkey"))
        .arg("--witness-key")
        .arg(w.vkey_file())
        .arg("--witness-key")
        .arg(w.vkey_file())
        .args(["--witness-quorum", "2", &token])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("w1.witness.example is given more than once"),
        "{err}"
    );
    // A witness key that is a private key: a usage error, the key never printed.
    let out = Command::new(MIG06)
        .args(["evidence", "verify", "--pubkey"])
        .arg(s.dir.path().join("keys/log.vkey"))
        .arg("--witness-key")
        .arg(w.path.join("witness.key"))
        .arg(&token)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("private key") && !err.contains("PRIVATE+KEY"),
        "{err}"
    );

    // `audit verify` with the token as the trusted checkpoint and the witness's quorum.
    let token_file = s.dir.path().join("token.txt");
    std::fs::write(&token_file, &token).unwrap();
    let out = Command::new(MIG06)
        .args(["audit", "verify", "--config"])
        .arg(&s.config)
        .arg("--trusted-checkpoint")
        .arg(&token_file)
        .arg("--witness-key")
        .arg(w.vkey_file())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["witnessed"]["cosigners"][0]["name"], "w1.witness.example");
    let out = Command::new(MIG06)
        .args(["audit", "verify", "--config"])
        .arg(&s.config)
        .arg("--trusted-checkpoint")
        .arg(&token_file)
        .arg("--witness-key")
        .arg(other.vkey_file())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);

    // The witness's monitoring view: its latest cosigned checkpoint of this log.
    let latest = call(
        "GET",
        &format!("{}/{}/checkpoint", w.url(), origin_hash(&s)),
        None,
        None,
    );
    assert_eq!(latest.status, 200);
    assert!(latest.body.contains("\u{2014} w1.witness.example "));
    let none = call(
        "GET",
        &format!("{}/{}/checkpoint", w.url(), "0".repeat(64)),
        None,
        None,
    );
    assert_eq!(none.status, 404);

    // The independent Python verifier (C2SP text only) accepts the token's cosignature.
    if python_ready() {
        let mut child = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../mig06-tlog/tests/cosignature_ref.py"
            ))
            .args(["verify", &w.vkey()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), cp.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8(out.stdout).unwrap().starts_with("ok "));
    } else {
        eprintln!("python3 with cryptography is not installed: skipped the independent check");
    }
}

fn python_ready() -> bool {
    Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Copies a directory tree.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn inv_witnessed_a_rolled_back_data_dir_is_refused_before_any_step_over_http() {
    // INV-WITNESSED: a data directory put back to an earlier genuine copy is caught by the
    // witness, which has cosigned a larger tree; no step runs then or after.
    let downstream = draft_service::start("127.0.0.1:0").unwrap();
    let s = Setup::new(Some(&downstream.url("/draft")), None);
    let w = WitnessProc::start("w1.witness.example", &s);
    configure(&s, &[&w], 1);
    let server = s.serve();
    assert_eq!(attempt(&server, &s).code(), "COMPLETED_DRAFT");
    stop(server);
    let data = s.dir.path().join("data");
    let saved = s.dir.path().join("data.saved");
    copy_dir(&data, &saved);
    let server = s.serve();
    assert_eq!(attempt(&server, &s).code(), "COMPLETED_DRAFT");
    stop(server);
    assert_eq!(downstream.calls("/draft"), 2);
    // The rollback: the whole data directory back to the earlier copy.
    std::fs::remove_dir_all(&data).unwrap();
    std::fs::rename(&saved, &data).unwrap();
    let server = s.serve();
    for _ in 0..2 {
        let a = attempt(&server, &s);
        assert_eq!(a.status, 422, "{}", a.body);
        assert_eq!(a.code(), "ABORTED_LOG_ROLLBACK", "{}", a.body);
    }
    assert_eq!(
        downstream.calls("/draft"),
        2,
        "no step ran on the rolled-back log"
    );
    let ready = call("GET", &server.url("/v1/ready"), None, None);
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["reason"], "log_rollback");
    let metrics = call("GET", &server.url("/metrics"), None, None).body;
    assert!(
        metrics.contains("mig06_witness_detections_total{reason=\"witness_knows_larger_tree\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("mig06_witness_rollback_latched 1"));
}

#[test]
fn inv_witnessed_quorum_two_of_three_survives_one_down_fails_closed_with_two_and_recovers() {
    let downstream = draft_service::start("127.0.0.1:0").unwrap();
    let s = Setup::new(Some(&downstream.url("/draft")), Some(3000));
    let mut ws: Vec<WitnessProc> = (1..=3)
        .map(|i| WitnessProc::start(&format!("w{i}.witness.example"), &s))
        .collect();
    configure(&s, &ws.iter().collect::<Vec<_>>(), 2);
    let server = s.serve();
    assert_eq!(attempt(&server, &s).code(), "COMPLETED_DRAFT");
    ws[0].kill();
    let a = attempt(&server, &s);
    assert_eq!(a.code(), "COMPLETED_DRAFT", "{}", a.body);
    assert_eq!(
        call("GET", &server.url("/v1/ready"), None, None).status,
        200
    );
    ws[1].kill();
    let calls = downstream.calls("/draft");
    let a = attempt(&server, &s);
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(a.code(), "ABORTED_AUDIT_UNCONFIRMED", "{}", a.body);
    assert_eq!(
        a.json()["detail"]["reason"],
        "witness_quorum_unconfirmed",
        "{}",
        a.body
    );
    assert_eq!(
        downstream.calls("/draft"),
        calls,
        "no step ran without the quorum"
    );
    let ready = call("GET", &server.url("/v1/ready"), None, None);
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["reason"], "witness_unconfirmed");
    // Back on their ports: the next attempt completes, and the service is ready again.
    ws[0].serve();
    ws[1].serve();
    let a = attempt(&server, &s);
    assert_eq!(a.code(), "COMPLETED_DRAFT", "{}", a.body);
    assert_eq!(
        call("GET", &server.url("/v1/ready"), None, None).status,
        200
    );
    let metrics = call("GET", &server.url("/metrics"), None, None).body;
    let value = |series: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in {metrics}"))
    };
    // Witnesses are asked in order until the quorum cosigned: w3 only while w1 or w2 was
    // down; w2 was down for one attempt (its open and its terminal batch).
    assert!(
        value(
            "mig06_witness_submissions_total{witness=\"w2.witness.example\",result=\"unavailable\"}"
        ) >= 1
    );
    assert_eq!(
        value(
            "mig06_witness_submissions_total{witness=\"w3.witness.example\",result=\"unavailable\"}"
        ),
        0
    );
    assert!(
        value(
            "mig06_witness_submissions_total{witness=\"w3.witness.example\",result=\"cosigned\"}"
        ) >= 2
    );
    assert!(
        value("mig06_witness_submission_duration_seconds_count{witness=\"w3.witness.example\"}")
            >= 2
    );
    assert_eq!(
        value("mig06_witness_detections_total{reason=\"witness_disagrees\"}"),
        0
    );
    assert_eq!(value("mig06_witness_rollback_latched"), 0);
    assert_eq!(value("mig06_witness_quorum"), 2);
    // The witness series pass promtool's exposition check too (when it is installed).
    if let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), metrics.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn inv_witness_atomic_a_witness_killed_and_restarted_under_load_keeps_its_state() {
    // INV-WITNESS-ATOMIC: the witness answers only after its state is durable, so after a
    // SIGKILL it still knows at least every size it cosigned, and refuses a smaller tree.
    let s = Setup::new(None, Some(3000));
    let mut w = WitnessProc::start("w1.witness.example", &s);
    configure(&s, &[&w], 1);
    let server = s.serve();
    let url = server.url("/v1/attempts");
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (url, cred) = (url.clone(), s.credential.clone());
        let (done, stop) = (Arc::clone(&done), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut out = Vec::new();
            while !stop.load(Ordering::SeqCst) && out.len() < 2000 {
                let a = call("POST", &url, Some(&cred), Some(&valid_request()));
                let token = a.json()["evidence"].as_str().map(str::to_owned);
                out.push((a.code(), token));
                done.fetch_add(1, Ordering::SeqCst);
            }
            out
        })
    };
    let wait_for = |n: usize| {
        let start = std::time::Instant::now();
        while done.load(Ordering::SeqCst) < n && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    wait_for(10);
    w.kill();
    let down = done.load(Ordering::SeqCst);
    wait_for(down + 3);
    w.serve();
    wait_for(done.load(Ordering::SeqCst) + 10);
    stop.store(true, Ordering::SeqCst);
    let results = load.join().unwrap();
    for (code, _) in &results {
        assert!(
            code == "COMPLETED_DRAFT" || code == "ABORTED_AUDIT_UNCONFIRMED",
            "{code}"
        );
    }
    // Some attempts ran into the dead witness (and failed closed), and the load completed
    // again once it was back.
    assert!(
        results
            .iter()
            .any(|(c, _)| c == "ABORTED_AUDIT_UNCONFIRMED")
    );
    assert_eq!(results.last().unwrap().0, "COMPLETED_DRAFT");
    // After the restart the witness cosigns again.
    assert_eq!(attempt(&server, &s).code(), "COMPLETED_DRAFT");
    // The largest cosigned size handed out, and a checkpoint of a smaller tree.
    let sizes: Vec<(u64, String)> = results
        .iter()
        .filter(|(code, _)| code == "COMPLETED_DRAFT")
        .filter_map(|(_, t)| t.as_deref())
        .map(|t| {
            let cp = token_checkpoint(t);
            let size: u64 = cp.lines().nth(1).unwrap().parse().unwrap();
            (size, cp)
        })
        .collect();
    let largest = sizes.iter().map(|(n, _)| *n).max().unwrap();
    let (small, note) = sizes.iter().min_by_key(|(n, _)| *n).unwrap();
    assert!(*small < largest || sizes.len() == 1);
    w.kill();
    w.serve();
    // A smaller tree offered from zero: 409 with a size at least the largest cosigned.
    let body = AddCheckpointRequest::new(0, &[], note).unwrap().encode();
    let answer = call(
        "POST",
        &format!("{}/add-checkpoint", w.url()),
        None,
        Some(body.as_bytes()),
    );
    assert_eq!(answer.status, 409, "{}", answer.body);
    let known: u64 = answer.body.trim().parse().unwrap();
    assert!(known >= largest, "the witness forgot: {known} < {largest}");
    drop(server);
}

#[test]
fn inv_witness_interop_witness_serve_answers_the_spec_status_codes_and_locks_its_directory() {
    let s = Setup::new(None, None);
    let w = WitnessProc::start("w1.witness.example", &s);
    let add = |body: &[u8]| {
        call(
            "POST",
            &format!("{}/add-checkpoint", w.url()),
            None,
            Some(body),
        )
    };
    // 400 malformed (the body is never echoed), 413 over 64 KiB, 404 unknown origin.
    let secret = "PATIENT-ZZZ-4711";
    let a = add(format!("old {secret}\n\nx\n").as_bytes());
    assert_eq!(a.status, 400);
    assert!(!a.body.contains(secret));
    assert_eq!(add(&vec![b'a'; 70 * 1024]).status, 413);
    let stranger = mig06_rail::tlog::checkpoint::LogSigner::generate("other.example/log").unwrap();
    let note = stranger.sign(&mig06_rail::tlog::checkpoint::Checkpoint {
        origin: String::new(),
        size: 0,
        root: mig06_rail::tlog::empty_root(),
    });
    let body = AddCheckpointRequest::new(0, &[], &note).unwrap().encode();
    assert_eq!(add(body.as_bytes()).status, 404);
    // 403: the log's origin, another key.
    let origin = std::fs::read_to_string(s.dir.path().join("keys/log.vkey"))
        .unwrap()
        .split('+')
        .next()
        .unwrap()
        .to_owned();
    let imposter = mig06_rail::tlog::checkpoint::LogSigner::generate(&origin).unwrap();
    let note = imposter.sign(&mig06_rail::tlog::checkpoint::Checkpoint {
        origin: String::new(),
        size: 0,
        root: mig06_rail::tlog::empty_root(),
    });
    let body = AddCheckpointRequest::new(0, &[], &note).unwrap().encode();
    assert_eq!(add(body.as_bytes()).status, 403);
    // The log's own (empty) checkpoint: 200 with a line; then 400 (old beyond) and 409.
    let signer =
        mig06_rail::rail::load_signer(&mig06_rail::config::Config::load(&s.config).unwrap())
            .unwrap();
    let empty = signer.sign(&mig06_rail::tlog::checkpoint::Checkpoint {
        origin: String::new(),
        size: 0,
        root: mig06_rail::tlog::empty_root(),
    });
    let body = AddCheckpointRequest::new(0, &[], &empty).unwrap().encode();
    let a = add(body.as_bytes());
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.starts_with("\u{2014} w1.witness.example "));
    let body = AddCheckpointRequest::new(1, &[], &empty).unwrap().encode();
    assert_eq!(add(body.as_bytes()).status, 400);
    // GET on the submission path: 405; unknown route: 404.
    assert_eq!(
        call("GET", &format!("{}/add-checkpoint", w.url()), None, None).status,
        405
    );
    assert_eq!(
        call("GET", &format!("{}/nothing", w.url()), None, None).status,
        404
    );
    // One process per directory: a second serve on the same directory refuses to start.
    let out = Command::new(MIG06)
        .args(["witness", "serve"])
        .arg(&w.path)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another"));
    // The private key is 0600 and never printed by `vkey`.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(w.path.join("witness.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(!w.vkey().contains("PRIVATE"));
    // add-log twice is idempotent; a non-key is refused without echoing it.
    let vkey = s.dir.path().join("keys/log.vkey");
    let out = mig06(&[
        "witness",
        "add-log",
        w.path.to_str().unwrap(),
        vkey.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("already accepted"));
    let out = mig06(&["witness", "add-log", w.path.to_str().unwrap(), secret]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(secret));
}
