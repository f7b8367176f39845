//! `CreateRecordClip` (liverec's action, in the reference's style): a time range of a
//! stream's recordings made into a new recording — one MP4, stitched without
//! re-encoding like `GET /playback/….mp4` — stored, indexed (`SearchMedia` finds it with
//! its `TaskId`) and announced by a record callback (event 100) like any recording file,
//! the way a composed VOD file is.
//!
//! Request: `DomainName`, `AppName` (default `live`), `StreamName` (required),
//! `StartTime` and `EndTime` (Unix seconds, `EndTime` after `StartTime`, at most 24 h
//! apart). Response: `TaskId` and `FileId`, at once; the file is written in the
//! background on the node that took the call (a crash loses a clip in progress: no
//! callback comes, call again). Errors: `InvalidParameter.InvalidTaskTime` for the
//! times, `FailedOperation.NotFound` when no MP4 or FLV recording covers the range.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{read_params, Ctx};
use crate::config::callback_event::{record_file_event, RecordFile, StreamRef};
use crate::config::problem::ErrorCode;
use crate::playback::range::{TimeRange, MAX_RANGE_MS};
use crate::server::control::range_mp4::{range_mp4, write_file, Mp4Problem, RangeMp4};
use crate::server::control::wire::ApiError;
use crate::server::control::ControlPlane;
use crate::server::db::{Recording, Search};
use crate::server::urls::vod_url;

/// What a clip is made of.
struct Clip {
    domain: String,
    app: String,
    stream: String,
    range: TimeRange,
}

fn read_clip(params: &Value) -> Result<Clip, ApiError> {
    let (domain, app, stream, start, end) = read_params(params, |f| {
        let domain = f
            .string("DomainName")
            .unwrap_or("localhost")
            .to_ascii_lowercase();
        let app = f.string("AppName").unwrap_or("live").to_owned();
        let stream = f
            .required_string("StreamName")
            .unwrap_or_default()
            .to_owned();
        let start = f
            .required_int_in("StartTime", 0..=i64::from(u32::MAX))
            .unwrap_or(0);
        let end = f
            .required_int_in("EndTime", 0..=i64::from(u32::MAX))
            .unwrap_or(0);
        (domain, app, stream, start, end)
    })?;
    if end <= start || (end - start) * 1000 > MAX_RANGE_MS {
        return Err(ApiError::new(
            ErrorCode::InvalidTaskTime,
            "EndTime must be after StartTime, at most 86400 s later",
        ));
    }
    let range = TimeRange {
        start_ms: start * 1000,
        end_ms: end * 1000,
    };
    Ok(Clip {
        domain,
        app,
        stream,
        range,
    })
}

pub async fn create(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let clip = read_clip(params)?;
    let search = Search {
        domain_name: Some(clip.domain.clone()),
        app_name: Some(clip.app.clone()),
        stream_names: vec![clip.stream.clone()],
        before_ms: Some(clip.range.end_ms),
        ends_after_ms: Some(clip.range.start_ms - 60_000),
        limit: crate::server::control::playback::MAX_RANGE_RECORDINGS,
        ..Search::default()
    };
    let internal = |e: String| ApiError::new(ErrorCode::InternalError, e);
    let (_, rows) = ctx
        .app
        .db
        .search(&search)
        .await
        .map_err(|e| internal(e.to_string()))?;
    let key = format!(
        "clip/{}/{}/{}?{}-{}",
        clip.domain, clip.app, clip.stream, clip.range.start_ms, clip.range.end_ms
    );
    let built = range_mp4(
        &ctx.app.storage,
        &ctx.app.mp4_cache,
        key,
        &rows,
        &clip.range,
    )
    .await;
    let built = match built {
        Ok(built) => built,
        Err(Mp4Problem::Storage(e)) => return Err(internal(e)),
        Err(Mp4Problem::NoSource(_) | Mp4Problem::Empty(_)) => {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "no MP4 or FLV recording of the stream covers that time range",
            ))
        }
    };
    let task_id = ctx.app.new_task_id();
    let file_id = uuid::Uuid::new_v4().simple().to_string();
    let like = rows
        .iter()
        .find(|r| r.format == "mp4" || r.format == "flv")
        .cloned()
        .unwrap_or_default();
    let job = ClipJob {
        clip,
        built,
        task_id: task_id.clone(),
        file_id: file_id.clone(),
        like,
    };
    let app = Arc::clone(ctx.app);
    tokio::spawn(async move {
        if let Err(e) = job.run(&app).await {
            tracing::warn!(task = %job.task_id, error = %e, "clip failed");
        }
    });
    Ok(json!({"TaskId": task_id, "FileId": file_id}))
}

/// A clip being made in the background.
struct ClipJob {
    clip: Clip,
    built: Arc<RangeMp4>,
    task_id: String,
    file_id: String,
    /// A source recording (codecs and picture size).
    like: Recording,
}

impl ClipJob {
    async fn run(&self, app: &ControlPlane) -> Result<(), String> {
        let c = &self.clip;
        let scratch_name = format!("clip-{}.mp4", self.file_id);
        let scratch = app.storage.scratch_path(&scratch_name);
        let size = write_file(&app.storage, Arc::clone(&self.built), &scratch)
            .await
            .map_err(|e| e.to_string())?;
        let dir = format!("{}/{}/{}", c.domain, c.app, c.stream);
        let name = format!(
            "{}_clip_{}_{}.mp4",
            c.stream,
            c.range.start_ms / 1000,
            c.range.end_ms / 1000
        );
        let key = app
            .storage
            .commit(&scratch_name, &dir, &name)
            .await
            .map_err(|e| e.to_string())?;
        let now = crate::server::notify::now_ms();
        let duration_ms = self.built.file.duration_ms;
        let row = Recording {
            file_id: self.file_id.clone(),
            domain_name: c.domain.clone(),
            app_name: c.app.clone(),
            stream_name: c.stream.clone(),
            format: "mp4".into(),
            start_ms: c.range.start_ms,
            end_ms: c.range.start_ms + duration_ms,
            duration_ms,
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            task_id: self.task_id.clone(),
            storage_path: key.clone(),
            url: vod_url(&app.settings.public_url(), &key),
            created_ms: now,
            ..self.like.clone()
        };
        app.db.insert(&row).await.map_err(|e| e.to_string())?;
        self.announce(app, &row).await;
        Ok(())
    }

    async fn announce(&self, app: &ControlPlane, row: &Recording) {
        let state = app.config.read();
        let template = state
            .callbacks
            .template_for(&row.domain_name, &row.app_name);
        let Some(template) = template.filter(|t| !t.record_notify_url.is_empty()) else {
            return;
        };
        let now_s = u64::try_from(row.created_ms / 1000).unwrap_or(0);
        let url = app.settings.file.playback.signed(&row.url, now_s);
        let resolution = match (row.width, row.height) {
            (Some(w), Some(h)) => format!("{w}x{h}"),
            _ => String::new(),
        };
        let file = RecordFile {
            file_id: &row.file_id,
            format: "mp4",
            task_id: &row.task_id,
            template_id: None,
            start_ms: row.start_ms,
            end_ms: row.end_ms,
            duration_ms: row.duration_ms,
            size: u64::try_from(row.size_bytes).unwrap_or(0),
            url: &url,
            media_start_ms: 0,
            video_codec: row.video_codec.as_deref(),
            audio_codec: row.audio_codec.as_deref(),
            resolution: &resolution,
        };
        let stream = StreamRef {
            domain: &row.domain_name,
            app: &row.app_name,
            stream: &row.stream_name,
            stream_param: "",
        };
        let body = record_file_event(&format!("rec-{}", row.file_id), &stream, &file);
        if let Err(e) = app
            .notifier
            .enqueue(&template.record_notify_url, &template.callback_key, &body)
            .await
        {
            tracing::error!(file = %row.file_id, error = %e, "queueing a clip's record callback");
        }
    }
}
