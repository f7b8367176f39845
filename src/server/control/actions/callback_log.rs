//! `DescribeCallbackRecordsList` (reference §3): the callback delivery log — one entry
//! per delivery attempt ([`crate::server::notify`] writes them), newest first.
//!
//! Times: `StartTime`/`EndTime` in UTC ISO 8601 (`2026-12-01T08:00:00Z`, any zone
//! accepted) or `YYYY-MM-DD hh:mm:ss` in Beijing time; the answer's times use the form
//! `StartTime` used. The span is at most one day, within the last 14 days (the log's
//! life). `ResultCode`: 0 lists delivered attempts, any other value failed ones; an
//! entry's `ResultCode` is 0, the receiver's HTTP status, or 1 when no answer came (its
//! `Response` says why, and whether it will be retried).
//!
//! Where liverec differs on purpose: `StreamName` is optional (without it, every
//! stream's events are listed — what a console's overview shows).

use serde_json::{json, Value};

use super::{read_params, Ctx};
use crate::config::json::Fields;
use crate::config::problem::ErrorCode;
use crate::config::wall_time::beijing_datetime;
use crate::formats::hls::datetime::{decode_date_time, encode_date_time};
use crate::server::control::wire::ApiError;
use crate::server::db::{Attempt, AttemptQuery};
use crate::server::notify::LOG_DAYS;

/// The longest span asked at once: one day.
const MAX_SPAN_MS: i64 = 86_400_000;
/// Beijing time's offset from UTC, ms.
const BEIJING_MS: i64 = 8 * 3_600_000;

/// A time as given: (Unix ms, written in Beijing time).
fn read_time(f: &mut Fields<'_>, name: &'static str) -> Option<(i64, bool)> {
    let text = f.required_string(name)?;
    match decode_date_time(text) {
        Some(t) if t.has_zone => Some((t.unix_ms, false)),
        Some(t) if text.len() == 19 && text.as_bytes().get(10) == Some(&b' ') => {
            Some((t.unix_ms - BEIJING_MS, true))
        }
        _ => {
            f.problem(
                ErrorCode::InvalidParameterValue,
                name,
                "use YYYY-MM-DDThh:mm:ssZ (UTC) or YYYY-MM-DD hh:mm:ss (Beijing time)",
            );
            None
        }
    }
}

/// Reads the request into a query; `beijing` says how to write times back.
fn read_query(f: &mut Fields<'_>, now_ms: i64) -> (AttemptQuery, bool, i64, i64) {
    let start = read_time(f, "StartTime");
    let end = read_time(f, "EndTime");
    let stream_name = f.string("StreamName").map(str::to_owned);
    let num = f.required_int_in("PageNum", 1..=100_000).unwrap_or(1);
    let size = f.required_int_in("PageSize", 1..=1000).unwrap_or(1);
    let event_type = f.int_in("EventType", 0..=1000);
    let delivered = f
        .int_in("ResultCode", 0..=i64::from(u32::MAX))
        .map(|c| c == 0);
    let (mut from_ms, mut to_ms, mut beijing) = (0, 0, false);
    if let (Some((from, b)), Some((to, _))) = (start, end) {
        (from_ms, to_ms, beijing) = (from, to, b);
        if to <= from || to - from > MAX_SPAN_MS {
            f.problem(
                ErrorCode::InvalidParameterValue,
                "EndTime",
                "EndTime must be after StartTime, at most one day later",
            );
        } else if from < now_ms - LOG_DAYS * 86_400_000 {
            f.problem(
                ErrorCode::InvalidParameterValue,
                "StartTime",
                format!("only the last {LOG_DAYS} days are kept"),
            );
        }
    }
    let query = AttemptQuery {
        from_ms,
        to_ms,
        stream_name: stream_name.filter(|s| !s.is_empty()),
        event_type,
        delivered,
        offset: (num - 1) * size,
        limit: size,
    };
    (query, beijing, num, size)
}

fn write_time(ms: i64, beijing: bool) -> String {
    if beijing {
        beijing_datetime(ms.div_euclid(1000)).unwrap_or_default()
    } else {
        encode_date_time(ms.div_euclid(1000) * 1000).replace(".000Z", "Z")
    }
}

fn event_info(a: &Attempt, beijing: bool) -> Value {
    json!({
        "EventTime": write_time(a.event_ms, beijing),
        "EventType": a.event_type,
        "Request": a.request,
        "Response": a.response,
        "ResponseTime": write_time(a.response_ms, beijing),
        "ResultCode": a.result_code,
        "StreamId": a.stream_name,
    })
}

pub async fn records_list(ctx: &Ctx<'_>, params: &Value) -> Result<Value, ApiError> {
    let now_ms = ctx.now.saturating_mul(1000);
    let (query, beijing, num, size) = read_params(params, |f| read_query(f, now_ms))?;
    let (total, rows) = ctx
        .app
        .db
        .attempts(&query)
        .await
        .map_err(|e| ApiError::new(ErrorCode::InternalError, e.to_string()))?;
    let list: Vec<Value> = rows.iter().map(|a| event_info(a, beijing)).collect();
    Ok(json!({
        "DataInfoList": list, "PageNum": num, "PageSize": size, "TotalNum": total,
        "TotalPage": (total + size - 1) / size,
    }))
}
