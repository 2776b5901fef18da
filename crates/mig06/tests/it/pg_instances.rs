//! Two `mig06 serve` instances on one PostgreSQL audit log (`MIG06_TEST_DATABASE_URL`, or a
//! throwaway cluster): interleaved load with continuations, a continuation raced across both,
//! one instance killed with SIGKILL, the database's sessions cut mid-load; then `audit verify`
//! passes and every answered attempt is in the log once with the code it was told.

#[path = "../../../mig06-audit-pg/tests/common/pgtest.rs"]
#[allow(
    unreachable_pub,
    reason = "shared with the PostgreSQL store's own tests, where the items are used"
)]
mod pgtest;

use std::collections::HashMap;
use std::process::Command;

use crate::common::{MIG06, Server, Setup, call, valid_request};
use serde_json::{Value, json};

/// A set-up whose audit log is a fresh PostgreSQL database, migrated by `mig06 audit migrate`.
fn pg_setup() -> (Setup, String) {
    let url = pgtest::fresh_database();
    (pg_setup_on(&url, None), url)
}

/// A set-up whose audit log is the database at `url`, migrated by `mig06 audit migrate`, with
/// `attempt_timeout_ms` when given.
fn pg_setup_on(url: &str, timeout_ms: Option<u64>) -> Setup {
    let s = Setup::new(None, timeout_ms);
    let mut text = std::fs::read_to_string(&s.config).unwrap();
    text.push_str("\n[audit]\nbackend = \"postgres\"\nurl_env = \"MIG06_TEST_AUDIT_URL\"\n");
    std::fs::write(&s.config, text).unwrap();
    let out = Command::new(MIG06)
        .args(["audit", "migrate", "--config"])
        .arg(&s.config)
        .env("MIG06_TEST_AUDIT_URL", url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s
}

fn serve(s: &Setup, url: &str) -> Server {
    Server::start_with_env(&s.config, &[], &[("MIG06_TEST_AUDIT_URL", url)])
}

fn mig06(s: &Setup, url: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(MIG06)
        .args(args)
        .arg("--config")
        .arg(&s.config)
        .env("MIG06_TEST_AUDIT_URL", url)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn post(server: &Server, s: &Setup, body: &[u8]) -> Option<Value> {
    let a = crate::common::call_via(
        &crate::common::agent(),
        "POST",
        &server.url("/v1/attempts"),
        Some(&s.credential),
        Some(body),
    )
    .ok()?;
    serde_json::from_str(&a.body).ok()
}

fn denied_request() -> Value {
    let mut r: Value = serde_json::from_slice(&valid_request()).unwrap();
    r["steps"][0]["params"]["note_kind"] = json!("prior_authorisation");
    r
}

fn continuation_of(evidence: &Value) -> Vec<u8> {
    let mut r: Value = serde_json::from_slice(&valid_request()).unwrap();
    r["trigger"] = json!("operator_continuation");
    r["continuation"] = json!({"evidence": evidence, "reason": "operator_amended_request"});
    r.to_string().into_bytes()
}

/// The log as `mig06 audit show` prints it: terminal codes by attempt id.
fn terminal_codes(s: &Setup, url: &str) -> HashMap<String, Vec<String>> {
    let (code, out, err) = mig06(s, url, &["audit", "show"]);
    assert_eq!(code, 0, "{err}");
    let mut m: HashMap<String, Vec<String>> = HashMap::new();
    for line in out.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        if r["kind"] == "terminal" {
            m.entry(r["attempt_id"].as_str().unwrap().to_owned())
                .or_default()
                .push(r["code"].as_str().unwrap().to_owned());
        }
    }
    m
}

#[test]
fn inv_audit_pg_one_log_two_instances_through_a_kill_and_a_session_cut() {
    let (s, url) = pg_setup();
    // The caller must be allowed to continue (the init config registers operator_explicit).
    let out = Command::new(MIG06)
        .args(["caller", "add", "op-cont", "--kind", "operator"])
        .args([
            "--trigger",
            "operator_explicit",
            "--trigger",
            "operator_continuation",
        ])
        .arg("--config")
        .arg(&s.config)
        .output()
        .unwrap();
    assert!(out.status.success());
    let cont_credential = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    let cont = Setup {
        dir: tempfile::tempdir().unwrap(),
        config: s.config.clone(),
        credential: cont_credential,
    };
    let a = serve(&s, &url);
    let b = serve(&s, &url);
    let mut told: Vec<(String, String)> = Vec::new();
    let mut remember = |v: &Value| {
        told.push((
            v["attempt_id"].as_str().unwrap().to_owned(),
            v["code"].as_str().unwrap().to_owned(),
        ));
    };

    // Interleaved load on both instances; denied priors to continue later.
    let mut priors = Vec::new();
    for i in 0..20 {
        let server = if i % 2 == 0 { &a } else { &b };
        let v = post(server, &cont, &valid_request()).unwrap();
        assert_eq!(v["code"], "COMPLETED_DRAFT", "{v}");
        remember(&v);
        let d = post(server, &cont, denied_request().to_string().as_bytes()).unwrap();
        assert_eq!(d["code"], "DENIED_POLICY", "{d}");
        remember(&d);
        priors.push(d["evidence"].clone());
    }

    // A continuation raced across the two instances (two requests, each with its own request
    // id): accepted exactly once.
    for ev in priors.iter().take(5) {
        let (body_a, body_b) = (continuation_of(ev), continuation_of(ev));
        let (ra, rb) = std::thread::scope(|sc| {
            let ha = sc.spawn(|| post(&a, &cont, &body_a));
            let hb = sc.spawn(|| post(&b, &cont, &body_b));
            (ha.join().unwrap().unwrap(), hb.join().unwrap().unwrap())
        });
        let codes = [ra["code"].as_str().unwrap(), rb["code"].as_str().unwrap()];
        let completed = codes.iter().filter(|c| **c == "COMPLETED_DRAFT").count();
        assert_eq!(completed, 1, "{codes:?}");
        assert!(
            codes.contains(&"DENIED_CONTINUATION_ALREADY_USED"),
            "{codes:?}"
        );
        remember(&ra);
        remember(&rb);
    }
    // A continuation whose prior was written by the other instance.
    let v = post(&b, &cont, &continuation_of(&priors[6])).unwrap();
    assert_eq!(v["code"], "COMPLETED_DRAFT", "{v}");
    remember(&v);

    // SIGKILL one instance; the other goes on.
    let mut a = a;
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    for _ in 0..5 {
        let v = post(&b, &cont, &valid_request()).unwrap();
        assert_eq!(v["code"], "COMPLETED_DRAFT", "{v}");
        remember(&v);
    }
    // The database ends every session (a restart or failover): the next attempts work without
    // restarting the rail.
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .unwrap();
    let mut after_cut = Vec::new();
    for _ in 0..3 {
        let v = post(&b, &cont, &valid_request()).unwrap();
        after_cut.push(v["code"].as_str().unwrap().to_owned());
        remember(&v);
    }
    // No attempt was in flight when the sessions ended: the dead connection is replaced before
    // anything is written, so every attempt completes.
    assert_eq!(after_cut, ["COMPLETED_DRAFT"; 3]);
    // A restarted instance serves again.
    let c = serve(&s, &url);
    let v = post(&c, &cont, &valid_request()).unwrap();
    assert_eq!(v["code"], "COMPLETED_DRAFT", "{v}");
    remember(&v);

    let (code, out, err) = mig06(&s, &url, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["ok"], true);
    let log = terminal_codes(&s, &url);
    for (attempt, code) in &told {
        assert_eq!(
            log.get(attempt).map(Vec::as_slice),
            Some(std::slice::from_ref(code)),
            "attempt {attempt} was told {code}"
        );
    }
    // Every answered evidence token proves against the shared log from either instance.
    let (code, out, err) = mig06(&s, &url, &["audit", "prove", &told[0].0]);
    assert_eq!(code, 0, "{out}{err}");
    drop(b);
    drop(c);
    let _ = call;
}

/// The judged shape of issue 26 (INV-DEADLINE-ANSWERED): two `mig06 serve` instances on one
/// log under load, every process of the database stopped (SIGSTOP) and resumed. Every request is
/// answered by its deadline plus the margin with a documented code, both instances serve again
/// as soon as the database does, `audit verify` passes, and every answer that was recorded is in
/// the log once with its code.
#[test]
fn inv_deadline_answered_pg_two_served_instances_through_a_stopped_database() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    const BUDGET: Duration = Duration::from_millis(1500);
    const MARGIN: Duration = Duration::from_secs(2);
    const SLACK: Duration = Duration::from_millis(1500);
    let cluster = pgtest::own_cluster();
    let url = cluster.fresh_database();
    let s = pg_setup_on(&url, Some(1500));
    let servers = Arc::new([serve(&s, &url), serve(&s, &url)]);
    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..6)
        .map(|i| {
            let (servers, stop) = (Arc::clone(&servers), Arc::clone(&stop));
            let (base, credential) = (servers[i % 2].base.clone(), s.credential.clone());
            std::thread::spawn(move || {
                let mut told = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    let a = call(
                        "POST",
                        &format!("{base}/v1/attempts"),
                        Some(&credential),
                        Some(&valid_request()),
                    );
                    told.push((a, started.elapsed()));
                }
                told
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    cluster.stop();
    std::thread::sleep(BUDGET + MARGIN + SLACK + Duration::from_secs(2));
    cluster.resume();
    // Service comes back: each instance completes an attempt again once its connection is
    // re-established (on a loaded machine the first attempt after the database resumes may
    // still end unconfirmed at its own deadline; a new attempt then completes).
    for server in servers.iter() {
        let back = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let v = post(server, &s, &valid_request()).unwrap();
            if v["code"] == "COMPLETED_DRAFT" {
                break;
            }
            assert_eq!(v["code"], "ABORTED_AUDIT_UNCONFIRMED", "{v}");
            assert!(
                std::time::Instant::now() < back,
                "service did not come back: {v}"
            );
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let told: Vec<_> = callers
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let last = Instant::now();
    let mut stalled = 0;
    let mut recorded: Vec<(String, String)> = Vec::new();
    for (a, waited) in &told {
        assert!(
            *waited <= BUDGET + MARGIN + SLACK,
            "answered after {waited:?}: {}",
            a.body
        );
        if a.status == 503 {
            continue; // admission refused at once: no attempt, nothing recorded
        }
        let v = a.json();
        let code = v["code"].as_str().unwrap().to_owned();
        assert!(
            [
                "COMPLETED_DRAFT",
                "ABORTED_AUDIT_UNCONFIRMED",
                "ABORTED_DEADLINE"
            ]
            .contains(&code.as_str()),
            "{v}"
        );
        stalled += usize::from(code != "COMPLETED_DRAFT");
        if v["recorded"] == true {
            recorded.push((v["attempt_id"].as_str().unwrap().to_owned(), code));
        }
    }
    assert!(stalled > 0, "no attempt met the stopped database");

    // Once every attempt's open record is past its deadline (plus the 5 s grace), one more
    // attempt ends those whose terminal record was never written.
    std::thread::sleep(
        (last + BUDGET + Duration::from_millis(5300)).saturating_duration_since(Instant::now()),
    );
    let v = post(&servers[0], &s, &valid_request()).unwrap();
    assert_eq!(v["code"], "COMPLETED_DRAFT", "{v}");
    let (code, out, err) = mig06(&s, &url, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    let log = terminal_codes(&s, &url);
    assert!(
        log.values().all(|codes| codes.len() == 1),
        "an attempt ended twice"
    );
    for (attempt, code) in &recorded {
        assert_eq!(
            log.get(attempt).map(Vec::as_slice),
            Some(std::slice::from_ref(code)),
            "attempt {attempt} was told {code}"
        );
    }
}
