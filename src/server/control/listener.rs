//! The HTTP listener: at most [`crate::server::limits::Budget::http_connections`] connections
//! at once (each holds a permit until it closes; more wait in the kernel's backlog), a
//! connection that moves no byte either way for [`HTTP_IDLE_TIMEOUT`] is closed (axum
//! sets no timer for hyper: an idle keep-alive socket would otherwise hold its slot
//! forever), and accept failures backed off and logged quietly ([`AcceptBackoff`])
//! instead of axum's one error line per second.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// An HTTP connection that moves no byte for this long is closed.
pub const HTTP_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

use crate::server::limits::AcceptBackoff;

/// See the module doc.
pub struct CappedListener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    backoff: AcceptBackoff,
}

impl CappedListener {
    /// Caps `inner` at `max` connections at once.
    pub fn new(inner: TcpListener, max: u64) -> Self {
        let permits = usize::try_from(max)
            .unwrap_or(usize::MAX)
            .clamp(1, Semaphore::MAX_PERMITS);
        Self {
            inner,
            slots: Arc::new(Semaphore::new(permits)),
            backoff: AcceptBackoff::new("HTTP"),
        }
    }
}

impl axum::serve::Listener for CappedListener {
    type Io = Capped;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Capped, SocketAddr) {
        loop {
            // The semaphore is never closed.
            let Ok(permit) = Arc::clone(&self.slots).acquire_owned().await else {
                continue;
            };
            match self.inner.accept().await {
                Ok((io, peer)) => {
                    self.backoff.reset();
                    return (
                        Capped {
                            io,
                            idle: Box::pin(tokio::time::sleep(HTTP_IDLE_TIMEOUT)),
                            _permit: permit,
                        },
                        peer,
                    );
                }
                Err(e) => self.backoff.failed(&e).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection holding its slot, closed after [`HTTP_IDLE_TIMEOUT`] without traffic.
pub struct Capped {
    io: TcpStream,
    idle: Pin<Box<Sleep>>,
    _permit: OwnedSemaphorePermit,
}

impl Capped {
    /// Bytes moved: the idle deadline starts over.
    fn moved(&mut self) {
        self.idle.as_mut().reset(Instant::now() + HTTP_IDLE_TIMEOUT);
    }

    /// A pending read or write: an error once the connection has been idle too long.
    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match self.idle.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "HTTP connection idle",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Capped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.moved();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => self.pending(cx),
            ready => ready,
        }
    }
}

impl AsyncWrite for Capped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.io).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                self.moved();
                Poll::Ready(Ok(n))
            }
            Poll::Pending => self.pending(cx),
            ready => ready,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
