//! Reading the configured audit log for an auditor: read-only, checked, wherever it is kept.
//!
//! The decision that matters: every auditor command reads the log through one checked view
//! ([`LogView`], or the PostgreSQL store's equivalent) that runs the same checks as opening the
//! store, with only the log's public key, and refuses to print anything from a log that does not
//! verify; `mig06 audit verify` is the one command that reports a failing log instead.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use mig06_rail::audit::AuditRecord;
use mig06_rail::audit::ledger::{LATEST_CHECKPOINT, LogFault, LogView};
use mig06_rail::config::{AuditBackend, Config};
use mig06_rail::rail::{audit_dir, load_signer};
use mig06_rail::tlog::checkpoint::{LogVerifier, note_signers};

/// The log's records in order, each as its exact line and as decoded.
pub(super) type Records = Vec<(String, AuditRecord)>;

/// Where an auditor command's verifier key comes from, for its messages.
pub(super) struct VerifierKey {
    /// The key.
    pub(super) verifier: LogVerifier,
    /// The file it was read from.
    pub(super) path: PathBuf,
}

// INV-AUDIT-READONLY: an auditor command reads only a verifier (public) key: `--pubkey`, or the
// `.vkey` beside the configured key; it never opens the private key, and stops without one.
/// The log's verifier: `--pubkey`, else the `.vkey` file beside the configured signing key
/// (`mig06 init` writes both). Never the private key: without a verifier key file this stops
/// and names the file it needs.
pub(super) fn verifier_for(cfg: &Config, pubkey: Option<&Path>) -> Result<VerifierKey> {
    let path = match pubkey {
        Some(p) => p.to_owned(),
        None => {
            let beside = cfg.signing_key.with_extension("vkey");
            if !beside.exists() {
                bail!(
                    "no verifier key: {} does not exist, and an auditor command never opens the private key ({}). Give the log's verifier key with --pubkey FILE, or have the operator who holds the private key recreate {} with `mig06 audit pubkey --config {} --from-signing-key > {}`",
                    beside.display(),
                    cfg.signing_key.display(),
                    beside.display(),
                    cfg.path.display(),
                    beside.display()
                );
            }
            beside
        }
    };
    Ok(VerifierKey {
        verifier: read_vkey(&path)?,
        path,
    })
}

/// The verifier derived from the configured private key: only for `mig06 audit pubkey
/// --from-signing-key`, the operator's explicit way to recreate a lost `.vkey`.
pub(super) fn verifier_from_signing_key(cfg: &Config) -> Result<LogVerifier> {
    Ok(load_signer(cfg)?.verifier())
}

/// What an operator should do about a log that does not verify under `key`: when the log's
/// latest checkpoint is signed by another key, that is said first (a wrong or replaced key is
/// not tampering); otherwise where to look and what to keep.
pub(super) fn what_to_do(cfg: &Config, key: &VerifierKey) -> String {
    let doc = "see docs/OPERATIONS.md, \"A log that no longer verifies\"";
    let ours = key.verifier.key_name();
    let signers = match &cfg.audit {
        AuditBackend::File => std::fs::read_to_string(audit_dir(cfg).join(LATEST_CHECKPOINT))
            .map(|note| note_signers(&note))
            .unwrap_or_default(),
        AuditBackend::Postgres(_) => Vec::new(),
    };
    if !signers.is_empty() && !signers.contains(&ours) {
        return format!(
            "the log's latest checkpoint is signed by key {}, not by the verifier key {ours} read from {}: that file is not this log's key (or the log's key was replaced). Verify with this log's own verifier key (--pubkey FILE; the operator prints it with `mig06 audit pubkey` on the rail's host); if {} is the right key, the log was signed by another key: {doc}",
            signers.join(", "),
            key.path.display(),
            key.path.display(),
        );
    }
    format!(
        "leave the log as it is (do not repair it by hand; the rail refuses to start on it), copy the whole audit directory read-only, and {doc} (`mig06 audit verify` prints the first bad record as JSON)"
    )
}

// INV-AUDIT-READONLY: Auditor commands never write: no lock, no cut, no signature, no private key.
/// The checked, read-only view of the configured log and its records: no lock, no repair, no
/// signature, no private key.
pub(super) fn checked_log(config: &Path, pubkey: Option<&Path>) -> Result<(LogView, Records)> {
    let cfg = Config::load(config)?;
    let key = verifier_for(&cfg, pubkey)?;
    let mut records = Vec::new();
    let view = open_view(
        &cfg,
        &key.verifier,
        &mut |_, line, record| {
            records.push((String::from_utf8_lossy(line).into_owned(), record.clone()));
        },
        &mut |_, _| {},
    )?
    .map_err(|f| {
        anyhow::anyhow!(
            "the audit log does not verify: {f}; {}",
            what_to_do(&cfg, &key)
        )
    })?;
    if view.torn_tail() > 0 {
        eprintln!(
            "mig06: audit log: a torn tail of {} bytes (an append that was never confirmed) is ignored",
            view.torn_tail()
        );
    }
    Ok((view, records))
}

/// Reads and checks the configured log, wherever it is kept, read-only. The outer error: the
/// log could not be read at all (the database unreachable, no schema); the inner one: it was
/// read and does not check out.
pub(super) fn open_view(
    cfg: &Config,
    verifier: &LogVerifier,
    on_record: &mut dyn FnMut(u64, &[u8], &AuditRecord),
    progress: &mut dyn FnMut(u64, u64),
) -> Result<std::result::Result<LogView, LogFault>> {
    match &cfg.audit {
        AuditBackend::File => Ok(LogView::open(
            &audit_dir(cfg),
            verifier,
            on_record,
            progress,
        )),
        AuditBackend::Postgres(pg) => {
            match mig06_audit_pg::read_view(pg, verifier, on_record, progress) {
                Ok(view) => Ok(Ok(view)),
                Err(mig06_audit_pg::PgError::Log(f)) => Ok(Err(f)),
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// Reads a verifier key file. A private key given instead is named as such (never echoed),
/// with what to give instead.
pub(crate) fn read_vkey(path: &Path) -> Result<LogVerifier> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if text.trim_start().starts_with("PRIVATE+KEY+") {
        bail!(
            "{} is the log's private signing key, not its verifier key: auditors need only the verifier key (the `.vkey` file `mig06 init` writes beside the key, or the output of `mig06 audit pubkey`); give that file instead, and keep the private key on the rail's host",
            path.display()
        );
    }
    LogVerifier::parse(text.trim()).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a verifier key ({e}): a verifier key is one line `name+keyid+base64`, as `mig06 audit pubkey` prints it",
            path.display()
        )
    })
}

/// A hash as lowercase hex.
pub(crate) fn hex_string(h: &[u8; 32]) -> String {
    mig06_rail::audit::hash_hex(h)
}
