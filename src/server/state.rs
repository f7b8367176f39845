//! Shared server state: the configuration in memory behind one lock, the database, and
//! the settings.
//!
//! Every mutating action runs under the lock: it works on a copy of the state, writes
//! the resulting changes to the database in one transaction, and only then replaces the
//! state. Two concurrent CreateLiveRecordRule calls for one key therefore serialise:
//! exactly one wins, and a failed write leaves memory and database unchanged.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::SqlitePool;
use tokio::sync::Mutex;

use super::admission::Admission;
use super::live::Live;
use super::metrics::Metrics;
use super::notify::Notifier;
use super::settings::Settings;
use super::space::SpaceGuard;
use crate::config::callback::CallbackStore;
use crate::config::push_auth::PushAuthKey;
use crate::config::store::ConfigStore;
use crate::storage::Storage;

/// The configuration the API manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlState {
    /// Recording templates, rules and tasks.
    pub config: ConfigStore,
    /// Callback templates and rules.
    pub callbacks: CallbackStore,
    /// Push keys by lower-case domain.
    pub push_auth: BTreeMap<String, PushAuthKey>,
    /// Next recording template id.
    pub next_record_template_id: i64,
    /// Next callback template id.
    pub next_callback_template_id: i64,
}

impl Default for ControlState {
    fn default() -> Self {
        Self {
            config: ConfigStore::default(),
            callbacks: CallbackStore::default(),
            push_auth: BTreeMap::new(),
            next_record_template_id: 1,
            next_callback_template_id: 1,
        }
    }
}

/// Everything a request handler needs.
pub struct AppState {
    /// Settings.
    pub settings: Settings,
    /// Metadata DB.
    pub db: SqlitePool,
    /// Configuration (see the module doc).
    pub control: Arc<Mutex<ControlState>>,
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
    /// RTMP connection admission (file handles, caps).
    pub admission: Arc<Admission>,
    /// Free space on the data and scratch file systems.
    pub space: SpaceGuard,
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
