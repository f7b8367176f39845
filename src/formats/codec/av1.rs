//! AV1: AV1CodecConfigurationRecord (`av1C`, AV1 in ISOBMFF §2.3) as Enhanced RTMP and
//! MP4 carry it, and VP9's VPCodecConfigurationRecord (`vpcC`, VP Codec ISO Media File
//! Format Binding §2.3) — kept as received; only what recorders check is read.

/// An AV1 or VP9 decoder configuration record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordConfig {
    /// The record as received (for `av1C`: marker, version and fields, then the
    /// configuration OBUs; for `vpcC`: the box body, version and flags first).
    pub raw: Vec<u8>,
}

/// Parses an AV1CodecConfigurationRecord: marker 1, version 1, at least 4 bytes.
pub fn parse_av1_config(raw: &[u8]) -> Option<RecordConfig> {
    let first = *raw.first()?;
    (first == 0x81 && raw.len() >= 4).then(|| RecordConfig { raw: raw.to_vec() })
}

/// Parses a `vpcC` body: version 1, flags, then an 8-byte record at least.
pub fn parse_vp9_config(raw: &[u8]) -> Option<RecordConfig> {
    let version = *raw.first()?;
    (version == 1 && raw.len() >= 12).then(|| RecordConfig { raw: raw.to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_checked_and_kept() {
        let av1c = [0x81, 0x00, 0x0c, 0x00, 0x0a, 0x0b];
        assert_eq!(parse_av1_config(&av1c).unwrap().raw, av1c);
        assert!(parse_av1_config(&[0x01, 0, 0, 0]).is_none());
        assert!(parse_av1_config(&[0x81]).is_none());
        let vpcc = [1, 0, 0, 0, 0, 0x14, 0x87, 2, 2, 2, 0, 0];
        assert!(parse_vp9_config(&vpcc).is_some());
        assert!(parse_vp9_config(&vpcc[..8]).is_none());
    }
}
