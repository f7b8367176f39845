//! The VOD playlist of a time range, from a stream's HLS recordings: their playlists
//! spliced in time order with `#EXT-X-DISCONTINUITY` and `#EXT-X-PROGRAM-DATE-TIME` at
//! every join (two recordings are two timelines, even when they abut: their media
//! timestamps are not continuous), cut to the range, with
//! `#EXT-X-START:TIME-OFFSET=…,PRECISE=YES` for the exact start. Both steps are the
//! playlist core's ([`splice`], [`clip`]); only the first and last recordings are
//! clipped (the others lie inside the range), before the splice, so a day of one-minute
//! recordings is written once. Segment URIs are resolved against each playlist's base
//! URL, so the result can be served from anywhere.

use crate::formats::hls::clip::{clip, ClipTime};
use crate::formats::hls::decimal::Micros;
use crate::formats::hls::playlist::{Playlist, PlaylistError};
use crate::formats::hls::splice::{splice, GapPolicy, Order, SpliceOptions};

use super::range::TimeRange;

/// Tolerance that makes every join a discontinuity (see [`SpliceOptions::tolerance_ms`]).
const EVERY_JOIN_BREAKS: i64 = -1;

/// Where a recording lies on the wall clock: its first PROGRAM-DATE-TIME and its end.
fn span(p: &Playlist) -> Option<(i64, i64)> {
    let start = p.program_date_times().first().copied().flatten()?;
    Some((start, start + p.total_duration().as_millis()))
}

/// The playlist text for `range` from `recordings` (any order; each with its absolute
/// base URL, against which its segment URIs are resolved).
pub fn range_playlist(
    recordings: &[&Playlist],
    range: &TimeRange,
) -> Result<String, PlaylistError> {
    let mut inside: Vec<(i64, i64, &Playlist)> = recordings
        .iter()
        .filter_map(|p| span(p).map(|(a, b)| (a, b, *p)))
        .filter(|(a, b, _)| range.overlaps(*a, *b))
        .collect();
    inside.sort_by_key(|(a, _, _)| *a);
    let last_index = inside.len().saturating_sub(1);
    let mut offset = Micros::ZERO;
    let mut owned: Vec<Playlist> = Vec::new();
    let mut order: Vec<Result<usize, &Playlist>> = Vec::new(); // clipped copy or as it is
    for (i, (a, b, p)) in inside.iter().enumerate() {
        let from = (i == 0 && *a < range.start_ms).then_some(range.start_ms);
        let to = (i == last_index && *b > range.end_ms).then_some(range.end_ms);
        if from.is_none() && to.is_none() {
            order.push(Err(p));
            continue;
        }
        let start = from.map_or(ClipTime::Offset(Micros::ZERO), ClipTime::WallClockMs);
        let (clipped, summary) = clip(p, start, to.map(ClipTime::WallClockMs))?;
        if i == 0 {
            offset = Micros::from_secs_f64(summary.start_offset_seconds).unwrap_or(Micros::ZERO);
        }
        owned.push(clipped);
        order.push(Ok(owned.len() - 1));
    }
    let sources: Vec<&Playlist> = order
        .iter()
        .filter_map(|o| match o {
            Ok(i) => owned.get(*i),
            Err(p) => Some(*p),
        })
        .collect();
    let options = SpliceOptions {
        order: Order::Given,
        gaps: GapPolicy::Discontinuity,
        tolerance_ms: EVERY_JOIN_BREAKS,
    };
    let (spliced, _) = splice(&sources, options)?;
    let text = spliced.to_text();
    let start = format!("#EXT-X-START:TIME-OFFSET={offset},PRECISE=YES\n");
    Ok(match text.split_once('\n') {
        Some((first, rest)) => format!("{first}\n{start}{rest}"),
        None => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::hls::datetime::encode_date_time;

    /// An HLS recording of `segments` 6-second segments from `start_ms`.
    fn recording(name: &str, start_ms: i64, segments: usize) -> Playlist {
        let mut text = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n\
             #EXT-X-PROGRAM-DATE-TIME:{}\n",
            encode_date_time(start_ms)
        );
        for i in 0..segments {
            text.push_str(&format!("#EXTINF:6.000,\n{name}_{i}.ts\n"));
        }
        text.push_str("#EXT-X-ENDLIST\n");
        Playlist::parse_owned(text)
            .unwrap()
            .with_base_url(Some("http://h/vod/d.com/live/cam/x.m3u8".into()))
    }

    #[test]
    fn breaks_at_every_join_and_starts_exactly() {
        let t0 = 1_796_032_980_000;
        let recordings = [
            recording("c", t0 + 60_000, 5),
            recording("a", t0, 5),
            recording("b", t0 + 30_000, 2), // abuts a
        ];
        let range = TimeRange {
            start_ms: t0 + 8_000,
            end_ms: t0 + 70_000,
        };
        let text = range_playlist(&recordings.iter().collect::<Vec<_>>(), &range).unwrap();
        let uris: Vec<&str> = text.lines().filter(|l| l.ends_with(".ts")).collect();
        assert_eq!(uris.first(), Some(&"http://h/vod/d.com/live/cam/a_1.ts"));
        assert_eq!(uris.last(), Some(&"http://h/vod/d.com/live/cam/c_1.ts"));
        assert_eq!(uris.len(), 4 + 2 + 2, "{text}");
        assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 2, "{text}");
        assert_eq!(
            text.matches("#EXT-X-PROGRAM-DATE-TIME").count(),
            3,
            "{text}"
        );
        assert!(text.contains("#EXT-X-START:TIME-OFFSET=2"), "{text}");
        assert!(text.contains("#EXT-X-ENDLIST"));
        assert!(text.contains(&encode_date_time(t0 + 30_000)), "{text}");
    }

    #[test]
    fn nothing_in_range_is_an_error() {
        let t0 = 1_796_032_980_000;
        let range = TimeRange {
            start_ms: t0 + 100_000,
            end_ms: t0 + 200_000,
        };
        assert!(range_playlist(&[&recording("a", t0, 2)], &range).is_err());
        assert!(range_playlist(&[], &range).is_err());
    }
}
