//! Retention (template `StorageTime`): rows whose `expires_ms` has passed are deleted
//! with their files — an HLS recording's playlist and every segment it names.
//! The deadline is in the index, so the sweeper survives restarts: it runs at start and
//! then every `retention.sweep_interval_seconds`, on the one node holding the sweeper's
//! lease when several share the database.

use std::sync::Arc;
use std::time::Duration;

use crate::server::db::Recording;

use super::error::DataError;
use super::DataPlane;
use crate::formats::hls::Playlist;
use crate::server::error::ServerError;
use crate::server::notify::now_ms;

/// The lease of the node that sweeps (several nodes share the index).
pub const SWEEPER_LEASE: &str = "retention-sweeper";

/// Rows deleted per sweep pass.
pub const SWEEP_BATCH: i64 = 500;

/// Deletes what expired before `now_ms`; returns how many recordings.
pub async fn sweep(app: &DataPlane, now_ms: i64) -> Result<usize, ServerError> {
    let rows = app
        .db
        .expired(now_ms, SWEEP_BATCH)
        .await
        .map_err(|e| ServerError::Database(format!("retention: {e}")))?;
    let mut deleted = 0;
    for row in rows {
        if delete_recording(app, &row, "retention").await? {
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Deletes a recording's files (an HLS recording: its segments, then its playlist),
/// then its row; false when a file could not be deleted (the row stays, to retry).
/// `why` prefixes the log lines.
pub async fn delete_recording(
    app: &DataPlane,
    row: &Recording,
    why: &str,
) -> Result<bool, ServerError> {
    let path = row.storage_path.as_str();
    // Segments first (they are read from the playlist), then the file itself.
    if row.format == "hls" {
        if let Err(e) = delete_segments(app, path).await {
            tracing::warn!(%path, error = %e, "{why}: deleting segments");
            return Ok(false);
        }
    }
    if let Err(e) = app.storage.delete(path).await {
        tracing::warn!(%path, error = %e, "{why}: deleting a file");
        return Ok(false);
    }
    app.db
        .delete(&row.file_id)
        .await
        .map_err(|e| ServerError::Database(format!("{why}: {e}")))?;
    tracing::info!(%path, "{why}: recording deleted");
    Ok(true)
}

/// Deletes the segments and initialization sections (fMP4 `EXT-X-MAP`) an HLS playlist
/// names (relative URIs in its directory), read from the playlist itself: no directory
/// listing, whatever the number of recordings.
async fn delete_segments(app: &DataPlane, playlist_path: &str) -> Result<(), DataError> {
    let Some((dir, _)) = playlist_path.rsplit_once('/') else {
        return Ok(());
    };
    let text = match app.storage.read(playlist_path).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(crate::storage::StorageError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let playlist = Playlist::parse(&text).map_err(|e| DataError::Playlist {
        path: playlist_path.to_owned(),
        message: e.to_string(),
    })?;
    let mut last_map = None;
    for segment in playlist.segments() {
        let map = playlist.map_uri(segment);
        let new_map = map.filter(|m| last_map != Some(*m));
        last_map = map;
        for uri in [Some(playlist.segment_uri(segment)), new_map]
            .into_iter()
            .flatten()
        {
            if uri.contains('/') || uri.starts_with('.') {
                continue; // never ours: liverec writes plain names beside the playlist
            }
            app.storage.delete(&format!("{dir}/{uri}")).await?;
        }
    }
    Ok(())
}

/// Sweeps forever.
pub async fn sweep_forever(app: Arc<DataPlane>) {
    let every = Duration::from_secs(app.settings.file.retention.sweep_interval_seconds.max(1));
    // Held a little longer than a sweep period: one node sweeps while it lives.
    let ttl = i64::try_from(every.as_millis()).unwrap_or(i64::MAX / 4) * 3;
    loop {
        let node = &app.settings.node_id;
        match app.db.acquire(SWEEPER_LEASE, node, now_ms(), ttl).await {
            Ok(Some(_)) => {
                if let Err(e) = sweep(&app, now_ms()).await {
                    tracing::warn!(error = %e, "retention sweep");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "retention: taking the sweeper's lease"),
        }
        tokio::time::sleep(every).await;
    }
}
