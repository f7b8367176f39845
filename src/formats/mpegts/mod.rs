//! MPEG-2 transport stream muxing (ISO/IEC 13818-1) for HLS segments and `.ts` files
//! (and demuxing: [`demux`]):
//! PAT/PMT with CRC-32 (§2.4.4), PES with PTS/DTS (§2.4.3.6), PCR (§2.4.3.5),
//! continuity counters, random-access indicators. Pure: frames in, 188-byte packets out.
//!
//! Payloads are copied untouched apart from the framing a transport stream requires:
//! H.264/H.265 length prefixes become Annex B start codes, an access unit delimiter
//! starts each access unit, and the parameter sets (VPS/SPS/PPS) from the FLV sequence
//! header precede every keyframe that does not carry them; AAC frames get ADTS headers.
//!
//! Timestamps: `PTS = (pts_ms + 1400) × 90` and likewise DTS, modulo 2^33; PCR runs
//! 700 ms behind DTS — the same constant offset and delay ffmpeg uses by default, so
//! every output timestamp is the source millisecond value × 90 plus one documented
//! constant ([`TIMESTAMP_OFFSET_MS`]).

mod annexb;
pub mod demux;
mod packet;
pub mod samples;

pub use annexb::annex_b_pieces;
pub use demux::TsDemuxer;
pub use packet::{TsMuxer, TsTracks};

/// Added to every source timestamp before scaling to 90 kHz, ms.
pub const TIMESTAMP_OFFSET_MS: i64 = 1400;
/// PCR lead before DTS, ms.
pub const PCR_DELAY_MS: i64 = 700;
/// Transport packet size.
pub const PACKET_BYTES: usize = 188;
/// PID of the program map table.
pub const PMT_PID: u16 = 0x1000;
/// PID of the video elementary stream.
pub const VIDEO_PID: u16 = 0x100;
/// PID of the audio elementary stream.
pub const AUDIO_PID: u16 = 0x101;

/// CRC-32/MPEG-2 (polynomial 0x04C11DB7, no reflection), ISO/IEC 13818-1 Annex A.
pub fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                crc << 1 ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc_check_value() {
        assert_eq!(super::crc32_mpeg2(b"123456789"), 0x0376_E6E7);
    }
}
