//! The routes' handlers and the middleware every answer passes through.
//!
//! The decision that matters: authentication is middleware on the POST route only, so it runs
//! before the body is read; no credential, no attempt, and the body is never looked at. Every
//! error that is not an attempt outcome is one of a fixed set of `error` codes with a fixed
//! message: nothing a client sent (body, header value) is ever echoed or logged, since it may be
//! PHI.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mig06_rail::auth::AuthenticatedCaller;
use mig06_rail::executor::Deadline;
use mig06_rail::outcome::{CodeClass, TerminalCode};
use mig06_rail::telemetry::TraceContext;
use tokio::sync::OwnedSemaphorePermit;

use super::AppState;
use super::conn::ConnState;
use super::metrics::{Metrics, bump};
use super::oplog::SERVE_TARGET;
use super::schema::{AttemptRequestSchema, ErrorBody, HealthBody, OutcomeSchema, ReadyBody};
use crate::tls::PeerCertificate;

/// When a request arrived (before its body was read): its attempt's deadline runs from here.
#[derive(Debug, Clone, Copy)]
pub(super) struct Arrived(Instant);

/// The HTTP status for a terminal code's class.
#[must_use]
pub(super) fn status_for(code: TerminalCode) -> StatusCode {
    match code.class() {
        CodeClass::Completed => StatusCode::OK,
        CodeClass::Denied => StatusCode::FORBIDDEN,
        CodeClass::Aborted => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// The router: four read-only routes plus the attempt route. Nothing here writes configuration.
pub(super) fn router(state: Arc<AppState>, doc: Arc<String>) -> Router {
    let max = state.rail.config().max_request_bytes;
    // Authentication wraps the POST handler only, so it runs before the body is read, and
    // other methods on this path still get 405.
    let auth = middleware::from_fn_with_state(Arc::clone(&state), authenticate);
    let attempts = Router::new()
        .route(
            "/v1/attempts",
            post(post_attempt.layer(auth)).fallback(|| async { not_allowed("POST") }),
        )
        .layer(DefaultBodyLimit::max(max))
        .with_state(Arc::clone(&state));
    let service = Router::new()
        .route(
            "/v1/health",
            get(get_health).fallback(|| async { not_allowed("GET, HEAD") }),
        )
        .route(
            "/v1/ready",
            get(get_ready).fallback(|| async { not_allowed("GET, HEAD") }),
        )
        .route(
            "/metrics",
            get(get_metrics).fallback(|| async { not_allowed("GET, HEAD") }),
        )
        .with_state(state);
    let openapi = Router::new()
        .route(
            "/v1/openapi.json",
            get(get_openapi).fallback(|| async { not_allowed("GET, HEAD") }),
        )
        .with_state(doc);
    attempts
        .merge(service)
        .merge(openapi)
        .fallback(not_found)
        .layer(middleware::from_fn(connection_rules))
        .layer(middleware::map_response(no_store))
        .layer(middleware::from_fn(access_log))
}

fn error(status: StatusCode, error: &'static str, message: &'static str) -> Response {
    (status, axum::Json(ErrorBody { error, message })).into_response()
}

fn unauthenticated() -> Response {
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "a valid bearer credential for an approved caller is required; no attempt was started",
    );
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// Extracts the bearer credential bytes. The value is never logged or echoed.
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let bytes = value.as_bytes();
    let scheme = bytes.get(..7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let cred = bytes.get(7..)?.trim_ascii();
    (!cred.is_empty()).then_some(cred)
}

/// Authentication runs before the body is read: no or bad credential, no attempt.
async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    // The attempt's deadline runs from here: the request's arrival, before its body is read.
    let arrived = Instant::now();
    let peer = req.extensions().get::<PeerCertificate>().and_then(|p| p.0);
    let caller =
        bearer(req.headers()).and_then(|c| state.rail.bearer_caller(c, peer.as_ref()).ok());
    match caller {
        Some(caller) => {
            req.extensions_mut().insert(caller);
            req.extensions_mut().insert(Arrived(arrived));
            next.run(req).await
        }
        None => {
            bump(&state.metrics.unauthenticated);
            unauthenticated()
        }
    }
}

/// Run one attempt; the terminal outcome is the response.
#[utoipa::path(
    post,
    path = "/v1/attempts",
    tag = "attempts",
    request_body(
        content = AttemptRequestSchema,
        content_type = "application/json",
        description = "The attempt request (the same JSON as `mig06 attempt --request`). Malformed JSON or unknown fields from an authenticated caller end the attempt DENIED_REQUEST_INVALID."
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "COMPLETED_* : the terminal outcome, with the draft reference and evidence.", body = OutcomeSchema),
        (status = 403, description = "DENIED_* : the terminal outcome of a denied attempt (recorded once).", body = OutcomeSchema),
        (status = 422, description = "ABORTED_* : the terminal outcome of an aborted attempt (failed closed; nothing continues in the background).", body = OutcomeSchema),
        (status = 400, description = "The body could not be read; no attempt was started.", body = ErrorBody),
        (status = 401, description = "No or bad bearer credential; no attempt was started, nothing recorded.", body = ErrorBody),
        (status = 405, description = "Method not allowed.", body = ErrorBody),
        (status = 413, description = "Body larger than max_request_bytes; no attempt was started.", body = ErrorBody),
        (status = 503, description = "As many attempts as the server admits are already in flight; no attempt was started, nothing recorded. Not an outcome: the caller decides whether to send a new request.", body = ErrorBody),
    )
)]
// INV-ADMISSION-BOUNDED: The server never queues an attempt it cannot start: attempts in flight are
// bounded.
pub(super) async fn post_attempt(
    State(state): State<Arc<AppState>>,
    caller: Option<axum::Extension<AuthenticatedCaller>>,
    arrived: Option<axum::Extension<Arrived>>,
    trace: Option<axum::Extension<TraceContext>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (Some(axum::Extension(caller)), Some(axum::Extension(Arrived(arrived)))) =
        (caller, arrived)
    else {
        return unauthenticated();
    };
    let note = AccessNote {
        caller: Some(caller.id().as_str().to_owned()),
        ..AccessNote::default()
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return with_note(unread_body(&state, &rejection), note),
    };
    // No hidden queue: an attempt starts now, on a thread of its own, or not at all.
    let Ok(permit) = Arc::clone(&state.admission).try_acquire_owned() else {
        bump(&state.metrics.overloaded);
        tracing::warn!(
            target: SERVE_TARGET,
            event = "admission_refused",
            caller_id = caller.id().as_str(),
            max_in_flight = state.metrics.max_in_flight.load(Ordering::Relaxed),
            "attempt refused: as many attempts in flight as admitted"
        );
        return with_note(
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "the server is running as many attempts as it admits; no attempt was started",
            ),
            note,
        );
    };
    let trace = trace.map(|axum::Extension(t)| t);
    run_attempt(&state, caller, body, arrived, permit, trace).await
}

/// What a handler tells the access line about a request: the authenticated caller, and the
/// attempt and its terminal code when there was one (a response extension, never sent).
#[derive(Debug, Clone, Default)]
pub(super) struct AccessNote {
    caller: Option<String>,
    attempt_id: Option<String>,
    code: Option<&'static str>,
}

fn with_note(mut response: Response, note: AccessNote) -> Response {
    response.extensions_mut().insert(note);
    response
}

/// The peer's address, set per connection by the accept loop.
#[derive(Debug, Clone, Copy)]
pub(super) struct PeerAddr(pub(super) std::net::SocketAddr);

/// A method name for the log: a standard method, or `other` (an extension method is request
/// text and stays out of the log).
fn method_name(m: &Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        "CONNECT" => "CONNECT",
        _ => "other",
    }
}

/// One access line per request: method, route (a route pattern of this server, never the
/// request's path), status, response bytes, duration, peer address, and the caller, attempt,
/// terminal code and trace id when there are ones. It also reads the request's W3C trace
/// context for the attempt route.
async fn access_log(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_name(req.method());
    let refused = req
        .extensions()
        .get::<Arc<ConnState>>()
        .and_then(|c| c.refused())
        .is_some();
    let route: &'static str = if refused {
        "refused_head"
    } else {
        match req
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
        {
            Some("/v1/attempts") => "/v1/attempts",
            Some("/v1/health") => "/v1/health",
            Some("/v1/ready") => "/v1/ready",
            Some("/metrics") => "/metrics",
            Some("/v1/openapi.json") => "/v1/openapi.json",
            _ => "unmatched",
        }
    };
    let peer = req.extensions().get::<PeerAddr>().map(|p| p.0);
    let trace = (route == "/v1/attempts").then(|| {
        let headers = req.headers();
        let one = |name: &str| {
            let mut all = headers.get_all(name).iter();
            match (all.next(), all.next()) {
                (Some(v), None) => Some(v.as_bytes()),
                _ => None,
            }
        };
        TraceContext::from_headers(one("traceparent"), one("tracestate"))
    });
    // With trace export on, the attempt's span: its ids become the attempt's trace context.
    let (span, trace) = match trace {
        Some(trace) if super::otlp::enabled() => {
            let (span, trace) = super::otlp::attempt_span(trace);
            (Some(span), Some(trace))
        }
        other => (None, other),
    };
    if let Some(trace) = &trace {
        req.extensions_mut().insert(trace.clone());
    }
    let response = match &span {
        Some(span) => {
            use tracing::Instrument as _;
            next.run(req).instrument(span.clone()).await
        }
        None => next.run(req).await,
    };
    let note = response.extensions().get::<AccessNote>();
    if let Some(span) = &span {
        span.record(
            "http.response.status_code",
            i64::from(response.status().as_u16()),
        );
        if let Some(note) = note {
            span.record("caller_id", note.caller.as_deref());
            span.record("attempt_id", note.attempt_id.as_deref());
            span.record("code", note.code);
        }
    }
    drop(span);
    let bytes = axum::body::HttpBody::size_hint(response.body()).exact();
    let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    tracing::info!(
        target: SERVE_TARGET,
        event = "access",
        method,
        route,
        status = response.status().as_u16(),
        bytes,
        duration_us,
        peer = peer.map(tracing::field::display),
        caller_id = note.and_then(|n| n.caller.as_deref()),
        attempt_id = note.and_then(|n| n.attempt_id.as_deref()),
        code = note.and_then(|n| n.code),
        trace_id = trace.as_ref().map(TraceContext::trace_id),
        "request"
    );
    response
}

/// The answer to a body that could not be read (no attempt is started for it).
fn unread_body(state: &AppState, rejection: &BytesRejection) -> Response {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        bump(&state.metrics.too_large);
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body exceeds max_request_bytes; no attempt was started",
        );
    }
    error(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "the request body could not be read; no attempt was started",
    )
}

/// Runs an admitted attempt to its terminal outcome and answers with it.
async fn run_attempt(
    state: &AppState,
    caller: AuthenticatedCaller,
    body: Bytes,
    arrived: Instant,
    permit: OwnedSemaphorePermit,
    trace: Option<TraceContext>,
) -> Response {
    let started = Instant::now();
    let rail = Arc::clone(&state.rail);
    let caller_id = caller.id().as_str().to_owned();
    let in_flight = InFlight::start(&state.metrics);

    let deadline = Deadline::after(
        rail.config()
            .attempt_timeout
            .saturating_sub(arrived.elapsed()),
    );
    // The attempt runs to its terminal outcome on a blocking thread even if the client goes
    // away: it is never cancelled half-way and never re-run. Its permit is given back when it
    // has its outcome.
    // The attempt's span when traces are exported (else a disabled span, which costs nothing):
    // the library's stage spans and events nest in it on the blocking thread.
    let span = tracing::Span::current();
    let joined = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let _in_flight = in_flight;
        let outcome =
            span.in_scope(|| rail.attempt_traced(&caller, &body, deadline, trace.as_ref()));
        let json = serde_json::to_vec(&outcome);
        (outcome.code, outcome.attempt_id.as_str().to_owned(), json)
    })
    .await;
    let mut note = AccessNote {
        caller: Some(caller_id),
        ..AccessNote::default()
    };
    let response = match joined {
        Ok((code, id, json)) => {
            state.metrics.record(code, started);
            note.attempt_id = Some(id);
            note.code = Some(code.as_str());
            match json {
                Ok(json) => (
                    status_for(code),
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )],
                    json,
                )
                    .into_response(),
                Err(_) => error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the outcome could not be encoded; see the audit log for the attempt",
                ),
            }
        }
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the attempt's thread failed; see the audit log",
        ),
    };
    with_note(response, note)
}

/// An attempt in flight, counted in `mig06_attempts_in_flight` until dropped.
struct InFlight(Arc<Metrics>);

impl InFlight {
    fn start(metrics: &Arc<Metrics>) -> Self {
        metrics.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(metrics))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Ready for attempts: no rollback or fork was detected, the witnesses' quorum cosigned the last
/// batch (when witnesses are configured; known in memory, no round trip), and the audit store
/// would accept an append now. A load balancer should send attempts only to a ready instance;
/// one that is not ready can only fail them closed.
#[utoipa::path(
    get,
    path = "/v1/ready",
    tag = "service",
    responses(
        (status = 200, description = "Ready: no rollback detected, the witnesses' quorum cosigned the last batch, and the audit store would accept an append now.", body = ReadyBody),
        (status = 503, description = "Not ready: attempts would fail closed. `reason` is a closed code: `log_rollback` (a rollback or fork was detected: every attempt ends ABORTED_LOG_ROLLBACK until an operator acts and restarts the rail), `witness_unconfirmed` (fewer than the quorum of witnesses cosigned the last batch: attempts end ABORTED_AUDIT_UNCONFIRMED until they answer again), or the audit store's code.", body = ReadyBody),
        (status = 405, description = "Method not allowed.", body = ErrorBody),
    )
)]
pub(super) async fn get_ready(State(state): State<Arc<AppState>>) -> Response {
    let rail = Arc::clone(&state.rail);
    // The store may need a round trip (PostgreSQL): off the async threads.
    let ready = tokio::task::spawn_blocking(move || rail.ready())
        .await
        .map_err(|_| "internal")
        .and_then(|r| r.map_err(|e| mig06_rail::telemetry::audit_error_code(&e)));
    match ready {
        Ok(()) => axum::Json(ReadyBody {
            status: "ready",
            reason: None,
        })
        .into_response(),
        Err(reason) => {
            tracing::warn!(
                target: SERVE_TARGET,
                event = "not_ready",
                reason,
                "readiness probe: an attempt would fail closed now"
            );
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(ReadyBody {
                    status: "not_ready",
                    reason: Some(reason),
                }),
            )
                .into_response()
        }
    }
}

/// Service health and the policy bundle digest in force.
#[utoipa::path(
    get,
    path = "/v1/health",
    tag = "service",
    responses(
        (status = 200, description = "The service is up.", body = HealthBody),
        (status = 405, description = "Method not allowed.", body = ErrorBody),
    )
)]
pub(super) async fn get_health(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(HealthBody {
        status: "ok",
        policy_digest: state.policy_digest.clone(),
        log_size: state.rail.log_size(),
        version: env!("CARGO_PKG_VERSION"),
    })
    .into_response()
}

/// Prometheus text: attempts per terminal code, pre-attempt rejections, latency histogram.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4.", body = String, content_type = "text/plain"),
        (status = 405, description = "Method not allowed.", body = ErrorBody),
    )
)]
pub(super) async fn get_metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut text = state.metrics.render();
    super::metrics::render_witnesses(&mut text, state.rail.witnesses(), &state.witness_stats);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

/// This OpenAPI document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "service",
    responses(
        (status = 200, description = "The OpenAPI document.", body = Object, content_type = "application/json"),
        (status = 405, description = "Method not allowed.", body = ErrorBody),
    )
)]
pub(super) async fn get_openapi(State(doc): State<Arc<String>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        doc.as_str().to_owned(),
    )
        .into_response()
}

fn not_allowed(allow: &'static str) -> Response {
    let mut r = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method; no route changes configuration",
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "no such route")
}

// INV-NO-CACHING: Execution, decision, mutation and audit paths are non-cacheable.
pub(crate) async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Clears the connection's "request in progress" mark when the answer is built, or when the
/// request is dropped (the client went away).
struct RequestDone(Arc<ConnState>);

impl Drop for RequestDone {
    fn drop(&mut self) {
        self.0.request_done();
    }
}

/// The connection guard's part of each answer: the status of a head the guard refused (in place
/// of the stand-in request it handed hyper), and `Connection: close` on a connection's last
/// answer.
pub(crate) async fn connection_rules(req: Request, next: Next) -> Response {
    let Some(conn) = req.extensions().get::<Arc<ConnState>>().cloned() else {
        return next.run(req).await;
    };
    let _done = RequestDone(Arc::clone(&conn));
    let mut response = match conn.refused() {
        Some(status) => refused_head(status),
        None => next.run(req).await,
    };
    if conn.is_last() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The answer to a request head the connection guard refused with `status`.
fn refused_head(status: StatusCode) -> Response {
    match status {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "the request head exceeds max_header_bytes or max_headers; no attempt was started",
        ),
        StatusCode::LENGTH_REQUIRED => error(
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "a request body needs Content-Length or Transfer-Encoding: chunked (that one coding, once, without Content-Length); no attempt was started",
        ),
        _ => error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request head is not valid HTTP/1.1; no attempt was started",
        ),
    }
}

#[cfg(test)]
mod tests {
    use mig06_rail::outcome::ALL_CODES;

    use super::*;

    #[test]
    fn status_mapping_never_uses_5xx_for_an_outcome() {
        for c in ALL_CODES {
            assert!(!status_for(c).is_server_error(), "{c}");
        }
        assert_eq!(status_for(TerminalCode::CompletedDraft), StatusCode::OK);
        assert_eq!(
            status_for(TerminalCode::DeniedPolicy),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status_for(TerminalCode::AbortedDeadline),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert!(bearer(&h).is_none());
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Some(&b"abc"[..]));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  abc "),
        );
        assert_eq!(bearer(&h), Some(&b"abc"[..]));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(bearer(&h).is_none());
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert!(bearer(&h).is_none());
    }
}
