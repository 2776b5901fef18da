//! TLS for `mig06 serve` (rustls, ring provider), and client certificates pinned per caller.
//!
//! The decision that matters: a client certificate is trusted by its SHA-256 fingerprint in the
//! caller's configuration (`client_cert_sha256`), not by a CA. The TLS layer asks every client
//! for a certificate but requires none, and checks only the handshake signature: that proves the
//! client holds the certificate's private key. Whether that certificate is the one pinned for the
//! caller named by the bearer credential is decided by the rail (`Rail::bearer_caller`), per
//! request, so a wrong or missing certificate is the same 401 as a wrong credential.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use mig06_rail::ids::Sha256Digest;
use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};

/// The SHA-256 fingerprint of the client certificate a connection presented, if any. Put on
/// every request of a TLS connection; absent on plain HTTP.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerCertificate(pub(crate) Option<Sha256Digest>);

/// Accepts any client certificate chain and verifies the handshake signature, so that the
/// client is proved to hold the key of the certificate whose fingerprint the rail compares.
#[derive(Debug)]
struct PinnedByFingerprint {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PinnedByFingerprint {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        // Callers without a pinned certificate authenticate with their bearer credential alone.
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Trust is the caller's pinned fingerprint, checked per request by the rail.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The server's TLS configuration from a PEM certificate chain and a PEM private key.
///
/// # Errors
/// Unreadable or invalid PEM files, or a key that does not match the certificate.
pub(crate) fn server_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig> {
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read TLS certificate {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("invalid PEM certificate in {}", cert.display()))?;
    if chain.is_empty() {
        bail!("no certificate in {}", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read a PEM private key from {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = PinnedByFingerprint {
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(chain, key)
        .context("the TLS private key does not match the certificate")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The fingerprint `client_cert_sha256` pins: SHA-256 of the first certificate's DER bytes in a
/// PEM file.
///
/// # Errors
/// An unreadable file or one without a PEM certificate.
pub(crate) fn certificate_fingerprint(pem: &Path) -> Result<Sha256Digest> {
    let cert = CertificateDer::pem_file_iter(pem)
        .with_context(|| format!("cannot read certificate {}", pem.display()))?
        .next()
        .with_context(|| format!("no PEM certificate in {}", pem.display()))?
        .with_context(|| format!("invalid PEM certificate in {}", pem.display()))?;
    Ok(Sha256Digest::of(cert.as_ref()))
}
