//! Audio codecs whose MP4 sample entry comes from the stream's own headers rather than
//! from a decoder configuration the push sends: AC-3 (`ac-3` + `dac3`, ETSI TS 102 366
//! Annex F.4, from the first sync frame's BSI §4.4.2), E-AC-3 (`ec-3` + `dec3`, Annex
//! F.6, from the first independent frame's BSI §E.1.2.2), FLAC (`fLaC` + `dfLa`, from the
//! STREAMINFO block Enhanced RTMP's SequenceStart carries, RFC 9639 §8.2) and MP3
//! (`mp4a` with object type 0x6B, from a frame header, ISO/IEC 11172-3 §2.4.2.3). Only
//! the fields those boxes hold are read.

use super::bits::BitReader;

/// See the module doc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioEntry {
    /// AC-3.
    Ac3(Ac3Info),
    /// E-AC-3.
    Eac3(Eac3Info),
    /// FLAC.
    Flac(FlacInfo),
    /// MP3.
    Mp3(Mp3Info),
}

/// The `dac3` fields of an AC-3 stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ac3Info {
    /// Sample rate code (0: 48 kHz, 1: 44.1 kHz, 2: 32 kHz).
    pub fscod: u8,
    /// Bit stream identification.
    pub bsid: u8,
    /// Bit stream mode.
    pub bsmod: u8,
    /// Audio coding mode (channel layout).
    pub acmod: u8,
    /// LFE channel present.
    pub lfeon: bool,
    /// `frmsizecod >> 1`.
    pub bit_rate_code: u8,
}

/// The `dec3` fields of an E-AC-3 stream (one independent substream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eac3Info {
    /// Data rate, kbit/s.
    pub data_rate: u16,
    /// Sample rate code (3: reduced rates, see `sample_rate`).
    pub fscod: u8,
    /// Bit stream identification.
    pub bsid: u8,
    /// Audio coding mode.
    pub acmod: u8,
    /// LFE channel present.
    pub lfeon: bool,
    /// Sample rate, Hz.
    pub sample_rate: u32,
}

/// A FLAC stream's STREAMINFO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlacInfo {
    /// The 34-byte STREAMINFO block body.
    pub streaminfo: Vec<u8>,
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// Channels.
    pub channels: u8,
    /// Bits per sample.
    pub bits_per_sample: u8,
}

/// An MP3 stream's rate and channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mp3Info {
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// Channels (1 or 2).
    pub channels: u8,
}

/// Channels of each AC-3 `acmod` (LFE not counted).
const ACMOD_CHANNELS: [u8; 8] = [2, 1, 2, 3, 3, 4, 4, 5];
/// STREAMINFO's length.
pub const STREAMINFO_BYTES: usize = 34;

impl AudioEntry {
    /// Sample rate, Hz.
    pub fn sample_rate(&self) -> u32 {
        match self {
            AudioEntry::Ac3(a) => [48_000, 44_100, 32_000]
                .get(usize::from(a.fscod))
                .copied()
                .unwrap_or(48_000),
            AudioEntry::Eac3(e) => e.sample_rate,
            AudioEntry::Flac(f) => f.sample_rate,
            AudioEntry::Mp3(m) => m.sample_rate,
        }
    }

    /// Channels (LFE included).
    pub fn channels(&self) -> u8 {
        let ac = |acmod: u8, lfe: bool| {
            ACMOD_CHANNELS.get(usize::from(acmod)).copied().unwrap_or(2) + u8::from(lfe)
        };
        match self {
            AudioEntry::Ac3(a) => ac(a.acmod, a.lfeon),
            AudioEntry::Eac3(e) => ac(e.acmod, e.lfeon),
            AudioEntry::Flac(f) => f.channels,
            AudioEntry::Mp3(m) => m.channels,
        }
    }

    /// The codec's name in messages.
    pub fn label(&self) -> &'static str {
        match self {
            AudioEntry::Ac3(_) => "AC-3",
            AudioEntry::Eac3(_) => "E-AC-3",
            AudioEntry::Flac(_) => "FLAC",
            AudioEntry::Mp3(_) => "MP3",
        }
    }

    /// The codec's short name (index, callbacks).
    pub fn name(&self) -> &'static str {
        match self {
            AudioEntry::Ac3(_) => "ac3",
            AudioEntry::Eac3(_) => "eac3",
            AudioEntry::Flac(_) => "flac",
            AudioEntry::Mp3(_) => "mp3",
        }
    }
}

/// Reads the header of an AC-3 or E-AC-3 sync frame (`frame` starts with 0x0B77).
pub fn parse_ac3_frame(frame: &[u8]) -> Option<AudioEntry> {
    if frame.get(..2)? != [0x0B, 0x77] {
        return None;
    }
    // bsid sits at the same place in both: byte 5's top 5 bits.
    let bsid = frame.get(5)? >> 3;
    match bsid {
        0..=10 => parse_ac3(frame),
        11..=16 => parse_eac3(frame),
        _ => None,
    }
}

fn parse_ac3(frame: &[u8]) -> Option<AudioEntry> {
    let mut r = BitReader::new(frame.get(4..)?);
    let fscod = r.bits(2)? as u8;
    let frmsizecod = r.bits(6)? as u8;
    let bsid = r.bits(5)? as u8;
    let bsmod = r.bits(3)? as u8;
    let acmod = r.bits(3)? as u8;
    if acmod & 1 != 0 && acmod != 1 {
        r.skip(2)?; // cmixlev
    }
    if acmod & 4 != 0 {
        r.skip(2)?; // surmixlev
    }
    if acmod == 2 {
        r.skip(2)?; // dsurmod
    }
    let lfeon = r.bit()? == 1;
    (fscod < 3 && frmsizecod < 38).then_some(AudioEntry::Ac3(Ac3Info {
        fscod,
        bsid,
        bsmod,
        acmod,
        lfeon,
        bit_rate_code: frmsizecod >> 1,
    }))
}

fn parse_eac3(frame: &[u8]) -> Option<AudioEntry> {
    let mut r = BitReader::new(frame.get(2..)?);
    let strmtyp = r.bits(2)?;
    r.skip(3)?; // substreamid
    let frmsiz = r.bits(11)?;
    let fscod = r.bits(2)? as u8;
    let (sample_rate, blocks) = if fscod == 3 {
        let fscod2 = r.bits(2)?;
        let rate = *[24_000, 22_050, 16_000].get(fscod2 as usize)?;
        (rate, 6)
    } else {
        let numblkscod = r.bits(2)?;
        let rate = *[48_000u32, 44_100, 32_000].get(usize::from(fscod))?;
        (rate, *[1u32, 2, 3, 6].get(numblkscod as usize)?)
    };
    let acmod = r.bits(3)? as u8;
    let lfeon = r.bit()? == 1;
    let bsid = r.bits(5)? as u8;
    if strmtyp == 3 {
        return None; // reserved
    }
    let frame_bytes = u64::from(frmsiz + 1) * 2;
    let frames_per_s = f64::from(sample_rate) / f64::from(blocks * 256);
    let data_rate = (frame_bytes as f64 * 8.0 * frames_per_s / 1000.0).round() as u16;
    Some(AudioEntry::Eac3(Eac3Info {
        data_rate,
        fscod,
        bsid,
        acmod,
        lfeon,
        sample_rate,
    }))
}

/// Reads a STREAMINFO from an Enhanced RTMP FLAC SequenceStart body: the block alone,
/// the block with its metadata header, or `fLaC` and the header first.
pub fn parse_flac_streaminfo(body: &[u8]) -> Option<AudioEntry> {
    let block = match body.len() {
        STREAMINFO_BYTES => body,
        n if n >= STREAMINFO_BYTES + 8 && body.starts_with(b"fLaC") => body.get(8..42)?,
        n if n >= STREAMINFO_BYTES + 4 && body.first()? & 0x7F == 0 => body.get(4..38)?,
        _ => return None,
    };
    let mut r = BitReader::new(block.get(10..)?);
    let sample_rate = r.bits(20)?;
    let channels = r.bits(3)? as u8 + 1;
    let bits_per_sample = r.bits(5)? as u8 + 1;
    (sample_rate > 0).then(|| {
        AudioEntry::Flac(FlacInfo {
            streaminfo: block.to_vec(),
            sample_rate,
            channels,
            bits_per_sample,
        })
    })
}

/// Reads an MPEG audio Layer III frame header.
pub fn parse_mp3_frame(frame: &[u8]) -> Option<AudioEntry> {
    let mut r = BitReader::new(frame);
    if r.bits(11)? != 0x7FF {
        return None;
    }
    let version = r.bits(2)?;
    let layer = r.bits(2)?;
    r.skip(1 + 4)?; // protection, bit rate
    let rate_index = r.bits(2)? as usize;
    r.skip(2)?; // padding, private
    let mode = r.bits(2)?;
    let rates: [u32; 3] = match version {
        3 => [44_100, 48_000, 32_000],
        2 => [22_050, 24_000, 16_000],
        0 => [11_025, 12_000, 8_000],
        _ => return None,
    };
    (layer == 1).then_some(())?;
    Some(AudioEntry::Mp3(Mp3Info {
        sample_rate: *rates.get(rate_index)?,
        channels: if mode == 3 { 1 } else { 2 },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ac3_eac3_flac_and_mp3_headers() {
        // FFmpeg's AC-3 (48 kHz, stereo... here mono 1/0 with the test's sine).
        let ac3 = [0x0B, 0x77, 0x48, 0x0D, 0x0C, 0x40, 0x2F, 0x84, 0x2B];
        let AudioEntry::Ac3(a) = parse_ac3_frame(&ac3).unwrap() else {
            panic!("AC-3")
        };
        assert_eq!((a.fscod, a.bsid, a.bit_rate_code), (0, 8, 6));
        assert_eq!(parse_ac3_frame(&ac3).unwrap().sample_rate(), 48_000);
        // E-AC-3: independent, frmsiz 0xBF (384 bytes), 48 kHz, 6 blocks, 1/0, bsid 16.
        let eac3 = [0x0B, 0x77, 0x00, 0xBF, 0x32, 0x87, 0xC0, 0x00];
        let AudioEntry::Eac3(e) = parse_ac3_frame(&eac3).unwrap() else {
            panic!("E-AC-3")
        };
        assert_eq!((e.fscod, e.bsid, e.acmod, e.lfeon), (0, 16, 1, false));
        assert_eq!(e.data_rate, 96, "384 bytes every 32 ms");
        // FLAC STREAMINFO: 48 kHz, 1 channel, 16 bits.
        let mut info = vec![0x04, 0, 0x04, 0, 0, 0, 0, 0, 0, 0];
        info.extend_from_slice(&[0x0B, 0xB8, 0x00, 0xF0]);
        info.resize(STREAMINFO_BYTES, 0);
        let flac = parse_flac_streaminfo(&info).unwrap();
        assert_eq!((flac.sample_rate(), flac.channels()), (48_000, 1));
        let AudioEntry::Flac(f) = flac else { panic!() };
        assert_eq!(f.bits_per_sample, 16);
        let mut with_marker = b"fLaC\x80\x00\x00\x22".to_vec();
        with_marker.extend_from_slice(&info);
        assert_eq!(
            parse_flac_streaminfo(&with_marker).unwrap().sample_rate(),
            48_000
        );
        // MP3: MPEG-1 Layer III, 48 kHz, mono; MPEG-2, 22.05 kHz, stereo.
        let mp3 = parse_mp3_frame(&[0xFF, 0xFB, 0x54, 0xC4]).unwrap();
        assert_eq!((mp3.sample_rate(), mp3.channels()), (48_000, 1));
        let mpeg2 = parse_mp3_frame(&[0xFF, 0xF3, 0x80, 0x44]).unwrap();
        assert_eq!((mpeg2.sample_rate(), mpeg2.channels()), (22_050, 2));
        assert!(
            parse_mp3_frame(&[0xFF, 0xFD, 0x54, 0xC4]).is_none(),
            "layer II"
        );
        assert!(parse_ac3_frame(&[0x0B, 0x77]).is_none());
        assert!(parse_flac_streaminfo(&[0; 10]).is_none());
    }
}
