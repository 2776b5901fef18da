//! A blocking tlog-witness client: one `add-checkpoint` round trip within a deadline.
//!
//! Design decision: configured like the rail's HTTP executor (`mig06-executor-http`): the
//! remaining time until the caller's deadline is both the total timeout and (capped) the
//! connect timeout, no redirect is followed, no proxy from the environment is used, and there
//! are no retries (ureq 3 has none). Unlike the executor, idle connections are kept: the spec
//! asks clients to use HTTP keep-alive, and an `add-checkpoint` is idempotent at the witness
//! (resending the same checkpoint with a stale old size gets a 409, never a second state).
//! A 200 answer counts only if it carries a cosignature by the configured witness key that
//! verifies over the submitted checkpoint.

use crate::protocol::{
    ADD_CHECKPOINT_PATH, AddCheckpointRequest, SIZE_CONTENT_TYPE, parse_conflict,
};
use mig06_tlog::Hash;
use mig06_tlog::cosignature::{CosignatureError, WitnessVerifier, note_text};
use std::time::{Duration, Instant};

/// Longest a connection may take to open, whatever the deadline leaves.
const MAX_CONNECT: Duration = Duration::from_secs(5);
/// Largest answer read: a few signature lines, or a size.
const MAX_RESPONSE_BYTES: u64 = 16 * 1024;

/// Why a witness did not cosign.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum SubmitError {
    /// 409 Conflict: the witness's latest cosigned size for this origin is `size`.
    #[error("the witness has size {size} for this log")]
    Conflict {
        /// The witness's size.
        size: u64,
    },
    /// The witness could not be reached or did not answer before the deadline (connection,
    /// timeout or I/O failure).
    #[error("the witness is unavailable")]
    Unavailable,
    /// Any other status (400, 403, 404, 422, 5xx, a redirect...).
    #[error("the witness refused with status {status}")]
    Refused {
        /// The HTTP status.
        status: u16,
    },
    /// A 200 answer whose cosignature does not verify against the configured witness key, or
    /// that has no line with the configured name and key ID.
    #[error("the witness's cosignature does not verify")]
    BadCosignature,
    /// The answer (or the checkpoint given to send) is not well formed.
    #[error("malformed witness answer or checkpoint")]
    Malformed,
}

/// Why a client could not be built.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum WitnessClientError {
    /// The submission prefix is not an `http://` (or, with the `tls` feature, `https://`) URL
    /// with a host.
    #[error("the witness submission URL is not an http(s) URL with a host")]
    BadUrl,
    /// An `https://` URL without the `tls` feature.
    #[error("https witness URLs need the `tls` feature")]
    TlsUnavailable,
}

/// A client of one witness: its submission prefix and its verifier key.
#[derive(Debug)]
pub struct WitnessClient {
    url: String,
    verifier: WitnessVerifier,
    agent: ureq::Agent,
}

impl WitnessClient {
    /// A client for the witness at `submission_prefix` (the request goes to
    /// `<prefix>/add-checkpoint`; a trailing `/` on the prefix is dropped).
    ///
    /// # Errors
    /// [`WitnessClientError`] when the URL is not usable.
    pub fn new(
        submission_prefix: &str,
        verifier: WitnessVerifier,
    ) -> Result<Self, WitnessClientError> {
        let prefix = submission_prefix.trim_end_matches('/');
        let rest = if let Some(rest) = prefix.strip_prefix("http://") {
            rest
        } else if let Some(rest) = prefix.strip_prefix("https://") {
            if !cfg!(feature = "tls") {
                return Err(WitnessClientError::TlsUnavailable);
            }
            rest
        } else {
            return Err(WitnessClientError::BadUrl);
        };
        if rest.is_empty()
            || rest.starts_with('/')
            || prefix.chars().any(|c| c.is_whitespace() || c.is_control())
            || prefix.contains(['?', '#'])
        {
            return Err(WitnessClientError::BadUrl);
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // Statuses are classified here, not turned into errors by the client.
            .http_status_as_error(false)
            // Never follow a redirect: a 3xx is a refusal.
            .max_redirects(0)
            // No proxy, whatever HTTP_PROXY / HTTPS_PROXY / ALL_PROXY say.
            .proxy(None)
            // Keep-alive (tlog-witness: clients SHOULD use it): one idle connection per host.
            .max_idle_connections(4)
            .max_idle_connections_per_host(1)
            .user_agent("mig06-witness-client")
            .build()
            .into();
        Ok(Self {
            url: format!("{prefix}{ADD_CHECKPOINT_PATH}"),
            verifier,
            agent,
        })
    }

    /// The configured witness key.
    #[must_use]
    pub fn verifier(&self) -> &WitnessVerifier {
        &self.verifier
    }

    /// The `add-checkpoint` URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Submits `checkpoint_note` (signed by the log) with a consistency proof from `old_size`,
    /// waiting at most until `deadline`. Returns the witness's cosignature line(s) by the
    /// configured key, verified over the checkpoint, each `— name base64\n`: append them to
    /// the note's signature block.
    ///
    /// # Errors
    /// [`SubmitError::Conflict`] on 409 (with the witness's size), `Unavailable` when the
    /// witness cannot be reached or the deadline passes, `Refused` on any other non-200
    /// status, `BadCosignature` when a 200 carries no verifying line by the configured key,
    /// `Malformed` when the answer or the checkpoint is not well formed.
    pub fn add_checkpoint(
        &self,
        old_size: u64,
        proof: &[Hash],
        checkpoint_note: &str,
        deadline: Instant,
    ) -> Result<String, SubmitError> {
        let body_text = note_text(checkpoint_note).map_err(|_| SubmitError::Malformed)?;
        let req = AddCheckpointRequest::new(old_size, proof, checkpoint_note)
            .map_err(|_| SubmitError::Malformed)?;
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or(SubmitError::Unavailable)?;
        let mut response = self
            .agent
            .post(&self.url)
            .config()
            .timeout_global(Some(left))
            .timeout_connect(Some(left.min(MAX_CONNECT)))
            .build()
            .header("content-type", "text/plain; charset=utf-8")
            .send(req.encode().as_bytes())
            .map_err(|e| map_error(&e))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|e| map_error(&e))?;
        if Instant::now() > deadline {
            return Err(SubmitError::Unavailable);
        }
        match status {
            200 => {
                let lines = std::str::from_utf8(&bytes).map_err(|_| SubmitError::Malformed)?;
                match self.verifier.verify_lines(body_text, lines) {
                    Ok((ours, _timestamp)) => Ok(ours),
                    Err(CosignatureError::BadSignature) => Err(SubmitError::BadCosignature),
                    Err(CosignatureError::Malformed { .. }) => Err(SubmitError::Malformed),
                }
            }
            409 => {
                let media = content_type
                    .as_deref()
                    .and_then(|c| c.split(';').next())
                    .map(str::trim);
                if media != Some(SIZE_CONTENT_TYPE) {
                    return Err(SubmitError::Malformed);
                }
                parse_conflict(&bytes)
                    .map(|size| SubmitError::Conflict { size })
                    .map_or(Err(SubmitError::Malformed), Err)
            }
            status => Err(SubmitError::Refused { status }),
        }
    }
}

fn map_error(e: &ureq::Error) -> SubmitError {
    match e {
        ureq::Error::BodyExceedsLimit(_) => SubmitError::Malformed,
        // Timeouts, refused connections, unknown hosts, resets: the witness is not there now.
        _ => SubmitError::Unavailable,
    }
}
