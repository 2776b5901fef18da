//! Whole values whose key says what they are: a phone number, a person's name or a street
//! address under a key that names one, and letters of non-Latin scripts anywhere.
//!
//! These rules look at the value as a whole, not for a pattern inside it, because under
//! such a key the value has no other role: `Colônia Vieira` under `address` is an address
//! although no street regex would find one in it. They are only applied with the key's
//! context, so the same words in free text stay clean.

use crate::checks;

/// A whole value that is a telephone number in any national layout: 7–15 digits and only
/// phone punctuation (`+ ( ) - . / space`, an extension).
pub(crate) fn phone_value(text: &str) -> bool {
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

/// A whole value under a person-name key: one to four words of letters (apostrophes,
/// hyphens, periods, a comma), at least one capitalised. The key says it is a name, so no
/// lexicon is needed; lowercase machine words (`web`, `default`) stay clean.
pub(crate) fn name_value(text: &str) -> bool {
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
pub(crate) fn address_value(text: &str) -> bool {
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
pub(crate) fn non_latin_letters(text: &str) -> usize {
    text.chars()
        .filter(|c| {
            let u = u32::from(*c);
            c.is_alphabetic() && u >= 0x0370 && !(0x1E00..=0x1EFF).contains(&u) && u != 0x03BC
        })
        .count()
}

/// A machine identifier: `UPPER_SNAKE`, `lower-kebab`, `lower_snake` or `dotted.lower`
/// with at least one separator, and nothing else (no space).
pub(crate) fn machine_ident(text: &str) -> bool {
    let t = text.trim().trim_matches('"');
    let b = t.as_bytes();
    let sep = b.iter().any(|c| matches!(c, b'_' | b'-' | b'.'));
    let upper = b
        .iter()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'.'));
    let lower = b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'.'));
    !b.is_empty() && sep && (upper || lower)
}
