//! RTMP ingest: one task per connection moving bytes between the socket, `rml_rtmp`'s
//! sans-IO handshake and server session, and the push's [`PushSession`].
//!
//! `rml_rtmp` does not expose the `connect` command's `tcUrl`, which names the push
//! domain, nor the chunk sizes a client sets; until `connect` arrives the same bytes also
//! go through its chunk deserializer (a few hundred bytes per connection) to read them.
//!
//! Publish: the domain comes from the tcUrl ([`push_domain`]); push authentication is
//! checked when the domain has an enabled key (a bad or expired `txSecret` is rejected
//! with `NetStream.Publish.Unauthorized`, logged); a second publisher on a live stream
//! key is rejected with `NetStream.Publish.BadName`; then the recording plan is resolved
//! once (rule + active tasks) and the push's outputs are fixed — except tasks, which are
//! re-planned when the task configuration changes or a scheduled task's start arrives.
//!
//! Limits (a connection breaking one is dropped; nothing else is affected):
//! [`HANDSHAKE_TIMEOUT`], [`IDLE_TIMEOUT`], [`MAX_CHUNK_SIZE`] (checked up to `connect`,
//! where clients set it; later a larger chunk size costs no memory, since messages are
//! bounded anyway), [`MAX_PENDING_BYTES`] (bytes received without completing a message:
//! bounds a message's size), [`MAX_PUBLISHES_PER_CONNECTION`].

use std::collections::HashSet;
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

use super::admission::{AcceptBackoff, Quiet, Slot};
use super::gop::GopCache;
use super::live::Control;
use super::notify::now_ms;
use super::recorder::{announce_exception, finish_parked, PushStream, Recorder};
use super::state::AppState;
use crate::config::callback_event::{push_event, PushEvent, StreamRef};
use crate::config::plan::{plan_recording, OutputPlan, RecordingPlan};
use crate::config::push_auth::{verify_push, PushCredentials};
use crate::config::push_url::{push_domain, query_param, split_stream_key, MAX_STREAM_KEY_BYTES};
use crate::config::rule::{check_push_names, StreamKey};
use crate::config::template::Format;
use crate::formats::flv::demux::{FlvDemuxer, FlvTag, TagKind};
use crate::record::session::{Action, OutputSpec, PushSession};

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

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Socket failure.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// Handshake failure.
    #[error("handshake: {0}")]
    Handshake(String),
    /// RTMP protocol failure.
    #[error("protocol: {0}")]
    Protocol(String),
    /// A limit was exceeded.
    #[error("limit: {0}")]
    Limit(String),
    /// Timed out.
    #[error("timeout: {0}")]
    Timeout(&'static str),
}

/// Accepts RTMP connections until `shutdown` turns true.
pub async fn serve_rtmp(
    app: Arc<AppState>,
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
) -> Result<usize, IngestError> {
    match tokio::time::timeout(limit, socket.read(buf)).await {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(IngestError::Timeout(what)),
    }
}

/// Sends what the session produced; a peer that does not read for [`IDLE_TIMEOUT`] is
/// dropped.
async fn write_out(socket: &mut TcpStream, out: &mut Vec<u8>) -> Result<(), IngestError> {
    if out.is_empty() {
        return Ok(());
    }
    match tokio::time::timeout(IDLE_TIMEOUT, socket.write_all(out)).await {
        Ok(result) => result?,
        Err(_) => return Err(IngestError::Timeout("peer not reading")),
    }
    out.clear();
    Ok(())
}

async fn handshake(socket: &mut TcpStream) -> Result<Vec<u8>, IngestError> {
    let mut hs = Handshake::new(PeerType::Server);
    let mut buf = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let n = read_some(socket, &mut buf, left, "handshake").await?;
        if n == 0 {
            return Err(IngestError::Handshake("closed during the handshake".into()));
        }
        let input = buf.get(..n).unwrap_or_default();
        match hs
            .process_bytes(input)
            .map_err(|e| IngestError::Handshake(format!("{e:?}")))?
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

struct Push {
    stream: PushStream,
    /// `None` when a rule FLV output's file serves as the GOP cache.
    gop: Option<GopCache>,
    actions: Vec<Action>,
    registration: u64,
    session: PushSession,
    recorder: Recorder,
    started_ms: i64,
    sequence: String,
    tasks: HashSet<String>,
    next_replan_ms: Option<i64>,
}

struct Conn {
    app: Arc<AppState>,
    peer: SocketAddr,
    local: SocketAddr,
    rtmp: ServerSession,
    tc_url: Option<String>,
    shadow: Option<ChunkDeserializer>,
    publishes: usize,
    push: Option<Push>,
    control_tx: mpsc::UnboundedSender<Control>,
    out: Vec<u8>,
    pending_bytes: usize,
    /// Its share of file handles (grown when it publishes).
    slot: Slot,
}

async fn connection(
    app: Arc<AppState>,
    mut socket: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
    slot: Slot,
) -> Result<(), IngestError> {
    let remaining = handshake(&mut socket).await?;
    let (rtmp, first) = ServerSession::new(ServerSessionConfig::new())
        .map_err(|e| IngestError::Protocol(format!("{e:?}")))?;
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
        control_tx,
        out: Vec::new(),
        pending_bytes: 0,
        slot,
    };
    let commands = async {
        conn.results(first).await?;
        conn.input(&remaining).await?;
        write_out(&mut socket, &mut conn.out).await?;
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
                    conn.input(buf.get(..n).unwrap_or_default()).await?;
                    write_out(&mut socket, &mut conn.out).await?;
                }
                _ = tick.tick() => {
                    if last_read.elapsed() > IDLE_TIMEOUT {
                        return Err(IngestError::Timeout("idle connection"));
                    }
                }
                _ = shutdown.changed() => return Ok(false),
            }
        }
        Ok(true)
    }
    .await;
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
) -> Result<(), IngestError> {
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
                    Drained::Bytes(_) => last_read = now,
                }
                if write_nonblocking(&mut socket, &mut conn.out)? {
                    last_write = now;
                }
                if now.duration_since(last_read) > IDLE_TIMEOUT {
                    return Err(IngestError::Timeout("idle connection"));
                }
                if now.duration_since(last_write) > IDLE_TIMEOUT {
                    return Err(IngestError::Timeout("peer not reading"));
                }
                if conn.replan_due() {
                    conn.replan().await;
                }
            }
            Some(Control::Replan) = control_rx.recv() => conn.replan().await,
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
) -> Result<Drained, IngestError> {
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
                    Err(e) => return Err(IngestError::from(e)),
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
) -> Result<bool, IngestError> {
    use std::io::Write;
    let mut sent = 0;
    while sent < out.len() {
        match socket.write(out.get(sent..).unwrap_or_default()) {
            Ok(0) => return Err(IngestError::Timeout("peer not reading")),
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
    async fn input(&mut self, bytes: &[u8]) -> Result<(), IngestError> {
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
    ) -> Result<(), IngestError> {
        for piece in bytes.chunks(FEED_BYTES) {
            self.pending_bytes += piece.len();
            if self.pending_bytes > MAX_PENDING_BYTES {
                return Err(IngestError::Limit(format!(
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
                        return Err(IngestError::Limit(format!(
                            "chunk size {size} > {MAX_CHUNK_SIZE}"
                        )))
                    }
                    Shadow::Broken => self.shadow = None,
                }
            }
            let produced = self
                .rtmp
                .handle_input(piece)
                .map_err(|e| IngestError::Protocol(format!("{e:?}")))?;
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

    async fn results(&mut self, results: Vec<ServerSessionResult>) -> Result<(), IngestError> {
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
    ) -> Result<Vec<ServerSessionResult>, IngestError> {
        let protocol =
            |e: rml_rtmp::sessions::ServerSessionError| IngestError::Protocol(format!("{e:?}"));
        match event {
            ServerSessionEvent::ClientChunkSizeChanged { new_chunk_size }
                if new_chunk_size > MAX_CHUNK_SIZE =>
            {
                Err(IngestError::Limit(format!(
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

    async fn reject(
        &mut self,
        request_id: u32,
        code: &str,
        why: &str,
    ) -> Result<Vec<ServerSessionResult>, IngestError> {
        tracing::warn!(peer = %self.peer, code, why, "publish rejected");
        self.app.metrics.pushes_rejected.inc();
        self.rtmp
            .reject_request(request_id, code, why)
            .map_err(|e| IngestError::Protocol(format!("{e:?}")))
    }

    async fn publish(
        &mut self,
        request_id: u32,
        app_name: &str,
        stream_key: &str,
    ) -> Result<Vec<ServerSessionResult>, IngestError> {
        if self.publishes >= MAX_PUBLISHES_PER_CONNECTION || self.push.is_some() {
            // Refused, then dropped: the status goes out before the connection closes.
            let refusal = self
                .reject(
                    request_id,
                    "NetStream.Publish.BadName",
                    "one publish per connection",
                )
                .await?;
            for result in refusal {
                if let ServerSessionResult::OutboundResponse(packet) = result {
                    self.out.extend_from_slice(&packet.bytes);
                }
            }
            return Err(IngestError::Limit(
                "a second publish on one connection".into(),
            ));
        }
        if stream_key.len() > MAX_STREAM_KEY_BYTES {
            return self
                .reject(
                    request_id,
                    "NetStream.Publish.BadName",
                    "stream key too long",
                )
                .await;
        }
        self.publishes += 1;
        let (name, query) = split_stream_key(stream_key);
        let default_domain = self.app.settings.default_domain();
        let tc_url = self.tc_url.clone().unwrap_or_default();
        let Some(domain) = push_domain(&tc_url, query, &default_domain) else {
            return self
                .reject(
                    request_id,
                    "NetStream.Publish.BadName",
                    "no valid push domain in the URL",
                )
                .await;
        };
        if let Err(e) = check_push_names(app_name, name) {
            return self
                .reject(request_id, "NetStream.Publish.BadName", &e.to_string())
                .await;
        }
        let stream = PushStream {
            domain,
            app: app_name.to_owned(),
            stream: name.to_owned(),
            stream_param: query.to_owned(),
        };
        let now = now_ms();
        let (plan, auth) = {
            let control = self.app.control.lock().await;
            let auth = control
                .push_auth
                .get(&stream.domain)
                .filter(|k| k.enable == 1)
                .map(|key| {
                    let keys = key.keys();
                    verify_push(
                        &PushCredentials {
                            keys: &keys,
                            auth_delta_s: key.auth_delta,
                            stream_name: name,
                            tx_secret: &query_param(query, "txSecret").unwrap_or_default(),
                            tx_time: &query_param(query, "txTime").unwrap_or_default(),
                        },
                        now / 1000,
                    )
                });
            let key = StreamKey::new(&stream.domain, &stream.app, &stream.stream);
            (plan_recording(&control.config, &key, now / 1000), auth)
        };
        if let Some(Err(e)) = auth {
            return self
                .reject(request_id, "NetStream.Publish.Unauthorized", &e.to_string())
                .await;
        }
        if let Some((free, floor)) = self.app.space.low() {
            let why = format!(
                "free space below the floor ({} MiB free, {} MiB kept): no new recordings",
                free >> 20,
                floor >> 20
            );
            self.app.metrics.refused("free_space");
            announce_exception(&self.app, &stream, "", "", &why).await;
            return self
                .reject(request_id, "NetStream.Publish.Rejected", &why)
                .await;
        }
        if let Err(refusal) = self.slot.publish() {
            self.app.metrics.refused(refusal.label());
            return self
                .reject(
                    request_id,
                    "NetStream.Publish.Rejected",
                    &refusal.to_string(),
                )
                .await;
        }
        let Some(registration) = self.app.live.register(&stream, self.control_tx.clone()) else {
            return self
                .reject(
                    request_id,
                    "NetStream.Publish.BadName",
                    "the stream is already being pushed",
                )
                .await;
        };
        let results = match self.rtmp.accept_request(request_id) {
            Ok(results) => results,
            Err(e) => {
                self.app.live.unregister(&stream, registration);
                return Err(IngestError::Protocol(format!("{e:?}")));
            }
        };
        self.start_push(stream, registration, plan, now).await;
        Ok(results)
    }

    async fn start_push(
        &mut self,
        stream: PushStream,
        registration: u64,
        plan: RecordingPlan,
        now: i64,
    ) {
        let override_s = self.app.settings.file.testing.record_interval_seconds;
        let mut specs = Vec::new();
        if let Some(rule) = &plan.rule {
            for output in &rule.outputs {
                specs.push(spec_of(output, "", rule.rule.template_id, None, override_s));
            }
        }
        let mut tasks = HashSet::new();
        for task in &plan.tasks {
            tasks.insert(task.task.task_id.clone());
            for output in &task.outputs {
                specs.push(spec_of(
                    output,
                    &task.task.task_id,
                    task.task.template_id,
                    Some(task.end_time * 1000),
                    override_s,
                ));
            }
        }
        // Auto-splice: continue the parked HLS recordings this push's plan still asks for.
        let mut resumed = Vec::new();
        for parked in self.app.live.take_parked(&stream) {
            let same = specs.iter().position(|s| {
                s.format == Format::Hls
                    && s.task_id == parked.spec.task_id
                    && s.template_id == parked.spec.template_id
            });
            match same {
                Some(i) => {
                    specs.remove(i);
                    resumed.push(parked);
                }
                None => finish_parked(&self.app, &stream, &parked).await,
            }
        }
        tracing::info!(peer = %self.peer, stream = %stream.key(), outputs = specs.len() + resumed.len(),
            spliced = resumed.len(), "push started");
        let session = PushSession::new(&stream.stream, specs, resumed);
        self.app.metrics.pushes.inc();
        self.app.metrics.live_pushes.inc();
        let sequence = uuid::Uuid::new_v4().simple().to_string();
        let next_replan_ms = plan.pending_tasks.first().map(|t| t.start_time * 1000);
        let gop = (!session.has_rule_flv()).then(|| {
            GopCache::new(
                self.app
                    .storage
                    .scratch_path(&format!("gop-{sequence}.flv")),
            )
        });
        self.push = Some(Push {
            gop,
            actions: Vec::new(),
            recorder: Recorder::new(Arc::clone(&self.app), stream.clone()),
            stream,
            registration,
            session,
            started_ms: now,
            sequence,
            tasks,
            next_replan_ms,
        });
        self.push_callback(None).await;
    }

    async fn media(&mut self, kind: TagKind, timestamp_ms: u32, data: bytes::Bytes) {
        let Some(push) = self.push.as_mut() else {
            return;
        };
        let tag = FlvTag {
            offset: 0,
            kind,
            timestamp_ms,
            // rml_rtmp assembles each message in a buffer of its own: shared, not copied.
            data,
        };
        if let Some(Err(e)) = push.gop.as_mut().map(|g| g.push(&tag)) {
            tracing::warn!(stream = %push.stream.key(), error = %e, "GOP cache");
        }
        let mut actions = std::mem::take(&mut push.actions);
        push.session.push_tag(&tag, now_ms(), &mut actions);
        apply(push, &mut actions).await;
        push.actions = actions;
    }

    fn replan_due(&self) -> bool {
        self.push
            .as_ref()
            .and_then(|p| p.next_replan_ms)
            .is_some_and(|at| at <= now_ms())
    }

    /// Re-plans tasks: starts outputs of tasks that became active, stops those that ended.
    async fn replan(&mut self) {
        let Some(push) = self.push.as_mut() else {
            return;
        };
        let now = now_ms();
        let plan = {
            let control = self.app.control.lock().await;
            let key = StreamKey::new(&push.stream.domain, &push.stream.app, &push.stream.stream);
            plan_recording(&control.config, &key, now / 1000)
        };
        push.next_replan_ms = plan.pending_tasks.first().map(|t| t.start_time * 1000);
        let override_s = self.app.settings.file.testing.record_interval_seconds;
        let mut actions = Vec::new();
        let replay = if plan
            .tasks
            .iter()
            .any(|t| !push.tasks.contains(&t.task.task_id))
        {
            gop_replay(push).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "reading the GOP cache");
                Vec::new()
            })
        } else {
            Vec::new()
        };
        let active: HashSet<String> = plan.tasks.iter().map(|t| t.task.task_id.clone()).collect();
        for stopped in push.tasks.difference(&active) {
            push.session.stop_task(stopped, now, &mut actions);
        }
        for task in &plan.tasks {
            if push.tasks.contains(&task.task.task_id) {
                continue;
            }
            tracing::info!(stream = %push.stream.key(), task = %task.task.task_id, "task starts recording");
            for output in &task.outputs {
                let spec = spec_of(
                    output,
                    &task.task.task_id,
                    task.task.template_id,
                    Some(task.end_time * 1000),
                    override_s,
                );
                push.session.add_output(spec, &replay, now, &mut actions);
            }
        }
        push.tasks = active.union(&push.tasks).cloned().collect();
        apply(push, &mut actions).await;
    }

    async fn end_push(&mut self, why: &str) {
        let Some(mut push) = self.push.take() else {
            return;
        };
        let mut actions = Vec::new();
        let parked = push.session.finish(now_ms(), &mut actions);
        apply(&mut push, &mut actions).await;
        push.recorder.abandon();
        self.app.live.unregister(&push.stream, push.registration);
        self.app.metrics.live_pushes.dec();
        for hls in parked {
            self.app
                .live
                .park(Arc::clone(&self.app), push.stream.clone(), hls);
        }
        tracing::info!(peer = %self.peer, stream = %push.stream.key(), why, files = push.recorder.committed, "push ended");
        let (stream, sequence, started) =
            (push.stream.clone(), push.sequence.clone(), push.started_ms);
        let dims = push.session.media().dimensions.unwrap_or((0, 0));
        self.push_event_for(&stream, &sequence, Some(now_ms() - started), dims)
            .await;
    }

    async fn push_callback(&mut self, duration: Option<i64>) {
        let Some(push) = self.push.as_ref() else {
            return;
        };
        let (stream, sequence) = (push.stream.clone(), push.sequence.clone());
        self.push_event_for(&stream, &sequence, duration, (0, 0))
            .await;
    }

    async fn push_event_for(
        &self,
        stream: &PushStream,
        sequence: &str,
        duration: Option<i64>,
        dims: (u32, u32),
    ) {
        let template = {
            let control = self.app.control.lock().await;
            control
                .callbacks
                .template_for(&stream.domain, &stream.app)
                .cloned()
        };
        let Some(template) = template else {
            return;
        };
        let url = if duration.is_some() {
            &template.stream_end_notify_url
        } else {
            &template.stream_begin_notify_url
        };
        if url.is_empty() {
            return;
        }
        let event_id = format!("push-{}-{sequence}", if duration.is_some() { 0 } else { 1 });
        let body = push_event(&PushEvent {
            event_id: &event_id,
            stream: StreamRef {
                domain: &stream.domain,
                app: &stream.app,
                stream: &stream.stream,
                stream_param: &stream.stream_param,
            },
            event_time: now_ms() / 1000,
            sequence,
            node: &self.local.ip().to_string(),
            user_ip: &self.peer.ip().to_string(),
            push_duration_ms: duration,
            errmsg: "ok",
            dimensions: dims,
        });
        if let Err(e) = self
            .app
            .notifier
            .enqueue(url, &template.callback_key, &body)
            .await
        {
            tracing::warn!(error = %e, "queueing a push callback");
        }
    }
}

/// The current GOP: from the rule FLV output's open file when there is one, else from
/// the GOP cache file.
fn gop_replay(push: &mut Push) -> std::io::Result<Vec<FlvTag>> {
    if let Some(gop) = push.gop.as_mut() {
        return gop.replay();
    }
    let Some(point) = push.session.replay_point() else {
        return Ok(Vec::new());
    };
    let bytes = push.recorder.read_from(point.file, point.offset)?;
    let mut demuxer = FlvDemuxer::without_header();
    demuxer.push(&bytes);
    let mut tags = point.headers;
    while let Ok(Some(tag)) = demuxer.pull() {
        tags.push(tag);
    }
    Ok(tags)
}

async fn apply(push: &mut Push, actions: &mut Vec<Action>) {
    if actions.is_empty() {
        return;
    }
    push.recorder.apply(actions.drain(..), &push.session).await;
    for failed in push.recorder.take_failed() {
        let hls = push.session.fail_output(
            failed.output,
            failed.transient,
            failed.lost_segment,
            now_ms(),
        );
        push.recorder.end_failed_hls(&failed.spec, hls).await;
    }
}

fn spec_of(
    output: &OutputPlan,
    task_id: &str,
    template_id: i64,
    ends_at_ms: Option<i64>,
    override_s: Option<u64>,
) -> OutputSpec {
    let interval = output
        .record_interval_seconds
        .map(|s| override_s.map_or(s, |o| o as i64) * 1000);
    OutputSpec {
        format: output.format,
        interval_ms: interval,
        vod_file_name: output.vod_file_name.clone(),
        task_id: task_id.to_owned(),
        template_id,
        storage_time_s: output.storage_time_seconds,
        flow_continue_s: output.flow_continue_seconds.unwrap_or(0),
        ends_at_ms,
        recording_id: uuid::Uuid::new_v4().simple().to_string(),
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
