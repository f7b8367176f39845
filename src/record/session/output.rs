//! One output of a push: its muxer, its open file, and the HLS recording it grows.

use super::types::{file_name, DoneFile, MediaInfo, OutputSpec};
use crate::config::template::Format;
use crate::formats::flv::FrameReader;
use crate::formats::hls::writer::RecordingPlaylist;
use crate::record::aac::AacSegmenter;
use crate::record::flv::{index_reserve, FlvWriter};
use crate::record::mp4::Mp4Segmenter;
use crate::record::ts::TsSegmenter;
use crate::record::wall::Anchor;
use crate::record::Segmenter;

/// HLS segment target duration, ms (cut at the first keyframe after it).
pub const HLS_SEGMENT_MS: i64 = 6_000;

#[derive(Debug)]
pub(super) enum Muxer {
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
    pub(super) playlist: RecordingPlaylist,
    pub(super) next_seq: u32,
    pub(super) start_wall_ms: i64,
    pub(super) end_wall_ms: i64,
    pub(super) duration_ms: i64,
    pub(super) bytes: u64,
    pub(super) frames: u64,
    pub(super) media: MediaInfo,
    pub(super) media_start_ms: Option<i64>,
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
    /// The next HLS segment follows a splice.
    pub(super) resumed: bool,
    pub(super) ended: bool,
}

impl Output {
    pub(super) fn new(spec: OutputSpec, stream_id: &str, parked: Option<ParkedHls>) -> Self {
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
