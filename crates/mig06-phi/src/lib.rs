//! PHI/PII detector for the MIG-06 rail.
//!
//! The rail writes metadata only; values are closed types. This crate is the second line:
//! every string the rail would write (values and unrecognised object keys) is scanned for
//! HIPAA Safe Harbor identifiers that have a shape. Shaped identifiers are found by
//! regular expressions behind cheap byte gates ([`patterns`], [`numeric`]) and confirmed
//! by checksums ([`checks`]: Luhn, mod 97, DEA, SSA and NANP rules, CMS MBI layout);
//! identifiers without a checksum (MRN, plan ids, licences, plates, serials, person dates,
//! bare SSN/phone/NPI digits) need context ([`context`], [`anchored`]): the JSON key the
//! value sits under, a key written inside the text (`k=v`, `k: v`, embedded JSON, a CSV
//! header, an HL7 field; see [`kv`] and [`keys`]) or a label word in the text. URLs and IP
//! literals are reported by role (see [`net`]). Person names come from a compiled-in
//! multi-country lexicon and need shape evidence or a name key (see [`names`]); names in
//! other scripts need their script's name shape and context (see [`scripts`]). National,
//! tax and vehicle identifiers are checked by their published check digits (see
//! [`natid`]). Every string is also scanned as a person reads it, with encodings decoded
//! (see [`normalize`]), so an encoding can add findings but never hide one.
//!
//! The one decision that shapes the crate: nothing here stores, logs or returns scanned
//! text. Results are [`PhiKind`] codes only, and `Debug` of the detector prints pattern
//! counts, never input, so no caller can leak what the detector was shown through it.
//!
//! Public API: [`Detector::new`], [`Detector::scan`], [`PhiKind`] (with its stable codes)
//! and [`DetectorError`]. Everything else is internal.

mod anchored;
mod checks;
mod context;
mod detector;
mod keys;
mod kind;
mod kv;
mod names;
mod natid;
mod net;
mod normalize;
mod numeric;
mod patterns;
mod scripts;
mod unescape;
mod values;

pub use detector::Detector;
pub use kind::PhiKind;
pub use patterns::DetectorError;
