//! The HTTP executor against the example downstream drafting service, through `mig06 serve`:
//! every bad behaviour fails closed with its terminal code after exactly ONE downstream call.

use crate::common::draft_service::{self, DraftService};
use crate::common::{Setup, call, valid_request};

/// Runs one attempt through `mig06 serve` whose executor posts to `path` on the example service;
/// returns (HTTP status, terminal code, downstream calls to `path`, audit records).
fn one_attempt(
    service: &DraftService,
    path: &str,
    timeout_ms: Option<u64>,
) -> (u16, String, u64, usize) {
    let s = Setup::new(Some(&service.url(path)), timeout_ms);
    let server = s.serve();
    let a = call(
        "POST",
        &server.url("/v1/attempts"),
        Some(&s.credential),
        Some(&valid_request()),
    );
    (a.status, a.code(), service.calls(path), s.records())
}

#[test]
fn http_executor_draft_receipt_completes_after_one_call() {
    let svc = draft_service::start("127.0.0.1:0").unwrap();
    let (status, code, calls, records) = one_attempt(&svc, "/draft", None);
    assert_eq!((status, code.as_str()), (200, "COMPLETED_DRAFT"));
    assert_eq!(calls, 1);
    assert_eq!(records, 2);
}

#[test]
fn inv_no_retry_http_202_is_async_ambiguity_after_exactly_one_call() {
    let svc = draft_service::start("127.0.0.1:0").unwrap();
    let (status, code, calls, records) = one_attempt(&svc, "/accepted", None);
    assert_eq!((status, code.as_str()), (422, "ABORTED_ASYNC_AMBIGUITY"));
    assert_eq!(calls, 1, "no retry after a 202");
    assert_eq!(records, 2);
}

#[test]
fn inv_sync_proxy_pending_receipt_is_async_ambiguity_after_exactly_one_call() {
    let svc = draft_service::start("127.0.0.1:0").unwrap();
    let (_, code, calls, _) = one_attempt(&svc, "/pending", None);
    assert_eq!(code, "ABORTED_ASYNC_AMBIGUITY");
    assert_eq!(calls, 1);
}

#[test]
fn inv_no_retry_http_hang_is_deadline_after_exactly_one_call() {
    let svc = draft_service::start("127.0.0.1:0").unwrap();
    let started = std::time::Instant::now();
    let (status, code, calls, records) = one_attempt(&svc, "/hang", Some(600));
    assert_eq!((status, code.as_str()), (422, "ABORTED_DEADLINE"));
    assert!(
        started.elapsed() < draft_service::HANG,
        "the rail must not wait for the hung service"
    );
    // Give a (forbidden) retry time to show up before counting.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(svc.calls("/hang"), 1, "no retry after a timeout");
    assert_eq!(calls, 1);
    assert_eq!(records, 2);
}

#[test]
fn inv_no_retry_http_final_is_output_not_draft_after_exactly_one_call() {
    let svc = draft_service::start("127.0.0.1:0").unwrap();
    let (status, code, calls, records) = one_attempt(&svc, "/final", None);
    assert_eq!((status, code.as_str()), (422, "ABORTED_OUTPUT_NOT_DRAFT"));
    assert_eq!(calls, 1);
    assert_eq!(records, 2);
}

#[test]
fn inv_no_retry_http_500_is_executor_fault_after_exactly_one_call() {
    let svc = draft_service::start("127.0.0.1:0").unwrap();
    let (_, code, calls, _) = one_attempt(&svc, "/error", None);
    assert_eq!(code, "ABORTED_EXECUTOR_FAULT");
    assert_eq!(calls, 1);
}

#[test]
fn inv_no_retry_http_redirect_is_not_followed() {
    let svc = draft_service::start("127.0.0.1:0").unwrap();
    let (_, code, calls, _) = one_attempt(&svc, "/redirect", None);
    assert_eq!(code, "ABORTED_EXECUTOR_FAULT");
    assert_eq!(calls, 1);
    assert_eq!(
        svc.calls("/draft"),
        0,
        "the redirect target was never called"
    );
}

#[test]
fn http_executor_unreachable_service_is_executor_fault() {
    // Bind and drop to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = Setup::new(Some(&format!("http://127.0.0.1:{port}/draft")), None);
    let server = s.serve();
    let a = call(
        "POST",
        &server.url("/v1/attempts"),
        Some(&s.credential),
        Some(&valid_request()),
    );
    assert_eq!(a.code(), "ABORTED_EXECUTOR_FAULT");
}

#[test]
fn inv_executor_only_configured_url_proxy_environment_is_ignored() {
    // A "proxy" that must receive nothing: every proxy variable ureq reads points at it.
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let svc = draft_service::start("127.0.0.1:0").unwrap();
    let s = Setup::new(Some(&svc.url("/draft")), None);
    let vars = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ];
    let env: Vec<(&str, &str)> = vars.iter().map(|v| (*v, proxy_url.as_str())).collect();
    let server = crate::common::Server::start_with_env(&s.config, &[], &env);
    let a = call(
        "POST",
        &server.url("/v1/attempts"),
        Some(&s.credential),
        Some(&valid_request()),
    );
    assert_eq!((a.status, a.code().as_str()), (200, "COMPLETED_DRAFT"));
    assert_eq!(
        svc.calls("/draft"),
        1,
        "the configured URL got the one call"
    );
    match proxy.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok(_) => panic!("the executor connected to the proxy named by the environment"),
        Err(e) => panic!("unexpected accept error kind {:?}", e.kind()),
    }
}
