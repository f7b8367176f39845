//! One push, recorded: protocol-neutral [`Frame`]s in, file actions out — pure
//! (wall-clock time is an argument, never read). The protocol's adapter (RTMP:
//! [`crate::formats::flv::ingest::FlvIngest`]) made the frames; nothing here knows it.
//!
//! A [`PushSession`] holds the outputs the recording plan asked for when the push started
//! (reference §3.9: configuration applies at push start) and any added while it is live
//! (real-time tasks), each with its own muxer:
//! - FLV: [`FlvWriter`] on the frames (RTMP media written as received);
//! - HLS: a [`TsSegmenter`] cut every [`HLS_SEGMENT_MS`] plus a [`RecordingPlaylist`];
//! - MP4 / AAC: [`Mp4Segmenter`] / [`AacSegmenter`] cut every `RecordInterval`.
//!
//! It emits [`Action`]s naming an output and a file sequence number; the server turns
//! them into scratch-file writes, storage commits, index rows and callbacks. File names
//! come from VodFileName ([`crate::config::naming::render`]) once a file closes, because
//! the default pattern contains the end time.
//!
//! Files' wall times come from [`WallClock`]: the push's start plus the media time
//! elapsed, re-anchored at timestamp jumps and never later than the file's close.
//!
//! Every output reads the frames on a [`Timeline`] of its own, so an output added while
//! the push is live ([`PushSession::add_output`]) — first fed the server's GOP cache, the
//! frames since the last video keyframe — or started anew after a storage error gets the
//! codec configuration with its first frame. [`gop_step`] says when that cache restarts.
//!
//! HLS auto-splice (reference §7): when the push ends, an HLS output with a
//! FlowContinueDuration > 0 is not finalised but returned as a [`ParkedHls`]; a push of
//! the same stream that starts before the timeout passes it to [`PushSession::new`] and the
//! playlist continues behind `#EXT-X-DISCONTINUITY`; otherwise the server calls
//! [`ParkedHls::finalize`] when the timeout passes.

mod gop;
mod output;
mod types;

pub use gop::{gop_step, GopStep, AUDIO_CACHE_MS, MAX_GOP_CACHE_BYTES};
pub use output::{ParkedHls, Stopped, HLS_SEGMENT_MS, RETRY_FIRST_MS, RETRY_MAX_MS};
pub use types::{
    extension, file_name, init_name, live_playlist_name, segment_name, segment_seq, Action,
    DoneFile, FileRef, HlsSegments, MediaInfo, OutputSpec, ReplayPoint, NAME_UTC_OFFSET_MINUTES,
};

use std::sync::Arc;

use output::{Muxer, Output};

use crate::config::template::Format;
use crate::formats::flv::clock::StreamClock;
use crate::formats::hls::writer::RecordedSegment;
use crate::formats::hls::Micros;
use crate::media::{Config, Frame, FrameEvent, Input, Timeline};
use crate::record::flv::FlvEvent;
use crate::record::wall::{Anchor, WallClock};
use crate::record::{SegmentEvent, SegmentInfo};

/// What a push hands its outputs.
#[derive(Clone, Copy)]
enum Unit<'a> {
    Frame(&'a Frame),
    /// A configuration announced on its own (it also rides with the frames).
    Config(&'a Arc<Config>),
}

/// See the module doc.
#[derive(Debug)]
pub struct PushSession {
    stream_id: String,
    outputs: Vec<Output>,
    wall: WallClock,
    media: MediaInfo,
    actions: Vec<SegmentEvent>,
    flv_events: Vec<FlvEvent>,
    frame_events: Vec<FrameEvent>,
}

impl PushSession {
    /// A push of `stream_id` recording `outputs`, continuing the `parked` HLS recordings.
    pub fn new(stream_id: &str, outputs: Vec<OutputSpec>, parked: Vec<ParkedHls>) -> Self {
        let mut session = Self {
            stream_id: stream_id.to_owned(),
            outputs: Vec::new(),
            wall: WallClock::default(),
            media: MediaInfo::default(),
            actions: Vec::new(),
            flv_events: Vec::new(),
            frame_events: Vec::new(),
        };
        for spec in outputs {
            session.outputs.push(Output::new(spec, stream_id, None));
        }
        for hls in parked {
            let spec = hls.spec.clone();
            session
                .outputs
                .push(Output::new(spec, stream_id, Some(hls)));
        }
        session
    }

    /// Output specs by index.
    pub fn spec(&self, output: usize) -> Option<&OutputSpec> {
        self.outputs.get(output).map(|o| &o.spec)
    }

    /// The source's encoder started anew (a mix engine's next generation): HLS
    /// outputs mark a discontinuity at their next segment.
    pub fn restart(&mut self) {
        for output in &mut self.outputs {
            if let Muxer::Segments(_, segmenter) = &mut output.muxer {
                segmenter.restart();
            }
        }
    }

    /// The formats still recording (`flv`, `hls`, `mp4`, `aac`), each once, in that order.
    pub fn recording_formats(&self) -> Vec<String> {
        [Format::Flv, Format::Hls, Format::Mp4, Format::Aac]
            .into_iter()
            .filter(|f| self.outputs.iter().any(|o| o.spec.format == *f && !o.ended))
            .map(|f| format!("{f:?}").to_ascii_lowercase())
            .collect()
    }

    /// Outputs still recording.
    pub fn active_outputs(&self) -> usize {
        self.outputs.iter().filter(|o| !o.ended).count()
    }

    /// Whether a rule-driven FLV output records this push: it lives as long as the push,
    /// so its file can serve as the GOP cache ([`PushSession::replay_point`]).
    pub fn has_rule_flv(&self) -> bool {
        self.outputs
            .iter()
            .any(|o| o.spec.format == Format::Flv && o.spec.task_id.is_empty() && !o.ended)
    }

    /// The current GOP in an FLV output's open file, if one has a keyframe.
    pub fn replay_point(&self) -> Option<ReplayPoint> {
        self.outputs.iter().enumerate().find_map(|(i, o)| {
            let Muxer::Flv(writer) = &o.muxer else {
                return None;
            };
            if o.ended {
                return None;
            }
            let (offset, configs) = writer.replay_point()?;
            let seq = o.open?;
            Some(ReplayPoint {
                file: FileRef { output: i, seq },
                offset,
                configs,
                clock: StreamClock::at(self.wall.last_ms()?),
            })
        })
    }

    /// The storage name of HLS segment file `f` (`None`: not an HLS output).
    pub fn segment_name(&self, f: FileRef) -> Option<String> {
        let output = self.outputs.get(f.output)?;
        (output.spec.format == Format::Hls)
            .then(|| segment_name(&output.spec.recording_id, f.seq, output.map.is_some()))
    }

    /// Codec facts of the push so far.
    pub fn media(&self) -> MediaInfo {
        self.media.clone()
    }

    /// Adds an output while the push is live, fed first with `replay`: the frames since
    /// the last keyframe (the server's GOP cache), each with its configuration.
    pub fn add_output(
        &mut self,
        spec: OutputSpec,
        replay: &[Frame],
        now_wall_ms: i64,
        out: &mut Vec<Action>,
    ) {
        let index = self.outputs.len();
        self.outputs.push(Output::new(spec, &self.stream_id, None));
        for frame in replay.iter().filter(|f| f.track_id == 0) {
            self.feed(index, Unit::Frame(frame), now_wall_ms, out);
        }
    }

    /// Storage failed under output `i` at `now_wall_ms`; HLS segment `lost_from` and
    /// those after it were not stored. Its open file is gone (the server removed it). With
    /// `retry` (a transient error: no file handle, no space) the output starts anew — a
    /// new file, a new HLS recording — at its next keyframe after a back-off
    /// ([`RETRY_FIRST_MS`] doubling up to [`RETRY_MAX_MS`]); without, it ends. Says what
    /// becomes of the HLS recording it grew.
    pub fn fail_output(
        &mut self,
        i: usize,
        retry: bool,
        lost_from: Option<&str>,
        now_wall_ms: i64,
    ) -> Stopped {
        let stream_id = self.stream_id.clone();
        let Some(output) = self.outputs.get_mut(i) else {
            return Stopped::AlreadyEnded;
        };
        if output.ended {
            return Stopped::AlreadyEnded;
        }
        let mut hls = output.hls.take();
        if let (Some(hls), Some(name)) = (hls.as_mut(), lost_from) {
            hls.drop_from(name);
        }
        if retry {
            output.restart(&stream_id, now_wall_ms);
        } else {
            output.ended = true;
            output.open = None;
        }
        match hls {
            Some(hls) if hls.segments() > 0 => Stopped::Hls(Box::new(hls)),
            Some(_) => Stopped::Empty,
            None => Stopped::NotHls,
        }
    }

    /// Outputs waiting to start anew after a storage error.
    pub fn retrying_outputs(&self) -> usize {
        self.outputs.iter().filter(|o| o.retry_at.is_some()).count()
    }

    /// Stops the outputs of task `task_id` at `now_wall_ms`; returns whether any was
    /// recording.
    pub fn stop_task(&mut self, task_id: &str, now_wall_ms: i64, out: &mut Vec<Action>) -> bool {
        let found: Vec<usize> = (0..self.outputs.len())
            .filter(|&i| {
                self.outputs
                    .get(i)
                    .is_some_and(|o| !o.ended && o.spec.task_id == task_id)
            })
            .collect();
        for &i in &found {
            self.end_output(i, false, now_wall_ms, out);
        }
        !found.is_empty()
    }

    /// Feeds what an input adapter made of one received unit, at `now_wall_ms`.
    pub fn push(&mut self, input: &Input, now_wall_ms: i64, out: &mut Vec<Action>) {
        match input {
            Input::Frame(frame) => self.push_frame(frame, now_wall_ms, out),
            Input::Config(config) => self.push_config(config, now_wall_ms, out),
            Input::Nothing | Input::Skipped(_) => {}
        }
    }

    /// Feeds one frame received at `now_wall_ms`.
    pub fn push_frame(&mut self, frame: &Frame, now_wall_ms: i64, out: &mut Vec<Action>) {
        if frame.track_id != 0 {
            return self.push_extra(frame, now_wall_ms, out);
        }
        self.wall.push(frame.track, frame.dts_ms, now_wall_ms);
        self.media.observe_frame(frame);
        for i in 0..self.outputs.len() {
            let expired = self.outputs.get(i).is_some_and(|o| {
                !o.ended && o.spec.ends_at_ms.is_some_and(|end| now_wall_ms >= end)
            });
            if expired {
                self.end_output(i, false, now_wall_ms, out);
            } else {
                self.feed(i, Unit::Frame(frame), now_wall_ms, out);
            }
        }
    }

    /// A frame of a multitrack push's track beyond the default ones: to the MP4 outputs
    /// recording (the others carry the default tracks only).
    fn push_extra(&mut self, frame: &Frame, now: i64, out: &mut Vec<Action>) {
        for i in 0..self.outputs.len() {
            let Some(output) = self.outputs.get_mut(i) else {
                continue;
            };
            let idle = output.ended || output.retry_at.is_some_and(|at| now < at);
            if let (false, Muxer::Segments(_, segmenter)) = (idle, &mut output.muxer) {
                segmenter.push_extra(frame, &mut self.actions);
                self.drain(i, now, out);
            }
        }
    }

    /// A codec configuration announced on its own at `now_wall_ms` (an RTMP sequence
    /// header): the outputs take it now rather than with the next frame.
    pub fn push_config(&mut self, config: &Arc<Config>, now_wall_ms: i64, out: &mut Vec<Action>) {
        self.media.observe_config(config);
        for i in 0..self.outputs.len() {
            self.feed(i, Unit::Config(config), now_wall_ms, out);
        }
    }

    /// Ends the push at `now_wall_ms`: every output is finalised, except HLS outputs
    /// with a splice timeout, which are returned to be continued or finalised later.
    pub fn finish(&mut self, now_wall_ms: i64, out: &mut Vec<Action>) -> Vec<ParkedHls> {
        let mut parked = Vec::new();
        for i in 0..self.outputs.len() {
            if let Some(hls) = self.end_output(i, true, now_wall_ms, out) {
                parked.push(hls);
            }
        }
        parked
    }

    fn feed(&mut self, i: usize, unit: Unit<'_>, now: i64, out: &mut Vec<Action>) {
        let Some(output) = self.outputs.get_mut(i) else {
            return;
        };
        if output.ended {
            return;
        }
        match output.retry_at {
            Some(at) if now < at => return,
            // Starting anew: its timeline announces the configuration with the next frame.
            Some(_) => output.retry_at = None,
            None => {}
        }
        let raw_ms = self.wall.last_ms().unwrap_or(0) as u32;
        match (&mut output.muxer, unit) {
            (Muxer::Flv(writer), Unit::Frame(frame)) => {
                output.media.observe_frame(frame);
                writer.push_frame(frame, &mut self.flv_events);
            }
            (Muxer::Flv(writer), Unit::Config(config)) => {
                output.media.observe_config(config);
                writer.push_config(config, raw_ms, &mut self.flv_events);
            }
            (Muxer::Segments(timeline, segmenter), unit) => {
                let mut events = std::mem::take(&mut self.frame_events);
                read(timeline, unit, &mut events);
                for event in events.drain(..) {
                    output.media.observe(&event);
                    segmenter.push(&event, &mut self.actions);
                }
                self.frame_events = events;
            }
        }
        self.drain(i, now, out);
    }

    /// Turns the muxer events of output `i` into actions.
    fn drain(&mut self, i: usize, now: i64, out: &mut Vec<Action>) {
        let flv = std::mem::take(&mut self.flv_events);
        let segments = std::mem::take(&mut self.actions);
        for event in flv {
            let segment_event = match event {
                FlvEvent::Open { index } => SegmentEvent::Open {
                    index,
                    discontinuity: false,
                },
                FlvEvent::Data(bytes) => SegmentEvent::Data(bytes),
                FlvEvent::Close(info) => SegmentEvent::Close(info),
                FlvEvent::Patch { offset, bytes } => {
                    if let Some(file) = self.current(i) {
                        out.push(Action::Patch(file, offset, bytes));
                    }
                    continue;
                }
                FlvEvent::Rewrite { head, replace } => {
                    if let Some(file) = self.current(i) {
                        out.push(Action::RewriteHead(file, head, replace));
                    }
                    continue;
                }
            };
            self.apply(i, segment_event, now, out);
        }
        for event in segments {
            self.apply(i, event, now, out);
        }
    }

    fn current(&self, i: usize) -> Option<FileRef> {
        let output = self.outputs.get(i)?;
        output.open.map(|seq| FileRef { output: i, seq })
    }

    fn apply(&mut self, i: usize, event: SegmentEvent, now: i64, out: &mut Vec<Action>) {
        match event {
            SegmentEvent::Open { index, .. } => {
                if let Some(output) = self.outputs.get_mut(i) {
                    let seq = output.seq_base + index;
                    output.open = Some(seq);
                    output.anchor = self.wall.anchor();
                    out.push(Action::Open(FileRef { output: i, seq }));
                }
            }
            SegmentEvent::Init { index, bytes } => {
                if let Some(output) = self.outputs.get_mut(i) {
                    let seq = output.seq_base + index;
                    output.map = Some(init_name(&output.spec.recording_id, seq));
                    out.push(Action::StoreInit(FileRef { output: i, seq }, bytes));
                }
            }
            SegmentEvent::Data(bytes) => {
                if let Some(file) = self.current(i) {
                    out.push(Action::Append(file, bytes));
                }
            }
            SegmentEvent::FinishMp4(finish) => {
                if let Some(file) = self.current(i) {
                    out.push(Action::FinishMp4(file, finish));
                }
            }
            SegmentEvent::Close(info) => self.closed(i, &info, now, out),
            SegmentEvent::Refused(track, why) => out.push(Action::Refused(i, track, why)),
        }
    }

    fn closed(&mut self, i: usize, info: &SegmentInfo, now: i64, out: &mut Vec<Action>) {
        let Some(output) = self.outputs.get_mut(i) else {
            return;
        };
        let anchor = output.anchor.or(self.wall.anchor()).unwrap_or(Anchor {
            stream_ms: info.start_ms,
            wall_ms: now,
        });
        let (start, end) = anchor.span(info.start_ms, info.end_ms, now);
        let Some(seq) = output.open.take() else {
            return;
        };
        let file = FileRef { output: i, seq };
        let mut done = DoneFile {
            name: String::new(),
            start_wall_ms: start,
            end_wall_ms: end,
            duration_ms: (info.end_ms - info.start_ms).max(0),
            bytes: info.bytes,
            frames: info.frames,
            media: output.media.clone(),
            media_start_ms: info.start_ms,
        };
        let Some(hls) = output.hls.as_mut() else {
            done.name = file_name(
                &output.spec,
                &self.stream_id,
                start,
                end,
                extension(output.spec.format),
            );
            out.push(Action::Close(file, done));
            return;
        };
        done.name = segment_name(&output.spec.recording_id, seq, output.map.is_some());
        let segment = RecordedSegment {
            uri: done.name.clone(),
            duration: Micros::from_millis(done.duration_ms),
            program_date_time_ms: Some(start),
            discontinuity: info.discontinuity || output.resumed,
            map: output.map.clone(),
        };
        output.resumed = false;
        hls.add(segment, &done, seq);
        let text = hls.playlist.render(false);
        out.push(Action::Close(file, done));
        out.push(Action::Playlist(i, text));
    }

    /// Closes output `i`. At the end of a push (`push_ended`), an HLS output with a splice
    /// timeout and at least one segment is returned instead of finalised.
    fn end_output(
        &mut self,
        i: usize,
        push_ended: bool,
        now: i64,
        out: &mut Vec<Action>,
    ) -> Option<ParkedHls> {
        let output = self.outputs.get_mut(i)?;
        if output.ended {
            return None;
        }
        match &mut output.muxer {
            Muxer::Flv(writer) => writer.finish(&mut self.flv_events),
            Muxer::Segments(_, segmenter) => segmenter.finish(&mut self.actions),
        }
        self.drain(i, now, out);
        let output = self.outputs.get_mut(i)?;
        output.ended = true;
        out.push(Action::OutputEnded(i));
        let hls = output.hls.take()?;
        if hls.segments() == 0 {
            return None;
        }
        if push_ended && output.spec.flow_continue_s > 0 {
            return Some(hls);
        }
        out.push(Action::HlsFinished(i, Box::new(hls)));
        None
    }
}

fn read(timeline: &mut Timeline, unit: Unit<'_>, events: &mut Vec<FrameEvent>) {
    match unit {
        Unit::Frame(frame) => timeline.push(frame, events),
        Unit::Config(config) => timeline.config(config, events),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::flv::demux::{FlvTag, TagKind};
    use crate::formats::flv::ingest::FlvIngest;

    const T0: i64 = 1_800_000_000_000;

    fn tag(kind: TagKind, ms: u32, data: &[u8]) -> FlvTag {
        FlvTag {
            offset: 0,
            kind,
            timestamp_ms: ms,
            data: bytes::Bytes::copy_from_slice(data),
        }
    }

    fn flv_spec() -> OutputSpec {
        OutputSpec {
            format: Format::Flv,
            interval_ms: Some(1000),
            vod_file_name: "{StreamID}_{StartSecond}".into(),
            task_id: String::new(),
            template_id: 1,
            storage_time_s: 0,
            flow_continue_s: 0,
            ends_at_ms: None,
            recording_id: "rid".into(),
            hls_segments: HlsSegments::Auto,
        }
    }

    /// A session fed FLV tags through an FLV adapter, as a push is.
    struct Fed {
        s: PushSession,
        ingest: FlvIngest,
    }

    impl Fed {
        fn new(specs: Vec<OutputSpec>) -> Self {
            Self {
                s: PushSession::new("cam", specs, Vec::new()),
                ingest: FlvIngest::default(),
            }
        }

        fn tag(&mut self, t: &FlvTag, now: i64, out: &mut Vec<Action>) {
            let input = self.ingest.push_tag(t);
            self.s.push(&input, now, out);
        }
    }

    /// The video sequence header of a minimal avcC (no parameter sets).
    const AVC_HEADER: &[u8] = &[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xFF, 0xE0, 0];

    /// Frames `from..to` at 25 fps, a keyframe every 25, received in real time.
    fn frames(f: &mut Fed, from: u32, to: u32, out: &mut Vec<Action>) {
        for i in from..to {
            let key = if i % 25 == 0 { 0x17 } else { 0x27 };
            let t = tag(TagKind::Video, i * 40, &[key, 1, 0, 0, 0, 0, 0, 0, 1, 0x65]);
            f.tag(&t, T0 + i64::from(i) * 40, out);
        }
    }

    /// A transient failure pauses the output for the back-off; it then starts a new file
    /// at a keyframe, headed by the sequence header in effect.
    #[test]
    fn a_failed_output_restarts_after_the_back_off_with_the_headers() {
        let mut f = Fed::new(vec![flv_spec()]);
        let mut out = Vec::new();
        let header = tag(TagKind::Video, 0, AVC_HEADER);
        f.tag(&header, T0, &mut out);
        frames(&mut f, 0, 30, &mut out);
        let s = &mut f.s;
        assert!(out.iter().any(|a| matches!(a, Action::Open(_))));
        assert_eq!(s.fail_output(0, true, None, T0 + 1200), Stopped::NotHls);
        assert_eq!(s.retrying_outputs(), 1);
        out.clear();
        frames(&mut f, 30, 55, &mut out); // up to 2.2 s: still waiting (1 s from 1.2 s)
        assert!(out.is_empty(), "{out:?}");
        frames(&mut f, 55, 80, &mut out);
        let s = &mut f.s;
        assert_eq!(s.retrying_outputs(), 0);
        let opened: Vec<&Action> = out
            .iter()
            .filter(|a| matches!(a, Action::Open(_)))
            .collect();
        assert_eq!(opened, vec![&Action::Open(FileRef { output: 0, seq: 0 })]);
        let head = out.iter().find_map(|a| match a {
            Action::Append(_, bytes) => Some(bytes.clone()),
            _ => None,
        });
        let head = head.unwrap();
        assert!(
            head.windows(header.data.len())
                .any(|w| w == &header.data[..]),
            "sequence header first"
        );
        assert_eq!(s.spec(0).map(|sp| sp.recording_id.as_str()), Some("ridr1"));
        // A permanent failure ends it.
        assert_eq!(s.fail_output(0, false, None, T0 + 3300), Stopped::NotHls);
        assert_eq!(
            s.fail_output(0, false, None, T0 + 3400),
            Stopped::AlreadyEnded
        );
        out.clear();
        frames(&mut f, 80, 200, &mut out);
        assert!(out.is_empty());
    }

    /// An output that starts anew after the push's 32-bit clock wrapped names its files
    /// by the same clock: times near now, not 49.7 days early.
    #[test]
    fn an_output_restarted_after_a_wrap_keeps_the_push_clock() {
        let base = u32::MAX - 1000;
        let mut f = Fed::new(vec![flv_spec()]);
        let mut out = Vec::new();
        // Sequence headers stamped 0, as encoders send them.
        let header = tag(TagKind::Video, 0, AVC_HEADER);
        f.tag(&header, T0, &mut out);
        let feed = |f: &mut Fed, range: std::ops::Range<u32>, out: &mut Vec<Action>| {
            for i in range {
                let key = if i % 25 == 0 { 0x17 } else { 0x27 };
                let ms = base.wrapping_add(i * 40);
                let t = tag(TagKind::Video, ms, &[key, 1, 0, 0, 0, 0, 0, 0, 1, 0x65]);
                f.tag(&t, T0 + i64::from(i) * 40, out);
            }
        };
        feed(&mut f, 0..50, &mut out);
        f.s.fail_output(0, true, None, T0 + 2000);
        out.clear();
        feed(&mut f, 50..200, &mut out);
        let closes: Vec<(i64, i64)> = out
            .iter()
            .filter_map(|a| match a {
                Action::Close(_, done) => Some((done.start_wall_ms, done.end_wall_ms)),
                _ => None,
            })
            .collect();
        assert!(!closes.is_empty());
        for (start, end) in closes {
            assert!(start >= T0 + 3000 && end <= T0 + 8000, "{start}..{end}");
        }
    }
}
