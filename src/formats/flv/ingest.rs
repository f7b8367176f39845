//! The FLV input adapter: FLV tags (from RTMP or an FLV file) in, protocol-neutral
//! [`Frame`]s out — the one place that reads FLV's codec headers for a push.
//!
//! - Timestamps: 32-bit milliseconds unwrapped by [`StreamClock`] (a step back of more
//!   than half the range is a wrap); PTS = DTS + the signed composition time.
//! - Sequence headers become the [`Config`] in effect for their track (an identical one
//!   sent again keeps the same `Arc`, so consumers see no change); every frame carries
//!   the configuration of its track.
//! - Codecs liverec does not read (a legacy codec id, or an Enhanced RTMP FourCC such
//!   as `av01`) still become frames of [`Codec::Other`] with their tag body, so FLV
//!   outputs record them as received; the other recorders skip them.
//! - Enhanced RTMP v2 multitrack: tracks other than the default one (id 0) become
//!   frames with their `TrackId` ([`Frame::track_id`]) and their own configuration,
//!   which is kept here rather than announced (only MP4 outputs record those tracks).
//! - Script data and end-of-sequence packets are dropped; short or malformed tags are
//!   reported as [`Input::Skipped`].

use std::sync::Arc;

use bytes::Bytes;

use super::audio::{other_audio_tracks, parse_audio_tag, AudioCodec, AudioPacketKind, AudioTag};
use super::clock::StreamClock;
use super::demux::{FlvTag, TagKind};
use super::video::{other_video_tracks, parse_video_tag, VideoCodec, VideoPacketKind, VideoTag};
use crate::formats::codec::aac::parse_audio_specific_config;
use crate::formats::codec::av1::{parse_av1_config, parse_vp9_config};
use crate::formats::codec::avc::parse_avc_config;
use crate::formats::codec::entry::{parse_ac3_frame, parse_flac_streaminfo};
use crate::formats::codec::hevc::parse_hevc_config;
use crate::formats::codec::opus::parse_opus_head;
use crate::formats::mp4::MAX_EXTRA_TRACKS;
use crate::media::{Codec, CodecConfig, Config, Frame, Input, Track, VideoConfig};

/// See the module doc.
#[derive(Debug, Clone, Default)]
pub struct FlvIngest {
    clock: StreamClock,
    video: Option<Arc<Config>>,
    audio: Option<Arc<Config>>,
    /// The configurations of the other multitrack tracks, by kind and `TrackId`.
    extra: Vec<(Track, u8, Arc<Config>)>,
    /// An AC-3 / E-AC-3 SequenceStart tag, for the configuration its first frame makes.
    pending_header: Option<Bytes>,
    /// What the other tracks of a multitrack packet made ([`FlvIngest::take_more`]).
    more: std::collections::VecDeque<Input>,
}

/// Inputs from multitrack packets kept for [`FlvIngest::take_more`] at most (a caller
/// that never takes them — a reader of the default tracks — loses the newer ones).
const MAX_QUEUED_INPUTS: usize = 64;

impl FlvIngest {
    /// An adapter going on from `clock`'s position (its wrap epoch), with `configs` in
    /// effect: for reading back part of a stream already received.
    pub fn resume(clock: StreamClock, configs: &[Arc<Config>]) -> Self {
        let mut ingest = Self {
            clock,
            ..Self::default()
        };
        for config in configs {
            ingest.set(Arc::clone(config));
        }
        ingest
    }

    /// The clock, for a reader joining midway ([`StreamClock::continuation`]).
    pub fn clock(&self) -> StreamClock {
        self.clock.continuation()
    }

    /// The configurations in effect (video first).
    pub fn configs(&self) -> Vec<Arc<Config>> {
        [&self.video, &self.audio]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// Reads one tag.
    pub fn push_tag(&mut self, tag: &FlvTag) -> Input {
        match tag.kind {
            TagKind::Video => {
                let dts = self.clock.unwrap(tag.timestamp_ms);
                self.video_tag(&tag.data, dts)
            }
            TagKind::Audio => {
                let dts = self.clock.unwrap(tag.timestamp_ms);
                self.audio_tag(&tag.data, dts)
            }
            TagKind::Script => Input::Nothing,
            TagKind::Other(t) => Input::Skipped(format!("unknown tag type {t}")),
        }
    }

    /// Makes `config` the one in effect for its track, unless an equal one is; returns
    /// the one in effect.
    fn set(&mut self, config: Arc<Config>) -> Arc<Config> {
        let slot = match config.codec.track() {
            Track::Video => &mut self.video,
            Track::Audio => &mut self.audio,
        };
        match slot {
            Some(current) if current.codec == config.codec => Arc::clone(current),
            _ => Arc::clone(slot.insert(config)),
        }
    }

    /// The configuration in effect for track `id` of kind `track`.
    fn config_of(&self, track: Track, id: u8) -> Option<Arc<Config>> {
        match (track, id) {
            (Track::Video, 0) => self.video.clone(),
            (Track::Audio, 0) => self.audio.clone(),
            _ => self
                .extra
                .iter()
                .find(|(t, i, _)| *t == track && *i == id)
                .map(|(_, _, c)| Arc::clone(c)),
        }
    }

    fn video_tag(&mut self, data: &Bytes, dts: i64) -> Input {
        let Some(header) = parse_video_tag(data) else {
            return Input::Skipped("video tag too short".into());
        };
        let input = self.video_input(&header, data, dts);
        for other in other_video_tracks(data) {
            let more = self.video_input(&other, data, dts);
            self.queue(more);
        }
        input
    }

    /// Keeps what another track of a multitrack packet made, for [`Self::take_more`].
    fn queue(&mut self, input: Input) {
        if !matches!(input, Input::Nothing) && self.more.len() < MAX_QUEUED_INPUTS {
            self.more.push_back(input);
        }
    }

    /// What the other tracks of the last multitrack packet made (after the input
    /// [`Self::push_tag`] returned): a live push takes them too.
    pub fn take_more(&mut self) -> Option<Input> {
        self.more.pop_front()
    }

    /// The input one track (`header`) of video tag `data` makes.
    fn video_input(&mut self, header: &VideoTag, data: &Bytes, dts: i64) -> Input {
        let payload = part(data, header.payload_start, header.payload_end);
        let codec = match header.codec {
            VideoCodec::Avc => Codec::H264,
            VideoCodec::Hevc => Codec::H265,
            VideoCodec::Av1 => Codec::Av1,
            VideoCodec::Vp9 => Codec::Vp9,
            VideoCodec::Other(c) if header.kind == VideoPacketKind::Other => {
                let name = crate::media::codec_name(c);
                return Input::Skipped(format!("unsupported video codec {name}"));
            }
            VideoCodec::Other(c) => Codec::Other(c),
        };
        match header.kind {
            VideoPacketKind::SequenceHeader => {
                let parsed = match codec {
                    Codec::H264 => parse_avc_config(&payload).map(VideoConfig::Avc),
                    Codec::H265 => parse_hevc_config(&payload).map(VideoConfig::Hevc),
                    Codec::Av1 => parse_av1_config(&payload).map(VideoConfig::Av1),
                    Codec::Vp9 => parse_vp9_config(&payload).map(VideoConfig::Vp9),
                    _ => None,
                };
                let codec_config = match (parsed, codec) {
                    (Some(config), _) => CodecConfig::Video(config),
                    (None, Codec::Other(codec)) => CodecConfig::Other {
                        track: Track::Video,
                        codec,
                        record: payload,
                    },
                    (None, _) => {
                        return Input::Skipped("malformed video decoder configuration".into())
                    }
                };
                self.config(codec_config, data, header.track_id)
            }
            VideoPacketKind::Frames if payload.is_empty() => {
                Input::Skipped("empty video frame".into())
            }
            VideoPacketKind::Frames => Input::Frame(Frame {
                track: Track::Video,
                track_id: header.track_id,
                codec,
                dts_ms: dts,
                pts_ms: dts + i64::from(header.composition_time_ms),
                keyframe: header.keyframe,
                payload,
                config: self.config_of(Track::Video, header.track_id),
                flv: (header.track_id == 0).then(|| data.clone()),
            }),
            VideoPacketKind::EndOfSequence | VideoPacketKind::Other => Input::Nothing,
        }
    }

    fn audio_tag(&mut self, data: &Bytes, dts: i64) -> Input {
        let Some(header) = parse_audio_tag(data) else {
            return Input::Skipped("audio tag too short".into());
        };
        let input = self.audio_input(&header, data, dts);
        for other in other_audio_tracks(data) {
            let more = self.audio_input(&other, data, dts);
            self.queue(more);
        }
        input
    }

    /// The input one track (`header`) of audio tag `data` makes.
    fn audio_input(&mut self, header: &AudioTag, data: &Bytes, dts: i64) -> Input {
        let payload = part(data, header.payload_start, header.payload_end);
        let (codec, kind) = match (header.codec, header.kind) {
            (AudioCodec::Aac, kind) => (Codec::Aac, kind),
            (AudioCodec::Mp3, kind) => (Codec::Mp3, kind),
            (AudioCodec::Opus, kind) => (Codec::Opus, kind),
            (AudioCodec::Ac3, kind) => (Codec::Ac3, kind),
            (AudioCodec::Eac3, kind) => (Codec::Eac3, kind),
            (AudioCodec::Flac, kind) => (Codec::Flac, kind),
            // A legacy SoundFormat liverec does not read: every tag is a frame.
            (AudioCodec::Other(c), AudioPacketKind::Other) => {
                (Codec::Other(c), AudioPacketKind::Frame)
            }
            (AudioCodec::Other(c), kind) => (Codec::Other(c), kind),
        };
        match kind {
            AudioPacketKind::SequenceHeader => {
                self.audio_header(codec, payload, data, header.track_id)
            }
            AudioPacketKind::Frame if !payload.is_empty() => {
                let id = header.track_id;
                if matches!(codec, Codec::Ac3 | Codec::Eac3) {
                    self.ac3_config(&payload, id);
                }
                Input::Frame(Frame {
                    track: Track::Audio,
                    track_id: id,
                    codec,
                    dts_ms: dts,
                    pts_ms: dts,
                    keyframe: true,
                    payload,
                    config: self.config_of(Track::Audio, id),
                    flv: (id == 0).then(|| data.clone()),
                })
            }
            _ => Input::Nothing,
        }
    }

    /// An audio sequence header (`data`, its `payload`) of track `id`.
    fn audio_header(&mut self, codec: Codec, payload: Bytes, data: &Bytes, id: u8) -> Input {
        let codec_config = match codec {
            Codec::Aac => match parse_audio_specific_config(&payload) {
                Some(config) => CodecConfig::Audio(config),
                None => return Input::Skipped("malformed AudioSpecificConfig".into()),
            },
            Codec::Opus => match parse_opus_head(&payload) {
                Some(config) => CodecConfig::Opus(config),
                None => return Input::Skipped("malformed OpusHead".into()),
            },
            Codec::Flac => match parse_flac_streaminfo(&payload) {
                Some(entry) => CodecConfig::Entry(entry),
                None => return Input::Skipped("malformed FLAC STREAMINFO".into()),
            },
            // AC-3 / E-AC-3: nothing in the SequenceStart; the configuration is read
            // from the first frame (the tag is kept for FLV outputs).
            Codec::Ac3 | Codec::Eac3 => {
                self.pending_header = Some(data.clone());
                return Input::Nothing;
            }
            Codec::Other(codec) => CodecConfig::Other {
                track: Track::Audio,
                codec,
                record: payload,
            },
            _ => return Input::Nothing,
        };
        self.config(codec_config, data, id)
    }

    /// The configuration of AC-3 / E-AC-3 track `id` from its sync frame `frame`, unless
    /// the one in effect says the same.
    fn ac3_config(&mut self, frame: &[u8], id: u8) {
        let Some(entry) = parse_ac3_frame(frame) else {
            return;
        };
        let current = self.config_of(Track::Audio, id);
        if current.is_some_and(|c| c.codec == CodecConfig::Entry(entry.clone())) {
            return;
        }
        let config = Arc::new(Config {
            codec: CodecConfig::Entry(entry),
            flv: self.pending_header.take(),
        });
        if id == 0 {
            self.set(config);
        } else {
            self.set_extra(config, id);
        }
    }

    /// A sequence header of track `id`: the default track's is announced; another's is
    /// kept for its frames (at most [`MAX_EXTRA_TRACKS`] of them).
    fn config(&mut self, codec: CodecConfig, data: &Bytes, id: u8) -> Input {
        let config = Arc::new(Config {
            codec,
            flv: Some(data.clone()),
        });
        if id == 0 {
            return Input::Config(self.set(config));
        }
        self.set_extra(config, id)
    }

    /// Keeps `config` for track `id` (not the default one).
    fn set_extra(&mut self, config: Arc<Config>, id: u8) -> Input {
        let track = config.codec.track();
        let known = self.extra.len();
        if let Some(slot) = self
            .extra
            .iter_mut()
            .find(|(t, i, _)| *t == track && *i == id)
        {
            slot.2 = config;
        } else if known < MAX_EXTRA_TRACKS {
            self.extra.push((track, id, config));
        } else {
            return Input::Skipped(format!("more than {MAX_EXTRA_TRACKS} extra tracks"));
        }
        Input::Nothing
    }
}

/// `data[from..to]` (empty when out of range), sharing its bytes.
fn part(data: &Bytes, from: usize, to: usize) -> Bytes {
    if from <= to && to <= data.len() {
        data.slice(from..to)
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
            data: Bytes::copy_from_slice(data),
        }
    }

    fn frame(ingested: Input) -> Frame {
        match ingested {
            Input::Frame(f) => f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn frames_carry_codec_times_and_the_configuration_in_effect() {
        let mut ingest = FlvIngest::default();
        let Input::Config(first) = ingest.push_tag(&tag(TagKind::Audio, 0, &[0xAF, 0, 0x12, 0x10]))
        else {
            panic!("a sequence header")
        };
        let Input::Config(again) = ingest.push_tag(&tag(TagKind::Audio, 0, &[0xAF, 0, 0x12, 0x10]))
        else {
            panic!("a sequence header")
        };
        assert!(
            Arc::ptr_eq(&first, &again),
            "the same configuration sent again"
        );
        let audio = frame(ingest.push_tag(&tag(TagKind::Audio, 23, &[0xAF, 1, 0x21])));
        assert_eq!(
            (audio.codec, audio.dts_ms, audio.payload.as_ref()),
            (Codec::Aac, 23, &[0x21][..])
        );
        assert!(audio
            .config
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, &first)));
        let video = frame(ingest.push_tag(&tag(
            TagKind::Video,
            40,
            &[0x17, 1, 0, 0, 80, 0, 0, 0, 1, 0x65],
        )));
        assert_eq!(
            (
                video.codec,
                video.dts_ms,
                video.pts_ms,
                video.keyframe,
                video.payload.len()
            ),
            (Codec::H264, 40, 120, true, 5)
        );
        assert_eq!(video.config, None, "no video configuration yet");
        assert_eq!(
            video.flv.as_deref(),
            Some(&[0x17, 1, 0, 0, 80, 0, 0, 0, 1, 0x65][..])
        );
    }

    #[test]
    fn enhanced_rtmp_v2_av1_and_opus_become_their_codecs() {
        let mut ingest = FlvIngest::default();
        let av1c = [0x90, b'a', b'v', b'0', b'1', 0x81, 0, 0x0C, 0];
        let Input::Config(config) = ingest.push_tag(&tag(TagKind::Video, 0, &av1c)) else {
            panic!("an AV1 configuration")
        };
        assert!(matches!(
            config.codec,
            CodecConfig::Video(VideoConfig::Av1(_))
        ));
        // av01 CodedFrames carry no composition time.
        let av1 = frame(ingest.push_tag(&tag(
            TagKind::Video,
            40,
            &[0x91, b'a', b'v', b'0', b'1', 0x12, 0],
        )));
        assert_eq!(
            (av1.codec, av1.pts_ms, &av1.payload[..]),
            (Codec::Av1, 40, &[0x12, 0][..])
        );
        let mut head = vec![0x90, b'O', b'p', b'u', b's'];
        head.extend_from_slice(b"OpusHead");
        head.extend_from_slice(&[1, 2, 0x38, 1, 0x80, 0xBB, 0, 0, 0, 0, 0]);
        let Input::Config(config) = ingest.push_tag(&tag(TagKind::Audio, 0, &head)) else {
            panic!("an Opus configuration")
        };
        assert!(matches!(&config.codec, CodecConfig::Opus(o) if o.channels == 2));
        let opus =
            frame(ingest.push_tag(&tag(TagKind::Audio, 20, &[0x91, b'O', b'p', b'u', b's', 9])));
        assert_eq!((opus.codec, opus.dts_ms), (Codec::Opus, 20));
        // Malformed records are skipped, not taken.
        for bad in [
            &[0x90, b'a', b'v', b'0', b'1', 0x81][..],
            &[0x90, b'O', b'p', b'u', b's', 1][..],
        ] {
            let kind = if bad[1] == b'a' {
                TagKind::Video
            } else {
                TagKind::Audio
            };
            assert!(matches!(
                ingest.push_tag(&tag(kind, 0, bad)),
                Input::Skipped(_)
            ));
        }
    }

    #[test]
    fn the_default_track_of_a_multitrack_packet_is_read() {
        let mut ingest = FlvIngest::default();
        // OneTrack, track 1 (an AV1 SequenceStart): kept for track 1's frames, not
        // announced (the default track's configuration is what outputs follow).
        let other = [0x96, 0x00, b'a', b'v', b'0', b'1', 1, 0x81, 0, 0x0C, 0];
        assert_eq!(
            ingest.push_tag(&tag(TagKind::Video, 0, &other)),
            Input::Nothing
        );
        // Track 1's CodedFramesX: a frame of track 1, with its configuration, no FLV body.
        let coded = [0x96, 0x03, b'a', b'v', b'0', b'1', 1, 7, 7];
        let extra = frame(ingest.push_tag(&tag(TagKind::Video, 20, &coded)));
        assert_eq!((extra.track_id, &extra.payload[..]), (1, &[7, 7][..]));
        assert!(extra.flv.is_none());
        assert!(matches!(
            extra.config.as_deref().map(|c| &c.codec),
            Some(CodecConfig::Video(VideoConfig::Av1(_)))
        ));
        // ManyTracks CodedFramesX: track 1, then track 0 — the frame is track 0's bytes,
        // track 1's comes next from take_more.
        let many = [
            0x96, 0x13, b'a', b'v', b'0', b'1', 1, 0, 0, 2, 5, 5, 0, 0, 0, 1, 6,
        ];
        let Input::Config(_) = ingest.push_tag(&tag(
            TagKind::Video,
            0,
            &[0x90, b'a', b'v', b'0', b'1', 0x81, 0, 0x0C, 0],
        )) else {
            panic!("an AV1 configuration")
        };
        let av1 = frame(ingest.push_tag(&tag(TagKind::Video, 40, &many)));
        assert_eq!(
            (av1.codec, av1.keyframe, av1.track_id, &av1.payload[..]),
            (Codec::Av1, true, 0, &[6][..])
        );
        let other = frame(ingest.take_more().expect("track 1's frame"));
        assert_eq!(
            (other.track_id, other.dts_ms, &other.payload[..]),
            (1, 40, &[5, 5][..])
        );
        assert!(other.config.is_some(), "track 1's own configuration");
        assert!(ingest.take_more().is_none());
        // Audio: ModEx prefix, then a CodedFrames of Opus without a configuration yet.
        let opus = frame(ingest.push_tag(&tag(
            TagKind::Audio,
            20,
            &[0x97, 0, 0xAA, 0x01, b'O', b'p', b'u', b's', 3],
        )));
        assert_eq!((opus.codec, &opus.payload[..]), (Codec::Opus, &[3][..]));
    }

    #[test]
    fn unread_codecs_become_other_frames_and_bad_tags_are_skipped() {
        let mut ingest = FlvIngest::default();
        // An Enhanced RTMP FourCC liverec does not read (VP8): SequenceStart, then
        // CodedFrames (keyframe).
        let header = ingest.push_tag(&tag(
            TagKind::Video,
            0,
            &[0x90, b'v', b'p', b'0', b'8', 0x81],
        ));
        assert!(
            matches!(&header, Input::Config(c) if matches!(c.codec, CodecConfig::Other { .. }))
        );
        let vp8 = frame(ingest.push_tag(&tag(
            TagKind::Video,
            0,
            &[0x91, b'v', b'p', b'0', b'8', 7, 7],
        )));
        assert_eq!(
            (vp8.codec, vp8.keyframe),
            (Codec::Other(u32::from_be_bytes(*b"vp08")), true)
        );
        assert!(vp8.config.is_some());
        let speex = frame(ingest.push_tag(&tag(TagKind::Audio, 0, &[0xB2, 9, 9])));
        assert_eq!(speex.codec, Codec::Other(11));
        for (kind, data) in [
            (TagKind::Video, &[0x13, 0][..]),
            (TagKind::Other(15), &[][..]),
            (TagKind::Video, &[0x17, 0, 0, 0, 0, 9][..]),
            (TagKind::Audio, &[][..]),
        ] {
            assert!(
                matches!(ingest.push_tag(&tag(kind, 0, data)), Input::Skipped(_)),
                "{data:?}"
            );
        }
        assert_eq!(
            ingest.push_tag(&tag(TagKind::Script, 0, &[2, 0, 0])),
            Input::Nothing
        );
    }

    #[test]
    fn timestamps_unwrap_and_resume_keeps_the_epoch() {
        let mut ingest = FlvIngest::default();
        let at = |i: &mut FlvIngest, ts| {
            frame(i.push_tag(&tag(TagKind::Audio, ts, &[0x2F, 0xFF]))).dts_ms
        };
        assert_eq!(at(&mut ingest, u32::MAX - 10), i64::from(u32::MAX) - 10);
        assert_eq!(at(&mut ingest, 5), (1 << 32) + 5);
        let mut again = FlvIngest::resume(ingest.clock(), &ingest.configs());
        assert_eq!(at(&mut again, 3), (1 << 32) + 3);
    }
}
