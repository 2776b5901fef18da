//! The detector: build once, scan many.
//!
//! A scan runs the same rules over every string it is given (see [`Detector::scan_one`]),
//! and the structure inside a string (a `k=v` pair, an embedded JSON object, a CSV header,
//! an HL7 segment) only changes which key each part is scanned under. So a value inside
//! `"mrn=A1234567"` is judged exactly like the value `"A1234567"` under the JSON key
//! `mrn`, and there is one set of rules to test, not one per container format.

use crate::anchored::Anchors;
use crate::context::{C_ADDR, C_NAME, C_PNAME, TextContext};
use crate::kind::{KindSet, PhiKind};
use crate::normalize::Normaliser;
use crate::patterns::{Compiler, DetectorError, Patterns};
use crate::{keys, kv, names, natid, net, scripts, unescape, values};

/// The detector: build once, scan many. `Send + Sync`, no interior mutability.
pub struct Detector {
    text_ctx: TextContext,
    pub(crate) re: Patterns,
    pub(crate) anchors: Anchors,
    lexicon: names::Lexicon,
    keys: keys::KeyVocab,
    normaliser: Normaliser,
    scripts: scripts::ScriptNames,
    pub(crate) nat: natid::NatPatterns,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("kinds", &PhiKind::ALL.len())
            .field("anchors", &self.anchors.len())
            .field("lexicon", &self.lexicon)
            .finish_non_exhaustive()
    }
}

/// One string being scanned, with what its key and its own bytes say about it.
pub(crate) struct Subject<'t> {
    /// The key the string sits under.
    pub(crate) key: Option<&'t str>,
    /// The string.
    pub(crate) text: &'t str,
    /// Context from the key alone.
    pub(crate) key_ctx: u32,
    /// Context from the key and from label words in the text.
    pub(crate) ctx: u32,
    /// Number of ASCII digits in the text.
    pub(crate) ndigits: usize,
}

impl<'t> Subject<'t> {
    fn new(text_ctx: &TextContext, key: Option<&'t str>, key_ctx: u32, text: &'t str) -> Self {
        let b = text.as_bytes();
        let ndigits = b.iter().filter(|c| c.is_ascii_digit()).count();
        let mut ctx = key_ctx;
        // Context only matters for kinds that need digits.
        if ndigits >= 2 && b.iter().any(u8::is_ascii_alphabetic) {
            ctx |= text_ctx.flags(text);
        }
        Self {
            key,
            text,
            key_ctx,
            ctx,
            ndigits,
        }
    }

    /// True when the text contains the byte `c`.
    pub(crate) fn has(&self, c: u8) -> bool {
        self.text.as_bytes().contains(&c)
    }
}

impl Detector {
    /// Builds the detector.
    ///
    /// # Errors
    /// `Pattern` or `Gate` if a built-in pattern fails to compile.
    pub fn new() -> Result<Self, DetectorError> {
        let mut c = Compiler::default();
        Ok(Self {
            text_ctx: TextContext::new(&mut c)?,
            anchors: Anchors::new(&mut c)?,
            re: Patterns::new(&mut c)?,
            lexicon: names::Lexicon::new(),
            keys: keys::KeyVocab::new(),
            normaliser: Normaliser::new(&mut c)?,
            scripts: scripts::ScriptNames::new(),
            nat: natid::NatPatterns::new(&mut c)?,
        })
    }

    /// Scans `text` found under JSON key `key` (None for a key itself or free text).
    /// Returns the kinds found, sorted, without duplicates; never the text.
    #[must_use]
    pub fn scan(&self, key: Option<&str>, text: &str) -> Vec<PhiKind> {
        // JSON embedded in a string carries `\uXXXX` escapes: scan the decoded text.
        let mut found = match text
            .contains("\\u")
            .then(|| unescape::json_escapes(text))
            .flatten()
        {
            Some(decoded) => self.scan_structured(key, &decoded),
            None => self.scan_structured(key, text),
        };
        // The text as a person reads it (encodings decoded, look-alike characters folded):
        // scanned as well, so an encoding can only add findings, never hide one.
        if let Some(normalised) = self.normaliser.normalise(text) {
            found.extend(self.scan_structured(key, &normalised));
        }
        found.to_vec()
    }

    /// Scans `text` whole, then each part that a structure inside it gives a key.
    fn scan_structured(&self, key: Option<&str>, text: &str) -> KindSet {
        let key_ctx = key.map_or(0, |k| self.keys.context(k));
        let mut found = self.scan_one(key, key_ctx, text);
        let b = text.as_bytes();
        let has = |c: u8| b.contains(&c);
        // Keys written inside the text give their values context, as a JSON key does.
        // The key itself is never scanned as a finding here.
        if b.len() >= 3 && (has(b'=') || has(b':')) {
            found.extend(self.scan_pairs(text));
        }
        if has(b'\n') && (has(b',') || has(b'\t') || has(b';')) {
            kv::for_each_csv_cell(text, |k, v| {
                let c = self.keys.context(k);
                if c != 0 || net::key_ip_person(k) {
                    found.extend(self.scan_one(Some(k), c, v));
                }
            });
        }
        if has(b'|') {
            kv::for_each_hl7_field(text, |k, v| {
                found.extend(self.scan_one(Some(k), self.keys.context(k), v));
            });
        }
        found
    }

    /// Scans the values of the `k=v` / `k: v` pairs written inside `text`.
    fn scan_pairs(&self, text: &str) -> KindSet {
        let mut found = KindSet::default();
        // FHIR ContactPoint / Identifier: `"system": "phone", "value": "…"`: the context
        // named by a `system`-like value carries over to the next `value`-like key.
        let mut pending = 0u32;
        kv::for_each_pair(text, |k, v| {
            let mut c = self.keys.context(k);
            let last = k.rsplit(['.', '_', '-']).next().unwrap_or(k);
            let last_is = |words: &[&str]| words.iter().any(|w| last.eq_ignore_ascii_case(w));
            if c == 0 && last_is(&["value", "val", "id", "number"]) {
                c = pending;
            }
            if last_is(&["system", "type", "use", "code", "kind"]) {
                pending = self.keys.context(v);
            }
            if (c != 0 || net::key_ip_person(k)) && !v.is_empty() {
                found.extend(self.scan_one(Some(k), c, v));
            }
        });
        found
    }

    /// Scans one string with the context its key gives (`key_ctx`).
    fn scan_one(&self, key: Option<&str>, key_ctx: u32, text: &str) -> KindSet {
        let s = Subject::new(&self.text_ctx, key, key_ctx, text);
        let mut found = KindSet::default();
        self.network(&s, &mut found);
        if s.ndigits >= 1 {
            self.numeric(&s, &mut found);
        }
        if text.bytes().any(|c| c.is_ascii_alphabetic()) || !text.is_ascii() {
            self.words(&s, &mut found);
        }
        found
    }

    /// Email addresses, URLs, home directories and IPv6 literals.
    fn network(&self, s: &Subject<'_>, found: &mut KindSet) {
        let text = s.text;
        if s.has(b'@')
            && self.re.email.find_iter(text).any(|m| {
                // `scheme://user@host` is a URL's userinfo (a service account in a DSN),
                // not a mailbox.
                !text.get(..m.start()).is_some_and(|p| p.ends_with("://"))
            })
        {
            found.insert(PhiKind::Email);
        }
        if (text.contains("://") || text.contains("www.") || text.contains("WWW."))
            && self.url_hit(s)
        {
            found.insert(PhiKind::Url);
        }
        if (s.has(b'/') || s.has(b'\\')) && net::home_dir_user(text) {
            found.insert(PhiKind::Url);
        }
        if s.ndigits > 0 && s.has(b':') && self.ipv6_hit(s.key, text) {
            found.insert(PhiKind::IpAddress);
        }
    }

    /// True when a URL in the text identifies a person (or sits under a person's key).
    fn url_hit(&self, s: &Subject<'_>) -> bool {
        let person_key = s.key.is_some_and(|k| self.keys.person_key(k));
        let query_key = |k: &str| self.keys.context(k) != 0;
        self.re.url.find_iter(s.text).any(|m| {
            let u = m
                .as_str()
                .trim_end_matches(['"', '\'', ')', ',', ';', '>', ']', '}']);
            !net::is_terminology(u) && (person_key || net::url_identifies(u, &query_key))
        })
    }

    /// Street addresses and person names.
    fn words(&self, s: &Subject<'_>, found: &mut KindSet) {
        let text = s.text;
        let b = text.as_bytes();
        if (s.ctx & C_ADDR != 0 && self.re.street_ci.is_match(text))
            || (s.ndigits > 0
                && b.contains(&b' ')
                && (self.re.street.is_match(text)
                    || (self.re.eu_street_gate.is_match(text)
                        && (self.re.street_eu.is_match(text)
                            || self.re.street_eu_prefix.is_match(text)))))
            || self.re.po_box.is_match(text)
            || (s.key_ctx & C_ADDR != 0 && values::address_value(text))
        {
            found.insert(PhiKind::StreetAddress);
        }
        if self.person_name(s) {
            found.insert(PhiKind::PersonName);
        }
    }

    /// True when the text holds a person's name.
    fn person_name(&self, s: &Subject<'_>) -> bool {
        let text = s.text;
        let ascii = text.is_ascii();
        // Under the bare `name` key (FHIR and configuration use it for services, env
        // variables, containers), a machine identifier (`ENERGY_COACH`, `intake-worker`)
        // is not a person's name.
        let bare_name_key = s.key_ctx & C_NAME != 0 && s.key_ctx & C_PNAME == 0;
        let machine = bare_name_key && values::machine_ident(text);
        if machine && !text.bytes().any(|c| c.is_ascii_lowercase()) {
            return false;
        }
        // A lowercase handle (`intake-worker`, `john_smith`) still counts by the pair
        // rules, not as a single lexicon word under the key.
        let name_key = s.key_ctx & C_NAME != 0 && !machine;
        // Letters of another script are a name only with a name's shape and context (see
        // `scripts`), or as the whole value under a key that names a person's name.
        if !ascii
            && values::non_latin_letters(text) >= 2
            && (s.key_ctx & C_PNAME != 0 || self.scripts.has_name(text, name_key))
        {
            return true;
        }
        // Host names of URLs (company domains such as `smith-jones.com`) are not read as
        // names; paths and query strings are.
        let masked;
        let text_n = if text.contains("://") || text.contains("www.") {
            masked = self.mask_hosts(text);
            masked.as_str()
        } else {
            text
        };
        let named = if ascii {
            self.lexicon.has_name(text_n, name_key)
        } else {
            self.lexicon.has_name(&self.lexicon.fold(text_n), name_key)
        };
        named || (s.key_ctx & C_PNAME != 0 && values::name_value(text))
    }

    /// `text` with the host part of every URL blanked (same length).
    fn mask_hosts(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for m in self.re.url.find_iter(text) {
            let u = m.as_str();
            let host_start = u.find("://").map_or(0, |i| i + 3);
            let host_len = u
                .get(host_start..)
                .and_then(|r| r.find(['/', '?', '#']))
                .unwrap_or(u.len().saturating_sub(host_start));
            let (a, b) = (m.start() + host_start, m.start() + host_start + host_len);
            if let Some(h) = text.get(a..b)
                && h.is_ascii()
            {
                out.replace_range(a..b, &" ".repeat(h.len()));
            }
        }
        out
    }

    fn ipv6_hit(&self, key: Option<&str>, text: &str) -> bool {
        self.re.ipv6.find_iter(text).any(|m| {
            let s = m.as_str().trim_end_matches('.');
            let s = s.split('%').next().unwrap_or("");
            let s = s.trim_start_matches('[').trim_end_matches(']');
            s.len() >= 3
                && s.contains("::") | (s.matches(':').count() >= 7)
                && (s.bytes().any(|c| c.is_ascii_digit()) || s.len() >= 10)
                && s.parse::<std::net::Ipv6Addr>()
                    .is_ok_and(|ip| net::ip_reported(key, text, m.start(), m.end(), ip.into()))
        })
    }
}
