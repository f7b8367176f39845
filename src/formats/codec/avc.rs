//! H.264: AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1) and the picture
//! size from the SPS (ITU-T H.264 §7.3.2.1.1, §7.4.2.1.1 cropping).

use super::bits::{rbsp, BitReader};

/// A parsed AVCDecoderConfigurationRecord.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfig {
    /// Bytes in each NAL unit length prefix (1, 2 or 4).
    pub nal_length_size: u8,
    /// Sequence parameter sets.
    pub sps: Vec<Vec<u8>>,
    /// Picture parameter sets.
    pub pps: Vec<Vec<u8>>,
    /// `AVCProfileIndication`, `profile_compatibility`, `AVCLevelIndication`.
    pub profile: [u8; 3],
    /// Picture size from the first SPS.
    pub dimensions: Option<(u32, u32)>,
    /// The record as received.
    pub raw: Vec<u8>,
}

fn sets(data: &[u8], mut at: usize, count: usize) -> Option<(Vec<Vec<u8>>, usize)> {
    let mut out = Vec::new();
    for _ in 0..count {
        let len = usize::from(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?));
        out.push(data.get(at + 2..at + 2 + len)?.to_vec());
        at += 2 + len;
    }
    Some((out, at))
}

/// Parses an AVCDecoderConfigurationRecord.
pub fn parse_avc_config(raw: &[u8]) -> Option<AvcConfig> {
    let head: [u8; 6] = raw.get(..6)?.try_into().ok()?;
    if head[0] != 1 {
        return None;
    }
    let nal_length_size = (head[4] & 0x03) + 1;
    let (sps, at) = sets(raw, 6, usize::from(head[5] & 0x1F))?;
    let pps_count = usize::from(*raw.get(at)?);
    let (pps, _) = sets(raw, at + 1, pps_count)?;
    let dimensions = sps.first().and_then(|s| sps_dimensions(s));
    Some(AvcConfig {
        nal_length_size,
        sps,
        pps,
        profile: [head[1], head[2], head[3]],
        dimensions,
        raw: raw.to_vec(),
    })
}

/// Profiles whose SPS carries chroma format and bit depths (§7.3.2.1.1), which the
/// record then repeats (ISO/IEC 14496-15 §5.3.3.1.2).
const HIGH_PROFILES: [u8; 13] = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135];

/// Builds an AVCDecoderConfigurationRecord (4-byte NAL lengths) from parameter sets
/// found in a byte stream (MPEG-TS, Annex B); `None` without an SPS and a PPS or with
/// a set too long for a record.
pub fn avc_config_from_sets(sps: &[Vec<u8>], pps: &[Vec<u8>]) -> Option<AvcConfig> {
    let first = sps.first()?;
    let profile: [u8; 3] = first.get(1..4)?.try_into().ok()?;
    if pps.is_empty() || sps.len() > 31 || pps.len() > 255 {
        return None;
    }
    let mut raw = vec![
        1,
        profile[0],
        profile[1],
        profile[2],
        0xFF,
        0xE0 | sps.len() as u8,
    ];
    for set in sps {
        raw.extend_from_slice(&u16::try_from(set.len()).ok()?.to_be_bytes());
        raw.extend_from_slice(set);
    }
    raw.push(pps.len() as u8);
    for set in pps {
        raw.extend_from_slice(&u16::try_from(set.len()).ok()?.to_be_bytes());
        raw.extend_from_slice(set);
    }
    if HIGH_PROFILES.contains(&profile[0]) {
        let (chroma, luma, chroma_depth) = sps_chroma(first).unwrap_or((1, 0, 0));
        raw.extend_from_slice(&[0xFC | chroma, 0xF8 | luma, 0xF8 | chroma_depth, 0]);
    }
    parse_avc_config(&raw)
}

/// `chroma_format_idc`, `bit_depth_luma_minus8`, `bit_depth_chroma_minus8` of a
/// high-profile SPS.
fn sps_chroma(nal: &[u8]) -> Option<(u8, u8, u8)> {
    let data = rbsp(nal.get(1..)?);
    let mut r = BitReader::new(&data);
    r.skip(24)?;
    r.ue()?;
    let chroma = r.ue()?;
    if chroma == 3 {
        r.skip(1)?;
    }
    let (luma, chroma_depth) = (r.ue()?, r.ue()?);
    Some((
        u8::try_from(chroma).ok()? & 3,
        u8::try_from(luma).ok()? & 7,
        u8::try_from(chroma_depth).ok()? & 7,
    ))
}

fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Option<()> {
    let (mut last, mut next) = (8i64, 8i64);
    for _ in 0..size {
        if next != 0 {
            next = (last + i64::from(r.se()?)).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Some(())
}

/// Width and height (after cropping) of an SPS NAL unit (with its header byte).
pub fn sps_dimensions(nal: &[u8]) -> Option<(u32, u32)> {
    let data = rbsp(nal.get(1..)?);
    let mut r = BitReader::new(&data);
    let profile_idc = r.bits(8)?;
    r.skip(16)?;
    r.ue()?;
    let mut chroma_format_idc = 1;
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc == 3 {
            r.skip(1)?;
        }
        r.ue()?;
        r.ue()?;
        r.skip(1)?;
        if r.bit()? == 1 {
            for i in 0..if chroma_format_idc == 3 { 12 } else { 8 } {
                if r.bit()? == 1 {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    r.ue()?;
    match r.ue()? {
        0 => {
            r.ue()?;
        }
        1 => {
            r.skip(1)?;
            r.se()?;
            r.se()?;
            for _ in 0..r.ue()?.min(255) {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?;
    r.skip(1)?;
    let width_mbs = r.ue()?.checked_add(1)?;
    let height_units = r.ue()?.checked_add(1)?;
    let frame_mbs_only = r.bit()?;
    if frame_mbs_only == 0 {
        r.skip(1)?;
    }
    r.skip(1)?;
    let (mut crop_x, mut crop_y) = (0, 0);
    if r.bit()? == 1 {
        let (l, rt, t, b) = (r.ue()?, r.ue()?, r.ue()?, r.ue()?);
        let (sub_w, sub_h) = match chroma_format_idc {
            1 => (2, 2),
            2 => (2, 1),
            _ => (1, 1),
        };
        let unit_y = sub_h * (2 - frame_mbs_only);
        crop_x = l.checked_add(rt)?.checked_mul(sub_w)?;
        crop_y = t.checked_add(b)?.checked_mul(unit_y)?;
    }
    let width = width_mbs.checked_mul(16)?.checked_sub(crop_x)?;
    let height = height_units
        .checked_mul(16)?
        .checked_mul(2 - frame_mbs_only)?
        .checked_sub(crop_y)?;
    Some((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x264 baseline 320x180 SPS (cropped from 320x192).
    const SPS_320X180: [u8; 24] = [
        0x67, 0x42, 0xC0, 0x0D, 0xD9, 0x01, 0x41, 0x9F, 0x9E, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10,
        0x00, 0x00, 0x03, 0x03, 0x20, 0xF1, 0x42, 0xA4, 0x80,
    ];

    #[test]
    fn config_record_and_dimensions() {
        let mut record = vec![1, 0x42, 0xC0, 0x0D, 0xFF, 0xE1];
        record.extend_from_slice(&(SPS_320X180.len() as u16).to_be_bytes());
        record.extend_from_slice(&SPS_320X180);
        record.extend_from_slice(&[1, 0, 4, 0x68, 0xCB, 0x83, 0xCB]);
        let c = parse_avc_config(&record).unwrap();
        assert_eq!((c.nal_length_size, c.sps.len(), c.pps.len()), (4, 1, 1));
        assert_eq!(c.dimensions, Some((320, 180)));
        for cut in 0..record.len() {
            assert_eq!(parse_avc_config(&record[..cut]), None, "cut at {cut}");
        }
        let built = avc_config_from_sets(&[SPS_320X180.to_vec()], &[vec![0x68, 0xCB, 0x83, 0xCB]]);
        assert_eq!(built.map(|c| c.raw), Some(record));
        assert!(avc_config_from_sets(&[SPS_320X180.to_vec()], &[]).is_none());
        assert!(avc_config_from_sets(&[], &[vec![0x68]]).is_none());
    }
}
