//! National, tax and vehicle identifiers with a published layout or check digit, MAC
//! addresses and geographic coordinates.
//!
//! The map of what exists is python-stdnum's list of formats (`stdnum.gb.nhs`,
//! `stdnum.nl.bsn`, `stdnum.pl.pesel`, `stdnum.es.dni`/`nie`, `stdnum.it.codicefiscale`,
//! `stdnum.de.idnr`, `stdnum.fr.nir`, `stdnum.ca.sin`, `stdnum.br.cpf`, `stdnum.in_.aadhaar`,
//! `stdnum.tr.tckimlik`, `stdnum.cn.ric`, `stdnum.kr.rrn`, `stdnum.us.itin`/`ein`,
//! `stdnum.vin`); each validator below implements the check its documentation cites.
//! Where the check is strong and the layout distinctive (a codice fiscale, a PRC resident
//! id, a NIR, a CPF or SIN written with its separators, a DNI with its letter), the
//! identifier is reported on its own; where a bare run of digits passes by chance too
//! often (BSN, PESEL, Steuer-IdNr, TC Kimlik: one in ten to one in a hundred), it needs
//! national-id context (a key or a label word such as `BSN`, `PESEL`, `身份证`).

use crate::checks::{self, digits};
use crate::context::{C_GEO, C_MRN, C_SSN, C_VIN};
use crate::detector::{Detector, Subject};
use crate::kind::PhiKind;
use crate::net;
use crate::patterns::{Pat, PatSet};

/// Digits of `s` as a vector (ASCII digits only).
fn ds(s: &str) -> Vec<u32> {
    digits(s).collect()
}

fn at(d: &[u32], i: usize) -> u32 {
    d.get(i).copied().unwrap_or(0)
}

/// Weighted sum of the first `w.len()` digits.
fn wsum(d: &[u32], w: &[u32]) -> u32 {
    d.iter().zip(w).map(|(a, b)| a * b).sum()
}

/// NHS number (`stdnum.gb.nhs`): 10 digits, mod 11 with weights 10..2.
pub(crate) fn nhs_valid(s: &str) -> bool {
    let d = ds(s);
    if d.len() != 10 {
        return false;
    }
    let r = 11 - wsum(&d, &[10, 9, 8, 7, 6, 5, 4, 3, 2]) % 11;
    let check = if r == 11 { 0 } else { r };
    check != 10 && check == at(&d, 9)
}

/// BSN (`stdnum.nl.bsn`): 9 digits, the "elfproef" with weights 9..2, -1.
pub(crate) fn bsn_valid(s: &str) -> bool {
    let d = ds(s);
    if d.len() != 9 || d.iter().all(|x| *x == 0) {
        return false;
    }
    let sum = wsum(&d, &[9, 8, 7, 6, 5, 4, 3, 2]);
    (sum + 11 * 10 - at(&d, 8)).is_multiple_of(11)
}

/// A calendar date (year, month, day) that exists.
fn date_ok(y: u32, m: u32, day: u32) -> bool {
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// PESEL (`stdnum.pl.pesel`): 11 digits, weights 1 3 7 9, and a birth date whose month
/// carries the century.
pub(crate) fn pesel_valid(s: &str) -> bool {
    let d = ds(s);
    if d.len() != 11 {
        return false;
    }
    let check = (10 - wsum(&d, &[1, 3, 7, 9, 1, 3, 7, 9, 1, 3]) % 10) % 10;
    let (yy, mm, dd) = (
        at(&d, 0) * 10 + at(&d, 1),
        at(&d, 2) * 10 + at(&d, 3),
        at(&d, 4) * 10 + at(&d, 5),
    );
    let (century, month) = match mm {
        1..=12 => (1900, mm),
        21..=32 => (2000, mm - 20),
        41..=52 => (2100, mm - 40),
        61..=72 => (2200, mm - 60),
        81..=92 => (1800, mm - 80),
        _ => return false,
    };
    check == at(&d, 10) && date_ok(century + yy, month, dd)
}

/// DNI (`stdnum.es.dni`): 8 digits and the letter of the number mod 23; NIE
/// (`stdnum.es.nie`): X/Y/Z for 0/1/2, then the same.
pub(crate) fn dni_valid(s: &str) -> bool {
    const LETTERS: &[u8] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    let core: Vec<u8> = s
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let (Some(last), Some(first)) = (core.last(), core.first()) else {
        return false;
    };
    let lead: Option<u64> = match first {
        b'X' => Some(0),
        b'Y' => Some(1),
        b'Z' => Some(2),
        _ => None,
    };
    let body: Vec<u32> = core
        .iter()
        .skip(usize::from(lead.is_some()))
        .take(core.len().saturating_sub(1 + usize::from(lead.is_some())))
        .filter_map(|c| (*c as char).to_digit(10))
        .collect();
    let want = if lead.is_some() { 7 } else { 8 };
    if body.len() != want {
        return false;
    }
    let n = body
        .iter()
        .fold(lead.unwrap_or(0), |a, x| a * 10 + u64::from(*x));
    usize::try_from(n % 23)
        .ok()
        .and_then(|i| LETTERS.get(i))
        .is_some_and(|l| l == last)
}

/// Codice fiscale (`stdnum.it.codicefiscale`): 16 characters, check letter from the odd
/// and even position tables.
pub(crate) fn codice_fiscale_valid(s: &str) -> bool {
    const ODD: [u32; 36] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3,
        6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
    ];
    let b: Vec<u8> = s.bytes().map(|c| c.to_ascii_uppercase()).collect();
    if b.len() != 16 {
        return false;
    }
    let val = |c: u8| -> Option<usize> {
        match c {
            b'0'..=b'9' => Some(usize::from(c - b'0')),
            b'A'..=b'Z' => Some(usize::from(c - b'A') + 10),
            _ => None,
        }
    };
    let mut sum = 0u32;
    for (i, c) in b.iter().take(15).enumerate() {
        let Some(v) = val(*c) else { return false };
        if i % 2 == 0 {
            sum += ODD.get(v).copied().unwrap_or(0);
        } else {
            // Even positions: digits 0-9 and letters A-Z both count 0..25.
            sum += u32::try_from(if v < 10 { v } else { v - 10 }).unwrap_or(0);
        }
    }
    let check = b'A' + u8::try_from(sum % 26).unwrap_or(0);
    b.get(15) == Some(&check)
}

/// Steuer-IdNr (`stdnum.de.idnr`): 11 digits, first not 0, ISO 7064 MOD 11,10.
pub(crate) fn idnr_valid(s: &str) -> bool {
    let d = ds(s);
    if d.len() != 11 || at(&d, 0) == 0 {
        return false;
    }
    let mut p = 10u32;
    for x in d.iter().take(10) {
        let mut sum = (x + p) % 10;
        if sum == 0 {
            sum = 10;
        }
        p = (sum * 2) % 11;
    }
    (11 - p) % 10 == at(&d, 10)
}

/// NIR (`stdnum.fr.nir`): 13 characters (Corsica `2A`/`2B` as 19/18) and a key
/// `97 - n mod 97`.
pub(crate) fn nir_valid(s: &str) -> bool {
    let core: String = s
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if core.len() != 15
        || !matches!(
            core.as_bytes().first(),
            Some(b'1' | b'2' | b'3' | b'4' | b'7' | b'8')
        )
    {
        return false;
    }
    let body = core
        .get(..13)
        .unwrap_or("")
        .replace("2A", "19")
        .replace("2B", "18");
    let (Ok(n), Ok(key)) = (
        body.parse::<u64>(),
        core.get(13..).unwrap_or("").parse::<u64>(),
    ) else {
        return false;
    };
    97 - n % 97 == key
}

/// SIN (`stdnum.ca.sin`): 9 digits, Luhn, not starting 0 or 8.
pub(crate) fn sin_valid(s: &str) -> bool {
    let d = ds(s);
    d.len() == 9 && !matches!(d.first(), Some(0 | 8)) && checks::luhn(d.iter().copied())
}

/// CPF (`stdnum.br.cpf`): 11 digits, two mod-11 check digits, not all the same.
pub(crate) fn cpf_valid(s: &str) -> bool {
    let d = ds(s);
    if d.len() != 11 || d.iter().all(|x| Some(x) == d.first()) {
        return false;
    }
    let check = |n: usize| {
        let sum: u32 = d
            .iter()
            .take(n)
            .zip((2..=u32::try_from(n + 1).unwrap_or(2)).rev())
            .map(|(a, w)| a * w)
            .sum();
        (sum * 10 % 11) % 10
    };
    check(9) == at(&d, 9) && check(10) == at(&d, 10)
}

/// Aadhaar (`stdnum.in_.aadhaar`): 12 digits, first 2-9, not a palindrome, Verhoeff.
pub(crate) fn aadhaar_valid(s: &str) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let d = ds(s);
    if d.len() != 12 || at(&d, 0) < 2 || d.iter().eq(d.iter().rev()) {
        return false;
    }
    let mut c = 0u8;
    for (i, x) in d.iter().rev().enumerate() {
        let p = P
            .get(i % 8)
            .and_then(|row| row.get(usize::try_from(*x).unwrap_or(0)))
            .copied()
            .unwrap_or(0);
        c = D
            .get(usize::from(c))
            .and_then(|row| row.get(usize::from(p)))
            .copied()
            .unwrap_or(1);
    }
    c == 0
}

/// TC Kimlik (`stdnum.tr.tckimlik`): 11 digits, first not 0, two check digits.
pub(crate) fn tckimlik_valid(s: &str) -> bool {
    let d = ds(s);
    if d.len() != 11 || at(&d, 0) == 0 {
        return false;
    }
    let odd = at(&d, 0) + at(&d, 2) + at(&d, 4) + at(&d, 6) + at(&d, 8);
    let even = at(&d, 1) + at(&d, 3) + at(&d, 5) + at(&d, 7);
    let c10 = (odd * 7 + 10 * 9 - even) % 10;
    let c11 = (d.iter().take(10).sum::<u32>()) % 10;
    c10 == at(&d, 9) && c11 == at(&d, 10)
}

/// PRC resident identity card (`stdnum.cn.ric`): 17 digits with a birth date, and an
/// ISO 7064 MOD 11-2 check character (`X` for 10).
pub(crate) fn prc_ric_valid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 18 || !b.iter().take(17).all(u8::is_ascii_digit) {
        return false;
    }
    let d = ds(s.get(..17).unwrap_or(""));
    let y = d.iter().skip(6).take(4).fold(0, |a, x| a * 10 + x);
    let m = at(&d, 10) * 10 + at(&d, 11);
    let day = at(&d, 12) * 10 + at(&d, 13);
    if !(1900..=2100).contains(&y) || !date_ok(y, m, day) {
        return false;
    }
    let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let check = (12 - wsum(&d, &w) % 11) % 11;
    match b.get(17) {
        Some(b'X' | b'x') => check == 10,
        Some(c) if c.is_ascii_digit() => u32::from(c - b'0') == check,
        _ => false,
    }
}

/// RRN (`stdnum.kr.rrn`): `YYMMDD-SBBBBNC`, a real birth date and a sex/century digit;
/// the check digit is verified for numbers issued before October 2020 and otherwise not
/// required (numbers issued since carry none).
pub(crate) fn rrn_layout_valid(s: &str) -> bool {
    let d = ds(s);
    if d.len() != 13 {
        return false;
    }
    let (yy, mm, dd) = (
        at(&d, 0) * 10 + at(&d, 1),
        at(&d, 2) * 10 + at(&d, 3),
        at(&d, 4) * 10 + at(&d, 5),
    );
    let century = match at(&d, 6) {
        1 | 2 | 5 | 6 => 1900,
        3 | 4 | 7 | 8 => 2000,
        9 | 0 => 1800,
        _ => return false,
    };
    date_ok(century + yy, mm, dd)
}

/// ITIN (`stdnum.us.itin`): 9 digits starting 9 with group 50-65, 70-88, 90-92 or 94-99.
pub(crate) fn itin_valid(s: &str) -> bool {
    let d = ds(s);
    let g = at(&d, 3) * 10 + at(&d, 4);
    d.len() == 9 && at(&d, 0) == 9 && matches!(g, 50..=65 | 70..=88 | 90..=92 | 94..=99)
}

/// VIN (`stdnum.vin`, ISO 3779 / 49 CFR 565): 17 characters without I, O, Q; the
/// position-9 check digit of North American VINs.
pub(crate) fn vin_check_valid(s: &str) -> bool {
    const W: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let b = s.as_bytes();
    if b.len() != 17 {
        return false;
    }
    let val = |c: u8| -> Option<u32> {
        Some(match c.to_ascii_uppercase() {
            c @ b'0'..=b'9' => u32::from(c - b'0'),
            b'A' | b'J' => 1,
            b'B' | b'K' | b'S' => 2,
            b'C' | b'L' | b'T' => 3,
            b'D' | b'M' | b'U' => 4,
            b'E' | b'N' | b'V' => 5,
            b'F' | b'W' => 6,
            b'G' | b'P' | b'X' => 7,
            b'H' | b'Y' => 8,
            b'R' | b'Z' => 9,
            _ => return None,
        })
    };
    let mut sum = 0u32;
    for (c, w) in b.iter().zip(W) {
        let Some(v) = val(*c) else { return false };
        sum += v * w;
    }
    let check = sum % 11;
    match b.get(8) {
        Some(b'X' | b'x') => check == 10,
        Some(c) if c.is_ascii_digit() => u32::from(c - b'0') == check,
        _ => false,
    }
}

/// The spans of MAC addresses in `b`: six hex pairs joined by one `:` or `-` throughout,
/// or three groups of four hex digits joined by `.`, not inside a longer hex token.
fn mac_spans(b: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let hex = |i: usize| b.get(i).is_some_and(u8::is_ascii_hexdigit);
    let free = |i: Option<usize>| {
        i.and_then(|i| b.get(i))
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || matches!(c, b':' | b'-' | b'.')))
    };
    (0..b.len()).filter_map(move |st| {
        if !hex(st) || !free(st.checked_sub(1)) {
            return None;
        }
        let sep = b.get(st + 2).copied();
        let colon = matches!(sep, Some(b':' | b'-'))
            && (0..6).all(|k| hex(st + 3 * k) && hex(st + 3 * k + 1))
            && (1..6).all(|k| b.get(st + 3 * k - 1).copied() == sep)
            && free(Some(st + 17));
        if colon {
            return Some((st, st + 17));
        }
        let dotted = (0..3).all(|g| (0..4).all(|k| hex(st + 5 * g + k)))
            && b.get(st + 4) == Some(&b'.')
            && b.get(st + 9) == Some(&b'.')
            && free(Some(st + 14));
        dotted.then_some((st, st + 14))
    })
}

/// Length in digits of the longest run of digits in which single separators
/// (` . - /`) may sit between digits: the cheap gate before the id patterns.
fn longest_digit_run(b: &[u8]) -> usize {
    let (mut best, mut cur) = (0usize, 0usize);
    for (i, c) in b.iter().enumerate() {
        if c.is_ascii_digit() {
            cur += 1;
            best = best.max(cur);
        } else if !(matches!(c, b' ' | b'.' | b'-' | b'/')
            && i > 0
            && b.get(i - 1).is_some_and(u8::is_ascii_digit)
            && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            cur = 0;
        }
    }
    best
}

/// The most digits in one chain of `b`: digits, each joined to the next by nothing, by
/// one `space . -`, or by an `A`/`B` after a digit (`2A`, `2B`), possibly followed by one
/// separator.
fn digit_chain(b: &[u8]) -> usize {
    let (mut best, mut cur) = (0usize, 0usize);
    let mut i = 0usize;
    while let Some(&c) = b.get(i) {
        if c.is_ascii_digit() {
            cur += 1;
            best = best.max(cur);
            i += 1;
            continue;
        }
        let prev_digit = i
            .checked_sub(1)
            .and_then(|j| b.get(j))
            .is_some_and(u8::is_ascii_digit);
        let letter = prev_digit && matches!(c, b'A' | b'B' | b'a' | b'b');
        let sep = |x: Option<&u8>| matches!(x, Some(b' ' | b'.' | b'-'));
        let digit = |x: Option<&u8>| x.is_some_and(u8::is_ascii_digit);
        let joins = if letter {
            digit(b.get(i + 1)) || (sep(b.get(i + 1)) && digit(b.get(i + 2)))
        } else {
            cur > 0 && sep(Some(&c)) && digit(b.get(i + 1))
        };
        if !joins {
            cur = 0;
        }
        i += 1;
    }
    best
}

/// True when `b` holds a run of `n` ASCII alphanumerics.
fn alnum_run(b: &[u8], n: usize) -> bool {
    let mut cur = 0usize;
    for c in b {
        if c.is_ascii_alphanumeric() {
            cur += 1;
            if cur >= n {
                return true;
            }
        } else {
            cur = 0;
        }
    }
    false
}

/// Number of decimal numbers with at least two decimals (`40.71`) in `b`.
fn decimals(b: &[u8]) -> usize {
    b.windows(4)
        .filter(|w| {
            matches!(w, [a, b'.', c, d] if a.is_ascii_digit() && c.is_ascii_digit() && d.is_ascii_digit())
        })
        .count()
}

/// True when `start..end` continues a longer run of digit groups (`ip-10-218-155-125`,
/// `1.2.840.113619…`): a separator and a digit right before or after it.
fn glued_run(text: &str, start: usize, end: usize) -> bool {
    let b = text.as_bytes();
    let sep = |c: Option<&u8>| matches!(c, Some(b'-' | b'.' | b'_' | b':' | b'/'));
    let digit = |c: Option<&u8>| c.is_some_and(u8::is_ascii_digit);
    let before = start >= 2 && sep(b.get(start - 1)) && digit(b.get(start - 2));
    let after = sep(b.get(end)) && digit(b.get(end + 1));
    before || after
}

impl Detector {
    /// National, tax and vehicle identifiers, MAC addresses and coordinates.
    pub(crate) fn national_ids(&self, s: &Subject<'_>, hit: &mut impl FnMut(PhiKind)) {
        let text = s.text;
        let natctx = s.ctx & (C_SSN | C_MRN) != 0;
        let any = |re: &Pat, ok: &dyn Fn(&str) -> bool| {
            re.find_iter(text).any(|m| {
                ok(m.as_str())
                    && !checks::in_opaque_token(text, m.start(), m.end())
                    && !glued_run(text, m.start(), m.end())
            })
        };
        let b = text.as_bytes();
        // Every pattern of this block needs nine digits in one chain: digits joined by
        // at most one of `space . -` (the layouts' separators) or, in a NIR of Corsica,
        // by the `A`/`B` of `2A`/`2B`. Timestamps (`10:58:02.108`) break the chain.
        if s.ndigits >= 9 && digit_chain(b) >= 9 {
            // Distinctive layouts with a check: no context needed.
            // One pass of the layout set says which layouts occur at all.
            let present = self.nat.layouts.matches(text);
            let laid_out = [
                (&self.nat.cpf_fmt, cpf_valid as fn(&str) -> bool),
                (&self.nat.sin_fmt, sin_valid),
                (&self.nat.aadhaar_fmt, aadhaar_valid),
                (&self.nat.nhs_fmt, nhs_valid),
                (&self.nat.nir, nir_valid),
                (&self.nat.prc, prc_ric_valid),
                (&self.nat.rrn, rrn_layout_valid),
            ]
            .into_iter()
            .enumerate()
            .any(|(i, (re, ok))| present.matched(i) && any(re, &ok));
            // Bare digit runs: with national-id context, any of the checks.
            let bare = natctx
                && self.nat.bare.find_iter(text).any(|m| {
                    let v = m.as_str();
                    if checks::in_opaque_token(text, m.start(), m.end())
                        || glued_run(text, m.start(), m.end())
                    {
                        return false;
                    }
                    match digits(v).count() {
                        9 => bsn_valid(v) || sin_valid(v),
                        10 => nhs_valid(v),
                        11 => pesel_valid(v) || idnr_valid(v) || cpf_valid(v) || tckimlik_valid(v),
                        12 => aadhaar_valid(v),
                        13 => rrn_layout_valid(v),
                        _ => false,
                    }
                });
            if laid_out || bare {
                hit(PhiKind::NationalId);
            }
            // ITIN in its dashed layout, or bare with tax context; EIN with context.
            if any(&self.nat.itin, &|v: &str| {
                itin_valid(v) && (v.contains('-') || natctx)
            }) || (natctx && self.nat.ein.is_match(text))
            {
                hit(PhiKind::TaxId);
            }
        }
        if s.ndigits >= 7
            && longest_digit_run(b) >= 7
            && b.iter().any(u8::is_ascii_uppercase)
            && any(&self.nat.dni, &dni_valid)
        {
            hit(PhiKind::NationalId);
        }
        if s.ndigits >= 7
            && text.len() >= 16
            && alnum_run(b, 16)
            && any(&self.nat.codice_fiscale, &codice_fiscale_valid)
        {
            hit(PhiKind::NationalId);
        }
        // VINs: the check digit, or any 17-character VIN shape with VIN context.
        if s.ndigits >= 3 && text.len() >= 17 && alnum_run(b, 17) {
            let vin = self.nat.vin.find_iter(text).any(|m| {
                let v = m.as_str();
                let letters = v.bytes().filter(u8::is_ascii_alphabetic).count();
                let digits_n = v.len() - letters;
                letters >= 2
                    && digits_n >= 3
                    && !checks::is_opaque_id(v)
                    && (vin_check_valid(v) || s.ctx & C_VIN != 0)
            });
            if vin {
                hit(PhiKind::Vin);
            }
        }
        // MAC addresses: reported like an IP literal of unknown role, unless the words
        // around it make it the service's own network plan.
        if s.ndigits >= 2 {
            let mac = mac_spans(b).any(|(st, en)| {
                let doc = std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
                net::ip_reported(s.key, text, st, en, doc)
            });
            if mac {
                hit(PhiKind::MacAddress);
            }
        }
        // Coordinates: a latitude/longitude pair with four decimals (about 10 m, one
        // house), or two with a position or home word.
        if s.ndigits >= 6 && decimals(b) >= 2 {
            let geo = self.nat.latlon.captures_iter(text).any(|c| {
                let (Some(a), Some(b)) = (c.get(1), c.get(2)) else {
                    return false;
                };
                let dec = |x: &str| x.split('.').nth(1).map_or(0, str::len);
                let (Ok(lat), Ok(lon)) = (a.as_str().parse::<f64>(), b.as_str().parse::<f64>())
                else {
                    return false;
                };
                let precise = dec(a.as_str()) >= 4 && dec(b.as_str()) >= 4;
                let ctx = s.ctx & C_GEO != 0 && dec(a.as_str()) >= 2 && dec(b.as_str()) >= 2;
                lat.abs() <= 90.0
                    && lon.abs() <= 180.0
                    && (lat.abs() > 0.0 || lon.abs() > 0.0)
                    && (precise || ctx)
            });
            if geo {
                hit(PhiKind::GeoLocation);
            }
        }
    }
}

/// Candidate patterns of this module (validated by the functions above).
pub(crate) struct NatPatterns {
    /// CPF `ddd.ddd.ddd-dd`.
    cpf_fmt: Pat,
    /// SIN `ddd-ddd-ddd` / `ddd ddd ddd`.
    sin_fmt: Pat,
    /// Aadhaar `dddd dddd dddd`.
    aadhaar_fmt: Pat,
    /// NHS number `ddd ddd dddd` / `ddd-ddd-dddd`.
    nhs_fmt: Pat,
    /// NIR, 15 characters with optional spaces.
    nir: Pat,
    /// PRC resident id, 18 characters.
    prc: Pat,
    /// RRN `YYMMDD-SNNNNNN`.
    rrn: Pat,
    /// A bare run of 9 to 13 digits, optionally grouped by spaces, dots or dashes.
    bare: Pat,
    /// ITIN candidate.
    itin: Pat,
    /// EIN `dd-ddddddd`.
    ein: Pat,
    /// DNI / NIE.
    dni: Pat,
    /// Codice fiscale layout.
    codice_fiscale: Pat,
    /// VIN shape.
    vin: Pat,
    /// The seven layouts above (CPF … RRN), matched together as a prefilter.
    layouts: PatSet,
    /// Latitude, longitude pair.
    latlon: Pat,
}

impl NatPatterns {
    /// Compiles the candidate patterns.
    ///
    /// # Errors
    /// `Pattern` if one fails to compile.
    pub(crate) fn new(
        c: &mut crate::patterns::Compiler,
    ) -> Result<Self, crate::patterns::DetectorError> {
        Ok(Self {
            cpf_fmt: c.regex(r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b")?,
            sin_fmt: c.regex(r"\b\d{3}([ -])\d{3}[ -]\d{3}\b")?,
            aadhaar_fmt: c.regex(r"\b[2-9]\d{3}[ -]\d{4}[ -]\d{4}\b")?,
            nhs_fmt: c.regex(r"\b\d{3}[ -]\d{3}[ -]\d{4}\b")?,
            nir: c.regex(r"\b[1-478] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[ABab]) ?\d{3} ?\d{3} ?\d{2}\b")?,
            prc: c.regex(r"\b\d{17}[\dXx]\b")?,
            rrn: c.regex(r"\b\d{6}-\d{7}\b")?,
            bare: c.regex(r"\b\d(?:[ .-]?\d){8,12}\b")?,
            itin: c.regex(r"\b9\d{2}-?\d{2}-?\d{4}\b")?,
            ein: c.regex(r"\b\d{2}-\d{7}\b")?,
            dni: c.regex(r"\b(?:[XYZ]-?\d{7}|\d{8})-?[A-Z]\b")?,
            codice_fiscale: c.regex(r"(?i)\b[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z]\b")?,
            vin: c.regex(r"(?i)\b[A-HJ-NPR-Z0-9]{17}\b")?,
            latlon: c.regex(r"(-?\d{1,2}\.\d{2,})\s*°?\s*[NS]?\s*[,;/ ]\s*(?:lon(?:g|gitude)?\s*[:=]\s*)?(-?\d{1,3}\.\d{2,})")?,
            layouts: c.set([
                r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b",
                r"\b\d{3}([ -])\d{3}[ -]\d{3}\b",
                r"\b[2-9]\d{3}[ -]\d{4}[ -]\d{4}\b",
                r"\b\d{3}[ -]\d{3}[ -]\d{4}\b",
                r"\b[1-478] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[ABab]) ?\d{3} ?\d{3} ?\d{2}\b",
                r"\b\d{17}[\dXx]\b",
                r"\b\d{6}-\d{7}\b",
            ])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Valid examples from python-stdnum's documentation and test files.
    #[test]
    fn published_examples_validate() {
        assert!(nhs_valid("943 476 5870"));
        assert!(!nhs_valid("943 476 5871"));
        assert!(bsn_valid("111222333"));
        assert!(!bsn_valid("111252333"));
        assert!(pesel_valid("44051401359"));
        assert!(!pesel_valid("44051401358"));
        assert!(dni_valid("54362315K"));
        assert!(!dni_valid("54362315Z"));
        assert!(dni_valid("X2482300W"));
        assert!(codice_fiscale_valid("RCCMNL83S18D969H"));
        assert!(!codice_fiscale_valid("RCCMNL83S18D969A"));
        assert!(idnr_valid("36 574 261 809"));
        assert!(!idnr_valid("36 574 261 808"));
        assert!(nir_valid("2 95 10 99 126 111 93"));
        assert!(!nir_valid("2 95 10 99 126 111 94"));
        assert!(sin_valid("123-456-782"));
        assert!(!sin_valid("123-456-789"));
        assert!(cpf_valid("390.533.447-05"));
        assert!(!cpf_valid("231.002.999-00"));
        assert!(aadhaar_valid("234123412346"));
        assert!(!aadhaar_valid("234123412347"));
        assert!(tckimlik_valid("17291716060"));
        assert!(!tckimlik_valid("17291716050"));
        assert!(prc_ric_valid("360426199101010071"));
        assert!(!prc_ric_valid("360426199101010072"));
        assert!(rrn_layout_valid("971013-9019902"));
        assert!(!rrn_layout_valid("971313-9019902"));
        assert!(itin_valid("912-90-3456"));
        assert!(!itin_valid("912-93-3456"));
        assert!(vin_check_valid("1M8GDM9AXKP042788"));
        assert!(!vin_check_valid("1M8GDM9A1KP042788"));
    }
}
