//! The HTTP executor: the attempt's one step as one blocking `POST` to a drafting service.
//!
//! The decision that matters: the call is made once, on the attempt's own thread, with the
//! attempt's remaining time as both the connect and the total timeout, and its answer counts only
//! if the status is final (200/201, per [`classify_status`]). There are
//! no retries: ureq 3 has no retry logic at all (unlike ureq 2, which re-sent idempotent
//! requests on a stale pooled connection; the 3.x agent only repeats a read interrupted by
//! `EINTR` on the same socket), and this executor also disables connection pooling, so every
//! attempt opens exactly one fresh connection and sends exactly one request. Redirects are not
//! followed (`max_redirects = 0`: a 3xx is returned as is and is a fault). The receipt is read
//! with a 64 KiB cap and must be JSON; the rail, not this crate, decides whether it is a
//! draft-only, final, metadata-only receipt. No error carries downstream bytes. The executor
//! talks only to its configured URL: the `HTTP_PROXY`, `HTTPS_PROXY` and `ALL_PROXY`
//! environment variables (and their lowercase forms), which ureq honours by default, are
//! ignored, so the step input never goes through a host the configuration does not name.

use std::time::Duration;

use mig06_rail::executor::{
    Deadline, Executor, ExecutorError, ExecutorFault, PendingAnswer, StepInput,
};

/// Largest receipt body read from the drafting service, in bytes.
pub const MAX_RECEIPT_BYTES: u64 = 64 * 1024;

/// Errors building the executor.
#[derive(Debug, thiserror::Error)]
pub enum HttpExecutorError {
    /// The URL is not usable.
    #[error("executor URL must start with http:// or https:// and name a host")]
    BadUrl,
    /// The URL is `https://` but this build has no TLS support.
    #[error("executor URL is https:// but mig06 was built without the `tls` feature")]
    TlsUnavailable,
}

/// Calls a drafting service once per step.
#[derive(Debug)]
pub struct HttpExecutor {
    url: String,
    agent: ureq::Agent,
}

impl HttpExecutor {
    // INV-EXECUTOR-ONLY-CONFIGURED-URL: the agent has no proxy (whatever the environment says) and
    // follows no redirect, so the step input goes to `url` only.
    /// An executor for `url`.
    ///
    /// # Errors
    /// [`HttpExecutorError::BadUrl`] for anything but an `http://` or `https://` URL with a host;
    /// [`HttpExecutorError::TlsUnavailable`] for `https://` without the `tls` feature.
    pub fn new(url: &str) -> Result<Self, HttpExecutorError> {
        let rest = if let Some(rest) = url.strip_prefix("http://") {
            rest
        } else if let Some(rest) = url.strip_prefix("https://") {
            if !cfg!(feature = "tls") {
                return Err(HttpExecutorError::TlsUnavailable);
            }
            rest
        } else {
            return Err(HttpExecutorError::BadUrl);
        };
        if rest.is_empty() || rest.starts_with('/') || url.chars().any(char::is_whitespace) {
            return Err(HttpExecutorError::BadUrl);
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // Statuses are classified here, not turned into errors by the client.
            .http_status_as_error(false)
            // Never follow a redirect: the 3xx comes back as is and is a fault.
            .max_redirects(0)
            // No pooled connections: one fresh connection per attempt, nothing kept between
            // attempts, and no stale-connection path that could ever re-send a request.
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            // No proxy, whatever the environment says: ureq's default configuration reads
            // HTTP_PROXY / HTTPS_PROXY / ALL_PROXY; the step input goes only to the configured URL.
            .proxy(None)
            .user_agent("mig06-rail")
            .build()
            .into();
        Ok(Self {
            url: url.to_owned(),
            agent,
        })
    }

    /// The configured URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Longest a connection may take to open, whatever the attempt has left.
const MAX_CONNECT: Duration = Duration::from_secs(5);

// INV-SYNC-PROXY: The sync proxy gives a synchronous, authoritative answer or fails closed.
/// What an HTTP status means to the rail: only 200 and 201 are a final success; 1xx (such as
/// 102) and 202 Accepted are not final (async ambiguity, fail closed); anything else is a fault.
///
/// # Errors
/// [`ExecutorError::NotFinal`] or [`ExecutorError::Fault`], both with the `http_status` reason.
pub fn classify_status(status: u16) -> Result<(), ExecutorError> {
    match status {
        200 | 201 => Ok(()),
        100..=199 | 202 => Err(ExecutorError::NotFinal(PendingAnswer::HttpStatus)),
        _ => Err(ExecutorError::Fault(ExecutorFault::HttpStatus)),
    }
}

fn map_error(e: &ureq::Error) -> ExecutorError {
    match e {
        ureq::Error::Timeout(_) => ExecutorError::Deadline,
        ureq::Error::BodyExceedsLimit(_) => ExecutorError::Fault(ExecutorFault::ReceiptTooLarge),
        ureq::Error::HostNotFound => ExecutorError::Fault(ExecutorFault::HostNotFound),
        ureq::Error::ConnectionFailed => ExecutorError::Fault(ExecutorFault::ConnectionFailed),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => ExecutorError::Deadline,
        ureq::Error::Io(_) => ExecutorError::Fault(ExecutorFault::TransportError),
        _ => ExecutorError::Fault(ExecutorFault::HttpError),
    }
}

impl Executor for HttpExecutor {
    fn execute(
        &self,
        input: &StepInput,
        deadline: Deadline,
    ) -> Result<serde_json::Value, ExecutorError> {
        let Some(left) = deadline.remaining() else {
            return Err(ExecutorError::Deadline);
        };
        let body = serde_json::to_vec(&input.to_json())
            .map_err(|_| ExecutorError::Fault(ExecutorFault::InputNotSerialisable))?;
        let connect = left.min(MAX_CONNECT);
        let mut request = self
            .agent
            .post(&self.url)
            .config()
            .timeout_global(Some(left))
            .timeout_connect(Some(connect))
            .build()
            .header("content-type", "application/json")
            .header("accept", "application/json");
        // W3C trace context: the downstream's span is a child of the attempt's.
        if let Some(trace) = &input.trace {
            request = request.header("traceparent", trace.traceparent());
            if let Some(state) = trace.tracestate() {
                request = request.header("tracestate", state);
            }
        }
        let mut response = request.send(&body[..]).map_err(|e| map_error(&e))?;
        classify_status(response.status().as_u16())?;
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_RECEIPT_BYTES)
            .read_to_vec()
            .map_err(|e| map_error(&e))?;
        if deadline.passed() {
            return Err(ExecutorError::Deadline);
        }
        mig06_rail::executor::read_answer(&bytes, ExecutorFault::ReceiptNotJson)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inv_sync_proxy_http_202_and_102_are_not_final() {
        let not_final = Err(ExecutorError::NotFinal(PendingAnswer::HttpStatus));
        let failed = Err(ExecutorError::Fault(ExecutorFault::HttpStatus));
        assert_eq!(classify_status(202), not_final);
        assert_eq!(classify_status(102), not_final);
        assert_eq!(classify_status(200), Ok(()));
        assert_eq!(classify_status(201), Ok(()));
        assert_eq!(classify_status(500), failed);
        assert_eq!(classify_status(204), failed);
        assert_eq!(classify_status(302), failed);
    }

    #[test]
    fn only_http_urls_with_a_host_are_accepted() {
        assert!(HttpExecutor::new("http://127.0.0.1:1/draft").is_ok());
        assert!(HttpExecutor::new("ftp://x").is_err());
        assert!(HttpExecutor::new("http://").is_err());
        assert!(HttpExecutor::new("http:///x").is_err());
        assert!(HttpExecutor::new("http://a b").is_err());
    }

    #[test]
    fn https_needs_the_tls_feature() {
        assert_eq!(
            HttpExecutor::new("https://example.invalid/").is_ok(),
            cfg!(feature = "tls")
        );
    }
}
