//! Opus: the identification header (`OpusHead`, RFC 7845 §5.1) Enhanced RTMP sends as
//! the sequence start, and the MP4 `dOps` box made from it (Opus in ISOBMFF §4.3.2:
//! the same fields, big-endian, version 0).

/// An Opus identification header's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusConfig {
    /// Output channels.
    pub channels: u8,
    /// Samples (at 48 kHz) to drop at the start.
    pub pre_skip: u16,
    /// The input's sample rate, Hz (informational).
    pub input_sample_rate: u32,
    /// Output gain, Q7.8 dB.
    pub output_gain: i16,
    /// Channel mapping family (0: mono/stereo).
    pub mapping_family: u8,
    /// The mapping table after the family (stream count, coupled count, mapping).
    pub mapping: Vec<u8>,
    /// The header as received.
    pub raw: Vec<u8>,
}

/// Opus's output rate, Hz.
pub const OPUS_RATE: u32 = 48_000;

/// Parses an `OpusHead` (version 1.x).
pub fn parse_opus_head(raw: &[u8]) -> Option<OpusConfig> {
    if raw.get(..8)? != b"OpusHead" || raw.get(8)? >> 4 != 0 {
        return None;
    }
    let le16 = |at: usize| {
        raw.get(at..at + 2)
            .and_then(|b| b.try_into().ok())
            .map(u16::from_le_bytes)
    };
    let input_sample_rate = u32::from_le_bytes(raw.get(12..16)?.try_into().ok()?);
    let config = OpusConfig {
        channels: *raw.get(9)?,
        pre_skip: le16(10)?,
        input_sample_rate,
        output_gain: le16(16)? as i16,
        mapping_family: *raw.get(18)?,
        mapping: raw.get(19..).unwrap_or_default().to_vec(),
        raw: raw.to_vec(),
    };
    (config.channels > 0).then_some(config)
}

impl OpusConfig {
    /// The `dOps` box body.
    pub fn dops_body(&self) -> Vec<u8> {
        let mut out = vec![0, self.channels];
        out.extend_from_slice(&self.pre_skip.to_be_bytes());
        out.extend_from_slice(&self.input_sample_rate.to_be_bytes());
        out.extend_from_slice(&self.output_gain.to_be_bytes());
        out.push(self.mapping_family);
        if self.mapping_family != 0 {
            out.extend_from_slice(&self.mapping);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_head_to_dops() {
        let mut head = b"OpusHead".to_vec();
        head.extend_from_slice(&[1, 2, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 0]);
        let config = parse_opus_head(&head).unwrap();
        assert_eq!((config.channels, config.pre_skip), (2, 312));
        assert_eq!(config.input_sample_rate, 48_000);
        assert_eq!(
            config.dops_body(),
            [0, 2, 0x01, 0x38, 0, 0, 0xBB, 0x80, 0, 0, 0]
        );
        assert!(parse_opus_head(b"OpusTags").is_none());
        assert!(parse_opus_head(&head[..12]).is_none());
    }
}
