//! Key vocabulary: which context a key gives its value.
//!
//! A key (JSON key, `k=v` key, dotted attribute path, HL7 field name) is split into
//! lowercase tokens (separators, camelCase, digits dropped). Every run of adjacent tokens
//! is joined without separators and looked up in the vocabulary of `data/keys.txt`, as
//! is, and after peeling known prefixes (`patient`, `pt`, `home`…) and suffixes (`no`,
//! `num`, `id`, `date`…). So `pt_home_phone_no`, `patientHomePhoneNumber` and
//! `args.home-phone` all reach `phone`. Keys naming the service's own infrastructure
//! (`service.*`, `host.*`, `k8s.*`…) cancel the identity contexts.

use std::collections::{HashMap, HashSet};

use crate::names::FnvBuild;

use crate::context::{
    C_ACCT, C_ADDR, C_AGE, C_BIO, C_DL, C_ENC, C_GEO, C_MBI, C_MRN, C_NAME, C_NPI, C_PASSPORT,
    C_PDATE, C_PHONE, C_PLAN, C_PLATE, C_PNAME, C_SERIAL, C_SSN, C_VIN, C_ZIP,
};

const KEYS: &str = include_str!("../data/keys.txt");

/// Words after which a bare `name` token is a person's name (`pt_name`, `user.name`).
const PERSON_PREFIX: &[&str] = &[
    "patient",
    "pt",
    "pat",
    "member",
    "mbr",
    "subscriber",
    "insured",
    "guarantor",
    "guardian",
    "mother",
    "father",
    "spouse",
    "partner",
    "kin",
    "nok",
    "contact",
    "emergency",
    "person",
    "customer",
    "cust",
    "client",
    "user",
    "provider",
    "prov",
    "first",
    "last",
    "full",
    "given",
    "family",
    "middle",
    "maiden",
    "dependent",
    "beneficiary",
    "policyholder",
    "caller",
    "pcp",
    "attending",
    "referring",
    "ordering",
    "rendering",
    "doctor",
    "physician",
    "nurse",
    "employee",
    "emp",
    "owner",
    "holder",
    "cardholder",
    "account",
    "acct",
    "author",
    "signer",
    "witness",
    "sender",
    "recipient",
    "practitioner",
    "performer",
    "requester",
];

/// Words that keep a key about a person even next to an infrastructure word
/// (`k8s.patient.mrn`).
const PERSON_WORDS: &[&str] = &[
    "patient",
    "pt",
    "pat",
    "member",
    "mbr",
    "subscriber",
    "insured",
    "guarantor",
    "guardian",
    "kin",
    "nok",
    "person",
    "beneficiary",
    "dependent",
    "customer",
    "cust",
    "policyholder",
];

/// The compiled key vocabulary.
pub(crate) struct KeyVocab {
    words: HashMap<String, u32, FnvBuild>,
    prefixes: HashSet<String, FnvBuild>,
    suffixes: HashSet<String, FnvBuild>,
    infra: HashSet<String, FnvBuild>,
}

impl std::fmt::Debug for KeyVocab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVocab")
            .field("words", &self.words.len())
            .finish_non_exhaustive()
    }
}

fn flag_of(name: &str) -> u32 {
    match name {
        "ssn" => C_SSN,
        "phone" => C_PHONE,
        "pdate" => C_PDATE,
        "age" => C_AGE,
        "mrn" => C_MRN,
        "plan" => C_PLAN,
        "acct" => C_ACCT,
        "npi" => C_NPI,
        "mbi" => C_MBI,
        "dl" => C_DL,
        "plate" => C_PLATE,
        "serial" => C_SERIAL,
        "zip" => C_ZIP,
        "addr" => C_ADDR,
        "name" => C_NAME,
        "passport" => C_PASSPORT,
        "enc" => C_ENC,
        "bio" => C_BIO,
        "vin" => C_VIN,
        "geo" => C_GEO,
        _ => 0,
    }
}

/// Splits a key into lowercase word tokens (separators and camelCase; digits dropped).
pub(crate) fn key_tokens(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if c.is_ascii_alphabetic() {
            if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = c.is_ascii_lowercase();
            cur.push(c.to_ascii_lowercase());
        } else if c.is_ascii_digit() {
            prev_lower = true;
        } else if c == '\'' {
            // driver's -> drivers
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

impl KeyVocab {
    pub(crate) fn new() -> Self {
        let mut words: HashMap<String, u32, FnvBuild> = HashMap::default();
        let mut prefixes: HashSet<String, FnvBuild> = HashSet::default();
        let mut suffixes: HashSet<String, FnvBuild> = HashSet::default();
        let mut infra: HashSet<String, FnvBuild> = HashSet::default();
        for line in KEYS.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut it = line.split_whitespace();
            let Some(head) = it.next() else { continue };
            match head {
                "prefix" => prefixes.extend(it.map(str::to_owned)),
                "suffix" => suffixes.extend(it.map(str::to_owned)),
                "infra" => infra.extend(it.map(str::to_owned)),
                _ => {
                    let f = flag_of(head);
                    for w in it {
                        *words.entry(w.to_owned()).or_insert(0) |= f;
                    }
                }
            }
        }
        Self {
            words,
            prefixes,
            suffixes,
            infra,
        }
    }

    fn lookup(&self, w: &str) -> u32 {
        self.words.get(w).copied().unwrap_or(0)
    }

    /// Looks `w` up as is and after peeling up to two prefixes and two suffixes.
    fn lookup_peeled(&self, w: &str) -> u32 {
        let mut c = 0u32;
        let mut heads: [&str; 3] = [w, "", ""];
        // Prefixes: the longest known prefix at each step (`pthomephone` -> `homephone`
        // -> `phone`).
        for i in 1..3 {
            let prev = heads.get(i - 1).copied().unwrap_or("");
            let next = (2..prev.len().saturating_sub(1).min(16))
                .rev()
                .filter_map(|n| prev.get(..n).zip(prev.get(n..)))
                .find(|(p, _)| self.prefixes.contains(*p))
                .map_or("", |(_, rest)| rest);
            if let Some(slot) = heads.get_mut(i) {
                *slot = next;
            }
        }
        for h in heads.iter().filter(|h| h.len() >= 2) {
            c |= self.lookup(h);
            let mut tail = *h;
            for _ in 0..2 {
                let cut = (2..tail.len().saturating_sub(1).min(12))
                    .rev()
                    .filter_map(|n| tail.get(tail.len().saturating_sub(n)..).map(|s| (n, s)))
                    .find(|(_, s)| self.suffixes.contains(*s));
                let Some((n, _)) = cut else { break };
                tail = tail.get(..tail.len().saturating_sub(n)).unwrap_or("");
                c |= self.lookup(tail);
            }
        }
        c
    }

    /// True when the key names a person's own resource (a URL under it is reported).
    pub(crate) fn person_key(&self, key: &str) -> bool {
        key_tokens(key).iter().any(|t| {
            matches!(
                t.as_str(),
                "patient"
                    | "pt"
                    | "member"
                    | "subscriber"
                    | "insured"
                    | "person"
                    | "guarantor"
                    | "guardian"
                    | "kin"
                    | "nok"
                    | "spouse"
                    | "mother"
                    | "father"
                    | "beneficiary"
                    | "dependent"
                    | "home"
                    | "profile"
                    | "photo"
                    | "avatar"
                    | "homepage"
            )
        }) || self.context(key) & C_NAME != 0
    }

    /// Context flags a key gives its value.
    pub(crate) fn context(&self, key: &str) -> u32 {
        let toks = key_tokens(key);
        if toks.is_empty() {
            return 0;
        }
        // Long dotted paths: only the last six tokens matter.
        let toks = toks.get(toks.len().saturating_sub(6)..).unwrap_or(&[]);
        let (mut c, mut strong) = self.vocabulary_flags(toks);
        let combined = combination_flags(toks);
        c |= combined;
        strong |= combined & C_PDATE;
        c |= name_flags(toks, c);
        let person = toks.iter().any(|t| PERSON_WORDS.contains(&t.as_str()));
        if !person && toks.iter().any(|t| self.infra.contains(t)) {
            c = strong;
        }
        c
    }

    /// Flags of every run of up to four adjacent tokens looked up in the vocabulary, and
    /// the person-date flag of runs of two or more tokens (`service_date`), which are
    /// specific enough to survive an infrastructure word in the same key.
    fn vocabulary_flags(&self, toks: &[String]) -> (u32, u32) {
        let (mut c, mut strong) = (0u32, 0u32);
        // One buffer for every run (no allocation per start token).
        let mut joined = String::with_capacity(64);
        for i in 0..toks.len() {
            joined.clear();
            for (n, t) in toks.iter().skip(i).take(4).enumerate() {
                joined.push_str(t);
                let f = self.lookup_peeled(&joined);
                c |= f;
                if n > 0 {
                    strong |= f & C_PDATE;
                }
            }
        }
        (c, strong)
    }
}

/// Flags given by combinations of general words (`birth` + `date`, `license` + `number`).
fn combination_flags(toks: &[String]) -> u32 {
    let has = |w: &str| toks.iter().any(|t| t == w);
    let any = |ws: &[&str]| ws.iter().any(|w| has(w));
    let mut c = 0u32;
    if any(&["date", "dt", "datetime", "time", "ts", "on", "at", "day"])
        && any(&[
            "birth",
            "death",
            "admit",
            "admission",
            "discharge",
            "service",
            "visit",
            "encounter",
            "procedure",
            "surgery",
            "appointment",
            "appt",
            "deceased",
        ])
    {
        c |= C_PDATE;
    }
    if any(&["license", "licence"]) && any(&["number", "no", "num", "id", "nbr"]) {
        c |= C_DL;
    }
    if has("plan") && any(&["id", "number", "no", "member"]) {
        c |= C_PLAN;
    }
    if has("device") && any(&["serial", "id", "sn", "udi"]) {
        c |= C_SERIAL;
    }
    if has("patient") && any(&["id", "number", "no", "num", "nbr", "identifier"]) {
        c |= C_MRN;
    }
    c
}

/// Name flags: a bare `name`, or `name` after a person word (`pt_name`); and, for any name
/// context except the bare `name` key (`c` holds the flags found so far), the explicit
/// person-name flag.
fn name_flags(toks: &[String], c: u32) -> u32 {
    let has_name = toks.iter().any(|t| t == "name");
    let mut f = 0u32;
    if has_name
        && (toks.len() == 1
            || toks.windows(2).any(|w| {
                w.last().is_some_and(|n| n == "name")
                    && w.first()
                        .is_some_and(|p| PERSON_PREFIX.contains(&p.as_str()))
            }))
    {
        f |= C_NAME;
    }
    if (c | f) & C_NAME != 0 && !(toks.len() == 1 && has_name) {
        f |= C_PNAME;
    }
    f
}
