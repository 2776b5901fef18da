//! `mig06 audit provenance`: an attempt's continuation chain, root first.
//!
//! The decision that matters: the chain is read from terminal records only (an attempt that
//! never ended is not a link anyone can continue from), ordered by depth and then log position,
//! and printed from metadata alone: ids, codes, reasons, never request contents.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use mig06_rail::audit::AuditRecord;

use super::ProvenanceFormat;
use super::log::{Records, checked_log};

/// Prints the chain `attempt_id` belongs to in `format`.
///
/// # Errors
/// The log could not be read or does not verify, or it has no record of the attempt.
pub(super) fn run(
    config: &Path,
    pubkey: Option<&Path>,
    attempt_id: &str,
    format: ProvenanceFormat,
) -> Result<ExitCode> {
    let (_, records) = checked_log(config, pubkey)?;
    let chain = provenance_chain(&records, attempt_id)?;
    print_chain(&chain, format);
    Ok(ExitCode::SUCCESS)
}

// INV-PROVENANCE: Provenance is metadata-only links between attempts and never a workflow store.
/// The terminal records of the chain that `attempt_id` belongs to, root first.
fn provenance_chain<'a>(records: &'a Records, attempt_id: &str) -> Result<Vec<&'a AuditRecord>> {
    let Some(root) = records
        .iter()
        .find(|(_, r)| r.attempt_id.as_str() == attempt_id)
        .map(|(_, r)| r.chain_root.clone())
    else {
        bail!("no records for that attempt id");
    };
    let mut chain: Vec<&AuditRecord> = records
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r.is_terminal() && r.chain_root == root)
        .collect();
    chain.sort_by_key(|r| (r.depth, r.seq));
    Ok(chain)
}

fn print_chain(chain: &[&AuditRecord], format: ProvenanceFormat) {
    match format {
        ProvenanceFormat::Text => {
            for r in chain {
                let code = r.code().map_or("?", |c| c.as_str());
                let cont = r
                    .continues
                    .as_ref()
                    .map_or_else(String::new, |c| format!(" continues {c}"));
                let reason = r
                    .reason
                    .map_or_else(String::new, |x| format!(" ({})", x.as_str()));
                println!(
                    "depth {} {} {}{}{}",
                    r.depth, r.attempt_id, code, cont, reason
                );
            }
        }
        ProvenanceFormat::Json => {
            for r in chain {
                println!(
                    "{}",
                    serde_json::json!({
                        "attempt_id": r.attempt_id, "code": r.code(), "depth": r.depth,
                        "continues": r.continues, "chain_root": r.chain_root, "reason": r.reason,
                    })
                );
            }
        }
        ProvenanceFormat::Dot => {
            println!("digraph provenance {{\n  rankdir=LR;\n  node [shape=box];");
            for r in chain {
                let code = r.code().map_or("?", |c| c.as_str());
                println!(
                    "  \"{}\" [label=\"{}\\n{}\\ndepth {}\"];",
                    r.attempt_id, r.attempt_id, code, r.depth
                );
            }
            for r in chain {
                if let Some(c) = &r.continues {
                    let reason = r.reason.map_or("", |x| x.as_str());
                    println!(
                        "  \"{}\" -> \"{}\" [label=\"{}\"];",
                        c, r.attempt_id, reason
                    );
                }
            }
            println!("}}");
        }
    }
}
