//! One hardened HTTP/1.1 connection loop for both transports of `mig06 serve`, plain TCP and TLS.
//!
//! The decision that matters: every request head is read and checked here, by [`Guarded`],
//! before hyper sees a byte of it. hyper answers a malformed head (400) or an oversize one (431)
//! by itself, without calling the service, so those answers could not carry
//! `Cache-Control: no-store`. Here a head that hyper would refuse never reaches hyper: the guard
//! refuses it first and hands hyper a fixed, valid stand-in request instead, which the service
//! answers (400, 411 or 431, with `no-store` and `Connection: close`) from the per-connection
//! [`ConnState`]. So every byte a client receives is written by hyper from a response the
//! service built.
//!
//! The guard also owns the connection's clocks: a request's head and body must arrive within
//! `header_read_timeout` of its first byte (a slow-loris client is closed, answered nothing), and
//! a connection with no request in progress is closed after `idle_timeout`, or at once on
//! shutdown or when its lifetime is up. A request body is framed by `Content-Length` or by
//! `Transfer-Encoding: chunked` (that one coding, once, never with `Content-Length`: ambiguous
//! framing is refused), and the guard follows a chunked body's framing as it passes through
//! ([`ChunkTracker`]), so it always knows where a request ends and the next head begins; the
//! decoded size is capped by the service while it reads (413 past `max_request_bytes`). The caps on open connections, in total and per peer address, are the
//! accept loop's ([`super::listener`]).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The connection limits, from the configuration's `[server]` table.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Open connections at once (both transports).
    pub(crate) max_connections: usize,
    /// Open connections at once from one peer IP address.
    pub(crate) max_per_peer: usize,
    /// Head and body of a request (and a TLS handshake) must arrive within this of the first byte.
    pub(crate) header_timeout: Duration,
    /// A connection with no request in progress is closed after this.
    pub(crate) idle_timeout: Duration,
    /// Requests served on one connection; the last answer says `Connection: close`.
    pub(crate) max_requests: u64,
    /// A connection is told to close after this.
    pub(crate) max_lifetime: Duration,
    /// Largest request head, in bytes.
    pub(crate) max_header_bytes: usize,
    /// Most header fields in a request head.
    pub(crate) max_headers: usize,
    /// How long a connection may still run once told to close (shutdown or lifetime): the
    /// attempt deadline plus [`super::DRAIN_MARGIN`].
    pub(crate) drain: Duration,
}

/// What one connection's guard tells the service, shared by both (an `Extension` on every
/// request of the connection).
#[derive(Debug, Default)]
pub(crate) struct ConnState {
    /// The status the guard refused the current head with (0: none).
    refused: AtomicU16,
    /// A request was handed to hyper and its answer is not built yet.
    request_open: AtomicBool,
    /// Requests handed to hyper on this connection.
    requests: AtomicU64,
    /// This connection's last request has been handed over (request cap reached).
    last: AtomicBool,
    /// The reader parked while an answer is built, holding a next (pipelined) head: woken when
    /// the answer is built, since no socket readiness will wake it.
    parked: Mutex<Option<Waker>>,
}

impl ConnState {
    /// The status the guard refused this request's head with, if it did.
    pub(crate) fn refused(&self) -> Option<StatusCode> {
        match self.refused.load(Ordering::Acquire) {
            0 => None,
            s => StatusCode::from_u16(s).ok(),
        }
    }

    /// Whether the answer being built is the connection's last one.
    pub(crate) fn is_last(&self) -> bool {
        self.last.load(Ordering::Acquire) || self.refused().is_some()
    }

    /// The answer to the request in progress has been built (or the request was dropped).
    pub(crate) fn request_done(&self) {
        self.request_open.store(false, Ordering::Release);
        if let Some(waker) = self.parked.lock().ok().and_then(|mut w| w.take()) {
            waker.wake();
        }
    }

    /// Parks the reader until [`ConnState::request_done`]; false if the request is already done
    /// (then the caller must not wait).
    fn park(&self, waker: &Waker) -> bool {
        if let Ok(mut parked) = self.parked.lock() {
            *parked = Some(waker.clone());
        }
        self.request_open.load(Ordering::Acquire)
    }
}

/// The stand-in request the guard hands hyper in place of a refused head. Its content never
/// matters: the service sees [`ConnState::refused`] and answers with that status.
const STAND_IN: &[u8] = b"GET / HTTP/1.1\r\nhost: refused\r\n\r\n";

/// What the guard made of the bytes buffered so far.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// Not a whole head yet.
    Partial,
    /// A whole, valid head of `len` bytes announcing `body`.
    Complete { len: usize, body: Framing },
    /// A head hyper would refuse, or one this server refuses: answer with this status.
    Refuse(StatusCode),
}

/// How a request's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// `Content-Length` bytes (0 without a body).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Checks a request head as hyper's HTTP/1 server would parse it (the same `httparse`, method,
/// URI and header-name rules), and stricter where this server is: at most `max_bytes` and
/// `max_headers`, `Content-Length` digits only and agreeing, `Transfer-Encoding` only as the
/// one coding `chunked` and never with `Content-Length` (ambiguous framing is refused).
fn check_head(buf: &[u8], max_bytes: usize, max_headers: usize) -> Head {
    let mut headers = vec![httparse::EMPTY_HEADER; max_headers];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Partial) if buf.len() > max_bytes => {
            return Head::Refuse(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        }
        Ok(httparse::Status::Partial) => return Head::Partial,
        Err(httparse::Error::TooManyHeaders) => {
            return Head::Refuse(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        }
        Err(_) => return Head::Refuse(StatusCode::BAD_REQUEST),
        Ok(httparse::Status::Complete(len)) => len,
    };
    if len > max_bytes {
        return Head::Refuse(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    }
    let method_ok = req
        .method
        .is_some_and(|m| Method::from_bytes(m.as_bytes()).is_ok());
    let uri_ok = req.path.is_some_and(|p| Uri::try_from(p).is_ok());
    if !method_ok || !uri_ok {
        return Head::Refuse(StatusCode::BAD_REQUEST);
    }
    let mut body: Option<u64> = None;
    let mut chunked = false;
    for h in req.headers.iter() {
        if HeaderName::from_bytes(h.name.as_bytes()).is_err()
            || HeaderValue::from_bytes(h.value).is_err()
        {
            return Head::Refuse(StatusCode::BAD_REQUEST);
        }
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // One `Transfer-Encoding: chunked` only: a repeated header, a list of codings or
            // any other coding leaves the body's end to interpretation.
            if chunked || !h.value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Head::Refuse(StatusCode::LENGTH_REQUIRED);
            }
            chunked = true;
            continue;
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            let digits = h.value.trim_ascii();
            if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
                return Head::Refuse(StatusCode::BAD_REQUEST);
            }
            let n = digits
                .iter()
                .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
            if body.is_some_and(|prev| prev != n) {
                return Head::Refuse(StatusCode::BAD_REQUEST);
            }
            body = Some(n);
        }
    }
    match (chunked, body) {
        // Both: the request smuggling shape; refused whatever the values.
        (true, Some(_)) => Head::Refuse(StatusCode::BAD_REQUEST),
        (true, None) => Head::Complete {
            len,
            body: Framing::Chunked,
        },
        (false, n) => Head::Complete {
            len,
            body: Framing::Length(n.unwrap_or(0)),
        },
    }
}

/// The longest chunk-size line (with extensions) and the longest trailer section accepted.
const MAX_CHUNK_LINE: usize = 1024;
const MAX_TRAILER: usize = 8 * 1024;

/// Where a chunked body is in its framing.
#[derive(Debug, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line.
    Size(Vec<u8>),
    /// Passing this many more data bytes of the current chunk.
    Data(u64),
    /// Expecting the CRLF after a chunk's data; how many of its bytes were seen.
    DataEnd(u8),
    /// Reading the trailer section after the last chunk.
    Trailer(Vec<u8>),
    /// The body is complete.
    Done,
}

/// Follows a chunked body's framing as its bytes pass through, so the guard knows where it
/// ends and the next head begins. It decodes nothing for hyper (hyper decodes the chunks
/// itself, and the service caps the decoded size while reading: 413 past the cap).
#[derive(Debug, PartialEq, Eq)]
struct ChunkTracker(Chunk);

/// A chunked body whose framing is broken: hyper gets the bytes up to the fault, then the end of
/// the stream, and the request's body fails to read (400, built by the service).
#[derive(Debug, PartialEq, Eq)]
struct BadFraming;

impl ChunkTracker {
    fn new() -> Self {
        Self(Chunk::Size(Vec::new()))
    }

    fn done(&self) -> bool {
        self.0 == Chunk::Done
    }

    /// How many bytes of `buf`, from its start, belong to the body (all of them unless the
    /// body ends inside `buf`).
    fn feed(&mut self, buf: &[u8]) -> Result<usize, BadFraming> {
        let mut used = 0;
        while used < buf.len() && !self.done() {
            let rest = buf.get(used..).unwrap_or_default();
            used += self.step(rest)?;
        }
        Ok(used)
    }

    /// Consumes a prefix of `buf` (non-empty) and moves the framing on.
    fn step(&mut self, buf: &[u8]) -> Result<usize, BadFraming> {
        match &mut self.0 {
            Chunk::Size(line) => {
                let Some(&b) = buf.first() else { return Ok(0) };
                line.push(b);
                if line.len() > MAX_CHUNK_LINE {
                    return Err(BadFraming);
                }
                if b == b'\n' {
                    let size = match httparse::parse_chunk_size(line) {
                        Ok(httparse::Status::Complete((n, size))) if n == line.len() => size,
                        _ => return Err(BadFraming),
                    };
                    self.0 = if size == 0 {
                        Chunk::Trailer(Vec::new())
                    } else {
                        Chunk::Data(size)
                    };
                }
                Ok(1)
            }
            Chunk::Data(left) => {
                let n = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
                *left -= n as u64;
                if *left == 0 {
                    self.0 = Chunk::DataEnd(0);
                }
                Ok(n)
            }
            Chunk::DataEnd(seen) => {
                let want = if *seen == 0 { b'\r' } else { b'\n' };
                if buf.first() != Some(&want) {
                    return Err(BadFraming);
                }
                if *seen == 0 {
                    *seen = 1;
                } else {
                    self.0 = Chunk::Size(Vec::new());
                }
                Ok(1)
            }
            Chunk::Trailer(section) => {
                let Some(&b) = buf.first() else { return Ok(0) };
                section.push(b);
                if section.len() > MAX_TRAILER {
                    return Err(BadFraming);
                }
                if section.as_slice() == b"\r\n" || section.ends_with(b"\r\n\r\n") {
                    self.0 = Chunk::Done;
                }
                Ok(1)
            }
            Chunk::Done => Ok(0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between requests, or reading a head.
    Head,
    /// Passing `body_left` bytes of the current request's body through.
    Body,
    /// A head was refused and the stand-in handed over; nothing more is read.
    Refused,
    /// End of stream for hyper.
    Closed,
}

/// What is left of the current request's body.
#[derive(Debug, PartialEq, Eq)]
enum BodyLeft {
    /// This many bytes (0: the body is complete).
    Length(u64),
    /// The rest of a chunked body.
    Chunked(ChunkTracker),
    /// A chunked body whose framing broke: what came before the fault was handed over, and
    /// hyper sees the stream end next.
    Broken,
}

impl BodyLeft {
    /// Splits `buf` into the part that belongs to the body (taking it off what is left) and
    /// the rest (the next request's head).
    fn take(&mut self, buf: &[u8]) -> usize {
        match self {
            Self::Length(left) => {
                let n = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
                *left -= n as u64;
                n
            }
            Self::Chunked(t) => match t.feed(buf) {
                Ok(n) => {
                    if t.done() {
                        *self = Self::Length(0);
                    }
                    n
                }
                Err(BadFraming) => {
                    *self = Self::Broken;
                    buf.len()
                }
            },
            Self::Broken => 0,
        }
    }

    fn complete(&self) -> bool {
        matches!(self, Self::Length(0) | Self::Broken)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clock {
    Off,
    Idle,
    Request,
}

// INV-NO-CACHING: Execution, decision, mutation and audit paths are non-cacheable.
// INV-SERVER-LIMITS: hyper reads only through this stream: a head is checked for size and time
// before hyper sees it, and a body is exactly its declared length.
/// A connection's byte stream as hyper reads it: only checked heads, exact bodies, and the
/// connection's clocks (see the module documentation).
pub(crate) struct Guarded<S> {
    io: S,
    state: Arc<ConnState>,
    max_header_bytes: usize,
    max_headers: usize,
    max_requests: u64,
    header_timeout: Duration,
    idle_timeout: Duration,
    phase: Phase,
    /// Bytes read from the client and not yet handed over (a head being assembled, and
    /// anything after it).
    pending: Vec<u8>,
    /// Bytes handed over but not yet copied into hyper's buffer.
    ready: Vec<u8>,
    ready_pos: usize,
    body: BodyLeft,
    clock: Clock,
    timer: Pin<Box<Sleep>>,
    /// Resolves when the connection must close between requests (shutdown or lifetime).
    closing: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl<S> Guarded<S> {
    pub(crate) fn new(
        io: S,
        state: Arc<ConnState>,
        limits: &Limits,
        closing: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Self {
        Self {
            io,
            state,
            max_header_bytes: limits.max_header_bytes,
            max_headers: limits.max_headers,
            max_requests: limits.max_requests,
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
            phase: Phase::Head,
            pending: Vec::new(),
            ready: Vec::new(),
            ready_pos: 0,
            body: BodyLeft::Length(0),
            clock: Clock::Off,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            closing,
        }
    }

    fn set_clock(&mut self, clock: Clock) {
        if self.clock == clock {
            return;
        }
        self.clock = clock;
        let after = match clock {
            Clock::Off => return,
            Clock::Idle => self.idle_timeout,
            Clock::Request => self.header_timeout,
        };
        self.timer.as_mut().reset(Instant::now() + after);
    }

    /// Whether the running clock (if any) has run out; registers the waker otherwise.
    fn clock_expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.clock != Clock::Off && self.timer.as_mut().poll(cx).is_ready()
    }

    fn refuse(&mut self, status: StatusCode) {
        self.state.refused.store(status.as_u16(), Ordering::Release);
        self.state.request_open.store(true, Ordering::Release);
        self.ready = STAND_IN.to_vec();
        self.ready_pos = 0;
        self.pending = Vec::new();
        self.phase = Phase::Refused;
        self.set_clock(Clock::Off);
    }

    /// Hands over a checked head of `len` bytes and whatever of its body is already buffered.
    fn hand_over(&mut self, len: usize, framing: Framing) {
        self.body = match framing {
            Framing::Length(n) => BodyLeft::Length(n),
            Framing::Chunked => BodyLeft::Chunked(ChunkTracker::new()),
        };
        let buffered = self.body.take(self.pending.get(len..).unwrap_or_default());
        let take = len + buffered;
        let rest = self.pending.split_off(take.min(self.pending.len()));
        self.ready = std::mem::replace(&mut self.pending, rest);
        self.ready_pos = 0;
        self.state.request_open.store(true, Ordering::Release);
        let n = self.state.requests.fetch_add(1, Ordering::AcqRel) + 1;
        if n >= self.max_requests {
            self.state.last.store(true, Ordering::Release);
        }
        self.phase = Phase::Body;
        if self.body.complete() {
            self.set_clock(Clock::Off);
        }
    }
}

/// Reads from `io` into `dst`, at most `limit` bytes.
fn read_some<S: AsyncRead + Unpin>(
    io: &mut S,
    cx: &mut Context<'_>,
    dst: &mut ReadBuf<'_>,
    limit: usize,
) -> Poll<io::Result<usize>> {
    let limit = limit.min(dst.remaining());
    let mut sub = ReadBuf::new(dst.initialize_unfilled_to(limit));
    match Pin::new(io).poll_read(cx, &mut sub) {
        Poll::Ready(Ok(())) => {
            let n = sub.filled().len();
            dst.advance(n);
            Poll::Ready(Ok(n))
        }
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

/// What one step of the read loop decided.
enum ReadDecision {
    /// State changed; look again.
    Again,
    /// Answer hyper's read with this.
    Return(Poll<io::Result<()>>),
}

/// Bytes read from the socket at a time while a head is assembled.
const HEAD_READ_CHUNK: usize = 4096;

impl<S: AsyncRead + Unpin> Guarded<S> {
    /// Copies handed-over bytes into hyper's buffer; false when there are none.
    fn copy_ready(&mut self, dst: &mut ReadBuf<'_>) -> bool {
        let Some(bytes) = self.ready.get(self.ready_pos..).filter(|b| !b.is_empty()) else {
            return false;
        };
        let n = bytes.len().min(dst.remaining());
        dst.put_slice(bytes.get(..n).unwrap_or_default());
        self.ready_pos += n;
        if self.ready_pos >= self.ready.len() {
            self.ready = Vec::new();
            self.ready_pos = 0;
        }
        true
    }

    /// Passes the current request's body through: exactly its `Content-Length`, or its chunks
    /// up to the end of the last one's trailer section.
    fn step_body(&mut self, cx: &mut Context<'_>, dst: &mut ReadBuf<'_>) -> ReadDecision {
        match self.body {
            BodyLeft::Length(0) => {
                self.phase = Phase::Head;
                return ReadDecision::Again;
            }
            BodyLeft::Broken => {
                self.phase = Phase::Closed;
                return ReadDecision::Return(Poll::Ready(Ok(())));
            }
            BodyLeft::Length(_) | BodyLeft::Chunked(_) => {}
        }
        if !self.pending.is_empty() {
            let n = self.body.take(&self.pending);
            let rest = self.pending.split_off(n);
            self.ready = std::mem::replace(&mut self.pending, rest);
            self.ready_pos = 0;
            if self.body.complete() {
                self.set_clock(Clock::Off);
            }
            return ReadDecision::Again;
        }
        if self.clock_expired(cx) {
            // The body did not arrive in time: hyper sees the body end early.
            self.phase = Phase::Closed;
            return ReadDecision::Return(Poll::Ready(Err(io::ErrorKind::TimedOut.into())));
        }
        if let BodyLeft::Length(left) = self.body {
            let limit = usize::try_from(left).unwrap_or(usize::MAX);
            return match read_some(&mut self.io, cx, dst, limit) {
                Poll::Ready(Ok(0)) => {
                    self.phase = Phase::Closed;
                    ReadDecision::Return(Poll::Ready(Ok(())))
                }
                Poll::Ready(Ok(n)) => {
                    self.body = BodyLeft::Length(left - n as u64);
                    if self.body.complete() {
                        self.set_clock(Clock::Off);
                    }
                    ReadDecision::Return(Poll::Ready(Ok(())))
                }
                other => ReadDecision::Return(other.map(|r| r.map(|_| ()))),
            };
        }
        // Chunked: read into a local buffer first, since the body may end inside what arrives
        // and the bytes after it are the next head, which hyper must not see unchecked.
        let mut chunk = [0u8; HEAD_READ_CHUNK];
        let limit = dst.remaining().min(HEAD_READ_CHUNK);
        let mut into = ReadBuf::new(chunk.get_mut(..limit).unwrap_or_default());
        match Pin::new(&mut self.io).poll_read(cx, &mut into) {
            Poll::Ready(Ok(())) if into.filled().is_empty() => {
                self.phase = Phase::Closed;
                ReadDecision::Return(Poll::Ready(Ok(())))
            }
            Poll::Ready(Ok(())) => {
                let got = into.filled();
                let n = self.body.take(got);
                let (body, next) = got.split_at(n.min(got.len()));
                dst.put_slice(body);
                self.pending.extend_from_slice(next);
                if self.body.complete() {
                    self.set_clock(Clock::Off);
                }
                ReadDecision::Return(Poll::Ready(Ok(())))
            }
            Poll::Ready(Err(e)) => ReadDecision::Return(Poll::Ready(Err(e))),
            Poll::Pending => ReadDecision::Return(Poll::Pending),
        }
    }

    /// Assembles and checks the next head, or closes the connection between requests.
    fn step_head(&mut self, cx: &mut Context<'_>) -> ReadDecision {
        let open = self.state.request_open.load(Ordering::Acquire);
        if open {
            // An answer is still being built: hold any next (pipelined) head unread and
            // unchecked until it is; hyper polls again when idle.
            self.set_clock(Clock::Off);
            if !self.pending.is_empty() {
                return if self.state.park(cx.waker()) {
                    ReadDecision::Return(Poll::Pending)
                } else {
                    ReadDecision::Again
                };
            }
        } else if let Some(step) = self.between_requests(cx) {
            return step;
        }
        self.read_head_bytes(cx, open)
    }

    /// With no request in progress: hands over or refuses a whole head if one is buffered, and
    /// closes on shutdown, at the end of the connection's lifetime, or when its clock runs out
    /// (a half-sent head is dropped, answered nothing: no attempt exists for it).
    fn between_requests(&mut self, cx: &mut Context<'_>) -> Option<ReadDecision> {
        if self.pending.is_empty() {
            self.set_clock(Clock::Idle);
        } else {
            self.set_clock(Clock::Request);
            match check_head(&self.pending, self.max_header_bytes, self.max_headers) {
                Head::Complete { len, body } => {
                    self.hand_over(len, body);
                    return Some(ReadDecision::Again);
                }
                Head::Refuse(status) => {
                    self.refuse(status);
                    return Some(ReadDecision::Again);
                }
                Head::Partial => {}
            }
        }
        if self.closing.as_mut().poll(cx).is_ready() || self.clock_expired(cx) {
            self.phase = Phase::Closed;
            self.pending = Vec::new();
            return Some(ReadDecision::Return(Poll::Ready(Ok(()))));
        }
        None
    }

    /// Reads more of a head from the socket into `pending`.
    fn read_head_bytes(&mut self, cx: &mut Context<'_>, open: bool) -> ReadDecision {
        let mut chunk = [0u8; HEAD_READ_CHUNK];
        let mut into = ReadBuf::new(&mut chunk);
        match Pin::new(&mut self.io).poll_read(cx, &mut into) {
            Poll::Ready(Ok(())) if into.filled().is_empty() => {
                self.phase = Phase::Closed;
                ReadDecision::Return(Poll::Ready(Ok(())))
            }
            Poll::Ready(Ok(())) => {
                self.pending.extend_from_slice(into.filled());
                if open && self.state.park(cx.waker()) {
                    ReadDecision::Return(Poll::Pending)
                } else {
                    ReadDecision::Again
                }
            }
            Poll::Ready(Err(e)) => ReadDecision::Return(Poll::Ready(Err(e))),
            Poll::Pending => ReadDecision::Return(Poll::Pending),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.copy_ready(dst) {
                return Poll::Ready(Ok(()));
            }
            let step = match this.phase {
                // hyper answers the stand-in (Connection: close) and closes; it never needs
                // another byte, and is woken by its own progress.
                Phase::Refused => return Poll::Pending,
                Phase::Closed => return Poll::Ready(Ok(())),
                Phase::Body => this.step_body(cx, dst),
                Phase::Head => this.step_head(cx),
            };
            if let ReadDecision::Return(poll) = step {
                return poll;
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_tracker_finds_the_end_of_a_chunked_body() {
        let body = b"5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        let end = body.len() - b"GET / HTTP/1.1\r\n".len();
        // All at once, and byte by byte.
        let mut t = ChunkTracker::new();
        assert_eq!(t.feed(body), Ok(end));
        assert!(t.done());
        let mut t = ChunkTracker::new();
        let mut used = 0;
        for b in body.chunks(1) {
            used += t.feed(b).unwrap();
        }
        assert_eq!(used, end);
        // A trailer section.
        let mut t = ChunkTracker::new();
        let with_trailer = b"1\r\na\r\n0\r\nx-t: 1\r\n\r\nrest";
        assert_eq!(t.feed(with_trailer), Ok(with_trailer.len() - 4));
        // Broken framing.
        for bad in [&b"zz\r\n"[..], b"1\r\nab\r\n", b"ffffffffffffffffffff\r\n"] {
            assert_eq!(ChunkTracker::new().feed(bad), Err(BadFraming), "{bad:?}");
        }
    }

    fn check(head: &[u8]) -> Head {
        check_head(head, 1024, 8)
    }

    #[test]
    fn heads_hyper_would_refuse_are_refused_here_first() {
        assert_eq!(
            check(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n"),
            Head::Complete {
                len: 27,
                body: Framing::Length(0)
            }
        );
        assert_eq!(
            check(b"POST /v1/attempts HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello"),
            Head::Complete {
                len: 49,
                body: Framing::Length(5)
            }
        );
        assert_eq!(check(b"GET / HTTP/1.1\r\nhost: a\r\n"), Head::Partial);
        for bad in [
            &b"GET / HTTP/9.9\r\n\r\n"[..],
            b"G(T / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nbad header\r\n\r\n",
            b"GET /\x7f HTTP/1.1\r\n\r\n",
            b"POST / HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
            b"POST / HTTP/1.1\r\ncontent-length: +5\r\n\r\n",
            b"POST / HTTP/1.1\r\ncontent-length: 99999999999999999999\r\n\r\n",
        ] {
            assert_eq!(check(bad), Head::Refuse(StatusCode::BAD_REQUEST));
        }
        assert_eq!(
            check(b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"),
            Head::Complete {
                len: 47,
                body: Framing::Chunked
            }
        );
        // Ambiguous framing stays refused: both headers, a repeated or listed coding, another
        // coding.
        assert_eq!(
            check(b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n"),
            Head::Refuse(StatusCode::BAD_REQUEST)
        );
        for te in [
            &b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n"
                [..],
            b"POST / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n",
        ] {
            assert_eq!(check(te), Head::Refuse(StatusCode::LENGTH_REQUIRED));
        }
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "a: b\r\n".repeat(9));
        assert_eq!(
            check(many.as_bytes()),
            Head::Refuse(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        let long = format!("GET / HTTP/1.1\r\nx: {}", "a".repeat(1100));
        assert_eq!(
            check(long.as_bytes()),
            Head::Refuse(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
    }
}
