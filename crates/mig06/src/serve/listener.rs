//! The accept loop and each connection's life, for both transports.
//!
//! The decision that matters: plain HTTP and TLS run through one loop with the same limits; the
//! only difference is a handshake (itself bounded by the head clock) before the connection is
//! handed to the same [`serve_connection`]. Connection caps are enforced at accept, where a
//! connection beyond a cap costs nothing but its close, and shutdown is a broadcast every
//! connection watches, so the drain is bounded by one timeout and not by the slowest client.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use mig06_rail::ids::Sha256Digest;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::conn::{ConnState, Guarded, Limits};
use super::handlers::PeerAddr;
use super::metrics::{Metrics, bump};
use super::oplog::SERVE_TARGET;
use crate::tls::PeerCertificate;

/// Pause after a failed `accept` (out of file descriptors, say) instead of spinning on it.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(200);

/// The transport of a listener.
pub(crate) enum Transport {
    /// Plain HTTP/1.1 over TCP.
    Plain,
    /// HTTPS: a TLS handshake first, then the same loop.
    Tls(tokio_rustls::TlsAcceptor),
}

/// Everything a connection task needs.
struct Shared {
    metrics: Arc<Metrics>,
    app: Router,
    limits: Limits,
    builder: hyper::server::conn::http1::Builder,
    transport: Transport,
    shutdown: watch::Receiver<bool>,
}

/// What a connection holds while it is open: its place under both connection caps.
type Held = (OwnedSemaphorePermit, PeerSlot);

// INV-SERVER-LIMITS: every connection, plain HTTP or TLS, goes through this one loop: the caps on
// connections overall and per peer, and the bounded drain on shutdown.
/// Serves `app` on `listener` (plain HTTP or TLS: one loop, the same limits) until
/// SIGTERM/SIGINT. A connection beyond `max_connections`, or beyond `max_connections_per_peer`
/// from one address, is closed at once. On shutdown the listener closes, idle and half-sent
/// connections close at once, and connections with a request in progress get its answer, for
/// at most `limits.drain` (the attempt deadline plus [`super::DRAIN_MARGIN`]); attempts already
/// on their threads finish and are recorded regardless.
pub(crate) async fn serve_loop(
    listener: tokio::net::TcpListener,
    app: Router,
    transport: Transport,
    limits: Limits,
    metrics: &Arc<Metrics>,
) {
    let (tx, rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        metrics: Arc::clone(metrics),
        app,
        builder: http1_builder(&limits),
        limits: limits.clone(),
        transport,
        shutdown: rx,
    });
    let total = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let slots = Arc::new(Semaphore::new(total as usize));
    let peers = Arc::new(PeerSlots::default());
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let Ok((tcp, peer)) = accepted else {
            // A failed accept affects that connection only; pause rather than spin.
            tokio::time::sleep(ACCEPT_BACKOFF).await;
            continue;
        };
        // A connection beyond a cap is dropped (closed) here, before any byte is read.
        let Some(held) = admit(&slots, &peers, peer.ip(), limits.max_per_peer, metrics) else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let _held = held;
            shared.serve_tcp(tcp, peer).await;
        });
    }
    drop(listener);
    let _ = tx.send(true);
    // Every connection gives its slot back when it ends; wait for all of them, bounded.
    if tokio::time::timeout(limits.drain, slots.acquire_many(total))
        .await
        .is_err()
    {
        tracing::warn!(
            target: SERVE_TARGET,
            event = "drain_timeout",
            drain_ms = u64::try_from(limits.drain.as_millis()).unwrap_or(u64::MAX),
            "connections still open after the drain were closed"
        );
    }
}

/// hyper's HTTP/1.1 connection settings for `limits`.
fn http1_builder(limits: &Limits) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        // The guard enforces the head and idle clocks; this is hyper's own backstop.
        .header_read_timeout(limits.idle_timeout + limits.header_timeout)
        .max_headers(limits.max_headers)
        .keep_alive(true);
    builder
}

/// A place under both connection caps for a connection from `ip`, or `None` (counted) when it
/// is beyond either.
fn admit(
    slots: &Arc<Semaphore>,
    peers: &Arc<PeerSlots>,
    ip: IpAddr,
    max_per_peer: usize,
    metrics: &Metrics,
) -> Option<Held> {
    let Ok(slot) = Arc::clone(slots).try_acquire_owned() else {
        bump(&metrics.refused_total_cap);
        tracing::warn!(
            target: SERVE_TARGET,
            event = "connection_refused",
            limit = "max_connections",
            peer_ip = %ip,
            "connection closed at accept: a connection cap was reached"
        );
        return None;
    };
    let Some(peer_slot) = peers.acquire(ip, max_per_peer) else {
        bump(&metrics.refused_peer_cap);
        tracing::warn!(
            target: SERVE_TARGET,
            event = "connection_refused",
            limit = "max_connections_per_peer",
            peer_ip = %ip,
            "connection closed at accept: a connection cap was reached"
        );
        return None;
    };
    Some((slot, peer_slot))
}

impl Shared {
    /// Serves an accepted TCP connection on this listener's transport. A TLS handshake that does
    /// not finish within the head clock ends the connection, answered nothing.
    async fn serve_tcp(&self, tcp: TcpStream, addr: SocketAddr) {
        match &self.transport {
            Transport::Plain => serve_connection(tcp, None, addr, self).await,
            Transport::Tls(acceptor) => {
                let failure =
                    match tokio::time::timeout(self.limits.header_timeout, acceptor.accept(tcp))
                        .await
                    {
                        Ok(Ok(stream)) => Ok(stream),
                        Ok(Err(_)) => Err("handshake_error"),
                        Err(_) => Err("handshake_timeout"),
                    };
                let stream = match failure {
                    Ok(stream) => stream,
                    Err(cause) => {
                        // The error's text may quote what the client sent: only a closed cause.
                        bump(&self.metrics.tls_handshake_failures);
                        tracing::warn!(
                            target: SERVE_TARGET,
                            event = "tls_handshake_failed",
                            cause,
                            peer = %addr,
                            "TLS handshake failed; connection closed"
                        );
                        return;
                    }
                };
                let peer = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(<[_]>::first)
                    .map(|cert| Sha256Digest::of(cert.as_ref()));
                serve_connection(stream, Some(PeerCertificate(peer)), addr, self).await;
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!(
        target: SERVE_TARGET,
        event = "shutdown",
        "shutting down; in-flight attempts finish, no new ones start"
    );
}

/// Resolves once shutdown has begun.
async fn shutdown_begun(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|begun| *begun).await;
}

/// Serves one connection (plain or TLS stream) through the guard, until it ends, or until it is
/// told to close (shutdown or lifetime) and then at most `drain` more.
async fn serve_connection<S>(
    io: S,
    peer: Option<PeerCertificate>,
    addr: SocketAddr,
    shared: &Shared,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let limits = &shared.limits;
    let conn = Arc::new(ConnState::default());
    let lifetime = tokio::time::sleep(limits.max_lifetime);
    let closing: Pin<Box<dyn std::future::Future<Output = ()> + Send>> = {
        let rx = shared.shutdown.clone();
        let lifetime = limits.max_lifetime;
        Box::pin(async move {
            tokio::select! {
                () = shutdown_begun(rx) => {},
                () = tokio::time::sleep(lifetime) => {},
            }
        })
    };
    let guarded = Guarded::new(io, Arc::clone(&conn), limits, closing);
    let mut app = shared
        .app
        .clone()
        .layer(axum::Extension(conn))
        .layer(axum::Extension(PeerAddr(addr)));
    if let Some(peer) = peer {
        app = app.layer(axum::Extension(peer));
    }
    let service = hyper_util::service::TowerToHyperService::new(app);
    let connection = shared
        .builder
        .serve_connection(hyper_util::rt::TokioIo::new(guarded), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        // A connection error (client reset, timeout) ends that connection only.
        _ = connection.as_mut() => return,
        () = shutdown_begun(shared.shutdown.clone()) => {},
        () = lifetime => {},
    }
    // Told to close: the answer in progress (if any) says Connection: close, then it closes.
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(limits.drain, connection).await;
}

/// Open connections per peer IP address.
#[derive(Debug, Default)]
struct PeerSlots {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One peer's connection slot, given back on drop.
struct PeerSlot {
    slots: Arc<PeerSlots>,
    ip: IpAddr,
}

impl PeerSlots {
    /// A slot for `ip`, unless it already has `max` connections open.
    fn acquire(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<PeerSlot> {
        let mut open = self.open.lock().ok()?;
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(PeerSlot {
            slots: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.slots.open.lock()
            && let Some(n) = open.get_mut(&self.ip)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}
