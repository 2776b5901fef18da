//! PHI/PII detector for the MIG-06 rail.
//!
//! The rail writes metadata only; values are closed types. This crate is the second line:
//! every string the rail would write (values and unrecognised object keys) is scanned for
//! HIPAA Safe Harbor identifiers that have a shape. Shaped identifiers are found by
//! regular expressions behind cheap byte gates and confirmed by checksums (Luhn, mod 97,
//! DEA, SSA and NANP rules, CMS MBI layout); identifiers without a checksum (MRN, plan ids,
//! licences, plates, serials, person dates, bare SSN/phone/NPI digits) need context: the
//! JSON key the value sits under, a key written inside the text (`k=v`, `k: v`, embedded
//! JSON, a CSV header, an HL7 field; see [`kv`] and [`keys`]) or a label word in the text.
//! URLs and IP literals are reported by role (see [`net`]). Person names come from a
//! compiled-in multi-country lexicon and need shape evidence or a name key (see [`names`]);
//! letters of non-Latin scripts in metadata are reported as names (fail closed).
//!
//! Nothing here stores, logs or returns scanned text: results are [`PhiKind`] codes only,
//! and `Debug` of the detector prints pattern counts, never input.

mod checks;
mod keys;
mod kv;
mod names;
mod net;

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

/// Context flags (from the JSON key, a key inside the text, or label words in the text).
pub(crate) mod ctx {
    pub(crate) const C_SSN: u32 = 1;
    pub(crate) const C_PHONE: u32 = 1 << 1;
    pub(crate) const C_PDATE: u32 = 1 << 2;
    pub(crate) const C_AGE: u32 = 1 << 3;
    pub(crate) const C_MRN: u32 = 1 << 4;
    pub(crate) const C_PLAN: u32 = 1 << 5;
    pub(crate) const C_ACCT: u32 = 1 << 6;
    pub(crate) const C_NPI: u32 = 1 << 7;
    pub(crate) const C_MBI: u32 = 1 << 8;
    pub(crate) const C_DL: u32 = 1 << 9;
    pub(crate) const C_PLATE: u32 = 1 << 10;
    pub(crate) const C_SERIAL: u32 = 1 << 11;
    pub(crate) const C_ZIP: u32 = 1 << 12;
    pub(crate) const C_ADDR: u32 = 1 << 13;
    pub(crate) const C_NAME: u32 = 1 << 14;
    /// A key that names a person's name explicitly (`family`, `patient_name`), not the
    /// bare `name` that FHIR also uses for organisations, locations and medications.
    pub(crate) const C_PNAME: u32 = 1 << 15;
}
use ctx::{
    C_ACCT, C_ADDR, C_AGE, C_DL, C_MBI, C_MRN, C_NAME, C_NPI, C_PDATE, C_PHONE, C_PLAN, C_PLATE,
    C_SERIAL, C_SSN, C_ZIP,
};

/// Label words in free text, in the order of `TEXT_CTX_FLAGS`.
const TEXT_CTX: &[&str] = &[
    r"ssn|ss#|ssa|social\s+security|soc\.?\s*sec|itin|tin|sin|nino|national\s+insurance|tax\s+id",
    r"phone|tel|telephone|mobile|cell|fax|call|called|calling|pager|contact|contacted|ph|sms|text|texted|reach|reached|reachable|voicemail|whatsapp|handy|t[ée]l[ée]fono|telefon|t[ée]l[ée]phone|tfn|mob|cel",
    r"dob|d\.o\.b|born|birth|birthday|birthdate|date\s+of\s+birth|geb\.|geboren|geburtsdatum|n[ée]e?|nacid[oa]|naissance|nascita|admit|admitted|admission|readmitted|discharged?|discharging|died|death|deceased|expired|dod|dos|date\s+of\s+service|service\s+date|visit(?:ed)?|seen|encounter|surgery|procedure|appointment|appt",
    r"age[ds]?",
    r"mrn|medical\s+record|med\.?\s*rec|chart|patient\s+(?:id|number|no)",
    r"member|subscriber|health\s+plan|insurance|insurer|beneficiary|medicaid|hicn|policy\s+(?:no|number)|group\s+(?:no|number)",
    r"account|acct|a/c|routing|bank",
    r"npi|national\s+provider",
    r"mbi|medicare",
    r"driver'?s?\s+licen[cs]e|driving\s+licen[cs]e|dl|dln|licen[cs]e\s+(?:no|number|#)",
    r"plate|vehicle|tag\s+(?:no|number|#)",
    r"serial|s/n|sn|imei|udi|device\s+(?:id|serial)|implant|pacemaker|transmitter|sensor|pump",
    r"zip|zipcode|zip\s+code|postal|postcode|plz|code\s+postal",
    r"address|addr|street|residence|lives\s+at|home|adresse|anschrift|direcci[oó]n|indirizzo",
];
const TEXT_CTX_FLAGS: &[u32] = &[
    C_SSN, C_PHONE, C_PDATE, C_AGE, C_MRN, C_PLAN, C_ACCT, C_NPI, C_MBI, C_DL, C_PLATE, C_SERIAL,
    C_ZIP, C_ADDR,
];

const STREET_SUFFIX: &str = "Alley|Aly|Annex|Arcade|Avenue|Ave|Av|Bayou|Beach|Bend|Bluffs?|Bottom|Boulevard|Blvd|Branch|Bridge|Brooks?|Burgs?|Bypass|Camp|Canyon|Cape|Causeway|Centers?|Ctr|Circles?|Cir|Cliffs?|Club|Common|Corners?|Course|Courts?|Ct|Coves?|Creek|Crescent|Crest|Crossing|Crossroad|Curve|Dale|Dam|Divide|Drives?|Dr|Estates?|Expressway|Expy|Extensions?|Falls?|Ferry|Fields?|Flats?|Fords?|Forest|Forges?|Fork|Forks|Fort|Freeway|Fwy|Gardens?|Gateway|Glens?|Greens?|Groves?|Harbors?|Haven|Heights|Hts|Highway|Hwy|Hills?|Hollow|Inlet|Island|Islands|Isle|Junctions?|Keys?|Knolls?|Lakes?|Land|Landing|Lane|Ln|Light|Lights|Loaf|Locks?|Lodge|Loop|Mall|Manors?|Meadows?|Mews|Mill|Mills|Mission|Motorway|Mount|Mountains?|Neck|Orchard|Oval|Overpass|Park|Parks|Parkway|Parkways|Pkwy|Pass|Passage|Path|Pike|Pines?|Place|Pl|Plains?|Plaza|Plz|Points?|Ports?|Prairie|Radial|Ranch|Rapids?|Rest|Ridges?|River|Road|Roads|Rd|Route|Rte|Row|Rue|Run|Shoals?|Shores?|Skyway|Springs?|Spur|Spurs|Square|Squares|Sq|Station|Stravenue|Stream|Streets?|St|Summit|Terrace|Ter|Throughway|Trace|Track|Trafficway|Trail|Trl|Trailer|Tunnel|Turnpike|Tpke|Underpass|Unions?|Valleys?|Via|Viaducts?|Views?|Village|Villages|Ville|Vista|Walks?|Wall|Way|Ways|Wells?";

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
        "transmitter",
        "sensor",
    ],
];

/// Label-anchored identifiers: (label alternation, kind).
const ANCHORS: &[(&str, PhiKind)] = &[
    (
        r"mrn|medical\s+record(?:\s+(?:number|no|num))?|med\.?\s*rec(?:ord)?(?:\s*(?:no|number))?|chart(?:\s*(?:number|no|num))?|patient\s*(?:id|number|no)|pt\.?\s*id|hospital\s*(?:number|no)",
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
        r"serial(?:\s*(?:number|no|num))?|s/n|sn|imei|udi|device\s*(?:id|serial)|implant\s*(?:id|serial)?|pacemaker\s*(?:id|serial)?|transmitter(?:\s*(?:id|serial|sn))?|sensor\s*(?:id|serial|sn)",
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
    state_zip: Regex,
    street: Regex,
    street_ci: Regex,
    po_box: Regex,
    dates: Regex,
    date_compact: Regex,
    age: Regex,
    phone_local: Regex,
    phone_trunk: Regex,
    street_eu: Regex,
    street_eu_prefix: Regex,
    eu_street_gate: aho_corasick::AhoCorasick,
    postcode_intl: Regex,
    postcode_ctx: Regex,
    udi: Regex,
    anchors: Vec<(Regex, PhiKind)>,
    anchor_gate: aho_corasick::AhoCorasick,
    anchor_gate_ids: Vec<usize>,
    lexicon: names::Lexicon,
    keys: keys::KeyVocab,
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
        // snake_case token, not as the value of a `k=v` pair (`event=encounter`) and not
        // as a whole quoted value (`kind="encounter"`).
        let ctx_patterns: Vec<String> = TEXT_CTX
            .iter()
            .map(|p| format!(r#"(?i)(?:^|[^\w.=/-])(?:{p})(?:$|[^\w.\-"'])"#))
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
        // English, German, French, Spanish, Italian, Dutch and Portuguese month names.
        let month = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|januar|februar|m[äa]rz|mai|juni|juli|okt|dez|janv|f[ée]vr?|mars|avr|juin|juil|ao[uû]t|d[ée]c|ene|abr|ago|dic|gen|mag|giu|lug|ott|maart|mei|okt|fev|out|set)[a-zéèûçñ]*\.?";
        Ok(Self {
            text_ctx,
            ssn: re(&mut n, r"\b(\d{3})([-. ])(\d{2})([-. ])(\d{4})\b")?,
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
                r"(?i)\b(?:https?|ftp|wss?)://[^\s/$.?#][^\s]*|\bwww\.[a-z0-9-]+\.[a-z]{2,}[^\s]*",
            )?,
            ipv4: re(
                &mut n,
                r"(?:^|[^0-9A-Za-z.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?:$|[^0-9A-Za-z.]|\.(?:$|[^0-9]))",
            )?,
            ipv6: re(&mut n, r"[0-9A-Za-z:.%]*:[0-9A-Za-z:.%]*:[0-9A-Za-z:.%]*")?,
            card: re(&mut n, r"\b\d(?:[ -]?\d){11,18}\b")?,
            iban: re(&mut n, r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,32}")?,
            npi: re(&mut n, r"\b[12]\d{3}[- ]?\d{3}[- ]?\d{3}\b")?,
            dea: re(&mut n, r"(?i)\b[ABCDEFGHJKLMPRSTUX][A-Z9]\d{7}\b")?,
            mbi: re(
                &mut n,
                r"(?i)\b[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y]{2}\d{2}\b",
            )?,
            zip4: re(&mut n, r"\b\d{5}-\d{4}\b")?,
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
                    r"(?i)\b(?:(?:19|20)\d{{2}}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])|(?:0?[1-9]|1[0-2])[/-](?:0?[1-9]|[12]\d|3[01])[/-](?:(?:19|20)\d{{2}}|\d{{2}})|(?:0?[1-9]|[12]\d|3[01])[/.-](?:0?[1-9]|1[0-2])[/.-](?:19|20)\d{{2}}|(?:19|20)\d{{2}}/(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])|{month}[\s./-]*\d{{1,2}}(?:st|nd|rd|th)?,?[\s./-]*(?:19|20)\d{{2}}|\d{{1,2}}(?:st|nd|rd|th|\.)?[\s./-]*(?:of\s+|de\s+)?{month},?[\s./-]*(?:de\s+)?(?:(?:19|20)\d{{2}}|\d{{2}}\b)|(?:19|20)\d{{2}}[\s./-]*{month}[\s./-]*\d{{1,2}}\b|(?:19|20)\d{{2}}\.(?:0?[1-9]|1[0-2])\.(?:0?[1-9]|[12]\d|3[01])\b|(?:0?[1-9]|[12]\d|3[01])\.\s?(?:0?[1-9]|1[0-2])\.\s?(?:19|20)\d{{2}}|(?:0?[1-9]|[12]\d|3[01])[/-](?:0?[1-9]|1[0-2])[/-]\d{{2}}\b)"
                ),
            )?,
            date_compact: re(
                &mut n,
                r"\b(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:\d{4}(?:\d{2})?)?\b",
            )?,
            age: re(
                &mut n,
                r"(?i)\b(?:age[ds]?\s*(?:[:=]|of|is)?\s*(\d{2,3})\b|(\d{2,3})\s*-?\s*(?:years?|yrs?|yr|y)\s*-?\s*old\b|(\d{2,3})\s*(?:y/o|y\.o\.?|yo|yof|yom)(?:\b|$))",
            )?,
            // Seven-digit local numbers (under a phone key, or after a contact phrase).
            phone_local: re(&mut n, r"\b[2-9]\d{2}[-. ]?\d{4}\b")?,
            // Trunk-prefixed national numbers (`030 1234567`, `06 12 34 56 78`, `07700 900123`).
            phone_trunk: re(&mut n, r"(?:\b0|\(0)\d{1,4}\)?(?:[ ./-]?\d{2,4}){2,5}\b")?,
            // European street name + number: German, Dutch, Nordic, Polish suffixes.
            street_eu: re(
                &mut n,
                r"(?i)\b[a-zà-ɏ][a-zà-ɏ'-]*(?:stra(?:ss|ß)e|str\.|weg|gasse|allee|platz|ring|damm|ufer|straat|laan|plein|gracht|kade|singel|steeg|dijk|gatan|v[äa]gen|gata|gade|vej|veien|vegen|katu|utca|ulica)\s+\d{1,4}\s?[a-z]?\b",
            )?,
            // Romance-language and Polish street prefixes: `Via Roma 10`, `Calle Mayor 5`,
            // `12 rue de la Paix`, `Rua Augusta 100`, `ul. Długa 5`.
            street_eu_prefix: re(
                &mut n,
                r"(?:\b\d{1,4}(?:\s?(?:bis|ter|[a-z]))?,?\s+(?i:rue|avenue|boulevard|bd|chemin|impasse|all[ée]e|place|quai|route|via|viale|piazza|corso|calle|avenida|rua|travessa|pra[çc]a|carrer|paseo|plaza)\s+[A-Za-zÀ-ɏ]|\b(?:Rue|Avenue|Boulevard|Chemin|Impasse|All[ée]e|Place|Quai|Via|Viale|Piazza|Corso|Largo|Vicolo|Calle|Avenida|Avda\.|Paseo|Plaza|Carrer|Rua|Travessa|Pra[çc]a|Ulica|ul\.|Aleja|al\.)\s+(?:(?:[A-ZÀ-Þ][A-Za-zà-ɏ'’.-]*|de|del|della|di|do|da|das|dos|des|du|la|le|les|los|las|van|von)\s+){1,5}\d{1,4}\b)",
            )?,
            eu_street_gate: aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(EU_STREET_WORDS)
                .map_err(|_| DetectorError::Pattern { index: n })?,
            // Postcodes with a distinctive shape: UK, Canada, Netherlands + town.
            postcode_intl: re(
                &mut n,
                r"\b(?:[A-Z]{1,2}\d[A-Z\d]?\s\d[ABD-HJLNP-UW-Z]{2}|[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\s\d[ABCEGHJ-NPRSTV-Z]\d|\d{4}\s?[A-Z]{2}\s+[A-Z][a-z]+)\b",
            )?,
            // Any postcode shape, under a postcode key or label.
            postcode_ctx: re(
                &mut n,
                r"(?i)\b(?:\d{5}-?\d{3}|\d{2}-\d{3}|\d{4,6}|\d{3}\s?\d{2,3}|\d{4}\s?[a-z]{2}|[a-z]{1,2}\d[a-z\d]?\s?\d[a-z]{2}|[a-z]\d[a-z]\s?\d[a-z]\d)\b",
            )?,
            // GS1 UDI (AI 01 GTIN-14 with lot/serial/expiry AIs), bracketed or not.
            udi: re(
                &mut n,
                r"\(01\)\d{14}|\b01\d{14}(?:1[0-7]\d{6}|10[A-Za-z0-9]{1,20}|21[A-Za-z0-9]{1,20})",
            )?,
            anchors,
            anchor_gate,
            anchor_gate_ids,
            lexicon: names::Lexicon::new(),
            keys: keys::KeyVocab::new(),
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
        // JSON embedded in a string carries `\uXXXX` escapes: scan the decoded text.
        if text.contains("\\u")
            && let Some(decoded) = unescape_json(text)
        {
            return self.scan_bits_decoded(key, &decoded);
        }
        self.scan_bits_decoded(key, text)
    }

    fn scan_bits_decoded(&self, key: Option<&str>, text: &str) -> u32 {
        let key_ctx = key.map_or(0, |k| self.keys.context(k));
        let mut found = self.scan_one(key, key_ctx, text);
        let b = text.as_bytes();
        // Keys written inside the text give their values context, as a JSON key does.
        // The key itself is never scanned as a finding here.
        if b.len() >= 3 && (memchr(b, b'=') || memchr(b, b':')) {
            let mut pending = 0u32;
            kv::for_each_pair(text, |k, v| {
                let mut c = self.keys.context(k);
                let last = k.rsplit(['.', '_', '-']).next().unwrap_or(k);
                // FHIR ContactPoint / Identifier: `"system": "phone", "value": "…"`.
                if c == 0
                    && ["value", "val", "id", "number"]
                        .iter()
                        .any(|w| last.eq_ignore_ascii_case(w))
                {
                    c = pending;
                }
                if ["system", "type", "use", "code", "kind"]
                    .iter()
                    .any(|w| last.eq_ignore_ascii_case(w))
                {
                    pending = self.keys.context(v);
                }
                if (c != 0 || key_ip_person(k)) && !v.is_empty() {
                    found |= self.scan_one(Some(k), c, v);
                }
            });
        }
        if memchr(b, b'\n') && (memchr(b, b',') || memchr(b, b'\t') || memchr(b, b';')) {
            kv::for_each_csv_cell(text, |k, v| {
                let c = self.keys.context(k);
                if c != 0 || key_ip_person(k) {
                    found |= self.scan_one(Some(k), c, v);
                }
            });
        }
        if memchr(b, b'|') {
            kv::for_each_hl7_field(text, |k, v| {
                found |= self.scan_one(Some(k), self.keys.context(k), v);
            });
        }
        found
    }

    /// Scans one string with the context its key gives (`key_ctx`).
    fn scan_one(&self, key: Option<&str>, key_ctx: u32, text: &str) -> u32 {
        let mut found = 0u32;
        let mut hit = |k: PhiKind| found |= k.bit();
        let b = text.as_bytes();
        let ndigits = b.iter().filter(|c| c.is_ascii_digit()).count();
        let has_alpha = b.iter().any(u8::is_ascii_alphabetic);
        let ascii = text.is_ascii();
        let mut ctx = key_ctx;
        // Context only matters for kinds that need digits.
        if has_alpha && ndigits >= 2 {
            for i in self.text_ctx.matches(text).iter() {
                ctx |= TEXT_CTX_FLAGS.get(i).copied().unwrap_or(0);
            }
        }

        if memchr(b, b'@')
            && self.email.find_iter(text).any(|m| {
                // `scheme://user@host` is a URL's userinfo (a service account in a DSN),
                // not a mailbox.
                !text.get(..m.start()).is_some_and(|p| p.ends_with("://"))
            })
        {
            hit(PhiKind::Email);
        }
        if text.contains("://") || text.contains("www.") || text.contains("WWW.") {
            let person_key = key.is_some_and(|k| self.keys.person_key(k));
            for m in self.url.find_iter(text) {
                let u = m
                    .as_str()
                    .trim_end_matches(['"', '\'', ')', ',', ';', '>', ']', '}']);
                if net::is_terminology(u) {
                    continue;
                }
                let query_key = |k: &str| self.keys.context(k) != 0;
                if person_key || net::url_identifies(u, &query_key) {
                    hit(PhiKind::Url);
                }
            }
        }
        if (memchr(b, b'/') || memchr(b, b'\\')) && net::home_dir_user(text) {
            hit(PhiKind::Url);
        }
        if ndigits > 0 && memchr(b, b':') && self.ipv6_hit(key, text) {
            hit(PhiKind::IpAddress);
        }

        if ndigits >= 1 {
            self.numeric(key, text, ctx, key_ctx, ndigits, &mut hit);
        }

        if has_alpha || !ascii {
            if (ctx & C_ADDR != 0 && self.street_ci.is_match(text))
                || (ndigits > 0
                    && memchr(b, b' ')
                    && (self.street.is_match(text)
                        || (self.eu_street_gate.is_match(text)
                            && (self.street_eu.is_match(text)
                                || self.street_eu_prefix.is_match(text)))))
                || self.po_box.is_match(text)
                || (key_ctx & C_ADDR != 0 && address_value(text))
            {
                hit(PhiKind::StreetAddress);
            }
            if !ascii && non_latin_letters(text) >= 2 {
                // Machine metadata is ASCII vocabulary: letters of another script are
                // treated as a person's name (fail closed).
                hit(PhiKind::PersonName);
            }
            let name_key = key_ctx & C_NAME != 0;
            // Host names of URLs (company domains such as `smith-jones.com`) are not
            // read as names; paths and query strings are.
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
            if named || (key_ctx & ctx::C_PNAME != 0 && name_value(text)) {
                hit(PhiKind::PersonName);
            }
        }
        found
    }

    fn numeric(
        &self,
        key: Option<&str>,
        text: &str,
        ctx: u32,
        key_ctx: u32,
        ndigits: usize,
        hit: &mut impl FnMut(PhiKind),
    ) {
        let b = text.as_bytes();
        // SSN
        for c in self.ssn.captures_iter(text).take_while(|_| ndigits >= 9) {
            let same_sep = c.get(2).map(|m| m.as_str()) == c.get(4).map(|m| m.as_str());
            let whole = c.get(0).map_or("", |m| m.as_str());
            // A dotted form must not be part of a longer dotted run (versions, OIDs).
            let dotted_run = whole.contains('.') && dotted_neighbour(text, c.get(0));
            if same_sep && !dotted_run && checks::ssn_digits_valid(whole) {
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
        if ctx & C_PHONE != 0 && ndigits >= 7 {
            // Under a phone key the whole value is a number in any national layout;
            // after a contact word, a local or trunk-prefixed number.
            if key_ctx & C_PHONE != 0 && phone_value(text) {
                hit(PhiKind::Phone);
            }
            for m in self.phone_local.find_iter(text) {
                let sep = m.as_str().bytes().any(|c| !c.is_ascii_digit());
                if (key_ctx & C_PHONE != 0 || sep) && !dotted_neighbour(text, Some(m)) {
                    hit(PhiKind::Phone);
                }
            }
            for m in self.phone_trunk.find_iter(text) {
                let n = checks::digits(m.as_str()).count();
                if (8..=13).contains(&n) && !dotted_neighbour(text, Some(m)) {
                    hit(PhiKind::Phone);
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
        if ndigits >= 5 {
            // ZIP+4, but not the first two parts of an NDC drug code (5-4-2, 5-4-1).
            let ndc = ctx_word(text, "ndc");
            if !ndc
                && self
                    .zip4
                    .find_iter(text)
                    .any(|m| !dash_neighbour(text, m.start(), m.end()))
            {
                hit(PhiKind::ZipCode);
            }
            if self.state_zip.is_match(text) {
                hit(PhiKind::ZipCode);
            }
        }
        // A postcode shape that is part of a dash-joined number run (a date such as
        // `2026-01-02`, a timestamp) is not a postcode, even next to a postcode key.
        if ctx & C_ZIP != 0
            && ndigits >= 3
            && self
                .postcode_ctx
                .find_iter(text)
                .any(|m| !dash_neighbour(text, m.start(), m.end()))
        {
            hit(PhiKind::ZipCode);
        }
        if ndigits >= 2 && self.postcode_intl.is_match(text) {
            hit(PhiKind::ZipCode);
        }
        // GS1 UDI strings.
        if ndigits >= 16 && self.udi.is_match(text) {
            hit(PhiKind::DeviceSerial);
        }
        // IPv4
        if ndigits >= 4 && b.iter().filter(|c| **c == b'.').count() >= 3 {
            for c in self.ipv4.captures_iter(text) {
                if let Some(m) = c.get(1)
                    && let Ok(ip) = m.as_str().parse::<std::net::Ipv4Addr>()
                    && ip_reported(key, text, m.start(), m.end(), ip.into())
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
                // A capture cut short by its length limit is part of a longer token
                // (a ULID, a digest): not an identifier of this kind.
                if let Some(m) = c.get(1)
                    && !b.get(m.end()).is_some_and(u8::is_ascii_alphanumeric)
                {
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
            let t = text.trim();
            let head = t.split_whitespace().next().unwrap_or("");
            if key_ctx & flag != 0 && (anchored_value_ok(kind, t) || anchored_value_ok(kind, head))
            {
                hit(kind);
            }
        }
    }

    /// `text` with the host part of every URL blanked (same length).
    fn mask_hosts(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for m in self.url.find_iter(text) {
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
        self.ipv6.find_iter(text).any(|m| {
            let s = m.as_str().trim_end_matches('.');
            let s = s.split('%').next().unwrap_or("");
            let s = s.trim_start_matches('[').trim_end_matches(']');
            s.len() >= 3
                && s.contains("::") | (s.matches(':').count() >= 7)
                && (s.bytes().any(|c| c.is_ascii_digit()) || s.len() >= 10)
                && s.parse::<std::net::Ipv6Addr>()
                    .is_ok_and(|ip| ip_reported(key, text, m.start(), m.end(), ip.into()))
        })
    }
}

fn memchr(b: &[u8], c: u8) -> bool {
    b.contains(&c)
}

/// True when the match is glued to a longer dotted or dashed number run (`1.2.3.4567`,
/// version strings, OIDs), which is not a phone or SSN.
fn dotted_neighbour(text: &str, m: Option<regex::Match<'_>>) -> bool {
    let Some(m) = m else { return false };
    let b = text.as_bytes();
    let before = m.start().checked_sub(2).and_then(|i| b.get(i..m.start()));
    let after = b.get(m.end()..m.end().saturating_add(2).min(b.len()));
    let glued = |s: Option<&[u8]>, sep_first: bool| {
        s.is_some_and(|s| match s {
            [x, y] if sep_first => matches!(x, b'.' | b'-' | b':' | b'/') && y.is_ascii_digit(),
            [x, y] => x.is_ascii_digit() && matches!(y, b'.' | b'-' | b':' | b'/'),
            _ => false,
        })
    };
    glued(before, false) || glued(after, true)
}

/// True when `start..end` continues with `-d` or follows `d-` (an NDC's third part).
fn dash_neighbour(text: &str, start: usize, end: usize) -> bool {
    let b = text.as_bytes();
    let after = b.get(end) == Some(&b'-') && b.get(end + 1).is_some_and(u8::is_ascii_digit);
    let before = start >= 2
        && b.get(start - 1) == Some(&b'-')
        && b.get(start - 2).is_some_and(u8::is_ascii_digit);
    after || before
}

/// True when `word` occurs in `text` as a word of its own (ASCII case-insensitive).
fn ctx_word(text: &str, word: &str) -> bool {
    let b = text.as_bytes();
    let w = word.as_bytes();
    b.windows(w.len()).enumerate().any(|(i, win)| {
        win.eq_ignore_ascii_case(w)
            && !i
                .checked_sub(1)
                .and_then(|j| b.get(j))
                .is_some_and(u8::is_ascii_alphanumeric)
            && !b.get(i + w.len()).is_some_and(u8::is_ascii_alphanumeric)
    })
}

/// A whole value that is a telephone number in any national layout: 7–15 digits and only
/// phone punctuation (`+ ( ) - . / space`, an extension).
fn phone_value(text: &str) -> bool {
    let t = text.trim();
    let main = t
        .to_ascii_lowercase()
        .split(['x', 'e'])
        .next()
        .unwrap_or("")
        .to_owned();
    let n = main.bytes().filter(u8::is_ascii_digit).count();
    (7..=15).contains(&n)
        && main.bytes().all(|c| {
            c.is_ascii_digit() || matches!(c, b'+' | b'(' | b')' | b'-' | b'.' | b'/' | b' ')
        })
        && !checks::is_opaque_id(t)
}

/// Decodes `\uXXXX` escapes (with surrogate pairs) and `\"`; `None` when there are none.
fn unescape_json(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    let mut changed = false;
    let hex4 = |at: usize| {
        text.get(at..at + 4)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    while let Some((i, c)) = chars.next() {
        if c == '\\'
            && text.get(i + 1..i + 2) == Some("u")
            && let Some(u) = hex4(i + 2)
        {
            let mut code = u;
            let mut used = 6;
            if (0xD800..0xDC00).contains(&u)
                && text.get(i + 6..i + 8) == Some("\\u")
                && let Some(lo) = hex4(i + 8)
                && (0xDC00..0xE000).contains(&lo)
            {
                code = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                used = 12;
            }
            out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
            for _ in 1..used {
                chars.next();
            }
            changed = true;
        } else {
            out.push(c);
        }
    }
    changed.then_some(out)
}

/// A whole value under a person-name key: one to four words of letters (apostrophes,
/// hyphens, periods, a comma), at least one capitalised. The key says it is a name, so no
/// lexicon is needed; lowercase machine words (`web`, `default`) stay clean.
fn name_value(text: &str) -> bool {
    let t = text.trim();
    let words: Vec<&str> = t.split([' ', ',', '^']).filter(|w| !w.is_empty()).collect();
    !words.is_empty()
        && words.len() <= 5
        && t.chars().all(|c| {
            c.is_alphabetic() || matches!(c, ' ' | '\'' | '-' | '.' | ',' | '^' | '\u{2019}')
        })
        && words.iter().any(|w| {
            let mut cs = w.chars();
            cs.next().is_some_and(char::is_uppercase)
                && cs.clone().any(char::is_alphabetic)
                && w.chars().filter(|c| c.is_alphabetic()).count() >= 2
        })
}

/// A whole value under an address key: words and a house number.
fn address_value(text: &str) -> bool {
    let t = text.trim();
    let has_digit = t.bytes().any(|c| c.is_ascii_digit());
    let has_word = t
        .split(|c: char| !c.is_alphabetic())
        .any(|w| w.chars().count() >= 3);
    let words: Vec<&str> = t.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    // Without a house number: two or more words, letters only, one capitalised
    // (`Colônia Vieira`, `Passarela Alexandre Ribeiro`).
    let named_place = words.len() >= 2
        && t.chars()
            .all(|c| c.is_alphabetic() || matches!(c, ' ' | ',' | '\'' | '-' | '.'))
        && words
            .iter()
            .any(|w| w.chars().next().is_some_and(char::is_uppercase));
    (has_digit && has_word && t.contains([' ', ',']) && t.len() >= 6 && !checks::is_opaque_id(t))
        || named_place
}

/// Letters of scripts other than Latin (Cyrillic, Greek, Arabic, Hebrew, CJK, Hangul,
/// Devanagari, Thai…).
fn non_latin_letters(text: &str) -> usize {
    text.chars()
        .filter(|c| {
            let u = u32::from(*c);
            c.is_alphabetic() && u >= 0x0370 && !(0x1E00..=0x1EFF).contains(&u) && u != 0x03BC
        })
        .count()
}

/// Words that give an IP literal a person's or device's role, and words that make it part
/// of the service's network plan.
const IP_PERSON_WORDS: &[&str] = &[
    "patient",
    "pt",
    "device",
    "home",
    "client",
    "remote",
    "caller",
    "user",
    "subscriber",
    "member",
    "wearable",
    "pump",
    "monitor",
    "cgm",
    "pacemaker",
    "implant",
    "mobile",
    "phone",
    "forwarded",
    "xff",
    "visitor",
    "customer",
    "browser",
    "sensor",
    "transmitter",
    "glucose",
];
const IP_INFRA_WORDS: &[&str] = &[
    "server",
    "upstream",
    "host",
    "node",
    "pod",
    "service",
    "svc",
    "dns",
    "nameserver",
    "resolver",
    "gateway",
    "gw",
    "proxy",
    "lb",
    "loadbalancer",
    "endpoint",
    "peer",
    "listen",
    "bind",
    "cidr",
    "subnet",
    "route",
    "egress",
    "ingress",
    "nat",
    "vip",
    "cluster",
    "backend",
    "target",
    "dst",
    "dest",
    "destination",
    "internal",
    "private",
    "network",
    "net",
    "vpc",
    "allow",
    "allowlist",
    "whitelist",
    "range",
    "ranges",
    "mask",
    "netmask",
    "broker",
    "db",
    "database",
    "redis",
    "kafka",
    "etcd",
    "api",
    "apiserver",
    "kubelet",
    "container",
    "docker",
    "interface",
    "eth",
    "router",
    "ntp",
    "smtp",
    "registry",
    "mirror",
    "replica",
    "primary",
    "leader",
    "follower",
    "master",
    "worker",
    "instance",
    "vm",
    "cloud",
    "tailscale",
    "wireguard",
];

/// True when a key names a person's or device's address (`home_ip`, `client.address`).
fn key_ip_person(key: &str) -> bool {
    keys::key_tokens(key)
        .iter()
        .any(|t| IP_PERSON_WORDS.contains(&t.as_str()))
}

/// Decides whether an IP literal at `start..end` is reported (see [`net`]).
fn ip_reported(
    key: Option<&str>,
    text: &str,
    start: usize,
    end: usize,
    ip: std::net::IpAddr,
) -> bool {
    // CIDR notation is a network, not a host.
    let b = text.as_bytes();
    if b.get(end) == Some(&b'/') && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let mut from = start.saturating_sub(48);
    while from > 0 && !text.is_char_boundary(from) {
        from -= 1;
    }
    let window = text.get(from..start).unwrap_or("");
    // A person or device word anywhere before it (or in the key) wins (`home router`);
    // otherwise an infrastructure word makes it part of the network plan.
    let mut role = 0i8;
    for src in [key.unwrap_or(""), window] {
        for t in keys::key_tokens(src) {
            if IP_PERSON_WORDS.contains(&t.as_str()) {
                role = 1;
            } else if role == 0 && IP_INFRA_WORDS.contains(&t.as_str()) {
                role = -1;
            }
        }
    }
    if net::is_infra_ip(ip) {
        // A private address with no words around it at all has an unknown role: fail
        // closed.
        let alone = key.is_none()
            && !text
                .get(..start)
                .into_iter()
                .chain(text.get(end..))
                .any(|s| s.bytes().any(|c| c.is_ascii_alphabetic()));
        role > 0 || (role == 0 && alone)
    } else {
        role >= 0
    }
}

/// Validates the value captured after a label (or the whole value under a context key).
fn anchored_value_ok(kind: PhiKind, v: &str) -> bool {
    let v = v.trim();
    if v.is_empty() || checks::is_opaque_id(v) {
        return false;
    }
    let core: String = v
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '.' | '/'))
        .map(|c| if c == '*' { 'X' } else { c })
        .collect();
    if !core.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let digits = core.bytes().filter(u8::is_ascii_digit).count();
    let letters = core.len() - digits;
    let len = core.len();
    match kind {
        PhiKind::Mrn => (5..=12).contains(&digits) && letters <= 4,
        PhiKind::HealthPlanId => (6..=20).contains(&len) && digits >= 4 && letters <= 8,
        PhiKind::AccountNumber => letters <= 4 && (6..=20).contains(&digits),
        PhiKind::DriversLicense => (5..=18).contains(&len) && digits >= 2,
        PhiKind::LicensePlate => (4..=9).contains(&len) && digits >= 1,
        PhiKind::DeviceSerial => (5..=30).contains(&len) && digits >= 2,
        _ => false,
    }
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
