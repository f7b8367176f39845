//! HLS media playlists (RFC 8216): a lossless parser and writer, validation, splicing
//! with `#EXT-X-DISCONTINUITY`, clipping and inspection. Pure: text in, text and values
//! out. The browser (through `crate::wasm`), the CLI and the recording server all use
//! this one implementation.

pub mod attributes;
pub mod clip;
pub mod datetime;
pub mod decimal;
pub mod diagnostic;
pub mod inspect;
pub mod playlist;
pub mod splice;
pub mod tags;
pub mod uri;
pub mod validate;
pub mod writer;

pub use clip::{clip, ClipSummary, ClipTime};
pub use decimal::Micros;
pub use diagnostic::{Code, Diagnostic, Severity};
pub use inspect::{inspect, Inspection};
pub use playlist::{Kind, Playlist, PlaylistError, Segment};
pub use splice::{
    decide_join, splice, GapPolicy, Join, JoinReason, JoinSide, Order, SpliceOptions, SpliceSummary,
};
pub use validate::validate;
pub use writer::{RecordedSegment, RecordingPlaylist};

#[cfg(test)]
mod tests;
