//! RTMP ingest: one task per connection moving bytes between the socket, `rml_rtmp`'s
//! sans-IO handshake and server session, and the push's [`PushSession`].
//!
//! `rml_rtmp` does not expose the `connect` command's `tcUrl`, which names the push
//! domain, nor the chunk sizes a client sets; until `connect` arrives the same bytes also
//! go through its chunk deserializer (a few hundred bytes per connection) to read them.
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
//! [`HANDSHAKE_TIMEOUT`], [`IDLE_TIMEOUT`], [`MAX_CHUNK_SIZE`] (checked up to `connect`,
//! where clients set it; later a larger chunk size costs no memory, since messages are
//! bounded anyway), [`MAX_PENDING_BYTES`] (bytes received without completing a message:
//! bounds a message's size), [`MAX_PUBLISHES_PER_CONNECTION`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rml_rtmp::chunk_io::ChunkDeserializer;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::messages::RtmpMessage;
use rml_rtmp::rml_amf0::Amf0Value;
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use super::admission::Slot;
use super::error::DataError;
use super::live::Control;
use super::push::{Admitted, PublishRequest, Push, Refusal, RefusalKind};
use super::DataPlane;
use crate::formats::flv::demux::{FlvTag, TagKind};
use crate::formats::flv::ingest::FlvIngest;
use crate::media::Input;
use crate::server::limits::{AcceptBackoff, Quiet};

/// The handshake must complete within this.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that sends nothing for this long is dropped.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest chunk size a client may announce.
pub const MAX_CHUNK_SIZE: u32 = 1024 * 1024;
/// Most bytes received without a complete message (bounds a message's size).
pub const MAX_PENDING_BYTES: usize = 16 * 1024 * 1024;
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
/// Most bytes handed to the RTMP session at once.
pub const FEED_BYTES: usize = 16 * 1024;
/// Most bytes taken from one connection per tick (40 MB/s; a faster sender waits).
pub const MAX_MEDIA_BYTES_PER_TICK: usize = 8 * 1024 * 1024;

/// Accepts RTMP connections until `shutdown` turns true.
pub async fn serve_rtmp(
    app: Arc<DataPlane>,
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    let mut stop = shutdown.clone();
    let mut backoff = AcceptBackoff::new("RTMP");
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
                                tracing::warn!(%peer, why = %refusal, more, "RTMP connection refused");
                            }
                            continue; // dropping the socket closes it
                        }
                    };
                    let app = Arc::clone(&app);
                    let shutdown = shutdown.clone();
                    tasks.spawn(async move {
                        let _ = socket.set_nodelay(true);
                        if let Err(e) = connection(app, socket, peer, shutdown, slot).await {
                            tracing::info!(%peer, error = %e, "RTMP connection closed");
                        }
                    });
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

async fn read_some(
    socket: &mut TcpStream,
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
async fn write_out(socket: &mut TcpStream, out: &mut Vec<u8>) -> Result<(), DataError> {
    if out.is_empty() {
        return Ok(());
    }
    match tokio::time::timeout(IDLE_TIMEOUT, socket.write_all(out)).await {
        Ok(result) => result?,
        Err(_) => return Err(DataError::Timeout("peer not reading")),
    }
    out.clear();
    Ok(())
}

async fn handshake(socket: &mut TcpStream) -> Result<Vec<u8>, DataError> {
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
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                socket.write_all(&response_bytes).await?;
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
    pub(super) tc_url: Option<String>,
    pub(super) shadow: Option<ChunkDeserializer>,
    pub(super) publishes: usize,
    pub(super) push: Option<Push>,
    /// The FLV adapter of its push.
    pub(super) ingest: FlvIngest,
    pub(super) control_tx: mpsc::UnboundedSender<Control>,
    pub(super) out: Vec<u8>,
    pub(super) pending_bytes: usize,
    /// Its share of file handles (grown when it publishes).
    pub(super) slot: Slot,
}

async fn connection(
    app: Arc<DataPlane>,
    mut socket: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
    slot: Slot,
) -> Result<(), DataError> {
    let remaining = handshake(&mut socket).await?;
    let (rtmp, first) = ServerSession::new(ServerSessionConfig::new())
        .map_err(|e| DataError::Protocol(format!("{e:?}")))?;
    let (control_tx, mut control_rx) = mpsc::unbounded_channel();
    let local = socket.local_addr()?;
    let mut conn = Conn {
        app,
        peer,
        local,
        rtmp,
        tc_url: None,
        shadow: Some(ChunkDeserializer::new()),
        publishes: 0,
        push: None,
        ingest: FlvIngest::default(),
        control_tx,
        out: Vec::new(),
        pending_bytes: 0,
        slot,
    };
    let commands = command_phase(&mut conn, &mut socket, first, &remaining, &mut shutdown).await;
    let result = match commands {
        Ok(true) => match socket.into_std() {
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
async fn command_phase(
    conn: &mut Conn,
    socket: &mut TcpStream,
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
    mut socket: std::net::TcpStream,
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
                    let _ = write_nonblocking(&mut socket, &mut conn.out);
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
                if write_nonblocking(&mut socket, &mut conn.out)? {
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
    /// (into the RTMP session) before the connection task can yield.
    static MEDIA_READ_BUFFER: std::cell::RefCell<Vec<u8>> =
        std::cell::RefCell::new(vec![0; MEDIA_READ_BYTES]);
}

/// Reads what the kernel holds for this connection (up to [`MAX_MEDIA_BYTES_PER_TICK`])
/// and feeds it to the session.
async fn drain_socket(
    conn: &mut Conn,
    socket: &mut std::net::TcpStream,
) -> Result<Drained, DataError> {
    let mut total = 0;
    while total < MAX_MEDIA_BYTES_PER_TICK {
        let mut results = Vec::new();
        let read = MEDIA_READ_BUFFER.with(|buf| {
            let mut buf = buf.borrow_mut();
            let n = loop {
                match std::io::Read::read(socket, &mut buf) {
                    Ok(0) => return Ok(None),
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(Some(0)),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(DataError::from(e)),
                }
            };
            conn.feed(buf.get(..n).unwrap_or_default(), &mut results)?;
            Ok(Some(n))
        })?;
        let Some(n) = read else {
            return Ok(Drained::Closed);
        };
        conn.results(results).await?;
        total += n;
        if n < MEDIA_READ_BYTES {
            // The socket buffer is (almost surely) empty: the next tick reads the rest,
            // without a read here that would only say "would block".
            break;
        }
    }
    Ok(Drained::Bytes(total))
}

/// Writes what the session produced without blocking; keeps the rest for the next
/// tick. True when everything pending went out.
fn write_nonblocking(
    socket: &mut std::net::TcpStream,
    out: &mut Vec<u8>,
) -> Result<bool, DataError> {
    use std::io::Write;
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

impl Conn {
    async fn input(&mut self, bytes: &[u8]) -> Result<(), DataError> {
        let mut results = Vec::new();
        self.feed(bytes, &mut results)?;
        self.results(results).await
    }

    /// Feeds received bytes to the RTMP session, at most [`FEED_BYTES`] at a time (it
    /// keeps unparsed input in a buffer of its own, which then stays small).
    fn feed(
        &mut self,
        bytes: &[u8],
        results: &mut Vec<ServerSessionResult>,
    ) -> Result<(), DataError> {
        for piece in bytes.chunks(FEED_BYTES) {
            self.pending_bytes += piece.len();
            if self.pending_bytes > MAX_PENDING_BYTES {
                return Err(DataError::Limit(format!(
                    "{} bytes without a complete message",
                    self.pending_bytes
                )));
            }
            if let Some(shadow) = self.shadow.as_mut() {
                match shadow_read(shadow, piece) {
                    Shadow::Pending => {}
                    Shadow::Connect(url) => {
                        self.tc_url = Some(url);
                        self.shadow = None;
                    }
                    Shadow::ChunkTooLarge(size) => {
                        return Err(DataError::Limit(format!(
                            "chunk size {size} > {MAX_CHUNK_SIZE}"
                        )))
                    }
                    Shadow::Broken => self.shadow = None,
                }
            }
            let produced = self
                .rtmp
                .handle_input(piece)
                .map_err(|e| DataError::Protocol(format!("{e:?}")))?;
            if produced
                .iter()
                .any(|r| !matches!(r, ServerSessionResult::OutboundResponse(_)))
            {
                self.pending_bytes = 0;
            }
            results.extend(produced);
        }
        Ok(())
    }

    async fn results(&mut self, results: Vec<ServerSessionResult>) -> Result<(), DataError> {
        let mut queue = std::collections::VecDeque::from(results);
        while let Some(result) = queue.pop_front() {
            match result {
                ServerSessionResult::OutboundResponse(packet) => {
                    self.out.extend_from_slice(&packet.bytes)
                }
                ServerSessionResult::RaisedEvent(event) => {
                    self.pending_bytes = 0;
                    queue.extend(self.event(event).await?);
                }
                ServerSessionResult::UnhandleableMessageReceived(_) => self.pending_bytes = 0,
            }
        }
        Ok(())
    }

    async fn event(
        &mut self,
        event: ServerSessionEvent,
    ) -> Result<Vec<ServerSessionResult>, DataError> {
        let protocol =
            |e: rml_rtmp::sessions::ServerSessionError| DataError::Protocol(format!("{e:?}"));
        match event {
            ServerSessionEvent::ClientChunkSizeChanged { new_chunk_size }
                if new_chunk_size > MAX_CHUNK_SIZE =>
            {
                Err(DataError::Limit(format!(
                    "chunk size {new_chunk_size} > {MAX_CHUNK_SIZE}"
                )))
            }
            ServerSessionEvent::ConnectionRequested { request_id, .. } => {
                self.rtmp.accept_request(request_id).map_err(protocol)
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                app_name,
                stream_key,
                ..
            } => self.publish(request_id, &app_name, &stream_key).await,
            ServerSessionEvent::PublishStreamFinished { .. } => {
                self.end_push("unpublished").await;
                Ok(Vec::new())
            }
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } => {
                self.media(TagKind::Video, timestamp.value, data).await;
                Ok(Vec::new())
            }
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } => {
                self.media(TagKind::Audio, timestamp.value, data).await;
                Ok(Vec::new())
            }
            ServerSessionEvent::PlayStreamRequested { request_id, .. } => self
                .rtmp
                .reject_request(
                    request_id,
                    "NetStream.Play.Failed",
                    "liverec records; it does not play",
                )
                .map_err(protocol),
            _ => Ok(Vec::new()),
        }
    }

    /// A `publish`: a second one on the connection is refused and the connection
    /// dropped; otherwise the push's checks decide ([`Admitted::check`]).
    async fn publish(
        &mut self,
        request_id: u32,
        app_name: &str,
        stream_key: &str,
    ) -> Result<Vec<ServerSessionResult>, DataError> {
        if self.publishes >= MAX_PUBLISHES_PER_CONNECTION || self.push.is_some() {
            // Refused, then dropped: the status goes out before the connection closes.
            let refusal = refuse(RefusalKind::BadName, "one publish per connection");
            for result in self.reject(request_id, &refusal)? {
                if let ServerSessionResult::OutboundResponse(packet) = result {
                    self.out.extend_from_slice(&packet.bytes);
                }
            }
            return Err(DataError::Limit(
                "a second publish on one connection".into(),
            ));
        }
        self.publishes += 1;
        let request = PublishRequest {
            app: app_name.to_owned(),
            stream_key: stream_key.to_owned(),
            url: self.tc_url.clone().unwrap_or_default(),
            peer: self.peer,
            local: self.local,
        };
        let control = self.control_tx.clone();
        let admitted = match Admitted::check(&self.app, &mut self.slot, request, control).await {
            Ok(admitted) => admitted,
            Err(refusal) => return self.reject(request_id, &refusal),
        };
        let results = match self.rtmp.accept_request(request_id) {
            Ok(results) => results,
            Err(e) => {
                admitted.abandon(&mut self.slot).await;
                return Err(DataError::Protocol(format!("{e:?}")));
            }
        };
        self.ingest = FlvIngest::default();
        self.push = Some(admitted.start().await);
        Ok(results)
    }

    /// Audio or video from the publisher, through the FLV adapter into the push.
    async fn media(&mut self, kind: TagKind, timestamp_ms: u32, data: bytes::Bytes) {
        let Some(push) = self.push.as_mut() else {
            return;
        };
        // rml_rtmp assembles each message in a buffer of its own: shared, not copied.
        let tag = FlvTag {
            offset: 0,
            kind,
            timestamp_ms,
            data,
        };
        let input = self.ingest.push_tag(&tag);
        if !matches!(input, Input::Nothing) {
            push.input(&input).await;
        }
    }

    /// Ends the connection's push, if it has one.
    async fn end_push(&mut self, why: &str) {
        if let Some(push) = self.push.take() {
            push.end(&mut self.slot, why).await;
        }
    }

    fn reject(
        &mut self,
        request_id: u32,
        refusal: &Refusal,
    ) -> Result<Vec<ServerSessionResult>, DataError> {
        let code = match refusal.kind {
            RefusalKind::BadName => "NetStream.Publish.BadName",
            RefusalKind::Unauthorized => "NetStream.Publish.Unauthorized",
            RefusalKind::NoRoom => "NetStream.Publish.Rejected",
        };
        tracing::warn!(peer = %self.peer, code, why = %refusal.reason, "publish rejected");
        self.app.metrics.pushes_rejected.inc();
        self.rtmp
            .reject_request(request_id, code, &refusal.reason)
            .map_err(|e| DataError::Protocol(format!("{e:?}")))
    }
}

fn refuse(kind: RefusalKind, reason: &str) -> Refusal {
    Refusal {
        kind,
        reason: reason.to_owned(),
    }
}

/// What the shadow deserializer found before `connect`.
enum Shadow {
    /// Still waiting for `connect`.
    Pending,
    /// The tcUrl (empty when absent).
    Connect(String),
    /// A SetChunkSize above [`MAX_CHUNK_SIZE`].
    ChunkTooLarge(u32),
    /// Bytes the deserializer rejects (the session will report them).
    Broken,
}

/// Reads the `connect` command's tcUrl from the first messages, checking the chunk size
/// the client announces on the way.
fn shadow_read(shadow: &mut ChunkDeserializer, bytes: &[u8]) -> Shadow {
    let mut input = bytes;
    loop {
        let payload = match shadow.get_next_message(input) {
            Ok(Some(p)) => p,
            Ok(None) => return Shadow::Pending,
            Err(_) => return Shadow::Broken,
        };
        input = &[];
        match payload.to_rtmp_message() {
            Ok(RtmpMessage::SetChunkSize { size }) if size > MAX_CHUNK_SIZE => {
                return Shadow::ChunkTooLarge(size)
            }
            Ok(RtmpMessage::SetChunkSize { size }) => {
                if shadow.set_max_chunk_size(size as usize).is_err() {
                    return Shadow::Broken;
                }
            }
            Ok(RtmpMessage::Amf0Command {
                command_name,
                command_object: Amf0Value::Object(properties),
                ..
            }) if command_name == "connect" => {
                return Shadow::Connect(match properties.get("tcUrl") {
                    Some(Amf0Value::Utf8String(url)) => url.clone(),
                    _ => String::new(),
                });
            }
            Ok(_) => {}
            Err(_) => return Shadow::Broken,
        }
    }
}
