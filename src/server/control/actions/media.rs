//! The recordings index through the VOD platform's query actions, with the subset of
//! their fields that apply to liverec (reference: the data plane fills the index).
//!
//! `SearchMedia` request: `FileIds`, `StreamIds` (stream names), `CreateTime`
//! `{After, Before}` (ISO 8601; compared with the recording's start), `Offset`, `Limit`
//! (1–5000, default 10), `Sort {Field: "CreateTime", Order: "Asc"|"Desc"}` (default
//! Desc), plus liverec's `DomainName`, `AppName`, `FileFormat` (flv|hls|mp4|aac) and
//! `TaskId`. Response: `TotalCount` and `MediaInfoSet` of `{FileId, BasicInfo, MetaData,
//! LiveRecordInfo}`. `DescribeMediaInfos` takes `FileIds` and returns `MediaInfoSet` and
//! `NotExistFileIdSet`.

use serde_json::{json, Value};

use super::{read_params, Ctx};
use crate::config::json::Fields;
use crate::config::problem::ErrorCode;
use crate::formats::hls::datetime::{decode_date_time, encode_date_time};
use crate::server::control::wire::ApiError;
use crate::server::db::{Recording, Search};

/// Largest page.
pub const MAX_LIMIT: i64 = 5000;
/// Most ids in one request.
pub const MAX_IDS: usize = 100;

fn strings(fields: &mut Fields<'_>, name: &'static str) -> Vec<String> {
    let Some(value) = fields.raw(name) else {
        return Vec::new();
    };
    match value.as_array().and_then(|a| {
        a.iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
    }) {
        Some(list) if list.len() <= MAX_IDS => list,
        _ => {
            fields.problem(
                ErrorCode::InvalidParameterValue,
                name,
                format!("{name} must be an array of at most {MAX_IDS} strings"),
            );
            Vec::new()
        }
    }
}

fn time_range(fields: &mut Fields<'_>, s: &mut Search) {
    let Some(range) = fields.object("CreateTime") else {
        return;
    };
    let path = fields.path_of("CreateTime");
    if let Some(mut inner) = Fields::open(range, &path, fields.problems()) {
        for (name, slot) in [("After", &mut s.after_ms), ("Before", &mut s.before_ms)] {
            if let Some(text) = inner.string(name) {
                match decode_date_time(text) {
                    Some(t) => *slot = Some(t.unix_ms),
                    None => inner.problem(
                        ErrorCode::InvalidParameterValue,
                        name,
                        format!("CreateTime.{name} is not an ISO 8601 date-time"),
                    ),
                }
            }
        }
        inner.finish();
    }
}

fn sort(fields: &mut Fields<'_>, s: &mut Search) {
    s.descending = true;
    let Some(sort) = fields.object("Sort") else {
        return;
    };
    if let Some(mut inner) = Fields::open(sort, "Sort", fields.problems()) {
        if let Some(field) = inner.string("Field").filter(|f| *f != "CreateTime") {
            inner.problem(
                ErrorCode::InvalidParameterValue,
                "Field",
                format!("Sort.Field {field:?}: only CreateTime is supported"),
            );
        }
        match inner.string("Order") {
            None | Some("Desc") => {}
            Some("Asc") => s.descending = false,
            Some(_) => inner.problem(
                ErrorCode::InvalidParameterValue,
                "Order",
                "Sort.Order must be Asc or Desc",
            ),
        }
        inner.finish();
    }
}

fn read_search(fields: &mut Fields<'_>) -> Search {
    let mut s = Search {
        file_ids: strings(fields, "FileIds"),
        stream_names: strings(fields, "StreamIds"),
        ..Search::default()
    };
    for (name, slot) in [
        ("DomainName", &mut s.domain_name),
        ("AppName", &mut s.app_name),
        ("TaskId", &mut s.task_id),
    ] {
        *slot = fields.string(name).map(str::to_owned);
    }
    s.format = fields.string("FileFormat").map(str::to_ascii_lowercase);
    if let Some(f) = s
        .format
        .as_deref()
        .filter(|f| !matches!(*f, "flv" | "hls" | "mp4" | "aac"))
    {
        let message = format!("FileFormat {f:?} must be flv, hls, mp4 or aac");
        fields.problem(ErrorCode::InvalidParameterValue, "FileFormat", message);
    }
    time_range(fields, &mut s);
    sort(fields, &mut s);
    s.offset = fields
        .int_in("Offset", 0..=i64::from(u32::MAX))
        .unwrap_or(0);
    s.limit = fields.int_in("Limit", 1..=MAX_LIMIT).unwrap_or(10);
    s
}

/// A URL handed out now: signed when a playback key is set.
fn signed(ctx: &Ctx<'_>, url: &str) -> String {
    let now_s = u64::try_from(ctx.now).unwrap_or(0);
    ctx.app.settings.file.playback.signed(url, now_s)
}

fn iso(ms: i64) -> String {
    encode_date_time(ms)
}

/// One `MediaInfo`; `url` is the recording's URL as handed out (signed when a playback
/// key is set).
pub fn media_info(r: &Recording, url: &str) -> Value {
    let name = r.storage_path.rsplit('/').next().unwrap_or(&r.storage_path);
    json!({
        "FileId": r.file_id,
        "BasicInfo": {
            "Name": name,
            "CreateTime": iso(r.created_ms),
            "UpdateTime": iso(r.created_ms),
            "ExpireTime": r.expires_ms.map_or("9999-12-31T23:59:59Z".to_owned(), iso),
            "Type": r.format,
            "MediaUrl": url,
            "SourceInfo": {"SourceType": "Record", "SourceContext": ""},
            "StorageRegion": "local",
            "Category": if r.video_codec.is_some() { "Video" } else { "Audio" },
        },
        "MetaData": {
            "Size": r.size_bytes,
            "Container": r.format,
            "Duration": r.duration_ms as f64 / 1000.0,
            "Width": r.width.unwrap_or(0),
            "Height": r.height.unwrap_or(0),
            "VideoStreamSet": r.video_codec.iter().map(|c| json!({"Codec": c, "Width": r.width, "Height": r.height})).collect::<Vec<_>>(),
            "AudioStreamSet": r.audio_codec.iter().map(|c| json!({"Codec": c})).collect::<Vec<_>>(),
        },
        "LiveRecordInfo": {
            "DomainName": r.domain_name,
            "AppName": r.app_name,
            "StreamName": r.stream_name,
            "TaskId": r.task_id,
            "TemplateId": r.template_id,
            "RecordStartTime": iso(r.start_ms),
            "RecordEndTime": iso(r.end_ms),
            "StoragePath": r.storage_path,
        },
    })
}

pub async fn search(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let query = read_params(params, read_search)?;
    let (total, rows) = ctx
        .app
        .db
        .search(&query)
        .await
        .map_err(|e| ApiError::new(ErrorCode::InternalError, e.to_string()))?;
    Ok(
        json!({"TotalCount": total, "MediaInfoSet": rows.iter().map(|r| media_info(r, &signed(ctx, &r.url))).collect::<Vec<_>>()}),
    )
}

pub async fn describe(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let ids = read_params(params, |f| {
        if f.raw("FileIds").is_none() {
            f.missing("FileIds");
        }
        strings(f, "FileIds")
    })?;
    let query = Search {
        file_ids: ids.clone(),
        limit: MAX_LIMIT,
        ..Search::default()
    };
    let (_, rows) = ctx
        .app
        .db
        .search(&query)
        .await
        .map_err(|e| ApiError::new(ErrorCode::InternalError, e.to_string()))?;
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| !rows.iter().any(|r| &r.file_id == *id))
        .collect();
    Ok(
        json!({"MediaInfoSet": rows.iter().map(|r| media_info(r, &signed(ctx, &r.url))).collect::<Vec<_>>(), "NotExistFileIdSet": missing}),
    )
}
