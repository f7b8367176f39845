//! The samples of an MPEG-TS segment (an HLS recording's) as [`SampleRef`]s, for a
//! stitched MP4 ([`crate::formats::mp4::stitch`]). Unlike an FLV's or an MP4's, a TS
//! segment's samples are not byte ranges of the file (PES packets are cut into 188-byte
//! packets, video is Annex B), so the samples' *source* is the segment's demuxed form:
//! every frame's payload (length-prefixed NAL units, raw AAC) in demux order, which
//! [`demux_segment`] returns beside the sample list and rebuilds the same way when the
//! bytes are served.

use super::demux::TsDemuxer;
use crate::formats::mp4::stitch::{Piece, SampleRef};
use crate::formats::mp4::Mp4Tracks;
use crate::media::{CodecConfig, Input, Track};

/// A demuxed segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Demuxed {
    /// The configurations its samples use (the first ones it announced).
    pub tracks: Mp4Tracks,
    /// Its samples; offsets point into [`Demuxed::bytes`].
    pub piece: Piece,
    /// Every sample's bytes, in demux order.
    pub bytes: Vec<u8>,
    /// A configuration changed inside the segment (samples after it are left out).
    pub changed: bool,
}

/// Demuxes segment `ts`, whose first frame is at `wall_start_ms`, as source `source`.
pub fn demux_segment(ts: &[u8], source: u32, wall_start_ms: i64) -> Demuxed {
    let mut demuxer = TsDemuxer::new();
    let mut inputs = Vec::new();
    demuxer.push(ts, &mut inputs);
    demuxer.finish(&mut inputs);
    let mut out = Demuxed::default();
    for input in inputs {
        match input {
            Input::Config(config) => {
                let changed = match &config.codec {
                    CodecConfig::Video(v) => differs(&mut out.tracks.video, v),
                    CodecConfig::Audio(a) => differs(&mut out.tracks.audio, a),
                    CodecConfig::Opus(_) | CodecConfig::Entry(_) | CodecConfig::Other { .. } => {
                        false
                    }
                };
                if changed {
                    out.changed = true;
                    break;
                }
            }
            Input::Frame(frame) if frame.decodable() => {
                let sample = SampleRef {
                    dts_ms: frame.dts_ms,
                    cts_ms: i32::try_from(frame.pts_ms - frame.dts_ms).unwrap_or(0),
                    size: u32::try_from(frame.payload.len()).unwrap_or(u32::MAX),
                    sync: frame.keyframe,
                    source,
                    offset: out.bytes.len() as u64,
                };
                out.bytes.extend_from_slice(&frame.payload);
                match frame.track {
                    Track::Video => out.piece.video.push(sample),
                    Track::Audio => out.piece.audio.push(sample),
                }
            }
            _ => {}
        }
    }
    let first = [out.piece.video.first(), out.piece.audio.first()]
        .into_iter()
        .flatten()
        .map(|s| s.dts_ms)
        .min()
        .unwrap_or(0);
    for s in out.piece.video.iter_mut().chain(out.piece.audio.iter_mut()) {
        s.dts_ms = wall_start_ms + (s.dts_ms - first);
    }
    out
}

/// Keeps the first value of a slot; whether `value` differs from it.
fn differs<T: Clone + PartialEq>(slot: &mut Option<T>, value: &T) -> bool {
    match slot {
        Some(current) => current != value,
        None => {
            *slot = Some(value.clone());
            false
        }
    }
}
