//! One push, recorded: FLV tags in, file actions out — pure (wall-clock time is an
//! argument, never read).
//!
//! A [`PushSession`] holds the outputs the recording plan asked for when the push started
//! (reference §3.9: configuration applies at push start) and any added while it is live
//! (real-time tasks), each with its own muxer:
//! - FLV: [`FlvWriter`] on the tags as received;
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
//! An output added while the push is live ([`PushSession::add_output`]) is first fed the
//! server's GOP cache (sequence headers and the tags since the last video keyframe), so it
//! starts from the most recent keyframe. [`gop_reset`] says when that cache restarts.
//!
//! HLS auto-splice (reference §7): when the push ends, an HLS output with a
//! FlowContinueDuration > 0 is not finalised but returned as a [`ParkedHls`]; a push of
//! the same stream that starts before the timeout passes it to [`PushSession::new`] and the
//! playlist continues behind `#EXT-X-DISCONTINUITY`; otherwise the server calls
//! [`ParkedHls::finalize`] when the timeout passes.

use crate::config::naming::{render, NameInputs};
use crate::config::template::Format;
use crate::formats::flv::demux::{FlvTag, TagKind};
use crate::formats::flv::frames::{FrameEvent, VideoConfig};
use crate::formats::flv::video::{parse_video_tag, VideoPacketKind};
use crate::formats::flv::FrameReader;
use crate::formats::hls::writer::{RecordedSegment, RecordingPlaylist};
use crate::formats::hls::Micros;
use crate::formats::mp4::Mp4Finish;
use crate::record::aac::AacSegmenter;
use crate::record::flv::{index_reserve, FlvEvent, FlvWriter};
use crate::record::mp4::Mp4Segmenter;
use crate::record::ts::TsSegmenter;
use crate::record::wall::{Anchor, WallClock};
use crate::record::{SegmentEvent, SegmentInfo, Segmenter};

/// HLS segment target duration, ms (cut at the first keyframe after it).
pub const HLS_SEGMENT_MS: i64 = 6_000;
/// Largest GOP cache per push; beyond it the cache is dropped until the next keyframe.
pub const MAX_GOP_CACHE_BYTES: u64 = 8 * 1024 * 1024;
/// Audio-only pushes: the GOP cache restarts after this much audio.
pub const AUDIO_CACHE_MS: u32 = 1_000;

fn is_audio_header(tag: &FlvTag) -> bool {
    // SoundFormat 10 (AAC) with AACPacketType 0.
    matches!(tag.data.first(), Some(b) if b >> 4 == 10) && tag.data.get(1) == Some(&0)
}

/// How a GOP cache treats one tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GopStep {
    /// A sequence header or metadata: keep it beside the cache (latest wins).
    Header,
    /// Empty the cache, then append this tag (a video keyframe; audio-only: every
    /// [`AUDIO_CACHE_MS`]).
    Reset,
    /// Append.
    Append,
    /// Ignore.
    Skip,
}

/// The GOP-cache decision for `tag`, given whether the push has video and the timestamp
/// of the cache's first tag.
pub fn gop_reset(tag: &FlvTag, has_video: bool, first_ms: Option<u32>) -> GopStep {
    match tag.kind {
        TagKind::Script => GopStep::Header,
        TagKind::Video => match parse_video_tag(&tag.data) {
            Some(v) if v.kind == VideoPacketKind::SequenceHeader => GopStep::Header,
            Some(v) if v.keyframe && v.kind == VideoPacketKind::Frames => GopStep::Reset,
            Some(_) => GopStep::Append,
            None => GopStep::Skip,
        },
        TagKind::Audio if is_audio_header(tag) => GopStep::Header,
        TagKind::Audio if has_video => GopStep::Append,
        TagKind::Audio => match first_ms {
            Some(first) if tag.timestamp_ms.wrapping_sub(first) < AUDIO_CACHE_MS => GopStep::Append,
            _ => GopStep::Reset,
        },
        TagKind::Other(_) => GopStep::Skip,
    }
}
/// Times in file names are Beijing time, as the reference's default (§5).
pub const NAME_UTC_OFFSET_MINUTES: i32 = 8 * 60;

/// What one output records (from [`crate::config::plan::OutputPlan`] plus identity).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutputSpec {
    /// Container.
    pub format: Format,
    /// Milliseconds per file (FLV/MP4/AAC); `None` for HLS.
    pub interval_ms: Option<i64>,
    /// The naming pattern (never empty).
    pub vod_file_name: String,
    /// Record task id, "" for rule-driven outputs.
    pub task_id: String,
    /// Template id (0: the default task template).
    pub template_id: i64,
    /// Retention, seconds (0: forever).
    pub storage_time_s: i64,
    /// HLS auto-splice timeout, seconds (0: none).
    pub flow_continue_s: i64,
    /// Wall time at which a task stops recording, Unix ms.
    pub ends_at_ms: Option<i64>,
    /// A unique id chosen by the server: the HLS recording's file id and segment prefix.
    pub recording_id: String,
}

/// Codec facts for the index and callbacks.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MediaInfo {
    /// `h264` or `h265`.
    pub video_codec: Option<String>,
    /// `aac` or `mp3`.
    pub audio_codec: Option<String>,
    /// Picture size.
    pub dimensions: Option<(u32, u32)>,
}

/// A finished file (or HLS recording).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoneFile {
    /// Final file name with extension (VodFileName rendered; HLS segments: fixed).
    pub name: String,
    /// First frame, Unix ms.
    pub start_wall_ms: i64,
    /// End, Unix ms.
    pub end_wall_ms: i64,
    /// Media duration, ms.
    pub duration_ms: i64,
    /// Bytes (HLS recordings: all segments).
    pub bytes: u64,
    /// Frames.
    pub frames: u64,
    /// Codecs and size.
    pub media: MediaInfo,
    /// Stream time of its first frame, ms (callback `media_start_time`).
    pub media_start_ms: i64,
}

/// A file of one output: (output index in the session, sequence number in the output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileRef {
    /// Output index.
    pub output: usize,
    /// File sequence number (HLS: the media sequence number of the segment).
    pub seq: u32,
}

/// Where the current GOP of a push can be read back: from `offset` to the end of the open
/// FLV file `file`, after `headers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayPoint {
    /// The FLV file being written.
    pub file: FileRef,
    /// Offset of the last keyframe tag in it.
    pub offset: u64,
    /// Sequence headers in effect.
    pub headers: Vec<FlvTag>,
}

/// What the server does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create an empty scratch file.
    Open(FileRef),
    /// Append bytes.
    Append(FileRef, bytes::Bytes),
    /// Overwrite bytes at an offset (FLV `onMetaData`).
    Patch(FileRef, u64, Vec<u8>),
    /// Replace the first `replace` bytes by `head` (FLV index larger than reserved).
    RewriteHead(FileRef, Vec<u8>, u64),
    /// Finish an MP4 as moov-first (see [`crate::formats::mp4::progressive`]).
    FinishMp4(FileRef, Box<Mp4Finish>),
    /// The file is final: store it under `DoneFile::name`. For HLS segments, the server
    /// then writes the playlist given by the following [`Action::Playlist`].
    Close(FileRef, DoneFile),
    /// The HLS output's playlist text (EVENT while growing).
    Playlist(usize, String),
    /// An HLS recording is final: store `text` as `done.name`; index and announce it.
    HlsFinished(usize, DoneFile, String),
    /// The output stopped (task end, StopRecordTask, end of push); no more actions.
    OutputEnded(usize),
}

#[derive(Debug)]
enum Muxer {
    Flv(FlvWriter),
    Segments(FrameReader, Box<dyn Segmenter + Send + Sync>),
}

/// The part of an HLS recording that outlives a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedHls {
    /// The output.
    pub spec: OutputSpec,
    /// Stream name (for the final name).
    pub stream_id: String,
    playlist: RecordingPlaylist,
    next_seq: u32,
    start_wall_ms: i64,
    end_wall_ms: i64,
    duration_ms: i64,
    bytes: u64,
    frames: u64,
    media: MediaInfo,
    media_start_ms: Option<i64>,
}

impl ParkedHls {
    /// The final playlist and its file facts (when the splice timeout passes).
    pub fn finalize(&self) -> (DoneFile, String) {
        let done = DoneFile {
            name: file_name(
                &self.spec,
                &self.stream_id,
                self.start_wall_ms,
                self.end_wall_ms,
                "m3u8",
            ),
            start_wall_ms: self.start_wall_ms,
            end_wall_ms: self.end_wall_ms,
            duration_ms: self.duration_ms,
            bytes: self.bytes,
            frames: self.frames,
            media: self.media.clone(),
            media_start_ms: self.media_start_ms.unwrap_or(0),
        };
        (done, self.playlist.render(true))
    }

    /// Segments in the playlist.
    pub fn segments(&self) -> usize {
        self.playlist.segments().len()
    }

    /// Wall time of the recording's last frame, Unix ms.
    pub fn end_wall_ms(&self) -> i64 {
        self.end_wall_ms
    }
}

#[derive(Debug)]
struct Output {
    spec: OutputSpec,
    muxer: Muxer,
    media: MediaInfo,
    /// Segmenter index → sequence number offset.
    seq_base: u32,
    open: Option<u32>,
    /// The wall-clock anchor in effect when the open file opened.
    anchor: Option<Anchor>,
    hls: Option<ParkedHls>,
    /// The next HLS segment follows a splice.
    resumed: bool,
    ended: bool,
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
}

/// The final name of a file of `spec` spanning `start`..`end` (Unix ms).
pub fn file_name(spec: &OutputSpec, stream_id: &str, start: i64, end: i64, ext: &str) -> String {
    let inputs = NameInputs {
        stream_id,
        start_ms: start.max(0),
        end_ms: end.max(start).max(0),
        utc_offset_minutes: NAME_UTC_OFFSET_MINUTES,
    };
    // The pattern was validated when the template was saved; a render failure (a time
    // out of range) falls back to the recording id rather than losing the file.
    let stem = render(&spec.vod_file_name, &inputs).unwrap_or_else(|_| spec.recording_id.clone());
    format!("{stem}.{ext}")
}

/// The file extension of a format's files.
pub fn extension(format: Format) -> &'static str {
    match format {
        Format::Flv => "flv",
        Format::Hls => "ts",
        Format::Mp4 => "mp4",
        Format::Aac => "aac",
    }
}

/// Name of HLS segment `seq` of recording `recording_id`.
pub fn segment_name(recording_id: &str, seq: u32) -> String {
    format!("{recording_id}_{seq:05}.ts")
}

/// Name of the growing playlist of recording `recording_id`.
pub fn live_playlist_name(recording_id: &str) -> String {
    format!("{recording_id}.m3u8")
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
            let (offset, headers) = writer.replay_point()?;
            let seq = o.open?;
            Some(ReplayPoint {
                file: FileRef { output: i, seq },
                offset,
                headers,
            })
        })
    }

    /// Codec facts of the push so far.
    pub fn media(&self) -> MediaInfo {
        self.media.clone()
    }

    /// Adds an output while the push is live, fed first with `replay`: the sequence
    /// headers and the tags since the last keyframe (the server's GOP cache).
    pub fn add_output(
        &mut self,
        spec: OutputSpec,
        replay: &[FlvTag],
        now_wall_ms: i64,
        out: &mut Vec<Action>,
    ) {
        let index = self.outputs.len();
        self.outputs.push(Output::new(spec, &self.stream_id, None));
        for tag in replay {
            self.feed(index, tag, now_wall_ms, out);
        }
    }

    /// Ends output `i` without finalising it: storage failed under it. An HLS recording
    /// is dropped (neither parked nor announced); no more actions come for it.
    pub fn abort_output(&mut self, i: usize) {
        if let Some(output) = self.outputs.get_mut(i) {
            output.ended = true;
            output.hls = None;
            output.open = None;
        }
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

    /// Feeds one tag received at `now_wall_ms`.
    pub fn push_tag(&mut self, tag: &FlvTag, now_wall_ms: i64, out: &mut Vec<Action>) {
        self.wall.push(tag, now_wall_ms);
        self.media.observe_tag(tag);
        for i in 0..self.outputs.len() {
            let expired = self.outputs.get(i).is_some_and(|o| {
                !o.ended && o.spec.ends_at_ms.is_some_and(|end| now_wall_ms >= end)
            });
            if expired {
                self.end_output(i, false, now_wall_ms, out);
            } else {
                self.feed(i, tag, now_wall_ms, out);
            }
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

    fn feed(&mut self, i: usize, tag: &FlvTag, now: i64, out: &mut Vec<Action>) {
        let Some(output) = self.outputs.get_mut(i) else {
            return;
        };
        if output.ended {
            return;
        }
        match &mut output.muxer {
            Muxer::Flv(writer) => {
                output.media.observe_tag(tag);
                writer.push(tag, &mut self.flv_events);
            }
            Muxer::Segments(reader, segmenter) => {
                for event in reader.push_tag(tag) {
                    output.media.observe(&event);
                    segmenter.push(&event, &mut self.actions);
                }
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
                FlvEvent::Data(bytes) => SegmentEvent::Data(bytes.into()),
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
        done.name = segment_name(&output.spec.recording_id, seq);
        hls.playlist.push(RecordedSegment {
            uri: done.name.clone(),
            duration: Micros::from_millis(done.duration_ms),
            program_date_time_ms: Some(start),
            discontinuity: info.discontinuity || output.resumed,
        });
        output.resumed = false;
        if hls.media_start_ms.is_none() {
            hls.media_start_ms = Some(info.start_ms);
            hls.start_wall_ms = start;
        }
        hls.end_wall_ms = end;
        hls.duration_ms += done.duration_ms;
        hls.bytes += done.bytes;
        hls.frames += done.frames;
        hls.media = output.media.clone();
        hls.next_seq = seq + 1;
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
        let (done, text) = hls.finalize();
        out.push(Action::HlsFinished(i, done, text));
        None
    }
}

impl Output {
    fn new(spec: OutputSpec, stream_id: &str, parked: Option<ParkedHls>) -> Self {
        let muxer = match spec.format {
            Format::Flv => {
                let reserve = index_reserve(spec.interval_ms);
                // Track flags start false: a track counts from its first tag (audio-only
                // pushes open their first file at the first audio frame).
                Muxer::Flv(FlvWriter::new(spec.interval_ms, reserve, false, false))
            }
            Format::Hls => Muxer::Segments(
                FrameReader::default(),
                Box::new(TsSegmenter::new(Some(HLS_SEGMENT_MS))),
            ),
            Format::Mp4 => Muxer::Segments(
                FrameReader::default(),
                Box::new(Mp4Segmenter::new(spec.interval_ms)),
            ),
            Format::Aac => Muxer::Segments(
                FrameReader::default(),
                Box::new(AacSegmenter::new(spec.interval_ms)),
            ),
        };
        let resumed = parked.is_some();
        let hls = (spec.format == Format::Hls).then(|| {
            parked.unwrap_or_else(|| ParkedHls {
                spec: spec.clone(),
                stream_id: stream_id.to_owned(),
                playlist: RecordingPlaylist::new(),
                next_seq: 0,
                start_wall_ms: 0,
                end_wall_ms: 0,
                duration_ms: 0,
                bytes: 0,
                frames: 0,
                media: MediaInfo::default(),
                media_start_ms: None,
            })
        });
        Self {
            seq_base: hls.as_ref().map_or(0, |h| h.next_seq),
            spec,
            muxer,
            media: MediaInfo::default(),
            open: None,
            anchor: None,
            hls,
            resumed,
            ended: false,
        }
    }
}

impl MediaInfo {
    /// Updates from one reader event.
    pub fn observe(&mut self, event: &FrameEvent) {
        match event {
            FrameEvent::VideoConfig { config, .. } => match config {
                VideoConfig::Avc(c) => {
                    self.video_codec = Some("h264".into());
                    self.dimensions = c.dimensions;
                }
                VideoConfig::Hevc(_) => self.video_codec = Some("h265".into()),
            },
            FrameEvent::AudioConfig { .. } => self.audio_codec = Some("aac".into()),
            FrameEvent::Frame(f)
                if f.track == crate::formats::flv::frames::Track::Audio
                    && self.audio_codec.is_none() =>
            {
                self.audio_codec = Some("mp3".into())
            }
            _ => {}
        }
    }

    /// Updates from a tag as received (FLV outputs, which need no frame reader): only
    /// sequence headers and the audio format are looked at.
    pub fn observe_tag(&mut self, tag: &FlvTag) {
        match tag.kind {
            TagKind::Video
                if parse_video_tag(&tag.data)
                    .is_some_and(|v| v.kind == VideoPacketKind::SequenceHeader) =>
            {
                for event in FrameReader::default().push_tag(tag) {
                    self.observe(&event);
                }
            }
            TagKind::Audio if self.audio_codec.is_none() => {
                self.audio_codec = match tag.data.first().map(|b| b >> 4) {
                    Some(10) => Some("aac".into()),
                    Some(2) => Some("mp3".into()),
                    _ => None,
                };
            }
            _ => {}
        }
    }

    /// `"640x480"`, or "" when unknown.
    pub fn resolution(&self) -> String {
        self.dimensions
            .map(|(w, h)| format!("{w}x{h}"))
            .unwrap_or_default()
    }
}
