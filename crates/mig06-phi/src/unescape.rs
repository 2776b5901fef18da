//! Decoding of JSON string escapes in text that carries embedded JSON.
//!
//! A JSON document written into a string field arrives with its non-ASCII letters as
//! `\uXXXX` escapes, which no pattern would read as a name or an address. The detector
//! scans the decoded text instead of the escaped one, so escaping cannot hide an
//! identifier.

/// Decodes `\uXXXX` escapes (with surrogate pairs) and `\"`; `None` when there are none.
pub(crate) fn json_escapes(text: &str) -> Option<String> {
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
