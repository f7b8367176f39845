//! Audio-only AAC output: raw AAC frames from FLV wrapped in ADTS headers built from the
//! AudioSpecificConfig (ISO/IEC 14496-3 §1.A.2). Payload bytes are untouched; video is
//! ignored. ADTS has no timestamps: a player derives them from the frame count (1024
//! samples per frame), so a timestamp jump in the input cannot be represented — it is
//! counted in [`AdtsStats::discontinuities`] for the caller to report.

use super::flv::frames::{FrameEvent, Track};
use crate::formats::codec::aac::AacConfig;

/// What the muxer has written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdtsStats {
    /// Frames written.
    pub frames: u64,
    /// Bytes written.
    pub bytes: u64,
    /// DTS of the first frame written, ms.
    pub first_dts_ms: Option<i64>,
    /// DTS of the last frame written, ms.
    pub last_dts_ms: Option<i64>,
    /// Frames dropped (no AudioSpecificConfig yet, or not AAC, or too large for ADTS).
    pub dropped: u64,
    /// Timestamp jumps seen on the audio track.
    pub discontinuities: u64,
    /// AudioSpecificConfig changes seen after the first.
    pub config_changes: u64,
}

/// The ADTS muxer.
#[derive(Debug, Default)]
pub struct AdtsMuxer {
    config: Option<AacConfig>,
    stats: AdtsStats,
}

impl AdtsMuxer {
    /// A muxer waiting for an AudioSpecificConfig.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counters so far.
    pub fn stats(&self) -> &AdtsStats {
        &self.stats
    }

    /// The AAC configuration in effect.
    pub fn config(&self) -> Option<&AacConfig> {
        self.config.as_ref()
    }

    /// Feeds one reader event; appends ADTS bytes to `out`.
    pub fn push(&mut self, event: &FrameEvent, out: &mut Vec<u8>) {
        match event {
            FrameEvent::AudioConfig { config, changed } => {
                self.stats.config_changes += u64::from(*changed);
                self.config = Some(config.clone());
            }
            // Opus is not AAC: its frames are dropped, not wrapped in ADTS.
            FrameEvent::OpusConfig { .. } | FrameEvent::EntryConfig { .. } => self.config = None,
            FrameEvent::Discontinuity {
                track: Track::Audio,
                ..
            } => self.stats.discontinuities += 1,
            FrameEvent::Frame(frame) if frame.track == Track::Audio => {
                let header = self
                    .config
                    .as_ref()
                    .and_then(|c| c.adts_header(frame.data.len()));
                match header {
                    Some(header) => {
                        out.extend_from_slice(&header);
                        out.extend_from_slice(&frame.data);
                        self.stats.frames += 1;
                        self.stats.bytes += (header.len() + frame.data.len()) as u64;
                        self.stats.first_dts_ms.get_or_insert(frame.dts_ms);
                        self.stats.last_dts_ms = Some(frame.dts_ms);
                    }
                    None => self.stats.dropped += 1,
                }
            }
            _ => {}
        }
    }

    /// Duration of what was written, ms (frames × 1024 samples).
    pub fn duration_ms(&self) -> i64 {
        let rate = i64::from(self.config.as_ref().map_or(0, |c| c.sample_rate));
        if rate == 0 {
            return 0;
        }
        (self.stats.frames as i64 * 1024 * 1000) / rate
    }
}

/// Length of the prefix of an ADTS stream made of complete frames (ISO/IEC 14496-3
/// §1.A.2.2: a 7-byte header with the 12-bit sync word and a 13-bit frame length).
/// `read_at(offset, buf)` fills the 7-byte header at `offset` and says how many bytes
/// it read; `len` is the stream's length.
pub fn complete_prefix<E>(
    len: u64,
    mut read_at: impl FnMut(u64, &mut [u8; 7]) -> Result<usize, E>,
) -> Result<u64, E> {
    let mut at = 0u64;
    let mut header = [0u8; 7];
    while at + 7 <= len {
        if read_at(at, &mut header)? < 7 || header[0] != 0xFF || header[1] & 0xF0 != 0xF0 {
            break;
        }
        let frame = (u64::from(header[3] & 0x03) << 11)
            | (u64::from(header[4]) << 3)
            | u64::from(header[5] >> 5);
        if frame < 7 || at + frame > len {
            break;
        }
        at += frame;
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::codec::aac::parse_audio_specific_config;
    use crate::formats::flv::frames::MediaFrame;

    #[test]
    fn frames_before_config_are_dropped_and_payloads_kept() {
        let mut m = AdtsMuxer::new();
        let mut out = Vec::new();
        let frame = |dts| {
            FrameEvent::Frame(MediaFrame {
                track: Track::Audio,
                dts_ms: dts,
                pts_ms: dts,
                keyframe: true,
                data: vec![1, 2, 3].into(),
                offset: 0,
            })
        };
        m.push(&frame(0), &mut out);
        assert!(out.is_empty());
        let config = parse_audio_specific_config(&[0x11, 0x90]).unwrap();
        m.push(
            &FrameEvent::AudioConfig {
                config,
                changed: false,
            },
            &mut out,
        );
        m.push(&frame(21), &mut out);
        m.push(&frame(43), &mut out);
        assert_eq!(out.len(), 2 * (7 + 3));
        assert_eq!(&out[7..10], &[1, 2, 3]);
        assert_eq!(
            (
                m.stats().frames,
                m.stats().dropped,
                m.stats().first_dts_ms,
                m.stats().last_dts_ms
            ),
            (2, 1, Some(21), Some(43))
        );
        assert_eq!(m.duration_ms(), 42);
    }

    #[test]
    fn complete_prefix_of_cut_streams() {
        let frame = |len: usize| {
            let mut f = vec![0xFF, 0xF1, 0x50, 0x80, 0, 0x1F, 0xFC];
            f[3] |= ((len >> 11) & 0x03) as u8;
            f[4] = ((len >> 3) & 0xFF) as u8;
            f[5] = (((len & 0x07) << 5) as u8) | 0x1F;
            f.resize(len, 0x21);
            f
        };
        let stream: Vec<u8> = [frame(100), frame(7), frame(300)].concat();
        let prefix = |cut: usize| {
            complete_prefix(cut as u64, |at, buf: &mut [u8; 7]| {
                let rest = stream.get(at as usize..cut).unwrap_or_default();
                let n = rest.len().min(7);
                buf[..n].copy_from_slice(&rest[..n]);
                Ok::<usize, ()>(n)
            })
            .unwrap()
        };
        for cut in 0..=stream.len() {
            let want = match cut {
                0..=99 => 0,
                100..=106 => 100,
                107..=406 => 107,
                _ => 407,
            };
            assert_eq!(prefix(cut), want, "cut at {cut}");
        }
        let mut garbage = stream.clone();
        garbage[107] = 0;
        let n = complete_prefix(garbage.len() as u64, |at, buf: &mut [u8; 7]| {
            buf.copy_from_slice(&garbage[at as usize..at as usize + 7]);
            Ok::<usize, ()>(7)
        });
        assert_eq!(n, Ok(107), "stops at lost sync");
    }
}
