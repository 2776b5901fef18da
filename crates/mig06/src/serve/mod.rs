//! `mig06 serve`: the rail's HTTP service.
//!
//! The decision that matters: HTTP is only a transport. Each `POST /v1/attempts` authenticates
//! the bearer credential, then runs the synchronous [`Rail::attempt_by`] on a blocking thread and
//! answers with its terminal outcome in the same response. Nothing is queued, deferred,
//! retried or cached; no route creates, changes or reloads policy, callers or configuration;
//! every response carries `Cache-Control: no-store`. Request bodies and header values are never
//! echoed or logged (they may hold PHI).
//!
//! Status mapping (fixed, documented in the OpenAPI document and `docs/HTTP.md`): `COMPLETED_*`
//! 200, `DENIED_*` 403, `ABORTED_*` 422. A terminal outcome is never a 5xx, because proxies and
//! clients retry 502/503/504 automatically and the rail forbids retries.
//!
//! The parts: [`handlers`] (routes and middleware), [`schema`] and [`openapi`] (the document),
//! [`metrics`], [`listener`] (accept loop, connection life, shutdown) and [`conn`] (the guard
//! every connection's bytes pass through).

pub(crate) mod conn;
pub(crate) mod handlers;
pub(crate) mod listener;
pub(crate) mod metrics;
mod openapi;
pub(crate) mod oplog;
pub(crate) mod otlp;
mod schema;

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use mig06_rail::config::Config;
use mig06_rail::rail::Rail;

use conn::Limits;
use listener::Transport;
use metrics::Metrics;

// INV-SERVER-LIMITS: the shutdown drain and a closing connection wait at most the attempt deadline
// plus this margin.
/// Added to the attempt deadline to bound the SIGTERM drain and a closing connection: enough
/// to encode and send the last answer after an attempt that ran to its deadline.
const DRAIN_MARGIN: Duration = Duration::from_secs(2);

/// The largest request head hyper is let near: hyper refuses a header name of 64 KiB or more by
/// itself (with an answer the service never built), so a configured cap is clamped below that.
const HEAD_BYTES_CEILING: usize = 60 * 1024;

/// Attempts in flight per available CPU, by default. Attempts mostly wait (on `fdatasync`, on a
/// downstream), so the bound is well above the CPU count.
const IN_FLIGHT_PER_CPU: usize = 32;
/// The default bound on attempts in flight is at least this, however few CPUs are reported.
const MIN_DEFAULT_IN_FLIGHT: usize = 32;
/// The default bound on attempts in flight is at most this (one blocking thread each).
const MAX_DEFAULT_IN_FLIGHT: usize = 512;

/// Shared state: the rail (loaded once, read-only), the metrics counters, and the admission
/// bound (one permit per attempt in flight).
struct AppState {
    rail: Arc<Rail>,
    metrics: Arc<Metrics>,
    /// The witnesses' clients' counters (`/metrics`).
    witness_stats: Arc<metrics::WitnessStats>,
    policy_digest: String,
    admission: Arc<tokio::sync::Semaphore>,
}

/// The server's limits from the configuration (`[server]`), with `--max-in-flight` applied.
fn limits(config: &Config) -> Limits {
    let server = &config.server;
    Limits {
        max_connections: server.max_connections,
        max_per_peer: server.max_connections_per_peer,
        header_timeout: Duration::from_millis(server.header_read_timeout_ms),
        idle_timeout: Duration::from_millis(server.idle_timeout_ms),
        max_requests: server.max_requests_per_connection,
        max_lifetime: Duration::from_millis(server.max_connection_lifetime_ms),
        max_header_bytes: server.max_header_bytes.min(HEAD_BYTES_CEILING),
        max_headers: server.max_headers,
        drain: config.attempt_timeout + DRAIN_MARGIN,
    }
}

/// The default bound on attempts in flight: [`IN_FLIGHT_PER_CPU`] per available CPU, between
/// [`MIN_DEFAULT_IN_FLIGHT`] and [`MAX_DEFAULT_IN_FLIGHT`]. It exists so that nothing queues:
/// every admitted attempt has a thread at once.
fn default_max_in_flight() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    cpus.saturating_mul(IN_FLIGHT_PER_CPU)
        .clamp(MIN_DEFAULT_IN_FLIGHT, MAX_DEFAULT_IN_FLIGHT)
}

/// `mig06 serve`: opens the rail once and serves it until SIGTERM/SIGINT.
///
/// # Errors
/// Configuration, rail start-up, bind or runtime errors.
pub(crate) fn run(
    config: &Path,
    listen: SocketAddr,
    tls: Option<(&Path, &Path)>,
    max_in_flight: Option<usize>,
    log: (oplog::LogFormat, Option<&str>),
) -> Result<ExitCode> {
    let metrics = Arc::new(Metrics::default());
    // The configuration is read once before the log is installed, for its `[telemetry]`
    // table; the rail reads it again when it opens.
    let telemetry = Config::load(config)?.telemetry;
    let export = oplog::install(log.0, log.1, Arc::clone(&metrics), &telemetry)?;
    let tls = tls
        .map(|(cert, key)| crate::tls::server_config(cert, key))
        .transpose()?
        .map(Arc::new);
    let (rail, witness_stats) = crate::open_rail_observed(config)?;
    if tls.is_none() && rail.pins_client_certificates() {
        bail!(
            "a caller in {} is pinned to a client certificate (client_cert_sha256), which needs TLS: start serve with --tls-cert and --tls-key",
            config.display()
        );
    }
    let max_in_flight = max_in_flight
        .or(rail.config().server.max_in_flight)
        .unwrap_or_else(default_max_in_flight);
    if max_in_flight == 0 {
        bail!("--max-in-flight must be positive");
    }
    let limits = limits(rail.config());
    metrics
        .max_in_flight
        .store(max_in_flight as u64, std::sync::atomic::Ordering::Relaxed);
    metrics.set_build(metrics::BuildInfo {
        policy_digest: rail.policy_digest().to_string(),
        log_origin: rail
            .verifier()
            .vkey()
            .split('+')
            .next()
            .unwrap_or_default()
            .to_owned(),
    });
    announce_callers(&rail, config);
    let state = Arc::new(AppState {
        policy_digest: rail.policy_digest().to_string(),
        rail: Arc::new(rail),
        metrics,
        witness_stats,
        admission: Arc::new(tokio::sync::Semaphore::new(max_in_flight)),
    });
    let transport = match tls {
        None => Transport::Plain,
        Some(tls) => Transport::Tls(tokio_rustls::TlsAcceptor::from(tls)),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mig06-http")
        // One blocking thread per admitted attempt, so an admitted attempt never waits for a
        // thread (nothing else here runs on the blocking pool).
        .max_blocking_threads(max_in_flight)
        .build()
        .context("cannot start the HTTP runtime")?;
    runtime.block_on(listen_and_serve(
        listen,
        transport,
        limits,
        state,
        max_in_flight,
    ))?;
    // Dropping the runtime waits for any blocking attempt still running to reach its outcome.
    drop(runtime);
    if let Some(export) = export {
        export.stop();
    }
    tracing::info!(target: oplog::SERVE_TARGET, event = "stopped", "stopped");
    Ok(ExitCode::SUCCESS)
}

/// Says at start-up which callers the service will admit, and warns when none can be: a caller
/// without a credential digest can only use the CLI, so with none every POST gets 401.
fn announce_callers(rail: &Rail, config: &Path) {
    let callers = &rail.config().callers;
    let mut http = 0usize;
    for c in callers {
        let credential = c.credential_sha256.is_some();
        http += usize::from(credential);
        tracing::info!(
            target: oplog::SERVE_TARGET,
            event = "caller",
            caller_id = c.id.as_str(),
            kind = c.kind.as_str(),
            triggers = c
                .triggers
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(","),
            bearer_credential = credential,
            client_certificate_pinned = c.client_cert_sha256.is_some(),
            "approved caller"
        );
    }
    if http == 0 {
        tracing::warn!(
            target: oplog::SERVE_TARGET,
            event = "no_http_caller",
            callers = callers.len(),
            "no approved caller has a bearer credential, so every POST /v1/attempts gets 401: add one with `mig06 caller add --config {} ...` and restart",
            config.display()
        );
    }
}

/// Binds `listen`, announces it, and serves until shutdown.
async fn listen_and_serve(
    listen: SocketAddr,
    transport: Transport,
    limits: Limits,
    state: Arc<AppState>,
    max_in_flight: usize,
) -> Result<()> {
    let doc = Arc::new(openapi::openapi_json()?);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    let scheme = match transport {
        Transport::Plain => "http",
        Transport::Tls(_) => "https",
    };
    println!("mig06 serve: listening on {scheme}://{local}");
    tracing::info!(
        target: oplog::SERVE_TARGET,
        event = "listening",
        address = %local,
        scheme,
        policy_digest = state.policy_digest.as_str(),
        max_in_flight,
        trace_export = otlp::enabled(),
        routes = "POST /v1/attempts, GET /v1/health, GET /v1/ready, GET /metrics, GET /v1/openapi.json",
        "listening"
    );
    let app = handlers::router(Arc::clone(&state), doc);
    listener::serve_loop(listener, app, transport, limits, &state.metrics).await;
    Ok(())
}
