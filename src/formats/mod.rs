//! Media and playlist formats: pure parsers and writers (no I/O, no clock).
//!
//! - [`hls`]: HLS media playlists (RFC 8216): lossless parse, write, validate, splice,
//!   clip and inspect.

pub mod hls;
