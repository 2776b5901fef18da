//! Patterns: the regular expressions and keyword gates of the shaped identifiers.
//!
//! Every pattern is a named constant (or a function, where it is assembled from the word
//! tables below) and is compiled once in [`Patterns::new`]. A pattern only proposes
//! candidates: whether a candidate is reported is decided afterwards by a checksum (see
//! [`crate::checks`]) or by context (see [`crate::context`]). That split keeps the
//! regexes permissive and readable, and puts every rule that can reject a candidate in
//! code that a unit test can reach directly.

use aho_corasick::AhoCorasick;
use std::borrow::Cow;

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

/// Errors building the detector.
#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    /// A built-in pattern failed to compile.
    #[error("detector pattern {index} failed to compile")]
    Pattern {
        /// Index of the pattern, in compilation order.
        index: usize,
        /// The regex compiler's error.
        #[source]
        source: regex::Error,
    },
    /// A built-in keyword gate failed to build.
    #[error("detector keyword gate {index} failed to build")]
    Gate {
        /// Index of the gate, in compilation order.
        index: usize,
        /// The automaton builder's error.
        #[source]
        source: aho_corasick::BuildError,
    },
}

/// Compiles the built-in patterns, numbering them so that an error names which one failed
/// (the pattern text is not in the error: it would only repeat the source).
#[derive(Debug, Default)]
pub(crate) struct Compiler {
    next: usize,
}

impl Compiler {
    fn index(&mut self) -> usize {
        let index = self.next;
        self.next += 1;
        index
    }

    /// Compiles one regex.
    ///
    /// # Errors
    /// `Pattern` if it fails to compile.
    pub(crate) fn regex(&mut self, pattern: &str) -> Result<Pat, DetectorError> {
        let index = self.index();
        let any = Regex::new(pattern).map_err(|source| DetectorError::Pattern { index, source })?;
        Ok(Pat { any, ascii: None })
    }

    /// Compiles one regex with an ASCII twin written by hand, which must match exactly
    /// what `pattern` matches on ASCII text.
    ///
    /// # Errors
    /// `Pattern` if either fails to compile.
    pub(crate) fn regex_twin(&mut self, pattern: &str, ascii: &str) -> Result<Pat, DetectorError> {
        let index = self.index();
        let err = |source| DetectorError::Pattern { index, source };
        let any = Regex::new(pattern).map_err(err)?;
        let ascii = RegexBuilder::new(ascii)
            .unicode(false)
            .build()
            .map_err(err)?;
        Ok(Pat {
            any,
            ascii: Some(ascii),
        })
    }

    /// Compiles a set of regexes matched together.
    ///
    /// # Errors
    /// `Pattern` if one fails to compile.
    pub(crate) fn set<I, S>(&mut self, patterns: I) -> Result<PatSet, DetectorError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let index = self.index();
        let any =
            RegexSet::new(patterns).map_err(|source| DetectorError::Pattern { index, source })?;
        Ok(PatSet { any, ascii: None })
    }

    /// Compiles a set with an ASCII twin written by hand, which must match exactly what
    /// `patterns` match on ASCII text.
    ///
    /// # Errors
    /// `Pattern` if one fails to compile.
    pub(crate) fn set_twin<I, J, S, T>(
        &mut self,
        patterns: I,
        ascii: J,
    ) -> Result<PatSet, DetectorError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
        J: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let index = self.index();
        let err = |source| DetectorError::Pattern { index, source };
        let any = RegexSet::new(patterns).map_err(err)?;
        let ascii = RegexSetBuilder::new(ascii)
            .unicode(false)
            .build()
            .map_err(err)?;
        Ok(PatSet {
            any,
            ascii: Some(ascii),
        })
    }

    /// Builds an ASCII case-insensitive substring gate over `words`.
    ///
    /// # Errors
    /// `Gate` if the automaton cannot be built.
    pub(crate) fn gate<S: AsRef<[u8]>>(
        &mut self,
        words: &[S],
    ) -> Result<AhoCorasick, DetectorError> {
        let index = self.index();
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(words)
            .map_err(|source| DetectorError::Gate { index, source })
    }
}

/// `pattern` with the non-ASCII members of its bracket classes left out (`t[ée]l` ->
/// `t[e]l`), which changes nothing on ASCII text; `None` when that cannot be done safely:
/// a negated class or a range that mixes ASCII and non-ASCII, a class left empty, or a
/// left-out member that case-folds to an ASCII letter (U+017F `ſ`, U+212A KELVIN SIGN).
pub(crate) fn ascii_classes(pattern: &str) -> Option<String> {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    let folds_to_ascii =
        |lo: char, hi: char| (lo..=hi).contains(&'\u{17F}') || (lo..=hi).contains(&'\u{212A}');
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                out.push(chars.next()?);
            }
            '[' => {
                // One bracket class (no nested classes are used in the built-in patterns).
                let mut class = String::from("[");
                let mut members = 0usize;
                if chars.peek() == Some(&'^') {
                    class.push('^');
                    chars.next();
                }
                let negated = class.len() == 2;
                let mut first = true;
                loop {
                    let m = chars.next()?;
                    if m == ']' && !first {
                        break;
                    }
                    first = false;
                    if m == '[' {
                        return None;
                    }
                    let esc = m == '\\';
                    let lo = if esc { chars.next()? } else { m };
                    let mut hi = None;
                    if chars.peek() == Some(&'-') {
                        let mut look = chars.clone();
                        look.next();
                        if let Some(h) = look.peek().copied()
                            && h != ']'
                        {
                            chars.next();
                            chars.next();
                            if h == '\\' {
                                return None;
                            }
                            hi = Some(h);
                        }
                    }
                    let top = hi.unwrap_or(lo);
                    if lo.is_ascii() && top.is_ascii() {
                        if esc {
                            class.push('\\');
                        }
                        class.push(lo);
                        if let Some(h) = hi {
                            class.push('-');
                            class.push(h);
                        }
                        members += 1;
                    } else if negated || esc || lo.is_ascii() || folds_to_ascii(lo, top) {
                        return None;
                    }
                }
                if members == 0 {
                    return None;
                }
                class.push(']');
                out.push_str(&class);
            }
            c => out.push(c),
        }
    }
    Some(out)
}

/// A compiled pattern and its ASCII twin.
///
/// The twin is the same pattern compiled without Unicode: `\d`, `\w`, `\s`, `\b` and case
/// folding then cover ASCII only. On a haystack that is all ASCII both match exactly the
/// same spans (the Unicode forms differ only on non-ASCII characters), but the twin's
/// automata are far smaller, so building their states lazily costs a fraction (most of a
/// short scan's time went there). Text with any non-ASCII byte uses the Unicode pattern.
#[derive(Debug)]
pub(crate) struct Pat {
    any: Regex,
    ascii: Option<Regex>,
}

impl Pat {
    /// The automaton for `text`.
    fn pick(&self, text: &str) -> &Regex {
        match &self.ascii {
            Some(a) if text.is_ascii() => a,
            _ => &self.any,
        }
    }

    /// As [`Regex::is_match`].
    pub(crate) fn is_match(&self, text: &str) -> bool {
        self.pick(text).is_match(text)
    }

    /// As [`Regex::find_iter`].
    pub(crate) fn find_iter<'r, 'h>(&'r self, text: &'h str) -> regex::Matches<'r, 'h> {
        self.pick(text).find_iter(text)
    }

    /// As [`Regex::captures_iter`].
    pub(crate) fn captures_iter<'r, 'h>(&'r self, text: &'h str) -> regex::CaptureMatches<'r, 'h> {
        self.pick(text).captures_iter(text)
    }

    /// As [`Regex::replace_all`].
    pub(crate) fn replace_all<'h, R: regex::Replacer>(
        &self,
        text: &'h str,
        rep: R,
    ) -> Cow<'h, str> {
        self.pick(text).replace_all(text, rep)
    }
}

/// A compiled set of patterns and its ASCII twin (see [`Pat`]).
#[derive(Debug)]
pub(crate) struct PatSet {
    any: RegexSet,
    ascii: Option<RegexSet>,
}

impl PatSet {
    /// As [`RegexSet::matches`].
    pub(crate) fn matches(&self, text: &str) -> regex::SetMatches {
        match &self.ascii {
            Some(a) if text.is_ascii() => a.matches(text),
            _ => self.any.matches(text),
        }
    }
}

/// Street suffixes (USPS Publication 28 names and abbreviations).
const STREET_SUFFIX: &str = "Alley|Aly|Annex|Arcade|Avenue|Ave|Av|Bayou|Beach|Bend|Bluffs?|Bottom|Boulevard|Blvd|Branch|Bridge|Brooks?|Burgs?|Bypass|Camp|Canyon|Cape|Causeway|Centers?|Ctr|Circles?|Cir|Cliffs?|Club|Common|Corners?|Course|Courts?|Ct|Coves?|Creek|Crescent|Crest|Crossing|Crossroad|Curve|Dale|Dam|Divide|Drives?|Dr|Estates?|Expressway|Expy|Extensions?|Falls?|Ferry|Fields?|Flats?|Fords?|Forest|Forges?|Fork|Forks|Fort|Freeway|Fwy|Gardens?|Gateway|Glens?|Greens?|Groves?|Harbors?|Haven|Heights|Hts|Highway|Hwy|Hills?|Hollow|Inlet|Island|Islands|Isle|Junctions?|Keys?|Knolls?|Lakes?|Land|Landing|Lane|Ln|Light|Lights|Loaf|Locks?|Lodge|Loop|Mall|Manors?|Meadows?|Mews|Mill|Mills|Mission|Motorway|Mount|Mountains?|Neck|Orchard|Oval|Overpass|Park|Parks|Parkway|Parkways|Pkwy|Pass|Passage|Path|Pike|Pines?|Place|Pl|Plains?|Plaza|Plz|Points?|Ports?|Prairie|Radial|Ranch|Rapids?|Rest|Ridges?|River|Road|Roads|Rd|Route|Rte|Row|Rue|Run|Shoals?|Shores?|Skyway|Springs?|Spur|Spurs|Square|Squares|Sq|Station|Stravenue|Stream|Streets?|St|Summit|Terrace|Ter|Throughway|Trace|Track|Trafficway|Trail|Trl|Trailer|Tunnel|Turnpike|Tpke|Underpass|Unions?|Valleys?|Via|Viaducts?|Views?|Village|Villages|Ville|Vista|Walks?|Wall|Way|Ways|Wells?";

/// US state and territory abbreviations (USPS).
const US_STATES: &str = "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI|AS|MP|PW|FM|MH|AA|AE|AP";

/// Substrings that gate the European street regexes (suffixes and prefixes they use).
const EU_STREET_WORDS: &[&str] = &[
    "stra",
    "str.",
    "weg",
    "gasse",
    "allee",
    "platz",
    "ring",
    "damm",
    "ufer",
    "laan",
    "plein",
    "gracht",
    "kade",
    "singel",
    "steeg",
    "dijk",
    "gata",
    "vägen",
    "vagen",
    "gade",
    "vej",
    "veien",
    "vegen",
    "katu",
    "utca",
    "ulica",
    "rue",
    "avenue",
    "boulevard",
    "bd ",
    "chemin",
    "impasse",
    "all",
    "place",
    "quai",
    "route",
    "via",
    "piazza",
    "corso",
    "largo",
    "vicolo",
    "calle",
    "avenida",
    "avda",
    "paseo",
    "plaza",
    "carrer",
    "rua ",
    "travessa",
    "pra",
    "ul.",
    "aleja",
    "al.",
];

/// English, German, French, Spanish, Italian, Dutch and Portuguese month names.
const MONTH: &str = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|januar|februar|m[äa]rz|mai|juni|juli|okt|dez|janv|f[ée]vr?|mars|avr|juin|juil|ao[uû]t|d[ée]c|ene|abr|ago|dic|gen|mag|giu|lug|ott|maart|mei|okt|fev|out|set)[a-zéèûçñ]*\.?";

/// SSN with separators (`123-45-6789`, `123 45 6789`); the separators must agree.
const SSN: &str = r"\b(\d{3})([-. ])(\d{2})([-. ])(\d{4})\b";

/// Nine bare digits: an SSN only with SSN context.
const SSN_BARE: &str = r"\b\d{9}\b";

/// NANP number (optional `+1`/`001`, optional parentheses, optional extension).
const PHONE: &str = r"(?:(?:\+|\b00)?1[-. ]?)?(?:\(([2-9]\d{2})\)\s?|\b([2-9]\d{2}))([-. ]?)([2-9]\d{2})[-. ]?(\d{4})(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?\b";

/// International number in E.164 form (`+<country code>…`).
const E164: &str = r"\+[1-9](?:[-. ()]{0,2}\d){6,14}\b";

/// Email address.
const EMAIL: &str = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b";

/// Web URL (with a scheme, or starting `www.`).
const URL: &str =
    r"(?i)\b(?:https?|ftp|wss?)://[^\s/$.?#][^\s]*|\bwww\.[a-z0-9-]+\.[a-z]{2,}[^\s]*";

/// IPv4 literal, not part of a longer dotted run (capture 1).
const IPV4: &str =
    r"(?:^|[^0-9A-Za-z.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?:$|[^0-9A-Za-z.]|\.(?:$|[^0-9]))";

/// Candidate IPv6 literal: parsed and checked afterwards.
const IPV6: &str = r"[0-9A-Za-z:.%]*:[0-9A-Za-z:.%]*:[0-9A-Za-z:.%]*";

/// Payment card candidate: 12 to 19 digits, optionally grouped.
const CARD: &str = r"\b\d(?:[ -]?\d){11,18}\b";

/// IBAN candidate: country code, check digits, 11 to 32 alphanumerics.
const IBAN: &str = r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,32}";

/// NPI candidate: ten digits starting 1 or 2.
const NPI: &str = r"\b[12]\d{3}[- ]?\d{3}[- ]?\d{3}\b";

/// DEA registration number candidate.
const DEA: &str = r"(?i)\b[ABCDEFGHJKLMPRSTUX][A-Z9]\d{7}\b";

/// Medicare Beneficiary Identifier layout (letters exclude S, L, O, I, B, Z).
const MBI: &str = r"(?i)\b[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y]{2}\d{2}\b";

/// ZIP+4.
const ZIP4: &str = r"\b\d{5}-\d{4}\b";

/// PO box.
const PO_BOX: &str = r"(?i)\bp\.?\s?o\.?\s*box\s+\d+";

/// Compact date (`19840305`, optionally with a time): only under a person-date key.
const DATE_COMPACT: &str =
    r"\b(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:\d{4}(?:\d{2})?)?\b";

/// Age phrases (`aged 93`, `93 years old`, `93yo`); the number is capture 1, 2 or 3.
const AGE: &str = r"(?i)\b(?:age[ds]?\s*(?:[:=]|of|is)?\s*(\d{2,3})\b|(\d{2,3})\s*-?\s*(?:years?|yrs?|yr|y)\s*-?\s*old\b|(\d{2,3})\s*(?:y/o|y\.o\.?|yo|yof|yom)(?:\b|$))";

/// Seven-digit local numbers (under a phone key, or after a contact phrase).
const PHONE_LOCAL: &str = r"\b[2-9]\d{2}[-. ]?\d{4}\b";

/// Trunk-prefixed national numbers (`030 1234567`, `06 12 34 56 78`, `07700 900123`).
const PHONE_TRUNK: &str = r"(?:\b0|\(0)\d{1,4}\)?(?:[ ./-]?\d{2,4}){2,5}\b";

/// European street name + number: German, Dutch, Nordic, Polish suffixes.
const STREET_EU: &str = r"(?i)\b[a-zà-ɏ][a-zà-ɏ'-]*(?:stra(?:ss|ß)e|str\.|weg|gasse|allee|platz|ring|damm|ufer|straat|laan|plein|gracht|kade|singel|steeg|dijk|gatan|v[äa]gen|gata|gade|vej|veien|vegen|katu|utca|ulica)\s+\d{1,4}\s?[a-z]?\b";

/// Romance-language and Polish street prefixes: `Via Roma 10`, `Calle Mayor 5`,
/// `12 rue de la Paix`, `Rua Augusta 100`, `ul. Długa 5`.
const STREET_EU_PREFIX: &str = r"(?:\b\d{1,4}(?:\s?(?:bis|ter|[a-z]))?,?\s+(?i:rue|avenue|boulevard|bd|chemin|impasse|all[ée]e|place|quai|route|via|viale|piazza|corso|calle|avenida|rua|travessa|pra[çc]a|carrer|paseo|plaza)\s+[A-Za-zÀ-ɏ]|\b(?:Rue|Avenue|Boulevard|Chemin|Impasse|All[ée]e|Place|Quai|Via|Viale|Piazza|Corso|Largo|Vicolo|Calle|Avenida|Avda\.|Paseo|Plaza|Carrer|Rua|Travessa|Pra[çc]a|Ulica|ul\.|Aleja|al\.)\s+(?:(?:[A-ZÀ-Þ][A-Za-zà-ɏ'’.-]*|de|del|della|di|do|da|das|dos|des|du|la|le|les|los|las|van|von)\s+){1,5}\d{1,4}\b)";

/// Postcodes with a distinctive shape: UK, Canada, Netherlands + town.
const POSTCODE_INTL: &str = r"\b(?:[A-Z]{1,2}\d[A-Z\d]?\s\d[ABD-HJLNP-UW-Z]{2}|[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\s\d[ABCEGHJ-NPRSTV-Z]\d|\d{4}\s?[A-Z]{2}\s+[A-Z][a-z]+)\b";

/// Any postcode shape, under a postcode key or label.
const POSTCODE_CTX: &str = r"(?i)\b(?:\d{5}-?\d{3}|\d{2}-\d{3}|\d{4,6}|\d{3}\s?\d{2,3}|\d{4}\s?[a-z]{2}|[a-z]{1,2}\d[a-z\d]?\s?\d[a-z]{2}|[a-z]\d[a-z]\s?\d[a-z]\d)\b";

/// GS1 UDI (AI 01 GTIN-14 with lot/serial/expiry AIs), bracketed or not.
const UDI: &str = r"\(01\)\d{14}|\b01\d{14}(?:1[0-7]\d{6}|10[A-Za-z0-9]{1,20}|21[A-Za-z0-9]{1,20})";

/// US state abbreviation followed by a ZIP code.
fn state_zip_pattern() -> String {
    format!(r"\b(?:{US_STATES}),?\s+\d{{5}}(?:-\d{{4}})?\b")
}

/// US street address: house number, up to four words, a street suffix.
fn street_pattern() -> String {
    format!(
        r"\b\d{{1,6}}[A-Z]?\s+(?:[NSEW]\.?\s+|North\s+|South\s+|East\s+|West\s+)?(?:(?:\d{{1,3}}(?:st|nd|rd|th)|[A-Z][a-z]+|[A-Z]{{2,}})\s+){{1,4}}(?:{STREET_SUFFIX})\b"
    )
}

/// US street address in any case, used under address context only.
fn street_ci_pattern() -> String {
    format!(r"(?i)\b\d{{1,6}}\s+(?:[a-z0-9]+\s+){{1,4}}(?:{STREET_SUFFIX})\b")
}

/// Dates in the numeric and month-name layouts of the supported languages.
fn dates_pattern() -> String {
    format!(
        r"(?i)\b(?:(?:19|20)\d{{2}}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])|(?:0?[1-9]|1[0-2])[/-](?:0?[1-9]|[12]\d|3[01])[/-](?:(?:19|20)\d{{2}}|\d{{2}})|(?:0?[1-9]|[12]\d|3[01])[/.-](?:0?[1-9]|1[0-2])[/.-](?:19|20)\d{{2}}|(?:19|20)\d{{2}}/(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])|{MONTH}[\s./-]*\d{{1,2}}(?:st|nd|rd|th)?,?[\s./-]*(?:19|20)\d{{2}}|\d{{1,2}}(?:st|nd|rd|th|\.)?[\s./-]*(?:of\s+|de\s+)?{MONTH},?[\s./-]*(?:de\s+)?(?:(?:19|20)\d{{2}}|\d{{2}}\b)|(?:19|20)\d{{2}}[\s./-]*{MONTH}[\s./-]*\d{{1,2}}\b|(?:19|20)\d{{2}}\.(?:0?[1-9]|1[0-2])\.(?:0?[1-9]|[12]\d|3[01])\b|(?:0?[1-9]|[12]\d|3[01])\.\s?(?:0?[1-9]|1[0-2])\.\s?(?:19|20)\d{{2}}|(?:0?[1-9]|[12]\d|3[01])[/-](?:0?[1-9]|1[0-2])[/-]\d{{2}}\b)"
    )
}

/// The compiled shape patterns. They find candidates only: checksums and context decide.
pub(crate) struct Patterns {
    /// SSN with separators (`123-45-6789`, `123 45 6789`); the separators must agree.
    pub(crate) ssn: Pat,
    /// Nine bare digits: an SSN only with SSN context.
    pub(crate) ssn_bare: Pat,
    /// NANP number (optional `+1`/`001`, optional parentheses, optional extension).
    pub(crate) phone: Pat,
    /// International number in E.164 form (`+<country code>…`).
    pub(crate) e164: Pat,
    /// Email address.
    pub(crate) email: Pat,
    /// Web URL (with a scheme, or starting `www.`).
    pub(crate) url: Pat,
    /// IPv4 literal, not part of a longer dotted run (capture 1).
    pub(crate) ipv4: Pat,
    /// Candidate IPv6 literal: parsed and checked afterwards.
    pub(crate) ipv6: Pat,
    /// Payment card candidate: 12 to 19 digits, optionally grouped.
    pub(crate) card: Pat,
    /// IBAN candidate: country code, check digits, 11 to 32 alphanumerics.
    pub(crate) iban: Pat,
    /// NPI candidate: ten digits starting 1 or 2.
    pub(crate) npi: Pat,
    /// DEA registration number candidate.
    pub(crate) dea: Pat,
    /// Medicare Beneficiary Identifier layout (letters exclude S, L, O, I, B, Z).
    pub(crate) mbi: Pat,
    /// ZIP+4.
    pub(crate) zip4: Pat,
    /// US state abbreviation followed by a ZIP code.
    pub(crate) state_zip: Pat,
    /// US street address: house number, up to four words, a street suffix.
    pub(crate) street: Pat,
    /// US street address in any case, used under address context only.
    pub(crate) street_ci: Pat,
    /// PO box.
    pub(crate) po_box: Pat,
    /// Dates in the numeric and month-name layouts of the supported languages.
    pub(crate) dates: Pat,
    /// Compact date (`19840305`, optionally with a time): only under a person-date key.
    pub(crate) date_compact: Pat,
    /// Age phrases (`aged 93`, `93 years old`, `93yo`); the number is capture 1, 2 or 3.
    pub(crate) age: Pat,
    /// Seven-digit local numbers (under a phone key, or after a contact phrase).
    pub(crate) phone_local: Pat,
    /// Trunk-prefixed national numbers (`030 1234567`, `06 12 34 56 78`, `07700 900123`).
    pub(crate) phone_trunk: Pat,
    /// European street name + number: German, Dutch, Nordic, Polish suffixes.
    pub(crate) street_eu: Pat,
    /// Romance-language and Polish street prefixes: `Via Roma 10`, `Calle Mayor 5`,
    pub(crate) street_eu_prefix: Pat,
    /// Gates the European street regexes: one of their words occurs.
    pub(crate) eu_street_gate: AhoCorasick,
    /// Postcodes with a distinctive shape: UK, Canada, Netherlands + town.
    pub(crate) postcode_intl: Pat,
    /// Any postcode shape, under a postcode key or label.
    pub(crate) postcode_ctx: Pat,
    /// GS1 UDI (AI 01 GTIN-14 with lot/serial/expiry AIs), bracketed or not.
    pub(crate) udi: Pat,
    /// The ASCII forms of the numeric patterns in [`PRE`] order, matched together once:
    /// a pattern the set does not match cannot match alone (see [`Prefilter`]).
    numeric_pre: Option<RegexSet>,
}

/// Indices of the numeric patterns in the prefilter set.
pub(crate) mod pre {
    pub(crate) const SSN: usize = 0;
    pub(crate) const PHONE: usize = 1;
    pub(crate) const E164: usize = 2;
    pub(crate) const CARD: usize = 3;
    pub(crate) const IBAN: usize = 4;
    pub(crate) const DEA: usize = 5;
    pub(crate) const MBI: usize = 6;
    pub(crate) const ZIP4: usize = 7;
    pub(crate) const STATE_ZIP: usize = 8;
    pub(crate) const POSTCODE_INTL: usize = 9;
    pub(crate) const UDI: usize = 10;
    pub(crate) const AGE: usize = 11;
}

/// Which numeric patterns can match a text: all of them, or those its prefilter pass
/// matched.
pub(crate) struct Prefilter(Option<regex::SetMatches>);

impl Prefilter {
    /// False only when pattern `i` (a [`pre`] index) matches nowhere in the text.
    pub(crate) fn may(&self, i: usize) -> bool {
        self.0.as_ref().is_none_or(|m| m.matched(i))
    }
}

impl Patterns {
    /// Compiles every shape pattern.
    ///
    /// # Errors
    /// `Pattern` or `Gate` if a built-in pattern fails to compile.
    pub(crate) fn new(c: &mut Compiler) -> Result<Self, DetectorError> {
        Ok(Self {
            ssn: c.regex(SSN)?,
            ssn_bare: c.regex(SSN_BARE)?,
            phone: c.regex(PHONE)?,
            e164: c.regex(E164)?,
            email: c.regex(EMAIL)?,
            url: c.regex(URL)?,
            ipv4: c.regex(IPV4)?,
            ipv6: c.regex(IPV6)?,
            card: c.regex(CARD)?,
            iban: c.regex(IBAN)?,
            npi: c.regex(NPI)?,
            dea: c.regex(DEA)?,
            mbi: c.regex(MBI)?,
            zip4: c.regex(ZIP4)?,
            state_zip: c.regex(&state_zip_pattern())?,
            street: c.regex(&street_pattern())?,
            street_ci: c.regex(&street_ci_pattern())?,
            po_box: c.regex(PO_BOX)?,
            dates: c.regex(&dates_pattern())?,
            date_compact: c.regex(DATE_COMPACT)?,
            age: c.regex(AGE)?,
            phone_local: c.regex(PHONE_LOCAL)?,
            phone_trunk: c.regex(PHONE_TRUNK)?,
            street_eu: c.regex(STREET_EU)?,
            street_eu_prefix: c.regex(STREET_EU_PREFIX)?,
            eu_street_gate: c.gate(EU_STREET_WORDS)?,
            postcode_intl: c.regex(POSTCODE_INTL)?,
            postcode_ctx: c.regex(POSTCODE_CTX)?,
            udi: c.regex(UDI)?,
            numeric_pre: numeric_prefilter_set(),
        })
    }

    /// One pass over an ASCII text with many digits says which numeric patterns match
    /// it at all; other text (few digits, or non-ASCII) runs every pattern.
    pub(crate) fn prefilter(&self, text: &str, ndigits: usize) -> Prefilter {
        Prefilter(
            self.numeric_pre
                .as_ref()
                .filter(|_| ndigits >= 5 && text.is_ascii())
                .map(|set| set.matches(text)),
        )
    }
}

/// The prefilter set: the ASCII form of each numeric pattern, in [`pre`] order. `None`
/// (no prefilter, every pattern runs) if one has no ASCII form.
fn numeric_prefilter_set() -> Option<RegexSet> {
    let patterns = [
        SSN.to_owned(),
        PHONE.to_owned(),
        E164.to_owned(),
        CARD.to_owned(),
        IBAN.to_owned(),
        DEA.to_owned(),
        MBI.to_owned(),
        ZIP4.to_owned(),
        state_zip_pattern(),
        POSTCODE_INTL.to_owned(),
        UDI.to_owned(),
        AGE.to_owned(),
    ];
    let ascii = patterns
        .iter()
        .map(|p| ascii_classes(p))
        .collect::<Option<Vec<String>>>()?;
    RegexSetBuilder::new(ascii).unicode(false).build().ok()
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "test code: a panic is the failure report"
    )]

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ascii_classes_leave_out_non_ascii_members_only_when_safe() {
        assert_eq!(
            ascii_classes(r"t[ée]l[ée]fono").as_deref(),
            Some("t[e]l[e]fono")
        );
        assert_eq!(ascii_classes(r"[A-ZÀ-Þ]x").as_deref(), Some("[A-Z]x"));
        // A range holding U+017F (long s, which folds to `s`) is not dropped.
        assert_eq!(ascii_classes(r"(?i)[a-zà-ɏ]"), None);
        // Negated classes and classes left empty have no ASCII form here.
        assert_eq!(ascii_classes(r"[^é]"), None);
        assert_eq!(ascii_classes(r"[é]"), None);
        assert_eq!(ascii_classes(r"\[é"), Some(r"\[é".to_owned()));
    }

    proptest! {
        /// A pattern and its ASCII form (non-ASCII class members left out, Unicode off)
        /// match the same spans on ASCII text.
        #[test]
        fn ascii_classes_twin_matches_like_the_pattern_on_ascii_text(text in "[\\x00-\\x7f]{0,40}") {
            for p in [r"(?i)t[ée]l[ée]fono|n[ée]e?|direcci[oó]n", r"\b[A-ZÀ-Þ][a-z]+\s+\d{1,4}\b"] {
                let uni = Regex::new(p).unwrap();
                let ascii = RegexBuilder::new(&ascii_classes(p).unwrap()).unicode(false).build().unwrap();
                let a: Vec<_> = uni.find_iter(&text).map(|m| m.range()).collect();
                let b: Vec<_> = ascii.find_iter(&text).map(|m| m.range()).collect();
                prop_assert_eq!(a, b);
            }
        }
    }

    proptest! {
        /// The numeric prefilter never rules out a pattern that matches: on digit-rich
        /// ASCII text, every pattern it leaves out has no match of its own.
        #[test]
        fn numeric_prefilter_never_rules_out_a_match(
            text in r"([0-9]{1,5}|[ .()+/-]|[A-Z]{1,2}|[a-z]{1,3}|ext|years old|yo|aged|NY|\(01\)){4,20}"
        ) {
            static P: std::sync::OnceLock<Patterns> = std::sync::OnceLock::new();
            let p = P.get_or_init(|| Patterns::new(&mut Compiler::default()).unwrap());
            let ndigits = text.bytes().filter(u8::is_ascii_digit).count();
            let pre_f = p.prefilter(&text, ndigits);
            let all = [
                (pre::SSN, &p.ssn), (pre::PHONE, &p.phone), (pre::E164, &p.e164),
                (pre::CARD, &p.card), (pre::IBAN, &p.iban), (pre::DEA, &p.dea),
                (pre::MBI, &p.mbi), (pre::ZIP4, &p.zip4), (pre::STATE_ZIP, &p.state_zip),
                (pre::POSTCODE_INTL, &p.postcode_intl), (pre::UDI, &p.udi), (pre::AGE, &p.age),
            ];
            for (i, pat) in all {
                if !pre_f.may(i) {
                    prop_assert!(!pat.is_match(&text), "pattern {} ruled out but matches", i);
                }
            }
        }
    }
}
