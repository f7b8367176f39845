//! The control plane: the reference API over HTTP ([`http`] routes, [`wire`] format,
//! [`auth`] TC3 signatures, [`actions`]), recordings served at `/vod` ([`vod`]) and time
//! ranges of them at `/playback` ([`playback`]), the web console at `/console/`
//! ([`console`]). It changes the shared configuration and
//! asks the data plane about live pushes only through
//! [`crate::server::streams::LiveStreams`].

pub mod actions;
pub mod auth;
pub mod console;
pub mod http;
pub mod listener;
pub mod playback;
pub mod range_mp4;
pub mod vod;
pub mod wire;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::server::configuration::Configuration;
use crate::server::db::Database;
use crate::server::metrics::Metrics;
use crate::server::settings::Settings;
use crate::server::streams::LiveStreams;
use crate::storage::Storage;

/// What the control plane works with (typed handles, no logic).
pub struct ControlPlane {
    /// Settings.
    pub settings: Settings,
    /// Metadata DB (every port).
    pub db: Arc<dyn Database>,
    /// The configuration in memory.
    pub config: Arc<Configuration>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Recordings storage (served at `/vod`).
    pub storage: Storage,
    /// Live pushes, as the data plane shows them.
    pub streams: Arc<dyn LiveStreams>,
    /// Task ids issued by this process (mixed into new ids).
    pub task_counter: AtomicU64,
    /// Time-range MP4s made a moment ago (`/playback/….mp4`).
    pub mp4_cache: range_mp4::Mp4Cache,
    /// Final playlists of HLS recordings (`/playback/….m3u8`).
    pub playlist_cache: playback::PlaylistCache,
    /// The callback outbox (clips announce their files).
    pub notifier: crate::server::notify::Notifier,
}

impl ControlPlane {
    /// A fresh, unique, opaque task id.
    pub fn new_task_id(&self) -> String {
        let n = self.task_counter.fetch_add(1, Ordering::Relaxed);
        let random = uuid::Uuid::new_v4().simple().to_string();
        format!("{random}{n:x}")
    }
}
