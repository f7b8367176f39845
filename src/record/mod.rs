//! Recording: media frames in, segment/file events out — pure, with stream time passed
//! in through the frames (never the wall clock).
//!
//! - [`ts`]: MPEG-TS files and HLS segments, cut at keyframes.
//! - [`flv`]: FLV files with an `onMetaData` keyframe index, cut by interval.

pub mod flv;
pub mod ts;

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
    /// Bytes for the open file.
    Data(Vec<u8>),
    /// The open file is complete.
    Close(SegmentInfo),
}
