//! From FLV tags to media frames: codec configurations tracked, timestamps unwrapped.
//!
//! - Timestamps are unwrapped and jumps found by the shared [`StreamClock`]: a DTS
//!   change larger than the jump threshold ([`DEFAULT_JUMP_THRESHOLD_MS`], configurable)
//!   in either direction is reported as a [`FrameEvent::Discontinuity`] before the frame.
//! - PTS = DTS + composition time (signed, may be negative).
//! - Sequence headers become [`FrameEvent::VideoConfig`] / [`FrameEvent::AudioConfig`],
//!   flagged `changed` when they differ from the one in effect.
//! - Unknown tags and codecs become [`FrameEvent::Skipped`] with the byte offset.

use bytes::Bytes;

use super::amf0::{decode_all, Amf0};
use super::audio::{parse_audio_tag, AudioCodec, AudioPacketKind};
use super::demux::{FlvTag, TagKind};
use super::video::{parse_video_tag, VideoCodec, VideoPacketKind};
use crate::formats::codec::aac::{parse_audio_specific_config, AacConfig};
use crate::formats::codec::avc::{parse_avc_config, AvcConfig};
use crate::formats::codec::hevc::{parse_hevc_config, HevcConfig};

use super::clock::StreamClock;
pub use super::clock::DEFAULT_JUMP_THRESHOLD_MS;

/// Which track a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Track {
    /// Video.
    Video,
    /// Audio.
    Audio,
}

/// A video decoder configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoConfig {
    /// H.264.
    Avc(AvcConfig),
    /// H.265.
    Hevc(HevcConfig),
}

impl VideoConfig {
    /// Bytes in each NAL length prefix.
    pub fn nal_length_size(&self) -> u8 {
        match self {
            VideoConfig::Avc(c) => c.nal_length_size,
            VideoConfig::Hevc(c) => c.nal_length_size,
        }
    }
}

/// One coded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFrame {
    /// Track.
    pub track: Track,
    /// Decode time, unwrapped ms.
    pub dts_ms: i64,
    /// Presentation time, ms.
    pub pts_ms: i64,
    /// A random-access point (video keyframe; every audio frame).
    pub keyframe: bool,
    /// Codec payload: length-prefixed NAL units (video) or one raw AAC / MP3 frame — a
    /// shared view of the tag's bytes, not a copy.
    pub data: Bytes,
    /// Offset of the FLV tag it came from.
    pub offset: u64,
}

/// What the reader found in one tag.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameEvent {
    /// Script data (`onMetaData` and others), decoded.
    Metadata(Vec<Amf0>),
    /// A video sequence header.
    VideoConfig {
        /// The configuration.
        config: VideoConfig,
        /// It differs from the previous one.
        changed: bool,
    },
    /// An AAC sequence header.
    AudioConfig {
        /// The configuration.
        config: AacConfig,
        /// It differs from the previous one.
        changed: bool,
    },
    /// A frame.
    Frame(MediaFrame),
    /// A timestamp jump beyond the threshold.
    Discontinuity {
        /// Track.
        track: Track,
        /// Previous DTS.
        from_ms: i64,
        /// New DTS.
        to_ms: i64,
    },
    /// Something skipped, and why.
    Skipped {
        /// Tag offset.
        offset: u64,
        /// Reason.
        reason: String,
    },
}

/// Tags in, events out; see the module doc.
#[derive(Debug)]
pub struct FrameReader {
    clock: StreamClock,
    video: Option<VideoConfig>,
    audio: Option<AacConfig>,
    audio_mp3: bool,
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
            clock: StreamClock::new(jump_threshold_ms),
            video: None,
            audio: None,
            audio_mp3: false,
        }
    }

    /// A reader whose clock goes on from `clock` (a reader joining a stream midway).
    pub fn with_clock(clock: StreamClock) -> Self {
        Self {
            clock,
            ..Self::default()
        }
    }

    /// The video configuration in effect.
    pub fn video_config(&self) -> Option<&VideoConfig> {
        self.video.as_ref()
    }

    /// The AAC configuration in effect.
    pub fn audio_config(&self) -> Option<&AacConfig> {
        self.audio.as_ref()
    }

    /// Whether the audio track is MP3.
    pub fn audio_is_mp3(&self) -> bool {
        self.audio_mp3
    }

    /// Reads one tag.
    pub fn push_tag(&mut self, tag: &FlvTag) -> Vec<FrameEvent> {
        let dts = self.clock.unwrap(tag.timestamp_ms);
        match tag.kind {
            TagKind::Video => self.video_tag(tag, dts),
            TagKind::Audio => self.audio_tag(tag, dts),
            TagKind::Script => match decode_all(&tag.data) {
                Ok(values) => vec![FrameEvent::Metadata(values)],
                Err(e) => vec![skipped(tag, format!("script data: {e}"))],
            },
            TagKind::Other(t) => vec![skipped(tag, format!("unknown tag type {t}"))],
        }
    }

    fn jump(&mut self, track: Track, dts: i64) -> Option<FrameEvent> {
        let jump = self.clock.frame(track, dts)?;
        Some(FrameEvent::Discontinuity {
            track,
            from_ms: jump.from_ms,
            to_ms: jump.to_ms,
        })
    }

    fn video_tag(&mut self, tag: &FlvTag, dts: i64) -> Vec<FrameEvent> {
        let Some(header) = parse_video_tag(&tag.data) else {
            return vec![skipped(tag, "video tag too short".into())];
        };
        let payload = tag.data.get(header.payload_start..).unwrap_or_default();
        match (header.codec, header.kind) {
            (VideoCodec::Other(c), _) => vec![skipped(
                tag,
                format!("unsupported video codec {}", codec_name(c)),
            )],
            (codec, VideoPacketKind::SequenceHeader) => {
                let config = match codec {
                    VideoCodec::Avc => parse_avc_config(payload).map(VideoConfig::Avc),
                    _ => parse_hevc_config(payload).map(VideoConfig::Hevc),
                };
                match config {
                    Some(config) => {
                        let changed = self.video.as_ref().is_some_and(|c| *c != config);
                        self.video = Some(config.clone());
                        vec![FrameEvent::VideoConfig { config, changed }]
                    }
                    None => vec![skipped(tag, "malformed video decoder configuration".into())],
                }
            }
            (_, VideoPacketKind::Frames) if payload.is_empty() => {
                vec![skipped(tag, "empty video frame".into())]
            }
            (_, VideoPacketKind::Frames) => {
                let mut events: Vec<FrameEvent> =
                    self.jump(Track::Video, dts).into_iter().collect();
                events.push(FrameEvent::Frame(MediaFrame {
                    track: Track::Video,
                    dts_ms: dts,
                    pts_ms: dts + i64::from(header.composition_time_ms),
                    keyframe: header.keyframe,
                    data: tail(&tag.data, header.payload_start),
                    offset: tag.offset,
                }));
                events
            }
            _ => Vec::new(),
        }
    }

    fn audio_tag(&mut self, tag: &FlvTag, dts: i64) -> Vec<FrameEvent> {
        let Some(header) = parse_audio_tag(&tag.data) else {
            return vec![skipped(tag, "audio tag too short".into())];
        };
        let payload = tag.data.get(header.payload_start..).unwrap_or_default();
        match (header.codec, header.kind) {
            (AudioCodec::Other(c), _) => vec![skipped(
                tag,
                format!("unsupported audio codec {}", codec_name(c)),
            )],
            (AudioCodec::Aac, AudioPacketKind::SequenceHeader) => {
                match parse_audio_specific_config(payload) {
                    Some(config) => {
                        let changed = self.audio.as_ref().is_some_and(|c| *c != config);
                        self.audio = Some(config.clone());
                        vec![FrameEvent::AudioConfig { config, changed }]
                    }
                    None => vec![skipped(tag, "malformed AudioSpecificConfig".into())],
                }
            }
            (codec, AudioPacketKind::Frame) if !payload.is_empty() => {
                self.audio_mp3 = codec == AudioCodec::Mp3;
                let mut events: Vec<FrameEvent> =
                    self.jump(Track::Audio, dts).into_iter().collect();
                events.push(FrameEvent::Frame(MediaFrame {
                    track: Track::Audio,
                    dts_ms: dts,
                    pts_ms: dts,
                    keyframe: true,
                    data: tail(&tag.data, header.payload_start),
                    offset: tag.offset,
                }));
                events
            }
            _ => Vec::new(),
        }
    }
}

fn skipped(tag: &FlvTag, reason: String) -> FrameEvent {
    FrameEvent::Skipped {
        offset: tag.offset,
        reason,
    }
}

fn codec_name(code: u32) -> String {
    let bytes = code.to_be_bytes();
    if bytes.iter().all(u8::is_ascii_graphic) {
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        format!("id {code}")
    }
}

/// `data` from `from` on (empty past its end), sharing its bytes.
fn tail(data: &Bytes, from: usize) -> Bytes {
    if from <= data.len() {
        data.slice(from..)
    } else {
        Bytes::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
