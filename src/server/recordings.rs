//! The recordings index: one row per finished file (written by the data plane), queried
//! by `SearchMedia` / `DescribeMediaInfos`.

use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::ServerError;

/// One finished file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recording {
    /// Unique id (also in callbacks as `file_id`).
    pub file_id: String,
    /// Push domain.
    pub domain_name: String,
    /// Push path.
    pub app_name: String,
    /// Stream name.
    pub stream_name: String,
    /// `flv`, `hls`, `mp4` or `aac`.
    pub format: String,
    /// First frame, Unix ms.
    pub start_ms: i64,
    /// Last frame end, Unix ms.
    pub end_ms: i64,
    /// Duration, ms.
    pub duration_ms: i64,
    /// Bytes.
    pub size_bytes: i64,
    /// `h264`, `h265`.
    pub video_codec: Option<String>,
    /// `aac`, `mp3`.
    pub audio_codec: Option<String>,
    /// Pixels.
    pub width: Option<i64>,
    /// Pixels.
    pub height: Option<i64>,
    /// Record task id, "" for rule-driven recordings.
    pub task_id: String,
    /// Template id (0: the default task template).
    pub template_id: i64,
    /// Path in storage (`domain/app/stream/name.ext`).
    pub storage_path: String,
    /// Playback/download URL.
    pub url: String,
    /// Indexed at, Unix ms.
    pub created_ms: i64,
    /// Deleted after, Unix ms; `None` keeps forever.
    pub expires_ms: Option<i64>,
}

/// Filters and paging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    /// Exact file ids.
    pub file_ids: Vec<String>,
    /// Stream names.
    pub stream_names: Vec<String>,
    /// Domain (case-insensitive).
    pub domain_name: Option<String>,
    /// App.
    pub app_name: Option<String>,
    /// Format.
    pub format: Option<String>,
    /// Task id.
    pub task_id: Option<String>,
    /// Recording start at or after, Unix ms.
    pub after_ms: Option<i64>,
    /// Recording start before, Unix ms.
    pub before_ms: Option<i64>,
    /// Newest first.
    pub descending: bool,
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
}

fn db_err(e: sqlx::Error) -> ServerError {
    ServerError::Database(format!("recordings index: {e}"))
}

/// Adds a row.
pub async fn insert(pool: &SqlitePool, r: &Recording) -> Result<(), ServerError> {
    sqlx::query(
        "INSERT INTO recordings (file_id, domain_name, app_name, stream_name, format, start_ms, end_ms, duration_ms, \
         size_bytes, video_codec, audio_codec, width, height, task_id, template_id, storage_path, url, created_ms, expires_ms) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&r.file_id)
    .bind(&r.domain_name)
    .bind(&r.app_name)
    .bind(&r.stream_name)
    .bind(&r.format)
    .bind(r.start_ms)
    .bind(r.end_ms)
    .bind(r.duration_ms)
    .bind(r.size_bytes)
    .bind(&r.video_codec)
    .bind(&r.audio_codec)
    .bind(r.width)
    .bind(r.height)
    .bind(&r.task_id)
    .bind(r.template_id)
    .bind(&r.storage_path)
    .bind(&r.url)
    .bind(r.created_ms)
    .bind(r.expires_ms)
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(())
}

fn filters(q: &mut QueryBuilder<'_, Sqlite>, s: &Search) {
    q.push(" WHERE 1 = 1");
    if !s.file_ids.is_empty() {
        q.push(" AND file_id IN (");
        let mut list = q.separated(", ");
        for id in &s.file_ids {
            list.push_bind(id.clone());
        }
        q.push(")");
    }
    if !s.stream_names.is_empty() {
        q.push(" AND stream_name IN (");
        let mut list = q.separated(", ");
        for name in &s.stream_names {
            list.push_bind(name.clone());
        }
        q.push(")");
    }
    if let Some(d) = &s.domain_name {
        q.push(" AND lower(domain_name) = ")
            .push_bind(d.to_ascii_lowercase());
    }
    for (column, value) in [
        ("app_name", &s.app_name),
        ("format", &s.format),
        ("task_id", &s.task_id),
    ] {
        if let Some(v) = value {
            q.push(format!(" AND {column} = ")).push_bind(v.clone());
        }
    }
    if let Some(after) = s.after_ms {
        q.push(" AND start_ms >= ").push_bind(after);
    }
    if let Some(before) = s.before_ms {
        q.push(" AND start_ms < ").push_bind(before);
    }
}

/// The matching rows of one page, and the total count.
pub async fn search(pool: &SqlitePool, s: &Search) -> Result<(i64, Vec<Recording>), ServerError> {
    let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) AS n FROM recordings");
    filters(&mut count, s);
    let total: i64 = count
        .build()
        .fetch_one(pool)
        .await
        .map_err(db_err)?
        .get("n");
    let mut rows = QueryBuilder::<Sqlite>::new("SELECT * FROM recordings");
    filters(&mut rows, s);
    rows.push(if s.descending {
        " ORDER BY start_ms DESC, file_id DESC"
    } else {
        " ORDER BY start_ms, file_id"
    });
    rows.push(" LIMIT ")
        .push_bind(s.limit)
        .push(" OFFSET ")
        .push_bind(s.offset);
    let found = rows.build().fetch_all(pool).await.map_err(db_err)?;
    Ok((total, found.iter().map(row_to_recording).collect()))
}

fn row_to_recording(row: &sqlx::sqlite::SqliteRow) -> Recording {
    Recording {
        file_id: row.get("file_id"),
        domain_name: row.get("domain_name"),
        app_name: row.get("app_name"),
        stream_name: row.get("stream_name"),
        format: row.get("format"),
        start_ms: row.get("start_ms"),
        end_ms: row.get("end_ms"),
        duration_ms: row.get("duration_ms"),
        size_bytes: row.get("size_bytes"),
        video_codec: row.get("video_codec"),
        audio_codec: row.get("audio_codec"),
        width: row.get("width"),
        height: row.get("height"),
        task_id: row.get("task_id"),
        template_id: row.get("template_id"),
        storage_path: row.get("storage_path"),
        url: row.get("url"),
        created_ms: row.get("created_ms"),
        expires_ms: row.get("expires_ms"),
    }
}
