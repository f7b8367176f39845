//! liverec: self-hosted live stream recording, one crate with two faces — a WebAssembly
//! core (the npm package in `pkg/`) and a native binary (`liverec`).
//!
//! Layers, dependencies pointing down only (see `../shared/STYLE.md`):
//!
//! ```text
//! formats (flv, amf0, codec, adts, mpegts, hls)   config (templates, rules, tasks, plan)
//!    pure: bytes in, bytes and values out           pure: no I/O, no clock
//!    ^   media (protocol-neutral frames, timelines) ^
//!    ^   ^                                          |
//! record (frames -> segment/file events)            |
//!    pure: stream time comes with the frames        |
//!    ^   playback (time ranges over recordings, signed URLs; pure, time passed in)
//!    ^   mix (a mix's layout as an ffmpeg engine's arguments; pure)
//!    ^                                              |
//! storage (object_store + scratch files)           |
//!    ^                                              |
//! server (tokio, axum, sqlx, rml_rtmp)    cli (native)    wasm (bindings only, wasm32)
//! ```
//!
//! The pure layers never touch sockets, files, clocks or tokio: time is an argument.
//! `server`, `cli` and `wasm` are shells over them. RTMP ingest uses `rml_rtmp`'s
//! sans-IO sessions; the server only moves their bytes.

#![deny(missing_docs)]

pub mod config;
pub mod formats;
pub mod media;
pub mod mix;
pub mod playback;
pub mod record;

#[doc(hidden)]
pub mod fuzzing;

#[cfg(feature = "server")]
pub mod cli;

#[cfg(feature = "server")]
pub mod storage;

#[cfg(feature = "server")]
pub mod server;

#[cfg(target_arch = "wasm32")]
pub mod wasm;
