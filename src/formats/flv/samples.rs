//! The samples of an FLV recording as [`SampleRef`]s on a wall clock, found by walking
//! its tags: each sample's bytes are the tail of its tag body (after the FLV codec
//! header), so a stitched MP4 ([`crate::formats::mp4::stitch`]) copies them from the
//! file as they are. A configuration change inside the file ends the piece there (the
//! range is cut at it).

use super::demux::FlvTag;
use super::frames::{FrameEvent, FrameReader, Track};
use crate::formats::mp4::stitch::{Piece, SampleRef};
use crate::formats::mp4::Mp4Tracks;

/// Bytes of an FLV tag header before its body.
const TAG_HEADER: u64 = 11;

/// Tags in, samples out.
#[derive(Debug)]
pub struct FlvSamples {
    reader: FrameReader,
    source: u32,
    wall_start_ms: i64,
    first_dts: Option<i64>,
    piece: Piece,
    /// The configurations the samples use.
    tracks: Mp4Tracks,
    /// Wall time where a configuration changed (nothing after it is taken).
    changed_at: Option<i64>,
}

impl FlvSamples {
    /// Samples of source file `source` whose first frame is at `wall_start_ms`.
    pub fn new(source: u32, wall_start_ms: i64) -> Self {
        Self {
            reader: FrameReader::default(),
            source,
            wall_start_ms,
            first_dts: None,
            piece: Piece::default(),
            tracks: Mp4Tracks::default(),
            changed_at: None,
        }
    }

    /// Reads one tag.
    pub fn push_tag(&mut self, tag: &FlvTag) {
        if self.changed_at.is_some() {
            return;
        }
        for event in self.reader.push_tag(tag) {
            match event {
                FrameEvent::VideoConfig { changed: true, .. }
                | FrameEvent::AudioConfig { changed: true, .. } => {
                    let last = self.piece.video.last().or(self.piece.audio.last());
                    self.changed_at = Some(last.map_or(self.wall_start_ms, |s| s.dts_ms + 1));
                    return;
                }
                FrameEvent::VideoConfig { config, .. } => self.tracks.video = Some(config),
                FrameEvent::AudioConfig { config, .. } => self.tracks.audio = Some(config),
                FrameEvent::Frame(frame) => {
                    let readable = match frame.track {
                        Track::Video => self.tracks.video.is_some(),
                        Track::Audio => self.tracks.audio.is_some() && !self.reader.audio_is_mp3(),
                    };
                    let header = (tag.data.len() as u64).checked_sub(frame.data.len() as u64);
                    let (true, Some(header)) = (readable, header) else {
                        continue;
                    };
                    let first = *self.first_dts.get_or_insert(frame.dts_ms);
                    let sample = SampleRef {
                        dts_ms: self.wall_start_ms + frame.dts_ms - first,
                        cts_ms: i32::try_from(frame.pts_ms - frame.dts_ms).unwrap_or(0),
                        size: u32::try_from(frame.data.len()).unwrap_or(u32::MAX),
                        sync: frame.keyframe,
                        source: self.source,
                        offset: tag.offset + TAG_HEADER + header,
                    };
                    match frame.track {
                        Track::Video => self.piece.video.push(sample),
                        Track::Audio => self.piece.audio.push(sample),
                    }
                }
                _ => {}
            }
        }
    }

    /// The tracks, the samples, and where a configuration change cut them (wall ms).
    pub fn finish(self) -> (Mp4Tracks, Piece, Option<i64>) {
        (self.tracks, self.piece, self.changed_at)
    }
}
