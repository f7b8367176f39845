//! MPEG-2 transport stream demuxing (ISO/IEC 13818-1): one program's H.264/H.265 and AAC
//! elementary streams to protocol-neutral [`Input`]s — the frames an ingest adapter hands
//! a push, so HLS/TS recordings (playback), SRT pushes and the console read TS with one
//! demuxer. Pure: bytes in, inputs out; input may arrive split at any offset.
//!
//! - PSI: the PAT's first program, then its PMT (§2.4.4.3, §2.4.4.8). A section must fit
//!   in one packet (every muxer liverec meets writes them so); longer ones are skipped
//!   with a note.
//! - PES (§2.4.3.6): reassembled per PID until the next unit start, at most
//!   [`MAX_PES_BYTES`]; PTS/DTS are 33-bit, unwrapped across wrap-around, and given in
//!   ms (90 kHz ÷ 90, floor) from the stream's own origin.
//! - Video (stream types 0x1B, 0x24): Annex B access units become 4-byte length-prefixed
//!   NAL units; access unit delimiters are dropped, parameter sets go into the decoder
//!   configuration ([`crate::formats::codec::avc::avc_config_from_sets`], HEVC alike),
//!   announced as an [`Input::Config`] whenever they change. A keyframe holds an IDR
//!   (H.264) or IRAP (H.265) picture.
//! - Audio (0x0F): ADTS frames become raw AAC frames with their AudioSpecificConfig, the
//!   PES time advanced by 1024 samples per frame. MP3 (0x03, 0x04) and other streams are
//!   noted once as skipped.
//! - Garbage: bytes before a sync byte are skipped (noted once per run); a malformed
//!   packet or PES is skipped with a note. Nothing here panics on input.
//!
//! Written by hand: the Rust TS crates either demux to raw PES only or pull an async
//! runtime; liverec needs frames in its own media model.

use std::sync::Arc;

use bytes::Bytes;

use super::PACKET_BYTES;
use crate::formats::codec::aac::{parse_audio_specific_config, SAMPLE_RATES};
use crate::formats::codec::avc::avc_config_from_sets;
use crate::formats::codec::hevc::hevc_config_from_sets;
use crate::media::interleave::Expected;
use crate::media::{Codec, CodecConfig, Config, Frame, Input, Track, VideoConfig};

/// Largest PES reassembled (a 4K keyframe is a few MiB).
pub const MAX_PES_BYTES: usize = 16 * 1024 * 1024;
/// Most parameter sets of one kind kept (H.264 allows 32 SPS, H.265 16 VPS).
const MAX_SETS: usize = 32;
const SYNC: u8 = 0x47;
/// 2^33: the PTS/DTS wrap.
const WRAP_90K: i64 = 1 << 33;

/// What an elementary stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    H264,
    H265,
    Aac,
}

#[derive(Debug)]
struct Elementary {
    pid: u16,
    kind: Kind,
    pes: Vec<u8>,
    overflow: bool,
}

/// Unwraps 33-bit timestamps into a continuous 90 kHz clock.
#[derive(Debug, Default)]
struct Clock {
    last: Option<(i64, i64)>,
}

impl Clock {
    fn unwrap(&mut self, raw: i64) -> i64 {
        let value = match self.last {
            None => raw,
            Some((last_raw, last)) => {
                let mut delta = (raw - last_raw).rem_euclid(WRAP_90K);
                if delta >= WRAP_90K / 2 {
                    delta -= WRAP_90K;
                }
                last + delta
            }
        };
        self.last = Some((raw, value));
        value
    }
}

/// Parameter sets seen so far and the configuration they make.
#[derive(Debug, Default)]
struct VideoParams {
    vps: Vec<Vec<u8>>,
    sps: Vec<Vec<u8>>,
    pps: Vec<Vec<u8>>,
    config: Option<Arc<Config>>,
}

impl VideoParams {
    /// Keeps parameter set `nal` of kind `which` (0 VPS, 1 SPS, 2 PPS); the first of its
    /// kind in an access unit replaces the ones before when it differs. Whether the sets
    /// changed.
    fn take(&mut self, which: usize, nal: &[u8], first_in_unit: bool) -> bool {
        let list = match which {
            0 => &mut self.vps,
            1 => &mut self.sps,
            _ => &mut self.pps,
        };
        let mut changed = false;
        if first_in_unit && list.first().map(Vec::as_slice) != Some(nal) {
            list.clear();
            changed = true;
        }
        if !list.iter().any(|s| s == nal) && list.len() < MAX_SETS {
            list.push(nal.to_vec());
            changed = true;
        }
        changed
    }
}

/// The demuxer.
#[derive(Debug, Default)]
pub struct TsDemuxer {
    partial: Vec<u8>,
    offset: u64,
    pmt_pid: Option<u16>,
    streams: Vec<Elementary>,
    clock: Clock,
    video: VideoParams,
    audio: Option<Arc<Config>>,
    noted: Vec<String>,
    in_garbage: bool,
}

impl TsDemuxer {
    /// A demuxer waiting for a PAT.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tracks the program's PMT announced (of the stream types read).
    pub fn expected(&self) -> Expected {
        Expected {
            video: self.streams.iter().any(|s| s.kind != Kind::Aac),
            audio: self.streams.iter().any(|s| s.kind == Kind::Aac),
        }
    }

    /// Input bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Feeds bytes; what they complete is appended to `out`.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<Input>) {
        if !self.partial.is_empty() {
            let need = PACKET_BYTES - self.partial.len();
            let take = need.min(bytes.len());
            self.partial
                .extend_from_slice(bytes.get(..take).unwrap_or_default());
            bytes = bytes.get(take..).unwrap_or_default();
            if self.partial.len() < PACKET_BYTES {
                return;
            }
            let packet = std::mem::take(&mut self.partial);
            self.packet(&packet, out);
        }
        while !bytes.is_empty() {
            if bytes.first() != Some(&SYNC) {
                let skip = bytes.iter().position(|b| *b == SYNC).unwrap_or(bytes.len());
                self.garbage(skip, out);
                bytes = bytes.get(skip..).unwrap_or_default();
                continue;
            }
            self.in_garbage = false;
            match bytes.get(..PACKET_BYTES) {
                Some(packet) => {
                    self.packet(packet, out);
                    bytes = bytes.get(PACKET_BYTES..).unwrap_or_default();
                }
                None => {
                    self.partial.extend_from_slice(bytes);
                    return;
                }
            }
        }
    }

    /// The end of the input: what the last PES of each stream holds.
    pub fn finish(&mut self, out: &mut Vec<Input>) {
        for i in 0..self.streams.len() {
            self.flush(i, out);
        }
    }

    fn garbage(&mut self, skipped: usize, out: &mut Vec<Input>) {
        if !self.in_garbage {
            out.push(Input::Skipped(format!(
                "no MPEG-TS sync byte at offset {}: bytes skipped",
                self.offset
            )));
        }
        self.in_garbage = true;
        self.offset += skipped as u64;
    }

    fn note(&mut self, message: String, out: &mut Vec<Input>) {
        if !self.noted.contains(&message) {
            out.push(Input::Skipped(message.clone()));
            self.noted.push(message);
        }
    }

    fn packet(&mut self, p: &[u8], out: &mut Vec<Input>) {
        self.offset += PACKET_BYTES as u64;
        let (Some(&b1), Some(&b2), Some(&b3)) = (p.get(1), p.get(2), p.get(3)) else {
            return;
        };
        let unit_start = b1 & 0x40 != 0;
        let pid = (u16::from(b1 & 0x1F) << 8) | u16::from(b2);
        let control = (b3 >> 4) & 3;
        if control & 1 == 0 || b1 & 0x80 != 0 {
            return; // no payload, or marked erroneous
        }
        let start = if control & 2 != 0 {
            5 + usize::from(p.get(4).copied().unwrap_or(0))
        } else {
            4
        };
        let Some(payload) = p.get(start..) else {
            return self.note(
                format!("bad adaptation field at offset {}", self.offset),
                out,
            );
        };
        if pid == 0 {
            self.pat(payload, unit_start);
        } else if Some(pid) == self.pmt_pid {
            self.pmt(payload, unit_start, out);
        } else if let Some(i) = self.streams.iter().position(|s| s.pid == pid) {
            self.payload(i, payload, unit_start, out);
        }
    }

    fn pat(&mut self, payload: &[u8], unit_start: bool) {
        let Some(section) = section(payload, unit_start, 0x00) else {
            return;
        };
        let programs = section
            .get(8..section.len().saturating_sub(4))
            .unwrap_or_default();
        self.pmt_pid = programs
            .chunks_exact(4)
            .find(|p| {
                p.first()
                    .zip(p.get(1))
                    .is_some_and(|(a, b)| *a != 0 || *b != 0)
            })
            .and_then(|p| Some((u16::from(p.get(2)? & 0x1F) << 8) | u16::from(*p.get(3)?)));
    }

    fn pmt(&mut self, payload: &[u8], unit_start: bool, out: &mut Vec<Input>) {
        let Some(section) = section(payload, unit_start, 0x02) else {
            return;
        };
        let info = usize::from(u16::from_be_bytes([
            section.get(10).copied().unwrap_or(0) & 0x0F,
            section.get(11).copied().unwrap_or(0),
        ]));
        let end = section.len().saturating_sub(4);
        let mut at = 12 + info;
        let mut found = Vec::new();
        while let Some(entry) = section
            .get(at..(at + 5).min(end))
            .and_then(|e| <[u8; 5]>::try_from(e).ok())
        {
            let pid = (u16::from(entry[1] & 0x1F) << 8) | u16::from(entry[2]);
            let es_info = usize::from(u16::from_be_bytes([entry[3] & 0x0F, entry[4]]));
            at += 5 + es_info;
            match entry[0] {
                0x1B => found.push((pid, Kind::H264)),
                0x24 => found.push((pid, Kind::H265)),
                0x0F => found.push((pid, Kind::Aac)),
                other => self.note(
                    format!("stream type 0x{other:02x} (PID {pid}) is not read"),
                    out,
                ),
            }
        }
        for (pid, kind) in found {
            if !self.streams.iter().any(|s| s.pid == pid && s.kind == kind) {
                self.streams.retain(|s| s.pid != pid);
                self.streams.push(Elementary {
                    pid,
                    kind,
                    pes: Vec::new(),
                    overflow: false,
                });
            }
        }
    }

    fn payload(&mut self, i: usize, payload: &[u8], unit_start: bool, out: &mut Vec<Input>) {
        if unit_start {
            self.flush(i, out);
        }
        let Some(stream) = self.streams.get_mut(i) else {
            return;
        };
        if stream.pes.is_empty() && !unit_start {
            return; // joined mid-PES: wait for the next start
        }
        if stream.pes.len() + payload.len() > MAX_PES_BYTES {
            stream.overflow = true;
            return;
        }
        stream.pes.extend_from_slice(payload);
    }

    fn flush(&mut self, i: usize, out: &mut Vec<Input>) {
        let Some(stream) = self.streams.get_mut(i) else {
            return;
        };
        let mut pes = std::mem::take(&mut stream.pes);
        let (kind, overflow) = (stream.kind, std::mem::take(&mut stream.overflow));
        if pes.is_empty() {
            return;
        }
        self.unit(kind, overflow, &pes, out);
        // Give the buffer back: the next PES of this stream reuses its capacity.
        pes.clear();
        if let Some(stream) = self.streams.get_mut(i) {
            stream.pes = pes;
        }
    }

    fn unit(&mut self, kind: Kind, overflow: bool, pes: &[u8], out: &mut Vec<Input>) {
        if overflow {
            return self.note(format!("a PES over {MAX_PES_BYTES} bytes was skipped"), out);
        }
        let Some((pts, dts, data)) = pes_header(pes) else {
            return self.note(format!("malformed PES before offset {}", self.offset), out);
        };
        let dts = self.clock.unwrap(dts);
        let pts = dts + (pts - dts).rem_euclid(WRAP_90K).min(WRAP_90K / 2);
        match kind {
            Kind::H264 | Kind::H265 => self.video_unit(kind, dts, pts, data, out),
            Kind::Aac => self.audio_unit(pts, data, out),
        }
    }

    fn video_unit(&mut self, kind: Kind, dts: i64, pts: i64, data: &[u8], out: &mut Vec<Input>) {
        let hevc = kind == Kind::H265;
        let mut payload = Vec::with_capacity(data.len() + 16);
        let (mut keyframe, mut sets_changed) = (false, false);
        let mut seen = [false; 3];
        for nal in annex_b_units(data) {
            let first = nal.first().copied().unwrap_or(0);
            let t = if hevc {
                (first >> 1) & 0x3F
            } else {
                first & 0x1F
            };
            let set = match (hevc, t) {
                (false, 9) | (true, 35) => continue,
                (false, 7) | (true, 33) => Some(1),
                (false, 8) | (true, 34) => Some(2),
                (true, 32) => Some(0),
                _ => None,
            };
            if let Some(which) = set {
                let first_in_unit = seen
                    .get_mut(which)
                    .is_some_and(|s| !std::mem::replace(s, true));
                sets_changed |= self.video.take(which, nal, first_in_unit);
                continue;
            }
            keyframe |= if hevc { (16..=21).contains(&t) } else { t == 5 };
            payload.extend_from_slice(&u32::try_from(nal.len()).unwrap_or(0).to_be_bytes());
            payload.extend_from_slice(nal);
        }
        if sets_changed {
            self.video_config(hevc, out);
        }
        if payload.is_empty() {
            return;
        }
        let Some(config) = self.video.config.clone() else {
            return self.note("video before its parameter sets is skipped".into(), out);
        };
        out.push(Input::Frame(Frame {
            track: Track::Video,
            track_id: 0,
            codec: if hevc { Codec::H265 } else { Codec::H264 },
            dts_ms: dts.div_euclid(90),
            pts_ms: pts.div_euclid(90),
            keyframe,
            payload: Bytes::from(payload),
            config: Some(config),
            flv: None,
        }));
    }

    fn video_config(&mut self, hevc: bool, out: &mut Vec<Input>) {
        let v = &self.video;
        let config = if hevc {
            hevc_config_from_sets(&v.vps, &v.sps, &v.pps).map(VideoConfig::Hevc)
        } else {
            avc_config_from_sets(&v.sps, &v.pps).map(VideoConfig::Avc)
        };
        let Some(config) = config else {
            return; // not all sets yet
        };
        if self.video.config.as_ref().map(|c| &c.codec) == Some(&CodecConfig::Video(config.clone()))
        {
            return;
        }
        let config = Arc::new(Config {
            codec: CodecConfig::Video(config),
            flv: None,
        });
        out.push(Input::Config(Arc::clone(&config)));
        self.video.config = Some(config);
    }

    fn audio_unit(&mut self, pts: i64, mut data: &[u8], out: &mut Vec<Input>) {
        let mut time = pts;
        while !data.is_empty() {
            let Some(adts) = Adts::parse(data) else {
                return self.note(format!("malformed ADTS before offset {}", self.offset), out);
            };
            let frame = data.get(adts.header..adts.length).unwrap_or_default();
            data = data.get(adts.length..).unwrap_or_default();
            let config = self.audio_config(&adts, out);
            out.push(Input::Frame(Frame {
                track: Track::Audio,
                track_id: 0,
                codec: Codec::Aac,
                dts_ms: time.div_euclid(90),
                pts_ms: time.div_euclid(90),
                keyframe: true,
                payload: Bytes::copy_from_slice(frame),
                config,
                flv: None,
            }));
            time += 1024 * 90_000 / i64::from(adts.sample_rate.max(1));
        }
    }

    fn audio_config(&mut self, adts: &Adts, out: &mut Vec<Input>) -> Option<Arc<Config>> {
        if let Some(current) = &self.audio {
            if let CodecConfig::Audio(c) = &current.codec {
                if c.raw == adts.config {
                    return Some(Arc::clone(current));
                }
            }
        }
        let parsed = parse_audio_specific_config(&adts.config)?;
        let config = Arc::new(Config {
            codec: CodecConfig::Audio(parsed),
            flv: None,
        });
        out.push(Input::Config(Arc::clone(&config)));
        self.audio = Some(Arc::clone(&config));
        Some(config)
    }
}

/// A PSI section starting in this packet (pointer field skipped) with `table_id`, cut to
/// its length; `None` when it does not fit or is another table.
fn section(payload: &[u8], unit_start: bool, table_id: u8) -> Option<&[u8]> {
    if !unit_start {
        return None;
    }
    let pointer = usize::from(*payload.first()?);
    let section = payload.get(1 + pointer..)?;
    if *section.first()? != table_id {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([
        section.get(1)? & 0x0F,
        *section.get(2)?,
    ]));
    section.get(..3 + length)
}

/// PTS, DTS (90 kHz, raw 33-bit) and the payload of a PES packet.
fn pes_header(pes: &[u8]) -> Option<(i64, i64, &[u8])> {
    if pes.get(..3)? != [0, 0, 1] {
        return None;
    }
    let flags = *pes.get(7)?;
    let header_len = usize::from(*pes.get(8)?);
    let data = pes.get(9 + header_len..)?;
    let timestamp = |at: usize| -> Option<i64> {
        let b: [u8; 5] = pes.get(at..at + 5)?.try_into().ok()?;
        Some(
            (i64::from(b[0] >> 1 & 0x07) << 30)
                | (i64::from(b[1]) << 22)
                | (i64::from(b[2] >> 1) << 15)
                | (i64::from(b[3]) << 7)
                | i64::from(b[4] >> 1),
        )
    };
    let pts = if flags & 0x80 != 0 {
        timestamp(9)?
    } else {
        return None;
    };
    let dts = if flags & 0x40 != 0 {
        timestamp(14)?
    } else {
        pts
    };
    Some((pts, dts, data))
}

/// Offsets just after each `00 00 01` start code in `data`. Looks at every third byte
/// first: a byte above 1 cannot be part of a start code ending within the next two
/// bytes, so most of a slice is stepped over three bytes at a time.
fn start_codes(data: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut i = 2;
    while let Some(&b) = data.get(i) {
        if b > 1 {
            i += 3;
        } else if b == 0 {
            i += 1;
        } else if data.get(i - 2..i) == Some(&[0, 0]) {
            starts.push(i + 1);
            i += 3;
        } else {
            i += 3;
        }
    }
    starts
}

/// The NAL units of an Annex B byte stream (start codes and trailing zeros removed).
fn annex_b_units(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let starts = start_codes(data);
    let ends: Vec<usize> = starts
        .iter()
        .skip(1)
        .map(|s| s - 3)
        .chain([data.len()])
        .collect();
    starts.into_iter().zip(ends).filter_map(move |(s, e)| {
        let mut unit = data.get(s..e)?;
        while let Some((&0, rest)) = unit.split_last() {
            unit = rest;
        }
        (!unit.is_empty()).then_some(unit)
    })
}

/// One ADTS header (ISO/IEC 14496-3 §1.A.2.2).
struct Adts {
    header: usize,
    length: usize,
    sample_rate: u32,
    config: [u8; 2],
}

impl Adts {
    fn parse(data: &[u8]) -> Option<Self> {
        let h: [u8; 7] = data.get(..7)?.try_into().ok()?;
        if h[0] != 0xFF || h[1] & 0xF0 != 0xF0 {
            return None;
        }
        let header = if h[1] & 1 == 1 { 7 } else { 9 };
        let object_type = (h[2] >> 6) + 1;
        let frequency = (h[2] >> 2) & 0x0F;
        let channels = ((h[2] & 1) << 2) | (h[3] >> 6);
        let length =
            (usize::from(h[3] & 3) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5);
        let sample_rate = *SAMPLE_RATES.get(usize::from(frequency))?;
        if length < header || length > data.len() {
            return None;
        }
        let config = [
            (object_type << 3) | (frequency >> 1),
            ((frequency & 1) << 7) | (channels << 3),
        ];
        Some(Self {
            header,
            length,
            sample_rate,
            config,
        })
    }
}

#[cfg(test)]
#[path = "tests/demux.rs"]
mod tests;
