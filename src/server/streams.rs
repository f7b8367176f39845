//! What the control plane may ask of the data plane: a small interface, so the API
//! never reaches into the state of live pushes (the data plane implements it; another
//! node's registry could too).

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
}
