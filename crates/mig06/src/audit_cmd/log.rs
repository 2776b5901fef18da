//! Reading the configured audit log for an auditor: read-only, checked, wherever it is kept.
//!
//! The decision that matters: every auditor command reads the log through one checked view
//! ([`LogView`], or the PostgreSQL store's equivalent) that runs the same checks as opening the
//! store, with only the log's public key, and refuses to print anything from a log that does not
//! verify; `mig06 audit verify` is the one command that reports a failing log instead.

use std::path::Path;

use anyhow::{Context, Result};
use mig06_rail::audit::AuditRecord;
use mig06_rail::audit::ledger::{LogFault, LogView};
use mig06_rail::config::{AuditBackend, Config};
use mig06_rail::rail::{audit_dir, load_signer};
use mig06_rail::tlog::checkpoint::LogVerifier;

/// The log's records in order, each as its exact line and as decoded.
pub(super) type Records = Vec<(String, AuditRecord)>;

/// The log's verifier: `--pubkey`, else the `.vkey` file beside the configured signing key
/// (`mig06 init` writes both), else derived from the signing key when only that exists.
/// Auditors need only the public key.
pub(super) fn verifier_for(cfg: &Config, pubkey: Option<&Path>) -> Result<LogVerifier> {
    if let Some(p) = pubkey {
        return read_vkey(p);
    }
    let beside = cfg.signing_key.with_extension("vkey");
    if beside.exists() {
        return read_vkey(&beside);
    }
    Ok(load_signer(cfg)?.verifier())
}

// INV-AUDIT-READONLY: Auditor commands never write: no lock, no cut, no signature, no private key.
/// The checked, read-only view of the configured log and its records: no lock, no repair, no
/// signature, no private key.
pub(super) fn checked_log(config: &Path, pubkey: Option<&Path>) -> Result<(LogView, Records)> {
    let cfg = Config::load(config)?;
    let verifier = verifier_for(&cfg, pubkey)?;
    let mut records = Vec::new();
    let view = open_view(
        &cfg,
        &verifier,
        &mut |_, line, record| {
            records.push((String::from_utf8_lossy(line).into_owned(), record.clone()));
        },
        &mut |_, _| {},
    )?
    .map_err(|f| anyhow::anyhow!("the audit log does not verify: {f}; run `mig06 audit verify`"))?;
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

pub(crate) fn read_vkey(path: &Path) -> Result<LogVerifier> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(LogVerifier::parse(text.trim())?)
}

/// A hash as lowercase hex.
pub(crate) fn hex_string(h: &[u8; 32]) -> String {
    mig06_rail::audit::hash_hex(h)
}
