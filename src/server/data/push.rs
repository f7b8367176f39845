//! One push, whatever protocol brought it: the checks a publish passes, the recording it
//! starts (plan, outputs, auto-splice, GOP cache), its frames into its [`PushSession`]
//! and its [`Fanout`], task re-planning, its end, and its push callbacks. A protocol
//! (RTMP: [`super::rtmp`]) keeps its sockets and framing, turns what it receives into
//! [`Input`]s with its adapter, and maps a [`Refusal`] to its own status.
//!
//! Publish ([`Admitted::check`]): the domain comes from the push URL ([`push_domain`]);
//! the names must pass the API's rule ([`check_push_names`]: no `.` or `..`, AppName
//! ≤ 128 bytes, StreamName ≤ 256) or [`RefusalKind::BadName`]; push authentication is
//! checked when the domain has an enabled key (a bad or expired `txSecret`:
//! [`RefusalKind::Unauthorized`]); below the free-space floor or without file handles
//! for another push, [`RefusalKind::NoRoom`]; a second publisher on a live stream key,
//! `BadName` — but a push that is only ending (its connection gone, its last files
//! being stored) is waited for, up to [`ENDING_WAIT`]. Then the recording plan is resolved once (rule + active tasks) and the
//! push's outputs are fixed — except tasks, which are re-planned when the task
//! configuration changes or a scheduled task's start arrives.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::admission::Slot;
use super::error::DataError;
use super::fanout::Fanout;
use super::gop::GopCache;
use super::handover;
use super::live::{Busy, Control, Registration};
use super::mix;
use super::ownership;
use super::presence::PushInfo;
use super::publish::{
    announce_exception, callback_template, finish_parked, remove_hls, write_sidecar,
};
use super::recorder::{OutputFailure, Recorder};
use super::stream::{hls_sidecar_name, MixRole, PushStream};
use super::DataPlane;
use crate::config::callback_event::Exception;
use crate::config::callback_event::{push_event, PushEvent, StreamRef};
use crate::config::plan::{plan_recording, OutputPlan, RecordingPlan};
use crate::config::problem::ConfigError;
use crate::config::push_auth::{verify_push, PushCredentials};
use crate::config::push_url::{push_domain, query_param, split_stream_key, MAX_STREAM_KEY_BYTES};
use crate::config::rule::{check_push_names, StreamKey};
use crate::config::template::Format;
use crate::formats::flv::demux::FlvDemuxer;
use crate::formats::flv::ingest::FlvIngest;
use crate::formats::hls::datetime::encode_date_time;
use crate::media::{Frame, Input};
use crate::record::session::{Action, OutputSpec, ParkedHls, PushSession, Stopped};
use crate::server::db::{ControlState, OpenHls};
use crate::server::notify::now_ms;
use crate::server::settings::FileSettings;

/// A publish as its protocol received it.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    /// AppName.
    pub app: String,
    /// The stream name and its query (`name?txSecret=…`).
    pub stream_key: String,
    /// The URL that names the push domain (RTMP: the `connect` command's tcUrl).
    pub url: String,
    /// The publisher's address.
    pub peer: SocketAddr,
    /// The address it connected to (callbacks name it as the node).
    pub local: SocketAddr,
    /// The protocol it came by (`rtmp`, `rtmps`, `srt`, `mix`): a metrics label.
    pub protocol: &'static str,
    /// A mix's output (liverec's own publish: no push authentication), or not.
    pub mix: MixRole,
}

/// Why a publish is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The names, the domain, or a stream key already live.
    BadName,
    /// Push authentication failed.
    Unauthorized,
    /// No room: free space below the floor, or no file handles for another push.
    NoRoom,
}

/// A refused publish: its kind and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    /// Its kind (each protocol has a status for it).
    pub kind: RefusalKind,
    /// Why, for the publisher and the log.
    pub reason: String,
}

fn refuse(kind: RefusalKind, reason: impl Into<String>) -> Refusal {
    Refusal {
        kind,
        reason: reason.into(),
    }
}

/// How long a publish waits for an ending push of its stream (storing its last files,
/// parking its HLS, giving its lease back) before it is refused: an encoder that
/// reconnects at once is let in, after the old push is over.
pub const ENDING_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// How long a publish of a live stream waits for that push to end before it is refused:
/// an encoder that reconnects at once may find its old connection closed but not yet
/// read to its end (connections are read in ticks).
pub const LIVE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Takes the stream key for the push `info` describes, once an ending push of it is
/// over; refused while it is live after [`LIVE_GRACE`] (or still ending after
/// [`ENDING_WAIT`]).
async fn register(
    app: &DataPlane,
    info: Arc<PushInfo>,
    control: mpsc::UnboundedSender<Control>,
) -> Result<Registration, Refusal> {
    let deadline = tokio::time::Instant::now() + ENDING_WAIT;
    loop {
        match app.live.register(Arc::clone(&info), control.clone()) {
            Ok(registration) => return Ok(registration),
            Err(Busy::Live(mut changed)) => {
                let grace = deadline.min(tokio::time::Instant::now() + LIVE_GRACE);
                if tokio::time::timeout_at(grace, changed.changed())
                    .await
                    .is_err()
                {
                    return Err(refuse(
                        RefusalKind::BadName,
                        "the stream is already being pushed",
                    ));
                }
            }
            Err(Busy::Ending(mut released)) => {
                let freed = tokio::time::timeout_at(deadline, released.changed()).await;
                if freed.is_err() {
                    return Err(refuse(
                        RefusalKind::BadName,
                        "the stream's previous push is still ending",
                    ));
                }
            }
        }
    }
}

/// A publish that passed every check and holds its stream key: the protocol accepts it
/// and [`Admitted::start`]s it, or gives it up ([`Admitted::abandon`]).
pub struct Admitted {
    app: Arc<DataPlane>,
    request: PublishRequest,
    stream: PushStream,
    plan: RecordingPlan,
    registration: Registration,
    now: i64,
    /// The stream lease's epoch (in the recording ids).
    epoch: i64,
}

/// See the module doc.
pub struct Push {
    app: Arc<DataPlane>,
    request: PublishRequest,
    stream: PushStream,
    /// `None` when a rule FLV output's file serves as the GOP cache.
    gop: Option<GopCache>,
    actions: Vec<Action>,
    registration: Registration,
    session: PushSession,
    recorder: Recorder,
    started_ms: i64,
    sequence: String,
    tasks: HashSet<String>,
    next_replan_ms: Option<i64>,
    /// The stream lease's epoch (in the recording ids).
    epoch: i64,
    /// Tags the adapter could not read (short, malformed): the first is logged.
    skipped: u64,
    /// A mix's output replaces this stream: it records nothing until the mix ends.
    replaced: bool,
}

impl Admitted {
    /// The checks a publish passes, in order: the stream key's length, the push domain,
    /// the names, the push key, free space, file handles (taken from `slot`), a live
    /// duplicate. Re-plan requests for the push will come on `control`.
    pub async fn check(
        app: &Arc<DataPlane>,
        slot: &mut Slot,
        request: PublishRequest,
        control: mpsc::UnboundedSender<Control>,
    ) -> Result<Admitted, Refusal> {
        let now = now_ms();
        let stream = stream_of(app, &request)?;
        forbidden(app, &stream, now)?;
        let (plan, auth) = plan_and_auth(app, &stream, now).await;
        if let Some(Err(e)) = auth {
            return Err(refuse(RefusalKind::Unauthorized, e.to_string()));
        }
        room(app, slot, &stream).await?;
        let addresses = (request.peer, request.local);
        let info = PushInfo::new(stream.clone(), request.protocol, addresses, now);
        let registration = register(app, Arc::new(info), control)
            .await
            .inspect_err(|_| slot.unpublish())?;
        let epoch = match ownership::take(app, &stream).await {
            Ok(Some(epoch)) => Ok(epoch),
            Ok(None) => Err(refuse(
                RefusalKind::BadName,
                "the stream is already being pushed to another node",
            )),
            Err(e) => Err(refuse(RefusalKind::NoRoom, e.to_string())),
        };
        let epoch = epoch.inspect_err(|_| {
            app.live.unregister(&stream, registration.id);
            slot.unpublish();
        })?;
        Ok(Admitted {
            app: Arc::clone(app),
            request,
            stream,
            plan,
            registration,
            now,
            epoch,
        })
    }

    /// The stream it would record.
    pub fn stream(&self) -> &PushStream {
        &self.stream
    }

    /// Gives the publish up (the protocol could not accept it).
    pub async fn abandon(self, slot: &mut Slot) {
        self.app.live.unregister(&self.stream, self.registration.id);
        ownership::give_back(&self.app, &self.stream).await;
        slot.unpublish();
    }

    /// Starts recording: the outputs of the plan, the parked HLS recordings it continues,
    /// the push-begin callback.
    pub async fn start(self) -> Push {
        let Admitted {
            app,
            request,
            stream,
            plan,
            registration,
            now,
            epoch,
        } = self;
        let (specs, tasks) = specs_of(&plan, &app.settings.file, epoch);
        let (specs, resumed) = resume_parked(&app, &stream, specs).await;
        tracing::info!(peer = %request.peer, stream = %stream.key(), outputs = specs.len() + resumed.len(),
            spliced = resumed.len(), "push started");
        let session = PushSession::new(&stream.stream, specs, resumed);
        app.metrics.pushes.inc();
        app.metrics.live_pushes.inc();
        app.metrics.protocol_push(request.protocol, 1);
        let sequence = uuid::Uuid::new_v4().simple().to_string();
        let gop = (!session.has_rule_flv())
            .then(|| GopCache::new(app.storage.scratch_path(&format!("gop-{sequence}.flv"))));
        let push = Push {
            gop,
            actions: Vec::new(),
            recorder: Recorder::new(Arc::clone(&app), stream.clone()),
            next_replan_ms: plan.pending_tasks.first().map(|t| t.start_time * 1000),
            skipped: 0,
            replaced: stream.mix.is_none()
                && mix::replaced_by_mix(&app.config.read(), &stream.stream),
            app,
            request,
            stream,
            registration,
            session,
            started_ms: now,
            sequence,
            tasks,
            epoch,
        };
        push.push_event(None, (0, 0)).await;
        push
    }
}

/// Refuses a stream forbidden now (`ForbidLiveStream`).
fn forbidden(app: &DataPlane, stream: &PushStream, now_ms: i64) -> Result<(), Refusal> {
    let state = app.config.read();
    match state.forbidden.get(&stream.key()) {
        Some(f) if stream.mix.is_none() && f.active_at(now_ms.div_euclid(1000)) => Err(refuse(
            RefusalKind::Unauthorized,
            format!(
                "the stream is forbidden until {}",
                encode_date_time(f.resume_time * 1000)
            ),
        )),
        _ => Ok(()),
    }
}

/// The stream a publish names, or why it cannot be recorded.
fn stream_of(app: &DataPlane, request: &PublishRequest) -> Result<PushStream, Refusal> {
    if request.stream_key.len() > MAX_STREAM_KEY_BYTES {
        return Err(refuse(RefusalKind::BadName, "stream key too long"));
    }
    let (name, query) = split_stream_key(&request.stream_key);
    let domain = push_domain(&request.url, query, &app.settings.default_domain())
        .ok_or_else(|| refuse(RefusalKind::BadName, "no valid push domain in the URL"))?;
    check_push_names(&request.app, name)
        .map_err(|e| refuse(RefusalKind::BadName, e.to_string()))?;
    Ok(PushStream {
        domain,
        app: request.app.clone(),
        stream: name.to_owned(),
        stream_param: query.to_owned(),
        mix: request.mix,
    })
}

/// Free space above the floor (else one 341 callback per stream and episode) and file
/// handles for the push.
async fn room(app: &Arc<DataPlane>, slot: &mut Slot, stream: &PushStream) -> Result<(), Refusal> {
    if let Some((free, floor)) = app.space.low() {
        let why = format!(
            "free space below the floor ({} MiB free, {} MiB kept): no new recordings",
            free >> 20,
            floor >> 20
        );
        app.metrics.refused("free_space");
        if app.space.first_refusal(&stream.key()) {
            announce_exception(app, stream, "", "", Exception::storage(&why)).await;
        }
        return Err(refuse(RefusalKind::NoRoom, why));
    }
    slot.publish().map_err(|refusal| {
        app.metrics.refused(refusal.label());
        refuse(RefusalKind::NoRoom, refusal.to_string())
    })
}

/// The recording plan of `stream` at `now` and, when its domain has a push key, the
/// verdict on the push URL's `txSecret`/`txTime`.
async fn plan_and_auth(
    app: &DataPlane,
    stream: &PushStream,
    now: i64,
) -> (RecordingPlan, Option<Result<(), ConfigError>>) {
    let control = app.config.read();
    let query = stream.stream_param.as_str();
    let auth = control
        .push_auth
        .get(&stream.domain)
        .filter(|k| k.enable == 1 && stream.mix.is_none())
        .map(|key| {
            let keys = key.keys();
            verify_push(
                &PushCredentials {
                    keys: &keys,
                    auth_delta_s: key.auth_delta,
                    stream_name: &stream.stream,
                    tx_secret: &query_param(query, "txSecret").unwrap_or_default(),
                    tx_time: &query_param(query, "txTime").unwrap_or_default(),
                },
                now / 1000,
            )
            .map(|_| ())
        });
    (plan_for(&control, stream, now), auth)
}

/// What `stream` records now: its rule and tasks (`StreamType` 1 tasks only for a mix's
/// output), or nothing while a mix's output replaces it (reference §7).
pub fn plan_for(control: &ControlState, stream: &PushStream, now_ms: i64) -> RecordingPlan {
    if stream.mix.is_none() && mix::replaced_by_mix(control, &stream.stream) {
        return RecordingPlan::nothing();
    }
    let key = StreamKey::new(&stream.domain, &stream.app, &stream.stream);
    plan_recording(&control.config, &key, now_ms / 1000).for_source(!stream.mix.is_none())
}

/// The outputs a plan asks for, and its active tasks.
fn specs_of(
    plan: &RecordingPlan,
    settings: &FileSettings,
    epoch: i64,
) -> (Vec<OutputSpec>, HashSet<String>) {
    let mut specs = Vec::new();
    if let Some(rule) = &plan.rule {
        for output in &rule.outputs {
            let template = rule.rule.template_id;
            specs.push(spec_of(output, ("", template), None, settings, epoch));
        }
    }
    let mut tasks = HashSet::new();
    for task in &plan.tasks {
        tasks.insert(task.task.task_id.clone());
        let ends = Some(task.end_time * 1000);
        for output in &task.outputs {
            let task_id = &task.task.task_id;
            let owner = (task_id.as_str(), task.task.template_id);
            specs.push(spec_of(output, owner, ends, settings, epoch));
        }
    }
    (specs, tasks)
}

/// Auto-splice: the parked HLS recordings of `stream` its new push continues — this
/// node's from memory, another node's rebuilt from the store ([`handover`]) — each
/// replacing the plan's HLS output of the same task and template; the others are final.
async fn resume_parked(
    app: &Arc<DataPlane>,
    stream: &PushStream,
    specs: Vec<OutputSpec>,
) -> (Vec<OutputSpec>, Vec<ParkedHls>) {
    let mut local = app.live.take_parked(stream);
    let Some(rows) = handover::claim(app, stream).await else {
        // The table cannot be read: this node's own parked recordings continue.
        return resume(app, stream, specs, local).await;
    };
    let mut candidates = Vec::new();
    for row in rows {
        if let Some(i) = local
            .iter()
            .position(|h| h.spec.recording_id == row.recording_id)
        {
            candidates.push(local.swap_remove(i));
            continue;
        }
        match adopt(app, &row).await {
            Ok(hls) => candidates.push(hls),
            Err(e) => tracing::error!(recording = %row.recording_id, error = %e,
                "continuing another node's HLS recording"),
        }
    }
    // Parked here but no longer in the table: another node finished it.
    drop(local);
    resume(app, stream, specs, candidates).await
}

/// Of `candidates`, those that replace the plan's HLS output of the same task and
/// template continue; the others are finalised.
async fn resume(
    app: &Arc<DataPlane>,
    stream: &PushStream,
    mut specs: Vec<OutputSpec>,
    candidates: Vec<ParkedHls>,
) -> (Vec<OutputSpec>, Vec<ParkedHls>) {
    let mut resumed = Vec::new();
    for parked in candidates {
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
            None => {
                if handover::take_mine(app, &parked.spec.recording_id).await {
                    finish_parked(app, stream, &parked).await;
                }
            }
        }
    }
    (specs, resumed)
}

/// Another node's recording, rebuilt from the store, its sidecar now in this node's
/// scratch space (a crash here recovers it).
async fn adopt(app: &Arc<DataPlane>, row: &OpenHls) -> Result<ParkedHls, DataError> {
    let mut sidecar = handover::sidecar_of(row)?;
    sidecar.node.clone_from(&app.settings.node_id);
    let (_, hls) = handover::rebuild(app, row).await?;
    let name = hls_sidecar_name(&row.recording_id);
    write_sidecar(app, &name, &sidecar).map_err(DataError::io(format!("writing {name}")))?;
    tracing::info!(recording = %row.recording_id, from = %row.node, segments = hls.segments(),
        "continuing an HLS recording another node parked or left");
    Ok(hls)
}

impl Push {
    /// The stream it records.
    pub fn stream(&self) -> &PushStream {
        &self.stream
    }

    /// Its frames, for subscribers.
    pub fn fanout(&self) -> &Arc<Fanout> {
        &self.registration.fanout
    }

    /// The source's encoder started anew with steady timestamps (a mix engine's next
    /// generation): HLS recordings mark a discontinuity there.
    pub fn restart(&mut self) {
        self.session.restart();
    }

    /// Outputs still recording.
    pub fn active_outputs(&self) -> usize {
        self.session.active_outputs()
    }

    /// What the protocol's adapter made of one received unit.
    pub async fn input(&mut self, input: &Input) {
        if let Input::Skipped(reason) = input {
            self.skip(reason);
            return;
        }
        // A multitrack push's other tracks go to the MP4 outputs alone: the GOP cache and
        // the subscribers carry the default tracks.
        if let Input::Frame(frame @ Frame { track_id: 0, .. }) = input {
            self.registration
                .info
                .count(frame.track, frame.payload.len());
            if let Some(Err(e)) = self.gop.as_mut().map(|g| g.push(frame)) {
                tracing::warn!(stream = %self.stream.key(), error = %e, "GOP cache");
            }
            let slow = self.registration.fanout.publish(frame);
            if slow > 0 {
                tracing::warn!(stream = %self.stream.key(), slow, "subscribers fell behind: dropped");
            }
        }
        if let Input::Config(config) = input {
            self.registration.info.observe_config(config);
        }
        let mut actions = std::mem::take(&mut self.actions);
        self.session.push(input, now_ms(), &mut actions);
        self.apply(&mut actions).await;
        self.actions = actions;
    }

    /// The end of a read tick: what the outputs hold goes to their files (one write
    /// each, see [`crate::storage::gather`]).
    pub async fn flush(&mut self) {
        self.recorder.flush(&self.session).await;
        let mut none = Vec::new();
        self.apply(&mut none).await;
        let session = &self.session;
        let media = || (session.media(), session.recording_formats());
        self.registration.info.tick(now_ms(), media);
    }

    /// Counts an input the adapter could not read; logs the first of the push.
    fn skip(&mut self, reason: &str) {
        self.skipped += 1;
        if self.skipped == 1 {
            tracing::warn!(stream = %self.stream.key(), reason, "unreadable media skipped (further ones counted at the end)");
        }
    }

    /// Whether a scheduled task's start has come.
    pub fn replan_due(&self) -> bool {
        self.next_replan_ms.is_some_and(|at| at <= now_ms())
    }

    /// Re-plans tasks: starts outputs of tasks that became active (from the current
    /// GOP), stops those that ended.
    pub async fn replan(&mut self) {
        let now = now_ms();
        if self.stream.mix.is_none()
            && mix::replaced_by_mix(&self.app.config.read(), &self.stream.stream)
        {
            self.replaced = true;
            return self.stop_all(now).await;
        }
        let plan = plan_for(&self.app.config.read(), &self.stream, now);
        self.next_replan_ms = plan.pending_tasks.first().map(|t| t.start_time * 1000);
        // The rule's outputs are fixed for the push — unless a mix's output replaced
        // the stream until now: then they start again.
        // They start at the next keyframe: the frames before it are in the mix's
        // recording already.
        let resumed = std::mem::take(&mut self.replaced);
        let plan = match resumed {
            true => plan,
            false => RecordingPlan { rule: None, ..plan },
        };
        let (specs, active) = specs_of(&plan, &self.app.settings.file, self.epoch);
        let mut actions = Vec::new();
        for stopped in self.tasks.difference(&active) {
            self.session.stop_task(stopped, now, &mut actions);
        }
        let new: Vec<OutputSpec> = specs
            .into_iter()
            .filter(|s| !self.tasks.contains(&s.task_id))
            .collect();
        if !new.is_empty() {
            let replay = match resumed {
                true => Ok(Vec::new()),
                false => self.gop_replay(),
            };
            let replay = replay.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "reading the GOP cache");
                Vec::new()
            });
            for spec in new {
                tracing::info!(stream = %self.stream.key(), task = %spec.task_id, "starts recording (a task, or the rule after a mix)");
                self.session.add_output(spec, &replay, now, &mut actions);
            }
        }
        self.tasks = active.union(&self.tasks).cloned().collect();
        self.apply(&mut actions).await;
    }

    /// Stops every output (a mix's output replaces this stream from now on; reference
    /// §7): what was recorded so far is finalised and announced.
    async fn stop_all(&mut self, now: i64) {
        let mut actions = Vec::new();
        let mut stopped = self.session.stop_task("", now, &mut actions);
        for task in std::mem::take(&mut self.tasks) {
            stopped |= self.session.stop_task(&task, now, &mut actions);
        }
        self.next_replan_ms = None;
        if stopped {
            tracing::info!(stream = %self.stream.key(), "a mix's output replaces this stream: its recording stops");
        }
        self.apply(&mut actions).await;
    }

    /// Ends the push: its outputs finish (HLS with a splice timeout parks), the
    /// finalisation queue drains, the push-end callback goes, the key is free again (a
    /// publish of it waits meanwhile, and takes over what was parked).
    pub async fn end(mut self, slot: &mut Slot, why: &str) {
        self.app.live.ending(&self.stream, self.registration.id);
        let mut actions = Vec::new();
        let mut parked = self.session.finish(now_ms(), &mut actions);
        let mut failures = self.apply(&mut actions).await;
        self.recorder.abandon();
        // What was handed to the worker is stored before the push is over (a shutdown
        // waits for this too); the failures it finds bear on the recordings parked.
        let (files, late) = self.recorder.drain().await;
        failures.extend(late);
        for failed in failures {
            let id = &failed.spec.recording_id;
            let parked = parked.iter_mut().find(|h| &h.spec.recording_id == id);
            if let (Some(hls), Some(name)) = (parked, failed.lost_from.as_deref()) {
                hls.drop_from(name);
            }
        }
        slot.unpublish();
        // Parked in the table before the lease goes: a push that then reaches another
        // node finds them.
        for hls in parked {
            self.park(hls).await;
        }
        ownership::give_back(&self.app, &self.stream).await;
        self.app.metrics.live_pushes.dec();
        self.app.metrics.protocol_push(self.request.protocol, -1);
        tracing::info!(peer = %self.request.peer, stream = %self.stream.key(), why, files, skipped = self.skipped, "push ended");
        let dims = self.session.media().dimensions.unwrap_or((0, 0));
        self.push_event(Some(now_ms() - self.started_ms), dims)
            .await;
        self.app.live.unregister(&self.stream, self.registration.id);
    }

    /// Parks an HLS recording for its splice timeout; a timer finalises it unless a push
    /// of the stream takes it over first.
    async fn park(&self, hls: ParkedHls) {
        if hls.segments() == 0 {
            remove_hls(&self.app, &self.stream, &hls.spec, &[]).await;
            return;
        }
        let wait_ms = hls.spec.flow_continue_s.max(0).saturating_mul(1000);
        let until = now_ms() + wait_ms;
        let shared = handover::Parking::of(&self.stream, &hls);
        // Parked here first: a push of the stream on this node takes it from memory.
        let (id, wait) = self.app.live.park(self.stream.clone(), hls);
        if !handover::parked(&self.app, shared, until).await {
            let _ = self.app.live.take_expired(id); // another node's now
            return;
        }
        let app = Arc::clone(&self.app);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if let Some((stream, hls)) = app.live.take_expired(id) {
                if handover::take_mine(&app, &hls.spec.recording_id).await {
                    finish_parked(&app, &stream, &hls).await;
                }
            }
        });
    }

    /// Queues the push-begin (`duration` `None`) or push-end callback, if configured.
    async fn push_event(&self, duration: Option<i64>, dims: (u32, u32)) {
        let Some(template) = callback_template(&self.app, &self.stream).await else {
            return;
        };
        let url = match duration {
            Some(_) => &template.stream_end_notify_url,
            None => &template.stream_begin_notify_url,
        };
        if url.is_empty() {
            return;
        }
        let event_id = format!("push-{}-{}", u8::from(duration.is_none()), self.sequence);
        let s = &self.stream;
        let body = push_event(&PushEvent {
            event_id: &event_id,
            stream: StreamRef {
                domain: &s.domain,
                app: &s.app,
                stream: &s.stream,
                stream_param: &s.stream_param,
            },
            event_time: now_ms() / 1000,
            sequence: &self.sequence,
            node: &self.request.local.ip().to_string(),
            user_ip: &self.request.peer.ip().to_string(),
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

    /// The current GOP: from the GOP cache, or read back from the rule FLV output's open
    /// file by an FLV adapter placed at the push's clock.
    fn gop_replay(&mut self) -> std::io::Result<Vec<Frame>> {
        if let Some(gop) = self.gop.as_mut() {
            return gop.replay();
        }
        let Some(point) = self.session.replay_point() else {
            return Ok(Vec::new());
        };
        let bytes = self.recorder.read_from(point.file, point.offset)?;
        let mut demuxer = FlvDemuxer::without_header();
        demuxer.push(&bytes);
        let mut ingest = FlvIngest::resume(point.clock, &point.configs);
        let mut frames = Vec::new();
        while let Ok(Some(tag)) = demuxer.pull() {
            if let Input::Frame(frame) = ingest.push_tag(&tag) {
                frames.push(frame);
            }
        }
        Ok(frames)
    }

    /// Carries out `actions`; outputs storage stopped are ended or restarted in the
    /// session and what their HLS recordings stored is finalised. Returns those failures.
    async fn apply(&mut self, actions: &mut Vec<Action>) -> Vec<OutputFailure> {
        if !actions.is_empty() {
            self.recorder.apply(actions.drain(..), &self.session).await;
        }
        let failures = self.recorder.take_failed(&self.session).await;
        for failed in &failures {
            let lost_from = failed.lost_from.as_deref();
            let stopped =
                self.session
                    .fail_output(failed.output, failed.transient, lost_from, now_ms());
            match stopped {
                Stopped::Hls(hls) => self.recorder.finish_hls_later(*hls),
                Stopped::Empty => self.recorder.discard_hls_later(failed.spec.clone()),
                // An ended output's recording went with its HlsFinished or is parked.
                Stopped::AlreadyEnded | Stopped::NotHls => {}
            }
        }
        failures
    }
}

/// The output of `output` for `(task id, template id)`; its recording id starts with the
/// stream lease's `epoch` ([`super::ownership`]).
fn spec_of(
    output: &OutputPlan,
    (task_id, template_id): (&str, i64),
    ends_at_ms: Option<i64>,
    settings: &FileSettings,
    epoch: i64,
) -> OutputSpec {
    let override_s = settings.testing.record_interval_seconds;
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
        recording_id: format!("{epoch:x}{}", uuid::Uuid::new_v4().simple()),
        hls_segments: settings.hls.segments,
    }
}
