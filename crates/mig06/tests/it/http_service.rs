//! `mig06 serve` end to end: the real binary on an ephemeral loopback port.

use crate::common::{Setup, call, valid_request};

#[test]
fn unauthenticated_requests_get_401_and_no_attempt_exists() {
    let s = Setup::new(None, None);
    let server = s.serve();
    let before = s.records();
    let url = server.url("/v1/attempts");
    let body = valid_request();
    let none = call("POST", &url, None, Some(&body));
    let bad = call("POST", &url, Some("not-the-credential"), Some(&body));
    let empty = call("POST", &url, Some(""), Some(&body));
    for a in [&none, &bad, &empty] {
        assert_eq!(a.status, 401, "{a:?}");
        assert_eq!(a.json()["error"], "unauthenticated");
        assert!(!a.body.contains("not-the-credential"));
    }
    // A valid credential with another scheme is not accepted either.
    let req = ureq::http::Request::post(&url)
        .header("authorization", format!("Basic {}", s.credential))
        .body(body.clone())
        .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    assert_eq!(agent.run(req).unwrap().status().as_u16(), 401);
    assert_eq!(
        s.records(),
        before,
        "no audit record for an unauthenticated caller"
    );
    let metrics = call("GET", &server.url("/metrics"), None, None);
    assert!(
        metrics
            .body
            .contains("mig06_http_rejected_total{reason=\"unauthenticated\"} 4")
    );
}

#[test]
fn an_oversize_body_gets_413_and_no_attempt_exists() {
    let s = Setup::new(None, None);
    let server = s.serve();
    let big = vec![b'{'; 64 * 1024 + 1];
    let a = call(
        "POST",
        &server.url("/v1/attempts"),
        Some(&s.credential),
        Some(&big),
    );
    assert_eq!(a.status, 413);
    assert_eq!(a.json()["error"], "body_too_large");
    assert_eq!(a.cache_control.as_deref(), Some("no-store"));
    assert_eq!(s.records(), 0);
}

#[test]
fn malformed_json_from_an_authenticated_caller_is_denied_request_invalid() {
    let s = Setup::new(None, None);
    let server = s.serve();
    let url = server.url("/v1/attempts");
    let canary = b"{\"request_id\": \"PHI-CANARY-078-05-1120\", ";
    let a = call("POST", &url, Some(&s.credential), Some(canary));
    assert_eq!(a.status, 403);
    assert_eq!(a.code(), "DENIED_REQUEST_INVALID");
    assert!(!a.body.contains("CANARY") && !a.body.contains("078-05-1120"));
    let unknown = br#"{"request_id":"01JD0000000000000000000000","trigger":"operator_explicit","subject":"subj_7k3m9q2x4w8r5t6v","steps":[],"extra":1}"#;
    let b = call("POST", &url, Some(&s.credential), Some(unknown));
    assert_eq!(b.code(), "DENIED_REQUEST_INVALID");
    assert_eq!(s.records(), 2, "each denied attempt is recorded once");
}

#[test]
fn a_valid_request_completes_with_a_draft_in_the_same_response() {
    let s = Setup::new(None, None);
    let server = s.serve();
    let a = call(
        "POST",
        &server.url("/v1/attempts"),
        Some(&s.credential),
        Some(&valid_request()),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let o = a.json();
    assert_eq!(o["code"], "COMPLETED_DRAFT");
    assert!(o["draft_ref"].as_str().unwrap().starts_with("draft_"));
    assert_eq!(o["recorded"], true);
    assert!(o["evidence"].is_string());
    assert_eq!(s.records(), 2, "open + terminal");
    let m = call("GET", &server.url("/metrics"), None, None).body;
    assert!(m.contains("mig06_attempts_total{code=\"COMPLETED_DRAFT\"} 1"));
    assert!(m.contains("mig06_attempt_duration_seconds_count 1"));
}

#[test]
fn health_reports_the_policy_digest() {
    let s = Setup::new(None, None);
    let server = s.serve();
    let h = call("GET", &server.url("/v1/health"), None, None);
    assert_eq!(h.status, 200);
    let text = std::fs::read_to_string(&s.config).unwrap();
    let digest = h.json()["policy_digest"].as_str().unwrap().to_owned();
    assert!(text.contains(&digest));
    assert_eq!(h.json()["log_size"], 0);
    let a = call(
        "POST",
        &server.url("/v1/attempts"),
        Some(&s.credential),
        Some(&valid_request()),
    );
    assert_eq!(a.status, 200);
    let h = call("GET", &server.url("/v1/health"), None, None);
    assert_eq!(h.json()["log_size"], 2, "an open and a terminal record");
}

#[test]
fn the_openapi_document_describes_every_route() {
    let s = Setup::new(None, None);
    let server = s.serve();
    let d = call("GET", &server.url("/v1/openapi.json"), None, None).json();
    assert!(d["openapi"].as_str().unwrap().starts_with("3."));
    for p in ["/v1/attempts", "/v1/health", "/metrics", "/v1/openapi.json"] {
        assert!(d["paths"][p].is_object(), "{p}");
    }
    let attempts = &d["paths"]["/v1/attempts"]["post"]["responses"];
    for status in ["200", "403", "422", "401", "413"] {
        assert!(attempts[status].is_object(), "{status}");
    }
    // The committed copy is the generated document.
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        committed, d,
        "regenerate crates/mig06/openapi.json (see docs/HTTP.md)"
    );
}

#[test]
fn inv_no_caching_every_route_and_error_answers_no_store() {
    let s = Setup::new(None, None);
    let server = s.serve();
    let big = vec![b' '; 70_000];
    let body = valid_request();
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a [u8]>, u16);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/v1/attempts",
            Some(&s.credential),
            Some(&body),
            200,
        ),
        ("POST", "/v1/attempts", Some(&s.credential), Some(b"{"), 403),
        ("POST", "/v1/attempts", None, Some(&body), 401),
        ("POST", "/v1/attempts", Some(&s.credential), Some(&big), 413),
        ("GET", "/v1/attempts", None, None, 405),
        ("GET", "/v1/health", None, None, 200),
        ("GET", "/metrics", None, None, 200),
        ("GET", "/v1/openapi.json", None, None, 200),
        ("GET", "/nope", None, None, 404),
        ("DELETE", "/v1/health", None, None, 405),
    ];
    for (method, path, bearer, body, status) in cases {
        let a = call(method, &server.url(path), bearer, body);
        assert_eq!(a.status, status, "{method} {path}");
        assert_eq!(
            a.cache_control.as_deref(),
            Some("no-store"),
            "{method} {path}"
        );
    }
}

#[test]
fn inv_no_runtime_authoring_no_route_changes_policy_callers_or_configuration() {
    let s = Setup::new(None, None);
    let server = s.serve();
    let snapshot = |dir: &std::path::Path| {
        let mut files = Vec::new();
        for sub in [
            "mig06.toml",
            "policy/policies.cedar",
            "policy/schema.cedarschema",
            "policy/vocabulary.json",
        ] {
            files.push(std::fs::read(dir.join(sub)).unwrap());
        }
        files
    };
    let before = snapshot(s.dir.path());
    let paths = [
        "/v1/attempts",
        "/v1/health",
        "/metrics",
        "/v1/openapi.json",
        "/v1/policy",
        "/v1/policies",
        "/v1/callers",
        "/v1/config",
        "/v1/reload",
        "/admin",
    ];
    let payload = br#"{"id":"intruder","kind":"operator","triggers":["operator_explicit"]}"#;
    for path in paths {
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            if method == "POST" && path == "/v1/attempts" {
                continue;
            }
            let body: Option<&[u8]> = if method == "DELETE" {
                None
            } else {
                Some(payload)
            };
            let a = call(method, &server.url(path), Some(&s.credential), body);
            assert!(
                a.status == 404 || a.status == 405,
                "{method} {path} -> {}",
                a.status
            );
        }
    }
    assert_eq!(snapshot(s.dir.path()), before);
    assert_eq!(s.records(), 0);
}

#[test]
fn inv_sync_proxy_sigterm_lets_the_in_flight_attempt_finish_then_exits_0() {
    crate::common::sigterm_lets_the_in_flight_attempt_finish(Setup::serve, |url, credential| {
        crate::common::call_via(
            &crate::common::agent(),
            "POST",
            url,
            Some(credential),
            Some(&valid_request()),
        )
    });
}

#[test]
fn phi_in_a_request_never_reaches_the_response_or_the_server_output() {
    let s = Setup::new(None, None);
    let mut server = s.serve();
    let body = serde_json::json!({
        "request_id": "01JD0000000000000000000000",
        "trigger": "operator_explicit",
        "subject": "078-05-1120",
        "steps": [{"action": "draft_note", "params": {"note_kind": "discharge_summary"}}],
    })
    .to_string();
    let a = call(
        "POST",
        &server.url("/v1/attempts"),
        Some(&s.credential),
        Some(body.as_bytes()),
    );
    assert_eq!(a.status, 422);
    assert_eq!(a.code(), "ABORTED_PHI_DETECTED");
    assert!(!a.body.contains("078-05-1120"));
    let err = server.stderr();
    assert!(!err.contains("078-05-1120") && !err.contains(&s.credential));
    let log = std::fs::read_to_string(s.dir.path().join("data/audit/log.jsonl")).unwrap();
    assert!(!log.contains("078-05-1120"));
}
