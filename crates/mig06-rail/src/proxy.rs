//! The sync governance proxy (outline §4.1): how a dependency's answer becomes synchronous and
//! authoritative, or the attempt fails closed.
//!
//! The decision that matters: an answer counts only if it is obtained on the attempt's own
//! thread, before the attempt's deadline, and is final. A Rust future is polled here, on the
//! calling thread, and parked between polls; if it is still pending at the deadline it is
//! dropped (cancelled) and the caller gets [`Ambiguity`]. Nothing is spawned, buffered, retried
//! or delivered later: when this function returns, the dependency call is over.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use crate::executor::Deadline;

/// The dependency did not give a synchronous, authoritative answer before the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no synchronous answer before the deadline")]
pub struct Ambiguity;

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

// INV-SYNC-RAIL: The rail is synchronous only.
// INV-SYNC-PROXY: The sync proxy gives a synchronous, authoritative answer or fails closed.
/// Polls `fut` on the calling thread until it is ready or `deadline` passes. At the deadline the
/// future is dropped, which cancels whatever it was doing.
///
/// # Errors
/// [`Ambiguity`] when the future is still pending at the deadline.
pub fn resolve_by<F: Future>(fut: F, deadline: Deadline) -> Result<F::Output, Ambiguity> {
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Ok(v);
        }
        match deadline.remaining() {
            Some(left) => std::thread::park_timeout(left),
            None => return Err(Ambiguity),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct Counting<'a>(&'a std::cell::Cell<u32>);
    impl Future for Counting<'_> {
        type Output = ();
        fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.0.set(self.0.get() + 1);
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    #[test]
    fn inv_sync_proxy_ready_future_resolves_on_the_calling_thread() {
        let me = std::thread::current().id();
        let v = resolve_by(
            async { std::thread::current().id() },
            Deadline::after(Duration::from_secs(1)),
        );
        assert_eq!(v.unwrap(), me);
    }

    #[test]
    fn inv_sync_proxy_pending_future_is_dropped_at_the_deadline() {
        struct DropFlag<'a>(&'a std::cell::Cell<bool>);
        impl Drop for DropFlag<'_> {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let dropped = std::cell::Cell::new(false);
        let polls = std::cell::Cell::new(0);
        let flag = DropFlag(&dropped);
        let fut = async {
            let _f = flag;
            Counting(&polls).await;
        };
        let r = resolve_by(fut, Deadline::after(Duration::from_millis(30)));
        assert_eq!(r, Err(Ambiguity));
        assert!(
            dropped.get(),
            "the future must be cancelled, not left running"
        );
        assert!(polls.get() >= 1);
    }
}
