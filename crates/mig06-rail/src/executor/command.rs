//! The command executor: runs a configured local program once per attempt, metadata JSON on its
//! stdin, receipt JSON on its stdout, killed at the deadline.
//!
//! The decision that matters: no threads. Stdout goes to a private temporary file rather than a
//! pipe, so the rail never has to read a pipe concurrently with waiting; the wait itself is
//! bounded by the deadline (`wait-timeout`, which waits on the child without spawning). The
//! program's stderr is discarded: it could contain anything, and the rail never echoes it.

use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;
use wait_timeout::ChildExt;

use super::{Deadline, Executor, ExecutorError, StepInput};

/// Largest receipt read from the program's stdout.
pub const MAX_RECEIPT_BYTES: u64 = 64 * 1024;

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
            .map_err(|_| ExecutorError::Fault("scratch_unavailable"))?;
        let out_path = self.scratch.join(format!("{}.out", input.attempt_id));
        let mut out = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&out_path)
            .map_err(|_| ExecutorError::Fault("scratch_unavailable"))?;
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
            .map_err(|_| ExecutorError::Fault("scratch_unavailable"))?;
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::null())
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .spawn()
            .map_err(|_| ExecutorError::Fault("spawn_failed"))?;
        let payload = serde_json::to_vec(&input.to_json())
            .map_err(|_| ExecutorError::Fault("encode_input"))?;
        if let Some(mut stdin) = child.stdin.take() {
            // The input is a few hundred bytes, well under a pipe's buffer, so this cannot block
            // on a program that does not read it. A program that exits early is not an error here.
            let _ = stdin.write_all(&payload);
        }
        let status = match child.wait_timeout(budget) {
            Ok(Some(status)) => status,
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ExecutorError::Deadline);
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ExecutorError::Fault("wait_failed"));
            }
        };
        if !status.success() {
            return Err(ExecutorError::Fault("nonzero_exit"));
        }
        out.rewind()
            .map_err(|_| ExecutorError::Fault("read_output"))?;
        let mut buf = Vec::new();
        out.take(MAX_RECEIPT_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|_| ExecutorError::Fault("read_output"))?;
        if buf.len() as u64 > MAX_RECEIPT_BYTES {
            return Err(ExecutorError::Fault("output_too_large"));
        }
        serde_json::from_slice(&buf).map_err(|_| ExecutorError::Fault("output_not_json"))
    }
}
