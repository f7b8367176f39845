//! Length-prefixed NAL units (ISO/IEC 14496-15) to Annex B byte streams (ITU-T H.264
//! Annex B), with an access unit delimiter first and parameter sets before keyframes.

use crate::formats::flv::frames::VideoConfig;

const START: [u8; 4] = [0, 0, 0, 1];
/// H.264 AUD, primary_pic_type 7 (any).
const AVC_AUD: [u8; 2] = [0x09, 0xF0];
/// H.265 AUD (nal_unit_type 35, layer 0, tid 1), pic_type 2 (any).
const HEVC_AUD: [u8; 3] = [0x46, 0x01, 0x50];

fn nal_type(config: &VideoConfig, nal: &[u8]) -> u8 {
    let first = nal.first().copied().unwrap_or(0);
    match config {
        VideoConfig::Avc(_) => first & 0x1F,
        VideoConfig::Hevc(_) => (first >> 1) & 0x3F,
        VideoConfig::Av1(_) | VideoConfig::Vp9(_) => 0,
    }
}

fn is_aud(config: &VideoConfig, t: u8) -> bool {
    matches!(
        (config, t),
        (VideoConfig::Avc(_), 9) | (VideoConfig::Hevc(_), 35)
    )
}

fn is_parameter_set(config: &VideoConfig, t: u8) -> bool {
    matches!(
        (config, t),
        (VideoConfig::Avc(_), 7 | 8) | (VideoConfig::Hevc(_), 32..=34)
    )
}

/// Splits a length-prefixed access unit into NAL units, appended to `out`; false (and
/// `out` cut back) when a length overruns.
fn split_nals<'a>(data: &'a [u8], length_size: u8, out: &mut Vec<&'a [u8]>) -> bool {
    let n = usize::from(length_size.clamp(1, 4));
    let mark = out.len();
    let mut at = 0;
    while at < data.len() {
        let nal = data.get(at..at + n).and_then(|prefix| {
            let len = prefix
                .iter()
                .fold(0usize, |acc, b| acc << 8 | usize::from(*b));
            data.get(at + n..at + n + len)
        });
        let Some(nal) = nal else {
            out.truncate(mark);
            return false;
        };
        out.push(nal);
        at += n + nal.len();
    }
    true
}

/// Appends the Annex B form of one access unit to `out` as pieces to be written in
/// order (start codes, the delimiter, parameter sets and the NAL units, borrowed, not
/// copied: the transport packetiser copies each byte once). Returns false (and appends
/// nothing) when the length prefixes are inconsistent, or the codec has no NAL units.
pub fn annex_b_pieces<'a>(
    config: &'a VideoConfig,
    data: &'a [u8],
    keyframe: bool,
    out: &mut Vec<&'a [u8]>,
) -> bool {
    let aud: &[u8] = match config {
        VideoConfig::Avc(_) => &AVC_AUD,
        VideoConfig::Hevc(_) => &HEVC_AUD,
        VideoConfig::Av1(_) | VideoConfig::Vp9(_) => return false,
    };
    let mut nals = Vec::new();
    if !split_nals(data, config.nal_length_size(), &mut nals) {
        return false;
    }
    let (received_aud, rest) = match nals.split_first() {
        Some((first, rest)) if is_aud(config, nal_type(config, first)) => (Some(*first), rest),
        _ => (None, nals.as_slice()),
    };
    out.extend_from_slice(&[&START, received_aud.unwrap_or(aud)]);
    if keyframe
        && !rest
            .iter()
            .any(|n| is_parameter_set(config, nal_type(config, n)))
    {
        let sets: Vec<&Vec<u8>> = match config {
            VideoConfig::Avc(c) => c.sps.iter().chain(c.pps.iter()).collect(),
            VideoConfig::Hevc(c) => c.units(32).chain(c.units(33)).chain(c.units(34)).collect(),
            VideoConfig::Av1(_) | VideoConfig::Vp9(_) => Vec::new(),
        };
        for set in sets {
            out.extend_from_slice(&[&START, set.as_slice()]);
        }
    }
    for nal in rest {
        out.extend_from_slice(&[&START, *nal]);
    }
    true
}
