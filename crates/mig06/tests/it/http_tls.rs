//! `mig06 serve --tls-cert --tls-key`: HTTPS, and callers pinned to a client certificate.
//!
//! A real server process, a real TLS client (ureq with rustls) and the test-only certificates in
//! `tests/fixtures/tls` (see its README).

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use crate::common::{MIG06, Server, Setup, agent_with, call_via, valid_request};
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// A TLS client trusting only the test CA, presenting `client` (a fixture name) if given.
fn tls_agent(client: Option<&str>) -> ureq::Agent {
    let ca = Certificate::from_pem(&std::fs::read(fixture("ca.pem")).unwrap()).unwrap();
    let mut tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::Specific(Arc::new(vec![ca])));
    if let Some(name) = client {
        let cert = Certificate::from_pem(&std::fs::read(fixture(&format!("{name}.pem"))).unwrap())
            .unwrap();
        let key =
            PrivateKey::from_pem(&std::fs::read(fixture(&format!("{name}.key"))).unwrap()).unwrap();
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&[cert], key)));
    }
    agent_with(tls.build())
}

fn tls_args() -> Vec<PathBuf> {
    vec![
        "--tls-cert".into(),
        fixture("server.pem"),
        "--tls-key".into(),
        fixture("server.key"),
    ]
}

fn serve_tls(s: &Setup) -> Server {
    let args = tls_args();
    let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    Server::start(&s.config, &args)
}

/// `caller add op-pinned ... --client-cert fixtures/client-a.pem`; returns its credential.
fn add_pinned_caller(s: &Setup) -> String {
    let out = Command::new(MIG06)
        .args(["caller", "add", "op-pinned", "--kind", "operator"])
        .args(["--trigger", "operator_explicit", "--config"])
        .arg(&s.config)
        .arg("--client-cert")
        .arg(fixture("client-a.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "caller add --client-cert failed");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("pinned to the client certificate sha256:"));
    let config = std::fs::read_to_string(&s.config).unwrap();
    assert_eq!(config.matches("client_cert_sha256 = \"sha256:").count(), 1);
    stdout.lines().last().unwrap().trim().to_owned()
}

fn attempt(agent: &ureq::Agent, server: &Server, credential: &str) -> crate::common::Answer {
    call_via(
        agent,
        "POST",
        &server.url("/v1/attempts"),
        Some(credential),
        Some(&valid_request()),
    )
    .unwrap()
}

#[test]
fn tls_serves_attempts_over_https_and_plain_http_gets_nothing() {
    let s = Setup::new(None, None);
    let mut server = serve_tls(&s);
    assert!(server.base.starts_with("https://127.0.0.1:"));
    // A caller without a pinned certificate: the bearer credential alone, with or without a
    // client certificate on the connection.
    for client in [None, Some("client-b")] {
        let a = attempt(&tls_agent(client), &server, &s.credential);
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.code(), "COMPLETED_DRAFT");
        assert_eq!(a.cache_control.as_deref(), Some("no-store"));
    }
    assert_eq!(s.records(), 4);
    // Plain HTTP to the TLS port is not served, and starts no attempt.
    let plain = server.base.replacen("https://", "http://", 1);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let r = agent
        .post(format!("{plain}/v1/attempts"))
        .header("authorization", format!("Bearer {}", s.credential))
        .send(&valid_request()[..]);
    assert!(r.is_err(), "plain HTTP got an answer from the TLS port");
    // A client that does not trust the server's CA cannot connect.
    let untrusting = agent_with(TlsConfig::builder().provider(TlsProvider::Rustls).build());
    assert!(call_via(&untrusting, "GET", &server.url("/v1/health"), None, None).is_err());
    assert_eq!(s.records(), 4);
    server.terminate();
    assert_eq!(server.wait(Duration::from_secs(10)), Some(0));
}

#[test]
fn tls_a_caller_pinned_to_a_client_certificate_is_admitted_only_with_it() {
    let s = Setup::new(None, None);
    let pinned = add_pinned_caller(&s);
    let server = serve_tls(&s);
    for client in [None, Some("client-b")] {
        let a = attempt(&tls_agent(client), &server, &pinned);
        assert_eq!(a.status, 401, "{client:?}: {}", a.body);
        assert_eq!(a.json()["error"], "unauthenticated");
    }
    assert_eq!(s.records(), 0, "a refused caller starts no attempt");
    let a = attempt(&tls_agent(Some("client-a")), &server, &pinned);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.code(), "COMPLETED_DRAFT");
    // The pinned certificate does not stand in for a credential.
    let a = attempt(&tls_agent(Some("client-a")), &server, "not-the-credential");
    assert_eq!(a.status, 401);
    assert_eq!(s.records(), 2);
    let metrics = call_via(&tls_agent(None), "GET", &server.url("/metrics"), None, None).unwrap();
    assert!(
        metrics
            .body
            .contains("mig06_http_rejected_total{reason=\"unauthenticated\"} 3"),
        "{}",
        metrics.body
    );
}

#[test]
fn tls_serve_refuses_to_start_without_tls_when_a_caller_is_pinned() {
    let s = Setup::new(None, None);
    add_pinned_caller(&s);
    let out = Command::new(MIG06)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&s.config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("client_cert_sha256"), "{stderr}");
    assert!(stderr.contains("--tls-cert"), "{stderr}");
    // --tls-cert without --tls-key is a usage error, not a server.
    let out = Command::new(MIG06)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&s.config)
        .arg("--tls-cert")
        .arg(fixture("server.pem"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr).unwrap().contains("--tls-key"));
}

#[test]
fn tls_sigterm_lets_the_in_flight_attempt_finish_then_exits_0() {
    crate::common::sigterm_lets_the_in_flight_attempt_finish(serve_tls, |url, credential| {
        call_via(
            &tls_agent(None),
            "POST",
            url,
            Some(credential),
            Some(&valid_request()),
        )
    });
}
