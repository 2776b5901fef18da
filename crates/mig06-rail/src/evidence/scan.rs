//! The PHI scan of a request's evidence token (`$.continuation.evidence`), before it is
//! verified.
//!
//! The decision that matters: the record a token carries is decoded and its strings are
//! scanned, because a forged token is request text like any other. A record with an audit
//! record's shape has only its free strings scanned (its ids, digests, codes and numbers are
//! closed types), and its `detail.reason` counts as a free string even when it is not a
//! [`Reason`](crate::outcome::Reason) code, so a forged reason is scanned where it stands; any
//! other payload has every string scanned, keys included. The token's signed material (proof,
//! checkpoint) is not: it is base64 and hex, and nothing of it is ever written.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mig06_phi::PhiKind;
use serde::Deserialize;
use serde_json::Value;

use super::PREFIX;
use crate::audit::AuditRecord;
use crate::phi_scan::{Finding, PhiScan, Seg, TokenPhi, scan_document};

// INV-PHI-ABORT: PHI/PII inclusion is an abort condition.
/// Scans an evidence token's text, or the record it carries (every occurrence of it, when the
/// token's JSON repeats the member: verification refuses such a token, but it is request text
/// and is scanned first).
///
/// # Errors
/// The path within the token (`""` for the token text, `.record.<field>` for a record field,
/// unknown keys as `<key#N>`) and the kinds found.
pub(crate) fn scan_token(token: &str, phi: &dyn PhiScan) -> Result<(), TokenPhi> {
    let Some(records) = decode_records(token) else {
        return found(String::new(), phi.kinds(Some("evidence"), token));
    };
    for record in records {
        scan_record(record, phi)?;
    }
    Ok(())
}

/// Scans one record text: its free strings when it has a record's shape, else every string.
fn scan_record(record: String, phi: &dyn PhiScan) -> Result<(), TokenPhi> {
    if let Some(strings) = record_free_strings(&record) {
        for (field, text) in strings {
            found(field.to_owned(), phi.kinds(field.rsplit('.').next(), &text))?;
        }
        return Ok(());
    }
    let doc = match crate::json::read_document(record.as_bytes(), &|_| false) {
        Ok(doc) => doc,
        Err(_) => crate::json::Document {
            value: Value::String(record),
            repeats: Vec::new(),
        },
    };
    match scan_document(&doc, &|_| false, phi) {
        Err(Finding::Phi { field, kinds }) => Err(TokenPhi {
            within: format!(".record{}", field.strip_prefix('$').unwrap_or_default()),
            kinds,
        }),
        // Too deep to walk: not a record of this log, which verification refuses as malformed.
        Err(Finding::TooDeep { .. }) | Ok(()) => Ok(()),
    }
}

fn found(within: String, kinds: Vec<PhiKind>) -> Result<(), TokenPhi> {
    if kinds.is_empty() {
        Ok(())
    } else {
        Err(TokenPhi { within, kinds })
    }
}

/// Decodes a token's wire form without verifying anything: the text of its `record` member,
/// and of every repeat of it.
fn decode_records(token: &str) -> Option<Vec<String>> {
    let body = token.trim().strip_prefix(PREFIX)?;
    let json = URL_SAFE_NO_PAD.decode(body).ok()?;
    let doc = crate::json::read_document(&json, &|k| k == "record").ok()?;
    let first = doc.value.get("record")?.as_str()?.to_owned();
    let repeats = doc
        .repeats
        .into_iter()
        .filter_map(|r| match (r.path.0.as_slice(), r.value) {
            ([Seg::Key(k)], Value::String(text)) if k == "record" => Some(text),
            _ => None,
        });
    Some(std::iter::once(first).chain(repeats).collect())
}

/// A record's `detail` read with any string as its reason.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LooseDetail {
    field: String,
    reason: String,
}

/// The free strings of a record text that has an audit record's shape, with their paths in
/// record order; `None` for any other text.
fn record_free_strings(text: &str) -> Option<Vec<(&'static str, String)>> {
    if let Ok(record) = crate::audit::read_record(text.as_bytes()) {
        let detail = record
            .detail
            .as_ref()
            .map(|d| (d.field.clone(), d.reason.to_string()));
        return Some(free_strings(&record, detail));
    }
    // A repeated member is not a record's shape: such a text is scanned whole.
    let mut value = crate::json::read_value(text.as_bytes(), &crate::audit::is_member).ok()?;
    let detail = value
        .as_object_mut()?
        .remove("detail")
        .unwrap_or(Value::Null);
    let detail: Option<LooseDetail> = serde_json::from_value(detail).ok()?;
    let record: AuditRecord = serde_json::from_value(value).ok()?;
    Some(free_strings(&record, detail.map(|d| (d.field, d.reason))))
}

/// The record's fields that hold free strings (everything else is a closed type that its
/// deserialisation already checked), with their paths; `detail` is passed apart.
fn free_strings(
    record: &AuditRecord,
    detail: Option<(String, String)>,
) -> Vec<(&'static str, String)> {
    let mut out = vec![
        (".record.ts", record.ts.clone()),
        (".record.prev", record.prev.clone()),
    ];
    if let Some((field, reason)) = detail {
        out.push((".record.detail.field", field));
        out.push((".record.detail.reason", reason));
    }
    if let Some(d) = &record.decision {
        out.extend(
            d.policies
                .iter()
                .map(|p| (".record.decision.policies", p.clone())),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flags any text containing `CANARY`.
    struct Canary;
    impl PhiScan for Canary {
        fn kinds(&self, _key: Option<&str>, text: &str) -> Vec<PhiKind> {
            if text.contains("CANARY") {
                vec![PhiKind::Email]
            } else {
                Vec::new()
            }
        }
    }

    fn record(detail: &str, extra: &str) -> String {
        format!(
            r#"{{"prev":"{zero}","seq":0,"ts":"2026-01-01T00:00:00Z","kind":"terminal","attempt_id":"01JD0000000000000000000000","caller":"operator-1","policy_digest":"sha256:{two}","chain_root":"01JD0000000000000000000000","depth":0,"code":"DENIED_REQUEST_INVALID","detail":{detail}{extra}}}"#,
            zero = "0".repeat(64),
            two = "2".repeat(64),
        )
    }

    fn token(record: &str) -> String {
        let wire = serde_json::json!({"record": record, "index": 0, "proof": [], "checkpoint": ""});
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(wire.to_string()))
    }

    fn scan(record: &str) -> Result<(), TokenPhi> {
        scan_token(&token(record), &Canary)
    }

    #[test]
    fn a_record_with_a_reason_code_has_its_free_strings_scanned() {
        let clean = record(r#"{"field":"$.subject","reason":"not_opaque_id"}"#, "");
        assert_eq!(scan(&clean), Ok(()));
        let phi = record(r#"{"field":"$.CANARY","reason":"not_opaque_id"}"#, "");
        assert_eq!(scan(&phi).unwrap_err().within, ".record.detail.field");
    }

    #[test]
    fn a_reason_that_is_not_a_code_is_scanned_where_it_stands() {
        let forged = record(r#"{"field":"$","reason":"CANARY"}"#, "");
        let found = scan(&forged).unwrap_err();
        assert_eq!(found.within, ".record.detail.reason");
        assert_eq!(found.kinds, [PhiKind::Email]);
    }

    #[test]
    fn a_record_with_a_repeated_key_is_not_a_record_and_is_scanned_whole() {
        let repeated = record(
            r#"{"field":"$","reason":"CANARY"}"#,
            r#","ts":"2026-01-01T00:00:00Z""#,
        );
        let found = scan(&repeated).unwrap_err();
        assert!(
            found.within.starts_with(".record.<key#"),
            "{}",
            found.within
        );
    }
}
