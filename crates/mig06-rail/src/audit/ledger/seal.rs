//! Record signatures: the `sig` member, always the record's last member.
//!
//! A record's signature is Ed25519, by the log's key, over `RECORD_SIG_DOMAIN`, LF, the log's
//! origin, LF, and the record's JSON text without its `sig` member (`{...}` exactly as the
//! line holds it, with `,"sig":"<base64>"` removed from the end). See
//! [`mig06_tlog::checkpoint::record_message`].

use mig06_tlog::checkpoint::{LogSigner, LogVerifier};

use crate::audit::{AuditError, AuditRecord};

// INV-AUDIT-AUTHENTIC: the store signs every record it writes with the log's key; `is_sealed` is
// how a reader tells such a record from a forgery.
/// Serialises `record` (its `sig` is replaced) and signs it: the line to append, without the
/// newline.
///
/// # Errors
/// [`AuditError::Encode`] when the record cannot be serialised.
pub fn seal(record: &mut AuditRecord, signer: &LogSigner) -> Result<Vec<u8>, AuditError> {
    record.sig = None;
    let unsigned = serde_json::to_vec(&*record).map_err(|_| AuditError::Encode)?;
    let sig = signer.sign_record(&unsigned);
    let mut line = unsigned;
    // `{...}` becomes `{...,"sig":"..."}`: serde writes `sig` last, as the struct declares.
    line.pop();
    line.extend_from_slice(b",\"sig\":\"");
    line.extend_from_slice(sig.as_bytes());
    line.extend_from_slice(b"\"}");
    record.sig = Some(sig);
    Ok(line)
}

/// Whether `line` (which parsed as `record`) carries a valid signature by the log's key.
#[must_use]
pub(crate) fn is_sealed(line: &[u8], record: &AuditRecord, verifier: &LogVerifier) -> bool {
    let Some(sig) = &record.sig else {
        return false;
    };
    let suffix_len = sig.len() + b",\"sig\":\"\"}".len();
    let Some(cut) = line.len().checked_sub(suffix_len) else {
        return false;
    };
    let (head, tail) = line.split_at(cut);
    let mut expected = Vec::with_capacity(suffix_len);
    expected.extend_from_slice(b",\"sig\":\"");
    expected.extend_from_slice(sig.as_bytes());
    expected.extend_from_slice(b"\"}");
    if tail != expected.as_slice() {
        return false;
    }
    let mut unsigned = Vec::with_capacity(head.len() + 1);
    unsigned.extend_from_slice(head);
    unsigned.push(b'}');
    verifier.verify_record(&unsigned, sig)
}
