//! Key/value pairs written inside a string: `key=value`, `key: value`, `key="value"`,
//! `"key": "value"` (JSON embedded in a string), dotted and prefixed keys
//! (`args.account_number=…`), query strings (`?mrn=…&dob=…`) and HL7 v2 segments
//! (`PID|1||…`). Each value is handed back with its key so that the value is scanned with
//! the key as context, exactly as a real JSON key does. The key text itself is never a
//! finding.

/// Longest value considered for one pair.
const MAX_VALUE: usize = 512;

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'[' | b']' | b'@' | b'/')
}

/// Calls `f(key, value)` for each key/value pair found in `text`.
pub(crate) fn for_each_pair<'a>(text: &'a str, mut f: impl FnMut(&'a str, &'a str)) {
    let b = text.as_bytes();
    let mut i = 0usize;
    while i < b.len() {
        let Some(&c) = b.get(i) else { break };
        if c != b'=' && c != b':' {
            i += 1;
            continue;
        }
        // `://` (a URL) and `::` (IPv6) are not separators; `:=` and `=>` are one.
        if c == b':' && matches!(b.get(i + 1), Some(b'/' | b':')) {
            i += 2;
            continue;
        }
        if c == b':' && i > 0 && b.get(i - 1) == Some(&b':') {
            i += 1;
            continue;
        }
        let (key, quoted_key) = key_before(text, i);
        let (v_start, v_end) = value_after(b, i, quoted_key);
        if key_ok(key, c) && v_end > v_start {
            let mut end = v_end.min(v_start + MAX_VALUE);
            // Stay on a char boundary.
            while end > v_start && !text.is_char_boundary(end) {
                end -= 1;
            }
            if let Some(value) = text.get(v_start..end) {
                f(key, value.trim());
            }
        }
        i += 1;
    }
}

/// The key before the separator at `sep` (back over an optional closing quote and
/// spaces), and whether it was quoted.
fn key_before(text: &str, sep: usize) -> (&str, bool) {
    let b = text.as_bytes();
    let mut k_end = sep;
    while k_end > 0 && b.get(k_end - 1) == Some(&b' ') {
        k_end -= 1;
    }
    let quoted_key = k_end > 0 && matches!(b.get(k_end - 1), Some(b'"' | b'\''));
    if quoted_key {
        k_end -= 1;
    }
    let mut k_start = k_end;
    while k_start > 0 && b.get(k_start - 1).copied().is_some_and(is_key_byte) {
        k_start -= 1;
    }
    (text.get(k_start..k_end).unwrap_or(""), quoted_key)
}

/// True when `key` (before separator `c`) can be a key.
fn key_ok(key: &str, c: u8) -> bool {
    // `registry/app:1.2.3` and `path/to:x` are references, not `key: value`.
    !(key.is_empty() || c == b':' && key.contains('/'))
        && key.len() <= 96
        && key
            .bytes()
            .next()
            .is_some_and(|x| x.is_ascii_alphabetic() || x == b'_' || x == b'@')
        && key.bytes().any(|x| x.is_ascii_alphabetic())
}

/// The byte range of the value after the separator at `sep`.
fn value_after(b: &[u8], sep: usize, quoted_key: bool) -> (usize, usize) {
    let mut v = sep + 1;
    if matches!(b.get(v), Some(b'>' | b'=')) {
        v += 1;
    }
    while matches!(b.get(v), Some(b' ' | b'\t')) {
        v += 1;
    }
    while matches!(b.get(v), Some(b'[' | b' ')) {
        v += 1;
    }
    match b.get(v) {
        Some(&q @ (b'"' | b'\'')) => {
            let s = v + 1;
            let mut e = s;
            while e < b.len() && b.get(e) != Some(&q) {
                if b.get(e) == Some(&b'\\') {
                    e += 1;
                }
                e += 1;
            }
            (s, e.min(b.len()))
        }
        Some(b'{') | None => (v, v),
        Some(_) => {
            let unquoted_equals = b.get(sep) == Some(&b'=') && !quoted_key;
            (v, unquoted_value_end(b, v, unquoted_equals))
        }
    }
}

/// Where an unquoted value starting at `v` ends.
fn unquoted_value_end(b: &[u8], v: usize, unquoted_equals: bool) -> usize {
    let mut e = v;
    let mut parens = 0usize;
    while let Some(&x) = b.get(e) {
        // `(0231) 987575`: a parenthesis opened inside the value is its own.
        if x == b'(' {
            parens += 1;
        } else if x == b')' && parens > 0 {
            parens -= 1;
            e += 1;
            continue;
        }
        // `, ` inside a value (`Dec 24, 1976`, `Via Roma, 1`) continues it unless
        // another pair follows.
        if x == b',' && b.get(e + 1) == Some(&b' ') && !next_is_pair(b, e + 2) {
            e += 1;
            continue;
        }
        if matches!(
            x,
            b',' | b';' | b'&' | b'}' | b']' | b')' | b'|' | b'\n' | b'\r' | b'"'
        ) {
            break;
        }
        if x == b' ' && next_is_pair(b, e + 1) {
            break;
        }
        // `k=v k2=v2`: an unquoted `=` value ends at the first space unless the words
        // after it carry no separator of their own.
        if unquoted_equals && x == b' ' && next_word_has_sep(b, e + 1) {
            break;
        }
        e += 1;
    }
    e
}

/// True when the bytes from `i` start a `word=` or `word:` token.
fn next_is_pair(b: &[u8], i: usize) -> bool {
    let mut j = i;
    while b.get(j).copied().is_some_and(is_key_byte) {
        j += 1;
    }
    j > i && matches!(b.get(j), Some(b'=' | b':')) && !matches!(b.get(j + 1), Some(b'/'))
}

fn next_word_has_sep(b: &[u8], i: usize) -> bool {
    let mut j = i;
    while let Some(&x) = b.get(j) {
        if x == b' ' {
            return false;
        }
        if x == b'=' || x == b':' {
            return true;
        }
        j += 1;
    }
    false
}

/// HL7 v2 field names by segment and field number (HL7 v2.5.1 chapters 3 and 6), as keys
/// the key vocabulary understands.
const HL7_FIELDS: &[(&str, usize, &str)] = &[
    ("PID", 2, "patient_id"),
    ("PID", 3, "patient_identifier_list"),
    ("PID", 4, "alternate_patient_id"),
    ("PID", 5, "patient_name"),
    ("PID", 6, "mothers_maiden_name"),
    ("PID", 7, "date_of_birth"),
    ("PID", 9, "patient_alias_name"),
    ("PID", 11, "patient_address"),
    ("PID", 13, "home_phone"),
    ("PID", 14, "business_phone"),
    ("PID", 18, "patient_account_number"),
    ("PID", 19, "ssn"),
    ("PID", 20, "drivers_license_number"),
    ("PID", 21, "mothers_identifier"),
    ("PID", 29, "death_date"),
    ("NK1", 2, "kin_name"),
    ("NK1", 4, "kin_address"),
    ("NK1", 5, "kin_phone"),
    ("NK1", 6, "kin_business_phone"),
    ("NK1", 16, "kin_date_of_birth"),
    ("NK1", 30, "contact_person_name"),
    ("NK1", 31, "contact_person_phone"),
    ("NK1", 32, "contact_person_address"),
    ("NK1", 37, "kin_ssn"),
    ("GT1", 3, "guarantor_name"),
    ("GT1", 5, "guarantor_address"),
    ("GT1", 6, "guarantor_home_phone"),
    ("GT1", 7, "guarantor_business_phone"),
    ("GT1", 8, "guarantor_date_of_birth"),
    ("GT1", 12, "guarantor_ssn"),
    ("IN1", 2, "insurance_plan_id"),
    ("IN1", 8, "group_number"),
    ("IN1", 16, "insured_name"),
    ("IN1", 18, "insured_date_of_birth"),
    ("IN1", 19, "insured_address"),
    ("IN1", 36, "policy_number"),
    ("IN1", 49, "insured_id_number"),
    ("IN2", 2, "insured_ssn"),
    ("IN2", 8, "medicaid_case_number"),
    ("PV1", 7, "attending_doctor_name"),
    ("PV1", 8, "referring_doctor_name"),
    ("PV1", 9, "consulting_doctor_name"),
    ("PV1", 17, "admitting_doctor_name"),
    ("PV1", 19, "visit_number"),
    ("PV1", 44, "admit_date"),
    ("PV1", 45, "discharge_date"),
    ("MRG", 1, "prior_patient_identifier"),
    ("MRG", 7, "prior_patient_name"),
    ("OBR", 7, "observation_date"),
    ("OBR", 16, "ordering_provider_name"),
    ("ORC", 12, "ordering_provider_name"),
];

/// Calls `f(key, component)` for the person fields of HL7 v2 segments in `text`
/// (segments separated by `\r`, `\n` or a literal `\r`); components (`^`, `~`, `&`) are
/// handed over one by one, and a name field also whole with `^` read as a space.
pub(crate) fn for_each_hl7_field<'a>(text: &'a str, mut f: impl FnMut(&'static str, &'a str)) {
    if !text.contains('|') {
        return;
    }
    for seg in text.split(['\r', '\n']).flat_map(|s| s.split("\\r")) {
        let seg = seg.trim_start();
        let Some(id) = seg.get(..3) else { continue };
        if seg.as_bytes().get(3) != Some(&b'|') {
            continue;
        }
        for (n, field) in seg.split('|').enumerate() {
            if field.is_empty() {
                continue;
            }
            let Some(key) = HL7_FIELDS
                .iter()
                .find(|(s, i, _)| *s == id && *i == n)
                .map(|(_, _, k)| *k)
            else {
                continue;
            };
            f(key, field);
            for comp in field.split(['^', '~', '&']) {
                if !comp.is_empty() {
                    f(key, comp);
                }
            }
        }
    }
}

/// CSV with a header line: calls `f(column_name, cell)` for each cell of the following
/// rows, so a header gives its column's values context (`id,dob\n1,1980-02-01`).
pub(crate) fn for_each_csv_cell<'a>(text: &'a str, mut f: impl FnMut(&'a str, &'a str)) {
    let mut lines = text.lines();
    let Some(header) = lines.next() else { return };
    let sep = if header.contains('\t') {
        '\t'
    } else if header.contains(';') && !header.contains(',') {
        ';'
    } else {
        ','
    };
    let cols: Vec<&str> = header
        .split(sep)
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    if cols.len() < 2
        || !cols.iter().all(|c| {
            !c.is_empty()
                && c.len() <= 64
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b' '))
                && c.bytes().any(|b| b.is_ascii_alphabetic())
        })
    {
        return;
    }
    for row in lines {
        for (col, cell) in cols.iter().zip(row.split(sep)) {
            let cell = cell.trim().trim_matches('"');
            if !cell.is_empty() {
                f(col, cell);
            }
        }
    }
}
