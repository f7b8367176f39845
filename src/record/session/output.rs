//! One output of a push: its muxer, its open file, and the HLS recording it grows.

use super::types::{file_name, segment_seq, DoneFile, HlsSegments, MediaInfo, OutputSpec};
use crate::config::template::Format;
use crate::formats::flv::clock::DEFAULT_JUMP_THRESHOLD_MS;
use crate::formats::hls::writer::{RecordedSegment, RecordingPlaylist};
use crate::media::Timeline;
use crate::record::aac::AacSegmenter;
use crate::record::flv::{index_reserve, FlvWriter};
use crate::record::fmp4::{AutoSegmenter, Fmp4Segmenter};
use crate::record::mp4::Mp4Segmenter;
use crate::record::ts::TsSegmenter;
use crate::record::wall::Anchor;
use crate::record::Segmenter;

/// HLS segment target duration, ms (cut at the first keyframe after it).
pub const HLS_SEGMENT_MS: i64 = 6_000;
/// First wait before an output that hit a transient storage error starts anew, ms.
pub const RETRY_FIRST_MS: i64 = 1_000;
/// Longest wait between such attempts, ms.
pub const RETRY_MAX_MS: i64 = 30_000;

#[derive(Debug)]
pub(super) enum Muxer {
    Flv(Box<FlvWriter>),
    Segments(Timeline, Box<dyn Segmenter + Send + Sync>),
}

/// What a failed output leaves ([`super::PushSession::fail_output`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// It had ended already: its HLS recording, if any, is in an
    /// [`super::Action::HlsFinished`] or was parked.
    AlreadyEnded,
    /// Not an HLS output.
    NotHls,
    /// An HLS recording without a stored segment: nothing to finalise.
    Empty,
    /// The HLS recording with the segments it stored, to finalise.
    Hls(Box<ParkedHls>),
}

/// The part of an HLS recording that outlives a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedHls {
    /// The output.
    pub spec: OutputSpec,
    /// Stream name (for the final name).
    pub stream_id: String,
    pub(super) playlist: RecordingPlaylist,
    pub(super) next_seq: u32,
    pub(super) start_wall_ms: i64,
    pub(super) end_wall_ms: i64,
    pub(super) duration_ms: i64,
    pub(super) bytes: u64,
    pub(super) frames: u64,
    pub(super) media: MediaInfo,
    pub(super) media_start_ms: Option<i64>,
    /// (bytes, frames) of each segment, in the playlist's order.
    pub(super) sizes: Vec<(u64, u64)>,
}

impl ParkedHls {
    /// An HLS recording of `spec` with no segment yet.
    pub fn new(spec: OutputSpec, stream_id: &str) -> Self {
        Self {
            spec,
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
            sizes: Vec::new(),
        }
    }

    /// An HLS recording of `spec` continued from what another process stored: the
    /// segments of its growing `playlist`, of `sizes` bytes each, recorded from
    /// `start_wall_ms` with `media`. Its next segment's number follows the highest one
    /// the playlist names (`RECORDINGID_NNNNN.ts` or `.m4s`).
    pub fn rebuilt(
        spec: OutputSpec,
        stream_id: &str,
        playlist: RecordingPlaylist,
        sizes: Vec<u64>,
        start_wall_ms: i64,
        media: MediaInfo,
    ) -> Self {
        let next_seq = playlist
            .segments()
            .iter()
            .filter_map(|s| segment_seq(&spec.recording_id, &s.uri))
            .max()
            .map_or(0, |n| n.saturating_add(1));
        let duration_ms = playlist
            .segments()
            .iter()
            .map(|s| s.duration.as_millis())
            .sum();
        let end_wall_ms = playlist.segments().last().map_or(start_wall_ms, |last| {
            last.program_date_time_ms.unwrap_or(start_wall_ms) + last.duration.as_millis()
        });
        Self {
            stream_id: stream_id.to_owned(),
            next_seq,
            start_wall_ms,
            end_wall_ms: end_wall_ms.max(start_wall_ms + duration_ms),
            duration_ms,
            bytes: sizes.iter().sum(),
            frames: 0,
            media,
            // Not `None`: the next segment must not restart the recording's clock.
            media_start_ms: Some(0),
            sizes: sizes.into_iter().map(|b| (b, 0)).collect(),
            playlist,
            spec,
        }
    }

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

    /// Wall time of the recording's first frame, Unix ms.
    pub fn start_wall_ms(&self) -> i64 {
        self.start_wall_ms
    }

    /// Codecs and picture size of its last segment.
    pub fn media(&self) -> &MediaInfo {
        &self.media
    }

    /// The storage keys' names of its segments, in order.
    pub fn segment_names(&self) -> impl Iterator<Item = &str> {
        self.playlist.segments().iter().map(|s| s.uri.as_str())
    }

    /// The storage keys' names of its initialization sections (fMP4), in order.
    pub fn init_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for map in self
            .playlist
            .segments()
            .iter()
            .filter_map(|s| s.map.as_deref())
        {
            if names.last() != Some(&map) {
                names.push(map);
            }
        }
        names
    }

    /// Whether its last segment is fragmented MP4 (a playlist cannot go back to MPEG-TS).
    pub fn is_fmp4(&self) -> bool {
        self.playlist
            .segments()
            .last()
            .is_some_and(|s| s.map.is_some())
    }

    /// Adds segment `seq`, described by `done`.
    pub(super) fn add(&mut self, segment: RecordedSegment, done: &DoneFile, seq: u32) {
        self.playlist.push(segment);
        if self.media_start_ms.is_none() {
            self.media_start_ms = Some(done.media_start_ms);
            self.start_wall_ms = done.start_wall_ms;
        }
        self.end_wall_ms = done.end_wall_ms;
        self.duration_ms += done.duration_ms;
        self.bytes += done.bytes;
        self.frames += done.frames;
        self.media = done.media.clone();
        self.next_seq = seq + 1;
        self.sizes.push((done.bytes, done.frames));
    }

    /// Forgets segment `name` and every one after it (they could not be stored).
    pub fn drop_from(&mut self, name: &str) {
        if !self.segment_names().any(|n| n == name) {
            return;
        }
        while let Some(segment) = self.playlist.pop() {
            let (bytes, frames) = self.sizes.pop().unwrap_or((0, 0));
            self.duration_ms -= segment.duration.as_millis();
            self.bytes = self.bytes.saturating_sub(bytes);
            self.frames = self.frames.saturating_sub(frames);
            if segment.uri == name {
                break;
            }
        }
        if let Some(last) = self.playlist.segments().last() {
            let start = last.program_date_time_ms.unwrap_or(self.start_wall_ms);
            self.end_wall_ms = start + last.duration.as_millis();
        }
    }
}

#[derive(Debug)]
pub(super) struct Output {
    pub(super) spec: OutputSpec,
    pub(super) muxer: Muxer,
    pub(super) media: MediaInfo,
    /// Segmenter index → sequence number offset.
    pub(super) seq_base: u32,
    pub(super) open: Option<u32>,
    /// The wall-clock anchor in effect when the open file opened.
    pub(super) anchor: Option<Anchor>,
    pub(super) hls: Option<ParkedHls>,
    /// The initialization section of its fMP4 HLS segments in effect.
    pub(super) map: Option<String>,
    /// The next HLS segment follows a splice.
    pub(super) resumed: bool,
    pub(super) ended: bool,
    /// Storage failed under it: it starts anew at this wall time, Unix ms.
    pub(super) retry_at: Option<i64>,
    /// Storage failures in a row (the back-off grows with them).
    pub(super) failures: u32,
    /// When storage last failed under it, Unix ms.
    pub(super) last_failure_ms: Option<i64>,
    /// Times it started anew (new recording ids count them).
    pub(super) restarts: u32,
    /// The recording id it was given (new HLS recordings after a failure derive theirs).
    pub(super) first_recording_id: String,
}

impl Output {
    /// An output of `spec` (continuing `parked`), reading frames on a timeline of its
    /// own.
    pub(super) fn new(spec: OutputSpec, stream_id: &str, parked: Option<ParkedHls>) -> Self {
        let reader = || Timeline::new(DEFAULT_JUMP_THRESHOLD_MS);
        let muxer = match spec.format {
            Format::Flv => {
                let reserve = index_reserve(spec.interval_ms);
                // Track flags start false: a track counts from its first tag (audio-only
                // pushes open their first file at the first audio frame).
                let writer = FlvWriter::new(spec.interval_ms, reserve, false, false);
                Muxer::Flv(Box::new(writer))
            }
            Format::Hls => {
                let fmp4 = parked.as_ref().is_some_and(ParkedHls::is_fmp4);
                Muxer::Segments(reader(), hls_segmenter(spec.hls_segments, fmp4))
            }
            Format::Mp4 => Muxer::Segments(reader(), Box::new(Mp4Segmenter::new(spec.interval_ms))),
            Format::Aac => Muxer::Segments(reader(), Box::new(AacSegmenter::new(spec.interval_ms))),
        };
        let resumed = parked.is_some();
        let hls = (spec.format == Format::Hls)
            .then(|| parked.unwrap_or_else(|| ParkedHls::new(spec.clone(), stream_id)));
        Self {
            seq_base: hls.as_ref().map_or(0, |h| h.next_seq),
            first_recording_id: spec.recording_id.clone(),
            spec,
            muxer,
            media: MediaInfo::default(),
            open: None,
            anchor: None,
            hls,
            map: None,
            resumed,
            ended: false,
            retry_at: None,
            failures: 0,
            last_failure_ms: None,
            restarts: 0,
        }
    }

    /// After a transient storage failure at `now`: a fresh muxer (the old one's open file
    /// is gone), under a new recording id, idle until the back-off passes. The back-off
    /// starts over when the last failure is long past.
    pub(super) fn restart(&mut self, stream_id: &str, now: i64) {
        let restarts = self.restarts + 1;
        let recent = self
            .last_failure_ms
            .is_some_and(|t| now - t <= 2 * RETRY_MAX_MS);
        let failures = if recent { self.failures + 1 } else { 1 };
        let first = std::mem::take(&mut self.first_recording_id);
        let mut spec = self.spec.clone();
        spec.recording_id = format!("{first}r{restarts}");
        *self = Output::new(spec, stream_id, None);
        self.first_recording_id = first;
        self.restarts = restarts;
        self.failures = failures;
        self.last_failure_ms = Some(now);
        let wait = RETRY_FIRST_MS.saturating_mul(1 << (failures - 1).min(5));
        self.retry_at = Some(now.saturating_add(wait.min(RETRY_MAX_MS)));
    }
}

/// The segmenter of an HLS output: by the configured container; fMP4 whatever the
/// configuration when it continues an fMP4 recording (`continues_fmp4`).
fn hls_segmenter(kind: HlsSegments, continues_fmp4: bool) -> Box<dyn Segmenter + Send + Sync> {
    let target = Some(HLS_SEGMENT_MS);
    match kind {
        _ if continues_fmp4 => Box::new(Fmp4Segmenter::new(target)),
        HlsSegments::Fmp4 => Box::new(Fmp4Segmenter::new(target)),
        HlsSegments::Ts => Box::new(TsSegmenter::new(target)),
        HlsSegments::Auto => Box::new(AutoSegmenter::new(target)),
    }
}
