//! The C2SP tlog-witness `add-checkpoint` bodies (<https://c2sp.org/tlog-witness>,
//! "add-checkpoint"), byte for byte.
//!
//! Design decision: one strict parser and one encoder, shared by the server and the client,
//! with a closed error type that reports line numbers and kinds, never the bytes it refused.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use mig06_tlog::Hash;

/// tlog-witness "add-checkpoint": "The client MUST NOT send more than 63 consistency proof
/// lines."
pub const MAX_PROOF_LINES: usize = 63;

/// The largest request body accepted: an old size line, 63 proof lines and a checkpoint with
/// up to 100 signature lines fit many times over.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// tlog-witness "add-checkpoint": the `Content-Type` of a 409 Conflict answer.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The path of the call under the submission prefix.
pub const ADD_CHECKPOINT_PATH: &str = "/add-checkpoint";

/// Why a request body was refused (a 400 Bad Request at the witness). Never carries the input.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    /// The body exceeds [`MAX_REQUEST_BYTES`].
    #[error("request body larger than {MAX_REQUEST_BYTES} bytes")]
    TooLarge,
    /// The body is not UTF-8.
    #[error("request body is not UTF-8")]
    NotUtf8,
    /// The first line is not `old <decimal, no leading zeroes>`.
    #[error("malformed old size line")]
    OldSizeLine,
    /// A consistency proof line is not one base64 SHA-256 hash.
    #[error("malformed consistency proof line {line}")]
    ProofLine {
        /// 1-based line number in the body.
        line: usize,
    },
    /// More than [`MAX_PROOF_LINES`] proof lines.
    #[error("more than {MAX_PROOF_LINES} consistency proof lines")]
    TooManyProofLines,
    /// No empty line before the checkpoint, or nothing after it.
    #[error("missing checkpoint after the empty line")]
    NoCheckpoint,
}

/// Parses an ASCII decimal with no leading zeroes (`0` itself allowed), as both the old size
/// line and the 409 body spell a size.
#[must_use]
pub fn parse_size(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

/// A parsed `add-checkpoint` request: old size, consistency proof, checkpoint note (not yet
/// verified: the witness verifies it against the origin's keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpointRequest {
    old_size: u64,
    proof: Vec<Hash>,
    note: String,
}

impl AddCheckpointRequest {
    /// A request to send.
    ///
    /// # Errors
    /// `TooManyProofLines` above 63 hashes, `NoCheckpoint` for an empty note, `TooLarge` when
    /// the encoded body would exceed [`MAX_REQUEST_BYTES`].
    pub fn new(old_size: u64, proof: &[Hash], note: &str) -> Result<Self, RequestError> {
        if proof.len() > MAX_PROOF_LINES {
            return Err(RequestError::TooManyProofLines);
        }
        if note.is_empty() {
            return Err(RequestError::NoCheckpoint);
        }
        let req = Self {
            old_size,
            proof: proof.to_vec(),
            note: note.to_owned(),
        };
        if req.encode().len() > MAX_REQUEST_BYTES {
            return Err(RequestError::TooLarge);
        }
        Ok(req)
    }

    /// Parses a request body strictly: `old <size>` LF, zero to 63 lines each one base64
    /// (RFC 4648 §4, padded) 32-byte hash and LF, an empty line, then a non-empty checkpoint.
    ///
    /// # Errors
    /// A [`RequestError`] naming the first rule broken.
    pub fn parse(body: &[u8]) -> Result<Self, RequestError> {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(RequestError::TooLarge);
        }
        let text = std::str::from_utf8(body).map_err(|_| RequestError::NotUtf8)?;
        let (first, mut rest) = text.split_once('\n').ok_or(RequestError::OldSizeLine)?;
        let old_size = first
            .strip_prefix("old ")
            .and_then(parse_size)
            .ok_or(RequestError::OldSizeLine)?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = rest.split_once('\n').ok_or(RequestError::NoCheckpoint)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(RequestError::TooManyProofLines);
            }
            let hash = B64
                .decode(line)
                .ok()
                .and_then(|h| Hash::try_from(h).ok())
                .ok_or(RequestError::ProofLine {
                    line: proof.len() + 2,
                })?;
            proof.push(hash);
        }
        if rest.is_empty() {
            return Err(RequestError::NoCheckpoint);
        }
        Ok(Self {
            old_size,
            proof,
            note: rest.to_owned(),
        })
    }

    /// The request body, byte for byte as the spec's example lays it out.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut out = format!("old {}\n", self.old_size);
        for h in &self.proof {
            out.push_str(&B64.encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.note);
        out
    }

    /// The old size.
    #[must_use]
    pub fn old_size(&self) -> u64 {
        self.old_size
    }

    /// The consistency proof from the old size to the checkpoint's size.
    #[must_use]
    pub fn proof(&self) -> &[Hash] {
        &self.proof
    }

    /// The checkpoint note, as sent.
    #[must_use]
    pub fn note(&self) -> &str {
        &self.note
    }
}

/// The body of a 409 Conflict answer: the witness's size in decimal and a newline.
#[must_use]
pub fn encode_conflict(size: u64) -> String {
    format!("{size}\n")
}

/// Parses the body of a 409 Conflict answer.
#[must_use]
pub fn parse_conflict(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?;
    parse_size(text.strip_suffix('\n')?)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::string_slice,
        reason = "tests"
    )]
    use super::*;

    const NOTE: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

    #[test]
    fn spec_example_round_trips() {
        // The tlog-witness example body, verbatim (first two signature lines kept).
        let body = format!(
            "old 20852014\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\njrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\n{NOTE}"
        );
        let req = AddCheckpointRequest::parse(body.as_bytes()).unwrap();
        assert_eq!(req.old_size(), 20_852_014);
        assert_eq!(req.proof().len(), 4);
        assert_eq!(req.note(), NOTE);
        assert_eq!(req.encode(), body);
    }

    #[test]
    fn malformed_bodies_are_refused_with_their_kind() {
        let h = B64.encode([1u8; 32]);
        let cases: Vec<(String, RequestError)> = vec![
            (format!("old 01\n\n{NOTE}"), RequestError::OldSizeLine),
            (format!("old -1\n\n{NOTE}"), RequestError::OldSizeLine),
            (format!("old  1\n\n{NOTE}"), RequestError::OldSizeLine),
            (format!("Old 1\n\n{NOTE}"), RequestError::OldSizeLine),
            (
                format!("old 18446744073709551616\n\n{NOTE}"),
                RequestError::OldSizeLine,
            ),
            (format!("old 1\r\n\n{NOTE}"), RequestError::OldSizeLine),
            ("old 1".to_owned(), RequestError::OldSizeLine),
            (format!("old 1\n{h}\n"), RequestError::NoCheckpoint),
            ("old 1\n\n".to_owned(), RequestError::NoCheckpoint),
            (
                format!("old 1\n{}\n\n{NOTE}", &h[..43]),
                RequestError::ProofLine { line: 2 },
            ),
            (
                format!("old 1\n{h}\n{h} \n\n{NOTE}"),
                RequestError::ProofLine { line: 3 },
            ),
            (
                format!("old 1\n{}\n\n{NOTE}", B64.encode([1u8; 31])),
                RequestError::ProofLine { line: 2 },
            ),
            (
                format!("old 1\n{}\n\n{NOTE}", format!("{h}\n").repeat(64)),
                RequestError::TooManyProofLines,
            ),
        ];
        for (body, want) in cases {
            assert_eq!(
                AddCheckpointRequest::parse(body.as_bytes()),
                Err(want),
                "{body:?}"
            );
        }
        assert_eq!(
            AddCheckpointRequest::parse(&[b'o', 0xff]),
            Err(RequestError::NotUtf8)
        );
        let big = vec![b'a'; MAX_REQUEST_BYTES + 1];
        assert_eq!(
            AddCheckpointRequest::parse(&big),
            Err(RequestError::TooLarge)
        );
        // 63 lines is the limit, not 62.
        let ok = format!("old 1\n{}\n{NOTE}", format!("{h}\n").repeat(63));
        assert_eq!(
            AddCheckpointRequest::parse(ok.as_bytes())
                .unwrap()
                .proof()
                .len(),
            63
        );
    }

    #[test]
    fn errors_never_echo_the_input() {
        let secret = "PATIENT-NAME-ZZZ";
        let body = format!("old {secret}\n\n{NOTE}");
        let err = AddCheckpointRequest::parse(body.as_bytes()).unwrap_err();
        assert!(!format!("{err} {err:?}").contains(secret));
        let body = format!("old 1\n{secret}\n\n{NOTE}");
        let err = AddCheckpointRequest::parse(body.as_bytes()).unwrap_err();
        assert!(!format!("{err} {err:?}").contains(secret));
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any request encodes to a body that parses back to it.
        #[test]
        fn any_request_round_trips(
            old in any::<u64>(),
            proof in prop::collection::vec(any::<[u8; 32]>(), 0..=MAX_PROOF_LINES),
            note in "[a-z./]{1,20}\n[0-9]{1,5}\n[A-Za-z0-9+/=]{4,44}\n\n\u{2014} [a-z.]{1,10} [A-Za-z0-9+/=]{4,40}\n",
        ) {
            let req = AddCheckpointRequest::new(old, &proof, &note).unwrap();
            let body = req.encode();
            prop_assert_eq!(AddCheckpointRequest::parse(body.as_bytes()), Ok(req));
        }

        /// The parser accepts only the canonical spelling: whatever it accepts, re-encoded, is
        /// the very bytes it was given (so one body has one reading), and it never panics on a
        /// damaged body.
        #[test]
        fn whatever_parses_is_canonical(
            old in any::<u64>(),
            proof in prop::collection::vec(any::<[u8; 32]>(), 0..4),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut body = AddCheckpointRequest::new(old, &proof, NOTE).unwrap().encode().into_bytes();
            let i = at.index(body.len());
            body[i] = byte;
            if let Ok(req) = AddCheckpointRequest::parse(&body) {
                prop_assert_eq!(req.encode().into_bytes(), body);
            }
        }

        /// Arbitrary bytes: never a panic, and an error never carries them.
        #[test]
        fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = AddCheckpointRequest::parse(&body);
            let _ = parse_conflict(&body);
        }

        /// A 409 body is the size and a newline, and reads back.
        #[test]
        fn conflict_sizes_round_trip(size in any::<u64>()) {
            prop_assert_eq!(parse_conflict(encode_conflict(size).as_bytes()), Some(size));
        }
    }

    #[test]
    fn conflict_bodies() {
        assert_eq!(encode_conflict(42), "42\n");
        assert_eq!(parse_conflict(b"42\n"), Some(42));
        assert_eq!(parse_conflict(b"0\n"), Some(0));
        for bad in [&b"42"[..], b"042\n", b"\n", b"4 2\n", b"42\n\n", b"-1\n"] {
            assert_eq!(parse_conflict(bad), None, "{bad:?}");
        }
    }
}
