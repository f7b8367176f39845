//! Transport packets: PSI tables, PES packetisation, adaptation fields.

use super::{
    crc32_mpeg2, AUDIO_PID, PACKET_BYTES, PCR_DELAY_MS, PMT_PID, TIMESTAMP_OFFSET_MS, VIDEO_PID,
};
use crate::formats::flv::frames::{MediaFrame, Track};

/// 2^33: PTS/DTS/PCR base wrap.
const WRAP_90K: i64 = 1 << 33;

/// Which elementary streams the program has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsTracks {
    /// Video codec, if any: `true` for H.265.
    pub video: Option<bool>,
    /// Audio: `Some(true)` AAC (ADTS), `Some(false)` MP3.
    pub audio: Option<bool>,
}

/// Writes one program of up to one video and one audio stream.
#[derive(Debug)]
pub struct TsMuxer {
    tracks: TsTracks,
    counters: [u8; 4],
    pes: Vec<u8>,
    version: u8,
    /// Source ms of the last PCR written (PCRs never go backwards).
    last_pcr_ms: Option<i64>,
}

/// Longest gap between PCRs, ms: ISO/IEC 13818-1 §2.7.2 allows 100; low-frame-rate video
/// gets PCR-only packets in between, driven by the audio clock.
pub const MAX_PCR_GAP_MS: i64 = 80;

fn ticks(ms: i64) -> i64 {
    (ms + TIMESTAMP_OFFSET_MS)
        .saturating_mul(90)
        .rem_euclid(WRAP_90K)
}

fn timestamp_field(prefix: u8, t: i64) -> [u8; 5] {
    let t = t as u64;
    [
        prefix << 4 | ((t >> 29) as u8 & 0x0E) | 1,
        (t >> 22) as u8,
        ((t >> 14) as u8 & 0xFE) | 1,
        (t >> 7) as u8,
        ((t << 1) as u8 & 0xFE) | 1,
    ]
}

impl TsMuxer {
    /// A muxer for `tracks`.
    pub fn new(tracks: TsTracks) -> Self {
        Self {
            tracks,
            counters: [0; 4],
            pes: Vec::new(),
            version: 0,
            last_pcr_ms: None,
        }
    }

    /// Changes the program's streams; the next PMT carries a new version number.
    pub fn set_tracks(&mut self, tracks: TsTracks) {
        if tracks != self.tracks {
            self.tracks = tracks;
            self.version = (self.version + 1) & 0x1F;
        }
    }

    fn counter(&mut self, pid: u16) -> u8 {
        let slot = match pid {
            0 => 0,
            PMT_PID => 1,
            VIDEO_PID => 2,
            _ => 3,
        };
        let c = self.counters.get_mut(slot).map_or(0, |c| {
            let v = *c;
            *c = (v + 1) & 0x0F;
            v
        });
        c
    }

    /// Writes PAT and PMT (at the start of every segment).
    pub fn write_tables(&mut self, out: &mut Vec<u8>) {
        let pat = [
            0x00,
            0xB0,
            0x0D,
            0x00,
            0x01,
            0xC1,
            0x00,
            0x00,
            0x00,
            0x01,
            0xE0 | (PMT_PID >> 8) as u8,
            PMT_PID as u8,
        ];
        self.write_section(0, &pat, out);
        let pcr_pid = if self.tracks.video.is_some() {
            VIDEO_PID
        } else {
            AUDIO_PID
        };
        let mut streams = Vec::new();
        if let Some(hevc) = self.tracks.video {
            streams.extend_from_slice(&[
                if hevc { 0x24 } else { 0x1B },
                0xE0 | (VIDEO_PID >> 8) as u8,
                VIDEO_PID as u8,
                0xF0,
                0x00,
            ]);
        }
        if let Some(aac) = self.tracks.audio {
            streams.extend_from_slice(&[
                if aac { 0x0F } else { 0x03 },
                0xE0 | (AUDIO_PID >> 8) as u8,
                AUDIO_PID as u8,
                0xF0,
                0x00,
            ]);
        }
        let length = (9 + streams.len() + 4) as u16;
        let mut pmt = vec![
            0x02,
            0xB0 | (length >> 8) as u8,
            length as u8,
            0x00,
            0x01,
            0xC1 | self.version << 1,
            0x00,
            0x00,
        ];
        pmt.extend_from_slice(&[0xE0 | (pcr_pid >> 8) as u8, pcr_pid as u8, 0xF0, 0x00]);
        pmt.extend_from_slice(&streams);
        self.write_section(PMT_PID, &pmt, out);
    }

    fn write_section(&mut self, pid: u16, section: &[u8], out: &mut Vec<u8>) {
        let cc = self.counter(pid);
        let start = out.len();
        out.extend_from_slice(&[0x47, 0x40 | (pid >> 8) as u8, pid as u8, 0x10 | cc, 0x00]);
        out.extend_from_slice(section);
        out.extend_from_slice(&crc32_mpeg2(section).to_be_bytes());
        out.resize(start + PACKET_BYTES, 0xFF);
    }

    /// Writes one video access unit (`payload`: its Annex B pieces, see
    /// [`super::annex_b_pieces`]) or one audio frame (the ADTS header and frame, or the
    /// MP3 frame), the pieces in order; each payload byte is copied once, into `out`.
    pub fn write_frame(&mut self, frame: &MediaFrame, payload: &[&[u8]], out: &mut Vec<u8>) {
        let (pid, stream_id) = match frame.track {
            Track::Video => (VIDEO_PID, 0xE0),
            Track::Audio => (AUDIO_PID, 0xC0),
        };
        // MPEG-TS needs DTS <= PTS: a negative composition offset moves DTS back to PTS.
        let pts = ticks(frame.pts_ms);
        let dts = ticks(frame.dts_ms.min(frame.pts_ms));
        let mut pes = std::mem::take(&mut self.pes);
        pes.clear();
        pes.extend_from_slice(&[0, 0, 1, stream_id, 0, 0, 0x80]);
        if pts != dts {
            pes.extend_from_slice(&[0xC0, 10]);
            pes.extend_from_slice(&timestamp_field(3, pts));
            pes.extend_from_slice(&timestamp_field(1, dts));
        } else {
            pes.extend_from_slice(&[0x80, 5]);
            pes.extend_from_slice(&timestamp_field(2, pts));
        }
        let mut pieces = Pieces::new(payload);
        let length = pes.len() - 6 + pieces.left;
        let field = if length > 0xFFFF { 0 } else { length as u16 };
        if let Some(bytes) = pes.get_mut(4..6) {
            bytes.copy_from_slice(&field.to_be_bytes());
        }
        let pcr_track = if self.tracks.video.is_some() {
            Track::Video
        } else {
            Track::Audio
        };
        let pcr_ms = frame.dts_ms - PCR_DELAY_MS;
        let forward = self.last_pcr_ms.is_none_or(|last| pcr_ms > last);
        let due = self
            .last_pcr_ms
            .is_none_or(|last| pcr_ms - last > MAX_PCR_GAP_MS);
        if frame.track != pcr_track && forward && due && self.tracks.video.is_some() {
            self.pcr_only_packet(pcr_ms, out);
        }
        let pcr = (frame.track == pcr_track && forward).then(|| ticks(pcr_ms));
        if pcr.is_some() {
            self.last_pcr_ms = Some(pcr_ms);
        }
        self.packetize(
            pid,
            &pes,
            &mut pieces,
            pcr,
            frame.keyframe && frame.track == Track::Video,
            out,
        );
        self.pes = pes;
    }

    /// A packet on the video PID carrying only a PCR (adaptation field, no payload: the
    /// continuity counter does not advance, §2.4.3.3).
    fn pcr_only_packet(&mut self, pcr_ms: i64, out: &mut Vec<u8>) {
        let cc = self.counters.get(2).map_or(0, |c| (c + 15) & 0x0F);
        let base = ticks(pcr_ms) as u64;
        let start = out.len();
        out.extend_from_slice(&[
            0x47,
            (VIDEO_PID >> 8) as u8,
            VIDEO_PID as u8,
            0x20 | cc,
            183,
            0x10,
        ]);
        out.extend_from_slice(&pcr_field(base));
        out.resize(start + PACKET_BYTES, 0xFF);
        self.last_pcr_ms = Some(pcr_ms);
    }

    fn packetize(
        &mut self,
        pid: u16,
        header: &[u8],
        payload: &mut Pieces<'_>,
        pcr: Option<i64>,
        random_access: bool,
        out: &mut Vec<u8>,
    ) {
        let total = header.len() + payload.left;
        let mut written = 0;
        let mut first = true;
        loop {
            let left = total - written;
            let adaptation = adaptation_field(first.then_some((pcr, random_access)), left);
            let cc = self.counter(pid);
            let start = out.len();
            let control = if adaptation.is_some() { 0x30 } else { 0x10 };
            out.extend_from_slice(&[
                0x47,
                if first { 0x40 } else { 0 } | (pid >> 8) as u8,
                pid as u8,
                control | cc,
            ]);
            if let Some(field) = adaptation {
                out.push(field.len() as u8);
                out.extend_from_slice(&field);
            }
            let n = (PACKET_BYTES - (out.len() - start)).min(left);
            let from_header = header.len().saturating_sub(written).min(n);
            out.extend_from_slice(
                header
                    .get(written..written + from_header)
                    .unwrap_or_default(),
            );
            payload.copy(n - from_header, out);
            written += n;
            first = false;
            if written >= total {
                return;
            }
        }
    }
}

/// The 6 bytes of a PCR with base `base` (90 kHz) and extension 0 (§2.4.3.5).
fn pcr_field(base: u64) -> [u8; 6] {
    [
        (base >> 25) as u8,
        (base >> 17) as u8,
        (base >> 9) as u8,
        (base >> 1) as u8,
        ((base & 1) as u8) << 7 | 0x7E,
        0,
    ]
}

/// The adaptation field (without its length byte) of a packet with `left` bytes of PES
/// still to carry: the flags and PCR of a PES's first packet (`first`: its PCR and
/// random-access flag), and stuffing when the rest does not fill the packet.
fn adaptation_field(first: Option<(Option<i64>, bool)>, left: usize) -> Option<Vec<u8>> {
    let mut adaptation = first
        .filter(|(pcr, random_access)| pcr.is_some() || *random_access)
        .map(|(pcr, random_access)| {
            let flags = if random_access { 0x40 } else { 0 } | if pcr.is_some() { 0x10 } else { 0 };
            let mut field = vec![flags];
            if let Some(pcr) = pcr {
                field.extend_from_slice(&pcr_field(pcr as u64));
            }
            field
        });
    let room = PACKET_BYTES - 4 - adaptation.as_ref().map_or(0, |a| 1 + a.len());
    if left < room {
        let stuffing = room - left;
        match adaptation.as_mut() {
            Some(field) => field.resize(field.len() + stuffing, 0xFF),
            None if stuffing == 1 => adaptation = Some(Vec::new()),
            None => {
                let mut field = vec![0x00];
                field.resize(stuffing - 1, 0xFF);
                adaptation = Some(field);
            }
        }
    }
    adaptation
}

/// A read cursor over payload pieces.
struct Pieces<'a> {
    rest: &'a [&'a [u8]],
    /// Bytes of `rest[0]` already taken.
    at: usize,
    /// Bytes not yet taken.
    left: usize,
}

impl<'a> Pieces<'a> {
    fn new(pieces: &'a [&'a [u8]]) -> Self {
        Self {
            rest: pieces,
            at: 0,
            left: pieces.iter().map(|p| p.len()).sum(),
        }
    }

    /// Appends the next `n` bytes (fewer if the pieces run out) to `out`.
    fn copy(&mut self, mut n: usize, out: &mut Vec<u8>) {
        while n > 0 {
            let Some((first, later)) = self.rest.split_first() else {
                return;
            };
            let left = first.get(self.at..).unwrap_or_default();
            let take = left.len().min(n);
            out.extend_from_slice(left.get(..take).unwrap_or_default());
            n -= take;
            self.left -= take;
            if take == left.len() {
                self.rest = later;
                self.at = 0;
            } else {
                self.at += take;
            }
        }
    }
}
