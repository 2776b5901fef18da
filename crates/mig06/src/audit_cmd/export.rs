//! `mig06 audit export`: the log as FHIR R4 resources for a hospital audit repository.
//!
//! The decision that matters: export reads the same checked view as every auditor command and
//! writes only what the library's FHIR mapping makes of terminal records, so an export can
//! never hold more than the log does, and never anything from a log that does not verify.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use mig06_rail::audit::AuditRecord;

use super::log::checked_log;

/// Writes the FHIR NDJSON export to `output`, or to stdout.
///
/// # Errors
/// The log could not be read or does not verify, or the output could not be written.
pub(super) fn fhir(
    config: &Path,
    pubkey: Option<&Path>,
    output: Option<PathBuf>,
) -> Result<ExitCode> {
    let records: Vec<AuditRecord> = checked_log(config, pubkey)?
        .1
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let stats = match output {
        Some(path) => {
            let file = std::fs::File::create(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            write_ndjson(&records, std::io::BufWriter::new(file))?
        }
        None => write_ndjson(&records, std::io::BufWriter::new(std::io::stdout().lock()))?,
    };
    eprintln!(
        "mig06: exported {} AuditEvent and {} Provenance resources ({} attempts without a terminal record skipped)",
        stats.audit_events, stats.provenances, stats.unterminated
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the export to `out` and flushes it.
fn write_ndjson(
    records: &[AuditRecord],
    mut out: impl Write,
) -> Result<mig06_rail::fhir::ExportStats> {
    let stats = mig06_rail::fhir::export_ndjson(records, &mut out)?;
    out.flush()?;
    Ok(stats)
}
