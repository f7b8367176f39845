//! One push's lifecycle on an RTMP connection: the checks a publish passes, the
//! recording it starts (plan, outputs, auto-splice, GOP cache), media into its
//! [`PushSession`], task re-planning, its end, and its push callbacks.
//!
//! Publish: the domain comes from the tcUrl ([`push_domain`]); the names must pass the
//! API's rule ([`check_push_names`]: no `.` or `..`, AppName ≤ 128 bytes, StreamName
//! ≤ 256) or `NetStream.Publish.BadName`; push authentication is checked when the
//! domain has an enabled key (a bad or expired `txSecret` is refused with
//! `NetStream.Publish.Unauthorized`, logged); below the free-space floor or without file
//! handles for another push, `NetStream.Publish.Rejected`; a second publisher on a live
//! stream key is refused with `NetStream.Publish.BadName`, and a second publish on one
//! connection drops it. Refusals are rml_rtmp's `_error` answers with the status object
//! (ffmpeg and librtmp-based encoders stop on them). Then the recording plan is resolved
//! once (rule + active tasks) and the push's outputs are fixed — except tasks, which are
//! re-planned when the task configuration changes or a scheduled task's start arrives.

use std::collections::HashSet;
use std::sync::Arc;

use rml_rtmp::sessions::ServerSessionResult;

use super::gop::GopCache;
use super::publish::{announce_exception, callback_template, finish_parked, remove_hls};
use super::recorder::{OutputFailure, Recorder};
use super::rtmp::{Conn, IngestError, MAX_PUBLISHES_PER_CONNECTION};
use super::stream::PushStream;
use crate::config::callback_event::{push_event, PushEvent, StreamRef};
use crate::config::plan::{plan_recording, OutputPlan, RecordingPlan};
use crate::config::problem::ConfigError;
use crate::config::push_auth::{verify_push, PushCredentials};
use crate::config::push_url::{push_domain, query_param, split_stream_key, MAX_STREAM_KEY_BYTES};
use crate::config::rule::{check_push_names, StreamKey};
use crate::config::template::Format;
use crate::formats::flv::demux::{FlvDemuxer, FlvTag, TagKind};
use crate::record::session::{Action, OutputSpec, PushSession, Stopped};
use crate::server::notify::now_ms;

/// The status of a publish refused for its name, its domain or a live duplicate.
const BAD_NAME: &str = "NetStream.Publish.BadName";
/// The status of a publish refused for lack of room (free space, file handles).
const REJECTED: &str = "NetStream.Publish.Rejected";

pub(super) struct Push {
    pub(super) stream: PushStream,
    /// `None` when a rule FLV output's file serves as the GOP cache.
    pub(super) gop: Option<GopCache>,
    pub(super) actions: Vec<Action>,
    pub(super) registration: u64,
    pub(super) session: PushSession,
    pub(super) recorder: Recorder,
    pub(super) started_ms: i64,
    pub(super) sequence: String,
    pub(super) tasks: HashSet<String>,
    pub(super) next_replan_ms: Option<i64>,
}

impl Conn {
    /// A `publish`: refused with a status when a check fails ([`Conn::admit`]), a
    /// second one on the connection refused and the connection dropped; else the push
    /// starts recording.
    pub(super) async fn publish(
        &mut self,
        request_id: u32,
        app_name: &str,
        stream_key: &str,
    ) -> Result<Vec<ServerSessionResult>, IngestError> {
        if self.publishes >= MAX_PUBLISHES_PER_CONNECTION || self.push.is_some() {
            // Refused, then dropped: the status goes out before the connection closes.
            let refusal = self
                .reject(request_id, BAD_NAME, "one publish per connection")
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
        self.publishes += 1;
        let now = now_ms();
        let (stream, plan) = match self.admit(app_name, stream_key, now).await {
            Ok(admitted) => admitted,
            Err((code, why)) => return self.reject(request_id, code, &why).await,
        };
        let Some(registration) = self.app.live.register(&stream, self.control_tx.clone()) else {
            self.slot.unpublish();
            return self
                .reject(request_id, BAD_NAME, "the stream is already being pushed")
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

    /// The checks a publish passes, in order: the stream key's length, the push domain,
    /// the names, the push key, free space, file handles. The stream and its recording
    /// plan, or the status code and reason to refuse it with.
    async fn admit(
        &mut self,
        app_name: &str,
        stream_key: &str,
        now: i64,
    ) -> Result<(PushStream, RecordingPlan), (&'static str, String)> {
        if stream_key.len() > MAX_STREAM_KEY_BYTES {
            return Err((BAD_NAME, "stream key too long".into()));
        }
        let (name, query) = split_stream_key(stream_key);
        let tc_url = self.tc_url.clone().unwrap_or_default();
        let domain = push_domain(&tc_url, query, &self.app.settings.default_domain())
            .ok_or((BAD_NAME, "no valid push domain in the URL".to_owned()))?;
        check_push_names(app_name, name).map_err(|e| (BAD_NAME, e.to_string()))?;
        let stream = PushStream {
            domain,
            app: app_name.to_owned(),
            stream: name.to_owned(),
            stream_param: query.to_owned(),
        };
        let (plan, auth) = self.plan_and_auth(&stream, now).await;
        if let Some(Err(e)) = auth {
            return Err(("NetStream.Publish.Unauthorized", e.to_string()));
        }
        if let Some((free, floor)) = self.app.space.low() {
            let why = format!(
                "free space below the floor ({} MiB free, {} MiB kept): no new recordings",
                free >> 20,
                floor >> 20
            );
            self.app.metrics.refused("free_space");
            if self.app.space.first_refusal(&stream.key()) {
                announce_exception(&self.app, &stream, "", "", &why).await;
            }
            return Err((REJECTED, why));
        }
        if let Err(refusal) = self.slot.publish() {
            self.app.metrics.refused(refusal.label());
            return Err((REJECTED, refusal.to_string()));
        }
        Ok((stream, plan))
    }

    /// The recording plan of `stream` at `now` and, when its domain has a push key, the
    /// verdict on the push URL's `txSecret`/`txTime`.
    async fn plan_and_auth(
        &self,
        stream: &PushStream,
        now: i64,
    ) -> (RecordingPlan, Option<Result<(), ConfigError>>) {
        let control = self.app.config.read().await;
        let query = stream.stream_param.as_str();
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
                        stream_name: &stream.stream,
                        tx_secret: &query_param(query, "txSecret").unwrap_or_default(),
                        tx_time: &query_param(query, "txTime").unwrap_or_default(),
                    },
                    now / 1000,
                )
                .map(|_| ())
            });
        let key = StreamKey::new(&stream.domain, &stream.app, &stream.stream);
        (plan_recording(&control.config, &key, now / 1000), auth)
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

    pub(super) async fn media(&mut self, kind: TagKind, timestamp_ms: u32, data: bytes::Bytes) {
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

    pub(super) fn replan_due(&self) -> bool {
        self.push
            .as_ref()
            .and_then(|p| p.next_replan_ms)
            .is_some_and(|at| at <= now_ms())
    }

    /// Re-plans tasks: starts outputs of tasks that became active, stops those that ended.
    pub(super) async fn replan(&mut self) {
        let Some(push) = self.push.as_mut() else {
            return;
        };
        let now = now_ms();
        let plan = {
            let control = self.app.config.read().await;
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

    pub(super) async fn end_push(&mut self, why: &str) {
        let Some(mut push) = self.push.take() else {
            return;
        };
        let mut actions = Vec::new();
        let mut parked = push.session.finish(now_ms(), &mut actions);
        let mut failures = apply(&mut push, &mut actions).await;
        push.recorder.abandon();
        // What was handed to the worker is stored before the push is over (a shutdown
        // waits for this too); the failures it finds bear on the recordings parked.
        let (files, late) = push.recorder.drain().await;
        failures.extend(late);
        for failed in failures {
            let id = &failed.spec.recording_id;
            let parked = parked.iter_mut().find(|h| &h.spec.recording_id == id);
            if let (Some(hls), Some(name)) = (parked, failed.lost_from.as_deref()) {
                hls.drop_from(name);
            }
        }
        self.slot.unpublish();
        self.app.live.unregister(&push.stream, push.registration);
        self.app.metrics.live_pushes.dec();
        for hls in parked {
            if hls.segments() == 0 {
                remove_hls(&self.app, &push.stream, &hls.spec, &[]).await;
                continue;
            }
            let (id, wait) = self.app.live.park(push.stream.clone(), hls);
            let app = Arc::clone(&self.app);
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                if let Some((stream, hls)) = app.live.take_expired(id) {
                    finish_parked(&app, &stream, &hls).await;
                }
            });
        }
        tracing::info!(peer = %self.peer, stream = %push.stream.key(), why, files, "push ended");
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
        let Some(template) = callback_template(&self.app, stream).await else {
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

/// Carries out `actions`; outputs storage stopped are ended or restarted in the session
/// and what their HLS recordings stored is finalised. Returns those failures.
async fn apply(push: &mut Push, actions: &mut Vec<Action>) -> Vec<OutputFailure> {
    if !actions.is_empty() {
        push.recorder.apply(actions.drain(..), &push.session).await;
    }
    let failures = push.recorder.take_failed(&push.session).await;
    for failed in &failures {
        let stopped = push.session.fail_output(
            failed.output,
            failed.transient,
            failed.lost_from.as_deref(),
            now_ms(),
        );
        match stopped {
            Stopped::Hls(hls) => push.recorder.finish_hls_later(*hls),
            Stopped::Empty => push.recorder.discard_hls_later(failed.spec.clone()),
            // An ended output's recording went with its HlsFinished or is parked.
            Stopped::AlreadyEnded | Stopped::NotHls => {}
        }
    }
    failures
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
