//! The blocking client against canned HTTP answers and a server that never answers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::panic,
    reason = "tests"
)]

use mig06_tlog::checkpoint::{Checkpoint, LogSigner};
use mig06_tlog::cosignature::{WitnessSigner, note_text};
use mig06_witness::{SubmitError, WitnessClient, WitnessClientError};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// Serves one canned answer per connection request, forever, on a background thread.
fn canned(status: &str, content_type: &str, body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream);
            // Read one request: head, then content-length bytes.
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut buf = vec![0; len];
            let _ = reader.read_exact(&mut buf);
            let mut stream = reader.into_inner();
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    });
    format!("http://{addr}")
}

fn note() -> (LogSigner, String) {
    let log = LogSigner::generate("example.com/log").unwrap();
    let note = log.sign(&Checkpoint {
        origin: String::new(),
        size: 3,
        root: [3; 32],
    });
    (log, note)
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

#[test]
fn a_verifying_cosignature_is_returned_and_others_are_not() {
    let (_, note) = note();
    let w = WitnessSigner::generate("witness.example/w1").unwrap();
    let stranger = WitnessSigner::generate("witness.example/w2").unwrap();
    let body = note_text(&note).unwrap();
    let line = w.cosign(body, 1_700_000_000).unwrap();
    let answer = format!("{}{line}", stranger.cosign(body, 5).unwrap());
    let url = canned("200 OK", "text/plain", answer);
    let client = WitnessClient::new(&url, w.verifier()).unwrap();
    assert_eq!(
        client.add_checkpoint(0, &[], &note, soon()),
        Ok(line.clone())
    );
    // Same answer, but the client is configured with another witness's key.
    let client = WitnessClient::new(
        &url,
        WitnessSigner::generate("witness.example/w1")
            .unwrap()
            .verifier(),
    )
    .unwrap();
    assert_eq!(
        client.add_checkpoint(0, &[], &note, soon()),
        Err(SubmitError::BadCosignature)
    );
    // A cosignature of another checkpoint.
    let other = note_text(&note).unwrap().replace("\n3\n", "\n4\n");
    let url = canned("200 OK", "text/plain", w.cosign(&other, 9).unwrap());
    let client = WitnessClient::new(&url, w.verifier()).unwrap();
    assert_eq!(
        client.add_checkpoint(0, &[], &note, soon()),
        Err(SubmitError::BadCosignature)
    );
    let url = canned("200 OK", "text/plain", "not a signature\n".to_owned());
    let client = WitnessClient::new(&url, w.verifier()).unwrap();
    assert_eq!(
        client.add_checkpoint(0, &[], &note, soon()),
        Err(SubmitError::Malformed)
    );
}

#[test]
fn conflict_needs_the_size_content_type() {
    let (_, note) = note();
    let v = WitnessSigner::generate("witness.example/w1")
        .unwrap()
        .verifier();
    let url = canned("409 Conflict", "text/x.tlog.size", "42\n".to_owned());
    let client = WitnessClient::new(&url, v.clone()).unwrap();
    assert_eq!(
        client.add_checkpoint(0, &[], &note, soon()),
        Err(SubmitError::Conflict { size: 42 })
    );
    let url = canned("409 Conflict", "text/plain", "42\n".to_owned());
    let client = WitnessClient::new(&url, v.clone()).unwrap();
    assert_eq!(
        client.add_checkpoint(0, &[], &note, soon()),
        Err(SubmitError::Malformed)
    );
    for status in [
        "400 Bad Request",
        "403 Forbidden",
        "404 Not Found",
        "422 Unprocessable Entity",
        "503 Service Unavailable",
        "302 Found",
    ] {
        let url = canned(status, "text/plain", "x\n".to_owned());
        let client = WitnessClient::new(&url, v.clone()).unwrap();
        let code: u16 = status[..3].parse().unwrap();
        assert_eq!(
            client.add_checkpoint(0, &[], &note, soon()),
            Err(SubmitError::Refused { status: code })
        );
    }
}

#[test]
fn a_server_that_never_answers_is_unavailable_by_the_deadline() {
    let (_, note) = note();
    let v = WitnessSigner::generate("witness.example/w1")
        .unwrap()
        .verifier();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // Accept and hold every connection, never answering.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let client = WitnessClient::new(&url, v).unwrap();
    let start = Instant::now();
    let deadline = start + Duration::from_millis(400);
    assert_eq!(
        client.add_checkpoint(0, &[], &note, deadline),
        Err(SubmitError::Unavailable)
    );
    let took = start.elapsed();
    // By the deadline, not long after it (a generous bound for a loaded machine).
    assert!(took >= Duration::from_millis(350), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    // A deadline already passed sends nothing.
    assert_eq!(
        client.add_checkpoint(0, &[], &note, Instant::now()),
        Err(SubmitError::Unavailable)
    );
}

#[test]
fn nothing_listening_is_unavailable_and_bad_urls_are_refused() {
    let (_, note) = note();
    let v = WitnessSigner::generate("witness.example/w1")
        .unwrap()
        .verifier();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = WitnessClient::new(&format!("http://127.0.0.1:{port}"), v.clone()).unwrap();
    assert_eq!(
        client.add_checkpoint(0, &[], &note, soon()),
        Err(SubmitError::Unavailable)
    );
    assert_eq!(
        client.url(),
        format!("http://127.0.0.1:{port}/add-checkpoint")
    );
    for bad in [
        "ftp://x",
        "http://",
        "http:///x",
        "127.0.0.1:1",
        "http://a b",
        "http://h/?q",
    ] {
        assert_eq!(
            WitnessClient::new(bad, v.clone()).err(),
            Some(WitnessClientError::BadUrl),
            "{bad}"
        );
    }
    // A note that is not a signed note is refused before anything is sent.
    assert_eq!(
        client.add_checkpoint(0, &[], "not a note", soon()),
        Err(SubmitError::Malformed)
    );
}
