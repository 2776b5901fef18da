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

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mig06_phi::PhiKind;
use serde::Deserialize;
use serde_json::Value;

use super::{PREFIX, Wire};
use crate::audit::AuditRecord;
use crate::phi_scan::{Finding, PhiScan, TokenPhi, scan_value};

// INV-PHI-ABORT: PHI/PII inclusion is an abort condition.
/// Scans an evidence token's text, or the record it carries.
///
/// # Errors
/// The path within the token (`""` for the token text, `.record.<field>` for a record field,
/// unknown keys as `<key#N>`) and the kinds found.
pub(crate) fn scan_token(token: &str, phi: &dyn PhiScan) -> Result<(), TokenPhi> {
    let Some(wire) = decode_wire(token) else {
        return found(String::new(), phi.kinds(Some("evidence"), token));
    };
    if let Some(strings) = record_free_strings(&wire.record) {
        for (field, text) in strings {
            found(field.to_owned(), phi.kinds(field.rsplit('.').next(), &text))?;
        }
        return Ok(());
    }
    let value: Value = match serde_json::from_str(&wire.record) {
        Ok(v) => v,
        Err(_) => Value::String(wire.record),
    };
    match scan_value(&value, &|_| false, phi) {
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

/// Decodes a token's wire form without verifying anything.
fn decode_wire(token: &str) -> Option<Wire> {
    let body = token.trim().strip_prefix(PREFIX)?;
    let json = URL_SAFE_NO_PAD.decode(body).ok()?;
    serde_json::from_slice(&json).ok()
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
    if let Ok(record) = serde_json::from_str::<AuditRecord>(text) {
        let detail = record
            .detail
            .as_ref()
            .map(|d| (d.field.clone(), d.reason.to_string()));
        return Some(free_strings(&record, detail));
    }
    // The typed parse refuses a repeated key; the detour through `Value` would keep the last.
    serde_json::from_str::<NoRepeatedKeys>(text).ok()?;
    let mut value: Value = serde_json::from_str(text).ok()?;
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

/// Any JSON value in which no object repeats a key.
struct NoRepeatedKeys;

impl<'de> Deserialize<'de> for NoRepeatedKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoRepeatedKeysVisitor)
    }
}

struct NoRepeatedKeysVisitor;

impl<'de> serde::de::Visitor<'de> for NoRepeatedKeysVisitor {
    type Value = NoRepeatedKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON without repeated keys")
    }
    fn visit_bool<E>(self, _: bool) -> Result<NoRepeatedKeys, E> {
        Ok(NoRepeatedKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoRepeatedKeys, E> {
        Ok(NoRepeatedKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoRepeatedKeys, E> {
        Ok(NoRepeatedKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoRepeatedKeys, E> {
        Ok(NoRepeatedKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoRepeatedKeys, E> {
        Ok(NoRepeatedKeys)
    }
    fn visit_unit<E>(self) -> Result<NoRepeatedKeys, E> {
        Ok(NoRepeatedKeys)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<NoRepeatedKeys, A::Error> {
        while seq.next_element::<NoRepeatedKeys>()?.is_some() {}
        Ok(NoRepeatedKeys)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<NoRepeatedKeys, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key) {
                return Err(serde::de::Error::custom("repeated key"));
            }
            map.next_value::<NoRepeatedKeys>()?;
        }
        Ok(NoRepeatedKeys)
    }
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
