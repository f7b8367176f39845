//! HLS recordings that outlive their node's push: shared through the database so that
//! any node can continue or finish them (auto-splice across nodes).
//!
//! Each HLS recording has a row ([`OpenHls`]) from its first segment until it is final:
//! its stream, the node recording it, its sidecar (stream, output, start, media) and,
//! while its push is away, the deadline of its splice wait. Its segments and growing
//! EVENT playlist are in the store as they are cut, so the row and the store together
//! are the recording so far (the segment being written is in the node's scratch space).
//!
//! - A push that ends parks its recordings: the rows get their deadline *before* the
//!   stream's lease is given back, so a push arriving at another node finds them parked.
//! - A publish, once it holds the stream's lease, claims the stream's rows that are not
//!   past their deadline ([`claim`]): its own parked recordings continue from memory,
//!   another node's are rebuilt from the stored playlist ([`rebuild`]) — one playlist,
//!   one `#EXT-X-DISCONTINUITY` per break.
//! - Every node sweeps ([`sweep_forever`]) for rows no one will continue: parked past
//!   their deadline, or still recording on a node whose lease on the stream expired
//!   longer than the splice timeout ago (it died mid-push). Taking a row is one atomic
//!   delete, so each recording is finalised and announced by exactly one node.
//! - The local splice timer finalises a parked recording only if its row is still this
//!   node's (no other node continued or finished it).

use std::sync::Arc;
use std::time::Duration;

use super::error::DataError;
use super::publish::finish_hls;
use super::recovery::listed_segments;
use super::stream::{PushStream, Sidecar};
use super::DataPlane;
use crate::record::session::{live_playlist_name, ParkedHls};
use crate::server::db::OpenHls;
use crate::server::notify::now_ms;

/// How often each node looks for HLS recordings no one will continue, when several
/// nodes share the database.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// The same on one node's own database (SQLite): there its own splice timers finalise
/// its parked recordings and start-up recovery what a crash left, so the sweep is only
/// their backstop.
pub const LOCAL_SWEEP_INTERVAL: Duration = Duration::from_secs(10);
/// Rows taken per sweep.
pub const SWEEP_BATCH: i64 = 16;
/// How long past its deadline a recording this node parked is left to this node's own
/// splice timer (which finalises it from memory, with its exact frame counts and media
/// start) before the sweeper takes it like any other, ms.
pub const OWN_GRACE_MS: i64 = 10_000;

/// Records that this node opened HLS recording `sidecar` (its first segment).
pub async fn opened(app: &DataPlane, sidecar: &Sidecar) {
    let row = OpenHls {
        recording_id: sidecar.spec.recording_id.clone(),
        stream_key: sidecar.stream.key(),
        node: app.settings.node_id.clone(),
        sidecar: serde_json::to_string(sidecar).unwrap_or_default(),
        flow_continue_ms: sidecar.spec.flow_continue_s.max(0) * 1000,
        parked_until_ms: None,
    };
    if let Err(e) = app.db.hls_open(&row).await {
        tracing::warn!(recording = %row.recording_id, error = %e,
            "sharing an open HLS recording (another node could not continue it)");
    }
}

/// What parking a recording needs to know of it (it is handed to the registry first).
pub struct Parking(Sidecar);

impl Parking {
    /// Recording `hls` of `stream`.
    pub fn of(stream: &PushStream, hls: &ParkedHls) -> Self {
        Self(Sidecar {
            stream: stream.clone(),
            spec: hls.spec.clone(),
            file_id: hls.spec.recording_id.clone(),
            scratch_name: String::new(),
            opened_ms: hls.start_wall_ms(),
            media: hls.media().clone(),
            node: String::new(),
            committing: None,
        })
    }
}

/// Parks this node's recording until `until_ms`; false when its row is another node's.
/// A recording whose row is missing (sharing it failed when it opened) is shared now,
/// parked.
pub async fn parked(app: &DataPlane, parking: Parking, until_ms: i64) -> bool {
    let mut sidecar = parking.0;
    sidecar.node.clone_from(&app.settings.node_id);
    let (rid, node) = (&sidecar.spec.recording_id, &sidecar.node);
    let parked = match app.db.hls_park(rid, node, until_ms).await {
        Ok(false) => {
            opened(app, &sidecar).await;
            app.db.hls_park(rid, node, until_ms).await
        }
        other => other,
    };
    parked.unwrap_or_else(|e| {
        tracing::warn!(recording = %rid, error = %e, "parking an HLS recording");
        true
    })
}

/// Takes this node's row of `recording_id` (to finalise it); false when another node
/// continued or finished it.
pub async fn take_mine(app: &DataPlane, recording_id: &str) -> bool {
    take_as(app, recording_id, &app.settings.node_id).await
}

/// Takes `node`'s row of `recording_id`; false when another node continued or
/// finished it.
pub async fn take_as(app: &DataPlane, recording_id: &str, node: &str) -> bool {
    match app.db.hls_take(recording_id, Some(node)).await {
        Ok(row) => row.is_some(),
        Err(e) => {
            tracing::warn!(recording = %recording_id, error = %e, "taking an HLS recording");
            true
        }
    }
}

/// Forgets `recording_id` (final or removed).
pub async fn closed(app: &DataPlane, recording_id: &str) {
    if let Err(e) = app.db.hls_take(recording_id, None).await {
        tracing::warn!(recording = %recording_id, error = %e, "closing an HLS recording's row");
    }
}

/// The rows of `stream` a new push of it on this node continues (its lease held);
/// `None` when the database could not say.
pub async fn claim(app: &DataPlane, stream: &PushStream) -> Option<Vec<OpenHls>> {
    let node = &app.settings.node_id;
    match app.db.hls_claim(&stream.key(), node, now_ms()).await {
        Ok(rows) => Some(rows),
        Err(e) => {
            tracing::warn!(stream = %stream.key(), error = %e, "claiming parked HLS recordings");
            None
        }
    }
}

/// The storage key of the growing playlist of recording `row`.
pub fn live_playlist_key(row: &OpenHls) -> Option<String> {
    let stream = sidecar_of(row).ok()?.stream;
    Some(format!(
        "{}/{}",
        stream.dir(),
        crate::record::session::live_playlist_name(&row.recording_id)
    ))
}

/// The sidecar a row carries.
pub fn sidecar_of(row: &OpenHls) -> Result<Sidecar, DataError> {
    serde_json::from_str(&row.sidecar).map_err(|e| DataError::Playlist {
        path: row.recording_id.clone(),
        message: format!("unreadable shared state: {e}"),
    })
}

/// Another node's recording as it stands in the store.
pub async fn rebuild(app: &DataPlane, row: &OpenHls) -> Result<(PushStream, ParkedHls), DataError> {
    let s = sidecar_of(row)?;
    let dir = s.stream.dir();
    let live = format!("{dir}/{}", live_playlist_name(&s.spec.recording_id));
    let listed = listed_segments(app, &dir, &live).await?;
    let hls = ParkedHls::rebuilt(
        s.spec,
        &s.stream.stream,
        listed.playlist,
        listed.sizes,
        s.opened_ms,
        s.media,
    );
    Ok((s.stream, hls))
}

/// Finalises a recording taken from the table: from the store, or removed when it has
/// no segment there.
async fn finish_taken(app: &Arc<DataPlane>, row: &OpenHls) -> Result<(), DataError> {
    let (stream, hls) = rebuild(app, row).await?;
    if hls.segments() == 0 {
        super::publish::remove_hls(app, &stream, &hls.spec, &[]).await;
        return Ok(());
    }
    let (done, text) = hls.finalize();
    finish_hls(app, &stream, &hls.spec, &done, text).await
}

/// Every [`SWEEP_INTERVAL`] ([`LOCAL_SWEEP_INTERVAL`] on one node's database), takes and
/// finalises the HLS recordings no one will continue.
pub async fn sweep_forever(app: Arc<DataPlane>) {
    let every = if app.db.shared() {
        SWEEP_INTERVAL
    } else {
        LOCAL_SWEEP_INTERVAL
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let own = (app.settings.node_id.as_str(), OWN_GRACE_MS);
        let rows = match app.db.hls_take_orphans(now_ms(), SWEEP_BATCH, own).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "looking for abandoned HLS recordings");
                continue;
            }
        };
        for row in rows {
            tracing::info!(recording = %row.recording_id, stream = %row.stream_key, node = %row.node,
                "finalising an HLS recording whose push did not come back");
            if let Err(e) = finish_taken(&app, &row).await {
                tracing::error!(recording = %row.recording_id, error = %e,
                    "finalising an abandoned HLS recording");
            }
        }
    }
}
