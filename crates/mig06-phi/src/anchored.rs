//! Context-anchored identifiers: numbers that have no checksum and no shape of their own
//! (MRN, plan and member ids, account numbers, driver's licences, plates, device serials).
//!
//! Such a value is only an identifier because something names it: a label in the text
//! (`MRN: A1234567`) or the key it sits under. Each kind is one row of [`ANCHORS`] that
//! holds everything about it together (its label regex, the cheap keywords that gate the
//! regex, the key context that names it, the shape its value must have), so a kind is
//! added or changed in one place and the tables cannot drift apart.

use aho_corasick::AhoCorasick;

use crate::checks;
use crate::context::{C_ACCT, C_BIO, C_DL, C_ENC, C_MRN, C_PASSPORT, C_PLAN, C_PLATE, C_SERIAL};
use crate::kind::PhiKind;
use crate::patterns::{Compiler, DetectorError, Pat};

/// The shape an anchored value must have (counted after dropping `- . /` and spaces).
struct ValueShape {
    /// Allowed length of the value.
    len: std::ops::RangeInclusive<usize>,
    /// Allowed number of digits.
    digits: std::ops::RangeInclusive<usize>,
    /// Most letters allowed.
    max_letters: usize,
}

/// One context-anchored kind.
struct Anchor {
    /// The kind reported.
    kind: PhiKind,
    /// The key context that makes a whole value this kind.
    key_context: u32,
    /// ASCII case-insensitive substrings, one of which must occur before the label regex
    /// runs (the regexes are the slow part of a scan; most texts have none of these).
    keywords: &'static [&'static str],
    /// Regex alternation of the labels that name the value.
    label: &'static str,
    /// The value's shape.
    shape: ValueShape,
    /// Whether an opaque machine id (UUID, long hex) still counts: a photo or biometric
    /// template is often named by one, and under its label it is the person's.
    opaque_ok: bool,
    /// Whether the label must be a word of its own (not inside `a-b`, `a_b`, `a.b`).
    own_word: bool,
}

const ANY: usize = usize::MAX;

/// Every context-anchored kind.
const ANCHORS: &[Anchor] = &[
    Anchor {
        kind: PhiKind::Mrn,
        key_context: C_MRN,
        keywords: &["mrn", "record", "med", "chart", "patient", "pt", "hospital"],
        label: r"mrn|medical\s+record(?:\s+(?:number|no|num))?|med\.?\s*rec(?:ord)?(?:\s*(?:no|number))?|chart(?:\s*(?:number|no|num))?|patient\s*(?:id|number|no)|pt\.?\s*id|hospital\s*(?:number|no)",
        shape: ValueShape {
            len: 0..=ANY,
            digits: 5..=12,
            max_letters: 4,
        },
        opaque_ok: false,
        own_word: false,
    },
    Anchor {
        kind: PhiKind::HealthPlanId,
        key_context: C_PLAN,
        keywords: &[
            "member",
            "subscriber",
            "plan",
            "insurance",
            "beneficiary",
            "policy",
            "group",
            "medicaid",
            "hicn",
        ],
        label: r"member(?:ship)?(?:\s*(?:id|number|no|num))?|subscriber(?:\s*(?:id|number|no))?|health\s*plan(?:\s*(?:id|number|no))?|insurance\s*(?:id|number|no)|beneficiary(?:\s*(?:id|number|no))?|policy\s*(?:number|no)|group\s*(?:number|no)|plan\s*id|medicaid(?:\s*(?:id|number|no))?|hicn",
        shape: ValueShape {
            len: 6..=20,
            digits: 4..=ANY,
            max_letters: 8,
        },
        opaque_ok: false,
        own_word: false,
    },
    Anchor {
        kind: PhiKind::AccountNumber,
        key_context: C_ACCT,
        keywords: &["account", "acct", "a/c", "routing", "bank"],
        label: r"account(?:\s*(?:number|no|num))?|acct\.?(?:\s*(?:number|no|num))?|a/c|routing(?:\s*(?:number|no))?|bank\s*account",
        shape: ValueShape {
            len: 0..=ANY,
            digits: 6..=20,
            max_letters: 4,
        },
        opaque_ok: false,
        own_word: false,
    },
    Anchor {
        kind: PhiKind::DriversLicense,
        key_context: C_DL,
        keywords: &["driv", "dl", "licen"],
        label: r"driver'?s?\s*licen[cs]e(?:\s*(?:number|no|num))?|driving\s*licen[cs]e|dl(?:\s*(?:number|no))?|dln|licen[cs]e\s*(?:number|no|num)",
        shape: ValueShape {
            len: 5..=18,
            digits: 2..=ANY,
            max_letters: ANY,
        },
        opaque_ok: false,
        own_word: false,
    },
    Anchor {
        kind: PhiKind::LicensePlate,
        key_context: C_PLATE,
        keywords: &["plate", "vehicle", "tag"],
        label: r"licen[cs]e\s*plate(?:\s*(?:number|no))?|plate(?:\s*(?:number|no))?|vehicle\s*(?:plate|tag|registration)|tag\s*(?:number|no)",
        shape: ValueShape {
            len: 4..=9,
            digits: 1..=ANY,
            max_letters: ANY,
        },
        opaque_ok: false,
        own_word: false,
    },
    Anchor {
        kind: PhiKind::DeviceSerial,
        key_context: C_SERIAL,
        keywords: &[
            "serial",
            "s/n",
            "sn",
            "imei",
            "udi",
            "device",
            "implant",
            "pacemaker",
            "transmitter",
            "sensor",
        ],
        label: r"serial(?:\s*(?:number|no|num))?|s/n|sn|imei|udi|device\s*(?:id|serial)|implant\s*(?:id|serial)?|pacemaker\s*(?:id|serial)?|transmitter(?:\s*(?:id|serial|sn))?|sensor\s*(?:id|serial|sn)",
        shape: ValueShape {
            len: 5..=30,
            digits: 2..=ANY,
            max_letters: ANY,
        },
        opaque_ok: false,
        own_word: false,
    },
    Anchor {
        kind: PhiKind::Passport,
        key_context: C_PASSPORT,
        keywords: &[
            "passport",
            "reisepass",
            "passeport",
            "pasaporte",
            "passaporto",
            "paspoort",
            "paszport",
            "паспорт",
            "护照",
            "여권",
            "旅券",
            "パスポート",
        ],
        label: r"passport(?:\s*(?:number|no|num|nr|id))?|reisepass(?:nummer)?|passeport|pasaporte|passaporto|paspoort|paszport|паспорт|护照(?:号码?)?|여권(?:번호)?|旅券(?:番号)?|パスポート(?:番号)?",
        shape: ValueShape {
            len: 6..=10,
            digits: 4..=ANY,
            max_letters: 5,
        },
        opaque_ok: false,
        own_word: true,
    },
    Anchor {
        kind: PhiKind::EncounterId,
        key_context: C_ENC,
        keywords: &[
            "encounter",
            "visit",
            "csn",
            "fin n",
            "finn",
            "admission",
            "episode",
            "case n",
            "case i",
            "caseno",
            "caseid",
            "fallnummer",
            "aufnahme",
        ],
        label: r"encounter(?:\s*(?:id|number|no|num|nbr))?|visit\s*(?:id|number|no|num|nbr)|csn|fin(?:\s*(?:number|no|nbr))|admission\s*(?:id|number|no|num)|episode\s*(?:id|number|no)|case\s*(?:id|number|no)|fallnummer|aufnahmenummer",
        shape: ValueShape {
            len: 4..=20,
            digits: 4..=ANY,
            max_letters: 6,
        },
        opaque_ok: false,
        own_word: true,
    },
    Anchor {
        kind: PhiKind::BiometricId,
        key_context: C_BIO,
        keywords: &[
            "biometric",
            "fingerprint",
            "faceprint",
            "voiceprint",
            "headshot",
            "mugshot",
            "face",
            "photo",
            "iris",
            "retina",
            "palm",
            "selfie",
            "voice",
        ],
        label: r"(?:(?:biometric|fingerprint|faceprint|voiceprint|headshot|mugshot)(?:[\s_-]*(?:id|template|hash|ref|reference|file|scan|code|no|number)){0,3}|(?:face|photo|photograph|iris|retina|retinal|palm|selfie|voice)(?:[\s_-]*(?:print|vein|scan))?(?:[\s_-]*(?:id|template|hash|ref|reference|file|code|no|number)){1,3})",
        shape: ValueShape {
            len: 4..=64,
            digits: 1..=ANY,
            max_letters: ANY,
        },
        opaque_ok: true,
        own_word: true,
    },
];

/// The compiled label regexes and their keyword gate.
pub(crate) struct Anchors {
    /// One label regex per row of [`ANCHORS`], in order, each with its ASCII twin (see
    /// [`ascii_label_pattern`]).
    labels: Vec<Pat>,
    gate: AhoCorasick,
    /// For each gate keyword (by pattern id), the row of [`ANCHORS`] it belongs to.
    gate_rows: Vec<usize>,
}

impl Anchors {
    /// Compiles the label regexes and the keyword gate.
    ///
    /// # Errors
    /// `Pattern` or `Gate` if a built-in pattern fails to compile.
    pub(crate) fn new(c: &mut Compiler) -> Result<Self, DetectorError> {
        let labels = ANCHORS
            .iter()
            .map(|a| c.regex_twin(&label_pattern(a.label), &ascii_label_pattern(a.label)))
            .collect::<Result<Vec<_>, _>>()?;
        let (words, gate_rows): (Vec<&str>, Vec<usize>) = ANCHORS
            .iter()
            .enumerate()
            .flat_map(|(row, a)| a.keywords.iter().map(move |w| (*w, row)))
            .unzip();
        Ok(Self {
            labels,
            gate: c.gate(&words)?,
            gate_rows,
        })
    }

    /// Number of anchored kinds (for `Debug`).
    pub(crate) fn len(&self) -> usize {
        self.labels.len()
    }

    /// Calls `hit` for each anchored kind found in `text`: after a label, or as the whole
    /// value under a key whose context (`key_ctx`) names the kind.
    pub(crate) fn scan(&self, text: &str, key_ctx: u32, hit: &mut impl FnMut(PhiKind)) {
        let gated = self.gated_rows(text);
        for ((row, anchor), label) in ANCHORS.iter().enumerate().zip(&self.labels) {
            if gated & (1 << row) != 0 && labelled_value(label, anchor, text) {
                hit(anchor.kind);
            }
        }
        let t = text.trim();
        let head = t.split_whitespace().next().unwrap_or("");
        for anchor in ANCHORS {
            if key_ctx & anchor.key_context != 0 && (anchor.value_ok(t) || anchor.value_ok(head)) {
                hit(anchor.kind);
            }
        }
    }

    /// Bit set of the rows whose keywords occur in `text`.
    fn gated_rows(&self, text: &str) -> u32 {
        self.gate
            .find_overlapping_iter(text)
            .filter_map(|m| self.gate_rows.get(m.pattern().as_usize()))
            .fold(0, |g, row| g | 1 << row)
    }
}

/// The label regex of one row, Unicode-aware (for any text).
fn label_pattern(label: &str) -> String {
    format!(
        r"(?i)\b(?:{label})\b\W{{0,3}}(?:is\s+|of\s+|no\.?\s*|number\s*)?([A-Z0-9][A-Z0-9_-]{{1,63}}(?: [A-Z0-9]{{1,6}}\b)?)"
    )
}

/// The label regex of one row for ASCII text only. On ASCII text it matches exactly what
/// [`label_pattern`] matches: Unicode `\b`, `\s` and case folding agree with their ASCII
/// forms on ASCII characters, `\W` is written as the ASCII non-word class, and an
/// alternative with a non-ASCII letter (`паспорт`) can never match ASCII text, so it is
/// left out.
fn ascii_label_pattern(label: &str) -> String {
    let ascii_alts: Vec<&str> = top_level_alternatives(label)
        .into_iter()
        .filter(|a| a.is_ascii())
        .collect();
    let label = ascii_alts.join("|");
    format!(
        r"(?i)\b(?:{label})\b[\x00-/:-@\[-^`{{-\x7F]{{0,3}}(?:is\s+|of\s+|no\.?\s*|number\s*)?([A-Z0-9][A-Z0-9_-]{{1,63}}(?: [A-Z0-9]{{1,6}}\b)?)"
    )
}

/// The alternatives of a regex alternation at nesting depth 0 (a `|` inside a group or a
/// class, or escaped, does not split).
fn top_level_alternatives(re: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut class, mut escaped, mut start) = (0usize, false, false, 0usize);
    for (i, c) in re.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '[' if !class => class = true,
            ']' if class => class = false,
            '(' if !class => depth += 1,
            ')' if !class => depth = depth.saturating_sub(1),
            '|' if !class && depth == 0 => {
                out.push(re.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(re.get(start..).unwrap_or(""));
    out
}

/// True when `label` finds a value of `anchor`'s shape after a label in `text`.
fn labelled_value(label: &Pat, anchor: &Anchor, text: &str) -> bool {
    let b = text.as_bytes();
    label.captures_iter(text).any(|c| {
        // A label inside a machine token (`tlog-encounter-5236d9a`, `case_id_cache`) names
        // nothing: the newer anchors (passport, encounter, biometric) need a word of their
        // own.
        if anchor.own_word
            && let Some(l) = c.get(0)
            && text.get(..l.start()).is_some_and(|h| {
                let mut cs = h.chars().rev();
                matches!(cs.next(), Some('-' | '_' | '.' | '/'))
                    && cs.next().is_some_and(char::is_alphanumeric)
            })
        {
            return false;
        }
        // A label that is also a unit of measure (`dL` in `13.5 g/dL`) names nothing when
        // written as a unit: after `/` or a number.
        if let Some(l) = c.get(0)
            && l.as_str()
                .find(|ch: char| !ch.is_alphanumeric())
                .is_some_and(|n| n <= 3)
            && text.get(..l.start()).is_some_and(|h| {
                h.trim_end()
                    .ends_with(|ch: char| ch == '/' || ch.is_ascii_digit())
            })
        {
            return false;
        }
        // A capture cut short by its length limit is part of a longer token (a ULID, a
        // digest): not an identifier of this kind.
        c.get(1).is_some_and(|m| {
            let v = m.as_str();
            let head = v.split(' ').next().unwrap_or("");
            !b.get(m.end()).is_some_and(u8::is_ascii_alphanumeric)
                && (anchor.value_ok(v) || anchor.value_ok(head))
        })
    })
}

impl Anchor {
    /// Validates the value captured after a label (or the whole value under a key).
    fn value_ok(&self, v: &str) -> bool {
        let v = v.trim();
        if v.is_empty() || (!self.opaque_ok && checks::is_opaque_id(v)) {
            return false;
        }
        let core: String = v
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '.' | '/' | '_'))
            .map(|c| if c == '*' { 'X' } else { c })
            .collect();
        if !core.bytes().all(|c| c.is_ascii_alphanumeric()) {
            return false;
        }
        let digits = core.bytes().filter(u8::is_ascii_digit).count();
        let letters = core.len() - digits;
        self.shape.len.contains(&core.len())
            && self.shape.digits.contains(&digits)
            && letters <= self.shape.max_letters
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "test code: a panic is the failure report"
    )]

    use super::*;
    use proptest::prelude::*;

    fn both(row: &Anchor) -> (regex::Regex, regex::Regex) {
        (
            regex::Regex::new(&label_pattern(row.label)).unwrap(),
            regex::RegexBuilder::new(&ascii_label_pattern(row.label))
                .unicode(false)
                .build()
                .unwrap(),
        )
    }

    fn spans(re: &regex::Regex, text: &str) -> Vec<Option<(usize, usize)>> {
        re.captures_iter(text)
            .flat_map(|c| {
                c.iter()
                    .map(|m| m.map(|m| (m.start(), m.end())))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn top_level_alternatives_split_only_at_depth_zero() {
        assert_eq!(
            top_level_alternatives(r"a(?:b|c)|[|]d|e\|f"),
            vec![r"a(?:b|c)", r"[|]d", r"e\|f"]
        );
    }

    #[test]
    fn ascii_twin_drops_only_non_ascii_labels() {
        let passport = ANCHORS
            .iter()
            .find(|a| a.kind == PhiKind::Passport)
            .unwrap();
        let p = ascii_label_pattern(passport.label);
        assert!(p.is_ascii());
        assert!(p.contains("reisepass"));
    }

    proptest! {
        /// On ASCII text the ASCII twin of every anchor regex finds the same matches and
        /// the same captures as the Unicode regex (labels, values and the text around
        /// them drawn from the bytes that matter: letters, digits, separators).
        #[test]
        fn ascii_twin_matches_like_the_unicode_regex_on_ascii_text(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("MRN".to_owned()), Just("mrn: ".to_owned()), Just("member id ".to_owned()),
                    Just("acct no. ".to_owned()), Just("DL# ".to_owned()), Just("plate ".to_owned()),
                    Just("s/n ".to_owned()), Just("passport no ".to_owned()), Just("visit id ".to_owned()),
                    Just("photo_id=".to_owned()), Just("is ".to_owned()), Just("number ".to_owned()),
                    "[A-Za-z0-9]{1,12}", "[ \t\n_./:#=-]{1,3}", "[\\x20-\\x7e]{1,4}",
                ],
                1..10,
            )
        ) {
            let text: String = parts.concat();
            for row in ANCHORS {
                let (uni, ascii) = both(row);
                prop_assert_eq!(spans(&uni, &text), spans(&ascii, &text));
            }
        }
    }
}
