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

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
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
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "liverec_api_requests",
            "API requests by action and result",
            requests.clone(),
        );
        let live_pushes = Gauge::default();
        registry.register(
            "liverec_live_pushes",
            "Pushes being received now",
            live_pushes.clone(),
        );
        let pushes = Counter::default();
        registry.register("liverec_pushes", "Pushes accepted", pushes.clone());
        let pushes_rejected = Counter::default();
        registry.register(
            "liverec_pushes_rejected",
            "Publishes refused",
            pushes_rejected.clone(),
        );
        let files = Family::<FormatLabels, Counter>::default();
        registry.register(
            "liverec_recording_files",
            "Final recording files by format",
            files.clone(),
        );
        let output_failures = Counter::default();
        registry.register(
            "liverec_output_failures",
            "Recording outputs stopped by a storage error",
            output_failures.clone(),
        );
        Self {
            registry,
            requests,
            live_pushes,
            pushes,
            pushes_rejected,
            files,
            output_failures,
        }
    }
}

impl Metrics {
    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
