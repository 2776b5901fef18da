//! The OpenAPI document `GET /v1/openapi.json` serves.
//!
//! The decision that matters: the document is generated from the handlers' own annotations and
//! the wire schemas in [`super::schema`] once at start-up, and a copy is committed as
//! `crates/mig06/openapi.json`; a test compares the served document with the copy, so a change to
//! the API is always a visible change to a reviewed file.

use anyhow::Result;
use utoipa::OpenApi;

use super::handlers;
use super::schema::{
    AttemptRequestSchema, ContinuationSchema, DecisionSchema, DetailSchema, EffectSchema,
    ErrorBody, HealthBody, OutcomeSchema, ProvenanceSchema, ReadyBody, ReasonSchema, StepSchema,
    TerminalCodeSchema, TriggerSchema,
};

/// Declares the `bearer` security scheme the attempt route requires.
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
    paths(
        handlers::post_attempt,
        handlers::get_health,
        handlers::get_ready,
        handlers::get_metrics,
        handlers::get_openapi
    ),
    components(schemas(
        AttemptRequestSchema, OutcomeSchema, ErrorBody, HealthBody, ReadyBody, TerminalCodeSchema,
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
pub(super) fn openapi_json() -> Result<String> {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    Ok(doc.to_pretty_json()?)
}

#[cfg(test)]
mod tests {
    use mig06_rail::outcome::ALL_CODES;
    use mig06_rail::request::{ALL_REASONS, ALL_TRIGGERS};

    use super::*;

    /// The values of the named closed-set schema in the generated document.
    fn enum_of(name: &str) -> Vec<String> {
        let doc: serde_json::Value = serde_json::from_str(&openapi_json().unwrap()).unwrap();
        doc["components"]["schemas"][name]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_schema_lists_every_terminal_code() {
        let want = ALL_CODES
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect::<Vec<_>>();
        assert_eq!(enum_of("TerminalCode"), want);
    }

    #[test]
    fn the_schema_lists_every_trigger_reason_and_effect() {
        let triggers = ALL_TRIGGERS.map(|t| t.as_str().to_owned()).to_vec();
        assert_eq!(enum_of("Trigger"), triggers);
        let reasons = ALL_REASONS.map(|r| r.as_str().to_owned()).to_vec();
        assert_eq!(enum_of("ContinuationReason"), reasons);
        assert_eq!(enum_of("Effect"), ["permit", "deny"]);
    }
}
