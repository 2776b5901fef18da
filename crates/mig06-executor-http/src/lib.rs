//! The HTTP executor (placeholder until the HTTP issue lands): refuses to run.
//!
//! STUB: being written.

use mig06_rail::executor::{Deadline, Executor, ExecutorError, StepInput};

/// Errors building the executor.
#[derive(Debug, thiserror::Error)]
pub enum HttpExecutorError {
    /// The URL is not usable.
    #[error("executor URL must start with http:// or https://")]
    BadUrl,
}

/// Calls a drafting service once per step.
#[derive(Debug)]
pub struct HttpExecutor {
    url: String,
}

impl HttpExecutor {
    /// An executor for `url`.
    ///
    /// # Errors
    /// [`HttpExecutorError::BadUrl`].
    pub fn new(url: &str) -> Result<Self, HttpExecutorError> {
        if url.starts_with("http://") || url.starts_with("https://") {
            Ok(Self {
                url: url.to_owned(),
            })
        } else {
            Err(HttpExecutorError::BadUrl)
        }
    }
}

impl Executor for HttpExecutor {
    fn execute(
        &self,
        _input: &StepInput,
        _deadline: Deadline,
    ) -> Result<serde_json::Value, ExecutorError> {
        let _ = &self.url;
        Err(ExecutorError::Fault("http_executor_unavailable"))
    }
}
