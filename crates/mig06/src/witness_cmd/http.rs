//! `mig06 witness serve`: the witness behind HTTP/1.1 (C2SP tlog-witness).
//!
//! The decision that matters: the transport is `mig06 serve`'s own connection loop
//! ([`crate::serve::listener::serve_loop`]: checked heads, head and idle clocks, connection caps,
//! keep-alive, bounded drain), and each `add-checkpoint` runs [`Witness::add_checkpoint`] on a
//! blocking thread, which checks, persists (`fdatasync`, rename, directory `fsync`) and only then
//! returns the cosignature: the answer is written after the state is on disk. Answers to refused
//! requests are fixed texts; a request's bytes are never echoed or logged.
//!
//! Routes:
//! - `POST /add-checkpoint`: 200 with the cosignature line(s); 400 malformed or old size beyond
//!   the checkpoint; 403 no valid signature by a key accepted for the origin; 404 unknown
//!   origin; 409 `text/x.tlog.size` with this witness's size; 413 body over 64 KiB; 422 the
//!   consistency proof does not verify (or equal sizes with another root, or a size-zero
//!   checkpoint without the empty root); 500 the state could not be persisted (nothing cosigned).
//! - `GET /<origin hash>/checkpoint`: the latest checkpoint cosigned for the log whose origin's
//!   SHA-256 is `<origin hash>` (lowercase hex), with the log's signature and this witness's
//!   cosignature (tlog-witness "Monitor Retrieval Mechanism", monitoring prefix `/`); 404 when
//!   none was cosigned.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mig06_witness::protocol::{
    ADD_CHECKPOINT_PATH, MAX_REQUEST_BYTES, SIZE_CONTENT_TYPE, encode_conflict,
};
use mig06_witness::{AddError, Store, StoreError, Witness};

use crate::serve::conn::Limits;
use crate::serve::handlers::{connection_rules, no_store};
use crate::serve::listener::{Transport, serve_loop};
use crate::serve::metrics::Metrics;
use crate::serve::oplog::{self, LogFormat};

/// The tracing target of the witness's events.
const WITNESS_TARGET: &str = "mig06::witness";

/// How long a closing connection may still take to get its answer: an `add-checkpoint` is one
/// signature check, one proof and one durable write.
const DRAIN: Duration = Duration::from_secs(5);

/// Blocking threads for `add-checkpoint` calls (they queue on the witness's one state lock
/// anyway; more threads would only wait there).
const BLOCKING_THREADS: usize = 16;

/// `mig06 witness serve DIR --listen ADDR`.
pub(super) fn run(
    dir: &Path,
    listen: SocketAddr,
    log: (LogFormat, Option<&str>),
) -> Result<ExitCode> {
    let signer = super::dir::load_signer(dir)?;
    let logs = super::dir::load_logs(dir)?;
    let state = super::dir::state_dir(dir);
    let store = Store::open(&state).map_err(|e| match e {
        StoreError::Locked => anyhow::anyhow!(
            "{} is in use by another `mig06 witness serve` (one process per witness directory)",
            state.display()
        ),
        other => anyhow::Error::new(other).context(format!("cannot open {}", state.display())),
    })?;
    let metrics = Arc::new(Metrics::default());
    // A witness exports no traces: the operations log and its metrics only.
    let _no_export = oplog::install(
        log.0,
        log.1,
        Arc::clone(&metrics),
        &mig06_rail::config::TelemetryConfig::default(),
    )?;
    let name = signer.name().to_owned();
    let witness = Arc::new(Witness::new(signer, logs, store));
    if witness.origins().is_empty() {
        tracing::warn!(
            target: WITNESS_TARGET,
            event = "no_logs",
            "no log is accepted yet, so every add-checkpoint gets 404: `mig06 witness add-log DIR VKEY`, then restart"
        );
    }
    for (hash, origin) in witness.origins() {
        tracing::info!(
            target: WITNESS_TARGET,
            event = "log_accepted",
            origin = origin.as_str(),
            origin_hash = hash.as_str(),
            "accepting checkpoints of this log"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mig06-witness")
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
        .context("cannot start the HTTP runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let local = listener.local_addr()?;
        println!("mig06 witness serve: listening on http://{local}");
        tracing::info!(
            target: WITNESS_TARGET,
            event = "listening",
            address = %local,
            witness = name.as_str(),
            routes = "POST /add-checkpoint, GET /<origin hash>/checkpoint",
            "listening"
        );
        serve_loop(
            listener,
            router(witness),
            Transport::Plain,
            limits(),
            &metrics,
        )
        .await;
        anyhow::Ok(())
    })?;
    drop(runtime);
    tracing::info!(target: WITNESS_TARGET, event = "stopped", "stopped");
    Ok(ExitCode::SUCCESS)
}

/// The connection limits: `mig06 serve`'s defaults, with a short drain.
fn limits() -> Limits {
    let s = mig06_rail::config::ServerConfig::default();
    Limits {
        max_connections: s.max_connections,
        max_per_peer: s.max_connections_per_peer,
        header_timeout: Duration::from_millis(s.header_read_timeout_ms),
        idle_timeout: Duration::from_millis(s.idle_timeout_ms),
        max_requests: s.max_requests_per_connection,
        max_lifetime: Duration::from_millis(s.max_connection_lifetime_ms),
        max_header_bytes: s.max_header_bytes,
        max_headers: s.max_headers,
        drain: DRAIN,
    }
}

/// The routes.
fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route(
            ADD_CHECKPOINT_PATH,
            post(add_checkpoint).fallback(|| async { not_allowed("POST") }),
        )
        .route(
            "/{origin_hash}/checkpoint",
            get(latest_checkpoint).fallback(|| async { not_allowed("GET, HEAD") }),
        )
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(witness)
        .fallback(|| async { text(StatusCode::NOT_FOUND, "no such route\n") })
        .layer(middleware::from_fn(connection_rules))
        .layer(middleware::map_response(no_store))
}

/// A plain-text answer.
fn text(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

fn not_allowed(allow: &'static str) -> Response {
    let mut r = text(
        StatusCode::METHOD_NOT_ALLOWED,
        "this route does not accept that method\n",
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

/// The current time in POSIX seconds (0 if the clock is before 1970: the witness then refuses
/// to cosign, since a cosignature's timestamp must not be zero).
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The fixed answer text of a refusal (never the request's bytes).
fn refusal_text(e: &AddError) -> &'static str {
    match e {
        AddError::BadRequest(_) => "malformed add-checkpoint request\n",
        AddError::OldSizeBeyond => "the old size is beyond the checkpoint's size\n",
        AddError::UnknownOrigin => "unknown log origin\n",
        AddError::Forbidden => "no valid signature by a key this witness accepts for the origin\n",
        AddError::Conflict { .. } => "",
        AddError::BadProof => "the consistency proof does not verify\n",
        AddError::Store(_) | AddError::Poisoned | AddError::Clock => {
            "the witness could not persist its state; nothing was cosigned\n"
        }
    }
}

// INV-WITNESS-INTEROP: the tlog-witness status codes, the 409 body and its content type.
// INV-WITNESS-ATOMIC: the answer is built from `Witness::add_checkpoint`'s result, which returns
// only after the check and the durable update, under one lock.
/// `POST /add-checkpoint`.
async fn add_checkpoint(
    State(witness): State<Arc<Witness>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            let response = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the request body exceeds 64 KiB\n",
                )
            } else {
                text(
                    StatusCode::BAD_REQUEST,
                    "the request body could not be read\n",
                )
            };
            log_add(&response, "unread_body", started);
            return response;
        }
    };
    let at = now();
    let result = tokio::task::spawn_blocking(move || witness.add_checkpoint(&body, at)).await;
    let (response, code) = match result {
        Ok(Ok(lines)) => (
            (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                )],
                lines,
            )
                .into_response(),
            "cosigned",
        ),
        Ok(Err(AddError::Conflict { size })) => (
            (
                StatusCode::CONFLICT,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(SIZE_CONTENT_TYPE),
                )],
                encode_conflict(size),
            )
                .into_response(),
            "conflict",
        ),
        Ok(Err(e)) => {
            if matches!(e, AddError::Store(_) | AddError::Poisoned | AddError::Clock) {
                // The store's error names an operation and an OS error, never request bytes.
                tracing::error!(
                    target: WITNESS_TARGET,
                    event = "state_error",
                    error = %e,
                    "add-checkpoint: the state could not be persisted; nothing was cosigned"
                );
            }
            let status =
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (text(status, refusal_text(&e)), e.code())
        }
        Err(_) => (
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; nothing was cosigned\n",
            ),
            "internal",
        ),
    };
    log_add(&response, code, started);
    response
}

/// One line per `add-checkpoint`: status, a closed result code, duration.
fn log_add(response: &Response, result: &'static str, started: Instant) {
    tracing::info!(
        target: WITNESS_TARGET,
        event = "add_checkpoint",
        status = response.status().as_u16(),
        result,
        duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "add-checkpoint"
    );
}

/// `GET /<origin hash>/checkpoint`.
async fn latest_checkpoint(
    State(witness): State<Arc<Witness>>,
    UrlPath(origin_hash): UrlPath<String>,
) -> Response {
    let is_hash = origin_hash.len() == 64
        && origin_hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let note = if is_hash {
        witness.latest(&origin_hash)
    } else {
        None
    };
    match note {
        Some(note) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            note,
        )
            .into_response(),
        None => text(
            StatusCode::NOT_FOUND,
            "this witness has cosigned no checkpoint of that log\n",
        ),
    }
}
