//! Checking an executor's raw answer into a draft-only, metadata-only [`Receipt`].
//!
//! The decision that matters: the checks run in a fixed order of severity, PHI first (anywhere,
//! keys included), then a non-final status (async ambiguity), then any claim of finalisation
//! (not draft), then the closed shape (executor fault), so the same answer always ends the same
//! way and the most serious finding wins.

use serde_json::{Map, Value};

use crate::ids::{OpaqueId, Sha256Digest};
use crate::outcome::{Reason, Rejection, TerminalCode};
use crate::phi_scan::{PhiScan, scan_value};

/// A checked, draft-only, metadata-only receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Receipt {
    /// The draft's opaque reference.
    pub(crate) draft_ref: OpaqueId,
    /// The draft content's SHA-256.
    pub(crate) content_sha256: Sha256Digest,
}

fn reject(code: TerminalCode, field: &str, reason: Reason) -> Rejection {
    Rejection::new(code, format!("$receipt{field}"), reason)
}
fn fault(field: &str, reason: Reason) -> Rejection {
    reject(TerminalCode::AbortedExecutorFault, field, reason)
}
fn not_draft(field: &str, reason: Reason) -> Rejection {
    reject(TerminalCode::AbortedOutputNotDraft, field, reason)
}

const RECEIPT_KEYS: &[&str] = &[
    "draft_ref",
    "disposition",
    "content_sha256",
    "docStatus",
    "status",
];
/// Words that claim finalisation, signing, attestation or write-back.
const FINALISATION_WORDS: &[&str] = &[
    "final",
    "finalised",
    "finalized",
    "signed",
    "attested",
    "write_back",
    "written_back",
    "amended",
    "entered_in_error",
    "current",
    "committed",
    "authenticated",
    "legal",
];
const ASYNC_STATUSES: &[&str] = &[
    "pending",
    "queued",
    "accepted",
    "processing",
    "in_progress",
    "running",
    "scheduled",
];
const FINAL_STATUSES: &[&str] = &["completed", "complete", "done", "ok", "succeeded"];

type Checked = Result<(), Rejection>;

impl Receipt {
    // INV-SYNC-PROXY: The sync proxy gives a synchronous, authoritative answer or fails closed.
    // INV-DRAFT-ONLY: Output is draft-only.
    // INV-PHI-ABORT: every value and every unrecognised key of the receipt is scanned first; PHI
    // anywhere aborts the attempt before the receipt is read any further.
    /// Checks a raw receipt: PHI anywhere aborts; a non-final status is async ambiguity; any
    /// sign of finalisation is not-draft; anything else unexpected is an executor fault.
    ///
    /// # Errors
    /// A [`Rejection`] with the code and a value-free detail (its field under `$receipt`).
    pub(crate) fn check(raw: &Value, phi: &dyn PhiScan) -> Result<Self, Rejection> {
        scan_phi(raw, phi)?;
        let Value::Object(map) = raw else {
            return Err(fault("", Reason::NotAnObject));
        };
        check_status(map)?;
        check_finalisation_keys(map)?;
        check_doc_status(map)?;
        check_disposition(map)?;
        check_closed_keys(map)?;
        read_ids(map)
    }
}

/// PHI in any value or unrecognised key, reported under `$receipt`.
fn scan_phi(raw: &Value, phi: &dyn PhiScan) -> Checked {
    scan_value(
        raw,
        &|k| RECEIPT_KEYS.contains(&k) || FINALISATION_WORDS.contains(&k),
        phi,
    )
    .map_err(|finding| {
        let r = Rejection::from(finding);
        Rejection::new(
            r.code,
            r.detail.field.replacen('$', "$receipt", 1),
            r.detail.reason,
        )
    })
}

/// A status, when present, must be final; a pending one is async ambiguity.
fn check_status(map: &Map<String, Value>) -> Checked {
    let Some(status) = map.get("status") else {
        return Ok(());
    };
    let s = status.as_str().unwrap_or_default();
    if ASYNC_STATUSES.contains(&s) {
        return Err(reject(
            TerminalCode::AbortedAsyncAmbiguity,
            ".status",
            Reason::NotFinal,
        ));
    }
    if !FINAL_STATUSES.contains(&s) {
        return Err(fault(".status", Reason::UnknownStatus));
    }
    Ok(())
}

/// A finalisation word used as a key claims finalisation unless it is `false` or `null`.
fn check_finalisation_keys(map: &Map<String, Value>) -> Checked {
    for (k, v) in map {
        if FINALISATION_WORDS.contains(&k.as_str()) && v != &Value::Bool(false) && !v.is_null() {
            return Err(not_draft(&format!(".{k}"), Reason::FinalisationClaim));
        }
    }
    Ok(())
}

/// `docStatus`, when present, must be `preliminary`.
fn check_doc_status(map: &Map<String, Value>) -> Checked {
    match map.get("docStatus") {
        None => Ok(()),
        Some(Value::String(s)) if s == "preliminary" => Ok(()),
        Some(_) => Err(not_draft(".docStatus", Reason::NotPreliminary)),
    }
}

/// `disposition` is required and must be `draft`.
fn check_disposition(map: &Map<String, Value>) -> Checked {
    match map.get("disposition") {
        Some(Value::String(s)) if s == "draft" => Ok(()),
        Some(Value::String(s)) if FINALISATION_WORDS.contains(&s.as_str()) => {
            Err(not_draft(".disposition", Reason::FinalisationClaim))
        }
        Some(_) => Err(not_draft(".disposition", Reason::NotDraft)),
        None => Err(fault(".disposition", Reason::MissingField)),
    }
}

/// No key outside the receipt's closed set (named only when it is one of our own words).
fn check_closed_keys(map: &Map<String, Value>) -> Checked {
    for k in map.keys() {
        if !RECEIPT_KEYS.contains(&k.as_str()) {
            let field = if FINALISATION_WORDS.contains(&k.as_str()) {
                format!(".{k}")
            } else {
                String::from(".<key>")
            };
            return Err(fault(&field, Reason::UnknownField));
        }
    }
    Ok(())
}

/// The draft reference and content digest, each in its strict grammar.
fn read_ids(map: &Map<String, Value>) -> Result<Receipt, Rejection> {
    let draft_ref = map
        .get("draft_ref")
        .and_then(Value::as_str)
        .and_then(|s| OpaqueId::parse(s).ok())
        .ok_or_else(|| fault(".draft_ref", Reason::NotOpaqueId))?;
    let content_sha256 = map
        .get("content_sha256")
        .and_then(Value::as_str)
        .and_then(|s| Sha256Digest::parse(s).ok())
        .ok_or_else(|| fault(".content_sha256", Reason::NotSha256Digest))?;
    Ok(Receipt {
        draft_ref,
        content_sha256,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
    use super::*;
    use serde_json::json;

    struct Canary;
    impl PhiScan for Canary {
        fn kinds(&self, _k: Option<&str>, t: &str) -> Vec<mig06_phi::PhiKind> {
            if t.contains("CANARY") {
                vec![mig06_phi::PhiKind::PersonName]
            } else {
                vec![]
            }
        }
    }

    fn good() -> Value {
        json!({"draft_ref": "draft_7k3m9q2x4w8r5t6v", "disposition": "draft",
               "content_sha256": format!("sha256:{}", "ab".repeat(32))})
    }

    fn code_of(v: Value) -> TerminalCode {
        Receipt::check(&v, &Canary)
            .map(|_| TerminalCode::CompletedDraft)
            .unwrap_or_else(|r| r.code)
    }

    #[test]
    fn a_draft_receipt_is_accepted() {
        assert_eq!(code_of(good()), TerminalCode::CompletedDraft);
        let mut v = good();
        v["docStatus"] = json!("preliminary");
        v["status"] = json!("completed");
        assert_eq!(code_of(v), TerminalCode::CompletedDraft);
    }

    #[test]
    fn any_finalisation_claim_is_not_draft() {
        for (k, val) in [
            ("disposition", json!("final")),
            ("disposition", json!("signed")),
            ("disposition", json!("attested")),
            ("disposition", json!("write_back")),
            ("docStatus", json!("final")),
            ("docStatus", json!("amended")),
            ("signed", json!(true)),
            ("attested", json!(true)),
            ("write_back", json!(true)),
        ] {
            let mut v = good();
            v[k] = val;
            assert_eq!(code_of(v), TerminalCode::AbortedOutputNotDraft, "{k}");
        }
    }

    #[test]
    fn pending_answers_are_async_ambiguity() {
        for s in ["pending", "queued", "accepted"] {
            let mut v = good();
            v["status"] = json!(s);
            assert_eq!(code_of(v), TerminalCode::AbortedAsyncAmbiguity, "{s}");
        }
    }

    #[test]
    fn phi_in_a_receipt_aborts_without_echo() {
        let mut v = good();
        v["draft_ref"] = json!("CANARY Jane Doe");
        let r = Receipt::check(&v, &Canary).unwrap_err();
        assert_eq!(r.code, TerminalCode::AbortedPhiDetected);
        assert_eq!(r.detail.field, "$receipt.draft_ref");
    }

    #[test]
    fn unknown_fields_and_bad_ids_are_faults() {
        let mut v = good();
        v["note"] = json!("x");
        assert_eq!(code_of(v), TerminalCode::AbortedExecutorFault);
        let mut v = good();
        v["draft_ref"] = json!("not an id");
        assert_eq!(code_of(v), TerminalCode::AbortedExecutorFault);
        assert_eq!(code_of(json!([1])), TerminalCode::AbortedExecutorFault);
    }
}
