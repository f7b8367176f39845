//! The media model: what every ingest protocol hands a push, and what every consumer of
//! a live stream (the recorder today; mixing and live playback later) reads — pure.
//!
//! A protocol adapter (RTMP/FLV: [`crate::formats::flv::ingest::FlvIngest`]; SRT and
//! others next) turns what it receives into [`Frame`]s: the codec, unwrapped decode and
//! presentation times, the keyframe flag, the codec payload and the codec configuration
//! in effect. Nothing downstream knows which protocol a frame came by. A frame may carry
//! the FLV tag body it arrived in ([`Frame::flv`]) so that FLV outputs write RTMP media
//! byte for byte; frames from other protocols leave it empty and FLV outputs build the
//! tag from the fields ([`crate::formats::flv::mux`]).
//!
//! Each consumer reads the frames on its own [`Timeline`]: the configuration changes it
//! has not seen yet and the timestamp jumps on its tracks become [`FrameEvent`]s before
//! the frame — so a consumer that joins midway (an output added by a task, or started
//! anew after a storage error) gets the configuration with its first frame.

pub mod interleave;
pub mod spool;
mod timeline;

pub use timeline::{codec_name, Jump, Jumps, Timeline};

use std::sync::Arc;

use bytes::Bytes;

use crate::formats::codec::aac::AacConfig;
use crate::formats::codec::av1::RecordConfig;
use crate::formats::codec::avc::AvcConfig;
pub use crate::formats::codec::entry::AudioEntry;
use crate::formats::codec::hevc::HevcConfig;
use crate::formats::codec::opus::OpusConfig;

/// Which track a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Track {
    /// Video.
    Video,
    /// Audio.
    Audio,
}

/// A codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// H.264 / AVC.
    H264,
    /// H.265 / HEVC.
    H265,
    /// AV1 (Enhanced RTMP `av01`).
    Av1,
    /// VP9 (Enhanced RTMP `vp09`).
    Vp9,
    /// AAC.
    Aac,
    /// MP3.
    Mp3,
    /// Opus (Enhanced RTMP `Opus`).
    Opus,
    /// AC-3 (Enhanced RTMP `ac-3`).
    Ac3,
    /// E-AC-3 (Enhanced RTMP `ec-3`).
    Eac3,
    /// FLAC (Enhanced RTMP `fLaC`).
    Flac,
    /// Anything else, as the protocol names it (an FLV codec id or FourCC): recorded by
    /// outputs that can carry it as received (FLV from RTMP), skipped by the others.
    Other(u32),
}

/// A video decoder configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoConfig {
    /// H.264.
    Avc(AvcConfig),
    /// H.265.
    Hevc(HevcConfig),
    /// AV1: the `av1C` record.
    Av1(RecordConfig),
    /// VP9: the `vpcC` record.
    Vp9(RecordConfig),
}

impl VideoConfig {
    /// Bytes in each NAL length prefix (0: not a NAL-unit codec).
    pub fn nal_length_size(&self) -> u8 {
        match self {
            VideoConfig::Avc(c) => c.nal_length_size,
            VideoConfig::Hevc(c) => c.nal_length_size,
            VideoConfig::Av1(_) | VideoConfig::Vp9(_) => 0,
        }
    }

    /// Whether frames are NAL units (H.264, H.265): what MPEG-TS carries.
    pub fn is_nal(&self) -> bool {
        matches!(self, VideoConfig::Avc(_) | VideoConfig::Hevc(_))
    }

    /// The decoder configuration record as carried in-band (`avcC` / `hvcC` / `av1C` /
    /// `vpcC`).
    pub fn raw(&self) -> &[u8] {
        match self {
            VideoConfig::Avc(c) => &c.raw,
            VideoConfig::Hevc(c) => &c.raw,
            VideoConfig::Av1(c) | VideoConfig::Vp9(c) => &c.raw,
        }
    }
}

/// The codec configuration of one track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecConfig {
    /// A video decoder configuration.
    Video(VideoConfig),
    /// An AAC AudioSpecificConfig.
    Audio(AacConfig),
    /// An Opus identification header.
    Opus(OpusConfig),
    /// AC-3, E-AC-3 or FLAC: what an MP4 sample entry needs, read from the stream.
    Entry(AudioEntry),
    /// The configuration of a codec liverec does not read, as received (FLV outputs
    /// write it; the other recorders skip the codec).
    Other {
        /// Its track.
        track: Track,
        /// The codec, as the protocol names it.
        codec: u32,
        /// The configuration bytes.
        record: Bytes,
    },
}

impl CodecConfig {
    /// The track it configures.
    pub fn track(&self) -> Track {
        match self {
            CodecConfig::Video(_) => Track::Video,
            CodecConfig::Audio(_) | CodecConfig::Opus(_) | CodecConfig::Entry(_) => Track::Audio,
            CodecConfig::Other { track, .. } => *track,
        }
    }
}

/// A codec configuration as a push received it: shared by every frame it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The configuration.
    pub codec: CodecConfig,
    /// The FLV tag body (sequence header) it arrived in, when it came by RTMP/FLV.
    pub flv: Option<Bytes>,
}

/// One coded frame of a push, whatever protocol brought it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Track.
    pub track: Track,
    /// Which track of its kind: 0 for the push's first (default) one; an Enhanced RTMP
    /// multitrack push's `TrackId` for the others (only MP4 records those).
    pub track_id: u8,
    /// Codec.
    pub codec: Codec,
    /// Decode time, ms, unwrapped by the adapter (never wraps).
    pub dts_ms: i64,
    /// Presentation time, ms.
    pub pts_ms: i64,
    /// A random-access point (video keyframe; every audio frame).
    pub keyframe: bool,
    /// Codec payload: length-prefixed NAL units (H.264/H.265), one raw AAC or MP3 frame,
    /// or for [`Codec::Other`] what follows the protocol's codec header.
    pub payload: Bytes,
    /// The configuration of this track in effect (`None` for MP3, other codecs, and
    /// frames before any configuration).
    pub config: Option<Arc<Config>>,
    /// The FLV tag body it arrived in (RTMP and FLV input), for FLV outputs.
    pub flv: Option<Bytes>,
}

impl Frame {
    /// Whether a recorder other than FLV can write it (a known codec whose
    /// configuration, if it needs one, is known).
    pub fn decodable(&self) -> bool {
        match self.codec {
            Codec::H264 | Codec::H265 | Codec::Av1 | Codec::Vp9 | Codec::Aac | Codec::Opus => {
                self.config.is_some()
            }
            Codec::Ac3 | Codec::Eac3 | Codec::Flac => self.config.is_some(),
            Codec::Mp3 => true,
            Codec::Other(_) => false,
        }
    }
}

/// What an input adapter makes of one unit it received.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A coded frame.
    Frame(Frame),
    /// A codec configuration now in effect, announced on its own (it also rides with
    /// the frames that follow).
    Config(Arc<Config>),
    /// Nothing a recorder uses (metadata, end of sequence).
    Nothing,
    /// Unreadable, and why.
    Skipped(String),
}

/// One coded frame as a consumer reads it on its [`Timeline`].
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
    /// shared view of the received bytes, not a copy.
    pub data: Bytes,
    /// Offset of the input unit it came from (an FLV tag's file offset), 0 if none.
    pub offset: u64,
}

/// What a consumer's [`Timeline`] makes of the frames, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameEvent {
    /// A video configuration takes effect.
    VideoConfig {
        /// The configuration.
        config: VideoConfig,
        /// It replaces a different one.
        changed: bool,
    },
    /// An AAC configuration takes effect.
    AudioConfig {
        /// The configuration.
        config: AacConfig,
        /// It replaces a different one.
        changed: bool,
    },
    /// An Opus configuration takes effect.
    OpusConfig {
        /// The configuration.
        config: OpusConfig,
        /// It replaces a different one.
        changed: bool,
    },
    /// An AC-3, E-AC-3, FLAC (or, read by an MP4 recorder, MP3) configuration takes
    /// effect.
    EntryConfig {
        /// The configuration.
        config: AudioEntry,
        /// It replaces a different one.
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
        /// Input offset.
        offset: u64,
        /// Reason.
        reason: String,
    },
}
