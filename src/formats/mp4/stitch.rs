//! One moov-first MP4 stitched from samples that live in other files: a *virtual* file
//! of `ftyp` + `moov` + `mdat` whose head is built in memory and whose `mdat` is a list of
//! [`Extent`]s — byte ranges of the source files, in output order. A server answers any
//! byte range of it ([`Stitched::reads`]) without writing the file anywhere.
//!
//! Why moov-first and not fragmented MP4 with a `sidx`: a browser's `<video>` seeks in a
//! progressive MP4 by asking for the byte range its sample tables point to, so the file
//! plays and seeks while it downloads, with one request per seek, and every player and
//! tool reads it; a `sidx` only indexes fragments and still needs MSE or a player that
//! honours it. The price is that the tables come before the first byte: they are built
//! from the sources' own indexes (an MP4's `moov`, an FLV's tags), not from the samples.
//!
//! Rules:
//! - Time is milliseconds on a wall clock (the recordings' start times plus media time),
//!   both tracks at the 1 ms timescale of liverec's MP4s. Video begins at the last sync
//!   sample at or before `start`, audio at the last frame at or before it; samples whose
//!   decode time reaches `end` are left out. An edit list (§8.6.6) makes playback begin at
//!   `start` exactly.
//! - Samples come in *pieces* (one source recording each). Within a piece a sample lasts
//!   until the next one; the last sample of a piece lasts as long as the one before it.
//!   Between pieces the timeline closes the gap: the next piece starts where the previous
//!   one ended, on both tracks alike, so a range over a break plays straight through
//!   (the listing says where the breaks are). A piece's start and end are decode times
//!   ([`Join::Decode`], the server's range playback, whose listing counts so) or
//!   presentation times ([`Join::Presentation`]: decode time + composition offset, so a
//!   B-frame delay does not lengthen the join), or not joined at all ([`Join::Keep`]:
//!   pieces the caller placed on one timeline — the console's clip export).
//! - Output samples follow the sources' own layout (by source, then offset; each track's
//!   samples stay in decode order): a range of the output is a few long reads of each
//!   source, and the tracks are as interleaved as the sources had them. A chunk is a run
//!   of one track's samples; contiguous source bytes are one extent.
//! - One configuration per track: the caller cuts the range where a configuration
//!   changes.
//!
//! Memory: the sample tables (≈ 10 bytes per sample) and one extent per run of
//! contiguous source bytes (24 bytes; one per sample for FLV sources, a few per second
//! for MP4 sources): ≈ 3–6 MB per hour of 30 fps video with AAC.
//!
//! This is liverec's own code: no crate builds sample tables over foreign files.

use mp4_atom::{
    Co64, Ctts, CttsEntry, Edts, Elst, ElstEntry, Encode, Moov, Mvhd, Stco, Stsc, StscEntry, Stss,
    Stsz, StszSamples, Stts, SttsEntry, Trak,
};

use super::{box_err, ftyp, traks, Mp4Error, Mp4Tracks, AUDIO_TRACK, TIMESCALE};
use crate::media::Track;

/// Longest sample duration taken from the next sample's time, ms; a longer hole inside
/// a piece (a stalled encoder) keeps the previous duration and closes the hole.
pub const MAX_SAMPLE_MS: i64 = 10_000;

/// One sample of a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleRef {
    /// Decode time, wall-clock ms.
    pub dts_ms: i64,
    /// Composition offset (PTS − DTS), ms.
    pub cts_ms: i32,
    /// Bytes.
    pub size: u32,
    /// A sync sample (video keyframe; every audio frame).
    pub sync: bool,
    /// Which source file holds it (the caller's index).
    pub source: u32,
    /// Where in that file its bytes start.
    pub offset: u64,
}

/// The samples of one source recording, each track in decode order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Piece {
    /// Video samples.
    pub video: Vec<SampleRef>,
    /// Audio samples.
    pub audio: Vec<SampleRef>,
}

/// Source bytes at an output position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// Output offset.
    pub at: u64,
    /// Source file.
    pub source: u32,
    /// Offset in the source.
    pub offset: u64,
    /// Bytes.
    pub len: u64,
}

/// What serving a byte range takes, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// Bytes of the head (`ftyp`, `moov`, `mdat` header).
    Head(std::ops::Range<usize>),
    /// Bytes of a source file.
    Source {
        /// Source file.
        source: u32,
        /// Offset in it.
        offset: u64,
        /// Bytes.
        len: u64,
    },
}

/// The virtual file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stitched {
    /// `ftyp` + `moov` + `mdat` header.
    pub head: Vec<u8>,
    /// The `mdat` payload, in output order.
    pub extents: Vec<Extent>,
    /// Total length.
    pub len: u64,
    /// Presentation length (the edit), ms.
    pub duration_ms: i64,
}

/// One track's samples on the output timeline.
#[derive(Debug, Default)]
struct Laid {
    samples: Vec<(SampleRef, i64, u32)>, // (source sample, output dts, duration)
}

/// Lays pieces end to end; returns each track's samples with output times and the
/// output times of `start` and `end`.
fn lay_out(pieces: &[Piece], start_ms: i64, end_ms: i64, join: Join) -> ([Laid; 2], i64, i64) {
    let mut laid = [Laid::default(), Laid::default()];
    let mut out_end: Option<i64> = None;
    let (mut start_out, mut end_out) = (None, start_ms);
    for piece in pieces {
        let tracks = [&piece.video, &piece.audio];
        let last = tracks
            .iter()
            .filter_map(|s| s.last().map(|x| x.dts_ms))
            .max();
        if last.is_none_or(|l| l < start_ms) {
            continue; // nothing of it in the range
        }
        let firsts: Vec<usize> = tracks.iter().map(|s| first_at(s, start_ms)).collect();
        let piece_start = tracks
            .iter()
            .zip(&firsts)
            .filter_map(|(s, &i)| s.get(i).map(|x| x.dts_ms + join.cts(x)))
            .min();
        let Some(piece_start) = piece_start.filter(|p| *p < end_ms) else {
            continue;
        };
        let shift = match join {
            Join::Keep => 0,
            _ => out_end.map_or(0, |e| piece_start - e),
        };
        start_out.get_or_insert(start_ms.max(piece_start) - shift);
        let mut piece_end = i64::MIN;
        for (t, (samples, &first)) in tracks.iter().zip(&firsts).enumerate() {
            let kept = samples.get(first..).unwrap_or_default();
            let kept: Vec<&SampleRef> = kept.iter().take_while(|s| s.dts_ms < end_ms).collect();
            let mut previous = 0i64;
            for (i, s) in kept.iter().enumerate() {
                let next = kept.get(i + 1).map(|n| n.dts_ms - s.dts_ms);
                let duration = next
                    .filter(|d| (0..=MAX_SAMPLE_MS).contains(d))
                    .unwrap_or(previous.max(1));
                previous = duration;
                if let Some(slot) = laid.get_mut(t) {
                    let out = s.dts_ms - shift;
                    slot.samples
                        .push((**s, out, u32::try_from(duration).unwrap_or(1)));
                    piece_end = piece_end.max(out + join.cts(s) + duration);
                }
            }
        }
        if piece_end > i64::MIN {
            out_end = Some(piece_end);
            end_out = piece_end.min(end_ms - shift);
        }
    }
    if join == Join::Keep {
        for track in &mut laid {
            reach_next(&mut track.samples);
        }
    }
    let start_out = start_out.unwrap_or(start_ms);
    (laid, start_out, end_out.max(start_out))
}

/// Each sample lasts until the next one, across pieces too ([`Join::Keep`]: a piece's
/// last sample reaches the next piece's first).
fn reach_next(samples: &mut [(SampleRef, i64, u32)]) {
    for i in 1..samples.len() {
        let next = samples.get(i).map_or(0, |s| s.1);
        if let Some(s) = samples.get_mut(i - 1) {
            let d = next - s.1;
            if (1..=MAX_SAMPLE_MS).contains(&d) {
                s.2 = u32::try_from(d).unwrap_or(s.2);
            }
        }
    }
}

/// Index of the sample to begin with for `start`: the last sync sample at or before
/// it, else the first.
fn first_at(samples: &[SampleRef], start_ms: i64) -> usize {
    samples
        .iter()
        .rposition(|s| s.sync && s.dts_ms + i64::from(s.cts_ms) <= start_ms)
        .unwrap_or(0)
}

/// Which times place pieces end to end (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// Decode times.
    Decode,
    /// Presentation times.
    Presentation,
    /// None: the caller placed the pieces on one timeline, without overlaps; each
    /// track's samples last until the next one, across pieces.
    Keep,
}

impl Join {
    fn cts(self, sample: &SampleRef) -> i64 {
        match self {
            Join::Decode => 0,
            Join::Presentation | Join::Keep => i64::from(sample.cts_ms),
        }
    }
}

/// Stitches `pieces` (in time order) into one MP4 of `[start_ms, end_ms)`, joined by
/// decode times.
pub fn stitch(
    tracks: &Mp4Tracks,
    pieces: &[Piece],
    start_ms: i64,
    end_ms: i64,
) -> Result<Stitched, Mp4Error> {
    stitch_joined(tracks, pieces, (start_ms, end_ms), Join::Decode)
}

/// Stitches `pieces` (in time order) into one MP4 of `range` (ms, half-open).
pub fn stitch_joined(
    tracks: &Mp4Tracks,
    pieces: &[Piece],
    (start_ms, end_ms): (i64, i64),
    join: Join,
) -> Result<Stitched, Mp4Error> {
    let (mut laid, start_out, end_out) = lay_out(pieces, start_ms, end_ms, join);
    if tracks.video.is_none() {
        laid[0].samples.clear();
    }
    if tracks.audio.is_none() {
        laid[1].samples.clear();
    }
    if laid.iter().all(|l| l.samples.is_empty()) {
        return Err(Mp4Error::NoTracks);
    }
    let (chunks, extents, payload) = chunk(&laid);
    let layout = Layout {
        laid: &laid,
        chunks: &chunks,
        payload,
        start_out,
        end_out,
    };
    let head_len = layout.head(tracks, 0)?.len() as u64;
    let head = layout.head(tracks, head_len)?;
    let extents = extents
        .into_iter()
        .map(|e| Extent {
            at: e.at + head_len,
            ..e
        })
        .collect();
    Ok(Stitched {
        len: head_len + payload,
        head,
        extents,
        duration_ms: (end_out - start_out).max(0),
    })
}

/// Everything the head is made from.
struct Layout<'a> {
    laid: &'a [Laid; 2],
    chunks: &'a [Vec<Chunk>; 2],
    payload: u64,
    start_out: i64,
    end_out: i64,
}

impl Layout<'_> {
    /// `ftyp` + `moov` + `mdat` header, with the payload starting `offset` bytes in.
    fn head(&self, tracks: &Mp4Tracks, offset: u64) -> Result<Vec<u8>, Mp4Error> {
        let wide = self.payload > u64::from(u32::MAX) - 64 * 1024 * 1024;
        let mut traks = traks(tracks)?;
        for trak in &mut traks {
            let t = usize::from(trak.tkhd.track_id == AUDIO_TRACK);
            let laid = self
                .laid
                .get(t)
                .map(|l| l.samples.as_slice())
                .unwrap_or_default();
            let chunks = self.chunks.get(t).map(Vec::as_slice).unwrap_or_default();
            fill(trak, laid, chunks, offset, wide);
            edit(trak, laid, self.start_out, self.end_out);
        }
        let moov = Moov {
            mvhd: Mvhd {
                timescale: TIMESCALE,
                duration: u64::try_from(self.end_out - self.start_out).unwrap_or(0),
                rate: 1.into(),
                volume: 1.into(),
                next_track_id: AUDIO_TRACK + 1,
                ..Default::default()
            },
            trak: traks,
            ..Default::default()
        };
        let mut head = Vec::new();
        ftyp().encode(&mut head).map_err(box_err)?;
        moov.encode(&mut head).map_err(box_err)?;
        let header = if self.payload + 8 > u64::from(u32::MAX) {
            16
        } else {
            8
        };
        mdat_header(&mut head, self.payload, header);
        Ok(head)
    }
}

fn mdat_header(out: &mut Vec<u8>, payload: u64, header: u64) {
    if header == 16 {
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(b"mdat");
        out.extend_from_slice(&(payload + 16).to_be_bytes());
    } else {
        out.extend_from_slice(&u32::try_from(payload + 8).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(b"mdat");
    }
}

/// A chunk: its first sample's index, sample count and payload offset.
type Chunk = (usize, u32, u64);

/// Orders the samples into chunks: both tracks merged in the sources' own order (by
/// source, then offset), a chunk being a run of one track's samples. Output bytes then
/// follow the sources' layout, so a range of the output is a few long reads of each
/// source, and the tracks stay as interleaved as the sources had them. Returns each
/// track's chunks, the extents (payload offsets) and the payload length.
fn chunk(laid: &[Laid; 2]) -> ([Vec<Chunk>; 2], Vec<Extent>, u64) {
    let mut chunks: [Vec<Chunk>; 2] = [Vec::new(), Vec::new()];
    let mut extents: Vec<Extent> = Vec::new();
    let mut cursor = [0usize; 2];
    let mut at = 0u64;
    let mut open: Option<(usize, usize, u32, u64)> = None; // track, first, count, offset
    loop {
        let heads = [0, 1].map(|t| {
            let c = cursor.get(t).copied().unwrap_or(usize::MAX);
            laid.get(t)
                .and_then(|l| l.samples.get(c))
                .map(|s| (s.0.source, s.0.offset))
        });
        let t = match heads {
            [Some(v), Some(a)] => usize::from(a < v),
            [Some(_), None] => 0,
            [None, Some(_)] => 1,
            [None, None] => break,
        };
        let Some(c) = cursor.get_mut(t) else { break };
        let Some((sample, _, _)) = laid.get(t).and_then(|l| l.samples.get(*c)) else {
            break;
        };
        match &mut open {
            Some((track, _, count, _)) if *track == t => *count += 1,
            _ => {
                close(&mut chunks, open.take());
                open = Some((t, *c, 1, at));
            }
        }
        push_extent(&mut extents, at, sample);
        at += u64::from(sample.size);
        *c += 1;
    }
    close(&mut chunks, open);
    (chunks, extents, at)
}

fn close(chunks: &mut [Vec<Chunk>; 2], open: Option<(usize, usize, u32, u64)>) {
    if let Some((track, first, count, offset)) = open {
        if let Some(list) = chunks.get_mut(track) {
            list.push((first, count, offset));
        }
    }
}

fn push_extent(extents: &mut Vec<Extent>, at: u64, s: &SampleRef) {
    if let Some(last) = extents.last_mut() {
        if last.source == s.source && last.offset + last.len == s.offset && last.at + last.len == at
        {
            last.len += u64::from(s.size);
            return;
        }
    }
    extents.push(Extent {
        at,
        source: s.source,
        offset: s.offset,
        len: u64::from(s.size),
    });
}

/// Run-length entries of a value stream.
fn runs<T: PartialEq + Copy>(values: impl Iterator<Item = T>) -> Vec<(u32, T)> {
    let mut out: Vec<(u32, T)> = Vec::new();
    for v in values {
        match out.last_mut() {
            Some((n, last)) if *last == v => *n += 1,
            _ => out.push((1, v)),
        }
    }
    out
}

/// The sample tables of one track.
fn fill(trak: &mut Trak, laid: &[(SampleRef, i64, u32)], chunks: &[Chunk], base: u64, wide: bool) {
    let stbl = &mut trak.mdia.minf.stbl;
    stbl.stts = Stts {
        entries: runs(laid.iter().map(|s| s.2))
            .into_iter()
            .map(|(sample_count, sample_delta)| SttsEntry {
                sample_count,
                sample_delta,
            })
            .collect(),
    };
    let offsets = runs(laid.iter().map(|s| s.0.cts_ms));
    stbl.ctts = (offsets.iter().any(|(_, o)| *o != 0)).then(|| Ctts {
        entries: offsets
            .into_iter()
            .map(|(sample_count, o)| CttsEntry {
                sample_count,
                sample_offset: i64::from(o),
            })
            .collect(),
    });
    let sync: Vec<u32> = (1u32..)
        .zip(laid)
        .filter(|(_, s)| s.0.sync)
        .map(|(i, _)| i)
        .collect();
    stbl.stss = (sync.len() < laid.len()).then_some(Stss { entries: sync });
    stbl.stsz = Stsz {
        samples: StszSamples::Different {
            sizes: laid.iter().map(|s| s.0.size).collect(),
        },
    };
    let mut stsc: Vec<StscEntry> = Vec::new();
    for (i, (_, n, _)) in (1u32..).zip(chunks) {
        if stsc.last().map(|e| e.samples_per_chunk) != Some(*n) {
            stsc.push(StscEntry {
                first_chunk: i,
                samples_per_chunk: *n,
                sample_description_index: 1,
            });
        }
    }
    stbl.stsc = Stsc { entries: stsc };
    let offsets = chunks.iter().map(|c| c.2 + base);
    if wide {
        stbl.co64 = Some(Co64 {
            entries: offsets.collect(),
        });
    } else {
        stbl.stco = Some(Stco {
            entries: offsets
                .map(|o| u32::try_from(o).unwrap_or(u32::MAX))
                .collect(),
        });
    }
    let duration: u64 = laid.iter().map(|s| u64::from(s.2)).sum();
    trak.mdia.mdhd.duration = duration;
}

/// The edit list of one track: presentation from `start_out` to `end_out`.
fn edit(trak: &mut Trak, laid: &[(SampleRef, i64, u32)], start_out: i64, end_out: i64) {
    let Some(origin) = laid.first().map(|s| s.1) else {
        return;
    };
    let mut entries = Vec::new();
    if origin > start_out {
        entries.push(ElstEntry {
            segment_duration: u64::try_from(origin - start_out).unwrap_or(0),
            media_time: None,
            media_rate: 1.into(),
        });
    }
    let from = start_out.max(origin);
    entries.push(ElstEntry {
        segment_duration: u64::try_from(end_out - from).unwrap_or(0),
        media_time: Some(u64::try_from(from - origin).unwrap_or(0)),
        media_rate: 1.into(),
    });
    trak.tkhd.duration = u64::try_from(end_out - start_out).unwrap_or(0);
    trak.edts = Some(Edts {
        elst: Some(Elst { entries }),
    });
}

impl Stitched {
    /// What `range` of the file is made of, in order.
    pub fn reads(&self, range: std::ops::Range<u64>) -> Vec<Read> {
        let mut out = Vec::new();
        let head = self.head.len() as u64;
        if range.start < head {
            let end = range.end.min(head);
            out.push(Read::Head(range.start as usize..end as usize));
        }
        let first = self
            .extents
            .partition_point(|e| e.at + e.len <= range.start);
        for e in self.extents.get(first..).unwrap_or_default() {
            if e.at >= range.end {
                break;
            }
            let from = range.start.max(e.at);
            let to = range.end.min(e.at + e.len);
            out.push(Read::Source {
                source: e.source,
                offset: e.offset + (from - e.at),
                len: to - from,
            });
        }
        out
    }
}

/// Which track a [`SampleRef`] list is.
pub fn track_slot(track: Track) -> usize {
    match track {
        Track::Video => 0,
        Track::Audio => 1,
    }
}

#[cfg(test)]
#[path = "tests/stitch.rs"]
mod tests;
