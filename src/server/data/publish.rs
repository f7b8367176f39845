//! A recording made final: stored, indexed, announced — and the HLS playlists around it.
//! Used by the finalisation worker ([`super::finalize`]), the splice timer and recovery.

use std::sync::Arc;

use super::error::DataError;
use super::stream::{hls_sidecar_name, Committing, PushStream, Sidecar};
use super::DataPlane;
use crate::config::callback::CallbackTemplate;
use crate::config::callback_event::{
    record_exception_event, record_file_event, Exception, RecordFile,
};
use crate::record::session::{
    init_name, live_playlist_name, DoneFile, HlsSegments, OutputSpec, ParkedHls,
};
use crate::server::db::{Database, Recording};
use crate::server::notify::now_ms;
use crate::storage::{candidate_key, StorageError, MAX_NAME_SUFFIX};

/// Writes sidecar `name` in scratch space: beside it first, then renamed into place, so
/// that a crash leaves the old sidecar or the new one, never half of one.
pub fn write_sidecar(app: &DataPlane, name: &str, sidecar: &Sidecar) -> std::io::Result<()> {
    let text = serde_json::to_vec(sidecar).map_err(std::io::Error::other)?;
    let path = app.storage.scratch_path(name);
    let temp = app.storage.scratch_path(&format!("{name}.writing"));
    std::fs::write(&temp, text)?;
    std::fs::rename(&temp, &path)
}

/// Stores final file `sidecar.scratch_name` (FLV, MP4, AAC) under `done.name`, or the
/// next free `_N` name, and returns its key. The sidecar names the key before the store
/// is asked, and a sidecar that already names one resumes that copy (storing again is
/// then a no-op when it arrived): a retry or a recovery never stores a file twice. The
/// scratch file stays until the caller indexed the copy ([`forget_final`]).
pub async fn store_final(
    app: &DataPlane,
    sidecar: &mut Sidecar,
    done: &DoneFile,
) -> Result<String, StorageError> {
    let scratch = sidecar.scratch_name.clone();
    if let Some(c) = &sidecar.committing {
        match app.storage.store_copy(&scratch, &c.key, true).await {
            Err(StorageError::Taken(_)) => {}
            other => return other.map(|()| c.key.clone()),
        }
    }
    let (dir, name) = (sidecar.stream.dir(), format!("{scratch}.json"));
    for n in 0..=MAX_NAME_SUFFIX {
        let key = candidate_key(&dir, &done.name, n);
        sidecar.committing = Some(Committing {
            key: key.clone(),
            done: done.clone(),
        });
        write_sidecar(app, &name, sidecar).map_err(|source| StorageError::Io {
            context: format!("writing {name}"),
            source,
        })?;
        match app.storage.store_copy(&scratch, &key, false).await {
            Err(StorageError::Taken(_)) => continue,
            other => return other.map(|()| key),
        }
    }
    Err(StorageError::Key(format!(
        "{dir}/{}: more than {MAX_NAME_SUFFIX} files of that name",
        done.name
    )))
}

/// Removes a stored and indexed final file's scratch copy, then its sidecar.
pub fn forget_final(app: &DataPlane, scratch_name: &str) {
    if let Err(e) = app.storage.remove_scratch(scratch_name) {
        tracing::warn!(error = %e, "removing a stored file's scratch copy");
    }
    remove_sidecar(app, &format!("{scratch_name}.json"));
}

/// Removes sidecar (or scratch file) `name`.
pub fn remove_sidecar(app: &DataPlane, name: &str) {
    let _ = std::fs::remove_file(app.storage.scratch_path(name));
}

/// Finalises an HLS recording storage stopped with the segments it stored — or, when
/// that fails too, removes it: never left growing.
pub async fn finalise_or_remove(app: &Arc<DataPlane>, stream: &PushStream, hls: ParkedHls) {
    if hls.segments() == 0 {
        return remove_hls(app, stream, &hls.spec, &[]).await;
    }
    let (done, text) = hls.finalize();
    if let Err(e) = finish_hls(app, stream, &hls.spec, &done, text).await {
        tracing::error!(stream = %stream.key(), error = %e,
            "finalising a stopped HLS recording failed; removing it");
        let mut files: Vec<&str> = hls.segment_names().collect();
        files.extend(hls.init_names());
        remove_hls(app, stream, &hls.spec, &files).await;
    }
}

/// Removes an HLS recording: the named segments (and initialization sections), its
/// growing playlist, its first fMP4 initialization section (stored before any segment),
/// its sidecar.
pub async fn remove_hls(
    app: &DataPlane,
    stream: &PushStream,
    spec: &OutputSpec,
    segments: &[&str],
) {
    let dir = stream.dir();
    let live = format!("{dir}/{}", live_playlist_name(&spec.recording_id));
    app.live.clear_live_playlist(stream, &live);
    let first_init = (spec.hls_segments != HlsSegments::Ts)
        .then(|| format!("{dir}/{}", init_name(&spec.recording_id, 0)));
    for key in segments
        .iter()
        .map(|name| format!("{dir}/{name}"))
        .chain([live])
        .chain(first_init)
    {
        if let Err(e) = app.storage.delete(&key).await {
            tracing::warn!(file = %key, error = %e, "removing a stopped HLS recording");
        }
    }
    remove_sidecar(app, &hls_sidecar_name(&spec.recording_id));
    super::handover::closed(app, &spec.recording_id).await;
}

/// The callback template bound to `stream`'s domain and app, if any.
pub async fn callback_template(app: &DataPlane, stream: &PushStream) -> Option<CallbackTemplate> {
    let control = app.config.read();
    control
        .callbacks
        .template_for(&stream.domain, &stream.app)
        .cloned()
}

/// Queues a recording-exception callback (event 341) for `stream` where its callback
/// template asks for them; `session_id` names the recording (or the refused push).
pub async fn announce_exception(
    app: &DataPlane,
    stream: &PushStream,
    session_id: &str,
    format: &str,
    exception: Exception<'_>,
) {
    let template = callback_template(app, stream).await;
    let Some(template) = template.filter(|t| !t.record_exception_notify_url.is_empty()) else {
        return;
    };
    let event_id = format!("exc-{}", uuid::Uuid::new_v4().simple());
    let body = record_exception_event(
        &event_id,
        &stream.as_ref(),
        session_id,
        format,
        now_ms(),
        exception,
    );
    let url = &template.record_exception_notify_url;
    if let Err(e) = app
        .notifier
        .enqueue(url, &template.callback_key, &body)
        .await
    {
        tracing::warn!(error = %e, "queueing an exception callback");
    }
}

/// Stores a finished HLS recording's final playlist, removes the growing one, indexes
/// and announces it.
pub async fn finish_hls(
    app: &Arc<DataPlane>,
    stream: &PushStream,
    spec: &OutputSpec,
    done: &DoneFile,
    text: String,
) -> Result<(), DataError> {
    let dir = stream.dir();
    let key = format!("{dir}/{}", done.name);
    let key = if app.storage.size(&key).await.is_ok() {
        format!(
            "{dir}/{}_{}.m3u8",
            done.name.trim_end_matches(".m3u8"),
            spec.recording_id
        )
    } else {
        key
    };
    app.storage.put(&key, text.into_bytes()).await?;
    if let Err(e) = index_and_announce(app, stream, spec, &spec.recording_id, &key, done).await {
        // Not indexed, not final: the growing playlist and the sidecar stay for recovery.
        let _ = app.storage.delete(&key).await;
        return Err(e);
    }
    let live = format!("{dir}/{}", live_playlist_name(&spec.recording_id));
    app.live.clear_live_playlist(stream, &live);
    if let Err(e) = app.storage.delete(&live).await {
        tracing::warn!(error = %e, "removing the growing playlist");
    }
    remove_sidecar(app, &hls_sidecar_name(&spec.recording_id));
    super::handover::closed(app, &spec.recording_id).await;
    Ok(())
}

/// Finalises a parked HLS recording whose splice timeout passed.
pub async fn finish_parked(app: &Arc<DataPlane>, stream: &PushStream, parked: &ParkedHls) {
    let (done, text) = parked.finalize();
    if let Err(e) = finish_hls(app, stream, &parked.spec, &done, text).await {
        tracing::error!(stream = %stream.key(), error = %e, "finalising an HLS recording");
    }
}

/// Attempts at an index row before the file counts as failed (a busy or briefly
/// unwritable database), with [`INDEX_RETRY_MS`] doubling between them.
pub const INDEX_ATTEMPTS: u32 = 4;
/// First wait before retrying an index row, ms.
pub const INDEX_RETRY_MS: u64 = 100;

async fn insert_with_retries(db: &dyn Database, row: &Recording) -> Result<(), DataError> {
    let mut wait = INDEX_RETRY_MS;
    for attempt in 1..=INDEX_ATTEMPTS {
        match db.insert(row).await {
            Ok(()) => return Ok(()),
            Err(source) if attempt == INDEX_ATTEMPTS => {
                let path = row.storage_path.clone();
                return Err(DataError::Index { path, source });
            }
            Err(e) => {
                tracing::warn!(file = %row.storage_path, error = %e, attempt, "indexing; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                wait *= 2;
            }
        }
    }
    Ok(())
}

/// Adds the index row of a final file and queues its record callback.
pub async fn index_and_announce(
    app: &Arc<DataPlane>,
    stream: &PushStream,
    spec: &OutputSpec,
    file_id: &str,
    key: &str,
    done: &DoneFile,
) -> Result<(), DataError> {
    let now = now_ms();
    let url = crate::server::urls::vod_url(&app.public_url(), key);
    let format = spec.format.name();
    let row = Recording {
        file_id: file_id.to_owned(),
        domain_name: stream.domain.clone(),
        app_name: stream.app.clone(),
        stream_name: stream.stream.clone(),
        format: format.to_owned(),
        start_ms: done.start_wall_ms,
        end_ms: done.end_wall_ms,
        duration_ms: done.duration_ms,
        size_bytes: done.bytes as i64,
        video_codec: done.media.video_codec.clone(),
        audio_codec: done.media.audio_codec.clone(),
        width: done.media.dimensions.map(|d| i64::from(d.0)),
        height: done.media.dimensions.map(|d| i64::from(d.1)),
        task_id: spec.task_id.clone(),
        template_id: spec.template_id,
        storage_path: key.to_owned(),
        url: url.clone(),
        created_ms: now,
        expires_ms: (spec.storage_time_s > 0).then(|| now + spec.storage_time_s * 1000),
    };
    insert_with_retries(app.db.as_ref(), &row).await?;
    app.metrics
        .files
        .get_or_create(&crate::server::metrics::FormatLabels {
            format: format.to_owned(),
        })
        .inc();
    tracing::info!(stream = %stream.key(), format, file = %key, bytes = done.bytes,
        duration_ms = done.duration_ms, "recording file ready");
    let now_s = u64::try_from(now / 1000).unwrap_or(0);
    let handed_out = app.settings.file.playback.signed(&url, now_s);
    announce_file(app, stream, spec, file_id, &handed_out, done).await;
    Ok(())
}

/// Queues the record callback (event 100) of an indexed file where one is configured.
async fn announce_file(
    app: &DataPlane,
    stream: &PushStream,
    spec: &OutputSpec,
    file_id: &str,
    url: &str,
    done: &DoneFile,
) {
    let format = spec.format.name();
    let template = callback_template(app, stream).await;
    let Some(template) = template.filter(|t| !t.record_notify_url.is_empty()) else {
        return;
    };
    let resolution = done.media.resolution();
    let file = RecordFile {
        file_id,
        format,
        task_id: &spec.task_id,
        template_id: spec.task_id.is_empty().then_some(spec.template_id),
        start_ms: done.start_wall_ms,
        end_ms: done.end_wall_ms,
        duration_ms: done.duration_ms,
        size: done.bytes,
        url,
        media_start_ms: done.media_start_ms,
        video_codec: done.media.video_codec.as_deref(),
        audio_codec: done.media.audio_codec.as_deref(),
        resolution: &resolution,
    };
    let event_id = format!("rec-{file_id}");
    let body = record_file_event(&event_id, &stream.as_ref(), &file);
    if let Err(e) = app
        .notifier
        .enqueue(&template.record_notify_url, &template.callback_key, &body)
        .await
    {
        // The file is stored and indexed; a lost notification must not stop the output.
        tracing::error!(file = %url, error = %e, "queueing a record callback");
    }
}
