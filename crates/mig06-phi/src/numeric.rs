//! The rules for identifiers made of digits: SSN, telephone, payment card, NPI, IBAN, DEA,
//! MBI, postcodes, UDI, IPv4, person dates, ages over 89, and the context-anchored ids.
//!
//! Each rule is gated by how many digits the text holds (a card needs 12) before any
//! regex runs, because almost every string the rail writes is short machine metadata with
//! few digits, and the gate is what keeps a scan cheap. Every rule that depends on context
//! reads it from the [`Subject`], never from the text again.

use crate::checks;
use crate::context::{C_AGE, C_MBI, C_NPI, C_PDATE, C_PHONE, C_SSN, C_ZIP, has_word};
use crate::detector::{Detector, Subject};
use crate::kind::{KindSet, PhiKind};
use crate::patterns::{Prefilter, pre};
use crate::{net, values};

impl Detector {
    /// Runs every digit rule over `s` (which holds at least one digit).
    pub(crate) fn numeric(&self, s: &Subject<'_>, found: &mut KindSet) {
        let mut hit = |kind: PhiKind| found.insert(kind);
        let p = self.re.prefilter(s.text, s.ndigits);
        self.ssn(s, &p, &mut hit);
        self.phone(s, &p, &mut hit);
        self.payment_and_provider(s, &p, &mut hit);
        self.postcode(s, &p, &mut hit);
        // GS1 UDI strings.
        if s.ndigits >= 16 && p.may(pre::UDI) && self.re.udi.is_match(s.text) {
            hit(PhiKind::DeviceSerial);
        }
        self.ipv4(s, &mut hit);
        // Person dates.
        if s.ctx & C_PDATE != 0
            && (self.re.dates.is_match(s.text)
                || (s.key_ctx & C_PDATE != 0 && self.re.date_compact.is_match(s.text)))
        {
            hit(PhiKind::PersonDate);
        }
        // Every age phrase holds `age` or a `y` (`years`, `yrs`, `yo`, `y/o`), and an age
        // under an age key needs the key.
        if s.ndigits >= 2
            && (s.key_ctx & C_AGE != 0 || (age_word(s.text) && p.may(pre::AGE)))
            && self.age_over_89(s)
        {
            hit(PhiKind::AgeOver89);
        }
        self.anchors.scan(s.text, s.key_ctx, &mut hit);
        self.national_ids(s, &mut hit);
    }

    fn ssn(&self, s: &Subject<'_>, p: &Prefilter, hit: &mut impl FnMut(PhiKind)) {
        if s.ndigits < 9 {
            return;
        }
        let text = s.text;
        let separated = p.may(pre::SSN)
            && self.re.ssn.captures_iter(text).any(|c| {
                let same_sep = c.get(2).map(|m| m.as_str()) == c.get(4).map(|m| m.as_str());
                let whole = c.get(0).map_or("", |m| m.as_str());
                // A dotted form must not be part of a longer dotted run (versions, OIDs).
                let dotted_run = whole.contains('.') && dotted_neighbour(text, c.get(0));
                same_sep && !dotted_run && checks::ssn_digits_valid(whole)
            });
        let bare = s.ctx & C_SSN != 0
            && self
                .re
                .ssn_bare
                .find_iter(text)
                .any(|m| checks::ssn_digits_valid(m.as_str()));
        if separated || bare {
            hit(PhiKind::Ssn);
        }
    }

    fn phone(&self, s: &Subject<'_>, p: &Prefilter, hit: &mut impl FnMut(PhiKind)) {
        let text = s.text;
        if s.ndigits >= 10 && p.may(pre::PHONE) {
            let nanp = self.re.phone.captures_iter(text).any(|c| {
                let area = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
                let exch = c.get(4).map_or("", |m| m.as_str());
                let whole = c.get(0).map_or("", |m| m.as_str());
                let bare = whole.bytes().all(|x| x.is_ascii_digit());
                checks::nanp_valid(area, exch) && (!bare || s.ctx & C_PHONE != 0)
            });
            if nanp {
                hit(PhiKind::Phone);
            }
        }
        if s.ndigits >= 8
            && s.has(b'+')
            && p.may(pre::E164)
            && self
                .re
                .e164
                .find_iter(text)
                .any(|m| (8..=15).contains(&checks::digits(m.as_str()).count()))
        {
            hit(PhiKind::Phone);
        }
        if s.ctx & C_PHONE != 0 && s.ndigits >= 7 && self.contextual_phone(s) {
            hit(PhiKind::Phone);
        }
    }

    /// Under a phone key the whole value is a number in any national layout; after a
    /// contact word, a local or trunk-prefixed number.
    fn contextual_phone(&self, s: &Subject<'_>) -> bool {
        let text = s.text;
        let key_phone = s.key_ctx & C_PHONE != 0;
        (key_phone && values::phone_value(text))
            || self.re.phone_local.find_iter(text).any(|m| {
                let sep = m.as_str().bytes().any(|c| !c.is_ascii_digit());
                (key_phone || sep) && !dotted_neighbour(text, Some(m))
            })
            || self.re.phone_trunk.find_iter(text).any(|m| {
                let n = checks::digits(m.as_str()).count();
                (8..=13).contains(&n) && !dotted_neighbour(text, Some(m))
            })
    }

    /// Payment cards, NPI, IBAN, DEA and MBI: the identifiers with a checksum or layout.
    fn payment_and_provider(&self, s: &Subject<'_>, p: &Prefilter, hit: &mut impl FnMut(PhiKind)) {
        let text = s.text;
        let b = text.as_bytes();
        let valid = |re: &crate::patterns::Pat, ok: &dyn Fn(&str) -> bool| {
            re.find_iter(text).any(|m| ok(m.as_str()))
        };
        // A card's digits inside a UUID or digest are not a card.
        if s.ndigits >= 12
            && p.may(pre::CARD)
            && self.re.card.find_iter(text).any(|m| {
                checks::card_valid(m.as_str()) && !checks::in_opaque_token(text, m.start(), m.end())
            })
        {
            hit(PhiKind::PaymentCard);
        }
        if s.ndigits >= 10 && s.ctx & C_NPI != 0 && valid(&self.re.npi, &checks::npi_valid) {
            hit(PhiKind::Npi);
        }
        if s.ndigits >= 6
            && b.iter().any(u8::is_ascii_uppercase)
            && p.may(pre::IBAN)
            && valid(&self.re.iban, &checks::iban_valid)
        {
            hit(PhiKind::Iban);
        }
        if s.ndigits < 5 || !b.iter().any(u8::is_ascii_alphabetic) {
            return;
        }
        // A lowercase DEA number or MBI counts only with context.
        let upper = |m: &str| m.bytes().all(|x| !x.is_ascii_lowercase());
        let dea = |m: &str| {
            checks::dea_valid(m.get(2..).unwrap_or("")) && (upper(m) || s.ctx & C_NPI != 0)
        };
        if p.may(pre::DEA) && valid(&self.re.dea, &dea) {
            hit(PhiKind::Dea);
        }
        let mbi = |m: &str| checks::mbi_valid(m) && (upper(m) || s.ctx & C_MBI != 0);
        if p.may(pre::MBI) && valid(&self.re.mbi, &mbi) {
            hit(PhiKind::Mbi);
        }
    }

    /// US ZIP codes and other postcodes.
    fn postcode(&self, s: &Subject<'_>, p: &Prefilter, hit: &mut impl FnMut(PhiKind)) {
        let text = s.text;
        // ZIP+4, but not the first two parts of an NDC drug code (5-4-2, 5-4-1).
        let zip4 = || {
            !has_word(text, "ndc")
                && self
                    .re
                    .zip4
                    .find_iter(text)
                    .any(|m| !dash_neighbour(text, m.start(), m.end()))
        };
        // A postcode shape that is part of a dash-joined number run (a date such as
        // `2026-01-02`, a timestamp) is not a postcode, even next to a postcode key.
        let in_context = || {
            self.re
                .postcode_ctx
                .find_iter(text)
                .any(|m| !dash_neighbour(text, m.start(), m.end()))
        };
        // ZIP+4 needs its `-`; a state code and the international shapes need an
        // upper-case letter.
        let upper = text.bytes().any(|c| c.is_ascii_uppercase());
        if (s.ndigits >= 5
            && ((s.has(b'-') && p.may(pre::ZIP4) && zip4())
                || (upper && p.may(pre::STATE_ZIP) && self.re.state_zip.is_match(text))))
            || (s.ctx & C_ZIP != 0 && s.ndigits >= 3 && in_context())
            || (s.ndigits >= 2
                && upper
                && p.may(pre::POSTCODE_INTL)
                && self.re.postcode_intl.is_match(text))
        {
            hit(PhiKind::ZipCode);
        }
    }

    fn ipv4(&self, s: &Subject<'_>, hit: &mut impl FnMut(PhiKind)) {
        let text = s.text;
        if s.ndigits < 4 || text.bytes().filter(|c| *c == b'.').count() < 3 {
            return;
        }
        let reported = self.re.ipv4.captures_iter(text).any(|c| {
            c.get(1).is_some_and(|m| {
                m.as_str()
                    .parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|ip| net::ip_reported(s.key, text, m.start(), m.end(), ip.into()))
            })
        });
        if reported {
            hit(PhiKind::IpAddress);
        }
    }

    fn age_over_89(&self, s: &Subject<'_>) -> bool {
        let over = |n: &str| matches!(n.parse::<u32>(), Ok(90..=125));
        let phrase = self.re.age.captures_iter(s.text).any(|c| {
            let m = c.get(1).or_else(|| c.get(2)).or_else(|| c.get(3));
            m.is_some_and(|m| over(m.as_str()))
        });
        let keyed = s.key_ctx & C_AGE != 0 && {
            let num: String = s
                .text
                .trim()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            over(&num)
        };
        phrase || keyed
    }
}

/// True when `text` holds `age` (ASCII case-insensitive) or a `y`/`Y`: what every age
/// phrase of the age pattern holds.
fn age_word(text: &str) -> bool {
    let b = text.as_bytes();
    b.iter().any(|c| matches!(c, b'y' | b'Y'))
        || b.windows(3).any(|w| w.eq_ignore_ascii_case(b"age"))
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
