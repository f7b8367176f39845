//! A publishing connection's socket once it is out of the reactor: read and written
//! without blocking, once per media tick — plain TCP, or TLS (RTMPS) through rustls's
//! sans-IO connection.
//!
//! TLS: the command phase runs on `tokio-rustls`; at the first publish its
//! `ServerConnection` (with whatever it has buffered) is taken over here. A tick's
//! ciphertext is read with one system call into the thread's read buffer and handed to
//! rustls from that slice (rustls would otherwise read the socket 4 KiB at a time);
//! the plaintext of every record is gathered and fed to the RTMP session at once.

use std::io::{BufRead, Read, Write};

use rustls::ServerConnection;

use crate::server::data::error::DataError;

/// A publishing connection's socket (non-blocking).
pub(super) enum MediaSocket {
    /// RTMP.
    Plain(std::net::TcpStream),
    /// RTMPS.
    Tls(Box<TlsSocket>),
}

/// A TLS connection over a non-blocking socket.
pub(super) struct TlsSocket {
    pub(super) socket: std::net::TcpStream,
    pub(super) tls: ServerConnection,
}

/// What one read found.
pub(super) enum Read1 {
    /// The peer closed the connection.
    Closed,
    /// This many bytes came from the socket (0: nothing was waiting).
    Bytes(usize),
}

/// Whether rustls's plaintext ended.
enum Plain {
    Open,
    Closed,
}

impl MediaSocket {
    /// Reads once from the socket into `buf` and hands every byte of media it yields
    /// to `feed`.
    pub(super) fn read_with(
        &mut self,
        buf: &mut [u8],
        feed: &mut dyn FnMut(&[u8]) -> Result<(), DataError>,
    ) -> Result<Read1, DataError> {
        match self {
            MediaSocket::Plain(socket) => match read_socket(socket, buf)? {
                Read1::Bytes(n) => {
                    feed(buf.get(..n).unwrap_or_default())?;
                    Ok(Read1::Bytes(n))
                }
                closed => Ok(closed),
            },
            MediaSocket::Tls(tls) => tls.read_with(buf, feed),
        }
    }

    /// Sends what the session produced without blocking; keeps the rest for the next
    /// tick. True when everything pending went out.
    pub(super) fn write_nonblocking(&mut self, out: &mut Vec<u8>) -> Result<bool, DataError> {
        match self {
            MediaSocket::Plain(socket) => write_plain(socket, out),
            MediaSocket::Tls(tls) => tls.write_nonblocking(out),
        }
    }
}

impl TlsSocket {
    fn read_with(
        &mut self,
        buf: &mut [u8],
        feed: &mut dyn FnMut(&[u8]) -> Result<(), DataError>,
    ) -> Result<Read1, DataError> {
        // The tick's plaintext, gathered: the RTMP session takes it in one call rather
        // than one per TLS record (encoders write a chunk's 1-byte header and its data
        // as two records).
        let mut plain = PLAINTEXT.with(|p| std::mem::take(&mut *p.borrow_mut()));
        plain.clear();
        let read = self.read_into(buf, &mut plain);
        let fed = match plain.is_empty() {
            true => Ok(()),
            false => feed(&plain),
        };
        if plain.capacity() <= MAX_KEPT_PLAINTEXT {
            PLAINTEXT.with(|p| *p.borrow_mut() = plain);
        }
        fed?;
        read
    }

    /// Reads once from the socket; the plaintext it yields (and what rustls held from
    /// before: the command phase's last read) is appended to `plain`.
    fn read_into(&mut self, buf: &mut [u8], plain: &mut Vec<u8>) -> Result<Read1, DataError> {
        if matches!(self.deliver(plain)?, Plain::Closed) {
            return Ok(Read1::Closed);
        }
        let n = match read_socket(&mut self.socket, buf)? {
            Read1::Bytes(n) => n,
            closed => return Ok(closed),
        };
        let mut rest = buf.get(..n).unwrap_or_default();
        while !rest.is_empty() {
            // 0: after a close_notify rustls takes nothing more.
            if self.tls.read_tls(&mut rest)? == 0 {
                return Ok(Read1::Closed);
            }
            let state = self.tls.process_new_packets().map_err(tls_error)?;
            if matches!(self.deliver(plain)?, Plain::Closed) || state.peer_has_closed() {
                return Ok(Read1::Closed);
            }
        }
        Ok(Read1::Bytes(n))
    }

    /// Appends the plaintext rustls holds to `plain`.
    fn deliver(&mut self, plain: &mut Vec<u8>) -> Result<Plain, DataError> {
        let mut reader = self.tls.reader();
        loop {
            match reader.fill_buf() {
                Ok([]) => return Ok(Plain::Closed),
                Ok(bytes) => {
                    let len = bytes.len();
                    plain.extend_from_slice(bytes);
                    reader.consume(len);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(Plain::Open),
                // The peer closed the socket without a TLS close_notify (common).
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(Plain::Closed)
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn write_nonblocking(&mut self, out: &mut Vec<u8>) -> Result<bool, DataError> {
        if !out.is_empty() {
            let taken = self.tls.writer().write(out)?;
            out.drain(..taken);
        }
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.socket) {
                Ok(0) => return Err(DataError::Timeout("peer not reading")),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out.is_empty() && !self.tls.wants_write())
    }
}

std::thread_local! {
    /// A tick's plaintext of one TLS connection, filled and fed within one
    /// [`TlsSocket::read_with`]: one buffer per thread serves every connection.
    static PLAINTEXT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Largest plaintext buffer kept for the next tick (a larger one, after a burst, is
/// freed).
const MAX_KEPT_PLAINTEXT: usize = 4 * 1024 * 1024;

fn tls_error(e: rustls::Error) -> DataError {
    DataError::Protocol(format!("TLS: {e}"))
}

/// One non-blocking read.
fn read_socket(socket: &mut std::net::TcpStream, buf: &mut [u8]) -> Result<Read1, DataError> {
    loop {
        match socket.read(buf) {
            Ok(0) => return Ok(Read1::Closed),
            Ok(n) => return Ok(Read1::Bytes(n)),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(Read1::Bytes(0)),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DataError::from(e)),
        }
    }
}

fn write_plain(socket: &mut std::net::TcpStream, out: &mut Vec<u8>) -> Result<bool, DataError> {
    let mut sent = 0;
    while sent < out.len() {
        match socket.write(out.get(sent..).unwrap_or_default()) {
            Ok(0) => return Err(DataError::Timeout("peer not reading")),
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    }
    out.drain(..sent);
    Ok(out.is_empty())
}
