//! Wall time of a push's media: what file names, index rows and callbacks report.
//!
//! A file's times are the wall clock when the push started plus the media time elapsed
//! since, so they follow the media rather than the jitter of reads and scheduling. Media
//! clocks are not always sane, though: an encoder's timestamps can leap hours ahead or
//! back, or drift from real time. So the mapping is re-anchored to the wall clock —
//! (media time, now) — at every timestamp jump ([`Jumps`]' rule, the one that cuts
//! files) and whenever it strays from the wall clock by more than
//! [`MAX_WALL_DRIFT_MS`]; and a file's times are never later than the moment its close
//! is handled. Each file keeps the anchor in effect when it opened (files are cut at
//! jumps), so a later re-anchor never moves it.

use crate::formats::flv::clock::DEFAULT_JUMP_THRESHOLD_MS;
use crate::media::{Jumps, Track};

/// Largest distance between mapped media time and the wall clock before re-anchoring.
pub const MAX_WALL_DRIFT_MS: i64 = DEFAULT_JUMP_THRESHOLD_MS;

/// A point where media time and wall time are known to coincide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// Unwrapped media time, ms.
    pub stream_ms: i64,
    /// Unix ms.
    pub wall_ms: i64,
}

impl Anchor {
    /// Wall time of media time `stream_ms` under this anchor.
    pub fn wall(&self, stream_ms: i64) -> i64 {
        self.wall_ms
            .saturating_add(stream_ms.saturating_sub(self.stream_ms))
    }

    /// Wall times of a file spanning `start_ms..end_ms` of media, closed at `now_ms`:
    /// `start ≤ end ≤ now`.
    pub fn span(&self, start_ms: i64, end_ms: i64, now_ms: i64) -> (i64, i64) {
        let start = self.wall(start_ms).min(now_ms);
        let end = self.wall(end_ms).min(now_ms).max(start);
        (start, end)
    }
}

/// See the module doc.
#[derive(Debug, Clone)]
pub struct WallClock {
    jumps: Jumps,
    anchor: Option<Anchor>,
    last_ms: Option<i64>,
}

impl Default for WallClock {
    fn default() -> Self {
        Self {
            jumps: Jumps::new(DEFAULT_JUMP_THRESHOLD_MS),
            anchor: None,
            last_ms: None,
        }
    }
}

impl WallClock {
    /// Takes one frame of `track` at media time `stream_ms`, received at `now_ms`.
    pub fn push(&mut self, track: Track, stream_ms: i64, now_ms: i64) {
        self.last_ms = Some(stream_ms);
        let jumped = self.jumps.frame(track, stream_ms).is_some();
        let strayed = self
            .anchor
            .is_none_or(|a| (a.wall(stream_ms) - now_ms).abs() > MAX_WALL_DRIFT_MS);
        if jumped || strayed {
            self.anchor = Some(Anchor {
                stream_ms,
                wall_ms: now_ms,
            });
        }
    }

    /// The media time of the last frame.
    pub fn last_ms(&self) -> Option<i64> {
        self.last_ms
    }

    /// The anchor in effect (none before the first frame).
    pub fn anchor(&self) -> Option<Anchor> {
        self.anchor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000_000;
    const HOURS_3: i64 = 3 * 3600 * 1000;

    #[test]
    fn media_time_from_the_push_start_then_re_anchored_at_jumps() {
        let mut w = WallClock::default();
        w.push(Track::Audio, 500, T0);
        w.push(Track::Audio, 2_500, T0 + 2_100);
        assert_eq!(
            w.anchor().unwrap().wall(2_500),
            T0 + 2_000,
            "media time, not jitter"
        );
        // +3 h: the media leaps, the wall clock does not.
        w.push(Track::Audio, HOURS_3 + 2_520, T0 + 2_150);
        assert_eq!(w.anchor().unwrap().wall(HOURS_3 + 4_520), T0 + 4_150);
        // And back.
        w.push(Track::Audio, 4_540, T0 + 4_200);
        assert_eq!(w.anchor().unwrap().wall(6_540), T0 + 6_200);
    }

    #[test]
    fn slow_drift_is_re_anchored_and_spans_never_pass_now() {
        let mut w = WallClock::default();
        w.push(Track::Audio, 0, T0);
        // The encoder stalls 15 s, then goes on with continuous timestamps.
        w.push(Track::Audio, 40, T0 + 15_040);
        assert_eq!(w.anchor().unwrap().wall(40), T0 + 15_040);
        let a = w.anchor().unwrap();
        assert_eq!(a.span(40, 99_999, T0 + 16_000), (T0 + 15_040, T0 + 16_000));
        assert_eq!(
            a.span(90_000, 99_999, T0 + 16_000),
            (T0 + 16_000, T0 + 16_000)
        );
    }
}
