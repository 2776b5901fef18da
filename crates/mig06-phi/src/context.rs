//! Context: what the surroundings of a value tell the detector.
//!
//! Identifiers without a checksum (an MRN, a plan id, a bare nine-digit SSN) are only
//! reported when something says what they are: the JSON key the value sits under (see
//! [`crate::keys`]), a key written inside the text (see [`crate::kv`]) or a label word in
//! the free text. All three reduce to the same bit set of context flags, so a rule such as
//! "nine digits are an SSN only with SSN context" is written once, whatever the source of
//! the context. A label word counts only as a word of its own, because machine metadata
//! is full of label words inside identifiers (`event=encounter`, `plan-id-cache`).

use crate::patterns::{Compiler, DetectorError, PatSet, ascii_classes};

/// Social Security (or another national tax) number context.
pub(crate) const C_SSN: u32 = 1;
/// Telephone context.
pub(crate) const C_PHONE: u32 = 1 << 1;
/// A date that belongs to a person (birth, admission, death, service).
pub(crate) const C_PDATE: u32 = 1 << 2;
/// Age context.
pub(crate) const C_AGE: u32 = 1 << 3;
/// Medical record number context.
pub(crate) const C_MRN: u32 = 1 << 4;
/// Health plan / member id context.
pub(crate) const C_PLAN: u32 = 1 << 5;
/// Bank account context.
pub(crate) const C_ACCT: u32 = 1 << 6;
/// National Provider Identifier context (also lets a lowercase DEA number count).
pub(crate) const C_NPI: u32 = 1 << 7;
/// Medicare Beneficiary Identifier context.
pub(crate) const C_MBI: u32 = 1 << 8;
/// Driver's licence context.
pub(crate) const C_DL: u32 = 1 << 9;
/// Vehicle plate context.
pub(crate) const C_PLATE: u32 = 1 << 10;
/// Device serial context.
pub(crate) const C_SERIAL: u32 = 1 << 11;
/// Postcode context.
pub(crate) const C_ZIP: u32 = 1 << 12;
/// Street address context.
pub(crate) const C_ADDR: u32 = 1 << 13;
/// Person name context (including the bare `name` key).
pub(crate) const C_NAME: u32 = 1 << 14;
/// A key that names a person's name explicitly (`family`, `patient_name`), not the
/// bare `name` that FHIR also uses for organisations, locations and medications.
pub(crate) const C_PNAME: u32 = 1 << 15;

/// Passport context.
pub(crate) const C_PASSPORT: u32 = 1 << 16;
/// Encounter / visit / case number context.
pub(crate) const C_ENC: u32 = 1 << 17;
/// Biometric or photograph identifier context.
pub(crate) const C_BIO: u32 = 1 << 18;
/// Vehicle identification number context.
pub(crate) const C_VIN: u32 = 1 << 19;
/// Geographic coordinates context (a home, a position).
pub(crate) const C_GEO: u32 = 1 << 20;

/// Label words in free text and the context they give.
struct TextLabel {
    /// The context flag the words give.
    flag: u32,
    /// Regex alternation of the label words (matched case-insensitively).
    words: &'static str,
}

/// Label words in free text, one entry per context they give.
const TEXT_LABELS: &[TextLabel] = &[
    TextLabel {
        flag: C_SSN,
        words: r"ssn|ss#|ssa|social\s+security|soc\.?\s*sec|itin|tin|sin|nino|national\s+insurance|social\s+insurance|tax\s+id",
    },
    TextLabel {
        flag: C_PHONE,
        words: r"phone|tel|telephone|mobile|cell|fax|call|called|calling|pager|contact|contacted|ph|sms|text|texted|reach|reached|reachable|voicemail|whatsapp|handy|t[ée]l[ée]fono|telefon|t[ée]l[ée]phone|tfn|mob|cel",
    },
    TextLabel {
        flag: C_PDATE,
        words: r"dob|d\.o\.b|born|birth|birthday|birthdate|date\s+of\s+birth|geb\.|geboren|geburtsdatum|n[ée]e?|nacid[oa]|naissance|nascita|admit|admitted|admission|readmitted|discharged?|discharging|died|death|deceased|expired|dod|dos|date\s+of\s+service|service\s+date|visit(?:ed)?|seen|encounter|surgery|procedure|appointment|appt",
    },
    TextLabel {
        flag: C_AGE,
        words: r"age[ds]?",
    },
    TextLabel {
        flag: C_MRN,
        words: r"mrn|medical\s+record|med\.?\s*rec|chart|patient\s+(?:id|number|no)",
    },
    TextLabel {
        flag: C_PLAN,
        words: r"member|subscriber|health\s+plan|insurance|insurer|beneficiary|medicaid|hicn|policy\s+(?:no|number)|group\s+(?:no|number)",
    },
    TextLabel {
        flag: C_ACCT,
        words: r"account|acct|a/c|routing|bank",
    },
    TextLabel {
        flag: C_NPI,
        words: r"npi|national\s+provider",
    },
    TextLabel {
        flag: C_MBI,
        words: r"mbi|medicare",
    },
    TextLabel {
        flag: C_DL,
        words: r"driver'?s?\s+licen[cs]e|driving\s+licen[cs]e|dl|dln|licen[cs]e\s+(?:no|number|#)",
    },
    TextLabel {
        flag: C_PLATE,
        words: r"plate|vehicle|tag\s+(?:no|number|#)",
    },
    TextLabel {
        flag: C_SERIAL,
        words: r"serial|s/n|sn|imei|udi|device\s+(?:id|serial)|implant|pacemaker|transmitter|sensor|pump",
    },
    TextLabel {
        flag: C_ZIP,
        words: r"zip|zipcode|zip\s+code|postal|postcode|plz|code\s+postal",
    },
    TextLabel {
        flag: C_ADDR,
        words: r"address|addr|street|residence|lives\s+at|home|adresse|anschrift|direcci[oó]n|indirizzo",
    },
];

/// Label words added by issue 23 (national ids, passports, VINs, positions). They run as
/// a second set only when one of [`EXTRA_GATE`]'s substrings occurs, so the common scan
/// keeps the smaller set of [`TEXT_LABELS`].
const TEXT_LABELS_EXTRA: &[TextLabel] = &[
    TextLabel {
        flag: C_SSN,
        words: r"ein|fein|employer\s+id(?:entification)?(?:\s+number)?|national\s+id(?:entity)?|id\s+card|identity\s+(?:card|number)|nhs(?:\s+(?:no|number))?|bsn|burgerservicenummer|sofinummer|pesel|dni|nie|nif|codice\s+fiscale|steuer-?id(?:nr)?|steuer-?identifikationsnummer|(?:steuerliche\s+)?identifikationsnummer|idnr|nir|insee|s[ée]curit[ée]\s+sociale|cpf|aadhaar|aadhar|uidai|t\.?c\.?\s+kimlik(?:\s+no)?|kimlik|personnummer|cpr|rrn|resident\s+(?:id|registration)",
    },
    TextLabel {
        flag: C_PASSPORT,
        words: r"passport(?:\s+(?:no|number|#))?|reisepass|passeport|pasaporte|passaporto|paspoort|paszport",
    },
    TextLabel {
        flag: C_VIN,
        words: r"vin|vehicle\s+identification(?:\s+number)?|chassis(?:\s+(?:no|number))?",
    },
    TextLabel {
        flag: C_GEO,
        words: r"lat|latitude|lon|lng|long|longitude|gps|geo|geolocation|coordinates|coords|location|lives|home|residence|address",
    },
];

/// Substrings (ASCII case-insensitive) one of which must occur before
/// [`TEXT_LABELS_EXTRA`] runs.
const EXTRA_GATE: &[&str] = &[
    "ein",
    "employer",
    "national",
    "id card",
    "identity",
    "nhs",
    "bsn",
    "burgerservice",
    "sofinummer",
    "pesel",
    "dni",
    "nie",
    "nif",
    "codice",
    "steuer",
    "identifikationsnummer",
    "idnr",
    "nir",
    "insee",
    "curit",
    "cpf",
    "aadha",
    "uidai",
    "kimlik",
    "personnummer",
    "cpr",
    "rrn",
    "resident",
    "passport",
    "reisepass",
    "passeport",
    "pasaporte",
    "passaporto",
    "paspoort",
    "paszport",
    "vin",
    "vehicle",
    "chassis",
    "lat",
    "lon",
    "lng",
    "gps",
    "geo",
    "coord",
    "location",
    "lives",
    "home",
    "residence",
    "address",
];

/// Label words written in other scripts, matched only in non-ASCII text (a separate
/// small set, so that the common ASCII scan does not carry them).
const TEXT_LABELS_NON_ASCII: &[TextLabel] = &[
    TextLabel {
        flag: C_SSN,
        words: r"身份证|주민등록번호|個人番号|マイナンバー|снилс|инн|ідентифікаційний",
    },
    TextLabel {
        flag: C_PASSPORT,
        words: r"паспорт|护照|여권|旅券|パスポート",
    },
];

/// The compiled label words.
pub(crate) struct TextContext {
    labels: PatSet,
    /// [`TEXT_LABELS_EXTRA`] and its gate.
    labels_extra: PatSet,
    extra_gate: aho_corasick::AhoCorasick,
    /// [`TEXT_LABELS_NON_ASCII`], as substrings (these scripts have no word spaces).
    labels_non_ascii: PatSet,
}

impl TextContext {
    /// Compiles the label words.
    ///
    /// # Errors
    /// `Pattern` if a label alternation fails to compile.
    pub(crate) fn new(compiler: &mut Compiler) -> Result<Self, DetectorError> {
        // A label word counts only as a word of its own: not inside a dotted, dashed or
        // snake_case token, not as the value of a `k=v` pair (`event=encounter`) and not
        // as a whole quoted value (`kind="encounter"`).
        let own_word = |label: &TextLabel| {
            let p = label.words;
            format!(r#"(?i)(?:^|[^\w.=/-])(?:{p})(?:$|[^\w.\-"'])"#)
        };
        // The same for ASCII text: the negated classes written as the ASCII characters
        // they match (`[^\w.=/-]` and `[^\w.\-"']` over ASCII), and the words' classes
        // without their non-ASCII members (`t[ée]l` reads `t[e]l` on ASCII text).
        let own_word_ascii = |label: &TextLabel| {
            let p = ascii_classes(label.words).unwrap_or_else(|| label.words.to_owned());
            format!(
                r#"(?i)(?:^|[\x00-\x2C\x3A-\x3C\x3E-\x40\x5B-\x5E\x60\x7B-\x7F])(?:{p})(?:$|[\x00-\x21\x23-\x26\x28-\x2C\x2F\x3A-\x40\x5B-\x5E\x60\x7B-\x7F])"#
            )
        };
        Ok(Self {
            labels: compiler.set_twin(
                TEXT_LABELS.iter().map(own_word),
                TEXT_LABELS.iter().map(own_word_ascii),
            )?,
            labels_extra: compiler.set_twin(
                TEXT_LABELS_EXTRA.iter().map(own_word),
                TEXT_LABELS_EXTRA.iter().map(own_word_ascii),
            )?,
            extra_gate: compiler.gate(EXTRA_GATE)?,
            labels_non_ascii: compiler.set(
                TEXT_LABELS_NON_ASCII
                    .iter()
                    .map(|l| format!("(?i)(?:{})", l.words)),
            )?,
        })
    }

    /// Context flags the label words in `text` give.
    pub(crate) fn flags(&self, text: &str) -> u32 {
        let ascii = self
            .labels
            .matches(text)
            .iter()
            .filter_map(|i| TEXT_LABELS.get(i))
            .fold(0, |c, label| c | label.flag);
        let ascii = if self.extra_gate.is_match(text) {
            self.labels_extra
                .matches(text)
                .iter()
                .filter_map(|i| TEXT_LABELS_EXTRA.get(i))
                .fold(ascii, |c, label| c | label.flag)
        } else {
            ascii
        };
        if text.is_ascii() {
            return ascii;
        }
        self.labels_non_ascii
            .matches(text)
            .iter()
            .filter_map(|i| TEXT_LABELS_NON_ASCII.get(i))
            .fold(ascii, |c, label| c | label.flag)
    }
}

/// True when `word` occurs in `text` as a word of its own (ASCII case-insensitive).
pub(crate) fn has_word(text: &str, word: &str) -> bool {
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
