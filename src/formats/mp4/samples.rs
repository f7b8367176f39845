//! The samples of a finished (moov-first or moov-last, not fragmented) MP4, read from
//! its sample tables (ISO/IEC 14496-12 §8.6–8.7: `stts`, `ctts`, `stss`, `stsz`, `stsc`,
//! `stco`/`co64`) as [`SampleRef`]s on a wall clock: what [`super::stitch`] needs to put
//! an MP4 recording into a range without reading its samples.

use mp4_atom::{Moov, StszSamples, Trak};

use super::stitch::{Piece, SampleRef};
use super::{tracks_of_moov, Mp4Error, Mp4Tracks, AUDIO_TRACK, VIDEO_TRACK};

/// Most samples read from one track (a day at 120 fps).
pub const MAX_TRACK_SAMPLES: usize = 24 * 3600 * 120;

/// The tracks and samples of `moov` (its first video and audio tracks); the movie starts at `wall_start_ms` (a track that
/// starts later by an empty edit is placed after it), and the samples are in source file
/// `source`.
pub fn moov_samples(
    moov: &Moov,
    source: u32,
    wall_start_ms: i64,
) -> Result<(Mp4Tracks, Piece), Mp4Error> {
    let mut tracks = tracks_of_moov(moov)?;
    tracks.extra.clear();
    let mut piece = Piece::default();
    for trak in &moov.trak {
        // The first video and audio tracks (a multitrack push's others are left out).
        let list = match trak.tkhd.track_id {
            VIDEO_TRACK => &mut piece.video,
            AUDIO_TRACK => &mut piece.audio,
            _ => continue,
        };
        let delay = leading_empty_edits(trak) * 1000 / i64::from(moov.mvhd.timescale.max(1));
        *list = track_samples(trak, source, wall_start_ms + delay)?;
    }
    Ok((tracks, piece))
}

/// How long a track waits before its media starts (its leading empty edits, §8.6.6),
/// in the movie's timescale: liverec writes one for a track that starts after the other.
fn leading_empty_edits(trak: &Trak) -> i64 {
    let entries = trak
        .edts
        .as_ref()
        .and_then(|e| e.elst.as_ref())
        .map(|e| e.entries.as_slice());
    entries
        .unwrap_or_default()
        .iter()
        .take_while(|e| e.media_time.is_none())
        .map(|e| i64::try_from(e.segment_duration).unwrap_or(0))
        .sum()
}

fn bad(what: &str) -> Mp4Error {
    Mp4Error::Box(format!("sample tables: {what}"))
}

/// One track's samples, decode times converted to ms from its own timescale.
fn track_samples(trak: &Trak, source: u32, wall_start_ms: i64) -> Result<Vec<SampleRef>, Mp4Error> {
    let stbl = &trak.mdia.minf.stbl;
    let timescale = i64::from(trak.mdia.mdhd.timescale.max(1));
    let sizes: Vec<u32> = match &stbl.stsz.samples {
        StszSamples::Identical { count, size } => {
            let n = usize::try_from(*count).unwrap_or(usize::MAX);
            if n > MAX_TRACK_SAMPLES {
                return Err(bad("too many samples"));
            }
            vec![*size; n]
        }
        StszSamples::Different { sizes } => sizes.clone(),
    };
    if sizes.len() > MAX_TRACK_SAMPLES {
        return Err(bad("too many samples"));
    }
    let chunks: Vec<u64> = match (&stbl.stco, &stbl.co64) {
        (Some(stco), _) => stco.entries.iter().map(|&o| u64::from(o)).collect(),
        (None, Some(co64)) => co64.entries.clone(),
        (None, None) => return Err(bad("no chunk offsets")),
    };
    let offsets = sample_offsets(&sizes, &chunks, stbl)?;
    let mut deltas = stbl
        .stts
        .entries
        .iter()
        .flat_map(|e| std::iter::repeat_n(e.sample_delta, e.sample_count as usize));
    let mut cts = stbl
        .ctts
        .iter()
        .flat_map(|c| &c.entries)
        .flat_map(|e| std::iter::repeat_n(e.sample_offset, e.sample_count as usize));
    let sync: Option<std::collections::HashSet<u32>> = stbl
        .stss
        .as_ref()
        .map(|s| s.entries.iter().copied().collect());
    let mut out = Vec::with_capacity(sizes.len());
    let mut dts: i64 = 0;
    for (i, (size, offset)) in sizes.iter().zip(offsets).enumerate() {
        let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let offset_ticks = cts.next().unwrap_or(0);
        out.push(SampleRef {
            dts_ms: wall_start_ms + dts * 1000 / timescale,
            cts_ms: i32::try_from(offset_ticks * 1000 / timescale).unwrap_or(0),
            size: *size,
            sync: sync.as_ref().is_none_or(|s| s.contains(&number)),
            source,
            offset,
        });
        dts += i64::from(deltas.next().unwrap_or(0));
    }
    Ok(out)
}

/// Each sample's file offset from the chunk offsets and `stsc` runs.
fn sample_offsets(
    sizes: &[u32],
    chunks: &[u64],
    stbl: &mp4_atom::Stbl,
) -> Result<Vec<u64>, Mp4Error> {
    let runs = &stbl.stsc.entries;
    let mut out = Vec::with_capacity(sizes.len());
    let mut sample = 0usize;
    for (c, chunk_offset) in chunks.iter().enumerate() {
        let number = u32::try_from(c + 1).unwrap_or(u32::MAX);
        let per_chunk = runs
            .iter()
            .rev()
            .find(|r| r.first_chunk <= number)
            .map_or(0, |r| r.samples_per_chunk);
        let mut at = *chunk_offset;
        for _ in 0..per_chunk {
            let Some(size) = sizes.get(sample) else {
                return Ok(out);
            };
            out.push(at);
            at += u64::from(*size);
            sample += 1;
        }
    }
    if out.len() < sizes.len() {
        return Err(bad("chunks hold fewer samples than stsz lists"));
    }
    Ok(out)
}
