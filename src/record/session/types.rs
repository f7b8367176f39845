//! What a push session is told (output specs) and what it tells (actions, finished
//! files, codec facts), and how its files are named.

use crate::config::naming::{render, NameInputs};
use crate::config::template::Format;
use std::sync::Arc;

use crate::formats::flv::clock::StreamClock;
use crate::formats::mp4::Mp4Finish;
use crate::media::{Codec, CodecConfig, Config, Frame, FrameEvent, Track, VideoConfig};

use super::output::ParkedHls;

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
    /// HLS segment container (other formats ignore it).
    #[serde(default)]
    pub hls_segments: HlsSegments,
}

/// The container of HLS segments (`[hls] segments` in the configuration file).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum HlsSegments {
    /// MPEG-TS for H.264/HEVC with AAC/MP3, fragmented MP4 for AV1, VP9 and Opus
    /// ([`crate::record::fmp4::AutoSegmenter`]).
    #[default]
    Auto,
    /// MPEG-TS (`.ts`): codecs it cannot carry are refused.
    Ts,
    /// Fragmented MP4 (`.m4s` + an `EXT-X-MAP` initialization section) for every codec.
    Fmp4,
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
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
/// FLV file `file`, read by an FLV adapter with `configs` in effect and its clock at
/// `clock` (the tags hold 32-bit times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayPoint {
    /// The FLV file being written.
    pub file: FileRef,
    /// Offset of the last keyframe tag in it.
    pub offset: u64,
    /// Configurations in effect.
    pub configs: Vec<Arc<Config>>,
    /// The push's clock at its last frame.
    pub clock: StreamClock,
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
    /// Store an HLS output's initialization section (fMP4 `EXT-X-MAP`) now, under
    /// [`init_name`] of the first segment that uses it (`FileRef`, not open yet): that
    /// segment, and the playlist naming it, come later.
    StoreInit(FileRef, bytes::Bytes),
    /// The HLS output's playlist text (EVENT while growing).
    Playlist(usize, String),
    /// An HLS recording is final: store its final playlist ([`ParkedHls::finalize`]);
    /// index and announce it.
    HlsFinished(usize, Box<ParkedHls>),
    /// The output stopped (task end, StopRecordTask, end of push); no more actions.
    OutputEnded(usize),
    /// The output cannot record what the push sends, and why (announced as a recording
    /// exception; the push and the other outputs carry on).
    Refused(usize, Track, String),
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

/// Name of HLS segment `seq` of recording `recording_id`: `.ts`, or `.m4s` when `fmp4`.
pub fn segment_name(recording_id: &str, seq: u32, fmp4: bool) -> String {
    let ext = if fmp4 { "m4s" } else { "ts" };
    format!("{recording_id}_{seq:05}.{ext}")
}

/// Name of the fMP4 initialization section that segment `seq` of recording
/// `recording_id` (and those after it, until the next) refer to.
pub fn init_name(recording_id: &str, seq: u32) -> String {
    format!("{recording_id}_init_{seq:05}.mp4")
}

/// The sequence number of a segment named by [`segment_name`] for `recording_id`.
pub fn segment_seq(recording_id: &str, name: &str) -> Option<u32> {
    let rest = name.strip_prefix(recording_id)?.strip_prefix('_')?;
    let number = rest
        .strip_suffix(".ts")
        .or_else(|| rest.strip_suffix(".m4s"))?;
    number.parse().ok()
}

/// Name of the growing playlist of recording `recording_id`.
pub fn live_playlist_name(recording_id: &str) -> String {
    format!("{recording_id}.m3u8")
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
                VideoConfig::Av1(_) => self.video_codec = Some("av1".into()),
                VideoConfig::Vp9(_) => self.video_codec = Some("vp9".into()),
            },
            FrameEvent::AudioConfig { .. } => self.audio_codec = Some("aac".into()),
            FrameEvent::OpusConfig { .. } => self.audio_codec = Some("opus".into()),
            FrameEvent::EntryConfig { config, .. } => self.audio_codec = Some(config.name().into()),
            FrameEvent::Frame(f) if f.track == Track::Audio && self.audio_codec.is_none() => {
                self.audio_codec = Some("mp3".into())
            }
            _ => {}
        }
    }

    /// Updates from a configuration (FLV outputs and the push itself, which read no
    /// timeline). Cheap when nothing changes: it runs for every frame.
    pub fn observe_config(&mut self, config: &Config) {
        let (codec, dimensions) = match &config.codec {
            CodecConfig::Video(VideoConfig::Avc(c)) => ("h264", c.dimensions),
            CodecConfig::Video(VideoConfig::Hevc(_)) => ("h265", self.dimensions),
            CodecConfig::Video(VideoConfig::Av1(_)) => ("av1", self.dimensions),
            CodecConfig::Video(VideoConfig::Vp9(_)) => ("vp9", self.dimensions),
            CodecConfig::Audio(_) => {
                set(&mut self.audio_codec, "aac");
                return;
            }
            CodecConfig::Opus(_) => {
                set(&mut self.audio_codec, "opus");
                return;
            }
            CodecConfig::Entry(entry) => {
                set(&mut self.audio_codec, entry.name());
                return;
            }
            CodecConfig::Other { .. } => return,
        };
        set(&mut self.video_codec, codec);
        self.dimensions = dimensions;
    }

    /// Updates from a frame: its configuration, or the audio codec when it has none.
    pub fn observe_frame(&mut self, frame: &Frame) {
        if let Some(config) = &frame.config {
            self.observe_config(config);
        } else if frame.track == Track::Audio
            && frame.codec == Codec::Mp3
            && self.audio_codec.is_none()
        {
            self.audio_codec = Some("mp3".into());
        }
    }

    /// `"640x480"`, or "" when unknown.
    pub fn resolution(&self) -> String {
        self.dimensions
            .map(|(w, h)| format!("{w}x{h}"))
            .unwrap_or_default()
    }
}

fn set(slot: &mut Option<String>, value: &str) {
    if slot.as_deref() != Some(value) {
        *slot = Some(value.to_owned());
    }
}
