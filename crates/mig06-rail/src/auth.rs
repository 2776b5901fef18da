//! Authentication: which approved caller, if any, a request comes from.
//!
//! The decision that matters: an attempt exists only for an [`AuthenticatedCaller`], and the only
//! way to get one is through this module's look-ups over the configuration's approved callers.
//! Credential and certificate digests are compared in constant time against every approved
//! caller, matched or not, so timing reveals neither which caller matched nor how much of a
//! digest did.

use std::collections::BTreeSet;

use subtle::ConstantTimeEq;

use crate::config::{CallerConfig, CallerKind, Config};
use crate::ids::{CallerId, Sha256Digest};
use crate::request::Trigger;

/// Why a caller was not admitted. No attempt exists for an unauthenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No approved caller has that id.
    #[error("unknown caller")]
    UnknownCaller,
    /// No approved caller has that credential.
    #[error("invalid credential")]
    BadCredential,
    /// The caller is pinned to a client certificate and the connection did not present it.
    #[error("the caller's pinned client certificate was not presented")]
    ClientCertificate,
}

// INV-EXPLICIT-INVOCATION: an attempt takes an `AuthenticatedCaller`, whose fields are private:
// only `local_caller` and `bearer_caller` make one, from an approved caller of the configuration.
/// A caller the rail admitted: an approved caller from the configuration.
#[derive(Debug, Clone)]
pub struct AuthenticatedCaller {
    id: CallerId,
    kind: CallerKind,
    triggers: BTreeSet<Trigger>,
}

impl AuthenticatedCaller {
    /// The caller an approved registration admits (after [`local_caller`] or [`bearer_caller`]
    /// found it).
    fn admit(c: &CallerConfig) -> Self {
        Self {
            id: c.id.clone(),
            kind: c.kind,
            triggers: c.triggers.clone(),
        }
    }

    /// The caller's id.
    #[must_use]
    pub fn id(&self) -> &CallerId {
        &self.id
    }
    /// Operator or service.
    #[must_use]
    pub fn kind(&self) -> CallerKind {
        self.kind
    }
    /// The triggers registered for the caller.
    #[must_use]
    pub fn triggers(&self) -> &BTreeSet<Trigger> {
        &self.triggers
    }
}

/// Admits a local caller by id (the CLI: whoever can read the configuration is trusted as that
/// caller, as with an admin socket).
///
/// # Errors
/// [`AuthError::UnknownCaller`].
pub fn local_caller(config: &Config, id: &str) -> Result<AuthenticatedCaller, AuthError> {
    let id = CallerId::parse(id).map_err(|_| AuthError::UnknownCaller)?;
    config
        .caller(&id)
        .map(AuthenticatedCaller::admit)
        .ok_or(AuthError::UnknownCaller)
}

/// Admits a caller by bearer credential: SHA-256 of the credential, compared in constant time
/// with every approved caller's digest. A caller with `client_cert_sha256` is admitted only when
/// `client_cert` (the SHA-256 of the DER client certificate the TLS connection presented, `None`
/// without TLS or without a certificate) equals it.
///
/// # Errors
/// [`AuthError::BadCredential`], [`AuthError::ClientCertificate`].
pub fn bearer_caller(
    config: &Config,
    credential: &[u8],
    client_cert: Option<&Sha256Digest>,
) -> Result<AuthenticatedCaller, AuthError> {
    let digest = Sha256Digest::of(credential);
    let mut found = None;
    for c in &config.callers {
        // Every caller is compared, matched or not, so timing does not reveal which matched.
        // The retiring credential (mid-rotation) is compared too, always, for the same reason.
        let current = c
            .credential_sha256
            .as_ref()
            .is_some_and(|d| digests_equal(d, &digest));
        let retiring = c
            .retiring_credential_sha256
            .as_ref()
            .is_some_and(|d| digests_equal(d, &digest));
        let matched = current | retiring;
        if matched {
            found = Some(c);
        }
    }
    let c = found.ok_or(AuthError::BadCredential)?;
    if let Some(pinned) = &c.client_cert_sha256
        && !client_cert.is_some_and(|p| digests_equal(p, pinned))
    {
        return Err(AuthError::ClientCertificate);
    }
    Ok(AuthenticatedCaller::admit(c))
}

/// Whether any approved caller is pinned to a client certificate (such a caller can only be
/// admitted over TLS).
#[must_use]
pub fn pins_client_certificates(config: &Config) -> bool {
    config
        .callers
        .iter()
        .any(|c| c.client_cert_sha256.is_some())
}

fn digests_equal(a: &Sha256Digest, b: &Sha256Digest) -> bool {
    a.bytes().ct_eq(b.bytes()).into()
}
