//! Video tag bodies (FLV spec v10.1 §E.4.3; Enhanced RTMP v2 "ExVideoTagHeader").
//!
//! Legacy: `FrameType(4) CodecID(4)`, then for AVC (7) and the non-standard HEVC (12)
//! `AVCPacketType(8) CompositionTime(SI24)`. Enhanced (`IsExHeader` bit set):
//! `IsExHeader(1) FrameType(3) PacketType(4) FourCC(32)`, then for CodedFrames of AVC and
//! HEVC a SI24 composition time; CodedFramesX and other codecs have none (0).
//!
//! Enhanced RTMP v2 extras ([`super::multitrack`]): `ModEx` prefixes are skipped (their
//! one defined use, a sub-millisecond timestamp offset, is below liverec's 1 ms clock), and
//! of a `Multitrack` packet the default track (id 0) is read — the one every output
//! records — or, in a packet without it, its first track (with its `TrackId`: MP4 files
//! record the other tracks too).

/// Video codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// H.264 (legacy CodecID 7, FourCC `avc1`).
    Avc,
    /// H.265 (legacy CodecID 12, FourCC `hvc1`).
    Hevc,
    /// AV1 (FourCC `av01`).
    Av1,
    /// VP9 (FourCC `vp09`).
    Vp9,
    /// Anything else: legacy CodecID, or the FourCC.
    Other(u32),
}

/// What a video tag carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoPacketKind {
    /// Decoder configuration record (AVCC / HVCC).
    SequenceHeader,
    /// Coded frames (length-prefixed NAL units).
    Frames,
    /// End of sequence.
    EndOfSequence,
    /// Anything else (metadata, command frames): skipped.
    Other,
}

/// A parsed video tag header; `payload` is the range of the tag body after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoTag {
    /// Codec.
    pub codec: VideoCodec,
    /// Kind of packet.
    pub kind: VideoPacketKind,
    /// Frame type 1 (keyframe) or 4 (generated keyframe).
    pub keyframe: bool,
    /// PTS − DTS, ms (signed 24-bit).
    pub composition_time_ms: i32,
    /// Where the payload starts in the tag body.
    pub payload_start: usize,
    /// Where it ends (the body's end, or the default track's end in a multitrack packet).
    pub payload_end: usize,
    /// Its multitrack `TrackId` (0: the default track, and legacy tags).
    pub track_id: u8,
}

fn si24(b: [u8; 3]) -> i32 {
    let v = i32::from(b[0]) << 16 | i32::from(b[1]) << 8 | i32::from(b[2]);
    if v & 0x80_0000 != 0 {
        v - 0x100_0000
    } else {
        v
    }
}

fn array<const N: usize>(data: &[u8], at: usize) -> Option<[u8; N]> {
    data.get(at..at + N).and_then(|s| s.try_into().ok())
}

/// Parses a video tag body's header; `None` when it is too short to be one.
pub fn parse_video_tag(data: &[u8]) -> Option<VideoTag> {
    let first = *data.first()?;
    if first & 0x80 != 0 {
        return parse_enhanced(data, first);
    }
    let frame_type = first >> 4;
    let codec = match first & 0x0F {
        7 => VideoCodec::Avc,
        12 => VideoCodec::Hevc,
        other => VideoCodec::Other(u32::from(other)),
    };
    if let VideoCodec::Other(_) = codec {
        return Some(VideoTag {
            codec,
            kind: VideoPacketKind::Other,
            keyframe: false,
            composition_time_ms: 0,
            payload_start: 1,
            payload_end: data.len(),
            track_id: 0,
        });
    }
    let [packet_type] = array::<1>(data, 1)?;
    let cts = si24(array::<3>(data, 2)?);
    let kind = match packet_type {
        0 => VideoPacketKind::SequenceHeader,
        1 => VideoPacketKind::Frames,
        2 => VideoPacketKind::EndOfSequence,
        _ => VideoPacketKind::Other,
    };
    Some(VideoTag {
        codec,
        kind,
        keyframe: matches!(frame_type, 1 | 4),
        composition_time_ms: cts,
        payload_start: 5,
        payload_end: data.len(),
        track_id: 0,
    })
}

fn parse_enhanced(data: &[u8], first: u8) -> Option<VideoTag> {
    let ex = super::multitrack::ex_header(data, first & 0x0F, MULTITRACK)?;
    enhanced_track(data, first, ex)
}

/// The tracks of a `Multitrack` video tag other than the one [`parse_video_tag`] reads.
pub fn other_video_tracks(data: &[u8]) -> Vec<VideoTag> {
    let Some(&first) = data.first().filter(|b| *b & 0x80 != 0) else {
        return Vec::new();
    };
    super::multitrack::other_tracks(data, first & 0x0F, MULTITRACK)
        .into_iter()
        .filter_map(|ex| enhanced_track(data, first, ex))
        .collect()
}

/// One track of an enhanced video tag.
fn enhanced_track(data: &[u8], first: u8, ex: super::multitrack::ExHeader) -> Option<VideoTag> {
    let frame_type = (first >> 4) & 0x07;
    let codec = match &ex.fourcc.to_be_bytes() {
        b"avc1" => VideoCodec::Avc,
        b"hvc1" => VideoCodec::Hevc,
        b"av01" => VideoCodec::Av1,
        b"vp09" => VideoCodec::Vp9,
        _ => VideoCodec::Other(ex.fourcc),
    };
    let other = |at| VideoTag {
        codec,
        kind: VideoPacketKind::Other,
        keyframe: false,
        composition_time_ms: 0,
        payload_start: at,
        payload_end: at,
        track_id: 0,
    };
    let Some((start, end)) = ex.track else {
        return Some(other(data.len()));
    };
    // Only AVC and HEVC coded frames carry a composition time.
    let has_cts = matches!(codec, VideoCodec::Avc | VideoCodec::Hevc);
    let (kind, cts, payload_start) = match ex.packet_type {
        0 => (VideoPacketKind::SequenceHeader, 0, start),
        1 if !has_cts => (VideoPacketKind::Frames, 0, start),
        1 => (
            VideoPacketKind::Frames,
            si24(array::<3>(data, start)?),
            start + 3,
        ),
        2 => (VideoPacketKind::EndOfSequence, 0, start),
        3 => (VideoPacketKind::Frames, 0, start),
        _ => return Some(other(start)),
    };
    Some(VideoTag {
        codec,
        kind,
        keyframe: matches!(frame_type, 1 | 4),
        composition_time_ms: cts,
        payload_start,
        payload_end: end.max(payload_start),
        track_id: ex.track_id,
    })
}

/// Video `PacketType` of a multitrack packet.
const MULTITRACK: u8 = 6;

/// Builds an Enhanced RTMP video tag body header (`hvc1` or `avc1`).
pub fn enhanced_header(
    codec: VideoCodec,
    kind: VideoPacketKind,
    keyframe: bool,
    cts_ms: i32,
) -> Vec<u8> {
    let packet_type: u8 = match kind {
        VideoPacketKind::SequenceHeader => 0,
        VideoPacketKind::Frames => 1,
        VideoPacketKind::EndOfSequence => 2,
        VideoPacketKind::Other => 4,
    };
    let frame_type: u8 = if keyframe { 1 } else { 2 };
    let mut out = vec![0x80 | frame_type << 4 | packet_type];
    out.extend_from_slice(match codec {
        VideoCodec::Hevc => b"hvc1",
        _ => b"avc1",
    });
    if kind == VideoPacketKind::Frames {
        out.extend_from_slice(&cts_ms.to_be_bytes()[1..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_and_enhanced_headers() {
        let avc_key = [0x17, 1, 0xFF, 0xFF, 0xFE, 0xAA];
        let t = parse_video_tag(&avc_key).unwrap();
        assert_eq!(
            (
                t.codec,
                t.kind,
                t.keyframe,
                t.composition_time_ms,
                t.payload_start
            ),
            (VideoCodec::Avc, VideoPacketKind::Frames, true, -2, 5)
        );
        let hevc_legacy = [0x2C, 0, 0, 0, 0];
        let t = parse_video_tag(&hevc_legacy).unwrap();
        assert_eq!(
            (t.codec, t.kind, t.keyframe),
            (VideoCodec::Hevc, VideoPacketKind::SequenceHeader, false)
        );
        for (kind, cts) in [
            (VideoPacketKind::SequenceHeader, 0),
            (VideoPacketKind::Frames, 40),
            (VideoPacketKind::EndOfSequence, 0),
        ] {
            let mut body = enhanced_header(VideoCodec::Hevc, kind, true, cts);
            body.push(0x55);
            let t = parse_video_tag(&body).unwrap();
            assert_eq!(
                (t.codec, t.kind, t.keyframe, t.composition_time_ms),
                (VideoCodec::Hevc, kind, true, cts)
            );
            assert_eq!(body.get(t.payload_start), Some(&0x55));
        }
        let coded_x = [0x93, b'h', b'v', b'c', b'1', 0x77];
        let t = parse_video_tag(&coded_x).unwrap();
        assert_eq!(
            (t.kind, t.keyframe, t.composition_time_ms, t.payload_start),
            (VideoPacketKind::Frames, true, 0, 5)
        );
        assert_eq!(parse_video_tag(&[0x17, 1]), None);
        assert_eq!(parse_video_tag(&[]), None);
        assert_eq!(
            parse_video_tag(&[0x12]).map(|t| t.codec),
            Some(VideoCodec::Other(2))
        );
    }
}
