//! SRT ingest: callers publish MPEG-TS over SRT (`--srt ADDR`, UDP); the `streamid`
//! names the stream ([`crate::config::srt_stream_id`]); the payload goes through the
//! sans-IO MPEG-TS demuxer ([`TsDemuxer`], the one playback reads recordings with) into
//! the protocol-neutral [`Push`] — the same publish checks, one-publisher rule, plan,
//! callbacks, limits and metrics as RTMP.
//!
//! **Why `srt-tokio`** (0.4.4, pure Rust) rather than bindings to Debian's libsrt: the
//! crate forbids `unsafe` code, and the only libsrt bindings on crates.io
//! (`libsrt-sys` / `srt-rs`) are unmaintained since 2021, vendor a libsrt 1.4 built
//! with cmake at compile time, and would need a hand-written safe wrapper around a
//! C library that runs its own threads. srt-tokio runs on liverec's own tokio
//! runtime, speaks HSv5 with libsrt callers (Debian's ffmpeg 5.1 is tested), carries
//! the stream id for access control and lets each caller be accepted or refused with
//! an SRT reject code — all a recorder needs. Its authors call it not production
//! ready; what liverec relies on is covered by `tests/ingest.rs` (real ffmpeg
//! callers, a refused caller, garbage datagrams on the port). Two adjustments: the
//! listener announces the live maximum payload (1,456 bytes) so that libsrt callers
//! may send the standard 1,316-byte (7 × 188) messages (srt-tokio announces its
//! payload size where libsrt reads the MSS), and encryption is not offered yet.
//!
//! Refusals map to SRT's server reject codes: a malformed stream id or a mode other
//! than `publish` → 2405 (`BadMode`) or 2400 (`BadRequest`), push auth → 2401
//! (`Unauthorized`), a bad name or a live duplicate → 2409 (`Conflict`), no room →
//! 2503 (`Down`, "service unavailable"); the caller's library reports the code.

use crate::server::data::stream::MixRole;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use srt_tokio::access::{RejectReason, ServerRejectReason};
use srt_tokio::options::{PacketCount, PacketSize};
use srt_tokio::{ConnectionRequest, SrtIncoming, SrtListener, SrtSocket};
use tokio::sync::{mpsc, watch};

use super::admission::Slot;
use super::error::DataError;
use super::live::Control;
use super::push::{Admitted, PublishRequest, Push, Refusal, RefusalKind};
use super::DataPlane;
use crate::config::srt_stream_id::{parse_srt_stream_id, SrtPublish, SrtStreamIdError};
use crate::formats::mpegts::demux::TsDemuxer;
use crate::media::interleave::Interleaver;
use crate::media::Input;
use crate::server::error::ServerError;
use crate::server::settings::SrtSettings;

/// How often a push flushes its files, checks idleness and scheduled task starts.
pub const SRT_TICK: Duration = Duration::from_millis(200);
/// A publisher that sends nothing for this long is dropped (SRT's own peer idle
/// timeout, `[srt] peer_idle_timeout_seconds`, usually comes first).
pub const SRT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Payload size the listener announces (the live maximum; see the module doc).
pub const SRT_ANNOUNCED_PAYLOAD: u32 = 1456;
/// SRT messages taken at once before the task yields.
const MAX_MESSAGES_PER_WAKE: usize = 256;

/// An SRT listener bound on `addr` with the `[srt]` settings.
pub async fn bind(
    addr: SocketAddr,
    settings: &SrtSettings,
) -> Result<(SrtListener, SrtIncoming), ServerError> {
    let latency = Duration::from_millis(settings.latency_ms);
    let ttl = settings.loss_max_ttl;
    let idle = Duration::from_secs(settings.peer_idle_timeout_seconds.max(1));
    SrtListener::builder()
        .set(|o| {
            o.receiver.latency = latency;
            o.receiver.reorder_tolerance_max = PacketCount(u64::from(ttl));
            o.sender.max_payload_size = PacketSize(u64::from(SRT_ANNOUNCED_PAYLOAD));
            o.session.peer_idle_timeout = idle;
        })
        .bind(addr)
        .await
        .map_err(|source| ServerError::Io {
            context: format!("listening for SRT on {addr}"),
            source,
        })
}

/// Accepts SRT callers until `shutdown` turns true.
pub async fn serve_srt(
    app: Arc<DataPlane>,
    (mut listener, mut incoming): (SrtListener, SrtIncoming),
    local: SocketAddr,
    shutdown: watch::Receiver<bool>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            request = incoming.incoming().next() => {
                let Some(request) = request else { break };
                let peer = request.remote();
                let slot = match app.admission.connect(peer.ip()) {
                    Ok(slot) => slot,
                    Err(refusal) => {
                        app.metrics.refused(refusal.label());
                        tracing::warn!(%peer, why = %refusal, "SRT caller refused");
                        let _ = request.reject(server_reject(ServerRejectReason::Down)).await;
                        continue;
                    }
                };
                let caller = Caller { app: Arc::clone(&app), peer, local, slot };
                tasks.spawn(caller.run(request, shutdown.clone()));
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    // Let every push finalise its recordings.
    while tasks.join_next().await.is_some() {}
    listener.close().await;
}

fn server_reject(reason: ServerRejectReason) -> RejectReason {
    RejectReason::Server(reason)
}

/// One SRT caller.
struct Caller {
    app: Arc<DataPlane>,
    peer: SocketAddr,
    local: SocketAddr,
    slot: Slot,
}

impl Caller {
    async fn run(mut self, request: ConnectionRequest, mut shutdown: watch::Receiver<bool>) {
        let peer = self.peer;
        let (control_tx, mut control_rx) = mpsc::unbounded_channel();
        let Some((mut push, socket)) = self.admit(request, control_tx).await else {
            return;
        };
        let result = media(&mut push, socket, &mut control_rx, &mut shutdown).await;
        let why = match &result {
            Ok(()) => "connection closed".to_owned(),
            Err(e) => e.to_string(),
        };
        if let Err(e) = result {
            tracing::info!(%peer, error = %e, protocol = "srt", "connection closed");
        }
        push.end(&mut self.slot, &why).await;
    }

    /// The publish checks; the push and its socket when the caller is accepted.
    async fn admit(
        &mut self,
        request: ConnectionRequest,
        control: mpsc::UnboundedSender<Control>,
    ) -> Option<(Push, SrtSocket)> {
        let stream_id = request
            .stream_id()
            .map(|s| s.to_string())
            .unwrap_or_default();
        let publish = match parse_srt_stream_id(&stream_id) {
            Ok(publish) => publish,
            Err(e) => {
                let code = match e {
                    SrtStreamIdError::Mode(_) => ServerRejectReason::BadMode,
                    _ => ServerRejectReason::BadRequest,
                };
                self.refused(request, code, &e.to_string()).await;
                return None;
            }
        };
        let publish_request = self.request(publish);
        let admitted =
            match Admitted::check(&self.app, &mut self.slot, publish_request, control).await {
                Ok(admitted) => admitted,
                Err(refusal) => {
                    let code = reject_code(&refusal);
                    self.refused(request, code, &refusal.reason).await;
                    return None;
                }
            };
        match request.accept(None).await {
            Ok(socket) => Some((admitted.start().await, socket)),
            Err(e) => {
                tracing::info!(peer = %self.peer, error = %e, "SRT caller gone before accepted");
                admitted.abandon(&mut self.slot).await;
                None
            }
        }
    }

    fn request(&self, publish: SrtPublish) -> PublishRequest {
        // The host naming the push domain: `h=`, else this node's address (then
        // `domain=` in the query, or the default domain, names it — as for RTMP).
        let host = publish.host.unwrap_or_else(|| match self.local.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        });
        PublishRequest {
            url: format!("srt://{host}/{}", publish.app),
            app: publish.app,
            stream_key: publish.stream_key,
            peer: self.peer,
            local: self.local,
            protocol: "srt",
            mix: MixRole::None,
        }
    }

    async fn refused(&self, request: ConnectionRequest, code: ServerRejectReason, why: &str) {
        tracing::warn!(peer = %self.peer, ?code, why, "SRT publish rejected");
        self.app.metrics.pushes_rejected.inc();
        let _ = request.reject(server_reject(code)).await;
    }
}

fn reject_code(refusal: &Refusal) -> ServerRejectReason {
    match refusal.kind {
        RefusalKind::BadName => ServerRejectReason::Conflict,
        RefusalKind::Unauthorized => ServerRejectReason::Unauthorized,
        RefusalKind::NoRoom => ServerRejectReason::Down,
    }
}

/// Moves the caller's TS into the push until it ends.
async fn media(
    push: &mut Push,
    mut socket: SrtSocket,
    control_rx: &mut mpsc::UnboundedReceiver<Control>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), DataError> {
    let mut ts = Ts::default();
    let mut tick = tokio::time::interval(SRT_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_read = tokio::time::Instant::now();
    loop {
        tokio::select! {
            message = socket.next() => {
                let mut next = Some(message);
                let mut taken = 0;
                // Every message already waiting, then one pass through the push.
                while let Some(message) = next.take() {
                    match message {
                        Some(Ok((_, bytes))) => ts.push(&bytes),
                        Some(Err(e)) => return Err(e.into()),
                        None => {
                            ts.finish();
                            feed(push, &mut ts.inputs).await;
                            return Ok(());
                        }
                    }
                    taken += 1;
                    if taken < MAX_MESSAGES_PER_WAKE {
                        next = socket.next().now_or_never();
                    }
                }
                last_read = tokio::time::Instant::now();
                feed(push, &mut ts.inputs).await;
            }
            _ = tick.tick() => {
                push.flush().await;
                if last_read.elapsed() > SRT_IDLE_TIMEOUT {
                    return Err(DataError::Timeout("idle connection"));
                }
                if push.replan_due() {
                    push.replan().await;
                }
            }
            Some(control) = control_rx.recv() => match control {
                Control::Replan => push.replan().await,
                Control::Drop(why) => return Err(DataError::Dropped(why)),
            },
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

/// A caller's MPEG-TS: demuxed, then interleaved by decode time.
#[derive(Default)]
struct Ts {
    demuxer: TsDemuxer,
    interleaver: Interleaver,
    demuxed: Vec<Input>,
    /// What may go to the push.
    inputs: Vec<Input>,
}

impl Ts {
    fn push(&mut self, bytes: &[u8]) {
        self.demuxer.push(bytes, &mut self.demuxed);
        let expected = self.demuxer.expected();
        for input in self.demuxed.drain(..) {
            self.interleaver.push(input, expected, &mut self.inputs);
        }
    }

    fn finish(&mut self) {
        self.demuxer.finish(&mut self.demuxed);
        let expected = self.demuxer.expected();
        for input in self.demuxed.drain(..) {
            self.interleaver.push(input, expected, &mut self.inputs);
        }
        self.interleaver.finish(&mut self.inputs);
    }
}

async fn feed(push: &mut Push, inputs: &mut Vec<Input>) {
    for input in inputs.drain(..) {
        if !matches!(input, Input::Nothing) {
            push.input(&input).await;
        }
    }
}
