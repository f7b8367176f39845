//! Recording: media frames in, segment/file events out — pure, with stream time passed
//! in through the frames (never the wall clock).
//!
//! - [`ts`]: MPEG-TS files and HLS segments, cut at keyframes.
//! - [`fmp4`]: fragmented-MP4 HLS segments, cut at keyframes, and the choice between them.
//! - [`aac`]: audio-only ADTS files, cut at any frame.
//! - [`mp4`]: fragmented MP4 files, cut by interval and on codec changes.
//! - [`flv`]: FLV files with an `onMetaData` keyframe index, cut by interval.
//! - [`session`]: one push through every output; [`wall`]: the wall time of its media.

pub mod aac;
pub mod flv;
pub mod fmp4;
pub mod mp4;
pub mod session;
pub mod ts;
pub mod wall;

use crate::formats::flv::frames::FrameEvent;
use crate::formats::mp4::Mp4Finish;
use crate::media::Track;
use bytes::Bytes;

/// Frame events in, [`SegmentEvent`]s out: what every file-per-interval recorder does.
pub trait Segmenter: std::fmt::Debug {
    /// Feeds one reader event.
    fn push(&mut self, event: &FrameEvent, out: &mut Vec<SegmentEvent>);
    /// Closes the open file at end of input.
    fn finish(&mut self, out: &mut Vec<SegmentEvent>);
    /// Frames that could not be written (no configuration yet, unsupported).
    fn dropped(&self) -> u64;
    /// A frame of a track beyond the first video and audio one (an Enhanced RTMP
    /// multitrack push's track `frame.track_id`); only MP4 records them.
    fn push_extra(&mut self, _frame: &crate::media::Frame, _out: &mut Vec<SegmentEvent>) {}
    /// The source's encoder started anew with steady timestamps (a mix engine's next
    /// generation): HLS segmenters start the next segment as a discontinuity; files go
    /// on.
    fn restart(&mut self) {}
}

/// A finished file or segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// 0-based sequence number.
    pub index: u32,
    /// Stream time of its first frame, ms.
    pub start_ms: i64,
    /// Stream time where the next one starts (or its estimated end), ms.
    pub end_ms: i64,
    /// Bytes written.
    pub bytes: u64,
    /// Frames written.
    pub frames: u64,
    /// Starts after a codec change or timestamp jump.
    pub discontinuity: bool,
}

impl SegmentInfo {
    /// The segment closed: it ends where the next starts (`next_start_ms`), or, after a
    /// discontinuity or at the end, one frame step (`step_ms`) after its last frame.
    pub fn closed(self, last_ms: i64, step_ms: i64, next_start_ms: Option<i64>) -> Self {
        let end = match next_start_ms {
            Some(next) if next >= self.start_ms => next,
            _ => last_ms + step_ms,
        };
        Self {
            end_ms: end.max(self.start_ms),
            ..self
        }
    }
}

/// What a segmenter produces, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentEvent {
    /// A new file or segment starts.
    Open {
        /// Its sequence number.
        index: u32,
        /// It starts after a discontinuity.
        discontinuity: bool,
    },
    /// The initialization section (`ftyp` + `moov`, HLS `EXT-X-MAP`) of the segments
    /// from `index` on, sent before that segment opens: stored as a file of its own.
    Init {
        /// The first segment it applies to.
        index: u32,
        /// Its bytes.
        bytes: Bytes,
    },
    /// Bytes for the open file (shared: a sample's bytes are not copied to get here).
    Data(Bytes),
    /// Finish the open file as a progressive, moov-first MP4: the caller drives
    /// [`Mp4Finish`] over the file's bytes (see [`crate::formats::mp4::progressive`]).
    FinishMp4(Box<Mp4Finish>),
    /// The open file is complete.
    Close(SegmentInfo),
    /// The output cannot record what the push sends (a codec its format cannot carry
    /// without re-encoding): reported once, as a recording exception.
    Refused(Track, String),
}
