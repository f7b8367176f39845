//! The per-push GOP cache's rule: which frames restart it.

use crate::media::{Frame, Track};

/// Largest GOP cache per push; beyond it the cache is dropped until the next keyframe.
pub const MAX_GOP_CACHE_BYTES: u64 = 8 * 1024 * 1024;
/// Audio-only pushes: the GOP cache restarts after this much audio.
pub const AUDIO_CACHE_MS: i64 = 1_000;

/// How a GOP cache treats one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GopStep {
    /// Empty the cache, then append this frame (a video keyframe; audio-only: every
    /// [`AUDIO_CACHE_MS`]).
    Reset,
    /// Append.
    Append,
}

/// The GOP-cache decision for `frame`, given whether the push has video and the decode
/// time of the cache's first frame.
pub fn gop_step(frame: &Frame, has_video: bool, first_ms: Option<i64>) -> GopStep {
    match frame.track {
        Track::Video if frame.keyframe => GopStep::Reset,
        Track::Video => GopStep::Append,
        Track::Audio if has_video => GopStep::Append,
        Track::Audio => match first_ms {
            Some(first) if (frame.dts_ms - first).abs() < AUDIO_CACHE_MS => GopStep::Append,
            _ => GopStep::Reset,
        },
    }
}
