//! Shared server state: the configuration in memory behind one lock, the database, and
//! the settings.
//!
//! Every mutating action runs under the lock: it works on a copy of the state, writes
//! the resulting changes to the database in one transaction, and only then replaces the
//! state. Two concurrent CreateLiveRecordRule calls for one key therefore serialise:
//! exactly one wins, and a failed write leaves memory and database unchanged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::admission::Admission;
use super::configuration::Configuration;
pub use super::db::ControlState;
use super::db::Database;
use super::live::Live;
use super::metrics::Metrics;
use super::notify::Notifier;
use super::settings::Settings;
use super::space::SpaceGuard;
use super::streams::LiveStreams;
use crate::storage::Storage;

/// Everything a request handler needs.
pub struct AppState {
    /// Settings.
    pub settings: Settings,
    /// Metadata DB (every port).
    pub db: Arc<dyn Database>,
    /// The configuration in memory.
    pub config: Arc<Configuration>,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Task ids issued by this process (mixed into new ids).
    pub task_counter: AtomicU64,
    /// Recordings storage.
    pub storage: Storage,
    /// Callback outbox.
    pub notifier: Notifier,
    /// Live pushes and parked HLS recordings.
    pub live: Arc<Live>,
    /// The same, as the control plane may see them.
    pub streams: Arc<dyn LiveStreams>,
    /// RTMP connection admission (file handles, caps).
    pub admission: Arc<Admission>,
    /// Free space on the data and scratch file systems.
    pub space: Arc<SpaceGuard>,
}

impl AppState {
    /// Base of recording URLs.
    pub fn public_url(&self) -> String {
        self.settings.public_url()
    }

    /// A fresh, unique, opaque task id.
    pub fn new_task_id(&self) -> String {
        let n = self.task_counter.fetch_add(1, Ordering::Relaxed);
        let random = uuid::Uuid::new_v4().simple().to_string();
        format!("{random}{n:x}")
    }
}
