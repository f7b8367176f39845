//! The FLV/RTMP clock: 32-bit millisecond timestamps unwrapped into `i64` milliseconds,
//! and timestamp jumps told apart from ordinary jitter. One rule for every reader of a
//! stream's tags — the frame reader (MP4, AAC, HLS), the FLV writer and a push's wall-
//! clock mapping — so they cut files at the same places.
//!
//! - One clock for both tracks (FLV and RTMP share it): a step back of more than half
//!   the 32-bit range is a wrap forward; a step forward of more than half the range
//!   right after a wrap is a late tag from before it.
//! - A track's decode time moving by more than the jump threshold
//!   ([`DEFAULT_JUMP_THRESHOLD_MS`]) in either direction from that track's previous one
//!   is a jump (a discontinuity); smaller steps back are tolerated.

use crate::media::{Jump, Jumps, Track};

/// Default DTS change that counts as a jump, ms.
pub const DEFAULT_JUMP_THRESHOLD_MS: i64 = 10_000;

/// Span of the 32-bit millisecond clock.
const RANGE: i64 = 1 << 32;

/// See the module doc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamClock {
    jumps: Jumps,
    epoch: i64,
    last_raw: Option<u32>,
}

impl Default for StreamClock {
    fn default() -> Self {
        Self::new(DEFAULT_JUMP_THRESHOLD_MS)
    }
}

impl StreamClock {
    /// A clock with a jump threshold in ms.
    pub fn new(jump_threshold_ms: i64) -> Self {
        Self {
            jumps: Jumps::new(jump_threshold_ms),
            epoch: 0,
            last_raw: None,
        }
    }

    /// A clock positioned at unwrapped `ms`, as if its last tag had that time: for
    /// reading back tags written from a stream whose clock stood there.
    pub fn at(ms: i64) -> Self {
        Self {
            epoch: ms - ms.rem_euclid(RANGE),
            last_raw: Some(ms.rem_euclid(RANGE) as u32),
            ..Self::default()
        }
    }

    /// The jump threshold, ms.
    pub fn jump_threshold_ms(&self) -> i64 {
        self.jumps.threshold_ms()
    }

    /// A clock that goes on from this one's position (its wrap epoch and last
    /// timestamp), with no frame seen yet on either track: for a reader that joins a
    /// stream midway, so its times agree with the stream's after a 32-bit wrap.
    pub fn continuation(&self) -> StreamClock {
        StreamClock {
            jumps: self.jumps.fresh(),
            ..self.clone()
        }
    }

    /// Unwraps one tag's 32-bit timestamp (any tag: the clock is shared).
    pub fn unwrap(&mut self, raw: u32) -> i64 {
        if let Some(last) = self.last_raw {
            let back = i64::from(last) - i64::from(raw);
            if back > RANGE / 2 {
                self.epoch += RANGE;
            } else if -back > RANGE / 2 && self.epoch > 0 {
                self.epoch -= RANGE;
            }
        }
        self.last_raw = Some(raw);
        self.epoch + i64::from(raw)
    }

    /// Records a frame of `track` at unwrapped `dts_ms`; the jump from that track's
    /// previous frame, if it is one ([`Jumps`]).
    pub fn frame(&mut self, track: Track, dts_ms: i64) -> Option<Jump> {
        self.jumps.frame(track, dts_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_are_unwrapped_both_ways() {
        let mut c = StreamClock::default();
        assert_eq!(c.unwrap(u32::MAX - 10), i64::from(u32::MAX) - 10);
        assert_eq!(c.unwrap(5), RANGE + 5);
        // A late tag from before the wrap.
        assert_eq!(c.unwrap(u32::MAX - 2), i64::from(u32::MAX) - 2);
        assert_eq!(c.unwrap(40), RANGE + 40);
    }

    #[test]
    fn a_clock_placed_after_a_wrap_reads_tags_near_it() {
        let mut c = StreamClock::at(RANGE + 40);
        assert_eq!(
            c.unwrap(u32::MAX - 5),
            i64::from(u32::MAX) - 5,
            "just before"
        );
        assert_eq!(c.unwrap(10), RANGE + 10);
    }

    #[test]
    fn a_continuation_keeps_the_epoch_not_the_tracks() {
        let mut c = StreamClock::default();
        c.unwrap(u32::MAX - 10);
        c.unwrap(5);
        c.frame(Track::Video, RANGE + 5);
        let mut joined = c.continuation();
        assert_eq!(
            joined.unwrap(3),
            RANGE + 3,
            "a tag a little older, after the wrap"
        );
        assert_eq!(joined.frame(Track::Video, 0), None, "no frame seen yet");
    }
}
