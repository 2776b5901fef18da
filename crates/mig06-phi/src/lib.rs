//! PHI/PII detector for the MIG-06 rail.
//!
//! STUB: the API is fixed; the detector is being written (see the phi branch).

/// An identifier kind the detector reports. Codes are stable strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PhiKind {
    /// US Social Security number.
    Ssn,
    /// Email address.
    Email,
    /// Person name.
    PersonName,
}

impl PhiKind {
    /// Stable code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Ssn => "us_ssn",
            Self::Email => "email",
            Self::PersonName => "person_name",
        }
    }
}

/// Errors building the detector.
#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    /// A pattern failed to compile.
    #[error("detector pattern {index} failed to compile")]
    Pattern {
        /// Index of the pattern.
        index: usize,
    },
}

/// The detector: build once, scan many.
#[derive(Debug)]
pub struct Detector {
    ssn: regex::Regex,
}

impl Detector {
    /// Builds the detector.
    ///
    /// # Errors
    /// `Pattern` if a built-in pattern fails to compile.
    pub fn new() -> Result<Self, DetectorError> {
        Ok(Self {
            ssn: regex::Regex::new(r"\b\d{3}-\d{2}-\d{4}\b")
                .map_err(|_| DetectorError::Pattern { index: 0 })?,
        })
    }

    /// Scans `text` found under JSON key `key` (None for a key itself or free text).
    /// Returns the kinds found, sorted, without duplicates; never the text.
    #[must_use]
    pub fn scan(&self, _key: Option<&str>, text: &str) -> Vec<PhiKind> {
        let mut out = Vec::new();
        if self.ssn.is_match(text) {
            out.push(PhiKind::Ssn);
        }
        if text.contains('@') {
            out.push(PhiKind::Email);
        }
        out
    }
}

/// Runs the `mig06 scan` contract: reads JSON lines `{"text": "..."}` (or plain lines when
/// `lines` is true) and writes one verdict per line `{"phi": bool, "kinds": [...]}`.
///
/// # Errors
/// I/O errors from the reader or writer.
pub fn run_scan(
    detector: &Detector,
    input: impl std::io::BufRead,
    mut output: impl std::io::Write,
    lines: bool,
) -> std::io::Result<u64> {
    let mut n = 0;
    for line in input.lines() {
        let line = line?;
        let text: String = if lines {
            line
        } else {
            serde_json::from_str::<serde_json::Value>(&line)
                .ok()
                .and_then(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_owned))
                .unwrap_or_default()
        };
        let kinds: Vec<&str> = detector
            .scan(None, &text)
            .iter()
            .map(|k| k.code())
            .collect();
        serde_json::to_writer(
            &mut output,
            &serde_json::json!({"phi": !kinds.is_empty(), "kinds": kinds}),
        )?;
        output.write_all(b"\n")?;
        n += 1;
    }
    Ok(n)
}
