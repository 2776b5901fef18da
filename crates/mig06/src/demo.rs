//! `mig06 demo`: a scripted tour on the embedded default set-up.

use std::path::{Path, PathBuf};
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

/// A temporary set-up, removed when dropped (whether the demo passed or not).
struct Temporary(PathBuf);

impl Drop for Temporary {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `mig06 demo`: sets up `dir` (kept) or a fresh temporary directory (removed at the end,
/// whatever happened), runs the scripted attempts and verifies the log they wrote. Everything
/// runs in this process (the reference executor, the file store): no child process outlives it.
///
/// # Errors
/// The set-up or the rail could not be opened, the log does not verify, or an attempt ended
/// with a code other than the one the script expects.
pub(crate) fn run(dir: Option<PathBuf>) -> Result<ExitCode> {
    let (dir, temporary) = match dir {
        Some(dir) => (dir, None),
        None => {
            let dir = std::env::temp_dir()
                .join(format!("mig06-demo-{}", ulid_like().to_ascii_lowercase()));
            (dir.clone(), Some(Temporary(dir)))
        }
    };
    let report = mig06_rail::init::init(&dir)?;
    println!("set-up written to {}", dir.display());
    let ok = run_script(&report.config)?;
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
    match temporary {
        Some(t) => {
            drop(t);
            println!(
                "removed the temporary set-up {} (`mig06 demo --dir DIR` keeps one)",
                dir.display()
            );
        }
        None => println!("try: mig06 audit show --config {}", report.config.display()),
    }
    if !ok {
        bail!("a scripted attempt ended with an unexpected code");
    }
    Ok(ExitCode::SUCCESS)
}

/// The scripted attempts, each with the code it must end with.
fn script() -> [(&'static str, Vec<u8>, TerminalCode); 4] {
    [
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
    ]
}

/// Runs the script on the rail of `config`, printing each outcome; whether every attempt ended
/// as expected. The rail is closed when this returns, so the log can be verified.
fn run_script(config: &Path) -> Result<bool> {
    let rail = crate::open_rail(config)?;
    let caller = rail.local_caller("operator-1")?;
    let mut ok = true;
    for (what, body, expected) in script() {
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
    Ok(ok)
}
