//! Person-name detection over a compiled-in lexicon (US Census 1990 plus multi-country
//! Latin-script names from the `mimesis` locale data; see docs/PHI.md and
//! `eval/phi/build_lexicon.py`).
//!
//! Tokens are ASCII letter runs (camelCase split, apostrophes joined). A name fires only
//! with shape evidence: a first-name token followed by a surname token (handle separators
//! `.` `_` `-`, or a space between capitalised tokens), `Last, First`, `First X. Last`,
//! an initial plus surname (`j.doe`, `J. Doe`, `jdoe_smith`), a title (`Dr. Smith`), or a
//! single lexicon token under a name-like JSON key. Words in the COMMON list (names that
//! are also English or software-vocabulary words) never count on their own.
//! A capitalised lexicon name after a relationship or reference word (`per Okafor`,
//! `daughter Ingrid`) or before `'s` and such a word (`Nguyen's daughter`) also fires.
//! Callers fold diacritics first ([`Lexicon::fold`]).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a: the table keys (lexicon, key vocabulary, script inventories) are short,
/// trusted, compiled-in strings, so a fast non-keyed hash is fine here (no attacker
/// controls the table contents; scanned text is only looked up, never inserted).
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// The hasher of the detector's fixed tables.
pub(crate) type FnvBuild = BuildHasherDefault<Fnv>;

const FIRST: &str = include_str!("../data/first.txt");
const LAST: &str = include_str!("../data/last.txt");
const COMMON: &str = include_str!("../data/common.txt");
/// Latin letters with diacritics and their ASCII folding (`é e`, `ß ss`), built by
/// `eval/phi/build_lexicon.py` from Unicode decompositions.
const FOLD: &str = include_str!("../data/fold.txt");

/// Capacity hints for the lexicon tables (lines in the data files, rounded up).
const FIRST_LEN: usize = 24_000;
const LAST_LEN: usize = 47_000;

/// Longest token considered as a name.
const MAX_TOK: usize = 20;
/// Surname rank cut-off for the weaker initial + surname shapes.
const INITIAL_RANK: u32 = 8000;
/// Surname rank cut-off for an initial glued to a surname (`jdoe`) and for a common-word
/// surname after an initial (`d.brown`).
const GLUED_RANK: u32 = 3000;
/// A glued initial (`jdoe`) counts only next to a very frequent surname (`_smith`).
const GLUED_PARTNER_RANK: u32 = 1500;

/// The lexicon: built once in `Detector::new`.
pub(crate) struct Lexicon {
    first: HashSet<&'static str, FnvBuild>,
    last: HashMap<&'static str, u32, FnvBuild>,
    common: HashSet<&'static str, FnvBuild>,
    fold: HashMap<char, &'static str, FnvBuild>,
}

impl std::fmt::Debug for Lexicon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lexicon")
            .field("first", &self.first.len())
            .field("last", &self.last.len())
            .field("common", &self.common.len())
            .finish()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Case {
    Lower,
    Title,
    Upper,
    Other,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sep {
    /// `.`, `_` or `-` (handles, ids).
    Handle,
    /// Whitespace, possibly after a period (`J. Doe`).
    Space,
    /// A comma with optional whitespace.
    Comma,
    /// Anything else: the tokens are not adjacent.
    Break,
}

struct Tok {
    start: usize,
    /// Lexicon facts, filled once per token by `Lexicon::annotate`.
    first: bool,
    rank: Option<u32>,
    common: bool,
    buf: [u8; MAX_TOK],
    len: usize,
    case: Case,
    /// Separator before this token.
    sep: Sep,
    /// Followed by a possessive `'s`.
    poss: bool,
    /// Joined to the token before with nothing between (a camelCase boundary).
    glued: bool,
}

impl Tok {
    fn text(&self) -> &str {
        self.buf
            .get(..self.len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }
    fn capitalised(&self) -> bool {
        matches!(self.case, Case::Title | Case::Upper)
    }
}

fn classify_sep(s: &[u8]) -> Sep {
    match s {
        // A camelCase boundary (`JohnSmith`, `johnSmith`): words joined as in a handle.
        [] => Sep::Handle,
        [b'.' | b'_' | b'-'] => Sep::Handle,
        [b',', rest @ ..] if rest.iter().all(|c| *c == b' ') => Sep::Comma,
        [b'.', rest @ ..] if !rest.is_empty() && rest.iter().all(|c| *c == b' ') => Sep::Space,
        _ if !s.is_empty() && s.iter().all(|c| *c == b' ' || *c == b'\t') => Sep::Space,
        _ => Sep::Break,
    }
}

fn tokenize(text: &str) -> Vec<Tok> {
    let b = text.as_bytes();
    let mut out: Vec<Tok> = Vec::new();
    let mut i = 0usize;
    let mut last_end = 0usize;
    while i < b.len() {
        let Some(&c) = b.get(i) else { break };
        if !c.is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let start = i;
        let (mut tok, end) = read_token(b, start);
        i = end;
        tok.sep = if out.is_empty() {
            Sep::Break
        } else {
            classify_sep(b.get(last_end..start).unwrap_or(&[]))
        };
        tok.glued = !out.is_empty() && last_end == start;
        last_end = i;
        out.push(tok);
    }
    out
}

/// Reads the token that starts at `start` (an ASCII letter): letters up to a camelCase
/// boundary, an apostrophe between letters joined (`O'Brien`), a possessive `'s` noted
/// and skipped. Returns the token and the index after it. A token longer than
/// [`MAX_TOK`] is kept with length 0, so that it separates its neighbours but never
/// matches the lexicon.
fn read_token(b: &[u8], start: usize) -> (Tok, usize) {
    let mut tok = Tok {
        start,
        first: false,
        rank: None,
        common: false,
        buf: [0; MAX_TOK],
        len: 0,
        case: Case::Other,
        sep: Sep::Break,
        poss: false,
        glued: false,
    };
    let (mut upper, mut lower, mut first_upper) = (0usize, 0usize, false);
    let mut overflow = false;
    let mut i = start;
    while let Some(&c) = b.get(i) {
        if c.is_ascii_alphabetic() {
            // camelCase split: lower followed by upper starts a new token.
            if c.is_ascii_uppercase()
                && lower > 0
                && i > start
                && let Some(p) = b.get(i - 1)
                && p.is_ascii_lowercase()
            {
                break;
            }
            if c.is_ascii_uppercase() {
                upper += 1;
                if tok.len == 0 {
                    first_upper = true;
                }
            } else {
                lower += 1;
            }
            if let Some(slot) = tok.buf.get_mut(tok.len) {
                *slot = c.to_ascii_lowercase();
                tok.len += 1;
            } else {
                overflow = true;
            }
            i += 1;
        } else if c == b'\''
            && matches!(b.get(i + 1), Some(b's' | b'S'))
            && !b.get(i + 2).is_some_and(u8::is_ascii_alphabetic)
            && tok.len > 0
        {
            // Possessive `Smith's`: the token ends before the apostrophe.
            tok.poss = true;
            i += 2;
            break;
        } else if c == b'\'' && b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) && tok.len > 0 {
            i += 1;
        } else {
            break;
        }
    }
    tok.case = case_of(upper, lower, first_upper, tok.len);
    if overflow {
        tok.len = 0;
    }
    (tok, i)
}

/// The letter case of a token from its counts of upper- and lowercase letters.
fn case_of(upper: usize, lower: usize, first_upper: bool, len: usize) -> Case {
    if lower == 0 && upper > 1 {
        Case::Upper
    } else if upper == 0 {
        Case::Lower
    } else if first_upper && upper == 1 {
        Case::Title
    } else if upper == 1 && len == 1 {
        Case::Upper
    } else {
        Case::Other
    }
}

/// Blanks tokens that sit inside random-looking words (base64, mixed-case ids): a word
/// (split on whitespace and `,;=:"'`) of 12+ bytes with upper, lower and digits.
fn mask_random_words(text: &str, toks: &mut [Tok]) {
    let is_split = |c: char| c.is_whitespace() || matches!(c, ',' | ';' | '=' | ':' | '"' | '\'');
    let mut pos = 0usize;
    for word in text.split(is_split) {
        let start = pos;
        pos += word.len() + 1;
        let b = word.as_bytes();
        let random = b.len() >= 12
            && b.iter().any(u8::is_ascii_uppercase)
            && b.iter().any(u8::is_ascii_lowercase)
            && b.iter().any(u8::is_ascii_digit)
            && !b.contains(&b'.');
        // A run of 8+ hex digits with both digits and letters (UUIDs, digests, trace ids):
        // tokens made only of a-f letters inside such a word are hex, not names.
        let mut hexy = false;
        let (mut run, mut rd, mut rl) = (0usize, false, false);
        for c in b {
            if c.is_ascii_hexdigit() {
                run += 1;
                rd |= c.is_ascii_digit();
                rl |= c.is_ascii_alphabetic();
                hexy |= run >= 8 && rd && rl;
            } else {
                (run, rd, rl) = (0, false, false);
            }
        }
        for t in toks.iter_mut() {
            if t.start >= start && t.start < start + word.len() {
                let hex_only = t.buf.iter().take(t.len).all(|c| (b'a'..=b'f').contains(c));
                if random || (hexy && hex_only) {
                    t.len = 0;
                }
            }
        }
    }
}

/// Words that, before a capitalised lexicon name, make it a person reference in a phrase
/// (`per Okafor`, `daughter Ingrid`); and after a possessive (`Nguyen's daughter`).
const PHRASE_WORDS: &[&str] = &[
    "per",
    "daughter",
    "son",
    "wife",
    "husband",
    "mother",
    "father",
    "sister",
    "brother",
    "spouse",
    "partner",
    "caregiver",
    "guardian",
    "mom",
    "dad",
    "niece",
    "nephew",
    "aunt",
    "uncle",
    "grandson",
    "granddaughter",
    "grandmother",
    "grandfather",
    "grandma",
    "grandpa",
    "nok",
    "attn",
    "dear",
    "patient",
    "pt",
    "mr",
    "mrs",
    "ms",
    "dr",
    "miss",
    "named",
    "called",
    "signed",
    "dictated",
    "cosigned",
    "witness",
    "sibling",
    "child",
    "parent",
    "fiance",
    "fiancee",
    "friend",
    "neighbor",
    "neighbour",
    "landlord",
    "employer",
    "proxy",
    "poa",
];

/// Generic head nouns of organisations, places and eponymous terms. A name followed by
/// one (`Johns Hopkins Hospital`, `Glasgow Coma Scale`, `Swan Ganz catheter`,
/// `Becton Dickinson Inc`) or preceded by `St`/`Saint`/`Mount` names the thing, not a
/// person: the rule is the grammar of proper names, the list is the generic nouns.
const ORG_HEADS: &[&str] = &[
    "hospital",
    "hospitals",
    "clinic",
    "clinics",
    "klinik",
    "klinikum",
    "institute",
    "institut",
    "institutes",
    "institution",
    "center",
    "centre",
    "centers",
    "centres",
    "university",
    "universitat",
    "college",
    "school",
    "academy",
    "foundation",
    "memorial",
    "medical",
    "health",
    "healthcare",
    "cancer",
    "children",
    "research",
    "laboratory",
    "laboratories",
    "lab",
    "labs",
    "pharmacy",
    "pharmaceuticals",
    "pharma",
    "hall",
    "building",
    "pavilion",
    "wing",
    "tower",
    "library",
    "museum",
    "trust",
    "society",
    "association",
    "inc",
    "ltd",
    "llc",
    "gmbh",
    "corp",
    "corporation",
    "company",
    "co",
    "ag",
    "plc",
    "group",
    "systems",
    "scientific",
    "diagnostics",
    "healthineers",
    "lifesciences",
    "technologies",
    "devices",
    "scale",
    "score",
    "syndrome",
    "disease",
    "sign",
    "test",
    "catheter",
    "tube",
    "forceps",
    "retractor",
    "procedure",
    "operation",
    "maneuver",
    "manoeuvre",
    "classification",
    "criteria",
    "index",
    "equation",
    "formula",
    "method",
    "stain",
    "reflex",
    "law",
    "effect",
    "template",
    "protocol",
    "pathway",
    "form",
    "award",
    "prize",
    "fellowship",
    "lecture",
    "ward",
    "campus",
    "lymphoma",
    "disorder",
    "protein",
    "fracture",
    "graft",
    "shunt",
    "valve",
    "needle",
    "blade",
    "clamp",
    "incision",
    "tourniquet",
    // Lesions and findings named after their describers.
    "tear",
    "lesion",
    "ulcer",
    "node",
    "nodes",
    "nodule",
    "cyst",
    "tumor",
    "tumour",
    "hernia",
    "palsy",
    "phenomenon",
    "triad",
    "murmur",
    // Statistical and analytic methods named after their authors.
    "estimate",
    "estimator",
    "curve",
    "plot",
    "analysis",
    "correction",
    "coefficient",
    "distribution",
    "model",
    "theorem",
];

/// Words before a name that make it a place or an organisation (`St Mary`, `Mount Sinai`).
const PLACE_BEFORE: &[&str] = &[
    "st", "saint", "ste", "san", "santa", "mount", "mt", "fort", "lake",
];

/// True when the name ending at token `i` is part of the proper name of a thing: followed
/// by a generic head noun (directly or after one more capitalised word) or preceded by a
/// place word.
fn eponym(toks: &[Tok], i: usize) -> bool {
    let head_at = |j: usize| {
        toks.get(j)
            .is_some_and(|t| t.sep == Sep::Space && ORG_HEADS.contains(&t.text()))
    };
    let next_cap = toks
        .get(i + 1)
        .is_some_and(|t| t.sep == Sep::Space && t.capitalised());
    let place = i
        .checked_sub(2)
        .and_then(|j| toks.get(j))
        .is_some_and(|p| PLACE_BEFORE.contains(&p.text()))
        && toks.get(i - 1).is_some_and(|a| a.sep == Sep::Space);
    head_at(i + 1) || (next_cap && head_at(i + 2)) || place
}

const TITLES: &[&str] = &[
    "dr", "mr", "mrs", "ms", "miss", "mx", "prof", "nurse", "patient",
];

impl Lexicon {
    pub(crate) fn new() -> Self {
        let mut first = HashSet::with_capacity_and_hasher(FIRST_LEN, FnvBuild::default());
        first.extend(FIRST.lines().filter(|l| !l.is_empty()));
        let mut last = HashMap::with_capacity_and_hasher(LAST_LEN, FnvBuild::default());
        last.extend(LAST.lines().filter(|l| !l.is_empty()).zip(0u32..));
        let common = COMMON.lines().filter(|l| !l.is_empty()).collect();
        let fold = FOLD
            .lines()
            .filter_map(|l| {
                let (c, f) = l.split_once(' ')?;
                let mut cs = c.chars();
                let ch = cs.next()?;
                cs.next().is_none().then_some((ch, f))
            })
            .collect();
        Self {
            first,
            last,
            common,
            fold,
        }
    }

    /// Folds Latin letters with diacritics to ASCII (`José Müller` -> `Jose Muller`),
    /// keeping case; typographic apostrophes become `'`. Other characters are kept.
    pub(crate) fn fold(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if c.is_ascii() {
                out.push(c);
            } else if c == '\u{2019}' || c == '\u{02bc}' {
                out.push('\'');
            } else if let Some(f) = self.fold.get(&c) {
                if c.is_uppercase() {
                    let mut fs = f.chars();
                    if let Some(h) = fs.next() {
                        out.push(h.to_ascii_uppercase());
                    }
                    out.extend(fs);
                } else {
                    out.push_str(f);
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    fn annotate(&self, t: &mut Tok) {
        if t.len >= 2 {
            let s = t.text();
            let first = self.first.contains(s);
            let rank = self.last.get(s).copied();
            let common = (first || rank.is_some()) && self.common.contains(s);
            (t.first, t.rank, t.common) = (first, rank, common);
        }
    }
    fn is_first(&self, t: &Tok) -> bool {
        t.first
    }
    fn last_rank(&self, t: &Tok) -> Option<u32> {
        t.rank
    }
    fn is_last(&self, t: &Tok) -> bool {
        t.rank.is_some()
    }
    fn common(&self, t: &Tok) -> bool {
        t.common
    }
    /// `jdoe`: an initial glued to a frequent surname; returns the surname's rank and
    /// whether the surname is a common word.
    fn initial_surname(&self, t: &Tok) -> Option<(u32, bool)> {
        if t.len < 4 || t.case != Case::Lower || self.is_first(t) || self.is_last(t) {
            return None;
        }
        let rest = t.text().get(1..).unwrap_or("");
        let rank = self.last.get(rest).copied()?;
        (rank < GLUED_RANK).then(|| (rank, self.common.contains(rest)))
    }

    /// A first-name / surname pair where at most one side is a common word, and a common
    /// first name needs a frequent, non-common surname.
    fn strong_pair(&self, first: &Tok, last: &Tok) -> bool {
        let (cf, cl) = (self.common(first), self.common(last));
        let rank = self.last_rank(last).unwrap_or(u32::MAX);
        if cf && cl {
            return false;
        }
        if cf || cl {
            return rank < INITIAL_RANK;
        }
        true
    }

    fn pair_case_ok(&self, a: &Tok, b: &Tok, sep: Sep) -> bool {
        match sep {
            // Handles keep one case style (`jane.doe`, `Jane.Doe`, `JANE_DOE`); mixed case
            // across a separator is typical of base64 and random ids.
            Sep::Handle => {
                a.case != Case::Other
                    && b.case != Case::Other
                    && (a.case == b.case
                        || (a.len == 1 && a.case != Case::Lower && b.case == Case::Title)
                        // lowerCamelCase (`johnSmith`): the second word starts upper-case
                        // right after the first, with nothing between.
                        || (b.glued && a.case == Case::Lower && b.case == Case::Title))
            }
            Sep::Space | Sep::Comma => {
                (a.capitalised() && b.capitalised())
                    || (a.case == Case::Lower
                        && b.case == Case::Lower
                        && !self.common(a)
                        && !self.common(b))
            }
            Sep::Break => false,
        }
    }

    /// True when `text` contains a person name by the shape rules above.
    pub(crate) fn has_name(&self, text: &str, name_key: bool) -> bool {
        let mut toks = tokenize(text);
        if toks.len() < 2 && !name_key {
            return false;
        }
        mask_random_words(text, &mut toks);
        for t in &mut toks {
            self.annotate(t);
        }
        (name_key && toks.iter().any(|t| self.keyed_name(t)))
            || (0..toks.len()).any(|i| self.phrase_name(&toks, i))
            || (1..toks.len()).any(|i| self.pair_name(&toks, i) && !eponym(&toks, i))
    }

    /// Under a name key, one lexicon token is enough (a common word only capitalised).
    fn keyed_name(&self, t: &Tok) -> bool {
        (self.is_first(t) || self.is_last(t)) && (!self.common(t) || t.capitalised())
    }

    /// A capitalised lexicon name in a phrase: after a relationship or reference word
    /// (`per Okafor`), or before `'s` and such a word (`Nguyen's daughter`).
    fn phrase_name(&self, toks: &[Tok], i: usize) -> bool {
        let Some(t) = toks.get(i) else { return false };
        if t.len < 2
            || t.case != Case::Title
            || self.common(t)
            || !(self.is_first(t) || self.is_last(t))
        {
            return false;
        }
        let next_kin = t.poss
            && toks
                .get(i + 1)
                .is_some_and(|n| n.sep == Sep::Space && PHRASE_WORDS.contains(&n.text()));
        let prev_word = t.sep == Sep::Space
            && i.checked_sub(1)
                .and_then(|j| toks.get(j))
                .is_some_and(|p| p.case != Case::Upper && PHRASE_WORDS.contains(&p.text()));
        next_kin || prev_word
    }

    /// A name made by token `i` and the one before it.
    fn pair_name(&self, toks: &[Tok], i: usize) -> bool {
        let (Some(a), Some(b)) = (i.checked_sub(1).and_then(|j| toks.get(j)), toks.get(i)) else {
            return false;
        };
        if b.sep == Sep::Break || a.len == 0 || b.len == 0 {
            return false;
        }
        self.full_name(a, b) || self.initial_or_title(toks, i, a, b)
    }

    /// First and last name in any of their orders: `First Last`, `first.last`,
    /// `jdoe_smith`, `last.first`, `Last, First`.
    fn full_name(&self, a: &Tok, b: &Tok) -> bool {
        // First Last / first.last / first_last
        if matches!(b.sep, Sep::Handle | Sep::Space)
            && self.is_first(a)
            && self.is_last(b)
            && self.strong_pair(a, b)
            && self.pair_case_ok(a, b, b.sep)
        {
            return true;
        }
        // jdoe_smith: glued initial + surname, then a surname.
        if b.sep == Sep::Handle
            && b.case == Case::Lower
            && let (Some((_, rest_common)), Some(rb)) = (self.initial_surname(a), self.last_rank(b))
            && rb < GLUED_PARTNER_RANK
            && !(rest_common && self.common(b))
        {
            return true;
        }
        // last.first (handles only)
        if b.sep == Sep::Handle
            && self.is_last(a)
            && self.is_first(b)
            && self.strong_pair(b, a)
            && self.pair_case_ok(a, b, b.sep)
        {
            return true;
        }
        // Last, First
        if b.sep == Sep::Comma
            && self.is_last(a)
            && self.is_first(b)
            && self.strong_pair(b, a)
            && self.pair_case_ok(a, b, b.sep)
        {
            return true;
        }
        false
    }

    /// An initial, a title or a middle initial with a surname: `j.doe`, `J. Doe`,
    /// `Dr. Smith`, `First Q. Last`.
    fn initial_or_title(&self, toks: &[Tok], i: usize, a: &Tok, b: &Tok) -> bool {
        // j.doe / J. Doe / j_doe
        let prev_single =
            i >= 2 && a.sep != Sep::Break && toks.get(i - 2).is_some_and(|p| p.len == 1);
        if a.len == 1
            && !prev_single
            && matches!(b.sep, Sep::Handle | Sep::Space)
            && self
                .last_rank(b)
                .is_some_and(|r| r < GLUED_RANK || (r < INITIAL_RANK && !self.common(b)))
            && (b.sep == Sep::Handle && a.case == Case::Lower && b.case == Case::Lower
                || b.sep == Sep::Space && a.capitalised() && b.capitalised())
        {
            return true;
        }
        // Dr. Smith
        if b.sep == Sep::Space
            && a.case == Case::Title
            && TITLES.contains(&a.text())
            && b.capitalised()
            && self.is_last(b)
        {
            return true;
        }
        // First Q. Last
        if a.len == 1
            && a.capitalised()
            && a.sep == Sep::Space
            && b.sep == Sep::Space
            && let Some(f) = i.checked_sub(2).and_then(|j| toks.get(j))
            && self.is_first(f)
            && f.capitalised()
            && b.capitalised()
            && self.is_last(b)
        {
            return true;
        }
        false
    }
}
