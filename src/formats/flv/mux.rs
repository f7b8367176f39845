//! FLV tag bodies from protocol-neutral frames: what an FLV output writes for media
//! that did not arrive as FLV (a frame from RTMP keeps its own tag body, written byte
//! for byte). H.264, AAC and MP3 use the legacy headers every player reads; H.265
//! uses the Enhanced RTMP FourCC `hvc1` (ffmpeg 6.1+, the E-RTMP v2 form). Codecs
//! liverec does not read have no body unless they arrived as FLV.

use bytes::Bytes;

use crate::media::{AudioEntry, Codec, CodecConfig, Config, Frame, Track, VideoConfig};

/// Enhanced RTMP: `IsExHeader`.
const EX_HEADER: u8 = 0x80;
/// Enhanced RTMP packet types.
const SEQUENCE_START: u8 = 0;
const CODED_FRAMES: u8 = 1;

/// The FLV tag type of a track's tags.
pub fn tag_type(track: Track) -> u8 {
    match track {
        Track::Audio => 8,
        Track::Video => 9,
    }
}

fn cts(ms: i64) -> [u8; 3] {
    let v = ms.clamp(-(1 << 23), (1 << 23) - 1) as i32;
    let b = v.to_be_bytes();
    [b[1], b[2], b[3]]
}

/// Enhanced RTMP audio: SoundFormat 9 (ExHeader), the packet type in the low bits.
const AUDIO_EX_HEADER: u8 = 0x90;

fn video_fourcc(codec: &CodecConfig) -> &'static [u8; 4] {
    match codec {
        CodecConfig::Video(VideoConfig::Av1(_)) => b"av01",
        CodecConfig::Video(VideoConfig::Vp9(_)) => b"vp09",
        CodecConfig::Video(VideoConfig::Hevc(_)) => b"hvc1",
        _ => b"avc1",
    }
}

/// The tag body of a sequence header: the one received, or built.
pub fn config_body(config: &Config) -> Option<Bytes> {
    if let Some(flv) = &config.flv {
        return Some(flv.clone());
    }
    let mut body = Vec::new();
    match &config.codec {
        CodecConfig::Video(VideoConfig::Avc(c)) => {
            body.extend_from_slice(&[0x17, 0, 0, 0, 0]);
            body.extend_from_slice(&c.raw);
        }
        CodecConfig::Video(VideoConfig::Hevc(c)) => {
            body.push(EX_HEADER | 0x10 | SEQUENCE_START);
            body.extend_from_slice(b"hvc1");
            body.extend_from_slice(&c.raw);
        }
        CodecConfig::Video(VideoConfig::Av1(c) | VideoConfig::Vp9(c)) => {
            body.push(EX_HEADER | 0x10 | SEQUENCE_START);
            body.extend_from_slice(video_fourcc(&config.codec));
            body.extend_from_slice(&c.raw);
        }
        CodecConfig::Audio(c) => {
            body.extend_from_slice(&[0xAF, 0]);
            body.extend_from_slice(&c.raw);
        }
        CodecConfig::Opus(c) => {
            body.push(AUDIO_EX_HEADER | SEQUENCE_START);
            body.extend_from_slice(b"Opus");
            body.extend_from_slice(&c.raw);
        }
        CodecConfig::Entry(AudioEntry::Flac(f)) => {
            body.push(AUDIO_EX_HEADER | SEQUENCE_START);
            body.extend_from_slice(b"fLaC");
            body.extend_from_slice(&f.streaminfo);
        }
        // AC-3 / E-AC-3: an empty SequenceStart (the frames configure themselves); MP3:
        // none.
        CodecConfig::Entry(AudioEntry::Ac3(_)) => {
            body.extend_from_slice(&[AUDIO_EX_HEADER | SEQUENCE_START, b'a', b'c', b'-', b'3'])
        }
        CodecConfig::Entry(AudioEntry::Eac3(_)) => {
            body.extend_from_slice(&[AUDIO_EX_HEADER | SEQUENCE_START, b'e', b'c', b'-', b'3'])
        }
        CodecConfig::Entry(AudioEntry::Mp3(_)) => return None,
        CodecConfig::Other { .. } => return None,
    }
    Some(body.into())
}

/// The tag body of a frame: the one received, or built.
pub fn frame_body(frame: &Frame) -> Option<Bytes> {
    if let Some(flv) = &frame.flv {
        return Some(flv.clone());
    }
    let frame_type: u8 = if frame.keyframe { 1 } else { 2 };
    let mut body = Vec::with_capacity(frame.payload.len() + 8);
    match frame.codec {
        Codec::H264 => {
            body.extend_from_slice(&[frame_type << 4 | 7, 1]);
            body.extend_from_slice(&cts(frame.pts_ms - frame.dts_ms));
        }
        Codec::H265 => {
            body.push(EX_HEADER | frame_type << 4 | CODED_FRAMES);
            body.extend_from_slice(b"hvc1");
            body.extend_from_slice(&cts(frame.pts_ms - frame.dts_ms));
        }
        Codec::Av1 | Codec::Vp9 => {
            body.push(EX_HEADER | frame_type << 4 | CODED_FRAMES);
            body.extend_from_slice(if frame.codec == Codec::Av1 {
                b"av01"
            } else {
                b"vp09"
            });
        }
        Codec::Opus | Codec::Ac3 | Codec::Eac3 | Codec::Flac => {
            body.push(AUDIO_EX_HEADER | CODED_FRAMES);
            body.extend_from_slice(audio_fourcc(frame.codec));
        }
        Codec::Aac => body.extend_from_slice(&[0xAF, 1]),
        // MP3, 44.1 kHz, 16-bit, stereo: players read the rate from the frame header.
        Codec::Mp3 => body.push(0x2F),
        Codec::Other(_) => return None,
    }
    body.extend_from_slice(&frame.payload);
    Some(body.into())
}

/// The Enhanced RTMP FourCC of an audio codec that has one.
fn audio_fourcc(codec: Codec) -> &'static [u8; 4] {
    match codec {
        Codec::Ac3 => b"ac-3",
        Codec::Eac3 => b"ec-3",
        Codec::Flac => b"fLaC",
        _ => b"Opus",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::flv::demux::{FlvTag, TagKind};
    use crate::formats::flv::ingest::FlvIngest;
    use crate::media::Input;

    fn tag(kind: TagKind, data: &[u8]) -> FlvTag {
        FlvTag {
            offset: 0,
            kind,
            timestamp_ms: 40,
            data: Bytes::copy_from_slice(data),
        }
    }

    /// An avcC with one SPS (640x360 baseline) and one PPS.
    const AVCC: [u8; 35] = [
        1, 0x42, 0xC0, 0x1E, 0xFF, 0xE1, 0, 0x13, 0x67, 0x42, 0xC0, 0x1E, 0xDA, 0x02, 0x80, 0xBF,
        0xE5, 0xC0, 0x44, 0, 0, 3, 0, 4, 0, 0, 3, 0, 0xC8, 1, 0, 3, 0x68, 0xCE, 0x3C,
    ];

    /// What each tag becomes with its received body dropped: built again, the same bytes.
    #[test]
    fn built_bodies_equal_the_legacy_tags_they_came_from() {
        let mut ingest = FlvIngest::default();
        let mut avc_header = vec![0x17, 0, 0, 0, 0];
        avc_header.extend_from_slice(&AVCC);
        let tags = [
            tag(TagKind::Video, &avc_header),
            tag(TagKind::Audio, &[0xAF, 0, 0x12, 0x10]),
            tag(TagKind::Video, &[0x17, 1, 0, 0, 80, 0, 0, 0, 1, 0x65]),
            tag(
                TagKind::Video,
                &[0x27, 1, 0xFF, 0xFF, 0xD8, 0, 0, 0, 1, 0x41],
            ),
            tag(TagKind::Audio, &[0xAF, 1, 0x21, 0x10]),
            tag(TagKind::Audio, &[0x2F, 0xFF, 0xFB]),
        ];
        for original in &tags {
            let built = match ingest.push_tag(original) {
                Input::Frame(f) => frame_body(&Frame { flv: None, ..f }),
                Input::Config(c) => config_body(&Config {
                    flv: None,
                    ..(*c).clone()
                }),
                other => panic!("{other:?}"),
            };
            assert_eq!(built.as_deref(), Some(&original.data[..]));
        }
    }

    #[test]
    fn hevc_is_written_with_the_enhanced_fourcc_and_read_back() {
        let frame = Frame {
            track: Track::Video,
            track_id: 0,
            codec: Codec::H265,
            dts_ms: 40,
            pts_ms: 80,
            keyframe: true,
            payload: Bytes::from_static(&[0, 0, 0, 1, 0x26]),
            config: None,
            flv: None,
        };
        let body = frame_body(&frame).unwrap();
        assert_eq!(&body[..5], &[0x91, b'h', b'v', b'c', b'1']);
        match FlvIngest::default().push_tag(&tag(TagKind::Video, &body)) {
            Input::Frame(back) => assert_eq!(
                (
                    back.codec,
                    back.pts_ms - back.dts_ms,
                    back.keyframe,
                    back.payload
                ),
                (Codec::H265, 40, true, frame.payload.clone())
            ),
            other => panic!("{other:?}"),
        }
        let other = Frame {
            codec: Codec::Other(1),
            ..frame
        };
        assert_eq!(frame_body(&other), None, "no FLV form known");
    }
}
