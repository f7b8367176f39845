//! FLV (Adobe Flash Video File Format Specification v10.1, Annex E) and the Enhanced
//! RTMP extensions (E-RTMP v2: `IsExHeader`, FourCC video and audio): the container
//! RTMP carries. Pure and sans-IO: [`demux::FlvDemuxer`] takes bytes with `push` and
//! yields tags with `pull`; [`ingest::FlvIngest`] turns tags into protocol-neutral
//! [`crate::media::Frame`]s (the input adapter of RTMP pushes), [`mux`] builds tag
//! bodies back from frames, and [`frames::FrameReader`] reads a file's tags straight
//! into recorder events.
//!
//! Written by hand: the FLV crates on crates.io read whole files or stop at the first
//! unknown tag, and none knows Enhanced RTMP HEVC.

pub mod amf0;
pub mod audio;
pub mod clock;
pub mod demux;
pub mod frames;
pub mod ingest;
pub mod multitrack;
pub mod mux;
pub mod samples;
pub mod video;

pub use demux::{FlvDemuxer, FlvError, FlvHeader, FlvTag, TagKind};
pub use frames::{FrameEvent, FrameReader, MediaFrame, Track};
