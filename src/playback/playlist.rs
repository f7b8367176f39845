//! The VOD playlist of a time range, from a stream's HLS recordings: their playlists
//! spliced in time order with `#EXT-X-DISCONTINUITY` and `#EXT-X-PROGRAM-DATE-TIME` at
//! every join (two recordings are two timelines, even when they abut: their media
//! timestamps are not continuous), then clipped to the range with
//! `#EXT-X-START:TIME-OFFSET=…,PRECISE=YES` for the exact start. Both steps are the
//! playlist core's ([`splice`], [`clip`]); segment URIs are resolved against each
//! playlist's base URL, so the result can be served from anywhere.

use crate::formats::hls::clip::{clip, ClipTime};
use crate::formats::hls::playlist::{Playlist, PlaylistError};
use crate::formats::hls::splice::{splice, GapPolicy, Order, SpliceOptions};

use super::range::TimeRange;

/// Tolerance that makes every join a discontinuity (see [`SpliceOptions::tolerance_ms`]).
const EVERY_JOIN_BREAKS: i64 = -1;

/// The playlist for `range` from `recordings` (any order; each with its absolute base
/// URL, against which its segment URIs are resolved).
pub fn range_playlist(
    recordings: &[&Playlist],
    range: &TimeRange,
) -> Result<Playlist, PlaylistError> {
    let options = SpliceOptions {
        order: Order::ProgramDateTime,
        gaps: GapPolicy::Discontinuity,
        tolerance_ms: EVERY_JOIN_BREAKS,
    };
    let (spliced, _) = splice(recordings, options)?;
    let (clipped, _) = clip(
        &spliced,
        ClipTime::WallClockMs(range.start_ms),
        Some(ClipTime::WallClockMs(range.end_ms)),
    )?;
    Ok(clipped)
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
        let text = range_playlist(&recordings.iter().collect::<Vec<_>>(), &range)
            .unwrap()
            .to_text();
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
