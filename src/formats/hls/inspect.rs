//! A playlist at a glance: durations, discontinuities and where they are, the
//! PROGRAM-DATE-TIME span and its gaps, and the validation diagnostics.

use serde::Serialize;

use super::datetime::encode_date_time;
use super::decimal::Micros;
use super::diagnostic::{Diagnostic, Severity};
use super::playlist::{Kind, LineKind, Playlist, PlaylistType, Segment};
use super::splice::DEFAULT_TOLERANCE_MS;
use super::tags::Tag;
use super::validate::validate;

/// A discontinuity and where it falls.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscontinuityAt {
    /// Index of the segment it precedes.
    pub segment: usize,
    /// That segment's media sequence number.
    pub media_sequence: u64,
    /// Line number of its EXT-X-DISCONTINUITY tag.
    pub line: u32,
    /// Seconds from the start.
    pub time_seconds: f64,
}

/// A jump in PROGRAM-DATE-TIME against the durations before it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeGap {
    /// Index of the segment whose PROGRAM-DATE-TIME jumps.
    pub segment: usize,
    /// Missing seconds (negative: overlap).
    pub seconds: f64,
}

/// PROGRAM-DATE-TIME span.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeSpan {
    /// First segment's time, ISO 8601.
    pub start: String,
    /// End of the last segment with a time, ISO 8601.
    pub end: String,
    /// Unix ms of `start`.
    pub start_ms: i64,
    /// Unix ms of `end`.
    pub end_ms: i64,
}

/// The summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspection {
    /// Media, master or unknown.
    pub kind: Kind,
    /// EXT-X-VERSION (1 when absent).
    pub version: u32,
    /// EXT-X-TARGETDURATION.
    pub target_duration: Option<u64>,
    /// EXT-X-MEDIA-SEQUENCE.
    pub media_sequence: u64,
    /// EXT-X-DISCONTINUITY-SEQUENCE.
    pub discontinuity_sequence: u64,
    /// EXT-X-PLAYLIST-TYPE.
    pub playlist_type: Option<PlaylistType>,
    /// EXT-X-ENDLIST present.
    pub end_list: bool,
    /// Number of segments.
    pub segment_count: usize,
    /// Sum of EXTINF, seconds.
    pub total_duration_seconds: f64,
    /// Longest EXTINF, seconds.
    pub max_segment_duration_seconds: f64,
    /// Every discontinuity.
    pub discontinuities: Vec<DiscontinuityAt>,
    /// PROGRAM-DATE-TIME span, when the playlist has one.
    pub program_date_time: Option<TimeSpan>,
    /// PROGRAM-DATE-TIME jumps beyond 250 ms.
    pub gaps: Vec<TimeGap>,
    /// Number of error diagnostics.
    pub errors: usize,
    /// Number of warning diagnostics.
    pub warnings: usize,
    /// All diagnostics.
    pub diagnostics: Vec<Diagnostic>,
}

/// Inspects `playlist`.
pub fn inspect(playlist: &Playlist) -> Inspection {
    let header = playlist.header();
    let diagnostics = validate(playlist);
    let mut at = Micros::ZERO;
    let mut discontinuities = Vec::new();
    let mut max = Micros::ZERO;
    for (i, s) in playlist.segments().iter().enumerate() {
        if s.discontinuity {
            discontinuities.push(DiscontinuityAt {
                segment: i,
                media_sequence: playlist.media_sequence_of(i),
                line: tag_line(playlist, s, Tag::Discontinuity),
                time_seconds: at.as_secs_f64(),
            });
        }
        max = max.max(s.duration);
        at = at.saturating_add(s.duration);
    }
    let times = playlist.program_date_times();
    Inspection {
        kind: playlist.kind(),
        version: header.version.unwrap_or(1),
        target_duration: header.target_duration,
        media_sequence: header.media_sequence,
        discontinuity_sequence: header.discontinuity_sequence,
        playlist_type: header.playlist_type,
        end_list: header.end_list,
        segment_count: playlist.segments().len(),
        total_duration_seconds: at.as_secs_f64(),
        max_segment_duration_seconds: max.as_secs_f64(),
        discontinuities,
        program_date_time: span(playlist, &times),
        gaps: gaps(playlist, &times),
        errors: diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count(),
        warnings: diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count(),
        diagnostics,
    }
}

/// The line number of `tag` among the segment's lines (its URI line if absent).
fn tag_line(playlist: &Playlist, segment: &Segment, tag: Tag) -> u32 {
    let lines = playlist.lines();
    (segment.first_line..=segment.uri_line)
        .filter_map(|i| lines.get(i as usize))
        .find(|l| l.kind == LineKind::Tag(tag))
        .or_else(|| lines.get(segment.uri_line as usize))
        .map_or(0, |l| l.number)
}

fn span(playlist: &Playlist, times: &[Option<i64>]) -> Option<TimeSpan> {
    let start_ms = times.iter().flatten().next().copied()?;
    let (last, last_time) = times
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, t)| t.map(|t| (i, t)))?;
    let duration = playlist
        .segments()
        .get(last)
        .map_or(0, |s| s.duration.as_millis());
    let end_ms = last_time.saturating_add(duration);
    Some(TimeSpan {
        start: encode_date_time(start_ms),
        end: encode_date_time(end_ms),
        start_ms,
        end_ms,
    })
}

fn gaps(playlist: &Playlist, times: &[Option<i64>]) -> Vec<TimeGap> {
    let mut out = Vec::new();
    let mut expected: Option<i64> = None;
    for (i, s) in playlist.segments().iter().enumerate() {
        let time = times.get(i).copied().flatten();
        if let (Some(explicit), Some(want)) = (s.program_date_time_ms, expected) {
            let gap = explicit - want;
            if gap.abs() > DEFAULT_TOLERANCE_MS {
                out.push(TimeGap {
                    segment: i,
                    seconds: gap as f64 / 1000.0,
                });
            }
        }
        expected = time.map(|t| t.saturating_add(s.duration.as_millis()));
    }
    out
}
