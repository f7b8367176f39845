//! Media and playlist formats: pure parsers and writers (no I/O, no clock).
//!
//! - [`flv`]: FLV and Enhanced RTMP tags, AMF0, frames with unwrapped timestamps.
//! - [`adts`]: audio-only AAC output.
//! - [`codec`]: H.264 / H.265 / AAC configuration records, ADTS.
//! - [`mpegts`]: MPEG-TS muxing (HLS segments, `.ts`).
//! - [`rtmp`]: RTMP chunk streams demultiplexed into messages.
//! - [`hls`]: HLS media playlists (RFC 8216): lossless parse, write, validate, splice,
//!   clip and inspect.

pub mod adts;
pub mod codec;
pub mod flv;
pub mod hls;
pub mod mp4;
pub mod mpegts;
pub mod rtmp;
