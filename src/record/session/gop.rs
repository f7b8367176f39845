//! The per-push GOP cache's rule: which tags restart it, which it keeps beside it.

use crate::formats::flv::demux::{FlvTag, TagKind};
use crate::formats::flv::video::{parse_video_tag, VideoPacketKind};

/// Largest GOP cache per push; beyond it the cache is dropped until the next keyframe.
pub const MAX_GOP_CACHE_BYTES: u64 = 8 * 1024 * 1024;
/// Audio-only pushes: the GOP cache restarts after this much audio.
pub const AUDIO_CACHE_MS: u32 = 1_000;

fn is_audio_header(tag: &FlvTag) -> bool {
    // SoundFormat 10 (AAC) with AACPacketType 0.
    matches!(tag.data.first(), Some(b) if b >> 4 == 10) && tag.data.get(1) == Some(&0)
}

/// How a GOP cache treats one tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GopStep {
    /// A sequence header or metadata: keep it beside the cache (latest wins).
    Header,
    /// Empty the cache, then append this tag (a video keyframe; audio-only: every
    /// [`AUDIO_CACHE_MS`]).
    Reset,
    /// Append.
    Append,
    /// Ignore.
    Skip,
}

/// The GOP-cache decision for `tag`, given whether the push has video and the timestamp
/// of the cache's first tag.
pub fn gop_reset(tag: &FlvTag, has_video: bool, first_ms: Option<u32>) -> GopStep {
    match tag.kind {
        TagKind::Script => GopStep::Header,
        TagKind::Video => match parse_video_tag(&tag.data) {
            Some(v) if v.kind == VideoPacketKind::SequenceHeader => GopStep::Header,
            Some(v) if v.keyframe && v.kind == VideoPacketKind::Frames => GopStep::Reset,
            Some(_) => GopStep::Append,
            None => GopStep::Skip,
        },
        TagKind::Audio if is_audio_header(tag) => GopStep::Header,
        TagKind::Audio if has_video => GopStep::Append,
        TagKind::Audio => match first_ms {
            Some(first) if tag.timestamp_ms.wrapping_sub(first) < AUDIO_CACHE_MS => GopStep::Append,
            _ => GopStep::Reset,
        },
        TagKind::Other(_) => GopStep::Skip,
    }
}
