//! One mix session on this node: its inputs found among the live pushes and subscribed
//! to at their fan-out, its engine generations started and switched, its output
//! published as a push.
//!
//! - An input is *ready* once its picture size is known (a keyframe with its
//!   configuration) and whether it has sound (an audio frame, or [`SOUND_WAIT`] without
//!   one). The output is published when the first input is ready, under that input's
//!   domain and app (a replaced stream's own, for `OutputStreamType` 0).
//! - A new generation starts when an input becomes ready that the running one does not
//!   read, when the layout changes (a second `CreateCommonMixStream`), and when the
//!   engine dies (within [`RESTART_WAIT`]). The running one goes on until the new one's
//!   first keyframe, then stops: relayouts and joins are seamless; a crash shows as
//!   a short gap and an HLS discontinuity.
//! - An input that ends is ended in the engine: its layer shows what is below it.
//! - With no input live for [`IDLE_END`], the output push ends (recordings finalised
//!   and announced); the session waits for its inputs to come back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::engine::Generation;
use super::output::{Output, Place};
use super::{find_input, InputStream};
use crate::config::mix::MixSession;
use crate::media::{CodecConfig, Frame, Input, Track, VideoConfig};
use crate::mix::{LiveInput, GENERATION_LEAD_MS};
use crate::server::data::fanout::DEFAULT_SUBSCRIBER_FRAMES;
use crate::server::data::stream::MixRole;
use crate::server::data::DataPlane;

/// How often a mix looks for its inputs and checks its engine.
pub const MIX_TICK: Duration = Duration::from_millis(250);
/// How long an input with a picture and no sound yet is waited for before it is taken
/// as silent.
pub const SOUND_WAIT: Duration = Duration::from_secs(1);
/// An input none of whose tracks brought a frame this long is ended in the engine (its
/// layer shows what is below it; it joins again at its next keyframe): a stalled input
/// must not stall the mix.
pub const INPUT_STALL: Duration = Duration::from_secs(1);
/// A dead engine is started again after at most this (the first time).
pub const RESTART_WAIT: Duration = Duration::from_secs(1);
/// The longest wait between engines that keep failing (a missing or broken ffmpeg).
pub const MAX_RESTART_WAIT: Duration = Duration::from_secs(30);
/// With no input live this long, the output push ends.
pub const IDLE_END: Duration = Duration::from_secs(10);
/// After the output's publish was refused (its name live, another node's lease, no
/// room), it is tried again after this.
pub const OUTPUT_RETRY: Duration = Duration::from_secs(5);
/// A new generation that shows no keyframe in this long is given up.
pub const GENERATION_TIMEOUT: Duration = Duration::from_secs(15);

/// Frames kept of an input since its latest keyframe at most (a longer GOP starts a
/// new generation at the input's next keyframe instead).
pub const MAX_GOP_FRAMES: usize = 1024;

/// A live input being followed.
struct Source {
    stream: InputStream,
    size: Option<(u32, u32)>,
    audio: bool,
    since: Instant,
    /// Its frames since its latest keyframe: what a new generation starts it with.
    gop: Vec<Arc<Frame>>,
    last_video: Option<Instant>,
    last_audio: Option<Instant>,
}

impl Source {
    fn ready(&self) -> bool {
        self.size.is_some() && (self.audio || self.since.elapsed() >= SOUND_WAIT) && self.flowing()
    }

    /// Whether each of its tracks brought a frame lately.
    fn flowing(&self) -> bool {
        let fresh = |t: Option<Instant>| t.is_none_or(|t| t.elapsed() < INPUT_STALL);
        fresh(self.last_video) && fresh(self.last_audio)
    }

    fn keep(&mut self, frame: &Arc<Frame>) {
        if frame.track == Track::Video && frame.keyframe {
            self.gop.clear();
        } else if self.gop.is_empty() {
            return;
        }
        let too_old = self
            .gop
            .first()
            .is_some_and(|f| frame.dts_ms - f.dts_ms > GENERATION_LEAD_MS);
        if self.gop.len() >= MAX_GOP_FRAMES || too_old {
            self.gop.clear();
            return;
        }
        self.gop.push(Arc::clone(frame));
    }

    fn observe(&mut self, frame: &Frame) {
        match frame.track {
            Track::Audio => {
                self.audio = true;
                self.last_audio = Some(Instant::now());
            }
            Track::Video => {
                self.last_video = Some(Instant::now());
                if let Some(CodecConfig::Video(VideoConfig::Avc(c))) =
                    frame.config.as_ref().map(|c| &c.codec)
                {
                    self.size = c.dimensions.or(self.size);
                }
            }
        }
    }
}

/// One session's runner; see the module doc.
pub struct Runner {
    app: Arc<DataPlane>,
    session: watch::Receiver<Arc<MixSession>>,
    layout: Arc<MixSession>,
    sources: HashMap<String, Source>,
    frames_tx: mpsc::Sender<(String, Option<Arc<Frame>>)>,
    frames: mpsc::Receiver<(String, Option<Arc<Frame>>)>,
    current: Option<Generation>,
    pending: Option<(Generation, Instant)>,
    generations: u64,
    output: Option<Output>,
    relayout: bool,
    idle_since: Option<Instant>,
    next_start: Instant,
    next_publish: Instant,
    /// Generations started since one last showed a picture (the wait before the next
    /// doubles with each, up to [`MAX_RESTART_WAIT`]).
    failures: u32,
}

impl Runner {
    /// A runner of `session` (later versions come on the same channel; its sender
    /// dropped is the cancel).
    pub fn new(app: Arc<DataPlane>, session: watch::Receiver<Arc<MixSession>>) -> Self {
        let layout = Arc::clone(&session.borrow());
        let (frames_tx, frames) = mpsc::channel(DEFAULT_SUBSCRIBER_FRAMES);
        Self {
            app,
            session,
            layout,
            sources: HashMap::new(),
            frames_tx,
            frames,
            current: None,
            pending: None,
            generations: 0,
            output: None,
            relayout: false,
            idle_since: None,
            next_start: Instant::now(),
            next_publish: Instant::now(),
            failures: 0,
        }
    }

    /// Runs until the session is cancelled or the server stops.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(MIX_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let why = loop {
            tokio::select! {
                changed = self.session.changed() => {
                    if changed.is_err() {
                        break "mix cancelled";
                    }
                    self.layout = Arc::clone(&self.session.borrow_and_update());
                    self.relayout = true;
                }
                Some((name, frame)) = self.frames.recv() => self.on_frame(&name, frame),
                unit = next_output(self.current.as_mut()) => self.on_output(unit).await,
                unit = next_output(self.pending.as_mut().map(|(g, _)| g)) => self.on_pending(unit).await,
                _ = tick.tick() => self.on_tick().await,
                _ = shutdown.changed() => break "server stopping",
            }
        };
        self.stop(why).await;
    }

    fn on_frame(&mut self, name: &str, frame: Option<Arc<Frame>>) {
        let Some(frame) = frame else {
            // The push ended: its layer shows what is below it from now on.
            self.sources.remove(name);
            for g in self.generations_mut() {
                g.end_input(name);
            }
            return;
        };
        if let Some(source) = self.sources.get_mut(name) {
            source.observe(&frame);
            source.keep(&frame);
        }
        for g in self.generations_mut() {
            g.feed(name, &frame);
        }
    }

    fn generations_mut(&mut self) -> impl Iterator<Item = &mut Generation> {
        self.current
            .iter_mut()
            .chain(self.pending.as_mut().map(|(g, _)| g))
    }

    async fn on_output(&mut self, unit: Option<Input>) {
        match (unit, self.output.as_mut()) {
            (Some(input), Some(output)) => output.input(input).await,
            (Some(_), None) => {}
            (None, _) => {
                // The engine's output ended: it died (or was stopped).
                if let Some(g) = self.current.take() {
                    tracing::warn!(session = %self.layout.mix_stream_session_id, generation = g.number, "mix engine ended; starting it again");
                    g.stop().await;
                }
            }
        }
    }

    /// The new generation's output: discarded until its first keyframe, which makes it
    /// the running one.
    async fn on_pending(&mut self, unit: Option<Input>) {
        let Some(input) = unit else {
            if let Some((g, _)) = self.pending.take() {
                tracing::warn!(session = %self.layout.mix_stream_session_id, generation = g.number, "mix engine generation failed to start");
                g.stop().await;
            }
            return;
        };
        let keyframe = matches!(&input, Input::Frame(f) if f.track == Track::Video && f.keyframe);
        if !keyframe {
            return;
        }
        let Some((next, _)) = self.pending.take() else {
            return;
        };
        tracing::info!(session = %self.layout.mix_stream_session_id, generation = next.number,
            first_picture_ms = next.age().as_millis() as u64, "mix engine generation shows its first picture");
        let frame_rate = next.plan.frame_rate;
        self.failures = 0;
        if let Some(old) = self.current.replace(next) {
            old.stop().await;
        }
        if let Some(output) = self.output.as_mut() {
            output.restart(frame_rate);
            output.input(input).await;
        }
    }

    async fn on_tick(&mut self) {
        self.find_inputs();
        self.end_stalled();
        let ready = self.ready_inputs();
        if ready.is_empty() {
            let since = *self.idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= IDLE_END && self.output.is_some() {
                self.stop("no input live").await;
            }
            return;
        }
        self.idle_since = None;
        if self.output.is_none() && Instant::now() >= self.next_publish {
            self.output = Output::start(&self.app, self.place(&ready)).await;
            if self.output.is_none() {
                self.next_publish = Instant::now() + OUTPUT_RETRY;
            }
        }
        if let Some(output) = self.output.as_mut() {
            if !output.tick().await {
                self.stop("output dropped").await;
                return;
            }
        }
        self.check_pending().await;
        if self.output.is_some() && self.pending.is_none() && self.wants_generation(&ready) {
            self.start_generation(ready);
        }
    }

    /// Subscribes to the stream inputs that went live.
    fn find_inputs(&mut self) {
        for input in self.layout.stream_inputs() {
            let name = &input.input_stream_name;
            if self.sources.contains_key(name) {
                continue;
            }
            let Some((stream, subscription)) = find_input(&self.app, name) else {
                continue;
            };
            let tx = self.frames_tx.clone();
            let label = name.clone();
            tokio::spawn(async move {
                let mut subscription = subscription;
                while let Some(frame) = subscription.frames.recv().await {
                    if tx.send((label.clone(), Some(frame))).await.is_err() {
                        return;
                    }
                }
                let _ = tx.send((label, None)).await;
            });
            let source = Source {
                stream,
                size: None,
                audio: false,
                since: Instant::now(),
                gop: Vec::new(),
                last_video: None,
                last_audio: None,
            };
            self.sources.insert(name.clone(), source);
        }
    }

    /// Ends the inputs that stopped sending in the engine ([`INPUT_STALL`]).
    fn end_stalled(&mut self) {
        let stalled: Vec<String> = self
            .sources
            .iter()
            .filter(|(_, s)| !s.flowing())
            .map(|(name, _)| name.clone())
            .collect();
        for name in stalled {
            let mut ended = false;
            for g in self.generations_mut() {
                ended |= g.reads(&name);
                g.end_input(&name);
            }
            if ended {
                tracing::info!(session = %self.layout.mix_stream_session_id, input = %name, "mix input stalled: its layer is left out until its next keyframe");
            }
        }
    }

    fn ready_inputs(&self) -> Vec<LiveInput> {
        let mut ready: Vec<LiveInput> = self
            .layout
            .stream_inputs()
            .into_iter()
            .filter_map(|i| {
                let s = self
                    .sources
                    .get(&i.input_stream_name)
                    .filter(|s| s.ready())?;
                let (width, height) = s.size.unwrap_or((0, 0));
                Some(LiveInput {
                    name: i.input_stream_name.clone(),
                    width,
                    height,
                    video: s.size.is_some(),
                    audio: s.audio,
                    url: String::new(),
                })
            })
            .collect();
        ready.dedup_by(|a, b| a.name == b.name);
        ready
    }

    /// Where the output is published: the domain and app of the replaced stream, else
    /// of the first ready input.
    fn place(&self, ready: &[LiveInput]) -> Place {
        let out = &self.layout.output_params;
        let role = if out.replaces_input() {
            MixRole::Replacement
        } else {
            MixRole::Output
        };
        let own = self.sources.get(&out.output_stream_name);
        let first = ready.first().and_then(|l| self.sources.get(&l.name));
        let stream = own.or(first).map(|s| &s.stream);
        Place {
            domain: stream.map(|s| s.domain.clone()).unwrap_or_default(),
            app: stream.map(|s| s.app.clone()).unwrap_or_default(),
            stream: out.output_stream_name.clone(),
            role,
        }
    }

    fn wants_generation(&mut self, ready: &[LiveInput]) -> bool {
        // Each input starts with its latest keyframe: wait for one of each.
        let keyframes = ready
            .iter()
            .all(|l| self.sources.get(&l.name).is_some_and(|s| !s.gop.is_empty()));
        if Instant::now() < self.next_start || !keyframes {
            return false;
        }
        match &self.current {
            None => true,
            Some(g) => self.relayout || ready.iter().any(|l| !g.reads(&l.name)),
        }
    }

    fn start_generation(&mut self, ready: Vec<LiveInput>) {
        self.generations += 1;
        self.relayout = false;
        let wait = RESTART_WAIT.saturating_mul(1 << self.failures.min(5));
        self.next_start = Instant::now() + wait.min(MAX_RESTART_WAIT);
        self.failures += 1;
        let dir = super::engine::socket_dir(
            &self.app.storage.scratch_path(""),
            &self.layout.mix_stream_session_id,
        );
        let program = &self.app.settings.file.mix.ffmpeg;
        match Generation::start(program, &self.layout, ready, self.generations, dir) {
            Ok(mut g) => {
                for name in g.plan.inputs.clone() {
                    if let Some(source) = self.sources.get(&name) {
                        g.feed_gop(&name, &source.gop);
                    }
                }
                tracing::info!(session = %self.layout.mix_stream_session_id, generation = g.number,
                    inputs = ?g.plan.inputs, size = ?(g.plan.width, g.plan.height), "mix engine started");
                self.pending = Some((g, Instant::now()));
            }
            Err(e) => {
                tracing::warn!(session = %self.layout.mix_stream_session_id, error = %e, "starting the mix engine");
            }
        }
    }

    /// Gives up a new generation that shows no picture in time.
    async fn check_pending(&mut self) {
        let late = self
            .pending
            .as_ref()
            .is_some_and(|(_, at)| at.elapsed() > GENERATION_TIMEOUT);
        if late {
            if let Some((g, _)) = self.pending.take() {
                tracing::warn!(session = %self.layout.mix_stream_session_id, generation = g.number, "mix engine showed no picture; starting it again");
                g.stop().await;
            }
        }
    }

    /// Stops the engine and ends the output push (its recordings are finalised).
    async fn stop(&mut self, why: &str) {
        if let Some((g, _)) = self.pending.take() {
            g.stop().await;
        }
        if let Some(g) = self.current.take() {
            g.stop().await;
        }
        if let Some(output) = self.output.take() {
            tracing::info!(session = %self.layout.mix_stream_session_id, why, "mix output ends");
            output.end(why).await;
        }
    }
}

/// The next unit of a generation's output; never, without one.
async fn next_output(generation: Option<&mut Generation>) -> Option<Input> {
    match generation {
        Some(g) => g.output.recv().await,
        None => std::future::pending().await,
    }
}
