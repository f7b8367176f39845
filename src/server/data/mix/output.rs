//! A mix's output as a push: admitted like any publish (its rule, its tasks — with
//! `StreamType` 1 —, its callbacks), fed the engine's frames on one clock across
//! engine generations.
//!
//! The clock: each generation's output starts at its own zero; its first frame is put
//! just after the last frame the push received (or at the mix's age for the first), so
//! the output's timestamps rise steadily through relayouts and engine restarts. A
//! generation change is a new encoder: the push is told ([`Push::restart`]) so HLS marks
//! a discontinuity there.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use super::super::admission::Slot;
use super::super::live::Control;
use super::super::push::{Admitted, PublishRequest, Push};
use super::super::stream::MixRole;
use super::super::DataPlane;
use crate::media::{Input, Track};

/// A mix's output push.
pub struct Output {
    push: Push,
    slot: Slot,
    control: mpsc::UnboundedReceiver<Control>,
    clock: Clock,
}

/// Where the output is published.
pub struct Place {
    /// Push domain.
    pub domain: String,
    /// AppName.
    pub app: String,
    /// OutputStreamName.
    pub stream: String,
    /// Whether it replaces the pushed stream of its name.
    pub role: MixRole,
}

/// The output's clock (see the module doc).
#[derive(Debug)]
struct Clock {
    born: Instant,
    /// One frame of the output's video, ms: the gap left before a new generation.
    frame_ms: i64,
    offset: Option<i64>,
    last_video: Option<i64>,
    last_audio: Option<i64>,
}

impl Clock {
    fn new() -> Self {
        Self {
            born: Instant::now(),
            frame_ms: 40,
            offset: None,
            last_video: None,
            last_audio: None,
        }
    }

    /// A new generation, of `frame_ms` video frames: its first frame sets the offset
    /// anew.
    fn restart(&mut self, frame_ms: i64) {
        self.offset = None;
        self.frame_ms = frame_ms.max(1);
    }

    /// The time `dts_ms` of `track` in the current generation has on the output;
    /// `None` for a frame at or before the track's last one (a new generation's sound
    /// that overlaps the previous one's), which is left out.
    fn map(&mut self, track: Track, dts_ms: i64) -> Option<i64> {
        // A generation starts with its first keyframe: one frame after the last picture.
        let frame_ms = self.frame_ms;
        let last = match track {
            Track::Video => self.last_video,
            Track::Audio => self.last_audio,
        };
        let last = last.or(self.last_video.max(self.last_audio));
        let born = self.born.elapsed().as_millis() as i64;
        let offset = *self
            .offset
            .get_or_insert_with(|| last.map_or(born, |l| l + frame_ms) - dts_ms);
        let slot = match track {
            Track::Video => &mut self.last_video,
            Track::Audio => &mut self.last_audio,
        };
        let t = dts_ms + offset;
        if slot.is_some_and(|previous| t <= previous) {
            return None;
        }
        *slot = Some(t);
        Some(t)
    }
}

impl Output {
    /// Publishes the output at `place`; `None` when the publish is refused (the name
    /// is live, no room), logged.
    pub async fn start(app: &Arc<DataPlane>, place: Place) -> Option<Output> {
        let local = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut slot = match app.admission.connect(local.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                tracing::warn!(stream = %place.stream, why = %refusal, "mix output refused");
                return None;
            }
        };
        let request = PublishRequest {
            url: format!("rtmp://{}/{}", place.domain, place.app),
            app: place.app,
            stream_key: place.stream.clone(),
            peer: local,
            local: SocketAddr::new(local.ip(), app.settings.rtmp.port()),
            protocol: "mix",
            mix: place.role,
        };
        let (tx, control) = mpsc::unbounded_channel();
        match Admitted::check(app, &mut slot, request, tx).await {
            Ok(admitted) => Some(Output {
                push: admitted.start().await,
                slot,
                control,
                clock: Clock::new(),
            }),
            Err(refusal) => {
                tracing::warn!(stream = %place.stream, why = %refusal, "mix output refused");
                None
            }
        }
    }

    /// A new engine generation's output follows, at `frame_rate`.
    pub fn restart(&mut self, frame_rate: u32) {
        self.clock.restart(1000 / i64::from(frame_rate.max(1)));
        self.push.restart();
    }

    /// One unit of the engine's output.
    pub async fn input(&mut self, mut input: Input) {
        if let Input::Frame(frame) = &mut input {
            let cts = frame.pts_ms - frame.dts_ms;
            let Some(dts) = self.clock.map(frame.track, frame.dts_ms) else {
                return;
            };
            frame.dts_ms = dts;
            frame.pts_ms = dts + cts;
        }
        self.push.input(&input).await;
    }

    /// The end of a tick: files flushed, due tasks and control messages handled. False
    /// when the output was dropped (`DropLiveStream`).
    pub async fn tick(&mut self) -> bool {
        self.push.flush().await;
        if self.push.replan_due() {
            self.push.replan().await;
        }
        while let Ok(control) = self.control.try_recv() {
            match control {
                Control::Replan => self.push.replan().await,
                Control::Drop(_) => return false,
            }
        }
        true
    }

    /// Ends the push: its recordings are finalised and announced.
    pub async fn end(mut self, why: &str) {
        self.push.end(&mut self.slot, why).await;
    }
}
