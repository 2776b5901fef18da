//! One connection to the audit database, every round trip bounded from the client side.
//!
//! The decision that matters: **a round trip ends by its bound whatever the server does.** The
//! store drives `tokio-postgres` itself, on a current-thread tokio runtime that this connection
//! owns: each round trip is one `block_on` on the calling thread that polls the query and the
//! connection's I/O together inside `tokio::time::timeout_at(bound)`. Nothing runs between
//! round trips (a current-thread runtime only runs inside `block_on`), no thread is started,
//! and dropping a [`Conn`] drops its runtime, its socket and whatever was in flight: no work
//! outlives the call that gave up on it.
//!
//! Why not the socket's own timeouts: TCP keepalives and `tcp_user_timeout` (both still set, for a
//! cut network) bound a dead *network*, not a stalled *server*. A database whose processes are
//! stopped (SIGSTOP, a hung host, a storage volume that stopped answering under it) keeps its
//! kernel running: the kernel completes the TCP handshake from its listen backlog, acknowledges
//! every byte sent and answers every keepalive probe, so neither timeout ever fires while the
//! round trip waits forever for an answer no process will write. Server-side limits
//! (`statement_timeout`, `lock_timeout`) stop nothing when the server itself is stopped. Only
//! the client's clock bounds that wait, and a socket read timeout (`SO_RCVTIMEO`) cannot be set
//! through the driver; the runtime's timer can.
//!
//! When a bound passes the caller discards the connection: the server then rolls back whatever
//! it had open once it runs again (a message it already received is still executed first: so a
//! commit that was sent may land after the store gave up on it, and the next read of the log
//! settles whether it did; nothing is ever sent twice).

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{Client, Config, Connection, NoTls, SimpleQueryMessage, Socket};

/// Why a round trip failed.
#[derive(Debug)]
pub(crate) enum RoundTripError {
    /// The bound passed before the server answered. `started` is false when nothing of the
    /// round trip was handed to the connection (its bound had passed before it began).
    TimedOut {
        /// Whether the request may have reached the server.
        started: bool,
    },
    /// The server answered with an error, or the connection failed.
    Failed(tokio_postgres::Error),
}

// INV-NO-BACKGROUND: the runtime is current-thread and nothing is spawned on it: the
// connection's I/O is polled only inside a round trip's `block_on`, on the caller's thread.
/// A connection: the client, its connection's I/O (polled only inside a round trip) and the
/// runtime both run on.
pub(crate) struct Conn {
    client: Client,
    connection: Pin<Box<Connection<Socket, NoTlsStream>>>,
    /// The connection's I/O ended (the server closed it); only the client's error is left.
    connection_done: bool,
    /// Always `Some` until dropped ([`Drop`] shuts it down without blocking).
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Nothing was spawned on it, so there is nothing to wait for; and a store dropped from
        // inside another runtime's task (a server shutting down) must not block there.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// A current-thread runtime with I/O and the timer, for one connection: no thread is started.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
}

/// Why a connection could not be made.
#[derive(Debug)]
pub(crate) enum ConnectError {
    /// The bound passed before the server finished the start-up exchange.
    TimedOut,
    /// The runtime could not be built (no file descriptors left).
    Runtime(std::io::Error),
    /// The driver's error: unreachable, refused, authentication, …
    Failed(tokio_postgres::Error),
}

impl Conn {
    /// Connects: TCP (or Unix socket), start-up and authentication, all by `by`.
    pub(crate) fn connect(config: &Config, by: Instant) -> Result<Self, ConnectError> {
        if Instant::now() >= by {
            return Err(ConnectError::TimedOut);
        }
        let runtime = runtime().map_err(ConnectError::Runtime)?;
        let made = runtime
            .block_on(async { tokio::time::timeout_at(by.into(), config.connect(NoTls)).await });
        match made {
            Ok(Ok((client, connection))) => Ok(Self {
                client,
                connection: Box::pin(connection),
                connection_done: false,
                runtime: Some(runtime),
            }),
            Ok(Err(e)) => Err(ConnectError::Failed(e)),
            Err(_) => Err(ConnectError::TimedOut),
        }
    }

    /// Whether the connection is known to be closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.connection_done || self.client.is_closed()
    }

    /// One simple-query round trip (one message, any number of statements), answered by `by`.
    pub(crate) fn simple_query(
        &mut self,
        sql: &str,
        by: Instant,
    ) -> Result<Vec<SimpleQueryMessage>, RoundTripError> {
        let Self {
            client,
            connection,
            connection_done,
            runtime,
        } = self;
        let Some(runtime) = runtime.as_ref() else {
            return Err(RoundTripError::TimedOut { started: false });
        };
        round_trip(
            runtime,
            connection,
            connection_done,
            client.simple_query(sql),
            by,
        )
    }

    /// [`Conn::simple_query`] without rows.
    pub(crate) fn batch_execute(&mut self, sql: &str, by: Instant) -> Result<(), RoundTripError> {
        self.simple_query(sql, by).map(drop)
    }
}

// INV-DEADLINE-ANSWERED: every round trip to the database is one `block_on` bounded by
// `timeout_at(by)` on the client's clock, whatever the server does.
/// Polls `request` and the connection's I/O together until the request is answered or `by`
/// passes.
fn round_trip<T>(
    runtime: &tokio::runtime::Runtime,
    connection: &mut Pin<Box<Connection<Socket, NoTlsStream>>>,
    connection_done: &mut bool,
    request: impl Future<Output = Result<T, tokio_postgres::Error>>,
    by: Instant,
) -> Result<T, RoundTripError> {
    if Instant::now() >= by {
        return Err(RoundTripError::TimedOut { started: false });
    }
    let mut request = std::pin::pin!(request);
    let driven = poll_fn(|cx| {
        if !*connection_done {
            match connection.as_mut().poll(cx) {
                Poll::Pending => {}
                // The server closed the connection: the request fails on its own below.
                Poll::Ready(Ok(())) => *connection_done = true,
                Poll::Ready(Err(e)) => {
                    *connection_done = true;
                    return Poll::Ready(Err(e));
                }
            }
        }
        request.as_mut().poll(cx)
    });
    match runtime.block_on(async { tokio::time::timeout_at(by.into(), driven).await }) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(RoundTripError::Failed(e)),
        Err(_) => Err(RoundTripError::TimedOut { started: true }),
    }
}
