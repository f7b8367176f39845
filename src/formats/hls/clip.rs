//! Clipping: the sub-playlist of the segments covering a time range, with the exact
//! offset into the first segment as `#EXT-X-START:TIME-OFFSET=…,PRECISE=YES` — an
//! in-browser highlight without re-encoding (RFC 8216 §4.3.5.2).
//!
//! Times are seconds from the start of the playlist (sum of EXTINF), or wall-clock
//! instants mapped through PROGRAM-DATE-TIME. The range is half-open: a segment is kept
//! when it overlaps `[start, end)`. The output keeps the media sequence numbers of the
//! kept segments and a DISCONTINUITY-SEQUENCE that counts the discontinuities cut away,
//! so segment identities are unchanged.

use serde::Serialize;

use super::decimal::Micros;
use super::playlist::{Playlist, PlaylistError, PlaylistType};
use super::writer::{Emitter, HeaderSpec, SegmentIntro};

/// One end of a clip range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipTime {
    /// Seconds from the playlist's start.
    Offset(Micros),
    /// A wall-clock instant, Unix ms (needs PROGRAM-DATE-TIME).
    WallClockMs(i64),
}

/// What a clip did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClipSummary {
    /// Index of the first kept segment in the source.
    pub first_segment: usize,
    /// Number of kept segments.
    pub segment_count: usize,
    /// Media sequence number of the first kept segment.
    pub media_sequence: u64,
    /// Where the range starts inside the first kept segment (the TIME-OFFSET), seconds.
    pub start_offset_seconds: f64,
    /// Requested start, seconds from the source's start.
    pub start_seconds: f64,
    /// Requested end (clamped to the source's end), seconds from the source's start.
    pub end_seconds: f64,
    /// Total duration of the kept segments, seconds.
    pub duration_seconds: f64,
}

/// Where each segment starts, seconds from the playlist start.
fn starts(playlist: &Playlist) -> Vec<Micros> {
    let mut at = Micros::ZERO;
    playlist
        .segments()
        .iter()
        .map(|s| {
            let start = at;
            at = at.saturating_add(s.duration);
            start
        })
        .collect()
}

/// Maps a wall-clock instant to seconds from the start; an instant inside a gap maps to
/// the start of the next segment.
fn offset_of(
    playlist: &Playlist,
    starts: &[Micros],
    times: &[Option<i64>],
    unix_ms: i64,
) -> Option<Micros> {
    let mut any = false;
    for (i, segment) in playlist.segments().iter().enumerate() {
        let Some(t) = times.get(i).copied().flatten() else {
            continue;
        };
        any = true;
        let start = starts.get(i).copied()?;
        if unix_ms < t {
            return Some(start);
        }
        if unix_ms < t.saturating_add(segment.duration.as_millis()) {
            return Some(start.saturating_add(Micros::from_millis(unix_ms - t)));
        }
    }
    any.then(|| playlist.total_duration())
}

fn resolve_time(
    playlist: &Playlist,
    starts: &[Micros],
    times: &[Option<i64>],
    t: ClipTime,
) -> Result<Micros, PlaylistError> {
    match t {
        ClipTime::Offset(m) if m.0 < 0 => Err(PlaylistError::BadRange(
            "clip times must not be negative".into(),
        )),
        ClipTime::Offset(m) => Ok(m),
        ClipTime::WallClockMs(ms) => offset_of(playlist, starts, times, ms).ok_or_else(|| {
            PlaylistError::BadRange(
                "wall-clock clip times need EXT-X-PROGRAM-DATE-TIME in the playlist".into(),
            )
        }),
    }
}

/// Clips `playlist` to `[start, end)` (`end` `None`: to the end).
pub fn clip(
    playlist: &Playlist,
    start: ClipTime,
    end: Option<ClipTime>,
) -> Result<(Playlist, ClipSummary), PlaylistError> {
    if playlist.has_master_tags() && playlist.segments().is_empty() {
        return Err(PlaylistError::NotMedia);
    }
    let total = playlist.total_duration();
    let starts = starts(playlist);
    let times = playlist.program_date_times();
    let from = resolve_time(playlist, &starts, &times, start)?;
    let to = match end {
        Some(e) => resolve_time(playlist, &starts, &times, e)?.min(total),
        None => total,
    };
    if from >= total {
        return Err(PlaylistError::BadRange(format!(
            "clip start {from} s is at or past the end of the playlist ({total} s)"
        )));
    }
    if to <= from {
        return Err(PlaylistError::BadRange(format!(
            "clip end {to} s is not after its start {from} s"
        )));
    }
    let first = starts.iter().rposition(|s| *s <= from).unwrap_or(0);
    let last = starts
        .iter()
        .rposition(|s| *s < to)
        .unwrap_or(first)
        .max(first);
    let offset = from.saturating_sub(starts.get(first).copied().unwrap_or_default());
    write_clip(playlist, &times, first, last, offset, (from, to))
}

fn write_clip(
    playlist: &Playlist,
    times: &[Option<i64>],
    first: usize,
    last: usize,
    offset: Micros,
    range: (Micros, Micros),
) -> Result<(Playlist, ClipSummary), PlaylistError> {
    let segments = playlist.segments().get(first..=last).unwrap_or_default();
    let cut_discontinuities = playlist
        .segments()
        .get(..=first)
        .unwrap_or_default()
        .iter()
        .filter(|s| s.discontinuity)
        .count() as u64;
    let mut emitter = Emitter::new();
    for (i, segment) in segments.iter().enumerate() {
        let intro = SegmentIntro {
            discontinuity: i > 0 && segment.discontinuity,
            program_date_time_ms: if i == 0 {
                times.get(first).copied().flatten()
            } else {
                None
            },
        };
        emitter.copy_segment(playlist, segment, intro)?;
    }
    let header = HeaderSpec {
        version: emitter.version(playlist.header().version.unwrap_or(1)),
        target_duration: emitter.target_duration(),
        media_sequence: playlist.media_sequence_of(first),
        discontinuity_sequence: playlist
            .header()
            .discontinuity_sequence
            .saturating_add(cut_discontinuities),
        playlist_type: Some(PlaylistType::Vod),
        independent_segments: playlist.header().independent_segments,
        start_offset: Some(offset),
        extra: Vec::new(),
    };
    let clipped = emitter.finish(&header)?;
    let summary = ClipSummary {
        first_segment: first,
        segment_count: segments.len(),
        media_sequence: playlist.media_sequence_of(first),
        start_offset_seconds: offset.as_secs_f64(),
        start_seconds: range.0.as_secs_f64(),
        end_seconds: range.1.as_secs_f64(),
        duration_seconds: clipped.total_duration().as_secs_f64(),
    };
    Ok((
        clipped.with_base_url(playlist.base_url().map(str::to_owned)),
        summary,
    ))
}
