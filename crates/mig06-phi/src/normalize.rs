//! One normalisation pass before matching: the text a person reads, not the bytes a
//! pattern sees.
//!
//! PHI hidden from a regex by an encoding is still PHI: a reader sees `J&#111;hn` as
//! `John`, `４１１-２２-３３３３` as an SSN and `jane [at] example [dot] org` as an address.
//! [`Normaliser::normalise`] undoes those encodings in one bounded pass; the detector scans
//! the raw text **and** the normalised text and reports the union, so normalisation can
//! only add findings. Nothing here is returned to a caller: the detector reports kinds, never
//! spans, so no offset of the normalised text has to be mapped back to the input and no
//! decoded text can be echoed.
//!
//! The steps and their sources (see docs/PHI.md):
//! 1. Decoding, repeated at most [`MAX_ROUNDS`] times (double encoding): percent-encoding
//!    (RFC 3986 §2.1) and `+` for a space between words (HTML form encoding); HTML
//!    character references, numeric and a small set of named ones (HTML Living Standard
//!    §13.5); backslash escapes (`\uXXXX`, `\u{…}`, `\UXXXXXXXX`, `\xHH` byte runs, `\n`,
//!    `\t`, an escaped `@ . - _ ( ) + # *`).
//! 2. Unicode NFKC (UAX #15), which folds fullwidth forms, mathematical alphanumerics,
//!    enclosed and circled letters and digits, ligatures and compatibility spaces.
//! 3. Per character: `Default_Ignorable_Code_Point` (UCD DerivedCoreProperties: zero-width
//!    characters, soft hyphen, bidi controls, variation selectors, tags) removed; dashes
//!    (general category Pd and U+2212 MINUS SIGN) read as `-`; other spaces (Zs, Zl, Zp)
//!    as a space or line break; decimal digits of every script (general category Nd) as
//!    ASCII digits; ideographic full stop and comma, fraction and division slashes, and
//!    typographic quotes as their ASCII counterparts. Inside a word that mixes Latin with
//!    Cyrillic or Greek letters, the Cyrillic and Greek letters that UTS #39's
//!    confusables.txt maps to a Latin letter are read as that letter (`Jоhn` with a
//!    Cyrillic `о`).
//! 4. Layout: letters or digits spaced out one by one (`J o h n`) are joined, and a word
//!    broken across lines (`Smi-\nth`, `Smi\nth`) is joined.
//! 5. Words: an e-mail address written out (`[at]`, `(dot)`, ` at ` … ` dot `) is written
//!    as an address; numbers written in English words (`ninety-three`, `nineteen
//!    sixty-one`, `the third of March`) are written in digits, so that an age over 89 or a
//!    date of birth in words reaches the same rules as one in digits.

use unicode_normalization::UnicodeNormalization;

use crate::patterns::{Compiler, DetectorError, Pat};

/// Most rounds of decoding: enough for double and triple encoding, bounded so that a
/// crafted input cannot make the pass loop.
const MAX_ROUNDS: usize = 3;

/// Words whose presence makes the number-word step run.
const NUMBER_GATE: &[&str] = &[
    "ninety", "hundred", "nineteen", "eighteen", "twenty", "thousand",
];

/// Bracketed `at` and `dot` of an e-mail address written out.
const BRACKET_GATE: &[&str] = &[
    "[at]", "(at)", "{at}", "<at>", "[ at ]", "( at )", "[@]", "(@)", "[dot]", "(dot)", "{dot}",
    "<dot>", "[ dot ]", "( dot )", "[.]", "(.)",
];

/// The normaliser: its gates and its patterns, built once with the detector.
pub(crate) struct Normaliser {
    /// `[at]`, `(at)`, `{at}`, `<at>` with optional spaces.
    at_bracket: Pat,
    /// `[dot]`, `(dot)`, `{dot}`, `<dot>` with optional spaces.
    dot_bracket: Pat,
    /// ` dot ` between two word characters.
    dot_word: Pat,
    /// ` at ` (or ` AT `) between a mailbox-like local part and a dotted domain.
    at_word: Pat,
}

impl Normaliser {
    /// Builds the gates and patterns.
    ///
    /// # Errors
    /// `Pattern` or `Gate` if a built-in pattern fails to compile.
    pub(crate) fn new(c: &mut Compiler) -> Result<Self, DetectorError> {
        Ok(Self {
            at_bracket: c.regex(r"(?i)\s*[\[\(\{<]\s*(?:at|@)\s*[\]\)\}>]\s*")?,
            dot_bracket: c.regex(r"(?i)\s*[\[\(\{<]\s*(?:dot|\.)\s*[\]\)\}>]\s*")?,
            dot_word: c.regex(r"(?i)(\w)\s+dot\s+(\w)")?,
            at_word: c.regex(
                r"([\w.+-]*[\w])\s+(?i:at)\s+([a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*\.[a-zA-Z]{2,})\b",
            )?,
        })
    }

    /// The normalised text, or `None` when normalising changes nothing (the common case:
    /// plain ASCII metadata costs a few byte scans).
    pub(crate) fn normalise(&self, text: &str) -> Option<String> {
        let b = text.as_bytes();
        let classes = byte_classes(b);
        let encoded = classes & ENCODED != 0;
        let numbers = has_number_gate_word(b);
        let slow = classes & NON_ASCII != 0
            || encoded
            || numbers
            || (classes & BRACKET_OPEN != 0 && has_bracket_word(b))
            || {
                let w = WordGates::of(b);
                // ` at ` matters only before a dotted domain, or with a spelled-out ` dot `.
                w.spaced || w.dot || (classes & PERIOD != 0 && w.at)
            };
        if !slow {
            return None;
        }
        let mut cur = text.to_owned();
        if encoded {
            for _ in 0..MAX_ROUNDS {
                let next = decode_once(&cur);
                if next == cur {
                    break;
                }
                cur = next;
            }
        }
        if !cur.is_ascii() {
            cur = map_chars(&cur);
        }
        cur = join_spaced(&cur);
        cur = join_lines(&cur);
        if has_bracket_word(cur.as_bytes()) {
            cur = self.at_bracket.replace_all(&cur, "@").into_owned();
            cur = self.dot_bracket.replace_all(&cur, ".").into_owned();
        }
        let spelled_dot = has_word_ci(cur.as_bytes(), b"dot");
        if spelled_dot {
            // Two passes: `a dot b dot c` overlaps at `b`.
            for _ in 0..2 {
                cur = self.dot_word.replace_all(&cur, "$1.$2").into_owned();
            }
        }
        if has_word_ci(cur.as_bytes(), b"at") {
            cur = self
                .at_word
                .replace_all(&cur, |c: &regex::Captures<'_>| {
                    let local = c.get(1).map_or("", |m| m.as_str());
                    let domain = c.get(2).map_or("", |m| m.as_str());
                    let whole = c.get(0).map_or("", |m| m.as_str());
                    // A mailbox-like local part (`jane.doe`, `jdoe42`) or the upper-case `AT`
                    // of an obfuscated address; plain `seen at example.org` stays prose.
                    let mailbox = spelled_dot
                        || local.contains(['.', '_', '+'])
                        || local.bytes().any(|x| x.is_ascii_digit())
                        || whole.contains(" AT ");
                    if mailbox {
                        format!("{local}@{domain}")
                    } else {
                        whole.to_owned()
                    }
                })
                .into_owned();
        }
        if numbers {
            cur = number_words(&cur);
        }
        (cur != text).then_some(cur)
    }
}

/// Byte class bits of [`byte_classes`].
const NON_ASCII: u8 = 1;
/// One of `% & \ +` or a line break: something may be decoded or joined.
const ENCODED: u8 = 2;
/// One of `[ ( { <`: every bracketed `at`/`dot` starts with one.
const BRACKET_OPEN: u8 = 4;
/// A `.`.
const PERIOD: u8 = 8;

/// The class bits of one byte.
const fn class_of(c: u8) -> u8 {
    match c {
        0x80..=0xFF => NON_ASCII,
        b'%' | b'&' | b'\\' | b'+' | b'\n' | b'\r' => ENCODED,
        b'[' | b'(' | b'{' | b'<' => BRACKET_OPEN,
        b'.' => PERIOD,
        _ => 0,
    }
}

/// The union of the class bits of the bytes of `b` (one pass).
fn byte_classes(b: &[u8]) -> u8 {
    b.iter().fold(0, |acc, c| acc | class_of(*c))
}

/// What the runs of ASCII alphanumerics of a text say, in one pass over them.
#[derive(Debug, Default)]
struct WordGates {
    /// `at` as a word of its own (ASCII case-insensitive).
    at: bool,
    /// `dot` as a word of its own.
    dot: bool,
    /// Three single characters separated by single spaces (as [`spaced_run`]).
    spaced: bool,
}

impl WordGates {
    fn of(b: &[u8]) -> Self {
        let mut g = Self::default();
        // Consecutive single characters two bytes apart, and where the last one was.
        let (mut singles, mut last_single) = (0usize, usize::MAX);
        let mut i = 0usize;
        while let Some(off) = b
            .get(i..)
            .and_then(|t| t.iter().position(u8::is_ascii_alphanumeric))
        {
            let start = i + off;
            let rest = b.get(start..).unwrap_or(&[]);
            let len = rest
                .iter()
                .position(|c| !c.is_ascii_alphanumeric())
                .unwrap_or(rest.len());
            let end = start + len;
            let word = rest.get(..len).unwrap_or(&[]);
            match len {
                // A single character: after the start or any byte but `-` (the byte
                // before is not alphanumeric), and before the end or a space.
                1 => {
                    let after_ok = start
                        .checked_sub(1)
                        .and_then(|j| b.get(j))
                        .is_none_or(|c| *c != b'-');
                    if after_ok && b.get(end).is_none_or(|c| *c == b' ') {
                        singles = if last_single.checked_add(2) == Some(start) {
                            singles + 1
                        } else {
                            1
                        };
                        last_single = start;
                        g.spaced |= singles >= 3;
                    }
                }
                2 => g.at |= word.eq_ignore_ascii_case(b"at"),
                3 => g.dot |= word.eq_ignore_ascii_case(b"dot"),
                _ => {}
            }
            i = end;
        }
        g
    }
}

/// True when one of [`BRACKET_GATE`] occurs in `b` (ASCII case-insensitive), checked only
/// at the brackets that start them.
fn has_bracket_word(b: &[u8]) -> bool {
    b.iter().enumerate().any(|(i, c)| {
        matches!(c, b'[' | b'(' | b'{' | b'<')
            && BRACKET_GATE.iter().any(|w| {
                w.as_bytes().first() == Some(c)
                    && b.get(i..i + w.len())
                        .is_some_and(|win| win.eq_ignore_ascii_case(w.as_bytes()))
            })
    })
}

/// True when one of [`NUMBER_GATE`] occurs in `b` (ASCII case-insensitive, anywhere, as
/// the gate automaton found them), checked only at bytes that can start one.
fn has_number_gate_word(b: &[u8]) -> bool {
    b.iter().enumerate().any(|(i, c)| {
        let first = c.to_ascii_lowercase();
        matches!(first, b'n' | b'h' | b'e' | b't')
            && NUMBER_GATE.iter().any(|w| {
                w.as_bytes().first() == Some(&first)
                    && b.get(i..i + w.len())
                        .is_some_and(|win| win.eq_ignore_ascii_case(w.as_bytes()))
            })
    })
}

/// True when `w` occurs in `b` as a word of its own, ASCII case-insensitively.
fn has_word_ci(b: &[u8], w: &[u8]) -> bool {
    word_positions(b, w, true)
}

fn word_positions(b: &[u8], w: &[u8], ci: bool) -> bool {
    if w.is_empty() || b.len() < w.len() {
        return false;
    }
    b.windows(w.len()).enumerate().any(|(i, win)| {
        let eq = if ci {
            win.eq_ignore_ascii_case(w)
        } else {
            win == w
        };
        eq && !i
            .checked_sub(1)
            .and_then(|j| b.get(j))
            .is_some_and(u8::is_ascii_alphanumeric)
            && !b.get(i + w.len()).is_some_and(u8::is_ascii_alphanumeric)
    })
}

/// True when `b` holds three single characters separated by single spaces (`J o h`).
fn spaced_run(b: &[u8]) -> bool {
    let single = |i: usize| {
        b.get(i).is_some_and(|c| c.is_ascii_alphanumeric())
            && i.checked_sub(1)
                .and_then(|j| b.get(j))
                .is_none_or(|c| *c == b' ' || (!c.is_ascii_alphanumeric() && *c != b'-'))
            && b.get(i + 1).is_none_or(|c| *c == b' ')
    };
    (0..b.len()).any(|i| single(i) && single(i + 2) && single(i + 4))
}

/// One round of decoding: percent escapes, `+` between words, HTML character references
/// and backslash escapes.
fn decode_once(s: &str) -> String {
    let s = percent(s);
    let s = entities(&s);
    backslashes(&s)
}

/// Percent-decoding (bytes, then UTF-8 with replacement), and `+` between two
/// alphanumerics as a space.
fn percent(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0usize;
    while let Some(&c) = b.get(i) {
        if c == b'%'
            && let (Some(h), Some(l)) = (hex(b.get(i + 1)), hex(b.get(i + 2)))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        let between = |j: usize| b.get(j).is_some_and(u8::is_ascii_alphanumeric);
        if c == b'+'
            && i > 0
            && between(i - 1)
            && between(i + 1)
            && !in_base64(b, i)
            && !offset_or_build(b, i)
        {
            out.push(b' ');
        } else {
            out.push(c);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// True when the `+` at `i` belongs to a timestamp or a version, not to form encoding: an
/// ISO 8601 UTC offset after a time of day (`12:30:05.123+02:00`, `+0200`), or the build
/// metadata of a semantic version after MAJOR.MINOR.PATCH (`4.13.91+build.7`, SemVer 2.0.0
/// §10). Neither is a space a person reads.
fn offset_or_build(b: &[u8], i: usize) -> bool {
    let head = b.get(..i).unwrap_or(&[]);
    let start = head
        .iter()
        .rposition(|c| !(c.is_ascii_digit() || matches!(c, b':' | b'.')))
        .map_or(0, |p| p + 1);
    let run = head.get(start..).unwrap_or(&[]);
    let digit = |x: Option<&u8>| x.is_some_and(u8::is_ascii_digit);
    let time_of_day = run.len() >= 5
        && digit(run.first())
        && digit(run.get(1))
        && run.get(2) == Some(&b':')
        && digit(run.get(3))
        && digit(run.get(4));
    let offset = digit(b.get(i + 1)) && digit(b.get(i + 2));
    let vstart = head
        .iter()
        .rposition(|c| !(c.is_ascii_digit() || *c == b'.'))
        .map_or(0, |p| p + 1);
    let version = head.get(vstart..).unwrap_or(&[]);
    let semver = version.split(|c| *c == b'.').count() == 3
        && version
            .split(|c| *c == b'.')
            .all(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    (time_of_day && offset) || semver
}

/// True when position `i` lies in a base64-looking token (16+ characters of the base64
/// alphabet with upper- and lowercase letters and digits): its `+` is data, not a space.
fn in_base64(b: &[u8], i: usize) -> bool {
    let b64 = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=');
    let from = b
        .get(..i)
        .and_then(|h| h.iter().rposition(|c| !b64(c)))
        .map_or(0, |p| p + 1);
    let to = b
        .get(i..)
        .and_then(|t| t.iter().position(|c| !b64(c)))
        .map_or(b.len(), |p| i + p);
    let tok = b.get(from..to).unwrap_or(&[]);
    tok.len() >= 16
        && tok.iter().any(u8::is_ascii_uppercase)
        && tok.iter().any(u8::is_ascii_lowercase)
        && tok.iter().any(u8::is_ascii_digit)
}

/// Named character references decoded (HTML Living Standard §13.5): the ones that spell
/// the characters identifiers are written with.
const NAMED: &[(&str, char)] = &[
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("nbsp", ' '),
    ("ensp", ' '),
    ("emsp", ' '),
    ("thinsp", ' '),
    ("shy", '\u{ad}'),
    ("zwj", '\u{200d}'),
    ("zwnj", '\u{200c}'),
    ("lrm", '\u{200e}'),
    ("rlm", '\u{200f}'),
    ("ndash", '-'),
    ("mdash", '-'),
    ("minus", '-'),
    ("hyphen", '-'),
    ("dash", '-'),
    ("commat", '@'),
    ("period", '.'),
    ("comma", ','),
    ("colon", ':'),
    ("semi", ';'),
    ("sol", '/'),
    ("bsol", '\\'),
    ("lpar", '('),
    ("rpar", ')'),
    ("num", '#'),
    ("plus", '+'),
    ("equals", '='),
    ("lowbar", '_'),
    ("Hat", '^'),
    ("verbar", '|'),
    ("excl", '!'),
    ("quest", '?'),
];

/// HTML character references: `&#NNN;`, `&#xHH;` (the `;` optional before a
/// non-alphanumeric) and the named ones in [`NAMED`].
fn entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(rest.get(..at).unwrap_or(""));
        let tail = rest.get(at + 1..).unwrap_or("");
        if let Some((c, used)) = entity(tail) {
            out.push(c);
            rest = tail.get(used..).unwrap_or("");
        } else {
            out.push('&');
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// Decodes one reference at the start of `t` (after the `&`): the character and the
/// bytes used.
fn entity(t: &str) -> Option<(char, usize)> {
    let b = t.as_bytes();
    if b.first() == Some(&b'#') {
        let (radix, start) = if matches!(b.get(1), Some(b'x' | b'X')) {
            (16, 2)
        } else {
            (10, 1)
        };
        let len = b
            .iter()
            .skip(start)
            .take_while(|c| (**c as char).is_digit(radix))
            .count();
        if len == 0 || len > 8 {
            return None;
        }
        let code = u32::from_str_radix(t.get(start..start + len)?, radix).ok()?;
        let c = char::from_u32(code)?;
        let end = start + len;
        return match b.get(end) {
            Some(b';') => Some((c, end + 1)),
            Some(x) if x.is_ascii_alphanumeric() => None,
            _ => Some((c, end)),
        };
    }
    let semi = t.get(..12.min(t.len()))?.find(';')?;
    let name = t.get(..semi)?;
    NAMED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| (*c, semi + 1))
}

/// Backslash escapes: `\uXXXX` (surrogate pairs joined), `\u{…}`, `\UXXXXXXXX`, runs of
/// `\xHH` (decoded as UTF-8 bytes), `\n` `\r` `\t`, and `\` before ASCII punctuation.
fn backslashes(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let hexn = |at: usize, n: usize| {
        s.get(at..at + n)
            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    let push_char = |out: &mut Vec<u8>, c: char| {
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    };
    let mut i = 0usize;
    while let Some(&c) = b.get(i) {
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'u') if b.get(i + 2) == Some(&b'{') => {
                let len = b
                    .iter()
                    .skip(i + 3)
                    .take_while(|x| x.is_ascii_hexdigit())
                    .count();
                match (hexn(i + 3, len), b.get(i + 3 + len)) {
                    (Some(u), Some(b'}')) if len <= 6 => {
                        push_char(&mut out, char::from_u32(u).unwrap_or('\u{FFFD}'));
                        i += 4 + len;
                    }
                    _ => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            Some(b'u') if hexn(i + 2, 4).is_some() => {
                let u = hexn(i + 2, 4).unwrap_or(0xFFFD);
                let mut code = u;
                let mut used = 6;
                if (0xD800..0xDC00).contains(&u)
                    && b.get(i + 6) == Some(&b'\\')
                    && b.get(i + 7) == Some(&b'u')
                    && let Some(lo) = hexn(i + 8, 4)
                    && (0xDC00..0xE000).contains(&lo)
                {
                    code = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                    used = 12;
                }
                push_char(&mut out, char::from_u32(code).unwrap_or('\u{FFFD}'));
                i += used;
            }
            Some(b'U') if hexn(i + 2, 8).is_some() => {
                let u = hexn(i + 2, 8).unwrap_or(0xFFFD);
                push_char(&mut out, char::from_u32(u).unwrap_or('\u{FFFD}'));
                i += 10;
            }
            Some(b'x') if hexn(i + 2, 2).is_some() => {
                out.push(u8::try_from(hexn(i + 2, 2).unwrap_or(63)).unwrap_or(b'?'));
                i += 4;
            }
            Some(b'n' | b'r') => {
                out.push(b'\n');
                i += 2;
            }
            Some(b't') => {
                out.push(b'\t');
                i += 2;
            }
            // An escaped mark that can sit inside an identifier (`jane\.doe\@x`,
            // Markdown's `\_`); not HL7's `\&` or an escaped quote, which hide nothing.
            Some(x)
                if matches!(
                    x,
                    b'@' | b'.' | b'-' | b'_' | b'(' | b')' | b'+' | b'#' | b'*'
                ) =>
            {
                out.push(*x);
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The code point of digit zero of every decimal-digit run (general category Nd) outside
/// ASCII, from the Unicode Character Database (UnicodeData.txt). NFKC already folds the
/// fullwidth and mathematical digits; these have no compatibility mapping.
const DIGIT_ZEROS: &[u32] = &[
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// The ASCII digit of a non-ASCII decimal digit.
fn ascii_digit(c: char) -> Option<char> {
    let u = u32::from(c);
    DIGIT_ZEROS
        .iter()
        .find(|z| (**z..**z + 10).contains(&u))
        .and_then(|z| char::from_digit(u - z, 10))
}

/// `Default_Ignorable_Code_Point` (UCD DerivedCoreProperties.txt), which includes the
/// bidi controls (U+061C, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069).
fn default_ignorable(c: char) -> bool {
    matches!(u32::from(c),
        0x00AD | 0x034F | 0x061C | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8 | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

/// Dashes: general category Pd and U+2212 MINUS SIGN, U+2043 HYPHEN BULLET.
fn dash(c: char) -> bool {
    matches!(
        u32::from(c),
        0x058A | 0x05BE | 0x1400 | 0x1806 | 0x2010
            ..=0x2015
                | 0x2043
                | 0x2212
                | 0x2E17
                | 0x2E1A
                | 0x2E3A
                | 0x2E3B
                | 0x2E40
                | 0x301C
                | 0x3030
                | 0x30A0
                | 0xFE31
                | 0xFE32
                | 0xFE58
                | 0xFE63
                | 0xFF0D
                | 0x10EAD
    )
}

/// Cyrillic and Greek letters that UTS #39 confusables.txt maps to a single Latin letter.
const CONFUSABLES: &[(char, char)] = &[
    ('а', 'a'),
    ('е', 'e'),
    ('о', 'o'),
    ('р', 'p'),
    ('с', 'c'),
    ('у', 'y'),
    ('х', 'x'),
    ('і', 'i'),
    ('ј', 'j'),
    ('ѕ', 's'),
    ('ԁ', 'd'),
    ('ӏ', 'l'),
    ('һ', 'h'),
    ('ԛ', 'q'),
    ('ԝ', 'w'),
    ('А', 'A'),
    ('В', 'B'),
    ('Е', 'E'),
    ('К', 'K'),
    ('М', 'M'),
    ('Н', 'H'),
    ('О', 'O'),
    ('Р', 'P'),
    ('С', 'C'),
    ('Т', 'T'),
    ('Х', 'X'),
    ('І', 'I'),
    ('Ј', 'J'),
    ('Ѕ', 'S'),
    ('ο', 'o'),
    ('ν', 'v'),
    ('Α', 'A'),
    ('Β', 'B'),
    ('Ε', 'E'),
    ('Ζ', 'Z'),
    ('Η', 'H'),
    ('Ι', 'I'),
    ('Κ', 'K'),
    ('Μ', 'M'),
    ('Ν', 'N'),
    ('Ο', 'O'),
    ('Ρ', 'P'),
    ('Τ', 'T'),
    ('Υ', 'Y'),
    ('Χ', 'X'),
];

/// NFKC, then the per-character mapping of step 3 of the module docs, then confusable
/// letters inside mixed-script words.
fn map_chars(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfkc() {
        if default_ignorable(c) {
            continue;
        }
        let m = match c {
            '\u{2028}' | '\u{2029}' | '\u{0085}' => '\n',
            c if c.is_whitespace() && !c.is_ascii() => ' ',
            c if dash(c) => '-',
            '\u{3002}' | '\u{FF61}' => '.',
            '\u{3001}' | '\u{FF64}' => ',',
            '\u{2044}' | '\u{2215}' => '/',
            '\u{2018}' | '\u{2019}' | '\u{201B}' | '\u{2032}' | '\u{02BC}' => '\'',
            '\u{201C}' | '\u{201D}' | '\u{201F}' | '\u{2033}' => '"',
            c => ascii_digit(c).unwrap_or(c),
        };
        out.push(m);
    }
    unconfuse(&out)
}

/// Inside a word holding ASCII letters, Cyrillic/Greek confusables read as Latin.
fn unconfuse(s: &str) -> String {
    let confusable = |c: char| CONFUSABLES.iter().find(|(k, _)| *k == c).map(|(_, v)| *v);
    if !s.chars().any(|c| confusable(c).is_some()) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    for word in s.split_inclusive(|c: char| !c.is_alphanumeric()) {
        let latin = word.chars().any(|c| c.is_ascii_alphabetic());
        let foreign_other = word
            .chars()
            .any(|c| c.is_alphabetic() && !c.is_ascii() && confusable(c).is_none());
        if latin && !foreign_other {
            out.extend(word.chars().map(|c| confusable(c).unwrap_or(c)));
        } else {
            out.push_str(word);
        }
    }
    out
}

/// Joins characters spaced out one by one: a run of three or more single characters
/// separated by single spaces becomes one word (`J o h n  S m i t h` -> `John Smith`,
/// `1 2 3 - 4 5 - 6 7 8 9` -> `123-45-6789`).
fn join_spaced(s: &str) -> String {
    if !spaced_run(s.as_bytes()) && !s.chars().any(|c| c.is_alphanumeric() && !c.is_ascii()) {
        return s.to_owned();
    }
    let chars: Vec<char> = s.chars().collect();
    let is_tok = |i: usize| {
        chars.get(i).is_some_and(|c| !c.is_whitespace())
            && i.checked_sub(1)
                .and_then(|j| chars.get(j))
                .is_none_or(|c| c.is_whitespace() || (!c.is_alphanumeric() && *c != '-'))
            && chars.get(i + 1).is_none_or(|c| c.is_whitespace())
    };
    let mut out = String::with_capacity(s.len());
    let mut i = 0usize;
    while let Some(&c) = chars.get(i) {
        // A run of single characters separated by exactly one space.
        let mut j = i;
        let mut n = 0usize;
        while is_tok(j) {
            n += 1;
            if chars.get(j + 1) == Some(&' ') && is_tok(j + 2) {
                j += 2;
            } else {
                break;
            }
        }
        let alnum_in_run =
            (0..n).any(|k| chars.get(i + 2 * k).is_some_and(|c| c.is_alphanumeric()));
        if n >= 3 && alnum_in_run {
            for k in 0..n {
                if let Some(c) = chars.get(i + 2 * k) {
                    out.push(*c);
                }
            }
            i += 2 * n - 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Joins a word broken across lines: `-` + line break between letters, or a line break
/// between a letter and a lowercase letter (the rest of the same word).
fn join_lines(s: &str) -> String {
    if !s.contains('\n') {
        return s.to_owned();
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0usize;
    while let Some(&c) = chars.get(i) {
        let prev_letter = out.chars().last().is_some_and(char::is_alphanumeric);
        if prev_letter && (c == '\n' || (c == '-' && chars.get(i + 1) == Some(&'\n'))) {
            let j = if c == '-' { i + 2 } else { i + 1 };
            let next = chars.get(j).copied();
            // The rest of a word continues at the start of the next line, with no
            // indentation, and is not a key of its own (`priority: routine` in YAML).
            let mut k = j;
            while chars.get(k).is_some_and(|x| x.is_alphabetic()) {
                k += 1;
            }
            let keyish = c == '\n' && matches!(chars.get(k), Some(':' | '=' | '_' | '.'));
            let joins = !keyish
                && next.is_some_and(|n| {
                    if c == '-' {
                        n.is_alphanumeric()
                    } else {
                        n.is_lowercase() && out.chars().last().is_some_and(char::is_alphabetic)
                    }
                });
            if joins {
                i = j;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The value of an English number word, and whether it is an ordinal.
fn number_word(w: &str) -> Option<(u32, bool)> {
    const CARD: &[&str] = &[
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const ORD: &[&str] = &[
        "zeroth",
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "tenth",
        "eleventh",
        "twelfth",
        "thirteenth",
        "fourteenth",
        "fifteenth",
        "sixteenth",
        "seventeenth",
        "eighteenth",
        "nineteenth",
    ];
    const TENS: &[&str] = &[
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    const TENS_ORD: &[&str] = &[
        "",
        "",
        "twentieth",
        "thirtieth",
        "fortieth",
        "fiftieth",
        "sixtieth",
        "seventieth",
        "eightieth",
        "ninetieth",
    ];
    let w = w.to_ascii_lowercase();
    let pos = |list: &[&str]| {
        list.iter()
            .position(|x| !x.is_empty() && *x == w)
            .and_then(|p| u32::try_from(p).ok())
    };
    if let Some(v) = pos(CARD) {
        return Some((v, false));
    }
    if let Some(v) = pos(ORD) {
        return Some((v, true));
    }
    if let Some(v) = pos(TENS) {
        return Some((v * 10, false));
    }
    if let Some(v) = pos(TENS_ORD) {
        return Some((v * 10, true));
    }
    match w.as_str() {
        "hundred" => Some((100, false)),
        "hundredth" => Some((100, true)),
        "thousand" => Some((1000, false)),
        "oh" => Some((0, false)),
        _ => None,
    }
}

/// Value of a run of number words: the year form (`nineteen sixty-one` = 1961, `nineteen
/// oh five` = 1905, `twenty twenty-one` = 2021) or the ordinary form (`ninety-three`,
/// `one hundred and two`, `two thousand three`).
fn run_value(words: &[(u32, bool, bool)]) -> Option<u32> {
    // (value, ordinal, is "oh")
    let simple = |ws: &[(u32, bool, bool)]| -> Option<u32> {
        // tens + optional unit, or a single unit/teen.
        match ws {
            [(a, _, false)] if *a < 100 => Some(*a),
            [(t, _, false), (u, _, false)] if *t >= 20 && t % 10 == 0 && *t < 100 && *u < 10 => {
                Some(t + u)
            }
            [(0, _, true), (u, _, false)] if *u < 10 => Some(*u),
            _ => None,
        }
    };
    // Year form: a first part 10..=20 and a second part 0..=99 with no hundred/thousand.
    for split in 1..words.len() {
        let (a, b) = words.split_at(split);
        if let (Some(x), Some(y)) = (simple(a), simple(b))
            && (10..=20).contains(&x)
            && (b.first().is_some_and(|w| w.2) || y >= 10)
        {
            return Some(x * 100 + y);
        }
    }
    if words.iter().any(|w| w.2) {
        return None;
    }
    let (mut total, mut cur) = (0u32, 0u32);
    for (v, _, _) in words {
        match v {
            100 => cur = cur.max(1) * 100,
            1000 => {
                total += cur.max(1) * 1000;
                cur = 0;
            }
            v => cur += v,
        }
    }
    Some(total + cur)
}

/// Writes runs of English number words in digits; a day ordinal followed by ` of ` before
/// a word loses the `of` (`the third of March` -> `the 3 March`).
fn number_words(s: &str) -> String {
    let b = s.as_bytes();
    // Word spans of ASCII letters.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut i = 0usize;
    while i < b.len() {
        if b.get(i).is_some_and(u8::is_ascii_alphabetic) {
            let st = i;
            while b.get(i).is_some_and(u8::is_ascii_alphabetic) {
                i += 1;
            }
            spans.push((st, i));
        } else {
            i += 1;
        }
    }
    let word = |k: usize| spans.get(k).and_then(|(a, e)| s.get(*a..*e)).unwrap_or("");
    let gap = |k: usize| {
        // The bytes between word k and word k+1.
        match (spans.get(k), spans.get(k + 1)) {
            (Some((_, e)), Some((a, _))) => s.get(*e..*a).unwrap_or("#"),
            _ => "#",
        }
    };
    let mut out = String::with_capacity(s.len());
    let mut copied = 0usize;
    let mut k = 0usize;
    while k < spans.len() {
        let Some((v, o)) = number_word(word(k)) else {
            k += 1;
            continue;
        };
        let mut run = vec![(v, o, word(k).eq_ignore_ascii_case("oh"))];
        let mut last = k;
        loop {
            if !matches!(gap(last), " " | "-" | " - ") {
                break;
            }
            let mut nxt = last + 1;
            // `and` inside a number: `one hundred and two`.
            if word(nxt).eq_ignore_ascii_case("and") {
                if !run.iter().any(|w| w.0 >= 100) || gap(nxt) != " " {
                    break;
                }
                nxt += 1;
            }
            match number_word(word(nxt)) {
                Some((v, o)) => {
                    run.push((v, o, word(nxt).eq_ignore_ascii_case("oh")));
                    last = nxt;
                }
                None => break,
            }
        }
        // A lone `oh` or a lone `one` stays prose.
        let lone = run.len() == 1 && run.first().is_some_and(|w| w.2 || (w.0 <= 1 && !w.1));
        if !lone && let Some(value) = run_value(&run) {
            let (st, _) = spans.get(k).copied().unwrap_or((0, 0));
            let (_, en) = spans.get(last).copied().unwrap_or((0, 0));
            out.push_str(s.get(copied..st).unwrap_or(""));
            out.push_str(&value.to_string());
            copied = en;
            let ordinal = run.last().is_some_and(|w| w.1);
            if ordinal
                && word(last + 1).eq_ignore_ascii_case("of")
                && gap(last) == " "
                && let Some((_, of_end)) = spans.get(last + 1)
            {
                copied = *of_end;
            }
        }
        k = last + 1;
    }
    out.push_str(s.get(copied..).unwrap_or(""));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        let mut c = Compiler::default();
        let n = Normaliser::new(&mut c).unwrap();
        n.normalise(s).unwrap_or_else(|| s.to_owned())
    }

    #[test]
    fn encodings_are_read_through() {
        assert_eq!(norm("J&#111;hn &#x53;mith"), "John Smith");
        assert_eq!(norm("jane%2540example.org"), "jane@example.org");
        assert_eq!(norm("John+Smith"), "John Smith");
        assert_eq!(norm(r"J\u006fhn \x53mith"), "John Smith");
        assert_eq!(norm("４１１－２２－３３３３"), "411-22-3333");
        assert_eq!(norm("Jo\u{200b}hn Sm\u{00ad}ith"), "John Smith");
        assert_eq!(norm("411\u{2013}22\u{2014}3333"), "411-22-3333");
        assert_eq!(norm("٤١١-٢٢-٣٣٣٣"), "411-22-3333");
        assert_eq!(norm("𝐉𝐨𝐡𝐧 Ⓢⓜⓘⓣⓗ"), "John Smith");
        assert_eq!(norm("J\u{043e}hn"), "John");
        assert_eq!(norm("J o h n  S m i t h"), "John  Smith");
        assert_eq!(norm("Smi-\nth"), "Smith");
        assert_eq!(norm("jane [at] example [dot] org"), "jane@example.org");
        assert_eq!(
            norm("jane dot doe at example dot org"),
            "jane.doe@example.org"
        );
        assert_eq!(norm("aged ninety-three"), "aged 93");
        assert_eq!(
            norm("born the third of March nineteen sixty-one"),
            "born the 3 March 1961"
        );
        assert_eq!(norm("one hundred and two years old"), "102 years old");
    }

    #[test]
    fn plain_text_is_untouched() {
        let mut c = Compiler::default();
        let n = Normaliser::new(&mut c).unwrap();
        assert_eq!(n.normalise("service=api status=ok latency_ms=12"), None);
        assert_eq!(n.normalise("we met at noon"), None);
        assert_eq!(n.normalise("one of them"), None);
    }

    #[test]
    fn decoding_is_bounded() {
        // Four rounds of percent-encoding: three are decoded, the rest stays.
        let s = "%25252540";
        let out = norm(s);
        assert!(out.len() <= s.len());
    }

    #[test]
    fn plus_in_timestamps_and_versions_is_not_a_space() {
        let mut c = Compiler::default();
        let n = Normaliser::new(&mut c).unwrap();
        // An ISO 8601 offset after a time of day, and SemVer build metadata, stay.
        assert_eq!(n.normalise("2025-11-09T10:58:02.108+00:00"), None);
        assert_eq!(n.normalise("ts=2026-08-05T01:54:28+0200 ok"), None);
        assert_eq!(n.normalise("registry.internal/app:4.13.91+build.679"), None);
        // Form encoding between digits and words is still read as a space.
        assert_eq!(norm("555+123+4567"), "555 123 4567");
        assert_eq!(norm("John+Smith+1961"), "John Smith 1961");
        assert_eq!(norm("v1.2+build"), "v1.2 build");
    }

    /// The gates as they were first written: one condition, one scan each.
    fn spaced_run_naive(b: &[u8]) -> bool {
        spaced_run(b)
    }

    fn has_word_naive(b: &[u8], w: &[u8]) -> bool {
        word_positions(b, w, true)
    }

    fn substring_ci(b: &[u8], words: &[&str]) -> bool {
        words.iter().any(|w| {
            b.windows(w.len())
                .any(|win| win.eq_ignore_ascii_case(w.as_bytes()))
        })
    }

    proptest::proptest! {
        /// The one-pass gates decide exactly as the separate scans they replaced.
        #[test]
        fn one_pass_gates_agree_with_the_separate_scans(
            text in r"([a-zA-Z0-9]{1,4}|[ .\[\](){}<>@-]|at|AT|dot|[hH]undred|twenty|eight[eE]en|thousand){0,24}"
        ) {
            let b = text.as_bytes();
            let w = WordGates::of(b);
            proptest::prop_assert_eq!(w.spaced, spaced_run_naive(b));
            proptest::prop_assert_eq!(w.at, has_word_naive(b, b"at"));
            proptest::prop_assert_eq!(w.dot, has_word_naive(b, b"dot"));
            proptest::prop_assert_eq!(has_bracket_word(b), substring_ci(b, BRACKET_GATE));
            proptest::prop_assert_eq!(has_number_gate_word(b), substring_ci(b, NUMBER_GATE));
        }
    }
}
