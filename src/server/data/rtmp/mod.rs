//! RTMP ingest: one task per connection moving bytes between the socket, the chunk
//! demultiplexer ([`ChunkDemux`]), `rml_rtmp`'s sans-IO handshake and server session,
//! and the push.
//!
//! Audio and video messages go from the demultiplexer straight into the push; every
//! other message (commands, metadata, user control) is chunked again for `rml_rtmp`'s
//! session, which answers them. The connection reads the `connect` command's `tcUrl`
//! (which names the push domain; `rml_rtmp` does not expose it) on the way, and sends
//! acknowledgements itself ([`ack`]).
//!
//! Connections are admitted by [`super::admission`] (file handles, caps per address and
//! in all); a push's lifecycle — the checks a publish passes, the recording it starts,
//! task re-planning, its end — is in [`super::push`], which this module feeds with the
//! FLV adapter's protocol-neutral [`Input`]s ([`FlvIngest`]). Refusals are rml_rtmp's
//! `_error` answers with a status (`NetStream.Publish.BadName`, `.Unauthorized`,
//! `.Rejected`: ffmpeg and librtmp-based encoders stop on them); a second publish on one
//! connection is refused and the connection dropped.
//!
//! Limits (a connection breaking one is dropped; nothing else is affected):
//! [`HANDSHAKE_TIMEOUT`], [`IDLE_TIMEOUT`], [`MAX_CHUNK_SIZE`], [`MAX_ASSEMBLY_BYTES`]
//! (messages in assembly at once), [`MAX_CHUNK_STREAMS`],
//! [`MAX_PUBLISHES_PER_CONNECTION`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

mod ack;
mod conn;
mod socket;

use rml_rtmp::chunk_io::ChunkSerializer;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{ServerSession, ServerSessionConfig, ServerSessionResult};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use self::socket::{MediaSocket, Read1, TlsSocket};
use super::admission::Slot;
use super::error::DataError;
use super::lanes::{Lanes, Seat};
use super::live::Control;
use super::push::Push;
use super::DataPlane;
use crate::formats::flv::ingest::FlvIngest;
#[cfg(doc)]
use crate::formats::rtmp::MAX_CHUNK_STREAMS;
use crate::formats::rtmp::{ChunkDemux, Limits, Message};
use crate::server::limits::{AcceptBackoff, Quiet};

/// The handshake must complete within this.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that sends nothing for this long is dropped.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest chunk size a client may announce.
pub const MAX_CHUNK_SIZE: u32 = 1024 * 1024;
/// Most bytes of messages in assembly at once, by their announced lengths (a message
/// may announce up to 16 MiB − 1; encoders send one at a time).
pub const MAX_ASSEMBLY_BYTES: usize = 16 * 1024 * 1024;
/// Publishes per connection.
pub const MAX_PUBLISHES_PER_CONNECTION: usize = 1;
/// How often a connection checks its idle time before it publishes (afterwards the
/// media read tick also checks idleness and scheduled task starts).
pub const HOUSEKEEPING_TICK: Duration = Duration::from_millis(500);
/// Socket read size while commands are exchanged.
pub const READ_BYTES: usize = 16 * 1024;
/// Once publishing, each connection's socket is read once per tick (shared by all).
/// Bytes wait in the kernel's socket buffer meanwhile (Linux grows it as needed: a
/// 30 Mbit/s push keeps real time); they count toward the crash-loss bound.
pub const MEDIA_READ_TICK: Duration = Duration::from_millis(200);
/// Socket read size once publishing (a tick of a 10 Mbit/s stream in one read); one
/// buffer per runtime thread.
pub const MEDIA_READ_BYTES: usize = 256 * 1024;
/// Most bytes taken from one connection per tick (40 MB/s; a faster sender waits).
pub const MAX_MEDIA_BYTES_PER_TICK: usize = 8 * 1024 * 1024;

/// Accepts RTMP connections until `shutdown` turns true — RTMPS when `tls` is given
/// (the TLS handshake, bounded by [`HANDSHAKE_TIMEOUT`], comes first).
pub async fn serve_rtmp(
    app: Arc<DataPlane>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    lanes: Option<Arc<Lanes>>,
    shutdown: watch::Receiver<bool>,
) {
    let protocol = if tls.is_some() { "RTMPS" } else { "RTMP" };
    let mut tasks = tokio::task::JoinSet::new();
    let mut stop = shutdown.clone();
    let mut backoff = AcceptBackoff::new(protocol);
    let mut refusals = Quiet::default();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    backoff.reset();
                    let slot = match app.admission.connect(peer.ip()) {
                        Ok(slot) => slot,
                        Err(refusal) => {
                            app.metrics.refused(refusal.label());
                            if let Some(more) = refusals.note(std::time::Instant::now()) {
                                tracing::warn!(%peer, why = %refusal, more, protocol, "connection refused");
                            }
                            continue; // dropping the socket closes it
                        }
                    };
                    let ctx = Ctx { app: Arc::clone(&app), tls: tls.clone(), shutdown: shutdown.clone(), protocol };
                    spawn_connection(&mut tasks, lanes.as_deref(), ctx, socket, peer, slot);
                }
                Err(e) => backoff.failed(&e).await,
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    // Let every connection finalise its recordings.
    while tasks.join_next().await.is_some() {}
}

/// What every connection of a listener shares.
struct Ctx {
    app: Arc<DataPlane>,
    tls: Option<TlsAcceptor>,
    shutdown: watch::Receiver<bool>,
    protocol: &'static str,
}

/// Runs an accepted connection on the ingest lane [`Lanes`] picks (on the shared runtime
/// when there are none); its socket is registered again where it runs.
fn spawn_connection(
    tasks: &mut tokio::task::JoinSet<()>,
    lanes: Option<&Lanes>,
    ctx: Ctx,
    socket: TcpStream,
    peer: SocketAddr,
    slot: Slot,
) {
    let run = move |seat: Option<Seat>, socket: std::io::Result<std::net::TcpStream>| async move {
        let Ctx {
            app,
            tls,
            shutdown,
            protocol,
        } = ctx;
        let result = match socket.and_then(TcpStream::from_std) {
            Ok(socket) => {
                let _ = socket.set_nodelay(true);
                connection(app, socket, tls, peer, shutdown, slot).await
            }
            Err(e) => Err(e.into()),
        };
        if let Err(e) = result {
            tracing::info!(%peer, error = %e, protocol, "connection closed");
        }
        drop(seat);
    };
    let socket = socket.into_std();
    match lanes {
        Some(lanes) => lanes.spawn_into(tasks, move |seat| run(Some(seat), socket)),
        None => {
            tasks.spawn(run(None, socket));
        }
    }
}

async fn read_some<S: AsyncRead + Unpin>(
    socket: &mut S,
    buf: &mut [u8],
    limit: Duration,
    what: &'static str,
) -> Result<usize, DataError> {
    match tokio::time::timeout(limit, socket.read(buf)).await {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(DataError::Timeout(what)),
    }
}

/// Sends what the session produced; a peer that does not read for [`IDLE_TIMEOUT`] is
/// dropped.
async fn write_out<S: AsyncWrite + Unpin>(
    socket: &mut S,
    out: &mut Vec<u8>,
) -> Result<(), DataError> {
    if out.is_empty() {
        return Ok(());
    }
    match tokio::time::timeout(IDLE_TIMEOUT, socket.write_all(out)).await {
        Ok(result) => result?,
        Err(_) => return Err(DataError::Timeout("peer not reading")),
    }
    if let Err(e) = socket.flush().await {
        return Err(e.into());
    }
    out.clear();
    Ok(())
}

async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    socket: &mut S,
) -> Result<Vec<u8>, DataError> {
    let mut hs = Handshake::new(PeerType::Server);
    let mut buf = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let n = read_some(socket, &mut buf, left, "handshake").await?;
        if n == 0 {
            return Err(DataError::Handshake("closed during the handshake".into()));
        }
        let input = buf.get(..n).unwrap_or_default();
        match hs
            .process_bytes(input)
            .map_err(|e| DataError::Handshake(format!("{e:?}")))?
        {
            HandshakeProcessResult::InProgress { response_bytes } => {
                socket.write_all(&response_bytes).await?;
                socket.flush().await?;
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                socket.write_all(&response_bytes).await?;
                socket.flush().await?;
                return Ok(remaining_bytes);
            }
        }
    }
}

pub(super) struct Conn {
    pub(super) app: Arc<DataPlane>,
    pub(super) peer: SocketAddr,
    pub(super) local: SocketAddr,
    pub(super) rtmp: ServerSession,
    /// The connection's chunk streams, demultiplexed.
    chunks: ChunkDemux,
    /// Chunks non-media messages again for `rtmp`.
    relay: ChunkSerializer,
    /// Messages demultiplexed and not yet handled.
    messages: Vec<Message>,
    acks: ack::Acks,
    pub(super) tc_url: Option<String>,
    pub(super) publishes: usize,
    pub(super) push: Option<Push>,
    /// The FLV adapter of its push.
    pub(super) ingest: FlvIngest,
    pub(super) control_tx: mpsc::UnboundedSender<Control>,
    pub(super) out: Vec<u8>,
    /// Its share of file handles (grown when it publishes).
    pub(super) slot: Slot,
    /// `rtmp` or `rtmps`.
    pub(super) protocol: &'static str,
}

/// A connection's transport in the command phase, and how it leaves the reactor for
/// the media phase.
trait Transport: AsyncRead + AsyncWrite + Unpin + Send {
    /// The metrics label of pushes over it.
    const PROTOCOL: &'static str;
    fn into_media(self) -> std::io::Result<MediaSocket>;
}

impl Transport for TcpStream {
    const PROTOCOL: &'static str = "rtmp";
    fn into_media(self) -> std::io::Result<MediaSocket> {
        Ok(MediaSocket::Plain(self.into_std()?))
    }
}

impl Transport for TlsStream<TcpStream> {
    const PROTOCOL: &'static str = "rtmps";
    fn into_media(self) -> std::io::Result<MediaSocket> {
        let (socket, tls) = self.into_inner();
        Ok(MediaSocket::Tls(Box::new(TlsSocket {
            socket: socket.into_std()?,
            tls,
        })))
    }
}

async fn connection(
    app: Arc<DataPlane>,
    socket: TcpStream,
    tls: Option<TlsAcceptor>,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
    slot: Slot,
) -> Result<(), DataError> {
    let local = socket.local_addr()?;
    let Some(tls) = tls else {
        return session(app, socket, (peer, local), shutdown, slot).await;
    };
    let socket = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(socket)).await {
        Ok(Ok(socket)) => socket,
        Ok(Err(e)) => return Err(DataError::Handshake(format!("TLS: {e}"))),
        Err(_) => return Err(DataError::Timeout("TLS handshake")),
    };
    session(app, socket, (peer, local), shutdown, slot).await
}

/// An RTMP session on `socket`, from its handshake to its end.
async fn session<S: Transport>(
    app: Arc<DataPlane>,
    mut socket: S,
    (peer, local): (SocketAddr, SocketAddr),
    mut shutdown: watch::Receiver<bool>,
    slot: Slot,
) -> Result<(), DataError> {
    let remaining = handshake(&mut socket).await?;
    let (rtmp, first) = ServerSession::new(ServerSessionConfig::new())
        .map_err(|e| DataError::Protocol(format!("{e:?}")))?;
    let (control_tx, mut control_rx) = mpsc::unbounded_channel();
    let mut conn = Conn {
        app,
        peer,
        local,
        rtmp,
        chunks: ChunkDemux::new(Limits {
            max_chunk_size: MAX_CHUNK_SIZE,
            max_assembly_bytes: MAX_ASSEMBLY_BYTES,
        }),
        relay: ChunkSerializer::new(),
        messages: Vec::new(),
        acks: ack::Acks::default(),
        tc_url: None,
        publishes: 0,
        push: None,
        ingest: FlvIngest::default(),
        control_tx,
        out: Vec::new(),
        slot,
        protocol: S::PROTOCOL,
    };
    let commands = command_phase(&mut conn, &mut socket, first, &remaining, &mut shutdown).await;
    let result = match commands {
        Ok(true) => match socket.into_media() {
            Ok(socket) => media_phase(&mut conn, socket, &mut control_rx, &mut shutdown).await,
            Err(e) => Err(e.into()),
        },
        Ok(false) => Ok(()),
        Err(e) => Err(e),
    };
    conn.end_push("connection closed").await;
    result
}

/// The command phase of a connection, up to its first publish: true when it publishes,
/// false when it ends before.
async fn command_phase<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn,
    socket: &mut S,
    first: Vec<ServerSessionResult>,
    remaining: &[u8],
    shutdown: &mut watch::Receiver<bool>,
) -> Result<bool, DataError> {
    conn.results(first).await?;
    conn.input(remaining).await?;
    write_out(socket, &mut conn.out).await?;
    let mut buf = vec![0u8; READ_BYTES];
    // One coarse tick per connection checks idleness, so a read costs no timer
    // registration.
    let mut tick = tokio::time::interval(HOUSEKEEPING_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_read = tokio::time::Instant::now();
    while conn.push.is_none() {
        tokio::select! {
            read = socket.read(&mut buf) => {
                let n = read?;
                if n == 0 {
                    return Ok(false);
                }
                last_read = tokio::time::Instant::now();
                let fed = conn.input(buf.get(..n).unwrap_or_default()).await;
                // What the session answered (a refusal before a drop too) goes out.
                let written = write_out(socket, &mut conn.out).await;
                fed?;
                written?;
            }
            _ = tick.tick() => {
                if last_read.elapsed() > IDLE_TIMEOUT {
                    return Err(DataError::Timeout("idle connection"));
                }
            }
            _ = shutdown.changed() => return Ok(false),
        }
    }
    Ok(true)
}

/// The media phase of a connection, from its first publish to its end. The socket is
/// taken out of the reactor and read without blocking once per [`MEDIA_READ_TICK`], on
/// a tick shared by every connection: an encoder sends each audio and video message
/// as it is made (~70 per second for 30 fps video with AAC), and waking per message
/// costs more than handling it. Recording does not need the latency, so one wake-up
/// serves all streams and one read takes a tick's worth of bytes from the kernel's
/// socket buffer.
async fn media_phase(
    conn: &mut Conn,
    mut socket: MediaSocket,
    control_rx: &mut mpsc::UnboundedReceiver<Control>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), DataError> {
    let mut last_read = tokio::time::Instant::now();
    let mut last_write = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next_media_tick()) => {
                let now = tokio::time::Instant::now();
                let drained = drain_socket(conn, &mut socket).await;
                if drained.is_err() {
                    // What the session answered last (a refusal) goes out before the end.
                    let _ = socket.write_nonblocking(&mut conn.out);
                }
                match drained? {
                    Drained::Closed => return Ok(()),
                    Drained::Bytes(0) => {}
                    Drained::Bytes(_) => {
                        last_read = now;
                        if let Some(push) = conn.push.as_mut() {
                            push.flush().await;
                        }
                    }
                }
                if socket.write_nonblocking(&mut conn.out)? {
                    last_write = now;
                }
                if now.duration_since(last_read) > IDLE_TIMEOUT {
                    return Err(DataError::Timeout("idle connection"));
                }
                if now.duration_since(last_write) > IDLE_TIMEOUT {
                    return Err(DataError::Timeout("peer not reading"));
                }
                if let Some(push) = conn.push.as_mut().filter(|p| p.replan_due()) {
                    push.replan().await;
                }
            }
            Some(control) = control_rx.recv() => match control {
                Control::Replan => {
                    if let Some(push) = conn.push.as_mut() {
                        push.replan().await;
                    }
                }
                Control::Drop(why) => return Err(DataError::Dropped(why)),
            },
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

/// The next instant on the media read tick shared by all connections.
fn next_media_tick() -> tokio::time::Instant {
    static EPOCH: std::sync::OnceLock<tokio::time::Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(tokio::time::Instant::now);
    let tick = MEDIA_READ_TICK.as_nanos();
    let elapsed = epoch.elapsed().as_nanos();
    let next = (elapsed / tick + 1).saturating_mul(tick);
    epoch + Duration::from_nanos(u64::try_from(next).unwrap_or(u64::MAX))
}

enum Drained {
    Closed,
    Bytes(usize),
}

thread_local! {
    /// One media read buffer per runtime thread, not per connection: bytes leave it
    /// (into the chunk demultiplexer) before the connection task can yield.
    static MEDIA_READ_BUFFER: std::cell::RefCell<Vec<u8>> =
        std::cell::RefCell::new(vec![0; MEDIA_READ_BYTES]);
}

/// Reads what the kernel holds for this connection (up to [`MAX_MEDIA_BYTES_PER_TICK`])
/// and handles the messages it completes.
async fn drain_socket(conn: &mut Conn, socket: &mut MediaSocket) -> Result<Drained, DataError> {
    let mut total = 0;
    while total < MAX_MEDIA_BYTES_PER_TICK {
        let read = MEDIA_READ_BUFFER.with(|buf| {
            let mut buf = buf.borrow_mut();
            socket.read_with(&mut buf, &mut |bytes| conn.feed(bytes))
        })?;
        conn.messages().await?;
        let n = match read {
            Read1::Closed => return Ok(Drained::Closed),
            Read1::Bytes(n) => n,
        };
        total += n;
        if n < MEDIA_READ_BYTES {
            // The socket buffer is (almost surely) empty: the next tick reads the rest,
            // without a read here that would only say "would block".
            break;
        }
    }
    Ok(Drained::Bytes(total))
}
