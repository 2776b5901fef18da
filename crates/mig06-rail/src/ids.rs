//! Identifier and digest newtypes: the only shapes an identifier can take in the rail.
//!
//! Parse, don't validate: each type has private fields and one fallible constructor, so a value
//! of the type is proof that the string had the strict format. Words, names and separators that
//! carry meaning cannot fit an opaque id, which is the first line of the PHI boundary.
//!
//! INV-METADATA-ONLY: Artifacts, decision signals, audit material, correlation ids and outputs are
//! metadata-only.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

// INV-NO-PHI-LEAK: an identifier that does not parse is reported by its kind and length, never by
// its text.
/// Why a string is not an identifier. Carries the kind and length, never the string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {expected} ({len} bytes)")]
pub struct IdError {
    /// What shape was expected.
    pub expected: &'static str,
    /// Length of the rejected input, in bytes.
    pub len: usize,
}

fn id_error(expected: &'static str, s: &str) -> IdError {
    IdError {
        expected,
        len: s.len(),
    }
}

/// Prefixes an opaque id may carry before its random base32 body.
pub const OPAQUE_PREFIXES: &[&str] = &["subj", "enc", "draft", "doc", "ord", "ref"];

/// Minimum body length of a prefixed opaque id: 16 Crockford base32 characters = 80 bits.
pub(crate) const OPAQUE_BODY_MIN: usize = 16;
const OPAQUE_BODY_MAX: usize = 52;

fn is_crockford_lower(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'h' | b'j' | b'k' | b'm' | b'n' | b'p'..=b't' | b'v'..=b'z')
}

fn is_ulid(s: &str) -> bool {
    s.len() == 26
        && s.bytes().next().is_some_and(|b| (b'0'..=b'7').contains(&b))
        && s.bytes()
            .all(|b| is_crockford_lower(b.to_ascii_lowercase()) && !b.is_ascii_lowercase())
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

fn is_prefixed(s: &str) -> bool {
    let Some((prefix, body)) = s.split_once('_') else {
        return false;
    };
    OPAQUE_PREFIXES.contains(&prefix)
        && (OPAQUE_BODY_MIN..=OPAQUE_BODY_MAX).contains(&body.len())
        && body.bytes().all(is_crockford_lower)
}

macro_rules! string_newtype_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$t>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// An opaque reference: a UUID (lowercase, hyphenated), a ULID (uppercase Crockford), or a
/// declared prefix (see [`OPAQUE_PREFIXES`]) + `_` + a lowercase Crockford base32 body of at least
/// 80 bits. Crockford base32 has no `i`, `l`, `o` or `u`, so most words cannot be spelt in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpaqueId(String);

impl OpaqueId {
    /// Parses an opaque id.
    ///
    /// # Errors
    /// [`IdError`] when `s` has none of the three shapes.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if is_uuid(s) || is_ulid(s) || is_prefixed(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(id_error("opaque id", s))
        }
    }

    /// A fresh random id with the given declared prefix (26 base32 characters = 130 bits).
    #[must_use]
    pub fn random(prefix: OpaquePrefix) -> Self {
        let ulid = ulid::Ulid::new().to_string().to_ascii_lowercase();
        Self(format!("{}_{ulid}", prefix.as_str()))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype_serde!(OpaqueId);

/// The prefixes the rail itself mints ids with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpaquePrefix {
    /// A draft reference.
    Draft,
}

impl OpaquePrefix {
    fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
        }
    }
}

/// A caller's request id: a ULID or a UUID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// Parses a request id.
    ///
    /// # Errors
    /// [`IdError`] unless `s` is a ULID or a lowercase hyphenated UUID.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if is_uuid(s) || is_ulid(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(id_error("request id (ULID or UUID)", s))
        }
    }
    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype_serde!(RequestId);

/// A W3C trace id (Trace Context, `trace-id`): 32 lowercase hex digits, not all zero. An
/// attempt's records carry the trace id of the trace it ran in, so an auditor can go from a
/// record to its trace, and an engineer from a trace to the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TraceId(String);

impl TraceId {
    /// Parses a trace id.
    ///
    /// # Errors
    /// [`IdError`] unless `s` is 32 lowercase hex digits, not all zero.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let hex = s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if hex && s.bytes().any(|b| b != b'0') {
            Ok(Self(s.to_owned()))
        } else {
            Err(id_error(
                "trace id (32 lowercase hex digits, not all zero)",
                s,
            ))
        }
    }

    /// The trace id of 16 bytes; `None` when all are zero (W3C: an invalid trace id).
    #[must_use]
    pub fn from_bytes(bytes: [u8; 16]) -> Option<Self> {
        bytes
            .iter()
            .any(|b| *b != 0)
            .then(|| Self(hex::encode(bytes)))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype_serde!(TraceId);

/// An attempt id: a ULID minted by the rail when an attempt is received.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttemptId(String);

impl AttemptId {
    /// Mints a fresh attempt id.
    #[must_use]
    pub fn mint() -> Self {
        Self(ulid::Ulid::new().to_string())
    }
    /// Parses an attempt id.
    ///
    /// # Errors
    /// [`IdError`] unless `s` is a ULID.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if is_ulid(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(id_error("attempt id (ULID)", s))
        }
    }
    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype_serde!(AttemptId);

/// An approved caller's id from the configuration: `[a-z][a-z0-9-]{0,62}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallerId(String);

impl CallerId {
    /// Parses a caller id.
    ///
    /// # Errors
    /// [`IdError`] unless `s` is 1 to 63 characters of `[a-z0-9-]` starting with a letter.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = (1..=63).contains(&s.len())
            && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(id_error("caller id", s))
        }
    }
    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype_serde!(CallerId);

/// A SHA-256 digest, written `sha256:<64 lowercase hex>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// Digest of `bytes`.
    #[must_use]
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }
    /// Wraps raw digest bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    /// The raw digest bytes.
    #[must_use]
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// Parses `sha256:<64 lowercase hex>` or bare 64 lowercase hex.
    ///
    /// # Errors
    /// [`IdError`] for any other shape.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let hexpart = s.strip_prefix("sha256:").unwrap_or(s);
        let mut out = [0u8; 32];
        if hexpart.len() != 64 || hexpart.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(id_error("sha256 digest", s));
        }
        hex::decode_to_slice(hexpart, &mut out).map_err(|_| id_error("sha256 digest", s))?;
        Ok(Self(out))
    }
    /// Bare lowercase hex.
    #[must_use]
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}
impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}
impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_ids_accept_the_three_shapes_only() {
        for ok in [
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "subj_7k3m9q2x4w8r5t6v",
            "draft_01jd3k5m7n9p1q3r5s7t9v1w3x",
        ] {
            assert!(OpaqueId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "john_smith",
            "subj_johnsmithjohnsmith",
            "subj_7k3m9q2x",
            "patient_7k3m9q2x4w8r5t6v",
            "0F8FAD5B-D9CB-469F-A165-70867728950E",
            "{0f8fad5b-d9cb-469f-a165-70867728950e}",
            "subj_7k3m9q2x4w8r5t6v ",
            "123-45-6789",
            "jane.doe@example.org",
        ] {
            assert!(OpaqueId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn id_errors_never_contain_the_input() {
        let canary = "CANARY-Jane-Doe-123-45-6789";
        let e = OpaqueId::parse(canary).unwrap_err();
        assert!(!e.to_string().contains("CANARY"));
        assert!(!format!("{e:?}").contains("CANARY"));
    }

    #[test]
    fn digests_round_trip() {
        let d = Sha256Digest::of(b"abc");
        let s = d.to_string();
        assert!(s.starts_with("sha256:ba7816bf"));
        assert_eq!(Sha256Digest::parse(&s).unwrap(), d);
        assert!(Sha256Digest::parse("sha256:xyz").is_err());
    }

    #[test]
    fn trace_ids_are_32_lowercase_hex_digits_not_all_zero() {
        assert!(TraceId::parse("4bf92f3577b34da6a3ce929d0e0e4736").is_ok());
        for bad in [
            "",
            "00000000000000000000000000000000",
            "4BF92F3577B34DA6A3CE929D0E0E4736",
            "4bf92f3577b34da6a3ce929d0e0e473",
            "4bf92f3577b34da6a3ce929d0e0e47360",
            "4bf92f3577b34da6a3ce929d0e0e473g",
            "4bf92f35-77b3-4da6-a3ce-929d0e0e",
        ] {
            assert!(TraceId::parse(bad).is_err(), "{bad}");
        }
        assert!(TraceId::from_bytes([0; 16]).is_none());
        let one = TraceId::from_bytes([1; 16]).unwrap();
        assert_eq!(TraceId::parse(one.as_str()).unwrap(), one);
    }

    #[test]
    fn minted_ids_parse() {
        assert!(AttemptId::parse(AttemptId::mint().as_str()).is_ok());
        assert!(OpaqueId::parse(OpaqueId::random(OpaquePrefix::Draft).as_str()).is_ok());
    }
}
