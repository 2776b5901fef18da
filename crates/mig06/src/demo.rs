//! `mig06 demo`: a scripted tour on the embedded default set-up.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use mig06_rail::outcome::TerminalCode;

const SUBJECT: &str = "subj_7k3m9q2x4w8r5t6v";

fn request(note_kind: &str, steps: usize, subject: &str) -> Vec<u8> {
    let step = serde_json::json!({"action": "draft_note", "params": {"note_kind": note_kind}});
    serde_json::json!({
        "request_id": ulid_like(),
        "trigger": "operator_explicit",
        "subject": subject,
        "steps": vec![step; steps],
    })
    .to_string()
    .into_bytes()
}

fn ulid_like() -> String {
    mig06_rail::ids::AttemptId::mint().to_string()
}

pub fn run(dir: Option<PathBuf>) -> Result<ExitCode> {
    let tmp;
    let dir = match dir {
        Some(d) => d,
        None => {
            tmp = std::env::temp_dir()
                .join(format!("mig06-demo-{}", ulid_like().to_ascii_lowercase()));
            tmp
        }
    };
    let report = mig06_rail::init::init(&dir)?;
    println!("set-up written to {}", dir.display());
    let rail = crate::open_rail(&report.config)?;
    let caller = rail
        .local_caller("operator-1")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let script: [(&str, Vec<u8>, TerminalCode); 4] = [
        (
            "a discharge summary draft",
            request("discharge_summary", 1, SUBJECT),
            TerminalCode::CompletedDraft,
        ),
        (
            "a note kind policy does not permit",
            request("prior_authorisation", 1, SUBJECT),
            TerminalCode::DeniedPolicy,
        ),
        (
            "two steps in one attempt",
            request("discharge_summary", 2, SUBJECT),
            TerminalCode::DeniedMultiStep,
        ),
        (
            "an SSN where the subject reference goes",
            request("discharge_summary", 1, "078-05-1120"),
            TerminalCode::AbortedPhiDetected,
        ),
    ];
    let mut ok = true;
    for (what, body, expected) in script {
        let o = rail.attempt(&caller, &body);
        let mark = if o.code == expected { "ok " } else { "BAD" };
        ok &= o.code == expected;
        println!("{mark} {what:<40} -> {}", o.code);
        if let Some(m) = &o.message {
            println!("      {m}");
        }
        if let Some(d) = &o.draft_ref {
            println!("      draft_ref {d}");
        }
    }
    drop(rail);
    let cfg = mig06_rail::config::Config::load(&report.config)?;
    let verifier = mig06_rail::rail::load_signer(&cfg)?.verifier();
    let v = mig06_rail::audit::verify::verify_dir(
        &mig06_rail::rail::audit_dir(&cfg),
        &verifier,
        None,
        &mut |_, _| {},
    )?;
    println!(
        "audit log verified: {} records, {} signed checkpoints",
        v.records, v.checkpoints
    );
    println!("try: mig06 audit show --config {}", report.config.display());
    if !ok {
        bail!("a scripted attempt ended with an unexpected code");
    }
    Ok(ExitCode::SUCCESS)
}
