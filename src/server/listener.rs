//! The HTTP listener: at most [`super::admission::Budget::http_connections`] connections
//! at once (each holds a permit until it closes; more wait in the kernel's backlog), and
//! accept failures backed off and logged quietly ([`AcceptBackoff`]) instead of axum's
//! one error line per second.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::admission::AcceptBackoff;

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

/// A connection holding its slot.
pub struct Capped {
    io: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Capped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Capped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
