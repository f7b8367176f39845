//! H.265: HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1) — the parameter
//! set arrays (VPS, SPS, PPS, SEI) and the NAL length size.

/// A parsed HEVCDecoderConfigurationRecord.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HevcConfig {
    /// Bytes in each NAL unit length prefix.
    pub nal_length_size: u8,
    /// Parameter-set NAL units in record order, with their NAL type.
    pub arrays: Vec<(u8, Vec<Vec<u8>>)>,
    /// The record as received.
    pub raw: Vec<u8>,
}

impl HevcConfig {
    /// NAL units of `nal_type` (32 VPS, 33 SPS, 34 PPS).
    pub fn units(&self, nal_type: u8) -> impl Iterator<Item = &Vec<u8>> {
        self.arrays
            .iter()
            .filter(move |(t, _)| *t == nal_type)
            .flat_map(|(_, units)| units.iter())
    }
}

/// Parses an HEVCDecoderConfigurationRecord.
pub fn parse_hevc_config(raw: &[u8]) -> Option<HevcConfig> {
    let head: [u8; 23] = raw.get(..23)?.try_into().ok()?;
    if head[0] != 1 {
        return None;
    }
    let nal_length_size = (head[21] & 0x03) + 1;
    let mut at = 23;
    let mut arrays = Vec::new();
    for _ in 0..head[22] {
        let nal_type = raw.get(at)? & 0x3F;
        let count = usize::from(u16::from_be_bytes(
            raw.get(at + 1..at + 3)?.try_into().ok()?,
        ));
        at += 3;
        let mut units = Vec::new();
        for _ in 0..count {
            let len = usize::from(u16::from_be_bytes(raw.get(at..at + 2)?.try_into().ok()?));
            units.push(raw.get(at + 2..at + 2 + len)?.to_vec());
            at += 2 + len;
        }
        arrays.push((nal_type, units));
    }
    Some(HevcConfig {
        nal_length_size,
        arrays,
        raw: raw.to_vec(),
    })
}

/// Builds an HEVCDecoderConfigurationRecord (4-byte NAL lengths) from parameter sets
/// found in a byte stream (MPEG-TS, Annex B): profile, tier and level from the SPS's
/// `profile_tier_level` (H.265 §7.3.3), the sub-layer count and nesting flag from its
/// second byte; chroma format and bit depths are written as 4:2:0, 8 bits (decoders
/// read them from the SPS itself). `None` without a VPS, SPS and PPS.
pub fn hevc_config_from_sets(
    vps: &[Vec<u8>],
    sps: &[Vec<u8>],
    pps: &[Vec<u8>],
) -> Option<HevcConfig> {
    if vps.is_empty() || pps.is_empty() {
        return None;
    }
    let data = super::bits::rbsp(sps.first()?);
    let ptl: [u8; 12] = data.get(3..15)?.try_into().ok()?;
    let layers_byte = *data.get(2)?;
    let sub_layers = (layers_byte >> 1) & 7;
    let nested = layers_byte & 1;
    let mut raw = vec![1];
    raw.extend_from_slice(&ptl);
    raw.extend_from_slice(&[0xF0, 0x00, 0xFC, 0xFD, 0xF8, 0xF8, 0, 0]);
    raw.push(((sub_layers + 1) << 3) | (nested << 2) | 3);
    raw.push(3);
    for (nal_type, units) in [(32u8, vps), (33, sps), (34, pps)] {
        raw.push(0x80 | nal_type);
        raw.extend_from_slice(&u16::try_from(units.len()).ok()?.to_be_bytes());
        for unit in units {
            raw.extend_from_slice(&u16::try_from(unit.len()).ok()?.to_be_bytes());
            raw.extend_from_slice(unit);
        }
    }
    parse_hevc_config(&raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays() {
        let mut record = vec![1u8];
        record.extend_from_slice(&[0; 20]);
        record.push(0xF3); // lengthSizeMinusOne = 3
        record.push(2); // two arrays
        record.extend_from_slice(&[0xA0, 0, 1, 0, 3, 0x40, 0x01, 0x0C]); // VPS
        record.extend_from_slice(&[0x22, 0, 2, 0, 2, 0x44, 0x01, 0, 1, 0x44]); // 2 PPS
        let c = parse_hevc_config(&record).unwrap();
        assert_eq!(c.nal_length_size, 4);
        assert_eq!(c.units(32).count(), 1);
        assert_eq!(c.units(34).map(Vec::len).collect::<Vec<_>>(), vec![2, 1]);
        for cut in 0..record.len() {
            assert_eq!(parse_hevc_config(&record[..cut]), None, "cut at {cut}");
        }
    }
}
