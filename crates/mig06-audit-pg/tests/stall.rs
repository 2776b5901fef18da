//! Every attempt ends by its deadline, even when PostgreSQL stops answering (INV-DEADLINE-ANSWERED,
//! issue 26): a server whose processes are stopped (SIGSTOP) under load and in the middle of a
//! commit, a network path that swallows bytes, and a server that accepts the connection and
//! never answers. Each attempt is answered by its deadline plus `TERMINAL_APPEND_MARGIN` with
//! `ABORTED_AUDIT_UNCONFIRMED` or `ABORTED_DEADLINE`; once the server answers again the rail
//! serves at once, the log verifies, and no attempt is in it twice.
//!
//! The stopped servers are clusters of the test's own (`pgtest::own_cluster`), never the
//! machine's shared server.
#![allow(
    unreachable_pub,
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::string_slice,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

#[path = "common/pgtest.rs"]
mod pgtest;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mig06_audit_pg::{Grants, PgStore, migrate, open_store, read_view};
use mig06_rail::audit::group::GroupCommit;
use mig06_rail::audit::verify::verify_view;
use mig06_rail::audit::{
    AuditError, AuditRecord, AuditStore, RecordKind, TERMINAL_APPEND_MARGIN, TERMINAL_GRACE,
};
use mig06_rail::config::{Config, PostgresAudit};
use mig06_rail::executor::Deadline;
use mig06_rail::ids::{AttemptId, CallerId, Sha256Digest};
use mig06_rail::outcome::TerminalCode;
use mig06_rail::rail::Rail;
use mig06_tlog::checkpoint::LogSigner;

/// The attempts' budget.
const BUDGET: Duration = Duration::from_millis(1500);
/// Scheduling on a loaded machine, on top of the documented margin.
const SLACK: Duration = Duration::from_millis(1500);

/// The codes an attempt may end with while the database does not answer.
const STALLED: [TerminalCode; 2] = [
    TerminalCode::AbortedAuditUnconfirmed,
    TerminalCode::AbortedDeadline,
];

/// How long after `deadline` the answer came (zero when before it).
fn late(deadline: Deadline, at: Instant) -> Duration {
    at.saturating_duration_since(deadline.instant())
}

fn assert_answered_in_time(what: &str, lateness: Duration) {
    assert!(
        lateness <= TERMINAL_APPEND_MARGIN + SLACK,
        "{what}: answered {lateness:?} after its deadline (margin {TERMINAL_APPEND_MARGIN:?})"
    );
}

fn request() -> Vec<u8> {
    serde_json::json!({
        "request_id": AttemptId::mint().to_string(),
        "trigger": "operator_explicit",
        "subject": "subj_7k3m9q2x4w8r5t6v",
        "steps": [{"action": "draft_note", "params": {"note_kind": "discharge_summary"}}]
    })
    .to_string()
    .into_bytes()
}

/// The log's records by attempt id: (kind, code) in log order.
type ByAttempt = HashMap<String, Vec<(RecordKind, Option<TerminalCode>)>>;

/// A `mig06 init` set-up (policy bundle, reference executor, log key) whose audit log is a
/// PostgreSQL database.
struct Setup {
    _dir: tempfile::TempDir,
    config: Config,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let report = mig06_rail::init::init(dir.path()).unwrap();
        let mut config = Config::load(&report.config).unwrap();
        config.attempt_timeout = BUDGET;
        Self { _dir: dir, config }
    }

    fn signer(&self) -> LogSigner {
        mig06_rail::rail::load_signer(&self.config).unwrap()
    }

    fn store(&self, settings: &PostgresAudit) -> (PgStore, mig06_rail::audit::file::OpenReport) {
        open_store(settings, self.signer()).unwrap()
    }

    /// A rail instance on the log at `settings` (the product path: `Rail` over `GroupCommit`
    /// over the `PgStore`).
    fn rail(&self, settings: &PostgresAudit) -> Arc<Rail> {
        let (store, report) = self.store(settings);
        Arc::new(
            Rail::open_with(self.config.clone(), Some((Box::new(store), report)), None).unwrap(),
        )
    }

    /// The log's records by attempt: (kind, code) in log order; `audit verify`'s report.
    fn log(&self, url: &str) -> (ByAttempt, mig06_rail::audit::verify::VerifyReport) {
        let mut by_attempt = ByAttempt::new();
        let view = read_view(
            &pgtest::settings(url),
            &self.signer().verifier(),
            &mut |_, _, r| {
                by_attempt
                    .entry(r.attempt_id.as_str().to_owned())
                    .or_default()
                    .push((r.kind(), r.code()));
            },
            &mut |_, _| {},
        )
        .unwrap();
        let report = verify_view(&view, None).unwrap();
        (by_attempt, report)
    }
}

fn migrated(url: &str) {
    migrate(&pgtest::settings(url), &Grants::default()).unwrap();
}

/// What a caller was told.
#[derive(Debug)]
struct Answer {
    attempt: String,
    code: TerminalCode,
    recorded: bool,
    late: Duration,
}

fn attempt(rail: &Rail) -> Answer {
    let caller = rail.local_caller("operator-1").unwrap();
    let deadline = Deadline::after(BUDGET);
    let o = rail.attempt_by(&caller, &request(), deadline);
    Answer {
        attempt: o.attempt_id.as_str().to_owned(),
        code: o.code,
        recorded: o.recorded,
        late: late(deadline, Instant::now()),
    }
}

/// Callers looping over `rails` until `stop`.
fn load(
    rails: &[Arc<Rail>],
    callers: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<Answer>>> {
    (0..callers)
        .map(|i| {
            let rail = Arc::clone(&rails[i % rails.len()]);
            let stop = Arc::clone(stop);
            std::thread::spawn(move || {
                let mut answers = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    answers.push(attempt(&rail));
                }
                answers
            })
        })
        .collect()
}

/// After the database answers again: every answer came in time; an answer that was recorded is
/// in the log with its code, once; no attempt is in the log twice; every attempt has ended
/// (the attempts whose terminal record could not be written were ended `ABORTED_INTERRUPTED` by
/// the next writer once their deadline had passed); `audit verify` passes.
fn check_settled(setup: &Setup, url: &str, answers: &[Answer]) {
    for a in answers {
        assert_answered_in_time(&format!("{} {:?}", a.attempt, a.code), a.late);
    }
    let (log, report) = setup.log(url);
    assert_eq!(report.overdue_open, 0, "an attempt was left open");
    for (id, records) in &log {
        let opens = records.iter().filter(|r| r.0 == RecordKind::Open).count();
        let terminals = records
            .iter()
            .filter(|r| r.0 == RecordKind::Terminal)
            .count();
        assert!(opens <= 1 && terminals == 1, "{id}: {records:?}");
    }
    for a in answers {
        let terminal = log
            .get(&a.attempt)
            .and_then(|r| r.iter().find(|r| r.0 == RecordKind::Terminal))
            .and_then(|r| r.1);
        if a.recorded {
            assert_eq!(terminal, Some(a.code), "{a:?}");
        } else {
            // Told unconfirmed: the log settles it (nothing, or the record that landed late,
            // or the next writer's ABORTED_INTERRUPTED), once.
            assert!(STALLED.contains(&a.code), "{a:?}");
        }
    }
}

/// Waits until every attempt answered so far is past its open record's deadline, then has
/// `rail` write once more, which ends them (INV-TERMINAL-DETERMINISM).
fn end_overdue(rail: &Rail, last_answer: Instant) {
    let due = last_answer + BUDGET + TERMINAL_GRACE + Duration::from_millis(300);
    std::thread::sleep(due.saturating_duration_since(Instant::now()));
    assert_eq!(attempt(rail).code, TerminalCode::CompletedDraft);
}

#[test]
fn inv_deadline_answered_pg_a_server_stopped_under_load_ends_every_attempt_by_its_deadline() {
    let cluster = pgtest::own_cluster();
    let url = cluster.fresh_database();
    migrated(&url);
    let setup = Setup::new();
    let settings = pgtest::settings(&url);
    // Two instances on one log.
    let rails = [setup.rail(&settings), setup.rail(&settings)];
    let stop = Arc::new(AtomicBool::new(false));
    let callers = load(&rails, 6, &stop);
    std::thread::sleep(Duration::from_millis(700));

    // Every process of the server stops: connections stay up, nothing answers.
    // Stopped for longer than a deadline plus the margin plus the slack: an attempt that waited
    // for the server to come back would be found late.
    cluster.stop();
    std::thread::sleep(BUDGET + TERMINAL_APPEND_MARGIN + SLACK + Duration::from_secs(2));
    cluster.resume();

    // Serving again at once: the next attempt on each instance completes.
    for rail in &rails {
        let a = attempt(rail);
        assert_eq!(a.code, TerminalCode::CompletedDraft, "{a:?}");
        assert!(rail.ready().is_ok());
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let answers: Vec<Answer> = callers
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let last = Instant::now();
    let stalled = answers.iter().filter(|a| STALLED.contains(&a.code)).count();
    assert!(stalled > 0, "no attempt met the stopped server");
    for a in &answers {
        assert!(
            a.code == TerminalCode::CompletedDraft || STALLED.contains(&a.code),
            "{a:?}"
        );
    }
    end_overdue(&rails[0], last);
    check_settled(&setup, &url, &answers);
}

fn open_record(id: &AttemptId) -> AuditRecord {
    AuditRecord::open(
        id.clone(),
        CallerId::parse("operator-1").unwrap(),
        Sha256Digest::of(b"policy"),
        AuditRecord::deadline_in(Duration::from_secs(600)),
    )
}

#[test]
fn inv_deadline_answered_pg_a_server_stopped_mid_commit_is_settled_by_the_log_once() {
    let cluster = pgtest::own_cluster();
    let url = cluster.fresh_database();
    migrated(&url);
    let setup = Setup::new();
    let (store, _) = setup.store(&pgtest::settings(&url));
    let group = Arc::new(GroupCommit::new(Box::new(store)));
    let first = AttemptId::mint();
    group
        .append(
            open_record(&first),
            Deadline::after(Duration::from_secs(60)),
        )
        .unwrap();
    // The server takes a while over every insert (its own work, as under a slow disk), so that
    // it can be stopped while it holds a batch's commit message.
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute(
            "CREATE FUNCTION mig06_t_slow() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN PERFORM pg_sleep(0.4); RETURN NULL; END $$; \
             CREATE TRIGGER mig06_t_slow AFTER INSERT ON mig06_records \
             FOR EACH STATEMENT EXECUTE FUNCTION mig06_t_slow()",
        )
        .unwrap();

    let id = AttemptId::mint();
    let appending = {
        let group = Arc::clone(&group);
        let record = open_record(&id);
        std::thread::spawn(move || {
            let bound = Deadline::after(Duration::from_secs(1));
            let r = group.append(record, bound);
            (r, late(bound, Instant::now()))
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    cluster.stop();
    let (r, lateness) = appending.join().unwrap();
    assert!(
        matches!(r, Err(AuditError::BoundPassed { sent: true })),
        "{r:?}"
    );
    assert!(lateness <= SLACK, "answered {lateness:?} after its bound");
    cluster.resume();
    admin
        .batch_execute("DROP TRIGGER mig06_t_slow ON mig06_records")
        .unwrap();

    // The server executed the commit it held once it ran again: the next batch finds the record
    // in the log and appends after it; the record was never sent twice.
    let next = group
        .append(open_record(&AttemptId::mint()), Deadline::after(BUDGET))
        .unwrap();
    assert_eq!(next.index, 2, "the stopped commit landed, once, before it");
    let (log, report) = setup.log(&url);
    assert_eq!(report.records, 3);
    assert_eq!(log[id.as_str()], vec![(RecordKind::Open, None)]);
}

/// A TCP proxy to `target` that forwards until `swallow` is set; from then on, each connection
/// it carries silently drops every byte, both ways, for good (a path that loses packets without
/// resetting the connection). Connections opened once `swallow` is cleared forward again.
fn swallowing_proxy(target: SocketAddr, swallow: Arc<AtomicBool>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(target) else {
                continue;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                let swallow = Arc::clone(&swallow);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    let mut dead = false;
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        dead |= swallow.load(Ordering::SeqCst);
                        if !dead && to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    addr
}

/// `url` with its host and port replaced.
fn via(url: &str, addr: SocketAddr) -> String {
    let cfg: postgres::Config = url.parse().unwrap();
    let mut parts = vec![
        format!("host={}", addr.ip()),
        format!("port={}", addr.port()),
    ];
    if let Some(u) = cfg.get_user() {
        parts.push(format!("user={u}"));
    }
    if let Some(p) = cfg.get_password() {
        parts.push(format!("password={}", String::from_utf8_lossy(p)));
    }
    if let Some(d) = cfg.get_dbname() {
        parts.push(format!("dbname={d}"));
    }
    parts.join(" ")
}

fn server_addr(url: &str) -> SocketAddr {
    let cfg: postgres::Config = url.parse().unwrap();
    let host = match &cfg.get_hosts()[0] {
        postgres::config::Host::Tcp(h) => h.clone(),
        postgres::config::Host::Unix(_) => panic!("the test server must be reached over TCP"),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
        .unwrap()
        .next()
        .unwrap()
}

#[test]
fn inv_deadline_answered_pg_a_path_that_swallows_bytes_ends_every_attempt_by_its_deadline() {
    let url = pgtest::fresh_database();
    migrated(&url);
    let setup = Setup::new();
    let swallow = Arc::new(AtomicBool::new(false));
    let proxy = swallowing_proxy(server_addr(&url), Arc::clone(&swallow));
    let rail = setup.rail(&pgtest::settings(&via(&url, proxy)));
    let mut answers = vec![attempt(&rail)];
    assert_eq!(answers[0].code, TerminalCode::CompletedDraft);

    swallow.store(true, Ordering::SeqCst);
    let stop = Arc::new(AtomicBool::new(false));
    let callers = load(std::slice::from_ref(&rail), 3, &stop);
    std::thread::sleep(BUDGET * 2);
    stop.store(true, Ordering::SeqCst);
    let during: Vec<Answer> = callers
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert!(!during.is_empty());
    for a in &during {
        assert!(STALLED.contains(&a.code), "{a:?}");
    }
    swallow.store(false, Ordering::SeqCst);

    // A new connection forwards again: the next attempt completes.
    let after = attempt(&rail);
    assert_eq!(after.code, TerminalCode::CompletedDraft, "{after:?}");
    answers.extend(during);
    answers.push(after);
    let last = Instant::now();
    end_overdue(&rail, last);
    check_settled(&setup, &url, &answers);
}

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

#[test]
fn inv_deadline_answered_pg_a_server_that_accepts_and_never_answers_bounds_start_up_and_attempts() {
    let addr = silent_server();
    let connect_timeout = Duration::from_millis(500);
    let settings = PostgresAudit::new(
        format!(
            "host={} port={} user=postgres dbname=postgres",
            addr.ip(),
            addr.port()
        ),
        connect_timeout,
    );
    let setup = Setup::new();
    let within = |what: &str, started: Instant, bound: Duration| {
        let took = started.elapsed();
        assert!(took <= bound + SLACK, "{what} took {took:?}");
    };

    // Start-up: the store opens unopened (fails closed) within the connect timeout.
    let started = Instant::now();
    let (mut store, report) = setup.store(&settings);
    within("open", started, connect_timeout);
    assert!(!store.is_open());
    assert_eq!(report.records, 0);

    // A batch whose bound comes first: nothing was sent.
    let started = Instant::now();
    let bound = Duration::from_millis(200);
    let r = store.append_batch(
        vec![open_record(&AttemptId::mint())],
        Deadline::after(bound),
    );
    within("a batch", started, bound);
    assert!(
        matches!(r.as_slice(), [Err(AuditError::BoundPassed { sent: false })]),
        "{r:?}"
    );
    // A batch with time to spare: the connection's own timeout ends it.
    let started = Instant::now();
    let r = store.append_batch(
        vec![open_record(&AttemptId::mint())],
        Deadline::after(Duration::from_secs(30)),
    );
    within("a batch", started, connect_timeout);
    assert!(
        matches!(r.as_slice(), [Err(AuditError::Backend { .. })]),
        "{r:?}"
    );
    let started = Instant::now();
    assert!(store.ready().is_err());
    within("ready", started, connect_timeout);

    // Auditors and `audit migrate` give up within the connect timeout too.
    let started = Instant::now();
    assert!(
        read_view(
            &settings,
            &setup.signer().verifier(),
            &mut |_, _, _| {},
            &mut |_, _| {}
        )
        .is_err()
    );
    within("read_view", started, connect_timeout);
    let started = Instant::now();
    assert!(migrate(&settings, &Grants::default()).is_err());
    within("migrate", started, connect_timeout);

    // Through the rail: every attempt ends by its deadline plus the margin.
    let rail = Arc::new(
        Rail::open_with(setup.config.clone(), Some((Box::new(store), report)), None).unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let callers = load(std::slice::from_ref(&rail), 3, &stop);
    std::thread::sleep(BUDGET);
    stop.store(true, Ordering::SeqCst);
    for a in callers.into_iter().flat_map(|h| h.join().unwrap()) {
        assert!(STALLED.contains(&a.code), "{a:?}");
        assert_answered_in_time(&a.attempt, a.late);
    }
    assert!(rail.ready().is_err());
}

/// A proxy whose first connection is cut (both ways closed) once the server sent `budget`
/// bytes through it; later connections pass. What a server shutdown, a failover or a killed
/// backend looks like to a client in the middle of a read.
fn cutting_proxy(target: SocketAddr, budget: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(target) else {
                continue;
            };
            let cut = n == 0;
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut c_read, mut s_write) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n) = c_read.read(&mut buf) {
                    if n == 0 || s_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
            std::thread::spawn(move || {
                let (mut s_read, mut c_write) = (server, client);
                let mut buf = [0u8; 16 * 1024];
                let mut sent = 0usize;
                while let Ok(n) = s_read.read(&mut buf) {
                    if n == 0 || (cut && sent + n > budget) {
                        break;
                    }
                    sent += n;
                    if c_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = c2.shutdown(std::net::Shutdown::Both);
                let _ = s2.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    addr
}

#[test]
fn inv_deadline_answered_pg_a_connection_lost_while_reading_the_log_at_start_up_does_not_stop_the_start()
 {
    // Found by an adversarial review: a server that went away in the middle of the start-up
    // read (killed, restarted, failed over: SQLSTATE 57P01 or a closed connection) stopped
    // `mig06 serve`. It is a database that is not there now: the store starts, fails closed,
    // and reads the log at its next operations.
    let url = pgtest::fresh_database();
    migrated(&url);
    let setup = Setup::new();
    let settings = pgtest::settings(&url);
    {
        let rail = setup.rail(&settings);
        for _ in 0..40 {
            assert_eq!(attempt(&rail).code, TerminalCode::CompletedDraft);
        }
    }
    // Enough for the connection and the schema check, not for the log's 80 records.
    let cut = via(&url, cutting_proxy(server_addr(&url), 6 * 1024));
    let (store, report) = open_store(&pgtest::settings(&cut), setup.signer())
        .expect("a lost connection at start-up does not stop the start");
    assert_eq!(report.records, 0, "nothing read yet");
    let rail = Arc::new(
        Rail::open_with(setup.config.clone(), Some((Box::new(store), report)), None).unwrap(),
    );
    // The next operations reach the database (the proxy passes now) and read the log first.
    let a = attempt(&rail);
    assert_eq!(a.code, TerminalCode::CompletedDraft, "{a:?}");
    let (_, verified) = setup.log(&url);
    assert_eq!(verified.records, 82);
}
