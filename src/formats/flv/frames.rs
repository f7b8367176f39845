//! From FLV tags to what a recorder reads: [`FrameReader`] is the FLV input adapter
//! ([`FlvIngest`]: timestamps unwrapped, codec configurations tracked) and one
//! consumer's [`Timeline`] (configurations announced, jumps found) in one — for offline
//! tools that read an FLV file straight into a recorder. A live push keeps the two
//! apart: one adapter per push, one timeline per output.
//!
//! - Timestamps are unwrapped and jumps found by the shared rule: a DTS change larger
//!   than the jump threshold ([`DEFAULT_JUMP_THRESHOLD_MS`], configurable) in either
//!   direction is reported as a [`FrameEvent::Discontinuity`] before the frame.
//! - PTS = DTS + composition time (signed, may be negative).
//! - Sequence headers become [`FrameEvent::VideoConfig`] / [`FrameEvent::AudioConfig`],
//!   flagged `changed` when they differ from the one in effect.
//! - Unknown tags and codecs become [`FrameEvent::Skipped`] with the byte offset.

use super::clock::StreamClock;
use super::demux::FlvTag;
use super::ingest::FlvIngest;
use crate::formats::codec::aac::AacConfig;
use crate::media::Input;
use crate::media::Timeline;

pub use super::clock::DEFAULT_JUMP_THRESHOLD_MS;
pub use crate::media::{FrameEvent, MediaFrame, Track, VideoConfig};

/// Tags in, events out; see the module doc.
#[derive(Debug)]
pub struct FrameReader {
    ingest: FlvIngest,
    timeline: Timeline,
}

impl Default for FrameReader {
    fn default() -> Self {
        Self::new(DEFAULT_JUMP_THRESHOLD_MS)
    }
}

impl FrameReader {
    /// A reader with a jump threshold in ms.
    pub fn new(jump_threshold_ms: i64) -> Self {
        Self {
            ingest: FlvIngest::default(),
            timeline: Timeline::new(jump_threshold_ms),
        }
    }

    /// A reader whose clock goes on from `clock` (a reader joining a stream midway).
    pub fn with_clock(clock: StreamClock) -> Self {
        Self {
            timeline: Timeline::new(clock.jump_threshold_ms()),
            ingest: FlvIngest::resume(clock, &[]),
        }
    }

    /// The video configuration in effect.
    pub fn video_config(&self) -> Option<&VideoConfig> {
        self.timeline.video_config()
    }

    /// The AAC configuration in effect.
    pub fn audio_config(&self) -> Option<&AacConfig> {
        self.timeline.audio_config()
    }

    /// Whether the audio track is MP3.
    pub fn audio_is_mp3(&self) -> bool {
        self.timeline.audio_is_mp3()
    }

    /// Reads one tag.
    pub fn push_tag(&mut self, tag: &FlvTag) -> Vec<FrameEvent> {
        let mut events = Vec::new();
        match self.ingest.push_tag(tag) {
            // Tracks beyond the default ones: not part of this view.
            Input::Frame(frame) if frame.track_id != 0 => {}
            Input::Frame(frame) => self.timeline.push(&frame, &mut events),
            Input::Config(config) => self.timeline.config(&config, &mut events),
            Input::Nothing => {}
            Input::Skipped(reason) => events.push(FrameEvent::Skipped { offset: 0, reason }),
        }
        for event in &mut events {
            match event {
                FrameEvent::Frame(f) => f.offset = tag.offset,
                FrameEvent::Skipped { offset, .. } => *offset = tag.offset,
                _ => {}
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::flv::demux::TagKind;

    fn tag(kind: TagKind, ts: u32, data: &[u8]) -> FlvTag {
        FlvTag {
            offset: 0,
            kind,
            timestamp_ms: ts,
            data: bytes::Bytes::copy_from_slice(data),
        }
    }

    #[test]
    fn clock_wraps_and_jumps() {
        let mut r = FrameReader::default();
        let frame = |r: &mut FrameReader, ts: u32| {
            r.push_tag(&tag(TagKind::Audio, ts, &[0x2F, 0xFF, 0xFB]))
        };
        let dts = |events: &[FrameEvent]| {
            events.iter().find_map(|e| match e {
                FrameEvent::Frame(f) => Some(f.dts_ms),
                _ => None,
            })
        };
        assert_eq!(
            dts(&frame(&mut r, u32::MAX - 10)),
            Some(i64::from(u32::MAX) - 10)
        );
        assert_eq!(dts(&frame(&mut r, 5)), Some((1i64 << 32) + 5), "wrapped");
        let events = frame(&mut r, 40_000);
        assert!(
            matches!(
                events.first(),
                Some(FrameEvent::Discontinuity {
                    track: Track::Audio,
                    ..
                })
            ),
            "{events:?}"
        );
        let events = frame(&mut r, 39_990);
        assert_eq!(events.len(), 1, "small step back tolerated");
    }

    #[test]
    fn configs_frames_and_skips() {
        let mut r = FrameReader::default();
        let events = r.push_tag(&tag(TagKind::Audio, 0, &[0xAF, 0, 0x11, 0x90]));
        assert!(matches!(
            &events[..],
            [FrameEvent::AudioConfig { changed: false, .. }]
        ));
        let events = r.push_tag(&tag(TagKind::Audio, 0, &[0xAF, 0, 0x12, 0x10]));
        assert!(matches!(
            &events[..],
            [FrameEvent::AudioConfig { changed: true, .. }]
        ));
        let events = r.push_tag(&tag(
            TagKind::Video,
            40,
            &[0x17, 1, 0, 0, 80, 0, 0, 0, 1, 0x65],
        ));
        match &events[..] {
            [FrameEvent::Frame(f)] => assert_eq!(
                (f.dts_ms, f.pts_ms, f.keyframe, f.data.len()),
                (40, 120, true, 5)
            ),
            other => panic!("{other:?}"),
        }
        let events = r.push_tag(&tag(TagKind::Video, 0, &[0x13, 0]));
        assert!(matches!(&events[..], [FrameEvent::Skipped { .. }]));
        let events = r.push_tag(&tag(TagKind::Other(15), 0, &[]));
        assert!(matches!(&events[..], [FrameEvent::Skipped { .. }]));
        let events = r.push_tag(&tag(TagKind::Video, 0, &[0x17, 0, 0, 0, 0, 9]));
        assert!(
            matches!(&events[..], [FrameEvent::Skipped { .. }]),
            "malformed AVCC"
        );
    }
}
