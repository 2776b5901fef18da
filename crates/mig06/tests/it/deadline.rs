//! Every attempt ends by its deadline plus the documented margin, whatever a synchronous
//! dependency does (INV-DEADLINE-ANSWERED, issue 26): the same shape for each, a server that
//! accepts the TCP connection and never answers, through `mig06 serve` (the product path that
//! builds the HTTP executor and the witness clients from the configuration). The PostgreSQL
//! store's cases are in `crates/mig06-audit-pg/tests/stall.rs`.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use crate::common::{Setup, call, valid_request};

/// The attempts' budget (`attempt_timeout_ms`).
const BUDGET_MS: u64 = 1000;
/// `mig06_rail::audit::TERMINAL_APPEND_MARGIN`, as docs/OPERATIONS.md states it.
const MARGIN: Duration = Duration::from_secs(2);
/// Scheduling on a loaded machine, and the HTTP exchange with the test client.
const SLACK: Duration = Duration::from_millis(1500);

/// Accepts every connection and holds it, never answering.
fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    addr
}

/// One attempt through `mig06 serve`: its code and how long the caller waited.
fn one_attempt(s: &Setup) -> (String, Duration) {
    let server = s.serve();
    let started = Instant::now();
    let a = call(
        "POST",
        &server.url("/v1/attempts"),
        Some(&s.credential),
        Some(&valid_request()),
    );
    (a.code(), started.elapsed())
}

fn assert_in_time(waited: Duration) {
    let bound = Duration::from_millis(BUDGET_MS) + MARGIN + SLACK;
    assert!(
        waited <= bound,
        "answered after {waited:?}, past the deadline plus the margin"
    );
}

#[test]
fn inv_deadline_answered_an_http_executor_that_never_answers_ends_aborted_deadline() {
    let addr = silent_server();
    let s = Setup::new(Some(&format!("http://{addr}/draft")), Some(BUDGET_MS));
    let (code, waited) = one_attempt(&s);
    assert_eq!(code, "ABORTED_DEADLINE");
    assert_in_time(waited);
    assert_eq!(s.records(), 2, "the open record and the terminal record");
}

#[test]
fn inv_deadline_answered_a_witness_that_never_answers_ends_aborted_audit_unconfirmed() {
    let addr = silent_server();
    let s = Setup::new(None, Some(BUDGET_MS));
    let vkey = mig06_tlog::cosignature::WitnessSigner::generate("witness.example/w1")
        .unwrap()
        .verifier()
        .vkey();
    let mut text = std::fs::read_to_string(&s.config).unwrap();
    text.push_str(&format!(
        "\n[audit]\nwitness_quorum = 1\n\n[[audit.witnesses]]\nname = \"witness.example/w1\"\n\
         url = \"http://{addr}\"\nvkey = \"{vkey}\"\n"
    ));
    std::fs::write(&s.config, text).unwrap();
    let (code, waited) = one_attempt(&s);
    // The open record is durable but no witness cosigned it by the deadline: the step never
    // ran, and the terminal record (its own submission bounded by the margin) says so.
    assert_eq!(code, "ABORTED_AUDIT_UNCONFIRMED");
    assert_in_time(waited);
    assert_eq!(s.records(), 2);
}
