//! `mig06 scan`: the PHI detector as a filter, JSON lines in, one verdict per line out.
//!
//! The command is a contract for other programs (log shippers, evaluation scripts), so it
//! lives in the binary and not in the detector crate: the detector answers with
//! [`PhiKind`]s, and this module alone decides how a verdict is written. It fails closed:
//! a line it cannot read is reported as possibly PHI, and it never writes the input back.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use mig06_rail::phi::{Detector, PhiKind};

/// Runs `mig06 scan` over stdin and stdout (`lines`: plain text lines instead of JSON).
///
/// # Errors
/// The detector cannot be built, or reading stdin / writing stdout fails.
pub(crate) fn run(lines: bool) -> anyhow::Result<ExitCode> {
    let detector = Detector::new()?;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    run_scan(
        &detector,
        stdin.lock(),
        std::io::BufWriter::new(stdout.lock()),
        lines,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Verdict written for one input line.
#[derive(Debug, serde::Serialize)]
struct Verdict {
    phi: bool,
    kinds: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

impl Verdict {
    fn of(kinds: Option<Vec<PhiKind>>) -> Self {
        match kinds {
            Some(kinds) => Self {
                phi: !kinds.is_empty(),
                kinds: kinds.into_iter().map(PhiKind::code).collect(),
                error: None,
            },
            // Fail closed: unscannable input is treated as possibly PHI.
            None => Self {
                phi: true,
                kinds: Vec::new(),
                error: Some("invalid_line"),
            },
        }
    }
}

/// Scans one JSON line `{"text": "...", "key": "..."}`; `None` when the line is not a
/// JSON object with a string `text`.
fn scan_json_line(detector: &Detector, line: &str) -> Option<Vec<PhiKind>> {
    // INV-CLOSED-INPUT: the rail's one JSON reader: a line that repeats `text` (or any name) is invalid, not
    // scanned for one of its values only.
    let v = mig06_rail::json::read_value(line.as_bytes(), &|_| false).ok()?;
    let text = v.get("text")?.as_str()?;
    let key = v.get("key").and_then(|k| k.as_str());
    Some(detector.scan(key, text))
}

/// Runs the `mig06 scan` contract: reads JSON lines `{"text": "...", "key": "..."}` (or
/// plain lines when `lines` is true) and writes one verdict per line
/// `{"phi": bool, "kinds": [...]}`. The optional `key` is passed to [`Detector::scan`] as
/// context. A line that is not a JSON object with a string `text` yields
/// `{"phi": true, "kinds": [], "error": "invalid_line"}`. Input text is never echoed.
/// Returns the number of lines.
///
/// # Errors
/// I/O errors from the reader or writer (including non-UTF-8 input).
fn run_scan(
    detector: &Detector,
    input: impl BufRead,
    mut output: impl Write,
    lines: bool,
) -> std::io::Result<u64> {
    let mut n = 0;
    for line in input.lines() {
        let line = line?;
        let kinds = if lines {
            Some(detector.scan(None, &line))
        } else {
            scan_json_line(detector, &line)
        };
        serde_json::to_writer(&mut output, &Verdict::of(kinds))?;
        output.write_all(b"\n")?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn det() -> &'static Detector {
        static D: OnceLock<Detector> = OnceLock::new();
        D.get_or_init(|| Detector::new().unwrap())
    }

    fn scan_to_string(input: &str, lines: bool) -> (u64, String) {
        let mut out = Vec::new();
        let n = run_scan(det(), input.as_bytes(), &mut out, lines).unwrap();
        (n, String::from_utf8(out).unwrap())
    }

    #[test]
    fn run_scan_contract() {
        let input = "{\"text\": \"ssn 123-45-6788\"}\n{\"text\": \"hello\"}\nnot json 123-45-6788\n{\"x\": 1}\n{\"text\": \"1984-03-05\", \"key\": \"dob\"}\n";
        let (n, out) = scan_to_string(input, false);
        assert_eq!(n, 5);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], r#"{"phi":true,"kinds":["us_ssn"]}"#);
        assert_eq!(lines[1], r#"{"phi":false,"kinds":[]}"#);
        assert_eq!(
            lines[2],
            r#"{"phi":true,"kinds":[],"error":"invalid_line"}"#
        );
        assert_eq!(
            lines[3],
            r#"{"phi":true,"kinds":[],"error":"invalid_line"}"#
        );
        assert_eq!(lines[4], r#"{"phi":true,"kinds":["person_date"]}"#);
        assert!(!out.contains("6788"));
        let (_, out) = scan_to_string("jane.doe\n", true);
        assert_eq!(out, "{\"phi\":true,\"kinds\":[\"person_name\"]}\n");
    }

    /// Deterministic pseudo-random strings (xorshift), printable and non-ASCII alike, as
    /// the detector crate's property test generates them.
    fn corpus(cases: usize) -> Vec<String> {
        const ALPHABET: &[char] = &[
            'a', 'e', 'j', 'o', 'z', 'A', 'J', 'Z', '0', '1', '3', '5', '9', ' ', '.', '-', '_',
            '@', ':', '/', '=', '"', '\\', '{', '}', ',', '|', '+', 'é', 'ß', 'Ж', '中', '😀',
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..cases)
            .map(|_| {
                let len = usize::try_from(next() % 81).unwrap();
                (0..len)
                    .map(|_| ALPHABET[usize::try_from(next()).unwrap() % ALPHABET.len()])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn run_scan_never_echoes() {
        for s in corpus(512) {
            let line = serde_json::json!({"text": s}).to_string();
            let (n, out) = scan_to_string(&format!("{line}\n"), false);
            assert_eq!(n, 1);
            // Output is a fixed vocabulary: it can contain the input only if the input is
            // itself made of that vocabulary.
            let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
            assert!(v.get("text").is_none());
            if s.len() >= 4 && s.chars().any(|c| !c.is_ascii_lowercase() && c != '_') {
                assert!(!out.contains(&s));
            }
            let kinds = det().scan(None, &s);
            assert_eq!(v["phi"].as_bool(), Some(!kinds.is_empty()));
        }
    }

    #[test]
    fn inv_closed_input_a_line_that_repeats_text_is_invalid_not_half_scanned() {
        // The first `text` is PHI; a reader that kept the last would call the line clean.
        let line = r#"{"text":"SSN 078-05-1120","text":"nothing here"}"#;
        let (n, out) = scan_to_string(&format!("{line}\n"), false);
        assert_eq!(n, 1);
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["phi"], true);
        assert_eq!(v["error"], "invalid_line");
    }
}
