//! Properties checked by the MIG-06 fuzz targets.
//!
//! Each `check_*` function takes the fuzzer's bytes and panics when a property fails; the
//! libFuzzer targets in `fuzz_targets/` only call them. Keeping them here lets the corpus
//! replay test (`cargo test` in this directory) run the same checks on a stable toolchain
//! without libFuzzer.
//!
//! Targets that need a valid input to get anywhere (a signed checkpoint, an evidence token, a
//! well-formed request) have a structured mode chosen by the first byte: the input is built from
//! the fuzzer's bytes, signed with a fixed test key, and then mutated, so the property "a
//! mutation never yields a different accepted value" is exercised, not only "no panic".

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use mig06_phi::Detector;
use mig06_rail::audit::AuditRecord;
use mig06_rail::evidence::{self, EvidenceError};
use mig06_rail::outcome::TerminalCode;
use mig06_rail::request::{Vocabulary, parse_request};
use mig06_tlog::checkpoint::{Checkpoint, LogSigner, LogVerifier};

/// The request size limit the rail uses by default (64 KiB).
pub const MAX_REQUEST: usize = 64 * 1024;

/// The example bundle's vocabulary (the one `mig06 init` writes).
pub static VOCAB: LazyLock<Vocabulary> = LazyLock::new(|| {
    serde_json::from_str(mig06_rail::init::EXAMPLE_BUNDLE[2]).expect("example vocabulary parses")
});

/// The production PHI detector.
pub static DETECTOR: LazyLock<Detector> =
    LazyLock::new(|| Detector::new().expect("the PHI detector compiles"));

/// A fixed test signing key (the Go `note` test vector "PeterNeumann"; not a secret).
pub const TEST_KEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

/// The signer for [`TEST_KEY`].
pub static SIGNER: LazyLock<LogSigner> =
    LazyLock::new(|| LogSigner::from_private_key(TEST_KEY).expect("test key parses"));

/// Its verifier.
pub static VERIFIER: LazyLock<LogVerifier> = LazyLock::new(|| SIGNER.verifier());

/// Characters a rejection reason may contain: codes, counts, `phi:kind,kind`,
/// `malformed_json(line L, column C)`.
fn reason_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | ':' | ',' | '(' | ')' | ' ')
}

/// Characters a rejection message (reason, " at ", path) may contain.
fn message_char(c: char) -> bool {
    reason_char(c) || matches!(c, '$' | '.' | '[' | ']' | '<' | '>' | '#')
}

/// A field path is `$` followed by `.known_key`, `.<key#N>` or `[N]` segments only.
fn path_is_recognised(path: &str) -> bool {
    let Some(mut rest) = path.strip_prefix('$') else {
        return false;
    };
    let known = |k: &str| {
        mig06_rail::request::REQUEST_KEYS.contains(&k)
            || VOCAB
                .actions
                .values()
                .any(|a| a.params.keys().any(|p| p.as_str() == k))
    };
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix(".<key#") {
            let Some((n, r)) = r.split_once('>') else {
                return false;
            };
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            rest = r;
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let (k, r) = r.split_at(end);
            if !known(k) {
                return false;
            }
            rest = r;
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some((n, r)) = r.split_once(']') else {
                return false;
            };
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            rest = r;
        } else {
            return false;
        }
    }
    true
}

/// Input of at least 8 bytes must never appear in an error message. Input made only of the
/// message's own alphabet is exempt: it can coincide with a fixed word ("unknown_field").
fn assert_no_echo(input: &[u8], message: &str, allowed: fn(char) -> bool) {
    if input.len() < 8 {
        return;
    }
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    if text.chars().all(allowed) {
        return;
    }
    assert!(
        !message.contains(text),
        "the message echoes the input ({} bytes)",
        input.len()
    );
}

/// Crockford base32, lowercase (the opaque-id body alphabet).
const CROCKFORD_LOWER: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

fn crockford(bytes: &[u8], n: usize) -> String {
    (0..n)
        .map(|i| {
            let b = bytes.get(i % bytes.len().max(1)).copied().unwrap_or(0);
            char::from(CROCKFORD_LOWER[usize::from(b.wrapping_add(i as u8)) % 32])
        })
        .collect()
}

/// A lowercase hyphenated UUIDv4 from 16 bytes.
fn uuid_v4(b: &[u8; 16]) -> String {
    let mut b = *b;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A ULID (uppercase Crockford, first character 0-7) from 16 bytes.
fn ulid(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(26);
    s.push(char::from(b'0' + (b[0] % 8)));
    s.push_str(&crockford(&b[1..], 25).to_ascii_uppercase());
    s
}

fn take16(data: &[u8], at: usize) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = data.get(at + i).copied().unwrap_or(i as u8);
    }
    out
}

/// Builds a well-formed request from fuzz bytes: UUID or ULID request id, an opaque subject,
/// a vocabulary action and params, sometimes a continuation with a token-shaped evidence text.
pub fn well_formed_request(data: &[u8]) -> String {
    let sel = data.first().copied().unwrap_or(0);
    let id_bytes = take16(data, 1);
    let request_id = if sel & 1 == 0 {
        uuid_v4(&id_bytes)
    } else {
        ulid(&id_bytes)
    };
    let subject = match (sel >> 1) % 3 {
        0 => format!("subj_{}", crockford(data.get(17..).unwrap_or(&[]), 16)),
        1 => uuid_v4(&take16(data, 17)),
        _ => ulid(&take16(data, 17)),
    };
    let kinds = [
        "discharge_summary",
        "referral_letter",
        "prior_authorisation",
    ];
    let kind = kinds[usize::from(sel >> 3) % kinds.len()];
    let pages = if sel & 0x20 != 0 {
        format!(
            r#","pages":{}"#,
            1 + data.get(33).copied().unwrap_or(0) % 20
        )
    } else {
        String::new()
    };
    let trigger = if sel & 0x40 != 0 {
        "operator_continuation"
    } else {
        "operator_explicit"
    };
    let continuation = if sel & 0x80 != 0 {
        let ev: String = data
            .get(34..)
            .unwrap_or(&[])
            .iter()
            .take(200)
            .map(|b| {
                char::from(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.="
                        [usize::from(*b) % 66],
                )
            })
            .collect();
        let ev = if ev.is_empty() {
            "mig06ev1.e30".to_owned()
        } else {
            ev
        };
        format!(r#","continuation":{{"evidence":"{ev}","reason":"operator_amended_request"}}"#)
    } else {
        String::new()
    };
    format!(
        r#"{{"request_id":"{request_id}","trigger":"{trigger}","subject":"{subject}","steps":[{{"action":"draft_note","params":{{"note_kind":"{kind}"{pages}}}}}]{continuation}}}"#
    )
}

/// Request parser. First byte `0xA5`: structured mode (a well-formed request built from the
/// rest must parse, or at most abort for PHI at `$.subject` or `$.continuation.evidence`, the
/// two random texts; a value that passed its strict identifier parse, the request id, is never
/// reported as PHI). Otherwise raw bytes.
///
/// Properties of every rejection: its code is one of the parser's three; its reason uses a
/// closed alphabet; its field path has only recognised keys, indices and `<key#N>`; its message
/// does not contain the input; parsing twice gives the same result.
pub fn check_request(data: &[u8]) {
    if let Some((&0xA5, rest)) = data.split_first() {
        let req = well_formed_request(rest);
        match parse_request(req.as_bytes(), MAX_REQUEST, &VOCAB, &*DETECTOR) {
            Ok(_) => {}
            Err(rej) => {
                // The subject and the evidence text are random text in this mode (the
                // evidence is token-shaped, not a token, so the rail scans it as text), and
                // random text may hold a PHI shape; nowhere else may a PHI report appear.
                let phi_at_random_text = rej.code == TerminalCode::AbortedPhiDetected
                    && matches!(
                        rej.detail.field.as_str(),
                        "$.subject" | "$.continuation.evidence"
                    );
                assert!(
                    phi_at_random_text,
                    "a well-formed request was rejected: {}",
                    rej.message()
                );
            }
        }
        check_request_bytes(req.as_bytes());
        return;
    }
    check_request_bytes(data);
}

fn check_request_bytes(data: &[u8]) {
    let first = parse_request(data, MAX_REQUEST, &VOCAB, &*DETECTOR);
    let second = parse_request(data, MAX_REQUEST, &VOCAB, &*DETECTOR);
    match (&first, &second) {
        (Ok(a), Ok(b)) => {
            assert_eq!(
                a.fingerprint(),
                b.fingerprint(),
                "fingerprint not deterministic"
            );
            assert_eq!(a.request_id, b.request_id);
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "rejection not deterministic");
            assert!(
                matches!(
                    a.code,
                    TerminalCode::DeniedRequestInvalid
                        | TerminalCode::DeniedMultiStep
                        | TerminalCode::AbortedPhiDetected
                ),
                "unexpected code {:?}",
                a.code
            );
            let reason = a.detail.reason.to_string();
            assert!(
                reason.chars().all(reason_char),
                "reason outside the closed alphabet: {} bytes",
                reason.len()
            );
            assert!(
                path_is_recognised(&a.detail.field),
                "field path has an unrecognised segment: {} bytes",
                a.detail.field.len()
            );
            let msg = a.message();
            assert!(msg.chars().all(message_char));
            assert_no_echo(data, &msg, message_char);
        }
        _ => panic!("parse result not deterministic"),
    }
}

/// Audit record decoder: any record that decodes re-encodes to bytes that decode to an equal
/// record, and encoding is a fixed point (what the store hashes is stable).
pub fn check_audit_record(data: &[u8]) {
    let Ok(rec) = serde_json::from_slice::<AuditRecord>(data) else {
        return;
    };
    let bytes = serde_json::to_vec(&rec).expect("a decoded record encodes");
    let back: AuditRecord =
        serde_json::from_slice(&bytes).expect("a re-encoded record decodes again");
    assert_eq!(back, rec, "round trip changed the record");
    let again = serde_json::to_vec(&back).expect("encodes");
    assert_eq!(again, bytes, "encoding is not a fixed point");
}

/// Applies up to 16 edits (replace, insert, delete), 3 bytes each, to `bytes`.
fn mutate(bytes: &mut Vec<u8>, edits: &[u8]) {
    for e in edits.chunks_exact(3).take(16) {
        let (op, pos, val) = (e[0], usize::from(e[1]), e[2]);
        if bytes.is_empty() {
            bytes.push(val);
            continue;
        }
        // Spread positions over the whole text: op's high bits choose the region.
        let region = usize::from(op >> 2) * bytes.len() / 64;
        let at = (region + pos) % bytes.len();
        match op % 3 {
            0 => bytes[at] = val,
            1 => bytes.insert(at, val),
            _ => {
                bytes.remove(at);
            }
        }
    }
}

fn checkpoint_from(data: &[u8]) -> Checkpoint {
    let mut size = [0u8; 8];
    for (i, s) in size.iter_mut().enumerate() {
        *s = data.get(i).copied().unwrap_or(0);
    }
    let mut root = [0u8; 32];
    for (i, r) in root.iter_mut().enumerate() {
        *r = data.get(8 + i).copied().unwrap_or(0);
    }
    Checkpoint {
        origin: SIGNER.origin().to_owned(),
        size: u64::from_le_bytes(size),
        root,
    }
}

/// Checkpoint / signed-note parser. First byte selects: 0 raw note text; 1 a checkpoint built
/// and signed from the input, then mutated; 2 a verifier key text.
///
/// Properties: a freshly signed note verifies to its checkpoint; a mutated note that still
/// verifies yields the same checkpoint (a signature vouches only for its text); a note that
/// verifies and has the canonical form (checkpoint body, one signature) re-encodes to the same
/// bytes; a verifier key that parses re-encodes to the same text (key id case aside).
pub fn check_checkpoint(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 3 {
        0 => {
            let Ok(note) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(cp) = VERIFIER.verify(note) {
                let body = format!("{}\n{}\n{}\n", cp.origin, cp.size, STANDARD.encode(cp.root));
                assert!(
                    note.starts_with(&body),
                    "an accepted note does not start with its body"
                );
                let sigs = note
                    .rsplit_once("\n\n")
                    .map_or(0, |(_, s)| s.lines().count());
                if note.rfind("\n\n") == Some(body.len() - 1) && sigs == 1 {
                    assert_eq!(
                        SIGNER.sign(&cp),
                        note,
                        "a canonical note does not re-encode"
                    );
                }
            }
        }
        1 => {
            let cp = checkpoint_from(rest);
            let note = SIGNER.sign(&cp);
            assert_eq!(
                VERIFIER.verify(&note).ok(),
                Some(cp.clone()),
                "a signed note fails"
            );
            let mut bytes = note.into_bytes();
            mutate(&mut bytes, rest.get(40..).unwrap_or(&[]));
            if let Ok(text) = std::str::from_utf8(&bytes)
                && let Ok(got) = VERIFIER.verify(text)
            {
                assert_eq!(got, cp, "a mutated note verified to another checkpoint");
            }
        }
        _ => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(v) = LogVerifier::parse(text) {
                // `name+keyid+key`: only the 8-hex-digit key id may differ, in case.
                let vkey = v.vkey();
                let mine: Vec<&str> = vkey.splitn(3, '+').collect();
                let theirs: Vec<&str> = text.splitn(3, '+').collect();
                assert_eq!(mine.len(), 3);
                assert_eq!(theirs.len(), 3);
                assert_eq!(mine[0], theirs[0], "key name does not re-encode");
                assert!(
                    mine[1].eq_ignore_ascii_case(theirs[1]),
                    "key id does not re-encode"
                );
                assert_eq!(mine[2], theirs[2], "key does not re-encode");
            }
        }
    }
}

/// A terminal audit record (metadata only, made-up ids) used to build valid tokens.
pub const TOKEN_RECORD: &str = r#"{"prev":"0000000000000000000000000000000000000000000000000000000000000000","seq":0,"ts":"2026-01-01T00:00:00Z","kind":"terminal","attempt_id":"01JD0000000000000000000000","caller":"operator-1","trigger":"operator_explicit","action":"draft_note","request_fp":"sha256:1111111111111111111111111111111111111111111111111111111111111111","policy_digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","code":"DENIED_POLICY","chain_root":"01JD0000000000000000000000","depth":0}"#;

/// The token JSON (before base64) for [`TOKEN_RECORD`] as leaf 0 of a one-leaf tree.
pub fn token_json() -> String {
    let leaf = mig06_tlog::leaf_hash(TOKEN_RECORD.as_bytes());
    let note = SIGNER.sign(&Checkpoint {
        origin: SIGNER.origin().to_owned(),
        size: 1,
        root: leaf,
    });
    serde_json::json!({"record": TOKEN_RECORD, "index": 0, "proof": [], "checkpoint": note})
        .to_string()
}

fn token(json: &[u8]) -> String {
    format!("{}{}", evidence::PREFIX, URL_SAFE_NO_PAD.encode(json))
}

/// Evidence token decoder. First byte selects: 0 raw token text; 1 the valid token's JSON
/// mutated, then encoded; 2 the valid token's text mutated.
///
/// Properties: the valid token verifies to its record; a mutated token that still verifies
/// proves the same record at the same index (nothing outside the signed tree is trusted); an
/// error never carries token bytes.
pub fn check_evidence(data: &[u8]) {
    // Checked once, before any input: if the record schema changes (new required fields, a
    // record signature), this fails loudly; update TOKEN_RECORD and token_json() to match.
    static EXPECTED: LazyLock<AuditRecord> = LazyLock::new(|| {
        serde_json::from_str(TOKEN_RECORD)
            .expect("fuzz/src/lib.rs TOKEN_RECORD no longer decodes as an AuditRecord: update it")
    });
    static VALID: LazyLock<(String, String)> = LazyLock::new(|| {
        let json = token_json();
        let tok = token(json.as_bytes());
        let v = evidence::verify(&tok, &*VERIFIER)
            .expect("the fuzz target's valid token no longer verifies: update token_json()");
        assert_eq!(v.record, *EXPECTED, "the valid token proves another record");
        (json, tok)
    });
    let (json, tok) = &*VALID;
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let candidate = match sel % 3 {
        0 => match std::str::from_utf8(rest) {
            Ok(t) => t.to_owned(),
            Err(_) => return,
        },
        1 => {
            let mut b = json.clone().into_bytes();
            mutate(&mut b, rest);
            token(&b)
        }
        _ => {
            let mut b = tok.clone().into_bytes();
            mutate(&mut b, rest);
            match String::from_utf8(b) {
                Ok(t) => t,
                Err(_) => return,
            }
        }
    };
    match evidence::verify(&candidate, &*VERIFIER) {
        Ok(v) => {
            assert_eq!(v.record, *EXPECTED, "a token verified with another record");
            assert_eq!(v.index, 0);
            assert_eq!(v.code, TerminalCode::DeniedPolicy);
            assert_eq!(
                v.leaf_hash,
                mig06_tlog::leaf_hash(TOKEN_RECORD.as_bytes()),
                "a token verified with other record bytes"
            );
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(matches!(
                e,
                EvidenceError::Malformed(_)
                    | EvidenceError::BadSignature
                    | EvidenceError::BadProof
                    | EvidenceError::NotTerminal
            ));
            assert_no_echo(candidate.as_bytes(), &msg, |c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || " ()'`_-.".contains(c)
            });
        }
    }
}

/// Keys the PHI target scans under (the first byte chooses one, or none).
const PHI_KEYS: &[&str] = &[
    "subject",
    "note_kind",
    "request_id",
    "mrn",
    "dob",
    "phone",
    "ssn",
    "name",
    "patient",
    "address",
    "email",
    "comment",
];

/// PHI detector. First byte chooses the key context; the rest is the text.
///
/// Properties: kinds are sorted and distinct; the result is deterministic; the result is
/// codes only and never contains the text. (The `mig06 scan` contract, which writes these
/// codes as JSON verdicts, lives in the binary and has its own tests in `scan_cmd.rs`.)
pub fn check_phi(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let key = PHI_KEYS
        .get(usize::from(sel) % (PHI_KEYS.len() + 1))
        .copied();
    let kinds = DETECTOR.scan(key, text);
    assert!(
        kinds.windows(2).all(|w| w[0] < w[1]),
        "kinds not sorted and distinct"
    );
    assert_eq!(DETECTOR.scan(key, text), kinds, "scan not deterministic");
    let codes: Vec<&str> = kinds.iter().map(|k| k.code()).collect();
    for code in &codes {
        assert_eq!(mig06_phi::PhiKind::from_code(code).map(|k| k.code()), Some(*code));
    }
    assert_no_echo(text.as_bytes(), &codes.join(","), |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || "_,".contains(c)
    });
}
