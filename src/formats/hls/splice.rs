//! Splicing N media playlists into one VOD playlist (RFC 8216 §4.3.2.3, §6.2.2).
//!
//! Each join between two sources is decided by one pure function, [`decide_join`]: the
//! join is continuous only when both sides have PROGRAM-DATE-TIME (explicit or derived),
//! the second starts where the first ends within a tolerance, and the initialization
//! section (EXT-X-MAP) and key (EXT-X-KEY) in effect are the same. Anything else gets an
//! `#EXT-X-DISCONTINUITY`; a time gap may instead be filled with `#EXT-X-GAP` segments
//! (then followed by a discontinuity, since the media timestamps after a gap are not
//! provably continuous). Discontinuities inside each source are kept. The output:
//! PROGRAM-DATE-TIME on the first segment after every join, TARGETDURATION recomputed,
//! MEDIA-SEQUENCE and DISCONTINUITY-SEQUENCE of the first source, EXT-X-MAP/KEY carried,
//! byte ranges with explicit offsets, URIs resolved against each source's base URL,
//! `#EXT-X-PLAYLIST-TYPE:VOD` and `#EXT-X-ENDLIST`. Header lines liverec does not
//! interpret are kept from the first source only.
//!
//! Ordering "by PROGRAM-DATE-TIME" sorts whole sources by their first segment's time
//! (sources without one keep their given order, after the others).

use serde::Serialize;

use super::decimal::Micros;
use super::playlist::{LineKind, Playlist, PlaylistError, PlaylistType, Segment};
use super::tags::Tag;
use super::uri::resolve;
use super::writer::{Emitter, HeaderSpec, SegmentIntro};

/// Most playlists one splice accepts.
pub const MAX_SPLICE_SOURCES: usize = 10_000;
/// Default join tolerance: PROGRAM-DATE-TIME has millisecond resolution and EXTINF
/// durations are rounded by encoders; a quarter second absorbs both.
pub const DEFAULT_TOLERANCE_MS: i64 = 250;

/// Order of the sources in the output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    /// As given.
    #[default]
    Given,
    /// By each source's first PROGRAM-DATE-TIME.
    ProgramDateTime,
}

/// What to do where time is missing between two sources.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GapPolicy {
    /// Mark the join with EXT-X-DISCONTINUITY only.
    #[default]
    Discontinuity,
    /// Insert EXT-X-GAP segments covering the missing time, then a discontinuity.
    GapSegments,
}

/// Splice options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpliceOptions {
    /// Source order.
    pub order: Order,
    /// Gap handling.
    pub gaps: GapPolicy,
    /// Largest time mismatch still counted as continuous, ms. A negative tolerance
    /// makes every join a discontinuity (reason `gap` or `overlap` by the sign of the
    /// time between the sides): sources that are separate recordings.
    pub tolerance_ms: i64,
}

impl Default for SpliceOptions {
    fn default() -> Self {
        Self {
            order: Order::Given,
            gaps: GapPolicy::Discontinuity,
            tolerance_ms: DEFAULT_TOLERANCE_MS,
        }
    }
}

/// One side of a join: what the end of a source or the start of the next looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinSide {
    /// PROGRAM-DATE-TIME where this side meets the other (end of the earlier source,
    /// start of the later), Unix ms.
    pub program_date_time_ms: Option<i64>,
    /// EXT-X-MAP in effect, URI resolved.
    pub map: Option<String>,
    /// EXT-X-KEY in effect, URI resolved.
    pub key: Option<String>,
    /// The later side already starts with EXT-X-DISCONTINUITY.
    pub discontinuity: bool,
}

/// Why a join is not continuous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum JoinReason {
    /// One side has no PROGRAM-DATE-TIME.
    NoProgramDateTime,
    /// Time is missing between the sides.
    Gap,
    /// The later side starts before the earlier ends.
    Overlap,
    /// The initialization section differs.
    InitChanged,
    /// The key differs.
    KeyChanged,
    /// The later source already marks a discontinuity there.
    SourceDiscontinuity,
}

/// The decision for one join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// Media continues: no tag.
    Continuous,
    /// A discontinuity, and why; `gap_ms` is the missing (or, negative, overlapping) time
    /// when both sides have PROGRAM-DATE-TIME.
    Discontinuous {
        /// Why.
        reason: JoinReason,
        /// Later start minus earlier end, ms.
        gap_ms: Option<i64>,
    },
}

/// Decides one join; see the module doc.
pub fn decide_join(earlier: &JoinSide, later: &JoinSide, tolerance_ms: i64) -> Join {
    let gap_ms = match (earlier.program_date_time_ms, later.program_date_time_ms) {
        (Some(end), Some(start)) => Some(start.saturating_sub(end)),
        _ => None,
    };
    let reason = if later.discontinuity {
        Some(JoinReason::SourceDiscontinuity)
    } else if earlier.map != later.map {
        Some(JoinReason::InitChanged)
    } else if earlier.key != later.key {
        Some(JoinReason::KeyChanged)
    } else {
        match gap_ms {
            None => Some(JoinReason::NoProgramDateTime),
            Some(g) if g > tolerance_ms => Some(JoinReason::Gap),
            Some(g) if g < -tolerance_ms => Some(JoinReason::Overlap),
            Some(_) => None,
        }
    };
    match reason {
        None => Join::Continuous,
        Some(reason) => Join::Discontinuous { reason, gap_ms },
    }
}

/// One join in the output, for the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinReport {
    /// Index (in the output) of the first segment after the join.
    pub segment: usize,
    /// Whether a discontinuity was written.
    pub discontinuity: bool,
    /// Why, when it was.
    pub reason: Option<JoinReason>,
    /// Missing time in seconds (negative: overlap), when known.
    pub gap_seconds: Option<f64>,
    /// EXT-X-GAP segments inserted.
    pub gap_segments: usize,
}

/// What a splice did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpliceSummary {
    /// Playlists given.
    pub sources: usize,
    /// Order used (indices into the given list); empty sources are skipped.
    pub order: Vec<usize>,
    /// Segments written, gap segments included.
    pub segments: usize,
    /// Every join.
    pub joins: Vec<JoinReport>,
    /// Total duration, seconds.
    pub duration_seconds: f64,
}

struct Prepared<'p> {
    index: usize,
    playlist: &'p Playlist,
    times: Vec<Option<i64>>,
}

/// Splices `sources` into one VOD playlist.
pub fn splice(
    sources: &[&Playlist],
    options: SpliceOptions,
) -> Result<(Playlist, SpliceSummary), PlaylistError> {
    if sources.is_empty() {
        return Err(PlaylistError::NothingToSplice);
    }
    if sources.len() > MAX_SPLICE_SOURCES {
        return Err(PlaylistError::BadRange(format!(
            "at most {MAX_SPLICE_SOURCES} playlists can be spliced"
        )));
    }
    if sources
        .iter()
        .any(|p| p.has_master_tags() && p.segments().is_empty())
    {
        return Err(PlaylistError::NotMedia);
    }
    let mut prepared: Vec<Prepared<'_>> = sources
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.segments().is_empty())
        .map(|(index, p)| Prepared {
            index,
            playlist: p,
            times: p.program_date_times(),
        })
        .collect();
    if prepared.is_empty() {
        return Err(PlaylistError::Empty(
            "the playlists to splice have no segments",
        ));
    }
    if options.order == Order::ProgramDateTime {
        prepared.sort_by_key(|p| match p.times.first().copied().flatten() {
            Some(t) => (0, t),
            None => (1, 0),
        });
    }
    write_spliced(sources.len(), &prepared, options)
}

fn write_spliced(
    given: usize,
    prepared: &[Prepared<'_>],
    options: SpliceOptions,
) -> Result<(Playlist, SpliceSummary), PlaylistError> {
    let mut emitter = Emitter::new();
    let mut joins = Vec::new();
    let mut previous: Option<(&Prepared<'_>, &Segment, Option<i64>)> = None;
    for source in prepared {
        for (i, segment) in source.playlist.segments().iter().enumerate() {
            let time = source.times.get(i).copied().flatten();
            let mut intro = SegmentIntro {
                discontinuity: segment.discontinuity,
                program_date_time_ms: None,
            };
            if i == 0 {
                if let Some((before, last, last_time)) = previous {
                    let report = join(
                        &mut emitter,
                        (before, last, last_time),
                        (source, segment, time),
                        options,
                    );
                    intro.discontinuity = report.discontinuity;
                    joins.push(report);
                }
                intro.program_date_time_ms = time;
            }
            emitter.copy_segment(source.playlist, segment, intro)?;
            previous = Some((source, segment, time));
        }
    }
    let first = prepared.first().map(|p| p.playlist);
    let header = HeaderSpec {
        version: emitter.version(
            prepared
                .iter()
                .filter_map(|p| p.playlist.header().version)
                .max()
                .unwrap_or(1),
        ),
        target_duration: emitter.target_duration(),
        media_sequence: first.map_or(0, |p| p.header().media_sequence),
        discontinuity_sequence: first.map_or(0, |p| p.header().discontinuity_sequence),
        playlist_type: Some(PlaylistType::Vod),
        independent_segments: prepared
            .iter()
            .all(|p| p.playlist.header().independent_segments),
        start_offset: None,
        extra: first.map(unknown_header_lines).unwrap_or_default(),
    };
    let segments = emitter.segment_count();
    let playlist = emitter.finish(&header)?;
    let summary = SpliceSummary {
        sources: given,
        order: prepared.iter().map(|p| p.index).collect(),
        segments,
        duration_seconds: playlist.total_duration().as_secs_f64(),
        joins,
    };
    Ok((playlist, summary))
}

type Side<'a, 'p> = (&'a Prepared<'p>, &'a Segment, Option<i64>);

fn join(
    emitter: &mut Emitter,
    earlier: Side<'_, '_>,
    later: Side<'_, '_>,
    options: SpliceOptions,
) -> JoinReport {
    let (before, last, last_time) = earlier;
    let (after, first, first_time) = later;
    let end = JoinSide {
        program_date_time_ms: last_time.map(|t| t.saturating_add(last.duration.as_millis())),
        map: resolved_tag(before.playlist, last.map_line),
        key: resolved_tag(before.playlist, last.key_line),
        discontinuity: false,
    };
    let start = JoinSide {
        program_date_time_ms: first_time,
        map: resolved_tag(after.playlist, first.map_line),
        key: resolved_tag(after.playlist, first.key_line),
        discontinuity: first.discontinuity,
    };
    let decision = decide_join(&end, &start, options.tolerance_ms);
    let mut report = JoinReport {
        segment: emitter.segment_count(),
        discontinuity: decision != Join::Continuous,
        reason: None,
        gap_seconds: None,
        gap_segments: 0,
    };
    if let Join::Discontinuous { reason, gap_ms } = decision {
        report.reason = Some(reason);
        report.gap_seconds = gap_ms.map(|g| g as f64 / 1000.0);
        if let (GapPolicy::GapSegments, JoinReason::Gap, Some(gap), Some(at)) =
            (options.gaps, reason, gap_ms, end.program_date_time_ms)
        {
            report.gap_segments =
                fill_gap(emitter, before.playlist, last, Micros::from_millis(gap), at);
            report.segment = emitter.segment_count();
        }
    }
    report
}

/// Most EXT-X-GAP segments one join may insert; a longer gap is only marked with a
/// discontinuity (a day of 1-second placeholders would swamp any player).
pub const MAX_GAP_SEGMENTS: i64 = 3_600;

/// Writes EXT-X-GAP segments covering `gap`, each no longer than the segment before it
/// (at least 1 s); writes nothing when that would take more than [`MAX_GAP_SEGMENTS`].
fn fill_gap(
    emitter: &mut Emitter,
    source: &Playlist,
    last: &Segment,
    gap: Micros,
    at_ms: i64,
) -> usize {
    let step = Micros(last.duration.0.max(1_000_000));
    let needed = (gap.0 + step.0 - 1) / step.0;
    if needed > MAX_GAP_SEGMENTS {
        return 0;
    }
    let uri = source.segment_uri(last);
    let uri = source
        .base_url()
        .map_or_else(|| uri.to_owned(), |b| resolve(b, uri));
    let mut left = gap;
    let mut written = 0;
    while left.0 > 0 {
        let d = if left < step { left } else { step };
        let intro = SegmentIntro {
            discontinuity: written == 0,
            program_date_time_ms: (written == 0).then_some(at_ms),
        };
        emitter.gap_segment(d, &uri, intro);
        left = left.saturating_sub(d);
        written += 1;
    }
    written
}

fn resolved_tag(playlist: &Playlist, line: Option<u32>) -> Option<String> {
    let line = line?;
    let uri = playlist.tag_attribute(line, "URI")?;
    let range = playlist.tag_attribute(line, "BYTERANGE").unwrap_or("");
    let resolved = playlist
        .base_url()
        .map_or_else(|| uri.to_owned(), |b| resolve(b, uri));
    Some(format!("{resolved}|{range}"))
}

/// Header lines of `playlist` that liverec does not write itself (unknown tags, comments).
fn unknown_header_lines(playlist: &Playlist) -> Vec<String> {
    playlist
        .header_lines()
        .filter(|i| {
            matches!(
                playlist.lines().get(*i as usize).map(|l| l.kind),
                Some(LineKind::Comment | LineKind::Tag(Tag::Unknown))
            )
        })
        .map(|i| playlist.line_text(i).to_owned())
        .collect()
}
