//! PHI/PII detector for the MIG-06 rail.
//!
//! The rail writes metadata only; values are closed types. This crate is the second line:
//! every string the rail would write (values and unrecognised object keys) is scanned for
//! HIPAA Safe Harbor identifiers that have a shape. Shaped identifiers are found by
//! regular expressions behind cheap byte gates and confirmed by checksums (Luhn, mod 97,
//! DEA, SSA and NANP rules, CMS MBI layout); identifiers without a checksum (MRN, plan ids,
//! licences, plates, serials, person dates, bare SSN/phone/NPI digits) need context: the
//! JSON key the value sits under or a label word in the text. Person names come from a
//! compiled-in US Census 1990 lexicon and need shape evidence (see [`names`]).
//!
//! Nothing here stores, logs or returns scanned text: results are [`PhiKind`] codes only,
//! and `Debug` of the detector prints pattern counts, never input.

mod checks;
mod names;

use regex::{Regex, RegexSet};
use std::io::{BufRead, Write};

/// An identifier kind the detector reports. Codes are stable strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PhiKind {
    /// US Social Security number (SSA area/group/serial rules).
    Ssn,
    /// Telephone or fax number (NANP rules, or international E.164 `+<cc>…`).
    Phone,
    /// Email address.
    Email,
    /// Street address or PO box.
    StreetAddress,
    /// US ZIP code: ZIP+4 always, 5-digit ZIP with context (key or `ST 12345`).
    ZipCode,
    /// A date that belongs to a person (birth, admission, discharge, death, service).
    PersonDate,
    /// Age over 89.
    AgeOver89,
    /// Medical record number (context-anchored).
    Mrn,
    /// Health plan beneficiary / member id (context-anchored).
    HealthPlanId,
    /// Bank or other account number (context-anchored).
    AccountNumber,
    /// Payment card number (Luhn, issuer prefix and length).
    PaymentCard,
    /// International bank account number (ISO 13616 mod 97).
    Iban,
    /// US National Provider Identifier (Luhn with the 80840 prefix, with context).
    Npi,
    /// US DEA registration number (checksum).
    Dea,
    /// US Medicare Beneficiary Identifier (CMS layout).
    Mbi,
    /// Driver's licence number (context-anchored).
    DriversLicense,
    /// Vehicle licence plate (context-anchored).
    LicensePlate,
    /// Device serial number or IMEI/UDI (context-anchored).
    DeviceSerial,
    /// IPv4 or IPv6 address literal.
    IpAddress,
    /// Web URL.
    Url,
    /// Person name (lexicon plus shape).
    PersonName,
}

impl PhiKind {
    /// Every kind, in sort order.
    pub const ALL: [PhiKind; 21] = [
        Self::Ssn,
        Self::Phone,
        Self::Email,
        Self::StreetAddress,
        Self::ZipCode,
        Self::PersonDate,
        Self::AgeOver89,
        Self::Mrn,
        Self::HealthPlanId,
        Self::AccountNumber,
        Self::PaymentCard,
        Self::Iban,
        Self::Npi,
        Self::Dea,
        Self::Mbi,
        Self::DriversLicense,
        Self::LicensePlate,
        Self::DeviceSerial,
        Self::IpAddress,
        Self::Url,
        Self::PersonName,
    ];

    /// Stable code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Ssn => "us_ssn",
            Self::Phone => "phone",
            Self::Email => "email",
            Self::StreetAddress => "street_address",
            Self::ZipCode => "us_zip",
            Self::PersonDate => "person_date",
            Self::AgeOver89 => "age_over_89",
            Self::Mrn => "mrn",
            Self::HealthPlanId => "health_plan_id",
            Self::AccountNumber => "account_number",
            Self::PaymentCard => "payment_card",
            Self::Iban => "iban",
            Self::Npi => "us_npi",
            Self::Dea => "us_dea",
            Self::Mbi => "us_mbi",
            Self::DriversLicense => "drivers_license",
            Self::LicensePlate => "license_plate",
            Self::DeviceSerial => "device_serial",
            Self::IpAddress => "ip_address",
            Self::Url => "url",
            Self::PersonName => "person_name",
        }
    }

    /// Parses a stable code back into a kind.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    fn bit(self) -> u32 {
        1u32 << (self as u32)
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

// Context flags (from the JSON key or from label words in the text).
const C_SSN: u32 = 1;
const C_PHONE: u32 = 1 << 1;
const C_PDATE: u32 = 1 << 2;
const C_AGE: u32 = 1 << 3;
const C_MRN: u32 = 1 << 4;
const C_PLAN: u32 = 1 << 5;
const C_ACCT: u32 = 1 << 6;
const C_NPI: u32 = 1 << 7;
const C_MBI: u32 = 1 << 8;
const C_DL: u32 = 1 << 9;
const C_PLATE: u32 = 1 << 10;
const C_SERIAL: u32 = 1 << 11;
const C_ZIP: u32 = 1 << 12;
const C_ADDR: u32 = 1 << 13;
const C_NAME: u32 = 1 << 14;

/// Label words in free text, in the order of `TEXT_CTX_FLAGS`.
const TEXT_CTX: &[&str] = &[
    r"ssn|ss#|ssa|social\s+security|soc\.?\s*sec|itin|tin",
    r"phone|tel|telephone|mobile|cell|fax|call|pager|contact|ph|sms|text",
    r"dob|d\.o\.b|born|birth|birthday|birthdate|date\s+of\s+birth|admit|admitted|admission|readmitted|discharged?|discharging|died|death|deceased|expired|dod|dos|date\s+of\s+service|service\s+date|visit(?:ed)?|seen|encounter|surgery|procedure|appointment|appt",
    r"age[ds]?",
    r"mrn|medical\s+record|med\.?\s*rec|chart|patient\s+(?:id|number|no)",
    r"member|subscriber|health\s+plan|insurance|insurer|beneficiary|medicaid|hicn|policy\s+(?:no|number)|group\s+(?:no|number)",
    r"account|acct|a/c|routing|bank",
    r"npi|national\s+provider",
    r"mbi|medicare",
    r"driver'?s?\s+licen[cs]e|driving\s+licen[cs]e|dl|dln|licen[cs]e\s+(?:no|number|#)",
    r"plate|vehicle|tag\s+(?:no|number|#)",
    r"serial|s/n|sn|imei|udi|device\s+(?:id|serial)|implant|pacemaker",
    r"zip|zipcode|zip\s+code|postal|postcode",
    r"address|addr|street|residence|lives\s+at|home",
];
const TEXT_CTX_FLAGS: &[u32] = &[
    C_SSN, C_PHONE, C_PDATE, C_AGE, C_MRN, C_PLAN, C_ACCT, C_NPI, C_MBI, C_DL, C_PLATE, C_SERIAL,
    C_ZIP, C_ADDR,
];

const STREET_SUFFIX: &str = "Alley|Aly|Annex|Arcade|Avenue|Ave|Av|Bayou|Beach|Bend|Bluffs?|Bottom|Boulevard|Blvd|Branch|Bridge|Brooks?|Burgs?|Bypass|Camp|Canyon|Cape|Causeway|Centers?|Ctr|Circles?|Cir|Cliffs?|Club|Common|Corners?|Course|Courts?|Ct|Coves?|Creek|Crescent|Crest|Crossing|Crossroad|Curve|Dale|Dam|Divide|Drives?|Dr|Estates?|Expressway|Expy|Extensions?|Falls?|Ferry|Fields?|Flats?|Fords?|Forest|Forges?|Fork|Forks|Fort|Freeway|Fwy|Gardens?|Gateway|Glens?|Greens?|Groves?|Harbors?|Haven|Heights|Hts|Highway|Hwy|Hills?|Hollow|Inlet|Island|Islands|Isle|Junctions?|Keys?|Knolls?|Lakes?|Land|Landing|Lane|Ln|Light|Lights|Loaf|Locks?|Lodge|Loop|Mall|Manors?|Meadows?|Mews|Mill|Mills|Mission|Motorway|Mount|Mountains?|Neck|Orchard|Oval|Overpass|Park|Parks|Parkway|Parkways|Pkwy|Pass|Passage|Path|Pike|Pines?|Place|Pl|Plains?|Plaza|Plz|Points?|Ports?|Prairie|Radial|Ranch|Rapids?|Rest|Ridges?|River|Road|Roads|Rd|Route|Rte|Row|Rue|Run|Shoals?|Shores?|Skyway|Springs?|Spur|Spurs|Square|Squares|Sq|Station|Stravenue|Stream|Streets?|St|Summit|Terrace|Ter|Throughway|Trace|Track|Trafficway|Trail|Trl|Trailer|Tunnel|Turnpike|Tpke|Underpass|Unions?|Valleys?|Via|Viaducts?|Views?|Village|Villages|Ville|Vista|Walks?|Wall|Way|Ways|Wells?";

const US_STATES: &str = "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI|AS|MP|PW|FM|MH|AA|AE|AP";

/// Cheap keywords (ASCII case-insensitive substrings) that gate each anchor regex, in
/// `ANCHORS` order.
const ANCHOR_KEYWORDS: &[&[&str]] = &[
    &["mrn", "record", "med", "chart", "patient", "pt", "hospital"],
    &[
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
    &["account", "acct", "a/c", "routing", "bank"],
    &["driv", "dl", "licen"],
    &["plate", "vehicle", "tag"],
    &[
        "serial",
        "s/n",
        "sn",
        "imei",
        "udi",
        "device",
        "implant",
        "pacemaker",
    ],
];

/// Label-anchored identifiers: (label alternation, kind).
const ANCHORS: &[(&str, PhiKind)] = &[
    (
        r"mrn|medical\s+record(?:\s+(?:number|no|num))?|med\.?\s*rec(?:ord)?(?:\s*(?:no|number))?|chart\s*(?:number|no|num)|patient\s*(?:id|number|no)|pt\.?\s*id|hospital\s*(?:number|no)",
        PhiKind::Mrn,
    ),
    (
        r"member(?:ship)?(?:\s*(?:id|number|no|num))?|subscriber(?:\s*(?:id|number|no))?|health\s*plan(?:\s*(?:id|number|no))?|insurance\s*(?:id|number|no)|beneficiary(?:\s*(?:id|number|no))?|policy\s*(?:number|no)|group\s*(?:number|no)|plan\s*id|medicaid(?:\s*(?:id|number|no))?|hicn",
        PhiKind::HealthPlanId,
    ),
    (
        r"account(?:\s*(?:number|no|num))?|acct\.?(?:\s*(?:number|no|num))?|a/c|routing(?:\s*(?:number|no))?|bank\s*account",
        PhiKind::AccountNumber,
    ),
    (
        r"driver'?s?\s*licen[cs]e(?:\s*(?:number|no|num))?|driving\s*licen[cs]e|dl(?:\s*(?:number|no))?|dln|licen[cs]e\s*(?:number|no|num)",
        PhiKind::DriversLicense,
    ),
    (
        r"licen[cs]e\s*plate(?:\s*(?:number|no))?|plate(?:\s*(?:number|no))?|vehicle\s*(?:plate|tag|registration)|tag\s*(?:number|no)",
        PhiKind::LicensePlate,
    ),
    (
        r"serial(?:\s*(?:number|no|num))?|s/n|sn|imei|udi|device\s*(?:id|serial)|implant\s*(?:id|serial)?|pacemaker\s*(?:id|serial)?",
        PhiKind::DeviceSerial,
    ),
];

/// The detector: build once, scan many. `Send + Sync`, no interior mutability.
pub struct Detector {
    text_ctx: RegexSet,
    ssn: Regex,
    ssn_bare: Regex,
    phone: Regex,
    e164: Regex,
    email: Regex,
    url: Regex,
    ipv4: Regex,
    ipv6: Regex,
    card: Regex,
    iban: Regex,
    npi: Regex,
    dea: Regex,
    mbi: Regex,
    zip4: Regex,
    zip5: Regex,
    state_zip: Regex,
    street: Regex,
    street_ci: Regex,
    po_box: Regex,
    dates: Regex,
    date_compact: Regex,
    age: Regex,
    anchors: Vec<(Regex, PhiKind)>,
    anchor_gate: aho_corasick::AhoCorasick,
    anchor_gate_ids: Vec<usize>,
    lexicon: names::Lexicon,
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

fn re(counter: &mut usize, pattern: &str) -> Result<Regex, DetectorError> {
    let index = *counter;
    *counter += 1;
    Regex::new(pattern).map_err(|_| DetectorError::Pattern { index })
}

impl Detector {
    /// Builds the detector.
    ///
    /// # Errors
    /// `Pattern` if a built-in pattern fails to compile.
    pub fn new() -> Result<Self, DetectorError> {
        let mut n = 0usize;
        // A label word counts only as a word of its own: not inside a dotted, dashed or
        // snake_case token and not as the value of a `k=v` pair (`event=encounter`).
        let ctx_patterns: Vec<String> = TEXT_CTX
            .iter()
            .map(|p| format!(r"(?i)(?:^|[^\w.=/-])(?:{p})(?:$|[^\w.-])"))
            .collect();
        let text_ctx =
            RegexSet::new(&ctx_patterns).map_err(|_| DetectorError::Pattern { index: 0 })?;
        n += 1;
        let mut anchors = Vec::with_capacity(ANCHORS.len());
        for (label, kind) in ANCHORS {
            let p = format!(
                r"(?i)\b(?:{label})\b\W{{0,3}}(?:is\s+|of\s+|no\.?\s*|number\s*)?([A-Z0-9][A-Z0-9-]{{1,24}}(?: [A-Z0-9]{{1,6}}\b)?)"
            );
            anchors.push((re(&mut n, &p)?, *kind));
        }
        let mut gate_words = Vec::new();
        let mut anchor_gate_ids = Vec::new();
        for (i, words) in ANCHOR_KEYWORDS.iter().enumerate() {
            for w in *words {
                gate_words.push(*w);
                anchor_gate_ids.push(i);
            }
        }
        let anchor_gate = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&gate_words)
            .map_err(|_| DetectorError::Pattern { index: n })?;
        n += 1;
        let month = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?";
        Ok(Self {
            text_ctx,
            ssn: re(&mut n, r"\b(\d{3})([- ])(\d{2})[- ](\d{4})\b")?,
            ssn_bare: re(&mut n, r"\b\d{9}\b")?,
            phone: re(
                &mut n,
                r"(?:(?:\+|\b00)?1[-. ]?)?(?:\(([2-9]\d{2})\)\s?|\b([2-9]\d{2}))([-. ]?)([2-9]\d{2})[-. ]?(\d{4})(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?\b",
            )?,
            e164: re(&mut n, r"\+[1-9](?:[-. ()]{0,2}\d){6,14}\b")?,
            email: re(
                &mut n,
                r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b",
            )?,
            url: re(
                &mut n,
                r"(?i)\b(?:https?|ftp|wss?)://[^\s/$.?#][^\s]*|\bwww\.[a-z0-9-]+\.[a-z]{2,}",
            )?,
            ipv4: re(
                &mut n,
                r"(?:^|[^0-9A-Za-z.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?:$|[^0-9A-Za-z.]|\.(?:$|[^0-9]))",
            )?,
            ipv6: re(&mut n, r"[0-9A-Za-z:.%]*:[0-9A-Za-z:.%]*:[0-9A-Za-z:.%]*")?,
            card: re(&mut n, r"\b\d(?:[ -]?\d){11,18}\b")?,
            iban: re(&mut n, r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,32}")?,
            npi: re(&mut n, r"\b[12]\d{9}\b")?,
            dea: re(&mut n, r"(?i)\b[ABCDEFGHJKLMPRSTUX][A-Z9]\d{7}\b")?,
            mbi: re(
                &mut n,
                r"(?i)\b[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y]{2}\d{2}\b",
            )?,
            zip4: re(&mut n, r"\b\d{5}-\d{4}\b")?,
            zip5: re(&mut n, r"\b\d{5}\b")?,
            state_zip: re(
                &mut n,
                &format!(r"\b(?:{US_STATES}),?\s+\d{{5}}(?:-\d{{4}})?\b"),
            )?,
            street: re(
                &mut n,
                &format!(
                    r"\b\d{{1,6}}[A-Z]?\s+(?:[NSEW]\.?\s+|North\s+|South\s+|East\s+|West\s+)?(?:(?:\d{{1,3}}(?:st|nd|rd|th)|[A-Z][a-z]+|[A-Z]{{2,}})\s+){{1,4}}(?:{STREET_SUFFIX})\b"
                ),
            )?,
            street_ci: re(
                &mut n,
                &format!(r"(?i)\b\d{{1,6}}\s+(?:[a-z0-9]+\s+){{1,4}}(?:{STREET_SUFFIX})\b"),
            )?,
            po_box: re(&mut n, r"(?i)\bp\.?\s?o\.?\s*box\s+\d+")?,
            dates: re(
                &mut n,
                &format!(
                    r"(?i)\b(?:(?:19|20)\d{{2}}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])|(?:0?[1-9]|1[0-2])[/-](?:0?[1-9]|[12]\d|3[01])[/-](?:(?:19|20)\d{{2}}|\d{{2}})|(?:0?[1-9]|[12]\d|3[01])[/.-](?:0?[1-9]|1[0-2])[/.-](?:19|20)\d{{2}}|(?:19|20)\d{{2}}/(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])|{month}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:19|20)\d{{2}}|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{month},?\s+(?:19|20)\d{{2}})"
                ),
            )?,
            date_compact: re(
                &mut n,
                r"\b(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\b",
            )?,
            age: re(
                &mut n,
                r"(?i)\b(?:age[ds]?\s*(?:[:=]|of|is)?\s*(\d{2,3})\b|(\d{2,3})\s*-?\s*(?:years?|yrs?|yr|y)\s*-?\s*old\b|(\d{2,3})\s*(?:y/o|y\.o\.?|yo|yof|yom)(?:\b|$))",
            )?,
            anchors,
            anchor_gate,
            anchor_gate_ids,
            lexicon: names::Lexicon::new(),
        })
    }

    /// Scans `text` found under JSON key `key` (None for a key itself or free text).
    /// Returns the kinds found, sorted, without duplicates; never the text.
    #[must_use]
    pub fn scan(&self, key: Option<&str>, text: &str) -> Vec<PhiKind> {
        let found = self.scan_bits(key, text);
        PhiKind::ALL
            .into_iter()
            .filter(|k| found & k.bit() != 0)
            .collect()
    }

    /// True if `scan` would report anything.
    #[must_use]
    pub fn contains_phi(&self, key: Option<&str>, text: &str) -> bool {
        self.scan_bits(key, text) != 0
    }

    fn scan_bits(&self, key: Option<&str>, text: &str) -> u32 {
        let mut found = 0u32;
        let mut hit = |k: PhiKind| found |= k.bit();
        let b = text.as_bytes();
        let key_ctx = key.map_or(0, key_context);
        let ndigits = b.iter().filter(|c| c.is_ascii_digit()).count();
        let has_alpha = b.iter().any(u8::is_ascii_alphabetic);
        let mut ctx = key_ctx;
        // Context only matters for kinds that need digits.
        if has_alpha && ndigits >= 2 {
            for i in self.text_ctx.matches(text).iter() {
                ctx |= TEXT_CTX_FLAGS.get(i).copied().unwrap_or(0);
            }
        }

        if memchr(b, b'@') && self.email.is_match(text) {
            hit(PhiKind::Email);
        }
        if (text.contains("://") || text.contains("www.") || text.contains("WWW."))
            && self.url.is_match(text)
        {
            hit(PhiKind::Url);
        }
        if ndigits > 0 && memchr(b, b':') && self.ipv6_hit(text) {
            hit(PhiKind::IpAddress);
        }

        if ndigits >= 1 {
            self.numeric(text, ctx, key_ctx, ndigits, &mut hit);
        }

        if has_alpha {
            if (ctx & C_ADDR != 0 && self.street_ci.is_match(text))
                || (ndigits > 0
                    && memchr(b, b' ')
                    && b.iter().any(u8::is_ascii_uppercase)
                    && self.street.is_match(text))
                || self.po_box.is_match(text)
            {
                hit(PhiKind::StreetAddress);
            }
            if self.lexicon.has_name(text, key_ctx & C_NAME != 0) {
                hit(PhiKind::PersonName);
            }
        }
        found
    }

    fn numeric(
        &self,
        text: &str,
        ctx: u32,
        key_ctx: u32,
        ndigits: usize,
        hit: &mut impl FnMut(PhiKind),
    ) {
        let b = text.as_bytes();
        // SSN
        for c in self.ssn.find_iter(text).take_while(|_| ndigits >= 9) {
            if checks::ssn_digits_valid(c.as_str()) {
                hit(PhiKind::Ssn);
            }
        }
        if ctx & C_SSN != 0 && ndigits >= 9 {
            for c in self.ssn_bare.find_iter(text) {
                if checks::ssn_digits_valid(c.as_str()) {
                    hit(PhiKind::Ssn);
                }
            }
        }
        // Phone
        if ndigits >= 8 {
            for c in self.phone.captures_iter(text).take_while(|_| ndigits >= 10) {
                let area = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
                let exch = c.get(4).map_or("", |m| m.as_str());
                let whole = c.get(0).map_or("", |m| m.as_str());
                let bare = whole.bytes().all(|x| x.is_ascii_digit());
                if checks::nanp_valid(area, exch) && (!bare || ctx & C_PHONE != 0) {
                    hit(PhiKind::Phone);
                }
            }
            if memchr(text.as_bytes(), b'+') {
                for c in self.e164.find_iter(text) {
                    let n = checks::digits(c.as_str()).count();
                    if (8..=15).contains(&n) {
                        hit(PhiKind::Phone);
                    }
                }
            }
        }
        // Cards, NPI
        if ndigits >= 12 {
            for c in self.card.find_iter(text) {
                if checks::card_valid(c.as_str()) {
                    hit(PhiKind::PaymentCard);
                }
            }
        }
        if ndigits >= 10 && ctx & C_NPI != 0 {
            for c in self.npi.find_iter(text) {
                if checks::npi_valid(c.as_str()) {
                    hit(PhiKind::Npi);
                }
            }
        }
        // IBAN, DEA, MBI
        if ndigits >= 6 && b.iter().any(u8::is_ascii_uppercase) {
            for c in self.iban.find_iter(text) {
                if checks::iban_valid(c.as_str()) {
                    hit(PhiKind::Iban);
                }
            }
        }
        if ndigits >= 5 && b.iter().any(u8::is_ascii_alphabetic) {
            for c in self.dea.find_iter(text) {
                let s = c.as_str();
                let upper = s.bytes().all(|x| !x.is_ascii_lowercase());
                if checks::dea_valid(s.get(2..).unwrap_or("")) && (upper || ctx & C_NPI != 0) {
                    hit(PhiKind::Dea);
                }
            }
            for c in self.mbi.find_iter(text) {
                let s = c.as_str();
                let upper = s.bytes().all(|x| !x.is_ascii_lowercase());
                if checks::mbi_valid(s) && (upper || ctx & C_MBI != 0) {
                    hit(PhiKind::Mbi);
                }
            }
        }
        // ZIP
        if ndigits >= 5 && (self.zip4.is_match(text) || self.state_zip.is_match(text)) {
            hit(PhiKind::ZipCode);
        }
        if ctx & C_ZIP != 0 && ndigits >= 5 && self.zip5.is_match(text) {
            hit(PhiKind::ZipCode);
        }
        // IPv4
        if ndigits >= 4 && b.iter().filter(|c| **c == b'.').count() >= 3 {
            for c in self.ipv4.captures_iter(text) {
                if let Some(m) = c.get(1)
                    && m.as_str().parse::<std::net::Ipv4Addr>().is_ok()
                {
                    hit(PhiKind::IpAddress);
                }
            }
        }
        // Person dates
        if ctx & C_PDATE != 0
            && (self.dates.is_match(text)
                || (key_ctx & C_PDATE != 0 && self.date_compact.is_match(text)))
        {
            hit(PhiKind::PersonDate);
        }
        // Age over 89
        if ndigits >= 2 {
            let over = |s: &str| matches!(s.parse::<u32>(), Ok(90..=125));
            for c in self.age.captures_iter(text) {
                let m = c.get(1).or_else(|| c.get(2)).or_else(|| c.get(3));
                if m.is_some_and(|m| over(m.as_str())) {
                    hit(PhiKind::AgeOver89);
                }
            }
            if key_ctx & C_AGE != 0 {
                let t = text.trim();
                let num: String = t.chars().take_while(char::is_ascii_digit).collect();
                if over(&num) {
                    hit(PhiKind::AgeOver89);
                }
            }
        }
        // Context-anchored ids, each regex only if one of its keywords occurs.
        let mut gate = 0u32;
        for m in self.anchor_gate.find_overlapping_iter(text) {
            if let Some(i) = self.anchor_gate_ids.get(m.pattern().as_usize()) {
                gate |= 1 << i;
            }
        }
        for (i, (re, kind)) in self.anchors.iter().enumerate() {
            if gate & (1 << i) == 0 {
                continue;
            }
            for c in re.captures_iter(text) {
                if let Some(m) = c.get(1) {
                    let v = m.as_str();
                    let head = v.split(' ').next().unwrap_or("");
                    if anchored_value_ok(*kind, v) || anchored_value_ok(*kind, head) {
                        hit(*kind);
                    }
                }
            }
        }
        for (flag, kind) in [
            (C_MRN, PhiKind::Mrn),
            (C_PLAN, PhiKind::HealthPlanId),
            (C_ACCT, PhiKind::AccountNumber),
            (C_DL, PhiKind::DriversLicense),
            (C_PLATE, PhiKind::LicensePlate),
            (C_SERIAL, PhiKind::DeviceSerial),
        ] {
            if key_ctx & flag != 0 && anchored_value_ok(kind, text.trim()) {
                hit(kind);
            }
        }
    }

    fn ipv6_hit(&self, text: &str) -> bool {
        self.ipv6.find_iter(text).any(|m| {
            let s = m.as_str().trim_end_matches('.');
            let s = s.split('%').next().unwrap_or("");
            let s = s.trim_start_matches('[').trim_end_matches(']');
            s.len() >= 3
                && s.contains("::") | (s.matches(':').count() >= 7)
                && s.parse::<std::net::Ipv6Addr>().is_ok()
                && (s.bytes().any(|c| c.is_ascii_digit()) || s.len() >= 10)
        })
    }
}

fn memchr(b: &[u8], c: u8) -> bool {
    b.contains(&c)
}

/// Validates the value captured after a label (or the whole value under a context key).
fn anchored_value_ok(kind: PhiKind, v: &str) -> bool {
    let v = v.trim();
    if v.is_empty() || checks::is_opaque_id(v) {
        return false;
    }
    let core: String = v.chars().filter(|c| *c != '-' && *c != ' ').collect();
    if !core.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let digits = core.bytes().filter(u8::is_ascii_digit).count();
    let letters = core.len() - digits;
    let len = core.len();
    match kind {
        PhiKind::Mrn => {
            (5..=12).contains(&digits)
                && letters <= 3
                && core.bytes().skip(letters).all(|c| c.is_ascii_digit())
        }
        PhiKind::HealthPlanId => (6..=20).contains(&len) && digits >= 5 && letters <= 5,
        PhiKind::AccountNumber => letters == 0 && (6..=17).contains(&digits),
        PhiKind::DriversLicense => (5..=16).contains(&len) && digits >= 4 && letters <= 3,
        PhiKind::LicensePlate => (4..=8).contains(&len) && digits >= 1,
        PhiKind::DeviceSerial => (6..=24).contains(&len) && digits >= 3,
        _ => false,
    }
}

/// Splits a JSON key into lowercase word tokens (separators and camelCase).
fn key_tokens(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            cur.push(c.to_ascii_lowercase());
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Context flags implied by the JSON key a value sits under.
fn key_context(key: &str) -> u32 {
    let toks = key_tokens(key);
    let has = |w: &str| toks.iter().any(|t| t == w);
    let any = |ws: &[&str]| ws.iter().any(|w| has(w));
    let joined: String = toks.concat();
    let mut c = 0u32;
    if any(&["ssn", "ssa", "social", "socialsecurity", "tin", "itin"]) {
        c |= C_SSN;
    }
    if any(&[
        "phone",
        "tel",
        "telephone",
        "mobile",
        "cell",
        "fax",
        "msisdn",
        "pager",
        "cellphone",
        "phonenumber",
    ]) {
        c |= C_PHONE;
    }
    if any(&[
        "dob",
        "dod",
        "dos",
        "birth",
        "birthdate",
        "birthday",
        "born",
        "dateofbirth",
        "admit",
        "admitted",
        "admission",
        "admissiondate",
        "admitdate",
        "discharge",
        "discharged",
        "dischargedate",
        "death",
        "died",
        "deceased",
        "deathdate",
        "visit",
        "encounter",
        "procedure",
        "surgery",
        "appointment",
        "servicedate",
        "dateofservice",
    ]) || (has("service") && has("date"))
    {
        c |= C_PDATE;
    }
    if any(&["age", "ageyears", "agey"]) {
        c |= C_AGE;
    }
    if any(&["mrn", "chart"])
        || joined.contains("medicalrecord")
        || (has("patient") && any(&["id", "number", "no"]))
    {
        c |= C_MRN;
    }
    if any(&[
        "member",
        "subscriber",
        "insurance",
        "beneficiary",
        "medicaid",
        "hicn",
        "memberid",
        "healthplan",
    ]) || (has("plan") && any(&["id", "number"]))
    {
        c |= C_PLAN;
    }
    if any(&[
        "account",
        "acct",
        "iban",
        "routing",
        "bank",
        "accountnumber",
    ]) {
        c |= C_ACCT;
    }
    if any(&["npi"]) {
        c |= C_NPI;
    }
    if any(&["mbi", "medicare"]) {
        c |= C_MBI;
    }
    if any(&[
        "dl",
        "dln",
        "driver",
        "drivers",
        "driving",
        "driverslicense",
    ]) || (any(&["license", "licence"]) && any(&["number", "no", "num"]))
    {
        c |= C_DL;
    }
    if any(&["plate", "vehicle", "licenseplate"]) {
        c |= C_PLATE;
    }
    if any(&["serial", "imei", "udi", "sn", "serialnumber"]) || (has("device") && has("serial")) {
        c |= C_SERIAL;
    }
    if any(&["zip", "zipcode", "postal", "postcode", "postalcode"]) {
        c |= C_ZIP;
    }
    if any(&["address", "addr", "street", "residence", "line1", "line2"]) {
        c |= C_ADDR;
    }
    if any(&[
        "firstname",
        "lastname",
        "fullname",
        "surname",
        "given",
        "family",
        "middle",
        "maiden",
        "nickname",
        "guardian",
        "spouse",
        "kin",
        "person",
        "patientname",
        "physician",
        "doctor",
    ]) || (any(&["first", "last", "full", "patient", "contact", "provider"]) && has("name"))
        || toks.len() == 1 && has("name")
    {
        c |= C_NAME;
    }
    c
}

/// Verdict written by [`run_scan`] for one input line.
#[derive(Debug, serde::Serialize)]
struct Verdict<'a> {
    phi: bool,
    kinds: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// Runs the `mig06 scan` contract: reads JSON lines `{"text": "...", "key": "..."}` (or
/// plain lines when `lines` is true) and writes one verdict per line
/// `{"phi": bool, "kinds": [...]}`. The optional `key` is passed to [`Detector::scan`] as
/// context. A line that is not a JSON object with a string `text` yields
/// `{"phi": true, "kinds": [], "error": "invalid_line"}` (fail-closed: unscannable input
/// is treated as possibly PHI). Input text is never echoed. Returns the number of lines.
///
/// # Errors
/// I/O errors from the reader or writer (including non-UTF-8 input).
pub fn run_scan(
    detector: &Detector,
    input: impl BufRead,
    mut output: impl Write,
    lines: bool,
) -> std::io::Result<u64> {
    let mut n = 0;
    for line in input.lines() {
        let line = line?;
        let verdict = if lines {
            Some(detector.scan(None, &line))
        } else {
            match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(v) => match v.get("text").and_then(|t| t.as_str()) {
                    Some(t) => {
                        let key = v.get("key").and_then(|k| k.as_str());
                        Some(detector.scan(key, t))
                    }
                    None => None,
                },
                Err(_) => None,
            }
        };
        let out = match &verdict {
            Some(kinds) => Verdict {
                phi: !kinds.is_empty(),
                kinds: kinds.iter().map(|k| k.code()).collect(),
                error: None,
            },
            None => Verdict {
                phi: true,
                kinds: Vec::new(),
                error: Some("invalid_line"),
            },
        };
        serde_json::to_writer(&mut output, &out)?;
        output.write_all(b"\n")?;
        n += 1;
    }
    Ok(n)
}
