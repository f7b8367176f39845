//! The data plane: pushes in, recordings out. RTMP connections ([`rtmp`]) admitted by
//! [`admission`] become pushes ([`push`]) whose sessions the [`recorder`] writes to
//! scratch files and storage; [`live`] is the registry of who is pushing, parked HLS
//! splices and growing playlists; [`recovery`], [`retention`] and [`space`] look after
//! what is stored. It never imports the control plane: the control plane asks it for
//! what it needs through [`crate::server::streams::LiveStreams`].

pub mod admission;
pub mod error;
pub mod fanout;
pub mod finalize;
pub mod gop;
pub mod handover;
pub mod lanes;
pub mod live;
pub mod mix;
pub mod ownership;
pub mod presence;
pub mod publish;
pub mod push;
pub mod recorder;
pub mod recovery;
pub mod retention;
pub mod rtmp;
pub mod space;
pub mod srt;
pub mod stream;
pub mod tls;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::server::configuration::Configuration;
use crate::server::db::Database;
use crate::server::metrics::Metrics;
use crate::server::notify::Notifier;
use crate::server::settings::Settings;
use crate::server::streams::{LivePush, LiveStreams};
use crate::storage::Storage;

/// What the data plane works with (typed handles, no logic).
pub struct DataPlane {
    /// Settings.
    pub settings: Settings,
    /// Metadata DB (every port).
    pub db: Arc<dyn Database>,
    /// The configuration in memory (read when a push starts).
    pub config: Arc<Configuration>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Recordings storage.
    pub storage: Storage,
    /// Callback outbox.
    pub notifier: Notifier,
    /// Live pushes and parked HLS recordings.
    pub live: Arc<live::Live>,
    /// RTMP connection admission (file handles, caps).
    pub admission: Arc<admission::Admission>,
    /// Free space on the data and scratch file systems.
    pub space: Arc<space::SpaceGuard>,
}

#[async_trait::async_trait]
impl LiveStreams for DataPlane {
    fn tasks_changed(&self) {
        self.live.replan_all();
    }

    async fn live_playlist(&self, stream_key: &str) -> Option<String> {
        if let Some(key) = self.live.live_playlist(stream_key) {
            return Some(key);
        }
        // Recorded on another node sharing the database.
        let rows = self.db.hls_recording(stream_key).await.ok()?;
        rows.iter().find_map(handover::live_playlist_key)
    }

    fn live_count(&self) -> usize {
        self.live.count()
    }

    fn is_live_name(&self, name: &str) -> bool {
        self.live
            .keys()
            .iter()
            .any(|k| k.rsplit('/').next() == Some(name))
    }

    fn pushes(&self) -> Vec<LivePush> {
        self.live.pushes(crate::server::notify::now_ms())
    }

    async fn is_active(&self, stream_key: &str) -> bool {
        if self.live.is_live(stream_key) {
            return true;
        }
        // Pushed to another node sharing the database: its lease is held.
        let lease = ownership::lease_name(stream_key);
        let now = crate::server::notify::now_ms();
        matches!(self.db.holder(&lease).await, Ok(Some((_, _, deadline))) if deadline > now)
    }

    fn drop_push(&self, stream_key: &str, why: &'static str) -> bool {
        self.live.drop_push(stream_key, why)
    }
}

impl DataPlane {
    /// Ends the live pushes of streams forbidden now (a forbid made through another node
    /// sharing the database reaches this one with the configuration).
    pub fn drop_forbidden(&self) {
        let state = self.config.read();
        let now_s = crate::server::notify::now_ms().div_euclid(1000);
        for key in self.live.keys() {
            if state
                .forbidden
                .get(&key)
                .is_some_and(|f| f.active_at(now_s))
            {
                self.live.drop_push(&key, "the stream is forbidden");
            }
        }
    }

    /// Base of recording URLs.
    pub fn public_url(&self) -> String {
        self.settings.public_url()
    }

    /// The data plane's gauges, read when `/metrics` is rendered.
    pub fn gauges(&self) -> crate::server::metrics::Refresh {
        let (admission, space) = (Arc::clone(&self.admission), Arc::clone(&self.space));
        let storage = self.storage.clone();
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Box::new(move |m: &Metrics| {
            m.segment_memory_bytes
                .set(gauge(storage.segment_memory().0));
            m.rtmp_connections
                .set(gauge(admission.connections() as u64));
            m.stream_capacity.set(gauge(admission.budget().streams()));
            let (free, floor) = space.last();
            m.free_bytes.set(gauge(free));
            m.free_floor_bytes.set(gauge(floor));
        })
    }
}
