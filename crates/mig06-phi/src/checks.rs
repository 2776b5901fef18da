//! Checksum and layout validators. They take candidate strings and return booleans only.
//!
//! They are pure functions of the candidate, with no regex and no context, so that each
//! rule (Luhn, mod 97, the SSA, DEA, NANP and CMS rules) is checked by its own unit test
//! against published examples, apart from the patterns that propose the candidates.

/// Digits of `s` (ASCII), skipping everything else.
pub(crate) fn digits(s: &str) -> impl Iterator<Item = u32> + '_ {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| u32::from(b - b'0'))
}

/// Luhn mod-10 over the given digit sequence (rightmost digit is the check digit).
pub(crate) fn luhn<I: DoubleEndedIterator<Item = u32>>(ds: I) -> bool {
    let mut sum = 0u32;
    let mut n = 0usize;
    for (i, d) in ds.rev().enumerate() {
        let v = if i % 2 == 1 {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        } else {
            d
        };
        sum += v;
        n += 1;
    }
    n > 1 && sum.is_multiple_of(10)
}

/// SSA rules: area not 000/666/9xx, group not 00, serial not 0000.
pub(crate) fn ssn_valid(area: u32, group: u32, serial: u32) -> bool {
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// Parses a 9-digit string into SSN parts and validates them.
pub(crate) fn ssn_digits_valid(s: &str) -> bool {
    let ds: Vec<u32> = digits(s).collect();
    if ds.len() != 9 {
        return false;
    }
    let num = |r: std::ops::Range<usize>| {
        ds.get(r)
            .map(|x| x.iter().fold(0u32, |a, d| a * 10 + d))
            .unwrap_or(0)
    };
    let (a, g, sr) = (num(0..3), num(3..5), num(5..9));
    // Reject obviously synthetic runs (all the same digit, 123456789).
    let all_same = ds.iter().all(|d| Some(d) == ds.first());
    ssn_valid(a, g, sr) && !all_same && s != "123456789"
}

/// Payment card: Luhn plus issuer prefix and length.
pub(crate) fn card_valid(s: &str) -> bool {
    let ds: Vec<u32> = digits(s).collect();
    let len = ds.len();
    if !(12..=19).contains(&len) || !luhn(ds.iter().copied()) {
        return false;
    }
    let p = |n: usize| -> u32 { ds.iter().take(n).fold(0u32, |a, d| a * 10 + d) };
    let (p1, p2, p3, p4, p6) = (p(1), p(2), p(3), p(4), p(6));
    match p1 {
        4 => matches!(len, 13 | 16 | 19),
        5 => {
            ((51..=55).contains(&p2) && len == 16)
                || (p2 == 50 || (56..=58).contains(&p2)) && (12..=19).contains(&len)
        }
        2 => ((2221..=2720).contains(&p4) && len == 16) || (p4 == 2131 && len == 15),
        3 => {
            ((p2 == 34 || p2 == 37) && len == 15)
                || (((300..=305).contains(&p3) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39)
                    && (14..=19).contains(&len))
                || ((3528..=3589).contains(&p4) && (16..=19).contains(&len))
                || (p2 == 35 && len == 16)
        }
        6 => {
            ((p4 == 6011
                || (644..=649).contains(&p3)
                || p2 == 65
                || (622_126..=622_925).contains(&p6))
                && (16..=19).contains(&len))
                || (p2 == 62 && (16..=19).contains(&len))
                || ((p2 == 63 || p2 == 67 || p4 == 6390) && (12..=19).contains(&len))
        }
        1 => p4 == 1800 && len == 15,
        _ => false,
    }
}

/// NPI: 10 digits starting 1 or 2, Luhn over "80840" + NPI.
pub(crate) fn npi_valid(s: &str) -> bool {
    let ds: Vec<u32> = digits(s).collect();
    if ds.len() != 10 || !matches!(ds.first(), Some(1 | 2)) {
        return false;
    }
    luhn([8, 0, 8, 4, 0].into_iter().chain(ds.iter().copied()))
}

/// DEA registration number: 2 letters + 7 digits; (d1+d3+d5) + 2*(d2+d4+d6) ≡ d7 (mod 10).
pub(crate) fn dea_valid(s: &str) -> bool {
    let ds: Vec<u32> = digits(s).collect();
    if ds.len() != 7 {
        return false;
    }
    let d = |i: usize| ds.get(i).copied().unwrap_or(0);
    let sum = d(0) + d(2) + d(4) + 2 * (d(1) + d(3) + d(5));
    sum % 10 == d(6)
}

/// IBAN: country length table and ISO 13616 mod-97. Returns true if a prefix of the
/// (space-stripped, uppercase) candidate of the country's length is valid.
pub(crate) fn iban_valid(candidate: &str) -> bool {
    let s: Vec<u8> = candidate
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'-')
        .map(|b| b.to_ascii_uppercase())
        .collect();
    let Some(cc) = s.get(0..2) else {
        return false;
    };
    let Some(len) = iban_len(cc) else {
        return false;
    };
    // The country's length first; then the whole alphanumeric run (generators and some
    // banks emit lengths the registry does not list): mod 97 still has to hold.
    let run = s.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    if s.get(0..len).is_some_and(iban_mod97) {
        return true;
    }
    (15..=34).contains(&run) && run.abs_diff(len) <= 2 && s.get(0..run).is_some_and(iban_mod97)
}

fn iban_mod97(iban: &[u8]) -> bool {
    if iban.len() < 5 || !iban.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (head, tail) = iban.split_at(4);
    let mut rem: u32 = 0;
    for &b in tail.iter().chain(head.iter()) {
        if b.is_ascii_digit() {
            rem = (rem * 10 + u32::from(b - b'0')) % 97;
        } else {
            let v = u32::from(b - b'A') + 10;
            rem = (rem * 100 + v) % 97;
        }
    }
    rem == 1
}

/// IBAN length by country (ISO 13616 registry), as (country code, length).
const IBAN_LENGTHS: &[([u8; 2], usize)] = &[
    (*b"AD", 24),
    (*b"AE", 23),
    (*b"AL", 28),
    (*b"AT", 20),
    (*b"AZ", 28),
    (*b"BA", 20),
    (*b"BE", 16),
    (*b"BG", 22),
    (*b"BH", 22),
    (*b"BR", 29),
    (*b"BY", 28),
    (*b"CH", 21),
    (*b"CR", 22),
    (*b"CY", 28),
    (*b"CZ", 24),
    (*b"DE", 22),
    (*b"DK", 18),
    (*b"DO", 28),
    (*b"EE", 20),
    (*b"EG", 29),
    (*b"ES", 24),
    (*b"FI", 18),
    (*b"FO", 18),
    (*b"FR", 27),
    (*b"GB", 22),
    (*b"GE", 22),
    (*b"GI", 23),
    (*b"GL", 18),
    (*b"GR", 27),
    (*b"GT", 28),
    (*b"HR", 21),
    (*b"HU", 28),
    (*b"IE", 22),
    (*b"IL", 23),
    (*b"IQ", 23),
    (*b"IS", 26),
    (*b"IT", 27),
    (*b"JO", 30),
    (*b"KW", 30),
    (*b"KZ", 20),
    (*b"LB", 28),
    (*b"LC", 32),
    (*b"LI", 21),
    (*b"LT", 20),
    (*b"LU", 20),
    (*b"LV", 21),
    (*b"MC", 27),
    (*b"MD", 24),
    (*b"ME", 22),
    (*b"MK", 19),
    (*b"MR", 27),
    (*b"MT", 31),
    (*b"MU", 30),
    (*b"NL", 18),
    (*b"NO", 15),
    (*b"PK", 24),
    (*b"PL", 28),
    (*b"PS", 29),
    (*b"PT", 25),
    (*b"QA", 29),
    (*b"RO", 24),
    (*b"RS", 22),
    (*b"SA", 24),
    (*b"SC", 31),
    (*b"SE", 24),
    (*b"SI", 19),
    (*b"SK", 24),
    (*b"SM", 27),
    (*b"ST", 25),
    (*b"SV", 28),
    (*b"TL", 23),
    (*b"TN", 24),
    (*b"TR", 26),
    (*b"UA", 29),
    (*b"VA", 22),
    (*b"VG", 24),
    (*b"XK", 20),
];

fn iban_len(cc: &[u8]) -> Option<usize> {
    IBAN_LENGTHS
        .iter()
        .find(|(c, _)| c.as_slice() == cc)
        .map(|(_, len)| *len)
}

/// Medicare Beneficiary Identifier layout (CMS): C A AN N A AN N A A N N, letters
/// exclude S, L, O, I, B, Z. Dashes are ignored.
pub(crate) fn mbi_valid(s: &str) -> bool {
    let b: Vec<u8> = s
        .bytes()
        .filter(|c| *c != b'-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if b.len() != 11 {
        return false;
    }
    let alpha =
        |c: u8| c.is_ascii_uppercase() && !matches!(c, b'S' | b'L' | b'O' | b'I' | b'B' | b'Z');
    let num = |c: u8| c.is_ascii_digit();
    let an = |c: u8| alpha(c) || num(c);
    let first = |c: u8| (b'1'..=b'9').contains(&c);
    let layout: [&dyn Fn(u8) -> bool; 11] = [
        &first, &alpha, &an, &num, &alpha, &an, &num, &alpha, &alpha, &num, &num,
    ];
    b.iter().zip(layout.iter()).all(|(c, f)| f(*c))
}

/// NANP: area and exchange first digit 2-9, area not N11.
pub(crate) fn nanp_valid(area: &str, exchange: &str) -> bool {
    let a = area.as_bytes();
    let e = exchange.as_bytes();
    let ok_first = |x: &[u8]| matches!(x.first(), Some(b'2'..=b'9'));
    let n11 = |x: &[u8]| x.get(1) == Some(&b'1') && x.get(2) == Some(&b'1');
    a.len() == 3 && e.len() == 3 && ok_first(a) && ok_first(e) && !n11(a)
}

/// True when `start..end` of `text` lies inside a longer opaque machine token (a UUID, a
/// ULID, a digest, a `prefix_base32` id): the token is the run of characters around the
/// match up to whitespace, quotes or `,;=()[]{}<>`. A payment card or national id found
/// inside a UUID's digit groups is not one.
pub(crate) fn in_opaque_token(text: &str, start: usize, end: usize) -> bool {
    let stop = |c: &u8| {
        c.is_ascii_whitespace()
            || matches!(
                c,
                b'"' | b'\''
                    | b','
                    | b';'
                    | b'='
                    | b'('
                    | b')'
                    | b'['
                    | b']'
                    | b'{'
                    | b'}'
                    | b'<'
                    | b'>'
                    | b'/'
                    | b'@'
            )
    };
    let b = text.as_bytes();
    let from = b
        .get(..start)
        .and_then(|h| h.iter().rposition(stop))
        .map_or(0, |i| i + 1);
    let to = b
        .get(end..)
        .and_then(|t| t.iter().position(stop))
        .map_or(b.len(), |i| end + i);
    if from == start && to == end {
        return false;
    }
    let token = text.get(from..to).unwrap_or("");
    let token = token.trim_matches(|c: char| c == ':' || c == '.');
    // Hex groups joined by dashes (UUIDs, GUIDs in any case) or a long hex run.
    let hex_dashed = token.len() >= 20
        && token.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-')
        && token.bytes().any(|c| c.is_ascii_alphabetic())
        && token.contains('-');
    hex_dashed || is_opaque_id(token) || token.rsplit(':').next().is_some_and(is_opaque_id)
}

/// Opaque machine id shapes that must never be reported as context-anchored identifiers.
pub(crate) fn is_opaque_id(v: &str) -> bool {
    let b = v.as_bytes();
    let hex = |c: &u8| c.is_ascii_hexdigit();
    // UUID 8-4-4-4-12
    if b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                hex(c)
            }
        })
    {
        return true;
    }
    // ULID: 26 Crockford base32.
    if b.len() == 26
        && b.iter().all(|c| {
            c.is_ascii_digit()
                || (c.is_ascii_alphabetic()
                    && !matches!(c.to_ascii_uppercase(), b'I' | b'L' | b'O' | b'U'))
        })
    {
        return true;
    }
    // Long hex (digests, trace ids).
    if b.len() >= 16 && b.iter().all(hex) {
        return true;
    }
    // prefix_base32 such as subj_7k3m9q2x4w8r5t6v.
    if let Some((p, rest)) = v.split_once('_')
        && !p.is_empty()
        && p.bytes().all(|c| c.is_ascii_lowercase())
        && rest.len() >= 8
        && rest
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && rest.bytes().any(|c| c.is_ascii_digit())
        && rest.bytes().any(|c| c.is_ascii_lowercase())
    {
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_cards() {
        assert!(card_valid("4111111111111111"));
        assert!(card_valid("378282246310005"));
        assert!(card_valid("5555 5555 5555 4444"));
        assert!(!card_valid("4111111111111112"));
        assert!(!card_valid("1234567812345670"));
    }

    #[test]
    fn npi_dea_iban_mbi() {
        assert!(npi_valid("1234567893"));
        assert!(!npi_valid("1234567890"));
        assert!(dea_valid("AB1234563"));
        assert!(!dea_valid("AB1234564"));
        assert!(iban_valid("GB82 WEST 1234 5698 7654 32"));
        assert!(iban_valid("DE89370400440532013000"));
        assert!(!iban_valid("DE89370400440532013001"));
        assert!(mbi_valid("1EG4-TE5-MK73"));
        assert!(!mbi_valid("1EG4-TE5-MK7A"));
    }

    #[test]
    fn ssn_rules() {
        assert!(ssn_digits_valid("123-45-6788"));
        assert!(!ssn_digits_valid("000-45-6789"));
        assert!(!ssn_digits_valid("666-45-6789"));
        assert!(!ssn_digits_valid("912-45-6789"));
        assert!(!ssn_digits_valid("123-00-6789"));
        assert!(!ssn_digits_valid("123-45-0000"));
    }

    #[test]
    fn opaque() {
        assert!(is_opaque_id("123e4567-e89b-12d3-a456-426614174000"));
        assert!(is_opaque_id("01HZX3K5M8N9P2Q4R6S7T8V9W0"));
        assert!(is_opaque_id("subj_7k3m9q2x4w8r5t6v"));
        assert!(!is_opaque_id("A1234567"));
    }
}
