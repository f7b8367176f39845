//! Prometheus metrics (`GET /metrics`, text exposition format).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of an API request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Action name (bounded: unknown actions count as "unknown").
    pub action: String,
    /// "ok" or the error code.
    pub result: String,
}

/// Labels of a recording file.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FormatLabels {
    /// `flv`, `hls`, `mp4`, `aac`.
    pub format: String,
}

/// Labels of a refused connection or publish.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Which limit refused it.
    pub reason: String,
}

/// Labels of a push's protocol.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProtocolLabels {
    /// `rtmp`, `rtmps`, `srt`.
    pub protocol: String,
}

/// Sets gauges from the state they describe, just before the metrics are rendered.
pub type Refresh = Box<dyn Fn(&Metrics) + Send + Sync>;

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    refreshers: std::sync::Mutex<Vec<Refresh>>,
    /// API requests by action and result.
    pub requests: Family<RequestLabels, Counter>,
    /// Pushes being received now.
    pub live_pushes: Gauge,
    /// Pushes accepted since start.
    pub pushes: Counter,
    /// Publishes refused (auth, duplicate, bad name).
    pub pushes_rejected: Counter,
    /// Final files indexed, by format.
    pub files: Family<FormatLabels, Counter>,
    /// Outputs stopped by a storage error.
    pub output_failures: Counter,
    /// RTMP connections and publishes refused by a limit, by limit.
    pub refusals: Family<ReasonLabels, Counter>,
    /// RTMP connections open now.
    pub rtmp_connections: Gauge,
    /// Pushes accepted since start, by protocol.
    pub protocol_pushes: Family<ProtocolLabels, Counter>,
    /// Pushes being received now, by protocol.
    pub protocol_live_pushes: Family<ProtocolLabels, Gauge>,
    /// Pushes the open-file limit allows at once.
    pub stream_capacity: Gauge,
    /// Free bytes on the tightest data or scratch file system (at the last check).
    pub free_bytes: Gauge,
    /// The free-space floor there, bytes.
    pub free_floor_bytes: Gauge,
    /// Bytes of HLS segments held in memory on their way to a network store.
    pub segment_memory_bytes: Gauge,
    /// Recordings the free-space guard deleted.
    pub space_deletions: Counter,
    /// Bytes of recordings the free-space guard deleted.
    pub space_deleted_bytes: Counter,
    /// 1, labelled with this node's id (nodes sharing a database tell their series
    /// apart by it; scrapers copy it onto the others with a join or a target label).
    pub node_info: Family<NodeLabels, Gauge>,
}

/// The node label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeLabels {
    /// The node id.
    pub node: String,
}

/// A new metric registered under `name` (a handle to the same metric).
fn reg<M>(registry: &mut Registry, name: &str, help: &str) -> M
where
    M: prometheus_client::registry::Metric + Clone + Default,
{
    let metric = M::default();
    registry.register(name, help, metric.clone());
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        let r = &mut Registry::default();
        Self {
            requests: reg(
                r,
                "liverec_api_requests",
                "API requests by action and result",
            ),
            live_pushes: reg(r, "liverec_live_pushes", "Pushes being received now"),
            pushes: reg(r, "liverec_pushes", "Pushes accepted"),
            pushes_rejected: reg(r, "liverec_pushes_rejected", "Publishes refused"),
            files: reg(r, "liverec_recording_files", "Final files by format"),
            output_failures: reg(
                r,
                "liverec_output_failures",
                "Recording outputs stopped by a storage error",
            ),
            refusals: reg(
                r,
                "liverec_refusals",
                "RTMP connections and publishes refused by a limit",
            ),
            rtmp_connections: reg(r, "liverec_rtmp_connections", "RTMP connections open now"),
            protocol_pushes: reg(r, "liverec_protocol_pushes", "Pushes accepted, by protocol"),
            protocol_live_pushes: reg(r, "liverec_protocol_live_pushes", "Live pushes by protocol"),
            stream_capacity: reg(
                r,
                "liverec_stream_capacity",
                "Pushes the open-file limit allows at once",
            ),
            free_bytes: reg(
                r,
                "liverec_free_bytes",
                "Free bytes on the tightest data or scratch file system",
            ),
            free_floor_bytes: reg(r, "liverec_free_floor_bytes", "Free space kept, bytes"),
            segment_memory_bytes: reg(
                r,
                "liverec_segment_memory_bytes",
                "Bytes of HLS segments held in memory on their way to the store",
            ),
            space_deletions: reg(
                r,
                "liverec_space_deletions",
                "Recordings deleted to keep free space above the floor",
            ),
            space_deleted_bytes: reg(
                r,
                "liverec_space_deleted_bytes",
                "Bytes of recordings deleted to keep free space above the floor",
            ),
            node_info: reg(r, "liverec_node", "This node's id (value 1)"),
            registry: std::mem::take(r),
            refreshers: std::sync::Mutex::default(),
        }
    }
}

impl Metrics {
    /// Adds a refresher (run by [`Metrics::render`]).
    pub fn on_render(&self, refresh: Refresh) {
        self.refreshers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(refresh);
    }

    /// Names this node in `liverec_node`.
    pub fn set_node(&self, node: &str) {
        let labels = NodeLabels {
            node: node.to_owned(),
        };
        self.node_info.get_or_create(&labels).set(1);
    }

    /// A push by `protocol` starts (`change` 1: also counted as accepted) or ends (-1).
    pub fn protocol_push(&self, protocol: &str, change: i64) {
        let labels = ProtocolLabels {
            protocol: protocol.to_owned(),
        };
        if change > 0 {
            self.protocol_pushes.get_or_create(&labels).inc();
        }
        self.protocol_live_pushes
            .get_or_create(&labels)
            .inc_by(change);
    }

    /// Counts a refusal by the limit that made it.
    pub fn refused(&self, reason: &str) {
        self.refusals
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// The exposition text (gauges refreshed first).
    pub fn render(&self) -> String {
        let refreshers = self
            .refreshers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for refresh in refreshers.iter() {
            refresh(self);
        }
        drop(refreshers);
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
