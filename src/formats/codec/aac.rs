//! AAC: AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1) and ADTS headers (§1.A.2.2).

/// Sample rates by `samplingFrequencyIndex`.
pub const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// The parts of an AudioSpecificConfig a remuxer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AacConfig {
    /// `audioObjectType` (2 = AAC-LC, 5 = SBR, 29 = PS).
    pub object_type: u8,
    /// `samplingFrequencyIndex` (15: explicit rate).
    pub frequency_index: u8,
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// `channelConfiguration`.
    pub channels: u8,
    /// The record as received.
    pub raw: Vec<u8>,
}

/// Parses an AudioSpecificConfig.
pub fn parse_audio_specific_config(raw: &[u8]) -> Option<AacConfig> {
    let mut r = super::bits::BitReader::new(raw);
    let mut object_type = r.bits(5)? as u8;
    if object_type == 31 {
        object_type = 32 + r.bits(6)? as u8;
    }
    let frequency_index = r.bits(4)? as u8;
    let sample_rate = if frequency_index == 15 {
        r.bits(24)?
    } else {
        *SAMPLE_RATES.get(usize::from(frequency_index))?
    };
    let channels = r.bits(4)? as u8;
    Some(AacConfig {
        object_type,
        frequency_index,
        sample_rate,
        channels,
        raw: raw.to_vec(),
    })
}

/// Largest raw AAC frame an ADTS header can describe (13-bit length minus the header).
pub const MAX_ADTS_PAYLOAD: usize = 8191 - 7;

impl AacConfig {
    /// The 7-byte ADTS header for a raw frame of `payload_len` bytes; `None` when ADTS
    /// cannot describe this configuration (explicit sample rate, channel configuration 0
    /// (a PCE) or above 7, object type above 4 —
    /// SBR/PS streams are written as their AAC-LC core, which every decoder upsamples).
    pub fn adts_header(&self, payload_len: usize) -> Option<[u8; 7]> {
        if self.frequency_index > 12
            || payload_len > MAX_ADTS_PAYLOAD
            || !(1..=7).contains(&self.channels)
        {
            return None;
        }
        let profile = match self.object_type {
            1..=4 => self.object_type - 1,
            5 | 29 => 1,
            _ => return None,
        };
        let len = (payload_len + 7) as u16;
        let ch = self.channels & 0x07;
        Some([
            0xFF,
            0xF1,
            profile << 6 | self.frequency_index << 2 | ch >> 2,
            (ch & 3) << 6 | (len >> 11) as u8,
            (len >> 3) as u8,
            ((len & 7) as u8) << 5 | 0x1F,
            0xFC,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_and_adts() {
        // AAC-LC, 48 kHz, stereo: 00010 0011 0010 000 → 0x11 0x90
        let c = parse_audio_specific_config(&[0x11, 0x90]).unwrap();
        assert_eq!((c.object_type, c.sample_rate, c.channels), (2, 48000, 2));
        let h = c.adts_header(100).unwrap();
        assert_eq!(h, [0xFF, 0xF1, 0x4C, 0x80, 0x0D, 0x7F, 0xFC]);
        // 44.1 kHz mono
        let c = parse_audio_specific_config(&[0x12, 0x08]).unwrap();
        assert_eq!((c.sample_rate, c.channels), (44100, 1));
        assert_eq!(c.adts_header(MAX_ADTS_PAYLOAD + 1), None);
        assert_eq!(parse_audio_specific_config(&[0x11]), None);
        let explicit = parse_audio_specific_config(&[0x17, 0x80, 0x00, 0x7D, 0x00, 0x10]).unwrap();
        assert_eq!(
            (explicit.frequency_index, explicit.adts_header(10)),
            (15, None)
        );
    }
}
