//! The command executor: runs a configured local program once per attempt, metadata JSON on its
//! stdin, receipt JSON on its stdout, killed at the deadline.
//!
//! The decision that matters: no threads. Stdout goes to a private temporary file rather than a
//! pipe, so the rail never has to read a pipe concurrently with waiting; the wait itself is
//! bounded by the deadline (`wait-timeout`, which waits on the child without spawning). The
//! program's stderr is discarded: it could contain anything, and the rail never echoes it.
//!
//! No process outlives the step. The program starts as the leader of a new process group, and
//! when the step ends (at the deadline, on completion or on any failure) the whole group gets
//! `SIGKILL`, so a program that forked, or that a shell started in the background, leaves
//! nothing running. On completion the leader has already been reaped when the group is killed;
//! POSIX never gives a new process the id of a process group that still has a member, so the
//! signal reaches only what is left of this step's group (or finds no group at all).
//!
//! INV-NO-BACKGROUND: No background loops, daemons, workers, queues, brokers or schedulers.

use std::io::{Read, Seek, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use rustix::process::{Pid, Signal, kill_process_group};

use serde_json::Value;
use wait_timeout::ChildExt;

use super::{Deadline, Executor, ExecutorError, ExecutorFault, StepInput};

/// Largest receipt read from the program's stdout.
pub(crate) const MAX_RECEIPT_BYTES: u64 = 64 * 1024;

/// Runs `program args...` once per step.
#[derive(Debug, Clone)]
pub struct CommandExecutor {
    program: PathBuf,
    args: Vec<String>,
    scratch: PathBuf,
}

impl CommandExecutor {
    /// A command executor; `scratch` is a private directory for the program's stdout.
    #[must_use]
    pub fn new(program: PathBuf, args: Vec<String>, scratch: PathBuf) -> Self {
        Self {
            program,
            args,
            scratch,
        }
    }
}

impl Executor for CommandExecutor {
    fn execute(&self, input: &StepInput, deadline: Deadline) -> Result<Value, ExecutorError> {
        let Some(budget) = deadline.remaining() else {
            return Err(ExecutorError::Deadline);
        };
        std::fs::create_dir_all(&self.scratch)
            .map_err(|_| ExecutorError::Fault(ExecutorFault::ScratchUnavailable))?;
        let out_path = self.scratch.join(format!("{}.out", input.attempt_id));
        let mut out = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&out_path)
            .map_err(|_| ExecutorError::Fault(ExecutorFault::ScratchUnavailable))?;
        let result = self.run(input, budget, &mut out);
        let _ = std::fs::remove_file(&out_path);
        result
    }
}

impl CommandExecutor {
    fn run(
        &self,
        input: &StepInput,
        budget: std::time::Duration,
        out: &mut std::fs::File,
    ) -> Result<Value, ExecutorError> {
        let stdout = out
            .try_clone()
            .map_err(|_| ExecutorError::Fault(ExecutorFault::ScratchUnavailable))?;
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::null())
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            // Its own process group (id = its pid), so that the step's end can end all of it.
            .process_group(0)
            .spawn()
            .map_err(|_| ExecutorError::Fault(ExecutorFault::SpawnFailed))?;
        let group = Pid::from_child(&child);
        let waited = Self::feed_and_wait(&mut child, &input.to_json(), budget);
        // The step ends here, whatever happened: nothing of its process group runs on, and
        // nothing still running can write to the output while it is read.
        end_group(&mut child, group);
        if !waited?.success() {
            return Err(ExecutorError::Fault(ExecutorFault::NonzeroExit));
        }
        out.rewind()
            .map_err(|_| ExecutorError::Fault(ExecutorFault::ReadOutput))?;
        let mut buf = Vec::new();
        out.take(MAX_RECEIPT_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|_| ExecutorError::Fault(ExecutorFault::ReadOutput))?;
        if buf.len() as u64 > MAX_RECEIPT_BYTES {
            return Err(ExecutorError::Fault(ExecutorFault::OutputTooLarge));
        }
        super::read_answer(&buf, ExecutorFault::OutputNotJson)
    }

    /// Writes the input to the program's stdin and waits for it until `budget` runs out.
    fn feed_and_wait(
        child: &mut Child,
        input: &Value,
        budget: std::time::Duration,
    ) -> Result<std::process::ExitStatus, ExecutorError> {
        let payload = serde_json::to_vec(input)
            .map_err(|_| ExecutorError::Fault(ExecutorFault::EncodeInput))?;
        if let Some(mut stdin) = child.stdin.take() {
            // The input is a few hundred bytes, well under a pipe's buffer, so this cannot block
            // on a program that does not read it. A program that exits early is not an error here.
            let _ = stdin.write_all(&payload);
        }
        match child.wait_timeout(budget) {
            Ok(Some(status)) => Ok(status),
            Ok(None) => Err(ExecutorError::Deadline),
            Err(_) => Err(ExecutorError::Fault(ExecutorFault::WaitFailed)),
        }
    }
}

// INV-EXECUTOR-NO-LEFTOVER-PROCESS: `SIGKILL` to the step's whole process group when the step ends,
// so nothing it started outlives it.
/// Ends the step's process group: `SIGKILL` to every process in it, then reaps the leader if it
/// is still there. A group that no longer exists (`ESRCH`) is the normal case for a program that
/// started nothing in the background.
fn end_group(child: &mut Child, group: Pid) {
    let _ = kill_process_group(group, Signal::KILL);
    // The leader: killed with its group above (or already exited and reaped by the wait).
    let _ = child.kill();
    let _ = child.wait();
}
