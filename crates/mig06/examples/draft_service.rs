//! EXAMPLE ONLY, not part of the product: a tiny downstream "drafting service" for tests and
//! demos of the rail's HTTP executor (`[executor] kind = "http"`).
//!
//! It answers `POST <path>` with a behaviour chosen by the path, and counts the calls per path:
//!
//! | path        | answer                                                                   |
//! |-------------|--------------------------------------------------------------------------|
//! | `/draft`    | 200, a draft-only receipt (`draft_ref`, `disposition: draft`, ...)       |
//! | `/slow`     | the same receipt after 1 s                                               |
//! | `/accepted` | 202 Accepted (not final: the rail aborts `ABORTED_ASYNC_AMBIGUITY`)      |
//! | `/pending`  | 200 with `status: pending` (also async ambiguity)                        |
//! | `/hang`     | nothing for 5 s (past any test deadline: `ABORTED_DEADLINE`)             |
//! | `/final`    | 200, `disposition: final` (`ABORTED_OUTPUT_NOT_DRAFT`)                   |
//! | `/error`    | 500 (`ABORTED_EXECUTOR_FAULT`)                                           |
//! | `/redirect` | 307 to `/draft` (the rail never follows it: `ABORTED_EXECUTOR_FAULT`)   |
//!
//! `GET /calls` returns the counts as JSON; [`DraftService::traceparents`] the W3C
//! `traceparent` of every POST, in order. Run it with
//! `cargo run -p mig06 --example draft_service -- 127.0.0.1:8407`; tests include this file as a
//! module and call [`start`] on an ephemeral port. It uses plain threads (it is not the rail).

#![allow(
    dead_code,
    reason = "tests include this file as a module and use only part of it"
)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long `/hang` stays silent.
pub const HANG: Duration = Duration::from_secs(5);
/// How long `/slow` takes before answering with a draft receipt.
pub const SLOW: Duration = Duration::from_secs(1);

/// A running example service.
pub struct DraftService {
    /// Where it listens.
    pub addr: SocketAddr,
    calls: Arc<Mutex<BTreeMap<String, u64>>>,
    traceparents: Arc<Mutex<Vec<String>>>,
}

impl DraftService {
    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    /// How many POSTs `path` has received.
    pub fn calls(&self, path: &str) -> u64 {
        self.calls
            .lock()
            .map(|c| c.get(path).copied().unwrap_or(0))
            .unwrap_or(0)
    }
    /// The `traceparent` header of every POST received so far (empty for one without it).
    pub fn traceparents(&self) -> Vec<String> {
        self.traceparents
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default()
    }
}

/// Starts the service on `bind` (use `127.0.0.1:0` for an ephemeral port).
pub fn start(bind: &str) -> std::io::Result<DraftService> {
    let listener = TcpListener::bind(bind)?;
    let addr = listener.local_addr()?;
    let calls = Arc::new(Mutex::new(BTreeMap::new()));
    let counts = Arc::clone(&calls);
    let traceparents = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&traceparents);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counts = Arc::clone(&counts);
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || handle(stream, &counts, &seen));
        }
    });
    Ok(DraftService {
        addr,
        calls,
        traceparents,
    })
}

fn receipt(disposition: &str, body: &[u8]) -> String {
    use sha2::Digest;
    let draft_ref = mig06_rail::ids::OpaqueId::random(mig06_rail::ids::OpaquePrefix::Draft);
    let digest = hex::encode(sha2::Sha256::digest(body));
    serde_json::json!({
        "draft_ref": draft_ref.as_str(),
        "disposition": disposition,
        "docStatus": "preliminary",
        "content_sha256": format!("sha256:{digest}"),
    })
    .to_string()
}

fn respond(stream: &mut TcpStream, status: &str, extra: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// A request's method, path, `traceparent` (empty when absent) and body.
type Received = (String, String, String, Vec<u8>);

fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(chunk.get(..n)?);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(buf.get(..head_end)?).into_owned();
    let mut first = head.lines().next()?.split_whitespace();
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let header = |name: &str| {
        head.lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    let length = header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let traceparent = header("traceparent").unwrap_or_default();
    let mut body = buf.get(head_end..)?.to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(chunk.get(..n)?);
    }
    Some((method, path, traceparent, body))
}

fn handle(
    mut stream: TcpStream,
    calls: &Mutex<BTreeMap<String, u64>>,
    traceparents: &Mutex<Vec<String>>,
) {
    let Some((method, path, traceparent, body)) = read_request(&mut stream) else {
        return;
    };
    if method == "GET" && path == "/calls" {
        let json = calls
            .lock()
            .map(|c| serde_json::to_string(&*c).unwrap_or_default())
            .unwrap_or_default();
        respond(&mut stream, "200 OK", "", &json);
        return;
    }
    if method != "POST" {
        respond(&mut stream, "405 Method Not Allowed", "", "{}");
        return;
    }
    if let Ok(mut c) = calls.lock() {
        *c.entry(path.clone()).or_insert(0) += 1;
    }
    if let Ok(mut t) = traceparents.lock() {
        t.push(traceparent);
    }
    match path.as_str() {
        "/draft" => respond(&mut stream, "200 OK", "", &receipt("draft", &body)),
        "/slow" => {
            std::thread::sleep(SLOW);
            respond(&mut stream, "200 OK", "", &receipt("draft", &body));
        }
        "/accepted" => respond(&mut stream, "202 Accepted", "", r#"{"status":"accepted"}"#),
        "/pending" => {
            let mut v: serde_json::Value =
                serde_json::from_str(&receipt("draft", &body)).unwrap_or_default();
            if let Some(map) = v.as_object_mut() {
                map.insert("status".into(), serde_json::json!("pending"));
            }
            respond(&mut stream, "200 OK", "", &v.to_string());
        }
        "/hang" => {
            std::thread::sleep(HANG);
            respond(&mut stream, "200 OK", "", &receipt("draft", &body));
        }
        "/final" => respond(&mut stream, "200 OK", "", &receipt("final", &body)),
        "/error" => respond(&mut stream, "500 Internal Server Error", "", "{}"),
        "/redirect" => respond(
            &mut stream,
            "307 Temporary Redirect",
            "location: /draft\r\n",
            "{}",
        ),
        _ => respond(&mut stream, "404 Not Found", "", "{}"),
    }
}

fn main() {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8407".to_owned());
    match start(&bind) {
        Ok(s) => {
            println!("example draft service listening on http://{}", s.addr);
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("draft_service: cannot listen on {bind}: {e}");
            std::process::exit(1);
        }
    }
}
