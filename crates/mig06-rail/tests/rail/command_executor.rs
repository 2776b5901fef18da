//! The command executor leaves no process behind: the program's whole process group ends with
//! the step, at the deadline and on completion, not only the program itself.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mig06_rail::executor::command::CommandExecutor;
use mig06_rail::executor::{Deadline, Executor, ExecutorError, StepInput};
use mig06_rail::ids::{AttemptId, OpaqueId};
use mig06_rail::request::Code;
use serde_json::json;

const RECEIPT: &str = r#"{"draft_ref":"draft_0123456789abcdefghjkmnpq","disposition":"draft","docStatus":"preliminary","content_sha256":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}"#;

fn input() -> StepInput {
    StepInput {
        attempt_id: AttemptId::mint(),
        action: Code::parse("draft_note").unwrap(),
        subject: OpaqueId::parse("subj_7k3m9q2x4w8r5t6v").unwrap(),
        params: json!({"note_kind": "discharge_summary"}),
        trace: None,
    }
}

/// `/bin/sh -c SCRIPT sh PIDFILE`: the script starts a background `sleep` (a grandchild of the
/// rail), writes "<its own pid = the group id> <the sleep's pid>" to PIDFILE, then does `tail`.
fn executor(dir: &Path, tail: &str) -> (CommandExecutor, PathBuf) {
    let pidfile = dir.join("pids");
    let script = format!("sleep 60 & echo \"$$ $!\" > \"$1\"; {tail}");
    let exec = CommandExecutor::new(
        PathBuf::from("/bin/sh"),
        vec![
            "-c".into(),
            script,
            "sh".into(),
            pidfile.display().to_string(),
        ],
        dir.join("scratch"),
    );
    (exec, pidfile)
}

/// Live (not zombie) processes whose process group is `pgid`, from /proc.
fn live_members(pgid: u32) -> Vec<u32> {
    let mut live = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the command name: state ppid pgrp ...
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields[0] != "Z" && fields[2].parse::<u32>() == Ok(pgid) {
            live.push(pid);
        }
    }
    live
}

/// Waits (bounded: signal delivery is not instant) until the group has no live member.
fn assert_group_gone(pidfile: &Path) {
    let text = std::fs::read_to_string(pidfile).unwrap();
    let ids: Vec<u32> = text
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    let (group, sleeper) = (ids[0], ids[1]);
    let start = Instant::now();
    while !live_members(group).is_empty() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        live_members(group),
        Vec::<u32>::new(),
        "processes of the step's group (the background sleep is {sleeper}) outlived the step"
    );
}

#[test]
fn inv_executor_no_leftover_process_on_completion_the_whole_group_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (exec, pidfile) = executor(dir.path(), &format!("printf '%s' '{RECEIPT}'"));
    let raw = exec
        .execute(&input(), Deadline::after(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(raw["disposition"], "draft");
    assert_group_gone(&pidfile);
}

#[test]
fn inv_executor_no_leftover_process_at_the_deadline_the_whole_group_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (exec, pidfile) = executor(dir.path(), "sleep 60");
    let started = Instant::now();
    let r = exec.execute(&input(), Deadline::after(Duration::from_millis(500)));
    assert_eq!(r, Err(ExecutorError::Deadline));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "not stopped at the deadline"
    );
    assert_group_gone(&pidfile);
}

#[test]
fn inv_executor_no_leftover_process_after_a_failing_program() {
    let dir = tempfile::tempdir().unwrap();
    let (exec, pidfile) = executor(dir.path(), "exit 3");
    let r = exec.execute(&input(), Deadline::after(Duration::from_secs(10)));
    assert_eq!(
        r,
        Err(ExecutorError::Fault(
            mig06_rail::executor::ExecutorFault::NonzeroExit
        ))
    );
    assert_group_gone(&pidfile);
}
