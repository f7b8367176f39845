//! liverec: self-hosted live stream recording, one crate with two faces — a WebAssembly
//! core (the npm package in `pkg/`) and a native binary (`liverec`).
//!
//! Layers, dependencies pointing down only (see `../shared/STYLE.md`):
//!
//! ```text
//! config (templates, rules, tasks, naming, push auth, plan)   pure: no I/O, no clock
//!    ^                     ^
//! cli (native, feature "server")     wasm (bindings only, wasm32)
//! ```
//!
//! Later layers (formats, ingest, record, server) slot in beside `config` and above it
//! without changing that rule. The pure layers never touch sockets, files, clocks or
//! tokio: time is an argument. `wasm` and `cli` are thin shells over them.

#![deny(missing_docs)]

pub mod config;
pub mod formats;
pub mod record;

#[doc(hidden)]
pub mod fuzzing;

#[cfg(feature = "server")]
pub mod cli;

#[cfg(feature = "server")]
pub mod server;

#[cfg(target_arch = "wasm32")]
pub mod wasm;
