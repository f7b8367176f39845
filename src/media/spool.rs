//! Frames as bytes and back, for caches that keep frames outside memory (a push's GOP
//! cache lives in a scratch file). Configurations stay in memory: a record names its
//! frame's configuration by an index the cache chooses.
//!
//! A record, little-endian: `u32` length of the rest; flags (`1` keyframe, `2` video,
//! `4` the bytes are the FLV tag body); codec (`0` H.264, `1` H.265, `2` AAC, `3` MP3,
//! `4` other, then its `u32` code); DTS and PTS as `i64`; the configuration index as
//! `u16` ([`NO_CONFIG`]: none); where the payload starts in the bytes (`u32`); the bytes.

use bytes::Bytes;

use super::{Codec, Frame, Track};

/// The configuration index of a frame without one.
pub const NO_CONFIG: u16 = u16::MAX;
/// Bytes of a record before its data.
const HEAD: usize = 4 + 1 + 1 + 4 + 8 + 8 + 2 + 4;
/// Largest record read back.
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

/// A record that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpoolError {
    /// It ends before its length says.
    #[error("record at {0} is truncated")]
    Truncated(usize),
    /// Its length or payload offset is out of range.
    #[error("record at {0} is malformed")]
    Malformed(usize),
}

fn codec_code(codec: Codec) -> (u8, u32) {
    match codec {
        Codec::H264 => (0, 0),
        Codec::H265 => (1, 0),
        Codec::Aac => (2, 0),
        Codec::Mp3 => (3, 0),
        Codec::Other(c) => (4, c),
        Codec::Av1 => (5, 0),
        Codec::Vp9 => (6, 0),
        Codec::Opus => (7, 0),
        Codec::Ac3 => (8, 0),
        Codec::Eac3 => (9, 0),
        Codec::Flac => (10, 0),
    }
}

/// Appends `frame` as a record naming configuration `config`.
pub fn write_frame(out: &mut Vec<u8>, frame: &Frame, config: u16) {
    // The FLV body is kept when the payload is its tail (as the FLV adapter makes it).
    let flv = frame.flv.as_ref().filter(|flv| {
        let start = flv.len().wrapping_sub(frame.payload.len());
        flv.len() >= frame.payload.len()
            && flv.get(start..).map(<[u8]>::as_ptr) == Some(frame.payload.as_ptr())
    });
    let (data, start) = match flv {
        Some(flv) => (flv, flv.len() - frame.payload.len()),
        None => (&frame.payload, 0),
    };
    let flags = u8::from(frame.keyframe)
        | u8::from(frame.track == Track::Video) << 1
        | u8::from(flv.is_some()) << 2;
    let (kind, code) = codec_code(frame.codec);
    let length = (HEAD - 4 + data.len()) as u32;
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&[flags, kind]);
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&frame.dts_ms.to_le_bytes());
    out.extend_from_slice(&frame.pts_ms.to_le_bytes());
    out.extend_from_slice(&config.to_le_bytes());
    out.extend_from_slice(&(start as u32).to_le_bytes());
    out.extend_from_slice(data);
}

fn array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at + N)?.try_into().ok()
}

/// Reads the record at `*at` in `bytes` (advancing `*at`): the frame, without its
/// configuration, and the configuration index; `None` at the end.
pub fn read_frame(bytes: &Bytes, at: &mut usize) -> Result<Option<(Frame, u16)>, SpoolError> {
    let start = *at;
    if start >= bytes.len() {
        return Ok(None);
    }
    let head: [u8; HEAD] = array(bytes, start).ok_or(SpoolError::Truncated(start))?;
    let field = |from: usize| -> [u8; 8] { array(&head, from).unwrap_or_default() };
    let length = u32::from_le_bytes(array(&head, 0).unwrap_or_default()) as usize;
    if !(HEAD - 4..=MAX_RECORD_BYTES).contains(&length) {
        return Err(SpoolError::Malformed(start));
    }
    let end = start + 4 + length;
    let data = bytes
        .get(start + HEAD..end)
        .ok_or(SpoolError::Truncated(start))?;
    let data = bytes.slice_ref(data);
    let [flags, kind] = array(&head, 4).unwrap_or_default();
    let code = u32::from_le_bytes(array(&head, 6).unwrap_or_default());
    let codec = match kind {
        0 => Codec::H264,
        1 => Codec::H265,
        2 => Codec::Aac,
        3 => Codec::Mp3,
        4 => Codec::Other(code),
        5 => Codec::Av1,
        6 => Codec::Vp9,
        7 => Codec::Opus,
        8 => Codec::Ac3,
        9 => Codec::Eac3,
        10 => Codec::Flac,
        _ => return Err(SpoolError::Malformed(start)),
    };
    let config = u16::from_le_bytes(array(&head, 26).unwrap_or_default());
    let payload_start = u32::from_le_bytes(array(&head, 28).unwrap_or_default()) as usize;
    if payload_start > data.len() {
        return Err(SpoolError::Malformed(start));
    }
    let has_flv = flags & 4 != 0;
    let frame = Frame {
        track_id: 0,
        track: if flags & 2 != 0 {
            Track::Video
        } else {
            Track::Audio
        },
        codec,
        dts_ms: i64::from_le_bytes(field(10)),
        pts_ms: i64::from_le_bytes(field(18)),
        keyframe: flags & 1 != 0,
        payload: data.slice(payload_start..),
        config: None,
        flv: has_flv.then_some(data),
    };
    *at = end;
    Ok(Some((frame, config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(flv: bool) -> Frame {
        let body = Bytes::from_static(&[0x17, 1, 0, 0, 40, 0, 0, 0, 1, 0x65]);
        Frame {
            track_id: 0,
            track: Track::Video,
            codec: Codec::H264,
            dts_ms: (1 << 32) + 40,
            pts_ms: (1 << 32) + 80,
            keyframe: true,
            payload: body.slice(5..),
            config: None,
            flv: flv.then_some(body),
        }
    }

    #[test]
    fn frames_round_trip_with_and_without_their_flv_body() {
        let mut out = Vec::new();
        write_frame(&mut out, &frame(true), 3);
        write_frame(&mut out, &frame(false), NO_CONFIG);
        let other = Frame {
            track: Track::Audio,
            codec: Codec::Other(11),
            keyframe: false,
            ..frame(false)
        };
        write_frame(&mut out, &other, 0);
        let bytes = Bytes::from(out);
        let mut at = 0;
        let mut back = Vec::new();
        while let Some(record) = read_frame(&bytes, &mut at).unwrap() {
            back.push(record);
        }
        assert_eq!(
            back,
            vec![(frame(true), 3), (frame(false), NO_CONFIG), (other, 0)]
        );
    }

    #[test]
    fn damaged_records_are_errors_at_every_cut() {
        let mut out = Vec::new();
        write_frame(&mut out, &frame(true), 0);
        for cut in 1..out.len() {
            let bytes = Bytes::copy_from_slice(&out[..cut]);
            assert_eq!(
                read_frame(&bytes, &mut 0),
                Err(SpoolError::Truncated(0)),
                "{cut}"
            );
        }
        let mut bad = out.clone();
        bad[5] = 200;
        assert_eq!(
            read_frame(&Bytes::from(bad), &mut 0),
            Err(SpoolError::Malformed(0))
        );
        let mut huge = out;
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            read_frame(&Bytes::from(huge), &mut 0),
            Err(SpoolError::Malformed(0))
        );
    }
}
