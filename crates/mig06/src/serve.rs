//! `mig06 serve`: the rail's HTTP service.
//!
//! The decision that matters: HTTP is only a transport. Each `POST /v1/attempts` authenticates
//! the bearer credential, then runs the synchronous [`Rail::attempt`] on a blocking thread and
//! answers with its terminal outcome in the same response. Nothing is queued, deferred,
//! retried or cached; no route creates, changes or reloads policy, callers or configuration;
//! every response carries `Cache-Control: no-store`. Request bodies and header values are never
//! echoed or logged (they may hold PHI).
//!
//! Status mapping (fixed, documented in the OpenAPI document and `docs/HTTP.md`): `COMPLETED_*`
//! 200, `DENIED_*` 403, `ABORTED_*` 422. A terminal outcome is never a 5xx, because proxies and
//! clients retry 502/503/504 automatically and the rail forbids retries.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mig06_rail::ids::Sha256Digest;
use mig06_rail::outcome::{ALL_CODES, CodeClass, TerminalCode};
use mig06_rail::rail::{AuthenticatedCaller, Rail};

use crate::conn::{ConnState, Guarded, Limits, PeerSlots};
use crate::tls::PeerCertificate;
use mig06_rail::executor::Deadline;

/// When a request arrived (before its body was read): its attempt's deadline runs from here.
#[derive(Debug, Clone, Copy)]
struct Arrived(Instant);
use utoipa::OpenApi;

/// Shared state: the rail (loaded once, read-only), the metrics counters, and the admission
/// bound (one permit per attempt in flight).
struct AppState {
    rail: Arc<Rail>,
    metrics: Metrics,
    policy_digest: String,
    admission: Arc<tokio::sync::Semaphore>,
}

/// The HTTP status for a terminal code's class.
#[must_use]
pub(crate) fn status_for(code: TerminalCode) -> StatusCode {
    match code.class() {
        CodeClass::Completed => StatusCode::OK,
        CodeClass::Denied => StatusCode::FORBIDDEN,
        CodeClass::Aborted => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics: atomics only, no background task.

/// Upper bounds (seconds) of the attempt latency histogram buckets.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Metrics {
    codes: [AtomicU64; ALL_CODES.len()],
    unauthenticated: AtomicU64,
    too_large: AtomicU64,
    overloaded: AtomicU64,
    refused_total_cap: AtomicU64,
    refused_peer_cap: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Metrics {
    fn record(&self, code: TerminalCode, started: Instant) {
        if let Some(c) = ALL_CODES
            .iter()
            .position(|c| *c == code)
            .and_then(|i| self.codes.get(i))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let elapsed = started.elapsed();
        let secs = elapsed.as_secs_f64();
        for (bound, b) in BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::with_capacity(4096);
        let _ = writeln!(
            s,
            "# HELP mig06_attempts_total Attempts by terminal code.\n# TYPE mig06_attempts_total counter"
        );
        for (code, n) in ALL_CODES.iter().zip(&self.codes) {
            let _ = writeln!(
                s,
                "mig06_attempts_total{{code=\"{}\"}} {}",
                code.as_str(),
                n.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP mig06_http_rejected_total Requests refused before any attempt existed (no audit record).\n# TYPE mig06_http_rejected_total counter"
        );
        let _ = writeln!(
            s,
            "mig06_http_rejected_total{{reason=\"unauthenticated\"}} {}",
            self.unauthenticated.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "mig06_http_rejected_total{{reason=\"body_too_large\"}} {}",
            self.too_large.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "mig06_http_rejected_total{{reason=\"overloaded\"}} {}",
            self.overloaded.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP mig06_http_connections_refused_total Connections closed at accept, beyond a connection cap.\n# TYPE mig06_http_connections_refused_total counter"
        );
        let _ = writeln!(
            s,
            "mig06_http_connections_refused_total{{reason=\"max_connections\"}} {}",
            self.refused_total_cap.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "mig06_http_connections_refused_total{{reason=\"max_connections_per_peer\"}} {}",
            self.refused_peer_cap.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP mig06_attempt_duration_seconds Attempt latency, authentication to terminal outcome.\n# TYPE mig06_attempt_duration_seconds histogram"
        );
        for (bound, b) in BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(
                s,
                "mig06_attempt_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                b.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            s,
            "mig06_attempt_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        #[expect(
            clippy::cast_precision_loss,
            reason = "a latency sum in seconds for Prometheus; f64 precision is ample"
        )]
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(s, "mig06_attempt_duration_seconds_sum {sum}");
        let _ = writeln!(s, "mig06_attempt_duration_seconds_count {count}");
        s
    }
}

// ---------------------------------------------------------------------------------------------
// OpenAPI: mirror schemas of the library's wire types (the library has no utoipa dependency).

/// The closed trigger taxonomy.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = Trigger)]
#[allow(clippy::enum_variant_names)]
enum TriggerSchema {
    #[schema(rename = "operator_explicit")]
    OperatorExplicit,
    #[schema(rename = "service_explicit")]
    ServiceExplicit,
    #[schema(rename = "operator_continuation")]
    OperatorContinuation,
}

/// The closed list of continuation reasons.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = ContinuationReason)]
#[allow(clippy::enum_variant_names)]
enum ReasonSchema {
    #[schema(rename = "operator_amended_request")]
    OperatorAmendedRequest,
    #[schema(rename = "operator_confirmed_dependency_restored")]
    OperatorConfirmedDependencyRestored,
    #[schema(rename = "operator_supplied_missing_authorisation")]
    OperatorSuppliedMissingAuthorisation,
}

/// One step: an action from the policy bundle's vocabulary and its closed parameters.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = Step)]
#[allow(dead_code, reason = "schema-only")]
#[serde(deny_unknown_fields)]
struct StepSchema {
    /// A vocabulary action code, e.g. `draft_note`.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "draft_note")]
    action: String,
    /// The action's parameters: closed values declared in the vocabulary (enum codes, integers,
    /// booleans, opaque ids, digests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object, nullable = false, example = json!({"note_kind": "discharge_summary"}))]
    params: Option<serde_json::Value>,
}

/// A continuation of a prior terminal attempt.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = Continuation)]
#[allow(dead_code, reason = "schema-only")]
#[serde(deny_unknown_fields)]
struct ContinuationSchema {
    /// The prior attempt's evidence token.
    #[schema(pattern = "^[A-Za-z0-9._=-]+$")]
    evidence: String,
    /// Why this is a continuation, not a retry.
    reason: ReasonSchema,
}

/// An attempt request. Parsed by the rail into closed types; anything else (unknown fields,
/// malformed JSON, free text) ends the attempt `DENIED_REQUEST_INVALID`, more than one step
/// `DENIED_MULTI_STEP`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = AttemptRequest, example = json!({
    "request_id": "01JD0000000000000000000000",
    "trigger": "operator_explicit",
    "subject": "subj_7k3m9q2x4w8r5t6v",
    "steps": [{"action": "draft_note", "params": {"note_kind": "discharge_summary"}}]
}))]
#[allow(dead_code, reason = "schema-only")]
#[serde(deny_unknown_fields)]
struct AttemptRequestSchema {
    /// The caller's request id: a ULID or a lowercase hyphenated UUID.
    #[schema(
        example = "01JD0000000000000000000000",
        pattern = "^([0-7][0-9A-HJKMNP-TV-Z]{25}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
    )]
    request_id: String,
    /// The trigger category.
    trigger: TriggerSchema,
    /// The subject reference: an opaque id (UUID, ULID, or `prefix_` + Crockford base32).
    #[schema(
        example = "subj_7k3m9q2x4w8r5t6v",
        pattern = "^((subj|enc|draft|doc|ord|ref)_[0-9a-hjkmnp-tv-z]{16,52}|[0-7][0-9A-HJKMNP-TV-Z]{25}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
    )]
    subject: String,
    /// Exactly one step (more than one ends the attempt `DENIED_MULTI_STEP`).
    #[schema(min_items = 1, max_items = 1)]
    steps: Vec<StepSchema>,
    /// Present only for a continuation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    continuation: Option<ContinuationSchema>,
}

/// The stable terminal codes.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = TerminalCode)]
enum TerminalCodeSchema {
    #[schema(rename = "COMPLETED_DRAFT")]
    CompletedDraft,
    #[schema(rename = "DENIED_POLICY")]
    DeniedPolicy,
    #[schema(rename = "DENIED_UNAPPROVED_TRIGGER")]
    DeniedUnapprovedTrigger,
    #[schema(rename = "DENIED_REQUEST_INVALID")]
    DeniedRequestInvalid,
    #[schema(rename = "DENIED_MULTI_STEP")]
    DeniedMultiStep,
    #[schema(rename = "DENIED_CONTINUATION_INVALID")]
    DeniedContinuationInvalid,
    #[schema(rename = "DENIED_CONTINUATION_IS_RETRY")]
    DeniedContinuationIsRetry,
    #[schema(rename = "DENIED_CONTINUATION_ALREADY_USED")]
    DeniedContinuationAlreadyUsed,
    #[schema(rename = "ABORTED_PHI_DETECTED")]
    AbortedPhiDetected,
    #[schema(rename = "ABORTED_ASYNC_AMBIGUITY")]
    AbortedAsyncAmbiguity,
    #[schema(rename = "ABORTED_AUDIT_UNCONFIRMED")]
    AbortedAuditUnconfirmed,
    #[schema(rename = "ABORTED_EXECUTOR_FAULT")]
    AbortedExecutorFault,
    #[schema(rename = "ABORTED_DEADLINE")]
    AbortedDeadline,
    #[schema(rename = "ABORTED_OUTPUT_NOT_DRAFT")]
    AbortedOutputNotDraft,
    #[schema(rename = "ABORTED_INVARIANT")]
    AbortedInvariant,
    #[schema(rename = "ABORTED_INTERRUPTED")]
    AbortedInterrupted,
}

/// A policy effect.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = Effect)]
enum EffectSchema {
    #[schema(rename = "permit")]
    Permit,
    #[schema(rename = "deny")]
    Deny,
}

/// The policy decision signal: metadata only.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = DecisionSignal)]
#[allow(dead_code, reason = "schema-only")]
#[serde(deny_unknown_fields)]
struct DecisionSchema {
    /// Permit or deny.
    effect: EffectSchema,
    /// Ids of the determining policies (empty: deny by default).
    policies: Vec<String>,
    /// Whether an evaluation error occurred (an error is a deny).
    errors: bool,
}

/// Field path and reason code; never the offending value.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = Detail)]
#[allow(dead_code, reason = "schema-only")]
#[serde(deny_unknown_fields)]
struct DetailSchema {
    /// The field path, e.g. `$.steps[0].params`.
    field: String,
    /// The reason code, e.g. `unknown_field`, `phi:us_ssn`.
    reason: String,
}

/// Metadata-only provenance links between attempts.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = Provenance)]
#[allow(dead_code, reason = "schema-only")]
#[serde(deny_unknown_fields)]
struct ProvenanceSchema {
    /// The prior attempt this one continues.
    continues: Option<String>,
    /// The first attempt of the chain.
    chain_root: String,
    /// 0 for a fresh attempt.
    #[schema(minimum = 0)]
    depth: u32,
}

/// The terminal outcome of one attempt (mirror of `mig06_rail::outcome::Outcome`).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = Outcome)]
#[allow(dead_code, reason = "schema-only")]
#[serde(deny_unknown_fields)]
struct OutcomeSchema {
    /// The attempt id (ULID minted by the rail).
    attempt_id: String,
    /// The one terminal code.
    code: TerminalCodeSchema,
    /// The code's fixed operator explanation.
    explanation: String,
    /// A short, value-free message.
    message: Option<String>,
    /// The policy bundle digest in force (`sha256:<hex>`).
    #[schema(pattern = "^sha256:[0-9a-f]{64}$")]
    policy_digest: String,
    /// The decision signal, when the gate ran.
    decision: Option<DecisionSchema>,
    /// Field path and reason, for a denial or abort.
    detail: Option<DetailSchema>,
    /// The draft reference (completed attempts with a durable terminal record only).
    draft_ref: Option<String>,
    /// The draft content digest.
    content_sha256: Option<String>,
    /// The request fingerprint, when the request parsed.
    request_fingerprint: Option<String>,
    /// Provenance links.
    provenance: ProvenanceSchema,
    /// The evidence token, when the terminal record is durable.
    evidence: Option<String>,
    /// Whether the terminal record is durably in the audit log.
    recorded: bool,
}

/// An error that is not an attempt outcome (no attempt exists).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
struct ErrorBody {
    /// `unauthenticated`, `body_too_large`, `bad_request`, `headers_too_large`,
    /// `length_required`, `overloaded`, `not_found`, `method_not_allowed`, `internal`.
    error: &'static str,
    /// A fixed human-readable message (never echoes the request).
    message: &'static str,
}

/// Service health.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = Health)]
struct HealthBody {
    /// Always `ok` while the service answers.
    status: &'static str,
    /// The policy bundle digest in force.
    #[schema(pattern = "^sha256:[0-9a-f]{64}$")]
    policy_digest: String,
    /// Audit log size in records, as this instance last saw it (at start-up or after its own
    /// latest append).
    log_size: u64,
    /// The `mig06` version.
    version: &'static str,
}

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "MIG-06 governance rail",
        description = "One explicitly invoked, policy-gated, audited attempt per POST; the terminal outcome is the response. Status mapping: COMPLETED_* 200, DENIED_* 403, ABORTED_* 422 (never 5xx for an outcome, so nothing retries it). No route creates, changes or reloads policy, callers or configuration. Every response carries Cache-Control: no-store.",
        license(name = "Apache-2.0")
    ),
    paths(post_attempt, get_health, get_metrics, get_openapi),
    components(schemas(
        AttemptRequestSchema, OutcomeSchema, ErrorBody, HealthBody, TerminalCodeSchema,
        TriggerSchema, ReasonSchema, StepSchema, ContinuationSchema, DecisionSchema,
        DetailSchema, ProvenanceSchema, EffectSchema
    )),
    modifiers(&BearerScheme)
)]
struct ApiDoc;

/// The OpenAPI document as JSON.
///
/// # Errors
/// Serialisation errors (none expected).
pub(crate) fn openapi_json() -> Result<String> {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    Ok(doc.to_pretty_json()?)
}

// ---------------------------------------------------------------------------------------------
// Handlers.

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
            state
                .metrics
                .unauthenticated
                .fetch_add(1, Ordering::Relaxed);
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
async fn post_attempt(
    State(state): State<Arc<AppState>>,
    caller: Option<axum::Extension<AuthenticatedCaller>>,
    arrived: Option<axum::Extension<Arrived>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (Some(axum::Extension(caller)), Some(axum::Extension(Arrived(arrived)))) =
        (caller, arrived)
    else {
        return unauthenticated();
    };
    let body = match body {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            state.metrics.too_large.fetch_add(1, Ordering::Relaxed);
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body exceeds max_request_bytes; no attempt was started",
            );
        }
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the request body could not be read; no attempt was started",
            );
        }
    };
    // No hidden queue: an attempt starts now, on a thread of its own, or not at all.
    let Ok(permit) = Arc::clone(&state.admission).try_acquire_owned() else {
        state.metrics.overloaded.fetch_add(1, Ordering::Relaxed);
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the server is running as many attempts as it admits; no attempt was started",
        );
    };
    let started = Instant::now();
    let rail = Arc::clone(&state.rail);
    let deadline = Deadline::after(
        rail.config()
            .attempt_timeout
            .saturating_sub(arrived.elapsed()),
    );
    // The attempt runs to its terminal outcome on a blocking thread even if the client goes
    // away: it is never cancelled half-way and never re-run. Its permit is given back when it
    // has its outcome.
    let joined = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let outcome = rail.attempt_by(&caller, &body, deadline);
        let json = serde_json::to_vec(&outcome);
        (outcome.code, json)
    })
    .await;
    match joined {
        Ok((code, Ok(json))) => {
            state.metrics.record(code, started);
            (
                status_for(code),
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                json,
            )
                .into_response()
        }
        Ok((code, Err(_))) => {
            state.metrics.record(code, started);
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the outcome could not be encoded; see the audit log for the attempt",
            )
        }
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the attempt's thread failed; see the audit log",
        ),
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
async fn get_health(State(state): State<Arc<AppState>>) -> Response {
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
async fn get_metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(),
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
async fn get_openapi(State(doc): State<Arc<String>>) -> Response {
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

async fn no_store(mut response: Response) -> Response {
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
async fn connection_rules(req: Request, next: Next) -> Response {
    let Some(conn) = req.extensions().get::<Arc<ConnState>>().cloned() else {
        return next.run(req).await;
    };
    let _done = RequestDone(Arc::clone(&conn));
    let mut response = match conn.refused() {
        Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE) => error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "the request head exceeds max_header_bytes or max_headers; no attempt was started",
        ),
        Some(StatusCode::LENGTH_REQUIRED) => error(
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "a request body needs Content-Length (Transfer-Encoding is not accepted); no attempt was started",
        ),
        Some(_) => error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request head is not valid HTTP/1.1; no attempt was started",
        ),
        None => next.run(req).await,
    };
    if conn.is_last() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The router: four read-only routes plus the attempt route. Nothing here writes configuration.
fn router(state: Arc<AppState>, doc: Arc<String>) -> Router {
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
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    eprintln!("mig06 serve: shutting down; in-flight attempts finish, no new ones start");
}

/// Added to the attempt deadline to bound the SIGTERM drain and a closing connection: enough
/// to encode and send the last answer after an attempt that ran to its deadline.
pub(crate) const DRAIN_MARGIN: Duration = Duration::from_secs(2);
/// Pause after a failed `accept` (out of file descriptors, say) instead of spinning on it.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(200);

/// The server's limits from the configuration (`[server]`), with `--max-in-flight` applied.
pub(crate) fn limits(config: &mig06_rail::config::Config) -> Limits {
    let server = &config.server;
    Limits {
        max_connections: server.max_connections,
        max_per_peer: server.max_connections_per_peer,
        header_timeout: Duration::from_millis(server.header_read_timeout_ms),
        idle_timeout: Duration::from_millis(server.idle_timeout_ms),
        max_requests: server.max_requests_per_connection,
        max_lifetime: Duration::from_millis(server.max_connection_lifetime_ms),
        // hyper refuses a header name of 64 KiB or more by itself; a head is capped below that.
        max_header_bytes: server.max_header_bytes.min(60 * 1024),
        max_headers: server.max_headers,
        drain: config.attempt_timeout + DRAIN_MARGIN,
    }
}

/// The default bound on attempts in flight: 32 per available CPU, between 32 and 512. Attempts
/// mostly wait (on `fdatasync`, on a downstream), so the bound is well above the CPU count; it
/// exists so that nothing queues: every admitted attempt has a thread at once.
fn default_max_in_flight() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    cpus.saturating_mul(32).clamp(32, 512)
}

/// The transport of a listener.
enum Transport {
    Plain,
    Tls(tokio_rustls::TlsAcceptor),
}

/// Everything a connection task needs.
struct Shared {
    app: Router,
    limits: Limits,
    builder: hyper::server::conn::http1::Builder,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

/// Serves `app` on `listener` (plain HTTP or TLS: one loop, the same limits) until
/// SIGTERM/SIGINT. A connection beyond `max_connections`, or beyond `max_connections_per_peer`
/// from one address, is closed at once. On shutdown the listener closes, idle and half-sent
/// connections close at once, and connections with a request in progress get its answer, for
/// at most `limits.drain` (the attempt deadline plus [`DRAIN_MARGIN`]); attempts already on
/// their threads finish and are recorded regardless.
async fn serve_loop(
    listener: tokio::net::TcpListener,
    app: Router,
    transport: Transport,
    limits: Limits,
    state: Arc<AppState>,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        // The guard enforces the head and idle clocks; this is hyper's own backstop.
        .header_read_timeout(limits.idle_timeout + limits.header_timeout)
        .max_headers(limits.max_headers)
        .keep_alive(true);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let shared = Arc::new(Shared {
        app,
        limits: limits.clone(),
        builder,
        shutdown: rx,
    });
    let total = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let slots = Arc::new(tokio::sync::Semaphore::new(total as usize));
    let peers = Arc::new(PeerSlots::default());
    let transport = Arc::new(transport);
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let Ok((tcp, peer)) = accepted else {
            // A failed accept affects that connection only; pause rather than spin.
            tokio::time::sleep(ACCEPT_BACKOFF).await;
            continue;
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            state
                .metrics
                .refused_total_cap
                .fetch_add(1, Ordering::Relaxed);
            drop(tcp);
            continue;
        };
        let Some(peer_slot) = peers.acquire(peer.ip(), limits.max_per_peer) else {
            state
                .metrics
                .refused_peer_cap
                .fetch_add(1, Ordering::Relaxed);
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let transport = Arc::clone(&transport);
        tokio::spawn(async move {
            let _slots = (slot, peer_slot);
            match &*transport {
                Transport::Plain => serve_connection(tcp, None, &shared).await,
                Transport::Tls(acceptor) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(shared.limits.header_timeout, acceptor.accept(tcp))
                            .await
                    else {
                        return;
                    };
                    let peer = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(<[_]>::first)
                        .map(|cert| Sha256Digest::of(cert.as_ref()));
                    serve_connection(stream, Some(PeerCertificate(peer)), &shared).await;
                }
            }
        });
    }
    drop(listener);
    let _ = tx.send(true);
    // Every connection gives its slot back when it ends; wait for all of them, bounded.
    if tokio::time::timeout(limits.drain, slots.acquire_many(total))
        .await
        .is_err()
    {
        eprintln!(
            "mig06 serve: connections still open {} ms after shutdown began were closed",
            limits.drain.as_millis()
        );
    }
}

/// Resolves once shutdown has begun.
async fn shutdown_begun(mut rx: tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|begun| *begun).await;
}

/// Serves one connection (plain or TLS stream) through the guard, until it ends, or until it is
/// told to close (shutdown or lifetime) and then at most `drain` more.
async fn serve_connection<S>(io: S, peer: Option<PeerCertificate>, shared: &Shared)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let limits = &shared.limits;
    let conn = Arc::new(ConnState::default());
    let lifetime = tokio::time::sleep(limits.max_lifetime);
    let closing: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> = {
        let rx = shared.shutdown.clone();
        let lifetime = limits.max_lifetime;
        Box::pin(async move {
            tokio::select! {
                () = shutdown_begun(rx) => {},
                () = tokio::time::sleep(lifetime) => {},
            }
        })
    };
    let guarded = Guarded::new(io, Arc::clone(&conn), limits, closing);
    let mut app = shared.app.clone().layer(axum::Extension(conn));
    if let Some(peer) = peer {
        app = app.layer(axum::Extension(peer));
    }
    let service = hyper_util::service::TowerToHyperService::new(app);
    let connection = shared
        .builder
        .serve_connection(hyper_util::rt::TokioIo::new(guarded), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        // A connection error (client reset, timeout) ends that connection only.
        _ = connection.as_mut() => return,
        () = shutdown_begun(shared.shutdown.clone()) => {},
        () = lifetime => {},
    }
    // Told to close: the answer in progress (if any) says Connection: close, then it closes.
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(limits.drain, connection).await;
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
) -> Result<ExitCode> {
    let tls = tls
        .map(|(cert, key)| crate::tls::server_config(cert, key))
        .transpose()?
        .map(Arc::new);
    let rail = crate::open_rail(config)?;
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
    let state = Arc::new(AppState {
        policy_digest: rail.policy_digest().to_string(),
        rail: Arc::new(rail),
        metrics: Metrics::default(),
        admission: Arc::new(tokio::sync::Semaphore::new(max_in_flight)),
    });
    let doc = Arc::new(openapi_json()?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mig06-http")
        // One blocking thread per admitted attempt, so an admitted attempt never waits for a
        // thread (nothing else here runs on the blocking pool).
        .max_blocking_threads(max_in_flight)
        .build()
        .context("cannot start the HTTP runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let local = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!("mig06 serve: listening on {scheme}://{local}");
        eprintln!(
            "mig06 serve: policy digest {}; routes POST /v1/attempts, GET /v1/health, GET /metrics, GET /v1/openapi.json; at most {max_in_flight} attempts in flight",
            state.policy_digest
        );
        let transport = match tls {
            None => Transport::Plain,
            Some(tls) => Transport::Tls(tokio_rustls::TlsAcceptor::from(tls)),
        };
        let app = router(Arc::clone(&state), doc);
        serve_loop(listener, app, transport, limits, state).await;
        anyhow::Ok(())
    })?;
    // Dropping the runtime waits for any blocking attempt still running to reach its outcome.
    drop(runtime);
    eprintln!("mig06 serve: stopped");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn the_schema_lists_every_terminal_code() {
        let doc: serde_json::Value = serde_json::from_str(&openapi_json().unwrap()).unwrap();
        let codes = doc["components"]["schemas"]["TerminalCode"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect::<Vec<_>>();
        let want = ALL_CODES
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect::<Vec<_>>();
        assert_eq!(codes, want);
    }

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

    #[test]
    fn metrics_render_counts_and_histogram() {
        let m = Metrics::default();
        m.record(TerminalCode::CompletedDraft, Instant::now());
        let text = m.render();
        assert!(text.contains("mig06_attempts_total{code=\"COMPLETED_DRAFT\"} 1"));
        assert!(text.contains("mig06_attempt_duration_seconds_count 1"));
        assert!(text.contains("mig06_attempt_duration_seconds_bucket{le=\"+Inf\"} 1"));
    }
}
