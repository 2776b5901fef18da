//! C2SP tlog-checkpoint bodies in C2SP signed notes, Ed25519.
//!
//! Formats: <https://c2sp.org/tlog-checkpoint>, <https://c2sp.org/signed-note>, key texts as
//! `golang.org/x/mod/sumdb/note`.
//!
//! Design decision: the note parser is as strict as Go's `note.Open` (no control characters,
//! a final signature block, at most 100 well-formed signature lines, a bad signature by *our*
//! key fails the whole note), and the checkpoint body is only parsed after its signature
//! verified. Anything Go would reject we reject, so a note we accept is one every other
//! checkpoint verifier accepts too, and unauthenticated bytes are never interpreted.

use super::Hash;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// signed-note: the Ed25519 signature type byte.
const ALG_ED25519: u8 = 0x01;
/// signed-note: a signature line starts with U+2014 EM DASH and a space.
pub(crate) const SIG_PREFIX: &str = "\u{2014} ";
/// Go's `note.Open` limit; bounds the work an attacker can make us do.
const MAX_SIGS: usize = 100;
pub(crate) const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// Errors from keys and signed notes.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Malformed key, note or checkpoint body.
    #[error("malformed {what}")]
    Malformed {
        /// What was malformed.
        what: &'static str,
    },
    /// No signature by the expected key verifies.
    #[error("no valid signature by the log's key")]
    BadSignature,
    /// Signed by a key of this log that is not in force at the checkpoint's size: a key retired
    /// by a rotation at size R signs no checkpoint beyond R, and its successor none before R
    /// (see [`crate::rotation::LogKeys`]).
    #[error("signed by a key of this log that is not in force at size {size}")]
    KeyNotInForce {
        /// The checkpoint's size.
        size: u64,
    },
}

pub(crate) fn malformed(what: &'static str) -> CheckpointError {
    CheckpointError::Malformed { what }
}

/// The domain separator of a record signature. It contains spaces, which no note key name (and
/// so no checkpoint origin line) may, so a record signature can never be read as a signed note.
pub const RECORD_SIG_DOMAIN: &str = "mig06 audit record v1";

/// The exact bytes a record signature signs: `RECORD_SIG_DOMAIN`, LF, the log's origin, LF, and
/// the record's unsigned bytes (the JSON line without its final `"sig"` member).
#[must_use]
pub fn record_message(origin: &str, unsigned: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(RECORD_SIG_DOMAIN.len() + origin.len() + 2 + unsigned.len());
    m.extend_from_slice(RECORD_SIG_DOMAIN.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(origin.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(unsigned);
    m
}

/// A checkpoint body: origin, tree size, root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
}

/// signed-note key name: non-empty, no whitespace, no `+` (Go's `isValidName`). Control
/// characters are refused too: Go's `Open` would reject any note carrying them.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
}

/// signed-note key ID: first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key), big-endian.
fn key_id(name: &str, key: &VerifyingKey) -> u32 {
    key_id_for(name, ALG_ED25519, key)
}

/// C2SP signed-note "Signatures": key ID = SHA-256(name || 0x0A || type byte || key)[:4],
/// big-endian; the type byte is 0x01 for a log's Ed25519 key, 0x04 for a cosigner's
/// (C2SP tlog-cosignature, "Format").
pub(crate) fn key_id_for(name: &str, alg: u8, key: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(key.as_bytes());
    let digest: [u8; 32] = h.finalize().into();
    let [a, b, c, d, ..] = digest;
    u32::from_be_bytes([a, b, c, d])
}

/// Parses `hex8+base64(0x01 || 32 bytes)`, the tail shared by both key texts.
fn parse_key_tail(hex: &str, b64: &str) -> Result<(u32, [u8; 32]), CheckpointError> {
    parse_key_tail_for(ALG_ED25519, hex, b64)
}

/// Parses `hex8+base64(alg || 32 bytes)` (signed-note "Verifier keys").
pub(crate) fn parse_key_tail_for(
    alg: u8,
    hex: &str,
    b64: &str,
) -> Result<(u32, [u8; 32]), CheckpointError> {
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed("key id"));
    }
    let id = u32::from_str_radix(hex, 16).map_err(|_| malformed("key id"))?;
    let raw = B64.decode(b64).map_err(|_| malformed("key"))?;
    match raw.split_first() {
        Some((&first, key)) if first == alg => {
            Ok((id, key.try_into().map_err(|_| malformed("key"))?))
        }
        _ => Err(malformed("key")),
    }
}

fn encode_key(bytes: &[u8; 32]) -> String {
    encode_key_for(ALG_ED25519, bytes)
}

/// base64(alg || 32 key bytes), the last part of a signed-note key text.
pub(crate) fn encode_key_for(alg: u8, bytes: &[u8; 32]) -> String {
    let mut raw = Vec::with_capacity(33);
    raw.push(alg);
    raw.extend_from_slice(bytes);
    B64.encode(raw)
}

/// C2SP tlog-checkpoint body: origin, decimal size, base64 root, each newline-terminated.
fn checkpoint_body(origin: &str, size: u64, root: &Hash) -> String {
    format!("{origin}\n{size}\n{}\n", B64.encode(root))
}

/// Parses a C2SP tlog-checkpoint body (extension lines allowed, blank lines not).
pub(crate) fn parse_checkpoint(text: &str) -> Result<Checkpoint, CheckpointError> {
    let body = text.strip_suffix('\n').ok_or(malformed("checkpoint"))?;
    let mut lines = body.split('\n');
    let origin = lines.next().unwrap_or_default();
    if origin.is_empty() {
        return Err(malformed("checkpoint origin"));
    }
    let size_text = lines.next().ok_or(malformed("checkpoint size"))?;
    let canonical = !size_text.is_empty()
        && size_text.bytes().all(|b| b.is_ascii_digit())
        && (size_text == "0" || !size_text.starts_with('0'));
    if !canonical {
        return Err(malformed("checkpoint size"));
    }
    let size = size_text
        .parse()
        .map_err(|_| malformed("checkpoint size"))?;
    let root_text = lines.next().ok_or(malformed("checkpoint root"))?;
    let root = B64
        .decode(root_text)
        .ok()
        .and_then(|r| Hash::try_from(r).ok())
        .ok_or(malformed("checkpoint root"))?;
    if lines.any(str::is_empty) {
        return Err(malformed("checkpoint extension line"));
    }
    Ok(Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
    })
}

/// The log's signing key (note name = origin).
pub struct LogSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the seed: this ends up in logs.
        f.debug_struct("LogSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.id))
            .finish_non_exhaustive()
    }
}

impl LogSigner {
    /// Generates a new Ed25519 key for a log named `origin`.
    ///
    /// # Errors
    /// `Malformed` when the name is not a valid note key name.
    pub fn generate(origin: &str) -> Result<Self, CheckpointError> {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        Self::from_parts(origin, key)
    }

    fn from_parts(name: &str, key: SigningKey) -> Result<Self, CheckpointError> {
        if !is_valid_name(name) {
            return Err(malformed("key name"));
        }
        let id = key_id(name, &key.verifying_key());
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Parses a `PRIVATE+KEY+name+keyid+base64` key.
    ///
    /// # Errors
    /// `Malformed` when the text is not such a key, or its key id does not match the key.
    pub fn from_private_key(text: &str) -> Result<Self, CheckpointError> {
        let rest = text
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or(malformed("private key"))?;
        // The base64 alphabet contains '+', so only the first two '+' are separators.
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hex), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed("private key"));
        };
        let (id, seed) = parse_key_tail(hex, b64)?;
        let signer = Self::from_parts(name, SigningKey::from_bytes(&seed))?;
        if signer.id != id {
            return Err(malformed("private key id"));
        }
        Ok(signer)
    }

    /// The private key text.
    #[must_use]
    pub fn private_key(&self) -> String {
        let seed = encode_key(self.key.as_bytes());
        format!("{PRIVATE_PREFIX}{}+{:08x}+{seed}", self.name, self.id)
    }

    /// The matching verifier.
    #[must_use]
    pub fn verifier(&self) -> LogVerifier {
        LogVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The log's origin line (also the key name).
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.name
    }

    /// Signs a checkpoint, returning the signed note text.
    ///
    /// The body's origin line is always this signer's origin (`cp.origin` is not consulted), so
    /// the output is always a well-formed checkpoint the matching verifier accepts. Ed25519 is
    /// deterministic: the same checkpoint always gives the same note.
    #[must_use]
    pub fn sign(&self, cp: &Checkpoint) -> String {
        self.sign_text(&checkpoint_body(&self.name, cp.size, &cp.root))
    }

    // INV-AUDIT-AUTHENTIC: the rail signs every record it appends with this, so a reader trusts a
    // record past the latest checkpoint only when the log's key signed it.
    /// Signs one audit record's unsigned bytes (see [`record_message`]): the record's own
    /// authenticator, so a record past the latest signed checkpoint can be told from a forgery.
    /// Returns the Ed25519 signature in standard base64.
    #[must_use]
    pub fn sign_record(&self, unsigned: &[u8]) -> String {
        B64.encode(
            self.key
                .sign(&record_message(&self.name, unsigned))
                .to_bytes(),
        )
    }

    /// Signs arbitrary note text (must be non-empty, newline-terminated, no blank last line).
    pub(crate) fn sign_text(&self, text: &str) -> String {
        format!("{text}\n{}", self.sig_line(text))
    }

    /// This key's signature line over note text `text`: `— name base64(key ID || signature)`
    /// and a newline (C2SP signed-note "Signatures").
    pub(crate) fn sig_line(&self, text: &str) -> String {
        let mut sig = Vec::with_capacity(68);
        sig.extend_from_slice(&self.id.to_be_bytes());
        sig.extend_from_slice(&self.key.sign(text.as_bytes()).to_bytes());
        format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(sig))
    }
}

/// The keys (`name+keyid`) a signed note's signature lines name, in order, without verifying
/// any: for telling an operator that a note is signed by another key than the one given. Empty
/// when the note has no well-formed signature block.
#[must_use]
pub fn note_signers(note: &str) -> Vec<String> {
    let Some(split) = note.rfind("\n\n") else {
        return Vec::new();
    };
    let sigs = note.get(split + 2..).unwrap_or_default();
    sigs.lines()
        .take(MAX_SIGS)
        .filter_map(|line| {
            let (name, b64) = line.strip_prefix(SIG_PREFIX)?.split_once(' ')?;
            let sig = B64.decode(b64).ok()?;
            let (id, _) = sig.split_first_chunk::<4>()?;
            is_valid_name(name).then(|| format!("{name}+{:08x}", u32::from_be_bytes(*id)))
        })
        .collect()
}

/// A log's verifier key. Two are equal when name, key ID and key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl LogVerifier {
    /// Parses a `name+keyid+base64` verifier key.
    ///
    /// # Errors
    /// `Malformed` when the text is not such a key, or its key id does not match the key.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(hex), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed("verifier key"));
        };
        if !is_valid_name(name) {
            return Err(malformed("key name"));
        }
        let (id, bytes) = parse_key_tail(hex, b64)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| malformed("key"))?;
        if key_id(name, &key) != id {
            return Err(malformed("verifier key id"));
        }
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The key's name and id, `name+keyid`: how a note's signature line names its key.
    #[must_use]
    pub fn key_name(&self) -> String {
        format!("{}+{:08x}", self.name, self.id)
    }

    /// The verifier key text.
    #[must_use]
    pub fn vkey(&self) -> String {
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.id,
            encode_key(self.key.as_bytes())
        )
    }

    /// Whether `sig` (standard base64, as [`LogSigner::sign_record`] writes it) is this key's
    /// signature of the record bytes `unsigned`.
    #[must_use]
    pub fn verify_record(&self, unsigned: &[u8], sig: &str) -> bool {
        let Ok(bytes) = B64.decode(sig) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&bytes) else {
            return false;
        };
        // The STANDARD engine refuses non-canonical padding bits: one signature, one spelling.
        self.key
            .verify_strict(&record_message(&self.name, unsigned), &sig)
            .is_ok()
    }

    /// Verifies a signed note and parses its checkpoint body.
    ///
    /// # Errors
    /// `BadSignature` when no signature line carries this key's name and id, or one does and
    /// fails to verify. `Malformed` when the note or the checkpoint body is malformed, or the
    /// checkpoint's origin is not this key's name.
    pub fn verify(&self, note: &str) -> Result<Checkpoint, CheckpointError> {
        let cp = parse_checkpoint(self.verify_note(note)?)?;
        if cp.origin != self.name {
            return Err(malformed("checkpoint origin"));
        }
        Ok(cp)
    }

    /// Verifies a signed note and returns its checkpoint with the exact signed body text (final
    /// newline included): what a witness cosigns (C2SP tlog-cosignature, "Ed25519 signed
    /// message": the whole note body, extension lines included).
    ///
    /// # Errors
    /// As [`LogVerifier::verify`].
    pub fn verify_body<'a>(&self, note: &'a str) -> Result<(Checkpoint, &'a str), CheckpointError> {
        let text = self.verify_note(note)?;
        let cp = parse_checkpoint(text)?;
        if cp.origin != self.name {
            return Err(malformed("checkpoint origin"));
        }
        Ok((cp, text))
    }

    /// The log key's name (the origin line of the checkpoints it signs).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This key's signature lines in `note` (name and key ID match), each newline-terminated,
    /// in order; empty when the note is malformed or has none. Call after a successful
    /// [`LogVerifier::verify_body`]: this does not verify them again.
    #[must_use]
    pub fn own_lines(&self, note: &str) -> String {
        let Ok(split) = split_note(note) else {
            return String::new();
        };
        split
            .lines()
            .iter()
            .filter(|l| l.name == self.name && l.id == self.id)
            .map(|l| {
                let mut raw = l.id.to_be_bytes().to_vec();
                raw.extend_from_slice(l.sig);
                format!("{SIG_PREFIX}{} {}\n", l.name, B64.encode(raw))
            })
            .collect()
    }

    /// The key ID (signed-note "Signatures").
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// Whether `line` carries this key's name and ID and its signature of `text` verifies.
    pub(crate) fn verifies_line(&self, text: &str, line: &SigLine<'_>) -> bool {
        line.name == self.name
            && line.id == self.id
            && Signature::from_slice(line.sig)
                .is_ok_and(|sig| self.key.verify_strict(text.as_bytes(), &sig).is_ok())
    }

    /// Verifies a signed note (any text) and returns its signed text, final newline included.
    pub(crate) fn verify_note<'a>(&self, note: &'a str) -> Result<&'a str, CheckpointError> {
        let split = split_note(note)?;
        let text = split.text;
        let mut verified = false;
        for line in split.lines() {
            if line.name == self.name && line.id == self.id {
                let sig =
                    Signature::from_slice(line.sig).map_err(|_| CheckpointError::BadSignature)?;
                self.key
                    .verify_strict(text.as_bytes(), &sig)
                    .map_err(|_| CheckpointError::BadSignature)?;
                verified = true;
            }
        }
        if verified {
            Ok(text)
        } else {
            Err(CheckpointError::BadSignature)
        }
    }
}

/// One well-formed signature line of a signed note: key name, key ID, signature bytes.
pub(crate) struct SigLine<'a> {
    pub(crate) name: &'a str,
    pub(crate) id: u32,
    pub(crate) sig: &'a [u8],
}

/// Decoded signature lines, their bytes owned by the caller of [`split_note`].
pub(crate) struct SplitNote<'a> {
    /// The signed text, final newline included.
    pub(crate) text: &'a str,
    decoded: Vec<(&'a str, Vec<u8>)>,
}

impl SplitNote<'_> {
    /// The signature lines, in order.
    pub(crate) fn lines(&self) -> Vec<SigLine<'_>> {
        self.decoded
            .iter()
            .filter_map(|(name, raw)| {
                let (id, sig) = raw.split_first_chunk::<4>()?;
                Some(SigLine {
                    name,
                    id: u32::from_be_bytes(*id),
                    sig,
                })
            })
            .collect()
    }
}

/// C2SP signed-note "Format" and "Signatures": splits a note into its text and its signature
/// lines, as strictly as Go's `note.Open` (no control characters but newline, a final block of
/// at most [`MAX_SIGS`] lines `— <name> base64(key ID || signature)`, each well formed).
pub(crate) fn split_note(note: &str) -> Result<SplitNote<'_>, CheckpointError> {
    if note.chars().any(|c| c < ' ' && c != '\n') {
        return Err(malformed("note"));
    }
    // The signature block follows the last blank line.
    let split = note.rfind("\n\n").ok_or(malformed("note"))?;
    let text = note.get(..=split).ok_or(malformed("note"))?;
    let sigs = note.get(split + 2..).ok_or(malformed("note"))?;
    let sigs = sigs.strip_suffix('\n').ok_or(malformed("note"))?;
    let mut decoded = Vec::new();
    for (n, line) in sigs.split('\n').enumerate() {
        if n >= MAX_SIGS {
            return Err(malformed("note"));
        }
        let line = line
            .strip_prefix(SIG_PREFIX)
            .ok_or(malformed("signature line"))?;
        let (name, b64) = line.split_once(' ').ok_or(malformed("signature line"))?;
        let sig = B64.decode(b64).map_err(|_| malformed("signature line"))?;
        if !is_valid_name(name) || sig.len() <= 4 {
            return Err(malformed("signature line"));
        }
        decoded.push((name, sig));
    }
    Ok(SplitNote { text, decoded })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from golang.org/x/mod sumdb/note/note_test.go (TestNewVerifier, TestSign, TestOpen).
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    #[test]
    fn note_signers_names_every_signature_line_without_verifying() {
        let note = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        assert_eq!(
            note_signers(&note),
            ["PeterNeumann+c74f20a3", "EnochRoot+af0cfe78"]
        );
        let peter = LogVerifier::parse(PETER_VKEY).unwrap();
        assert_eq!(peter.key_name(), "PeterNeumann+c74f20a3");
        assert!(note_signers(TEXT).is_empty());
    }

    #[test]
    fn go_note_vectors_reproduce() {
        let signer = LogSigner::from_private_key(PETER_SKEY).unwrap();
        assert_eq!(signer.id, 0xc74f_20a3);
        assert_eq!(signer.private_key(), PETER_SKEY);
        assert_eq!(signer.verifier().vkey(), PETER_VKEY);
        let want = format!("{TEXT}\n{PETER_SIG}");
        assert_eq!(signer.sign_text(TEXT), want);

        let peter = LogVerifier::parse(PETER_VKEY).unwrap();
        assert_eq!(peter.vkey(), PETER_VKEY);
        assert_eq!(peter.verify_note(&want).unwrap(), TEXT);
        // Another key's signature alongside ours is fine; alone it is not ours.
        let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        assert_eq!(peter.verify_note(&both).unwrap(), TEXT);
        let enoch = LogVerifier::parse(ENOCH_VKEY).unwrap();
        assert_eq!(enoch.id, 0xaf0c_fe78);
        assert_eq!(enoch.verify_note(&both).unwrap(), TEXT);
        assert!(matches!(
            enoch.verify_note(&want),
            Err(CheckpointError::BadSignature)
        ));
        // Not a checkpoint body, so `verify` refuses it even though the signature is good.
        assert!(matches!(
            peter.verify(&want),
            Err(CheckpointError::Malformed { .. })
        ));
    }

    #[test]
    fn go_bad_notes_rejected() {
        let peter = LogVerifier::parse(PETER_VKEY).unwrap();
        let (a, b) = PETER_SIG.split_at(60);
        let bad_sig = format!("{TEXT}\n{a}ABCD{b}");
        assert!(matches!(
            peter.verify_note(&bad_sig),
            Err(CheckpointError::BadSignature)
        ));
        let too_many = format!("{TEXT}\n{}", PETER_SIG.repeat(101));
        assert!(matches!(
            peter.verify_note(&too_many),
            Err(CheckpointError::Malformed { .. })
        ));
        let bad = [
            TEXT.to_owned(),
            format!("{TEXT}\n"),
            format!("{TEXT}\n{}", PETER_SIG.trim_end_matches('\n')),
            format!("\x01{TEXT}\n{PETER_SIG}"),
            format!(
                "{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
            ),
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
        ];
        for msg in &bad {
            assert!(
                matches!(
                    peter.verify_note(msg),
                    Err(CheckpointError::Malformed { .. })
                ),
                "{msg:?}"
            );
        }
    }

    #[test]
    fn go_key_manglings_rejected() {
        // As Go's TestNewVerifier / TestNewSigner: every proper substring and every one-byte
        // increment of a valid key must be refused.
        for (key, parse) in [
            (
                PETER_VKEY,
                (|t: &str| LogVerifier::parse(t).is_ok()) as fn(&str) -> bool,
            ),
            (PETER_SKEY, |t: &str| LogSigner::from_private_key(t).is_ok()),
        ] {
            assert!(parse(key));
            let b = key.as_bytes();
            for i in 0..=b.len() {
                for j in i + 1..=b.len() {
                    if (i, j) != (0, b.len()) {
                        let s = std::str::from_utf8(&b[i..j]).unwrap();
                        assert!(!parse(s), "{s}");
                    }
                }
            }
            for i in 0..b.len() {
                let mut m = b.to_vec();
                m[i] += 1;
                if let Ok(s) = std::str::from_utf8(&m) {
                    assert!(!parse(s), "{s}");
                }
            }
        }
        // Wrong-length key and unknown algorithm, each with a correctly adjusted key id.
        assert!(
            LogVerifier::parse(
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
            )
            .is_err()
        );
        assert!(
            LogVerifier::parse(
                "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            )
            .is_err()
        );
    }

    fn body_signed_by(signer: &LogSigner, body: &str) -> String {
        signer.sign_text(body)
    }

    #[test]
    fn debug_hides_the_seed() {
        let signer = LogSigner::from_private_key(PETER_SKEY).unwrap();
        let shown = format!("{signer:?}");
        assert!(shown.contains("PeterNeumann") && shown.contains("c74f20a3"));
        assert!(!shown.contains("AYEKFALV"));
    }

    #[test]
    fn checkpoint_bodies() {
        let signer = LogSigner::generate("example.com/log").unwrap();
        let v = signer.verifier();
        let root = B64.encode([7u8; 32]);
        let ok = [
            format!("example.com/log\n0\n{root}\n"),
            format!("example.com/log\n18446744073709551615\n{root}\n"),
            format!("example.com/log\n5\n{root}\nextension line\n\u{2014} not a sig\n"),
        ];
        for body in &ok {
            let cp = v.verify(&body_signed_by(&signer, body)).unwrap();
            assert_eq!(cp.root, [7u8; 32]);
            assert_eq!(cp.origin, "example.com/log");
        }
        let short_root = B64.encode([7u8; 31]);
        let long_root = B64.encode([7u8; 33]);
        let bad = [
            format!("other.example/log\n5\n{root}\n"),
            format!("\n5\n{root}\n"),
            format!("example.com/log\n05\n{root}\n"),
            format!("example.com/log\n00\n{root}\n"),
            format!("example.com/log\n+5\n{root}\n"),
            format!("example.com/log\n-5\n{root}\n"),
            format!("example.com/log\n 5\n{root}\n"),
            format!("example.com/log\n\n{root}\n"),
            format!("example.com/log\n18446744073709551616\n{root}\n"),
            format!("example.com/log\n5\n{short_root}\n"),
            format!("example.com/log\n5\n{long_root}\n"),
            format!("example.com/log\n5\n{}\n", root.trim_end_matches('=')),
            format!("example.com/log\n5\n{} \n", root),
            "example.com/log\n5\n".to_owned(),
            "example.com/log\n".to_owned(),
        ];
        for body in &bad {
            let note = body_signed_by(&signer, body);
            assert!(
                matches!(v.verify(&note), Err(CheckpointError::Malformed { .. })),
                "{body:?}"
            );
        }
        // A blank line inside the body splits it: the "signature block" is then not one.
        let note = body_signed_by(&signer, &format!("example.com/log\n5\n{root}\n\next\n"));
        assert!(v.verify(&note).is_err());
    }
}
