//! What the control plane may ask of the data plane: a small interface, so the API
//! never reaches into the state of live pushes (the data plane implements it; another
//! node's registry could too).

use std::net::SocketAddr;

/// A live push as `DescribeLiveStreamPushInfoList` and the console show it.
#[derive(Debug, Clone, PartialEq)]
pub struct LivePush {
    /// Push domain (lower case).
    pub domain: String,
    /// AppName.
    pub app: String,
    /// StreamName.
    pub stream: String,
    /// The protocol it came by (`rtmp`, `rtmps`, `srt`, `mix`).
    pub protocol: &'static str,
    /// The publisher's address.
    pub client: SocketAddr,
    /// The address it connected to.
    pub server: SocketAddr,
    /// When it began, Unix ms.
    pub begin_ms: i64,
    /// Video codec (`h264`, `h265`, `av1`, `vp9`), once known.
    pub video_codec: Option<String>,
    /// Audio codec (`aac`, `mp3`, `opus`, …), once known.
    pub audio_codec: Option<String>,
    /// Picture size, once known.
    pub dimensions: Option<(u32, u32)>,
    /// Audio sample rate, Hz (0: unknown).
    pub sample_rate: u32,
    /// Video frames per second over the last few seconds.
    pub video_fps: f64,
    /// Video bits per second over the last few seconds (codec payload).
    pub video_bps: u64,
    /// Audio frames per second over the last few seconds.
    pub audio_fps: f64,
    /// Audio bits per second over the last few seconds (codec payload).
    pub audio_bps: u64,
    /// The formats being recorded now (`flv`, `hls`, `mp4`, `aac`), each once.
    pub recording: Vec<String>,
}

impl LivePush {
    /// Its registry key, `domain/app/stream`.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.domain, self.app, self.stream)
    }
}

/// Live pushes as the control plane sees them.
#[async_trait::async_trait]
pub trait LiveStreams: Send + Sync {
    /// The task configuration changed: live pushes re-plan their tasks now.
    fn tasks_changed(&self);
    /// The storage key of the growing HLS playlist of `domain/app/stream`, if any (on
    /// any node sharing the database).
    async fn live_playlist(&self, stream_key: &str) -> Option<String>;
    /// Pushes live now.
    fn live_count(&self) -> usize;
    /// Whether a push of stream `name` (on any domain and app) is live on this node.
    fn is_live_name(&self, name: &str) -> bool;
    /// The pushes live on this node (a mix's replacement output is not one: the pushed
    /// stream of its name is listed), sorted by key.
    fn pushes(&self) -> Vec<LivePush>;
    /// Whether `domain/app/stream` is being pushed, to this node or to another one
    /// sharing the database.
    async fn is_active(&self, stream_key: &str) -> bool;
    /// Ends the push of `domain/app/stream` on this node; false when it is not live here.
    fn drop_push(&self, stream_key: &str, why: &'static str) -> bool;
}
