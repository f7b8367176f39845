//! One publisher per stream across every node sharing the database: a lease row per
//! live stream (`stream/DOMAIN/APP/STREAM`), owned by the node that accepted the push,
//! renewed every [`RENEW_INTERVAL`] while the push lasts and released when it ends. A
//! publish of a stream whose lease another node holds is refused; a node that dies stops
//! renewing, and its leases expire after [`STREAM_LEASE_MS`] — then the stream can be
//! pushed to another node. Each new holding of a lease has a higher epoch (a fencing
//! token), which is part of the recording ids and so of every object key the push
//! writes: a node that lost its lease without knowing it never writes a key the new
//! owner writes.
//!
//! On one node (SQLite) this is one more row per push; the in-memory registry
//! ([`super::live`]) still refuses a second publish on the same node first.

use std::sync::Arc;
use std::time::Duration;

use super::stream::PushStream;
use super::DataPlane;
use crate::server::db::DbError;
use crate::server::notify::now_ms;

/// How long a stream's lease lasts without renewal: a dead node's streams can be pushed
/// elsewhere after at most this.
pub const STREAM_LEASE_MS: i64 = 10_000;
/// How often a node renews the leases of its live streams.
pub const RENEW_INTERVAL: Duration = Duration::from_secs(3);

/// What every stream lease's name starts with.
pub const LEASE_PREFIX: &str = "stream/";

/// The lease row of `stream`.
pub fn lease_name(stream_key: &str) -> String {
    format!("{LEASE_PREFIX}{stream_key}")
}

/// Takes `stream`'s lease for this node: its epoch, or `None` while another node holds
/// it.
pub async fn take(app: &DataPlane, stream: &PushStream) -> Result<Option<i64>, DbError> {
    let name = lease_name(&stream.key());
    app.db
        .acquire(&name, &app.settings.node_id, now_ms(), STREAM_LEASE_MS)
        .await
}

/// Gives `stream`'s lease back (the push ended).
pub async fn give_back(app: &DataPlane, stream: &PushStream) {
    let name = lease_name(&stream.key());
    if let Err(e) = app.db.release(&name, &app.settings.node_id).await {
        tracing::warn!(stream = %stream.key(), error = %e, "releasing the stream's lease (it expires by itself)");
    }
}

/// Renews the leases of every live push of this node, every [`RENEW_INTERVAL`]. A lease
/// another node took meanwhile (this node was cut off from the database longer than the
/// lease, and the stream was published there) ends this node's push: the newer holder
/// wins, so the stream has one publisher again. A database that does not answer ends
/// nothing (pushes go on; their leases are renewed when it is back).
pub async fn renew_forever(app: Arc<DataPlane>) {
    let mut tick = tokio::time::interval(RENEW_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if app.live.keys().is_empty() {
            continue; // nothing held: a lease whose release failed expires by itself
        }
        let node = &app.settings.node_id;
        // One statement renews them all; only a lease it did not renew (expired while the
        // database was out of reach, or taken) is taken again one by one.
        let renewed: std::collections::HashSet<String> = match app
            .db
            .renew_held(LEASE_PREFIX, node, now_ms(), STREAM_LEASE_MS)
            .await
        {
            Ok(names) => names.into_iter().collect(),
            Err(e) => {
                tracing::warn!(error = %e, "renewing stream leases");
                continue;
            }
        };
        for key in app.live.keys() {
            let name = lease_name(&key);
            if renewed.contains(&name) {
                continue;
            }
            match app
                .db
                .acquire(&name, &app.settings.node_id, now_ms(), STREAM_LEASE_MS)
                .await
            {
                Ok(Some(_)) => {}
                Ok(None) => {
                    tracing::error!(stream = %key, "another node took this push's stream lease: ending the push here");
                    app.live
                        .drop_push(&key, "its stream lease went to another node");
                }
                Err(e) => tracing::warn!(stream = %key, error = %e, "renewing a stream lease"),
            }
        }
    }
}
